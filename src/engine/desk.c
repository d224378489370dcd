/* desk.c — the agents' desk (desk.h): who is on duty, and the dispatcher
 * thread that turns waiting customers into offers.
 *
 * Why a thread of its own: offers depend on time (an offer expires after T
 * seconds, a customer overflows after W) as much as on events, and the
 * router has no clock.  One small thread that sleeps on a condition variable
 * serves both: an event (a handoff, an agent going online, a release) kicks
 * it awake at once — that is the handoff-to-offer latency — and otherwise it
 * wakes every tick_ms for the time-driven work.  It only calls the router
 * (thread-safe, O(log n) per offer) and publishes small events on the bus,
 * so it never waits on a loop and no loop waits on it.
 *
 * Offers it made are remembered until they resolve, so that the agent who
 * was offered a conversation hears when the offer is gone: "timeout" (the
 * router's tick took it back), "taken" (someone else has it now).  A
 * customer leaving is told by the engine itself ("left", conv_handoff.c). */
#include "engine/desk_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "obs/log.h"
#include "queue/bus.h"

#define PRESENCE_EVERY_MS 1000 /* how often duty agents' presence is re-read (missed heartbeats) */

/* ---- events ------------------------------------------------------------------- */

void kf_desk_publish(kf_desk_t *d, const char *kind, const char *id, const char *json) {
    kf_bus_t *bus = kf_conv_bus(d->conv);
    char topic[KF_BUS_TOPIC_MAX + 1];
    if (!bus || kf_bus_topic(topic, kind, id) < 0) return;
    kf_bus_publish(bus, topic, json, strlen(json));
}

static void queues_changed(kf_desk_t *d) {
    kf_bus_t *bus = kf_conv_bus(d->conv);
    static const char js[] = "{\"type\":\"queues_changed\"}";
    if (bus) kf_bus_publish(bus, "agents", js, sizeof js - 1);
}

/* ---- offers in flight ------------------------------------------------------------ */

/* d->mu held. */
static void track(kf_desk_t *d, const kf_routing_offer_t *o) {
    if (d->n_offers == d->cap_offers) {
        size_t cap = d->cap_offers ? d->cap_offers * 2 : 32;
        kf_desk_offer_t *v = realloc(d->offers, cap * sizeof *v);
        if (!v) return; /* the agent is then not told when this offer goes */
        d->offers = v;
        d->cap_offers = cap;
    }
    kf_desk_offer_t *t = &d->offers[d->n_offers++];
    snprintf(t->conv, sizeof t->conv, "%s", o->conv_id);
    snprintf(t->agent, sizeof t->agent, "%s", o->agent_id);
}

void kf_desk_untrack(kf_desk_t *d, const char *conv_id, const char *agent_id) {
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < d->n_offers; i++)
        if (!strcmp(d->offers[i].conv, conv_id) && !strcmp(d->offers[i].agent, agent_id)) {
            d->offers[i] = d->offers[--d->n_offers];
            break;
        }
    pthread_mutex_unlock(&d->mu);
}

/* Offers that resolved since the last pass: accepted ones go quietly. */
static int resolve(kf_desk_t *d, int64_t now) {
    int changed = 0;
    for (size_t i = 0; i < d->n_offers;) {
        kf_desk_offer_t *t = &d->offers[i];
        kf_routing_conv_info_t info;
        int rc = kf_routing_conv_info(d->routing, t->conv, now, &info);
        if (rc == KF_ROUTING_OK && info.state == KF_ROUTING_OFFERED && !strcmp(info.agent_id, t->agent)) {
            i++;
            continue;
        }
        if (rc == KF_ROUTING_OK && strcmp(info.agent_id, t->agent)) { /* waiting again, or someone else's */
            char js[200];
            snprintf(js, sizeof js, "{\"type\":\"offer_withdrawn\",\"conversation_id\":\"%s\",\"reason\":\"%s\"}", t->conv,
                     info.state == KF_ROUTING_ASSIGNED ? "taken" : "timeout");
            kf_desk_publish(d, "agent", t->agent, js);
            changed = 1;
        }
        *t = d->offers[--d->n_offers];
    }
    return changed;
}

static void publish_offer(kf_desk_t *d, const kf_routing_offer_t *o) {
    char js[300];
    snprintf(js, sizeof js,
             "{\"type\":\"offer\",\"conversation_id\":\"%s\",\"skill\":\"%s\",\"sticky\":%s,\"expires_in_s\":%.0f}",
             o->conv_id, o->skill, o->sticky ? "true" : "false", kf_routing_config(d->routing)->offer_timeout_s);
    kf_desk_publish(d, "agent", o->agent_id, js);
}

/* ---- duty ------------------------------------------------------------------------ */

