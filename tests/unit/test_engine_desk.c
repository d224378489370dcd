/* test_engine_desk.c — the agents' desk (engine/desk.h) over a real engine
 * (desk_fixture.h): what an agent console shows and counts.  The queue list
 * and an item carry the customer's profile and why they asked; internal
 * notes are stored with their author, reach the agent and never the
 * customer; transcripts carry notes and intents; the numbers (CSAT,
 * containment, handoff reasons, waits, occupancy) and who may act on a
 * conversation.  Offers are in test_engine_desk_offers.c. */
#include "desk_fixture.h"

TestSuite(desk, .init = setup, .fini = teardown, .timeout = 60);

Test(desk, queues_and_item_show_profile_intent_reason_and_summary) {
    char a[33], b[33];
    kf_history_profile_t p = {.language = "en", .vip_tier = 3, .user_id = "u-vip", .name = "Mei"};
    start_conv(&p, a);
    start_plain("u-regular", b);
    say(a, "I lost my card");
    res_t r = say(a, ASK_HUMAN);
    cr_assert_str_eq(r.handoff, "general");
    cr_assert_neq(r.intent[0], 0, "the NLU found no intent in \"%s\"", ASK_HUMAN);

    /* nobody on duty: it waits */
    cJSON *qs = kf_desk_queues(desk, NULL);
    cr_assert_not_null(qs);
    cr_assert(cJSON_IsArray(qs));
    const cJSON *it = waiting_item(qs, "general", a);
    cr_assert_not_null(it, "%s not waiting in general", a);
    cr_expect_str_eq(str_of(it, "state"), "waiting");
    cr_expect_str_eq(str_of(it, "skill"), "general");
    cr_expect_str_eq(str_of(it, "language"), "en");
    cr_expect_str_eq(str_of(it, "agent_id"), "");
    cr_expect_eq(num_of(it, "vip_tier"), 3);
    cr_expect_str_eq(str_of(it, "customer_name"), "Mei");
    cr_expect_str_eq(str_of(it, "intent"), r.intent);
    cr_expect_str_eq(str_of(it, "reason"), "customer_request");
    const char *summary = str_of(it, "summary");
    cr_assert_not_null(summary);
    cr_expect_neq(summary[0], 0, "empty summary");
    cr_expect(strstr(summary, ASK_HUMAN), "the customer's last words are not in the summary: %s", summary);
    cr_expect_geq(num_of(it, "wait_s"), 0);
    cr_expect_gt(num_of(it, "priority"), 0, "a VIP's priority");
    cr_expect_null(waiting_item(qs, "general", b), "b never asked for a human");

    cJSON *item = kf_desk_item(desk, a);
    cr_assert_not_null(item);
    const char *keys[] = {"conversation_id", "skill", "language", "state", "agent_id", "customer_name", "intent",
                          "reason", "summary"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        const char *x = str_of(item, keys[k]), *y = str_of(it, keys[k]);
        cr_assert(x && y, "no \"%s\"", keys[k]);
        cr_expect_str_eq(x, y, "kf_desk_item and kf_desk_queues disagree on %s", keys[k]);
    }
    cr_expect_eq(num_of(item, "vip_tier"), 3);
    cr_expect_eq(num_of(item, "enqueued_at"), num_of(it, "enqueued_at"));
    cJSON_Delete(item);
    cr_expect_null(kf_desk_item(desk, b), "not held by the router");
    cr_expect_null(kf_desk_item(desk, "0123456789abcdef0123456789abcdef"));
    cJSON_Delete(qs);

    /* an agent sees its own skills' queues; an admin sees them all */
    kf_agent_t cards = make_agent("carol", "cards", KF_AGENT_ROLE_AGENT);
    qs = kf_desk_queues(desk, &cards);
    cr_assert_not_null(qs);
    cr_expect_not_null(queue_of(qs, "cards"));
    cr_expect_null(queue_of(qs, "general"), "a cards agent sees the general queue");
    cJSON_Delete(qs);
    kf_agent_t admin = make_agent("root", "cards", KF_AGENT_ROLE_ADMIN);
    qs = kf_desk_queues(desk, &admin);
    cr_expect_not_null(waiting_item(qs, "general", a));
    cJSON_Delete(qs);
}

