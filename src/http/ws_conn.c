/* ws_conn.c — see ws_conn.h.
 *
 * Keep-alive is one timer per server thread walking that thread's
 * connections of one channel, not a timer per connection: an idle
 * connection then costs a list link and two timestamps, and the sweep is a
 * few microseconds per thousand connections. */
#include "http/ws_conn.h"

#include <stdio.h>
#include <stdlib.h>

#include "engine/conv.h"
#include "obs/log.h"

#define CLOSE_GRACE_MS 5000 /* a peer that never answers our close frame is cut off after this */

static uint64_t env_ms(const char *name, int dflt_s) {
    const char *v = getenv(name);
    char *end;
    long s = v ? strtol(v, &end, 10) : 0;
    if (!v || *v == 0 || *end != 0 || s <= 0 || s > 86400) s = dflt_s;
    return (uint64_t)s * 1000;
}

void kf_wsconn_keepalive_from_env(kf_wsconn_channel_t *ch, int ping_s, int idle_s) {
    ch->ping_ms = env_ms("KEFU_WS_PING_INTERVAL", ping_s);
    ch->idle_ms = env_ms("KEFU_WS_IDLE_TIMEOUT", idle_s);
}

/* ---- metrics ---- */

void kf_wsconn_count(kf_wsconn_channel_t *ch, int stat) {
    atomic_fetch_add_explicit(&ch->stats[stat], 1, memory_order_relaxed);
}

void kf_wsconn_collect(kf_buf_t *out, void *ud) {
    kf_wsconn_channel_t *ch = ud;
    for (int i = 0; i < ch->n_stats; i++) {
        const char *name = ch->stat_names[i][0];
        kf_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, ch->stat_names[i][1], name, name,
                      (unsigned long long)atomic_load_explicit(&ch->stats[i], memory_order_relaxed));
    }
}

/* ---- the per-thread sweep ---- */

static void sweep_one(kf_wsconn_channel_t *ch, kf_wsconn_t *c, uint64_t now) {
    kf_ws_t *ws = c->ws;
    if (kf_ws_closing(ws)) { /* ours, the drain's 1001, a 1008/1009 */
        if (!c->closing_since_ms) c->closing_since_ms = now;
        else if (now - c->closing_since_ms >= CLOSE_GRACE_MS) kf_ws_abort(ws);
        return;
    }
    uint64_t rx = kf_ws_last_rx_ms(ws);
    if (now - rx >= ch->idle_ms) {
        kf_wsconn_count(ch, KF_WSCONN_IDLE_CLOSED);
        kf_ws_close(ws, 1001, "idle timeout");
        return;
    }
    if (ch->sweep && !ch->sweep(c, now, rx)) return;
    uint64_t since = rx > c->last_ping_ms ? rx : c->last_ping_ms;
    if (now - since >= ch->ping_ms) {
        c->last_ping_ms = now;
        kf_ws_ping(ws);
    }
}

static uint64_t sweep_interval(const kf_wsconn_channel_t *ch) {
    uint64_t m = ch->ping_ms < ch->idle_ms ? ch->ping_ms : ch->idle_ms;
    m /= 4;
    return m < 100 ? 100 : m > ch->sweep_max_ms ? ch->sweep_max_ms : m;
}

static void on_sweep(kf_timer_t *timer) {
    kf_wsconn_thread_t *t = H2O_STRUCT_FROM_MEMBER(kf_wsconn_thread_t, timer, timer);
    uint64_t now = kf_loop_now_ms();
    for (h2o_linklist_t *l = t->conns.next, *next; l != &t->conns; l = next) {
        kf_wsconn_t *c = H2O_STRUCT_FROM_MEMBER(kf_wsconn_t, link, l);
        /* a ping or close can run h2o's close path at once, unlinking and
         * releasing c (and only c) */
        next = l->next;
        t->ch->ref(c);
        sweep_one(t->ch, c, now);
        t->ch->unref(c);
    }
    kf_timer_start(t->loop, timer, sweep_interval(t->ch), on_sweep);
}

/* ---- connection lifetime ---- */

int kf_wsconn_open(kf_wsconn_channel_t *ch, kf_wsconn_thread_t *t, kf_wsconn_t *c, kf_req_t *r,
                   kf_ws_msg_fn on_msg, kf_ws_closed_fn on_closed, void *ud) {
    c->ws = kf_ws_upgrade(r, on_msg, on_closed, ud);
    if (!c->ws) return -1;
    kf_ws_set_max_message(c->ws, ch->max_message);
    if (!t->loop) {
        t->loop = kf_loop_current();
        t->ch = ch;
        h2o_linklist_init_anchor(&t->conns);
        kf_timer_start(t->loop, &t->timer, sweep_interval(ch), on_sweep);
    }
    h2o_linklist_insert(&t->conns, &c->link);
    return 0;
}

void kf_wsconn_closed(kf_wsconn_t *c) {
    h2o_linklist_unlink(&c->link);
    c->ws = NULL;
}

/* ---- frames out ---- */

int kf_wsconn_send(kf_wsconn_channel_t *ch, kf_wsconn_t *c, const char *data, size_t len, int oom, const char *who) {
    if (!c->ws || oom || kf_ws_send_text(c->ws, data, len) != 0) return -1;
    /* the send may have run h2o's close path: on_closed cleared c->ws */
    if (!c->ws) return -1;
    kf_wsconn_count(ch, KF_WSCONN_FRAMES_OUT);
    size_t pending = kf_ws_pending(c->ws), exempt = ch->bound_after_frame ? len : 0;
    if (pending > exempt && pending - exempt > ch->max_pending) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: slow reader disconnected", ch->name);
        kf_wsconn_count(ch, KF_WSCONN_SLOW_READERS);
        kf_log(KF_LOG_WARN, msg, "pending_bytes", 'i', (long long)pending, "limit", 'i', (long long)ch->max_pending,
               ch->who_key, 's', who, NULL);
        kf_ws_abort(c->ws);
        return -1;
    }
    return 0;
}

const char *kf_wsconn_error_code(int status) {
    switch (status) {
    case KF_CONV_BUSY:
    case KF_CONV_NOMEM:
    case KF_CONV_SHUTDOWN: return "busy";
    case KF_CONV_INVALID: return "invalid";
    case KF_CONV_NOTFOUND: return "not_found";
    case KF_CONV_CLOSED: return "closed";
    default: return "internal";
    }
}
