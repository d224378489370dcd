/* Unit tests for queue/bus*.c: the in-process EventBus's contract on real
 * kf_loops — topic checks, the delivery rule, fan-out, unsubscribe safety,
 * (un)subscribing inside callbacks, the pending bounds and overflow notice,
 * fairness on a shared loop.  Volume tests: test_queue_bus_load.c. */
#include "bus_fixture.h"

Test(bus, topics_and_sizes_are_checked) {
    cr_assert(kf_bus_topic_valid(CONV_A));
    cr_assert(kf_bus_topic_valid("agent:alice_01"));
    cr_assert(kf_bus_topic_valid("skill:cards"));
    cr_assert(kf_bus_topic_valid("agents"));
    cr_assert(!kf_bus_topic_valid("conv:0123456789ABCDEF0123456789abcdef"), "uppercase hex");
    cr_assert(!kf_bus_topic_valid("conv:0123"));
    cr_assert(!kf_bus_topic_valid("agent:"));
    cr_assert(!kf_bus_topic_valid("agent:Alice"));
    cr_assert(!kf_bus_topic_valid("agent:-alice"), "a slug starts with a letter or digit");
    cr_assert(kf_bus_topic_valid("agent:a-b_c"));
    cr_assert(kf_bus_topic_valid("skill:abcdefghijklmnopqrstuvwxyz012345"), "32 characters");
    cr_assert(!kf_bus_topic_valid("skill:abcdefghijklmnopqrstuvwxyz0123456"), "33 characters");
    cr_assert(!kf_bus_topic_valid("conv:0123456789abcdef0123456789abcdef0"), "33 hex digits");
    cr_assert(!kf_bus_topic_valid("queue:cards"));
    cr_assert(!kf_bus_topic_valid(NULL));
    char t[KF_BUS_TOPIC_MAX + 1];
    cr_assert_eq(kf_bus_topic(t, "skill", "loans"), 0);
    cr_assert_str_eq(t, "skill:loans");
    cr_assert_eq(kf_bus_topic(t, "agent", "no spaces"), -1);

    kf_bus_t *b = kf_bus_mem_new(NULL);
    kf_loop_t *l = kf_loop_new();
    static char big[KF_BUS_MAX_MSG + 1];
    memset(big, ' ', sizeof big);
    cr_assert_eq(kf_bus_publish(b, CONV_A, big, KF_BUS_MAX_MSG + 1), KF_BUS_INVALID);
    cr_assert_eq(kf_bus_publish(b, CONV_A, big, KF_BUS_MAX_MSG), 0, "at the limit: accepted, nobody listens");
    cr_assert_eq(kf_bus_publish(b, CONV_A, "{}", 0), KF_BUS_INVALID);
    cr_assert_eq(kf_bus_publish(b, "conv:x", "{}", 2), KF_BUS_INVALID);
    rec_t r = {0};
    cr_assert_null(kf_bus_subscribe(b, "nope", l, on_event, &r));
    cr_assert_null(kf_bus_subscribe(b, CONV_A, l, NULL, &r));
    kf_bus_stats_t st;
    kf_bus_stats(b, &st);
    cr_assert_eq(st.published, 1);
    cr_assert_eq(st.subscribers, 0);
    kf_bus_destroy(b);
    kf_loop_free(l);
}

Test(bus, same_loop_publish_is_delivered_later_not_inside_publish) {
    kf_bus_t *b = kf_bus_mem_new(NULL);
    kf_loop_t *l = kf_loop_new();
    rec_t r = {.expect_topic = CONV_A};
    kf_bus_sub_t *s = kf_bus_subscribe(b, CONV_A, l, on_event, &r);
    cr_assert_not_null(s);
    cr_assert_eq(pub(b, CONV_A, 0, 0), 1);
    cr_assert_eq(atomic_load(&r.n), 0, "no callback inside publish");
    uint64_t until = kf_loop_now_ms() + 1000;
    while (atomic_load(&r.n) < 1 && kf_loop_now_ms() < until) kf_loop_run_once(l, 10);
    cr_assert_eq(atomic_load(&r.n), 1);
    cr_assert_str_eq(r.first[0], "{\"p\":0,\"i\":0}");
    kf_bus_unsubscribe(s);
    settle(l);
    kf_bus_destroy(b);
    kf_loop_free(l);
}

