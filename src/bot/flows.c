/* flows.c — loads a bot's multi-turn flows (flows/NAME.yml, see bots/README.md)
 * into the read-only structures of bot/flow.h, after bot.yml and every intent
 * are known, so triggers, webhooks, slots in {placeholders} and step targets
 * are all checked here with "file:line: what" errors.  Also the slot helpers
 * the dialogue state machine needs at run time (pattern and synonym matching,
 * validation): they use the regexes compiled here and keep PCRE2 private to
 * the bot module. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/yaml_int.h"

/* Entity types the NLU extracts (nlu/entities.h) plus "text": the whole message. */
static const char *const entity_types[] = {"money", "date", "card_number", "card_last4", "phone", "email", "order_id",
                                           "text"};

typedef struct {
    int *dst;
    const char *name;
    int line;
    int allow_handoff;
} target_t;

typedef struct {
    ctx_t *c;
    kf_flow_t *f;
    kf_flow_slot_t *slots;
    size_t n_slots;
    target_t targets[256];
    size_t n_targets;
} fctx_t;

#define NODE(c, id) yaml_document_get_node((c)->doc, (id))
#define N_ITEMS(n) ((size_t)((n)->data.sequence.items.top - (n)->data.sequence.items.start))
#define N_PAIRS(n) ((size_t)((n)->data.mapping.pairs.top - (n)->data.mapping.pairs.start))

static int compile(ctx_t *c, yaml_node_t *n, const char *pat, const void **out) {
    int ec;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return kf_boty_fail(c, n, "bad regex '%s' at offset %zu: %s", pat, (size_t)off, (const char *)msg);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional speed-up; the interpreter is the fallback */
    kf_bot_t *b = c->b;
    if (KF_BOTY_GROW(b, codes)) {
        pcre2_code_free(re);
        return kf_boty_fail(c, n, "out of memory");
    }
    b->codes[b->n_codes++] = re;
    *out = re;
    return 0;
}

static int number(ctx_t *c, yaml_node_t *n, const char *what, double *out) {
    const char *s;
    char *end;
    if (kf_boty_str(c, n, what, &s)) return -1;
    errno = 0;
    *out = strtod(s, &end);
    if (errno || *end || end == s) return kf_boty_fail(c, n, "%s must be a number, not '%s'", what, s);
    return 0;
}

/* ---- slots ------------------------------------------------------------ */

static int load_validate(ctx_t *c, yaml_node_t *n, kf_flow_slot_t *s) {
    if (kf_boty_want(c, n, YAML_MAPPING_NODE, "validate")) return -1;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = NODE(c, p->key), *v = NODE(c, p->value);
        const char *key, *x;
        if (kf_boty_str(c, k, "a key", &key)) return -1;
        if (!strcmp(key, "regex")) {
            if (kf_boty_str(c, v, "regex", &x) || !(s->v_regex = kf_boty_keep(c->b, x))) return -1;
            if (compile(c, v, x, &s->v_regex_code)) return -1;
        } else if (!strcmp(key, "min")) {
            if (number(c, v, "min", &s->min)) return -1;
            s->has_min = 1;
        } else if (!strcmp(key, "max")) {
            if (number(c, v, "max", &s->max)) return -1;
            s->has_max = 1;
        } else if (!strcmp(key, "one_of")) {
            if (kf_boty_want(c, v, YAML_SEQUENCE_NODE, "one_of")) return -1;
            const char **l = kf_boty_keep_block(c->b, N_ITEMS(v) * sizeof *l);
            if (!l) return kf_boty_fail(c, v, "out of memory");
            for (size_t i = 0; i < N_ITEMS(v); i++) {
                yaml_node_t *e = NODE(c, v->data.sequence.items.start[i]);
                if (kf_boty_str(c, e, "a one_of value", &x) || !(l[i] = kf_boty_keep(c->b, x))) return -1;
            }
            s->one_of = l;
            s->n_one_of = N_ITEMS(v);
        } else {
            return kf_boty_fail(c, k, "unknown key '%s' in validate (regex, min, max, one_of)", key);
        }
    }
    return 0;
}

