/* routing.c — the router's lifecycle and its offers: which waiting
 * conversation goes to which agent (kf_routing_assign_next), accept, reject
 * and offer timeouts (the conversation goes back to its queue with its wait
 * kept and the refusing agent excluded), transfer, and the live decision for
 * POST /v1/route.  Waiting queues: queue.c; agents: agents.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/routing_int.h"

static int name_index(const char (*names)[KF_ROUTING_NAME_MAX], int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s)) return i;
    return -1;
}

int kf_rt_skill(const kf_routing_t *r, const char *name) { return name_index(r->skills, r->n_skills, name); }
int kf_rt_lang(const kf_routing_t *r, const char *name) { return name_index(r->langs, r->n_langs, name); }

static int copy_names(char (*dst)[KF_ROUTING_NAME_MAX], const char *const *src, size_t n, size_t max) {
    if (!n || n > max) return -1;
    for (size_t i = 0; i < n; i++) {
        if (!src[i] || !*src[i] || strlen(src[i]) >= KF_ROUTING_NAME_MAX) return -1;
        strcpy(dst[i], src[i]);
    }
    return 0;
}

kf_routing_t *kf_routing_new(const kf_routing_config_t *cfg, const char *const *skills, size_t n_skills,
                             const char *const *langs, size_t n_langs) {
    kf_routing_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    if (copy_names(r->skills, skills, n_skills, KF_ROUTING_MAX_SKILLS) ||
        copy_names(r->langs, langs, n_langs, KF_ROUTING_MAX_LANGS)) {
        free(r);
        return NULL;
    }
    r->cfg = *cfg;
    r->n_skills = (int)n_skills;
    r->n_langs = (int)n_langs;
    r->fallback = kf_rt_skill(r, cfg->fallback_skill);
    pthread_mutex_init(&r->mu, NULL);
    return r; /* heaps and indexes start zeroed: calloc is their init */
}

static void free_all(kf_rix_t *x) {
    for (size_t i = 0; i < x->cap; i++)
        if (x->s[i].key) free(x->s[i].val);
    kf_rix_free(x);
}

