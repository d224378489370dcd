/* conv_int.h — internals of the conversation engine (engine/conv.h), shared
 * by its files:
 *   conv.c          the engine object, create / close, session expiry, stats
 *   conv_mailbox.c  per-conversation ordering: one job of a conversation at a time
 *   conv_pipeline.c one customer message: dedup, session, NLU, dialogue,
 *                   webhook, one history append, the completion
 *   conv_reply.c    choosing and rendering the bot's answer, language detection
 *   conv_handoff.c  handoff into the router, queue notices and positions, events
 *   conv_agent.c    agent jobs: assign, message, hand back, transfer, close
 *
 * A job is one call (message or close) waiting for or going through its
 * conversation's turn.  Every step of a job after the first runs on the
 * caller's loop (history and webhook completions are posted there), so a job
 * is only ever touched by one thread at a time and needs no lock of its own. */
#ifndef KF_ENGINE_CONV_INT_H
#define KF_ENGINE_CONV_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/conv.h"
#include "engine/dialogue.h"
#include "nlu/entities.h"

#define KF_CONV_STRIPES 64
#define KF_CONV_MAX_ENTS 16

typedef enum { KF_CONV_JOB_MESSAGE = 1, KF_CONV_JOB_CLOSE, KF_CONV_JOB_CREATE, KF_CONV_JOB_AGENT } kf_conv_job_kind_t;

/* What an agent job does (conv_agent.c). */
typedef enum {
    KF_CONV_ACT_ASSIGN = 1,
    KF_CONV_ACT_MESSAGE,
    KF_CONV_ACT_HANDBACK,
    KF_CONV_ACT_TRANSFER,
    KF_CONV_ACT_CLOSE,
    KF_CONV_ACT_NOTE
} kf_conv_act_t;

/* One reply being built: text owned, quick replies the bot's (or static). */
typedef struct {
    char *text;
    const kf_bot_quick_reply_t *qr;
    size_t n_qr;
    int system; /* stored with sender SYSTEM (the queue notice), not BOT */
} kf_conv_out_t;

typedef struct kf_conv_job kf_conv_job_t;
struct kf_conv_job {
    kf_conv_job_t *next; /* the conversation's queue */
    kf_conv_t *c;
    kf_conv_job_kind_t kind;
    char conv_id[KF_HISTORY_ID_LEN + 1];
    kf_loop_t *loop;
    kf_conv_done_fn fn;
    void *ud;
    /* message */
    char *text;
    size_t len;
    char *client_msg_id;
    uint64_t origin; /* the sender's bus subscription (kf_conv_message_from), 0 = none */
    /* close */
    int csat;
    int csat_new;          /* the conversation had no rating yet */
    char *comment;
    /* working state of a message */
    uint64_t version;      /* the session's, for the compare-and-set put */
    char *profile_json;    /* the session's, carried over */
    char *name;            /* profile name, for {name} in responses */
    int misses;
    char lang[KF_SESSION_LANG_MAX];
    kf_dlg_state_t *dlg;
    char *masked;
    char intent[64];       /* "" = none */
    double confidence;
    int out_of_scope;
    kf_ent_t ents[KF_CONV_MAX_ENTS];
    int n_ents;
    char *entities_json;
    kf_conv_out_t out[KF_CONV_MAX_REPLIES];
    size_t n_out;
    const char *handoff_skill; /* the bot's or static */
    int answered_by_flow;  /* the dialogue handled the message: not a miss */
    int64_t created_ms;    /* the time stored with the message and its replies */
    uint64_t seen[KF_SESSION_SEEN_WORDS]; /* the session's filter of client_msg_ids (conv_pipeline.c) */
    int64_t seqs[1 + KF_CONV_MAX_REPLIES]; /* committed: the message's seq, then its replies' */
    void (*after_seen)(kf_conv_job_t *job); /* what follows once the session holds this id */
    /* an answer found while the job ran inside kf_conv_message, kept for the loop */
    int64_t dup_seq;
    int fail_status;
    char *fail_error;
    /* handoff (conv_handoff.c): set once the router holds the conversation */
    int queued;
    size_t queue_pos;
    char queue_skill[48];
    int handoff_reason;    /* kf_conv_reason_t + 1 when the dialogue or the answer chose it; 0 = the routing policy decides */
    /* agent jobs (conv_agent.c) */
    kf_conv_act_t act;
    char agent_id[64];
    char target_skill[48];
    char prev_agent[64];   /* who had the conversation before this action ("" none) */
    char author[64];       /* an agent's message or note: who wrote it ("" an admin) */
};

