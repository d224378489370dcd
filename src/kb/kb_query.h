/* kb_query.h — internal to src/kb: turns normalised text into the terms the
 * FTS5 index stores and into MATCH expressions that can never be an FTS5
 * syntax error (every term is a double-quoted string made only of letter,
 * digit and mark characters, joined with OR).  Used by kb_fts.c for both
 * indexing and search so the two always split text the same way. */
#ifndef KF_KB_QUERY_H
#define KF_KB_QUERY_H

#include <stddef.h>

#include "util/buf.h"

#define KF_KB_MAX_TERMS 48 /* phrases per MATCH: bounds the cost of a long query */

/* Whole words ("porter unicode61" tables).  stop: drop English function words.
 * Appends `"w1" OR "w2" ...` to out; returns the number of phrases (0: none). */
int kf_kb_match_words(const char *norm, int stop, kf_buf_t *out);

/* Character trigrams of every run of letters/digits at least 3 long
 * ("trigram" table), each its own phrase.  Returns the number of phrases. */
int kf_kb_match_trigrams(const char *norm, kf_buf_t *out);

/* The bigram table's terms: a CJK run of 2+ characters gives its overlapping
 * bigrams, a lone CJK character a unigram restricted to column UNICOL, a
 * non-CJK run the whole word.  Returns the number of phrases. */
int kf_kb_match_grams(const char *norm, const char *unicol, kf_buf_t *out);

/* Document side of the bigram table: the same terms as kf_kb_match_grams()
 * as space-separated text (grams), and every CJK character alone (unigrams),
 * so that a one-character query can still find something. */
void kf_kb_split_grams(const char *norm, kf_buf_t *grams, kf_buf_t *unigrams);

#endif
