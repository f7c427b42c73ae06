/*
 * ks_thread.c - system threads for drivers: ks_thread_start, ks_thread_join
 * (see include/wsksock/thread.h).
 */
#include "ks_kernel.h"
#include "wsksock/thread.h"

struct ks_thread {
    PVOID object;       /* the referenced thread object */
    HANDLE volatile id; /* the thread's id, set before the routine runs */
    ks_thread_routine *routine;
    void *context;
    KEVENT go;       /* set by ks_thread_start once object is known */
    BOOLEAN abandon; /* the reference failed: do not run the routine */
};

static KSTART_ROUTINE thread_main;

/* Every thread's start: waits until ks_thread_start knows the outcome, then
 * records its id (for the join-self check) and runs the routine. */
static VOID thread_main(PVOID p)
{
    struct ks_thread *t = p;
    KeWaitForSingleObject(&t->go, Executive, KernelMode, FALSE, NULL);
    if (t->abandon) {
        /* ks_thread_start failed and returned: the record is ours. */
        ks__free(t, KS_THREAD_POOL_TAG);
        PsTerminateSystemThread(STATUS_SUCCESS);
        return;
    }
    InterlockedExchangePointer((PVOID volatile *)&t->id, PsGetCurrentThreadId());
    t->routine(t->context);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

int ks_thread_start(struct ks_thread **out, ks_thread_routine *routine, void *context)
{
    if (out != NULL)
        *out = NULL;
    if (out == NULL || routine == NULL)
        return -EINVAL;
    if (!ks__can_block())
        return -EPERM;
    struct ks_thread *t = ks__alloc(sizeof(*t), KS_THREAD_POOL_TAG);
    if (t == NULL)
        return -ENOMEM;
    t->routine = routine;
    t->context = context;
    KeInitializeEvent(&t->go, NotificationEvent, FALSE);

    HANDLE h;
    NTSTATUS st = PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, thread_main, t);
    if (!NT_SUCCESS(st)) {
        ks__free(t, KS_THREAD_POOL_TAG);
        int err = ks__status_to_errno(st);
        return err != 0 ? err : -ENOMEM;
    }
    /*
     * NULL object type rather than *PsThreadType: the handle is the one we
     * were just given, so the type check has nothing to find, and reading
     * PsThreadType (dllimport'ed data) faults when built with mingw-w64.
     * The same call so works under the WDK, mingw-w64 and the host bed,
     * without a conditional.
     */
    PVOID object = NULL;
    st = ObReferenceObjectByHandle(h, SYNCHRONIZE, NULL, KernelMode, &object, NULL);
    ZwClose(h);
    if (!NT_SUCCESS(st)) {
        /* Cannot wait for it: the thread frees the record and ends without
         * running the routine. */
        t->abandon = TRUE;
        KeSetEvent(&t->go, IO_NO_INCREMENT, FALSE);
        int err = ks__status_to_errno(st);
        return err != 0 ? err : -ENOMEM;
    }
    t->object = object;
    KeSetEvent(&t->go, IO_NO_INCREMENT, FALSE);
    *out = t;
    return 0;
}

int ks_thread_join_timeout(struct ks_thread *t, int timeout_ms)
{
    if (t == NULL)
        return -EINVAL;
    if (!ks__can_block())
        return -EPERM;
    if (t->id == PsGetCurrentThreadId())
        return -EDEADLK;
    LARGE_INTEGER due;
    due.QuadPart = 0;
    if (timeout_ms >= 0)
        due = ks__relative_ms((ULONG)timeout_ms);
    NTSTATUS st = KeWaitForSingleObject(t->object, Executive, KernelMode, FALSE,
                                        timeout_ms >= 0 ? &due : NULL);
    if (st != STATUS_SUCCESS)
        return -ETIMEDOUT;
    ObDereferenceObject(t->object);
    ks__free(t, KS_THREAD_POOL_TAG);
    return 0;
}

int ks_thread_join(struct ks_thread *t)
{
    return ks_thread_join_timeout(t, -1);
}
