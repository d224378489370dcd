/* entities_scan.c — small scanners the entity extractors share: digit and
 * word-character classes, case-insensitive literal matching against the
 * lower-cased code points, Arabic and Chinese numerals. */
#include <utf8proc.h>

#include "nlu/entities_int.h"

static int is_cjk(int32_t c)
{
    return (c >= 0x2E80 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0xF900 && c <= 0xFAFF) ||
           (c >= 0x20000 && c <= 0x3FFFF) || (c >= 0x3040 && c <= 0x30FF);
}

int kf_ent_is_word_wide(int32_t c)
{
    if (is_cjk(c)) return 0;
    utf8proc_category_t k = utf8proc_category(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
           (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

int kf_ent_is_space(int32_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0 || c == 0x3000;
}

/* Decodes one code point of a trusted (compile-time) literal. */
static inline int32_t lit_next(const unsigned char **p)
{
    const unsigned char *s = *p;
    int32_t c;
    if (s[0] < 0x80) { c = s[0]; *p = s + 1; }
    else if (s[0] < 0xE0) { c = ((s[0] & 0x1F) << 6) | (s[1] & 0x3F); *p = s + 2; }
    else if (s[0] < 0xF0) { c = ((s[0] & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F); *p = s + 3; }
    else {
        c = ((s[0] & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        *p = s + 4;
    }
    return c;
}

int kf_ent_lit(const kf_ent_ctx_t *x, int pos, const char *lit)
{
    const unsigned char *p = (const unsigned char *)lit;
    int i = pos;
    while (*p) {
        if (i >= x->n) return 0;
        int32_t c = lit_next(&p);
        /* a space in a literal stands for any run of white space */
        if (c == ' ') {
            if (!kf_ent_is_space(x->lc[i])) return 0;
            while (i < x->n && kf_ent_is_space(x->lc[i])) i++;
            continue;
        }
        if (x->lc[i] != c) return 0;
        i++;
    }
    return i - pos;
}

int kf_ent_word(const kf_ent_ctx_t *x, int pos, const char *lit)
{
    int k = kf_ent_lit(x, pos, lit);
    if (!k) return 0;
    if (kf_ent_is_word(x->lc[pos]) && kf_ent_is_word(kf_ent_at(x, pos - 1))) return 0;
    if (kf_ent_is_word(x->lc[pos + k - 1]) && kf_ent_is_word(kf_ent_at(x, pos + k))) return 0;
    return k;
}

int kf_ent_lits(const kf_ent_ctx_t *x, int pos, const char *const *lits, int word, int *which)
{
    int32_t c0 = kf_ent_at(x, pos), c1 = kf_ent_at(x, pos + 1);
    for (int i = 0; lits[i]; i++) {
        /* Cheap reject on the first two characters when they are plain ASCII
         * (a space stands for a run of white space, so it is not compared):
         * the second spares a kf_ent_lit call for each literal that only
         * shares the first letter ("my" against "march", "may", "mar"). */
        unsigned char b = (unsigned char)lits[i][0];
        if (b < 0x80 && b != ' ') {
            if (b != (unsigned)c0) continue;
            unsigned char b1 = (unsigned char)lits[i][1];
            if (b1 && b1 < 0x80 && b1 != ' ' && b1 != (unsigned)c1) continue;
        }
        int k = word ? kf_ent_word(x, pos, lits[i]) : kf_ent_lit(x, pos, lits[i]);
        if (k) {
            if (which) *which = i;
            return k;
        }
    }
    return 0;
}

int kf_ent_cues_scan(const kf_ent_ctx_t *x, int pos, kf_ent_cues_t *c, int word, int *which)
{
    if (pos >= x->n) return 0;
    /* Every thread computes the same value, so a relaxed race is harmless. */
    uint64_t m = atomic_load_explicit(&c->first, memory_order_relaxed);
    if (!m) {
        m = 1ull << 63;
        for (int i = 0; c->lits[i]; i++) {
            const unsigned char *p = (const unsigned char *)c->lits[i];
            m |= kf_ent_first_bit(lit_next(&p));
        }
        atomic_store_explicit(&c->first, m, memory_order_relaxed);
        /* A literal matches lc[pos], lc[pos + 1] only where they equal its
         * first two code points, except that a space in it stands for any
         * white space: those and one-character literals turn the filter off. */
        uint64_t q = 0;
        for (int i = 0; c->lits[i]; i++) {
            const unsigned char *p = (const unsigned char *)c->lits[i];
            int32_t c0 = *p ? lit_next(&p) : 0, c1 = *p ? lit_next(&p) : 0;
            if (c0 == 0 || c1 == 0 || c0 == ' ' || c1 == ' ') q = ~0ull;
            else q |= kf_ent_pair_bit(c0, c1);
        }
        atomic_store_explicit(&c->second, q, memory_order_relaxed);
    }
    if (!(m & kf_ent_first_bit(x->lc[pos]))) return 0;
    /* Latin cues in word mode start on a word boundary */
    if (word && pos > 0 && kf_ent_is_word(x->lc[pos]) && kf_ent_is_word(x->lc[pos - 1])) return 0;
    return kf_ent_lits(x, pos, c->lits, word, which);
}

int kf_ent_skip_spaces(const kf_ent_ctx_t *x, int pos)
{
    while (pos < x->n && kf_ent_is_space(x->cp[pos])) pos++;
    return pos;
}

int kf_ent_uint(const kf_ent_ctx_t *x, int pos, int maxd, int64_t *v)
{
    int64_t val = 0;
    int i = pos;
    while (i < x->n && i - pos < maxd) {
        int d = kf_ent_digit(x->cp[i]);
        if (d < 0) break;
        val = val * 10 + d;
        i++;
    }
    *v = val;
    return i - pos;
}

int kf_ent_cjk_digit(int32_t c)
{
    switch (c) {
    case 0x96F6: case 0x3007: return 0;             /* 零 〇 */
    case 0x4E00: case 0x58F9: return 1;             /* 一 壹 */
    case 0x4E8C: case 0x4E24: case 0x8D30: return 2; /* 二 两 贰 */
    case 0x4E09: case 0x53C1: return 3;             /* 三 叁 */
    case 0x56DB: case 0x8086: return 4;             /* 四 肆 */
    case 0x4E94: case 0x4F0D: return 5;             /* 五 伍 */
    case 0x516D: case 0x9646: return 6;             /* 六 陆 */
    case 0x4E03: case 0x67D2: return 7;             /* 七 柒 */
    case 0x516B: case 0x634C: return 8;             /* 八 捌 */
    case 0x4E5D: case 0x7396: return 9;             /* 九 玖 */
    default: return -1;
    }
}

static int64_t cjk_unit(int32_t c)
{
    switch (c) {
    case 0x5341: case 0x62FE: return 10;        /* 十 拾 */
    case 0x767E: case 0x4F70: return 100;       /* 百 佰 */
    case 0x5343: case 0x4EDF: return 1000;      /* 千 仟 */
    case 0x4E07: return 10000;                  /* 万 */
    case 0x4EBF: return 100000000;              /* 亿 */
    default: return 0;
    }
}

int kf_ent_cjk_num(const kf_ent_ctx_t *x, int pos, int64_t *v)
{
    int64_t total = 0, sect = 0, posval = 0, lastunit = 0;
    int d = -1, any_unit = 0, ndig = 0, prev_unit = 0, prev_digit = 0, d_after_unit = 0, i;
    for (i = pos; i < x->n; i++) {
        int32_t c = x->cp[i];
        int dg = kf_ent_cjk_digit(c);
        int64_t u = cjk_unit(c);
        if (dg >= 0) {
            if (any_unit && prev_digit && d != 0) break; /* "十五五": stop */
            if (ndig < 15) posval = posval * 10 + dg;
            ndig++;
            if (!any_unit && ndig > 1 && i + 1 < x->n && cjk_unit(x->cp[i + 1])) break;
            d = dg;
            d_after_unit = prev_unit;
            prev_unit = 0;
            prev_digit = 1;
            continue;
        }
        if (!u || (!any_unit && ndig > 1)) break;
        if (u < 10000) {
            if (d < 0) {
                if (u != 10 || prev_digit) break; /* bare 百/千 is not a number */
                d = 1;
            }
            sect += (int64_t)d * u;
        } else {
            if (d > 0) sect += d;
            if (sect == 0 && total == 0) break;
            if (u == 10000) total += sect * 10000;
            else total = (total + sect) * 100000000;
            sect = 0;
            if (total > 1000000000000000LL) break;
        }
        d = -1;
        lastunit = u;
        any_unit = 1;
        prev_unit = 1;
        prev_digit = 0;
    }
    int used = i - pos;
    if (!used) return 0;
    if (!any_unit) {
        if (ndig > 15) return 0;
        *v = posval;
        return used;
    }
    /* colloquial "三千五" = 3500, "两万五" = 25000: a digit right after a
     * unit counts in the next lower unit */
    if (d > 0) sect += d_after_unit ? (int64_t)d * (lastunit / 10) : d;
    *v = total + sect;
    return used;
}
