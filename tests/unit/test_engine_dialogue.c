/* test_engine_dialogue.c — the dialogue state machine (engine/dialogue.c)
 * driven by hand-made NLU results and entities (no model): the demo bot's
 * block-card flow end to end in English and Chinese, slots pre-filled from
 * the trigger, validation and retry limits, deny, cancel, digression and
 * resume, webhook answers and failures, and the state's JSON round trip,
 * with its fast reader held against the cJSON one.
 * Run from the repository root. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "engine/dialogue.h"
#include "engine/dialogue_int.h" /* the two state readers, to hold one against the other */

static kf_bot_t *bot;
static kf_dlg_state_t *st;
static kf_dlg_out_t out;
static char err[256];

static void setup(void) {
    bot = kf_bot_load("bots/demo", err, sizeof err);
    cr_assert(bot, "%s", err);
    st = kf_dlg_state_new();
    cr_assert(st);
    memset(&out, 0, sizeof out);
}

static void teardown(void) {
    kf_dlg_out_free(&out);
    kf_dlg_state_free(st);
    kf_bot_free(bot);
}

/* One customer message; ent_type/ent_value: at most one entity (NULL: none). */
static void say(const char *intent, double conf, const char *text, const char *lang, const char *ent_type,
                const char *ent_value) {
    kf_ent_t e = {0};
    if (ent_type) {
        e.type = ent_type;
        snprintf(e.value, sizeof e.value, "%s", ent_value);
    }
    kf_dlg_input_t in = {intent, conf, intent && !strcmp(intent, "oos"), &e, ent_type ? 1 : 0, text, lang};
    kf_dlg_out_free(&out);
    cr_assert_eq(kf_dlg_handle(bot, st, &in, &out, err, sizeof err), 0, "%s", err);
}

static void hook(int ok, const char *json) {
    kf_dlg_out_free(&out);
    cr_assert_eq(kf_dlg_webhook_result(bot, st, ok, json, &out, err, sizeof err), 0, "%s", err);
}

/* The conversation goes on from the state read back from js (freed here),
 * which must write the same text again. */
static void continue_from(char *js) {
    kf_dlg_state_t *back = kf_dlg_state_from_json(bot, js, err, sizeof err);
    cr_assert(back, "%s", err);
    char *js2 = kf_dlg_state_to_json(back);
    cr_expect_str_eq(js2, js);
    free(js2);
    free(js);
    kf_dlg_state_free(st);
    st = back;
}

static void expect_msgs(size_t n) {
    cr_assert_eq(out.n_msgs, n, "%zu messages, want %zu (first: %s)", out.n_msgs, n,
                 out.n_msgs ? out.msgs[0].text : "-");
}

static void expect_text(size_t i, const char *needle) {
    cr_assert(i < out.n_msgs, "no message %zu", i);
    cr_expect(strstr(out.msgs[i].text, needle), "message %zu \"%s\" lacks \"%s\"", i, out.msgs[i].text, needle);
}

TestSuite(dialogue, .init = setup, .fini = teardown);

Test(dialogue, block_card_in_english) {
    say("lost_or_stolen_card", 0.93, "I lost my card", "en", NULL, NULL);
    cr_expect_eq(out.action.kind, KF_DLG_NONE);
    expect_msgs(1);
    expect_text(0, "Which card should I block?");
    cr_expect_str_eq(kf_dlg_active_flow(st), "block_card");
    cr_expect_str_eq(kf_dlg_step_id(st), "which_card");

    /* a bare "1234" is no NLU entity (card_last4 needs a cue): the slot's pattern takes it */
    say("oos", 0.3, "1234", "en", NULL, NULL);
    expect_msgs(1);
    expect_text(0, "Block the card ending 1234?");
    cr_expect_eq(out.msgs[0].n_quick_replies, 2);
    cr_expect_str_eq(out.msgs[0].quick_replies[0].payload, "/affirm");
    cr_expect_str_eq(kf_dlg_slot(st, "card_last4"), "1234");

    say("affirm", 0.97, "yes", "en", NULL, NULL);
    expect_msgs(0);
    cr_assert_eq(out.action.kind, KF_DLG_WEBHOOK);
    cr_expect_str_eq(out.action.webhook, "block_card");
    cr_expect_str_eq(out.action.url, "http://127.0.0.1:8088/block");
    cr_expect_eq(out.action.timeout_ms, 3000);
    cr_expect_str_eq(out.action.body, "{\"card_last4\":\"1234\"}");
    cr_expect(kf_dlg_waiting_webhook(st));

    hook(1, "{\"reference\":\"BLK-20260001\",\"status\":\"blocked\"}");
    expect_msgs(1);
    cr_expect_str_eq(out.msgs[0].text,
                     "Done. The card ending 1234 is blocked. Your reference number is BLK-20260001.");
    cr_expect_eq(out.action.kind, KF_DLG_FLOW_DONE);
    cr_expect_str_eq(out.action.outcome, "completed");
    cr_expect_str_eq(out.action.flow, "block_card");
    cr_expect_null(kf_dlg_active_flow(st));
    cr_expect_not(kf_dlg_waiting_webhook(st));

    /* with no flow running, other intents go back to the engine */
    say("thanks", 0.9, "thanks", "en", NULL, NULL);
    cr_expect_eq(out.action.kind, KF_DLG_ANSWER_INTENT);
    cr_expect_str_eq(out.action.intent, "thanks");
    expect_msgs(0);
}

