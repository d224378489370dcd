/* agents_ws.h — internals of the agent console WebSocket (GET /v1/agents/ws),
 * shared by its four files:
 *   routes_agents_ws.c  the route (auth before the upgrade), connection
 *                       lifetime, the sweep's token re-check and presence,
 *                       settings and metrics
 *   agents_ws_in.c      client frames in: parse, validate, who may act, call
 *                       the desk (engine/desk.h) or the engine (engine/conv.h)
 *   agents_ws_out.c     server frames out: JSON writers, the slow-reader bound
 *   agents_ws_events.c  the bus: agent:<id>, agents and conv:<id> of every
 *                       conversation assigned to the agent, turned into frames
 *
 * As in the customer channel (ws_chat.h) everything about one connection
 * happens on the server thread that accepted it: engine completions and bus
 * events are delivered to that thread's loop, so the state needs no locks.
 * The socket and every engine call in flight each hold a reference, so a
 * completion arriving after the console went away finds c->base.ws == NULL
 * and is dropped.  The per-thread list, keep-alive sweep, slow-reader bound
 * and counters are ws_conn.h's, shared with the customer channel. */
#ifndef KF_HTTP_AGENTS_WS_H
#define KF_HTTP_AGENTS_WS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <h2o.h>

#include "engine/desk.h"
#include "http/ws_conn.h"
#include "loop/loop.h"
#include "util/buf.h"

#define KF_AWS_MAX_REF 64 /* characters of a client frame's "ref" */
#define KF_AWS_MAX_INFLIGHT 32

/* Why a conversation stopped being this agent's (the `released` reasons). */
typedef enum {
    KF_AWS_GONE_NONE = 0,
    KF_AWS_GONE_CLOSED,
    KF_AWS_GONE_HANDED_BACK,
    KF_AWS_GONE_TRANSFERRED,
    KF_AWS_GONE_ENDED,
} kf_aws_gone_t;

/* A conversation this connection knows about: assigned to the agent,
 * offered to it, or being accepted.  The entry goes when no flag is left. */
typedef struct {
    char id[KF_HISTORY_ID_LEN + 1];
    struct kf_bus_sub *sub; /* conv:<id> while held */
    uint8_t held;           /* assigned to this agent and announced (assigned frame sent) */
    uint8_t offered;        /* an offer event came and was neither withdrawn nor answered */
    uint8_t accepting;      /* accept calls in flight from this connection */
    uint8_t early;          /* its "assigned" event came while an accept was in flight */
    uint8_t gone;           /* kf_aws_gone_t: a released event held back (accepting or acting) */
    uint8_t acting;         /* this connection's close/handback/transfer in flight: its
                             * completion sends `ok` then `released`, in that order */
} kf_aws_conv_t;

/* A pong owed once the engine calls before its ping complete (the pong is a
 * barrier, as in the customer channel), with the ping's ref. */
typedef struct kf_aws_pong {
    struct kf_aws_pong *next;
    char ref[];
} kf_aws_pong_t;

typedef struct kf_aws_conn {
    kf_wsconn_t base;         /* the socket (NULL once gone), the thread's list, keep-alive */
    uint64_t last_auth_ms;    /* last full token + account check */
    uint64_t touched_rx_ms;   /* kf_ws_last_rx_ms when the agent was last marked seen */
    uint64_t last_queues_ms;  /* when the last queues frame went out */
    int64_t token_expires_ms; /* wall clock */
    uint32_t refs;
    uint16_t inflight;
    uint16_t pongs_owed;
    kf_aws_pong_t *pongs, **pongs_tail; /* pongs_owed of them, oldest first */
    uint8_t attached;         /* kf_desk_attach succeeded: detach on close */
    uint8_t queues_due;       /* a queues frame is scheduled (queues_timer) */
    kf_agent_t agent;
    char token[KF_AGENT_TOKEN_LEN + 1];
    struct kf_bus_sub *agent_sub;  /* agent:<id> */
    struct kf_bus_sub *agents_sub; /* agents */
    kf_aws_conv_t *convs;
    size_t n_convs, cap_convs;
    kf_timer_t queues_timer;  /* the coalesced queues frame */
    kf_loop_t *loop;
} kf_aws_conn_t;

