/* router_fixture.h — shared set-up for the test_router_*.c unit tests: a
 * router with the demo bot's skills and languages and the default config,
 * and helpers to add agents and conversations in one line. */
#ifndef KF_TEST_ROUTER_FIXTURE_H
#define KF_TEST_ROUTER_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>

#include "router/routing.h"

static const char *const fx_skills[] = {"cards", "loans", "payments", "accounts", "complaints", "general"};
static const char *const fx_langs[] = {"en", "zh"};

static inline kf_routing_t *fx_router(const kf_routing_config_t *cfg) {
    kf_routing_config_t dflt;
    kf_routing_config_default(&dflt);
    kf_routing_t *r = kf_routing_new(cfg ? cfg : &dflt, fx_skills, 6, fx_langs, 2);
    cr_assert_not_null(r);
    return r;
}

/* An online agent with one skill and one language. */
static inline void fx_agent(kf_routing_t *r, const char *id, const char *skill, const char *lang, int max) {
    cr_assert_eq(kf_routing_agent_upsert(r, id, &skill, 1, &lang, 1, max), KF_ROUTING_OK);
    cr_assert_eq(kf_routing_agent_status(r, id, KF_ROUTING_ONLINE, 0), KF_ROUTING_OK);
}

static inline void fx_wait(kf_routing_t *r, const char *conv, const char *customer, const char *skill, double prio,
                           int64_t now) {
    cr_assert_eq(kf_routing_enqueue(r, conv, customer, skill, "en", prio, now), KF_ROUTING_OK);
}

/* The next offer's conversation id, or "" when none. */
static inline const char *fx_next(kf_routing_t *r, int64_t now, kf_routing_offer_t *o) {
    memset(o, 0, sizeof *o);
    return kf_routing_assign_next(r, now, o) ? o->conv_id : "";
}

#endif
