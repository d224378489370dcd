/* Unit tests for nlu/mask: cards, phones and e-mails are masked; amounts,
 * dates, order ids and non-Luhn digits are kept; output stays valid UTF-8
 * and masking twice changes nothing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlu/mask.h"
#include "nlu/normalize.h"

static void expect_mask(const char *in, const char *want)
{
    size_t n;
    char *m = kf_mask_dup(in, strlen(in), &n);
    cr_assert(m, "%s: mask failed", in);
    cr_expect_str_eq(m, want);
    cr_expect_eq(n, strlen(m));
    cr_expect_geq(kf_nlu_utf8_len(m, n), 0, "%s: output not UTF-8", in);
    char *again = kf_mask_dup(m, n, NULL); /* idempotent */
    cr_assert(again);
    cr_expect_str_eq(again, m);
    free(again);
    free(m);
}

Test(mask, cards) {
    expect_mask("我的卡号是4111 1111 1111 1111，谢谢", "我的卡号是**** **** **** 1111，谢谢");
    expect_mask("card 5500-0055-5555-5559.", "card **** **** **** 5559.");
    expect_mask("4222222222222", "**** **** **** 2222");
    expect_mask("卡号６２１２２６２２０１０２３５５７２２８", "卡号**** **** **** 7228");
}

Test(mask, non_luhn_and_non_sensitive_digits_kept) {
    const char *keep[] = {
        "card 4111 1111 1111 1112",
        "转账1500.50元, 2026-03-01, 3月5日",
        "order TX-2026-000123 for $1,200.00",
        "尾号1234的卡",
        "I have 12 cards and 300 points",
        NULL,
    };
    for (int i = 0; keep[i]; i++) expect_mask(keep[i], keep[i]);
}

Test(mask, phones) {
    expect_mask("call me 13812345678", "call me *******5678");
    expect_mask("电话+86 138 1234 5678。", "电话+** *** **** 5678。");
    expect_mask("London +44 20 7946 0958", "London +** ** **** 0958");
    expect_mask("座机010-12345678", "座机***-****5678");
}

Test(mask, emails) {
    expect_mask("mail john.doe@example.com now", "mail j***@example.com now");
    expect_mask("邮箱abc@qq.com谢谢", "邮箱a***@qq.com谢谢");
    expect_mask("x@y.org", "x***@y.org");
}

Test(mask, mixed_and_buffer_limits) {
    const char *in = "卡4111111111111111手机13812345678邮箱a@b.cn金额¥500";
    expect_mask(in, "卡**** **** **** 1111手机*******5678邮箱a***@b.cn金额¥500");
    char small[10];
    cr_expect_eq(kf_mask_text(in, strlen(in), small, sizeof small), -1);
    cr_expect_str_eq(small, "");
    char out[8];
    cr_expect_eq(kf_mask_text("ab\xff", 3, out, sizeof out), -1);
    cr_expect_eq(kf_mask_text("", 0, out, sizeof out), 0);
    cr_expect_str_eq(out, "");
    cr_expect_null(kf_mask_dup("\xe4\xb8", 2, NULL));
}

Test(mask, long_text_masks_every_card) {
    static char buf[30000], out[60001];
    size_t w = 0;
    for (int i = 0; i < 1000; i++) w += (size_t)snprintf(buf + w, sizeof buf - w, "4111111111111111 ");
    cr_assert_leq(kf_mask_bound(w), sizeof out);
    long n = kf_mask_text(buf, w, out, sizeof out);
    cr_assert_gt(n, 0);
    cr_expect_null(strstr(out, "4111"));
}