typedef struct {
    kf_wsconn_channel_t ch;   /* limits, keep-alive timing, counters */
    kf_desk_t *desk;
    kf_conv_t *conv;
    kf_agent_auth_t *auth;
    uint64_t auth_check_ms;   /* full token/account re-check period */
    uint64_t queues_min_ms;   /* at most one queues frame per this */
} kf_aws_settings_t;

extern kf_aws_settings_t kf_aws_cfg;

/* Counters: ws_conn.h's kf_wsconn_stat_t, and this channel's own. */
#define KF_AWS_STAT_UNAUTHORIZED KF_WSCONN_STAT__N
#define KF_AWS_STAT__N (KF_WSCONN_STAT__N + 1)

void kf_aws_ref(kf_aws_conn_t *c);
void kf_aws_unref(kf_aws_conn_t *c);

/* routes_agents_ws.c: 1 when the token and the account are still good
 * (re-read from the AgentStore); else it sent `unauthorized`, started the
 * 1008 close and returns 0.  full = 0 only checks the expiry time. */
int kf_aws_check_auth(kf_aws_conn_t *c, int full);

/* agents_ws_in.c: one client message. */
void kf_aws_on_frame(kf_aws_conn_t *c, const char *data, size_t len, int binary);

/* ---- conversations this connection follows (agents_ws_events.c) ---- */

kf_aws_conv_t *kf_aws_conv_find(kf_aws_conn_t *c, const char *id);
/* Found or added (NULL: out of memory). */
kf_aws_conv_t *kf_aws_conv_get(kf_aws_conn_t *c, const char *id);
/* Drops the entry when no flag is left (unsubscribing when it was held). */
void kf_aws_conv_settle(kf_aws_conn_t *c, kf_aws_conv_t *e);
/* Marks it held and follows conv:<id>; with announce, sends `assigned`
 * (the desk's item) with ref.  Nothing is subscribed once the socket is gone. */
int kf_aws_conv_hold(kf_aws_conn_t *c, kf_aws_conv_t *e, const char *ref, int announce);
/* No longer this agent's: stops following it and sends `released`. */
int kf_aws_conv_release(kf_aws_conn_t *c, kf_aws_conv_t *e, kf_aws_gone_t why);
const char *kf_aws_gone_name(kf_aws_gone_t g);

/* Follows agent:<id> and agents; at open, before the welcome. */
void kf_aws_subscribe(kf_aws_conn_t *c);
/* Every subscription off (the close path, on this loop). */
void kf_aws_unsubscribe_all(kf_aws_conn_t *c);
/* A queues frame now, or at the end of the coalescing window. */
void kf_aws_queues_soon(kf_aws_conn_t *c);

/* ---- frames out (agents_ws_out.c): 0, or -1 when the connection is gone,
 * closing, or was just dropped as a slow reader (stop sending then) ---- */

int kf_aws_send(kf_aws_conn_t *c, kf_buf_t *b);
int kf_aws_send_raw(kf_aws_conn_t *c, const char *json, size_t len);
/* {"type":type,"ref"?:ref, ...body's members} (takes body; NULL = none). */
int kf_aws_send_json(kf_aws_conn_t *c, const char *type, const char *ref, cJSON *body);
int kf_aws_send_error(kf_aws_conn_t *c, const char *code, const char *message, const char *ref);
int kf_aws_send_ok(kf_aws_conn_t *c, const char *ref, int64_t seq); /* seq < 0: none */
int kf_aws_send_pong(kf_aws_conn_t *c, const char *ref);
int kf_aws_send_status(kf_aws_conn_t *c, const char *ref, kf_agent_status_t st);
int kf_aws_send_welcome(kf_aws_conn_t *c, cJSON *conversations);
int kf_aws_send_queues(kf_aws_conn_t *c);
/* The conversation's transcript (not_found error when the desk has none). */
int kf_aws_send_transcript(kf_aws_conn_t *c, const char *conv_id, const char *ref);
/* The protocol's error code for an engine status: kf_wsconn_error_code's,
 * and "state" for KF_CONV_STATE. */
const char *kf_aws_error_code(int status);

#endif
