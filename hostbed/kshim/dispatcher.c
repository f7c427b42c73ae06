/*
 * dispatcher.c - dispatcher objects and waits: notification and
 * synchronization events, mutexes (owner and recursion), semaphores and
 * thread objects (signalled by thread.c when the thread ends). All their
 * state is guarded by one pthread mutex; every state change broadcasts one
 * condition variable (on CLOCK_MONOTONIC) and each waiter re-checks its
 * objects. Simple and correct for the handful of threads a test runs; a
 * KeSetEvent immediately followed by KeResetEvent may release fewer waiters
 * than Windows would (no test or library path relies on such a pulse).
 */
#include "kshim_internal.h"

#include <errno.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static pthread_once_t cond_once = PTHREAD_ONCE_INIT;

static void cond_init(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&cond, &attr);
    pthread_condattr_destroy(&attr);
}

void kshim_dispatcher_lock(void)
{
    pthread_once(&cond_once, cond_init);
    pthread_mutex_lock(&lock);
}

void kshim_dispatcher_unlock(void)
{
    pthread_mutex_unlock(&lock);
}

void kshim_dispatcher_broadcast(void)
{
    pthread_cond_broadcast(&cond);
}

BOOLEAN kshim_dispatcher_wait(ULONGLONG deadline_ns)
{
    struct timespec ts;
    if (deadline_ns == 0) {
        pthread_cond_wait(&cond, &lock);
        return TRUE;
    }
    if (kshim_monotonic_ns() >= deadline_ns)
        return FALSE;
    ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
    ts.tv_nsec = (long)(deadline_ns % 1000000000u);
    return pthread_cond_timedwait(&cond, &lock, &ts) != ETIMEDOUT;
}

void kshim_dispatcher_init_header(DISPATCHER_HEADER *header, LONG type, LONG state)
{
    header->Type = type;
    header->SignalState = state;
    header->Owner = NULL;
    header->Count = 0;
    header->Magic = KSHIM_MAGIC_DISPATCHER;
}

static void check_object(const DISPATCHER_HEADER *h, const char *who)
{
    if (h == NULL)
        kshim_violation("%s: NULL dispatcher object", who);
    if (h->Magic != KSHIM_MAGIC_DISPATCHER)
        kshim_violation("%s: object %p is not an initialised dispatcher object", who,
                        (const void *)h);
}

static void check_type(const DISPATCHER_HEADER *h, LONG type1, LONG type2, const char *who)
{
    check_object(h, who);
    if (h->Type != type1 && h->Type != type2)
        kshim_violation("%s: object %p has the wrong type %d", who, (const void *)h, (int)h->Type);
}

/* ---- events ---- */

void KeInitializeEvent(PRKEVENT event, EVENT_TYPE type, BOOLEAN state)
{
    if (type != NotificationEvent && type != SynchronizationEvent)
        kshim_violation("KeInitializeEvent: bad event type %d", (int)type);
    kshim_dispatcher_init_header(&event->Header,
                                 type == NotificationEvent ? KSHIM_OBJ_NOTIFICATION_EVENT
                                                           : KSHIM_OBJ_SYNCHRONIZATION_EVENT,
                                 state ? 1 : 0);
}

static void check_event(PRKEVENT event, const char *who)
{
    check_type(&event->Header, KSHIM_OBJ_NOTIFICATION_EVENT, KSHIM_OBJ_SYNCHRONIZATION_EVENT, who);
}

/* KeSetEvent (wdm.h): IRQL <= DISPATCH_LEVEL; returns the previous state.
 * Wait = TRUE promises a following KeWaitXxx; it changes nothing here. */
LONG KeSetEvent(PRKEVENT event, KPRIORITY increment, BOOLEAN wait)
{
    LONG old;
    (void)increment;
    (void)wait;
    if (KeGetCurrentIrql() > DISPATCH_LEVEL)
        kshim_violation("KeSetEvent at IRQL %u > DISPATCH_LEVEL", KeGetCurrentIrql());
    check_event(event, "KeSetEvent");
    kshim_dispatcher_lock();
    old = event->Header.SignalState;
    event->Header.SignalState = 1;
    kshim_dispatcher_broadcast();
    kshim_dispatcher_unlock();
    return old;
}

