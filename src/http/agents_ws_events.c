/* agents_ws_events.c — the agent console's view of the bus (queue/bus.h,
 * engine/desk.h "Events"): what reaches one console without it asking.
 *
 *   agent:<id>  offer (sent with the conversation's item), offer_withdrawn,
 *               assigned (the conversation is followed from then on),
 *               released (no longer followed), note — all as frames;
 *   agents      queues_changed: a queues frame, coalesced to at most one
 *               per queues_min_ms however many changes come;
 *   conv:<id>   for each conversation held: every stored message as a
 *               message frame.  Its "ended" is not turned into `released`:
 *               the engine tells the agent itself on agent:<id> with the
 *               true reason (closed by an agent, or ended: the customer
 *               closed or it expired); "ended" on conv:<id> comes from an
 *               agent's close, before that agent event, or from expiry.
 *
 * The same change can reach a console twice — as the answer to its own
 * accept/close/… and as the event other tabs need — so the conversations a
 * connection knows are kept in a small table (kf_aws_conv_t) and each
 * assigned/released is sent once.  A bus overflow means events were lost:
 * the console is brought back in step from the desk (assignments, queues,
 * or the conversation's transcript). */
#include <stdlib.h>
#include <string.h>

#include "http/agents_ws.h"
#include "queue/bus.h"

static const char *const gone_names[] = {"", "closed", "handed_back", "transferred", "ended"};

const char *kf_aws_gone_name(kf_aws_gone_t g) { return g <= KF_AWS_GONE_ENDED ? gone_names[g] : "ended"; }

static kf_aws_gone_t gone_parse(const char *s) {
    for (int i = KF_AWS_GONE_CLOSED; i <= KF_AWS_GONE_ENDED; i++)
        if (s && !strcmp(s, gone_names[i])) return (kf_aws_gone_t)i;
    return KF_AWS_GONE_ENDED;
}

static kf_bus_t *bus(void) { return kf_conv_bus(kf_aws_cfg.conv); }

/* ---- the table ---- */

kf_aws_conv_t *kf_aws_conv_find(kf_aws_conn_t *c, const char *id) {
    for (size_t i = 0; i < c->n_convs; i++)
        if (!strcmp(c->convs[i].id, id)) return &c->convs[i];
    return NULL;
}

kf_aws_conv_t *kf_aws_conv_get(kf_aws_conn_t *c, const char *id) {
    kf_aws_conv_t *e = kf_aws_conv_find(c, id);
    if (e) return e;
    if (strlen(id) != KF_HISTORY_ID_LEN) return NULL;
    if (c->n_convs == c->cap_convs) {
        size_t cap = c->cap_convs ? c->cap_convs * 2 : 4;
        kf_aws_conv_t *v = realloc(c->convs, cap * sizeof *v);
        if (!v) return NULL;
        c->convs = v;
        c->cap_convs = cap;
    }
    e = &c->convs[c->n_convs++];
    memset(e, 0, sizeof *e);
    memcpy(e->id, id, KF_HISTORY_ID_LEN + 1);
    return e;
}

void kf_aws_conv_settle(kf_aws_conn_t *c, kf_aws_conv_t *e) {
    if (!e->held && e->sub) {
        kf_bus_unsubscribe(e->sub);
        e->sub = NULL;
    }
    if (e->held || e->offered || e->accepting || e->acting) return;
    *e = c->convs[--c->n_convs]; /* order does not matter */
}

static void on_conv_event(kf_bus_sub_t *sub, const kf_bus_event_t *ev, void *ud);

int kf_aws_conv_hold(kf_aws_conn_t *c, kf_aws_conv_t *e, const char *ref, int announce) {
    e->held = 1;
    e->offered = 0;
    char topic[KF_BUS_TOPIC_MAX + 1];
    /* Without a subscription (no memory) the console still has the
     * transcript on demand; nothing else depends on it. */
    if (!e->sub && c->base.ws && bus() && kf_bus_topic(topic, "conv", e->id) == 0)
        e->sub = kf_bus_subscribe(bus(), topic, c->loop, on_conv_event, c);
    if (!announce) return 0;
    cJSON *item = kf_desk_item(kf_aws_cfg.desk, e->id);
    if (!item && (item = cJSON_CreateObject())) {
        cJSON_AddStringToObject(item, "conversation_id", e->id);
        cJSON_AddStringToObject(item, "state", "assigned");
    }
    return kf_aws_send_json(c, "assigned", ref, item);
}

