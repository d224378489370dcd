/* log.c — JSON-lines logger (see log.h).  Formatting happens into a stack
 * buffer; one write(2) per line keeps lines atomic across threads. */
#include "obs/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = KF_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void kf_log_set_level(kf_log_level_t level) { atomic_store(&log_level, (int)level); }
int kf_log_enabled(kf_log_level_t level) { return (int)level >= atomic_load_explicit(&log_level, memory_order_relaxed); }

int kf_log_parse_level(const char *s) {
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0) return i;
    return -1;
}

typedef struct { char *p; size_t left; } out_t;

static void put(out_t *o, const char *s, size_t n) {
    if (n > o->left) n = o->left;
    memcpy(o->p, s, n);
    o->p += n;
    o->left -= n;
}

static void put_str(out_t *o, const char *s) {
    put(o, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        if (*c == '"' || *c == '\\') { esc[0] = '\\'; esc[1] = (char)*c; put(o, esc, 2); }
        else if (*c == '\n') put(o, "\\n", 2);
        else if (*c == '\t') put(o, "\\t", 2);
        else if (*c == '\r') put(o, "\\r", 2);
        else if (*c < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", *c); put(o, esc, 6); }
        else put(o, (const char *)c, 1);
    }
    put(o, "\"", 1);
}

static void put_fmt(out_t *o, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) put(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void kf_log(kf_log_level_t level, const char *msg, ...) {
    if (!kf_log_enabled(level)) return;
    char buf[4096];
    out_t o = {buf, sizeof buf - 2};
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%06ldZ", (long)tv.tv_usec);
    put(&o, "{\"ts\":\"", 7);
    put(&o, ts, strlen(ts));
    put(&o, "\",\"level\":\"", 11);
    put(&o, level_names[level], strlen(level_names[level]));
    put(&o, "\",\"msg\":", 8);
    put_str(&o, msg);
    va_list ap;
    va_start(ap, msg);
    const char *key;
    while ((key = va_arg(ap, const char *)) != NULL) {
        int kind = va_arg(ap, int);
        put(&o, ",", 1);
        put_str(&o, key);
        put(&o, ":", 1);
        switch (kind) {
        case 's': { const char *v = va_arg(ap, const char *); if (v) put_str(&o, v); else put(&o, "null", 4); break; }
        case 'i': put_fmt(&o, "%lld", va_arg(ap, long long)); break;
        case 'd': put_fmt(&o, "%.6g", va_arg(ap, double)); break;
        case 'b': { int v = va_arg(ap, int); put(&o, v ? "true" : "false", v ? 4 : 5); break; }
        default: put(&o, "null", 4); break;
        }
    }
    va_end(ap);
    o.left += 2; /* reserved so the line always ends well-formed */
    put(&o, "}\n", 2);
    ssize_t w = write(STDERR_FILENO, buf, (size_t)(o.p - buf));
    (void)w;
}