LONG KeResetEvent(PRKEVENT event)
{
    LONG old;
    if (KeGetCurrentIrql() > DISPATCH_LEVEL)
        kshim_violation("KeResetEvent at IRQL %u > DISPATCH_LEVEL", KeGetCurrentIrql());
    check_event(event, "KeResetEvent");
    kshim_dispatcher_lock();
    old = event->Header.SignalState;
    event->Header.SignalState = 0;
    kshim_dispatcher_unlock();
    return old;
}

void KeClearEvent(PRKEVENT event)
{
    (void)KeResetEvent(event);
}

LONG KeReadStateEvent(PRKEVENT event)
{
    LONG state;
    check_event(event, "KeReadStateEvent");
    kshim_dispatcher_lock();
    state = event->Header.SignalState;
    kshim_dispatcher_unlock();
    return state;
}

/* ---- mutexes: SignalState is 1 when free, 1 - recursion depth when owned
 * (as the Windows KMUTANT), Owner the owning thread's id ---- */

void KeInitializeMutex(PRKMUTEX mutex, ULONG level)
{
    (void)level;
    kshim_dispatcher_init_header(&mutex->Header, KSHIM_OBJ_MUTEX, 1);
}

/* KeReleaseMutex (wdm.h): returns 0 when the mutex became signalled. Releasing a
 * mutex the caller does not own bugchecks (MUTEX_LEVEL_NUMBER_VIOLATION /
 * STATUS_MUTANT_NOT_OWNED). */
LONG KeReleaseMutex(PRKMUTEX mutex, BOOLEAN wait)
{
    LONG old;
    PVOID me = (PVOID)kshim_thread_id();
    (void)wait;
    if (KeGetCurrentIrql() > DISPATCH_LEVEL)
        kshim_violation("KeReleaseMutex at IRQL %u > DISPATCH_LEVEL", KeGetCurrentIrql());
    check_type(&mutex->Header, KSHIM_OBJ_MUTEX, KSHIM_OBJ_MUTEX, "KeReleaseMutex");
    kshim_dispatcher_lock();
    if (mutex->Header.SignalState > 0 || mutex->Header.Owner != me)
        kshim_violation("KeReleaseMutex: mutex %p is not owned by the calling thread",
                        (void *)mutex);
    old = mutex->Header.SignalState++;
    if (mutex->Header.SignalState == 1) {
        mutex->Header.Owner = NULL;
        kshim_dispatcher_broadcast();
    }
    kshim_dispatcher_unlock();
    return old;
}

LONG KeReadStateMutex(PRKMUTEX mutex)
{
    LONG state;
    check_type(&mutex->Header, KSHIM_OBJ_MUTEX, KSHIM_OBJ_MUTEX, "KeReadStateMutex");
    kshim_dispatcher_lock();
    state = mutex->Header.SignalState;
    kshim_dispatcher_unlock();
    return state;
}

/* ---- semaphores ---- */

void KeInitializeSemaphore(PRKSEMAPHORE semaphore, LONG count, LONG limit)
{
    /* KeInitializeSemaphore (wdm.h): Count >= 0, Limit > 0, Count <= Limit. */
    if (limit <= 0 || count < 0 || count > limit)
        kshim_violation("KeInitializeSemaphore: count %d, limit %d", (int)count, (int)limit);
    kshim_dispatcher_init_header(&semaphore->Header, KSHIM_OBJ_SEMAPHORE, count);
    semaphore->Header.Count = limit;
    semaphore->Limit = limit;
}

/* KeReleaseSemaphore (wdm.h): going beyond the limit raises
 * STATUS_SEMAPHORE_LIMIT_EXCEEDED; returns the previous count. */