static int load_synonyms(ctx_t *c, yaml_node_t *n, kf_flow_slot_t *s) {
    if (kf_boty_want(c, n, YAML_MAPPING_NODE, "synonyms")) return -1;
    size_t cnt = 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *v = NODE(c, p->value);
        if (kf_boty_want(c, v, YAML_SEQUENCE_NODE, "a value's synonyms")) return -1;
        cnt += 1 + N_ITEMS(v);
    }
    const char **w = kf_boty_keep_block(c->b, cnt * sizeof *w), **val = kf_boty_keep_block(c->b, cnt * sizeof *val);
    if (!w || !val) return kf_boty_fail(c, n, "out of memory");
    size_t k = 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = NODE(c, p->key), *v = NODE(c, p->value);
        const char *canon, *x;
        if (kf_boty_str(c, kn, "a synonym value", &canon) || !(canon = kf_boty_keep(c->b, canon))) return -1;
        w[k] = canon; /* the value is a synonym of itself */
        val[k++] = canon;
        for (size_t i = 0; i < N_ITEMS(v); i++) {
            yaml_node_t *e = NODE(c, v->data.sequence.items.start[i]);
            if (kf_boty_str(c, e, "a synonym", &x) || !(w[k] = kf_boty_keep(c->b, x))) return -1;
            val[k++] = canon;
        }
    }
    s->syn_words = w;
    s->syn_values = val;
    s->n_syn = k;
    return 0;
}

static int load_slot(ctx_t *c, yaml_node_t *k, yaml_node_t *n, kf_flow_slot_t *s) {
    const char *name, *x;
    if (kf_boty_str(c, k, "a slot name", &name)) return -1;
    if (!kf_boty_ident_ok(name)) return kf_boty_fail(c, k, "slot name '%s': use lower-case letters, digits and '_'", name);
    if (!(s->name = kf_boty_keep(c->b, name))) return kf_boty_fail(c, k, "out of memory");
    if (n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0) return 0; /* `slot:` with nothing: set by a webhook */
    if (kf_boty_want(c, n, YAML_MAPPING_NODE, "a slot")) return -1;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kk = NODE(c, p->key), *v = NODE(c, p->value);
        const char *key;
        if (kf_boty_str(c, kk, "a key", &key)) return -1;
        if (!strcmp(key, "entity")) {
            if (kf_boty_str(c, v, "entity", &x)) return -1;
            size_t i, ne = sizeof entity_types / sizeof *entity_types;
            for (i = 0; i < ne && strcmp(entity_types[i], x); i++) {}
            if (i == ne)
                return kf_boty_fail(c, v, "unknown entity type '%s' (money, date, card_number, card_last4, phone, "
                                          "email, order_id, text; or give the slot a pattern or synonyms)", x);
            s->entity = entity_types[i];
        } else if (!strcmp(key, "pattern")) {
            if (kf_boty_str(c, v, "pattern", &x) || !(s->pattern = kf_boty_keep(c->b, x))) return -1;
            if (compile(c, v, x, &s->pattern_code)) return -1;
        } else if (!strcmp(key, "synonyms")) {
            if (load_synonyms(c, v, s)) return -1;
        } else if (!strcmp(key, "validate")) {
            if (load_validate(c, v, s)) return -1;
        } else if (!strcmp(key, "description")) {
            if (kf_boty_want(c, v, YAML_SCALAR_NODE, "description")) return -1;
        } else {
            return kf_boty_fail(c, kk, "unknown key '%s' in a slot (entity, pattern, synonyms, validate, description)",
                                key);
        }
    }
    return 0;
}

/* ---- texts ------------------------------------------------------------ */

typedef struct {
    fctx_t *fc;
    const char *bad;
    size_t bad_len;
} slotcheck_t;

static const char *check_slot(void *ud, const char *name, size_t len) {
    slotcheck_t *sc = ud;
    for (size_t i = 0; i < sc->fc->n_slots; i++)
        if (sc->fc->slots[i].name && strlen(sc->fc->slots[i].name) == len &&
            !memcmp(sc->fc->slots[i].name, name, len))
            return ""; /* a NULL name: a slot collect mode could not read */
    if (!sc->bad) {
        sc->bad = name;
        sc->bad_len = len;
    }
    return "";
}

