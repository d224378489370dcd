/* entities_money.c — money amounts in English and Chinese: "¥1,500.50",
 * "RMB 200", "20 dollars", "HK$100", "1.5k", "2万元", "三千五百元",
 * "一百二十块", "三块五", "两万".  The value is the amount with two decimals
 * and, when the text names one, the ISO 4217 currency ("1500.50 CNY"). */
#include <math.h>
#include <stdio.h>

#include "nlu/entities_int.h"

static const char T_MONEY[] = "money";

static const char *const prefixes[] = {"hk$", "us$", "rmb", "cny", "usd", "eur", "gbp", "hkd", "jpy",
                                       "¥",   "￥",  "$",   "€",   "£",   NULL};
static const char *const prefix_iso[] = {"HKD", "USD", "CNY", "CNY", "USD", "EUR", "GBP", "HKD", "JPY",
                                         "CNY", "CNY", "USD", "EUR", "GBP"};

static kf_ent_cues_t prefix_cues = KF_ENT_CUES(prefixes);

static const char *const suffixes[] = {"港币", "港元", "美元", "美金", "欧元", "英镑", "日元", "人民币",
                                       "块钱", "块",   "元",   "rmb",  "cny",  "usd",  "eur",  "gbp",
                                       "hkd",  "jpy",  "dollars", "dollar", "bucks", "euros", "euro",
                                       "pounds", "pound", "yuan", NULL};
static const char *const suffix_iso[] = {"HKD", "HKD", "USD", "USD", "EUR", "GBP", "JPY", "CNY", "CNY",
                                         "CNY", "CNY", "CNY", "CNY", "USD", "EUR", "GBP", "HKD", "JPY",
                                         "USD", "USD", "USD", "EUR", "EUR", "GBP", "GBP", "CNY"};

typedef struct {
    int64_t mant; /* digits without the decimal point */
    int scale;    /* digits after the point */
    long double mult;
    int end;
    int magnitude; /* k, 万, 亿 ... seen */
} num_t;

static int64_t cjk_mag(int32_t c)
{
    switch (c) {
    case 0x5343: return 1000;      /* 千 */
    case 0x4E07: return 10000;     /* 万 */
    case 0x4EBF: return 100000000; /* 亿 */
    case 0x767E: return 100;       /* 百 (as in 5百万) */
    default: return 0;
    }
}

/* Arabic amount at i: 1500, 1,500.50, 1.5k, 2万.  `m_ok`: accept an "m"
 * (million) suffix, only safe when a currency is also present. */
static int arabic(const kf_ent_ctx_t *x, int i, int m_ok, num_t *o)
{
    int64_t v;
    int j = i, nd = kf_ent_uint(x, i, 16, &v);
    if (!nd || nd > 15) return 0;
    int64_t mant = v;
    j += nd;
    /* thousands grouping: 1-3 digits then ,ddd groups */
    if (nd <= 3 && kf_ent_at(x, j) == ',') {
        int k = j;
        int64_t g, m2 = mant;
        int groups = 0;
        while (kf_ent_at(x, k) == ',' && kf_ent_uint(x, k + 1, 4, &g) == 3 && m2 < 1000000000000LL) {
            m2 = m2 * 1000 + g;
            k += 4;
            groups++;
        }
        if (groups) mant = m2, j = k;
    }
    int scale = 0;
    if (kf_ent_at(x, j) == '.' && kf_ent_digit(kf_ent_at(x, j + 1)) >= 0) {
        int64_t f;
        int fd = kf_ent_uint(x, j + 1, 7, &f);
        if (fd > 6) return 0;
        for (int k = 0; k < fd; k++) mant *= 10;
        mant += f;
        scale = fd;
        j += 1 + fd;
    }
    if (kf_ent_digit(kf_ent_at(x, j)) >= 0) return 0;
    long double mult = 1;
    int mag = 0;
    int32_t c = kf_ent_at(x, j);
    if ((c == 'k' || (m_ok && c == 'm')) && !kf_ent_is_word(kf_ent_at(x, j + 1))) {
        mult = c == 'k' ? 1000 : 1000000;
        mag = 1;
        j++;
    } else {
        while (cjk_mag(kf_ent_at(x, j)) && mag < 3) {
            mult *= cjk_mag(x->cp[j]);
            mag++;
            j++;
        }
    }
    o->mant = mant;
    o->scale = scale;
    o->mult = mult;
    o->end = j;
    o->magnitude = mag;
    return j - i;
}

/* Currency word after an amount: Chinese suffixes attach directly, Latin
 * ones after optional spaces and must end on a word boundary. */
