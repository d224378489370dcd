/* ws.h — WebSocket connections on top of h2o's wslay binding.
 *
 * A route handler upgrades its request with kf_ws_upgrade(); the connection
 * is then tracked by its server thread (for the websocket gauge and so a
 * graceful shutdown can close it with 1001 "going away"). */
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
void *kf_ws_data(kf_ws_t *ws);
void kf_ws_set_data(kf_ws_t *ws, void *ud);

/* Registers the drain hook (close every WebSocket with 1001); called once at start-up. */
void kf_ws_init(void);

#endif
