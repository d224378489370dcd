/* serve_app.c — wiring of the conversation engine for `kefu serve` (see
 * serve_app.h): the bot folder and its FAQ, SQLite history in the data dir,
 * the in-process session store whose expiry ends conversations, the engine,
 * the REST routes, a readiness check and conversation metrics; the
 * in-process EventBus the engine publishes conversation events on; agent
 * accounts (agents.db in the data dir) and their sessions and routes, which
 * run with or without a bot. */
#include "cli/serve_app.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "http/routes_agents.h"
#include "http/routes_conv.h"
#include "http/routes_ops.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "queue/bus.h"

/* The expiry handler needs the engine, which needs the store: the store gets
 * this variable's address and the engine is put in it once made. */
static kf_conv_t *expiry_target;

static int conv_ready(void *ud, char *msg, size_t len) {
    kf_serve_app_t *app = ud;
    if (!app->conv) {
        snprintf(msg, len, "no bot folder (--bot)");
        return 0;
    }
    kf_history_stats_t hs;
    kf_history_stats(app->history, &hs);
    if (hs.queue_capacity && hs.queue_depth >= hs.queue_capacity) {
        snprintf(msg, len, "history write queue full");
        return 0;
    }
    snprintf(msg, len, "ok");
    return 1;
}

static void collect(kf_buf_t *out, void *ud) {
    kf_serve_app_t *app = ud;
    kf_conv_stats_t s;
    kf_conv_stats(app->conv, &s);
    kf_buf_printf(out,
                  "# HELP kefu_conversation_events_total Conversation engine events.\n"
                  "# TYPE kefu_conversation_events_total counter\n");
    const struct { const char *name; uint64_t v; } ev[] = {
        {"message", s.messages},       {"reply", s.replies},
        {"duplicate", s.duplicates},   {"faq_answer", s.faq_answers},
        {"fallback", s.fallbacks},     {"handoff", s.handoffs},
        {"flow_started", s.flows_started}, {"flow_completed", s.flows_completed},
        {"started", s.conversations_started}, {"closed", s.conversations_closed},
        {"expired", s.conversations_expired}};
    for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++)
        kf_buf_printf(out, "kefu_conversation_events_total{event=\"%s\"} %" PRIu64 "\n", ev[i].name, ev[i].v);
}

static int make_dir(const char *dir, char *err, size_t errlen) {
    if (mkdir(dir, 0755) == 0 || errno == EEXIST) return 0;
    snprintf(err, errlen, "cannot create data dir %s: %s", dir, strerror(errno));
    return -1;
}

static int open_stores(const kf_serve_app_config_t *cfg, kf_serve_app_t *app, char *err, size_t errlen) {
    char path[4096], e[400];
    if (make_dir(cfg->data_dir, err, errlen) < 0) return -1;
    snprintf(path, sizeof path, "%s/history.db", cfg->data_dir);
    kf_history_sqlite_config_t hc = {.path = path};
    if (!(app->history = kf_history_sqlite_open(&hc, e, sizeof e))) {
        snprintf(err, errlen, "history %s: %s", path, e);
        return -1;
    }
    kf_session_mem_config_t sc = {.capacity = cfg->session_max, .ttl_ms = (int64_t)cfg->session_ttl_s * 1000,
                                  .on_expire = kf_conv_session_expired, .expire_ud = &expiry_target};
    if (!(app->sessions = kf_session_mem_new(&sc, e, sizeof e))) {
        snprintf(err, errlen, "sessions: %s", e);
        return -1;
    }
    return 0;
}

