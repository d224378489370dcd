/* bus_mem.c — the in-process EventBus (see bus.h for the contract).
 *
 * Shape.  Topics live in a hash map split into lock stripes, so publishers
 * on different topics rarely meet on a lock.  Each topic holds its list of
 * subscriptions.  Each subscription is a mailbox: a bounded ring of pending
 * events, guarded by its own mutex, plus a "scheduled" bit saying whether a
 * drain is already posted to its loop.  Publish copies the event once into a
 * refcounted buffer, appends a reference to every mailbox of the topic and
 * posts a drain (kf_loop_post) only to mailboxes that had none scheduled, so
 * a burst costs one cross-thread post per subscriber, not one per event.
 *
 * Order.  A publisher appends to each mailbox under that mailbox's mutex, so
 * one thread's events reach every subscriber in the order it published them;
 * the drain pops them in ring order.
 *
 * Lifetime.  A subscription has a refcount: one for its owner (dropped by
 * unsubscribe) and one while a drain is posted.  Unsubscribe first unlinks
 * it from its topic (no publisher can reach it afterwards: publishers only
 * touch mailboxes they find under the stripe lock), then marks it cancelled
 * and empties its ring.  Because unsubscribe runs on the subscription's loop
 * thread, a drain either ran before it or runs after it and sees the cancel
 * flag before every callback; the memory stays valid until that drain has
 * dropped its reference.
 *
 * Locks: stripe, then mailbox, then h2o's queue lock (inside kf_loop_post).
 * No lock is held while a callback runs. */
#include "queue/bus.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "loop/loop.h"

#define NSTRIPES 16 /* power of two */
#define FIRST_BUCKETS 16

typedef struct bus_msg {
    atomic_size_t refs;
    size_t len;
    char data[]; /* len bytes + NUL */
} bus_msg_t;

typedef struct mem_bus mem_bus_t;
typedef struct topic topic_t;

typedef struct mem_sub {
    kf_bus_sub_t base;
    mem_bus_t *mb;
    kf_loop_t *loop;
    kf_bus_fn fn;
    void *ud;
    uint32_t hash;
    topic_t *topic;              /* guarded by the stripe lock */
    struct mem_sub *prev, *next; /* in topic->subs, same lock */
    atomic_int refs;
    pthread_mutex_t mu;          /* guards everything below */
    bus_msg_t **ring;
    size_t head, count, cap, bytes;
    int scheduled, cancelled, overflow;
    uint64_t lost;
    char name[KF_BUS_TOPIC_MAX + 1];
} mem_sub_t;

struct topic {
    topic_t *next; /* bucket chain */
    uint32_t hash;
    mem_sub_t *subs;
    char name[KF_BUS_TOPIC_MAX + 1];
};

typedef struct {
    pthread_mutex_t mu;
    topic_t **buckets;
    size_t nbuckets, ntopics;
} stripe_t;

struct mem_bus {
    kf_bus_t base;
    kf_bus_mem_config_t cfg;
    stripe_t stripes[NSTRIPES];
    atomic_uint_fast64_t published, delivered, dropped, subscribers;
};

/* ---- events ---- */

static bus_msg_t *msg_new(const char *json, size_t len) {
    bus_msg_t *m = malloc(sizeof *m + len + 1);
    if (!m) return NULL;
    atomic_init(&m->refs, 1);
    m->len = len;
    memcpy(m->data, json, len);
    m->data[len] = 0;
    return m;
}

static void msg_release(bus_msg_t *m) {
    if (atomic_fetch_sub(&m->refs, 1) == 1) free(m);
}

/* ---- topic map ---- */

static uint32_t hash_str(const char *s) {
    uint32_t h = 2166136261u; /* FNV-1a: short keys, no adversary beyond our own topic syntax */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static stripe_t *stripe_of(mem_bus_t *mb, uint32_t hash) { return &mb->stripes[hash & (NSTRIPES - 1)]; }

/* The stripe index uses the low bits, so buckets use the ones above them. */
static size_t bucket_of(const stripe_t *st, uint32_t hash) { return (hash >> 4) & (st->nbuckets - 1); }

static topic_t *topic_find(stripe_t *st, uint32_t hash, const char *name) {
    for (topic_t *t = st->buckets[bucket_of(st, hash)]; t; t = t->next)
        if (t->hash == hash && strcmp(t->name, name) == 0) return t;
    return NULL;
}

/* Doubles the bucket array; on OOM the map keeps working with longer chains. */
static void stripe_grow(stripe_t *st) {
    size_t n = st->nbuckets * 2;
    topic_t **b = calloc(n, sizeof *b);
    if (!b) return;
    topic_t **old = st->buckets;
    size_t oldn = st->nbuckets;
    st->buckets = b;
    st->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        while (old[i]) {
            topic_t *t = old[i];
            old[i] = t->next;
            size_t k = bucket_of(st, t->hash);
            t->next = b[k];
            b[k] = t;
        }
    }
    free(old);
}

