/* check.c — kf_bot_check (check.h): runs the bot loader (bot.c, flows.c,
 * canned.c) and the FAQ loader (kb/faq_load.c) in collect mode, so each keeps
 * going after a problem and hands every "file:line: what" here, then adds the
 * checks that need the whole loaded bot and a severity (duplicate phrases,
 * languages missing from intents, FAQ entries and canned responses, {slot}s
 * in intent responses).
 * Everything is gathered first and reported sorted, because the loaders meet
 * problems in load order (bot.yml, intents, flows, then cross-checks), which
 * is not the order an author reads the files in. */
#include "bot/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/yaml_int.h"
#include "kb/faq.h"

typedef struct {
    char *file, *msg;
    int line;
    kf_bot_check_level_t level;
    size_t order; /* keeps load order among problems on one line */
} item_t;

typedef struct {
    item_t *v;
    size_t n, cap;
    int oom;
} list_t;

static void add_item(list_t *l, kf_bot_check_level_t level, const char *file, size_t file_len, int line,
                     const char *msg) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 32;
        item_t *v = realloc(l->v, nc * sizeof *v);
        if (!v) {
            l->oom = 1;
            return;
        }
        l->v = v;
        l->cap = nc;
    }
    item_t *it = &l->v[l->n];
    it->file = strndup(file, file_len);
    it->msg = strdup(msg);
    if (!it->file || !it->msg) {
        free(it->file);
        free(it->msg);
        l->oom = 1;
        return;
    }
    it->line = line;
    it->level = level;
    it->order = l->n++;
}

