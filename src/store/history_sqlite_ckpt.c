/* history_sqlite_ckpt.c — WAL checkpoints off the writer's commit path.
 *
 * Why.  SQLite's automatic checkpoint runs inside the COMMIT that pushes the
 * WAL past wal_autocheckpoint, on the writer thread: it fsyncs the WAL, copies
 * every page into the database file and fsyncs that.  With 64 MiB of WAL that
 * took 60–70 ms here, several times a second under the chat benchmark, and
 * every reply waiting on that commit waited with it: the p99 of bench/wsload.
 *
 * How.  The writer connection has no automatic checkpoint; a WAL hook of ours
 * only records the WAL's size after each commit.  Whenever `chunk` frames
 * wait to be copied, a checkpointer thread runs a PASSIVE checkpoint on its
 * own connection: it copies what is committed without taking the write lock,
 * so commits go on meanwhile.  But the WAL file only starts again from its
 * first frame when a write transaction begins with every frame copied, and
 * under load new frames arrive during every pass.  So once the WAL holds
 * `soft` frames, passes run back to back, each copying
 * what came during the previous one, until at most `residual` frames are
 * left or CKPT_MAX_PASSES ran; then the writer, between two batches and after
 * their replies went out, copies the remainder itself (a RESTART checkpoint
 * that gives readers 2 ms), and its next BEGIN starts the WAL again.
 * Each pass ends by starting the write-back of the database pages it copied
 * (sync_file_range), without waiting for it.  SQLite syncs the database only
 * when a pass reaches the WAL's end as it is when the pass ends, which under
 * load never happens, and the writer's RESTART, which must sync it before
 * the WAL starts again, then wrote back every page the passes had copied:
 * its fdatasync of the database took 14-22 ms of its 15-20 (perf trace,
 * bench/wsload at 20,000 msg/s).  An fdatasync after each pass moved that
 * here, but made every pass 30-45 ms longer once the disk was kept busy
 * with the WAL's write-back (below), so the last passes before a finish
 * never got under ~2,500 frames and the finish took 16-35 ms; started
 * early instead, the pages are on disk or on their way by the RESTART:
 * p99 11-13 against 14-18 ms in three paired runs.
 * Bound: should the passes fall behind (a reader pinning an old snapshot, a
 * slow disk), the writer runs a RESTART itself at `hard` frames, which waits
 * for readers (the busy timeout): SQLite's old behaviour, now a fallback.
 *
 * Write-back.  With synchronous=NORMAL nothing writes the WAL to disk until
 * a pass, whose first step fsyncs it: 64 MiB at once, 30-50 ms here, and the
 * kernel's share of that write-back (submitting, completing 16,000 pages)
 * lands on the cores the event loops and the writer need.  Under bench/wsload
 * at 20,000 msg/s, 6-12 % of the turns sent in the 120 ms after a pass began
 * took over 20 ms, against 0.5 % at other times.  So this thread also starts
 * the WAL's write-back as it grows, every CKPT_FLUSH frames
 * (sync_file_range, SYNC_FILE_RANGE_WRITE: start it, do not wait), and the
 * pass's fsync finds little left: 1-6 ms.  The same pages reach the disk,
 * only spread out; it is a hint, so durability does not depend on it.
 *
 * Durability is unchanged: a commit's frames are in the WAL file before its
 * completion goes out (kill -9 loses nothing acknowledged), and a checkpoint
 * fsyncs the WAL before copying any page out of it, whichever connection runs
 * it; every connection has the same synchronous setting. */
#include "store/history_sqlite_int.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "obs/log.h"

/* Defaults, in 4 KiB frames.  chunk: a pass starts whenever that many frames
 * are waiting to be copied (64 MiB, where SQLite's autocheckpoint ran: a
 * bigger chunk holds more versions of the same hot pages, which one pass
 * copies once).  soft: the WAL size (512 MiB) from which passes run back to
 * back and the writer then finishes and restarts the WAL.  Each restart
 * stalls the writer (4-30 ms), and under bench/wsload at 20,000 msg/s
 * (~40,000 frames/s) a 64 MiB soft meant ~2 restarts a second, every one a
 * spike in reply latency; at 512 MiB it restarts every ~3 s while passes
 * still run every ~0.4 s: p99 28-36 -> 14-17 ms, same window, same binary
 * otherwise.  Readers pay nothing for the bigger WAL: a lookup searches only
 * the frames not yet copied.  residual: what the writer may copy itself.
 * hard: 2 GiB, reached only when the passes cannot keep up. */
