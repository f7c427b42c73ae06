/*
 * impl_raw.c - the measured operations written directly on WSK: the
 * baseline wsksock is compared with. It does the work any correct driver
 * must do for the same calls and nothing more:
 *
 *  - one context per socket in nonpaged pool (its KEVENT is waited on) with
 *    one IRP, allocated once and reused (IoReuseIrp) for every request;
 *  - the completion routine keeps the IRP (STATUS_MORE_PROCESSING_REQUIRED)
 *    and sets the event only when the provider pended the request
 *    (Irp->PendingReturned), and the caller waits only when the call
 *    returned STATUS_PENDING: the WSK contract pairs the two ("Using IRPs
 *    with Winsock Kernel Functions"), so no interlocked handoff is needed;
 *  - a send or receive describes the caller's buffer with an MDL locked by
 *    MmProbeAndLockPages, unlocked and freed once the IRP completed;
 *  - a close disconnects gracefully first (WskCloseSocket alone is abortive
 *    on Windows), as BSD close() and ks_close() do.
 *
 * What it leaves out is what the library adds: descriptors checked by
 * generation, references, per-direction locks, the close protocol (closing
 * flag, calls drained, cancellation), bounded waits, IRQL checks, stored
 * options, readiness state, errno mapping.
 */
#include "instr.h"

#include <wsksock/wsk.h>

#include "hpeer.h"

const char instr_impl_name[] = "raw";

/* 'rwSo': raw socket contexts. */
#define RAW_TAG ((ULONG)'r' | ((ULONG)'w' << 8) | ((ULONG)'S' << 16) | ((ULONG)'o' << 24))
const ULONG instr_impl_tags[] = {RAW_TAG};
const int instr_impl_ntags = 1;

struct raw_sock {
    PWSK_SOCKET wsk;
    PIRP irp;
    KEVENT done; /* SynchronizationEvent: set for a pended request only */
    BOOLEAN connection;
};

static const WSK_CLIENT_DISPATCH raw_client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static WSK_CLIENT_NPI raw_client = {NULL, &raw_client_dispatch};
static WSK_REGISTRATION raw_registration;
static WSK_PROVIDER_NPI raw_npi;

int instr_startup(void)
{
    if (!NT_SUCCESS(WskRegister(&raw_client, &raw_registration)))
        return -1;
    if (!NT_SUCCESS(WskCaptureProviderNPI(&raw_registration, WSK_NO_WAIT, &raw_npi))) {
        WskDeregister(&raw_registration);
        return -1;
    }
    return 0;
}

void instr_cleanup(void)
{
    WskReleaseProviderNPI(&raw_registration);
    WskDeregister(&raw_registration);
}

static IO_COMPLETION_ROUTINE raw_done;