static topic_t *topic_get_or_add(stripe_t *st, uint32_t hash, const char *name) {
    topic_t *t = topic_find(st, hash, name);
    if (t) return t;
    t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->hash = hash;
    strcpy(t->name, name); /* length checked by kf_bus_topic_valid */
    if (st->ntopics >= st->nbuckets * 2) stripe_grow(st);
    size_t k = bucket_of(st, hash);
    t->next = st->buckets[k];
    st->buckets[k] = t;
    st->ntopics++;
    return t;
}

static void topic_remove(stripe_t *st, topic_t *t) {
    for (topic_t **p = &st->buckets[bucket_of(st, t->hash)]; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            st->ntopics--;
            free(t);
            return;
        }
    }
}

/* ---- mailboxes ---- */

static void sub_release(mem_sub_t *s) {
    if (atomic_fetch_sub(&s->refs, 1) != 1) return;
    free(s->ring);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Room for one more event: the ring grows by doubling up to max_pending, so
 * idle subscriptions stay small. */
static int ring_reserve(mem_sub_t *s) {
    if (s->count < s->cap) return 0;
    size_t cap = s->cap ? s->cap * 2 : 16;
    if (cap > s->mb->cfg.max_pending) cap = s->mb->cfg.max_pending;
    bus_msg_t **r = malloc(cap * sizeof *r);
    if (!r) return -1;
    for (size_t i = 0; i < s->count; i++) r[i] = s->ring[(s->head + i) % s->cap];
    free(s->ring);
    s->ring = r;
    s->head = 0;
    s->cap = cap;
    return 0;
}

static bus_msg_t *ring_pop(mem_sub_t *s) {
    bus_msg_t *m = s->ring[s->head];
    s->head = (s->head + 1) % s->cap;
    s->count--;
    s->bytes -= m->len;
    return m;
}

static void drain(void *arg);

/* Called with s->mu held.  The posted drain owns one reference. */
static void schedule(mem_sub_t *s) {
    if (s->scheduled) return;
    atomic_fetch_add(&s->refs, 1);
    if (kf_loop_post(s->loop, drain, s) == 0) {
        s->scheduled = 1;
        return;
    }
    /* out of memory: the events wait in the ring and the next publish retries */
    atomic_fetch_sub(&s->refs, 1);
}

/* Called with the stripe lock held (s is linked, so alive).  1 when queued. */
static int enqueue(mem_sub_t *s, bus_msg_t *m) {
    const kf_bus_mem_config_t *cfg = &s->mb->cfg;
    int ok = 0;
    pthread_mutex_lock(&s->mu);
    if (!s->overflow && s->count < cfg->max_pending && s->bytes + m->len <= cfg->max_pending_bytes &&
        ring_reserve(s) == 0) {
        s->ring[(s->head + s->count) % s->cap] = m;
        s->count++;
        s->bytes += m->len;
        atomic_fetch_add(&m->refs, 1);
        ok = 1;
    } else {
        /* dropping until the consumer catches up keeps the gap in one place */
        s->overflow = 1;
        s->lost++;
        atomic_fetch_add(&s->mb->dropped, 1);
    }
    schedule(s);
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static void deliver(mem_sub_t *s, const kf_bus_event_t *ev) {
    if (!(ev->flags & KF_BUS_OVERFLOW)) atomic_fetch_add(&s->mb->delivered, 1);
    s->fn(&s->base, ev, s->ud);
}

/* Runs on the subscription's loop: delivers held events, then the overflow
 * notice if any; after cfg.batch events it re-posts itself so one busy
 * subscription cannot starve the rest of its loop. */
static void drain(void *arg) {
    mem_sub_t *s = arg;
    for (size_t n = 0;; n++) {
        pthread_mutex_lock(&s->mu);
        if (s->cancelled) {
            s->scheduled = 0;
            pthread_mutex_unlock(&s->mu);
            break;
        }
        if (n == s->mb->cfg.batch) {
            n = 0;
            if (kf_loop_post(s->loop, drain, s) == 0) { /* our reference moves to the new post */
                pthread_mutex_unlock(&s->mu);
                return;
            }
        }
        if (s->count) {
            bus_msg_t *m = ring_pop(s);
            pthread_mutex_unlock(&s->mu);
            kf_bus_event_t ev = {.topic = s->name, .json = m->data, .len = m->len};
            deliver(s, &ev);
            msg_release(m);
        } else if (s->overflow) {
            kf_bus_event_t ev = {.topic = s->name, .flags = KF_BUS_OVERFLOW, .lost = s->lost};
            s->overflow = 0;
            s->lost = 0;
            pthread_mutex_unlock(&s->mu);
            deliver(s, &ev);
        } else {
            s->scheduled = 0;
            pthread_mutex_unlock(&s->mu);
            break;
        }
    }
    sub_release(s);
}

/* ---- operations ---- */

static kf_bus_sub_t *mem_subscribe(kf_bus_t *b, const char *topic, kf_loop_t *loop, kf_bus_fn fn, void *ud) {
    mem_bus_t *mb = (mem_bus_t *)b;
    mem_sub_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.bus = b;
    s->base.id = kf_bus_new_sub_id();
    s->mb = mb;
    s->loop = loop;
    s->fn = fn;
    s->ud = ud;
    s->hash = hash_str(topic);
    strcpy(s->name, topic);
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->mu, NULL);
    stripe_t *st = stripe_of(mb, s->hash);
    pthread_mutex_lock(&st->mu);
    topic_t *t = topic_get_or_add(st, s->hash, topic);
    if (t) {
        s->topic = t;
        s->next = t->subs;
        if (t->subs) t->subs->prev = s;
        t->subs = s;
    }
    pthread_mutex_unlock(&st->mu);
    if (!t) {
        sub_release(s);
        return NULL;
    }
    atomic_fetch_add(&mb->subscribers, 1);
    return &s->base;
}

static void mem_unsubscribe(kf_bus_sub_t *base) {
    mem_sub_t *s = (mem_sub_t *)base;
    mem_bus_t *mb = s->mb;
    stripe_t *st = stripe_of(mb, s->hash);
    pthread_mutex_lock(&st->mu);
    topic_t *t = s->topic;
    if (s->prev) s->prev->next = s->next;
    else t->subs = s->next;
    if (s->next) s->next->prev = s->prev;
    if (!t->subs) topic_remove(st, t);
    pthread_mutex_unlock(&st->mu);

    pthread_mutex_lock(&s->mu);
    s->cancelled = 1;
    while (s->count) msg_release(ring_pop(s));
    s->overflow = 0;
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_sub(&mb->subscribers, 1);
    sub_release(s);
}

static int mem_publish(kf_bus_t *b, const char *topic, const char *json, size_t len) {
    mem_bus_t *mb = (mem_bus_t *)b;
    uint32_t h = hash_str(topic);
    stripe_t *st = stripe_of(mb, h);
    int n = 0;
    pthread_mutex_lock(&st->mu);
    topic_t *t = topic_find(st, h, topic);
    if (t) {
        bus_msg_t *m = msg_new(json, len);
        if (!m) {
            pthread_mutex_unlock(&st->mu);
            return KF_BUS_NOMEM;
        }
        for (mem_sub_t *s = t->subs; s; s = s->next) n += enqueue(s, m);
        msg_release(m);
    }
    pthread_mutex_unlock(&st->mu);
    atomic_fetch_add(&mb->published, 1);
    return n;
}

static int mem_listeners(kf_bus_t *b, const char *topic, uint64_t except) {
    mem_bus_t *mb = (mem_bus_t *)b;
    uint32_t h = hash_str(topic);
    stripe_t *st = stripe_of(mb, h);
    int n = 0;
    pthread_mutex_lock(&st->mu);
    topic_t *t = topic_find(st, h, topic);
    for (mem_sub_t *s = t ? t->subs : NULL; s; s = s->next) n += s->base.id != except;
    pthread_mutex_unlock(&st->mu);
    return n;
}

static void mem_stats(kf_bus_t *b, kf_bus_stats_t *out) {
    mem_bus_t *mb = (mem_bus_t *)b;
    out->published = atomic_load(&mb->published);
    out->delivered = atomic_load(&mb->delivered);
    out->dropped = atomic_load(&mb->dropped);
    out->subscribers = atomic_load(&mb->subscribers);
}

static void mem_destroy(kf_bus_t *b) {
    mem_bus_t *mb = (mem_bus_t *)b;
    for (int i = 0; i < NSTRIPES; i++) {
        stripe_t *st = &mb->stripes[i];
        /* topics exist only while subscribed; none are left by contract */
        free(st->buckets);
        pthread_mutex_destroy(&st->mu);
    }
    free(mb);
}

static const kf_bus_ops_t mem_ops = {
    .subscribe = mem_subscribe,
    .unsubscribe = mem_unsubscribe,
    .publish = mem_publish,
    .listeners = mem_listeners,
    .stats = mem_stats,
    .destroy = mem_destroy,
};

kf_bus_t *kf_bus_mem_new(const kf_bus_mem_config_t *cfg) {
    mem_bus_t *mb = calloc(1, sizeof *mb);
    if (!mb) return NULL;
    mb->base.ops = &mem_ops;
    if (cfg) mb->cfg = *cfg;
    if (!mb->cfg.max_pending) mb->cfg.max_pending = 1024;
    if (!mb->cfg.max_pending_bytes) mb->cfg.max_pending_bytes = 1024 * 1024;
    if (!mb->cfg.batch) mb->cfg.batch = 256;
    for (int i = 0; i < NSTRIPES; i++) {
        stripe_t *st = &mb->stripes[i];
        pthread_mutex_init(&st->mu, NULL);
        st->nbuckets = FIRST_BUCKETS;
        st->buckets = calloc(FIRST_BUCKETS, sizeof *st->buckets);
        if (!st->buckets) {
            for (int j = 0; j <= i; j++) {
                free(mb->stripes[j].buckets);
                pthread_mutex_destroy(&mb->stripes[j].mu);
            }
            free(mb);
            return NULL;
        }
    }
    return &mb->base;
}
