/* entities_ids.c — identifier-like built-in entities: card numbers (Luhn),
 * the last four digits of a card, phone numbers, e-mail addresses and
 * order / transaction ids.  Rules are documented in entities.h; they work on
 * code points so Chinese text around the entity needs no spaces. */
#include <stdio.h>
#include <string.h>

#include "nlu/entities_int.h"

static const char T_CARD[] = "card_number", T_LAST4[] = "card_last4", T_PHONE[] = "phone", T_EMAIL[] = "email",
                  T_ORDER[] = "order_id";

static int is_digit_at(const kf_ent_ctx_t *x, int i)
{
    return i >= 0 && i < x->n && kf_ent_digit(x->cp[i]) >= 0;
}

/* ---- card numbers ------------------------------------------------------ */

#define MAX_GROUPS 12

typedef struct {
    int s, e; /* code points of the digit run */
} group_t;

static int luhn_digits(const char *d, int n)
{
    return n >= 13 && n <= 19 && kf_ent_luhn_ok(d, (size_t)n);
}

/* Digits of groups [a, b] into d; returns their count (capped at 40). */
static int collect(const kf_ent_ctx_t *x, const group_t *g, int a, int b, char *d)
{
    int n = 0;
    for (int k = a; k <= b; k++)
        for (int i = g[k].s; i < g[k].e && n < 40; i++) d[n++] = (char)('0' + kf_ent_digit(x->cp[i]));
    d[n] = 0;
    return n;
}

void kf_ent_find_cards(kf_ent_ctx_t *x)
{
    int i = 0;
    while (i < x->n) {
        if (!is_digit_at(x, i) || kf_ent_is_word(kf_ent_at(x, i - 1)) || kf_ent_at(x, i - 1) == '+') {
            i++;
            continue;
        }
        group_t g[MAX_GROUPS];
        int ng = 0, j = i;
        for (;;) {
            int s = j;
            while (is_digit_at(x, j)) j++;
            g[ng++] = (group_t){s, j};
            if (ng == MAX_GROUPS || j + 1 >= x->n) break;
            int32_t sep = x->cp[j];
            if ((sep != ' ' && sep != '-') || !is_digit_at(x, j + 1)) break;
            j++;
        }
        int run_end = g[ng - 1].e;
        if (kf_ent_is_word(kf_ent_at(x, run_end))) {
            i = run_end;
            continue;
        }
        int from = 0;
        while (from < ng) {
            int best_a = -1, best_b = -1, best_n = 0;
            char d[48];
            for (int a = from; a < ng; a++)
                for (int b = a; b < ng; b++) {
                    int n = collect(x, g, a, b, d);
                    if (n > 19) break;
                    if (n > best_n && luhn_digits(d, n)) best_a = a, best_b = b, best_n = n;
                }
            if (best_a < 0) break;
            collect(x, g, best_a, best_b, d);
            kf_ent_cand_add(x, T_CARD, KF_ENT_PRIO_CARD, g[best_a].s, g[best_b].e, d);
            from = best_b + 1;
        }
        i = run_end;
    }
}

/* ---- last four digits -------------------------------------------------- */

static const char *const last4_cues[] = {
    "ending in", "ending with", "ends in", "ends with", "ending", "last 4 digits", "last four digits",
    "last 4", "last four", "尾号", "尾数", "末四位", "后四位", "末4位", "后4位", NULL};

static const char *const fillers[] = {":", "：", "#", "is", "are", "of", "no.", "number", "id", "是", "为", "号", NULL};
static kf_ent_cues_t last4_cue_set = KF_ENT_CUES(last4_cues), filler_set = KF_ENT_CUES(fillers);

/* Skips spaces and filler words after a cue. */
static int skip_fillers(const kf_ent_ctx_t *x, int j)
{
    for (int round = 0; round < 5; round++) {
        j = kf_ent_skip_spaces(x, j);
        int k = kf_ent_cues(x, j, &filler_set, 1, NULL);
        if (!k) break;
        j += k;
    }
    return kf_ent_skip_spaces(x, j);
}

void kf_ent_find_last4(kf_ent_ctx_t *x)
{
    for (int i = 0; i < x->n; i++) {
        int k = kf_ent_cues(x, i, &last4_cue_set, 1, NULL);
        if (!k) continue;
        int j = skip_fillers(x, i + k);
        int64_t v;
        if (kf_ent_uint(x, j, 5, &v) != 4 || kf_ent_is_word(kf_ent_at(x, j + 4))) continue;
        char d[5];
        for (int m = 0; m < 4; m++) d[m] = (char)('0' + kf_ent_digit(x->cp[j + m]));
        d[4] = 0;
        kf_ent_cand_add(x, T_LAST4, KF_ENT_PRIO_LAST4, j, j + 4, d);
        i = j + 3;
    }
}

