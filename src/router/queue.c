/* queue.c — conversations waiting for a human: one priority queue per
 * (skill, language) ordered by effective priority (routing.h states the aging
 * formula and why a static heap key is enough), a second heap per queue
 * ordered by waiting time so overflow finds the longest waiter in O(1), and
 * leaving the queue in O(log n) through the nodes' positions. */
#include <stdlib.h>
#include <string.h>

#include "router/routing_int.h"

static double prio_key(const kf_routing_t *r, double base, int64_t enqueued_ms) {
    return base - r->cfg.aging_per_s * (double)enqueued_ms / 1000.0;
}

double kf_rt_effective(const kf_routing_t *r, const rt_conv_t *c, int64_t now_ms) {
    return c->base + r->cfg.aging_per_s * (double)(now_ms - c->enqueued_ms) / 1000.0;
}

int kf_rt_queue_push(kf_routing_t *r, rt_conv_t *c) {
    c->prio.key = prio_key(r, c->base, c->enqueued_ms);
    c->prio.tie = 0;
    c->prio.seq = c->age.seq = r->seq++;
    c->age.key = -(double)c->enqueued_ms;
    c->age.tie = 0;
    if (kf_rq_push(&r->q[c->skill][c->lang], &c->prio)) return KF_ROUTING_ENOMEM;
    if (kf_rq_push(&r->age[c->skill][c->lang], &c->age)) {
        kf_rq_remove(&r->q[c->skill][c->lang], &c->prio);
        return KF_ROUTING_ENOMEM;
    }
    c->state = KF_ROUTING_WAITING;
    return KF_ROUTING_OK;
}

void kf_rt_queue_drop(kf_routing_t *r, rt_conv_t *c) {
    if (kf_rq_in(&c->prio)) kf_rq_remove(&r->q[c->skill][c->lang], &c->prio);
    if (kf_rq_in(&c->age)) kf_rq_remove(&r->age[c->skill][c->lang], &c->age);
}

