/* routes_ops.h — operational routes: health, readiness, metrics, OpenAPI,
 * docs, static files and the diagnostic WebSocket echo. */
#ifndef KF_HTTP_ROUTES_OPS_H
#define KF_HTTP_ROUTES_OPS_H

#include <stddef.h>

/* A readiness check: returns 1 when ready; writes a short state into msg. */
typedef int (*kf_ready_fn)(void *ud, char *msg, size_t msglen);

int kf_ops_routes_register(void);
void kf_ops_add_ready_check(const char *name, kf_ready_fn fn, void *ud);
/* Builds /openapi.json from every registered route; call after all routes are registered. */
int kf_ops_build_openapi(void);

#endif