/* {lang: variation | [variation, ...]}; every {placeholder} must be a slot of the flow. */
static int load_text(fctx_t *fc, yaml_node_t *n, const char *what, kf_flow_text_t *t) {
    ctx_t *c = fc->c;
    kf_bot_t *b = c->b;
    if (kf_boty_want(c, n, YAML_MAPPING_NODE, what)) return -1;
    kf_bot_response_t *r = kf_boty_keep_block(b, N_PAIRS(n) * sizeof *r);
    if (!r) return kf_boty_fail(c, n, "out of memory");
    size_t k = 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = NODE(c, p->key), *v = NODE(c, p->value);
        const char *lang;
        if (kf_boty_str(c, kn, "a language", &lang)) return -1;
        if (!kf_boty_in_list(b->langs, b->n_langs, lang))
            return kf_boty_fail(c, kn, "language '%s' is not in bot.yml languages", lang);
        size_t cnt = v->type == YAML_SEQUENCE_NODE ? N_ITEMS(v) : 1;
        if (!cnt) return kf_boty_fail(c, v, "no text for '%s' in %s", lang, what);
        kf_bot_variation_t *vars = kf_boty_keep_block(b, cnt * sizeof *vars);
        if (!vars) return kf_boty_fail(c, v, "out of memory");
        for (size_t i = 0; i < cnt; i++) {
            yaml_node_t *vn = v->type == YAML_SEQUENCE_NODE ? NODE(c, v->data.sequence.items.start[i]) : v;
            if (kf_boty_load_variation(c, vn, &vars[i])) return -1;
            slotcheck_t sc = {fc, NULL, 0};
            kf_boty_scan_template(vars[i].text, check_slot, &sc, NULL, NULL);
            if (sc.bad)
                return kf_boty_fail(c, vn, "unknown slot '{%.*s}' in %s (not in the slots of flow '%s')",
                                    (int)sc.bad_len, sc.bad, what, fc->f->name);
        }
        r[k].intent = fc->f->name;
        r[k].lang = kf_boty_keep(b, lang);
        r[k].variations = vars;
        r[k++].n_variations = cnt;
    }
    t->by_lang = r;
    t->n = k;
    return 0;
}

/* ---- steps ------------------------------------------------------------ */

static int slot_ref(fctx_t *fc, yaml_node_t *n, const char *what) {
    const char *name;
    if (kf_boty_str(fc->c, n, what, &name)) return -2;
    for (size_t i = 0; i < fc->n_slots; i++)
        if (fc->slots[i].name && !strcmp(fc->slots[i].name, name)) return (int)i;
    kf_boty_fail(fc->c, n, "unknown slot '%s' in %s (not in the slots of flow '%s')", name, what, fc->f->name);
    return -2;
}

/* Step names resolve once the whole step list is known. */
static int target(fctx_t *fc, yaml_node_t *n, int *dst, int allow_handoff, const char *what) {
    const char *name;
    if (kf_boty_str(fc->c, n, what, &name)) return -1;
    if (fc->n_targets == sizeof fc->targets / sizeof *fc->targets) return kf_boty_fail(fc->c, n, "too many step targets");
    fc->targets[fc->n_targets++] = (target_t){dst, kf_boty_keep(fc->c->b, name), kf_boty_line(n), allow_handoff};
    return 0;
}

static int retries(ctx_t *c, yaml_node_t *v, int *out) {
    double d;
    if (number(c, v, "retries", &d)) return -1;
    if (d < 0 || d > 10 || d != (int)d) return kf_boty_fail(c, v, "retries must be a whole number from 0 to 10");
    *out = (int)d;
    return 0;
}

/* WORD is one of the space-separated words of LIST. */
static int has_word(const char *list, const char *word) {
    size_t wl = strlen(word);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, " ");
        if (n == wl && !memcmp(p, word, n)) return 1;
        p += n;
        while (*p == ' ') p++;
    }
    return 0;
}

static const char *const kinds[] = {"ask", "confirm", "reply", "webhook", "handoff", "end"};

