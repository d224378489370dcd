/* entities_date.c — dates in English and Chinese, normalised to YYYY-MM-DD.
 *
 * Absolute: 2026-03-01, 2026/3/1, 2026年3月1日, 3月5日, 三月五号, March 3,
 * Mar 3rd, 3 March, 3rd of March (optionally with a year), 3/15 (month/day;
 * day/month when only that is a valid date), 3/15/2026.
 * Relative to the reference day (x->now read as UTC): today, tomorrow,
 * yesterday, the day after tomorrow, in 3 days, 2 weeks ago, next/this/last
 * Monday, 今天 明天 后天 大后天 昨天 前天, 下周一 本周三 上星期五 周日,
 * 3天后 三天前.  Calendar arithmetic is done on day numbers, never with the
 * C library's time zone. */
#include <stdio.h>

#include "nlu/entities_int.h"

static const char T_DATE[] = "date";

/* Proleptic Gregorian date of a day number (days since 1970-01-01). */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t today(const kf_ent_ctx_t *x)
{
    return x->today;
}

static int ref_year(const kf_ent_ctx_t *x)
{
    return x->year;
}

static int valid_ymd(int y, int m, int d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1) return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

static int emit_ymd(kf_ent_ctx_t *x, int s, int e, int y, int m, int d)
{
    if (!valid_ymd(y, m, d)) return 0;
    char v[40];
    snprintf(v, sizeof v, "%04d-%02d-%02d", y, m, d);
    kf_ent_cand_add(x, T_DATE, KF_ENT_PRIO_DATE, s, e, v);
    return e;
}

static int emit_days(kf_ent_ctx_t *x, int s, int e, int64_t days)
{
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    return emit_ymd(x, s, e, y, m, d);
}

/* Arabic (up to maxd digits) or Chinese numeral at i. */
static int number(const kf_ent_ctx_t *x, int i, int maxd, int64_t *v)
{
    int k = kf_ent_uint(x, i, maxd + 1, v);
    if (k) return k <= maxd ? k : 0;
    return kf_ent_cjk_num(x, i, v);
}

static int boundary_after(const kf_ent_ctx_t *x, int e)
{
    return !kf_ent_is_word(kf_ent_at(x, e));
}

/* ---- numeric forms ----------------------------------------------------- */

/* 2026-03-01, 2026/3/1, 2026.3.1 */
static int iso(kf_ent_ctx_t *x, int i)
{
    int64_t y, m, d;
    if (kf_ent_uint(x, i, 5, &y) != 4) return 0;
    int32_t sep = kf_ent_at(x, i + 4);
    if (sep != '-' && sep != '/' && sep != '.') return 0;
    int j = i + 5, k = kf_ent_uint(x, j, 3, &m);
    if (k < 1 || k > 2 || kf_ent_at(x, j + k) != sep) return 0;
    j += k + 1;
    k = kf_ent_uint(x, j, 3, &d);
    if (k < 1 || k > 2 || !boundary_after(x, j + k)) return 0;
    return emit_ymd(x, i, j + k, (int)y, (int)m, (int)d);
}

/* [YYYY年]M月D[日|号] with Arabic or Chinese numerals. */
static int cjk_md(kf_ent_ctx_t *x, int i)
{
    int64_t y = ref_year(x), m, d, v;
    int j = i, k = number(x, j, 4, &v);
    if (!k) return 0;
    if (kf_ent_at(x, j + k) == 0x5E74 /* 年 */) {
        if (v < 1900 || v > 2200) return 0;
        y = v;
        j += k + 1;
        k = number(x, j, 2, &v);
        if (!k) return 0;
    }
    if (kf_ent_at(x, j + k) != 0x6708 /* 月 */) return 0;
    m = v;
    j += k + 1;
    k = number(x, j, 2, &d);
    if (!k) return 0;
    j += k;
    if (kf_ent_at(x, j) == 0x65E5 /* 日 */ || kf_ent_at(x, j) == 0x53F7 /* 号 */) j++;
    else if (kf_ent_digit(kf_ent_at(x, j)) >= 0) return 0;
    return emit_ymd(x, i, j, (int)y, (int)m, (int)d);
}

