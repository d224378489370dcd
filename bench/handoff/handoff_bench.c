/* handoff_bench.c — handoff → offer latency, for `make bench` (bench/run.sh, section (f)).
 *
 * How long after a customer asks for a person does the offer appear in a connected agent
 * console?  Against a running kefu (README "Customer WebSocket", "Agent console WebSocket"):
 *
 *  1. K agents (--agents, default 4; ids PREFIX1..PREFIXK, created beforehand with
 *     `kefu agent add`, all with the same --password) log in with POST /v1/agents/login (plain
 *     HTTP/1.1 on a blocking socket) and each opens GET /v1/agents/ws with
 *     `Authorization: Bearer <token>`; each must get `welcome`, then `queues`.
 *  2. N customers (--customers, default 200) open GET /v1/ws, at most --batch of them in
 *     setup at once; each sends a hello with a profile (language en) and keeps the
 *     conversation_id of its `welcome`.
 *  3. Paced, one customer every --interval-ms (default 5 ms; --rate R = 1000/R ms), in turn,
 *     sends {"type":"message","text":TEXT,"client_msg_id":"h<i>"}.  t0 is taken just before
 *     the write (CLOCK_MONOTONIC); t_ack when that customer's `ack` arrives; t_offer when an
 *     `offer` for its conversation_id arrives on any agent's console.
 *  4. The agent given the offer answers `accept`; on `assigned` it sends `close`, so the
 *     conversation leaves it (`released`, reason closed) and its capacity comes back: the load
 *     stays flat however many handoffs run (rejecting instead would leave every conversation
 *     waiting after K rejections, and the queues every console is sent would grow).
 *
 * Every handoff must get its ack, its offer and its release; the run ends when all did (or at
 * --timeout seconds).  Protocol errors (an `error` frame, an offer withdrawn, an offer for an
 * unknown or already offered conversation, an unexpected close, a bad upgrade) count as errors.
 *
 * Output: one JSON line on stdout, {"mode":"handoff",...}: handoffs, offer_ms and ack_ms
 * (p50/p90/p99/max, mean, from t0), offer_before_ack (how many offers beat their ack), seconds
 * (wall time from the first handoff to the last release), with --server-pid the server's CPU
 * time over those seconds (/proc/PID/stat, all threads) per handoff, and errors.  Exit 0 when
 * every handoff was acked, offered and released without errors; 1 otherwise (why on stderr;
 * the JSON line is still printed once the handoffs started); 2 on bad usage. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
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
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common/wsproto.h"

#define MAX_HANDSHAKE 8192
#define MAX_FRAME (4u << 20) /* a transcript is one frame */
#define ID_LEN 32            /* conversation ids: 32 lowercase hex */

enum { AGENT, CUSTOMER };
enum { ST_CONNECTING, ST_HANDSHAKE, ST_WELCOME, ST_QUEUES, ST_READY, ST_SENT, ST_CLOSED };

typedef struct {
    int fd, idx, kind, state, want_out;
    char key[WSP_KEY_LEN + 1];
    unsigned char *rbuf, *wbuf, *frag;
    size_t rlen, rcap, wlen, woff, wcap, fraglen, fragcap;
    /* agent */
    char agent_id[40], token[160];
    /* customer */
    char conv[ID_LEN + 1];
    uint64_t t0, t_ack, t_offer; /* ns, CLOCK_MONOTONIC; 0 = not yet */
    int offered_to;              /* agent index, -1 */
    int handoff_frame, released;
    int finished;                /* 1 acked + offered + released, -1 failed (error, ended, lost) */
} conn_t;

static struct {
    char host[300], hostport[300];
    int port;
    int agents, customers, batch, server_pid;
    double interval_ms, offer_timeout, timeout;
    const char *prefix, *password, *text, *language;
} opt = {.agents = 4,
         .customers = 200,
         .batch = 50,
         .interval_ms = 5,
         .offer_timeout = 10,
         .timeout = 60,
         .prefix = "bench-agent-",
         .text = "I want to talk to a human agent",
         .language = "en"};

static conn_t *C; /* agents [0, K), then customers */
static int ep;
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static volatile sig_atomic_t stop_sig;
static int phase_closing; /* our own closes: not errors */

static struct {
    uint64_t agent_errors, customer_errors, ended_early, withdrawn, unknown_offers, dup_offers, disconnects, protocol, handshake,
        connect;
} err;
static int n_pending_setup, n_ready_customers, n_ready_agents;
static int n_offers, n_acks, n_released, n_finished;

