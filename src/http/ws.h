/* ws.h — WebSocket connections on top of h2o's wslay binding.
 *
 * A route handler upgrades its request with kf_ws_upgrade(); the connection
 * is then tracked by its server thread (for the websocket gauge and so a
 * graceful shutdown can close it with 1001 "going away").
 *
 * Sends from inside on_msg are queued and written when it returns, and never
 * free the connection there; a send or close from elsewhere (a timer, an
 * engine completion) may run the close path at once, so on_closed can have
 * run by the time it returns.  A close waits for frames already queued. */
#ifndef KF_HTTP_WS_H
#define KF_HTTP_WS_H

#include <stddef.h>
#include <stdint.h>

#include "http/request.h"

typedef struct kf_ws kf_ws_t;
/* A text or binary message arrived. */
typedef void (*kf_ws_msg_fn)(kf_ws_t *ws, const char *data, size_t len, int binary);
/* The connection is gone; ws is freed after this returns. */
typedef void (*kf_ws_closed_fn)(kf_ws_t *ws);

#define KF_WS_MAX_MESSAGE (1u << 20)

/* Answers 101 and returns the connection, or answers 400 and returns NULL. */
kf_ws_t *kf_ws_upgrade(kf_req_t *r, kf_ws_msg_fn on_msg, kf_ws_closed_fn on_closed, void *ud);
int kf_ws_send_text(kf_ws_t *ws, const char *data, size_t len);
int kf_ws_send_binary(kf_ws_t *ws, const void *data, size_t len);
void kf_ws_close(kf_ws_t *ws, uint16_t code, const char *reason);
/* Queues a ping control frame (the peer's pong counts as traffic). */
int kf_ws_ping(kf_ws_t *ws);
/* Drops the connection without a close handshake (a peer that does not read
 * would never receive one); on_closed runs on a later loop turn. */
void kf_ws_abort(kf_ws_t *ws);
/* Bytes queued and not yet handed to the socket (the slow-reader measure). */
size_t kf_ws_pending(kf_ws_t *ws);
/* kf_loop_now_ms() of the last frame received, control frames included. */
uint64_t kf_ws_last_rx_ms(kf_ws_t *ws);
/* 1 once a close was queued or the connection aborted: sends fail. */
int kf_ws_closing(kf_ws_t *ws);
/* A larger incoming message closes the connection with 1009 (default KF_WS_MAX_MESSAGE). */
void kf_ws_set_max_message(kf_ws_t *ws, size_t max);
void *kf_ws_data(kf_ws_t *ws);
void kf_ws_set_data(kf_ws_t *ws, void *ud);

/* Output batched per loop turn for the calling server thread (see ws.c):
 * with it on, kf_ws_end_turn, called after every turn, writes what each
 * connection's frames of that turn came to in one writev; off, each chunk
 * is written at once. */
void kf_ws_batch_turns(int on);
void kf_ws_end_turn(void);

/* Registers the drain hook (close every WebSocket with 1001); called once at start-up. */
void kf_ws_init(void);

#endif
