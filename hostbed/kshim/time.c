/*
 * time.c - clocks and processors: the performance counter and interrupt
 * time from CLOCK_MONOTONIC in 100 ns units (10 MHz), the system time from
 * CLOCK_REALTIME in 100 ns units since 1601-01-01 UTC, a 15.625 ms tick,
 * and the online CPUs.
 */
#include "kshim_internal.h"

#include <sched.h>
#include <time.h>
#include <unistd.h>

/* Seconds between 1601-01-01 and 1970-01-01. */
#define EPOCH_DIFFERENCE_S 11644473600ULL
/* KeQueryTimeIncrement (wdm.h): 100 ns units per clock tick; 15.625 ms is
 * the usual default. */
#define TIME_INCREMENT 156250u

ULONGLONG kshim_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ULONGLONG)ts.tv_sec * 1000000000u + (ULONGLONG)ts.tv_nsec;
}

/* KeQueryPerformanceCounter (wdm.h): the frequency is optional. */
LARGE_INTEGER KeQueryPerformanceCounter(PLARGE_INTEGER frequency)
{
    LARGE_INTEGER r;
    if (frequency != NULL)
        frequency->QuadPart = 10000000;
    r.QuadPart = (LONGLONG)(kshim_monotonic_ns() / 100u);
    return r;
}

void KeQuerySystemTime(PLARGE_INTEGER time_out)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_out->QuadPart = (LONGLONG)(((ULONGLONG)ts.tv_sec + EPOCH_DIFFERENCE_S) * 10000000u +
                                    (ULONGLONG)ts.tv_nsec / 100u);
}

ULONGLONG KeQueryInterruptTime(void)
{
    return kshim_monotonic_ns() / 100u;
}

void KeQueryTickCount(PLARGE_INTEGER ticks)
{
    ticks->QuadPart = (LONGLONG)(KeQueryInterruptTime() / TIME_INCREMENT);
}

ULONG KeQueryTimeIncrement(void)
{
    return TIME_INCREMENT;
}

/* KeStallExecutionProcessor (wdm.h): a busy wait (meant for a few
 * microseconds; any IRQL). */
void KeStallExecutionProcessor(ULONG microseconds)
{
    ULONGLONG end = kshim_monotonic_ns() + (ULONGLONG)microseconds * 1000u;
    while (kshim_monotonic_ns() < end)
        __builtin_ia32_pause();
}

ULONG KeQueryActiveProcessorCount(PKAFFINITY affinity)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (affinity != NULL)
        *affinity = n >= 64 ? ~(KAFFINITY)0 : (((KAFFINITY)1 << n) - 1);
    return (ULONG)n;
}

ULONG KeGetCurrentProcessorNumber(void)
{
    int cpu = sched_getcpu();
    return cpu < 0 ? 0 : (ULONG)cpu;
}
