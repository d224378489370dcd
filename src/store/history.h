/* history.h — the HistoryStore interface: every conversation and every word of it.
 *
 * The conversation engine keeps a durable transcript here: conversations
 * (profile, start/end, status, CSAT, assigned agent) and their messages,
 * numbered 1, 2, 3 … per conversation.  The embedded implementation is
 * SQLite (history_sqlite.c); a PostgreSQL one plugs in behind the same table
 * of functions (like queue/jobq.h).
 *
 * Writes are asynchronous: a submit copies its arguments, queues them and
 * returns at once; the completion runs after the data is committed, on the
 * caller's event loop (kf_loop_post) or, with loop == NULL, on the store's
 * writer thread.  That is what the durability rule needs: the engine sends an
 * ack or a reply only from the completion, so whatever a client was told has
 * already been committed.  Contract: a submit returning KF_HISTORY_OK calls
 * the completion exactly once; any other return calls it never (the caller
 * answers at once, e.g. 503 for KF_HISTORY_FULL).  Completions of one
 * submitting thread run in submission order.
 *
 * Reads are synchronous and cheap (indexed, a few microseconds), and see
 * every write whose completion has run.
 *
 * Texts are stored as given: masking card numbers and the like
 * (nlu/mask.h) is the caller's job, so the store never depends upward. */
#ifndef KF_STORE_HISTORY_H
#define KF_STORE_HISTORY_H

#include <stddef.h>
#include <stdint.h>

typedef struct kf_loop kf_loop_t;

enum {
    KF_HISTORY_OK = 0,
    KF_HISTORY_ERR = -1,      /* storage failure (I/O, corrupt file, commit failed) */
    KF_HISTORY_FULL = -2,     /* write queue full: try later (HTTP 503) */
    KF_HISTORY_NOMEM = -3,
    KF_HISTORY_INVALID = -4,  /* bad argument: id format, sender, csat range, JSON … */
    KF_HISTORY_NOTFOUND = -5, /* no such conversation */
    KF_HISTORY_EXISTS = -6,   /* create with an id already taken */
    KF_HISTORY_SHUTDOWN = -7, /* the store is being destroyed */
};

#define KF_HISTORY_ID_LEN 32       /* conversation ids: 32 lowercase hex digits */
#define KF_HISTORY_MAX_BATCH 256   /* messages per append at most */
#define KF_HISTORY_MAX_TEXT (1u << 20)

typedef enum { KF_HISTORY_STATUS_ANY = 0, KF_HISTORY_OPEN = 1, KF_HISTORY_CLOSED = 2, KF_HISTORY_EXPIRED = 3 } kf_history_status_t;
typedef enum { KF_HISTORY_CUSTOMER = 1, KF_HISTORY_BOT = 2, KF_HISTORY_AGENT = 3, KF_HISTORY_SYSTEM = 4,
               KF_HISTORY_NOTE = 5 /* an agent's internal note: never shown to the customer */ } kf_history_sender_t;

/* What a customer told us about themselves; stored as one JSON object. */
typedef struct {
    const char *user_id, *name, *language; /* each may be NULL */
    int vip_tier;                          /* 0 = regular; higher = more important */
} kf_history_profile_t;

typedef struct {
    char id[KF_HISTORY_ID_LEN + 1];
    char *user_id, *name, *language; /* NULL when not given */
    int vip_tier;
    int64_t started_at_ms, ended_at_ms; /* wall-clock ms; ended 0 while open */
    kf_history_status_t status;
    int csat;                           /* 1..5, 0 = not rated */
    char *csat_comment;                 /* may be NULL */
    char *agent_id;                     /* NULL = no agent assigned */
    int64_t last_seq;                   /* 0 = no messages yet */
} kf_history_conv_t;

/* One message.  As input to append, seq is ignored; as output every string
 * belongs to the array it came in. */
