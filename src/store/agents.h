/* agents.h — the AgentStore interface: the people who take over from the bot.
 *
 * An agent account is an id (a short slug, also the login name), a display
 * name, the skills and languages it serves, how many chats it may hold at
 * once, a role (agent or admin), a disabled flag and a password hash.  The
 * embedded implementation is SQLite (agents_sqlite.c, its own agents.db);
 * a PostgreSQL one plugs in behind the same table of functions, like
 * store/history.h.
 *
 * Calls are synchronous: accounts change rarely (an admin adds one, a CLI
 * disables one) and reads are a primary-key lookup.  Password hashing is
 * NOT done here — it takes tens of milliseconds — but by the caller, off the
 * event loop (engine/agents_auth.h); the store only keeps the hash text.
 *
 * Live state (online/away, open tokens, chats held) is not stored here: it
 * belongs to the running server (engine/agents_auth.h). */
#ifndef KF_STORE_AGENTS_H
#define KF_STORE_AGENTS_H

#include <stddef.h>
#include <stdint.h>

enum {
    KF_AGENTS_OK = 0,
    KF_AGENTS_ERR = -1,      /* storage failure */
    KF_AGENTS_NOMEM = -3,
    KF_AGENTS_INVALID = -4,  /* a field out of its range (err says which) */
    KF_AGENTS_NOTFOUND = -5,
    KF_AGENTS_EXISTS = -6,   /* create with an id already taken */
};

#define KF_AGENT_ID_MAX 32        /* ids: ^[a-z0-9][a-z0-9_-]{0,31}$ */
#define KF_AGENT_NAME_MAX 400     /* bytes of UTF-8 (100 code points of CJK) */
#define KF_AGENT_MAX_SKILLS 16
#define KF_AGENT_SKILL_MAX 32     /* skills are slugs like the bot's ("cards") */
#define KF_AGENT_MAX_CHATS 50
#define KF_AGENT_PASSWORD_MIN 8   /* bytes */
#define KF_AGENT_PASSWORD_MAX 128
#define KF_AGENT_HASH_MAX 128     /* crypto_pwhash_STRBYTES */

typedef enum { KF_AGENT_ROLE_AGENT = 1, KF_AGENT_ROLE_ADMIN = 2 } kf_agent_role_t;
/* Languages as a bit set: the bot's two. */
enum { KF_AGENT_LANG_EN = 1 << 0, KF_AGENT_LANG_ZH = 1 << 1 };

/* Fixed-size so that records copy by assignment and need no _free. */
typedef struct {
    char id[KF_AGENT_ID_MAX + 1];
    char name[KF_AGENT_NAME_MAX + 1];
    char skills[KF_AGENT_MAX_SKILLS][KF_AGENT_SKILL_MAX + 1];
    size_t n_skills;
    unsigned languages;   /* KF_AGENT_LANG_* bits, at least one */
    int max_chats;        /* 1..KF_AGENT_MAX_CHATS */
    kf_agent_role_t role;
    int disabled;
    int64_t created_at_ms; /* wall clock; 0 on create = now */
} kf_agent_t;

typedef struct kf_agents kf_agents_t;
typedef struct kf_agents_ops {
    /* a is validated (kf_agents_validate); pw_hash is a crypto_pwhash_str string. */
    int (*create)(kf_agents_t *s, const kf_agent_t *a, const char *pw_hash, char *err, size_t errlen);
    /* pw_hash (KF_AGENT_HASH_MAX + 1 bytes) may be NULL when not wanted. */
    int (*get)(kf_agents_t *s, const char *id, kf_agent_t *out, char *pw_hash, char *err, size_t errlen);
    /* All accounts by id; *out is malloc'd (free()), NULL when none. */
    int (*list)(kf_agents_t *s, kf_agent_t **out, size_t *n, char *err, size_t errlen);
    int (*set_disabled)(kf_agents_t *s, const char *id, int disabled, char *err, size_t errlen);
    void (*destroy)(kf_agents_t *s);
} kf_agents_ops_t;

struct kf_agents {
    const kf_agents_ops_t *ops;
};

static inline int kf_agents_create(kf_agents_t *s, const kf_agent_t *a, const char *h, char *err, size_t n) {
    return s->ops->create(s, a, h, err, n);
}
static inline int kf_agents_get(kf_agents_t *s, const char *id, kf_agent_t *out, char *h, char *err, size_t n) {
    return s->ops->get(s, id, out, h, err, n);
}
static inline int kf_agents_list(kf_agents_t *s, kf_agent_t **out, size_t *cnt, char *err, size_t n) {
    return s->ops->list(s, out, cnt, err, n);
}
static inline int kf_agents_set_disabled(kf_agents_t *s, const char *id, int d, char *err, size_t n) {
    return s->ops->set_disabled(s, id, d, err, n);
}
static inline void kf_agents_destroy(kf_agents_t *s) {
    if (s) s->ops->destroy(s);
}

/* ---- shared helpers (agents.c) ---- */

int kf_agents_valid_id(const char *id);
/* Checks every field; 0, or -1 with the first problem in err. */
int kf_agents_validate(const kf_agent_t *a, char *err, size_t errlen);
/* "cards,loans" -> a->skills; "en,zh" -> a->languages.  -1 with err. */
int kf_agents_parse_skills(const char *csv, kf_agent_t *a, char *err, size_t errlen);
int kf_agents_parse_languages(const char *csv, unsigned *langs, char *err, size_t errlen);
/* Writes "en,zh" (at most 6 bytes + NUL) into out. */
void kf_agents_languages_csv(unsigned langs, char out[8]);
void kf_agents_skills_csv(const kf_agent_t *a, char *out, size_t outlen);
const char *kf_agents_role_name(kf_agent_role_t r); /* "agent" | "admin" */
int kf_agents_role_parse(const char *s);           /* -> role, or -1 */

/* Password hashing: libsodium's crypto_pwhash_str, argon2id with the
 * INTERACTIVE limits (2 passes over 64 MiB; ~50-100 ms on one core here).
 * Both are slow on purpose: never call them on an event loop.  The
 * password must be KF_AGENT_PASSWORD_MIN..MAX bytes. */
int kf_agents_hash_password(const char *password, char out[KF_AGENT_HASH_MAX + 1], char *err, size_t errlen);
/* 1 when password matches hash; 0 otherwise (also for a malformed hash). */
int kf_agents_verify_password(const char *hash, const char *password);

/* ---- the SQLite implementation ---- */

/* Opens path (created when missing; WAL; schema created or migrated).  NULL
 * with err when the file cannot be used, e.g. written by a newer kefu. */
kf_agents_t *kf_agents_sqlite_open(const char *path, char *err, size_t errlen);
/* The schema version this build writes (PRAGMA user_version). */
int kf_agents_sqlite_schema_version(void);

/* The account as a JSON object (no password hash): id, name, skills,
 * languages, max_chats, role, disabled, created_at.  For the CLI and the API. */
typedef struct cJSON cJSON;
cJSON *kf_agents_json(const kf_agent_t *a);

#endif
