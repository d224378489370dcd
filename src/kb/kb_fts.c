/* kb_fts.c — the FAQ search index on SQLite FTS5 (see kb.h for the model).
 *
 * Layout: one row per (entry, language) — the entry's questions pooled, so
 * a paraphrase can match words spread over several variants — with the
 * entry's tags and answer as lower-weighted columns.  Word languages get
 * table wN (porter unicode61 for English); CJK languages get tN (trigram)
 * and gN (pre-split bigrams + a unigram column, see kb_query.h).  rowid is
 * the entry's index + 1.
 *
 * Ranking is BM25 computed by kf_bm25(), an auxiliary function registered on
 * every connection that reproduces FTS5's bm25() exactly (a test checks it)
 * and also yields the score's normaliser (the sum of the query's IDF).
 *
 * Concurrency: the index is built once, serialised, and every connection is
 * a private read-only copy (sqlite3_deserialize) kept in a pool; a search
 * borrows one for its duration.  No connection is ever used by two threads
 * at once, so connections are opened with SQLITE_OPEN_NOMUTEX. */
#include "kb/kb.h"

#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kb/kb_query.h"
#include "nlu/normalize.h"
#include "util/buf.h"

#define CANDIDATES 64    /* rows read per table and query */
#define QUERY_MAX 2048   /* bytes of customer text searched; the API allows 200 characters */

/* bm25() column weights.  Questions carry the meaning; tags and answers
 * help a paraphrase that uses the answer's words but must not outrank a
 * question that says the same thing. */
#define W_WORD "1.0, 0.5, 0.2" /* q, tags, a */
#define W_TRI "1.0, 0.2"       /* q, a */
#define W_GRAM "1.0, 1.0, 0.2" /* q, qu (only reached by a filtered lone character), a */

typedef struct {
    const char *lang;
    int cjk;
    double rows; /* rows in each of the language's tables, for IDF of a query with no hit */
} idx_t;

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt **st; /* 2 per index: word or trigram, then bigram (NULL for word languages) */
    double *raw[2];    /* per entry, per table of the index being searched */
    double *best, *best_raw;
    int *best_idx;
    size_t *touched, n_touched;
    unsigned char *mark; /* bit 1: in touched this index; bit 2: has a best */
    size_t *cand, n_cand;
    double info; /* kf_bm25()'s IDF sum of the last query */
    struct conn *next;
} conn_t;

