/* ks_work.c - the library's threads (see ks_work.h). */
#include "ks_work.h"
#include "ks_provider.h"
#include "ks_rundown.h"

/* One pool of threads serving one FIFO queue. */
struct pool {
    KSPIN_LOCK lock;                /* queue, stopping */
    LIST_ENTRY queue;               /* ks_work items */
    KSEMAPHORE items;               /* one count per item (and per thread at stop) */
    BOOLEAN stopping;               /* (lock) */
    PVOID threads[KS_WORK_THREADS]; /* referenced thread objects, to join */
    /* Thread id of each (mingw inlines PsGetCurrentThread as a gs: read,
     * which means nothing under Wine). */
    HANDLE self[KS_WORK_THREADS];
};

enum { POOL_COMPLETION = 0, POOL_BLOCKING = 1, POOL_COUNT = 2 };

/* The pools' state: changed only under g_work.change, read without it. */
enum work_state {
    WORK_STOPPED, /* no threads; posting is a bug */
    WORK_RUNNING, /* threads serve the queues */
    WORK_STOPPING /* ks__work_stop joins them; queued items still run and post */
};

static struct {
    volatile LONG state; /* enum work_state */
    /* Serialises ks__work_start and ks__work_stop. A ks_static_lock:
     * ks_getaddrinfo_async may start the pools before any ks_startup. */
    ks_static_lock change;
    struct pool pools[POOL_COUNT];
} g_work;

static KSTART_ROUTINE work_thread;

/* context: pool index << 8 | thread index. */
static void work_thread(PVOID context)
{
    struct pool *p = &g_work.pools[(ULONG_PTR)context >> 8];
    p->self[(ULONG_PTR)context & 0xff] = PsGetCurrentThreadId();
    for (;;) {
        KeWaitForSingleObject(&p->items, Executive, KernelMode, FALSE, NULL);
        KIRQL irql;
        KeAcquireSpinLock(&p->lock, &irql);
        if (IsListEmpty(&p->queue)) {
            BOOLEAN stop = p->stopping;
            KeReleaseSpinLock(&p->lock, irql);
            if (stop)
                break;
            continue;
        }
        PLIST_ENTRY e = RemoveHeadList(&p->queue);
        KeReleaseSpinLock(&p->lock, irql);
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

/* Stops a pool's threads after they ran what is queued, and joins them. */
static void stop_pool(struct pool *p)
{
    KIRQL irql;
    KeAcquireSpinLock(&p->lock, &irql);
    p->stopping = TRUE;
    KeReleaseSpinLock(&p->lock, irql);
    KeReleaseSemaphore(&p->items, IO_NO_INCREMENT, KS_WORK_THREADS, FALSE);
    for (int i = 0; i < KS_WORK_THREADS; i++) {
        join(&p->threads[i]);
        p->self[i] = NULL;
    }
}

/* Starts a pool's threads; FALSE (and the started ones stopped) on failure. */
static BOOLEAN start_pool(int index)
{
    struct pool *p = &g_work.pools[index];
    KeInitializeSpinLock(&p->lock);
    InitializeListHead(&p->queue);
    KeInitializeSemaphore(&p->items, 0, MAXLONG);
    p->stopping = FALSE;
    for (int i = 0; i < KS_WORK_THREADS; i++) {
        HANDLE h;
        NTSTATUS st = PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, work_thread,
                                           (PVOID)(ULONG_PTR)((index << 8) | i));
        if (NT_SUCCESS(st)) {
            /* NULL object type: mingw's PsThreadType is a dllimport'ed pointer.
             * Referencing a handle we just created with full access cannot
             * fail in practice; if it did, that thread is stopped with the
             * others but not joined. */
            st = ObReferenceObjectByHandle(h, THREAD_ALL_ACCESS, NULL, KernelMode, &p->threads[i],
                                           NULL);
            if (!NT_SUCCESS(st))
                p->threads[i] = NULL;
            ZwClose(h);
        }
        if (!NT_SUCCESS(st)) {
            stop_pool(p);
            return FALSE;
        }
    }
    return TRUE;
}

int ks__work_start(void)
{
    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL);
    LONG state = g_work.state;
    if (state == WORK_RUNNING)
        return 0;
    if (state == WORK_STOPPING)
        return -ENETDOWN; /* ks_cleanup is joining the threads (maybe ours) */
    ks__static_lock_acquire(&g_work.change);
    int err = 0;
    if (g_work.state == WORK_RUNNING) {
        /* Another thread started them while we waited. */
    } else if (!ks__library_running()) {
        err = -ENETDOWN;
    } else if (!start_pool(POOL_COMPLETION)) {
        err = -ENOMEM;
    } else if (!start_pool(POOL_BLOCKING)) {
        stop_pool(&g_work.pools[POOL_COMPLETION]);
        err = -ENOMEM;
    } else {
        KS_ASSERT(g_work.state == WORK_STOPPED);
        InterlockedExchange(&g_work.state, WORK_RUNNING);
    }
    ks__static_lock_release(&g_work.change);
    return err;
}

