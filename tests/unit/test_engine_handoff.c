/* test_engine_handoff.c — human handoff in the conversation engine
 * (engine/conv.h, "human handoff"; conv_handoff.c, conv_agent.c) with a real
 * loop, SQLite history in a temp dir, the demo bot and model, a router with
 * two agents registered through the routing API and the in-process EventBus:
 * a handoff is queued with the policy's skill and priority and its notice
 * stored, the bot is silent while a person has the conversation, agents
 * join, write, hand back, transfer and close, and every stored message
 * reaches a bus subscriber in order. */
#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "engine_fixture.h"
#include "cli/cli.h"
#include "engine/conv.h"
#include "engine/intent.h"
#include "kb/kb.h"
#include "loop/loop.h"
#include "queue/bus.h"
#include "router_fixture.h"

#define ASK_HUMAN "I want to talk to a person"

static kf_session_store_t *sessions;
static kf_conv_t *conv, *expiry_target;
static kf_routing_t *router;
static kf_bus_t *bus;


static void setup(void) {
    engine_base_open("/tmp/kefu-handoff-XXXXXX");
    kf_session_mem_config_t sc = {.capacity = 100, .on_expire = kf_conv_session_expired, .expire_ud = &expiry_target};
    cr_assert(sessions = kf_session_mem_new(&sc, err, sizeof err), "%s", err);
    router = fx_router(NULL);
    fx_agent(router, "ann", "general", "en", 2);
    fx_agent(router, "ben", "general", "en", 2);
    cr_assert(bus = kf_bus_mem_new(NULL));
    kf_conv_config_t cc = {.bot = bot, .kb = kb, .history = hist, .sessions = sessions, .bus = bus,
                           .routing = router, .avg_handle_s = 120, .sweep_interval_ms = 50};
    cr_assert(conv = kf_conv_new(&cc, err, sizeof err), "%s", err);
    expiry_target = conv;
}

static void teardown(void) {
    kf_conv_free(conv);
    for (int i = 0; i < 5; i++) kf_loop_run_once(loop, 1);
    kf_bus_destroy(bus);
    kf_routing_free(router);
    kf_session_destroy(sessions);
    engine_base_close();
}

TestSuite(handoff, .init = setup, .fini = teardown, .timeout = 60);

/* ---- driving the engine ---- */

typedef struct {
    int done, status;
    int64_t ack;
    char handoff[48];
    size_t n;
    kf_history_sender_t from[KF_CONV_MAX_REPLIES];
    int64_t seqs[KF_CONV_MAX_REPLIES];
    char texts[KF_CONV_MAX_REPLIES][600];
} res_t;

static void on_done(const kf_conv_result_t *r, void *ud) {
    res_t *o = ud;
    o->status = r->status;
    o->ack = r->ack_seq;
    snprintf(o->handoff, sizeof o->handoff, "%s", r->handoff_skill ? r->handoff_skill : "");
    o->n = r->n_replies;
    for (size_t i = 0; i < r->n_replies; i++) {
        o->from[i] = r->replies[i].from;
        o->seqs[i] = r->replies[i].seq;
        snprintf(o->texts[i], sizeof o->texts[i], "%s", r->replies[i].text);
    }
    o->done = 1;
}

static void run_until(const int *flag) {
    for (int i = 0; i < 1000 && !*flag; i++) kf_loop_run_once(loop, 10);
    cr_assert(*flag, "no completion within 10 s");
}

static void start_conv(int vip, const char *user, char id[33]) {
    res_t r = {0};
    kf_history_profile_t p = {.language = "en", .vip_tier = vip, .user_id = user};
    cr_assert_eq(kf_conv_create(conv, &p, loop, on_done, &r, id), KF_CONV_OK);
    run_until(&r.done);
    cr_assert_eq(r.status, KF_CONV_OK);
}

static res_t say(const char *id, const char *text) {
    res_t r = {0};
    cr_assert_eq(kf_conv_message(conv, id, text, strlen(text), NULL, loop, on_done, &r), KF_CONV_OK);
    run_until(&r.done);
    cr_assert_eq(r.status, KF_CONV_OK, "status %d", r.status);
    return r;
}

/* Runs an agent call already started (rc) to its completion. */
static res_t finish(int rc, res_t *r) {
    cr_assert_eq(rc, KF_CONV_OK, "refused at once: %s", kf_conv_strerror(rc));
    run_until(&r->done);
    return *r;
}

#define AGENT(call) ({ res_t r_ = {0}; finish((call), &r_); })
#define CB loop, on_done, &r_

