/* desk_stats.c — the contact centre's numbers (desk.h, "numbers"), one
 * gathering for two readers: GET /v1/stats (JSON for the dashboard) and
 * /metrics (Prometheus text).  Queue and agent figures are read live from
 * the router; handoffs, waits, containment and CSAT are the engine's
 * counters since the process started.
 *
 * Definitions (also in README):
 *  - occupancy = conversations held by online and away agents / the capacity
 *    (max chats) of online agents, 0 with nobody online;
 *  - containment = conversations that ended (closed or expired) without ever
 *    being handed to a person / all that ended; a customer who asked for a
 *    person and left before one came is not contained;
 *  - the wait histogram observes handoff → an agent accepting. */
#include <inttypes.h>
#include <stdio.h>

#include "engine/desk_int.h"
#include "obs/metrics.h"
#include "util/buf.h"

typedef struct {
    kf_routing_stats_t r;
    kf_conv_stats_t c;
    unsigned long offers, timeouts, overflows;
} numbers_t;

static void gather(kf_desk_t *d, numbers_t *n) {
    kf_routing_stats(d->routing, kf_history_now_ms(), &n->r);
    kf_conv_stats(d->conv, &n->c);
    n->offers = atomic_load(&d->offers_made);
    n->timeouts = atomic_load(&d->offer_timeouts);
    n->overflows = atomic_load(&d->overflows);
}

static double occupancy(const numbers_t *n) { return n->r.capacity > 0 ? (double)n->r.load / n->r.capacity : 0; }
static double containment(const numbers_t *n) {
    uint64_t ended = n->c.ended_contained + n->c.ended_escalated;
    return ended ? (double)n->c.ended_contained / (double)ended : 0;
}
static double csat_avg(const numbers_t *n) { return n->c.csat_count ? (double)n->c.csat_sum / (double)n->c.csat_count : 0; }
static uint64_t handoffs(const numbers_t *n) {
    uint64_t t = 0;
    for (int i = 0; i < KF_CONV_N_REASONS; i++)
        if (i != KF_CONV_REASON_TRANSFER) t += n->c.handoffs_by_reason[i];
    return t;
}

/* ---- GET /v1/stats ------------------------------------------------------------ */

static cJSON *queues_json(const numbers_t *n) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n->r.n_skills; i++) {
        const kf_routing_skill_stats_t *s = &n->r.skills[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "skill", s->skill);
        cJSON_AddNumberToObject(o, "waiting", (double)s->waiting);
        cJSON_AddNumberToObject(o, "offered", (double)s->offered);
        cJSON_AddNumberToObject(o, "assigned", (double)s->assigned);
        cJSON_AddNumberToObject(o, "oldest_wait_s", (double)s->oldest_wait_ms / 1000.0);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *wait_json(const numbers_t *n) {
    cJSON *o = cJSON_CreateObject(), *b = cJSON_CreateArray();
    uint64_t cum = 0;
    cJSON_AddNumberToObject(o, "count", (double)n->c.waits);
    cJSON_AddNumberToObject(o, "sum_s", n->c.wait_sum_s);
    cJSON_AddNumberToObject(o, "average_s", n->c.waits ? n->c.wait_sum_s / (double)n->c.waits : 0);
    for (int i = 0; i < KF_CONV_WAIT_BUCKETS; i++) {
        cJSON *e = cJSON_CreateObject();
        cum += n->c.wait_buckets[i];
        cJSON_AddNumberToObject(e, "le_s", kf_conv_wait_bounds_s[i]);
        cJSON_AddNumberToObject(e, "count", (double)cum);
        cJSON_AddItemToArray(b, e);
    }
    cJSON_AddItemToObject(o, "buckets", b);
    return o;
}

cJSON *kf_desk_stats(kf_desk_t *d) {
    numbers_t n;
    gather(d, &n);
    cJSON *doc = cJSON_CreateObject(), *agents = cJSON_CreateObject(), *ho = cJSON_CreateObject(),
          *why = cJSON_CreateObject(), *conv = cJSON_CreateObject(), *csat = cJSON_CreateObject(),
          *offers = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "queues", queues_json(&n));
    cJSON_AddNumberToObject(agents, "online", n.r.agents_online);
    cJSON_AddNumberToObject(agents, "away", n.r.agents_away);
    cJSON_AddNumberToObject(agents, "load", n.r.load);
    cJSON_AddNumberToObject(agents, "capacity", n.r.capacity);
    cJSON_AddNumberToObject(agents, "occupancy", occupancy(&n));
    cJSON_AddItemToObject(doc, "agents", agents);
    cJSON_AddNumberToObject(ho, "total", (double)handoffs(&n));
    for (int i = 0; i < KF_CONV_N_REASONS; i++)
        cJSON_AddNumberToObject(why, kf_conv_reason_name((kf_conv_reason_t)i), (double)n.c.handoffs_by_reason[i]);
    cJSON_AddItemToObject(ho, "by_reason", why);
    cJSON_AddItemToObject(doc, "handoffs", ho);
    cJSON_AddItemToObject(doc, "wait", wait_json(&n));
    cJSON_AddNumberToObject(conv, "started", (double)n.c.conversations_started);
    cJSON_AddNumberToObject(conv, "ended", (double)(n.c.ended_contained + n.c.ended_escalated));
    cJSON_AddNumberToObject(conv, "contained", (double)n.c.ended_contained);
    cJSON_AddNumberToObject(conv, "escalated", (double)n.c.ended_escalated);
    cJSON_AddNumberToObject(conv, "containment_rate", containment(&n));
    cJSON_AddItemToObject(doc, "conversations", conv);
    cJSON_AddNumberToObject(csat, "count", (double)n.c.csat_count);
    cJSON_AddNumberToObject(csat, "average", csat_avg(&n));
    cJSON_AddItemToObject(doc, "csat", csat);
    cJSON_AddNumberToObject(offers, "made", (double)n.offers);
    cJSON_AddNumberToObject(offers, "timeouts", (double)n.timeouts);
    cJSON_AddNumberToObject(offers, "overflows", (double)n.overflows);
    cJSON_AddItemToObject(doc, "offers", offers);
    return doc;
}

