/* bot.c — loads a bot folder (bot.yml and intents/NAME.yml, see bots/README.md;
 * flows.c and canned.c read flows/ and canned.yml)
 * with libyaml's document API, validates it and keeps it in memory for the
 * trainer (kf_bot_each_example) and the conversation engine (responses,
 * skills, thresholds).  Every error names the file and line it came from,
 * taken from libyaml's marks, so a bot author can fix the YAML directly.
 * Checks that need the whole bot (responses or quick replies naming an
 * intent, duplicate phrases) run after every file has been read.
 * The YAML helpers live in yaml.c (shared with the flows loader, flows.c). */
#include "bot/bot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/yaml_int.h"

static const char *const default_skills[] = {"cards", "loans", "payments", "accounts", "complaints", "general"};

/* ---- bot.yml ---------------------------------------------------------- */

static int load_str_list(ctx_t *c, yaml_node_t *n, const char *what, char ***out, size_t *nout) {
    if (kf_boty_want(c, n, YAML_SEQUENCE_NODE, what)) return -1;
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (!cnt) return kf_boty_fail(c, n, "%s must not be empty", what);
    char **list = kf_boty_keep_block(c->b, cnt * sizeof *list);
    if (!list) return kf_boty_fail(c, n, "out of memory");
    size_t k = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(c->doc, *it);
        const char *s;
        if (kf_boty_str(c, e, what, &s)) return -1;
        if (!kf_boty_ident_ok(s)) return kf_boty_fail(c, e, "'%s' in %s: use lower-case letters, digits and '_'", s, what);
        if (kf_boty_in_list(list, k, s)) return kf_boty_fail(c, e, "'%s' is listed twice in %s", s, what);
        if (!(list[k++] = kf_boty_keep(c->b, s))) return kf_boty_fail(c, e, "out of memory");
    }
    *out = list;
    *nout = k;
    return 0;
}

/* webhooks: {name: {url: http://..., timeout_ms: 3000}} — backends flows call. */
static int load_webhooks(ctx_t *c, yaml_node_t *v) {
    kf_bot_t *b = c->b;
    if (kf_boty_want(c, v, YAML_MAPPING_NODE, "webhooks")) return -1;
    size_t cnt = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    if (!(b->hooks = kf_boty_keep_block(b, cnt * sizeof *b->hooks))) return kf_boty_fail(c, v, "out of memory");
    for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
        yaml_node_t *hk = yaml_document_get_node(c->doc, q->key), *hv = yaml_document_get_node(c->doc, q->value);
        const char *name, *url = NULL, *s;
        long timeout = 5000;
        if (kf_boty_str(c, hk, "a webhook name", &name)) return -1;
        if (!kf_boty_ident_ok(name)) return kf_boty_fail(c, hk, "webhook name '%s': use lower-case letters, digits and '_'", name);
        if (kf_boty_want(c, hv, YAML_MAPPING_NODE, "a webhook")) return -1;
        for (yaml_node_pair_t *p = hv->data.mapping.pairs.start; p < hv->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *val = yaml_document_get_node(c->doc, p->value);
            const char *key;
            if (kf_boty_str(c, k, "a key", &key)) return -1;
            if (!strcmp(key, "url")) {
                if (kf_boty_str(c, val, "url", &url)) return -1;
                if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
                    return kf_boty_fail(c, val, "webhook '%s': url must start with http:// or https://", name);
            } else if (!strcmp(key, "timeout_ms")) {
                char *end;
                if (kf_boty_str(c, val, "timeout_ms", &s)) return -1;
                errno = 0;
                timeout = strtol(s, &end, 10);
                if (errno || *end || timeout < 1 || timeout > 600000)
                    return kf_boty_fail(c, val, "timeout_ms must be a whole number from 1 to 600000, not '%s'", s);
            } else if (!strcmp(key, "description")) {
                if (kf_boty_want(c, val, YAML_SCALAR_NODE, "description")) return -1;
            } else {
                return kf_boty_fail(c, k, "unknown key '%s' in a webhook (url, timeout_ms, description)", key);
            }
        }
        if (!url) return kf_boty_fail(c, hv, "webhook '%s' has no 'url'", name);
        kf_bot_webhook_t *h = &b->hooks[b->n_hooks++];
        if (!(h->name = kf_boty_keep(b, name)) || !(h->url = kf_boty_keep(b, url))) return kf_boty_fail(c, hv, "out of memory");
        h->timeout_ms = (int)timeout;
    }
    return 0;
}

