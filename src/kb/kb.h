/* kb.h — the knowledge base: FAQ search on SQLite FTS5 with BM25.
 *
 * kf_kb_build() indexes loaded FAQ entries (kb/faq.h) once; kf_kb_search()
 * then answers "which entries match this customer text" with a score in
 * [0,1] that the engine compares with bot.yml's `thresholds.faq`.
 *
 * Languages: a "zh"/"ja" language is indexed twice — FTS5's trigram
 * tokenizer, plus a table of character bigrams (and single characters) that
 * also matches 1–2 character terms the trigram table cannot; every other
 * language is indexed by words ("porter unicode61" for English).
 *
 * Score: raw BM25 divided by the BM25 a document would get that contains
 * every query term once in its questions at average length (the sum of the
 * query terms' IDF), capped at 1 — the share of the query's information the
 * entry covers.  Terms the FAQ has never seen count against the score.
 *
 * Threads: kf_kb_search() may be called from any number of threads at once.
 * Each call borrows a private read-only copy of the index (a pool, grown on
 * demand), so searches never wait on each other. */
#ifndef KF_KB_H
#define KF_KB_H

#include <stddef.h>

#include "kb/faq.h"

typedef struct kf_kb kf_kb_t;

typedef struct {
    const kf_faq_entry_t *entry; /* owned by the kb */
    const char *lang;            /* the language whose questions matched */
    double score;                /* normalised, 0..1; higher is better */
    double bm25;                 /* raw BM25 (positive) of the best-matching index, for logs */
} kf_kb_hit_t;

/* Indexes FAQ (taking ownership of it, also on failure) into an in-memory
 * database, or into the SQLite file PATH (replaced) when PATH is not NULL.
 * NULL with err on failure. */
kf_kb_t *kf_kb_build(kf_faq_t *faq, const char *path, char *err, size_t errlen);

/* Loads BOTDIR/faq/NAME.yml and indexes it in memory, in one go. */
kf_kb_t *kf_kb_open(const char *botdir, char *err, size_t errlen);

void kf_kb_free(kf_kb_t *kb);

const kf_faq_t *kf_kb_faq(const kf_kb_t *kb);

/* Searches QUERY[0..len) (raw customer text; normalised here) in LANG's
 * index, or in every language's when LANG is NULL (an entry then scores its
 * best language).  Writes up to top_k hits, best first, and returns how many
 * (0 when nothing matches or LANG has no FAQ), or -1 with err on invalid
 * UTF-8 or an internal error.  Never fails because of what the text says. */
int kf_kb_search(kf_kb_t *kb, const char *lang, const char *query, size_t len, kf_kb_hit_t *hits, size_t top_k,
                 char *err, size_t errlen);

/* At most N private copies of the index (0: no limit, the default).  With
 * N = 1 every search shares one connection behind a lock; kept for
 * measuring that choice against the pool. */
void kf_kb_set_max_connections(kf_kb_t *kb, size_t n);

#endif
