/* test_nlu_model.c — model file round trip, version string, and detection
 * of corrupted, truncated and foreign files (nlu/model.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/csv.h"
#include "nlu/classifier.h"
#include "nlu/model.h"
#include "nlu/nlu.h"

static char path[64];

static kf_nlu_model_t *train_small(void) {
    kf_nlu_dataset_t d = {0};
    char err[256];
    cr_assert_gt(kf_cli_load_labeled_csv("tests/fixtures/nlu/small.csv", &d, err, sizeof err), 0, "%s", err);
    kf_nlu_train_opts_t o;
    kf_nlu_train_opts_default(&o);
    o.threads = 1;
    kf_nlu_model_t *m = kf_nlu_train(&d, &o, 0, NULL, err, sizeof err);
    cr_assert_not_null(m, "%s", err);
    kf_nlu_dataset_free(&d);
    return m;
}

static void setup(void) { snprintf(path, sizeof path, "/tmp/kefu_test_model_%ld.bin", (long)getpid()); }
static void teardown(void) { unlink(path); }

static unsigned char *slurp(size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*len);
    cr_assert_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void spit(const unsigned char *b, size_t len) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, len, f), len);
    fclose(f);
}

static void expect_load_error(const char *needle) {
    char err[256] = "";
    kf_nlu_model_t *m = kf_nlu_model_load(path, err, sizeof err);
    cr_assert_null(m);
    cr_assert(strstr(err, needle) != NULL, "error [%s] lacks [%s]", err, needle);
    cr_assert(strstr(err, path) != NULL, "error [%s] names the file", err);
}

Test(nlu_model, round_trip, .init = setup, .fini = teardown) {
    kf_nlu_model_t *m = train_small();
    char err[256];
    cr_assert_eq(kf_nlu_model_save(m, path, err, sizeof err), 0, "%s", err);
    kf_nlu_model_t *l = kf_nlu_model_load(path, err, sizeof err);
    cr_assert_not_null(l, "%s", err);
    cr_assert_str_eq(kf_nlu_model_version(l), kf_nlu_model_version(m));
    cr_assert_eq(strlen(kf_nlu_model_version(l)), 12 + 1 + 16, "%s", kf_nlu_model_version(l));
    cr_assert_eq(kf_nlu_model_n_intents(l), 3);
    cr_assert_eq(l->n_feat, m->n_feat);
    cr_assert_eq(l->temperature, m->temperature);
    cr_assert_eq(l->threshold, m->threshold);
    const char *texts[] = {"lost my card", "\xE6\x88\x91\xE8\xA6\x81\xE8\xBD\xAC\xE8\xB4\xA6", "balance?", "sing a song"};
    for (int i = 0; i < 4; i++) {
        float a[4], b[4];
        cr_assert_eq(kf_nlu_predict_probs(m, texts[i], strlen(texts[i]), a, err, sizeof err), 0);
        cr_assert_eq(kf_nlu_predict_probs(l, texts[i], strlen(texts[i]), b, err, sizeof err), 0);
        cr_assert_eq(memcmp(a, b, sizeof a), 0, "identical scores for %s", texts[i]);
    }
    kf_nlu_model_free(m);
    kf_nlu_model_free(l);
}

Test(nlu_model, corruption_detected, .init = setup, .fini = teardown) {
    kf_nlu_model_t *m = train_small();
    char err[256];
    cr_assert_eq(kf_nlu_model_save(m, path, err, sizeof err), 0, "%s", err);
    kf_nlu_model_free(m);
    size_t len;
    unsigned char *b = slurp(&len);
    b[len / 2] ^= 0x10;
    spit(b, len);
    expect_load_error("checksum mismatch");
    b[len / 2] ^= 0x10;
    spit(b, len - 100);
    expect_load_error("truncated");
    spit(b, 20);
    expect_load_error("truncated");
    spit(b, 0);
    expect_load_error("bad magic");
    b[0] = 'X';
    spit(b, len);
    expect_load_error("bad magic");
    b[0] = 'K';
    b[8] = 99; /* format version */
    spit(b, len);
    expect_load_error("unsupported model format version 99");
    b[8] = 1; /* format 1 thresholded another score: must not load silently */
    spit(b, len);
    expect_load_error("unsupported model format version 1");
    b[8] = KF_NLU_MODEL_FORMAT;
    spit(b, len);
    kf_nlu_model_t *ok = kf_nlu_model_load(path, err, sizeof err);
    cr_assert_not_null(ok, "restored file loads again: %s", err);
    kf_nlu_model_free(ok);
    free(b);
}

Test(nlu_model, missing_file) {
    char err[256];
    cr_assert_null(kf_nlu_model_load("/nonexistent/dir/model.bin", err, sizeof err));
    cr_assert(strstr(err, "/nonexistent/dir/model.bin: No such file") != NULL, "%s", err);
    cr_assert_null(kf_nlu_model_load("/tmp", err, sizeof err));
    cr_assert(strstr(err, "not a regular file") != NULL, "%s", err);
}

/* kf_nlu_predict folds the softmax, the top-3 scan and (without an oos class)
 * the scope decision into one pass; it must agree with the plain reference:
 * kf_nlu_predict_probs, a sequential top 3 and kf_nlu_scope_conf. */
Test(nlu_model, predict_matches_softmax_reference) {
    kf_nlu_model_t *m = train_small();
    FILE *f = fopen("tests/fixtures/nlu/small.csv", "r");
    cr_assert_not_null(f);
    char line[512], err[256];
    int checked = 0;
    size_t n = kf_nlu_model_n_labels(m);
    float *pr = malloc(n * sizeof *pr);
    while (fgets(line, sizeof line, f)) {
        char *comma = strrchr(line, ',');
        if (!comma) continue;
        *comma = 0;
        kf_nlu_result_t r;
        cr_assert_eq(kf_nlu_predict(m, line, strlen(line), &r, err, sizeof err), 0, "%s", err);
        cr_assert_eq(kf_nlu_predict_probs(m, line, strlen(line), pr, err, sizeof err), 0, "%s", err);
        int top[3] = {-1, -1, -1};
        for (size_t c = 0; c < n; c++)
            for (int k = 0; k < 3; k++)
                if (top[k] < 0 || pr[c] > pr[top[k]]) {
                    for (int j = 2; j > k; j--) top[j] = top[j - 1];
                    top[k] = (int)c;
                    break;
                }
        cr_assert_eq(r.n_alts, n < 3 ? (int)n : 3);
        for (int k = 0; k < r.n_alts; k++) {
            cr_assert_str_eq(r.alts[k].intent, kf_nlu_model_label(m, (size_t)top[k]), "%s", line);
            cr_assert(r.alts[k].confidence == pr[top[k]], "%s: %g vs %g", line, r.alts[k].confidence, pr[top[k]]);
        }
        cr_assert(r.confidence == pr[top[0]]);
        /* small.csv has no oos rows: scope_conf is P(best) against the threshold */
        uint32_t best;
        float conf = kf_nlu_scope_conf(pr, pr, (uint32_t)n, KF_NLU_NO_CLASS, 1.0f, &best);
        cr_assert(conf == pr[top[0]]);
        checked++;
    }
    fclose(f);
    free(pr);
    cr_assert_gt(checked, 10);
    kf_nlu_model_free(m);
}
