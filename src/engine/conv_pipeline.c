/* conv_pipeline.c — one customer message through the conversation engine.
 *
 *   resend? (history find_client_msg) ── yes → the stored ack and replies
 *   session (store/session.h) ── none → unknown (404) or ended (409)
 *   language → NLU or "/intent" quick reply → entities → dialogue
 *     (engine/dialogue.h; a webhook step waits for kf_webhook_call's answer)
 *   → response / FAQ / fallback (conv_reply.c)
 *   → ONE history append: the customer's message (masked) and the replies
 *   → session put (state, language, misses) → the completion → next job.
 *
 * The job is at the head of its conversation's mailbox the whole time, so
 * nothing else touches this conversation's session meanwhile.  Each async
 * step's completion runs on the job's loop (history and webhooks post there;
 * the in-process session store answers inline). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "engine/conv_int.h"
#include "engine/intent.h"
#include "loop/loop.h"
#include "nlu/mask.h"
#include "queue/webhook.h"

static int status_of_history(int rc) {
    switch (rc) {
    case KF_HISTORY_OK: return KF_CONV_OK;
    case KF_HISTORY_FULL: return KF_CONV_BUSY;
    case KF_HISTORY_NOMEM: return KF_CONV_NOMEM;
    case KF_HISTORY_INVALID: return KF_CONV_INVALID;
    case KF_HISTORY_NOTFOUND: return KF_CONV_NOTFOUND;
    case KF_HISTORY_SHUTDOWN: return KF_CONV_SHUTDOWN;
    default: return KF_CONV_ERR;
    }
}

/* ---- a resend: the first time's answer, from history ------------------ */

static void answer_duplicate(kf_conv_job_t *job, int64_t seq);

static void duplicate_posted(void *arg) {
    kf_conv_job_t *job = arg;
    answer_duplicate(job, job->dup_seq);
}

static void answer_duplicate(kf_conv_job_t *job, int64_t seq) {
    kf_conv_t *c = job->c;
    if (kf_conv_inline) { /* found inside kf_conv_message: answer from the loop */
        job->dup_seq = seq;
        if (kf_loop_post(job->loop, duplicate_posted, job) == 0) return;
    }
    kf_history_msgs_t ms = {0};
    char err[200];
    int rc = kf_history_fetch(c->history, job->conv_id, seq - 1, 1 + KF_CONV_MAX_REPLIES, &ms, err, sizeof err);
    if (rc != KF_HISTORY_OK || !ms.n || ms.v[0].seq != seq) {
        kf_history_msgs_free(&ms);
        kf_conv_job_fail(job, rc == KF_HISTORY_OK ? KF_CONV_ERR : status_of_history(rc), "the resent message's record is unreadable");
        return;
    }
    kf_conv_msg_t replies[KF_CONV_MAX_REPLIES];
    size_t n = 0;
    for (size_t i = 1; i < ms.n && ms.v[i].sender != KF_HISTORY_CUSTOMER && n < KF_CONV_MAX_REPLIES; i++)
        replies[n++] = (kf_conv_msg_t){ms.v[i].seq, ms.v[i].sender, ms.v[i].text, NULL, 0, ms.v[i].created_at_ms};
    const char *lang = job->lang[0] ? job->lang : kf_conv_bot_lang(c->bot, kf_conv_detect_lang(job->text, job->len));
    kf_conv_result_t r = {.status = KF_CONV_OK, .error = "", .conv_id = job->conv_id, .ack_seq = seq, .duplicate = 1,
                          .lang = lang, .intent = ms.v[0].intent, .confidence = ms.v[0].confidence,
                          .entities_json = ms.v[0].entities_json ? ms.v[0].entities_json : "[]",
                          .replies = replies, .n_replies = n};
    KF_CONV_COUNT(c, duplicates);
    kf_conv_job_finish(job, &r);
    kf_history_msgs_free(&ms);
}

/* ---- the end: session saved, completion called ------------------------ */

static void on_saved(const kf_session_result_t *r, void *ud) {
    (void)r; /* CONFLICT / NOTFOUND: the session ended meanwhile; the message is committed all the same */
    (void)ud;
}

