/* util.h — the small helpers every bench client needs (bench/wsload, bench/handoff): messages
 * and exits prefixed with the tool's name, checked allocation, a fast PRNG, the SIGINT/SIGTERM
 * flag, numeric options, "host:port" splitting, the open-file limit and JSON escaping. */
#ifndef KEFU_BENCH_UTIL_H
#define KEFU_BENCH_UTIL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_HOST_MAX 300

extern const char *bench_prog;                 /* the tool's name, for every message: set it first */
extern volatile sig_atomic_t bench_stop_sig;   /* the signal that asked us to stop, 0 while none */

/* "<prog>: <message>\n" on stderr; bench_die then exits 1. */
__attribute__((format(printf, 1, 2), noreturn)) void bench_die(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void bench_say(const char *fmt, ...);
void *bench_xrealloc(void *p, size_t n);

/* xorshift64; bench_seed mixes the clock and the pid in. */
uint64_t bench_xrand(void);
void bench_seed(void);

/* SIGINT and SIGTERM set bench_stop_sig; SIGPIPE is ignored. */
void bench_catch_signals(void);

/* The number in v for option --name within [lo, hi], or exits 2 saying why. */
double bench_num_arg(const char *name, const char *v, double lo, double hi);

/* Splits the first hl bytes of h, "host[:port]", into hostport, host and *port (80 when none);
 * -1 when hl is 0 or too long. */
int bench_split_hostport(const char *h, size_t hl, char hostport[BENCH_HOST_MAX], char host[BENCH_HOST_MAX],
                         int *port);

/* Raises RLIMIT_NOFILE to need + 64, or exits saying the limit is too low. */
void bench_raise_nofile(int need);

/* s JSON-escaped (no quotes) into out, truncated to fit outsz; its length. */
size_t bench_json_escape(char *out, size_t outsz, const char *s);

#endif