Test(dialogue, block_card_in_chinese) {
    say("lost_or_stolen_card", 0.9, "我的卡丢了", "zh", NULL, NULL);
    cr_expect_eq(out.lang, kf_bot_language(bot, 1));
    expect_msgs(1);
    expect_text(0, "卡号后四位");
    say("oos", 0.2, "尾号5678", "zh", "card_last4", "5678");
    expect_msgs(1);
    expect_text(0, "确认冻结尾号 5678 的银行卡吗");
    cr_expect_str_eq(out.msgs[0].quick_replies[0].title, "确认冻结");
    say("affirm", 0.95, "是的", "zh", NULL, NULL);
    cr_assert_eq(out.action.kind, KF_DLG_WEBHOOK);
    cr_expect_str_eq(out.action.body, "{\"card_last4\":\"5678\"}");
    hook(1, "{\"reference\": 778899}");
    expect_msgs(1);
    cr_expect_str_eq(out.msgs[0].text, "已为您冻结尾号 5678 的银行卡，参考编号：778899。");
    cr_expect_eq(out.action.kind, KF_DLG_FLOW_DONE);
}

Test(dialogue, slot_prefilled_from_the_trigger) {
    say("lost_or_stolen_card", 0.9, "block my card ending 4321", "en", "card_last4", "4321");
    expect_msgs(1);
    expect_text(0, "Block the card ending 4321?");
    cr_expect_str_eq(kf_dlg_step_id(st), "sure");
}

Test(dialogue, card_number_gives_its_last_four) {
    say("lost_or_stolen_card", 0.9, "block card 4111 1111 1111 1111", "en", "card_number", "4111111111111111");
    expect_msgs(1);
    expect_text(0, "ending 1111?");
}

Test(dialogue, validation_failure_then_retry_limit_cancels) {
    say("transfer_money", 0.9, "I want to send money", "en", NULL, NULL);
    expect_msgs(1);
    expect_text(0, "How much");
    say("oos", 0.2, "a lot", "en", NULL, NULL); /* nothing that fills the slot */
    expect_msgs(2);
    expect_text(0, "between 0.01 and 50,000");
    expect_text(1, "How much");
    say("oos", 0.2, "99999 CNY", "en", "money", "99999.00 CNY"); /* found, but over max */
    expect_msgs(2);
    cr_expect_null(kf_dlg_slot(st, "amount"));
    say("oos", 0.2, "zero", "en", NULL, NULL); /* third bad answer: retries (2) exhausted -> on_fail: cancel */
    expect_msgs(1);
    expect_text(0, "transfer is cancelled");
    cr_expect_eq(out.action.kind, KF_DLG_FLOW_DONE);
    cr_expect_str_eq(out.action.outcome, "cancelled");
    cr_expect_null(kf_dlg_active_flow(st));
}

Test(dialogue, retry_limit_hands_off) {
    say("lost_or_stolen_card", 0.9, "lost card", "en", NULL, NULL);
    for (int i = 0; i < 2; i++) {
        say("oos", 0.2, "the blue one", "en", NULL, NULL);
        expect_msgs(2);
        expect_text(0, "last 4 digits of the card");
    }
    say("oos", 0.2, "the red one", "en", NULL, NULL);
    cr_expect_eq(out.action.kind, KF_DLG_HANDOFF);
    cr_expect_str_eq(out.action.skill, "cards");
    cr_expect(strstr(out.action.reason, "card_last4"), "%s", out.action.reason);
    cr_expect_null(kf_dlg_active_flow(st));
}

Test(dialogue, transfer_with_text_slot_and_summary) {
    say("transfer_money", 0.9, "send 200 CNY to my mum", "en", "money", "200.00 CNY");
    expect_msgs(1);
    expect_text(0, "Who should receive it?");
    say("oos", 0.3, "  Wang Fang  ", "en", NULL, NULL);
    expect_msgs(1);
    cr_expect_str_eq(out.msgs[0].text, "Transfer 200.00 CNY to Wang Fang?");
    say("affirm", 0.9, "yes", "en", NULL, NULL);
    expect_msgs(1);
    expect_text(0, "no money has moved");
    cr_expect_eq(out.action.kind, KF_DLG_FLOW_DONE);
}

Test(dialogue, deny_at_confirm_goes_to_the_given_step) {
    say("lost_or_stolen_card", 0.9, "block my card ending 1234", "en", "card_last4", "1234");
    say("deny", 0.9, "no", "en", NULL, NULL);
    expect_msgs(1);
    expect_text(0, "I haven't blocked the card ending 1234");
    cr_expect_eq(out.action.kind, KF_DLG_FLOW_DONE);
    cr_expect_str_eq(out.action.outcome, "completed");
}

