/* request.h — one HTTP request in flight, as route handlers see it.
 *
 * The router fills a kf_req_t (matched route, validated path/query
 * parameters, parsed and validated JSON body) and calls the route's handler,
 * which answers with one of the kf_http_send_* calls exactly once.  Sending
 * records metrics and the access-log line. */
#ifndef KF_HTTP_REQUEST_H
#define KF_HTTP_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <h2o.h>

#include "http/route.h"

#define KF_REQ_MAX_PATH_PARAMS 4

typedef struct kf_http_thread kf_http_thread_t; /* http/server.h */

typedef struct {
    const char *name;
    size_t name_len;
    h2o_iovec_t value;
} kf_path_param_t;

struct kf_req {
    h2o_req_t *h2o;
    const kf_route_t *route;
    int route_idx; /* -1 when unmatched */
    kf_http_thread_t *thread;
    kf_path_param_t path_params[KF_REQ_MAX_PATH_PARAMS];
    size_t n_path_params;
    cJSON *params; /* validated path+query parameters by name (coerced types), or NULL */
    cJSON *body;   /* validated JSON body with defaults applied, or NULL */
    char request_id[65];
    uint64_t start_ns;
    int responded;
    int deferred; /* the handler answers later, from a completion on this thread (kf_http_later) */
};

/* Raw text of a path parameter, or NULL. */
const h2o_iovec_t *kf_req_path_param(const kf_req_t *r, const char *name);
/* Value of a query parameter in the raw query string (not decoded), or NULL. */
int kf_req_query_raw(const kf_req_t *r, const char *name, h2o_iovec_t *out);

/* Answer with a JSON document (takes ownership of doc). */
void kf_http_send_json(kf_req_t *r, int status, cJSON *doc);
/* Answer with a body held by the caller for the lifetime of the process or the request pool. */
void kf_http_send_static(kf_req_t *r, int status, const char *content_type, const char *body, size_t len);
/* Copies body into the request's pool, then answers. */
void kf_http_send_copy(kf_req_t *r, int status, const char *content_type, const char *body, size_t len);
/* {"detail": "<msg>"} with the given status, FastAPI style. */
void kf_http_send_error(kf_req_t *r, int status, const char *detail);
/* {"detail": [errors...]} with 422 (takes ownership of errors). */
void kf_http_send_validation(kf_req_t *r, cJSON *errors);
/* Adds a response header (name must be lowercase, both strings must outlive the request). */
void kf_http_add_header(kf_req_t *r, const char *name, const char *value);

/* Answering later.  A handler that starts asynchronous work calls
 * kf_http_later(r) and gives the handle to the work's completion, which must
 * run on this request's thread.  h2o may dispose the request first (the
 * client went away): the handle then says so (kf_http_later_req returns
 * NULL) and the completion only lets go.  The router no longer answers 500
 * for a handler that returned without answering.  Either side may answer at
 * once when the work cannot start (then call kf_http_later_done for the
 * completion that will never run). */
typedef struct kf_http_later kf_http_later_t;
/* NULL when out of memory: nothing is deferred, answer now. */
kf_http_later_t *kf_http_later(kf_req_t *r);
/* The request to answer, or NULL when h2o has disposed it. */
kf_req_t *kf_http_later_req(const kf_http_later_t *l);
/* Lets go of the completion's share; call it exactly once. */
void kf_http_later_done(kf_http_later_t *l);

/* Records an answer h2o sent by itself (the WebSocket 101) in metrics and the access log. */
void kf_http_record_status(kf_req_t *r, int status);

uint64_t kf_http_now_ns(void);

/* Write coalescing for the calling server thread (see response.c): with it
 * on, HTTP/1 answers are queued and written by kf_http_flush_writes, which
 * the thread calls after every loop turn. */
void kf_http_coalesce_writes(int on);
void kf_http_flush_writes(void);

#endif
