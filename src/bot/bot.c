/* bot.c — loads a bot folder (bot.yml and intents/NAME.yml, see bots/README.md)
 * with libyaml's document API, validates it and keeps it in memory for the
 * trainer (kf_bot_each_example) and the conversation engine (responses,
 * skills, thresholds).  Every error names the file and line it came from,
 * taken from libyaml's marks, so a bot author can fix the YAML directly.
 * Checks that need the whole bot (responses or quick replies naming an
 * intent, duplicate phrases) run after every file has been read. */
#include "bot/bot.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct {
    const char *text, *lang, *file;
    int line;
    size_t intent;
} example_t;

typedef struct {
    char *name, *skill;
    const char *file;
    int line;
    size_t first_ex, n_ex; /* a run in bot->ex: one intent's examples are contiguous */
} intent_t;

typedef struct {
    kf_bot_response_t r;
    const char *file;
    int line;
} resp_t;

typedef struct {
    const char *payload, *file;
    int line;
} qref_t;

typedef struct {
    char *name;
    double v;
} threshold_t;

struct kf_bot {
    char *name, *default_lang;
    char **langs, **skills, **files, **strs;
    size_t n_langs, n_skills, n_files, cap_files, n_strs, cap_strs;
    threshold_t *th;
    size_t n_th;
    intent_t *intents;
    size_t n_intents, cap_intents;
    example_t *ex;
    size_t n_ex, cap_ex;
    resp_t *resps;
    size_t n_resps, cap_resps;
    resp_t *pending; /* top-level `responses:` entries, resolved after all intents */
    size_t n_pending, cap_pending;
    qref_t *qrefs;
    size_t n_qrefs, cap_qrefs;
    void **blocks; /* variation and quick-reply arrays */
    size_t n_blocks, cap_blocks;
};

typedef struct {
    kf_bot_t *b;
    const char *file;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
} ctx_t;

static const char *const default_skills[] = {"cards", "loans", "payments", "accounts", "complaints", "general"};

static int grow(void **arr, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, nc * elem);
    if (!p) return -1;
    *arr = p;
    *cap = nc;
    return 0;
}
#define GROW(b, field) grow((void **)&(b)->field, &(b)->cap_##field, (b)->n_##field, sizeof *(b)->field)

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int fail(ctx_t *c, const yaml_node_t *n, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    set_err(c->err, c->errlen, "%s:%d: %s", c->file, n ? (int)n->start_mark.line + 1 : 1, msg);
    return -1;
}

static char *keep(kf_bot_t *b, const char *s) {
    if (GROW(b, strs)) return NULL;
    char *d = strdup(s);
    if (d) b->strs[b->n_strs++] = d;
    return d;
}

static void *keep_block(kf_bot_t *b, size_t size) {
    if (GROW(b, blocks)) return NULL;
    void *p = calloc(1, size ? size : 1);
    if (p) b->blocks[b->n_blocks++] = p;
    return p;
}

static int line_of(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }

static const char *kind(const yaml_node_t *n) {
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

/* libyaml keeps a repeated mapping key; a bot author almost surely meant one. */
static int dup_keys(ctx_t *c, const yaml_node_t *m) {
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        if (k->type != YAML_SCALAR_NODE) continue;
        for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *o = yaml_document_get_node(c->doc, q->key);
            if (o->type == YAML_SCALAR_NODE && o->data.scalar.length == k->data.scalar.length &&
                !memcmp(o->data.scalar.value, k->data.scalar.value, k->data.scalar.length))
                return fail(c, k, "key '%s' given twice (first at line %d)", (const char *)k->data.scalar.value,
                            (int)o->start_mark.line + 1);
        }
    }
    return 0;
}

static int want(ctx_t *c, const yaml_node_t *n, yaml_node_type_t t, const char *what) {
    if (n->type == t) return t == YAML_MAPPING_NODE ? dup_keys(c, n) : 0;
    const char *tn = t == YAML_SCALAR_NODE ? "a string" : t == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
    return fail(c, n, "%s must be %s, not %s", what, tn, kind(n));
}

