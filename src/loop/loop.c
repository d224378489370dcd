/* loop.c — h2o evloop plus timers, cross-thread posts and fd watches (see loop.h).
 *
 * Timers live in a binary min-heap per loop; kf_loop_run_once bounds h2o's
 * wait by the earliest deadline, so h2o's fixed-duration timeout lists are
 * not needed for arbitrary delays. */
#include "loop/loop.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <unistd.h>

struct kf_loop {
    h2o_evloop_t *evloop;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
    kf_timer_t **heap; /* 1-based */
    size_t heap_len, heap_cap;
    int aux_fd;              /* epoll set of foreign fds, created on first watch */
    h2o_socket_t *aux_sock;
    struct kf_watch *graveyard;
};

typedef struct {
    h2o_multithread_message_t super;
    void (*fn)(void *);
    void *arg;
} post_msg_t;

struct kf_watch {
    kf_loop_t *loop;
    int fd, events, dead;
    kf_watch_fn cb;
    void *ud;
    kf_watch_t *next_dead;
};

static __thread kf_loop_t *current_loop;

uint64_t kf_loop_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_posts(h2o_multithread_receiver_t *r, h2o_linklist_t *messages) {
    (void)r;
    while (!h2o_linklist_is_empty(messages)) {
        post_msg_t *m = H2O_STRUCT_FROM_MEMBER(post_msg_t, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        m->fn(m->arg);
        free(m);
    }
}

kf_loop_t *kf_loop_new(void) {
    kf_loop_t *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->evloop = h2o_evloop_create();
    l->queue = h2o_multithread_create_queue(l->evloop);
    h2o_multithread_register_receiver(l->queue, &l->receiver, on_posts);
    return l;
}

void kf_loop_free(kf_loop_t *l) {
    if (!l) return;
    h2o_multithread_unregister_receiver(l->queue, &l->receiver);
    h2o_multithread_destroy_queue(l->queue);
    free(l->heap);
    free(l);
    /* h2o 2.2 has no evloop destroy; the loop lives until exit. */
}

h2o_evloop_t *kf_loop_h2o(kf_loop_t *l) { return l->evloop; }
kf_loop_t *kf_loop_current(void) { return current_loop; }
void kf_loop_set_current(kf_loop_t *l) { current_loop = l; }

int kf_loop_post(kf_loop_t *l, void (*fn)(void *), void *arg) {
    post_msg_t *m = calloc(1, sizeof *m);
    if (!m) return -1;
    m->fn = fn;
    m->arg = arg;
    h2o_multithread_send_message(&l->receiver, &m->super);
    return 0;
}

/* ---- timer heap ---- */

static void heap_set(kf_loop_t *l, size_t i, kf_timer_t *t) {
    l->heap[i] = t;
    t->heap_idx = i;
}

static void sift_up(kf_loop_t *l, size_t i) {
    kf_timer_t *t = l->heap[i];
    while (i > 1 && l->heap[i / 2]->due_ms > t->due_ms) {
        heap_set(l, i, l->heap[i / 2]);
        i /= 2;
    }
    heap_set(l, i, t);
}

static void sift_down(kf_loop_t *l, size_t i) {
    kf_timer_t *t = l->heap[i];
    for (;;) {
        size_t c = i * 2;
        if (c > l->heap_len) break;
        if (c + 1 <= l->heap_len && l->heap[c + 1]->due_ms < l->heap[c]->due_ms) c++;
        if (l->heap[c]->due_ms >= t->due_ms) break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, t);
}

int kf_timer_active(const kf_timer_t *t) { return t->heap_idx != 0; }

void kf_timer_stop(kf_loop_t *l, kf_timer_t *t) {
    size_t i = t->heap_idx;
    if (!i) return;
    t->heap_idx = 0;
    kf_timer_t *last = l->heap[l->heap_len--];
    if (last == t) return;
    heap_set(l, i, last);
    sift_up(l, i);
    sift_down(l, last->heap_idx);
}

void kf_timer_start(kf_loop_t *l, kf_timer_t *t, uint64_t delay_ms, kf_timer_fn cb) {
    kf_timer_stop(l, t);
    if (l->heap_len + 1 >= l->heap_cap) {
        size_t cap = l->heap_cap ? l->heap_cap * 2 : 64;
        kf_timer_t **h = realloc(l->heap, cap * sizeof *h);
        if (!h) abort(); /* a lost timer would hang a request: fail loudly */
        l->heap = h;
        l->heap_cap = cap;
    }
    t->cb = cb;
    t->due_ms = kf_loop_now_ms() + delay_ms;
    l->heap_len++;
    heap_set(l, l->heap_len, t);
    sift_up(l, l->heap_len);
}

static void run_timers(kf_loop_t *l) {
    uint64_t now = kf_loop_now_ms();
    while (l->heap_len && l->heap[1]->due_ms <= now) {
        kf_timer_t *t = l->heap[1];
        kf_timer_stop(l, t);
        t->cb(t);
    }
}

void kf_loop_run_once(kf_loop_t *l, int32_t max_wait_ms) {
    if (l->heap_len) {
        uint64_t now = kf_loop_now_ms(), due = l->heap[1]->due_ms;
        int32_t until = due <= now ? 0 : (int32_t)(due - now);
        if (until < max_wait_ms) max_wait_ms = until;
    }
    h2o_evloop_run(l->evloop, max_wait_ms);
    run_timers(l);
    while (l->graveyard) {
        kf_watch_t *w = l->graveyard;
        l->graveyard = w->next_dead;
        free(w);
    }
}

/* ---- fd watches ----
 * Foreign fds go into a per-loop epoll set whose own fd is watched by h2o
 * (DONT_READ: readiness only).  Level-triggered, so a callback that does not
 * drain its fd simply runs again; no write-readiness is ever guessed. */

static void on_aux_ready(h2o_socket_t *sock, const char *err) {
    kf_loop_t *l = sock->data;
    (void)err;
    struct epoll_event ev[64];
    int n = epoll_wait(l->aux_fd, ev, 64, 0);
    for (int i = 0; i < n; i++) {
        kf_watch_t *w = ev[i].data.ptr;
        int events = 0;
        if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) events |= KF_WATCH_READ;
        if (ev[i].events & (EPOLLOUT | EPOLLERR)) events |= KF_WATCH_WRITE;
        events &= w->events;
        if (w->dead || !events) continue;
        w->cb(w, events, w->ud);
    }
    /* watches freed inside callbacks are released only now, so ev[] never dangles */
    while (l->graveyard) {
        kf_watch_t *w = l->graveyard;
        l->graveyard = w->next_dead;
        free(w);
    }
}

