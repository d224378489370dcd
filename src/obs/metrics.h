/* metrics.h — Prometheus metrics with per-thread shards.
 *
 * Each event-loop thread owns one shard and is its only writer, so counting a
 * request costs a few plain stores; a scrape sums the shards.  Other modules
 * add their own series through collectors called at render time. */
#ifndef KF_METRICS_H
#define KF_METRICS_H

#include <stddef.h>

#include "util/buf.h"

typedef struct kf_metrics_shard kf_metrics_shard_t;

enum { KF_METRICS_UNMATCHED = -1 };

/* route_names: the route templates; index -1 (KF_METRICS_UNMATCHED) is "<unmatched>". */
int kf_metrics_init(size_t nshards, const char *const *route_names, size_t nroutes);
kf_metrics_shard_t *kf_metrics_shard(size_t idx);

/* method: request method text; status: the HTTP status sent; seconds: handler wall time. */
void kf_metrics_observe(kf_metrics_shard_t *s, int route, const char *method, size_t method_len, int status,
                        double seconds);

typedef enum { KF_CONN_HTTP1, KF_CONN_HTTP2, KF_CONN_WEBSOCKET, KF_CONN__N } kf_conn_proto_t;
void kf_metrics_conn_set(kf_metrics_shard_t *s, kf_conn_proto_t proto, long value);
void kf_metrics_conn_add(kf_metrics_shard_t *s, kf_conn_proto_t proto, long delta);

/* A collector appends complete series (with # HELP / # TYPE) to out. */
typedef void (*kf_metrics_collector_fn)(kf_buf_t *out, void *ud);
int kf_metrics_add_collector(kf_metrics_collector_fn fn, void *ud);

/* Renders every series in the Prometheus text exposition format 0.0.4. */
void kf_metrics_render(kf_buf_t *out);

#endif