/* ---- phones ------------------------------------------------------------ */

/* Reads digits from j allowing one space or dash between digit groups,
 * stopping at maxd digits.  seps_at, when not NULL, restricts separators to
 * after those digit counts (a 0-terminated list).  Returns the end index,
 * digits in d. */
static int read_grouped(const kf_ent_ctx_t *x, int j, int maxd, const int *seps_at, char *d, int *nd)
{
    int n = 0;
    while (n < maxd && is_digit_at(x, j)) {
        d[n++] = (char)('0' + kf_ent_digit(x->cp[j]));
        j++;
        if (n < maxd && j + 1 < x->n && (x->cp[j] == ' ' || x->cp[j] == '-') && is_digit_at(x, j + 1)) {
            int ok = !seps_at;
            for (const int *p = seps_at; p && *p; p++) ok |= *p == n;
            if (ok) j++;
        }
    }
    d[n] = 0;
    *nd = n;
    return j;
}

static const int mobile_seps[] = {3, 7, 0};

static void find_cn_mobile(kf_ent_ctx_t *x, int i)
{
    int j = i, prefixed = 0;
    static const char *const prefixes[] = {"(+86)", "+86", "0086", NULL};
    int k = kf_ent_lits(x, i, prefixes, 0, NULL);
    if (k) {
        if (i > 0 && (kf_ent_is_word(x->cp[i - 1]) || x->cp[i - 1] == '+')) return;
        j = i + k;
        if (j < x->n && (x->cp[j] == ' ' || x->cp[j] == '-')) j++;
        prefixed = 1;
    } else if (kf_ent_is_word(kf_ent_at(x, i - 1)) || kf_ent_at(x, i - 1) == '+') {
        return;
    }
    if (!is_digit_at(x, j) || kf_ent_digit(x->cp[j]) != 1) return;
    char d[16];
    int nd;
    int end = read_grouped(x, j, 11, mobile_seps, d, &nd);
    if (nd != 11 || d[1] < '3' || d[1] > '9' || kf_ent_is_word(kf_ent_at(x, end))) return;
    /* not the middle of a longer dash/space-grouped number (cards) */
    if ((kf_ent_at(x, end) == ' ' || kf_ent_at(x, end) == '-') && is_digit_at(x, end + 1)) return;
    if (!prefixed && i >= 2 && (x->cp[i - 1] == ' ' || x->cp[i - 1] == '-') && is_digit_at(x, i - 2)) return;
    char v[32];
    snprintf(v, sizeof v, "+86%s", d);
    kf_ent_cand_add(x, T_PHONE, KF_ENT_PRIO_PHONE, i, end, v);
}

/* 0xx-xxxxxxxx / 0xxx-xxxxxxx: Chinese landline with area code. */
static void find_cn_landline(kf_ent_ctx_t *x, int i)
{
    if (x->cp[i] != '0' || kf_ent_is_word(kf_ent_at(x, i - 1))) return;
    int64_t v;
    int a = kf_ent_uint(x, i, 5, &v);
    if (a < 3 || a > 4 || kf_ent_at(x, i + a) != '-') return;
    int b = kf_ent_uint(x, i + a + 1, 9, &v);
    int end = i + a + 1 + b;
    if (b < 7 || b > 8 || kf_ent_is_word(kf_ent_at(x, end))) return;
    if (kf_ent_at(x, end) == '-' && is_digit_at(x, end + 1)) return;
    char v2[24];
    int n = 0;
    n += snprintf(v2, sizeof v2, "+86");
    for (int m = i + 1; m < end; m++)
        if (is_digit_at(x, m)) v2[n++] = (char)('0' + kf_ent_digit(x->cp[m]));
    v2[n] = 0;
    kf_ent_cand_add(x, T_PHONE, KF_ENT_PRIO_PHONE, i, end, v2);
}

/* +cc followed by 8-15 digits in total, grouped by spaces or dashes. */
static void find_intl(kf_ent_ctx_t *x, int i)
{
    if (x->cp[i] != '+' || kf_ent_is_word(kf_ent_at(x, i - 1))) return;
    if (!is_digit_at(x, i + 1) || kf_ent_digit(x->cp[i + 1]) == 0) return;
    char d[24];
    int n = 0, j = i + 1;
    while (j < x->n) {
        if (is_digit_at(x, j)) {
            if (n >= 16) return;
            d[n++] = (char)('0' + kf_ent_digit(x->cp[j]));
            j++;
            continue;
        }
        if ((x->cp[j] == ' ' || x->cp[j] == '-') && is_digit_at(x, j + 1)) {
            j++;
            continue;
        }
        break;
    }
    if (n < 8 || n > 15 || kf_ent_is_word(kf_ent_at(x, j))) return;
    d[n] = 0;
    char v[32];
    snprintf(v, sizeof v, "+%s", d);
    kf_ent_cand_add(x, T_PHONE, KF_ENT_PRIO_PHONE, i, j, v);
}

