/* model.c — the model in memory: file writer, loader and verifier (format
 * in model.h), and per-query scoring/prediction used by the server. */
#include "nlu/model.h"

#include <math.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "nlu/classifier.h"
#include "nlu/nlu.h"
#include "nlu/normalize.h"

static const char MAGIC[8] = {'K', 'E', 'F', 'U', 'N', 'L', 'U', 0};
#define HDR_LEN 32
#define SEC_LEN 24
#define SUM_LEN 32
#define N_SEC 6

#define TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
enum {
    T_CONF = TAG('C', 'O', 'N', 'F'),
    T_LABL = TAG('L', 'A', 'B', 'L'),
    T_VKEY = TAG('V', 'K', 'E', 'Y'),
    T_VIDS = TAG('V', 'I', 'D', 'S'),
    T_IDF = TAG('I', 'D', 'F', '_'),
    T_WGHT = TAG('W', 'G', 'H', 'T'),
};

/* CONF section, stored as is (little-endian hosts only, checked at load). */
typedef struct {
    uint32_t n_class, n_feat, n_word, oos_class, vcap, reserved;
    float temperature, threshold;
    kf_nlu_feat_cfg_t cfg;
} conf_t;
_Static_assert(sizeof(conf_t) == 48, "conf_t layout");

static void set_err(char *err, size_t errlen, const char *fmt, const char *a) {
    if (err && errlen) snprintf(err, errlen, fmt, a);
}

static int little_endian(void) {
    const uint16_t x = 1;
    return *(const unsigned char *)&x == 1;
}

static size_t align8(size_t x) { return (x + 7) & ~(size_t)7; }

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

kf_nlu_model_t *kf_nlu_model_build(const kf_nlu_model_parts_t *p, char *err, size_t errlen) {
    if (!little_endian()) {
        set_err(err, errlen, "%s", "model files are little-endian; this host is not");
        return NULL;
    }
    if (p->n_class < 2 || p->vcap == 0 || (p->vcap & (p->vcap - 1)) || p->n_word > p->n_feat) {
        set_err(err, errlen, "%s", "invalid model parts");
        return NULL;
    }
    size_t lab_len = 0;
    for (uint32_t i = 0; i < p->n_class; i++) lab_len += strlen(p->labels[i]) + 1;
    size_t len_of[N_SEC] = {sizeof(conf_t), lab_len, (size_t)p->vcap * 8, (size_t)p->vcap * 4,
                            (size_t)p->n_feat * 4, ((size_t)p->n_feat + 1) * p->n_class * 4};
    uint32_t tags[N_SEC] = {T_CONF, T_LABL, T_VKEY, T_VIDS, T_IDF, T_WGHT};
    size_t off[N_SEC], pos = HDR_LEN + N_SEC * SEC_LEN;
    for (int s = 0; s < N_SEC; s++) {
        pos = align8(pos);
        off[s] = pos;
        pos += len_of[s];
    }
    size_t total = align8(pos) + SUM_LEN;
    unsigned char *b = calloc(1, total);
    if (!b) {
        set_err(err, errlen, "%s", "out of memory");
        return NULL;
    }
    memcpy(b, MAGIC, 8);
    put32(b + 8, KF_NLU_MODEL_FORMAT);
    put32(b + 12, N_SEC);
    put64(b + 16, p->created);
    put64(b + 24, total);
    for (int s = 0; s < N_SEC; s++) {
        unsigned char *e = b + HDR_LEN + s * SEC_LEN;
        put32(e, tags[s]);
        put64(e + 8, off[s]);
        put64(e + 16, len_of[s]);
    }
    conf_t c = {p->n_class, p->n_feat, p->n_word, p->oos_class, p->vcap, 0, p->temperature, p->threshold, p->cfg};
    memcpy(b + off[0], &c, sizeof c);
    unsigned char *q = b + off[1];
    for (uint32_t i = 0; i < p->n_class; i++) {
        size_t l = strlen(p->labels[i]) + 1;
        memcpy(q, p->labels[i], l);
        q += l;
    }
    memcpy(b + off[2], p->vkeys, len_of[2]);
    memcpy(b + off[3], p->vids, len_of[3]);
    memcpy(b + off[4], p->idf, len_of[4]);
    memcpy(b + off[5], p->w, len_of[5]);
    if (sodium_init() < 0) {
        free(b);
        set_err(err, errlen, "%s", "libsodium failed to initialise");
        return NULL;
    }
    crypto_generichash(b + total - SUM_LEN, SUM_LEN, b, total - SUM_LEN, NULL, 0);
    return kf_nlu_model_from_blob(b, total, err, errlen);
}