int kf_aws_conv_release(kf_aws_conn_t *c, kf_aws_conv_t *e, kf_aws_gone_t why) {
    char id[KF_HISTORY_ID_LEN + 1];
    memcpy(id, e->id, sizeof id);
    e->held = 0;
    kf_aws_conv_settle(c, e); /* e may be gone now */
    char st[160];
    kf_buf_t b;
    kf_buf_init_with(&b, st, sizeof st);
    kf_buf_printf(&b, "{\"type\":\"released\",\"conversation_id\":\"%s\",\"reason\":\"%s\"}", id, kf_aws_gone_name(why));
    return kf_aws_send(c, &b);
}

/* ---- queues, coalesced ---- */

static void on_queues_timer(kf_timer_t *t) {
    kf_aws_conn_t *c = t->data;
    c->queues_due = 0;
    if (!c->base.ws) return;
    kf_aws_ref(c);
    kf_aws_send_queues(c);
    kf_aws_unref(c);
}

void kf_aws_queues_soon(kf_aws_conn_t *c) {
    if (c->queues_due || !c->base.ws) return;
    uint64_t now = kf_loop_now_ms(), since = now - c->last_queues_ms;
    if (since >= kf_aws_cfg.queues_min_ms) {
        kf_aws_send_queues(c);
        return;
    }
    c->queues_due = 1;
    kf_timer_start(c->loop, &c->queues_timer, kf_aws_cfg.queues_min_ms - since, on_queues_timer);
}

/* ---- events ---- */

static const char *str_of(const cJSON *o, const char *name) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

/* Lost agent events: the assignments are read again from the desk. */
static void resync(kf_aws_conn_t *c) {
    cJSON *now = kf_desk_assigned(kf_aws_cfg.desk, c->agent.id);
    if (!now) return;
    for (size_t i = 0; i < c->n_convs && c->base.ws;) {
        kf_aws_conv_t *e = &c->convs[i];
        int still = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, now) {
            const char *id = str_of(it, "conversation_id");
            still |= id && !strcmp(id, e->id);
        }
        size_t n = c->n_convs;
        if (e->offered && !still) { /* a lost offer_withdrawn: is it still offered to this agent? */
            cJSON *item = kf_desk_item(kf_aws_cfg.desk, e->id);
            const char *st = str_of(item, "state"), *to = str_of(item, "agent_id");
            e->offered = st && to && !strcmp(st, "offered") && !strcmp(to, c->agent.id);
            cJSON_Delete(item);
        }
        if (e->held && !still && !e->accepting && !e->acting) kf_aws_conv_release(c, e, KF_AWS_GONE_ENDED);
        else kf_aws_conv_settle(c, e);
        if (c->n_convs == n) i++; /* else entry i was replaced by the last one: look at it again */
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, now) {
        const char *id = str_of(it, "conversation_id");
        kf_aws_conv_t *e = id && c->base.ws ? kf_aws_conv_get(c, id) : NULL;
        if (e && !e->held && !e->accepting) kf_aws_conv_hold(c, e, NULL, 1);
    }
    cJSON_Delete(now);
    kf_aws_queues_soon(c);
}

static void on_offer(kf_aws_conn_t *c, const cJSON *ev, const char *id) {
    kf_aws_conv_t *e = kf_aws_conv_get(c, id);
    if (e) e->offered = 1;
    cJSON *item = kf_desk_item(kf_aws_cfg.desk, id);
    if (!item && !(item = cJSON_CreateObject())) return;
    if (!cJSON_GetObjectItemCaseSensitive(item, "conversation_id")) cJSON_AddStringToObject(item, "conversation_id", id);
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(ev, "expires_in_s");
    const cJSON *sticky = cJSON_GetObjectItemCaseSensitive(ev, "sticky");
    cJSON_DeleteItemFromObjectCaseSensitive(item, "expires_in_s");
    cJSON_DeleteItemFromObjectCaseSensitive(item, "sticky");
    cJSON_AddNumberToObject(item, "expires_in_s", cJSON_IsNumber(exp) ? exp->valuedouble : 0);
    cJSON_AddBoolToObject(item, "sticky", cJSON_IsTrue(sticky));
    kf_aws_send_json(c, "offer", NULL, item);
}

