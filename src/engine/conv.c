/* conv.c — the conversation engine (engine/conv.h): the engine object,
 * starting and closing conversations, the entry point of a customer message,
 * session expiry, statistics.
 *
 * A message or a close becomes a job in its conversation's mailbox
 * (conv_mailbox.c), which runs it when its turn comes; a message's pipeline
 * is conv_pipeline.c.  A create needs no mailbox: nobody knows the id until
 * its completion.  A housekeeping thread sweeps the session store so idle
 * conversations expire (and are recorded EXPIRED) even when nothing else
 * touches the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "engine/conv_int.h"
#include "kb/kb.h"
#include "loop/loop.h"

const char *kf_conv_strerror(int code) {
    switch (code) {
    case KF_CONV_OK: return "ok";
    case KF_CONV_ERR: return "internal or storage failure";
    case KF_CONV_BUSY: return "too many messages waiting; retry shortly";
    case KF_CONV_NOMEM: return "out of memory";
    case KF_CONV_INVALID: return "invalid argument";
    case KF_CONV_NOTFOUND: return "no such conversation";
    case KF_CONV_CLOSED: return "the conversation has ended";
    case KF_CONV_SHUTDOWN: return "the engine is stopping";
    case KF_CONV_STATE: return "the conversation is not in a state for this";
    default: return "unknown error";
    }
}

/* ---- jobs --------------------------------------------------------------- */

/* A job is ~3 KiB, beyond glibc's per-thread cache, so every message took
 * one from malloc's shared bins and sorted it back on free (with the bins'
 * consolidation now and then).  Each thread keeps a few instead; sanitizer
 * builds do not, so that a use after free is still caught. */
#if defined(__SANITIZE_ADDRESS__)
#define JOB_SPARES 0
#else
#define JOB_SPARES 8
#endif
static __thread struct {
    kf_conv_job_t *v[JOB_SPARES ? JOB_SPARES : 1];
    int n;
} spare;

static kf_conv_job_t *job_alloc(void) {
    if (JOB_SPARES && spare.n) {
        kf_conv_job_t *job = spare.v[--spare.n];
        memset(job, 0, sizeof *job);
        return job;
    }
    return calloc(1, sizeof(kf_conv_job_t));
}

static void job_release(kf_conv_job_t *job) {
    if (JOB_SPARES && spare.n < JOB_SPARES) spare.v[spare.n++] = job;
    else free(job);
}

void kf_conv_job_free(kf_conv_job_t *job) {
    if (!job) return;
    free(job->text);
    free(job->client_msg_id);
    free(job->comment);
    free(job->fail_error);
    free(job->profile_json);
    free(job->name);
    free(job->masked);
    free(job->entities_json);
    for (size_t i = 0; i < job->n_out; i++) free(job->out[i].text);
    kf_dlg_state_free(job->dlg);
    job_release(job);
}

void kf_conv_job_finish(kf_conv_job_t *job, const kf_conv_result_t *r) {
    kf_conv_t *c = job->c;
    job->fn(r, job->ud);
    if (job->kind == KF_CONV_JOB_CREATE) kf_conv_job_free(job);
    else kf_conv_mailbox_done(c, job);
    atomic_fetch_sub(&c->inflight, 1);
}

static void fail_posted(void *arg) {
    kf_conv_job_t *job = arg;
    kf_conv_job_fail(job, job->fail_status, job->fail_error);
}

void kf_conv_job_fail(kf_conv_job_t *job, int status, const char *error) {
    kf_conv_ho_undo(job); /* enqueued, but the notice was never stored */
    if (kf_conv_inline && job->kind != KF_CONV_JOB_CREATE) {
        job->fail_status = status;
        free(job->fail_error);
        job->fail_error = strdup(error ? error : "");
        if (kf_loop_post(job->loop, fail_posted, job) == 0) return;
        /* no memory to post: answer now rather than never */
    }
    kf_conv_result_t r = {.status = status, .error = error && error[0] ? error : kf_conv_strerror(status),
                          .conv_id = job->conv_id, .entities_json = "[]"};
    kf_conv_job_finish(job, &r);
}

void kf_conv_run_job(kf_conv_job_t *job) {
    if (job->kind == KF_CONV_JOB_CLOSE) kf_conv_run_close(job);
    else if (job->kind == KF_CONV_JOB_AGENT) kf_conv_run_agent(job);
    else kf_conv_run_message(job);
}

