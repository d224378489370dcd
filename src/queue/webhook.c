/* webhook.c — libcurl multi driven by a kf_loop on the delivery thread (see webhook.h).
 *
 * Two kinds of delivery share the machinery: fire-and-forget posts
 * (kf_webhook_post: retried with backoff, answer discarded) and calls whose
 * answer someone waits for (kf_webhook_call: one attempt, answer body kept
 * and handed to a completion on the caller's loop). */
#include "queue/webhook.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loop/loop.h"
#include "obs/log.h"
#include "obs/metrics.h"

typedef struct delivery {
    char *url, *body, *request_id;
    size_t len;
    int attempt;
    CURL *easy;
    struct curl_slist *headers;
    kf_timer_t retry;
    int timeout_ms, max_attempts;
    /* kf_webhook_call only: */
    kf_webhook_answer_fn fn;
    void *ud;
    kf_loop_t *cb_loop;
    char *resp;
    size_t resp_len, resp_cap;
    int resp_overflow;
    int ok;
    long status;
} delivery_t;

static struct {
    kf_webhook_config_t cfg;
    kf_loop_t *loop;
    CURLM *multi;
    kf_timer_t timer;
    pthread_t tid;
    _Atomic unsigned long long ok, failed, retried, queued;
} W;

static void check_done(void);