Test(dialogue, deny_asks_the_slot_again) {
    say("update_phone", 0.9, "change my phone number to 13812345678", "en", "phone", "+8613812345678");
    expect_text(0, "Change your phone number to +8613812345678?");
    say("deny", 0.9, "no", "en", NULL, NULL);
    expect_msgs(1);
    expect_text(0, "new phone number");
    cr_expect_null(kf_dlg_slot(st, "phone"));
    say("oos", 0.2, "+44 20 7946 0958", "en", "phone", "+442079460958");
    expect_text(0, "+442079460958?");
}

Test(dialogue, cancel_mid_flow) {
    say("transfer_money", 0.9, "transfer", "en", NULL, NULL);
    say("cancel", 0.8, "forget it", "en", NULL, NULL);
    expect_msgs(1);
    expect_text(0, "transfer is cancelled");
    cr_expect_eq(out.action.kind, KF_DLG_FLOW_DONE);
    cr_expect_str_eq(out.action.outcome, "cancelled");
    cr_expect_null(kf_dlg_active_flow(st));
    say("cancel", 0.8, "取消", "zh", NULL, NULL); /* nothing to cancel: the engine answers */
    cr_expect_eq(out.action.kind, KF_DLG_ANSWER_INTENT);
}

Test(dialogue, digression_and_resume) {
    say("lost_or_stolen_card", 0.9, "I lost my card", "en", NULL, NULL);
    say("opening_hours", 0.88, "when are you open?", "en", NULL, NULL);
    cr_assert_eq(out.action.kind, KF_DLG_ANSWER_INTENT);
    cr_expect_str_eq(out.action.intent, "opening_hours");
    expect_msgs(1);
    expect_text(0, "get back to blocking your card");
    cr_expect_eq(out.msgs[0].n_quick_replies, 2);
    cr_expect_str_eq(out.msgs[0].quick_replies[0].payload, "/affirm");
    cr_expect_str_eq(out.msgs[0].quick_replies[1].payload, "/cancel");
    cr_expect_null(kf_dlg_active_flow(st));
    cr_expect_str_eq(kf_dlg_paused_flow(st), "block_card");

    say("affirm", 1.0, "/affirm", "en", NULL, NULL); /* the resume button */
    expect_msgs(1);
    expect_text(0, "Which card should I block?");
    cr_expect_str_eq(kf_dlg_active_flow(st), "block_card");
    cr_expect_null(kf_dlg_paused_flow(st));
    say("oos", 0.1, "9876", "en", NULL, NULL);
    expect_text(0, "ending 9876?");
}

Test(dialogue, weak_other_intent_is_no_digression) {
    say("lost_or_stolen_card", 0.9, "I lost my card", "en", NULL, NULL);
    say("opening_hours", 0.5, "hmm open?", "en", NULL, NULL); /* below thresholds.digression (0.7) */
    cr_expect_eq(out.action.kind, KF_DLG_NONE);
    expect_msgs(2);
    cr_expect_str_eq(kf_dlg_active_flow(st), "block_card");
}

Test(dialogue, digression_then_cancel) {
    say("lost_or_stolen_card", 0.9, "我的卡丢了", "zh", NULL, NULL);
    say("opening_hours", 0.9, "几点开门", "zh", NULL, NULL);
    expect_text(0, "要继续冻结");
    say("check_balance", 0.9, "我的余额", "zh", NULL, NULL); /* another question: the offer stands */
    cr_expect_eq(out.action.kind, KF_DLG_ANSWER_INTENT);
    cr_expect_str_eq(out.action.intent, "check_balance");
    expect_text(0, "要继续冻结");
    say("cancel", 1.0, "/cancel", "zh", NULL, NULL);
    expect_msgs(1);
    expect_text(0, "不冻结银行卡了");
    cr_expect_eq(out.action.kind, KF_DLG_FLOW_DONE);
    cr_expect_str_eq(out.action.outcome, "cancelled");
    cr_expect_null(kf_dlg_paused_flow(st));
}

Test(dialogue, digression_into_another_flow_offers_the_first_back) {
    say("lost_or_stolen_card", 0.9, "I lost my card", "en", NULL, NULL);
    say("complaint", 0.9, "I want to complain", "en", NULL, NULL);
    cr_expect_str_eq(kf_dlg_active_flow(st), "report_complaint");
    cr_expect_str_eq(kf_dlg_paused_flow(st), "block_card");
    say("cancel", 0.9, "never mind", "en", NULL, NULL);
    expect_msgs(2);
    expect_text(0, "won't file a complaint");
    expect_text(1, "get back to blocking your card");
    say("affirm", 0.9, "yes", "en", NULL, NULL);
    expect_text(0, "Which card");
}

Test(dialogue, complaint_hands_off_with_details) {
    say("complaint", 0.9, "I want to complain", "en", NULL, NULL);
    say("oos", 0.3, "the branch was closed at 2pm", "en", NULL, NULL);
    cr_expect_eq(out.action.kind, KF_DLG_HANDOFF);
    cr_expect_str_eq(out.action.skill, "complaints");
    expect_text(0, "\"the branch was closed at 2pm\"");
}

