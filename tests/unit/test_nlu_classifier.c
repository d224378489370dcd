/* test_nlu_classifier.c — training, prediction, out-of-scope, CV and the
 * evaluation metrics on the small bilingual fixture (nlu/classifier.h). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "cli/csv.h"
#include "nlu/classifier.h"
#include "nlu/nlu.h"

#define FIX "tests/fixtures/nlu/"

static kf_nlu_model_t *train_small(int cv, kf_nlu_cv_report_t *rep) {
    kf_nlu_dataset_t d = {0};
    char err[256];
    cr_assert_eq(kf_cli_load_labeled_csv(FIX "small.csv", &d, err, sizeof err), 38, "%s", err);
    kf_nlu_train_opts_t o;
    kf_nlu_train_opts_default(&o);
    o.threads = 1; /* liblinear shuffles with rand(): one thread keeps runs identical */
    kf_nlu_model_t *m = kf_nlu_train(&d, &o, cv, rep, err, sizeof err);
    cr_assert_not_null(m, "%s", err);
    kf_nlu_dataset_free(&d);
    return m;
}

static void expect(const kf_nlu_model_t *m, const char *text, const char *intent, int oos) {
    kf_nlu_result_t r;
    char err[128];
    cr_assert_eq(kf_nlu_predict(m, text, strlen(text), &r, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(r.intent, intent, "[%s] -> %s (%.3f), want %s", text, r.intent, r.confidence, intent);
    cr_assert_eq(r.out_of_scope, oos, "[%s]", text);
    cr_assert_eq(r.n_alts, 3);
    cr_assert(r.confidence > 0 && r.confidence <= 1);
    cr_assert_float_eq(r.confidence, r.alts[0].confidence, 1e-7);
    cr_assert_geq(r.alts[0].confidence, r.alts[1].confidence);
    cr_assert_geq(r.alts[1].confidence, r.alts[2].confidence);
    if (!oos) cr_assert_str_eq(r.alts[0].intent, intent);
}

Test(nlu_classifier, train_and_predict_bilingual) {
    kf_nlu_model_t *m = train_small(0, NULL);
    cr_assert_eq(kf_nlu_model_n_intents(m), 3);
    cr_assert_eq(kf_nlu_model_n_labels(m), 4);
    cr_assert_str_eq(kf_nlu_model_label(m, 0), "card_lost"); /* labels are sorted */
    cr_assert_eq(kf_nlu_model_label_index(m, "oos"), 2);
    expect(m, "what's my balance", "check_balance", 0);
    expect(m, "\xE6\x88\x91\xE7\x9A\x84\xE4\xBD\x99\xE9\xA2\x9D", "check_balance", 0);          /* 我的余额 */
    expect(m, "I lost my credit card", "card_lost", 0);
    expect(m, "\xE5\x8D\xA1\xE4\xB8\xA2\xE4\xBA\x86", "card_lost", 0);                          /* 卡丢了 */
    expect(m, "TRANSFER money to my savings", "transfer", 0);
    expect(m, "\xE8\xBD\xAC\xE8\xB4\xA6\xE7\xBB\x99\xE6\x9C\x8B\xE5\x8F\x8B", "transfer", 0); /* 转账给朋友 */
    expect(m, "tell me a funny joke", "oos", 1);
    expect(m, "\xEF\xBC\xB4\xEF\xBD\x92\xEF\xBD\x81\xEF\xBD\x8E\xEF\xBD\x93\xEF\xBD\x86\xEF\xBD\x85\xEF\xBD\x92 money", "transfer", 0); /* full-width */
    float p[4];
    char err[128];
    cr_assert_eq(kf_nlu_predict_probs(m, "lost card", 9, p, err, sizeof err), 0);
    cr_assert_float_eq(p[0] + p[1] + p[2] + p[3], 1.0f, 1e-5);
    kf_nlu_result_t r;
    cr_assert_eq(kf_nlu_predict(m, "bad \xFF", 5, &r, err, sizeof err), -1);
    cr_assert_str_eq(err, "invalid UTF-8");
    cr_assert_eq(kf_nlu_predict(m, "", 0, &r, err, sizeof err), 0); /* empty text is not an error */
    kf_nlu_model_free(m);
}

Test(nlu_classifier, cross_validation_report) {
    kf_nlu_cv_report_t rep = {0};
    kf_nlu_model_t *m = train_small(3, &rep);
    cr_assert_eq(rep.folds, 3);
    cr_assert_eq(rep.scores.n, 38);
    cr_assert_eq(rep.scores.n_oos, 8);
    cr_assert(rep.scores.accuracy >= 0.6 && rep.scores.accuracy <= 1.0, "cv accuracy %f", rep.scores.accuracy);
    cr_assert(rep.temperature > 0.05f && rep.temperature < 500.0f);
    cr_assert(rep.threshold >= 0.0f && rep.threshold < 1.0f);
    cr_assert_float_eq(m->temperature, rep.temperature, 1e-6, "model uses the CV temperature");
    cr_assert_float_eq(m->threshold, rep.threshold, 1e-6);
    kf_nlu_model_free(m);
}

Test(nlu_classifier, rejects_bad_training_sets) {
    kf_nlu_dataset_t d = {0};
    char err[256];
    kf_nlu_train_opts_t o;
    kf_nlu_train_opts_default(&o);
    cr_assert_null(kf_nlu_train(&d, &o, 0, NULL, err, sizeof err));
    cr_assert_str_eq(err, "no training data");
    kf_nlu_dataset_add(&d, "hello", 5, "greet", 5);
    kf_nlu_dataset_add(&d, "hi", 2, "greet", 5);
    cr_assert_null(kf_nlu_train(&d, &o, 0, NULL, err, sizeof err));
    cr_assert(strstr(err, "1 class") != NULL, "%s", err);
    kf_nlu_dataset_add(&d, "bad \xC3", 5, "other", 5);
    cr_assert_null(kf_nlu_train(&d, &o, 0, NULL, err, sizeof err));
    cr_assert_str_eq(err, "training row 3: invalid UTF-8");
    kf_nlu_dataset_free(&d);
}

Test(nlu_classifier, metrics_exact) {
    /* labels: 0 a, 1 b, 2 oos */
    kf_nlu_confusion_t c;
    cr_assert_eq(kf_nlu_confusion_init(&c, 3, 2), 0);
    size_t pairs[][2] = {{0, 0}, {0, 0}, {0, 1}, {1, 1}, {1, 2}, {2, 2}, {2, 0}, {2, 2}};
    for (size_t i = 0; i < 8; i++) kf_nlu_confusion_add(&c, pairs[i][0], pairs[i][1]);
    kf_nlu_scores_t s;
    kf_nlu_confusion_scores(&c, &s);
    cr_assert_eq(s.n, 8);
    cr_assert_eq(s.n_oos, 3);
    cr_assert_float_eq(s.accuracy, 5.0 / 8, 1e-12);
    cr_assert_float_eq(s.in_scope_accuracy, 3.0 / 5, 1e-12);
    cr_assert_float_eq(s.oos_recall, 2.0 / 3, 1e-12);
    cr_assert_float_eq(s.oos_precision, 2.0 / 3, 1e-12);
    /* F1: a p=2/3 r=2/3; b p=1/2 r=1/2; oos p=2/3 r=2/3 */
    cr_assert_float_eq(s.macro_f1, (2.0 / 3 + 0.5 + 2.0 / 3) / 3, 1e-12);
    double p, r, f;
    uint64_t sup;
    kf_nlu_confusion_prf(&c, 1, &p, &r, &f, &sup);
    cr_assert_float_eq(p, 0.5, 1e-12);
    cr_assert_eq(sup, 2);
    kf_nlu_confusion_free(&c);
}

static const char *const TEXTS[] = {"what is my balance", "\xE6\x88\x91\xE7\x9A\x84\xE5\x8D\xA1\xE4\xB8\xA2\xE4\xBA\x86",
                                    "send 20 dollars to mom", "play music", "lost card please help"};
#define N_TEXTS (sizeof TEXTS / sizeof *TEXTS)

typedef struct {
    const kf_nlu_model_t *m;
    kf_nlu_result_t want[N_TEXTS];
    int mismatches;
} share_t;

static void *hammer(void *arg) {
    share_t *s = arg;
    char err[64];
    for (int it = 0; it < 300; it++)
        for (size_t i = 0; i < N_TEXTS; i++) {
            kf_nlu_result_t r;
            if (kf_nlu_predict(s->m, TEXTS[i], strlen(TEXTS[i]), &r, err, sizeof err) != 0 ||
                r.intent != s->want[i].intent || r.confidence != s->want[i].confidence)
                __atomic_add_fetch(&s->mismatches, 1, __ATOMIC_RELAXED);
        }
    return NULL;
}

Test(nlu_classifier, shared_model_across_threads) {
    share_t s = {.m = train_small(0, NULL)};
    char err[64];
    for (size_t i = 0; i < N_TEXTS; i++)
        cr_assert_eq(kf_nlu_predict(s.m, TEXTS[i], strlen(TEXTS[i]), &s.want[i], err, sizeof err), 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) cr_assert_eq(pthread_create(&th[i], NULL, hammer, &s), 0);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    cr_assert_eq(s.mismatches, 0);
    kf_nlu_model_free((kf_nlu_model_t *)s.m);
}
