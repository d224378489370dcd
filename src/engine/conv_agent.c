/* conv_agent.c — what agents do to a conversation (conv.h, "human handoff"):
 * take it, write to the customer, hand it back to the bot, transfer it,
 * close it.  Each is a job in the conversation's mailbox like a customer
 * message, so its one stored message gets the next seq in order with the
 * customer's, and the router change and the message happen together as far
 * as anyone watching the conversation can tell.
 *
 * Steps: the session (touched, so an agent chat keeps it alive; none = the
 * conversation ended or does not exist) → the router change (refused with
 * KF_CONV_STATE when the conversation is not in a state for it) → one history
 * append (AGENT for a message, NOTE for an internal note, SYSTEM for the
 * notices) → events → the completion (replies[0] is the stored message).
 *
 * Events for the agents' consoles: "assigned" to the agent who took it,
 * "released" to the one who no longer has it (hand-back, transfer, close),
 * "note" to the one who has it; a note is never published on conv:<id>,
 * which the customer's widget follows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/conv_int.h"
#include "nlu/mask.h"
#include "router/routing.h"
#include "util/buf.h"

static int zh(const kf_conv_job_t *job) { return !strncmp(job->lang, "zh", 2); }

static kf_history_sender_t sender_of(const kf_conv_job_t *job) {
    return job->act == KF_CONV_ACT_MESSAGE ? KF_HISTORY_AGENT : job->act == KF_CONV_ACT_NOTE ? KF_HISTORY_NOTE : KF_HISTORY_SYSTEM;
}

static void publish_note(kf_conv_job_t *job) {
    kf_buf_t b;
    kf_buf_init(&b);
    kf_buf_printf(&b, "{\"type\":\"note\",\"conversation_id\":\"%s\",\"seq\":%lld,\"agent_id\":", job->conv_id,
                  (long long)job->seqs[0]);
    kf_buf_json_str(&b, job->author, strlen(job->author));
    kf_buf_puts(&b, ",\"text\":");
    kf_buf_json_str(&b, job->out[0].text, strlen(job->out[0].text));
    kf_buf_printf(&b, ",\"created_at\":%lld}", (long long)job->created_ms);
    kf_buf_append(&b, "", 1);
    if (!b.oom) kf_conv_ho_publish(job->c, "agent", job->prev_agent, b.data);
    kf_buf_free(&b);
}

/* After the commit: who should hear of it. */
static void publish_action(kf_conv_job_t *job) {
    static const char *const released[] = {[KF_CONV_ACT_HANDBACK] = "handed_back", [KF_CONV_ACT_TRANSFER] = "transferred",
                                            [KF_CONV_ACT_CLOSE] = "closed"};
    if (job->act == KF_CONV_ACT_NOTE) {
        if (job->prev_agent[0]) publish_note(job);
        return;
    }
    if (job->act == KF_CONV_ACT_HANDBACK || job->act == KF_CONV_ACT_TRANSFER || job->act == KF_CONV_ACT_CLOSE)
        kf_conv_ho_tell_agent(job->c, job->prev_agent, job->conv_id, 0, released[job->act]);
    if (job->act != KF_CONV_ACT_MESSAGE) kf_conv_desk_changed(job->c);
}

/* ---- the end ------------------------------------------------------------------ */

static void publish_ended(kf_conv_job_t *job) {
    char js[160];
    snprintf(js, sizeof js, "{\"type\":\"ended\",\"conversation_id\":\"%s\",\"status\":\"closed\"}", job->conv_id);
    kf_conv_ho_publish(job->c, "conv", job->conv_id, js);
}

