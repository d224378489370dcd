/* Unit tests for src/router/snapshot.c, the router's views for people
 * (routing.h): kf_routing_snapshot lists every conversation the router holds
 * sorted by skill, then waiting / offered / assigned, then effective priority
 * (not base priority), with the agent of offered and assigned ones and the
 * time each first asked for a human; kf_routing_stats counts per skill,
 * takes the oldest wait from waiting conversations only (the longest
 * waiting, not the first in the queue), and sums presence,
 * load and capacity over agents. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "router_fixture.h"

static const kf_routing_skill_stats_t *skill_stats(const kf_routing_stats_t *st, const char *skill) {
    for (size_t i = 0; i < st->n_skills; i++)
        if (!strcmp(st->skills[i].skill, skill)) return &st->skills[i];
    cr_assert_fail("no stats for skill %s", skill);
    return NULL;
}

static const kf_routing_entry_t *entry_of(const kf_routing_entry_t *v, size_t n, const char *conv) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].conv_id, conv)) return &v[i];
    cr_assert_fail("%s is not in the snapshot", conv);
    return NULL;
}

Test(router_snapshot, empty_router_has_nothing_and_zero_stats) {
    kf_routing_t *r = fx_router(NULL);
    kf_routing_entry_t *v = (kf_routing_entry_t *)&v; /* must be overwritten */
    cr_assert_eq(kf_routing_snapshot(r, 1000, &v), 0);
    cr_assert_null(v);
    kf_routing_stats_t st;
    memset(&st, 0xff, sizeof st);
    kf_routing_stats(r, 1000, &st);
    cr_assert_eq(st.n_skills, 6);
    for (size_t i = 0; i < 6; i++) {
        cr_expect_str_eq(st.skills[i].skill, fx_skills[i]);
        cr_expect_eq(st.skills[i].waiting + st.skills[i].offered + st.skills[i].assigned, 0);
        cr_expect_eq(st.skills[i].oldest_wait_ms, 0);
    }
    cr_expect_eq(st.agents_online, 0);
    cr_expect_eq(st.agents_away, 0);
    cr_expect_eq(st.load, 0);
    cr_expect_eq(st.capacity, 0);
    kf_routing_free(r);
}

/* Default aging: 0.5 points per second waited. */
Test(router_snapshot, every_conversation_sorted_by_skill_state_then_effective_priority) {
    kf_routing_t *r = fx_router(NULL);
    cr_assert_float_eq(kf_routing_config(r)->aging_per_s, 0.5, 1e-9);
    kf_routing_offer_t o;
    fx_agent(r, "ann", "loans", "en", 2);
    fx_wait(r, "assigned", "c1", "loans", 100, 1000);
    cr_assert_str_eq(fx_next(r, 1000, &o), "assigned");
    cr_assert_eq(kf_routing_accept(r, "assigned", "ann", 1500), KF_ROUTING_OK);
    fx_wait(r, "offered", "c2", "loans", 90, 2000);
    cr_assert_str_eq(fx_next(r, 3000, &o), "offered");
    /* ann is full now: the rest waits */
    fx_wait(r, "old_low", "c3", "loans", 0, 10000);   /* eff at 100 s: 45 */
    fx_wait(r, "new_high", "c4", "loans", 10, 50000); /* 35: a higher base, but waited less */
    cr_assert_eq(kf_routing_enqueue(r, "zh_mid", "c5", "loans", "zh", 40, 100000), KF_ROUTING_OK); /* 40 */
    fx_wait(r, "pay_wait", NULL, "payments", 5, 60000); /* cards < loans < payments by name and by index */
    fx_wait(r, "card_wait", NULL, "cards", 0, 90000);

    kf_routing_entry_t *v = NULL;
    size_t n = kf_routing_snapshot(r, 100000, &v);
    cr_assert_eq(n, 7);
    cr_assert_not_null(v);
    const char *want[] = {"card_wait", "old_low", "zh_mid", "new_high", "offered", "assigned", "pay_wait"};
    for (size_t i = 0; i < n; i++) cr_expect_str_eq(v[i].conv_id, want[i], "position %zu", i);

    const kf_routing_entry_t *e = entry_of(v, n, "old_low");
    cr_expect_eq(e->state, KF_ROUTING_WAITING);
    cr_expect_str_eq(e->skill, "loans");
    cr_expect_str_eq(e->lang, "en");
    cr_expect_str_eq(e->agent_id, "");
    cr_expect_float_eq(e->effective_priority, 45.0, 1e-9);
    cr_expect_eq(e->enqueued_ms, 10000);
    cr_expect_eq(e->offered_ms, 0);
    e = entry_of(v, n, "zh_mid");
    cr_expect_str_eq(e->lang, "zh");
    cr_expect_float_eq(e->effective_priority, 40.0, 1e-9);
    e = entry_of(v, n, "offered");
    cr_expect_eq(e->state, KF_ROUTING_OFFERED);
    cr_expect_str_eq(e->agent_id, "ann");
    cr_expect_eq(e->enqueued_ms, 2000);
    cr_expect_eq(e->offered_ms, 3000);
    cr_expect_float_eq(e->effective_priority, 90 + 0.5 * 98, 1e-9);
    e = entry_of(v, n, "assigned");
    cr_expect_eq(e->state, KF_ROUTING_ASSIGNED);
    cr_expect_str_eq(e->agent_id, "ann");
    cr_expect_eq(e->enqueued_ms, 1000);
    cr_expect_eq(e->offered_ms, 0, "offered_ms is only for offered conversations");
    e = entry_of(v, n, "card_wait");
    cr_expect_str_eq(e->skill, "cards");
    cr_expect_float_eq(e->effective_priority, 5.0, 1e-9);
    free(v);

    /* time passing re-orders by effective priority only within the same state */
    n = kf_routing_snapshot(r, 1000000, &v); /* old_low 495, new_high 485, zh_mid 490 */
    cr_assert_eq(n, 7);
    cr_expect_str_eq(v[1].conv_id, "old_low");
    cr_expect_str_eq(v[2].conv_id, "zh_mid");
    cr_expect_str_eq(v[3].conv_id, "new_high");
    free(v);
    kf_routing_free(r);
}

