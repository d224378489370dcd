/* test_nlu_normalize.c — NFKC, case folding, full-width, CJK punctuation,
 * whitespace handling and invalid UTF-8 rejection (nlu/normalize.h). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "nlu/normalize.h"

static void expect(const char *in, const char *want) {
    char out[512], err[128] = "";
    long n = kf_nlu_normalize(in, strlen(in), out, sizeof out, err, sizeof err);
    cr_assert_geq(n, 0, "normalize(%s) failed: %s", in, err);
    cr_assert_str_eq(out, want, "normalize(%s) = [%s], want [%s]", in, out, want);
    cr_assert_eq((size_t)n, strlen(want));
}

Test(nlu_normalize, fullwidth_and_case) {
    expect("\xEF\xBC\xA8\xEF\xBD\x85\xEF\xBD\x8C\xEF\xBD\x8C\xEF\xBD\x8F\xE3\x80\x80\xEF\xBC\xB7\xEF\xBC\xAF\xEF\xBC\xB2\xEF\xBC\xAC\xEF\xBC\xA4\xEF\xBC\x81",
           "hello world!"); /* Ｈｅｌｌｏ　ＷＯＲＬＤ！ */
    expect("My CARD Was STOLEN", "my card was stolen");
    expect("Stra\xC3\x9F" "e", "strasse");          /* ß folds to ss */
    expect("\xEF\xAC\x81le", "file");                /* ﬁ ligature */
    expect("Caf" "e\xCC\x81", "caf\xC3\xA9");         /* NFC composition */
    expect("\xEF\xBC\x91\xEF\xBC\x90\xEF\xBC\x90\xE5\x85\x83", "100\xE5\x85\x83"); /* １００元 */
}

Test(nlu_normalize, mixed_scripts_and_punctuation) {
    /* 我的Visa卡  丢了，怎么办？ */
    expect("\xE6\x88\x91\xE7\x9A\x84Visa\xE5\x8D\xA1  \xE4\xB8\xA2\xE4\xBA\x86\xEF\xBC\x8C\xE6\x80\x8E\xE4\xB9\x88\xE5\x8A\x9E\xEF\xBC\x9F",
           "\xE6\x88\x91\xE7\x9A\x84visa\xE5\x8D\xA1 \xE4\xB8\xA2\xE4\xBA\x86,\xE6\x80\x8E\xE4\xB9\x88\xE5\x8A\x9E?");
    /* 「你好」。、 */
    expect("\xE3\x80\x8C\xE4\xBD\xA0\xE5\xA5\xBD\xE3\x80\x8D\xE3\x80\x82\xE3\x80\x81",
           "\"\xE4\xBD\xA0\xE5\xA5\xBD\".,");
    expect("\xE2\x80\x9Cquoted\xE2\x80\x9D don\xE2\x80\x99t", "\"quoted\" don't");
}

Test(nlu_normalize, whitespace) {
    expect("  tabs\tand\r\nnewlines  ", "tabs and newlines");
    expect("a\xC2\xA0\xE2\x80\x83" "b", "a b");     /* NBSP and em space */
    expect("zero\xE2\x80\x8Bwidth", "zero width");
    expect("   ", "");
    expect("", "");
}

Test(nlu_normalize, invalid_utf8_rejected) {
    const char *bad[] = {"\xFF", "ab\xC0\xAF", "\xED\xA0\x80", "\xE4\xBD", "\xF4\x90\x80\x80", "x\x80y"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char out[64], err[128] = "";
        cr_assert_eq(kf_nlu_normalize(bad[i], strlen(bad[i]), out, sizeof out, err, sizeof err), -1, "case %zu", i);
        cr_assert_str_eq(err, "invalid UTF-8");
        cr_assert_eq(kf_nlu_utf8_len(bad[i], strlen(bad[i])), -1, "len case %zu", i);
        size_t ol = 99;
        cr_assert_null(kf_nlu_normalize_dup(bad[i], strlen(bad[i]), &ol, err, sizeof err));
    }
}

