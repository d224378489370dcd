/* conv_pipeline.c — one customer message through the conversation engine.
 *
 *   session (store/session.h) ── none → resend? (history) → the stored
 *       answer, else unknown (404) or ended (409)
 *   resend? only when the session's filter may hold the client_msg_id
 *       (history find_client_msg_async: answered by the writer, in write
 *       order) ── yes → the stored ack and replies
 *   language → NLU or "/intent" quick reply → entities → dialogue
 *     (engine/dialogue.h; a webhook step waits for kf_webhook_call's answer)
 *   → response / FAQ / fallback (conv_reply.c)
 *   → ONE history append: the customer's message (masked) and the replies
 *   → session put (state, language, misses, the id's filter bits)
 *   → the completion → next job.
 *
 * The job is at the head of its conversation's mailbox the whole time, so
 * nothing else touches this conversation's session meanwhile.  Each async
 * step's completion runs on the job's loop (history and webhooks post there;
 * the in-process session store answers inline).
 *
 * Resends without a SQLite read.  Reading history for every message's
 * client_msg_id cost ~6-9 us of the ~63 us of server CPU per chat message
 * (each writer commit invalidates the reader's page cache).  Instead every
 * session carries a 512-bit Bloom filter (k = 4) of the client_msg_ids its
 * conversation committed during the session's life (kf_session_t.seen_ids);
 * when the filter says "absent" the message is new and history is not read,
 * when it says "maybe" the writer looks the id up on its own connection (a
 * false positive costs one indexed lookup there and a trip through the
 * write queue; ~1% at 50 ids, ~9% at 100, a third at 200, which long
 * benchmark conversations reach: read on the loop it was ~7% of its CPU,
 * because every commit empties a reader's page cache).  Why it cannot miss
 * a resend:
 *   - A session is created only with its conversation (conv.c, a fresh
 *     random id, no messages yet), and a conversation whose session is gone
 *     has ended: a message without a session never skips the read.
 *   - Every customer message is committed by a job at the head of its
 *     conversation's mailbox, and that job does not finish (so the next job
 *     cannot read the session) until the session holds the id's bits: the
 *     put after the commit sets them; if that put fails (conflict, store
 *     error, a state too big to store), the current session is read again
 *     and put back with the bits added (compare-and-set); if that fails too
 *     the session is deleted (the conversation ends, and its next message
 *     reads history); if even the delete fails, the engine stops trusting
 *     every filter for the rest of its life.  The same happens when the
 *     append itself finds the id already stored.
 *   - Filter bits are only ever added, and a session's filter passes from
 *     one put to the next through the job that read it.
 * So a session present when a message arrives holds the bits of every
 * client_msg_id committed in its conversation.  Behind all this the append
 * still refuses a stored client_msg_id (KF_HISTORY_STOP_AT_DUPLICATE).
 * Measured 2026-11-25 (bench/run.sh BENCH_ONLY=ws BENCH_DURATION=5, 1,000
 * connections, four runs each, alternated with the history read on every
 * message; medians of server CPU per message): --threads 2 closed loop
 * 59.7 -> 52.9 us, paced at 20,000/s 58.7 -> 53.5 us; --threads 1 pinned
 * 63.8 -> 56.9 us.  msg/s, in the one run pair on an otherwise idle box:
 * 20,023 -> 20,664 (--threads 2), 13,825 -> 14,521 (--threads 1).  The
 * filter adds 64 bytes per session (idle connection after hello: 9.6 ->
 * 9.7 KiB). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "engine/conv_int.h"
#include "engine/intent.h"
#include "loop/loop.h"
#include "nlu/mask.h"
#include "obs/log.h"
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
        if (ms.v[i].sender != KF_HISTORY_NOTE) replies[n++] = (kf_conv_msg_t){ms.v[i].seq, ms.v[i].sender, ms.v[i].text, NULL, 0, ms.v[i].created_at_ms};
    const char *lang = job->lang[0] ? job->lang : kf_conv_bot_lang(c->bot, kf_conv_detect_lang(job->text, job->len));
    kf_conv_result_t r = {.status = KF_CONV_OK, .error = "", .conv_id = job->conv_id, .ack_seq = seq, .duplicate = 1,
                          .lang = lang, .intent = ms.v[0].intent, .confidence = ms.v[0].confidence,
                          .entities_json = ms.v[0].entities_json ? ms.v[0].entities_json : "[]",
                          .replies = replies, .n_replies = n};
    KF_CONV_COUNT(c, duplicates);
    kf_conv_job_finish(job, &r);
    kf_history_msgs_free(&ms);
}

/* ---- the filter of client_msg_ids ------------------------------------- */