static void expect_notice(const res_t *r, const char *needle) {
    int found = 0;
    for (size_t i = 0; i < r->n; i++) found |= r->from[i] == KF_HISTORY_SYSTEM && strstr(r->texts[i], needle);
    cr_expect(found, "no system message with \"%s\" among %zu replies", needle, r->n);
}

static kf_routing_conv_info_t info_of(const char *id) {
    kf_routing_conv_info_t in = {0};
    cr_assert_eq(kf_routing_conv_info(router, id, kf_history_now_ms(), &in), KF_ROUTING_OK, "not in the router");
    return in;
}

static void expect_seqs_continuous(const char *id) {
    kf_history_msgs_t ms = {0};
    cr_assert_eq(kf_history_fetch(hist, id, 0, 1000, &ms, err, sizeof err), KF_HISTORY_OK, "%s", err);
    for (size_t i = 0; i < ms.n; i++) cr_expect_eq(ms.v[i].seq, (int64_t)i + 1, "seq %zu is %lld", i, (long long)ms.v[i].seq);
    kf_history_msgs_free(&ms);
}

/* ---- events ---- */

typedef struct {
    int n;
    char type[32][16];
    int64_t seq[32];
    char from[32][16];
    int position[32];
} events_t;

static void on_event(kf_bus_sub_t *s, const kf_bus_event_t *ev, void *ud) {
    (void)s;
    events_t *e = ud;
    cJSON *j = cJSON_Parse(ev->json);
    if (e->n < 32 && j) {
        const cJSON *t = cJSON_GetObjectItem(j, "type"), *q = cJSON_GetObjectItem(j, "seq"),
                    *f = cJSON_GetObjectItem(j, "from"), *p = cJSON_GetObjectItem(j, "position");
        snprintf(e->type[e->n], sizeof e->type[0], "%s", cJSON_IsString(t) ? t->valuestring : "");
        snprintf(e->from[e->n], sizeof e->from[0], "%s", cJSON_IsString(f) ? f->valuestring : "");
        e->seq[e->n] = cJSON_IsNumber(q) ? (int64_t)q->valuedouble : 0;
        e->position[e->n] = cJSON_IsNumber(p) ? p->valueint : 0;
        e->n++;
    }
    cJSON_Delete(j);
}

static kf_bus_sub_t *follow(const char *kind, const char *id, events_t *e) {
    char topic[KF_BUS_TOPIC_MAX + 1];
    cr_assert_eq(kf_bus_topic(topic, kind, id), 0);
    kf_bus_sub_t *s = kf_bus_subscribe(bus, topic, loop, on_event, e);
    cr_assert_not_null(s);
    return s;
}

static void drain(void) {
    for (int i = 0; i < 5; i++) kf_loop_run_once(loop, 1);
}

/* ---- tests ---- */

Test(handoff, queued_with_skill_priority_and_notice_vip_first) {
    char a[33], b[33];
    start_conv(0, "regular", a);
    start_conv(3, "vip", b);
    res_t r = say(a, ASK_HUMAN);
    cr_assert_str_eq(r.handoff, "general");
    expect_notice(&r, "Position in queue: 1, estimated wait: ~2 min");
    kf_routing_conv_info_t ia = info_of(a);
    cr_expect_eq(ia.state, KF_ROUTING_WAITING);
    cr_expect_str_eq(ia.skill, "general");
    r = say(b, ASK_HUMAN);
    expect_notice(&r, "Position in queue: 1"); /* the VIP goes in ahead */
    size_t pos = 0, n = 0;
    cr_assert_eq(kf_routing_position(router, a, &pos, &n), KF_ROUTING_OK);
    cr_expect_eq(pos, 2);
    cr_expect_eq(n, 2);
    cr_expect_gt(info_of(b).effective_priority, info_of(a).effective_priority);
}

Test(handoff, bot_silent_while_waiting_and_assigned) {
    char a[33];
    start_conv(0, "u1", a);
    say(a, ASK_HUMAN);
    res_t r = say(a, "I lost my card");
    cr_expect_eq(r.n, 0, "the bot answered while the customer waits: %s", r.n ? r.texts[0] : "");
    cr_expect_gt(r.ack, 0);
    AGENT(kf_conv_assign(conv, a, "ann", "Ann", CB));
    r = say(a, "I lost my card");
    cr_expect_eq(r.n, 0, "the bot answered while an agent has it");
    expect_seqs_continuous(a);
}

