/* Unit tests for util/buf.c: growth, printf past the stack buffer, JSON escaping. */
#include <criterion/criterion.h>
#include <string.h>

#include "util/buf.h"

Test(buf, grows_and_keeps_nul) {
    kf_buf_t b;
    kf_buf_init(&b);
    for (int i = 0; i < 1000; i++) kf_buf_puts(&b, "abc");
    cr_assert_eq(b.len, 3000);
    cr_assert_eq(b.data[3000], 0);
    kf_buf_free(&b);
}

Test(buf, printf_longer_than_stack_buffer) {
    kf_buf_t b;
    kf_buf_init(&b);
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    kf_buf_printf(&b, "<%s>%d", big, 42);
    cr_assert_eq(b.len, 599 + 4);
    cr_assert_str_eq(b.data + 600, ">42");
    kf_buf_free(&b);
}

Test(buf, json_string_escapes_controls_quotes_and_keeps_utf8) {
    kf_buf_t b;
    kf_buf_init(&b);
    const char s[] = "a\"b\\c\n\x01卡";
    kf_buf_json_str(&b, s, sizeof s - 1);
    cr_assert_str_eq(b.data, "\"a\\\"b\\\\c\\n\\u0001卡\"");
    kf_buf_free(&b);
}

Test(buf, borrowed_storage_moves_to_heap_when_outgrown) {
    char stack[8];
    kf_buf_t b;
    kf_buf_init_with(&b, stack, sizeof stack);
    kf_buf_puts(&b, "abc");
    cr_assert_eq(b.data, stack, "short text stays in the caller's storage");
    cr_assert_str_eq(b.data, "abc");
    kf_buf_puts(&b, "defghijklmnop");
    cr_assert_neq(b.data, stack, "outgrown storage moves to the heap");
    cr_assert_str_eq(b.data, "abcdefghijklmnop");
    cr_assert_str_eq(stack, "abc", "the caller's storage is left as it was");
    kf_buf_free(&b);
}

/* Byte-at-a-time reference for kf_buf_json_str (its word-at-a-time scan must
 * give the same text). */
static void ref_json_str(kf_buf_t *b, const char *s, size_t n) {
    kf_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') kf_buf_append(b, "\\\"", 2);
        else if (c == '\\') kf_buf_append(b, "\\\\", 2);
        else if (c == '\n') kf_buf_append(b, "\\n", 2);
        else if (c == '\r') kf_buf_append(b, "\\r", 2);
        else if (c == '\t') kf_buf_append(b, "\\t", 2);
        else if (c < 0x20) kf_buf_printf(b, "\\u%04x", c);
        else kf_buf_append(b, s + i, 1);
    }
    kf_buf_append(b, "\"", 1);
}

Test(buf, json_string_matches_bytewise_reference_on_random_strings) {
    /* Byte alphabets weighted toward the cases the 8-byte scan tests:
     * escapes at every offset, bytes next to the thresholds, UTF-8. */
    static const unsigned char pick[] = {0, 1, 0x1f, 0x20, 0x21, '"', 0x23, '\\', 0x5b, 0x5d, '\n', '\t', '\r',
                                         'a', 'z', 0x7f, 0x80, 0xa2, 0xdc, 0xe5, 0xff};
    unsigned x = 12345;
    char s[64];
    for (int it = 0; it < 200000; it++) {
        x = x * 1103515245u + 12345u;
        size_t n = (x >> 16) % sizeof s;
        int clean = it % 3 == 0; /* a third with mostly plain text */
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            unsigned r = x >> 16;
            s[i] = (char)(clean && r % 16 ? 'a' + r % 26 : r % 4 ? pick[r % sizeof pick] : (unsigned char)(r >> 3));
        }
        kf_buf_t a, b;
        kf_buf_init(&a);
        kf_buf_init(&b);
        kf_buf_json_str(&a, s, n);
        ref_json_str(&b, s, n);
        cr_assert_eq(a.len, b.len, "iteration %d", it);
        cr_assert(memcmp(a.data, b.data, a.len) == 0, "iteration %d: %s vs %s", it, a.data, b.data);
        kf_buf_free(&a);
        kf_buf_free(&b);
    }
}
