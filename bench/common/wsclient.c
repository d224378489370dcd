/* wsclient.c — see wsclient.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wsclient.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "stats.h"
#include "util.h"

#define MAX_HANDSHAKE 8192

static struct {
    char *conns;
    size_t size;
    int n;
    const wsc_ops_t *ops;
    const char *hostport;
    uint64_t max_frame;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int ep;
    int pending, up;
} W;

static void resolve(const char *host, int port) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc) bench_die("cannot resolve %s: %s", host, gai_strerror(rc));
    memcpy(&W.addr, res->ai_addr, res->ai_addrlen);
    W.addr_len = res->ai_addrlen;
    freeaddrinfo(res);
}

void wsc_init(void *conns, size_t size, int n, const wsc_ops_t *ops, const char *host, int port,
              const char *hostport, size_t max_frame) {
    W.conns = conns;
    W.size = size;
    W.n = n;
    W.ops = ops;
    W.hostport = hostport;
    W.max_frame = max_frame;
    resolve(host, port);
    for (int i = 0; i < n; i++) {
        wsc_conn_t *c = wsc_at(i);
        c->idx = i;
        c->fd = -1;
        c->state = WSC_CLOSED;
    }
    W.ep = epoll_create1(EPOLL_CLOEXEC);
    if (W.ep < 0) bench_die("epoll_create1: %s", strerror(errno));
}

wsc_conn_t *wsc_at(int i) { return (wsc_conn_t *)(W.conns + (size_t)i * W.size); }

int wsc_pending(void) { return W.pending; }
int wsc_up(void) { return W.up; }

static void conn_close(wsc_conn_t *c, wsc_close_t kind, const char *why) {
    if (c->fd < 0) return;
    W.ops->on_close(c, kind, why);
    if (c->up) W.up--;
    else W.pending--;
    epoll_ctl(W.ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = WSC_CLOSED;
    c->up = 0;
    c->rlen = c->wlen = c->woff = c->fraglen = 0;
}

void wsc_ready(wsc_conn_t *c) {
    if (c->up) return;
    c->up = 1;
    W.pending--;
    W.up++;
}

/* ---- output: masked frames ---- */

static void out_append(wsc_conn_t *c, const void *p, size_t n) {
    if (c->wlen + n > c->wcap) c->wbuf = bench_xrealloc(c->wbuf, c->wcap = (c->wlen + n) * 2 + 256);
    if (p) memcpy(c->wbuf + c->wlen, p, n);
    c->wlen += n;
}

void wsc_frame(wsc_conn_t *c, int opcode, const void *payload, size_t n) {
    unsigned char h[WSP_HEADER_MAX];
    uint32_t m = (uint32_t)bench_xrand();
    unsigned char mask[4] = {(unsigned char)m, (unsigned char)(m >> 8), (unsigned char)(m >> 16),
                             (unsigned char)(m >> 24)};
    out_append(c, h, wsp_client_header(h, opcode, n, mask));
    out_append(c, NULL, n);
    wsp_mask(c->wbuf + c->wlen - n, payload, n, mask);
}

static void set_want_out(wsc_conn_t *c, int want) {
    if (c->want_out == want || c->fd < 0) return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(W.ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
}

int wsc_flush(wsc_conn_t *c) {
    while (c->woff < c->wlen) {
        ssize_t w = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                set_want_out(c, 1);
                return 0;
            }
            conn_close(c, WSC_LOST, strerror(errno));
            return -1;
        }
        c->woff += (size_t)w;
    }
    c->woff = c->wlen = 0;
    set_want_out(c, 0);
    return 0;
}

int wsc_send_text(wsc_conn_t *c, const void *s, size_t n) {
    wsc_frame(c, 1, s, n);
    return wsc_flush(c);
}

/* ---- connection set-up ---- */