static kf_conv_job_t *job_new(kf_conv_t *c, kf_conv_job_kind_t kind, const char *conv_id, kf_loop_t *loop,
                              kf_conv_done_fn fn, void *ud) {
    kf_conv_job_t *job = job_alloc();
    if (!job) return NULL;
    job->c = c;
    job->kind = kind;
    if (conv_id) memcpy(job->conv_id, conv_id, KF_HISTORY_ID_LEN);
    job->loop = loop;
    job->fn = fn;
    job->ud = ud;
    return job;
}

/* Queues a job; on refusal frees it and returns the code (fn never runs). */
static int submit(kf_conv_t *c, kf_conv_job_t *job) {
    atomic_fetch_add(&c->inflight, 1);
    int rc = kf_conv_mailbox_push(c, job);
    if (rc != KF_CONV_OK) {
        atomic_fetch_sub(&c->inflight, 1);
        kf_conv_job_free(job);
    }
    return rc;
}

kf_conv_job_t *kf_conv_job_new(kf_conv_t *c, kf_conv_job_kind_t kind, const char *conv_id, kf_loop_t *loop,
                               kf_conv_done_fn fn, void *ud) {
    return job_new(c, kind, conv_id, loop, fn, ud);
}

int kf_conv_submit(kf_conv_t *c, kf_conv_job_t *job) { return submit(c, job); }

/* ---- messages ----------------------------------------------------------- */

int kf_conv_valid_client_id(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > KF_CONV_MAX_CLIENT_ID) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                 ch == '_' || ch == ':' || ch == '-';
        if (!ok) return 0;
    }
    return 1;
}

/* Code points of valid UTF-8 without NUL, or -1. */
long kf_conv_utf8_count(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    long n = 0;
    for (size_t i = 0; i < len; n++) {
        unsigned ch = p[i];
        size_t k = ch < 0x80 ? 1 : (ch & 0xe0) == 0xc0 ? 2 : (ch & 0xf0) == 0xe0 ? 3 : (ch & 0xf8) == 0xf0 ? 4 : 0;
        if (!k || i + k > len || !ch || (k == 2 && ch < 0xc2)) return -1;
        for (size_t j = 1; j < k; j++)
            if ((p[i + j] & 0xc0) != 0x80) return -1;
        i += k;
    }
    return n;
}

int kf_conv_message(kf_conv_t *c, const char *conv_id, const char *text, size_t len, const char *client_msg_id,
                    kf_loop_t *loop, kf_conv_done_fn fn, void *ud) {
    return kf_conv_message_from(c, conv_id, text, len, client_msg_id, 0, loop, fn, ud);
}

int kf_conv_message_from(kf_conv_t *c, const char *conv_id, const char *text, size_t len, const char *client_msg_id,
                         uint64_t origin, kf_loop_t *loop, kf_conv_done_fn fn, void *ud) {
    if (!c || !fn || !loop || !text || !kf_history_valid_id(conv_id)) return KF_CONV_INVALID;
    long cps = kf_conv_utf8_count(text, len);
    if (cps < 1 || cps > KF_CONV_MAX_TEXT) return KF_CONV_INVALID;
    if (client_msg_id && !kf_conv_valid_client_id(client_msg_id)) return KF_CONV_INVALID;
    if (atomic_load(&c->stopping)) return KF_CONV_SHUTDOWN;
    kf_conv_job_t *job = job_new(c, KF_CONV_JOB_MESSAGE, conv_id, loop, fn, ud);
    if (!job || !(job->text = malloc(len + 1)) || (client_msg_id && !(job->client_msg_id = strdup(client_msg_id)))) {
        kf_conv_job_free(job);
        return KF_CONV_NOMEM;
    }
    memcpy(job->text, text, len);
    job->text[len] = 0;
    job->len = len;
    job->origin = origin;
    return submit(c, job);
}

/* ---- close -------------------------------------------------------------- */