/* FNV-1a, then a 64-bit finaliser so that ids differing in one character
 * spread over the whole word; fixed (no seed) so that any node reading a
 * session computes the same bits. */
static uint64_t seen_hash(const char *id) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

#define SEEN_BITS (KF_SESSION_SEEN_WORDS * 64)
#define SEEN_K 4

static void seen_add(uint64_t f[KF_SESSION_SEEN_WORDS], const char *id) {
    uint64_t h = seen_hash(id);
    for (int i = 0; i < SEEN_K; i++, h >>= 9) {
        unsigned b = (unsigned)(h % SEEN_BITS);
        f[b / 64] |= 1ull << (b % 64);
    }
}

static int seen_maybe(const uint64_t f[KF_SESSION_SEEN_WORDS], const char *id) {
    uint64_t h = seen_hash(id);
    for (int i = 0; i < SEEN_K; i++, h >>= 9) {
        unsigned b = (unsigned)(h % SEEN_BITS);
        if (!(f[b / 64] & (1ull << (b % 64)))) return 0;
    }
    return 1;
}

/* Calls job->after_seen; the session holds the id's bits now, or there is
 * no session, or filters are no longer trusted. */
static void seen_done(kf_conv_job_t *job) { job->after_seen(job); }

static void on_seen_dropped(const kf_session_result_t *r, void *ud) {
    kf_conv_job_t *job = ud;
    if (r->status != KF_SESSION_OK && r->status != KF_SESSION_NOTFOUND)
        atomic_store(&job->c->seen_distrust, 1); /* a session without the bits may still be there */
    seen_done(job);
}

/* Last resort: no session, no filter to trust. */
static void seen_drop(kf_conv_job_t *job) {
    kf_log(KF_LOG_WARN, "session dropped: its resend filter could not be saved", "conversation_id", 's', job->conv_id,
           NULL);
    if (kf_session_del_async(job->c->sessions, job->conv_id, on_seen_dropped, job) != KF_SESSION_OK) {
        atomic_store(&job->c->seen_distrust, 1);
        seen_done(job);
    }
}

static void on_seen_put(const kf_session_result_t *r, void *ud) {
    kf_conv_job_t *job = ud;
    if (r->status == KF_SESSION_OK || r->status == KF_SESSION_NOTFOUND) seen_done(job);
    else seen_drop(job); /* changed again meanwhile (another node) or a store error */
}

static void on_seen_get(const kf_session_result_t *r, void *ud) {
    kf_conv_job_t *job = ud;
    if (r->status == KF_SESSION_NOTFOUND) {
        seen_done(job);
        return;
    }
    if (r->status != KF_SESSION_OK) {
        seen_drop(job);
        return;
    }
    kf_session_t s = *r->session; /* its strings stay the store's: put copies them */
    seen_add(s.seen_ids, job->client_msg_id);
    if (kf_session_put_async(job->c->sessions, &s, r->session->version, on_seen_put, job) != KF_SESSION_OK)
        seen_drop(job);
}

/* The session as it is now, with this job's id added (the put that would
 * have carried the bits failed, or there was none to make). */
static void seen_repair(kf_conv_job_t *job) {
    if (kf_session_get_async(job->c->sessions, job->conv_id, KF_SESSION_PEEK, on_seen_get, job) != KF_SESSION_OK)
        seen_drop(job);
}

