/* routing_int.h — private to src/router/: the router's state (struct
 * kf_routing), its conversations and agents, and the two containers
 * everything is built on: an intrusive binary heap with positions (kf_rq_*:
 * O(log n) push, pop, remove and re-key of any member) and a string-keyed
 * hash index (kf_rix_*: conversation, agent and customer ids).
 * Functions named kf_rt_* expect the router's mutex to be held. */
#ifndef KF_ROUTER_ROUTING_INT_H
#define KF_ROUTER_ROUTING_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "router/routing.h"

/* ---- intrusive heap: highest key first, then lowest tie, then lowest seq ---- */
typedef struct {
    double key;
    int64_t tie;
    uint64_t seq;
    size_t pos;  /* index in the heap's array; KF_RQ_NONE when not in a heap */
    void *owner; /* the conversation or agent this node belongs to */
} kf_rq_node_t;
#define KF_RQ_NONE ((size_t)-1)

typedef struct {
    kf_rq_node_t **a;
    size_t n, cap;
} kf_rq_t;

void kf_rq_init(kf_rq_t *q);
void kf_rq_free(kf_rq_t *q);
int kf_rq_push(kf_rq_t *q, kf_rq_node_t *n); /* -1: out of memory */
kf_rq_node_t *kf_rq_peek(const kf_rq_t *q);
kf_rq_node_t *kf_rq_pop(kf_rq_t *q);
void kf_rq_remove(kf_rq_t *q, kf_rq_node_t *n); /* n must be in q */
void kf_rq_update(kf_rq_t *q, kf_rq_node_t *n); /* after n's key/tie changed */
static inline int kf_rq_in(const kf_rq_node_t *n) { return n->pos != KF_RQ_NONE; }
/* 1 when a goes before b. */
int kf_rq_before(const kf_rq_node_t *a, const kf_rq_node_t *b);

/* ---- string → pointer index (linear probing, backward-shift deletion) ---- */
typedef struct {
    const char *key; /* owned by the value */
    void *val;
} kf_rix_slot_t;

typedef struct {
    kf_rix_slot_t *s;
    size_t cap, n; /* cap: a power of two */
} kf_rix_t;

void kf_rix_init(kf_rix_t *x);
void kf_rix_free(kf_rix_t *x);
void *kf_rix_get(const kf_rix_t *x, const char *key);
int kf_rix_put(kf_rix_t *x, const char *key, void *val); /* replaces; -1: out of memory */
void *kf_rix_del(kf_rix_t *x, const char *key);           /* the removed value or NULL */

/* ---- the router's objects ---- */
#define KF_RT_EXCLUDE 4 /* agents who let an offer go, not offered it again */

typedef struct rt_agent rt_agent_t;

typedef struct {
    char id[KF_ROUTING_ID_MAX], customer[KF_ROUTING_ID_MAX];
    int skill, lang;
    double base;
    int64_t enqueued_ms, offered_ms;
    kf_routing_conv_state_t state;
    kf_rq_node_t prio, age; /* in r->q and r->age of (skill, lang) while waiting */
    kf_rq_node_t deadline;  /* in r->offers while offered */
    rt_agent_t *agent;      /* offered to or assigned to */
    char excluded[KF_RT_EXCLUDE][KF_ROUTING_ID_MAX];
    int n_excluded;         /* ring: the last KF_RT_EXCLUDE refusals */
    int overflowed, transfers, rejections;
} rt_conv_t;

struct rt_agent {
    char id[KF_ROUTING_ID_MAX];
    uint32_t skills; /* bit per skill index */
    uint32_t langs;  /* bit per language index */
    int max_chats, load;
    kf_routing_presence_t status;
    int64_t last_assigned_ms;
    kf_rq_node_t node[KF_ROUTING_MAX_SKILLS][KF_ROUTING_MAX_LANGS]; /* in r->avail while available */
};

typedef struct {
    char customer[KF_ROUTING_ID_MAX], agent[KF_ROUTING_ID_MAX];
} rt_sticky_t;

struct kf_routing {
    pthread_mutex_t mu;
    kf_routing_config_t cfg;
    char skills[KF_ROUTING_MAX_SKILLS][KF_ROUTING_NAME_MAX];
    char langs[KF_ROUTING_MAX_LANGS][KF_ROUTING_NAME_MAX];
    int n_skills, n_langs, fallback; /* fallback: skill index or -1 */
    kf_rq_t q[KF_ROUTING_MAX_SKILLS][KF_ROUTING_MAX_LANGS];     /* waiting, by effective priority */
    kf_rq_t age[KF_ROUTING_MAX_SKILLS][KF_ROUTING_MAX_LANGS];   /* waiting, oldest first */
    kf_rq_t avail[KF_ROUTING_MAX_SKILLS][KF_ROUTING_MAX_LANGS]; /* online agents with room, least loaded first */
    kf_rq_t offers;  /* by deadline, earliest first */
    kf_rix_t convs, agents, sticky;
    uint64_t seq;
};

int kf_rt_skill(const kf_routing_t *r, const char *name); /* index or -1 */
int kf_rt_lang(const kf_routing_t *r, const char *name);
/* queue.c */
int kf_rt_queue_push(kf_routing_t *r, rt_conv_t *c);
void kf_rt_queue_drop(kf_routing_t *r, rt_conv_t *c);
double kf_rt_effective(const kf_routing_t *r, const rt_conv_t *c, int64_t now_ms);
size_t kf_rt_overflow(kf_routing_t *r, int64_t now_ms); /* conversations moved */
/* agents.c */
void kf_rt_agent_rekey(kf_routing_t *r, rt_agent_t *a); /* after load/status/capacity changed */
int kf_rt_agent_can_take(const rt_agent_t *a, int lang);
int kf_rt_excluded(const rt_conv_t *c, const rt_agent_t *a);
/* The best available agent for (skill, lang) not excluded by c; NULL if none. */
rt_agent_t *kf_rt_best_agent(kf_routing_t *r, int skill, int lang, const rt_conv_t *c);
/* The customer's last agent when it may take a conversation in lang now. */
rt_agent_t *kf_rt_sticky_agent(kf_routing_t *r, const char *customer, int skill, int lang, const rt_conv_t *c);
int kf_rt_remember(kf_routing_t *r, const char *customer, const char *agent);

#endif
