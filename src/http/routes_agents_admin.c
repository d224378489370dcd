/* routes_agents_admin.c — agent account administration over HTTP (see
 * routes_agents.h): create, list, disable.  The routes are KF_ROUTE_ADMIN,
 * so http/auth.c decides who passes: the admin bearer token, an admin
 * agent's session (another agent: 403), or — with neither and no admin
 * token configured — a loopback client.  `kefu agent` does the same from a
 * shell on the server.
 *
 * Creating an account hashes its password with argon2id on the session
 * module's workers; the answer is deferred like a login's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/agent_auth.h"
#include "http/router.h"
#include "http/routes_agents_int.h"
#include "loop/loop.h"

static kf_agent_auth_t *auth;
static const kf_bot_t *bot;

/* ---- schemas ---- */

#define AGENT_ID_PATTERN "^[a-z0-9][a-z0-9_-]{0,31}$"
static const char *const langs[] = {"en", "zh", NULL};
static const char *const roles[] = {"agent", "admin", NULL};
static const char *const statuses[] = {"online", "away", "offline", NULL};
static const kf_schema_t s_id = KF_STRING(KF_PATTERN(AGENT_ID_PATTERN), .description = "Short slug, also the login name",
                                          .example_json = "\"alice\"");
static const kf_schema_t s_name = KF_STRING(.min_length = 1, .max_length = 100, .description = "Display name");
static const kf_schema_t s_skill = KF_STRING(KF_PATTERN("^[a-z0-9][a-z0-9_-]{0,31}$"), .description = "A skill of the bot (bot.yml skills)");
static const kf_schema_t s_skills = KF_ARRAY(.items = &s_skill, .max_items = KF_AGENT_MAX_SKILLS, .default_json = "[]");
static const kf_schema_t s_lang = KF_STRING(.enum_values = langs);
static const kf_schema_t s_langs = KF_ARRAY(.items = &s_lang, .min_items = 1, .max_items = 2, .default_json = "[\"en\"]");
static const kf_schema_t s_max = KF_INTEGER(KF_RANGE(1, KF_AGENT_MAX_CHATS), .default_json = "3",
                                            .description = "Chats the agent may hold at once");
static const kf_schema_t s_role = KF_STRING(.enum_values = roles, .default_json = "\"agent\"");
static const kf_schema_t s_password = KF_STRING(.min_length = KF_AGENT_PASSWORD_MIN, .max_length = KF_AGENT_PASSWORD_MAX,
                                                .description = "Stored only as an argon2id hash");
static const kf_schema_prop_t create_props[] = {
    {"id", &s_id, 1},          {"name", &s_name, 1}, {"skills", &s_skills, 0}, {"languages", &s_langs, 0},
    {"max_chats", &s_max, 0},  {"role", &s_role, 0}, {"password", &s_password, 1}, {0}};
static const kf_schema_t s_create = KF_OBJECT(.name = "AgentCreate", .properties = create_props, .forbid_extra = 1);

static const kf_schema_t s_bool = KF_BOOLEAN();
static const kf_schema_t s_ms = KF_INTEGER(.description = "Milliseconds since the Unix epoch");
static const kf_schema_t s_status = KF_STRING(.enum_values = statuses, .description = "Live status (offline once heartbeats stop)");
static const kf_schema_prop_t agent_props[] = {
    {"id", &s_id, 1},        {"name", &s_name, 1},           {"skills", &s_skills, 1},     {"languages", &s_langs, 1},
    {"max_chats", &s_max, 1}, {"role", &s_role, 1},          {"disabled", &s_bool, 1},     {"created_at", &s_ms, 1},
    {"status", &s_status, 1}, {0}};
const kf_schema_t kf_routes_agents_s_agent = KF_OBJECT(.name = "Agent", .properties = agent_props);
static const kf_schema_t s_detail = KF_STRING();
static const kf_schema_prop_t err_props[] = {{"detail", &s_detail, 1}, {0}};
const kf_schema_t kf_routes_agents_s_error = KF_OBJECT(.name = "HTTPError", .properties = err_props);
static const kf_schema_t s_agents = KF_ARRAY(.items = &kf_routes_agents_s_agent);
static const kf_schema_prop_t list_props[] = {{"agents", &s_agents, 1}, {0}};
static const kf_schema_t s_list = KF_OBJECT(.name = "AgentList", .properties = list_props);
static const kf_param_t id_params[] = {{"agent_id", "path", &s_id, 1, "The agent's id"}, {0}};

