/* agents_ws_in.c — client → server frames of the agent console WebSocket
 * (see agents_ws.h): parse and validate each frame, decide whether this
 * agent may do it, call the desk (engine/desk.h) or the engine
 * (engine/conv.h), and turn completions into frames.
 *
 * Who may act, as in the agent REST routes (routes_agent_conv.c): on a
 * conversation assigned to the agent, or anything for an admin; else
 * `forbidden`, so an agent learns nothing about others' conversations.
 * Accepting (and reading the transcript first) is allowed for a
 * conversation waiting in, or offered in, one of the agent's skills, or
 * offered to this console.  Every frame re-checks the session first (a
 * logged-out agent must not act) and counts as presence.
 *
 * Bad input gets an error frame and the socket stays open.  Answers to
 * engine calls come from their completions, after the history commit, so an
 * `ok` means stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/agents_ws.h"

typedef enum { OP_ACCEPT, OP_MESSAGE, OP_NOTE, OP_HANDBACK, OP_CLOSE, OP_TRANSFER } op_t;

/* One engine call in flight; holds a reference on its connection. */
typedef struct {
    kf_aws_conn_t *c;
    op_t op;
    char conv_id[KF_HISTORY_ID_LEN + 1];
    char ref[4 * KF_AWS_MAX_REF + 1];
    int has_ref;
} pending_t;

static kf_desk_t *desk(void) { return kf_aws_cfg.desk; }
static int is_admin(const kf_aws_conn_t *c) { return c->agent.role == KF_AGENT_ROLE_ADMIN; }

static pending_t *pending_new(kf_aws_conn_t *c, op_t op, const char *conv_id, const char *ref) {
    pending_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->c = c;
    p->op = op;
    memcpy(p->conv_id, conv_id, KF_HISTORY_ID_LEN + 1);
    if (ref) {
        p->has_ref = 1;
        snprintf(p->ref, sizeof p->ref, "%s", ref);
    }
    kf_aws_ref(c);
    c->inflight++;
    return p;
}

static const char *pending_ref(const pending_t *p) { return p->has_ref ? p->ref : NULL; }

/* ---- ping: a barrier like the customer channel's ---- */

static void flush_pongs(kf_aws_conn_t *c) {
    while (c->pongs && c->base.ws) {
        kf_aws_pong_t *p = c->pongs;
        c->pongs = p->next;
        c->pongs_owed--;
        int rc = kf_aws_send_pong(c, p->ref[0] ? p->ref : NULL);
        free(p);
        if (rc < 0) break;
    }
}

static void on_ping(kf_aws_conn_t *c, const cJSON *frame, const char *ref) {
    (void)frame;
    if (c->inflight == 0) {
        kf_aws_send_pong(c, ref);
        return;
    }
    size_t n = ref ? strlen(ref) : 0;
    kf_aws_pong_t *p = c->pongs_owed < KF_AWS_MAX_INFLIGHT ? malloc(sizeof *p + n + 1) : NULL;
    if (!p) {
        kf_aws_send_error(c, "busy", "too many pings waiting for a pong", ref);
        return;
    }
    p->next = NULL;
    memcpy(p->ref, ref ? ref : "", n + 1);
    if (!c->pongs) c->pongs_tail = &c->pongs;
    *c->pongs_tail = p;
    c->pongs_tail = &p->next;
    c->pongs_owed++;
}

static void pending_end(pending_t *p) {
    kf_aws_conn_t *c = p->c;
    free(p);
    if (--c->inflight == 0) flush_pongs(c);
    kf_aws_unref(c);
}

/* ---- validation helpers ---- */

static size_t code_points(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* The frame's conversation_id, or NULL after an error frame. */
static const char *conv_id_of(kf_aws_conn_t *c, const cJSON *frame, const char *ref) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(frame, "conversation_id");
    if (cJSON_IsString(id) && kf_history_valid_id(id->valuestring)) return id->valuestring;
    kf_aws_send_error(c, "invalid", "conversation_id: 32 lowercase hex digits", ref);
    return NULL;
}

