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
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common/wsproto.h"

#define MAX_HANDSHAKE 8192
#define MAX_FRAME (1u << 20)

enum { ST_CONNECTING, ST_HANDSHAKE, ST_WELCOME, ST_READY, ST_WAIT, ST_CLOSED };

typedef struct {
    int fd, id, state;
    char key[32];
    unsigned char *rbuf; /* unread input */
    size_t rlen, rcap;
    unsigned char *wbuf; /* output the socket did not take yet */
    size_t wlen, woff, wcap;
    unsigned char *frag; /* a fragmented text message being assembled */
    size_t fraglen, fragcap;
    int want_out;
    uint64_t sent_ns;
    uint64_t next_ns;     /* --rate: when the next turn may start (0: not waiting) */
    uint32_t n;           /* messages sent */
    uint32_t text_i;      /* next text */
    int acked, bot_msgs;
} conn_t;

static struct {
    char host[300], path[512], hostport[300];
    int port;
    int conns, idle, no_hello, ramp;
    double duration, warmup, connect_timeout, rate;
    long per_conn;
    const char *texts_file;
} opt = {.conns = 100, .ramp = 200, .duration = 10, .warmup = 2, .connect_timeout = 30};

static char **texts; /* JSON-escaped, without quotes */
static size_t n_texts;

static conn_t *C;
static int ep;
static volatile sig_atomic_t stop_sig;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static struct {
    uint64_t error_frames, disconnects, connect, handshake, incomplete, ended, protocol, busy;
} err;
static int n_started, n_pending_setup, n_up;

static uint32_t *lat; /* µs, measured turns */
static size_t n_lat, cap_lat;
static uint64_t win_start, win_end; /* 0 = not yet known */
static uint64_t total_turns;

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("wsload: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t xrand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) die("out of memory");
    return q;
}

static void on_signal(int sig) { stop_sig = sig; }

/* ---- options ---- */

static void usage(int status) {
    fprintf(status ? stderr : stdout,
            "usage: wsload --url ws://HOST:PORT/v1/ws [--connections N] [--duration S] [--warmup S]\n"
            "              [--messages-per-conn M] [--rate MSGS_PER_S] [--texts FILE] [--ramp N]\n"
            "              [--connect-timeout S]\n"
            "       wsload --url ... --idle N [--no-hello] [--duration S]   (hold N idle connections)\n");
    exit(status);
}

static double num_arg(const char *name, const char *v, double lo, double hi) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || d < lo || d > hi) {
        fprintf(stderr, "wsload: --%s: bad value '%s' (%g..%g)\n", name, v, lo, hi);
        exit(2);
    }
    return d;
}

static void parse_url(const char *url) {
    if (strncmp(url, "ws://", 5)) {
        fprintf(stderr, "wsload: --url must start with ws://\n");
        exit(2);
    }
    const char *h = url + 5, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    if (hl == 0 || hl >= sizeof opt.hostport) usage(2);
    memcpy(opt.hostport, h, hl);
    opt.hostport[hl] = 0;
    snprintf(opt.path, sizeof opt.path, "%s", slash ? slash : "/");
    char *colon = strrchr(opt.hostport, ':');
    if (colon) {
        opt.port = (int)num_arg("url port", colon + 1, 1, 65535);
        snprintf(opt.host, sizeof opt.host, "%.*s", (int)(colon - opt.hostport), opt.hostport);
    } else {
        opt.port = 80;
        snprintf(opt.host, sizeof opt.host, "%s", opt.hostport);
    }
}

/* Appends s to the growable string (*o, *n, *cap) JSON-escaped. */
static void json_escape(char **o, size_t *n, size_t *cap, const char *s) {
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char tmp[8];
        const char *piece = tmp;
        size_t pl;
        if (ch == '"' || ch == '\\') {
            tmp[0] = '\\', tmp[1] = (char)ch, pl = 2;
        } else if (ch < 0x20) {
            pl = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", ch);
        } else {
            tmp[0] = (char)ch, pl = 1;
        }
        if (*n + pl + 1 > *cap) *o = xrealloc(*o, *cap = (*cap + pl + 1) * 2);
        memcpy(*o + *n, piece, pl);
        *n += pl;
        (*o)[*n] = 0;
    }
}

static void add_text(const char *line) {
    char *o = NULL;
    size_t n = 0, cap = 0;
    json_escape(&o, &n, &cap, line);
    if (!o) return;
    texts = xrealloc(texts, (n_texts + 1) * sizeof *texts);
    texts[n_texts++] = o;
}