struct kf_kb {
    kf_faq_t *faq;
    size_t n_entries;
    idx_t *idx;
    size_t n_idx;
    unsigned char *image; /* serialised database (memory mode) */
    sqlite3_int64 image_len;
    char *path; /* file mode */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    conn_t *idle, **all;
    size_t n_all, cap_all, max_conns;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* FTS5's own IDF (fts5_aux.c): never negative, so a word in most rows adds
 * (almost) nothing instead of subtracting. */
static double idf(double rows, double hits) {
    double v = log((rows - hits + 0.5) / (hits + 0.5));
    return v > 0 ? v : 1e-6;
}

static int count_hit(const Fts5ExtensionApi *api, Fts5Context *fts, void *ud) {
    (void)api;
    (void)fts;
    ++*(sqlite3_int64 *)ud;
    return SQLITE_OK;
}

#define BM25_K1 1.2
#define BM25_B 0.75

typedef struct {
    int n;
    double avgdl, *idf, *freq;
} bm25_t;

/* kf_bm25(table, weight...): FTS5's bm25() (same IDF, k1, b, column
 * weights and document length), positive, plus one by-product: the sum of
 * the query phrases' IDF, which is the BM25 of an average-length row that
 * holds each phrase once in a weight-1 column — the normaliser of the score.
 * It is left in the connection (xUserData).  bm25() and a separate IDF
 * function would each run one sub-query per phrase; doing both here halves
 * the cost of a search. */
static void kf_bm25_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nval,
                       sqlite3_value **vals) {
    bm25_t *d = api->xGetAuxdata(fts, 0);
    int rc = SQLITE_OK;
    if (!d) {
        int n = api->xPhraseCount(fts);
        sqlite3_int64 rows = 0, toks = 0;
        if (!(d = sqlite3_malloc64(sizeof *d + 2 * (size_t)(n ? n : 1) * sizeof(double)))) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
        d->n = n;
        d->idf = (double *)(d + 1);
        d->freq = d->idf + (n ? n : 1);
        rc = api->xRowCount(fts, &rows);
        if (rc == SQLITE_OK) rc = api->xColumnTotalSize(fts, -1, &toks);
        d->avgdl = rows > 0 && toks > 0 ? (double)toks / (double)rows : 1;
        double sum = 0;
        for (int i = 0; rc == SQLITE_OK && i < n; i++) {
            sqlite3_int64 hits = 0;
            rc = api->xQueryPhrase(fts, i, &hits, count_hit);
            sum += d->idf[i] = idf((double)rows, (double)hits);
        }
        if (rc == SQLITE_OK) rc = api->xSetAuxdata(fts, d, sqlite3_free);
        else sqlite3_free(d);
        if (rc != SQLITE_OK) {
            sqlite3_result_error_code(ctx, rc);
            return;
        }
        *(double *)api->xUserData(fts) = sum;
    }
    int ninst = 0, ntok = 0;
    for (int i = 0; i < d->n; i++) d->freq[i] = 0;
    rc = api->xInstCount(fts, &ninst);
    for (int i = 0; rc == SQLITE_OK && i < ninst; i++) {
        int ip, ic, io;
        rc = api->xInst(fts, i, &ip, &ic, &io);
        if (rc == SQLITE_OK && ip >= 0 && ip < d->n) d->freq[ip] += ic < nval ? sqlite3_value_double(vals[ic]) : 1.0;
    }
    if (rc == SQLITE_OK) rc = api->xColumnSize(fts, -1, &ntok);
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    double score = 0, norm = BM25_K1 * (1 - BM25_B + BM25_B * ntok / d->avgdl);
    for (int i = 0; i < d->n; i++)
        if (d->freq[i] > 0) score += d->idf[i] * d->freq[i] * (BM25_K1 + 1) / (d->freq[i] + norm);
    sqlite3_result_double(ctx, score);
}

static int register_bm25(sqlite3 *db, double *info) {
    fts5_api *api = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    if (!api || api->iVersion < 2) return -1;
    return api->xCreateFunction(api, "kf_bm25", info, kf_bm25_fn, NULL) == SQLITE_OK ? 0 : -1;
}

/* ---- building ------------------------------------------------------------ */

