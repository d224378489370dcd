/* ws_chat.h — internals of the customer WebSocket channel (GET /v1/ws),
 * shared by its three files:
 *   routes_ws.c      the route, connection lifetime, settings, metrics
 *   ws_chat_in.c     client frames in: parse, validate, call the engine, completions
 *   ws_chat_out.c    server frames out: JSON writers, replay, slow-reader bound
 *   ws_chat_events.c the conversation's events (agent and system messages,
 *                    queue positions, an agent's close) pushed to the customer
 *
 * Everything about one connection happens on the server thread that accepted
 * it (engine completions are posted back to that thread's loop), so the
 * per-connection state needs no locks.  It does need a reference count: the
 * socket and every engine call in flight each hold one, so a completion that
 * arrives after the customer went away finds c->base.ws == NULL and is dropped.
 * The keep-alive sweep, the send path's slow-reader bound and the counters
 * are ws_conn.h's, shared with the agent console channel. */
#ifndef KF_HTTP_WS_CHAT_H
#define KF_HTTP_WS_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "engine/conv.h"
#include "http/ws_conn.h"
#include "util/buf.h"

typedef enum {
    KF_WSCHAT_FIRST = 0,  /* nothing received yet: the frame must be a hello */
    KF_WSCHAT_NEED_HELLO, /* a hello failed (not found, invalid): another may follow */
    KF_WSCHAT_CREATING,   /* kf_conv_create in flight */
    KF_WSCHAT_OPEN,
    KF_WSCHAT_ENDED,      /* closed or expired: only rate is still accepted */
} kf_wschat_state_t;

/* Kept small on purpose: ten thousand idle customers hold one each. */
typedef struct kf_wschat_conn {
    kf_wsconn_t base;          /* the socket (NULL once gone), the thread's list, keep-alive */
    int64_t seen_seq;          /* the client has every message up to this seq */
    uint32_t refs;
    uint16_t inflight;         /* engine calls not yet completed */
    uint8_t state;             /* kf_wschat_state_t */
    uint8_t ended_sent;
    uint16_t pongs_owed;       /* pings answered once the engine calls before them complete */
    char conv_id[KF_HISTORY_ID_LEN + 1];
    struct kf_bus_sub *sub;    /* conv:<id> on the EventBus, from hello until the socket closes */
} kf_wschat_conn_t;

typedef struct {
    kf_wsconn_channel_t ch;   /* limits, keep-alive timing, counters */
    kf_conv_t *conv;
} kf_wschat_settings_t;

extern kf_wschat_settings_t kf_wschat_cfg;

#define KF_WSCHAT_MAX_INFLIGHT KF_CONV_MAX_PENDING

void kf_wschat_ref(kf_wschat_conn_t *c);
void kf_wschat_unref(kf_wschat_conn_t *c);

/* routes_ws.c → ws_chat_in.c: one client message. */
void kf_wschat_on_frame(kf_wschat_conn_t *c, const char *data, size_t len, int binary);

/* ws_chat_events.c: follow c->conv_id's events (after a hello succeeded;
 * a second call does nothing) and stop (the close path, on this loop). */
void kf_wschat_subscribe(kf_wschat_conn_t *c);
void kf_wschat_unsubscribe(kf_wschat_conn_t *c);

/* ws_chat_out.c.  Every sender returns 0, or -1 when the connection is gone,
 * closing, or has just been dropped as a slow reader (stop sending then). */
int kf_wschat_send(kf_wschat_conn_t *c, kf_buf_t *b);
int kf_wschat_send_error(kf_wschat_conn_t *c, const char *code, const char *message, const char *client_msg_id);
int kf_wschat_send_welcome(kf_wschat_conn_t *c, int64_t last_seq, int resumed);
/* A reply frame; one the client already has (seq <= seen_seq) is skipped. */
int kf_wschat_send_reply(kf_wschat_conn_t *c, const kf_conv_msg_t *m);
int kf_wschat_send_ack(kf_wschat_conn_t *c, const char *client_msg_id, int64_t seq, int duplicate);
int kf_wschat_send_handoff(kf_wschat_conn_t *c, const char *skill);
int kf_wschat_send_rated(kf_wschat_conn_t *c, int csat);
int kf_wschat_send_pong(kf_wschat_conn_t *c);
/* Sends `ended` once per connection and moves it to KF_WSCHAT_ENDED. */
int kf_wschat_send_ended(kf_wschat_conn_t *c, const char *status);
/* Every stored message with seq > after_seq as a message frame.  On a
 * storage failure it sends an internal error itself. */
int kf_wschat_replay(kf_wschat_conn_t *c, int64_t after_seq);

#endif
