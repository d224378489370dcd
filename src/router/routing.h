/* routing.h — the routing engine: who should answer a customer (the bot, a
 * skill queue or a specific agent), the waiting queues per skill and the live
 * agent state that decides which agent is offered which conversation.
 *
 * Two layers:
 *  - a pure policy, kf_routing_decide(): profile + query features + the bot's
 *    intent→skill mapping + rules (bot.yml `routing:`) → a target with the
 *    weights that made its priority and a human-readable reason;
 *  - a stateful router, kf_routing_t: one priority queue per (skill, language)
 *    with aging, agents ordered by load per (skill, language), offers with a
 *    timeout, overflow to a fallback skill, transfer, stickiness.
 *
 * No I/O (except kf_routing_config_load, which reads bot.yml), no global state
 * and no clock: every call that needs the time takes now_ms, so tests and the
 * benchmark drive time themselves.  Thread-safety: every kf_routing_* function
 * taking a kf_routing_t locks that router's mutex for the whole call, so any
 * thread may call them; the policy functions touch no shared state.
 *
 * Effective priority of a waiting conversation at time t:
 *     eff(t) = base + aging_per_s * (t - enqueued_at) / 1000
 * Every conversation of one queue ages at the same rate, so ordering by eff(t)
 * is ordering by the constant key base - aging_per_s * enqueued_at / 1000: the
 * heap never needs re-keying as time passes, and a regular customer who has
 * waited (base_vip - base_regular) / aging_per_s seconds longer goes first.
 *
 * Cost: enqueue, leave, accept, reject, release, an offer and an overflow move
 * are O(log n) in waiting conversations and O(k log a) in agents (k = the
 * agent's skill×language pairs); kf_routing_assign_next scans the S×L queue
 * heads (a constant set by bot.yml, at most KF_ROUTING_MAX_SKILLS × _LANGS). */
#ifndef KF_ROUTER_ROUTING_H
#define KF_ROUTER_ROUTING_H

#include <stddef.h>
#include <stdint.h>

#define KF_ROUTING_MAX_SKILLS 16
#define KF_ROUTING_MAX_LANGS 4
#define KF_ROUTING_MAX_RULES 32
#define KF_ROUTING_MAX_HUMAN_INTENTS 8
#define KF_ROUTING_NAME_MAX 48 /* skill, language, intent names */
#define KF_ROUTING_ID_MAX 64   /* conversation, customer and agent ids */

/* ---- configuration (bot.yml `routing:`, bots/README.md) ---------------- */

typedef struct {
    int line;        /* in bot.yml, for error messages */
    int vip_min;     /* -1: any */
    double value_min; /* < 0: any */
    char intent[KF_ROUTING_NAME_MAX];   /* "": any */
    char language[KF_ROUTING_NAME_MAX]; /* "": any */
    char then_skill[KF_ROUTING_NAME_MAX]; /* "": keep the skill; set: hand to a human in this skill */
    double then_priority;                 /* added to the priority */
    int then_human;                       /* hand to a human even without then_skill */
} kf_routing_rule_t;

typedef struct {
    /* priority points per unit of each input (see kf_routing_weights_t) */
    double w_vip, w_value, w_complexity, w_sentiment, w_failures, w_contacts;
    double aging_per_s;       /* priority points per second waited */
    double offer_timeout_s;   /* T: an offer not accepted by then goes to the next agent */
    double overflow_after_s;  /* W: a conversation waiting this long moves to fallback_skill */
    char fallback_skill[KF_ROUTING_NAME_MAX];
    char complaint_skill[KF_ROUTING_NAME_MAX]; /* where strongly negative messages go */
    double human_complexity;   /* complexity at or above this: a human */
    double negative_threshold; /* sentiment negativity at or above this: complaint_skill */
    int max_failures;          /* this many bot failures in a row: a human */
    char human_intents[KF_ROUTING_MAX_HUMAN_INTENTS][KF_ROUTING_NAME_MAX]; /* always a human */
    size_t n_human_intents;
    kf_routing_rule_t rules[KF_ROUTING_MAX_RULES];
    size_t n_rules;
    char file[256]; /* where it was read from ("" for the defaults) */
} kf_routing_config_t;

/* The defaults (also what bots/demo/bot.yml spells out). */
void kf_routing_config_default(kf_routing_config_t *cfg);
/* Reads the `routing:` mapping of PATH (a bot.yml) over cfg's current values;
 * no `routing:` key leaves cfg as it is.  -1 with err "file:line: what". */
int kf_routing_config_load(const char *path, kf_routing_config_t *cfg, char *err, size_t errlen);
/* Every skill the config names (fallback, complaint, rules) must be in
 * skills[0..n); -1 with err "file:line: unknown skill ...". */
int kf_routing_config_check(const kf_routing_config_t *cfg, const char *const *skills, size_t n, char *err,
                            size_t errlen);

