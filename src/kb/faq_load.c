/* faq_load.c — reads a bot's FAQ folder (<botdir>/faq/NAME.yml, format in
 * bots/README.md) with libyaml's document API into kf_faq_t, validating as it
 * goes.  Every error carries the file and line from libyaml's marks, so an
 * author can jump straight to the mistake.  Duplicate questions are found
 * after all files are read, on normalised text (kf_nlu_normalize), because
 * "What's X?" and "what's x" would be the same document to the index. */
#include "kb/faq.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "nlu/normalize.h"

struct kf_faq {
    kf_faq_diag_fn diag; /* collect mode (kefu check): errors go here and loading goes on */
    void *diag_ud;
    kf_faq_entry_t *entries;
    size_t n_entries, cap_entries;
    void **allocs; /* every string and array the entries point into */
    size_t n_allocs, cap_allocs;
};

typedef struct {
    kf_faq_t *f;
    const char *file;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
} ctx_t;

static int grow(void **arr, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, nc * elem);
    if (!p) return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* After a failed part: in collect mode reports err, clears it and returns 0
 * (go on with the next entry or file); otherwise returns -1 (stop). */
static int caught(kf_faq_t *f, char *err) {
    if (!f->diag) return -1;
    if (err[0]) f->diag(f->diag_ud, err);
    err[0] = '\0';
    return 0;
}

static int line_of(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 1; }

static int fail(ctx_t *c, const yaml_node_t *n, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    set_err(c->err, c->errlen, "%s:%d: %s", c->file, line_of(n), msg);
    return -1;
}

/* Owned by the FAQ: freed with it, and on failure nothing leaks. */
static void *own(kf_faq_t *f, void *p) {
    if (!p) return NULL;
    if (grow((void **)&f->allocs, &f->cap_allocs, f->n_allocs, sizeof *f->allocs)) {
        free(p);
        return NULL;
    }
    f->allocs[f->n_allocs++] = p;
    return p;
}

static char *keep(kf_faq_t *f, const char *s) { return own(f, strdup(s)); }

static yaml_node_t *node(ctx_t *c, int id) { return yaml_document_get_node(c->doc, id); }

static const char *kind(const yaml_node_t *n) {
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

/* libyaml keeps a repeated key silently; the author almost surely meant one. */
static int want(ctx_t *c, const yaml_node_t *n, yaml_node_type_t t, const char *what) {
    if (n->type != t) {
        const char *tn = t == YAML_SCALAR_NODE ? "a string" : t == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
        return fail(c, n, "%s must be %s, not %s", what, tn, kind(n));
    }
    if (t != YAML_MAPPING_NODE) return 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(c, p->key);
        if (k->type != YAML_SCALAR_NODE) return fail(c, k, "a key must be a string, not %s", kind(k));
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *o = node(c, q->key);
            if (o->data.scalar.length == k->data.scalar.length &&
                !memcmp(o->data.scalar.value, k->data.scalar.value, k->data.scalar.length))
                return fail(c, k, "key '%s' given twice (first at line %d)", (const char *)k->data.scalar.value,
                            line_of(o));
        }
    }
    return 0;
}

/* A non-empty string scalar without NUL bytes; a quoted "" is empty too. */
static int str(ctx_t *c, const yaml_node_t *n, const char *what, const char **out) {
    if (want(c, n, YAML_SCALAR_NODE, what)) return -1;
    const char *s = (const char *)n->data.scalar.value;
    if (n->data.scalar.length == 0) return fail(c, n, "%s must not be empty", what);
    if (strlen(s) != n->data.scalar.length) return fail(c, n, "%s contains a NUL byte", what);
    if (kf_nlu_utf8_len(s, n->data.scalar.length) < 0) return fail(c, n, "%s is not valid UTF-8", what);
    *out = s;
    return 0;
}

static int id_ok(const char *s) {
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return 0;
    return *s != 0;
}

/* Language codes as in bot.yml: "en", "zh", "pt-br" — letters first. */
static int lang_ok(const char *s) {
    size_t n = strlen(s);
    if (n < 2 || n > 16 || !(s[0] >= 'a' && s[0] <= 'z')) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')) return 0;
    return 1;
}

static size_t n_items(const yaml_node_t *n) { return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start); }
static size_t n_pairs(const yaml_node_t *n) { return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start); }

