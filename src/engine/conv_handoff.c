/* conv_handoff.c — the conversation engine's side of human handoff (see
 * conv.h, "human handoff"): putting a conversation in the router's queue with
 * the routing policy's priority, the queue notice the customer reads, the
 * bot's silence while the router holds the conversation, and the events every
 * stored message and queue change becomes on the EventBus (queue/bus.h).
 *
 * Queue positions are published at enqueue and whenever they change.  The router knows positions but not who to tell, so the
 * engine keeps a small list of the conversations it put in a queue with the
 * position each was last told.  After anything that can move a queue (an
 * assignment, a hand-back, a transfer, a close) every entry is looked up
 * again (kf_routing_position, O(queue) each) and a changed position is
 * published; an entry whose conversation no longer waits is dropped.  That is
 * O(waiting x queue) per move: fine for hundreds waiting, and the place to
 * change when a node holds thousands.
 *
 * Estimated wait: position x avg_handle_s (config; default 180 s, i.e. one
 * agent finishing a chat every three minutes).  A deliberate simple estimate:
 * it ignores how many agents are online. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "engine/conv_int.h"
#include "obs/log.h"
#include "queue/bus.h"
#include "router/routing.h"
#include "util/buf.h"

#define DEFAULT_HANDLE_S 180.0

typedef struct {
    char id[KF_HISTORY_ID_LEN + 1];
    char skill[KF_ROUTING_NAME_MAX];
    size_t pos;
} waiting_t;

struct kf_conv_waiting {
    pthread_mutex_t mu;
    waiting_t *v;
    size_t n, cap;
};

int kf_conv_ho_init(kf_conv_t *c, const kf_conv_config_t *cfg) {
    c->bus = cfg->bus;
    c->routing = cfg->routing;
    c->avg_handle_s = cfg->avg_handle_s > 0 ? cfg->avg_handle_s : DEFAULT_HANDLE_S;
    c->waiting = calloc(1, sizeof *c->waiting);
    if (!c->waiting) return -1;
    pthread_mutex_init(&c->waiting->mu, NULL);
    return 0;
}

void kf_conv_ho_free(kf_conv_t *c) {
    if (!c->waiting) return;
    pthread_mutex_destroy(&c->waiting->mu);
    free(c->waiting->v);
    free(c->waiting);
    c->waiting = NULL;
}

void kf_conv_set_routing(kf_conv_t *c, kf_routing_t *routing) { c->routing = routing; }
kf_bus_t *kf_conv_bus(kf_conv_t *c) { return c->bus; }

int kf_conv_ho_active(kf_conv_t *c, const char *conv_id) {
    kf_routing_conv_info_t info;
    return c->routing && kf_routing_conv_info(c->routing, conv_id, kf_history_now_ms(), &info) == KF_ROUTING_OK;
}

int64_t kf_conv_ho_eta_s(kf_conv_t *c, size_t pos) { return (int64_t)llround((double)pos * c->avg_handle_s); }

void kf_conv_ho_notice(kf_conv_t *c, const char *lang, const char *skill, size_t pos, char *out, size_t n) {
    long min = (long)((kf_conv_ho_eta_s(c, pos) + 59) / 60);
    if (lang && !strncmp(lang, "zh", 2))
        snprintf(out, n, "正在为您转接人工客服（%s）。当前排队位置：%zu，预计等待：约 %ld 分钟", skill, pos, min);
    else
        snprintf(out, n, "You are being connected to an agent (%s). Position in queue: %zu, estimated wait: ~%ld min",
                 skill, pos, min);
}

/* ---- events ---------------------------------------------------------------- */

void kf_conv_ho_publish(kf_conv_t *c, const char *kind, const char *id, const char *json) {
    char topic[KF_BUS_TOPIC_MAX + 1];
    if (!c->bus || kf_bus_topic(topic, kind, id) < 0) return;
    kf_bus_publish(c->bus, topic, json, strlen(json));
}

