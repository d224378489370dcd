/* Unit tests for the SQLite HistoryStore (store/history.h): round trips,
 * idempotent client_msg_id, restart survival, schema migration and refusal
 * of a newer file, the queue bound, bad input, paging, completions on a
 * caller's loop, metrics.  Concurrency, group commit and kill -9 are in
 * test_store_history_load.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loop/loop.h"
#include "obs/metrics.h"
#include "store/history.h"

#include "sqlite_tmp.h"

static char err[256];

static void setup(void) { sqlite_tmp_make("history.db"); }
static void teardown(void) { sqlite_tmp_remove(); }

TestSuite(history, .init = setup, .fini = teardown, .timeout = 60);

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
    int64_t found_seq;
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
    w->found_seq = r->found_seq;
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

static int close_sync(kf_history_t *h, const char *id, kf_history_status_t st, int csat, const char *comment,
                      waiter_t *w) {
    waiter_init(w);
    int rc = kf_history_close(h, id, st, csat, comment, cb_of(w), err, sizeof err);
    return rc != KF_HISTORY_OK ? rc : wait_done(w);
}

static kf_history_msg_t msg(kf_history_sender_t who, const char *text, const char *cmid) {
    return (kf_history_msg_t){.sender = who, .text = text, .client_msg_id = cmid};
}

/* ---- round trips ---- */