static void on_closed(const kf_history_result_t *hr, void *ud) {
    kf_conv_job_t *job = ud;
    kf_conv_t *c = job->c;
    if (hr->status != KF_HISTORY_OK) {
        kf_conv_job_fail(job, hr->status == KF_HISTORY_NOTFOUND ? KF_CONV_NOTFOUND
                              : hr->status == KF_HISTORY_FULL   ? KF_CONV_BUSY
                                                                : KF_CONV_ERR,
                         hr->error);
        return;
    }
    if (!hr->was_ended) {
        KF_CONV_COUNT(c, conversations_closed);
        kf_conv_held_ended(c, job->conv_id);
    }
    if (job->csat && job->csat_new) {
        KF_CONV_COUNT(c, csat_count);
        atomic_fetch_add_explicit(&c->st.csat_sum, (unsigned long)job->csat, memory_order_relaxed);
    }
    kf_conv_ho_forget(c, job->conv_id); /* a customer who leaves stops waiting (or frees the agent) */
    /* After the commit: a message queued behind this close finds no session
     * and answers CLOSED.  A delete of an absent session is no error. */
    kf_session_del_async(c->sessions, job->conv_id, NULL, NULL);
    kf_conv_result_t r = {.status = KF_CONV_OK, .error = "", .conv_id = job->conv_id, .entities_json = "[]"};
    kf_conv_job_finish(job, &r);
}

void kf_conv_run_close(kf_conv_job_t *job) {
    char err[200];
    if (job->csat) { /* a rating replaces an earlier one in history: count it once (the CSAT numbers) */
        kf_history_conv_t hc;
        if (kf_history_get(job->c->history, job->conv_id, &hc, err, sizeof err) == KF_HISTORY_OK) {
            job->csat_new = hc.csat == 0;
            kf_history_conv_free(&hc);
        }
    }
    kf_history_cb_t cb = {job->loop, on_closed, job};
    int rc = kf_history_close(job->c->history, job->conv_id, KF_HISTORY_CLOSED, job->csat, job->comment, cb, err,
                              sizeof err);
    if (rc != KF_HISTORY_OK) kf_conv_job_fail(job, rc == KF_HISTORY_FULL ? KF_CONV_BUSY : KF_CONV_ERR, err);
}

int kf_conv_close(kf_conv_t *c, const char *conv_id, int csat, const char *comment, kf_loop_t *loop,
                  kf_conv_done_fn fn, void *ud) {
    if (!c || !fn || !loop || !kf_history_valid_id(conv_id) || csat < 0 || csat > 5) return KF_CONV_INVALID;
    if (comment && kf_conv_utf8_count(comment, strlen(comment)) < 0) return KF_CONV_INVALID;
    if (atomic_load(&c->stopping)) return KF_CONV_SHUTDOWN;
    kf_conv_job_t *job = job_new(c, KF_CONV_JOB_CLOSE, conv_id, loop, fn, ud);
    if (!job || (comment && !(job->comment = strdup(comment)))) {
        kf_conv_job_free(job);
        return KF_CONV_NOMEM;
    }
    job->csat = csat;
    return submit(c, job);
}

/* ---- create ------------------------------------------------------------- */

static void on_greeted(const kf_history_result_t *hr, void *ud) {
    kf_conv_job_t *job = ud;
    if (hr->status != KF_HISTORY_OK) {
        kf_conv_job_fail(job, KF_CONV_ERR, hr->error);
        return;
    }
    kf_conv_msg_t replies[KF_CONV_MAX_REPLIES];
    for (size_t i = 0; i < job->n_out; i++)
        replies[i] = (kf_conv_msg_t){hr->acks[i].seq, KF_HISTORY_BOT, job->out[i].text, job->out[i].qr, job->out[i].n_qr,
                                     job->created_ms};
    kf_conv_result_t r = {.status = KF_CONV_OK, .error = "", .conv_id = job->conv_id, .lang = job->lang,
                          .entities_json = "[]", .replies = replies, .n_replies = job->n_out};
    atomic_fetch_add_explicit(&job->c->st.replies, job->n_out, memory_order_relaxed);
    kf_conv_job_finish(job, &r);
}

/* The conversation exists: its session, then the greeting when the profile gave a language. */
static void on_created(const kf_history_result_t *hr, void *ud) {
    kf_conv_job_t *job = ud;
    kf_conv_t *c = job->c;
    if (hr->status != KF_HISTORY_OK) {
        kf_conv_job_fail(job, hr->status == KF_HISTORY_FULL ? KF_CONV_BUSY : KF_CONV_ERR, hr->error);
        return;
    }
    KF_CONV_COUNT(c, conversations_started);
    kf_session_t s = {.profile_json = job->profile_json};
    memcpy(s.id, job->conv_id, sizeof s.id);
    snprintf(s.language, sizeof s.language, "%s", job->lang);
    kf_session_put_async(c->sessions, &s, KF_SESSION_ANY_VERSION, NULL, NULL);
    if (job->lang[0] && kf_conv_add_response(job, "greeting") > 0) {
        kf_history_msg_t msgs[KF_CONV_MAX_REPLIES];
        job->created_ms = kf_history_now_ms();
        for (size_t i = 0; i < job->n_out; i++)
            msgs[i] = (kf_history_msg_t){.sender = KF_HISTORY_BOT, .text = job->out[i].text, .created_at_ms = job->created_ms};
        char err[200];
        kf_history_cb_t cb = {job->loop, on_greeted, job};
        int rc = kf_history_append(c->history, job->conv_id, msgs, job->n_out, 0, cb, err, sizeof err);
        if (rc != KF_HISTORY_OK) kf_conv_job_fail(job, rc == KF_HISTORY_FULL ? KF_CONV_BUSY : KF_CONV_ERR, err);
        return;
    }
    kf_conv_result_t r = {.status = KF_CONV_OK, .error = "", .conv_id = job->conv_id,
                          .lang = job->lang[0] ? job->lang : kf_bot_default_language(c->bot), .entities_json = "[]"};
    kf_conv_job_finish(job, &r);
}

