/* webhook.h — outbound HTTP POSTs of JSON (job callbacks, later bot webhooks).
 *
 * One delivery thread runs its own kf_loop with libcurl's multi interface on
 * it (socket and timer callbacks), so any number of deliveries proceed
 * concurrently without a thread each.  Failed attempts (connection error,
 * timeout, non-2xx) are retried with exponential backoff up to a bound. */
#ifndef KF_QUEUE_WEBHOOK_H
#define KF_QUEUE_WEBHOOK_H

#include <stddef.h>

typedef struct {
    int timeout_ms;      /* per attempt */
    int max_attempts;    /* first try included */
    int backoff_ms;      /* before the 2nd attempt; doubles each time */
} kf_webhook_config_t;

int kf_webhook_start(const kf_webhook_config_t *cfg);
/* Queues a POST of body to url (http or https only); callable from any thread. */
int kf_webhook_post(const char *url, const char *body, size_t len, const char *request_id);
/* Answers larger than this count as a failed call. */
#define KF_WEBHOOK_MAX_ANSWER (64u * 1024)

typedef struct kf_loop kf_loop_t;
/* ok: a 2xx answer arrived in time; body (NUL-terminated, len bytes) is its
 * body when ok, else NULL.  status: the HTTP status, 0 when none arrived. */
typedef void (*kf_webhook_answer_fn)(int ok, long status, const char *body, size_t len, void *ud);
/* POSTs body to url once (no retry: someone is waiting), within timeout_ms
 * (0 = the configured timeout), and runs fn with the answer on loop (NULL:
 * on the delivery thread).  Returns 0 when fn will run exactly once, -1
 * (bad URL, sender not started, out of memory) when it never will. */
int kf_webhook_call(const char *url, const char *body, size_t len, int timeout_ms, const char *request_id,
                    kf_loop_t *loop, kf_webhook_answer_fn fn, void *ud);
/* 1 when url is an absolute http(s) URL with a host. */
int kf_webhook_url_ok(const char *url);

#endif
