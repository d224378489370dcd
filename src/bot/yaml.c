/* yaml.c — the libyaml helpers every part of the bot loader shares (bot.c for
 * bot.yml and intents, flows.c for flows): typed node access with
 * "file:line: what" errors, string and block ownership, response variations
 * with quick replies, {slot} templates (also kf_bot_render), and reading a
 * file's YAML documents.  See yaml_int.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/yaml_int.h"

int kf_boty_grow(void **arr, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, nc * elem);
    if (!p) return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

void kf_boty_set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int kf_boty_fail(ctx_t *c, const yaml_node_t *n, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kf_boty_set_err(c->err, c->errlen, "%s:%d: %s", c->file, n ? (int)n->start_mark.line + 1 : 1, msg);
    return -1;
}

char *kf_boty_keep(kf_bot_t *b, const char *s) {
    if (KF_BOTY_GROW(b, strs)) return NULL;
    char *d = strdup(s);
    if (d) b->strs[b->n_strs++] = d;
    return d;
}

void *kf_boty_keep_block(kf_bot_t *b, size_t size) {
    if (KF_BOTY_GROW(b, blocks)) return NULL;
    void *p = calloc(1, size ? size : 1);
    if (p) b->blocks[b->n_blocks++] = p;
    return p;
}

int kf_boty_line(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }

int kf_boty_caught(kf_bot_t *b, char *err) {
    if (!b->diag) return -1;
    if (err && err[0]) {
        b->diag(b->diag_ud, err);
        b->n_diag++;
    }
    if (err) err[0] = '\0';
    return 0;
}

const char *kf_boty_kind(const yaml_node_t *n) {
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
                return kf_boty_fail(c, k, "key '%s' given twice (first at line %d)", (const char *)k->data.scalar.value,
                            (int)o->start_mark.line + 1);
        }
    }
    return 0;
}

int kf_boty_want(ctx_t *c, const yaml_node_t *n, yaml_node_type_t t, const char *what) {
    if (n->type == t) return t == YAML_MAPPING_NODE ? dup_keys(c, n) : 0;
    const char *tn = t == YAML_SCALAR_NODE ? "a string" : t == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
    return kf_boty_fail(c, n, "%s must be %s, not %s", what, tn, kf_boty_kind(n));
}

/* A non-empty string scalar; a quoted "" is empty too. */
int kf_boty_str(ctx_t *c, const yaml_node_t *n, const char *what, const char **out) {
    if (kf_boty_want(c, n, YAML_SCALAR_NODE, what)) return -1;
    const char *s = (const char *)n->data.scalar.value;
    if (n->data.scalar.length == 0) return kf_boty_fail(c, n, "%s must not be empty", what);
    if (strlen(s) != n->data.scalar.length) return kf_boty_fail(c, n, "%s contains a NUL byte", what);
    *out = s;
    return 0;
}

int kf_boty_ident_ok(const char *s) {
    if (!*s) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return 0;
    return 1;
}

int kf_boty_in_list(char **list, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], s)) return 1;
    return 0;
}

/* Walks TMPL's placeholders; calls emit for literal runs and slot values.
 * Shared by validation (emit NULL) and kf_bot_render. */
const char *kf_boty_scan_template(const char *t, kf_bot_slot_fn lookup, void *ud, kf_boty_emit_fn emit, void *st) {
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
        if (lookup) { /* with emit NULL, lookup alone lets a loader check slot names */
            const char *v = lookup(ud, name, (size_t)(p - name));
            if (emit && v && emit(st, v, strlen(v))) return "output buffer too small";
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
        kf_boty_set_err(err, errlen, "no template or output buffer");
        return -1;
    }
    render_t r = {out, 0, outlen};
    const char *why = kf_boty_scan_template(tmpl, lookup, ud, render_emit, &r);
    out[r.len] = '\0';
    if (why) {
        kf_boty_set_err(err, errlen, "%s", why);
        return -1;
    }
    return (int)r.len;
}
/* ---- response variations ---------------------------------------------- */

