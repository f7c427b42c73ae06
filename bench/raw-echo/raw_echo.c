/*
 * raw-echo - TCP echo server written directly on Winsock Kernel (WSK), with
 * no wsksock library call: the baseline of the benchmark (bench/README.md).
 *
 * Registry parameter (REG_SZ under the service key's Parameters subkey):
 *   Port  TCP port to listen on at 127.0.0.1 (default 7777)
 *
 * Same shape as the wsksock echo server it is compared with (ksbench.c):
 * a listener thread accepts, each connection is served by its own system
 * thread that receives up to 64 KiB and sends it back until the peer
 * closes. Logs "raw-echo: listening on port N"; a connection whose first
 * receive is exactly the 8 bytes "BENCHEND" makes it log
 * "raw-echo: stop requested" (the benchmark's --until for a clean unload).
 * Nothing is logged per connection: DbgPrint costs a wineserver round
 * trip under Wine and would be measured.
 *
 * Completion handling, the cheapest correct one for this provider:
 *  - one IRP per direction of use, allocated once and reused (IoReuseIrp);
 *    the completion routine always returns STATUS_MORE_PROCESSING_REQUIRED;
 *  - the caller and the completion routine hand off through one interlocked
 *    state: the caller sleeps on the event only if the request is still in
 *    flight when it looks, and the routine sets the event only if a caller
 *    sleeps. Wine's netio completes most requests inline yet returns
 *    STATUS_PENDING, and an event wait costs several wineserver round trips;
 *  - each connection's buffer is nonpaged pool described by one MDL built
 *    once (MmBuildMdlForNonPagedPool): resident for the connection's whole
 *    life, so no probe/lock/unlock per request, and never freed before the
 *    socket is closed and its last request completed.
 *
 * Unload: the listener socket is closed (its pending WskAccept completes
 * cancelled), the listener thread is joined, then every connection socket
 * is closed the same way and its thread joined; only then is the provider
 * NPI released and the client deregistered. A socket is closed only while
 * its thread is not inside a WSK call on it (an interlocked counter), by
 * exactly one of the thread and the unload (an interlocked flag), with an
 * IRP of its own (the thread's IRP may still be pending).
 */
#ifndef POOL_TAGGING
#define POOL_TAGGING 1
#endif

#include <ntddk.h>

#include "../../tests/drivers/kthread.h"

#include <wsksock/wsk.h>

#define RAW_TAG ((ULONG)'r' | ((ULONG)'a' << 8) | ((ULONG)'w' << 16) | ((ULONG)'E' << 24))
#define RAW_BUF (64 * 1024)
#define RAW_DEFAULT_PORT 7777
#define RAW_CAPTURE_WAIT_MS 5000 /* bounded wait for the provider (never infinite) */

/* The format is the first argument; callers end it with \n (C11 has no
 * empty __VA_ARGS__). */
#define LOG(...) DbgPrint("raw-echo: " __VA_ARGS__)

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD raw_unload;

/* ---- one request at a time on a reused IRP ------------------------------ */

enum { REQ_IDLE, REQ_ISSUED, REQ_WAITING, REQ_DONE };

struct req {
    PIRP irp;
    KEVENT done;         /* set only for a caller in REQ_WAITING */
    volatile LONG state; /* REQ_* */
};

static IO_COMPLETION_ROUTINE req_complete;

