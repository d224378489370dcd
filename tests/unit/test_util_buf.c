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
