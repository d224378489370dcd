/* routes_agent_conv.c — the agent's conversation API (routes_agent_conv.h).
 *
 * Who may act: a logged-in agent (bearer token or console cookie,
 * http/agent_auth.h) on a conversation the router has assigned to them, an
 * admin agent or the admin token on any.  Anything else is 403, so an agent
 * cannot even learn whether someone else's conversation exists.  Accepting is
 * the exception: any agent may take a conversation that is waiting (or
 * offered to them).
 *
 * Accepting also makes the agent known to the router with its account's
 * skills, languages and capacity, online: agent accounts and the router are
 * separate (engine/agents_auth.h, router/routing.h), and this is the first
 * place that needs both. */
#include "http/routes_agent_conv.h"

#include <stdlib.h>
#include <string.h>

#include "http/agent_auth.h"
#include "http/request.h"
#include "http/router.h"
#include "http/routes_agents_int.h"
#include "http/schema.h"
#include "http/server.h"
#include "store/history.h"

static kf_conv_t *engine;
static kf_routing_t *router;

/* ---- schemas ---- */

static const kf_schema_t s_conv_id = KF_STRING(KF_PATTERN("^[a-f0-9]{32}$"), .description = "Conversation id: 32 lowercase hex digits");
static const kf_schema_prop_t accept_props[] = {{"conversation_id", &s_conv_id, 1}, {0}};
static const kf_schema_t s_accept_req = KF_OBJECT(.name = "AgentAccept", .properties = accept_props, .forbid_extra = 1);
static const kf_schema_t s_text = KF_STRING(.min_length = 1, .max_length = KF_CONV_MAX_TEXT, .description = "The agent's message");
static const kf_schema_prop_t msg_props[] = {{"text", &s_text, 1}, {0}};
static const kf_schema_t s_msg_req = KF_OBJECT(.name = "AgentMessage", .properties = msg_props, .forbid_extra = 1);
static const kf_schema_t s_seq = KF_INTEGER(.description = "Sequence number of the stored message");
static const kf_schema_t s_str = KF_STRING();
static const kf_schema_prop_t done_props[] = {{"conversation_id", &s_conv_id, 1}, {"seq", &s_seq, 1}, {"text", &s_str, 1}, {0}};
static const kf_schema_t s_done = KF_OBJECT(.name = "AgentConversationAction", .properties = done_props,
                                            .description = "The message this stored (the agent's, or the system notice)");
static const kf_param_t id_params[] = {{"conversation_id", "path", &s_conv_id, 1, "The conversation"}, {0}};

#define ERR(code, what) {code, what, &kf_routes_agents_s_error, NULL}
static const kf_response_t act_res[] = {
    {200, "Done: the stored message", &s_done, NULL},
    ERR(401, "Missing, expired or unknown token"),
    ERR(403, "The conversation is not assigned to this agent"),
    ERR(404, "No such conversation"),
    ERR(409, "The conversation has ended, or is not in a state for this"),
    ERR(503, "Busy; see Retry-After"),
    {0}};

/* ---- answers ---- */

static void send_error(kf_req_t *r, int code, const char *msg) {
    switch (code) {
    case KF_CONV_NOTFOUND: kf_http_send_error(r, 404, "Not Found: no such conversation"); return;
    case KF_CONV_CLOSED: kf_http_send_error(r, 409, "Conflict: the conversation has ended"); return;
    case KF_CONV_STATE: kf_http_send_error(r, 409, "Conflict: the conversation is not in a state for this"); return;
    case KF_CONV_INVALID: kf_http_send_error(r, 422, "Unprocessable Content: invalid argument"); return;
    case KF_CONV_BUSY:
    case KF_CONV_SHUTDOWN:
    case KF_CONV_NOMEM:
        kf_http_add_header(r, "retry-after", "1");
        kf_http_send_error(r, 503, "Service Unavailable: busy, retry shortly");
        return;
    default: kf_http_send_error(r, 500, msg && msg[0] ? msg : "Internal Server Error");
    }
}

static void on_done(const kf_conv_result_t *res, void *ud) {
    kf_http_later_t *p = ud;
    kf_req_t *r = kf_http_later_req(p);
    if (r && res->status != KF_CONV_OK) {
        send_error(r, res->status, res->error);
    } else if (r) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "conversation_id", res->conv_id);
        cJSON_AddNumberToObject(doc, "seq", (double)res->ack_seq);
        cJSON_AddStringToObject(doc, "text", res->n_replies ? res->replies[0].text : "");
        kf_http_send_json(r, 200, doc);
    }
    kf_http_later_done(p);
}

/* Runs start (an engine call) with a pending answer; the engine's refusal is answered at once. */
static void run(kf_req_t *r, int (*start)(kf_req_t *r, const char *id, const kf_agent_t *a, kf_http_later_t *p),
                const char *id, const kf_agent_t *a) {
    kf_http_later_t *p = kf_http_later(r);
    if (!p) {
        send_error(r, KF_CONV_NOMEM, NULL);
        return;
    }
    int rc = start(r, id, a, p);
    if (rc != KF_CONV_OK) {
        send_error(r, rc, NULL);
        kf_http_later_done(p);
    }
}

/* ---- who may act ---- */

/* 1 with *a (id "" for the admin token) when the caller is an agent or admin; else answered. */
static int caller(kf_req_t *r, kf_agent_t *a) {
    h2o_iovec_t tok;
    if (kf_agent_auth_token_of(r, &tok)) return kf_agent_auth_require(r, KF_AGENT_ROLE_AGENT, a);
    return kf_agent_auth_require(r, KF_AGENT_ROLE_ADMIN, a);
}

