/*
 * shim_test.c - the kernel shim's own test: dispatcher objects and waits,
 * threads and handles, IRP completion and cancellation, MDLs, pool
 * accounting, the system played (version, exports, what each allocation
 * and mapping asked for), the registry's buffer rules, DbgPrint's Windows formats,
 * fault injection (in a re-executed child with KSHIM_FAULT set), and the
 * violations, each run in a forked child that must exit with status 86 and
 * print "kshim: VIOLATION". Every wait is bounded. Prints
 * "kshim_test: N checks passed" and exits non-zero on any failure.
 */
#define _GNU_SOURCE /* mkstemp, setenv: before ntddk.h includes <string.h> */
#include <ntddk.h>
#include <kshim.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../child.h"

static int checks, failures;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(c)) {                                                                                \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);                           \
        }                                                                                          \
    } while (0)

#define TAG(a, b, c, d) ((ULONG)(a) | ((ULONG)(b) << 8) | ((ULONG)(c) << 16) | ((ULONG)(d) << 24))
#define TAG_TEST TAG('t', 's', 't', 'P')

/* A relative timeout of ms milliseconds. */
static LARGE_INTEGER rel_ms(LONGLONG ms)
{
    LARGE_INTEGER t;
    t.QuadPart = -ms * 10000;
    return t;
}

static LONGLONG now_ms(void)
{
    return KeQueryPerformanceCounter(NULL).QuadPart / 10000;
}

/* Runs fn in a child; it must exit with status 86 and print marker and text. */
static void expect_exit86(const char *name, void (*fn)(void), const char *marker, const char *text)
{
    char buf[8192];
    int status = child_run(fn, buf, sizeof(buf));
    checks++;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != KSHIM_EXIT_VIOLATION ||
        strstr(buf, marker) == NULL || (text != NULL && strstr(buf, text) == NULL)) {
        failures++;
        fprintf(stderr, "FAIL violation %s: status 0x%x, output:\n%s\n", name, status, buf);
    }
}

static void expect_violation(const char *name, void (*fn)(void), const char *text)
{
    expect_exit86(name, fn, "kshim: VIOLATION: ", text);
}

/* ---- IRQL and spin locks ---- */

static KSPIN_LOCK shared_lock;
static volatile LONG shared_counter;

static void spin_worker(PVOID context)
{
    (void)context;
    for (int i = 0; i < 2000; i++) {
        KIRQL old;
        KeAcquireSpinLock(&shared_lock, &old);
        shared_counter = shared_counter + 1; /* not atomic: the lock protects it */
        KeReleaseSpinLock(&shared_lock, old);
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static void wait_thread_handle(HANDLE h)
{
    PVOID obj = NULL;
    LARGE_INTEGER t = rel_ms(10000);
    CHECK(ObReferenceObjectByHandle(h, SYNCHRONIZE, *PsThreadType, KernelMode, &obj, NULL) ==
          STATUS_SUCCESS);
    CHECK(ZwClose(h) == STATUS_SUCCESS);
    if (obj != NULL) {
        CHECK(KeWaitForSingleObject(obj, Executive, KernelMode, FALSE, &t) == STATUS_WAIT_0);
        ObDereferenceObject(obj);
    }
}

static void test_irql_spinlock(void)
{
    KIRQL old, old2;
    HANDLE h1, h2;

    CHECK(KeGetCurrentIrql() == PASSIVE_LEVEL);
    KeRaiseIrql(APC_LEVEL, &old);
    CHECK(old == PASSIVE_LEVEL && KeGetCurrentIrql() == APC_LEVEL);
    old2 = KeRaiseIrqlToDpcLevel();
    CHECK(old2 == APC_LEVEL && KeGetCurrentIrql() == DISPATCH_LEVEL);
    KeLowerIrql(old2);
    KeLowerIrql(old);
    CHECK(KeGetCurrentIrql() == PASSIVE_LEVEL);

    KeInitializeSpinLock(&shared_lock);
    CHECK(!kshim_spin_lock_held(&shared_lock));
    KeAcquireSpinLock(&shared_lock, &old);
    CHECK(old == PASSIVE_LEVEL && KeGetCurrentIrql() == DISPATCH_LEVEL);
    CHECK(shared_lock != 0 && kshim_spin_lock_held(&shared_lock));
    KeReleaseSpinLock(&shared_lock, old);
    CHECK(KeGetCurrentIrql() == PASSIVE_LEVEL && shared_lock == 0);
    CHECK(!kshim_spin_lock_held(&shared_lock));
    old = KeAcquireSpinLockRaiseToDpc(&shared_lock);
    KeReleaseSpinLockFromDpcLevel(&shared_lock);
    KeAcquireSpinLockAtDpcLevel(&shared_lock);
    KeReleaseSpinLock(&shared_lock, old);

    /* Two threads increment a counter under the lock. */
    shared_counter = 0;
    CHECK(PsCreateSystemThread(&h1, THREAD_ALL_ACCESS, NULL, NULL, NULL, spin_worker, NULL) ==
          STATUS_SUCCESS);
    CHECK(PsCreateSystemThread(&h2, THREAD_ALL_ACCESS, NULL, NULL, NULL, spin_worker, NULL) ==
          STATUS_SUCCESS);
    wait_thread_handle(h1);
    wait_thread_handle(h2);
    CHECK(shared_counter == 4000);
}

/* ---- events, waits, timeouts ---- */

static KEVENT ev_late;

static void set_later(PVOID context)
{
    LARGE_INTEGER d = rel_ms(30);
    (void)context;
    CHECK(KeGetCurrentIrql() == PASSIVE_LEVEL);
    KeDelayExecutionThread(KernelMode, FALSE, &d);
    KeSetEvent(&ev_late, IO_NO_INCREMENT, FALSE);
}

static void test_events(void)
{
    KEVENT n, s, a, b;
    LARGE_INTEGER zero = {.QuadPart = 0}, t;
    PVOID objs[2];
    LONGLONG t0;
    HANDLE h;

    KeInitializeEvent(&n, NotificationEvent, FALSE);
    KeInitializeEvent(&s, SynchronizationEvent, FALSE);
    CHECK(KeReadStateEvent(&n) == 0);
    CHECK(KeWaitForSingleObject(&n, Executive, KernelMode, FALSE, &zero) == STATUS_TIMEOUT);
    CHECK(KeSetEvent(&n, IO_NO_INCREMENT, FALSE) == 0);
    CHECK(KeSetEvent(&n, IO_NO_INCREMENT, FALSE) == 1);
    /* A notification event stays signalled for every wait. */
    CHECK(KeWaitForSingleObject(&n, Executive, KernelMode, FALSE, &zero) == STATUS_WAIT_0);
    CHECK(KeWaitForSingleObject(&n, Executive, KernelMode, FALSE, NULL) == STATUS_WAIT_0);
    CHECK(KeResetEvent(&n) == 1);
    CHECK(KeReadStateEvent(&n) == 0);
    /* A synchronization event satisfies one wait, then is reset. */
    KeSetEvent(&s, IO_NO_INCREMENT, FALSE);
    CHECK(KeReadStateEvent(&s) == 1);
    CHECK(KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &zero) == STATUS_WAIT_0);
    CHECK(KeReadStateEvent(&s) == 0);
    CHECK(KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &zero) == STATUS_TIMEOUT);
    KeSetEvent(&s, IO_NO_INCREMENT, FALSE);
    KeClearEvent(&s);
    CHECK(KeReadStateEvent(&s) == 0);

    /* WaitAny: the index of the first signalled object. */
    KeInitializeEvent(&a, SynchronizationEvent, FALSE);
    KeInitializeEvent(&b, SynchronizationEvent, FALSE);
    objs[0] = &a;
    objs[1] = &b;
    CHECK(KeWaitForMultipleObjects(2, objs, WaitAny, Executive, KernelMode, FALSE, &zero, NULL) ==
          STATUS_TIMEOUT);
    KeSetEvent(&b, IO_NO_INCREMENT, FALSE);
    CHECK(KeWaitForMultipleObjects(2, objs, WaitAny, Executive, KernelMode, FALSE, &zero, NULL) ==
          STATUS_WAIT_1);
    CHECK(KeReadStateEvent(&b) == 0);
    /* WaitAll: nothing is consumed until all are signalled. */
    KeSetEvent(&a, IO_NO_INCREMENT, FALSE);
    CHECK(KeWaitForMultipleObjects(2, objs, WaitAll, Executive, KernelMode, FALSE, &zero, NULL) ==
          STATUS_TIMEOUT);
    CHECK(KeReadStateEvent(&a) == 1);
    KeSetEvent(&b, IO_NO_INCREMENT, FALSE);
    CHECK(KeWaitForMultipleObjects(2, objs, WaitAll, Executive, KernelMode, FALSE, &zero, NULL) ==
          STATUS_WAIT_0);
    CHECK(KeReadStateEvent(&a) == 0 && KeReadStateEvent(&b) == 0);

    /* Relative timeout. */
    t0 = now_ms();
    t = rel_ms(50);
    CHECK(KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &t) == STATUS_TIMEOUT);
    CHECK(now_ms() - t0 >= 49);
    /* Absolute timeout: system time + 50 ms; one in the past does not wait. */
    KeQuerySystemTime(&t);
    t.QuadPart += 50 * 10000;
    t0 = now_ms();
    CHECK(KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &t) == STATUS_TIMEOUT);
    CHECK(now_ms() - t0 >= 45);
    KeQuerySystemTime(&t);
    t.QuadPart -= 10000000;
    t0 = now_ms();
    CHECK(KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &t) == STATUS_TIMEOUT);
    CHECK(now_ms() - t0 < 1000);

    /* Another thread sets the event. */
    KeInitializeEvent(&ev_late, NotificationEvent, FALSE);
    CHECK(PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, set_later, NULL) ==
          STATUS_SUCCESS);
    t = rel_ms(10000);
    CHECK(KeWaitForSingleObject(&ev_late, Executive, KernelMode, FALSE, &t) == STATUS_WAIT_0);
    wait_thread_handle(h);

    /* KeDelayExecutionThread sleeps. */
    t0 = now_ms();
    t = rel_ms(20);
    CHECK(KeDelayExecutionThread(KernelMode, FALSE, &t) == STATUS_SUCCESS);
    CHECK(now_ms() - t0 >= 19);
}

