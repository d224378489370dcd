/* Unit tests for nlu/entities dates: ISO, month names, M/D, Chinese forms and
 * relative dates against a fixed reference time (2026-03-04, a Wednesday). */

#include <criterion/criterion.h>
#include <string.h>

#include "nlu/entities.h"

/* 2026-03-04 10:00:00 UTC, a Wednesday. */
#define REF_NOW ((time_t)1772618400)

static int extract_all(const kf_ent_set_t *s, const char *text, kf_ent_t *out, int max)
{
    return kf_ent_extract(s, text, strlen(text), REF_NOW, out, max);
}

/* Asserts that text yields exactly one entity of `type` with value and
 * code-point span [start, end), and that its byte span maps to raw. */
static void expect_one(const kf_ent_set_t *s, const char *text, const char *type, const char *value, int start,
                       int end, const char *raw)
{
    kf_ent_t e[16];
    int n = extract_all(s, text, e, 16);
    int hits = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(e[i].type, type)) continue;
        hits++;
        cr_expect_str_eq(e[i].value, value, "%s: value", text);
        cr_expect_eq(e[i].start, start, "%s: start %d != %d", text, e[i].start, start);
        cr_expect_eq(e[i].end, end, "%s: end %d != %d", text, e[i].end, end);
        if (raw) {
            cr_expect_eq((size_t)(e[i].byte_end - e[i].byte_start), strlen(raw), "%s: raw length", text);
            cr_expect(!strncmp(text + e[i].byte_start, raw, strlen(raw)), "%s: raw text", text);
        }
    }
    cr_expect_eq(hits, 1, "%s: %d entities of type %s", text, hits, type);
}

/* Asserts that text yields no entity of `type`. */
static void expect_none(const char *text, const char *type)
{
    kf_ent_t e[16];
    int n = extract_all(NULL, text, e, 16);
    cr_expect_geq(n, 0);
    for (int i = 0; i < n; i++)
        cr_expect(strcmp(e[i].type, type), "%s: unexpected %s '%s'", text, type, e[i].value);
}


Test(date, absolute_english) {
    expect_one(NULL, "pay on 2026-03-01 please", "date", "2026-03-01", 7, 17, "2026-03-01");
    expect_one(NULL, "on 2026/3/1", "date", "2026-03-01", 3, 11, NULL);
    expect_one(NULL, "March 3", "date", "2026-03-03", 0, 7, NULL);
    expect_one(NULL, "due Mar 3rd, 2027 ok", "date", "2027-03-03", 4, 17, "Mar 3rd, 2027");
    expect_one(NULL, "the 3rd of March", "date", "2026-03-03", 4, 16, NULL);
    expect_one(NULL, "on 15 August", "date", "2026-08-15", 3, 12, NULL);
    expect_one(NULL, "Sept. 9", "date", "2026-09-09", 0, 7, NULL);
    expect_none("I may go", "date");
    expect_none("2026-02-30", "date");
    expect_none("2026-13-01", "date");
}

Test(date, slashed_month_day) {
    expect_one(NULL, "on 3/15 I paid", "date", "2026-03-15", 3, 7, "3/15");
    expect_one(NULL, "on 15/3", "date", "2026-03-15", 3, 7, NULL);   /* only day/month is valid */
    expect_one(NULL, "on 4/5", "date", "2026-04-05", 3, 6, NULL);    /* month/day first */
    expect_one(NULL, "on 12/25/2025", "date", "2025-12-25", 3, 13, NULL);
    expect_none("ratio 13/32", "date");
    expect_none("1/2/3", "date");
}

Test(date, relative_english) {
    expect_one(NULL, "today", "date", "2026-03-04", 0, 5, NULL);
    expect_one(NULL, "do it Tomorrow", "date", "2026-03-05", 6, 14, NULL);
    expect_one(NULL, "yesterday", "date", "2026-03-03", 0, 9, NULL);
    expect_one(NULL, "the day after tomorrow", "date", "2026-03-06", 0, 22, NULL);
    expect_one(NULL, "next Monday", "date", "2026-03-09", 0, 11, NULL);
    expect_one(NULL, "last friday", "date", "2026-02-27", 0, 11, NULL);
    expect_one(NULL, "this sunday", "date", "2026-03-08", 0, 11, NULL);
    expect_one(NULL, "in 3 days", "date", "2026-03-07", 0, 9, NULL);
    expect_one(NULL, "in two weeks", "date", "2026-03-18", 0, 12, NULL);
    expect_one(NULL, "2 weeks ago", "date", "2026-02-18", 0, 11, NULL);
    expect_one(NULL, "30 days ago", "date", "2026-02-02", 0, 11, NULL);
    expect_none("next time", "date");
    expect_none("todays", "date");
}