Test(desk, a_note_is_stored_with_its_author_reaches_the_agent_not_the_customer) {
    on_duty("ann");
    make_agent("ben", "general", KF_AGENT_ROLE_AGENT);
    char a[33];
    start_plain("u1", a);
    res_t lost = say(a, "I lost my card");
    ask_human(a);
    accept_offer(a, "ann");
    static events_t ecust, eann;
    follow("conv", a, &ecust);
    follow("agent", "ann", &eann);

    const char *text = "Customer is upset, offer a fee waiver";
    res_t r = AGENT(kf_conv_agent_note(conv, a, "ann", text, strlen(text), CB));
    cr_assert_eq(r.status, KF_CONV_OK);
    cr_expect_eq(r.from[0], KF_HISTORY_NOTE);
    int64_t note_seq = r.ack;
    cr_assert_gt(note_seq, 0);

    kf_history_msgs_t ms = {0};
    cr_assert_eq(kf_history_fetch(hist, a, note_seq - 1, 1, &ms, err, sizeof err), KF_HISTORY_OK, "%s", err);
    cr_assert_eq(ms.n, 1);
    cr_expect_eq(ms.v[0].seq, note_seq);
    cr_expect_eq(ms.v[0].sender, KF_HISTORY_NOTE);
    cr_expect_str_eq(ms.v[0].text, text);
    cr_assert_not_null(ms.v[0].author, "the note has no author");
    cr_expect_str_eq(ms.v[0].author, "ann");
    kf_history_msgs_free(&ms);

    int i = EXPECT_EVENT(&eann, 0, "note", a, NULL, "agent:ann");
    cr_expect_str_eq(str_of(eann.ev[i], "agent_id"), "ann");
    cr_expect_str_eq(str_of(eann.ev[i], "text"), text);
    cr_expect_eq(num_of(eann.ev[i], "seq"), (double)note_seq);

    /* an agent message after it does reach the customer: everything before it has been delivered */
    AGENT(kf_conv_agent_message(conv, a, "ann", "Let me check", 12, CB));
    int m = await_event(&ecust, 0, "message", a, NULL);
    for (int k = 0; k < 1000 && m >= 0; k++) {
        const char *t = str_of(ecust.ev[m], "text");
        if (t && !strcmp(t, "Let me check")) break;
        m = await_event(&ecust, m + 1, "message", a, NULL);
    }
    cr_assert_geq(m, 0, "the agent's message never reached conv:%s", a);
    for (int k = 0; k < ecust.n; k++) {
        const char *t = str_of(ecust.ev[k], "type"), *x = str_of(ecust.ev[k], "text");
        cr_expect(!t || strcmp(t, "note"), "a note event on the customer's topic");
        cr_expect(!x || strcmp(x, text), "the note's text on the customer's topic");
        if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(ecust.ev[k], "seq")))
            cr_expect_neq(num_of(ecust.ev[k], "seq"), (double)note_seq, "the note's seq on the customer's topic");
    }

    /* only the assigned agent writes notes */
    res_t no = {0};
    cr_assert_eq(kf_conv_agent_note(conv, a, "ben", "x", 1, loop, on_done, &no), KF_CONV_OK);
    run_until(&no.done);
    cr_expect_eq(no.status, KF_CONV_STATE);

    /* the transcript has the note (with its author) and the customer's messages with intents */
    cJSON *tr = kf_desk_transcript(desk, a);
    cr_assert_not_null(tr);
    cr_expect_str_eq(str_of(tr, "conversation_id"), a);
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(tr, "messages"), *x;
    cr_assert(cJSON_IsArray(msgs));
    int notes = 0, lost_seen = 0, customers = 0;
    cJSON_ArrayForEach(x, msgs) {
        const char *from = str_of(x, "from"), *t = str_of(x, "text");
        cr_assert(from && t);
        if (!strcmp(from, "note")) {
            notes++;
            cr_expect_str_eq(t, text);
            cr_expect_eq(num_of(x, "seq"), (double)note_seq);
            const char *who = str_of(x, "agent_id");
            cr_expect(who && !strcmp(who, "ann"), "the note's author is not in the transcript");
        }
        if (!strcmp(from, "customer")) {
            customers++;
            const char *intent = str_of(x, "intent");
            cr_expect_not_null(intent, "customer message \"%s\" without its intent", t);
            if (!strcmp(t, "I lost my card")) {
                lost_seen = 1;
                cr_expect(intent && !strcmp(intent, lost.intent), "intent %s, the NLU said %s", intent, lost.intent);
            }
        }
    }
    cr_expect_eq(notes, 1);
    cr_expect_eq(customers, 2);
    cr_expect(lost_seen, "the customer's first message is not in the transcript");
    const cJSON *ho = cJSON_GetObjectItemCaseSensitive(tr, "handoff");
    cr_expect_str_eq(str_of(ho, "state"), "assigned");
    cr_expect_str_eq(str_of(ho, "agent_id"), "ann");
    cr_expect_str_eq(str_of(cJSON_GetObjectItemCaseSensitive(tr, "customer"), "user_id"), "u1");
    cJSON_Delete(tr);
    cr_expect_null(kf_desk_transcript(desk, "0123456789abcdef0123456789abcdef"));

}