/* ---- mutex and semaphore ---- */

static KMUTEX mtx;
static NTSTATUS other_thread_wait;

static void try_mutex(PVOID context)
{
    LARGE_INTEGER zero = {.QuadPart = 0};
    (void)context;
    other_thread_wait = KeWaitForSingleObject(&mtx, Executive, KernelMode, FALSE, &zero);
}

static void test_mutex_semaphore(void)
{
    LARGE_INTEGER zero = {.QuadPart = 0};
    KSEMAPHORE sem;
    HANDLE h;

    KeInitializeMutex(&mtx, 0);
    CHECK(KeReadStateMutex(&mtx) == 1);
    CHECK(KeWaitForSingleObject(&mtx, Executive, KernelMode, FALSE, NULL) == STATUS_WAIT_0);
    CHECK(KeReadStateMutex(&mtx) == 0);
    /* Recursive acquisition by the owner. */
    CHECK(KeWaitForMutexObject(&mtx, Executive, KernelMode, FALSE, &zero) == STATUS_WAIT_0);
    CHECK(KeReadStateMutex(&mtx) == -1);
    /* Another thread cannot get it. */
    other_thread_wait = -1;
    CHECK(PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, try_mutex, NULL) ==
          STATUS_SUCCESS);
    wait_thread_handle(h);
    CHECK(other_thread_wait == STATUS_TIMEOUT);
    CHECK(KeReleaseMutex(&mtx, FALSE) == -1);
    CHECK(KeReleaseMutex(&mtx, FALSE) == 0);
    CHECK(KeReadStateMutex(&mtx) == 1);
    other_thread_wait = -1;
    CHECK(PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, try_mutex, NULL) ==
          STATUS_SUCCESS);
    wait_thread_handle(h);
    /* It got it, and ended owning it (an abandoned mutex: not tracked). */
    CHECK(other_thread_wait == STATUS_WAIT_0);

    KeInitializeSemaphore(&sem, 2, 3);
    CHECK(KeReadStateSemaphore(&sem) == 2);
    CHECK(KeWaitForSingleObject(&sem, Executive, KernelMode, FALSE, &zero) == STATUS_WAIT_0);
    CHECK(KeWaitForSingleObject(&sem, Executive, KernelMode, FALSE, &zero) == STATUS_WAIT_0);
    CHECK(KeWaitForSingleObject(&sem, Executive, KernelMode, FALSE, &zero) == STATUS_TIMEOUT);
    CHECK(KeReleaseSemaphore(&sem, IO_NO_INCREMENT, 3, FALSE) == 0);
    CHECK(KeReadStateSemaphore(&sem) == 3);
}

/* ---- threads ---- */

static volatile LONG after_terminate;
static HANDLE thread_ids[2];

static void terminating(PVOID context)
{
    thread_ids[(ULONG_PTR)context] = PsGetCurrentThreadId();
    CHECK(PsIsSystemThread(PsGetCurrentThread()));
    PsTerminateSystemThread(STATUS_SUCCESS);
    after_terminate = 1; /* never reached */
}

static void test_threads(void)
{
    struct kshim_stats st;
    HANDLE h1, h2;
    PVOID obj;
    CLIENT_ID cid;
    LARGE_INTEGER t = rel_ms(10000);

    CHECK(PsTerminateSystemThread(STATUS_SUCCESS) == STATUS_INVALID_PARAMETER);
    CHECK(!PsIsSystemThread(PsGetCurrentThread()));
    CHECK(PsGetCurrentThread() == PsGetCurrentThread());
    CHECK(PsCreateSystemThread(&h1, THREAD_ALL_ACCESS, NULL, NULL, &cid, terminating, (PVOID)0) ==
          STATUS_SUCCESS);
    CHECK(PsCreateSystemThread(&h2, THREAD_ALL_ACCESS, NULL, NULL, NULL, terminating, (PVOID)1) ==
          STATUS_SUCCESS);
    CHECK(h1 != h2);
    CHECK(ObReferenceObjectByHandle(h1, SYNCHRONIZE, *PsThreadType, KernelMode, &obj, NULL) ==
          STATUS_SUCCESS);
    CHECK(ObReferenceObjectByHandle(h1, SYNCHRONIZE, *ExEventObjectType, KernelMode, &obj, NULL) ==
          STATUS_OBJECT_TYPE_MISMATCH);
    CHECK(ObReferenceObjectByHandle((HANDLE)12345, SYNCHRONIZE, NULL, KernelMode, &obj, NULL) ==
          STATUS_INVALID_HANDLE);
    /* The handle is closed before the wait: the reference keeps the object. */
    CHECK(ZwClose(h1) == STATUS_SUCCESS);
    CHECK(KeWaitForSingleObject(obj, Executive, KernelMode, FALSE, &t) == STATUS_WAIT_0);
    ObDereferenceObject(obj);
    wait_thread_handle(h2);
    CHECK(kshim_wait_threads(5000));
    CHECK(after_terminate == 0);
    CHECK(thread_ids[0] != NULL && thread_ids[1] != NULL && thread_ids[0] != thread_ids[1]);
    CHECK(thread_ids[0] == cid.UniqueThread);
    CHECK(thread_ids[0] != PsGetCurrentThreadId());
    kshim_get_stats(&st);
    CHECK(st.threads == 0 && st.handles == 0);
}

