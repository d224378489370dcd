/* test_kb_faq.c — the FAQ loader (kb/faq_load.c) and its FTS5 index
 * (kb/kb_fts.c): the demo bank FAQ loads in both languages, every loader
 * error names file:line, paraphrases in English and Chinese (including a
 * 2-character Chinese term) find the right entry, nonsense stays under the
 * bot's threshold, FTS5 operators in customer text never break a query,
 * every listed question retrieves its own entry, concurrent searches agree,
 * and our BM25 equals FTS5's own.  Run from the repository root. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kb/faq.h"
#include "kb/kb.h"

#define FIX "tests/fixtures/kb/"
#define FAQ_THRESHOLD 0.35 /* bots/demo/bot.yml thresholds.faq */

static kf_kb_t *demo(void) {
    char err[512] = "";
    kf_kb_t *kb = kf_kb_open("bots/demo", err, sizeof err);
    cr_assert(kb, "%s", err);
    return kb;
}

static int search(kf_kb_t *kb, const char *lang, const char *q, kf_kb_hit_t *h, size_t k) {
    char err[256] = "";
    int n = kf_kb_search(kb, lang, q, strlen(q), h, k, err, sizeof err);
    cr_assert_geq(n, 0, "'%s': %s", q, err);
    return n;
}

static void expect_top(kf_kb_t *kb, const char *lang, const char *q, const char *id) {
    kf_kb_hit_t h[3];
    int n = search(kb, lang, q, h, 3);
    cr_assert_gt(n, 0, "'%s': no hit", q);
    cr_expect_str_eq(h[0].entry->id, id, "'%s' -> %s (%.3f)", q, h[0].entry->id, h[0].score);
    cr_expect_geq(h[0].score, FAQ_THRESHOLD, "'%s' -> %s scores only %.3f", q, h[0].entry->id, h[0].score);
    cr_expect_leq(h[0].score, 1.0);
}

/* ---- loading ------------------------------------------------------------- */

Test(faq_load, demo_faq_both_languages) {
    char err[512] = "";
    kf_faq_t *f = kf_faq_load("bots/demo", err, sizeof err);
    cr_assert(f, "%s", err);
    size_t en = kf_faq_count_lang(f, "en"), zh = kf_faq_count_lang(f, "zh");
    cr_log_info("demo FAQ: %zu entries, %zu in en, %zu in zh", kf_faq_count(f), en, zh);
    cr_expect_geq(en + zh, 60);
    cr_expect_geq(en, 30);
    cr_expect_geq(zh, 30);
    for (size_t i = 0; i < kf_faq_count(f); i++) {
        const kf_faq_entry_t *e = kf_faq_entry(f, i);
        cr_expect_gt(e->n_tags, 0, "%s has no tags", e->id);
        for (size_t l = 0; l < e->n_langs; l++) {
            cr_expect_geq(e->langs[l].n_questions, 3, "%s/%s: few variants", e->id, e->langs[l].lang);
            cr_expect(e->langs[l].answer && *e->langs[l].answer);
        }
    }
    const kf_faq_entry_t *e = kf_faq_find(f, "card_annual_fee");
    cr_assert(e);
    cr_expect(kf_faq_answer(e, "zh") && strstr(kf_faq_answer(e, "zh"), "年费"));
    cr_expect_null(kf_faq_answer(e, "fr"));
    cr_expect_null(kf_faq_find(f, "no_such_entry"));
    kf_faq_free(f);
}

Test(faq_load, good_fixture_exact) {
    char err[256] = "";
    kf_faq_t *f = kf_faq_load(FIX "good", err, sizeof err);
    cr_assert(f, "%s", err);
    cr_assert_eq(kf_faq_count(f), 2);
    const kf_faq_entry_t *e = kf_faq_entry(f, 0);
    cr_expect_str_eq(e->id, "fees");
    cr_expect_str_eq(e->file, FIX "good/faq/a.yml");
    cr_expect_eq(e->line, 3);
    cr_expect_eq(e->n_tags, 1);
    cr_expect_eq(e->n_langs, 2);
    cr_expect_str_eq(e->langs[0].questions[1], "how much do you charge");
    cr_expect_eq(e->langs[0].question_lines[1], 8);
    cr_expect_str_eq(kf_faq_answer(e, "zh"), "请查看收费标准。");
    cr_expect_eq(kf_faq_count_lang(f, "zh"), 1);
    cr_expect_eq(kf_faq_count_lang(f, "en"), 2);
    cr_expect_null(kf_faq_entry(f, 2));
    kf_faq_free(f);
}

