/* Unit tests for nlu/entities: money, card numbers, last four digits, phones,
 * e-mail, order ids, overlaps, custom entity sets, invalid input. */

#include <criterion/criterion.h>
#include <string.h>

#include "nlu/entities.h"

/* 2026-03-04 10:00:00 UTC, a Wednesday. */
#define REF_NOW ((time_t)1772618400)

static int extract_all(const kf_ent_set_t *s, const char *text, kf_ent_t *out, int max)
{
    return kf_ent_extract(s, text, strlen(text), REF_NOW, out, max);
}

/* Asserts that text yields exactly one entity of `type` with value and
 * code-point span [start, end), and that its byte span maps to raw. */
static void expect_one(const kf_ent_set_t *s, const char *text, const char *type, const char *value, int start,
                       int end, const char *raw)
{
    kf_ent_t e[16];
    int n = extract_all(s, text, e, 16);
    int hits = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(e[i].type, type)) continue;
        hits++;
        cr_expect_str_eq(e[i].value, value, "%s: value", text);
        cr_expect_eq(e[i].start, start, "%s: start %d != %d", text, e[i].start, start);
        cr_expect_eq(e[i].end, end, "%s: end %d != %d", text, e[i].end, end);
        if (raw) {
            cr_expect_eq((size_t)(e[i].byte_end - e[i].byte_start), strlen(raw), "%s: raw length", text);
            cr_expect(!strncmp(text + e[i].byte_start, raw, strlen(raw)), "%s: raw text", text);
        }
    }
    cr_expect_eq(hits, 1, "%s: %d entities of type %s", text, hits, type);
}

/* Asserts that text yields no entity of `type`. */
static void expect_none(const char *text, const char *type)
{
    kf_ent_t e[16];
    int n = extract_all(NULL, text, e, 16);
    cr_expect_geq(n, 0);
    for (int i = 0; i < n; i++)
        cr_expect(strcmp(e[i].type, type), "%s: unexpected %s '%s'", text, type, e[i].value);
}

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- money ---- */

Test(money, english_symbols_and_codes) {
    expect_one(NULL, "I want to transfer ¥1,500.50 to mom", "money", "1500.50 CNY", 19, 28, "¥1,500.50");
    expect_one(NULL, "send RMB 200 now", "money", "200.00 CNY", 5, 12, "RMB 200");
    expect_one(NULL, "it was $20", "money", "20.00 USD", 7, 10, "$20");
    expect_one(NULL, "about 20 dollars", "money", "20.00 USD", 6, 16, "20 dollars");
    expect_one(NULL, "HK$100 please", "money", "100.00 HKD", 0, 6, "HK$100");
    expect_one(NULL, "fee €5", "money", "5.00 EUR", 4, 6, "€5");
    expect_one(NULL, "fee £3.5", "money", "3.50 GBP", 4, 8, "£3.5");
    expect_one(NULL, "pay 1500 USD", "money", "1500.00 USD", 4, 12, "1500 USD");
    expect_one(NULL, "limit 1.5k", "money", "1500.00", 6, 10, "1.5k");
    expect_one(NULL, "USD 2.5m loan", "money", "2500000.00 USD", 0, 8, "USD 2.5m");
}