static NTSTATUS raw_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    UNREFERENCED_PARAMETER(device);
    /* A request completed inside the call (not pended) has no waiter. */
    if (irp->PendingReturned)
        KeSetEvent((PKEVENT)context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static struct raw_sock *raw_new(BOOLEAN connection)
{
    /* Every field is set below: no need to zero the block. */
    struct raw_sock *r =
        (struct raw_sock *)ExAllocatePoolWithTag(NonPagedPool, sizeof(*r), RAW_TAG);
    if (r == NULL)
        return NULL;
    r->irp = IoAllocateIrp(1, FALSE);
    if (r->irp == NULL) {
        ExFreePoolWithTag(r, RAW_TAG);
        return NULL;
    }
    r->wsk = NULL;
    r->connection = connection;
    KeInitializeEvent(&r->done, SynchronizationEvent, FALSE);
    return r;
}

static void raw_free(struct raw_sock *r)
{
    IoFreeIrp(r->irp);
    ExFreePoolWithTag(r, RAW_TAG);
}

static PIRP raw_begin(struct raw_sock *r)
{
    IoReuseIrp(r->irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(r->irp, raw_done, &r->done, TRUE, TRUE, TRUE);
    return r->irp;
}

/* The request's final status; *info its Information. */
static NTSTATUS raw_end(struct raw_sock *r, NTSTATUS status, ULONG_PTR *info)
{
    if (status == STATUS_PENDING) {
        KeWaitForSingleObject(&r->done, Executive, KernelMode, FALSE, NULL);
        status = r->irp->IoStatus.Status;
    }
    if (info != NULL)
        *info = NT_SUCCESS(status) ? r->irp->IoStatus.Information : 0;
    return status;
}

/* IPv4 address: 127.0.0.1:port, or the wildcard address (port 0). */
static void ipv4_addr(SOCKADDR_IN *a, BOOLEAN loopback, int port)
{
    RtlZeroMemory(a, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_port = (USHORT)(((unsigned)port >> 8 & 0xff) | ((unsigned)port & 0xff) << 8);
    if (loopback)
        a->sin_addr.s_addr = 0x0100007fu; /* 127.0.0.1 in network byte order */
}

/* A WSK socket of the given kind in r->wsk, bound to addr. */
static NTSTATUS raw_create_bound(struct raw_sock *r, ULONG kind, SOCKADDR_IN *addr)
{
    ULONG_PTR info;
    NTSTATUS st = raw_npi.Dispatch->WskSocket(raw_npi.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP,
                                              kind, r, NULL, NULL, NULL, NULL, raw_begin(r));
    st = raw_end(r, st, &info);
    if (!NT_SUCCESS(st))
        return st;
    r->wsk = (PWSK_SOCKET)info;
    /* Bind is at the same place in every socket table. */
    const WSK_PROVIDER_LISTEN_DISPATCH *d = (const WSK_PROVIDER_LISTEN_DISPATCH *)r->wsk->Dispatch;
    st = raw_end(r, d->WskBind(r->wsk, (PSOCKADDR)addr, 0, raw_begin(r)), NULL);
    if (!NT_SUCCESS(st)) {
        raw_end(r, d->WskCloseSocket(r->wsk, raw_begin(r)), NULL);
        r->wsk = NULL;
    }
    return st;
}

instr_sock instr_listen(int *port)
{
    for (int tries = 0; tries < 20; tries++) {
        struct raw_sock *r = raw_new(FALSE);
        if (r == NULL)
            return 0;
        SOCKADDR_IN a;
        *port = hp_free_port(0);
        ipv4_addr(&a, TRUE, *port);
        /* A WSK listening socket listens once it is bound. */
        NTSTATUS st = raw_create_bound(r, WSK_FLAG_LISTEN_SOCKET, &a);
        if (NT_SUCCESS(st))
            return (instr_sock)r;
        raw_free(r);
        if (st != STATUS_ADDRESS_ALREADY_EXISTS)
            return 0;
    }
    return 0;
}

instr_sock instr_connect(int port)
{
    struct raw_sock *r = raw_new(TRUE);
    if (r == NULL)
        return 0;
    SOCKADDR_IN any, to;
    ipv4_addr(&any, FALSE, 0);
    ipv4_addr(&to, TRUE, port);
    /* The same WSK calls as ks_socket + ks_connect (WskSocketConnect would
     * save the bind's round trip, but then the provider's work would differ). */
    NTSTATUS st = raw_create_bound(r, WSK_FLAG_CONNECTION_SOCKET, &any);
    if (NT_SUCCESS(st)) {
        const WSK_PROVIDER_CONNECTION_DISPATCH *d =
            (const WSK_PROVIDER_CONNECTION_DISPATCH *)r->wsk->Dispatch;
        st = raw_end(r, d->WskConnect(r->wsk, (PSOCKADDR)&to, 0, raw_begin(r)), NULL);
        if (!NT_SUCCESS(st))
            raw_end(r, d->WskCloseSocket(r->wsk, raw_begin(r)), NULL);
    }
    if (!NT_SUCCESS(st)) {
        raw_free(r);
        return 0;
    }
    return (instr_sock)r;
}

instr_sock instr_accept(instr_sock listener)
{
    struct raw_sock *l = (struct raw_sock *)listener;
    /* The connection's context exists before the provider hands it over, so
     * nothing can fail after the accept (as the library does). */
    struct raw_sock *r = raw_new(TRUE);
    if (r == NULL)
        return 0;
    const WSK_PROVIDER_LISTEN_DISPATCH *d = (const WSK_PROVIDER_LISTEN_DISPATCH *)l->wsk->Dispatch;
    ULONG_PTR info;
    NTSTATUS st = raw_end(l, d->WskAccept(l->wsk, 0, r, NULL, NULL, NULL, raw_begin(l)), &info);
    if (!NT_SUCCESS(st) || info == 0) {
        raw_free(r);
        return 0;
    }
    r->wsk = (PWSK_SOCKET)info;
    return (instr_sock)r;
}

/* One send or receive of buf through an MDL locked for the provider. */
static long raw_io(struct raw_sock *r, void *buf, ULONG len, BOOLEAN send)
{
    if (len == 0)
        return 0;
    PMDL mdl = IoAllocateMdl(buf, len, FALSE, FALSE, NULL);
    if (mdl == NULL)
        return -1;
    MmProbeAndLockPages(mdl, KernelMode, send ? IoReadAccess : IoWriteAccess);
    WSK_BUF wbuf;
    wbuf.Mdl = mdl;
    wbuf.Offset = 0;
    wbuf.Length = len;
    const WSK_PROVIDER_CONNECTION_DISPATCH *d =
        (const WSK_PROVIDER_CONNECTION_DISPATCH *)r->wsk->Dispatch;
    PIRP irp = raw_begin(r);
    NTSTATUS st = send ? d->WskSend(r->wsk, &wbuf, 0, irp) : d->WskReceive(r->wsk, &wbuf, 0, irp);
    ULONG_PTR info;
    st = raw_end(r, st, &info);
    /* The provider is done with the pages only now. */
    MmUnlockPages(mdl);
    IoFreeMdl(mdl);
    return NT_SUCCESS(st) ? (long)info : -1;
}

long instr_send(instr_sock s, const void *buf, ULONG len)
{
    /* A WSK send completes when all of it was sent (or fails). */
    return raw_io((struct raw_sock *)s, (void *)buf, len, TRUE);
}

long instr_recv(instr_sock s, void *buf, ULONG len)
{
    return raw_io((struct raw_sock *)s, buf, len, FALSE);
}

void instr_close(instr_sock s)
{
    struct raw_sock *r = (struct raw_sock *)s;
    const WSK_PROVIDER_CONNECTION_DISPATCH *d =
        (const WSK_PROVIDER_CONNECTION_DISPATCH *)r->wsk->Dispatch;
    if (r->connection)
        raw_end(r, d->WskDisconnect(r->wsk, NULL, 0, raw_begin(r)), NULL);
    raw_end(r, d->WskCloseSocket(r->wsk, raw_begin(r)), NULL);
    raw_free(r);
}
