/* check.h — `kefu check --bot DIR` as a library: every problem of a bot
 * folder (bot.yml, intents/, flows/, faq/, canned.yml), not only the first,
 * each as "FILE:LINE: error|warning: message", sorted by file and line.
 *
 * Errors are what kf_bot_load / kf_faq_load refuse (YAML syntax, wrong types,
 * broken references between intents, responses, quick replies, flows, slots,
 * entity types, webhooks and skills, duplicate intent/flow/FAQ ids, the same
 * training phrase in two intents, an intent without any phrase, an unknown
 * {slot} in a template).  Warnings are what loads but is probably a mistake:
 * the same phrase twice in one intent, an intent, FAQ entry or canned
 * response missing one of the bot's languages.  The loaders run in their
 * collect mode (kf_boty_load_collect, kf_faq_load_collect), so a broken part
 * does not hide the problems after it. */
#ifndef KF_BOT_CHECK_H
#define KF_BOT_CHECK_H

#include <stddef.h>

typedef enum { KF_BOT_CHECK_ERROR, KF_BOT_CHECK_WARNING } kf_bot_check_level_t;

typedef struct {
    const char *file;            /* as the loaders name it: DIR/intents/x.yml */
    int line;                    /* 1-based; 0 when the problem is the file or folder itself */
    kf_bot_check_level_t level;
    const char *message;
} kf_bot_check_item_t;

typedef void (*kf_bot_check_fn)(void *ud, const kf_bot_check_item_t *item);

typedef struct {
    size_t errors, warnings;
} kf_bot_check_counts_t;

/* Checks the bot folder DIR and calls fn for every problem, in file/line
 * order.  counts (may be NULL) gets the totals.  Returns 0, or -1 when out
 * of memory (the report is then incomplete). */
int kf_bot_check(const char *dir, kf_bot_check_fn fn, void *ud, kf_bot_check_counts_t *counts);

/* "FILE:LINE: error: message" ("FILE: ..." when line is 0) into out; returns
 * what snprintf returns. */
int kf_bot_check_format(const kf_bot_check_item_t *item, char *out, size_t outlen);

#endif