static void to_webhook(void) {
    say("lost_or_stolen_card", 0.9, "block my card ending 1234", "en", "card_last4", "1234");
    say("affirm", 0.9, "yes", "en", NULL, NULL);
    cr_assert_eq(out.action.kind, KF_DLG_WEBHOOK);
}

Test(dialogue, webhook_failure_hands_off) {
    to_webhook();
    hook(0, NULL);
    expect_msgs(1);
    expect_text(0, "couldn't block the card");
    cr_expect_eq(out.action.kind, KF_DLG_HANDOFF);
    cr_expect_str_eq(out.action.skill, "cards");
    cr_expect_str_eq(out.action.reason, "block_card backend failed");
    cr_expect_null(kf_dlg_active_flow(st));
    kf_dlg_out_free(&out);
    cr_expect_eq(kf_dlg_webhook_result(bot, st, 1, "{}", &out, err, sizeof err), -1, "nothing pending");
}

Test(dialogue, webhook_answer_without_the_field_is_a_failure) {
    to_webhook();
    hook(1, "{\"status\":\"ok\"}");
    cr_expect_eq(out.action.kind, KF_DLG_HANDOFF);
    kf_dlg_state_free(st);
    st = kf_dlg_state_new();
    to_webhook();
    hook(1, "not json");
    cr_expect_eq(out.action.kind, KF_DLG_HANDOFF);
}

Test(dialogue, lost_webhook_answer_counts_as_failure) {
    to_webhook();
    say("thanks", 0.9, "thanks", "en", NULL, NULL); /* e.g. after a restart mid-call */
    cr_expect_eq(out.action.kind, KF_DLG_HANDOFF);
}

Test(dialogue, state_json_round_trip_mid_flow) {
    say("transfer_money", 0.9, "send 50 USD", "en", "money", "50.00 USD"); /* now asking the recipient */
    char *js = kf_dlg_state_to_json(st);
    cr_assert(js);
    cr_expect(strstr(js, "\"flow\":\"transfer_money\""), "%s", js);
    cr_expect(strstr(js, "\"amount\":\"50.00 USD\""), "%s", js);
    continue_from(js);
    say("oos", 0.2, "Li Lei", "en", NULL, NULL);
    cr_expect_str_eq(out.msgs[0].text, "Transfer 50.00 USD to Li Lei?");

    /* a waiting webhook and a paused flow survive too */
    kf_dlg_state_free(st);
    st = kf_dlg_state_new();
    to_webhook();
    js = kf_dlg_state_to_json(st);
    kf_dlg_state_t *back = kf_dlg_state_from_json(bot, js, err, sizeof err);
    free(js);
    cr_assert(back);
    cr_expect(kf_dlg_waiting_webhook(back));
    kf_dlg_state_free(st);
    st = back;
    hook(1, "{\"reference\":\"R9\"}");
    expect_text(0, "reference number is R9");
}

Test(dialogue, state_json_from_another_bot_or_garbage) {
    kf_dlg_state_t *s = kf_dlg_state_from_json(
        bot, "{\"v\":1,\"active\":{\"flow\":\"gone\",\"step\":0,\"slots\":{}},\"paused\":null}", err, sizeof err);
    cr_assert(s, "%s", err);
    cr_expect_null(kf_dlg_active_flow(s));
    kf_dlg_state_free(s);
    s = kf_dlg_state_from_json(bot, "{\"active\":{\"flow\":\"block_card\",\"step\":99}}", err, sizeof err);
    cr_assert(s);
    cr_expect_null(kf_dlg_active_flow(s), "step past the end is dropped");
    kf_dlg_state_free(s);
    cr_expect_null(kf_dlg_state_from_json(bot, "[1,2", err, sizeof err));
    cr_expect_null(kf_dlg_state_from_json(bot, "{\"active\":7}", err, sizeof err));
    cr_expect_null(kf_dlg_state_from_json(bot, NULL, err, sizeof err));
}

/* ---- the state's JSON text ------------------------------------------- */

/* JS through kf_dlg_state_from_json and back to text; NULL when it did not parse. */
static char *reread(const char *js) {
    kf_dlg_state_t *s = kf_dlg_state_from_json(bot, js, err, sizeof err);
    if (!s) return NULL;
    char *back = kf_dlg_state_to_json(s);
    kf_dlg_state_free(s);
    return back;
}

static void expect_reread(const char *js, const char *want) {
    char *got = reread(js);
    cr_assert(got, "%s did not parse: %s", js, err);
    cr_expect_str_eq(got, want, "from %s", js);
    free(got);
}

#define IDLE_TAIL "\"waiting\":false,\"active\":null,\"paused\":null}"

Test(dialogue, state_json_idle_text_is_exact) {
    for (int i = 0; i < 3; i++) say("opening_hours", 0.9, "when are you open?", "en", NULL, NULL);
    cr_assert_null(kf_dlg_active_flow(st));
    char *js = kf_dlg_state_to_json(st);
    cr_assert(js);
    cr_expect_str_eq(js, "{\"v\":1,\"turn\":3,\"lang\":\"en\"," IDLE_TAIL);
    free(js);
}

