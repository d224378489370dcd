/* routes_agents.h — the agent REST API: login/logout, the agent's own
 * account, status and heartbeat (/v1/agents/...), and account administration
 * (/v1/admin/agents*).  Sessions are engine/agents_auth.h; credentials are
 * read by http/agent_auth.h. */
#ifndef KF_HTTP_ROUTES_AGENTS_H
#define KF_HTTP_ROUTES_AGENTS_H

#include "bot/bot.h"
#include "engine/agents_auth.h"
#include "http/request.h"

typedef struct {
    kf_agent_auth_t *auth; /* required; also made the sessions of http/agent_auth.h */
    const kf_bot_t *bot;   /* NULL: skills are not checked against a bot */
} kf_routes_agents_config_t;

int kf_routes_agents_register(const kf_routes_agents_config_t *cfg);

/* An account as JSON (never its password hash), with its live status. */
cJSON *kf_routes_agents_json(const kf_agent_t *a);

#endif
