/* loop.h — the event-loop adapter every non-HTTP client plugs into.
 *
 * One kf_loop_t per worker thread wraps h2o's evloop and adds what Redis
 * (hiredis), PostgreSQL (libpq) and libcurl need to share it without blocking:
 * fd readiness watches, millisecond timers, and posting a function to another
 * thread's loop (h2o's multithread queue).  Nothing here knows about HTTP. */
#ifndef KF_LOOP_H
#define KF_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

typedef struct kf_loop kf_loop_t;

/* Create a loop on the thread that will run it: h2o keeps per-thread pools
 * (socket read buffers) keyed to the creating thread, and a loop run by
 * another thread shares them unsafely (http/server.c builds each server
 * thread's loop inside that thread for this reason). */
kf_loop_t *kf_loop_new(void);
void kf_loop_free(kf_loop_t *l);
h2o_evloop_t *kf_loop_h2o(kf_loop_t *l);
/* The loop run by the calling thread, or NULL. */
kf_loop_t *kf_loop_current(void);
void kf_loop_set_current(kf_loop_t *l);

/* Waits for events at most max_wait_ms (less when a timer is due), then runs due timers. */
void kf_loop_run_once(kf_loop_t *l, int32_t max_wait_ms);
uint64_t kf_loop_now_ms(void);

typedef struct kf_timer kf_timer_t;
typedef void (*kf_timer_fn)(kf_timer_t *t);
struct kf_timer {
    kf_timer_fn cb;
    void *data;
    uint64_t due_ms;
    size_t heap_idx; /* 0 = not scheduled */
};
void kf_timer_start(kf_loop_t *l, kf_timer_t *t, uint64_t delay_ms, kf_timer_fn cb);
void kf_timer_stop(kf_loop_t *l, kf_timer_t *t);
int kf_timer_active(const kf_timer_t *t);

/* Runs fn(arg) on loop l's thread; callable from any thread.  Returns -1 on OOM. */
int kf_loop_post(kf_loop_t *l, void (*fn)(void *arg), void *arg);

/* Readiness of a foreign fd (the fd stays owned by the caller; a dup is watched). */
enum { KF_WATCH_READ = 1, KF_WATCH_WRITE = 2 };
typedef struct kf_watch kf_watch_t;
typedef void (*kf_watch_fn)(kf_watch_t *w, int events, void *ud);
kf_watch_t *kf_watch_new(kf_loop_t *l, int fd, kf_watch_fn cb, void *ud);
void kf_watch_set(kf_watch_t *w, int events);
void kf_watch_free(kf_watch_t *w);

#endif