static int load_step(fctx_t *fc, yaml_node_t *n, kf_flow_step_t *st) {
    ctx_t *c = fc->c;
    kf_bot_t *b = c->b;
    st->file = c->file;
    st->line = kf_boty_line(n);
    st->retries = 2;
    st->on_fail = KF_FLOW_TO_CANCEL;
    st->on_deny = KF_FLOW_TO_CANCEL;
    st->on_error = KF_FLOW_TO_HANDOFF;
    st->next = KF_FLOW_TO_NEXT;
    st->slot = -1;
    if (n->type == YAML_SCALAR_NODE && !strcmp((const char *)n->data.scalar.value, "end")) {
        st->kind = KF_FLOW_END;
        return 0;
    }
    if (kf_boty_want(c, n, YAML_MAPPING_NODE, "a step")) return -1;
    int kind = -1;
    yaml_node_t *kind_v = NULL, *first = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = NODE(c, p->key);
        const char *key;
        if (kf_boty_str(c, k, "a key", &key)) return -1;
        for (int i = 0; i < 6; i++)
            if (!strcmp(key, kinds[i])) {
                if (kind >= 0) return kf_boty_fail(c, k, "a step has one kind, not both '%s' and '%s'", kinds[kind], key);
                kind = i;
                kind_v = NODE(c, p->value);
            }
        if (!first && strcmp(key, "id")) first = k;
    }
    if (kind < 0)
        return kf_boty_fail(c, first ? first : n, "unknown step kind '%s' (ask, confirm, reply, webhook, handoff, end)",
                            first ? (const char *)first->data.scalar.value : "");
    st->kind = (kf_flow_kind_t)kind;
    switch (st->kind) {
    case KF_FLOW_ASK:
        if ((st->slot = slot_ref(fc, kind_v, "ask")) < 0) return -1;
        break;
    case KF_FLOW_CONFIRM:
        if (load_text(fc, kind_v, "confirm", &st->text)) return -1;
        break;
    case KF_FLOW_REPLY:
        if (load_text(fc, kind_v, "reply", &st->text)) return -1;
        break;
    case KF_FLOW_WEBHOOK: {
        const char *w;
        if (kf_boty_str(c, kind_v, "webhook", &w)) return -1;
        if (!kf_bot_webhook(b, w)) return kf_boty_fail(c, kind_v, "webhook '%s' is not in bot.yml webhooks", w);
        st->webhook = kf_boty_keep(b, w);
        break;
    }
    case KF_FLOW_HANDOFF: {
        const char *s;
        if (kf_boty_str(c, kind_v, "handoff", &s)) return -1;
        if (!kf_boty_in_list(b->skills, b->n_skills, s)) return kf_boty_fail(c, kind_v, "unknown skill '%s'", s);
        st->skill = kf_boty_keep(b, s);
        break;
    }
    case KF_FLOW_END: break;
    }
    /* Which keys each kind takes besides its own. */
    static const char *const allowed[6] = {"id prompt invalid retries on_fail skill goto", "id on_deny retries on_fail skill goto",
                                           "id goto", "id send map on_error error skill goto", "id reason say", "id"};
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = NODE(c, p->key), *v = NODE(c, p->value);
        const char *key = (const char *)k->data.scalar.value, *s;
        if (!strcmp(key, kinds[kind])) continue;
        if (!has_word(allowed[kind], key))
            return kf_boty_fail(c, k, "unknown key '%s' in %s step (%s)", key, kinds[kind] , allowed[kind]);
        if (!strcmp(key, "id")) {
            if (kf_boty_str(c, v, "id", &s)) return -1;
            if (!kf_boty_ident_ok(s)) return kf_boty_fail(c, v, "step id '%s': use lower-case letters, digits and '_'", s);
            if (!strcmp(s, "cancel") || !strcmp(s, "handoff")) return kf_boty_fail(c, v, "step id '%s' is reserved", s);
            st->id = kf_boty_keep(b, s);
        } else if (!strcmp(key, "prompt")) {
            if (load_text(fc, v, "prompt", &st->text)) return -1;
        } else if (!strcmp(key, "invalid") || !strcmp(key, "error")) {
            if (load_text(fc, v, key, &st->invalid)) return -1;
        } else if (!strcmp(key, "say")) {
            if (load_text(fc, v, "say", &st->text)) return -1;
        } else if (!strcmp(key, "retries")) {
            if (retries(c, v, &st->retries)) return -1;
        } else if (!strcmp(key, "on_fail")) {
            if (target(fc, v, &st->on_fail, 1, "on_fail")) return -1;
        } else if (!strcmp(key, "on_deny")) {
            if (target(fc, v, &st->on_deny, 0, "on_deny")) return -1;
        } else if (!strcmp(key, "on_error")) {
            if (target(fc, v, &st->on_error, 1, "on_error")) return -1;
        } else if (!strcmp(key, "goto")) {
            if (target(fc, v, &st->next, 0, "goto")) return -1;
        } else if (!strcmp(key, "skill")) {
            if (kf_boty_str(c, v, "skill", &s)) return -1;
            if (!kf_boty_in_list(b->skills, b->n_skills, s)) return kf_boty_fail(c, v, "unknown skill '%s'", s);
            st->skill = kf_boty_keep(b, s);
        } else if (!strcmp(key, "reason")) {
            if (kf_boty_str(c, v, "reason", &s) || !(st->reason = kf_boty_keep(b, s))) return -1;
        } else if (!strcmp(key, "send")) {
            if (kf_boty_want(c, v, YAML_SEQUENCE_NODE, "send")) return -1;
            int *l = kf_boty_keep_block(b, N_ITEMS(v) * sizeof *l);
            if (!l) return kf_boty_fail(c, v, "out of memory");
            for (size_t i = 0; i < N_ITEMS(v); i++)
                if ((l[i] = slot_ref(fc, NODE(c, v->data.sequence.items.start[i]), "send")) < 0) return -1;
            st->send = l;
            st->n_send = N_ITEMS(v);
        } else if (!strcmp(key, "map")) {
            if (kf_boty_want(c, v, YAML_MAPPING_NODE, "map")) return -1;
            int *ms = kf_boty_keep_block(b, N_PAIRS(v) * sizeof *ms);
            const char **mf = kf_boty_keep_block(b, N_PAIRS(v) * sizeof *mf);
            if (!ms || !mf) return kf_boty_fail(c, v, "out of memory");
            size_t i = 0;
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++, i++) {
                if ((ms[i] = slot_ref(fc, NODE(c, q->key), "map")) < 0) return -1;
                if (kf_boty_str(c, NODE(c, q->value), "a field of the answer", &s) || !(mf[i] = kf_boty_keep(b, s)))
                    return -1;
            }
            st->map_slot = ms;
            st->map_field = mf;
            st->n_map = i;
        }
    }
    if (st->kind == KF_FLOW_ASK && !st->text.n) return kf_boty_fail(c, n, "an ask step needs a 'prompt'");
    return 0;
}

/* ---- flows ------------------------------------------------------------ */

/* One trigger intent e, checked against the bot and the n already in t; stored at t[n]. */
static int trigger(fctx_t *fc, yaml_node_t *e, const char **t, size_t n) {
    ctx_t *c = fc->c;
    kf_bot_t *b = c->b;
    const char *s;
    if (kf_boty_str(c, e, "a trigger intent", &s)) return -1;
    if (!kf_bot_has_intent(b, s)) return kf_boty_fail(c, e, "trigger '%s' is not an intent of the bot", s);
    const kf_flow_t *o = kf_bot_flow_for_intent(b, s);
    if (o) return kf_boty_fail(c, e, "intent '%s' already triggers flow '%s' (%s:%d)", s, o->name, o->file, o->line);
    for (size_t j = 0; j < n; j++)
        if (!strcmp(t[j], s)) return kf_boty_fail(c, e, "trigger '%s' is listed twice", s);
    return (t[n] = kf_boty_keep(b, s)) ? 0 : kf_boty_fail(c, e, "out of memory");
}

static int load_triggers(fctx_t *fc, yaml_node_t *v) {
    ctx_t *c = fc->c;
    kf_bot_t *b = c->b;
    size_t cnt = v->type == YAML_SEQUENCE_NODE ? N_ITEMS(v) : 1;
    if (v->type != YAML_SEQUENCE_NODE && kf_boty_want(c, v, YAML_SCALAR_NODE, "trigger")) return -1;
    if (!cnt) return kf_boty_fail(c, v, "trigger must not be empty");
    const char **t = kf_boty_keep_block(b, cnt * sizeof *t);
    if (!t) return kf_boty_fail(c, v, "out of memory");
    size_t k = 0; /* collect mode skips a bad trigger and keeps the good ones */
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *e = v->type == YAML_SEQUENCE_NODE ? NODE(c, v->data.sequence.items.start[i]) : v;
        if (trigger(fc, e, t, k) == 0) k++;
        else if (kf_boty_caught(b, c->err)) return -1;
    }
    fc->f->triggers = t;
    fc->f->n_triggers = k;
    return 0;
}

