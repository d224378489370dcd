/* classifier.h — training, cross-validation, calibration and prediction of
 * the intent model on liblinear.
 *
 * One-vs-rest L2-loss linear SVMs (liblinear's dual coordinate descent,
 * classes trained on parallel threads) over TF-IDF n-gram features.
 * Margins become confidences through softmax(temperature * margin), the
 * temperature fit on out-of-fold margins to minimise log-loss.  Rows
 * labelled "oos" train an ordinary class; in addition a threshold chosen on
 * the same out-of-fold predictions rejects weak in-scope guesses: on the
 * two-way probability of the best intent against "oos" when the data has
 * oos rows, else on the top softmax probability (kf_nlu_scope_conf). */
#ifndef KF_NLU_CLASSIFIER_H
#define KF_NLU_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "nlu/features.h"
#include "nlu/model.h"

#define KF_NLU_OOS "oos"

/* ---- training data ---- */
typedef struct {
    char **text, **label;
    size_t n, cap;
} kf_nlu_dataset_t;

/* Copies text and label; returns 0 or -1 (out of memory). */
int kf_nlu_dataset_add(kf_nlu_dataset_t *d, const char *text, size_t tlen, const char *label, size_t llen);
void kf_nlu_dataset_free(kf_nlu_dataset_t *d);

enum { KF_NLU_SOLVER_SVM = 0, KF_NLU_SOLVER_CS = 1, KF_NLU_SOLVER_LR = 2 };

typedef struct {
    kf_nlu_feat_cfg_t feat;
    int solver;          /* KF_NLU_SOLVER_*: one-vs-rest L2-SVM, Crammer-Singer, one-vs-rest LR */
    double C;            /* liblinear cost */
    double eps;          /* liblinear stopping tolerance */
    int min_df;          /* drop features seen in fewer training rows (2: half the
                            model size and load time, CV accuracy within noise) */
    int calib_folds;     /* folds for temperature/threshold when no CV was asked for
                            (default 3; 0 skips them: temperature 5, threshold 0) */
    float oos_weight;    /* threshold objective: weight of an oos row relative to an
                            in-scope row (3, chosen on CLINC150's validation set) */
    float threshold;     /* < 0: fit by CV; otherwise used as is (compared
                            with kf_nlu_scope_conf, see model.h) */
    int threads;         /* one-vs-rest classes train in parallel; with more than
                            one thread liblinear's shared rand() makes runs differ
                            within the solver tolerance */
    uint32_t seed;
    /* Progress callback (may be NULL): frac in [0,1] of the whole job. */
    void (*progress)(void *ud, double frac, const char *stage);
    void *progress_ud;
} kf_nlu_train_opts_t;

void kf_nlu_train_opts_default(kf_nlu_train_opts_t *o);

/* ---- metrics ---- */
typedef struct {
    size_t n_label;      /* labels[0..n_label) index the matrix */
    long oos;            /* index of "oos" among labels, or -1 */
    uint64_t *cm;        /* n_label x n_label, gold-major */
} kf_nlu_confusion_t;

typedef struct {
    size_t n, n_oos;
    double accuracy, macro_f1;
    double in_scope_accuracy;  /* over rows whose gold label is not oos */
    double oos_recall, oos_precision; /* NaN-free: 0 when undefined */
} kf_nlu_scores_t;

int kf_nlu_confusion_init(kf_nlu_confusion_t *c, size_t n_label, long oos);
void kf_nlu_confusion_free(kf_nlu_confusion_t *c);
void kf_nlu_confusion_add(kf_nlu_confusion_t *c, size_t gold, size_t pred);
void kf_nlu_confusion_scores(const kf_nlu_confusion_t *c, kf_nlu_scores_t *s);
/* Precision/recall/F1/support of label i. */
void kf_nlu_confusion_prf(const kf_nlu_confusion_t *c, size_t i, double *p, double *r, double *f1, uint64_t *support);

typedef struct {
    int folds;
    kf_nlu_scores_t scores; /* with the fitted temperature and threshold applied */
    float temperature, threshold;
    double seconds;
} kf_nlu_cv_report_t;

/* Trains a model on all of d.  With cv_folds >= 2 also runs stratified
 * K-fold cross-validation first and fills *rep (its out-of-fold margins
 * then calibrate the model, so the CV costs no extra calibration run).
 * Returns NULL with err (fewer than two classes, empty text, ...). */
kf_nlu_model_t *kf_nlu_train(const kf_nlu_dataset_t *d, const kf_nlu_train_opts_t *o, int cv_folds,
                             kf_nlu_cv_report_t *rep, char *err, size_t errlen);

#endif
