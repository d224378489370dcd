/* routes_agents_ws.c — GET /v1/agents/ws, the agent console WebSocket (see
 * routes_agents_ws.h): the route, with the agent's token checked before the
 * upgrade; each connection's lifetime (on duty at the desk while open); the
 * per-thread sweep; the channel's metrics.  Frames in: agents_ws_in.c;
 * frames out: agents_ws_out.c; bus events: agents_ws_events.c.
 *
 * The sweep is one timer per server thread over that thread's consoles, as
 * in the customer channel: keep-alive pings and the idle close, presence (a
 * console whose socket still answers pings keeps its agent seen, so an open
 * but quiet console does not read as offline), and the token: its expiry
 * every pass, the full check (revoked, logged out, account disabled, which
 * may have been done by `kefu agent disable` in another process) every
 * auth_check_ms — a lost session must not keep receiving customers' words. */
#include "http/routes_agents_ws.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "http/agent_auth.h"
#include "http/agents_ws.h"
#include "http/route.h"
#include "http/router.h"
#include "obs/log.h"
#include "obs/metrics.h"

#define DEFAULT_MAX_MESSAGE (16u * 1024)
#define DEFAULT_MAX_PENDING (1024u * 1024) /* a transcript is one frame: room for a long one */
#define DEFAULT_PING_S 25
#define DEFAULT_IDLE_S 60
#define AUTH_CHECK_MS 5000
#define QUEUES_MIN_MS 200 /* README: queues at most 5 a second */
#define CLOSE_GRACE_MS 5000
#define SWEEP_MAX_MS 1000 /* an expired token is noticed within about this */

kf_aws_settings_t kf_aws_cfg;

/* ---- metrics ---- */

static _Atomic uint64_t stats[KF_AWS_STAT__N];
static _Atomic long open_consoles;

void kf_aws_count(kf_aws_stat_t s) { atomic_fetch_add_explicit(&stats[s], 1, memory_order_relaxed); }

static void collect(kf_buf_t *out, void *ud) {
    (void)ud;
    static const char *const names[KF_AWS_STAT__N][2] = {
        {"kefu_ws_agents_frames_in_total", "Frames received from agent consoles on /v1/agents/ws."},
        {"kefu_ws_agents_frames_out_total", "Frames sent to agent consoles on /v1/agents/ws."},
        {"kefu_ws_agents_errors_total", "Error frames sent on /v1/agents/ws."},
        {"kefu_ws_agents_slow_readers_total", "Consoles dropped because their unsent output passed the bound."},
        {"kefu_ws_agents_idle_closed_total", "Consoles closed after the idle timeout."},
        {"kefu_ws_agents_unauthorized_total", "Consoles closed because their session ended (1008)."},
    };
    for (int i = 0; i < KF_AWS_STAT__N; i++)
        kf_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", names[i][0], names[i][1], names[i][0],
                      names[i][0], (unsigned long long)atomic_load_explicit(&stats[i], memory_order_relaxed));
    kf_buf_printf(out,
                  "# HELP kefu_ws_agents_connections Agent consoles connected now.\n"
                  "# TYPE kefu_ws_agents_connections gauge\nkefu_ws_agents_connections %ld\n",
                  atomic_load_explicit(&open_consoles, memory_order_relaxed));
}

/* ---- connection lifetime ---- */

void kf_aws_ref(kf_aws_conn_t *c) { c->refs++; }

void kf_aws_unref(kf_aws_conn_t *c) {
    if (--c->refs) return;
    while (c->pongs) { /* owed to a console that went away */
        kf_aws_pong_t *p = c->pongs;
        c->pongs = p->next;
        free(p);
    }
    free(c->convs);
    free(c);
}

/* The session behind the console, checked again.  A store that cannot be
 * read is not taken as a revocation: the check runs again next time. */
