/* Unit tests for store/session_mem.c and store/session.c: round trip, TTL on
 * an injected clock, LRU order, the 1,000 / 5-minute defaults, expiry
 * handler reasons and re-entry, compare-and-set, threads, bounded sweeps,
 * the loop sweeper, async wrappers, metrics, and a micro-benchmark. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loop/loop.h"
#include "obs/metrics.h"
#include "store/session.h"
#include "util/buf.h"

/* ---- helpers ---- */

static _Atomic int64_t fake_now = 1000000;
static int64_t fake_clock(void *ud) {
    (void)ud;
    return atomic_load(&fake_now);
}

static void id_of(char id[33], unsigned n) { snprintf(id, 33, "%032x", n); }

typedef struct {
    pthread_mutex_t mu;
    int expired, evicted;
    char last_id[33];
    char last_state[64];
    int64_t last_seq;
} seen_t;

static void record(const kf_session_t *s, kf_session_end_t reason, void *ud) {
    seen_t *w = ud;
    pthread_mutex_lock(&w->mu);
    if (reason == KF_SESSION_EXPIRED) w->expired++;
    else if (reason == KF_SESSION_EVICTED) w->evicted++;
    memcpy(w->last_id, s->id, 33);
    snprintf(w->last_state, sizeof w->last_state, "%s", s->state_json ? s->state_json : "(null)");
    w->last_seq = s->last_seq;
    pthread_mutex_unlock(&w->mu);
}

static kf_session_store_t *mk(size_t cap, int64_t ttl, unsigned shards, kf_session_expire_fn fn, void *ud) {
    kf_session_mem_config_t c = {.capacity = cap, .ttl_ms = ttl, .shards = shards, .now_ms = fake_clock,
                                 .on_expire = fn, .expire_ud = ud};
    char err[128] = "";
    kf_session_store_t *st = kf_session_mem_new(&c, err, sizeof err);
    cr_assert(st, "%s", err);
    return st;
}

static int put_simple(kf_session_store_t *st, unsigned n, const char *state, uint64_t expect, uint64_t *ver) {
    kf_session_t s = {0};
    id_of(s.id, n);
    s.state_json = state;
    strcpy(s.language, "en");
    s.last_seq = n;
    return kf_session_put(st, &s, expect, ver);
}

static int exists(kf_session_store_t *st, unsigned n) {
    char id[33];
    id_of(id, n);
    kf_session_t s = {0};
    int rc = kf_session_get(st, id, KF_SESSION_PEEK, &s);
    kf_session_clear(&s);
    return rc == KF_SESSION_OK;
}

/* ---- behaviour ---- */

