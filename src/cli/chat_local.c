/* chat_local.c — `kefu chat --bot DIR`: the chat backend (chat.h) that runs
 * the conversation engine (engine/conv.h) in this process, wired the way
 * `kefu serve` wires it (cli/serve_app.c) minus HTTP: the bot folder, its
 * knowledge base, SQLite history in a throw-away folder under $TMPDIR
 * (removed at the end: a terminal session leaves nothing behind), the
 * in-process session store and the webhook sender for flows.
 *
 * The engine is asynchronous: it completes on a kf_loop.  The terminal is
 * not, so each call posts its work and then runs this thread's loop until
 * the completion has arrived.  Without --model the intent model is trained
 * from the bot's own phrases at start (a fraction of a second for the demo),
 * so the model always matches the bot being chatted with. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bot/bot.h"
#include "cli/chat.h"
#include "engine/conv.h"
#include "engine/intent.h"
#include "kb/kb.h"
#include "loop/loop.h"
#include "nlu/classifier.h"
#include "obs/log.h"
#include "queue/webhook.h"

typedef struct {
    kf_chat_backend_t base; /* first: the backend pointer is this struct's */
    kf_bot_t *bot;
    kf_kb_t *kb;
    kf_history_t *history;
    kf_session_store_t *sessions;
    kf_conv_t *conv; /* also the session store's expiry target */
    kf_loop_t *loop;
    char tmp[64];    /* the throw-away data folder */
    char conv_id[KF_HISTORY_ID_LEN + 1];
} local_t;

/* One call's completion, copied out before the engine frees its strings. */
typedef struct {
    int done, status;
    char err[256];
    kf_chat_answer_t *out;
} wait_t;

static void on_done(const kf_conv_result_t *r, void *ud) {
    wait_t *w = ud;
    w->status = r->status;
    if (r->status != KF_CONV_OK) snprintf(w->err, sizeof w->err, "%s", r->error && *r->error ? r->error : kf_conv_strerror(r->status));
    for (size_t i = 0; r->status == KF_CONV_OK && i < r->n_replies; i++) {
        const kf_conv_msg_t *m = &r->replies[i];
        const char *from = kf_history_sender_name(m->from);
        if (kf_chat_answer_add(w->out, from ? from : "bot", m->text) < 0) w->status = KF_CONV_NOMEM;
        for (size_t k = 0; k < m->n_quick_replies; k++)
            if (kf_chat_answer_add_qr(w->out, m->quick_replies[k].title, m->quick_replies[k].payload) < 0)
                w->status = KF_CONV_NOMEM;
    }
    if (r->status == KF_CONV_OK && r->handoff_skill && kf_chat_answer_set_handoff(w->out, r->handoff_skill) < 0)
        w->status = KF_CONV_NOMEM;
    w->done = 1;
}

/* rc: what the engine call returned; on KF_CONV_OK the completion will come. */
static int wait_for(local_t *l, wait_t *w, int rc, char *err, size_t errlen) {
    if (rc != KF_CONV_OK) {
        snprintf(err, errlen, "%s", kf_conv_strerror(rc));
        return -1;
    }
    while (!w->done) kf_loop_run_once(l->loop, 100);
    if (w->status != KF_CONV_OK) {
        snprintf(err, errlen, "%s", w->err[0] ? w->err : kf_conv_strerror(w->status));
        return -1;
    }
    return 0;
}

static int local_start(kf_chat_backend_t *be, const char *lang, const char *name, kf_chat_answer_t *out, char *err,
                       size_t errlen) {
    local_t *l = (local_t *)be;
    kf_history_profile_t p = {.name = name, .language = lang};
    wait_t w = {.out = out};
    return wait_for(l, &w, kf_conv_create(l->conv, &p, l->loop, on_done, &w, l->conv_id), err, errlen);
}

static int local_send(kf_chat_backend_t *be, const char *text, kf_chat_answer_t *out, char *err, size_t errlen) {
    local_t *l = (local_t *)be;
    wait_t w = {.out = out};
    int rc = kf_conv_message(l->conv, l->conv_id, text, strlen(text), NULL, l->loop, on_done, &w);
    return wait_for(l, &w, rc, err, errlen);
}

/* Removes the throw-away folder: only files this process created are in it. */
static void remove_tmp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    char path[512];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void local_close(kf_chat_backend_t *be) {
    local_t *l = (local_t *)be;
    if (l->conv && l->conv_id[0]) {
        char err[128];
        kf_chat_answer_t a = {0};
        wait_t w = {.out = &a};
        wait_for(l, &w, kf_conv_close(l->conv, l->conv_id, 0, NULL, l->loop, on_done, &w), err, sizeof err);
        kf_chat_answer_free(&a);
    }
    kf_conv_free(l->conv); /* waits for work in flight; completions have all run */
    l->conv = NULL;
    kf_history_destroy(l->history);
    kf_session_destroy(l->sessions);
    kf_kb_free(l->kb);
    kf_bot_free(l->bot);
    if (l->loop) kf_loop_free(l->loop);
    if (l->tmp[0]) remove_tmp(l->tmp);
    free(l);
}

