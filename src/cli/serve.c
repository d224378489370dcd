/* serve.c — `kefu serve`: flags, the application's wiring, then the server.
 *
 * With no flags it runs the bundled demo bot: the model trained by `make`
 * next to the binary, the bot folder and web root of the checkout, and the
 * conversation history in ./data.  The conversation side (bot, stores,
 * engine, routes) is wired in serve_app.c. */
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "cli/serve_app.h"
#include "cli/serve_routing.h"
#include "engine/intent.h"
#include "http/auth.h"
#include "http/routes_agent_conv.h"
#include "http/routes_intent.h"
#include "http/routes_ops.h"
#include "http/routes_ws.h"
#include "http/server.h"
#include "http/static.h"
#include "obs/log.h"
#include "queue/webhook.h"
#include "util/version.h"

static const char *const levels[] = {"debug", "info", "warn", "error", NULL};

/* <dir of the executable>/<rel>, when that exists. */
static char *beside_binary(const char *rel) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = 0;
    char *path = malloc(PATH_MAX);
    snprintf(path, PATH_MAX, "%s/%s", dirname(exe), rel);
    if (access(path, R_OK) == 0) return path;
    free(path);
    return NULL;
}

static int model_ready(void *ud, char *msg, size_t len) {
    (void)ud;
    if (kf_intent_ready()) return 1;
    snprintf(msg, len, "not loaded");
    return 0;
}

static void on_hup(void *ud) {
    (void)ud;
    char err[256];
    if (kf_intent_reload(err, sizeof err) < 0) kf_log(KF_LOG_ERROR, "reload failed; keeping the old model", "error", 's', err, NULL);
}