Test(session, put_get_round_trip) {
    kf_session_store_t *st = mk(100, 60000, 1, NULL, NULL);
    char state[] = "{\"flow\":\"block_card\",\"slots\":{\"last4\":\"1234\"}}";
    kf_session_t in = {0}, out = {0};
    strcpy(in.id, "0123456789abcdef0123456789abcdef");
    in.state_json = state;
    in.profile_json = "{\"user_id\":\"u1\",\"vip\":2}";
    strcpy(in.language, "zh");
    in.misses = 1;
    in.last_seq = 42;
    for (int i = 0; i < KF_SESSION_SEEN_WORDS; i++) in.seen_ids[i] = 0x0123456789abcdefull * (uint64_t)(i + 1);
    uint64_t v = 99;
    cr_assert_eq(kf_session_put(st, &in, KF_SESSION_ANY_VERSION, &v), KF_SESSION_OK);
    cr_assert_eq(v, 1);
    state[2] = 'X'; /* the store keeps its own copy */
    cr_assert_eq(kf_session_get(st, in.id, 0, &out), KF_SESSION_OK);
    cr_assert_str_eq(out.id, in.id);
    cr_assert_str_eq(out.state_json, "{\"flow\":\"block_card\",\"slots\":{\"last4\":\"1234\"}}");
    cr_assert_str_eq(out.profile_json, "{\"user_id\":\"u1\",\"vip\":2}");
    cr_assert_str_eq(out.language, "zh");
    cr_assert_eq(out.misses, 1);
    cr_assert_eq(out.last_seq, 42);
    cr_assert_eq(memcmp(out.seen_ids, in.seen_ids, sizeof in.seen_ids), 0, "the engine's filter is kept as is");
    cr_assert_eq(out.version, 1);
    cr_assert_eq(out.last_active_ms, atomic_load(&fake_now));
    kf_session_clear(&out);
    cr_assert_null(out.own_);

    /* Replacing: NULL texts stay NULL, "" stays "", version counts puts. */
    in.state_json = NULL;
    in.profile_json = "";
    cr_assert_eq(kf_session_put(st, &in, KF_SESSION_ANY_VERSION, &v), KF_SESSION_OK);
    cr_assert_eq(v, 2);
    cr_assert_eq(kf_session_get(st, in.id, 0, &out), KF_SESSION_OK);
    cr_assert_null(out.state_json);
    cr_assert_str_eq(out.profile_json, "");
    cr_assert_eq(out.version, 2);
    kf_session_clear(&out);
    in.profile_json = NULL;
    cr_assert_eq(kf_session_put(st, &in, KF_SESSION_ANY_VERSION, NULL), KF_SESSION_OK);
    cr_assert_eq(kf_session_get(st, in.id, 0, &out), KF_SESSION_OK);
    cr_assert(!out.state_json && !out.profile_json && !out.own_);
    kf_session_clear(&out);
    cr_assert_eq(kf_session_count(st), 1);

    /* Bad input is refused, never stored. */
    cr_assert_eq(kf_session_get(st, "0123456789ABCDEF0123456789abcdef", 0, &out), KF_SESSION_INVALID);
    cr_assert_eq(kf_session_get(st, "0123", 0, &out), KF_SESSION_INVALID);
    cr_assert_eq(kf_session_get(st, NULL, 0, &out), KF_SESSION_INVALID);
    cr_assert_eq(kf_session_touch(st, "xyz"), KF_SESSION_INVALID);
    cr_assert_eq(kf_session_del(st, "0123456789abcdef0123456789abcdeg"), KF_SESSION_INVALID);
    kf_session_t bad = in;
    memset(bad.language, 'x', sizeof bad.language); /* not terminated */
    cr_assert_eq(kf_session_put(st, &bad, KF_SESSION_ANY_VERSION, NULL), KF_SESSION_INVALID);
    bad = in;
    char *big = malloc(KF_SESSION_MAX_TEXT + 2);
    memset(big, 'a', KF_SESSION_MAX_TEXT + 1);
    big[KF_SESSION_MAX_TEXT + 1] = 0;
    bad.state_json = big;
    cr_assert_eq(kf_session_put(st, &bad, KF_SESSION_ANY_VERSION, NULL), KF_SESSION_INVALID);
    big[KF_SESSION_MAX_TEXT] = 0; /* exactly the limit is fine */
    cr_assert_eq(kf_session_put(st, &bad, KF_SESSION_ANY_VERSION, NULL), KF_SESSION_OK);
    free(big);

    cr_assert_eq(kf_session_get(st, "ffffffffffffffffffffffffffffffff", 0, &out), KF_SESSION_NOTFOUND);
    cr_assert_eq(kf_session_del(st, in.id), KF_SESSION_OK);
    cr_assert_eq(kf_session_del(st, in.id), KF_SESSION_NOTFOUND);
    cr_assert_eq(kf_session_count(st), 0);
    kf_session_stats_t s;
    kf_session_stats(st, &s);
    cr_assert_eq(s.bytes, 0);
    cr_assert_str_eq(kf_session_strerror(KF_SESSION_CONFLICT), "session version conflict");
    kf_session_destroy(st);
}

