/* flow.h — read-only view of a bot's multi-turn flows (bots/BOT/flows/NAME.yml,
 * described in bots/README.md), loaded with the rest of the bot by
 * kf_bot_load().  The dialogue state machine (engine/dialogue.c) walks these
 * steps; nothing here changes after loading, so a loaded bot can be shared by
 * every thread.  Step targets (goto, on_deny, on_fail, on_error) are resolved
 * to step indexes at load time so the walker never looks names up. */
#ifndef KF_BOT_FLOW_H
#define KF_BOT_FLOW_H

#include <stddef.h>

#include "bot/bot.h"

typedef enum { KF_FLOW_ASK, KF_FLOW_CONFIRM, KF_FLOW_REPLY, KF_FLOW_WEBHOOK, KF_FLOW_HANDOFF, KF_FLOW_END } kf_flow_kind_t;

/* Where a step goes when something ends it early: a step index (>= 0) or one of these. */
enum { KF_FLOW_TO_CANCEL = -1, KF_FLOW_TO_HANDOFF = -2, KF_FLOW_TO_NEXT = -3 };

/* Per-language texts: the same shape as an intent's response (intent = the flow's name). */
typedef struct {
    const kf_bot_response_t *by_lang;
    size_t n;
} kf_flow_text_t;

typedef struct {
    const char *name;
    const char *entity;        /* NLU entity type that fills it ("card_last4", "money", ... or "text" for the
                                * whole message), or NULL when only pattern/synonyms (or a webhook) fill it */
    const char *pattern;       /* regex on the raw message (group "value", else 1, else the match), or NULL */
    const void *pattern_code;  /* compiled pattern (pcre2), private to flows.c */
    const char *const *syn_words, *const *syn_values; /* synonym -> canonical value */
    size_t n_syn;
    const char *v_regex;       /* validation: the whole value must match */
    const void *v_regex_code;
    int has_min, has_max;      /* validation of the value's leading number (money "12.50 CNY" -> 12.5) */
    double min, max;
    const char *const *one_of; /* validation: one of these values (after synonyms) */
    size_t n_one_of;
} kf_flow_slot_t;

typedef struct {
    kf_flow_kind_t kind;
    const char *id; /* NULL when the step has none */
    const char *file;
    int line;
    kf_flow_text_t text;     /* ask/confirm: prompt; reply: the reply; handoff: said before handing off */
    kf_flow_text_t invalid;  /* ask: said when an answer does not fit; webhook: said when the call fails */
    int slot;                /* ask: index into the flow's slots */
    int retries;             /* ask/confirm: re-asks allowed after a bad answer */
    int on_fail;             /* ask/confirm, retries exhausted: step index or KF_FLOW_TO_CANCEL/HANDOFF */
    int on_deny;             /* confirm: step index or KF_FLOW_TO_CANCEL */
    int next;                /* step index after this one (reply/ask/confirm `goto:`), else KF_FLOW_TO_NEXT */
    const char *webhook;     /* webhook: backend name (bot.yml webhooks:) */
    const int *send;         /* webhook: slot indexes sent as the JSON body; all filled slots when n_send 0 */
    size_t n_send;
    const int *map_slot;     /* webhook: slot map_slot[i] <- answer field map_field[i] ("a.b" for nesting) */
    const char *const *map_field;
    size_t n_map;
    int on_error;            /* webhook failure: step index, KF_FLOW_TO_CANCEL or KF_FLOW_TO_HANDOFF */
    const char *skill;       /* handoff: agent skill; ask/confirm/webhook: skill for *_TO_HANDOFF */
    const char *reason;      /* handoff: reason given to the router */
} kf_flow_step_t;

struct kf_flow {
    const char *name, *file;
    int line;
    const char *const *triggers;
    size_t n_triggers;
    const char *skill;           /* default handoff skill: `skill:` or the first trigger's */
    const kf_flow_slot_t *slots;
    size_t n_slots;
    const kf_flow_step_t *steps;
    size_t n_steps;
    kf_flow_text_t cancelled;    /* said when the customer cancels; built-in text when empty */
    kf_flow_text_t resume;       /* the offer to resume after a digression; built-in when empty */
};

/* The variation list of T in LANG, else in DFLT_LANG, else NULL. */
const kf_bot_response_t *kf_flow_text(const kf_flow_text_t *t, const char *lang, const char *dflt_lang);
/* Index of slot NAME in F, or -1. */
int kf_flow_slot_index(const kf_flow_t *f, const char *name);
/* Fills out[0..outlen) with the value S's pattern or synonyms find in text[0..len).
 * Returns 1 when found, 0 when not.  Thread-safe. */
int kf_flow_slot_match(const kf_flow_slot_t *s, const char *text, size_t len, char *out, size_t outlen);
/* 1 when VALUE passes S's validation (regex, min, max, one_of); 0 otherwise. */
int kf_flow_slot_valid(const kf_flow_slot_t *s, const char *value);

#endif
