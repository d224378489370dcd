/* Unit tests for queue/bus_mem.c under volume: thousands of topics on two
 * loops, and 4 publisher threads x 10k events to 3 subscribers on their own
 * loops, each event received exactly once and in each publisher's order. */
#include "bus_fixture.h"

Test(bus, many_topics_each_hear_only_their_own) {
    enum { N = 3000 };
    kf_bus_t *b = kf_bus_mem_new(NULL);
    runner_t run[2];
    runner_start(&run[0]);
    runner_start(&run[1]);
    static rec_t rec[N];
    static char topics[N][KF_BUS_TOPIC_MAX + 1];
    static kf_bus_sub_t *subs[N];
    memset(rec, 0, sizeof rec);
    for (int i = 0; i < N; i++) {
        char id[33];
        snprintf(id, sizeof id, "%032x", i * 7919);
        cr_assert_eq(kf_bus_topic(topics[i], "conv", id), 0);
        rec[i].expect_topic = topics[i];
        subs[i] = kf_bus_subscribe(b, topics[i], run[i % 2].loop, on_event, &rec[i]);
        cr_assert_not_null(subs[i]);
    }
    for (int i = 0; i < N; i++) cr_assert_eq(pub(b, topics[i], 0, 0), 1);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(wait_count(&rec[i].n, 1, 5000), 1, "topic %d", i);
        cr_assert_eq(atomic_load(&rec[i].errors), 0);
    }
    for (int k = 0; k < 2; k++) {
        unsub_set_t u = {subs, N, k, 2};
        run_on(&run[k], unsub_set, &u);
        runner_stop(&run[k]);
    }
    kf_bus_stats_t st;
    kf_bus_stats(b, &st);
    cr_assert_eq(st.subscribers, 0);
    cr_assert_eq(st.delivered, N);
    cr_assert_eq(pub(b, topics[5], 0, 1), 0);
    kf_bus_destroy(b);
}

enum { NPUB = 4, PER_PUB = 10000 };
typedef struct {
    kf_bus_t *bus;
    int p;
} pub_arg_t;

static void *publisher(void *arg) {
    pub_arg_t *a = arg;
    for (int i = 0; i < PER_PUB; i++) pub(a->bus, CONV_A, a->p, i);
    return NULL;
}

Test(bus, concurrent_publishers_every_event_once_in_publisher_order, .timeout = 60) {
    /* bounds large enough that nothing may be dropped: exactly-once is then required */
    kf_bus_mem_config_t cfg = {.max_pending = NPUB * PER_PUB, .max_pending_bytes = 64u << 20};
    kf_bus_t *b = kf_bus_mem_new(&cfg);
    runner_t run[3];
    rec_t rec[3] = {0};
    kf_bus_sub_t *subs[3];
    for (int i = 0; i < 3; i++) {
        runner_start(&run[i]);
        rec[i].expect_thread = run[i].th;
        subs[i] = kf_bus_subscribe(b, CONV_A, run[i].loop, on_event, &rec[i]);
    }
    pthread_t th[NPUB];
    pub_arg_t args[NPUB];
    for (int p = 0; p < NPUB; p++) {
        args[p] = (pub_arg_t){b, p};
        pthread_create(&th[p], NULL, publisher, &args[p]);
    }
    for (int p = 0; p < NPUB; p++) pthread_join(th[p], NULL);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(wait_count(&rec[i].n, NPUB * PER_PUB, 30000), NPUB * PER_PUB, "subscriber %d", i);
    }
    nap_ms(20); /* a duplicate would arrive now */
    for (int i = 0; i < 3; i++) {
        unsubscribe_on(&run[i], subs[i]);
        runner_stop(&run[i]);
        cr_assert_eq(atomic_load(&rec[i].n), NPUB * PER_PUB);
        cr_assert_eq(atomic_load(&rec[i].errors), 0, "subscriber %d: out of order or wrong thread", i);
        cr_assert_eq(atomic_load(&rec[i].overflows), 0);
        for (int p = 0; p < NPUB; p++) cr_assert_eq(rec[i].next[p], PER_PUB);
    }
    kf_bus_stats_t st;
    kf_bus_stats(b, &st);
    cr_assert_eq(st.published, NPUB * PER_PUB);
    cr_assert_eq(st.delivered, 3ull * NPUB * PER_PUB);
    cr_assert_eq(st.dropped, 0);
    kf_bus_destroy(b);
}
