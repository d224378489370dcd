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
typedef struct kf_bus kf_bus_t;
typedef struct kf_routing kf_routing_t;

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
    KF_CONV_STATE = -8,      /* not in a routing state that allows it: not waiting, not that agent's (HTTP 409) */
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
    kf_bus_t *bus;                /* NULL: no events (engine/conv_handoff.c lists them) */
    kf_routing_t *routing;        /* NULL: a handoff is only reported (handoff_skill); see kf_conv_set_routing */
    double avg_handle_s;          /* the estimated wait is position x this; 0 = 180 s */
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
/* The same, from a channel that follows the conversation's events itself and
 * gets this message's ack and replies from fn (the customer's WebSocket):
 * origin is its subscription's kf_bus_sub_id.  The message's events are then
 * published only when someone else listens. */
int kf_conv_message_from(kf_conv_t *c, const char *conv_id, const char *text, size_t len, const char *client_msg_id,
                         uint64_t origin, kf_loop_t *loop, kf_conv_done_fn fn, void *ud);

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
kf_session_store_t *kf_conv_sessions(kf_conv_t *c);

/* Why a conversation reached a person. */
typedef enum {
    KF_CONV_REASON_CUSTOMER_REQUEST = 0, /* the customer asked for a human */
    KF_CONV_REASON_FLOW,                 /* a flow's handoff step */
    KF_CONV_REASON_FALLBACK,             /* asked for a human after the bot failed twice in a row */
    KF_CONV_REASON_COMPLAINT,            /* a complaint intent or a strongly negative message */
    KF_CONV_REASON_RULE,                 /* a bot.yml routing rule */
    KF_CONV_REASON_COMPLEXITY,           /* the query was too complex for the bot */
    KF_CONV_REASON_TRANSFER,             /* an agent transferred it (counted apart from handoffs) */
    KF_CONV_N_REASONS
} kf_conv_reason_t;
const char *kf_conv_reason_name(kf_conv_reason_t r); /* "customer_request" ... */

/* Waits from handoff to an agent taking the conversation, in seconds (upper bounds). */
#define KF_CONV_WAIT_BUCKETS 9
extern const double kf_conv_wait_bounds_s[KF_CONV_WAIT_BUCKETS];

typedef struct {
    uint64_t messages, replies, duplicates, faq_answers, fallbacks, handoffs, flows_started, flows_completed;
    uint64_t conversations_started, conversations_closed, conversations_expired;
    uint64_t handoffs_by_reason[KF_CONV_N_REASONS];
    /* ended (closed or expired) conversations: contained = never handed to a person */
    uint64_t ended_contained, ended_escalated;
    uint64_t csat_count, csat_sum;
    uint64_t waits, wait_buckets[KF_CONV_WAIT_BUCKETS]; /* not cumulative; waits = all */
    double wait_sum_s;
} kf_conv_stats_t;
void kf_conv_stats(kf_conv_t *c, kf_conv_stats_t *out);

/* ---- human handoff (conv_handoff.c, conv_agent.c) -------------------------
 * With a router, a handoff (the customer asks for a human, a flow's handoff
 * step, the two-miss offer taken, an intent of the routing config's
 * human_intents such as complaint) enqueues the conversation with the
 * routing policy's priority and stores a system message with the queue
 * position and an estimated wait (position x avg_handle_s).  While the
 * router holds the conversation (waiting, offered or assigned) the bot is
 * silent: customer messages are stored, acked and published, never answered.
 * The router is the one record of that state (in memory, like the sessions).
 *
 * Events on the bus (JSON): every stored message on conv:<id> as
 * {"type":"message","conversation_id","seq","from","text","quick_replies","created_at"};
 * {"type":"queue","conversation_id","skill","position","eta_s"} on conv:<id>
 * and skill:<skill> at enqueue and whenever a waiting customer's position
 * changes (an assignment, a hand-back, a transfer or a close ahead of them);
 * {"type":"assigned","conversation_id"} on agent:<id>;
 * {"type":"ended","conversation_id","status":"closed"} on conv:<id> when an agent closes.
 *
 * The calls below run in the conversation's order like kf_conv_message;
 * each stores one message (its seq in ack_seq, the message in replies[0]). */