Test(handoff, assign_message_hand_back) {
    char a[33];
    start_conv(0, "u1", a);
    say(a, ASK_HUMAN);
    res_t r = AGENT(kf_conv_assign(conv, a, "ann", "Ann", CB));
    cr_expect_eq(r.from[0], KF_HISTORY_SYSTEM);
    cr_expect(strstr(r.texts[0], "Agent Ann joined"), "%s", r.texts[0]);
    kf_routing_conv_info_t in = info_of(a);
    cr_expect_eq(in.state, KF_ROUTING_ASSIGNED);
    cr_expect_str_eq(in.agent_id, "ann");
    /* another agent may not write in it */
    res_t no = {0};
    cr_assert_eq(kf_conv_agent_message(conv, a, "ben", "hi", 2, loop, on_done, &no), KF_CONV_OK);
    run_until(&no.done);
    cr_expect_eq(no.status, KF_CONV_STATE);
    r = AGENT(kf_conv_agent_message(conv, a, "ann", "Hello, Ann here", 15, CB));
    cr_expect_eq(r.from[0], KF_HISTORY_AGENT);
    cr_expect_str_eq(r.texts[0], "Hello, Ann here");
    kf_history_msgs_t ms = {0};
    cr_assert_eq(kf_history_fetch(hist, a, r.ack - 1, 1, &ms, err, sizeof err), KF_HISTORY_OK);
    cr_assert_eq(ms.n, 1);
    cr_expect_eq(ms.v[0].sender, KF_HISTORY_AGENT);
    kf_history_msgs_free(&ms);
    r = AGENT(kf_conv_hand_back(conv, a, CB));
    cr_expect_eq(r.from[0], KF_HISTORY_SYSTEM);
    kf_routing_conv_info_t gone;
    cr_expect_eq(kf_routing_conv_info(router, a, kf_history_now_ms(), &gone), KF_ROUTING_ENOENT);
    r = say(a, "I lost my card");
    cr_expect_geq(r.n, 1, "the bot did not answer after the hand-back");
    cr_expect_eq(r.from[0], KF_HISTORY_BOT);
}

Test(handoff, transfer_keeps_the_transcript_and_requeues) {
    char a[33];
    start_conv(0, "u1", a);
    say(a, ASK_HUMAN);
    AGENT(kf_conv_assign(conv, a, "ann", "Ann", CB));
    AGENT(kf_conv_agent_message(conv, a, "ann", "Let me pass you on", 18, CB));
    int before = info_of(a).transfers; /* picking from the queue is itself a router transfer to the agent */
    res_t r = AGENT(kf_conv_transfer(conv, a, "cards", NULL, CB));
    expect_notice(&r, "Position in queue: 1");
    kf_routing_conv_info_t in = info_of(a);
    cr_expect_eq(in.state, KF_ROUTING_WAITING);
    cr_expect_str_eq(in.skill, "cards");
    cr_expect_eq(in.transfers, before + 1);
    r = AGENT(kf_conv_transfer(conv, a, NULL, "ben", CB));
    r = AGENT(kf_conv_assign(conv, a, "ben", "Ben", CB));
    cr_expect_str_eq(info_of(a).agent_id, "ben");
    expect_seqs_continuous(a);
    /* exactly one target */
    cr_expect_eq(kf_conv_transfer(conv, a, "cards", "ann", loop, on_done, &r), KF_CONV_INVALID);
}

Test(handoff, events_arrive_in_order) {
    char a[33], b[33];
    start_conv(0, "u1", a);
    start_conv(0, "u2", b);
    events_t ea = {0}, eb = {0}, eann = {0};
    kf_bus_sub_t *sa = follow("conv", a, &ea), *sb = follow("conv", b, &eb), *sann = follow("agent", "ann", &eann);
    say(a, ASK_HUMAN);
    say(b, ASK_HUMAN);
    AGENT(kf_conv_assign(conv, a, "ann", "Ann", CB));
    AGENT(kf_conv_agent_message(conv, a, "ann", "Hi", 2, CB));
    say(a, "thanks");
    drain();
    int64_t last = 0;
    int queue = 0, agent = 0, system = 0;
    for (int i = 0; i < ea.n; i++) {
        if (!strcmp(ea.type[i], "queue")) {
            queue++;
            cr_expect_eq(ea.position[i], 1);
            continue;
        }
        cr_expect_str_eq(ea.type[i], "message");
        cr_expect_gt(ea.seq[i], last, "event %d: seq %lld after %lld", i, (long long)ea.seq[i], (long long)last);
        last = ea.seq[i];
        agent += !strcmp(ea.from[i], "agent");
        system += !strcmp(ea.from[i], "system");
    }
    cr_expect_eq(queue, 1);
    cr_expect_eq(agent, 1);
    cr_expect_eq(system, 2); /* the queue notice and "joined" */
    cr_expect_str_eq(ea.from[ea.n - 1], "customer");
    /* b moved up when a was taken */
    cr_assert_geq(eb.n, 2);
    cr_expect_str_eq(eb.type[eb.n - 1], "queue");
    cr_expect_eq(eb.position[eb.n - 1], 1);
    int b_pos2 = 0;
    for (int i = 0; i < eb.n; i++) b_pos2 |= !strcmp(eb.type[i], "queue") && eb.position[i] == 2;
    cr_expect(b_pos2, "b was never told position 2");
    cr_expect_eq(eann.n, 1);
    cr_expect_str_eq(eann.type[0], "assigned");
    kf_bus_unsubscribe(sa);
    kf_bus_unsubscribe(sb);
    kf_bus_unsubscribe(sann);
}