static kf_routing_presence_t presence_of(kf_agent_status_t s) {
    return s == KF_AGENT_ONLINE ? KF_ROUTING_ONLINE : s == KF_AGENT_AWAY ? KF_ROUTING_AWAY : KF_ROUTING_OFFLINE;
}

static kf_desk_duty_t *duty_find(kf_desk_t *d, const char *id) {
    for (size_t i = 0; i < d->n_duty; i++)
        if (!strcmp(d->duty[i].id, id)) return &d->duty[i];
    return NULL;
}

/* The account's skills the bot knows (others cannot be routed), its languages, its capacity. */
static int upsert(kf_desk_t *d, const kf_agent_t *a) {
    const char *skills[KF_AGENT_MAX_SKILLS], *langs[2];
    size_t ns = 0, nl = 0;
    for (size_t i = 0; i < a->n_skills; i++)
        for (size_t k = 0; k < kf_bot_n_skills(d->bot); k++)
            if (!strcmp(a->skills[i], kf_bot_skill_at(d->bot, k))) skills[ns++] = a->skills[i];
    if (a->languages & KF_AGENT_LANG_EN) langs[nl++] = "en";
    if (a->languages & KF_AGENT_LANG_ZH) langs[nl++] = "zh";
    int rc = kf_routing_agent_upsert(d->routing, a->id, skills, ns, langs, nl, a->max_chats);
    if (rc == KF_ROUTING_EINVAL) rc = kf_routing_agent_upsert(d->routing, a->id, skills, ns, NULL, 0, a->max_chats);
    return rc;
}

int kf_desk_attach(kf_desk_t *d, const kf_agent_t *a) {
    int rc = upsert(d, a);
    if (rc == KF_ROUTING_EINVAL) return KF_ROUTING_OK; /* no skill or language the bot has (an admin): on duty, never offered */
    if (rc != KF_ROUTING_OK) return rc;
    kf_routing_presence_t p = presence_of(kf_agent_auth_status(d->auth, a->id, NULL));
    pthread_mutex_lock(&d->mu);
    kf_desk_duty_t *t = duty_find(d, a->id);
    if (!t && d->n_duty == d->cap_duty) {
        size_t cap = d->cap_duty ? d->cap_duty * 2 : 16;
        kf_desk_duty_t *v = realloc(d->duty, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&d->mu);
            return KF_ROUTING_ENOMEM;
        }
        d->duty = v;
        d->cap_duty = cap;
    }
    if (!t) {
        t = &d->duty[d->n_duty++];
        memset(t, 0, sizeof *t);
        snprintf(t->id, sizeof t->id, "%s", a->id);
    }
    t->consoles++;
    t->presence = p;
    pthread_mutex_unlock(&d->mu);
    kf_routing_agent_status(d->routing, a->id, p, kf_history_now_ms());
    kf_desk_kick(d);
    return KF_ROUTING_OK;
}

void kf_desk_detach(kf_desk_t *d, const char *agent_id) {
    int last = 0;
    pthread_mutex_lock(&d->mu);
    kf_desk_duty_t *t = duty_find(d, agent_id);
    if (t && --t->consoles <= 0) {
        *t = d->duty[--d->n_duty];
        last = 1;
    }
    pthread_mutex_unlock(&d->mu);
    if (last) kf_routing_agent_status(d->routing, agent_id, KF_ROUTING_OFFLINE, kf_history_now_ms());
    kf_desk_kick(d);
}

int kf_desk_set_status(kf_desk_t *d, const kf_agent_t *a, kf_agent_status_t st) {
    kf_agent_auth_set_status(d->auth, a->id, st);
    int rc = upsert(d, a);
    pthread_mutex_lock(&d->mu);
    kf_desk_duty_t *t = duty_find(d, a->id);
    if (t) t->presence = presence_of(st);
    pthread_mutex_unlock(&d->mu);
    if (rc == KF_ROUTING_OK) rc = kf_routing_agent_status(d->routing, a->id, presence_of(st), kf_history_now_ms());
    else if (rc == KF_ROUTING_EINVAL) rc = KF_ROUTING_OK; /* not routable (see attach): the status is still recorded */
    kf_desk_kick(d);
    return rc;
}

/* Agents whose heartbeats stopped read offline (engine/agents_auth.h): the router follows. */
static void sync_presence(kf_desk_t *d, int64_t now) {
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < d->n_duty; i++) {
        kf_routing_presence_t p = presence_of(kf_agent_auth_status(d->auth, d->duty[i].id, NULL));
        if (p == d->duty[i].presence) continue;
        d->duty[i].presence = p;
        kf_routing_agent_status(d->routing, d->duty[i].id, p, now);
        d->kicked = 1;
    }
    pthread_mutex_unlock(&d->mu);
}

