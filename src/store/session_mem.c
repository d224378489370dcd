/* session_mem.c — the in-process SessionStore (see session.h): TTL + LRU.
 *
 * Sessions are spread over lock stripes ("shards") by a hash of the id.  Each
 * shard has its own mutex, hash table (chained, fixed size: the shard never
 * holds more than its share of the capacity) and one intrusive doubly-linked
 * list ordered by last activity.  Because every session has the same TTL and
 * every use moves a session to the new end, that one list is both the LRU
 * order (evict from the old end when full) and the expiry order (the oldest
 * entry is always the first to expire), so get/put/touch/del are O(1) and a
 * sweep only ever looks at the old ends.
 *
 * Expired sessions leave lazily, when an access finds them, and through
 * kf_session_sweep, which the owner calls from a timer with a work budget.
 *
 * Why shards: the server runs one event loop per core and different
 * conversations on different threads; with one mutex every session access
 * of every loop would contend on one cache line.  LRU is per shard, so
 * eviction is approximately (not exactly) global LRU.  The capacity is the
 * store's, not a shard's: one atomic count of all sessions decides when an
 * insert must evict (the oldest of its own shard).  A per-shard share would
 * fill its fullest shard first: with 16 shards and the default 1,000, live
 * conversations were evicted (ended) from about 850 on.  The count passes
 * the capacity only when an insert into an empty shard of a full store has
 * nothing of its own to evict (by one per such shard).  One shard gives
 * exact LRU (the tests use it).
 * Measured on the 2-core dev box with 2 threads (medians, noisy): touch 26 M
 * ops/s with one mutex vs 33 M with 16 shards, get 8.9 vs 11.0 M; with one
 * thread the two are equal, so striping costs nothing and the default is 16.
 *
 * The expiry handler never runs under a shard lock: removed sessions are
 * collected on a local list while the lock is held and handed to the handler
 * after it is released, so the handler may call the store freely.  Memory is
 * likewise allocated and freed outside the lock where the operation allows. */
#include "store/session.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_CAPACITY 1000
#define DEFAULT_TTL_MS (5 * 60 * 1000)
#define DEFAULT_SHARDS 16
#define MAX_SHARDS 1024
#define MIN_PER_SHARD 16          /* below this, fewer shards: LRU would get too coarse */
#define MAX_CAPACITY (1u << 28)
#define PUT_EXTRA_EXPIRE 2        /* expired old-end entries an insert removes in passing */

typedef struct entry {
    struct entry *hnext;          /* hash chain; after removal: the victim list */
    struct entry *newer, *older;  /* activity list */
    uint64_t hash;
    int64_t last_active_ms;
    uint64_t version;
    int64_t last_seq;
    uint64_t seen_ids[KF_SESSION_SEEN_WORDS];
    int misses;
    unsigned char has_state, has_profile, reason;
    uint32_t state_len, profile_len;
    char *blob;                   /* state NUL profile NUL; NULL when neither */
    char id[KF_SESSION_ID_LEN + 1];
    char language[KF_SESSION_LANG_MAX];
} entry_t;

typedef struct {
    _Alignas(64) pthread_mutex_t mu; /* one cache line per shard start: no false sharing between stripes */
    entry_t **buckets;
    size_t mask;
    entry_t *newest, *oldest;
    size_t count, bytes;
    uint64_t hits, misses, puts, conflicts, expired, evicted;
    atomic_size_t *total; /* the store's count of sessions (mem_t.total) */
} shard_t;

typedef struct {
    kf_session_store_t super;
    kf_session_mem_config_t cfg;
    shard_t *shards;
    unsigned nshards;
    _Atomic unsigned sweep_cursor;
    atomic_size_t total;
} mem_t;

/* The coarse clock (a few ms resolution) costs a fraction of the precise
 * one, and a TTL of minutes needs no better. */
