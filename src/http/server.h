/* server.h — the HTTP server: listeners, worker threads, lifecycle.
 *
 * kf_http_serve() starts one event loop per thread, each with its own
 * SO_REUSEPORT listener, h2o context and metrics shard, dispatches every
 * request to the router, and returns after a graceful drain on SIGTERM/SIGINT.
 * SIGHUP runs the registered reload hook on the main thread. */
#ifndef KF_HTTP_SERVER_H
#define KF_HTTP_SERVER_H

#include <pthread.h>
#include <stddef.h>

#include <h2o.h>

#include "loop/loop.h"
#include "obs/metrics.h"

typedef struct kf_http_config {
    const char *host;
    int port;
    int threads;
    size_t max_body;        /* default limit for JSON bodies */
    size_t max_header;      /* total request header bytes */
    int max_connections;    /* across all threads */
    int idle_timeout_s;     /* keep-alive idle and slow-client request timeout */
    int drain_timeout_s;    /* graceful shutdown bound */
    const char *tls_cert, *tls_key;
} kf_http_config_t;

struct kf_http_thread {
    size_t idx;
    kf_loop_t *loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    kf_metrics_shard_t *metrics;
    h2o_linklist_t websockets; /* kf_ws_t.link */
    kf_timer_t gauge_timer;
    uint64_t rng[2];
    int draining;
    pthread_t tid;
};

/* The thread serving the caller (NULL off the server's threads). */
struct kf_http_thread *kf_http_thread_current(void);
/* Recounts the thread's open HTTP/1 and HTTP/2 connections into its metrics
 * shard (a timer does this every second; a scrape does it for its own thread). */
void kf_http_thread_refresh_gauges(struct kf_http_thread *t);
/* Calls fn on every server thread's loop (e.g. to broadcast). */
void kf_http_each_thread(void (*fn)(struct kf_http_thread *t, void *ud), void *ud);

/* Runs on each server thread when a graceful shutdown begins (e.g. to close WebSockets). */
void kf_http_on_drain(void (*fn)(struct kf_http_thread *t));
/* Runs on the main thread when SIGHUP arrives. */
void kf_http_on_sighup(void (*fn)(void *ud), void *ud);

/* Blocks until shut down; returns 0 after a clean drain, 1 on a start-up error. */
int kf_http_serve(const kf_http_config_t *cfg);

/* 128 random bits as 32 lowercase hex digits + NUL, from the thread's generator. */
void kf_http_random_id(char out[33]);

#endif
