/* intent.c — model holder with lock-free reads and atomic hot reload (see intent.h).
 *
 * Readers cost one atomic load per request: each thread caches a reference
 * to the holder it last used and refreshes it only when the global
 * generation changes.  A holder is freed when its reference count drops to
 * zero, i.e. after every thread has moved past it. */
#include "engine/intent.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nlu/entities.h"
#include "nlu/nlu.h"
#include "obs/log.h"

typedef struct holder {
    kf_nlu_model_t *model;
    _Atomic long refs;
} holder_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static holder_t *current;            /* guarded by lock */
static _Atomic unsigned long generation = 1;
static char *model_path;

static __thread holder_t *t_holder;
static __thread unsigned long t_gen;

static void unref(holder_t *h) {
    if (h && atomic_fetch_sub(&h->refs, 1) == 1) {
        kf_nlu_model_free(h->model);
        free(h);
    }
}

static holder_t *acquire(void) {
    unsigned long g = atomic_load_explicit(&generation, memory_order_acquire);
    if (t_gen == g) return t_holder;
    pthread_mutex_lock(&lock);
    holder_t *h = current;
    if (h) atomic_fetch_add(&h->refs, 1);
    g = atomic_load(&generation);
    pthread_mutex_unlock(&lock);
    unref(t_holder);
    t_holder = h;
    t_gen = g;
    return h;
}

static int load_into_current(char *err, size_t errlen) {
    kf_nlu_model_t *m = kf_nlu_model_load(model_path, err, errlen);
    if (!m) return -1;
    holder_t *h = calloc(1, sizeof *h);
    if (!h) {
        kf_nlu_model_free(m);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    h->model = m;
    h->refs = 1; /* the reference held by `current` */
    pthread_mutex_lock(&lock);
    holder_t *old = current;
    current = h;
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    pthread_mutex_unlock(&lock);
    unref(old);
    kf_log(KF_LOG_INFO, "model loaded", "path", 's', model_path, "version", 's', kf_nlu_model_version(m), "intents", 'i',
           (long long)kf_nlu_model_n_intents(m), NULL);
    return 0;
}

int kf_intent_init(const char *path, char *err, size_t errlen) {
    if (!path) return 0;
    model_path = strdup(path);
    return load_into_current(err, errlen);
}

int kf_intent_reload(char *err, size_t errlen) {
    if (!model_path) {
        snprintf(err, errlen, "the server was started without --model");
        return -1;
    }
    return load_into_current(err, errlen);
}

/* Asked on every /v1/intent request: an atomic load instead of a mutex
 * round trip.  `current` is never reset once set, and generation moves past
 * 1 only after it was set (both under the lock). */
int kf_intent_ready(void) { return atomic_load_explicit(&generation, memory_order_acquire) > 1; }

const char *kf_intent_path(void) { return model_path; }

void kf_intent_version(char *out, size_t outlen) {
    holder_t *h = acquire();
    snprintf(out, outlen, "%s", h ? kf_nlu_model_version(h->model) : "");
}

/* Confidence as JSON with at most 4 decimals ("0.9992", "1", "0"): printf
 * and cJSON's print-then-reparse cost more than the classification's dot
 * products on this path, so the digits are written by hand. */
static void put_conf(kf_buf_t *b, float x) {
    long v = (long)((double)x * 10000.0 + 0.5);
    if (v < 0) v = 0;
    if (v > 10000) v = 10000;
    char t[8];
    size_t n = 0;
    t[n++] = (char)('0' + v / 10000);
    int frac = (int)(v % 10000);
    if (frac) {
        t[n++] = '.';
        char d[4] = {(char)('0' + frac / 1000), (char)('0' + frac / 100 % 10), (char)('0' + frac / 10 % 10), (char)('0' + frac % 10)};
        int k = 4;
        while (d[k - 1] == '0') k--;
        memcpy(t + n, d, (size_t)k);
        n += (size_t)k;
    }
    kf_buf_append(b, t, n);
}

static void put_int(kf_buf_t *b, long v) {
    char t[24];
    int n = 0;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    do t[sizeof t - 1 - n++] = (char)('0' + u % 10); while ((u /= 10) && n < 20);
    if (v < 0) t[sizeof t - 1 - n++] = '-';
    kf_buf_append(b, t + sizeof t - n, (size_t)n);
}

static void put_entities(kf_buf_t *b, const char *text, size_t len) {
    kf_ent_t ents[16];
    int n = kf_ent_extract(NULL, text, len, time(NULL), ents, 16);
    kf_buf_puts(b, "[");
    for (int i = 0; i < n; i++) {
        kf_buf_puts(b, i ? ",{\"type\":" : "{\"type\":");
        kf_buf_json_str(b, ents[i].type, strlen(ents[i].type));
        kf_buf_puts(b, ",\"value\":");
        kf_buf_json_str(b, ents[i].value, strlen(ents[i].value));
        kf_buf_puts(b, ",\"text\":");
        kf_buf_json_str(b, text + ents[i].byte_start, (size_t)(ents[i].byte_end - ents[i].byte_start));
        kf_buf_puts(b, ",\"start\":");
        put_int(b, ents[i].start);
        kf_buf_puts(b, ",\"end\":");
        put_int(b, ents[i].end);
        kf_buf_puts(b, "}");
    }
    kf_buf_puts(b, "]");
}

int kf_intent_classify_json(const char *text, size_t len, const char *session_id, kf_buf_t *b, char *err,
                            size_t errlen) {
    holder_t *h = acquire();
    if (!h) {
        snprintf(err, errlen, "no intent model is loaded");
        return -1;
    }
    kf_nlu_result_t res;
    if (kf_nlu_predict(h->model, text, len, &res, err, errlen) < 0) return -1;
    kf_buf_puts(b, "{\"intent\":");
    kf_buf_json_str(b, res.intent, strlen(res.intent));
    kf_buf_puts(b, ",\"confidence\":");
    put_conf(b, res.confidence);
    kf_buf_puts(b, ",\"alternatives\":[");
    for (int i = 0; i < res.n_alts; i++) {
        kf_buf_puts(b, i ? ",{\"intent\":" : "{\"intent\":");
        kf_buf_json_str(b, res.alts[i].intent, strlen(res.alts[i].intent));
        kf_buf_puts(b, ",\"confidence\":");
        put_conf(b, res.alts[i].confidence);
        kf_buf_puts(b, "}");
    }
    kf_buf_puts(b, "],\"entities\":");
    put_entities(b, text, len);
    kf_buf_puts(b, res.out_of_scope ? ",\"out_of_scope\":true" : ",\"out_of_scope\":false");
    kf_buf_puts(b, ",\"model_version\":");
    const char *ver = kf_nlu_model_version(h->model);
    kf_buf_json_str(b, ver, strlen(ver));
    if (session_id) {
        kf_buf_puts(b, ",\"session_id\":");
        kf_buf_json_str(b, session_id, strlen(session_id));
    }
    kf_buf_puts(b, "}");
    if (b->oom) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int kf_intent_predict(const char *text, size_t len, kf_nlu_result_t *out, char *err, size_t errlen) {
    holder_t *h = acquire();
    if (!h) {
        snprintf(err, errlen, "no intent model is loaded");
        return -1;
    }
    return kf_nlu_predict(h->model, text, len, out, err, errlen);
}