typedef struct {
    int64_t seq;
    kf_history_sender_t sender;
    const char *text;           /* required; UTF-8 */
    const char *client_msg_id;  /* may be NULL; unique per conversation */
    const char *intent;         /* may be NULL */
    double confidence;          /* meaningful only with an intent */
    const char *entities_json;  /* may be NULL; must be valid JSON */
    int64_t created_at_ms;      /* 0 on input = now */
    const char *author;         /* may be NULL; the agent id of an agent's message or note */
} kf_history_msg_t;

typedef struct { kf_history_msg_t *v; size_t n; } kf_history_msgs_t;
typedef struct { kf_history_conv_t *v; size_t n; } kf_history_convs_t;

/* ---- completions ---- */

typedef enum {
    KF_HISTORY_OP_CREATE = 1, KF_HISTORY_OP_APPEND, KF_HISTORY_OP_CLOSE, KF_HISTORY_OP_ASSIGN,
    KF_HISTORY_OP_FIND /* find_client_msg_async: a read answered in write order */
} kf_history_op_t;

typedef enum {
    KF_HISTORY_INSERTED = 1,
    KF_HISTORY_DUPLICATE,  /* client_msg_id seen before: seq is the earlier message's */
    KF_HISTORY_SKIPPED,    /* after a duplicate with KF_HISTORY_STOP_AT_DUPLICATE: not stored, seq 0 */
} kf_history_ack_state_t;

typedef struct {
    int64_t seq;
    kf_history_ack_state_t state;
} kf_history_ack_t;

/* Valid only while the completion runs. */
typedef struct {
    int status;            /* KF_HISTORY_OK or a negative code */
    const char *error;     /* human-readable when status != OK, else "" */
    kf_history_op_t op;
    const char *conv_id;
    const kf_history_ack_t *acks; /* append: one per submitted message, in order */
    size_t nacks;
    int was_ended;         /* close: the conversation had ended before (only CSAT changed) */
    int64_t found_seq;     /* find: the message's seq, 0 when none */
} kf_history_result_t;

typedef void (*kf_history_done_fn)(const kf_history_result_t *r, void *ud);

/* Where and what to call when a write is committed (or failed). */
typedef struct {
    kf_loop_t *loop;        /* the caller's loop; NULL = run on the writer thread */
    kf_history_done_fn fn;  /* may be NULL: fire and forget */
    void *ud;
} kf_history_cb_t;

/* Append flag: messages after a duplicate in the same batch are skipped.
 * The engine appends [customer message, bot reply] together; when the
 * customer message turns out to be a resend, its reply already exists. */
enum { KF_HISTORY_STOP_AT_DUPLICATE = 1 };

typedef struct {
    kf_history_status_t status; /* KF_HISTORY_STATUS_ANY or one status */
    const char *cursor;         /* NULL or "" = first page; else next_cursor of the previous page */
    size_t limit;               /* 1..1000 */
} kf_history_list_query_t;

#define KF_HISTORY_CURSOR_MAX 48
enum { KF_HISTORY_BATCH_BUCKETS = 12 }; /* batch sizes <=1,2,4,…,1024, more */

typedef struct {
    uint64_t commits;            /* write transactions committed */
    uint64_t requests_ok, requests_failed, requests_rejected; /* rejected: queue full */
    uint64_t messages_inserted, messages_duplicate;
    uint64_t batched_requests;   /* requests in committed transactions (sum of batch sizes) */
    uint64_t max_batch;          /* most requests in one transaction */
    uint64_t batch_hist[KF_HISTORY_BATCH_BUCKETS]; /* transactions by requests in them (not cumulative) */
    double commit_seconds;       /* total time spent in write transactions */
    size_t queue_depth, queue_capacity;
} kf_history_stats_t;

/* ---- the interface ---- */