static char *profile_json(const kf_history_profile_t *p) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    if (p->user_id) cJSON_AddStringToObject(o, "user_id", p->user_id);
    if (p->name) cJSON_AddStringToObject(o, "name", p->name);
    if (p->language) cJSON_AddStringToObject(o, "language", p->language);
    cJSON_AddNumberToObject(o, "vip_tier", p->vip_tier);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

int kf_conv_create(kf_conv_t *c, const kf_history_profile_t *profile, kf_loop_t *loop, kf_conv_done_fn fn, void *ud,
                   char id_out[KF_HISTORY_ID_LEN + 1]) {
    if (!c || !fn || !loop) return KF_CONV_INVALID;
    if (profile && (profile->vip_tier < 0 || (profile->language && strlen(profile->language) >= KF_SESSION_LANG_MAX)))
        return KF_CONV_INVALID;
    if (atomic_load(&c->stopping)) return KF_CONV_SHUTDOWN;
    kf_conv_job_t *job = job_new(c, KF_CONV_JOB_CREATE, NULL, loop, fn, ud);
    if (!job) return KF_CONV_NOMEM;
    if (kf_history_new_id(job->conv_id) < 0) {
        kf_conv_job_free(job);
        return KF_CONV_ERR;
    }
    if (profile) {
        job->profile_json = profile_json(profile);
        job->name = profile->name ? strdup(profile->name) : NULL;
        if (!job->profile_json || (profile->name && !job->name)) {
            kf_conv_job_free(job);
            return KF_CONV_NOMEM;
        }
        if (profile->language) snprintf(job->lang, sizeof job->lang, "%s", kf_conv_bot_lang(c->bot, profile->language));
    }
    char err[200];
    atomic_fetch_add(&c->inflight, 1);
    kf_history_cb_t cb = {loop, on_created, job};
    int rc = kf_history_create(c->history, job->conv_id, profile, 0, cb, NULL, err, sizeof err);
    if (rc != KF_HISTORY_OK) {
        atomic_fetch_sub(&c->inflight, 1);
        kf_conv_job_free(job);
        return rc == KF_HISTORY_FULL ? KF_CONV_BUSY : rc == KF_HISTORY_INVALID ? KF_CONV_INVALID : KF_CONV_ERR;
    }
    memcpy(id_out, job->conv_id, KF_HISTORY_ID_LEN + 1);
    return KF_CONV_OK;
}

/* ---- expiry and housekeeping ------------------------------------------- */

void kf_conv_session_expired(const kf_session_t *s, kf_session_end_t reason, void *ud) {
    (void)reason;
    kf_conv_t *c = ud ? *(kf_conv_t **)ud : NULL;
    if (!c) return;
    char err[200];
    /* Fire and forget: an already ended conversation keeps its status. */
    if (kf_history_close(c->history, s->id, KF_HISTORY_EXPIRED, 0, NULL, (kf_history_cb_t){0}, err, sizeof err) ==
        KF_HISTORY_OK) {
        KF_CONV_COUNT(c, conversations_expired);
        kf_conv_held_ended(c, s->id);
        /* a customer still connected is told now, not at their next message */
        char js[128];
        snprintf(js, sizeof js, "{\"type\":\"ended\",\"conversation_id\":\"%s\",\"status\":\"expired\"}", s->id);
        kf_conv_ho_publish(c, "conv", s->id, js);
    }
    kf_conv_ho_forget(c, s->id);
}