int kf_aws_check_auth(kf_aws_conn_t *c, int full) {
    if (!c->ws || kf_ws_closing(c->ws)) return 0;
    kf_agent_auth_t *auth = kf_aws_cfg.auth;
    int ok = kf_agent_auth_now(auth) < c->token_expires_ms;
    if (ok && full) {
        char id[KF_AGENT_ID_MAX + 1], err[256];
        int64_t exp = 0;
        size_t tl = strlen(c->token);
        c->last_auth_ms = kf_loop_now_ms();
        ok = kf_agent_auth_lookup(auth, c->token, tl, id, &exp) && !strcmp(id, c->agent.id);
        if (ok) {
            kf_agent_t a;
            int rc = kf_agents_get(kf_agent_auth_store(auth), id, &a, NULL, err, sizeof err);
            c->token_expires_ms = exp;
            if (rc == KF_AGENTS_NOTFOUND || (rc == KF_AGENTS_OK && a.disabled)) {
                kf_agent_auth_revoke(auth, c->token, tl); /* as the REST check does: dead for good */
                ok = 0;
            } else if (rc == KF_AGENTS_OK) {
                c->agent.role = a.role; /* a demoted admin loses its reach at once */
            }
        }
    }
    if (ok) return 1;
    kf_aws_count(KF_AWS_STAT_UNAUTHORIZED);
    kf_aws_send_error(c, "unauthorized", "the agent session is unknown, expired or ended; log in again", NULL);
    if (c->ws) kf_ws_close(c->ws, 1008, "unauthorized");
    return 0;
}

/* This thread's consoles and the timer that sweeps them. */
static __thread struct {
    h2o_linklist_t conns;
    kf_timer_t timer;
    kf_loop_t *loop;
} T;

static void sweep_one(kf_aws_conn_t *c, uint64_t now) {
    kf_ws_t *ws = c->ws;
    if (kf_ws_closing(ws)) {
        if (!c->closing_since_ms) c->closing_since_ms = now;
        else if (now - c->closing_since_ms >= CLOSE_GRACE_MS) kf_ws_abort(ws);
        return;
    }
    uint64_t rx = kf_ws_last_rx_ms(ws);
    if (now - rx >= kf_aws_cfg.idle_ms) {
        kf_aws_count(KF_AWS_STAT_IDLE_CLOSED);
        kf_ws_close(ws, 1001, "idle timeout");
        return;
    }
    if (!kf_aws_check_auth(c, now - c->last_auth_ms >= kf_aws_cfg.auth_check_ms)) return;
    if (rx > c->touched_rx_ms) { /* a pong (or any frame) since the last look: the agent is there */
        c->touched_rx_ms = rx;
        kf_agent_auth_touch(kf_aws_cfg.auth, c->agent.id);
    }
    uint64_t since = rx > c->last_ping_ms ? rx : c->last_ping_ms;
    if (now - since >= kf_aws_cfg.ping_ms) {
        c->last_ping_ms = now;
        kf_ws_ping(ws);
    }
}

static uint64_t sweep_interval(void) {
    uint64_t m = kf_aws_cfg.ping_ms < kf_aws_cfg.idle_ms ? kf_aws_cfg.ping_ms : kf_aws_cfg.idle_ms;
    m /= 4;
    return m < 100 ? 100 : m > SWEEP_MAX_MS ? SWEEP_MAX_MS : m;
}

static void on_sweep(kf_timer_t *t) {
    uint64_t now = kf_loop_now_ms();
    for (h2o_linklist_t *l = T.conns.next, *next; l != &T.conns; l = next) {
        kf_aws_conn_t *c = H2O_STRUCT_FROM_MEMBER(kf_aws_conn_t, link, l);
        next = l->next; /* a close can run h2o's close path at once, unlinking c (and only c) */
        kf_aws_ref(c);
        sweep_one(c, now);
        kf_aws_unref(c);
    }
    kf_timer_start(T.loop, t, sweep_interval(), on_sweep);
}

