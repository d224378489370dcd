/* config.c — the routing rules of a bot: defaults, and bot.yml's `routing:`
 * section read with libyaml (bots/README.md "Routing").  It lives here rather
 * than in the bot loader so that the router depends on nothing of the bot
 * module and the bot module on nothing of the router: the bot loader only
 * accepts the key, and `kefu serve` reads the section through this file and
 * checks its skills against the bot's (kf_routing_config_check).  Errors say
 * "file:line: what" like the bot loader's. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "router/routing.h"

void kf_routing_config_default(kf_routing_config_t *c) {
    memset(c, 0, sizeof *c);
    c->w_vip = 20;        /* one tier = 40 s of waiting at the default aging */
    c->w_value = 5;       /* per decade of customer value */
    c->w_complexity = 20;
    c->w_sentiment = 30;
    c->w_failures = 10;
    c->w_contacts = 2;
    c->aging_per_s = 0.5;
    c->offer_timeout_s = 30;
    c->overflow_after_s = 120;
    strcpy(c->fallback_skill, "general");
    strcpy(c->complaint_skill, "complaints");
    c->human_complexity = 0.75;
    c->negative_threshold = 0.6;
    c->max_failures = 2;
    strcpy(c->human_intents[0], "human_agent");
    strcpy(c->human_intents[1], "complaint");
    c->n_human_intents = 2;
}

typedef struct {
    const char *file;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
} pctx_t;

__attribute__((format(printf, 3, 4))) static int fail(pctx_t *c, const yaml_node_t *n, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s:%d: %s", c->file, n ? (int)n->start_mark.line + 1 : 1, msg);
    return -1;
}

