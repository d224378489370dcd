/* dialogue.h — the dialogue state machine: multi-turn flows (bot/flow.h) with
 * slot filling, validation and retries, confirmation, webhooks, handoff,
 * cancel, and digressions that pause a flow and offer to resume it.
 *
 * Pure: no I/O, no globals, no clock.  The conversation engine owns one
 * kf_dlg_state_t per conversation, feeds it each customer message (already
 * through NLU and entity extraction) and carries out what comes back: send
 * the messages, then perform the action (call a webhook and report its result
 * with kf_dlg_webhook_result, hand off, or answer the intent itself).
 * Thread-safe as long as each state is used by one thread at a time; the bot
 * is only read.  The state round-trips through JSON for the session store. */
#ifndef KF_ENGINE_DIALOGUE_H
#define KF_ENGINE_DIALOGUE_H

#include <stddef.h>

#include "bot/bot.h"
#include "nlu/entities.h"

#define KF_DLG_MAX_MSGS 8

typedef struct kf_dlg_state kf_dlg_state_t;

typedef struct {
    const char *intent;  /* NLU top intent ("oos" when out of scope), or NULL; a pressed "/intent" quick
                          * reply should arrive as that intent with confidence 1 */
    double confidence;
    int out_of_scope;
    const kf_ent_t *ents; /* entities of text, from kf_ent_extract */
    size_t n_ents;
    const char *text;     /* the message as the customer sent it (UTF-8) */
    const char *lang;     /* detected language; NULL or one the bot lacks: the bot's default */
} kf_dlg_input_t;

typedef struct {
    char *text; /* rendered in out->lang; owned by the output */
    const kf_bot_quick_reply_t *quick_replies; /* owned by the bot (or static); valid while the bot is */
    size_t n_quick_replies;
} kf_dlg_msg_t;

typedef enum {
    KF_DLG_NONE,          /* nothing more: the messages are the whole answer */
    KF_DLG_WEBHOOK,       /* POST body to url within timeout_ms, then call kf_dlg_webhook_result */
    KF_DLG_HANDOFF,       /* hand the conversation to an agent with skill; the flow has ended */
    KF_DLG_ANSWER_INTENT, /* no flow handles it: answer `intent` yourself (response, FAQ, fallback),
                           * and send that answer BEFORE this output's messages (a resume offer) */
    KF_DLG_FLOW_DONE      /* a flow ended (outcome "completed", "cancelled" or "failed") */
} kf_dlg_action_kind_t;

typedef struct {
    kf_dlg_action_kind_t kind;
    const char *flow;     /* the flow concerned (webhook, handoff, flow_done); NULL otherwise */
    const char *webhook;  /* WEBHOOK: backend name, url and timeout from bot.yml */
    const char *url;
    int timeout_ms;
    char *body;           /* WEBHOOK: JSON object of the chosen slots; owned by the output */
    const char *skill;    /* HANDOFF */
    char reason[160];     /* HANDOFF: for the router and the agent */
    const char *intent;   /* ANSWER_INTENT: the NLU intent (may be "oos" or NULL: a miss) */
    const char *outcome;  /* FLOW_DONE */
} kf_dlg_action_t;

typedef struct {
    const char *lang; /* the language the messages are in */
    kf_dlg_msg_t msgs[KF_DLG_MAX_MSGS];
    size_t n_msgs;
    kf_dlg_action_t action;
} kf_dlg_out_t;

kf_dlg_state_t *kf_dlg_state_new(void);
void kf_dlg_state_free(kf_dlg_state_t *st);

/* One customer message.  Fills *out (free it with kf_dlg_out_free, even on
 * error).  Returns 0, or -1 with err (out of memory, a message too long to render). */
int kf_dlg_handle(const kf_bot_t *bot, kf_dlg_state_t *st, const kf_dlg_input_t *in, kf_dlg_out_t *out, char *err,
                  size_t errlen);
/* The result of the KF_DLG_WEBHOOK action: ok = a 2xx answer arrived in time,
 * json = its body (NULL when !ok).  Returns -1 with err when no webhook was pending. */
int kf_dlg_webhook_result(const kf_bot_t *bot, kf_dlg_state_t *st, int ok, const char *json, kf_dlg_out_t *out,
                          char *err, size_t errlen);
void kf_dlg_out_free(kf_dlg_out_t *out);

/* Introspection for the engine and tests. */
const char *kf_dlg_active_flow(const kf_dlg_state_t *st); /* running flow's name, or NULL */
const char *kf_dlg_paused_flow(const kf_dlg_state_t *st); /* flow paused by a digression, or NULL */
const char *kf_dlg_step_id(const kf_dlg_state_t *st);     /* current step's id, or NULL */
const char *kf_dlg_slot(const kf_dlg_state_t *st, const char *name); /* active flow's slot value, or NULL */
int kf_dlg_waiting_webhook(const kf_dlg_state_t *st);

/* JSON text of the state (malloc'd; NULL when out of memory). */
char *kf_dlg_state_to_json(const kf_dlg_state_t *st);
/* A state from kf_dlg_state_to_json's text.  Flows are found by name in BOT;
 * a flow the bot no longer has (or a step past its end) is dropped, so a
 * reloaded bot never sees a dangling state.  NULL with err on malformed JSON. */
kf_dlg_state_t *kf_dlg_state_from_json(const kf_bot_t *bot, const char *json, char *err, size_t errlen);

#endif