static int suffix(const kf_ent_ctx_t *x, int j, const char **iso)
{
    int s = kf_ent_skip_spaces(x, j);
    for (int k = 0; suffixes[k]; k++) {
        int n = kf_ent_lit(x, s, suffixes[k]);
        if (!n) continue;
        if (kf_ent_is_word(x->lc[s + n - 1]) && kf_ent_is_word(kf_ent_at(x, s + n))) continue;
        *iso = suffix_iso[k];
        return s + n - j;
    }
    return 0;
}

/* "三块五", "3块5": a single digit after 块/元 counts tenths. */
static int jiao(const kf_ent_ctx_t *x, int j, int *tenths)
{
    int32_t c = kf_ent_at(x, j);
    int d = kf_ent_digit(c);
    if (d < 0) d = kf_ent_cjk_digit(c);
    if (d < 0) return 0;
    int32_t n = kf_ent_at(x, j + 1);
    if (kf_ent_digit(n) >= 0 || kf_ent_cjk_digit(n) >= 0 || cjk_mag(n) || n == 0x5341 /* 十 */) return 0;
    *tenths = d;
    return (n == 0x6BDB /* 毛 */ || n == 0x89D2 /* 角 */) ? 2 : 1;
}

static void emit(kf_ent_ctx_t *x, int s, int e, long double cents, const char *iso)
{
    if (cents < 0 || cents > 1e17L) return;
    long long c = (long long)llroundl(cents);
    char v[48];
    if (iso) snprintf(v, sizeof v, "%lld.%02lld %s", c / 100, c % 100, iso);
    else snprintf(v, sizeof v, "%lld.%02lld", c / 100, c % 100);
    kf_ent_cand_add(x, T_MONEY, KF_ENT_PRIO_MONEY, s, e, v);
}

static long double to_cents(const num_t *n)
{
    long double v = (long double)n->mant * n->mult * 100;
    for (int k = 0; k < n->scale; k++) v /= 10;
    return v;
}

static int number_start_ok(const kf_ent_ctx_t *x, int i)
{
    int32_t p = kf_ent_at(x, i - 1);
    return !kf_ent_is_word(p) && p != '.' && p != ',' && kf_ent_cjk_digit(p) < 0;
}

/* Suffix after a parsed amount, plus the 块五 form; emits and returns the
 * end, or 0 if there was no currency word. */
static int with_suffix(kf_ent_ctx_t *x, int s, int j, long double cents)
{
    const char *iso = NULL;
    int k = suffix(x, j, &iso);
    if (!k) return 0;
    int e = j + k, tenths = 0;
    int32_t last = x->cp[e - 1];
    if (last == 0x5757 /* 块 */ || last == 0x5143 /* 元 */) e += jiao(x, e, &tenths);
    emit(x, s, e, cents + tenths * 10, iso);
    return e;
}

void kf_ent_find_money(kf_ent_ctx_t *x)
{
    int i = 0;
    while (i < x->n) {
        int32_t c = x->lc[i];
        int w, e = 0;
        num_t n;
        /* currency before the amount */
        int k = kf_ent_is_word(kf_ent_at(x, i - 1)) ? 0 : kf_ent_cues(x, i, &prefix_cues, 0, &w);
        if (k) {
            int j = kf_ent_skip_spaces(x, i + k);
            if (j - (i + k) <= 1 && arabic(x, j, 1, &n)) {
                const char *iso = prefix_iso[w], *siso = NULL;
                int sk = suffix(x, n.end, &siso);
                if (sk && prefixes[w][0] == '$') iso = siso; /* "$100 HKD" */
                e = n.end + sk;
                emit(x, i, e, to_cents(&n), iso);
            }
        } else if (kf_ent_digit(c) >= 0 && number_start_ok(x, i)) {
            if (arabic(x, i, 1, &n)) {
                e = with_suffix(x, i, n.end, to_cents(&n));
                if (!e && arabic(x, i, 0, &n) && n.magnitude) {
                    emit(x, i, n.end, to_cents(&n), NULL);
                    e = n.end;
                }
            }
        } else if ((kf_ent_cjk_digit(c) >= 0 || c == 0x5341 /* 十 */) && number_start_ok(x, i)) {
            int64_t v;
            int used = kf_ent_cjk_num(x, i, &v);
            if (used) {
                e = with_suffix(x, i, i + used, (long double)v * 100);
                if (!e) {
                    int big = 0;
                    for (int m = i; m < i + used; m++) big |= x->cp[m] == 0x4E07 || x->cp[m] == 0x4EBF;
                    if (big) {
                        emit(x, i, i + used, (long double)v * 100, NULL);
                        e = i + used;
                    }
                }
                if (!e) e = i + used; /* skip the rest of this numeral */
            }
        }
        i = e > i ? e : i + 1;
    }
}
