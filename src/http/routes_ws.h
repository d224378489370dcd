/* routes_ws.h — the customer WebSocket channel, GET /v1/ws: JSON frames in
 * and out over one connection per customer, on top of the conversation
 * engine (engine/conv.h).  The protocol is described in README.md and in the
 * route's OpenAPI description (routes_ws.c). */
#ifndef KF_HTTP_ROUTES_WS_H
#define KF_HTTP_ROUTES_WS_H

#include <stddef.h>

typedef struct kf_conv kf_conv_t;

typedef struct {
    size_t max_message;    /* bytes of one client message; 0 = 8 KiB (larger: close 1009) */
    size_t max_pending;    /* unsent bytes to one client before it is dropped; 0 = 256 KiB */
    int ping_interval_s;   /* WS ping after this many seconds without traffic; 0 = 25 */
    int idle_timeout_s;    /* close after this many seconds without traffic; 0 = 60 */
} kf_routes_ws_config_t;

/* Registers GET /v1/ws.  conv must outlive the server.  cfg may be NULL
 * (defaults); KEFU_WS_PING_INTERVAL and KEFU_WS_IDLE_TIMEOUT (seconds) in
 * the environment override the keep-alive timing, for tests and tuning. */
int kf_routes_ws_register(kf_conv_t *conv, const kf_routes_ws_config_t *cfg);

#endif
