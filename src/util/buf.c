/* buf.c — growable byte buffer (see buf.h). */
#include "util/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kf_buf_init(kf_buf_t *b) { memset(b, 0, sizeof *b); }

void kf_buf_init_with(kf_buf_t *b, char *storage, size_t cap) {
    kf_buf_init(b);
    b->data = storage;
    b->cap = cap;
    b->borrowed = 1;
    if (cap) storage[0] = '\0';
}

void kf_buf_free(kf_buf_t *b) {
    if (!b->borrowed) free(b->data);
    kf_buf_init(b);
}

static int reserve(kf_buf_t *b, size_t extra) {
    if (b->oom) return -1;
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = b->borrowed ? malloc(cap) : realloc(b->data, cap);
    if (!p) { b->oom = 1; return -1; }
    if (b->borrowed && b->len) memcpy(p, b->data, b->len);
    b->borrowed = 0;
    b->data = p;
    b->cap = cap;
    return 0;
}

extern inline void kf_buf_append(kf_buf_t *b, const void *p, size_t n);
extern inline void kf_buf_puts(kf_buf_t *b, const char *s);

void kf_buf_append_slow(kf_buf_t *b, const void *p, size_t n) {
    if (reserve(b, n) < 0) return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}


void kf_buf_printf(kf_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) { kf_buf_append(b, tmp, (size_t)n); return; }
    if (reserve(b, (size_t)n) < 0) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void kf_buf_json_str(kf_buf_t *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    kf_buf_append(b, "\"", 1);
    size_t run = 0, i = 0;
    /* Eight bytes at a time while none needs escaping (< 0x20, '"', '\\'):
     * labels, versions, ids and most texts have none, and the byte loop was
     * ~1 % of the server's CPU per /v1/intent answer.  The first flagged
     * word falls through to the byte loop, which handles it exactly. */
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
        /* "has a zero byte" / "has a byte < 0x20" tests; they can flag a
         * clean word (never miss a dirty one), which only costs the slow path. */
        uint64_t hit = ((w - ones * 0x20) | (q - ones) | (bs - ones)) & ~(w & q & bs) & highs;
        if (hit) break;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        kf_buf_append(b, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0};
        switch (c) {
        case '"': esc[1] = '"'; kf_buf_append(b, esc, 2); break;
        case '\\': esc[1] = '\\'; kf_buf_append(b, esc, 2); break;
        case '\n': esc[1] = 'n'; kf_buf_append(b, esc, 2); break;
        case '\r': esc[1] = 'r'; kf_buf_append(b, esc, 2); break;
        case '\t': esc[1] = 't'; kf_buf_append(b, esc, 2); break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0'; esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
            kf_buf_append(b, esc, 6);
        }
    }
    kf_buf_append(b, s + run, n - run);
    kf_buf_append(b, "\"", 1);
}