#define E (&kf_routes_agents_s_error)
static const kf_response_t create_res[] = {
    {201, "Created", &kf_routes_agents_s_agent, NULL},       {401, "Missing, expired or wrong token", E, NULL},
    {403, "Not an admin (or not loopback without an admin token)", E, NULL}, {409, "The id is taken", E, NULL},
    {503, "Too many password hashes in progress; see Retry-After", E, NULL}, {0}};
static const kf_response_t list_res[] = {{200, "Every account, by id", &s_list, NULL},
                                         {401, "Missing, expired or wrong token", E, NULL},
                                         {403, "Not an admin", E, NULL}, {0}};
static const kf_response_t disable_res[] = {{200, "Disabled; its sessions ended", &kf_routes_agents_s_agent, NULL},
                                            {401, "Missing, expired or wrong token", E, NULL},
                                            {403, "Not an admin", E, NULL}, {404, "No such agent", E, NULL}, {0}};
#undef E

/* ---- JSON ---- */

cJSON *kf_routes_agents_json(const kf_agent_t *a) {
    cJSON *o = kf_agents_json(a);
    kf_agent_status_t st = a->disabled ? KF_AGENT_OFFLINE : kf_agent_auth_status(auth, a->id, NULL);
    cJSON_AddStringToObject(o, "status", kf_agent_status_name(st));
    return o;
}

/* ---- create ---- */

/* One pydantic-shaped error for body.skills[i]. */
static void unknown_skill(kf_req_t *r, size_t i, const char *skill) {
    cJSON *errors = cJSON_CreateArray(), *e = cJSON_CreateObject(), *loc = cJSON_CreateArray();
    cJSON_AddStringToObject(e, "type", "unknown_skill");
    cJSON_AddItemToArray(loc, cJSON_CreateString("body"));
    cJSON_AddItemToArray(loc, cJSON_CreateString("skills"));
    cJSON_AddItemToArray(loc, cJSON_CreateNumber((double)i));
    cJSON_AddItemToObject(e, "loc", loc);
    cJSON_AddStringToObject(e, "msg", "Skill is not one of the bot's skills");
    cJSON_AddStringToObject(e, "input", skill);
    cJSON_AddItemToArray(errors, e);
    kf_http_send_validation(r, errors);
}

/* The validated body as an account; 0, or -1 after answering r. */
static int agent_from_body(kf_req_t *r, kf_agent_t *a) {
    const cJSON *b = r->body, *it;
    memset(a, 0, sizeof *a);
    snprintf(a->id, sizeof a->id, "%s", cJSON_GetObjectItemCaseSensitive(b, "id")->valuestring);
    snprintf(a->name, sizeof a->name, "%s", cJSON_GetObjectItemCaseSensitive(b, "name")->valuestring);
    size_t i = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(b, "skills")) {
        if (bot && !kf_bot_has_skill(bot, it->valuestring)) {
            unknown_skill(r, i, it->valuestring);
            return -1;
        }
        int dup = 0;
        for (size_t k = 0; k < a->n_skills; k++) dup |= !strcmp(a->skills[k], it->valuestring);
        if (!dup) snprintf(a->skills[a->n_skills++], sizeof a->skills[0], "%s", it->valuestring);
        i++;
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(b, "languages"))
        a->languages |= !strcmp(it->valuestring, "zh") ? KF_AGENT_LANG_ZH : KF_AGENT_LANG_EN;
    a->max_chats = cJSON_GetObjectItemCaseSensitive(b, "max_chats")->valueint;
    a->role = (kf_agent_role_t)kf_agents_role_parse(cJSON_GetObjectItemCaseSensitive(b, "role")->valuestring);
    return 0;
}

static void on_created(const kf_agent_auth_result_t *res, void *ud) {
    kf_http_later_t *p = ud;
    kf_req_t *r = kf_http_later_req(p);
    char msg[320];
    if (!r) {
        kf_http_later_done(p); /* the client left: the account exists all the same */
        return;
    }
    if (res->status == KF_AGENT_AUTH_OK) kf_http_send_json(r, 201, kf_routes_agents_json(&res->agent));
    else if (res->status == KF_AGENTS_EXISTS) kf_http_send_error(r, 409, "Conflict: an agent with this id already exists");
    else if (res->status == KF_AGENTS_INVALID) {
        snprintf(msg, sizeof msg, "Unprocessable Content: %s", res->error);
        kf_http_send_error(r, 422, msg);
    } else kf_http_send_error(r, 500, "Internal Server Error: the agent store failed");
    kf_http_later_done(p);
}