static int load_tags(ctx_t *c, yaml_node_t *v, kf_faq_entry_t *e) {
    if (want(c, v, YAML_SEQUENCE_NODE, "tags")) return -1;
    size_t n = n_items(v);
    const char **tags = own(c->f, calloc(n ? n : 1, sizeof *tags));
    if (!tags) return fail(c, v, "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *t = node(c, v->data.sequence.items.start[i]);
        const char *s;
        if (str(c, t, "a tag", &s)) return -1;
        if (!(tags[i] = keep(c->f, s))) return fail(c, t, "out of memory");
    }
    e->tags = tags;
    e->n_tags = n;
    return 0;
}

/* questions: {lang: [text, ...]} — fills langs[] in file order. */
static int load_questions(ctx_t *c, yaml_node_t *v, kf_faq_lang_t *langs, yaml_node_t **keys) {
    for (size_t i = 0; i < n_pairs(v); i++) {
        yaml_node_pair_t *p = &v->data.mapping.pairs.start[i];
        yaml_node_t *k = node(c, p->key), *list = node(c, p->value);
        const char *lang;
        if (str(c, k, "a language", &lang)) return -1;
        if (!lang_ok(lang)) return fail(c, k, "'%s' is not a language code (like en, zh)", lang);
        if (want(c, list, YAML_SEQUENCE_NODE, "the questions of a language")) return -1;
        size_t n = n_items(list);
        if (!n) return fail(c, list, "no questions in '%s'", lang);
        const char **qs = own(c->f, calloc(n, sizeof *qs));
        int *lines = own(c->f, calloc(n, sizeof *lines));
        if (!qs || !lines || !(langs[i].lang = keep(c->f, lang))) return fail(c, k, "out of memory");
        for (size_t j = 0; j < n; j++) {
            yaml_node_t *q = node(c, list->data.sequence.items.start[j]);
            const char *s;
            if (str(c, q, "a question", &s)) return -1;
            if (!(qs[j] = keep(c->f, s))) return fail(c, q, "out of memory");
            lines[j] = line_of(q);
        }
        langs[i].questions = qs;
        langs[i].question_lines = lines;
        langs[i].n_questions = n;
        keys[i] = k;
    }
    return 0;
}

static int load_entry(ctx_t *c, yaml_node_t *n) {
    kf_faq_t *f = c->f;
    if (want(c, n, YAML_MAPPING_NODE, "an FAQ entry")) return -1;
    kf_faq_entry_t e = {.file = c->file, .line = line_of(n)};
    yaml_node_t *qn = NULL, *an = NULL, *idn = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
        const char *key = (const char *)k->data.scalar.value;
        if (!strcmp(key, "id")) {
            if (str(c, v, "id", &e.id)) return -1;
            if (!id_ok(e.id)) return fail(c, v, "id '%s': use lower-case letters, digits and '_'", e.id);
            idn = v;
        } else if (!strcmp(key, "tags")) {
            if (load_tags(c, v, &e)) return -1;
        } else if (!strcmp(key, "questions")) {
            if (want(c, v, YAML_MAPPING_NODE, "questions")) return -1;
            qn = v;
        } else if (!strcmp(key, "answers")) {
            if (want(c, v, YAML_MAPPING_NODE, "answers")) return -1;
            an = v;
        } else {
            return fail(c, k, "unknown key '%s' in an FAQ entry (id, tags, questions, answers)", key);
        }
    }
    if (!e.id) return fail(c, n, "FAQ entry has no 'id'");
    for (size_t i = 0; i < f->n_entries; i++)
        if (!strcmp(f->entries[i].id, e.id))
            return fail(c, idn, "FAQ id '%s' given twice (first at %s:%d)", e.id, f->entries[i].file,
                        f->entries[i].line);
    if (!(e.id = keep(f, e.id))) return fail(c, n, "out of memory");
    if (!qn || !n_pairs(qn)) return fail(c, qn ? qn : n, "FAQ entry '%s' has no questions", e.id);

    size_t nl = n_pairs(qn);
    kf_faq_lang_t *langs = own(f, calloc(nl, sizeof *langs));
    yaml_node_t **qkeys = calloc(nl, sizeof *qkeys);
    int rc = !langs || !qkeys ? fail(c, qn, "out of memory") : load_questions(c, qn, langs, qkeys);
    if (!rc && an) {
        if (want(c, an, YAML_MAPPING_NODE, "answers")) rc = -1;
        for (yaml_node_pair_t *p = an->data.mapping.pairs.start; !rc && p < an->data.mapping.pairs.top; p++) {
            yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
            const char *lang = (const char *)k->data.scalar.value, *text;
            size_t i = 0;
            while (i < nl && strcmp(langs[i].lang, lang)) i++;
            if (i == nl)
                rc = fail(c, k, "answer in '%s' but entry '%s' has no questions in '%s'", lang, e.id, lang);
            else if (str(c, v, "an answer", &text))
                rc = -1;
            else if (!(langs[i].answer = keep(f, text)))
                rc = fail(c, v, "out of memory");
        }
    }
    for (size_t i = 0; !rc && i < nl; i++)
        if (!langs[i].answer)
            rc = fail(c, qkeys[i], "questions in '%s' but entry '%s' has no answer in '%s'", langs[i].lang, e.id,
                      langs[i].lang);
    free(qkeys);
    if (rc) return -1;
    e.langs = langs;
    e.n_langs = nl;
    if (grow((void **)&f->entries, &f->cap_entries, f->n_entries, sizeof *f->entries)) return fail(c, n, "out of memory");
    f->entries[f->n_entries++] = e;
    return 0;
}

