/* Unit tests for agent accounts and sessions: the SQLite AgentStore
 * (store/agents*.c: create/get/list/disable, duplicate id, validation,
 * schema creation on an empty file and refusal of a newer one, restart
 * survival), password hashing, and engine/agents_auth (tokens with an
 * injected clock: issue, lookup, expiry, forgery, revoke; presence with
 * heartbeat timeout; the failed-login throttle; async login and create on
 * the hash workers with completions on a loop). */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/agents_auth.h"
#include "loop/loop.h"
#include "store/agents.h"

#include "sqlite_tmp.h"

static char err[256];

static void setup(void) { sqlite_tmp_make("agents.db"); }
static void teardown(void) { sqlite_tmp_remove(); }

TestSuite(agents, .init = setup, .fini = teardown, .timeout = 60);

static kf_agent_t make_agent(const char *id, kf_agent_role_t role) {
    kf_agent_t a = {.languages = KF_AGENT_LANG_EN, .max_chats = 3, .role = role};
    snprintf(a.id, sizeof a.id, "%s", id);
    snprintf(a.name, sizeof a.name, "Agent %s", id);
    cr_assert_eq(kf_agents_parse_skills("cards, loans,cards", &a, err, sizeof err), 0);
    return a;
}

/* A cheap stand-in for an argon2id hash where the test is not about hashing. */
#define FAKE_HASH "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

Test(agents, create_get_list_disable) {
    kf_agents_t *s = kf_agents_sqlite_open(path, err, sizeof err);
    cr_assert(s, "%s", err);
    kf_agent_t a = make_agent("alice", KF_AGENT_ROLE_AGENT), b = make_agent("bob-2", KF_AGENT_ROLE_ADMIN);
    a.languages |= KF_AGENT_LANG_ZH;
    cr_assert_eq(a.n_skills, 2, "duplicate skills collapse");
    cr_assert_eq(kf_agents_create(s, &b, FAKE_HASH, err, sizeof err), KF_AGENTS_OK, "%s", err);
    cr_assert_eq(kf_agents_create(s, &a, FAKE_HASH, err, sizeof err), KF_AGENTS_OK, "%s", err);
    cr_assert_eq(kf_agents_create(s, &a, FAKE_HASH, err, sizeof err), KF_AGENTS_EXISTS);

    kf_agent_t got;
    char hash[KF_AGENT_HASH_MAX + 1];
    cr_assert_eq(kf_agents_get(s, "alice", &got, hash, err, sizeof err), KF_AGENTS_OK);
    cr_assert_str_eq(got.name, "Agent alice");
    cr_assert_eq(got.n_skills, 2);
    cr_assert_str_eq(got.skills[1], "loans");
    cr_assert_eq(got.languages, KF_AGENT_LANG_EN | KF_AGENT_LANG_ZH);
    cr_assert_eq(got.role, KF_AGENT_ROLE_AGENT);
    cr_assert_eq(got.disabled, 0);
    cr_assert_gt(got.created_at_ms, 1600000000000LL);
    cr_assert_str_eq(hash, FAKE_HASH);
    cr_assert_eq(kf_agents_get(s, "carol", &got, NULL, err, sizeof err), KF_AGENTS_NOTFOUND);
    cr_assert_eq(kf_agents_get(s, "Bad Id", &got, NULL, err, sizeof err), KF_AGENTS_NOTFOUND);

    kf_agent_t *v;
    size_t n;
    cr_assert_eq(kf_agents_list(s, &v, &n, err, sizeof err), KF_AGENTS_OK);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(v[0].id, "alice", "listed by id");
    cr_assert_eq(v[1].role, KF_AGENT_ROLE_ADMIN);
    free(v);

    cr_assert_eq(kf_agents_set_disabled(s, "alice", 1, err, sizeof err), KF_AGENTS_OK);
    cr_assert_eq(kf_agents_set_disabled(s, "nobody", 1, err, sizeof err), KF_AGENTS_NOTFOUND);
    kf_agents_destroy(s);

    /* survives a reopen */
    s = kf_agents_sqlite_open(path, err, sizeof err);
    cr_assert(s, "%s", err);
    cr_assert_eq(kf_agents_get(s, "alice", &got, NULL, err, sizeof err), KF_AGENTS_OK);
    cr_assert_eq(got.disabled, 1);
    kf_agents_destroy(s);
}