static void add(list_t *l, kf_bot_check_level_t level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void add(list_t *l, kf_bot_check_level_t level, const char *file, int line, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    add_item(l, level, file, strlen(file), line, msg);
}

/* A loader's "file:line: what" (or "path: what" for a file or folder it could
 * not open) split back into its parts: the first ":DIGITS: " ends the file. */
static void loader_error(void *ud, const char *s) {
    list_t *l = ud;
    for (const char *p = strchr(s, ':'); p; p = strchr(p + 1, ':')) {
        const char *d = p + 1;
        while (*d >= '0' && *d <= '9') d++;
        if (d > p + 1 && d[0] == ':' && d[1] == ' ') {
            add_item(l, KF_BOT_CHECK_ERROR, s, (size_t)(p - s), atoi(p + 1), d + 2);
            return;
        }
    }
    const char *sep = strstr(s, ": ");
    if (sep) add_item(l, KF_BOT_CHECK_ERROR, s, (size_t)(sep - s), 0, sep + 2);
    else add_item(l, KF_BOT_CHECK_ERROR, "", 0, 0, s);
}

/* ---- training phrases --------------------------------------------------- */

static int cmp_phrase(const void *a, const void *b) {
    const example_t *x = *(example_t *const *)a, *y = *(example_t *const *)b;
    int r = strcmp(x->lang, y->lang);
    if (!r) r = strcmp(x->text, y->text);
    if (!r) r = x < y ? -1 : x > y; /* load order */
    return r;
}

/* Within one run of equal (language, text): a repeat inside an intent is a
 * warning (the loader trains on it once); in another intent, an error. */
static void check_run(const kf_bot_t *b, example_t **v, size_t from, size_t to, list_t *l) {
    for (size_t i = from + 1; i < to; i++) {
        const example_t *x = v[i], *same = NULL;
        for (size_t j = from; j < i && !same; j++)
            if (v[j]->intent == x->intent) same = v[j];
        if (same)
            add(l, KF_BOT_CHECK_WARNING, x->file, x->line,
                "training phrase '%s' is already in intent '%s' (%s:%d); the copy is ignored", x->text,
                b->intents[x->intent].name, same->file, same->line);
        else
            add(l, KF_BOT_CHECK_ERROR, x->file, x->line, "training phrase '%s' is in intent '%s' and in intent '%s' (%s:%d)",
                x->text, b->intents[x->intent].name, b->intents[v[from]->intent].name, v[from]->file, v[from]->line);
    }
}

static void check_phrases(const kf_bot_t *b, list_t *l) {
    if (!b->n_ex) return;
    example_t **v = malloc(b->n_ex * sizeof *v);
    if (!v) {
        l->oom = 1;
        return;
    }
    for (size_t i = 0; i < b->n_ex; i++) v[i] = &b->ex[i];
    qsort(v, b->n_ex, sizeof *v, cmp_phrase);
    for (size_t from = 0, to; from < b->n_ex; from = to) {
        for (to = from + 1; to < b->n_ex && !strcmp(v[to]->lang, v[from]->lang) && !strcmp(v[to]->text, v[from]->text);
             to++) {}
        check_run(b, v, from, to, l);
    }
    free(v);
}

/* An intent the classifier never saw cannot be recognised (error); one
 * missing a language is not recognised in that language (warning). */
static void check_empty(const kf_bot_t *b, list_t *l) {
    for (size_t i = 0; i < b->n_intents; i++) {
        const intent_t *in = &b->intents[i];
        if (in->broken) continue; /* its loader error is reported already */
        if (!in->n_ex) {
            add(l, KF_BOT_CHECK_ERROR, in->file, in->line, "intent '%s' has no training phrases", in->name);
            continue;
        }
        for (size_t k = 0; k < b->n_langs; k++) {
            size_t n = 0;
            for (size_t e = in->first_ex; e < in->first_ex + in->n_ex; e++) n += !strcmp(b->ex[e].lang, b->langs[k]);
            if (!n)
                add(l, KF_BOT_CHECK_WARNING, in->file, in->line, "intent '%s' has no training phrases in '%s'", in->name,
                    b->langs[k]);
        }
    }
}

/* ---- {slot}s in intent responses ----------------------------------------- */

typedef struct {
    const char *bad;
    size_t bad_len;
} unknown_t;

/* What the engine fills in an intent's response (engine/conv_reply.c): the
 * customer's name and the intent's agent skill.  A flow's slots are only
 * filled in that flow's own texts, which flows.c checks. */
static const char *engine_slot(void *ud, const char *name, size_t len) {
    unknown_t *u = ud;
    if ((len == 4 && !memcmp(name, "name", 4)) || (len == 5 && !memcmp(name, "skill", 5))) return "";
    if (!u->bad) {
        u->bad = name;
        u->bad_len = len;
    }
    return "";
}

/* The engine picks, among a response's variations, one with the fewest
 * {slot}s it cannot fill (engine/conv_reply.c).  A variation using a
 * slot nothing fills is therefore never said while a clean one exists
 * (warning: dead text), and when none is clean the customer gets blanks
 * (error). */
static void check_templates(const kf_bot_t *b, list_t *l) {
    for (size_t i = 0; i < b->n_resps; i++) {
        const resp_t *r = &b->resps[i];
        unknown_t first = {NULL, 0};
        size_t n_bad = 0;
        for (size_t v = 0; v < r->r.n_variations; v++) {
            unknown_t u = {NULL, 0};
            kf_boty_scan_template(r->r.variations[v].text, engine_slot, &u, NULL, NULL);
            if (u.bad && !n_bad++) first = u;
        }
        if (!n_bad) continue;
        if (n_bad == r->r.n_variations)
            add(l, KF_BOT_CHECK_ERROR, r->file, r->line,
                "unknown slot '{%.*s}' in the '%s' response of intent '%s': no variation can be said without blanks "
                "(only {name} and {skill} are filled there)",
                (int)first.bad_len, first.bad, r->r.lang, r->r.intent);
        else
            add(l, KF_BOT_CHECK_WARNING, r->file, r->line,
                "unknown slot '{%.*s}' in the '%s' response of intent '%s': %zu of its %zu variations are never said "
                "(only {name} and {skill} are filled there)",
                (int)first.bad_len, first.bad, r->r.lang, r->r.intent, n_bad, r->r.n_variations);
    }
}

/* ---- canned responses ----------------------------------------------------- */

/* An agent serving a customer in that language finds no text to pick:
 * allowed (not every bank writes everything twice), but likely an oversight. */
static void check_canned(const kf_bot_t *b, list_t *l) {
    for (size_t i = 0; i < b->n_canned; i++)
        for (size_t k = 0; k < b->n_langs; k++)
            if (!b->canned[i].c.text[k])
                add(l, KF_BOT_CHECK_WARNING, b->canned[i].file, b->canned[i].line,
                    "canned response '%s' has no text in '%s'", b->canned[i].c.id, b->langs[k]);
}

/* ---- FAQ ---------------------------------------------------------------- */

static void check_faq(const char *dir, const kf_bot_t *b, list_t *l) {
    kf_faq_t *faq = kf_faq_load_collect(dir, loader_error, l);
    for (size_t i = 0; b && i < kf_faq_count(faq); i++) {
        const kf_faq_entry_t *e = kf_faq_entry(faq, i);
        for (size_t k = 0; k < b->n_langs; k++)
            if (!kf_faq_lang(e, b->langs[k]))
                add(l, KF_BOT_CHECK_WARNING, e->file, e->line, "FAQ entry '%s' has no answer in '%s'", e->id, b->langs[k]);
        for (size_t k = 0; k < e->n_langs; k++)
            if (!kf_boty_in_list(b->langs, b->n_langs, e->langs[k].lang))
                add(l, KF_BOT_CHECK_WARNING, e->file, e->line,
                    "FAQ entry '%s' is written in '%s', which is not in bot.yml languages", e->id, e->langs[k].lang);
    }
    kf_faq_free(faq);
}

/* ---- report ------------------------------------------------------------- */

static int cmp_item(const void *a, const void *b) {
    const item_t *x = a, *y = b;
    int r = strcmp(x->file, y->file);
    if (!r) r = (x->line > y->line) - (x->line < y->line);
    if (!r) r = (x->order > y->order) - (x->order < y->order);
    return r;
}

int kf_bot_check_format(const kf_bot_check_item_t *it, char *out, size_t outlen) {
    const char *lv = it->level == KF_BOT_CHECK_ERROR ? "error" : "warning";
    if (it->line > 0) return snprintf(out, outlen, "%s:%d: %s: %s", it->file, it->line, lv, it->message);
    return snprintf(out, outlen, "%s: %s: %s", it->file, lv, it->message);
}

int kf_bot_check(const char *dir, kf_bot_check_fn fn, void *ud, kf_bot_check_counts_t *counts) {
    list_t l = {0};
    kf_bot_t *b = kf_boty_load_collect(dir, loader_error, &l);
    if (b) {
        check_phrases(b, &l);
        check_empty(b, &l);
        check_templates(b, &l);
        check_canned(b, &l);
    }
    check_faq(dir, b, &l);
    kf_bot_free(b);
    if (l.n) qsort(l.v, l.n, sizeof *l.v, cmp_item);
    kf_bot_check_counts_t c = {0, 0};
    for (size_t i = 0; i < l.n; i++) {
        kf_bot_check_item_t it = {l.v[i].file, l.v[i].line, l.v[i].level, l.v[i].msg};
        if (it.level == KF_BOT_CHECK_ERROR) c.errors++;
        else c.warnings++;
        if (fn) fn(ud, &it);
        free(l.v[i].file);
        free(l.v[i].msg);
    }
    free(l.v);
    if (counts) *counts = c;
    return l.oom ? -1 : 0;
}