Test(session, ttl_expiry_on_injected_clock) {
    seen_t w = {.mu = PTHREAD_MUTEX_INITIALIZER};
    kf_session_store_t *st = mk(100, 1000, 1, record, &w);
    atomic_store(&fake_now, 5000);
    cr_assert_eq(put_simple(st, 1, "{\"a\":1}", KF_SESSION_ANY_VERSION, NULL), KF_SESSION_OK);
    cr_assert_eq(put_simple(st, 2, "{\"b\":2}", KF_SESSION_ANY_VERSION, NULL), KF_SESSION_OK);
    cr_assert_eq(put_simple(st, 3, "{\"c\":3}", KF_SESSION_ANY_VERSION, NULL), KF_SESSION_OK);
    atomic_store(&fake_now, 5999);
    char id[33];
    id_of(id, 1);
    cr_assert_eq(kf_session_touch(st, id), KF_SESSION_OK);         /* 1 now lives until 6999 */
    id_of(id, 2);
    kf_session_t out = {0};
    cr_assert_eq(kf_session_get(st, id, KF_SESSION_PEEK, &out), KF_SESSION_OK); /* peek: no refresh */
    cr_assert_eq(out.last_active_ms, 5000);
    kf_session_clear(&out);
    id_of(id, 3);
    cr_assert_eq(kf_session_get(st, id, 0, &out), KF_SESSION_OK);  /* get refreshes */
    cr_assert_eq(out.last_active_ms, 5999);
    kf_session_clear(&out);

    atomic_store(&fake_now, 6000); /* exactly the TTL after 2's last activity */
    cr_assert_eq(w.expired, 0, "expiry is lazy or swept, never in the background");
    id_of(id, 2);
    cr_assert_eq(kf_session_get(st, id, 0, &out), KF_SESSION_NOTFOUND);
    cr_assert_eq(w.expired, 1);
    cr_assert_str_eq(w.last_id, id);
    cr_assert_str_eq(w.last_state, "{\"b\":2}");
    cr_assert_eq(w.last_seq, 2);
    cr_assert_eq(kf_session_get(st, id, 0, &out), KF_SESSION_NOTFOUND);
    cr_assert_eq(w.expired, 1, "reported once");
    cr_assert(exists(st, 1) && exists(st, 3));

    atomic_store(&fake_now, 7000);
    /* Expired sessions are gone for touch, CAS put and del alike, each reported. */
    id_of(id, 1);
    cr_assert_eq(kf_session_touch(st, id), KF_SESSION_NOTFOUND);
    cr_assert_eq(put_simple(st, 3, "{}", 1, NULL), KF_SESSION_NOTFOUND);
    cr_assert_eq(w.expired, 3);
    cr_assert_eq(w.evicted, 0);
    cr_assert_eq(kf_session_count(st), 0);

    /* An unconditional put after expiry starts a new session at version 1. */
    uint64_t v = 0;
    cr_assert_eq(put_simple(st, 3, "{}", KF_SESSION_ANY_VERSION, &v), KF_SESSION_OK);
    cr_assert_eq(v, 1);
    atomic_store(&fake_now, 9000);
    id_of(id, 3);
    cr_assert_eq(kf_session_del(st, id), KF_SESSION_NOTFOUND);
    cr_assert_eq(w.expired, 4);
    kf_session_stats_t s;
    kf_session_stats(st, &s);
    cr_assert_eq(s.expired, 4);
    cr_assert_eq(s.evicted, 0);
    kf_session_destroy(st);
}

Test(session, lru_eviction_order_with_touch) {
    seen_t w = {.mu = PTHREAD_MUTEX_INITIALIZER};
    kf_session_store_t *st = mk(3, 60000, 1, record, &w);
    char id[33];
    for (unsigned i = 1; i <= 3; i++) cr_assert_eq(put_simple(st, i, "{}", KF_SESSION_ANY_VERSION, NULL), 0);
    id_of(id, 1);
    cr_assert_eq(kf_session_touch(st, id), KF_SESSION_OK); /* order, old to new: 2 3 1 */
    cr_assert_eq(put_simple(st, 4, "{}", KF_SESSION_ANY_VERSION, NULL), 0);
    cr_assert_eq(w.evicted, 1);
    id_of(id, 2);
    cr_assert_str_eq(w.last_id, id);
    cr_assert(!exists(st, 2) && exists(st, 1) && exists(st, 3) && exists(st, 4)); /* peeks: order kept */
    kf_session_t out = {0};
    id_of(id, 3);
    cr_assert_eq(kf_session_get(st, id, 0, &out), 0); /* 1 4 3 */
    kf_session_clear(&out);
    cr_assert_eq(put_simple(st, 1, "{\"again\":1}", KF_SESSION_ANY_VERSION, NULL), 0); /* replace: 4 3 1 */
    cr_assert_eq(w.evicted, 1, "replacing never evicts");
    cr_assert_eq(put_simple(st, 5, "{}", KF_SESSION_ANY_VERSION, NULL), 0);
    cr_assert_eq(w.evicted, 2);
    id_of(id, 4);
    cr_assert_str_eq(w.last_id, id);
    cr_assert_eq(put_simple(st, 6, "{}", KF_SESSION_ANY_VERSION, NULL), 0);
    id_of(id, 3);
    cr_assert_str_eq(w.last_id, id);
    cr_assert_eq(kf_session_count(st), 3);
    cr_assert(exists(st, 1) && exists(st, 5) && exists(st, 6));

    /* When full, an old session past its TTL leaves as expired, not evicted. */
    atomic_fetch_add(&fake_now, 60000);
    cr_assert_eq(put_simple(st, 7, "{}", KF_SESSION_ANY_VERSION, NULL), 0);
    cr_assert_eq(w.evicted, 3);
    cr_assert_eq(w.expired, 3, "the full-store victim and the expired ones behind it");
    cr_assert_eq(kf_session_count(st), 1);
    kf_session_destroy(st);
}

