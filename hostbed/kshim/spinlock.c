/*
 * spinlock.c - KSPIN_LOCK: a word holding the owner's thread id (0 = free).
 * Acquiring raises to DISPATCH_LEVEL and spins (yielding the CPU now and
 * then, since user-space threads, unlike a CPU at DISPATCH_LEVEL, can be
 * preempted while holding the lock). Acquiring a lock the caller already
 * holds (a deadlock on Windows) and releasing a lock held by another thread
 * are violations. Each acquisition and release is reported to the lock
 * order checker (lockorder.c) with the caller's site: the entry points pass
 * their return address and the caller's frame.
 */
#include "kshim_internal.h"

#include <sched.h>

/* The caller's frame, for the checker's sites (read, never written). */
#pragma GCC diagnostic ignored "-Wframe-address"
#define CALLER_PC __builtin_return_address(0)
#define CALLER_FP __builtin_frame_address(1)

void KeInitializeSpinLock(PKSPIN_LOCK lock)
{
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
    kshim_lockorder_spin_init(lock, CALLER_PC);
}

static void spin_acquire(PKSPIN_LOCK lock, const char *who, void *pc, void *fp)
{
    ULONG_PTR me = kshim_thread_id();
    ULONG_PTR expected;
    unsigned spins = 0;

    if (__atomic_load_n(lock, __ATOMIC_RELAXED) == me)
        kshim_violation("%s: spin lock %p acquired recursively (deadlock on Windows)", who,
                        (void *)lock);
    kshim_lockorder_spin_acquire(lock, pc, fp);
    for (;;) {
        expected = 0;
        if (__atomic_compare_exchange_n(lock, &expected, me, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return;
        if (++spins % 64 == 0)
            sched_yield();
        else
            __builtin_ia32_pause();
    }
}

static void spin_release(PKSPIN_LOCK lock, const char *who)
{
    ULONG_PTR me = kshim_thread_id();
    ULONG_PTR owner = __atomic_load_n(lock, __ATOMIC_RELAXED);

    if (owner != me)
        kshim_violation("%s: spin lock %p released by a thread that does not hold it (%s)", who,
                        (void *)lock, owner == 0 ? "not held" : "held by another thread");
    kshim_lockorder_spin_release(lock);
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

BOOLEAN kshim_spin_lock_held(const KSPIN_LOCK *lock)
{
    return __atomic_load_n(lock, __ATOMIC_RELAXED) == kshim_thread_id();
}

static KIRQL raise_and_acquire(PKSPIN_LOCK lock, void *pc, void *fp)
{
    KIRQL old;
    /* KeAcquireSpinLock (wdm.h): callers must be at IRQL <= DISPATCH_LEVEL. */
    if (KeGetCurrentIrql() > DISPATCH_LEVEL)
        kshim_violation("KeAcquireSpinLock at IRQL %u > DISPATCH_LEVEL", KeGetCurrentIrql());
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    spin_acquire(lock, "KeAcquireSpinLock", pc, fp);
    return old;
}

void KeAcquireSpinLock(PKSPIN_LOCK lock, PKIRQL old_irql)
{
    *old_irql = raise_and_acquire(lock, CALLER_PC, CALLER_FP);
}

KIRQL KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK lock)
{
    return raise_and_acquire(lock, CALLER_PC, CALLER_FP);
}

void KeReleaseSpinLock(PKSPIN_LOCK lock, KIRQL new_irql)
{
    spin_release(lock, "KeReleaseSpinLock");
    KeLowerIrql(new_irql);
}

void KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK lock)
{
    /* KeAcquireSpinLockAtDpcLevel (wdm.h): callers must be at IRQL >= DISPATCH_LEVEL. */
    if (KeGetCurrentIrql() < DISPATCH_LEVEL)
        kshim_violation("KeAcquireSpinLockAtDpcLevel at IRQL %u < DISPATCH_LEVEL",
                        KeGetCurrentIrql());
    spin_acquire(lock, "KeAcquireSpinLockAtDpcLevel", CALLER_PC, CALLER_FP);
}

void KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK lock)
{
    if (KeGetCurrentIrql() < DISPATCH_LEVEL)
        kshim_violation("KeReleaseSpinLockFromDpcLevel at IRQL %u < DISPATCH_LEVEL",
                        KeGetCurrentIrql());
    spin_release(lock, "KeReleaseSpinLockFromDpcLevel");
}