static void thread_start(void) {
    if (T.loop) return;
    T.loop = kf_loop_current();
    h2o_linklist_init_anchor(&T.conns);
    kf_timer_start(T.loop, &T.timer, sweep_interval(), on_sweep);
}

static void on_msg(kf_ws_t *ws, const char *data, size_t len, int binary) {
    kf_aws_conn_t *c = kf_ws_data(ws);
    if (kf_ws_closing(ws)) return; /* after our close frame nothing more is answered */
    kf_aws_on_frame(c, data, len, binary);
}

static void on_closed(kf_ws_t *ws) {
    kf_aws_conn_t *c = kf_ws_data(ws);
    h2o_linklist_unlink(&c->link);
    c->ws = NULL;
    kf_timer_stop(c->loop, &c->queues_timer);
    kf_aws_unsubscribe_all(c); /* on this loop, so no event reaches c after this */
    if (c->attached) kf_desk_detach(kf_aws_cfg.desk, c->agent.id);
    atomic_fetch_sub_explicit(&open_consoles, 1, memory_order_relaxed);
    kf_aws_unref(c);
}

/* Welcome (with the conversations assigned now, followed from here on),
 * then the queues.  The bus subscriptions come first, so an offer or an
 * assignment made meanwhile arrives as an event after the welcome. */
static void open_console(kf_aws_conn_t *c) {
    kf_aws_subscribe(c);
    int rc = kf_desk_attach(kf_aws_cfg.desk, &c->agent);
    c->attached = rc == 0;
    if (rc != 0 && c->agent.n_skills)
        kf_log(KF_LOG_WARN, "agent console: could not put the agent on duty", "agent_id", 's', c->agent.id, "rc", 'i',
               (long long)rc, NULL);
    cJSON *assigned = kf_desk_assigned(kf_aws_cfg.desk, c->agent.id);
    const cJSON *it;
    cJSON_ArrayForEach(it, assigned) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "conversation_id");
        kf_aws_conv_t *e = cJSON_IsString(id) && kf_history_valid_id(id->valuestring) ? kf_aws_conv_get(c, id->valuestring) : NULL;
        if (e) kf_aws_conv_hold(c, e, NULL, 0);
    }
    if (kf_aws_send_welcome(c, assigned) < 0 || kf_aws_send_queues(c) < 0) return;
    /* an account without skills (typically an admin) is never offered anything: nothing to report */
    if (!c->attached && c->agent.n_skills)
        kf_aws_send_error(c, "internal", "could not put you on duty: no offers will reach this console", NULL);
}

static void console(kf_req_t *r) {
    kf_agent_t a;
    h2o_iovec_t tok;
    char id[KF_AGENT_ID_MAX + 1];
    int64_t exp = 0;
    /* 401 with a JSON body for a missing, forged, expired or disabled session */
    if (!kf_agent_auth_require(r, KF_AGENT_ROLE_AGENT, &a)) return;
    if (!kf_agent_auth_token_of(r, &tok) || tok.len > KF_AGENT_TOKEN_LEN ||
        !kf_agent_auth_lookup(kf_aws_cfg.auth, tok.base, tok.len, id, &exp) || strcmp(id, a.id)) {
        kf_http_add_header(r, "www-authenticate", "Bearer");
        kf_http_send_error(r, 401, "Unauthorized: the agent session is unknown, expired or ended; log in again");
        return;
    }
    kf_aws_conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        kf_http_send_error(r, 503, "Service Unavailable: out of memory");
        return;
    }
    c->refs = 1; /* the socket's */
    c->agent = a;
    memcpy(c->token, tok.base, tok.len);
    c->token_expires_ms = exp;
    c->loop = kf_loop_current();
    c->queues_timer.data = c;
    c->ws = kf_ws_upgrade(r, on_msg, on_closed, c);
    if (!c->ws) {
        free(c);
        return;
    }
    atomic_fetch_add_explicit(&open_consoles, 1, memory_order_relaxed);
    kf_ws_set_max_message(c->ws, kf_aws_cfg.max_message);
    thread_start();
    h2o_linklist_insert(&T.conns, &c->link);
    c->last_auth_ms = c->touched_rx_ms = kf_loop_now_ms();
    kf_aws_ref(c); /* a slow-reader drop inside the welcome must not free c under us */
    open_console(c);
    kf_aws_unref(c);
}

