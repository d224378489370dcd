/* routes_routing.h — POST /v1/route: the routing decision (bot, skill queue
 * or agent, with its priority, weights and reason) for a profile and a
 * query, without side effects. */
#ifndef KF_HTTP_ROUTES_ROUTING_H
#define KF_HTTP_ROUTES_ROUTING_H

#include "engine/route_query.h"

/* router: the live state decisions read (owned by the caller, outlives the
 * server); skill_of/ud: the bot's intent → skill mapping. */
int kf_routes_routing_register(kf_routing_t *router, kf_route_skill_fn skill_of, void *ud);

#endif