static const char *text_of(kf_aws_conn_t *c, const cJSON *frame, const char *ref) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(frame, "text");
    if (cJSON_IsString(t) && t->valuestring[0] && code_points(t->valuestring) <= KF_CONV_MAX_TEXT) return t->valuestring;
    kf_aws_send_error(c, "invalid", "text: a string of 1 to 2000 characters", ref);
    return NULL;
}

static int has_skill(const kf_agent_t *a, const char *skill) {
    for (size_t i = 0; skill && i < a->n_skills; i++)
        if (!strcmp(a->skills[i], skill)) return 1;
    return 0;
}

/* 1 when the agent may take id: an admin; offered to this agent; or
 * waiting in one of its skills (preview = 1: also offered to another agent
 * in one of its skills, for reading the transcript).  *assigned says the
 * conversation already has its agent, *unknown that the desk does not hold
 * it: the engine then refuses an accept with the precise reason (not found,
 * closed, not waiting). */
static int may_take(kf_aws_conn_t *c, const char *id, int preview, int *assigned, int *unknown) {
    *assigned = *unknown = 0;
    kf_aws_conv_t *e = kf_aws_conv_find(c, id);
    if (is_admin(c) || (e && e->offered)) return 1;
    cJSON *item = kf_desk_item(desk(), id);
    if (!item) {
        *unknown = 1;
        return 0;
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(item, "state");
    const cJSON *sk = cJSON_GetObjectItemCaseSensitive(item, "skill");
    const cJSON *ag = cJSON_GetObjectItemCaseSensitive(item, "agent_id");
    const char *state = cJSON_IsString(st) ? st->valuestring : "";
    int mine = cJSON_IsString(ag) && !strcmp(ag->valuestring, c->agent.id);
    int skilled = cJSON_IsString(sk) && has_skill(&c->agent, sk->valuestring);
    int ok = (!strcmp(state, "waiting") && skilled) || (!strcmp(state, "offered") && (mine || (preview && skilled)));
    *assigned = !strcmp(state, "assigned") || (!strcmp(state, "offered") && skilled && !mine);
    cJSON_Delete(item);
    return ok;
}

/* 1 when the agent may act on id (kf_desk_may_act); else `forbidden` sent. */
static int may_act(kf_aws_conn_t *c, const char *id, const char *ref) {
    if (kf_desk_may_act(desk(), &c->agent, id)) return 1;
    kf_aws_send_error(c, "forbidden", "the conversation is not assigned to you", ref);
    return 0;
}

static int room(kf_aws_conn_t *c, const char *ref) {
    if (c->inflight < KF_AWS_MAX_INFLIGHT) return 1;
    kf_aws_send_error(c, "busy", "too many actions waiting for an answer", ref);
    return 0;
}

/* The agent id the engine checks ownership against: an admin acting on a
 * conversation that is not its own acts as admin (NULL). */
static const char *acting_as(kf_aws_conn_t *c, const char *id) {
    kf_aws_conv_t *e = kf_aws_conv_find(c, id);
    return !is_admin(c) || (e && e->held) ? c->agent.id : NULL;
}

/* ---- completions ---- */

static void on_accepted(const kf_conv_result_t *r, void *ud) {
    pending_t *p = ud;
    kf_aws_conn_t *c = p->c->base.ws ? p->c : NULL;
    kf_aws_conv_t *e = c ? kf_aws_conv_find(c, p->conv_id) : NULL;
    if (e && e->accepting) e->accepting--;
    if (c && r->status == KF_CONV_OK) {
        if (!e) e = kf_aws_conv_get(c, p->conv_id);
        kf_aws_gone_t gone = e ? (kf_aws_gone_t)e->gone : KF_AWS_GONE_NONE;
        if (e) e->gone = e->early = 0;
        int rc = e && !e->held ? kf_aws_conv_hold(c, e, pending_ref(p), 1) : 0;
        if (rc == 0) rc = kf_aws_send_transcript(c, p->conv_id, pending_ref(p));
        /* released while the answer was on its way: said after it, in order */
        if (rc == 0 && gone && (e = kf_aws_conv_find(c, p->conv_id)) && e->held) kf_aws_conv_release(c, e, gone);
    } else if (c) {
        /* the router change may have happened though storing the notice failed */
        if (e && e->early && !e->gone && !e->accepting) kf_aws_conv_hold(c, e, NULL, 1);
        if (e && !e->accepting) e->early = e->gone = 0;
        kf_aws_send_error(c, kf_aws_error_code(r->status), r->error, pending_ref(p));
        if ((e = kf_aws_conv_find(c, p->conv_id))) kf_aws_conv_settle(c, e);
    }
    pending_end(p);
}

static void on_done(const kf_conv_result_t *r, void *ud) {
    pending_t *p = ud;
    kf_aws_conn_t *c = p->c->base.ws ? p->c : NULL;
    kf_aws_conv_t *e = c ? kf_aws_conv_find(c, p->conv_id) : NULL;
    int releasing = p->op == OP_CLOSE || p->op == OP_HANDBACK || p->op == OP_TRANSFER;
    kf_aws_gone_t gone = KF_AWS_GONE_NONE;
    if (e && releasing && e->acting && !--e->acting) {
        gone = (kf_aws_gone_t)e->gone; /* a released event held back while this was in flight */
        e->gone = 0;
    }
    if (c && r->status != KF_CONV_OK) {
        int rc = kf_aws_send_error(c, kf_aws_error_code(r->status), r->error, pending_ref(p));
        if (rc == 0 && gone && (e = kf_aws_conv_find(c, p->conv_id)) && e->held) kf_aws_conv_release(c, e, gone);
        else if ((e = kf_aws_conv_find(c, p->conv_id))) kf_aws_conv_settle(c, e);
    } else if (c) {
        int with_seq = p->op == OP_MESSAGE || p->op == OP_NOTE;
        int rc = kf_aws_send_ok(c, pending_ref(p), with_seq ? r->ack_seq : -1);
        kf_aws_gone_t why = p->op == OP_CLOSE ? KF_AWS_GONE_CLOSED
                            : p->op == OP_HANDBACK ? KF_AWS_GONE_HANDED_BACK : KF_AWS_GONE_TRANSFERRED;
        if (rc == 0 && releasing && (e = kf_aws_conv_find(c, p->conv_id)) && e->held) kf_aws_conv_release(c, e, gone ? gone : why);
        else if ((e = kf_aws_conv_find(c, p->conv_id))) kf_aws_conv_settle(c, e);
    }
    pending_end(p);
}

/* After an engine call was made: a refusal (rc, fn never runs) is answered at once. */
static void started(kf_aws_conn_t *c, pending_t *p, int rc) {
    if (rc == KF_CONV_OK) return;
    kf_aws_conv_t *e = kf_aws_conv_find(c, p->conv_id);
    if (e && p->op == OP_ACCEPT && e->accepting) e->accepting--;
    /* no event can have come in between: they are delivered on later loop turns */
    if (e && (p->op == OP_CLOSE || p->op == OP_HANDBACK || p->op == OP_TRANSFER) && e->acting) e->acting--;
    kf_aws_send_error(c, kf_aws_error_code(rc), kf_conv_strerror(rc), pending_ref(p));
    if ((e = kf_aws_conv_find(c, p->conv_id))) kf_aws_conv_settle(c, e);
    pending_end(p);
}

/* ---- frames ---- */

static void on_accept(kf_aws_conn_t *c, const cJSON *frame, const char *ref) {
    const char *id = conv_id_of(c, frame, ref);
    int assigned, unknown;
    if (!id) return;
    if (!may_take(c, id, 0, &assigned, &unknown) && !unknown) {
        if (assigned) kf_aws_send_error(c, "state", "the conversation is assigned or offered to another agent", ref);
        else kf_aws_send_error(c, "forbidden", "the conversation is not waiting in one of your skills", ref);
        return;
    }
    if (!room(c, ref)) return;
    kf_aws_conv_t *e = kf_aws_conv_get(c, id);
    pending_t *p = e ? pending_new(c, OP_ACCEPT, id, ref) : NULL;
    if (!p) {
        if (e) kf_aws_conv_settle(c, e);
        kf_aws_send_error(c, "busy", "out of memory", ref);
        return;
    }
    e->accepting++;
    started(c, p, kf_conv_assign(kf_aws_cfg.conv, id, c->agent.id, c->agent.name, c->loop, on_accepted, p));
}

static void on_reject(kf_aws_conn_t *c, const cJSON *frame, const char *ref) {
    const char *id = conv_id_of(c, frame, ref);
    if (!id) return;
    int rc = kf_desk_reject(desk(), id, c->agent.id);
    kf_aws_conv_t *e = kf_aws_conv_find(c, id);
    if (e) {
        e->offered = 0;
        kf_aws_conv_settle(c, e);
    }
    if (rc == 0) kf_aws_send_ok(c, ref, -1);
    else kf_aws_send_error(c, "state", "no offer of this conversation to reject", ref);
}

static void on_text(kf_aws_conn_t *c, const cJSON *frame, const char *ref, op_t op) {
    const char *id = conv_id_of(c, frame, ref), *text = id ? text_of(c, frame, ref) : NULL;
    if (!text || !may_act(c, id, ref) || !room(c, ref)) return;
    pending_t *p = pending_new(c, op, id, ref);
    if (!p) {
        kf_aws_send_error(c, "busy", "out of memory", ref);
        return;
    }
    const char *who = acting_as(c, id);
    size_t len = strlen(text);
    started(c, p, op == OP_NOTE ? kf_conv_agent_note(kf_aws_cfg.conv, id, who, text, len, c->loop, on_done, p)
                                : kf_conv_agent_message(kf_aws_cfg.conv, id, who, text, len, c->loop, on_done, p));
}

static void on_message(kf_aws_conn_t *c, const cJSON *frame, const char *ref) { on_text(c, frame, ref, OP_MESSAGE); }
static void on_note(kf_aws_conn_t *c, const cJSON *frame, const char *ref) { on_text(c, frame, ref, OP_NOTE); }

/* Optional slug member (skill or agent id): 1 ok (*out may stay NULL), 0 after an error frame. */
static int opt_slug(kf_aws_conn_t *c, const cJSON *frame, const char *name, const char **out, const char *ref) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(frame, name);
    *out = NULL;
    if (!j || cJSON_IsNull(j)) return 1;
    if (cJSON_IsString(j) && kf_agents_valid_id(j->valuestring)) {
        *out = j->valuestring;
        return 1;
    }
    char msg[96];
    snprintf(msg, sizeof msg, "%s: a lowercase slug of at most 32 characters", name);
    kf_aws_send_error(c, "invalid", msg, ref);
    return 0;
}

