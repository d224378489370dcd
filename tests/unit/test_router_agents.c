/* Unit tests for src/router agent selection: capacity, skills and language
 * are respected, the least-loaded agent is chosen, away/offline agents get
 * nothing, and the customer's last agent is preferred (stickiness). */
#include <criterion/criterion.h>
#include <string.h>

#include "router_fixture.h"

Test(router_agents, capacity_is_respected) {
    kf_routing_t *r = fx_router(NULL);
    fx_agent(r, "a1", "cards", "en", 2);
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "c%d", i);
        fx_wait(r, id, NULL, "cards", 0, i);
    }
    kf_routing_offer_t o;
    cr_assert_str_eq(fx_next(r, 10, &o), "c0");
    cr_assert_str_eq(fx_next(r, 10, &o), "c1");
    cr_assert_str_eq(fx_next(r, 10, &o), "", "a third chat would exceed max_chats 2");
    kf_routing_agent_info_t ai;
    kf_routing_agent_info(r, "a1", &ai);
    cr_assert_eq(ai.load, 2);
    cr_assert_eq(kf_routing_accept(r, "c0", "a1", 20), KF_ROUTING_OK);
    cr_assert_eq(kf_routing_release(r, "c0", 30), KF_ROUTING_OK);
    cr_assert_str_eq(fx_next(r, 30, &o), "c2", "a released slot takes the next");
    kf_routing_free(r);
}

Test(router_agents, skill_and_language_are_respected) {
    kf_routing_t *r = fx_router(NULL);
    fx_agent(r, "cards_en", "cards", "en", 5);
    fx_agent(r, "loans_zh", "loans", "zh", 5);
    cr_assert_eq(kf_routing_enqueue(r, "loan_en", NULL, "loans", "en", 100, 0), KF_ROUTING_OK);
    cr_assert_eq(kf_routing_enqueue(r, "loan_zh", NULL, "loans", "zh", 0, 0), KF_ROUTING_OK);
    kf_routing_offer_t o;
    cr_assert_str_eq(fx_next(r, 0, &o), "loan_zh", "nobody speaks English for loans: loan_en waits");
    cr_assert_str_eq(o.agent_id, "loans_zh");
    cr_assert_str_eq(fx_next(r, 0, &o), "");
    kf_routing_conv_info_t ci;
    kf_routing_conv_info(r, "loan_en", 0, &ci);
    cr_assert_eq(ci.state, KF_ROUTING_WAITING);
    const char *skills[] = {"loans", "cards"}, *langs[] = {"en", "zh"};
    cr_assert_eq(kf_routing_agent_upsert(r, "cards_en", skills, 2, langs, 2, 5), KF_ROUTING_OK);
    cr_assert_str_eq(fx_next(r, 0, &o), "loan_en", "the agent learned loans");
    cr_assert_str_eq(o.agent_id, "cards_en");
    kf_routing_free(r);
}

Test(router_agents, least_loaded_agent_first) {
    kf_routing_t *r = fx_router(NULL);
    fx_agent(r, "big", "general", "en", 10);
    fx_agent(r, "small", "general", "en", 2);
    kf_routing_offer_t o;
    /* loads 0/10 and 0/2 tie: the one registered first; then ratios decide */
    const char *want[] = {"big", "small", "big", "big", "big", "big", "small"};
    for (int i = 0; i < 7; i++) {
        char id[16];
        snprintf(id, sizeof id, "c%d", i);
        fx_wait(r, id, NULL, "general", 0, i);
        cr_assert_str_eq(fx_next(r, i, &o), id);
        cr_assert_str_eq(o.agent_id, want[i], "offer %d", i);
    }
    kf_routing_free(r);
}

Test(router_agents, away_and_offline_get_nothing) {
    kf_routing_t *r = fx_router(NULL);
    fx_agent(r, "a1", "payments", "en", 3);
    kf_routing_agent_status(r, "a1", KF_ROUTING_AWAY, 0);
    fx_wait(r, "c1", NULL, "payments", 0, 0);
    kf_routing_offer_t o;
    cr_assert_str_eq(fx_next(r, 0, &o), "");
    kf_routing_agent_status(r, "a1", KF_ROUTING_OFFLINE, 0);
    cr_assert_str_eq(fx_next(r, 0, &o), "");
    kf_routing_agent_status(r, "a1", KF_ROUTING_ONLINE, 0);
    cr_assert_str_eq(fx_next(r, 0, &o), "c1");
    cr_assert_eq(kf_routing_agent_status(r, "ghost", KF_ROUTING_ONLINE, 0), KF_ROUTING_ENOENT);
    const char *bad = "astrology", *en = "en";
    cr_assert_eq(kf_routing_agent_upsert(r, "a2", &bad, 1, &en, 1, 3), KF_ROUTING_EINVAL);
    kf_routing_free(r);
}

Test(router_agents, sticky_agent_preferred) {
    kf_routing_t *r = fx_router(NULL);
    fx_agent(r, "alice", "cards", "en", 5);
    fx_agent(r, "bob", "cards", "en", 5);
    fx_wait(r, "first", "cust42", "cards", 0, 0);
    kf_routing_offer_t o;
    cr_assert_str_eq(fx_next(r, 0, &o), "first");
    cr_assert_str_eq(o.agent_id, "alice", "equal loads and times: the agent registered first");
    cr_assert_eq(kf_routing_accept(r, "first", "alice", 1), KF_ROUTING_OK);
    cr_assert_eq(kf_routing_release(r, "first", 2), KF_ROUTING_OK);
    /* alice busier than bob: least-loaded alone would now pick bob */
    fx_wait(r, "filler", NULL, "cards", 0, 3);
    cr_assert_str_eq(fx_next(r, 3, &o), "filler");
    cr_assert_str_eq(o.agent_id, "bob");
    cr_assert_eq(kf_routing_transfer(r, "filler", NULL, "alice", 3), KF_ROUTING_OK);
    cr_assert_eq(kf_routing_accept(r, "filler", "alice", 3), KF_ROUTING_OK);
    fx_wait(r, "again", "cust42", "cards", 0, 4);
    cr_assert_str_eq(fx_next(r, 4, &o), "again");
    cr_assert_str_eq(o.agent_id, "alice", "the customer's last agent, though busier");
    cr_assert(o.sticky);
    /* the sticky agent away: the least-loaded one */
    cr_assert_eq(kf_routing_reject(r, "again", "alice", 5), KF_ROUTING_OK);
    kf_routing_agent_status(r, "alice", KF_ROUTING_AWAY, 5);
    cr_assert_str_eq(fx_next(r, 5, &o), "again");
    cr_assert_str_eq(o.agent_id, "bob");
    cr_assert(!o.sticky);
    kf_routing_free(r);
}