/* ---- /metrics ------------------------------------------------------------------ */

static void head(kf_buf_t *b, const char *name, const char *type, const char *help) {
    kf_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metric_queues(kf_buf_t *b, const numbers_t *n) {
    head(b, "kefu_queue_waiting", "gauge", "Conversations waiting for an agent, per skill.");
    for (size_t i = 0; i < n->r.n_skills; i++)
        kf_buf_printf(b, "kefu_queue_waiting{skill=\"%s\"} %zu\n", n->r.skills[i].skill, n->r.skills[i].waiting);
    head(b, "kefu_queue_oldest_wait_seconds", "gauge", "How long the longest-waiting conversation has waited, per skill.");
    for (size_t i = 0; i < n->r.n_skills; i++)
        kf_buf_printf(b, "kefu_queue_oldest_wait_seconds{skill=\"%s\"} %.3f\n", n->r.skills[i].skill,
                      (double)n->r.skills[i].oldest_wait_ms / 1000.0);
}

static void metric_wait(kf_buf_t *b, const numbers_t *n) {
    uint64_t cum = 0;
    head(b, "kefu_handoff_wait_seconds", "histogram", "Time from a handoff to an agent accepting the conversation.");
    for (int i = 0; i < KF_CONV_WAIT_BUCKETS; i++) {
        cum += n->c.wait_buckets[i];
        kf_buf_printf(b, "kefu_handoff_wait_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", kf_conv_wait_bounds_s[i], cum);
    }
    kf_buf_printf(b, "kefu_handoff_wait_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", n->c.waits);
    kf_buf_printf(b, "kefu_handoff_wait_seconds_sum %.3f\nkefu_handoff_wait_seconds_count %" PRIu64 "\n", n->c.wait_sum_s,
                  n->c.waits);
}

static void collect(kf_buf_t *b, void *ud) {
    numbers_t n;
    gather(ud, &n);
    metric_queues(b, &n);
    metric_wait(b, &n);
    head(b, "kefu_agents_online", "gauge", "Agents online (away agents are not offered conversations).");
    kf_buf_printf(b, "kefu_agents_online %d\n", n.r.agents_online);
    head(b, "kefu_agent_occupancy_ratio", "gauge", "Conversations held by agents / the capacity of online agents.");
    kf_buf_printf(b, "kefu_agent_occupancy_ratio %.4f\n", occupancy(&n));
    head(b, "kefu_handoffs_total", "counter", "Conversations handed to a person, by reason (transfer: between agents).");
    for (int i = 0; i < KF_CONV_N_REASONS; i++)
        kf_buf_printf(b, "kefu_handoffs_total{reason=\"%s\"} %" PRIu64 "\n", kf_conv_reason_name((kf_conv_reason_t)i),
                      n.c.handoffs_by_reason[i]);
    head(b, "kefu_conversations_ended_total", "counter", "Ended conversations: contained (never handed to a person) or escalated.");
    kf_buf_printf(b, "kefu_conversations_ended_total{outcome=\"contained\"} %" PRIu64 "\n", n.c.ended_contained);
    kf_buf_printf(b, "kefu_conversations_ended_total{outcome=\"escalated\"} %" PRIu64 "\n", n.c.ended_escalated);
    head(b, "kefu_containment_ratio", "gauge", "Contained / all ended conversations since start.");
    kf_buf_printf(b, "kefu_containment_ratio %.4f\n", containment(&n));
    head(b, "kefu_csat_ratings_total", "counter", "Customer satisfaction ratings received.");
    kf_buf_printf(b, "kefu_csat_ratings_total %" PRIu64 "\n", n.c.csat_count);
    head(b, "kefu_csat_average", "gauge", "Average rating (1-5) since start; 0 before the first.");
    kf_buf_printf(b, "kefu_csat_average %.3f\n", csat_avg(&n));
    head(b, "kefu_offers_total", "counter", "Routing events: offers made, offers that timed out, overflows to the fallback skill.");
    kf_buf_printf(b, "kefu_offers_total{event=\"made\"} %lu\nkefu_offers_total{event=\"timeout\"} %lu\n"
                     "kefu_offers_total{event=\"overflow\"} %lu\n",
                  n.offers, n.timeouts, n.overflows);
}

void kf_desk_register_metrics(kf_desk_t *d) { kf_metrics_add_collector(collect, d); }
