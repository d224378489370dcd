/* agents_sqlite.c — the SQLite AgentStore (see agents.h): agents.db in the
 * data dir, apart from history.db so that account administration never
 * waits behind the history writer's transactions.
 *
 * One connection guarded by a mutex: the calls are rare (logins, admin
 * changes) plus one primary-key read per authenticated agent request, each
 * a few microseconds, so a pool would buy nothing.  WAL lets `kefu agent`
 * in another process write while the server reads; busy_timeout makes
 * either wait for the other's short transaction instead of failing.
 *
 * Schema versions follow history_sqlite_schema.c: PRAGMA user_version,
 * migrations[i] turns version i into i+1, all pending steps in one
 * IMMEDIATE transaction, a newer file refused. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store/agents.h"

static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE agents ("
    "  id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 32),"
    "  name TEXT NOT NULL,"
    "  skills TEXT NOT NULL DEFAULT '',"
    "  languages TEXT NOT NULL,"
    "  max_chats INTEGER NOT NULL CHECK (max_chats BETWEEN 1 AND 50),"
    "  role TEXT NOT NULL CHECK (role IN ('agent','admin')),"
    "  disabled INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  password_hash TEXT NOT NULL) WITHOUT ROWID;",
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int kf_agents_sqlite_schema_version(void) { return NMIGRATIONS; }

typedef struct {
    kf_agents_t base;
    sqlite3 *db;
    pthread_mutex_t mu;
} store_t;

static int user_version(sqlite3 *db, int *v) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int migrate(sqlite3 *db, char *err, size_t errlen) {
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "agents: cannot start the schema check: %s", sqlite3_errmsg(db));
        return -1;
    }
    int v = 0;
    if (user_version(db, &v) < 0) {
        snprintf(err, errlen, "agents: cannot read the schema version: %s", sqlite3_errmsg(db));
        goto fail;
    }
    if (v < 0 || v > NMIGRATIONS) {
        snprintf(err, errlen, "agents: the database has schema version %d, newer than the %d this kefu knows", v, NMIGRATIONS);
        goto fail;
    }
    for (int i = v; i < NMIGRATIONS; i++)
        if (sqlite3_exec(db, migrations[i], NULL, NULL, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "agents: schema migration %d -> %d failed: %s", i, i + 1, sqlite3_errmsg(db));
            goto fail;
        }
    char sql[48];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", NMIGRATIONS);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "agents: schema commit failed: %s", sqlite3_errmsg(db));
        goto fail;
    }
    return 0;
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void copy_text(char *dst, size_t cap, const unsigned char *src) {
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

/* Columns: id, name, skills, languages, max_chats, role, disabled, created_at, password_hash. */
static void read_row(sqlite3_stmt *st, kf_agent_t *a, char *pw_hash) {
    char scratch[64];
    memset(a, 0, sizeof *a);
    copy_text(a->id, sizeof a->id, sqlite3_column_text(st, 0));
    copy_text(a->name, sizeof a->name, sqlite3_column_text(st, 1));
    kf_agents_parse_skills((const char *)sqlite3_column_text(st, 2), a, scratch, sizeof scratch);
    kf_agents_parse_languages((const char *)sqlite3_column_text(st, 3), &a->languages, scratch, sizeof scratch);
    a->max_chats = sqlite3_column_int(st, 4);
    a->role = kf_agents_role_parse((const char *)sqlite3_column_text(st, 5)) == KF_AGENT_ROLE_ADMIN ? KF_AGENT_ROLE_ADMIN
                                                                                                   : KF_AGENT_ROLE_AGENT;
    a->disabled = sqlite3_column_int(st, 6) != 0;
    a->created_at_ms = sqlite3_column_int64(st, 7);
    if (pw_hash) copy_text(pw_hash, KF_AGENT_HASH_MAX + 1, sqlite3_column_text(st, 8));
}

#define SELECT_COLS "SELECT id, name, skills, languages, max_chats, role, disabled, created_at, password_hash FROM agents"

