/* entities.h — entity extraction for English and Chinese customer messages.
 *
 * Built-in extractors find money amounts, dates, card numbers, the last four
 * digits of a card, phone numbers, e-mail addresses and order / transaction
 * ids; a kf_ent_set_t adds the bot's own entities (PCRE2 patterns or synonym
 * lists).  Extraction works on the raw UTF-8 the customer sent so that spans
 * point into that text; it needs no normalisation first.
 *
 * Normalised values (kf_ent_t.value):
 *   money        "<amount with 2 decimals>[ <ISO 4217 code>]": "1500.50 CNY",
 *                "20000.00" when no currency is stated (the caller applies
 *                its default).  A bare number is money only with a currency,
 *                a magnitude suffix (1.5k, 2万) or as a Chinese numeral with
 *                万/亿 (两万); 元/块/人民币 mean CNY.
 *   date         "YYYY-MM-DD".  Relative dates are resolved against `now`,
 *                read as UTC: pass now + utc_offset for local dates.  "3/15"
 *                is month/day (day/month only when month/day is impossible,
 *                "15/3"); dates without a year take the reference year.
 *                "next Monday" / 下周一 is that weekday in the following
 *                Monday-based week, "this Monday" / 本周一 / 周一 in the
 *                current one, "last Monday" / 上周一 in the previous one.
 *   card_number  digits only; 13-19 digits, optionally grouped by single
 *                spaces or dashes, Luhn-valid.
 *   card_last4   the four digits after a cue ("ending in", "last 4 digits",
 *                尾号, 后四位 ...); the span covers the digits only.
 *   phone        E.164: "+8613812345678" (Chinese mobile, bare or with
 *                +86/0086), "+861012345678" (Chinese landline written
 *                0xx-xxxxxxxx), "+442079460958" (any "+cc ..." number with
 *                8-15 digits).
 *   email        lower-cased address.
 *   order_id     an id of 6-32 letters/digits/dashes with at least one digit
 *                after a cue word (order, transaction, txn, ref, reference,
 *                订单号, 交易号, 流水号 ...), upper-cased: "A12345678",
 *                "TX-2026-000123".  The span covers the id only.
 *   custom       pattern entities: the text of capture group "value" if the
 *                pattern has one, else group 1, else the whole match;
 *                synonym entities: the canonical value given at build time.
 *
 * Overlaps: the longer span wins; on equal spans the more specific type wins:
 * custom > order_id > card_number > email > card_last4 > phone > date > money.
 * Results are returned in text order and never overlap.
 *
 * A set is built once, then immutable and safe to share between threads;
 * kf_ent_extract() is reentrant (PCRE2 match data is per thread). */
#ifndef KF_NLU_ENTITIES_H
#define KF_NLU_ENTITIES_H

#include <stddef.h>
#include <time.h>

#define KF_ENT_VALUE_MAX 96

typedef struct {
    const char *type;              /* "money", "date", ... or the custom name; static or owned by the set */
    char value[KF_ENT_VALUE_MAX];  /* normalised, NUL-terminated (truncated if longer) */
    int start, end;                /* code points, [start, end) */
    int byte_start, byte_end;      /* bytes into the input; the raw text is text[byte_start..byte_end) */
} kf_ent_t;

/* Built-in kinds, for kf_ent_extract_builtin(). */
enum {
    KF_ENT_MONEY = 1u << 0,
    KF_ENT_DATE = 1u << 1,
    KF_ENT_CARD_NUMBER = 1u << 2,
    KF_ENT_CARD_LAST4 = 1u << 3,
    KF_ENT_PHONE = 1u << 4,
    KF_ENT_EMAIL = 1u << 5,
    KF_ENT_ORDER_ID = 1u << 6,
    KF_ENT_ALL = 0x7f
};

typedef struct kf_ent_set kf_ent_set_t;

kf_ent_set_t *kf_ent_set_new(void);

/* Adds entity `name` matched by a PCRE2 pattern (UTF, UCP; compiled with JIT
 * when available).  Returns 0, or -1 with err set (bad name or pattern). */
int kf_ent_set_add_pattern(kf_ent_set_t *s, const char *name, const char *pcre2_pattern, char *err, size_t errlen);

/* Adds synonyms of `value` for entity `name` (the value itself is also a
 * synonym).  Matching is case-insensitive; a synonym whose first/last
 * character is a Latin letter or digit must start/end on a word boundary,
 * Han text matches anywhere.  Returns 0, or -1 with err set. */
int kf_ent_set_add_synonyms(kf_ent_set_t *s, const char *name, const char *value, const char *const *synonyms,
                            size_t n, char *err, size_t errlen);

void kf_ent_set_free(kf_ent_set_t *s);

/* Extracts built-in and (if s is not NULL) custom entities from text[0..len).
 * now: reference time for relative dates (see above).  Writes at most max
 * entities to out, in text order.  Returns the count, or -1 when text is not
 * valid UTF-8 or memory runs out. */
int kf_ent_extract(const kf_ent_set_t *s, const char *text, size_t len, time_t now, kf_ent_t *out, int max);

/* Same, with only the built-in kinds in `kinds` (KF_ENT_* bits) and no set. */
int kf_ent_extract_builtin(const char *text, size_t len, time_t now, unsigned kinds, kf_ent_t *out, int max);

/* Luhn check over the ASCII digits of s[0..len) (other bytes are skipped). */
int kf_ent_luhn_ok(const char *s, size_t len);

#endif