void kf_ent_find_phones(kf_ent_ctx_t *x)
{
    for (int i = 0; i < x->n; i++) {
        int32_t c = x->cp[i];
        if (c == '+' || c == '(' || kf_ent_digit(c) >= 0) {
            find_cn_mobile(x, i);
            if (c == '+') find_intl(x, i);
            if (c == '0') find_cn_landline(x, i);
        }
    }
}

/* ---- e-mail ------------------------------------------------------------ */

static int local_char(int32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '%' || c == '+' || c == '-';
}

static int domain_char(int32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

static int alpha(int32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

void kf_ent_find_emails(kf_ent_ctx_t *x)
{
    int last_end = 0;
    for (int at = 1; at < x->n - 1; at++) {
        if (x->cp[at] != '@') continue;
        int s = at;
        while (s > last_end && local_char(x->cp[s - 1])) s--;
        while (s < at && x->cp[s] == '.') s++;
        if (s == at || x->cp[at - 1] == '.') continue;
        int e = at + 1;
        while (e < x->n && domain_char(x->cp[e])) e++;
        while (e > at + 1 && (x->cp[e - 1] == '.' || x->cp[e - 1] == '-')) e--;
        /* labels non-empty, at least two, the last alphabetic of 2+ letters */
        int dots = 0, ok = 1, lab = 0, lab_alpha = 1;
        for (int k = at + 1; k < e && ok; k++) {
            if (x->cp[k] == '.') {
                ok = lab > 0;
                dots++;
                lab = 0;
                lab_alpha = 1;
            } else {
                lab++;
                lab_alpha &= alpha(x->cp[k]);
            }
        }
        if (!ok || !dots || lab < 2 || !lab_alpha) continue;
        if (e - s >= KF_ENT_VALUE_MAX) continue;
        char v[KF_ENT_VALUE_MAX];
        for (int k = s; k < e; k++) v[k - s] = (char)x->lc[k];
        v[e - s] = 0;
        kf_ent_cand_add(x, T_EMAIL, KF_ENT_PRIO_EMAIL, s, e, v);
        last_end = e;
        at = e - 1;
    }
}

/* ---- order / transaction ids ------------------------------------------- */

static const char *const order_cues[] = {
    "order number", "order no.", "order no", "order id", "order", "transaction id", "transaction number",
    "transaction", "txn id", "txn", "reference number", "reference", "ref", "订单编号", "订单号码", "订单号",
    "订单", "交易流水号", "流水号", "交易单号", "交易编号", "交易号", NULL};

static kf_ent_cues_t order_cue_set = KF_ENT_CUES(order_cues);

static int id_char(int32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

static int looks_like_date(const kf_ent_ctx_t *x, int s, int e)
{
    if (e - s != 10 || x->cp[s + 4] != '-' || x->cp[s + 7] != '-') return 0;
    for (int k = s; k < e; k++)
        if (k != s + 4 && k != s + 7 && !is_digit_at(x, k)) return 0;
    return 1;
}

void kf_ent_find_orders(kf_ent_ctx_t *x)
{
    for (int i = 0; i < x->n; i++) {
        int k = kf_ent_cues(x, i, &order_cue_set, 1, NULL);
        if (!k) continue;
        int s = skip_fillers(x, i + k);
        if (s >= x->n || !id_char(x->cp[s]) || x->cp[s] == '-') continue;
        int e = s, digits = 0;
        while (e < x->n && id_char(x->cp[e])) digits += is_digit_at(x, e++);
        while (e > s && x->cp[e - 1] == '-') e--;
        if (e - s < 6 || e - s > 32 || !digits || kf_ent_is_word(kf_ent_at(x, e)) || looks_like_date(x, s, e))
            continue;
        char v[40];
        for (int m = s; m < e; m++) {
            int32_t c = x->cp[m];
            v[m - s] = (char)((c >= 'a' && c <= 'z') ? c - 32 : c);
        }
        v[e - s] = 0;
        kf_ent_cand_add(x, T_ORDER, KF_ENT_PRIO_ORDER, s, e, v);
        i = e - 1;
    }
}
