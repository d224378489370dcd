/* history_sqlite_int.h — what the SQLite HistoryStore's files share
 * (history_sqlite.c: opening and the writer; history_sqlite_read.c: the
 * read connections; history_sqlite_schema.c: migrations).  Not for callers. */
#ifndef KF_STORE_HISTORY_SQLITE_INT_H
#define KF_STORE_HISTORY_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "store/history.h"

/* Read statements, prepared once per connection on first use. */
enum { KF_HSR_CONV, KF_HSR_NUM, KF_HSR_FETCH, KF_HSR_FIND, KF_HSR_LIST, KF_HSR_LIST_STATUS, KF_HSR__N };

typedef struct kf_history_rconn {
    sqlite3 *db;
    sqlite3_stmt *st[KF_HSR__N];
    struct kf_history_rconn *next;
} kf_history_rconn_t;

typedef struct kf_history_req kf_history_req_t;

typedef struct {
    kf_history_t super;
    kf_history_sqlite_config_t cfg;
    char *path;
    sqlite3 *wdb;                /* the writer thread's own connection */
    sqlite3_stmt **wst;
    pthread_t writer;
    pthread_mutex_t mu;          /* queue, stop flag and stats */
    pthread_cond_t cv;
    kf_history_req_t *head, *tail;
    size_t depth;
    int stop;
    kf_history_stats_t stats;
    pthread_mutex_t rmu;         /* idle read connections */
    kf_history_rconn_t *idle;
} kf_history_sqlite_t;

/* Opens a connection with the pragmas every connection needs. */
sqlite3 *kf_history_sqlite_connect(const kf_history_sqlite_t *s, int writer, char *err, size_t errlen);
/* Brings the schema up to date inside one transaction; refuses a newer file. */
int kf_history_sqlite_migrate(sqlite3 *db, char *err, size_t errlen);

/* The read half of the ops table (history_sqlite_read.c). */
int kf_history_sqlite_get(kf_history_t *h, const char *conv_id, kf_history_conv_t *out, char *err, size_t errlen);
int kf_history_sqlite_fetch(kf_history_t *h, const char *conv_id, int64_t after_seq, size_t limit,
                            kf_history_msgs_t *out, char *err, size_t errlen);
int kf_history_sqlite_list(kf_history_t *h, const kf_history_list_query_t *q, kf_history_convs_t *out,
                           char next_cursor[KF_HISTORY_CURSOR_MAX], char *err, size_t errlen);
int kf_history_sqlite_last_seq(kf_history_t *h, const char *conv_id, int64_t *seq, char *err, size_t errlen);
int kf_history_sqlite_find_client_msg(kf_history_t *h, const char *conv_id, const char *client_msg_id, int64_t *seq,
                                      char *err, size_t errlen);
void kf_history_sqlite_close_readers(kf_history_sqlite_t *s);

#endif
