/*
 * violation.c - the end of a process that broke a kernel rule: the message
 * "kshim: VIOLATION: ..." (or "kshim: BUGCHECK ...") and a backtrace on
 * stderr, then _exit(KSHIM_EXIT_VIOLATION) after flushing stdio. _exit, not
 * exit: atexit handlers (the fault report) and other threads' state are not
 * to be trusted any more, and tests assert on the status 86.
 */
#include "kshim_internal.h"

#include <execinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static void print_backtrace(void)
{
    void *frames[32];
    int n = backtrace(frames, 32);
    /* Skip this function and the caller (kshim_violation / KeBugCheckEx). */
    if (n > 2)
        backtrace_symbols_fd(frames + 2, n - 2, STDERR_FILENO);
}

__attribute__((noreturn)) static void die(void)
{
    print_backtrace();
    fflush(NULL);
    _exit(KSHIM_EXIT_VIOLATION);
}

void kshim_violation(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("kshim: VIOLATION: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    die();
}

void kshim_assert_failed(const char *file, int line, const char *expr)
{
    kshim_violation("assertion failed: %s (%s:%d)", expr, file, line);
}

/* KeBugCheckEx (wdm.h): "brings down the system in a controlled manner". */
void KeBugCheckEx(ULONG code, ULONG_PTR p1, ULONG_PTR p2, ULONG_PTR p3, ULONG_PTR p4)
{
    fflush(stdout);
    fprintf(stderr, "kshim: BUGCHECK 0x%08X (0x%llx, 0x%llx, 0x%llx, 0x%llx)\n", code,
            (unsigned long long)p1, (unsigned long long)p2, (unsigned long long)p3,
            (unsigned long long)p4);
    die();
}
