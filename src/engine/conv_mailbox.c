/* conv_mailbox.c — per-conversation ordering for the conversation engine.
 *
 * A hash map, conversation id → FIFO of jobs, split into lock stripes so
 * threads working on different conversations rarely meet.  The job at the
 * head of a queue is the one running; the others wait.  A lock is held only
 * to link or unlink a job, never across I/O: a running job continues through
 * history and webhook completions on its caller's loop, and when it ends the
 * next job is posted to *its* caller's loop.  So messages of a conversation
 * run one at a time in call order, whatever threads called, while no loop
 * ever waits for another conversation. */
#include <stdlib.h>
#include <string.h>

#include "engine/conv_int.h"
#include "loop/loop.h"

_Thread_local int kf_conv_inline;

typedef struct entry {
    struct entry *next; /* hash chain */
    char id[KF_HISTORY_ID_LEN + 1];
    kf_conv_job_t *head, *tail;
    size_t n;
} entry_t;

#define BUCKETS_PER_STRIPE 64

typedef struct {
    pthread_mutex_t mu;
    entry_t *buckets[BUCKETS_PER_STRIPE];
} stripe_t;

struct kf_conv_mailbox {
    stripe_t stripes[KF_CONV_STRIPES];
};

/* Ids are random hex: a few of their digits spread well enough. */
static uint64_t hash_id(const char *id) {
    uint64_t h = 1469598103934665603ull;
    for (const char *p = id; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

static stripe_t *stripe_of(struct kf_conv_mailbox *m, uint64_t h) { return &m->stripes[h % KF_CONV_STRIPES]; }

static entry_t **slot_of(stripe_t *s, const char *id, uint64_t h) {
    entry_t **p = &s->buckets[(h / KF_CONV_STRIPES) % BUCKETS_PER_STRIPE];
    while (*p && strcmp((*p)->id, id) != 0) p = &(*p)->next;
    return p;
}

struct kf_conv_mailbox *kf_conv_mailbox_new(void) {
    struct kf_conv_mailbox *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    for (int i = 0; i < KF_CONV_STRIPES; i++) pthread_mutex_init(&m->stripes[i].mu, NULL);
    return m;
}

void kf_conv_mailbox_free(struct kf_conv_mailbox *m) {
    if (!m) return;
    for (int i = 0; i < KF_CONV_STRIPES; i++) {
        for (int b = 0; b < BUCKETS_PER_STRIPE; b++) {
            entry_t *e = m->stripes[i].buckets[b];
            while (e) {
                entry_t *next = e->next;
                for (kf_conv_job_t *j = e->head, *jn; j; j = jn) {
                    jn = j->next;
                    kf_conv_job_free(j);
                }
                free(e);
                e = next;
            }
        }
        pthread_mutex_destroy(&m->stripes[i].mu);
    }
    free(m);
}

int kf_conv_mailbox_push(kf_conv_t *c, kf_conv_job_t *job) {
    uint64_t h = hash_id(job->conv_id);
    stripe_t *s = stripe_of(c->mbox, h);
    pthread_mutex_lock(&s->mu);
    entry_t **p = slot_of(s, job->conv_id, h), *e = *p;
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) {
            pthread_mutex_unlock(&s->mu);
            return KF_CONV_NOMEM;
        }
        memcpy(e->id, job->conv_id, sizeof e->id);
        *p = e;
    }
    /* The running job counts: at most KF_CONV_MAX_PENDING calls per conversation. */
    if (e->n >= KF_CONV_MAX_PENDING) {
        pthread_mutex_unlock(&s->mu);
        return KF_CONV_BUSY;
    }
    job->next = NULL;
    if (e->tail) e->tail->next = job;
    else e->head = job;
    e->tail = job;
    int first = ++e->n == 1;
    pthread_mutex_unlock(&s->mu);
    if (first) {
        kf_conv_inline++;
        kf_conv_run_job(job);
        kf_conv_inline--;
    }
    return KF_CONV_OK;
}

static void run_posted(void *arg) { kf_conv_run_job(arg); }

void kf_conv_mailbox_done(kf_conv_t *c, kf_conv_job_t *job) {
    uint64_t h = hash_id(job->conv_id);
    stripe_t *s = stripe_of(c->mbox, h);
    pthread_mutex_lock(&s->mu);
    entry_t **p = slot_of(s, job->conv_id, h), *e = *p;
    kf_conv_job_t *next = NULL;
    if (e && e->head == job) {
        e->head = job->next;
        if (!e->head) e->tail = NULL;
        e->n--;
        next = e->head;
        if (!e->n) {
            *p = e->next;
            free(e);
        }
    }
    pthread_mutex_unlock(&s->mu);
    kf_conv_job_free(job);
    /* The next job belongs to its caller's loop; if posting fails (no
     * memory) running it here still keeps the order. */
    if (next && kf_loop_post(next->loop, run_posted, next) < 0) kf_conv_run_job(next);
}