/* ---- IRPs ---- */

struct completion_log {
    int calls;
    BOOLEAN pending_returned;
    PDEVICE_OBJECT device;
    NTSTATUS status;
    KIRQL irql;
    NTSTATUS result;
};

static NTSTATUS on_complete(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    struct completion_log *log = context;
    log->calls++;
    log->pending_returned = irp->PendingReturned;
    log->device = device;
    log->status = irp->IoStatus.Status;
    log->irql = KeGetCurrentIrql();
    return log->result;
}

static void test_irp_completion(void)
{
    struct completion_log top = {.result = STATUS_MORE_PROCESSING_REQUIRED};
    struct completion_log mid = {.result = STATUS_SUCCESS};
    DEVICE_OBJECT dev_mid;
    struct kshim_stats st;
    KIRQL old;
    PIRP irp = IoAllocateIrp(1, FALSE);

    CHECK(irp != NULL);
    if (irp == NULL)
        return;
    kshim_get_stats(&st);
    CHECK(st.irps == 1);
    CHECK(irp->StackCount == 1 && irp->CurrentLocation == 2);
    CHECK(IoGetCurrentIrpStackLocation(irp) == &irp->KshimStack[1]);

    /* One level: the provider takes it, pends it, completes it at DISPATCH. */
    IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
    CHECK(irp->IoStatus.Status == STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(irp, on_complete, &top, TRUE, TRUE, TRUE);
    kshim_irp_take(irp);
    CHECK(irp->CurrentLocation == 1 && irp->KshimOwner == 1);
    IoMarkIrpPending(irp);
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = 42;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    KeLowerIrql(old);
    CHECK(top.calls == 1 && top.pending_returned && top.device == NULL);
    CHECK(top.status == STATUS_SUCCESS && top.irql == DISPATCH_LEVEL);
    CHECK(irp->KshimOwner == 0 && irp->IoStatus.Information == 42);

    /* Reuse resets the IRP. */
    irp->Cancel = TRUE;
    IoReuseIrp(irp, STATUS_PENDING);
    CHECK(irp->IoStatus.Status == STATUS_PENDING && irp->IoStatus.Information == 0);
    CHECK(!irp->Cancel && irp->CancelRoutine == NULL && !irp->PendingReturned);
    CHECK(irp->MdlAddress == NULL && irp->CurrentLocation == 2);
    CHECK(irp->KshimStack[0].CompletionRoutine == NULL && irp->KshimStack[0].Control == 0);

    /* Invoke flags: an error completion calls an on-error routine only. */
    top.calls = 0;
    IoSetCompletionRoutine(irp, on_complete, &top, FALSE, TRUE, FALSE);
    kshim_irp_take(irp);
    irp->IoStatus.Status = STATUS_CONNECTION_RESET;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    CHECK(top.calls == 1 && top.status == STATUS_CONNECTION_RESET && !top.pending_returned);
    IoFreeIrp(irp);

    /* Two levels: the middle location's routine runs first with the top
     * location's device; PendingReturned propagates when it has none. */
    irp = IoAllocateIrp(2, FALSE);
    CHECK(irp != NULL);
    if (irp == NULL)
        return;
    top.calls = 0;
    IoSetCompletionRoutine(irp, on_complete, &top, TRUE, TRUE, TRUE);
    kshim_irp_take(irp); /* the middle driver has location 1 (index 1) */
    IoGetCurrentIrpStackLocation(irp)->DeviceObject = &dev_mid;
    IoSetCompletionRoutine(irp, on_complete, &mid, TRUE, TRUE, TRUE);
    IoSetNextIrpStackLocation(irp); /* passed down to the lowest (index 0) */
    CHECK(irp->CurrentLocation == 1);
    IoMarkIrpPending(irp);
    irp->KshimStack[1].Control |= SL_PENDING_RETURNED; /* the middle returned pending */
    irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    CHECK(mid.calls == 1 && mid.pending_returned && mid.device == &dev_mid);
    CHECK(top.calls == 1 && top.pending_returned && top.device == NULL);

    /* The same without a middle routine: the pending mark is propagated. */
    IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
    top.calls = mid.calls = 0;
    top.pending_returned = FALSE;
    IoSetCompletionRoutine(irp, on_complete, &top, TRUE, TRUE, TRUE);
    kshim_irp_take(irp);
    IoSetNextIrpStackLocation(irp);
    IoMarkIrpPending(irp);
    irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    CHECK(mid.calls == 0 && top.calls == 1 && top.pending_returned);
    CHECK((irp->KshimStack[1].Control & SL_PENDING_RETURNED) != 0);
    IoFreeIrp(irp);
    kshim_get_stats(&st);
    CHECK(st.irps == 0);
}

static struct completion_log cancel_completion = {.result = STATUS_MORE_PROCESSING_REQUIRED};
static int cancel_calls;
static KIRQL cancel_irql_seen;

/* The provider's cancel routine: releases the cancel lock, completes. */
static void cancel_routine(PDEVICE_OBJECT device, PIRP irp)
{
    (void)device;
    cancel_calls++;
    cancel_irql_seen = KeGetCurrentIrql();
    IoReleaseCancelSpinLock(irp->CancelIrql);
    irp->IoStatus.Status = STATUS_CANCELLED;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
}

static void test_irp_cancel(void)
{
    PIRP irp = IoAllocateIrp(1, FALSE);
    CHECK(irp != NULL);
    if (irp == NULL)
        return;
    /* No cancel routine: only the flag. */
    IoSetCompletionRoutine(irp, on_complete, &cancel_completion, TRUE, TRUE, TRUE);
    kshim_irp_take(irp);
    CHECK(IoCancelIrp(irp) == FALSE);
    CHECK(irp->Cancel);
    CHECK(KeGetCurrentIrql() == PASSIVE_LEVEL);
    /* With a cancel routine: called at DISPATCH with the lock held. */
    CHECK(IoSetCancelRoutine(irp, cancel_routine) == NULL);
    CHECK(IoCancelIrp(irp) == TRUE);
    CHECK(cancel_calls == 1 && cancel_irql_seen == DISPATCH_LEVEL);
    CHECK(irp->CancelRoutine == NULL);
    CHECK(cancel_completion.calls == 1 && cancel_completion.status == STATUS_CANCELLED);
    CHECK(KeGetCurrentIrql() == PASSIVE_LEVEL && irp->KshimOwner == 0);
    /* After completion, a second cancel finds no routine. */
    CHECK(IoCancelIrp(irp) == FALSE);
    IoFreeIrp(irp);
}

/* ---- MDLs ---- */

static void test_mdl(void)
{
    static char buf[3 * PAGE_SIZE];
    struct kshim_stats st;
    PIRP irp;
    PMDL m1, m2;
    char *va = buf + 100;
    ULONG_PTR mdl_storage[(sizeof(MDL) + 2 * sizeof(ULONG_PTR)) / sizeof(ULONG_PTR) + 1];
    PMDL local = (PMDL)mdl_storage;

    m1 = IoAllocateMdl(va, 5000, FALSE, FALSE, NULL);
    CHECK(m1 != NULL);
    if (m1 == NULL)
        return;
    CHECK(MmGetMdlVirtualAddress(m1) == va && MmGetMdlByteCount(m1) == 5000);
    CHECK(((ULONG_PTR)m1->StartVa & (PAGE_SIZE - 1)) == 0);
    CHECK(MmGetMdlByteOffset(m1) == ((ULONG_PTR)va & (PAGE_SIZE - 1)));
    MmProbeAndLockPages(m1, KernelMode, IoWriteAccess);
    kshim_get_stats(&st);
    CHECK(st.mdls == 1 && st.locked_mdls == 1);
    kshim_mdl_check_locked(m1, "test");
    CHECK(MmGetSystemAddressForMdlSafe(m1, NormalPagePriority) == va);
    MmUnlockPages(m1);
    kshim_get_stats(&st);
    CHECK(st.locked_mdls == 0);
    IoFreeMdl(m1);

    /* Chaining into an IRP. */
    irp = IoAllocateIrp(1, FALSE);
    CHECK(irp != NULL);
    if (irp == NULL)
        return;
    m1 = IoAllocateMdl(buf, 10, FALSE, FALSE, irp);
    m2 = IoAllocateMdl(buf + 10, 10, TRUE, FALSE, irp);
    CHECK(m1 != NULL && m2 != NULL && irp->MdlAddress == m1 && m1->Next == m2);
    IoFreeMdl(m2);
    IoFreeMdl(m1);
    IoFreeIrp(irp);

    /* Caller-built MDL for nonpaged memory. */
    MmInitializeMdl(local, buf, 64);
    MmBuildMdlForNonPagedPool(local);
    CHECK(MmGetSystemAddressForMdlSafe(local, NormalPagePriority) == buf);
    kshim_mdl_check_locked(local, "test");
    kshim_get_stats(&st);
    CHECK(st.mdls == 0 && st.locked_mdls == 0);
}

/* ---- the system played: version, exports, pool kinds, mappings ---- */

static PVOID routine(const WCHAR *name)
{
    UNICODE_STRING u;
    RtlInitUnicodeString(&u, name);
    return MmGetSystemRoutineAddress(&u);
}

static void test_system(void)
{
    const ULONG tag = TAG('t', 's', 't', 'S');
    RTL_OSVERSIONINFOW v;
    static char buf[64];
    PMDL m;
    PVOID p, q, r;

    memset(&v, 0, sizeof(v));
    v.dwOSVersionInfoSize = sizeof(v);
    CHECK(RtlGetVersion(&v) == STATUS_SUCCESS);
    CHECK(v.dwMajorVersion == 10 && v.dwMinorVersion == 0 && v.dwBuildNumber == 22621);
    v.dwOSVersionInfoSize = 12;
    CHECK(RtlGetVersion(&v) == STATUS_INVALID_PARAMETER);
    CHECK(routine(L"ExAllocatePool2") == (PVOID)(ULONG_PTR)ExAllocatePool2);
    CHECK(routine(L"RtlGetVersion") == (PVOID)(ULONG_PTR)RtlGetVersion);
    CHECK(routine(L"exallocatepool2") == NULL && routine(L"NoSuchRoutine") == NULL);
    kshim_set_pool2_exported(FALSE);
    CHECK(routine(L"ExAllocatePool2") == NULL);
    kshim_set_pool2_exported(TRUE);
    kshim_set_windows_version(10, 0, 18363); /* 1909: before ExAllocatePool2 */
    CHECK(routine(L"ExAllocatePool2") == NULL);
    kshim_set_windows_version(6, 1, 7601);
    v.dwOSVersionInfoSize = sizeof(v);
    CHECK(RtlGetVersion(&v) == STATUS_SUCCESS);
    CHECK(v.dwMajorVersion == 6 && v.dwMinorVersion == 1 && v.dwBuildNumber == 7601);
    kshim_set_windows_version(10, 0, 22621);

    /* Each block records its API and pool type; each tag counts them. */
    kshim_pool_kinds_reset();
    p = ExAllocatePoolWithTag(NonPagedPoolNx, 8, tag);
    q = ExAllocatePoolWithTag(NonPagedPool, 8, tag);
    r = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, tag);
    CHECK(kshim_pool_kind_of(p) == KSHIM_POOL_WITH_TAG_NX);
    CHECK(kshim_pool_kind_of(q) == KSHIM_POOL_WITH_TAG_EXECUTE);
    CHECK(kshim_pool_kind_of(r) == KSHIM_POOL_POOL2_NON_PAGED);
    CHECK(kshim_pool_kind_of(buf) == -1);
    CHECK(kshim_pool_kind_count(tag, KSHIM_POOL_POOL2_NON_PAGED) == 1);
    CHECK(kshim_pool_kind_count(0, KSHIM_POOL_WITH_TAG_NX) == 1);
    ExFreePoolWithTag(p, tag);
    ExFreePoolWithTag(q, tag);
    ExFreePoolWithTag(r, tag);
    CHECK(kshim_pool_kind_count(tag, KSHIM_POOL_WITH_TAG_EXECUTE) == 1); /* made, not live */
    kshim_pool_kinds_reset();
    CHECK(kshim_pool_kind_count(tag, KSHIM_POOL_WITH_TAG_EXECUTE) == 0);

    /* Drivers' mapping requests are counted by MdlMappingNoExecute; the
     * provider's (kshim_mdl_system_address) are not. */
    kshim_mdl_mappings_reset();
    m = IoAllocateMdl(buf, sizeof(buf), FALSE, FALSE, NULL);
    MmProbeAndLockPages(m, KernelMode, IoReadAccess);
    CHECK(kshim_mdl_system_address(m) == buf);
    CHECK(MmGetSystemAddressForMdlSafe(m, NormalPagePriority | MdlMappingNoExecute) == buf);
    CHECK(MmGetSystemAddressForMdlSafe(m, NormalPagePriority) == buf);
    CHECK(kshim_mdl_mappings(TRUE) == 1 && kshim_mdl_mappings(FALSE) == 1);
    MmUnlockPages(m);
    IoFreeMdl(m);
}

