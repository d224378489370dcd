/* wsload.c — the WebSocket chat load generator of `make bench` (bench/run.sh, section (d)).
 *
 * Drives kefu's customer channel GET /v1/ws (README "Customer WebSocket") with many
 * connections from one single-threaded epoll loop, speaking just enough RFC 6455 as a client:
 * the HTTP/1.1 upgrade (Sec-WebSocket-Accept checked), masked text frames out, unmasked server
 * frames in (text, continuation, ping → pong, close).
 *
 * Load mode (default): every connection sends {"type":"hello"}, waits for `welcome`, then runs a
 * closed loop with one message outstanding:
 *   {"type":"message","text":T,"client_msg_id":"c<conn>-<n>"} followed by {"type":"ping"}
 * The server answers that ping with `pong` only after every answer to earlier frames (a
 * barrier), so the reply latency is measured from the write of the message to the pong. A turn
 * counts as complete when its ack and at least one bot `message` arrived before the pong;
 * otherwise it is an `incomplete` error. Texts come from --texts (one per line), round-robin
 * from a per-connection offset. Counted: turns whose pong arrives inside the measured window
 * (after --warmup seconds, for --duration seconds, both starting once every connection is up);
 * with --messages-per-conn M every connection stops after M turns and all turns count (no
 * warm-up; --duration still bounds the run).
 * --rate R paces the load: each connection starts a turn every connections/R seconds, or at
 * once when its previous turn took longer (then the achieved rate falls short of R, and since
 * latency is timed from the actual send it understates the queueing a truly open-loop client
 * would see: compare messages_per_s with rate).
 *
 * Idle mode (--idle N): opens N connections (each says hello and waits for welcome unless
 * --no-hello), prints one JSON line {"mode":"idle",...,"ready":N} and holds them, answering
 * server pings, until SIGTERM/SIGINT or --duration seconds; used to measure the server's RSS
 * per idle connection.
 *
 * Output: one JSON line on stdout. Exit 0 when the run completed (errors are reported in the
 * JSON, not the status), 1 on a setup failure, 2 on bad usage. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../common/stats.h"
#include "../common/util.h"
#include "../common/wsclient.h"

#define MAX_FRAME (1u << 20)

enum { ST_WELCOME = WSC_OPEN, ST_READY, ST_WAIT };

typedef struct {
    wsc_conn_t w;         /* first: the socket, its buffers, w.state */
    uint64_t sent_ns;
    uint64_t next_ns;     /* --rate: when the next turn may start (0: not waiting) */
    uint32_t n;           /* messages sent */
    uint32_t text_i;      /* next text */
    int acked, bot_msgs;
} conn_t;

static struct {
    char host[BENCH_HOST_MAX], path[512], hostport[BENCH_HOST_MAX];
    int port;
    int conns, idle, no_hello, ramp;
    double duration, warmup, connect_timeout, rate;
    long per_conn;
    const char *texts_file;
} opt = {.conns = 100, .ramp = 200, .duration = 10, .warmup = 2, .connect_timeout = 30};

static char **texts; /* JSON-escaped, without quotes */
static size_t n_texts;

static conn_t *C;

static struct {
    uint64_t error_frames, disconnects, connect, handshake, incomplete, ended, protocol, busy;
} err;

static bench_samples_t lat; /* µs, measured turns */
static uint64_t win_start, win_end; /* 0 = not yet known */
static uint64_t total_turns;

/* ---- options ---- */

static void usage(int status) {
    fprintf(status ? stderr : stdout,
            "usage: wsload --url ws://HOST:PORT/v1/ws [--connections N] [--duration S] [--warmup S]\n"
            "              [--messages-per-conn M] [--rate MSGS_PER_S] [--texts FILE] [--ramp N]\n"
            "              [--connect-timeout S]\n"
            "       wsload --url ... --idle N [--no-hello] [--duration S]   (hold N idle connections)\n");
    exit(status);
}

static void parse_url(const char *url) {
    if (strncmp(url, "ws://", 5)) {
        fprintf(stderr, "wsload: --url must start with ws://\n");
        exit(2);
    }
    const char *h = url + 5, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    if (bench_split_hostport(h, hl, opt.hostport, opt.host, &opt.port) < 0) usage(2);
    snprintf(opt.path, sizeof opt.path, "%s", slash ? slash : "/");
}

static void add_text(const char *line) {
    size_t cap = strlen(line) * 6 + 8; /* room for every byte as \u00XX */
    char *o = bench_xrealloc(NULL, cap);
    bench_json_escape(o, cap, line);
    texts = bench_xrealloc(texts, (n_texts + 1) * sizeof *texts);
    texts[n_texts++] = o;
}

