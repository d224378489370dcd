/* response.c — how every answer leaves kefu (see request.h).
 *
 * One place sets Content-Type, Content-Length (so keep-alive survives: h2o
 * otherwise closes after the body), X-Request-Id, then counts the request in
 * the thread's metrics shard and writes the access-log line.
 *
 * Write coalescing.  An HTTP/1 answer is not written the moment a handler
 * gives it: it is queued and written when the loop turn ends
 * (kf_http_flush_writes, called by the server thread after each turn), the
 * way Redis writes replies in beforeSleep.  Every write to a loopback or LAN
 * peer that sleeps in epoll wakes it (an IPI under virtualisation); with 64
 * requests ready in one turn, writing their answers back to back wakes the
 * client once instead of once per answer.  Measured here, pinned server and
 * wrk with 64 connections, POST /v1/intent: see bench/results.  HTTP/2 needs
 * none of this: h2o already gathers its frames and writes once per turn. */
#include "http/request.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/server.h"
#include "obs/log.h"

uint64_t kf_http_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "OK";
    }
}

static void observe(kf_req_t *r, int status) {
    double secs = (double)(kf_http_now_ns() - r->start_ns) / 1e9;
    h2o_req_t *req = r->h2o;
    if (r->thread) kf_metrics_observe(r->thread->metrics, r->route_idx, req->method.base, req->method.len, status, secs);
    if (!kf_log_enabled(KF_LOG_INFO)) return;
    char method[16], path[512];
    size_t ml = req->method.len < sizeof method - 1 ? req->method.len : sizeof method - 1;
    memcpy(method, req->method.base, ml);
    method[ml] = 0;
    size_t pl = req->path.len < sizeof path - 1 ? req->path.len : sizeof path - 1;
    memcpy(path, req->path.base, pl);
    path[pl] = 0;
    kf_log(KF_LOG_INFO, "request", "request_id", 's', r->request_id, "method", 's', method, "route", 's',
           r->route ? r->route->path : "<unmatched>", "path", 's', path, "status", 'i', (long long)status,
           "duration_ms", 'd', secs * 1000.0, "protocol", 's',
           req->version >= 0x200 ? "HTTP/2" : req->version == 0x100 ? "HTTP/1.0" : "HTTP/1.1", NULL);
}

/* For answers h2o sends itself (the WebSocket 101). */
void kf_http_record_status(kf_req_t *r, int status) {
    r->responded = 1;
    observe(r, status);
}

static void start(kf_req_t *r, int status, const char *ctype, size_t len) {
    h2o_req_t *req = r->h2o;
    r->responded = 1;
    req->res.status = status;
    req->res.reason = reason(status);
    req->res.content_length = len;
    if (ctype) h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, r->request_id,
                          strlen(r->request_id));
    observe(r, status);
}

void kf_http_add_header(kf_req_t *r, const char *name, const char *value) {
    h2o_add_header_by_str(&r->h2o->pool, &r->h2o->res.headers, name, strlen(name), 1, NULL, value, strlen(value));
}

static h2o_generator_t generator = {NULL, NULL};