static int64_t monotonic_ms(void *ud) {
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Ids are usually random hex, but tests and tools use patterned ones, so the
 * 32 bytes are mixed properly rather than parsed. */
static uint64_t hash_id(const char *id) {
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < KF_SESSION_ID_LEN; i += 8) {
        uint64_t w;
        memcpy(&w, id + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 32;
    return h;
}

static shard_t *shard_of(mem_t *m, uint64_t h) { return &m->shards[(h >> 40) % m->nshards]; }

static int64_t now_ms(mem_t *m) { return m->cfg.now_ms(m->cfg.clock_ud); }

static int is_expired(const mem_t *m, const entry_t *e, int64_t now) {
    return now - e->last_active_ms >= m->cfg.ttl_ms;
}

/* ---- shard internals (lock held) ---- */

static entry_t **find(shard_t *sh, const char *id, uint64_t h) {
    entry_t **p = &sh->buckets[h & sh->mask];
    while (*p && ((*p)->hash != h || memcmp((*p)->id, id, KF_SESSION_ID_LEN) != 0)) p = &(*p)->hnext;
    return p;
}

static void list_unlink(shard_t *sh, entry_t *e) {
    if (e->older) e->older->newer = e->newer; else sh->oldest = e->newer;
    if (e->newer) e->newer->older = e->older; else sh->newest = e->older;
    e->newer = e->older = NULL;
}

static void list_push_newest(shard_t *sh, entry_t *e) {
    e->older = sh->newest;
    e->newer = NULL;
    if (sh->newest) sh->newest->newer = e; else sh->oldest = e;
    sh->newest = e;
}

/* Activity times never run backwards along the list, even if the clock does
 * or two threads read it in the other order: the list stays the expiry order. */
static void mark_active(shard_t *sh, entry_t *e, int64_t now) {
    if (sh->newest && sh->newest != e && now < sh->newest->last_active_ms) now = sh->newest->last_active_ms;
    e->last_active_ms = now;
    if (sh->newest != e) {
        list_unlink(sh, e);
        list_push_newest(sh, e);
    }
}

static size_t entry_bytes(const entry_t *e) { return (size_t)e->state_len + e->profile_len; }

/* Unlinks e (whose hash slot is *slot) and, with a reason, puts it on the
 * victim list for the handler; reason 0 = a delete (no handler). */
static void take_out(shard_t *sh, entry_t **slot, entry_t *e, int reason, entry_t **victims) {
    *slot = e->hnext;
    list_unlink(sh, e);
    sh->count--;
    atomic_fetch_sub_explicit(sh->total, 1, memory_order_relaxed);
    sh->bytes -= entry_bytes(e);
    e->reason = (unsigned char)reason;
    if (reason == KF_SESSION_EXPIRED) sh->expired++;
    else if (reason == KF_SESSION_EVICTED) sh->evicted++;
    e->hnext = *victims;
    *victims = e;
}

static void take_oldest(shard_t *sh, int reason, entry_t **victims) {
    entry_t *e = sh->oldest;
    take_out(sh, find(sh, e->id, e->hash), e, reason, victims);
}

/* ---- outside the lock ---- */

static void view(const entry_t *e, kf_session_t *v, const char *blob) {
    memcpy(v->id, e->id, sizeof v->id);
    memcpy(v->language, e->language, sizeof v->language);
    v->state_json = e->has_state ? blob : NULL;
    v->profile_json = e->has_profile ? blob + e->state_len + 1 : NULL;
    v->misses = e->misses;
    v->last_seq = e->last_seq;
    memcpy(v->seen_ids, e->seen_ids, sizeof v->seen_ids);
    v->last_active_ms = e->last_active_ms;
    v->version = e->version;
}

/* Hands each victim to the handler (reason != 0) and frees it. */
static void release(mem_t *m, entry_t *victims) {
    while (victims) {
        entry_t *e = victims;
        victims = e->hnext;
        if (e->reason && m->cfg.on_expire) {
            kf_session_t v = {0};
            view(e, &v, e->blob);
            m->cfg.on_expire(&v, (kf_session_end_t)e->reason, m->cfg.expire_ud);
        }
        free(e->blob);
        free(e);
    }
}

/* ---- operations ---- */

static int get(kf_session_store_t *base, const char *id, unsigned flags, kf_session_t *out) {
    mem_t *m = (mem_t *)base;
    if (!out || !kf_session_valid_id(id)) return KF_SESSION_INVALID;
    uint64_t h = hash_id(id);
    shard_t *sh = shard_of(m, h);
    int64_t now = now_ms(m);
    entry_t *victims = NULL;
    int rc = KF_SESSION_OK;
    pthread_mutex_lock(&sh->mu);
    entry_t **slot = find(sh, id, h), *e = *slot;
    if (e && is_expired(m, e, now)) {
        take_out(sh, slot, e, KF_SESSION_EXPIRED, &victims);
        e = NULL;
    }
    if (!e) {
        sh->misses++;
        rc = KF_SESSION_NOTFOUND;
    } else {
        /* The copy is made under the lock because a concurrent put may free
         * the blob the moment the lock is released. */
        char *copy = NULL;
        size_t n = e->blob ? (size_t)e->state_len + e->profile_len + 2 : 0;
        if (n && !(copy = malloc(n))) {
            rc = KF_SESSION_NOMEM;
        } else {
            if (n) memcpy(copy, e->blob, n);
            sh->hits++;
            if (!(flags & KF_SESSION_PEEK)) mark_active(sh, e, now);
            memset(out, 0, sizeof *out);
            view(e, out, copy);
            out->own_ = copy;
        }
    }
    pthread_mutex_unlock(&sh->mu);
    release(m, victims);
    return rc;
}

/* strnlen: an oversized text is refused without reading all of it. */
static size_t text_len(const char *t) { return t ? strnlen(t, KF_SESSION_MAX_TEXT + 1) : 0; }

static int put(kf_session_store_t *base, const kf_session_t *s, uint64_t expect, uint64_t *version_out) {
    mem_t *m = (mem_t *)base;
    if (!s || !kf_session_valid_id(s->id) || !memchr(s->language, 0, sizeof s->language)) return KF_SESSION_INVALID;
    size_t sl = text_len(s->state_json), pl = text_len(s->profile_json);
    if (sl > KF_SESSION_MAX_TEXT || pl > KF_SESSION_MAX_TEXT) return KF_SESSION_INVALID;
    int rc = KF_SESSION_OK;
    char *blob = NULL;
    if (s->state_json || s->profile_json) {
        if (!(blob = malloc(sl + pl + 2))) return KF_SESSION_NOMEM;
        if (sl) memcpy(blob, s->state_json, sl);
        blob[sl] = 0;
        if (pl) memcpy(blob + sl + 1, s->profile_json, pl);
        blob[sl + 1 + pl] = 0;
    }
    uint64_t h = hash_id(s->id);
    shard_t *sh = shard_of(m, h);
    int64_t now = now_ms(m);
    entry_t *victims = NULL, *fresh = NULL;
    char *old_blob = NULL;
    uint64_t version = 0;
    pthread_mutex_lock(&sh->mu);
    for (;;) {
        entry_t **slot = find(sh, s->id, h), *e = *slot;
        if (e && is_expired(m, e, now)) {
            take_out(sh, slot, e, KF_SESSION_EXPIRED, &victims);
            e = NULL;
        }
        if (expect == KF_SESSION_NEW && e) {
            rc = KF_SESSION_CONFLICT;
            version = e->version;
        } else if (expect != KF_SESSION_NEW && expect != KF_SESSION_ANY_VERSION && (!e || e->version != expect)) {
            rc = e ? KF_SESSION_CONFLICT : KF_SESSION_NOTFOUND;
            version = e ? e->version : 0;
        }
        if (rc) {
            if (rc == KF_SESSION_CONFLICT) sh->conflicts++;
            old_blob = blob; /* ours, unused */
            break;
        }
        if (!e) {
            if (!fresh) {
                /* Allocate outside the lock, then look again: meanwhile
                 * another thread may have inserted or removed this id. */
                pthread_mutex_unlock(&sh->mu);
                fresh = calloc(1, sizeof *fresh);
                pthread_mutex_lock(&sh->mu);
                if (!fresh) {
                    rc = KF_SESSION_NOMEM;
                    old_blob = blob;
                    break;
                }
                continue;
            }
            /* this insert's place is counted first, so inserts racing on
             * other shards see it: whoever takes the place past the
             * capacity evicts */
            if (atomic_fetch_add_explicit(&m->total, 1, memory_order_relaxed) >= m->cfg.capacity && sh->oldest)
                take_oldest(sh, is_expired(m, sh->oldest, now) ? KF_SESSION_EXPIRED : KF_SESSION_EVICTED, &victims);
            for (int i = 0; i < PUT_EXTRA_EXPIRE && sh->oldest && is_expired(m, sh->oldest, now); i++)
                take_oldest(sh, KF_SESSION_EXPIRED, &victims);
            e = fresh;
            fresh = NULL;
            memcpy(e->id, s->id, sizeof e->id);
            e->hash = h;
            slot = &sh->buckets[h & sh->mask];
            e->hnext = *slot;
            *slot = e;
            sh->count++;
            list_push_newest(sh, e);
        } else {
            sh->bytes -= entry_bytes(e);
            old_blob = e->blob;
        }
        e->blob = blob;
        e->has_state = s->state_json != NULL;
        e->has_profile = s->profile_json != NULL;
        e->state_len = (uint32_t)sl;
        e->profile_len = (uint32_t)pl;
        sh->bytes += entry_bytes(e);
        memcpy(e->language, s->language, sizeof e->language);
        e->misses = s->misses;
        e->last_seq = s->last_seq;
        memcpy(e->seen_ids, s->seen_ids, sizeof e->seen_ids);
        version = ++e->version;
        mark_active(sh, e, now);
        sh->puts++;
        break;
    }
    pthread_mutex_unlock(&sh->mu);
    free(old_blob);
    free(fresh);
    release(m, victims);
    if (version_out) *version_out = version;
    return rc;
}

static int touch(kf_session_store_t *base, const char *id) {
    mem_t *m = (mem_t *)base;
    if (!kf_session_valid_id(id)) return KF_SESSION_INVALID;
    uint64_t h = hash_id(id);
    shard_t *sh = shard_of(m, h);
    int64_t now = now_ms(m);
    entry_t *victims = NULL;
    int rc = KF_SESSION_OK;
    pthread_mutex_lock(&sh->mu);
    entry_t **slot = find(sh, id, h), *e = *slot;
    if (e && is_expired(m, e, now)) {
        take_out(sh, slot, e, KF_SESSION_EXPIRED, &victims);
        e = NULL;
    }
    if (e) mark_active(sh, e, now);
    else rc = KF_SESSION_NOTFOUND;
    pthread_mutex_unlock(&sh->mu);
    release(m, victims);
    return rc;
}

/* An expired session is reported as expired (handler, NOTFOUND) even here,
 * so that each session's end is reported exactly once and one way. */
static int del(kf_session_store_t *base, const char *id) {
    mem_t *m = (mem_t *)base;
    if (!kf_session_valid_id(id)) return KF_SESSION_INVALID;
    uint64_t h = hash_id(id);
    shard_t *sh = shard_of(m, h);
    int64_t now = now_ms(m);
    entry_t *victims = NULL;
    int rc = KF_SESSION_NOTFOUND;
    pthread_mutex_lock(&sh->mu);
    entry_t **slot = find(sh, id, h), *e = *slot;
    if (e) {
        int expired = is_expired(m, e, now);
        take_out(sh, slot, e, expired ? KF_SESSION_EXPIRED : 0, &victims);
        if (!expired) rc = KF_SESSION_OK;
    }
    pthread_mutex_unlock(&sh->mu);
    release(m, victims);
    return rc;
}

static size_t count(kf_session_store_t *base) {
    mem_t *m = (mem_t *)base;
    size_t n = 0;
    for (unsigned i = 0; i < m->nshards; i++) {
        pthread_mutex_lock(&m->shards[i].mu);
        n += m->shards[i].count;
        pthread_mutex_unlock(&m->shards[i].mu);
    }
    return n;
}

/* Looks at the old end of shard after shard, starting where the last sweep
 * stopped; each session looked at (removed or found alive) costs one unit of
 * max_work, so one call holds any lock only for a bounded time. */
static size_t sweep(kf_session_store_t *base, size_t max_work) {
    mem_t *m = (mem_t *)base;
    size_t removed = 0, work = 0;
    unsigned start = atomic_load_explicit(&m->sweep_cursor, memory_order_relaxed), i;
    for (i = 0; i < m->nshards && work < max_work; i++) {
        shard_t *sh = &m->shards[(start + i) % m->nshards];
        entry_t *victims = NULL;
        int64_t now = now_ms(m);
        pthread_mutex_lock(&sh->mu);
        while (work < max_work && sh->oldest) {
            work++;
            if (!is_expired(m, sh->oldest, now)) break;
            take_oldest(sh, KF_SESSION_EXPIRED, &victims);
            removed++;
        }
        int drained = !sh->oldest || !is_expired(m, sh->oldest, now);
        pthread_mutex_unlock(&sh->mu);
        release(m, victims);
        if (!drained) break; /* budget spent here: resume with this shard next time */
    }
    atomic_store_explicit(&m->sweep_cursor, (start + i) % m->nshards, memory_order_relaxed);
    return removed;
}

static void stats(kf_session_store_t *base, kf_session_stats_t *out) {
    mem_t *m = (mem_t *)base;
    memset(out, 0, sizeof *out);
    out->capacity = m->cfg.capacity;
    out->ttl_ms = m->cfg.ttl_ms;
    for (unsigned i = 0; i < m->nshards; i++) {
        shard_t *sh = &m->shards[i];
        pthread_mutex_lock(&sh->mu);
        out->count += sh->count;
        out->bytes += sh->bytes;
        out->hits += sh->hits;
        out->misses += sh->misses;
        out->puts += sh->puts;
        out->conflicts += sh->conflicts;
        out->expired += sh->expired;
        out->evicted += sh->evicted;
        pthread_mutex_unlock(&sh->mu);
    }
}

static void free_shards(mem_t *m, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        shard_t *sh = &m->shards[i];
        for (entry_t *e = sh->oldest, *next; e; e = next) {
            next = e->newer;
            free(e->blob);
            free(e);
        }
        free(sh->buckets);
        pthread_mutex_destroy(&sh->mu);
    }
    free(m->shards);
}

static void destroy(kf_session_store_t *base) {
    mem_t *m = (mem_t *)base;
    free_shards(m, m->nshards);
    free(m);
}

static const kf_session_ops_t ops = {
    .get = get, .put = put, .touch = touch, .del = del,
    .count = count, .sweep = sweep, .stats = stats, .destroy = destroy,
};

kf_session_store_t *kf_session_mem_new(const kf_session_mem_config_t *cfg, char *err, size_t errlen) {
    kf_session_mem_config_t c = cfg ? *cfg : (kf_session_mem_config_t){0};
    if (!c.capacity) c.capacity = DEFAULT_CAPACITY;
    if (!c.ttl_ms) c.ttl_ms = DEFAULT_TTL_MS;
    if (!c.shards) c.shards = DEFAULT_SHARDS;
    if (!c.now_ms) c.now_ms = monotonic_ms;
    if (c.ttl_ms < 0 || c.capacity > MAX_CAPACITY || c.shards > MAX_SHARDS) {
        if (err && errlen)
            snprintf(err, errlen, "session store: ttl must be positive, capacity at most %u, shards at most %d",
                     MAX_CAPACITY, MAX_SHARDS);
        return NULL;
    }
    unsigned n = c.shards;
    if (c.capacity / n < MIN_PER_SHARD) n = c.capacity / MIN_PER_SHARD ? (unsigned)(c.capacity / MIN_PER_SHARD) : 1;
    mem_t *m = calloc(1, sizeof *m);
    size_t shard_bytes = (size_t)n * sizeof(shard_t); /* a multiple of 64: shard_t is 64-aligned */
    if (!m || !(m->shards = aligned_alloc(64, shard_bytes))) {
        free(m);
        if (err && errlen) snprintf(err, errlen, "session store: out of memory");
        return NULL;
    }
    memset(m->shards, 0, shard_bytes);
    m->super.ops = &ops;
    c.shards = n;
    m->cfg = c;
    m->nshards = n;
    for (unsigned i = 0; i < n; i++) {
        shard_t *sh = &m->shards[i];
        /* buckets for twice a shard's share: chains stay short in a shard
         * that holds more than its share */
        size_t share = c.capacity / n + 1, nb = 1;
        while (nb < 2 * share) nb <<= 1;
        sh->total = &m->total;
        sh->mask = nb - 1;
        pthread_mutex_init(&sh->mu, NULL);
        if (!(sh->buckets = calloc(nb, sizeof *sh->buckets))) {
            free_shards(m, i + 1);
            free(m);
            if (err && errlen) snprintf(err, errlen, "session store: out of memory");
            return NULL;
        }
    }
    return &m->super;
}
