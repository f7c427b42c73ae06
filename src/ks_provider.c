/* ks_provider.c - ks_startup/ks_cleanup: WSK registration, NPI, shutdown. */
#include "ks_provider.h"
#include "ks_work.h"
#include "ks_fdtable.h"
#include "ks_op.h"
#include "ks_resolve.h"
#include "ks_rundown.h"

static const WSK_CLIENT_DISPATCH ks_client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};

/* The provider NPI's capture, under g_lib.npi_lock. */
enum npi_state {
    NPI_NONE,      /* not captured (ks_startup's try failed, or a capture failed) */
    NPI_CAPTURING, /* one ks_provider call captures: the others wait for npi_settled */
    NPI_CAPTURED   /* g_lib.npi is valid until ks_cleanup releases it */
};

static struct {
    /* Serialises ks_startup/ks_cleanup. A ks_static_lock: it is taken
     * before anything is initialised (ks_startup may be the first call). */
    ks_static_lock api_lock;
    LONG startups; /* (api_lock) */
    volatile LONG running;
    WSK_CLIENT_NPI client;
    WSK_REGISTRATION registration;
    WSK_PROVIDER_NPI npi;
    /* npi_state and the clearing of npi_settled, under npi_lock (both
     * initialised by ks_startup before "running": every ks_provider caller
     * counts as a live socket, so none is left when the next ks_startup
     * re-initialises them). */
    KSPIN_LOCK npi_lock;
    enum npi_state npi_state;
    KEVENT npi_settled; /* NotificationEvent: clear while NPI_CAPTURING */
    /* Live socket objects and name queries: ks_cleanup waits for none. Never
     * reset (a reset raced threads that count a socket, see the library
     * stopped and uncount it). */
    ks_rundown live_sockets;
} g_lib;

BOOLEAN ks_library_running(void)
{
    return g_lib.running != 0;
}

void ks_live_socket_added(void)
{
    ks_rundown_acquire(&g_lib.live_sockets);
}

void ks_live_socket_removed(void)
{
    ks_rundown_release(&g_lib.live_sockets);
}

int ks_startup(void)
{
    if (!ks_can_block())
        return -EPERM;
    ks_static_lock_acquire(&g_lib.api_lock);
    KS_ASSERT(g_lib.startups >= 0);
    if (g_lib.startups > 0) {
        g_lib.startups++;
        ks_static_lock_release(&g_lib.api_lock);
        return 0;
    }
    /* First: what the library allocates from here on follows it. */
    ks_pool_choose();
    ks_irql_choose();
    /* The IRP every WskCloseSocket can fall back on (ks_op.h). */
    if (!NT_SUCCESS(ks_op_reserve_init())) {
        ks_op_reserve_free();
        ks_static_lock_release(&g_lib.api_lock);
        return -ENOMEM;
    }
    g_lib.client.ClientContext = NULL;
    g_lib.client.Dispatch = &ks_client_dispatch;
    NTSTATUS status = WskRegister(&g_lib.client, &g_lib.registration);
    if (!NT_SUCCESS(status)) {
        ks_op_reserve_free();
        ks_static_lock_release(&g_lib.api_lock);
        return status == STATUS_INSUFFICIENT_RESOURCES || status == STATUS_NO_MEMORY ? -ENOMEM
                                                                                     : -ENETDOWN;
    }
    /* Never wait here: we may be inside DriverEntry. If the provider is not
     * attached yet, ks_provider() waits (boundedly) at first use. */
    KeInitializeSpinLock(&g_lib.npi_lock);
    KeInitializeEvent(&g_lib.npi_settled, NotificationEvent, TRUE);
    BOOLEAN captured =
        NT_SUCCESS(WskCaptureProviderNPI(&g_lib.registration, WSK_NO_WAIT, &g_lib.npi));
    g_lib.npi_state = captured ? NPI_CAPTURED : NPI_NONE;
    /* live_sockets is not reset: it is 0 since the last ks_cleanup, but
     * for threads of calls racing us that count a socket, see the library
     * stopped and uncount it (a reset would unbalance them). */
    ks_fdtable_init();
    g_lib.startups = 1;
    InterlockedExchange(&g_lib.running, 1);
    ks_static_lock_release(&g_lib.api_lock);
    return 0;
}

/* Ends a capture (NPI_CAPTURING -> NPI_CAPTURED or NPI_NONE) and wakes the
 * threads waiting for it. */
static void npi_capture_end(BOOLEAN captured)
{
    KIRQL irql;
    KeAcquireSpinLock(&g_lib.npi_lock, &irql);
    KS_ASSERT(g_lib.npi_state == NPI_CAPTURING);
    g_lib.npi_state = captured ? NPI_CAPTURED : NPI_NONE;
    KeSetEvent(&g_lib.npi_settled, IO_NO_INCREMENT, FALSE);
    KeReleaseSpinLock(&g_lib.npi_lock, irql);
}

NTSTATUS ks_provider(const WSK_PROVIDER_NPI **npi)
{
    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL);
    for (;;) {
        if (!ks_library_running())
            return STATUS_DEVICE_NOT_READY;
        KIRQL irql;
        KeAcquireSpinLock(&g_lib.npi_lock, &irql);
        enum npi_state state = g_lib.npi_state;
        if (state == NPI_NONE) {
            /* NPI_NONE -> NPI_CAPTURING: we capture; others wait for us. */
            g_lib.npi_state = NPI_CAPTURING;
            KeClearEvent(&g_lib.npi_settled);
        }
        KeReleaseSpinLock(&g_lib.npi_lock, irql);
        if (state == NPI_CAPTURED) {
            *npi = &g_lib.npi;
            return STATUS_SUCCESS;
        }
        if (state == NPI_NONE) {
            NTSTATUS status =
                WskCaptureProviderNPI(&g_lib.registration, KS_CAPTURE_WAIT_MS, &g_lib.npi);
            npi_capture_end(NT_SUCCESS(status));
            if (!NT_SUCCESS(status))
                return STATUS_DEVICE_NOT_READY;
            continue;
        }
        /* Another thread captures, for at most KS_CAPTURE_WAIT_MS (the
         * event was cleared under the lock where we saw NPI_CAPTURING). */
        KeWaitForSingleObject(&g_lib.npi_settled, Executive, KernelMode, FALSE, NULL);
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
    ks_static_lock_acquire(&g_lib.api_lock);
    if (g_lib.startups == 0 || --g_lib.startups > 0) {
        ks_static_lock_release(&g_lib.api_lock);
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
    while (!ks_rundown_wait(&g_lib.live_sockets, 10000))
        DbgPrint("wsksock: ks_cleanup still waiting for %ld sockets\n",
                 ks_rundown_count(&g_lib.live_sockets));
    /* Every asynchronous request and event delivery held a socket: none is
     * left, and nothing can post work any more. */
    ks_work_stop();
    /* A capture in progress on another thread ends within KS_CAPTURE_WAIT_MS
     * (its caller counts as a live socket, so there is none left now). */
    KeWaitForSingleObject(&g_lib.npi_settled, Executive, KernelMode, FALSE, NULL);
    KS_ASSERT(g_lib.npi_state != NPI_CAPTURING);
    if (g_lib.npi_state == NPI_CAPTURED)
        WskReleaseProviderNPI(&g_lib.registration);
    g_lib.npi_state = NPI_NONE;
    WskDeregister(&g_lib.registration);
    ks_fdtable_destroy();
    ks_op_reserve_free(); /* every socket is gone: nothing has it */
    ks_static_lock_release(&g_lib.api_lock);
}