static void save_session(kf_conv_job_t *job, int64_t last_seq) {
    char *state = kf_dlg_state_to_json(job->dlg);
    kf_session_t s = {.state_json = state, .profile_json = job->profile_json, .misses = job->misses,
                      .last_seq = last_seq};
    memcpy(s.id, job->conv_id, sizeof s.id);
    snprintf(s.language, sizeof s.language, "%s", job->lang);
    kf_session_put_async(job->c->sessions, &s, job->version, on_saved, NULL);
    free(state);
}

static void on_appended(const kf_history_result_t *hr, void *ud) {
    kf_conv_job_t *job = ud;
    kf_conv_t *c = job->c;
    if (hr->status != KF_HISTORY_OK) {
        kf_conv_job_fail(job, status_of_history(hr->status), hr->error);
        return;
    }
    if (hr->acks[0].state == KF_HISTORY_DUPLICATE) { /* resent through another node meanwhile */
        answer_duplicate(job, hr->acks[0].seq);
        return;
    }
    save_session(job, hr->acks[hr->nacks - 1].seq);
    kf_conv_msg_t replies[KF_CONV_MAX_REPLIES];
    for (size_t i = 0; i < job->n_out; i++)
        replies[i] = (kf_conv_msg_t){hr->acks[i + 1].seq, KF_HISTORY_BOT, job->out[i].text, job->out[i].qr,
                                     job->out[i].n_qr, job->created_ms};
    kf_conv_result_t r = {.status = KF_CONV_OK, .error = "", .conv_id = job->conv_id, .ack_seq = hr->acks[0].seq,
                          .lang = job->lang, .intent = job->intent[0] ? job->intent : NULL,
                          .confidence = job->confidence, .entities_json = job->entities_json,
                          .handoff_skill = job->handoff_skill, .replies = replies, .n_replies = job->n_out};
    atomic_fetch_add_explicit(&c->st.replies, job->n_out, memory_order_relaxed);
    kf_conv_job_finish(job, &r);
}

/* The customer's message and the bot's replies in one append: committed
 * together before anyone is told. */
static void commit(kf_conv_job_t *job) {
    kf_history_msg_t msgs[1 + KF_CONV_MAX_REPLIES];
    int64_t now = job->created_ms = kf_history_now_ms();
    msgs[0] = (kf_history_msg_t){.sender = KF_HISTORY_CUSTOMER, .text = job->masked, .client_msg_id = job->client_msg_id,
                                 .intent = job->intent[0] ? job->intent : NULL, .confidence = job->confidence,
                                 .entities_json = job->entities_json, .created_at_ms = now};
    for (size_t i = 0; i < job->n_out; i++)
        msgs[i + 1] = (kf_history_msg_t){.sender = KF_HISTORY_BOT, .text = job->out[i].text, .created_at_ms = now};
    char err[200];
    kf_history_cb_t cb = {job->loop, on_appended, job};
    int rc = kf_history_append(job->c->history, job->conv_id, msgs, 1 + job->n_out, KF_HISTORY_STOP_AT_DUPLICATE, cb, err,
                               sizeof err);
    if (rc != KF_HISTORY_OK) kf_conv_job_fail(job, status_of_history(rc), err);
}

/* ---- dialogue outcomes ------------------------------------------------- */

static void on_webhook(int ok, long status, const char *body, size_t len, void *ud);

static int add_dlg_msgs(kf_conv_job_t *job, const kf_dlg_out_t *out) {
    for (size_t i = 0; i < out->n_msgs; i++)
        if (kf_conv_add_text(job, out->msgs[i].text, out->msgs[i].quick_replies, out->msgs[i].n_quick_replies, 1) < 0)
            return -1;
    return 0;
}

/* Carries out one dialogue output; returns 1 when a webhook answer is awaited
 * (on_webhook continues), 0 when the answer is complete, -1 on no memory. */