static void load_texts(void) {
    if (opt.texts_file) {
        FILE *f = fopen(opt.texts_file, "r");
        if (!f) die("cannot open %s: %s", opt.texts_file, strerror(errno));
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

/* ---- output: masked frames ---- */

static void out_append(conn_t *c, const void *p, size_t n) {
    if (c->wlen + n > c->wcap) c->wbuf = xrealloc(c->wbuf, c->wcap = (c->wlen + n) * 2 + 256);
    memcpy(c->wbuf + c->wlen, p, n);
    c->wlen += n;
}

static void out_frame(conn_t *c, int opcode, const void *payload, size_t n) {
    unsigned char h[WSP_HEADER_MAX];
    uint32_t m = (uint32_t)xrand();
    unsigned char mask[4] = {(unsigned char)m, (unsigned char)(m >> 8), (unsigned char)(m >> 16),
                             (unsigned char)(m >> 24)};
    out_append(c, h, wsp_client_header(h, opcode, n, mask));
    if (c->wlen + n > c->wcap) c->wbuf = xrealloc(c->wbuf, c->wcap = (c->wlen + n) * 2 + 256);
    wsp_mask(c->wbuf + c->wlen, payload, n, mask);
    c->wlen += n;
}

static void conn_close(conn_t *c, int counted);

static void set_want_out(conn_t *c, int want) {
    if (c->want_out == want || c->fd < 0) return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.u32 = (uint32_t)c->id};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
}

/* Writes what is buffered; returns -1 when the connection was closed. */
static int flush_out(conn_t *c) {
    while (c->woff < c->wlen) {
        ssize_t w = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                set_want_out(c, 1);
                return 0;
            }
            conn_close(c, 1);
            return -1;
        }
        c->woff += (size_t)w;
    }
    c->woff = c->wlen = 0;
    set_want_out(c, 0);
    return 0;
}

static int send_text(conn_t *c, const char *s, size_t n) {
    out_frame(c, 1, s, n);
    return flush_out(c);
}

static uint64_t interval_ns; /* --rate: each connection's time between turn starts */

/* One turn: the message, then the barrier ping, in one write. */
static int send_turn(conn_t *c) {
    static char *buf;
    static size_t cap;
    const char *t = texts[c->text_i++ % n_texts];
    size_t need = strlen(t) + 128;
    if (need > cap) buf = xrealloc(buf, cap = need * 2);
    int n = snprintf(buf, cap, "{\"type\":\"message\",\"text\":\"%s\",\"client_msg_id\":\"c%d-%u\"}", t, c->id, c->n);
    c->n++;
    c->acked = c->bot_msgs = 0;
    out_frame(c, 1, buf, (size_t)n);
    static const char ping[] = "{\"type\":\"ping\"}";
    out_frame(c, 1, ping, sizeof ping - 1);
    c->state = ST_WAIT;
    c->sent_ns = now_ns();
    return flush_out(c);
}

/* ---- connection setup ---- */

static struct sockaddr_storage addr;
static socklen_t addr_len;

static void resolve(void) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    char port[16];
    snprintf(port, sizeof port, "%d", opt.port);
    int rc = getaddrinfo(opt.host, port, &hints, &res);
    if (rc) die("cannot resolve %s: %s", opt.host, gai_strerror(rc));
    memcpy(&addr, res->ai_addr, res->ai_addrlen);
    addr_len = res->ai_addrlen;
    freeaddrinfo(res);
}

static void conn_start(conn_t *c) {
    n_started++;
    n_pending_setup++;
    c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        err.connect++;
        n_pending_setup--;
        c->state = ST_CLOSED;
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->state = ST_CONNECTING;
    c->want_out = 1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)c->id};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
    if (connect(c->fd, (struct sockaddr *)&addr, addr_len) < 0 && errno != EINPROGRESS) {
        err.connect++;
        conn_close(c, 0);
    }
}

static void send_handshake(conn_t *c) {
    unsigned char raw[16];
    for (int i = 0; i < 16; i += 8) {
        uint64_t r = xrand();
        memcpy(raw + i, &r, 8);
    }
    wsp_key(raw, c->key);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     opt.path, opt.hostport, c->key);
    out_append(c, req, (size_t)n);
    c->state = ST_HANDSHAKE;
    flush_out(c);
}

static void setup_done(conn_t *c) {
    n_pending_setup--;
    n_up++;
    c->state = ST_READY;
}

/* Checks the 101 answer in rbuf; returns bytes consumed, 0 when incomplete, -1 when bad. */
static long parse_handshake(conn_t *c) { return wsp_handshake_check(c->rbuf, c->rlen, MAX_HANDSHAKE, c->key); }