void kf_routing_free(kf_routing_t *r) {
    if (!r) return;
    for (int s = 0; s < KF_ROUTING_MAX_SKILLS; s++)
        for (int l = 0; l < KF_ROUTING_MAX_LANGS; l++) {
            kf_rq_free(&r->q[s][l]);
            kf_rq_free(&r->age[s][l]);
            kf_rq_free(&r->avail[s][l]);
        }
    kf_rq_free(&r->offers);
    free_all(&r->convs);
    free_all(&r->agents);
    free_all(&r->sticky);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

const kf_routing_config_t *kf_routing_config(const kf_routing_t *r) { return &r->cfg; }

const char *kf_routing_kind_name(kf_routing_kind_t k) {
    return k == KF_ROUTING_AGENT ? "agent" : k == KF_ROUTING_SKILL ? "skill" : "bot";
}

/* ---- offers ---------------------------------------------------------------- */

static int offer(kf_routing_t *r, rt_conv_t *c, rt_agent_t *a, int64_t now_ms) {
    c->deadline.key = -((double)now_ms + r->cfg.offer_timeout_s * 1000.0);
    c->deadline.tie = 0;
    c->deadline.seq = r->seq++;
    if (kf_rq_push(&r->offers, &c->deadline)) return KF_ROUTING_ENOMEM;
    kf_rt_queue_drop(r, c);
    c->state = KF_ROUTING_OFFERED;
    c->agent = a;
    c->offered_ms = now_ms;
    a->load++;
    a->last_assigned_ms = now_ms;
    kf_rt_agent_rekey(r, a);
    return KF_ROUTING_OK;
}

/* The agent for the head c of queue (s, l): its customer's last agent, else
 * the least-loaded one who has not refused it; when every available agent
 * refused it, the least-loaded anyway (a refusal steers, it does not ban, or
 * one refusal would block the whole queue behind c). */
static rt_agent_t *agent_for(kf_routing_t *r, int s, int l, const rt_conv_t *c, int *sticky) {
    rt_agent_t *a = kf_rt_sticky_agent(r, c->customer, s, l, c);
    *sticky = a != NULL;
    if (!a) a = kf_rt_best_agent(r, s, l, c);
    if (!a) a = kf_rt_best_agent(r, s, l, NULL);
    return a;
}

static int assign_locked(kf_routing_t *r, int64_t now_ms, kf_routing_offer_t *out) {
    rt_conv_t *best = NULL;
    rt_agent_t *best_a = NULL;
    int best_sticky = 0;
    for (int s = 0; s < r->n_skills; s++)
        for (int l = 0; l < r->n_langs; l++) {
            kf_rq_node_t *top = kf_rq_peek(&r->q[s][l]);
            int sticky;
            if (!top || !r->avail[s][l].n || (best && !kf_rq_before(top, &best->prio))) continue;
            rt_agent_t *a = agent_for(r, s, l, top->owner, &sticky);
            if (!a) continue;
            best = top->owner;
            best_a = a;
            best_sticky = sticky;
        }
    if (!best || offer(r, best, best_a, now_ms)) return 0;
    snprintf(out->conv_id, sizeof out->conv_id, "%s", best->id);
    snprintf(out->agent_id, sizeof out->agent_id, "%s", best_a->id);
    snprintf(out->skill, sizeof out->skill, "%s", r->skills[best->skill]);
    out->sticky = best_sticky;
    return 1;
}

int kf_routing_assign_next(kf_routing_t *r, int64_t now_ms, kf_routing_offer_t *out) {
    pthread_mutex_lock(&r->mu);
    int rc = assign_locked(r, now_ms, out);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static rt_conv_t *offered_to(kf_routing_t *r, const char *conv_id, const char *agent_id, int *rc) {
    rt_conv_t *c = conv_id ? kf_rix_get(&r->convs, conv_id) : NULL;
    *rc = KF_ROUTING_OK;
    if (!c) *rc = KF_ROUTING_ENOENT;
    else if (c->state != KF_ROUTING_OFFERED || !c->agent || !agent_id || strcmp(c->agent->id, agent_id))
        *rc = KF_ROUTING_ESTATE;
    return *rc ? NULL : c;
}

int kf_routing_accept(kf_routing_t *r, const char *conv_id, const char *agent_id, int64_t now_ms) {
    (void)now_ms;
    int rc;
    pthread_mutex_lock(&r->mu);
    rt_conv_t *c = offered_to(r, conv_id, agent_id, &rc);
    if (c) {
        kf_rq_remove(&r->offers, &c->deadline);
        c->state = KF_ROUTING_ASSIGNED;
        if (kf_rt_remember(r, c->customer, c->agent->id)) rc = KF_ROUTING_ENOMEM; /* assigned all the same */
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* Takes c away from its agent (offer or chat) and frees the agent's slot. */
static void detach(kf_routing_t *r, rt_conv_t *c) {
    if (kf_rq_in(&c->deadline)) kf_rq_remove(&r->offers, &c->deadline);
    if (c->agent) {
        c->agent->load--;
        kf_rt_agent_rekey(r, c->agent);
        c->agent = NULL;
    }
}

/* The offer of c lapsed or was refused: back to the queue, wait kept. */
static int refuse(kf_routing_t *r, rt_conv_t *c) {
    snprintf(c->excluded[c->n_excluded++ % KF_RT_EXCLUDE], KF_ROUTING_ID_MAX, "%s", c->agent->id);
    c->rejections++;
    detach(r, c);
    return kf_rt_queue_push(r, c);
}

int kf_routing_reject(kf_routing_t *r, const char *conv_id, const char *agent_id, int64_t now_ms) {
    (void)now_ms;
    int rc;
    pthread_mutex_lock(&r->mu);
    rt_conv_t *c = offered_to(r, conv_id, agent_id, &rc);
    if (c) rc = refuse(r, c);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void kf_routing_tick(kf_routing_t *r, int64_t now_ms, size_t *timeouts, size_t *overflows) {
    size_t t = 0;
    pthread_mutex_lock(&r->mu);
    kf_rq_node_t *n;
    while ((n = kf_rq_peek(&r->offers)) && -n->key <= (double)now_ms) {
        refuse(r, n->owner);
        t++;
    }
    size_t o = kf_rt_overflow(r, now_ms);
    pthread_mutex_unlock(&r->mu);
    if (timeouts) *timeouts = t;
    if (overflows) *overflows = o;
}

/* ---- transfer ---------------------------------------------------------------- */

static int transfer_locked(kf_routing_t *r, rt_conv_t *c, const char *to_skill, const char *to_agent,
                           int64_t now_ms) {
    int s = to_skill ? kf_rt_skill(r, to_skill) : c->skill;
    rt_agent_t *a = to_agent ? kf_rix_get(&r->agents, to_agent) : NULL;
    if (s < 0 || (!to_skill && !to_agent)) return KF_ROUTING_EINVAL;
    if (to_agent && !a) return KF_ROUTING_ENOENT;
    if (a && (a == c->agent || !kf_rt_agent_can_take(a, c->lang))) return KF_ROUTING_EBUSY;
    int was_served = c->state == KF_ROUTING_ASSIGNED;
    kf_rt_queue_drop(r, c);
    detach(r, c);
    c->skill = s;
    c->transfers++;
    c->n_excluded = 0;
    c->overflowed = 0;
    if (was_served) c->enqueued_ms = now_ms; /* a new wait; a waiting customer keeps theirs */
    if (a) return offer(r, c, a, now_ms);
    return kf_rt_queue_push(r, c);
}

int kf_routing_transfer(kf_routing_t *r, const char *conv_id, const char *to_skill, const char *to_agent,
                        int64_t now_ms) {
    pthread_mutex_lock(&r->mu);
    rt_conv_t *c = conv_id ? kf_rix_get(&r->convs, conv_id) : NULL;
    int rc = c ? transfer_locked(r, c, to_skill, to_agent, now_ms) : KF_ROUTING_ENOENT;
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* ---- the live decision ------------------------------------------------------ */

__attribute__((format(printf, 2, 3))) static void append(kf_routing_decision_t *d, const char *fmt, ...) {
    size_t n = strlen(d->reason);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason + n, sizeof d->reason - n, fmt, ap);
    va_end(ap);
}

/* Would a conversation of priority p, arriving now, be at the head of (s, l)? */
static int would_lead(const kf_routing_t *r, int s, int l, double p, int64_t now_ms) {
    kf_rq_node_t *top = kf_rq_peek(&r->q[s][l]);
    return !top || p - r->cfg.aging_per_s * (double)now_ms / 1000.0 > top->key;
}

void kf_routing_decide_live(kf_routing_t *r, const kf_routing_input_t *in, int64_t now_ms,
                            kf_routing_decision_t *out) {
    kf_routing_decide(&r->cfg, in, out);
    if (out->kind != KF_ROUTING_SKILL) return;
    pthread_mutex_lock(&r->mu);
    int s = kf_rt_skill(r, out->skill), l = in->language ? kf_rt_lang(r, in->language) : -1;
    rt_agent_t *a = s >= 0 && l >= 0 ? kf_rt_sticky_agent(r, in->customer_id, s, l, NULL) : NULL;
    rt_agent_t *free_a = s >= 0 && l >= 0 && !a ? kf_rt_best_agent(r, s, l, NULL) : NULL;
    if (a) {
        append(out, "; %s served this customer last and is online with room", a->id);
    } else if (free_a && would_lead(r, s, l, out->priority, now_ms)) {
        a = free_a;
        append(out, "; %s is the least-loaded agent free now (%d of %d chats)", a->id, a->load, a->max_chats);
    } else if (s >= 0 && l >= 0) {
        append(out, "; waits in the %s/%s queue (%zu waiting, %s)", out->skill, in->language, r->q[s][l].n,
               free_a ? "more urgent ones first" : "no agent free");
    }
    if (a) {
        out->kind = KF_ROUTING_AGENT;
        snprintf(out->agent_id, sizeof out->agent_id, "%s", a->id);
    }
    pthread_mutex_unlock(&r->mu);
}
