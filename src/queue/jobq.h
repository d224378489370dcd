/* jobq.h — the JobQueue interface: background work with pollable results.
 *
 * The brief's async intent path: a request enqueues a job and answers 202 at
 * once; a worker runs it; the result is kept for polling (GET /v1/jobs/{id})
 * and, when the job names a callback URL, POSTed there.  The in-process
 * implementation (jobq_mem.c) is bounded; a Redis Streams implementation
 * plugs in behind the same table of functions. */
#ifndef KF_QUEUE_JOBQ_H
#define KF_QUEUE_JOBQ_H

#include <stddef.h>

typedef enum { KF_JOB_UNKNOWN, KF_JOB_PROCESSING, KF_JOB_DONE, KF_JOB_FAILED } kf_job_state_t;

enum { KF_JOBQ_OK = 0, KF_JOBQ_FULL = -2, KF_JOBQ_NOMEM = -3 };

/* Runs on a worker: turns the payload into a result JSON text (malloc'd) or
 * returns -1 with a malloc'd error message in *result. */
typedef int (*kf_job_fn)(const char *payload, size_t len, char **result);

typedef struct kf_jobq kf_jobq_t;
typedef struct kf_jobq_ops {
    /* callback_url may be NULL.  Fills id (32 hex + NUL). */
    int (*submit)(kf_jobq_t *q, const char *payload, size_t len, const char *callback_url, char id[33]);
    /* *result_json (malloc'd) is set for DONE and FAILED. */
    kf_job_state_t (*get)(kf_jobq_t *q, const char *id, char **result_json);
    size_t (*depth)(kf_jobq_t *q);
    void (*destroy)(kf_jobq_t *q);
} kf_jobq_ops_t;

struct kf_jobq {
    const kf_jobq_ops_t *ops;
};

static inline int kf_jobq_submit(kf_jobq_t *q, const char *p, size_t n, const char *cb, char id[33]) {
    return q->ops->submit(q, p, n, cb, id);
}
static inline kf_job_state_t kf_jobq_get(kf_jobq_t *q, const char *id, char **res) { return q->ops->get(q, id, res); }
static inline size_t kf_jobq_depth(kf_jobq_t *q) { return q->ops->depth(q); }
static inline void kf_jobq_destroy(kf_jobq_t *q) { q->ops->destroy(q); }

typedef struct {
    size_t capacity;     /* queued jobs at most; beyond: KF_JOBQ_FULL */
    int workers;         /* worker threads */
    size_t max_results;  /* finished results kept at most */
    int result_ttl_s;    /* finished results kept this long */
} kf_jobq_mem_config_t;

/* The in-process queue.  on_done(id, callback_url, result_json) runs on a
 * worker after each job with a callback URL (e.g. to hand it to webhooks). */
kf_jobq_t *kf_jobq_mem_new(const kf_jobq_mem_config_t *cfg, kf_job_fn fn,
                           void (*on_done)(const char *id, const char *url, const char *result_json));

#endif
