/* agents_auth_int.h — what agents_auth.c (tokens, presence, throttle) and
 * agents_login.c (the argon2id workers) share; nothing else includes it. */
#ifndef KF_ENGINE_AGENTS_AUTH_INT_H
#define KF_ENGINE_AGENTS_AUTH_INT_H

#include <pthread.h>

#include "engine/agents_auth.h"

typedef struct kf_agent_pool kf_agent_pool_t;

struct kf_agent_auth {
    kf_agent_auth_config_t cfg;
    pthread_mutex_t mu;          /* tokens, presence, throttle: short critical sections only */
    struct tok **tokens;         /* buckets by token digest */
    size_t ntokens;
    uint64_t issued;             /* every SWEEP_EVERY issues, expired tokens are swept */
    struct presence **presence;  /* buckets by agent id */
    struct throttle *throttle;   /* open-addressed slots */
    kf_agent_pool_t *pool;       /* hash workers (agents_login.c) */
};

kf_agent_pool_t *kf_agent_pool_new(kf_agent_auth_t *a, int workers, size_t queue);
void kf_agent_pool_free(kf_agent_pool_t *p);

#endif