/* A non-empty string scalar; a quoted "" is empty too. */
static int str(ctx_t *c, const yaml_node_t *n, const char *what, const char **out) {
    if (want(c, n, YAML_SCALAR_NODE, what)) return -1;
    const char *s = (const char *)n->data.scalar.value;
    if (n->data.scalar.length == 0) return fail(c, n, "%s must not be empty", what);
    if (strlen(s) != n->data.scalar.length) return fail(c, n, "%s contains a NUL byte", what);
    *out = s;
    return 0;
}

static int ident_ok(const char *s) {
    if (!*s) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return 0;
    return 1;
}

static int in_list(char **list, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], s)) return 1;
    return 0;
}

/* Walks TMPL's placeholders; calls emit for literal runs and slot values.
 * Shared by validation (emit NULL) and kf_bot_render. */
typedef int (*emit_fn)(void *st, const char *s, size_t n);
static const char *scan_template(const char *t, kf_bot_slot_fn lookup, void *ud, emit_fn emit, void *st) {
    const char *p = t;
    while (*p) {
        const char *run = p;
        while (*p && *p != '{' && *p != '}') p++;
        if (p > run && emit && emit(st, run, (size_t)(p - run))) return "output buffer too small";
        if (!*p) break;
        if (p[0] == p[1]) { /* "{{" or "}}" */
            if (emit && emit(st, p, 1)) return "output buffer too small";
            p += 2;
            continue;
        }
        if (*p == '}') return "unmatched '}' (write '}}' for a literal brace)";
        const char *name = ++p;
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_'))
            return "a placeholder must be {name} with letters, digits and '_' (write '{{' for a literal brace)";
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_') p++;
        if (*p != '}') return "unterminated placeholder (write '{{' for a literal brace)";
        if (emit && lookup) {
            const char *v = lookup(ud, name, (size_t)(p - name));
            if (v && emit(st, v, strlen(v))) return "output buffer too small";
        }
        p++;
    }
    return NULL;
}

typedef struct {
    char *out;
    size_t len, cap;
} render_t;

static int render_emit(void *st, const char *s, size_t n) {
    render_t *r = st;
    if (r->len + n >= r->cap) return -1;
    memcpy(r->out + r->len, s, n);
    r->len += n;
    return 0;
}

int kf_bot_render(const char *tmpl, kf_bot_slot_fn lookup, void *ud, char *out, size_t outlen, char *err,
                  size_t errlen) {
    if (!tmpl || !out || !outlen) {
        set_err(err, errlen, "no template or output buffer");
        return -1;
    }
    render_t r = {out, 0, outlen};
    const char *why = scan_template(tmpl, lookup, ud, render_emit, &r);
    out[r.len] = '\0';
    if (why) {
        set_err(err, errlen, "%s", why);
        return -1;
    }
    return (int)r.len;
}

/* ---- bot.yml ---------------------------------------------------------- */

static int load_str_list(ctx_t *c, yaml_node_t *n, const char *what, char ***out, size_t *nout) {
    if (want(c, n, YAML_SEQUENCE_NODE, what)) return -1;
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (!cnt) return fail(c, n, "%s must not be empty", what);
    char **list = keep_block(c->b, cnt * sizeof *list);
    if (!list) return fail(c, n, "out of memory");
    size_t k = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(c->doc, *it);
        const char *s;
        if (str(c, e, what, &s)) return -1;
        if (!ident_ok(s)) return fail(c, e, "'%s' in %s: use lower-case letters, digits and '_'", s, what);
        if (in_list(list, k, s)) return fail(c, e, "'%s' is listed twice in %s", s, what);
        if (!(list[k++] = keep(c->b, s))) return fail(c, e, "out of memory");
    }
    *out = list;
    *nout = k;
    return 0;
}

