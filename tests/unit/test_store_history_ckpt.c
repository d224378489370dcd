/* Checkpoint tests for the SQLite HistoryStore (store/history_sqlite_ckpt.c):
 * while appends keep coming and readers read, the background passes and the
 * writer's short finish keep the WAL bounded, and everything is there after
 * a reopen; a reader pinning an old snapshot, or no background passes at all,
 * leave it to the writer's RESTART at the hard cap, which still bounds it;
 * closing the store mid-stream stops the checkpointer and removes the WAL;
 * a kill -9 while checkpoints run loses no acknowledged message.  Small
 * thresholds (set through the store's internal header) make all of this
 * happen within a few thousand appends. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loop/loop.h"
#include "store/history.h"
#include "store/history_sqlite_int.h"

#include "kill9.h"
#include "sqlite_tmp.h"

static char err[256];

static void setup(void) { sqlite_tmp_make("history.db"); }
static void teardown(void) { sqlite_tmp_remove(); }

TestSuite(history_ckpt, .init = setup, .fini = teardown, .timeout = 120);

/* One WAL frame: a 24-byte header and a 4 KiB page (the default page size). */
#define FRAME 4120L
#define WAL_HEADER 32L

static kf_history_t *open_store(size_t cap) {
    kf_history_sqlite_config_t cfg = {.path = path, .queue_capacity = cap};
    kf_history_t *h = kf_history_sqlite_open(&cfg, err, sizeof err);
    cr_assert(h, "open: %s", err);
    return h;
}

static long wal_size(void) {
    char p[160];
    snprintf(p, sizeof p, "%s-wal", path);
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : 0;
}

/* ---- creating conversations (the completion runs on the writer thread) ---- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, status;
} waiter_t;

static void on_done(const kf_history_result_t *r, void *ud) {
    waiter_t *w = ud;
    pthread_mutex_lock(&w->mu);
    w->status = r->status;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void create_sync(kf_history_t *h, char id[33]) {
    waiter_t w = {.done = 0};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    kf_history_cb_t cb = {.fn = on_done, .ud = &w};
    cr_assert_eq(kf_history_create(h, NULL, NULL, 0, cb, id, err, sizeof err), KF_HISTORY_OK, "%s", err);
    pthread_mutex_lock(&w.mu);
    while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    cr_assert_eq(w.status, KF_HISTORY_OK);
}

/* ---- a steady stream of appends to many conversations ---- */

enum { NCONV = 40, TEXT = 600 };

typedef struct {
    kf_history_t *h;
    char (*convs)[33];
    int tid, n;
    atomic_int *pending, *failures;
} worker_t;

static void count_done(const kf_history_result_t *r, void *ud) {
    worker_t *w = ud;
    if (r->status != KF_HISTORY_OK) atomic_fetch_add(w->failures, 1);
    atomic_fetch_sub(w->pending, 1);
}

/* Each append is a customer message and a bot reply of TEXT bytes, to the
 * conversations in turn, so every commit dirties pages all over the file. */
static void *appender(void *arg) {
    worker_t *w = arg;
    char c[TEXT + 1], b[TEXT + 1], e[128];
    for (int i = 0; i < w->n; i++) {
        int k = snprintf(c, sizeof c, "t%d-%d ", w->tid, i);
        memset(c + k, 'a' + i % 26, TEXT - (size_t)k);
        c[TEXT] = 0;
        memcpy(b, c, sizeof b);
        b[0] = 'r';
        kf_history_msg_t m[2] = {{.sender = KF_HISTORY_CUSTOMER, .text = c}, {.sender = KF_HISTORY_BOT, .text = b}};
        atomic_fetch_add(w->pending, 1);
        kf_history_cb_t cb = {.fn = count_done, .ud = w};
        int rc;
        while ((rc = kf_history_append(w->h, w->convs[(i * 2 + w->tid) % NCONV], m, 2, 0, cb, e, sizeof e)) ==
               KF_HISTORY_FULL)
            usleep(50);
        if (rc != KF_HISTORY_OK) atomic_fetch_sub(w->pending, 1), atomic_fetch_add(w->failures, 1);
    }
    return NULL;
}

