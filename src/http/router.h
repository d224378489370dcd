/* router.h — route tables to request dispatch.
 *
 * Modules register static kf_route_t tables before the server starts.  For
 * each request the router finds the route by method and path template,
 * checks limits and content type, validates parameters and body against the
 * route's schemas (422 listing every error), and calls the handler. */
#ifndef KF_HTTP_ROUTER_H
#define KF_HTTP_ROUTER_H

#include <stddef.h>

#include <h2o.h>

#include "http/route.h"

struct kf_http_thread;

/* Registers a table (kept by pointer); returns -1 when a template is malformed. */
int kf_router_add(const kf_route_t *routes, size_t n);
void kf_router_set_limits(size_t default_max_body, size_t max_header);
/* Largest body any route accepts: h2o's own buffering limit. */
size_t kf_router_max_body(void);

size_t kf_router_count(void);
const kf_route_t *kf_router_get(size_t i);
/* The route templates in registration order, for metrics labels. */
const char *const *kf_router_names(void);
/* Registered tables, for the OpenAPI document. */
size_t kf_router_tables(const kf_route_t *const **tables, const size_t **counts);

/* Always answers the request. */
void kf_router_dispatch(struct kf_http_thread *t, h2o_req_t *req);

#endif
