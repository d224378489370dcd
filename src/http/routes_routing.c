/* routes_routing.c — POST /v1/route (routes_routing.h): validates the
 * profile and query with the declarative schemas (422 and OpenAPI from the
 * same data), asks the engine for the decision (engine/route_query.c: NLU +
 * router policy + live agent state) and answers it as JSON.  It changes no
 * state: nothing is enqueued, no agent is reserved.  Runs inline on the
 * event loop: the NLU and the decision take microseconds. */
#include "http/routes_routing.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "engine/intent.h"
#include "http/request.h"
#include "http/router.h"
#include "http/schema.h"

static kf_routing_t *router;
static kf_route_skill_fn skill_of;
static void *skill_ud;

/* ---- schemas ------------------------------------------------------------- */

static const char *const langs[] = {"en", "zh", NULL};
static const kf_schema_t s_user_id = KF_STRING(.min_length = 1, .max_length = 128,
                                               .description = "The customer's id: their last agent is preferred when online");
static const kf_schema_t s_vip = KF_INTEGER(KF_RANGE(0, 9), .description = "0 = regular; higher = more important");
static const kf_schema_t s_lang = KF_STRING(.enum_values = langs, .description = "The language an agent must speak");
static const kf_schema_t s_value = KF_NUMBER(KF_GE(0), .description = "Customer value (currency units); weighted by log10(1 + value)");
static const kf_schema_t s_contacts = KF_INTEGER(KF_RANGE(0, 1000000), .description = "Earlier contacts with customer service");
static const kf_schema_prop_t profile_props[] = {{"user_id", &s_user_id, 0}, {"vip_tier", &s_vip, 1}, {"language", &s_lang, 1},
                                                 {"customer_value", &s_value, 0}, {"earlier_contacts", &s_contacts, 0}, {0}};
static const kf_schema_t s_profile = KF_OBJECT(.name = "RouteProfile", .properties = profile_props);
static const kf_schema_t s_query = KF_STRING(.min_length = 1, .max_length = 2000, .description = "The customer's message",
                                             .example_json = "\"I want to apply for a loan\"");
static const kf_schema_t s_session = KF_STRING(KF_PATTERN("^[a-f0-9]{32}$"), .description = "Session id: 32 lowercase hex digits, echoed");
static const kf_schema_t s_failures = KF_INTEGER(KF_RANGE(0, 100), .description = "Bot fallbacks in a row so far (default 0)");
static const kf_schema_prop_t req_props[] = {{"profile", &s_profile, 1}, {"query", &s_query, 1}, {"session_id", &s_session, 0},
                                             {"failures", &s_failures, 0}, {0}};
static const kf_schema_t s_req = KF_OBJECT(.name = "RouteRequest", .properties = req_props);

static const char *const kinds[] = {"bot", "skill", "agent", NULL};
static const kf_schema_t s_kind = KF_STRING(.enum_values = kinds, .description = "Who answers: the bot, a skill queue or an agent");
static const kf_schema_t s_name = KF_STRING();
static const kf_schema_prop_t target_props[] = {{"kind", &s_kind, 1}, {"skill", &s_name, 0}, {"agent_id", &s_name, 0}, {0}};
static const kf_schema_t s_target = KF_OBJECT(.name = "RouteTarget", .properties = target_props);
static const kf_schema_t s_num = KF_NUMBER();
static const kf_schema_t s_unit = KF_NUMBER(KF_RANGE(0, 1));
static const kf_schema_prop_t weight_props[] = {{"vip", &s_num, 1}, {"value", &s_num, 1}, {"complexity", &s_num, 1},
                                                {"sentiment", &s_num, 1}, {"failures", &s_num, 1}, {"contacts", &s_num, 1},
                                                {"rules", &s_num, 1}, {0}};
static const kf_schema_t s_weights = KF_OBJECT(.name = "RouteWeights", .properties = weight_props,
                                               .description = "Each input's share of priority, in priority points");
static const kf_schema_t s_bool = KF_BOOLEAN();
static const kf_schema_prop_t res_props[] = {
    {"target", &s_target, 1},      {"priority", &s_num, 1},    {"weights", &s_weights, 1},   {"reason", &s_name, 1},
    {"intent", &s_name, 1},        {"confidence", &s_unit, 1}, {"out_of_scope", &s_bool, 1}, {"complexity", &s_unit, 1},
    {"negativity", &s_unit, 1},    {"session_id", &s_name, 0}, {0}};
