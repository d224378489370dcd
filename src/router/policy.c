/* policy.c — the pure routing decision (routing.h kf_routing_decide): from
 * the profile, the query's features, the bot's intent → skill mapping and the
 * rules of bot.yml `routing:` to a target (bot or skill queue), a priority
 * with each input's share of it, and a sentence saying why.  No state, no
 * clock: the same input always gives the same decision.
 *
 * priority = w_vip·tier + w_value·log10(1 + value) + w_complexity·complexity
 *          + w_sentiment·negativity + w_failures·min(failures, 5)
 *          + w_contacts·min(earlier_contacts, 10) + Σ matching rules' priority
 * A human is chosen, in this order, by: a rule with `then: {skill}` or
 * `{human: true}`; an intent listed in human_intents; negativity ≥
 * negative_threshold (→ complaint_skill); failures ≥ max_failures;
 * complexity ≥ human_complexity.  Otherwise the bot keeps the conversation.
 * Skill: the rule's, else complaint_skill for a negative message, else the
 * intent's, else fallback_skill. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "router/routing.h"

/* ---- sentiment: a small lexicon, not a model -------------------------------- */

typedef struct {
    const char *word;
    int points; /* 2 strong, 1 mild */
} lex_t;

static const lex_t en_lex[] = {
    {"furious", 2}, {"terrible", 2}, {"horrible", 2}, {"awful", 2}, {"worst", 2}, {"scam", 2},
    {"fraud", 2}, {"unacceptable", 2}, {"disgusting", 2}, {"ridiculous", 2}, {"useless", 2},
    {"incompetent", 2}, {"outraged", 2}, {"hate", 2}, {"sue", 2}, {"lawyer", 2},
    {"angry", 1}, {"annoyed", 1}, {"upset", 1}, {"disappointed", 1}, {"bad", 1}, {"poor", 1},
    {"wrong", 1}, {"complain", 1}, {"complaint", 1}, {"frustrated", 1}, {"unhappy", 1}, {"rude", 1},
    {"waste", 1}, {"slow", 1}, {NULL, 0}};

/* Substrings: Chinese has no spaces.  Left out on purpose: 烦 (inside 麻烦,
 * "trouble"), 不好 (inside 不好意思, "excuse me"). */
static const lex_t zh_lex[] = {
    {"垃圾", 2}, {"骗子", 2}, {"欺诈", 2}, {"太差", 2}, {"气死", 2}, {"投诉", 2}, {"恶心", 2},
    {"差劲", 2}, {"离谱", 2}, {"愤怒", 2}, {"律师", 2}, {"起诉", 2},
    {"不满", 1}, {"失望", 1}, {"生气", 1}, {"糟糕", 1}, {"很差", 1}, {"太慢", 1}, {"无语", 1}, {NULL, 0}};

/* Every customer message is weighed: the first letter spares most compares. */
static int en_points(const char *w) {
    for (const lex_t *l = en_lex; l->word; l++)
        if (l->word[0] == w[0] && !strcmp(l->word, w)) return l->points;
    return 0;
}

static int ascii_only(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) return 0;
    return 1;
}

static int zh_points(const char *text) {
    int pts = 0;
    if (ascii_only(text)) return 0; /* nineteen strstr over a text without one CJK byte */
    for (const lex_t *l = zh_lex; l->word; l++)
        for (const char *p = text; (p = strstr(p, l->word)); p += strlen(l->word)) pts += l->points;
    return pts;
}

double kf_routing_negativity(const char *text) {
    if (!text) return 0;
    int pts = zh_points(text);
    char w[24];
    for (const char *p = text; *p;) {
        if (!isalpha((unsigned char)*p)) {
            p++;
            continue;
        }
        size_t n = 0;
        for (; isalpha((unsigned char)*p); p++)
            if (n + 1 < sizeof w) w[n++] = (char)tolower((unsigned char)*p);
        w[n] = '\0';
        pts += en_points(w);
    }
    return pts >= 3 ? 1.0 : pts / 3.0;
}

/* ---- complexity ------------------------------------------------------------ */

