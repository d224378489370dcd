/* serve_routing.h — the routing engine's wiring for `kefu serve`: the bot's
 * skills, languages and bot.yml `routing:` rules make the router (in-process
 * agent state), and POST /v1/route is registered over it. */
#ifndef KF_CLI_SERVE_ROUTING_H
#define KF_CLI_SERVE_ROUTING_H

#include <stddef.h>

#include "bot/bot.h"
#include "engine/desk.h"
#include "router/routing.h"

/* Returns the router (free with kf_routing_free after the server stopped), or
 * NULL with err ("bot.yml:LINE: what" for a bad `routing:` section). */
kf_routing_t *kf_serve_routing_start(const kf_bot_t *bot, const char *bot_dir, char *err, size_t errlen);

/* The agents' desk over the engine, the router and agent sessions: the
 * dispatcher that makes offers, GET /v1/stats, the desk's /metrics and the
 * agent console's WebSocket.  kf_desk_stop before the engine is freed,
 * kf_desk_free after. */
kf_desk_t *kf_serve_desk_start(const kf_bot_t *bot, kf_conv_t *conv, kf_routing_t *routing, kf_agent_auth_t *auth,
                               char *err, size_t errlen);

#endif
