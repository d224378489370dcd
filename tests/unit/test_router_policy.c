/* Unit tests for src/router/policy.c and config.c: the decision's target,
 * priority, weights and reason; the en + zh negativity lexicon; complexity;
 * bot.yml `routing:` loading with file:line errors; the live decision. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "router_fixture.h"

static kf_routing_config_t demo_cfg(void) {
    kf_routing_config_t c;
    kf_routing_config_default(&c);
    char err[512];
    cr_assert_eq(kf_routing_config_load("bots/demo/bot.yml", &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kf_routing_config_check(&c, fx_skills, 6, err, sizeof err), 0, "%s", err);
    return c;
}

static kf_routing_input_t query(const char *text, const char *intent, double conf, const char *skill) {
    return (kf_routing_input_t){.language = "en", .text = text, .intent = intent, .confidence = conf,
                                .intents_seen = 1, .intent_skill = skill};
}

Test(router_policy, faq_question_stays_with_the_bot) {
    kf_routing_config_t c = demo_cfg();
    kf_routing_input_t in = query("what are your opening hours", "opening_hours", 0.95, "general");
    kf_routing_decision_t d;
    kf_routing_decide(&c, &in, &d);
    cr_assert_eq(d.kind, KF_ROUTING_BOT);
    cr_assert(strstr(d.reason, "the bot keeps it"), "%s", d.reason);
}

Test(router_policy, vip_loan_goes_to_loans_with_higher_priority) {
    kf_routing_config_t c = demo_cfg();
    kf_routing_input_t in = query("I want a loan for a car", "loan_inquiry", 0.9, "loans");
    kf_routing_decision_t regular, vip;
    kf_routing_decide(&c, &in, &regular);
    cr_assert_eq(regular.kind, KF_ROUTING_BOT, "a regular customer's loan question is the bot's: %s", regular.reason);
    in.vip_tier = 3;
    kf_routing_decide(&c, &in, &vip);
    cr_assert_eq(vip.kind, KF_ROUTING_SKILL);
    cr_assert_str_eq(vip.skill, "loans");
    cr_assert_float_eq(vip.weights.vip, 60, 1e-9);
    cr_assert_float_eq(vip.weights.rules, 50, 1e-9);
    cr_assert_gt(vip.priority, regular.priority + 100);
    cr_assert(strstr(vip.reason, "rule 1"), "%s", vip.reason);
    const kf_routing_weights_t *w = &vip.weights;
    cr_assert_float_eq(vip.priority, w->vip + w->value + w->complexity + w->sentiment + w->failures + w->contacts + w->rules,
                       1e-9, "priority is the sum of the weights");
}

Test(router_policy, negative_message_goes_to_complaints) {
    kf_routing_config_t c = demo_cfg();
    kf_routing_input_t in = query("This is unacceptable, your bank is a scam", "transfer_money", 0.6, "payments");
    kf_routing_decision_t d;
    kf_routing_decide(&c, &in, &d);
    cr_assert_eq(d.kind, KF_ROUTING_SKILL);
    cr_assert_str_eq(d.skill, "complaints");
    cr_assert_float_eq(d.negativity, 1.0, 1e-9);
    cr_assert_float_eq(d.weights.sentiment, 30, 1e-9);
    cr_assert(strstr(d.reason, "strongly negative"), "%s", d.reason);
    in = query("服务太差了，我要投诉", "complaint", 0.8, "complaints");
    in.language = "zh";
    kf_routing_decide(&c, &in, &d);
    cr_assert_eq(d.kind, KF_ROUTING_SKILL);
    cr_assert_str_eq(d.skill, "complaints");
}

Test(router_policy, human_intent_failures_and_complexity) {
    kf_routing_config_t c = demo_cfg();
    kf_routing_decision_t d;
    kf_routing_input_t in = query("let me talk to a person", "human_agent", 0.97, "general");
    kf_routing_decide(&c, &in, &d);
    cr_assert_eq(d.kind, KF_ROUTING_SKILL);
    cr_assert_str_eq(d.skill, "general");
    in = query("it still does not work", "activate_card", 0.7, "cards");
    in.failures = 2;
    kf_routing_decide(&c, &in, &d);
    cr_assert_eq(d.kind, KF_ROUTING_SKILL);
    cr_assert_str_eq(d.skill, "cards");
    cr_assert_float_eq(d.weights.failures, 20, 1e-9);
    cr_assert(strstr(d.reason, "failed repeatedly"), "%s", d.reason);
    in = query(NULL, NULL, 0.1, NULL);
    in.out_of_scope = 1;
    in.intents_seen = 4;
    in.entities = 4;
    kf_routing_decide(&c, &in, &d);
    cr_assert_geq(d.complexity, 0.75);
    cr_assert_eq(d.kind, KF_ROUTING_SKILL);
    cr_assert_str_eq(d.skill, "general", "no intent skill: the fallback");
}

Test(router_policy, negativity_lexicon) {
    cr_assert_float_eq(kf_routing_negativity("thanks, all good"), 0, 1e-9);
    cr_assert_float_eq(kf_routing_negativity("I am a bit upset"), 1 / 3.0, 1e-9);
    cr_assert_float_eq(kf_routing_negativity("TERRIBLE service"), 2 / 3.0, 1e-9);
    cr_assert_float_eq(kf_routing_negativity("badminton is fun"), 0, 1e-9, "whole words only");
    cr_assert_float_eq(kf_routing_negativity("不好意思，麻烦你了"), 0, 1e-9, "polite phrases are not negative");
    cr_assert_float_eq(kf_routing_negativity("我很失望"), 1 / 3.0, 1e-9);
    cr_assert_float_eq(kf_routing_negativity(NULL), 0, 1e-9);
}

Test(router_policy, complexity_formula) {
    kf_routing_input_t in = query("hi", "greeting", 1.0, "general");
    cr_assert_float_eq(kf_routing_complexity(&in), 0.15 * 2 / 300.0, 1e-9);
    in.confidence = 0.5;
    in.intents_seen = 4;
    in.entities = 2;
    cr_assert_float_eq(kf_routing_complexity(&in), 0.2 + 0.15 + 0.05 + 0.001, 1e-9);
}

static char *write_tmp(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/kf_routing_%d.yml", (int)getpid());
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

Test(router_policy, config_errors_name_file_and_line) {
    kf_routing_config_t c;
    char err[512], want[128];
    kf_routing_config_default(&c);
    char *p = write_tmp("name: x\nrouting:\n  aging_per_second: 0.25\n  rules:\n    - when: {vip_min: 12}\n      then: {priority: 5}\n");
    cr_assert_eq(kf_routing_config_load(p, &c, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:5: routing vip_min must be a number from 0 to 9", p);
    cr_assert(strstr(err, want), "%s", err);
    cr_assert_float_eq(c.aging_per_s, 0.5, 1e-9, "a failed load leaves the config as it was");
    p = write_tmp("routing:\n  offer_timeout_s: 10\n  colour: blue\n");
    cr_assert_eq(kf_routing_config_load(p, &c, err, sizeof err), -1);
    cr_assert(strstr(err, ":3: unknown key 'colour' in routing"), "%s", err);
    p = write_tmp("routing:\n  rules:\n    - when: {intent: mortgage}\n      then: {skill: astrology}\n");
    cr_assert_eq(kf_routing_config_load(p, &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(kf_routing_config_check(&c, fx_skills, 6, err, sizeof err), -1);
    cr_assert(strstr(err, ":3: routing rule 1: skill 'astrology'"), "%s", err);
    p = write_tmp("name: no routing here\n");
    kf_routing_config_default(&c);
    cr_assert_eq(kf_routing_config_load(p, &c, err, sizeof err), 0);
    cr_assert_float_eq(c.offer_timeout_s, 30, 1e-9);
    unlink(p);
}

Test(router_policy, demo_config_is_read) {
    kf_routing_config_t c = demo_cfg();
    cr_assert_eq(c.n_rules, 3);
    cr_assert_str_eq(c.rules[0].intent, "loan_inquiry");
    cr_assert_eq(c.rules[0].vip_min, 2);
    cr_assert_float_eq(c.rules[0].then_priority, 50, 1e-9);
    cr_assert_float_eq(c.rules[2].value_min, 100000, 1e-9);
}

Test(router_policy, live_decision_names_agent_or_queue_without_side_effects) {
    kf_routing_config_t c = demo_cfg();
    kf_routing_t *r = fx_router(&c);
    kf_routing_input_t in = query("I want a loan", "loan_inquiry", 0.9, "loans");
    in.vip_tier = 3;
    kf_routing_decision_t d;
    kf_routing_decide_live(r, &in, 1000, &d);
    cr_assert_eq(d.kind, KF_ROUTING_SKILL, "nobody online: the skill queue");
    cr_assert(strstr(d.reason, "waits in the loans/en queue"), "%s", d.reason);
    fx_agent(r, "leo", "loans", "en", 2);
    kf_routing_decide_live(r, &in, 1000, &d);
    cr_assert_eq(d.kind, KF_ROUTING_AGENT);
    cr_assert_str_eq(d.agent_id, "leo");
    cr_assert_eq(kf_routing_queue_len(r, "loans"), 0, "deciding enqueues nothing");
    kf_routing_agent_info_t ai;
    kf_routing_agent_info(r, "leo", &ai);
    cr_assert_eq(ai.load, 0);
    fx_wait(r, "older", NULL, "loans", 1000, 0); /* someone more urgent is waiting */
    kf_routing_decide_live(r, &in, 1000, &d);
    cr_assert_eq(d.kind, KF_ROUTING_SKILL, "%s", d.reason);
    kf_routing_free(r);
}
