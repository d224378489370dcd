/* ws.c — WebSocket connections (see ws.h).
 *
 * Sends made while a message callback runs only queue the frame: the
 * h2o_websocket_proceed() that is delivering the message loops until nothing
 * is left to write, so re-entering it from inside wslay's receive path (which
 * could also close and free the connection under the caller) is avoided.
 *
 * Output is ours, not h2o's: h2o 2.2's wslay send callback writes each chunk
 * wslay hands it (a frame's header, then its payload) as its own socket write
 * and refuses the next until that write's completion runs in a later loop
 * turn, so a chat turn's ack, reply and pong took six turns and six writev
 * calls.  Our send callback appends the chunks to a per-connection buffer
 * instead, and the end of the loop turn writes each buffer in one writev
 * (kf_ws_end_turn); the buffer is freed once written, so an idle connection
 * holds none. */
#include "http/ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <h2o/websocket.h>

#include <sys/socket.h>

#include "http/server.h"

/* A close waiting for queued frames to leave first (see kf_ws_close). */
typedef struct {
    kf_timer_t timer;
    kf_loop_t *loop;
    kf_ws_t *ws;
    uint16_t code;
    char reason[64];
} deferred_close_t;

struct kf_ws {
    h2o_websocket_conn_t *conn;
    struct kf_http_thread *thread;
    h2o_linklist_t link;
    kf_ws_msg_fn on_msg;
    kf_ws_closed_fn on_closed;
    void *ud;
    uint64_t last_rx_ms;
    deferred_close_t *deferred;
    int closing;
    int in_cb;
    /* output: chunks appended by send_chunk, written at the turn's end */
    char *out;
    size_t out_len, out_cap;
    int writing;               /* out is being written: nothing is appended */
    int batched;               /* on this thread's list of buffers to write */
    h2o_linklist_t batch_link;
};

/* Buffers with frames to write at the end of this thread's loop turn; with
 * batching off (kf_ws_batch_turns), each chunk is written at once. */
static __thread struct {
    int on;
    h2o_linklist_t pending;
} BT;

void kf_ws_batch_turns(int on) {
    if (!BT.pending.next) h2o_linklist_init_anchor(&BT.pending);
    BT.on = on;
}

static void on_written(h2o_socket_t *sock, const char *err);

static void drop_output(kf_ws_t *ws) {
    if (ws->batched) h2o_linklist_unlink(&ws->batch_link);
    ws->batched = 0;
    free(ws->out);
    ws->out = NULL;
    ws->out_len = ws->out_cap = 0;
}

/* Writes what the socket takes at once itself: through h2o, even a write
 * that completes at once leaves the socket "writing" until h2o's next turn,
 * and h2o adds EPOLLOUT for it and takes it away again, two epoll_ctl calls
 * per chat turn (~4% of an event loop).  What is left (a full socket buffer),
 * and everything on a TLS socket, goes through h2o_socket_write. */
static size_t write_now(h2o_socket_t *sock, const char *p, size_t len) {
    if (sock->ssl) return 0;
    ssize_t n;
    while ((n = write(h2o_socket_get_fd(sock), p, len)) < 0 && errno == EINTR) {
    }
    return n > 0 ? (size_t)n : 0; /* errors: h2o's write meets them again and closes */
}

static void write_out(kf_ws_t *ws) {
    if (ws->writing || !ws->out_len || !ws->conn->sock) return;
    size_t done = write_now(ws->conn->sock, ws->out, ws->out_len);
    if (done == ws->out_len) {
        drop_output(ws); /* an idle connection holds no buffer */
        return;
    }
    h2o_iovec_t buf = h2o_iovec_init(ws->out + done, ws->out_len - done);
    ws->writing = 1;
    h2o_socket_write(ws->conn->sock, &buf, 1, on_written);
}

void kf_ws_end_turn(void) {
    while (BT.on && !h2o_linklist_is_empty(&BT.pending)) {
        kf_ws_t *ws = H2O_STRUCT_FROM_MEMBER(kf_ws_t, batch_link, BT.pending.next);
        h2o_linklist_unlink(&ws->batch_link);
        ws->batched = 0;
        write_out(ws);
    }
}

