/* agents_auth.c — agent tokens, presence and the failed-login throttle (see
 * agents_auth.h).  Three small in-memory tables behind one mutex: every
 * operation is a hash probe, so the lock is held for well under a
 * microsecond and contention between the HTTP threads does not show. */
#include "engine/agents_auth_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#define TOKEN_BUCKETS 4096     /* power of two; chains stay short up to ~10^4 sessions */
#define PRESENCE_BUCKETS 256
#define THROTTLE_SLOTS 1024    /* power of two */
#define THROTTLE_PROBE 8
#define THROTTLE_KEY_MAX 80
#define TOKEN_PREFIX "kfa_"
/* Tokens never presented again are dropped by a sweep every this many
 * logins: memory stays bounded by the logins of one TTL, and no timer is
 * needed.  A sweep walks the buckets: microseconds, once per 256 logins. */
#define SWEEP_EVERY 256

struct tok {
    struct tok *next;
    unsigned char digest[crypto_generichash_BYTES];
    char agent_id[KF_AGENT_ID_MAX + 1];
    int64_t expires_at;
};

struct presence {
    struct presence *next;
    char agent_id[KF_AGENT_ID_MAX + 1];
    kf_agent_status_t chosen;
    int64_t last_seen;
};

struct throttle {
    char key[THROTTLE_KEY_MAX + 1];
    int64_t window_start;
    int failures;
    int limit; /* failures allowed per window for this key */
};

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kf_agent_auth_now(kf_agent_auth_t *a) { return a->cfg.now_ms ? a->cfg.now_ms() : wall_ms(); }
kf_agents_t *kf_agent_auth_store(kf_agent_auth_t *a) { return a->cfg.store; }
int64_t kf_agent_auth_token_ttl_ms(kf_agent_auth_t *a) { return a->cfg.token_ttl_ms; }
int64_t kf_agent_auth_heartbeat_timeout_ms(kf_agent_auth_t *a) { return a->cfg.heartbeat_timeout_ms; }

kf_agent_auth_t *kf_agent_auth_new(const kf_agent_auth_config_t *cfg, char *err, size_t errlen) {
    if (!cfg->store || sodium_init() < 0) {
        snprintf(err, errlen, "agent auth needs a store and libsodium");
        return NULL;
    }
    kf_agent_auth_t *a = calloc(1, sizeof *a);
    if (!a) goto oom;
    a->cfg = *cfg;
    if (!a->cfg.token_ttl_ms) a->cfg.token_ttl_ms = 12 * 3600 * 1000LL;
    if (!a->cfg.heartbeat_timeout_ms) a->cfg.heartbeat_timeout_ms = 60 * 1000;
    if (!a->cfg.max_failures) a->cfg.max_failures = 5;
    if (!a->cfg.failure_window_ms) a->cfg.failure_window_ms = 60 * 1000;
    if (!a->cfg.hash_workers) a->cfg.hash_workers = 2;
    if (!a->cfg.hash_queue) a->cfg.hash_queue = 64;
    pthread_mutex_init(&a->mu, NULL);
    a->tokens = calloc(TOKEN_BUCKETS, sizeof *a->tokens);
    a->presence = calloc(PRESENCE_BUCKETS, sizeof *a->presence);
    a->throttle = calloc(THROTTLE_SLOTS, sizeof *a->throttle);
    if (!a->tokens || !a->presence || !a->throttle) goto oom;
    if (!(a->pool = kf_agent_pool_new(a, a->cfg.hash_workers, a->cfg.hash_queue))) goto oom;
    return a;
oom:
    snprintf(err, errlen, "agent auth: out of memory or no threads");
    kf_agent_auth_free(a);
    return NULL;
}