static void load_texts(void) {
    if (opt.texts_file) {
        FILE *f = fopen(opt.texts_file, "r");
        if (!f) bench_die("cannot open %s: %s", opt.texts_file, strerror(errno));
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, f)) >= 0) {
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
            if (len > 0 && line[0] != '#') add_text(line);
        }
        free(line);
        fclose(f);
    }
    if (n_texts == 0) {
        add_text("hello");
        add_text("what are your opening hours?");
        add_text("how do I reset my password?");
    }
}

/* ---- turns ---- */

static uint64_t interval_ns; /* --rate: each connection's time between turn starts */

/* One turn: the message, then the barrier ping, in one write. */
static int send_turn(conn_t *c) {
    static char *buf;
    static size_t cap;
    const char *t = texts[c->text_i++ % n_texts];
    size_t need = strlen(t) + 128;
    if (need > cap) buf = bench_xrealloc(buf, cap = need * 2);
    int n = snprintf(buf, cap, "{\"type\":\"message\",\"text\":\"%s\",\"client_msg_id\":\"c%d-%u\"}", t, c->w.idx, c->n);
    c->n++;
    c->acked = c->bot_msgs = 0;
    wsc_frame(&c->w, 1, buf, (size_t)n);
    static const char ping[] = "{\"type\":\"ping\"}";
    wsc_frame(&c->w, 1, ping, sizeof ping - 1);
    c->w.state = ST_WAIT;
    c->sent_ns = bench_now_ns();
    return wsc_flush(&c->w);
}

static void setup_done(conn_t *c) {
    c->w.state = ST_READY;
    wsc_ready(&c->w);
}

static void record(conn_t *c, uint64_t t) {
    total_turns++;
    if (!win_start || t < win_start || t > win_end) return;
    uint64_t us = (t - c->sent_ns) / 1000;
    bench_samples_add(&lat, us > UINT32_MAX ? UINT32_MAX : us);
}

static int type_is(const unsigned char *p, size_t n, const char *type) {
    const unsigned char *t = memmem(p, n, "\"type\":\"", 8);
    if (!t) return 0;
    t += 8;
    size_t tl = strlen(type);
    return (size_t)(p + n - t) > tl && memcmp(t, type, tl) == 0 && t[tl] == '"';
}

static int phase_stop; /* 1 once the measured window ended (or a signal came) */
static int stopping(void) { return phase_stop || bench_stop_sig; }

/* ---- wsclient.h's events ---- */

static const char *upgrade(wsc_conn_t *w, char *extra, size_t extra_size) {
    (void)w, (void)extra, (void)extra_size;
    return opt.path;
}

static int on_open(wsc_conn_t *w) {
    if (opt.idle && opt.no_hello) {
        setup_done((conn_t *)w);
        return 0;
    }
    static const char hello[] = "{\"type\":\"hello\"}";
    return wsc_send_text(w, hello, sizeof hello - 1); /* state: ST_WELCOME */
}

/* Handles one complete text message; returns -1 when the connection was closed. */
static int on_text(wsc_conn_t *w, const unsigned char *p, size_t n) {
    conn_t *c = (conn_t *)w;
    if (type_is(p, n, "welcome")) {
        if (w->state != ST_WELCOME) {
            err.protocol++;
            return 0;
        }
        setup_done(c);
        if (opt.idle || stopping()) return 0;
        if (interval_ns) { /* spread the first turns over one interval */
            c->next_ns = bench_now_ns() + bench_xrand() % interval_ns;
            return 0;
        }
        return send_turn(c);
    }
    if (type_is(p, n, "ack")) {
        c->acked++;
        return 0;
    }
    if (type_is(p, n, "message")) {
        if (c->acked && memmem(p, n, "\"from\":\"bot\"", 12)) c->bot_msgs++;
        return 0;
    }
    if (type_is(p, n, "pong")) {
        if (w->state != ST_WAIT) {
            err.protocol++;
            return 0;
        }
        uint64_t t = bench_now_ns();
        if (!c->acked || !c->bot_msgs) err.incomplete++;
        record(c, t);
        w->state = ST_READY;
        if (opt.per_conn && c->n >= (uint32_t)opt.per_conn) return 0;
        if (stopping()) return 0;
        if (interval_ns) { /* paced: the next turn starts one interval after this one did */
            uint64_t next = c->sent_ns + interval_ns;
            if (next > t) {
                c->next_ns = next;
                return 0;
            }
        }
        return send_turn(c);
    }
    if (type_is(p, n, "error")) {
        err.error_frames++;
        if (memmem(p, n, "\"busy\"", 6)) err.busy++;
        if (err.error_frames <= 3) bench_say("conn %d: %.*s", w->idx, (int)(n > 300 ? 300 : n), p);
        return 0;
    }
    if (type_is(p, n, "ended")) {
        err.ended++;
        return 0;
    }
    return 0; /* handoff, rated, typing...: nothing to do */
}