static void on_release_op(kf_aws_conn_t *c, const cJSON *frame, const char *ref, op_t op) {
    const char *id = conv_id_of(c, frame, ref), *skill = NULL, *agent = NULL;
    if (!id) return;
    if (op == OP_TRANSFER) {
        if (!opt_slug(c, frame, "skill", &skill, ref) || !opt_slug(c, frame, "agent_id", &agent, ref)) return;
        if (!skill == !agent) {
            kf_aws_send_error(c, "invalid", "transfer: give skill or agent_id (exactly one)", ref);
            return;
        }
    }
    if (!may_act(c, id, ref) || !room(c, ref)) return;
    pending_t *p = pending_new(c, op, id, ref);
    if (!p) {
        kf_aws_send_error(c, "busy", "out of memory", ref);
        return;
    }
    kf_aws_conv_t *e = kf_aws_conv_find(c, id);
    if (e && e->held) e->acting++;
    kf_conv_t *cv = kf_aws_cfg.conv;
    int rc = op == OP_CLOSE      ? kf_conv_agent_close(cv, id, c->loop, on_done, p)
             : op == OP_HANDBACK ? kf_conv_hand_back(cv, id, c->loop, on_done, p)
                                 : kf_conv_transfer(cv, id, skill, agent, c->loop, on_done, p);
    started(c, p, rc);
}