/* Runs 2 appender threads of per_thread appends each while sampling the WAL
 * file's size; returns the largest size seen. */
static long run_and_watch(kf_history_t *h, char (*convs)[33], int per_thread) {
    pthread_t th[2];
    worker_t w[2];
    atomic_int pending = 0, failures = 0;
    for (int t = 0; t < 2; t++) {
        w[t] = (worker_t){h, convs, t, per_thread, &pending, &failures};
        pthread_create(&th[t], NULL, appender, &w[t]);
    }
    long max = 0;
    int joined = 0;
    for (int i = 0; i < 120000; i++) { /* at most 60 s */
        long sz = wal_size();
        if (sz > max) max = sz;
        if (!joined && pthread_tryjoin_np(th[0], NULL) == 0 && pthread_join(th[1], NULL) == 0) joined = 1;
        if (joined && atomic_load(&pending) == 0) break;
        usleep(500);
    }
    cr_assert(joined, "appenders did not finish");
    cr_assert_eq(atomic_load(&pending), 0, "appends still pending");
    cr_assert_eq(atomic_load(&failures), 0);
    return max;
}

/* Every conversation holds 1..n with no gap; returns the total. */
static int64_t count_all(kf_history_t *h, char (*convs)[33]) {
    int64_t total = 0;
    for (int c = 0; c < NCONV; c++) {
        int64_t seq = 0;
        for (;;) {
            kf_history_msgs_t ms;
            cr_assert_eq(kf_history_fetch(h, convs[c], seq, 1000, &ms, err, sizeof err), KF_HISTORY_OK, "%s", err);
            if (!ms.n) break;
            for (size_t i = 0; i < ms.n; i++) cr_assert_eq(ms.v[i].seq, ++seq, "gap in conversation %d", c);
            kf_history_msgs_free(&ms);
        }
        total += seq;
    }
    return total;
}

/* Short reads all along, as the server's fetches and resend checks do. */
typedef struct {
    kf_history_t *h;
    char (*convs)[33];
    atomic_int stop;
    long reads;
} reader_t;

static void *reader(void *arg) {
    reader_t *r = arg;
    char e[128];
    for (int i = 0; !atomic_load(&r->stop); i++) {
        kf_history_msgs_t ms;
        if (kf_history_fetch(r->h, r->convs[i % NCONV], 0, 50, &ms, e, sizeof e) == KF_HISTORY_OK) {
            kf_history_msgs_free(&ms);
            r->reads++;
        }
    }
    return NULL;
}

static void print_stats(const char *what, const kf_history_ckpt_stats_t *st, long max) {
    fprintf(stderr,
            "history ckpt, %s: %llu WAL frames written; WAL file at most %ld KiB (%u frames after a commit); "
            "%llu passes copied %llu frames; writer finished %llu times (max %.1f ms); %llu restarts, "
            "%llu fallbacks (%.1f ms)\n",
            what, st->frames_written, max / 1024, st->max_frames, st->passes, st->frames_backfilled, st->finishes,
            st->finish_max_seconds * 1e3, st->restarts, st->fallbacks, st->fallback_seconds * 1e3);
}

static void reopen_and_count(char (*convs)[33], int64_t want) {
    kf_history_t *h = open_store(0);
    cr_assert_eq(count_all(h, convs), want);
    kf_history_destroy(h);
}

