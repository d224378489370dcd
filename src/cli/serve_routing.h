/* serve_routing.h — the routing engine's wiring for `kefu serve`: the bot's
 * skills, languages and bot.yml `routing:` rules make the router (in-process
 * agent state), and POST /v1/route is registered over it. */
#ifndef KF_CLI_SERVE_ROUTING_H
#define KF_CLI_SERVE_ROUTING_H

#include <stddef.h>

#include "bot/bot.h"
#include "router/routing.h"

/* Returns the router (free with kf_routing_free after the server stopped), or
 * NULL with err ("bot.yml:LINE: what" for a bad `routing:` section). */
kf_routing_t *kf_serve_routing_start(const kf_bot_t *bot, const char *bot_dir, char *err, size_t errlen);

#endif