static int load_bot_yml(ctx_t *c, yaml_node_t *root) {
    kf_bot_t *b = c->b;
    if (want(c, root, YAML_MAPPING_NODE, "bot.yml")) return -1;
    yaml_node_t *dl = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
        const char *key, *s;
        if (str(c, k, "a key", &key)) return -1;
        if (!strcmp(key, "name")) {
            if (str(c, v, "name", &s) || !(b->name = keep(b, s))) return -1;
        } else if (!strcmp(key, "description")) {
            if (want(c, v, YAML_SCALAR_NODE, "description")) return -1;
        } else if (!strcmp(key, "languages")) {
            if (load_str_list(c, v, "languages", &b->langs, &b->n_langs)) return -1;
        } else if (!strcmp(key, "skills")) {
            if (load_str_list(c, v, "skills", &b->skills, &b->n_skills)) return -1;
        } else if (!strcmp(key, "default_language")) {
            if (str(c, v, "default_language", &s)) return -1;
            dl = v;
        } else if (!strcmp(key, "thresholds")) {
            if (want(c, v, YAML_MAPPING_NODE, "thresholds")) return -1;
            size_t cnt = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
            if (!(b->th = keep_block(b, cnt * sizeof *b->th))) return fail(c, v, "out of memory");
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                yaml_node_t *tk = yaml_document_get_node(c->doc, q->key);
                yaml_node_t *tv = yaml_document_get_node(c->doc, q->value);
                const char *tname, *num;
                if (str(c, tk, "a threshold name", &tname) || str(c, tv, "a threshold", &num)) return -1;
                char *end;
                errno = 0;
                double d = strtod(num, &end);
                if (errno || *end || end == num || !(d >= 0 && d <= 1))
                    return fail(c, tv, "threshold '%s' must be a number from 0 to 1, not '%s'", tname, num);
                for (size_t i = 0; i < b->n_th; i++)
                    if (!strcmp(b->th[i].name, tname)) return fail(c, tk, "threshold '%s' given twice", tname);
                if (!(b->th[b->n_th].name = keep(b, tname))) return -1;
                b->th[b->n_th++].v = d;
            }
        } else {
            return fail(c, k, "unknown key '%s' in bot.yml (name, description, languages, default_language, "
                              "thresholds, skills)", key);
        }
    }
    if (!b->name) return fail(c, root, "bot.yml has no 'name'");
    if (!b->n_langs) return fail(c, root, "bot.yml has no 'languages'");
    if (dl) {
        const char *s = (const char *)dl->data.scalar.value;
        if (!in_list(b->langs, b->n_langs, s)) return fail(c, dl, "default_language '%s' is not in languages", s);
        b->default_lang = keep(b, s);
    } else {
        b->default_lang = b->langs[0];
    }
    if (!b->n_skills) {
        b->n_skills = sizeof default_skills / sizeof *default_skills;
        if (!(b->skills = keep_block(b, b->n_skills * sizeof *b->skills))) return -1;
        for (size_t i = 0; i < b->n_skills; i++)
            if (!(b->skills[i] = keep(b, default_skills[i]))) return -1;
    }
    return 0;
}

/* ---- responses -------------------------------------------------------- */

static int load_quick_reply(ctx_t *c, yaml_node_t *n, kf_bot_quick_reply_t *q) {
    const char *title = NULL, *payload = NULL;
    if (n->type == YAML_SCALAR_NODE) {
        if (str(c, n, "a quick reply", &title)) return -1;
    } else if (n->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
            const char *key;
            if (str(c, k, "a key", &key)) return -1;
            if (!strcmp(key, "title")) {
                if (str(c, v, "title", &title)) return -1;
            } else if (!strcmp(key, "payload")) {
                if (str(c, v, "payload", &payload)) return -1;
            } else {
                return fail(c, k, "unknown key '%s' in a quick reply (title, payload)", key);
            }
        }
        if (!title) return fail(c, n, "a quick reply needs a 'title'");
    } else {
        return fail(c, n, "a quick reply must be a string or a mapping with title and payload, not %s", kind(n));
    }
    if (!payload) payload = title;
    if (!(q->title = keep(c->b, title)) || !(q->payload = keep(c->b, payload))) return fail(c, n, "out of memory");
    if (payload[0] == '/') {
        kf_bot_t *b = c->b;
        if (GROW(b, qrefs)) return fail(c, n, "out of memory");
        b->qrefs[b->n_qrefs++] = (qref_t){q->payload, c->file, line_of(n)};
    }
    return 0;
}

