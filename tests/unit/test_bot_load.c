/* test_bot_load.c — the bot folder loader (bot/bot.c) on the small fixture
 * bots under tests/fixtures/bot/: exact examples in file order with labels
 * and lines, responses, quick replies, skills, thresholds, templates, and
 * every "file:line: what" error.  Run from the repository root. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/bot.h"

#define FIX "tests/fixtures/bot/"

typedef struct {
    char text[16][64], label[16][32], file[16][128];
    int line[16], n, stop_at;
} seen_t;

static int collect(void *ud, const char *text, const char *label, const char *file, int line) {
    seen_t *s = ud;
    if (s->n >= 16) return 99;
    snprintf(s->text[s->n], sizeof s->text[0], "%s", text);
    snprintf(s->label[s->n], sizeof s->label[0], "%s", label);
    snprintf(s->file[s->n], sizeof s->file[0], "%s", file);
    s->line[s->n] = line;
    s->n++;
    return s->stop_at && s->n == s->stop_at ? 7 : 0;
}

Test(bot_examples, good_bot_in_file_order) {
    seen_t s = {0};
    char err[256] = "";
    cr_assert_eq(kf_bot_each_example(FIX "good", collect, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(s.n, 9);
    static const char *const texts[] = {"I lost my card", "my card was stolen", "我的卡丢了", "agent please",
                                        "a real person", "转人工", "what's the weather", "tell me a joke",
                                        "今天天气怎么样"};
    static const char *const labels[] = {"lost_card", "lost_card", "lost_card", "human", "human",
                                         "human",     "oos",       "oos",       "oos"};
    static const int lines[] = {6, 7, 9, 22, 22, 23, 10, 11, 13};
    for (int i = 0; i < 9; i++) {
        cr_expect_str_eq(s.text[i], texts[i], "example %d", i);
        cr_expect_str_eq(s.label[i], labels[i], "example %d", i);
        cr_expect_eq(s.line[i], lines[i], "example %d: line %d", i, s.line[i]);
    }
    cr_expect_str_eq(s.file[0], FIX "good/intents/a_cards.yml");
    cr_expect_str_eq(s.file[8], FIX "good/intents/b_misc.yml");
}

Test(bot_examples, callback_stops_the_walk) {
    seen_t s = {.stop_at = 2};
    char err[256] = "";
    cr_assert_eq(kf_bot_each_example(FIX "good", collect, &s, err, sizeof err), 7);
    cr_expect_eq(s.n, 2);
}

Test(bot_load, good_bot_model) {
    char err[256] = "";
    kf_bot_t *b = kf_bot_load(FIX "good", err, sizeof err);
    cr_assert(b, "%s", err);
    cr_expect_str_eq(kf_bot_name(b), "tiny");
    cr_expect_eq(kf_bot_n_languages(b), 2);
    cr_expect_str_eq(kf_bot_language(b, 1), "zh");
    cr_expect_null(kf_bot_language(b, 2));
    cr_expect_str_eq(kf_bot_default_language(b), "en");
    cr_expect_float_eq(kf_bot_threshold(b, "oos", 0), 0.6, 1e-9);
    cr_expect_float_eq(kf_bot_threshold(b, "faq", 0.25), 0.25, 1e-9);
    cr_expect_eq(kf_bot_n_intents(b), 3);
    cr_expect_str_eq(kf_bot_intent(b, 0), "lost_card");
    cr_expect_str_eq(kf_bot_intent(b, 2), "oos");
    cr_expect(kf_bot_has_intent(b, "human"));
    cr_expect_not(kf_bot_has_intent(b, "nope"));
    cr_expect_eq(kf_bot_n_examples(b, "lost_card", "en"), 2);
    cr_expect_eq(kf_bot_n_examples(b, "lost_card", "zh"), 1);
    cr_expect_eq(kf_bot_n_examples(b, "lost_card", NULL), 3);
    cr_expect_eq(kf_bot_n_examples(b, "nope", NULL), 0);
    cr_expect_str_eq(kf_bot_skill(b, "lost_card"), "cards");
    cr_expect_str_eq(kf_bot_skill(b, "human"), "general");
    cr_expect_null(kf_bot_skill(b, "nope"));

    const kf_bot_response_t *r = kf_bot_response(b, "lost_card", "en");
    cr_assert(r);
    cr_expect_str_eq(r->lang, "en");
    cr_assert_eq(r->n_variations, 2);
    cr_expect_str_eq(r->variations[0].text, "Sorry to hear that. Which card, {name}?");
    cr_expect_eq(r->variations[0].n_quick_replies, 0);
    cr_assert_eq(r->variations[1].n_quick_replies, 2);
    cr_expect_str_eq(r->variations[1].quick_replies[0].title, "Block it");
    cr_expect_str_eq(r->variations[1].quick_replies[0].payload, "Block it");
    cr_expect_str_eq(r->variations[1].quick_replies[1].payload, "/human");
    r = kf_bot_response(b, "lost_card", "zh");
    cr_assert(r);
    cr_expect_str_eq(r->variations[0].text, "我可以帮您冻结这张卡。");
    /* human has no zh response: falls back to the default language */
    r = kf_bot_response(b, "human", "zh");
    cr_assert(r);
    cr_expect_str_eq(r->lang, "en");
    cr_expect_str_eq(r->variations[0].text, "Connecting you to a colleague.");
    cr_expect_null(kf_bot_response(b, "oos", "en"));
    kf_bot_free(b);
}