/* Equal effective priority: whoever asked for a human first comes first,
 * whatever order the router's tables hold them in; offered ones sort among
 * themselves by effective priority too. */
Test(router_snapshot, ties_go_to_the_earliest_and_offered_sort_by_priority) {
    kf_routing_t *r = fx_router(NULL);
    kf_routing_offer_t o;
    /* six ties at 100 s: the k-th asked at 10 + 10k s with base 5k, so each
     * has 5k + 0.5 * (90 - 10k) = 45; ids in no particular order, so the
     * router's tables cannot hand them over already sorted */
    const char *tied[] = {"tie_d", "tie_a", "tie_f", "tie_b", "tie_e", "tie_c"}; /* earliest first */
    for (int k = 5; k >= 0; k--) fx_wait(r, tied[k], NULL, "cards", 5.0 * k, 10000 + 10000 * (int64_t)k);
    /* two offered, to two agents: the lower one offered first */
    fx_agent(r, "ann", "accounts", "en", 1);
    fx_agent(r, "bob", "accounts", "en", 1);
    fx_wait(r, "acc_hi", "c4", "accounts", 100, 1000);
    cr_assert_str_eq(fx_next(r, 1000, &o), "acc_hi");
    fx_wait(r, "acc_lo", "c5", "accounts", 0, 2000);
    cr_assert_str_eq(fx_next(r, 2000, &o), "acc_lo");

    kf_routing_entry_t *v = NULL;
    size_t n = kf_routing_snapshot(r, 100000, &v);
    cr_assert_eq(n, 8);
    cr_expect_str_eq(v[0].conv_id, "acc_hi"); /* accounts < cards */
    cr_expect_str_eq(v[1].conv_id, "acc_lo");
    for (size_t i = 0; i < 6; i++) {
        cr_expect_str_eq(v[2 + i].conv_id, tied[i], "position %zu", 2 + i);
        cr_expect_float_eq(v[2 + i].effective_priority, 45.0, 1e-9);
    }
    cr_expect_eq(v[0].state, KF_ROUTING_OFFERED);
    cr_expect_eq(v[1].state, KF_ROUTING_OFFERED);
    cr_expect_str_neq(v[0].agent_id, v[1].agent_id);
    free(v);
    kf_routing_free(r);
}

Test(router_snapshot, follows_reject_and_release) {
    kf_routing_t *r = fx_router(NULL);
    kf_routing_offer_t o;
    fx_agent(r, "ann", "cards", "en", 1);
    fx_wait(r, "x", "c1", "cards", 10, 1000);
    cr_assert_str_eq(fx_next(r, 2000, &o), "x");
    cr_assert_eq(kf_routing_reject(r, "x", "ann", 3000), KF_ROUTING_OK);
    kf_routing_entry_t *v = NULL;
    cr_assert_eq(kf_routing_snapshot(r, 4000, &v), 1);
    cr_expect_eq(v[0].state, KF_ROUTING_WAITING);
    cr_expect_str_eq(v[0].agent_id, "", "a refused offer has no agent");
    cr_expect_eq(v[0].enqueued_ms, 1000, "the wait is kept");
    cr_expect_eq(v[0].offered_ms, 0);
    free(v);
    cr_assert_str_eq(fx_next(r, 5000, &o), "x"); /* nobody else: offered again */
    cr_assert_eq(kf_routing_accept(r, "x", "ann", 5000), KF_ROUTING_OK);
    cr_assert_eq(kf_routing_release(r, "x", 6000), KF_ROUTING_OK);
    v = (kf_routing_entry_t *)&v;
    cr_expect_eq(kf_routing_snapshot(r, 7000, &v), 0);
    cr_expect_null(v);
    kf_routing_free(r);
}