Test(history, create_append_fetch_close_round_trip) {
    kf_history_t *h = open_store(0, 0);
    kf_history_profile_t p = {.user_id = "u-1", .name = "Li \"Lei\"", .language = "zh", .vip_tier = 2};
    char id[33];
    create_sync(h, &p, 0, id);
    cr_assert(kf_history_valid_id(id));

    kf_history_msg_t m[3] = {
        {.sender = KF_HISTORY_CUSTOMER, .text = "我的卡丢了", .client_msg_id = "c1", .intent = "lost_card",
         .confidence = 0.93, .entities_json = "[{\"type\":\"card_last4\",\"value\":\"1234\"}]", .created_at_ms = 1000},
        {.sender = KF_HISTORY_BOT, .text = "Which card?"},
        {.sender = KF_HISTORY_SYSTEM, .text = ""},
    };
    waiter_t w;
    cr_assert_eq(append_sync(h, id, m, 3, 0, &w), KF_HISTORY_OK, "%s", w.error);
    cr_assert_eq(w.nacks, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(w.acks[i].seq, i + 1);
        cr_assert_eq(w.acks[i].state, KF_HISTORY_INSERTED);
    }

    kf_history_msgs_t ms;
    cr_assert_eq(kf_history_fetch(h, id, 0, 100, &ms, err, sizeof err), KF_HISTORY_OK, "%s", err);
    cr_assert_eq(ms.n, 3);
    cr_assert_str_eq(ms.v[0].text, "我的卡丢了");
    cr_assert_str_eq(ms.v[0].client_msg_id, "c1");
    cr_assert_str_eq(ms.v[0].intent, "lost_card");
    cr_assert_float_eq(ms.v[0].confidence, 0.93, 1e-9);
    cr_assert_str_eq(ms.v[0].entities_json, "[{\"type\":\"card_last4\",\"value\":\"1234\"}]");
    cr_assert_eq(ms.v[0].created_at_ms, 1000);
    cr_assert_eq(ms.v[0].sender, KF_HISTORY_CUSTOMER);
    cr_assert_eq(ms.v[1].sender, KF_HISTORY_BOT);
    cr_assert_null(ms.v[1].intent);
    cr_assert_null(ms.v[1].client_msg_id);
    cr_assert(ms.v[1].created_at_ms > 1600000000000LL);
    cr_assert_str_eq(ms.v[2].text, "");
    kf_history_msgs_free(&ms);

    cr_assert_eq(kf_history_fetch(h, id, 1, 1, &ms, err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(ms.n, 1);
    cr_assert_eq(ms.v[0].seq, 2);
    kf_history_msgs_free(&ms);
    cr_assert_eq(kf_history_fetch(h, id, 3, 10, &ms, err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(ms.n, 0);

    int64_t last = -1;
    cr_assert_eq(kf_history_last_seq(h, id, &last, err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(last, 3);

    kf_history_conv_t c;
    cr_assert_eq(kf_history_get(h, id, &c, err, sizeof err), KF_HISTORY_OK, "%s", err);
    cr_assert_str_eq(c.id, id);
    cr_assert_str_eq(c.user_id, "u-1");
    cr_assert_str_eq(c.name, "Li \"Lei\"");
    cr_assert_str_eq(c.language, "zh");
    cr_assert_eq(c.vip_tier, 2);
    cr_assert_eq(c.status, KF_HISTORY_OPEN);
    cr_assert_eq(c.ended_at_ms, 0);
    cr_assert_eq(c.csat, 0);
    cr_assert_null(c.agent_id);
    cr_assert_eq(c.last_seq, 3);
    kf_history_conv_free(&c);

    waiter_init(&w);
    cr_assert_eq(kf_history_assign(h, id, "agent-7", cb_of(&w), err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(wait_done(&w), KF_HISTORY_OK);
    cr_assert_eq(close_sync(h, id, KF_HISTORY_CLOSED, 5, "quick and kind", &w), KF_HISTORY_OK, "%s", w.error);
    cr_assert_eq(w.was_ended, 0);
    cr_assert_eq(kf_history_get(h, id, &c, err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(c.status, KF_HISTORY_CLOSED);
    cr_assert(c.ended_at_ms >= c.started_at_ms);
    cr_assert_eq(c.csat, 5);
    cr_assert_str_eq(c.csat_comment, "quick and kind");
    cr_assert_str_eq(c.agent_id, "agent-7");
    int64_t ended = c.ended_at_ms;
    kf_history_conv_free(&c);

    /* the agent closed; the customer rates later: end and status stay */
    cr_assert_eq(close_sync(h, id, KF_HISTORY_EXPIRED, 3, NULL, &w), KF_HISTORY_OK);
    cr_assert_eq(w.was_ended, 1);
    cr_assert_eq(kf_history_get(h, id, &c, err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(c.status, KF_HISTORY_CLOSED);
    cr_assert_eq(c.ended_at_ms, ended);
    cr_assert_eq(c.csat, 3);
    cr_assert_null(c.csat_comment);
    kf_history_conv_free(&c);

    char id2[33];
    create_sync(h, NULL, 0, id2);
    cr_assert_eq(kf_history_get(h, id2, &c, err, sizeof err), KF_HISTORY_OK);
    cr_assert_null(c.user_id);
    cr_assert_eq(c.vip_tier, 0);
    cr_assert_eq(c.last_seq, 0);
    kf_history_conv_free(&c);
    kf_history_destroy(h);
}

Test(history, client_msg_id_makes_resends_idempotent) {
    kf_history_t *h = open_store(0, 0);
    char id[33];
    create_sync(h, NULL, 0, id);
    waiter_t w;
    kf_history_msg_t first[2] = {msg(KF_HISTORY_CUSTOMER, "hi", "m-1"), msg(KF_HISTORY_BOT, "hello!", NULL)};
    cr_assert_eq(append_sync(h, id, first, 2, KF_HISTORY_STOP_AT_DUPLICATE, &w), KF_HISTORY_OK);
    cr_assert_eq(w.acks[0].seq, 1);
    cr_assert_eq(w.acks[1].seq, 2);

    /* the resend: its reply exists already, so nothing new is stored */
    cr_assert_eq(append_sync(h, id, first, 2, KF_HISTORY_STOP_AT_DUPLICATE, &w), KF_HISTORY_OK);
    cr_assert_eq(w.acks[0].state, KF_HISTORY_DUPLICATE);
    cr_assert_eq(w.acks[0].seq, 1);
    cr_assert_eq(w.acks[1].state, KF_HISTORY_SKIPPED);
    cr_assert_eq(w.acks[1].seq, 0);
    int64_t last;
    cr_assert_eq(kf_history_last_seq(h, id, &last, err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(last, 2);

    /* without the flag the rest of the batch goes in */
    cr_assert_eq(append_sync(h, id, first, 2, 0, &w), KF_HISTORY_OK);
    cr_assert_eq(w.acks[0].state, KF_HISTORY_DUPLICATE);
    cr_assert_eq(w.acks[1].state, KF_HISTORY_INSERTED);
    cr_assert_eq(w.acks[1].seq, 3);

    /* the same id twice in one batch, and the same id in another conversation */
    kf_history_msg_t twice[2] = {msg(KF_HISTORY_CUSTOMER, "a", "m-2"), msg(KF_HISTORY_CUSTOMER, "a", "m-2")};
    cr_assert_eq(append_sync(h, id, twice, 2, 0, &w), KF_HISTORY_OK);
    cr_assert_eq(w.acks[0].state, KF_HISTORY_INSERTED);
    cr_assert_eq(w.acks[1].state, KF_HISTORY_DUPLICATE);
    cr_assert_eq(w.acks[1].seq, w.acks[0].seq);
    char other[33];
    create_sync(h, NULL, 0, other);
    cr_assert_eq(append_sync(h, other, first, 1, 0, &w), KF_HISTORY_OK);
    cr_assert_eq(w.acks[0].state, KF_HISTORY_INSERTED);
    cr_assert_eq(w.acks[0].seq, 1);

    int64_t seq = -1;
    cr_assert_eq(kf_history_find_client_msg(h, id, "m-1", &seq, err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(seq, 1);
    cr_assert_eq(kf_history_find_client_msg(h, id, "nope", &seq, err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(seq, 0);
    kf_history_stats_t st;
    kf_history_stats(h, &st);
    cr_assert_eq(st.messages_duplicate, 3);
    cr_assert_eq(st.messages_inserted, 5);
    kf_history_destroy(h);
}

/* ---- restart, migration ---- */

/* The resend check through the write queue sees an append submitted just
 * before it, before that append's completion has even run. */
Test(history, find_client_msg_async_answers_in_write_order) {
    kf_history_t *h = open_store(0, 0);
    char id[33];
    create_sync(h, NULL, 0, id);
    waiter_t a, f1, f2, f3;
    waiter_init(&a), waiter_init(&f1), waiter_init(&f2), waiter_init(&f3);
    kf_history_msg_t m[2] = {msg(KF_HISTORY_CUSTOMER, "hi", "c-1"), msg(KF_HISTORY_BOT, "hello", NULL)};
    cr_assert_eq(kf_history_append(h, id, m, 2, 0, cb_of(&a), err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(kf_history_find_client_msg_async(h, id, "c-1", cb_of(&f1), err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(kf_history_find_client_msg_async(h, id, "c-2", cb_of(&f2), err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(wait_done(&f1), KF_HISTORY_OK, "%s", f1.error);
    cr_assert_eq(wait_done(&a), KF_HISTORY_OK);
    cr_expect_eq(f1.found_seq, a.acks[0].seq, "the append queued before the check is seen");
    cr_assert_eq(wait_done(&f2), KF_HISTORY_OK);
    cr_expect_eq(f2.found_seq, 0, "an id never stored is not found");
    /* bad input: refused at once; an unknown conversation: NOTFOUND */
    cr_assert_eq(kf_history_find_client_msg_async(h, "nope", "c-1", cb_of(&f3), err, sizeof err), KF_HISTORY_INVALID);
    cr_assert_eq(kf_history_find_client_msg_async(h, id, "", cb_of(&f3), err, sizeof err), KF_HISTORY_INVALID);
    cr_assert_eq(kf_history_find_client_msg_async(h, "00000000000000000000000000000000", "c-1", cb_of(&f3), err,
                                                  sizeof err),
                 KF_HISTORY_OK);
    cr_expect_eq(wait_done(&f3), KF_HISTORY_NOTFOUND);
    /* a check is not a write */
    kf_history_stats_t st;
    kf_history_stats(h, &st);
    cr_expect_eq(st.requests_ok, 2, "the create and the append, not the checks");
    kf_history_destroy(h);
}

Test(history, everything_survives_a_restart) {
    kf_history_t *h = open_store(0, 0);
    char id[33];
    kf_history_profile_t p = {.user_id = "u-9", .vip_tier = 1};
    create_sync(h, &p, 0, id);
    waiter_t w;
    kf_history_msg_t m[2] = {msg(KF_HISTORY_CUSTOMER, "balance?", "x1"), msg(KF_HISTORY_BOT, "100 EUR", NULL)};
    cr_assert_eq(append_sync(h, id, m, 2, 0, &w), KF_HISTORY_OK);
    /* fire and forget, then destroy at once: destroy commits what is queued */
    char text[50][24];
    for (int i = 0; i < 50; i++) {
        snprintf(text[i], sizeof text[i], "late %d", i);
        kf_history_msg_t one = msg(KF_HISTORY_SYSTEM, text[i], NULL);
        cr_assert_eq(kf_history_append(h, id, &one, 1, 0, (kf_history_cb_t){0}, err, sizeof err), KF_HISTORY_OK);
    }
    kf_history_destroy(h);

    h = open_store(0, 0);
    kf_history_conv_t c;
    cr_assert_eq(kf_history_get(h, id, &c, err, sizeof err), KF_HISTORY_OK);
    cr_assert_str_eq(c.user_id, "u-9");
    cr_assert_eq(c.last_seq, 52);
    kf_history_conv_free(&c);
    kf_history_msgs_t ms;
    cr_assert_eq(kf_history_fetch(h, id, 0, 1000, &ms, err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(ms.n, 52);
    cr_assert_str_eq(ms.v[1].text, "100 EUR");
    cr_assert_str_eq(ms.v[51].text, "late 49");
    kf_history_msgs_free(&ms);
    /* seqs continue, and the old client_msg_id is still known */
    cr_assert_eq(append_sync(h, id, m, 2, 0, &w), KF_HISTORY_OK);
    cr_assert_eq(w.acks[0].state, KF_HISTORY_DUPLICATE);
    cr_assert_eq(w.acks[1].seq, 53);
    kf_history_destroy(h);
}

static int pragma_int(const char *sql) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_type(st, 0) == SQLITE_TEXT ? !strcmp((const char *)sqlite3_column_text(st, 0), "wal")
                                                      : sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

Test(history, migrates_an_empty_file) {
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    cr_assert(fd >= 0);
    close(fd);
    kf_history_t *h = open_store(0, 0);
    kf_history_destroy(h);
    cr_assert_eq(pragma_int("PRAGMA user_version"), kf_history_sqlite_schema_version());
    cr_assert_eq(pragma_int("PRAGMA journal_mode"), 1, "not in WAL mode");
    /* opening again is a no-op */
    h = open_store(0, 0);
    kf_history_destroy(h);
    cr_assert_eq(pragma_int("PRAGMA user_version"), kf_history_sqlite_schema_version());
}

/* Messages are kept in the order they were written, whatever conversation
 * they belong to (a group commit's rows share the last pages), and read back
 * per conversation through the unique (conv, seq) index: in seq order
 * without a sort, and a second row with the same seq is refused. */
Test(history, messages_are_stored_in_write_order_and_read_through_the_conv_seq_index) {
    kf_history_t *h = open_store(0, 0);
    char a[33], b[33];
    create_sync(h, NULL, 0, a);
    create_sync(h, NULL, 0, b);
    waiter_t w;
    const char *order[] = {a, b, a, a, b};
    for (int i = 0; i < 5; i++) {
        kf_history_msg_t m = msg(KF_HISTORY_CUSTOMER, "hello", NULL);
        cr_assert_eq(append_sync(h, order[i], &m, 1, 0, &w), KF_HISTORY_OK, "%s", w.error);
    }
    kf_history_msgs_t ms = {0};
    cr_assert_eq(kf_history_fetch(h, a, 1, 10, &ms, err, sizeof err), KF_HISTORY_OK, "%s", err);
    cr_assert_eq(ms.n, 2);
    cr_expect_eq(ms.v[0].seq, 2);
    cr_expect_eq(ms.v[1].seq, 3);
    kf_history_msgs_free(&ms);
    kf_history_destroy(h);

    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT seq FROM messages ORDER BY rowid", -1, &st, NULL), SQLITE_OK);
    const int want[] = {1, 1, 2, 3, 2}; /* a1 b1 a2 a3 b2 */
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
        cr_expect_eq(sqlite3_column_int(st, 0), want[i], "row %d", i);
    }
    cr_expect_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);

    /* the shape of history_sqlite_read.c's fetch: an index range, no sort */
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "EXPLAIN QUERY PLAN SELECT seq, text FROM messages "
                                    "WHERE conv = 1 AND seq > 1 ORDER BY seq LIMIT 10",
                                    -1, &st, NULL),
                 SQLITE_OK);
    char plan[512] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t n = strlen(plan);
        snprintf(plan + n, sizeof plan - n, "%s; ", (const char *)sqlite3_column_text(st, 3));
    }
    sqlite3_finalize(st);
    cr_expect(strstr(plan, "messages_conv_seq"), "plan: %s", plan);
    cr_expect(!strstr(plan, "TEMP B-TREE"), "plan sorts: %s", plan);

    cr_expect_eq(sqlite3_exec(db, "INSERT INTO messages(conv, seq, sender, text, created_at) VALUES (1, 2, 2, 'x', 1)",
                              NULL, NULL, NULL),
                 SQLITE_CONSTRAINT, "a second seq 2 in conversation 1 was not refused");
    sqlite3_close(db);
}

Test(history, refuses_a_database_from_a_newer_kefu) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "CREATE TABLE future(x); PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    kf_history_sqlite_config_t cfg = {.path = path};
    cr_assert_null(kf_history_sqlite_open(&cfg, err, sizeof err));
    cr_assert(strstr(err, "schema version 99"), "%s", err);
    cr_assert(strstr(err, "newer"), "%s", err);
    cr_assert_eq(pragma_int("PRAGMA user_version"), 99); /* untouched */
}

Test(history, refuses_a_file_that_is_not_a_database) {
    FILE *f = fopen(path, "w");
    cr_assert(f);
    for (int i = 0; i < 200; i++) fputs("this is not sqlite at all\n", f);
    fclose(f);
    kf_history_sqlite_config_t cfg = {.path = path};
    cr_assert_null(kf_history_sqlite_open(&cfg, err, sizeof err));
    cr_assert(strstr(err, "history:"), "%s", err);
    cr_assert_null(kf_history_sqlite_open(NULL, err, sizeof err));
    cfg.path = "/nonexistent-dir/x/y.db";
    cr_assert_null(kf_history_sqlite_open(&cfg, err, sizeof err));
}

/* ---- bounds and bad input ---- */

Test(history, full_queue_rejects_at_once_and_recovers) {
    kf_history_sqlite_config_t cfg = {.path = path, .queue_capacity = 4, .busy_timeout_ms = 20000};
    kf_history_t *h = kf_history_sqlite_open(&cfg, err, sizeof err);
    cr_assert(h, "%s", err);
    char id[33];
    create_sync(h, NULL, 0, id);
    /* another connection holds the write lock, so the writer stalls */
    sqlite3 *blocker;
    cr_assert_eq(sqlite3_open(path, &blocker), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    waiter_t w[6];
    kf_history_msg_t m = msg(KF_HISTORY_CUSTOMER, "x", NULL);
    waiter_init(&w[0]);
    cr_assert_eq(kf_history_append(h, id, &m, 1, 0, cb_of(&w[0]), err, sizeof err), KF_HISTORY_OK);
    kf_history_stats_t st;
    for (int i = 0; i < 2000; i++) { /* until the writer has taken it */
        kf_history_stats(h, &st);
        if (!st.queue_depth) break;
        usleep(1000);
    }
    for (int i = 1; i <= 4; i++) {
        waiter_init(&w[i]);
        cr_assert_eq(kf_history_append(h, id, &m, 1, 0, cb_of(&w[i]), err, sizeof err), KF_HISTORY_OK);
    }
    waiter_init(&w[5]);
    cr_assert_eq(kf_history_append(h, id, &m, 1, 0, cb_of(&w[5]), err, sizeof err), KF_HISTORY_FULL);
    cr_assert(strstr(err, "full"), "%s", err);
    kf_history_stats(h, &st);
    cr_assert_eq(st.requests_rejected, 1);
    cr_assert_eq(st.queue_depth, 4);
    sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(blocker);
    for (int i = 0; i <= 4; i++) cr_assert_eq(wait_done(&w[i]), KF_HISTORY_OK, "%d: %s", i, w[i].error);
    int64_t last;
    cr_assert_eq(kf_history_last_seq(h, id, &last, err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(last, 5);
    kf_history_destroy(h);
}

Test(history, bad_input_is_an_error_not_a_crash) {
    kf_history_t *h = open_store(0, 0);
    char id[33];
    create_sync(h, NULL, 0, id);
    waiter_t w;
    kf_history_msg_t ok = msg(KF_HISTORY_CUSTOMER, "x", NULL);
    const char *bad_ids[] = {NULL, "", "abc", "0123456789ABCDEF0123456789abcdef", "0123456789abcdef0123456789abcdef0",
                             "0123456789abcdef0123456789abcde'"};
    kf_history_conv_t c;
    kf_history_msgs_t ms;
    int64_t seq;
    for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++) {
        cr_assert_eq(kf_history_append(h, bad_ids[i], &ok, 1, 0, cb_of(&w), err, sizeof err), KF_HISTORY_INVALID);
        cr_assert_eq(kf_history_close(h, bad_ids[i], KF_HISTORY_CLOSED, 0, NULL, cb_of(&w), err, sizeof err),
                     KF_HISTORY_INVALID);
        cr_assert_eq(kf_history_get(h, bad_ids[i], &c, err, sizeof err), KF_HISTORY_INVALID);
        cr_assert_eq(kf_history_fetch(h, bad_ids[i], 0, 10, &ms, err, sizeof err), KF_HISTORY_INVALID);
        cr_assert_eq(kf_history_last_seq(h, bad_ids[i], &seq, err, sizeof err), KF_HISTORY_INVALID);
        if (bad_ids[i])
            cr_assert_eq(kf_history_create(h, bad_ids[i], NULL, 0, cb_of(&w), NULL, err, sizeof err),
                         KF_HISTORY_INVALID);
    }
    /* well-formed but unknown */
    const char *ghost = "00000000000000000000000000000000";
    cr_assert_eq(append_sync(h, ghost, &ok, 1, 0, &w), KF_HISTORY_NOTFOUND);
    cr_assert_eq(close_sync(h, ghost, KF_HISTORY_CLOSED, 4, NULL, &w), KF_HISTORY_NOTFOUND);
    cr_assert_eq(kf_history_get(h, ghost, &c, err, sizeof err), KF_HISTORY_NOTFOUND);
    cr_assert_eq(kf_history_fetch(h, ghost, 0, 10, &ms, err, sizeof err), KF_HISTORY_NOTFOUND);
    cr_assert_eq(kf_history_last_seq(h, ghost, &seq, err, sizeof err), KF_HISTORY_NOTFOUND);
    /* bad messages and arguments */
    kf_history_msg_t bad[] = {{.sender = 0, .text = "x"}, {.sender = 9, .text = "x"},
                              {.sender = KF_HISTORY_BOT, .text = NULL},
                              {.sender = KF_HISTORY_BOT, .text = "x", .client_msg_id = ""}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(kf_history_append(h, id, &bad[i], 1, 0, cb_of(&w), err, sizeof err), KF_HISTORY_INVALID);
    cr_assert_eq(kf_history_append(h, id, &ok, 0, 0, cb_of(&w), err, sizeof err), KF_HISTORY_INVALID);
    cr_assert_eq(kf_history_append(h, id, NULL, 1, 0, cb_of(&w), err, sizeof err), KF_HISTORY_INVALID);
    cr_assert_eq(kf_history_close(h, id, KF_HISTORY_CLOSED, 6, NULL, cb_of(&w), err, sizeof err), KF_HISTORY_INVALID);
    cr_assert_eq(kf_history_close(h, id, KF_HISTORY_OPEN, 0, NULL, cb_of(&w), err, sizeof err), KF_HISTORY_INVALID);
    cr_assert_eq(kf_history_fetch(h, id, 0, 0, &ms, err, sizeof err), KF_HISTORY_INVALID);
    cr_assert_eq(kf_history_fetch(h, id, -1, 10, &ms, err, sizeof err), KF_HISTORY_INVALID);
    cr_assert_eq(kf_history_find_client_msg(h, id, NULL, &seq, err, sizeof err), KF_HISTORY_INVALID);
    /* a taken id */
    waiter_init(&w);
    cr_assert_eq(kf_history_create(h, id, NULL, 0, cb_of(&w), NULL, err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(wait_done(&w), KF_HISTORY_EXISTS, "%s", w.error);

    /* invalid entities JSON fails alone even when it shares a transaction */
    sqlite3 *blocker;
    cr_assert_eq(sqlite3_open(path, &blocker), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    waiter_t a, b, d;
    waiter_init(&a), waiter_init(&b), waiter_init(&d);
    kf_history_msg_t broken = {.sender = KF_HISTORY_BOT, .text = "y", .intent = "i", .entities_json = "{nope"};
    kf_history_msg_t two[2] = {msg(KF_HISTORY_BOT, "z1", NULL), broken};
    cr_assert_eq(kf_history_append(h, id, &ok, 1, 0, cb_of(&a), err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(kf_history_append(h, id, two, 2, 0, cb_of(&b), err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(kf_history_append(h, id, &ok, 1, 0, cb_of(&d), err, sizeof err), KF_HISTORY_OK);
    usleep(20000);
    sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(blocker);
    cr_assert_eq(wait_done(&a), KF_HISTORY_OK);
    cr_assert_eq(wait_done(&b), KF_HISTORY_INVALID, "%s", b.error);
    cr_assert_eq(wait_done(&d), KF_HISTORY_OK);
    cr_assert_eq(d.acks[0].seq, a.acks[0].seq + 1); /* the failed batch left no gap */
    cr_assert_eq(kf_history_fetch(h, id, 0, 10, &ms, err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(ms.n, 2); /* "z1" went with its batch */
    kf_history_msgs_free(&ms);
    kf_history_destroy(h);
}

/* ---- paging ---- */

Test(history, list_pages_newest_first_with_status_filter) {
    kf_history_t *h = open_store(0, 0);
    char ids[25][33];
    waiter_t w;
    for (int i = 0; i < 25; i++) {
        create_sync(h, NULL, 1700000000000LL + i / 2 * 1000, ids[i]); /* pairs share a start time */
        if (i % 3 == 0) cr_assert_eq(close_sync(h, ids[i], KF_HISTORY_CLOSED, 0, NULL, &w), KF_HISTORY_OK);
    }
    char cursor[KF_HISTORY_CURSOR_MAX] = "", next[KF_HISTORY_CURSOR_MAX];
    int seen = 0, pages = 0;
    int64_t prev = INT64_MAX;
    for (;;) {
        kf_history_list_query_t q = {.status = KF_HISTORY_STATUS_ANY, .cursor = cursor, .limit = 10};
        kf_history_convs_t cs;
        cr_assert_eq(kf_history_list(h, &q, &cs, next, err, sizeof err), KF_HISTORY_OK, "%s", err);
        pages++;
        for (size_t i = 0; i < cs.n; i++) {
            cr_assert(cs.v[i].started_at_ms <= prev);
            prev = cs.v[i].started_at_ms;
            cr_assert_str_eq(cs.v[i].id, ids[24 - seen], "newest first, ties by creation");
            seen++;
        }
        kf_history_convs_free(&cs);
        if (!next[0]) break;
        strcpy(cursor, next);
    }
    cr_assert_eq(seen, 25);
    cr_assert_eq(pages, 3);
    kf_history_list_query_t q = {.status = KF_HISTORY_CLOSED, .limit = 100};
    kf_history_convs_t cs;
    cr_assert_eq(kf_history_list(h, &q, &cs, next, err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(cs.n, 9);
    for (size_t i = 0; i < cs.n; i++) cr_assert_eq(cs.v[i].status, KF_HISTORY_CLOSED);
    cr_assert_eq(next[0], '\0');
    kf_history_convs_free(&cs);
    q = (kf_history_list_query_t){.status = KF_HISTORY_OPEN, .limit = 100};
    cr_assert_eq(kf_history_list(h, &q, &cs, next, err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(cs.n, 16);
    kf_history_convs_free(&cs);
    const char *bad_cursors[] = {"x", "1.", "1.2.3", "1.-5", ".5"};
    for (size_t i = 0; i < 5; i++) {
        q = (kf_history_list_query_t){.cursor = bad_cursors[i], .limit = 5};
        cr_assert_eq(kf_history_list(h, &q, &cs, next, err, sizeof err), KF_HISTORY_INVALID, "%s", bad_cursors[i]);
    }
    q = (kf_history_list_query_t){.limit = 0};
    cr_assert_eq(kf_history_list(h, &q, &cs, next, err, sizeof err), KF_HISTORY_INVALID);
    q = (kf_history_list_query_t){.limit = 5, .status = 7};
    cr_assert_eq(kf_history_list(h, &q, &cs, next, err, sizeof err), KF_HISTORY_INVALID);
    kf_history_destroy(h);
}

/* ---- completions on the caller's loop; metrics ---- */

static pthread_t loop_thread;
static int on_loop_calls;
static void on_loop_done(const kf_history_result_t *r, void *ud) {
    (void)ud;
    cr_assert_eq(r->status, KF_HISTORY_OK);
    cr_assert(pthread_equal(pthread_self(), loop_thread), "completion ran off the caller's loop");
    on_loop_calls++;
}

static kf_loop_t *volatile test_loop; /* h2o evloops are never freed (loop.c): keep it reachable */

Test(history, completions_run_on_the_callers_loop) {
    kf_history_t *h = open_store(0, 0);
    kf_loop_t *l = test_loop = kf_loop_new();
    loop_thread = pthread_self();
    on_loop_calls = 0;
    kf_history_cb_t cb = {.loop = l, .fn = on_loop_done};
    char id[33];
    cr_assert_eq(kf_history_create(h, NULL, NULL, 0, cb, id, err, sizeof err), KF_HISTORY_OK);
    kf_history_msg_t m = msg(KF_HISTORY_CUSTOMER, "x", NULL);
    for (int i = 0; i < 10; i++) cr_assert_eq(kf_history_append(h, id, &m, 1, 0, cb, err, sizeof err), KF_HISTORY_OK);
    uint64_t until = kf_loop_now_ms() + 5000;
    while (on_loop_calls < 11 && kf_loop_now_ms() < until) kf_loop_run_once(l, 10);
    cr_assert_eq(on_loop_calls, 11);
    kf_history_destroy(h);
}

Test(history, metrics_collector_reports_commits_and_batches) {
    cr_assert_eq(kf_metrics_init(1, NULL, 0), 0);
    kf_history_t *h = open_store(0, 0);
    cr_assert_eq(kf_history_register_metrics(h), 0);
    char id[33];
    create_sync(h, NULL, 0, id);
    kf_buf_t out;
    kf_buf_init(&out);
    kf_metrics_render(&out);
    cr_assert(strstr(out.data, "kefu_history_commits_total 1\n"), "%s", out.data);
    cr_assert(strstr(out.data, "kefu_history_batch_size_bucket{le=\"1\"} 1\n"));
    cr_assert(strstr(out.data, "kefu_history_batch_size_count 1\n"));
    cr_assert(strstr(out.data, "kefu_history_requests_total{outcome=\"ok\"} 1\n"));
    cr_assert(strstr(out.data, "kefu_history_queue_capacity 4096\n"));
    kf_buf_free(&out);
    kf_history_destroy(h); /* the process ends with the test; nobody renders again */
}

/* A file written by the previous kefu (schema version 1: senders 1..4, no
 * author column) opens, is migrated to the current version, keeps its
 * messages, and then takes an agent's internal note (sender 5) whose author
 * reads back.  The DDL is version 1's, as history_sqlite_schema.c's
 * migrations[0] wrote it. */
static const char v1_schema[] =
    "CREATE TABLE conversations ("
    "  num INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE CHECK (length(id) = 32),"
    "  profile TEXT CHECK (profile IS NULL OR json_valid(profile)),"
    "  started_at INTEGER NOT NULL,"
    "  ended_at INTEGER,"
    "  status INTEGER NOT NULL DEFAULT 1 CHECK (status BETWEEN 1 AND 3),"
    "  csat INTEGER CHECK (csat IS NULL OR csat BETWEEN 1 AND 5),"
    "  csat_comment TEXT,"
    "  agent_id TEXT,"
    "  last_seq INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX conversations_started ON conversations(started_at);"
    "CREATE INDEX conversations_status_started ON conversations(status, started_at);"
    "CREATE TABLE messages ("
    "  conv INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL CHECK (seq >= 1),"
    "  sender INTEGER NOT NULL CHECK (sender BETWEEN 1 AND 4),"
    "  text TEXT NOT NULL,"
    "  client_msg_id TEXT,"
    "  intent TEXT,"
    "  confidence REAL,"
    "  entities TEXT CHECK (entities IS NULL OR json_valid(entities)),"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (conv, seq)) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX messages_client_msg ON messages(conv, client_msg_id) WHERE client_msg_id IS NOT NULL;";

Test(history, migrates_a_version_1_file_and_takes_notes_with_an_author) {
    const char *id = "0123456789abcdef0123456789abcdef";
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *emsg = NULL;
    int rc = sqlite3_exec(db, v1_schema, NULL, NULL, &emsg);
    cr_assert_eq(rc, SQLITE_OK, "%s", emsg ? emsg : "");
    rc = sqlite3_exec(db,
                      "INSERT INTO conversations(num, id, profile, started_at, last_seq) VALUES "
                      "(1, '0123456789abcdef0123456789abcdef', '{\"user_id\":\"u-old\",\"language\":\"en\"}', 1000, 2);"
                      "INSERT INTO messages(conv, seq, sender, text, client_msg_id, intent, confidence, created_at) VALUES "
                      "(1, 1, 1, 'I lost my card', 'old-1', 'card_lost', 0.9, 1100),"
                      "(1, 2, 4, 'Position in queue: 1', NULL, NULL, NULL, 1200);"
                      "PRAGMA user_version = 1;",
                      NULL, NULL, &emsg);
    cr_assert_eq(rc, SQLITE_OK, "%s", emsg ? emsg : "");
    /* version 1 really refuses a note: the migration is what makes it possible */
    cr_assert_eq(sqlite3_exec(db, "INSERT INTO messages(conv, seq, sender, text, created_at) VALUES (1, 3, 5, 'x', 1)",
                              NULL, NULL, NULL),
                 SQLITE_CONSTRAINT);
    sqlite3_close(db);

    kf_history_t *h = open_store(0, 0);
    cr_assert_eq(pragma_int("PRAGMA user_version"), kf_history_sqlite_schema_version());
    cr_assert_geq(kf_history_sqlite_schema_version(), 2);

    kf_history_conv_t c;
    cr_assert_eq(kf_history_get(h, id, &c, err, sizeof err), KF_HISTORY_OK, "%s", err);
    cr_expect_eq(c.last_seq, 2);
    cr_expect_str_eq(c.user_id, "u-old");
    kf_history_conv_free(&c);
    kf_history_msgs_t ms = {0};
    cr_assert_eq(kf_history_fetch(h, id, 0, 10, &ms, err, sizeof err), KF_HISTORY_OK, "%s", err);
    cr_assert_eq(ms.n, 2);
    cr_expect_eq(ms.v[0].seq, 1);
    cr_expect_eq(ms.v[0].sender, KF_HISTORY_CUSTOMER);
    cr_expect_str_eq(ms.v[0].text, "I lost my card");
    cr_expect_str_eq(ms.v[0].client_msg_id, "old-1");
    cr_expect_str_eq(ms.v[0].intent, "card_lost");
    cr_expect_float_eq(ms.v[0].confidence, 0.9, 1e-9);
    cr_expect_eq(ms.v[0].created_at_ms, 1100);
    cr_expect_null(ms.v[0].author, "old messages have no author");
    cr_expect_eq(ms.v[1].sender, KF_HISTORY_SYSTEM);
    kf_history_msgs_free(&ms);

    /* the old client_msg_id is still unique after the table copy */
    waiter_t w;
    kf_history_msg_t again = msg(KF_HISTORY_CUSTOMER, "I lost my card", "old-1");
    cr_assert_eq(append_sync(h, id, &again, 1, 0, &w), KF_HISTORY_OK, "%s", w.error);
    cr_expect_eq(w.acks[0].state, KF_HISTORY_DUPLICATE);
    cr_expect_eq(w.acks[0].seq, 1);

    /* the new CHECK takes a note and still refuses what no kefu writes */
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_expect_eq(sqlite3_exec(db, "INSERT INTO messages(conv, seq, sender, text, created_at) VALUES (1, 9, 6, 'x', 1)",
                              NULL, NULL, NULL),
                 SQLITE_CONSTRAINT, "sender 6 not refused by the CHECK after the migration");
    cr_expect_eq(sqlite3_exec(db, "INSERT INTO messages(conv, seq, sender, text, created_at) VALUES (1, 2, 2, 'x', 1)",
                              NULL, NULL, NULL),
                 SQLITE_CONSTRAINT, "a second seq 2 not refused after the table copy");
    sqlite3_close(db);

    kf_history_msg_t note = {.sender = KF_HISTORY_NOTE, .text = "VIP, be gentle", .author = "ann"};
    cr_assert_eq(append_sync(h, id, &note, 1, 0, &w), KF_HISTORY_OK, "%s", w.error);
    cr_expect_eq(w.acks[0].seq, 3);
    kf_history_destroy(h);

    /* and it all reads back after a reopen */
    h = open_store(0, 0);
    cr_assert_eq(kf_history_fetch(h, id, 2, 10, &ms, err, sizeof err), KF_HISTORY_OK, "%s", err);
    cr_assert_eq(ms.n, 1);
    cr_expect_eq(ms.v[0].seq, 3);
    cr_expect_eq(ms.v[0].sender, KF_HISTORY_NOTE);
    cr_expect_str_eq(ms.v[0].text, "VIP, be gentle");
    cr_assert_not_null(ms.v[0].author);
    cr_expect_str_eq(ms.v[0].author, "ann");
    kf_history_msgs_free(&ms);
    kf_history_destroy(h);
    cr_expect_eq(pragma_int("PRAGMA user_version"), kf_history_sqlite_schema_version());
}