void wsc_start(wsc_conn_t *c) {
    W.pending++;
    c->up = 0;
    c->fd = socket(W.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->state = WSC_CLOSED;
        W.ops->on_close(c, WSC_CONNECT_FAILED, strerror(errno));
        W.pending--;
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->state = WSC_CONNECTING;
    c->want_out = 1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(W.ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) bench_die("epoll_ctl: %s", strerror(errno));
    if (connect(c->fd, (struct sockaddr *)&W.addr, W.addr_len) < 0 && errno != EINPROGRESS)
        conn_close(c, WSC_CONNECT_FAILED, strerror(errno));
}

int wsc_dial(int timeout_s) {
    int fd = socket(W.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (timeout_s > 0) {
        struct timeval tv = {.tv_sec = timeout_s};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    if (connect(fd, (struct sockaddr *)&W.addr, W.addr_len) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void send_upgrade(wsc_conn_t *c) {
    unsigned char raw[16];
    for (int i = 0; i < 16; i += 8) {
        uint64_t r = bench_xrand();
        memcpy(raw + i, &r, 8);
    }
    wsp_key(raw, c->key);
    char req[1024], extra[512] = "";
    const char *path = W.ops->upgrade(c, extra, sizeof extra);
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                     path, W.hostport, c->key, extra);
    if (n < 0 || (size_t)n >= sizeof req) bench_die("upgrade request too long");
    out_append(c, req, (size_t)n);
    c->state = WSC_UPGRADING;
    wsc_flush(c);
}

/* ---- input: server frames ---- */

/* Every complete frame in rbuf; -1 when the connection was closed. */
static int parse_frames(wsc_conn_t *c) {
    size_t off = 0;
    for (;;) {
        wsp_frame_t f;
        int got = wsp_frame_parse(c->rbuf + off, c->rlen - off, W.max_frame, &f);
        if (got == 0) break;
        if (got < 0) {
            conn_close(c, WSC_PROTOCOL, "a masked or oversized frame from the server");
            return -1;
        }
        off += f.size;
        int rc = 0;
        switch (f.op) {
        case 0x0: /* continuation */
        case 0x1:
        case 0x2:
            if (f.op != 0 && c->fraglen && W.ops->on_protocol_error) W.ops->on_protocol_error(c);
            if (!f.fin || c->fraglen) {
                if (c->fraglen + f.len > c->fragcap)
                    c->frag = bench_xrealloc(c->frag, c->fragcap = (c->fraglen + f.len) * 2);
                memcpy(c->frag + c->fraglen, f.payload, (size_t)f.len);
                c->fraglen += (size_t)f.len;
                if (f.fin) {
                    rc = W.ops->on_text(c, c->frag, c->fraglen);
                    c->fraglen = 0;
                }
            } else if (f.op == 0x1) {
                rc = W.ops->on_text(c, f.payload, (size_t)f.len);
            }
            break;
        case 0x8: { /* close: answer, then drop */
            char why[160];
            unsigned code = f.len >= 2 ? (unsigned)f.payload[0] << 8 | f.payload[1] : 0;
            snprintf(why, sizeof why, "closed by the server: %u %.*s", code, (int)(f.len > 2 ? f.len - 2 : 0),
                     (const char *)f.payload + 2);
            wsc_frame(c, 8, f.payload, f.len >= 2 ? 2 : 0);
            wsc_flush(c);
            conn_close(c, WSC_SERVER_CLOSE, why);
            return -1;
        }
        case 0x9: /* ping → pong with the same payload */
            wsc_frame(c, 0xA, f.payload, (size_t)f.len);
            rc = wsc_flush(c);
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

static void on_readable(wsc_conn_t *c) {
    for (;;) {
        if (c->rcap - c->rlen < 4096) c->rbuf = bench_xrealloc(c->rbuf, c->rcap = c->rcap ? c->rcap * 2 : 8192);
        ssize_t r = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            conn_close(c, WSC_LOST, strerror(errno));
            return;
        }
        if (r == 0) {
            conn_close(c, WSC_LOST, "EOF");
            return;
        }
        c->rlen += (size_t)r;
        if (c->state == WSC_UPGRADING) {
            long used = wsp_handshake_check(c->rbuf, c->rlen, MAX_HANDSHAKE, c->key);
            if (used == 0) continue;
            if (used < 0) {
                conn_close(c, WSC_UPGRADE_FAILED, "bad upgrade answer");
                return;
            }
            memmove(c->rbuf, c->rbuf + used, c->rlen - (size_t)used);
            c->rlen -= (size_t)used;
            c->state = WSC_OPEN;
            if (W.ops->on_open(c) < 0 || c->fd < 0) return;
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

static void on_writable(wsc_conn_t *c) {
    if (c->state == WSC_CONNECTING) {
        int e = 0;
        socklen_t el = sizeof e;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el);
        if (e) {
            conn_close(c, WSC_CONNECT_FAILED, strerror(e));
            return;
        }
        send_upgrade(c);
        return;
    }
    wsc_flush(c);
}

/* ---- the loop ---- */

void wsc_poll(int timeout_ms) {
    struct epoll_event evs[512];
    int n = epoll_wait(W.ep, evs, 512, timeout_ms);
    for (int i = 0; i < n; i++) {
        wsc_conn_t *c = evs[i].data.ptr;
        if (c->fd < 0) continue;
        if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(c);
        if (c->fd >= 0 && c->state != WSC_CONNECTING && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
            on_readable(c);
    }
}

int wsc_open_range(int from, int to, int ramp, uint64_t deadline) {
    int next = from;
    while (!bench_stop_sig) {
        while (next < to && W.pending < ramp) wsc_start(wsc_at(next++));
        if (next == to && W.pending == 0) break;
        if (bench_now_ns() > deadline) break;
        wsc_poll(10);
    }
    int up = 0;
    for (int i = from; i < to; i++) up += wsc_at(i)->up;
    return up;
}

void wsc_close_all(void) {
    static const unsigned char bye[] = {0x03, 0xe8}; /* 1000 */
    for (int i = 0; i < W.n; i++) {
        wsc_conn_t *c = wsc_at(i);
        if (c->fd < 0) continue;
        if (c->state >= WSC_OPEN) {
            wsc_frame(c, 8, bye, 2);
            wsc_flush(c);
        }
        conn_close(c, WSC_DONE, "done");
    }
}