/* ---- input: server frames ---- */

static void record(conn_t *c, uint64_t t) {
    total_turns++;
    if (!win_start || t < win_start || t > win_end) return;
    uint64_t us = (t - c->sent_ns) / 1000;
    if (n_lat == cap_lat) lat = xrealloc(lat, (cap_lat = cap_lat ? cap_lat * 2 : 65536) * sizeof *lat);
    lat[n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int type_is(const unsigned char *p, size_t n, const char *type) {
    const unsigned char *t = memmem(p, n, "\"type\":\"", 8);
    if (!t) return 0;
    t += 8;
    size_t tl = strlen(type);
    return (size_t)(p + n - t) > tl && memcmp(t, type, tl) == 0 && t[tl] == '"';
}

static int stopping(void);

/* Handles one complete text message; returns -1 when the connection was closed. */
static int on_text(conn_t *c, const unsigned char *p, size_t n) {
    if (type_is(p, n, "welcome")) {
        if (c->state != ST_WELCOME) {
            err.protocol++;
            return 0;
        }
        setup_done(c);
        if (opt.idle || stopping()) return 0;
        if (interval_ns) { /* spread the first turns over one interval */
            c->next_ns = now_ns() + xrand() % interval_ns;
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
        if (c->state != ST_WAIT) {
            err.protocol++;
            return 0;
        }
        uint64_t t = now_ns();
        if (!c->acked || !c->bot_msgs) err.incomplete++;
        record(c, t);
        c->state = ST_READY;
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
        if (err.error_frames <= 3) fprintf(stderr, "wsload: conn %d: %.*s\n", c->id, (int)(n > 300 ? 300 : n), p);
        return 0;
    }
    if (type_is(p, n, "ended")) {
        err.ended++;
        return 0;
    }
    return 0; /* handoff, rated, typing...: nothing to do */
}

/* Parses every complete frame in rbuf; returns -1 when the connection was closed. */
static int parse_frames(conn_t *c) {
    size_t off = 0;
    for (;;) {
        wsp_frame_t fr;
        int got = wsp_frame_parse(c->rbuf + off, c->rlen - off, MAX_FRAME, &fr);
        if (got == 0) break;
        if (got < 0) { /* a masked server frame, or one too large */
            err.protocol++;
            conn_close(c, 1);
            return -1;
        }
        int fin = fr.fin, op = fr.op;
        uint64_t len = fr.len;
        const unsigned char *p = fr.payload;
        off += fr.size;
        int rc = 0;
        switch (op) {
        case 0x0: /* continuation */
        case 0x1:
        case 0x2:
            if (op != 0 && c->fraglen) err.protocol++;
            if (!fin || c->fraglen) {
                if (c->fraglen + len > c->fragcap) c->frag = xrealloc(c->frag, c->fragcap = (c->fraglen + len) * 2);
                memcpy(c->frag + c->fraglen, p, (size_t)len);
                c->fraglen += (size_t)len;
                if (fin) {
                    rc = on_text(c, c->frag, c->fraglen);
                    c->fraglen = 0;
                }
            } else if (op == 0x1) {
                rc = on_text(c, p, (size_t)len);
            }
            break;
        case 0x8: /* close: answer, then drop */
            if (!stopping()) err.disconnects++;
            out_frame(c, 8, p, len >= 2 ? 2 : 0);
            flush_out(c);
            conn_close(c, 0);
            return -1;
        case 0x9: /* ping → pong with the same payload */
            out_frame(c, 0xA, p, (size_t)len);
            rc = flush_out(c);
            break;
        default: break;
        }
        if (rc < 0) return -1;
    }
    if (off) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
    return 0;
}

static void on_readable(conn_t *c) {
    for (;;) {
        if (c->rcap - c->rlen < 4096) c->rbuf = xrealloc(c->rbuf, c->rcap = c->rcap ? c->rcap * 2 : 8192);
        ssize_t r = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            conn_close(c, 1);
            return;
        }
        if (r == 0) {
            conn_close(c, 1);
            return;
        }
        c->rlen += (size_t)r;
        if (c->state == ST_HANDSHAKE) {
            long used = parse_handshake(c);
            if (used == 0) continue;
            if (used < 0) {
                err.handshake++;
                if (err.handshake <= 3)
                    fprintf(stderr, "wsload: bad handshake answer: %.*s\n", (int)(c->rlen > 200 ? 200 : c->rlen),
                            c->rbuf);
                conn_close(c, 0);
                return;
            }
            memmove(c->rbuf, c->rbuf + used, c->rlen - (size_t)used);
            c->rlen -= (size_t)used;
            if (opt.idle && opt.no_hello) setup_done(c);
            else {
                static const char hello[] = "{\"type\":\"hello\"}";
                c->state = ST_WELCOME;
                if (send_text(c, hello, sizeof hello - 1) < 0) return;
            }
        }
        if (parse_frames(c) < 0) return;
        /* keep big idle buffers from piling up over 10,000 connections */
        if (c->rlen == 0 && c->rcap > 65536) {
            free(c->rbuf);
            c->rbuf = NULL;
            c->rcap = 0;
        }
    }
}

static void on_writable(conn_t *c) {
    if (c->state == ST_CONNECTING) {
        int e = 0;
        socklen_t el = sizeof e;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el);
        if (e) {
            err.connect++;
            if (err.connect <= 3) fprintf(stderr, "wsload: connect: %s\n", strerror(e));
            conn_close(c, 0);
            return;
        }
        send_handshake(c);
        return;
    }
    flush_out(c);
}

static void conn_close(conn_t *c, int counted) {
    if (c->fd < 0) return;
    if (counted && !stopping()) err.disconnects++;
    if (c->state < ST_READY) n_pending_setup--;
    else n_up--;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = ST_CLOSED;
    c->rlen = c->wlen = c->woff = c->fraglen = 0;
}

/* ---- the run ---- */

static int phase_stop; /* 1 once the measured window ended (or a signal came) */
static int stopping(void) { return phase_stop || stop_sig; }

static void raise_nofile(int need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return;
    rlim_t want = (rlim_t)need + 64;
    if (rl.rlim_cur >= want) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < want)
        die("%d connections need %llu open files; the limit is %llu (raise ulimit -Hn)", need,
            (unsigned long long)want, (unsigned long long)rl.rlim_cur);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static uint32_t pct(double p) {
    if (!n_lat) return 0;
    size_t i = (size_t)(p / 100.0 * (double)n_lat);
    if (i >= n_lat) i = n_lat - 1;
    return lat[i];
}

static void poll_once(int timeout_ms) {
    struct epoll_event evs[512];
    int n = epoll_wait(ep, evs, 512, timeout_ms);
    for (int i = 0; i < n; i++) {
        conn_t *c = &C[evs[i].data.u32];
        if (c->fd < 0) continue;
        if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(c);
        if (c->fd >= 0 && c->state != ST_CONNECTING && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
            on_readable(c);
    }
}

/* Opens connections (at most --ramp in setup at once) until all are up or the timeout passes;
 * returns the number up. */
static int open_all(int total) {
    uint64_t deadline = now_ns() + (uint64_t)(opt.connect_timeout * 1e9);
    int next = 0;
    while (!stop_sig) {
        while (next < total && n_pending_setup < opt.ramp) conn_start(&C[next++]);
        if (next == total && n_pending_setup == 0) break;
        if (now_ns() > deadline) {
            fprintf(stderr, "wsload: %d of %d connections not up after %.0f s\n", total - n_up, total,
                    opt.connect_timeout);
            break;
        }
        poll_once(10);
    }
    return n_up;
}

static void close_all(int total) {
    static const unsigned char bye[] = {0x03, 0xe8}; /* 1000 */
    phase_stop = 1;
    for (int i = 0; i < total; i++) {
        conn_t *c = &C[i];
        if (c->fd < 0) continue;
        if (c->state >= ST_WELCOME) {
            out_frame(c, 8, bye, 2);
            flush_out(c);
        }
        conn_close(c, 0);
    }
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
    uint64_t end = now_ns() + (uint64_t)(opt.duration * 1e9);
    while (!stop_sig && now_ns() < end) poll_once(100);
    int still = n_up;
    uint64_t lost = err.disconnects;
    close_all(opt.idle);
    fprintf(stderr, "wsload: idle: held %d connections, %llu dropped while held\n", still, (unsigned long long)lost);
    return 0;
}

static int run_load(void) {
    /* --messages-per-conn counts every turn (no warm-up; --duration bounds the run);
     * otherwise the window opens --warmup s after the last connection came up */
    if (opt.per_conn) {
        win_start = now_ns();
        win_end = UINT64_MAX;
    }
    int up = open_all(opt.conns);
    uint64_t t0 = now_ns();
    if (!opt.per_conn) win_start = t0 + (uint64_t)(opt.warmup * 1e9);
    win_end = t0 + (uint64_t)((opt.warmup + opt.duration) * 1e9);
    /* connections that came up before t0 are already looping */
    while (!stop_sig) {
        uint64_t t = now_ns();
        if (t >= win_end) break;
        if (opt.per_conn) {
            int busy = 0;
            for (int i = 0; i < opt.conns && !busy; i++)
                busy = C[i].fd >= 0 && (C[i].state == ST_WAIT || C[i].next_ns || C[i].state < ST_READY);
            if (!busy && t > t0) break;
        }
        poll_once(interval_ns ? 1 : 5);
        if (interval_ns) {
            uint64_t now = now_ns();
            for (int i = 0; i < opt.conns; i++)
                if (C[i].next_ns && C[i].next_ns <= now && C[i].state == ST_READY && C[i].fd >= 0) {
                    C[i].next_ns = 0;
                    send_turn(&C[i]);
                }
        }
    }
    uint64_t t_end = now_ns();
    if (t_end < win_end) win_end = t_end; /* stopped early: by signal or --messages-per-conn */
    if (win_end < win_start) win_end = win_start; /* a signal during the connects or warm-up */
    phase_stop = 1;
    /* let outstanding turns finish (not counted past the window) so the server is not left mid-answer */
    uint64_t drain_until = now_ns() + 2000000000ull;
    for (;;) {
        int waiting = 0;
        for (int i = 0; i < opt.conns; i++) waiting += C[i].state == ST_WAIT;
        if (!waiting || now_ns() > drain_until) break;
        poll_once(10);
    }
    close_all(opt.conns);

    double secs = win_end > win_start ? (double)(win_end - win_start) / 1e9 : 0;
    uint64_t sum = 0;
    for (size_t i = 0; i < n_lat; i++) sum += lat[i];
    if (n_lat) qsort(lat, n_lat, sizeof *lat, cmp_u32);
    uint32_t p50 = pct(50), p90 = pct(90), p99 = pct(99), p999 = pct(99.9), mx = n_lat ? lat[n_lat - 1] : 0;
    printf("{\"mode\":\"load\",\"url\":\"ws://%s%s\",\"connections\":%d,\"connected\":%d,\"texts\":%zu,"
           "\"rate\":%g,\"warmup_s\":%g,\"seconds\":%.3f,\"messages\":%zu,\"messages_per_s\":%.1f,\"turns_total\":%llu,"
           "\"latency_us\":{\"mean\":%.0f,\"p50\":%u,\"p90\":%u,\"p99\":%u,\"p999\":%u,\"max\":%u},"
           "\"latency_ms\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"max\":%.2f},",
           opt.hostport, opt.path, opt.conns, up, n_texts, opt.rate, opt.warmup, secs, n_lat,
           secs > 0 ? (double)n_lat / secs : 0.0, (unsigned long long)total_turns,
           n_lat ? (double)sum / (double)n_lat : 0.0, p50, p90, p99, p999, mx, p50 / 1e3, p90 / 1e3, p99 / 1e3,
           mx / 1e3);
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
    const char *url = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'u': url = optarg; break;
        case 'c': opt.conns = (int)num_arg("connections", optarg, 1, 1000000); break;
        case 'd': opt.duration = num_arg("duration", optarg, 0.1, 86400); break;
        case 'w': opt.warmup = num_arg("warmup", optarg, 0, 3600); break;
        case 'm': opt.per_conn = (long)num_arg("messages-per-conn", optarg, 1, 1e9); break;
        case 'i': opt.idle = (int)num_arg("idle", optarg, 1, 1000000); break;
        case 'n': opt.no_hello = 1; break;
        case 't': opt.texts_file = optarg; break;
        case 'r': opt.ramp = (int)num_arg("ramp", optarg, 1, 100000); break;
        case 'R': opt.rate = num_arg("rate", optarg, 1, 1e8); break;
        case 'T': opt.connect_timeout = num_arg("connect-timeout", optarg, 1, 3600); break;
        case 'h': usage(0); break;
        default: usage(2);
        }
    }
    if (!url || optind != argc) usage(2);
    parse_url(url);
    if (opt.per_conn && !opt.idle) opt.warmup = 0;
    if (opt.rate > 0) interval_ns = (uint64_t)((double)opt.conns / opt.rate * 1e9);
    load_texts();
    resolve();
    rng ^= (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);

    int total = opt.idle ? opt.idle : opt.conns;
    raise_nofile(total);
    C = calloc((size_t)total, sizeof *C);
    if (!C) die("out of memory");
    for (int i = 0; i < total; i++) {
        C[i].id = i;
        C[i].fd = -1;
        C[i].state = ST_CLOSED;
        C[i].text_i = (uint32_t)(((uint64_t)i * 7919u) % n_texts);
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1: %s", strerror(errno));
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return opt.idle ? run_idle() : run_load();
}
