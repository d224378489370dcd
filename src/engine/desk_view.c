/* desk_view.c — what an agent console shows (desk.h, "views"): the waiting
 * queues, one conversation as an item, an agent's conversations, a
 * transcript with what the bot understood, the canned responses and the
 * agents a conversation can be transferred to.
 *
 * Items join two sources: the router (state, skill, priority, wait) and the
 * engine's handoff facts (who the customer is, why and what about,
 * conv.h kf_conv_handoff_t).  Transcripts read history and the live session
 * (slots); both are synchronous reads, made when an agent opens a
 * conversation, never per customer message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/desk_int.h"

#define TRANSCRIPT_MAX 1000 /* messages in one transcript (history's page limit) */

static const char *state_name(kf_routing_conv_state_t s) {
    return s == KF_ROUTING_WAITING ? "waiting" : s == KF_ROUTING_OFFERED ? "offered" : "assigned";
}

static void add_facts(kf_desk_t *d, cJSON *o, const char *conv_id) {
    kf_conv_handoff_t h;
    int known = kf_conv_handoff_get(d->conv, conv_id, &h) == 0;
    cJSON_AddNumberToObject(o, "vip_tier", known ? h.vip_tier : 0);
    cJSON_AddStringToObject(o, "customer_name", known ? h.customer_name : "");
    cJSON_AddStringToObject(o, "intent", known ? h.intent : "");
    cJSON_AddStringToObject(o, "reason", known ? kf_conv_reason_name(h.reason) : "");
    cJSON_AddStringToObject(o, "summary", known ? h.summary : "");
    if (known) cJSON_AddNumberToObject(o, "handoff_at", (double)h.handoff_ms);
}

static cJSON *item_of(kf_desk_t *d, const kf_routing_entry_t *e, int64_t now) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "conversation_id", e->conv_id);
    cJSON_AddStringToObject(o, "skill", e->skill);
    cJSON_AddStringToObject(o, "language", e->lang);
    cJSON_AddStringToObject(o, "state", state_name(e->state));
    cJSON_AddStringToObject(o, "agent_id", e->agent_id);
    cJSON_AddNumberToObject(o, "enqueued_at", (double)e->enqueued_ms);
    cJSON_AddNumberToObject(o, "wait_s", (double)(now - e->enqueued_ms) / 1000.0);
    cJSON_AddNumberToObject(o, "priority", (double)(long long)(e->effective_priority * 10) / 10.0);
    add_facts(d, o, e->conv_id);
    return o;
}

cJSON *kf_desk_item(kf_desk_t *d, const char *conv_id) {
    int64_t now = kf_history_now_ms();
    kf_routing_conv_info_t info;
    if (!conv_id || kf_routing_conv_info(d->routing, conv_id, now, &info) != KF_ROUTING_OK) return NULL;
    kf_routing_entry_t e;
    memset(&e, 0, sizeof e);
    snprintf(e.conv_id, sizeof e.conv_id, "%s", conv_id);
    snprintf(e.skill, sizeof e.skill, "%s", info.skill);
    snprintf(e.agent_id, sizeof e.agent_id, "%s", info.agent_id);
    e.state = info.state;
    e.effective_priority = info.effective_priority;
    e.enqueued_ms = info.enqueued_ms;
    kf_conv_handoff_t h;
    if (kf_conv_handoff_get(d->conv, conv_id, &h) == 0) snprintf(e.lang, sizeof e.lang, "%s", h.lang);
    return item_of(d, &e, now);
}

static int sees(const kf_agent_t *viewer, const char *skill) {
    if (!viewer || viewer->role == KF_AGENT_ROLE_ADMIN) return 1;
    for (size_t i = 0; i < viewer->n_skills; i++)
        if (!strcmp(viewer->skills[i], skill)) return 1;
    return 0;
}