static int load_root(ctx_t *c, yaml_node_t *root) {
    if (want(c, root, YAML_MAPPING_NODE, "an FAQ file")) return -1;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
        const char *key = (const char *)k->data.scalar.value;
        if (strcmp(key, "faq")) return fail(c, k, "unknown key '%s' in an FAQ file (faq)", key);
        if (want(c, v, YAML_SEQUENCE_NODE, "faq")) return -1;
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
            if (load_entry(c, node(c, *it)) && caught(c->f, c->err)) return -1;
    }
    return 0;
}

static int load_file(kf_faq_t *f, const char *path, char *err, size_t errlen) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return caught(f, err);
    }
    char *file = keep(f, path);
    if (!file) {
        fclose(fp);
        set_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    ctx_t c = {f, file, NULL, err, errlen};
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, fp);
    int rc = 0;
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            set_err(err, errlen, "%s:%d: %s%s%s", path, (int)parser.problem_mark.line + 1,
                    parser.problem ? parser.problem : "malformed YAML", parser.context ? " " : "",
                    parser.context ? parser.context : "");
            rc = caught(f, err); /* libyaml cannot go on after a syntax error */
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root) { /* end of stream; an empty file is an empty FAQ */
            yaml_document_delete(&doc);
            break;
        }
        c.doc = &doc;
        rc = load_root(&c, root);
        yaml_document_delete(&doc);
        if (rc && (rc = caught(f, err))) break;
    }
    yaml_parser_delete(&parser);
    fclose(fp);
    return rc;
}

typedef struct {
    const char *lang, *file;
    char *norm;
    int line;
    size_t order;
} qkey_t;

static int cmp_qkey(const void *a, const void *b) {
    const qkey_t *x = a, *y = b;
    int r = strcmp(x->lang, y->lang);
    if (!r) r = strcmp(x->norm, y->norm);
    return r ? r : (x->order > y->order) - (x->order < y->order);
}

/* The same question twice (in one entry or two) in one language: the index
 * could not tell which answer it leads to.  Reported at the later one. */
static int check_duplicates(kf_faq_t *f, char *err, size_t errlen) {
    size_t total = 0;
    for (size_t i = 0; i < f->n_entries; i++)
        for (size_t l = 0; l < f->entries[i].n_langs; l++) total += f->entries[i].langs[l].n_questions;
    if (!total) return 0;
    qkey_t *k = calloc(total, sizeof *k);
    if (!k) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < f->n_entries; i++) {
        const kf_faq_entry_t *e = &f->entries[i];
        for (size_t l = 0; !rc && l < e->n_langs; l++)
            for (size_t q = 0; !rc && q < e->langs[l].n_questions; q++) {
                const char *s = e->langs[l].questions[q];
                char nerr[128];
                k[n] = (qkey_t){e->langs[l].lang, e->file, kf_nlu_normalize_dup(s, strlen(s), NULL, nerr, sizeof nerr),
                                e->langs[l].question_lines[q], n};
                if (!k[n].norm) {
                    set_err(err, errlen, "%s:%d: %s", e->file, e->langs[l].question_lines[q], nerr);
                    rc = caught(f, err);
                } else {
                    n++;
                }
            }
    }
    if (!rc) {
        qsort(k, n, sizeof *k, cmp_qkey);
        const qkey_t *worst = NULL, *first = NULL;
        for (size_t i = 1; i < n; i++)
            if (!strcmp(k[i].lang, k[i - 1].lang) && !strcmp(k[i].norm, k[i - 1].norm) &&
                (!worst || k[i].order < worst->order)) {
                worst = &k[i];
                first = &k[i - 1];
            }
        if (worst) {
            set_err(err, errlen, "%s:%d: the question '%s' is also at %s:%d", worst->file, worst->line, worst->norm,
                    first->file, first->line);
            rc = -1;
        }
        /* Collect mode: every repeat, each named with the first of its run. */
        for (size_t i = 1, run = 0; f->diag && i < n; i++) {
            if (strcmp(k[i].lang, k[run].lang) || strcmp(k[i].norm, k[run].norm)) {
                run = i;
                continue;
            }
            set_err(err, errlen, "%s:%d: the question '%s' is also at %s:%d", k[i].file, k[i].line, k[i].norm,
                    k[run].file, k[run].line);
            rc = caught(f, err);
        }
    }
    for (size_t i = 0; i < n; i++) free(k[i].norm);
    free(k);
    return rc;
}