int kf_cli_serve(int argc, char **argv) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    kf_http_config_t cfg = {.host = "0.0.0.0", .port = 8000, .threads = cores > 0 ? (int)cores : 1, .max_body = 64 * 1024,
                            .max_header = 16 * 1024, .max_connections = 10000, .idle_timeout_s = 30, .drain_timeout_s = 10};
    const char *model = NULL, *web_root = NULL, *level = "info", *admin_token = NULL;
    kf_serve_app_config_t acfg = {.data_dir = "data", .session_ttl_s = 300, .session_max = 1000,
                                  .agent_token_ttl_s = 12 * 3600, .agent_heartbeat_s = 60};
    kf_routes_intent_config_t icfg = {.job_capacity = 10000, .job_workers = 2, .job_ttl_s = 3600, .max_results = 100000};
    kf_webhook_config_t wcfg = {.timeout_ms = 5000, .max_attempts = 4, .backoff_ms = 500};
    const kf_opt_t opts[] = {
        {"host", "KEFU_HOST", KF_OPT_STR, &cfg.host, "address to listen on (default 0.0.0.0)", 0, 0, NULL},
        {"port", "KEFU_PORT", KF_OPT_INT, &cfg.port, "TCP port, 0 picks a free one (default 8000)", 0, 65535, NULL},
        {"threads", "KEFU_THREADS", KF_OPT_INT, &cfg.threads, "event-loop threads (default: number of cores)", 1, 256, NULL},
        {"model", "KEFU_MODEL", KF_OPT_STR, &model, "intent model file (default: demo.model beside the binary)", 0, 0, NULL},
        {"web-root", "KEFU_WEB_ROOT", KF_OPT_STR, &web_root, "folder of static files (default: ./web)", 0, 0, NULL},
        {"max-body", "KEFU_MAX_BODY", KF_OPT_SIZE, &cfg.max_body, "largest JSON request body in bytes (default 64k)", 64, 1 << 30, NULL},
        {"max-header", "KEFU_MAX_HEADER", KF_OPT_SIZE, &cfg.max_header, "largest request head in bytes (default 16k)", 1024, 1 << 20, NULL},
        {"max-connections", "KEFU_MAX_CONNECTIONS", KF_OPT_INT, &cfg.max_connections, "open connections at most (default 10000)", 1, 1 << 22, NULL},
        {"idle-timeout", "KEFU_IDLE_TIMEOUT", KF_OPT_INT, &cfg.idle_timeout_s, "seconds an idle or slow connection is kept (default 30)", 1, 3600, NULL},
        {"drain-timeout", "KEFU_DRAIN_TIMEOUT", KF_OPT_INT, &cfg.drain_timeout_s, "seconds to finish in-flight work on SIGTERM (default 10)", 0, 3600, NULL},
        {"tls-cert", "KEFU_TLS_CERT", KF_OPT_STR, &cfg.tls_cert, "PEM certificate chain: serve HTTPS with HTTP/2 via ALPN", 0, 0, NULL},
        {"tls-key", "KEFU_TLS_KEY", KF_OPT_STR, &cfg.tls_key, "PEM private key for --tls-cert", 0, 0, NULL},
        {"job-capacity", "KEFU_JOB_CAPACITY", KF_OPT_SIZE, &icfg.job_capacity, "queued background jobs at most; beyond: 503 (default 10000)", 1, 1 << 24, NULL},
        {"job-workers", "KEFU_JOB_WORKERS", KF_OPT_INT, &icfg.job_workers, "background job worker threads (default 2)", 1, 256, NULL},
        {"admin-token", "KEFU_ADMIN_TOKEN", KF_OPT_STR, &admin_token, "bearer token for /v1/admin/* (default: none, loopback clients only)", 0, 0, NULL},
        {"bot", "KEFU_BOT", KF_OPT_STR, &acfg.bot_dir, "bot folder (default: bots/demo here, else the checkout's beside the binary)", 0, 0, NULL},
        {"data-dir", "KEFU_DATA_DIR", KF_OPT_STR, &acfg.data_dir, "folder of history.db and agents.db, created when missing (default ./data)", 0, 0, NULL},
        {"session-ttl", "KEFU_SESSION_TTL", KF_OPT_INT, &acfg.session_ttl_s, "idle seconds before a conversation expires (default 300)", 1, 86400 * 30, NULL},
        {"session-max", "KEFU_SESSION_MAX", KF_OPT_SIZE, &acfg.session_max, "live conversations at most, least recently used expire first (default 1000)", 1, 1 << 24, NULL},
        {"agent-token-ttl", "KEFU_AGENT_TOKEN_TTL", KF_OPT_INT, &acfg.agent_token_ttl_s, "seconds an agent login lasts (default 43200 = 12 h)", 1, 86400 * 30, NULL},
        {"agent-heartbeat-timeout", "KEFU_AGENT_HEARTBEAT_TIMEOUT", KF_OPT_INT, &acfg.agent_heartbeat_s, "seconds without a heartbeat before an agent reads offline (default 60)", 1, 86400, NULL},
        {"webhook-override", "KEFU_WEBHOOK_OVERRIDE", KF_OPT_STR, &acfg.webhook_override, "send every bot webhook to this URL instead of bot.yml's (staging, tests)", 0, 0, NULL},
        {"log-level", "KEFU_LOG_LEVEL", KF_OPT_CHOICE, &level, "debug|info|warn|error (default info; info logs every request)", 0, 0, levels},
    };
    size_t nopts = sizeof opts / sizeof opts[0];
    int pos = kf_opts_parse("serve", "[FLAGS]", opts, nopts, argc, argv);
    if (pos == -2) return 0;
    if (pos < 0) return 2;
    if (pos < argc) {
        fprintf(stderr, "kefu: serve: unexpected argument '%s'\n", argv[pos]);
        return 2;
    }
    if (!cfg.tls_cert != !cfg.tls_key) {
        fprintf(stderr, "kefu: serve: --tls-cert and --tls-key go together\n");
        return 2;
    }
    kf_log_set_level((kf_log_level_t)kf_log_parse_level(level));
    if (sodium_init() < 0 || kf_http_auth_set_admin_token(admin_token) < 0) {
        fprintf(stderr, "kefu: serve: libsodium failed to initialise\n");
        return 1;
    }
    char err[512];
    if (!model) model = beside_binary("demo.model");
    if (kf_intent_init(model, err, sizeof err) < 0) {
        fprintf(stderr, "kefu: serve: cannot load model %s: %s\n", model, err);
        return 1;
    }
    if (!model) kf_log(KF_LOG_WARN, "no model: /v1/intent answers 503 and /ready reports not ready", NULL);
    char *own_web = NULL;
    if (!web_root) web_root = access("web", R_OK) == 0 ? "web" : (own_web = beside_binary("../web"));
    if (web_root && kf_static_load(web_root, err, sizeof err) < 0) {
        fprintf(stderr, "kefu: serve: %s\n", err);
        return 1;
    }
    if (kf_webhook_start(&wcfg) < 0 || kf_ops_routes_register() < 0 || kf_routes_intent_register(&icfg) < 0) {
        fprintf(stderr, "kefu: serve: start-up failed\n");
        return 1;
    }
    char *own_bot = NULL;
    if (!acfg.bot_dir) acfg.bot_dir = access("bots/demo", R_OK) == 0 ? "bots/demo" : (own_bot = beside_binary("../bots/demo"));
    kf_serve_app_t app; /* app.conv: the engine every channel shares */
    if (kf_serve_app_start(&acfg, &app, err, sizeof err) < 0) {
        fprintf(stderr, "kefu: serve: %s\n", err);
        return 1;
    }
    kf_routing_t *routing = app.bot ? kf_serve_routing_start(app.bot, acfg.bot_dir, err, sizeof err) : NULL;
    if (app.bot && !routing) {
        fprintf(stderr, "kefu: serve: %s\n", err);
        return 1;
    }
    if (app.conv) kf_conv_set_routing(app.conv, routing); /* handoffs now reach the queues */
    kf_desk_t *desk = app.conv ? kf_serve_desk_start(app.bot, app.conv, routing, app.agent_auth, err, sizeof err) : NULL;
    if (app.conv && !desk) {
        fprintf(stderr, "kefu: serve: %s\n", err);
        return 1;
    }
    if ((app.conv && kf_routes_ws_register(app.conv, NULL) < 0) ||
        (app.conv && kf_routes_agent_conv_register(app.conv, routing, app.agent_auth) < 0) || kf_ops_build_openapi() < 0) {
        fprintf(stderr, "kefu: serve: start-up failed\n");
        return 1;
    }
    kf_ops_add_ready_check("model", model_ready, NULL);
    kf_http_on_sighup(on_hup, NULL);
    kf_log(KF_LOG_INFO, "starting", "version", 's', KF_VERSION, "model", 's', model ? model : "", "web_root", 's',
           web_root ? web_root : "", "static_files", 'i', (long long)kf_static_count(), NULL);
    int rc = kf_http_serve(&cfg);
    kf_desk_stop(desk);
    kf_serve_app_stop(&app);
    kf_desk_free(desk);
    kf_routing_free(routing);
    free(own_web);
    free(own_bot);
    return rc;
}
