/* Unit tests for obs/metrics.c: shards sum on render, route templates as
 * labels, cumulative histogram buckets, collectors appended. */
#include <criterion/criterion.h>
#include <string.h>

#include "obs/metrics.h"

static void extra(kf_buf_t *out, void *ud) { kf_buf_printf(out, "# TYPE test_gauge gauge\ntest_gauge %d\n", *(int *)ud); }

Test(metrics, shards_sum_and_histogram_is_cumulative) {
    static const char *const routes[] = {"/health", "/v1/jobs/{job_id}"};
    cr_assert_eq(kf_metrics_init(2, routes, 2), 0);
    kf_metrics_observe(kf_metrics_shard(0), 0, "GET", 3, 200, 0.0002);
    kf_metrics_observe(kf_metrics_shard(1), 0, "GET", 3, 200, 0.003);
    kf_metrics_observe(kf_metrics_shard(1), 1, "GET", 3, 404, 0.00005);
    kf_metrics_observe(kf_metrics_shard(0), KF_METRICS_UNMATCHED, "BREW", 4, 404, 0.00001);
    kf_metrics_conn_set(kf_metrics_shard(0), KF_CONN_HTTP2, 3);
    kf_metrics_conn_add(kf_metrics_shard(1), KF_CONN_HTTP2, 2);
    static int v = 7;
    kf_metrics_add_collector(extra, &v);
    kf_buf_t b;
    kf_buf_init(&b);
    kf_metrics_render(&b);
    cr_assert(strstr(b.data, "kefu_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 2\n"));
    cr_assert(strstr(b.data, "kefu_http_requests_total{method=\"GET\",route=\"/v1/jobs/{job_id}\",status=\"404\"} 1\n"));
    cr_assert(strstr(b.data, "kefu_http_requests_total{method=\"OTHER\",route=\"<unmatched>\",status=\"404\"} 1\n"));
    cr_assert(strstr(b.data, "kefu_http_request_duration_seconds_bucket{route=\"/health\",le=\"0.00025\"} 1\n"));
    cr_assert(strstr(b.data, "kefu_http_request_duration_seconds_bucket{route=\"/health\",le=\"0.005\"} 2\n"));
    cr_assert(strstr(b.data, "kefu_http_request_duration_seconds_count{route=\"/health\"} 2\n"));
    cr_assert(strstr(b.data, "kefu_connections{protocol=\"http2\"} 5\n"));
    cr_assert(strstr(b.data, "process_resident_memory_bytes "));
    cr_assert(strstr(b.data, "test_gauge 7\n"));
    kf_buf_free(&b);
}
