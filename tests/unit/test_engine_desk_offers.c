/* test_engine_desk_offers.c — the desk's dispatcher (engine/desk.c) over a
 * real engine (desk_fixture.h): offers reach the agent on duty and the
 * queues change; an offer not taken times out and moves to the next agent,
 * a refused one too; the agent first offered hears why it went (timeout,
 * taken, left); an agent who is away or whose last console closed gets no
 * offers; a transfer to a named agent is an offer to that agent. */
#include "desk_fixture.h"

TestSuite(desk, .init = setup, .fini = teardown, .timeout = 60);
/* the same with offer_timeout_s = 0.05 (a per-test .init would run after the suite's, not instead) */
TestSuite(desk_fast_offers, .init = setup_fast_offers, .fini = teardown, .timeout = 60);

Test(desk, a_handoff_is_offered_to_the_agent_on_duty_and_the_queues_change) {
    static events_t eann, eall;
    follow("agent", "ann", &eann);
    follow_topic("agents", &eall);
    on_duty("ann");
    cr_expect_eq(presence("ann"), KF_ROUTING_ONLINE);
    EXPECT_EVENT(&eall, 0, "queues_changed", NULL, NULL, "agents after the attach");
    char a[33];
    start_plain("u1", a);
    int before = eall.n;
    ask_human(a);
    int i = EXPECT_EVENT(&eann, 0, "offer", a, NULL, "ann");
    cr_expect_str_eq(str_of(eann.ev[i], "skill"), "general");
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(eann.ev[i], "sticky")));
    cr_expect(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(eann.ev[i], "expires_in_s")));
    EXPECT_EVENT(&eall, before, "queues_changed", NULL, NULL, "agents");
    kf_routing_conv_info_t in;
    cr_assert_eq(kf_routing_conv_info(router, a, kf_history_now_ms(), &in), KF_ROUTING_OK);
    cr_expect_eq(in.state, KF_ROUTING_OFFERED);
    cr_expect_str_eq(in.agent_id, "ann");
    /* the agent takes it: no withdrawal follows */
    accept_offer(a, "ann");
    int assigned = EXPECT_EVENT(&eann, 0, "assigned", a, NULL, "ann");
    cr_expect_gt(assigned, i);
    await_offers_resolved(); /* the desk saw the acceptance */
    sync_topic(&eann, "agent", "ann");
    cr_expect_lt(find_event(&eann, 0, "offer_withdrawn", a, NULL), 0, "an accepted offer was withdrawn");
}

/* offer_timeout_s = 0.05 */
Test(desk_fast_offers, an_offer_not_taken_times_out_and_goes_to_the_next_agent) {
    static events_t eann, eben;
    follow("agent", "ann", &eann);
    follow("agent", "ben", &eben);
    on_duty("ann");
    char a[33];
    start_plain("u1", a);
    ask_human(a);
    int first = EXPECT_EVENT(&eann, 0, "offer", a, NULL, "ann");
    on_duty("ben");
    int gone = EXPECT_EVENT(&eann, first, "offer_withdrawn", a, "timeout", "ann");
    cr_expect_gt(gone, first);
    EXPECT_EVENT(&eben, 0, "offer", a, NULL, "ben");
    /* the counters are bumped at the end of the dispatcher pass that published the events */
    double timeouts = 0, made = 0;
    for (int k = 0; k < 1000 && (timeouts < 1 || made < 2); k++) {
        cJSON *st = kf_desk_stats(desk);
        cr_assert_not_null(st);
        timeouts = path_num(st, "offers", "timeouts", NULL);
        made = path_num(st, "offers", "made", NULL);
        cJSON_Delete(st);
        if (timeouts < 1 || made < 2) kf_loop_run_once(loop, 10);
    }
    cr_expect_geq(timeouts, 1);
    cr_expect_geq(made, 2);
}

Test(desk, a_rejected_offer_goes_to_another_agent) {
    static events_t eann, eben;
    follow("agent", "ann", &eann);
    follow("agent", "ben", &eben);
    on_duty("ann");
    char a[33];
    start_plain("u1", a);
    ask_human(a);
    EXPECT_EVENT(&eann, 0, "offer", a, NULL, "ann");
    on_duty("ben");
    cr_assert_eq(kf_desk_reject(desk, a, "ann"), KF_ROUTING_OK);
    EXPECT_EVENT(&eben, 0, "offer", a, NULL, "ben");
    kf_routing_conv_info_t in;
    cr_assert_eq(kf_routing_conv_info(router, a, kf_history_now_ms(), &in), KF_ROUTING_OK);
    cr_expect_eq(in.state, KF_ROUTING_OFFERED);
    cr_expect_str_eq(in.agent_id, "ben");
    cr_expect_eq(in.rejections, 1);
    /* refusing what is not yours is an error */
    cr_expect_neq(kf_desk_reject(desk, a, "ann"), KF_ROUTING_OK);
}

/* Two customers ask for a person while only ben takes offers: both are
 * offered to him (ann would be the least loaded for the second), none to ann. */
static void both_offers_go_to_ben(events_t *eann, events_t *eben, const char *who) {
    char a[33], b[33];
    start_plain("u1", a);
    start_plain("u2", b);
    ask_human(a);
    EXPECT_EVENT(eben, 0, "offer", a, NULL, "ben");
    ask_human(b);
    EXPECT_EVENT(eben, 0, "offer", b, NULL, "ben");
    sync_topic(eann, "agent", "ann");
    cr_expect_lt(find_event(eann, 0, "offer", NULL, NULL), 0, "%s got an offer", who);
}