Test(desk, stats_count_csat_containment_reasons_and_waits) {
    on_duty("ann");
    char a[33], b[33];
    start_plain("u1", a);
    start_plain("u2", b);
    ask_human(a);
    accept_offer(a, "ann");
    AGENT(kf_conv_agent_close(conv, a, CB));
    res_t r = AGENT(kf_conv_close(conv, a, 5, NULL, CB));
    cr_assert_eq(r.status, KF_CONV_OK);

    cJSON *st = kf_desk_stats(desk);
    cr_assert_not_null(st);
    cr_expect_eq(path_num(st, "csat", "count", NULL), 1);
    cr_expect_float_eq(path_num(st, "csat", "average", NULL), 5.0, 1e-9);
    cr_expect_eq(path_num(st, "conversations", "escalated", NULL), 1);
    cr_expect_eq(path_num(st, "conversations", "contained", NULL), 0);
    cr_expect_eq(path_num(st, "handoffs", "by_reason", "customer_request"), 1);
    cr_expect_eq(path_num(st, "handoffs", "total", NULL), 1);
    cr_expect_eq(path_num(st, "wait", "count", NULL), 1);
    cJSON_Delete(st);

    /* b never reached a person */
    say(b, "hello");
    AGENT(kf_conv_close(conv, b, 0, NULL, CB));
    st = kf_desk_stats(desk);
    cr_expect_eq(path_num(st, "conversations", "contained", NULL), 1);
    cr_expect_eq(path_num(st, "conversations", "escalated", NULL), 1);
    cr_expect_eq(path_num(st, "conversations", "ended", NULL), 2);
    cr_expect_float_eq(path_num(st, "conversations", "containment_rate", NULL), 0.5, 1e-9);
    cr_expect_eq(path_num(st, "csat", "count", NULL), 1, "closing without a rating counted one");
    cr_expect_eq(path_num(st, "handoffs", "total", NULL), 1);
    cJSON_Delete(st);

    /* rating a again replaces the rating on the record (history) but is not
     * a second rating in the numbers: those keep the first (conv.c) */
    r = AGENT(kf_conv_close(conv, a, 4, NULL, CB));
    cr_expect_eq(r.status, KF_CONV_OK);
    st = kf_desk_stats(desk);
    cr_expect_eq(path_num(st, "csat", "count", NULL), 1, "a second rating of one conversation counted twice");
    cr_expect_float_eq(path_num(st, "csat", "average", NULL), 5.0, 1e-9, "the re-rating was added to the sum");
    cr_expect_eq(path_num(st, "conversations", "ended", NULL), 2, "re-rating ended it again");
    cJSON_Delete(st);
    kf_history_conv_t hc;
    cr_assert_eq(kf_history_get(hist, a, &hc, err, sizeof err), KF_HISTORY_OK, "%s", err);
    cr_expect_eq(hc.csat, 4, "the record keeps the latest rating");
    kf_history_conv_free(&hc);

    kf_conv_stats_t cs;
    kf_conv_stats(conv, &cs);
    cr_expect_eq(cs.handoffs_by_reason[KF_CONV_REASON_CUSTOMER_REQUEST], 1);
    cr_expect_eq(cs.ended_contained, 1);
    cr_expect_eq(cs.ended_escalated, 1);
    cr_expect_eq(cs.csat_count, 1);
    cr_expect_eq(cs.waits, 1);
    uint64_t in_buckets = 0;
    for (int i = 0; i < KF_CONV_WAIT_BUCKETS; i++) in_buckets += cs.wait_buckets[i];
    cr_expect_eq(in_buckets, 1, "a wait of a few ms is in no bucket");
}

