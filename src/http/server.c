/* server.c — listeners, worker threads and the server's lifecycle (see server.h).
 *
 * Every listener fd is bound on the main thread before any worker starts, so
 * `--port 0` yields one kernel-chosen port shared by all SO_REUSEPORT
 * listeners.  Signals are blocked in workers and taken synchronously by the
 * main thread with sigwait(): shutdown and reload run as ordinary code, not
 * in a signal handler, and reach the workers through their loops' queues. */
#include "http/server.h"
#include "http/request.h"
#include "http/ws.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <h2o/http1.h>

#include "http/router.h"
#include "obs/log.h"

#define MAX_HOOKS 8

typedef struct { void (*fn)(void *); void *ud; } hook_t;

static struct {
    kf_http_config_t cfg;
    h2o_globalconf_t globalconf;
    struct kf_http_thread *threads;
    size_t nthreads;
    int *listen_fds;
    SSL_CTX *ssl_ctx;
    _Atomic long conns;
    _Atomic long rejected;
    hook_t hup[MAX_HOOKS];
    size_t nhup;
    void (*drain[MAX_HOOKS])(struct kf_http_thread *);
    size_t ndrain;
    _Atomic uint64_t drain_deadline_ms;
    _Atomic size_t loops_ready; /* threads whose loop exists (thread_main makes it) */
} S;

static __thread struct kf_http_thread *current_thread;

struct kf_http_thread *kf_http_thread_current(void) { return current_thread; }

void kf_http_on_drain(void (*fn)(struct kf_http_thread *t)) {
    if (S.ndrain < MAX_HOOKS) S.drain[S.ndrain++] = fn;
}

void kf_http_on_sighup(void (*fn)(void *), void *ud) {
    if (S.nhup < MAX_HOOKS) S.hup[S.nhup++] = (hook_t){fn, ud};
}

/* ---- ids ---- */

static uint64_t xorshift(uint64_t s[2]) {
    uint64_t a = s[0], b = s[1];
    s[0] = b;
    a ^= a << 23;
    s[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
    return s[1] + b;
}

void kf_http_random_id(char out[33]) {
    static const char hex[] = "0123456789abcdef";
    uint64_t v[2];
    struct kf_http_thread *t = current_thread;
    if (t) {
        v[0] = xorshift(t->rng);
        v[1] = xorshift(t->rng);
    } else if (getrandom(v, sizeof v, 0) != sizeof v) {
        v[0] = (uint64_t)time(NULL);
        v[1] = (uint64_t)getpid();
    }
    for (int i = 0; i < 32; i++) out[i] = hex[(v[i / 16] >> ((i % 16) * 4)) & 15];
    out[32] = 0;
}

/* ---- connections ---- */

static long list_len(h2o_linklist_t *anchor) {
    long n = 0;
    for (h2o_linklist_t *l = anchor->next; l != anchor; l = l->next) n++;
    return n;
}

void kf_http_thread_refresh_gauges(struct kf_http_thread *t) {
    kf_metrics_conn_set(t->metrics, KF_CONN_HTTP1, list_len(&t->ctx.http1._conns));
    kf_metrics_conn_set(t->metrics, KF_CONN_HTTP2, list_len(&t->ctx.http2._conns));
}

static void on_gauge_timer(kf_timer_t *timer) {
    struct kf_http_thread *t = timer->data;
    kf_http_thread_refresh_gauges(t);
    kf_timer_start(t->loop, timer, 1000, on_gauge_timer);
}

static void on_conn_close(void *data) {
    (void)data;
    atomic_fetch_sub_explicit(&S.conns, 1, memory_order_relaxed);
}

static void on_accept(h2o_socket_t *listener, const char *err) {
    struct kf_http_thread *t = listener->data;
    if (err) return;
    for (int i = 0; i < 16; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (!sock) return;
        if (atomic_load_explicit(&S.conns, memory_order_relaxed) >= S.cfg.max_connections) {
            atomic_fetch_add_explicit(&S.rejected, 1, memory_order_relaxed);
            h2o_socket_close(sock);
            continue;
        }
        atomic_fetch_add_explicit(&S.conns, 1, memory_order_relaxed);
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = t;
        h2o_accept(&t->accept_ctx, sock);
    }
}

static void collect_server(kf_buf_t *out, void *ud) {
    (void)ud;
    kf_buf_printf(out,
                  "# HELP kefu_connections_rejected_total Connections closed at accept because --max-connections was reached.\n"
                  "# TYPE kefu_connections_rejected_total counter\nkefu_connections_rejected_total %ld\n"
                  "# HELP kefu_connections_max The --max-connections limit.\n"
                  "# TYPE kefu_connections_max gauge\nkefu_connections_max %d\n",
                  atomic_load(&S.rejected), S.cfg.max_connections);
}

/* ---- requests ---- */

static int on_req(h2o_handler_t *self, h2o_req_t *req) {
    (void)self;
    struct kf_http_thread *t = H2O_STRUCT_FROM_MEMBER(struct kf_http_thread, ctx, req->conn->ctx);
    kf_router_dispatch(t, req);
    return 0;
}

/* ---- listeners ---- */

static int bind_listener(const char *host, int port, int *bound_port) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        kf_log(KF_LOG_ERROR, "cannot resolve listen address", "host", 's', host, "error", 's', gai_strerror(rc), NULL);
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
        listen(fd, 4096) < 0) {
        kf_log(KF_LOG_ERROR, "cannot listen", "host", 's', host, "port", 'i', (long long)port, "error", 's', strerror(errno), NULL);
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static SSL_CTX *make_ssl_ctx(const char *cert, const char *key) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        char buf[256];
        ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
        kf_log(KF_LOG_ERROR, "cannot load TLS certificate or key", "cert", 's', cert, "key", 's', key, "error", 's', buf, NULL);
        SSL_CTX_free(ctx);
        return NULL;
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;
}