static int load_variation(ctx_t *c, yaml_node_t *n, kf_bot_variation_t *v) {
    const char *text = NULL;
    yaml_node_t *qr = NULL, *tn = n;
    if (n->type == YAML_SCALAR_NODE) {
        if (str(c, n, "a response", &text)) return -1;
    } else if (n->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *val = yaml_document_get_node(c->doc, p->value);
            const char *key;
            if (str(c, k, "a key", &key)) return -1;
            if (!strcmp(key, "text")) {
                if (str(c, val, "text", &text)) return -1;
                tn = val;
            } else if (!strcmp(key, "quick_replies")) {
                if (want(c, val, YAML_SEQUENCE_NODE, "quick_replies")) return -1;
                qr = val;
            } else {
                return fail(c, k, "unknown key '%s' in a response (text, quick_replies)", key);
            }
        }
        if (!text) return fail(c, n, "a response needs a 'text'");
    } else {
        return fail(c, n, "a response must be a string or a mapping with text and quick_replies, not %s", kind(n));
    }
    const char *why = scan_template(text, NULL, NULL, NULL, NULL);
    if (why) return fail(c, tn, "%s", why);
    if (!(v->text = keep(c->b, text))) return fail(c, n, "out of memory");
    if (qr) {
        size_t cnt = (size_t)(qr->data.sequence.items.top - qr->data.sequence.items.start);
        kf_bot_quick_reply_t *q = keep_block(c->b, cnt * sizeof *q);
        if (!q) return fail(c, qr, "out of memory");
        for (size_t i = 0; i < cnt; i++)
            if (load_quick_reply(c, yaml_document_get_node(c->doc, qr->data.sequence.items.start[i]), &q[i]))
                return -1;
        v->quick_replies = q;
        v->n_quick_replies = cnt;
    }
    return 0;
}

/* `responses:` of one intent: {lang: [variation, ...]}; appended to b->resps
 * (pending = 0) or b->pending (pending = 1, intent checked later). */
static int load_responses(ctx_t *c, yaml_node_t *n, const char *intent, int pending, int intent_line) {
    kf_bot_t *b = c->b;
    if (want(c, n, YAML_MAPPING_NODE, "responses of an intent")) return -1;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
        const char *lang;
        if (str(c, k, "a language", &lang)) return -1;
        if (!in_list(b->langs, b->n_langs, lang)) return fail(c, k, "language '%s' is not in bot.yml languages", lang);
        if (want(c, v, YAML_SEQUENCE_NODE, "a language's responses")) return -1;
        size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        if (!cnt) return fail(c, v, "no responses for '%s' in '%s'", intent, lang);
        kf_bot_variation_t *vars = keep_block(b, cnt * sizeof *vars);
        if (!vars) return fail(c, v, "out of memory");
        for (size_t i = 0; i < cnt; i++)
            if (load_variation(c, yaml_document_get_node(c->doc, v->data.sequence.items.start[i]), &vars[i]))
                return -1;
        resp_t r = {{keep(b, intent), keep(b, lang), vars, cnt}, c->file, pending ? intent_line : line_of(k)};
        if (!r.r.intent || !r.r.lang) return fail(c, k, "out of memory");
        if (pending) {
            if (GROW(b, pending)) return fail(c, k, "out of memory");
            b->pending[b->n_pending++] = r;
        } else {
            if (GROW(b, resps)) return fail(c, k, "out of memory");
            b->resps[b->n_resps++] = r;
        }
    }
    return 0;
}

/* ---- intents ---------------------------------------------------------- */

static const intent_t *find_intent(const kf_bot_t *b, const char *name) {
    for (size_t i = 0; i < b->n_intents; i++)
        if (!strcmp(b->intents[i].name, name)) return &b->intents[i];
    return NULL;
}

static int load_examples(ctx_t *c, yaml_node_t *n, size_t intent) {
    kf_bot_t *b = c->b;
    if (want(c, n, YAML_MAPPING_NODE, "examples")) return -1;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
        const char *lang, *text;
        if (str(c, k, "a language", &lang)) return -1;
        if (!in_list(b->langs, b->n_langs, lang)) return fail(c, k, "language '%s' is not in bot.yml languages", lang);
        if (want(c, v, YAML_SEQUENCE_NODE, "a language's examples")) return -1;
        const char *kl = b->langs[0];
        for (size_t i = 0; i < b->n_langs; i++)
            if (!strcmp(b->langs[i], lang)) kl = b->langs[i];
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
            yaml_node_t *e = yaml_document_get_node(c->doc, *it);
            if (str(c, e, "a training phrase", &text)) return -1;
            if (GROW(b, ex)) return fail(c, e, "out of memory");
            example_t *x = &b->ex[b->n_ex];
            if (!(x->text = keep(b, text))) return fail(c, e, "out of memory");
            x->lang = kl;
            x->file = c->file;
            x->line = line_of(e);
            x->intent = intent;
            b->n_ex++;
        }
    }
    return 0;
}