#define CKPT_CHUNK 16384u
#define CKPT_SOFT 131072u
#define CKPT_RESIDUAL 300u
#define CKPT_HARD 524288u
/* When the remainder does not get down to `residual`, the writer copies it
 * after this many passes anyway, or as soon as a pass took off less than a
 * quarter of it (passes as slow as the WAL grows would only let it grow, to
 * `hard`: what test_store_history_ckpt's small limits showed).  Under
 * bench/wsload at 20,000 msg/s (~40,000 frames/s) the first pass copies
 * ~16,000 frames in 50 ms, the next ones shrink the rest by 2-4 times each,
 * and 4-9 passes reach `residual`. */
#define CKPT_MAX_PASSES 10
/* The WAL's write-back starts every 1,024 new frames (4 MiB): at 40,000
 * frames/s, some forty small write-backs a second instead of one big one
 * every ~0.4 s. */
#define CKPT_FLUSH 1024u
/* The checkpointer's nice value.  Under bench/wsload at 20,000 msg/s with
 * the write-back spread out, p99 in four paired runs: nice 0 14-48 ms,
 * nice 5 11-27 ms, nice 19 12-24 ms; 5 is the milder of the two, for when
 * the cores are saturated and the passes must still keep up. */
#define CKPT_NICE 5

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int on_wal_commit(void *ud, sqlite3 *db, const char *name, int frames) {
    (void)db;
    (void)name;
    kf_history_sqlite_t *s = ud;
    s->ck.hook_frames = frames > 0 ? (unsigned)frames : 0;
    return SQLITE_OK;
}

/* Syncs the database through SQLite's own file handle; only this thread
 * uses this connection, so nothing else touches the handle. */
static void sync_db(sqlite3 *db) {
    sqlite3_file *f = NULL;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f) == SQLITE_OK && f && f->pMethods)
        f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
}

/* After a pass: starts writing back the database pages it copied (see the
 * top), 1; where that cannot be done, syncs them, 0.  Our descriptor of the
 * database stays open until every connection is closed: closing it would
 * drop the process's POSIX locks on the file, SQLite's included. */
static int db_writeback(kf_history_sqlite_t *s) {
    kf_history_ckpt_t *c = &s->ck;
    if (!c->db_sync_only && !c->db_open) {
        if ((c->db_fd = open(s->path, O_RDONLY | O_CLOEXEC)) >= 0) c->db_open = 1;
        else c->db_sync_only = 1;
    }
    if (!c->db_sync_only && sync_file_range(c->db_fd, 0, 0, SYNC_FILE_RANGE_WRITE) == 0) return 1;
    c->db_sync_only = 1;
    sync_db(c->db);
    return 0;
}

/* Under mu: the first frame whose write-back has not been started (after a
 * restart, the WAL's first). */
static unsigned flush_from(const kf_history_ckpt_t *c) { return c->flushed_gen == c->flush_gen ? c->flushed : 0; }

/* Under mu: the WAL grew by flush_step frames since its last write-back
 * began, or started again and has that many. */
static int flush_due(const kf_history_ckpt_t *c) { return c->flush_step && c->flush_to >= flush_from(c) + c->flush_step; }

/* Starts writing WAL frames [from, to) back; 0, or -1 when this file system
 * or machine cannot.  Our own descriptor: SQLite keeps no POSIX locks on the
 * WAL file (WAL mode locks in the -shm file), so none can be lost with it. */