/* 1 when a may act on conversation id: an admin, or the agent it is assigned to; else 403 answered. */
static int owns(kf_req_t *r, const kf_agent_t *a, const char *id) {
    kf_routing_conv_info_t info;
    if (!a->id[0] || a->role == KF_AGENT_ROLE_ADMIN) return 1;
    if (kf_routing_conv_info(router, id, kf_history_now_ms(), &info) == KF_ROUTING_OK &&
        info.state == KF_ROUTING_ASSIGNED && !strcmp(info.agent_id, a->id))
        return 1;
    kf_http_send_error(r, 403, "Forbidden: the conversation is not assigned to you");
    return 0;
}

static void path_id(const kf_req_t *r, char id[KF_HISTORY_ID_LEN + 1]) {
    const h2o_iovec_t *v = kf_req_path_param(r, "conversation_id");
    size_t n = v && v->len <= KF_HISTORY_ID_LEN ? v->len : 0;
    memcpy(id, v ? v->base : "", n);
    id[n] = 0;
}

/* The agent as the router sees it, from the account. */
static int register_agent(const kf_agent_t *a) {
    const char *skills[KF_AGENT_MAX_SKILLS], *langs[2];
    size_t nl = 0;
    for (size_t i = 0; i < a->n_skills; i++) skills[i] = a->skills[i];
    if (a->languages & KF_AGENT_LANG_EN) langs[nl++] = "en";
    if (a->languages & KF_AGENT_LANG_ZH) langs[nl++] = "zh";
    int rc = kf_routing_agent_upsert(router, a->id, skills, a->n_skills, langs, nl, a->max_chats);
    if (rc == KF_ROUTING_EINVAL) rc = kf_routing_agent_upsert(router, a->id, NULL, 0, langs, nl, a->max_chats);
    if (rc == KF_ROUTING_OK) rc = kf_routing_agent_status(router, a->id, KF_ROUTING_ONLINE, kf_history_now_ms());
    return rc;
}

/* ---- the routes ---- */

static int start_accept(kf_req_t *r, const char *id, const kf_agent_t *a, kf_http_later_t *p) {
    return kf_conv_assign(engine, id, a->id, a->name, r->thread->loop, on_done, p);
}

static void accept_conv(kf_req_t *r) {
    kf_agent_t a;
    if (!kf_agent_auth_require(r, KF_AGENT_ROLE_AGENT, &a)) return;
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive(r->body, "conversation_id");
    if (register_agent(&a) != KF_ROUTING_OK) {
        kf_http_send_error(r, 409, "Conflict: the agent's languages are not the bot's");
        return;
    }
    run(r, start_accept, cid->valuestring, &a);
}

static int start_message(kf_req_t *r, const char *id, const kf_agent_t *a, kf_http_later_t *p) {
    const char *text = cJSON_GetObjectItemCaseSensitive(r->body, "text")->valuestring;
    const char *who = a->id[0] && a->role != KF_AGENT_ROLE_ADMIN ? a->id : NULL;
    return kf_conv_agent_message(engine, id, who, text, strlen(text), r->thread->loop, on_done, p);
}

static int start_handback(kf_req_t *r, const char *id, const kf_agent_t *a, kf_http_later_t *p) {
    (void)a;
    return kf_conv_hand_back(engine, id, r->thread->loop, on_done, p);
}

static int start_close(kf_req_t *r, const char *id, const kf_agent_t *a, kf_http_later_t *p) {
    (void)a;
    return kf_conv_agent_close(engine, id, r->thread->loop, on_done, p);
}

static void on_conv(kf_req_t *r, int (*start)(kf_req_t *, const char *, const kf_agent_t *, kf_http_later_t *)) {
    kf_agent_t a;
    char id[KF_HISTORY_ID_LEN + 1];
    if (!caller(r, &a)) return;
    path_id(r, id);
    if (owns(r, &a, id)) run(r, start, id, &a);
}

static void message(kf_req_t *r) { on_conv(r, start_message); }
static void handback(kf_req_t *r) { on_conv(r, start_handback); }
static void close_conv(kf_req_t *r) { on_conv(r, start_close); }

static const kf_route_t routes[] = {
    {.method = "POST", .path = "/v1/agents/me/accept", .operation_id = "agentAccept", .summary = "Take a waiting conversation",
     .description = "The conversation must be waiting for an agent or offered to this one. The customer is told "
                    "\"Agent <name> joined\"; the bot stays silent until a hand-back.",
     .tag = "agents", .body = &s_accept_req, .responses = act_res, .handler = accept_conv},
    {.method = "POST", .path = "/v1/agents/conversations/{conversation_id}/messages", .operation_id = "agentSendMessage",
     .summary = "Write to the customer", .tag = "agents", .params = id_params, .body = &s_msg_req, .responses = act_res,
     .handler = message},
    {.method = "POST", .path = "/v1/agents/conversations/{conversation_id}/handback", .operation_id = "agentHandBack",
     .summary = "Give the conversation back to the bot", .tag = "agents", .params = id_params, .responses = act_res,
     .handler = handback},
    {.method = "POST", .path = "/v1/agents/conversations/{conversation_id}/close", .operation_id = "agentClose",
     .summary = "End the conversation; the customer is asked for a 1-5 rating", .tag = "agents", .params = id_params,
     .responses = act_res, .handler = close_conv},
};

int kf_routes_agent_conv_register(kf_conv_t *conv, kf_routing_t *routing, kf_agent_auth_t *auth) {
    (void)auth; /* the sessions http/agent_auth.h was given by the agent routes */
    engine = conv;
    router = routing;
    return kf_router_add(routes, sizeof routes / sizeof routes[0]);
}