/* ---- pool ---- */

static void test_pool(void)
{
    const ULONG tag2 = TAG('t', 's', 't', 'Q');
    struct kshim_stats st;
    UCHAR *p, *q, *r;

    CHECK(kshim_pool_bytes_by_tag(TAG_TEST) == 0);
    p = ExAllocatePoolWithTag(NonPagedPoolNx, 100, TAG_TEST);
    q = ExAllocatePool2(POOL_FLAG_NON_PAGED, 50, TAG_TEST);
    r = ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_UNINITIALIZED, 30, tag2);
    CHECK(p != NULL && q != NULL && r != NULL);
    if (p == NULL || q == NULL || r == NULL)
        return;
    CHECK(((ULONG_PTR)p & 15) == 0);
    CHECK(p[0] == 0xcd && p[99] == 0xcd);
    CHECK(q[0] == 0 && q[49] == 0);
    CHECK(kshim_pool_bytes_by_tag(TAG_TEST) == 150);
    CHECK(kshim_pool_bytes_by_tag(tag2) == 0); /* paged */
    kshim_get_stats(&st);
    CHECK(st.pool_allocations == 3 && st.pool_bytes == 180 && st.pool_bytes_nonpaged == 150);
    fprintf(stderr, "(expected leak lines follow)\n");
    CHECK(kshim_check_leaks("in test") == 2);
    ExFreePoolWithTag(p, TAG_TEST);
    ExFreePool(q);
    ExFreePoolWithTag(r, tag2);
    CHECK(kshim_pool_bytes_by_tag(TAG_TEST) == 0);
    p = ExAllocatePool(NonPagedPool, 8);
    CHECK(p != NULL);
    ExFreePool(p);

    /* Named counters take part in the leak report. */
    kshim_count("test.sockets", 2);
    CHECK(kshim_counter("test.sockets") == 2);
    CHECK(kshim_check_leaks("in test") == 1);
    kshim_count("test.sockets", -2);
    CHECK(kshim_counter("test.sockets") == 0 && kshim_counter("never.used") == 0);
    CHECK(kshim_check_leaks("in test") == 0);
}