Test(money, chinese_forms) {
    expect_one(NULL, "转账1500.50元给妈妈", "money", "1500.50 CNY", 2, 10, "1500.50元");
    expect_one(NULL, "我要转三千元", "money", "3000.00 CNY", 3, 6, "三千元");
    expect_one(NULL, "或者三千五百元吧", "money", "3500.00 CNY", 2, 7, "三千五百元");
    expect_one(NULL, "花了一百二十块", "money", "120.00 CNY", 2, 7, "一百二十块");
    expect_one(NULL, "借我两万", "money", "20000.00", 2, 4, "两万");
    expect_one(NULL, "预算2万", "money", "20000.00", 2, 4, "2万");
    expect_one(NULL, "预算2万元", "money", "20000.00 CNY", 2, 5, "2万元");
    expect_one(NULL, "只要三块五", "money", "3.50 CNY", 2, 5, "三块五");
    expect_one(NULL, "汇100港币", "money", "100.00 HKD", 1, 6, "100港币");
    expect_one(NULL, "换500美元", "money", "500.00 USD", 1, 6, "500美元");
    expect_one(NULL, "两万五千元", "money", "25000.00 CNY", 0, 5, NULL);
    expect_one(NULL, "三千五块", "money", "3500.00 CNY", 0, 4, NULL);
    expect_one(NULL, "一千零五元", "money", "1005.00 CNY", 0, 5, NULL);
    expect_one(NULL, "壹仟贰佰元整", "money", "1200.00 CNY", 0, 5, NULL);
    expect_one(NULL, "1.2亿元", "money", "120000000.00 CNY", 0, 5, NULL);
}

Test(money, bare_numbers_are_not_money) {
    expect_none("I have 3 cards and 1500 points", "money");
    expect_none("两个问题", "money");
    expect_none("room 1,500.50", "money");
    expect_none("5km away", "money");
}

/* ---- cards ---- */

Test(card, luhn_valid_grouped_and_plain) {
    expect_one(NULL, "我的卡号是4111 1111 1111 1111，谢谢", "card_number", "4111111111111111", 5, 24,
               "4111 1111 1111 1111");
    expect_one(NULL, "card 4111-1111-1111-1111 lost", "card_number", "4111111111111111", 5, 24, NULL);
    expect_one(NULL, "卡5500005555555559", "card_number", "5500005555555559", 1, 17, NULL);
    expect_one(NULL, "amex 3782 822463 10005", "card_number", "378282246310005", 5, 22, NULL);
    expect_one(NULL, "银联6212262201023557228", "card_number", "6212262201023557228", 2, 21, NULL);
}

Test(card, luhn_rejection_and_length) {
    expect_none("card 4111 1111 1111 1112", "card_number");
    expect_none("卡号4111111111111112", "card_number");
    expect_none("id 411111111111", "card_number");               /* 12 digits */
    expect_none("x 41111111111111111111111", "card_number");     /* 23 digits, one run */
    expect_none("ABC4111111111111111", "card_number");           /* glued to letters */
    cr_expect(kf_ent_luhn_ok("79927398713", 11));
    cr_expect(!kf_ent_luhn_ok("79927398710", 11));
    cr_expect(!kf_ent_luhn_ok("", 0));
}

Test(card, last_four) {
    expect_one(NULL, "please block my card ending in 1234", "card_last4", "1234", 31, 35, "1234");
    expect_one(NULL, "请冻结尾号1234的卡", "card_last4", "1234", 5, 9, "1234");
    expect_one(NULL, "last 4 digits 9876", "card_last4", "9876", 14, 18, NULL);
    expect_one(NULL, "the last four digits are 4321.", "card_last4", "4321", 25, 29, NULL);
    expect_one(NULL, "卡号后四位是5566", "card_last4", "5566", 6, 10, NULL);
    expect_one(NULL, "尾号：８８９９", "card_last4", "8899", 3, 7, "８８９９");
    expect_none("ending in 12345", "card_last4");
    expect_none("I have 1234 points", "card_last4");
}

/* ---- phones ---- */

Test(phone, chinese_mobile_and_landline) {
    expect_one(NULL, "call me 13812345678 ok", "phone", "+8613812345678", 8, 19, "13812345678");
    expect_one(NULL, "我的手机号码是138-1234-5678", "phone", "+8613812345678", 7, 20, "138-1234-5678");
    expect_one(NULL, "电话+86 138 1234 5678", "phone", "+8613812345678", 2, 19, "+86 138 1234 5678");
    expect_one(NULL, "0086-13912345678", "phone", "+8613912345678", 0, 16, NULL);
    expect_one(NULL, "座机010-12345678", "phone", "+861012345678", 2, 14, NULL);
    expect_none("number 12812345678", "phone"); /* 1 then 2: not a mobile prefix */
    expect_none("138123456789", "phone");       /* 12 digits */
}

