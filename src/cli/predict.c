/* predict.c — `kefu predict`: classifies texts given on the command line,
 * or one per line from stdin, and prints intent, confidence and the top
 * alternatives (text or JSON lines). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "nlu/nlu.h"

static const char USAGE[] =
    "usage: kefu predict --model MODEL [--json] [TEXT...]\n"
    "  reads one text per line from stdin when no TEXT is given\n";

static int show(const kf_nlu_model_t *m, const char *text, size_t len, int json, long line) {
    kf_nlu_result_t r;
    char err[256];
    if (kf_nlu_predict(m, text, len, &r, err, sizeof err) < 0) {
        if (line > 0) fprintf(stderr, "kefu predict: stdin:%ld: %s\n", line, err);
        else fprintf(stderr, "kefu predict: %s\n", err);
        return -1;
    }
    if (json) {
        cJSON *o = cJSON_CreateObject(), *alts = cJSON_CreateArray();
        cJSON_AddStringToObject(o, "text", text);
        cJSON_AddStringToObject(o, "intent", r.intent);
        cJSON_AddNumberToObject(o, "confidence", (double)r.confidence);
        cJSON_AddBoolToObject(o, "out_of_scope", r.out_of_scope);
        for (int k = 0; k < r.n_alts; k++) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddStringToObject(a, "intent", r.alts[k].intent);
            cJSON_AddNumberToObject(a, "confidence", (double)r.alts[k].confidence);
            cJSON_AddItemToArray(alts, a);
        }
        cJSON_AddItemToObject(o, "alternatives", alts);
        char *s = cJSON_PrintUnformatted(o);
        if (s) puts(s);
        free(s);
        cJSON_Delete(o);
    } else {
        printf("%s\t%.3f", r.intent, (double)r.confidence);
        for (int k = 0; k < r.n_alts; k++) printf("\t%s:%.3f", r.alts[k].intent, (double)r.alts[k].confidence);
        putchar('\n');
    }
    return 0;
}

int kf_cli_predict(int argc, char **argv) {
    const char *model_path = NULL;
    int json = 0, first_text = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            first_text = i + 1;
            break;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--model")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "kefu predict: --model needs a value\n");
                return 2;
            }
            model_path = argv[++i];
        } else if (!strncmp(a, "--model=", 8)) {
            model_path = a + 8;
        } else if (!strncmp(a, "--", 2)) {
            fprintf(stderr, "kefu predict: unknown flag '%s' (see kefu predict --help)\n", a);
            return 2;
        } else {
            first_text = i;
            break;
        }
    }
    if (!model_path) {
        fprintf(stderr, "kefu predict: --model MODEL is required\n");
        return 2;
    }
    char err[512];
    kf_nlu_model_t *m = kf_nlu_model_load(model_path, err, sizeof err);
    if (!m) {
        fprintf(stderr, "kefu predict: %s\n", err);
        return 1;
    }
    int rc = 0;
    if (first_text < argc) {
        for (int i = first_text; i < argc; i++)
            if (show(m, argv[i], strlen(argv[i]), json, 0) < 0) rc = 1;
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        long ln = 0;
        while ((n = getline(&line, &cap, stdin)) >= 0) {
            ln++;
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
            if (show(m, line, (size_t)n, json, ln) < 0) rc = 1;
            fflush(stdout);
        }
        free(line);
    }
    kf_nlu_model_free(m);
    return rc;
}
