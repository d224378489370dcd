/* test_bot_demo.c — the demo bank bot (bots/demo) loads cleanly and is big
 * enough to train on: the intents issue 4 names, ≥ 25 phrases per intent and
 * language, out-of-scope examples, en and zh responses for every intent and
 * templates that render.  Run from the repository root. */
#include <criterion/criterion.h>
#include <string.h>

#include "bot/bot.h"

#define DEMO "bots/demo"

static const char *const required[] = {
    "check_balance",   "lost_or_stolen_card", "card_delivery",  "transfer_money", "transfer_limits",
    "fees_and_charges", "exchange_rates",     "reset_password", "update_phone",   "update_address",
    "open_account",    "close_account",       "loan_inquiry",   "mortgage",       "credit_card_apply",
    "complaint",       "opening_hours",       "branch_locations", "greeting",     "thanks",
    "goodbye",         "affirm",              "deny",           "cancel",         "human_agent",
    "bot_challenge",   "oos"};

static kf_bot_t *load(void) {
    char err[512] = "";
    kf_bot_t *b = kf_bot_load(DEMO, err, sizeof err);
    cr_assert(b, "%s", err);
    return b;
}

Test(bot_demo, languages_and_thresholds) {
    kf_bot_t *b = load();
    cr_expect_eq(kf_bot_n_languages(b), 2);
    cr_expect_str_eq(kf_bot_language(b, 0), "en");
    cr_expect_str_eq(kf_bot_language(b, 1), "zh");
    double t = kf_bot_threshold(b, "intent", -1);
    cr_expect(t > 0 && t < 1, "intent threshold %f", t);
    kf_bot_free(b);
}

Test(bot_demo, intents_and_phrases) {
    kf_bot_t *b = load();
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        cr_expect(kf_bot_has_intent(b, required[i]), "missing intent %s", required[i]);
    size_t real = 0;
    for (size_t i = 0; i < kf_bot_n_intents(b); i++) {
        const char *in = kf_bot_intent(b, i);
        if (strcmp(in, "oos")) real++;
        for (size_t l = 0; l < kf_bot_n_languages(b); l++) {
            const char *lang = kf_bot_language(b, l);
            size_t n = kf_bot_n_examples(b, in, lang);
            cr_expect(n >= 25, "%s has %zu %s phrases", in, n, lang);
        }
    }
    cr_expect(real >= 27, "only %zu intents besides oos", real);
    cr_expect(kf_bot_n_examples(b, "oos", NULL) >= 60);
    cr_expect_str_eq(kf_bot_skill(b, "lost_or_stolen_card"), "cards");
    cr_expect_str_eq(kf_bot_skill(b, "transfer_money"), "payments");
    cr_expect_str_eq(kf_bot_skill(b, "mortgage"), "loans");
    cr_expect_str_eq(kf_bot_skill(b, "complaint"), "complaints");
    cr_expect_str_eq(kf_bot_skill(b, "check_balance"), "accounts");
    kf_bot_free(b);
}

static const char *any_slot(void *ud, const char *name, size_t len) {
    (void)ud;
    (void)name;
    return len ? "X" : NULL;
}

Test(bot_demo, responses_in_both_languages) {
    kf_bot_t *b = load();
    char out[2048], err[256];
    for (size_t i = 0; i < kf_bot_n_intents(b); i++) {
        const char *in = kf_bot_intent(b, i);
        for (size_t l = 0; l < kf_bot_n_languages(b); l++) {
            const char *lang = kf_bot_language(b, l);
            const kf_bot_response_t *r = kf_bot_response(b, in, lang);
            cr_assert(r, "%s: no response", in);
            cr_expect_str_eq(r->lang, lang, "%s: no %s response", in, lang);
            cr_expect(r->n_variations >= 1);
            for (size_t v = 0; v < r->n_variations; v++) {
                cr_expect(kf_bot_render(r->variations[v].text, any_slot, NULL, out, sizeof out, err, sizeof err) > 0,
                          "%s/%s: %s", in, lang, err);
                for (size_t q = 0; q < r->variations[v].n_quick_replies; q++) {
                    const char *p = r->variations[v].quick_replies[q].payload;
                    cr_expect(p[0] != '/' || kf_bot_has_intent(b, p + 1), "%s: payload %s", in, p);
                }
            }
        }
    }
    kf_bot_free(b);
}

typedef struct {
    const kf_bot_t *b;
    size_t n, bad;
} walk_t;

static int count(void *ud, const char *text, const char *label, const char *file, int line) {
    walk_t *w = ud;
    w->n++;
    if (!*text || !kf_bot_has_intent(w->b, label) || !strstr(file, DEMO "/intents/") || line < 1) w->bad++;
    return 0;
}

Test(bot_demo, each_example_matches_the_model) {
    kf_bot_t *b = load();
    size_t total = 0;
    for (size_t i = 0; i < kf_bot_n_intents(b); i++) total += kf_bot_n_examples(b, kf_bot_intent(b, i), NULL);
    walk_t w = {b, 0, 0};
    char err[512] = "";
    cr_assert_eq(kf_bot_each_example(DEMO, count, &w, err, sizeof err), 0, "%s", err);
    cr_expect_eq(w.n, total);
    cr_expect_eq(w.bad, 0);
    kf_bot_free(b);
}