/* ---- registry ---- */

#define KEY_PATH "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\kt\\Parameters"

static void open_key(const WCHAR *path, HANDLE *h, NTSTATUS expect)
{
    UNICODE_STRING u;
    OBJECT_ATTRIBUTES oa;
    RtlInitUnicodeString(&u, path);
    InitializeObjectAttributes(&oa, &u, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL, NULL);
    CHECK(ZwOpenKey(h, KEY_READ, &oa) == expect);
}

static void test_registry(void)
{
    const char text[] = "a\xf0\x9f\x98\x80"; /* "a" and U+1F600 */
    const ULONG dword = 0x12345678;
    const ULONG fixed = (ULONG)FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION, Data);
    union {
        KEY_VALUE_PARTIAL_INFORMATION info;
        UCHAR bytes[64];
    } b;
    UNICODE_STRING name;
    ULONG needed;
    HANDLE h = NULL, h2;
    WCHAR w[4];

    CHECK(kshim_registry_set(KEY_PATH, "Text", REG_SZ, text, (ULONG)strlen(text)) == 0);
    CHECK(kshim_registry_set(KEY_PATH, "Number", REG_DWORD, &dword, 4) == 0);
    CHECK(kshim_registry_set(KEY_PATH, "Bad", REG_SZ, "\xff", 1) != 0);
    CHECK(kshim_registry_create_key("\\Registry\\Machine\\Empty") == 0);

    open_key(L"\\REGISTRY\\machine\\System\\CurrentControlSet\\Services\\kt\\Parameters", &h,
             STATUS_SUCCESS);
    open_key(L"\\Registry\\Machine\\Missing", &h2, STATUS_OBJECT_NAME_NOT_FOUND);
    RtlInitUnicodeString(&name, L"text");

    memset(&b, 0x55, sizeof(b));
    CHECK(ZwQueryValueKey(h, &name, KeyValuePartialInformation, &b, fixed - 1, &needed) ==
          STATUS_BUFFER_TOO_SMALL);
    CHECK(needed == fixed + 8 && b.bytes[0] == 0x55);
    CHECK(ZwQueryValueKey(h, &name, KeyValuePartialInformation, &b, fixed, &needed) ==
          STATUS_BUFFER_OVERFLOW);
    CHECK(needed == fixed + 8 && b.info.Type == REG_SZ && b.info.DataLength == 8);
    CHECK(ZwQueryValueKey(h, &name, KeyValuePartialInformation, &b, sizeof(b), &needed) ==
          STATUS_SUCCESS);
    CHECK(needed == fixed + 8);
    memcpy(w, b.bytes + fixed, sizeof(w));
    CHECK(w[0] == 'a' && w[1] == 0xd83d && w[2] == 0xde00 && w[3] == 0);
    CHECK(ZwQueryValueKey(h, &name, KeyValueBasicInformation, &b, sizeof(b), &needed) ==
          STATUS_INVALID_PARAMETER);

    RtlInitUnicodeString(&name, L"Number");
    CHECK(ZwQueryValueKey(h, &name, KeyValuePartialInformation, &b, sizeof(b), &needed) ==
          STATUS_SUCCESS);
    CHECK(b.info.Type == REG_DWORD && b.info.DataLength == 4 && needed == fixed + 4);
    CHECK(memcmp(b.bytes + fixed, &dword, 4) == 0);
    RtlInitUnicodeString(&name, L"Missing");
    CHECK(ZwQueryValueKey(h, &name, KeyValuePartialInformation, &b, sizeof(b), &needed) ==
          STATUS_OBJECT_NAME_NOT_FOUND);
    CHECK(ZwClose(h) == STATUS_SUCCESS);

    open_key(L"\\Registry\\Machine\\Empty", &h, STATUS_SUCCESS);
    CHECK(ZwClose(h) == STATUS_SUCCESS);
    kshim_registry_clear();
    open_key(L"\\Registry\\Machine\\Empty", &h, STATUS_OBJECT_NAME_NOT_FOUND);
}

/* ---- DbgPrint ---- */

static char logged[16][128];
static int nlogged;

static void hook(const char *line, void *context)
{
    (void)context;
    if (nlogged < 16)
        snprintf(logged[nlogged++], sizeof(logged[0]), "%s", line);
}

static void expect_line(int i, const char *want)
{
    checks++;
    if (i >= nlogged || strcmp(logged[i], want) != 0) {
        failures++;
        fprintf(stderr, "FAIL DbgPrint line %d: got '%s', want '%s'\n", i,
                i < nlogged ? logged[i] : "(none)", want);
    }
}

static void test_dbgprint(void)
{
    UNICODE_STRING u;
    ANSI_STRING a;
    LONG neg = -5;
    ULONG big = 0xffffffffu;
    LONGLONG ll = -1234567890123LL;
    SIZE_T sz = (SIZE_T)1 << 40;

    RtlInitUnicodeString(&u, L"uni\x00e9");
    RtlInitAnsiString(&a, "ansi");
    kshim_set_log_hook(hook, NULL);
    DbgPrint("%ld %lu %lx\n", neg, big, big);
    DbgPrint("%lld %I64x %zu %Iu\n", ll, (ULONGLONG)0xabcdef0123ULL, sz, sz);
    DbgPrint("%ws|%ls|%S|%wZ|%Z\n", L"wide", L"l", L"S", &u, &a);
    DbgPrint("%p\n", (void *)(ULONG_PTR)0x1234abcdULL);
    DbgPrint("[%5d|%-5d|%05d|%*d|%.3s|%hx|%c|%%]\n", 1, 2, 3, 4, 5, "abcdef", 0x12345, 'z');
    DbgPrint("part ");
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "one %s", "and");
    DbgPrint(" two\nthree\n");
    DbgPrint("%s %ws %wZ\n", (char *)NULL, (WCHAR *)NULL, (UNICODE_STRING *)NULL);
    kshim_set_log_hook(NULL, NULL);
    expect_line(0, "-5 4294967295 ffffffff");
    expect_line(1, "-1234567890123 abcdef0123 1099511627776 1099511627776");
    expect_line(2, "wide|l|S|uni\xc3\xa9|ansi");
    expect_line(3, "000000001234ABCD");
    expect_line(4, "[    1|2    |00003|   5|abc|2345|z|%]");
    expect_line(5, "part one and two");
    expect_line(6, "three");
    expect_line(7, "(null) (null) (null)");
}