Test(faq_load, no_faq_folder_is_empty) {
    char err[256] = "";
    kf_faq_t *f = kf_faq_load(FIX "empty", err, sizeof err);
    cr_assert(f, "%s", err);
    cr_expect_eq(kf_faq_count(f), 0);
    kf_kb_t *kb = kf_kb_build(f, NULL, err, sizeof err);
    cr_assert(kb, "%s", err);
    kf_kb_hit_t h[2];
    cr_expect_eq(search(kb, NULL, "anything at all", h, 2), 0);
    kf_kb_free(kb);
}

static void expect_error(const char *dir, const char *where, const char *what) {
    char err[512] = "";
    kf_faq_t *f = kf_faq_load(dir, err, sizeof err);
    cr_expect_null(f, "%s loaded", dir);
    kf_faq_free(f);
    cr_expect(strncmp(err, where, strlen(where)) == 0, "want '%s...', got '%s'", where, err);
    cr_expect(strstr(err, what), "want '%s' in '%s'", what, err);
}

Test(faq_load, errors_name_file_and_line) {
    expect_error(FIX "missing_id", FIX "missing_id/faq/a.yml:5: ", "no 'id'");
    expect_error(FIX "dup_id", FIX "dup_id/faq/b.yml:5: ", "'same' given twice (first at " FIX "dup_id/faq/a.yml:2)");
    expect_error(FIX "no_questions", FIX "no_questions/faq/a.yml:2: ", "has no questions");
    expect_error(FIX "no_answer", FIX "no_answer/faq/a.yml:5: ", "questions in 'zh' but entry 'half' has no answer");
    expect_error(FIX "unknown_key", FIX "unknown_key/faq/a.yml:4: ", "unknown key 'answer'");
    expect_error(FIX "malformed", FIX "malformed/faq/a.yml:", "");
    expect_error(FIX "dup_question", FIX "dup_question/faq/a.yml:6: ", "also at " FIX "dup_question/faq/a.yml:3");
}

/* ---- search -------------------------------------------------------------- */

Test(kb_search, english_paraphrases) {
    kf_kb_t *kb = demo();
    expect_top(kb, "en", "how much does it cost to send money abroad", "intl_transfer_fees");
    expect_top(kb, NULL, "how much does it cost to send money abroad", "intl_transfer_fees");
    expect_top(kb, "en", "what's the fee for a transfer to another country", "intl_transfer_fees");
    expect_top(kb, "en", "I can't remember my pin", "card_pin");
    expect_top(kb, "en", "how long until a cheque clears", "cheques");
    expect_top(kb, "en", "refund for item never delivered", "chargebacks");
    expect_top(kb, "en", "I got a weird text asking for my password", "phishing");
    expect_top(kb, "en", "tap payment maximum", "contactless");
    kf_kb_free(kb);
}

Test(kb_search, chinese_paraphrases_and_short_terms) {
    kf_kb_t *kb = demo();
    expect_top(kb, "zh", "信用卡年费多少", "card_annual_fee");
    expect_top(kb, NULL, "信用卡年费多少", "card_annual_fee");
    expect_top(kb, "zh", "利率", "interest_rates");  /* 2 characters: the trigram table cannot see it */
    expect_top(kb, NULL, "利率", "interest_rates");
    expect_top(kb, "zh", "年费", "card_annual_fee");
    expect_top(kb, "zh", "支票多久到账", "cheques");
    expect_top(kb, "zh", "汇款到国外要多少手续费", "intl_transfer_fees");
    expect_top(kb, "zh", "出国刷卡收费吗", "foreign_transaction_fee");
    expect_top(kb, "zh", "怎么销户", "account_closing");
    kf_kb_hit_t h[2];
    int n = search(kb, NULL, "利率", h, 2);
    cr_assert_gt(n, 0);
    cr_expect_str_eq(h[0].lang, "zh");
    kf_kb_free(kb);
}