/* ---- the end: session saved, completion called ------------------------ */

static void finish_committed(kf_conv_job_t *job) {
    kf_conv_t *c = job->c;
    kf_conv_msg_t replies[KF_CONV_MAX_REPLIES];
    for (size_t i = 0; i < job->n_out; i++)
        replies[i] = (kf_conv_msg_t){job->seqs[i + 1], job->out[i].system ? KF_HISTORY_SYSTEM : KF_HISTORY_BOT,
                                     job->out[i].text, job->out[i].qr, job->out[i].n_qr, job->created_ms};
    kf_conv_result_t r = {.status = KF_CONV_OK, .error = "", .conv_id = job->conv_id, .ack_seq = job->seqs[0],
                          .lang = job->lang, .intent = job->intent[0] ? job->intent : NULL,
                          .confidence = job->confidence, .entities_json = job->entities_json,
                          .handoff_skill = job->handoff_skill, .replies = replies, .n_replies = job->n_out};
    atomic_fetch_add_explicit(&c->st.replies, job->n_out, memory_order_relaxed);
    kf_conv_ho_publish_job(job); /* delivered later, on each subscriber's loop: after this completion */
    job->queued = 0;            /* stored: a failure from here on no longer undoes the enqueue */
    kf_conv_job_finish(job, &r);
}

static void on_saved(const kf_session_result_t *r, void *ud) {
    kf_conv_job_t *job = ud;
    /* NOTFOUND: the session ended meanwhile; the message is committed all the same. */
    if (r->status == KF_SESSION_OK || r->status == KF_SESSION_NOTFOUND || !job->client_msg_id) seen_done(job);
    else seen_repair(job);
}

/* The job finishes only once the put is answered: the next job of the
 * conversation must read a session that holds this id's bits. */
static void save_session(kf_conv_job_t *job, int64_t last_seq) {
    char *state = kf_dlg_state_to_json(job->dlg);
    kf_session_t s = {.state_json = state, .profile_json = job->profile_json, .misses = job->misses,
                      .last_seq = last_seq};
    memcpy(s.id, job->conv_id, sizeof s.id);
    snprintf(s.language, sizeof s.language, "%s", job->lang);
    memcpy(s.seen_ids, job->seen, sizeof s.seen_ids);
    if (job->client_msg_id) seen_add(s.seen_ids, job->client_msg_id);
    job->after_seen = finish_committed;
    int rc = kf_session_put_async(job->c->sessions, &s, job->version, on_saved, job);
    free(state);
    if (rc != KF_SESSION_OK) { /* refused (a state too big, no memory): no bits stored */
        if (job->client_msg_id) seen_repair(job);
        else seen_done(job);
    }
}

static void duplicate_seen(kf_conv_job_t *job) { answer_duplicate(job, job->dup_seq); }