Test(session, defaults_are_1000_sessions_and_5_minutes) {
    seen_t w = {.mu = PTHREAD_MUTEX_INITIALIZER};
    kf_session_mem_config_t c = {.now_ms = fake_clock, .on_expire = record, .expire_ud = &w};
    kf_session_store_t *st = kf_session_mem_new(&c, NULL, 0);
    kf_session_stats_t s;
    kf_session_stats(st, &s);
    cr_assert_eq(s.capacity, 1000);
    cr_assert_eq(s.ttl_ms, 5 * 60 * 1000);
    /* Striped, and still the store's capacity: 1,000 sessions fit without
     * an eviction (a per-stripe share used to evict from ~850 on), and a
     * full store evicts one per insert. */
    for (unsigned i = 0; i < 1000; i++) cr_assert_eq(put_simple(st, i, "{}", KF_SESSION_ANY_VERSION, NULL), 0);
    size_t n = kf_session_count(st);
    cr_assert_eq(n, 1000);
    cr_assert_eq(w.evicted, 0);
    for (unsigned i = 1000; i < 6000; i++) cr_assert_eq(put_simple(st, i, "{}", KF_SESSION_ANY_VERSION, NULL), 0);
    n = kf_session_count(st);
    cr_assert_eq(n, 1000, "a full store stays full, no fuller: %zu", n);
    cr_assert_eq(n + (size_t)w.evicted, 6000);
    /* the evicted are old ones: the newest 500 are all there */
    for (unsigned i = 5500; i < 6000; i++) cr_assert(exists(st, i), "session %u evicted", i);
    kf_session_destroy(st);

    /* One stripe: exact. */
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.mu, NULL);
    c.shards = 1;
    st = kf_session_mem_new(&c, NULL, 0);
    atomic_store(&fake_now, 0);
    for (unsigned i = 0; i < 1000; i++) cr_assert_eq(put_simple(st, i, "{}", KF_SESSION_ANY_VERSION, NULL), 0);
    cr_assert_eq(kf_session_count(st), 1000);
    cr_assert_eq(w.evicted, 0);
    cr_assert_eq(put_simple(st, 1000, "{}", KF_SESSION_ANY_VERSION, NULL), 0);
    cr_assert_eq(w.evicted, 1);
    cr_assert(!exists(st, 0));
    atomic_store(&fake_now, 5 * 60 * 1000 - 1);
    cr_assert(exists(st, 1));
    atomic_store(&fake_now, 5 * 60 * 1000);
    cr_assert(!exists(st, 1));
    cr_assert_eq(w.expired, 1);
    kf_session_destroy(st);
}

Test(session, config_is_checked) {
    char err[160] = "";
    kf_session_mem_config_t c = {.ttl_ms = -5};
    cr_assert_null(kf_session_mem_new(&c, err, sizeof err));
    cr_assert(strstr(err, "ttl"));
    c = (kf_session_mem_config_t){.shards = 100000};
    cr_assert_null(kf_session_mem_new(&c, err, sizeof err));
    /* Tiny capacities work (fewer stripes than asked). */
    c = (kf_session_mem_config_t){.capacity = 1, .shards = 64, .now_ms = fake_clock};
    kf_session_store_t *st = kf_session_mem_new(&c, err, sizeof err);
    cr_assert(st);
    cr_assert_eq(put_simple(st, 1, "{}", KF_SESSION_ANY_VERSION, NULL), 0);
    cr_assert_eq(put_simple(st, 2, "{}", KF_SESSION_ANY_VERSION, NULL), 0);
    cr_assert_eq(kf_session_count(st), 1);
    cr_assert(exists(st, 2));
    kf_session_destroy(st);
    kf_session_destroy(NULL);
}

/* The handler calls back into the store: reads, writes, counts, even
 * re-inserting the session that just left, which evicts yet another. */
typedef struct {
    kf_session_store_t *st;
    int calls, reinserted;
    int reasons[3];
} reentry_t;

static void reenter(const kf_session_t *s, kf_session_end_t reason, void *ud) {
    reentry_t *r = ud;
    r->calls++;
    r->reasons[reason]++;
    kf_session_t out = {0};
    cr_assert_eq(kf_session_get(r->st, s->id, KF_SESSION_PEEK, &out), KF_SESSION_NOTFOUND,
                 "the session has left before the handler runs");
    cr_assert_leq(kf_session_count(r->st), 3);
    kf_session_stats_t st;
    kf_session_stats(r->st, &st);
    kf_session_sweep(r->st, 10);
    if (!r->reinserted) {
        r->reinserted = 1;
        kf_session_t again = *s;
        again.own_ = NULL;
        cr_assert_eq(kf_session_put(r->st, &again, KF_SESSION_NEW, NULL), KF_SESSION_OK);
    }
}

