/* routes_agents.c — the agent's own API (see routes_agents.h): login,
 * logout, me, status, heartbeat.  Administration is routes_agents_admin.c.
 *
 * Login hashes with argon2id (tens of ms), so it runs on the session
 * module's hash workers: the handler defers its answer and the completion,
 * posted back to this thread, answers — or only lets go when the client has
 * left (pending_t, as in routes_conv.c).  Failed logins are counted per
 * agent id and per client address; past the limit the answer is 429 with
 * Retry-After before any hashing, so a guesser cannot burn CPU either.
 *
 * Nothing here logs or echoes a password, a hash or a token, except the
 * token handed to its owner in the login answer. */
#include "http/routes_agents.h"

#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http/agent_auth.h"
#include "http/router.h"
#include "http/routes_agents_int.h"
#include "http/schema.h"
#include "loop/loop.h"

static kf_agent_auth_t *auth;

/* Failed logins per minute: per agent id (a guesser on one account), and per
 * client address (a guesser across accounts; higher, since a call centre's
 * agents may share one address). */
#define ID_FAILURES 5
#define IP_FAILURES 20

/* ---- schemas ---- */

static const kf_schema_t s_login_id = KF_STRING(.min_length = 1, .max_length = KF_AGENT_ID_MAX, .description = "The agent's id",
                                                .example_json = "\"alice\"");
static const kf_schema_t s_login_pw = KF_STRING(.min_length = 1, .max_length = 1024, .description = "The agent's password");
static const kf_schema_prop_t login_props[] = {{"agent_id", &s_login_id, 1}, {"password", &s_login_pw, 1}, {0}};
static const kf_schema_t s_login_req = KF_OBJECT(.name = "AgentLogin", .properties = login_props, .forbid_extra = 1);

static const kf_schema_t s_token = KF_STRING(.description = "Session token: send as 'Authorization: Bearer <token>' "
                                                            "(the console uses the kefu_agent cookie set alongside)");
static const kf_schema_t s_ms = KF_INTEGER(.description = "Milliseconds since the Unix epoch");
static const kf_schema_prop_t login_res_props[] = {
    {"token", &s_token, 1}, {"agent", &kf_routes_agents_s_agent, 1}, {"expires_at", &s_ms, 1}, {0}};
static const kf_schema_t s_login_res = KF_OBJECT(.name = "AgentSession", .properties = login_res_props);

static const char *const settable[] = {"online", "away", "offline", NULL};
static const kf_schema_t s_set_status = KF_STRING(.enum_values = settable, .description = "What the agent says it is");
static const kf_schema_prop_t status_props[] = {{"status", &s_set_status, 1}, {0}};
static const kf_schema_t s_status_req = KF_OBJECT(.name = "AgentStatusChange", .properties = status_props, .forbid_extra = 1);
static const kf_schema_t s_secs = KF_INTEGER(.description = "Seconds without a heartbeat before the agent reads as offline");
static const kf_schema_prop_t presence_props[] = {
    {"status", &s_set_status, 1}, {"heartbeat_timeout_s", &s_secs, 1}, {0}};
static const kf_schema_t s_presence = KF_OBJECT(.name = "AgentPresence", .properties = presence_props);
static const kf_schema_prop_t me_props[] = {
    {"agent", &kf_routes_agents_s_agent, 1}, {"expires_at", &s_ms, 1}, {"heartbeat_timeout_s", &s_secs, 1}, {0}};
static const kf_schema_t s_me = KF_OBJECT(.name = "AgentMe", .properties = me_props);
static const kf_schema_t s_done = KF_STRING();
static const kf_schema_prop_t logout_props[] = {{"status", &s_done, 1}, {0}};
static const kf_schema_t s_logout = KF_OBJECT(.name = "AgentLoggedOut", .properties = logout_props);

static const kf_response_t login_res[] = {
    {200, "Logged in: the token, also set as the HttpOnly kefu_agent cookie", &s_login_res, NULL},
    {401, "Unknown agent, wrong password or disabled account (one answer for all)", &kf_routes_agents_s_error, NULL},
    {429, "Too many failed logins for this agent or client; see Retry-After", &kf_routes_agents_s_error, NULL},
    {503, "Too many logins being checked at once; see Retry-After", &kf_routes_agents_s_error, NULL}, {0}};
static const kf_response_t logout_res[] = {{200, "The token no longer works; the cookie is cleared", &s_logout, NULL},
                                           {401, "Missing, expired or unknown token", &kf_routes_agents_s_error, NULL}, {0}};
static const kf_response_t me_res[] = {{200, "The logged-in agent", &s_me, NULL},
                                       {401, "Missing, expired or unknown token", &kf_routes_agents_s_error, NULL}, {0}};
