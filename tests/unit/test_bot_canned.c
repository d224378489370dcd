/* test_bot_canned.c — the bot's canned responses (bot/canned.c, canned.yml):
 * the demo bot's set (at least 12, each in English and Chinese), the
 * accessors, and every "canned.yml:LINE: what" error, from kf_bot_load and
 * from kf_bot_check (`kefu check --bot DIR`, which reports them all).  Each
 * test writes a small bot (bot.yml, one intent, canned.yml) into its own
 * temporary folder, so the YAML under test sits next to what it must give.
 * Run from the repository root. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bot/bot.h"
#include "bot/check.h"

static char dir[64];

static void write_file(const char *name, const char *text) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert(f, "%s", p);
    fputs(text, f);
    fclose(f);
}

static void make_bot(void) {
    snprintf(dir, sizeof dir, "/tmp/kefu-canned-XXXXXX");
    cr_assert(mkdtemp(dir));
    char p[128];
    snprintf(p, sizeof p, "%s/intents", dir);
    cr_assert_eq(mkdir(p, 0700), 0);
    write_file("bot.yml", "name: tiny\nlanguages: [en, zh]\ndefault_language: en\n");
    write_file("intents/a.yml", "intents:\n  - name: greet\n    examples:\n      en: [hello]\n      zh: [你好]\n");
}

static void remove_bot(void) {
    const char *files[] = {"canned.yml", "intents/a.yml", "bot.yml", "intents", ""};
    char p[128];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        remove(p);
    }
}

static int lang_index(const kf_bot_t *b, const char *lang) {
    for (size_t i = 0; i < kf_bot_n_languages(b); i++)
        if (!strcmp(kf_bot_language(b, i), lang)) return (int)i;
    return -1;
}

/* ---- the demo bot -------------------------------------------------------- */

Test(bot_canned, demo_bot_has_at_least_12_in_english_and_chinese) {
    char err[512] = "";
    kf_bot_t *b = kf_bot_load("bots/demo", err, sizeof err);
    cr_assert(b, "%s", err);
    size_t n = kf_bot_n_canned(b);
    cr_expect_geq(n, 12, "%zu canned responses", n);
    int en = lang_index(b, "en"), zh = lang_index(b, "zh");
    cr_assert(en >= 0 && zh >= 0);
    for (size_t i = 0; i < n; i++) {
        const kf_bot_canned_t *c = kf_bot_canned_at(b, i);
        cr_assert(c);
        cr_expect(c->id && c->id[0], "entry %zu has no id", i);
        cr_expect(c->title && c->title[0], "%s has no title", c->id);
        const char *t_en = kf_bot_canned_text(c, b, "en"), *t_zh = kf_bot_canned_text(c, b, "zh");
        cr_expect(t_en && strlen(t_en) > 10, "%s: no English text", c->id);
        cr_expect(t_zh && strlen(t_zh) > 6, "%s: no Chinese text", c->id);
        cr_expect_eq(t_en, c->text[en]);
        cr_expect_eq(t_zh, c->text[zh]);
        cr_expect(kf_bot_canned_title(c, b, "zh"), "%s: no Chinese title", c->id);
        cr_expect_eq(kf_bot_canned_named(b, c->id), c, "%s is not found by its id (or given twice)", c->id);
        /* what an agent sends is plain text: a leftover {slot} would reach the customer as is */
        cr_expect_null(strchr(t_en, '{'), "%s: a brace in the text", c->id);
        if (t_zh)
            cr_expect(strstr(t_zh, "，") || strstr(t_zh, "。") || strstr(t_zh, "？"),
                      "%s: zh text without Chinese punctuation", c->id);
    }
    cr_expect_null(kf_bot_canned_at(b, n));
    /* the ones a bank's agents need every day */
    const char *need[] = {"greeting", "ask_card_last4", "card_blocked", "transfer_timing", "closing"};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++) cr_expect(kf_bot_canned_named(b, need[i]), "no '%s'", need[i]);
    const kf_bot_canned_t *g = kf_bot_canned_named(b, "greeting");
    cr_assert(g);
    cr_expect_str_eq(g->title, "Greeting");                       /* the default language's */
    cr_expect_str_eq(kf_bot_canned_title(g, b, "zh"), "问候");
    cr_expect_eq(kf_bot_canned_text(g, b, NULL), kf_bot_canned_text(g, b, "en")); /* NULL: default language */
    cr_expect_null(kf_bot_canned_text(g, b, "fr"));
    cr_expect_null(kf_bot_canned_named(b, "no_such_thing"));
    cr_expect_null(kf_bot_canned_named(b, NULL));
    kf_bot_free(b);
}

