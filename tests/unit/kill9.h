/* kill9.h — the kill -9 harness of the store tests: a forked child appends
 * and writes one fixed-size record to a pipe per acknowledged append; the
 * parent reads records until it has enough (or a deadline passes), kills the
 * child with SIGKILL mid-stream, and keeps every record the child sent before
 * dying.  The test then reopens the store and checks each record is there. */
#ifndef KF_TEST_KILL9_H
#define KF_TEST_KILL9_H

#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop/loop.h"

/* Runs child(write_fd, arg) in a fork (it must not return), reads into buf
 * (cap bytes) until want records of rec_size arrived or ms passed, kills it;
 * returns the number of whole records read. */
static inline size_t kill9_run(void (*child)(int fd, void *arg), void *arg, void *buf, size_t cap, size_t rec_size,
                               size_t want, uint64_t ms) {
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child(p[1], arg);
        _exit(3); /* the child appends until killed */
    }
    close(p[1]);
    char *b = buf;
    size_t got = 0;
    uint64_t until = kf_loop_now_ms() + ms;
    while (got / rec_size < want && kf_loop_now_ms() < until) {
        ssize_t r = read(p[0], b + got, cap - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    cr_assert_eq(kill(pid, SIGKILL), 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child ended early (status %d)", status);
    /* records the child sent before dying are in the pipe: they count too */
    for (ssize_t r; got < cap && (r = read(p[0], b + got, cap - got)) > 0;) got += (size_t)r;
    close(p[0]);
    return got / rec_size;
}

#endif