/* ---- time ---- */

static void test_time(void)
{
    LARGE_INTEGER f, a, b, sys, ticks;
    KAFFINITY aff;
    a = KeQueryPerformanceCounter(&f);
    KeStallExecutionProcessor(50);
    b = KeQueryPerformanceCounter(NULL);
    CHECK(f.QuadPart == 10000000 && b.QuadPart - a.QuadPart >= 500);
    KeQuerySystemTime(&sys);
    /* After 2020-01-01 (132223104000000000) in 100 ns since 1601. */
    CHECK(sys.QuadPart > 132223104000000000LL);
    KeQueryTickCount(&ticks);
    CHECK(KeQueryTimeIncrement() > 0 && ticks.QuadPart >= 0);
    CHECK(KeQueryInterruptTime() > 0);
    CHECK(KeQueryActiveProcessorCount(&aff) >= 1 && aff != 0);
    CHECK(KeGetCurrentProcessorNumber() < 4096);
}

/* ---- fault injection (run in a re-executed child with KSHIM_FAULT) ---- */

static int fault_child(void)
{
    const ULONG tag = TAG('t', 's', 't', 'F');
    int bad = 0;
    ULONG occurrence = 0;
    PVOID p[5];

    kshim_init();
    if (kshim_seed() != 1234)
        bad |= 1;
    if (strcmp(kshim_fault_site(&occurrence), "pool.tstF") != 0 || occurrence != 3)
        bad |= 2;
    if (kshim_random() == kshim_random())
        bad |= 4;
    for (int i = 0; i < 5; i++) {
        p[i] = ExAllocatePoolWithTag(NonPagedPoolNx, 16, tag);
        if ((p[i] == NULL) != (i == 2))
            bad |= 8;
        if (i == 1 && kshim_fault_fired())
            bad |= 16;
    }
    if (!kshim_fault_fired())
        bad |= 32;
    for (int i = 0; i < 5; i++)
        if (p[i] != NULL)
            ExFreePoolWithTag(p[i], tag);
    PIRP irp = IoAllocateIrp(1, FALSE); /* irp.alloc is not the configured site */
    if (irp == NULL)
        bad |= 64;
    else
        IoFreeIrp(irp);
    return bad; /* exit(): the atexit report is written */
}

static void test_fault_injection(void)
{
    const char *self = "/proc/self/exe";
    char report[] = "/tmp/kshim_test_report_XXXXXX";
    char line[256], all[1024] = "";
    int fd = mkstemp(report), status = 0;
    FILE *f;
    pid_t pid;

    CHECK(fd >= 0);
    if (fd < 0)
        return;
    close(fd);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        char *argv[] = {(char *)self, (char *)"fault-child", NULL};
        setenv("KSHIM_FAULT", "pool.tstF:3", 1);
        setenv("KSHIM_FAULT_REPORT", report, 1);
        setenv("KSHIM_SEED", "1234", 1);
        alarm(20);
        execv(self, argv);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "fault child status 0x%x\n", status);
    f = fopen(report, "r");
    CHECK(f != NULL);
    if (f != NULL) {
        while (fgets(line, sizeof(line), f) != NULL)
            if (strlen(all) + strlen(line) < sizeof(all))
                strcat(all, line);
        fclose(f);
    }
    unlink(report);
    /* Sorted by site; every site reached, counted. */
    CHECK(strcmp(all, "irp.alloc 1\npool 5\npool.tstF 5\n") == 0);
    if (strcmp(all, "irp.alloc 1\npool 5\npool.tstF 5\n") != 0)
        fprintf(stderr, "report:\n%s", all);
}

/* ---- violations ---- */

static void v_wait_at_dispatch(void)
{
    KEVENT e;
    KIRQL old;
    KeInitializeEvent(&e, NotificationEvent, FALSE);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, NULL);
}

static void v_wait_uninitialised(void)
{
    KEVENT e;
    LARGE_INTEGER zero = {.QuadPart = 0};
    memset(&e, 0, sizeof(e));
    KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &zero);
}

static void v_wait_too_many(void)
{
    KEVENT e[4];
    PVOID objs[4];
    LARGE_INTEGER zero = {.QuadPart = 0};
    for (int i = 0; i < 4; i++) {
        KeInitializeEvent(&e[i], NotificationEvent, TRUE);
        objs[i] = &e[i];
    }
    KeWaitForMultipleObjects(4, objs, WaitAny, Executive, KernelMode, FALSE, &zero, NULL);
}

static void v_delay_at_dispatch(void)
{
    LARGE_INTEGER t = rel_ms(1);
    kshim_set_irql(DISPATCH_LEVEL);
    KeDelayExecutionThread(KernelMode, FALSE, &t);
}

static void v_free_wrong_tag(void)
{
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 8, TAG_TEST);
    ExFreePoolWithTag(p, TAG('w', 'r', 'n', 'g'));
}

static void v_double_free(void)
{
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 8, TAG_TEST);
    ExFreePoolWithTag(p, TAG_TEST);
    ExFreePoolWithTag(p, TAG_TEST);
}

static void v_free_null(void)
{
    ExFreePool(NULL);
}

static void v_tag_zero(void)
{
    ExAllocatePoolWithTag(NonPagedPoolNx, 8, 0);
}

static void v_paged_at_dispatch(void)
{
    kshim_set_irql(DISPATCH_LEVEL);
    ExAllocatePoolWithTag(PagedPool, 8, TAG_TEST);
}

static void v_nx_pool_on_windows7(void)
{
    kshim_set_windows_version(6, 1, 7601);
    ExAllocatePoolWithTag(NonPagedPoolNx, 8, TAG_TEST);
}

static void v_pool2_not_exported(void)
{
    kshim_set_pool2_exported(FALSE);
    ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, TAG_TEST);
}

static void v_nx_mapping_on_windows7(void)
{
    static char buf[64];
    PMDL m = IoAllocateMdl(buf, sizeof(buf), FALSE, FALSE, NULL);
    MmProbeAndLockPages(m, KernelMode, IoReadAccess);
    kshim_set_windows_version(6, 1, 7601);
    MmGetSystemAddressForMdlSafe(m, NormalPagePriority | MdlMappingNoExecute);
}

static PIRP taken_irp(void)
{
    PIRP irp = IoAllocateIrp(1, FALSE);
    static struct completion_log log = {.result = STATUS_MORE_PROCESSING_REQUIRED};
    IoSetCompletionRoutine(irp, on_complete, &log, TRUE, TRUE, TRUE);
    kshim_irp_take(irp);
    return irp;
}

static void v_free_irp_in_flight(void)
{
    IoFreeIrp(taken_irp());
}

static void v_reuse_irp_in_flight(void)
{
    IoReuseIrp(taken_irp(), STATUS_UNSUCCESSFUL);
}

static void v_take_twice(void)
{
    PIRP irp = taken_irp();
    kshim_irp_take(irp);
}

static void v_complete_with_cancel_routine(void)
{
    PIRP irp = taken_irp();
    IoSetCancelRoutine(irp, cancel_routine);
    irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
}