static void finish(kf_conv_job_t *job) {
    kf_conv_msg_t m = {job->seqs[0], sender_of(job), job->out[0].text, NULL, 0, job->created_ms};
    if (job->act != KF_CONV_ACT_NOTE) kf_conv_ho_publish_msg(job->c, job->conv_id, &m);
    if (job->act == KF_CONV_ACT_CLOSE) publish_ended(job);
    publish_action(job);
    kf_conv_result_t r = {.status = KF_CONV_OK, .error = "", .conv_id = job->conv_id, .ack_seq = job->seqs[0],
                          .lang = job->lang, .entities_json = "[]", .replies = &m, .n_replies = 1};
    kf_conv_job_finish(job, &r);
}

static void on_closed(const kf_history_result_t *hr, void *ud) {
    kf_conv_job_t *job = ud;
    if (hr->status != KF_HISTORY_OK) {
        kf_conv_job_fail(job, KF_CONV_ERR, hr->error);
        return;
    }
    if (!hr->was_ended) {
        KF_CONV_COUNT(job->c, conversations_closed);
        kf_conv_held_ended(job->c, job->conv_id);
    }
    kf_session_del_async(job->c->sessions, job->conv_id, NULL, NULL);
    finish(job);
}

static void on_appended(const kf_history_result_t *hr, void *ud) {
    kf_conv_job_t *job = ud;
    if (hr->status != KF_HISTORY_OK) {
        kf_conv_job_fail(job, hr->status == KF_HISTORY_FULL ? KF_CONV_BUSY : KF_CONV_ERR, hr->error);
        return;
    }
    job->seqs[0] = hr->acks[0].seq;
    if (job->act != KF_CONV_ACT_CLOSE) {
        finish(job);
        return;
    }
    char err[200];
    kf_history_cb_t cb = {job->loop, on_closed, job};
    if (kf_history_close(job->c->history, job->conv_id, KF_HISTORY_CLOSED, 0, NULL, cb, err, sizeof err) != KF_HISTORY_OK)
        kf_conv_job_fail(job, KF_CONV_ERR, err);
}

static void store(kf_conv_job_t *job, const char *text) {
    int typed = job->act == KF_CONV_ACT_MESSAGE || job->act == KF_CONV_ACT_NOTE;
    if (kf_conv_add_text(job, text, NULL, 0, typed) < 0) {
        kf_conv_job_fail(job, KF_CONV_NOMEM, "out of memory");
        return;
    }
    job->created_ms = kf_history_now_ms();
    kf_history_msg_t m = {.sender = sender_of(job), .text = job->out[0].text, .created_at_ms = job->created_ms,
                          .author = typed && job->author[0] ? job->author : NULL};
    char err[200];
    kf_history_cb_t cb = {job->loop, on_appended, job};
    int rc = kf_history_append(job->c->history, job->conv_id, &m, 1, 0, cb, err, sizeof err);
    if (rc != KF_HISTORY_OK) kf_conv_job_fail(job, rc == KF_HISTORY_FULL ? KF_CONV_BUSY : KF_CONV_ERR, err);
}

/* ---- the router change and the notice ------------------------------------------ */

static int assign(kf_conv_job_t *job, const kf_routing_conv_info_t *info, int64_t now, char *text, size_t n) {
    kf_routing_t *r = job->c->routing;
    int rc = KF_ROUTING_ESTATE;
    int mine = info->state == KF_ROUTING_OFFERED && !strcmp(info->agent_id, job->agent_id);
    if (mine)
        rc = kf_routing_accept(r, job->conv_id, job->agent_id, now);
    else if (info->state != KF_ROUTING_ASSIGNED) /* picked from the queue, or offered to someone else */
        rc = kf_routing_transfer(r, job->conv_id, NULL, job->agent_id, now);
    /* the transfer offers it to this agent: taking it is accepting that offer
     * (info->state is from before the transfer, so it cannot tell) */
    if (rc == KF_ROUTING_OK && !mine) rc = kf_routing_accept(r, job->conv_id, job->agent_id, now);
    if (rc != KF_ROUTING_OK && rc != KF_ROUTING_ENOMEM) return rc;
    kf_conv_held_waited(job->c, now - info->enqueued_ms);
    char err[200]; /* the agent on the conversation's record: fire and forget, it is not the routing state */
    kf_history_assign(job->c->history, job->conv_id, job->agent_id, (kf_history_cb_t){0}, err, sizeof err);
    const char *name = job->name && job->name[0] ? job->name : job->agent_id;
    if (zh(job)) snprintf(text, n, "客服 %s 已加入对话", name);
    else snprintf(text, n, "Agent %s joined the conversation", name);
    char js[200];
    snprintf(js, sizeof js, "{\"type\":\"assigned\",\"conversation_id\":\"%s\"}", job->conv_id);
    kf_conv_ho_publish(job->c, "agent", job->agent_id, js);
    return KF_ROUTING_OK;
}

