/* history_sqlite_read.c — the SQLite HistoryStore's synchronous reads
 * (get, fetch after seq, list, last seq, client_msg_id lookup).
 *
 * Reads run on the calling thread on a connection of their own: WAL lets
 * them proceed beside the writer, and each statement sees the last committed
 * state.  Connections are kept in a small pool rather than per thread so the
 * store can close them all when destroyed; a read borrows one for the
 * duration of one call (the mutex costs far less than the query), so the
 * pool grows to the number of threads reading at once.  Statements are
 * prepared on first use and kept with their connection. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/history_sqlite_int.h"

/* The last seq is the end of the conversation's range of the messages'
 * (conv, seq) index: one seek (the writer keeps no column of it). */
#define LAST_SEQ "(SELECT coalesce(max(seq), 0) FROM messages WHERE conv = conversations.num)"
#define CONV_COLS                                                                                                 \
    "id, json_extract(profile, '$.user_id'), json_extract(profile, '$.name'), json_extract(profile, '$.language'), " \
    "coalesce(json_extract(profile, '$.vip_tier'), 0), started_at, ended_at, status, csat, csat_comment, agent_id, "  \
    LAST_SEQ ", num"

static const char *const rsql[KF_HSR__N] = {
    [KF_HSR_CONV] = "SELECT " CONV_COLS " FROM conversations WHERE id = ?1",
    [KF_HSR_NUM] = "SELECT num, " LAST_SEQ " FROM conversations WHERE id = ?1",
    [KF_HSR_FETCH] = "SELECT seq, sender, text, client_msg_id, intent, confidence, entities, created_at, author "
                     "FROM messages WHERE conv = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    [KF_HSR_FIND] = "SELECT seq FROM messages WHERE conv = ?1 AND client_msg_id = ?2",
    /* keyset paging on (started_at, num), newest first: no OFFSET scans */
    [KF_HSR_LIST] = "SELECT " CONV_COLS " FROM conversations WHERE started_at <= ?1 AND (started_at < ?1 OR num < ?2) "
                    "ORDER BY started_at DESC, num DESC LIMIT ?3",
    [KF_HSR_LIST_STATUS] = "SELECT " CONV_COLS " FROM conversations WHERE status = ?4 AND started_at <= ?1 "
                           "AND (started_at < ?1 OR num < ?2) ORDER BY started_at DESC, num DESC LIMIT ?3",
};

static kf_history_rconn_t *borrow(kf_history_sqlite_t *s, char *err, size_t errlen) {
    pthread_mutex_lock(&s->rmu);
    kf_history_rconn_t *c = s->idle;
    if (c) s->idle = c->next;
    pthread_mutex_unlock(&s->rmu);
    if (c) return c;
    c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!(c->db = kf_history_sqlite_connect(s, KF_HISTORY_CONN_READER, err, errlen))) {
        free(c);
        return NULL;
    }
    return c;
}

static void give_back(kf_history_sqlite_t *s, kf_history_rconn_t *c) {
    pthread_mutex_lock(&s->rmu);
    c->next = s->idle;
    s->idle = c;
    pthread_mutex_unlock(&s->rmu);
}

void kf_history_sqlite_close_readers(kf_history_sqlite_t *s) {
    while (s->idle) {
        kf_history_rconn_t *c = s->idle;
        s->idle = c->next;
        for (int i = 0; i < KF_HSR__N; i++) sqlite3_finalize(c->st[i]);
        sqlite3_close(c->db);
        free(c);
    }
}

static sqlite3_stmt *stmt(kf_history_rconn_t *c, int which, char *err, size_t errlen) {
    if (!c->st[which] &&
        sqlite3_prepare_v3(c->db, rsql[which], -1, SQLITE_PREPARE_PERSISTENT, &c->st[which], NULL) != SQLITE_OK) {
        snprintf(err, errlen, "history: cannot prepare a read: %s", sqlite3_errmsg(c->db));
        return NULL;
    }
    return c->st[which];
}