static const kf_schema_t s_res = KF_OBJECT(.name = "RouteDecision", .properties = res_props);
static const kf_schema_prop_t err_props[] = {{"detail", &s_name, 1}, {0}};
static const kf_schema_t s_error = KF_OBJECT(.name = "HTTPError", .properties = err_props);
static const kf_response_t route_res[] = {{200, "The decision", &s_res, NULL},
                                          {413, "Body larger than the limit", &s_error, NULL},
                                          {415, "Body is not application/json", &s_error, NULL},
                                          {503, "No intent model is loaded", &s_error, NULL}, {0}};

/* ---- handler ------------------------------------------------------------- */

static const cJSON *field(const cJSON *o, const char *name) { return cJSON_GetObjectItemCaseSensitive(o, name); }

static double num(const cJSON *o, const char *name, double dflt) {
    const cJSON *v = field(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static const char *str(const cJSON *o, const char *name) {
    const cJSON *v = field(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Two decimals: weights are sums of products of small decimals; the noise
 * digits of a double would only make the answer harder to read. */
static double round2(double x) { return round(x * 100) / 100; }

static cJSON *answer_json(const kf_route_answer_t *a, const char *session_id) {
    const kf_routing_decision_t *d = &a->decision;
    cJSON *doc = cJSON_CreateObject(), *t = cJSON_AddObjectToObject(doc, "target");
    cJSON_AddStringToObject(t, "kind", kf_routing_kind_name(d->kind));
    if (d->kind != KF_ROUTING_BOT) cJSON_AddStringToObject(t, "skill", d->skill);
    if (d->kind == KF_ROUTING_AGENT) cJSON_AddStringToObject(t, "agent_id", d->agent_id);
    cJSON_AddNumberToObject(doc, "priority", round2(d->priority));
    cJSON *w = cJSON_AddObjectToObject(doc, "weights");
    const struct { const char *k; double v; } ws[] = {
        {"vip", d->weights.vip},           {"value", d->weights.value},       {"complexity", d->weights.complexity},
        {"sentiment", d->weights.sentiment}, {"failures", d->weights.failures}, {"contacts", d->weights.contacts},
        {"rules", d->weights.rules}};
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) cJSON_AddNumberToObject(w, ws[i].k, round2(ws[i].v));
    cJSON_AddStringToObject(doc, "reason", d->reason);
    cJSON_AddStringToObject(doc, "intent", a->intent);
    cJSON_AddNumberToObject(doc, "confidence", round(a->confidence * 10000) / 10000);
    cJSON_AddBoolToObject(doc, "out_of_scope", a->out_of_scope);
    cJSON_AddNumberToObject(doc, "complexity", round(d->complexity * 1000) / 1000);
    cJSON_AddNumberToObject(doc, "negativity", round(d->negativity * 1000) / 1000);
    if (session_id) cJSON_AddStringToObject(doc, "session_id", session_id);
    return doc;
}

static void route(kf_req_t *r) {
    const cJSON *prof = field(r->body, "profile");
    const char *q = str(r->body, "query");
    kf_route_profile_t p = {.user_id = str(prof, "user_id"), .vip_tier = (int)num(prof, "vip_tier", 0),
                            .language = str(prof, "language"), .customer_value = num(prof, "customer_value", 0),
                            .earlier_contacts = (int)num(prof, "earlier_contacts", 0),
                            .failures = (int)num(r->body, "failures", 0)};
    if (!kf_intent_ready()) {
        kf_http_send_error(r, 503, "Service Unavailable: no intent model is loaded");
        return;
    }
    kf_route_answer_t a;
    char err[256];
    if (kf_route_query(router, skill_of, skill_ud, &p, q, strlen(q), now_ms(), &a, err, sizeof err) < 0) {
        kf_http_send_error(r, 400, err);
        return;
    }
    kf_http_send_json(r, 200, answer_json(&a, str(r->body, "session_id")));
}

static const kf_route_t routing_routes[] = {
    {.method = "POST", .path = "/v1/route", .operation_id = "routeQuery", .summary = "Who should answer this customer",
     .description = "The routing decision for a profile and a query: the bot, a skill queue, or the agent who would take "
                    "it now (the customer's last agent, else the least-loaded one with the skill, the language and free "
                    "capacity), with the priority, each input's weight in it and a human-readable reason. "
                    "Rules come from the bot's bot.yml `routing:`. Nothing is enqueued or reserved.",
     .tag = "routing", .body = &s_req, .responses = route_res, .handler = route},
};

int kf_routes_routing_register(kf_routing_t *rt, kf_route_skill_fn fn, void *ud) {
    char err[256];
    router = rt;
    skill_of = fn;
    skill_ud = ud;
    if (kf_schema_compile(&s_req, err, sizeof err) < 0) return -1;
    return kf_router_add(routing_routes, sizeof routing_routes / sizeof routing_routes[0]);
}
