/* auth.h — who may call the admin routes (routes flagged KF_ROUTE_ADMIN).
 *
 * With an admin token configured (--admin-token / KEFU_ADMIN_TOKEN) a caller
 * must send `Authorization: Bearer <token>` (401 otherwise).  Without one,
 * admin routes answer only clients on the loopback interface (403 for the
 * rest), so a default install never exposes reload to the network.
 *
 * Agent sessions (http/agent_auth.c) plug in through a check function: a
 * request that carries an agent credential (a bearer token other than the
 * admin token, or the kefu_agent cookie) is judged by it instead — an admin
 * agent passes, another agent gets 403, a dead token 401 — so an agent
 * token never rides on the loopback rule. */
#ifndef KF_HTTP_AUTH_H
#define KF_HTTP_AUTH_H

#include "http/request.h"

/* token may be NULL or "" (loopback-only mode).  Copied. */
int kf_http_auth_set_admin_token(const char *token);
/* 1 when r may proceed; otherwise answers r (401/403) and returns 0. */
int kf_http_auth_admin(kf_req_t *r);
/* 1 when r's Authorization header is the configured admin bearer token. */
int kf_http_auth_is_admin_bearer(kf_req_t *r);

/* Returns -1 when r carries no agent credential (the rules above apply),
 * else 1 (may proceed) or 0 (it answered r). */
typedef int (*kf_http_auth_agent_fn)(kf_req_t *r);
void kf_http_auth_set_agent_check(kf_http_auth_agent_fn fn);

#endif