cJSON *kf_desk_queues(kf_desk_t *d, const kf_agent_t *viewer) {
    int64_t now = kf_history_now_ms();
    kf_routing_entry_t *v = NULL;
    size_t n = kf_routing_snapshot(d->routing, now, &v);
    cJSON *arr = cJSON_CreateArray();
    for (size_t k = 0; arr && k < kf_bot_n_skills(d->bot); k++) {
        const char *skill = kf_bot_skill_at(d->bot, k);
        if (!sees(viewer, skill)) continue;
        cJSON *q = cJSON_CreateObject(), *items = cJSON_CreateArray();
        cJSON_AddStringToObject(q, "skill", skill);
        for (size_t i = 0; i < n; i++)
            if (v[i].state != KF_ROUTING_ASSIGNED && !strcmp(v[i].skill, skill))
                cJSON_AddItemToArray(items, item_of(d, &v[i], now));
        cJSON_AddItemToObject(q, "waiting", items);
        cJSON_AddItemToArray(arr, q);
    }
    free(v);
    return arr;
}

cJSON *kf_desk_assigned(kf_desk_t *d, const char *agent_id) {
    int64_t now = kf_history_now_ms();
    kf_routing_entry_t *v = NULL;
    size_t n = kf_routing_snapshot(d->routing, now, &v);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++)
        if (v[i].state == KF_ROUTING_ASSIGNED && agent_id && !strcmp(v[i].agent_id, agent_id))
            cJSON_AddItemToArray(arr, item_of(d, &v[i], now));
    free(v);
    return arr;
}

int kf_desk_may_act(kf_desk_t *d, const kf_agent_t *a, const char *conv_id) {
    if (!a) return 0;
    if (a->role == KF_AGENT_ROLE_ADMIN) return 1;
    kf_routing_conv_info_t info;
    return kf_routing_conv_info(d->routing, conv_id, kf_history_now_ms(), &info) == KF_ROUTING_OK &&
           info.state == KF_ROUTING_ASSIGNED && !strcmp(info.agent_id, a->id);
}

/* ---- transcript ------------------------------------------------------------------- */

static cJSON *customer_of(const kf_history_conv_t *hc) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "user_id", hc->user_id ? hc->user_id : "");
    cJSON_AddStringToObject(o, "name", hc->name ? hc->name : "");
    cJSON_AddStringToObject(o, "language", hc->language ? hc->language : "");
    cJSON_AddNumberToObject(o, "vip_tier", hc->vip_tier);
    cJSON_AddNumberToObject(o, "started_at", (double)hc->started_at_ms);
    cJSON_AddStringToObject(o, "status", kf_history_status_name(hc->status));
    return o;
}

static cJSON *message_of(const kf_history_msg_t *m) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "seq", (double)m->seq);
    cJSON_AddStringToObject(o, "from", kf_history_sender_name(m->sender));
    cJSON_AddStringToObject(o, "text", m->text);
    if (m->intent) {
        cJSON_AddStringToObject(o, "intent", m->intent);
        cJSON_AddNumberToObject(o, "confidence", m->confidence);
    }
    cJSON *ents = m->entities_json ? cJSON_Parse(m->entities_json) : NULL;
    if (ents) cJSON_AddItemToObject(o, "entities", ents);
    if (m->author) cJSON_AddStringToObject(o, "agent_id", m->author);
    cJSON_AddNumberToObject(o, "created_at", (double)m->created_at_ms);
    return o;
}

/* The dialogue's slots (the active flow's, then a paused one's) and the active flow. */
static void add_slots(kf_desk_t *d, cJSON *doc, const char *conv_id) {
    kf_session_store_t *ss = kf_conv_sessions(d->conv);
    kf_session_t s;
    cJSON *slots = cJSON_CreateObject(), *state = NULL;
    const char *flow = "";
    if (ss && kf_session_get(ss, conv_id, KF_SESSION_PEEK, &s) == KF_SESSION_OK) {
        state = s.state_json ? cJSON_Parse(s.state_json) : NULL;
        kf_session_clear(&s);
    }
    const char *frames[] = {"active", "paused"};
    for (size_t f = 0; f < 2; f++) {
        const cJSON *fr = cJSON_GetObjectItemCaseSensitive(state, frames[f]);
        const cJSON *sl = cJSON_GetObjectItemCaseSensitive(fr, "slots"), *it;
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fr, "flow");
        if (f == 0 && cJSON_IsString(name)) flow = name->valuestring;
        cJSON_ArrayForEach(it, sl) if (it->string && !cJSON_GetObjectItemCaseSensitive(slots, it->string))
            cJSON_AddItemToObject(slots, it->string, cJSON_Duplicate(it, 1));
    }
    cJSON_AddStringToObject(doc, "flow", flow);
    cJSON_AddItemToObject(doc, "slots", slots);
    cJSON_Delete(state);
}

