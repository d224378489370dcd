/* entities_int.h — internals shared by the entity extractor's files
 * (entities.c core, entities_scan.c helpers, entities_money.c,
 * entities_date.c, entities_ids.c).  Not for other modules: use entities.h.
 *
 * Extractors read the message as an array of code points (plus a lower-cased
 * copy) and push candidates; the core resolves overlaps and maps code-point
 * spans back to bytes. */
#ifndef KF_NLU_ENTITIES_INT_H
#define KF_NLU_ENTITIES_INT_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "nlu/entities.h"

/* Tie-break ranks for equal spans (higher wins). */
enum {
    KF_ENT_PRIO_MONEY = 10,
    KF_ENT_PRIO_DATE = 20,
    KF_ENT_PRIO_PHONE = 30,
    KF_ENT_PRIO_LAST4 = 40,
    KF_ENT_PRIO_EMAIL = 50,
    KF_ENT_PRIO_CARD = 60,
    KF_ENT_PRIO_ORDER = 70,
    KF_ENT_PRIO_CUSTOM = 80
};

typedef struct {
    const char *type;
    char value[KF_ENT_VALUE_MAX];
    int start, end;
    int prio;
} kf_ent_cand_t;

typedef struct {
    const char *text;
    size_t len;
    const int32_t *cp; /* code points */
    const int32_t *lc; /* lower-cased code points, same length */
    const int *bo;     /* byte offset of each code point; bo[n] == len */
    int n;
    time_t now;
    int64_t today; /* day number of now (days since 1970-01-01, UTC) */
    int year;      /* its year */
    kf_ent_cand_t *c;
    int nc, cap;
} kf_ent_ctx_t;

void kf_ent_cand_add(kf_ent_ctx_t *x, const char *type, int prio, int start, int end, const char *value);

/* Scanning helpers (entities_scan.c). */
/* 0-9 for ASCII and full-width digits, else -1 */
static inline int kf_ent_digit(int32_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 0xFF10 && c <= 0xFF19) return c - 0xFF10;
    return -1;
}

/* Latin-script letter or digit (not Han/kana/hangul).  The ASCII test is
 * inline: the date scanner asks it at every code point of every message and
 * the call was 1 % of the server's CPU per /v1/intent request. */
int kf_ent_is_word_wide(int32_t c); /* c >= 128 */
static inline int kf_ent_is_word(int32_t c)
{
    if (c < 128) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    return kf_ent_is_word_wide(c);
}
int kf_ent_is_space(int32_t c);      /* ASCII, NBSP or ideographic space */
/* lc[i], or 0 outside the text */
static inline int32_t kf_ent_at(const kf_ent_ctx_t *x, int i)
{
    return (i >= 0 && i < x->n) ? x->lc[i] : 0;
}

/* Length in code points when lc[pos..] starts with the lower-case UTF-8
 * literal lit, else 0. */
int kf_ent_lit(const kf_ent_ctx_t *x, int pos, const char *lit);
/* Same, requiring word boundaries where the literal's ends are word chars. */
int kf_ent_word(const kf_ent_ctx_t *x, int pos, const char *lit);
/* The first literal of a NULL-terminated list matching at pos (longest
 * first if the list is ordered so); returns its length, *which its index. */
int kf_ent_lits(const kf_ent_ctx_t *x, int pos, const char *const *lits, int word, int *which);
/* A cue list with lazily computed filters on first code points and on
 * (first, second) pairs, so that scanning every position of a message costs
 * a bit test or two per list. */
typedef struct {
    const char *const *lits;
    _Atomic uint64_t first;  /* 0 until computed; bit 63 marks it computed */
    _Atomic uint64_t second; /* 0 until computed (after first); all ones = no pair filter */
} kf_ent_cues_t;
#define KF_ENT_CUES(list) {(list), 0, 0}
int kf_ent_cues_scan(const kf_ent_ctx_t *x, int pos, kf_ent_cues_t *c, int word, int *which);
static inline uint64_t kf_ent_first_bit(int32_t c)
{
    return 1ull << (((uint32_t)c * 2654435761u) >> 26);
}
static inline uint64_t kf_ent_pair_bit(int32_t c0, int32_t c1)
{
    return 1ull << ((((uint32_t)c0 * 31u + (uint32_t)c1) * 2654435761u) >> 26);
}
/* The filter tests are inline: almost every call is rejected by them (six
 * cue lists per word start in the date scanner alone).  The pair filter
 * turns away words that only share a first letter with a cue ("my" for the
 * month names), which otherwise cost a walk over the whole list; with the
 * register top 3 of kf_nlu_predict it took a benchmark query from 6.29 to
 * 6.06 us in-process. */
static inline int kf_ent_cues(const kf_ent_ctx_t *x, int pos, kf_ent_cues_t *c, int word, int *which)
{
    if (pos >= x->n) return 0;
    uint64_t m = atomic_load_explicit(&c->first, memory_order_relaxed);
    if (m && !(m & kf_ent_first_bit(x->lc[pos]))) return 0;
    uint64_t q = atomic_load_explicit(&c->second, memory_order_relaxed);
    if (q && !(q & kf_ent_pair_bit(x->lc[pos], kf_ent_at(x, pos + 1)))) return 0;
    return kf_ent_cues_scan(x, pos, c, word, which);
}
int kf_ent_skip_spaces(const kf_ent_ctx_t *x, int pos);
/* Run of ASCII/full-width digits at pos, at most maxd; value in *v. */
int kf_ent_uint(const kf_ent_ctx_t *x, int pos, int maxd, int64_t *v);
/* Chinese numeral at pos (一二三, 十百千万亿, 两, 零/〇, financial forms,
 * positional 二〇二六).  Returns code points consumed (0 if none), *v. */
int kf_ent_cjk_num(const kf_ent_ctx_t *x, int pos, int64_t *v);
int kf_ent_cjk_digit(int32_t c);     /* 0-9 for 零〇一二两三...九 and 壹贰..., else -1 */

/* Extractors. */
void kf_ent_find_money(kf_ent_ctx_t *x);
void kf_ent_find_dates(kf_ent_ctx_t *x);
void kf_ent_find_cards(kf_ent_ctx_t *x);
void kf_ent_find_last4(kf_ent_ctx_t *x);
void kf_ent_find_phones(kf_ent_ctx_t *x);
void kf_ent_find_emails(kf_ent_ctx_t *x);
void kf_ent_find_orders(kf_ent_ctx_t *x);

#endif
