/* routes_ops.c — health, readiness, metrics, OpenAPI, docs, static files,
 * WebSocket echo (see routes_ops.h).  /health is answered from a constant so
 * a liveness probe costs the server almost nothing. */
#include "http/routes_ops.h"

#include <stdlib.h>
#include <string.h>

#include "http/openapi.h"
#include "http/request.h"
#include "http/router.h"
#include "http/server.h"
#include "http/static.h"
#include "http/ws.h"
#include "obs/metrics.h"
#include "util/version.h"

#define MAX_CHECKS 16

static struct { const char *name; kf_ready_fn fn; void *ud; } checks[MAX_CHECKS];
static size_t nchecks;
static char *openapi_json;
static size_t openapi_len;

void kf_ops_add_ready_check(const char *name, kf_ready_fn fn, void *ud) {
    if (nchecks < MAX_CHECKS) {
        checks[nchecks].name = name;
        checks[nchecks].fn = fn;
        checks[nchecks].ud = ud;
        nchecks++;
    }
}

static void health(kf_req_t *r) {
    static const char body[] = "{\"status\":\"ok\"}";
    kf_http_send_static(r, 200, "application/json", body, sizeof body - 1);
}

static void ready(kf_req_t *r) {
    cJSON *doc = cJSON_CreateObject(), *c = cJSON_CreateObject();
    int ok = 1;
    for (size_t i = 0; i < nchecks; i++) {
        char msg[128] = "ok";
        if (!checks[i].fn(checks[i].ud, msg, sizeof msg)) ok = 0;
        cJSON_AddStringToObject(c, checks[i].name, msg);
    }
    cJSON_AddStringToObject(doc, "status", ok ? "ready" : "not_ready");
    cJSON_AddItemToObject(doc, "checks", c);
    kf_http_send_json(r, ok ? 200 : 503, doc);
}

static void metrics(kf_req_t *r) {
    if (r->thread) kf_http_thread_refresh_gauges(r->thread);
    kf_buf_t b;
    kf_buf_init(&b);
    kf_metrics_render(&b);
    if (b.oom) {
        kf_buf_free(&b);
        kf_http_send_error(r, 500, "out of memory");
        return;
    }
    kf_http_send_copy(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    kf_buf_free(&b);
}

static void openapi(kf_req_t *r) {
    kf_http_send_static(r, 200, "application/json", openapi_json, openapi_len);
}

static void docs(kf_req_t *r) { kf_static_send(r, "docs.html", 9); }
static void index_page(kf_req_t *r) { kf_static_send(r, "index.html", 10); }
static void console_page(kf_req_t *r) { kf_static_send(r, "console.html", 12); }

static void static_file(kf_req_t *r) {
    h2o_iovec_t p = r->h2o->path_normalized;
    kf_static_send(r, p.base + 8, p.len - 8); /* after "/static/" */
}

/* Echoes with the same frame type: a binary message is not valid UTF-8 text. */
static void echo_msg(kf_ws_t *ws, const char *data, size_t len, int binary) {
    if (binary) kf_ws_send_binary(ws, data, len);
    else kf_ws_send_text(ws, data, len);
}

static void ws_echo(kf_req_t *r) { kf_ws_upgrade(r, echo_msg, NULL, NULL); }

static const kf_response_t health_res[] = {{200, "The process is alive", NULL, NULL}, {0}};
static const kf_response_t ready_res[] = {{200, "Everything the node needs is loaded and reachable", NULL, NULL},
                                          {503, "Not ready yet; checks says what is missing", NULL, NULL}, {0}};
static const kf_response_t metrics_res[] = {{200, "Prometheus text exposition format 0.0.4", NULL, "text/plain"}, {0}};
static const kf_response_t openapi_res[] = {{200, "This document", NULL, NULL}, {0}};
static const kf_response_t html_res[] = {{200, "An HTML page", NULL, "text/html"}, {0}};
static const kf_response_t ws_res[] = {{101, "Switching to the WebSocket protocol", NULL, NULL},
                                       {400, "Not a WebSocket handshake", NULL, NULL}, {0}};

static const kf_route_t ops_routes[] = {
    {.method = "GET", .path = "/health", .operation_id = "health", .summary = "Liveness probe", .tag = "operations",
     .responses = health_res, .handler = health},
    {.method = "GET", .path = "/ready", .operation_id = "ready", .summary = "Readiness probe", .tag = "operations",
     .responses = ready_res, .handler = ready},
    {.method = "GET", .path = "/metrics", .operation_id = "metrics", .summary = "Prometheus metrics", .tag = "operations",
     .responses = metrics_res, .handler = metrics},
    {.method = "GET", .path = "/openapi.json", .operation_id = "openapi", .summary = "This OpenAPI document",
     .tag = "operations", .responses = openapi_res, .handler = openapi},
    {.method = "GET", .path = "/docs", .operation_id = "docs", .summary = "API reference page", .tag = "operations",
     .responses = html_res, .handler = docs},
    {.method = "GET", .path = "/", .operation_id = "index", .summary = "Web page", .tag = "web",
     .responses = html_res, .handler = index_page},
    {.method = "GET", .path = "/console", .operation_id = "console", .summary = "Agent console page", .tag = "web",
     .responses = html_res, .handler = console_page},
    {.method = "GET", .path = "/static/", .operation_id = "static", .summary = "Static assets", .tag = "web",
     .responses = html_res, .handler = static_file, .flags = KF_ROUTE_PREFIX | KF_ROUTE_HIDDEN},
    {.method = "GET", .path = "/v1/ws/echo", .operation_id = "wsEcho",
     .summary = "WebSocket echo (diagnostics)", .description = "Echoes every message back, text as text and binary as binary; for load balancer checks.",
     .tag = "operations", .responses = ws_res, .handler = ws_echo, .flags = KF_ROUTE_WEBSOCKET},
};

int kf_ops_routes_register(void) {
    kf_ws_init();
    return kf_router_add(ops_routes, sizeof ops_routes / sizeof ops_routes[0]);
}

int kf_ops_build_openapi(void) {
    const kf_route_t *const *tables;
    const size_t *counts;
    size_t n = kf_router_tables(&tables, &counts);
    cJSON *doc = kf_openapi_document(tables, counts, n, "kefu", KF_VERSION);
    if (!doc) return -1;
    openapi_json = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!openapi_json) return -1;
    openapi_len = strlen(openapi_json);
    return 0;
}
