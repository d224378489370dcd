/* canned.c — the bot's canned responses (DIR/canned.yml, bots/README.md):
 * ready-made texts, one per language, that the agent console offers human
 * agents.  Loaded after bot.yml, because every text must be in one of the
 * bot's languages, with the same "file:line: what" errors as the other bot
 * files; in collect mode (`kefu check`) a bad entry is reported and the next
 * one is read.  Texts are stored per language index so a console can list
 * them for the customer's language without string compares per entry. */
#include <stdio.h>
#include <string.h>

#include "bot/yaml_int.h"

static int lang_index(const kf_bot_t *b, const char *lang) {
    for (size_t i = 0; lang && i < b->n_langs; i++)
        if (!strcmp(b->langs[i], lang)) return (int)i;
    return -1;
}

/* Only spaces: an agent picking it would send nothing useful.  U+3000 (the
 * ideographic space) counts, as Chinese input methods type it. */
static int blank(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        else if (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) p += 3;
        else return 0;
    }
    return 1;
}

/* {lang: text} into out[lang index] (kept copies).  *first gets the first
 * text in file order (the fallback title). */
static int load_per_lang(ctx_t *c, yaml_node_t *n, const char *what, const char *id, const char **out,
                         const char **first) {
    kf_bot_t *b = c->b;
    char label[96], vlabel[112];
    snprintf(label, sizeof label, "the %s of canned response '%s'", what, id);
    if (kf_boty_want(c, n, YAML_MAPPING_NODE, label)) return -1;
    if (n->data.mapping.pairs.top == n->data.mapping.pairs.start) return kf_boty_fail(c, n, "%s must not be empty", label);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
        const char *lang, *s;
        if (kf_boty_str(c, k, "a language", &lang)) return -1;
        int li = lang_index(b, lang);
        if (li < 0) return kf_boty_fail(c, k, "language '%s' in %s is not in bot.yml languages", lang, label);
        snprintf(vlabel, sizeof vlabel, "the '%s' %s of canned response '%s'", lang, what, id);
        if (kf_boty_str(c, v, vlabel, &s)) return -1;
        if (blank(s)) return kf_boty_fail(c, v, "%s is blank", vlabel);
        if (!(out[li] = kf_boty_keep(b, s))) return kf_boty_fail(c, v, "out of memory");
        if (!*first) *first = out[li];
    }
    return 0;
}

static const canned_t *find(const kf_bot_t *b, const char *id) {
    for (size_t i = 0; i < b->n_canned; i++)
        if (!strcmp(b->canned[i].c.id, id)) return &b->canned[i];
    return NULL;
}

static int load_entry(ctx_t *c, yaml_node_t *n) {
    kf_bot_t *b = c->b;
    if (kf_boty_want(c, n, YAML_MAPPING_NODE, "a canned response")) return -1;
    yaml_node_t *id_n = NULL, *title_n = NULL, *text_n = NULL;
    const char *id = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
        const char *key;
        if (kf_boty_str(c, k, "a key", &key)) return -1;
        if (!strcmp(key, "id")) {
            if (kf_boty_str(c, v, "id", &id)) return -1;
            id_n = v;
        } else if (!strcmp(key, "title")) {
            title_n = v;
        } else if (!strcmp(key, "text")) {
            text_n = v;
        } else {
            return kf_boty_fail(c, k, "unknown key '%s' in a canned response (id, title, text)", key);
        }
    }
    if (!id) return kf_boty_fail(c, n, "a canned response needs an 'id'");
    if (!kf_boty_ident_ok(id)) return kf_boty_fail(c, id_n, "canned response id '%s': use lower-case letters, digits and '_'", id);
    const canned_t *dup = find(b, id);
    if (dup) return kf_boty_fail(c, id_n, "duplicate canned response '%s' (first defined at %s:%d)", id, dup->file, dup->line);
    if (!title_n) return kf_boty_fail(c, n, "canned response '%s' has no 'title'", id);
    if (!text_n) return kf_boty_fail(c, n, "canned response '%s' has no 'text'", id);

    const char **titles = kf_boty_keep_block(b, b->n_langs * sizeof *titles);
    const char **text = kf_boty_keep_block(b, b->n_langs * sizeof *text);
    const char *title = NULL, *first_text = NULL, *s;
    if (!titles || !text) return kf_boty_fail(c, n, "out of memory");
    if (title_n->type == YAML_SCALAR_NODE) { /* one title for every language */
        char label[96];
        snprintf(label, sizeof label, "the title of canned response '%s'", id);
        if (kf_boty_str(c, title_n, label, &s)) return -1;
        if (blank(s)) return kf_boty_fail(c, title_n, "%s is blank", label);
        if (!(title = kf_boty_keep(b, s))) return kf_boty_fail(c, title_n, "out of memory");
        for (size_t i = 0; i < b->n_langs; i++) titles[i] = title;
    } else if (load_per_lang(c, title_n, "title", id, titles, &title)) {
        return -1;
    }
    if (load_per_lang(c, text_n, "text", id, text, &first_text)) return -1;

    if (KF_BOTY_GROW(b, canned)) return kf_boty_fail(c, n, "out of memory");
    canned_t *e = &b->canned[b->n_canned];
    int dl = lang_index(b, b->default_lang);
    e->c.titles = titles;
    e->c.text = text;
    e->c.title = dl >= 0 && titles[dl] ? titles[dl] : title;
    e->file = c->file;
    e->line = kf_boty_line(id_n);
    if (!(e->c.id = kf_boty_keep(b, id))) return kf_boty_fail(c, id_n, "out of memory");
    b->n_canned++;
    return 0;
}

static int load_canned_file(ctx_t *c, yaml_node_t *root) {
    if (kf_boty_want(c, root, YAML_MAPPING_NODE, "canned.yml")) return -1;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
        const char *key;
        if (kf_boty_str(c, k, "a key", &key)) return -1;
        if (strcmp(key, "canned")) return kf_boty_fail(c, k, "unknown key '%s' in canned.yml (canned)", key);
        if (kf_boty_want(c, v, YAML_SEQUENCE_NODE, "canned")) return -1;
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
            if (load_entry(c, yaml_document_get_node(c->doc, *it)) && kf_boty_caught(c->b, c->err)) return -1;
    }
    return 0;
}

int kf_boty_load_canned(kf_bot_t *b, const char *dir, char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/canned.yml", dir);
    return kf_boty_load_file(b, path, load_canned_file, 0, err, errlen); /* optional: absent means none */
}

/* ---- accessors ---------------------------------------------------------- */

size_t kf_bot_n_canned(const kf_bot_t *b) { return b->n_canned; }
const kf_bot_canned_t *kf_bot_canned_at(const kf_bot_t *b, size_t i) { return i < b->n_canned ? &b->canned[i].c : NULL; }

const kf_bot_canned_t *kf_bot_canned_named(const kf_bot_t *b, const char *id) {
    const canned_t *e = id ? find(b, id) : NULL;
    return e ? &e->c : NULL;
}

const char *kf_bot_canned_text(const kf_bot_canned_t *c, const kf_bot_t *b, const char *lang) {
    int i = lang_index(b, lang ? lang : b->default_lang);
    return c && i >= 0 ? c->text[i] : NULL;
}

const char *kf_bot_canned_title(const kf_bot_canned_t *c, const kf_bot_t *b, const char *lang) {
    int i = lang_index(b, lang ? lang : b->default_lang);
    return c && i >= 0 ? c->titles[i] : NULL;
}