static void copy_id(char *dst, const char *src) {
    size_t n = strlen(src);
    if (n >= KF_ROUTING_ID_MAX) n = KF_ROUTING_ID_MAX - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int enqueue_locked(kf_routing_t *r, const char *conv_id, const char *customer_id, const char *skill,
                          const char *lang, double base, int64_t now_ms) {
    int s = skill ? kf_rt_skill(r, skill) : -1, l = lang ? kf_rt_lang(r, lang) : -1;
    if (!conv_id || !*conv_id || strlen(conv_id) >= KF_ROUTING_ID_MAX || s < 0 || l < 0) return KF_ROUTING_EINVAL;
    if (kf_rix_get(&r->convs, conv_id)) return KF_ROUTING_EEXIST;
    rt_conv_t *c = calloc(1, sizeof *c);
    if (!c) return KF_ROUTING_ENOMEM;
    copy_id(c->id, conv_id);
    if (customer_id) copy_id(c->customer, customer_id);
    c->skill = s;
    c->lang = l;
    c->base = base;
    c->enqueued_ms = now_ms;
    c->prio.pos = c->age.pos = c->deadline.pos = KF_RQ_NONE;
    c->prio.owner = c->age.owner = c->deadline.owner = c;
    if (kf_rix_put(&r->convs, c->id, c) || kf_rt_queue_push(r, c)) {
        kf_rix_del(&r->convs, c->id);
        free(c);
        return KF_ROUTING_ENOMEM;
    }
    return KF_ROUTING_OK;
}

int kf_routing_enqueue(kf_routing_t *r, const char *conv_id, const char *customer_id, const char *skill,
                       const char *lang, double base_priority, int64_t now_ms) {
    pthread_mutex_lock(&r->mu);
    int rc = enqueue_locked(r, conv_id, customer_id, skill, lang, base_priority, now_ms);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* Takes c out of whatever holds it (queue, offer, agent) and frees it. */
static void forget(kf_routing_t *r, rt_conv_t *c) {
    kf_rt_queue_drop(r, c);
    if (kf_rq_in(&c->deadline)) kf_rq_remove(&r->offers, &c->deadline);
    if (c->agent) {
        c->agent->load--;
        kf_rt_agent_rekey(r, c->agent);
    }
    kf_rix_del(&r->convs, c->id);
    free(c);
}

int kf_routing_leave(kf_routing_t *r, const char *conv_id, int64_t now_ms) {
    (void)now_ms;
    pthread_mutex_lock(&r->mu);
    rt_conv_t *c = conv_id ? kf_rix_get(&r->convs, conv_id) : NULL;
    int rc = c ? KF_ROUTING_OK : KF_ROUTING_ENOENT;
    if (c && c->state == KF_ROUTING_ASSIGNED) rc = KF_ROUTING_ESTATE; /* an agent owns it: release, not leave */
    else if (c) forget(r, c);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int kf_routing_release(kf_routing_t *r, const char *conv_id, int64_t now_ms) {
    (void)now_ms;
    pthread_mutex_lock(&r->mu);
    rt_conv_t *c = conv_id ? kf_rix_get(&r->convs, conv_id) : NULL;
    int rc = c ? KF_ROUTING_OK : KF_ROUTING_ENOENT;
    if (c && c->state != KF_ROUTING_ASSIGNED) rc = KF_ROUTING_ESTATE;
    else if (c) forget(r, c);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int kf_routing_conv_info(kf_routing_t *r, const char *conv_id, int64_t now_ms, kf_routing_conv_info_t *out) {
    pthread_mutex_lock(&r->mu);
    rt_conv_t *c = conv_id ? kf_rix_get(&r->convs, conv_id) : NULL;
    if (c) {
        memset(out, 0, sizeof *out);
        out->state = c->state;
        strcpy(out->skill, r->skills[c->skill]);
        if (c->agent) strcpy(out->agent_id, c->agent->id);
        out->effective_priority = kf_rt_effective(r, c, now_ms);
        out->enqueued_ms = c->enqueued_ms;
        out->overflowed = c->overflowed;
        out->transfers = c->transfers;
        out->rejections = c->rejections;
    }
    pthread_mutex_unlock(&r->mu);
    return c ? KF_ROUTING_OK : KF_ROUTING_ENOENT;
}

int kf_routing_position(kf_routing_t *r, const char *conv_id, size_t *pos, size_t *waiting) {
    pthread_mutex_lock(&r->mu);
    rt_conv_t *c = conv_id ? kf_rix_get(&r->convs, conv_id) : NULL;
    int rc = !c ? KF_ROUTING_ENOENT : c->state != KF_ROUTING_WAITING ? KF_ROUTING_ESTATE : KF_ROUTING_OK;
    if (rc == KF_ROUTING_OK) {
        const kf_rq_t *q = &r->q[c->skill][c->lang];
        size_t ahead = 0;
        for (size_t i = 0; i < q->n; i++) ahead += kf_rq_before(q->a[i], &c->prio);
        *pos = ahead + 1;
        *waiting = q->n;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

size_t kf_routing_queue_len(kf_routing_t *r, const char *skill) {
    pthread_mutex_lock(&r->mu);
    int s = skill ? kf_rt_skill(r, skill) : -1;
    size_t n = 0;
    for (int l = 0; s >= 0 && l < r->n_langs; l++) n += r->q[s][l].n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Moves every conversation of (s, l) that has waited W seconds to the
 * fallback skill, once: in the fallback queue it keeps its wait and priority. */
size_t kf_rt_overflow(kf_routing_t *r, int64_t now_ms) {
    size_t moved = 0;
    int fb = r->fallback;
    int64_t limit = (int64_t)(r->cfg.overflow_after_s * 1000.0);
    if (fb < 0 || r->cfg.overflow_after_s <= 0) return 0;
    for (int s = 0; s < r->n_skills; s++) {
        if (s == fb) continue;
        for (int l = 0; l < r->n_langs; l++) {
            kf_rq_node_t *n;
            while ((n = kf_rq_peek(&r->age[s][l])) && now_ms - ((rt_conv_t *)n->owner)->enqueued_ms >= limit) {
                rt_conv_t *c = n->owner;
                kf_rt_queue_drop(r, c);
                c->skill = fb;
                c->overflowed = 1;
                if (kf_rt_queue_push(r, c)) { /* no memory for the fallback heap: leave it where it was */
                    c->skill = s;
                    c->overflowed = 0;
                    if (kf_rt_queue_push(r, c)) forget(r, c);
                    return moved;
                }
                moved++;
            }
        }
    }
    return moved;
}
