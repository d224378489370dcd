/* normalize.h — Unicode text normalisation shared by the intent classifier,
 * the entity extractor and the request validator.
 *
 * kf_nlu_normalize() turns raw UTF-8 into the canonical form every NLU stage
 * works on: NFKC (which also maps full-width ASCII and the ideographic space
 * to their half-width forms), Unicode case folding, CJK punctuation mapped to
 * ASCII (。→. 、→, 「」→" ...), control characters and every kind of Unicode
 * whitespace collapsed to one ASCII space, leading/trailing space trimmed.
 * Invalid UTF-8 is rejected, never repaired.  Lengths are in code points. */
#ifndef KF_NLU_NORMALIZE_H
#define KF_NLU_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>

/* Number of Unicode code points in s[0..len), or -1 when s is not valid
 * UTF-8 (overlongs, surrogates and values above U+10FFFF are invalid). */
long kf_nlu_utf8_len(const char *s, size_t len);

/* Normalises in[0..len) into out (NUL-terminated, at most outcap bytes
 * including the NUL).  Returns the output length in bytes, or -1 with err
 * set when the input is not valid UTF-8 or out is too small.  A buffer of
 * kf_nlu_normalize_bound(len) bytes is always large enough. */
long kf_nlu_normalize(const char *in, size_t len, char *out, size_t outcap, char *err, size_t errlen);

/* Upper bound on the bytes kf_nlu_normalize() needs for len input bytes. */
size_t kf_nlu_normalize_bound(size_t len);

/* Same as kf_nlu_normalize() into a malloc'd string the caller frees;
 * *outlen (may be NULL) receives its length in bytes. NULL on error. */
char *kf_nlu_normalize_dup(const char *in, size_t len, size_t *outlen, char *err, size_t errlen);

/* Normalises into a code-point array: out receives at most cap code points.
 * Returns the number of code points (which may exceed cap: call again with a
 * larger buffer), or -1 with err on invalid UTF-8.  Used by the feature
 * extractor, which works on code points without re-encoding. */
long kf_nlu_normalize_cp(const char *in, size_t len, int32_t *out, size_t cap, char *err, size_t errlen);

/* kf_nlu_normalize_cp without its pure-ASCII shortcut: every text through
 * utf8proc.  The reference the shortcut is tested against. */
long kf_nlu_normalize_cp_utf8proc(const char *in, size_t len, int32_t *out, size_t cap, char *err, size_t errlen);

#endif
