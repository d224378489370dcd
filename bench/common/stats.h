/* stats.h — timing and latency distributions for the bench clients (bench/wsload,
 * bench/handoff): the monotonic clock in ns, and a growable set of samples with its
 * percentiles, mean and maximum. */
#ifndef KEFU_BENCH_STATS_H
#define KEFU_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in ns. */
uint64_t bench_now_ns(void);

typedef struct {
    uint64_t *v;
    size_t n, cap;
} bench_samples_t;

void bench_samples_add(bench_samples_t *s, uint64_t x);
/* Sorts the samples; the three below want them sorted, and are 0 when there are none. */
void bench_samples_sort(bench_samples_t *s);
/* The p-th percentile: the sample at index p% of n (nearest rank, rounded down). */
uint64_t bench_samples_pct(const bench_samples_t *s, double p);
uint64_t bench_samples_max(const bench_samples_t *s);
double bench_samples_mean(const bench_samples_t *s);
void bench_samples_free(bench_samples_t *s);

#endif
