/* routes_desk.c — GET /v1/stats (routes_desk.h).  Who may read: an admin
 * (admin agent, admin token, or the loopback rule of http/auth.h) or any
 * logged-in agent: the numbers are the team's, not one customer's. */
#include "http/routes_desk.h"

#include "http/agent_auth.h"
#include "http/request.h"
#include "http/router.h"
#include "http/routes_agents_int.h"
#include "http/schema.h"

static kf_desk_t *desk;

static const kf_schema_t s_stats = KF_OBJECT(
    .name = "Stats", .description = "queues[] (skill, waiting, offered, assigned, oldest_wait_s), agents (online, away, "
                                    "load, capacity, occupancy), handoffs (total, by_reason), wait (count, sum_s, "
                                    "average_s, buckets[le_s, count] cumulative), conversations (started, ended, "
                                    "contained, escalated, containment_rate), csat (count, average), offers (made, "
                                    "timeouts, overflows)");
static const kf_response_t stats_res[] = {
    {200, "The numbers now and since the server started", &s_stats, NULL},
    {401, "Missing, expired or unknown token", &kf_routes_agents_s_error, NULL},
    {0}};

static void stats(kf_req_t *r) {
    kf_agent_t a;
    h2o_iovec_t tok;
    /* An agent's own credential first; without one, the admin rules. */
    int role = kf_agent_auth_http() && kf_agent_auth_token_of(r, &tok) ? KF_AGENT_ROLE_AGENT : KF_AGENT_ROLE_ADMIN;
    if (!kf_agent_auth_require(r, role, &a)) return;
    kf_http_send_json(r, 200, kf_desk_stats(desk));
}

static const kf_route_t desk_routes[] = {
    {.method = "GET", .path = "/v1/stats", .operation_id = "stats", .summary = "Contact-centre numbers",
     .description = "Queue length and oldest wait per skill, agents online and occupancy, handoffs by reason, the "
                    "wait-time histogram (handoff to an agent accepting), containment rate (ended conversations never "
                    "handed to a person / all ended) and CSAT. The same figures are on /metrics.",
     .tag = "agents", .responses = stats_res, .handler = stats},
};

int kf_routes_desk_register(kf_desk_t *d) {
    desk = d;
    return kf_router_add(desk_routes, sizeof desk_routes / sizeof desk_routes[0]);
}
