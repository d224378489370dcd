/* conv_held.c — what the engine keeps about conversations a person was asked
 * for (conv.h, kf_conv_handoff_t): why they were handed off, who the customer
 * is, what they talked about with the bot.  The router only knows ids and
 * priorities; the agent console shows these facts next to each waiting
 * customer, and the containment rate counts a conversation as escalated by
 * whether it has an entry here when it ends.
 *
 * One entry per escalated conversation that has not ended, in a table under
 * one mutex; lookups are linear.  A node holds as many as its live
 * conversations that asked for a person (hundreds); the table to change when
 * that becomes many thousands.  The summary is written once, at the handoff,
 * from a synchronous read of the conversation's last messages: a handoff is
 * rare next to messages, and the console then never reads history to list
 * a queue. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/conv_int.h"

#define SUMMARY_MESSAGES 30 /* the bot conversation's tail the summary reads */

struct kf_conv_held {
    pthread_mutex_t mu;
    kf_conv_handoff_t *v;
    size_t n, cap;
};

const double kf_conv_wait_bounds_s[KF_CONV_WAIT_BUCKETS] = {5, 10, 30, 60, 120, 300, 600, 1800, 3600};

static const char *const reason_names[KF_CONV_N_REASONS] = {"customer_request", "flow", "fallback", "complaint",
                                                           "rule", "complexity", "transfer"};

const char *kf_conv_reason_name(kf_conv_reason_t r) {
    return (int)r >= 0 && r < KF_CONV_N_REASONS ? reason_names[r] : "unknown";
}

int kf_conv_held_init(kf_conv_t *c) {
    if (!(c->held = calloc(1, sizeof *c->held))) return -1;
    pthread_mutex_init(&c->held->mu, NULL);
    return 0;
}

void kf_conv_held_free(kf_conv_t *c) {
    if (!c->held) return;
    pthread_mutex_destroy(&c->held->mu);
    free(c->held->v);
    free(c->held);
    c->held = NULL;
}

static kf_conv_handoff_t *find(struct kf_conv_held *h, const char *id) {
    for (size_t i = 0; i < h->n; i++)
        if (!strcmp(h->v[i].conv_id, id)) return &h->v[i];
    return NULL;
}

int kf_conv_held_put(kf_conv_t *c, const kf_conv_handoff_t *e) {
    struct kf_conv_held *h = c->held;
    pthread_mutex_lock(&h->mu);
    kf_conv_handoff_t *slot = find(h, e->conv_id);
    if (!slot && h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 32;
        kf_conv_handoff_t *v = realloc(h->v, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&h->mu);
            return -1;
        }
        h->v = v;
        h->cap = cap;
    }
    if (!slot) slot = &h->v[h->n++];
    *slot = *e;
    pthread_mutex_unlock(&h->mu);
    return 0;
}

int kf_conv_handoff_get(kf_conv_t *c, const char *conv_id, kf_conv_handoff_t *out) {
    struct kf_conv_held *h = c->held;
    if (!h || !conv_id) return -1;
    pthread_mutex_lock(&h->mu);
    kf_conv_handoff_t *e = find(h, conv_id);
    if (e) *out = *e;
    pthread_mutex_unlock(&h->mu);
    return e ? 0 : -1;
}

void kf_conv_held_set_reason(kf_conv_t *c, const char *conv_id, kf_conv_reason_t r) {
    pthread_mutex_lock(&c->held->mu);
    kf_conv_handoff_t *e = find(c->held, conv_id);
    if (e) e->reason = r;
    pthread_mutex_unlock(&c->held->mu);
}

int kf_conv_held_drop(kf_conv_t *c, const char *conv_id) {
    struct kf_conv_held *h = c->held;
    pthread_mutex_lock(&h->mu);
    kf_conv_handoff_t *e = find(h, conv_id);
    if (e) *e = h->v[--h->n];
    pthread_mutex_unlock(&h->mu);
    return e != NULL;
}