static int load_bot_yml(ctx_t *c, yaml_node_t *root) {
    kf_bot_t *b = c->b;
    if (kf_boty_want(c, root, YAML_MAPPING_NODE, "bot.yml")) return -1;
    yaml_node_t *dl = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
        const char *key, *s;
        if (kf_boty_str(c, k, "a key", &key)) return -1;
        if (!strcmp(key, "name")) {
            if (kf_boty_str(c, v, "name", &s) || !(b->name = kf_boty_keep(b, s))) return -1;
        } else if (!strcmp(key, "description")) {
            if (kf_boty_want(c, v, YAML_SCALAR_NODE, "description")) return -1;
        } else if (!strcmp(key, "languages")) {
            if (load_str_list(c, v, "languages", &b->langs, &b->n_langs)) return -1;
        } else if (!strcmp(key, "skills")) {
            if (load_str_list(c, v, "skills", &b->skills, &b->n_skills)) return -1;
        } else if (!strcmp(key, "default_language")) {
            if (kf_boty_str(c, v, "default_language", &s)) return -1;
            dl = v;
        } else if (!strcmp(key, "thresholds")) {
            if (kf_boty_want(c, v, YAML_MAPPING_NODE, "thresholds")) return -1;
            size_t cnt = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
            if (!(b->th = kf_boty_keep_block(b, cnt * sizeof *b->th))) return kf_boty_fail(c, v, "out of memory");
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                yaml_node_t *tk = yaml_document_get_node(c->doc, q->key);
                yaml_node_t *tv = yaml_document_get_node(c->doc, q->value);
                const char *tname, *num;
                if (kf_boty_str(c, tk, "a threshold name", &tname) || kf_boty_str(c, tv, "a threshold", &num)) return -1;
                char *end;
                errno = 0;
                double d = strtod(num, &end);
                if (errno || *end || end == num || !(d >= 0 && d <= 1))
                    return kf_boty_fail(c, tv, "threshold '%s' must be a number from 0 to 1, not '%s'", tname, num);
                for (size_t i = 0; i < b->n_th; i++)
                    if (!strcmp(b->th[i].name, tname)) return kf_boty_fail(c, tk, "threshold '%s' given twice", tname);
                if (!(b->th[b->n_th].name = kf_boty_keep(b, tname))) return -1;
                b->th[b->n_th++].v = d;
            }
        } else if (!strcmp(key, "webhooks")) {
            if (load_webhooks(c, v)) return -1;
        } else if (!strcmp(key, "routing")) { /* its contents: router/config.c (kf_routing_config_load) */
            if (kf_boty_want(c, v, YAML_MAPPING_NODE, "routing")) return -1;
        } else {
            return kf_boty_fail(c, k, "unknown key '%s' in bot.yml (name, description, languages, default_language, "
                              "thresholds, skills, webhooks, routing)", key);
        }
    }
    if (!b->name) return kf_boty_fail(c, root, "bot.yml has no 'name'");
    if (!b->n_langs) return kf_boty_fail(c, root, "bot.yml has no 'languages'");
    if (dl) {
        const char *s = (const char *)dl->data.scalar.value;
        if (!kf_boty_in_list(b->langs, b->n_langs, s)) return kf_boty_fail(c, dl, "default_language '%s' is not in languages", s);
        b->default_lang = kf_boty_keep(b, s);
    } else {
        b->default_lang = b->langs[0];
    }
    if (!b->n_skills) {
        b->n_skills = sizeof default_skills / sizeof *default_skills;
        if (!(b->skills = kf_boty_keep_block(b, b->n_skills * sizeof *b->skills))) return -1;
        for (size_t i = 0; i < b->n_skills; i++)
            if (!(b->skills[i] = kf_boty_keep(b, default_skills[i]))) return -1;
    }
    return 0;
}

/* ---- responses -------------------------------------------------------- */

/* `responses:` of one intent: {lang: [variation, ...]}; appended to b->resps
 * (pending = 0) or b->pending (pending = 1, intent checked later). */