int kf_boty_load_quick_reply(ctx_t *c, yaml_node_t *n, kf_bot_quick_reply_t *q) {
    const char *title = NULL, *payload = NULL;
    if (n->type == YAML_SCALAR_NODE) {
        if (kf_boty_str(c, n, "a quick reply", &title)) return -1;
    } else if (n->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
            const char *key;
            if (kf_boty_str(c, k, "a key", &key)) return -1;
            if (!strcmp(key, "title")) {
                if (kf_boty_str(c, v, "title", &title)) return -1;
            } else if (!strcmp(key, "payload")) {
                if (kf_boty_str(c, v, "payload", &payload)) return -1;
            } else {
                return kf_boty_fail(c, k, "unknown key '%s' in a quick reply (title, payload)", key);
            }
        }
        if (!title) return kf_boty_fail(c, n, "a quick reply needs a 'title'");
    } else {
        return kf_boty_fail(c, n, "a quick reply must be a string or a mapping with title and payload, not %s", kf_boty_kind(n));
    }
    if (!payload) payload = title;
    if (!(q->title = kf_boty_keep(c->b, title)) || !(q->payload = kf_boty_keep(c->b, payload))) return kf_boty_fail(c, n, "out of memory");
    if (payload[0] == '/') {
        kf_bot_t *b = c->b;
        if (KF_BOTY_GROW(b, qrefs)) return kf_boty_fail(c, n, "out of memory");
        b->qrefs[b->n_qrefs++] = (qref_t){q->payload, c->file, kf_boty_line(n)};
    }
    return 0;
}

int kf_boty_load_variation(ctx_t *c, yaml_node_t *n, kf_bot_variation_t *v) {
    const char *text = NULL;
    yaml_node_t *qr = NULL, *tn = n;
    if (n->type == YAML_SCALAR_NODE) {
        if (kf_boty_str(c, n, "a response", &text)) return -1;
    } else if (n->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *val = yaml_document_get_node(c->doc, p->value);
            const char *key;
            if (kf_boty_str(c, k, "a key", &key)) return -1;
            if (!strcmp(key, "text")) {
                if (kf_boty_str(c, val, "text", &text)) return -1;
                tn = val;
            } else if (!strcmp(key, "quick_replies")) {
                if (kf_boty_want(c, val, YAML_SEQUENCE_NODE, "quick_replies")) return -1;
                qr = val;
            } else {
                return kf_boty_fail(c, k, "unknown key '%s' in a response (text, quick_replies)", key);
            }
        }
        if (!text) return kf_boty_fail(c, n, "a response needs a 'text'");
    } else {
        return kf_boty_fail(c, n, "a response must be a string or a mapping with text and quick_replies, not %s", kf_boty_kind(n));
    }
    const char *why = kf_boty_scan_template(text, NULL, NULL, NULL, NULL);
    if (why) return kf_boty_fail(c, tn, "%s", why);
    if (!(v->text = kf_boty_keep(c->b, text))) return kf_boty_fail(c, n, "out of memory");
    if (qr) {
        size_t cnt = (size_t)(qr->data.sequence.items.top - qr->data.sequence.items.start);
        kf_bot_quick_reply_t *q = kf_boty_keep_block(c->b, cnt * sizeof *q);
        if (!q) return kf_boty_fail(c, qr, "out of memory");
        for (size_t i = 0; i < cnt; i++)
            if (kf_boty_load_quick_reply(c, yaml_document_get_node(c->doc, qr->data.sequence.items.start[i]), &q[i]))
                return -1;
        v->quick_replies = q;
        v->n_quick_replies = cnt;
    }
    return 0;
}

/* ---- files ------------------------------------------------------------ */


int kf_boty_load_file(kf_bot_t *b, const char *path, kf_boty_doc_fn fn, int required, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (!required && errno == ENOENT) return 0;
        kf_boty_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (KF_BOTY_GROW(b, files) || !(b->files[b->n_files] = strdup(path))) {
        fclose(f);
        kf_boty_set_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    ctx_t c = {b, b->files[b->n_files++], NULL, err, errlen};
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    int rc = 0, docs = 0;
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) { /* libyaml cannot go on after a syntax error */
            kf_boty_set_err(err, errlen, "%s:%d: %s%s%s", path, (int)parser.problem_mark.line + 1,
                    parser.problem ? parser.problem : "malformed YAML", parser.context ? " " : "",
                    parser.context ? parser.context : "");
            rc = kf_boty_caught(b, err);
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
        if (rc && (rc = kf_boty_caught(b, err))) break;
    }
    yaml_parser_delete(&parser);
    fclose(f);
    if (!rc && required && !docs) {
        kf_boty_set_err(err, errlen, "%s:1: empty file", path);
        rc = kf_boty_caught(b, err);
    }
    return rc;
}

int kf_boty_yml_name(const struct dirent *d) {
    size_t n = strlen(d->d_name);
    if (d->d_name[0] == '.') return 0;
    return (n > 4 && !strcmp(d->d_name + n - 4, ".yml")) || (n > 5 && !strcmp(d->d_name + n - 5, ".yaml"));
}

int kf_boty_byte_order(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }