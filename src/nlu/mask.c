/* mask.c — replaces card numbers, phone numbers and e-mail addresses in free
 * text with masked forms (see mask.h), for logs and stored history. */
#include <stdlib.h>
#include <string.h>

#include "nlu/entities.h"
#include "nlu/mask.h"

#define STACK_ENTS 32

size_t kf_mask_bound(size_t len)
{
    /* the longest growth is a 13-digit card (13 bytes) masked to 19 bytes */
    return len * 2 + 1;
}

/* Full-width digit ０-９ (EF BC 90..99) at s? */
static int fw_digit(const unsigned char *s, size_t left)
{
    return left >= 3 && s[0] == 0xEF && s[1] == 0xBC && s[2] >= 0x90 && s[2] <= 0x99;
}

static size_t mask_card(const char *raw, size_t n, char *o)
{
    char last[4];
    int k = 4;
    const unsigned char *s = (const unsigned char *)raw;
    for (size_t i = n; i-- > 0 && k > 0;) {
        if (s[i] >= '0' && s[i] <= '9') last[--k] = (char)s[i];
        else if (s[i] >= 0x90 && s[i] <= 0x99 && i >= 2 && fw_digit(s + i - 2, 3)) last[--k] = (char)('0' + s[i] - 0x90), i -= 2;
    }
    memcpy(o, "**** **** **** ", 15);
    memcpy(o + 15, last, 4);
    return 19;
}

static size_t mask_phone(const char *raw, size_t n, char *o)
{
    const unsigned char *s = (const unsigned char *)raw;
    int digits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') digits++;
        else if (fw_digit(s + i, n - i)) digits++, i += 2;
    }
    size_t w = 0;
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        int fw = fw_digit(s + i, n - i);
        if ((s[i] >= '0' && s[i] <= '9') || fw) {
            seen++;
            if (seen <= digits - 4) o[w++] = '*';
            else if (fw) memcpy(o + w, s + i, 3), w += 3;
            else o[w++] = (char)s[i];
            if (fw) i += 2;
        } else {
            o[w++] = (char)s[i];
        }
    }
    return w;
}

static size_t mask_email(const char *raw, size_t n, char *o)
{
    const char *at = memchr(raw, '@', n);
    if (!at || at == raw) { /* cannot happen for an extracted address */
        memcpy(o, raw, n);
        return n;
    }
    size_t dom = n - (size_t)(at - raw);
    o[0] = raw[0];
    memcpy(o + 1, "***", 3);
    memcpy(o + 4, at, dom);
    return 4 + dom;
}

long kf_mask_text(const char *in, size_t len, char *out, size_t outcap)
{
    if (!out || !outcap) return -1;
    out[0] = 0;
    if (!in && len) return -1;
    kf_ent_t sents[STACK_ENTS], *ents = sents;
    int max = STACK_ENTS;
    if (len / 4 + 8 > STACK_ENTS) {
        max = (int)(len / 4 + 8);
        ents = malloc((size_t)max * sizeof *ents);
        if (!ents) return -1;
    }
    long rc = -1;
    int n = kf_ent_extract_builtin(in, len, 0, KF_ENT_CARD_NUMBER | KF_ENT_PHONE | KF_ENT_EMAIL, ents, max);
    if (n < 0) goto done;
    size_t w = 0, pos = 0;
    char tmp[KF_ENT_VALUE_MAX * 4 + 32];
    for (int i = 0; i <= n; i++) {
        size_t bs = i < n ? (size_t)ents[i].byte_start : len;
        if (w + (bs - pos) + 1 > outcap) goto done;
        memcpy(out + w, in + pos, bs - pos);
        w += bs - pos;
        if (i == n) break;
        const char *raw = in + bs;
        size_t rl = (size_t)ents[i].byte_end - bs, ml;
        if (rl > sizeof tmp - 32) goto done;
        if (!strcmp(ents[i].type, "card_number")) ml = mask_card(raw, rl, tmp);
        else if (!strcmp(ents[i].type, "phone")) ml = mask_phone(raw, rl, tmp);
        else ml = mask_email(raw, rl, tmp);
        if (w + ml + 1 > outcap) goto done;
        memcpy(out + w, tmp, ml);
        w += ml;
        pos = (size_t)ents[i].byte_end;
    }
    out[w] = 0;
    rc = (long)w;
done:
    if (rc < 0) out[0] = 0;
    if (ents != sents) free(ents);
    return rc;
}

char *kf_mask_dup(const char *in, size_t len, size_t *outlen)
{
    size_t cap = kf_mask_bound(len);
    char *out = malloc(cap);
    if (!out) return NULL;
    long n = kf_mask_text(in, len, out, cap);
    if (n < 0) {
        free(out);
        return NULL;
    }
    if (outlen) *outlen = (size_t)n;
    return out;
}