/* M/D and M/D/YYYY (D/M when M/D is impossible). */
static int slashed(kf_ent_ctx_t *x, int i)
{
    int64_t a, b, y = ref_year(x);
    int k = kf_ent_uint(x, i, 3, &a);
    if (k < 1 || k > 2 || kf_ent_at(x, i + k) != '/') return 0;
    int j = i + k + 1, k2 = kf_ent_uint(x, j, 3, &b);
    if (k2 < 1 || k2 > 2) return 0;
    j += k2;
    if (kf_ent_at(x, j) == '/' && kf_ent_digit(kf_ent_at(x, j + 1)) >= 0) {
        int k3 = kf_ent_uint(x, j + 1, 5, &y);
        if (k3 != 4) return 0;
        j += 1 + k3;
    }
    if (!boundary_after(x, j) || kf_ent_at(x, j) == '/') return 0;
    if (valid_ymd((int)y, (int)a, (int)b)) return emit_ymd(x, i, j, (int)y, (int)a, (int)b);
    return emit_ymd(x, i, j, (int)y, (int)b, (int)a);
}

/* ---- month names ------------------------------------------------------- */

static const char *const months[] = {"january", "february", "march", "april", "may", "june", "july",
                                     "august", "september", "october", "november", "december", "jan",
                                     "feb", "mar", "apr", "jun", "jul", "aug", "sept", "sep", "oct",
                                     "nov", "dec", NULL};
static kf_ent_cues_t month_cues = KF_ENT_CUES(months);
static const int month_no[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 6, 7, 8, 9, 9, 10, 11, 12};

static int month_name(const kf_ent_ctx_t *x, int i, int *m)
{
    int w, k = kf_ent_cues(x, i, &month_cues, 1, &w);
    if (!k) return 0;
    *m = month_no[w];
    if (kf_ent_at(x, i + k) == '.') k++;
    return k;
}

/* Day number with optional ordinal suffix; returns length. */
static int day_num(const kf_ent_ctx_t *x, int i, int64_t *d)
{
    int k = kf_ent_uint(x, i, 3, d);
    if (k < 1 || k > 2) return 0;
    static const char *const ord[] = {"st", "nd", "rd", "th", NULL};
    int o = kf_ent_lits(x, i + k, ord, 0, NULL);
    if (o && !kf_ent_is_word(kf_ent_at(x, i + k + o))) return k + o;
    return boundary_after(x, i + k) ? k : 0;
}

/* ", 2026" or " 2026" after a month-day form. */
static int year_after(const kf_ent_ctx_t *x, int j, int64_t *y)
{
    int s = j;
    if (kf_ent_at(x, s) == ',') s++;
    s = kf_ent_skip_spaces(x, s);
    if (s == j) return 0;
    int64_t v;
    int k = kf_ent_uint(x, s, 5, &v);
    if (k != 4 || !boundary_after(x, s + k) || v < 1900 || v > 2200) return 0;
    *y = v;
    return s + k - j;
}

/* "March 3", "Mar 3rd, 2026" */
static int month_day(kf_ent_ctx_t *x, int i)
{
    int m, k = month_name(x, i, &m);
    if (!k) return 0;
    int j = kf_ent_skip_spaces(x, i + k);
    if (j == i + k) return 0;
    int64_t d, y = ref_year(x);
    int dk = day_num(x, j, &d);
    if (!dk) return 0;
    j += dk;
    j += year_after(x, j, &y);
    return emit_ymd(x, i, j, (int)y, m, (int)d);
}