static int read_err(kf_history_rconn_t *c, char *err, size_t errlen) {
    snprintf(err, errlen, "history read failed: %s", sqlite3_errmsg(c->db));
    return KF_HISTORY_ERR;
}

static int bad_id(char *err, size_t errlen) {
    snprintf(err, errlen, "conversation id must be 32 lowercase hex digits");
    return KF_HISTORY_INVALID;
}

static int not_found(char *err, size_t errlen) {
    snprintf(err, errlen, "no such conversation");
    return KF_HISTORY_NOTFOUND;
}

static char *col_dup(sqlite3_stmt *st, int i, int *oom) {
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t) return NULL;
    char *d = strdup((const char *)t);
    if (!d) *oom = 1;
    return d;
}

/* Fills c from a row of CONV_COLS; returns the row's num. */
static int64_t read_conv(sqlite3_stmt *st, kf_history_conv_t *c, int *oom) {
    memset(c, 0, sizeof *c);
    const unsigned char *id = sqlite3_column_text(st, 0);
    snprintf(c->id, sizeof c->id, "%s", id ? (const char *)id : "");
    c->user_id = col_dup(st, 1, oom);
    c->name = col_dup(st, 2, oom);
    c->language = col_dup(st, 3, oom);
    c->vip_tier = sqlite3_column_int(st, 4);
    c->started_at_ms = sqlite3_column_int64(st, 5);
    c->ended_at_ms = sqlite3_column_int64(st, 6);
    c->status = (kf_history_status_t)sqlite3_column_int(st, 7);
    c->csat = sqlite3_column_int(st, 8);
    c->csat_comment = col_dup(st, 9, oom);
    c->agent_id = col_dup(st, 10, oom);
    c->last_seq = sqlite3_column_int64(st, 11);
    return sqlite3_column_int64(st, 12);
}

int kf_history_sqlite_get(kf_history_t *h, const char *conv_id, kf_history_conv_t *out, char *err, size_t errlen) {
    if (!kf_history_valid_id(conv_id)) return bad_id(err, errlen);
    kf_history_sqlite_t *s = (kf_history_sqlite_t *)h;
    kf_history_rconn_t *c = borrow(s, err, errlen);
    if (!c) return KF_HISTORY_ERR;
    sqlite3_stmt *st = stmt(c, KF_HSR_CONV, err, errlen);
    int rc = KF_HISTORY_ERR;
    if (st) {
        sqlite3_bind_text(st, 1, conv_id, KF_HISTORY_ID_LEN, SQLITE_STATIC);
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            int oom = 0;
            read_conv(st, out, &oom);
            rc = KF_HISTORY_OK;
            if (oom) {
                kf_history_conv_free(out);
                snprintf(err, errlen, "out of memory");
                rc = KF_HISTORY_NOMEM;
            }
        } else {
            rc = src == SQLITE_DONE ? not_found(err, errlen) : read_err(c, err, errlen);
        }
        sqlite3_reset(st);
    }
    give_back(s, c);
    return rc;
}

/* The conversation's num and last seq; KF_HISTORY_NOTFOUND when unknown. */
static int conv_num(kf_history_rconn_t *c, const char *conv_id, int64_t *num, int64_t *last, char *err, size_t errlen) {
    sqlite3_stmt *st = stmt(c, KF_HSR_NUM, err, errlen);
    if (!st) return KF_HISTORY_ERR;
    sqlite3_bind_text(st, 1, conv_id, KF_HISTORY_ID_LEN, SQLITE_STATIC);
    int src = sqlite3_step(st), rc;
    if (src == SQLITE_ROW) {
        *num = sqlite3_column_int64(st, 0);
        *last = sqlite3_column_int64(st, 1);
        rc = KF_HISTORY_OK;
    } else {
        rc = src == SQLITE_DONE ? not_found(err, errlen) : read_err(c, err, errlen);
    }
    sqlite3_reset(st);
    return rc;
}