static int is_cjk_lang(const char *lang) {
    return !strncmp(lang, "zh", 2) || !strncmp(lang, "ja", 2);
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
    set_err(err, errlen, "knowledge base: %s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

/* Normalised text of STRS joined by newlines into b (cleared first). */
static int norm_join(kf_buf_t *b, const char *const *strs, size_t n) {
    b->len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(strs[i]);
        char *s = kf_nlu_normalize_dup(strs[i], len, NULL, NULL, 0);
        if (!s) return -1;
        if (i) kf_buf_append(b, "\n", 1);
        kf_buf_puts(b, s);
        free(s);
    }
    kf_buf_append(b, "", 1); /* NUL, not counted */
    b->len--;
    return b->oom ? -1 : 0;
}

static int bind_buf(sqlite3_stmt *st, int col, const kf_buf_t *b) {
    return sqlite3_bind_text(st, col, b->data ? b->data : "", (int)b->len, SQLITE_TRANSIENT);
}

static int insert_entry(sqlite3 *db, const idx_t *x, size_t ix, const kf_faq_entry_t *e, size_t row, char *err,
                        size_t errlen) {
    const kf_faq_lang_t *l = kf_faq_lang(e, x->lang);
    if (!l) return 0;
    kf_buf_t q, a, t, g, u, ga, ua;
    kf_buf_init(&q), kf_buf_init(&a), kf_buf_init(&t), kf_buf_init(&g), kf_buf_init(&u), kf_buf_init(&ga);
    kf_buf_init(&ua);
    int rc = norm_join(&q, l->questions, l->n_questions) || norm_join(&a, &l->answer, 1) ? -1 : 0;
    for (size_t i = 0; i < e->n_tags; i++) { /* "apple_pay" should match "apple pay" */
        if (i) kf_buf_append(&t, " ", 1);
        for (const char *p = e->tags[i]; *p; p++) kf_buf_append(&t, *p == '_' ? " " : p, 1);
    }
    char sql[160];
    sqlite3_stmt *st = NULL;
    if (!rc && !x->cjk) {
        snprintf(sql, sizeof sql, "INSERT INTO w%zu(rowid, q, tags, a) VALUES(?1, ?2, ?3, ?4)", ix);
        rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL) || sqlite3_bind_int64(st, 1, (sqlite3_int64)row) ||
             bind_buf(st, 2, &q) || bind_buf(st, 3, &t) || bind_buf(st, 4, &a) || sqlite3_step(st) != SQLITE_DONE;
    } else if (!rc) {
        snprintf(sql, sizeof sql, "INSERT INTO t%zu(rowid, q, a) VALUES(?1, ?2, ?3)", ix);
        rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL) || sqlite3_bind_int64(st, 1, (sqlite3_int64)row) ||
             bind_buf(st, 2, &q) || bind_buf(st, 3, &a) || sqlite3_step(st) != SQLITE_DONE;
        sqlite3_finalize(st);
        st = NULL;
        kf_kb_split_grams(q.data, &g, &u);
        kf_kb_split_grams(a.data, &ga, &ua); /* answer unigrams (ua) are not indexed: too noisy */
        snprintf(sql, sizeof sql, "INSERT INTO g%zu(rowid, q, qu, a) VALUES(?1, ?2, ?3, ?4)", ix);
        if (!rc)
            rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL) || sqlite3_bind_int64(st, 1, (sqlite3_int64)row) ||
                 bind_buf(st, 2, &g) || bind_buf(st, 3, &u) || bind_buf(st, 4, &ga) || sqlite3_step(st) != SQLITE_DONE;
    }
    if (rc) set_err(err, errlen, "knowledge base: indexing '%s' (%s): %s", e->id, x->lang, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    kf_buf_free(&q), kf_buf_free(&a), kf_buf_free(&t), kf_buf_free(&g), kf_buf_free(&u), kf_buf_free(&ga);
    kf_buf_free(&ua);
    return rc ? -1 : 0;
}

static int build_db(kf_kb_t *kb, sqlite3 *db, char *err, size_t errlen) {
    /* kf_kb_meta also keeps an FAQ-less database non-empty: SQLite cannot serialise zero pages. */
    if (exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;"
                 "CREATE TABLE kf_kb_meta(key TEXT PRIMARY KEY, value);"
                 "INSERT INTO kf_kb_meta VALUES('format', 1)", err, errlen))
        return -1;
    char sql[256];
    for (size_t i = 0; i < kb->n_idx; i++) {
        if (!kb->idx[i].cjk)
            snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE w%zu USING fts5(q, tags, a, tokenize='%s')", i,
                     !strncmp(kb->idx[i].lang, "en", 2) ? "porter unicode61 remove_diacritics 2"
                                                         : "unicode61 remove_diacritics 2");
        else
            snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE t%zu USING fts5(q, a, tokenize='trigram');"
                                      "CREATE VIRTUAL TABLE g%zu USING fts5(q, qu, a, tokenize='unicode61')", i, i);
        if (exec(db, sql, err, errlen)) return -1;
        for (size_t e = 0; e < kb->n_entries; e++)
            if (insert_entry(db, &kb->idx[i], i, kf_faq_entry(kb->faq, e), e + 1, err, errlen)) return -1;
        kb->idx[i].rows = (double)kf_faq_count_lang(kb->faq, kb->idx[i].lang);
    }
    if (exec(db, "COMMIT", err, errlen)) return -1;
    for (size_t i = 0; i < kb->n_idx; i++) { /* one b-tree segment per table: fewer pages per lookup */
        if (!kb->idx[i].cjk)
            snprintf(sql, sizeof sql, "INSERT INTO w%zu(w%zu) VALUES('optimize')", i, i);
        else
            snprintf(sql, sizeof sql, "INSERT INTO t%zu(t%zu) VALUES('optimize');"
                                      "INSERT INTO g%zu(g%zu) VALUES('optimize')", i, i, i, i);
        if (exec(db, sql, err, errlen)) return -1;
    }
    return 0;
}

