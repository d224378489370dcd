/* jobq_mem.c — the bounded in-process JobQueue (see jobq.h).
 *
 * A mutex-protected FIFO feeds a fixed pool of worker threads.  Every job,
 * queued or finished, lives in one hash table by id and one age-ordered list;
 * finished jobs fall off the old end by TTL or when max_results is passed.
 * The queue bound makes overload visible (submit says FULL -> HTTP 503)
 * instead of growing memory without limit. */
#include "queue/jobq.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "obs/metrics.h"

typedef struct job {
    char id[33];
    kf_job_state_t state;
    char *payload, *callback, *result;
    size_t len;
    time_t finished_at;
    struct job *hnext;                /* hash chain */
    struct job *qnext;                /* run queue */
    struct job *older, *newer;        /* age list */
} job_t;

typedef struct {
    kf_jobq_t super;
    kf_jobq_mem_config_t cfg;
    kf_job_fn fn;
    void (*on_done)(const char *, const char *, const char *);
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t **buckets;
    size_t nbuckets, njobs, queued, finished;
    job_t *qhead, *qtail, *oldest, *newest;
    pthread_t *threads;
    int stop;
    unsigned long long submitted, rejected, done, failed;
} memq_t;

static uint64_t hash_id(const char *id) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 32; i++) h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
    return h;
}

static job_t **slot(memq_t *q, const char *id) {
    job_t **p = &q->buckets[hash_id(id) % q->nbuckets];
    while (*p && memcmp((*p)->id, id, 32) != 0) p = &(*p)->hnext;
    return p;
}

static void drop(memq_t *q, job_t *j) {
    *slot(q, j->id) = j->hnext;
    if (j->older) j->older->newer = j->newer; else q->oldest = j->newer;
    if (j->newer) j->newer->older = j->older; else q->newest = j->older;
    q->njobs--;
    q->finished--;
    free(j->payload);
    free(j->callback);
    free(j->result);
    free(j);
}

/* Oldest-first: drops finished jobs past their TTL or beyond max_results. */
static void expire(memq_t *q) {
    time_t now = time(NULL);
    job_t *j = q->oldest;
    while (j) {
        job_t *next = j->newer;
        if (j->state == KF_JOB_DONE || j->state == KF_JOB_FAILED) {
            if (now - j->finished_at >= q->cfg.result_ttl_s || q->finished > q->cfg.max_results) drop(q, j);
            else if (q->finished <= q->cfg.max_results) break;
        }
        j = next;
    }
}

static void random_id(char out[33]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != sizeof b)
        for (int i = 0; i < 16; i++) b[i] = (unsigned char)rand();
    for (int i = 0; i < 16; i++) out[2 * i] = hex[b[i] >> 4], out[2 * i + 1] = hex[b[i] & 15];
    out[32] = 0;
}

static int submit(kf_jobq_t *base, const char *payload, size_t len, const char *cb, char id[33]) {
    memq_t *q = (memq_t *)base;
    job_t *j = calloc(1, sizeof *j);
    if (!j || !(j->payload = malloc(len + 1)) || (cb && !(j->callback = strdup(cb)))) {
        if (j) free(j->payload);
        free(j);
        return KF_JOBQ_NOMEM;
    }
    memcpy(j->payload, payload, len);
    j->payload[len] = 0;
    j->len = len;
    j->state = KF_JOB_PROCESSING;
    pthread_mutex_lock(&q->mu);
    expire(q);
    if (q->queued >= q->cfg.capacity) {
        q->rejected++;
        pthread_mutex_unlock(&q->mu);
        free(j->payload);
        free(j->callback);
        free(j);
        return KF_JOBQ_FULL;
    }
    do random_id(j->id); while (*slot(q, j->id));
    job_t **s = slot(q, j->id);
    *s = j;
    j->older = q->newest;
    if (q->newest) q->newest->newer = j; else q->oldest = j;
    q->newest = j;
    if (q->qtail) q->qtail->qnext = j; else q->qhead = j;
    q->qtail = j;
    q->njobs++;
    q->queued++;
    q->submitted++;
    memcpy(id, j->id, 33);
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return KF_JOBQ_OK;
}