static const kf_response_t presence_res[] = {{200, "The agent's status now", &s_presence, NULL},
                                             {401, "Missing, expired or unknown token", &kf_routes_agents_s_error, NULL}, {0}};

/* ---- answers ---- */

static int is_tls(kf_req_t *r) { return r->h2o->scheme == &H2O_URL_SCHEME_HTTPS; }

/* Set-Cookie for the console.  Strict same-site: the cookie never rides on
 * a request started by another site, so no CSRF token is needed for it. */
static void set_cookie(kf_req_t *r, const char *token, int64_t max_age_s) {
    size_t cap = 256;
    char *v = h2o_mem_alloc_pool(&r->h2o->pool, cap);
    snprintf(v, cap, KF_AGENT_COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%" PRId64 "%s", token, max_age_s,
             is_tls(r) ? "; Secure" : "");
    kf_http_add_header(r, "set-cookie", v);
    kf_http_add_header(r, "cache-control", "no-store");
}

static void too_many(kf_req_t *r, int64_t wait_ms, const char *msg) {
    char *v = h2o_mem_alloc_pool(&r->h2o->pool, 24);
    snprintf(v, 24, "%" PRId64, (wait_ms + 999) / 1000);
    kf_http_add_header(r, "retry-after", v);
    kf_http_send_error(r, 429, msg);
}

/* ---- login ---- */

/* A login in flight: the answer's handle and the throttling keys to charge. */
typedef struct {
    kf_http_later_t *later;
    char id_key[KF_AGENT_ID_MAX + 8];
    char ip_key[64];
} login_t;

static void client_key(kf_req_t *r, char *out, size_t len) {
    struct sockaddr_storage ss;
    char host[NI_MAXHOST] = "unknown";
    socklen_t sl = r->h2o->conn->callbacks->get_peername(r->h2o->conn, (struct sockaddr *)&ss);
    if (sl > 0 && h2o_socket_getnumerichost((struct sockaddr *)&ss, sl, host) == SIZE_MAX) snprintf(host, sizeof host, "unknown");
    snprintf(out, len, "ip:%s", host);
}

static void on_login(const kf_agent_auth_result_t *res, void *ud) {
    login_t *p = ud;
    if (res->status == KF_AGENT_AUTH_OK) kf_agent_auth_clear_failures(auth, p->id_key);
    else if (res->status == KF_AGENT_AUTH_DENIED) {
        kf_agent_auth_failed(auth, p->id_key, ID_FAILURES);
        kf_agent_auth_failed(auth, p->ip_key, IP_FAILURES);
    }
    kf_req_t *r = kf_http_later_req(p->later);
    if (r && res->status == KF_AGENT_AUTH_OK) {
        int64_t max_age = (res->expires_at_ms - kf_agent_auth_now(auth) + 999) / 1000;
        set_cookie(r, res->token, max_age > 0 ? max_age : 0);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "token", res->token);
        cJSON_AddItemToObject(doc, "agent", kf_routes_agents_json(&res->agent));
        cJSON_AddNumberToObject(doc, "expires_at", (double)res->expires_at_ms);
        kf_http_send_json(r, 200, doc);
    } else if (r && res->status == KF_AGENT_AUTH_DENIED) {
        kf_http_add_header(r, "www-authenticate", "Bearer");
        kf_http_send_error(r, 401, "Unauthorized: unknown agent or wrong password");
    } else if (r) {
        kf_http_send_error(r, 500, "Internal Server Error: the agent store failed");
    }
    kf_http_later_done(p->later);
    free(p);
}

static void login(kf_req_t *r) {
    const char *id = cJSON_GetObjectItemCaseSensitive(r->body, "agent_id")->valuestring;
    const char *pw = cJSON_GetObjectItemCaseSensitive(r->body, "password")->valuestring;
    char id_key[KF_AGENT_ID_MAX + 8], ip_key[64];
    snprintf(id_key, sizeof id_key, "id:%.*s", KF_AGENT_ID_MAX, id);
    client_key(r, ip_key, sizeof ip_key);
    int64_t wait = kf_agent_auth_throttled(auth, id_key, ID_FAILURES);
    int64_t wait_ip = kf_agent_auth_throttled(auth, ip_key, IP_FAILURES);
    if (wait || wait_ip) {
        too_many(r, wait > wait_ip ? wait : wait_ip, "Too Many Requests: too many failed logins, retry later");
        return;
    }
    login_t *p = malloc(sizeof *p);
    if (!p || !(p->later = kf_http_later(r))) {
        free(p);
        kf_http_send_error(r, 503, "Service Unavailable: out of memory");
        return;
    }
    memcpy(p->id_key, id_key, sizeof id_key);
    memcpy(p->ip_key, ip_key, sizeof ip_key);
    int rc = kf_agent_auth_login_async(auth, id, pw, kf_loop_current(), on_login, p);
    if (rc != KF_AGENT_AUTH_OK) {
        kf_http_later_done(p->later); /* the completion will never run */
        free(p);
        kf_http_add_header(r, "retry-after", "1");
        kf_http_send_error(r, 503, "Service Unavailable: too many logins in progress, retry shortly");
    }
}

