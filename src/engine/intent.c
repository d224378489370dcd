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

int kf_intent_ready(void) {
    pthread_mutex_lock(&lock);
    int ok = current != NULL;
    pthread_mutex_unlock(&lock);
    return ok;
}

const char *kf_intent_path(void) { return model_path; }

void kf_intent_version(char *out, size_t outlen) {
    holder_t *h = acquire();
    snprintf(out, outlen, "%s", h ? kf_nlu_model_version(h->model) : "");
}

static cJSON *entities_json(const char *text, size_t len) {
    kf_ent_t ents[16];
    int n = kf_ent_extract(NULL, text, len, time(NULL), ents, 16);
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "type", ents[i].type);
        cJSON_AddStringToObject(e, "value", ents[i].value);
        char *raw = strndup(text + ents[i].byte_start, (size_t)(ents[i].byte_end - ents[i].byte_start));
        cJSON_AddStringToObject(e, "text", raw ? raw : "");
        free(raw);
        cJSON_AddNumberToObject(e, "start", ents[i].start);
        cJSON_AddNumberToObject(e, "end", ents[i].end);
        cJSON_AddItemToArray(arr, e);
    }
    return arr;
}

static double round4(float x) { return (double)(long)((double)x * 10000.0 + 0.5) / 10000.0; }

cJSON *kf_intent_classify(const char *text, size_t len, char *err, size_t errlen) {
    holder_t *h = acquire();
    if (!h) {
        snprintf(err, errlen, "no intent model is loaded");
        return NULL;
    }
    kf_nlu_result_t res;
    if (kf_nlu_predict(h->model, text, len, &res, err, errlen) < 0) return NULL;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "intent", res.intent);
    cJSON_AddNumberToObject(doc, "confidence", round4(res.confidence));
    cJSON *alts = cJSON_AddArrayToObject(doc, "alternatives");
    for (int i = 0; i < res.n_alts; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "intent", res.alts[i].intent);
        cJSON_AddNumberToObject(a, "confidence", round4(res.alts[i].confidence));
        cJSON_AddItemToArray(alts, a);
    }
    cJSON_AddItemToObject(doc, "entities", entities_json(text, len));
    cJSON_AddBoolToObject(doc, "out_of_scope", res.out_of_scope);
    cJSON_AddStringToObject(doc, "model_version", kf_nlu_model_version(h->model));
    return doc;
}
