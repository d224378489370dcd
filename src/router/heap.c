/* heap.c — the two containers the router is built on (routing_int.h):
 * an intrusive binary heap whose nodes remember their position, so a member
 * can be removed or re-keyed in O(log n) (a customer leaving the queue, an
 * agent whose load changed), and a string-keyed open-addressing index for
 * ids.  A binary heap rather than a pairing heap: arbitrary removal is the
 * common operation here and a flat array keeps it cache-friendly. */
#include <stdlib.h>
#include <string.h>

#include "router/routing_int.h"

/* ---- heap ---------------------------------------------------------------- */

void kf_rq_init(kf_rq_t *q) { memset(q, 0, sizeof *q); }

void kf_rq_free(kf_rq_t *q) {
    free(q->a);
    memset(q, 0, sizeof *q);
}

int kf_rq_before(const kf_rq_node_t *a, const kf_rq_node_t *b) {
    if (a->key != b->key) return a->key > b->key;
    if (a->tie != b->tie) return a->tie < b->tie;
    return a->seq < b->seq;
}

static void place(kf_rq_t *q, size_t i, kf_rq_node_t *n) {
    q->a[i] = n;
    n->pos = i;
}

static void sift_up(kf_rq_t *q, size_t i) {
    kf_rq_node_t *n = q->a[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!kf_rq_before(n, q->a[p])) break;
        place(q, i, q->a[p]);
        i = p;
    }
    place(q, i, n);
}

static void sift_down(kf_rq_t *q, size_t i) {
    kf_rq_node_t *n = q->a[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->n) break;
        if (c + 1 < q->n && kf_rq_before(q->a[c + 1], q->a[c])) c++;
        if (!kf_rq_before(q->a[c], n)) break;
        place(q, i, q->a[c]);
        i = c;
    }
    place(q, i, n);
}

int kf_rq_push(kf_rq_t *q, kf_rq_node_t *n) {
    if (q->n == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 16;
        kf_rq_node_t **a = realloc(q->a, nc * sizeof *a);
        if (!a) return -1;
        q->a = a;
        q->cap = nc;
    }
    place(q, q->n++, n);
    sift_up(q, q->n - 1);
    return 0;
}

kf_rq_node_t *kf_rq_peek(const kf_rq_t *q) { return q->n ? q->a[0] : NULL; }

void kf_rq_remove(kf_rq_t *q, kf_rq_node_t *n) {
    size_t i = n->pos;
    kf_rq_node_t *last = q->a[--q->n];
    n->pos = KF_RQ_NONE;
    if (last == n) return;
    place(q, i, last);
    kf_rq_update(q, last); /* the moved node may belong above or below i */
}

kf_rq_node_t *kf_rq_pop(kf_rq_t *q) {
    kf_rq_node_t *top = kf_rq_peek(q);
    if (top) kf_rq_remove(q, top);
    return top;
}

void kf_rq_update(kf_rq_t *q, kf_rq_node_t *n) {
    size_t i = n->pos;
    if (i > 0 && kf_rq_before(n, q->a[(i - 1) / 2])) sift_up(q, i);
    else sift_down(q, i);
}

/* ---- index ---------------------------------------------------------------- */

void kf_rix_init(kf_rix_t *x) { memset(x, 0, sizeof *x); }

void kf_rix_free(kf_rix_t *x) {
    free(x->s);
    memset(x, 0, sizeof *x);
}

static size_t hash(const char *s) { /* FNV-1a: ids are short */
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)(h ^ (h >> 32));
}

static size_t find(const kf_rix_t *x, const char *key) {
    size_t m = x->cap - 1, i = hash(key) & m;
    while (x->s[i].key && strcmp(x->s[i].key, key)) i = (i + 1) & m;
    return i;
}

void *kf_rix_get(const kf_rix_t *x, const char *key) {
    if (!x->cap) return NULL;
    return x->s[find(x, key)].val;
}

static int grow(kf_rix_t *x) {
    size_t nc = x->cap ? x->cap * 2 : 64;
    kf_rix_slot_t *old = x->s, *s = calloc(nc, sizeof *s);
    size_t oc = x->cap;
    if (!s) return -1;
    x->s = s;
    x->cap = nc;
    for (size_t i = 0; i < oc; i++)
        if (old[i].key) x->s[find(x, old[i].key)] = old[i];
    free(old);
    return 0;
}

int kf_rix_put(kf_rix_t *x, const char *key, void *val) {
    if ((x->n + 1) * 4 > x->cap * 3 && grow(x)) return -1; /* load factor <= 3/4 */
    size_t i = find(x, key);
    if (!x->s[i].key) x->n++;
    x->s[i] = (kf_rix_slot_t){key, val};
    return 0;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
void *kf_rix_del(kf_rix_t *x, const char *key) {
    if (!x->cap) return NULL;
    size_t m = x->cap - 1, i = find(x, key);
    void *val = x->s[i].val;
    if (!x->s[i].key) return NULL;
    x->n--;
    for (size_t j = (i + 1) & m;; j = (j + 1) & m) {
        if (!x->s[j].key) break;
        size_t home = hash(x->s[j].key) & m;
        /* j's entry may fill the hole at i unless its home lies cyclically in (i, j] */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        x->s[i] = x->s[j];
        i = j;
    }
    x->s[i] = (kf_rix_slot_t){0};
    return val;
}