Test(agents, validation) {
    kf_agents_t *s = kf_agents_sqlite_open(path, err, sizeof err);
    cr_assert(s);
    kf_agent_t a = make_agent("ok", KF_AGENT_ROLE_AGENT);
    const char *bad_ids[] = {"", "-lead", "UPPER", "sp ace", "dot.ted"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++) {
        kf_agent_t b = a;
        snprintf(b.id, sizeof b.id, "%s", bad_ids[i]);
        cr_assert_eq(kf_agents_create(s, &b, FAKE_HASH, err, sizeof err), KF_AGENTS_INVALID, "id '%s'", bad_ids[i]);
    }
    kf_agent_t b = a;
    b.max_chats = 0;
    cr_assert_eq(kf_agents_create(s, &b, FAKE_HASH, err, sizeof err), KF_AGENTS_INVALID);
    b.max_chats = 51;
    cr_assert_eq(kf_agents_create(s, &b, FAKE_HASH, err, sizeof err), KF_AGENTS_INVALID);
    b = a;
    b.languages = 0;
    cr_assert_eq(kf_agents_create(s, &b, FAKE_HASH, err, sizeof err), KF_AGENTS_INVALID);
    b = a;
    b.name[0] = 0;
    cr_assert_eq(kf_agents_create(s, &b, FAKE_HASH, err, sizeof err), KF_AGENTS_INVALID);
    cr_assert_eq(kf_agents_create(s, &a, "", err, sizeof err), KF_AGENTS_INVALID, "no hash, no account");
    unsigned langs;
    cr_assert_eq(kf_agents_parse_languages("en,fr", &langs, err, sizeof err), -1);
    cr_assert_eq(kf_agents_parse_languages("zh", &langs, err, sizeof err), 0);
    cr_assert_eq(langs, KF_AGENT_LANG_ZH);
    cr_assert_eq(kf_agents_create(s, &a, FAKE_HASH, err, sizeof err), KF_AGENTS_OK, "%s", err);
    kf_agents_destroy(s);
}

Test(agents, schema_from_empty_file_and_newer_refused) {
    FILE *f = fopen(path, "w"); /* an existing, empty file: a fresh database to SQLite */
    cr_assert(f);
    fclose(f);
    kf_agents_t *s = kf_agents_sqlite_open(path, err, sizeof err);
    cr_assert(s, "%s", err);
    kf_agents_destroy(s);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), kf_agents_sqlite_schema_version());
    sqlite3_finalize(st);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", kf_agents_sqlite_schema_version() + 1);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    s = kf_agents_sqlite_open(path, err, sizeof err);
    cr_assert_null(s, "a file from a newer kefu is refused");
    cr_assert(strstr(err, "newer"), "%s", err);
}

Test(agents, password_hash_and_verify) {
    char hash[KF_AGENT_HASH_MAX + 1];
    cr_assert_eq(kf_agents_hash_password("short", hash, err, sizeof err), KF_AGENTS_INVALID);
    cr_assert_eq(kf_agents_hash_password("correct horse", hash, err, sizeof err), KF_AGENTS_OK, "%s", err);
    cr_assert(!strncmp(hash, "$argon2id$", 10), "argon2id: %s", hash);
    cr_assert(!strstr(hash, "correct horse"));
    cr_assert_eq(kf_agents_verify_password(hash, "correct horse"), 1);
    cr_assert_eq(kf_agents_verify_password(hash, "correct horsf"), 0);
    cr_assert_eq(kf_agents_verify_password("", "correct horse"), 0);
    cr_assert_eq(kf_agents_verify_password("garbage", "correct horse"), 0);
}

