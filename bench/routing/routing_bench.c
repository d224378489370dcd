/* routing_bench.c — the routing engine's benchmark (bench/run.sh section
 * "routing", `make routing-bench`): 500 agents (1-3 skills, 1-2 languages,
 * 3-8 chats each, all online and full) and 10,000 conversations waiting, then
 *  - cycles: an agent finishes a chat (release), a new conversation asks for
 *    a human (enqueue), the router makes the offer (assign_next) and the
 *    agent accepts — the queue stays at 10,000;
 *  - pure decisions (kf_routing_decide) over a mix of en + zh queries;
 *  - live decisions (kf_routing_decide_live) against that state.
 * One line per measure: ops/s, mean, p50 and p99 per operation
 * (clock_gettime around each one, ~20 ns of it included).  Time is simulated: 1 ms passes
 * per cycle, so aging and the offer heap see real-looking clocks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/routing.h"

#define N_AGENTS 500
#define N_WAITING 10000

static const char *const skills[] = {"cards", "loans", "payments", "accounts", "complaints", "general"};
static const char *const langs[] = {"en", "zh"};

static uint64_t rng = 88172645463325252ull;
static unsigned rnd(unsigned n) { /* xorshift64: fixed seed, same run every time */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static uint64_t ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ops/s = operations per second of time spent inside them (the harness's own
 * work between operations, e.g. making the next input, is not counted). */
static void report(const char *what, uint64_t *lat, size_t n) {
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) sum += lat[i];
    qsort(lat, n, sizeof *lat, cmp_u64);
    printf("%s: %.0f ops/s, mean %.2f us, p50 %.2f us, p99 %.2f us, p99.9 %.2f us (%zu ops, %d waiting, %d agents)\n", what,
           (double)n * 1e9 / (double)sum, (double)sum / (double)n / 1000.0, lat[n / 2] / 1000.0,
           lat[n * 99 / 100] / 1000.0, lat[n * 999 / 1000] / 1000.0, n, N_WAITING, N_AGENTS);
}

typedef struct {
    char (*ids)[KF_ROUTING_ID_MAX];
    size_t n;
} assigned_t;

static void add_agents(kf_routing_t *r) {
    char id[32];
    for (int i = 0; i < N_AGENTS; i++) {
        const char *sk[3], *lg[2];
        size_t ns_ = 1 + rnd(3), nl = 1 + rnd(2);
        unsigned first = rnd(6);
        for (size_t k = 0; k < ns_; k++) sk[k] = skills[(first + k) % 6];
        lg[0] = langs[rnd(2)];
        lg[1] = lg[0] == langs[0] ? langs[1] : langs[0];
        snprintf(id, sizeof id, "agent%d", i);
        if (kf_routing_agent_upsert(r, id, sk, ns_, lg, nl, 3 + (int)rnd(6)) ||
            kf_routing_agent_status(r, id, KF_ROUTING_ONLINE, 0)) {
            fprintf(stderr, "routing_bench: agent set-up failed\n");
            exit(1);
        }
    }
}

static unsigned long next_conv;

static void enqueue_one(kf_routing_t *r, int64_t now) {
    char id[32], cust[32];
    snprintf(id, sizeof id, "conv%lu", next_conv++);
    snprintf(cust, sizeof cust, "cust%u", rnd(50000));
    if (kf_routing_enqueue(r, id, cust, skills[rnd(6)], langs[rnd(2)], (double)rnd(200), now)) {
        fprintf(stderr, "routing_bench: enqueue failed\n");
        exit(1);
    }
}

/* Offers until nobody can take more, accepting each; returns offers made. */
static size_t drain(kf_routing_t *r, int64_t now, assigned_t *as) {
    kf_routing_offer_t o;
    size_t n = 0;
    while (kf_routing_assign_next(r, now, &o)) {
        kf_routing_accept(r, o.conv_id, o.agent_id, now);
        snprintf(as->ids[as->n++], KF_ROUTING_ID_MAX, "%s", o.conv_id);
        n++;
    }
    return n;
}