/* "3 March", "3rd of March 2026" */
static int day_month(kf_ent_ctx_t *x, int i)
{
    int64_t d, y = ref_year(x);
    int dk = day_num(x, i, &d);
    if (!dk) return 0;
    int j = kf_ent_skip_spaces(x, i + dk);
    if (j == i + dk) return 0;
    int of = kf_ent_word(x, j, "of ");
    j += of;
    int m, k = month_name(x, j, &m);
    if (!k) return 0;
    j += k;
    j += year_after(x, j, &y);
    return emit_ymd(x, i, j, (int)y, m, (int)d);
}

/* ---- relative ---------------------------------------------------------- */

static const char *const rel_en[] = {"the day after tomorrow", "day after tomorrow", "the day before yesterday",
                                     "day before yesterday", "today", "tonight", "tomorrow", "yesterday", NULL};
static kf_ent_cues_t rel_en_cues = KF_ENT_CUES(rel_en);
static const int rel_en_off[] = {2, 2, -2, -2, 0, 0, 1, -1};

static const char *const rel_zh[] = {"大后天", "后天", "明天", "明日", "今天", "今日", "今晚", "大前天",
                                     "前天", "昨天", "昨日", NULL};
static kf_ent_cues_t rel_zh_cues = KF_ENT_CUES(rel_zh);
static const int rel_zh_off[] = {3, 2, 1, 1, 0, 0, 0, -3, -2, -1, -1};

static const char *const wd_en[] = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                                    "sunday", "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri",
                                    "sat", "sun", NULL};
static const int wd_en_no[] = {0, 1, 2, 3, 4, 5, 6, 0, 1, 1, 2, 3, 3, 3, 4, 5, 6};

static const char *const small_en[] = {"one", "two", "three", "four", "five", "six", "seven", "eight",
                                       "nine", "ten", "a", NULL};
static kf_ent_cues_t small_cues = KF_ENT_CUES(small_en);
static const int small_en_no[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1};

/* Monday of the reference week + week offset + weekday (0 = Monday). */
static int emit_weekday(kf_ent_ctx_t *x, int s, int e, int week, int wd)
{
    int64_t t = today(x);
    int64_t mon = t - ((t % 7 + 7 + 3) % 7); /* 1970-01-01 was a Thursday */
    return emit_days(x, s, e, mon + 7 * week + wd);
}

static int en_count(const kf_ent_ctx_t *x, int j, int64_t *n)
{
    int k = kf_ent_uint(x, j, 4, n);
    if (k) return boundary_after(x, j + k) ? k : 0;
    int w;
    k = kf_ent_cues(x, j, &small_cues, 1, &w);
    if (k) *n = small_en_no[w];
    return k;
}

/* "days"/"weeks" unit after a count: returns length, *mult days per unit. */
static int en_unit(const kf_ent_ctx_t *x, int j, int *mult)
{
    static const char *const units[] = {"days", "day", "weeks", "week", NULL};
    int w, k = kf_ent_lits(x, j, units, 1, &w);
    if (k) *mult = w < 2 ? 1 : 7;
    return k;
}