static int yaml_name(const char *s) {
    size_t n = strlen(s);
    if (s[0] == '.') return 0;
    return (n > 4 && !strcmp(s + n - 4, ".yml")) || (n > 5 && !strcmp(s + n - 5, ".yaml"));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* diag NULL: the first error stops loading; otherwise every error goes to diag. */
static kf_faq_t *load(const char *botdir, kf_faq_diag_fn diag, void *ud, char *err, size_t errlen) {
    if (!botdir) {
        set_err(err, errlen, "no bot folder");
        return NULL;
    }
    kf_faq_t *f = calloc(1, sizeof *f);
    if (f) {
        f->diag = diag;
        f->diag_ud = ud;
    }
    char dir[4096];
    if (!f || snprintf(dir, sizeof dir, "%s/faq", botdir) >= (int)sizeof dir) {
        set_err(err, errlen, f ? "%s: path too long" : "out of memory", botdir);
        free(f);
        return NULL;
    }
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return f; /* no FAQ is a valid bot */
        set_err(err, errlen, "%s: %s", dir, strerror(errno));
        free(f);
        return NULL;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (!yaml_name(de->d_name)) continue;
        char *s = strdup(de->d_name);
        if (!s || grow((void **)&names, &cap, n, sizeof *names)) {
            free(s);
            set_err(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        names[n++] = s;
    }
    closedir(d);
    if (!rc) qsort(names, n, sizeof *names, cmp_str); /* byte order: the same index on every machine */
    for (size_t i = 0; !rc && i < n; i++) {
        char path[4352];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        rc = load_file(f, path, err, errlen);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (!rc) rc = check_duplicates(f, err, errlen);
    if (rc) {
        kf_faq_free(f);
        return NULL;
    }
    return f;
}

kf_faq_t *kf_faq_load(const char *botdir, char *err, size_t errlen) { return load(botdir, NULL, NULL, err, errlen); }

kf_faq_t *kf_faq_load_collect(const char *botdir, kf_faq_diag_fn diag, void *ud) {
    char err[1024] = "";
    kf_faq_t *f = load(botdir, diag, ud, err, sizeof err);
    if (!f && err[0]) diag(ud, err); /* the folder itself could not be read */
    return f;
}

void kf_faq_free(kf_faq_t *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n_allocs; i++) free(f->allocs[i]);
    free(f->allocs);
    free(f->entries);
    free(f);
}

size_t kf_faq_count(const kf_faq_t *f) { return f ? f->n_entries : 0; }

const kf_faq_entry_t *kf_faq_entry(const kf_faq_t *f, size_t i) { return f && i < f->n_entries ? &f->entries[i] : NULL; }

const kf_faq_entry_t *kf_faq_find(const kf_faq_t *f, const char *id) {
    for (size_t i = 0; f && id && i < f->n_entries; i++)
        if (!strcmp(f->entries[i].id, id)) return &f->entries[i];
    return NULL;
}

const kf_faq_lang_t *kf_faq_lang(const kf_faq_entry_t *e, const char *lang) {
    for (size_t i = 0; e && lang && i < e->n_langs; i++)
        if (!strcmp(e->langs[i].lang, lang)) return &e->langs[i];
    return NULL;
}

size_t kf_faq_count_lang(const kf_faq_t *f, const char *lang) {
    size_t n = 0;
    for (size_t i = 0; f && i < f->n_entries; i++) n += kf_faq_lang(&f->entries[i], lang) != NULL;
    return n;
}

const char *kf_faq_answer(const kf_faq_entry_t *e, const char *lang) {
    const kf_faq_lang_t *l = kf_faq_lang(e, lang);
    return l ? l->answer : NULL;
}