void kf_agent_auth_free(kf_agent_auth_t *a) {
    if (!a) return;
    kf_agent_pool_free(a->pool); /* first: workers touch the tables */
    for (size_t i = 0; a->tokens && i < TOKEN_BUCKETS; i++)
        for (struct tok *t = a->tokens[i], *n; t; t = n) {
            n = t->next;
            sodium_memzero(t, sizeof *t);
            free(t);
        }
    for (size_t i = 0; a->presence && i < PRESENCE_BUCKETS; i++)
        for (struct presence *p = a->presence[i], *n; p; p = n) {
            n = p->next;
            free(p);
        }
    free(a->tokens);
    free(a->presence);
    free(a->throttle);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* ---- tokens ---- */

static size_t drop_tokens(kf_agent_auth_t *a, const char *agent_id, int64_t now);

static void digest_of(const char *token, size_t len, unsigned char d[crypto_generichash_BYTES]) {
    crypto_generichash(d, crypto_generichash_BYTES, (const unsigned char *)token, len, NULL, 0);
}

static size_t bucket_of(const unsigned char d[crypto_generichash_BYTES]) {
    size_t h;
    memcpy(&h, d, sizeof h); /* the digest is uniform: its first bytes are a fine index */
    return h & (TOKEN_BUCKETS - 1);
}

int kf_agent_auth_issue(kf_agent_auth_t *a, const char *agent_id, char token[KF_AGENT_TOKEN_LEN + 1],
                        int64_t *expires_at_ms) {
    unsigned char raw[32];
    struct tok *t = calloc(1, sizeof *t);
    if (!t || !kf_agents_valid_id(agent_id)) {
        free(t);
        return -1;
    }
    randombytes_buf(raw, sizeof raw);
    memcpy(token, TOKEN_PREFIX, 4);
    sodium_bin2base64(token + 4, KF_AGENT_TOKEN_LEN + 1 - 4, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    digest_of(token, KF_AGENT_TOKEN_LEN, t->digest);
    snprintf(t->agent_id, sizeof t->agent_id, "%s", agent_id);
    t->expires_at = kf_agent_auth_now(a) + a->cfg.token_ttl_ms;
    if (expires_at_ms) *expires_at_ms = t->expires_at;
    size_t b = bucket_of(t->digest);
    pthread_mutex_lock(&a->mu);
    if (++a->issued % SWEEP_EVERY == 0) drop_tokens(a, NULL, kf_agent_auth_now(a));
    t->next = a->tokens[b];
    a->tokens[b] = t;
    a->ntokens++;
    pthread_mutex_unlock(&a->mu);
    return 0;
}

/* The link pointing at the token with digest d, or NULL.  Caller holds mu. */
static struct tok **find_token(kf_agent_auth_t *a, const unsigned char d[crypto_generichash_BYTES]) {
    for (struct tok **pp = &a->tokens[bucket_of(d)]; *pp; pp = &(*pp)->next)
        if (sodium_memcmp((*pp)->digest, d, crypto_generichash_BYTES) == 0) return pp;
    return NULL;
}

static void unlink_token(kf_agent_auth_t *a, struct tok **pp) {
    struct tok *t = *pp;
    *pp = t->next;
    sodium_memzero(t, sizeof *t);
    free(t);
    a->ntokens--;
}

static int token_shape_ok(const char *token, size_t len) {
    return token && len == KF_AGENT_TOKEN_LEN && !memcmp(token, TOKEN_PREFIX, 4);
}

int kf_agent_auth_lookup(kf_agent_auth_t *a, const char *token, size_t len, char agent_id[KF_AGENT_ID_MAX + 1],
                         int64_t *expires_at_ms) {
    if (!token_shape_ok(token, len)) return 0;
    unsigned char d[crypto_generichash_BYTES];
    digest_of(token, len, d);
    int64_t now = kf_agent_auth_now(a);
    int found = 0;
    pthread_mutex_lock(&a->mu);
    struct tok **pp = find_token(a, d);
    if (pp && (*pp)->expires_at <= now) unlink_token(a, pp);
    else if (pp) {
        memcpy(agent_id, (*pp)->agent_id, sizeof (*pp)->agent_id);
        if (expires_at_ms) *expires_at_ms = (*pp)->expires_at;
        found = 1;
    }
    pthread_mutex_unlock(&a->mu);
    return found;
}

int kf_agent_auth_revoke(kf_agent_auth_t *a, const char *token, size_t len) {
    if (!token_shape_ok(token, len)) return 0;
    unsigned char d[crypto_generichash_BYTES];
    digest_of(token, len, d);
    pthread_mutex_lock(&a->mu);
    struct tok **pp = find_token(a, d);
    if (pp) unlink_token(a, pp);
    pthread_mutex_unlock(&a->mu);
    return pp != NULL;
}

/* Drops tokens matching agent_id (or, with agent_id NULL, expired ones).  Caller holds mu. */
static size_t drop_tokens(kf_agent_auth_t *a, const char *agent_id, int64_t now) {
    size_t n = 0;
    for (size_t i = 0; i < TOKEN_BUCKETS; i++)
        for (struct tok **pp = &a->tokens[i]; *pp;) {
            int drop = agent_id ? !strcmp((*pp)->agent_id, agent_id) : (*pp)->expires_at <= now;
            if (drop) {
                unlink_token(a, pp);
                n++;
            } else pp = &(*pp)->next;
        }
    return n;
}

size_t kf_agent_auth_revoke_agent(kf_agent_auth_t *a, const char *agent_id) {
    pthread_mutex_lock(&a->mu);
    size_t n = drop_tokens(a, agent_id, 0);
    pthread_mutex_unlock(&a->mu);
    return n;
}

size_t kf_agent_auth_token_count(kf_agent_auth_t *a) {
    pthread_mutex_lock(&a->mu);
    size_t n = a->ntokens;
    pthread_mutex_unlock(&a->mu);
    return n;
}

size_t kf_agent_auth_sweep(kf_agent_auth_t *a) {
    int64_t now = kf_agent_auth_now(a);
    pthread_mutex_lock(&a->mu);
    size_t n = drop_tokens(a, NULL, now);
    pthread_mutex_unlock(&a->mu);
    return n;
}

/* ---- presence ---- */

static const char *const status_names[] = {"offline", "online", "away"};

const char *kf_agent_status_name(kf_agent_status_t s) {
    return (unsigned)s < 3 ? status_names[s] : "offline";
}

int kf_agent_status_parse(const char *s) {
    for (int i = 0; s && i < 3; i++)
        if (!strcmp(s, status_names[i])) return i;
    return -1;
}

static size_t id_bucket(const char *id) {
    size_t h = 5381;
    for (; *id; id++) h = h * 33 + (unsigned char)*id;
    return h & (PRESENCE_BUCKETS - 1);
}

/* The agent's presence record, created when create is set.  Caller holds mu. */
static struct presence *presence_of(kf_agent_auth_t *a, const char *id, int create) {
    size_t b = id_bucket(id);
    for (struct presence *p = a->presence[b]; p; p = p->next)
        if (!strcmp(p->agent_id, id)) return p;
    if (!create) return NULL;
    struct presence *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    snprintf(p->agent_id, sizeof p->agent_id, "%s", id);
    p->next = a->presence[b];
    a->presence[b] = p;
    return p;
}

int kf_agent_auth_set_status(kf_agent_auth_t *a, const char *agent_id, kf_agent_status_t s) {
    if (!kf_agents_valid_id(agent_id) || (unsigned)s > KF_AGENT_AWAY) return -1;
    int64_t now = kf_agent_auth_now(a);
    pthread_mutex_lock(&a->mu);
    struct presence *p = presence_of(a, agent_id, 1);
    if (p) {
        p->chosen = s;
        p->last_seen = now;
    }
    pthread_mutex_unlock(&a->mu);
    return p ? 0 : -1;
}

void kf_agent_auth_touch(kf_agent_auth_t *a, const char *agent_id) {
    if (!kf_agents_valid_id(agent_id)) return;
    int64_t now = kf_agent_auth_now(a);
    pthread_mutex_lock(&a->mu);
    struct presence *p = presence_of(a, agent_id, 1);
    if (p) p->last_seen = now;
    pthread_mutex_unlock(&a->mu);
}

kf_agent_status_t kf_agent_auth_status(kf_agent_auth_t *a, const char *agent_id, int64_t *last_seen_ms) {
    int64_t now = kf_agent_auth_now(a);
    kf_agent_status_t s = KF_AGENT_OFFLINE;
    int64_t seen = 0;
    pthread_mutex_lock(&a->mu);
    struct presence *p = presence_of(a, agent_id, 0);
    if (p) {
        seen = p->last_seen;
        s = now - p->last_seen > a->cfg.heartbeat_timeout_ms ? KF_AGENT_OFFLINE : p->chosen;
    }
    pthread_mutex_unlock(&a->mu);
    if (last_seen_ms) *last_seen_ms = seen;
    return s;
}

/* ---- failed-login throttle: fixed windows per key ---- */

/* The slot for key: its own, else an empty or stale one, else — the probe
 * run being full of live windows — one that is not throttled (oldest
 * first), so a flood of fresh keys cannot wipe a key that is being held
 * back.  Caller holds mu. */
static int evict_before(kf_agent_auth_t *a, const struct throttle *t, const struct throttle *than) {
    (void)a;
    int t_held = t->failures >= t->limit, than_held = than->failures >= than->limit;
    if (t_held != than_held) return !t_held;
    return t->window_start < than->window_start;
}

static struct throttle *throttle_slot(kf_agent_auth_t *a, const char *key, int64_t now) {
    size_t h = 2166136261u;
    for (const char *c = key; *c; c++) h = (h ^ (unsigned char)*c) * 16777619u;
    struct throttle *spare = NULL;
    int spare_stale = 0;
    for (size_t i = 0; i < THROTTLE_PROBE; i++) {
        struct throttle *t = &a->throttle[(h + i) & (THROTTLE_SLOTS - 1)];
        if (!strcmp(t->key, key)) return t;
        int stale = !t->key[0] || now - t->window_start >= a->cfg.failure_window_ms;
        if (stale && !spare_stale) {
            spare = t;
            spare_stale = 1;
        } else if (!spare_stale && (!spare || evict_before(a, t, spare))) spare = t;
    }
    snprintf(spare->key, sizeof spare->key, "%s", key);
    spare->window_start = now;
    spare->failures = 0;
    return spare;
}

int64_t kf_agent_auth_throttled(kf_agent_auth_t *a, const char *key, int limit) {
    int64_t now = kf_agent_auth_now(a), wait = 0;
    pthread_mutex_lock(&a->mu);
    struct throttle *t = throttle_slot(a, key, now);
    t->limit = limit > 0 ? limit : a->cfg.max_failures;
    if (now - t->window_start >= a->cfg.failure_window_ms) {
        t->window_start = now;
        t->failures = 0;
    } else if (t->failures >= t->limit) wait = t->window_start + a->cfg.failure_window_ms - now;
    pthread_mutex_unlock(&a->mu);
    return wait;
}

void kf_agent_auth_failed(kf_agent_auth_t *a, const char *key, int limit) {
    int64_t now = kf_agent_auth_now(a);
    pthread_mutex_lock(&a->mu);
    struct throttle *t = throttle_slot(a, key, now);
    t->limit = limit > 0 ? limit : a->cfg.max_failures;
    if (now - t->window_start >= a->cfg.failure_window_ms) {
        t->window_start = now;
        t->failures = 0;
    }
    t->failures++;
    pthread_mutex_unlock(&a->mu);
}

void kf_agent_auth_clear_failures(kf_agent_auth_t *a, const char *key) {
    int64_t now = kf_agent_auth_now(a);
    pthread_mutex_lock(&a->mu);
    struct throttle *t = throttle_slot(a, key, now);
    t->failures = 0;
    pthread_mutex_unlock(&a->mu);
}
