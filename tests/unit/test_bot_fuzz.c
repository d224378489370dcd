/* test_bot_fuzz.c — the bot loader on damaged input: every prefix (in steps)
 * of a real intents file, and copies with bytes overwritten by a fixed
 * pseudo-random sequence.  Each load must either succeed or fail with a
 * "file:line: what" message pointing into the damaged file; never crash or
 * leak (run under `make asan`).  Run from the repository root. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bot/bot.h"

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert(s);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    s[n] = '\0';
    *len = (size_t)n;
    return s;
}

static void put(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    cr_assert(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

typedef struct {
    char dir[64], bot[128], file[128];
} tmpbot_t;

static void tmpbot_init(tmpbot_t *t) {
    snprintf(t->dir, sizeof t->dir, "/tmp/kf_bot_fuzz_XXXXXX");
    cr_assert(mkdtemp(t->dir));
    char sub[128];
    snprintf(sub, sizeof sub, "%s/intents", t->dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    snprintf(t->bot, sizeof t->bot, "%s/bot.yml", t->dir);
    snprintf(t->file, sizeof t->file, "%s/intents/x.yml", t->dir);
    size_t n;
    char *b = slurp("bots/demo/bot.yml", &n);
    put(t->bot, b, n);
    free(b);
}

static void tmpbot_done(tmpbot_t *t) {
    char sub[128];
    snprintf(sub, sizeof sub, "%s/intents", t->dir);
    unlink(t->file);
    unlink(t->bot);
    rmdir(sub);
    rmdir(t->dir);
}

static void try_load(tmpbot_t *t, const char *data, size_t len, size_t *ok) {
    char err[512] = "";
    put(t->file, data, len);
    kf_bot_t *b = kf_bot_load(t->dir, err, sizeof err);
    if (b) {
        (*ok)++;
        kf_bot_free(b);
        return;
    }
    char none[160];
    snprintf(none, sizeof none, "%s/intents: no intents", t->dir);
    if (!strcmp(err, none)) return; /* only comments, or cut before the first intent */
    size_t fl = strlen(t->file);
    cr_assert(!strncmp(err, t->file, fl) && err[fl] == ':' && isdigit((unsigned char)err[fl + 1]),
              "len %zu: bad error \"%s\"", len, err);
    cr_assert(strlen(err) > fl + 3, "no message: %s", err);
}

Test(bot_fuzz, every_prefix_of_a_real_file) {
    tmpbot_t t;
    tmpbot_init(&t);
    size_t len, ok = 0, tries = 0;
    char *src = slurp("bots/demo/intents/cards.yml", &len);
    for (size_t n = 0; n <= len; n += n < 400 ? 1 : 37, tries++) try_load(&t, src, n, &ok);
    try_load(&t, src, len, &ok);
    cr_expect(ok >= 1, "the whole file must load");
    cr_expect(ok < tries, "some prefixes must fail");
    free(src);
    tmpbot_done(&t);
}

Test(bot_fuzz, overwritten_bytes) {
    tmpbot_t t;
    tmpbot_init(&t);
    size_t len, ok = 0;
    char *src = slurp("bots/demo/intents/smalltalk.yml", &len);
    char *buf = malloc(len);
    cr_assert(buf);
    static const char junk[] = ":-[]{}&*!|>'\"%@`#,? \n\t\0\xff\xc3x";
    unsigned seed = 12345;
    for (int round = 0; round < 300; round++) {
        memcpy(buf, src, len);
        for (int k = 0; k < 1 + round % 4; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            buf[at] = junk[(seed >> 8) % (sizeof junk - 1)];
        }
        try_load(&t, buf, len, &ok);
    }
    free(buf);
    free(src);
    tmpbot_done(&t);
}