static void expect_error(const char *dir, const char *want) {
    char err[512] = "";
    kf_bot_t *b = kf_bot_load(dir, err, sizeof err);
    cr_expect_null(b, "%s loaded", dir);
    kf_bot_free(b);
    cr_expect(strstr(err, want), "%s: got \"%s\", want \"%s\"", dir, err, want);
    seen_t s = {0};
    char err2[512] = "";
    cr_expect_eq(kf_bot_each_example(dir, collect, &s, err2, sizeof err2), -1);
    cr_expect_str_eq(err2, err);
    cr_expect_eq(s.n, 0, "no example is reported from a broken bot");
}

Test(bot_errors, malformed_yaml) { expect_error(FIX "malformed", FIX "malformed/intents/a.yml:5: "); }
Test(bot_errors, intent_without_phrases) {
    expect_error(FIX "no_phrases", FIX "no_phrases/intents/a.yml:5: intent 'empty' has no training phrases");
}
Test(bot_errors, duplicate_intent) {
    expect_error(FIX "dup_intent",
                 FIX "dup_intent/intents/b.yml:5: duplicate intent 'greet' (first defined at " FIX
                     "dup_intent/intents/a.yml:2)");
}
Test(bot_errors, response_for_unknown_intent) {
    expect_error(FIX "unknown_resp", FIX "unknown_resp/intents/a.yml:8: response for unknown intent 'gret'");
}
Test(bot_errors, wrong_type) {
    expect_error(FIX "wrong_type",
                 FIX "wrong_type/intents/a.yml:5: a language's examples must be a list, not a mapping");
}
Test(bot_errors, unknown_language) {
    expect_error(FIX "bad_lang", FIX "bad_lang/intents/a.yml:5: language 'fr' is not in bot.yml languages");
}
Test(bot_errors, quick_reply_to_unknown_intent) {
    expect_error(FIX "bad_qr", FIX "bad_qr/intents/a.yml:9: quick reply payload '/lost_card' names an unknown intent");
}
Test(bot_errors, phrase_under_two_intents) {
    expect_error(FIX "dup_phrase", FIX "dup_phrase/intents/a.yml:7: duplicate training phrase 'hello' (also at " FIX
                                       "dup_phrase/intents/a.yml:4 in intent 'greet')");
}
Test(bot_errors, bad_placeholder) {
    expect_error(FIX "bad_slot", FIX "bad_slot/intents/a.yml:7: unterminated placeholder");
}
Test(bot_errors, second_response_for_intent_and_language) {
    expect_error(FIX "dup_resp", FIX "dup_resp/intents/b.yml:2: second 'en' response for intent 'greet' (first at " FIX
                                     "dup_resp/intents/a.yml:6)");
}
Test(bot_errors, unknown_skill) { expect_error(FIX "bad_skill", FIX "bad_skill/intents/a.yml:3: unknown skill 'cooking'"); }
Test(bot_errors, key_given_twice) {
    expect_error(FIX "dup_key", FIX "dup_key/intents/a.yml:6: key 'en' given twice (first at line 4)");
}
Test(bot_errors, missing_folder) { expect_error(FIX "does_not_exist", FIX "does_not_exist/bot.yml: "); }

static const char *slots(void *ud, const char *name, size_t len) {
    (void)ud;
    if (len == 4 && !memcmp(name, "name", 4)) return "Li Wei";
    if (len == 5 && !memcmp(name, "last4", 5)) return "1234";
    return NULL;
}

Test(bot_render, placeholders_and_braces) {
    char out[64], err[128];
    cr_expect_eq(kf_bot_render("Hi {name}, card *{last4}{missing}.", slots, NULL, out, sizeof out, err, sizeof err),
                 22);
    cr_expect_str_eq(out, "Hi Li Wei, card *1234.");
    cr_expect_eq(kf_bot_render("{{x}} {name}", slots, NULL, out, sizeof out, err, sizeof err), 10);
    cr_expect_str_eq(out, "{x} Li Wei");
    cr_expect_eq(kf_bot_render("您好，{name}！", slots, NULL, out, sizeof out, err, sizeof err),
                 (int)strlen("您好，Li Wei！"));
    cr_expect_str_eq(out, "您好，Li Wei！");
    cr_expect_eq(kf_bot_render("a } b", slots, NULL, out, sizeof out, err, sizeof err), -1);
    cr_expect(strstr(err, "unmatched '}'"), "%s", err);
    cr_expect_eq(kf_bot_render("{9x}", slots, NULL, out, sizeof out, err, sizeof err), -1);
    cr_expect_eq(kf_bot_render("Hi {name}", slots, NULL, out, 6, err, sizeof err), -1);
    cr_expect(strstr(err, "too small"), "%s", err);
    cr_expect_str_eq(out, "Hi ");
}
