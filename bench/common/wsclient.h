/* wsclient.h — the WebSocket client connections of the bench tools (bench/wsload,
 * bench/handoff), on one single-threaded epoll loop: the non-blocking connect, the HTTP/1.1
 * upgrade (Sec-WebSocket-Accept checked, wsproto.h), masked frames out with a write buffer
 * that waits for EPOLLOUT, server frames in (fragments joined, ping → pong, close answered),
 * the ramp of connections in setup, and the close of them all.
 *
 * Each tool's connection struct starts with a wsc_conn_t and is kept in one array handed to
 * wsc_init; what a connection means (hello, welcome, turns, offers) stays in the tool, which
 * gets the events through wsc_ops_t.  state: below WSC_OPEN while connecting or upgrading,
 * then the tool's own states (its enum starts at WSC_OPEN), WSC_CLOSED once the socket is
 * closed. */
#ifndef KEFU_BENCH_WSCLIENT_H
#define KEFU_BENCH_WSCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "wsproto.h"

enum { WSC_CLOSED = -1, WSC_CONNECTING, WSC_UPGRADING, WSC_OPEN };

typedef struct {
    int fd, idx, state;
    int want_out, up;             /* EPOLLOUT asked for; wsc_ready was called (setup is over) */
    char key[WSP_KEY_LEN + 1];
    unsigned char *rbuf, *wbuf, *frag; /* unread input; output the socket did not take yet; a
                                        * fragmented message being joined */
    size_t rlen, rcap, wlen, woff, wcap, fraglen, fragcap;
} wsc_conn_t;

/* Why a connection was closed (wsc_ops_t.on_close). */
typedef enum {
    WSC_CONNECT_FAILED, /* socket() or connect() */
    WSC_UPGRADE_FAILED, /* not a 101 with the right Sec-WebSocket-Accept: the answer is still in rbuf */
    WSC_PROTOCOL,       /* a masked or oversized frame from the server */
    WSC_LOST,           /* a read or write error, or EOF */
    WSC_SERVER_CLOSE,   /* the server's close frame (answered) */
    WSC_DONE,           /* wsc_close_all */
} wsc_close_t;

typedef struct {
    /* The upgrade request of c: its path, and header lines to add ("Name: value\r\n" each,
     * "" for none) into extra. */
    const char *(*upgrade)(wsc_conn_t *c, char *extra, size_t extra_size);
    /* The 101 arrived (state is WSC_OPEN); -1 when c was closed meanwhile. */
    int (*on_open)(wsc_conn_t *c);
    /* One complete text message; -1 when c was closed meanwhile. */
    int (*on_text)(wsc_conn_t *c, const unsigned char *p, size_t n);
    /* c is being closed (before the socket is; why says it in words). */
    void (*on_close)(wsc_conn_t *c, wsc_close_t kind, const char *why);
    /* A data frame began while a fragmented one was unfinished (the connection goes on). */
    void (*on_protocol_error)(wsc_conn_t *c);
} wsc_ops_t;

/* conns: n structs of size bytes each, a wsc_conn_t first; all start closed. The server is
 * host:port, hostport goes in the Host header (resolved here, exits when it cannot be). */
void wsc_init(void *conns, size_t size, int n, const wsc_ops_t *ops, const char *host, int port,
              const char *hostport, size_t max_frame);
wsc_conn_t *wsc_at(int i);

/* Connects c; its setup lasts until wsc_ready or its close. */
void wsc_start(wsc_conn_t *c);
void wsc_ready(wsc_conn_t *c);
int wsc_pending(void); /* connections in setup */
int wsc_up(void);      /* connections set up and still open */

/* A blocking socket connected to the server (plain HTTP on the side), with send and receive
 * timeouts of timeout_s when > 0; -1 with errno when it cannot be. */
int wsc_dial(int timeout_s);

/* Queues one masked frame; wsc_flush writes what is queued (-1 when c was closed). */
void wsc_frame(wsc_conn_t *c, int opcode, const void *payload, size_t n);
int wsc_flush(wsc_conn_t *c);
int wsc_send_text(wsc_conn_t *c, const void *s, size_t n);

/* Waits at most timeout_ms for events and handles them. */
void wsc_poll(int timeout_ms);
/* Starts wsc_at(from..to), at most ramp of them in setup at once, until each one is set up or
 * failed, or deadline (bench_now_ns) passed, or a signal came; how many of them are up. */
int wsc_open_range(int from, int to, int ramp, uint64_t deadline);
/* Every open connection: a close frame (1000) when upgraded, then closed (WSC_DONE). */
void wsc_close_all(void);

#endif
