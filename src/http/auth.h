/* auth.h — who may call the admin routes (routes flagged KF_ROUTE_ADMIN).
 *
 * With an admin token configured (--admin-token / KEFU_ADMIN_TOKEN) a caller
 * must send `Authorization: Bearer <token>` (401 otherwise).  Without one,
 * admin routes answer only clients on the loopback interface (403 for the
 * rest), so a default install never exposes reload to the network.  Agent
 * and console sessions (the routing issue) will be checked here as well. */
#ifndef KF_HTTP_AUTH_H
#define KF_HTTP_AUTH_H

#include "http/request.h"

/* token may be NULL or "" (loopback-only mode).  Copied. */
int kf_http_auth_set_admin_token(const char *token);
/* 1 when r may proceed; otherwise answers r (401/403) and returns 0. */
int kf_http_auth_admin(kf_req_t *r);

#endif