static int load_responses(ctx_t *c, yaml_node_t *n, const char *intent, int pending, int intent_line) {
    kf_bot_t *b = c->b;
    if (kf_boty_want(c, n, YAML_MAPPING_NODE, "responses of an intent")) return -1;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
        const char *lang;
        if (kf_boty_str(c, k, "a language", &lang)) return -1;
        if (!kf_boty_in_list(b->langs, b->n_langs, lang)) return kf_boty_fail(c, k, "language '%s' is not in bot.yml languages", lang);
        if (kf_boty_want(c, v, YAML_SEQUENCE_NODE, "a language's responses")) return -1;
        size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        if (!cnt) return kf_boty_fail(c, v, "no responses for '%s' in '%s'", intent, lang);
        kf_bot_variation_t *vars = kf_boty_keep_block(b, cnt * sizeof *vars);
        if (!vars) return kf_boty_fail(c, v, "out of memory");
        for (size_t i = 0; i < cnt; i++)
            if (kf_boty_load_variation(c, yaml_document_get_node(c->doc, v->data.sequence.items.start[i]), &vars[i]))
                return -1;
        resp_t r = {{kf_boty_keep(b, intent), kf_boty_keep(b, lang), vars, cnt}, c->file, pending ? intent_line : kf_boty_line(k)};
        if (!r.r.intent || !r.r.lang) return kf_boty_fail(c, k, "out of memory");
        if (pending) {
            if (KF_BOTY_GROW(b, pending)) return kf_boty_fail(c, k, "out of memory");
            b->pending[b->n_pending++] = r;
        } else {
            if (KF_BOTY_GROW(b, resps)) return kf_boty_fail(c, k, "out of memory");
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
    if (kf_boty_want(c, n, YAML_MAPPING_NODE, "examples")) return -1;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
        const char *lang, *text;
        if (kf_boty_str(c, k, "a language", &lang)) return -1;
        if (!kf_boty_in_list(b->langs, b->n_langs, lang)) return kf_boty_fail(c, k, "language '%s' is not in bot.yml languages", lang);
        if (kf_boty_want(c, v, YAML_SEQUENCE_NODE, "a language's examples")) return -1;
        const char *kl = b->langs[0];
        for (size_t i = 0; i < b->n_langs; i++)
            if (!strcmp(b->langs[i], lang)) kl = b->langs[i];
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
            yaml_node_t *e = yaml_document_get_node(c->doc, *it);
            if (kf_boty_str(c, e, "a training phrase", &text)) return -1;
            if (KF_BOTY_GROW(b, ex)) return kf_boty_fail(c, e, "out of memory");
            example_t *x = &b->ex[b->n_ex];
            if (!(x->text = kf_boty_keep(b, text))) return kf_boty_fail(c, e, "out of memory");
            x->lang = kl;
            x->file = c->file;
            x->line = kf_boty_line(e);
            x->intent = intent;
            x->repeat = 0;
            b->n_ex++;
        }
    }
    return 0;
}

static int load_intent(ctx_t *c, yaml_node_t *n) {
    kf_bot_t *b = c->b;
    if (kf_boty_want(c, n, YAML_MAPPING_NODE, "an intent")) return -1;
    yaml_node_t *name_n = NULL, *ex_n = NULL, *resp_n = NULL;
    const char *name = NULL, *skill = "general";
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
        const char *key;
        if (kf_boty_str(c, k, "a key", &key)) return -1;
        if (!strcmp(key, "name")) {
            if (kf_boty_str(c, v, "name", &name)) return -1;
            name_n = v;
        } else if (!strcmp(key, "skill")) {
            if (kf_boty_str(c, v, "skill", &skill)) return -1;
            if (!kf_boty_in_list(b->skills, b->n_skills, skill)) return kf_boty_fail(c, v, "unknown skill '%s'", skill);
        } else if (!strcmp(key, "description")) {
            if (kf_boty_want(c, v, YAML_SCALAR_NODE, "description")) return -1;
        } else if (!strcmp(key, "examples")) {
            ex_n = v;
        } else if (!strcmp(key, "responses")) {
            resp_n = v;
        } else {
            return kf_boty_fail(c, k, "unknown key '%s' in an intent (name, skill, description, examples, responses)", key);
        }
    }
    if (!name) return kf_boty_fail(c, n, "an intent needs a 'name'");
    if (!kf_boty_ident_ok(name)) return kf_boty_fail(c, name_n, "intent name '%s': use lower-case letters, digits and '_'", name);
    const intent_t *dup = find_intent(b, name);
    if (dup) return kf_boty_fail(c, name_n, "duplicate intent '%s' (first defined at %s:%d)", name, dup->file, dup->line);
    /* kefu check (collect mode) reports an intent without phrases itself, per language. */
    if (!ex_n && !b->diag) return kf_boty_fail(c, n, "intent '%s' has no examples", name);
    if (KF_BOTY_GROW(b, intents)) return kf_boty_fail(c, n, "out of memory");
    intent_t *in = &b->intents[b->n_intents];
    memset(in, 0, sizeof *in);
    if (!(in->name = kf_boty_keep(b, name)) || !(in->skill = kf_boty_keep(b, skill))) return kf_boty_fail(c, n, "out of memory");
    in->file = c->file;
    in->line = kf_boty_line(name_n);
    in->first_ex = b->n_ex;
    b->n_intents++;
    int rc = ex_n ? load_examples(c, ex_n, b->n_intents - 1) : 0;
    in = &b->intents[b->n_intents - 1];
    in->n_ex = b->n_ex - in->first_ex; /* also after a failure: collect mode keeps what was read */
    in->broken = rc != 0;
    if (rc) return -1;
    if (!in->n_ex && !b->diag) return kf_boty_fail(c, name_n, "intent '%s' has no training phrases", name);
    if (resp_n && load_responses(c, resp_n, name, 0, 0)) return -1;
    return 0;
}

