/* ws_chat_events.c — the customer WebSocket's view of its conversation's
 * events (engine/conv.h, "human handoff"; queue/bus.h): once a hello has
 * succeeded the connection follows conv:<id> on its own loop, and pushes to
 * the customer what it did not cause itself:
 *   message  agent and system messages, and messages stored through another
 *            channel (REST, a second tab): sent as the `message` frame they
 *            already are; one with seq <= seen_seq is skipped, which drops
 *            the events of this connection's own messages and replies (sent
 *            from the engine's completion, which runs before any event of
 *            them is delivered) and anything a replay already sent;
 *   queue    {"type":"queue","position","eta_s",...} as is;
 *   ended    the `ended` frame: an agent closed it (the widget asks for a rating) or it expired.
 * A bus overflow means events were lost: the stored messages after seen_seq
 * are replayed from history instead. */
#include <string.h>

#include <cjson/cJSON.h>

#include "http/ws_chat.h"
#include "loop/loop.h"
#include "queue/bus.h"

#define FRAME_STACK 2048

static void send_raw(kf_wschat_conn_t *c, const char *json, size_t len) {
    char st[FRAME_STACK];
    kf_buf_t b;
    kf_buf_init_with(&b, st, sizeof st);
    kf_buf_append(&b, json, len);
    kf_wschat_send(c, &b);
}

static void on_event(kf_bus_sub_t *sub, const kf_bus_event_t *ev, void *ud) {
    (void)sub;
    kf_wschat_conn_t *c = ud;
    if (!c->base.ws) return;
    if (ev->flags & KF_BUS_OVERFLOW) {
        kf_wschat_replay(c, c->seen_seq);
        return;
    }
    cJSON *j = cJSON_ParseWithLength(ev->json, ev->len);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    if (!strcmp(t, "message")) {
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(j, "seq");
        if (cJSON_IsNumber(seq) && (int64_t)seq->valuedouble > c->seen_seq) {
            c->seen_seq = (int64_t)seq->valuedouble;
            send_raw(c, ev->json, ev->len);
        }
    } else if (!strcmp(t, "queue")) {
        send_raw(c, ev->json, ev->len);
    } else if (!strcmp(t, "ended")) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
        kf_wschat_send_ended(c, cJSON_IsString(st) && !strcmp(st->valuestring, "expired") ? "expired" : "closed");
    }
    cJSON_Delete(j);
}

void kf_wschat_subscribe(kf_wschat_conn_t *c) {
    kf_bus_t *bus = kf_conv_bus(kf_wschat_cfg.conv);
    char topic[KF_BUS_TOPIC_MAX + 1];
    if (c->sub || !bus || kf_bus_topic(topic, "conv", c->conv_id) < 0) return;
    /* Without a subscription (no memory) the customer still gets every
     * message on the next resume; nothing else depends on it. */
    c->sub = kf_bus_subscribe(bus, topic, kf_loop_current(), on_event, c);
}

void kf_wschat_unsubscribe(kf_wschat_conn_t *c) {
    if (!c->sub) return;
    kf_bus_unsubscribe(c->sub);
    c->sub = NULL;
}
