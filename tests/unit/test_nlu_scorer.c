/* test_nlu_scorer.c — the quantised scorer (nlu/scorer.h) against the float
 * reference kf_nlu_margins: margins within the int8 error bound, exact when
 * the weights are representable, the same top class on a trained model, and
 * the paths for empty, duplicate-heavy and very long documents. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/csv.h"
#include "nlu/classifier.h"
#include "nlu/nlu.h"
#include "nlu/scorer.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static float unit(void) { return (float)((next() >> 11) * (1.0 / 9007199254740992.0)); }

typedef struct {
    uint32_t n_feat, n_word, n_class, cap;
    uint64_t *keys, *feat_key;
    uint32_t *ids;
    float *idf, *W;
    kf_nlu_vocab_t v;
    kf_nlu_feat_cfg_t cfg;
} synth_t;

/* A random model: mixed rows (dense, all-zero, one large weight, tiny). */
static void synth(synth_t *s, uint32_t n_feat, uint32_t n_word, uint32_t n_class, int representable) {
    s->n_feat = n_feat;
    s->n_word = n_word;
    s->n_class = n_class;
    s->cap = kf_nlu_vocab_cap(n_feat);
    s->keys = calloc(s->cap, sizeof *s->keys);
    s->ids = calloc(s->cap, sizeof *s->ids);
    s->feat_key = malloc(n_feat * sizeof *s->feat_key);
    s->idf = malloc(n_feat * sizeof *s->idf);
    s->W = malloc(((size_t)n_feat + 1) * n_class * sizeof *s->W);
    kf_nlu_feat_cfg_default(&s->cfg);
    s->cfg.char_weight = 0.8f;
    for (uint32_t f = 0; f < n_feat; f++) {
        uint64_t k;
        do {
            k = next();
            k = f < n_word ? k & ~KF_NLU_HASH_CHAR_BIT : k | KF_NLU_HASH_CHAR_BIT;
        } while (!k);
        s->feat_key[f] = k;
        kf_nlu_vocab_put(s->keys, s->ids, s->cap - 1, k, f);
        s->idf[f] = 1.0f + 4.0f * unit();
        float *w = s->W + (size_t)f * n_class;
        int kind = (int)(next() % 8);
        for (uint32_t c = 0; c < n_class; c++) {
            if (representable) w[c] = (float)((int)(next() % 255) - 127) / 64.0f;
            else if (kind == 0) w[c] = 0;
            else if (kind == 1) w[c] = c == f % n_class ? 3.0f : 0.001f * (unit() - 0.5f);
            else if (kind == 2) w[c] = 1e-6f * (unit() - 0.5f);
            else w[c] = 4.0f * (unit() - 0.5f);
        }
        if (representable) w[f % n_class] = 127.0f / 64.0f; /* row max: scale 1/64 exactly */
    }
    for (uint32_t c = 0; c < n_class; c++) s->W[(size_t)n_feat * n_class + c] = unit() - 0.5f;
    s->v = (kf_nlu_vocab_t){s->keys, s->ids, s->cap - 1};
}

static void synth_free(synth_t *s) {
    free(s->keys);
    free(s->ids);
    free(s->feat_key);
    free(s->idf);
    free(s->W);
}

/* A document: known features (some repeated) and unknown hashes. */
static size_t doc(const synth_t *s, uint64_t *h, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint64_t r = next();
        if (r % 5 == 0) h[i] = next() | 1; /* almost surely unknown */
        else if (r % 7 == 0 && i) h[i] = h[i - 1];
        else h[i] = s->feat_key[(r >> 8) % s->n_feat];
    }
    return n;
}

/* |quantised - float| <= sum_k |x_k| * scale_k / 2 plus float rounding. */
static void check_doc(const synth_t *s, const kf_nlu_scorer_t *sc, const uint64_t *h, size_t nh, float exact_tol) {
    float *fm = malloc(s->n_class * sizeof *fm), *qm = malloc(s->n_class * sizeof *qm);
    uint32_t *ids = malloc((nh + 1) * sizeof *ids);
    float *x = malloc((nh + 1) * sizeof *x);
    cr_assert_eq(kf_nlu_margins(&s->cfg, &s->v, s->idf, s->n_word, s->n_feat, s->W, s->n_class, h, nh, fm), 0);
    cr_assert_eq(kf_nlu_scorer_margins(sc, &s->cfg, h, nh, qm), 0);
    long m = kf_nlu_vectorize(&s->cfg, &s->v, s->idf, s->n_word, h, nh, ids, x);
    cr_assert_geq(m, 0);
    double bound = 0, mag = 0;
    for (long k = 0; k < m; k++) {
        const float *w = s->W + (size_t)ids[k] * s->n_class;
        float mx = 0;
        for (uint32_t c = 0; c < s->n_class; c++) mx = fmaxf(mx, fabsf(w[c]));
        bound += fabs(x[k]) * mx / 127.0 / 2.0;
        mag += fabs(x[k]) * mx;
    }
    double tol = exact_tol >= 0 ? exact_tol : bound + 1e-5 * (1.0 + mag);
    for (uint32_t c = 0; c < s->n_class; c++)
        cr_assert_leq(fabs((double)qm[c] - fm[c]), tol, "class %u: quantised %g, float %g, bound %g (n_class %u, nh %zu)",
                      c, qm[c], fm[c], tol, s->n_class, nh);
    free(fm);
    free(qm);
    free(ids);
    free(x);
}

