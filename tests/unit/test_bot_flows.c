/* test_bot_flows.c — the flows loader (bot/flows.c): a good fixture bot's
 * flows, slots, steps, resolved targets and webhooks; the demo bot's flows;
 * and every "file:line: what" error a flow can have.  Run from the repository root. */
#include <criterion/criterion.h>
#include <string.h>

#include "bot/bot.h"
#include "bot/flow.h"

#define FIX "tests/fixtures/bot/"

static kf_bot_t *load(const char *dir) {
    char err[512] = "";
    kf_bot_t *b = kf_bot_load(dir, err, sizeof err);
    cr_assert(b, "%s: %s", dir, err);
    return b;
}

Test(bot_flows, good_flows_and_steps) {
    kf_bot_t *b = load(FIX "flows_good");
    cr_assert_eq(kf_bot_n_flows(b), 2);
    const kf_flow_t *f = kf_bot_flow_for_intent(b, "lost_card");
    cr_assert(f);
    cr_expect_str_eq(f->name, "lost");
    cr_expect_str_eq(f->skill, "cards", "default skill: the trigger intent's");
    cr_expect_eq(f->n_slots, 2);
    cr_expect_str_eq(f->slots[0].entity, "card_last4");
    cr_expect_null(f->slots[1].entity);
    cr_assert_eq(f->n_steps, 3);
    cr_expect_eq(f->steps[0].kind, KF_FLOW_ASK);
    cr_expect_eq(f->steps[0].retries, 2, "default retries");
    cr_expect_eq(f->steps[0].on_fail, KF_FLOW_TO_CANCEL);
    cr_expect_eq(f->steps[1].kind, KF_FLOW_WEBHOOK);
    cr_expect_eq(f->steps[1].on_error, KF_FLOW_TO_CANCEL);
    cr_expect_eq(f->steps[1].n_send, 1);
    cr_expect_str_eq(f->steps[1].map_field[0], "data.ref");
    cr_expect_eq(f->steps[1].map_slot[0], 1);
    cr_expect_eq(f->steps[2].line, 20);
    cr_expect_str_eq(f->steps[2].file, FIX "flows_good/flows/a.yml");
    const kf_bot_response_t *zh = kf_flow_text(&f->steps[0].text, "zh", "en");
    cr_assert(zh);
    cr_expect_str_eq(zh->variations[0].text, "哪张卡？");
    cr_expect_str_eq(kf_flow_text(&f->steps[0].text, "fr", "en")->variations[0].text, "Which card?");
    cr_expect_null(kf_flow_text(&f->steps[2].text, "zh", "xx"));

    const kf_flow_t *p = kf_bot_flow_named(b, "pizza");
    cr_assert(p);
    cr_expect_eq(kf_bot_flow_for_intent(b, "order_pizza"), p);
    cr_expect_null(kf_bot_flow_for_intent(b, "hours"));
    cr_expect_null(kf_bot_flow_named(b, "nope"));
    cr_expect_eq(p->steps[0].text.by_lang[0].n_variations, 2);
    cr_expect_eq(p->steps[0].on_fail, KF_FLOW_TO_HANDOFF);
    cr_expect_eq(p->steps[1].on_fail, 0, "on_fail: ask_size resolves to step 0");
    cr_expect_eq(p->steps[2].on_deny, 0);
    cr_expect_eq(p->steps[3].next, 5, "goto: bye");
    cr_expect_eq(p->steps[5].kind, KF_FLOW_END);

    const kf_bot_webhook_t *w = kf_bot_webhook(b, "lookup");
    cr_assert(w);
    cr_expect_str_eq(w->url, "http://127.0.0.1:8088/lookup");
    cr_expect_eq(w->timeout_ms, 1500);
    cr_expect_null(kf_bot_webhook(b, "block"));
    kf_bot_free(b);
}