LONG KeReleaseSemaphore(PRKSEMAPHORE semaphore, KPRIORITY increment, LONG adjustment, BOOLEAN wait)
{
    LONG old;
    (void)increment;
    (void)wait;
    if (KeGetCurrentIrql() > DISPATCH_LEVEL)
        kshim_violation("KeReleaseSemaphore at IRQL %u > DISPATCH_LEVEL", KeGetCurrentIrql());
    check_type(&semaphore->Header, KSHIM_OBJ_SEMAPHORE, KSHIM_OBJ_SEMAPHORE, "KeReleaseSemaphore");
    if (adjustment <= 0)
        kshim_violation("KeReleaseSemaphore: adjustment %d <= 0", (int)adjustment);
    kshim_dispatcher_lock();
    old = semaphore->Header.SignalState;
    if ((LONGLONG)old + adjustment > semaphore->Limit)
        kshim_violation("KeReleaseSemaphore: count %d + %d exceeds the limit %d", (int)old,
                        (int)adjustment, (int)semaphore->Limit);
    semaphore->Header.SignalState = old + adjustment;
    kshim_dispatcher_broadcast();
    kshim_dispatcher_unlock();
    return old;
}

LONG KeReadStateSemaphore(PRKSEMAPHORE semaphore)
{
    LONG state;
    check_type(&semaphore->Header, KSHIM_OBJ_SEMAPHORE, KSHIM_OBJ_SEMAPHORE,
               "KeReadStateSemaphore");
    kshim_dispatcher_lock();
    state = semaphore->Header.SignalState;
    kshim_dispatcher_unlock();
    return state;
}

/* ---- waits ---- */

static BOOLEAN can_satisfy(const DISPATCHER_HEADER *h, PVOID me)
{
    if (h->Type == KSHIM_OBJ_MUTEX)
        return h->SignalState > 0 || h->Owner == me;
    return h->SignalState > 0;
}

/* The side effect of a satisfied wait (KeWaitForSingleObject, Remarks). */
static void satisfy(DISPATCHER_HEADER *h, PVOID me)
{
    switch (h->Type) {
    case KSHIM_OBJ_SYNCHRONIZATION_EVENT:
        h->SignalState = 0;
        break;
    case KSHIM_OBJ_MUTEX:
        h->SignalState--;
        h->Owner = me;
        break;
    case KSHIM_OBJ_SEMAPHORE:
        h->SignalState--;
        break;
    default: /* notification events and threads stay signalled */
        break;
    }
}

/* Converts a wait timeout to a CLOCK_MONOTONIC deadline in ns; 0 = forever,
 * 1 = already passed (a poll). */
static ULONGLONG deadline_of(const LARGE_INTEGER *timeout)
{
    LONGLONG t, now_sys;
    ULONGLONG rel, now = kshim_monotonic_ns();
    LARGE_INTEGER sys;

    if (timeout == NULL)
        return 0;
    t = timeout->QuadPart;
    if (t == 0)
        return 1;
    if (t < 0) { /* relative, 100 ns units */
        rel = (ULONGLONG)(-(t + 1)) + 1;
        return rel > (~0ULL - now) / 100u ? 0 : now + rel * 100u;
    }
    /* Absolute system time: converted once (a clock change later is not
     * followed, unlike Windows). */
    KeQuerySystemTime(&sys);
    now_sys = sys.QuadPart;
    if (t <= now_sys)
        return 1;
    rel = (ULONGLONG)(t - now_sys);
    return rel > (~0ULL - now) / 100u ? 0 : now + rel * 100u;
}

