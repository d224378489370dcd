/* serve_app.h — the conversation side of `kefu serve`: bot, knowledge base,
 * history (SQLite in the data dir), session store, agent accounts and sessions, the conversation engine
 * and its REST routes, its readiness check and metrics.  serve.c parses the
 * flags and calls this before the server starts. */
#ifndef KF_CLI_SERVE_APP_H
#define KF_CLI_SERVE_APP_H

#include <stddef.h>

#include "engine/agents_auth.h"
#include "engine/conv.h"
#include "kb/kb.h"

typedef struct {
    const char *bot_dir;          /* NULL: no conversations (no routes; /ready says not ready) */
    const char *data_dir;         /* created when missing; history.db goes there */
    const char *webhook_override; /* NULL, or the URL every flow webhook goes to */
    int session_ttl_s;            /* idle seconds before a conversation expires */
    size_t session_max;           /* live conversations at most (LRU beyond) */
    int agent_token_ttl_s;        /* agent session lifetime; 0 = 12 h */
    int agent_heartbeat_s;        /* an agent not heard from this long reads offline; 0 = 60 */
} kf_serve_app_config_t;

typedef struct {
    kf_bot_t *bot;
    kf_kb_t *kb;
    kf_history_t *history;
    kf_session_store_t *sessions;
    kf_conv_t *conv;              /* the engine the channels (REST, WebSocket) share */
    struct kf_bus *bus;           /* in-process EventBus: conversation, skill and agent events */
    kf_agents_t *agents;          /* agent accounts: agents.db in the data dir */
    kf_agent_auth_t *agent_auth;  /* agent sessions and presence */
} kf_serve_app_t;

/* Loads and starts everything and registers the routes.  Returns 0, or -1
 * with a message in err (what and where). */
int kf_serve_app_start(const kf_serve_app_config_t *cfg, kf_serve_app_t *app, char *err, size_t errlen);
/* After the server has stopped: finishes the engine's work, commits history, frees. */
void kf_serve_app_stop(kf_serve_app_t *app);

#endif
