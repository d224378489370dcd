/* agent_auth.h — agent sessions on the wire: which token a request carries
 * and whether it may proceed.  The sessions themselves (tokens, presence)
 * are engine/agents_auth.h; this file only reads HTTP headers.
 *
 * A token comes from `Authorization: Bearer <token>` (the API) or the
 * `kefu_agent` cookie (the console; HttpOnly, SameSite=Strict).  Every
 * check re-reads the account from the AgentStore, so an account disabled by
 * `kefu agent disable` in another process stops working at its next request
 * even though this process never saw the change. */
#ifndef KF_HTTP_AGENT_AUTH_H
#define KF_HTTP_AGENT_AUTH_H

#include "engine/agents_auth.h"
#include "http/request.h"

#define KF_AGENT_COOKIE "kefu_agent"

/* Makes a the sessions checked here and by admin routes (http/auth.h). */
void kf_agent_auth_http_init(kf_agent_auth_t *a);
kf_agent_auth_t *kf_agent_auth_http(void);

/* The agent token r carries (the bearer unless it is the admin token, else
 * the cookie): 1 and *tok, or 0. */
int kf_agent_auth_token_of(kf_req_t *r, h2o_iovec_t *tok);

/* role KF_AGENT_ROLE_AGENT: any live agent session; KF_AGENT_ROLE_ADMIN: an
 * admin agent's session, or — with no agent credential — the admin bearer
 * token / loopback rule of http/auth.h (then agent_out->id is "").  Returns
 * 1 with agent_out filled; else it answered r (401 missing, expired, forged
 * or disabled; 403 not an admin) and returns 0.  A passing agent counts as
 * seen for presence. */
int kf_agent_auth_require(kf_req_t *r, kf_agent_role_t role, kf_agent_t *agent_out);

#endif
