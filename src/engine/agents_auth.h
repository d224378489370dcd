/* agents_auth.h — agent sessions: login tokens, presence and the failed-login
 * throttle, with no HTTP in it (http/agent_auth.h and http/routes_agents.c
 * put it on the wire; the agent console and the routing engine read it).
 *
 * Tokens: "kfa_" + 32 random bytes in base64url (libsodium randombytes).
 * Only a BLAKE2b-256 digest of the token is kept, in an in-memory hash
 * table keyed by that digest: lookup is O(1), and a memory dump shows no
 * usable token.  Digests are compared in constant time.  Tokens live in this
 * process only: a restart logs every agent out (the console logs in again);
 * several nodes would share them through Redis behind this same interface.
 *
 * Presence: online / away / offline, set by the agent; each authenticated
 * request from the agent, its heartbeat and a status change count as "seen".
 * An agent not seen for heartbeat_timeout reads as offline: the timeout is
 * applied when the state is read, so no timer is needed and no read can see
 * a stale online.
 *
 * Logins and account creation hash with argon2id (tens of ms, 64 MiB each):
 * they run on this module's own worker threads, at most `hash_workers` at
 * once (bounding memory as well as CPU), and the completion is posted back
 * to the caller's loop.  An unknown id is verified against a dummy hash so
 * its answer takes as long as a wrong password's.
 *
 * Thread safety: every function may be called from any thread. */
#ifndef KF_ENGINE_AGENTS_AUTH_H
#define KF_ENGINE_AGENTS_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "store/agents.h"

typedef struct kf_loop kf_loop_t;
typedef struct kf_agent_auth kf_agent_auth_t;

#define KF_AGENT_TOKEN_LEN 47 /* "kfa_" + 43 base64url characters */

typedef enum { KF_AGENT_OFFLINE = 0, KF_AGENT_ONLINE = 1, KF_AGENT_AWAY = 2 } kf_agent_status_t;

typedef struct {
    kf_agents_t *store;            /* required; not owned */
    int64_t token_ttl_ms;          /* 0 = 12 h */
    int64_t heartbeat_timeout_ms;  /* 0 = 60 s */
    int max_failures;              /* failed logins per key per window when the caller gives no limit; 0 = 5 */
    int64_t failure_window_ms;     /* 0 = 60 s */
    int hash_workers;              /* argon2id hashes at once; 0 = 2 */
    size_t hash_queue;             /* logins waiting for a worker; 0 = 64 (beyond: busy) */
    int64_t (*now_ms)(void);       /* clock (wall, ms); NULL = the real one.  Tests inject theirs. */
} kf_agent_auth_config_t;

kf_agent_auth_t *kf_agent_auth_new(const kf_agent_auth_config_t *cfg, char *err, size_t errlen);
/* Waits for running hashes; completions not yet posted are dropped. */
void kf_agent_auth_free(kf_agent_auth_t *a);
kf_agents_t *kf_agent_auth_store(kf_agent_auth_t *a);
int64_t kf_agent_auth_now(kf_agent_auth_t *a);
int64_t kf_agent_auth_token_ttl_ms(kf_agent_auth_t *a);
int64_t kf_agent_auth_heartbeat_timeout_ms(kf_agent_auth_t *a);

/* ---- tokens ---- */

/* A new token for agent_id, valid token_ttl from now. */
int kf_agent_auth_issue(kf_agent_auth_t *a, const char *agent_id, char token[KF_AGENT_TOKEN_LEN + 1],
                        int64_t *expires_at_ms);
/* 1 and the agent id + expiry when token (len bytes, not NUL-terminated) is
 * live; 0 when unknown, forged or expired (an expired one is dropped). */
int kf_agent_auth_lookup(kf_agent_auth_t *a, const char *token, size_t len, char agent_id[KF_AGENT_ID_MAX + 1],
                         int64_t *expires_at_ms);
/* Ends one token; 1 when it existed. */
int kf_agent_auth_revoke(kf_agent_auth_t *a, const char *token, size_t len);
/* Ends every token of agent_id (disable); returns how many. */
size_t kf_agent_auth_revoke_agent(kf_agent_auth_t *a, const char *agent_id);
/* Drops expired tokens and forgets long-gone presence; returns tokens dropped. */
size_t kf_agent_auth_sweep(kf_agent_auth_t *a);
size_t kf_agent_auth_token_count(kf_agent_auth_t *a);

/* ---- presence ---- */

const char *kf_agent_status_name(kf_agent_status_t s); /* "online" ... */
int kf_agent_status_parse(const char *s);               /* -> status, or -1 */
/* Sets the agent's chosen status and marks it seen. */
int kf_agent_auth_set_status(kf_agent_auth_t *a, const char *agent_id, kf_agent_status_t s);
/* Marks the agent seen now (a heartbeat, or any authenticated request). */
void kf_agent_auth_touch(kf_agent_auth_t *a, const char *agent_id);
/* The status as others should see it: offline once heartbeats stopped.
 * last_seen_ms (may be NULL) gets 0 when never seen. */
kf_agent_status_t kf_agent_auth_status(kf_agent_auth_t *a, const char *agent_id, int64_t *last_seen_ms);

/* ---- failed-login throttle (keys such as "id:alice", "ip:10.0.0.7") ----
 * Fixed windows of failure_window_ms per key; limit is the failures a key
 * may have per window (0 = max_failures): an address may deserve more than
 * one account (a call centre behind one NAT). */

/* 0 when key may try now; else the ms until it may. */
int64_t kf_agent_auth_throttled(kf_agent_auth_t *a, const char *key, int limit);
void kf_agent_auth_failed(kf_agent_auth_t *a, const char *key, int limit);
void kf_agent_auth_clear_failures(kf_agent_auth_t *a, const char *key);

/* ---- slow work on the hash workers ---- */

enum {
    KF_AGENT_AUTH_OK = 0,
    KF_AGENT_AUTH_DENIED = -10, /* unknown id, wrong password or disabled: one answer for all */
    KF_AGENT_AUTH_BUSY = -11,   /* the hash queue is full: try later */
};

typedef struct {
    int status;                     /* KF_AGENT_AUTH_OK, _DENIED, or a KF_AGENTS_* code (create) */
    const char *error;              /* human-readable when status != OK; never mentions the password */
    kf_agent_t agent;               /* login: the account; create: the stored record */
    char token[KF_AGENT_TOKEN_LEN + 1]; /* login only */
    int64_t expires_at_ms;          /* login only */
} kf_agent_auth_result_t;

/* Runs on loop's thread (or the worker's when loop is NULL); r is valid only during the call. */
typedef void (*kf_agent_auth_done_fn)(const kf_agent_auth_result_t *r, void *ud);

/* Checks the password; on success issues a token and marks the agent online.
 * Returns KF_AGENT_AUTH_OK (done will run exactly once) or _BUSY / KF_AGENTS_NOMEM (never). */
int kf_agent_auth_login_async(kf_agent_auth_t *a, const char *agent_id, const char *password, kf_loop_t *loop,
                              kf_agent_auth_done_fn done, void *ud);
/* Hashes password and stores the account (validated first by the caller). */
int kf_agent_auth_create_async(kf_agent_auth_t *a, const kf_agent_t *agent, const char *password, kf_loop_t *loop,
                               kf_agent_auth_done_fn done, void *ud);

#endif