/* The WebSocket `message` frame's shape plus the conversation id, on topic. */
static void publish_msg_on(kf_conv_t *c, const char *topic, const char *conv_id, const kf_conv_msg_t *m) {
    kf_buf_t b;
    kf_buf_init(&b);
    const char *from = kf_history_sender_name(m->from);
    kf_buf_printf(&b, "{\"type\":\"message\",\"conversation_id\":\"%s\",\"seq\":%lld,\"from\":\"%s\",\"text\":", conv_id,
                  (long long)m->seq, from ? from : "system");
    kf_buf_json_str(&b, m->text ? m->text : "", strlen(m->text ? m->text : ""));
    kf_buf_puts(&b, ",\"quick_replies\":[");
    for (size_t i = 0; i < m->n_quick_replies; i++) {
        const char *t = m->quick_replies[i].title ? m->quick_replies[i].title : "";
        const char *p = m->quick_replies[i].payload ? m->quick_replies[i].payload : "";
        kf_buf_puts(&b, i ? ",{\"title\":" : "{\"title\":");
        kf_buf_json_str(&b, t, strlen(t));
        kf_buf_puts(&b, ",\"payload\":");
        kf_buf_json_str(&b, p, strlen(p));
        kf_buf_puts(&b, "}");
    }
    kf_buf_printf(&b, "],\"created_at\":%lld}", (long long)m->created_at_ms);
    if (!b.oom) kf_bus_publish(c->bus, topic, b.data, b.len);
    kf_buf_free(&b);
}

void kf_conv_ho_publish_msg(kf_conv_t *c, const char *conv_id, const kf_conv_msg_t *m) {
    char topic[KF_BUS_TOPIC_MAX + 1];
    if (c->bus && kf_bus_topic(topic, "conv", conv_id) == 0) publish_msg_on(c, topic, conv_id, m);
}

static void publish_queue(kf_conv_t *c, const char *conv_id, const char *skill, size_t pos) {
    char js[256];
    snprintf(js, sizeof js,
             "{\"type\":\"queue\",\"conversation_id\":\"%s\",\"skill\":\"%s\",\"position\":%zu,\"eta_s\":%lld}", conv_id,
             skill, pos, (long long)kf_conv_ho_eta_s(c, pos));
    kf_conv_ho_publish(c, "conv", conv_id, js);
    kf_conv_ho_publish(c, "skill", skill, js);
}

/* Nobody but the sender listens to most conversations, and the sender has
 * the messages from the completion already: building the events for it to
 * drop them was ~12% of an event loop's time under bench/wsload.  The topic
 * is made once for the job's messages. */
void kf_conv_ho_publish_job(kf_conv_job_t *job) {
    kf_conv_t *c = job->c;
    char topic[KF_BUS_TOPIC_MAX + 1];
    if (kf_bus_topic(topic, "conv", job->conv_id) == 0 && kf_bus_listeners(c->bus, topic, job->origin)) {
        kf_conv_msg_t m = {job->seqs[0], KF_HISTORY_CUSTOMER, job->masked, NULL, 0, job->created_ms};
        publish_msg_on(c, topic, job->conv_id, &m);
        for (size_t i = 0; i < job->n_out; i++) {
            m = (kf_conv_msg_t){job->seqs[i + 1], job->out[i].system ? KF_HISTORY_SYSTEM : KF_HISTORY_BOT,
                                job->out[i].text, job->out[i].qr, job->out[i].n_qr, job->created_ms};
            publish_msg_on(c, topic, job->conv_id, &m);
        }
    }
    if (!job->queued) return;
    publish_queue(c, job->conv_id, job->queue_skill, job->queue_pos);
    kf_conv_ho_queue_moved(c); /* a VIP may have gone in ahead of others */
    kf_conv_desk_changed(c);
}

/* ---- positions --------------------------------------------------------------- */

void kf_conv_ho_track(kf_conv_t *c, const char *conv_id, const char *skill, size_t pos) {
    struct kf_conv_waiting *w = c->waiting;
    pthread_mutex_lock(&w->mu);
    size_t i = 0;
    while (i < w->n && strcmp(w->v[i].id, conv_id)) i++;
    if (i == w->n && w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        waiting_t *v = realloc(w->v, cap * sizeof *v);
        if (!v) { /* this customer's position is simply not updated later */
            pthread_mutex_unlock(&w->mu);
            return;
        }
        w->v = v;
        w->cap = cap;
    }
    if (i == w->n) w->n++;
    snprintf(w->v[i].id, sizeof w->v[i].id, "%s", conv_id);
    snprintf(w->v[i].skill, sizeof w->v[i].skill, "%s", skill);
    w->v[i].pos = pos;
    pthread_mutex_unlock(&w->mu);
}

void kf_conv_ho_queue_moved(kf_conv_t *c) {
    struct kf_conv_waiting *w = c->waiting;
    if (!c->routing) return;
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < w->n;) {
        size_t pos = 0, n = 0;
        kf_routing_conv_info_t info;
        int64_t now = kf_history_now_ms();
        if (kf_routing_position(c->routing, w->v[i].id, &pos, &n) != KF_ROUTING_OK ||
            kf_routing_conv_info(c->routing, w->v[i].id, now, &info) != KF_ROUTING_OK) {
            w->v[i] = w->v[--w->n]; /* no longer waiting: nothing more to tell */
            continue;
        }
        if (pos != w->v[i].pos || strcmp(info.skill, w->v[i].skill)) {
            w->v[i].pos = pos;
            snprintf(w->v[i].skill, sizeof w->v[i].skill, "%s", info.skill);
            publish_queue(c, w->v[i].id, info.skill, pos);
        }
        i++;
    }
    pthread_mutex_unlock(&w->mu);
}