static void on_fd(kf_watch_t *w, int events, void *ud) {
    (void)w;
    int fd = (int)(intptr_t)ud, running;
    int ev = (events & KF_WATCH_READ ? CURL_CSELECT_IN : 0) | (events & KF_WATCH_WRITE ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(W.multi, fd, ev, &running);
    check_done();
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *ud, void *sockp) {
    (void)e, (void)ud;
    kf_watch_t *w = sockp;
    if (what == CURL_POLL_REMOVE) {
        kf_watch_free(w);
        curl_multi_assign(W.multi, fd, NULL);
        return 0;
    }
    if (!w) {
        w = kf_watch_new(W.loop, fd, on_fd, (void *)(intptr_t)fd);
        if (!w) return -1;
        curl_multi_assign(W.multi, fd, w);
    }
    kf_watch_set(w, (what & CURL_POLL_IN ? KF_WATCH_READ : 0) | (what & CURL_POLL_OUT ? KF_WATCH_WRITE : 0));
    return 0;
}

static void on_timeout(kf_timer_t *t) {
    (void)t;
    int running;
    curl_multi_socket_action(W.multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done();
}

static int on_timer(CURLM *m, long ms, void *ud) {
    (void)m, (void)ud;
    if (ms < 0) kf_timer_stop(W.loop, &W.timer);
    else kf_timer_start(W.loop, &W.timer, (uint64_t)ms, on_timeout);
    return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
    (void)p, (void)ud;
    return size * n;
}

/* Keeps the answer of a kf_webhook_call, up to KF_WEBHOOK_MAX_ANSWER bytes. */
static size_t keep(char *p, size_t size, size_t n, void *ud) {
    delivery_t *d = ud;
    size_t len = size * n;
    if (d->resp_overflow || d->resp_len + len > KF_WEBHOOK_MAX_ANSWER) {
        d->resp_overflow = 1;
        return len;
    }
    if (d->resp_len + len + 1 > d->resp_cap) {
        size_t cap = d->resp_cap ? d->resp_cap : 1024;
        while (cap < d->resp_len + len + 1) cap *= 2;
        char *nb = realloc(d->resp, cap);
        if (!nb) {
            d->resp_overflow = 1;
            return len;
        }
        d->resp = nb;
        d->resp_cap = cap;
    }
    memcpy(d->resp + d->resp_len, p, len);
    d->resp_len += len;
    d->resp[d->resp_len] = 0;
    return len;
}

static void start_attempt(delivery_t *d) {
    d->easy = curl_easy_init();
    curl_easy_setopt(d->easy, CURLOPT_URL, d->url);
    curl_easy_setopt(d->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(d->easy, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(d->easy, CURLOPT_POSTFIELDSIZE, (long)d->len);
    curl_easy_setopt(d->easy, CURLOPT_HTTPHEADER, d->headers);
    curl_easy_setopt(d->easy, CURLOPT_TIMEOUT_MS, (long)d->timeout_ms);
    curl_easy_setopt(d->easy, CURLOPT_NOSIGNAL, 1L);
    if (d->fn) {
        curl_easy_setopt(d->easy, CURLOPT_WRITEFUNCTION, keep);
        curl_easy_setopt(d->easy, CURLOPT_WRITEDATA, d);
    } else {
        curl_easy_setopt(d->easy, CURLOPT_WRITEFUNCTION, discard);
    }
    curl_easy_setopt(d->easy, CURLOPT_PRIVATE, d);
    curl_easy_setopt(d->easy, CURLOPT_USERAGENT, "kefu-webhook");
    d->attempt++;
    curl_multi_add_handle(W.multi, d->easy);
}

static void free_delivery(delivery_t *d) {
    curl_slist_free_all(d->headers);
    free(d->url), free(d->body), free(d->request_id), free(d->resp), free(d);
}

/* Runs a kf_webhook_call's completion (on the caller's loop), then frees. */
static void answer(void *arg) {
    delivery_t *d = arg;
    d->fn(d->ok, d->status, d->ok ? (d->resp ? d->resp : "") : NULL, d->ok ? d->resp_len : 0, d->ud);
    free_delivery(d);
}

static void on_retry(kf_timer_t *t) { start_attempt(t->data); }

static void finish(delivery_t *d, CURLcode rc, long status) {
    curl_multi_remove_handle(W.multi, d->easy);
    curl_easy_cleanup(d->easy);
    d->easy = NULL;
    if (d->fn) {
        d->ok = rc == CURLE_OK && status >= 200 && status < 300 && !d->resp_overflow;
        d->status = status;
        if (d->ok) W.ok++;
        else W.failed++;
        kf_log(d->ok ? KF_LOG_INFO : KF_LOG_WARN, d->ok ? "webhook answered" : "webhook call failed", "url", 's', d->url,
               "status", 'i', (long long)status, "error", 's', rc != CURLE_OK ? curl_easy_strerror(rc) : "",
               "request_id", 's', d->request_id, NULL);
        if (!d->cb_loop || kf_loop_post(d->cb_loop, answer, d) < 0) answer(d);
        return;
    }
    if (rc == CURLE_OK && status >= 200 && status < 300) {
        W.ok++;
        kf_log(KF_LOG_INFO, "webhook delivered", "url", 's', d->url, "status", 'i', (long long)status, "attempt", 'i',
               (long long)d->attempt, "request_id", 's', d->request_id, NULL);
        free_delivery(d);
        return;
    }
    const char *why = rc != CURLE_OK ? curl_easy_strerror(rc) : "non-2xx answer";
    if (d->attempt >= d->max_attempts) {
        W.failed++;
        kf_log(KF_LOG_WARN, "webhook failed", "url", 's', d->url, "error", 's', why, "status", 'i', (long long)status,
               "attempts", 'i', (long long)d->attempt, "request_id", 's', d->request_id, NULL);
        free_delivery(d);
        return;
    }
    W.retried++;
    uint64_t delay = (uint64_t)W.cfg.backoff_ms << (d->attempt - 1);
    kf_log(KF_LOG_INFO, "webhook retry", "url", 's', d->url, "error", 's', why, "delay_ms", 'i', (long long)delay, NULL);
    d->retry.data = d;
    kf_timer_start(W.loop, &d->retry, delay, on_retry);
}

static void check_done(void) {
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(W.multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        delivery_t *d;
        long status = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&d);
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        finish(d, m->data.result, status);
    }
}

static void *thread_main(void *arg) {
    (void)arg;
    kf_loop_set_current(W.loop);
    for (;;) kf_loop_run_once(W.loop, 1000);
    return NULL;
}

static void collect(kf_buf_t *out, void *ud) {
    (void)ud;
    kf_buf_printf(out,
                  "# HELP kefu_webhook_deliveries_total Outbound webhook POSTs by result.\n"
                  "# TYPE kefu_webhook_deliveries_total counter\n"
                  "kefu_webhook_deliveries_total{result=\"ok\"} %llu\nkefu_webhook_deliveries_total{result=\"failed\"} %llu\n"
                  "kefu_webhook_deliveries_total{result=\"retried\"} %llu\n",
                  W.ok, W.failed, W.retried);
}

int kf_webhook_start(const kf_webhook_config_t *cfg) {
    W.cfg = *cfg;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return -1;
    W.loop = kf_loop_new();
    W.multi = curl_multi_init();
    curl_multi_setopt(W.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(W.multi, CURLMOPT_TIMERFUNCTION, on_timer);
    kf_metrics_add_collector(collect, NULL);
    return pthread_create(&W.tid, NULL, thread_main, NULL) == 0 ? 0 : -1;
}

static void enqueue(void *arg) { start_attempt(arg); }

int kf_webhook_url_ok(const char *url) {
    const char *rest;
    if (strncasecmp(url, "http://", 7) == 0) rest = url + 7;
    else if (strncasecmp(url, "https://", 8) == 0) rest = url + 8;
    else return 0;
    return *rest && *rest != '/' && *rest != ':' && !strpbrk(url, " \t\r\n");
}

static delivery_t *new_delivery(const char *url, const char *body, size_t len, const char *request_id) {
    if (!W.loop || !kf_webhook_url_ok(url)) return NULL;
    delivery_t *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->url = strdup(url);
    d->body = malloc(len + 1);
    d->request_id = strdup(request_id ? request_id : "");
    if (!d->url || !d->body || !d->request_id) {
        free_delivery(d);
        return NULL;
    }
    memcpy(d->body, body, len);
    d->body[len] = 0;
    d->len = len;
    d->headers = curl_slist_append(NULL, "Content-Type: application/json");
    d->timeout_ms = W.cfg.timeout_ms;
    d->max_attempts = W.cfg.max_attempts;
    return d;
}

int kf_webhook_post(const char *url, const char *body, size_t len, const char *request_id) {
    delivery_t *d = new_delivery(url, body, len, request_id);
    if (!d) return -1;
    W.queued++;
    if (kf_loop_post(W.loop, enqueue, d) < 0) {
        free_delivery(d);
        return -1;
    }
    return 0;
}

int kf_webhook_call(const char *url, const char *body, size_t len, int timeout_ms, const char *request_id,
                    kf_loop_t *loop, kf_webhook_answer_fn fn, void *ud) {
    if (!fn) return -1;
    delivery_t *d = new_delivery(url, body, len, request_id);
    if (!d) return -1;
    if (timeout_ms > 0) d->timeout_ms = timeout_ms;
    d->max_attempts = 1;
    d->fn = fn;
    d->ud = ud;
    d->cb_loop = loop;
    W.queued++;
    if (kf_loop_post(W.loop, enqueue, d) < 0) {
        free_delivery(d);
        return -1;
    }
    return 0;
}