int kf_history_sqlite_last_seq(kf_history_t *h, const char *conv_id, int64_t *seq, char *err, size_t errlen) {
    if (!kf_history_valid_id(conv_id)) return bad_id(err, errlen);
    kf_history_sqlite_t *s = (kf_history_sqlite_t *)h;
    kf_history_rconn_t *c = borrow(s, err, errlen);
    if (!c) return KF_HISTORY_ERR;
    int64_t num;
    int rc = conv_num(c, conv_id, &num, seq, err, errlen);
    give_back(s, c);
    return rc;
}

int kf_history_sqlite_find_client_msg(kf_history_t *h, const char *conv_id, const char *client_msg_id, int64_t *seq,
                                      char *err, size_t errlen) {
    if (!kf_history_valid_id(conv_id)) return bad_id(err, errlen);
    if (!client_msg_id) {
        snprintf(err, errlen, "client_msg_id missing");
        return KF_HISTORY_INVALID;
    }
    kf_history_sqlite_t *s = (kf_history_sqlite_t *)h;
    kf_history_rconn_t *c = borrow(s, err, errlen);
    if (!c) return KF_HISTORY_ERR;
    int64_t num, last;
    int rc = conv_num(c, conv_id, &num, &last, err, errlen);
    sqlite3_stmt *st = rc == KF_HISTORY_OK ? stmt(c, KF_HSR_FIND, err, errlen) : NULL;
    if (rc == KF_HISTORY_OK && !st) rc = KF_HISTORY_ERR;
    if (st) {
        sqlite3_bind_int64(st, 1, num);
        sqlite3_bind_text(st, 2, client_msg_id, -1, SQLITE_STATIC);
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW) *seq = sqlite3_column_int64(st, 0);
        else if (src == SQLITE_DONE) *seq = 0;
        else rc = read_err(c, err, errlen);
        sqlite3_reset(st);
    }
    give_back(s, c);
    return rc;
}

int kf_history_sqlite_fetch(kf_history_t *h, const char *conv_id, int64_t after_seq, size_t limit,
                            kf_history_msgs_t *out, char *err, size_t errlen) {
    if (!kf_history_valid_id(conv_id)) return bad_id(err, errlen);
    if (limit < 1 || limit > 1000 || after_seq < 0) {
        snprintf(err, errlen, "limit must be 1..1000 and after_seq >= 0");
        return KF_HISTORY_INVALID;
    }
    kf_history_sqlite_t *s = (kf_history_sqlite_t *)h;
    kf_history_rconn_t *c = borrow(s, err, errlen);
    if (!c) return KF_HISTORY_ERR;
    int64_t num, last;
    int rc = conv_num(c, conv_id, &num, &last, err, errlen);
    kf_history_msgs_t ms = {0};
    /* last_seq bounds the result, so the array is sized once */
    size_t want = rc == KF_HISTORY_OK && last > after_seq ? (size_t)(last - after_seq) : 0;
    if (want > limit) want = limit;
    sqlite3_stmt *st = NULL;
    if (rc == KF_HISTORY_OK && want) {
        st = stmt(c, KF_HSR_FETCH, err, errlen);
        ms.v = calloc(want, sizeof *ms.v);
        if (!st) rc = KF_HISTORY_ERR;
        else if (!ms.v) rc = KF_HISTORY_NOMEM, snprintf(err, errlen, "out of memory");
    }
    if (rc == KF_HISTORY_OK && want) {
        sqlite3_bind_int64(st, 1, num);
        sqlite3_bind_int64(st, 2, after_seq);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)want);
        int src = SQLITE_DONE, oom = 0;
        while (ms.n < want && (src = sqlite3_step(st)) == SQLITE_ROW) {
            kf_history_msg_t *m = &ms.v[ms.n++];
            m->seq = sqlite3_column_int64(st, 0);
            m->sender = (kf_history_sender_t)sqlite3_column_int(st, 1);
            m->text = col_dup(st, 2, &oom);
            if (!m->text && !oom) m->text = strdup(""), oom = !m->text;
            m->client_msg_id = col_dup(st, 3, &oom);
            m->intent = col_dup(st, 4, &oom);
            m->confidence = sqlite3_column_double(st, 5);
            m->entities_json = col_dup(st, 6, &oom);
            m->created_at_ms = sqlite3_column_int64(st, 7);
            m->author = col_dup(st, 8, &oom);
        }
        if (ms.n < want && src != SQLITE_DONE) rc = read_err(c, err, errlen);
        if (oom) rc = KF_HISTORY_NOMEM, snprintf(err, errlen, "out of memory");
        sqlite3_reset(st);
    }
    give_back(s, c);
    if (rc != KF_HISTORY_OK) kf_history_msgs_free(&ms);
    else *out = ms;
    if (rc == KF_HISTORY_OK && !ms.n) free(ms.v), out->v = NULL;
    return rc;
}