/* Agent accounts, sessions and their routes; skills are checked against the bot when there is one. */
static int start_agents(const kf_serve_app_config_t *cfg, kf_serve_app_t *app, char *err, size_t errlen) {
    char path[4096], e[400];
    if (make_dir(cfg->data_dir, err, errlen) < 0) return -1;
    snprintf(path, sizeof path, "%s/agents.db", cfg->data_dir);
    if (!(app->agents = kf_agents_sqlite_open(path, e, sizeof e))) {
        snprintf(err, errlen, "agents %s: %s", path, e);
        return -1;
    }
    kf_agent_auth_config_t ac = {.store = app->agents, .token_ttl_ms = (int64_t)cfg->agent_token_ttl_s * 1000,
                                 .heartbeat_timeout_ms = (int64_t)cfg->agent_heartbeat_s * 1000};
    if (!(app->agent_auth = kf_agent_auth_new(&ac, e, sizeof e))) {
        snprintf(err, errlen, "agent sessions: %s", e);
        return -1;
    }
    kf_routes_agents_config_t rc = {.auth = app->agent_auth, .bot = app->bot};
    if (kf_routes_agents_register(&rc) < 0) {
        snprintf(err, errlen, "agent routes failed to register");
        return -1;
    }
    return 0;
}

int kf_serve_app_start(const kf_serve_app_config_t *cfg, kf_serve_app_t *app, char *err, size_t errlen) {
    char e[600];
    memset(app, 0, sizeof *app);
    if (!cfg->bot_dir) { /* the server still classifies intents; it is not ready for conversations */
        kf_log(KF_LOG_WARN, "no bot folder: conversations are off and /ready reports not ready", NULL);
        kf_ops_add_ready_check("conversations", conv_ready, app);
        return start_agents(cfg, app, err, errlen);
    }
    if (!(app->bot = kf_bot_load(cfg->bot_dir, e, sizeof e))) {
        snprintf(err, errlen, "bot %s: %s", cfg->bot_dir, e);
        return -1;
    }
    if (!(app->kb = kf_kb_open(cfg->bot_dir, e, sizeof e))) {
        snprintf(err, errlen, "knowledge base %s: %s", cfg->bot_dir, e);
        return -1;
    }
    if (open_stores(cfg, app, err, errlen) < 0) return -1;
    if (!(app->bus = kf_bus_mem_new(NULL))) {
        snprintf(err, errlen, "event bus: out of memory");
        return -1;
    }
    kf_conv_config_t cc = {.bot = app->bot, .kb = app->kb, .history = app->history, .sessions = app->sessions,
                           .webhook_override = cfg->webhook_override, .bus = app->bus};
    if (!(app->conv = kf_conv_new(&cc, e, sizeof e))) {
        snprintf(err, errlen, "%s", e);
        return -1;
    }
    expiry_target = app->conv;
    if (kf_routes_conv_register(app->conv) < 0) {
        snprintf(err, errlen, "conversation routes failed to register");
        return -1;
    }
    if (start_agents(cfg, app, err, errlen) < 0) return -1;
    kf_ops_add_ready_check("conversations", conv_ready, app);
    kf_history_register_metrics(app->history);
    kf_session_register_metrics(app->sessions);
    kf_metrics_add_collector(collect, app);
    kf_log(KF_LOG_INFO, "conversations ready", "bot", 's', kf_bot_name(app->bot), "data_dir", 's', cfg->data_dir,
           "session_ttl_s", 'i', (long long)cfg->session_ttl_s, "session_max", 'i', (long long)cfg->session_max, NULL);
    return 0;
}

void kf_serve_app_stop(kf_serve_app_t *app) {
    if (app->conv) {
        kf_conv_free(app->conv);
        expiry_target = NULL;
    }
    /* Commits whatever is still queued (expiry records included). */
    kf_history_destroy(app->history);
    kf_session_destroy(app->sessions);
    kf_agent_auth_free(app->agent_auth); /* before its store: the hash workers read it */
    kf_agents_destroy(app->agents);
    kf_kb_free(app->kb);
    kf_bot_free(app->bot);
    if (app->bus) {
        kf_bus_stats_t bs;
        kf_bus_stats(app->bus, &bs);
        /* A subscription left by a connection the server never closed would
         * touch a freed bus: keeping it (the process is ending) is the lesser harm. */
        if (!bs.subscribers) kf_bus_destroy(app->bus);
    }
    memset(app, 0, sizeof *app);
}