Test(nlu_scorer, int8_margins_within_the_error_bound) {
    const uint32_t classes[] = {2, 5, 16, 77, 151, 300};
    for (size_t t = 0; t < sizeof classes / sizeof *classes; t++) {
        synth_t s;
        synth(&s, 400, 150, classes[t], 0);
        kf_nlu_scorer_t sc;
        cr_assert_eq(kf_nlu_scorer_init(&sc, &s.v, s.idf, s.n_word, s.n_feat, s.W, s.n_class), 0);
        uint64_t h[600];
        for (int d = 0; d < 50; d++) check_doc(&s, &sc, h, doc(&s, h, 1 + next() % 600), -1);
        kf_nlu_scorer_free(&sc);
        synth_free(&s);
    }
}

Test(nlu_scorer, representable_weights_score_exactly) {
    synth_t s;
    synth(&s, 300, 100, 77, 1);
    kf_nlu_scorer_t sc;
    cr_assert_eq(kf_nlu_scorer_init(&sc, &s.v, s.idf, s.n_word, s.n_feat, s.W, s.n_class), 0);
    uint64_t h[200];
    for (int d = 0; d < 30; d++) check_doc(&s, &sc, h, doc(&s, h, 1 + next() % 200), 1e-4f);
    kf_nlu_scorer_free(&sc);
    synth_free(&s);
}

Test(nlu_scorer, empty_unknown_and_long_documents) {
    synth_t s;
    synth(&s, 500, 200, 77, 0);
    kf_nlu_scorer_t sc;
    cr_assert_eq(kf_nlu_scorer_init(&sc, &s.v, s.idf, s.n_word, s.n_feat, s.W, s.n_class), 0);
    float qm[77];
    /* no hashes, and only unknown ones: the bias */
    cr_assert_eq(kf_nlu_scorer_margins(&sc, &s.cfg, NULL, 0, qm), 0);
    for (int c = 0; c < 77; c++) cr_assert_float_eq(qm[c], s.W[(size_t)500 * 77 + c], 0);
    uint64_t unk[3] = {1, 2, 3};
    cr_assert_eq(kf_nlu_scorer_margins(&sc, &s.cfg, unk, 3, qm), 0);
    for (int c = 0; c < 77; c++) cr_assert_float_eq(qm[c], s.W[(size_t)500 * 77 + c], 0);
    /* longer than the stack buffers: the heap path */
    static uint64_t h[9000];
    check_doc(&s, &sc, h, doc(&s, h, 9000), -1);
    kf_nlu_scorer_free(&sc);
    synth_free(&s);
}

/* On a trained model the quantised top class is the float top class unless
 * the float margins of the two are closer than the quantisation bound. */
Test(nlu_scorer, trained_model_keeps_its_predictions) {
    kf_nlu_dataset_t d = {0};
    char err[256];
    cr_assert_gt(kf_cli_load_labeled_csv("tests/fixtures/nlu/small.csv", &d, err, sizeof err), 0, "%s", err);
    kf_nlu_train_opts_t o;
    kf_nlu_train_opts_default(&o);
    o.threads = 1;
    kf_nlu_model_t *m = kf_nlu_train(&d, &o, 0, NULL, err, sizeof err);
    cr_assert_not_null(m, "%s", err);
    size_t same = 0;
    for (size_t i = 0; i < d.n; i++) {
        int32_t cp[1024];
        uint64_t h[8192];
        long n = kf_nlu_normalize_cp(d.text[i], strlen(d.text[i]), cp, 1024, err, sizeof err);
        cr_assert(n >= 0 && n <= 1024);
        size_t nh = kf_nlu_extract(&m->cfg, cp, (size_t)n, h, 8192);
        cr_assert_leq(nh, 8192);
        float fm[256], qm[256];
        cr_assert_leq(m->n_class, 256);
        cr_assert_eq(kf_nlu_margins(&m->cfg, &m->vocab, m->idf, m->n_word, m->n_feat, m->w, m->n_class, h, nh, fm), 0);
        cr_assert_eq(kf_nlu_scorer_margins(&m->scorer, &m->cfg, h, nh, qm), 0);
        uint32_t bf = 0, bq = 0;
        for (uint32_t c = 1; c < m->n_class; c++) {
            if (fm[c] > fm[bf]) bf = c;
            if (qm[c] > qm[bq]) bq = c;
        }
        if (bf == bq) same++;
        else cr_assert_lt(fabsf(fm[bf] - fm[bq]), 0.05f, "row %zu: float top %u, quantised top %u", i, bf, bq);
    }
    cr_assert_gt(same, d.n * 99 / 100);
    kf_nlu_model_free(m);
    kf_nlu_dataset_free(&d);
}
