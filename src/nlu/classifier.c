/* classifier.c — training (liblinear one-vs-rest on parallel threads),
 * stratified cross-validation, temperature/threshold calibration and the
 * evaluation metrics (see classifier.h).  Per-query scoring is in model.c. */
#include "nlu/classifier.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linear.h>

#include "nlu/nlu.h"
#include "nlu/normalize.h"

#define DEFAULT_TEMPERATURE 5.0f /* what CV fits on Banking77/CLINC150 */

static void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

/* ------------------------------------------------------------ dataset */

int kf_nlu_dataset_add(kf_nlu_dataset_t *d, const char *text, size_t tlen, const char *label, size_t llen) {
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        char **t = realloc(d->text, cap * sizeof *t);
        if (!t) return -1;
        d->text = t;
        char **l = realloc(d->label, cap * sizeof *l);
        if (!l) return -1;
        d->label = l;
        d->cap = cap;
    }
    char *t = strndup(text, tlen), *l = strndup(label, llen);
    if (!t || !l) {
        free(t);
        free(l);
        return -1;
    }
    d->text[d->n] = t;
    d->label[d->n] = l;
    d->n++;
    return 0;
}

void kf_nlu_dataset_free(kf_nlu_dataset_t *d) {
    for (size_t i = 0; i < d->n; i++) {
        free(d->text[i]);
        free(d->label[i]);
    }
    free(d->text);
    free(d->label);
    memset(d, 0, sizeof *d);
}

void kf_nlu_train_opts_default(kf_nlu_train_opts_t *o) {
    memset(o, 0, sizeof *o);
    kf_nlu_feat_cfg_default(&o->feat);
    o->C = 1.0;
    o->eps = 0.1;
    o->min_df = 2;
    o->calib_folds = 3;
    o->oos_weight = 3.0f;
    o->threshold = -1.0f;
    o->threads = 2;
    o->seed = 1;
}

/* ------------------------------------------------------------ metrics */

int kf_nlu_confusion_init(kf_nlu_confusion_t *c, size_t n_label, long oos) {
    c->n_label = n_label;
    c->oos = oos;
    c->cm = calloc(n_label ? n_label * n_label : 1, sizeof *c->cm);
    return c->cm ? 0 : -1;
}

void kf_nlu_confusion_free(kf_nlu_confusion_t *c) {
    free(c->cm);
    c->cm = NULL;
}

void kf_nlu_confusion_add(kf_nlu_confusion_t *c, size_t gold, size_t pred) {
    if (gold < c->n_label && pred < c->n_label) c->cm[gold * c->n_label + pred]++;
}

void kf_nlu_confusion_prf(const kf_nlu_confusion_t *c, size_t i, double *p, double *r, double *f1,
                          uint64_t *support) {
    uint64_t tp = c->cm[i * c->n_label + i], gold = 0, pred = 0;
    for (size_t j = 0; j < c->n_label; j++) {
        gold += c->cm[i * c->n_label + j];
        pred += c->cm[j * c->n_label + i];
    }
    *p = pred ? (double)tp / (double)pred : 0;
    *r = gold ? (double)tp / (double)gold : 0;
    *f1 = *p + *r > 0 ? 2 * *p * *r / (*p + *r) : 0;
    if (support) *support = gold;
}

void kf_nlu_confusion_scores(const kf_nlu_confusion_t *c, kf_nlu_scores_t *s) {
    memset(s, 0, sizeof *s);
    size_t L = c->n_label, used = 0;
    uint64_t n = 0, ok = 0, in_n = 0, in_ok = 0;
    double f1sum = 0;
    for (size_t i = 0; i < L; i++) {
        uint64_t gold = 0, pred = 0;
        for (size_t j = 0; j < L; j++) {
            gold += c->cm[i * L + j];
            pred += c->cm[j * L + i];
        }
        n += gold;
        ok += c->cm[i * L + i];
        if ((long)i != c->oos) {
            in_n += gold;
            in_ok += c->cm[i * L + i];
        }
        if (gold || pred) { /* macro over labels present in gold or predictions */
            double p, r, f;
            kf_nlu_confusion_prf(c, i, &p, &r, &f, NULL);
            f1sum += f;
            used++;
        }
    }
    s->n = n;
    s->accuracy = n ? (double)ok / (double)n : 0;
    s->macro_f1 = used ? f1sum / (double)used : 0;
    s->in_scope_accuracy = in_n ? (double)in_ok / (double)in_n : 0;
    if (c->oos >= 0) {
        double p, r, f;
        uint64_t sup;
        kf_nlu_confusion_prf(c, (size_t)c->oos, &p, &r, &f, &sup);
        s->n_oos = sup;
        s->oos_recall = r;
        s->oos_precision = p;
    }
}