static void write_now(h2o_req_t *req, const char *body, size_t len) {
    h2o_iovec_t buf = h2o_iovec_init(body, len);
    h2o_start_response(req, &generator);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

/* The queue of answers waiting for the end of the turn, per server thread.
 * Each entry's request pool holds a shared slot (`ticket`) whose dispose
 * hook forgets the entry, should h2o free the request before the flush. */
typedef struct {
    h2o_req_t *req; /* NULL: disposed, or written */
    const char *body;
    size_t len;
    size_t *ticket;
} queued_t;

static __thread struct {
    int on;
    queued_t *v;
    size_t n, cap;
} Q;

#define QUEUE_MAX 4096 /* beyond this many answers in one turn, write at once */

static void ticket_disposed(void *p) {
    size_t i = *(size_t *)p;
    if (i < Q.n && Q.v[i].ticket == p) Q.v[i].req = NULL;
}

static int enqueue(h2o_req_t *req, const char *body, size_t len) {
    if (Q.n == Q.cap) {
        size_t cap = Q.cap ? Q.cap * 2 : 64;
        if (cap > QUEUE_MAX) return -1;
        queued_t *v = realloc(Q.v, cap * sizeof *v);
        if (!v) return -1;
        Q.v = v;
        Q.cap = cap;
    }
    size_t *ticket = h2o_mem_alloc_shared(&req->pool, sizeof *ticket, ticket_disposed);
    *ticket = Q.n;
    Q.v[Q.n++] = (queued_t){req, body, len, ticket};
    return 0;
}

void kf_http_coalesce_writes(int on) { Q.on = on; }

void kf_http_flush_writes(void) {
    /* Writing an answer may start the next pipelined request on that
     * connection, whose answer is queued behind: loop until empty. */
    for (size_t i = 0; i < Q.n; i++) {
        queued_t q = Q.v[i];
        Q.v[i].req = NULL;
        *q.ticket = SIZE_MAX;
        if (q.req) write_now(q.req, q.body, q.len);
    }
    Q.n = 0;
}

/* ---- answering later (request.h) ----
 * The handle is shared by the request's pool (until h2o disposes it) and
 * the completion; both run on the request's thread, so a plain count does. */
struct kf_http_later {
    kf_req_t *r;
    int refs;
};

static void later_unref(kf_http_later_t *l) {
    if (--l->refs == 0) free(l);
}

static void later_disposed(void *v) {
    kf_http_later_t *l = *(kf_http_later_t **)v;
    l->r = NULL;
    later_unref(l);
}

kf_http_later_t *kf_http_later(kf_req_t *r) {
    kf_http_later_t *l = malloc(sizeof *l);
    if (!l) return NULL;
    *l = (kf_http_later_t){r, 2};
    kf_http_later_t **slot = h2o_mem_alloc_shared(&r->h2o->pool, sizeof *slot, later_disposed);
    *slot = l;
    r->deferred = 1;
    return l;
}

kf_req_t *kf_http_later_req(const kf_http_later_t *l) { return l->r; }

void kf_http_later_done(kf_http_later_t *l) { later_unref(l); }

void kf_http_send_static(kf_req_t *r, int status, const char *content_type, const char *body, size_t len) {
    start(r, status, content_type, len);
    if (Q.on && r->h2o->version < 0x200 && enqueue(r->h2o, body, len) == 0) return;
    write_now(r->h2o, body, len);
}

void kf_http_send_copy(kf_req_t *r, int status, const char *content_type, const char *body, size_t len) {
    char *copy = h2o_mem_alloc_pool(&r->h2o->pool, len + 1);
    memcpy(copy, body, len);
    kf_http_send_static(r, status, content_type, copy, len);
}

void kf_http_send_json(kf_req_t *r, int status, cJSON *doc) {
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (!text) {
        static const char oom[] = "{\"detail\":\"out of memory\"}";
        kf_http_send_static(r, 500, "application/json", oom, sizeof oom - 1);
        return;
    }
    kf_http_send_copy(r, status, "application/json", text, strlen(text));
    cJSON_free(text);
}

void kf_http_send_error(kf_req_t *r, int status, const char *detail) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "detail", detail);
    kf_http_send_json(r, status, doc);
}

void kf_http_send_validation(kf_req_t *r, cJSON *errors) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "detail", errors);
    kf_http_send_json(r, 422, doc);
}

const h2o_iovec_t *kf_req_path_param(const kf_req_t *r, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < r->n_path_params; i++)
        if (r->path_params[i].name_len == n && memcmp(r->path_params[i].name, name, n) == 0)
            return &r->path_params[i].value;
    return NULL;
}

int kf_req_query_raw(const kf_req_t *r, const char *name, h2o_iovec_t *out) {
    h2o_req_t *req = r->h2o;
    if (req->query_at == SIZE_MAX) return 0;
    const char *p = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    size_t n = strlen(name);
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (!amp) amp = end;
        const char *eq = memchr(p, '=', (size_t)(amp - p));
        const char *kend = eq ? eq : amp;
        if ((size_t)(kend - p) == n && memcmp(p, name, n) == 0) {
            *out = eq ? h2o_iovec_init(eq + 1, (size_t)(amp - eq - 1)) : h2o_iovec_init("", 0);
            return 1;
        }
        p = amp + 1;
    }
    return 0;
}
