/* desk_int.h — internals of the agents' desk (engine/desk.h), shared by
 *   desk.c        duty and the dispatcher thread (offers, timeouts, overflow)
 *   desk_view.c   what a console shows: queues, items, transcripts, canned responses
 *   desk_stats.c  the contact centre's numbers: GET /v1/stats and /metrics */
#ifndef KF_ENGINE_DESK_INT_H
#define KF_ENGINE_DESK_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/desk.h"

typedef struct {
    char conv[KF_ROUTING_ID_MAX];
    char agent[KF_ROUTING_ID_MAX];
} kf_desk_offer_t;

typedef struct {
    char id[KF_ROUTING_ID_MAX];
    int consoles;                   /* connected consoles of this agent */
    kf_routing_presence_t presence; /* as last given to the router */
} kf_desk_duty_t;

struct kf_desk {
    kf_conv_t *conv;
    kf_routing_t *routing;
    kf_agent_auth_t *auth;
    const kf_bot_t *bot;
    unsigned tick_ms;
    pthread_t thread;
    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cv;
    int kicked, stop;
    int stopped;             /* the dispatcher has been joined (kf_desk_stop) */
    kf_desk_offer_t *offers; /* made and not yet resolved */
    size_t n_offers, cap_offers;
    kf_desk_duty_t *duty;    /* agents with a console connected */
    size_t n_duty, cap_duty;
    atomic_ulong offers_made, offer_timeouts, overflows;
};

void kf_desk_publish(kf_desk_t *d, const char *kind, const char *id, const char *json);
void kf_desk_untrack(kf_desk_t *d, const char *conv_id, const char *agent_id);

#endif