/* wslay's send callback (replacing h2o's; its user data is h2o's conn). */
static ssize_t send_chunk(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user) {
    (void)flags;
    kf_ws_t *ws = ((h2o_websocket_conn_t *)user)->data;
    if (ws->writing || !ws->conn->sock) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (ws->out_len + len > ws->out_cap) {
        size_t cap = ws->out_cap ? ws->out_cap : 2048; /* a chat turn's ack, reply and pong in one allocation */
        while (cap < ws->out_len + len) cap *= 2;
        char *p = realloc(ws->out, cap);
        if (!p) {
            wslay_event_set_error(ctx, WSLAY_ERR_NOMEM);
            return -1;
        }
        ws->out = p;
        ws->out_cap = cap;
    }
    memcpy(ws->out + ws->out_len, data, len);
    ws->out_len += len;
    /* Once the peer's close has arrived (wslay reads no more), h2o's proceed
     * closes the socket as soon as nothing is being written: what is
     * buffered must be on its way by then, so it goes now. */
    if (!BT.on || !wslay_event_want_read(ctx)) {
        write_out(ws);
    } else if (!ws->batched) {
        ws->batched = 1;
        h2o_linklist_insert(&BT.pending, &ws->batch_link);
    }
    return (ssize_t)len;
}

/* The buffer left (h2o keeps pointing into it until then); what wslay still
 * holds goes into a new one.  proceed may close and free ws: not touched after. */
static void on_written(h2o_socket_t *sock, const char *err) {
    h2o_websocket_conn_t *conn = sock->data;
    kf_ws_t *ws = conn->data;
    ws->writing = 0;
    free(ws->out);
    ws->out = NULL;
    ws->out_len = ws->out_cap = 0;
    if (err) {
        conn->cb(conn, NULL); /* h2o's own close path on a failed write */
        return;
    }
    h2o_websocket_proceed(conn);
}

static void on_ws_message(h2o_websocket_conn_t *conn, const struct wslay_event_on_msg_recv_arg *arg) {
    kf_ws_t *ws = conn->data;
    ws->last_rx_ms = kf_loop_now_ms();
    if (arg == NULL) {
        if (ws->deferred) {
            kf_timer_stop(ws->deferred->loop, &ws->deferred->timer);
            free(ws->deferred);
        }
        h2o_linklist_unlink(&ws->link);
        kf_metrics_conn_add(ws->thread->metrics, KF_CONN_WEBSOCKET, -1);
        if (ws->on_closed) ws->on_closed(ws);
        h2o_websocket_close(conn); /* closes the socket: a write in flight is dropped */
        drop_output(ws);
        free(ws);
        return;
    }
    if (wslay_is_ctrl_frame(arg->opcode)) return;
    if (!ws->on_msg) return;
    ws->in_cb = 1;
    ws->on_msg(ws, (const char *)arg->msg, arg->msg_length, arg->opcode == WSLAY_BINARY_FRAME);
    ws->in_cb = 0;
}

/* Writes what is queued, unless the proceed that runs the current message
 * callback will do it once the callback returns, or the 101 is still being
 * written: h2o gives the connection its socket only then (conn->sock is NULL
 * until), and its completion runs a proceed that writes what was queued, so
 * a route may send its first frames right after kf_ws_upgrade. */
static void proceed(kf_ws_t *ws) {
    if (!ws->in_cb && ws->conn->sock) h2o_websocket_proceed(ws->conn);
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
    ws->last_rx_ms = kf_loop_now_ms();
    h2o_add_header_by_str(&r->h2o->pool, &r->h2o->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, r->request_id,
                          strlen(r->request_id));
    kf_http_record_status(r, 101);
    ws->conn = h2o_upgrade_to_websocket(r->h2o, key, ws, on_ws_message);
    ws->conn->ws_callbacks.send_callback = send_chunk;
    wslay_event_config_set_callbacks(ws->conn->ws_ctx, &ws->conn->ws_callbacks);
    wslay_event_config_set_max_recv_msg_length(ws->conn->ws_ctx, KF_WS_MAX_MESSAGE);
    h2o_linklist_insert(&ws->thread->websockets, &ws->link);
    kf_metrics_conn_add(ws->thread->metrics, KF_CONN_WEBSOCKET, 1);
    return ws;
}