Test(dialogue, state_json_idle_round_trip) {
    for (int i = 0; i < 12; i++) say("opening_hours", 0.9, "几点开门", "zh", NULL, NULL);
    char *js = kf_dlg_state_to_json(st);
    cr_assert(js);
    cr_expect_str_eq(js, "{\"v\":1,\"turn\":12,\"lang\":\"zh\"," IDLE_TAIL);
    expect_reread(js, js);
    free(js);
    /* the turn goes on counting from where it was; the language survives for webhooks */
    expect_reread("{\"v\":1,\"turn\":0,\"lang\":\"\"," IDLE_TAIL, "{\"v\":1,\"turn\":0,\"lang\":\"\"," IDLE_TAIL);
    expect_reread("{\"v\":1,\"turn\":3999999999,\"lang\":\"abcdefghijklmno\"," IDLE_TAIL,
                  "{\"v\":1,\"turn\":3999999999,\"lang\":\"abcdefghijklmno\"," IDLE_TAIL);
}

Test(dialogue, state_json_active_and_paused_round_trip) {
    say("transfer_money", 0.9, "send 50 USD", "en", "money", "50.00 USD");
    say("oos", 0.2, "Li \"Lei\"\\ \t\x01 的账户", "en", NULL, NULL); /* a text slot needing escapes */
    cr_assert_str_eq(kf_dlg_slot(st, "recipient"), "Li \"Lei\"\\ \t\x01 的账户");
    say("lost_or_stolen_card", 0.9, "block my card ending 1234", "en", "card_last4", "1234");
    cr_assert_str_eq(kf_dlg_active_flow(st), "block_card");
    cr_assert_str_eq(kf_dlg_paused_flow(st), "transfer_money");
    char *js = kf_dlg_state_to_json(st);
    cr_assert(js);
    cr_expect(strstr(js, "\"paused\":{\"flow\":\"transfer_money\",\"step\":2,\"retries\":0,"
                         "\"slots\":{\"amount\":\"50.00 USD\",\"recipient\":\"Li \\\"Lei\\\"\\\\ \\t\\u0001 的账户\"}}}"),
              "%s", js);
    cr_expect(strstr(js, "\"active\":{\"flow\":\"block_card\""), "%s", js);
    cr_expect(strstr(js, "\"card_last4\":\"1234\""), "%s", js);
    cJSON *tree = cJSON_Parse(js); /* the text is what the cJSON writer gave before */
    char *printed = cJSON_PrintUnformatted(tree);
    cr_expect_str_eq(printed, js);
    free(printed);
    cJSON_Delete(tree);
    continue_from(js);
    say("cancel", 0.9, "no", "en", NULL, NULL); /* the paused transfer is offered back, slots intact */
    say("affirm", 0.9, "yes", "en", NULL, NULL);
    expect_text(0, "Transfer 50.00 USD to Li \"Lei\"");
}

/* Texts the idle fast path must leave to cJSON; each still reads as cJSON reads it. */
Test(dialogue, state_json_near_misses_take_the_full_parser) {
    const char *en3 = "{\"v\":1,\"turn\":3,\"lang\":\"en\"," IDLE_TAIL, *en0 = "{\"v\":1,\"turn\":0,\"lang\":\"en\"," IDLE_TAIL;
    expect_reread("{\"v\":1, \"turn\":3,\"lang\":\"en\"," IDLE_TAIL, en3);
    expect_reread(" {\"v\":1,\"turn\":3,\"lang\":\"en\"," IDLE_TAIL, en3);
    expect_reread("{\"v\":1,\"turn\":3,\"lang\":\"en\",\"waiting\":false,\"active\":null,\"paused\":null }", en3);
    expect_reread("{\"v\":2,\"turn\":3,\"lang\":\"en\"," IDLE_TAIL, en3);
    expect_reread("{\"v\":1,\"turn\":3,\"lang\":\"en\",\"waiting\":true,\"active\":null,\"paused\":null}", en3);
    expect_reread("{\"v\":1,\"turn\":3,\"lang\":\"e\\u006e\"," IDLE_TAIL, en3);
    expect_reread("{\"v\":1,\"turn\":3,\"lang\":\"e\\\"n\"," IDLE_TAIL, "{\"v\":1,\"turn\":3,\"lang\":\"e\\\"n\"," IDLE_TAIL);
    expect_reread("{\"v\":1,\"turn\":12345678901234567890,\"lang\":\"en\"," IDLE_TAIL, en0);
    expect_reread("{\"v\":1,\"turn\":18446744073709551619,\"lang\":\"en\"," IDLE_TAIL, en0); /* 2^64 + 3 */
    expect_reread("{\"v\":1,\"turn\":4000000000,\"lang\":\"en\"," IDLE_TAIL, en0);
    expect_reread("{\"v\":1,\"turn\":-3,\"lang\":\"en\"," IDLE_TAIL, en0);
    expect_reread("{\"v\":1,\"turn\":3.5,\"lang\":\"en\"," IDLE_TAIL, en3);
    expect_reread("{\"v\":1,\"turn\":\"3\",\"lang\":\"en\"," IDLE_TAIL, en0);
    /* 16 bytes of lang: the full parser keeps the first 15 */
    expect_reread("{\"v\":1,\"turn\":3,\"lang\":\"abcdefghijklmnop\"," IDLE_TAIL,
                  "{\"v\":1,\"turn\":3,\"lang\":\"abcdefghijklmno\"," IDLE_TAIL);
    expect_reread("{\"v\":1,\"turn\":3,\"lang\":\"en\",\"waiting\":false,\"active\":null}", en3);
    expect_reread("{\"v\":1,\"turn\":3,\"lang\":\"en\"," IDLE_TAIL "x", en3); /* cJSON ignores a tail */
    /* cut short, or not the idle shape at all: errors as before */
    cr_expect_null(reread("{\"v\":1,\"turn\":3,\"lang\":\"en\",\"waiting\":false,\"active\":null,\"paused\":null"));
    cr_expect_null(reread("{\"v\":1,\"turn\":3,\"lang\":\"en"));
    cr_expect_null(reread("{\"v\":1,\"turn\":"));
    cr_expect_null(reread(""));
    cr_expect_null(reread("{\"v\":1,\"turn\":3,\"lang\":\"en\",\"waiting\":false,\"active\":7,\"paused\":null}"));
}