static int flush_wal(kf_history_sqlite_t *s, unsigned from, unsigned to) {
    kf_history_ckpt_t *c = &s->ck;
    if (c->wal_fd < 0) {
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s-wal", s->path) >= (int)sizeof p) return -1;
        if ((c->wal_fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) return -1;
    }
    off_t first = 32 + (off_t)from * c->frame_bytes; /* after the WAL header */
    return sync_file_range(c->wal_fd, first, (off_t)(to - from) * c->frame_bytes, SYNC_FILE_RANGE_WRITE);
}

/* Under mu, entered and left: one write-back of what the WAL gained. */
static void run_flush(kf_history_sqlite_t *s) {
    kf_history_ckpt_t *c = &s->ck;
    unsigned from = flush_from(c), to = c->flush_to;
    unsigned long g = c->flush_gen;
    pthread_mutex_unlock(&c->mu);
    int rc = flush_wal(s, from, to);
    pthread_mutex_lock(&c->mu);
    c->flushed = to;
    c->flushed_gen = g;
    if (rc == 0) {
        c->stats.flushes++;
        c->stats.frames_flushed += to - from;
    } else {
        c->flush_step = 0; /* the passes' fsync does it all, as before */
        kf_log(KF_LOG_INFO, "history: no early WAL write-back here; checkpoints write it", "path", 's', s->path,
               NULL);
    }
}

static int short_patience(void *ud, int tries) {
    (void)ud;
    if (tries >= 10) return 0;
    usleep(200);
    return 1;
}

static void *ckpt_main(void *arg) {
    kf_history_sqlite_t *s = arg;
    kf_history_ckpt_t *c = &s->ck;
    /* Passes can wait a little; the event loops and the writer cannot (a
     * thread's own nice value: Linux).  Before the write-back was spread out
     * this made the pass's one big fsync slower and the tail worse. */
    setpriority(PRIO_PROCESS, (id_t)gettid(), CKPT_NICE);
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while ((!c->kick || c->hold) && !flush_due(c) && !c->stop) pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop) break;
        if (!c->kick || c->hold) {
            run_flush(s);
            continue;
        }
        c->kick = 0;
        c->in_pass = 1;
        unsigned long g = c->kick_gen;
        pthread_mutex_unlock(&c->mu);

        int nlog = -1, nckpt = -1;
        double t0 = mono_s();
        int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
        int wb = rc == SQLITE_OK && nckpt > 0 ? db_writeback(s) : 0;
        double dt = mono_s() - t0;

        pthread_mutex_lock(&c->mu);
        c->in_pass = 0;
        pthread_cond_broadcast(&c->cv); /* the writer's RESTART may wait for this pass */
        c->stats.passes++;
        c->stats.db_writebacks += (unsigned)wb;
        c->stats.pass_seconds += dt;
        if (rc != SQLITE_OK) {
            if (c->stats.errors++ == 0)
                kf_log(KF_LOG_WARN, "history: background checkpoint failed", "error", 's', sqlite3_errmsg(c->db), NULL);
            continue; /* the writer asks again after a later batch */
        }
        unsigned done = nckpt > 0 ? (unsigned)nckpt : 0;
        if (c->pass_gen != g) c->pass_gen = g, c->backfilled = 0, c->passes_this_gen = 0;
        if (done > c->backfilled) c->stats.frames_backfilled += done - c->backfilled, c->backfilled = done;
        c->passes_this_gen++;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int kf_history_sqlite_ckpt_init(kf_history_sqlite_t *s, char *err, size_t errlen) {
    kf_history_ckpt_t *c = &s->ck;
    c->chunk = CKPT_CHUNK;
    c->soft = CKPT_SOFT;
    c->soft_gen = (unsigned long)-1;
    c->residual = CKPT_RESIDUAL;
    c->hard = CKPT_HARD;
    c->pass_gen = (unsigned long)-1;
    c->flush_step = CKPT_FLUSH;
    c->flushed_gen = (unsigned long)-1;
    c->wal_fd = -1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->inited = 1;
    /* after the migration, whose commit needs no hook */
    sqlite3_wal_hook(s->wdb, on_wal_commit, s);
    /* The first commit after a restart cuts the WAL file down to this; sized
     * for a WAL that reached `soft` and what came while it was copied, the
     * file is reused as it is, not truncated inside a commit and grown again. */
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA journal_size_limit=%lld", (long long)(c->soft * 2) * 4120);
    if (sqlite3_exec(s->wdb, sql, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "history: cannot configure %s: %s", s->path, sqlite3_errmsg(s->wdb));
        return -1;
    }
    if (!(c->db = kf_history_sqlite_connect(s, KF_HISTORY_CONN_CHECKPOINTER, err, errlen))) return -1;
    /* a connection opens the WAL on its first read; until then a checkpoint
     * on it would see none */
    if (sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "history: checkpointer cannot read %s: %s", s->path, sqlite3_errmsg(c->db));
        return -1;
    }
    sqlite3_stmt *st;
    int page = 0;
    if (sqlite3_prepare_v2(c->db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) page = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    if (page < 512) {
        snprintf(err, errlen, "history: cannot read the page size of %s", s->path);
        return -1;
    }
    c->frame_bytes = 24 + (unsigned)page;
    if (pthread_create(&c->thread, NULL, ckpt_main, s) != 0) {
        snprintf(err, errlen, "history: cannot start the checkpointer thread");
        return -1;
    }
    c->started = 1;
    return 0;
}

void kf_history_sqlite_ckpt_after_batch(kf_history_sqlite_t *s) {
    kf_history_ckpt_t *c = &s->ck;
    unsigned n = c->hook_frames;
    /* After a RESTART that succeeded this batch's BEGIN started the WAL
     * again; otherwise (a pass that reached the end under light load) the
     * WAL shrinking says so: within one generation it only grows, and one
     * batch writes far fewer frames than a WAL worth copying. */
    int restarted = c->restart_next || n < c->frames;
    c->restart_next = 0;
    if (restarted) c->gen++, c->fallback_at = 0;
    unsigned written = restarted ? n : n - c->frames;
    c->frames = n;
    enum { NONE, FINISH, FALLBACK } act = NONE;
    pthread_mutex_lock(&c->mu);
    c->stats.restarts += (unsigned)restarted;
    c->flush_to = n;
    c->flush_gen = c->gen;
    if (flush_due(c)) pthread_cond_broadcast(&c->cv);
    c->stats.frames_written += written;
    if (n > c->stats.max_frames) c->stats.max_frames = n;
    if (n >= (c->fallback_at ? c->fallback_at : c->hard)) {
        act = FALLBACK;
        /* a pass holds the checkpoint lock, and RESTART would get SQLITE_BUSY
         * at once (no busy handler for that lock): let it end, start no other */
        c->hold = 1;
        while (c->in_pass) pthread_cond_wait(&c->cv, &c->mu);
    } else if (n < c->soft && !c->in_pass && !c->kick) {
        unsigned uncopied = c->pass_gen != c->gen ? n : c->backfilled < n ? n - c->backfilled : 0;
        if (uncopied >= c->chunk) {
            c->kick = 1;
            c->kick_gen = c->gen;
            pthread_cond_broadcast(&c->cv);
        }
    } else if (n >= c->soft && !c->in_pass && !c->kick) {
        /* the passes before soft do not count towards the finish's rules */
        if (c->soft_gen != c->gen) c->soft_gen = c->gen, c->passes_this_gen = 0;
        int measured = c->pass_gen == c->gen && c->passes_this_gen > 0;
        unsigned left = measured && c->backfilled < n ? n - c->backfilled : measured ? 0 : n;
        /* a pass that took off less than a quarter of what was left when it
         * was asked for is as fast as the WAL grows: more would only let it grow */
        int stalled = measured && c->passes_this_gen >= 2 && (unsigned long long)left * 4 > (unsigned long long)c->kick_left * 3;
        if (measured && (left <= c->residual || stalled || c->passes_this_gen >= CKPT_MAX_PASSES)) {
            act = FINISH;
            if (left > c->stats.finish_max_frames) c->stats.finish_max_frames = left;
            c->passes_this_gen = 0; /* if this does not reach the end, passes again */
        } else {
            c->kick = 1;
            c->kick_gen = c->gen;
            c->kick_left = left;
            pthread_cond_broadcast(&c->cv);
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (act == NONE) return;

    /* Both are RESTARTs: they copy the rest and then wait until no reader
     * uses the WAL, so that the next BEGIN surely starts it again (with a
     * reader still on it, that BEGIN would just append).  The finish waits
     * a couple of ms at most, the server's reads being short; the fallback
     * the store's whole busy timeout. */
    if (act == FINISH) sqlite3_busy_handler(s->wdb, short_patience, NULL);
    int nlog = -1, nckpt = -1;
    double t0 = mono_s();
    int rc = sqlite3_wal_checkpoint_v2(s->wdb, NULL, SQLITE_CHECKPOINT_RESTART, &nlog, &nckpt);
    double dt = mono_s() - t0;
    if (act == FINISH) sqlite3_busy_timeout(s->wdb, s->cfg.busy_timeout_ms);
    pthread_mutex_lock(&c->mu);
    if (act == FALLBACK) {
        c->hold = 0;
        pthread_cond_broadcast(&c->cv);
        c->stats.fallbacks++;
        c->stats.fallback_seconds += dt;
        if (c->stats.fallbacks == 1)
            kf_log(KF_LOG_WARN, "history: WAL reached its hard cap; checkpointing on the writer", "frames", 'i',
                   (long long)n, "seconds", 'd', dt, NULL);
    } else {
        c->stats.finishes++;
        c->stats.finish_seconds += dt;
        if (dt > c->stats.finish_max_seconds) c->stats.finish_max_seconds = dt;
    }
    if (rc != SQLITE_OK) c->stats.errors++;
    pthread_mutex_unlock(&c->mu);
    c->restart_next = rc == SQLITE_OK;
    /* BUSY: a reader outlasted the busy timeout.  Trying again after every
     * batch would make each one wait that long; the WAL grows a little more
     * first. */
    if (act == FALLBACK && rc != SQLITE_OK) c->fallback_at = n + c->hard / 4;
}

void kf_history_sqlite_ckpt_stop(kf_history_sqlite_t *s) {
    kf_history_ckpt_t *c = &s->ck;
    if (!c->inited) return; /* the store failed to open before this began */
    if (c->started) {
        pthread_mutex_lock(&c->mu);
        c->stop = 1;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->thread, NULL);
        c->started = 0;
        if (c->wal_fd >= 0) close(c->wal_fd);
        c->wal_fd = -1;
        /* one line per run: how the WAL was kept bounded, and what the writer
         * itself spent on it (the part the next batch's replies wait for) */
        const kf_history_ckpt_stats_t *t = &c->stats;
        if (t->passes || t->finishes || t->fallbacks)
            kf_log(KF_LOG_INFO, "history: checkpoints", "passes", 'i', (long long)t->passes, "pass_frames", 'i',
                   (long long)t->frames_backfilled, "pass_s", 'd', t->pass_seconds, "writer_finishes", 'i',
                   (long long)t->finishes, "writer_s", 'd', t->finish_seconds, "writer_max_s", 'd',
                   t->finish_max_seconds, "writer_max_frames", 'i', (long long)t->finish_max_frames, "fallbacks",
                   'i', (long long)t->fallbacks, "fallback_s", 'd', t->fallback_seconds, "wal_flushes", 'i',
                   (long long)t->flushes, "db_writebacks", 'i', (long long)t->db_writebacks, "restarts", 'i',
                   (long long)t->restarts, "wal_frames_written", 'i', (long long)t->frames_written,
                   "max_wal_frames", 'i', (long long)t->max_frames, "errors", 'i', (long long)t->errors, NULL);
    }
    sqlite3_close(c->db);
    c->db = NULL;
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    c->inited = 0;
}

void kf_history_sqlite_set_wal_limits(kf_history_t *h, unsigned soft, unsigned residual, unsigned hard) {
    kf_history_ckpt_t *c = &((kf_history_sqlite_t *)h)->ck;
    pthread_mutex_lock(&c->mu);
    if (soft) c->soft = soft;
    if (residual) c->residual = residual;
    if (hard) c->hard = hard;
    pthread_mutex_unlock(&c->mu);
}

void kf_history_sqlite_ckpt_stats(kf_history_t *h, kf_history_ckpt_stats_t *out) {
    kf_history_ckpt_t *c = &((kf_history_sqlite_t *)h)->ck;
    pthread_mutex_lock(&c->mu);
    *out = c->stats;
    pthread_mutex_unlock(&c->mu);
}

void kf_history_sqlite_set_wal_flush(kf_history_t *h, unsigned frames) {
    kf_history_ckpt_t *c = &((kf_history_sqlite_t *)h)->ck;
    pthread_mutex_lock(&c->mu);
    c->flush_step = frames;
    pthread_mutex_unlock(&c->mu);
}

void kf_history_sqlite_ckpt_close_files(kf_history_sqlite_t *s) {
    if (s->ck.db_open) close(s->ck.db_fd);
    s->ck.db_open = 0;
}