/* Out of the router: released when an agent had it, else it leaves its queue. */
static void let_go(kf_conv_job_t *job, const kf_routing_conv_info_t *info, int64_t now) {
    if (info->state == KF_ROUTING_ASSIGNED) kf_routing_release(job->c->routing, job->conv_id, now);
    else kf_routing_leave(job->c->routing, job->conv_id, now);
}

static int transfer(kf_conv_job_t *job, int64_t now, char *text, size_t n) {
    const char *skill = job->target_skill[0] ? job->target_skill : NULL;
    const char *agent = job->agent_id[0] ? job->agent_id : NULL;
    int rc = kf_routing_transfer(job->c->routing, job->conv_id, skill, agent, now);
    if (rc != KF_ROUTING_OK) return rc;
    KF_CONV_COUNT(job->c, handoffs_by_reason[KF_CONV_REASON_TRANSFER]);
    if (agent) kf_conv_desk_offered(job->c, job->conv_id, agent); /* the router offered it to that agent directly */
    kf_conv_held_set_reason(job->c, job->conv_id, KF_CONV_REASON_TRANSFER);
    kf_routing_conv_info_t info;
    size_t pos = 0, waiting = 0;
    kf_routing_conv_info(job->c->routing, job->conv_id, now, &info);
    if (kf_routing_position(job->c->routing, job->conv_id, &pos, &waiting) == KF_ROUTING_OK) {
        kf_conv_ho_notice(job->c, job->lang, info.skill, pos, text, n);
        kf_conv_ho_track(job->c, job->conv_id, info.skill, 0); /* 0: the next look publishes the position */
    } else if (zh(job)) {
        snprintf(text, n, "正在为您转接另一位客服");
    } else {
        snprintf(text, n, "You are being transferred to another agent");
    }
    return KF_ROUTING_OK;
}

/* KF_ROUTING_OK with the notice (or the agent's text) to store, else a routing error. */
static int act(kf_conv_job_t *job, char *text, size_t n) {
    kf_routing_t *r = job->c->routing;
    int64_t now = kf_history_now_ms();
    kf_routing_conv_info_t info;
    int held = r && kf_routing_conv_info(r, job->conv_id, now, &info) == KF_ROUTING_OK;
    if (held && info.state == KF_ROUTING_ASSIGNED) snprintf(job->prev_agent, sizeof job->prev_agent, "%s", info.agent_id);
    switch (job->act) {
    case KF_CONV_ACT_ASSIGN: return held ? assign(job, &info, now, text, n) : KF_ROUTING_ESTATE;
    case KF_CONV_ACT_MESSAGE:
    case KF_CONV_ACT_NOTE:
        if (!held || info.state != KF_ROUTING_ASSIGNED || (job->agent_id[0] && strcmp(info.agent_id, job->agent_id)))
            return KF_ROUTING_ESTATE;
        snprintf(text, n, "%s", job->text);
        return KF_ROUTING_OK;
    case KF_CONV_ACT_HANDBACK:
        if (!held) return KF_ROUTING_ESTATE;
        let_go(job, &info, now);
        snprintf(text, n, "%s", zh(job) ? "已为您转回智能助手" : "You are back with the virtual assistant");
        return KF_ROUTING_OK;
    case KF_CONV_ACT_TRANSFER: return held ? transfer(job, now, text, n) : KF_ROUTING_ESTATE;
    case KF_CONV_ACT_CLOSE:
        if (held) let_go(job, &info, now);
        snprintf(text, n, "%s",
                 zh(job) ? "客服已结束本次对话。请为本次服务评分（1–5）"
                         : "The agent has closed the conversation. Please rate this chat from 1 to 5");
        return KF_ROUTING_OK;
    }
    return KF_ROUTING_EINVAL;
}

