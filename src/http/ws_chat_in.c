/* ws_chat_in.c — client → server frames of the customer WebSocket channel
 * (see ws_chat.h): parse and validate each JSON frame, call the conversation
 * engine (engine/conv.h), and turn its completions into frames.
 *
 * Bad input is answered with an error frame and the socket stays usable;
 * the one exception is a first frame that is not a hello (1008), since a
 * client that does not speak the protocol would otherwise keep a connection
 * without a conversation.  Acks and replies are sent only from engine
 * completions, which run after the history commit (the durability rule), and
 * in completion order, which the engine keeps equal to message order. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "http/ws_chat.h"
#include "loop/loop.h"
#include "obs/log.h"
#include "queue/bus.h"
#include "store/history.h"

#define MAX_PROFILE_STR 128
#define MAX_LANGUAGE 16
#define MAX_VIP_TIER 100
#define MAX_COMMENT 2000

/* One engine call in flight; holds a reference on its connection. */
typedef struct {
    kf_wschat_conn_t *c;
    int csat;
    char client_msg_id[KF_CONV_MAX_CLIENT_ID + 1];
} pending_t;

static pending_t *pending_new(kf_wschat_conn_t *c) {
    pending_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->c = c;
    kf_wschat_ref(c);
    c->inflight++;
    return p;
}

/* Returns the connection when it still has a socket to answer on, else NULL
 * (the reference is kept until pending_end). */
static kf_wschat_conn_t *pending_conn(pending_t *p) { return p->c->base.ws ? p->c : NULL; }

static void pending_end(pending_t *p) {
    kf_wschat_conn_t *c = p->c;
    free(p);
    if (--c->inflight == 0)
        while (c->pongs_owed && c->base.ws) {
            c->pongs_owed--;
            if (kf_wschat_send_pong(c) < 0) break;
        }
    kf_wschat_unref(c);
}

/* The application pong is a barrier: it leaves after every answer to the
 * frames received before its ping, so a client can tell "nothing more is
 * coming" without guessing a timeout. */
static void on_ping(kf_wschat_conn_t *c, const cJSON *frame) {
    (void)frame;
    if (c->inflight == 0) kf_wschat_send_pong(c);
    else if (c->pongs_owed < UINT16_MAX) c->pongs_owed++;
    else kf_wschat_send_error(c, "busy", "too many pings waiting for a pong", NULL);
}

/* ---- validation helpers ---- */

static size_t code_points(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* A JSON number that is an integer within [lo, hi]. */
static int json_int(const cJSON *j, double lo, double hi, int64_t *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double v = j->valuedouble;
    if (v < lo || v > hi || v != (double)(int64_t)v) return 0;
    *out = (int64_t)v;
    return 1;
}

/* Optional string member no longer than max bytes: 1 ok (out may stay NULL), 0 bad. */
static int opt_str(const cJSON *obj, const char *name, size_t max, const char **out) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);
    *out = NULL;
    if (!j || cJSON_IsNull(j)) return 1;
    if (!cJSON_IsString(j) || strlen(j->valuestring) > max) return 0;
    *out = j->valuestring;
    return 1;
}

/* ---- hello ---- */

static void on_created(const kf_conv_result_t *r, void *ud) {
    pending_t *p = ud;
    kf_wschat_conn_t *c = pending_conn(p);
    if (c && r->status != KF_CONV_OK) {
        c->state = KF_WSCHAT_NEED_HELLO;
        c->conv_id[0] = 0;
        kf_wschat_send_error(c, kf_wsconn_error_code(r->status), r->error, NULL);
    } else if (c) {
        c->state = KF_WSCHAT_OPEN;
        memcpy(c->conv_id, r->conv_id, KF_HISTORY_ID_LEN);
        c->conv_id[KF_HISTORY_ID_LEN] = 0;
        int64_t last = r->n_replies ? r->replies[r->n_replies - 1].seq : 0;
        c->seen_seq = 0; /* the greeting follows as replies */
        int rc = kf_wschat_send_welcome(c, last, 0);
        for (size_t i = 0; i < r->n_replies && rc == 0; i++) rc = kf_wschat_send_reply(c, &r->replies[i]);
        if (rc == 0) kf_wschat_subscribe(c);
    }
    pending_end(p);
}