static void v_complete_to_io_manager(void)
{
    static struct completion_log log = {.result = STATUS_SUCCESS};
    PIRP irp = IoAllocateIrp(1, FALSE);
    IoSetCompletionRoutine(irp, on_complete, &log, TRUE, TRUE, TRUE);
    kshim_irp_take(irp);
    irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
}

static void v_complete_twice(void)
{
    PIRP irp = taken_irp();
    irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    IoCompleteRequest(irp, IO_NO_INCREMENT);
}

static void v_irp_stack_zero(void)
{
    IoAllocateIrp(0, FALSE);
}

static void v_free_mdl_locked(void)
{
    static char buf[64];
    PMDL m = IoAllocateMdl(buf, sizeof(buf), FALSE, FALSE, NULL);
    MmProbeAndLockPages(m, KernelMode, IoReadAccess);
    IoFreeMdl(m);
}

static void v_map_unlocked_mdl(void)
{
    static char buf[64];
    PMDL m = IoAllocateMdl(buf, sizeof(buf), FALSE, FALSE, NULL);
    MmGetSystemAddressForMdlSafe(m, NormalPagePriority);
}

static void v_unlock_unlocked_mdl(void)
{
    static char buf[64];
    MmUnlockPages(IoAllocateMdl(buf, sizeof(buf), FALSE, FALSE, NULL));
}

static void v_spin_recursive(void)
{
    KSPIN_LOCK l;
    KIRQL a, b;
    KeInitializeSpinLock(&l);
    KeAcquireSpinLock(&l, &a);
    KeAcquireSpinLock(&l, &b);
}

static void v_spin_release_unowned(void)
{
    KSPIN_LOCK l;
    KeInitializeSpinLock(&l);
    KeRaiseIrqlToDpcLevel();
    KeReleaseSpinLockFromDpcLevel(&l);
}

static void v_lower_upward(void)
{
    KeLowerIrql(DISPATCH_LEVEL);
}

static void v_raise_downward(void)
{
    KIRQL old;
    kshim_set_irql(DISPATCH_LEVEL);
    KeRaiseIrql(PASSIVE_LEVEL, &old);
}

static void v_release_mutex_unowned(void)
{
    KMUTEX m;
    KeInitializeMutex(&m, 0);
    KeReleaseMutex(&m, FALSE);
}

static void v_semaphore_limit(void)
{
    KSEMAPHORE s;
    KeInitializeSemaphore(&s, 1, 1);
    KeReleaseSemaphore(&s, IO_NO_INCREMENT, 1, FALSE);
}

static void thread_at_dispatch(PVOID context)
{
    (void)context;
    kshim_set_irql(DISPATCH_LEVEL);
}

static void v_thread_ends_at_dispatch(void)
{
    HANDLE h;
    PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, thread_at_dispatch, NULL);
    kshim_wait_threads(10000);
}

static void v_close_bad_handle(void)
{
    ZwClose((HANDLE)(ULONG_PTR)0x1234);
}

static void v_bugcheck(void)
{
    ASSERT(1 == 2);
}

/* The end of a failed KS_ASSERT of the library (src/ks_kernel.h). */
static void v_assert_failed(void)
{
    kshim_assert_failed("ks_example.c", 42, "s->refs > 0");
}

/* ---- lock order (lockorder.c) ---- */

/* Runs fn in a child, which must end normally (no violation). */
static void expect_clean(const char *name, void (*fn)(void))
{
    char buf[8192];
    int status = child_run(fn, buf, sizeof(buf));
    checks++;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        failures++;
        fprintf(stderr, "FAIL lock order %s: status 0x%x, output:\n%s\n", name, status, buf);
    }
}

static KSPIN_LOCK lo_a, lo_b, lo_c;

static void lo_named(void)
{
    KeInitializeSpinLock(&lo_a);
    KeInitializeSpinLock(&lo_b);
    KeInitializeSpinLock(&lo_c);
    kshim_lock_class(&lo_a, "test.a");
    kshim_lock_class(&lo_b, "test.b");
    kshim_lock_class(&lo_c, "test.c");
}

/* Takes first, then second, and releases both. */
static void lo_nest(PKSPIN_LOCK first, PKSPIN_LOCK second)
{
    KIRQL x, y;
    KeAcquireSpinLock(first, &x);
    KeAcquireSpinLock(second, &y);
    KeReleaseSpinLock(second, y);
    KeReleaseSpinLock(first, x);
}

/* The same order every time, locks taken alone, a try-acquisition against
 * the order (a try never waits), and out-of-order releases pass. */
static void lo_consistent(void)
{
    KIRQL x, y;
    lo_named();
    for (int i = 0; i < 3; i++) {
        lo_nest(&lo_a, &lo_b);
        lo_nest(&lo_b, &lo_c);
        lo_nest(&lo_a, &lo_c);
    }
    KeAcquireSpinLock(&lo_c, &x);
    KeReleaseSpinLock(&lo_c, x);
    KeAcquireSpinLock(&lo_b, &x);
    kshim_lock_acquired(&lo_a); /* as ks__lock_try_acquire reports a claimed lock */
    kshim_lock_released(&lo_a);
    KeAcquireSpinLock(&lo_c, &y);
    KeReleaseSpinLock(&lo_b, y); /* released out of order: IRQL stays raised */
    KeReleaseSpinLock(&lo_c, x);
    CHECK(KeGetCurrentIrql() == PASSIVE_LEVEL);
    /* A zero timeout does not wait: allowed while holding a spin lock. */
    KEVENT e;
    LARGE_INTEGER zero = {.QuadPart = 0};
    KeInitializeEvent(&e, NotificationEvent, FALSE);
    KeAcquireSpinLock(&lo_a, &x);
    KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &zero);
    KeReleaseSpinLock(&lo_a, x);
}

static void lo_inversion(void)
{
    lo_named();
    lo_nest(&lo_a, &lo_b);
    lo_nest(&lo_b, &lo_a);
}

/* a -> b, b -> c, then c -> a closes a cycle of three. */
static void lo_inversion3(void)
{
    lo_named();
    lo_nest(&lo_a, &lo_b);
    lo_nest(&lo_b, &lo_c);
    lo_nest(&lo_c, &lo_a);
}

static void lo_thread_ab(PVOID context)
{
    (void)context;
    lo_nest(&lo_a, &lo_b);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* The orders come from two threads, one after the other: no deadlock
 * happens, the inversion is found all the same. */
static void lo_inversion_threads(void)
{
    HANDLE h;
    lo_named();
    PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, lo_thread_ab, NULL);
    wait_thread_handle(h);
    lo_nest(&lo_b, &lo_a);
}

/* Unnamed spin locks: one class per KeInitializeSpinLock site. */
static void lo_inversion_unnamed(void)
{
    static KSPIN_LOCK p, q;
    KeInitializeSpinLock(&p);
    KeInitializeSpinLock(&q);
    lo_nest(&p, &q);
    lo_nest(&q, &p);
}

/* Two locks of one class (two sockets' s->lock, say). */
static void lo_same_class(void)
{
    lo_named();
    kshim_lock_class(&lo_b, "test.a");
    lo_nest(&lo_a, &lo_b);
}

/* ... allowed when the outer one is marked as an ordered nesting. */
static void lo_same_class_nested(void)
{
    KIRQL x, y;
    lo_named();
    kshim_lock_class(&lo_b, "test.a");
    KeAcquireSpinLock(&lo_a, &x);
    kshim_lock_nest(&lo_a, TRUE);
    KeAcquireSpinLock(&lo_b, &y);
    KeReleaseSpinLock(&lo_b, y);
    kshim_lock_nest(&lo_a, FALSE);
    KeReleaseSpinLock(&lo_a, x);
}