Test(bot_flows, slot_matching_and_validation) {
    kf_bot_t *b = load(FIX "flows_good");
    const kf_flow_t *p = kf_bot_flow_named(b, "pizza");
    const kf_flow_slot_t *size = &p->slots[0], *count = &p->slots[1];
    char v[64];
    cr_expect_eq(kf_flow_slot_match(size, "a BIG one", 9, v, sizeof v), 1);
    cr_expect_str_eq(v, "large");
    cr_expect_eq(kf_flow_slot_match(size, "bigger", 6, v, sizeof v), 0, "word boundary");
    cr_expect_eq(kf_flow_slot_match(size, "要大的", strlen("要大的"), v, sizeof v), 1);
    cr_expect_str_eq(v, "large");
    cr_expect_eq(kf_flow_slot_match(size, "small please", 12, v, sizeof v), 1);
    cr_expect_str_eq(v, "small");
    cr_expect_eq(kf_flow_slot_match(count, "3 pizzas", 8, v, sizeof v), 1);
    cr_expect_str_eq(v, "3", "named group 'value'");
    cr_expect(kf_flow_slot_valid(count, "5"));
    cr_expect_not(kf_flow_slot_valid(count, "6"));
    cr_expect_not(kf_flow_slot_valid(count, "0"));
    cr_expect_not(kf_flow_slot_valid(count, "x"));
    cr_expect(kf_flow_slot_valid(size, "Large"));
    cr_expect_not(kf_flow_slot_valid(size, "medium"));
    kf_bot_free(b);
}

Test(bot_flows, demo_bot_flows) {
    kf_bot_t *b = load("bots/demo");
    cr_expect_geq(kf_bot_n_flows(b), 3);
    const char *const want[][2] = {{"lost_or_stolen_card", "block_card"},
                                   {"transfer_money", "transfer_money"},
                                   {"update_phone", "update_phone"},
                                   {"complaint", "report_complaint"}};
    for (size_t i = 0; i < 4; i++) {
        const kf_flow_t *f = kf_bot_flow_for_intent(b, want[i][0]);
        cr_assert(f, "%s", want[i][0]);
        cr_expect_str_eq(f->name, want[i][1]);
        /* every prompt and reply exists in both languages */
        for (size_t s = 0; s < f->n_steps; s++) {
            if (!f->steps[s].text.n) continue;
            cr_expect_eq(f->steps[s].text.n, 2, "%s step %zu", f->name, s + 1);
        }
    }
    const kf_bot_webhook_t *w = kf_bot_webhook(b, "block_card");
    cr_assert(w);
    cr_expect_str_eq(w->url, "http://127.0.0.1:8088/block");
    kf_bot_free(b);
}

static void expect_error(const char *dir, const char *want) {
    char err[512] = "";
    kf_bot_t *b = kf_bot_load(dir, err, sizeof err);
    cr_expect_null(b, "%s loaded", dir);
    kf_bot_free(b);
    cr_expect(strstr(err, want), "%s: got \"%s\", want \"%s\"", dir, err, want);
}

#define E(d, line, msg) expect_error(FIX d, FIX d "/flows/a.yml:" #line ": " msg)
Test(bot_flows_errors, unknown_step_kind) { E("flow_bad_kind", 7, "unknown step kind 'say_hello'"); }
Test(bot_flows_errors, unknown_slot_in_placeholder) {
    E("flow_bad_slot", 10, "unknown slot '{last_4}' in reply (not in the slots of flow 'f')");
}
Test(bot_flows_errors, unknown_trigger_intent) { E("flow_bad_trigger", 3, "trigger 'lost_cards' is not an intent of the bot"); }
Test(bot_flows_errors, unknown_entity_type) { E("flow_bad_entity", 6, "unknown entity type 'card_last_four'"); }
Test(bot_flows_errors, goto_missing_step) { E("flow_bad_goto", 6, "no step 'nowhere' in flow 'f'"); }
Test(bot_flows_errors, duplicate_flow) {
    E("flow_dup_flow", 5, "duplicate flow 'f' (first defined at " FIX "flow_dup_flow/flows/a.yml:2)");
}
Test(bot_flows_errors, intent_triggers_two_flows) {
    E("flow_dup_trigger", 6, "intent 'lost_card' already triggers flow 'f' (" FIX "flow_dup_trigger/flows/a.yml:2)");
}
Test(bot_flows_errors, webhook_not_in_bot_yml) { E("flow_bad_webhook", 5, "webhook 'block' is not in bot.yml webhooks"); }
Test(bot_flows_errors, bad_regex) { E("flow_bad_regex", 6, "bad regex '([0-9]'"); }
Test(bot_flows_errors, ask_for_undeclared_slot) { E("flow_undeclared_ask", 5, "unknown slot 'last4' in ask"); }

Test(bot_flows_errors, training_ignores_flows_but_checks_them) {
    /* kefu train reads examples through the full loader: a broken flow stops it with the flow's line. */
    char err[512] = "";
    cr_expect_eq(kf_bot_each_example(FIX "flow_bad_kind", NULL, NULL, err, sizeof err), -1);
    cr_expect(strstr(err, "flow_bad_kind/flows/a.yml:7: unknown step kind"), "%s", err);
}