/* ------------------------------------------------------------ training */

typedef struct {
    const kf_nlu_train_opts_t *o;
    size_t n;
    uint32_t n_class;
    char **labels;  /* sorted, unique; point into the dataset */
    uint32_t *y;    /* class of each row */
    long oos;       /* class index of "oos", or -1 */
    uint64_t *h;    /* row i's hashes: h[off[i] .. off[i + 1]) */
    size_t *off;
    pthread_mutex_t prog_lock;
    size_t jobs_done, jobs_total;
} prep_t;

typedef struct {
    uint32_t n_feat, n_word, vcap;
    uint64_t *vkeys;
    uint32_t *vids;
    float *idf, *W;
} fitted_t;

static void fitted_free(fitted_t *f) {
    free(f->vkeys);
    free(f->vids);
    free(f->idf);
    free(f->W);
    memset(f, 0, sizeof *f);
}

static void silent(const char *s) { (void)s; }

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void progress(prep_t *p, const char *stage) {
    if (!p->o->progress) return;
    pthread_mutex_lock(&p->prog_lock);
    p->jobs_done++;
    p->o->progress(p->o->progress_ud, p->jobs_total ? (double)p->jobs_done / (double)p->jobs_total : 1, stage);
    pthread_mutex_unlock(&p->prog_lock);
}

/* Growable hash -> (df, last row seen) table used to build a vocabulary. */
typedef struct {
    uint64_t *keys;
    uint32_t *df, *last;
    size_t cap, used;
} dftab_t;

static int dftab_grow(dftab_t *t) {
    size_t cap = t->cap ? t->cap * 2 : 1 << 16;
    uint64_t *k = calloc(cap, sizeof *k);
    uint32_t *d = malloc(cap * sizeof *d), *l = malloc(cap * sizeof *l);
    if (!k || !d || !l) {
        free(k);
        free(d);
        free(l);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->keys[i]) continue;
        size_t s = (size_t)(t->keys[i] ^ (t->keys[i] >> 29)) & (cap - 1);
        while (k[s]) s = (s + 1) & (cap - 1);
        k[s] = t->keys[i];
        d[s] = t->df[i];
        l[s] = t->last[i];
    }
    free(t->keys);
    free(t->df);
    free(t->last);
    t->keys = k;
    t->df = d;
    t->last = l;
    t->cap = cap;
    return 0;
}

static int dftab_add(dftab_t *t, uint64_t h, uint32_t row) {
    if ((t->used + 1) * 2 > t->cap && dftab_grow(t) < 0) return -1;
    size_t s = (size_t)(h ^ (h >> 29)) & (t->cap - 1);
    while (t->keys[s] && t->keys[s] != h) s = (s + 1) & (t->cap - 1);
    if (!t->keys[s]) {
        t->keys[s] = h;
        t->df[s] = 1;
        t->last[s] = row;
        t->used++;
    } else if (t->last[s] != row) {
        t->df[s]++;
        t->last[s] = row;
    }
    return 0;
}

static int cmp_node(const void *a, const void *b) {
    const struct feature_node *x = a, *y = b;
    return (x->index > y->index) - (x->index < y->index);
}

typedef struct {
    prep_t *p;
    const size_t *idx;
    size_t m;
    struct feature_node **rows;
    fitted_t *f;
    atomic_uint next;
    atomic_int failed;
} ovr_job_t;

