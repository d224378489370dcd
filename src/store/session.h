/* session.h — the SessionStore interface: the live state of each conversation.
 *
 * A session is what the conversation engine needs between two messages of one
 * conversation: the dialogue engine's state (opaque JSON text), the customer's
 * language and profile, the consecutive-miss counter, the last seq and the
 * last activity time.  It is keyed by the conversation id (32 lowercase hex)
 * and is disposable: it expires after a period of inactivity (TTL) and may be
 * evicted when the store is full; either way the store calls an expiry
 * handler so the engine can end the conversation cleanly (mark it expired in
 * history, tell a connected client).  The durable transcript lives in the
 * HistoryStore (store/history.h), never here.
 *
 * The embedded implementation is in-process (session_mem.c: TTL + LRU, lock
 * striped); a Redis one plugs in behind the same table of functions (like
 * queue/jobq.h and store/history.h).
 *
 * Why two shapes of call.  A Redis store cannot answer without a round trip,
 * and blocking an event loop on it would stall every connection of that loop,
 * so the engine must be written against callbacks.  Making the in-process
 * store pay for that (allocating a request, deferring to the next loop turn)
 * would throw away its speed, and tests and tools want plain calls.  So:
 *   - kf_session_get/put/touch/del are synchronous.  An implementation that
 *     can answer from memory fills them in; one that needs I/O leaves them
 *     NULL and they return KF_SESSION_UNSUPPORTED.
 *   - kf_session_get_async/... (session.c) work with every implementation:
 *     they use the implementation's async op when it has one (Redis: the
 *     completion runs later, on the calling thread's kf_loop) and otherwise
 *     run the synchronous op and call the completion before returning.
 * The engine uses the async calls only; it must therefore not touch anything
 * after the call that its completion may have freed (the completion may
 * already have run).  The contract is the one of store/history.h: a call
 * returning KF_SESSION_OK runs its completion exactly once, with the outcome
 * (OK, NOTFOUND, CONFLICT or ERR); any other return runs it never.
 *
 * Optimistic concurrency.  Every put bumps the session's version; put can be
 * conditional on the version the caller read (compare-and-set), which Redis
 * can enforce with a small script or WATCH/MULTI.  The engine's per-
 * conversation ordering makes conflicts rare on one node; the version check
 * is what keeps two nodes from silently overwriting each other.  Versions
 * start at 1 for each new session (a session deleted and created again
 * starts over; conversation ids are random and not reused).
 *
 * Errors are codes (kf_session_strerror) rather than err buffers: every
 * outcome of these calls is one of a handful of conditions, and the hot path
 * should not format messages.  Async completions carry a text for backend
 * failures (e.g. a Redis error reply). */
#ifndef KF_STORE_SESSION_H
#define KF_STORE_SESSION_H

#include <stddef.h>
#include <stdint.h>

typedef struct kf_loop kf_loop_t;

enum {
    KF_SESSION_OK = 0,
    KF_SESSION_ERR = -1,         /* backend failure (only from stores that do I/O) */
    KF_SESSION_NOMEM = -3,
    KF_SESSION_INVALID = -4,     /* bad id, language too long, text too big */
    KF_SESSION_NOTFOUND = -5,    /* no such session (or it has expired) */
    KF_SESSION_CONFLICT = -6,    /* put: the version is not the expected one */
    KF_SESSION_UNSUPPORTED = -7, /* a synchronous call on a store that has only async ops */
};

#define KF_SESSION_ID_LEN 32
#define KF_SESSION_LANG_MAX 16              /* "en", "zh", "zh-Hant" … plus NUL */
#define KF_SESSION_MAX_TEXT (64u * 1024)    /* state or profile JSON, bytes at most */
#define KF_SESSION_SEEN_WORDS 8             /* seen_ids: 512 bits */

/* put's expect_version: */
#define KF_SESSION_ANY_VERSION UINT64_MAX   /* unconditional: insert or replace */
#define KF_SESSION_NEW 0                    /* insert only: CONFLICT when it exists */
/* any other value n: replace only when the stored version is n (CONFLICT when
 * it differs, NOTFOUND when there is none). */

/* get flags */
enum { KF_SESSION_PEEK = 1 }; /* read without counting as activity (no TTL refresh, no LRU move) */