static void create(kf_req_t *r) {
    kf_agent_t a;
    char err[256];
    if (agent_from_body(r, &a) < 0) return;
    if (kf_agents_validate(&a, err, sizeof err) < 0) {
        char msg[320];
        snprintf(msg, sizeof msg, "Unprocessable Content: %s", err);
        kf_http_send_error(r, 422, msg);
        return;
    }
    kf_http_later_t *p = kf_http_later(r);
    if (!p) {
        kf_http_send_error(r, 503, "Service Unavailable: out of memory");
        return;
    }
    const char *pw = cJSON_GetObjectItemCaseSensitive(r->body, "password")->valuestring;
    if (kf_agent_auth_create_async(auth, &a, pw, kf_loop_current(), on_created, p) != KF_AGENT_AUTH_OK) {
        kf_http_later_done(p); /* the completion will never run */
        kf_http_add_header(r, "retry-after", "1");
        kf_http_send_error(r, 503, "Service Unavailable: too many password hashes in progress, retry shortly");
    }
}

/* ---- list, disable ---- */

static void list(kf_req_t *r) {
    kf_agent_t *v = NULL;
    size_t n = 0;
    char err[256];
    if (kf_agents_list(kf_agent_auth_store(auth), &v, &n, err, sizeof err) != KF_AGENTS_OK) {
        kf_http_send_error(r, 500, "Internal Server Error: the agent store failed");
        return;
    }
    cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "agents");
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, kf_routes_agents_json(&v[i]));
    free(v);
    kf_http_send_json(r, 200, doc);
}

static void disable(kf_req_t *r) {
    const h2o_iovec_t *idv = kf_req_path_param(r, "agent_id");
    char id[KF_AGENT_ID_MAX + 1], err[256];
    kf_agent_t a;
    snprintf(id, sizeof id, "%.*s", (int)(idv->len < KF_AGENT_ID_MAX ? idv->len : KF_AGENT_ID_MAX), idv->base);
    kf_agents_t *store = kf_agent_auth_store(auth);
    int rc = kf_agents_set_disabled(store, id, 1, err, sizeof err);
    if (rc == KF_AGENTS_OK) rc = kf_agents_get(store, id, &a, NULL, err, sizeof err);
    if (rc == KF_AGENTS_NOTFOUND) {
        kf_http_send_error(r, 404, "Not Found: no such agent");
        return;
    }
    if (rc != KF_AGENTS_OK) {
        kf_http_send_error(r, 500, "Internal Server Error: the agent store failed");
        return;
    }
    kf_agent_auth_revoke_agent(auth, id);
    kf_agent_auth_set_status(auth, id, KF_AGENT_OFFLINE);
    kf_http_send_json(r, 200, kf_routes_agents_json(&a));
}

static const kf_route_t routes[] = {
    {.method = "POST", .path = "/v1/admin/agents", .operation_id = "createAgent", .summary = "Create an agent account",
     .description = "Skills must be the bot's (bot.yml skills). The password is stored only as an argon2id hash.",
     .tag = "admin", .body = &s_create, .responses = create_res, .handler = create, .flags = KF_ROUTE_ADMIN},
    {.method = "GET", .path = "/v1/admin/agents", .operation_id = "listAgents", .summary = "Every agent account with its live status",
     .tag = "admin", .responses = list_res, .handler = list, .flags = KF_ROUTE_ADMIN},
    {.method = "POST", .path = "/v1/admin/agents/{agent_id}/disable", .operation_id = "disableAgent",
     .summary = "Disable an account", .description = "It can no longer log in and its open sessions stop working at once.",
     .tag = "admin", .params = id_params, .responses = disable_res, .handler = disable, .flags = KF_ROUTE_ADMIN},
};

int kf_routes_agents_admin_register(const kf_routes_agents_config_t *cfg) {
    char err[256];
    auth = cfg->auth;
    bot = cfg->bot;
    if (kf_schema_compile(&s_create, err, sizeof err) < 0 || kf_schema_compile(&s_id, err, sizeof err) < 0) return -1;
    return kf_router_add(routes, sizeof routes / sizeof routes[0]);
}
