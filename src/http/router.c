/* router.c — match, check, validate, dispatch (see router.h).
 *
 * Templates are split into segments once at registration; a request walks
 * the (short) route list comparing segments, so no allocation happens before
 * the handler runs unless the route has parameters or a body. */
#include "http/router.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/auth.h"
#include "http/request.h"
#include "http/schema.h"
#include "http/server.h"

#define MAX_ROUTES 64
#define MAX_TABLES 16
#define MAX_SEGS 8

typedef struct {
    const char *text;
    size_t len;
    int is_param;
} seg_t;

typedef struct {
    const kf_route_t *route;
    seg_t segs[MAX_SEGS];
    size_t nsegs;
} entry_t;

static entry_t routes[MAX_ROUTES];
static const char *names[MAX_ROUTES];
static size_t nroutes;
static const kf_route_t *tables[MAX_TABLES];
static size_t table_counts[MAX_TABLES];
static size_t ntables;
static size_t default_max_body = 64 * 1024, max_header_bytes = 16 * 1024;

static int split(const char *path, seg_t *segs, size_t *nsegs) {
    size_t n = 0;
    const char *p = path;
    if (*p != '/') return -1;
    while (*p == '/' && p[1]) {
        p++;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (n == MAX_SEGS) return -1;
        int param = len >= 2 && p[0] == '{' && p[len - 1] == '}';
        segs[n++] = (seg_t){param ? p + 1 : p, param ? len - 2 : len, param};
        p += len;
    }
    *nsegs = n;
    return 0;
}

int kf_router_add(const kf_route_t *table, size_t n) {
    if (ntables == MAX_TABLES || nroutes + n > MAX_ROUTES) return -1;
    for (size_t i = 0; i < n; i++) {
        entry_t *e = &routes[nroutes];
        e->route = &table[i];
        if (split(table[i].path, e->segs, &e->nsegs) < 0) return -1;
        names[nroutes++] = table[i].path;
    }
    tables[ntables] = table;
    table_counts[ntables++] = n;
    return 0;
}

void kf_router_set_limits(size_t max_body, size_t max_header) {
    default_max_body = max_body;
    max_header_bytes = max_header;
}

size_t kf_router_max_body(void) {
    size_t m = default_max_body;
    for (size_t i = 0; i < nroutes; i++)
        if (routes[i].route->max_body > m) m = routes[i].route->max_body;
    return m;
}

size_t kf_router_count(void) { return nroutes; }
const kf_route_t *kf_router_get(size_t i) { return i < nroutes ? routes[i].route : NULL; }
const char *const *kf_router_names(void) { return names; }

size_t kf_router_tables(const kf_route_t *const **t, const size_t **c) {
    *t = tables;
    *c = table_counts;
    return ntables;
}

/* Matches path against e; fills r's path params on success. */
static int match(const entry_t *e, h2o_iovec_t path, kf_req_t *r) {
    const char *p = path.base, *end = path.base + path.len;
    size_t np = 0;
    if (e->route->flags & KF_ROUTE_PREFIX)
        return path.len >= strlen(e->route->path) && memcmp(p, e->route->path, strlen(e->route->path)) == 0;
    for (size_t i = 0; i < e->nsegs; i++) {
        if (p >= end || *p != '/') return 0;
        p++;
        const char *s = memchr(p, '/', (size_t)(end - p));
        size_t len = s ? (size_t)(s - p) : (size_t)(end - p);
        if (e->segs[i].is_param) {
            if (len == 0 || np == KF_REQ_MAX_PATH_PARAMS) return 0;
            if (r) r->path_params[np] = (kf_path_param_t){e->segs[i].text, e->segs[i].len, h2o_iovec_init(p, len)};
            np++;
        } else if (len != e->segs[i].len || memcmp(p, e->segs[i].text, len) != 0) {
            return 0;
        }
        p += len;
    }
    if (e->nsegs == 0) return p + 1 == end && *p == '/';
    if (p != end) return 0;
    if (r) r->n_path_params = np;
    return 1;
}