typedef struct {
    char id[KF_SESSION_ID_LEN + 1];
    const char *state_json;   /* the dialogue engine's state; NULL = none */
    const char *profile_json; /* NULL = none */
    char language[KF_SESSION_LANG_MAX]; /* "" = not known yet */
    int misses;               /* consecutive turns the bot did not understand */
    int64_t last_seq;         /* the conversation's last message seq */
    /* The engine's, kept as is: a Bloom filter of the client_msg_ids the
     * conversation committed during this session's life (engine/
     * conv_pipeline.c).  Fixed size, so the session stays bounded. */
    uint64_t seen_ids[KF_SESSION_SEEN_WORDS];
    int64_t last_active_ms;   /* output: the store's clock at the last put/touch/get (see now_ms) */
    uint64_t version;         /* output: 1 after the first put, +1 per put */
    void *own_;               /* output: storage of the strings above; kf_session_clear frees it */
} kf_session_t;

/* Frees what a get filled in (safe on a zeroed struct; leaves it zeroed).
 * Strings the caller put in state_json/profile_json itself stay the caller's. */
void kf_session_clear(kf_session_t *s);
/* 1 when id is exactly 32 lowercase hex digits. */
int kf_session_valid_id(const char *id);
const char *kf_session_strerror(int code);

/* Why a session ended without being deleted. */
typedef enum { KF_SESSION_EXPIRED = 1, KF_SESSION_EVICTED = 2 } kf_session_end_t;
const char *kf_session_end_name(kf_session_end_t r); /* "expired", "evicted" */

/* Called once per session that expired or was evicted, after it has left the
 * store and with no store lock held, so it may call the store (e.g. look at
 * another session, or put this one back).  It runs on whichever thread
 * noticed: the one calling get/put/sweep (in-process) or the store's loop
 * (Redis).  By the time it runs, a new session with the same id may already
 * exist.  s and its strings are valid only during the call.  Not called for
 * kf_session_del nor at destroy. */
typedef void (*kf_session_expire_fn)(const kf_session_t *s, kf_session_end_t reason, void *ud);

/* ---- async completions ---- */

typedef struct {
    int status;                /* OK, NOTFOUND, CONFLICT, ERR */
    const char *error;         /* text when status is ERR, else "" */
    const kf_session_t *session; /* get with status OK, else NULL; valid only during the call */
    uint64_t version;          /* get/touch: current; put: new on OK, stored on CONFLICT; else 0 */
} kf_session_result_t;

typedef void (*kf_session_cb)(const kf_session_result_t *r, void *ud);

typedef struct {
    size_t count;                /* sessions held (may include expired ones not yet swept) */
    size_t capacity;
    int64_t ttl_ms;
    size_t bytes;                /* state + profile text held */
    uint64_t hits, misses;       /* get found / did not find */
    uint64_t puts, conflicts;    /* successful puts / CAS failures */
    uint64_t expired, evicted;   /* handler calls by reason */
} kf_session_stats_t;

/* ---- the interface ---- */

typedef struct kf_session_store kf_session_store_t;
typedef struct kf_session_ops {
    /* Synchronous ops; NULL in stores that need I/O.  get fills *out (free
     * with kf_session_clear) only on OK.  put copies s's id, texts, language,
     * misses, last_seq and seen_ids; *version_out (may be NULL) gets the new
     * version on OK, the stored one on CONFLICT, else 0. */
    int (*get)(kf_session_store_t *st, const char *id, unsigned flags, kf_session_t *out);
    int (*put)(kf_session_store_t *st, const kf_session_t *s, uint64_t expect_version, uint64_t *version_out);
    int (*touch)(kf_session_store_t *st, const char *id);
    int (*del)(kf_session_store_t *st, const char *id);

    /* Async ops; NULL in stores that have the synchronous ones (session.c adapts). */
    int (*get_async)(kf_session_store_t *st, const char *id, unsigned flags, kf_session_cb cb, void *ud);
    int (*put_async)(kf_session_store_t *st, const kf_session_t *s, uint64_t expect_version, kf_session_cb cb,
                     void *ud);
    int (*touch_async)(kf_session_store_t *st, const char *id, kf_session_cb cb, void *ud);
    int (*del_async)(kf_session_store_t *st, const char *id, kf_session_cb cb, void *ud);

    /* Sessions held; cheap, possibly slightly stale. */
    size_t (*count)(kf_session_store_t *st);
    /* Removes expired sessions, examining at most max_work of them, and calls
     * the expiry handler for each; returns how many were removed.  The owner
     * calls it from a timer (kf_session_sweeper_start).  A Redis store sweeps
     * its own activity index here. */
    size_t (*sweep)(kf_session_store_t *st, size_t max_work);
    void (*stats)(kf_session_store_t *st, kf_session_stats_t *out);
    /* Frees every session without calling the expiry handler. */
    void (*destroy)(kf_session_store_t *st);
} kf_session_ops_t;

