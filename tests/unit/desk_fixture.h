/* desk_fixture.h — shared set-up for test_engine_desk.c and
 * test_engine_desk_offers.c: a real engine (the demo bot and model, SQLite
 * history and agent accounts in a temp dir, in-memory sessions, the
 * in-process bus, a router and a loop the test runs) with a desk on top,
 * and helpers to put agents on duty, drive customers and watch the bus.
 * One test file per binary includes it, so its statics are that binary's;
 * the helpers are static inline because each file uses only some of them. */
#ifndef KF_TEST_DESK_FIXTURE_H
#define KF_TEST_DESK_FIXTURE_H

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
#include "engine/agents_auth.h"
#include "engine/conv.h"
#include "engine/desk.h"
#include "engine/desk_int.h" /* the offers the dispatcher still follows */
#include "engine/intent.h"
#include "kb/kb.h"
#include "loop/loop.h"
#include "queue/bus.h"
#include "router_fixture.h"
#include "store/agents.h"

#define ASK_HUMAN "I want to talk to a person"
/* A cheap stand-in for an argon2id hash: the desk never checks passwords. */
#define FAKE_HASH "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

static char agents_db[128];
static kf_session_store_t *sessions;
static kf_conv_t *conv, *expiry_target;
static kf_routing_t *router;
static kf_bus_t *bus;
static kf_agents_t *accounts;
static kf_agent_auth_t *auth;
static kf_desk_t *desk;


static inline void setup_with(double offer_timeout_s) {
    engine_base_open("/tmp/kefu-desk-XXXXXX");
    snprintf(agents_db, sizeof agents_db, "%s/agents.db", dir);
    kf_session_mem_config_t sc = {.capacity = 100, .on_expire = kf_conv_session_expired, .expire_ud = &expiry_target};
    cr_assert(sessions = kf_session_mem_new(&sc, err, sizeof err), "%s", err);
    kf_routing_config_t rc;
    kf_routing_config_default(&rc);
    rc.offer_timeout_s = offer_timeout_s;
    router = fx_router(&rc);
    cr_assert(bus = kf_bus_mem_new(NULL));
    kf_conv_config_t cc = {.bot = bot, .kb = kb, .history = hist, .sessions = sessions, .bus = bus,
                           .routing = router, .avg_handle_s = 120, .sweep_interval_ms = 50};
    cr_assert(conv = kf_conv_new(&cc, err, sizeof err), "%s", err);
    expiry_target = conv;
    cr_assert(accounts = kf_agents_sqlite_open(agents_db, err, sizeof err), "%s", err);
    kf_agent_auth_config_t ac = {.store = accounts};
    cr_assert(auth = kf_agent_auth_new(&ac, err, sizeof err), "%s", err);
    kf_desk_config_t dc = {.conv = conv, .routing = router, .auth = auth, .bot = bot, .tick_ms = 20};
    cr_assert(desk = kf_desk_new(&dc, err, sizeof err), "%s", err);
}

static inline void setup(void) { setup_with(30); }
static inline void setup_fast_offers(void) { setup_with(0.05); }

static inline void unfollow_all(void);

static inline void teardown(void) {
    unfollow_all();
    kf_desk_stop(desk);
    kf_conv_free(conv);
    for (int i = 0; i < 5; i++) kf_loop_run_once(loop, 1);
    kf_desk_free(desk);
    kf_bus_destroy(bus);
    kf_agent_auth_free(auth);
    kf_agents_destroy(accounts);
    kf_routing_free(router);
    kf_session_destroy(sessions);
    engine_base_close();
}


/* ---- agents ---- */

