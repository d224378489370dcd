/* Unit tests for src/router queues: VIP before regular, aging prevents
 * starvation, leaving the queue, and the heap and index against brute-force
 * references under 100k random operations (fixed seeds). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "router/routing_int.h"
#include "router_fixture.h"

Test(router_queue, vip_before_regular) {
    kf_routing_t *r = fx_router(NULL);
    const kf_routing_config_t *cfg = kf_routing_config(r);
    fx_wait(r, "regular", "c1", "loans", 0, 1000);
    fx_wait(r, "vip", "c2", "loans", cfg->w_vip * 3, 2000); /* later, but tier 3 */
    fx_agent(r, "a1", "loans", "en", 5);
    kf_routing_offer_t o;
    cr_assert_str_eq(fx_next(r, 2000, &o), "vip");
    cr_assert_str_eq(fx_next(r, 2000, &o), "regular");
    cr_assert_str_eq(fx_next(r, 2000, &o), "");
    kf_routing_free(r);
}

/* eff(t) = base + aging·wait: with w_vip 20 and aging 0.5/s a tier-3 VIP (60
 * points) is passed by a regular customer who has waited more than 120 s longer. */
Test(router_queue, aging_prevents_starvation) {
    kf_routing_t *r = fx_router(NULL);
    fx_wait(r, "regular", "c1", "cards", 0, 0);
    fx_wait(r, "vip_new", "c2", "cards", 60, 121000);
    kf_routing_conv_info_t a, b;
    kf_routing_conv_info(r, "regular", 121000, &a);
    kf_routing_conv_info(r, "vip_new", 121000, &b);
    cr_assert_float_eq(a.effective_priority, 60.5, 1e-9);
    cr_assert_float_eq(b.effective_priority, 60.0, 1e-9);
    fx_agent(r, "a1", "cards", "en", 1);
    kf_routing_offer_t o;
    cr_assert_str_eq(fx_next(r, 121000, &o), "regular");
    kf_routing_free(r);

    /* one second less of waiting and the VIP goes first */
    r = fx_router(NULL);
    fx_wait(r, "regular", "c1", "cards", 0, 0);
    fx_wait(r, "vip_new", "c2", "cards", 60, 119000);
    fx_agent(r, "a1", "cards", "en", 1);
    cr_assert_str_eq(fx_next(r, 119000, &o), "vip_new");
    kf_routing_free(r);
}

Test(router_queue, equal_priority_is_first_come_first_served) {
    kf_routing_t *r = fx_router(NULL);
    fx_wait(r, "first", NULL, "general", 10, 5000);
    fx_wait(r, "second", NULL, "general", 10, 5000);
    fx_agent(r, "a1", "general", "en", 2);
    kf_routing_offer_t o;
    cr_assert_str_eq(fx_next(r, 5000, &o), "first");
    cr_assert_str_eq(fx_next(r, 5000, &o), "second");
    kf_routing_free(r);
}

Test(router_queue, position_in_queue) {
    kf_routing_t *r = fx_router(NULL);
    fx_wait(r, "low", NULL, "cards", 0, 0);
    fx_wait(r, "high", NULL, "cards", 100, 0);
    fx_wait(r, "mid", NULL, "cards", 50, 0);
    cr_assert_eq(kf_routing_enqueue(r, "other_lang", NULL, "cards", "zh", 500, 0), KF_ROUTING_OK);
    size_t pos = 0, n = 0;
    const char *order[] = {"high", "mid", "low"};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(kf_routing_position(r, order[i], &pos, &n), KF_ROUTING_OK);
        cr_assert_eq(pos, i + 1, "%s", order[i]);
        cr_assert_eq(n, 3, "the zh queue is another queue");
    }
    kf_routing_leave(r, "high", 1);
    kf_routing_position(r, "low", &pos, &n);
    cr_assert_eq(pos, 2);
    fx_agent(r, "a", "cards", "en", 1);
    kf_routing_offer_t o;
    cr_assert_str_eq(fx_next(r, 1, &o), "mid");
    cr_assert_eq(kf_routing_position(r, "mid", &pos, &n), KF_ROUTING_ESTATE);
    cr_assert_eq(kf_routing_position(r, "gone", &pos, &n), KF_ROUTING_ENOENT);
    kf_routing_free(r);
}

Test(router_queue, leave_and_bad_input) {
    kf_routing_t *r = fx_router(NULL);
    fx_wait(r, "x", NULL, "loans", 5, 0);
    fx_wait(r, "y", NULL, "loans", 1, 0);
    cr_assert_eq(kf_routing_queue_len(r, "loans"), 2);
    cr_assert_eq(kf_routing_enqueue(r, "x", NULL, "loans", "en", 1, 0), KF_ROUTING_EEXIST);
    cr_assert_eq(kf_routing_enqueue(r, "z", NULL, "mortgages", "en", 1, 0), KF_ROUTING_EINVAL);
    cr_assert_eq(kf_routing_enqueue(r, "z", NULL, "loans", "fr", 1, 0), KF_ROUTING_EINVAL);
    cr_assert_eq(kf_routing_leave(r, "x", 0), KF_ROUTING_OK);
    cr_assert_eq(kf_routing_leave(r, "x", 0), KF_ROUTING_ENOENT);
    cr_assert_eq(kf_routing_queue_len(r, "loans"), 1);
    fx_agent(r, "a1", "loans", "en", 3);
    kf_routing_offer_t o;
    cr_assert_str_eq(fx_next(r, 0, &o), "y");
    cr_assert_str_eq(fx_next(r, 0, &o), "");
    kf_routing_free(r);
}