static int parse_profile(const cJSON *j, kf_history_profile_t *pr) {
    int64_t tier = 0;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "vip_tier");
    if (!cJSON_IsObject(j) || !opt_str(j, "user_id", MAX_PROFILE_STR, &pr->user_id) ||
        !opt_str(j, "name", MAX_PROFILE_STR, &pr->name) || !opt_str(j, "language", MAX_LANGUAGE, &pr->language))
        return 0;
    if (t && !cJSON_IsNull(t) && !json_int(t, 0, MAX_VIP_TIER, &tier)) return 0;
    pr->vip_tier = (int)tier;
    return 1;
}

static void hello_new(kf_wschat_conn_t *c, const cJSON *frame) {
    kf_history_profile_t profile = {0};
    const cJSON *pj = cJSON_GetObjectItemCaseSensitive(frame, "profile");
    int has_profile = pj && !cJSON_IsNull(pj);
    if (has_profile && !parse_profile(pj, &profile)) {
        kf_wschat_send_error(c, "invalid", "profile: an object with user_id, name, language (strings) and vip_tier (0..100)", NULL);
        return;
    }
    pending_t *p = pending_new(c);
    if (!p) {
        kf_wschat_send_error(c, "busy", "out of memory", NULL);
        return;
    }
    c->state = KF_WSCHAT_CREATING;
    int rc = kf_conv_create(kf_wschat_cfg.conv, has_profile ? &profile : NULL, kf_loop_current(), on_created, p, c->conv_id);
    if (rc != KF_CONV_OK) {
        c->state = KF_WSCHAT_NEED_HELLO;
        c->conv_id[0] = 0;
        kf_wschat_send_error(c, kf_wsconn_error_code(rc), kf_conv_strerror(rc), NULL);
        pending_end(p);
    }
}

/* Attaching is synchronous (a read): welcome, then the replay, all sent
 * before any later frame of this connection is looked at. */
static void hello_attach(kf_wschat_conn_t *c, const char *id, const cJSON *resume) {
    int64_t after = -1;
    if (resume && !cJSON_IsNull(resume) && !json_int(resume, 0, 9007199254740991.0, &after)) {
        kf_wschat_send_error(c, "invalid", "resume_after_seq: an integer >= 0", NULL);
        return;
    }
    kf_history_conv_t hc;
    char err[256];
    /* Following the events before reading: a message stored in between is
     * then either in the read or delivered after it (deduplicated by seq). */
    memcpy(c->conv_id, id, KF_HISTORY_ID_LEN + 1);
    kf_wschat_subscribe(c);
    int rc = kf_history_get(kf_conv_history(kf_wschat_cfg.conv), id, &hc, err, sizeof err);
    if (rc != KF_HISTORY_OK) kf_wschat_unsubscribe(c);
    if (rc == KF_HISTORY_NOTFOUND) {
        kf_wschat_send_error(c, "not_found", "no such conversation", NULL);
        return;
    }
    if (rc != KF_HISTORY_OK) {
        kf_log(KF_LOG_ERROR, "websocket chat: history read failed", "conversation_id", 's', id, "error", 's', err, NULL);
        kf_wschat_send_error(c, "internal", "could not read the conversation", NULL);
        return;
    }
    memcpy(c->conv_id, id, KF_HISTORY_ID_LEN + 1);
    c->state = KF_WSCHAT_OPEN;
    kf_history_status_t status = hc.status;
    int64_t last = hc.last_seq;
    kf_history_conv_free(&hc);
    /* without a resume the client asks for nothing before last_seq */
    c->seen_seq = after >= 0 ? after : last;
    if (kf_wschat_send_welcome(c, last, 1) < 0) return;
    if (after >= 0 && kf_wschat_replay(c, after) < 0) return;
    if (status != KF_HISTORY_OPEN) kf_wschat_send_ended(c, kf_history_status_name(status));
}

static void on_hello(kf_wschat_conn_t *c, const cJSON *frame) {
    if (c->state != KF_WSCHAT_FIRST && c->state != KF_WSCHAT_NEED_HELLO) {
        kf_wschat_send_error(c, "invalid", "hello was already received on this connection", NULL);
        return;
    }
    c->state = KF_WSCHAT_NEED_HELLO;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(frame, "conversation_id");
    const cJSON *resume = cJSON_GetObjectItemCaseSensitive(frame, "resume_after_seq");
    if (!id || cJSON_IsNull(id)) {
        if (resume && !cJSON_IsNull(resume)) {
            kf_wschat_send_error(c, "invalid", "resume_after_seq needs a conversation_id", NULL);
            return;
        }
        hello_new(c, frame);
        return;
    }
    if (!cJSON_IsString(id) || !kf_history_valid_id(id->valuestring)) {
        kf_wschat_send_error(c, "invalid", "conversation_id: 32 lowercase hex digits", NULL);
        return;
    }
    hello_attach(c, id->valuestring, resume);
}