static kf_job_state_t get(kf_jobq_t *base, const char *id, char **result) {
    memq_t *q = (memq_t *)base;
    *result = NULL;
    if (strlen(id) != 32) return KF_JOB_UNKNOWN;
    pthread_mutex_lock(&q->mu);
    job_t *j = *slot(q, id);
    kf_job_state_t st = j ? j->state : KF_JOB_UNKNOWN;
    if (j && j->result) *result = strdup(j->result);
    pthread_mutex_unlock(&q->mu);
    return st;
}

static size_t depth(kf_jobq_t *base) {
    memq_t *q = (memq_t *)base;
    pthread_mutex_lock(&q->mu);
    size_t n = q->queued;
    pthread_mutex_unlock(&q->mu);
    return n;
}

static void *worker(void *arg) {
    memq_t *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->qhead && !q->stop) pthread_cond_wait(&q->cv, &q->mu);
        if (q->stop) break;
        job_t *j = q->qhead;
        q->qhead = j->qnext;
        if (!q->qhead) q->qtail = NULL;
        q->queued--;
        char *payload = j->payload, *cb = j->callback ? strdup(j->callback) : NULL, id[33];
        memcpy(id, j->id, 33);
        j->payload = NULL;
        pthread_mutex_unlock(&q->mu);
        char *result = NULL;
        int rc = q->fn(payload, j->len, &result);
        free(payload);
        if (cb && rc == 0 && q->on_done) q->on_done(id, cb, result);
        free(cb);
        pthread_mutex_lock(&q->mu);
        j->result = result;
        j->state = rc == 0 ? KF_JOB_DONE : KF_JOB_FAILED;
        j->finished_at = time(NULL);
        q->finished++;
        if (rc == 0) q->done++; else q->failed++;
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static void destroy(kf_jobq_t *base) {
    memq_t *q = (memq_t *)base;
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->cfg.workers; i++) pthread_join(q->threads[i], NULL);
    for (size_t b = 0; b < q->nbuckets; b++)
        for (job_t *j = q->buckets[b], *n; j; j = n) {
            n = j->hnext;
            free(j->payload), free(j->callback), free(j->result), free(j);
        }
    free(q->buckets);
    free(q->threads);
    free(q);
}

static void collect(kf_buf_t *out, void *ud) {
    memq_t *q = ud;
    pthread_mutex_lock(&q->mu);
    kf_buf_printf(out,
                  "# HELP kefu_jobs_total Background jobs by outcome (submitted, rejected because the queue was full, done, failed).\n"
                  "# TYPE kefu_jobs_total counter\n"
                  "kefu_jobs_total{outcome=\"submitted\"} %llu\nkefu_jobs_total{outcome=\"rejected\"} %llu\n"
                  "kefu_jobs_total{outcome=\"done\"} %llu\nkefu_jobs_total{outcome=\"failed\"} %llu\n"
                  "# HELP kefu_jobs_queued Jobs waiting for a worker.\n# TYPE kefu_jobs_queued gauge\nkefu_jobs_queued %zu\n"
                  "# HELP kefu_jobs_capacity The job queue's bound.\n# TYPE kefu_jobs_capacity gauge\nkefu_jobs_capacity %zu\n",
                  q->submitted, q->rejected, q->done, q->failed, q->queued, q->cfg.capacity);
    pthread_mutex_unlock(&q->mu);
}

static const kf_jobq_ops_t ops = {submit, get, depth, destroy};

kf_jobq_t *kf_jobq_mem_new(const kf_jobq_mem_config_t *cfg, kf_job_fn fn,
                           void (*on_done)(const char *, const char *, const char *)) {
    memq_t *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->super.ops = &ops;
    q->cfg = *cfg;
    q->fn = fn;
    q->on_done = on_done;
    q->nbuckets = cfg->capacity + cfg->max_results + 1;
    q->buckets = calloc(q->nbuckets, sizeof *q->buckets);
    q->threads = calloc((size_t)cfg->workers, sizeof *q->threads);
    if (!q->buckets || !q->threads) {
        free(q->buckets), free(q->threads), free(q);
        return NULL;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    for (int i = 0; i < cfg->workers; i++) pthread_create(&q->threads[i], NULL, worker, q);
    kf_metrics_add_collector(collect, q);
    return &q->super;
}
