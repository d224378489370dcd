/* features.h — from normalised text to sparse TF-IDF vectors.
 *
 * Extraction produces 64-bit feature hashes (no table needed, so it is the
 * same at training and prediction time):
 *   - Latin/other-script words: unigrams, (optionally) bigrams and
 *     unordered word pairs within a window,
 *   - character n-grams inside each word with '<' '>' boundary markers
 *     (typo robustness: "acount" still shares most grams with "account"),
 *   - Han/kana/hangul runs: characters plus char bigrams/trigrams, since
 *     Chinese has no spaces and we do not segment.
 * Digits are folded to 0 so "£20" and "£50" look alike.  The top bit of a
 * hash tells its group (word-level or char-level); each group is L2
 * normalised on its own and then weighted, as a union of two TF-IDF
 * vectorisers would be.
 *
 * A vocabulary (open-addressing table of the hashes seen in training, kept
 * in the model file) turns hashes into dense feature ids; ids of the word
 * group come first.  Why not hash straight into 2^18-2^20 buckets: the
 * weight matrix is dense (features x classes floats), so empty buckets
 * would cost 2^18 x 151 x 4 = 158 MB on CLINC150 against 31k features x 151
 * x 4 = 19 MB, and a lookup is one probe in a table kept under half full.
 * 64-bit hashes make collisions between distinct n-grams negligible.
 *
 * Defaults (kf_nlu_feat_cfg_default) were chosen by 5-fold CV on Banking77:
 * word 1-2 grams + char 2-5 grams inside words, equal group weights, light
 * stemming of word features, plus unordered word pairs anywhere within 32
 * words (in the word group).  Pairs are a cheap stand-in for a quadratic
 * kernel: "card ... arrive" and "arrive ... card" match whatever sits in
 * between; they took Banking77 CV from 0.904 to 0.910 (window 4: 0.906,
 * 8: 0.908), with stemming 0.912, and CLINC150 validation accuracy from
 * 0.919 to 0.923.  Word trigrams, skip-bigrams, char n-grams across words,
 * other char ranges and group weights all stayed within +-0.1 % (noise);
 * dropping word bigrams cost 1.2 %.  Re-measured with the int8 scorer
 * (scorer.h): pairs window 32 0.9120, 16 0.9110, 8 0.9098, so 32 stays
 * although a smaller window would mean fewer features per query. */
#ifndef KF_NLU_FEATURES_H
#define KF_NLU_FEATURES_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t word_max;   /* word n-grams 1..word_max (0..3) */
    uint8_t char_min;   /* char n-grams char_min..char_max inside words; */
    uint8_t char_max;   /*   char_max == 0 disables them */
    uint8_t han_max;    /* Han n-grams 1..han_max (0 disables) */
    uint8_t fold_digits;
    uint8_t char_cross; /* char n-grams run across word boundaries (space-joined words) */
    uint8_t word_skip;  /* word skip-bigrams (w[i], w[i+2]) */
    uint8_t word_edges; /* first and last word marked as such */
    uint8_t stem;       /* light English suffix stripping for word features */
    uint8_t word_pairs; /* unordered pairs of words at most this far apart
                           (0: off, at most 32) */
    uint8_t pad[2];
    float char_weight;  /* weight of the char group after L2 (word group: 1) */
} kf_nlu_feat_cfg_t;

#define KF_NLU_HASH_CHAR_BIT (UINT64_C(1) << 63)

void kf_nlu_feat_cfg_default(kf_nlu_feat_cfg_t *cfg);

/* Upper bound on the hashes kf_nlu_extract() emits for n code points. */
size_t kf_nlu_extract_bound(const kf_nlu_feat_cfg_t *cfg, size_t n);

/* Feature hashes of normalised code points cp[0..n) into out (at most cap).
 * Returns the number of hashes (never more than the bound); hashes beyond
 * cap are counted but not written.  Hashes are never 0. */
size_t kf_nlu_extract(const kf_nlu_feat_cfg_t *cfg, const int32_t *cp, size_t n, uint64_t *out, size_t cap);

/* Vocabulary: hash -> dense id. keys has cap (power of two) slots, 0 = empty. */
typedef struct {
    const uint64_t *keys;
    const uint32_t *ids;
    uint32_t mask;      /* cap - 1 */
} kf_nlu_vocab_t;

#define KF_NLU_NO_ID UINT32_MAX

static inline uint32_t kf_nlu_vocab_get(const kf_nlu_vocab_t *v, uint64_t h) {
    uint32_t i = (uint32_t)(h ^ (h >> 29)) & v->mask;
    for (;;) {
        uint64_t k = v->keys[i];
        if (k == h) return v->ids[i];
        if (k == 0) return KF_NLU_NO_ID;
        i = (i + 1) & v->mask;
    }
}

/* Slot count for n keys (load factor <= 0.5). */
uint32_t kf_nlu_vocab_cap(size_t n);
/* Inserts h with id into a table with the given arrays (keys zeroed). */
void kf_nlu_vocab_put(uint64_t *keys, uint32_t *ids, uint32_t mask, uint64_t h, uint32_t id);

/* TF-IDF weighting of one document.  Looks the hashes up, drops unknown
 * ones, merges duplicates, applies sublinear tf (1 + ln tf) times idf,
 * L2-normalises the word group (ids < n_word) and the char group separately
 * and scales the char group by cfg->char_weight.  Writes at most nh pairs
 * to ids/vals (unsorted) and returns their count, or -1 when out of memory. */
long kf_nlu_vectorize(const kf_nlu_feat_cfg_t *cfg, const kf_nlu_vocab_t *v, const float *idf, uint32_t n_word,
                      const uint64_t *h, size_t nh, uint32_t *ids, float *vals);

#endif