static int load_intent(ctx_t *c, yaml_node_t *n) {
    kf_bot_t *b = c->b;
    if (want(c, n, YAML_MAPPING_NODE, "an intent")) return -1;
    yaml_node_t *name_n = NULL, *ex_n = NULL, *resp_n = NULL;
    const char *name = NULL, *skill = "general";
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
        const char *key;
        if (str(c, k, "a key", &key)) return -1;
        if (!strcmp(key, "name")) {
            if (str(c, v, "name", &name)) return -1;
            name_n = v;
        } else if (!strcmp(key, "skill")) {
            if (str(c, v, "skill", &skill)) return -1;
            if (!in_list(b->skills, b->n_skills, skill)) return fail(c, v, "unknown skill '%s'", skill);
        } else if (!strcmp(key, "description")) {
            if (want(c, v, YAML_SCALAR_NODE, "description")) return -1;
        } else if (!strcmp(key, "examples")) {
            ex_n = v;
        } else if (!strcmp(key, "responses")) {
            resp_n = v;
        } else {
            return fail(c, k, "unknown key '%s' in an intent (name, skill, description, examples, responses)", key);
        }
    }
    if (!name) return fail(c, n, "an intent needs a 'name'");
    if (!ident_ok(name)) return fail(c, name_n, "intent name '%s': use lower-case letters, digits and '_'", name);
    const intent_t *dup = find_intent(b, name);
    if (dup) return fail(c, name_n, "duplicate intent '%s' (first defined at %s:%d)", name, dup->file, dup->line);
    if (!ex_n) return fail(c, n, "intent '%s' has no examples", name);
    if (GROW(b, intents)) return fail(c, n, "out of memory");
    intent_t *in = &b->intents[b->n_intents];
    memset(in, 0, sizeof *in);
    if (!(in->name = keep(b, name)) || !(in->skill = keep(b, skill))) return fail(c, n, "out of memory");
    in->file = c->file;
    in->line = line_of(name_n);
    in->first_ex = b->n_ex;
    b->n_intents++;
    if (load_examples(c, ex_n, b->n_intents - 1)) return -1;
    in = &b->intents[b->n_intents - 1];
    in->n_ex = b->n_ex - in->first_ex;
    if (!in->n_ex) return fail(c, name_n, "intent '%s' has no training phrases", name);
    if (resp_n && load_responses(c, resp_n, name, 0, 0)) return -1;
    return 0;
}

static int load_intents_file(ctx_t *c, yaml_node_t *root) {
    if (want(c, root, YAML_MAPPING_NODE, "an intents file")) return -1;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
        const char *key;
        if (str(c, k, "a key", &key)) return -1;
        if (!strcmp(key, "intents")) {
            if (want(c, v, YAML_SEQUENCE_NODE, "intents")) return -1;
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
                if (load_intent(c, yaml_document_get_node(c->doc, *it))) return -1;
        } else if (!strcmp(key, "responses")) {
            if (want(c, v, YAML_MAPPING_NODE, "responses")) return -1;
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                yaml_node_t *ik = yaml_document_get_node(c->doc, q->key);
                const char *intent;
                if (str(c, ik, "an intent name", &intent)) return -1;
                if (load_responses(c, yaml_document_get_node(c->doc, q->value), intent, 1, line_of(ik))) return -1;
            }
        } else {
            return fail(c, k, "unknown key '%s' in an intents file (intents, responses)", key);
        }
    }
    return 0;
}

/* ---- files ------------------------------------------------------------ */

typedef int (*doc_fn)(ctx_t *c, yaml_node_t *root);