static int relative_en(kf_ent_ctx_t *x, int i)
{
    int w, k = kf_ent_cues(x, i, &rel_en_cues, 1, &w);
    if (k) return emit_days(x, i, i + k, today(x) + rel_en_off[w]);
    static const char *const which[] = {"next ", "this ", "last ", "coming ", NULL};
    static const int which_wk[] = {1, 0, -1, 1};
    static kf_ent_cues_t which_cues = KF_ENT_CUES(which);
    if ((k = kf_ent_cues(x, i, &which_cues, 1, &w))) {
        int d, k2 = kf_ent_lits(x, i + k, wd_en, 1, &d);
        if (k2) return emit_weekday(x, i, i + k + k2, which_wk[w], wd_en_no[d]);
        return 0;
    }
    int64_t n;
    int mult;
    if ((k = kf_ent_word(x, i, "in "))) { /* in 3 days */
        int j = i + k, c = en_count(x, j, &n);
        if (!c) return 0;
        j = kf_ent_skip_spaces(x, j + c);
        int u = en_unit(x, j, &mult);
        if (!u) return 0;
        return emit_days(x, i, j + u, today(x) + n * mult);
    }
    int c = en_count(x, i, &n); /* 3 days ago / 2 weeks later */
    if (!c) return 0;
    int j = kf_ent_skip_spaces(x, i + c);
    int u = en_unit(x, j, &mult);
    if (!u) return 0;
    j = kf_ent_skip_spaces(x, j + u);
    int a;
    if ((a = kf_ent_word(x, j, "ago"))) return emit_days(x, i, j + a, today(x) - n * mult);
    if ((a = kf_ent_word(x, j, "later"))) return emit_days(x, i, j + a, today(x) + n * mult);
    if ((a = kf_ent_word(x, j, "from now"))) return emit_days(x, i, j + a, today(x) + n * mult);
    return 0;
}

static int zh_weekday(int32_t c)
{
    switch (c) {
    case 0x4E00: case '1': return 0; /* 一 */
    case 0x4E8C: case '2': return 1; /* 二 */
    case 0x4E09: case '3': return 2; /* 三 */
    case 0x56DB: case '4': return 3; /* 四 */
    case 0x4E94: case '5': return 4; /* 五 */
    case 0x516D: case '6': return 5; /* 六 */
    case 0x65E5: case 0x5929: case '7': return 6; /* 日 天 */
    default: return -1;
    }
}

static int relative_zh(kf_ent_ctx_t *x, int i)
{
    int w, k = kf_ent_cues(x, i, &rel_zh_cues, 0, &w);
    if (k) return emit_days(x, i, i + k, today(x) + rel_zh_off[w]);
    /* 下周一, 上星期五, 本周三, 这个礼拜天, 周日 */
    static const char *const which[] = {"下个", "下", "上个", "上", "本", "这个", "这", "", NULL};
    static const int which_wk[] = {1, 1, -1, -1, 0, 0, 0, 0};
    static const char *const weekw[] = {"星期", "礼拜", "周", NULL};
    static const char *const week_starts[] = {"下", "上", "本", "这", "星期", "礼拜", "周", NULL};
    static kf_ent_cues_t week_cues = KF_ENT_CUES(week_starts);
    for (int a = 0; kf_ent_cues(x, i, &week_cues, 0, NULL) && which[a]; a++) {
        int k1 = which[a][0] ? kf_ent_lit(x, i, which[a]) : 0;
        if (which[a][0] && !k1) continue;
        int k2 = kf_ent_lits(x, i + k1, weekw, 0, NULL);
        if (!k2) continue;
        int d = zh_weekday(kf_ent_at(x, i + k1 + k2));
        if (d < 0) return 0;
        int e = i + k1 + k2 + 1;
        if (kf_ent_digit(kf_ent_at(x, e)) >= 0) return 0;
        return emit_weekday(x, i, e, which_wk[a], d);
    }
    /* 3天后, 三天前, 两周后, 5天以后 */
    int64_t n;
    int c = number(x, i, 4, &n);
    if (!c) return 0;
    int j = i + c, mult = 0;
    if (kf_ent_at(x, j) == 0x5929 /* 天 */) mult = 1, j++;
    else if (kf_ent_lit(x, j, "个星期")) mult = 7, j += 3;
    else if (kf_ent_lit(x, j, "周") || kf_ent_lit(x, j, "星期")) mult = 7, j += kf_ent_lit(x, j, "周") ? 1 : 2;
    if (!mult) return 0;
    static const char *const after[] = {"以后", "之后", "后", NULL}, *const before[] = {"以前", "之前", "前", NULL};
    int a;
    if ((a = kf_ent_lits(x, j, after, 0, NULL))) return emit_days(x, i, j + a, today(x) + n * mult);
    if ((a = kf_ent_lits(x, j, before, 0, NULL))) return emit_days(x, i, j + a, today(x) - n * mult);
    return 0;
}