static void run_action(kf_conv_job_t *job) {
    size_t cap = job->act == KF_CONV_ACT_MESSAGE || job->act == KF_CONV_ACT_NOTE ? job->len + 1 : 512;
    char *text = malloc(cap);
    if (!text) {
        kf_conv_job_fail(job, KF_CONV_NOMEM, "out of memory");
        return;
    }
    int rc = act(job, text, cap);
    if (rc == KF_ROUTING_OK) {
        if (job->act != KF_CONV_ACT_MESSAGE && job->act != KF_CONV_ACT_NOTE) kf_conv_ho_queue_moved(job->c);
        store(job, text);
    } else {
        kf_conv_job_fail(job, rc == KF_ROUTING_EINVAL || rc == KF_ROUTING_ENOENT ? KF_CONV_INVALID : KF_CONV_STATE,
                         rc == KF_ROUTING_EBUSY ? "the agent is not online or has no free capacity"
                                                : "the conversation is not in a state for this (waiting, or that agent's)");
    }
    free(text);
}

static void on_session(const kf_session_result_t *r, void *ud) {
    kf_conv_job_t *job = ud;
    if (r->status == KF_SESSION_OK) {
        snprintf(job->lang, sizeof job->lang, "%s",
                 r->session->language[0] ? r->session->language : kf_bot_default_language(job->c->bot));
        run_action(job);
        return;
    }
    if (r->status != KF_SESSION_NOTFOUND) {
        kf_conv_job_fail(job, KF_CONV_ERR, "session store failure");
        return;
    }
    kf_history_conv_t hc;
    char err[200];
    int rc = kf_history_get(job->c->history, job->conv_id, &hc, err, sizeof err);
    if (rc == KF_HISTORY_OK) kf_history_conv_free(&hc);
    kf_conv_job_fail(job, rc == KF_HISTORY_NOTFOUND ? KF_CONV_NOTFOUND : rc == KF_HISTORY_OK ? KF_CONV_CLOSED : KF_CONV_ERR,
                     rc == KF_HISTORY_NOTFOUND ? "no such conversation" : "the conversation has ended");
}

void kf_conv_run_agent(kf_conv_job_t *job) {
    if (kf_session_get_async(job->c->sessions, job->conv_id, 0, on_session, job) != KF_SESSION_OK)
        kf_conv_job_fail(job, KF_CONV_ERR, "session store failure");
}

/* ---- the calls ------------------------------------------------------------------ */

static int start(kf_conv_t *c, kf_conv_act_t a, const char *conv_id, const char *agent_id, kf_loop_t *loop,
                 kf_conv_done_fn fn, void *ud, kf_conv_job_t **out) {
    if (!c || !fn || !loop || !kf_history_valid_id(conv_id)) return KF_CONV_INVALID;
    if (agent_id && strlen(agent_id) >= KF_ROUTING_ID_MAX) return KF_CONV_INVALID;
    if (!c->routing) return KF_CONV_STATE;
    if (atomic_load(&c->stopping)) return KF_CONV_SHUTDOWN;
    kf_conv_job_t *job = kf_conv_job_new(c, KF_CONV_JOB_AGENT, conv_id, loop, fn, ud);
    if (!job) return KF_CONV_NOMEM;
    job->act = a;
    if (agent_id) snprintf(job->agent_id, sizeof job->agent_id, "%s", agent_id);
    *out = job;
    return KF_CONV_OK;
}