Test(history_ckpt, background_checkpoints_keep_the_wal_bounded_while_appends_continue) {
    kf_history_t *h = open_store(128);
    /* 64 frames (256 KiB) start the passes; the hard cap is far above what
     * they should ever let the WAL reach */
    kf_history_sqlite_set_wal_limits(h, 64, 16, 4096);
    char convs[NCONV][33];
    for (int i = 0; i < NCONV; i++) create_sync(h, convs[i]);
    reader_t rd = {.h = h, .convs = convs};
    pthread_t rt;
    cr_assert_eq(pthread_create(&rt, NULL, reader, &rd), 0);
    /* enough appends for the WAL to go round several times: messages in
     * write order (schema v4) take fewer frames per append than before */
    int per_thread = 20000;
    long max = run_and_watch(h, convs, per_thread);
    atomic_store(&rd.stop, 1);
    pthread_join(rt, NULL);

    kf_history_ckpt_stats_t st;
    kf_history_sqlite_ckpt_stats(h, &st);
    print_stats("appends + reads", &st, max);
    cr_assert_gt(rd.reads, 0);
    cr_assert_gt(st.passes, 0, "the checkpointer never ran");
    cr_assert_gt(st.finishes, 0, "the writer never finished a checkpoint");
    cr_assert_gt(st.restarts, 1, "the WAL never started again");
    /* the WAL starts again through the passes and the writer's finish; a
     * fallback or two can happen when this 2-core machine is busy elsewhere
     * and the passes get little CPU (Criterion runs two tests at once) */
    cr_assert_lt(st.fallbacks * 4, st.restarts, "the passes fell behind: %llu fallbacks, %llu restarts",
                 st.fallbacks, st.restarts);
    /* the WAL went round many times: without checkpoints it would hold
     * every frame written */
    cr_assert_gt(st.frames_backfilled, 0);
    cr_assert_gt(st.frames_written, 4 * (unsigned long long)st.max_frames, "%llu frames written, WAL reached %u",
                 st.frames_written, st.max_frames);
    /* bounded: the hard cap plus one batch's frames (at most 128 requests) */
    long bound = WAL_HEADER + (4096 + 1024) * FRAME;
    cr_assert_leq(max, bound, "WAL reached %ld bytes (bound %ld)", max, bound);
    cr_assert_leq(st.max_frames, 4096 + 1024);
    cr_assert_eq(count_all(h, convs), 2 * 2 * (int64_t)per_thread);
    kf_history_destroy(h);
    reopen_and_count(convs, 2 * 2 * (int64_t)per_thread);
}

/* The checkpointer starts the WAL's write-back as the WAL grows, so that a
 * pass's fsync does not write it all at once, and after each pass the
 * database's; the data stays whole. */
Test(history_ckpt, the_wal_is_written_back_as_it_grows) {
    kf_history_t *h = open_store(128);
    /* the WAL goes round a few times: write-backs across restarts */
    kf_history_sqlite_set_wal_limits(h, 256, 16, 8192);
    kf_history_sqlite_set_wal_flush(h, 32);
    char convs[NCONV][33];
    for (int i = 0; i < NCONV; i++) create_sync(h, convs[i]);
    long max = run_and_watch(h, convs, 3000);
    int64_t appended = 2 * 3000;
    kf_history_ckpt_stats_t st;
    kf_history_sqlite_ckpt_stats(h, &st);
    /* the checkpointer runs at nice 5: beside the other test Criterion runs
     * at once it can get no CPU for a while; a little more load, then */
    for (int round = 0; round < 50 && (!st.passes || !st.db_writebacks || !st.flushes); round++) {
        usleep(20 * 1000);
        long m = run_and_watch(h, convs, 100);
        if (m > max) max = m;
        appended += 2 * 100;
        kf_history_sqlite_ckpt_stats(h, &st);
    }
    print_stats("early write-back", &st, max);
    fprintf(stderr, "history ckpt, early write-back: %llu write-backs covered %llu frames\n", st.flushes,
            st.frames_flushed);
    cr_assert_gt(st.flushes, 0, "no write-back started");
    cr_assert_gt(st.frames_flushed, 0);
    /* every pass that copied pages started the database's (a pass may find
     * nothing new) */
    cr_assert_gt(st.passes, 0);
    cr_assert_gt(st.db_writebacks, 0, "no pass started the database's write-back");
    cr_assert_leq(st.db_writebacks, st.passes);
    cr_assert_leq(st.frames_flushed, st.frames_written);
    cr_assert_eq(count_all(h, convs), 2 * appended);
    kf_history_destroy(h);
    reopen_and_count(convs, 2 * appended);
}