/* Queues work unless the pool was told to stop (what is queued before that
 * runs: the threads empty the queue before they end): FALSE then. */
static BOOLEAN post(struct pool *p, ks_work *work)
{
    KIRQL irql;
    KS_ASSERT_IRQL_MAX(DISPATCH_LEVEL);
    KS_ASSERT(work->fn != NULL);
    KeAcquireSpinLock(&p->lock, &irql);
    BOOLEAN open = !p->stopping;
    if (open)
        InsertTailList(&p->queue, &work->entry);
    KeReleaseSpinLock(&p->lock, irql);
    if (open)
        KeReleaseSemaphore(&p->items, IO_NO_INCREMENT, 1, FALSE);
    return open;
}

void ks__work_post(ks_work *work)
{
    /* Completion work always comes from a holder of a socket, or from a
     * blocking call the stop runs first: ks_cleanup stops the completion
     * threads only once every socket, so every such poster, is gone. */
    BOOLEAN queued = post(&g_work.pools[POOL_COMPLETION], work);
    KS_ASSERT(queued);
    UNREFERENCED_PARAMETER(queued);
}

int ks__work_post_blocking(ks_work *work)
{
    /* Its posters (the asynchronous calls without a socket: ks_close_async,
     * ks_shutdown_async, name resolution) hold nothing ks_cleanup waits
     * for, so they can lose the race with ks__work_stop. */
    return post(&g_work.pools[POOL_BLOCKING], work) ? 0 : -ENETDOWN;
}

BOOLEAN ks__work_on_worker(void)
{
    if (g_work.state != WORK_RUNNING)
        return FALSE;
    HANDLE self = PsGetCurrentThreadId();
    for (int p = 0; p < POOL_COUNT; p++)
        for (int i = 0; i < KS_WORK_THREADS; i++)
            if (g_work.pools[p].self[i] == self)
                return TRUE;
    return FALSE;
}

BOOLEAN ks__work_on_completion_thread(void)
{
    if (g_work.state == WORK_STOPPED)
        return FALSE;
    HANDLE self = PsGetCurrentThreadId();
    for (int i = 0; i < KS_WORK_THREADS; i++)
        if (g_work.pools[POOL_COMPLETION].self[i] == self)
            return TRUE;
    return FALSE;
}

void ks__work_stop(void)
{
    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL);
    KS_ASSERT(!ks__work_on_worker()); /* it joins the threads */
    /* After a start in progress, if any (it may have begun before
     * ks_cleanup cleared "running"). */
    ks__static_lock_acquire(&g_work.change);
    if (g_work.state == WORK_RUNNING) {
        InterlockedExchange(&g_work.state, WORK_STOPPING);
        /* Blocking calls first: they post their completions, which the
         * completion threads then run before they stop. */
        stop_pool(&g_work.pools[POOL_BLOCKING]);
        stop_pool(&g_work.pools[POOL_COMPLETION]);
        InterlockedExchange(&g_work.state, WORK_STOPPED);
    }
    ks__static_lock_release(&g_work.change);
}
