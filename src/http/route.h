/* route.h — the declarative description of one HTTP route.
 *
 * A route says what it accepts (method, path template, parameters, JSON body
 * schema, size limit) and what it answers.  The same table drives request
 * dispatch and validation (http/router.c) and the OpenAPI document
 * (http/openapi.c), so the docs cannot drift from the code. */
#ifndef KF_HTTP_ROUTE_H
#define KF_HTTP_ROUTE_H

#include <stddef.h>

typedef struct kf_schema kf_schema_t; /* http/schema.h */
typedef struct kf_req kf_req_t;       /* http/request.h: one request in flight */

typedef void (*kf_route_handler_fn)(kf_req_t *r);

typedef struct kf_param {
    const char *name;
    const char *in; /* "path" or "query" */
    const kf_schema_t *schema;
    int required;
    const char *description;
} kf_param_t;

typedef struct kf_response {
    int status; /* 0 terminates a list */
    const char *description;
    const kf_schema_t *schema;  /* JSON body schema, or NULL */
    const char *content_type;   /* NULL means application/json */
} kf_response_t;

enum {
    KF_ROUTE_HIDDEN = 1 << 0,    /* not listed in /openapi.json */
    KF_ROUTE_WEBSOCKET = 1 << 1, /* GET that upgrades to a WebSocket */
    KF_ROUTE_PREFIX = 1 << 2,    /* path matches as a prefix (static files) */
    KF_ROUTE_ADMIN = 1 << 3,     /* admin token or loopback client required (http/auth.h) */
    KF_ROUTE_BODY_OPTIONAL = 1 << 4, /* an empty body (no bytes) is taken as {} */
};

typedef struct kf_route {
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* template, e.g. "/v1/jobs/{job_id}" */
    const char *operation_id;
    const char *summary;
    const char *description;
    const char *tag;
    const kf_param_t *params;       /* terminated by a NULL name, or NULL */
    const kf_schema_t *body;        /* JSON request body, or NULL */
    const kf_response_t *responses; /* terminated by status 0 */
    kf_route_handler_fn handler;
    size_t max_body;                /* 0: the server's --max-body */
    unsigned flags;
} kf_route_t;

#endif
