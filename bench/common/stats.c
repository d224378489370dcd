/* stats.c — see stats.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "stats.h"

#include <stdlib.h>
#include <time.h>

#include "util.h"

uint64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bench_samples_add(bench_samples_t *s, uint64_t x) {
    if (s->n == s->cap) s->v = bench_xrealloc(s->v, (s->cap = s->cap ? s->cap * 2 : 65536) * sizeof *s->v);
    s->v[s->n++] = x;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

void bench_samples_sort(bench_samples_t *s) {
    if (s->n) qsort(s->v, s->n, sizeof *s->v, cmp_u64);
}

uint64_t bench_samples_pct(const bench_samples_t *s, double p) {
    if (!s->n) return 0;
    size_t i = (size_t)(p / 100.0 * (double)s->n);
    return s->v[i >= s->n ? s->n - 1 : i];
}

uint64_t bench_samples_max(const bench_samples_t *s) { return s->n ? s->v[s->n - 1] : 0; }

double bench_samples_mean(const bench_samples_t *s) {
    uint64_t sum = 0;
    for (size_t i = 0; i < s->n; i++) sum += s->v[i];
    return s->n ? (double)sum / (double)s->n : 0.0;
}

void bench_samples_free(bench_samples_t *s) {
    free(s->v);
    *s = (bench_samples_t){0};
}
