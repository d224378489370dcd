/* route_query.h — the routing decision for one customer message, as
 * POST /v1/route asks for it: the NLU (intent, confidence, out of scope,
 * entities) plus the router's policy and live agent state (router/routing.h),
 * without changing anything.  The conversation engine's handoff will call the
 * same function and then enqueue with the decision's priority. */
#ifndef KF_ENGINE_ROUTE_QUERY_H
#define KF_ENGINE_ROUTE_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "router/routing.h"

/* The bot's skill for an intent (kf_bot_skill), or NULL. */
typedef const char *(*kf_route_skill_fn)(void *ud, const char *intent);

typedef struct {
    const char *user_id; /* NULL: anonymous */
    int vip_tier;
    const char *language;
    double customer_value;
    int earlier_contacts;
    int failures; /* bot fallbacks in a row so far */
} kf_route_profile_t;

typedef struct {
    kf_routing_decision_t decision;
    char intent[KF_ROUTING_NAME_MAX]; /* "oos" when out of scope */
    double confidence;
    int out_of_scope;
    int entities;
} kf_route_answer_t;

/* Classifies text[0..len) and decides.  Returns 0, or -1 with err (no model,
 * invalid UTF-8).  Thread-safe (the router locks itself). */
int kf_route_query(kf_routing_t *router, kf_route_skill_fn skill_of, void *ud, const kf_route_profile_t *p,
                   const char *text, size_t len, int64_t now_ms, kf_route_answer_t *out, char *err, size_t errlen);

#endif
