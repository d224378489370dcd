/* routes_agents_ws.c — GET /v1/agents/ws, the agent console WebSocket (see
 * routes_agents_ws.h): the route, with the agent's token checked before the
 * upgrade; each connection's lifetime (on duty at the desk while open); this
 * channel's part of the sweep; the channel's metrics.  Frames in:
 * agents_ws_in.c; frames out: agents_ws_out.c; bus events:
 * agents_ws_events.c.
 *
 * The sweep is ws_conn.c's, one timer per server thread over that thread's
 * consoles, as in the customer channel: keep-alive pings and the idle close.
 * Its sweep hook (sweep_console) adds presence (a console whose socket still
 * answers pings keeps its agent seen, so an open but quiet console does not
 * read as offline) and the token: its expiry every pass, the full check
 * (revoked, logged out, account disabled, which may have been done by `kefu
 * agent disable` in another process) every auth_check_ms — a lost session
 * must not keep receiving customers' words. */
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
#define SWEEP_MAX_MS 1000 /* an expired token is noticed within about this */

/* ---- metrics ---- */

static const char *const stat_names[KF_AWS_STAT__N][2] = {
    {"kefu_ws_agents_frames_in_total", "Frames received from agent consoles on /v1/agents/ws."},
    {"kefu_ws_agents_frames_out_total", "Frames sent to agent consoles on /v1/agents/ws."},
    {"kefu_ws_agents_errors_total", "Error frames sent on /v1/agents/ws."},
    {"kefu_ws_agents_slow_readers_total", "Consoles dropped because their unsent output passed the bound."},
    {"kefu_ws_agents_idle_closed_total", "Consoles closed after the idle timeout."},
    {"kefu_ws_agents_unauthorized_total", "Consoles closed because their session ended (1008)."},
};
static _Atomic long open_consoles;

static void collect(kf_buf_t *out, void *ud) {
    kf_wsconn_collect(out, ud);
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
    if (!c->base.ws || kf_ws_closing(c->base.ws)) return 0;
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
    kf_wsconn_count(&kf_aws_cfg.ch, KF_AWS_STAT_UNAUTHORIZED);
    kf_aws_send_error(c, "unauthorized", "the agent session is unknown, expired or ended; log in again", NULL);
    if (c->base.ws) kf_ws_close(c->base.ws, 1008, "unauthorized");
    return 0;
}

/* ws_conn.c's sweep, for a console neither closing nor idle: the token,
 * then presence; 0 when the session ended (the close has started). */
static int sweep_console(kf_wsconn_t *b, uint64_t now, uint64_t rx) {
    kf_aws_conn_t *c = (kf_aws_conn_t *)b; /* base is the first member */
    if (!kf_aws_check_auth(c, now - c->last_auth_ms >= kf_aws_cfg.auth_check_ms)) return 0;
    if (rx > c->touched_rx_ms) { /* a pong (or any frame) since the last look: the agent is there */
        c->touched_rx_ms = rx;
        kf_agent_auth_touch(kf_aws_cfg.auth, c->agent.id);
    }
    return 1;
}

static void ref_base(kf_wsconn_t *b) { kf_aws_ref((kf_aws_conn_t *)b); }
static void unref_base(kf_wsconn_t *b) { kf_aws_unref((kf_aws_conn_t *)b); }

kf_aws_settings_t kf_aws_cfg = {
    .ch = {.name = "agent console", .who_key = "agent_id", .bound_after_frame = 1, .sweep_max_ms = SWEEP_MAX_MS,
           .ref = ref_base, .unref = unref_base, .sweep = sweep_console, .stat_names = stat_names,
           .n_stats = KF_AWS_STAT__N},
};

/* This thread's consoles and the timer that sweeps them. */
static __thread kf_wsconn_thread_t T;

static void on_msg(kf_ws_t *ws, const char *data, size_t len, int binary) {
    kf_aws_conn_t *c = kf_ws_data(ws);
    if (kf_ws_closing(ws)) return; /* after our close frame nothing more is answered */
    kf_aws_on_frame(c, data, len, binary);
}

static void on_closed(kf_ws_t *ws) {
    kf_aws_conn_t *c = kf_ws_data(ws);
    kf_wsconn_closed(&c->base);
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
    if (kf_wsconn_open(&kf_aws_cfg.ch, &T, &c->base, r, on_msg, on_closed, c) < 0) {
        free(c);
        return;
    }
    atomic_fetch_add_explicit(&open_consoles, 1, memory_order_relaxed);
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

int kf_routes_agents_ws_register(kf_desk_t *desk, kf_conv_t *conv, kf_agent_auth_t *auth) {
    if (!desk || !conv || !auth) return -1;
    kf_aws_cfg.desk = desk;
    kf_aws_cfg.conv = conv;
    kf_aws_cfg.auth = auth;
    kf_wsconn_channel_t *ch = &kf_aws_cfg.ch;
    ch->max_message = DEFAULT_MAX_MESSAGE;
    ch->max_pending = DEFAULT_MAX_PENDING;
    kf_wsconn_keepalive_from_env(ch, DEFAULT_PING_S, DEFAULT_IDLE_S);
    /* pings often enough that their pongs keep the agent seen (presence) */
    uint64_t hb = (uint64_t)kf_agent_auth_heartbeat_timeout_ms(auth);
    if (hb >= 2000 && ch->ping_ms > hb / 2) ch->ping_ms = hb / 2;
    kf_aws_cfg.auth_check_ms = AUTH_CHECK_MS;
    kf_aws_cfg.queues_min_ms = QUEUES_MIN_MS;
    if (kf_metrics_add_collector(collect, ch) < 0) return -1;
    return kf_router_add(routes, sizeof routes / sizeof routes[0]);
}