Test(phone, international) {
    expect_one(NULL, "London +44 20 7946 0958 office", "phone", "+442079460958", 7, 23, "+44 20 7946 0958");
    expect_one(NULL, "美国+1-212-555-0100", "phone", "+12125550100", 2, 17, NULL);
    expect_none("+12 34", "phone");
}

/* ---- email ---- */

Test(email, english_and_chinese_context) {
    expect_one(NULL, "mail John.Doe@Example.com, thanks", "email", "john.doe@example.com", 5, 25,
               "John.Doe@Example.com");
    expect_one(NULL, "邮箱abc@qq.com谢谢", "email", "abc@qq.com", 2, 12, "abc@qq.com");
    expect_one(NULL, "a+tag@mail.example.co.uk.", "email", "a+tag@mail.example.co.uk", 0, 24, NULL);
    expect_none("user@localhost", "email");
    expect_none("@example.com", "email");
    expect_none("a@b..com", "email");
}

/* ---- order ids ---- */

Test(order, ids_after_cue_words) {
    expect_one(NULL, "order #A12345678, please", "order_id", "A12345678", 7, 16, "A12345678");
    expect_one(NULL, "transaction TX-2026-000123 failed", "order_id", "TX-2026-000123", 12, 26, NULL);
    expect_one(NULL, "订单号 123456789012", "order_id", "123456789012", 4, 16, NULL);
    expect_one(NULL, "我的订单号是ab123456的", "order_id", "AB123456", 6, 14, "ab123456");
    expect_one(NULL, "ref: 9988776655", "order_id", "9988776655", 5, 15, NULL);
    expect_none("order 3 items", "order_id");
    expect_none("my order arrived yesterday", "order_id");
    expect_none("transaction on 2026-03-01", "order_id");
    expect_none("transaction 2026-03-01", "order_id");
}

/* ---- overlaps ---- */

Test(overlap, longer_span_and_type_rank) {
    kf_ent_t e[8];
    /* order cue wins over the phone reading of the same digits */
    int n = extract_all(NULL, "订单号13812345678", e, 8);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(e[0].type, "order_id");
    /* a 16-digit card is not split into a phone number */
    n = extract_all(NULL, "4000 0013 8123 4567 8", e, 8);
    for (int i = 0; i < n; i++) cr_expect_str_neq(e[i].type, "phone");
    n = extract_all(NULL, "卡号6212 2622 0102 3557 228", e, 8);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(e[0].type, "card_number");
    /* +86 form: the phone covers the prefix, money/date never see the digits */
    n = extract_all(NULL, "+86 13812345678", e, 8);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(e[0].type, "phone");
    cr_expect_eq(e[0].start, 0);
}

Test(overlap, results_in_text_order_without_overlap) {
    kf_ent_t e[16];
    const char *t = "明天给尾号1234的卡转¥500，通知13812345678或a@b.cn，订单TX-2026-000123";
    int n = extract_all(NULL, t, e, 16);
    cr_assert_eq(n, 6);
    const char *types[] = {"date", "card_last4", "money", "phone", "email", "order_id"};
    for (int i = 0; i < n; i++) {
        cr_expect_str_eq(e[i].type, types[i]);
        if (i) cr_expect_leq(e[i - 1].end, e[i].start);
    }
    cr_expect_eq(extract_all(NULL, t, e, 2), 2);
}

/* ---- custom entities ---- */