static int load_file(kf_bot_t *b, const char *path, doc_fn fn, int required, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (!required && errno == ENOENT) return 0;
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (GROW(b, files) || !(b->files[b->n_files] = strdup(path))) {
        fclose(f);
        set_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    ctx_t c = {b, b->files[b->n_files++], NULL, err, errlen};
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    int rc = 0, docs = 0;
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            set_err(err, errlen, "%s:%d: %s%s%s", path, (int)parser.problem_mark.line + 1,
                    parser.problem ? parser.problem : "malformed YAML", parser.context ? " " : "",
                    parser.context ? parser.context : "");
            rc = -1;
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root) {
            yaml_document_delete(&doc);
            break;
        }
        docs++;
        c.doc = &doc;
        rc = fn(&c, root);
        yaml_document_delete(&doc);
        if (rc) break;
    }
    yaml_parser_delete(&parser);
    fclose(f);
    if (!rc && required && !docs) {
        set_err(err, errlen, "%s:1: empty file", path);
        rc = -1;
    }
    return rc;
}

static int yml_name(const struct dirent *d) {
    size_t n = strlen(d->d_name);
    if (d->d_name[0] == '.') return 0;
    return (n > 4 && !strcmp(d->d_name + n - 4, ".yml")) || (n > 5 && !strcmp(d->d_name + n - 5, ".yaml"));
}

static int byte_order(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

static int cmp_example(const void *a, const void *b) {
    const example_t *x = *(example_t *const *)a, *y = *(example_t *const *)b;
    int r = strcmp(x->lang, y->lang);
    if (!r) r = strcmp(x->text, y->text);
    if (!r) r = x < y ? -1 : x > y;
    return r;
}

/* Checks that need the whole bot. */
static int finish(kf_bot_t *b, char *err, size_t errlen) {
    for (size_t i = 0; i < b->n_pending; i++) {
        resp_t *r = &b->pending[i];
        if (!find_intent(b, r->r.intent)) {
            set_err(err, errlen, "%s:%d: response for unknown intent '%s'", r->file, r->line, r->r.intent);
            return -1;
        }
        if (GROW(b, resps)) return -1;
        b->resps[b->n_resps++] = *r;
    }
    for (size_t i = 0; i < b->n_resps; i++)
        for (size_t j = 0; j < i; j++) {
            const resp_t *x = &b->resps[i], *y = &b->resps[j];
            if (!strcmp(x->r.intent, y->r.intent) && !strcmp(x->r.lang, y->r.lang)) {
                set_err(err, errlen, "%s:%d: second '%s' response for intent '%s' (first at %s:%d)", x->file, x->line,
                        x->r.lang, x->r.intent, y->file, y->line);
                return -1;
            }
        }
    for (size_t i = 0; i < b->n_qrefs; i++)
        if (!find_intent(b, b->qrefs[i].payload + 1)) {
            set_err(err, errlen, "%s:%d: quick reply payload '%s' names an unknown intent", b->qrefs[i].file,
                    b->qrefs[i].line, b->qrefs[i].payload);
            return -1;
        }
    /* The same phrase under two labels teaches the classifier nothing but
     * confusion; under one label twice it silently weighs double. */
    example_t **v = malloc((b->n_ex ? b->n_ex : 1) * sizeof *v);
    if (!v) return -1;
    for (size_t i = 0; i < b->n_ex; i++) v[i] = &b->ex[i];
    qsort(v, b->n_ex, sizeof *v, cmp_example);
    int rc = 0;
    for (size_t i = 1; i < b->n_ex && !rc; i++)
        if (!strcmp(v[i]->lang, v[i - 1]->lang) && !strcmp(v[i]->text, v[i - 1]->text)) {
            set_err(err, errlen, "%s:%d: duplicate training phrase '%s' (also at %s:%d in intent '%s')", v[i]->file,
                    v[i]->line, v[i]->text, v[i - 1]->file, v[i - 1]->line, b->intents[v[i - 1]->intent].name);
            rc = -1;
        }
    free(v);
    return rc;
}

kf_bot_t *kf_bot_load(const char *dir, char *err, size_t errlen) {
    if (!dir) {
        set_err(err, errlen, "no bot folder given");
        return NULL;
    }
    kf_bot_t *b = calloc(1, sizeof *b);
    char path[4096];
    struct dirent **ents = NULL;
    int n = -1, rc = -1;
    if (!b) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(path, sizeof path, "%s/bot.yml", dir);
    if (load_file(b, path, load_bot_yml, 1, err, errlen)) goto out;
    snprintf(path, sizeof path, "%s/intents", dir);
    n = scandir(path, &ents, yml_name, byte_order);
    if (n < 0) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/intents/%s", dir, ents[i]->d_name);
        if (load_file(b, path, load_intents_file, 0, err, errlen)) goto out;
    }
    if (!b->n_intents) {
        set_err(err, errlen, "%s/intents: no intents", dir);
        goto out;
    }
    rc = finish(b, err, errlen);
out:
    for (int i = 0; i < n; i++) free(ents[i]);
    free(ents);
    if (rc) {
        kf_bot_free(b);
        return NULL;
    }
    return b;
}

