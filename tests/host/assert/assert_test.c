/*
 * assert_test.c - the library's KS_ASSERT (src/ks_kernel.h) is compiled in
 * on the host bed and ends the run as a shim violation when a precondition
 * is broken. White-box: each case breaks one precondition a comment of
 * src/ states, in a forked child (the parent starts nothing, so the child
 * starts single-threaded), which must exit with status 86 and print
 * "kshim: VIOLATION: assertion failed: <the condition> (<the file>:...".
 * A control child runs the same steps correctly and must exit 0. Prints
 * "assert_test: N checks passed" and exits non-zero on any failure.
 */
#define _GNU_SOURCE
#include <ntddk.h>
#include <kshim.h>

#include "ks_fdtable.h"
#include "ks_address.h"

#include "../child.h"

static int checks, failures;

/* A started library and one datagram socket, looked up (referenced). */
static ks_sock *start_with_socket(int *fd)
{
    kshim_init();
    if (ks_startup() != 0)
        _exit(2);
    *fd = ks_socket(AF_INET, SOCK_DGRAM, 0);
    ks_sock *s = *fd > 0 ? ks__fd_get(*fd) : NULL;
    if (s == NULL)
        _exit(3);
    return s;
}

/* Control: the same steps as the cases, in order: no assertion fires. */
static void c_correct(void)
{
    int fd;
    ks_sock *s = start_with_socket(&fd);
    if (ks__sock_lock(s, &s->ctl_lock) != 0)
        _exit(4);
    ks_addr local;
    NTSTATUS st = ks__sock_wsk_get_address(s, FALSE, &local); /* no WSK socket yet: refused */
    (void)st;
    ks__sock_unlock(&s->ctl_lock);
    ks__sock_put(s);
    ks_close(fd);
    ks_cleanup();
}

/* A reference dropped that the caller does not hold ("refs > 0"). */
static void v_put_without_reference(void)
{
    int fd;
    ks_sock *s = start_with_socket(&fd);
    s->refs = 0; /* as if every reference had been dropped already */
    ks__sock_put(s);
}

/* A ks_sock_wsk_* request without the ctl lock ("ctl lock held"): the
 * lock's recorded owner is checked. */
static void v_request_without_ctl_lock(void)
{
    int fd;
    ks_sock *s = start_with_socket(&fd);
    ks_addr local;
    NTSTATUS st = ks__sock_wsk_get_address(s, FALSE, &local);
    (void)st;
}

/* A direction lock released by a thread that does not hold it. */
static void v_unlock_not_held(void)
{
    int fd;
    ks_sock *s = start_with_socket(&fd);
    ks__sock_unlock(&s->rx_lock);
}

/* Runs fn in a child: want_violation, it must exit with status 86 and
 * print the assertion's text and file; else exit 0 without a violation. */
static void check_case(const char *name, void (*fn)(void), BOOLEAN want_violation, const char *expr,
                       const char *file)
{
    char buf[16384];
    int status = child_run(fn, buf, sizeof(buf));
    checks++;
    BOOLEAN ok;
    if (want_violation) {
        char text[256];
        snprintf(text, sizeof(text), "kshim: VIOLATION: assertion failed: %s (", expr);
        const char *at = strstr(buf, text);
        ok = WIFEXITED(status) && WEXITSTATUS(status) == KSHIM_EXIT_VIOLATION && at != NULL &&
             strstr(at, file) != NULL;
    } else {
        ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
             strstr(buf, "kshim: VIOLATION") == NULL;
    }
    if (!ok) {
        failures++;
        fprintf(stderr, "FAIL %s: status 0x%x, output:\n%s\n", name, status, buf);
    }
}

int main(void)
{
    check_case("correct use", c_correct, FALSE, NULL, NULL);
    check_case("put without a reference", v_put_without_reference, TRUE, "s->refs > 0",
               "ks_socket.c:");
    check_case("request without the ctl lock", v_request_without_ctl_lock, TRUE,
               "ks__lock_held_by_me(&s->ctl_lock)", "ks_address.c:");
    check_case("unlock of a lock not held", v_unlock_not_held, TRUE, "ks__lock_held_by_me(l)",
               "ks_lock.h:");
    if (failures > 0) {
        fprintf(stderr, "assert_test: %d of %d checks FAILED\n", failures, checks);
        return 1;
    }
    printf("assert_test: %d checks passed\n", checks);
    return 0;
}