static void on_close(kf_aws_conn_t *c, const cJSON *f, const char *ref) { on_release_op(c, f, ref, OP_CLOSE); }
static void on_handback(kf_aws_conn_t *c, const cJSON *f, const char *ref) { on_release_op(c, f, ref, OP_HANDBACK); }
static void on_transfer(kf_aws_conn_t *c, const cJSON *f, const char *ref) { on_release_op(c, f, ref, OP_TRANSFER); }

static void on_transcript(kf_aws_conn_t *c, const cJSON *frame, const char *ref) {
    const char *id = conv_id_of(c, frame, ref);
    int assigned, unknown;
    if (!id) return;
    /* its own, any for an admin, or one it could accept (a preview) */
    if (kf_desk_may_act(desk(), &c->agent, id) || may_take(c, id, 1, &assigned, &unknown)) kf_aws_send_transcript(c, id, ref);
    else kf_aws_send_error(c, "forbidden", "the conversation is not assigned to you", ref);
}

static void on_status(kf_aws_conn_t *c, const cJSON *frame, const char *ref) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(frame, "status");
    int st = cJSON_IsString(s) ? kf_agent_status_parse(s->valuestring) : -1;
    if (st < 0) {
        kf_aws_send_error(c, "invalid", "status: online, away or offline", ref);
        return;
    }
    /* the presence is recorded first in any case; a router refusal matters
     * only to an agent on duty (one without skills is never offered anything) */
    if (kf_desk_set_status(desk(), &c->agent, (kf_agent_status_t)st) != 0 && c->attached) {
        kf_aws_send_error(c, "internal", "could not set the status for routing", ref);
        return;
    }
    kf_aws_send_status(c, ref, (kf_agent_status_t)st);
}