static void *housekeeping(void *arg) {
    kf_conv_t *c = arg;
    uint64_t last = kf_loop_now_ms();
    while (!atomic_load(&c->hk_stop)) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
        uint64_t now = kf_loop_now_ms();
        if (now - last < c->sweep_ms) continue;
        last = now;
        while (kf_session_sweep(c->sessions, 1000) == 1000 && !atomic_load(&c->hk_stop)) {
        }
    }
    return NULL;
}

kf_conv_t *kf_conv_new(const kf_conv_config_t *cfg, char *err, size_t errlen) {
    if (!cfg || !cfg->bot || !cfg->history || !cfg->sessions) {
        snprintf(err, errlen, "conversation engine: bot, history and sessions are required");
        return NULL;
    }
    kf_conv_t *c = calloc(1, sizeof *c);
    if (!c || !(c->mbox = kf_conv_mailbox_new()) || kf_conv_ho_init(c, cfg) < 0 || kf_conv_held_init(c) < 0 ||
        (cfg->webhook_override && !(c->webhook_override = strdup(cfg->webhook_override)))) {
        snprintf(err, errlen, "conversation engine: out of memory");
        kf_conv_free(c);
        return NULL;
    }
    c->bot = cfg->bot;
    c->kb = cfg->kb;
    c->history = cfg->history;
    c->sessions = cfg->sessions;
    c->faq_min = cfg->faq_min_score > 0 ? cfg->faq_min_score : kf_bot_threshold(cfg->bot, "faq", 0.35);
    c->intent_min = cfg->intent_min_confidence > 0 ? cfg->intent_min_confidence : kf_bot_threshold(cfg->bot, "intent", 0.5);
    c->oos_min = kf_bot_threshold(cfg->bot, "oos", 0.5);
    c->sweep_ms = cfg->sweep_interval_ms ? cfg->sweep_interval_ms : 1000;
    if (pthread_create(&c->hk_thread, NULL, housekeeping, c) != 0) {
        snprintf(err, errlen, "conversation engine: cannot start its housekeeping thread");
        kf_conv_free(c);
        return NULL;
    }
    c->hk_started = 1;
    return c;
}

void kf_conv_free(kf_conv_t *c) {
    if (!c) return;
    atomic_store(&c->stopping, 1);
    /* Completions run on the callers' loops; a loop that no longer runs
     * would make this wait forever, hence the bound. */
    for (int i = 0; i < 10000 && atomic_load(&c->inflight) > 0; i++) {
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    if (c->hk_started) {
        atomic_store(&c->hk_stop, 1);
        pthread_join(c->hk_thread, NULL);
    }
    /* A completion still to come would find freed memory: leaking is the lesser harm. */
    if (atomic_load(&c->inflight) > 0) return;
    kf_conv_mailbox_free(c->mbox);
    kf_conv_ho_free(c);
    kf_conv_held_free(c);
    free(c->webhook_override);
    free(c);
}

kf_history_t *kf_conv_history(kf_conv_t *c) { return c->history; }
kf_session_store_t *kf_conv_sessions(kf_conv_t *c) { return c->sessions; }

void kf_conv_stats(kf_conv_t *c, kf_conv_stats_t *out) {
    *out = (kf_conv_stats_t){
        .messages = atomic_load(&c->st.messages), .replies = atomic_load(&c->st.replies),
        .duplicates = atomic_load(&c->st.duplicates), .faq_answers = atomic_load(&c->st.faq_answers),
        .fallbacks = atomic_load(&c->st.fallbacks), .handoffs = atomic_load(&c->st.handoffs),
        .flows_started = atomic_load(&c->st.flows_started), .flows_completed = atomic_load(&c->st.flows_completed),
        .conversations_started = atomic_load(&c->st.conversations_started),
        .conversations_closed = atomic_load(&c->st.conversations_closed),
        .conversations_expired = atomic_load(&c->st.conversations_expired),
        .ended_contained = atomic_load(&c->st.ended_contained), .ended_escalated = atomic_load(&c->st.ended_escalated),
        .csat_count = atomic_load(&c->st.csat_count), .csat_sum = atomic_load(&c->st.csat_sum),
        .waits = atomic_load(&c->st.waits), .wait_sum_s = (double)atomic_load(&c->st.wait_sum_ms) / 1000.0};
    for (int i = 0; i < KF_CONV_N_REASONS; i++) out->handoffs_by_reason[i] = atomic_load(&c->st.handoffs_by_reason[i]);
    for (int i = 0; i < KF_CONV_WAIT_BUCKETS; i++) out->wait_buckets[i] = atomic_load(&c->st.wait_buckets[i]);
}