/* ---- sessions on an injected clock ---- */

static int64_t fake_now = 1700000000000LL;
static int64_t clock_fn(void) { return fake_now; }

static kf_agent_auth_t *new_auth(kf_agents_t **store) {
    *store = kf_agents_sqlite_open(path, err, sizeof err);
    cr_assert(*store, "%s", err);
    kf_agent_auth_config_t c = {.store = *store, .token_ttl_ms = 10000, .heartbeat_timeout_ms = 5000,
                                .max_failures = 3, .failure_window_ms = 60000, .now_ms = clock_fn};
    kf_agent_auth_t *a = kf_agent_auth_new(&c, err, sizeof err);
    cr_assert(a, "%s", err);
    return a;
}

Test(agents, tokens_issue_lookup_expire_revoke) {
    kf_agents_t *s;
    kf_agent_auth_t *a = new_auth(&s);
    char t1[KF_AGENT_TOKEN_LEN + 1], t2[KF_AGENT_TOKEN_LEN + 1], id[KF_AGENT_ID_MAX + 1];
    int64_t exp;
    cr_assert_eq(kf_agent_auth_issue(a, "alice", t1, &exp), 0);
    cr_assert_eq(kf_agent_auth_issue(a, "alice", t2, NULL), 0);
    cr_assert_eq(strlen(t1), KF_AGENT_TOKEN_LEN);
    cr_assert_str_neq(t1, t2, "random tokens");
    cr_assert_eq(exp, fake_now + 10000);
    cr_assert_eq(kf_agent_auth_lookup(a, t1, strlen(t1), id, NULL), 1);
    cr_assert_str_eq(id, "alice");

    char forged[KF_AGENT_TOKEN_LEN + 1];
    memcpy(forged, t1, sizeof forged);
    forged[10] = forged[10] == 'A' ? 'B' : 'A';
    cr_assert_eq(kf_agent_auth_lookup(a, forged, strlen(forged), id, NULL), 0, "one changed character");
    cr_assert_eq(kf_agent_auth_lookup(a, t1, strlen(t1) - 1, id, NULL), 0, "a prefix");
    cr_assert_eq(kf_agent_auth_lookup(a, "", 0, id, NULL), 0);

    fake_now += 9999;
    cr_assert_eq(kf_agent_auth_lookup(a, t1, strlen(t1), id, NULL), 1, "live until the ttl");
    fake_now += 1;
    cr_assert_eq(kf_agent_auth_lookup(a, t1, strlen(t1), id, NULL), 0, "expired at the ttl");
    cr_assert_eq(kf_agent_auth_token_count(a), 1, "an expired token is dropped when seen");
    cr_assert_eq(kf_agent_auth_sweep(a), 1, "and the other by the sweep");
    cr_assert_eq(kf_agent_auth_token_count(a), 0);

    cr_assert_eq(kf_agent_auth_issue(a, "alice", t1, NULL), 0);
    cr_assert_eq(kf_agent_auth_issue(a, "alice", t2, NULL), 0);
    char t3[KF_AGENT_TOKEN_LEN + 1];
    cr_assert_eq(kf_agent_auth_issue(a, "bob", t3, NULL), 0);
    cr_assert_eq(kf_agent_auth_revoke(a, t1, strlen(t1)), 1);
    cr_assert_eq(kf_agent_auth_revoke(a, t1, strlen(t1)), 0, "already gone");
    cr_assert_eq(kf_agent_auth_lookup(a, t1, strlen(t1), id, NULL), 0);
    cr_assert_eq(kf_agent_auth_revoke_agent(a, "alice"), 1);
    cr_assert_eq(kf_agent_auth_lookup(a, t2, strlen(t2), id, NULL), 0);
    cr_assert_eq(kf_agent_auth_lookup(a, t3, strlen(t3), id, NULL), 1, "other agents keep theirs");
    kf_agent_auth_free(a);
    kf_agents_destroy(s);
}