void kf_conv_held_ended(kf_conv_t *c, const char *conv_id) {
    if (kf_conv_held_drop(c, conv_id)) KF_CONV_COUNT(c, ended_escalated);
    else KF_CONV_COUNT(c, ended_contained);
}

void kf_conv_held_waited(kf_conv_t *c, int64_t wait_ms) {
    if (wait_ms < 0) wait_ms = 0;
    size_t b = 0;
    while (b < KF_CONV_WAIT_BUCKETS && (double)wait_ms > kf_conv_wait_bounds_s[b] * 1000.0) b++;
    if (b < KF_CONV_WAIT_BUCKETS) atomic_fetch_add_explicit(&c->st.wait_buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->st.wait_sum_ms, (unsigned long)wait_ms, memory_order_relaxed);
    KF_CONV_COUNT(c, waits);
}

/* Set before the channels start and cleared after they stopped (desk.h), so
 * plain stores suffice: no call can race the change. */
void kf_conv_set_desk(kf_conv_t *c, const kf_conv_desk_hooks_t *hooks) {
    if (hooks) c->desk = *hooks;
    else memset(&c->desk, 0, sizeof c->desk);
}

void kf_conv_queues_moved(kf_conv_t *c) { kf_conv_ho_queue_moved(c); }

void kf_conv_desk_changed(kf_conv_t *c) {
    if (c->desk.changed) c->desk.changed(c->desk.ud);
}

void kf_conv_desk_offered(kf_conv_t *c, const char *conv_id, const char *agent_id) {
    if (c->desk.offered) c->desk.offered(c->desk.ud, conv_id, agent_id);
}

/* ---- the summary -------------------------------------------------------------- */

/* Appends s to out (capacity n) while it fits, cutting at a UTF-8 boundary. */
static void put(char *out, size_t n, const char *s) {
    size_t used = strlen(out), len = strlen(s);
    if (used + len >= n) {
        len = n - used - 1;
        while (len && ((unsigned char)s[len] & 0xC0) == 0x80) len--;
    }
    memcpy(out + used, s, len);
    out[used + len] = 0;
}

static int skip_intent(const char *intent) {
    static const char *const small_talk[] = {"greeting", "thanks", "goodbye", "affirm", "deny", "oos", NULL};
    if (!intent || !intent[0]) return 1;
    for (size_t i = 0; small_talk[i]; i++)
        if (!strcmp(small_talk[i], intent)) return 1;
    return 0;
}

static void add_intent(char *out, size_t n, const char *intent, char *last, size_t lastn) {
    if (skip_intent(intent) || !strcmp(last, intent)) return;
    put(out, n, last[0] ? " → " : "");
    put(out, n, intent);
    snprintf(last, lastn, "%s", intent);
}

/* "card_lost → human_agent · “I want to talk to someone”": the topics the
 * customer raised with the bot, then their own last words (masked, as stored). */
void kf_conv_held_summarise(kf_conv_t *c, const char *conv_id, const char *text, const char *intent, kf_conv_handoff_t *h) {
    char err[200], last[64] = "";
    int64_t seq = 0;
    kf_history_msgs_t ms = {0};
    h->summary[0] = 0;
    if (kf_history_last_seq(c->history, conv_id, &seq, err, sizeof err) == KF_HISTORY_OK &&
        kf_history_fetch(c->history, conv_id, seq > SUMMARY_MESSAGES ? seq - SUMMARY_MESSAGES : 0, SUMMARY_MESSAGES,
                         &ms, err, sizeof err) == KF_HISTORY_OK) {
        for (size_t i = 0; i < ms.n; i++)
            if (ms.v[i].sender == KF_HISTORY_CUSTOMER) add_intent(h->summary, sizeof h->summary, ms.v[i].intent, last, sizeof last);
    }
    kf_history_msgs_free(&ms);
    add_intent(h->summary, sizeof h->summary, intent, last, sizeof last);
    if (text && text[0]) {
        put(h->summary, sizeof h->summary, h->summary[0] ? " · “" : "“");
        put(h->summary, sizeof h->summary - 4, text);
        put(h->summary, sizeof h->summary, "”");
    }
}