static int load_flow(ctx_t *c, yaml_node_t *n) {
    kf_bot_t *b = c->b;
    if (kf_boty_want(c, n, YAML_MAPPING_NODE, "a flow")) return -1;
    yaml_node_t *name_n = NULL, *trig = NULL, *slots = NULL, *steps = NULL, *skill = NULL, *canc = NULL, *res = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = NODE(c, p->key), *v = NODE(c, p->value);
        const char *key;
        if (kf_boty_str(c, k, "a key", &key)) return -1;
        if (!strcmp(key, "name")) name_n = v;
        else if (!strcmp(key, "trigger")) trig = v;
        else if (!strcmp(key, "slots")) slots = v;
        else if (!strcmp(key, "steps")) steps = v;
        else if (!strcmp(key, "skill")) skill = v;
        else if (!strcmp(key, "cancelled")) canc = v;
        else if (!strcmp(key, "resume")) res = v;
        else if (!strcmp(key, "description")) {
            if (kf_boty_want(c, v, YAML_SCALAR_NODE, "description")) return -1;
        } else
            return kf_boty_fail(c, k, "unknown key '%s' in a flow (name, description, trigger, skill, slots, steps, "
                                      "cancelled, resume)", key);
    }
    const char *name;
    if (!name_n) return kf_boty_fail(c, n, "a flow needs a 'name'");
    if (kf_boty_str(c, name_n, "name", &name)) return -1;
    if (!kf_boty_ident_ok(name)) return kf_boty_fail(c, name_n, "flow name '%s': use lower-case letters, digits and '_'", name);
    const kf_flow_t *dup = kf_bot_flow_named(b, name);
    if (dup) return kf_boty_fail(c, name_n, "duplicate flow '%s' (first defined at %s:%d)", name, dup->file, dup->line);
    if (!trig) return kf_boty_fail(c, n, "flow '%s' has no 'trigger'", name);
    if (!steps) return kf_boty_fail(c, n, "flow '%s' has no 'steps'", name);
    fctx_t *fc = calloc(1, sizeof *fc); /* large (targets): not on the stack */
    kf_flow_t *f = calloc(1, sizeof *f);
    int rc = -1;
    if (!fc || !f) {
        rc = kf_boty_fail(c, n, "out of memory");
        goto out;
    }
    fc->c = c;
    fc->f = f;
    f->name = kf_boty_keep(b, name);
    f->file = c->file;
    f->line = kf_boty_line(name_n);
    if (load_triggers(fc, trig) && kf_boty_caught(b, c->err)) goto out;
    f->skill = f->n_triggers ? kf_bot_skill(b, f->triggers[0]) : "general";
    if (skill) {
        const char *s;
        if (kf_boty_str(c, skill, "skill", &s)) {
            if (kf_boty_caught(b, c->err)) goto out;
        } else if (!kf_boty_in_list(b->skills, b->n_skills, s)) {
            kf_boty_fail(c, skill, "unknown skill '%s'", s);
            if (kf_boty_caught(b, c->err)) goto out;
        } else {
            f->skill = kf_boty_keep(b, s);
        }
    }
    if (slots) {
        if (kf_boty_want(c, slots, YAML_MAPPING_NODE, "slots")) goto out;
        if (!(fc->slots = kf_boty_keep_block(b, N_PAIRS(slots) * sizeof *fc->slots))) goto out;
        /* A slot that fails still counts as declared, so its uses are not reported again. */
        for (yaml_node_pair_t *p = slots->data.mapping.pairs.start; p < slots->data.mapping.pairs.top; p++)
            if (load_slot(c, NODE(c, p->key), NODE(c, p->value), &fc->slots[fc->n_slots++]) &&
                kf_boty_caught(b, c->err))
                goto out;
    }
    f->slots = fc->slots;
    f->n_slots = fc->n_slots;
    if (kf_boty_want(c, steps, YAML_SEQUENCE_NODE, "steps")) goto out;
    if (!N_ITEMS(steps)) {
        kf_boty_fail(c, steps, "flow '%s' has no steps", name);
        goto out;
    }
    kf_flow_step_t *st = kf_boty_keep_block(b, N_ITEMS(steps) * sizeof *st);
    if (!st) goto out;
    for (size_t i = 0; i < N_ITEMS(steps); i++) {
        if (load_step(fc, NODE(c, steps->data.sequence.items.start[i]), &st[i]) && kf_boty_caught(b, c->err)) goto out;
        for (size_t j = 0; st[i].id && j < i; j++)
            if (st[j].id && !strcmp(st[j].id, st[i].id)) {
                kf_boty_set_err(c->err, c->errlen, "%s:%d: step id '%s' used twice in flow '%s' (first at line %d)",
                                c->file, st[i].line, st[i].id, name, st[j].line);
                if (kf_boty_caught(b, c->err)) goto out;
                break;
            }
        if (!st[i].skill) st[i].skill = f->skill;
    }
    f->steps = st;
    f->n_steps = N_ITEMS(steps);
    for (size_t i = 0; i < fc->n_targets; i++) {
        target_t *t = &fc->targets[i];
        if (!t->name) goto out;
        if (!strcmp(t->name, "cancel")) *t->dst = KF_FLOW_TO_CANCEL;
        else if (t->allow_handoff && !strcmp(t->name, "handoff")) *t->dst = KF_FLOW_TO_HANDOFF;
        else {
            size_t j;
            for (j = 0; j < f->n_steps && !(f->steps[j].id && !strcmp(f->steps[j].id, t->name)); j++) {}
            if (j == f->n_steps) {
                kf_boty_set_err(c->err, c->errlen, "%s:%d: no step '%s' in flow '%s' (step ids%s)", c->file, t->line,
                                t->name, name, t->allow_handoff ? ", cancel or handoff" : " or cancel");
                if (kf_boty_caught(b, c->err)) goto out;
                continue;
            }
            *t->dst = (int)j;
        }
    }
    if (canc && load_text(fc, canc, "cancelled", &f->cancelled) && kf_boty_caught(b, c->err)) goto out;
    if (res && load_text(fc, res, "resume", &f->resume) && kf_boty_caught(b, c->err)) goto out;
    if (KF_BOTY_GROW(b, flows)) {
        kf_boty_fail(c, n, "out of memory");
        goto out;
    }
    b->flows[b->n_flows++] = *f;
    rc = 0;