Test(kb_search, nonsense_stays_below_threshold) {
    kf_kb_t *kb = demo();
    static const char *const qs[] = {"purple elephant banana", "今天天气怎么样", "zxqv wbbt", "紫色大象香蕉", "how", "?!"};
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++)
        for (int lang = 0; lang < 3; lang++) {
            kf_kb_hit_t h[3];
            const char *l = lang == 0 ? NULL : lang == 1 ? "en" : "zh";
            int n = search(kb, l, qs[i], h, 3);
            cr_expect(n == 0 || h[0].score < FAQ_THRESHOLD, "'%s' (%s) -> %s %.3f", qs[i], l ? l : "any",
                      h[0].entry->id, h[0].score);
        }
    kf_kb_free(kb);
}

Test(kb_search, operators_and_quotes_never_error) {
    kf_kb_t *kb = demo();
    static const char *const qs[] = {
        "\"", "\"\"", "\"card", "fee*", "*", "card AND fee", "AND", "OR OR OR", "NOT", "NEAR(card fee)", "NEAR(",
        "-fee", "-", "q: fee", ":", "{q a}: card", "^card", "card + fee", "(((", ")", "a\"b\"c", "NEAR/3",
        "col:\"x\" AND (y OR", "'; DROP TABLE w0; --", "年费\"*", "\"年费\" NEAR(利率", "卡", "卡:", "\\", "%_%",
        "\xef\xbc\x82年费\xef\xbc\x82", /* full-width quotes */
    };
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++)
        for (int lang = 0; lang < 3; lang++) {
            kf_kb_hit_t h[3];
            char err[256] = "";
            const char *l = lang == 0 ? NULL : lang == 1 ? "en" : "zh";
            int n = kf_kb_search(kb, l, qs[i], strlen(qs[i]), h, 3, err, sizeof err);
            cr_expect_geq(n, 0, "'%s' (%s): %s", qs[i], l ? l : "any", err);
        }
    kf_kb_hit_t h[3];
    cr_expect_gt(search(kb, "en", "\"annual\" AND fee* NEAR(credit card)", h, 3), 0);
    cr_expect_str_eq(h[0].entry->id, "card_annual_fee");
    kf_kb_free(kb);
}

Test(kb_search, bad_input) {
    kf_kb_t *kb = demo();
    kf_kb_hit_t h[2];
    char err[256] = "";
    cr_expect_eq(kf_kb_search(kb, "en", "caf\xc3", 4, h, 2, err, sizeof err), -1);
    cr_expect_neq(err[0], '\0');
    cr_expect_eq(kf_kb_search(kb, "en", "", 0, h, 2, err, sizeof err), 0);
    cr_expect_eq(kf_kb_search(kb, "fr", "fee", 3, h, 2, err, sizeof err), 0);
    cr_expect_eq(kf_kb_search(kb, "en", "fee", 3, h, 0, err, sizeof err), 0);
    static char big[20000];
    for (size_t i = 0; i + 1 < sizeof big; i++) big[i] = "fee card 年费 "[i % 16];
    cr_expect_geq(kf_kb_search(kb, NULL, big, strlen(big), h, 2, err, sizeof err), 0, "%s", err);
    kf_kb_free(kb);
}

Test(kb_search, every_question_finds_its_entry) {
    kf_kb_t *kb = demo();
    const kf_faq_t *f = kf_kb_faq(kb);
    size_t total = 0, ok = 0;
    for (size_t i = 0; i < kf_faq_count(f); i++) {
        const kf_faq_entry_t *e = kf_faq_entry(f, i);
        for (size_t l = 0; l < e->n_langs; l++)
            for (size_t q = 0; q < e->langs[l].n_questions; q++) {
                kf_kb_hit_t h[1];
                int n = search(kb, e->langs[l].lang, e->langs[l].questions[q], h, 1);
                total++;
                if (n == 1 && h[0].entry == e && h[0].score >= FAQ_THRESHOLD) ok++;
                else cr_log_warn("'%s' (%s) -> %s", e->langs[l].questions[q], e->id, n ? h[0].entry->id : "nothing");
            }
    }
    double rate = (double)ok / (double)total;
    cr_log_info("self-retrieval: %zu/%zu = %.4f", ok, total, rate);
    cr_expect_geq(rate, 0.95);
    kf_kb_free(kb);
}

/* ---- threads, latency, file index ------------------------------------- */

