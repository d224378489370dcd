/* sqlite_tmp.h — for store tests: a fresh temporary directory holding one
 * SQLite file, and its removal with the WAL, shared-memory and journal files
 * SQLite leaves beside it.  Each test file includes it once and calls
 * sqlite_tmp_make / sqlite_tmp_remove from its suite's init and fini;
 * `dir` and `path` are the directory and the database file. */
#ifndef KF_TEST_SQLITE_TMP_H
#define KF_TEST_SQLITE_TMP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <criterion/criterion.h>

static char dir[64], path[128];

static void sqlite_tmp_make(const char *file) {
    snprintf(dir, sizeof dir, "/tmp/kefu-test-XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/%s", dir, file);
}

static void sqlite_tmp_remove(void) {
    const char *sfx[] = {"", "-wal", "-shm", "-journal"};
    char p[160];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
    rmdir(dir);
}

#endif
