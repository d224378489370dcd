/* kb_query.c — splitting normalised text into index terms and building
 * MATCH expressions from user text (see kb_query.h).
 *
 * Safety of the MATCH syntax does not depend on clever escaping: a term is
 * only ever made of Unicode letters, digits and marks (categories L, N, M,
 * Co — the characters FTS5's unicode61 keeps in tokens), wrapped in double
 * quotes, so operators (AND, NEAR, -, *, ^, :, parentheses, quotes) in the
 * user's text are either separators or harmless words inside a string. */
#include "kb/kb_query.h"

#include <string.h>
#include <utf8proc.h>

enum { SEP, CJK, WORD };

static int cp_class(utf8proc_int32_t c) {
    if (c < 0x80) return ((c | 32) >= 'a' && (c | 32) <= 'z') || (c >= '0' && c <= '9') ? WORD : SEP;
    /* Scripts written without spaces: Han (with extensions and compatibility
     * ideographs), kana.  Hangul is spaced, so it stays a WORD script. */
    if ((c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
        (c >= 0x20000 && c <= 0x323AF) || (c >= 0x3040 && c <= 0x30FF) || c == 0x3005 || c == 0x3007)
        return CJK;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO: case UTF8PROC_CATEGORY_CO:
        return WORD;
    default:
        return SEP;
    }
}

/* One code point of s at *i (valid UTF-8 after normalisation; anything odd
 * is consumed one byte at a time as a separator). */
static int next_cp(const char *s, size_t *i, size_t *len) {
    utf8proc_int32_t c;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + *i, -1, &c);
    if (n <= 0) {
        *len = 1;
        return SEP;
    }
    *len = (size_t)n;
    return cp_class(c);
}

#define TERM_MAX 64 /* bytes; longer "words" are noise and are skipped */

typedef struct {
    kf_buf_t *out;
    int n;
    char seen[KF_KB_MAX_TERMS][TERM_MAX];
} sink_t;

static void emit(sink_t *k, const char *col, const char *s, size_t n) {
    if (!n || n >= TERM_MAX || k->n >= KF_KB_MAX_TERMS) return;
    for (int i = 0; i < k->n; i++)
        if (!strncmp(k->seen[i], s, n) && !k->seen[i][n]) return;
    memcpy(k->seen[k->n], s, n);
    k->seen[k->n][n] = '\0';
    if (k->n++) kf_buf_puts(k->out, " OR ");
    if (col) {
        kf_buf_puts(k->out, col);
        kf_buf_puts(k->out, " : ");
    }
    kf_buf_append(k->out, "\"", 1);
    for (size_t i = 0; i < n; i++) /* '"' is a separator, never in a term; skipping it keeps that a promise */
        if (s[i] != '"') kf_buf_append(k->out, s + i, 1);
    kf_buf_append(k->out, "\"", 1);
}

/* Words that occur in nearly every question and so carry no meaning for the
 * FAQ; left in, they pull in unrelated entries and blur the score. */
static const char *const en_stop[] = {
    "a",     "about", "am",    "an",    "and",   "any",   "are",   "as",    "at",    "be",    "been",  "but",
    "by",    "can",   "could", "d",     "did",   "do",    "does",  "for",   "from",  "get",   "got",   "had",
    "has",   "have",  "how",   "i",     "if",    "in",    "is",    "it",    "its",   "just",  "ll",    "m",
    "me",    "my",    "of",    "on",    "or",    "our",   "please", "re",   "s",     "should", "so",   "t",
    "that",  "the",   "their", "them",  "there", "these", "this",  "to",    "ve",    "want",  "was",   "we",
    "were",  "what",  "which", "will",  "with",  "would", "you",   "your",
};

static int is_stop(const char *s, size_t n) {
    for (size_t i = 0; i < sizeof en_stop / sizeof *en_stop; i++)
        if (strlen(en_stop[i]) == n && !memcmp(en_stop[i], s, n)) return 1;
    return 0;
}

int kf_kb_match_words(const char *norm, int stop, kf_buf_t *out) {
    sink_t k = {.out = out};
    size_t i = 0, len;
    while (norm[i]) {
        if (next_cp(norm, &i, &len) == SEP) {
            i += len;
            continue;
        }
        size_t start = i;
        while (norm[i] && next_cp(norm, &i, &len) != SEP) i += len;
        if (!(stop && is_stop(norm + start, i - start))) emit(&k, NULL, norm + start, i - start);
    }
    return k.n;
}

int kf_kb_match_trigrams(const char *norm, kf_buf_t *out) {
    sink_t k = {.out = out};
    size_t i = 0, len;
    while (norm[i]) {
        if (next_cp(norm, &i, &len) == SEP) {
            i += len;
            continue;
        }
        /* Slide a window of three code points over the run. */
        size_t at[3];
        int have = 0;
        while (norm[i] && next_cp(norm, &i, &len) != SEP) {
            if (have == 3) {
                at[0] = at[1];
                at[1] = at[2];
                have = 2;
            }
            at[have++] = i;
            i += len;
            if (have == 3) emit(&k, NULL, norm + at[0], i - at[0]);
        }
    }
    return k.n;
}

typedef void (*gram_fn)(void *ud, int uni, const char *s, size_t n);

/* Walks NORM's bigram-table terms: CJK bigrams (or a lone character with
 * uni=1), non-CJK words whole.  CJK characters are also reported singly with
 * uni=2 for the document's unigram column. */
static void walk_grams(const char *norm, gram_fn fn, void *ud) {
    size_t i = 0, len;
    while (norm[i]) {
        int cls = next_cp(norm, &i, &len);
        if (cls == SEP) {
            i += len;
            continue;
        }
        size_t start = i, prev = i, count = 0;
        while (norm[i] && next_cp(norm, &i, &len) == cls) {
            if (cls == CJK) {
                fn(ud, 2, norm + i, len);
                if (count) fn(ud, 0, norm + prev, i + len - prev);
            }
            prev = i;
            i += len;
            count++;
        }
        if (cls == WORD) fn(ud, 0, norm + start, i - start);
        else if (count == 1) fn(ud, 1, norm + start, i - start);
    }
}

typedef struct {
    sink_t k;
    const char *unicol;
} qgram_t;

static void qgram(void *ud, int uni, const char *s, size_t n) {
    qgram_t *q = ud;
    if (uni == 2) return;
    emit(&q->k, uni ? q->unicol : NULL, s, n);
}

int kf_kb_match_grams(const char *norm, const char *unicol, kf_buf_t *out) {
    qgram_t q = {.k = {.out = out}, .unicol = unicol};
    walk_grams(norm, qgram, &q);
    return q.k.n;
}

typedef struct {
    kf_buf_t *grams, *uni;
} dgram_t;

static void dgram(void *ud, int uni, const char *s, size_t n) {
    dgram_t *d = ud;
    kf_buf_t *b = uni == 2 ? d->uni : d->grams; /* a lone character is found via the unigram column */
    if (uni == 1) return;
    if (b->len) kf_buf_append(b, " ", 1);
    kf_buf_append(b, s, n);
}

void kf_kb_split_grams(const char *norm, kf_buf_t *grams, kf_buf_t *unigrams) {
    dgram_t d = {grams, unigrams};
    walk_grams(norm, dgram, &d);
}