typedef struct {
    kf_kb_t *kb;
    int n, bad;
    double secs;
} worker_t;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *worker(void *ud) {
    worker_t *w = ud;
    static const char *const qs[][3] = {{"en", "how much does it cost to send money abroad", "intl_transfer_fees"},
                                        {"zh", "信用卡年费多少", "card_annual_fee"},
                                        {"zh", "利率", "interest_rates"},
                                        {"en", "what is the contactless limit on my card", "contactless"}};
    double t0 = now();
    for (int i = 0; i < w->n; i++) {
        kf_kb_hit_t h[5];
        char err[128];
        int k = i % 4;
        int n = kf_kb_search(w->kb, qs[k][0], qs[k][1], strlen(qs[k][1]), h, 5, err, sizeof err);
        if (n < 1 || strcmp(h[0].entry->id, qs[k][2])) w->bad++;
    }
    w->secs = now() - t0;
    return NULL;
}

static void run_threads(kf_kb_t *kb, int nthreads, int per, const char *label) {
    pthread_t t[4];
    worker_t w[4];
    double t0 = now();
    for (int i = 0; i < nthreads; i++) {
        w[i] = (worker_t){kb, per, 0, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, worker, &w[i]), 0);
    }
    for (int i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
    double wall = now() - t0;
    for (int i = 0; i < nthreads; i++) cr_expect_eq(w[i].bad, 0, "thread %d: %d wrong answers", i, w[i].bad);
    cr_log_info("%s: %d threads, %.1f us per search, %.0f searches/s", label, nthreads, w[0].secs / per * 1e6,
                nthreads * per / wall);
}

Test(kb_search, latency_and_threads, .timeout = 120) {
    kf_kb_t *kb = demo();
    static const char *const qs[][2] = {{"en", "how much does it cost to send money abroad"},
                                        {"zh", "信用卡年费多少"},
                                        {"zh", "利率"},
                                        {NULL, "what is the contactless limit on my card"}};
    for (int k = 0; k < 4; k++) {
        kf_kb_hit_t h[5];
        int n = 3000;
        double t0 = now();
        for (int i = 0; i < n; i++) search(kb, qs[k][0], qs[k][1], h, 5);
        cr_log_info("latency %s '%s': %.1f us", qs[k][0] ? qs[k][0] : "any", qs[k][1], (now() - t0) / n * 1e6);
    }
    run_threads(kb, 1, 4000, "pool");
    run_threads(kb, 2, 4000, "pool");
    run_threads(kb, 4, 2000, "pool");
    kf_kb_set_max_connections(kb, 1); /* the idle pool already holds more: build a fresh one */
    kf_kb_free(kb);
    kb = demo();
    kf_kb_set_max_connections(kb, 1);
    run_threads(kb, 2, 4000, "one connection + lock");
    kf_kb_free(kb);
}

Test(kb_search, file_index_matches_fts5_bm25) {
    char err[256] = "";
    const char *path = "build-kb-test-index.sqlite";
    kf_faq_t *f = kf_faq_load("bots/demo", err, sizeof err);
    cr_assert(f, "%s", err);
    kf_kb_t *kb = kf_kb_build(f, path, err, sizeof err);
    cr_assert(kb, "%s", err);
    kf_kb_hit_t h[5];
    int n = search(kb, "en", "cheque clears", h, 5);
    cr_assert_gt(n, 0);
    cr_expect_str_eq(h[0].entry->id, "cheques");
    /* SQLite's own bm25() on the file, same weights, same MATCH. */
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT rowid, -bm25(w0, 1.0, 0.5, 0.2) FROM w0 WHERE w0 MATCH "
                                    "'\"cheque\" OR \"clears\"' ORDER BY 2 DESC",
                                    -1, &st, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW && rows < n) {
        const kf_faq_entry_t *e = kf_faq_entry(kf_kb_faq(kb), (size_t)sqlite3_column_int64(st, 0) - 1);
        cr_expect_eq(e, h[rows].entry, "row %d", rows);
        double want = sqlite3_column_double(st, 1);
        cr_expect(h[rows].bm25 > want - 1e-9 && h[rows].bm25 < want + 1e-9, "bm25 %f vs fts5 %f", h[rows].bm25, want);
        rows++;
    }
    cr_expect_gt(rows, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    kf_kb_free(kb);
    remove(path);
}