typedef struct {
    kf_nlu_dataset_t *d;
} train_ctx_t;

static int on_example(void *ud, const char *text, const char *label, const char *file, int line) {
    (void)file, (void)line;
    train_ctx_t *t = ud;
    return kf_nlu_dataset_add(t->d, text, strlen(text), label, strlen(label)) < 0 ? -1 : 0;
}

/* Trains the intent model from the bot's phrases into path. */
static int train(const char *bot_dir, const char *path, char *err, size_t errlen) {
    kf_nlu_dataset_t d = {0};
    train_ctx_t t = {&d};
    kf_nlu_train_opts_t o;
    kf_nlu_train_opts_default(&o);
    kf_nlu_model_t *m = NULL;
    int rc = -1;
    if (kf_bot_each_example(bot_dir, on_example, &t, err, errlen) != 0) {
        if (!err[0]) snprintf(err, errlen, "%s: out of memory reading training phrases", bot_dir);
    } else if ((m = kf_nlu_train(&d, &o, 0, NULL, err, errlen)) && kf_nlu_model_save(m, path, err, errlen) == 0) {
        rc = 0;
    }
    kf_nlu_model_free(m);
    kf_nlu_dataset_free(&d);
    return rc;
}

/* The model, the bot and its knowledge base. */
static int load_bot(local_t *l, const kf_chat_local_opts_t *o, char *err, size_t errlen) {
    char e[600], path[128];
    const char *model = o->model;
    if (!model) {
        snprintf(path, sizeof path, "%s/intent.model", l->tmp);
        if (train(o->bot_dir, path, e, sizeof e) < 0) return snprintf(err, errlen, "training the model from %s: %s", o->bot_dir, e), -1;
        model = path;
    }
    if (kf_intent_init(model, e, sizeof e) < 0) return snprintf(err, errlen, "model %s: %s", model, e), -1;
    if (!(l->bot = kf_bot_load(o->bot_dir, e, sizeof e))) return snprintf(err, errlen, "bot %s: %s", o->bot_dir, e), -1;
    if (!(l->kb = kf_kb_open(o->bot_dir, e, sizeof e))) return snprintf(err, errlen, "knowledge base %s: %s", o->bot_dir, e), -1;
    return 0;
}

/* History, sessions, webhooks and the engine. */
static int start_engine(local_t *l, const kf_chat_local_opts_t *o, char *err, size_t errlen) {
    char e[600], path[128];
    snprintf(path, sizeof path, "%s/history.db", l->tmp);
    kf_history_sqlite_config_t hc = {.path = path};
    if (!(l->history = kf_history_sqlite_open(&hc, e, sizeof e))) return snprintf(err, errlen, "history: %s", e), -1;
    /* One conversation, which should not expire while its person is typing. */
    kf_session_mem_config_t sc = {.capacity = 16, .ttl_ms = 24 * 3600 * 1000LL, .on_expire = kf_conv_session_expired,
                                  .expire_ud = &l->conv};
    if (!(l->sessions = kf_session_mem_new(&sc, e, sizeof e))) return snprintf(err, errlen, "sessions: %s", e), -1;
    kf_webhook_config_t wc = {.timeout_ms = 5000, .max_attempts = 1, .backoff_ms = 500};
    if (kf_webhook_start(&wc) < 0) return snprintf(err, errlen, "cannot start the webhook sender"), -1;
    kf_conv_config_t cc = {.bot = l->bot, .kb = l->kb, .history = l->history, .sessions = l->sessions,
                           .webhook_override = o->webhook_override};
    if (!(l->conv = kf_conv_new(&cc, e, sizeof e))) return snprintf(err, errlen, "%s", e), -1;
    if (!(l->loop = kf_loop_new())) return snprintf(err, errlen, "out of memory"), -1;
    kf_loop_set_current(l->loop);
    return 0;
}

kf_chat_backend_t *kf_chat_local_new(const kf_chat_local_opts_t *o, char *err, size_t errlen) {
    local_t *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->base.start = local_start;
    l->base.send = local_send;
    l->base.close = local_close;
    kf_log_set_level(KF_LOG_ERROR); /* the engine's info lines would interleave with the conversation */
    const char *tmpdir = getenv("TMPDIR");
    snprintf(l->tmp, sizeof l->tmp, "%s/kefu-chat-XXXXXX", tmpdir && *tmpdir && strlen(tmpdir) < 40 ? tmpdir : "/tmp");
    if (!mkdtemp(l->tmp)) {
        snprintf(err, errlen, "cannot create a temporary folder %s", l->tmp);
        l->tmp[0] = '\0';
        local_close(&l->base);
        return NULL;
    }
    if (load_bot(l, o, err, errlen) < 0 || start_engine(l, o, err, errlen) < 0) {
        local_close(&l->base);
        return NULL;
    }
    return &l->base;
}