Test(bot_canned, demo_bot_check_is_clean_for_canned) {
    kf_bot_check_counts_t c;
    cr_assert_eq(kf_bot_check("bots/demo", NULL, NULL, &c), 0);
    cr_expect_eq(c.errors, 0);
}

Test(bot_canned, a_bot_without_canned_yml_has_none) {
    char err[512] = "";
    kf_bot_t *b = kf_bot_load("tests/fixtures/bot/good", err, sizeof err);
    cr_assert(b, "%s", err);
    cr_expect_eq(kf_bot_n_canned(b), 0);
    cr_expect_null(kf_bot_canned_at(b, 0));
    kf_bot_free(b);
}

/* ---- shapes ----------------------------------------------------------------- */

Test(bot_canned, titles_one_for_all_or_per_language, .init = make_bot, .fini = remove_bot) {
    write_file("canned.yml",
               "canned:\n"
               "  - id: hello\n"
               "    title: Hi\n"
               "    text: {en: Hello there., zh: 您好。}\n"
               "  - id: zh_only\n"
               "    title: {zh: 仅中文}\n"
               "    text:\n"
               "      zh: 请稍候。\n");
    char err[512] = "";
    kf_bot_t *b = kf_bot_load(dir, err, sizeof err);
    cr_assert(b, "%s", err);
    cr_assert_eq(kf_bot_n_canned(b), 2);
    const kf_bot_canned_t *h = kf_bot_canned_at(b, 0), *z = kf_bot_canned_at(b, 1);
    cr_expect_str_eq(h->id, "hello");
    cr_expect_str_eq(h->title, "Hi");
    cr_expect_str_eq(kf_bot_canned_title(h, b, "zh"), "Hi"); /* one title fills every language */
    cr_expect_str_eq(kf_bot_canned_text(h, b, "zh"), "您好。");
    cr_expect_str_eq(z->title, "仅中文"); /* no English title: the first one given */
    cr_expect_null(kf_bot_canned_title(z, b, "en"));
    cr_expect_null(kf_bot_canned_text(z, b, "en")); /* no fallback to another language */
    cr_expect_null(z->text[0]);
    cr_expect_str_eq(z->text[1], "请稍候。");
    kf_bot_free(b);

    /* an empty canned.yml is no canned responses, not an error */
    write_file("canned.yml", "# nothing yet\n");
    b = kf_bot_load(dir, err, sizeof err);
    cr_assert(b, "%s", err);
    cr_expect_eq(kf_bot_n_canned(b), 0);
    kf_bot_free(b);
}

/* ---- errors ------------------------------------------------------------------ */

typedef struct {
    const char *yaml;
    const char *want; /* after "DIR/canned.yml:" */
} bad_t;

static const bad_t bad[] = {
    {"canned:\n  - id: a\n    title: A\n    text: {en: x}\n    tags: [x]\n",
     "5: unknown key 'tags' in a canned response (id, title, text)"},
    {"replies:\n  - id: a\n", "1: unknown key 'replies' in canned.yml (canned)"},
    {"canned:\n  - id: a\n    title: A\n    text: {en: x}\n  - id: a\n    title: B\n    text: {en: y}\n",
     "5: duplicate canned response 'a' (first defined at %s/canned.yml:2)"},
    {"canned:\n  - id: a\n    title: A\n    text:\n      en: \"\"\n",
     "5: the 'en' text of canned response 'a' must not be empty"},
    {"canned:\n  - id: a\n    title: A\n    text:\n      zh: \"\xe3\x80\x80 \"\n", "5: the 'zh' text of canned response 'a' is blank"},
    {"canned:\n  - id: a\n    title: A\n    text: {}\n", "4: the text of canned response 'a' must not be empty"},
    {"canned:\n  - id: a\n    title: A\n    text:\n      en: hi\n      fr: salut\n",
     "6: language 'fr' in the text of canned response 'a' is not in bot.yml languages"},
    {"canned:\n  - id: a\n    title: {en: A, de: B}\n    text: {en: x}\n",
     "3: language 'de' in the title of canned response 'a' is not in bot.yml languages"},
    {"canned:\n  - id: a\n    text: {en: x}\n", "2: canned response 'a' has no 'title'"},
    {"canned:\n  - id: a\n    title: A\n", "2: canned response 'a' has no 'text'"},
    {"canned:\n  - title: A\n    text: {en: x}\n", "2: a canned response needs an 'id'"},
    {"canned:\n  - id: Card-Blocked\n    title: A\n    text: {en: x}\n",
     "2: canned response id 'Card-Blocked': use lower-case letters, digits and '_'"},
    {"canned:\n  - id: a\n    title: A\n    text: {en: x}\n    text: {en: y}\n", "5: key 'text' given twice (first at line 4)"},
    {"canned:\n  - id: a\n    title: A\n    text: just one string\n",
     "4: the text of canned response 'a' must be a mapping, not a scalar"},
    {"canned:\n  - id: a\n    title: A\n    text: {en: \"unterminated}\n", "5: "},
    {"canned: {id: a}\n", "1: canned must be a list, not a mapping"},
};