static void *ovr_worker(void *arg) {
    ovr_job_t *j = arg;
    double *yk = malloc(j->m * sizeof *yk);
    if (!yk) {
        atomic_store(&j->failed, 1);
        return NULL;
    }
    uint32_t nc = j->p->n_class, nf = j->f->n_feat;
    for (;;) {
        uint32_t k = atomic_fetch_add(&j->next, 1);
        if (k >= nc || atomic_load(&j->failed)) break;
        size_t pos = 0;
        for (size_t i = 0; i < j->m; i++) {
            int is = j->p->y[j->idx[i]] == k;
            yk[i] = is ? 1.0 : -1.0;
            pos += (size_t)is;
        }
        if (pos == 0) { /* class absent from this fold: never predict it */
            for (uint32_t f = 0; f < nf; f++) j->f->W[(size_t)f * nc + k] = 0;
            j->f->W[(size_t)nf * nc + k] = -10.0f;
        } else {
            struct problem prob = {.l = (int)j->m, .n = (int)nf + 1, .y = yk, .x = j->rows, .bias = -1};
            int st = j->p->o->solver == KF_NLU_SOLVER_LR ? L2R_LR_DUAL : L2R_L2LOSS_SVC_DUAL;
            struct parameter par = {.solver_type = st, .eps = j->p->o->eps, .C = j->p->o->C, .p = 0.1};
            struct model *md = train(&prob, &par);
            if (!md) {
                atomic_store(&j->failed, 1);
                break;
            }
            double sign = md->nr_class == 2 && md->label[0] == -1 ? -1.0 : 1.0;
            for (uint32_t f = 0; f <= nf; f++) j->f->W[(size_t)f * nc + k] = (float)(sign * md->w[f]);
            free_and_destroy_model(&md);
        }
        progress(j->p, "training");
    }
    free(yk);
    return NULL;
}

/* Crammer-Singer multi-class SVM: one liblinear call, one thread. */
static int fit_cs(prep_t *p, const size_t *idx, size_t m, struct feature_node **rows, fitted_t *f, char *err,
                  size_t errlen) {
    double *y = malloc(m * sizeof *y);
    if (!y) {
        set_err(err, errlen, "out of memory while training");
        return -1;
    }
    for (size_t i = 0; i < m; i++) y[i] = (double)p->y[idx[i]];
    uint32_t nc = p->n_class, nf = f->n_feat;
    struct problem prob = {.l = (int)m, .n = (int)nf + 1, .y = y, .x = rows, .bias = -1};
    struct parameter par = {.solver_type = MCSVM_CS, .eps = p->o->eps, .C = p->o->C, .p = 0.1};
    struct model *md = train(&prob, &par);
    free(y);
    if (!md) {
        set_err(err, errlen, "liblinear training failed");
        return -1;
    }
    for (size_t i = 0; i < ((size_t)nf + 1) * nc; i++) f->W[i] = 0;
    for (uint32_t k = 0; k < nc; k++) f->W[(size_t)nf * nc + k] = -10.0f; /* classes absent from the fold */
    int mc = md->nr_class;
    for (int j = 0; j < mc; j++) {
        uint32_t k = (uint32_t)md->label[j];
        for (uint32_t ft = 0; ft <= nf; ft++) {
            double v = mc == 2 ? (j == 0 ? md->w[ft] : -md->w[ft]) : md->w[(size_t)ft * mc + j];
            f->W[(size_t)ft * nc + k] = (float)v;
        }
    }
    free_and_destroy_model(&md);
    for (uint32_t k = 0; k < nc; k++) progress(p, "training");
    return 0;
}

