/* agent_auth.c — agent credentials in requests (see agent_auth.h).  The
 * answers never say why a token failed (unknown, expired, revoked or its
 * account disabled): a guesser learns nothing from them. */
#include "http/agent_auth.h"

#include <string.h>
#include <strings.h>

#include "http/auth.h"

static kf_agent_auth_t *sessions;

kf_agent_auth_t *kf_agent_auth_http(void) { return sessions; }

static int bearer_of(kf_req_t *r, h2o_iovec_t *tok) {
    ssize_t i = h2o_find_header(&r->h2o->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0) return 0;
    h2o_iovec_t v = r->h2o->headers.entries[i].value;
    if (v.len < 7 || strncasecmp(v.base, "Bearer ", 7) != 0) return 0;
    *tok = h2o_iovec_init(v.base + 7, v.len - 7);
    return 1;
}

/* kefu_agent=... in any Cookie header (HTTP/2 may split them). */
static int cookie_of(kf_req_t *r, h2o_iovec_t *tok) {
    static const char name[] = KF_AGENT_COOKIE "=";
    const size_t nl = sizeof name - 1;
    for (ssize_t i = -1; (i = h2o_find_header(&r->h2o->headers, H2O_TOKEN_COOKIE, i)) >= 0;) {
        h2o_iovec_t v = r->h2o->headers.entries[i].value;
        const char *p = v.base, *end = v.base + v.len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == ';')) p++;
            const char *e = memchr(p, ';', (size_t)(end - p));
            if (!e) e = end;
            if ((size_t)(e - p) > nl && !memcmp(p, name, nl)) {
                *tok = h2o_iovec_init(p + nl, (size_t)(e - p) - nl);
                return 1;
            }
            p = e;
        }
    }
    return 0;
}

int kf_agent_auth_token_of(kf_req_t *r, h2o_iovec_t *tok) {
    if (bearer_of(r, tok)) return !kf_http_auth_is_admin_bearer(r);
    return cookie_of(r, tok);
}

static int unauthorized(kf_req_t *r, const char *msg) {
    kf_http_add_header(r, "www-authenticate", "Bearer");
    kf_http_send_error(r, 401, msg);
    return 0;
}

/* The live account behind tok: 1, or 0 after answering r. */
static int agent_of_token(kf_req_t *r, h2o_iovec_t tok, kf_agent_t *out) {
    static const char dead[] = "Unauthorized: the agent session is unknown, expired or ended; log in again";
    char id[KF_AGENT_ID_MAX + 1], err[256];
    if (!sessions || !kf_agent_auth_lookup(sessions, tok.base, tok.len, id, NULL)) return unauthorized(r, dead);
    int rc = kf_agents_get(kf_agent_auth_store(sessions), id, out, NULL, err, sizeof err);
    if (rc == KF_AGENTS_OK && !out->disabled) return 1;
    if (rc != KF_AGENTS_OK && rc != KF_AGENTS_NOTFOUND) {
        kf_http_add_header(r, "retry-after", "1");
        kf_http_send_error(r, 503, "Service Unavailable: the agent store cannot be read");
        return 0;
    }
    kf_agent_auth_revoke(sessions, tok.base, tok.len); /* disabled or deleted: the token is dead for good */
    return unauthorized(r, dead);
}

int kf_agent_auth_require(kf_req_t *r, kf_agent_role_t role, kf_agent_t *agent_out) {
    h2o_iovec_t tok;
    memset(agent_out, 0, sizeof *agent_out);
    if (!kf_agent_auth_token_of(r, &tok)) {
        if (role == KF_AGENT_ROLE_ADMIN) {
            agent_out->role = KF_AGENT_ROLE_ADMIN;
            return kf_http_auth_admin(r);
        }
        return unauthorized(r, "Unauthorized: log in first (Authorization: Bearer <token> or the kefu_agent cookie)");
    }
    if (!agent_of_token(r, tok, agent_out)) return 0;
    if (role == KF_AGENT_ROLE_ADMIN && agent_out->role != KF_AGENT_ROLE_ADMIN) {
        kf_http_send_error(r, 403, "Forbidden: this route needs an admin");
        return 0;
    }
    kf_agent_auth_touch(sessions, agent_out->id);
    return 1;
}

/* For routes flagged KF_ROUTE_ADMIN (http/auth.c asks this first). */
static int admin_check(kf_req_t *r) {
    h2o_iovec_t tok;
    kf_agent_t a;
    if (!kf_agent_auth_token_of(r, &tok)) return -1;
    return kf_agent_auth_require(r, KF_AGENT_ROLE_ADMIN, &a);
}

void kf_agent_auth_http_init(kf_agent_auth_t *a) {
    sessions = a;
    kf_http_auth_set_agent_check(a ? admin_check : NULL);
}