Test(session, handler_may_call_the_store) {
    alarm(10); /* a deadlock fails the test (SIGALRM) instead of hanging the run */
    reentry_t r = {0};
    kf_session_store_t *st = mk(3, 1000, 1, reenter, &r);
    r.st = st;
    for (unsigned i = 1; i <= 3; i++) cr_assert_eq(put_simple(st, i, "{}", KF_SESSION_ANY_VERSION, NULL), 0);
    cr_assert_eq(put_simple(st, 4, "{}", KF_SESSION_ANY_VERSION, NULL), 0); /* evicts 1, which evicts 2 */
    cr_assert_eq(r.calls, 2);
    cr_assert_eq(r.reasons[KF_SESSION_EVICTED], 2);
    cr_assert(exists(st, 1) && !exists(st, 2) && exists(st, 3) && exists(st, 4));
    atomic_fetch_add(&fake_now, 1000);
    char id[33];
    id_of(id, 3);
    kf_session_t out = {0};
    cr_assert_eq(kf_session_get(st, id, 0, &out), KF_SESSION_NOTFOUND);
    /* 3's handler swept 1 and 4, whose handlers ran nested: no deadlock. */
    cr_assert_eq(r.reasons[KF_SESSION_EXPIRED], 3);
    cr_assert_eq(kf_session_count(st), 0);
    kf_session_destroy(st);
}

Test(session, compare_and_set) {
    kf_session_store_t *st = mk(100, 60000, 4, NULL, NULL);
    uint64_t v = 0;
    cr_assert_eq(put_simple(st, 7, "{\"s\":1}", KF_SESSION_NEW, &v), KF_SESSION_OK);
    cr_assert_eq(v, 1);
    cr_assert_eq(put_simple(st, 7, "{\"s\":2}", KF_SESSION_NEW, &v), KF_SESSION_CONFLICT);
    cr_assert_eq(v, 1, "the stored version comes back");
    cr_assert_eq(put_simple(st, 7, "{\"s\":2}", 1, &v), KF_SESSION_OK);
    cr_assert_eq(v, 2);
    cr_assert_eq(put_simple(st, 7, "{\"s\":3}", 1, &v), KF_SESSION_CONFLICT); /* a stale writer */
    cr_assert_eq(v, 2);
    cr_assert_eq(put_simple(st, 8, "{}", 5, &v), KF_SESSION_NOTFOUND);
    cr_assert_eq(v, 0);
    cr_assert(!exists(st, 8));
    char id[33];
    id_of(id, 7);
    kf_session_t out = {0};
    cr_assert_eq(kf_session_get(st, id, 0, &out), 0);
    cr_assert_str_eq(out.state_json, "{\"s\":2}", "a conflict changes nothing");
    cr_assert_eq(out.version, 2);
    kf_session_clear(&out);
    cr_assert_eq(kf_session_touch(st, id), 0);
    cr_assert_eq(put_simple(st, 7, "{\"s\":4}", 2, &v), KF_SESSION_OK, "touch does not bump the version");
    cr_assert_eq(put_simple(st, 7, "{\"s\":5}", KF_SESSION_ANY_VERSION, &v), KF_SESSION_OK);
    cr_assert_eq(v, 4);
    kf_session_stats_t s;
    kf_session_stats(st, &s);
    cr_assert_eq(s.conflicts, 2);
    cr_assert_eq(s.puts, 4);
    kf_session_destroy(st);
}

/* ---- threads ---- */

typedef struct {
    kf_session_store_t *st;
    unsigned base, n, rounds;
    int failures;
} worker_t;

/* Each thread inserts its own ids once, then reads, touches and rewrites them. */
static void *own_keys(void *arg) {
    worker_t *w = arg;
    char state[64];
    for (unsigned r = 0; r < w->rounds; r++)
        for (unsigned i = 0; i < w->n; i++) {
            unsigned k = w->base + i;
            snprintf(state, sizeof state, "{\"k\":%u,\"r\":%u}", k, r);
            if (put_simple(w->st, k, state, KF_SESSION_ANY_VERSION, NULL) != KF_SESSION_OK) w->failures++;
            char id[33];
            id_of(id, k);
            kf_session_t out = {0};
            int rc = kf_session_get(w->st, id, 0, &out);
            if (rc == KF_SESSION_OK && (out.last_seq != k || strncmp(out.state_json, state, 64) != 0)) w->failures++;
            kf_session_clear(&out);
            kf_session_touch(w->st, id);
        }
    return NULL;
}

/* Every thread increments one shared session's last_seq by read + CAS,
 * retrying on conflict: no increment may be lost. */
