/* eval.c — `kefu eval`: scores a model file on a labelled CSV file:
 * accuracy, macro-F1, per-intent precision/recall/F1, the most confused
 * pairs, out-of-scope recall/precision and per-query predict latency. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "cli/csv.h"
#include "nlu/classifier.h"
#include "nlu/nlu.h"

static const char USAGE[] =
    "usage: kefu eval --model MODEL --data FILE.csv [--json] [--top N]\n"
    "  --model MODEL     model file from kefu train\n"
    "  --data FILE.csv   labelled rows (header; column 1 text, column 2 label; label oos = out of scope)\n"
    "  --json            one JSON object instead of the report\n"
    "  --top N           most confused pairs to list (default 10)\n";

typedef struct {
    const char **name;
    size_t n, cap;
} labels_t;

static long label_id(const kf_nlu_model_t *m, labels_t *l, const char *s) {
    long i = kf_nlu_model_label_index(m, s);
    if (i >= 0) return i;
    for (size_t k = kf_nlu_model_n_labels(m); k < l->n; k++)
        if (!strcmp(l->name[k], s)) return (long)k;
    if (l->n == l->cap) {
        size_t cap = l->cap * 2;
        const char **nn = realloc(l->name, cap * sizeof *nn);
        if (!nn) return -1;
        l->name = nn;
        l->cap = cap;
    }
    l->name[l->n] = s;
    return (long)l->n++;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    uint64_t count;
    size_t gold, pred;
} pair_t;

static int cmp_pair(const void *a, const void *b) {
    const pair_t *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return x->gold != y->gold ? (x->gold < y->gold ? -1 : 1) : (x->pred < y->pred ? -1 : x->pred > y->pred);
}

static double pct(const double *v, size_t n, double q) {
    if (!n) return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

int kf_cli_eval(int argc, char **argv) {
    const char *model_path = NULL, *data = NULL;
    int json = 0, top = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--model") || !strcmp(a, "--data") || !strcmp(a, "--top")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "kefu eval: %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--model")) model_path = v;
            else if (!strcmp(a, "--data")) data = v;
            else {
                char *end;
                long t = strtol(v, &end, 10);
                if (end == v || *end || t < 0 || t > 100000) {
                    fprintf(stderr, "kefu eval: --top: expected a count, got '%s'\n", v);
                    return 2;
                }
                top = (int)t;
            }
        } else if (!strncmp(a, "--model=", 8)) {
            model_path = a + 8;
        } else if (!strncmp(a, "--data=", 7)) {
            data = a + 7;
        } else {
            fprintf(stderr, "kefu eval: unknown argument '%s' (see kefu eval --help)\n", a);
            return 2;
        }
    }
    if (!model_path || !data) {
        fprintf(stderr, "kefu eval: --model MODEL and --data FILE.csv are required\n");
        return 2;
    }
    char err[512];
    kf_nlu_model_t *m = kf_nlu_model_load(model_path, err, sizeof err);
    if (!m) {
        fprintf(stderr, "kefu eval: %s\n", err);
        return 1;
    }
    kf_nlu_dataset_t d = {0};
    int rc = 1;
    labels_t L = {0};
    double *lat = NULL;
    kf_nlu_confusion_t cm = {0};
    pair_t *pairs = NULL;
    if (kf_cli_load_labeled_csv(data, &d, err, sizeof err) < 0) {
        fprintf(stderr, "kefu eval: %s\n", err);
        goto done;
    }
    if (d.n == 0) {
        fprintf(stderr, "kefu eval: %s: no rows\n", data);
        goto done;
    }
    size_t nl = kf_nlu_model_n_labels(m);
    L.cap = nl + 16;
    L.name = malloc(L.cap * sizeof *L.name);
    lat = malloc(d.n * sizeof *lat);
    size_t *gold = malloc(d.n * sizeof *gold), *pred = malloc(d.n * sizeof *pred);
    if (!L.name || !lat || !gold || !pred) {
        free(gold);
        free(pred);
        fprintf(stderr, "kefu eval: out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < nl; i++) L.name[i] = kf_nlu_model_label(m, i);
    L.n = nl;
    long oos = label_id(m, &L, KF_NLU_OOS);
    for (size_t i = 0; i < d.n; i++) {
        kf_nlu_result_t r;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int ok = kf_nlu_predict(m, d.text[i], strlen(d.text[i]), &r, err, sizeof err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        lat[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
        long g = label_id(m, &L, d.label[i]), p = ok == 0 ? label_id(m, &L, r.intent) : oos;
        if (g < 0 || p < 0) {
            free(gold);
            free(pred);
            fprintf(stderr, "kefu eval: out of memory\n");
            goto done;
        }
        gold[i] = (size_t)g;
        pred[i] = (size_t)p;
    }
    if (kf_nlu_confusion_init(&cm, L.n, oos) < 0) {
        free(gold);
        free(pred);
        fprintf(stderr, "kefu eval: out of memory\n");
        goto done;
    }
    int has_oos = 0;
    for (size_t i = 0; i < d.n; i++) {
        kf_nlu_confusion_add(&cm, gold[i], pred[i]);
        has_oos |= (long)gold[i] == oos;
    }
    free(gold);
    free(pred);
    kf_nlu_scores_t s;
    kf_nlu_confusion_scores(&cm, &s);
    qsort(lat, d.n, sizeof *lat, cmp_double);
    double p50 = pct(lat, d.n, 0.5), p99 = pct(lat, d.n, 0.99), mean = 0;
    /* The mean is what a server's throughput sees (long texts weigh in). */
    for (size_t i = 0; i < d.n; i++) mean += lat[i];
    mean = d.n ? mean / (double)d.n : 0;
    size_t np = 0;
    pairs = malloc((L.n ? L.n * L.n : 1) * sizeof *pairs);
    if (!pairs) goto done;
    for (size_t g = 0; g < L.n; g++)
        for (size_t p = 0; p < L.n; p++)
            if (g != p && cm.cm[g * L.n + p]) pairs[np++] = (pair_t){cm.cm[g * L.n + p], g, p};
    qsort(pairs, np, sizeof *pairs, cmp_pair);
    if ((size_t)top < np) np = (size_t)top;

    if (json) {
        cJSON *o = cJSON_CreateObject(), *pi = cJSON_CreateObject(), *cf = cJSON_CreateArray();
        cJSON_AddNumberToObject(o, "n", (double)s.n);
        cJSON_AddNumberToObject(o, "accuracy", s.accuracy);
        cJSON_AddNumberToObject(o, "macro_f1", s.macro_f1);
        cJSON_AddNumberToObject(o, "in_scope_accuracy", s.in_scope_accuracy);
        cJSON_AddNumberToObject(o, "n_oos", (double)s.n_oos);
        cJSON_AddNumberToObject(o, "oos_recall", s.oos_recall);
        cJSON_AddNumberToObject(o, "oos_precision", s.oos_precision);
        cJSON_AddNumberToObject(o, "latency_us_p50", p50);
        cJSON_AddNumberToObject(o, "latency_us_p99", p99);
        cJSON_AddNumberToObject(o, "latency_us_mean", mean);
        cJSON_AddStringToObject(o, "model_version", kf_nlu_model_version(m));
        for (size_t i = 0; i < L.n; i++) {
            double P, R, F;
            uint64_t sup;
            kf_nlu_confusion_prf(&cm, i, &P, &R, &F, &sup);
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "precision", P);
            cJSON_AddNumberToObject(e, "recall", R);
            cJSON_AddNumberToObject(e, "f1", F);
            cJSON_AddNumberToObject(e, "support", (double)sup);
            cJSON_AddItemToObject(pi, L.name[i], e);
        }
        cJSON_AddItemToObject(o, "per_intent", pi);
        for (size_t k = 0; k < np; k++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "gold", L.name[pairs[k].gold]);
            cJSON_AddStringToObject(e, "predicted", L.name[pairs[k].pred]);
            cJSON_AddNumberToObject(e, "count", (double)pairs[k].count);
            cJSON_AddItemToArray(cf, e);
        }
        cJSON_AddItemToObject(o, "confused", cf);
        char *txt = cJSON_PrintUnformatted(o);
        if (txt) puts(txt);
        free(txt);
        cJSON_Delete(o);
    } else {
        printf("model %s  data %s\n", kf_nlu_model_version(m), data);
        printf("n=%zu  accuracy=%.4f  macro_f1=%.4f\n", s.n, s.accuracy, s.macro_f1);
        if (has_oos || m->oos_class != KF_NLU_NO_CLASS)
            printf("in_scope_accuracy=%.4f  oos_recall=%.4f  oos_precision=%.4f  (oos rows: %zu)\n",
                   s.in_scope_accuracy, s.oos_recall, s.oos_precision, s.n_oos);
        printf("latency_us p50=%.2f p99=%.2f mean=%.2f\n\n", p50, p99, mean);
        printf("%-36s %9s %9s %9s %8s\n", "intent", "precision", "recall", "f1", "support");
        for (size_t i = 0; i < L.n; i++) {
            double P, R, F;
            uint64_t sup;
            kf_nlu_confusion_prf(&cm, i, &P, &R, &F, &sup);
            int predicted = 0;
            for (size_t g = 0; g < L.n; g++) predicted |= cm.cm[g * L.n + i] != 0;
            if (!sup && !predicted) continue;
            printf("%-36s %9.4f %9.4f %9.4f %8llu\n", L.name[i], P, R, F, (unsigned long long)sup);
        }
        if (np) printf("\nmost confused (gold -> predicted):\n");
        for (size_t k = 0; k < np; k++)
            printf("  %4llu  %s -> %s\n", (unsigned long long)pairs[k].count, L.name[pairs[k].gold],
                   L.name[pairs[k].pred]);
    }
    rc = 0;
done:
    free(pairs);
    kf_nlu_confusion_free(&cm);
    free(lat);
    free(L.name);
    kf_nlu_dataset_free(&d);
    kf_nlu_model_free(m);
    return rc;
}