/* ---- the logged-in agent ---- */

static void logout(kf_req_t *r) {
    kf_agent_t a;
    h2o_iovec_t tok;
    if (!kf_agent_auth_require(r, KF_AGENT_ROLE_AGENT, &a)) return;
    kf_agent_auth_token_of(r, &tok);
    kf_agent_auth_revoke(auth, tok.base, tok.len);
    kf_agent_auth_set_status(auth, a.id, KF_AGENT_OFFLINE);
    set_cookie(r, "", 0);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "status", "logged_out");
    kf_http_send_json(r, 200, doc);
}

static void me(kf_req_t *r) {
    kf_agent_t a;
    h2o_iovec_t tok;
    char id[KF_AGENT_ID_MAX + 1];
    int64_t expires = 0;
    if (!kf_agent_auth_require(r, KF_AGENT_ROLE_AGENT, &a)) return;
    kf_agent_auth_token_of(r, &tok);
    kf_agent_auth_lookup(auth, tok.base, tok.len, id, &expires);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "agent", kf_routes_agents_json(&a));
    cJSON_AddNumberToObject(doc, "expires_at", (double)expires);
    cJSON_AddNumberToObject(doc, "heartbeat_timeout_s", (double)(kf_agent_auth_heartbeat_timeout_ms(auth) / 1000));
    kf_http_send_json(r, 200, doc);
}

static void send_presence(kf_req_t *r, const char *id) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "status", kf_agent_status_name(kf_agent_auth_status(auth, id, NULL)));
    cJSON_AddNumberToObject(doc, "heartbeat_timeout_s", (double)(kf_agent_auth_heartbeat_timeout_ms(auth) / 1000));
    kf_http_send_json(r, 200, doc);
}

static void set_status(kf_req_t *r) {
    kf_agent_t a;
    if (!kf_agent_auth_require(r, KF_AGENT_ROLE_AGENT, &a)) return;
    const char *s = cJSON_GetObjectItemCaseSensitive(r->body, "status")->valuestring;
    kf_agent_auth_set_status(auth, a.id, (kf_agent_status_t)kf_agent_status_parse(s));
    send_presence(r, a.id);
}

static void heartbeat(kf_req_t *r) {
    kf_agent_t a;
    if (!kf_agent_auth_require(r, KF_AGENT_ROLE_AGENT, &a)) return; /* require marks the agent seen */
    send_presence(r, a.id);
}

static const kf_route_t routes[] = {
    {.method = "POST", .path = "/v1/agents/login", .operation_id = "agentLogin", .summary = "Log an agent in",
     .description = "Checks the password (argon2id) and returns a session token, also set as the HttpOnly, "
                    "SameSite=Strict kefu_agent cookie for the console. The agent reads as online. Five failed "
                    "logins in a minute for one agent id (twenty for one client address) answer 429 until the minute is over.",
     .tag = "agents", .body = &s_login_req, .responses = login_res, .handler = login},
    {.method = "POST", .path = "/v1/agents/logout", .operation_id = "agentLogout", .summary = "End this session",
     .tag = "agents", .responses = logout_res, .handler = logout},
    {.method = "GET", .path = "/v1/agents/me", .operation_id = "agentMe", .summary = "The logged-in agent",
     .tag = "agents", .responses = me_res, .handler = me},
    {.method = "POST", .path = "/v1/agents/me/status", .operation_id = "agentSetStatus", .summary = "Set online, away or offline",
     .tag = "agents", .body = &s_status_req, .responses = presence_res, .handler = set_status},
    {.method = "POST", .path = "/v1/agents/me/heartbeat", .operation_id = "agentHeartbeat", .summary = "Say the agent is still there",
     .description = "An agent not heard from (heartbeat or any request) for heartbeat_timeout_s reads as offline.",
     .tag = "agents", .responses = presence_res, .handler = heartbeat},
};

int kf_routes_agents_register(const kf_routes_agents_config_t *cfg) {
    auth = cfg->auth;
    kf_agent_auth_http_init(auth);
    if (kf_router_add(routes, sizeof routes / sizeof routes[0]) < 0) return -1;
    return kf_routes_agents_admin_register(cfg);
}