Test(desk, handoff_facts_follow_the_conversation) {
    char a[33];
    kf_history_profile_t p = {.language = "en", .vip_tier = 2, .user_id = "u-7", .name = "Wang"};
    start_conv(&p, a);
    kf_conv_handoff_t h;
    cr_expect_neq(kf_conv_handoff_get(conv, a, &h), 0, "facts before any handoff");
    ask_human(a);
    cr_assert_eq(kf_conv_handoff_get(conv, a, &h), 0);
    cr_expect_str_eq(h.conv_id, a);
    cr_expect_eq(h.reason, KF_CONV_REASON_CUSTOMER_REQUEST);
    cr_expect_str_eq(h.skill, "general");
    cr_expect_str_eq(h.lang, "en");
    cr_expect_str_eq(h.user_id, "u-7");
    cr_expect_str_eq(h.customer_name, "Wang");
    cr_expect_eq(h.vip_tier, 2);
    cr_expect_gt(h.handoff_ms, 0);
    cr_expect_neq(h.summary[0], 0);
    AGENT(kf_conv_close(conv, a, 0, NULL, CB));
    cr_expect_neq(kf_conv_handoff_get(conv, a, &h), 0, "facts kept after the conversation ended");
}

Test(desk, who_may_act_on_a_conversation) {
    kf_agent_t ann = on_duty("ann");
    kf_agent_t ben = make_agent("ben", "general", KF_AGENT_ROLE_AGENT);
    kf_agent_t root = make_agent("root", "cards", KF_AGENT_ROLE_ADMIN);
    char a[33];
    start_plain("u1", a);
    ask_human(a);
    cr_expect_eq(kf_desk_may_act(desk, &ann, a), 0, "not assigned yet");
    accept_offer(a, "ann");
    cr_expect_eq(kf_desk_may_act(desk, &ann, a), 1, "the assigned agent");
    cr_expect_eq(kf_desk_may_act(desk, &ben, a), 0, "another agent");
    cr_expect_eq(kf_desk_may_act(desk, &root, a), 1, "an admin");
    cr_expect_eq(kf_desk_may_act(desk, NULL, a), 0);
    cJSON *qs = kf_desk_queues(desk, NULL);
    cr_assert_not_null(qs);
    cr_expect_null(waiting_item(qs, "general", a), "an assigned conversation is still listed as waiting");
    cJSON_Delete(qs);
    cJSON *mine = kf_desk_assigned(desk, "ann"), *his = kf_desk_assigned(desk, "ben");
    cr_assert(mine && his);
    cr_expect_eq(cJSON_GetArraySize(mine), 1);
    cr_expect_str_eq(str_of(cJSON_GetArrayItem(mine, 0), "conversation_id"), a);
    cr_expect_eq(cJSON_GetArraySize(his), 0);
    cJSON_Delete(mine);
    cJSON_Delete(his);
}