static void on_appended(const kf_history_result_t *hr, void *ud) {
    kf_conv_job_t *job = ud;
    if (hr->status != KF_HISTORY_OK) {
        kf_conv_job_fail(job, status_of_history(hr->status), hr->error);
        return;
    }
    if (hr->acks[0].state == KF_HISTORY_DUPLICATE) {
        /* Stored already (resent through another node meanwhile, or this
         * session's filter lost its bits): the session gets them, so a
         * further resend reads history before anything is processed. */
        job->dup_seq = hr->acks[0].seq;
        kf_conv_ho_undo(job); /* this attempt's queue notice was not stored */
        job->after_seen = duplicate_seen;
        seen_repair(job);
        return;
    }
    for (size_t i = 0; i < hr->nacks && i < 1 + KF_CONV_MAX_REPLIES; i++) job->seqs[i] = hr->acks[i].seq;
    save_session(job, hr->acks[hr->nacks - 1].seq);
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
        msgs[i + 1] = (kf_history_msg_t){.sender = job->out[i].system ? KF_HISTORY_SYSTEM : KF_HISTORY_BOT,
                                         .text = job->out[i].text, .created_at_ms = now};
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
        /* A resume offer goes after the answer, unless the answer hands the
         * customer to a person: the flow stays paused for when the bot has them back. */
        return job->handoff_skill ? 0 : add_dlg_msgs(job, out);
    }
    job->answered_by_flow = 1;
    if (add_dlg_msgs(job, out) < 0) return -1;
    if (a->kind == KF_DLG_HANDOFF) {
        job->handoff_skill = a->skill;
        job->handoff_reason = 1 + KF_CONV_REASON_FLOW;
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
    if (kf_conv_ho_enqueue(job) < 0) {
        kf_conv_job_fail(job, KF_CONV_NOMEM, "out of memory while handing off");
        return;
    }
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
    if (kf_conv_ho_active(c, job->conv_id)) { /* a person has it: stored and published, not answered */
        commit(job);
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
            KF_HISTORY_OK) {
        KF_CONV_COUNT(c, conversations_expired);
        kf_log(KF_LOG_WARN, "open conversation without a session: ended as expired", "conversation_id", 's',
               job->conv_id, NULL);
    }
    kf_history_conv_free(&hc);
    kf_conv_job_fail(job, KF_CONV_CLOSED, "the conversation has ended");
}

/* 1 when history holds the job's client_msg_id: the job is answered with
 * the first time's ack and replies.  A failed read counts as "not stored":
 * the append refuses a stored id all the same. */
static int answered_as_resend(kf_conv_job_t *job) {
    int64_t seq = 0;
    char err[200];
    int rc = kf_history_find_client_msg(job->c->history, job->conv_id, job->client_msg_id, &seq, err, sizeof err);
    if (rc != KF_HISTORY_OK || seq <= 0) return 0;
    answer_duplicate(job, seq);
    return 1;
}

static void on_resend_checked(const kf_history_result_t *hr, void *ud) {
    kf_conv_job_t *job = ud;
    if (hr->status == KF_HISTORY_OK && hr->found_seq > 0) answer_duplicate(job, hr->found_seq);
    else process(job); /* a failed check counts as "not stored": the append refuses a stored id all the same */
}

/* The filter says the id may have been seen: the writer answers, in write
 * order, so the loop neither reads SQLite nor waits. */
static void check_resend(kf_conv_job_t *job) {
    char err[200];
    kf_history_cb_t cb = {job->loop, on_resend_checked, job};
    if (kf_history_find_client_msg_async(job->c->history, job->conv_id, job->client_msg_id, cb, err, sizeof err) !=
        KF_HISTORY_OK)
        process(job);
}

static void on_session(const kf_session_result_t *r, void *ud) {
    kf_conv_job_t *job = ud;
    if (r->status != KF_SESSION_OK) {
        /* No session: a resend of a message of an ended conversation is
         * still answered with its ack. */
        if (job->client_msg_id && answered_as_resend(job)) return;
        if (r->status == KF_SESSION_NOTFOUND) session_missing(job);
        else kf_conv_job_fail(job, KF_CONV_ERR, r->error && r->error[0] ? r->error : "session store failure");
        return;
    }
    const kf_session_t *s = r->session;
    int maybe_resend = job->client_msg_id && (seen_maybe(s->seen_ids, job->client_msg_id) ||
                                              atomic_load_explicit(&job->c->seen_distrust, memory_order_relaxed));
    char err[200];
    memcpy(job->seen, s->seen_ids, sizeof job->seen);
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
    if (maybe_resend) check_resend(job);
    else process(job);
}

void kf_conv_run_message(kf_conv_job_t *job) {
    int rc = kf_session_get_async(job->c->sessions, job->conv_id, 0, on_session, job);
    if (rc != KF_SESSION_OK) kf_conv_job_fail(job, rc == KF_SESSION_NOMEM ? KF_CONV_NOMEM : KF_CONV_ERR, kf_session_strerror(rc));
}