Test(handoff, agent_close_asks_for_a_rating_and_ends) {
    char a[33];
    start_conv(0, "u1", a);
    say(a, ASK_HUMAN);
    AGENT(kf_conv_assign(conv, a, "ann", "Ann", CB));
    events_t ea = {0};
    kf_bus_sub_t *sa = follow("conv", a, &ea);
    res_t r = AGENT(kf_conv_agent_close(conv, a, CB));
    cr_expect(strstr(r.texts[0], "rate"), "%s", r.texts[0]);
    drain();
    cr_assert_geq(ea.n, 2);
    cr_expect_str_eq(ea.type[ea.n - 1], "ended");
    kf_history_conv_t hc;
    cr_assert_eq(kf_history_get(hist, a, &hc, err, sizeof err), KF_HISTORY_OK);
    cr_expect_eq(hc.status, KF_HISTORY_CLOSED);
    kf_history_conv_free(&hc);
    kf_routing_agent_info_t ai;
    cr_assert_eq(kf_routing_agent_info(router, "ann", &ai), KF_ROUTING_OK);
    cr_expect_eq(ai.load, 0);
    /* the customer's rating is still recorded */
    res_t rr = AGENT(kf_conv_close(conv, a, 5, NULL, CB));
    cr_expect_eq(rr.status, KF_CONV_OK);
    res_t late = {0};
    cr_assert_eq(kf_conv_agent_message(conv, a, "ann", "hi", 2, loop, on_done, &late), KF_CONV_OK);
    run_until(&late.done);
    cr_expect_eq(late.status, KF_CONV_CLOSED);
    kf_bus_unsubscribe(sa);
}

Test(handoff, a_customer_who_leaves_stops_waiting_and_the_next_moves_up) {
    char a[33], b[33];
    start_conv(0, "u1", a);
    start_conv(0, "u2", b);
    say(a, ASK_HUMAN);
    say(b, ASK_HUMAN);
    events_t eb = {0};
    kf_bus_sub_t *sb = follow("conv", b, &eb);
    AGENT(kf_conv_close(conv, a, 4, NULL, CB));
    drain();
    kf_routing_conv_info_t gone;
    cr_expect_eq(kf_routing_conv_info(router, a, kf_history_now_ms(), &gone), KF_ROUTING_ENOENT);
    cr_assert_eq(eb.n, 1);
    cr_expect_str_eq(eb.type[0], "queue");
    cr_expect_eq(eb.position[0], 1);
    kf_bus_unsubscribe(sb);
}

/* The customer's own channel gets its message's replies from the completion;
 * the events go out only when somebody else (an agent, another tab) follows. */
Test(handoff, a_message_is_published_only_for_other_listeners) {
    char a[33];
    start_conv(0, "u1", a);
    events_t mine = {0}, agent = {0};
    kf_bus_sub_t *own = follow("conv", a, &mine);
    res_t r = {0};
    cr_assert_eq(kf_conv_message_from(conv, a, "hello", 5, NULL, kf_bus_sub_id(own), loop, on_done, &r), KF_CONV_OK);
    run_until(&r.done);
    drain();
    cr_expect_eq(mine.n, 0, "the sender alone: %d events built for nobody", mine.n);
    kf_bus_sub_t *watcher = follow("conv", a, &agent);
    res_t r2 = {0};
    cr_assert_eq(kf_conv_message_from(conv, a, "thanks", 6, NULL, kf_bus_sub_id(own), loop, on_done, &r2), KF_CONV_OK);
    run_until(&r2.done);
    drain();
    cr_assert_eq(agent.n, (int)(1 + r2.n), "the customer's message and %zu replies", r2.n);
    cr_expect_str_eq(agent.from[0], "customer");
    cr_expect_eq(agent.seq[0], r2.ack);
    cr_expect_eq(mine.n, agent.n, "the sender's subscription hears them too (and drops them by seq)");
    /* from another channel (REST) the sender's subscription is a listener like any other */
    kf_bus_unsubscribe(watcher);
    say(a, "bye");
    drain();
    cr_expect_gt(mine.n, agent.n);
    kf_bus_unsubscribe(own);
    drain();
}