/* ---- the policy (pure) -------------------------------------------------- */

typedef struct {
    /* profile */
    const char *customer_id; /* NULL: anonymous (no stickiness) */
    int vip_tier;            /* 0..9 */
    const char *language;    /* "en", "zh" */
    double customer_value;   /* >= 0, currency units; weighted by log10(1 + value) */
    int earlier_contacts;
    /* the query, as the NLU and the conversation saw it */
    const char *text;        /* for length and sentiment; may be NULL */
    const char *intent;      /* NULL or "oos" when out of scope */
    double confidence;
    int out_of_scope;
    int intents_seen;        /* distinct intents in the conversation so far (>= 1) */
    int entities;            /* entities found */
    int failures;            /* bot fallbacks in a row */
    const char *intent_skill; /* the bot's skill for intent (kf_bot_skill), NULL if none */
} kf_routing_input_t;

/* Each input's contribution in priority points; priority is their sum. */
typedef struct {
    double vip, value, complexity, sentiment, failures, contacts, rules;
} kf_routing_weights_t;

typedef enum { KF_ROUTING_BOT, KF_ROUTING_SKILL, KF_ROUTING_AGENT } kf_routing_kind_t;

typedef struct {
    kf_routing_kind_t kind;
    char skill[KF_ROUTING_NAME_MAX]; /* always set: where a human would come from */
    char agent_id[KF_ROUTING_ID_MAX]; /* KF_ROUTING_AGENT only */
    double priority;
    kf_routing_weights_t weights;
    double complexity; /* 0..1 */
    double negativity; /* 0..1 */
    char reason[512];
} kf_routing_decision_t;

/* Negativity of TEXT in 0..1 from a small built-in lexicon: English words
 * (whole words, case-insensitive) and Chinese phrases (substrings), strong
 * entries counting 2 and mild ones 1, 3 points or more = 1.0.  It is a
 * lexicon, not a sentiment model: it misses irony and negation. */
double kf_routing_negativity(const char *text);
/* Complexity of the query in 0..1 (formula in policy.c). */
double kf_routing_complexity(const kf_routing_input_t *in);
/* The decision without agent state: kind is BOT or SKILL. */
void kf_routing_decide(const kf_routing_config_t *cfg, const kf_routing_input_t *in, kf_routing_decision_t *out);

/* ---- the router (stateful) ---------------------------------------------- */

typedef struct kf_routing kf_routing_t;

typedef enum { KF_ROUTING_OFFLINE, KF_ROUTING_AWAY, KF_ROUTING_ONLINE } kf_routing_presence_t;

typedef enum {
    KF_ROUTING_OK = 0,
    KF_ROUTING_EINVAL = -1,  /* bad argument: unknown skill or language, empty id */
    KF_ROUTING_ENOENT = -2,  /* no such conversation or agent */
    KF_ROUTING_ESTATE = -3,  /* not in a state that allows it (e.g. accept without an offer) */
    KF_ROUTING_EBUSY = -4,   /* the agent is not online or has no free capacity */
    KF_ROUTING_ENOMEM = -5,
    KF_ROUTING_EEXIST = -6,  /* the conversation is already routed */
} kf_routing_rc_t;

/* skills and languages: the names queues and agents may use (bot.yml's). */
kf_routing_t *kf_routing_new(const kf_routing_config_t *cfg, const char *const *skills, size_t n_skills,
                             const char *const *langs, size_t n_langs);
void kf_routing_free(kf_routing_t *r);
const kf_routing_config_t *kf_routing_config(const kf_routing_t *r);

/* Agents: creates or updates (skills, languages, capacity; status and load are
 * kept).  Agent accounts live elsewhere; this is only their routing state. */
int kf_routing_agent_upsert(kf_routing_t *r, const char *agent_id, const char *const *skills, size_t n_skills,
                            const char *const *langs, size_t n_langs, int max_chats);
int kf_routing_agent_status(kf_routing_t *r, const char *agent_id, kf_routing_presence_t st, int64_t now_ms);

typedef struct {
    kf_routing_presence_t status;
    int load, max_chats;
    int64_t last_assigned_ms;
} kf_routing_agent_info_t;
int kf_routing_agent_info(kf_routing_t *r, const char *agent_id, kf_routing_agent_info_t *out);

/* Conversations waiting for a human.  base_priority: kf_routing_decision_t.priority. */
int kf_routing_enqueue(kf_routing_t *r, const char *conv_id, const char *customer_id, const char *skill,
                       const char *lang, double base_priority, int64_t now_ms);
/* The customer left (or the bot took it back) while waiting or offered. */
int kf_routing_leave(kf_routing_t *r, const char *conv_id, int64_t now_ms);

