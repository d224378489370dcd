/* train.c — `kefu train`: gathers labelled examples from CSV files and/or
 * bot folders, optionally cross-validates, trains the intent model and
 * writes the model file (see nlu/classifier.h for the method). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bot/bot.h"
#include "cli/cli.h"
#include "cli/csv.h"
#include "nlu/classifier.h"
#include "nlu/nlu.h"

#define MAX_INPUTS 64

static const char USAGE[] =
    "usage: kefu train (--data FILE.csv | --bot DIR)... --out MODEL [--cv K] [--export-csv FILE] [--quiet]\n"
    "  --data FILE.csv     labelled examples: header row, column 1 text, column 2 label (repeatable)\n"
    "  --bot DIR           training phrases of a bot folder (repeatable)\n"
    "  --out MODEL         model file to write\n"
    "  --cv K              report K-fold cross-validation (accuracy, macro-F1, OOS)\n"
    "  --export-csv FILE   write the gathered rows as CSV (text,label)\n"
    "  --quiet             no progress bar or summary\n"
    "tuning (defaults chosen by cross-validation):\n"
    "  --solver svm|cs|lr (svm: one-vs-rest L2-SVM; cs: Crammer-Singer; lr: logistic regression)\n"
    "  --c X (1.0)  --min-df N (2)  --char-ngrams MIN-MAX (2-5, 0 = off)  --word-ngrams N (2)\n"
    "  --word-pairs N (32: unordered word pairs up to N words apart, 0 = off)  --[no-]stem (on)\n"
    "  --han-ngrams N (3)  --char-weight X (1.0)  --calib-folds N (3)  --oos-weight X (3)\n"
    "  --threshold X (fit by CV; with oos rows: on P(best intent) / (P(best intent) + P(oos)))\n"
    "  --threads N (2)  --seed N (1)  --[no-]skip-bigrams --[no-]edges --[no-]char-cross --[no-]fold-digits\n";

typedef struct {
    int tty, quiet, last_pct;
} bar_t;

static void bar(void *ud, double frac, const char *stage) {
    bar_t *b = ud;
    int pct = (int)(frac * 100 + 0.5);
    if (pct == b->last_pct) return;
    b->last_pct = pct;
    int w = 30, fill = pct * w / 100;
    fprintf(stderr, "\r%-9s [", stage);
    for (int i = 0; i < w; i++) fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %3d%%", pct);
    fflush(stderr);
}

/* Flag value, for "--name VALUE" and "--name=VALUE"; NULL if a is not --name. */
static const char *flag(int argc, char **argv, int *i, const char *name, int *bad) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] != '\0') return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "kefu train: %s needs a value\n", name);
        *bad = 1;
        return NULL;
    }
    return argv[++*i];
}