struct kf_conv {
    const kf_bot_t *bot;
    kf_kb_t *kb;
    kf_history_t *history;
    kf_session_store_t *sessions;
    double faq_min, intent_min, oos_min;
    char *webhook_override;
    uint64_t sweep_ms;
    atomic_int stopping;
    atomic_long inflight;  /* accepted calls whose completion has not returned yet */
    /* Set when a session could neither be given a committed id's bit nor be
     * dropped: from then on no session's filter is trusted (conv_pipeline.c). */
    atomic_int seen_distrust;
    struct kf_conv_mailbox *mbox;
    /* handoff (conv_handoff.c) */
    kf_bus_t *bus;
    kf_routing_t *routing;
    double avg_handle_s;
    struct kf_conv_waiting *waiting; /* who is told their queue position */
    struct kf_conv_held *held;       /* handoff facts per escalated conversation (conv_held.c) */
    kf_conv_desk_hooks_t desk;
    /* housekeeping thread: sweeps the session store */
    pthread_t hk_thread;
    atomic_int hk_stop;
    int hk_started;
    struct {
        atomic_ulong messages, replies, duplicates, faq_answers, fallbacks, handoffs, flows_started, flows_completed;
        atomic_ulong conversations_started, conversations_closed, conversations_expired;
        atomic_ulong handoffs_by_reason[KF_CONV_N_REASONS], ended_contained, ended_escalated, csat_count, csat_sum;
        atomic_ulong waits, wait_buckets[KF_CONV_WAIT_BUCKETS], wait_sum_ms;
    } st;
};

#define KF_CONV_COUNT(c, f) atomic_fetch_add_explicit(&(c)->st.f, 1, memory_order_relaxed)

/* > 0 while a job runs inside the kf_conv_message / kf_conv_close call that
 * queued it.  Completions must not run then (conv.h: the call returns first),
 * so an answer known at once is posted to the job's loop instead. */
extern _Thread_local int kf_conv_inline;

/* conv_mailbox.c */
struct kf_conv_mailbox *kf_conv_mailbox_new(void);
void kf_conv_mailbox_free(struct kf_conv_mailbox *m);
/* Queues job behind its conversation's; returns KF_CONV_BUSY when that queue
 * is full, else OK and starts the job at once (on this thread) when it is the
 * only one. */
int kf_conv_mailbox_push(kf_conv_t *c, kf_conv_job_t *job);
/* The job at the head of its conversation is finished (its completion has
 * run): frees it and starts the next one on that job's loop. */
void kf_conv_mailbox_done(kf_conv_t *c, kf_conv_job_t *job);
void kf_conv_job_free(kf_conv_job_t *job);

/* conv_pipeline.c / conv.c: running a job at the head of its queue. */
void kf_conv_run_job(kf_conv_job_t *job);
void kf_conv_run_message(kf_conv_job_t *job);
void kf_conv_run_close(kf_conv_job_t *job);
/* Ends the job: calls its completion with a bare status, then the mailbox. */
void kf_conv_job_fail(kf_conv_job_t *job, int status, const char *error);
/* Calls the completion and releases the job (status OK or not). */
void kf_conv_job_finish(kf_conv_job_t *job, const kf_conv_result_t *r);

/* conv_handoff.c */
int kf_conv_ho_init(kf_conv_t *c, const kf_conv_config_t *cfg);
void kf_conv_ho_free(kf_conv_t *c);
/* 1 while the router holds the conversation: the bot stays silent. */
int kf_conv_ho_active(kf_conv_t *c, const char *conv_id);
/* Before the commit: a handoff asked for (or an intent that always goes to
 * a person) is enqueued and the queue notice added to job->out.  -1: no memory. */