typedef struct kf_history kf_history_t;
typedef struct kf_history_ops {
    /* id: NULL = generate one; id_out (may be NULL) gets the id at once, but
     * tell nobody before the completion.  profile may be NULL; started_at 0 = now. */
    int (*create)(kf_history_t *h, const char *id, const kf_history_profile_t *profile, int64_t started_at_ms,
                  kf_history_cb_t cb, char id_out[KF_HISTORY_ID_LEN + 1], char *err, size_t errlen);
    /* Appends msgs[0..n) with consecutive seqs in one atomic step; flags: KF_HISTORY_STOP_AT_DUPLICATE. */
    int (*append)(kf_history_t *h, const char *conv_id, const kf_history_msg_t *msgs, size_t n, unsigned flags,
                  kf_history_cb_t cb, char *err, size_t errlen);
    /* status: CLOSED or EXPIRED.  csat 0 = none, else 1..5; comment may be NULL.
     * Ending an ended conversation keeps its status and end time and only
     * records a CSAT given now (the agent closes, the customer rates later). */
    int (*close)(kf_history_t *h, const char *conv_id, kf_history_status_t status, int csat, const char *comment,
                 kf_history_cb_t cb, char *err, size_t errlen);
    /* agent_id NULL = unassign. */
    int (*assign)(kf_history_t *h, const char *conv_id, const char *agent_id, kf_history_cb_t cb, char *err,
                  size_t errlen);

    /* Reads; out is filled only on KF_HISTORY_OK and freed with the matching _free. */
    int (*get)(kf_history_t *h, const char *conv_id, kf_history_conv_t *out, char *err, size_t errlen);
    /* Messages with seq > after_seq, ascending, at most limit (1..1000). */
    int (*fetch)(kf_history_t *h, const char *conv_id, int64_t after_seq, size_t limit, kf_history_msgs_t *out,
                 char *err, size_t errlen);
    /* Newest first; next_cursor is "" on the last page. */
    int (*list)(kf_history_t *h, const kf_history_list_query_t *q, kf_history_convs_t *out,
                char next_cursor[KF_HISTORY_CURSOR_MAX], char *err, size_t errlen);
    int (*last_seq)(kf_history_t *h, const char *conv_id, int64_t *seq, char *err, size_t errlen);
    /* The seq of the message with this client_msg_id, 0 when none (lets the
     * engine answer a resend without running NLU again). */
    int (*find_client_msg)(kf_history_t *h, const char *conv_id, const char *client_msg_id, int64_t *seq, char *err,
                           size_t errlen);
    /* The same through the write queue: answered after every write submitted
     * before it, on the writer's connection (whose page cache no commit
     * invalidates), and never blocking the caller.  found_seq in the result. */
    int (*find_client_msg_async)(kf_history_t *h, const char *conv_id, const char *client_msg_id, kf_history_cb_t cb,
                                 char *err, size_t errlen);

    void (*stats)(kf_history_t *h, kf_history_stats_t *out);
    /* Commits everything queued, runs (or posts) its completions, then frees. */
    void (*destroy)(kf_history_t *h);
} kf_history_ops_t;

struct kf_history {
    const kf_history_ops_t *ops;
};

