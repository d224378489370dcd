/* session.c — what every SessionStore shares (see session.h): the async calls
 * that adapt a synchronous store, the sweep timer, the metrics collector and
 * small helpers.  Nothing here knows how sessions are kept. */
#include "store/session.h"

#include <stdlib.h>
#include <string.h>

#include "loop/loop.h"
#include "obs/metrics.h"
#include "util/buf.h"

void kf_session_clear(kf_session_t *s) {
    if (!s) return;
    free(s->own_);
    memset(s, 0, sizeof *s);
}

/* Every store call checks its id, so this is on the hot path: once the
 * length is known (strnlen never reads past the NUL), the 32 characters are
 * checked without branches, which the compiler turns into a few vector ops. */
int kf_session_valid_id(const char *id) {
    if (!id || strnlen(id, KF_SESSION_ID_LEN + 1) != KF_SESSION_ID_LEN) return 0;
    const unsigned char *p = (const unsigned char *)id;
    unsigned char bad = 0;
    for (int i = 0; i < KF_SESSION_ID_LEN; i++) {
        unsigned char c = p[i];
        bad |= (unsigned char)((unsigned char)(c - '0') > 9) & (unsigned char)((unsigned char)(c - 'a') > 5);
    }
    return !bad;
}

const char *kf_session_strerror(int code) {
    switch (code) {
    case KF_SESSION_OK: return "ok";
    case KF_SESSION_ERR: return "session store failure";
    case KF_SESSION_NOMEM: return "out of memory";
    case KF_SESSION_INVALID: return "invalid session argument";
    case KF_SESSION_NOTFOUND: return "no such session";
    case KF_SESSION_CONFLICT: return "session version conflict";
    case KF_SESSION_UNSUPPORTED: return "operation not supported by this session store";
    default: return "unknown session error";
    }
}

const char *kf_session_end_name(kf_session_end_t r) {
    return r == KF_SESSION_EXPIRED ? "expired" : r == KF_SESSION_EVICTED ? "evicted" : "unknown";
}

/* ---- async over sync ----
 * Outcomes a store reports about the data (found or not, version) go to the
 * completion; refusals of the request itself (bad argument, no memory) are
 * returned, so the caller can answer at once, as with store/history.h. */

static int is_outcome(int rc) {
    return rc == KF_SESSION_OK || rc == KF_SESSION_NOTFOUND || rc == KF_SESSION_CONFLICT || rc == KF_SESSION_ERR;
}

static void complete(kf_session_cb cb, void *ud, int rc, const kf_session_t *s, uint64_t version) {
    if (!cb) return;
    kf_session_result_t r = {.status = rc,
                             .error = rc == KF_SESSION_ERR ? kf_session_strerror(rc) : "",
                             .session = rc == KF_SESSION_OK ? s : NULL,
                             .version = version};
    cb(&r, ud);
}

int kf_session_get_async(kf_session_store_t *st, const char *id, unsigned flags, kf_session_cb cb, void *ud) {
    if (st->ops->get_async) return st->ops->get_async(st, id, flags, cb, ud);
    kf_session_t s = {0};
    int rc = kf_session_get(st, id, flags, &s);
    if (!is_outcome(rc)) return rc;
    complete(cb, ud, rc, &s, rc == KF_SESSION_OK ? s.version : 0);
    kf_session_clear(&s);
    return KF_SESSION_OK;
}

int kf_session_put_async(kf_session_store_t *st, const kf_session_t *s, uint64_t expect_version, kf_session_cb cb,
                         void *ud) {
    if (st->ops->put_async) return st->ops->put_async(st, s, expect_version, cb, ud);
    uint64_t v = 0;
    int rc = kf_session_put(st, s, expect_version, &v);
    if (!is_outcome(rc)) return rc;
    complete(cb, ud, rc, NULL, v);
    return KF_SESSION_OK;
}

int kf_session_touch_async(kf_session_store_t *st, const char *id, kf_session_cb cb, void *ud) {
    if (st->ops->touch_async) return st->ops->touch_async(st, id, cb, ud);
    int rc = kf_session_touch(st, id);
    if (!is_outcome(rc)) return rc;
    complete(cb, ud, rc, NULL, 0);
    return KF_SESSION_OK;
}

int kf_session_del_async(kf_session_store_t *st, const char *id, kf_session_cb cb, void *ud) {
    if (st->ops->del_async) return st->ops->del_async(st, id, cb, ud);
    int rc = kf_session_del(st, id);
    if (!is_outcome(rc)) return rc;
    complete(cb, ud, rc, NULL, 0);
    return KF_SESSION_OK;
}

/* ---- the sweep timer ---- */

struct kf_session_sweeper {
    kf_timer_t timer; /* first: the timer callback gets back to us through it */
    kf_loop_t *loop;
    kf_session_store_t *st;
    uint64_t interval_ms;
    size_t max_work;
};

static void on_sweep(kf_timer_t *t) {
    kf_session_sweeper_t *sw = t->data;
    size_t removed = kf_session_sweep(sw->st, sw->max_work);
    kf_timer_start(sw->loop, &sw->timer, removed >= sw->max_work ? 1 : sw->interval_ms, on_sweep);
}

kf_session_sweeper_t *kf_session_sweeper_start(kf_loop_t *l, kf_session_store_t *st, uint64_t interval_ms,
                                               size_t max_work) {
    kf_session_sweeper_t *sw = calloc(1, sizeof *sw);
    if (!sw) return NULL;
    sw->loop = l;
    sw->st = st;
    sw->interval_ms = interval_ms ? interval_ms : 1000;
    sw->max_work = max_work ? max_work : 1;
    sw->timer.data = sw;
    kf_timer_start(l, &sw->timer, sw->interval_ms, on_sweep);
    return sw;
}

void kf_session_sweeper_stop(kf_session_sweeper_t *sw) {
    if (!sw) return;
    kf_timer_stop(sw->loop, &sw->timer);
    free(sw);
}

/* ---- metrics ---- */

static void collect(kf_buf_t *out, void *ud) {
    kf_session_stats_t s;
    kf_session_stats(ud, &s);
    kf_buf_printf(out,
                  "# HELP kefu_sessions Live conversation sessions held by the session store.\n"
                  "# TYPE kefu_sessions gauge\nkefu_sessions %zu\n"
                  "# HELP kefu_sessions_capacity Sessions the store holds at most before evicting.\n"
                  "# TYPE kefu_sessions_capacity gauge\nkefu_sessions_capacity %zu\n"
                  "# HELP kefu_sessions_expired_total Sessions ended by the store, by reason (idle past the TTL, "
                  "or evicted as least recently used when full).\n"
                  "# TYPE kefu_sessions_expired_total counter\n"
                  "kefu_sessions_expired_total{reason=\"expired\"} %llu\n"
                  "kefu_sessions_expired_total{reason=\"evicted\"} %llu\n",
                  s.count, s.capacity, (unsigned long long)s.expired, (unsigned long long)s.evicted);
}

int kf_session_register_metrics(kf_session_store_t *st) { return kf_metrics_add_collector(collect, st); }