static int apply(kf_conv_job_t *job, kf_dlg_out_t *out) {
    kf_conv_t *c = job->c;
    const kf_dlg_action_t *a = &out->action;
    if (a->kind == KF_DLG_ANSWER_INTENT) {
        if (kf_conv_answer_intent(job, a->intent) < 0) return -1;
        return add_dlg_msgs(job, out); /* a resume offer goes after the answer */
    }
    job->answered_by_flow = 1;
    if (add_dlg_msgs(job, out) < 0) return -1;
    if (a->kind == KF_DLG_HANDOFF) {
        job->handoff_skill = a->skill;
        KF_CONV_COUNT(c, handoffs);
        if (!out->n_msgs && kf_conv_add_response(job, "human_agent") < 0) return -1;
    } else if (a->kind == KF_DLG_FLOW_DONE) {
        if (a->outcome && !strcmp(a->outcome, "completed")) KF_CONV_COUNT(c, flows_completed);
    } else if (a->kind == KF_DLG_WEBHOOK) {
        const char *url = c->webhook_override ? c->webhook_override : a->url;
        if (kf_webhook_call(url, a->body, strlen(a->body), a->timeout_ms, job->conv_id, job->loop, on_webhook, job) == 0)
            return 1;
        /* Not even sent (sender not started, bad URL): the flow's failure path. */
        kf_dlg_out_t again;
        char err[200];
        int rc = kf_dlg_webhook_result(c->bot, job->dlg, 0, NULL, &again, err, sizeof err);
        rc = rc < 0 ? -1 : apply(job, &again);
        kf_dlg_out_free(&again);
        return rc;
    }
    return 0;
}

static void after_dialogue(kf_conv_job_t *job, const char *flow_before, int rc) {
    if (rc < 0) {
        kf_conv_job_fail(job, KF_CONV_NOMEM, "out of memory while answering");
        return;
    }
    if (job->answered_by_flow) job->misses = 0;
    const char *flow_after = kf_dlg_active_flow(job->dlg);
    if (flow_after && flow_after != flow_before) KF_CONV_COUNT(job->c, flows_started);
    commit(job);
}

static void on_webhook(int ok, long status, const char *body, size_t len, void *ud) {
    (void)status;
    (void)len;
    kf_conv_job_t *job = ud;
    kf_dlg_out_t out;
    char err[200];
    const char *flow_before = kf_dlg_active_flow(job->dlg);
    int rc = kf_dlg_webhook_result(job->c->bot, job->dlg, ok, ok ? body : NULL, &out, err, sizeof err);
    if (rc == 0) rc = apply(job, &out);
    kf_dlg_out_free(&out);
    if (rc == 1) return; /* a second webhook step: its answer continues */
    after_dialogue(job, flow_before, rc);
}

/* ---- understanding the message ----------------------------------------- */

static void understand(kf_conv_job_t *job) {
    kf_conv_t *c = job->c;
    const char *sent = job->text;
    if (sent[0] == '/' && kf_bot_has_intent(c->bot, sent + 1)) { /* a pressed quick reply */
        snprintf(job->intent, sizeof job->intent, "%s", sent + 1);
        job->confidence = 1.0;
    } else {
        kf_nlu_result_t nr;
        char err[128];
        if (kf_intent_predict(sent, job->len, &nr, err, sizeof err) == 0 && nr.intent) {
            snprintf(job->intent, sizeof job->intent, "%s", nr.intent);
            job->confidence = nr.confidence;
            job->out_of_scope = nr.out_of_scope;
        }
        const char *det = kf_conv_detect_lang(sent, job->len);
        if (det) snprintf(job->lang, sizeof job->lang, "%s", kf_conv_bot_lang(c->bot, det));
        int n = kf_ent_extract(NULL, sent, job->len, time(NULL), job->ents, KF_CONV_MAX_ENTS);
        job->n_ents = n > 0 ? n : 0;
    }
    if (!job->lang[0]) snprintf(job->lang, sizeof job->lang, "%s", kf_bot_default_language(c->bot));
}