Test(desk, the_last_console_closing_stops_offers_to_that_agent) {
    static events_t eann, eben;
    follow("agent", "ann", &eann);
    follow("agent", "ben", &eben);
    kf_agent_t ann = on_duty("ann");
    cr_assert_eq(kf_desk_attach(desk, &ann), KF_ROUTING_OK); /* a second tab */
    kf_desk_detach(desk, "ann");
    cr_expect_eq(presence("ann"), KF_ROUTING_ONLINE, "one console of two closed: still on duty");
    kf_desk_detach(desk, "ann");
    cr_expect_eq(presence("ann"), KF_ROUTING_OFFLINE, "the last console closed");
    on_duty("ben");
    both_offers_go_to_ben(&eann, &eben, "an agent with no console");
}

Test(desk, an_offer_taken_by_another_agent_is_withdrawn_as_taken) {
    static events_t eann;
    follow("agent", "ann", &eann);
    on_duty("ann");
    char a[33];
    start_plain("u1", a);
    ask_human(a);
    int first = EXPECT_EVENT(&eann, 0, "offer", a, NULL, "ann");
    on_duty("ben");
    AGENT(kf_conv_assign(conv, a, "ben", "Ben", CB)); /* ben picks it from the queue list */
    /* ben has it now: assigned to him (not merely offered), and he can write */
    kf_routing_conv_info_t in;
    cr_assert_eq(kf_routing_conv_info(router, a, kf_history_now_ms(), &in), KF_ROUTING_OK);
    cr_expect_eq(in.state, KF_ROUTING_ASSIGNED, "state %d after ben's kf_conv_assign (0 waiting, 1 offered, 2 assigned)",
                 (int)in.state);
    cr_expect_str_eq(in.agent_id, "ben");
    res_t w = {0};
    cr_assert_eq(kf_conv_agent_message(conv, a, "ben", "Hello, Ben here", 15, loop, on_done, &w), KF_CONV_OK);
    run_until(&w.done);
    cr_expect_eq(w.status, KF_CONV_OK, "ben joined but cannot write: %s", kf_conv_strerror(w.status));
    EXPECT_EVENT(&eann, first, "offer_withdrawn", a, "taken", "ann");
}

Test(desk, a_customer_leaving_an_offer_is_withdrawn_once_as_left) {
    static events_t eann, eall;
    follow("agent", "ann", &eann);
    follow_topic("agents", &eall);
    on_duty("ann");
    char a[33];
    start_plain("u1", a);
    ask_human(a);
    int first = EXPECT_EVENT(&eann, 0, "offer", a, NULL, "ann");
    int mark = eall.n;
    AGENT(kf_conv_close(conv, a, 0, NULL, CB));
    EXPECT_EVENT(&eann, first, "offer_withdrawn", a, "left", "ann");
    /* the dispatcher pass the close kicked has run (it announces the change) */
    EXPECT_EVENT(&eall, mark, "queues_changed", NULL, NULL, "agents");
    await_offers_resolved();
    sync_topic(&eann, "agent", "ann");
    int withdrawn = 0;
    for (int i = 0; i < eann.n; i++) withdrawn += find_event(&eann, i, "offer_withdrawn", a, NULL) == i;
    cr_expect_eq(withdrawn, 1, "ann was told %d times that the offer went", withdrawn);
    kf_routing_agent_info_t ai;
    cr_assert_eq(kf_routing_agent_info(router, "ann", &ai), KF_ROUTING_OK);
    cr_expect_eq(ai.load, 0, "the offer still counts on ann's load");
}

Test(desk, an_agent_who_is_away_gets_no_offers) {
    static events_t eann, eben;
    follow("agent", "ann", &eann);
    follow("agent", "ben", &eben);
    kf_agent_t ann = on_duty("ann");
    cr_assert_eq(kf_desk_set_status(desk, &ann, KF_AGENT_AWAY), KF_ROUTING_OK);
    cr_expect_eq(presence("ann"), KF_ROUTING_AWAY);
    cr_expect_eq(kf_agent_auth_status(auth, "ann", NULL), KF_AGENT_AWAY);
    on_duty("ben");
    both_offers_go_to_ben(&eann, &eben, "an away agent");
    /* back online: ann is the least loaded now */
    cr_assert_eq(kf_desk_set_status(desk, &ann, KF_AGENT_ONLINE), KF_ROUTING_OK);
    char c3[33];
    start_plain("u3", c3);
    ask_human(c3);
    EXPECT_EVENT(&eann, 0, "offer", c3, NULL, "ann");
}

/* desk.h: "Each offer ... is an event on agent:<id>" — also when an agent
 * hands a conversation to a named colleague (the router offers it to them). */
Test(desk, a_conversation_transferred_to_an_agent_is_offered_to_that_agent) {
    static events_t eben;
    follow("agent", "ben", &eben);
    on_duty("ann");
    char a[33];
    start_plain("u1", a);
    ask_human(a);
    accept_offer(a, "ann");
    on_duty("ben");
    res_t r = AGENT(kf_conv_transfer(conv, a, NULL, "ben", CB));
    cr_assert_eq(r.status, KF_CONV_OK);
    kf_routing_conv_info_t in;
    cr_assert_eq(kf_routing_conv_info(router, a, kf_history_now_ms(), &in), KF_ROUTING_OK);
    cr_expect_eq(in.state, KF_ROUTING_OFFERED);
    cr_expect_str_eq(in.agent_id, "ben");
    EXPECT_EVENT(&eben, 0, "offer", a, NULL, "ben");
}