static NTSTATUS wait_objects(ULONG count, DISPATCHER_HEADER **objects, WAIT_TYPE wait_type,
                             PLARGE_INTEGER timeout, const char *who)
{
    ULONGLONG deadline;
    PVOID me = (PVOID)kshim_thread_id();
    KIRQL irql = KeGetCurrentIrql();
    ULONG i;

    /* Never wait while holding a spin lock (a zero timeout does not wait). */
    if (timeout == NULL || timeout->QuadPart != 0)
        kshim_lockorder_check_wait(who);
    /* KeWaitForSingleObject / KeWaitForMultipleObjects (wdm.h): IRQL <=
     * DISPATCH_LEVEL, and <= APC_LEVEL unless the timeout is zero. */
    if (irql > DISPATCH_LEVEL || (irql > APC_LEVEL && (timeout == NULL || timeout->QuadPart != 0)))
        kshim_violation("%s with a non-zero timeout at IRQL %u > APC_LEVEL", who, irql);
    if (wait_type != WaitAll && wait_type != WaitAny)
        kshim_violation("%s: bad wait type %d", who, (int)wait_type);
    for (i = 0; i < count; i++)
        check_object(objects[i], who);
    deadline = deadline_of(timeout);

    kshim_dispatcher_lock();
    for (;;) {
        if (wait_type == WaitAny) {
            for (i = 0; i < count; i++) {
                if (can_satisfy(objects[i], me)) {
                    satisfy(objects[i], me);
                    kshim_dispatcher_unlock();
                    return STATUS_WAIT_0 + (NTSTATUS)i;
                }
            }
        } else {
            for (i = 0; i < count && can_satisfy(objects[i], me); i++)
                ;
            if (i == count) {
                for (i = 0; i < count; i++)
                    satisfy(objects[i], me);
                kshim_dispatcher_unlock();
                return STATUS_WAIT_0;
            }
        }
        if (deadline == 1 || !kshim_dispatcher_wait(deadline)) {
            kshim_dispatcher_unlock();
            return STATUS_TIMEOUT;
        }
    }
}

NTSTATUS KeWaitForSingleObject(PVOID object, KWAIT_REASON reason, KPROCESSOR_MODE mode,
                               BOOLEAN alertable, PLARGE_INTEGER timeout)
{
    DISPATCHER_HEADER *h = object;
    (void)reason;
    (void)mode;
    (void)alertable;
    return wait_objects(1, &h, WaitAny, timeout, "KeWaitForSingleObject");
}

NTSTATUS KeWaitForMultipleObjects(ULONG count, PVOID objects[], WAIT_TYPE wait_type,
                                  KWAIT_REASON reason, KPROCESSOR_MODE mode, BOOLEAN alertable,
                                  PLARGE_INTEGER timeout, PKWAIT_BLOCK wait_blocks)
{
    (void)reason;
    (void)mode;
    (void)alertable;
    /* KeWaitForMultipleObjects (wdm.h): WaitBlockArray may be NULL only for
     * up to THREAD_WAIT_OBJECTS objects; above MAXIMUM_WAIT_OBJECTS the system
     * bugchecks (MAXIMUM_WAIT_OBJECTS_EXCEEDED). */
    if (count == 0)
        kshim_violation("KeWaitForMultipleObjects with no object");
    if (count > MAXIMUM_WAIT_OBJECTS)
        kshim_violation("KeWaitForMultipleObjects with %u > MAXIMUM_WAIT_OBJECTS objects", count);
    if (count > THREAD_WAIT_OBJECTS && wait_blocks == NULL)
        kshim_violation("KeWaitForMultipleObjects: %u > THREAD_WAIT_OBJECTS objects need a "
                        "wait block array",
                        count);
    return wait_objects(count, (DISPATCHER_HEADER **)objects, wait_type, timeout,
                        "KeWaitForMultipleObjects");
}

/* KeDelayExecutionThread (wdm.h): IRQL <= APC_LEVEL; Interval negative =
 * relative, positive = absolute system time. */
NTSTATUS KeDelayExecutionThread(KPROCESSOR_MODE mode, BOOLEAN alertable, PLARGE_INTEGER interval)
{
    ULONGLONG deadline;
    struct timespec ts;
    (void)mode;
    (void)alertable;
    kshim_lockorder_check_wait("KeDelayExecutionThread");
    if (KeGetCurrentIrql() > APC_LEVEL)
        kshim_violation("KeDelayExecutionThread at IRQL %u > APC_LEVEL", KeGetCurrentIrql());
    if (interval == NULL)
        kshim_violation("KeDelayExecutionThread with a NULL interval");
    deadline = deadline_of(interval);
    if (deadline <= 1)
        return STATUS_SUCCESS;
    ts.tv_sec = (time_t)(deadline / 1000000000u);
    ts.tv_nsec = (long)(deadline % 1000000000u);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
    return STATUS_SUCCESS;
}