Test(nlu_normalize, code_point_lengths) {
    cr_assert_eq(kf_nlu_utf8_len("h\xC3\xA9llo", 6), 5);
    cr_assert_eq(kf_nlu_utf8_len("\xE6\x88\x91\xE7\x9A\x84\xE5\x8D\xA1", 9), 3);
    cr_assert_eq(kf_nlu_utf8_len("\xF0\x9F\x98\x80", 4), 1);
    cr_assert_eq(kf_nlu_utf8_len("", 0), 0);
    cr_assert_eq(kf_nlu_utf8_len("a\0b", 3), 3); /* explicit length, NUL is a code point */
}

Test(nlu_normalize, small_buffer_and_dup) {
    char out[4], err[128] = "";
    cr_assert_eq(kf_nlu_normalize("hello", 5, out, sizeof out, err, sizeof err), -1);
    cr_assert(strstr(err, "does not fit") != NULL);
    size_t n = 0;
    char *d = kf_nlu_normalize_dup("\xEF\xBC\xA1\xEF\xBC\xA2 C", 8, &n, err, sizeof err);
    cr_assert_not_null(d);
    cr_assert_str_eq(d, "ab c");
    cr_assert_eq(n, 4);
    free(d);
    int32_t cp[8];
    cr_assert_eq(kf_nlu_normalize_cp("ABC DEF GHI", 11, cp, 8, err, sizeof err), 11); /* too small: needed count */
    cr_assert_eq(kf_nlu_normalize_cp("AB", 2, cp, 8, err, sizeof err), 2);
    cr_assert_eq(cp[0], 'a');
}

Test(nlu_normalize, long_text_uses_heap) {
    size_t len = 5000;
    char *in = malloc(len * 3 + 1), err[128];
    for (size_t i = 0; i < len; i++) memcpy(in + 3 * i, "\xEF\xBC\xA1", 3); /* Ａ */
    size_t n = 0;
    char *out = kf_nlu_normalize_dup(in, len * 3, &n, err, sizeof err);
    cr_assert_not_null(out, "%s", err);
    cr_assert_eq(n, len);
    for (size_t i = 0; i < len; i++) cr_assert_eq(out[i], 'a');
    free(out);
    free(in);
}

/* The pure-ASCII shortcut of kf_nlu_normalize_cp gives what utf8proc gives. */
static void same_as_utf8proc(const char *in, size_t len) {
    int32_t a[256], b[256];
    char err[128];
    long na = kf_nlu_normalize_cp(in, len, a, 256, err, sizeof err);
    long nb = kf_nlu_normalize_cp_utf8proc(in, len, b, 256, err, sizeof err);
    cr_assert_eq(na, nb, "length of [%.*s]: %ld vs %ld", (int)len, in, na, nb);
    cr_assert(na >= 0 && na <= 256);
    cr_assert_arr_eq(a, b, (size_t)na * sizeof *a, "code points of [%.*s]", (int)len, in);
}

Test(nlu_normalize, ascii_shortcut_matches_utf8proc) {
    char s[80];
    for (int c = 0; c < 128; c++) { /* every byte alone and between letters, NUL included */
        s[0] = (char)c;
        same_as_utf8proc(s, 1);
        s[0] = 'A';
        s[1] = (char)c;
        s[2] = 'z';
        same_as_utf8proc(s, 3);
    }
    const char *texts[] = {"", " ", "I LOST my Card!!", "  Why was I charged   a fee?\t\n", "top-up 50GBP @ 3:15pm",
                           "can't \"see\" it", "\x01\x1f\x7f x", "CVV/PIN #1234 & ~ `^_|{}"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) same_as_utf8proc(texts[i], strlen(texts[i]));
    uint64_t r = 88172645463325252ull;
    for (int t = 0; t < 20000; t++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        size_t len = (size_t)(r % 80);
        for (size_t i = 0; i < len; i++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            int k = (int)(r % 10);
            s[i] = (char)(k < 2 ? ' ' : k < 3 ? (int)((r >> 8) % 32) : 32 + (int)((r >> 8) % 96));
        }
        same_as_utf8proc(s, len);
    }
    /* the count is returned when the buffer is too small, as utf8proc's path does */
    int32_t small[4];
    char err[64];
    cr_assert_eq(kf_nlu_normalize_cp("ABCDEFGH", 8, small, 4, err, sizeof err), 8);
    cr_assert_eq(kf_nlu_normalize_cp_utf8proc("ABCDEFGH", 8, small, 4, err, sizeof err), 8);
}