cJSON *kf_desk_transcript(kf_desk_t *d, const char *conv_id) {
    kf_history_t *h = kf_conv_history(d->conv);
    kf_history_conv_t hc;
    kf_history_msgs_t ms = {0};
    char err[200];
    int64_t last = 0;
    if (!conv_id || kf_history_get(h, conv_id, &hc, err, sizeof err) != KF_HISTORY_OK) return NULL;
    last = hc.last_seq;
    if (kf_history_fetch(h, conv_id, last > TRANSCRIPT_MAX ? last - TRANSCRIPT_MAX : 0, TRANSCRIPT_MAX, &ms, err,
                         sizeof err) != KF_HISTORY_OK) {
        kf_history_conv_free(&hc);
        return NULL;
    }
    cJSON *doc = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    cJSON_AddStringToObject(doc, "conversation_id", conv_id);
    cJSON_AddItemToObject(doc, "customer", customer_of(&hc));
    cJSON *item = kf_desk_item(d, conv_id);
    cJSON_AddItemToObject(doc, "handoff", item ? item : cJSON_CreateObject());
    add_slots(d, doc, conv_id);
    for (size_t i = 0; i < ms.n; i++) cJSON_AddItemToArray(arr, message_of(&ms.v[i]));
    cJSON_AddItemToObject(doc, "messages", arr);
    kf_history_msgs_free(&ms);
    kf_history_conv_free(&hc);
    return doc;
}

/* ---- canned responses and transfer targets ------------------------------------------ */

cJSON *kf_desk_canned(kf_desk_t *d) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < kf_bot_n_canned(d->bot); i++) {
        const kf_bot_canned_t *c = kf_bot_canned_at(d->bot, i);
        cJSON *o = cJSON_CreateObject(), *text = cJSON_CreateObject(), *titles = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", c->id);
        cJSON_AddStringToObject(o, "title", c->title ? c->title : c->id);
        for (size_t l = 0; l < kf_bot_n_languages(d->bot); l++) {
            const char *lang = kf_bot_language(d->bot, l), *t = kf_bot_canned_text(c, d->bot, lang);
            const char *title = kf_bot_canned_title(c, d->bot, lang);
            if (t) cJSON_AddStringToObject(text, lang, t);
            if (title) cJSON_AddStringToObject(titles, lang, title);
        }
        cJSON_AddItemToObject(o, "titles", titles);
        cJSON_AddItemToObject(o, "text", text);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

cJSON *kf_desk_agents(kf_desk_t *d) {
    kf_agent_t *v = NULL;
    size_t n = 0;
    char err[200];
    cJSON *arr = cJSON_CreateArray();
    if (kf_agents_list(kf_agent_auth_store(d->auth), &v, &n, err, sizeof err) != KF_AGENTS_OK) return arr;
    for (size_t i = 0; arr && i < n; i++) {
        if (v[i].disabled) continue;
        cJSON *o = cJSON_CreateObject(), *skills = cJSON_CreateArray();
        cJSON_AddStringToObject(o, "id", v[i].id);
        cJSON_AddStringToObject(o, "name", v[i].name);
        for (size_t k = 0; k < v[i].n_skills; k++) cJSON_AddItemToArray(skills, cJSON_CreateString(v[i].skills[k]));
        cJSON_AddItemToObject(o, "skills", skills);
        cJSON_AddStringToObject(o, "status", kf_agent_status_name(kf_agent_auth_status(d->auth, v[i].id, NULL)));
        cJSON_AddItemToArray(arr, o);
    }
    free(v);
    return arr;
}
