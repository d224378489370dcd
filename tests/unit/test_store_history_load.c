/* Load tests for the SQLite HistoryStore (store/history.h): gap-free,
 * ordered seqs under concurrent appends, group commit batching (with the
 * measured rates printed), and a kill -9 of a writing process that must keep
 * every acknowledged message.  Functional tests: test_store_history.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loop/loop.h"
#include "store/history.h"

#include "kill9.h"
#include "sqlite_tmp.h"

static char err[256];

static void setup(void) { sqlite_tmp_make("history.db"); }
static void teardown(void) { sqlite_tmp_remove(); }

TestSuite(history_load, .init = setup, .fini = teardown, .timeout = 60);

static kf_history_t *open_store(size_t cap, int full) {
    kf_history_sqlite_config_t cfg = {.path = path, .queue_capacity = cap, .sync_full = full};
    kf_history_t *h = kf_history_sqlite_open(&cfg, err, sizeof err);
    cr_assert(h, "open: %s", err);
    return h;
}

/* ---- waiting for a completion (loop NULL: it runs on the writer thread) ---- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, status, was_ended;
    char error[200], conv[33];
    kf_history_ack_t acks[KF_HISTORY_MAX_BATCH];
    size_t nacks;
} waiter_t;

static void waiter_init(waiter_t *w) {
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

static void on_done(const kf_history_result_t *r, void *ud) {
    waiter_t *w = ud;
    pthread_mutex_lock(&w->mu);
    w->status = r->status;
    w->was_ended = r->was_ended;
    snprintf(w->error, sizeof w->error, "%s", r->error);
    snprintf(w->conv, sizeof w->conv, "%s", r->conv_id);
    w->nacks = r->nacks;
    if (r->nacks) memcpy(w->acks, r->acks, r->nacks * sizeof *r->acks);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int wait_done(waiter_t *w) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&w->mu);
    while (!w->done && pthread_cond_timedwait(&w->cv, &w->mu, &until) != ETIMEDOUT) {}
    int st = w->done ? w->status : 999;
    w->done = 0;
    pthread_mutex_unlock(&w->mu);
    return st;
}

static kf_history_cb_t cb_of(waiter_t *w) { return (kf_history_cb_t){.loop = NULL, .fn = on_done, .ud = w}; }

static void create_sync(kf_history_t *h, const kf_history_profile_t *p, int64_t started, char id[33]) {
    waiter_t w;
    waiter_init(&w);
    cr_assert_eq(kf_history_create(h, NULL, p, started, cb_of(&w), id, err, sizeof err), KF_HISTORY_OK, "%s", err);
    cr_assert_eq(wait_done(&w), KF_HISTORY_OK, "%s", w.error);
    cr_assert_str_eq(w.conv, id);
}

static int append_sync(kf_history_t *h, const char *id, const kf_history_msg_t *m, size_t n, unsigned flags,
                       waiter_t *w) {
    waiter_init(w);
    int rc = kf_history_append(h, id, m, n, flags, cb_of(w), err, sizeof err);
    return rc != KF_HISTORY_OK ? rc : wait_done(w);
}

static kf_history_msg_t msg(kf_history_sender_t who, const char *text, const char *cmid) {
    return (kf_history_msg_t){.sender = who, .text = text, .client_msg_id = cmid};
}

/* ---- concurrency ---- */

typedef struct {
    kf_history_t *h;
    int tid, n;
    char (*convs)[33];
    int nconvs;
    atomic_int *pending;
    atomic_int *failures;
} worker_t;

static void count_done(const kf_history_result_t *r, void *ud) {
    worker_t *w = ud;
    if (r->status != KF_HISTORY_OK) atomic_fetch_add(w->failures, 1);
    atomic_fetch_sub(w->pending, 1);
}

static void *appender(void *arg) {
    worker_t *w = arg;
    char text[3][32];
    char e[128];
    for (int i = 0; i < w->n; i++) {
        int k = 1 + i % 3; /* batches of 1..3 */
        kf_history_msg_t m[3];
        for (int j = 0; j < k; j++) {
            snprintf(text[j], sizeof text[j], "t%d-%d-%d", w->tid, i, j);
            m[j] = msg(j ? KF_HISTORY_BOT : KF_HISTORY_CUSTOMER, text[j], NULL);
        }
        atomic_fetch_add(w->pending, 1);
        kf_history_cb_t cb = {.fn = count_done, .ud = w};
        int rc;
        while ((rc = kf_history_append(w->h, w->convs[i % w->nconvs], m, (size_t)k, 0, cb, e, sizeof e)) ==
               KF_HISTORY_FULL)
            usleep(50);
        if (rc != KF_HISTORY_OK) atomic_fetch_sub(w->pending, 1), atomic_fetch_add(w->failures, 1);
    }
    return NULL;
}