int kf_desk_reject(kf_desk_t *d, const char *conv_id, const char *agent_id) {
    int rc = kf_routing_reject(d->routing, conv_id, agent_id, kf_history_now_ms());
    if (rc == KF_ROUTING_OK) kf_desk_untrack(d, conv_id, agent_id);
    kf_desk_kick(d);
    return rc;
}

/* ---- the dispatcher ------------------------------------------------------------- */

void kf_desk_kick(kf_desk_t *d) {
    pthread_mutex_lock(&d->mu);
    d->kicked = 1;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static void conv_changed(void *ud) { kf_desk_kick(ud); }

/* A transfer to one agent: the router made the offer, the desk tells the agent and follows it. */
static void conv_offered(void *ud, const char *conv_id, const char *agent_id) {
    kf_desk_t *d = ud;
    kf_routing_offer_t o;
    kf_routing_conv_info_t info;
    memset(&o, 0, sizeof o);
    snprintf(o.conv_id, sizeof o.conv_id, "%s", conv_id);
    snprintf(o.agent_id, sizeof o.agent_id, "%s", agent_id);
    if (kf_routing_conv_info(d->routing, conv_id, kf_history_now_ms(), &info) == KF_ROUTING_OK)
        snprintf(o.skill, sizeof o.skill, "%s", info.skill);
    pthread_mutex_lock(&d->mu);
    track(d, &o);
    publish_offer(d, &o);
    pthread_mutex_unlock(&d->mu);
    atomic_fetch_add(&d->offers_made, 1);
    kf_desk_kick(d);
}

/* One pass: time-driven work, resolved offers, new offers. */
static void pass(kf_desk_t *d, int kicked) {
    int64_t now = kf_history_now_ms();
    size_t timeouts = 0, overflows = 0;
    kf_routing_tick(d->routing, now, &timeouts, &overflows);
    pthread_mutex_lock(&d->mu);
    int changed = kicked || timeouts || overflows;
    changed |= resolve(d, now);
    kf_routing_offer_t o;
    size_t made = 0;
    while (kf_routing_assign_next(d->routing, now, &o) == 1) {
        track(d, &o);
        publish_offer(d, &o);
        made++;
    }
    pthread_mutex_unlock(&d->mu);
    if (made || timeouts || overflows) kf_conv_queues_moved(d->conv); /* customers' positions */
    if (changed || made) queues_changed(d);
    atomic_fetch_add(&d->offers_made, made);
    atomic_fetch_add(&d->offer_timeouts, timeouts);
    atomic_fetch_add(&d->overflows, overflows);
}

static void *dispatcher(void *arg) {
    kf_desk_t *d = arg;
    int64_t last_presence = 0;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        if (!d->kicked) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)(d->tick_ms % 1000) * 1000000L;
            ts.tv_sec += d->tick_ms / 1000 + ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&d->cv, &d->mu, &ts);
        }
        if (d->stop) break;
        int kicked = d->kicked;
        d->kicked = 0;
        pthread_mutex_unlock(&d->mu);
        int64_t now = kf_history_now_ms();
        if (now - last_presence >= PRESENCE_EVERY_MS) {
            sync_presence(d, now);
            last_presence = now;
        }
        pass(d, kicked);
        pthread_mutex_lock(&d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* ---- life ------------------------------------------------------------------------ */

kf_desk_t *kf_desk_new(const kf_desk_config_t *cfg, char *err, size_t errlen) {
    if (!cfg || !cfg->conv || !cfg->routing || !cfg->auth || !cfg->bot) {
        snprintf(err, errlen, "desk: conversation engine, router, agent sessions and bot are required");
        return NULL;
    }
    kf_desk_t *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "desk: out of memory");
        return NULL;
    }
    d->conv = cfg->conv;
    d->routing = cfg->routing;
    d->auth = cfg->auth;
    d->bot = cfg->bot;
    d->tick_ms = cfg->tick_ms ? cfg->tick_ms : 250;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    int rc = pthread_create(&d->thread, NULL, dispatcher, d);
    if (rc) {
        snprintf(err, errlen, "desk: cannot start the dispatcher: %s", strerror(rc));
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        free(d);
        return NULL;
    }
    kf_conv_desk_hooks_t hooks = {.changed = conv_changed, .offered = conv_offered, .ud = d};
    kf_conv_set_desk(d->conv, &hooks);
    return d;
}

void kf_desk_stop(kf_desk_t *d) {
    if (!d || d->stopped) return;
    kf_conv_set_desk(d->conv, NULL);
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    d->stopped = 1;
}

void kf_desk_free(kf_desk_t *d) {
    if (!d) return;
    kf_desk_stop(d);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d->offers);
    free(d->duty);
    free(d);
}