/* ---- the fast reader against the cJSON one ---------------------------- */

/* JS read by the fast reader (fast = 1) or the cJSON one, back to text; NULL when not read. */
static char *via(int fast, const char *js) {
    kf_dlg_state_t *s =
        fast ? kf_dlg_state_from_json_fast(bot, js) : kf_dlg_state_from_json_slow(bot, js, err, sizeof err);
    if (!s) return NULL;
    char *back = kf_dlg_state_to_json(s);
    kf_dlg_state_free(s);
    cr_assert(back);
    return back;
}

static int same(const char *a, const char *b) { return a && b ? !strcmp(a, b) : a == b; }

/* JS reads the same through kf_dlg_state_from_json and through cJSON alone,
 * and the fast reader either leaves it (NULL) or agrees.  Returns whether
 * the fast reader took it. */
static int agrees(const char *js) {
    char *fast = via(1, js), *slow = via(0, js), *pub = reread(js);
    cr_expect(!fast || same(fast, slow), "fast %s, cJSON %s, from %s", fast, slow ? slow : "NULL", js);
    cr_expect(same(pub, slow), "got %s, cJSON %s, from %s", pub ? pub : "NULL", slow ? slow : "NULL", js);
    int took = fast != NULL;
    free(fast);
    free(slow);
    free(pub);
    return took;
}

/* S's text is taken by the fast reader and comes back as the same text. */
static void expect_fast_round_trip(const kf_dlg_state_t *s) {
    char *js = kf_dlg_state_to_json(s);
    cr_assert(js);
    char *back = via(1, js);
    cr_expect(back, "the fast reader left the writer's own text: %s", js);
    cr_expect(same(back, js), "%s back as %s", js, back ? back : "NULL");
    agrees(js);
    free(back);
    free(js);
}

Test(dialogue, state_json_writer_texts_take_the_fast_reader) {
    expect_fast_round_trip(st); /* new: turn 0, no lang */
    say("opening_hours", 0.9, "when are you open?", "en", NULL, NULL);
    expect_fast_round_trip(st); /* idle */
    say("transfer_money", 0.9, "send 50 USD", "en", "money", "50.00 USD");
    expect_fast_round_trip(st); /* active, one slot */
    say("oos", 0.2, "Li \"Lei\"\\ \t\x01\x1f\n\r 的账户 é", "en", NULL, NULL);
    cr_assert_str_eq(kf_dlg_slot(st, "recipient"), "Li \"Lei\"\\ \t\x01\x1f\n\r 的账户 é");
    expect_fast_round_trip(st); /* active, a slot needing every escape */
    say("lost_or_stolen_card", 0.9, "冻结尾号1234的卡", "zh", "card_last4", "1234");
    cr_assert_str_eq(kf_dlg_paused_flow(st), "transfer_money");
    expect_fast_round_trip(st); /* active and paused, in Chinese */
    say("affirm", 0.9, "是的", "zh", NULL, NULL);
    cr_assert(kf_dlg_waiting_webhook(st));
    expect_fast_round_trip(st); /* waiting on the block_card webhook, transfer still paused */
    kf_dlg_state_t *back = kf_dlg_state_from_json_fast(bot, "{\"v\":1,\"turn\":9,\"lang\":\"zh\",\"waiting\":true,"
                                                          "\"active\":{\"flow\":\"block_card\",\"step\":2,\"retries\":0,"
                                                          "\"slots\":{\"card_last4\":\"1234\"}},\"paused\":null}");
    cr_assert(back);
    cr_expect(kf_dlg_waiting_webhook(back));
    cr_expect_str_eq(kf_dlg_slot(back, "card_last4"), "1234");
    kf_dlg_state_free(back);
    say("oos", 0.2, "1234", "en", NULL, NULL); /* a lost webhook answer: a handoff, all cleared */
    expect_fast_round_trip(st);
}

