/* history_sqlite.c — the embedded HistoryStore on SQLite: opening, and the
 * single writer thread with group commit (reads: history_sqlite_read.c,
 * schema: history_sqlite_schema.c).
 *
 * Writes.  Event-loop threads never touch the disk: a submit copies its
 * arguments into one allocation and queues it (bounded: beyond the bound it
 * says KF_HISTORY_FULL and the caller answers 503).  One writer thread takes
 * everything queued, runs it as ONE transaction — each request inside its own
 * savepoint, so a bad request fails alone — commits, and only then hands each
 * completion back to its caller's loop.  While one commit is being written
 * the next batch accumulates, so under load the cost of a commit is shared by
 * many messages; with little load a request is committed at once (no timer,
 * no added latency).  A single writer also makes seq assignment trivial:
 * the conversation's last seq + 1, which the writer keeps in a cache of its
 * own (history_sqlite_convs.c) instead of a column it would update.
 *
 * Durability.  The rule is that what a client was told survives kill -9 of
 * the process.  In WAL mode a COMMIT has write(2)n its frames into the WAL
 * file before sqlite3_step returns; from then on the data is in the kernel's
 * page cache and a dead process cannot lose it.  synchronous=NORMAL (fsync
 * only at checkpoints) therefore meets the rule at full speed.  Power loss or
 * a kernel crash can still drop the last transactions (never corrupt the
 * file); cfg.sync_full = 1 selects synchronous=FULL, an fsync of the WAL per
 * commit, and group commit is what keeps that affordable.
 *
 * Reads use separate connections (WAL lets them run beside the writer) and
 * see every transaction whose completion has been delivered.
 *
 * Checkpoints (copying the WAL back into the database file) never run inside
 * a commit: a checkpointer thread does them in the background, the writer
 * only finishes the last few frames between two batches, after their replies
 * went out (history_sqlite_ckpt.c). */
#include "store/history_sqlite_int.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loop/loop.h"
#include "obs/log.h"
#include "util/buf.h"

struct kf_history_req {
    kf_history_req_t *next;
    kf_history_sqlite_t *store;
    kf_history_op_t op;
    kf_history_cb_t cb;
    char conv_id[KF_HISTORY_ID_LEN + 1];
    int status;
    char error[160];
    int was_ended;
    /* create */
    const char *profile_json;
    int64_t started_at;
    /* append */
    kf_history_msg_t *msgs;
    kf_history_ack_t *acks;
    size_t n;
    unsigned flags;
    /* close */
    kf_history_status_t end_status;
    int csat;
    const char *comment;
    int64_t ended_at;
    /* assign */
    const char *agent_id;
    /* find */
    const char *client_msg_id;
    int64_t found_seq;
};

enum {
    W_BEGIN, W_COMMIT, W_ROLLBACK, W_SAVE, W_RELEASE, W_UNDO,
    W_CREATE, W_CONV, W_DUP, W_INSERT, W_CLOSE, W_ASSIGN, W__N
};

static const char *const wsql[W__N] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_SAVE] = "SAVEPOINT r",
    [W_RELEASE] = "RELEASE r",
    [W_UNDO] = "ROLLBACK TO r",
    [W_CREATE] = "INSERT INTO conversations(id, profile, started_at, status) VALUES (?1, ?2, ?3, 1)",
    [W_CONV] = "SELECT num, status, (SELECT coalesce(max(seq), 0) FROM messages WHERE conv = conversations.num) "
               "FROM conversations WHERE id = ?1",
    [W_DUP] = "SELECT seq FROM messages WHERE conv = ?1 AND client_msg_id = ?2",
    [W_INSERT] = "INSERT INTO messages(conv, seq, sender, text, client_msg_id, intent, confidence, entities, "
                 "created_at, author) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    /* an ended conversation keeps its end; a CSAT given now is recorded either way */
    [W_CLOSE] = "UPDATE conversations SET "
                "ended_at = CASE WHEN status = 1 THEN ?3 ELSE ended_at END, "
                "status = CASE WHEN status = 1 THEN ?2 ELSE status END, "
                "csat = coalesce(?4, csat), "
                "csat_comment = CASE WHEN ?4 IS NULL THEN csat_comment ELSE ?5 END WHERE num = ?1",
    [W_ASSIGN] = "UPDATE conversations SET agent_id = ?2 WHERE num = ?1",
};

