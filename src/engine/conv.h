/* conv.h — the conversation engine: what turns a customer's message into the
 * bot's reply, one conversation at a time and in order.
 *
 * Per message: mask → NLU (engine/intent.h) → dialogue (engine/dialogue.h:
 * continue the active flow or start one; webhooks via queue/webhook.h) →
 * response / FAQ (kb/kb.h) → fallback (two misses in a row: a rephrase
 * suggestion and an offer of a human).  The reply is in the language detected
 * for that message.
 *
 * Channels (REST routes, the WebSocket channel, `kefu chat`) call this API and
 * nothing below it.  Every call is asynchronous: it returns at once and its
 * completion runs later on the caller's loop (kf_loop_post), because the
 * durability rule needs the history write committed before anyone is told:
 * the customer's message and the bot's replies are appended in one batch and
 * the completion (which the channel turns into the ack and the replies) runs
 * only after that batch is committed.
 *
 * Ordering: messages of one conversation are processed one at a time, in the
 * order their kf_conv_message calls were made, whichever threads made them;
 * conversations never wait for each other and no loop ever blocks.  A resent
 * client_msg_id is never processed twice: its completion carries the seqs and
 * replies stored the first time (duplicate = 1).
 *
 * Sessions (store/session.h) hold the dialogue state, language, profile and
 * consecutive-miss counter between messages; a session that expires ends its
 * conversation (history status EXPIRED).  Texts are masked (nlu/mask.h)
 * before they are stored or logged. */
#ifndef KF_ENGINE_CONV_H
#define KF_ENGINE_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "bot/bot.h"
#include "store/history.h"
#include "store/session.h"

typedef struct kf_loop kf_loop_t;
typedef struct kf_kb kf_kb_t;
typedef struct kf_conv kf_conv_t;

/* Outcomes (completion status, or the return of a call that failed at once). */
enum {
    KF_CONV_OK = 0,
    KF_CONV_ERR = -1,        /* storage or internal failure (HTTP 500) */
    KF_CONV_BUSY = -2,       /* a queue is full: try later (HTTP 503 + Retry-After) */
    KF_CONV_NOMEM = -3,
    KF_CONV_INVALID = -4,    /* bad argument: id format, empty or too long text, csat range (HTTP 422) */
    KF_CONV_NOTFOUND = -5,   /* no such conversation (HTTP 404) */
    KF_CONV_CLOSED = -6,     /* the conversation has ended (closed or expired) (HTTP 409) */
    KF_CONV_SHUTDOWN = -7,   /* the engine is stopping (HTTP 503) */
};
const char *kf_conv_strerror(int code);

#define KF_CONV_MAX_TEXT 2000        /* code points per customer message */
#define KF_CONV_MAX_CLIENT_ID 64     /* bytes of a client_msg_id */
#define KF_CONV_MAX_PENDING 32       /* queued messages per conversation before BUSY */
#define KF_CONV_MAX_REPLIES 8        /* bot messages per customer message */

typedef struct {
    const kf_bot_t *bot;        /* required; read-only, outlives the engine */
    kf_kb_t *kb;                /* may be NULL: no FAQ answers */
    kf_history_t *history;      /* required */
    kf_session_store_t *sessions; /* required */
    double faq_min_score;       /* 0 = the bot's threshold "faq" or 0.35 */
    double intent_min_confidence; /* 0 = the bot's threshold "intent" or 0.5 */
    const char *webhook_override; /* NULL, or a URL every flow webhook goes to instead of bot.yml's (tests, staging) */
    unsigned sweep_interval_ms;   /* how often expired sessions are swept; 0 = 1000 */
} kf_conv_config_t;

kf_conv_t *kf_conv_new(const kf_conv_config_t *cfg, char *err, size_t errlen);
/* Waits for work in flight (completions still run), then frees. */
void kf_conv_free(kf_conv_t *c);

/* One message as a channel shows it.  Strings are valid while the completion runs. */
typedef struct {
    int64_t seq;
    kf_history_sender_t from;   /* KF_HISTORY_BOT, _AGENT or _SYSTEM for replies */
    const char *text;           /* as stored (masked) */
    const kf_bot_quick_reply_t *quick_replies;
    size_t n_quick_replies;
    int64_t created_at_ms;
} kf_conv_msg_t;

typedef struct {
    int status;                 /* KF_CONV_OK or a negative code */
    const char *error;          /* human-readable when status != OK, else "" */
    const char *conv_id;
    /* kf_conv_message: */
    int64_t ack_seq;            /* the customer's message */
    int duplicate;              /* a resent client_msg_id: nothing was processed again */
    const char *lang;           /* language the replies are in */
    const char *intent;         /* NLU top intent, NULL when none ("oos" when out of scope) */
    double confidence;
    const char *entities_json;  /* JSON array of the message's entities (masked), "[]" when none */
    const char *handoff_skill;  /* non-NULL: the conversation asks for a human with this skill */
    const kf_conv_msg_t *replies;
    size_t n_replies;
} kf_conv_result_t;

typedef void (*kf_conv_done_fn)(const kf_conv_result_t *r, void *ud);

/* Starts a conversation; profile may be NULL.  id_out gets the id at once
 * (tell nobody before the completion).  With a language in the profile the
 * greeting (if the bot has a "greeting" response) is stored as seq 1 and
 * returned as a reply. */
int kf_conv_create(kf_conv_t *c, const kf_history_profile_t *profile, kf_loop_t *loop, kf_conv_done_fn fn, void *ud,
                   char id_out[KF_HISTORY_ID_LEN + 1]);

/* A customer's message.  client_msg_id may be NULL (no resend detection).
 * Returns KF_CONV_OK (fn will run exactly once) or a negative code (fn never runs). */
int kf_conv_message(kf_conv_t *c, const char *conv_id, const char *text, size_t len, const char *client_msg_id,
                    kf_loop_t *loop, kf_conv_done_fn fn, void *ud);

/* 1 when s is a well-formed client_msg_id: 1..KF_CONV_MAX_CLIENT_ID of [A-Za-z0-9._:-]. */
int kf_conv_valid_client_id(const char *s);

/* Ends the conversation (status CLOSED); csat 0 = none, 1..5 otherwise.
 * Closing an ended conversation only records the rating. */
int kf_conv_close(kf_conv_t *c, const char *conv_id, int csat, const char *comment, kf_loop_t *loop,
                  kf_conv_done_fn fn, void *ud);

/* The session store's expiry handler: give it as kf_session_mem_config_t's
 * on_expire with expire_ud pointing to a kf_conv_t * variable that is set
 * once the engine exists (the store has to be made first).  It records the
 * conversation as EXPIRED in history. */
void kf_conv_session_expired(const kf_session_t *s, kf_session_end_t reason, void *ud);

/* Reads (synchronous, for GET routes and resume): the history store's. */
kf_history_t *kf_conv_history(kf_conv_t *c);

typedef struct {
    uint64_t messages, replies, duplicates, faq_answers, fallbacks, handoffs, flows_started, flows_completed;
    uint64_t conversations_started, conversations_closed, conversations_expired;
} kf_conv_stats_t;
void kf_conv_stats(kf_conv_t *c, kf_conv_stats_t *out);

#endif