/* ---- message ---- */

static void on_replied(const kf_conv_result_t *r, void *ud) {
    pending_t *p = ud;
    kf_wschat_conn_t *c = pending_conn(p);
    if (c && r->status == KF_CONV_CLOSED) {
        kf_wschat_send_error(c, "closed", "the conversation has ended", p->client_msg_id);
        kf_history_conv_t hc;
        char err[128];
        if (kf_history_get(kf_conv_history(kf_wschat_cfg.conv), c->conv_id, &hc, err, sizeof err) == KF_HISTORY_OK) {
            const char *st = hc.status == KF_HISTORY_EXPIRED ? "expired" : "closed";
            kf_history_conv_free(&hc);
            if (c->base.ws) kf_wschat_send_ended(c, st);
        }
    } else if (c && r->status != KF_CONV_OK) {
        kf_wschat_send_error(c, kf_wsconn_error_code(r->status), r->error, p->client_msg_id);
    } else if (c) {
        /* A resend's replies are not sent again: the client has them (seen_seq)
         * unless the first attempt was still being committed when this
         * connection's resume read the history; then they go out now, once. */
        int rc = kf_wschat_send_ack(c, p->client_msg_id, r->ack_seq, r->duplicate);
        if (r->ack_seq > c->seen_seq) c->seen_seq = r->ack_seq; /* its event is not echoed back */
        for (size_t i = 0; i < r->n_replies && rc == 0; i++) rc = kf_wschat_send_reply(c, &r->replies[i]);
        if (rc == 0 && !r->duplicate && r->handoff_skill) kf_wschat_send_handoff(c, r->handoff_skill);
    }
    pending_end(p);
}

/* Says why the connection cannot take a message or rating now, or returns 0. */
static int refuse_now(kf_wschat_conn_t *c, const char *cmid, int allow_ended) {
    switch (c->state) {
    case KF_WSCHAT_OPEN: break;
    case KF_WSCHAT_ENDED:
        if (allow_ended) break;
        kf_wschat_send_error(c, "closed", "the conversation has ended", cmid);
        return 1;
    case KF_WSCHAT_CREATING:
        kf_wschat_send_error(c, "busy", "the conversation is being created: wait for welcome", cmid);
        return 1;
    default:
        kf_wschat_send_error(c, "invalid", "send hello first", cmid);
        return 1;
    }
    if (c->inflight >= KF_WSCHAT_MAX_INFLIGHT) {
        kf_wschat_send_error(c, "busy", "too many messages waiting for an answer", cmid);
        return 1;
    }
    return 0;
}

static void on_message(kf_wschat_conn_t *c, const cJSON *frame) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(frame, "client_msg_id");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(frame, "text");
    if (!cJSON_IsString(id) || !kf_conv_valid_client_id(id->valuestring)) {
        kf_wschat_send_error(c, "invalid", "client_msg_id: 1 to 64 characters of [A-Za-z0-9._:-]", NULL);
        return;
    }
    const char *cmid = id->valuestring;
    if (!cJSON_IsString(text) || text->valuestring[0] == 0) {
        kf_wschat_send_error(c, "invalid", "text: a non-empty string", cmid);
        return;
    }
    if (code_points(text->valuestring) > KF_CONV_MAX_TEXT) {
        kf_wschat_send_error(c, "too_large", "text: at most 2000 characters", cmid);
        return;
    }
    if (refuse_now(c, cmid, 0)) return;
    pending_t *p = pending_new(c);
    if (!p) {
        kf_wschat_send_error(c, "busy", "out of memory", cmid);
        return;
    }
    memcpy(p->client_msg_id, cmid, strlen(cmid) + 1);
    int rc = kf_conv_message_from(kf_wschat_cfg.conv, c->conv_id, text->valuestring, strlen(text->valuestring), cmid,
                                  kf_bus_sub_id(c->sub), kf_loop_current(), on_replied, p);
    if (rc != KF_CONV_OK) {
        kf_wschat_send_error(c, kf_wsconn_error_code(rc), kf_conv_strerror(rc), cmid);
        pending_end(p);
    }
}

/* ---- rate ---- */

