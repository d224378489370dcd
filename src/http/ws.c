/* ws.c — WebSocket connections (see ws.h). */
#include "http/ws.h"

#include <stdlib.h>
#include <string.h>

#include <h2o/websocket.h>

#include "http/server.h"

struct kf_ws {
    h2o_websocket_conn_t *conn;
    struct kf_http_thread *thread;
    h2o_linklist_t link;
    kf_ws_msg_fn on_msg;
    kf_ws_closed_fn on_closed;
    void *ud;
    int closing;
};

static void on_ws_message(h2o_websocket_conn_t *conn, const struct wslay_event_on_msg_recv_arg *arg) {
    kf_ws_t *ws = conn->data;
    if (arg == NULL) {
        h2o_linklist_unlink(&ws->link);
        kf_metrics_conn_add(ws->thread->metrics, KF_CONN_WEBSOCKET, -1);
        if (ws->on_closed) ws->on_closed(ws);
        h2o_websocket_close(conn);
        free(ws);
        return;
    }
    if (wslay_is_ctrl_frame(arg->opcode)) return;
    if (ws->on_msg) ws->on_msg(ws, (const char *)arg->msg, arg->msg_length, arg->opcode == WSLAY_BINARY_FRAME);
}

kf_ws_t *kf_ws_upgrade(kf_req_t *r, kf_ws_msg_fn on_msg, kf_ws_closed_fn on_closed, void *ud) {
    const char *key;
    if (h2o_is_websocket_handshake(r->h2o, &key) != 0 || key == NULL) {
        kf_http_send_error(r, 400, "Bad Request: this endpoint needs a WebSocket upgrade over HTTP/1.1");
        return NULL;
    }
    kf_ws_t *ws = calloc(1, sizeof *ws);
    if (!ws) {
        kf_http_send_error(r, 503, "Service Unavailable: out of memory");
        return NULL;
    }
    ws->thread = r->thread;
    ws->on_msg = on_msg;
    ws->on_closed = on_closed;
    ws->ud = ud;
    h2o_add_header_by_str(&r->h2o->pool, &r->h2o->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, r->request_id,
                          strlen(r->request_id));
    kf_http_record_status(r, 101);
    ws->conn = h2o_upgrade_to_websocket(r->h2o, key, ws, on_ws_message);
    wslay_event_config_set_max_recv_msg_length(ws->conn->ws_ctx, KF_WS_MAX_MESSAGE);
    h2o_linklist_insert(&ws->thread->websockets, &ws->link);
    kf_metrics_conn_add(ws->thread->metrics, KF_CONN_WEBSOCKET, 1);
    return ws;
}

static int send_msg(kf_ws_t *ws, uint8_t opcode, const char *data, size_t len) {
    if (ws->closing) return -1;
    struct wslay_event_msg msg = {opcode, (const uint8_t *)data, len};
    if (wslay_event_queue_msg(ws->conn->ws_ctx, &msg) != 0) return -1;
    h2o_websocket_proceed(ws->conn);
    return 0;
}

int kf_ws_send_text(kf_ws_t *ws, const char *data, size_t len) { return send_msg(ws, WSLAY_TEXT_FRAME, data, len); }
int kf_ws_send_binary(kf_ws_t *ws, const void *data, size_t len) { return send_msg(ws, WSLAY_BINARY_FRAME, data, len); }

void kf_ws_close(kf_ws_t *ws, uint16_t code, const char *reason) {
    if (ws->closing) return;
    ws->closing = 1;
    wslay_event_queue_close(ws->conn->ws_ctx, code, (const uint8_t *)reason, reason ? strlen(reason) : 0);
    h2o_websocket_proceed(ws->conn);
}

void *kf_ws_data(kf_ws_t *ws) { return ws->ud; }
void kf_ws_set_data(kf_ws_t *ws, void *ud) { ws->ud = ud; }

static void close_all(struct kf_http_thread *t) {
    for (h2o_linklist_t *l = t->websockets.next, *next; l != &t->websockets; l = next) {
        next = l->next;
        kf_ws_close(H2O_STRUCT_FROM_MEMBER(kf_ws_t, link, l), 1001, "server shutting down");
    }
}

void kf_ws_init(void) { kf_http_on_drain(close_all); }
