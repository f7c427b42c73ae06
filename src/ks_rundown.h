/*
 * ks_rundown.h - waits that end the library's global lifetimes: a rundown
 * counter and a sleeping lock usable before anything is initialised.
 *
 * Both live in zeroed static storage and need no initialisation call:
 * ks_startup may be the first call into the library, and some calls
 * (ks_getaddrinfo_async) reach the work pools before any ks_startup. We do
 * not use ExAcquireRundownProtection or push locks: the host bed's shim and
 * Wine do not have them, and ntoskrnl.def lists only what we import.
 *
 * Memory: nonpaged static storage (the events are waited on).
 */
#ifndef KS_RUNDOWN_H
#define KS_RUNDOWN_H

#include "ks_lock.h"

/*
 * A ks_lock whose event is initialised by its first acquirer. The
 * initialisation runs at DISPATCH_LEVEL, so it is never preempted on its
 * processor: a thread that finds it in progress (on another processor)
 * spins for the few instructions of ks__lock_init only, then waits on the
 * lock's event like any ks_lock waiter. Acquire at PASSIVE_LEVEL.
 */
enum ks_static_lock_init { KS_STATIC_UNINIT = 0, KS_STATIC_INITIALISING, KS_STATIC_READY };

typedef struct ks_static_lock {
    volatile LONG init; /* enum ks_static_lock_init, interlocked */
    ks_lock lock;       /* usable once init is KS_STATIC_READY */
} ks_static_lock;

_IRQL_requires_max_(PASSIVE_LEVEL) static inline void ks__static_lock_acquire(
    _Inout_ ks_static_lock *l)
{
    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL);
    if (InterlockedCompareExchange(&l->init, KS_STATIC_READY, KS_STATIC_READY) != KS_STATIC_READY) {
        KIRQL irql;
        KeRaiseIrql(DISPATCH_LEVEL, &irql);
        if (InterlockedCompareExchange(&l->init, KS_STATIC_INITIALISING, KS_STATIC_UNINIT) ==
            KS_STATIC_UNINIT) {
            ks__lock_init(&l->lock);
            InterlockedExchange(&l->init, KS_STATIC_READY);
        } else {
            while (InterlockedCompareExchange(&l->init, KS_STATIC_READY, KS_STATIC_READY) !=
                   KS_STATIC_READY)
                YieldProcessor();
        }
        KeLowerIrql(irql);
    }
    ks__lock_acquire(&l->lock);
}

static inline void ks__static_lock_release(_Inout_ ks_static_lock *l)
{
    KS_ASSERT(l->init == KS_STATIC_READY);
    ks__lock_release(&l->lock);
}

/*
 * A rundown counter: users are counted (acquire, release: any IRQL <=
 * DISPATCH_LEVEL) and one waiter at a time (the callers serialise it)
 * sleeps until the count is 0, woken by the release that drops it to 0.
 * Unlike EX_RUNDOWN_REF an acquire never fails: the caller counts first and
 * then checks its own gate (the library's "running"), so a waiter that
 * closed the gate before waiting cannot miss a user. The count is never
 * reset. The event is initialised by the first wait and never again; a
 * release sets it only while a waiter has announced itself (an interlocked
 * write of `waiting` before its read of the count, as the release writes
 * the count before reading `waiting`: one of them sees the other).
 */
typedef struct ks_rundown {
    volatile LONG count;   /* users, interlocked */
    volatile LONG waiting; /* 1 while ks__rundown_wait runs, interlocked */
    BOOLEAN event_ready;   /* zero initialised (by the waiter) */
    KEVENT zero;           /* NotificationEvent: set by a release to 0 */
} ks_rundown;

static inline void ks__rundown_acquire(_Inout_ ks_rundown *r)
{
    InterlockedIncrement(&r->count);
}

_IRQL_requires_max_(DISPATCH_LEVEL) static inline void ks__rundown_release(_Inout_ ks_rundown *r)
{
    KS_ASSERT(r->count > 0); /* each release follows its acquire */
    if (InterlockedDecrement(&r->count) == 0 && InterlockedCompareExchange(&r->waiting, 0, 0) != 0)
        KeSetEvent(&r->zero, IO_NO_INCREMENT, FALSE);
}

/* The current count (for reports). */
static inline LONG ks__rundown_count(_In_ ks_rundown *r)
{
    return InterlockedCompareExchange(&r->count, 0, 0);
}

/* Waits until the count is 0: TRUE, or FALSE if it stayed above 0 for
 * timeout_ms (the caller reports and waits again). PASSIVE_LEVEL. */
_IRQL_requires_max_(PASSIVE_LEVEL) static inline BOOLEAN
    ks__rundown_wait(_Inout_ ks_rundown *r, ULONG timeout_ms)
{
    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL);
    KS_ASSERT(r->waiting == 0); /* one waiter at a time */
    if (!r->event_ready) {
        KeInitializeEvent(&r->zero, NotificationEvent, FALSE);
        r->event_ready = TRUE;
    }
    InterlockedExchange(&r->waiting, 1); /* also publishes the initialisation */
    LARGE_INTEGER timeout = ks__relative_ms(timeout_ms);
    BOOLEAN drained = FALSE;
    for (;;) {
        /* Cleared before the count is read: a release to 0 after the read
         * sets it again (the count may rise and fall meanwhile: users that
         * count, see the gate closed and uncount). */
        KeClearEvent(&r->zero);
        if (ks__rundown_count(r) == 0) {
            drained = TRUE;
            break;
        }
        if (KeWaitForSingleObject(&r->zero, Executive, KernelMode, FALSE, &timeout) ==
            STATUS_TIMEOUT)
            break;
    }
    InterlockedExchange(&r->waiting, 0);
    return drained;
}

#endif /* KS_RUNDOWN_H */
