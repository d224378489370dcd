/* history_sqlite_schema.c — the SQLite history schema and its migrations.
 *
 * The file's schema version is PRAGMA user_version.  migrations[i] turns
 * version i into i+1; a new schema change is a new entry appended at the end,
 * never an edit of an old one, so every existing file upgrades the same way.
 * All pending steps run in one IMMEDIATE transaction: a crash mid-upgrade
 * leaves the old version, and two processes opening at once serialise.  A
 * file from a newer kefu is refused rather than written with older rules.
 *
 * Layout choices: conversations get a small integer key (num) that messages
 * refer to, so the index keys (num, seq) stay short.  Messages are stored in
 * the order they were written (a rowid table): a group commit's rows fill the
 * same last pages.  "After seq N" is a range of the (conv, seq) index, and a
 * conversation's last seq one seek to the end of its range.  (Until version
 * 4 the messages were clustered on (conv, seq), WITHOUT ROWID; under load
 * every commit then touched a different leaf per conversation, and a full
 * leaf was rebalanced with both its neighbours, other conversations' pages:
 * 4.1 WAL frames per chat turn for the messages, 4.8 in all; now 0.2 and
 * 1.8, the (conv, seq) index taking one.  Read from the WAL of bench/wsload
 * runs at 20,000 turns/s.)  The profile is a JSON object
 * (SQLite's JSON functions read it) so routing can add fields without a
 * migration. */
#include <stdio.h>

#include "store/history_sqlite_int.h"

static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE conversations ("
    "  num INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE CHECK (length(id) = 32),"
    "  profile TEXT CHECK (profile IS NULL OR json_valid(profile)),"
    "  started_at INTEGER NOT NULL,"
    "  ended_at INTEGER,"
    "  status INTEGER NOT NULL DEFAULT 1 CHECK (status BETWEEN 1 AND 3),"
    "  csat INTEGER CHECK (csat IS NULL OR csat BETWEEN 1 AND 5),"
    "  csat_comment TEXT,"
    "  agent_id TEXT,"
    "  last_seq INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX conversations_started ON conversations(started_at);"
    "CREATE INDEX conversations_status_started ON conversations(status, started_at);"
    "CREATE TABLE messages ("
    "  conv INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL CHECK (seq >= 1),"
    "  sender INTEGER NOT NULL CHECK (sender BETWEEN 1 AND 4),"
    "  text TEXT NOT NULL,"
    "  client_msg_id TEXT,"
    "  intent TEXT,"
    "  confidence REAL,"
    "  entities TEXT CHECK (entities IS NULL OR json_valid(entities)),"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (conv, seq)) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX messages_client_msg ON messages(conv, client_msg_id) WHERE client_msg_id IS NOT NULL;",
    /* 1 -> 2: agents' internal notes (sender 5) and who wrote an agent's
     * message or note (author).  SQLite cannot change a CHECK in place: the
     * table is copied (its index goes with the old table and is made again). */
    "CREATE TABLE messages2 ("
    "  conv INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL CHECK (seq >= 1),"
    "  sender INTEGER NOT NULL CHECK (sender BETWEEN 1 AND 5),"
    "  text TEXT NOT NULL,"
    "  client_msg_id TEXT,"
    "  intent TEXT,"
    "  confidence REAL,"
    "  entities TEXT CHECK (entities IS NULL OR json_valid(entities)),"
    "  created_at INTEGER NOT NULL,"
    "  author TEXT,"
    "  PRIMARY KEY (conv, seq)) WITHOUT ROWID;"
    "INSERT INTO messages2(conv, seq, sender, text, client_msg_id, intent, confidence, entities, created_at) "
    "  SELECT conv, seq, sender, text, client_msg_id, intent, confidence, entities, created_at FROM messages;"
    "DROP TABLE messages;"
    "ALTER TABLE messages2 RENAME TO messages;"
    "CREATE UNIQUE INDEX messages_client_msg ON messages(conv, client_msg_id) WHERE client_msg_id IS NOT NULL;",
    /* 2 -> 3: the last seq is max(seq) of the conversation's messages; the
     * writer keeps it in memory (history_sqlite_convs.c) rather than dirty
     * a conversations page in every commit. */
    "ALTER TABLE conversations DROP COLUMN last_seq;",
    /* 3 -> 4: messages in write order (see the top of this file); the copy
     * keeps each conversation's messages in seq order, the unique (conv, seq)
     * index replaces the primary key. */
    "CREATE TABLE messages2 ("
    "  id INTEGER PRIMARY KEY,"
    "  conv INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL CHECK (seq >= 1),"
    "  sender INTEGER NOT NULL CHECK (sender BETWEEN 1 AND 5),"
    "  text TEXT NOT NULL,"
    "  client_msg_id TEXT,"
    "  intent TEXT,"
    "  confidence REAL,"
    "  entities TEXT CHECK (entities IS NULL OR json_valid(entities)),"
    "  created_at INTEGER NOT NULL,"
    "  author TEXT);"
    "INSERT INTO messages2(conv, seq, sender, text, client_msg_id, intent, confidence, entities, created_at, author) "
    "  SELECT conv, seq, sender, text, client_msg_id, intent, confidence, entities, created_at, author FROM messages "
    "  ORDER BY created_at, conv, seq;"
    "DROP TABLE messages;"
    "ALTER TABLE messages2 RENAME TO messages;"
    "CREATE UNIQUE INDEX messages_conv_seq ON messages(conv, seq);"
    "CREATE UNIQUE INDEX messages_client_msg ON messages(conv, client_msg_id) WHERE client_msg_id IS NOT NULL;",
};

#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int kf_history_sqlite_schema_version(void) { return NMIGRATIONS; }

static int user_version(sqlite3 *db, int *v) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

int kf_history_sqlite_migrate(sqlite3 *db, char *err, size_t errlen) {
    char *msg = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "history: cannot start the schema check: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    int v = 0;
    if (user_version(db, &v) < 0) {
        snprintf(err, errlen, "history: cannot read the schema version: %s", sqlite3_errmsg(db));
        goto fail;
    }
    if (v > NMIGRATIONS || v < 0) {
        snprintf(err, errlen,
                 "history: the database has schema version %d, newer than the %d this kefu knows; "
                 "use a newer kefu or another file",
                 v, NMIGRATIONS);
        goto fail;
    }
    for (int i = v; i < NMIGRATIONS; i++) {
        if (sqlite3_exec(db, migrations[i], NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "history: schema migration %d -> %d failed: %s", i, i + 1,
                     msg ? msg : sqlite3_errmsg(db));
            sqlite3_free(msg);
            goto fail;
        }
    }
    if (v < NMIGRATIONS) {
        char sql[48];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", NMIGRATIONS);
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "history: cannot set the schema version: %s", sqlite3_errmsg(db));
            goto fail;
        }
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "history: schema commit failed: %s", sqlite3_errmsg(db));
        goto fail;
    }
    return 0;
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}