struct kf_session_store {
    const kf_session_ops_t *ops;
};

static inline int kf_session_get(kf_session_store_t *st, const char *id, unsigned flags, kf_session_t *out) {
    return st->ops->get ? st->ops->get(st, id, flags, out) : KF_SESSION_UNSUPPORTED;
}
static inline int kf_session_put(kf_session_store_t *st, const kf_session_t *s, uint64_t expect, uint64_t *ver) {
    return st->ops->put ? st->ops->put(st, s, expect, ver) : KF_SESSION_UNSUPPORTED;
}
static inline int kf_session_touch(kf_session_store_t *st, const char *id) {
    return st->ops->touch ? st->ops->touch(st, id) : KF_SESSION_UNSUPPORTED;
}
static inline int kf_session_del(kf_session_store_t *st, const char *id) {
    return st->ops->del ? st->ops->del(st, id) : KF_SESSION_UNSUPPORTED;
}
static inline size_t kf_session_count(kf_session_store_t *st) { return st->ops->count(st); }
static inline size_t kf_session_sweep(kf_session_store_t *st, size_t max_work) {
    return st->ops->sweep(st, max_work);
}
static inline void kf_session_stats(kf_session_store_t *st, kf_session_stats_t *out) { st->ops->stats(st, out); }
static inline void kf_session_destroy(kf_session_store_t *st) {
    if (st) st->ops->destroy(st);
}

/* Async calls for every store (see the top of this file). */
int kf_session_get_async(kf_session_store_t *st, const char *id, unsigned flags, kf_session_cb cb, void *ud);
int kf_session_put_async(kf_session_store_t *st, const kf_session_t *s, uint64_t expect_version, kf_session_cb cb,
                         void *ud);
int kf_session_touch_async(kf_session_store_t *st, const char *id, kf_session_cb cb, void *ud);
int kf_session_del_async(kf_session_store_t *st, const char *id, kf_session_cb cb, void *ud);

/* Sweeps st every interval_ms on loop l, at most max_work sessions a tick;
 * a tick that used its whole budget schedules the next one at once (1 ms) so
 * a backlog drains without one long stall.  Start and stop on l's thread. */
typedef struct kf_session_sweeper kf_session_sweeper_t;
kf_session_sweeper_t *kf_session_sweeper_start(kf_loop_t *l, kf_session_store_t *st, uint64_t interval_ms,
                                               size_t max_work);
void kf_session_sweeper_stop(kf_session_sweeper_t *sw);

/* Adds kefu_sessions (gauge) and kefu_sessions_expired_total{reason} to
 * /metrics.  st must live as long as metrics are rendered. */
int kf_session_register_metrics(kf_session_store_t *st);

/* ---- the in-process implementation ---- */

typedef struct {
    size_t capacity;    /* sessions at most; 0 = 1000 */
    int64_t ttl_ms;     /* idle time before expiry; 0 = 5 minutes */
    unsigned shards;    /* lock stripes; 0 = default; fewer when capacity is small */
    /* The clock; NULL = CLOCK_MONOTONIC_COARSE in ms, so a step of the wall
     * clock neither expires every session nor keeps them forever. */
    int64_t (*now_ms)(void *ud);
    void *clock_ud;
    kf_session_expire_fn on_expire; /* may be NULL */
    void *expire_ud;
} kf_session_mem_config_t;

kf_session_store_t *kf_session_mem_new(const kf_session_mem_config_t *cfg, char *err, size_t errlen);

#endif
