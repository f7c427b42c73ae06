/*
 * child.h - for the host bed's tests of what ends a process (the shim's
 * violations, the library's KS_ASSERT): runs a function in a forked child
 * with its stderr captured. Included by one source file of each test
 * program (its functions are static).
 */
#ifndef HOST_CHILD_H
#define HOST_CHILD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs fn in a forked child (stderr into out, NUL-terminated, at most
 * size - 1 bytes; a child still running after 20 s is killed by SIGALRM,
 * so a hang fails the caller's check instead of the whole test). A child
 * whose fn returns exits with status 0. Returns the child's wait status. */
static int child_run(void (*fn)(void), char *out, size_t size)
{
    int fds[2], status = 0;
    size_t len = 0;
    ssize_t n;

    fflush(stdout);
    fflush(stderr);
    if (pipe(fds) != 0) {
        perror("pipe");
        exit(2);
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        alarm(20);
        fn();
        _exit(0);
    }
    close(fds[1]);
    while (len < size - 1 && (n = read(fds[0], out + len, size - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(fds[0]);
    waitpid(pid, &status, 0);
    return status;
}

#endif /* HOST_CHILD_H */