static int s_create(kf_agents_t *base, const kf_agent_t *a, const char *pw_hash, char *err, size_t errlen) {
    store_t *s = (store_t *)base;
    if (kf_agents_validate(a, err, errlen) < 0) return KF_AGENTS_INVALID;
    if (!pw_hash || !pw_hash[0]) {
        snprintf(err, errlen, "a password hash is required");
        return KF_AGENTS_INVALID;
    }
    char skills[KF_AGENT_MAX_SKILLS * (KF_AGENT_SKILL_MAX + 1) + 1], langs[8];
    kf_agents_skills_csv(a, skills, sizeof skills);
    kf_agents_languages_csv(a->languages, langs);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "INSERT INTO agents (id, name, skills, languages, max_chats, role, disabled, created_at, "
                                "password_hash) VALUES (?,?,?,?,?,?,?,?,?)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, a->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, skills, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, langs, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, a->max_chats);
        sqlite3_bind_text(st, 6, kf_agents_role_name(a->role), -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 7, a->disabled ? 1 : 0);
        sqlite3_bind_int64(st, 8, a->created_at_ms ? a->created_at_ms : now_ms());
        sqlite3_bind_text(st, 9, pw_hash, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    int ext = sqlite3_extended_errcode(s->db);
    int out = KF_AGENTS_OK;
    if (rc != SQLITE_DONE) {
        out = ext == SQLITE_CONSTRAINT_PRIMARYKEY ? KF_AGENTS_EXISTS : KF_AGENTS_ERR;
        if (out == KF_AGENTS_EXISTS) snprintf(err, errlen, "agent '%s' already exists", a->id);
        else snprintf(err, errlen, "agents: insert failed: %s", sqlite3_errmsg(s->db));
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return out;
}

static int s_get(kf_agents_t *base, const char *id, kf_agent_t *out, char *pw_hash, char *err, size_t errlen) {
    store_t *s = (store_t *)base;
    if (!kf_agents_valid_id(id)) return KF_AGENTS_NOTFOUND; /* cannot exist: skip the query */
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, SELECT_COLS " WHERE id = ?", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    int res = KF_AGENTS_OK;
    if (rc == SQLITE_ROW) read_row(st, out, pw_hash);
    else if (rc == SQLITE_DONE) res = KF_AGENTS_NOTFOUND;
    else {
        snprintf(err, errlen, "agents: read failed: %s", sqlite3_errmsg(s->db));
        res = KF_AGENTS_ERR;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return res;
}

static int s_list(kf_agents_t *base, kf_agent_t **out, size_t *n, char *err, size_t errlen) {
    store_t *s = (store_t *)base;
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, SELECT_COLS " ORDER BY id", -1, &st, NULL);
    int res = KF_AGENTS_OK;
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            kf_agent_t *v = realloc(*out, (cap ? cap * 2 : 16) * sizeof *v);
            if (!v) {
                res = KF_AGENTS_NOMEM;
                break;
            }
            *out = v;
            cap = cap ? cap * 2 : 16;
        }
        read_row(st, &(*out)[(*n)++], NULL);
        rc = SQLITE_OK;
    }
    if (res == KF_AGENTS_OK && rc != SQLITE_DONE) {
        snprintf(err, errlen, "agents: list failed: %s", sqlite3_errmsg(s->db));
        res = KF_AGENTS_ERR;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (res != KF_AGENTS_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return res;
}

static int s_set_disabled(kf_agents_t *base, const char *id, int disabled, char *err, size_t errlen) {
    store_t *s = (store_t *)base;
    if (!kf_agents_valid_id(id)) return KF_AGENTS_NOTFOUND;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "UPDATE agents SET disabled = ? WHERE id = ?", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int(st, 1, disabled ? 1 : 0);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    int res = KF_AGENTS_OK;
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "agents: update failed: %s", sqlite3_errmsg(s->db));
        res = KF_AGENTS_ERR;
    } else if (sqlite3_changes(s->db) == 0) res = KF_AGENTS_NOTFOUND;
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return res;
}

static void s_destroy(kf_agents_t *base) {
    store_t *s = (store_t *)base;
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const kf_agents_ops_t ops = {s_create, s_get, s_list, s_set_disabled, s_destroy};

kf_agents_t *kf_agents_sqlite_open(const char *path, char *err, size_t errlen) {
    store_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->base.ops = &ops;
    pthread_mutex_init(&s->mu, NULL);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "agents: cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        s_destroy(&s->base);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 5000);
    /* synchronous=FULL: an account change is rare and must survive power loss. */
    if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "agents: %s: %s", path, sqlite3_errmsg(s->db));
        s_destroy(&s->base);
        return NULL;
    }
    if (migrate(s->db, err, errlen) < 0) {
        s_destroy(&s->base);
        return NULL;
    }
    return &s->base;
}