static void on_agent_event(kf_bus_sub_t *sub, const kf_bus_event_t *ev, void *ud) {
    (void)sub;
    kf_aws_conn_t *c = ud;
    if (!c->base.ws) return;
    kf_aws_ref(c);
    if (ev->flags & KF_BUS_OVERFLOW) {
        resync(c);
        kf_aws_unref(c);
        return;
    }
    cJSON *j = cJSON_ParseWithLength(ev->json, ev->len);
    const char *t = str_of(j, "type"), *id = str_of(j, "conversation_id");
    kf_aws_conv_t *e = id && kf_history_valid_id(id) ? kf_aws_conv_find(c, id) : NULL;
    if (!t || !id || !kf_history_valid_id(id)) {
        /* not a conversation event: nothing this protocol forwards */
    } else if (!strcmp(t, "offer")) {
        on_offer(c, j, id);
    } else if (!strcmp(t, "offer_withdrawn")) {
        if (e) {
            e->offered = 0;
            kf_aws_conv_settle(c, e);
        }
        kf_aws_send_raw(c, ev->json, ev->len);
    } else if (!strcmp(t, "assigned")) {
        if (!e) e = kf_aws_conv_get(c, id);
        if (e && e->accepting) e->early = 1; /* the accept's completion announces it, with its ref */
        else if (e && !e->held) kf_aws_conv_hold(c, e, NULL, 1);
    } else if (!strcmp(t, "released")) {
        kf_aws_gone_t why = gone_parse(str_of(j, "reason"));
        if (e && ((e->accepting && !e->held) || e->acting)) e->gone = (uint8_t)why; /* said after the answer */
        else if (e && e->held) kf_aws_conv_release(c, e, why);
        /* else: this connection already said so (its own action's answer) */
    } else if (!strcmp(t, "note")) {
        kf_aws_send_raw(c, ev->json, ev->len);
    }
    cJSON_Delete(j);
    kf_aws_unref(c);
}

static void on_agents_event(kf_bus_sub_t *sub, const kf_bus_event_t *ev, void *ud) {
    (void)sub;
    (void)ev; /* queues_changed, or an overflow: either way the queues are read again */
    kf_aws_conn_t *c = ud;
    if (!c->base.ws) return;
    kf_aws_ref(c);
    kf_aws_queues_soon(c);
    kf_aws_unref(c);
}

static void on_conv_event(kf_bus_sub_t *sub, const kf_bus_event_t *ev, void *ud) {
    (void)sub;
    kf_aws_conn_t *c = ud;
    const char *id = ev->topic ? strchr(ev->topic, ':') : NULL;
    kf_aws_conv_t *e = id ? kf_aws_conv_find(c, id + 1) : NULL;
    if (!c->base.ws || !e || !e->held) return;
    kf_aws_ref(c);
    if (ev->flags & KF_BUS_OVERFLOW) {
        kf_aws_send_transcript(c, e->id, NULL); /* messages were lost: the whole conversation again */
        kf_aws_unref(c);
        return;
    }
    /* the engine writes every message event with this head (conv_handoff.c):
     * forwarded as is, without parsing each customer word on every console */
    static const char head[] = "{\"type\":\"message\"";
    if (ev->len > sizeof head - 1 && !memcmp(ev->json, head, sizeof head - 1)) kf_aws_send_raw(c, ev->json, ev->len);
    kf_aws_unref(c);
}

/* ---- subscriptions ---- */

void kf_aws_subscribe(kf_aws_conn_t *c) {
    char topic[KF_BUS_TOPIC_MAX + 1];
    kf_bus_t *b = bus();
    if (!b) return;
    if (kf_bus_topic(topic, "agent", c->agent.id) == 0) c->agent_sub = kf_bus_subscribe(b, topic, c->loop, on_agent_event, c);
    c->agents_sub = kf_bus_subscribe(b, "agents", c->loop, on_agents_event, c);
}

void kf_aws_unsubscribe_all(kf_aws_conn_t *c) {
    if (c->agent_sub) kf_bus_unsubscribe(c->agent_sub);
    if (c->agents_sub) kf_bus_unsubscribe(c->agents_sub);
    c->agent_sub = c->agents_sub = NULL;
    for (size_t i = 0; i < c->n_convs; i++) {
        if (c->convs[i].sub) kf_bus_unsubscribe(c->convs[i].sub);
        c->convs[i].sub = NULL;
    }
}