/* ---- connections ---- */

sqlite3 *kf_history_sqlite_connect(const kf_history_sqlite_t *s, int role, char *err, size_t errlen) {
    sqlite3 *db = NULL;
    /* NOMUTEX: a connection is only ever used by one thread at a time */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(s->path, &db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "history: cannot open %s: %s", s->path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, s->cfg.busy_timeout_ms);
    /* No connection checkpoints inside a commit (wal_autocheckpoint=0):
     * that fsyncs the WAL and the database inside the COMMIT crossing the
     * limit, and every reply waiting on that commit waited too (60-70 ms per
     * 64 MiB of WAL here); history_sqlite_ckpt.c checkpoints beside the
     * writer instead.  All connections share one synchronous setting: a
     * checkpoint syncs as the connection running it says.  The writer's
     * 32 MiB cache keeps the pages 1,000 conversations touch. */
    const char *extra = role == KF_HISTORY_CONN_WRITER
                            ? " PRAGMA wal_autocheckpoint=0; PRAGMA cache_size=-32768;"
                        : role == KF_HISTORY_CONN_CHECKPOINTER ? " PRAGMA wal_autocheckpoint=0;"
                                                                : " PRAGMA query_only=1;";
    char sql[256];
    snprintf(sql, sizeof sql, "PRAGMA synchronous=%s; PRAGMA foreign_keys=OFF;%s", s->cfg.sync_full ? "FULL" : "NORMAL",
             extra);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "history: cannot configure %s: %s", s->path, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static int enable_wal(sqlite3 *db, const char *path, char *err, size_t errlen) {
    sqlite3_stmt *st;
    int ok = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            const unsigned char *m = sqlite3_column_text(st, 0);
            ok = m && !strcmp((const char *)m, "wal");
        }
        sqlite3_finalize(st);
    }
    if (!ok) snprintf(err, errlen, "history: cannot use WAL mode on %s: %s", path, sqlite3_errmsg(db));
    return ok ? 0 : -1;
}

/* ---- the writer ---- */

static int step_simple(kf_history_sqlite_t *s, int which) {
    sqlite3_stmt *st = s->wst[which];
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int fail(kf_history_req_t *r, int code, const char *what, sqlite3 *db) {
    if (db) snprintf(r->error, sizeof r->error, "%s: %s", what, sqlite3_errmsg(db));
    else snprintf(r->error, sizeof r->error, "%s", what);
    return code;
}

static int code_of(int rc) { return (rc & 0xff) == SQLITE_CONSTRAINT ? KF_HISTORY_INVALID : KF_HISTORY_ERR; }

/* The conversation's num, last seq and status: from the writer's cache, or
 * read into it. */
static int find_conv(kf_history_sqlite_t *s, kf_history_req_t *r, kf_history_conv_row_t **row) {
    if ((*row = kf_history_conv_cache_find(s->convs, r->conv_id))) return KF_HISTORY_OK;
    sqlite3_stmt *st = s->wst[W_CONV];
    sqlite3_bind_text(st, 1, r->conv_id, KF_HISTORY_ID_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        kf_history_conv_row_t v = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 2), sqlite3_column_int(st, 1)};
        *row = kf_history_conv_cache_put(s->convs, r->conv_id, &v);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return KF_HISTORY_OK;
    if (rc == SQLITE_DONE) return fail(r, KF_HISTORY_NOTFOUND, "no such conversation", NULL);
    return fail(r, KF_HISTORY_ERR, "history lookup failed", s->wdb);
}

static int bind_opt(sqlite3_stmt *st, int i, const char *v) {
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static int run_create(kf_history_sqlite_t *s, kf_history_req_t *r) {
    sqlite3_stmt *st = s->wst[W_CREATE];
    sqlite3_bind_text(st, 1, r->conv_id, KF_HISTORY_ID_LEN, SQLITE_STATIC);
    bind_opt(st, 2, r->profile_json);
    sqlite3_bind_int64(st, 3, r->started_at);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        kf_history_conv_row_t v = {sqlite3_last_insert_rowid(s->wdb), 0, KF_HISTORY_OPEN};
        kf_history_conv_cache_put(s->convs, r->conv_id, &v);
        return KF_HISTORY_OK;
    }
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY ||
        sqlite3_extended_errcode(s->wdb) == SQLITE_CONSTRAINT_UNIQUE)
        return fail(r, KF_HISTORY_EXISTS, "conversation id already exists", NULL);
    return fail(r, code_of(rc), "create failed", s->wdb);
}