static int load_intents_file(ctx_t *c, yaml_node_t *root) {
    if (kf_boty_want(c, root, YAML_MAPPING_NODE, "an intents file")) return -1;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
        const char *key;
        if (kf_boty_str(c, k, "a key", &key)) return -1;
        if (!strcmp(key, "intents")) {
            if (kf_boty_want(c, v, YAML_SEQUENCE_NODE, "intents")) return -1;
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
                if (load_intent(c, yaml_document_get_node(c->doc, *it)) && kf_boty_caught(c->b, c->err)) return -1;
        } else if (!strcmp(key, "responses")) {
            if (kf_boty_want(c, v, YAML_MAPPING_NODE, "responses")) return -1;
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                yaml_node_t *ik = yaml_document_get_node(c->doc, q->key);
                const char *intent;
                if ((kf_boty_str(c, ik, "an intent name", &intent) ||
                     load_responses(c, yaml_document_get_node(c->doc, q->value), intent, 1, kf_boty_line(ik))) &&
                    kf_boty_caught(c->b, c->err))
                    return -1;
            }
        } else {
            return kf_boty_fail(c, k, "unknown key '%s' in an intents file (intents, responses)", key);
        }
    }
    return 0;
}

static int cmp_example(const void *a, const void *b) {
    const example_t *x = *(example_t *const *)a, *y = *(example_t *const *)b;
    int r = strcmp(x->lang, y->lang);
    if (!r) r = strcmp(x->text, y->text);
    if (!r) r = x < y ? -1 : x > y;
    return r;
}

/* Checks that need the whole bot.  In collect mode each problem goes to
 * b->diag (kf_boty_caught) and the next one is looked for. */
static int finish(kf_bot_t *b, char *err, size_t errlen) {
    for (size_t i = 0; i < b->n_pending; i++) {
        resp_t *r = &b->pending[i];
        if (!find_intent(b, r->r.intent)) {
            kf_boty_set_err(err, errlen, "%s:%d: response for unknown intent '%s'", r->file, r->line, r->r.intent);
            if (kf_boty_caught(b, err)) return -1;
            continue;
        }
        if (KF_BOTY_GROW(b, resps)) return -1;
        b->resps[b->n_resps++] = *r;
    }
    for (size_t i = 0; i < b->n_resps; i++)
        for (size_t j = 0; j < i; j++) {
            const resp_t *x = &b->resps[i], *y = &b->resps[j];
            if (!strcmp(x->r.intent, y->r.intent) && !strcmp(x->r.lang, y->r.lang)) {
                kf_boty_set_err(err, errlen, "%s:%d: second '%s' response for intent '%s' (first at %s:%d)", x->file, x->line,
                        x->r.lang, x->r.intent, y->file, y->line);
                if (kf_boty_caught(b, err)) return -1;
                break;
            }
        }
    for (size_t i = 0; i < b->n_qrefs; i++)
        if (!find_intent(b, b->qrefs[i].payload + 1)) {
            kf_boty_set_err(err, errlen, "%s:%d: quick reply payload '%s' names an unknown intent", b->qrefs[i].file,
                    b->qrefs[i].line, b->qrefs[i].payload);
            if (kf_boty_caught(b, err)) return -1;
        }
    /* The same phrase under two labels teaches the classifier nothing but
     * confusion: an error.  Under one label twice it would silently weigh
     * double: the later copy is marked and not trained on (`kefu check`
     * warns about it).  Collect mode leaves both verdicts to kefu check. */
    example_t **v = malloc((b->n_ex ? b->n_ex : 1) * sizeof *v);
    if (!v) return -1;
    for (size_t i = 0; i < b->n_ex; i++) v[i] = &b->ex[i];
    qsort(v, b->n_ex, sizeof *v, cmp_example);
    int rc = 0;
    for (size_t i = 1; i < b->n_ex && !rc; i++) {
        if (strcmp(v[i]->lang, v[i - 1]->lang) || strcmp(v[i]->text, v[i - 1]->text)) continue;
        if (v[i]->intent == v[i - 1]->intent) {
            v[i]->repeat = 1;
        } else if (!b->diag) {
            kf_boty_set_err(err, errlen, "%s:%d: duplicate training phrase '%s' (also at %s:%d in intent '%s')", v[i]->file,
                    v[i]->line, v[i]->text, v[i - 1]->file, v[i - 1]->line, b->intents[v[i - 1]->intent].name);
            rc = -1;
        }
    }
    free(v);
    return rc;
}