static int method_is(const h2o_req_t *req, const char *m) {
    size_t n = strlen(m);
    return req->method.len == n && memcmp(req->method.base, m, n) == 0;
}

static int route_method_ok(const kf_route_t *rt, const h2o_req_t *req) {
    if (method_is(req, rt->method)) return 1;
    return strcmp(rt->method, "GET") == 0 && method_is(req, "HEAD");
}

static void send_405(kf_req_t *r, h2o_iovec_t path) {
    char allow[128] = "";
    for (size_t i = 0; i < nroutes; i++) {
        if (!match(&routes[i], path, NULL) || strstr(allow, routes[i].route->method)) continue;
        if (allow[0]) strncat(allow, ", ", sizeof allow - strlen(allow) - 1);
        strncat(allow, routes[i].route->method, sizeof allow - strlen(allow) - 1);
        if (strcmp(routes[i].route->method, "GET") == 0) strncat(allow, ", HEAD", sizeof allow - strlen(allow) - 1);
    }
    char *copy = h2o_mem_alloc_pool(&r->h2o->pool, strlen(allow) + 1);
    strcpy(copy, allow);
    kf_http_add_header(r, "allow", copy);
    kf_http_send_error(r, 405, "Method Not Allowed");
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t pct_decode(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') out[o++] = ' ';
        else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
            i += 2;
        } else out[o++] = s[i];
    }
    out[o] = 0;
    return o;
}

static void missing(const char *in, const char *name, cJSON *errors) {
    cJSON *e = cJSON_CreateObject(), *loc = cJSON_CreateArray();
    cJSON_AddStringToObject(e, "type", "missing");
    cJSON_AddItemToArray(loc, cJSON_CreateString(in));
    cJSON_AddItemToArray(loc, cJSON_CreateString(name));
    cJSON_AddItemToObject(e, "loc", loc);
    cJSON_AddStringToObject(e, "msg", "Field required");
    cJSON_AddNullToObject(e, "input");
    cJSON_AddItemToArray(errors, e);
}

/* Validates path and query parameters into r->params; appends errors. */
static void check_params(kf_req_t *r, cJSON *errors) {
    const kf_param_t *p = r->route->params;
    if (!p) return;
    r->params = cJSON_CreateObject();
    for (; p->name; p++) {
        h2o_iovec_t raw;
        int have;
        if (strcmp(p->in, "path") == 0) {
            const h2o_iovec_t *v = kf_req_path_param(r, p->name);
            have = v != NULL;
            if (v) raw = *v;
        } else {
            have = kf_req_query_raw(r, p->name, &raw);
        }
        cJSON *coerced = NULL;
        if (!have) {
            if (p->required) missing(p->in, p->name, errors);
            else if (p->schema && p->schema->default_json)
                cJSON_AddItemToObject(r->params, p->name, cJSON_Parse(p->schema->default_json));
            continue;
        }
        char *dec = h2o_mem_alloc_pool(&r->h2o->pool, raw.len + 1);
        size_t len = pct_decode(raw.base, raw.len, dec);
        if (kf_schema_validate_param(p->schema, dec, len, p->in, p->name, errors, &coerced) == 0 && coerced)
            cJSON_AddItemToObject(r->params, p->name, coerced);
        else
            cJSON_Delete(coerced);
    }
}

static int json_content_type(const h2o_req_t *req) {
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i < 0) return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    static const char want[] = "application/json";
    if (v.len < sizeof want - 1 || strncasecmp(v.base, want, sizeof want - 1) != 0) return 0;
    return v.len == sizeof want - 1 || v.base[sizeof want - 1] == ';' || v.base[sizeof want - 1] == ' ';
}

/* Returns 0 when the handler may run; otherwise the request was answered. */
/* ["body"], the prefix of every body error's loc: built once, only read. */
static cJSON *body_loc;
static pthread_once_t body_loc_once = PTHREAD_ONCE_INIT;

