/* bus.c — the EventBus calls every implementation shares (see bus.h).
 *
 * Topic and size checks live here, not in each implementation, so the
 * in-process bus and a Redis one accept exactly the same topics and events.
 * The topic grammar is spelled out here rather than borrowed from the stores,
 * so queue/ keeps depending on leaves only; it matches kf_history_valid_id
 * (conversation ids) and kf_agents_valid_id (agent ids, skill slugs). */
#include "queue/bus.h"

#include <stdatomic.h>
#include <string.h>


static int conv_id_ok(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) return 0;
    return n == 32;
}

/* ^[a-z0-9][a-z0-9_-]{0,31}$ */
static int slug_ok(const char *s) {
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (n > 0 && (c == '_' || c == '-'));
        if (!ok || n == 32) return 0;
    }
    return n > 0;
}

static int valid_after(const char *topic, const char *prefix, int (*ok)(const char *)) {
    size_t n = strlen(prefix);
    return strncmp(topic, prefix, n) == 0 && ok(topic + n);
}

int kf_bus_topic_valid(const char *topic) {
    if (!topic) return 0;
    if (strcmp(topic, "agents") == 0) return 1;
    return valid_after(topic, "conv:", conv_id_ok) || valid_after(topic, "agent:", slug_ok) ||
           valid_after(topic, "skill:", slug_ok);
}

/* Built for every stored message (engine/conv_handoff.c): no printf. */
int kf_bus_topic(char out[KF_BUS_TOPIC_MAX + 1], const char *kind, const char *id) {
    out[0] = 0;
    if (!kind || !id) return -1;
    size_t k = strlen(kind), n = strlen(id);
    if (k + 1 + n > KF_BUS_TOPIC_MAX) return -1;
    memcpy(out, kind, k);
    out[k] = ':';
    memcpy(out + k + 1, id, n + 1);
    if (!kf_bus_topic_valid(out)) {
        out[0] = 0;
        return -1;
    }
    return 0;
}

kf_bus_sub_t *kf_bus_subscribe(kf_bus_t *b, const char *topic, kf_loop_t *loop, kf_bus_fn fn, void *ud) {
    if (!b || !loop || !fn || !kf_bus_topic_valid(topic)) return NULL;
    return b->ops->subscribe(b, topic, loop, fn, ud);
}

uint64_t kf_bus_new_sub_id(void) {
    static atomic_uint_fast64_t last_id;
    return atomic_fetch_add(&last_id, 1) + 1;
}

uint64_t kf_bus_sub_id(const kf_bus_sub_t *s) { return s ? s->id : 0; }

int kf_bus_listeners(kf_bus_t *b, const char *topic, uint64_t except) {
    if (!b || !kf_bus_topic_valid(topic)) return 0;
    return b->ops->listeners ? b->ops->listeners(b, topic, except) : 1;
}

void kf_bus_unsubscribe(kf_bus_sub_t *s) {
    if (s) s->bus->ops->unsubscribe(s);
}

int kf_bus_publish(kf_bus_t *b, const char *topic, const char *json, size_t len) {
    if (!b || !json || len == 0 || len > KF_BUS_MAX_MSG || !kf_bus_topic_valid(topic)) return KF_BUS_INVALID;
    return b->ops->publish(b, topic, json, len);
}

void kf_bus_stats(kf_bus_t *b, kf_bus_stats_t *out) {
    memset(out, 0, sizeof *out);
    if (b) b->ops->stats(b, out);
}

void kf_bus_destroy(kf_bus_t *b) {
    if (b) b->ops->destroy(b);
}
