/* metrics.c — per-thread metric shards summed on scrape (see metrics.h).
 *
 * Counters are _Atomic only so a scraping thread may read them while the owner
 * writes; the owner updates with relaxed load+store (no lock prefix), which is
 * correct because each shard has exactly one writer. */
#include "obs/metrics.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define N_METHODS 8
#define N_BUCKETS 16
#define MAX_COLLECTORS 32

static const char *const methods[N_METHODS] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "OTHER"};
static const int statuses[] = {101, 200, 201, 202, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 408,
                               409, 411, 413, 414, 415, 422, 429, 431, 500, 501, 502, 503, 504};
#define N_STATUS ((int)(sizeof statuses / sizeof statuses[0]) + 1) /* last slot: any other code */
static const double buckets[N_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};

typedef _Atomic uint64_t ctr_t;

typedef struct {
    ctr_t bucket[N_BUCKETS + 1]; /* cumulative on render, not here */
    ctr_t sum_ns;
    ctr_t count;
} hist_t;

struct kf_metrics_shard {
    ctr_t *requests; /* [route+1][method][status] */
    hist_t *hist;    /* [route+1] */
    _Atomic long conns[KF_CONN__N];
};

static struct {
    size_t nshards, nroutes;
    const char *const *route_names;
    kf_metrics_shard_t *shards;
    struct { kf_metrics_collector_fn fn; void *ud; } collectors[MAX_COLLECTORS];
    _Atomic size_t ncollectors;
    double start_time;
} M;

static inline void bump(ctr_t *c, uint64_t by) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by, memory_order_relaxed);
}

int kf_metrics_init(size_t nshards, const char *const *route_names, size_t nroutes) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    M.start_time = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    M.nshards = nshards;
    M.nroutes = nroutes;
    M.route_names = route_names;
    M.shards = calloc(nshards, sizeof *M.shards);
    if (!M.shards) return -1;
    for (size_t i = 0; i < nshards; i++) {
        M.shards[i].requests = calloc((nroutes + 1) * N_METHODS * N_STATUS, sizeof(ctr_t));
        M.shards[i].hist = calloc(nroutes + 1, sizeof(hist_t));
        if (!M.shards[i].requests || !M.shards[i].hist) return -1;
    }
    return 0;
}

kf_metrics_shard_t *kf_metrics_shard(size_t idx) { return idx < M.nshards ? &M.shards[idx] : NULL; }

static int method_index(const char *m, size_t n) {
    for (int i = 0; i < N_METHODS - 1; i++)
        if (strlen(methods[i]) == n && memcmp(methods[i], m, n) == 0) return i;
    return N_METHODS - 1;
}

static int status_index(int status) {
    for (int i = 0; i < N_STATUS - 1; i++)
        if (statuses[i] == status) return i;
    return N_STATUS - 1;
}

void kf_metrics_observe(kf_metrics_shard_t *s, int route, const char *method, size_t method_len, int status,
                        double seconds) {
    if (!s) return;
    size_t r = (size_t)(route + 1);
    bump(&s->requests[(r * N_METHODS + (size_t)method_index(method, method_len)) * N_STATUS + (size_t)status_index(status)], 1);
    hist_t *h = &s->hist[r];
    int b = 0;
    while (b < N_BUCKETS && seconds > buckets[b]) b++;
    bump(&h->bucket[b], 1);
    bump(&h->sum_ns, (uint64_t)(seconds * 1e9));
    bump(&h->count, 1);
}

void kf_metrics_conn_set(kf_metrics_shard_t *s, kf_conn_proto_t proto, long value) {
    if (s) atomic_store_explicit(&s->conns[proto], value, memory_order_relaxed);
}

void kf_metrics_conn_add(kf_metrics_shard_t *s, kf_conn_proto_t proto, long delta) {
    if (s) atomic_fetch_add_explicit(&s->conns[proto], delta, memory_order_relaxed);
}

int kf_metrics_add_collector(kf_metrics_collector_fn fn, void *ud) {
    size_t i = atomic_load(&M.ncollectors);
    if (i >= MAX_COLLECTORS) return -1;
    M.collectors[i].fn = fn;
    M.collectors[i].ud = ud;
    atomic_store(&M.ncollectors, i + 1);
    return 0;
}