/* A customer's handoff is over: all three seen, or it failed (counted once). */
static void settle(conn_t *c, int failed) {
    if (c->kind != CUSTOMER || c->finished) return;
    if (!failed && !(c->t_ack && c->t_offer && c->released)) return;
    c->finished = failed ? -1 : 1;
    n_finished++;
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("handoff_bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("handoff_bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
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

static const char *who(const conn_t *c) {
    static char b[64];
    if (c->kind == AGENT) snprintf(b, sizeof b, "agent %s", c->agent_id);
    else snprintf(b, sizeof b, "customer %d", c->idx - opt.agents);
    return b;
}

/* ---- tiny JSON readers: kefu writes compact JSON, "type" first ---- */

/* The string value of the first member "name" (not matching inside escaped strings: those
 * quotes are preceded by a backslash), copied into out; 0 when absent. */
static int json_str(const unsigned char *p, size_t n, const char *name, char *out, size_t outsz) {
    char pat[64];
    int pl = snprintf(pat, sizeof pat, "\"%s\"", name);
    const unsigned char *s = p, *end = p + n;
    while ((s = memmem(s, (size_t)(end - s), pat, (size_t)pl))) {
        const unsigned char *v = s + pl;
        s += pl;
        while (v < end && *v == ' ') v++;
        if (v >= end || *v != ':') continue;
        v++;
        while (v < end && *v == ' ') v++;
        if (v >= end || *v != '"') continue;
        v++;
        size_t i = 0;
        while (v < end && *v != '"' && *v != '\\' && i + 1 < outsz) out[i++] = (char)*v++;
        out[i] = 0;
        return v < end && *v == '"';
    }
    return 0;
}

static void json_escape_to(char *out, size_t outsz, const char *s) {
    size_t o = 0;
    for (; *s && o + 7 < outsz; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') out[o++] = '\\', out[o++] = (char)ch;
        else if (ch < 0x20) o += (size_t)snprintf(out + o, outsz - o, "\\u%04x", ch);
        else out[o++] = (char)ch;
    }
    out[o] = 0;
}

/* ---- conversation id → customer (open addressing) ---- */

static int *slots;
static size_t slot_mask;

static size_t id_hash(const char *id) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < ID_LEN && id[i]; i++) h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
    return (size_t)h;
}

static int conv_insert(int idx) {
    const char *id = C[idx].conv;
    for (size_t i = id_hash(id) & slot_mask;; i = (i + 1) & slot_mask) {
        if (slots[i] < 0) {
            slots[i] = idx;
            return 0;
        }
        if (!strcmp(C[slots[i]].conv, id)) return -1; /* two welcomes with one id */
    }
}

static conn_t *conv_find(const char *id) {
    for (size_t i = id_hash(id) & slot_mask; slots[i] >= 0; i = (i + 1) & slot_mask)
        if (!strcmp(C[slots[i]].conv, id)) return &C[slots[i]];
    return NULL;
}

/* ---- output ---- */

static void out_append(conn_t *c, const void *p, size_t n) {
    if (c->wlen + n > c->wcap) c->wbuf = xrealloc(c->wbuf, c->wcap = (c->wlen + n) * 2 + 256);
    memcpy(c->wbuf + c->wlen, p, n);
    c->wlen += n;
}

static void out_frame(conn_t *c, int opcode, const void *payload, size_t n) {
    unsigned char h[WSP_HEADER_MAX], mask[4];
    uint64_t r = xrand();
    memcpy(mask, &r, 4);
    out_append(c, h, wsp_client_header(h, opcode, n, mask));
    if (c->wlen + n > c->wcap) c->wbuf = xrealloc(c->wbuf, c->wcap = (c->wlen + n) * 2 + 256);
    wsp_mask(c->wbuf + c->wlen, payload, n, mask);
    c->wlen += n;
}

static void conn_close(conn_t *c, const char *why);

static void set_want_out(conn_t *c, int want) {
    if (c->want_out == want || c->fd < 0) return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.u32 = (uint32_t)c->idx};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
}

/* Writes what is buffered; -1 when the connection was closed. */
static int flush_out(conn_t *c) {
    while (c->woff < c->wlen) {
        ssize_t w = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                set_want_out(c, 1);
                return 0;
            }
            conn_close(c, strerror(errno));
            return -1;
        }
        c->woff += (size_t)w;
    }
    c->woff = c->wlen = 0;
    set_want_out(c, 0);
    return 0;
}

static int send_json(conn_t *c, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) die("frame too long");
    out_frame(c, 1, buf, (size_t)n);
    return flush_out(c);
}

/* ---- agents: login over plain HTTP/1.1 ---- */

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

/* POST /v1/agents/login → the token into c->token, or dies saying why. */
static void login(conn_t *c) {
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket: %s", strerror(errno));
    struct timeval tv = {.tv_sec = 20}; /* argon2id on the server's two hashing threads */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&addr, addr_len) < 0) die("login %s: connect: %s", c->agent_id, strerror(errno));
    char id[80], pw[600], body[800], req[1400];
    json_escape_to(id, sizeof id, c->agent_id);
    json_escape_to(pw, sizeof pw, opt.password);
    int bl = snprintf(body, sizeof body, "{\"agent_id\":\"%s\",\"password\":\"%s\"}", id, pw);
    int rl = snprintf(req, sizeof req,
                      "POST /v1/agents/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                      opt.hostport, bl, body);
    for (int off = 0; off < rl;) {
        ssize_t w = send(fd, req + off, (size_t)(rl - off), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die("login %s: send: %s", c->agent_id, strerror(errno));
        off += (int)w;
    }
    char resp[16384];
    size_t got = 0;
    for (;;) { /* the head, then Content-Length bytes (or EOF) */
        ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die("login %s: no answer: %s", c->agent_id, strerror(errno));
        if (r == 0 || (got += (size_t)r) == sizeof resp - 1) break;
        resp[got] = 0;
        char *end = strstr(resp, "\r\n\r\n"), *cl = strcasestr(resp, "\r\ncontent-length:");
        if (end && cl && cl < end && got >= (size_t)(end + 4 - resp) + strtoul(cl + 17, NULL, 10)) break;
    }
    close(fd);
    resp[got] = 0;
    char *bodyp = strstr(resp, "\r\n\r\n");
    if (strncmp(resp, "HTTP/1.1 200", 12) || !bodyp)
        die("login %s: POST /v1/agents/login answered: %.300s (was it created with `kefu agent add` and this "
            "password?)",
            c->agent_id, resp);
    bodyp += 4;
    if (!json_str((unsigned char *)bodyp, strlen(bodyp), "token", c->token, sizeof c->token) || !c->token[0])
        die("login %s: no token in %.300s", c->agent_id, bodyp);
}

/* ---- connections ---- */

static void conn_start(conn_t *c) {
    n_pending_setup++;
    c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->state = ST_CONNECTING;
    c->want_out = 1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)c->idx};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
    if (connect(c->fd, (struct sockaddr *)&addr, addr_len) < 0 && errno != EINPROGRESS) {
        err.connect++;
        conn_close(c, strerror(errno));
    }
}

static void send_handshake(conn_t *c) {
    unsigned char raw[16];
    for (int i = 0; i < 16; i += 8) {
        uint64_t r = xrand();
        memcpy(raw + i, &r, 8);
    }
    wsp_key(raw, c->key);
    char req[1024], auth[200] = "";
    if (c->kind == AGENT) snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", c->token);
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                     c->kind == AGENT ? "/v1/agents/ws" : "/v1/ws", opt.hostport, c->key, auth);
    out_append(c, req, (size_t)n);
    c->state = ST_HANDSHAKE;
    flush_out(c);
}

static void setup_done(conn_t *c) {
    n_pending_setup--;
    c->state = ST_READY;
    if (c->kind == AGENT) n_ready_agents++;
    else n_ready_customers++;
}

static void conn_close(conn_t *c, const char *why) {
    if (c->fd < 0) return;
    if (!phase_closing && !stop_sig) {
        err.disconnects++;
        if (err.disconnects <= 5) say("%s: connection lost (%s)", who(c), why);
    }
    if (c->state < ST_READY) n_pending_setup--;
    if (!phase_closing) settle(c, 1);
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = ST_CLOSED;
    c->rlen = c->wlen = c->woff = c->fraglen = 0;
}

/* ---- the handoff ---- */

static uint64_t offer_timeout_ns;

static int send_handoff(conn_t *c) {
    char text[600];
    json_escape_to(text, sizeof text, opt.text);
    c->state = ST_SENT;
    c->t0 = now_ns();
    return send_json(c, "{\"type\":\"message\",\"text\":\"%s\",\"client_msg_id\":\"h%d\"}", text, c->idx - opt.agents);
}

static void frame_error(conn_t *c, uint64_t *counter, const unsigned char *p, size_t n) {
    (*counter)++;
    if (*counter <= 5) say("%s: %.*s", who(c), (int)(n > 400 ? 400 : n), (const char *)p);
}

static int on_agent_text(conn_t *c, const unsigned char *p, size_t n) {
    uint64_t t = now_ns();
    char type[32], id[ID_LEN + 8];
    if (!json_str(p, n, "type", type, sizeof type)) {
        frame_error(c, &err.protocol, p, n);
        return 0;
    }
    if (c->state == ST_WELCOME || c->state == ST_QUEUES) { /* the first two frames: welcome, queues */
        const char *want = c->state == ST_WELCOME ? "welcome" : "queues";
        if (strcmp(type, want)) {
            say("%s: expected %s first, got: %.300s", who(c), want, (const char *)p);
            err.protocol++;
            return 0;
        }
        if (c->state == ST_WELCOME) c->state = ST_QUEUES;
        else setup_done(c);
        return 0;
    }
    int has_id = json_str(p, n, "conversation_id", id, sizeof id) && strlen(id) == ID_LEN;
    if (!strcmp(type, "offer")) {
        conn_t *cu = has_id ? conv_find(id) : NULL;
        if (!cu) {
            frame_error(c, &err.unknown_offers, p, n);
            return 0;
        }
        if (cu->t_offer) {
            frame_error(c, &err.dup_offers, p, n);
            return 0;
        }
        cu->t_offer = t;
        cu->offered_to = c->idx;
        n_offers++;
        return send_json(c, "{\"type\":\"accept\",\"conversation_id\":\"%s\",\"ref\":\"a%d\"}", id, cu->idx);
    }
    if (!strcmp(type, "assigned")) {
        if (has_id) return send_json(c, "{\"type\":\"close\",\"conversation_id\":\"%s\",\"ref\":\"c\"}", id);
        frame_error(c, &err.protocol, p, n);
        return 0;
    }
    if (!strcmp(type, "released")) {
        conn_t *cu = has_id ? conv_find(id) : NULL;
        if (cu && !cu->released) {
            cu->released = 1;
            n_released++;
            settle(cu, 0);
        }
        return 0;
    }
    if (!strcmp(type, "offer_withdrawn")) frame_error(c, &err.withdrawn, p, n);
    else if (!strcmp(type, "error")) frame_error(c, &err.agent_errors, p, n);
    /* queues, transcript, message, ok, pong, status: nothing to do */
    return 0;
}

static int on_customer_text(conn_t *c, const unsigned char *p, size_t n) {
    uint64_t t = now_ns();
    char type[32];
    if (!json_str(p, n, "type", type, sizeof type)) {
        frame_error(c, &err.protocol, p, n);
        return 0;
    }
    if (!strcmp(type, "welcome")) {
        if (c->state != ST_WELCOME || !json_str(p, n, "conversation_id", c->conv, sizeof c->conv) ||
            strlen(c->conv) != ID_LEN || conv_insert(c->idx) < 0) {
            frame_error(c, &err.protocol, p, n);
            return 0;
        }
        setup_done(c);
    } else if (!strcmp(type, "ack")) {
        char cmid[32], want[32];
        snprintf(want, sizeof want, "h%d", c->idx - opt.agents);
        if (c->state != ST_SENT || c->t_ack || !json_str(p, n, "client_msg_id", cmid, sizeof cmid) || strcmp(cmid, want)) {
            frame_error(c, &err.protocol, p, n);
            return 0;
        }
        c->t_ack = t;
        n_acks++;
        settle(c, 0);
    } else if (!strcmp(type, "handoff")) {
        c->handoff_frame = 1;
    } else if (!strcmp(type, "error")) {
        frame_error(c, &err.customer_errors, p, n);
        settle(c, 1);
    } else if (!strcmp(type, "ended") && !c->t_offer) {
        /* before any agent had it: expired or evicted (kefu's --session-max, --session-ttl) */
        frame_error(c, &err.ended_early, p, n);
        settle(c, 1);
    }
    /* message (greeting, queue position, agent joined, rating prompt), queue, ended after the
     * agent's close: nothing to do */
    return 0;
}

static int on_text(conn_t *c, const unsigned char *p, size_t n) {
    return c->kind == AGENT ? on_agent_text(c, p, n) : on_customer_text(c, p, n);
}

