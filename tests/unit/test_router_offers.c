/* Unit tests for src/router offers: reassignment when an offer is refused or
 * not accepted within T, overflow to the fallback skill after W, transfer
 * keeping the conversation (same id, so the transcript follows), and the
 * mutex under concurrent callers. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "router_fixture.h"

Test(router_offers, timeout_reassigns_to_next_agent) {
    kf_routing_t *r = fx_router(NULL); /* T = 30 s */
    fx_agent(r, "a1", "loans", "en", 1);
    fx_agent(r, "a2", "loans", "en", 1);
    fx_wait(r, "c1", NULL, "loans", 0, 0);
    kf_routing_offer_t o;
    cr_assert_str_eq(fx_next(r, 0, &o), "c1");
    char first[KF_ROUTING_ID_MAX];
    strcpy(first, o.agent_id);
    size_t timeouts = 9;
    kf_routing_tick(r, 29999, &timeouts, NULL);
    cr_assert_eq(timeouts, 0, "not yet due");
    kf_routing_tick(r, 30000, &timeouts, NULL);
    cr_assert_eq(timeouts, 1);
    kf_routing_conv_info_t ci;
    kf_routing_conv_info(r, "c1", 30000, &ci);
    cr_assert_eq(ci.state, KF_ROUTING_WAITING);
    cr_assert_eq(ci.enqueued_ms, 0, "the wait is kept");
    cr_assert_eq(ci.rejections, 1);
    cr_assert_str_eq(fx_next(r, 30000, &o), "c1");
    cr_assert_str_neq(o.agent_id, first, "not offered to the agent who let it lapse");
    cr_assert_eq(kf_routing_accept(r, "c1", first, 30001), KF_ROUTING_ESTATE, "the lapsed offer is gone");
    cr_assert_eq(kf_routing_accept(r, "c1", o.agent_id, 30001), KF_ROUTING_OK);
    kf_routing_tick(r, 99999, &timeouts, NULL);
    cr_assert_eq(timeouts, 0, "an accepted offer does not time out");
    kf_routing_agent_info_t ai;
    kf_routing_agent_info(r, first, &ai);
    cr_assert_eq(ai.load, 0, "the lapsed offer freed its slot");
    kf_routing_free(r);
}

Test(router_offers, reject_goes_to_next_then_back_when_alone) {
    kf_routing_t *r = fx_router(NULL);
    fx_agent(r, "solo", "cards", "en", 2);
    fx_wait(r, "c1", NULL, "cards", 0, 0);
    fx_wait(r, "c2", NULL, "cards", 0, 1);
    kf_routing_offer_t o;
    cr_assert_str_eq(fx_next(r, 1, &o), "c1");
    cr_assert_eq(kf_routing_reject(r, "c1", "solo", 2), KF_ROUTING_OK);
    cr_assert_eq(kf_routing_reject(r, "c1", "solo", 2), KF_ROUTING_ESTATE);
    /* the only agent refused c1: it is still offered to them rather than blocking the queue */
    cr_assert_str_eq(fx_next(r, 2, &o), "c1");
    cr_assert_str_eq(o.agent_id, "solo");
    fx_agent(r, "helper", "cards", "en", 2);
    cr_assert_eq(kf_routing_reject(r, "c1", "solo", 3), KF_ROUTING_OK);
    cr_assert_str_eq(fx_next(r, 3, &o), "c1");
    cr_assert_str_eq(o.agent_id, "helper", "another agent exists: the refusing one is skipped");
    kf_routing_free(r);
}

/* The refusing agent is the least loaded: only the exclusion sends the
 * conversation to the busier one. */
Test(router_offers, refusing_agent_is_skipped_even_when_least_loaded) {
    kf_routing_t *r = fx_router(NULL);
    fx_agent(r, "roomy", "payments", "en", 10);
    fx_agent(r, "busy", "payments", "en", 2);
    fx_wait(r, "warm", NULL, "payments", 0, 0);
    kf_routing_offer_t o;
    cr_assert_str_eq(fx_next(r, 0, &o), "warm");
    cr_assert_str_eq(o.agent_id, "roomy");
    cr_assert_eq(kf_routing_transfer(r, "warm", NULL, "busy", 0), KF_ROUTING_OK); /* busy: 1 of 2 */
    cr_assert_eq(kf_routing_accept(r, "warm", "busy", 0), KF_ROUTING_OK);
    fx_wait(r, "c1", NULL, "payments", 0, 1);
    cr_assert_str_eq(fx_next(r, 1, &o), "c1");
    cr_assert_str_eq(o.agent_id, "roomy", "0 of 10 before 1 of 2");
    size_t t = 0;
    kf_routing_tick(r, 1 + 30000, &t, NULL);
    cr_assert_eq(t, 1);
    cr_assert_str_eq(fx_next(r, 30001, &o), "c1");
    cr_assert_str_eq(o.agent_id, "busy", "roomy let it lapse: the next agent");
    kf_routing_free(r);
}

