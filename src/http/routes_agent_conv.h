/* routes_agent_conv.h — what an agent does to a conversation over REST
 * (/v1/agents/me/accept, /v1/agents/conversations/{id}/messages|handback|close):
 * the first HTTP path into the engine's agent calls (engine/conv.h, "human
 * handoff"), for API clients and tests until the agent console exists. */
#ifndef KF_HTTP_ROUTES_AGENT_CONV_H
#define KF_HTTP_ROUTES_AGENT_CONV_H

#include "engine/agents_auth.h"
#include "engine/conv.h"
#include "router/routing.h"

int kf_routes_agent_conv_register(kf_conv_t *conv, kf_routing_t *routing, kf_agent_auth_t *auth);

#endif