/* ---- connections ----------------------------------------------------------- */

static void conn_free(conn_t *c) {
    if (!c) return;
    if (c->st) {
        for (size_t i = 0; c->st[i] != (void *)c; i++) sqlite3_finalize(c->st[i]);
        free(c->st);
    }
    sqlite3_close(c->db);
    free(c->raw[0]), free(c->raw[1]), free(c->best), free(c->best_raw), free(c->best_idx);
    free(c->touched), free(c->mark), free(c->cand);
    free(c);
}

static conn_t *conn_new(kf_kb_t *kb, char *err, size_t errlen) {
    conn_t *c = calloc(1, sizeof *c);
    size_t n = kb->n_entries ? kb->n_entries : 1;
    if (!c) goto oom;
    /* 2 statements per index, then c itself as an end marker for conn_free */
    if (!(c->st = calloc(2 * kb->n_idx + 1, sizeof *c->st))) goto oom;
    c->st[2 * kb->n_idx] = (void *)c;
    c->raw[0] = calloc(n, sizeof(double)), c->raw[1] = calloc(n, sizeof(double));
    c->best = calloc(n, sizeof(double)), c->best_raw = calloc(n, sizeof(double));
    c->best_idx = calloc(n, sizeof(int)), c->touched = calloc(n, sizeof(size_t));
    c->mark = calloc(n, 1), c->cand = calloc(n, sizeof(size_t));
    if (!c->raw[0] || !c->raw[1] || !c->best || !c->best_raw || !c->best_idx || !c->touched || !c->mark || !c->cand)
        goto oom;
    int rc;
    if (kb->path) {
        rc = sqlite3_open_v2(kb->path, &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    } else {
        rc = sqlite3_open_v2(":memory:", &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
        unsigned char *copy = rc == SQLITE_OK ? sqlite3_malloc64((sqlite3_uint64)kb->image_len) : NULL;
        if (rc == SQLITE_OK && !copy) rc = SQLITE_NOMEM;
        if (copy) {
            memcpy(copy, kb->image, (size_t)kb->image_len);
            rc = sqlite3_deserialize(c->db, "main", copy, kb->image_len, kb->image_len,
                                     SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY);
        }
    }
    if (rc != SQLITE_OK || register_bm25(c->db, &c->info)) goto sqlerr;
    for (size_t i = 0; i < kb->n_idx; i++) {
        char sql[256];
        if (!kb->idx[i].cjk) {
            snprintf(sql, sizeof sql,
                     "SELECT rowid, kf_bm25(w%zu, " W_WORD ") FROM w%zu WHERE w%zu MATCH ?1 "
                     "ORDER BY 2 DESC LIMIT %d", i, i, i, CANDIDATES);
            if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->st[2 * i], NULL)) goto sqlerr;
            continue;
        }
        snprintf(sql, sizeof sql,
                 "SELECT rowid, kf_bm25(t%zu, " W_TRI ") FROM t%zu WHERE t%zu MATCH ?1 "
                 "ORDER BY 2 DESC LIMIT %d", i, i, i, CANDIDATES);
        if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->st[2 * i], NULL)) goto sqlerr;
        snprintf(sql, sizeof sql,
                 "SELECT rowid, kf_bm25(g%zu, " W_GRAM ") FROM g%zu WHERE g%zu MATCH ?1 "
                 "ORDER BY 2 DESC LIMIT %d", i, i, i, CANDIDATES);
        if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->st[2 * i + 1], NULL)) goto sqlerr;
    }
    return c;