static void make_body_loc(void) {
    body_loc = cJSON_CreateArray();
    cJSON_AddItemToArray(body_loc, cJSON_CreateString("body"));
}

static int check_body(kf_req_t *r, cJSON *errors) {
    h2o_req_t *req = r->h2o;
    size_t limit = r->route->max_body ? r->route->max_body : default_max_body;
    if (req->entity.len > limit) {
        char msg[96];
        snprintf(msg, sizeof msg, "Request body too large: the limit is %zu bytes", limit);
        kf_http_send_error(r, 413, msg);
        return -1;
    }
    if (req->entity.len == 0 && (r->route->flags & KF_ROUTE_BODY_OPTIONAL)) {
        r->body = cJSON_CreateObject();
        kf_schema_validate(r->route->body, r->body, NULL, errors);
        return 0;
    }
    if (!json_content_type(req)) {
        kf_http_send_error(r, 415, "Unsupported Media Type: send the body as application/json");
        return -1;
    }
    r->body = kf_schema_parse_json(req->entity.base ? req->entity.base : "", req->entity.len, errors);
    if (!r->body) return 0; /* json_invalid is in errors */
    pthread_once(&body_loc_once, make_body_loc);
    kf_schema_validate(r->route->body, r->body, body_loc, errors);
    return 0;
}

static size_t header_bytes(const h2o_req_t *req) {
    size_t n = req->path.len + req->method.len;
    for (size_t i = 0; i < req->headers.size; i++)
        n += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    return n;
}

static void take_request_id(kf_req_t *r) {
    ssize_t i = h2o_find_header_by_str(&r->h2o->headers, H2O_STRLIT("x-request-id"), -1);
    if (i >= 0) {
        h2o_iovec_t v = r->h2o->headers.entries[i].value;
        int ok = v.len > 0 && v.len < sizeof r->request_id;
        for (size_t k = 0; ok && k < v.len; k++) {
            char c = v.base[k];
            ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.' || c == ':';
        }
        if (ok) {
            memcpy(r->request_id, v.base, v.len);
            r->request_id[v.len] = 0;
            return;
        }
    }
    kf_http_random_id(r->request_id);
}

static void run(kf_req_t *r) {
    if ((r->route->flags & KF_ROUTE_ADMIN) && !kf_http_auth_admin(r)) return;
    cJSON *errors = cJSON_CreateArray();
    check_params(r, errors);
    if (r->route->body && check_body(r, errors) < 0) {
        cJSON_Delete(errors);
        return;
    }
    if (cJSON_GetArraySize(errors) > 0) {
        kf_http_send_validation(r, errors);
        return;
    }
    cJSON_Delete(errors);
    r->route->handler(r);
    if (!r->responded && !r->deferred) kf_http_send_error(r, 500, "Internal Server Error: the handler gave no answer");
}

static void free_req(void *p) {
    kf_req_t *r = p;
    cJSON_Delete(r->body);
    cJSON_Delete(r->params);
}

void kf_router_dispatch(struct kf_http_thread *t, h2o_req_t *req) {
    kf_req_t *r = h2o_mem_alloc_shared(&req->pool, sizeof *r, free_req);
    memset(r, 0, sizeof *r);
    r->h2o = req;
    r->thread = t;
    r->route_idx = -1;
    r->start_ns = kf_http_now_ns();
    take_request_id(r);
    if (header_bytes(req) > max_header_bytes) {
        kf_http_send_error(r, 431, "Request Header Fields Too Large");
        return;
    }
    h2o_iovec_t path = req->path_normalized;
    int path_seen = 0;
    for (size_t i = 0; i < nroutes; i++) {
        if (!match(&routes[i], path, r)) continue;
        path_seen = 1;
        if (!route_method_ok(routes[i].route, req)) continue;
        r->route = routes[i].route;
        r->route_idx = (int)i;
        run(r);
        return;
    }
    r->n_path_params = 0;
    if (path_seen) send_405(r, path);
    else kf_http_send_error(r, 404, "Not Found");
}
