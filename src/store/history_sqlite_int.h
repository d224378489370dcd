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

/* What the checkpointer has done (history_sqlite_ckpt.c); for tests and logs. */
typedef struct {
    unsigned long long passes;            /* background PASSIVE checkpoints */
    unsigned long long frames_backfilled; /* WAL frames those passes copied into the database */
    double pass_seconds;
    unsigned long long finishes;          /* the writer's short RESTART over the remainder, between batches */
    double finish_seconds, finish_max_seconds;
    unsigned finish_max_frames;           /* the most frames one finish had left to copy */
    unsigned long long fallbacks;         /* the writer's RESTART at the hard cap */
    double fallback_seconds;
    unsigned long long restarts;          /* times the WAL started again from its first frame */
    unsigned long long errors;            /* checkpoints that failed (tried again later) */
    unsigned long long frames_written;    /* WAL frames all commits wrote */
    unsigned long long flushes;           /* write-backs of the WAL started as it grew */
    unsigned long long frames_flushed;    /* WAL frames they covered */
    unsigned long long db_writebacks;     /* passes that started the write-back of the pages they copied */
    unsigned max_frames;                  /* largest WAL after a commit, in frames */
} kf_history_ckpt_stats_t;

/* Checkpointing state (history_sqlite_ckpt.c); sizes in WAL frames (one per
 * page written, 4 KiB). */
typedef struct {
    unsigned chunk, soft, residual, hard; /* see history_sqlite_ckpt.c */
    /* writer thread only */
    unsigned hook_frames;          /* the WAL's size after the last commit (sqlite3_wal_hook) */
    unsigned frames;               /* hook_frames as of the previous batch */
    unsigned long gen;             /* WAL restarts the writer has seen */
    unsigned fallback_at;          /* after a RESTART that timed out: the next try (0: hard) */
    int restart_next;              /* a RESTART succeeded: the next commit starts the WAL again */
    /* under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int inited, started, stop;
    int kick;                      /* the writer asks for a pass */
    int in_pass;                   /* a pass is running */
    int hold;                      /* the writer's RESTART runs: start no pass */
    unsigned long pass_gen;        /* gen the last finished pass measured */
    unsigned backfilled;           /* frames of WAL generation pass_gen copied so far */
    unsigned passes_this_gen;      /* passes since the WAL last started, or since a finish */
    unsigned long kick_gen;        /* gen when the writer asked for the pass */
    unsigned kick_left;            /* frames left to copy then */
    unsigned long soft_gen;        /* the generation whose WAL last reached soft */
    unsigned flush_step;           /* start writing the WAL back every this many new frames (0: never) */
    unsigned flush_to;             /* the WAL's size after the last commit */
    unsigned long flush_gen;       /* its generation */
    unsigned flushed;              /* frames of generation flushed_gen whose write-back started */
    unsigned long flushed_gen;
    int wal_fd;                    /* our descriptor of the WAL file, for sync_file_range; -1 none yet */
    int db_fd, db_open;            /* and of the database: open until every connection is closed */
    int db_sync_only;              /* no sync_file_range on the database here: fdatasync after passes */
    unsigned frame_bytes;          /* WAL frame size: 24-byte header + page */
    sqlite3 *db;                   /* the checkpointer thread's own connection */
    kf_history_ckpt_stats_t stats;
} kf_history_ckpt_t;

/* The writer's cache of conversation rows (history_sqlite_convs.c). */
typedef struct {
    int64_t num;      /* conversations.num */
    int64_t last_seq; /* the last seq appended, 0 = none */
    int status;       /* kf_history_status_t */
} kf_history_conv_row_t;
typedef struct kf_history_conv_cache kf_history_conv_cache_t;
kf_history_conv_cache_t *kf_history_conv_cache_new(size_t capacity);
void kf_history_conv_cache_free(kf_history_conv_cache_t *c);
/* id: 32 lowercase hex digits.  find: NULL when absent.  put: inserts or
 * replaces (a full cache is emptied first) and returns the cached row;
 * row->num must not be 0 (SQLite's rowids start at 1). */
kf_history_conv_row_t *kf_history_conv_cache_find(kf_history_conv_cache_t *c, const char *id);
kf_history_conv_row_t *kf_history_conv_cache_put(kf_history_conv_cache_t *c, const char *id,
                                                 const kf_history_conv_row_t *row);
void kf_history_conv_cache_forget(kf_history_conv_cache_t *c, const char *id);
void kf_history_conv_cache_clear(kf_history_conv_cache_t *c);

typedef struct {
    kf_history_t super;
    kf_history_sqlite_config_t cfg;
    char *path;
    sqlite3 *wdb;                /* the writer thread's own connection */
    sqlite3_stmt **wst;
    kf_history_conv_cache_t *convs; /* writer thread only */
    pthread_t writer;
    pthread_mutex_t mu;          /* queue, stop flag and stats */
    pthread_cond_t cv;
    kf_history_req_t *head, *tail;
    size_t depth;
    int stop;
    kf_history_stats_t stats;
    pthread_mutex_t rmu;         /* idle read connections */
    kf_history_rconn_t *idle;
    kf_history_ckpt_t ck;        /* WAL checkpoints off the commit path */
} kf_history_sqlite_t;

/* Connection roles for kf_history_sqlite_connect. */
enum { KF_HISTORY_CONN_READER = 0, KF_HISTORY_CONN_WRITER = 1, KF_HISTORY_CONN_CHECKPOINTER = 2 };
/* Opens a connection with the pragmas every connection needs; role: KF_HISTORY_CONN_*. */
sqlite3 *kf_history_sqlite_connect(const kf_history_sqlite_t *s, int role, char *err, size_t errlen);

/* The checkpointer (history_sqlite_ckpt.c).  init: before the writer starts
 * (installs the WAL hook on s->wdb, opens the checkpointer's connection and
 * starts its thread); after_batch: on the writer thread after each batch's
 * completions went out; stop: after the writer thread has ended. */
int kf_history_sqlite_ckpt_init(kf_history_sqlite_t *s, char *err, size_t errlen);
void kf_history_sqlite_ckpt_after_batch(kf_history_sqlite_t *s);
void kf_history_sqlite_ckpt_stop(kf_history_sqlite_t *s);
/* After the last connection closed: the descriptors the checkpointer kept. */
void kf_history_sqlite_ckpt_close_files(kf_history_sqlite_t *s);
/* For tests: the thresholds in frames (0 keeps one); call right after
 * kf_history_sqlite_open, before any write. */
void kf_history_sqlite_set_wal_limits(kf_history_t *h, unsigned soft, unsigned residual, unsigned hard);
void kf_history_sqlite_ckpt_stats(kf_history_t *h, kf_history_ckpt_stats_t *out);
/* Frames between two WAL write-backs (0: none; default CKPT_FLUSH). */
void kf_history_sqlite_set_wal_flush(kf_history_t *h, unsigned frames);
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
