/* wsproto.c — see wsproto.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wsproto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

void wsp_key(const unsigned char raw[16], char out[WSP_KEY_LEN + 1]) {
    EVP_EncodeBlock((unsigned char *)out, raw, 16);
}

long wsp_handshake_check(const unsigned char *buf, size_t len, size_t max, const char *key) {
    const unsigned char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) return len > max ? -1 : 0;
    size_t hl = (size_t)(end - buf) + 4;
    if (len < 12 || memcmp(buf, "HTTP/1.1 101", 12)) return -1;
    char want[64], cat[128];
    unsigned char sha[EVP_MAX_MD_SIZE];
    unsigned shalen = 0;
    int cl = snprintf(cat, sizeof cat, "%s%s", key, WS_GUID);
    if (cl < 0 || (size_t)cl >= sizeof cat) return -1;
    if (!EVP_Digest(cat, (size_t)cl, sha, &shalen, EVP_sha1(), NULL)) return -1;
    EVP_EncodeBlock((unsigned char *)want, sha, (int)shalen);
    char *hdr = strndup((const char *)buf, hl);
    if (!hdr) return -1;
    int ok = 0;
    for (char *line = strstr(hdr, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
        char *l = line + 2;
        if (strncasecmp(l, "sec-websocket-accept:", 21) == 0) {
            char *v = l + 21;
            while (*v == ' ') v++;
            ok = strncmp(v, want, strlen(want)) == 0;
        }
    }
    free(hdr);
    return ok ? (long)hl : -1;
}

size_t wsp_client_header(unsigned char h[WSP_HEADER_MAX], int opcode, uint64_t n, const unsigned char mask[4]) {
    size_t hl = 0;
    h[hl++] = (unsigned char)(0x80 | opcode);
    if (n < 126) {
        h[hl++] = (unsigned char)(0x80 | n);
    } else if (n < 65536) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (unsigned char)(n >> 8);
        h[hl++] = (unsigned char)n;
    } else {
        h[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) h[hl++] = (unsigned char)(n >> (8 * i));
    }
    memcpy(h + hl, mask, 4);
    return hl + 4;
}

void wsp_mask(unsigned char *dst, const void *src, size_t n, const unsigned char mask[4]) {
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++) dst[i] = s[i] ^ mask[i & 3];
}

int wsp_frame_parse(const unsigned char *p, size_t n, uint64_t max, wsp_frame_t *f) {
    if (n < 2) return 0;
    if (p[1] & 0x80) return -1; /* servers never mask */
    uint64_t len = p[1] & 0x7f;
    size_t hl = 2;
    if (len == 126) {
        if (n < 4) return 0;
        len = (uint64_t)p[2] << 8 | p[3];
        hl = 4;
    } else if (len == 127) {
        if (n < 10) return 0;
        len = 0;
        for (int i = 0; i < 8; i++) len = len << 8 | p[2 + i];
        hl = 10;
    }
    if (len > max) return -1;
    if (n - hl < len) return 0;
    f->fin = (p[0] & 0x80) != 0;
    f->op = p[0] & 0x0f;
    f->payload = p + hl;
    f->len = len;
    f->size = hl + (size_t)len;
    return 1;
}