/* ---- registration ---- */

static const kf_response_t console_res[] = {{101, "Switching to the WebSocket protocol", NULL, NULL},
                                            {400, "Not a WebSocket handshake", NULL, NULL},
                                            {401, "No live agent session (missing, forged, expired, logged out or disabled)", NULL, NULL},
                                            {0}};

static const kf_route_t routes[] = {
    {.method = "GET", .path = "/v1/agents/ws", .operation_id = "agentConsole", .summary = "Agent console (WebSocket)",
     .description =
         "Needs a live agent session: the kefu_agent cookie or Authorization: Bearer <token> (else 401 before the "
         "upgrade). While connected the agent is on duty. JSON text frames with a \"type\"; every client frame may "
         "carry \"ref\" (<= 64 characters), echoed in its answer. Client: status {status}, accept {conversation_id}, "
         "reject {conversation_id}, message {conversation_id, text}, note {conversation_id, text}, transcript "
         "{conversation_id}, transfer {conversation_id, skill | agent_id}, handback {conversation_id}, close "
         "{conversation_id}, ping. Server: welcome {agent, skills, agents, canned, conversations} (first), queues "
         "{now, skills}, offer {expires_in_s, sticky, item}, offer_withdrawn {conversation_id, reason}, assigned "
         "{item}, message {conversation_id, seq, from, text, created_at}, note {conversation_id, seq, agent_id, text, "
         "created_at}, transcript {conversation_id, customer, handoff, slots, messages}, released {conversation_id, "
         "reason}, status {status}, ok {ref?, seq?}, pong, error {ref?, code, message}. Close codes: 1008 the session "
         "ended (after an unauthorized error), 1009 a frame over 16 KiB, 1001 idle or shutting down.",
     .tag = "agents", .responses = console_res, .handler = console, .flags = KF_ROUTE_WEBSOCKET},
};

static uint64_t env_seconds(const char *name, int dflt) {
    const char *v = getenv(name);
    char *end;
    long s = v ? strtol(v, &end, 10) : 0;
    if (!v || *v == 0 || *end != 0 || s <= 0 || s > 86400) s = dflt;
    return (uint64_t)s * 1000;
}

int kf_routes_agents_ws_register(kf_desk_t *desk, kf_conv_t *conv, kf_agent_auth_t *auth) {
    if (!desk || !conv || !auth) return -1;
    kf_aws_cfg.desk = desk;
    kf_aws_cfg.conv = conv;
    kf_aws_cfg.auth = auth;
    kf_aws_cfg.max_message = DEFAULT_MAX_MESSAGE;
    kf_aws_cfg.max_pending = DEFAULT_MAX_PENDING;
    kf_aws_cfg.ping_ms = env_seconds("KEFU_WS_PING_INTERVAL", DEFAULT_PING_S);
    kf_aws_cfg.idle_ms = env_seconds("KEFU_WS_IDLE_TIMEOUT", DEFAULT_IDLE_S);
    /* pings often enough that their pongs keep the agent seen (presence) */
    uint64_t hb = (uint64_t)kf_agent_auth_heartbeat_timeout_ms(auth);
    if (hb >= 2000 && kf_aws_cfg.ping_ms > hb / 2) kf_aws_cfg.ping_ms = hb / 2;
    kf_aws_cfg.auth_check_ms = AUTH_CHECK_MS;
    kf_aws_cfg.queues_min_ms = QUEUES_MIN_MS;
    if (kf_metrics_add_collector(collect, NULL) < 0) return -1;
    return kf_router_add(routes, sizeof routes / sizeof routes[0]);
}