/* The seq of the stored message with this client_msg_id: 0 none, -1 error. */
static int64_t stored_seq(kf_history_sqlite_t *s, int64_t num, const char *client_msg_id) {
    sqlite3_stmt *d = s->wst[W_DUP];
    sqlite3_bind_int64(d, 1, num);
    sqlite3_bind_text(d, 2, client_msg_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(d);
    int64_t seq = rc == SQLITE_ROW ? sqlite3_column_int64(d, 0) : rc == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(d);
    return seq;
}

/* Inserts m as seq; the step's result, and *ext its extended code. */
static int insert_msg(kf_history_sqlite_t *s, int64_t num, int64_t seq, const kf_history_msg_t *m, int *ext) {
    sqlite3_stmt *st = s->wst[W_INSERT];
    sqlite3_bind_int64(st, 1, num);
    sqlite3_bind_int64(st, 2, seq);
    sqlite3_bind_int(st, 3, (int)m->sender);
    sqlite3_bind_text(st, 4, m->text, -1, SQLITE_STATIC);
    bind_opt(st, 5, m->client_msg_id);
    bind_opt(st, 6, m->intent);
    if (m->intent) sqlite3_bind_double(st, 7, m->confidence);
    else sqlite3_bind_null(st, 7);
    bind_opt(st, 8, m->entities_json);
    sqlite3_bind_int64(st, 9, m->created_at_ms);
    bind_opt(st, 10, m->author);
    int rc = sqlite3_step(st);
    *ext = sqlite3_extended_errcode(s->wdb);
    sqlite3_reset(st);
    return rc;
}

/* A resent client_msg_id is refused by the unique index (the insert's own
 * seek) and only then looked up, rather than looked up before every insert:
 * a failed INSERT leaves nothing behind (statement rollback). */
static int run_append(kf_history_sqlite_t *s, kf_history_req_t *r) {
    kf_history_conv_row_t *row;
    int rc = find_conv(s, r, &row);
    if (rc != KF_HISTORY_OK) return rc;
    int stopped = 0;
    for (size_t i = 0; i < r->n; i++) {
        const kf_history_msg_t *m = &r->msgs[i];
        if (stopped) {
            r->acks[i] = (kf_history_ack_t){0, KF_HISTORY_SKIPPED};
            continue;
        }
        int ext;
        rc = insert_msg(s, row->num, row->last_seq + 1, m, &ext);
        if (rc == SQLITE_DONE) {
            r->acks[i] = (kf_history_ack_t){++row->last_seq, KF_HISTORY_INSERTED};
            continue;
        }
        int64_t seq = m->client_msg_id && ext == SQLITE_CONSTRAINT_UNIQUE ? stored_seq(s, row->num, m->client_msg_id) : 0;
        if (seq < 0) return fail(r, KF_HISTORY_ERR, "duplicate check failed", s->wdb);
        if (!seq) return fail(r, code_of(rc), "append failed", s->wdb);
        r->acks[i] = (kf_history_ack_t){seq, KF_HISTORY_DUPLICATE};
        if (r->flags & KF_HISTORY_STOP_AT_DUPLICATE) stopped = 1;
    }
    return KF_HISTORY_OK;
}

static int run_update(kf_history_sqlite_t *s, kf_history_req_t *r) {
    kf_history_conv_row_t *row;
    int rc = find_conv(s, r, &row);
    if (rc != KF_HISTORY_OK) return rc;
    int64_t num = row->num;
    /* rare: the next use reads the row again rather than mirror the UPDATE */
    if (r->op == KF_HISTORY_OP_CLOSE) r->was_ended = row->status != KF_HISTORY_OPEN;
    kf_history_conv_cache_forget(s->convs, r->conv_id);
    sqlite3_stmt *st;
    if (r->op == KF_HISTORY_OP_CLOSE) {
        st = s->wst[W_CLOSE];
        sqlite3_bind_int64(st, 1, num);
        sqlite3_bind_int(st, 2, (int)r->end_status);
        sqlite3_bind_int64(st, 3, r->ended_at);
        if (r->csat) sqlite3_bind_int(st, 4, r->csat);
        else sqlite3_bind_null(st, 4);
        bind_opt(st, 5, r->comment);
    } else {
        st = s->wst[W_ASSIGN];
        sqlite3_bind_int64(st, 1, num);
        bind_opt(st, 2, r->agent_id);
    }
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? KF_HISTORY_OK : fail(r, code_of(rc), "update failed", s->wdb);
}

/* A resend check in write order: sees every write queued before it. */
static int run_find(kf_history_sqlite_t *s, kf_history_req_t *r) {
    kf_history_conv_row_t *row;
    int rc = find_conv(s, r, &row);
    if (rc != KF_HISTORY_OK) return rc;
    r->found_seq = stored_seq(s, row->num, r->client_msg_id);
    if (r->found_seq >= 0) return KF_HISTORY_OK;
    r->found_seq = 0;
    return fail(r, KF_HISTORY_ERR, "lookup failed", s->wdb);
}

static int run_one(kf_history_sqlite_t *s, kf_history_req_t *r) {
    switch (r->op) {
    case KF_HISTORY_OP_CREATE: return run_create(s, r);
    case KF_HISTORY_OP_APPEND: return run_append(s, r);
    case KF_HISTORY_OP_FIND: return run_find(s, r);
    default: return run_update(s, r);
    }
}

static void fail_all(kf_history_req_t *batch, const char *what, sqlite3 *db) {
    for (kf_history_req_t *r = batch; r; r = r->next) r->status = fail(r, KF_HISTORY_ERR, what, db);
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs a batch as one transaction; sets each request's status. */
static void run_batch(kf_history_sqlite_t *s, kf_history_req_t *batch, size_t n) {
    double t0 = mono_s();
    if (step_simple(s, W_BEGIN) != SQLITE_OK) {
        fail_all(batch, "history transaction failed", s->wdb);
        return;
    }
    int lost = 0;
    for (kf_history_req_t *r = batch; r; r = r->next) {
        if (lost) {
            r->status = fail(r, KF_HISTORY_ERR, "history transaction aborted", NULL);
            continue;
        }
        /* a savepoint per request only when others share the transaction */
        if (n > 1 && step_simple(s, W_SAVE) != SQLITE_OK) {
            r->status = fail(r, KF_HISTORY_ERR, "history savepoint failed", s->wdb);
        } else {
            r->status = run_one(s, r);
            if (n > 1 && r->status != KF_HISTORY_OK && !sqlite3_get_autocommit(s->wdb)) {
                step_simple(s, W_UNDO);
                kf_history_conv_cache_forget(s->convs, r->conv_id); /* may have counted seqs just undone */
            }
            if (n > 1 && !sqlite3_get_autocommit(s->wdb)) step_simple(s, W_RELEASE);
        }
        /* an I/O error can make SQLite roll the whole transaction back */
        if (sqlite3_get_autocommit(s->wdb)) lost = 1;
    }
    int committed = 0;
    if (lost || (n == 1 && batch->status != KF_HISTORY_OK)) kf_history_conv_cache_clear(s->convs);
    if (lost) {
        fail_all(batch, "history transaction rolled back", s->wdb);
    } else if (n == 1 && batch->status != KF_HISTORY_OK) {
        step_simple(s, W_ROLLBACK);
    } else if (step_simple(s, W_COMMIT) != SQLITE_OK) {
        char why[120];
        snprintf(why, sizeof why, "history commit failed: %s", sqlite3_errmsg(s->wdb));
        if (!sqlite3_get_autocommit(s->wdb)) step_simple(s, W_ROLLBACK);
        kf_history_conv_cache_clear(s->convs);
        fail_all(batch, why, NULL);
    } else {
        committed = 1;
    }
    double dt = mono_s() - t0;
    pthread_mutex_lock(&s->mu);
    s->stats.commit_seconds += dt;
    if (committed) {
        s->stats.commits++;
        s->stats.batched_requests += n;
        if (n > s->stats.max_batch) s->stats.max_batch = n;
        int b = 0;
        while (b < KF_HISTORY_BATCH_BUCKETS - 1 && ((size_t)1 << b) < n) b++;
        s->stats.batch_hist[b]++;
    }
    for (kf_history_req_t *r = batch; r; r = r->next) {
        if (r->op == KF_HISTORY_OP_FIND) continue; /* not a write */
        if (r->status == KF_HISTORY_OK) s->stats.requests_ok++;
        else s->stats.requests_failed++;
        if (r->op != KF_HISTORY_OP_APPEND || r->status != KF_HISTORY_OK) continue;
        for (size_t i = 0; i < r->n; i++) {
            if (r->acks[i].state == KF_HISTORY_INSERTED) s->stats.messages_inserted++;
            else if (r->acks[i].state == KF_HISTORY_DUPLICATE) s->stats.messages_duplicate++;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (!committed && n > 1)
        kf_log(KF_LOG_ERROR, "history write failed", "requests", 'i', (long long)n, "error", 's', batch->error, NULL);
}

/* Runs the completion on the caller's thread, then frees the request. */
static void complete(void *arg) {
    kf_history_req_t *r = arg;
    kf_history_result_t res = {
        .status = r->status,
        .error = r->status == KF_HISTORY_OK ? "" : r->error,
        .op = r->op,
        .conv_id = r->conv_id,
        .acks = r->op == KF_HISTORY_OP_APPEND && r->status == KF_HISTORY_OK ? r->acks : NULL,
        .nacks = r->op == KF_HISTORY_OP_APPEND && r->status == KF_HISTORY_OK ? r->n : 0,
        .was_ended = r->was_ended,
        .found_seq = r->found_seq,
    };
    r->cb.fn(&res, r->cb.ud);
    free(r);
}

/* Runs a loop's completions of one batch, in the batch's order. */
static void complete_chain(void *arg) {
    for (kf_history_req_t *r = arg, *next; r; r = next) {
        next = r->next;
        complete(r);
    }
}

static void post_chain(kf_loop_t *loop, kf_history_req_t *chain) {
    /* a lost completion would hang a client forever: wait out the OOM */
    for (int tries = 0; kf_loop_post(loop, complete_chain, chain) < 0; tries++) {
        if (tries == 0) kf_log(KF_LOG_ERROR, "history: cannot post a completion, retrying", NULL);
        usleep(1000);
    }
}

/* One post per loop and batch, not one per request.  A post to a loop that
 * sleeps wakes it (a pipe write), the woken loop preempts this thread, runs
 * that one completion and sleeps again: per request two context switches and
 * a syscall on each side, and the batch's last reply waited for all of them
 * (perf sched under bench/wsload: the writer and a loop alternating every
 * ~30 us through a whole batch). */
enum { DELIVER_LOOPS = 16 };

static void deliver(kf_history_req_t *batch) {
    struct {
        kf_loop_t *loop;
        kf_history_req_t *head, *tail;
    } to[DELIVER_LOOPS];
    size_t nto = 0;
    while (batch) {
        kf_history_req_t *r = batch;
        batch = r->next;
        r->next = NULL;
        if (!r->cb.fn) {
            free(r);
            continue;
        }
        if (!r->cb.loop) {
            complete(r);
            continue;
        }
        size_t i = 0;
        while (i < nto && to[i].loop != r->cb.loop) i++;
        if (i < nto) {
            to[i].tail->next = r;
            to[i].tail = r;
        } else if (nto < DELIVER_LOOPS) {
            to[nto].loop = r->cb.loop;
            to[nto].head = to[nto].tail = r;
            nto++;
        } else {
            post_chain(r->cb.loop, r); /* more loops than slots: this loop's posts stay in order */
        }
    }
    for (size_t i = 0; i < nto; i++) post_chain(to[i].loop, to[i].head);
}

static void *writer_main(void *arg) {
    kf_history_sqlite_t *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->head && !s->stop) pthread_cond_wait(&s->cv, &s->mu);
        kf_history_req_t *batch = s->head;
        size_t n = s->depth;
        s->head = s->tail = NULL;
        s->depth = 0;
        pthread_mutex_unlock(&s->mu);
        if (!batch) break; /* stopping, and everything queued is done */
        run_batch(s, batch, n);
        deliver(batch);
        /* after the replies: any checkpoint work here delays only the next batch */
        kf_history_sqlite_ckpt_after_batch(s);
    }
    return NULL;
}

/* ---- submitting ---- */

static size_t align_up(size_t n) { return (n + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1); }

/* Copies a string into the request's arena. */
static const char *put(char **arena, const char *v) {
    if (!v) return NULL;
    size_t n = strlen(v) + 1;
    char *p = memcpy(*arena, v, n);
    *arena += n;
    return p;
}

static size_t slen(const char *v) { return v ? strlen(v) + 1 : 0; }

static kf_history_req_t *req_new(kf_history_op_t op, const char *conv_id, kf_history_cb_t cb, size_t nmsgs,
                                 size_t strbytes, char **arena) {
    size_t head = align_up(sizeof(kf_history_req_t));
    size_t msgs = align_up(nmsgs * sizeof(kf_history_msg_t));
    size_t acks = align_up(nmsgs * sizeof(kf_history_ack_t));
    kf_history_req_t *r = malloc(head + msgs + acks + strbytes);
    if (!r) return NULL;
    memset(r, 0, sizeof *r);
    r->op = op;
    r->cb = cb;
    if (conv_id) memcpy(r->conv_id, conv_id, KF_HISTORY_ID_LEN + 1);
    r->msgs = (kf_history_msg_t *)((char *)r + head);
    r->acks = (kf_history_ack_t *)((char *)r + head + msgs);
    r->n = nmsgs;
    *arena = (char *)r + head + msgs + acks;
    return r;
}

static int enqueue(kf_history_sqlite_t *s, kf_history_req_t *r, char *err, size_t errlen) {
    pthread_mutex_lock(&s->mu);
    int rc = KF_HISTORY_OK;
    if (s->stop) {
        rc = KF_HISTORY_SHUTDOWN;
        snprintf(err, errlen, "history store is shutting down");
    } else if (s->depth >= s->cfg.queue_capacity) {
        rc = KF_HISTORY_FULL;
        s->stats.requests_rejected++;
        snprintf(err, errlen, "history write queue full (%zu requests)", s->cfg.queue_capacity);
    } else {
        r->store = s;
        if (s->tail) s->tail->next = r;
        else s->head = r;
        s->tail = r;
        s->depth++;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (rc != KF_HISTORY_OK) free(r);
    return rc;
}

static int bad(char *err, size_t errlen, const char *what) {
    snprintf(err, errlen, "%s", what);
    return KF_HISTORY_INVALID;
}

static int nomem(char *err, size_t errlen) {
    snprintf(err, errlen, "out of memory");
    return KF_HISTORY_NOMEM;
}

static int op_create(kf_history_t *h, const char *id, const kf_history_profile_t *p, int64_t started,
                     kf_history_cb_t cb, char id_out[KF_HISTORY_ID_LEN + 1], char *err, size_t errlen) {
    char gen[KF_HISTORY_ID_LEN + 1];
    if (id && !kf_history_valid_id(id)) return bad(err, errlen, "conversation id must be 32 lowercase hex digits");
    if (!id) {
        if (kf_history_new_id(gen) < 0) return bad(err, errlen, "no randomness for a conversation id");
        id = gen;
    }
    if (p && (p->vip_tier < 0 || p->vip_tier > 1000)) return bad(err, errlen, "vip_tier out of range");
    kf_buf_t js;
    kf_buf_init(&js);
    if (p) {
        const char *keys[] = {"user_id", "name", "language"};
        const char *vals[] = {p->user_id, p->name, p->language};
        kf_buf_printf(&js, "{\"vip_tier\":%d", p->vip_tier);
        for (int i = 0; i < 3; i++) {
            if (!vals[i]) continue;
            kf_buf_printf(&js, ",\"%s\":", keys[i]);
            kf_buf_json_str(&js, vals[i], strlen(vals[i]));
        }
        kf_buf_puts(&js, "}");
        if (js.oom) {
            kf_buf_free(&js);
            return nomem(err, errlen);
        }
    }
    char *arena;
    kf_history_req_t *r = req_new(KF_HISTORY_OP_CREATE, id, cb, 0, p ? js.len + 1 : 0, &arena);
    if (r) {
        r->profile_json = p ? put(&arena, js.data) : NULL;
        r->started_at = started > 0 ? started : kf_history_now_ms();
    }
    kf_buf_free(&js);
    if (!r) return nomem(err, errlen);
    if (id_out) memcpy(id_out, id, KF_HISTORY_ID_LEN + 1);
    return enqueue((kf_history_sqlite_t *)h, r, err, errlen);
}

static int op_append(kf_history_t *h, const char *conv_id, const kf_history_msg_t *msgs, size_t n, unsigned flags,
                     kf_history_cb_t cb, char *err, size_t errlen) {
    if (!kf_history_valid_id(conv_id)) return bad(err, errlen, "conversation id must be 32 lowercase hex digits");
    if (!msgs || n == 0 || n > KF_HISTORY_MAX_BATCH) return bad(err, errlen, "append needs 1..256 messages");
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const kf_history_msg_t *m = &msgs[i];
        if (!kf_history_sender_name(m->sender)) return bad(err, errlen, "unknown sender");
        if (!m->text || strlen(m->text) > KF_HISTORY_MAX_TEXT) return bad(err, errlen, "message text missing or too long");
        if (m->client_msg_id && (!*m->client_msg_id || strlen(m->client_msg_id) > 128))
            return bad(err, errlen, "client_msg_id must be 1..128 bytes");
        bytes += slen(m->text) + slen(m->client_msg_id) + slen(m->intent) + slen(m->entities_json) + slen(m->author);
    }
    char *arena;
    kf_history_req_t *r = req_new(KF_HISTORY_OP_APPEND, conv_id, cb, n, bytes, &arena);
    if (!r) return nomem(err, errlen);
    r->flags = flags;
    int64_t now = kf_history_now_ms();
    for (size_t i = 0; i < n; i++) {
        kf_history_msg_t *d = &r->msgs[i];
        *d = msgs[i];
        d->text = put(&arena, msgs[i].text);
        d->client_msg_id = put(&arena, msgs[i].client_msg_id);
        d->intent = put(&arena, msgs[i].intent);
        d->entities_json = put(&arena, msgs[i].entities_json);
        d->author = put(&arena, msgs[i].author);
        if (d->created_at_ms <= 0) d->created_at_ms = now;
    }
    return enqueue((kf_history_sqlite_t *)h, r, err, errlen);
}

static int op_close(kf_history_t *h, const char *conv_id, kf_history_status_t status, int csat, const char *comment,
                    kf_history_cb_t cb, char *err, size_t errlen) {
    if (!kf_history_valid_id(conv_id)) return bad(err, errlen, "conversation id must be 32 lowercase hex digits");
    if (status != KF_HISTORY_CLOSED && status != KF_HISTORY_EXPIRED) return bad(err, errlen, "status must be closed or expired");
    if (csat < 0 || csat > 5) return bad(err, errlen, "csat must be 1..5 (0 = none)");
    if (comment && strlen(comment) > 4096) return bad(err, errlen, "comment too long");
    char *arena;
    kf_history_req_t *r = req_new(KF_HISTORY_OP_CLOSE, conv_id, cb, 0, slen(comment), &arena);
    if (!r) return nomem(err, errlen);
    r->end_status = status;
    r->csat = csat;
    r->comment = csat ? put(&arena, comment) : NULL;
    r->ended_at = kf_history_now_ms();
    return enqueue((kf_history_sqlite_t *)h, r, err, errlen);
}

static int op_assign(kf_history_t *h, const char *conv_id, const char *agent_id, kf_history_cb_t cb, char *err,
                     size_t errlen) {
    if (!kf_history_valid_id(conv_id)) return bad(err, errlen, "conversation id must be 32 lowercase hex digits");
    if (agent_id && (!*agent_id || strlen(agent_id) > 128)) return bad(err, errlen, "agent id must be 1..128 bytes");
    char *arena;
    kf_history_req_t *r = req_new(KF_HISTORY_OP_ASSIGN, conv_id, cb, 0, slen(agent_id), &arena);
    if (!r) return nomem(err, errlen);
    r->agent_id = put(&arena, agent_id);
    return enqueue((kf_history_sqlite_t *)h, r, err, errlen);
}

static int op_find_async(kf_history_t *h, const char *conv_id, const char *client_msg_id, kf_history_cb_t cb,
                         char *err, size_t errlen) {
    if (!kf_history_valid_id(conv_id)) return bad(err, errlen, "conversation id must be 32 lowercase hex digits");
    if (!client_msg_id || !*client_msg_id || strlen(client_msg_id) > 128)
        return bad(err, errlen, "client_msg_id must be 1..128 bytes");
    char *arena;
    kf_history_req_t *r = req_new(KF_HISTORY_OP_FIND, conv_id, cb, 0, slen(client_msg_id), &arena);
    if (!r) return nomem(err, errlen);
    r->client_msg_id = put(&arena, client_msg_id);
    return enqueue((kf_history_sqlite_t *)h, r, err, errlen);
}

static void op_stats(kf_history_t *h, kf_history_stats_t *out) {
    kf_history_sqlite_t *s = (kf_history_sqlite_t *)h;
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    out->queue_depth = s->depth;
    out->queue_capacity = s->cfg.queue_capacity;
    pthread_mutex_unlock(&s->mu);
}

static void free_store(kf_history_sqlite_t *s) {
    /* the checkpointer's and the readers' connections first, so that the
     * last one to close (the writer's) can checkpoint and remove the WAL */
    kf_history_sqlite_ckpt_stop(s);
    kf_history_sqlite_close_readers(s);
    if (s->wst)
        for (int i = 0; i < W__N; i++) sqlite3_finalize(s->wst[i]);
    free(s->wst);
    kf_history_conv_cache_free(s->convs);
    sqlite3_close(s->wdb);
    kf_history_sqlite_ckpt_close_files(s);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->rmu);
    pthread_cond_destroy(&s->cv);
    free(s->path);
    free(s);
}

static void op_destroy(kf_history_t *h) {
    kf_history_sqlite_t *s = (kf_history_sqlite_t *)h;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    free_store(s);
}

static const kf_history_ops_t ops = {
    op_create, op_append, op_close, op_assign,
    kf_history_sqlite_get, kf_history_sqlite_fetch, kf_history_sqlite_list, kf_history_sqlite_last_seq,
    kf_history_sqlite_find_client_msg, op_find_async, op_stats, op_destroy,
};

kf_history_t *kf_history_sqlite_open(const kf_history_sqlite_config_t *cfg, char *err, size_t errlen) {
    if (!cfg || !cfg->path || !*cfg->path) {
        snprintf(err, errlen, "history: no database path");
        return NULL;
    }
    kf_history_sqlite_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->super.ops = &ops;
    s->cfg = *cfg;
    if (!s->cfg.queue_capacity) s->cfg.queue_capacity = 4096;
    if (s->cfg.busy_timeout_ms <= 0) s->cfg.busy_timeout_ms = 5000;
    s->path = strdup(cfg->path);
    s->cfg.path = s->path;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->rmu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->wst = calloc(W__N, sizeof *s->wst);
    s->convs = kf_history_conv_cache_new(8192); /* 16,384 slots of 40 bytes */
    if (!s->path || !s->wst || !s->convs) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (!(s->wdb = kf_history_sqlite_connect(s, KF_HISTORY_CONN_WRITER, err, errlen))) goto fail;
    if (enable_wal(s->wdb, s->path, err, errlen) < 0) goto fail;
    if (kf_history_sqlite_migrate(s->wdb, err, errlen) < 0) goto fail;
    for (int i = 0; i < W__N; i++) {
        if (sqlite3_prepare_v3(s->wdb, wsql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->wst[i], NULL) != SQLITE_OK) {
            snprintf(err, errlen, "history: cannot prepare a statement: %s", sqlite3_errmsg(s->wdb));
            goto fail;
        }
    }
    if (kf_history_sqlite_ckpt_init(s, err, errlen) < 0) goto fail;
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        snprintf(err, errlen, "history: cannot start the writer thread");
        goto fail;
    }
    return &s->super;
fail:
    free_store(s);
    return NULL;
}