static const char *scalar(const yaml_node_t *n) {
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int number(pctx_t *c, const yaml_node_t *n, const char *what, double lo, double hi, double *out) {
    const char *s = scalar(n);
    char *end;
    errno = 0;
    double d = s ? strtod(s, &end) : 0;
    if (!s || !*s || errno || *end || !(d >= lo && d <= hi))
        return fail(c, n, "routing %s must be a number from %g to %g, not '%s'", what, lo, hi, s ? s : "a collection");
    *out = d;
    return 0;
}

static int name(pctx_t *c, const yaml_node_t *n, const char *what, char *out) {
    const char *s = scalar(n);
    size_t len = s ? strlen(s) : 0;
    if (!len || len >= KF_ROUTING_NAME_MAX) return fail(c, n, "routing %s must be a name of 1 to %d characters", what, KF_ROUTING_NAME_MAX - 1);
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return fail(c, n, "routing %s '%s': use lower-case letters, digits and '_'", what, s);
    memcpy(out, s, len + 1);
    return 0;
}

static int boolean(pctx_t *c, const yaml_node_t *n, const char *what, int *out) {
    const char *s = scalar(n);
    if (s && (!strcmp(s, "true") || !strcmp(s, "false"))) {
        *out = s[0] == 't';
        return 0;
    }
    return fail(c, n, "routing %s must be true or false", what);
}

#define EACH_PAIR(c, m, k, v)                                                                                  \
    for (yaml_node_pair_t *p_ = (m)->data.mapping.pairs.start; p_ < (m)->data.mapping.pairs.top; p_++)        \
        for (yaml_node_t *k = yaml_document_get_node((c)->doc, p_->key), *v = yaml_document_get_node((c)->doc, \
                                                                                                      p_->value); \
             k; k = NULL)

static int want_map(pctx_t *c, const yaml_node_t *n, const char *what) {
    return n->type == YAML_MAPPING_NODE ? 0 : fail(c, n, "routing %s must be a mapping", what);
}

static int load_weights(pctx_t *c, yaml_node_t *m, kf_routing_config_t *cfg) {
    if (want_map(c, m, "weights")) return -1;
    EACH_PAIR(c, m, k, v) {
        const char *key = scalar(k);
        double *dst = !key ? NULL : !strcmp(key, "vip") ? &cfg->w_vip : !strcmp(key, "value") ? &cfg->w_value
                    : !strcmp(key, "complexity") ? &cfg->w_complexity : !strcmp(key, "sentiment") ? &cfg->w_sentiment
                    : !strcmp(key, "failures") ? &cfg->w_failures : !strcmp(key, "contacts") ? &cfg->w_contacts : NULL;
        if (!dst) return fail(c, k, "unknown routing weight '%s' (vip, value, complexity, sentiment, failures, contacts)", key ? key : "?");
        if (number(c, v, key, 0, 10000, dst)) return -1;
    }
    return 0;
}

static int load_when(pctx_t *c, yaml_node_t *m, kf_routing_rule_t *r) {
    if (want_map(c, m, "rule 'when'")) return -1;
    if (m->data.mapping.pairs.top == m->data.mapping.pairs.start)
        return fail(c, m, "a routing rule's 'when' must name at least one condition");
    EACH_PAIR(c, m, k, v) {
        const char *key = scalar(k);
        double d;
        if (key && !strcmp(key, "vip_min")) {
            if (number(c, v, "vip_min", 0, 9, &d)) return -1;
            r->vip_min = (int)d;
        } else if (key && !strcmp(key, "value_min")) {
            if (number(c, v, "value_min", 0, 1e15, &r->value_min)) return -1;
        } else if (key && !strcmp(key, "intent")) {
            if (name(c, v, "intent", r->intent)) return -1;
        } else if (key && !strcmp(key, "language")) {
            if (name(c, v, "language", r->language)) return -1;
        } else {
            return fail(c, k, "unknown condition '%s' in a routing rule (vip_min, value_min, intent, language)", key ? key : "?");
        }
    }
    return 0;
}

static int load_then(pctx_t *c, yaml_node_t *m, kf_routing_rule_t *r) {
    if (want_map(c, m, "rule 'then'")) return -1;
    EACH_PAIR(c, m, k, v) {
        const char *key = scalar(k);
        if (key && !strcmp(key, "skill")) {
            if (name(c, v, "skill", r->then_skill)) return -1;
        } else if (key && !strcmp(key, "priority")) {
            if (number(c, v, "priority", -10000, 10000, &r->then_priority)) return -1;
        } else if (key && !strcmp(key, "human")) {
            if (boolean(c, v, "human", &r->then_human)) return -1;
        } else {
            return fail(c, k, "unknown action '%s' in a routing rule (skill, priority, human)", key ? key : "?");
        }
    }
    return 0;
}

static int load_rule(pctx_t *c, yaml_node_t *n, kf_routing_rule_t *r) {
    yaml_node_t *when = NULL, *then = NULL;
    memset(r, 0, sizeof *r);
    r->line = (int)n->start_mark.line + 1;
    r->vip_min = -1;
    r->value_min = -1;
    if (want_map(c, n, "rule")) return -1;
    EACH_PAIR(c, n, k, v) {
        const char *key = scalar(k);
        if (key && !strcmp(key, "when")) when = v;
        else if (key && !strcmp(key, "then")) then = v;
        else return fail(c, k, "unknown key '%s' in a routing rule (when, then)", key ? key : "?");
    }
    if (!when || !then) return fail(c, n, "a routing rule needs both 'when' and 'then'");
    return load_when(c, when, r) || load_then(c, then, r) ? -1 : 0;
}

static int load_list(pctx_t *c, yaml_node_t *n, kf_routing_config_t *cfg, int rules) {
    size_t cnt = n->type == YAML_SEQUENCE_NODE ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start) : 0;
    size_t max = rules ? KF_ROUTING_MAX_RULES : KF_ROUTING_MAX_HUMAN_INTENTS;
    if (n->type != YAML_SEQUENCE_NODE) return fail(c, n, "routing %s must be a list", rules ? "rules" : "human_intents");
    if (cnt > max) return fail(c, n, "at most %zu routing %s", max, rules ? "rules" : "human_intents");
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *e = yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
        if (rules ? load_rule(c, e, &cfg->rules[i]) : name(c, e, "human intent", cfg->human_intents[i])) return -1;
    }
    if (rules) cfg->n_rules = cnt;
    else cfg->n_human_intents = cnt;
    return 0;
}