Test(bus, fans_out_to_subscribers_on_their_own_loops) {
    kf_bus_t *b = kf_bus_mem_new(NULL);
    runner_t run[3];
    rec_t rec[3] = {0}, other = {0};
    kf_bus_sub_t *subs[3];
    for (int i = 0; i < 3; i++) {
        runner_start(&run[i]);
        rec[i].expect_thread = run[i].th;
        rec[i].expect_topic = CONV_A;
        subs[i] = kf_bus_subscribe(b, CONV_A, run[i].loop, on_event, &rec[i]);
        cr_assert_not_null(subs[i]);
    }
    kf_bus_sub_t *o = kf_bus_subscribe(b, CONV_B, run[0].loop, on_event, &other);
    for (int i = 0; i < 100; i++) cr_assert_eq(pub(b, CONV_A, 0, i), 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(wait_count(&rec[i].n, 100, 5000), 100);
        cr_assert_eq(atomic_load(&rec[i].errors), 0, "subscriber %d: wrong thread, topic or order", i);
    }
    cr_assert_eq(atomic_load(&other.n), 0, "another topic's subscriber hears nothing");
    unsubscribe_on(&run[0], o);
    for (int i = 0; i < 3; i++) {
        unsubscribe_on(&run[i], subs[i]);
        runner_stop(&run[i]);
    }
    kf_bus_stats_t st;
    kf_bus_stats(b, &st);
    cr_assert_eq(st.published, 100);
    cr_assert_eq(st.delivered, 300);
    cr_assert_eq(st.dropped, 0);
    cr_assert_eq(st.subscribers, 0);
    kf_bus_destroy(b);
}

Test(bus, unsubscribe_cancels_deliveries_already_posted) {
    kf_bus_t *b = kf_bus_mem_new(NULL);
    kf_loop_t *l = kf_loop_new();
    rec_t r = {0};
    kf_bus_sub_t *s = kf_bus_subscribe(b, CONV_A, l, on_event, &r);
    for (int i = 0; i < 10; i++) cr_assert_eq(pub(b, CONV_A, 0, i), 1);
    kf_bus_unsubscribe(s); /* the drain is already in the loop's queue */
    settle(l);
    cr_assert_eq(atomic_load(&r.n), 0);
    cr_assert_eq(pub(b, CONV_A, 0, 10), 0, "nobody left on the topic");
    kf_bus_stats_t st;
    kf_bus_stats(b, &st);
    cr_assert_eq(st.delivered, 0);
    kf_bus_destroy(b);
    kf_loop_free(l);
}

/* Unsubscribes itself at its third event while a publisher keeps going. */
static kf_bus_sub_t *self_sub;
static atomic_int self_seen;
static void unsub_at_third(kf_bus_sub_t *sub, const kf_bus_event_t *ev, void *ud) {
    (void)ev;
    (void)ud;
    if (atomic_fetch_add(&self_seen, 1) == 2) kf_bus_unsubscribe(sub);
}

Test(bus, unsubscribe_from_own_callback_while_events_stream_in) {
    kf_bus_t *b = kf_bus_mem_new(NULL);
    runner_t run;
    runner_start(&run);
    atomic_store(&self_seen, 0);
    self_sub = kf_bus_subscribe(b, CONV_A, run.loop, unsub_at_third, NULL);
    for (int i = 0; i < 2000; i++) pub(b, CONV_A, 0, i);
    wait_count(&self_seen, 3, 5000);
    nap_ms(50); /* room for a wrong extra delivery to show up */
    runner_stop(&run);
    cr_assert_eq(atomic_load(&self_seen), 3);
    kf_bus_stats_t st;
    kf_bus_stats(b, &st);
    cr_assert_eq(st.subscribers, 0);
    kf_bus_destroy(b);
}

/* A's first event: subscribes B to A's topic and unsubscribes C (same loop,
 * C's drain already posted behind A's). */
typedef struct {
    kf_bus_t *bus;
    kf_loop_t *loop;
    kf_bus_sub_t *b, *c;
    rec_t rb;
    atomic_int a_seen;
} juggle_t;

static void juggler(kf_bus_sub_t *sub, const kf_bus_event_t *ev, void *ud) {
    (void)sub;
    (void)ev;
    juggle_t *j = ud;
    if (atomic_fetch_add(&j->a_seen, 1) == 0) {
        j->b = kf_bus_subscribe(j->bus, CONV_A, j->loop, on_event, &j->rb);
        kf_bus_unsubscribe(j->c);
        j->c = NULL;
    }
}

Test(bus, subscribe_and_unsubscribe_inside_a_callback) {
    kf_bus_t *bus = kf_bus_mem_new(NULL);
    kf_loop_t *l = kf_loop_new();
    juggle_t j = {.bus = bus, .loop = l};
    rec_t rc = {0};
    kf_bus_sub_t *a = kf_bus_subscribe(bus, CONV_A, l, juggler, &j);
    j.c = kf_bus_subscribe(bus, CONV_B, l, on_event, &rc);
    cr_assert_eq(pub(bus, CONV_A, 0, 0), 1);
    cr_assert_eq(pub(bus, CONV_B, 0, 0), 1);
    settle(l);
    cr_assert_eq(atomic_load(&j.a_seen), 1);
    cr_assert_eq(atomic_load(&rc.n), 0, "C was cancelled with its delivery posted");
    cr_assert_not_null(j.b);
    cr_assert_eq(atomic_load(&j.rb.n), 0, "B subscribed after the first event");
    cr_assert_eq(pub(bus, CONV_A, 1, 0), 2);
    cr_assert_eq(pub(bus, CONV_B, 1, 0), 0);
    settle(l);
    cr_assert_eq(atomic_load(&j.a_seen), 2);
    cr_assert_eq(atomic_load(&j.rb.n), 1);
    cr_assert_str_eq(j.rb.first[0], "{\"p\":1,\"i\":0}");
    kf_bus_unsubscribe(a);
    kf_bus_unsubscribe(j.b);
    settle(l);
    kf_bus_destroy(bus);
    kf_loop_free(l);
}

