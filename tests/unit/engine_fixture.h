/* engine_fixture.h — what every conversation-engine test starts from: a
 * temporary directory, the demo bot and its intent model, its FAQ, SQLite
 * history in that directory and a loop the test runs.  Sessions, router,
 * bus and the engine itself differ per test file and are made by it.  One
 * test file per binary includes this, so the statics are that binary's. */
#ifndef KF_TEST_ENGINE_FIXTURE_H
#define KF_TEST_ENGINE_FIXTURE_H

#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bot/bot.h"
#include "cli/cli.h"
#include "engine/intent.h"
#include "kb/kb.h"
#include "loop/loop.h"
#include "store/history.h"

static char dir[64], db[128], model[PATH_MAX], err[512];
static kf_bot_t *bot;
static kf_kb_t *kb;
static kf_history_t *hist;
static kf_loop_t *loop;

/* The model `make` trained beside this binary (build/demo.model next to
 * build/tests/), or one trained now into tmp_dir; its path into model. */
static inline void demo_model_find(char *model, size_t n, const char *tmp_dir) {
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        snprintf(model, n, "%s/../demo.model", dirname(exe));
        if (access(model, R_OK) == 0) return;
    }
    snprintf(model, n, "%s/demo.model", tmp_dir);
    char *argv[] = {"train", "--bot", "bots/demo", "--out", model, "--quiet", NULL};
    cr_assert_eq(kf_cli_train(6, argv), 0, "training the demo model failed");
}

/* dir from tmpl (mkdtemp), the model loaded, bot, FAQ, history, loop. */
static inline void engine_base_open(const char *tmpl) {
    snprintf(dir, sizeof dir, "%s", tmpl);
    cr_assert(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/history.db", dir);
    demo_model_find(model, sizeof model, dir);
    cr_assert_eq(kf_intent_init(model, err, sizeof err), 0, "%s", err);
    cr_assert(bot = kf_bot_load("bots/demo", err, sizeof err), "%s", err);
    cr_assert(kb = kf_kb_open("bots/demo", err, sizeof err), "%s", err);
    kf_history_sqlite_config_t hc = {.path = db};
    cr_assert(hist = kf_history_sqlite_open(&hc, err, sizeof err), "%s", err);
    loop = kf_loop_new();
    kf_loop_set_current(loop);
}

/* After the test's own parts are gone: history, FAQ, bot, the directory. */
static inline void engine_base_close(void) {
    kf_history_destroy(hist);
    kf_kb_free(kb);
    kf_bot_free(bot);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {
    }
}

#endif