/* ---- enqueueing -------------------------------------------------------------- */

static int understood(const kf_conv_job_t *job) {
    return job->intent[0] && !job->out_of_scope && job->confidence >= job->c->intent_min;
}

static void decide(kf_conv_job_t *job, kf_routing_decision_t *d) {
    cJSON *p = job->profile_json ? cJSON_Parse(job->profile_json) : NULL;
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(p, "user_id");
    const cJSON *tier = cJSON_GetObjectItemCaseSensitive(p, "vip_tier");
    const char *skill = job->handoff_skill ? job->handoff_skill : kf_bot_skill(job->c->bot, job->intent);
    kf_routing_input_t in = {.customer_id = cJSON_IsString(uid) ? uid->valuestring : NULL,
                             .vip_tier = cJSON_IsNumber(tier) ? tier->valueint : 0,
                             .language = job->lang, .text = job->text,
                             .intent = understood(job) ? job->intent : NULL, .confidence = job->confidence,
                             .out_of_scope = job->out_of_scope, .intents_seen = 1, .entities = job->n_ents,
                             .failures = job->misses, .intent_skill = skill};
    kf_routing_decide(kf_routing_config(job->c->routing), &in, d);
    /* The bot's (or the flow's) skill unless a rule chose another. */
    if (skill && (d->kind == KF_ROUTING_BOT || !d->weights.rules)) snprintf(d->skill, sizeof d->skill, "%s", skill);
    cJSON_Delete(p);
}

static int enqueue(kf_conv_job_t *job, const kf_routing_decision_t *d) {
    kf_conv_t *c = job->c;
    cJSON *p = job->profile_json ? cJSON_Parse(job->profile_json) : NULL;
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(p, "user_id");
    int rc = kf_routing_enqueue(c->routing, job->conv_id, cJSON_IsString(uid) ? uid->valuestring : NULL, d->skill,
                                job->lang, d->priority, kf_history_now_ms());
    cJSON_Delete(p);
    return rc;
}

/* Why the policy wants a person for this message (its decision's reason
 * starts with why_human's words, router/policy.c), or -1: the bot keeps it.
 * Two failures alone do not hand off: the bot's second fallback offers a
 * person and the customer chooses (reason fallback when they accept). */
static const char *reason_text(const kf_routing_decision_t *d) {
    const char *p = d->reason;
    while (!strncmp(p, "rule ", 5) && strstr(p, "; ")) p = strstr(p, "; ") + 2; /* the rule list, then why */
    return p;
}

static int policy_reason(const kf_routing_decision_t *d) {
    const char *why = reason_text(d);
    if (d->kind == KF_ROUTING_BOT) return -1;
    if (!strncmp(why, "a routing rule", 14)) return KF_CONV_REASON_RULE;
    if (!strncmp(why, "the intent is", 13)) return KF_CONV_REASON_COMPLAINT; /* human_intents: complaint */
    if (!strncmp(why, "the message is strongly negative", 32)) return KF_CONV_REASON_COMPLAINT;
    if (!strncmp(why, "the query is too complex", 24)) return KF_CONV_REASON_COMPLEXITY;
    return -1;
}

/* The console's facts about this handoff (conv_held.c). */
static void remember(kf_conv_job_t *job, const kf_routing_decision_t *d, int reason) {
    kf_conv_handoff_t h;
    memset(&h, 0, sizeof h);
    cJSON *p = job->profile_json ? cJSON_Parse(job->profile_json) : NULL;
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(p, "user_id");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
    const cJSON *tier = cJSON_GetObjectItemCaseSensitive(p, "vip_tier");
    snprintf(h.conv_id, sizeof h.conv_id, "%s", job->conv_id);
    h.reason = (kf_conv_reason_t)reason;
    snprintf(h.skill, sizeof h.skill, "%s", d->skill);
    snprintf(h.lang, sizeof h.lang, "%s", job->lang);
    snprintf(h.intent, sizeof h.intent, "%s", understood(job) ? job->intent : "");
    if (cJSON_IsString(name)) snprintf(h.customer_name, sizeof h.customer_name, "%s", name->valuestring);
    if (cJSON_IsString(uid)) snprintf(h.user_id, sizeof h.user_id, "%s", uid->valuestring);
    h.vip_tier = cJSON_IsNumber(tier) ? tier->valueint : 0;
    h.handoff_ms = kf_history_now_ms();
    cJSON_Delete(p);
    kf_conv_held_summarise(job->c, job->conv_id, job->masked ? job->masked : job->text, h.intent, &h);
    kf_conv_held_put(job->c, &h);
}

