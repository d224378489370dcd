/* test_nlu_cli.c — `kefu train|eval|predict` end to end on the fixtures:
 * exit codes, error messages naming file and line, JSON output. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"

#define FIX "tests/fixtures/nlu/"

static char out_path[64], err_path[64], model_path[64];

static void setup(void) {
    long pid = (long)getpid();
    snprintf(out_path, sizeof out_path, "/tmp/kefu_cli_out_%ld", pid);
    snprintf(err_path, sizeof err_path, "/tmp/kefu_cli_err_%ld", pid);
    snprintf(model_path, sizeof model_path, "/tmp/kefu_cli_model_%ld", pid);
}

static void teardown(void) {
    unlink(out_path);
    unlink(err_path);
    unlink(model_path);
}

static char *slurp(const char *p) {
    FILE *f = fopen(p, "rb");
    if (!f) return strdup("");
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

/* Runs a subcommand with stdout/stderr captured into files. */
static int run(int (*fn)(int, char **), char **argv) {
    int argc = 0;
    while (argv[argc]) argc++;
    fflush(stdout);
    fflush(stderr);
    cr_assert_not_null(freopen(out_path, "w", stdout));
    cr_assert_not_null(freopen(err_path, "w", stderr));
    int rc = fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    return rc;
}

static void bad_file(const char *file, const char *needle) {
    char *argv[] = {"train", "--data", (char *)file, "--out", model_path, "--quiet", NULL};
    cr_assert_eq(run(kf_cli_train, argv), 1, "%s", file);
    char *e = slurp(err_path);
    cr_assert(strstr(e, needle) != NULL, "stderr [%s] lacks [%s]", e, needle);
    cr_assert_eq(access(model_path, F_OK), -1, "no model written");
    free(e);
}

Test(nlu_cli, bad_files, .init = setup, .fini = teardown) {
    bad_file(FIX "missing_label.csv", FIX "missing_label.csv:3: missing label column");
    bad_file(FIX "empty_label.csv", FIX "empty_label.csv:3: empty label");
    bad_file(FIX "bad_utf8.csv", FIX "bad_utf8.csv:3: invalid UTF-8");
    bad_file(FIX "one_class.csv", "at least two are needed");
    bad_file(FIX "one_column.csv", FIX "one_column.csv:1: header has 1 column");
    bad_file(FIX "unterminated.csv", FIX "unterminated.csv:2: unterminated quoted field");
    bad_file(FIX "does_not_exist.csv", FIX "does_not_exist.csv: No such file or directory");
}

Test(nlu_cli, bad_flags, .init = setup, .fini = teardown) {
    char *a1[] = {"train", "--bogus", NULL};
    cr_assert_eq(run(kf_cli_train, a1), 2);
    char *a2[] = {"train", "--data", NULL};
    cr_assert_eq(run(kf_cli_train, a2), 2);
    char *a3[] = {"train", "--data", FIX "small.csv", NULL};
    cr_assert_eq(run(kf_cli_train, a3), 2);
    char *e = slurp(err_path);
    cr_assert(strstr(e, "--out MODEL is required") != NULL, "%s", e);
    cr_assert_eq(strchr(e, '\n'), e + strlen(e) - 1, "one line");
    free(e);
    char *a4[] = {"train", "--data", FIX "small.csv", "--out", model_path, "--cv", "1", NULL};
    cr_assert_eq(run(kf_cli_train, a4), 2);
    char *a5[] = {"eval", "--model", model_path, NULL};
    cr_assert_eq(run(kf_cli_eval, a5), 2);
    char *a6[] = {"predict", "--nope", NULL};
    cr_assert_eq(run(kf_cli_predict, a6), 2);
    char *a7[] = {"eval", "--model", "/nonexistent.model", "--data", FIX "eval.csv", NULL};
    cr_assert_eq(run(kf_cli_eval, a7), 1);
}

Test(nlu_cli, train_eval_predict, .init = setup, .fini = teardown) {
    char *tr[] = {"train", "--data", FIX "small.csv", "--out", model_path, "--cv", "3", "--threads", "1", NULL};
    cr_assert_eq(run(kf_cli_train, tr), 0, "%s", slurp(err_path));
    char *o = slurp(out_path);
    cr_assert(strstr(o, "cv: 3-fold  n=38") != NULL, "%s", o);
    cr_assert(strstr(o, "38 rows, 3 intents + oos") != NULL, "%s", o);
    free(o);

    char *ev[] = {"eval", "--model", model_path, "--data", FIX "eval.csv", "--json", NULL};
    cr_assert_eq(run(kf_cli_eval, ev), 0, "%s", slurp(err_path));
    o = slurp(out_path);
    cJSON *j = cJSON_Parse(o);
    cr_assert_not_null(j, "%s", o);
    cr_assert_eq(cJSON_GetObjectItem(j, "n")->valuedouble, 7);
    cr_assert_eq(cJSON_GetObjectItem(j, "accuracy")->valuedouble, 1.0);
    cr_assert_eq(cJSON_GetObjectItem(j, "macro_f1")->valuedouble, 1.0);
    cr_assert_eq(cJSON_GetObjectItem(j, "in_scope_accuracy")->valuedouble, 1.0);
    cr_assert_eq(cJSON_GetObjectItem(j, "oos_recall")->valuedouble, 1.0);
    cr_assert_eq(cJSON_GetObjectItem(j, "oos_precision")->valuedouble, 1.0);
    cr_assert(cJSON_GetObjectItem(j, "latency_us_p50")->valuedouble > 0);
    cr_assert(cJSON_GetObjectItem(j, "latency_us_p99")->valuedouble >=
              cJSON_GetObjectItem(j, "latency_us_p50")->valuedouble);
    cJSON_Delete(j);
    free(o);

    char *pr[] = {"predict", "--model", model_path, "--json", "my card was stolen", NULL};
    cr_assert_eq(run(kf_cli_predict, pr), 0);
    o = slurp(out_path);
    j = cJSON_Parse(o);
    cr_assert_not_null(j, "%s", o);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "intent")->valuestring, "card_lost");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "out_of_scope")));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "alternatives")), 3);
    cJSON_Delete(j);
    free(o);

    char *ex[] = {"train", "--data", FIX "small.csv", "--export-csv", out_path, NULL};
    cr_assert_eq(run(kf_cli_train, ex), 0);
    o = slurp(out_path);
    cr_assert(strncmp(o, "text,label\nwhat is my balance,check_balance\n", 44) == 0, "%s", o);
    cr_assert(strstr(o, "\n\"balance, please\",check_balance\n") != NULL, "quoted on export");
    free(o);
}