static void bench_cycles(kf_routing_t *r, assigned_t *as, int64_t *now, size_t n) {
    uint64_t *lat = malloc(n * sizeof *lat);
    kf_routing_offer_t o;
    size_t offers = 0;
    for (size_t i = 0; i < n; i++) {
        (*now)++;
        size_t k = rnd((unsigned)as->n);
        uint64_t s = ns();
        kf_routing_release(r, as->ids[k], *now);
        enqueue_one(r, *now);
        if (kf_routing_assign_next(r, *now, &o)) {
            kf_routing_accept(r, o.conv_id, o.agent_id, *now);
            snprintf(as->ids[k], KF_ROUTING_ID_MAX, "%s", o.conv_id);
            offers++;
        } else {
            memcpy(as->ids[k], as->ids[--as->n], KF_ROUTING_ID_MAX); /* the slot stays free: forget that chat */
        }
        lat[i] = ns() - s;
    }
    report("routing release+enqueue+assign+accept cycle", lat, n);
    if (offers * 10 < n * 9) fprintf(stderr, "routing_bench: only %zu of %zu cycles made an offer\n", offers, n);
    free(lat);
}

static const char *const texts[] = {
    "I lost my credit card yesterday", "how do I apply for a mortgage", "This is unacceptable, the worst service",
    "what are your opening hours", "我的卡丢了", "服务太差了，我要投诉", "transfer 500 dollars to my savings account",
    "I want to talk to a person", "你们几点开门", "the app keeps crashing and nobody helps, terrible"};
static const char *const intents[] = {"lost_or_stolen_card", "mortgage", "complaint", "opening_hours",
                                      "lost_or_stolen_card", "complaint", "transfer_money", "human_agent",
                                      "opening_hours", "oos"};
static const char *const intent_skills[] = {"cards", "loans", "complaints", "general", "cards",
                                            "complaints", "payments", "general", "general", NULL};

static kf_routing_input_t input(void) {
    unsigned q = rnd(10);
    static char cust[32];
    snprintf(cust, sizeof cust, "cust%u", rnd(50000));
    return (kf_routing_input_t){.customer_id = cust, .vip_tier = (int)rnd(4), .language = q == 4 || q == 5 || q == 8 ? "zh" : "en",
                                .customer_value = rnd(100000), .earlier_contacts = (int)rnd(5), .text = texts[q],
                                .intent = intents[q], .confidence = 0.4 + rnd(60) / 100.0, .out_of_scope = q == 9,
                                .intents_seen = 1 + (int)rnd(3), .entities = (int)rnd(3), .failures = (int)rnd(3),
                                .intent_skill = intent_skills[q]};
}

static void bench_decide(kf_routing_t *r, int64_t now, size_t n, int live) {
    uint64_t *lat = malloc(n * sizeof *lat);
    kf_routing_decision_t d;
    unsigned humans = 0;
    for (size_t i = 0; i < n; i++) {
        kf_routing_input_t in = input();
        uint64_t s = ns();
        if (live) kf_routing_decide_live(r, &in, now, &d);
        else kf_routing_decide(kf_routing_config(r), &in, &d);
        lat[i] = ns() - s;
        humans += d.kind != KF_ROUTING_BOT;
    }
    report(live ? "routing decide_live (policy + agent state)" : "routing decide (pure policy)", lat, n);
    if (!humans || humans == n) fprintf(stderr, "routing_bench: the query mix did not exercise both targets\n");
    free(lat);
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 200000;
    if (n < 100) n = 100;
    kf_routing_config_t cfg;
    kf_routing_config_default(&cfg);
    cfg.overflow_after_s = 0; /* overflow is a tick's job, not measured here */
    kf_routing_t *r = kf_routing_new(&cfg, skills, 6, langs, 2);
    assigned_t as = {calloc(N_AGENTS * 8 + 1, KF_ROUTING_ID_MAX), 0};
    if (!r || !as.ids) return 1;
    int64_t now = 1700000000000;
    add_agents(r);
    size_t waiting = 0;
    while (waiting < N_WAITING) { /* every agent fills up first, then the queues */
        enqueue_one(r, now);
        drain(r, now, &as);
        waiting = 0;
        for (int s = 0; s < 6; s++) waiting += kf_routing_queue_len(r, skills[s]);
    }
    printf("routing set-up: %d agents, %zu chats assigned, %zu waiting\n", N_AGENTS, as.n, waiting);
    bench_cycles(r, &as, &now, n);
    bench_decide(r, now, n, 0);
    bench_decide(r, now, n, 1);
    kf_routing_free(r);
    free(as.ids);
    return 0;
}
