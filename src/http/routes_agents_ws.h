/* routes_agents_ws.h — the agent console WebSocket, GET /v1/agents/ws: the
 * live side of the agents' desk (engine/desk.h) for one logged-in agent —
 * offers, queues, its conversations' messages — and its actions (accept,
 * message, note, transfer, hand back, close).  The protocol is README.md's
 * "Agent console WebSocket" section and the route's OpenAPI description. */
#ifndef KF_HTTP_ROUTES_AGENTS_WS_H
#define KF_HTTP_ROUTES_AGENTS_WS_H

typedef struct kf_desk kf_desk_t;
typedef struct kf_conv kf_conv_t;
typedef struct kf_agent_auth kf_agent_auth_t;

/* Registers GET /v1/agents/ws.  All three must outlive the server.
 * KEFU_WS_PING_INTERVAL and KEFU_WS_IDLE_TIMEOUT (seconds) set the
 * keep-alive timing as for the customer channel. */
int kf_routes_agents_ws_register(kf_desk_t *desk, kf_conv_t *conv, kf_agent_auth_t *auth);

#endif