sqlerr:
    set_err(err, errlen, "knowledge base: %s", c->db ? sqlite3_errmsg(c->db) : "cannot open");
    conn_free(c);
    return NULL;
oom:
    set_err(err, errlen, "knowledge base: out of memory");
    conn_free(c);
    return NULL;
}

static conn_t *acquire(kf_kb_t *kb, char *err, size_t errlen) {
    pthread_mutex_lock(&kb->mu);
    while (!kb->idle && kb->max_conns && kb->n_all >= kb->max_conns) pthread_cond_wait(&kb->cv, &kb->mu);
    conn_t *c = kb->idle;
    if (c) {
        kb->idle = c->next;
        pthread_mutex_unlock(&kb->mu);
        return c;
    }
    pthread_mutex_unlock(&kb->mu);
    /* Opening a copy takes a few hundred microseconds; done outside the lock. */
    if (!(c = conn_new(kb, err, errlen))) return NULL;
    pthread_mutex_lock(&kb->mu);
    conn_t **all = kb->n_all < kb->cap_all ? kb->all : realloc(kb->all, (kb->cap_all * 2 + 4) * sizeof *all);
    if (all) {
        if (all != kb->all) kb->cap_all = kb->cap_all * 2 + 4;
        kb->all = all;
        kb->all[kb->n_all++] = c;
    }
    pthread_mutex_unlock(&kb->mu);
    if (!all) {
        conn_free(c);
        set_err(err, errlen, "knowledge base: out of memory");
        return NULL;
    }
    return c;
}

static void release(kf_kb_t *kb, conn_t *c) {
    pthread_mutex_lock(&kb->mu);
    c->next = kb->idle;
    kb->idle = c;
    pthread_cond_signal(&kb->cv);
    pthread_mutex_unlock(&kb->mu);
}

/* ---- public ------------------------------------------------------------- */

kf_kb_t *kf_kb_build(kf_faq_t *faq, const char *path, char *err, size_t errlen) {
    if (!faq) {
        set_err(err, errlen, "knowledge base: no FAQ");
        return NULL;
    }
    kf_kb_t *kb = calloc(1, sizeof *kb);
    if (!kb) {
        kf_faq_free(faq);
        set_err(err, errlen, "knowledge base: out of memory");
        return NULL;
    }
    kb->faq = faq;
    kb->n_entries = kf_faq_count(faq);
    pthread_mutex_init(&kb->mu, NULL);
    pthread_cond_init(&kb->cv, NULL);
    /* One index per language, in order of first appearance. */
    size_t cap = 0;
    for (size_t e = 0; e < kb->n_entries; e++) cap += kf_faq_entry(faq, e)->n_langs;
    if (!(kb->idx = calloc(cap ? cap : 1, sizeof *kb->idx))) goto oom;
    for (size_t e = 0; e < kb->n_entries; e++) {
        const kf_faq_entry_t *en = kf_faq_entry(faq, e);
        for (size_t l = 0; l < en->n_langs; l++) {
            size_t i = 0;
            while (i < kb->n_idx && strcmp(kb->idx[i].lang, en->langs[l].lang)) i++;
            if (i == kb->n_idx) kb->idx[kb->n_idx++] = (idx_t){en->langs[l].lang, is_cjk_lang(en->langs[l].lang), 0};
        }
    }
    if (path && !(kb->path = strdup(path))) goto oom;
    sqlite3 *db = NULL;
    if (path) unlink(path); /* a stale index from another FAQ must not survive */
    int rc = sqlite3_open_v2(path ? path : ":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "knowledge base: %s: %s", path ? path : ":memory:", db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        kf_kb_free(kb);
        return NULL;
    }
    rc = build_db(kb, db, err, errlen);
    if (!rc && !path) {
        kb->image = sqlite3_serialize(db, "main", &kb->image_len, 0);
        if (!kb->image) rc = -1, set_err(err, errlen, "knowledge base: cannot serialise the index");
    }
    sqlite3_close(db);
    if (rc) {
        kf_kb_free(kb);
        return NULL;
    }
    /* Open the first connection now: a broken index fails here, not at the first customer. */
    conn_t *c = acquire(kb, err, errlen);
    if (!c) {
        kf_kb_free(kb);
        return NULL;
    }
    release(kb, c);
    return kb;
oom:
    set_err(err, errlen, "knowledge base: out of memory");
    kf_kb_free(kb);
    return NULL;
}