int kf_history_sqlite_list(kf_history_t *h, const kf_history_list_query_t *q, kf_history_convs_t *out,
                           char next_cursor[KF_HISTORY_CURSOR_MAX], char *err, size_t errlen) {
    if (!q || q->limit < 1 || q->limit > 1000 || (int)q->status < 0 || (int)q->status > 3) {
        snprintf(err, errlen, "limit must be 1..1000 and status any, open, closed or expired");
        return KF_HISTORY_INVALID;
    }
    int64_t at = INT64_MAX, num = INT64_MAX;
    if (q->cursor && *q->cursor) {
        int used = 0;
        if (sscanf(q->cursor, "%" SCNd64 ".%" SCNd64 "%n", &at, &num, &used) != 2 || q->cursor[used] || num < 0) {
            snprintf(err, errlen, "bad cursor");
            return KF_HISTORY_INVALID;
        }
    }
    kf_history_sqlite_t *s = (kf_history_sqlite_t *)h;
    kf_history_rconn_t *c = borrow(s, err, errlen);
    if (!c) return KF_HISTORY_ERR;
    int which = q->status == KF_HISTORY_STATUS_ANY ? KF_HSR_LIST : KF_HSR_LIST_STATUS;
    sqlite3_stmt *st = stmt(c, which, err, errlen);
    kf_history_convs_t cs = {0};
    int rc = KF_HISTORY_OK;
    if (!st) rc = KF_HISTORY_ERR;
    else if (!(cs.v = calloc(q->limit, sizeof *cs.v))) rc = KF_HISTORY_NOMEM, snprintf(err, errlen, "out of memory");
    int64_t last_num = 0;
    if (rc == KF_HISTORY_OK) {
        sqlite3_bind_int64(st, 1, at);
        sqlite3_bind_int64(st, 2, num);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)q->limit);
        if (which == KF_HSR_LIST_STATUS) sqlite3_bind_int(st, 4, (int)q->status);
        int src = SQLITE_DONE, oom = 0;
        while (cs.n < q->limit && (src = sqlite3_step(st)) == SQLITE_ROW) last_num = read_conv(st, &cs.v[cs.n++], &oom);
        if (cs.n < q->limit && src != SQLITE_DONE) rc = read_err(c, err, errlen);
        if (oom) rc = KF_HISTORY_NOMEM, snprintf(err, errlen, "out of memory");
        sqlite3_reset(st);
    }
    give_back(s, c);
    if (rc != KF_HISTORY_OK) {
        kf_history_convs_free(&cs);
        return rc;
    }
    /* a full page may have more after it; the next call says so with an empty page */
    next_cursor[0] = '\0';
    if (cs.n == q->limit)
        snprintf(next_cursor, KF_HISTORY_CURSOR_MAX, "%" PRId64 ".%" PRId64, cs.v[cs.n - 1].started_at_ms, last_num);
    *out = cs;
    return KF_HISTORY_OK;
}