Test(agents, unpresented_tokens_are_swept_by_later_logins) {
    kf_agents_t *s;
    kf_agent_auth_t *a = new_auth(&s);
    char t[KF_AGENT_TOKEN_LEN + 1];
    for (int i = 0; i < 10; i++) cr_assert_eq(kf_agent_auth_issue(a, "alice", t, NULL), 0);
    fake_now += 20000; /* all ten expire, and nobody presents them again */
    for (int i = 10; i < 255; i++) cr_assert_eq(kf_agent_auth_issue(a, "bob", t, NULL), 0);
    cr_assert_eq(kf_agent_auth_token_count(a), 255);
    cr_assert_eq(kf_agent_auth_issue(a, "bob", t, NULL), 0); /* the 256th login sweeps */
    cr_assert_eq(kf_agent_auth_token_count(a), 246);
    kf_agent_auth_free(a);
    kf_agents_destroy(s);
}

Test(agents, presence_and_heartbeat_timeout) {
    kf_agents_t *s;
    kf_agent_auth_t *a = new_auth(&s);
    int64_t seen;
    cr_assert_eq(kf_agent_auth_status(a, "alice", &seen), KF_AGENT_OFFLINE);
    cr_assert_eq(seen, 0);
    cr_assert_eq(kf_agent_auth_set_status(a, "alice", KF_AGENT_AWAY), 0);
    cr_assert_eq(kf_agent_auth_status(a, "alice", NULL), KF_AGENT_AWAY);
    fake_now += 4000;
    kf_agent_auth_touch(a, "alice"); /* a heartbeat */
    fake_now += 4000;
    cr_assert_eq(kf_agent_auth_status(a, "alice", NULL), KF_AGENT_AWAY, "heartbeats keep it");
    fake_now += 1001;
    cr_assert_eq(kf_agent_auth_status(a, "alice", NULL), KF_AGENT_OFFLINE, "missed heartbeats: offline");
    kf_agent_auth_touch(a, "alice");
    cr_assert_eq(kf_agent_auth_status(a, "alice", NULL), KF_AGENT_AWAY, "back with its chosen status");
    cr_assert_eq(kf_agent_status_parse("online"), KF_AGENT_ONLINE);
    cr_assert_eq(kf_agent_status_parse("busy"), -1);
    kf_agent_auth_free(a);
    kf_agents_destroy(s);
}

Test(agents, failed_login_throttle) {
    kf_agents_t *s;
    kf_agent_auth_t *a = new_auth(&s);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(kf_agent_auth_throttled(a, "id:alice", 0), 0, "attempt %d", i);
        kf_agent_auth_failed(a, "id:alice", 0);
    }
    fake_now += 1000;
    cr_assert_eq(kf_agent_auth_throttled(a, "id:alice", 0), 59000, "the rest of the window");
    cr_assert_eq(kf_agent_auth_throttled(a, "id:bob", 0), 0, "per key");
    fake_now += 59000;
    cr_assert_eq(kf_agent_auth_throttled(a, "id:alice", 0), 0, "a new window");
    kf_agent_auth_failed(a, "id:alice", 0);
    kf_agent_auth_clear_failures(a, "id:alice");
    for (int i = 0; i < 2; i++) kf_agent_auth_failed(a, "id:alice", 0);
    cr_assert_eq(kf_agent_auth_throttled(a, "id:alice", 0), 0, "a success clears the count");
    /* a flood of other keys does not erase a throttled one's window for free */
    for (int i = 0; i < 3; i++) kf_agent_auth_failed(a, "ip:10.0.0.1", 0);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "ip:10.1.%d.%d", i / 256, i % 256);
        kf_agent_auth_failed(a, key, 0);
    }
    cr_assert_gt(kf_agent_auth_throttled(a, "ip:10.0.0.1", 0), 0, "still held back after 5,000 other keys");
    for (int i = 0; i < 3; i++) kf_agent_auth_failed(a, "ip:10.0.0.2", 10);
    cr_assert_eq(kf_agent_auth_throttled(a, "ip:10.0.0.2", 10), 0, "a key's own, higher limit");
    kf_agent_auth_free(a);
    kf_agents_destroy(s);
}

