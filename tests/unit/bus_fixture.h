/* bus_fixture.h — shared helpers for the test_queue_bus*.c unit tests.
 *
 * Loops either run on their own threads (runner_t) or are driven by the test
 * thread, which then stands in for the loop's thread (as the contract allows
 * while no other thread runs it).  Callbacks never call cr_assert (they run
 * on other threads); they record what they saw (rec_t) and the test thread
 * checks. */
#ifndef KF_TEST_BUS_FIXTURE_H
#define KF_TEST_BUS_FIXTURE_H

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "loop/loop.h"
#include "queue/bus.h"

#define CONV_A "conv:0123456789abcdef0123456789abcdef"
#define CONV_B "conv:fedcba9876543210fedcba9876543210"

typedef struct {
    kf_loop_t *loop;
    pthread_t th;
    atomic_int ready, stop;
} runner_t;

/* h2o recycles socket buffers through a per-thread pool of the thread that
 * created the socket, so each runner's loop is created, run and left on its
 * own thread (and never touched by the test thread, which only posts to it). */
static inline void *run_loop(void *arg) {
    runner_t *r = arg;
    r->loop = kf_loop_new();
    kf_loop_set_current(r->loop);
    atomic_store(&r->ready, 1);
    while (!atomic_load(&r->stop)) kf_loop_run_once(r->loop, 5);
    for (int i = 0; i < 5; i++) kf_loop_run_once(r->loop, 1); /* cancelled drains drop their references */
    kf_loop_free(r->loop);
    return NULL;
}

static inline void nap_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static inline void runner_start(runner_t *r) {
    atomic_init(&r->ready, 0);
    atomic_init(&r->stop, 0);
    pthread_create(&r->th, NULL, run_loop, r);
    while (!atomic_load(&r->ready)) nap_ms(1);
}

static inline void runner_stop(runner_t *r) {
    atomic_store(&r->stop, 1);
    pthread_join(r->th, NULL);
}

/* Runs fn(arg) on the runner's loop thread and waits for it. */
typedef struct {
    void (*fn)(void *);
    void *arg;
    atomic_int done;
} call_t;
static inline void call_tramp(void *a) {
    call_t *c = a;
    c->fn(c->arg);
    atomic_store(&c->done, 1);
}
static inline void run_on(runner_t *r, void (*fn)(void *), void *arg) {
    call_t c = {fn, arg};
    atomic_init(&c.done, 0);
    cr_assert_eq(kf_loop_post(r->loop, call_tramp, &c), 0);
    while (!atomic_load(&c.done)) nap_ms(1);
}

/* Unsubscribes subs[first], subs[first + step], ... below n. */
typedef struct {
    kf_bus_sub_t **subs;
    int n, first, step;
} unsub_set_t;
static inline void unsub_set(void *a) {
    unsub_set_t *u = a;
    for (int i = u->first; i < u->n; i += u->step) kf_bus_unsubscribe(u->subs[i]);
}
static inline void unsubscribe_on(runner_t *r, kf_bus_sub_t *s) {
    unsub_set_t u = {&s, 1, 0, 1};
    run_on(r, unsub_set, &u);
}

/* Runs a loop owned by the test thread so that drains still posted drop their references. */
static inline void settle(kf_loop_t *l) {
    for (int i = 0; i < 5; i++) kf_loop_run_once(l, 1);
}

#define MAXREC 64
typedef struct {
    atomic_int n;      /* events seen */
    atomic_int errors; /* wrong thread, topic, order, or flags */
    atomic_int overflows;
    uint64_t lost;
    pthread_t expect_thread;
    const char *expect_topic;
    int next[8];       /* per publisher: next expected sequence number */
    char first[MAXREC][32];
} rec_t;

/* Events look like {"p":P,"i":I}; each publisher's I must arrive in order. */
static inline void on_event(kf_bus_sub_t *sub, const kf_bus_event_t *ev, void *ud) {
    (void)sub;
    rec_t *r = ud;
    if (r->expect_thread && !pthread_equal(r->expect_thread, pthread_self())) atomic_fetch_add(&r->errors, 1);
    if (r->expect_topic && strcmp(r->expect_topic, ev->topic) != 0) atomic_fetch_add(&r->errors, 1);
    if (ev->flags & KF_BUS_OVERFLOW) {
        if (ev->json) atomic_fetch_add(&r->errors, 1);
        r->lost += ev->lost;
        atomic_fetch_add(&r->overflows, 1);
        return;
    }
    int p, i;
    if (sscanf(ev->json, "{\"p\":%d,\"i\":%d}", &p, &i) != 2 || p < 0 || p >= 8 || r->next[p] != i ||
        ev->json[ev->len] != 0) {
        atomic_fetch_add(&r->errors, 1);
    } else {
        r->next[p]++;
    }
    int k = atomic_load(&r->n);
    if (k < MAXREC) snprintf(r->first[k], sizeof r->first[k], "%s", ev->json);
    atomic_fetch_add(&r->n, 1);
}

static inline int pub(kf_bus_t *b, const char *topic, int p, int i) {
    char m[32];
    int n = snprintf(m, sizeof m, "{\"p\":%d,\"i\":%d}", p, i);
    return kf_bus_publish(b, topic, m, (size_t)n);
}

static inline int wait_count(atomic_int *n, int target, int ms) {
    uint64_t until = kf_loop_now_ms() + (uint64_t)ms;
    while (atomic_load(n) < target && kf_loop_now_ms() < until) nap_ms(1);
    return atomic_load(n);
}

#endif