static int load_key(pctx_t *c, const char *key, yaml_node_t *k, yaml_node_t *v, kf_routing_config_t *cfg) {
    double d;
    if (!strcmp(key, "weights")) return load_weights(c, v, cfg);
    if (!strcmp(key, "aging_per_second")) return number(c, v, key, 0, 1000, &cfg->aging_per_s);
    if (!strcmp(key, "offer_timeout_s")) return number(c, v, key, 1, 86400, &cfg->offer_timeout_s);
    if (!strcmp(key, "overflow_after_s")) return number(c, v, key, 0, 86400, &cfg->overflow_after_s);
    if (!strcmp(key, "fallback_skill")) return name(c, v, key, cfg->fallback_skill);
    if (!strcmp(key, "complaint_skill")) return name(c, v, key, cfg->complaint_skill);
    if (!strcmp(key, "human_complexity")) return number(c, v, key, 0, 1, &cfg->human_complexity);
    if (!strcmp(key, "negative_threshold")) return number(c, v, key, 0, 1, &cfg->negative_threshold);
    if (!strcmp(key, "human_intents")) return load_list(c, v, cfg, 0);
    if (!strcmp(key, "rules")) return load_list(c, v, cfg, 1);
    if (!strcmp(key, "max_failures")) {
        if (number(c, v, key, 0, 100, &d)) return -1;
        cfg->max_failures = (int)d;
        return 0;
    }
    return fail(c, k, "unknown key '%s' in routing (weights, aging_per_second, offer_timeout_s, overflow_after_s, "
                      "fallback_skill, complaint_skill, human_complexity, negative_threshold, max_failures, "
                      "human_intents, rules)", key);
}

static int load_routing(pctx_t *c, yaml_node_t *root, kf_routing_config_t *cfg) {
    if (root->type != YAML_MAPPING_NODE) return 0; /* the bot loader reports a malformed bot.yml */
    EACH_PAIR(c, root, k, v) {
        const char *key = scalar(k);
        if (!key || strcmp(key, "routing")) continue;
        if (want_map(c, v, "section")) return -1;
        EACH_PAIR(c, v, rk, rv) {
            const char *rkey = scalar(rk);
            if (!rkey) return fail(c, rk, "a routing key must be a string");
            if (load_key(c, rkey, rk, rv, cfg)) return -1;
        }
    }
    return 0;
}

int kf_routing_config_load(const char *path, kf_routing_config_t *cfg, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    int rc = 0;
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%d: %s", path, (int)parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "malformed YAML");
        rc = -1;
    } else {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        pctx_t c = {path, &doc, err, errlen};
        kf_routing_config_t tmp = *cfg; /* a failed load leaves cfg untouched */
        if (root && load_routing(&c, root, &tmp) == 0) {
            *cfg = tmp;
            snprintf(cfg->file, sizeof cfg->file, "%s", path);
        } else if (root) {
            rc = -1;
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

static int known(const char *s, const char *const *skills, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(skills[i], s)) return 1;
    return 0;
}

int kf_routing_config_check(const kf_routing_config_t *cfg, const char *const *skills, size_t n, char *err,
                            size_t errlen) {
    const char *file = cfg->file[0] ? cfg->file : "routing defaults";
    if (!known(cfg->fallback_skill, skills, n)) {
        snprintf(err, errlen, "%s: routing fallback_skill '%s' is not in the bot's skills", file, cfg->fallback_skill);
        return -1;
    }
    if (cfg->complaint_skill[0] && !known(cfg->complaint_skill, skills, n)) {
        snprintf(err, errlen, "%s: routing complaint_skill '%s' is not in the bot's skills", file, cfg->complaint_skill);
        return -1;
    }
    for (size_t i = 0; i < cfg->n_rules; i++)
        if (cfg->rules[i].then_skill[0] && !known(cfg->rules[i].then_skill, skills, n)) {
            snprintf(err, errlen, "%s:%d: routing rule %zu: skill '%s' is not in the bot's skills", file,
                     cfg->rules[i].line, i + 1, cfg->rules[i].then_skill);
            return -1;
        }
    return 0;
}
