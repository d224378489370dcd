/* nlu.h — the NLU facade the server and the CLI use: load a model, classify
 * a text into an intent with confidence, top-3 alternatives and an
 * out-of-scope verdict, and the normalisation helpers shared with the
 * entity extractor and the request validator. */
#ifndef KF_NLU_H
#define KF_NLU_H

#include <stddef.h>

#include "nlu/model.h"
#include "nlu/normalize.h"

typedef struct { const char *intent; float confidence; } kf_nlu_alt_t;

typedef struct {
    const char *intent;      /* points into the model; "oos" when out of scope */
    float confidence;        /* softmax probability of the top class */
    int out_of_scope;
    kf_nlu_alt_t alts[3];    /* best first, alts[0] == the top-scoring class */
    int n_alts;
} kf_nlu_result_t;

/* Declared in model.h:
 *   kf_nlu_model_t *kf_nlu_model_load(const char *path, char *err, size_t errlen);
 *   void kf_nlu_model_free(kf_nlu_model_t *m);
 *   const char *kf_nlu_model_version(const kf_nlu_model_t *m);
 *   size_t kf_nlu_model_n_intents(const kf_nlu_model_t *m); */

/* Classifies text[0..len).  Thread-safe, no global state, no allocation for
 * texts under ~1000 code points.  Returns 0, or -1 with err (invalid UTF-8,
 * out of memory).  An empty or feature-less text comes out as "oos" when the
 * model knows oos, else as the prior-most class with low confidence.
 * When the top class is "oos", or its confidence is below the model's
 * threshold, intent is "oos" and out_of_scope is 1; alts still list the
 * best-scoring classes. */
int kf_nlu_predict(const kf_nlu_model_t *m, const char *text, size_t len, kf_nlu_result_t *out, char *err,
                   size_t errlen);

/* Raw class probabilities (n_class = kf_nlu_model_n_labels(m) floats). */
int kf_nlu_predict_probs(const kf_nlu_model_t *m, const char *text, size_t len, float *probs, char *err,
                         size_t errlen);

#endif