kf_kb_t *kf_kb_open(const char *botdir, char *err, size_t errlen) {
    kf_faq_t *faq = kf_faq_load(botdir, err, errlen);
    return faq ? kf_kb_build(faq, NULL, err, errlen) : NULL;
}

void kf_kb_free(kf_kb_t *kb) {
    if (!kb) return;
    for (size_t i = 0; i < kb->n_all; i++) conn_free(kb->all[i]);
    free(kb->all);
    sqlite3_free(kb->image);
    free(kb->path);
    free(kb->idx);
    kf_faq_free(kb->faq);
    pthread_mutex_destroy(&kb->mu);
    pthread_cond_destroy(&kb->cv);
    free(kb);
}

const kf_faq_t *kf_kb_faq(const kf_kb_t *kb) { return kb ? kb->faq : NULL; }

void kf_kb_set_max_connections(kf_kb_t *kb, size_t n) {
    pthread_mutex_lock(&kb->mu);
    kb->max_conns = n;
    pthread_mutex_unlock(&kb->mu);
}

/* ---- search --------------------------------------------------------------- */

/* Below this much IDF the query only holds words found in most entries:
 * nothing to rank on, so nothing is claimed. */
#define MIN_INFO 0.1

/* Runs ST with the MATCH expression EXPR of NPHR phrases; stores each
 * candidate's BM25 in c->raw[slot] and the query's IDF sum in *S. */
static int run(const kf_kb_t *kb, conn_t *c, sqlite3_stmt *st, const kf_buf_t *expr, int nphr, int slot, double rows,
               double *S, char *err, size_t errlen) {
    c->info = nphr * idf(rows, 0); /* what kf_bm25() would say; it does not run when no row matches */
    if (sqlite3_bind_text(st, 1, expr->data, (int)expr->len, SQLITE_STATIC) != SQLITE_OK) goto fail;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 row = sqlite3_column_int64(st, 0);
        if (row < 1 || (size_t)row > kb->n_entries) continue;
        size_t e = (size_t)row - 1;
        if (!(c->mark[e] & 1)) {
            c->mark[e] |= 1;
            c->raw[0][e] = c->raw[1][e] = 0;
            c->touched[c->n_touched++] = e;
        }
        c->raw[slot][e] = sqlite3_column_double(st, 1);
    }
    if (rc != SQLITE_DONE) goto fail;
    *S = c->info;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return 0;
fail:
    set_err(err, errlen, "knowledge base: %s", sqlite3_errmsg(sqlite3_db_handle(st)));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return -1;
}

