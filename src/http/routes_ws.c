/* routes_ws.c — GET /v1/ws, the customer WebSocket channel (see
 * routes_ws.h): the route, each connection's lifetime, the settings and the
 * channel's metrics.  Frames in are handled by ws_chat_in.c, frames out
 * written by ws_chat_out.c (shared state in ws_chat.h); the keep-alive sweep
 * and the slow-reader bound are ws_conn.c's, as for the agent consoles. */
#include "http/routes_ws.h"

#include <stdlib.h>

#include "http/route.h"
#include "http/router.h"
#include "http/ws_chat.h"
#include "obs/metrics.h"

#define DEFAULT_MAX_MESSAGE (8u * 1024)
#define DEFAULT_MAX_PENDING (256u * 1024)
#define DEFAULT_PING_S 25
#define DEFAULT_IDLE_S 60
#define SWEEP_MAX_MS 5000

static const char *const stat_names[KF_WSCONN_STAT__N][2] = {
    {"kefu_ws_chat_frames_in_total", "Frames received from customers on /v1/ws."},
    {"kefu_ws_chat_frames_out_total", "Frames sent to customers on /v1/ws."},
    {"kefu_ws_chat_errors_total", "Error frames sent on /v1/ws."},
    {"kefu_ws_chat_slow_readers_total", "Connections dropped because their unsent output passed the bound."},
    {"kefu_ws_chat_idle_closed_total", "Connections closed after the idle timeout."},
};

/* ---- connection lifetime ---- */

void kf_wschat_ref(kf_wschat_conn_t *c) { c->refs++; }

void kf_wschat_unref(kf_wschat_conn_t *c) {
    if (--c->refs == 0) free(c);
}

/* base is the first member */
static void ref_base(kf_wsconn_t *b) { kf_wschat_ref((kf_wschat_conn_t *)b); }
static void unref_base(kf_wsconn_t *b) { kf_wschat_unref((kf_wschat_conn_t *)b); }

kf_wschat_settings_t kf_wschat_cfg = {
    .ch = {.name = "websocket chat", .who_key = "conversation_id", .sweep_max_ms = SWEEP_MAX_MS, .ref = ref_base,
           .unref = unref_base, .stat_names = stat_names, .n_stats = KF_WSCONN_STAT__N},
};

/* This thread's chat connections and the timer that keeps them alive. */
static __thread kf_wsconn_thread_t T;

static void on_msg(kf_ws_t *ws, const char *data, size_t len, int binary) {
    kf_wschat_conn_t *c = kf_ws_data(ws);
    if (kf_ws_closing(ws)) return; /* after our close frame nothing more is answered */
    kf_wschat_on_frame(c, data, len, binary);
}

static void on_closed(kf_ws_t *ws) {
    kf_wschat_conn_t *c = kf_ws_data(ws);
    kf_wsconn_closed(&c->base);
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
    if (kf_wsconn_open(&kf_wschat_cfg.ch, &T, &c->base, r, on_msg, on_closed, c) < 0) free(c);
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

int kf_routes_ws_register(kf_conv_t *conv, const kf_routes_ws_config_t *cfg) {
    kf_routes_ws_config_t d = {0};
    if (!cfg) cfg = &d;
    kf_wsconn_channel_t *ch = &kf_wschat_cfg.ch;
    kf_wschat_cfg.conv = conv;
    ch->max_message = cfg->max_message ? cfg->max_message : DEFAULT_MAX_MESSAGE;
    ch->max_pending = cfg->max_pending ? cfg->max_pending : DEFAULT_MAX_PENDING;
    kf_wsconn_keepalive_from_env(ch, cfg->ping_interval_s ? cfg->ping_interval_s : DEFAULT_PING_S,
                                 cfg->idle_timeout_s ? cfg->idle_timeout_s : DEFAULT_IDLE_S);
    if (kf_metrics_add_collector(kf_wsconn_collect, ch) < 0) return -1;
    return kf_router_add(ws_routes, sizeof ws_routes / sizeof ws_routes[0]);
}
