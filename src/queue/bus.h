/* bus.h — the EventBus interface: publish/subscribe of small JSON events by topic.
 *
 * Human handoff needs events to cross loops: a customer's message arrives on
 * one event-loop thread while the agent watching that conversation is
 * connected to another (and, with several nodes, to another process).  The
 * bus carries those events.  The in-process implementation (bus_mem.c) serves
 * one node; a Redis pub/sub implementation plugs in behind the same table of
 * functions, with the topics below used as channel names.
 *
 * Topics are strings:
 *   conv:<32 lowercase hex>   one conversation (customer widget, owning agent)
 *   agent:<id>                one agent's consoles (offers, transfers, status)
 *   skill:<slug>              everybody watching one skill queue (queue changes)
 *   agents                    every agent console (presence, queue totals)
 * <id> and <slug> follow the agent id rule (^[a-z0-9][a-z0-9_-]{0,31}$).
 * Anything else is KF_BUS_INVALID, so a typo cannot create a topic nobody
 * listens to.  Messages are JSON texts the bus never parses, 1 byte to
 * KF_BUS_MAX_MSG; callers keep them small (an id and a few fields) and let
 * receivers read details from the stores.
 *
 * Delivery rule.  A callback always runs on the loop given at subscribe, from
 * that loop's own dispatch, never inside kf_bus_publish — even when the
 * publisher runs on the same loop — so a publisher never re-enters its
 * subscribers' code while holding its own state.  Events published by one
 * thread to one topic reach each subscriber in publication order; events of
 * different publishers interleave in some order, which may differ between
 * subscribers.  Publishing never blocks on a loop.
 *
 * Bounds.  Each subscription holds at most a fixed number (and byte total) of
 * undelivered events (kf_bus_mem_config_t).  An event beyond the bound is
 * dropped for that subscriber and counted; the subscriber then drops every
 * further event until it has consumed what it holds, and is told so by one
 * delivery with KF_BUS_OVERFLOW set (json NULL, lost = the number dropped)
 * after its last held event.  A consumer receiving it has missed events and
 * must resynchronise from the stores (e.g. reload the transcript).  A stuck
 * loop thus costs at most the bound, never unbounded memory.
 *
 * Threads.  subscribe and publish may be called from any thread.
 * kf_bus_unsubscribe must be called on the subscription's loop thread (or
 * while no thread runs that loop); after it returns the callback never runs
 * again, even for events already on their way.  Callbacks may publish,
 * subscribe and unsubscribe (any subscription of their loop, themselves
 * included). */
#ifndef KF_QUEUE_BUS_H
#define KF_QUEUE_BUS_H

#include <stddef.h>
#include <stdint.h>

typedef struct kf_loop kf_loop_t;

enum { KF_BUS_OK = 0, KF_BUS_INVALID = -1, KF_BUS_NOMEM = -3 };

#define KF_BUS_MAX_MSG (64 * 1024)   /* largest event, bytes */
#define KF_BUS_TOPIC_MAX 48          /* topic buffer, bytes without NUL (the longest valid topic is 38) */

enum { KF_BUS_OVERFLOW = 1 };

typedef struct kf_bus_event {
    const char *topic;
    const char *json;  /* NUL-terminated; NULL with KF_BUS_OVERFLOW */
    size_t len;
    unsigned flags;    /* KF_BUS_OVERFLOW */
    uint64_t lost;     /* with KF_BUS_OVERFLOW: events dropped for this subscriber */
} kf_bus_event_t;

typedef struct kf_bus_sub kf_bus_sub_t;
/* The event and its text are valid only during the call. */
typedef void (*kf_bus_fn)(kf_bus_sub_t *sub, const kf_bus_event_t *ev, void *ud);

typedef struct kf_bus_stats {
    uint64_t published;   /* accepted publish calls */
    uint64_t delivered;   /* callback runs with an event */
    uint64_t dropped;     /* events lost to subscription bounds */
    uint64_t subscribers; /* live subscriptions */
} kf_bus_stats_t;

typedef struct kf_bus kf_bus_t;
typedef struct kf_bus_ops {
    kf_bus_sub_t *(*subscribe)(kf_bus_t *b, const char *topic, kf_loop_t *loop, kf_bus_fn fn, void *ud);
    void (*unsubscribe)(kf_bus_sub_t *s);
    /* Subscribers that will receive the event (>= 0), or a KF_BUS_ error. */
    int (*publish)(kf_bus_t *b, const char *topic, const char *json, size_t len);
    /* Optional: subscriptions of topic other than the one with id except
     * (0: none excepted).  NULL in a bus that cannot tell (other nodes). */
    int (*listeners)(kf_bus_t *b, const char *topic, uint64_t except);
    void (*stats)(kf_bus_t *b, kf_bus_stats_t *out);
    void (*destroy)(kf_bus_t *b);
} kf_bus_ops_t;

struct kf_bus {
    const kf_bus_ops_t *ops;
};
/* Every implementation's subscription starts with this. */
struct kf_bus_sub {
    kf_bus_t *bus;
    uint64_t id; /* kf_bus_new_sub_id(), set before the subscription is reachable */
};
/* For implementations: a fresh subscription id (never 0, never reused). */
uint64_t kf_bus_new_sub_id(void);

/* ---- generic calls (bus.c): argument checks, then the implementation ---- */

int kf_bus_topic_valid(const char *topic);
/* Writes "<kind>:<id>" ("conv", "agent", "skill") into out; -1 when not a valid topic. */
int kf_bus_topic(char out[KF_BUS_TOPIC_MAX + 1], const char *kind, const char *id);

/* NULL on an invalid topic, a NULL loop or fn, or OOM. */
kf_bus_sub_t *kf_bus_subscribe(kf_bus_t *b, const char *topic, kf_loop_t *loop, kf_bus_fn fn, void *ud);
void kf_bus_unsubscribe(kf_bus_sub_t *s);
int kf_bus_publish(kf_bus_t *b, const char *topic, const char *json, size_t len);
/* The subscription's id (0 for NULL): unlike its address, never reused, so a
 * publisher may hold it beyond the subscription's life. */
uint64_t kf_bus_sub_id(const kf_bus_sub_t *s);
/* Whether publishing to topic now would reach anyone besides the
 * subscription with id except: 0 only when surely nobody (a publisher may
 * then skip building the event; a subscription made a moment later is one
 * made after the publish).  A bus that cannot tell answers 1; NULL bus or an
 * invalid topic, 0. */
int kf_bus_listeners(kf_bus_t *b, const char *topic, uint64_t except);
void kf_bus_stats(kf_bus_t *b, kf_bus_stats_t *out);
/* Every subscription must be unsubscribed (and its loop run once) first. */
void kf_bus_destroy(kf_bus_t *b);

/* ---- in-process implementation (bus_mem.c) ---- */

typedef struct {
    size_t max_pending;        /* undelivered events per subscription (default 1024) */
    size_t max_pending_bytes;  /* their bytes (default 1 MiB) */
    size_t batch;              /* events per loop dispatch before yielding (default 256) */
} kf_bus_mem_config_t;

/* cfg may be NULL (defaults); zero fields take their defaults. */
kf_bus_t *kf_bus_mem_new(const kf_bus_mem_config_t *cfg);

#endif