/* diag NULL: the first error stops loading (kf_bot_load); otherwise every
 * error goes to diag and the loader keeps what it could read. */
static kf_bot_t *load(const char *dir, kf_boty_diag_fn diag, void *ud, char *err, size_t errlen) {
    if (!dir) {
        kf_boty_set_err(err, errlen, "no bot folder given");
        return NULL;
    }
    kf_bot_t *b = calloc(1, sizeof *b);
    char path[4096];
    struct dirent **ents = NULL;
    int n = -1, rc = -1;
    if (!b) {
        kf_boty_set_err(err, errlen, "out of memory");
        return NULL;
    }
    b->diag = diag;
    b->diag_ud = ud;
    snprintf(path, sizeof path, "%s/bot.yml", dir);
    /* Without a sound bot.yml (languages, skills) every other file would only add noise. */
    if (kf_boty_load_file(b, path, load_bot_yml, 1, err, errlen) || b->n_diag) {
        if (diag && err[0]) diag(ud, err);
        goto out;
    }
    snprintf(path, sizeof path, "%s/intents", dir);
    n = scandir(path, &ents, kf_boty_yml_name, kf_boty_byte_order);
    if (n < 0) {
        kf_boty_set_err(err, errlen, "%s: %s", path, strerror(errno));
        if (kf_boty_caught(b, err)) goto out;
    }
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/intents/%s", dir, ents[i]->d_name);
        if (kf_boty_load_file(b, path, load_intents_file, 0, err, errlen)) goto out;
    }
    if (!b->n_intents && n >= 0 && !b->n_diag) { /* in collect mode, only when no intent failed to load */
        kf_boty_set_err(err, errlen, "%s/intents: no intents", dir);
        if (kf_boty_caught(b, err)) goto out;
    }
    if (kf_boty_load_flows(b, dir, err, errlen) || kf_boty_load_canned(b, dir, err, errlen)) goto out;
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

kf_bot_t *kf_bot_load(const char *dir, char *err, size_t errlen) { return load(dir, NULL, NULL, err, errlen); }

kf_bot_t *kf_boty_load_collect(const char *dir, kf_boty_diag_fn diag, void *ud) {
    char err[1024] = "";
    return load(dir, diag, ud, err, sizeof err);
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
    free(b->canned);
    kf_boty_free_flows(b);
    free(b);
}

int kf_bot_each_example(const char *dir, kf_bot_example_fn fn, void *ud, char *err, size_t errlen) {
    kf_bot_t *b = kf_bot_load(dir, err, errlen);
    if (!b) return -1;
    int rc = 0;
    for (size_t i = 0; i < b->n_ex && !rc; i++)
        if (!b->ex[i].repeat) rc = fn(ud, b->ex[i].text, b->intents[b->ex[i].intent].name, b->ex[i].file, b->ex[i].line);
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
        if (!b->ex[i].repeat && (!lang || !strcmp(b->ex[i].lang, lang))) n++;
    return n;
}

/* Agent accounts name their skills; they must be ones this bot declares. */
int kf_bot_has_skill(const kf_bot_t *b, const char *skill) {
    return skill && kf_boty_in_list(b->skills, b->n_skills, skill);
}

size_t kf_bot_n_skills(const kf_bot_t *b) { return b->n_skills; }
const char *kf_bot_skill_at(const kf_bot_t *b, size_t i) { return i < b->n_skills ? b->skills[i] : NULL; }

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

const kf_bot_webhook_t *kf_bot_webhook(const kf_bot_t *b, const char *name) {
    for (size_t i = 0; name && i < b->n_hooks; i++)
        if (!strcmp(b->hooks[i].name, name)) return &b->hooks[i];
    return NULL;
}
