/* model.h — the intent model in memory and its file format.
 *
 * A model file is one little-endian binary blob:
 *   header  "KEFUNLU\0" | u32 format version | u32 section count |
 *           u64 creation time (unix s) | u64 total file length
 *   table   per section: u32 tag | u32 0 | u64 offset | u64 length
 *   data    sections, each 8-byte aligned:
 *           CONF (sizes, feature config, temperature, OOS threshold),
 *           LABL (NUL-terminated label strings), VKEY/VIDS (vocabulary
 *           hash table), IDF_ (float per feature), WGHT (float matrix,
 *           (n_feat + 1) rows x n_class, last row = bias)
 *   trailer BLAKE2b-256 of everything before it.
 * Loading reads the file once, verifies length and checksum, then points
 * straight into the buffer: no per-section copies, and the model is never
 * written again, so every server thread can share it.  The one thing built
 * at load is the scorer (scorer.h): vocabulary, idf and int8 weights laid
 * out for queries (Banking77: 13 MB, about 10 ms). */
#ifndef KF_NLU_MODEL_H
#define KF_NLU_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "nlu/features.h"
#include "nlu/scorer.h"

#define KF_NLU_MODEL_FORMAT 2 /* 2: word pairs, threshold on kf_nlu_scope_conf */
#define KF_NLU_NO_CLASS UINT32_MAX

typedef struct kf_nlu_model kf_nlu_model_t;

struct kf_nlu_model {
    unsigned char *blob; /* the whole file; everything below points into it */
    size_t blob_len;
    kf_nlu_feat_cfg_t cfg;
    uint32_t n_class, n_feat, n_word;
    uint32_t oos_class;  /* KF_NLU_NO_CLASS when trained without "oos" rows */
    float temperature;   /* softmax(temperature * margins) gives confidences */
    float threshold;     /* kf_nlu_scope_conf below this -> out of scope */
    const char **labels; /* n_class, sorted */
    kf_nlu_vocab_t vocab;
    const float *idf;    /* n_feat */
    const float *w;      /* (n_feat + 1) x n_class */
    kf_nlu_scorer_t scorer; /* built at load from vocab, idf and w: what queries are scored with */
    uint64_t created;
    char version[48];    /* "<12 hex of checksum>-<YYYYmmddTHHMMSSZ>" */
};

/* What a trainer hands over to become a model. */
typedef struct {
    kf_nlu_feat_cfg_t cfg;
    uint32_t n_class, n_feat, n_word, oos_class;
    float temperature, threshold;
    const char *const *labels;
    const uint64_t *vkeys; /* vcap slots */
    const uint32_t *vids;
    uint32_t vcap;
    const float *idf, *w;
    uint64_t created;
} kf_nlu_model_parts_t;

/* Serialises parts into a new model (as if loaded from a file). */
kf_nlu_model_t *kf_nlu_model_build(const kf_nlu_model_parts_t *p, char *err, size_t errlen);
/* Parses and verifies a model file image; takes ownership of blob (malloc'd)
 * in all cases. */
kf_nlu_model_t *kf_nlu_model_from_blob(unsigned char *blob, size_t len, char *err, size_t errlen);
kf_nlu_model_t *kf_nlu_model_load(const char *path, char *err, size_t errlen);
/* Writes the model to path atomically (temporary file + rename). */
int kf_nlu_model_save(const kf_nlu_model_t *m, const char *path, char *err, size_t errlen);
void kf_nlu_model_free(kf_nlu_model_t *m);

const char *kf_nlu_model_version(const kf_nlu_model_t *m);
/* Intents the model knows, not counting "oos". */
size_t kf_nlu_model_n_intents(const kf_nlu_model_t *m);
/* Label i (0 <= i < n_class, "oos" included), or NULL. */
const char *kf_nlu_model_label(const kf_nlu_model_t *m, size_t i);
size_t kf_nlu_model_n_labels(const kf_nlu_model_t *m);
/* Index of label, or -1. */
long kf_nlu_model_label_index(const kf_nlu_model_t *m, const char *label);

/* Linear margins of one document's feature hashes: scores = W^T x + bias,
 * with the given vocabulary and float weights.  The reference the
 * quantised kf_nlu_scorer_margins (what prediction and CV use) is tested
 * against.  Returns 0, or -1 when out of memory. */
int kf_nlu_margins(const kf_nlu_feat_cfg_t *cfg, const kf_nlu_vocab_t *v, const float *idf, uint32_t n_word,
                   uint32_t n_feat, const float *W, uint32_t n_class, const uint64_t *h, size_t nh, float *scores);
/* In place: s = softmax(t * s). */
void kf_nlu_softmax(float *s, uint32_t n, float t);

/* How sure the model is that a text is in scope, from its margins s and
 * softmax probabilities pr (both n_class long); *top gets the best class
 * other than oos_class.  With an oos class it is sigmoid(t * (s[top] -
 * s[oos])), the two-way probability of the best intent against "oos":
 * on CLINC150 this separates out-of-scope texts better than the top
 * softmax probability (validation AUROC 0.977 against 0.936), which is
 * diluted by near-ties between similar intents.  Without an oos class it
 * is pr[top].  A prediction is out of scope when the top class is oos or
 * this is below the model's threshold. */
float kf_nlu_scope_conf(const float *s, const float *pr, uint32_t n_class, uint32_t oos_class, float t,
                        uint32_t *top);

#endif