Test(router_offers, overflow_to_fallback_after_w) {
    kf_routing_t *r = fx_router(NULL); /* W = 120 s, fallback general */
    fx_agent(r, "gen", "general", "en", 3);
    fx_wait(r, "c1", NULL, "loans", 10, 0);
    fx_wait(r, "c2", NULL, "loans", 10, 60000);
    kf_routing_offer_t o;
    cr_assert_str_eq(fx_next(r, 0, &o), "", "no loans agent, and not yet overflowed");
    size_t ov = 9;
    kf_routing_tick(r, 119999, NULL, &ov);
    cr_assert_eq(ov, 0);
    kf_routing_tick(r, 120000, NULL, &ov);
    cr_assert_eq(ov, 1);
    kf_routing_conv_info_t ci;
    kf_routing_conv_info(r, "c1", 120000, &ci);
    cr_assert_str_eq(ci.skill, "general");
    cr_assert(ci.overflowed);
    cr_assert_float_eq(ci.effective_priority, 10 + 0.5 * 120, 1e-9, "priority and wait are kept");
    cr_assert_eq(kf_routing_queue_len(r, "loans"), 1);
    cr_assert_str_eq(fx_next(r, 120000, &o), "c1");
    cr_assert_str_eq(o.skill, "general");
    cr_assert_str_eq(fx_next(r, 120000, &o), "", "c2 has waited only 60 s");
    kf_routing_free(r);
}

Test(router_offers, transfer_keeps_the_conversation) {
    kf_routing_t *r = fx_router(NULL);
    fx_agent(r, "carla", "cards", "en", 2);
    fx_agent(r, "leo", "loans", "en", 2);
    fx_wait(r, "conv-1", "cust", "cards", 0, 0);
    kf_routing_offer_t o;
    cr_assert_str_eq(fx_next(r, 0, &o), "conv-1");
    cr_assert_eq(kf_routing_accept(r, "conv-1", "carla", 1), KF_ROUTING_OK);
    /* to another skill: back to a queue, carla's slot freed, same conversation id */
    cr_assert_eq(kf_routing_transfer(r, "conv-1", "loans", NULL, 5000), KF_ROUTING_OK);
    kf_routing_agent_info_t ai;
    kf_routing_agent_info(r, "carla", &ai);
    cr_assert_eq(ai.load, 0);
    kf_routing_conv_info_t ci;
    cr_assert_eq(kf_routing_conv_info(r, "conv-1", 5000, &ci), KF_ROUTING_OK);
    cr_assert_eq(ci.state, KF_ROUTING_WAITING);
    cr_assert_str_eq(ci.skill, "loans");
    cr_assert_eq(ci.transfers, 1);
    cr_assert_eq(ci.enqueued_ms, 5000, "served, then transferred: a new wait starts");
    /* a customer still waiting keeps their wait when moved */
    fx_wait(r, "conv-2", NULL, "general", 0, 100);
    cr_assert_eq(kf_routing_transfer(r, "conv-2", "accounts", NULL, 5000), KF_ROUTING_OK);
    kf_routing_conv_info_t c2;
    kf_routing_conv_info(r, "conv-2", 5000, &c2);
    cr_assert_str_eq(c2.skill, "accounts"); /* nobody serves accounts: it stays waiting */
    cr_assert_eq(c2.enqueued_ms, 100);
    cr_assert_str_eq(fx_next(r, 5000, &o), "conv-1");
    cr_assert_str_eq(o.agent_id, "leo");
    cr_assert_eq(kf_routing_accept(r, "conv-1", "leo", 5001), KF_ROUTING_OK);
    /* to a specific agent: offered directly */
    cr_assert_eq(kf_routing_transfer(r, "conv-1", NULL, "carla", 6000), KF_ROUTING_OK);
    kf_routing_conv_info(r, "conv-1", 6000, &ci);
    cr_assert_eq(ci.state, KF_ROUTING_OFFERED);
    cr_assert_str_eq(ci.agent_id, "carla");
    cr_assert_eq(ci.transfers, 2);
    kf_routing_agent_info(r, "leo", &ai);
    cr_assert_eq(ai.load, 0);
    cr_assert_eq(kf_routing_accept(r, "conv-1", "carla", 6001), KF_ROUTING_OK);
    kf_routing_agent_status(r, "leo", KF_ROUTING_OFFLINE, 6002);
    cr_assert_eq(kf_routing_transfer(r, "conv-1", NULL, "leo", 6002), KF_ROUTING_EBUSY);
    cr_assert_eq(kf_routing_transfer(r, "conv-1", NULL, "nobody", 6002), KF_ROUTING_ENOENT);
    cr_assert_eq(kf_routing_transfer(r, "conv-1", "tarot", NULL, 6002), KF_ROUTING_EINVAL);
    kf_routing_conv_info(r, "conv-1", 6002, &ci);
    cr_assert_str_eq(ci.agent_id, "carla", "a failed transfer changes nothing");
    cr_assert_eq(ci.state, KF_ROUTING_ASSIGNED);
    kf_routing_free(r);
}

