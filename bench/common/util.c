/* util.c — see util.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "stats.h"

const char *bench_prog = "bench";
volatile sig_atomic_t bench_stop_sig;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static void vsay(const char *fmt, va_list ap) {
    fprintf(stderr, "%s: ", bench_prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void bench_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
    exit(1);
}

void bench_say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
}

void *bench_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) bench_die("out of memory");
    return q;
}

uint64_t bench_xrand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

void bench_seed(void) { rng ^= bench_now_ns() ^ ((uint64_t)getpid() << 32); }

static void on_signal(int sig) { bench_stop_sig = sig; }

void bench_catch_signals(void) {
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

double bench_num_arg(const char *name, const char *v, double lo, double hi) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || d < lo || d > hi) {
        fprintf(stderr, "%s: --%s: bad value '%s' (%g..%g)\n", bench_prog, name, v, lo, hi);
        exit(2);
    }
    return d;
}

int bench_split_hostport(const char *h, size_t hl, char hostport[BENCH_HOST_MAX], char host[BENCH_HOST_MAX],
                         int *port) {
    if (hl == 0 || hl >= BENCH_HOST_MAX) return -1;
    memcpy(hostport, h, hl);
    hostport[hl] = 0;
    char *colon = strrchr(hostport, ':');
    if (colon) {
        *port = (int)bench_num_arg("url port", colon + 1, 1, 65535);
        snprintf(host, BENCH_HOST_MAX, "%.*s", (int)(colon - hostport), hostport);
    } else {
        *port = 80;
        snprintf(host, BENCH_HOST_MAX, "%s", hostport);
    }
    return 0;
}

void bench_raise_nofile(int need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return;
    rlim_t want = (rlim_t)need + 64;
    if (rl.rlim_cur >= want) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < want)
        bench_die("%d connections need %llu open files; the limit is %llu (raise ulimit -Hn)", need,
                  (unsigned long long)want, (unsigned long long)rl.rlim_cur);
}

size_t bench_json_escape(char *out, size_t outsz, const char *s) {
    size_t o = 0;
    for (; *s && o + 7 < outsz; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') out[o++] = '\\', out[o++] = (char)ch;
        else if (ch < 0x20) o += (size_t)snprintf(out + o, outsz - o, "\\u%04x", ch);
        else out[o++] = (char)ch;
    }
    out[o] = 0;
    return o;
}