/* Scores the entries index I matched and keeps each one's best language. */
static int search_index(const kf_kb_t *kb, conn_t *c, size_t i, const char *norm, kf_buf_t *m, char *err,
                        size_t errlen) {
    const idx_t *x = &kb->idx[i];
    double S[2] = {0, 0};
    c->n_touched = 0;
    m->len = 0;
    int n = x->cjk ? kf_kb_match_trigrams(norm, m) : kf_kb_match_words(norm, !strncmp(x->lang, "en", 2), m);
    if (m->oom) goto oom;
    if (n && run(kb, c, c->st[2 * i], m, n, 0, x->rows, &S[0], err, errlen)) return -1;
    if (x->cjk) {
        /* The bigram table always runs: it is the only match for 1-2
         * character terms, and for longer text its bigrams catch the
         * paraphrases whose trigrams differ. */
        m->len = 0;
        n = kf_kb_match_grams(norm, "qu", m);
        if (m->oom) goto oom;
        if (n && run(kb, c, c->st[2 * i + 1], m, n, 1, x->rows, &S[1], err, errlen)) return -1;
    }
    for (size_t k = 0; k < c->n_touched; k++) {
        size_t e = c->touched[k];
        /* Unclamped here so that ranking still separates entries above 1.
         * A CJK entry scores its better table: pooling both (one index of
         * 2- and 3-grams) let the many unseen trigrams of a paraphrase drag
         * good matches under the threshold (bots/README.md, "FAQ"). */
        double a = S[0] >= MIN_INFO ? c->raw[0][e] / S[0] : 0, b = S[1] >= MIN_INFO ? c->raw[1][e] / S[1] : 0;
        double score = a > b ? a : b, raw = a > b ? c->raw[0][e] : c->raw[1][e];
        c->mark[e] &= (unsigned char)~1u;
        if (!(c->mark[e] & 2)) {
            c->mark[e] |= 2;
            c->cand[c->n_cand++] = e;
            c->best[e] = -1;
        }
        if (score > c->best[e]) {
            c->best[e] = score;
            c->best_raw[e] = raw;
            c->best_idx[e] = (int)i;
        }
    }
    return 0;
oom:
    set_err(err, errlen, "knowledge base: out of memory");
    return -1;
}

/* Without a language, a text with no CJK character skips the CJK indexes:
 * its Latin words are better answered in a word language, at half the cost. */
static int has_cjk(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0xE3 && *p <= 0xF0) return 1; /* U+3000 and up (kana, Han); compared by lead byte */
    return 0;
}

int kf_kb_search(kf_kb_t *kb, const char *lang, const char *query, size_t len, kf_kb_hit_t *hits, size_t top_k,
                 char *err, size_t errlen) {
    if (!kb || (!query && len) || (!hits && top_k)) {
        set_err(err, errlen, "knowledge base: bad arguments");
        return -1;
    }
    if (!top_k || !len) return 0;
    if (len > QUERY_MAX) { /* cut at a character boundary */
        len = QUERY_MAX;
        while (len && ((unsigned char)query[len] & 0xC0) == 0x80) len--;
    }
    char stackbuf[1024], *norm = stackbuf;
    size_t cap = kf_nlu_normalize_bound(len);
    if (cap > sizeof stackbuf && !(norm = malloc(cap))) {
        set_err(err, errlen, "knowledge base: out of memory");
        return -1;
    }
    int n = -1;
    if (kf_nlu_normalize(query, len, norm, cap, err, errlen) < 0) goto out;
    conn_t *c = acquire(kb, err, errlen);
    if (!c) goto out;
    kf_buf_t m;
    kf_buf_init(&m);
    c->n_cand = 0;
    int rc = 0;
    int cjk = has_cjk(norm);
    for (size_t i = 0; !rc && i < kb->n_idx; i++)
        if (lang ? !strcmp(lang, kb->idx[i].lang) : (cjk || !kb->idx[i].cjk))
            rc = search_index(kb, c, i, norm, &m, err, errlen);
    kf_buf_free(&m);
    if (!rc) { /* top_k by partial selection: the candidate list is short */
        n = 0;
        for (; (size_t)n < top_k; n++) {
            size_t bi = c->n_cand;
            for (size_t k = 0; k < c->n_cand; k++) {
                size_t e = c->cand[k];
                if (c->best[e] > 0 && (bi == c->n_cand || c->best[e] > c->best[c->cand[bi]] ||
                                       (c->best[e] == c->best[c->cand[bi]] && e < c->cand[bi])))
                    bi = k;
            }
            if (bi == c->n_cand) break;
            size_t e = c->cand[bi];
            hits[n] = (kf_kb_hit_t){kf_faq_entry(kb->faq, e), kb->idx[c->best_idx[e]].lang,
                                    c->best[e] < 1 ? c->best[e] : 1, c->best_raw[e]};
            c->best[e] = -1;
        }
    }
    for (size_t k = 0; k < c->n_cand; k++) c->mark[c->cand[k]] = 0;
    release(kb, c);
out:
    if (norm != stackbuf) free(norm);
    return n;
}