/* ---- the heap against a brute-force reference ---- */

#define N_NODES 2000
#define N_OPS 100000

static kf_rq_node_t *brute_best(kf_rq_node_t *nodes, const int *in) {
    kf_rq_node_t *best = NULL;
    for (int i = 0; i < N_NODES; i++)
        if (in[i] && (!best || kf_rq_before(&nodes[i], best))) best = &nodes[i];
    return best;
}

Test(router_queue, heap_matches_brute_force_under_random_ops) {
    static kf_rq_node_t nodes[N_NODES];
    static int in[N_NODES];
    kf_rq_t q;
    kf_rq_init(&q);
    srand(12345);
    for (int i = 0; i < N_NODES; i++) nodes[i] = (kf_rq_node_t){.pos = KF_RQ_NONE, .seq = (uint64_t)i};
    size_t count = 0;
    for (int op = 0; op < N_OPS; op++) {
        int i = rand() % N_NODES, kind = rand() % 4;
        if (kind == 0 && !in[i]) { /* push */
            nodes[i].key = rand() % 100;
            nodes[i].tie = rand() % 10;
            cr_assert_eq(kf_rq_push(&q, &nodes[i]), 0);
            in[i] = 1;
            count++;
        } else if (kind == 1 && in[i]) { /* remove an arbitrary member */
            kf_rq_remove(&q, &nodes[i]);
            in[i] = 0;
            count--;
        } else if (kind == 2 && in[i]) { /* re-key */
            nodes[i].key = rand() % 100;
            kf_rq_update(&q, &nodes[i]);
        } else if (kind == 3 && count) { /* pop the best */
            kf_rq_node_t *want = brute_best(nodes, in);
            kf_rq_node_t *got = kf_rq_pop(&q);
            cr_assert_eq(got, want, "op %d: popped node %td, reference says %td", op, got - nodes, want - nodes);
            in[got - nodes] = 0;
            count--;
        }
        cr_assert_eq(q.n, count);
        if (count) cr_assert_eq(kf_rq_peek(&q), brute_best(nodes, in), "op %d: wrong top", op);
    }
    for (int i = 0; i < N_NODES; i++) cr_assert_eq(kf_rq_in(&nodes[i]), in[i]);
    kf_rq_free(&q);
}

Test(router_queue, index_matches_brute_force_under_random_ops) {
    static char keys[4096][16];
    static int present[4096];
    kf_rix_t x;
    kf_rix_init(&x);
    srand(777);
    for (int i = 0; i < 4096; i++) snprintf(keys[i], sizeof keys[i], "k%d", i * 7919);
    size_t n = 0;
    for (int op = 0; op < N_OPS; op++) {
        int i = rand() % 4096;
        if (rand() % 2) {
            cr_assert_eq(kf_rix_put(&x, keys[i], &present[i]), 0);
            n += !present[i];
            present[i] = 1;
        } else {
            void *v = kf_rix_del(&x, keys[i]);
            cr_assert_eq(v, present[i] ? (void *)&present[i] : NULL);
            n -= present[i];
            present[i] = 0;
        }
        int j = rand() % 4096;
        cr_assert_eq(kf_rix_get(&x, keys[j]), present[j] ? (void *)&present[j] : NULL, "op %d key %s", op, keys[j]);
        cr_assert_eq(x.n, n);
    }
    for (int i = 0; i < 4096; i++) cr_assert_eq(kf_rix_get(&x, keys[i]), present[i] ? (void *)&present[i] : NULL);
    kf_rix_free(&x);
}

/* Through the public API: random enqueues and leaves on one queue, then every
 * conversation is offered in the order a sort by effective priority gives. */
typedef struct {
    char id[16];
    double base;
    int64_t t;
    int seq, in;
} ref_conv_t;

static int ref_cmp(const void *a, const void *b) {
    const ref_conv_t *x = a, *y = b;
    double kx = x->base - 0.5 * (double)x->t / 1000, ky = y->base - 0.5 * (double)y->t / 1000;
    if (kx != ky) return kx > ky ? -1 : 1;
    return x->seq - y->seq;
}

Test(router_queue, enqueue_leave_order_matches_reference) {
    enum { N = 3000, OPS = 100000 };
    static ref_conv_t ref[N];
    kf_routing_t *r = fx_router(NULL);
    srand(4242);
    int seq = 0;
    int64_t now = 0;
    for (int op = 0; op < OPS; op++) {
        int i = rand() % N;
        now += rand() % 50;
        if (!ref[i].in) {
            snprintf(ref[i].id, sizeof ref[i].id, "c%d", i);
            ref[i].base = rand() % 200;
            ref[i].t = now;
            ref[i].seq = seq++;
            ref[i].in = 1;
            fx_wait(r, ref[i].id, NULL, "payments", ref[i].base, now);
        } else {
            cr_assert_eq(kf_routing_leave(r, ref[i].id, now), KF_ROUTING_OK);
            ref[i].in = 0;
        }
    }
    static ref_conv_t left[N];
    int n = 0;
    for (int i = 0; i < N; i++)
        if (ref[i].in) left[n++] = ref[i];
    qsort(left, (size_t)n, sizeof *left, ref_cmp);
    cr_assert_eq(kf_routing_queue_len(r, "payments"), (size_t)n);
    fx_agent(r, "big", "payments", "en", N);
    kf_routing_offer_t o;
    for (int k = 0; k < n; k++) cr_assert_str_eq(fx_next(r, now, &o), left[k].id, "offer %d", k);
    cr_assert_str_eq(fx_next(r, now, &o), "");
    kf_routing_free(r);
}