static int send_msg(kf_ws_t *ws, uint8_t opcode, const char *data, size_t len) {
    if (ws->closing) return -1;
    struct wslay_event_msg msg = {opcode, (const uint8_t *)data, len};
    if (wslay_event_queue_msg(ws->conn->ws_ctx, &msg) != 0) return -1;
    proceed(ws);
    return 0;
}

int kf_ws_send_text(kf_ws_t *ws, const char *data, size_t len) { return send_msg(ws, WSLAY_TEXT_FRAME, data, len); }
int kf_ws_send_binary(kf_ws_t *ws, const void *data, size_t len) { return send_msg(ws, WSLAY_BINARY_FRAME, data, len); }

static void queue_close(kf_ws_t *ws, uint16_t code, const char *reason) {
    wslay_event_queue_close(ws->conn->ws_ctx, code, (const uint8_t *)reason, reason ? strlen(reason) : 0);
    proceed(ws);
}

#define DEFER_POLL_MS 5

static void on_deferred_close(kf_timer_t *t) {
    deferred_close_t *d = t->data;
    kf_ws_t *ws = d->ws;
    if (wslay_event_get_queued_msg_count(ws->conn->ws_ctx) > 0) {
        kf_timer_start(d->loop, t, DEFER_POLL_MS, on_deferred_close);
        return;
    }
    ws->deferred = NULL;
    queue_close(ws, d->code, d->reason); /* may free ws */
    free(d);
}

/* wslay sends control frames ahead of queued data frames, so a close queued
 * right after an error message would overtake it; while data frames are
 * queued the close waits for them (a peer that never reads them is cut off
 * by its owner's timeout via kf_ws_abort). */
void kf_ws_close(kf_ws_t *ws, uint16_t code, const char *reason) {
    if (ws->closing) return;
    ws->closing = 1;
    kf_loop_t *loop = kf_loop_current();
    deferred_close_t *d = NULL;
    if (loop && wslay_event_get_queued_msg_count(ws->conn->ws_ctx) > 0 && (d = calloc(1, sizeof *d))) {
        *d = (deferred_close_t){.loop = loop, .ws = ws, .code = code};
        snprintf(d->reason, sizeof d->reason, "%s", reason ? reason : "");
        d->timer.data = d;
        ws->deferred = d;
        kf_timer_start(loop, &d->timer, 0, on_deferred_close);
        return;
    }
    queue_close(ws, code, reason);
}

int kf_ws_ping(kf_ws_t *ws) { return send_msg(ws, WSLAY_PING, "", 0); }

/* Shutting the socket down (instead of freeing it here) lets h2o notice EOF
 * or EPIPE on its next turn and run the ordinary close path, so this is safe
 * from inside a callback and while a write is stuck on a full socket. */
void kf_ws_abort(kf_ws_t *ws) {
    ws->closing = 1;
    if (ws->conn->sock) shutdown(h2o_socket_get_fd(ws->conn->sock), SHUT_RDWR);
}

size_t kf_ws_pending(kf_ws_t *ws) { return wslay_event_get_queued_msg_length(ws->conn->ws_ctx) + ws->out_len; }
uint64_t kf_ws_last_rx_ms(kf_ws_t *ws) { return ws->last_rx_ms; }
int kf_ws_closing(kf_ws_t *ws) { return ws->closing; }

void kf_ws_set_max_message(kf_ws_t *ws, size_t max) {
    wslay_event_config_set_max_recv_msg_length(ws->conn->ws_ctx, max);
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
