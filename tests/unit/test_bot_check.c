/* test_bot_check.c — kf_bot_check (bot/check.c), the library behind
 * `kefu check --bot DIR`: the fixture bots under tests/fixtures/bots/ hold
 * each kind of problem, and every one must be reported as the exact
 * "file:line: error|warning: message" line, in file/line order, with the
 * loaders going on past each problem (collect mode).  The demo bot must have
 * no errors.  Also: a phrase repeated inside one intent is a warning, and the
 * loader then trains on it once.  Run from the repository root. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/bot.h"
#include "bot/check.h"

#define FIX "tests/fixtures/bots/"

typedef struct {
    char *lines[64];
    size_t n;
} report_t;

static void on_item(void *ud, const kf_bot_check_item_t *it) {
    report_t *r = ud;
    char buf[1024];
    kf_bot_check_format(it, buf, sizeof buf);
    if (r->n < 64) r->lines[r->n++] = strdup(buf);
}

static void report_free(report_t *r) {
    for (size_t i = 0; i < r->n; i++) free(r->lines[i]);
}

/* Runs the check and compares every line, then the totals. */
static void expect_report(const char *dir, const char *const *want, size_t n_want, size_t errors, size_t warnings) {
    report_t r = {0};
    kf_bot_check_counts_t c;
    cr_assert_eq(kf_bot_check(dir, on_item, &r, &c), 0);
    for (size_t i = 0; i < r.n && i < n_want; i++) cr_expect_str_eq(r.lines[i], want[i], "line %zu", i + 1);
    for (size_t i = n_want; i < r.n; i++) cr_expect_fail("unexpected line: %s", r.lines[i]);
    for (size_t i = r.n; i < n_want; i++) cr_expect_fail("missing line: %s", want[i]);
    cr_expect_eq(c.errors, errors, "errors: %zu", c.errors);
    cr_expect_eq(c.warnings, warnings, "warnings: %zu", c.warnings);
    report_free(&r);
}

#define B FIX "broken/"
Test(bot_check, every_problem_of_a_broken_bot) {
    static const char *const want[] = {
        B "faq/a.yml:2: warning: FAQ entry 'fees' has no answer in 'zh'",
        B "faq/a.yml:7: error: FAQ id 'fees' given twice (first at " B "faq/a.yml:2)",
        B "faq/a.yml:16: error: the question 'what are the fees?' is also at " B "faq/a.yml:4",
        B "faq/b.yml:4: error: did not find expected ',' or '}' while parsing a flow mapping",
        B "flows/a.yml:3: error: trigger 'lost_cards' is not an intent of the bot",
        B "flows/a.yml:6: error: unknown entity type 'card_last_four' (money, date, card_number, card_last4, phone, "
          "email, order_id, text; or give the slot a pattern or synonyms)",
        B "flows/a.yml:8: error: unknown slot 'last_4' in ask (not in the slots of flow 'block')",
        B "flows/a.yml:10: error: webhook 'block_it' is not in bot.yml webhooks",
        B "flows/a.yml:11: error: unknown skill 'loans'",
        B "flows/a.yml:12: error: duplicate flow 'block' (first defined at " B "flows/a.yml:2)",
        B "flows/a.yml:19: error: unknown slot '{who}' in reply (not in the slots of flow 'welcome')",
        B "intents/a.yml:4: warning: training phrase 'hi' is already in intent 'greet' (" B
          "intents/a.yml:4); the copy is ignored",
        B "intents/a.yml:6: warning: intent 'bye' has no training phrases in 'zh'",
        B "intents/a.yml:8: error: training phrase 'hello' is in intent 'bye' and in intent 'greet' (" B
          "intents/a.yml:4)",
        B "intents/a.yml:15: error: unknown slot '{card_last4}' in the 'en' response of intent 'lost_card': no "
          "variation can be said without blanks (only {name} and {skill} are filled there)",
        B "intents/a.yml:18: error: quick reply payload '/agent' names an unknown intent",
        B "intents/a.yml:20: error: duplicate intent 'greet' (first defined at " B "intents/a.yml:2)",
        B "intents/a.yml:23: error: intent 'empty' has no training phrases",
        B "intents/a.yml:26: error: response for unknown intent 'ghost'",
    };
    expect_report(FIX "broken", want, sizeof want / sizeof *want, 16, 3);
}

Test(bot_check, a_yaml_syntax_error_does_not_hide_the_next_file) {
    static const char *const want[] = {
        FIX "yaml_error/intents/a.yml:5: error: found unexpected end of stream while scanning a quoted scalar",
        FIX "yaml_error/intents/b.yml:6: error: quick reply payload '/greet' names an unknown intent",
    };
    expect_report(FIX "yaml_error", want, 2, 2, 0);
}

Test(bot_check, a_clean_bot_has_nothing_to_report) {
    expect_report(FIX "clean", NULL, 0, 0, 0);
}

Test(bot_check, a_missing_folder_is_one_error) {
    expect_report(FIX "no_such_bot", (const char *const[]){FIX "no_such_bot/bot.yml: error: No such file or directory"},
                  1, 1, 0);
}

Test(bot_check, a_phrase_twice_in_one_intent_is_a_warning_and_trained_once) {
    static const char *const want[] = {
        FIX "repeat/intents/a.yml:7: warning: training phrase 'hi' is already in intent 'greet' (" FIX
            "repeat/intents/a.yml:5); the copy is ignored",
    };
    expect_report(FIX "repeat", want, 1, 0, 1);
    char err[256] = "";
    kf_bot_t *b = kf_bot_load(FIX "repeat", err, sizeof err);
    cr_assert(b, "%s", err);
    cr_expect_eq(kf_bot_n_examples(b, "greet", "en"), 2);
    kf_bot_free(b);
}

Test(bot_check, the_demo_bot_has_no_errors) {
    report_t r = {0};
    kf_bot_check_counts_t c;
    cr_assert_eq(kf_bot_check("bots/demo", on_item, &r, &c), 0);
    for (size_t i = 0; i < r.n; i++)
        if (strstr(r.lines[i], ": error: ")) cr_expect_fail("%s", r.lines[i]);
    cr_expect_eq(c.errors, 0);
    report_free(&r);
}

Test(bot_check, format_without_a_line) {
    kf_bot_check_item_t it = {"bots/x/intents", 0, KF_BOT_CHECK_ERROR, "no intents"};
    char buf[128];
    kf_bot_check_format(&it, buf, sizeof buf);
    cr_expect_str_eq(buf, "bots/x/intents: error: no intents");
    it.line = 3;
    it.level = KF_BOT_CHECK_WARNING;
    kf_bot_check_format(&it, buf, sizeof buf);
    cr_expect_str_eq(buf, "bots/x/intents:3: warning: no intents");
}