int kf_conv_assign(kf_conv_t *c, const char *conv_id, const char *agent_id, const char *agent_name, kf_loop_t *loop,
                   kf_conv_done_fn fn, void *ud) {
    kf_conv_job_t *job;
    if (!agent_id || !agent_id[0]) return KF_CONV_INVALID;
    int rc = start(c, KF_CONV_ACT_ASSIGN, conv_id, agent_id, loop, fn, ud, &job);
    if (rc != KF_CONV_OK) return rc;
    if (agent_name && !(job->name = strdup(agent_name))) {
        kf_conv_job_free(job);
        return KF_CONV_NOMEM;
    }
    return kf_conv_submit(c, job);
}

static int typed(kf_conv_t *c, kf_conv_act_t act, const char *conv_id, const char *agent_id, const char *text, size_t len,
                 kf_loop_t *loop, kf_conv_done_fn fn, void *ud) {
    kf_conv_job_t *job;
    long cps = text ? kf_conv_utf8_count(text, len) : -1;
    if (cps < 1 || cps > KF_CONV_MAX_TEXT) return KF_CONV_INVALID;
    int rc = start(c, act, conv_id, agent_id, loop, fn, ud, &job);
    if (rc != KF_CONV_OK) return rc;
    if (!(job->text = malloc(len + 1))) {
        kf_conv_job_free(job);
        return KF_CONV_NOMEM;
    }
    memcpy(job->text, text, len);
    job->text[len] = 0;
    job->len = len;
    if (agent_id) snprintf(job->author, sizeof job->author, "%s", agent_id);
    return kf_conv_submit(c, job);
}

int kf_conv_agent_message(kf_conv_t *c, const char *conv_id, const char *agent_id, const char *text, size_t len,
                          kf_loop_t *loop, kf_conv_done_fn fn, void *ud) {
    return typed(c, KF_CONV_ACT_MESSAGE, conv_id, agent_id, text, len, loop, fn, ud);
}

int kf_conv_agent_note(kf_conv_t *c, const char *conv_id, const char *agent_id, const char *text, size_t len,
                       kf_loop_t *loop, kf_conv_done_fn fn, void *ud) {
    return typed(c, KF_CONV_ACT_NOTE, conv_id, agent_id, text, len, loop, fn, ud);
}

int kf_conv_hand_back(kf_conv_t *c, const char *conv_id, kf_loop_t *loop, kf_conv_done_fn fn, void *ud) {
    kf_conv_job_t *job;
    int rc = start(c, KF_CONV_ACT_HANDBACK, conv_id, NULL, loop, fn, ud, &job);
    return rc == KF_CONV_OK ? kf_conv_submit(c, job) : rc;
}

int kf_conv_transfer(kf_conv_t *c, const char *conv_id, const char *skill, const char *agent_id, kf_loop_t *loop,
                     kf_conv_done_fn fn, void *ud) {
    kf_conv_job_t *job;
    if ((!skill || !skill[0]) == (!agent_id || !agent_id[0])) return KF_CONV_INVALID; /* exactly one target */
    if (skill && strlen(skill) >= KF_ROUTING_NAME_MAX) return KF_CONV_INVALID;
    int rc = start(c, KF_CONV_ACT_TRANSFER, conv_id, agent_id, loop, fn, ud, &job);
    if (rc != KF_CONV_OK) return rc;
    if (skill) snprintf(job->target_skill, sizeof job->target_skill, "%s", skill);
    return kf_conv_submit(c, job);
}

int kf_conv_agent_close(kf_conv_t *c, const char *conv_id, kf_loop_t *loop, kf_conv_done_fn fn, void *ud) {
    kf_conv_job_t *job;
    int rc = start(c, KF_CONV_ACT_CLOSE, conv_id, NULL, loop, fn, ud, &job);
    return rc == KF_CONV_OK ? kf_conv_submit(c, job) : rc;
}