static void on_rated(const kf_conv_result_t *r, void *ud) {
    pending_t *p = ud;
    kf_wschat_conn_t *c = pending_conn(p);
    if (c && r->status != KF_CONV_OK) {
        kf_wschat_send_error(c, kf_wsconn_error_code(r->status), r->error, NULL);
    } else if (c && kf_wschat_send_rated(c, p->csat) == 0) {
        kf_wschat_send_ended(c, "closed");
    }
    pending_end(p);
}

static void on_rate(kf_wschat_conn_t *c, const cJSON *frame) {
    int64_t csat;
    const char *comment;
    if (!json_int(cJSON_GetObjectItemCaseSensitive(frame, "csat"), 1, 5, &csat)) {
        kf_wschat_send_error(c, "invalid", "csat: an integer from 1 to 5", NULL);
        return;
    }
    if (!opt_str(frame, "comment", MAX_COMMENT, &comment)) {
        kf_wschat_send_error(c, "invalid", "comment: a string of at most 2000 bytes", NULL);
        return;
    }
    if (refuse_now(c, NULL, 1)) return;
    pending_t *p = pending_new(c);
    if (!p) {
        kf_wschat_send_error(c, "busy", "out of memory", NULL);
        return;
    }
    p->csat = (int)csat;
    int rc = kf_conv_close(kf_wschat_cfg.conv, c->conv_id, (int)csat, comment, kf_loop_current(), on_rated, p);
    if (rc != KF_CONV_OK) {
        kf_wschat_send_error(c, kf_wsconn_error_code(rc), kf_conv_strerror(rc), NULL);
        pending_end(p);
    }
}

/* ---- dispatch ---- */

static void on_typing(kf_wschat_conn_t *c, const cJSON *frame) {
    if (!cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(frame, "on")))
        kf_wschat_send_error(c, "invalid", "on: true or false", NULL);
}

/* resume (an addition to the protocol): replays again without reconnecting. */
static void on_resume(kf_wschat_conn_t *c, const cJSON *frame) {
    int64_t after;
    if (!json_int(cJSON_GetObjectItemCaseSensitive(frame, "after_seq"), 0, 9007199254740991.0, &after)) {
        kf_wschat_send_error(c, "invalid", "after_seq: an integer >= 0", NULL);
        return;
    }
    if (c->state != KF_WSCHAT_OPEN && c->state != KF_WSCHAT_ENDED) {
        kf_wschat_send_error(c, "invalid", "no conversation yet", NULL);
        return;
    }
    kf_wschat_replay(c, after);
}

static const struct {
    const char *type;
    void (*fn)(kf_wschat_conn_t *c, const cJSON *frame);
} handlers[] = {
    {"hello", on_hello}, {"message", on_message}, {"typing", on_typing}, {"rate", on_rate}, {"resume", on_resume},
    {"ping", on_ping},
};

static void dispatch(kf_wschat_conn_t *c, const cJSON *frame) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(frame, "type");
    if (!cJSON_IsString(type)) {
        kf_wschat_send_error(c, "bad_frame", "a frame is a JSON object with a string \"type\"", NULL);
        return;
    }
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        if (strcmp(type->valuestring, handlers[i].type) == 0) {
            handlers[i].fn(c, frame);
            return;
        }
    }
    kf_wschat_send_error(c, "unknown_type", "type: hello, message, typing, rate, resume or ping", NULL);
}

static int is_hello(const cJSON *frame) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(frame, "type");
    return cJSON_IsString(type) && strcmp(type->valuestring, "hello") == 0;
}

void kf_wschat_on_frame(kf_wschat_conn_t *c, const char *data, size_t len, int binary) {
    kf_wsconn_count(&kf_wschat_cfg.ch, KF_WSCONN_FRAMES_IN);
    if (binary) {
        kf_wschat_send_error(c, "bad_frame", "binary frames are not accepted: send JSON text", NULL);
        return;
    }
    /* wslay has already checked that a text message is UTF-8 (else close 1007) */
    cJSON *frame = cJSON_ParseWithLength(data, len);
    if (c->state == KF_WSCHAT_FIRST && !(cJSON_IsObject(frame) && is_hello(frame))) {
        kf_wschat_send_error(c, "bad_frame", "the first frame must be {\"type\":\"hello\",...}", NULL);
        if (c->base.ws) kf_ws_close(c->base.ws, 1008, "expected hello");
    } else if (!cJSON_IsObject(frame)) {
        kf_wschat_send_error(c, "bad_frame", "not a JSON object", NULL);
    } else {
        dispatch(c, frame);
    }
    cJSON_Delete(frame);
}
