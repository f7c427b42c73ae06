/*
 * ks_lock.h - a sleeping lock that costs one interlocked operation when it
 * is free.
 *
 * The per-socket direction locks (ctl, rx, tx) are taken by every call.
 * A KEVENT used as a lock costs a dispatcher wait even when nobody holds it,
 * and under Wine every wait is a wineserver round trip: measured by
 * `make bench`, that alone halved the echo throughput against a raw WSK
 * driver. Here the owner word is claimed with InterlockedCompareExchange and
 * the event is touched only under contention: a releaser sets it only when a
 * waiter announced itself, and a waiter re-tries the claim after every wake
 * (the event may carry a stale signal; that costs one extra loop).
 *
 * Memory: nonpaged (the event is waited on). IRQL: acquire at
 * PASSIVE_LEVEL (or APC_LEVEL); try and release at <= DISPATCH_LEVEL.
 *
 * Where KS_ASSERT checks (KS_ASSERTS_ON: the host bed, DBG builds) the
 * lock also records its holder's thread id, so that "lock held" can be
 * asserted (ks__lock_held_by_me) and a release by another thread, or of a
 * free lock, is caught. A lock is released by the thread that took it.
 */
#ifndef KS_LOCK_H
#define KS_LOCK_H

#include "ks_kernel.h"

/*
 * Lock order checking (docs/design.md, "Lock order"). On the host bed the
 * shim follows every spin lock itself and these hooks tell it about the
 * rest; elsewhere (Windows, any build) they expand to nothing.
 *  - KS_LOCK_CLASS(lock, "name"): lock (a KSPIN_LOCK or a ks_lock) is of
 *    the class name, the unit the order is stated in ("sock.lock").
 *  - KS_LOCK_NEST_BEGIN(lock) / KS_LOCK_NEST_END(lock): lock, held by the
 *    calling thread, is the outer lock of an ordered nesting the design
 *    documents (a listener's rx lock over its unpublished connection,
 *    ks_cleanup's ctl locks over the sockets it closes): what the thread
 *    takes meanwhile is not ordered against it. Its release ends it too.
 *  - KS_LOCK_NOTE_WAIT/_ACQUIRED/_RELEASED: ks_lock's own (below).
 */
#if defined(KSHIM_LOCK_ORDER)
#define KS_LOCK_CLASS(lock, name) kshim_lock_class((lock), (name))
#define KS_LOCK_NEST_BEGIN(lock) kshim_lock_nest((lock), TRUE)
#define KS_LOCK_NEST_END(lock) kshim_lock_nest((lock), FALSE)
#define KS_LOCK_NOTE_WAIT(lock) kshim_lock_wait(lock)
#define KS_LOCK_NOTE_ACQUIRED(lock) kshim_lock_acquired(lock)
#define KS_LOCK_NOTE_RELEASED(lock) kshim_lock_released(lock)
#else
#define KS_LOCK_CLASS(lock, name) ((void)0)
#define KS_LOCK_NEST_BEGIN(lock) ((void)0)
#define KS_LOCK_NEST_END(lock) ((void)0)
#define KS_LOCK_NOTE_WAIT(lock) ((void)0)
#define KS_LOCK_NOTE_ACQUIRED(lock) ((void)0)
#define KS_LOCK_NOTE_RELEASED(lock) ((void)0)
#endif

typedef struct ks_lock {
    volatile LONG held;    /* 1 while owned */
    volatile LONG waiters; /* threads in the slow path of an acquire */
    KEVENT wake;           /* SynchronizationEvent, set on release when waiters > 0 */
#if KS_ASSERTS_ON
    HANDLE owner; /* the holder's thread id while held, else NULL */
#endif
} ks_lock;

static inline void ks__lock_init(_Out_ ks_lock *l)
{
    l->held = 0;
    l->waiters = 0;
    KeInitializeEvent(&l->wake, SynchronizationEvent, FALSE);
#if KS_ASSERTS_ON
    l->owner = NULL;
#endif
    KS_LOCK_CLASS(l, NULL); /* a new lock: unnamed until KS_LOCK_CLASS */
}

/* TRUE if the calling thread holds l (for KS_ASSERT: only evaluated where
 * KS_ASSERTS_ON; elsewhere it would only say that someone holds it). */
static inline BOOLEAN ks__lock_held_by_me(_In_ const ks_lock *l)
{
#if KS_ASSERTS_ON
    return l->held != 0 && l->owner == PsGetCurrentThreadId();
#else
    return l->held != 0;
#endif
}

/* Claims the lock if it is free; TRUE on success. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL) static inline BOOLEAN
    ks__lock_try_acquire(_Inout_ _Requires_lock_not_held_(*_Curr_)
                             _When_(return != FALSE, _Acquires_lock_(*_Curr_)) ks_lock *l)
{
    if (InterlockedCompareExchange(&l->held, 1, 0) != 0)
        return FALSE;
#if KS_ASSERTS_ON
    l->owner = PsGetCurrentThreadId();
#endif
    KS_LOCK_NOTE_ACQUIRED(l); /* a try never waits: no order to check */
    return TRUE;
}

/*
 * Waits for the lock, or until abort (optional, a notification event) is
 * signalled. Returns TRUE with the lock held, FALSE if aborted.
 */
_Must_inspect_result_ _IRQL_requires_max_(APC_LEVEL) static inline BOOLEAN
    ks__lock_acquire_or(_Inout_ _Requires_lock_not_held_(*_Curr_)
                            _When_(return != FALSE, _Acquires_lock_(*_Curr_)) ks_lock *l,
                        _In_opt_ KEVENT *abort)
{
    KS_ASSERT(!ks__lock_held_by_me(l)); /* waiting for it would never end */
    KS_LOCK_NOTE_WAIT(l);               /* it may wait: ordered against the locks held */
    if (ks__lock_try_acquire(l))
        return TRUE;
    /* Announce ourselves before the last try, so that a release that
     * happens after that try sees us and sets the event. */
    InterlockedIncrement(&l->waiters);
    for (;;) {
        if (ks__lock_try_acquire(l)) {
            InterlockedDecrement(&l->waiters);
            return TRUE;
        }
        PVOID objects[2] = {&l->wake, abort};
        NTSTATUS st = KeWaitForMultipleObjects(abort != NULL ? 2 : 1, objects, WaitAny, Executive,
                                               KernelMode, FALSE, NULL, NULL);
        if (st != STATUS_WAIT_0) {
            InterlockedDecrement(&l->waiters);
            /* We may have consumed a wake meant for another waiter. */
            if (l->waiters > 0)
                KeSetEvent(&l->wake, IO_NO_INCREMENT, FALSE);
            return FALSE;
        }
    }
}

_IRQL_requires_max_(APC_LEVEL) static inline void ks__lock_acquire(
    _Inout_ _Requires_lock_not_held_(*_Curr_) _Acquires_lock_(*_Curr_) ks_lock *l)
{
    (void)ks__lock_acquire_or(l, NULL);
}

_IRQL_requires_max_(DISPATCH_LEVEL) static inline void ks__lock_release(
    _Inout_ _Requires_lock_held_(*_Curr_) _Releases_lock_(*_Curr_) ks_lock *l)
{
    KS_ASSERT(ks__lock_held_by_me(l));
    KS_LOCK_NOTE_RELEASED(l);
#if KS_ASSERTS_ON
    l->owner = NULL;
#endif
    InterlockedExchange(&l->held, 0);
    if (l->waiters > 0)
        KeSetEvent(&l->wake, IO_NO_INCREMENT, FALSE);
}

#endif /* KS_LOCK_H */
