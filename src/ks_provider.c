/* ks_provider.c - the library's WSK registration, the provider NPI, the
 * running state and the count of live sockets (ks_library.c drives them). */
#include "ks_provider.h"
#include "ks_op.h"
#include "ks_rundown.h"

static const WSK_CLIENT_DISPATCH ks_client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};

/* The provider NPI's capture, under g_lib.npi_lock. */
enum npi_state {
    NPI_NONE,      /* not captured (ks_startup's try failed, or a capture failed) */
    NPI_CAPTURING, /* one ks__provider_npi call captures: the others wait for npi_settled */
    NPI_CAPTURED   /* g_lib.npi is valid until ks_cleanup releases it */
};

/* Written by ks__provider_start/_stop and set_running, which ks_library.c
 * calls under its start/stop lock; read by any thread as stated. */
static struct {
    volatile LONG running;
    WSK_CLIENT_NPI client;
    WSK_REGISTRATION registration;
    WSK_PROVIDER_NPI npi;
    /* npi_state and the clearing of npi_settled, under npi_lock (both
     * initialised by ks_startup before "running": every ks__provider_npi caller
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

BOOLEAN ks__library_running(void)
{
    return g_lib.running != 0;
}

void ks__live_socket_added(void)
{
    ks__rundown_acquire(&g_lib.live_sockets);
}

void ks__live_socket_removed(void)
{
    ks__rundown_release(&g_lib.live_sockets);
}

int ks__provider_start(void)
{
    /* First: what the library allocates from here on follows it. */
    ks__pool_choose();
    ks__irql_choose();
    /* The IRP every WskCloseSocket can fall back on (ks_op.h). */
    if (!NT_SUCCESS(ks__op_reserve_init())) {
        ks__op_reserve_free();
        return -ENOMEM;
    }
    g_lib.client.ClientContext = NULL;
    g_lib.client.Dispatch = &ks_client_dispatch;
    NTSTATUS status = WskRegister(&g_lib.client, &g_lib.registration);
    if (!NT_SUCCESS(status)) {
        ks__op_reserve_free();
        return status == STATUS_INSUFFICIENT_RESOURCES || status == STATUS_NO_MEMORY ? -ENOMEM
                                                                                     : -ENETDOWN;
    }
    /* Never wait here: we may be inside DriverEntry. If the provider is not
     * attached yet, ks__provider_npi() waits (boundedly) at first use. */
    KeInitializeSpinLock(&g_lib.npi_lock);
    KeInitializeEvent(&g_lib.npi_settled, NotificationEvent, TRUE);
    BOOLEAN captured =
        NT_SUCCESS(WskCaptureProviderNPI(&g_lib.registration, WSK_NO_WAIT, &g_lib.npi));
    g_lib.npi_state = captured ? NPI_CAPTURED : NPI_NONE;
    /* live_sockets is not reset: it is 0 since the last stop, but threads
     * of calls racing us may count a socket, see the library stopped and
     * uncount it (a reset would unbalance them). */
    return 0;
}

void ks__provider_set_running(BOOLEAN running)
{
    InterlockedExchange(&g_lib.running, running ? 1 : 0);
}

void ks__provider_wait_sockets(void)
{
    KS_ASSERT(!ks__library_running());
    while (!ks__rundown_wait(&g_lib.live_sockets, 10000))
        DbgPrint("wsksock: ks_cleanup still waiting for %ld sockets\n",
                 ks__rundown_count(&g_lib.live_sockets));
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

NTSTATUS ks__provider_npi(const WSK_PROVIDER_NPI **npi)
{
    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL);
    for (;;) {
        if (!ks__library_running())
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

void ks__provider_stop(void)
{
    KS_ASSERT(!ks__library_running());
    /* A capture in progress on another thread ends within KS_CAPTURE_WAIT_MS
     * (its caller counts as a live socket, so there is none left now). */
    KeWaitForSingleObject(&g_lib.npi_settled, Executive, KernelMode, FALSE, NULL);
    KS_ASSERT(g_lib.npi_state != NPI_CAPTURING);
    if (g_lib.npi_state == NPI_CAPTURED)
        WskReleaseProviderNPI(&g_lib.registration);
    g_lib.npi_state = NPI_NONE;
    WskDeregister(&g_lib.registration);
    ks__op_reserve_free(); /* every socket is gone: nothing has it */
}