Test(desk, agents_lists_enabled_accounts_with_their_status) {
    on_duty("ann");
    make_agent("ben", "general,cards", KF_AGENT_ROLE_AGENT);
    make_agent("gone", "general", KF_AGENT_ROLE_AGENT);
    cr_assert_eq(kf_agents_set_disabled(accounts, "gone", 1, err, sizeof err), KF_AGENTS_OK);
    cr_assert_eq(kf_agent_auth_set_status(auth, "ben", KF_AGENT_AWAY), 0);
    cJSON *v = kf_desk_agents(desk);
    cr_assert_not_null(v);
    cr_expect_eq(cJSON_GetArraySize(v), 2, "the disabled account is listed");
    const cJSON *x;
    int seen = 0;
    cJSON_ArrayForEach(x, v) {
        const char *id = str_of(x, "id");
        cr_assert_not_null(id);
        if (!strcmp(id, "ann")) {
            seen |= 1;
            cr_expect_str_eq(str_of(x, "status"), "online");
        } else if (!strcmp(id, "ben")) {
            seen |= 2;
            cr_expect_str_eq(str_of(x, "status"), "away");
            cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(x, "skills")), 2);
        }
    }
    cr_expect_eq(seen, 3);
    cJSON_Delete(v);
}

Test(desk, a_transfer_is_counted_apart_and_becomes_the_reason) {
    on_duty("ann");
    char a[33];
    start_plain("u1", a);
    ask_human(a);
    accept_offer(a, "ann");
    AGENT(kf_conv_agent_message(conv, a, "ann", "Let me pass you on", 18, CB));
    AGENT(kf_conv_transfer(conv, a, "cards", NULL, CB));
    /* the next agent reads the whole conversation under the same id */
    cJSON *tr = kf_desk_transcript(desk, a);
    cr_assert_not_null(tr);
    const cJSON *x;
    int asked = 0, ann_wrote = 0, last_seq = 0, gaps = 0;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(tr, "messages")) {
        const char *from = str_of(x, "from"), *t = str_of(x, "text");
        cr_assert(from && t);
        asked |= !strcmp(from, "customer") && !strcmp(t, ASK_HUMAN);
        ann_wrote |= !strcmp(from, "agent") && !strcmp(t, "Let me pass you on");
        int seq = (int)num_of(x, "seq");
        gaps += seq != last_seq + 1;
        last_seq = seq;
    }
    cr_expect(asked, "the customer's request is not in the transcript after the transfer");
    cr_expect(ann_wrote, "the first agent's message is not in the transcript after the transfer");
    cr_expect_eq(gaps, 0, "the transcript has gaps (seq 1..%d)", last_seq);
    cJSON_Delete(tr);
    cJSON *item = kf_desk_item(desk, a);
    cr_assert_not_null(item);
    cr_expect_str_eq(str_of(item, "reason"), "transfer");
    cr_expect_str_eq(str_of(item, "skill"), "cards");
    cr_expect_str_eq(str_of(item, "state"), "waiting");
    cJSON_Delete(item);
    cJSON *st = kf_desk_stats(desk);
    cr_expect_eq(path_num(st, "handoffs", "by_reason", "transfer"), 1);
    cr_expect_eq(path_num(st, "handoffs", "by_reason", "customer_request"), 1);
    cr_expect_eq(path_num(st, "handoffs", "total", NULL), 1, "a transfer is not a new handoff");
    cJSON_Delete(st);
}