/* Whether the scan below can find anything.  Digits (the digit branch) and
 * non-ASCII code points (the CJK branch; and utf8proc's lower case of some
 * non-ASCII letters is ASCII) always take the full scan.  In the rest, every
 * form the letter branch accepts has one of these words' first three letters
 * at a word start (the cue literals only match at word starts, white space
 * before a unit or a weekday included): a month name or abbreviation, today
 * tonight tomorrow yesterday ("the day after tomorrow" too), a weekday name
 * or abbreviation (after next/this/last/coming), day(s)/week(s) (after a
 * count).  80 % of Banking77 messages (7993 of 10003) have none; skipping the
 * scan of their word starts against six cue lists took a benchmark query
 * from 6.06 to 5.82 us in-process. */
static int may_hold_date(const kf_ent_ctx_t *x)
{
    const int32_t *lc = x->lc;
    const int n = x->n;
    for (int i = 0; i < n; i++) {
        int32_t c = lc[i];
        if (c >= 128 || (c >= '0' && c <= '9')) return 1;
        if (c < 'a' || c > 'z' || i + 2 >= n || (i > 0 && kf_ent_is_word(lc[i - 1]))) continue;
#define K3(a, b, c) ((uint32_t)(a) << 16 | (uint32_t)(b) << 8 | (uint32_t)(c))
        switch (K3(c, lc[i + 1], lc[i + 2])) {
        case K3('j', 'a', 'n'): case K3('f', 'e', 'b'): case K3('m', 'a', 'r'): case K3('a', 'p', 'r'):
        case K3('m', 'a', 'y'): case K3('j', 'u', 'n'): case K3('j', 'u', 'l'): case K3('a', 'u', 'g'):
        case K3('s', 'e', 'p'): case K3('o', 'c', 't'): case K3('n', 'o', 'v'): case K3('d', 'e', 'c'):
        case K3('t', 'o', 'd'): case K3('t', 'o', 'n'): case K3('t', 'o', 'm'): case K3('y', 'e', 's'):
        case K3('m', 'o', 'n'): case K3('t', 'u', 'e'): case K3('w', 'e', 'd'): case K3('t', 'h', 'u'):
        case K3('f', 'r', 'i'): case K3('s', 'a', 't'): case K3('s', 'u', 'n'):
        case K3('d', 'a', 'y'): case K3('w', 'e', 'e'):
            return 1;
        default:
            break;
        }
#undef K3
    }
    return 0;
}

void kf_ent_find_dates(kf_ent_ctx_t *x)
{
    int64_t t = (int64_t)x->now;
    int m, d;
    x->today = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    civil_from_days(x->today, &x->year, &m, &d);
    if (!may_hold_date(x)) return;
    int i = 0;
    while (i < x->n) {
        int e = 0;
        int32_t p = kf_ent_at(x, i - 1);
        int start_ok = !kf_ent_is_word(p) && p != '/' && p != '-' && p != '.';
        int32_t c = x->lc[i];
        if (kf_ent_digit(c) >= 0 && start_ok) {
            e = iso(x, i);
            if (!e) e = cjk_md(x, i);
            if (!e) e = slashed(x, i);
            if (!e) e = day_month(x, i);
            if (!e) e = relative_en(x, i);
            if (!e) e = relative_zh(x, i);
        } else if (c >= 0x2E80) {
            if (kf_ent_cjk_digit(p) < 0 && p != 0x5341 /* 十 */) e = cjk_md(x, i);
            if (!e) e = relative_zh(x, i);
        } else if (c >= 'a' && c <= 'z' && start_ok) {
            e = month_day(x, i);
            if (!e) e = relative_en(x, i);
        }
        i = e > i ? e : i + 1;
    }
}