Test(date, chinese) {
    expect_one(NULL, "今天", "date", "2026-03-04", 0, 2, NULL);
    expect_one(NULL, "我明天去", "date", "2026-03-05", 1, 3, "明天");
    expect_one(NULL, "后天", "date", "2026-03-06", 0, 2, NULL);
    expect_one(NULL, "大后天", "date", "2026-03-07", 0, 3, NULL);
    expect_one(NULL, "昨天的交易", "date", "2026-03-03", 0, 2, NULL);
    expect_one(NULL, "前天", "date", "2026-03-02", 0, 2, NULL);
    expect_one(NULL, "请在下周一还款", "date", "2026-03-09", 2, 5, "下周一");
    expect_one(NULL, "上星期五", "date", "2026-02-27", 0, 4, NULL);
    expect_one(NULL, "本周日", "date", "2026-03-08", 0, 3, NULL);
    expect_one(NULL, "周一", "date", "2026-03-02", 0, 2, NULL);
    expect_one(NULL, "还款日3月5日", "date", "2026-03-05", 3, 7, "3月5日");
    expect_one(NULL, "三月五号", "date", "2026-03-05", 0, 4, NULL);
    expect_one(NULL, "十二月二十五日", "date", "2026-12-25", 0, 7, NULL);
    expect_one(NULL, "2025年12月31日", "date", "2025-12-31", 0, 11, NULL);
    expect_one(NULL, "二〇二五年一月二日", "date", "2025-01-02", 0, 9, NULL);
    expect_one(NULL, "三天后", "date", "2026-03-07", 0, 3, NULL);
    expect_one(NULL, "5天前", "date", "2026-02-27", 0, 3, NULL);
    expect_one(NULL, "两周后", "date", "2026-03-18", 0, 3, NULL);
    expect_none("二月三十日", "date");
    expect_none("三个月", "date");
}

Test(date, reference_time_drives_relative_dates) {
    kf_ent_t e[2];
    /* 2024-02-28 23:59:59 UTC: tomorrow is the leap day */
    int n = kf_ent_extract(NULL, "tomorrow", 8, (time_t)1709164799, e, 2);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(e[0].value, "2024-02-29");
    /* 2025-12-31 (a Wednesday): next Monday crosses the year */
    n = kf_ent_extract(NULL, "下周一", strlen("下周一"), (time_t)1767139200, e, 2);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(e[0].value, "2026-01-05");
    /* a Sunday reference: Chinese weeks start on Monday, so 本周日 is today */
    n = kf_ent_extract(NULL, "本周日", strlen("本周日"), (time_t)1772928000, e, 2);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(e[0].value, "2026-03-08");
}

Test(date, dates_are_not_money_or_phones) {
    kf_ent_t e[4];
    int n = extract_all(NULL, "2026-03-01", e, 4);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(e[0].type, "date");
    n = extract_all(NULL, "3月5日还2万", e, 4);
    cr_assert_eq(n, 2);
    cr_expect_str_eq(e[0].type, "date");
    cr_expect_str_eq(e[1].type, "money");
    cr_expect_eq(e[1].start, 5);
}

/* Digit-free ASCII messages skip the scan unless a word starts with the first
 * three letters of a date word (may_hold_date): each English form without
 * digits, in capitals, after punctuation, after tabs and line breaks, and
 * with the word count spelled out, must still be found. */
Test(date, digit_free_forms_pass_the_prefilter) {
    static const char *const yes[] = {
        "JANUARY first? no: January", "(tonight)", "pay it TODAY.", "\"yesterday\"", "the\tday\nafter tomorrow",
        "day before yesterday", "next\nThursday", "coming sat", "last TUES", "this wed", "in a week",
        "in ten days", "a week ago", "two weeks later", "one day from now", "since Sept", "by Dec.", NULL};
    for (int i = 0; yes[i]; i++) {
        kf_ent_t e[16];
        int n = extract_all(NULL, yes[i], e, 16), dates = 0;
        for (int k = 0; k < n; k++) dates += !strcmp(e[k].type, "date");
        if (strstr(yes[i], "January") || strstr(yes[i], "Sept") || strstr(yes[i], "Dec."))
            cr_expect_eq(dates, 0, "%s: a bare month name is no date", yes[i]);
        else
            cr_expect_eq(dates, 1, "%s: %d dates", yes[i], dates);
    }
    expect_none("I need money for my monthly fees", "date");
    expect_none("declined on saturdays", "date");
}