static int num(const char *name, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "kefu train: %s: expected a number in %g..%g, got '%s'\n", name, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

typedef struct {
    kf_nlu_dataset_t *d;
    char *err;
    size_t errlen;
} bot_ctx_t;

static int on_example(void *ud, const char *text, const char *label, const char *file, int line) {
    bot_ctx_t *b = ud;
    if (!label || !*label) {
        snprintf(b->err, b->errlen, "%s:%d: empty intent label", file, line);
        return -1;
    }
    if (kf_nlu_utf8_len(text, strlen(text)) < 0 || kf_nlu_utf8_len(label, strlen(label)) < 0) {
        snprintf(b->err, b->errlen, "%s:%d: invalid UTF-8", file, line);
        return -1;
    }
    if (kf_nlu_dataset_add(b->d, text, strlen(text), label, strlen(label)) < 0) {
        snprintf(b->err, b->errlen, "%s:%d: out of memory", file, line);
        return -1;
    }
    return 0;
}

static int export_csv(const kf_nlu_dataset_t *d, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "kefu train: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fputs("text,label\n", f);
    for (size_t i = 0; i < d->n; i++) {
        kf_csv_write_field(f, d->text[i]);
        fputc(',', f);
        kf_csv_write_field(f, d->label[i]);
        fputc('\n', f);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "kefu train: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int kf_cli_train(int argc, char **argv) {
    const char *data[MAX_INPUTS], *bots[MAX_INPUTS], *out = NULL, *export = NULL;
    int n_data = 0, n_bot = 0, cv = 0, quiet = 0, bad = 0;
    kf_nlu_train_opts_t o;
    kf_nlu_train_opts_default(&o);
    for (int i = 1; i < argc && !bad; i++) {
        const char *v;
        double x;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(USAGE, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            quiet = 1;
        } else if ((v = flag(argc, argv, &i, "--data", &bad))) {
            if (n_data == MAX_INPUTS) return fprintf(stderr, "kefu train: too many --data files\n"), 2;
            data[n_data++] = v;
        } else if ((v = flag(argc, argv, &i, "--bot", &bad))) {
            if (n_bot == MAX_INPUTS) return fprintf(stderr, "kefu train: too many --bot folders\n"), 2;
            bots[n_bot++] = v;
        } else if ((v = flag(argc, argv, &i, "--out", &bad))) {
            out = v;
        } else if ((v = flag(argc, argv, &i, "--export-csv", &bad))) {
            export = v;
        } else if ((v = flag(argc, argv, &i, "--cv", &bad))) {
            if (num("--cv", v, 2, 100, &x) < 0) return 2;
            cv = (int)x;
        } else if ((v = flag(argc, argv, &i, "--c", &bad))) {
            if (num("--c", v, 1e-4, 1e4, &o.C) < 0) return 2;
        } else if ((v = flag(argc, argv, &i, "--solver", &bad))) {
            if (!strcmp(v, "svm")) o.solver = KF_NLU_SOLVER_SVM;
            else if (!strcmp(v, "cs")) o.solver = KF_NLU_SOLVER_CS;
            else if (!strcmp(v, "lr")) o.solver = KF_NLU_SOLVER_LR;
            else {
                fprintf(stderr, "kefu train: --solver: expected svm, cs or lr, got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(argv[i], "--char-cross") || !strcmp(argv[i], "--no-char-cross")) {
            o.feat.char_cross = argv[i][2] == 'c';
        } else if (!strcmp(argv[i], "--skip-bigrams") || !strcmp(argv[i], "--no-skip-bigrams")) {
            o.feat.word_skip = argv[i][2] == 's';
        } else if (!strcmp(argv[i], "--edges") || !strcmp(argv[i], "--no-edges")) {
            o.feat.word_edges = argv[i][2] == 'e';
        } else if (!strcmp(argv[i], "--stem") || !strcmp(argv[i], "--no-stem")) {
            o.feat.stem = argv[i][2] == 's';
        } else if (!strcmp(argv[i], "--fold-digits") || !strcmp(argv[i], "--no-fold-digits")) {
            o.feat.fold_digits = argv[i][2] == 'f';
        } else if ((v = flag(argc, argv, &i, "--eps", &bad))) {
            if (num("--eps", v, 1e-6, 10, &o.eps) < 0) return 2;
        } else if ((v = flag(argc, argv, &i, "--min-df", &bad))) {
            if (num("--min-df", v, 1, 1000, &x) < 0) return 2;
            o.min_df = (int)x;
        } else if ((v = flag(argc, argv, &i, "--word-ngrams", &bad))) {
            if (num("--word-ngrams", v, 0, 3, &x) < 0) return 2;
            o.feat.word_max = (uint8_t)x;
        } else if ((v = flag(argc, argv, &i, "--word-pairs", &bad))) {
            if (num("--word-pairs", v, 0, 32, &x) < 0) return 2;
            o.feat.word_pairs = (uint8_t)x;
        } else if ((v = flag(argc, argv, &i, "--han-ngrams", &bad))) {
            if (num("--han-ngrams", v, 0, 4, &x) < 0) return 2;
            o.feat.han_max = (uint8_t)x;
        } else if ((v = flag(argc, argv, &i, "--char-ngrams", &bad))) {
            unsigned lo = 0, hi = 0;
            char extra;
            if (!strcmp(v, "0")) {
                o.feat.char_min = o.feat.char_max = 0;
            } else if (sscanf(v, "%u-%u%c", &lo, &hi, &extra) == 2 && lo >= 1 && lo <= hi && hi <= 8) {
                o.feat.char_min = (uint8_t)lo;
                o.feat.char_max = (uint8_t)hi;
            } else {
                fprintf(stderr, "kefu train: --char-ngrams: expected MIN-MAX within 1-8 or 0, got '%s'\n", v);
                return 2;
            }
        } else if ((v = flag(argc, argv, &i, "--char-weight", &bad))) {
            if (num("--char-weight", v, 0, 10, &x) < 0) return 2;
            o.feat.char_weight = (float)x;
        } else if ((v = flag(argc, argv, &i, "--calib-folds", &bad))) {
            if (num("--calib-folds", v, 0, 20, &x) < 0 || x == 1) {
                if (x == 1) fprintf(stderr, "kefu train: --calib-folds: 0 or at least 2\n");
                return 2;
            }
            o.calib_folds = (int)x;
        } else if ((v = flag(argc, argv, &i, "--oos-weight", &bad))) {
            if (num("--oos-weight", v, 0, 1e6, &x) < 0) return 2;
            o.oos_weight = (float)x;
        } else if ((v = flag(argc, argv, &i, "--threshold", &bad))) {
            if (num("--threshold", v, 0, 1, &x) < 0) return 2;
            o.threshold = (float)x;
        } else if ((v = flag(argc, argv, &i, "--threads", &bad))) {
            if (num("--threads", v, 1, 16, &x) < 0) return 2;
            o.threads = (int)x;
        } else if ((v = flag(argc, argv, &i, "--seed", &bad))) {
            if (num("--seed", v, 0, 4294967295.0, &x) < 0) return 2;
            o.seed = (uint32_t)x;
        } else if (!bad) {
            fprintf(stderr, "kefu train: unknown argument '%s' (see kefu train --help)\n", argv[i]);
            return 2;
        }
    }
    if (bad) return 2;
    if (n_data + n_bot == 0) {
        fprintf(stderr, "kefu train: give training data with --data FILE.csv or --bot DIR\n");
        return 2;
    }
    if (!out && !export) {
        fprintf(stderr, "kefu train: --out MODEL is required\n");
        return 2;
    }

    double t0 = now_s();
    kf_nlu_dataset_t d = {0};
    char err[512];
    int rc = 1;
    kf_nlu_model_t *m = NULL;
    for (int i = 0; i < n_data; i++)
        if (kf_cli_load_labeled_csv(data[i], &d, err, sizeof err) < 0) {
            fprintf(stderr, "kefu train: %s\n", err);
            goto done;
        }
    for (int i = 0; i < n_bot; i++) {
        bot_ctx_t ctx = {&d, err, sizeof err};
        err[0] = '\0';
        if (kf_bot_each_example(bots[i], on_example, &ctx, err, sizeof err) != 0) {
            fprintf(stderr, "kefu train: %s\n", err[0] ? err : bots[i]);
            goto done;
        }
    }
    if (export && export_csv(&d, export) < 0) goto done;
    if (!out) {
        rc = 0;
        goto done;
    }
    bar_t b = {.tty = isatty(2), .quiet = quiet, .last_pct = -1};
    if (b.tty && !quiet) {
        o.progress = bar;
        o.progress_ud = &b;
    }
    kf_nlu_cv_report_t rep = {0};
    m = kf_nlu_train(&d, &o, cv, &rep, err, sizeof err);
    if (o.progress) fputs("\r\033[K", stderr);
    if (!m) {
        fprintf(stderr, "kefu train: %s%s%s\n", n_data ? data[0] : bots[0], n_data + n_bot > 1 ? " ...: " : ": ", err);
        goto done;
    }
    if (kf_nlu_model_save(m, out, err, sizeof err) < 0) {
        fprintf(stderr, "kefu train: %s\n", err);
        goto done;
    }
    if (cv >= 2) {
        const kf_nlu_scores_t *s = &rep.scores;
        printf("cv: %d-fold  n=%zu  accuracy=%.4f  macro_f1=%.4f", rep.folds, s->n, s->accuracy, s->macro_f1);
        if (m->oos_class != KF_NLU_NO_CLASS)
            printf("  in_scope_accuracy=%.4f  oos_recall=%.4f  oos_precision=%.4f", s->in_scope_accuracy,
                   s->oos_recall, s->oos_precision);
        printf("  temperature=%.3f  threshold=%.3f  (%.1fs)\n", rep.temperature, rep.threshold, rep.seconds);
    }
    if (!quiet)
        printf("trained %zu rows, %zu intents%s, %u features in %.2fs -> %s (version %s)\n", d.n,
               kf_nlu_model_n_intents(m), m->oos_class != KF_NLU_NO_CLASS ? " + oos" : "", m->n_feat,
               now_s() - t0, out, kf_nlu_model_version(m));
    rc = 0;
done:
    kf_nlu_model_free(m);
    kf_nlu_dataset_free(&d);
    return rc;
}