typedef enum { KF_ROUTING_WAITING, KF_ROUTING_OFFERED, KF_ROUTING_ASSIGNED } kf_routing_conv_state_t;
typedef struct {
    kf_routing_conv_state_t state;
    char skill[KF_ROUTING_NAME_MAX];
    char agent_id[KF_ROUTING_ID_MAX]; /* offered to or assigned to */
    double effective_priority;        /* at now_ms */
    int64_t enqueued_ms;              /* when it first asked for a human (kept by reject, overflow) */
    int overflowed, transfers, rejections;
} kf_routing_conv_info_t;
int kf_routing_conv_info(kf_routing_t *r, const char *conv_id, int64_t now_ms, kf_routing_conv_info_t *out);
/* 1-based place of a waiting conversation in its (skill, language) queue and
 * how many wait there, for "you are number N".  O(n) in that queue (a scan of
 * the heap array: about 10 µs at 10,000 waiting); call it when the position
 * is shown, not per routing decision.  ESTATE when not waiting. */
int kf_routing_position(kf_routing_t *r, const char *conv_id, size_t *pos, size_t *waiting);
/* Conversations waiting in SKILL (all languages). */
size_t kf_routing_queue_len(kf_routing_t *r, const char *skill);

typedef struct {
    char conv_id[KF_ROUTING_ID_MAX];
    char agent_id[KF_ROUTING_ID_MAX];
    char skill[KF_ROUTING_NAME_MAX];
    int sticky; /* the agent last served this customer */
} kf_routing_offer_t;

/* Makes at most one offer: the waiting conversation with the highest effective
 * priority that some agent can take (sticky agent first, else the least-loaded
 * online agent with the skill, the language and free capacity).  The agent's
 * load counts the offer until it is accepted, rejected or times out.
 * 1 with *out, 0 when nothing can be offered now.  Call until 0. */
int kf_routing_assign_next(kf_routing_t *r, int64_t now_ms, kf_routing_offer_t *out);
int kf_routing_accept(kf_routing_t *r, const char *conv_id, const char *agent_id, int64_t now_ms);
/* Back to its queue (keeping its wait) and not offered to this agent again. */
int kf_routing_reject(kf_routing_t *r, const char *conv_id, const char *agent_id, int64_t now_ms);
/* Time-driven work due at now_ms: offers older than offer_timeout_s are
 * rejected; conversations waiting overflow_after_s move to fallback_skill.
 * Returns how many of each happened (either pointer may be NULL). */
void kf_routing_tick(kf_routing_t *r, int64_t now_ms, size_t *timeouts, size_t *overflows);
/* The conversation (same id, so its transcript stays with it) goes to another
 * skill's queue (to_agent NULL) or is offered to to_agent directly. */
int kf_routing_transfer(kf_routing_t *r, const char *conv_id, const char *to_skill, const char *to_agent,
                        int64_t now_ms);
/* The agent is done with the conversation (closed or handed back to the bot). */
int kf_routing_release(kf_routing_t *r, const char *conv_id, int64_t now_ms);

/* ---- views for people (snapshot.c): O(n), for dashboards, not decisions ---- */

typedef struct {
    char conv_id[KF_ROUTING_ID_MAX];
    kf_routing_conv_state_t state;
    char skill[KF_ROUTING_NAME_MAX], lang[KF_ROUTING_NAME_MAX];
    char agent_id[KF_ROUTING_ID_MAX]; /* offered to or assigned to; "" while waiting */
    double effective_priority;
    int64_t enqueued_ms, offered_ms;  /* offered_ms: 0 unless offered */
} kf_routing_entry_t;
/* Every conversation the router holds, by skill, then waiting before offered
 * before assigned, then highest effective priority (the queue order).
 * *out is malloc'd (NULL when none or out of memory); returns the count. */
size_t kf_routing_snapshot(kf_routing_t *r, int64_t now_ms, kf_routing_entry_t **out);

typedef struct {
    char skill[KF_ROUTING_NAME_MAX];
    size_t waiting, offered, assigned;
    int64_t oldest_wait_ms; /* of the waiting ones; 0 when none */
} kf_routing_skill_stats_t;
typedef struct {
    kf_routing_skill_stats_t skills[KF_ROUTING_MAX_SKILLS];
    size_t n_skills;
    int agents_online, agents_away;
    int load;     /* conversations offered to or assigned to online and away agents */
    int capacity; /* max_chats summed over online agents */
} kf_routing_stats_t;
void kf_routing_stats(kf_routing_t *r, int64_t now_ms, kf_routing_stats_t *out);

/* kf_routing_decide plus the live state, without changing it: a human target
 * becomes KF_ROUTING_AGENT when an agent would take it now (the customer's
 * last agent, or the least-loaded one when nobody better is waiting). */
void kf_routing_decide_live(kf_routing_t *r, const kf_routing_input_t *in, int64_t now_ms,
                            kf_routing_decision_t *out);

const char *kf_routing_kind_name(kf_routing_kind_t k);

#endif