static const struct {
    const char *type;
    void (*fn)(kf_aws_conn_t *c, const cJSON *frame, const char *ref);
} handlers[] = {
    {"status", on_status},     {"accept", on_accept},         {"reject", on_reject},
    {"message", on_message},   {"note", on_note},             {"transcript", on_transcript},
    {"transfer", on_transfer}, {"handback", on_handback},     {"close", on_close},
    {"ping", on_ping},
};

static void dispatch(kf_aws_conn_t *c, const cJSON *frame) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(frame, "type");
    const cJSON *rj = cJSON_GetObjectItemCaseSensitive(frame, "ref");
    const char *ref = NULL;
    if (rj && !cJSON_IsNull(rj)) {
        if (!cJSON_IsString(rj) || code_points(rj->valuestring) > KF_AWS_MAX_REF) {
            kf_aws_send_error(c, "invalid", "ref: a string of at most 64 characters", NULL);
            return;
        }
        ref = rj->valuestring;
    }
    if (!cJSON_IsString(type)) {
        kf_aws_send_error(c, "bad_frame", "a frame is a JSON object with a string \"type\"", ref);
        return;
    }
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        if (!strcmp(type->valuestring, handlers[i].type)) {
            handlers[i].fn(c, frame, ref);
            return;
        }
    }
    kf_aws_send_error(c, "unknown_type",
                      "type: status, accept, reject, message, note, transcript, transfer, handback, close or ping", ref);
}

void kf_aws_on_frame(kf_aws_conn_t *c, const char *data, size_t len, int binary) {
    kf_wsconn_count(&kf_aws_cfg.ch, KF_WSCONN_FRAMES_IN);
    kf_aws_ref(c);
    if (kf_aws_check_auth(c, 1)) {
        kf_agent_auth_touch(kf_aws_cfg.auth, c->agent.id); /* every frame is presence */
        c->touched_rx_ms = kf_ws_last_rx_ms(c->base.ws);
        /* wslay has already checked that a text message is UTF-8 (else close 1007) */
        cJSON *frame = binary ? NULL : cJSON_ParseWithLength(data, len);
        if (binary) kf_aws_send_error(c, "bad_frame", "binary frames are not accepted: send JSON text", NULL);
        else if (!cJSON_IsObject(frame)) kf_aws_send_error(c, "bad_frame", "not a JSON object", NULL);
        else dispatch(c, frame);
        cJSON_Delete(frame);
    }
    kf_aws_unref(c);
}