out:
    free(fc);
    free(f);
    return rc;
}

static int load_flows_file(ctx_t *c, yaml_node_t *root) {
    if (kf_boty_want(c, root, YAML_MAPPING_NODE, "a flows file")) return -1;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = NODE(c, p->key), *v = NODE(c, p->value);
        const char *key;
        if (kf_boty_str(c, k, "a key", &key)) return -1;
        if (strcmp(key, "flows")) return kf_boty_fail(c, k, "unknown key '%s' in a flows file (flows)", key);
        if (kf_boty_want(c, v, YAML_SEQUENCE_NODE, "flows")) return -1;
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
            if (load_flow(c, NODE(c, *it)) && kf_boty_caught(c->b, c->err)) return -1;
    }
    return 0;
}

int kf_boty_load_flows(kf_bot_t *b, const char *dir, char *err, size_t errlen) {
    char path[4096];
    struct dirent **ents = NULL;
    snprintf(path, sizeof path, "%s/flows", dir);
    int n = scandir(path, &ents, kf_boty_yml_name, kf_boty_byte_order), rc = 0;
    if (n < 0) {
        if (errno == ENOENT) return 0; /* flows are optional */
        kf_boty_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/flows/%s", dir, ents[i]->d_name);
        if (!rc && kf_boty_load_file(b, path, load_flows_file, 0, err, errlen)) rc = -1;
        free(ents[i]);
    }
    free(ents);
    return rc;
}

void kf_boty_free_flows(kf_bot_t *b) {
    for (size_t i = 0; i < b->n_codes; i++) pcre2_code_free(b->codes[i]);
    free(b->codes);
    free(b->flows);
}

/* ---- accessors and run-time helpers ------------------------------------ */

size_t kf_bot_n_flows(const kf_bot_t *b) { return b->n_flows; }
const kf_flow_t *kf_bot_flow(const kf_bot_t *b, size_t i) { return i < b->n_flows ? &b->flows[i] : NULL; }