#define HEAD "{\"v\":1,\"turn\":7,\"lang\":\"en\",\"waiting\":false,\"active\":"
#define CARD(step, retries, slots) \
    "{\"flow\":\"block_card\",\"step\":" #step ",\"retries\":" #retries ",\"slots\":{" slots "}}"

Test(dialogue, state_json_fast_reader_agrees_with_cjson) {
    /* the writer's shape, values the writer would not give: the fast reader
     * takes them and must do what the cJSON reader does with them */
    static const char *const taken[] = {
        HEAD "{\"flow\":\"gone\",\"step\":0,\"retries\":0,\"slots\":{\"a\":\"b\"}},\"paused\":null}",
        HEAD "{\"flow\":\"gone\",\"step\":0,\"retries\":0,\"slots\":{}},\"paused\":" CARD(1, 0, "") "}",
        HEAD CARD(8, 0, "\"card_last4\":\"1234\"") ",\"paused\":null}", /* block_card has 8 steps */
        HEAD CARD(99, 0, "") ",\"paused\":null}",
        HEAD CARD(-1, 0, "") ",\"paused\":null}",
        HEAD CARD(7, 0, "") ",\"paused\":null}",
        HEAD CARD(1, 150, "\"card_last4\":\"1234\"") ",\"paused\":null}",
        HEAD CARD(1, 100, "") ",\"paused\":null}",
        HEAD CARD(1, 99, "") ",\"paused\":null}",
        HEAD CARD(1, -2, "") ",\"paused\":null}",
        HEAD CARD(1, 0, "\"nope\":\"x\",\"card_last4\":\"1234\"") ",\"paused\":null}",
        HEAD CARD(1, 0, "\"card_last4\":\"caf\\u00e9 \\u4e2d \\u00E9\\u0041\\u007f\\u0800\\uffff\"") ",\"paused\":null}",
        HEAD CARD(1, 0, "\"card_last4\":\"1111\",\"reference\":\"R1\",\"card_last4\":\"2222\"") ",\"paused\":null}",
        HEAD CARD(1, 0, "\"card_last\\u0034\":\"1234\"") ",\"paused\":null}",
        HEAD "null,\"paused\":" CARD(2, 1, "\"card_last4\":\"1234\"") "}",
        "{\"v\":1,\"turn\":7,\"lang\":\"en\",\"waiting\":true,\"active\":" CARD(1, 0, "") ",\"paused\":null}",
        "{\"v\":1,\"turn\":7,\"lang\":\"en\",\"waiting\":true,\"active\":null,\"paused\":" CARD(2, 0, "") "}",
        "{\"v\":1,\"turn\":4294967295,\"lang\":\"en\",\"waiting\":false,\"active\":null,\"paused\":null}",
        "{\"v\":1,\"turn\":-1,\"lang\":\"\\u4e2d\\u6587\\u4e2d\\u6587\\u4e2d\\u6587\",\"waiting\":false,"
        "\"active\":null,\"paused\":null}", /* 18 bytes of lang, cut inside a character */
    };
    for (size_t i = 0; i < sizeof taken / sizeof *taken; i++)
        cr_expect(agrees(taken[i]), "the fast reader left %s", taken[i]);

    /* not the writer's text: left to cJSON, whatever it makes of them */
    static const char *const left[] = {
        HEAD CARD(1, 0, "\"card_last4\":\"\\ud83d\\ude00\"") ",\"paused\":null}", /* a surrogate pair */
        HEAD CARD(1, 0, "\"card_last4\":\"12\\u000034\"") ",\"paused\":null}",
        HEAD CARD(1, 0, "\"card_last4\":\"12\\/34\"") ",\"paused\":null}",
        HEAD CARD(1, 0, "\"card_last4\":\"12\\x34\"") ",\"paused\":null}",
        HEAD CARD(1, 0, "\"card_last4\":\"12\\u00g4\"") ",\"paused\":null}",
        HEAD CARD(1, 0, "\"card_last4\":\"12\t34\"") ",\"paused\":null}",
        HEAD CARD(1, 0, "\"card_last4\":1234") ",\"paused\":null}",
        HEAD CARD(1, 0, "\"card_last4\":\"1234\",") ",\"paused\":null}",
        HEAD CARD(1, 0, "\"card_last4\" : \"1234\"") ",\"paused\":null}",
        HEAD CARD(01, 0, "") ",\"paused\":null}",
        HEAD CARD(1.5, 0, "") ",\"paused\":null}",
        HEAD CARD(1, 1e1, "") ",\"paused\":null}",
        HEAD CARD(-0, 0, "") ",\"paused\":null}",
        HEAD CARD(12345678901, 0, "") ",\"paused\":null}",
        HEAD "{\"flow\":\"block_card\",\"step\":1,\"slots\":{}},\"paused\":null}",
        HEAD "{\"step\":1,\"flow\":\"block_card\",\"retries\":0,\"slots\":{}},\"paused\":null}",
        HEAD "{\"flow\":\"block_card\",\"step\":1,\"retries\":0,\"slots\":{},\"x\":1},\"paused\":null}",
        HEAD "{\"flow\":7,\"step\":1,\"retries\":0,\"slots\":{}},\"paused\":null}",
        HEAD CARD(1, 0, "") ",\"paused\":" CARD(1, 0, "") ",\"x\":2}",
        HEAD CARD(1, 0, "") ",\"paused\":" CARD(1, 0, "") "}x",
        HEAD CARD(1, 0, "") ",\"paused\":[]}",
        "{\"v\":1,\"turn\":7,\"lang\":\"en\",\"waiting\":1,\"active\":" CARD(2, 0, "") ",\"paused\":null}",
    };
    for (size_t i = 0; i < sizeof left / sizeof *left; i++)
        cr_expect(!agrees(left[i]), "the fast reader took %s", left[i]);
}

