/* agents_login.c — the argon2id work of agent sessions (see agents_auth.h):
 * password checks at login and hashing at account creation, on a few
 * dedicated threads so that no event loop ever stalls for tens of
 * milliseconds.  The JobQueue (queue/jobq.h) is not used: its jobs are
 * polled JSON payloads, while a login needs its completion back on the
 * requesting loop, and argon2id's 64 MiB per hash wants its own small
 * concurrency bound.
 *
 * A job copies everything it needs (the password too, wiped after use), so
 * the caller's buffers may go at once.  The completion is posted to the
 * caller's loop with kf_loop_post. */
#include "engine/agents_auth_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "loop/loop.h"

typedef enum { JOB_LOGIN = 1, JOB_CREATE } job_kind_t;

typedef struct job {
    struct job *next;
    job_kind_t kind;
    kf_agent_auth_t *auth;
    char id[KF_AGENT_ID_MAX + 1];
    char password[KF_AGENT_PASSWORD_MAX + 2]; /* one spare byte: longer input is refused, not truncated */
    kf_agent_t agent;                          /* create: the account to store */
    kf_loop_t *loop;
    kf_agent_auth_done_fn done;
    void *ud;
    kf_agent_auth_result_t res;
    char error[256];
} job_t;

struct kf_agent_pool {
    kf_agent_auth_t *auth;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t *head, *tail;
    size_t depth, capacity;
    int stopping;
    int nthreads;
    pthread_t *threads;
};

/* A hash of a random password, so an unknown id costs one verify like a known one. */
static char dummy_hash[KF_AGENT_HASH_MAX + 1];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void) {
    char pw[33], err[64];
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(pw, sizeof pw, raw, sizeof raw);
    kf_agents_hash_password(pw, dummy_hash, err, sizeof err);
}

static void fail(job_t *j, int status, const char *msg) {
    j->res.status = status;
    snprintf(j->error, sizeof j->error, "%s", msg);
}

static void run_login(job_t *j) {
    char hash[KF_AGENT_HASH_MAX + 1], err[256];
    int rc = kf_agents_get(kf_agent_auth_store(j->auth), j->id, &j->res.agent, hash, err, sizeof err);
    if (rc == KF_AGENTS_NOTFOUND) {
        pthread_once(&dummy_once, make_dummy);
        kf_agents_verify_password(dummy_hash, j->password);
        fail(j, KF_AGENT_AUTH_DENIED, "unknown agent or wrong password");
        return;
    }
    if (rc != KF_AGENTS_OK) {
        fail(j, rc, err);
        return;
    }
    int ok = kf_agents_verify_password(hash, j->password);
    sodium_memzero(hash, sizeof hash);
    /* A disabled account gets the same answer: nobody learns it exists. */
    if (!ok || j->res.agent.disabled) {
        fail(j, KF_AGENT_AUTH_DENIED, "unknown agent or wrong password");
        return;
    }
    if (kf_agent_auth_issue(j->auth, j->id, j->res.token, &j->res.expires_at_ms) < 0) {
        fail(j, KF_AGENTS_NOMEM, "out of memory");
        return;
    }
    kf_agent_auth_set_status(j->auth, j->id, KF_AGENT_ONLINE);
}

static void run_create(job_t *j) {
    char hash[KF_AGENT_HASH_MAX + 1], err[256];
    int rc = kf_agents_hash_password(j->password, hash, err, sizeof err);
    if (rc == KF_AGENTS_OK) rc = kf_agents_create(kf_agent_auth_store(j->auth), &j->agent, hash, err, sizeof err);
    if (rc == KF_AGENTS_OK)
        rc = kf_agents_get(kf_agent_auth_store(j->auth), j->agent.id, &j->res.agent, NULL, err, sizeof err);
    sodium_memzero(hash, sizeof hash);
    if (rc != KF_AGENTS_OK) fail(j, rc, err);
}

static void deliver(void *arg) {
    job_t *j = arg;
    j->res.error = j->error;
    j->done(&j->res, j->ud);
    sodium_memzero(j->res.token, sizeof j->res.token);
    free(j);
}

static void *worker(void *arg) {
    kf_agent_pool_t *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->head && !p->stopping) pthread_cond_wait(&p->cv, &p->mu);
        if (p->stopping) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        job_t *j = p->head;
        p->head = j->next;
        if (!p->head) p->tail = NULL;
        p->depth--;
        pthread_mutex_unlock(&p->mu);
        if (j->kind == JOB_LOGIN) run_login(j);
        else run_create(j);
        sodium_memzero(j->password, sizeof j->password);
        if (!j->loop) deliver(j);
        else if (kf_loop_post(j->loop, deliver, j) < 0) free(j); /* out of memory: the caller's request times out */
    }
}

kf_agent_pool_t *kf_agent_pool_new(kf_agent_auth_t *a, int workers, size_t queue) {
    kf_agent_pool_t *p = calloc(1, sizeof *p);
    if (!p || !(p->threads = calloc((size_t)workers, sizeof *p->threads))) {
        free(p);
        return NULL;
    }
    p->auth = a;
    p->capacity = queue;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (; p->nthreads < workers; p->nthreads++)
        if (pthread_create(&p->threads[p->nthreads], NULL, worker, p) != 0) {
            kf_agent_pool_free(p);
            return NULL;
        }
    return p;
}

void kf_agent_pool_free(kf_agent_pool_t *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    for (job_t *j = p->head, *n; j; j = n) {
        n = j->next;
        sodium_memzero(j, sizeof *j);
        free(j);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

static int submit(kf_agent_auth_t *a, job_t *j) {
    kf_agent_pool_t *p = a->pool;
    pthread_mutex_lock(&p->mu);
    if (p->depth >= p->capacity || p->stopping) {
        pthread_mutex_unlock(&p->mu);
        sodium_memzero(j, sizeof *j);
        free(j);
        return KF_AGENT_AUTH_BUSY;
    }
    if (p->tail) p->tail->next = j;
    else p->head = j;
    p->tail = j;
    p->depth++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return KF_AGENT_AUTH_OK;
}

static job_t *job_new(kf_agent_auth_t *a, job_kind_t kind, const char *password, kf_loop_t *loop,
                      kf_agent_auth_done_fn done, void *ud) {
    job_t *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    *j = (job_t){.kind = kind, .auth = a, .loop = loop, .done = done, .ud = ud};
    snprintf(j->password, sizeof j->password, "%s", password ? password : "");
    return j;
}

int kf_agent_auth_login_async(kf_agent_auth_t *a, const char *agent_id, const char *password, kf_loop_t *loop,
                              kf_agent_auth_done_fn done, void *ud) {
    job_t *j = job_new(a, JOB_LOGIN, password, loop, done, ud);
    if (!j) return KF_AGENTS_NOMEM;
    /* An over-long id must not be truncated into someone else's: it simply matches nobody. */
    if (agent_id && strlen(agent_id) <= KF_AGENT_ID_MAX) snprintf(j->id, sizeof j->id, "%s", agent_id);
    return submit(a, j);
}

int kf_agent_auth_create_async(kf_agent_auth_t *a, const kf_agent_t *agent, const char *password, kf_loop_t *loop,
                               kf_agent_auth_done_fn done, void *ud) {
    job_t *j = job_new(a, JOB_CREATE, password, loop, done, ud);
    if (!j) return KF_AGENTS_NOMEM;
    j->agent = *agent;
    return submit(a, j);
}
