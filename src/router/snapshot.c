/* snapshot.c — read-only views of the router for people: every conversation
 * it holds (the agent console's queue lists) and the numbers per skill and
 * over agents (GET /v1/stats, /metrics).  Both walk whole tables, O(n) in
 * conversations or agents under the router's mutex: they serve dashboards a
 * few times a second, never a routing decision. */
#include <stdlib.h>
#include <string.h>

#include "router/routing_int.h"

static int by_skill_then_priority(const void *pa, const void *pb) {
    const kf_routing_entry_t *a = pa, *b = pb;
    int s = strcmp(a->skill, b->skill);
    if (s) return s;
    if (a->state != b->state) return (int)a->state - (int)b->state; /* waiting, offered, assigned */
    if (a->effective_priority != b->effective_priority) return a->effective_priority > b->effective_priority ? -1 : 1;
    return a->enqueued_ms < b->enqueued_ms ? -1 : a->enqueued_ms > b->enqueued_ms;
}

static void fill(const kf_routing_t *r, const rt_conv_t *c, int64_t now_ms, kf_routing_entry_t *e) {
    memset(e, 0, sizeof *e);
    strcpy(e->conv_id, c->id);
    strcpy(e->skill, r->skills[c->skill]);
    strcpy(e->lang, r->langs[c->lang]);
    if (c->agent) strcpy(e->agent_id, c->agent->id);
    e->state = c->state;
    e->effective_priority = kf_rt_effective(r, c, now_ms);
    e->enqueued_ms = c->enqueued_ms;
    e->offered_ms = c->state == KF_ROUTING_OFFERED ? c->offered_ms : 0;
}

size_t kf_routing_snapshot(kf_routing_t *r, int64_t now_ms, kf_routing_entry_t **out) {
    pthread_mutex_lock(&r->mu);
    size_t n = 0;
    kf_routing_entry_t *v = r->convs.n ? malloc(r->convs.n * sizeof *v) : NULL;
    for (size_t i = 0; v && i < r->convs.cap; i++)
        if (r->convs.s[i].key) fill(r, r->convs.s[i].val, now_ms, &v[n++]);
    pthread_mutex_unlock(&r->mu);
    if (n > 1) qsort(v, n, sizeof *v, by_skill_then_priority);
    *out = v;
    return n;
}

void kf_routing_stats(kf_routing_t *r, int64_t now_ms, kf_routing_stats_t *out) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&r->mu);
    out->n_skills = (size_t)r->n_skills;
    for (int s = 0; s < r->n_skills; s++) {
        kf_routing_skill_stats_t *k = &out->skills[s];
        strcpy(k->skill, r->skills[s]);
        for (int l = 0; l < r->n_langs; l++) {
            k->waiting += r->q[s][l].n;
            const kf_rq_node_t *old = kf_rq_peek(&r->age[s][l]);
            if (old) {
                int64_t w = now_ms - ((const rt_conv_t *)old->owner)->enqueued_ms;
                if (w > k->oldest_wait_ms) k->oldest_wait_ms = w;
            }
        }
    }
    for (size_t i = 0; i < r->convs.cap; i++) {
        const rt_conv_t *c = r->convs.s[i].key ? r->convs.s[i].val : NULL;
        if (c && c->state == KF_ROUTING_OFFERED) out->skills[c->skill].offered++;
        if (c && c->state == KF_ROUTING_ASSIGNED) out->skills[c->skill].assigned++;
    }
    for (size_t i = 0; i < r->agents.cap; i++) {
        const rt_agent_t *a = r->agents.s[i].key ? r->agents.s[i].val : NULL;
        if (!a || a->status == KF_ROUTING_OFFLINE) continue;
        if (a->status == KF_ROUTING_ONLINE) out->agents_online++;
        else out->agents_away++;
        out->load += a->load;
        out->capacity += a->status == KF_ROUTING_ONLINE ? a->max_chats : 0;
    }
    pthread_mutex_unlock(&r->mu);
}
