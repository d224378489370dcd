/* auth.c — admin route access check (see auth.h).  The token comparison is
 * constant-time (libsodium) so response timing does not leak its prefix. */
#include "http/auth.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

static char *admin_token;
static size_t admin_token_len;
static kf_http_auth_agent_fn agent_check;

void kf_http_auth_set_agent_check(kf_http_auth_agent_fn fn) { agent_check = fn; }

int kf_http_auth_set_admin_token(const char *token) {
    free(admin_token);
    admin_token = NULL;
    admin_token_len = 0;
    if (!token || !*token) return 0;
    if (!(admin_token = strdup(token))) return -1;
    admin_token_len = strlen(token);
    return 0;
}

static int peer_is_loopback(h2o_req_t *req) {
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (len == 0) return 0;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return 1;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
    }
    return ss.ss_family == AF_UNIX;
}

static int bearer_matches(h2o_req_t *req) {
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0) return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    static const char scheme[] = "Bearer ";
    size_t sl = sizeof scheme - 1;
    if (v.len != sl + admin_token_len || strncasecmp(v.base, scheme, sl) != 0) return 0;
    return sodium_memcmp(v.base + sl, admin_token, admin_token_len) == 0;
}

int kf_http_auth_is_admin_bearer(kf_req_t *r) { return admin_token && bearer_matches(r->h2o); }

int kf_http_auth_admin(kf_req_t *r) {
    if (admin_token && bearer_matches(r->h2o)) return 1;
    int verdict = agent_check ? agent_check(r) : -1;
    if (verdict >= 0) return verdict;
    if (admin_token) {
        kf_http_add_header(r, "www-authenticate", "Bearer");
        kf_http_send_error(r, 401, "Unauthorized: this admin route needs 'Authorization: Bearer <admin token>'");
        return 0;
    }
    if (peer_is_loopback(r->h2o)) return 1;
    kf_http_send_error(r, 403, "Forbidden: admin routes answer loopback clients only unless --admin-token is set");
    return 0;
}