static inline int kf_history_create(kf_history_t *h, const char *id, const kf_history_profile_t *p, int64_t started,
                                    kf_history_cb_t cb, char id_out[KF_HISTORY_ID_LEN + 1], char *err, size_t errlen) {
    return h->ops->create(h, id, p, started, cb, id_out, err, errlen);
}
static inline int kf_history_append(kf_history_t *h, const char *conv, const kf_history_msg_t *m, size_t n,
                                    unsigned flags, kf_history_cb_t cb, char *err, size_t errlen) {
    return h->ops->append(h, conv, m, n, flags, cb, err, errlen);
}
static inline int kf_history_close(kf_history_t *h, const char *conv, kf_history_status_t st, int csat,
                                   const char *comment, kf_history_cb_t cb, char *err, size_t errlen) {
    return h->ops->close(h, conv, st, csat, comment, cb, err, errlen);
}
static inline int kf_history_assign(kf_history_t *h, const char *conv, const char *agent, kf_history_cb_t cb,
                                    char *err, size_t errlen) {
    return h->ops->assign(h, conv, agent, cb, err, errlen);
}
static inline int kf_history_get(kf_history_t *h, const char *conv, kf_history_conv_t *out, char *err, size_t errlen) {
    return h->ops->get(h, conv, out, err, errlen);
}
static inline int kf_history_fetch(kf_history_t *h, const char *conv, int64_t after, size_t limit,
                                   kf_history_msgs_t *out, char *err, size_t errlen) {
    return h->ops->fetch(h, conv, after, limit, out, err, errlen);
}
static inline int kf_history_list(kf_history_t *h, const kf_history_list_query_t *q, kf_history_convs_t *out,
                                  char next[KF_HISTORY_CURSOR_MAX], char *err, size_t errlen) {
    return h->ops->list(h, q, out, next, err, errlen);
}
static inline int kf_history_last_seq(kf_history_t *h, const char *conv, int64_t *seq, char *err, size_t errlen) {
    return h->ops->last_seq(h, conv, seq, err, errlen);
}
static inline int kf_history_find_client_msg(kf_history_t *h, const char *conv, const char *cmid, int64_t *seq,
                                             char *err, size_t errlen) {
    return h->ops->find_client_msg(h, conv, cmid, seq, err, errlen);
}
static inline int kf_history_find_client_msg_async(kf_history_t *h, const char *conv, const char *cmid,
                                                   kf_history_cb_t cb, char *err, size_t errlen) {
    return h->ops->find_client_msg_async(h, conv, cmid, cb, err, errlen);
}
static inline void kf_history_stats(kf_history_t *h, kf_history_stats_t *out) { h->ops->stats(h, out); }
static inline void kf_history_destroy(kf_history_t *h) {
    if (h) h->ops->destroy(h);
}

/* ---- shared helpers (history.c), for every implementation and caller ---- */

void kf_history_conv_free(kf_history_conv_t *c);
void kf_history_convs_free(kf_history_convs_t *cs);
void kf_history_msgs_free(kf_history_msgs_t *ms);
/* 1 when s is exactly 32 lowercase hex digits. */
int kf_history_valid_id(const char *s);
/* Fills id with 32 random lowercase hex digits; -1 when no randomness. */
int kf_history_new_id(char id[KF_HISTORY_ID_LEN + 1]);
const char *kf_history_sender_name(kf_history_sender_t s);     /* "customer" … or NULL */
int kf_history_sender_parse(const char *s);                     /* -> sender, or -1 */
const char *kf_history_status_name(kf_history_status_t s);     /* "open" … or NULL */
int kf_history_status_parse(const char *s);                     /* -> status, or -1 */
int64_t kf_history_now_ms(void);                                /* wall clock */
/* Adds kefu_history_* series to /metrics.  h must live as long as metrics are rendered. */
int kf_history_register_metrics(kf_history_t *h);

/* ---- the SQLite implementation ---- */

typedef struct {
    const char *path;       /* database file; created when missing */
    size_t queue_capacity;  /* write requests waiting at most; 0 = 4096 */
    int sync_full;          /* 1 = fsync each commit: survives power loss, not only kill -9 */
    int busy_timeout_ms;    /* waiting for a lock held elsewhere; 0 = 5000 */
} kf_history_sqlite_config_t;

/* Opens (creating or migrating the schema) and starts the writer thread.
 * NULL with a message in err when the file cannot be used, e.g. it was
 * written by a newer kefu. */
kf_history_t *kf_history_sqlite_open(const kf_history_sqlite_config_t *cfg, char *err, size_t errlen);
/* The schema version this build writes (PRAGMA user_version). */
int kf_history_sqlite_schema_version(void);

#endif
