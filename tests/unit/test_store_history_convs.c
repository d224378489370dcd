/* test_store_history_convs.c — the SQLite writer's cache of conversation rows
 * (store/history_sqlite_convs.c): lookups after inserts and deletions in any
 * order (deletion shifts clusters back), replacement, and emptying when full. */
#include <stdio.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "store/history_sqlite_int.h"

static void id_of(unsigned i, char id[33]) { snprintf(id, 33, "%08x%024x", i * 2654435761u, i); }

Test(history_convs, finds_what_was_put_and_forgets_in_any_order) {
    kf_history_conv_cache_t *c = kf_history_conv_cache_new(512);
    cr_assert(c);
    char id[33];
    enum { N = 500 };
    for (unsigned i = 0; i < N; i++) {
        id_of(i, id);
        kf_history_conv_row_t r = {i + 1, i * 10, 1};
        cr_assert_eq(kf_history_conv_cache_put(c, id, &r)->num, i + 1);
    }
    /* forget every third, in a scrambled order, and check all the others stay found */
    int gone[N] = {0};
    for (unsigned k = 0; k < N; k++) {
        unsigned i = (k * 7919u) % N;
        if (i % 3) continue;
        id_of(i, id);
        kf_history_conv_cache_forget(c, id);
        gone[i] = 1;
    }
    for (unsigned i = 0; i < N; i++) {
        id_of(i, id);
        kf_history_conv_row_t *r = kf_history_conv_cache_find(c, id);
        if (gone[i]) {
            cr_assert_null(r, "row %u was forgotten", i);
        } else {
            cr_assert_not_null(r, "row %u lost after deletions", i);
            cr_assert_eq(r->num, i + 1);
            cr_assert_eq(r->last_seq, i * 10);
        }
    }
    /* replacing keeps one row per id */
    id_of(1, id);
    kf_history_conv_row_t r = {77, 5, 2};
    kf_history_conv_cache_put(c, id, &r);
    cr_assert_eq(kf_history_conv_cache_find(c, id)->num, 77);
    kf_history_conv_cache_forget(c, id);
    cr_assert_null(kf_history_conv_cache_find(c, id));
    kf_history_conv_cache_free(c);
}

Test(history_convs, a_full_cache_starts_over_rather_than_grow) {
    kf_history_conv_cache_t *c = kf_history_conv_cache_new(8); /* 16 slots, 8 rows */
    char id[33];
    for (unsigned i = 0; i < 100; i++) {
        id_of(i, id);
        kf_history_conv_row_t r = {i + 1, 0, 1};
        kf_history_conv_cache_put(c, id, &r);
        cr_assert_not_null(kf_history_conv_cache_find(c, id));
    }
    unsigned held = 0;
    for (unsigned i = 0; i < 100; i++) {
        id_of(i, id);
        held += kf_history_conv_cache_find(c, id) != NULL;
    }
    cr_assert(held >= 1 && held <= 16, "held %u", held);
    kf_history_conv_cache_clear(c);
    cr_assert_null(kf_history_conv_cache_find(c, id));
    kf_history_conv_cache_free(c);
}