/* Counted as a disconnect: a connection lost once up or upgrading, not one that never connected. */
static void on_close(wsc_conn_t *w, wsc_close_t kind, const char *why) {
    switch (kind) {
    case WSC_CONNECT_FAILED:
        if (++err.connect <= 3) bench_say("connect: %s", why);
        break;
    case WSC_UPGRADE_FAILED:
        if (++err.handshake <= 3) bench_say("bad handshake answer: %.*s", (int)(w->rlen > 200 ? 200 : w->rlen), w->rbuf);
        break;
    case WSC_PROTOCOL: err.protocol++; /* fall through */
    case WSC_LOST:
    case WSC_SERVER_CLOSE:
        if (!stopping()) err.disconnects++;
        break;
    case WSC_DONE: break;
    }
}

static void on_protocol_error(wsc_conn_t *w) {
    (void)w;
    err.protocol++;
}

static const wsc_ops_t ops = {.upgrade = upgrade, .on_open = on_open, .on_text = on_text, .on_close = on_close,
                              .on_protocol_error = on_protocol_error};

/* ---- the run ---- */

/* Opens connections (at most --ramp in setup at once) until all are up or the timeout passes;
 * returns the number up. */
static int open_all(int total) {
    uint64_t deadline = bench_now_ns() + (uint64_t)(opt.connect_timeout * 1e9);
    int up = wsc_open_range(0, total, opt.ramp, deadline);
    if (up < total && bench_now_ns() > deadline)
        bench_say("%d of %d connections not up after %.0f s", total - up, total, opt.connect_timeout);
    return up;
}

static void close_all(void) {
    phase_stop = 1;
    wsc_close_all();
}

static uint64_t errors_total(void) {
    return err.error_frames + err.disconnects + err.connect + err.handshake + err.incomplete + err.ended +
           err.protocol;
}

static void print_errors(void) {
    printf("\"errors\":%llu,\"error_detail\":{\"error_frames\":%llu,\"busy\":%llu,\"disconnects\":%llu,"
           "\"connect\":%llu,\"handshake\":%llu,\"incomplete\":%llu,\"ended\":%llu,\"protocol\":%llu}",
           (unsigned long long)errors_total(), (unsigned long long)err.error_frames, (unsigned long long)err.busy,
           (unsigned long long)err.disconnects, (unsigned long long)err.connect, (unsigned long long)err.handshake,
           (unsigned long long)err.incomplete, (unsigned long long)err.ended, (unsigned long long)err.protocol);
}

static int run_idle(void) {
    int up = open_all(opt.idle);
    printf("{\"mode\":\"idle\",\"url\":\"ws://%s%s\",\"connections\":%d,\"hello\":%s,\"ready\":%d,", opt.hostport,
           opt.path, opt.idle, opt.no_hello ? "false" : "true", up);
    print_errors();
    printf("}\n");
    fflush(stdout);
    uint64_t end = bench_now_ns() + (uint64_t)(opt.duration * 1e9);
    while (!bench_stop_sig && bench_now_ns() < end) wsc_poll(100);
    int still = wsc_up();
    uint64_t lost = err.disconnects;
    close_all();
    bench_say("idle: held %d connections, %llu dropped while held", still, (unsigned long long)lost);
    return 0;
}

