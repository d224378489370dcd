/* agents.c — live agent state for routing: status, skills, languages,
 * capacity and load.  An agent who is online with free capacity sits in one
 * heap per (skill, language) pair it covers, least loaded first (load /
 * max_chats, then the longest since its last assignment, then the oldest
 * registration), so the best agent for a conversation is the top of one heap
 * and every load or status change costs O(k log a) for its k pairs.
 * Stickiness: the customer → last agent map, kept as long as the router. */
#include <stdlib.h>
#include <string.h>

#include "router/routing_int.h"

int kf_rt_agent_can_take(const rt_agent_t *a, int lang) {
    return a->status == KF_ROUTING_ONLINE && a->load < a->max_chats && (a->langs >> lang & 1u);
}

void kf_rt_agent_rekey(kf_routing_t *r, rt_agent_t *a) {
    int room = a->status == KF_ROUTING_ONLINE && a->load < a->max_chats;
    double key = a->max_chats > 0 ? -(double)a->load / a->max_chats : 0;
    for (int s = 0; s < r->n_skills; s++)
        for (int l = 0; l < r->n_langs; l++) {
            kf_rq_node_t *n = &a->node[s][l];
            int want = room && (a->skills >> s & 1u) && (a->langs >> l & 1u);
            n->key = key;
            n->tie = a->last_assigned_ms;
            if (want && kf_rq_in(n)) kf_rq_update(&r->avail[s][l], n);
            else if (want) kf_rq_push(&r->avail[s][l], n); /* out of memory: the agent is just not offered here */
            else if (kf_rq_in(n)) kf_rq_remove(&r->avail[s][l], n);
        }
}

static uint32_t mask_of(kf_routing_t *r, const char *const *names, size_t n, int lang) {
    uint32_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int k = names[i] ? (lang ? kf_rt_lang(r, names[i]) : kf_rt_skill(r, names[i])) : -1;
        if (k < 0) return 0;
        m |= 1u << k;
    }
    return m;
}

static int upsert_locked(kf_routing_t *r, const char *id, const char *const *skills, size_t n_skills,
                         const char *const *langs, size_t n_langs, int max_chats) {
    uint32_t sm = mask_of(r, skills, n_skills, 0), lm = mask_of(r, langs, n_langs, 1);
    if (!id || !*id || strlen(id) >= KF_ROUTING_ID_MAX || !sm || !lm || max_chats < 1) return KF_ROUTING_EINVAL;
    rt_agent_t *a = kf_rix_get(&r->agents, id);
    if (!a) {
        if (!(a = calloc(1, sizeof *a))) return KF_ROUTING_ENOMEM;
        strcpy(a->id, id);
        a->status = KF_ROUTING_OFFLINE;
        a->last_assigned_ms = INT64_MIN; /* never assigned: before anyone who was */
        uint64_t seq = r->seq++;
        for (int s = 0; s < KF_ROUTING_MAX_SKILLS; s++)
            for (int l = 0; l < KF_ROUTING_MAX_LANGS; l++)
                a->node[s][l] = (kf_rq_node_t){.pos = KF_RQ_NONE, .owner = a, .seq = seq};
        if (kf_rix_put(&r->agents, a->id, a)) {
            free(a);
            return KF_ROUTING_ENOMEM;
        }
    }
    a->skills = sm;
    a->langs = lm;
    a->max_chats = max_chats;
    kf_rt_agent_rekey(r, a);
    return KF_ROUTING_OK;
}

int kf_routing_agent_upsert(kf_routing_t *r, const char *agent_id, const char *const *skills, size_t n_skills,
                            const char *const *langs, size_t n_langs, int max_chats) {
    pthread_mutex_lock(&r->mu);
    int rc = upsert_locked(r, agent_id, skills, n_skills, langs, n_langs, max_chats);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* Going away or offline keeps the chats the agent already has (they are
 * released one by one); it only stops new offers. */
int kf_routing_agent_status(kf_routing_t *r, const char *agent_id, kf_routing_presence_t st, int64_t now_ms) {
    (void)now_ms;
    pthread_mutex_lock(&r->mu);
    rt_agent_t *a = agent_id ? kf_rix_get(&r->agents, agent_id) : NULL;
    if (a) {
        a->status = st;
        kf_rt_agent_rekey(r, a);
    }
    pthread_mutex_unlock(&r->mu);
    return a ? KF_ROUTING_OK : KF_ROUTING_ENOENT;
}

int kf_routing_agent_info(kf_routing_t *r, const char *agent_id, kf_routing_agent_info_t *out) {
    pthread_mutex_lock(&r->mu);
    rt_agent_t *a = agent_id ? kf_rix_get(&r->agents, agent_id) : NULL;
    if (a) *out = (kf_routing_agent_info_t){a->status, a->load, a->max_chats, a->last_assigned_ms};
    pthread_mutex_unlock(&r->mu);
    return a ? KF_ROUTING_OK : KF_ROUTING_ENOENT;
}

int kf_rt_excluded(const rt_conv_t *c, const rt_agent_t *a) {
    int n = c->n_excluded < KF_RT_EXCLUDE ? c->n_excluded : KF_RT_EXCLUDE;
    for (int i = 0; i < n; i++)
        if (!strcmp(c->excluded[i], a->id)) return 1;
    return 0;
}

/* The top of the (skill, lang) heap, skipping at most KF_RT_EXCLUDE agents
 * who refused c: they are popped aside and pushed back, O(log a) each. */
rt_agent_t *kf_rt_best_agent(kf_routing_t *r, int skill, int lang, const rt_conv_t *c) {
    kf_rq_t *h = &r->avail[skill][lang];
    kf_rq_node_t *aside[KF_RT_EXCLUDE];
    int n = 0;
    rt_agent_t *best = NULL;
    kf_rq_node_t *top;
    while ((top = kf_rq_peek(h))) {
        rt_agent_t *a = top->owner;
        if (!c || !kf_rt_excluded(c, a)) {
            best = a;
            break;
        }
        if (n == KF_RT_EXCLUDE) break;
        aside[n++] = kf_rq_pop(h);
    }
    while (n) kf_rq_push(h, aside[--n]); /* the array keeps its capacity: cannot fail */
    return best;
}

rt_agent_t *kf_rt_sticky_agent(kf_routing_t *r, const char *customer, int skill, int lang, const rt_conv_t *c) {
    if (!customer || !*customer) return NULL;
    rt_sticky_t *st = kf_rix_get(&r->sticky, customer);
    rt_agent_t *a = st ? kf_rix_get(&r->agents, st->agent) : NULL;
    if (!a || !kf_rt_agent_can_take(a, lang) || !(a->skills >> skill & 1u)) return NULL;
    if (c && kf_rt_excluded(c, a)) return NULL;
    return a;
}

int kf_rt_remember(kf_routing_t *r, const char *customer, const char *agent) {
    if (!customer || !*customer) return 0;
    rt_sticky_t *st = kf_rix_get(&r->sticky, customer);
    if (!st) {
        if (!(st = calloc(1, sizeof *st))) return -1;
        strcpy(st->customer, customer);
        if (kf_rix_put(&r->sticky, st->customer, st)) {
            free(st);
            return -1;
        }
    }
    strcpy(st->agent, agent);
    return 0;
}