/* Fits vocabulary, idf and one-vs-rest weights on rows idx[0..m). */
static int fit(prep_t *p, const size_t *idx, size_t m, fitted_t *f, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    dftab_t t = {0};
    int rc = -1;
    struct feature_node *nodes = NULL, **rows = NULL;
    uint32_t *ids = NULL;
    float *vals = NULL;
    for (size_t i = 0; i < m; i++) {
        size_t r = idx[i];
        for (size_t k = p->off[r]; k < p->off[r + 1]; k++)
            if (dftab_add(&t, p->h[k], (uint32_t)i) < 0) goto oom;
    }
    uint32_t min_df = p->o->min_df > 1 ? (uint32_t)p->o->min_df : 1;
    for (size_t s = 0; s < t.cap; s++) {
        if (!t.keys[s] || t.df[s] < min_df) continue;
        f->n_feat++;
        if (!(t.keys[s] & KF_NLU_HASH_CHAR_BIT)) f->n_word++;
    }
    f->vcap = kf_nlu_vocab_cap(f->n_feat);
    f->vkeys = calloc(f->vcap, sizeof *f->vkeys);
    f->vids = calloc(f->vcap, sizeof *f->vids);
    f->idf = malloc(((size_t)f->n_feat + 1) * sizeof *f->idf);
    f->W = malloc(((size_t)f->n_feat + 1) * p->n_class * sizeof *f->W);
    if (!f->vkeys || !f->vids || !f->idf || !f->W) goto oom;
    uint32_t next_word = 0, next_char = f->n_word;
    for (size_t s = 0; s < t.cap; s++) {
        if (!t.keys[s] || t.df[s] < min_df) continue;
        uint32_t id = (t.keys[s] & KF_NLU_HASH_CHAR_BIT) ? next_char++ : next_word++;
        kf_nlu_vocab_put(f->vkeys, f->vids, f->vcap - 1, t.keys[s], id);
        f->idf[id] = (float)(log((1.0 + (double)m) / (1.0 + t.df[s])) + 1.0);
    }
    kf_nlu_vocab_t v = {f->vkeys, f->vids, f->vcap - 1};

    size_t total = 0, maxh = 0;
    for (size_t i = 0; i < m; i++) {
        size_t nh = p->off[idx[i] + 1] - p->off[idx[i]];
        total += nh;
        if (nh > maxh) maxh = nh;
    }
    nodes = malloc((total + 2 * m) * sizeof *nodes);
    rows = malloc((m ? m : 1) * sizeof *rows);
    ids = malloc((maxh + 1) * sizeof *ids);
    vals = malloc((maxh + 1) * sizeof *vals);
    if (!nodes || !rows || !ids || !vals) goto oom;
    struct feature_node *q = nodes;
    for (size_t i = 0; i < m; i++) {
        size_t r = idx[i];
        long k = kf_nlu_vectorize(&p->o->feat, &v, f->idf, f->n_word, p->h + p->off[r], p->off[r + 1] - p->off[r],
                                  ids, vals);
        if (k < 0) goto oom;
        rows[i] = q;
        for (long a = 0; a < k; a++) q[a] = (struct feature_node){(int)ids[a] + 1, vals[a]};
        qsort(q, (size_t)k, sizeof *q, cmp_node);
        q += k;
        *q++ = (struct feature_node){(int)f->n_feat + 1, 1.0};
        *q++ = (struct feature_node){-1, 0};
    }
    if (p->o->solver == KF_NLU_SOLVER_CS) {
        rc = fit_cs(p, idx, m, rows, f, err, errlen);
        goto out;
    }
    ovr_job_t job = {.p = p, .idx = idx, .m = m, .rows = rows, .f = f};
    atomic_init(&job.next, 0);
    atomic_init(&job.failed, 0);
    int nt = p->o->threads > 1 ? p->o->threads : 1;
    if (nt > 16) nt = 16;
    pthread_t th[16];
    int started = 0;
    for (int i = 1; i < nt; i++)
        if (pthread_create(&th[started], NULL, ovr_worker, &job) == 0) started++;
    ovr_worker(&job);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    if (atomic_load(&job.failed)) {
        set_err(err, errlen, "liblinear training failed");
        goto out;
    }
    rc = 0;
    goto out;
oom:
    set_err(err, errlen, "out of memory while training");
out:
    free(t.keys);
    free(t.df);
    free(t.last);
    free(nodes);
    free(rows);
    free(ids);
    free(vals);
    if (rc < 0) fitted_free(f);
    return rc;
}

/* Held-out margins through the quantised scorer the server uses, so CV
 * accuracy and the calibration include the int8 weights (scorer.h). */