static NTSTATUS req_complete(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    struct req *r = (struct req *)context;

    UNREFERENCED_PARAMETER(device);
    UNREFERENCED_PARAMETER(irp);
    if (InterlockedExchange(&r->state, REQ_DONE) == REQ_WAITING)
        KeSetEvent(&r->done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED; /* the IRP is ours: reused */
}

static NTSTATUS req_init(struct req *r)
{
    KeInitializeEvent(&r->done, SynchronizationEvent, FALSE);
    r->state = REQ_IDLE;
    r->irp = IoAllocateIrp(1, FALSE);
    return r->irp ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

static void req_free(struct req *r)
{
    if (r->irp) {
        IoFreeIrp(r->irp);
        r->irp = NULL;
    }
}

static PIRP req_begin(struct req *r)
{
    IoReuseIrp(r->irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(r->irp, req_complete, r, TRUE, TRUE, TRUE);
    InterlockedExchange(&r->state, REQ_ISSUED);
    return r->irp;
}

/* The final status of the request whose dispatch call returned `call`. */
static NTSTATUS req_end(struct req *r, NTSTATUS call, ULONG_PTR *info)
{
    NTSTATUS st;

    if (call == STATUS_PENDING) {
        /* Sleep only if the completion routine has not run yet. */
        if (InterlockedCompareExchange(&r->state, REQ_WAITING, REQ_ISSUED) == REQ_ISSUED)
            KeWaitForSingleObject(&r->done, Executive, KernelMode, FALSE, NULL);
        st = r->irp->IoStatus.Status;
    } else if (r->state == REQ_DONE) {
        st = r->irp->IoStatus.Status; /* completed inline */
    } else {
        /* Failed without completing the IRP (Wine's unimplemented calls). */
        st = NT_SUCCESS(call) ? STATUS_INTERNAL_ERROR : call;
    }
    if (info)
        *info = NT_SUCCESS(st) ? r->irp->IoStatus.Information : 0;
    InterlockedExchange(&r->state, REQ_IDLE);
    return st;
}

/* ---- a socket served by one thread, closed by it or by the unload ------- */

struct endpoint {
    PWSK_SOCKET sock;
    struct req io;         /* the serving thread's requests */
    struct req close_req;  /* WskCloseSocket, by whoever closes */
    volatile LONG inside;  /* the thread is inside a WSK call on sock */
    volatile LONG closing; /* the unload wants it closed: no new calls */
    volatile LONG closed;  /* WskCloseSocket was called (by exactly one) */
};

static NTSTATUS ep_init(struct endpoint *e)
{
    NTSTATUS st;

    RtlZeroMemory(e, sizeof(*e));
    st = req_init(&e->io);
    if (NT_SUCCESS(st))
        st = req_init(&e->close_req);
    return st;
}

static void ep_free(struct endpoint *e)
{
    req_free(&e->io);
    req_free(&e->close_req);
}

/* Before a WSK call on e->sock: FALSE once the unload closes it. */
static BOOLEAN ep_enter(struct endpoint *e)
{
    InterlockedIncrement(&e->inside);
    if (e->closing) {
        InterlockedDecrement(&e->inside);
        return FALSE;
    }
    return TRUE;
}

static void ep_leave(struct endpoint *e)
{
    InterlockedDecrement(&e->inside);
}

/* Closes the socket once, whoever asks first; its pending requests complete
 * (cancelled) before or while WskCloseSocket completes. */
static void ep_close(struct endpoint *e)
{
    const WSK_PROVIDER_BASIC_DISPATCH *d;
    NTSTATUS st;

    if (e->sock == NULL || InterlockedExchange(&e->closed, 1) != 0)
        return;
    d = (const WSK_PROVIDER_BASIC_DISPATCH *)e->sock->Dispatch;
    st = d->WskCloseSocket(e->sock, req_begin(&e->close_req));
    req_end(&e->close_req, st, NULL);
}

/* The unload's close: no new call may start, and none is in progress. */
static void ep_shut(struct endpoint *e)
{
    LARGE_INTEGER delay;

    delay.QuadPart = -10000; /* 1 ms */
    InterlockedExchange(&e->closing, 1);
    while (e->inside != 0) /* a dispatch call returns without waiting */
        KeDelayExecutionThread(KernelMode, FALSE, &delay);
    ep_close(e);
}

/* ---- the server ------------------------------------------------------------ */

struct conn {
    LIST_ENTRY link;
    PVOID thread; /* referenced thread object */
    struct endpoint ep;
    PUCHAR buf;
    PMDL mdl;
    volatile LONG finished;
};

static WSK_REGISTRATION g_registration;
static WSK_PROVIDER_NPI g_npi;
static BOOLEAN g_registered, g_captured;
static const WSK_CLIENT_DISPATCH g_client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static WSK_CLIENT_NPI g_client = {NULL, &g_client_dispatch};

static int g_port = RAW_DEFAULT_PORT;
static struct endpoint g_listener;
static PVOID g_listener_thread;
static volatile LONG g_stopping;
static volatile LONG g_accepted;
static LIST_ENTRY g_conns; /* the listener thread's until it has ended */

static void conn_free(struct conn *c)
{
    ep_free(&c->ep);
    if (c->mdl)
        IoFreeMdl(c->mdl);
    if (c->buf)
        ExFreePoolWithTag(c->buf, RAW_TAG);
    ExFreePoolWithTag(c, RAW_TAG);
}

/* One receive or send of the connection's buffer [off, off + len). */
static NTSTATUS conn_io(struct conn *c, BOOLEAN send, ULONG off, ULONG len, ULONG_PTR *done)
{
    const WSK_PROVIDER_CONNECTION_DISPATCH *d;
    WSK_BUF wb;
    NTSTATUS st;

    /* The socket may be closed (freed) by the unload once we are out. */
    if (!ep_enter(&c->ep))
        return STATUS_CANCELLED;
    d = (const WSK_PROVIDER_CONNECTION_DISPATCH *)c->ep.sock->Dispatch;
    wb.Mdl = c->mdl;
    wb.Offset = off;
    wb.Length = len;
    st = send ? d->WskSend(c->ep.sock, &wb, 0, req_begin(&c->ep.io))
              : d->WskReceive(c->ep.sock, &wb, 0, req_begin(&c->ep.io));
    ep_leave(&c->ep);
    return req_end(&c->ep.io, st, done);
}

static VOID NTAPI conn_thread(PVOID ctx)
{
    struct conn *c = (struct conn *)ctx;
    BOOLEAN first = TRUE;

    for (;;) {
        ULONG_PTR got = 0, sent = 0;
        NTSTATUS st = conn_io(c, FALSE, 0, RAW_BUF, &got);

        if (!NT_SUCCESS(st) || got == 0)
            break; /* error, cancelled by the unload, or orderly close */
        if (first && got == 8 && RtlCompareMemory(c->buf, "BENCHEND", 8) == 8) {
            LOG("stop requested (connections=%ld)\n", g_accepted);
            break;
        }
        first = FALSE;
        /* A stream send completes once all of it is taken; loop anyway. */
        while (sent < got) {
            ULONG_PTR n = 0;
            st = conn_io(c, TRUE, (ULONG)sent, (ULONG)(got - sent), &n);
            if (!NT_SUCCESS(st) || n == 0)
                goto out;
            sent += n;
        }
    }
out:
    ep_close(&c->ep); /* a no-op if the unload closed it */
    InterlockedExchange(&c->finished, 1);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* Frees the connections whose thread has ended (wait: all of them). */
static void reap(BOOLEAN wait)
{
    PLIST_ENTRY e = g_conns.Flink;

    while (e != &g_conns) {
        struct conn *c = CONTAINING_RECORD(e, struct conn, link);
        e = e->Flink;
        if (wait)
            kd_thread_join_forever(c->thread, "raw-echo", "a connection thread");
        else if (c->finished && kd_thread_join(c->thread, 0))
            ObDereferenceObject(c->thread);
        else
            continue;
        RemoveEntryList(&c->link);
        conn_free(c);
    }
}

static NTSTATUS conn_start(PWSK_SOCKET s)
{
    struct conn *c = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*c), RAW_TAG);
    NTSTATUS st;

    if (!c)
        return STATUS_INSUFFICIENT_RESOURCES;
    RtlZeroMemory(c, sizeof(*c));
    st = ep_init(&c->ep);
    c->ep.sock = s;
    c->buf = ExAllocatePoolWithTag(NonPagedPoolNx, RAW_BUF, RAW_TAG);
    if (NT_SUCCESS(st) && c->buf)
        c->mdl = IoAllocateMdl(c->buf, RAW_BUF, FALSE, FALSE, NULL);
    if (!NT_SUCCESS(st) || !c->mdl) {
        ep_close(&c->ep);
        conn_free(c);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    MmBuildMdlForNonPagedPool(c->mdl);
    st = kd_thread_start(conn_thread, c, &c->thread);
    if (!NT_SUCCESS(st)) {
        ep_close(&c->ep);
        conn_free(c);
        return st;
    }
    InsertTailList(&g_conns, &c->link);
    return STATUS_SUCCESS;
}

/* Creates the listening socket bound to 127.0.0.1:g_port (listens at bind). */
static NTSTATUS listen_socket(void)
{
    const WSK_PROVIDER_LISTEN_DISPATCH *d;
    struct sockaddr_in a;
    NTSTATUS st;
    ULONG_PTR info = 0;

    st = g_npi.Dispatch->WskSocket(g_npi.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP,
                                   WSK_FLAG_LISTEN_SOCKET, NULL, NULL, NULL, NULL, NULL,
                                   req_begin(&g_listener.io));
    st = req_end(&g_listener.io, st, &info);
    if (!NT_SUCCESS(st))
        return st;
    g_listener.sock = (PWSK_SOCKET)info;
    RtlZeroMemory(&a, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = (USHORT)(((g_port & 0xff) << 8) | ((g_port >> 8) & 0xff));
    a.sin_addr.s_addr = 0x0100007f; /* 127.0.0.1 in network order, read on x86 */
    if (!ep_enter(&g_listener))
        return STATUS_CANCELLED;
    d = (const WSK_PROVIDER_LISTEN_DISPATCH *)g_listener.sock->Dispatch;
    st = d->WskBind(g_listener.sock, (PSOCKADDR)&a, 0, req_begin(&g_listener.io));
    ep_leave(&g_listener);
    return req_end(&g_listener.io, st, NULL);
}

static VOID NTAPI listener_thread(PVOID ctx)
{
    NTSTATUS st;

    UNREFERENCED_PARAMETER(ctx);
    st = WskCaptureProviderNPI(&g_registration, RAW_CAPTURE_WAIT_MS, &g_npi);
    if (!NT_SUCCESS(st)) {
        LOG("WskCaptureProviderNPI failed: 0x%08lx\n", (ULONG)st);
        goto out;
    }
    g_captured = TRUE;
    st = listen_socket();
    if (!NT_SUCCESS(st)) {
        LOG("listen on port %d failed: 0x%08lx\n", g_port, (ULONG)st);
        goto out;
    }
    LOG("listening on port %d\n", g_port);

    while (!g_stopping) {
        const WSK_PROVIDER_LISTEN_DISPATCH *d;
        ULONG_PTR info = 0;

        if (!ep_enter(&g_listener))
            break;
        d = (const WSK_PROVIDER_LISTEN_DISPATCH *)g_listener.sock->Dispatch;
        st = d->WskAccept(g_listener.sock, 0, NULL, NULL, NULL, NULL, req_begin(&g_listener.io));
        ep_leave(&g_listener);
        st = req_end(&g_listener.io, st, &info);
        if (!NT_SUCCESS(st) || info == 0) {
            if (g_stopping)
                break;
            LOG("WskAccept failed: 0x%08lx\n", (ULONG)st);
            if (st == STATUS_CANCELLED || st == STATUS_INVALID_DEVICE_STATE)
                break;
            continue;
        }
        reap(FALSE);
        InterlockedIncrement(&g_accepted);
        st = conn_start((PWSK_SOCKET)info);
        if (!NT_SUCCESS(st))
            LOG("cannot serve a connection: 0x%08lx\n", (ULONG)st);
    }
out:
    /* Covers an unload that came while the socket was being created (its
     * close then found no socket); a no-op after the unload's close. */
    ep_close(&g_listener);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static void deregister(void)
{
    if (g_captured)
        WskReleaseProviderNPI(&g_registration);
    if (g_registered)
        WskDeregister(&g_registration);
    g_captured = g_registered = FALSE;
}

static VOID raw_unload(PDRIVER_OBJECT driver)
{
    PLIST_ENTRY e;

    UNREFERENCED_PARAMETER(driver);
    InterlockedExchange(&g_stopping, 1);
    ep_shut(&g_listener); /* its pending WskAccept completes, cancelled */
    if (g_listener_thread)
        kd_thread_join_forever(g_listener_thread, "raw-echo", "the listener thread");
    /* The list is final now: close every connection still served. */
    for (e = g_conns.Flink; e != &g_conns; e = e->Flink)
        ep_shut(&CONTAINING_RECORD(e, struct conn, link)->ep);
    reap(TRUE);
    ep_free(&g_listener);
    deregister();
    LOG("unloaded (connections=%ld)\n", g_accepted);
}

/* Reads the REG_SZ (or REG_DWORD) value Port of <registry_path>\Parameters. */
static int read_port(PUNICODE_STRING registry_path, int def)
{
    static const WCHAR sub[] = L"\\Parameters";
    ULONG kvbuf[(sizeof(KEY_VALUE_PARTIAL_INFORMATION) + 64) / sizeof(ULONG)];
    KEY_VALUE_PARTIAL_INFORMATION *kv = (KEY_VALUE_PARTIAL_INFORMATION *)kvbuf;
    WCHAR pathbuf[512];
    UNICODE_STRING path, name;
    OBJECT_ATTRIBUTES oa;
    HANDLE key;
    ULONG len = 0, i;
    int v = 0;
    NTSTATUS st;

    if (registry_path->Length + sizeof(sub) > sizeof(pathbuf))
        return def;
    RtlCopyMemory(pathbuf, registry_path->Buffer, registry_path->Length);
    RtlCopyMemory((PUCHAR)pathbuf + registry_path->Length, sub, sizeof(sub));
    path.Buffer = pathbuf;
    path.Length = (USHORT)(registry_path->Length + sizeof(sub) - sizeof(WCHAR));
    path.MaximumLength = (USHORT)(path.Length + sizeof(WCHAR));
    RtlInitUnicodeString(&name, L"Port");
    InitializeObjectAttributes(&oa, &path, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL, NULL);
    if (!NT_SUCCESS(ZwOpenKey(&key, KEY_READ, &oa)))
        return def;
    st = ZwQueryValueKey(key, &name, KeyValuePartialInformation, kv, sizeof(kvbuf), &len);
    ZwClose(key);
    if (!NT_SUCCESS(st))
        return def;
    if (kv->Type == REG_DWORD && kv->DataLength == 4)
        return (int)*(ULONG *)kv->Data;
    if (kv->Type != REG_SZ)
        return def;
    for (i = 0; i + 1 < kv->DataLength; i += 2) {
        WCHAR ch = ((WCHAR *)kv->Data)[i / 2];
        if (ch == 0)
            break;
        if (ch < L'0' || ch > L'9' || v > 65535)
            return -1;
        v = v * 10 + (ch - L'0');
    }
    return i == 0 ? def : v;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    NTSTATUS st;

    InitializeListHead(&g_conns);
    g_port = read_port(registry_path, RAW_DEFAULT_PORT);
    if (g_port <= 0 || g_port > 65535) {
        LOG("bad Port parameter\n");
        return STATUS_INVALID_PARAMETER;
    }
    st = ep_init(&g_listener);
    if (!NT_SUCCESS(st)) {
        ep_free(&g_listener);
        return st;
    }
    st = WskRegister(&g_client, &g_registration);
    if (!NT_SUCCESS(st)) {
        LOG("WskRegister failed: 0x%08lx\n", (ULONG)st);
        ep_free(&g_listener);
        return st;
    }
    g_registered = TRUE;
    driver->DriverUnload = raw_unload;
    /* The NPI is captured (with a bounded wait) on the listener thread: no
     * waiting in DriverEntry. */
    st = kd_thread_start(listener_thread, NULL, &g_listener_thread);
    if (!NT_SUCCESS(st)) {
        LOG("cannot start the listener thread: 0x%08lx\n", (ULONG)st);
        g_listener_thread = NULL;
        deregister();
        ep_free(&g_listener);
        return st;
    }
    return STATUS_SUCCESS;
}