const kf_flow_t *kf_bot_flow_named(const kf_bot_t *b, const char *name) {
    for (size_t i = 0; name && i < b->n_flows; i++)
        if (!strcmp(b->flows[i].name, name)) return &b->flows[i];
    return NULL;
}

const kf_flow_t *kf_bot_flow_for_intent(const kf_bot_t *b, const char *intent) {
    for (size_t i = 0; intent && i < b->n_flows; i++)
        for (size_t j = 0; j < b->flows[i].n_triggers; j++)
            if (!strcmp(b->flows[i].triggers[j], intent)) return &b->flows[i];
    return NULL;
}

const kf_bot_response_t *kf_flow_text(const kf_flow_text_t *t, const char *lang, const char *dflt_lang) {
    for (int pass = 0; pass < 2; pass++) {
        const char *l = pass ? dflt_lang : lang;
        for (size_t i = 0; l && i < t->n; i++)
            if (!strcmp(t->by_lang[i].lang, l)) return &t->by_lang[i];
    }
    return NULL;
}

int kf_flow_slot_index(const kf_flow_t *f, const char *name) {
    for (size_t i = 0; name && i < f->n_slots; i++)
        if (!strcmp(f->slots[i].name, name)) return (int)i;
    return -1;
}

static int regex_find(const void *code, const char *text, size_t len, char *out, size_t outlen, int whole) {
    const pcre2_code *re = code;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md) return 0;
    /* Validation wants the whole value; JIT ignores match-time anchoring, so PCRE2 interprets then. */
    uint32_t opts = whole ? PCRE2_ANCHORED | PCRE2_ENDANCHORED : 0;
    int found = 0, rc = pcre2_match(re, (PCRE2_SPTR)text, len, 0, opts, md, NULL);
    if (rc > 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        uint32_t ncap = 0;
        pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &ncap);
        int g = pcre2_substring_number_from_name(re, (PCRE2_SPTR) "value");
        if (g < 0) g = ncap >= 1 ? 1 : 0;
        if (whole) g = 0;
        if (g < rc && ov[2 * g] != PCRE2_UNSET) {
            size_t a = ov[2 * g], e = ov[2 * g + 1];
            found = 1;
            if (out && outlen) snprintf(out, outlen, "%.*s", (int)(e - a), text + a);
        }
    }
    pcre2_match_data_free(md);
    return found;
}

static int word_char(unsigned char ch) { return isalnum(ch) || ch == '_'; }

int kf_flow_slot_match(const kf_flow_slot_t *s, const char *text, size_t len, char *out, size_t outlen) {
    if (s->pattern_code && regex_find(s->pattern_code, text, len, out, outlen, 0)) return 1;
    /* Synonyms: the earliest match wins, the longest at one position; ASCII case
     * is ignored, and a Latin/digit edge must sit on a word boundary. */
    size_t best_at = (size_t)-1, best_len = 0, best = 0;
    for (size_t i = 0; i < s->n_syn; i++) {
        size_t wl = strlen(s->syn_words[i]);
        for (size_t at = 0; wl && at + wl <= len && at <= best_at; at++) {
            if (strncasecmp(text + at, s->syn_words[i], wl)) continue;
            unsigned char f = (unsigned char)s->syn_words[i][0], l = (unsigned char)s->syn_words[i][wl - 1];
            if (word_char(f) && at > 0 && word_char((unsigned char)text[at - 1])) continue;
            if (word_char(l) && at + wl < len && word_char((unsigned char)text[at + wl])) continue;
            if (at < best_at || wl > best_len) {
                best_at = at;
                best_len = wl;
                best = i;
            }
            break;
        }
    }
    if (best_at == (size_t)-1) return 0;
    if (out && outlen) snprintf(out, outlen, "%s", s->syn_values[best]);
    return 1;
}

int kf_flow_slot_valid(const kf_flow_slot_t *s, const char *v) {
    if (s->v_regex_code && !regex_find(s->v_regex_code, v, strlen(v), NULL, 0, 1)) return 0;
    if (s->has_min || s->has_max) {
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (end == v || errno) return 0;
        if ((s->has_min && d < s->min) || (s->has_max && d > s->max)) return 0;
    }
    if (s->n_one_of) {
        size_t i;
        for (i = 0; i < s->n_one_of && strcasecmp(s->one_of[i], v); i++) {}
        if (i == s->n_one_of) return 0;
    }
    return 1;
}