static void *cas_increments(void *arg) {
    worker_t *w = arg;
    for (unsigned r = 0; r < w->rounds; r++) {
        for (;;) {
            kf_session_t s = {0};
            if (kf_session_get(w->st, "00000000000000000000000000c0ffee", 0, &s) != KF_SESSION_OK) {
                w->failures++;
                break;
            }
            uint64_t seen = s.version;
            s.last_seq++;
            int rc = kf_session_put(w->st, &s, seen, NULL);
            kf_session_clear(&s);
            if (rc == KF_SESSION_OK) break;
            if (rc != KF_SESSION_CONFLICT) {
                w->failures++;
                break;
            }
        }
    }
    return NULL;
}

static void run4(void *(*fn)(void *), worker_t *w) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, fn, &w[i]);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
}

static _Atomic int counted_ends;
static void count_end(const kf_session_t *s, kf_session_end_t reason, void *ud) {
    (void)s, (void)reason, (void)ud;
    atomic_fetch_add(&counted_ends, 1);
}

Test(session, four_threads_different_and_same_keys) {
    alarm(60); /* a deadlock fails the test (SIGALRM) instead of hanging the run */
    kf_session_store_t *st = mk(100000, 600000, 0, NULL, NULL);
    worker_t w[4];
    for (int i = 0; i < 4; i++) w[i] = (worker_t){.st = st, .base = 1000u * (unsigned)i, .n = 500, .rounds = 20};
    run4(own_keys, w);
    for (int i = 0; i < 4; i++) cr_assert_eq(w[i].failures, 0);
    cr_assert_eq(kf_session_count(st), 2000);

    /* Same key from four threads. */
    kf_session_t s = {0};
    strcpy(s.id, "00000000000000000000000000c0ffee");
    cr_assert_eq(kf_session_put(st, &s, KF_SESSION_NEW, NULL), 0);
    for (int i = 0; i < 4; i++) w[i] = (worker_t){.st = st, .rounds = 2000};
    run4(cas_increments, w);
    for (int i = 0; i < 4; i++) cr_assert_eq(w[i].failures, 0);
    cr_assert_eq(kf_session_get(st, s.id, 0, &s), 0);
    cr_assert_eq(s.last_seq, 8000, "lost updates: %lld", (long long)s.last_seq);
    cr_assert_eq(s.version, 8001);
    kf_session_clear(&s);
    kf_session_stats_t stt;
    kf_session_stats(st, &stt);
    cr_assert_eq(stt.puts, 4 * 500 * 20 + 8001);
    kf_session_destroy(st);

    /* Overlapping keys under eviction pressure: every session that was ever
     * created is either still held or was reported exactly once. */
    atomic_store(&counted_ends, 0);
    st = mk(100, 600000, 0, count_end, NULL);
    for (int i = 0; i < 4; i++) w[i] = (worker_t){.st = st, .base = 250u * (unsigned)i, .n = 500, .rounds = 3};
    run4(own_keys, w); /* ids 0..1249, neighbours overlap by half */
    kf_session_stats(st, &stt);
    cr_assert_leq(stt.count, 100);
    cr_assert_eq(stt.count, kf_session_count(st));
    cr_assert_eq(stt.evicted + stt.expired, (uint64_t)atomic_load(&counted_ends));
    /* inserts = puts that created a session = sessions held + sessions ended */
    cr_assert_gt(stt.evicted, 0);
    kf_session_destroy(st);
}

/* ---- sweeping ---- */

Test(session, sweep_does_bounded_work) {
    seen_t w = {.mu = PTHREAD_MUTEX_INITIALIZER};
    kf_session_store_t *st = mk(1000, 1000, 4, record, &w);
    atomic_store(&fake_now, 0);
    for (unsigned i = 0; i < 100; i++) cr_assert_eq(put_simple(st, i, "{}", KF_SESSION_ANY_VERSION, NULL), 0);
    cr_assert_eq(kf_session_sweep(st, 1000), 0, "nothing has expired yet");
    atomic_store(&fake_now, 500);
    for (unsigned i = 100; i < 150; i++) cr_assert_eq(put_simple(st, i, "{}", KF_SESSION_ANY_VERSION, NULL), 0);
    atomic_store(&fake_now, 1000); /* the first 100 have expired, the next 50 not */
    size_t total = 0, calls = 0, got;
    while ((got = kf_session_sweep(st, 10)) > 0) {
        cr_assert_leq(got, 10);
        total += got;
        calls++;
        cr_assert_leq(calls, 100);
    }
    cr_assert_eq(total, 100);
    cr_assert_eq(w.expired, 100);
    cr_assert_eq(kf_session_count(st), 50);
    cr_assert_eq(kf_session_sweep(st, 0), 0);
    atomic_store(&fake_now, 1500);
    cr_assert_eq(kf_session_sweep(st, 7), 7);
    cr_assert_eq(kf_session_count(st), 43);
    cr_assert_eq(kf_session_sweep(st, 1000), 43);
    kf_session_destroy(st);
}

