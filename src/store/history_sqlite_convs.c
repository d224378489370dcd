/* history_sqlite_convs.c — the SQLite writer's cache of conversation rows:
 * id -> (num, last seq, status).
 *
 * Every append needs its conversation's small integer key and the last seq
 * it has used.  Reading them from the conversations table and writing the
 * new last seq back cost a B-tree lookup per append and, worse, a dirty
 * conversations page in every group commit: a fifth of the writer's WAL
 * frames under bench/wsload.  Only the writer thread appends, so it can keep
 * the truth itself: the cache is filled from the database on a miss (the
 * last seq is max(seq) of the conversation's messages, one seek on their
 * (conv, seq) index) and moved forward by the writer's own inserts.
 *
 * It is an optimistic copy of what the open transaction holds, so whatever
 * the transaction loses the cache must lose too: the writer forgets a
 * conversation whose request was rolled back to its savepoint and clears
 * everything when a whole transaction fails.  Closing and assigning are rare:
 * they forget the conversation rather than mirror the UPDATE's rules.
 *
 * Open addressing with linear probing over a power-of-two table kept at most
 * half full; deletion shifts the following cluster back (no tombstones).
 * When the table is full it is simply emptied: a miss costs one lookup.
 * Ids are kept as their 16 bytes, a slot in 40: the table is part of what
 * each idle connection costs (10,000 of them touch every slot).
 * Writer thread only; no locking. */
#include "store/history_sqlite_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    kf_history_conv_row_t row; /* row.num == 0: an empty slot (nums start at 1) */
    uint64_t key[2];           /* the id's 16 bytes */
} slot_t;

struct kf_history_conv_cache {
    slot_t *v;
    size_t mask; /* slots - 1 */
    size_t n, max;
};

kf_history_conv_cache_t *kf_history_conv_cache_new(size_t capacity) {
    size_t slots = 16;
    while (slots < capacity * 2) slots *= 2;
    kf_history_conv_cache_t *c = calloc(1, sizeof *c);
    if (!c || !(c->v = calloc(slots, sizeof *c->v))) {
        free(c);
        return NULL;
    }
    c->mask = slots - 1;
    c->max = slots / 2;
    return c;
}

void kf_history_conv_cache_free(kf_history_conv_cache_t *c) {
    if (!c) return;
    free(c->v);
    free(c);
}

/* 32 lowercase hex digits (checked by every op before it is queued). */
static void key_of(const char *id, uint64_t key[2]) {
    for (int w = 0; w < 2; w++) {
        uint64_t v = 0;
        for (int i = 0; i < 16; i++) {
            char ch = id[w * 16 + i];
            v = v << 4 | (uint64_t)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
        }
        key[w] = v;
    }
}

/* Ids are random: mixing the two halves spreads them well enough. */
static size_t home(const kf_history_conv_cache_t *c, const uint64_t key[2]) {
    uint64_t h = key[0] ^ key[1] * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return (size_t)h & c->mask;
}

static slot_t *lookup(kf_history_conv_cache_t *c, const uint64_t key[2]) {
    for (size_t i = home(c, key);; i = (i + 1) & c->mask) {
        slot_t *s = &c->v[i];
        if (!s->row.num) return NULL;
        if (s->key[0] == key[0] && s->key[1] == key[1]) return s;
    }
}

kf_history_conv_row_t *kf_history_conv_cache_find(kf_history_conv_cache_t *c, const char *id) {
    uint64_t key[2];
    key_of(id, key);
    slot_t *s = lookup(c, key);
    return s ? &s->row : NULL;
}

void kf_history_conv_cache_clear(kf_history_conv_cache_t *c) {
    memset(c->v, 0, (c->mask + 1) * sizeof *c->v);
    c->n = 0;
}

kf_history_conv_row_t *kf_history_conv_cache_put(kf_history_conv_cache_t *c, const char *id,
                                                 const kf_history_conv_row_t *row) {
    uint64_t key[2];
    key_of(id, key);
    slot_t *s = lookup(c, key);
    if (!s) {
        if (c->n >= c->max) kf_history_conv_cache_clear(c);
        size_t i = home(c, key);
        while (c->v[i].row.num) i = (i + 1) & c->mask;
        s = &c->v[i];
        s->key[0] = key[0], s->key[1] = key[1];
        c->n++;
    }
    s->row = *row;
    return &s->row;
}

void kf_history_conv_cache_forget(kf_history_conv_cache_t *c, const char *id) {
    uint64_t key[2];
    key_of(id, key);
    slot_t *s = lookup(c, key);
    if (!s) return;
    size_t hole = (size_t)(s - c->v);
    s->row.num = 0;
    c->n--;
    /* Shift back every later member of the cluster that may sit in the hole:
     * one whose home is not cyclically within (hole, j]. */
    for (size_t j = (hole + 1) & c->mask; c->v[j].row.num; j = (j + 1) & c->mask) {
        size_t h = home(c, c->v[j].key);
        int stays = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
        if (stays) continue;
        c->v[hole] = c->v[j];
        c->v[j].row.num = 0;
        hole = j;
    }
}
