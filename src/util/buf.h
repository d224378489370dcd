/* buf.h — a growable byte buffer for building responses and texts. */
#ifndef KF_BUF_H
#define KF_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len, cap;
    int oom;      /* set once an allocation failed; further appends are dropped */
    int borrowed; /* data is the caller's storage (kf_buf_init_with), never freed here */
} kf_buf_t;

void kf_buf_init(kf_buf_t *b);
/* Starts in the caller's storage (e.g. a stack array) and moves to the heap
 * only when it outgrows it; kf_buf_free is still required afterwards. */
void kf_buf_init_with(kf_buf_t *b, char *storage, size_t cap);
void kf_buf_free(kf_buf_t *b);
/* The growing path of kf_buf_append. */
void kf_buf_append_slow(kf_buf_t *b, const void *p, size_t n);
/* Inline so that appends of string literals (the /v1/intent answer is ~25 of
 * them) become fixed-size copies with no strlen or call: strlen alone was
 * 0.9 % of the server's CPU per /v1/intent request. */
inline void kf_buf_append(kf_buf_t *b, const void *p, size_t n)
{
    if (b->len + n < b->cap && !b->oom) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return;
    }
    kf_buf_append_slow(b, p, n);
}
inline void kf_buf_puts(kf_buf_t *b, const char *s) { kf_buf_append(b, s, strlen(s)); }
void kf_buf_printf(kf_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes included). */
void kf_buf_json_str(kf_buf_t *b, const char *s, size_t n);

#endif