static void process(kf_conv_job_t *job) {
    kf_conv_t *c = job->c;
    KF_CONV_COUNT(c, messages);
    understand(job);
    job->masked = kf_mask_dup(job->text, job->len, NULL);
    job->entities_json = kf_conv_entities_json(job->text, job->ents, job->n_ents);
    if (!job->masked || !job->entities_json) {
        kf_conv_job_fail(job, KF_CONV_NOMEM, "out of memory");
        return;
    }
    kf_dlg_input_t in = {job->intent[0] ? job->intent : NULL, job->confidence, job->out_of_scope, job->ents,
                         (size_t)job->n_ents, job->text, job->lang};
    kf_dlg_out_t out;
    char err[200];
    const char *flow_before = kf_dlg_active_flow(job->dlg);
    int rc = kf_dlg_handle(c->bot, job->dlg, &in, &out, err, sizeof err);
    if (rc == 0) rc = apply(job, &out);
    kf_dlg_out_free(&out);
    if (rc == 1) return; /* on_webhook continues */
    after_dialogue(job, flow_before, rc);
}

/* ---- the session -------------------------------------------------------- */

static void load_profile(kf_conv_job_t *job, const char *profile_json) {
    cJSON *p = profile_json ? cJSON_Parse(profile_json) : NULL;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
    if (cJSON_IsString(name)) job->name = strdup(name->valuestring);
    cJSON_Delete(p);
}

/* No session: the conversation is unknown, or it has ended.  An open one
 * without a session lost it (expiry not yet recorded, or a restart): it is
 * recorded as expired now, as the session store's expiry would have. */
static void session_missing(kf_conv_job_t *job) {
    kf_conv_t *c = job->c;
    kf_history_conv_t hc;
    char err[200];
    int rc = kf_history_get(c->history, job->conv_id, &hc, err, sizeof err);
    if (rc == KF_HISTORY_NOTFOUND) {
        kf_conv_job_fail(job, KF_CONV_NOTFOUND, "no such conversation");
        return;
    }
    if (rc != KF_HISTORY_OK) {
        kf_conv_job_fail(job, status_of_history(rc), err);
        return;
    }
    if (hc.status == KF_HISTORY_OPEN &&
        kf_history_close(c->history, job->conv_id, KF_HISTORY_EXPIRED, 0, NULL, (kf_history_cb_t){0}, err, sizeof err) ==
            KF_HISTORY_OK)
        KF_CONV_COUNT(c, conversations_expired);
    kf_history_conv_free(&hc);
    kf_conv_job_fail(job, KF_CONV_CLOSED, "the conversation has ended");
}

static void on_session(const kf_session_result_t *r, void *ud) {
    kf_conv_job_t *job = ud;
    if (r->status == KF_SESSION_NOTFOUND) {
        session_missing(job);
        return;
    }
    if (r->status != KF_SESSION_OK) {
        kf_conv_job_fail(job, KF_CONV_ERR, r->error && r->error[0] ? r->error : "session store failure");
        return;
    }
    const kf_session_t *s = r->session;
    char err[200];
    job->version = s->version;
    job->misses = s->misses;
    snprintf(job->lang, sizeof job->lang, "%s", s->language);
    job->profile_json = s->profile_json ? strdup(s->profile_json) : NULL;
    load_profile(job, s->profile_json);
    job->dlg = s->state_json ? kf_dlg_state_from_json(job->c->bot, s->state_json, err, sizeof err) : NULL;
    if (!job->dlg) job->dlg = kf_dlg_state_new(); /* a state the bot cannot read starts over */
    if (!job->dlg) {
        kf_conv_job_fail(job, KF_CONV_NOMEM, "out of memory");
        return;
    }
    process(job);
}

void kf_conv_run_message(kf_conv_job_t *job) {
    kf_conv_t *c = job->c;
    char err[200];
    if (job->client_msg_id) {
        int64_t seq = 0;
        int rc = kf_history_find_client_msg(c->history, job->conv_id, job->client_msg_id, &seq, err, sizeof err);
        if (rc == KF_HISTORY_OK && seq > 0) {
            answer_duplicate(job, seq);
            return;
        }
    }
    int rc = kf_session_get_async(c->sessions, job->conv_id, 0, on_session, job);
    if (rc != KF_SESSION_OK) kf_conv_job_fail(job, rc == KF_SESSION_NOMEM ? KF_CONV_NOMEM : KF_CONV_ERR, kf_session_strerror(rc));
}