static int aux_init(kf_loop_t *l) {
    if (l->aux_sock) return 0;
    l->aux_fd = epoll_create1(EPOLL_CLOEXEC);
    if (l->aux_fd < 0) return -1;
    l->aux_sock = h2o_evloop_socket_create(l->evloop, l->aux_fd, H2O_SOCKET_FLAG_DONT_READ);
    l->aux_sock->data = l;
    h2o_socket_read_start(l->aux_sock, on_aux_ready);
    return 0;
}

kf_watch_t *kf_watch_new(kf_loop_t *l, int fd, kf_watch_fn cb, void *ud) {
    if (aux_init(l) < 0) return NULL;
    kf_watch_t *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->loop = l;
    w->fd = fd;
    w->cb = cb;
    w->ud = ud;
    struct epoll_event ev = {.events = 0, .data.ptr = w};
    if (epoll_ctl(l->aux_fd, EPOLL_CTL_ADD, fd, &ev) < 0) { free(w); return NULL; }
    return w;
}

void kf_watch_set(kf_watch_t *w, int events) {
    w->events = events;
    struct epoll_event ev = {.events = 0, .data.ptr = w};
    if (events & KF_WATCH_READ) ev.events |= EPOLLIN;
    if (events & KF_WATCH_WRITE) ev.events |= EPOLLOUT;
    epoll_ctl(w->loop->aux_fd, EPOLL_CTL_MOD, w->fd, &ev);
}

void kf_watch_free(kf_watch_t *w) {
    if (!w) return;
    /* the fd may already be closed by its owner: then the kernel dropped it */
    epoll_ctl(w->loop->aux_fd, EPOLL_CTL_DEL, w->fd, NULL);
    w->dead = 1;
    w->next_dead = w->loop->graveyard;
    w->loop->graveyard = w;
}
