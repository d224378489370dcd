/* routes_ws.c — GET /v1/ws, the customer WebSocket channel (see
 * routes_ws.h): the route, each connection's lifetime, the keep-alive sweep
 * and the channel's metrics.  Frames in are handled by ws_chat_in.c, frames
 * out written by ws_chat_out.c (shared state in ws_chat.h).
 *
 * Keep-alive is one timer per server thread walking that thread's chat
 * connections, not a timer per connection: an idle connection then costs a
 * list link and two timestamps, and the sweep is a few microseconds per
 * thousand connections. */
#include "http/routes_ws.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "http/route.h"
#include "http/router.h"
#include "http/ws_chat.h"
#include "loop/loop.h"
#include "obs/metrics.h"

#define DEFAULT_MAX_MESSAGE (8u * 1024)
#define DEFAULT_MAX_PENDING (256u * 1024)
#define DEFAULT_PING_S 25
#define DEFAULT_IDLE_S 60
#define CLOSE_GRACE_MS 5000 /* a peer that never answers our close frame is cut off after this */

kf_wschat_settings_t kf_wschat_cfg;

/* ---- metrics ---- */

static _Atomic uint64_t stats[KF_WSCHAT_STAT__N];

void kf_wschat_count(kf_wschat_stat_t s) { atomic_fetch_add_explicit(&stats[s], 1, memory_order_relaxed); }

static void collect(kf_buf_t *out, void *ud) {
    (void)ud;
    static const char *const names[KF_WSCHAT_STAT__N][2] = {
        {"kefu_ws_chat_frames_in_total", "Frames received from customers on /v1/ws."},
        {"kefu_ws_chat_frames_out_total", "Frames sent to customers on /v1/ws."},
        {"kefu_ws_chat_errors_total", "Error frames sent on /v1/ws."},
        {"kefu_ws_chat_slow_readers_total", "Connections dropped because their unsent output passed the bound."},
        {"kefu_ws_chat_idle_closed_total", "Connections closed after the idle timeout."},
    };
    for (int i = 0; i < KF_WSCHAT_STAT__N; i++)
        kf_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", names[i][0], names[i][1], names[i][0],
                      names[i][0], (unsigned long long)atomic_load_explicit(&stats[i], memory_order_relaxed));
}

/* ---- connection lifetime ---- */

void kf_wschat_ref(kf_wschat_conn_t *c) { c->refs++; }

void kf_wschat_unref(kf_wschat_conn_t *c) {
    if (--c->refs == 0) free(c);
}

/* This thread's chat connections and the timer that keeps them alive. */
static __thread struct {
    h2o_linklist_t conns;
    kf_timer_t timer;
    kf_loop_t *loop;
} T;

static void sweep_one(kf_wschat_conn_t *c, uint64_t now) {
    kf_ws_t *ws = c->ws;
    if (kf_ws_closing(ws)) { /* ours, the drain's 1001, a 1008/1009 */
        if (!c->closing_since_ms) c->closing_since_ms = now;
        else if (now - c->closing_since_ms >= CLOSE_GRACE_MS) kf_ws_abort(ws);
        return;
    }
    uint64_t rx = kf_ws_last_rx_ms(ws);
    if (now - rx >= kf_wschat_cfg.idle_ms) {
        kf_wschat_count(KF_WSCHAT_STAT_IDLE_CLOSED);
        kf_ws_close(ws, 1001, "idle timeout");
        return;
    }
    uint64_t since = rx > c->last_ping_ms ? rx : c->last_ping_ms;
    if (now - since >= kf_wschat_cfg.ping_ms) {
        c->last_ping_ms = now;
        kf_ws_ping(ws);
    }
}

static uint64_t sweep_interval(void) {
    uint64_t m = kf_wschat_cfg.ping_ms < kf_wschat_cfg.idle_ms ? kf_wschat_cfg.ping_ms : kf_wschat_cfg.idle_ms;
    m /= 4;
    return m < 100 ? 100 : m > 5000 ? 5000 : m;
}