Test(desk, a_handed_back_conversation_still_counts_as_escalated) {
    on_duty("ann");
    char a[33];
    start_plain("u1", a);
    ask_human(a);
    accept_offer(a, "ann");
    AGENT(kf_conv_hand_back(conv, a, CB));
    cr_expect_null(kf_desk_item(desk, a), "no longer held by the router");
    kf_conv_handoff_t h;
    cr_expect_eq(kf_conv_handoff_get(conv, a, &h), 0, "facts dropped at the hand-back (conv.h keeps them until the end)");
    say(a, "thanks");
    AGENT(kf_conv_close(conv, a, 4, NULL, CB));
    cJSON *st = kf_desk_stats(desk);
    cr_expect_eq(path_num(st, "conversations", "escalated", NULL), 1);
    cr_expect_eq(path_num(st, "conversations", "contained", NULL), 0);
    cr_expect_eq(path_num(st, "csat", "count", NULL), 1);
    cr_expect_float_eq(path_num(st, "csat", "average", NULL), 4.0, 1e-9);
    cJSON_Delete(st);
}

Test(desk, occupancy_and_queue_numbers_in_stats) {
    on_duty("ann"); /* 2 chats */
    char a[33], b[33];
    start_plain("u1", a);
    start_plain("u2", b);
    ask_human(a);
    accept_offer(a, "ann");
    make_agent("ben", "cards", KF_AGENT_ROLE_AGENT); /* an account, not on duty: no capacity */
    ask_human(b); /* nobody free to offer it to but ann; she has room: wait for the offer */
    await_offered(b, "ann");
    cJSON *st = kf_desk_stats(desk);
    cr_assert_not_null(st);
    cr_expect_eq(path_num(st, "agents", "online", NULL), 1);
    cr_expect_eq(path_num(st, "agents", "capacity", NULL), 2);
    cr_expect_eq(path_num(st, "agents", "load", NULL), 2, "one assigned + one offered");
    cr_expect_float_eq(path_num(st, "agents", "occupancy", NULL), 1.0, 1e-9);
    const cJSON *q, *general = NULL;
    cJSON_ArrayForEach(q, cJSON_GetObjectItemCaseSensitive(st, "queues")) {
        const char *s = str_of(q, "skill");
        if (s && !strcmp(s, "general")) general = q;
    }
    cr_assert_not_null(general);
    cr_expect_eq(num_of(general, "assigned"), 1);
    cr_expect_eq(num_of(general, "offered"), 1);
    cr_expect_eq(num_of(general, "waiting"), 0);
    cJSON_Delete(st);
}

Test(desk, a_resent_message_never_replays_a_note_to_the_customer) {
    on_duty("ann");
    char a[33];
    start_plain("u1", a);
    ask_human(a);
    accept_offer(a, "ann");
    res_t first = {0};
    cr_assert_eq(kf_conv_message(conv, a, "is anyone there", 15, "cm-1", loop, on_done, &first), KF_CONV_OK);
    run_until(&first.done);
    cr_assert_eq(first.status, KF_CONV_OK);
    AGENT(kf_conv_agent_note(conv, a, "ann", "private remark", 14, CB));
    AGENT(kf_conv_agent_message(conv, a, "ann", "Yes, I am here", 14, CB));
    res_t again = {0};
    cr_assert_eq(kf_conv_message(conv, a, "is anyone there", 15, "cm-1", loop, on_done, &again), KF_CONV_OK);
    run_until(&again.done);
    cr_assert_eq(again.status, KF_CONV_OK);
    cr_expect_eq(again.ack, first.ack);
    for (size_t i = 0; i < again.n; i++) {
        cr_expect_neq(again.from[i], KF_HISTORY_NOTE, "a note replayed to the customer");
        cr_expect_str_neq(again.texts[i], "private remark");
    }
}
