/* Unit tests for loop/loop.c: timers fire in deadline order, stop works,
 * posts from another thread run on the loop, fd watches report readiness. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <unistd.h>

#include "loop/loop.h"

static int order[8], norder;
static void record(kf_timer_t *t) { order[norder++] = (int)(intptr_t)t->data; }

Test(loop, timers_fire_in_deadline_order) {
    kf_loop_t *l = kf_loop_new();
    kf_timer_t a = {.data = (void *)1}, b = {.data = (void *)2}, c = {.data = (void *)3}, d = {.data = (void *)4};
    norder = 0;
    kf_timer_start(l, &a, 30, record);
    kf_timer_start(l, &b, 10, record);
    kf_timer_start(l, &c, 20, record);
    kf_timer_start(l, &d, 15, record);
    kf_timer_stop(l, &d);
    cr_assert(!kf_timer_active(&d));
    uint64_t until = kf_loop_now_ms() + 1000;
    while (norder < 3 && kf_loop_now_ms() < until) kf_loop_run_once(l, 100);
    cr_assert_eq(norder, 3);
    cr_assert_eq(order[0], 2);
    cr_assert_eq(order[1], 3);
    cr_assert_eq(order[2], 1);
}

static void restart(kf_timer_t *t) {
    order[norder++] = 9;
    if (norder < 3) kf_timer_start(kf_loop_current(), t, 1, restart);
}

Test(loop, timer_rearms_itself_from_callback) {
    kf_loop_t *l = kf_loop_new();
    kf_loop_set_current(l);
    kf_timer_t t = {0};
    norder = 0;
    kf_timer_start(l, &t, 1, restart);
    uint64_t until = kf_loop_now_ms() + 1000;
    while (norder < 3 && kf_loop_now_ms() < until) kf_loop_run_once(l, 50);
    cr_assert_eq(norder, 3);
}

static int posted;
static void on_post(void *arg) { posted += (int)(intptr_t)arg; }
static void *poster(void *arg) {
    for (int i = 0; i < 100; i++) kf_loop_post(arg, on_post, (void *)1);
    return NULL;
}

Test(loop, posts_from_other_threads_all_arrive) {
    kf_loop_t *l = kf_loop_new();
    posted = 0;
    pthread_t t1, t2;
    pthread_create(&t1, NULL, poster, l);
    pthread_create(&t2, NULL, poster, l);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    uint64_t until = kf_loop_now_ms() + 2000;
    while (posted < 200 && kf_loop_now_ms() < until) kf_loop_run_once(l, 50);
    cr_assert_eq(posted, 200);
}

static int seen_events;
static void on_ready(kf_watch_t *w, int events, void *ud) {
    (void)w;
    seen_events |= events;
    char buf[16];
    if (events & KF_WATCH_READ) cr_assert_eq(read(*(int *)ud, buf, sizeof buf), 5);
}

Test(loop, watch_reports_read_and_write_readiness) {
    kf_loop_t *l = kf_loop_new();
    int p[2];
    cr_assert_eq(pipe(p), 0);
    kf_watch_t *r = kf_watch_new(l, p[0], on_ready, &p[0]);
    kf_watch_set(r, KF_WATCH_READ);
    seen_events = 0;
    kf_loop_run_once(l, 20);
    cr_assert_eq(seen_events, 0, "nothing written yet");
    cr_assert_eq(write(p[1], "hello", 5), 5);
    uint64_t until = kf_loop_now_ms() + 1000;
    while (!(seen_events & KF_WATCH_READ) && kf_loop_now_ms() < until) kf_loop_run_once(l, 50);
    cr_assert(seen_events & KF_WATCH_READ);
    kf_watch_t *w = kf_watch_new(l, p[1], on_ready, &p[1]);
    seen_events = 0;
    kf_watch_set(w, KF_WATCH_WRITE);
    until = kf_loop_now_ms() + 1000;
    while (!(seen_events & KF_WATCH_WRITE) && kf_loop_now_ms() < until) kf_loop_run_once(l, 50);
    cr_assert(seen_events & KF_WATCH_WRITE);
    kf_watch_free(w);
    kf_watch_free(r);
    kf_loop_run_once(l, 0);
}