static int64_t run_appenders(kf_history_t *h, char (*convs)[33], int nconvs, int per_thread, int *failures_out) {
    enum { T = 4 };
    pthread_t th[T];
    worker_t w[T];
    atomic_int pending = 0, failures = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int t = 0; t < T; t++) {
        w[t] = (worker_t){h, t, per_thread, convs, nconvs, &pending, &failures};
        pthread_create(&th[t], NULL, appender, &w[t]);
    }
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    for (int i = 0; i < 20000 && atomic_load(&pending); i++) usleep(1000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_eq(atomic_load(&pending), 0);
    *failures_out = atomic_load(&failures);
    return (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
}

/* All messages of conv in seq order must be 1..n with each thread's own
 * messages in the order it submitted them. */
static int64_t check_order(kf_history_t *h, const char *conv) {
    int64_t seq = 0;
    int last_i[4] = {-1, -1, -1, -1}, last_j[4] = {0};
    for (;;) {
        kf_history_msgs_t ms;
        cr_assert_eq(kf_history_fetch(h, conv, seq, 1000, &ms, err, sizeof err), KF_HISTORY_OK, "%s", err);
        if (!ms.n) break;
        for (size_t k = 0; k < ms.n; k++) {
            cr_assert_eq(ms.v[k].seq, seq + 1, "gap after seq %lld", (long long)seq);
            seq = ms.v[k].seq;
            int t, i, j;
            cr_assert_eq(sscanf(ms.v[k].text, "t%d-%d-%d", &t, &i, &j), 3);
            cr_assert(i > last_i[t] || (i == last_i[t] && j == last_j[t] + 1), "thread %d out of order", t);
            last_i[t] = i;
            last_j[t] = j;
        }
        kf_history_msgs_free(&ms);
    }
    return seq;
}

Test(history_load, seqs_gap_free_and_ordered_under_concurrent_appends_to_one_conversation) {
    kf_history_t *h = open_store(256, 0);
    char conv[1][33];
    create_sync(h, NULL, 0, conv[0]);
    int failures;
    run_appenders(h, conv, 1, 250, &failures);
    cr_assert_eq(failures, 0);
    /* 250 requests per thread of 1,2,3,1,2,3… messages = 499 messages per thread */
    cr_assert_eq(check_order(h, conv[0]), 4 * 499);
    int64_t last;
    cr_assert_eq(kf_history_last_seq(h, conv[0], &last, err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(last, 4 * 499);
    kf_history_destroy(h);
}

Test(history_load, seqs_gap_free_per_conversation_when_threads_share_many) {
    kf_history_t *h = open_store(256, 0);
    char convs[5][33];
    for (int i = 0; i < 5; i++) create_sync(h, NULL, 0, convs[i]);
    int failures;
    run_appenders(h, convs, 5, 200, &failures);
    cr_assert_eq(failures, 0);
    int64_t total = 0;
    for (int i = 0; i < 5; i++) total += check_order(h, convs[i]);
    cr_assert_eq(total, 4 * (200 / 3 * 6 + 1 + 2)); /* i%3 -> 1,2,3: 66 full rounds + 1 + 2 */
    kf_history_destroy(h);
}

/* Closed loop, like clients that wait for their ack: each of 4 threads keeps
 * 16 appends of [customer, bot] in flight. */
typedef struct {
    kf_history_t *h;
    char (*convs)[33];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight, done;
} cl_t;

static void cl_done(const kf_history_result_t *r, void *ud) {
    cl_t *c = ud;
    cr_assert_eq(r->status, KF_HISTORY_OK);
    pthread_mutex_lock(&c->mu);
    c->inflight--;
    c->done++;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

enum { CL_PER_THREAD = 2500, CL_WINDOW = 16 };

static void *cl_thread(void *arg) {
    cl_t *c = arg;
    char e[128];
    for (int i = 0; i < CL_PER_THREAD; i++) {
        pthread_mutex_lock(&c->mu);
        while (c->inflight >= CL_WINDOW) pthread_cond_wait(&c->cv, &c->mu);
        c->inflight++;
        pthread_mutex_unlock(&c->mu);
        kf_history_msg_t m[2] = {msg(KF_HISTORY_CUSTOMER, "what is my balance please", NULL),
                                 {.sender = KF_HISTORY_BOT, .text = "Your balance is 1,234.56 EUR.",
                                  .intent = "balance", .confidence = 0.97}};
        kf_history_cb_t cb = {.fn = cl_done, .ud = c};
        cr_assert_eq(kf_history_append(c->h, c->convs[i % 8], m, 2, 0, cb, e, sizeof e), KF_HISTORY_OK, "%s", e);
    }
    pthread_mutex_lock(&c->mu);
    while (c->done < CL_PER_THREAD) pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void closed_loop(kf_history_t *h, char (*convs)[33], int full) {
    cl_t c[4];
    pthread_t t[4];
    kf_history_stats_t before, after;
    kf_history_stats(h, &before);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 4; i++) {
        c[i] = (cl_t){.h = h, .convs = convs};
        pthread_mutex_init(&c[i].mu, NULL);
        pthread_cond_init(&c[i].cv, NULL);
        pthread_create(&t[i], NULL, cl_thread, &c[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    kf_history_stats(h, &after);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    uint64_t commits = after.commits - before.commits;
    fprintf(stderr,
            "history closed loop (synchronous=%s, 4 threads x %d in flight): %d appends of 2 messages in %.0f ms = "
            "%.0f appends/s (%.0f messages/s), %llu transactions, average batch %.1f\n",
            full ? "FULL" : "NORMAL", CL_WINDOW, 4 * CL_PER_THREAD, s * 1e3, 4 * CL_PER_THREAD / s,
            8 * CL_PER_THREAD / s, (unsigned long long)commits, 4.0 * CL_PER_THREAD / (double)commits);
}

static void measure(int full) {
    kf_history_t *h = open_store(4096, full);
    char convs[8][33];
    for (int i = 0; i < 8; i++) create_sync(h, NULL, 0, convs[i]);
    kf_history_stats_t before, after;
    kf_history_stats(h, &before);
    int failures;
    int64_t ns = run_appenders(h, convs, 8, 250, &failures);
    cr_assert_eq(failures, 0);
    kf_history_stats(h, &after);
    uint64_t commits = after.commits - before.commits, reqs = after.requests_ok - before.requests_ok;
    uint64_t msgs = after.messages_inserted - before.messages_inserted;
    cr_assert_eq(reqs, 1000);
    fprintf(stderr,
            "history group commit (synchronous=%s): 1000 appends (%llu messages) from 4 threads in %.1f ms = "
            "%.0f appends/s, %llu transactions, average batch %.1f, largest %llu\n",
            full ? "FULL" : "NORMAL", (unsigned long long)msgs, ns / 1e6, 1000 / (ns / 1e9),
            (unsigned long long)commits, (double)reqs / (double)commits, (unsigned long long)after.max_batch);
    /* far fewer transactions than requests: the commits are shared */
    cr_assert_lt(commits, 500, "%llu transactions for 1000 appends", (unsigned long long)commits);
    closed_loop(h, convs, full);
    /* one request at a time: the latency a lone client sees */
    struct timespec t0, t1;
    waiter_t w;
    kf_history_msg_t one = msg(KF_HISTORY_CUSTOMER, "hello", NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 200; i++) cr_assert_eq(append_sync(h, convs[0], &one, 1, 0, &w), KF_HISTORY_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "history serial (synchronous=%s): %.1f us per acknowledged append\n", full ? "FULL" : "NORMAL",
            ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 200 / 1e3);
    kf_history_destroy(h);
}

Test(history_load, group_commit_batches_concurrent_appends) { measure(0); }
Test(history_load, group_commit_batches_with_synchronous_full) { measure(1); }

/* ---- kill -9 ---- */

typedef struct { int32_t k; int32_t seq_customer, seq_bot; } ack_rec_t;
static int crash_pipe;

static void child_acked(const kf_history_result_t *r, void *ud) {
    if (r->status != KF_HISTORY_OK) _exit(3);
    ack_rec_t rec = {(int32_t)(intptr_t)ud, (int32_t)r->acks[0].seq, (int32_t)r->acks[1].seq};
    if (write(crash_pipe, &rec, sizeof rec) != sizeof rec) _exit(4);
}

static void *child_writer(void *arg) {
    kf_history_t *h = ((void **)arg)[0];
    const char *id = ((void **)arg)[1];
    int base = (int)(intptr_t)((void **)arg)[2];
    char e[128];
    for (int k = base;; k += 2) {
        char c[32], b[32], cmid[32];
        snprintf(c, sizeof c, "c-%d", k);
        snprintf(b, sizeof b, "r-%d", k);
        snprintf(cmid, sizeof cmid, "m%d", k);
        kf_history_msg_t m[2] = {msg(KF_HISTORY_CUSTOMER, c, cmid), msg(KF_HISTORY_BOT, b, NULL)};
        kf_history_cb_t cb = {.fn = child_acked, .ud = (void *)(intptr_t)k};
        while (kf_history_append(h, id, m, 2, 0, cb, e, sizeof e) == KF_HISTORY_FULL) usleep(100);
    }
    return NULL;
}

static void crash_child(int fd, void *arg) {
    const char *id = arg;
    crash_pipe = fd;
    kf_history_sqlite_config_t cfg = {.path = path, .queue_capacity = 64};
    char e[256];
    kf_history_t *h = kf_history_sqlite_open(&cfg, e, sizeof e);
    if (!h) _exit(2);
    pthread_t t[2];
    void *args[2][3] = {{h, (void *)id, (void *)0}, {h, (void *)id, (void *)1}};
    pthread_create(&t[0], NULL, child_writer, args[0]);
    pthread_create(&t[1], NULL, child_writer, args[1]);
    pthread_join(t[0], NULL);
    _exit(0);
}

static int64_t count_gapless(kf_history_t *h, const char *id) {
    int64_t seq = 0;
    for (;;) {
        kf_history_msgs_t ms;
        cr_assert_eq(kf_history_fetch(h, id, seq, 1000, &ms, err, sizeof err), KF_HISTORY_OK);
        if (!ms.n) return seq;
        for (size_t i = 0; i < ms.n; i++) {
            if (ms.v[i].seq != seq + 1) return -1;
            seq++;
        }
        kf_history_msgs_free(&ms);
    }
}

Test(history_load, kill_9_keeps_every_acknowledged_message) {
    char id[33];
    {
        kf_history_t *h = open_store(0, 0);
        create_sync(h, NULL, 0, id);
        kf_history_destroy(h);
    }
    static ack_rec_t recs[1 << 20];
    /* kill mid-stream once enough acks are in */
    size_t n = kill9_run(crash_child, id, recs, sizeof recs, sizeof recs[0], 3000, 1500);
    cr_assert_gt(n, 100, "only %zu acks before the kill", n);

    kf_history_t *h = open_store(0, 0);
    int64_t last;
    cr_assert_eq(kf_history_last_seq(h, id, &last, err, sizeof err), KF_HISTORY_OK);
    cr_assert_geq(last, (int64_t)(2 * n));
    for (size_t i = 0; i < n; i++) {
        kf_history_msgs_t ms;
        cr_assert_eq(kf_history_fetch(h, id, recs[i].seq_customer - 1, 1, &ms, err, sizeof err), KF_HISTORY_OK);
        char want[32];
        snprintf(want, sizeof want, "c-%d", recs[i].k);
        cr_assert_eq(ms.n, 1, "acknowledged message %d lost", recs[i].k);
        cr_assert_str_eq(ms.v[0].text, want);
        kf_history_msgs_free(&ms);
        cr_assert_eq(kf_history_fetch(h, id, recs[i].seq_bot - 1, 1, &ms, err, sizeof err), KF_HISTORY_OK);
        snprintf(want, sizeof want, "r-%d", recs[i].k);
        cr_assert_eq(ms.n, 1);
        cr_assert_str_eq(ms.v[0].text, want);
        kf_history_msgs_free(&ms);
    }
    cr_assert_eq(count_gapless(h, id), last);
    fprintf(stderr, "history kill -9: %zu acknowledged appends all present (last seq %lld)\n", n, (long long)last);
    kf_history_destroy(h);
}