/* A reader that keeps one read transaction open pins its snapshot: no pass
 * can copy past it, so the WAL grows to the hard cap, where the writer's
 * RESTART waits for that reader and then lets the WAL start again. */
typedef struct {
    sqlite3 *db;
    long release_at; /* WAL file size that ends the read transaction */
} pin_t;

static void *pinner(void *arg) {
    pin_t *p = arg;
    for (int i = 0; i < 60000 && wal_size() < p->release_at; i++) usleep(1000);
    usleep(100 * 1000); /* the writer is now waiting in its RESTART */
    sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL);
    return NULL;
}

Test(history_ckpt, a_pinned_snapshot_leaves_the_bound_to_the_writers_restart) {
    kf_history_t *h = open_store(128);
    kf_history_sqlite_set_wal_limits(h, 64, 16, 1024);
    char convs[NCONV][33];
    for (int i = 0; i < NCONV; i++) create_sync(h, convs[i]);
    pin_t p = {.release_at = WAL_HEADER + 1024 * FRAME};
    cr_assert_eq(sqlite3_open_v2(path, &p.db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(p.db, "BEGIN; SELECT count(*) FROM messages;", NULL, NULL, NULL), SQLITE_OK);
    pthread_t pt;
    cr_assert_eq(pthread_create(&pt, NULL, pinner, &p), 0);
    long max = run_and_watch(h, convs, 3000);
    pthread_join(pt, NULL);
    sqlite3_close(p.db);

    kf_history_ckpt_stats_t st;
    kf_history_sqlite_ckpt_stats(h, &st);
    print_stats("pinned snapshot", &st, max);
    cr_assert_gt(st.passes, 0);
    cr_assert_gt(st.fallbacks, 0, "the hard cap never triggered");
    cr_assert_gt(st.restarts, 0, "the WAL never started again");
    /* while the writer waits in RESTART nothing is committed: the cap plus one batch */
    long bound = WAL_HEADER + (1024 + 1024) * FRAME;
    cr_assert_leq(max, bound, "WAL reached %ld bytes (bound %ld)", max, bound);
    cr_assert_eq(count_all(h, convs), 2 * 2 * 3000);
    kf_history_destroy(h);
    reopen_and_count(convs, 2 * 2 * 3000);
}

Test(history_ckpt, hard_cap_bounds_the_wal_when_the_checkpointer_never_runs) {
    kf_history_t *h = open_store(128);
    /* soft above hard: the writer's RESTART fallback at 256 frames is all there is */
    kf_history_sqlite_set_wal_limits(h, 1u << 30, 16, 256);
    char convs[NCONV][33];
    for (int i = 0; i < NCONV; i++) create_sync(h, convs[i]);
    long max = run_and_watch(h, convs, 1500);
    kf_history_ckpt_stats_t st;
    kf_history_sqlite_ckpt_stats(h, &st);
    cr_assert_eq(st.passes, 0);
    cr_assert_gt(st.fallbacks, 0, "the hard cap never triggered");
    long bound = WAL_HEADER + (256 + 1024) * FRAME;
    cr_assert_leq(max, bound, "WAL reached %ld bytes (bound %ld)", max, bound);
    cr_assert_eq(count_all(h, convs), 2 * 2 * 1500);
    kf_history_destroy(h);
    reopen_and_count(convs, 2 * 2 * 1500);
}

/* Destroying the store while passes run: the writer drains its queue, the
 * checkpointer ends, and the last connection to close removes the WAL. */
Test(history_ckpt, destroy_mid_stream_stops_the_checkpointer_and_removes_the_wal) {
    char convs[NCONV][33];
    for (int round = 0; round < 3; round++) {
        kf_history_t *h = open_store(128);
        kf_history_sqlite_set_wal_limits(h, 32, 8, 4096);
        if (round == 0)
            for (int i = 0; i < NCONV; i++) create_sync(h, convs[i]);
        /* queued without waiting: destroy comes while they are written */
        char c[TEXT + 1], e[128];
        memset(c, 'd', TEXT);
        c[TEXT] = 0;
        for (int k = 0; k < 2000; k++) {
            kf_history_msg_t m[1] = {{.sender = KF_HISTORY_CUSTOMER, .text = c}};
            kf_history_cb_t cb = {0};
            while (kf_history_append(h, convs[k % NCONV], m, 1, 0, cb, e, sizeof e) == KF_HISTORY_FULL) usleep(50);
        }
        kf_history_destroy(h);
        cr_assert_eq(wal_size(), 0, "the WAL is still there after round %d", round);
    }
    reopen_and_count(convs, 3 * 2000);
}

/* ---- kill -9 while checkpoints run ---- */

typedef struct { int32_t k, conv, seq_customer; } ack_rec_t;
static int crash_pipe;

static void child_acked(const kf_history_result_t *r, void *ud) {
    if (r->status != KF_HISTORY_OK) _exit(3);
    intptr_t v = (intptr_t)ud;
    ack_rec_t rec = {(int32_t)(v >> 8), (int32_t)(v & 0xff), (int32_t)r->acks[0].seq};
    if (write(crash_pipe, &rec, sizeof rec) != sizeof rec) _exit(4);
}

static void crash_child(int fd, void *arg) {
    char(*convs)[33] = arg;
    crash_pipe = fd;
    kf_history_sqlite_config_t cfg = {.path = path, .queue_capacity = 64};
    char e[256];
    kf_history_t *h = kf_history_sqlite_open(&cfg, e, sizeof e);
    if (!h) _exit(2);
    kf_history_sqlite_set_wal_limits(h, 32, 8, 2048);
    char c[TEXT + 1];
    for (int k = 0;; k++) {
        int n = snprintf(c, sizeof c, "c-%d ", k);
        memset(c + n, 'x', TEXT - (size_t)n);
        c[TEXT] = 0;
        kf_history_msg_t m[2] = {{.sender = KF_HISTORY_CUSTOMER, .text = c}, {.sender = KF_HISTORY_BOT, .text = "ok"}};
        int conv = k % NCONV;
        kf_history_cb_t cb = {.fn = child_acked, .ud = (void *)(((intptr_t)k << 8) | conv)};
        while (kf_history_append(h, convs[conv], m, 2, 0, cb, e, sizeof e) == KF_HISTORY_FULL) usleep(100);
    }
}

Test(history_ckpt, kill_9_during_checkpoints_keeps_every_acknowledged_message) {
    static char convs[NCONV][33];
    {
        kf_history_t *h = open_store(0);
        for (int i = 0; i < NCONV; i++) create_sync(h, convs[i]);
        kf_history_destroy(h);
    }
    static ack_rec_t recs[1 << 18];
    /* enough acks that several checkpoints and WAL restarts happened */
    size_t n = kill9_run(crash_child, convs, recs, sizeof recs, sizeof recs[0], 6000, 3000);
    cr_assert_gt(n, 500, "only %zu acks before the kill", n);

    kf_history_t *h = open_store(0);
    for (size_t i = 0; i < n; i++) {
        kf_history_msgs_t ms;
        cr_assert_eq(kf_history_fetch(h, convs[recs[i].conv], recs[i].seq_customer - 1, 1, &ms, err, sizeof err),
                     KF_HISTORY_OK);
        cr_assert_eq(ms.n, 1, "acknowledged message %d lost", recs[i].k);
        char want[32];
        int k = snprintf(want, sizeof want, "c-%d ", recs[i].k);
        cr_assert_eq(strncmp(ms.v[0].text, want, (size_t)k), 0, "message %d has the wrong text", recs[i].k);
        kf_history_msgs_free(&ms);
    }
    fprintf(stderr, "history ckpt kill -9: %zu acknowledged appends all present\n", n);
    kf_history_destroy(h);
}