/* Every complete frame in rbuf; -1 when the connection was closed. */
static int parse_frames(conn_t *c) {
    size_t off = 0;
    for (;;) {
        wsp_frame_t f;
        int got = wsp_frame_parse(c->rbuf + off, c->rlen - off, MAX_FRAME, &f);
        if (got == 0) break;
        if (got < 0) {
            err.protocol++;
            conn_close(c, "a masked or oversized frame from the server");
            return -1;
        }
        off += f.size;
        int rc = 0;
        switch (f.op) {
        case 0x0:
        case 0x1:
        case 0x2:
            if (!f.fin || c->fraglen) {
                if (c->fraglen + f.len > c->fragcap) c->frag = xrealloc(c->frag, c->fragcap = (c->fraglen + f.len) * 2);
                memcpy(c->frag + c->fraglen, f.payload, (size_t)f.len);
                c->fraglen += (size_t)f.len;
                if (f.fin) {
                    rc = on_text(c, c->frag, c->fraglen);
                    c->fraglen = 0;
                }
            } else if (f.op == 0x1) {
                rc = on_text(c, f.payload, (size_t)f.len);
            }
            break;
        case 0x8: { /* close: answer, then drop */
            char why[160];
            unsigned code = f.len >= 2 ? (unsigned)f.payload[0] << 8 | f.payload[1] : 0;
            snprintf(why, sizeof why, "closed by the server: %u %.*s", code, (int)(f.len > 2 ? f.len - 2 : 0),
                     (const char *)f.payload + 2);
            out_frame(c, 8, f.payload, f.len >= 2 ? 2 : 0);
            flush_out(c);
            conn_close(c, why);
            return -1;
        }
        case 0x9:
            out_frame(c, 0xA, f.payload, (size_t)f.len);
            rc = flush_out(c);
            break;
        default: break;
        }
        if (rc < 0 || c->fd < 0) return -1;
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
            conn_close(c, strerror(errno));
            return;
        }
        if (r == 0) {
            conn_close(c, "EOF");
            return;
        }
        c->rlen += (size_t)r;
        if (c->state == ST_HANDSHAKE) {
            long used = wsp_handshake_check(c->rbuf, c->rlen, MAX_HANDSHAKE, c->key);
            if (used == 0) continue;
            if (used < 0) {
                err.handshake++;
                if (err.handshake <= 3)
                    say("%s: bad upgrade answer: %.*s", who(c), (int)(c->rlen > 400 ? 400 : c->rlen), (char *)c->rbuf);
                conn_close(c, "bad upgrade answer");
                return;
            }
            memmove(c->rbuf, c->rbuf + used, c->rlen - (size_t)used);
            c->rlen -= (size_t)used;
            c->state = ST_WELCOME;
            if (c->kind == CUSTOMER) {
                int i = c->idx - opt.agents;
                if (send_json(c,
                              "{\"type\":\"hello\",\"profile\":{\"user_id\":\"hb-u%d\",\"name\":\"Bench %d\","
                              "\"vip_tier\":0,\"language\":\"%s\"}}",
                              i, i, opt.language) < 0)
                    return;
            }
        }
        if (parse_frames(c) < 0) return;
    }
}

static void on_writable(conn_t *c) {
    if (c->state == ST_CONNECTING) {
        int e = 0;
        socklen_t el = sizeof e;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el);
        if (e) {
            err.connect++;
            conn_close(c, strerror(e));
            return;
        }
        send_handshake(c);
        return;
    }
    flush_out(c);
}