static int run_load(void) {
    /* --messages-per-conn counts every turn (no warm-up; --duration bounds the run);
     * otherwise the window opens --warmup s after the last connection came up */
    if (opt.per_conn) {
        win_start = bench_now_ns();
        win_end = UINT64_MAX;
    }
    int up = open_all(opt.conns);
    uint64_t t0 = bench_now_ns();
    if (!opt.per_conn) win_start = t0 + (uint64_t)(opt.warmup * 1e9);
    win_end = t0 + (uint64_t)((opt.warmup + opt.duration) * 1e9);
    /* connections that came up before t0 are already looping */
    while (!bench_stop_sig) {
        uint64_t t = bench_now_ns();
        if (t >= win_end) break;
        if (opt.per_conn) {
            int busy = 0;
            for (int i = 0; i < opt.conns && !busy; i++)
                busy = C[i].w.fd >= 0 && (C[i].w.state == ST_WAIT || C[i].next_ns || C[i].w.state < ST_READY);
            if (!busy && t > t0) break;
        }
        wsc_poll(interval_ns ? 1 : 5);
        if (interval_ns) {
            uint64_t now = bench_now_ns();
            for (int i = 0; i < opt.conns; i++)
                if (C[i].next_ns && C[i].next_ns <= now && C[i].w.state == ST_READY && C[i].w.fd >= 0) {
                    C[i].next_ns = 0;
                    send_turn(&C[i]);
                }
        }
    }
    uint64_t t_end = bench_now_ns();
    if (t_end < win_end) win_end = t_end; /* stopped early: by signal or --messages-per-conn */
    if (win_end < win_start) win_end = win_start; /* a signal during the connects or warm-up */
    phase_stop = 1;
    /* let outstanding turns finish (not counted past the window) so the server is not left mid-answer */
    uint64_t drain_until = bench_now_ns() + 2000000000ull;
    for (;;) {
        int waiting = 0;
        for (int i = 0; i < opt.conns; i++) waiting += C[i].w.state == ST_WAIT;
        if (!waiting || bench_now_ns() > drain_until) break;
        wsc_poll(10);
    }
    close_all();

    double secs = win_end > win_start ? (double)(win_end - win_start) / 1e9 : 0;
    bench_samples_sort(&lat);
    uint64_t p50 = bench_samples_pct(&lat, 50), p90 = bench_samples_pct(&lat, 90), p99 = bench_samples_pct(&lat, 99),
             p999 = bench_samples_pct(&lat, 99.9), mx = bench_samples_max(&lat);
    printf("{\"mode\":\"load\",\"url\":\"ws://%s%s\",\"connections\":%d,\"connected\":%d,\"texts\":%zu,"
           "\"rate\":%g,\"warmup_s\":%g,\"seconds\":%.3f,\"messages\":%zu,\"messages_per_s\":%.1f,\"turns_total\":%llu,"
           "\"latency_us\":{\"mean\":%.0f,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"p999\":%llu,\"max\":%llu},"
           "\"latency_ms\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"max\":%.2f},",
           opt.hostport, opt.path, opt.conns, up, n_texts, opt.rate, opt.warmup, secs, lat.n,
           secs > 0 ? (double)lat.n / secs : 0.0, (unsigned long long)total_turns, bench_samples_mean(&lat),
           (unsigned long long)p50, (unsigned long long)p90, (unsigned long long)p99, (unsigned long long)p999,
           (unsigned long long)mx, p50 / 1e3, p90 / 1e3, p99 / 1e3, mx / 1e3);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("\"client_cpu_s\":%.2f,", (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                                      ru.ru_stime.tv_usec / 1e6);
    print_errors();
    printf("}\n");
    return 0;
}

int main(int argc, char **argv) {
    static const struct option longs[] = {
        {"url", required_argument, 0, 'u'},
        {"connections", required_argument, 0, 'c'},
        {"duration", required_argument, 0, 'd'},
        {"warmup", required_argument, 0, 'w'},
        {"messages-per-conn", required_argument, 0, 'm'},
        {"idle", required_argument, 0, 'i'},
        {"no-hello", no_argument, 0, 'n'},
        {"texts", required_argument, 0, 't'},
        {"ramp", required_argument, 0, 'r'},
        {"connect-timeout", required_argument, 0, 'T'},
        {"rate", required_argument, 0, 'R'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    bench_prog = "wsload";
    const char *url = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'u': url = optarg; break;
        case 'c': opt.conns = (int)bench_num_arg("connections", optarg, 1, 1000000); break;
        case 'd': opt.duration = bench_num_arg("duration", optarg, 0.1, 86400); break;
        case 'w': opt.warmup = bench_num_arg("warmup", optarg, 0, 3600); break;
        case 'm': opt.per_conn = (long)bench_num_arg("messages-per-conn", optarg, 1, 1e9); break;
        case 'i': opt.idle = (int)bench_num_arg("idle", optarg, 1, 1000000); break;
        case 'n': opt.no_hello = 1; break;
        case 't': opt.texts_file = optarg; break;
        case 'r': opt.ramp = (int)bench_num_arg("ramp", optarg, 1, 100000); break;
        case 'R': opt.rate = bench_num_arg("rate", optarg, 1, 1e8); break;
        case 'T': opt.connect_timeout = bench_num_arg("connect-timeout", optarg, 1, 3600); break;
        case 'h': usage(0); break;
        default: usage(2);
        }
    }
    if (!url || optind != argc) usage(2);
    parse_url(url);
    if (opt.per_conn && !opt.idle) opt.warmup = 0;
    if (opt.rate > 0) interval_ns = (uint64_t)((double)opt.conns / opt.rate * 1e9);
    load_texts();
    bench_seed();

    int total = opt.idle ? opt.idle : opt.conns;
    bench_raise_nofile(total);
    C = calloc((size_t)total, sizeof *C);
    if (!C) bench_die("out of memory");
    wsc_init(C, sizeof *C, total, &ops, opt.host, opt.port, opt.hostport, MAX_FRAME);
    for (int i = 0; i < total; i++) C[i].text_i = (uint32_t)(((uint64_t)i * 7919u) % n_texts);
    bench_catch_signals();
    return opt.idle ? run_idle() : run_load();
}
