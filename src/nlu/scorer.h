/* scorer.h — the per-query form of a trained model: vocabulary, idf and
 * weights rearranged for speed.  Built in memory from the float parts (a
 * model file at load, or a cross-validation fold); the model file keeps its
 * float format (version 2), so files and their checksums did not change.
 *
 * Why: a Banking77 query looks up ~280 feature hashes and adds ~200 weight
 * rows scattered over tens of MB, so scoring is bound by memory, not
 * arithmetic (perf under wrk: kf_nlu_margins 22 % and kf_nlu_vectorize
 * 11 % of the server's samples).  What changed, measured on Banking77
 * (69254 features x 77 classes; `kefu eval` over its 10003 texts, one core):
 *   - slots: hash, dense id and idf side by side in one 16-byte slot (were
 *     three arrays: up to three misses per feature, now one);
 *   - weights: int8 with one float scale per row (scale = max|w| / 127),
 *     rows 64-byte aligned: a row of 77 classes is 2 cache lines instead of
 *     5-6 (308 unaligned bytes), the matrix 8.9 MB instead of 21.3 MB;
 *   - rows are stored most frequent feature first (by idf), so the rows
 *     most queries touch are packed together;
 *   - slot lookups are prefetched ahead of the probe, and a row as soon as
 *     its slot is found, so the misses overlap;
 *   - the row sums are vectorised (AVX-512 / AVX2 / SSE2, chosen at run
 *     time; the same results on each).
 * Scoring alone (normalised hashes to margins) now takes 3.9 us per query
 * on average; with the text-side work (ASCII normalisation, in-place char
 * n-grams) classification went from p50 7.8 / mean 11.8 us to p50 4.3 /
 * mean 6.5 us.
 *
 * Accuracy: the quantisation error of a margin is at most
 * sum_k |x_k| * scale_k / 2 (tests/unit/test_nlu_scorer.c).  Training's
 * cross-validation and calibration score through this same code, so their
 * numbers include it: Banking77 5-fold CV 0.9117 (float) -> 0.9120 (int8),
 * CLINC150 validation in-scope accuracy 0.9327 -> 0.9333, out-of-scope
 * recall 0.61 -> 0.61.  Fewer bits cost accuracy: 4-bit weights gave CV
 * 0.9112 and CLINC150 out-of-scope recall 0.58, 5-bit 0.9120 and 0.58. */
#ifndef KF_NLU_SCORER_H
#define KF_NLU_SCORER_H

#include <stddef.h>
#include <stdint.h>

#include "nlu/features.h"

#define KF_NLU_ROW_CHAR (UINT32_C(1) << 31)

typedef struct {
    uint64_t key;   /* feature hash, 0 = empty */
    uint32_t row;   /* row index, | KF_NLU_ROW_CHAR for a char-group feature */
    float idf;
} kf_nlu_slot_t;

typedef struct {
    kf_nlu_slot_t *slots;   /* mask + 1 slots, probed as kf_nlu_vocab_get probes */
    uint32_t mask;
    uint32_t n_class, n_word, n_feat;
    uint32_t n_pad;         /* n_class rounded up to 16 */
    uint32_t stride;        /* bytes per row: int8 q[n_pad] (padding 0), float scale; 64-byte multiple */
    unsigned char *rows;    /* n_feat rows, most frequent feature first (lowest idf);
                               64-byte aligned, one block with the slots */
    float *bias;            /* n_pad */
} kf_nlu_scorer_t;

/* Builds s from a vocabulary table, idf (n_feat) and the float weight
 * matrix W ((n_feat + 1) x n_class, last row the bias).  Returns 0, or -1
 * when out of memory (s is then empty; freeing it is harmless). */
int kf_nlu_scorer_init(kf_nlu_scorer_t *s, const kf_nlu_vocab_t *v, const float *idf, uint32_t n_word,
                       uint32_t n_feat, const float *W, uint32_t n_class);
void kf_nlu_scorer_free(kf_nlu_scorer_t *s);

/* Margins of one document's feature hashes h[0..nh) into scores (n_class
 * floats): the same TF-IDF weighting as kf_nlu_vectorize followed by
 * W^T x + bias with the int8 weights.  Returns 0, or -1 when out of memory. */
int kf_nlu_scorer_margins(const kf_nlu_scorer_t *s, const kf_nlu_feat_cfg_t *cfg, const uint64_t *h, size_t nh,
                          float *scores);

#endif