/* One folder, canned.yml rewritten for each case: every case must fail on its own line. */
Test(bot_canned_errors, load_fails_with_file_and_line, .init = make_bot, .fini = remove_bot) {
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const bad_t *p = &bad[i];
        write_file("canned.yml", p->yaml);
        char want[512], fmt[300], err[512] = "";
        snprintf(fmt, sizeof fmt, "%%s/canned.yml:%s", p->want);
        snprintf(want, sizeof want, fmt, dir, dir);
        kf_bot_t *b = kf_bot_load(dir, err, sizeof err);
        cr_expect_null(b, "case %zu loaded: %s", i, p->yaml);
        kf_bot_free(b);
        cr_expect(!strncmp(err, want, strlen(want)), "case %zu: got \"%s\", want \"%s\"", i, err, want);
    }
}

/* ---- kefu check ------------------------------------------------------------------ */

typedef struct {
    char *lines[16];
    size_t n;
} report_t;

static void on_item(void *ud, const kf_bot_check_item_t *it) {
    report_t *r = ud;
    char buf[1024];
    kf_bot_check_format(it, buf, sizeof buf);
    if (r->n < 16) r->lines[r->n++] = strdup(buf);
}

Test(bot_canned, check_reports_every_problem_with_file_and_line, .init = make_bot, .fini = remove_bot) {
    write_file("canned.yml",
               "canned:\n"                              /* 1 */
               "  - id: greeting\n"                     /* 2 */
               "    title: Greeting\n"                  /* 3 */
               "    text: {en: Hello., zh: 您好。}\n"   /* 4 */
               "  - id: greeting\n"                     /* 5: duplicate */
               "    title: Again\n"                     /* 6 */
               "    text: {en: Hi.}\n"                  /* 7 */
               "  - id: hold\n"                         /* 8 */
               "    titel: Hold on\n"                   /* 9: unknown key */
               "    text: {en: One moment.}\n"          /* 10 */
               "  - id: empty\n"                        /* 11 */
               "    title: Empty\n"                     /* 12 */
               "    text: {en: \"  \", zh: 空}\n"       /* 13: blank */
               "  - id: french\n"                       /* 14 */
               "    title: French\n"                    /* 15 */
               "    text: {fr: Bonjour.}\n"             /* 16: undeclared language */
               "  - id: english_only\n"                 /* 17: warning, no zh */
               "    title: English only\n"              /* 18 */
               "    text: {en: Thanks.}\n");            /* 19 */
    report_t r = {0};
    kf_bot_check_counts_t c;
    cr_assert_eq(kf_bot_check(dir, on_item, &r, &c), 0);
    char want[5][256];
    snprintf(want[0], sizeof want[0],
             "%s/canned.yml:5: error: duplicate canned response 'greeting' (first defined at %s/canned.yml:2)", dir, dir);
    snprintf(want[1], sizeof want[1], "%s/canned.yml:9: error: unknown key 'titel' in a canned response (id, title, text)", dir);
    snprintf(want[2], sizeof want[2], "%s/canned.yml:13: error: the 'en' text of canned response 'empty' is blank", dir);
    snprintf(want[3], sizeof want[3], "%s/canned.yml:16: error: language 'fr' in the text of canned response 'french' is not in bot.yml languages", dir);
    snprintf(want[4], sizeof want[4], "%s/canned.yml:17: warning: canned response 'english_only' has no text in 'zh'", dir);
    for (size_t i = 0; i < r.n && i < 5; i++) cr_expect_str_eq(r.lines[i], want[i], "line %zu", i + 1);
    for (size_t i = 5; i < r.n; i++) cr_expect_fail("unexpected line: %s", r.lines[i]);
    for (size_t i = r.n; i < 5; i++) cr_expect_fail("missing line: %s", want[i]);
    cr_expect_eq(c.errors, 4);
    cr_expect_eq(c.warnings, 1);
    for (size_t i = 0; i < r.n; i++) free(r.lines[i]);
}

Test(bot_canned, training_refuses_a_bot_with_a_broken_canned_yml, .init = make_bot, .fini = remove_bot) {
    /* kf_bot_each_example validates the whole folder, like kf_bot_load */
    write_file("canned.yml", "canned:\n  - id: a\n    title: A\n    text: {en: x, xx: y}\n");
    char err[512] = "", want[256];
    cr_expect_eq(kf_bot_each_example(dir, NULL, NULL, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s/canned.yml:4: language 'xx' in the text of canned response 'a' is not in bot.yml languages", dir);
    cr_expect_str_eq(err, want);
}