Test(router_stats, per_skill_counts_oldest_wait_presence_load_capacity) {
    kf_routing_t *r = fx_router(NULL);
    kf_routing_offer_t o;
    /* ann (loans, 2 chats): one offered, one assigned — and the offered one
     * is the oldest conversation in loans, which must not count as a wait */
    fx_agent(r, "ann", "loans", "en", 2);
    fx_wait(r, "x1", "c1", "loans", 100, 0);
    cr_assert_str_eq(fx_next(r, 1000, &o), "x1");
    fx_wait(r, "x2", "c2", "loans", 100, 2000);
    cr_assert_str_eq(fx_next(r, 2000, &o), "x2");
    cr_assert_eq(kf_routing_accept(r, "x2", "ann", 2000), KF_ROUTING_OK);
    /* bob (cards, 3 chats): one assigned, then away */
    fx_agent(r, "bob", "cards", "en", 3);
    fx_wait(r, "bob_conv", "c3", "cards", 1000, 4000);
    cr_assert_str_eq(fx_next(r, 4000, &o), "bob_conv");
    cr_assert_eq(kf_routing_accept(r, "bob_conv", "bob", 4000), KF_ROUTING_OK);
    cr_assert_eq(kf_routing_agent_status(r, "bob", KF_ROUTING_AWAY, 4000), KF_ROUTING_OK);
    /* carl (general, 4 chats): one assigned, then offline: neither counted */
    fx_agent(r, "carl", "general", "en", 4);
    fx_wait(r, "carl_conv", "c4", "general", 1000, 4500);
    cr_assert_str_eq(fx_next(r, 4500, &o), "carl_conv");
    cr_assert_eq(kf_routing_accept(r, "carl_conv", "carl", 4500), KF_ROUTING_OK);
    cr_assert_eq(kf_routing_agent_status(r, "carl", KF_ROUTING_OFFLINE, 4500), KF_ROUTING_OK);
    /* dan (complaints, 5 chats): online and idle */
    fx_agent(r, "dan", "complaints", "en", 5);
    /* waiting: loans en at 5000, loans zh at 3000 (the oldest wait in loans), cards at 8000 */
    fx_wait(r, "w_en", "c5", "loans", 0, 5000);
    cr_assert_eq(kf_routing_enqueue(r, "w_zh", "c6", "loans", "zh", 0, 3000), KF_ROUTING_OK);
    fx_wait(r, "c_wait", "c7", "cards", 0, 8000);
    fx_wait(r, "w_vip", "c8", "loans", 500, 9000); /* first in the queue, not the longest waiting */

    kf_routing_stats_t st;
    kf_routing_stats(r, 10000, &st);
    cr_assert_eq(st.n_skills, 6);
    for (size_t i = 0; i < 6; i++) cr_expect_str_eq(st.skills[i].skill, fx_skills[i]);
    const kf_routing_skill_stats_t *loans = skill_stats(&st, "loans"), *cards = skill_stats(&st, "cards"),
                                   *general = skill_stats(&st, "general"), *payments = skill_stats(&st, "payments");
    cr_expect_eq(loans->waiting, 3);
    cr_expect_eq(loans->offered, 1);
    cr_expect_eq(loans->assigned, 1);
    cr_expect_eq(loans->oldest_wait_ms, 7000, "oldest waiting is w_zh (3000), got %lld",
                 (long long)loans->oldest_wait_ms);
    cr_expect_eq(cards->waiting, 1);
    cr_expect_eq(cards->offered, 0);
    cr_expect_eq(cards->assigned, 1);
    cr_expect_eq(cards->oldest_wait_ms, 2000);
    cr_expect_eq(general->waiting, 0);
    cr_expect_eq(general->assigned, 1, "an offline agent's chats are still held");
    cr_expect_eq(general->oldest_wait_ms, 0);
    cr_expect_eq(payments->waiting + payments->offered + payments->assigned, 0);
    cr_expect_eq(st.agents_online, 2, "ann and dan");
    cr_expect_eq(st.agents_away, 1, "bob");
    cr_expect_eq(st.load, 3, "ann 2 + bob 1; carl is offline");
    cr_expect_eq(st.capacity, 7, "ann 2 + dan 5: away agents add no capacity");

    /* the oldest leaves: the next oldest counts */
    cr_assert_eq(kf_routing_leave(r, "w_zh", 10000), KF_ROUTING_OK);
    kf_routing_stats(r, 10000, &st);
    cr_expect_eq(skill_stats(&st, "loans")->oldest_wait_ms, 5000);
    cr_expect_eq(skill_stats(&st, "loans")->waiting, 2);
    /* a refused offer waits again with its first enqueue time (0) */
    cr_assert_eq(kf_routing_reject(r, "x1", "ann", 10000), KF_ROUTING_OK);
    kf_routing_stats(r, 10000, &st);
    loans = skill_stats(&st, "loans");
    cr_expect_eq(loans->oldest_wait_ms, 10000);
    cr_expect_eq(loans->waiting, 3);
    cr_expect_eq(loans->offered, 0);
    cr_expect_eq(st.load, 2);
    kf_routing_free(r);
}
