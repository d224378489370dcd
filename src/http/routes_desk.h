/* routes_desk.h — GET /v1/stats: the contact centre's numbers (queues, agents,
 * handoffs, waits, containment, CSAT) for dashboards; /metrics has the same
 * as Prometheus series (engine/desk.h). */
#ifndef KF_HTTP_ROUTES_DESK_H
#define KF_HTTP_ROUTES_DESK_H

#include "engine/desk.h"

/* desk outlives the server. */
int kf_routes_desk_register(kf_desk_t *desk);

#endif