int kf_conv_ho_enqueue(kf_conv_job_t *job);
/* The conversation ended (closed by the customer, expired): out of the router. */
void kf_conv_ho_forget(kf_conv_t *c, const char *conv_id);
/* A job failed after enqueueing: the customer leaves the queue again. */
void kf_conv_ho_undo(kf_conv_job_t *job);
/* After the commit: the job's messages and queue position as events. */
void kf_conv_ho_publish_job(kf_conv_job_t *job);
void kf_conv_ho_publish_msg(kf_conv_t *c, const char *conv_id, const kf_conv_msg_t *m);
void kf_conv_ho_publish(kf_conv_t *c, const char *kind, const char *id, const char *json);
/* Publishes offer_withdrawn (offered) or released on agent:<agent_id>. */
void kf_conv_ho_tell_agent(kf_conv_t *c, const char *agent_id, const char *conv_id, int offered, const char *reason);
/* Someone left a queue or was assigned: tells every waiting customer whose position changed. */
void kf_conv_ho_queue_moved(kf_conv_t *c);
/* Starts following conv_id's position (it was just enqueued or transferred to a queue). */
void kf_conv_ho_track(kf_conv_t *c, const char *conv_id, const char *skill, size_t pos);
/* The notice "You are being connected..." in lang, into out. */
void kf_conv_ho_notice(kf_conv_t *c, const char *lang, const char *skill, size_t pos, char *out, size_t n);
int64_t kf_conv_ho_eta_s(kf_conv_t *c, size_t pos);

/* conv_held.c: the handoff facts (kf_conv_handoff_t) of escalated conversations */
int kf_conv_held_init(kf_conv_t *c);
void kf_conv_held_free(kf_conv_t *c);
/* Records (or replaces) h; -1 when out of memory (the facts are then missing from the console). */
int kf_conv_held_put(kf_conv_t *c, const kf_conv_handoff_t *h);
/* The conversation ended: its facts go, and it counts as contained or escalated. */
void kf_conv_held_ended(kf_conv_t *c, const char *conv_id);
/* Forgets without counting; 1 when it was there. */
int kf_conv_held_drop(kf_conv_t *c, const char *conv_id);
void kf_conv_held_set_reason(kf_conv_t *c, const char *conv_id, kf_conv_reason_t r);
/* Fills h's summary from the stored conversation plus the message being handled. */
void kf_conv_held_summarise(kf_conv_t *c, const char *conv_id, const char *text, const char *intent, kf_conv_handoff_t *h);
/* A person took the conversation after waiting wait_ms. */
void kf_conv_held_waited(kf_conv_t *c, int64_t wait_ms);
/* Tells the desk the queues may have changed. */
void kf_conv_desk_changed(kf_conv_t *c);
void kf_conv_desk_offered(kf_conv_t *c, const char *conv_id, const char *agent_id);

/* conv.c: for the other kinds of job */
kf_conv_job_t *kf_conv_job_new(kf_conv_t *c, kf_conv_job_kind_t kind, const char *conv_id, kf_loop_t *loop,
                               kf_conv_done_fn fn, void *ud);
/* Queues a job; on refusal frees it and returns the code (fn never runs). */
int kf_conv_submit(kf_conv_t *c, kf_conv_job_t *job);
/* Code points of valid UTF-8 without NUL, or -1. */
long kf_conv_utf8_count(const char *s, size_t len);

/* conv_agent.c */
void kf_conv_run_agent(kf_conv_job_t *job);

/* conv_reply.c */
/* "zh" for Han script, "en" for Latin words, else NULL (no signal: keep the session's). */
const char *kf_conv_detect_lang(const char *text, size_t len);
/* A language of the bot: lang when the bot has it, else the bot's default. */
const char *kf_conv_bot_lang(const kf_bot_t *bot, const char *lang);
/* Appends the answer for intent (response, FAQ, fallback, two-miss offer) to job->out. */
int kf_conv_answer_intent(kf_conv_job_t *job, const char *intent);
/* Appends the bot's response for intent (variation chosen, {slot} fields
 * filled); 0 when the bot has none, 1 when added, -1 on no memory. */
int kf_conv_add_response(kf_conv_job_t *job, const char *intent);
/* mask: the text may hold what the customer typed (flow slots), so it is
 * masked like the customer's message; the bot's own texts are kept as written. */
int kf_conv_add_text(kf_conv_job_t *job, const char *text, const kf_bot_quick_reply_t *qr, size_t n_qr, int mask);
/* Entities as the JSON array stored with the message (values and texts masked). */
char *kf_conv_entities_json(const char *text, const kf_ent_t *ents, int n);

#endif