static int find_section(const unsigned char *b, uint32_t n_sec, size_t body, uint32_t tag, size_t want,
                        const unsigned char **out, size_t *len) {
    for (uint32_t s = 0; s < n_sec; s++) {
        const unsigned char *e = b + HDR_LEN + (size_t)s * SEC_LEN;
        if (get32(e) != tag) continue;
        uint64_t o = get64(e + 8), l = get64(e + 16);
        if (o % 8 || o > body || l > body - o) return -1;
        if (want != (size_t)-1 && l != want) return -1;
        *out = b + o;
        *len = (size_t)l;
        return 0;
    }
    return -1;
}

static kf_nlu_model_t *fail(kf_nlu_model_t *m, unsigned char *blob, char *err, size_t errlen, const char *msg) {
    set_err(err, errlen, "%s", msg);
    if (m) {
        kf_nlu_scorer_free(&m->scorer);
        free(m->labels);
        free(m);
    }
    free(blob);
    return NULL;
}

kf_nlu_model_t *kf_nlu_model_from_blob(unsigned char *b, size_t len, char *err, size_t errlen) {
    if (!little_endian()) return fail(NULL, b, err, errlen, "model files are little-endian; this host is not");
    if (len < 8 || memcmp(b, MAGIC, 8) != 0) return fail(NULL, b, err, errlen, "not a kefu model file (bad magic)");
    if (len < HDR_LEN + SUM_LEN) return fail(NULL, b, err, errlen, "model file is truncated (header incomplete)");
    uint32_t ver = get32(b + 8);
    if (ver != KF_NLU_MODEL_FORMAT) {
        char msg[96];
        snprintf(msg, sizeof msg, "unsupported model format version %u (this build reads %u)", ver,
                 KF_NLU_MODEL_FORMAT);
        return fail(NULL, b, err, errlen, msg);
    }
    uint64_t total = get64(b + 24);
    if (total != len) {
        char msg[128];
        snprintf(msg, sizeof msg, "model file is %s: header says %llu bytes, file has %zu",
                 total > len ? "truncated" : "corrupted (trailing or missing data)", (unsigned long long)total, len);
        return fail(NULL, b, err, errlen, msg);
    }
    unsigned char sum[SUM_LEN];
    if (sodium_init() < 0) return fail(NULL, b, err, errlen, "libsodium failed to initialise");
    crypto_generichash(sum, SUM_LEN, b, len - SUM_LEN, NULL, 0);
    if (sodium_memcmp(sum, b + len - SUM_LEN, SUM_LEN) != 0)
        return fail(NULL, b, err, errlen, "model file is corrupted (checksum mismatch)");
    uint32_t n_sec = get32(b + 12);
    size_t body = len - SUM_LEN;
    if (n_sec > 64 || HDR_LEN + (size_t)n_sec * SEC_LEN > body)
        return fail(NULL, b, err, errlen, "model file is corrupted (section table)");

    kf_nlu_model_t *m = calloc(1, sizeof *m);
    if (!m) return fail(NULL, b, err, errlen, "out of memory");
    const unsigned char *p;
    size_t l;
    conf_t c;
    if (find_section(b, n_sec, body, T_CONF, sizeof c, &p, &l) < 0)
        return fail(m, b, err, errlen, "model file has no valid CONF section");
    memcpy(&c, p, sizeof c);
    if (c.n_class < 2 || c.n_class > 1000000 || c.n_word > c.n_feat || c.vcap == 0 || (c.vcap & (c.vcap - 1)) ||
        c.vcap < c.n_feat || (c.oos_class != KF_NLU_NO_CLASS && c.oos_class >= c.n_class) ||
        c.cfg.char_max > 16 || c.cfg.han_max > 16 || c.cfg.word_max > 3 ||
        c.cfg.word_pairs > 32)
        return fail(m, b, err, errlen, "model file has an inconsistent CONF section");
    m->blob = b;
    m->blob_len = len;
    m->cfg = c.cfg;
    m->n_class = c.n_class;
    m->n_feat = c.n_feat;
    m->n_word = c.n_word;
    m->oos_class = c.oos_class;
    m->temperature = c.temperature;
    m->threshold = c.threshold;
    m->created = get64(b + 16);

    if (find_section(b, n_sec, body, T_LABL, (size_t)-1, &p, &l) < 0)
        return fail(m, b, err, errlen, "model file has no valid LABL section");
    m->labels = calloc(c.n_class, sizeof *m->labels);
    if (!m->labels) return fail(m, b, err, errlen, "out of memory");
    const unsigned char *q = p, *end = p + l;
    for (uint32_t i = 0; i < c.n_class; i++) {
        const unsigned char *z = memchr(q, 0, (size_t)(end - q));
        if (!z || z == q) return fail(m, b, err, errlen, "model file has a malformed LABL section");
        m->labels[i] = (const char *)q;
        q = z + 1;
    }
    if (find_section(b, n_sec, body, T_VKEY, (size_t)c.vcap * 8, &p, &l) < 0)
        return fail(m, b, err, errlen, "model file has no valid VKEY section");
    m->vocab.keys = (const uint64_t *)(const void *)p;
    m->vocab.mask = c.vcap - 1;
    if (find_section(b, n_sec, body, T_VIDS, (size_t)c.vcap * 4, &p, &l) < 0)
        return fail(m, b, err, errlen, "model file has no valid VIDS section");
    m->vocab.ids = (const uint32_t *)(const void *)p;
    size_t used = 0;
    for (uint32_t s = 0; s < c.vcap; s++) {
        if (m->vocab.keys[s] == 0) continue;
        used++;
        if (m->vocab.ids[s] >= c.n_feat) return fail(m, b, err, errlen, "model file has a bad vocabulary id");
    }
    if (used != c.n_feat || used >= c.vcap) return fail(m, b, err, errlen, "model file has an inconsistent vocabulary");
    if (find_section(b, n_sec, body, T_IDF, (size_t)c.n_feat * 4, &p, &l) < 0)
        return fail(m, b, err, errlen, "model file has no valid IDF_ section");
    m->idf = (const float *)(const void *)p;
    if (find_section(b, n_sec, body, T_WGHT, ((size_t)c.n_feat + 1) * c.n_class * 4, &p, &l) < 0)
        return fail(m, b, err, errlen, "model file has no valid WGHT section");
    m->w = (const float *)(const void *)p;
    if (kf_nlu_scorer_init(&m->scorer, &m->vocab, m->idf, c.n_word, c.n_feat, m->w, c.n_class) < 0)
        return fail(m, b, err, errlen, "out of memory");

    char hex[2 * SUM_LEN + 1];
    sodium_bin2hex(hex, sizeof hex, b + len - SUM_LEN, SUM_LEN);
    time_t t = (time_t)m->created;
    struct tm tm;
    char ts[24] = "";
    if (gmtime_r(&t, &tm)) strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(m->version, sizeof m->version, "%.12s-%s", hex, ts);
    return m;
}

