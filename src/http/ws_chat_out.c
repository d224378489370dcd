/* ws_chat_out.c — server → client frames of the customer WebSocket channel
 * (see ws_chat.h): one small JSON writer per frame type, the replay of stored
 * messages on resume, and the slow-reader bound.
 *
 * Frames are written with kf_buf_t into a stack buffer (wslay copies what it
 * queues), so a connection holds no output buffer of its own: its only
 * output memory is what wslay has queued and the peer has not yet taken.
 * That amount is checked after every send (kf_wsconn_send, ws_conn.h); past
 * kf_wschat_cfg.ch.max_pending the peer is not reading and the connection is
 * dropped rather than letting it grow without bound. */
#include <inttypes.h>
#include <string.h>

#include "http/ws_chat.h"
#include "obs/log.h"
#include "store/history.h"

#define FRAME_STACK 1024
#define REPLAY_PAGE 1000

static void buf_str(kf_buf_t *b, const char *s) { kf_buf_json_str(b, s, strlen(s)); }

int kf_wschat_send(kf_wschat_conn_t *c, kf_buf_t *b) {
    int rc = kf_wsconn_send(&kf_wschat_cfg.ch, &c->base, b->data, b->len, b->oom, c->conv_id);
    kf_buf_free(b);
    return rc;
}

int kf_wschat_send_error(kf_wschat_conn_t *c, const char *code, const char *message, const char *client_msg_id) {
    char st[FRAME_STACK];
    kf_buf_t b;
    kf_buf_init_with(&b, st, sizeof st);
    kf_buf_puts(&b, "{\"type\":\"error\",\"code\":");
    buf_str(&b, code);
    kf_buf_puts(&b, ",\"message\":");
    buf_str(&b, message ? message : "");
    if (client_msg_id) {
        kf_buf_puts(&b, ",\"client_msg_id\":");
        buf_str(&b, client_msg_id);
    }
    kf_buf_puts(&b, "}");
    kf_wsconn_count(&kf_wschat_cfg.ch, KF_WSCONN_ERRORS);
    return kf_wschat_send(c, &b);
}

int kf_wschat_send_welcome(kf_wschat_conn_t *c, int64_t last_seq, int resumed) {
    char st[FRAME_STACK];
    kf_buf_t b;
    kf_buf_init_with(&b, st, sizeof st);
    kf_buf_printf(&b, "{\"type\":\"welcome\",\"conversation_id\":\"%s\",\"last_seq\":%" PRId64 ",\"resumed\":%s}",
                  c->conv_id, last_seq, resumed ? "true" : "false");
    return kf_wschat_send(c, &b);
}

static void put_head(kf_buf_t *b, int64_t seq, kf_history_sender_t from, const char *text) {
    const char *name = kf_history_sender_name(from);
    kf_buf_printf(b, "{\"type\":\"message\",\"seq\":%" PRId64 ",\"from\":\"%s\",\"text\":", seq, name ? name : "system");
    buf_str(b, text ? text : "");
}

int kf_wschat_send_reply(kf_wschat_conn_t *c, const kf_conv_msg_t *m) {
    if (m->seq <= c->seen_seq) return 0;
    c->seen_seq = m->seq;
    char st[FRAME_STACK];
    kf_buf_t b;
    kf_buf_init_with(&b, st, sizeof st);
    put_head(&b, m->seq, m->from, m->text);
    kf_buf_puts(&b, ",\"quick_replies\":[");
    for (size_t i = 0; i < m->n_quick_replies; i++) {
        kf_buf_puts(&b, i ? ",{\"title\":" : "{\"title\":");
        buf_str(&b, m->quick_replies[i].title ? m->quick_replies[i].title : "");
        kf_buf_puts(&b, ",\"payload\":");
        buf_str(&b, m->quick_replies[i].payload ? m->quick_replies[i].payload : "");
        kf_buf_puts(&b, "}");
    }
    kf_buf_printf(&b, "],\"created_at\":%" PRId64 "}", m->created_at_ms);
    return kf_wschat_send(c, &b);
}

/* A stored message as replayed: quick replies are not kept in history (they
 * belong to the moment the bot offered them), so the list is empty. */