int kf_conv_ho_enqueue(kf_conv_job_t *job) {
    kf_conv_t *c = job->c;
    /* With every reply slot taken (a flow's long answer) there is no room
     * for the notice: the handoff frame still goes out, nobody is queued. */
    if (!c->routing || job->n_out >= KF_CONV_MAX_REPLIES) return 0;
    kf_routing_decision_t d;
    decide(job, &d);
    int reason = job->handoff_skill ? job->handoff_reason - 1 : policy_reason(&d);
    if (reason < 0 && job->handoff_skill) reason = KF_CONV_REASON_CUSTOMER_REQUEST;
    if (reason < 0) return 0;
    kf_log(KF_LOG_INFO, "handoff", "conversation_id", 's', job->conv_id, "skill", 's', d.skill, "reason", 's',
           kf_conv_reason_name((kf_conv_reason_t)reason), "why", 's', reason_text(&d), NULL);
    int rc = enqueue(job, &d);
    size_t pos = 0, n = 0;
    if (rc == KF_ROUTING_OK) rc = kf_routing_position(c->routing, job->conv_id, &pos, &n);
    if (rc != KF_ROUTING_OK) { /* the bot's answer stands; the customer can ask again */
        kf_log(KF_LOG_WARN, "handoff: enqueue failed", "conversation_id", 's', job->conv_id, "skill", 's', d.skill,
               "rc", 'i', (long long)rc, NULL);
        return 0;
    }
    if (!job->handoff_skill) KF_CONV_COUNT(c, handoffs);
    KF_CONV_COUNT(c, handoffs_by_reason[reason]);
    remember(job, &d, reason);
    job->queued = 1;
    job->queue_pos = pos;
    snprintf(job->queue_skill, sizeof job->queue_skill, "%s", d.skill);
    job->handoff_skill = job->queue_skill; /* the queue it went to, for the channel's handoff frame */
    char text[512];
    kf_conv_ho_notice(c, job->lang, d.skill, pos, text, sizeof text);
    if (kf_conv_add_text(job, text, NULL, 0, 0) < 0) return -1;
    job->out[job->n_out - 1].system = 1;
    kf_conv_ho_track(c, job->conv_id, d.skill, pos);
    return 0;
}

/* The agent holding conv_id (offered or assigned) learns it is gone. */
void kf_conv_ho_tell_agent(kf_conv_t *c, const char *agent_id, const char *conv_id, int offered, const char *reason) {
    char js[200];
    if (!agent_id || !agent_id[0]) return;
    if (offered)
        snprintf(js, sizeof js, "{\"type\":\"offer_withdrawn\",\"conversation_id\":\"%s\",\"reason\":\"%s\"}", conv_id,
                 reason);
    else
        snprintf(js, sizeof js, "{\"type\":\"released\",\"conversation_id\":\"%s\",\"reason\":\"%s\"}", conv_id, reason);
    kf_conv_ho_publish(c, "agent", agent_id, js);
}

void kf_conv_ho_forget(kf_conv_t *c, const char *conv_id) {
    kf_routing_conv_info_t info;
    int64_t now = kf_history_now_ms();
    if (!c->routing || kf_routing_conv_info(c->routing, conv_id, now, &info) != KF_ROUTING_OK) return;
    if (info.state == KF_ROUTING_ASSIGNED) kf_routing_release(c->routing, conv_id, now);
    else kf_routing_leave(c->routing, conv_id, now);
    if (info.state == KF_ROUTING_ASSIGNED) kf_conv_ho_tell_agent(c, info.agent_id, conv_id, 0, "ended");
    if (info.state == KF_ROUTING_OFFERED) kf_conv_ho_tell_agent(c, info.agent_id, conv_id, 1, "left");
    kf_conv_ho_queue_moved(c);
    kf_conv_desk_changed(c);
}

void kf_conv_ho_undo(kf_conv_job_t *job) {
    if (!job->queued || !job->c->routing) return;
    kf_routing_leave(job->c->routing, job->conv_id, kf_history_now_ms());
    job->queued = 0;
    kf_conv_held_drop(job->c, job->conv_id); /* not an escalation after all: the notice was never stored */
    kf_conv_ho_queue_moved(job->c);
    kf_conv_desk_changed(job->c);
}