/* ---- async login / create on the hash workers ---- */

static kf_agent_auth_result_t last;
static char last_error[256]; /* r->error lives only during the completion */
static int calls;
static void on_done(const kf_agent_auth_result_t *r, void *ud) {
    (void)ud;
    last = *r;
    snprintf(last_error, sizeof last_error, "%s", r->error);
    last.error = last_error;
    calls++;
}

static void wait_calls(kf_loop_t *l, int n) {
    uint64_t until = kf_loop_now_ms() + 20000;
    while (calls < n && kf_loop_now_ms() < until) kf_loop_run_once(l, 10);
    cr_assert_eq(calls, n, "completion ran on the loop");
}

Test(agents, async_create_and_login) {
    kf_agents_t *s;
    kf_agent_auth_t *a = new_auth(&s);
    kf_loop_t *l = kf_loop_new();
    kf_loop_set_current(l);
    kf_agent_t ag = make_agent("alice", KF_AGENT_ROLE_AGENT);
    calls = 0;
    cr_assert_eq(kf_agent_auth_create_async(a, &ag, "pa55word!", l, on_done, NULL), KF_AGENT_AUTH_OK);
    wait_calls(l, 1);
    cr_assert_eq(last.status, KF_AGENT_AUTH_OK, "%s", last.error);
    cr_assert_str_eq(last.agent.id, "alice");
    cr_assert_eq(kf_agent_auth_create_async(a, &ag, "pa55word!", l, on_done, NULL), KF_AGENT_AUTH_OK);
    wait_calls(l, 2);
    cr_assert_eq(last.status, KF_AGENTS_EXISTS);

    cr_assert_eq(kf_agent_auth_login_async(a, "alice", "wrong-pass", l, on_done, NULL), KF_AGENT_AUTH_OK);
    wait_calls(l, 3);
    cr_assert_eq(last.status, KF_AGENT_AUTH_DENIED);
    cr_assert_str_eq(last.error, "unknown agent or wrong password");
    cr_assert_eq(kf_agent_auth_login_async(a, "nobody", "pa55word!", l, on_done, NULL), KF_AGENT_AUTH_OK);
    wait_calls(l, 4);
    cr_assert_eq(last.status, KF_AGENT_AUTH_DENIED);
    cr_assert_str_eq(last.error, "unknown agent or wrong password", "the same answer for an unknown id");

    cr_assert_eq(kf_agent_auth_login_async(a, "alice", "pa55word!", l, on_done, NULL), KF_AGENT_AUTH_OK);
    wait_calls(l, 5);
    cr_assert_eq(last.status, KF_AGENT_AUTH_OK, "%s", last.error);
    char id[KF_AGENT_ID_MAX + 1];
    cr_assert_eq(kf_agent_auth_lookup(a, last.token, strlen(last.token), id, NULL), 1);
    cr_assert_eq(kf_agent_auth_status(a, "alice", NULL), KF_AGENT_ONLINE, "login marks the agent online");

    cr_assert_eq(kf_agents_set_disabled(s, "alice", 1, err, sizeof err), KF_AGENTS_OK);
    cr_assert_eq(kf_agent_auth_login_async(a, "alice", "pa55word!", l, on_done, NULL), KF_AGENT_AUTH_OK);
    wait_calls(l, 6);
    cr_assert_eq(last.status, KF_AGENT_AUTH_DENIED, "a disabled account cannot log in");
    kf_agent_auth_free(a);
    kf_agents_destroy(s);
    kf_loop_set_current(NULL);
    kf_loop_free(l);
}