/* ---- threads ---- */

/* h2o 2.2 has no shutdown hook for HTTP/1 (it only stops keep-alive after
 * the next answer), so an idle keep-alive connection would hold the drain
 * until its timeout.  Idle here means no bytes of a next request buffered:
 * shutting down the read side makes h2o see EOF and close it, while a request
 * still arriving (head or body buffered) or being answered finishes.  Runs
 * repeatedly while draining, as answered keep-alive connections turn idle. */
static int close_if_idle(h2o_req_t *req, void *ud) {
    (void)ud;
    h2o_socket_t *sock = req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (sock && sock->input->size == 0 && req->input.method.len == 0) shutdown(h2o_socket_get_fd(sock), SHUT_RD);
    return 0;
}

static void close_idle_http1(struct kf_http_thread *t) {
    if (H2O_HTTP1_CALLBACKS.foreach_request) H2O_HTTP1_CALLBACKS.foreach_request(&t->ctx, close_if_idle, NULL);
}

static long open_conns(struct kf_http_thread *t) {
    return list_len(&t->ctx.http1._conns) + list_len(&t->ctx.http2._conns) + list_len(&t->websockets);
}

/* One loop turn, then the answers it produced, written back to back. */
static void turn(struct kf_http_thread *t, int32_t max_wait_ms) {
    kf_loop_run_once(t->loop, max_wait_ms);
    kf_http_flush_writes();
    kf_ws_end_turn();
}

static void *thread_main(void *arg) {
    struct kf_http_thread *t = arg;
    current_thread = t;
    /* Made here, not by the main thread: h2o ties a socket's buffers to the
     * creating thread's (thread-local) recycling allocator, so loops made by
     * one thread and run by several would share that allocator's free list,
     * a data race as soon as other threads post to them often (the
     * conversation engine's completions do). */
    t->loop = kf_loop_new();
    atomic_fetch_add(&S.loops_ready, 1);
    kf_loop_set_current(t->loop);
    h2o_context_init(&t->ctx, kf_loop_h2o(t->loop), &S.globalconf);
    t->accept_ctx.ctx = &t->ctx;
    t->accept_ctx.hosts = S.globalconf.hosts;
    t->accept_ctx.ssl_ctx = S.ssl_ctx;
    t->listener = h2o_evloop_socket_create(kf_loop_h2o(t->loop), S.listen_fds[t->idx], H2O_SOCKET_FLAG_DONT_READ);
    t->listener->data = t;
    h2o_socket_read_start(t->listener, on_accept);
    t->gauge_timer.data = t;
    kf_timer_start(t->loop, &t->gauge_timer, 1000, on_gauge_timer);
    kf_http_coalesce_writes(1);
    kf_ws_batch_turns(1);
    while (!t->draining) turn(t, 1000);
    while (open_conns(t) > 0 && kf_loop_now_ms() < atomic_load(&S.drain_deadline_ms)) {
        close_idle_http1(t);
        kf_http_thread_refresh_gauges(t);
        turn(t, 50);
    }
    kf_http_thread_refresh_gauges(t);
    kf_timer_stop(t->loop, &t->gauge_timer);
    return NULL;
}

typedef struct { void (*fn)(struct kf_http_thread *, void *); void *ud; struct kf_http_thread *t; } each_msg_t;

static void run_each(void *arg) {
    each_msg_t *m = arg;
    m->fn(m->t, m->ud);
    free(m);
}

void kf_http_each_thread(void (*fn)(struct kf_http_thread *, void *), void *ud) {
    for (size_t i = 0; i < S.nthreads; i++) {
        each_msg_t *m = malloc(sizeof *m);
        if (!m) continue;
        *m = (each_msg_t){fn, ud, &S.threads[i]};
        if (kf_loop_post(S.threads[i].loop, run_each, m) < 0) free(m);
    }
}