/* Sleeping locks (ks_lock's hooks) are in the same graph as spin locks. */
static void lo_sleeping_take(const LONG *lock)
{
    kshim_lock_wait(lock);
    kshim_lock_acquired(lock);
}

static void lo_sleeping_inversion(void)
{
    static LONG s1, s2;
    KIRQL x;
    lo_named();
    kshim_lock_class(&s1, "test.s1");
    kshim_lock_class(&s2, "test.s2");
    lo_sleeping_take(&s1);
    KeAcquireSpinLock(&lo_a, &x); /* s1 -> a, s2 -> a: no cycle */
    KeReleaseSpinLock(&lo_a, x);
    lo_sleeping_take(&s2);
    KeAcquireSpinLock(&lo_a, &x);
    KeReleaseSpinLock(&lo_a, x);
    kshim_lock_released(&s2);
    kshim_lock_released(&s1);
    lo_sleeping_take(&s2);
    lo_sleeping_take(&s1);
}

static void lo_sleeping_under_spin(void)
{
    static LONG sleeping;
    KIRQL x;
    lo_named();
    kshim_lock_class(&sleeping, "test.sleeping");
    KeAcquireSpinLock(&lo_a, &x);
    kshim_lock_wait(&sleeping);
}

static void lo_wait_under_spin(void)
{
    KEVENT e;
    KIRQL x;
    LARGE_INTEGER t = rel_ms(1);
    lo_named();
    KeInitializeEvent(&e, NotificationEvent, FALSE);
    KeAcquireSpinLock(&lo_a, &x);
    KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &t);
}

static void lo_free_held(void)
{
    KIRQL x;
    PKSPIN_LOCK l = ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, TAG_TEST);
    KeInitializeSpinLock(l);
    KeAcquireSpinLock(l, &x);
    ExFreePoolWithTag(l, TAG_TEST);
}

static void test_lock_order(void)
{
    CHECK(kshim_lockorder_enabled());
    expect_clean("consistent order", lo_consistent);
    expect_clean("ordered nesting of one class", lo_same_class_nested);
    expect_violation("inversion", lo_inversion, "lock order inversion: acquiring \"test.a\"");
    expect_violation("inversion, sites", lo_inversion, "shim_test.c:");
    expect_violation("inversion, opposite order", lo_inversion,
                     "\"test.b\" acquired while holding \"test.a\"");
    expect_violation("inversion of three", lo_inversion3,
                     "\"test.b\" acquired while holding \"test.a\"");
    expect_violation("inversion of three, the cycle", lo_inversion3,
                     "\"test.c\" acquired while holding \"test.b\"");
    expect_violation("inversion across threads", lo_inversion_threads, "lock order inversion");
    expect_violation("inversion, unnamed", lo_inversion_unnamed, "spin lock initialised at");
    expect_violation("same class nested", lo_same_class, "two locks of the class \"test.a\"");
    expect_violation("sleeping locks inversion", lo_sleeping_inversion, "acquiring \"test.s1\"");
    expect_violation("sleeping lock under a spin lock", lo_sleeping_under_spin,
                     "waiting for the sleeping lock \"test.sleeping\"");
    expect_violation("wait under a spin lock", lo_wait_under_spin,
                     "KeWaitForSingleObject while holding the spin lock \"test.a\"");
    expect_violation("pool freed with its lock held", lo_free_held, "freed while the calling");
}

static void test_violations(void)
{
    expect_violation("wait at DISPATCH", v_wait_at_dispatch, "IRQL 2 > APC_LEVEL");
    expect_violation("wait uninitialised", v_wait_uninitialised, "not an initialised");
    expect_violation("wait 4 without blocks", v_wait_too_many, "THREAD_WAIT_OBJECTS");
    expect_violation("delay at DISPATCH", v_delay_at_dispatch, "KeDelayExecutionThread");
    expect_violation("free wrong tag", v_free_wrong_tag, "allocated with the tag 'tstP'");
    expect_violation("double free", v_double_free, "not a live pool block");
    expect_violation("ExFreePool(NULL)", v_free_null, "ExFreePool(NULL)");
    expect_violation("tag 0", v_tag_zero, "tag 0");
    expect_violation("paged at DISPATCH", v_paged_at_dispatch, "paged pool at IRQL 2");
    expect_violation("NX pool on Windows 7", v_nx_pool_on_windows7, "no NX pool");
    expect_violation("ExAllocatePool2 not exported", v_pool2_not_exported, "does not export it");
    expect_violation("NX mapping on Windows 7", v_nx_mapping_on_windows7,
                     "MdlMappingNoExecute on a system before Windows 8");
    expect_violation("IoFreeIrp in flight", v_free_irp_in_flight, "in flight");
    expect_violation("IoReuseIrp in flight", v_reuse_irp_in_flight, "in flight");
    expect_violation("take twice", v_take_twice, "IRP reused while in flight");
    expect_violation("complete with cancel routine", v_complete_with_cancel_routine,
                     "cancel routine still set");
    expect_violation("complete to I/O manager", v_complete_to_io_manager,
                     "completed to the I/O manager");
    expect_violation("complete twice", v_complete_twice, "not in flight");
    expect_violation("IoAllocateIrp(0)", v_irp_stack_zero, "stack size");
    expect_violation("IoFreeMdl locked", v_free_mdl_locked, "locked");
    expect_violation("map unlocked MDL", v_map_unlocked_mdl,
                     "MDL used while its pages are not locked");
    expect_violation("unlock unlocked MDL", v_unlock_unlocked_mdl, "not locked");
    expect_violation("recursive spin lock", v_spin_recursive, "recursively");
    expect_violation("release unowned spin lock", v_spin_release_unowned, "does not hold");
    expect_violation("KeLowerIrql upward", v_lower_upward, "KeLowerIrql");
    expect_violation("KeRaiseIrql downward", v_raise_downward, "KeRaiseIrql");
    expect_violation("release unowned mutex", v_release_mutex_unowned, "not owned");
    expect_violation("semaphore limit", v_semaphore_limit, "limit");
    expect_violation("thread ends at DISPATCH", v_thread_ends_at_dispatch, "ended at IRQL 2");
    expect_violation("ZwClose bad handle", v_close_bad_handle, "not an open handle");
    expect_violation("kshim_assert_failed", v_assert_failed,
                     "assertion failed: s->refs > 0 (ks_example.c:42)");

    /* A bugcheck (ASSERT) also ends with status 86, with its own text. */
    expect_exit86("ASSERT", v_bugcheck, "kshim: BUGCHECK 0x", NULL);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "fault-child") == 0)
        return fault_child();
    kshim_init();
    test_irql_spinlock();
    test_events();
    test_mutex_semaphore();
    test_threads();
    test_irp_completion();
    test_irp_cancel();
    test_mdl();
    test_system();
    test_pool();
    test_registry();
    test_dbgprint();
    test_time();
    test_fault_injection();
    test_lock_order();
    test_violations();
    CHECK(kshim_check_leaks("at the end") == 0);
    if (failures > 0) {
        fprintf(stderr, "kshim_test: %d of %d checks FAILED\n", failures, checks);
        return 1;
    }
    printf("kshim_test: %d checks passed\n", checks);
    return 0;
}
