/* ws_conn.h — what the two WebSocket channels (customers on GET /v1/ws,
 * ws_chat.h; agent consoles on GET /v1/agents/ws, agents_ws.h) do alike on
 * top of http/ws.h: the upgrade and the per-thread list of connections, the
 * keep-alive sweep (pings, the idle close, cutting off a peer that never
 * answers our close), the send path with its slow-reader bound, the frame
 * counters for /metrics, the keep-alive settings from the environment, and
 * the error codes for engine statuses.
 *
 * A channel is one kf_wsconn_channel_t (settings, hooks, counters), and each
 * of its connection structs starts with a kf_wsconn_t, so this file can walk
 * them and the channel's own files still see their whole struct.  The
 * customer channel keeps its struct small (ten thousand idle customers hold
 * one each): kf_wsconn_t is only the socket, the list link and two
 * timestamps.  The agent channel adds its token and presence checks to the
 * sweep through the channel's sweep hook. */
#ifndef KF_HTTP_WS_CONN_H
#define KF_HTTP_WS_CONN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "http/ws.h"
#include "loop/loop.h"
#include "util/buf.h"

/* The first member of a channel's connection struct. */
typedef struct kf_wsconn {
    kf_ws_t *ws;               /* NULL once the socket is gone */
    h2o_linklist_t link;       /* the thread's list, walked by the sweep */
    uint64_t last_ping_ms;
    uint64_t closing_since_ms; /* 0 = no close started */
} kf_wsconn_t;

/* Counters for /metrics (relaxed atomics, summed over threads); a channel may
 * add its own from KF_WSCONN_STAT__N up to KF_WSCONN_MAX_STATS. */
typedef enum {
    KF_WSCONN_FRAMES_IN,
    KF_WSCONN_FRAMES_OUT,
    KF_WSCONN_ERRORS,
    KF_WSCONN_SLOW_READERS,
    KF_WSCONN_IDLE_CLOSED,
    KF_WSCONN_STAT__N
} kf_wsconn_stat_t;
#define KF_WSCONN_MAX_STATS 8

typedef struct kf_wsconn_channel {
    const char *name;        /* log lines: "<name>: slow reader disconnected" */
    const char *who_key;     /* the log field naming the connection ("conversation_id") */
    size_t max_message;      /* bytes of one client message; larger closes with 1009 */
    size_t max_pending;      /* unsent output bytes beyond which a slow reader is dropped */
    int bound_after_frame;   /* 1: the bound ignores the frame just queued (one big frame is fine) */
    uint64_t ping_ms;        /* a WS ping after this long without traffic */
    uint64_t idle_ms;        /* close after this long without traffic */
    uint64_t sweep_max_ms;   /* the sweep runs at least this often */
    /* The connection's reference count: the sweep holds one while it looks at it. */
    void (*ref)(kf_wsconn_t *c);
    void (*unref)(kf_wsconn_t *c);
    /* Optional: more of the sweep for a connection that is neither closing nor
     * idle, before its ping is due (rx: kf_ws_last_rx_ms); 0 when it started
     * closing the connection (then no ping). */
    int (*sweep)(kf_wsconn_t *c, uint64_t now, uint64_t rx);
    /* {metric name, help} per counter, n_stats of them */
    const char *const (*stat_names)[2];
    int n_stats;
    _Atomic uint64_t stats[KF_WSCONN_MAX_STATS];
} kf_wsconn_channel_t;

/* A channel's connections on one server thread and the timer that sweeps
 * them: each channel file has one `static __thread` of these. */
typedef struct {
    h2o_linklist_t conns;
    kf_timer_t timer;
    kf_loop_t *loop;
    kf_wsconn_channel_t *ch;
} kf_wsconn_thread_t;

/* ping_ms and idle_ms: the defaults in seconds, or KEFU_WS_PING_INTERVAL and
 * KEFU_WS_IDLE_TIMEOUT (whole seconds, 1..86400) from the environment. */
void kf_wsconn_keepalive_from_env(kf_wsconn_channel_t *ch, int ping_s, int idle_s);

void kf_wsconn_count(kf_wsconn_channel_t *ch, int stat);
/* A kf_metrics collector; ud is the channel. */
void kf_wsconn_collect(kf_buf_t *out, void *ud);

/* Upgrades r with c (zeroed, its ud for on_msg/on_closed), applies the
 * channel's max_message and puts c on this thread's list in t (starting the
 * thread's sweep the first time).  -1 when the upgrade failed (400 sent). */
int kf_wsconn_open(kf_wsconn_channel_t *ch, kf_wsconn_thread_t *t, kf_wsconn_t *c, kf_req_t *r,
                   kf_ws_msg_fn on_msg, kf_ws_closed_fn on_closed, void *ud);
/* The socket is gone (from the channel's on_closed): off the list, c->ws = NULL. */
void kf_wsconn_closed(kf_wsconn_t *c);

/* One text frame to c, then the slow-reader bound (counted, logged with
 * who as who_key, the connection aborted).  0, or -1 when the connection is
 * gone, closing, or was just dropped (stop sending then).  oom: the frame
 * could not be written (nothing is sent). */
int kf_wsconn_send(kf_wsconn_channel_t *ch, kf_wsconn_t *c, const char *data, size_t len, int oom, const char *who);

/* The error frame's code for an engine status (engine/conv.h), as both
 * channels name them: busy, invalid, not_found, closed, else internal. */
const char *kf_wsconn_error_code(int status);

#endif