static void begin_drain(struct kf_http_thread *t, void *ud) {
    (void)ud;
    if (t->draining) return;
    t->draining = 1;
    h2o_socket_read_stop(t->listener);
    h2o_socket_close(t->listener);
    h2o_context_request_shutdown(&t->ctx);
    /* Not by shortening http1.req_timeout: a request still receiving its body
     * is on that timeout too, and would be cut off instead of finishing. */
    close_idle_http1(t);
    for (size_t i = 0; i < S.ndrain; i++) S.drain[i](t);
}

static int setup_globalconf(void) {
    h2o_config_init(&S.globalconf);
    S.globalconf.server_name = h2o_iovec_init(H2O_STRLIT("kefu"));
    size_t max_body = kf_router_max_body();
    /* h2o answers bodies past its own limit with a plain-text 413; keep it
     * well above every route's limit so the router's JSON 413 is what clients see */
    S.globalconf.max_request_entity_size = max_body * 4 > max_body + (1u << 20) ? max_body * 4 : max_body + (1u << 20);
    S.globalconf.http1.req_timeout = (uint64_t)S.cfg.idle_timeout_s * 1000;
    S.globalconf.http2.idle_timeout = (uint64_t)S.cfg.idle_timeout_s * 1000;
    S.globalconf.http2.graceful_shutdown_timeout = (uint64_t)S.cfg.drain_timeout_s * 1000;
    h2o_hostconf_t *host = h2o_config_register_host(&S.globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof *handler);
    handler->on_req = on_req;
    return 0;
}

static int open_listeners(void) {
    S.listen_fds = calloc(S.nthreads, sizeof *S.listen_fds);
    int port = S.cfg.port;
    for (size_t i = 0; i < S.nthreads; i++) {
        int bound = 0;
        S.listen_fds[i] = bind_listener(S.cfg.host, port, &bound);
        if (S.listen_fds[i] < 0) return -1;
        port = bound; /* --port 0: every listener shares the first one's port */
    }
    kf_log(KF_LOG_INFO, "listening", "host", 's', S.cfg.host, "port", 'i', (long long)port, "threads", 'i',
           (long long)S.nthreads, "tls", 'b', S.ssl_ctx != NULL, NULL);
    return 0;
}

static int wait_for_signals(sigset_t *set) {
    for (;;) {
        int sig;
        if (sigwait(set, &sig) != 0) continue;
        if (sig == SIGHUP) {
            kf_log(KF_LOG_INFO, "SIGHUP: reloading", NULL);
            for (size_t i = 0; i < S.nhup; i++) S.hup[i].fn(S.hup[i].ud);
            continue;
        }
        kf_log(KF_LOG_INFO, "shutting down", "signal", 's', sig == SIGTERM ? "SIGTERM" : "SIGINT", "drain_timeout_s", 'i',
               (long long)S.cfg.drain_timeout_s, NULL);
        return sig;
    }
}

int kf_http_serve(const kf_http_config_t *cfg) {
    S.cfg = *cfg;
    S.nthreads = cfg->threads > 0 ? (size_t)cfg->threads : 1;
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every worker */
    kf_router_set_limits(cfg->max_body, cfg->max_header);
    if (cfg->tls_cert && !(S.ssl_ctx = make_ssl_ctx(cfg->tls_cert, cfg->tls_key))) return 1;
    setup_globalconf();
    if (kf_metrics_init(S.nthreads, kf_router_names(), kf_router_count()) < 0) return 1;
    kf_metrics_add_collector(collect_server, NULL);
    if (open_listeners() < 0) return 1;
    S.threads = calloc(S.nthreads, sizeof *S.threads);
    for (size_t i = 0; i < S.nthreads; i++) {
        struct kf_http_thread *t = &S.threads[i];
        t->idx = i;
        t->metrics = kf_metrics_shard(i);
        h2o_linklist_init_anchor(&t->websockets);
        if (getrandom(t->rng, sizeof t->rng, 0) != sizeof t->rng) t->rng[0] = (uint64_t)time(NULL) ^ i, t->rng[1] = 0x9e3779b97f4a7c15ull;
    }
    for (size_t i = 0; i < S.nthreads; i++) pthread_create(&S.threads[i].tid, NULL, thread_main, &S.threads[i]);
    while (atomic_load(&S.loops_ready) < S.nthreads) { /* kf_http_each_thread posts to them */
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    wait_for_signals(&set);
    atomic_store(&S.drain_deadline_ms, kf_loop_now_ms() + (uint64_t)cfg->drain_timeout_s * 1000);
    kf_http_each_thread(begin_drain, NULL);
    for (size_t i = 0; i < S.nthreads; i++) pthread_join(S.threads[i].tid, NULL);
    kf_log(KF_LOG_INFO, "stopped", "open_connections", 'i', (long long)atomic_load(&S.conns), NULL);
    return 0;
}