Test(session, sweeper_timer_on_a_loop) {
    alarm(10); /* a deadlock fails the test (SIGALRM) instead of hanging the run */
    seen_t w = {.mu = PTHREAD_MUTEX_INITIALIZER};
    kf_session_store_t *st = mk(1000, 1000, 4, record, &w);
    for (unsigned i = 0; i < 40; i++) cr_assert_eq(put_simple(st, i, "{}", KF_SESSION_ANY_VERSION, NULL), 0);
    atomic_fetch_add(&fake_now, 1000);
    kf_loop_t *l = kf_loop_new();
    cr_assert(l);
    kf_session_sweeper_t *sw = kf_session_sweeper_start(l, st, 5, 8);
    cr_assert(sw);
    for (int i = 0; i < 500 && kf_session_count(st) > 0; i++) kf_loop_run_once(l, 10);
    cr_assert_eq(kf_session_count(st), 0);
    cr_assert_eq(w.expired, 40);
    kf_session_sweeper_stop(sw);
    kf_loop_free(l);
    kf_session_destroy(st);
}

/* ---- async wrappers ---- */

typedef struct {
    int calls, status;
    uint64_t version;
    char state[32];
} async_seen_t;

static void on_done(const kf_session_result_t *r, void *ud) {
    async_seen_t *a = ud;
    a->calls++;
    a->status = r->status;
    a->version = r->version;
    cr_assert_not_null(r->error);
    snprintf(a->state, sizeof a->state, "%s", r->session && r->session->state_json ? r->session->state_json : "-");
}

Test(session, async_calls_complete_at_once_in_process) {
    kf_session_store_t *st = mk(10, 1000, 1, NULL, NULL);
    async_seen_t a = {0};
    kf_session_t s = {0};
    strcpy(s.id, "abcdefabcdefabcdefabcdefabcdef01");
    s.state_json = "{\"x\":1}";
    cr_assert_eq(kf_session_put_async(st, &s, KF_SESSION_NEW, on_done, &a), KF_SESSION_OK);
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(a.status, KF_SESSION_OK);
    cr_assert_eq(a.version, 1);
    cr_assert_eq(kf_session_put_async(st, &s, KF_SESSION_NEW, on_done, &a), KF_SESSION_OK);
    cr_assert_eq(a.status, KF_SESSION_CONFLICT);
    cr_assert_eq(a.version, 1);
    cr_assert_eq(kf_session_get_async(st, s.id, 0, on_done, &a), KF_SESSION_OK);
    cr_assert_eq(a.calls, 3);
    cr_assert_eq(a.status, KF_SESSION_OK);
    cr_assert_str_eq(a.state, "{\"x\":1}");
    cr_assert_eq(kf_session_touch_async(st, s.id, on_done, &a), KF_SESSION_OK);
    cr_assert_eq(a.status, KF_SESSION_OK);
    cr_assert_eq(kf_session_del_async(st, s.id, on_done, &a), KF_SESSION_OK);
    cr_assert_eq(a.status, KF_SESSION_OK);
    cr_assert_eq(kf_session_get_async(st, s.id, 0, on_done, &a), KF_SESSION_OK);
    cr_assert_eq(a.status, KF_SESSION_NOTFOUND);
    cr_assert_str_eq(a.state, "-");
    cr_assert_eq(a.calls, 6);
    /* A refused request returns its code and never completes. */
    cr_assert_eq(kf_session_get_async(st, "nope", 0, on_done, &a), KF_SESSION_INVALID);
    cr_assert_eq(kf_session_del_async(st, "nope", NULL, NULL), KF_SESSION_INVALID);
    cr_assert_eq(a.calls, 6);
    cr_assert_eq(kf_session_touch_async(st, s.id, NULL, NULL), KF_SESSION_OK); /* fire and forget */
    kf_session_destroy(st);
}

