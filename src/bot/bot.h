/* bot.h — the bot definition: a folder of YAML files (bots/README.md) with
 * the bot's languages and thresholds (bot.yml) and its intents, training
 * phrases per language, agent skills and response templates (intents/NAME.yml),
 * its multi-turn flows (flows/NAME.yml; their steps: bot/flow.h), and the
 * canned responses human agents pick from (canned.yml).
 *
 * kf_bot_each_example() feeds the training phrases to `kefu train`;
 * kf_bot_load() keeps the whole definition for the conversation engine.
 * Both validate everything and report the first problem as "file:line: what".
 * Files are read in sorted order, so the order of examples is deterministic. */
#ifndef KF_BOT_H
#define KF_BOT_H

#include <stddef.h>

typedef int (*kf_bot_example_fn)(void *ud, const char *text, const char *label, const char *file, int line);
/* Calls fn for every training phrase of every intent in the bot folder DIR (all languages;
 * label = intent name; `oos` examples labelled "oos"). Returns 0, or -1 with err ("file:line: what"),
 * or the first non-zero value fn returned. */
int kf_bot_each_example(const char *dir, kf_bot_example_fn fn, void *ud, char *err, size_t errlen);

typedef struct kf_bot kf_bot_t;

typedef struct {
    const char *title;   /* the button's label */
    const char *payload; /* the text sent when pressed; "/intent" triggers that intent directly */
} kf_bot_quick_reply_t;

typedef struct {
    const char *text; /* template; "{slot}" placeholders, "{{" and "}}" for literal braces */
    const kf_bot_quick_reply_t *quick_replies;
    size_t n_quick_replies;
} kf_bot_variation_t;

typedef struct {
    const char *intent;
    const char *lang;
    const kf_bot_variation_t *variations; /* at least one; the engine picks one per reply */
    size_t n_variations;
} kf_bot_response_t;

/* Loads and validates the bot folder DIR.  NULL with err ("file:line: what") on
 * malformed YAML, wrong types, unknown keys/languages/skills, an intent without
 * phrases, duplicate intents, a phrase in two intents (a phrase repeated
 * within one intent is kept once), a response or quick reply referring to
 * an unknown intent, a bad {slot} placeholder; and in flows/: unknown step
 * kinds, slots, entity types, triggers, webhooks or goto targets, duplicate
 * flows, an intent triggering two flows; in canned.yml: unknown keys or
 * languages, duplicate ids, a missing or blank title or text. */
kf_bot_t *kf_bot_load(const char *dir, char *err, size_t errlen);
void kf_bot_free(kf_bot_t *bot);

const char *kf_bot_name(const kf_bot_t *bot);
size_t kf_bot_n_languages(const kf_bot_t *bot);
const char *kf_bot_language(const kf_bot_t *bot, size_t i); /* in bot.yml order; NULL past the end */
const char *kf_bot_default_language(const kf_bot_t *bot);
/* bot.yml `thresholds:` entry NAME (e.g. "intent", "oos", "faq", "digression"), or dflt. */
double kf_bot_threshold(const kf_bot_t *bot, const char *name, double dflt);

size_t kf_bot_n_intents(const kf_bot_t *bot);                /* includes "oos" when defined */
const char *kf_bot_intent(const kf_bot_t *bot, size_t i);    /* in load order; NULL past the end */
int kf_bot_has_intent(const kf_bot_t *bot, const char *intent);
/* Number of training phrases of INTENT in LANG (NULL lang: all languages). */
size_t kf_bot_n_examples(const kf_bot_t *bot, const char *intent, const char *lang);
/* The agent skill INTENT hands off to ("cards", "loans", "payments", "accounts",
 * "complaints", "general"); NULL for an unknown intent. */
const char *kf_bot_skill(const kf_bot_t *bot, const char *intent);
/* 1 when SKILL is one of bot.yml's `skills:` (or the defaults). */
int kf_bot_has_skill(const kf_bot_t *bot, const char *skill);
size_t kf_bot_n_skills(const kf_bot_t *bot);
const char *kf_bot_skill_at(const kf_bot_t *bot, size_t i); /* in bot.yml order; NULL past the end */
/* The response of INTENT in LANG; when LANG has none, the default language's;
 * NULL when neither exists. */
const kf_bot_response_t *kf_bot_response(const kf_bot_t *bot, const char *intent, const char *lang);

/* Returns the value of slot NAME (NUL-terminated, name[0..len) not terminated), or NULL. */
typedef const char *(*kf_bot_slot_fn)(void *ud, const char *name, size_t len);
/* Expands TEMPLATE's {slot} placeholders into out[0..outlen).  A slot lookup
 * returns NULL for an unknown slot: rendered as empty.  Returns the length
 * written, or -1 with err when out is too small or the template is malformed. */
int kf_bot_render(const char *tmpl, kf_bot_slot_fn lookup, void *ud, char *out, size_t outlen, char *err,
                  size_t errlen);

/* ---- flows (bots/README.md "Flows"; step details in bot/flow.h) ---- */
typedef struct kf_flow kf_flow_t;

typedef struct {
    const char *name, *url; /* bot.yml `webhooks:` entry */
    int timeout_ms;
} kf_bot_webhook_t;

size_t kf_bot_n_flows(const kf_bot_t *bot);
const kf_flow_t *kf_bot_flow(const kf_bot_t *bot, size_t i); /* in load order; NULL past the end */
const kf_flow_t *kf_bot_flow_named(const kf_bot_t *bot, const char *name);
/* The flow INTENT starts, or NULL (an intent triggers at most one flow). */
const kf_flow_t *kf_bot_flow_for_intent(const kf_bot_t *bot, const char *intent);
const kf_bot_webhook_t *kf_bot_webhook(const kf_bot_t *bot, const char *name);

/* ---- canned responses (canned.yml, bots/README.md; loader: canned.c) ----
 * Ready-made texts the agent console offers human agents; the bot itself
 * never says them.  A bot without canned.yml has none.  Texts are plain text
 * (no {slot} expansion): the agent reads and may edit one before sending. */
typedef struct {
    const char *id;    /* unique in the bot, [a-z0-9_]+ */
    const char *title; /* never NULL: the title in the default language, else the first one given */
    /* Indexed like kf_bot_language(bot, i), i < kf_bot_n_languages(bot); NULL
     * where the entry has none.  A one-string title fills every language. */
    const char *const *titles;
    const char *const *text;
} kf_bot_canned_t;

size_t kf_bot_n_canned(const kf_bot_t *bot);
const kf_bot_canned_t *kf_bot_canned_at(const kf_bot_t *bot, size_t i); /* in file order; NULL past the end */
const kf_bot_canned_t *kf_bot_canned_named(const kf_bot_t *bot, const char *id);
/* The text (title) of C in LANG, a code of the bot's `languages`; NULL when C
 * has none in LANG or LANG is not the bot's.  No fallback to another
 * language: an agent should not send English to a Chinese customer unawares
 * (the caller may choose kf_bot_default_language itself).  LANG NULL: the
 * default language. */
const char *kf_bot_canned_text(const kf_bot_canned_t *c, const kf_bot_t *bot, const char *lang);
const char *kf_bot_canned_title(const kf_bot_canned_t *c, const kf_bot_t *bot, const char *lang);

#endif