/* What the engine knows about a conversation that reached the router, kept
 * from its handoff until it ends (also after a hand-back: it was escalated). */
typedef struct {
    char conv_id[KF_HISTORY_ID_LEN + 1];
    kf_conv_reason_t reason;
    char skill[48];           /* where it was first queued */
    char lang[16];
    char intent[64];          /* of the message that handed off; "" none */
    char customer_name[64], user_id[64];
    int vip_tier;
    int64_t handoff_ms;       /* wall clock */
    char summary[320];        /* the bot conversation in one line: intents seen, the customer's last words */
} kf_conv_handoff_t;
/* 0 and *out, or -1 when the conversation never reached the router (or ended). */
int kf_conv_handoff_get(kf_conv_t *c, const char *conv_id, kf_conv_handoff_t *out);

/* The agents' desk (engine/desk.h) hears from the engine, on any thread:
 * changed — after anything that may change the queues or allow an offer (a
 * handoff, an agent action, a conversation ending); offered — a transfer
 * offered conv_id straight to agent_id (offers the router makes otherwise
 * come from the desk itself). */
typedef struct {
    void (*changed)(void *ud);
    void (*offered)(void *ud, const char *conv_id, const char *agent_id);
    void *ud;
} kf_conv_desk_hooks_t;
/* hooks NULL: unhook. */
void kf_conv_set_desk(kf_conv_t *c, const kf_conv_desk_hooks_t *hooks);
/* Offers moved customers out of their queues: tell those behind their new position. */
void kf_conv_queues_moved(kf_conv_t *c);

/* The router, when it is made after the engine (kefu serve).  Call before
 * any channel uses the engine. */
void kf_conv_set_routing(kf_conv_t *c, kf_routing_t *routing);
kf_bus_t *kf_conv_bus(kf_conv_t *c);

/* agent_id takes the conversation (it must be waiting or offered to them):
 * system message "Agent <name> joined". */
int kf_conv_assign(kf_conv_t *c, const char *conv_id, const char *agent_id, const char *agent_name, kf_loop_t *loop,
                   kf_conv_done_fn fn, void *ud);
/* A message from the assigned agent (agent_id NULL or "": an admin, any
 * assigned agent's conversation).  Stored with sender AGENT. */
int kf_conv_agent_message(kf_conv_t *c, const char *conv_id, const char *agent_id, const char *text, size_t len,
                          kf_loop_t *loop, kf_conv_done_fn fn, void *ud);
/* The bot takes over again (from waiting or assigned): system message. */
int kf_conv_hand_back(kf_conv_t *c, const char *conv_id, kf_loop_t *loop, kf_conv_done_fn fn, void *ud);
/* To another skill's queue (skill) or offered to one agent (agent_id); the
 * id, and so the transcript, stays.  System message. */
int kf_conv_transfer(kf_conv_t *c, const char *conv_id, const char *skill, const char *agent_id, kf_loop_t *loop,
                     kf_conv_done_fn fn, void *ud);
/* An internal note on the conversation by agent_id (NULL or "": an admin):
 * stored with sender NOTE, never shown to the customer (customer reads and
 * replays skip it), published as {"type":"note","conversation_id","seq",
 * "agent_id","text","created_at"} on agent:<the assigned agent>. */
int kf_conv_agent_note(kf_conv_t *c, const char *conv_id, const char *agent_id, const char *text, size_t len,
                       kf_loop_t *loop, kf_conv_done_fn fn, void *ud);
/* The agent ends the conversation: a system message asking for a rating,
 * status CLOSED, and an "ended" event (the widget shows its 1-5 rating,
 * which kf_conv_close then records). */
int kf_conv_agent_close(kf_conv_t *c, const char *conv_id, kf_loop_t *loop, kf_conv_done_fn fn, void *ud);

#endif