Test(router_offers, leave_while_offered_frees_the_agent) {
    kf_routing_t *r = fx_router(NULL);
    fx_agent(r, "a", "accounts", "en", 1);
    fx_wait(r, "c", NULL, "accounts", 0, 0);
    kf_routing_offer_t o;
    cr_assert_str_eq(fx_next(r, 0, &o), "c");
    cr_assert_eq(kf_routing_leave(r, "c", 1), KF_ROUTING_OK);
    kf_routing_agent_info_t ai;
    kf_routing_agent_info(r, "a", &ai);
    cr_assert_eq(ai.load, 0);
    size_t t = 9;
    kf_routing_tick(r, 100000, &t, NULL);
    cr_assert_eq(t, 0, "no stale offer left behind");
    kf_routing_free(r);
}

/* The mutex at the API boundary: four threads enqueue, offer, accept and
 * release at once; afterwards every agent's load matches what it holds. */
typedef struct {
    kf_routing_t *r;
    int t;
    int accepted;
} worker_t;

static void *worker(void *ud) {
    worker_t *w = ud;
    char id[32];
    kf_routing_offer_t o;
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof id, "t%d-%d", w->t, i);
        kf_routing_enqueue(w->r, id, NULL, "general", "en", i % 7, i);
        if (kf_routing_assign_next(w->r, i, &o) && kf_routing_accept(w->r, o.conv_id, o.agent_id, i) == KF_ROUTING_OK) {
            w->accepted++;
            if (i % 2) kf_routing_release(w->r, o.conv_id, i);
        }
    }
    return NULL;
}

Test(router_offers, concurrent_callers_keep_loads_consistent) {
    kf_routing_t *r = fx_router(NULL);
    fx_agent(r, "g1", "general", "en", 50);
    fx_agent(r, "g2", "general", "en", 50);
    pthread_t th[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){r, i, 0};
        pthread_create(&th[i], NULL, worker, &w[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    kf_routing_agent_info_t a1, a2;
    kf_routing_agent_info(r, "g1", &a1);
    kf_routing_agent_info(r, "g2", &a2);
    cr_assert_leq(a1.load, 50);
    cr_assert_leq(a2.load, 50);
    cr_assert_gt(w[0].accepted + w[1].accepted + w[2].accepted + w[3].accepted, 100);
    /* every conversation still held is accepted (no offers in flight), so
     * releasing what is not waiting brings both loads back to 0 */
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < 2000; i++) {
            char id[32];
            snprintf(id, sizeof id, "t%d-%d", t, i);
            kf_routing_conv_info_t ci;
            if (kf_routing_conv_info(r, id, 0, &ci) == KF_ROUTING_OK && ci.state == KF_ROUTING_ASSIGNED)
                cr_assert_eq(kf_routing_release(r, id, 0), KF_ROUTING_OK);
        }
    kf_routing_agent_info(r, "g1", &a1);
    kf_routing_agent_info(r, "g2", &a2);
    cr_assert_eq(a1.load + a2.load, 0);
    kf_routing_free(r);
}
