/* routes_agents_int.h — what routes_agents.c (the agent's own API) and
 * routes_agents_admin.c (account administration) share: the Agent and
 * error schemas and the admin route table's registration. */
#ifndef KF_HTTP_ROUTES_AGENTS_INT_H
#define KF_HTTP_ROUTES_AGENTS_INT_H

#include "http/routes_agents.h"
#include "http/schema.h"

extern const kf_schema_t kf_routes_agents_s_agent;
extern const kf_schema_t kf_routes_agents_s_error;

int kf_routes_agents_admin_register(const kf_routes_agents_config_t *cfg);

#endif