static int score_rows(prep_t *p, const fitted_t *f, const size_t *idx, size_t m, float *out) {
    kf_nlu_vocab_t v = {f->vkeys, f->vids, f->vcap - 1};
    kf_nlu_scorer_t sc;
    if (kf_nlu_scorer_init(&sc, &v, f->idf, f->n_word, f->n_feat, f->W, p->n_class) < 0) return -1;
    int rc = 0;
    for (size_t i = 0; i < m && rc == 0; i++) {
        size_t r = idx[i];
        rc = kf_nlu_scorer_margins(&sc, &p->o->feat, p->h + p->off[r], p->off[r + 1] - p->off[r],
                                   out + r * p->n_class);
    }
    kf_nlu_scorer_free(&sc);
    return rc;
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Stratified fold assignment: shuffle each class, deal round-robin. */
static void assign_folds(const prep_t *p, int k, uint32_t *fold) {
    uint64_t s = 0x9E3779B97F4A7C15ull ^ p->o->seed;
    size_t *perm = malloc(p->n * sizeof *perm);
    if (!perm) { /* fall back to plain round-robin */
        for (size_t i = 0; i < p->n; i++) fold[i] = (uint32_t)(i % (size_t)k);
        return;
    }
    for (size_t i = 0; i < p->n; i++) perm[i] = i;
    for (size_t i = p->n; i > 1; i--) {
        size_t j = (size_t)(rng_next(&s) % i), t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    size_t deal = 0;
    for (uint32_t c = 0; c < p->n_class; c++)
        for (size_t i = 0; i < p->n; i++)
            if (p->y[perm[i]] == c) fold[perm[i]] = (uint32_t)(deal++ % (size_t)k);
    free(perm);
}

/* Out-of-fold margins for every row (n x n_class). */
static int cross_margins(prep_t *p, int k, float *oof, char *err, size_t errlen) {
    uint32_t *fold = malloc(p->n * sizeof *fold);
    size_t *tr = malloc(p->n * sizeof *tr), *te = malloc(p->n * sizeof *te);
    int rc = -1;
    if (!fold || !tr || !te) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    assign_folds(p, k, fold);
    for (int f = 0; f < k; f++) {
        size_t ntr = 0, nte = 0;
        for (size_t i = 0; i < p->n; i++) {
            if (fold[i] == (uint32_t)f) te[nte++] = i;
            else tr[ntr++] = i;
        }
        fitted_t ft;
        if (fit(p, tr, ntr, &ft, err, errlen) < 0) goto out;
        int s = score_rows(p, &ft, te, nte, oof);
        fitted_free(&ft);
        if (s < 0) {
            set_err(err, errlen, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    free(fold);
    free(tr);
    free(te);
    return rc;
}

static double nll(const prep_t *p, const float *mg, double t) {
    double sum = 0;
    for (size_t i = 0; i < p->n; i++) {
        const float *s = mg + i * p->n_class;
        float mx = s[0];
        for (uint32_t c = 1; c < p->n_class; c++)
            if (s[c] > mx) mx = s[c];
        double z = 0;
        for (uint32_t c = 0; c < p->n_class; c++) z += exp(t * (s[c] - mx));
        sum += log(z) - t * (s[p->y[i]] - mx);
    }
    return sum / (double)p->n;
}

/* Temperature minimising out-of-fold log-loss (convex in t): golden section on log t. */
static float fit_temperature(const prep_t *p, const float *mg) {
    double a = log(0.05), b = log(500.0), g = (sqrt(5.0) - 1) / 2;
    double c = b - g * (b - a), d = a + g * (b - a), fc = nll(p, mg, exp(c)), fd = nll(p, mg, exp(d));
    for (int it = 0; it < 40; it++) {
        if (fc < fd) {
            b = d, d = c, fd = fc;
            c = b - g * (b - a);
            fc = nll(p, mg, exp(c));
        } else {
            a = c, c = d, fc = fd;
            d = a + g * (b - a);
            fd = nll(p, mg, exp(d));
        }
    }
    return (float)exp((a + b) / 2);
}

typedef struct {
    float conf;
    int gain_in;  /* 1 if accepting this row is a correct in-scope answer */
    int gain_oos; /* 1 if rejecting this row is a correct OOS answer */
} cand_t;

static int cmp_cand(const void *a, const void *b) {
    float x = ((const cand_t *)a)->conf, y = ((const cand_t *)b)->conf;
    return (x > y) - (x < y);
}

/* Threshold maximising in-scope hits + oos_weight * OOS hits on
 * out-of-fold predictions; rows rejected are those whose top class is oos
 * or whose kf_nlu_scope_conf is below the threshold. */
static float fit_threshold(const prep_t *p, const float *mg, float t) {
    if (p->oos < 0) return 0.0f;
    cand_t *cs = malloc(p->n * sizeof *cs);
    float *pr = malloc(p->n_class * sizeof *pr);
    if (!cs || !pr) {
        free(cs);
        free(pr);
        return 0.0f;
    }
    size_t m = 0;
    for (size_t i = 0; i < p->n; i++) {
        const float *s = mg + i * p->n_class;
        uint32_t best = 0, top;
        for (uint32_t c = 1; c < p->n_class; c++)
            if (s[c] > s[best]) best = c;
        if ((long)best == p->oos) continue; /* rejected whatever the threshold */
        memcpy(pr, s, p->n_class * sizeof *pr);
        kf_nlu_softmax(pr, p->n_class, t);
        float conf = kf_nlu_scope_conf(s, pr, p->n_class, (uint32_t)p->oos, t, &top);
        cs[m++] = (cand_t){conf, p->y[i] == top, (long)p->y[i] == p->oos};
    }
    qsort(cs, m, sizeof *cs, cmp_cand);
    double w = p->o->oos_weight, score = 0, best = -1;
    for (size_t i = 0; i < m; i++) score += cs[i].gain_in;
    float thr = 0.0f;
    best = score;
    for (size_t i = 0; i < m; i++) { /* threshold just above cs[i].conf rejects rows 0..i */
        score += w * cs[i].gain_oos - cs[i].gain_in;
        if (score > best && (i + 1 == m || cs[i + 1].conf > cs[i].conf)) {
            best = score;
            thr = i + 1 < m ? (cs[i].conf + cs[i + 1].conf) / 2 : cs[i].conf + 1e-6f;
        }
    }
    free(cs);
    free(pr);
    return thr;
}

static void cv_scores(const prep_t *p, const float *mg, float t, float thr, kf_nlu_scores_t *out) {
    size_t L = p->n_class + (p->oos < 0);
    long oos = p->oos >= 0 ? p->oos : (long)p->n_class;
    kf_nlu_confusion_t c;
    float *pr = malloc(p->n_class * sizeof *pr);
    if (!pr || kf_nlu_confusion_init(&c, L, oos) < 0) {
        free(pr);
        memset(out, 0, sizeof *out);
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        const float *s = mg + i * p->n_class;
        memcpy(pr, s, p->n_class * sizeof *pr);
        kf_nlu_softmax(pr, p->n_class, t);
        uint32_t best = 0, top;
        for (uint32_t c2 = 1; c2 < p->n_class; c2++)
            if (pr[c2] > pr[best]) best = c2;
        uint32_t oc = p->oos >= 0 ? (uint32_t)p->oos : KF_NLU_NO_CLASS;
        float conf = kf_nlu_scope_conf(s, pr, p->n_class, oc, t, &top);
        size_t pred = (long)best == p->oos || conf < thr ? (size_t)oos : best;
        kf_nlu_confusion_add(&c, p->y[i], pred);
    }
    kf_nlu_confusion_scores(&c, out);
    if (p->oos < 0) out->oos_recall = out->oos_precision = 0, out->n_oos = 0;
    kf_nlu_confusion_free(&c);
    free(pr);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Labels, classes and per-row feature hashes. */
static int prepare(prep_t *p, const kf_nlu_dataset_t *d, char *err, size_t errlen) {
    p->labels = malloc(d->n * sizeof *p->labels);
    p->y = malloc(d->n * sizeof *p->y);
    p->off = malloc((d->n + 1) * sizeof *p->off);
    if (!p->labels || !p->y || !p->off) goto oom;
    memcpy(p->labels, d->label, d->n * sizeof *p->labels);
    qsort(p->labels, d->n, sizeof *p->labels, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < d->n; i++)
        if (u == 0 || strcmp(p->labels[u - 1], p->labels[i]) != 0) p->labels[u++] = p->labels[i];
    p->n_class = (uint32_t)u;
    p->oos = -1;
    for (size_t i = 0; i < u; i++) {
        if (!p->labels[i][0]) {
            set_err(err, errlen, "empty label in training data");
            return -1;
        }
        if (strcmp(p->labels[i], KF_NLU_OOS) == 0) p->oos = (long)i;
    }
    if (u < 2) {
        snprintf(err, errlen, "training data has %zu class%s; at least two are needed", u, u == 1 ? "" : "es");
        return -1;
    }
    for (size_t i = 0; i < d->n; i++) {
        char **hit = bsearch(&d->label[i], p->labels, u, sizeof *p->labels, cmp_str);
        p->y[i] = (uint32_t)(hit - p->labels);
    }
    size_t cap = 1 << 16, n = 0;
    p->h = malloc(cap * sizeof *p->h);
    if (!p->h) goto oom;
    int32_t *cp = NULL;
    size_t cpcap = 0;
    for (size_t i = 0; i < d->n; i++) {
        size_t tl = strlen(d->text[i]);
        char e2[96];
        long nc = kf_nlu_normalize_cp(d->text[i], tl, cp, cpcap, e2, sizeof e2);
        if (nc >= 0 && (size_t)nc > cpcap) {
            cpcap = (size_t)nc * 2;
            int32_t *ncp = realloc(cp, cpcap * sizeof *cp);
            if (!ncp) {
                free(cp);
                goto oom;
            }
            cp = ncp;
            nc = kf_nlu_normalize_cp(d->text[i], tl, cp, cpcap, e2, sizeof e2);
        }
        if (nc < 0) {
            free(cp);
            snprintf(err, errlen, "training row %zu: %s", i + 1, e2);
            return -1;
        }
        size_t bound = kf_nlu_extract_bound(&p->o->feat, (size_t)nc);
        if (n + bound > cap) {
            while (n + bound > cap) cap *= 2;
            uint64_t *nh = realloc(p->h, cap * sizeof *p->h);
            if (!nh) {
                free(cp);
                goto oom;
            }
            p->h = nh;
        }
        p->off[i] = n;
        n += kf_nlu_extract(&p->o->feat, cp, (size_t)nc, p->h + n, bound);
    }
    p->off[d->n] = n;
    free(cp);
    return 0;
oom:
    set_err(err, errlen, "out of memory");
    return -1;
}

kf_nlu_model_t *kf_nlu_train(const kf_nlu_dataset_t *d, const kf_nlu_train_opts_t *o, int cv_folds,
                             kf_nlu_cv_report_t *rep, char *err, size_t errlen) {
    prep_t p = {.o = o, .n = d->n};
    pthread_mutex_init(&p.prog_lock, NULL);
    kf_nlu_model_t *model = NULL;
    float *oof = NULL;
    fitted_t f = {0};
    set_print_string_function(silent);
    if (d->n == 0) {
        set_err(err, errlen, "no training data");
        goto out;
    }
    if (prepare(&p, d, err, errlen) < 0) goto out;
    int folds = cv_folds >= 2 ? cv_folds : (o->calib_folds >= 2 ? o->calib_folds : 0);
    if (folds > 0 && (size_t)folds > d->n) folds = (int)d->n;
    p.jobs_total = (size_t)(folds + 1) * p.n_class;
    float temperature = DEFAULT_TEMPERATURE, threshold = o->threshold >= 0 ? o->threshold : 0.0f;
    if (folds >= 2) {
        double t0 = now_s();
        oof = malloc(d->n * p.n_class * sizeof *oof);
        if (!oof) {
            set_err(err, errlen, "out of memory");
            goto out;
        }
        if (cross_margins(&p, folds, oof, err, errlen) < 0) goto out;
        temperature = fit_temperature(&p, oof);
        if (o->threshold < 0) threshold = fit_threshold(&p, oof, temperature);
        if (rep && cv_folds >= 2) {
            rep->folds = folds;
            rep->temperature = temperature;
            rep->threshold = threshold;
            cv_scores(&p, oof, temperature, threshold, &rep->scores);
            rep->seconds = now_s() - t0;
        }
    }
    size_t *all = malloc(d->n * sizeof *all);
    if (!all) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < d->n; i++) all[i] = i;
    int rc = fit(&p, all, d->n, &f, err, errlen);
    free(all);
    if (rc < 0) goto out;
    kf_nlu_model_parts_t parts = {
        .cfg = o->feat,
        .n_class = p.n_class,
        .n_feat = f.n_feat,
        .n_word = f.n_word,
        .oos_class = p.oos >= 0 ? (uint32_t)p.oos : KF_NLU_NO_CLASS,
        .temperature = temperature,
        .threshold = threshold,
        .labels = (const char *const *)p.labels,
        .vkeys = f.vkeys,
        .vids = f.vids,
        .vcap = f.vcap,
        .idf = f.idf,
        .w = f.W,
        .created = (uint64_t)time(NULL),
    };
    model = kf_nlu_model_build(&parts, err, errlen);
out:
    fitted_free(&f);
    free(oof);
    free(p.labels);
    free(p.y);
    free(p.h);
    free(p.off);
    pthread_mutex_destroy(&p.prog_lock);
    return model;
}
