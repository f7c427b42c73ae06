/* ks_work.c - the library's completion threads (see ks_work.h). */
#include "ks_work.h"
#include "ks_provider.h"

static struct {
    KSPIN_LOCK lock;                /* queue, stopping */
    LIST_ENTRY queue;               /* ks_work items */
    KSEMAPHORE items;               /* one count per item (and per thread at stop) */
    BOOLEAN stopping;               /* (lock) */
    volatile LONG state;            /* 0 stopped, 1 starting or stopping, 2 running */
    PVOID threads[KS_WORK_THREADS]; /* referenced thread objects, to join */
    /* Thread id of each (mingw inlines PsGetCurrentThread as a gs: read,
     * which means nothing under Wine). */
    HANDLE self[KS_WORK_THREADS];
} g_work;

static KSTART_ROUTINE work_thread;

static void work_thread(PVOID context)
{
    g_work.self[(ULONG_PTR)context] = PsGetCurrentThreadId();
    for (;;) {
        KeWaitForSingleObject(&g_work.items, Executive, KernelMode, FALSE, NULL);
        KIRQL irql;
        KeAcquireSpinLock(&g_work.lock, &irql);
        if (IsListEmpty(&g_work.queue)) {
            BOOLEAN stop = g_work.stopping;
            KeReleaseSpinLock(&g_work.lock, irql);
            if (stop)
                break;
            continue;
        }
        PLIST_ENTRY e = RemoveHeadList(&g_work.queue);
        KeReleaseSpinLock(&g_work.lock, irql);
        ks_work *w = CONTAINING_RECORD(e, ks_work, entry);
        w->fn(w);
        /* A callback must return at PASSIVE_LEVEL; the next one relies on it. */
        if (KeGetCurrentIrql() != PASSIVE_LEVEL)
            DbgPrint("wsksock: a completion callback returned at IRQL %d\n",
                     (int)KeGetCurrentIrql());
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static void join(PVOID *thread)
{
    if (*thread == NULL)
        return;
    KeWaitForSingleObject(*thread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(*thread);
    *thread = NULL;
}

/* Stops the threads started so far (state 1 held by the caller). */
static void stop_threads(void)
{
    KIRQL irql;
    KeAcquireSpinLock(&g_work.lock, &irql);
    g_work.stopping = TRUE;
    KeReleaseSpinLock(&g_work.lock, irql);
    KeReleaseSemaphore(&g_work.items, IO_NO_INCREMENT, KS_WORK_THREADS, FALSE);
    for (int i = 0; i < KS_WORK_THREADS; i++) {
        join(&g_work.threads[i]);
        g_work.self[i] = NULL;
    }
}

int ks_work_start(void)
{
    for (;;) {
        LONG state = InterlockedCompareExchange(&g_work.state, 1, 0);
        if (state == 2)
            return 0;
        if (state == 0)
            break;
        /* Another thread is starting them. */
        LARGE_INTEGER delay = ks_relative_ms(1);
        KeDelayExecutionThread(KernelMode, FALSE, &delay);
    }
    if (!ks_library_running()) {
        InterlockedExchange(&g_work.state, 0);
        return -ENETDOWN;
    }
    KeInitializeSpinLock(&g_work.lock);
    InitializeListHead(&g_work.queue);
    KeInitializeSemaphore(&g_work.items, 0, MAXLONG);
    g_work.stopping = FALSE;
    for (int i = 0; i < KS_WORK_THREADS; i++) {
        HANDLE h;
        NTSTATUS st = PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, work_thread,
                                           (PVOID)(ULONG_PTR)i);
        if (NT_SUCCESS(st)) {
            /* NULL object type: mingw's PsThreadType is a dllimport'ed pointer.
             * Referencing a handle we just created with full access cannot
             * fail in practice; if it did, that thread is stopped with the
             * others but not joined. */
            st = ObReferenceObjectByHandle(h, THREAD_ALL_ACCESS, NULL, KernelMode,
                                           &g_work.threads[i], NULL);
            if (!NT_SUCCESS(st))
                g_work.threads[i] = NULL;
            ZwClose(h);
        }
        if (!NT_SUCCESS(st)) {
            stop_threads();
            InterlockedExchange(&g_work.state, 0);
            return -ENOMEM;
        }
    }
    InterlockedExchange(&g_work.state, 2);
    return 0;
}

void ks_work_post(ks_work *work)
{
    KIRQL irql;
    KeAcquireSpinLock(&g_work.lock, &irql);
    InsertTailList(&g_work.queue, &work->entry);
    KeReleaseSpinLock(&g_work.lock, irql);
    KeReleaseSemaphore(&g_work.items, IO_NO_INCREMENT, 1, FALSE);
}

BOOLEAN ks_work_on_worker(void)
{
    if (g_work.state != 2)
        return FALSE;
    HANDLE self = PsGetCurrentThreadId();
    for (int i = 0; i < KS_WORK_THREADS; i++)
        if (g_work.self[i] == self)
            return TRUE;
    return FALSE;
}

void ks_work_stop(void)
{
    if (InterlockedCompareExchange(&g_work.state, 1, 2) != 2)
        return;
    stop_threads();
    InterlockedExchange(&g_work.state, 0);
}