static size_t code_points(const char *s) {
    size_t n = 0;
    for (; s && *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static double clamp01(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

/* complexity = 0.40·(1 − confidence) + 0.15·min(1, (intents_seen − 1) / 3)
 *            + 0.10·min(1, entities / 4) + 0.15·min(1, length / 300 code points)
 *            + 0.20·out_of_scope
 * The weights rank what most often defeats the bot: an unsure classifier and
 * a question outside its intents; several intents and long messages mean a
 * tangled case. */
double kf_routing_complexity(const kf_routing_input_t *in) {
    double conf = in->out_of_scope || !in->intent ? 0 : clamp01(in->confidence);
    double c = 0.40 * (1 - conf) + 0.15 * clamp01((in->intents_seen - 1) / 3.0) + 0.10 * clamp01(in->entities / 4.0) +
               0.15 * clamp01((double)code_points(in->text) / 300.0) + 0.20 * (in->out_of_scope ? 1 : 0);
    return clamp01(c);
}

/* ---- the decision --------------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static void say(kf_routing_decision_t *d, const char *fmt, ...) {
    size_t n = strlen(d->reason);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason + n, sizeof d->reason - n, fmt, ap);
    va_end(ap);
}

static int rule_matches(const kf_routing_rule_t *r, const kf_routing_input_t *in) {
    if (r->vip_min >= 0 && in->vip_tier < r->vip_min) return 0;
    if (r->value_min >= 0 && in->customer_value < r->value_min) return 0;
    if (r->intent[0] && (!in->intent || strcmp(r->intent, in->intent))) return 0;
    if (r->language[0] && (!in->language || strcmp(r->language, in->language))) return 0;
    return 1;
}

static void weigh(const kf_routing_config_t *cfg, const kf_routing_input_t *in, kf_routing_decision_t *d) {
    kf_routing_weights_t *w = &d->weights;
    int fails = in->failures < 0 ? 0 : in->failures > 5 ? 5 : in->failures;
    int contacts = in->earlier_contacts < 0 ? 0 : in->earlier_contacts > 10 ? 10 : in->earlier_contacts;
    w->vip = cfg->w_vip * (in->vip_tier < 0 ? 0 : in->vip_tier);
    w->value = cfg->w_value * log10(1 + (in->customer_value > 0 ? in->customer_value : 0));
    w->complexity = cfg->w_complexity * d->complexity;
    w->sentiment = cfg->w_sentiment * d->negativity;
    w->failures = cfg->w_failures * fails;
    w->contacts = cfg->w_contacts * contacts;
}

static int is_human_intent(const kf_routing_config_t *cfg, const char *intent) {
    for (size_t i = 0; intent && i < cfg->n_human_intents; i++)
        if (!strcmp(cfg->human_intents[i], intent)) return 1;
    return 0;
}

/* Applies the matching rules: priority boosts add up; the first rule that
 * names a skill or asks for a human decides.  Returns that rule or NULL. */
static const kf_routing_rule_t *apply_rules(const kf_routing_config_t *cfg, const kf_routing_input_t *in,
                                            kf_routing_decision_t *d) {
    const kf_routing_rule_t *decisive = NULL;
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const kf_routing_rule_t *r = &cfg->rules[i];
        if (!rule_matches(r, in)) continue;
        d->weights.rules += r->then_priority;
        if (!decisive && (r->then_skill[0] || r->then_human)) decisive = r;
        say(d, "rule %zu (bot.yml line %d) matched, %+g; ", i + 1, r->line, r->then_priority);
    }
    return decisive;
}

/* Why a human, or NULL for the bot. */
static const char *why_human(const kf_routing_config_t *cfg, const kf_routing_input_t *in,
                             const kf_routing_rule_t *rule, const kf_routing_decision_t *d) {
    if (rule) return "a routing rule asks for a person";
    if (is_human_intent(cfg, in->intent)) return "the intent is one a person handles";
    if (d->negativity >= cfg->negative_threshold) return "the message is strongly negative";
    if (cfg->max_failures > 0 && in->failures >= cfg->max_failures) return "the bot failed repeatedly";
    if (d->complexity >= cfg->human_complexity) return "the query is too complex for the bot";
    return NULL;
}

static const char *pick_skill(const kf_routing_config_t *cfg, const kf_routing_input_t *in,
                              const kf_routing_rule_t *rule, const kf_routing_decision_t *d) {
    if (rule && rule->then_skill[0]) return rule->then_skill;
    if (d->negativity >= cfg->negative_threshold && cfg->complaint_skill[0]) return cfg->complaint_skill;
    if (in->intent_skill && *in->intent_skill) return in->intent_skill;
    return cfg->fallback_skill;
}

void kf_routing_decide(const kf_routing_config_t *cfg, const kf_routing_input_t *in, kf_routing_decision_t *out) {
    memset(out, 0, sizeof *out);
    out->complexity = kf_routing_complexity(in);
    out->negativity = kf_routing_negativity(in->text);
    weigh(cfg, in, out);
    const kf_routing_rule_t *rule = apply_rules(cfg, in, out);
    const kf_routing_weights_t *w = &out->weights;
    out->priority = w->vip + w->value + w->complexity + w->sentiment + w->failures + w->contacts + w->rules;
    snprintf(out->skill, sizeof out->skill, "%s", pick_skill(cfg, in, rule, out));
    const char *why = why_human(cfg, in, rule, out);
    const char *intent = in->out_of_scope || !in->intent ? "out of scope" : in->intent;
    if (!why) {
        out->kind = KF_ROUTING_BOT;
        say(out, "the bot keeps it: intent %s (%.2f), complexity %.2f, negativity %.2f, %d failure(s)", intent,
            in->confidence, out->complexity, out->negativity, in->failures);
        return;
    }
    out->kind = KF_ROUTING_SKILL;
    say(out, "%s: intent %s (%.2f), VIP tier %d, complexity %.2f, negativity %.2f -> %s queue, priority %.1f", why,
        intent, in->confidence, in->vip_tier, out->complexity, out->negativity, out->skill, out->priority);
}