/* An account (skills as CSV, English) stored with a stand-in hash. */
static inline kf_agent_t make_agent(const char *id, const char *skills, kf_agent_role_t role) {
    kf_agent_t a = {.languages = KF_AGENT_LANG_EN, .max_chats = 2, .role = role};
    snprintf(a.id, sizeof a.id, "%s", id);
    snprintf(a.name, sizeof a.name, "Agent %s", id);
    cr_assert_eq(kf_agents_parse_skills(skills, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kf_agents_create(accounts, &a, FAKE_HASH, err, sizeof err), KF_AGENTS_OK, "%s", err);
    return a;
}

/* Online, with one console connected. */
static inline kf_agent_t on_duty(const char *id) {
    kf_agent_t a = make_agent(id, "general", KF_AGENT_ROLE_AGENT);
    cr_assert_eq(kf_agent_auth_set_status(auth, id, KF_AGENT_ONLINE), 0);
    cr_assert_eq(kf_desk_attach(desk, &a), KF_ROUTING_OK);
    return a;
}

static inline kf_routing_presence_t presence(const char *id) {
    kf_routing_agent_info_t ai;
    cr_assert_eq(kf_routing_agent_info(router, id, &ai), KF_ROUTING_OK, "%s is not in the router", id);
    return ai.status;
}

/* ---- driving the engine ---- */

typedef struct {
    int done, status;
    int64_t ack;
    char handoff[48], intent[64];
    size_t n;
    kf_history_sender_t from[KF_CONV_MAX_REPLIES];
    char texts[KF_CONV_MAX_REPLIES][600];
} res_t;

static inline void on_done(const kf_conv_result_t *r, void *ud) {
    res_t *o = ud;
    o->status = r->status;
    o->ack = r->ack_seq;
    snprintf(o->handoff, sizeof o->handoff, "%s", r->handoff_skill ? r->handoff_skill : "");
    snprintf(o->intent, sizeof o->intent, "%s", r->intent ? r->intent : "");
    o->n = r->n_replies;
    for (size_t i = 0; i < r->n_replies; i++) {
        o->from[i] = r->replies[i].from;
        snprintf(o->texts[i], sizeof o->texts[i], "%s", r->replies[i].text);
    }
    o->done = 1;
}

static inline void run_until(const int *flag) {
    for (int i = 0; i < 1000 && !*flag; i++) kf_loop_run_once(loop, 10);
    cr_assert(*flag, "no completion within 10 s");
}

static inline void start_conv(const kf_history_profile_t *p, char id[33]) {
    res_t r = {0};
    cr_assert_eq(kf_conv_create(conv, p, loop, on_done, &r, id), KF_CONV_OK);
    run_until(&r.done);
    cr_assert_eq(r.status, KF_CONV_OK);
}

static inline void start_plain(const char *user, char id[33]) {
    kf_history_profile_t p = {.language = "en", .user_id = user};
    start_conv(&p, id);
}

static inline res_t say(const char *id, const char *text) {
    res_t r = {0};
    cr_assert_eq(kf_conv_message(conv, id, text, strlen(text), NULL, loop, on_done, &r), KF_CONV_OK);
    run_until(&r.done);
    cr_assert_eq(r.status, KF_CONV_OK, "status %d", r.status);
    return r;
}

static inline void ask_human(const char *id) {
    res_t r = say(id, ASK_HUMAN);
    cr_assert_str_eq(r.handoff, "general", "no handoff to general: '%s'", r.handoff);
}

/* Runs an agent call already started (rc) to its completion, which must succeed. */
static inline res_t finish(int rc, res_t *r) {
    cr_assert_eq(rc, KF_CONV_OK, "refused at once: %s", kf_conv_strerror(rc));
    run_until(&r->done);
    cr_assert_eq(r->status, KF_CONV_OK, "failed: %s", kf_conv_strerror(r->status));
    return *r;
}

/* Runs the loop until the desk has offered conv_id to agent (what a console
 * waits for before it accepts). */
static inline void await_offered(const char *conv_id, const char *agent) {
    kf_routing_conv_info_t in = {0};
    for (int k = 0; k < 1000; k++) {
        if (kf_routing_conv_info(router, conv_id, kf_history_now_ms(), &in) == KF_ROUTING_OK &&
            in.state == KF_ROUTING_OFFERED && !strcmp(in.agent_id, agent))
            return;
        kf_loop_run_once(loop, 10);
    }
    cr_assert_fail("%s was not offered to %s within 10 s (state %d, agent '%s')", conv_id, agent, (int)in.state,
                   in.agent_id);
}

/* The agent on duty accepts the desk's offer. */
static inline void accept_offer(const char *conv_id, const char *agent) {
    await_offered(conv_id, agent);
    res_t r_ = {0};
    finish(kf_conv_assign(conv, conv_id, agent, agent, loop, on_done, &r_), &r_);
}

#define AGENT(call) ({ res_t r_ = {0}; finish((call), &r_); })
#define CB loop, on_done, &r_

/* ---- events: every JSON document a topic got, in order ---- */

#define MAX_EVENTS 256

typedef struct {
    int n;
    cJSON *ev[MAX_EVENTS];
} events_t;

static inline void on_event(kf_bus_sub_t *s, const kf_bus_event_t *ev, void *ud) {
    (void)s;
    events_t *e = ud;
    cJSON *j = cJSON_Parse(ev->json);
    cr_assert_not_null(j, "not JSON: %s", ev->json);
    if (e->n < MAX_EVENTS) e->ev[e->n++] = j;
    else cJSON_Delete(j);
}

/* Subscriptions and their events, released by teardown (also after a failed assertion). */
#define MAX_SUBS 8
static kf_bus_sub_t *subs[MAX_SUBS];
static events_t *subs_events[MAX_SUBS];

static inline void events_free(events_t *e) {
    for (int i = 0; i < e->n; i++) cJSON_Delete(e->ev[i]);
    e->n = 0;
}

static inline void unfollow_all(void) {
    for (int i = 0; i < MAX_SUBS; i++) {
        if (subs[i]) kf_bus_unsubscribe(subs[i]);
        if (subs_events[i]) events_free(subs_events[i]);
        subs[i] = NULL;
        subs_events[i] = NULL;
    }
}

static inline void follow_topic(const char *topic, events_t *e) {
    int i = 0;
    while (i < MAX_SUBS && subs[i]) i++;
    cr_assert_lt(i, MAX_SUBS, "too many subscriptions");
    subs[i] = kf_bus_subscribe(bus, topic, loop, on_event, e);
    cr_assert_not_null(subs[i], "cannot follow %s", topic);
    subs_events[i] = e;
}

static inline void follow(const char *kind, const char *id, events_t *e) {
    char topic[KF_BUS_TOPIC_MAX + 1];
    cr_assert_eq(kf_bus_topic(topic, kind, id), 0);
    follow_topic(topic, e);
}

static inline const char *str_of(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline double num_of(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsNumber(v), "no number \"%s\"", key);
    return v->valuedouble;
}

/* The first event from index `from` on with this type (and conversation and
 * reason when given); -1 when none. */
static inline int find_event(const events_t *e, int from, const char *type, const char *conv_id, const char *reason) {
    for (int i = from; i < e->n; i++) {
        const char *t = str_of(e->ev[i], "type"), *c = str_of(e->ev[i], "conversation_id"),
                   *r = str_of(e->ev[i], "reason");
        if (!t || strcmp(t, type)) continue;
        if (conv_id && (!c || strcmp(c, conv_id))) continue;
        if (reason && (!r || strcmp(r, reason))) continue;
        return i;
    }
    return -1;
}

/* Runs the loop until that event arrived; the deadline only keeps a broken
 * desk from hanging the test. */
static inline int await_event(const events_t *e, int from, const char *type, const char *conv_id, const char *reason) {
    int i = -1;
    for (int k = 0; k < 1000 && (i = find_event(e, from, type, conv_id, reason)) < 0; k++) kf_loop_run_once(loop, 10);
    return i;
}

#define EXPECT_EVENT(e, from, type, conv_id, reason, what)                                                      \
    ({                                                                                                           \
        int i_ = await_event((e), (from), (type), (conv_id), (reason));                                          \
        cr_assert_geq(i_, 0, "%s: no \"%s\" event (reason %s) within 10 s among %d", (what), (type),             \
                      (reason) ? (const char *)(reason) : "any", (e)->n);                                         \
        i_;                                                                                                      \
    })

/* Every event published on kind:id before this call has been delivered to e
 * when it returns: a marker published now arrives after them (the in-process
 * bus queues each subscriber's events in the order their publish calls
 * happened).  For checks that something was NOT published. */
static inline void sync_topic(events_t *e, const char *kind, const char *id) {
    static int seq;
    char topic[KF_BUS_TOPIC_MAX + 1], js[64], want[16];
    cr_assert_eq(kf_bus_topic(topic, kind, id), 0);
    snprintf(want, sizeof want, "m%d", ++seq);
    snprintf(js, sizeof js, "{\"type\":\"test_marker\",\"conversation_id\":\"%s\"}", want);
    cr_assert_gt(kf_bus_publish(bus, topic, js, strlen(js)), 0, "nobody follows %s", topic);
    EXPECT_EVENT(e, 0, "test_marker", want, NULL, topic);
}

/* Runs the loop until the dispatcher follows no offer any more (each one resolved). */
static inline void await_offers_resolved(void) {
    size_t n = 1;
    for (int k = 0; k < 1000 && n; k++) {
        pthread_mutex_lock(&desk->mu);
        n = desk->n_offers;
        pthread_mutex_unlock(&desk->mu);
        if (n) kf_loop_run_once(loop, 10);
    }
    cr_assert_eq(n, 0, "the desk still follows %zu offer(s) after 10 s", n);
}

/* ---- JSON helpers ---- */

static inline const cJSON *queue_of(const cJSON *queues, const char *skill) {
    const cJSON *q;
    cJSON_ArrayForEach(q, queues) {
        const char *s = str_of(q, "skill");
        if (s && !strcmp(s, skill)) return q;
    }
    return NULL;
}

static inline const cJSON *waiting_item(const cJSON *queues, const char *skill, const char *conv_id) {
    const cJSON *q = queue_of(queues, skill), *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(q, "waiting")) {
        const char *c = str_of(it, "conversation_id");
        if (c && !strcmp(c, conv_id)) return it;
    }
    return NULL;
}

static inline double path_num(const cJSON *doc, const char *a, const char *b, const char *c) {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(doc, a);
    cr_assert_not_null(o, "no \"%s\"", a);
    if (c) {
        o = cJSON_GetObjectItemCaseSensitive(o, b);
        cr_assert_not_null(o, "no \"%s.%s\"", a, b);
        return num_of(o, c);
    }
    return num_of(o, b);
}

#endif