/* Every cut of a mid-flow text, each in a buffer of its own length (a read
 * past the end shows under ASan): no crash, and what cJSON makes of it. */
Test(dialogue, state_json_cut_short_anywhere) {
    say("transfer_money", 0.9, "send 50 USD", "en", "money", "50.00 USD");
    say("oos", 0.2, "Li \"Lei\"\\ \t\x01 的账户", "en", NULL, NULL);
    say("lost_or_stolen_card", 0.9, "block my card ending 1234", "en", "card_last4", "1234");
    say("affirm", 0.9, "yes", "en", NULL, NULL);
    char *js = kf_dlg_state_to_json(st);
    cr_assert(js);
    cr_assert(strstr(js, "\"waiting\":true") && strstr(js, "\\u0001"), "%s", js);
    size_t n = strlen(js);
    for (size_t cut = 0; cut <= n; cut++) {
        char *t = malloc(cut + 1);
        cr_assert(t);
        memcpy(t, js, cut);
        t[cut] = '\0';
        int took = agrees(t);
        cr_expect_eq(took, cut == n, "cut at %zu", cut);
        free(t);
    }
    free(js);
}

Test(dialogue, unknown_language_uses_the_default) {
    say("lost_or_stolen_card", 0.9, "j'ai perdu ma carte", "fr", NULL, NULL);
    cr_expect_str_eq(out.lang, "en");
    expect_text(0, "Which card");
}

Test(dialogue, weak_trigger_starts_nothing) {
    say("lost_or_stolen_card", 0.3, "card?", "en", NULL, NULL);
    cr_expect_eq(out.action.kind, KF_DLG_ANSWER_INTENT);
    cr_expect_null(kf_dlg_active_flow(st));
}

/* The fixture bot tests/fixtures/bot/flows_good: synonyms, named groups, a
 * failed answer jumping back to an earlier step, goto, nested webhook fields. */
Test(dialogue, fixture_synonyms_on_fail_step_and_goto) {
    kf_bot_t *demo = bot;
    bot = kf_bot_load("tests/fixtures/bot/flows_good", err, sizeof err);
    cr_assert(bot, "%s", err);
    st = kf_dlg_state_new();
    say("order_pizza", 0.9, "I want a pizza, a big one", "en", NULL, NULL);
    expect_msgs(1);
    cr_expect_str_eq(out.msgs[0].text, "How many?");
    cr_expect_str_eq(kf_dlg_slot(st, "size"), "large");
    say("oos", 0.1, "7 pizzas", "en", NULL, NULL); /* over max, retries 0: on_fail -> ask_size again */
    expect_msgs(1);
    cr_expect(!strcmp(out.msgs[0].text, "What size?") || !strcmp(out.msgs[0].text, "Small or large?"));
    cr_expect_null(kf_dlg_slot(st, "size"));
    say("oos", 0.1, "little", "en", NULL, NULL);
    say("oos", 0.1, "2 pizzas", "en", NULL, NULL);
    cr_expect_str_eq(out.msgs[0].text, "2 small pizzas?");
    say("affirm", 0.9, "yes", "en", NULL, NULL);
    expect_msgs(1);
    cr_expect_str_eq(out.msgs[0].text, "Ordered 2 small.");
    cr_expect_eq(out.action.kind, KF_DLG_FLOW_DONE);

    say("lost_card", 0.9, "I lost my card", "en", NULL, NULL);
    say("oos", 0.1, "it is 5555", "en", NULL, NULL);
    cr_assert_eq(out.action.kind, KF_DLG_WEBHOOK);
    cr_expect_str_eq(out.action.body, "{\"last4\":\"5555\"}");
    hook(1, "{\"data\":{\"ref\":\"X1\"}}");
    cr_expect_str_eq(out.msgs[0].text, "Card 5555: X1");
    say("lost_card", 0.9, "I lost my card", "en", "card_last4", "5555");
    hook(0, NULL); /* on_error: cancel */
    expect_msgs(1);
    cr_expect_str_eq(out.msgs[0].text, "The lookup failed.");
    cr_expect_eq(out.action.kind, KF_DLG_FLOW_DONE);
    cr_expect_str_eq(out.action.outcome, "failed");
    kf_dlg_out_free(&out);
    kf_dlg_state_free(st);
    kf_bot_free(bot);
    bot = demo;
    st = kf_dlg_state_new();
}