void kf_bot_free(kf_bot_t *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n_strs; i++) free(b->strs[i]);
    for (size_t i = 0; i < b->n_files; i++) free(b->files[i]);
    for (size_t i = 0; i < b->n_blocks; i++) free(b->blocks[i]);
    free(b->strs);
    free(b->files);
    free(b->blocks);
    free(b->intents);
    free(b->ex);
    free(b->resps);
    free(b->pending);
    free(b->qrefs);
    free(b);
}

int kf_bot_each_example(const char *dir, kf_bot_example_fn fn, void *ud, char *err, size_t errlen) {
    kf_bot_t *b = kf_bot_load(dir, err, errlen);
    if (!b) return -1;
    int rc = 0;
    for (size_t i = 0; i < b->n_ex && !rc; i++)
        rc = fn(ud, b->ex[i].text, b->intents[b->ex[i].intent].name, b->ex[i].file, b->ex[i].line);
    kf_bot_free(b);
    return rc;
}

/* ---- accessors -------------------------------------------------------- */

const char *kf_bot_name(const kf_bot_t *b) { return b->name; }
size_t kf_bot_n_languages(const kf_bot_t *b) { return b->n_langs; }
const char *kf_bot_language(const kf_bot_t *b, size_t i) { return i < b->n_langs ? b->langs[i] : NULL; }
const char *kf_bot_default_language(const kf_bot_t *b) { return b->default_lang; }
size_t kf_bot_n_intents(const kf_bot_t *b) { return b->n_intents; }
const char *kf_bot_intent(const kf_bot_t *b, size_t i) { return i < b->n_intents ? b->intents[i].name : NULL; }
int kf_bot_has_intent(const kf_bot_t *b, const char *intent) { return intent && find_intent(b, intent) != NULL; }

double kf_bot_threshold(const kf_bot_t *b, const char *name, double dflt) {
    for (size_t i = 0; name && i < b->n_th; i++)
        if (!strcmp(b->th[i].name, name)) return b->th[i].v;
    return dflt;
}

size_t kf_bot_n_examples(const kf_bot_t *b, const char *intent, const char *lang) {
    const intent_t *in = intent ? find_intent(b, intent) : NULL;
    if (!in) return 0;
    size_t n = 0;
    for (size_t i = in->first_ex; i < in->first_ex + in->n_ex; i++)
        if (!lang || !strcmp(b->ex[i].lang, lang)) n++;
    return n;
}

const char *kf_bot_skill(const kf_bot_t *b, const char *intent) {
    const intent_t *in = intent ? find_intent(b, intent) : NULL;
    return in ? in->skill : NULL;
}

static const kf_bot_response_t *find_response(const kf_bot_t *b, const char *intent, const char *lang) {
    for (size_t i = 0; i < b->n_resps; i++)
        if (!strcmp(b->resps[i].r.intent, intent) && !strcmp(b->resps[i].r.lang, lang)) return &b->resps[i].r;
    return NULL;
}

const kf_bot_response_t *kf_bot_response(const kf_bot_t *b, const char *intent, const char *lang) {
    if (!intent) return NULL;
    const kf_bot_response_t *r = lang ? find_response(b, intent, lang) : NULL;
    return r ? r : find_response(b, intent, b->default_lang);
}