static void poll_once(int timeout_ms) {
    struct epoll_event evs[256];
    int n = epoll_wait(ep, evs, 256, timeout_ms);
    for (int i = 0; i < n; i++) {
        conn_t *c = &C[evs[i].data.u32];
        if (c->fd < 0) continue;
        if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(c);
        if (c->fd >= 0 && c->state != ST_CONNECTING && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
            on_readable(c);
    }
}

/* Opens C[from, to), at most --batch in setup at once, until every one is ready (welcome,
 * and for agents the queues frame) or deadline; the number not ready. */
static int open_range(int from, int to, uint64_t deadline) {
    int next = from;
    while (!stop_sig) {
        while (next < to && n_pending_setup < opt.batch) conn_start(&C[next++]);
        int ready = 0;
        for (int i = from; i < to; i++) ready += C[i].state >= ST_READY && C[i].fd >= 0;
        if (ready == to - from) return 0;
        if (next == to && n_pending_setup == 0) return to - from - ready; /* the rest failed */
        if (now_ns() > deadline) return to - from - ready;
        poll_once(10);
    }
    return to - from;
}

static void close_all(void) {
    static const unsigned char bye[] = {0x03, 0xe8}; /* 1000 */
    phase_closing = 1;
    for (int i = 0; i < opt.agents + opt.customers; i++) {
        conn_t *c = &C[i];
        if (c->fd < 0) continue;
        out_frame(c, 8, bye, 2);
        flush_out(c);
        conn_close(c, "done");
    }
}

/* ---- statistics ---- */

/* utime + stime of --server-pid in seconds (all its threads), or -1. */
static double server_cpu_s(void) {
    if (!opt.server_pid) return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", opt.server_pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* {"p50":..,"p90":..,"p99":..,"max":..,"mean":..} in ms of v[0..n) (ns), sorted in place. */
static void print_dist(const char *name, uint64_t *v, size_t n) {
    double q[4] = {0, 0, 0, 0}, mean = 0;
    if (n) {
        qsort(v, n, sizeof *v, cmp_u64);
        static const double ps[3] = {50, 90, 99};
        for (int k = 0; k < 3; k++) {
            size_t i = (size_t)(ps[k] / 100.0 * (double)n);
            q[k] = (double)v[i >= n ? n - 1 : i] / 1e6;
        }
        q[3] = (double)v[n - 1] / 1e6;
        for (size_t i = 0; i < n; i++) mean += (double)v[i] / 1e6;
        mean /= (double)n;
    }
    printf("\"%s\":{\"n\":%zu,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f,\"mean\":%.3f}", name, n, q[0], q[1],
           q[2], q[3], mean);
}

static uint64_t errors_total(void) {
    return err.agent_errors + err.customer_errors + err.ended_early + err.withdrawn + err.unknown_offers + err.dup_offers +
           err.disconnects + err.protocol + err.handshake + err.connect;
}

/* ---- the measured run ---- */

typedef struct {
    uint64_t start, t_login, t_agents, t_customers; /* setup */
    uint64_t t_first, t_last_sent, t_end;
    double cpu0, cpu1; /* --server-pid's CPU seconds at t_first and t_end */
    int sent, late;
} run_t;

/* Sends the handoffs, one every interval_ns, and serves the frames until every one finished,
 * one went unanswered past --offer-timeout, or deadline; NULL when all finished. */
static const char *run_handoffs(run_t *r, uint64_t interval_ns, uint64_t deadline) {
    int scan = 0; /* customers before it are finished: the timeout scan starts here */
    r->cpu0 = server_cpu_s();
    r->t_first = r->t_last_sent = now_ns();
    uint64_t next = r->t_first;
    const char *why = NULL;
    while (!stop_sig && !why) {
        uint64_t t = now_ns();
        while (r->sent < opt.customers && t >= next) {
            conn_t *c = &C[opt.agents + r->sent++];
            if (c->fd >= 0) send_handoff(c);
            next += interval_ns;
            t = r->t_last_sent = now_ns();
        }
        if (r->sent == opt.customers && n_finished == opt.customers) break;
        if (t > deadline) why = "the --timeout passed";
        while (scan < r->sent && C[opt.agents + scan].finished) scan++;
        for (int i = scan; i < r->sent && !why; i++) { /* a bounded wait per handoff */
            conn_t *c = &C[opt.agents + i];
            if (c->finished || !c->t0 || t - c->t0 <= offer_timeout_ns) continue;
            r->late++;
            say("customer %d (conversation %s): no %s %.1f s after the handoff (customer's handoff frame %s, ack %s, "
                "offer %s, released %s)",
                i, c->conv, !c->t_offer ? "offer" : !c->t_ack ? "ack" : "release", opt.offer_timeout,
                c->handoff_frame ? "seen" : "not seen", c->t_ack ? "seen" : "not seen", c->t_offer ? "seen" : "not seen",
                c->released ? "seen" : "not seen");
            why = "a handoff went unanswered past --offer-timeout";
        }
        if (why) break;
        int wait_ms = 10;
        if (r->sent < opt.customers) {
            uint64_t t2 = now_ns();
            wait_ms = next > t2 ? (int)((next - t2 + 999999) / 1000000) : 0;
        }
        poll_once(wait_ms);
    }
    r->t_end = now_ns();
    r->cpu1 = server_cpu_s();
    return why;
}

/* The JSON line. */
static void report(const run_t *r) {
    uint64_t *offer = calloc((size_t)opt.customers + 1, sizeof *offer), *ack = calloc((size_t)opt.customers + 1, sizeof *ack);
    int *per_agent = calloc((size_t)opt.agents, sizeof *per_agent);
    if (!offer || !ack || !per_agent) die("out of memory");
    size_t n_o = 0, n_a = 0, offer_first = 0;
    for (int i = 0; i < opt.customers; i++) {
        const conn_t *c = &C[opt.agents + i];
        if (c->t0 && c->t_offer) offer[n_o++] = c->t_offer - c->t0;
        if (c->t0 && c->t_ack) ack[n_a++] = c->t_ack - c->t0;
        if (c->offered_to >= 0) per_agent[c->offered_to]++;
        offer_first += c->t_offer && c->t_ack && c->t_offer < c->t_ack;
    }
    double secs = (double)(r->t_end - r->t_first) / 1e9, send_secs = (double)(r->t_last_sent - r->t_first) / 1e9;
    printf("{\"mode\":\"handoff\",\"url\":\"http://%s\",\"agents\":%d,\"customers\":%d,\"interval_ms\":%g,"
           "\"handoffs\":%d,\"offers\":%d,\"acks\":%d,\"released\":%d,\"offer_before_ack\":%zu,\"seconds\":%.3f,"
           "\"handoffs_per_s\":%.1f,",
           opt.hostport, opt.agents, opt.customers, opt.interval_ms, r->sent, n_offers, n_acks, n_released, offer_first,
           secs, send_secs > 0 ? (double)(r->sent - 1) / send_secs : 0.0);
    print_dist("offer_ms", offer, n_o);
    putchar(',');
    print_dist("ack_ms", ack, n_a);
    printf(",\"offers_per_agent\":[");
    for (int i = 0; i < opt.agents; i++) printf("%s%d", i ? "," : "", per_agent[i]);
    printf("],");
    if (r->cpu0 >= 0 && r->cpu1 >= 0)
        printf("\"server_cpu_s\":%.2f,\"server_cpu_us_per_handoff\":%.0f,", r->cpu1 - r->cpu0,
               r->sent ? (r->cpu1 - r->cpu0) * 1e6 / r->sent : 0.0);
    printf("\"setup_s\":{\"login\":%.3f,\"consoles\":%.3f,\"customers\":%.3f},", (double)(r->t_login - r->start) / 1e9,
           (double)(r->t_agents - r->t_login) / 1e9, (double)(r->t_customers - r->t_agents) / 1e9);
    printf("\"errors\":%llu,\"error_detail\":{\"agent_error_frames\":%llu,\"customer_error_frames\":%llu,"
           "\"ended_early\":%llu,\"offers_withdrawn\":%llu,\"unknown_offers\":%llu,\"duplicate_offers\":%llu,"
           "\"disconnects\":%llu,\"protocol\":%llu,\"upgrade\":%llu,\"connect\":%llu,\"unanswered\":%d}}\n",
           (unsigned long long)(errors_total() + (uint64_t)r->late), (unsigned long long)err.agent_errors,
           (unsigned long long)err.customer_errors, (unsigned long long)err.ended_early,
           (unsigned long long)err.withdrawn, (unsigned long long)err.unknown_offers,
           (unsigned long long)err.dup_offers, (unsigned long long)err.disconnects, (unsigned long long)err.protocol,
           (unsigned long long)err.handshake, (unsigned long long)err.connect, r->late);
    free(offer);
    free(ack);
    free(per_agent);
}

/* ---- options ---- */

static void usage(int status) {
    fprintf(status ? stderr : stdout,
            "usage: handoff_bench --url http://HOST:PORT --password PW [--agents K] [--agent-prefix P]\n"
            "                     [--customers N] [--batch B] [--interval-ms MS | --rate PER_S]\n"
            "                     [--offer-timeout S] [--timeout S] [--text T] [--language en|zh]\n"
            "                     [--server-pid PID]   (kefu's CPU time over the handoffs, from /proc)\n"
            "  agents P1..PK must exist (kefu agent add) with password PW (also $HANDOFF_PASSWORD)\n");
    exit(status);
}

static double num_arg(const char *name, const char *v, double lo, double hi) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || d < lo || d > hi) {
        fprintf(stderr, "handoff_bench: --%s: bad value '%s' (%g..%g)\n", name, v, lo, hi);
        exit(2);
    }
    return d;
}