static const char *route_name(size_t r) { return r == 0 ? "<unmatched>" : M.route_names[r - 1]; }

static uint64_t load(ctr_t *c) { return atomic_load_explicit(c, memory_order_relaxed); }

static void render_requests(kf_buf_t *out) {
    kf_buf_puts(out, "# HELP kefu_http_requests_total HTTP requests answered, by method, route template and status.\n"
                     "# TYPE kefu_http_requests_total counter\n");
    for (size_t r = 0; r <= M.nroutes; r++)
        for (int m = 0; m < N_METHODS; m++)
            for (int st = 0; st < N_STATUS; st++) {
                uint64_t n = 0;
                for (size_t i = 0; i < M.nshards; i++)
                    n += load(&M.shards[i].requests[(r * N_METHODS + (size_t)m) * N_STATUS + (size_t)st]);
                if (!n) continue;
                char code[8];
                if (st == N_STATUS - 1) strcpy(code, "other");
                else snprintf(code, sizeof code, "%d", statuses[st]);
                kf_buf_printf(out, "kefu_http_requests_total{method=\"%s\",route=\"%s\",status=\"%s\"} %llu\n",
                              methods[m], route_name(r), code, (unsigned long long)n);
            }
}

static void render_histograms(kf_buf_t *out) {
    kf_buf_puts(out, "# HELP kefu_http_request_duration_seconds Time from request parsed to response handed to the connection.\n"
                     "# TYPE kefu_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r <= M.nroutes; r++) {
        uint64_t b[N_BUCKETS + 1] = {0}, sum = 0, count = 0;
        for (size_t i = 0; i < M.nshards; i++) {
            hist_t *h = &M.shards[i].hist[r];
            for (int k = 0; k <= N_BUCKETS; k++) b[k] += load(&h->bucket[k]);
            sum += load(&h->sum_ns);
            count += load(&h->count);
        }
        if (!count && r == 0) continue;
        uint64_t cum = 0;
        for (int k = 0; k < N_BUCKETS; k++) {
            cum += b[k];
            kf_buf_printf(out, "kefu_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", route_name(r),
                          buckets[k], (unsigned long long)cum);
        }
        kf_buf_printf(out, "kefu_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", route_name(r),
                      (unsigned long long)count);
        kf_buf_printf(out, "kefu_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n", route_name(r), sum / 1e9);
        kf_buf_printf(out, "kefu_http_request_duration_seconds_count{route=\"%s\"} %llu\n", route_name(r),
                      (unsigned long long)count);
    }
}

static void render_conns(kf_buf_t *out) {
    static const char *const names[KF_CONN__N] = {"http1", "http2", "websocket"};
    kf_buf_puts(out, "# HELP kefu_connections Open client connections by protocol.\n# TYPE kefu_connections gauge\n");
    for (int p = 0; p < KF_CONN__N; p++) {
        long n = 0;
        for (size_t i = 0; i < M.nshards; i++) n += atomic_load_explicit(&M.shards[i].conns[p], memory_order_relaxed);
        kf_buf_printf(out, "kefu_connections{protocol=\"%s\"} %ld\n", names[p], n < 0 ? 0 : n);
    }
}

static long count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the DIR's own fd */
}

static void render_process(kf_buf_t *out) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    kf_buf_printf(out,
                  "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                  "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n"
                  "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
                  "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %ld\n"
                  "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
                  "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.6f\n"
                  "# HELP process_open_fds Number of open file descriptors.\n"
                  "# TYPE process_open_fds gauge\nprocess_open_fds %ld\n"
                  "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
                  "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.3f\n",
                  resident * sysconf(_SC_PAGESIZE), pages * sysconf(_SC_PAGESIZE), cpu, count_fds(), M.start_time);
}

void kf_metrics_render(kf_buf_t *out) {
    render_requests(out);
    render_histograms(out);
    render_conns(out);
    render_process(out);
    size_t n = atomic_load(&M.ncollectors);
    for (size_t i = 0; i < n; i++) M.collectors[i].fn(out, M.collectors[i].ud);
}