Test(custom, pattern_and_value_group) {
    char err[128];
    kf_ent_set_t *s = kf_ent_set_new();
    cr_assert(s);
    cr_assert_eq(kf_ent_set_add_pattern(s, "account", "(?i)acct[ -]?(?<value>\\d{6})(?!\\d)", err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(kf_ent_set_add_pattern(s, "branch", "支行[一-龥]{0,0}(\\d{3})", err, sizeof err), 0, "%s", err);
    cr_assert_eq(kf_ent_set_add_pattern(s, "ticket", "TK\\d+", err, sizeof err), 0, "%s", err);
    expect_one(s, "我的账户ACCT-123456谢谢", "account", "123456", 4, 15, "ACCT-123456");
    expect_one(s, "去支行042办", "branch", "042", 1, 6, NULL);
    expect_one(s, "see TK42 and", "ticket", "TK42", 4, 8, NULL);
    cr_expect_eq(kf_ent_set_add_pattern(s, "bad", "(unclosed", err, sizeof err), -1);
    cr_expect(strstr(err, "bad") != NULL);
    cr_expect_eq(kf_ent_set_add_pattern(s, "", "x", err, sizeof err), -1);
    kf_ent_set_free(s);
}

Test(custom, synonyms_latin_word_boundary_han_substring) {
    char err[128];
    kf_ent_set_t *s = kf_ent_set_new();
    const char *credit[] = {"credit card", "信用卡", "CC"};
    const char *debit[] = {"debit card", "借记卡", "储蓄卡"};
    cr_assert_eq(kf_ent_set_add_synonyms(s, "card_type", "credit", credit, 3, err, sizeof err), 0);
    cr_assert_eq(kf_ent_set_add_synonyms(s, "card_type", "debit", debit, 3, err, sizeof err), 0);
    expect_one(s, "I lost my Credit Card today", "card_type", "credit", 10, 21, "Credit Card");
    expect_one(s, "我的信用卡丢了", "card_type", "credit", 2, 5, "信用卡");
    expect_one(s, "我要办储蓄卡", "card_type", "debit", 3, 6, NULL);
    expect_one(s, "my cc is gone", "card_type", "credit", 3, 5, NULL);
    kf_ent_t e[8];
    int n = extract_all(s, "accident and success", e, 8); /* "cc" inside words */
    cr_expect_eq(n, 0);
    n = extract_all(s, "DEBIT", e, 8); /* the value is a synonym too */
    cr_assert_eq(n, 1);
    cr_expect_str_eq(e[0].value, "debit");
    kf_ent_set_free(s);
}

Test(custom, custom_wins_tie_with_builtin) {
    char err[128];
    kf_ent_set_t *s = kf_ent_set_new();
    cr_assert_eq(kf_ent_set_add_pattern(s, "member_id", "\\b1\\d{10}\\b", err, sizeof err), 0);
    expect_one(s, "id 13812345678", "member_id", "13812345678", 3, 14, NULL);
    kf_ent_set_free(s);
}

static kf_ent_set_t *shared_set;

static void *worker(void *arg)
{
    (void)arg;
    const char *t = "转¥1,500给尾号1234的信用卡, acct 654321";
    for (int k = 0; k < 2000; k++) {
        kf_ent_t e[8];
        int n = kf_ent_extract(shared_set, t, strlen(t), REF_NOW, e, 8);
        if (n != 4 || strcmp(e[3].value, "654321")) return (void *)1;
    }
    return NULL;
}

Test(custom, shared_between_threads) {
    char err[128];
    shared_set = kf_ent_set_new();
    const char *syn[] = {"信用卡"};
    cr_assert_eq(kf_ent_set_add_pattern(shared_set, "account", "acct (\\d{6})", err, sizeof err), 0);
    cr_assert_eq(kf_ent_set_add_synonyms(shared_set, "card_type", "credit", syn, 1, err, sizeof err), 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        cr_expect_null(r);
    }
    kf_ent_set_free(shared_set);
}

/* ---- input handling ---- */

Test(input, invalid_utf8_is_rejected) {
    kf_ent_t e[4];
    cr_expect_eq(kf_ent_extract(NULL, "abc\xff", 4, REF_NOW, e, 4), -1);
    cr_expect_eq(kf_ent_extract(NULL, "\xc0\xaf", 2, REF_NOW, e, 4), -1);        /* overlong */
    cr_expect_eq(kf_ent_extract(NULL, "\xed\xa0\x80", 3, REF_NOW, e, 4), -1);    /* surrogate */
    cr_expect_eq(kf_ent_extract(NULL, "\xe5\x8d", 2, REF_NOW, e, 4), -1);        /* truncated */
    cr_expect_eq(kf_ent_extract(NULL, "", 0, REF_NOW, e, 4), 0);
    cr_expect_eq(kf_ent_extract(NULL, NULL, 0, REF_NOW, e, 4), 0);
}

Test(input, long_text_with_many_entities) {
    static char buf[20000];
    size_t w = 0;
    for (int i = 0; i < 300; i++) w += (size_t)snprintf(buf + w, sizeof buf - w, "卡4111111111111111 ");
    kf_ent_t *e = calloc(400, sizeof *e);
    int n = kf_ent_extract(NULL, buf, w, REF_NOW, e, 400);
    cr_expect_eq(n, 300);
    cr_expect_eq(e[299].start, 299 * 18 + 1);
    free(e);
}

/* Extractors are skipped when a text cannot hold their entities (no digit,
 * no '@', ASCII without digits for money); full-width digits and Chinese
 * numerals still count, a full-width ＠ never did. */
Test(input, prescan_keeps_full_width_and_chinese_forms) {
    kf_ent_t e[4];
    const char *t = "\xE5\x8D\xA1\xE5\x8F\xB7\xEF\xBC\x9A\xEF\xBC\x94\xEF\xBC\x91\xEF\xBC\x91\xEF\xBC\x91\xEF\xBC\x91"
                    "\xEF\xBC\x91\xEF\xBC\x91\xEF\xBC\x91\xEF\xBC\x91\xEF\xBC\x91\xEF\xBC\x91\xEF\xBC\x91\xEF\xBC\x91"
                    "\xEF\xBC\x91\xEF\xBC\x91\xEF\xBC\x91"; /* 卡号：４１１１１１１１１１１１１１１１ */
    cr_assert_eq(kf_ent_extract(NULL, t, strlen(t), 0, e, 4), 1);
    cr_assert_str_eq(e[0].type, "card_number");
    cr_assert_str_eq(e[0].value, "4111111111111111");
    t = "ending in \xEF\xBC\x94\xEF\xBC\x92\xEF\xBC\x94\xEF\xBC\x92"; /* ending in ４２４２ */
    cr_assert_eq(kf_ent_extract(NULL, t, strlen(t), 0, e, 4), 1);
    cr_assert_str_eq(e[0].type, "card_last4");
    t = "\xE6\x88\x91\xE8\xA6\x81\xE8\xBD\xAC\xE4\xB8\x89\xE5\x8D\x83\xE5\x85\x83"; /* 我要转三千元 */
    cr_assert_eq(kf_ent_extract(NULL, t, strlen(t), 0, e, 4), 1);
    cr_assert_str_eq(e[0].value, "3000.00 CNY");
    t = "pay me fifty dollars tomorrow"; /* no digit: only the date */
    cr_assert_eq(kf_ent_extract(NULL, t, strlen(t), 86400 * 365, e, 4), 1);
    cr_assert_str_eq(e[0].type, "date");
    t = "\xEF\xBD\x8A\xEF\xBC\xA0\xEF\xBD\x85\xEF\xBC\x8E\xEF\xBD\x83\xEF\xBD\x8F"; /* ｊ＠ｅ．ｃｏ */
    cr_assert_eq(kf_ent_extract(NULL, t, strlen(t), 0, e, 4), 0);
    t = "mail j@example.com";
    cr_assert_eq(kf_ent_extract(NULL, t, strlen(t), 0, e, 4), 1);
    cr_assert_str_eq(e[0].type, "email");
}