static int send_stored(kf_wschat_conn_t *c, const kf_history_msg_t *m) {
    if (m->seq > c->seen_seq) c->seen_seq = m->seq;
    if (m->sender == KF_HISTORY_NOTE) return 0; /* an agent's internal note: never the customer's */
    char st[FRAME_STACK];
    kf_buf_t b;
    kf_buf_init_with(&b, st, sizeof st);
    put_head(&b, m->seq, m->sender, m->text);
    kf_buf_printf(&b, ",\"quick_replies\":[],\"created_at\":%" PRId64, m->created_at_ms);
    if (m->client_msg_id) {
        kf_buf_puts(&b, ",\"client_msg_id\":");
        buf_str(&b, m->client_msg_id);
    }
    kf_buf_puts(&b, "}");
    return kf_wschat_send(c, &b);
}

int kf_wschat_send_ack(kf_wschat_conn_t *c, const char *client_msg_id, int64_t seq, int duplicate) {
    char st[FRAME_STACK];
    kf_buf_t b;
    kf_buf_init_with(&b, st, sizeof st);
    kf_buf_puts(&b, "{\"type\":\"ack\",\"client_msg_id\":");
    buf_str(&b, client_msg_id);
    kf_buf_printf(&b, ",\"seq\":%" PRId64 ",\"duplicate\":%s}", seq, duplicate ? "true" : "false");
    return kf_wschat_send(c, &b);
}

int kf_wschat_send_handoff(kf_wschat_conn_t *c, const char *skill) {
    char st[FRAME_STACK];
    kf_buf_t b;
    kf_buf_init_with(&b, st, sizeof st);
    kf_buf_puts(&b, "{\"type\":\"handoff\",\"skill\":");
    buf_str(&b, skill);
    kf_buf_puts(&b, "}");
    return kf_wschat_send(c, &b);
}

int kf_wschat_send_rated(kf_wschat_conn_t *c, int csat) {
    char st[64];
    kf_buf_t b;
    kf_buf_init_with(&b, st, sizeof st);
    kf_buf_printf(&b, "{\"type\":\"rated\",\"csat\":%d}", csat);
    return kf_wschat_send(c, &b);
}

int kf_wschat_send_pong(kf_wschat_conn_t *c) {
    char st[32];
    kf_buf_t b;
    kf_buf_init_with(&b, st, sizeof st);
    kf_buf_puts(&b, "{\"type\":\"pong\"}");
    return kf_wschat_send(c, &b);
}

int kf_wschat_send_ended(kf_wschat_conn_t *c, const char *status) {
    c->state = KF_WSCHAT_ENDED;
    if (c->ended_sent) return 0;
    c->ended_sent = 1;
    char st[64];
    kf_buf_t b;
    kf_buf_init_with(&b, st, sizeof st);
    kf_buf_printf(&b, "{\"type\":\"ended\",\"status\":\"%s\"}", status);
    return kf_wschat_send(c, &b);
}

/* Pages through the history so a long conversation never needs more than
 * one page in memory; stops early when the peer stops reading. */
int kf_wschat_replay(kf_wschat_conn_t *c, int64_t after_seq) {
    kf_history_t *h = kf_conv_history(kf_wschat_cfg.conv);
    for (;;) {
        kf_history_msgs_t page = {0};
        char err[256];
        if (kf_history_fetch(h, c->conv_id, after_seq, REPLAY_PAGE, &page, err, sizeof err) != KF_HISTORY_OK) {
            kf_log(KF_LOG_ERROR, "websocket chat: history fetch failed", "conversation_id", 's', c->conv_id, "error", 's',
                   err, NULL);
            kf_wschat_send_error(c, "internal", "could not read the conversation's history", NULL);
            return -1;
        }
        int rc = 0;
        for (size_t i = 0; i < page.n && rc == 0; i++) {
            rc = send_stored(c, &page.v[i]);
            after_seq = page.v[i].seq;
        }
        size_t n = page.n;
        kf_history_msgs_free(&page);
        if (rc < 0) return -1;
        if (n < REPLAY_PAGE) return 0;
    }
}