/* A store with async ops only (as Redis will be): sync calls say so. */
static int fake_get_async(kf_session_store_t *st, const char *id, unsigned f, kf_session_cb cb, void *ud) {
    (void)st, (void)id, (void)f, (void)cb, (void)ud;
    return 12345;
}
Test(session, async_only_store) {
    static const kf_session_ops_t ops = {.get_async = fake_get_async};
    kf_session_store_t fake = {&ops};
    kf_session_t out = {0};
    cr_assert_eq(kf_session_get(&fake, "0", 0, &out), KF_SESSION_UNSUPPORTED);
    cr_assert_eq(kf_session_put(&fake, &out, 0, NULL), KF_SESSION_UNSUPPORTED);
    cr_assert_eq(kf_session_get_async(&fake, "0", 0, NULL, NULL), 12345);
    cr_assert_eq(kf_session_touch_async(&fake, "0", NULL, NULL), KF_SESSION_UNSUPPORTED);
}

/* ---- metrics ---- */

Test(session, metrics_series) {
    cr_assert_eq(kf_metrics_init(1, NULL, 0), 0);
    kf_session_store_t *st = mk(2, 1000, 1, NULL, NULL);
    cr_assert_eq(kf_session_register_metrics(st), 0);
    for (unsigned i = 0; i < 3; i++) put_simple(st, i, "{}", KF_SESSION_ANY_VERSION, NULL);
    atomic_fetch_add(&fake_now, 1000);
    kf_session_sweep(st, 100);
    kf_buf_t b;
    kf_buf_init(&b);
    kf_metrics_render(&b);
    cr_assert(strstr(b.data, "# TYPE kefu_sessions gauge\nkefu_sessions 0\n"), "%s", b.data);
    cr_assert(strstr(b.data, "kefu_sessions_capacity 2\n"));
    cr_assert(strstr(b.data, "kefu_sessions_expired_total{reason=\"expired\"} 2\n"));
    cr_assert(strstr(b.data, "kefu_sessions_expired_total{reason=\"evicted\"} 1\n"));
    kf_buf_free(&b);
    kf_session_destroy(st);
}

/* ---- micro-benchmark (printed, not asserted) ----
 * The engine's pattern per message: get, then put back; ops/s counts both. */

static char bench_ids[5000][33]; /* made up front: the loop measures the store, not snprintf */

typedef struct {
    kf_session_store_t *st;
    unsigned seed, keys;
    double seconds;
    unsigned long ops;
} bench_t;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *bench_worker(void *arg) {
    bench_t *b = arg;
    static const char state[] = "{\"flow\":\"block_card\",\"step\":2,\"slots\":{\"last4\":\"1234\",\"card\":\"debit\"},"
                                "\"paused\":[],\"digression\":null,\"retries\":0,\"lang\":\"en\"}";
    unsigned x = b->seed;
    double end = now_s() + b->seconds;
    unsigned long ops = 0;
    while ((ops & 1023) || now_s() < end) {
        x = x * 1103515245u + 12345u;
        kf_session_t s = {0};
        const char *id = bench_ids[(x >> 8) % b->keys];
        if (kf_session_get(b->st, id, 0, &s) != KF_SESSION_OK) {
            memcpy(s.id, id, 33);
            strcpy(s.language, "en");
        }
        kf_session_t w = s;
        w.state_json = state;
        w.last_seq++;
        kf_session_put(b->st, &w, KF_SESSION_ANY_VERSION, NULL);
        kf_session_clear(&s);
        ops += 2;
    }
    b->ops = ops;
    return NULL;
}

static double bench(unsigned shards, int threads, double seconds) {
    kf_session_mem_config_t c = {.capacity = 10000, .ttl_ms = 600000, .shards = shards};
    kf_session_store_t *st = kf_session_mem_new(&c, NULL, 0);
    bench_t b[8];
    pthread_t t[8];
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        b[i] = (bench_t){.st = st, .seed = 7u + (unsigned)i, .keys = 5000, .seconds = seconds};
        pthread_create(&t[i], NULL, bench_worker, &b[i]);
    }
    unsigned long ops = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        ops += b[i].ops;
    }
    double el = now_s() - t0;
    kf_session_destroy(st);
    return (double)ops / el;
}

Test(session, zz_benchmark) {
    alarm(60); /* a deadlock fails the test (SIGALRM) instead of hanging the run */
    double secs = getenv("KF_SESSION_BENCH_S") ? atof(getenv("KF_SESSION_BENCH_S")) : 0.3;
    for (unsigned i = 0; i < 5000; i++) id_of(bench_ids[i], i);
    unsigned shard_counts[] = {1, 16};
    for (int threads = 1; threads <= 2; threads++)
        for (size_t k = 0; k < sizeof shard_counts / sizeof *shard_counts; k++)
            fprintf(stderr, "session bench: %d thread(s), %2u shard(s): %.2f M ops/s (get+put pairs)\n", threads,
                    shard_counts[k], bench(shard_counts[k], threads, secs) / 1e6);
}
