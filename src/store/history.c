/* history.c — helpers shared by every HistoryStore implementation and its
 * callers (see history.h): freeing read results, id checks and generation,
 * enum names, and the /metrics collector, which reads only the ops table's
 * stats so a PostgreSQL store reports the same series. */
#include "store/history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "obs/metrics.h"
#include "util/buf.h"

void kf_history_conv_free(kf_history_conv_t *c) {
    if (!c) return;
    free(c->user_id);
    free(c->name);
    free(c->language);
    free(c->csat_comment);
    free(c->agent_id);
    memset(c, 0, sizeof *c);
}

void kf_history_convs_free(kf_history_convs_t *cs) {
    if (!cs) return;
    for (size_t i = 0; i < cs->n; i++) kf_history_conv_free(&cs->v[i]);
    free(cs->v);
    cs->v = NULL;
    cs->n = 0;
}

void kf_history_msgs_free(kf_history_msgs_t *ms) {
    if (!ms) return;
    for (size_t i = 0; i < ms->n; i++) {
        /* output strings are owned by the array even though the type says const */
        free((char *)ms->v[i].text);
        free((char *)ms->v[i].client_msg_id);
        free((char *)ms->v[i].intent);
        free((char *)ms->v[i].entities_json);
        free((char *)ms->v[i].author);
    }
    free(ms->v);
    ms->v = NULL;
    ms->n = 0;
}

int kf_history_valid_id(const char *s) {
    if (!s) return 0;
    for (int i = 0; i < KF_HISTORY_ID_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return s[KF_HISTORY_ID_LEN] == '\0';
}

int kf_history_new_id(char id[KF_HISTORY_ID_LEN + 1]) {
    unsigned char r[KF_HISTORY_ID_LEN / 2];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof r; i++) {
        id[2 * i] = hex[r[i] >> 4];
        id[2 * i + 1] = hex[r[i] & 15];
    }
    id[KF_HISTORY_ID_LEN] = '\0';
    return 0;
}

static const char *const sender_names[] = {NULL, "customer", "bot", "agent", "system", "note"};
static const char *const status_names[] = {NULL, "open", "closed", "expired"};

const char *kf_history_sender_name(kf_history_sender_t s) {
    return (int)s >= 1 && (int)s <= 5 ? sender_names[s] : NULL;
}
const char *kf_history_status_name(kf_history_status_t s) {
    return (int)s >= 1 && (int)s <= 3 ? status_names[s] : NULL;
}
int kf_history_sender_parse(const char *s) {
    for (int i = 1; s && i <= 5; i++)
        if (!strcmp(s, sender_names[i])) return i;
    return -1;
}
int kf_history_status_parse(const char *s) {
    for (int i = 1; s && i <= 3; i++)
        if (!strcmp(s, status_names[i])) return i;
    return -1;
}

int64_t kf_history_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void collect(kf_buf_t *out, void *ud) {
    kf_history_stats_t s;
    kf_history_stats(ud, &s);
    kf_buf_printf(out,
                  "# HELP kefu_history_commits_total History write transactions committed (one per group commit).\n"
                  "# TYPE kefu_history_commits_total counter\nkefu_history_commits_total %llu\n"
                  "# HELP kefu_history_requests_total History write requests by outcome (rejected: queue full).\n"
                  "# TYPE kefu_history_requests_total counter\n"
                  "kefu_history_requests_total{outcome=\"ok\"} %llu\n"
                  "kefu_history_requests_total{outcome=\"failed\"} %llu\n"
                  "kefu_history_requests_total{outcome=\"rejected\"} %llu\n"
                  "# HELP kefu_history_messages_total Messages appended, and resends recognised by client_msg_id.\n"
                  "# TYPE kefu_history_messages_total counter\n"
                  "kefu_history_messages_total{kind=\"inserted\"} %llu\n"
                  "kefu_history_messages_total{kind=\"duplicate\"} %llu\n"
                  "# HELP kefu_history_commit_seconds_total Time spent in history write transactions.\n"
                  "# TYPE kefu_history_commit_seconds_total counter\nkefu_history_commit_seconds_total %.6f\n"
                  "# HELP kefu_history_queue_depth History write requests waiting for the writer.\n"
                  "# TYPE kefu_history_queue_depth gauge\nkefu_history_queue_depth %zu\n"
                  "# HELP kefu_history_queue_capacity The history write queue's bound.\n"
                  "# TYPE kefu_history_queue_capacity gauge\nkefu_history_queue_capacity %zu\n"
                  "# HELP kefu_history_batch_size Write requests per committed transaction.\n"
                  "# TYPE kefu_history_batch_size histogram\n",
                  (unsigned long long)s.commits, (unsigned long long)s.requests_ok,
                  (unsigned long long)s.requests_failed, (unsigned long long)s.requests_rejected,
                  (unsigned long long)s.messages_inserted, (unsigned long long)s.messages_duplicate, s.commit_seconds,
                  s.queue_depth, s.queue_capacity);
    unsigned long long cum = 0;
    for (int i = 0; i < KF_HISTORY_BATCH_BUCKETS; i++) {
        cum += s.batch_hist[i];
        if (i < KF_HISTORY_BATCH_BUCKETS - 1)
            kf_buf_printf(out, "kefu_history_batch_size_bucket{le=\"%d\"} %llu\n", 1 << i, cum);
    }
    kf_buf_printf(out, "kefu_history_batch_size_bucket{le=\"+Inf\"} %llu\nkefu_history_batch_size_sum %llu\n"
                       "kefu_history_batch_size_count %llu\n", cum, (unsigned long long)s.batched_requests, cum);
}

int kf_history_register_metrics(kf_history_t *h) { return kf_metrics_add_collector(collect, h); }