kf_nlu_model_t *kf_nlu_model_load(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err && errlen) snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        set_err(err, errlen, "%s: not a regular file", path);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    unsigned char *b = malloc(len ? len : 1);
    if (!b || fread(b, 1, len, f) != len) {
        if (err && errlen) snprintf(err, errlen, "%s: %s", path, b ? "read error" : "out of memory");
        free(b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    char e2[200];
    kf_nlu_model_t *m = kf_nlu_model_from_blob(b, len, e2, sizeof e2);
    if (!m && err && errlen) snprintf(err, errlen, "%s: %s", path, e2);
    return m;
}

int kf_nlu_model_save(const kf_nlu_model_t *m, const char *path, char *err, size_t errlen) {
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (!tmp) {
        set_err(err, errlen, "%s", "out of memory");
        return -1;
    }
    snprintf(tmp, pl + 16, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(m->blob, 1, m->blob_len, f) == m->blob_len;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        if (err && errlen) snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

void kf_nlu_model_free(kf_nlu_model_t *m) {
    if (!m) return;
    kf_nlu_scorer_free(&m->scorer);
    free(m->labels);
    free(m->blob);
    free(m);
}

const char *kf_nlu_model_version(const kf_nlu_model_t *m) { return m ? m->version : ""; }

size_t kf_nlu_model_n_intents(const kf_nlu_model_t *m) {
    if (!m) return 0;
    return m->n_class - (m->oos_class != KF_NLU_NO_CLASS);
}

size_t kf_nlu_model_n_labels(const kf_nlu_model_t *m) { return m ? m->n_class : 0; }

const char *kf_nlu_model_label(const kf_nlu_model_t *m, size_t i) {
    return m && i < m->n_class ? m->labels[i] : NULL;
}

long kf_nlu_model_label_index(const kf_nlu_model_t *m, const char *label) {
    size_t lo = 0, hi = m->n_class;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(m->labels[mid], label);
        if (c == 0) return (long)mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* ------------------------------------------------------------ scoring */

/* On-stack scratch.  STACK_H covers the hash bound (kf_nlu_extract_bound:
 * about 51 per code point with the default features) of a 200-code-point
 * /v1/intent query, 80 KiB: with 2048 most Banking77 queries (60 code points
 * make 3066) took a 24 KiB malloc per request, 4 % of the server's CPU with
 * the consolidation it triggered.  Only the part written is touched. */
#define STACK_CP 512
#define STACK_H 10240
#define STACK_CLASS 512


/* s += x * row over n floats: the float reference path (kf_nlu_margins),
 * which queries no longer take (they use the int8 scorer, scorer.h).
 * Four-wide vector operations (GCC/Clang vector extension, plain SSE2 on
 * x86-64) with unaligned loads via memcpy; GCC leaves the plain loop scalar
 * at -O2. */
typedef float v4f __attribute__((vector_size(16)));

static inline void axpy(float *restrict s, const float *restrict row, float x, uint32_t n) {
    v4f xv = {x, x, x, x};
    uint32_t c = 0;
    for (; c + 4 <= n; c += 4) {
        v4f a, b;
        memcpy(&a, s + c, sizeof a);
        memcpy(&b, row + c, sizeof b);
        a += xv * b;
        memcpy(s + c, &a, sizeof a);
    }
    for (; c < n; c++) s[c] += x * row[c];
}

int kf_nlu_margins(const kf_nlu_feat_cfg_t *cfg, const kf_nlu_vocab_t *v, const float *idf, uint32_t n_word,
                       uint32_t n_feat, const float *W, uint32_t n_class, const uint64_t *h, size_t nh,
                       float *scores) {
    uint32_t st_ids[STACK_H];
    float st_vals[STACK_H];
    uint32_t *ids = st_ids;
    float *vals = st_vals;
    if (nh > STACK_H) {
        ids = malloc(nh * sizeof *ids);
        vals = malloc(nh * sizeof *vals);
        if (!ids || !vals) {
            free(ids);
            free(vals);
            return -1;
        }
    }
    long m = kf_nlu_vectorize(cfg, v, idf, n_word, h, nh, ids, vals);
    const float *bias = W + (size_t)n_feat * n_class;
    for (uint32_t c = 0; c < n_class; c++) scores[c] = bias[c];
    /* Rows are scattered over a matrix far bigger than the caches: asking for
     * all of them up front lets the memory system fetch them in parallel
     * instead of one stall per feature. */
    for (long k = 0; k < m; k++) {
        const char *row = (const char *)(W + (size_t)ids[k] * n_class);
        for (size_t b = 0; b < (size_t)n_class * sizeof *W; b += 64) __builtin_prefetch(row + b);
    }
    for (long k = 0; k < m; k++) axpy(scores, W + (size_t)ids[k] * n_class, vals[k], n_class);
    if (ids != st_ids) {
        free(ids);
        free(vals);
    }
    return m < 0 ? -1 : 0;
}

void kf_nlu_softmax(float *s, uint32_t n, float t) {
    float mx = s[0];
    for (uint32_t c = 1; c < n; c++)
        if (s[c] > mx) mx = s[c];
    float sum = 0;
    for (uint32_t c = 0; c < n; c++) {
        s[c] = expf(t * (s[c] - mx));
        sum += s[c];
    }
    for (uint32_t c = 0; c < n; c++) s[c] /= sum;
}

/* Normalise + extract into hashes; *heap_* are set when buffers had to be
 * allocated.  Returns the hash count or -1. */
static long text_hashes(const kf_nlu_feat_cfg_t *cfg, const char *text, size_t len, int32_t *cp_st, size_t cp_cap,
                        uint64_t *h_st, size_t h_cap, uint64_t **hout, void **heap_cp, void **heap_h, char *err,
                        size_t errlen) {
    *heap_cp = *heap_h = NULL;
    int32_t *cp = cp_st;
    long n = kf_nlu_normalize_cp(text, len, cp, cp_cap, err, errlen);
    if (n < 0) return -1;
    if ((size_t)n > cp_cap) {
        cp = malloc((size_t)n * sizeof *cp);
        if (!cp) goto oom;
        *heap_cp = cp;
        long n2 = kf_nlu_normalize_cp(text, len, cp, (size_t)n, err, errlen);
        if (n2 < 0) return -1;
        n = n2;
    }
    uint64_t *h = h_st;
    size_t bound = kf_nlu_extract_bound(cfg, (size_t)n);
    if (bound > h_cap) {
        h = malloc(bound * sizeof *h);
        if (!h) goto oom;
        *heap_h = h;
    }
    *hout = h;
    return (long)kf_nlu_extract(cfg, cp, (size_t)n, h, bound);
oom:
    set_err(err, errlen, "%s", "out of memory");
    return -1;
}

/* Margins of text into s (n_class floats). */
static int text_margins(const kf_nlu_model_t *m, const char *text, size_t len, float *s, char *err, size_t errlen) {
    int32_t cp[STACK_CP];
    uint64_t hs[STACK_H], *h;
    void *hc, *hh;
    long nh = text_hashes(&m->cfg, text, len, cp, STACK_CP, hs, STACK_H, &h, &hc, &hh, err, errlen);
    int rc = -1;
    if (nh >= 0) {
        rc = kf_nlu_scorer_margins(&m->scorer, &m->cfg, h, (size_t)nh, s);
        if (rc < 0) set_err(err, errlen, "%s", "out of memory");
    }
    free(hc);
    free(hh);
    return rc;
}

int kf_nlu_predict_probs(const kf_nlu_model_t *m, const char *text, size_t len, float *probs, char *err,
                         size_t errlen) {
    if (text_margins(m, text, len, probs, err, errlen) < 0) return -1;
    kf_nlu_softmax(probs, m->n_class, m->temperature);
    return 0;
}

float kf_nlu_scope_conf(const float *s, const float *pr, uint32_t n_class, uint32_t oos_class, float t,
                        uint32_t *top) {
    uint32_t b = n_class;
    for (uint32_t c = 0; c < n_class; c++)
        if (c != oos_class && (b == n_class || s[c] > s[b])) b = c;
    if (b == n_class) b = 0; /* only class is oos: cannot happen for a built model */
    *top = b;
    if (oos_class >= n_class) return pr[b];
    return 1.0f / (1.0f + expf(-t * (s[b] - s[oos_class])));
}

int kf_nlu_predict(const kf_nlu_model_t *m, const char *text, size_t len, kf_nlu_result_t *out, char *err,
                   size_t errlen) {
    float st[2 * STACK_CLASS], *p = st;
    memset(out, 0, sizeof *out);
    if (m->n_class > STACK_CLASS && !(p = malloc(2 * m->n_class * sizeof *p))) {
        set_err(err, errlen, "%s", "out of memory");
        return -1;
    }
    float *mg = p + m->n_class;
    if (text_margins(m, text, len, mg, err, errlen) < 0) {
        if (p != st) free(p);
        return -1;
    }
    /* kf_nlu_softmax inlined with the same arithmetic (identical
     * probabilities), so that one pass also finds the first maximal margin
     * -- the top class kf_nlu_scope_conf would search for again when the
     * model has no oos class -- and the divisions run four at a time (IEEE
     * division is exact per lane).  With the top-3 scan below this took
     * softmax + scope_conf + predict from 4.1 % to 2.3 % of the server's CPU
     * per Banking77 request (perf, kefu pinned under wrk). */
    const uint32_t n = m->n_class;
    const float t = m->temperature;
    /* The maximum over four independent chains (one chain waited on each
     * compare), then its first index: the same class the sequential strict
     * '>' scan picks. */
    float m0 = mg[0], m1 = mg[0], m2 = mg[0], m3 = mg[0];
    uint32_t i4 = 0;
    for (; i4 + 4 <= n; i4 += 4) {
        m0 = mg[i4] > m0 ? mg[i4] : m0;
        m1 = mg[i4 + 1] > m1 ? mg[i4 + 1] : m1;
        m2 = mg[i4 + 2] > m2 ? mg[i4 + 2] : m2;
        m3 = mg[i4 + 3] > m3 ? mg[i4 + 3] : m3;
    }
    for (; i4 < n; i4++) m0 = mg[i4] > m0 ? mg[i4] : m0;
    m0 = m1 > m0 ? m1 : m0;
    m2 = m3 > m2 ? m3 : m2;
    float mx = m2 > m0 ? m2 : m0;
    uint32_t best = 0;
    while (best + 1 < n && !(mg[best] == mx)) best++;
    float sum = 0;
    for (uint32_t c = 0; c < n; c++) {
        p[c] = expf(t * (mg[c] - mx));
        sum += p[c];
    }
    v4f sv = {sum, sum, sum, sum};
    uint32_t c = 0;
    for (; c + 4 <= n; c += 4) {
        v4f a;
        memcpy(&a, p + c, sizeof a);
        a /= sv;
        memcpy(p + c, &a, sizeof a);
    }
    for (; c < n; c++) p[c] /= sum;
    /* Insertion into a descending top 3 kept in registers (the array form
     * reloaded it from the stack on every class); once full, a class that
     * does not beat the third cannot beat the others (finite
     * probabilities), so the same classes come out in the same order. */
    int t0 = -1, t1 = -1, t2 = -1;
    float v0 = 0, v1 = 0, v2 = 0;
    for (c = 0; c < n; c++) {
        float x = p[c];
        if (t2 >= 0 && !(x > v2)) continue;
        if (t0 < 0 || x > v0) {
            t2 = t1, v2 = v1, t1 = t0, v1 = v0, t0 = (int)c, v0 = x;
        } else if (t1 < 0 || x > v1) {
            t2 = t1, v2 = v1, t1 = (int)c, v1 = x;
        } else {
            t2 = (int)c, v2 = x;
        }
    }
    const int top[3] = {t0, t1, t2};
    for (int k = 0; k < 3 && top[k] >= 0; k++) {
        out->alts[k].intent = m->labels[top[k]];
        out->alts[k].confidence = p[top[k]];
        out->n_alts = k + 1;
    }
    out->intent = m->labels[top[0]];
    out->confidence = p[top[0]];
    uint32_t best_in;
    float conf = m->oos_class < n ? kf_nlu_scope_conf(mg, p, n, m->oos_class, t, &best_in) : p[best];
    if ((uint32_t)top[0] == m->oos_class || conf < m->threshold) {
        out->out_of_scope = 1;
        out->intent = m->oos_class != KF_NLU_NO_CLASS ? m->labels[m->oos_class] : KF_NLU_OOS;
    }
    if (p != st) free(p);
    return 0;
}
