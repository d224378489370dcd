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
/* 1 when url is an absolute http(s) URL with a host. */
int kf_webhook_url_ok(const char *url);

#endif
