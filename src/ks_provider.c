/* ks_provider.c - ks_startup/ks_cleanup: WSK registration, NPI, shutdown. */
#include "ks_provider.h"
#include "ks_work.h"
#include "ks_fdtable.h"
#include "ks_resolve.h"

static const WSK_CLIENT_DISPATCH ks_client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};

static struct {
    volatile LONG api_lock; /* serialises ks_startup/ks_cleanup */
    LONG startups;          /* (api_lock) */
    volatile LONG running;
    WSK_CLIENT_NPI client;
    WSK_REGISTRATION registration;
    WSK_PROVIDER_NPI npi;
    volatile LONG npi_state; /* 0 none, 1 capturing, 2 captured */
    volatile LONG live_sockets;
} g_lib;

/* startup/cleanup are rare and PASSIVE: a sleeping test-and-set lock needs no
 * initialisation, which a lock taken before anything is set up requires. */
static void api_lock(void)
{
    KS_LOCK_NOTE_WAIT((const void *)&g_lib.api_lock); /* the outermost lock */
    while (InterlockedCompareExchange(&g_lib.api_lock, 1, 0) != 0) {
        LARGE_INTEGER delay = ks_relative_ms(1);
        KeDelayExecutionThread(KernelMode, FALSE, &delay);
    }
    KS_LOCK_NOTE_ACQUIRED((const void *)&g_lib.api_lock);
}

static void api_unlock(void)
{
    KS_ASSERT(g_lib.api_lock == 1);
    KS_LOCK_NOTE_RELEASED((const void *)&g_lib.api_lock);
    InterlockedExchange(&g_lib.api_lock, 0);
}

BOOLEAN ks_library_running(void)
{
    return g_lib.running != 0;
}

void ks_live_socket_added(void)
{
    InterlockedIncrement(&g_lib.live_sockets);
}

void ks_live_socket_removed(void)
{
    KS_ASSERT(g_lib.live_sockets > 0); /* each removal follows its addition */
    InterlockedDecrement(&g_lib.live_sockets);
}

int ks_startup(void)
{
    if (!ks_can_block())
        return -EPERM;
    api_lock();
    KS_ASSERT(g_lib.startups >= 0);
    if (g_lib.startups > 0) {
        g_lib.startups++;
        api_unlock();
        return 0;
    }
    /* First: what the library allocates from here on follows it. */
    ks_pool_choose();
    ks_irql_choose();
    g_lib.client.ClientContext = NULL;
    g_lib.client.Dispatch = &ks_client_dispatch;
    NTSTATUS status = WskRegister(&g_lib.client, &g_lib.registration);
    if (!NT_SUCCESS(status)) {
        api_unlock();
        return status == STATUS_INSUFFICIENT_RESOURCES || status == STATUS_NO_MEMORY ? -ENOMEM
                                                                                     : -ENETDOWN;
    }
    /* Never wait here: we may be inside DriverEntry. If the provider is not
     * attached yet, ks_provider() waits (boundedly) at first use. */
    g_lib.npi_state = 0;
    if (NT_SUCCESS(WskCaptureProviderNPI(&g_lib.registration, WSK_NO_WAIT, &g_lib.npi)))
        g_lib.npi_state = 2;
    /* live_sockets is not reset: it is 0 since the last ks_cleanup, but
     * for threads of calls racing us that count a socket, see the library
     * stopped and uncount it (a reset would unbalance them). */
    ks_fdtable_init();
    g_lib.startups = 1;
    InterlockedExchange(&g_lib.running, 1);
    api_unlock();
    return 0;
}

NTSTATUS ks_provider(const WSK_PROVIDER_NPI **npi)
{
    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL);
    for (;;) {
        if (!ks_library_running())
            return STATUS_DEVICE_NOT_READY;
        LONG state = InterlockedCompareExchange(&g_lib.npi_state, 1, 0);
        if (state == 2) {
            *npi = &g_lib.npi;
            return STATUS_SUCCESS;
        }
        if (state == 0) {
            /* We capture; others wait for us below. */
            NTSTATUS status =
                WskCaptureProviderNPI(&g_lib.registration, KS_CAPTURE_WAIT_MS, &g_lib.npi);
            InterlockedExchange(&g_lib.npi_state, NT_SUCCESS(status) ? 2 : 0);
            if (!NT_SUCCESS(status))
                return STATUS_DEVICE_NOT_READY;
            continue;
        }
        LARGE_INTEGER delay = ks_relative_ms(10);
        KeDelayExecutionThread(KernelMode, FALSE, &delay);
    }
}

void ks_cleanup(void)
{
    if (!ks_can_block())
        return;
    if (ks_work_on_worker()) {
        /* It waits for every callback, including the caller's. */
        DbgPrint("wsksock: ks_cleanup called from a completion callback: ignored\n");
        return;
    }
    api_lock();
    if (g_lib.startups == 0 || --g_lib.startups > 0) {
        api_unlock();
        return;
    }
    /* No new descriptors or sockets from here on. */
    InterlockedExchange(&g_lib.running, 0);
    ks_fdtable_set_open(FALSE);

    /* Close whatever the caller left open, all at once: their orderly
     * waits (sends in flight, graceful disconnects) run together and share
     * one deadline, so the total is bounded whatever their number; past it
     * the rest closes abortively. Blocked threads wake with -EBADF. */
    ks_deadline until = ks_deadline_in(KS_CLEANUP_CLOSE_MS);
    LIST_ENTRY started;
    InitializeListHead(&started);
    ks_sock *s;
    while ((s = ks_fd_remove_any()) != NULL) {
        if (ks_sock_close_start(s, &until)) {
            /* Ordered nesting: the closes below take other sockets' locks
             * while s's ctl lock is held (design.md, "Lock order"). */
            KS_LOCK_NEST_BEGIN(&s->ctl_lock);
            InsertTailList(&started, &s->cleanup_link);
        } else {
            ks_sock_put(s);
        }
    }
    while (!IsListEmpty(&started)) {
        s = CONTAINING_RECORD(RemoveHeadList(&started), ks_sock, cleanup_link);
        ks_sock_close_finish(s, &until);
        ks_sock_put(s);
    }
    /* Name resolutions in flight count as live sockets: cancel them. */
    ks_query_cancel_all();
    /* Threads that were inside calls still hold references (and accept may
     * hold a socket not yet in the table): they are all returning now. */
    ULONG waited_ms = 0;
    while (g_lib.live_sockets > 0) {
        LARGE_INTEGER delay = ks_relative_ms(1);
        KeDelayExecutionThread(KernelMode, FALSE, &delay);
        if (++waited_ms % 10000 == 0)
            DbgPrint("wsksock: ks_cleanup still waiting for %ld sockets\n", g_lib.live_sockets);
    }
    /* Every asynchronous request and event delivery held a socket: none is
     * left, and nothing can post work any more. */
    KS_ASSERT(g_lib.live_sockets == 0);
    ks_work_stop();
    /* A capture in progress on another thread ends within KS_CAPTURE_WAIT_MS. */
    while (g_lib.npi_state == 1) {
        LARGE_INTEGER delay = ks_relative_ms(10);
        KeDelayExecutionThread(KernelMode, FALSE, &delay);
    }
    if (g_lib.npi_state == 2)
        WskReleaseProviderNPI(&g_lib.registration);
    g_lib.npi_state = 0;
    WskDeregister(&g_lib.registration);
    ks_fdtable_destroy();
    api_unlock();
}
