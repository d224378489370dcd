/* wsproto.h — the RFC 6455 client pieces the bench tools share (bench/wsload/wsload.c,
 * bench/handoff/handoff_bench.c): the Sec-WebSocket-Key and the check of the server's 101
 * answer, the header of a masked client frame, and the decoding of one server frame.
 * No I/O and no state: each tool keeps its own sockets, buffers and event loop. */
#ifndef KEFU_BENCH_WSPROTO_H
#define KEFU_BENCH_WSPROTO_H

#include <stddef.h>
#include <stdint.h>

#define WSP_KEY_LEN 24 /* base64 of 16 bytes */
#define WSP_HEADER_MAX 14

/* out (WSP_KEY_LEN + 1 bytes): the Sec-WebSocket-Key for 16 random bytes. */
void wsp_key(const unsigned char raw[16], char out[WSP_KEY_LEN + 1]);

/* Looks at the server's answer to the upgrade in buf: the number of bytes of its head (frames
 * may follow) when it is a complete "HTTP/1.1 101" whose Sec-WebSocket-Accept matches key; 0
 * while the head is incomplete (and at most max bytes); -1 when it is anything else. */
long wsp_handshake_check(const unsigned char *buf, size_t len, size_t max, const char *key);

/* The header of a masked client frame (FIN set) with an n-byte payload into h; its length.
 * The payload that follows must be masked with wsp_mask and the same mask. */
size_t wsp_client_header(unsigned char h[WSP_HEADER_MAX], int opcode, uint64_t n, const unsigned char mask[4]);
void wsp_mask(unsigned char *dst, const void *src, size_t n, const unsigned char mask[4]);

/* One server frame. */
typedef struct {
    int fin, op;
    const unsigned char *payload;
    uint64_t len;  /* of the payload */
    size_t size;   /* of the whole frame: header + payload */
} wsp_frame_t;

/* Decodes the frame at the start of p[0..n): 1 with *f, 0 when more bytes are needed, -1 on a
 * protocol error (a masked server frame, or a payload over max bytes). */
int wsp_frame_parse(const unsigned char *p, size_t n, uint64_t max, wsp_frame_t *f);

#endif