Test(bus, stuck_subscriber_is_bounded_and_told_once) {
    kf_bus_mem_config_t cfg = {.max_pending = 8};
    kf_bus_t *b = kf_bus_mem_new(&cfg);
    kf_loop_t *stuck = kf_loop_new();
    runner_t live;
    runner_start(&live);
    rec_t rs = {0}, rl = {0};
    kf_bus_sub_t *ss = kf_bus_subscribe(b, CONV_A, stuck, on_event, &rs);
    kf_bus_sub_t *sl = kf_bus_subscribe(b, CONV_A, live.loop, on_event, &rl);
    int accepted = 0;
    for (int i = 0; i < 20; i++) {
        accepted += pub(b, CONV_A, 0, i);
        wait_count(&rl.n, i + 1, 5000); /* the live one keeps up, so only the stuck one drops */
    }
    cr_assert_eq(accepted, 20 + 8);
    cr_assert_eq(atomic_load(&rl.n), 20);
    cr_assert_eq(atomic_load(&rl.overflows), 0);
    settle(stuck); /* the stuck loop finally runs */
    cr_assert_eq(atomic_load(&rs.n), 8);
    cr_assert_str_eq(rs.first[7], "{\"p\":0,\"i\":7}");
    cr_assert_eq(atomic_load(&rs.overflows), 1, "a single overflow notice");
    cr_assert_eq(rs.lost, 12);
    cr_assert_eq(atomic_load(&rs.errors), 0);
    rs.next[0] = 100; /* after the gap the stream resumes */
    cr_assert_eq(pub(b, CONV_A, 0, 100), 2);
    settle(stuck);
    cr_assert_eq(atomic_load(&rs.n), 9);
    cr_assert_eq(atomic_load(&rs.overflows), 1);
    kf_bus_stats_t st;
    kf_bus_stats(b, &st);
    cr_assert_eq(st.dropped, 12);
    unsubscribe_on(&live, sl);
    runner_stop(&live);
    kf_bus_unsubscribe(ss);
    settle(stuck);
    kf_bus_destroy(b);
    kf_loop_free(stuck);
}

/* Publishes one more event from inside the first delivery, while the
 * subscription still holds its gap: that event must be dropped too, so
 * nothing published after a gap arrives before the overflow notice. */
static kf_bus_t *latch_bus;
static void publish_during_drain(kf_bus_sub_t *sub, const kf_bus_event_t *ev, void *ud) {
    rec_t *r = ud;
    if (!(ev->flags & KF_BUS_OVERFLOW) && atomic_load(&r->n) == 0) pub(latch_bus, CONV_A, 1, 0);
    on_event(sub, ev, ud);
}

Test(bus, after_a_gap_nothing_is_accepted_until_the_notice) {
    kf_bus_mem_config_t cfg = {.max_pending = 4};
    latch_bus = kf_bus_mem_new(&cfg);
    kf_loop_t *l = kf_loop_new();
    rec_t r = {0};
    kf_bus_sub_t *s = kf_bus_subscribe(latch_bus, CONV_A, l, publish_during_drain, &r);
    int accepted = 0;
    for (int i = 0; i < 6; i++) accepted += pub(latch_bus, CONV_A, 0, i);
    cr_assert_eq(accepted, 4);
    settle(l);
    cr_assert_eq(atomic_load(&r.n), 4);
    cr_assert_eq(atomic_load(&r.overflows), 1);
    cr_assert_eq(r.lost, 3, "two beyond the bound and the one published during the drain");
    cr_assert_eq(atomic_load(&r.errors), 0);
    cr_assert_eq(pub(latch_bus, CONV_A, 1, 0), 1, "accepted again once the notice is out");
    settle(l);
    cr_assert_eq(atomic_load(&r.n), 5);
    cr_assert_eq(atomic_load(&r.errors), 0);
    kf_bus_unsubscribe(s);
    settle(l);
    kf_bus_destroy(latch_bus);
    kf_loop_free(l);
}

