/* desk.h — the agents' desk: the part of the engine that puts waiting
 * customers in front of agents.  It joins the three things a contact centre
 * runs on — agent presence (engine/agents_auth.h), the router's queues and
 * offers (router/routing.h) and the conversations (engine/conv.h) — and keeps
 * the contact centre's numbers.
 *
 *  - Duty: an agent with a console connected is in the router with its
 *    account's skills, languages and capacity and its chosen status; the last
 *    console leaving takes it out of the offer rotation (its conversations
 *    stay assigned).
 *  - Offers: a dispatcher thread makes them.  It wakes when something that
 *    can allow an offer happens (a handoff, an agent on duty, a release: the
 *    engine and this module kick it) and every tick_ms for the time-driven
 *    work (offer timeouts, overflow).  Each offer and each withdrawn offer is
 *    an event on agent:<id>; any change to the queues is an event on
 *    "agents" (see below), so consoles redraw.
 *  - Views: what a console shows — the queues, one conversation's item, its
 *    transcript with intents, entities and slots, the canned responses —
 *    returned as cJSON values the channel wraps into its frames.
 *  - Numbers: queue length and oldest wait per skill, a wait-time histogram,
 *    occupancy, handoffs by reason, containment, CSAT (GET /v1/stats and
 *    /metrics).
 *
 * Events this module publishes (besides the engine's, engine/conv.h):
 *   agent:<id>  {"type":"offer","conversation_id","expires_in_s","sticky"}
 *               {"type":"offer_withdrawn","conversation_id","reason":"timeout|taken|left"}
 *   agents      {"type":"queues_changed"}   (coalesced: at most one per dispatcher pass)
 * The engine publishes on agent:<id>: "assigned", "released" (reason
 * closed|handed_back|transferred|ended) and "note"; on conv:<id>: every
 * message and "ended".
 *
 * Thread safety: every function may be called from any thread. */
#ifndef KF_ENGINE_DESK_H
#define KF_ENGINE_DESK_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "engine/agents_auth.h"
#include "engine/conv.h"
#include "router/routing.h"

typedef struct kf_desk kf_desk_t;

typedef struct {
    kf_conv_t *conv;         /* required */
    kf_routing_t *routing;   /* required; the engine's (kf_conv_set_routing) */
    kf_agent_auth_t *auth;   /* required: accounts and presence */
    const kf_bot_t *bot;     /* required: skills, canned responses */
    unsigned tick_ms;        /* how often time-driven routing work runs; 0 = 250 */
} kf_desk_config_t;

/* Starts the dispatcher thread and hooks itself into the engine. */
kf_desk_t *kf_desk_new(const kf_desk_config_t *cfg, char *err, size_t errlen);
/* Unhooks from the engine and stops the dispatcher: call after the channels
 * stopped and before the engine is freed (its last completions may still
 * call kf_desk_kick, which stays harmless until kf_desk_free). */
void kf_desk_stop(kf_desk_t *d);
/* Stops if not stopped, then frees: after the engine is gone. */
void kf_desk_free(kf_desk_t *d);

/* ---- duty ---------------------------------------------------------------- */

/* A console of agent a connected (counted: several tabs are fine).  The
 * agent enters the router with its current status (engine/agents_auth.h). */
int kf_desk_attach(kf_desk_t *d, const kf_agent_t *a);
/* One of its consoles disconnected; the last one takes it out of offers. */
void kf_desk_detach(kf_desk_t *d, const char *agent_id);
/* The agent sets its status (also recorded in agent sessions). */
int kf_desk_set_status(kf_desk_t *d, const kf_agent_t *a, kf_agent_status_t st);
/* The agent refuses an offer: it goes to the next agent, never back to this one. */
int kf_desk_reject(kf_desk_t *d, const char *conv_id, const char *agent_id);
/* Something changed that may allow an offer (the engine calls this). */
void kf_desk_kick(kf_desk_t *d);

/* ---- views (cJSON values owned by the caller; NULL = out of memory, or
 * for one conversation: not held by the router) ------------------------------ */

/* [{"skill","waiting":[item...]}] for viewer's skills (an admin: every skill). */
cJSON *kf_desk_queues(kf_desk_t *d, const kf_agent_t *viewer);
/* One conversation the router holds, as the README's item. */
cJSON *kf_desk_item(kf_desk_t *d, const char *conv_id);
/* Items of the conversations assigned to agent_id now. */
cJSON *kf_desk_assigned(kf_desk_t *d, const char *agent_id);
/* {"conversation_id","customer","handoff","slots","messages":[...]}, from
 * history (notes included) and the live session; NULL when not found. */
cJSON *kf_desk_transcript(kf_desk_t *d, const char *conv_id);
/* [{"id","title","text":{"en","zh"}}] from the bot definition. */
cJSON *kf_desk_canned(kf_desk_t *d);
/* [{"id","name","skills","status"}] every enabled agent (transfer targets). */
cJSON *kf_desk_agents(kf_desk_t *d);

/* 1 when agent a may act on conv_id: it is assigned to a, or a is an admin. */
int kf_desk_may_act(kf_desk_t *d, const kf_agent_t *a, const char *conv_id);

/* ---- numbers ------------------------------------------------------------- */

/* The GET /v1/stats document (README "Agent console" lists the fields). */
cJSON *kf_desk_stats(kf_desk_t *d);
/* Registers the kefu_desk_* and kefu_handoff_* series on /metrics. */
void kf_desk_register_metrics(kf_desk_t *d);

#endif