static void parse_url(const char *url) {
    const char *h = !strncmp(url, "http://", 7) ? url + 7 : !strncmp(url, "ws://", 5) ? url + 5 : NULL;
    if (!h) {
        fprintf(stderr, "handoff_bench: --url must be http://HOST:PORT\n");
        exit(2);
    }
    size_t hl = strcspn(h, "/");
    if (hl == 0 || hl >= sizeof opt.hostport) usage(2);
    memcpy(opt.hostport, h, hl);
    opt.hostport[hl] = 0;
    char *colon = strrchr(opt.hostport, ':');
    if (colon) {
        opt.port = (int)num_arg("url port", colon + 1, 1, 65535);
        snprintf(opt.host, sizeof opt.host, "%.*s", (int)(colon - opt.hostport), opt.hostport);
    } else {
        opt.port = 80;
        snprintf(opt.host, sizeof opt.host, "%s", opt.hostport);
    }
}

static void raise_nofile(int need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return;
    rlim_t want = (rlim_t)need + 64;
    if (rl.rlim_cur >= want) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < want) die("%d connections need %llu open files; the limit is %llu", need,
                                (unsigned long long)want, (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv) {
    static const struct option longs[] = {
        {"url", required_argument, 0, 'u'},          {"password", required_argument, 0, 'p'},
        {"agents", required_argument, 0, 'k'},       {"agent-prefix", required_argument, 0, 'P'},
        {"customers", required_argument, 0, 'n'},    {"batch", required_argument, 0, 'b'},
        {"interval-ms", required_argument, 0, 'i'},  {"rate", required_argument, 0, 'R'},
        {"offer-timeout", required_argument, 0, 'o'}, {"timeout", required_argument, 0, 'T'},
        {"text", required_argument, 0, 't'},         {"language", required_argument, 0, 'l'},
        {"server-pid", required_argument, 0, 's'},
        {"help", no_argument, 0, 'h'},               {0, 0, 0, 0},
    };
    const char *url = NULL;
    opt.password = getenv("HANDOFF_PASSWORD");
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'u': url = optarg; break;
        case 'p': opt.password = optarg; break;
        case 'k': opt.agents = (int)num_arg("agents", optarg, 1, 1000); break;
        case 'P': opt.prefix = optarg; break;
        case 'n': opt.customers = (int)num_arg("customers", optarg, 1, 1000000); break;
        case 'b': opt.batch = (int)num_arg("batch", optarg, 1, 100000); break;
        case 'i': opt.interval_ms = num_arg("interval-ms", optarg, 0, 60000); break;
        case 'R': opt.interval_ms = 1000.0 / num_arg("rate", optarg, 0.01, 1e6); break;
        case 'o': opt.offer_timeout = num_arg("offer-timeout", optarg, 0.1, 3600); break;
        case 'T': opt.timeout = num_arg("timeout", optarg, 1, 86400); break;
        case 't': opt.text = optarg; break;
        case 'l': opt.language = optarg; break;
        case 's': opt.server_pid = (int)num_arg("server-pid", optarg, 1, 1e9); break;
        case 'h': usage(0); break;
        default: usage(2);
        }
    }
    if (!url || optind != argc) usage(2);
    if (!opt.password || !*opt.password) {
        fprintf(stderr, "handoff_bench: give the agents' password (--password or $HANDOFF_PASSWORD)\n");
        exit(2);
    }
    if (strcmp(opt.language, "en") && strcmp(opt.language, "zh")) usage(2);
    if (strlen(opt.prefix) > 24) usage(2);
    parse_url(url);
    resolve();
    rng ^= now_ns() ^ ((uint64_t)getpid() << 32);
    offer_timeout_ns = (uint64_t)(opt.offer_timeout * 1e9);

    int total = opt.agents + opt.customers;
    raise_nofile(total);
    C = calloc((size_t)total, sizeof *C);
    size_t cap = 16;
    while (cap < (size_t)opt.customers * 2) cap *= 2;
    slots = malloc(cap * sizeof *slots);
    if (!C || !slots) die("out of memory");
    slot_mask = cap - 1;
    for (size_t i = 0; i < cap; i++) slots[i] = -1;
    for (int i = 0; i < total; i++) {
        C[i].idx = i;
        C[i].fd = -1;
        C[i].state = ST_CLOSED;
        C[i].kind = i < opt.agents ? AGENT : CUSTOMER;
        C[i].offered_to = -1;
        if (i < opt.agents) snprintf(C[i].agent_id, sizeof C[i].agent_id, "%s%d", opt.prefix, i + 1);
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1: %s", strerror(errno));
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    uint64_t start = now_ns(), deadline = start + (uint64_t)(opt.timeout * 1e9);

    /* 1. agents: log in, open the consoles, welcome + queues */
    for (int i = 0; i < opt.agents; i++) login(&C[i]);
    uint64_t t_login = now_ns();
    int missing = open_range(0, opt.agents, deadline);
    if (missing) die("%d of %d agent consoles did not come up (welcome, then queues) on /v1/agents/ws", missing, opt.agents);
    uint64_t t_agents = now_ns();
    /* 2. customers: hello → welcome */
    missing = open_range(opt.agents, total, deadline);
    if (missing)
        die("%d of %d customers did not get their welcome on /v1/ws (errors: connect %llu, upgrade %llu, lost %llu)",
            missing, opt.customers, (unsigned long long)err.connect, (unsigned long long)err.handshake,
            (unsigned long long)err.disconnects);
    uint64_t t_customers = now_ns();
    say("%d agents logged in in %.2f s, consoles up in %.2f s; %d customers up in %.2f s", opt.agents,
        (double)(t_login - start) / 1e9, (double)(t_agents - t_login) / 1e9, opt.customers,
        (double)(t_customers - t_agents) / 1e9);

    /* 3. paced handoffs; agents accept and close as offers come */
    run_t r = {.start = start, .t_login = t_login, .t_agents = t_agents, .t_customers = t_customers};
    const char *why = run_handoffs(&r, (uint64_t)(opt.interval_ms * 1e6), deadline);
    if (stop_sig && !why) why = "interrupted";
    if (!why && errors_total()) why = "protocol errors (above)";
    if (!why && n_finished < opt.customers) why = "not every handoff finished";
    /* 4. results */
    close_all();
    report(&r);
    fflush(stdout);
    if (why) {
        say("FAILED: %s — %d handoffs sent, %d offers, %d acks, %d released of %d", why, r.sent, n_offers, n_acks,
            n_released, opt.customers);
        return 1;
    }
    return 0;
}