Test(bus, byte_bound_applies_too) {
    kf_bus_mem_config_t cfg = {.max_pending_bytes = 100};
    kf_bus_t *b = kf_bus_mem_new(&cfg);
    kf_loop_t *l = kf_loop_new();
    rec_t r = {0};
    kf_bus_sub_t *s = kf_bus_subscribe(b, CONV_A, l, on_event, &r);
    char m[41];
    memset(m, 'x', 40);
    m[40] = 0;
    cr_assert_eq(kf_bus_publish(b, CONV_A, m, 40), 1);
    cr_assert_eq(kf_bus_publish(b, CONV_A, m, 40), 1);
    cr_assert_eq(kf_bus_publish(b, CONV_A, m, 40), 0, "80 + 40 bytes exceed 100");
    kf_bus_unsubscribe(s);
    settle(l);
    kf_bus_destroy(b);
    kf_loop_free(l);
}

/* Two busy subscriptions on one loop share it: with batch 4, B's first event
 * comes before A's last although all of A's were published first. */
static int order_log[64], order_len;
static void log_a(kf_bus_sub_t *s, const kf_bus_event_t *e, void *u) { (void)s, (void)e, (void)u, order_log[order_len++] = 'A'; }
static void log_b(kf_bus_sub_t *s, const kf_bus_event_t *e, void *u) { (void)s, (void)e, (void)u, order_log[order_len++] = 'B'; }

Test(bus, busy_subscription_yields_its_loop) {
    kf_bus_mem_config_t cfg = {.batch = 4};
    kf_bus_t *b = kf_bus_mem_new(&cfg);
    kf_loop_t *l = kf_loop_new();
    order_len = 0;
    kf_bus_sub_t *a = kf_bus_subscribe(b, CONV_A, l, log_a, NULL);
    kf_bus_sub_t *bb = kf_bus_subscribe(b, CONV_B, l, log_b, NULL);
    for (int i = 0; i < 20; i++) pub(b, CONV_A, 0, i);
    for (int i = 0; i < 20; i++) pub(b, CONV_B, 0, i);
    for (int i = 0; i < 40 && order_len < 40; i++) kf_loop_run_once(l, 10);
    cr_assert_eq(order_len, 40);
    int first_b = -1, last_a = -1;
    for (int i = 0; i < 40; i++) {
        if (order_log[i] == 'B' && first_b < 0) first_b = i;
        if (order_log[i] == 'A') last_a = i;
    }
    cr_assert_lt(first_b, last_a);
    kf_bus_unsubscribe(a);
    kf_bus_unsubscribe(bb);
    settle(l);
    kf_bus_destroy(b);
    kf_loop_free(l);
}

Test(bus, listeners_counts_who_else_would_hear) {
    kf_bus_t *b = kf_bus_mem_new(NULL);
    kf_loop_t *l = kf_loop_new();
    rec_t r = {0};
    cr_assert_eq(kf_bus_listeners(b, CONV_A, 0), 0);
    cr_assert_eq(kf_bus_listeners(b, "conv:x", 0), 0, "an invalid topic has nobody");
    cr_assert_eq(kf_bus_listeners(NULL, CONV_A, 0), 0);
    kf_bus_sub_t *s1 = kf_bus_subscribe(b, CONV_A, l, on_event, &r);
    kf_bus_sub_t *s2 = kf_bus_subscribe(b, CONV_A, l, on_event, &r);
    kf_bus_sub_t *other = kf_bus_subscribe(b, "agents", l, on_event, &r);
    cr_assert(s1 && s2 && other);
    uint64_t id1 = kf_bus_sub_id(s1), id2 = kf_bus_sub_id(s2);
    cr_assert(id1 && id2 && id1 != id2 && kf_bus_sub_id(other) != id1 && kf_bus_sub_id(other) != id2);
    cr_assert_eq(kf_bus_sub_id(NULL), 0);
    cr_assert_eq(kf_bus_listeners(b, CONV_A, 0), 2);
    cr_assert_eq(kf_bus_listeners(b, CONV_A, id1), 1, "everyone but the sender");
    kf_bus_unsubscribe(s2);
    cr_assert_eq(kf_bus_listeners(b, CONV_A, id1), 0, "only the sender is left");
    cr_assert_eq(kf_bus_listeners(b, CONV_A, id2), 1, "a gone subscription's id excepts nobody else");
    /* ids are not reused, even where memory is */
    kf_bus_sub_t *s3 = kf_bus_subscribe(b, CONV_A, l, on_event, &r);
    cr_assert(kf_bus_sub_id(s3) != id2 && kf_bus_sub_id(s3) != id1);
    cr_assert_eq(kf_bus_listeners(b, CONV_A, id2), 2);
    kf_bus_unsubscribe(s1);
    kf_bus_unsubscribe(s3);
    kf_bus_unsubscribe(other);
    settle(l);
    kf_bus_destroy(b);
    kf_loop_free(l);
}