static void on_sweep(kf_timer_t *t) {
    uint64_t now = kf_loop_now_ms();
    for (h2o_linklist_t *l = T.conns.next, *next; l != &T.conns; l = next) {
        kf_wschat_conn_t *c = H2O_STRUCT_FROM_MEMBER(kf_wschat_conn_t, link, l);
        /* a ping or close can run h2o's close path at once, unlinking and
         * releasing c (and only c) */
        next = l->next;
        kf_wschat_ref(c);
        sweep_one(c, now);
        kf_wschat_unref(c);
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
    kf_wschat_conn_t *c = kf_ws_data(ws);
    if (kf_ws_closing(ws)) return; /* after our close frame nothing more is answered */
    kf_wschat_on_frame(c, data, len, binary);
}

static void on_closed(kf_ws_t *ws) {
    kf_wschat_conn_t *c = kf_ws_data(ws);
    h2o_linklist_unlink(&c->link);
    c->ws = NULL;
    kf_wschat_unsubscribe(c); /* on this loop, so no event reaches c after this */
    kf_wschat_unref(c);
}

static void chat(kf_req_t *r) {
    kf_wschat_conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        kf_http_send_error(r, 503, "Service Unavailable: out of memory");
        return;
    }
    c->refs = 1; /* the socket's */
    c->ws = kf_ws_upgrade(r, on_msg, on_closed, c);
    if (!c->ws) {
        free(c);
        return;
    }
    kf_ws_set_max_message(c->ws, kf_wschat_cfg.max_message);
    thread_start();
    h2o_linklist_insert(&T.conns, &c->link);
}

/* ---- registration ---- */

static const kf_response_t chat_res[] = {{101, "Switching to the WebSocket protocol", NULL, NULL},
                                         {400, "Not a WebSocket handshake", NULL, NULL}, {0}};

static const kf_route_t ws_routes[] = {
    {.method = "GET", .path = "/v1/ws", .operation_id = "customerChat", .summary = "Customer chat (WebSocket)",
     .description =
         "JSON text frames with a \"type\". Client: hello {conversation_id?, resume_after_seq?, profile?} (first), "
         "message {text, client_msg_id}, typing {on}, rate {csat, comment?}, resume {after_seq}, ping. "
         "Server: welcome {conversation_id, last_seq, resumed}, ack {client_msg_id, seq, duplicate} (after commit), "
         "message {seq, from, text, quick_replies, created_at, client_msg_id?}, handoff {skill}, rated {csat}, "
         "ended {status}, pong, error {code, message, client_msg_id?}. A resent client_msg_id is acked again "
         "(duplicate: true) without its replies. Close codes: 1008 first frame not a hello, 1009 message over "
         "8 KiB, 1001 idle or shutting down; a client that stops reading is dropped.",
     .tag = "conversations", .responses = chat_res, .handler = chat, .flags = KF_ROUTE_WEBSOCKET},
};

static uint64_t env_seconds(const char *name, int dflt) {
    const char *v = getenv(name);
    char *end;
    long s = v ? strtol(v, &end, 10) : 0;
    if (!v || *v == 0 || *end != 0 || s <= 0 || s > 86400) s = dflt;
    return (uint64_t)s * 1000;
}

int kf_routes_ws_register(kf_conv_t *conv, const kf_routes_ws_config_t *cfg) {
    kf_routes_ws_config_t d = {0};
    if (!cfg) cfg = &d;
    kf_wschat_cfg.conv = conv;
    kf_wschat_cfg.max_message = cfg->max_message ? cfg->max_message : DEFAULT_MAX_MESSAGE;
    kf_wschat_cfg.max_pending = cfg->max_pending ? cfg->max_pending : DEFAULT_MAX_PENDING;
    kf_wschat_cfg.ping_ms = env_seconds("KEFU_WS_PING_INTERVAL", cfg->ping_interval_s ? cfg->ping_interval_s : DEFAULT_PING_S);
    kf_wschat_cfg.idle_ms = env_seconds("KEFU_WS_IDLE_TIMEOUT", cfg->idle_timeout_s ? cfg->idle_timeout_s : DEFAULT_IDLE_S);
    if (kf_metrics_add_collector(collect, NULL) < 0) return -1;
    return kf_router_add(ws_routes, sizeof ws_routes / sizeof ws_routes[0]);
}
