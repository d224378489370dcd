/* demo_model.h — the demo bot's intent model for the engine tests: the one
 * `make` trained beside the test binary (build/demo.model next to
 * build/tests/), or, when the binary runs from elsewhere, one trained now
 * into the test's temporary directory. */
#ifndef KF_TEST_DEMO_MODEL_H
#define KF_TEST_DEMO_MODEL_H

#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"

/* Fills model (size n) with the model's path; tmp_dir: where to train one. */
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

#endif
