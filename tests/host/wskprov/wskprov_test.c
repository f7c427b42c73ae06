/*
 * wskprov_test.c - the WSK provider's own test: raw WSK calls, with the
 * test's own IRPs, completion routine and events, checked against the
 * documented semantics: registration and capture (a provider that attaches
 * late, WskDeregister waiting for sockets), TCP over IPv4 and IPv6 (listen,
 * accept, connect, send and receive with data checks, WAITALL, MDL chains),
 * graceful and abortive disconnects, close and IoCancelIrp cancelling
 * pending requests, refused connects, bind conflicts, UDP (boundaries,
 * sender address, truncation), options, addresses, name resolution, the
 * completion mode, every fault site (a re-executed child per site, with
 * KSHIM_FAULT set) and the violations (children that must exit with 86).
 *
 * Every wait is bounded (10 s) so that a bug fails instead of hanging.
 * Prints "wskprov_test: N checks passed"; exits non-zero on a failure.
 */
#define _GNU_SOURCE /* setenv, execv: before ntddk.h includes <string.h> */
#include <kshim.h>
#include <ntddk.h>
#include <wskprov.h>

#include "wsksock/wsk.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int checks, failures;

#define CHECK(c, ...)                                                                              \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(c)) {                                                                                \
            failures++;                                                                            \
            printf("wskprov_test: FAIL %s:%d: %s: ", __FILE__, __LINE__, #c);                      \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

#define WAIT_MS 10000
/* An NTSTATUS for %lx. */
#define HX(st) ((unsigned long)(ULONG)(st))

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

static void sleep_ms(LONGLONG ms)
{
    LARGE_INTEGER t = rel_ms(ms);
    KeDelayExecutionThread(KernelMode, FALSE, &t);
}

static USHORT be16(USHORT v)
{
    return (USHORT)((v >> 8) | (v << 8));
}

/* ---- operations: one IRP, its completion routine, an event ---- */

struct op {
    PIRP irp;
    KEVENT done;
    volatile LONG completed;
    KIRQL irql;      /* IRQL the completion routine ran at */
    HANDLE thread;   /* thread it ran on */
    LONG pending_ok; /* returned STATUS_PENDING (set by run) */
};

static IO_COMPLETION_ROUTINE op_done;

static NTSTATUS op_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    struct op *o = (struct op *)context;
    UNREFERENCED_PARAMETER(device);
    UNREFERENCED_PARAMETER(irp);
    o->irql = KeGetCurrentIrql();
    o->thread = PsGetCurrentThreadId();
    InterlockedExchange(&o->completed, 1);
    KeSetEvent(&o->done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static void op_init(struct op *o)
{
    RtlZeroMemory(o, sizeof(*o));
    o->irp = IoAllocateIrp(1, FALSE);
    KeInitializeEvent(&o->done, NotificationEvent, FALSE);
    if (o->irp == NULL) {
        printf("wskprov_test: IoAllocateIrp failed\n");
        exit(2);
    }
}

static void op_free(struct op *o)
{
    IoFreeIrp(o->irp);
    o->irp = NULL;
}

static PIRP op_begin(struct op *o)
{
    IoReuseIrp(o->irp, STATUS_UNSUCCESSFUL);
    KeClearEvent(&o->done);
    o->completed = 0;
    o->irql = 0xff;
    IoSetCompletionRoutine(o->irp, op_done, o, TRUE, TRUE, TRUE);
    return o->irp;
}

/* Checks what the WSK function returned against the IRP ("Using IRPs with
 * Winsock Kernel Functions": STATUS_PENDING, or the status the IRP already
 * completed with). Must be called right after the function returned. */
static void op_returned(struct op *o, NTSTATUS returned, int line)
{
    LONG completed = o->completed;
    o->pending_ok = returned == STATUS_PENDING;
    if (returned != STATUS_PENDING) {
        CHECK(completed, "line %d: returned 0x%lx without completing the IRP", line, HX(returned));
        if (completed)
            CHECK(o->irp->IoStatus.Status == returned,
                  "line %d: returned 0x%lx, IRP completed with 0x%lx", line, HX(returned),
                  HX(o->irp->IoStatus.Status));
    }
    if (wskprov_completion_mode() == WSKPROV_COMPLETION_ASYNC)
        CHECK(returned == STATUS_PENDING, "line %d: async mode returned 0x%lx", line, HX(returned));
}

/* Waits (bounded) for the IRP; returns its status (STATUS_TIMEOUT marks a
 * hang, after cancelling it). */
static NTSTATUS op_wait(struct op *o, ULONG_PTR *info)
{
    LARGE_INTEGER t = rel_ms(WAIT_MS);
    NTSTATUS w = KeWaitForSingleObject(&o->done, Executive, KernelMode, FALSE, &t);
    if (w == STATUS_TIMEOUT) {
        CHECK(0, "an operation did not complete within %d ms", WAIT_MS);
        IoCancelIrp(o->irp);
        t = rel_ms(WAIT_MS);
        if (KeWaitForSingleObject(&o->done, Executive, KernelMode, FALSE, &t) == STATUS_TIMEOUT) {
            printf("wskprov_test: an operation ignores cancellation; giving up\n");
            fflush(stdout);
            _exit(1);
        }
        if (info != NULL)
            *info = 0;
        return STATUS_TIMEOUT;
    }
    if (info != NULL)
        *info = o->irp->IoStatus.Information;
    return o->irp->IoStatus.Status;
}

/* Runs a WSK call on op o and waits for it. */
#define RUN(o, call, info) (op_returned((o), (call), __LINE__), op_wait((o), (info)))
/* Starts a WSK call on op o that is to pend. */
#define START(o, call) op_returned((o), (call), __LINE__)

/* ---- buffers ---- */

struct buf {
    PMDL mdl;
    WSK_BUF wb;
};

static void buf_lock(struct buf *b, void *p, ULONG len)
{
    b->mdl = NULL;
    b->wb.Mdl = NULL;
    b->wb.Offset = 0;
    b->wb.Length = len;
    if (len == 0)
        return;
    b->mdl = IoAllocateMdl(p, len, FALSE, FALSE, NULL);
    if (b->mdl == NULL) {
        printf("wskprov_test: IoAllocateMdl failed\n");
        exit(2);
    }
    MmProbeAndLockPages(b->mdl, KernelMode, IoModifyAccess);
    b->wb.Mdl = b->mdl;
}

static void buf_unlock(struct buf *b)
{
    if (b->mdl != NULL) {
        MmUnlockPages(b->mdl);
        IoFreeMdl(b->mdl);
        b->mdl = NULL;
    }
}

static void pattern(UCHAR *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (UCHAR)((i * 7 + seed + (i >> 11)) & 0xff);
}

static int pattern_ok(const UCHAR *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (UCHAR)((i * 7 + seed + (i >> 11)) & 0xff))
            return 0;
    return 1;
}

/* ---- the provider ---- */

static const WSK_CLIENT_DISPATCH client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static WSK_CLIENT_NPI client_npi = {NULL, &client_dispatch};
static WSK_REGISTRATION registration;
static WSK_PROVIDER_NPI npi;

static void start_provider(void)
{
    NTSTATUS st = WskRegister(&client_npi, &registration);
    CHECK(st == STATUS_SUCCESS, "WskRegister 0x%lx", HX(st));
    st = WskCaptureProviderNPI(&registration, WSK_NO_WAIT, &npi);
    CHECK(st == STATUS_SUCCESS, "WskCaptureProviderNPI 0x%lx", HX(st));
    if (!NT_SUCCESS(st))
        exit(1);
}

static void stop_provider(void)
{
    WskReleaseProviderNPI(&registration);
    WskDeregister(&registration);
}

static struct op ctl; /* control operations of the main thread */

static PWSK_SOCKET make_socket(ADDRESS_FAMILY family, ULONG flags)
{
    USHORT type = flags == WSK_FLAG_DATAGRAM_SOCKET ? SOCK_DGRAM : SOCK_STREAM;
    ULONG proto = type == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP;
    ULONG_PTR info = 0;
    NTSTATUS st = RUN(&ctl,
                      npi.Dispatch->WskSocket(npi.Client, family, type, proto, flags, NULL, NULL,
                                              NULL, NULL, NULL, op_begin(&ctl)),
                      &info);
    CHECK(st == STATUS_SUCCESS && info != 0, "WskSocket 0x%lx", HX(st));
    return NT_SUCCESS(st) ? (PWSK_SOCKET)info : NULL;
}

static const WSK_PROVIDER_BASIC_DISPATCH *basic(PWSK_SOCKET s)
{
    return (const WSK_PROVIDER_BASIC_DISPATCH *)s->Dispatch;
}
static const WSK_PROVIDER_LISTEN_DISPATCH *listen_d(PWSK_SOCKET s)
{
    return (const WSK_PROVIDER_LISTEN_DISPATCH *)s->Dispatch;
}
static const WSK_PROVIDER_CONNECTION_DISPATCH *conn_d(PWSK_SOCKET s)
{
    return (const WSK_PROVIDER_CONNECTION_DISPATCH *)s->Dispatch;
}
static const WSK_PROVIDER_DATAGRAM_DISPATCH *dgram_d(PWSK_SOCKET s)
{
    return (const WSK_PROVIDER_DATAGRAM_DISPATCH *)s->Dispatch;
}

static NTSTATUS close_socket(PWSK_SOCKET s)
{
    return RUN(&ctl, basic(s)->WskCloseSocket(s, op_begin(&ctl)), NULL);
}

/* Loopback (or wildcard) address of a family with a port (host order). */
static void make_addr(ADDRESS_FAMILY family, BOOLEAN loopback, USHORT port, SOCKADDR_STORAGE *ss)
{
    RtlZeroMemory(ss, sizeof(*ss));
    if (family == AF_INET) {
        SOCKADDR_IN *sin = (SOCKADDR_IN *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = be16(port);
        if (loopback)
            sin->sin_addr.s_addr = 0x0100007f; /* 127.0.0.1, network order */
    } else {
        SOCKADDR_IN6 *sin6 = (SOCKADDR_IN6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = be16(port);
        if (loopback)
            sin6->sin6_addr.s6_addr[15] = 1;
    }
}

static USHORT port_of(const SOCKADDR_STORAGE *ss)
{
    return be16(((const SOCKADDR_IN *)ss)->sin_port);
}

static NTSTATUS bind_socket(PWSK_SOCKET s, ADDRESS_FAMILY family, USHORT port)
{
    SOCKADDR_STORAGE a;
    make_addr(family, TRUE, port, &a);
    return RUN(&ctl, listen_d(s)->WskBind(s, (PSOCKADDR)&a, 0, op_begin(&ctl)), NULL);
}

/* The local port of s (kind: its WSK_FLAG_*_SOCKET; each table has
 * WskGetLocalAddress at its own place). */
static USHORT local_port(PWSK_SOCKET s, ULONG kind)
{
    SOCKADDR_STORAGE a;
    PFN_WSK_GET_LOCAL_ADDRESS fn = kind == WSK_FLAG_LISTEN_SOCKET ? listen_d(s)->WskGetLocalAddress
                                   : kind == WSK_FLAG_DATAGRAM_SOCKET
                                       ? dgram_d(s)->WskGetLocalAddress
                                       : conn_d(s)->WskGetLocalAddress;
    RtlZeroMemory(&a, sizeof(a));
    NTSTATUS st = RUN(&ctl, fn(s, (PSOCKADDR)&a, op_begin(&ctl)), NULL);
    CHECK(st == STATUS_SUCCESS, "WskGetLocalAddress 0x%lx", HX(st));
    return port_of(&a);
}

/* A listening socket on loopback, port chosen by the system. */
static PWSK_SOCKET make_listener(ADDRESS_FAMILY family, USHORT *port)
{
    PWSK_SOCKET l = make_socket(family, WSK_FLAG_LISTEN_SOCKET);
    if (l == NULL)
        return NULL;
    NTSTATUS st = bind_socket(l, family, 0);
    CHECK(st == STATUS_SUCCESS, "WskBind listener 0x%lx", HX(st));
    *port = local_port(l, WSK_FLAG_LISTEN_SOCKET);
    CHECK(*port != 0, "listener port");
    return l;
}

/* Connects a new connection socket to port; accepts it on l. */
static BOOLEAN make_pair(ADDRESS_FAMILY family, PWSK_SOCKET l, USHORT port, PWSK_SOCKET *client,
                         PWSK_SOCKET *server)
{
    struct op acc, con;
    SOCKADDR_STORAGE remote, acc_local, acc_remote;
    ULONG_PTR info = 0;
    op_init(&acc);
    op_init(&con);
    *client = *server = NULL;
    /* The accept pends first: no connection yet. */
    START(&acc, listen_d(l)->WskAccept(l, 0, NULL, NULL, (PSOCKADDR)&acc_local,
                                       (PSOCKADDR)&acc_remote, op_begin(&acc)));
    CHECK(acc.pending_ok, "WskAccept with no connection pends");
    PWSK_SOCKET c = make_socket(family, WSK_FLAG_CONNECTION_SOCKET);
    NTSTATUS st = bind_socket(c, family, 0);
    CHECK(st == STATUS_SUCCESS, "bind connection socket 0x%lx", HX(st));
    make_addr(family, TRUE, port, &remote);
    st = RUN(&con, conn_d(c)->WskConnect(c, (PSOCKADDR)&remote, 0, op_begin(&con)), NULL);
    CHECK(st == STATUS_SUCCESS, "WskConnect 0x%lx", HX(st));
    CHECK(con.pending_ok, "WskConnect always pends");
    CHECK(con.irql == DISPATCH_LEVEL, "a connect completes on a provider thread at DISPATCH");
    NTSTATUS ast = op_wait(&acc, &info);
    CHECK(ast == STATUS_SUCCESS && info != 0, "WskAccept 0x%lx", HX(ast));
    CHECK(acc.irql == DISPATCH_LEVEL, "a pending accept completes at DISPATCH_LEVEL");
    if (NT_SUCCESS(ast)) {
        CHECK(acc_local.ss_family == family && port_of(&acc_local) == port, "accept LocalAddress");
        CHECK(acc_remote.ss_family == family &&
                  port_of(&acc_remote) == local_port(c, WSK_FLAG_CONNECTION_SOCKET),
              "accept RemoteAddress is the client's");
    }
    op_free(&acc);
    op_free(&con);
    *client = c;
    *server = NT_SUCCESS(ast) ? (PWSK_SOCKET)info : NULL;
    return NT_SUCCESS(st) && NT_SUCCESS(ast);
}

static NTSTATUS send_all(PWSK_SOCKET s, void *p, ULONG len, ULONG flags, ULONG_PTR *info)
{
    struct op o;
    struct buf b;
    op_init(&o);
    buf_lock(&b, p, len);
    NTSTATUS st = RUN(&o, conn_d(s)->WskSend(s, &b.wb, flags, op_begin(&o)), info);
    buf_unlock(&b);
    op_free(&o);
    return st;
}

static NTSTATUS recv_some(PWSK_SOCKET s, void *p, ULONG len, ULONG flags, ULONG_PTR *info)
{
    struct op o;
    struct buf b;
    op_init(&o);
    buf_lock(&b, p, len);
    NTSTATUS st = RUN(&o, conn_d(s)->WskReceive(s, &b.wb, flags, op_begin(&o)), info);
    buf_unlock(&b);
    op_free(&o);
    return st;
}

/* ---- tests ---- */

static NTSTATUS set_opt(PWSK_SOCKET s, ULONG level, ULONG code, ULONG value);

static HANDLE start_thread(PKSTART_ROUTINE fn, PVOID arg)
{
    HANDLE h = NULL;
    NTSTATUS st = PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, fn, arg);
    CHECK(st == STATUS_SUCCESS, "PsCreateSystemThread 0x%lx", HX(st));
    return h;
}

static void attach_later(PVOID arg)
{
    UNREFERENCED_PARAMETER(arg);
    sleep_ms(200);
    wskprov_set_attached(TRUE);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

struct dereg {
    WSK_REGISTRATION *reg;
    KEVENT done;
};

static void deregister_thread(PVOID arg)
{
    struct dereg *d = (struct dereg *)arg;
    WskReleaseProviderNPI(d->reg);
    WskDeregister(d->reg);
    KeSetEvent(&d->done, IO_NO_INCREMENT, FALSE);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* "WskCaptureProviderNPI", "WskDeregister". */
static void test_registration(void)
{
    WSK_REGISTRATION reg2;
    WSK_PROVIDER_NPI npi2;
    WSK_PROVIDER_CHARACTERISTICS pc;
    CHECK(WskQueryProviderCharacteristics(&registration, &pc) == STATUS_SUCCESS &&
              pc.LowestVersion == MAKE_WSK_VERSION(1, 0),
          "WskQueryProviderCharacteristics");
    CHECK(WskRegister(&client_npi, &reg2) == STATUS_SUCCESS, "second WskRegister");

    /* A provider that attaches late. */
    wskprov_set_attached(FALSE);
    CHECK(WskCaptureProviderNPI(&reg2, WSK_NO_WAIT, &npi2) == STATUS_DEVICE_NOT_READY,
          "capture without waiting while not attached");
    LONGLONG t0 = now_ms();
    CHECK(WskCaptureProviderNPI(&reg2, 150, &npi2) == STATUS_DEVICE_NOT_READY,
          "timed capture while not attached");
    CHECK(now_ms() - t0 >= 140, "a timed capture waits (%lld ms)", (long long)(now_ms() - t0));
    HANDLE h = start_thread(attach_later, NULL);
    t0 = now_ms();
    NTSTATUS st = WskCaptureProviderNPI(&reg2, 5000, &npi2);
    CHECK(st == STATUS_SUCCESS, "capture waiting for the attach 0x%lx", HX(st));
    CHECK(now_ms() - t0 >= 150 && now_ms() - t0 < 5000, "capture returned when attached");
    ZwClose(h);
    CHECK(wskprov_attached(), "attached again");

    /* WskDeregister waits for the registration's sockets. */
    struct op o;
    ULONG_PTR info = 0;
    op_init(&o);
    st = RUN(&o,
             npi2.Dispatch->WskSocket(npi2.Client, AF_INET, SOCK_DGRAM, IPPROTO_UDP,
                                      WSK_FLAG_DATAGRAM_SOCKET, NULL, NULL, NULL, NULL, NULL,
                                      op_begin(&o)),
             &info);
    CHECK(st == STATUS_SUCCESS, "WskSocket on the second registration");
    PWSK_SOCKET s = (PWSK_SOCKET)info;
    struct dereg d;
    d.reg = &reg2;
    KeInitializeEvent(&d.done, NotificationEvent, FALSE);
    h = start_thread(deregister_thread, &d);
    sleep_ms(300);
    CHECK(KeReadStateEvent(&d.done) == 0, "WskDeregister returned with a socket open");
    if (s != NULL)
        CHECK(RUN(&o, basic(s)->WskCloseSocket(s, op_begin(&o)), NULL) == STATUS_SUCCESS, "close");
    LARGE_INTEGER t = rel_ms(WAIT_MS);
    CHECK(KeWaitForSingleObject(&d.done, Executive, KernelMode, FALSE, &t) == STATUS_SUCCESS,
          "WskDeregister returned once the socket was closed");
    ZwClose(h);
    op_free(&o);
}

/* TCP: listen, accept, connect, send, receive, addresses ("WskAccept",
 * "WskConnect", "WskSend", "WskReceive", "WskGetRemoteAddress"). */
static void test_tcp(ADDRESS_FAMILY family)
{
    USHORT port = 0;
    PWSK_SOCKET l = make_listener(family, &port), c, s;
    if (l == NULL || !make_pair(family, l, port, &c, &s))
        return;

    /* 1 MiB client -> server: the receive (WAITALL) pends first. */
    const ULONG big = 1u << 20;
    UCHAR *out = malloc(big), *in = malloc(big);
    pattern(out, big, 1);
    RtlZeroMemory(in, big);
    struct op ro;
    struct buf rb;
    ULONG_PTR info = 0;
    op_init(&ro);
    buf_lock(&rb, in, big);
    START(&ro, conn_d(s)->WskReceive(s, &rb.wb, WSK_FLAG_WAITALL, op_begin(&ro)));
    CHECK(ro.pending_ok, "a receive with no data pends");
    NTSTATUS st = send_all(c, out, big, 0, &info);
    CHECK(st == STATUS_SUCCESS && info == big, "WskSend 1 MiB: 0x%lx %lu", HX(st),
          (unsigned long)info);
    st = op_wait(&ro, &info);
    buf_unlock(&rb);
    op_free(&ro);
    CHECK(st == STATUS_SUCCESS && info == big, "WAITALL receive of 1 MiB: 0x%lx %lu", HX(st),
          (unsigned long)info);
    CHECK(pattern_ok(in, big, 1), "1 MiB data intact");

    /* Server -> client without WAITALL: at least 1 byte, at most what was sent. */
    pattern(out, 1000, 2);
    CHECK(send_all(s, out, 1000, WSK_FLAG_NODELAY, &info) == STATUS_SUCCESS && info == 1000,
          "WskSend NODELAY");
    ULONG got = 0;
    while (got < 1000) {
        st = recv_some(c, in + got, 4096, 0, &info);
        if (st != STATUS_SUCCESS || info == 0)
            break;
        got += (ULONG)info;
    }
    CHECK(got == 1000 && pattern_ok(in, 1000, 2), "receive without WAITALL: %lu bytes",
          (unsigned long)got);

    /* A WSK_BUF over an MDL chain with an Offset into the first MDL. */
    UCHAR p1[8] = {0, 0, 'a', 'b', 'c', 'd', 'e', 'f'}, p2[8] = {'g', 'h', 'i', 'j', 'k', 'l'};
    PMDL m1 = IoAllocateMdl(p1, sizeof(p1), FALSE, FALSE, NULL);
    PMDL m2 = IoAllocateMdl(p2, sizeof(p2), FALSE, FALSE, NULL);
    MmProbeAndLockPages(m1, KernelMode, IoReadAccess);
    MmProbeAndLockPages(m2, KernelMode, IoReadAccess);
    m1->Next = m2;
    WSK_BUF chain = {m1, 2, 12};
    struct op so;
    op_init(&so);
    st = RUN(&so, conn_d(c)->WskSend(c, &chain, 0, op_begin(&so)), &info);
    CHECK(st == STATUS_SUCCESS && info == 12, "WskSend over an MDL chain");
    op_free(&so);
    m1->Next = NULL;
    MmUnlockPages(m1);
    MmUnlockPages(m2);
    IoFreeMdl(m1);
    IoFreeMdl(m2);
    RtlZeroMemory(in, 16);
    st = recv_some(s, in, 12, WSK_FLAG_WAITALL, &info);
    CHECK(st == STATUS_SUCCESS && info == 12 && memcmp(in, "abcdefghijkl", 12) == 0,
          "MDL chain data: %.12s", (char *)in);

    /* Addresses. */
    SOCKADDR_STORAGE a;
    RtlZeroMemory(&a, sizeof(a));
    st = RUN(&ctl, conn_d(c)->WskGetRemoteAddress(c, (PSOCKADDR)&a, op_begin(&ctl)), NULL);
    CHECK(st == STATUS_SUCCESS && a.ss_family == family && port_of(&a) == port,
          "WskGetRemoteAddress");
    RtlZeroMemory(&a, sizeof(a));
    st = RUN(&ctl, conn_d(s)->WskGetLocalAddress(s, (PSOCKADDR)&a, op_begin(&ctl)), NULL);
    CHECK(st == STATUS_SUCCESS && a.ss_family == family && port_of(&a) == port,
          "accepted socket's local address");
    if (family == AF_INET)
        CHECK(((SOCKADDR_IN *)&a)->sin_addr.s_addr == 0x0100007f, "127.0.0.1");
    else
        CHECK(((SOCKADDR_IN6 *)&a)->sin6_addr.s6_addr[15] == 1, "::1");

    /* A second connect on a connected socket. */
    make_addr(family, TRUE, port, &a);
    st = RUN(&ctl, conn_d(c)->WskConnect(c, (PSOCKADDR)&a, 0, op_begin(&ctl)), NULL);
    CHECK(st == STATUS_CONNECTION_ACTIVE, "connect twice 0x%lx", HX(st));

    /* Graceful disconnect with final data ("WskDisconnect"): the peer gets
     * the data, then a 0-byte receive; sending fails, receiving works. */
    struct op dop;
    struct buf db;
    op_init(&dop);
    buf_lock(&db, "bye", 3);
    st = RUN(&dop, conn_d(c)->WskDisconnect(c, &db.wb, 0, op_begin(&dop)), NULL);
    buf_unlock(&db);
    op_free(&dop);
    CHECK(st == STATUS_SUCCESS, "graceful WskDisconnect 0x%lx", HX(st));
    st = recv_some(s, in, 100, WSK_FLAG_WAITALL, &info);
    CHECK(st == STATUS_SUCCESS && info == 3 && memcmp(in, "bye", 3) == 0,
          "final data, then the end of stream ends a WAITALL receive short");
    st = recv_some(s, in, 100, 0, &info);
    CHECK(st == STATUS_SUCCESS && info == 0, "graceful disconnect seen as a 0-byte receive");
    st = send_all(c, out, 10, 0, &info);
    CHECK(st == STATUS_CONNECTION_DISCONNECTED, "send after disconnect 0x%lx", HX(st));
    CHECK(send_all(s, out, 10, 0, &info) == STATUS_SUCCESS, "the peer can still send");
    st = recv_some(c, in, 10, WSK_FLAG_WAITALL, &info);
    CHECK(st == STATUS_SUCCESS && info == 10, "receive after our graceful disconnect");

    CHECK(close_socket(c) == STATUS_SUCCESS, "close client");
    CHECK(close_socket(s) == STATUS_SUCCESS, "close server");

    /* Abortive disconnect: the peer sees a reset. */
    if (make_pair(family, l, port, &c, &s)) {
        st = RUN(&ctl, conn_d(s)->WskDisconnect(s, NULL, WSK_FLAG_ABORTIVE, op_begin(&ctl)), NULL);
        CHECK(st == STATUS_SUCCESS, "abortive WskDisconnect");
        st = recv_some(c, in, 10, 0, &info);
        CHECK(st == STATUS_CONNECTION_RESET, "abortive disconnect seen as a reset: 0x%lx", HX(st));
        st = send_all(s, out, 10, 0, &info);
        CHECK(st == STATUS_CONNECTION_ABORTED, "send after an abortive disconnect: 0x%lx", HX(st));
        close_socket(c);
        close_socket(s);
    }
    /* Closing without a disconnect is abortive ("WskCloseSocket"). */
    if (make_pair(family, l, port, &c, &s)) {
        close_socket(s);
        st = recv_some(c, in, 10, 0, &info);
        CHECK(st == STATUS_CONNECTION_RESET, "close without disconnect resets: 0x%lx", HX(st));
        close_socket(c);
    }
    /* ... or after a completed graceful disconnect: the peer sees the end
     * of the stream, no reset. */
    if (make_pair(family, l, port, &c, &s)) {
        CHECK(send_all(c, out, 1000, 0, &info) == STATUS_SUCCESS, "send before disconnect");
        st = RUN(&ctl, conn_d(c)->WskDisconnect(c, NULL, 0, op_begin(&ctl)), NULL);
        CHECK(st == STATUS_SUCCESS, "graceful disconnect before close");
        close_socket(c);
        st = recv_some(s, in, 1000, WSK_FLAG_WAITALL, &info);
        CHECK(st == STATUS_SUCCESS && info == 1000, "data before the disconnect");
        st = recv_some(s, in, 10, 0, &info);
        CHECK(st == STATUS_SUCCESS && info == 0,
              "disconnect + close seen as end of stream: 0x%lx %lu", HX(st), (unsigned long)info);
        close_socket(s);
    }
    /* ... unless the test bed is told to close gracefully, as Wine does. */
    wskprov_set_abortive_close(FALSE);
    if (make_pair(family, l, port, &c, &s)) {
        CHECK(send_all(s, out, 100, 0, &info) == STATUS_SUCCESS, "send before a graceful close");
        close_socket(s);
        st = recv_some(c, in, 100, WSK_FLAG_WAITALL, &info);
        CHECK(st == STATUS_SUCCESS && info == 100, "data before a graceful close");
        st = recv_some(c, in, 10, 0, &info);
        CHECK(st == STATUS_SUCCESS && info == 0, "graceful close seen as end of stream: 0x%lx",
              HX(st));
        close_socket(c);
    }
    wskprov_set_abortive_close(TRUE);
    /* WSK_FLAG_DRAIN: discards data until the peer disconnects. */
    if (make_pair(family, l, port, &c, &s)) {
        struct op dr;
        struct buf none;
        op_init(&dr);
        buf_lock(&none, NULL, 0);
        START(&dr, conn_d(c)->WskReceive(c, &none.wb, WSK_FLAG_DRAIN, op_begin(&dr)));
        CHECK(dr.pending_ok, "a drain pends");
        CHECK(send_all(s, out, 5000, 0, &info) == STATUS_SUCCESS, "send to a draining peer");
        CHECK(RUN(&ctl, conn_d(s)->WskDisconnect(s, NULL, 0, op_begin(&ctl)), NULL) ==
                  STATUS_SUCCESS,
              "disconnect");
        st = op_wait(&dr, &info);
        CHECK(st == STATUS_SUCCESS && info == 0, "drain ends at the disconnect: 0x%lx", HX(st));
        op_free(&dr);
        close_socket(c);
        close_socket(s);
    }
    close_socket(l);
    free(out);
    free(in);
}

/* "WskCloseSocket" cancels pending IRPs; IoCancelIrp cancels one. */
static void test_cancel(void)
{
    USHORT port = 0;
    PWSK_SOCKET l = make_listener(AF_INET, &port), c, s;
    UCHAR in[64];
    ULONG_PTR info = 0;
    NTSTATUS st;
    if (l == NULL || !make_pair(AF_INET, l, port, &c, &s))
        return;

    /* IoCancelIrp on a pending receive; the socket stays usable. */
    struct op ro;
    struct buf rb;
    op_init(&ro);
    buf_lock(&rb, in, sizeof(in));
    START(&ro, conn_d(c)->WskReceive(c, &rb.wb, 0, op_begin(&ro)));
    CHECK(ro.pending_ok, "receive pends");
    sleep_ms(50);
    IoCancelIrp(ro.irp);
    st = op_wait(&ro, &info);
    CHECK(st == STATUS_CANCELLED && info == 0, "IoCancelIrp: 0x%lx", HX(st));
    CHECK(send_all(s, "x", 1, 0, &info) == STATUS_SUCCESS, "send after a cancel");
    st = RUN(&ro, conn_d(c)->WskReceive(c, &rb.wb, 0, op_begin(&ro)), &info);
    CHECK(st == STATUS_SUCCESS && info == 1 && in[0] == 'x', "receive after a cancel");

    /* A cancelled WAITALL receive that has data completes with it. */
    START(&ro, conn_d(c)->WskReceive(c, &rb.wb, WSK_FLAG_WAITALL, op_begin(&ro)));
    CHECK(send_all(s, "abc", 3, 0, &info) == STATUS_SUCCESS, "send 3");
    sleep_ms(100);
    CHECK(!ro.completed, "WAITALL waits for the whole buffer");
    IoCancelIrp(ro.irp);
    st = op_wait(&ro, &info);
    CHECK(st == STATUS_SUCCESS && info == 3 && memcmp(in, "abc", 3) == 0,
          "cancelled WAITALL receive returns its data: 0x%lx %lu", HX(st), (unsigned long)info);

    /* Close with a receive pending: it completes with STATUS_CANCELLED. */
    START(&ro, conn_d(c)->WskReceive(c, &rb.wb, 0, op_begin(&ro)));
    st = close_socket(c);
    CHECK(st == STATUS_SUCCESS, "close with a pending receive");
    CHECK(ro.completed, "the receive completed before the close");
    st = op_wait(&ro, &info);
    CHECK(st == STATUS_CANCELLED, "pending receive cancelled by close: 0x%lx", HX(st));
    buf_unlock(&rb);
    op_free(&ro);
    close_socket(s);

    /* Close with an accept pending. */
    struct op ao;
    op_init(&ao);
    START(&ao, listen_d(l)->WskAccept(l, 0, NULL, NULL, NULL, NULL, op_begin(&ao)));
    CHECK(ao.pending_ok, "accept pends");
    st = close_socket(l);
    CHECK(st == STATUS_SUCCESS && ao.completed, "close with a pending accept");
    st = op_wait(&ao, &info);
    CHECK(st == STATUS_CANCELLED && info == 0, "pending accept cancelled by close: 0x%lx", HX(st));
    op_free(&ao);
}

/* Connect refused, bind conflicts, connect before bind. */
static void test_errors(void)
{
    USHORT port = 0;
    SOCKADDR_STORAGE a;
    NTSTATUS st;
    PWSK_SOCKET l = make_listener(AF_INET, &port);
    if (l == NULL)
        return;
    /* A second listener on the same port. */
    PWSK_SOCKET l2 = make_socket(AF_INET, WSK_FLAG_LISTEN_SOCKET);
    st = bind_socket(l2, AF_INET, port);
    CHECK(st == STATUS_ADDRESS_ALREADY_EXISTS, "bind conflict 0x%lx", HX(st));
    close_socket(l2);
    /* Connection sockets follow Windows' rule too (Linux alone would let
     * two non-listening sockets with SO_REUSEADDR share the port). */
    PWSK_SOCKET c1 = make_socket(AF_INET, WSK_FLAG_CONNECTION_SOCKET);
    PWSK_SOCKET c2 = make_socket(AF_INET, WSK_FLAG_CONNECTION_SOCKET);
    CHECK(bind_socket(c1, AF_INET, 0) == STATUS_SUCCESS, "bind c1");
    USHORT p1 = local_port(c1, WSK_FLAG_CONNECTION_SOCKET);
    st = bind_socket(c2, AF_INET, p1);
    CHECK(st == STATUS_ADDRESS_ALREADY_EXISTS, "connection socket bind conflict 0x%lx", HX(st));
    close_socket(c1);
    close_socket(c2);
    c1 = make_socket(AF_INET, WSK_FLAG_CONNECTION_SOCKET);
    c2 = make_socket(AF_INET, WSK_FLAG_CONNECTION_SOCKET);
    CHECK(set_opt(c1, SOL_SOCKET, SO_REUSEADDR, 1) == STATUS_SUCCESS, "reuse c1");
    CHECK(set_opt(c2, SOL_SOCKET, SO_REUSEADDR, 1) == STATUS_SUCCESS, "reuse c2");
    CHECK(bind_socket(c1, AF_INET, 0) == STATUS_SUCCESS, "bind c1");
    p1 = local_port(c1, WSK_FLAG_CONNECTION_SOCKET);
    st = bind_socket(c2, AF_INET, p1);
    CHECK(st == STATUS_SUCCESS, "both SO_REUSEADDR: shared port 0x%lx", HX(st));
    close_socket(c1);
    close_socket(c2);
    /* Binding twice. */
    st = bind_socket(l, AF_INET, 0);
    CHECK(st == STATUS_ADDRESS_ALREADY_ASSOCIATED, "bind twice 0x%lx", HX(st));
    close_socket(l);
    /* The closed listener's port refuses. */
    PWSK_SOCKET c = make_socket(AF_INET, WSK_FLAG_CONNECTION_SOCKET);
    make_addr(AF_INET, TRUE, port, &a);
    st = RUN(&ctl, conn_d(c)->WskConnect(c, (PSOCKADDR)&a, 0, op_begin(&ctl)), NULL);
    CHECK(st == STATUS_INVALID_DEVICE_STATE, "connect before bind 0x%lx", HX(st));
    CHECK(bind_socket(c, AF_INET, 0) == STATUS_SUCCESS, "bind");
    st = RUN(&ctl, conn_d(c)->WskConnect(c, (PSOCKADDR)&a, 0, op_begin(&ctl)), NULL);
    CHECK(st == STATUS_CONNECTION_REFUSED, "connect refused 0x%lx", HX(st));
    UCHAR x = 0;
    ULONG_PTR info;
    CHECK(send_all(c, &x, 1, 0, &info) == STATUS_INVALID_DEVICE_STATE, "send unconnected");
    close_socket(c);
    /* Wrong family. */
    c = make_socket(AF_INET6, WSK_FLAG_CONNECTION_SOCKET);
    st = bind_socket(c, AF_INET, 0);
    CHECK(st == STATUS_INVALID_PARAMETER, "bind with another family 0x%lx", HX(st));
    close_socket(c);
    /* WskSocketConnect: create, bind, connect in one call. */
    USHORT lport = 0;
    PWSK_SOCKET lst = make_listener(AF_INET, &lport);
    SOCKADDR_STORAGE any;
    make_addr(AF_INET, FALSE, 0, &any);
    make_addr(AF_INET, TRUE, lport, &a);
    info = 0;
    st = RUN(&ctl,
             npi.Dispatch->WskSocketConnect(npi.Client, SOCK_STREAM, IPPROTO_TCP, (PSOCKADDR)&any,
                                            (PSOCKADDR)&a, 0, NULL, NULL, NULL, NULL, NULL,
                                            op_begin(&ctl)),
             &info);
    CHECK(st == STATUS_SUCCESS && info != 0, "WskSocketConnect 0x%lx", HX(st));
    if (NT_SUCCESS(st)) {
        c = (PWSK_SOCKET)info;
        ULONG_PTR ainfo = 0;
        st = RUN(&ctl, listen_d(lst)->WskAccept(lst, 0, NULL, NULL, NULL, NULL, op_begin(&ctl)),
                 &ainfo);
        CHECK(st == STATUS_SUCCESS, "accept the WskSocketConnect connection");
        CHECK(send_all(c, "hi", 2, 0, &info) == STATUS_SUCCESS, "send on it");
        if (NT_SUCCESS(st)) {
            UCHAR two[2];
            st = recv_some((PWSK_SOCKET)ainfo, two, 2, WSK_FLAG_WAITALL, &info);
            CHECK(st == STATUS_SUCCESS && info == 2 && two[0] == 'h', "data");
            close_socket((PWSK_SOCKET)ainfo);
        }
        close_socket(c);
    }
    close_socket(lst);
    /* ... refused: no socket remains. */
    LONG open_before = wskprov_open_sockets();
    st = RUN(&ctl,
             npi.Dispatch->WskSocketConnect(npi.Client, SOCK_STREAM, IPPROTO_TCP, (PSOCKADDR)&any,
                                            (PSOCKADDR)&a, 0, NULL, NULL, NULL, NULL, NULL,
                                            op_begin(&ctl)),
             &info);
    CHECK(st == STATUS_CONNECTION_REFUSED && wskprov_open_sockets() == open_before,
          "WskSocketConnect refused 0x%lx", HX(st));
    /* Stream sockets are not offered. */
    st = RUN(&ctl,
             npi.Dispatch->WskSocket(npi.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP,
                                     WSK_FLAG_STREAM_SOCKET, NULL, NULL, NULL, NULL, NULL,
                                     op_begin(&ctl)),
             NULL);
    CHECK(st == STATUS_NOT_SUPPORTED, "stream socket 0x%lx", HX(st));
}

/* UDP ("WskSendTo", "WskReceiveFrom"). */
static void test_udp(ADDRESS_FAMILY family)
{
    PWSK_SOCKET a = make_socket(family, WSK_FLAG_DATAGRAM_SOCKET);
    PWSK_SOCKET b = make_socket(family, WSK_FLAG_DATAGRAM_SOCKET);
    SOCKADDR_STORAGE to, from;
    UCHAR out[300], in[300];
    ULONG_PTR info = 0;
    struct op o;
    struct buf sb, rb;
    NTSTATUS st;
    op_init(&o);
    pattern(out, sizeof(out), 5);
    /* Unbound: not usable. */
    make_addr(family, TRUE, 9, &to);
    buf_lock(&sb, out, 10);
    st = RUN(&o, dgram_d(a)->WskSendTo(a, &sb.wb, 0, (PSOCKADDR)&to, 0, NULL, op_begin(&o)), NULL);
    CHECK(st == STATUS_INVALID_DEVICE_STATE, "sendto before bind 0x%lx", HX(st));
    buf_unlock(&sb);
    CHECK(bind_socket(a, family, 0) == STATUS_SUCCESS, "bind a");
    CHECK(bind_socket(b, family, 0) == STATUS_SUCCESS, "bind b");
    USHORT pa = local_port(a, WSK_FLAG_DATAGRAM_SOCKET),
           pb = local_port(b, WSK_FLAG_DATAGRAM_SOCKET);
    make_addr(family, TRUE, pb, &to);

    /* A pending receive-from, then three datagrams of different sizes. */
    ULONG flags_out = 0xffff, control_len = 0;
    buf_lock(&rb, in, sizeof(in));
    START(&o, dgram_d(b)->WskReceiveFrom(b, &rb.wb, 0, (PSOCKADDR)&from, &control_len, NULL,
                                         &flags_out, op_begin(&o)));
    CHECK(o.pending_ok, "receive-from with nothing queued pends");
    static const ULONG sizes[3] = {17, 300, 1};
    for (int i = 0; i < 3; i++) {
        struct op so;
        op_init(&so);
        buf_lock(&sb, out, sizes[i]);
        st = RUN(&so, dgram_d(a)->WskSendTo(a, &sb.wb, 0, (PSOCKADDR)&to, 0, NULL, op_begin(&so)),
                 &info);
        CHECK(st == STATUS_SUCCESS && info == sizes[i], "WskSendTo %lu", (unsigned long)sizes[i]);
        buf_unlock(&sb);
        op_free(&so);
    }
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            RtlZeroMemory(&from, sizeof(from));
            flags_out = 0xffff;
            START(&o, dgram_d(b)->WskReceiveFrom(b, &rb.wb, 0, (PSOCKADDR)&from, &control_len, NULL,
                                                 &flags_out, op_begin(&o)));
        }
        st = op_wait(&o, &info);
        CHECK(st == STATUS_SUCCESS && info == sizes[i] && pattern_ok(in, sizes[i], 5),
              "datagram %d: 0x%lx %lu bytes", i, HX(st), (unsigned long)info);
        CHECK(from.ss_family == family && port_of(&from) == pa, "sender address");
        CHECK(flags_out == 0 && control_len == 0, "no MSG_TRUNC, no control data");
    }
    buf_unlock(&rb);

    /* Truncation: 100 bytes into 10. */
    struct op so;
    op_init(&so);
    buf_lock(&sb, out, 100);
    st = RUN(&so, dgram_d(a)->WskSendTo(a, &sb.wb, 0, (PSOCKADDR)&to, 0, NULL, op_begin(&so)),
             &info);
    CHECK(st == STATUS_SUCCESS, "sendto 100");
    buf_unlock(&sb);
    op_free(&so);
    buf_lock(&rb, in, 10);
    flags_out = 0;
    st = RUN(&o,
             dgram_d(b)->WskReceiveFrom(b, &rb.wb, 0, NULL, NULL, NULL, &flags_out, op_begin(&o)),
             &info);
    CHECK(st == STATUS_SUCCESS && info == 10 && (flags_out & MSG_TRUNC) != 0,
          "truncated datagram: 0x%lx %lu flags 0x%lx", HX(st), (unsigned long)info,
          (unsigned long)flags_out);
    buf_unlock(&rb);
    op_free(&o);
    close_socket(a);
    close_socket(b);
}

static NTSTATUS set_opt(PWSK_SOCKET s, ULONG level, ULONG code, ULONG value)
{
    return RUN(&ctl,
               basic(s)->WskControlSocket(s, WskSetOption, code, level, sizeof(value), &value, 0,
                                          NULL, NULL, op_begin(&ctl)),
               NULL);
}

static NTSTATUS get_opt(PWSK_SOCKET s, ULONG level, ULONG code, ULONG *value)
{
    SIZE_T returned = 0;
    *value = 0xdeadbeef;
    NTSTATUS st = RUN(&ctl,
                      basic(s)->WskControlSocket(s, WskGetOption, code, level, 0, NULL,
                                                 sizeof(*value), value, &returned, op_begin(&ctl)),
                      NULL);
    if (NT_SUCCESS(st))
        CHECK(returned == sizeof(*value), "OutputSizeReturned");
    return st;
}

/* "WskControlSocket" options, "WskControlClient". */
static void test_options(void)
{
    PWSK_SOCKET c = make_socket(AF_INET6, WSK_FLAG_CONNECTION_SOCKET);
    ULONG v = 0;
    CHECK(get_opt(c, IPPROTO_IPV6, IPV6_V6ONLY, &v) == STATUS_SUCCESS && v == 1,
          "IPV6_V6ONLY is on by default");
    CHECK(set_opt(c, IPPROTO_IPV6, IPV6_V6ONLY, 0) == STATUS_SUCCESS, "clear V6ONLY");
    CHECK(get_opt(c, IPPROTO_IPV6, IPV6_V6ONLY, &v) == STATUS_SUCCESS && v == 0, "V6ONLY 0");
    CHECK(set_opt(c, SOL_SOCKET, SO_REUSEADDR, 1) == STATUS_SUCCESS, "SO_REUSEADDR");
    CHECK(get_opt(c, SOL_SOCKET, SO_REUSEADDR, &v) == STATUS_SUCCESS && v == 1, "get REUSEADDR");
    CHECK(set_opt(c, SOL_SOCKET, (ULONG)SO_EXCLUSIVEADDRUSE, 1) == STATUS_INVALID_PARAMETER,
          "SO_EXCLUSIVEADDRUSE with SO_REUSEADDR");
    CHECK(set_opt(c, SOL_SOCKET, SO_KEEPALIVE, 1) == STATUS_SUCCESS, "SO_KEEPALIVE");
    CHECK(get_opt(c, SOL_SOCKET, SO_KEEPALIVE, &v) == STATUS_SUCCESS && v == 1, "get KEEPALIVE");
    CHECK(set_opt(c, SOL_SOCKET, SO_RCVBUF, 65536) == STATUS_SUCCESS, "SO_RCVBUF");
    CHECK(get_opt(c, SOL_SOCKET, SO_RCVBUF, &v) == STATUS_SUCCESS && v == 65536, "get RCVBUF %lu",
          (unsigned long)v);
    CHECK(set_opt(c, SOL_SOCKET, SO_SNDBUF, 32768) == STATUS_SUCCESS, "SO_SNDBUF");
    CHECK(get_opt(c, SOL_SOCKET, SO_SNDBUF, &v) == STATUS_SUCCESS && v == 32768, "get SNDBUF");
    CHECK(set_opt(c, IPPROTO_TCP, TCP_NODELAY, 1) == STATUS_SUCCESS, "TCP_NODELAY");
    CHECK(get_opt(c, IPPROTO_TCP, TCP_NODELAY, &v) == STATUS_SUCCESS && v == 1, "get NODELAY");
    CHECK(get_opt(c, SOL_SOCKET, SO_TYPE, &v) == STATUS_SUCCESS && v == SOCK_STREAM, "SO_TYPE");
    CHECK(get_opt(c, SOL_SOCKET, SO_ERROR, &v) == STATUS_SUCCESS && v == 0, "SO_ERROR");
    LINGER lg = {1, 5}, lg2 = {0, 0};
    SIZE_T returned = 0;
    NTSTATUS st = RUN(&ctl,
                      basic(c)->WskControlSocket(c, WskSetOption, SO_LINGER, SOL_SOCKET, sizeof(lg),
                                                 &lg, 0, NULL, NULL, op_begin(&ctl)),
                      NULL);
    CHECK(st == STATUS_SUCCESS, "set SO_LINGER");
    st = RUN(&ctl,
             basic(c)->WskControlSocket(c, WskGetOption, SO_LINGER, SOL_SOCKET, 0, NULL,
                                        sizeof(lg2), &lg2, &returned, op_begin(&ctl)),
             NULL);
    CHECK(st == STATUS_SUCCESS && lg2.l_onoff == 1 && lg2.l_linger == 5, "get SO_LINGER");
    WSK_EVENT_CALLBACK_CONTROL ec = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE};
    st = basic(c)->WskControlSocket(c, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(ec),
                                    &ec, 0, NULL, NULL, NULL);
    /* "SO_WSK_EVENT_CALLBACK": a connection socket must be connected first. */
    CHECK(st == STATUS_INVALID_DEVICE_STATE, "SO_WSK_EVENT_CALLBACK before the connect 0x%lx",
          HX(st));
    wskprov_set_events(FALSE);
    st = basic(c)->WskControlSocket(c, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(ec),
                                    &ec, 0, NULL, NULL, NULL);
    CHECK(st == STATUS_NOT_SUPPORTED, "SO_WSK_EVENT_CALLBACK without events 0x%lx", HX(st));
    wskprov_set_events(TRUE);
    CHECK(set_opt(c, SOL_SOCKET, 0x7777, 1) == STATUS_NOT_SUPPORTED, "unknown option");
    CHECK(bind_socket(c, AF_INET6, 0) == STATUS_SUCCESS, "bind");
    CHECK(set_opt(c, IPPROTO_IPV6, IPV6_V6ONLY, 1) == STATUS_INVALID_PARAMETER,
          "IPV6_V6ONLY after bind");
    close_socket(c);

    WSK_TRANSPORT t[8];
    returned = 0;
    st = npi.Dispatch->WskControlClient(npi.Client, WSK_TRANSPORT_LIST_QUERY, 0, NULL, sizeof(t), t,
                                        &returned, NULL);
    CHECK(st == STATUS_SUCCESS && returned == 4 * sizeof(WSK_TRANSPORT) &&
              t[0].SocketType == SOCK_STREAM && t[0].AddressFamily == AF_INET,
          "WSK_TRANSPORT_LIST_QUERY");
}

static BOOLEAN has_addr(PADDRINFOEXW list, ADDRESS_FAMILY family, USHORT port)
{
    for (PADDRINFOEXW p = list; p != NULL; p = p->ai_next) {
        if (p->ai_family != family || p->ai_addr == NULL || p->ai_addr->sa_family != family)
            continue;
        if (port_of((SOCKADDR_STORAGE *)p->ai_addr) != port)
            continue;
        if (family == AF_INET && ((SOCKADDR_IN *)p->ai_addr)->sin_addr.s_addr == 0x0100007f &&
            p->ai_addrlen == sizeof(SOCKADDR_IN))
            return TRUE;
        if (family == AF_INET6 && ((SOCKADDR_IN6 *)p->ai_addr)->sin6_addr.s6_addr[15] == 1 &&
            p->ai_addrlen == sizeof(SOCKADDR_IN6))
            return TRUE;
    }
    return FALSE;
}

/* "WskGetAddressInfo", "WskGetNameInfo", "WskFreeAddressInfo". */
static void test_names(void)
{
    UNICODE_STRING node, service;
    PADDRINFOEXW result = NULL;
    ADDRINFOEXW hints;
    NTSTATUS st;
    RtlZeroMemory(&hints, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    RtlInitUnicodeString(&node, L"localhost");
    RtlInitUnicodeString(&service, L"8080");
    st = RUN(&ctl,
             npi.Dispatch->WskGetAddressInfo(npi.Client, &node, &service, NS_ALL, NULL, &hints,
                                             &result, NULL, NULL, op_begin(&ctl)),
             NULL);
    CHECK(st == STATUS_SUCCESS && result != NULL, "getaddrinfo localhost 0x%lx", HX(st));
    CHECK(ctl.pending_ok, "name resolution completes asynchronously");
    CHECK(has_addr(result, AF_INET, 8080) || has_addr(result, AF_INET6, 8080),
          "localhost resolves to a loopback address");
    CHECK(kshim_pool_bytes_by_tag(WSKPROV_TAG_ADDRINFO) > 0, "the list is tagged pool");
    npi.Dispatch->WskFreeAddressInfo(npi.Client, result);
    CHECK(kshim_pool_bytes_by_tag(WSKPROV_TAG_ADDRINFO) == 0, "WskFreeAddressInfo frees it");

    hints.ai_flags = AI_NUMERICHOST;
    hints.ai_family = AF_INET;
    RtlInitUnicodeString(&node, L"127.0.0.1");
    result = NULL;
    st = RUN(&ctl,
             npi.Dispatch->WskGetAddressInfo(npi.Client, &node, &service, NS_ALL, NULL, &hints,
                                             &result, NULL, NULL, op_begin(&ctl)),
             NULL);
    CHECK(st == STATUS_SUCCESS && has_addr(result, AF_INET, 8080) && result->ai_next == NULL &&
              result->ai_socktype == SOCK_STREAM && result->ai_protocol == IPPROTO_TCP,
          "numeric getaddrinfo");
    npi.Dispatch->WskFreeAddressInfo(npi.Client, result);

    RtlInitUnicodeString(&node, L"not-a-number");
    result = NULL;
    st = RUN(&ctl,
             npi.Dispatch->WskGetAddressInfo(npi.Client, &node, NULL, NS_ALL, NULL, &hints, &result,
                                             NULL, NULL, op_begin(&ctl)),
             NULL);
    CHECK(st == STATUS_NOT_FOUND && result == NULL, "unknown name 0x%lx", HX(st));

    SOCKADDR_STORAGE a;
    WCHAR host[64], serv[16];
    UNICODE_STRING uh = {0, sizeof(host), host}, us = {0, sizeof(serv), serv};
    make_addr(AF_INET, TRUE, 80, &a);
    st = RUN(&ctl,
             npi.Dispatch->WskGetNameInfo(npi.Client, (PSOCKADDR)&a, sizeof(SOCKADDR_IN), &uh, &us,
                                          NI_NUMERICHOST | NI_NUMERICSERV, NULL, NULL,
                                          op_begin(&ctl)),
             NULL);
    CHECK(st == STATUS_SUCCESS && uh.Length == 9 * sizeof(WCHAR) &&
              memcmp(host, L"127.0.0.1", 9 * sizeof(WCHAR)) == 0 &&
              us.Length == 2 * sizeof(WCHAR) && memcmp(serv, L"80", 4) == 0,
          "getnameinfo 0x%lx", HX(st));
}

/* The completion mode: inline completes a ready request inside the call,
 * async never does; network waits complete on a provider thread. */
static void test_mode(void)
{
    WSKPROV_COMPLETION_MODE mode = wskprov_completion_mode();
    PWSK_SOCKET s = make_socket(AF_INET, WSK_FLAG_DATAGRAM_SOCKET);
    SOCKADDR_STORAGE a;
    make_addr(AF_INET, TRUE, 0, &a);
    NTSTATUS r = listen_d(s)->WskBind(s, (PSOCKADDR)&a, 0, op_begin(&ctl));
    op_returned(&ctl, r, __LINE__);
    op_wait(&ctl, NULL);
    if (mode == WSKPROV_COMPLETION_INLINE) {
        CHECK(r == STATUS_SUCCESS, "inline mode: WskBind returns its status");
        CHECK(ctl.thread == PsGetCurrentThreadId() && ctl.irql == PASSIVE_LEVEL,
              "inline completion on the caller's thread at its IRQL");
    } else if (mode == WSKPROV_COMPLETION_ASYNC) {
        CHECK(r == STATUS_PENDING && ctl.irql == DISPATCH_LEVEL &&
                  ctl.thread != PsGetCurrentThreadId(),
              "async completion on a provider thread at DISPATCH_LEVEL");
    }
    close_socket(s);
}

/* ---- event callbacks ("SO_WSK_EVENT_CALLBACK", "PFN_WSK_ACCEPT_EVENT",
 * "PFN_WSK_RECEIVE_EVENT", "PFN_WSK_DISCONNECT_EVENT", "WskRelease") ---- */

#ifndef STATUS_REQUEST_NOT_ACCEPTED
#define STATUS_REQUEST_NOT_ACCEPTED ((NTSTATUS)0xC00000D0L)
#endif

#define WAIT_UNTIL(cond)                                                                           \
    for (LONGLONG t0_ = now_ms(); !(cond) && now_ms() - t0_ < WAIT_MS;)                            \
    sleep_ms(2)

/* What a receive indication is answered with. */
enum ev_mode { EV_ALL, EV_PARTIAL, EV_RETAIN, EV_DECLINE, EV_DECLINE_RECV, EV_DISABLE };

#define EV_BYTES (2u << 20)
#define EV_RETAINED 16

/* The context of a connection socket with event callbacks. The callbacks
 * run on the provider's thread: they count what is wrong in bad (checked
 * by the main thread) instead of calling CHECK. */
struct evsock {
    PWSK_SOCKET sock;
    SIZE_T partial; /* bytes EV_PARTIAL accepts */
    UCHAR *data;    /* what was accepted, in order */
    volatile SIZE_T got;
    struct op *disable_op; /* EV_DISABLE: the IRP of the disable, or NULL */
    PWSK_DATA_INDICATION retained[EV_RETAINED];
    SIZE_T retained_len[EV_RETAINED];
    volatile LONG receives, disconnects, dead, bad, busy;
    volatile ULONG disc_flags;
    volatile enum ev_mode mode;
    volatile LONG nretained;
    /* EV_DECLINE_RECV: the WskReceive started inside the callback. */
    struct op *decline_op;
    struct buf *decline_buf;
    /* EV_DISABLE: what disabling from inside WskReceiveEvent returned. */
    NTSTATUS disable_other, disable_self;
    LONG disable_done_in_callback;
};

/* The context of a listening socket with WskAcceptEvent. */
#define EV_ACCEPTS 8
struct evlisten {
    volatile LONG accepts, rejects, bad;
    NTSTATUS answer; /* STATUS_SUCCESS or what to refuse with */
    struct evsock *ctx[EV_ACCEPTS];
    PWSK_SOCKET accepted[EV_ACCEPTS];
    SOCKADDR_STORAGE local[EV_ACCEPTS], remote[EV_ACCEPTS];
};

/* Callbacks run at DISPATCH_LEVEL, say so, and never overlap on a socket. */
static void ev_enter(volatile LONG *busy, volatile LONG *bad, ULONG flags)
{
    if (KeGetCurrentIrql() != DISPATCH_LEVEL || !(flags & WSK_FLAG_AT_DISPATCH_LEVEL))
        InterlockedIncrement(bad);
    if (InterlockedIncrement(busy) != 1)
        InterlockedIncrement(bad);
}

static void ev_leave(volatile LONG *busy)
{
    InterlockedDecrement(busy);
}

/* Copies the bytes of a data indication list (at most max). */
static SIZE_T copy_list(const WSK_DATA_INDICATION *di, UCHAR *dst, SIZE_T max)
{
    SIZE_T n = 0;
    for (; di != NULL; di = di->Next) {
        SIZE_T off = di->Buffer.Offset, left = di->Buffer.Length;
        for (PMDL m = di->Buffer.Mdl; m != NULL && left > 0; m = m->Next) {
            SIZE_T count = MmGetMdlByteCount(m);
            if (off >= count) {
                off -= count;
                continue;
            }
            const UCHAR *va = (const UCHAR *)MmGetSystemAddressForMdlSafe(m, NormalPagePriority);
            SIZE_T take = count - off < left ? count - off : left;
            if (take > max - n)
                take = max - n;
            memcpy(dst + n, va + off, take);
            n += take;
            left -= take;
            off = 0;
        }
    }
    return n;
}

static SIZE_T list_bytes(const WSK_DATA_INDICATION *di)
{
    SIZE_T n = 0;
    for (; di != NULL; di = di->Next)
        n += di->Buffer.Length;
    return n;
}

static NTSTATUS WSKAPI ev_receive(PVOID context, ULONG flags, PWSK_DATA_INDICATION di,
                                  SIZE_T indicated, SIZE_T *accepted)
{
    struct evsock *e = (struct evsock *)context;
    NTSTATUS st = STATUS_SUCCESS;
    ev_enter(&e->busy, &e->bad, flags);
    if (di == NULL) {
        /* "the socket is no longer functional" */
        InterlockedIncrement(&e->dead);
        ev_leave(&e->busy);
        return STATUS_SUCCESS;
    }
    if (list_bytes(di) != indicated || indicated == 0 || *accepted != indicated)
        InterlockedIncrement(&e->bad);
    switch (e->mode) {
    case EV_ALL:
        e->got += copy_list(di, e->data + e->got, EV_BYTES - e->got);
        break;
    case EV_PARTIAL: {
        UCHAR tmp[4096];
        SIZE_T take = e->partial < indicated ? e->partial : indicated;
        SIZE_T n = copy_list(di, tmp, take);
        memcpy(e->data + e->got, tmp, n);
        e->got += n;
        *accepted = take;
        break;
    }
    case EV_RETAIN:
        if (e->nretained < EV_RETAINED) {
            e->retained[e->nretained] = di;
            e->retained_len[e->nretained] = indicated;
            InterlockedIncrement(&e->nretained);
            st = STATUS_PENDING;
        } else {
            InterlockedIncrement(&e->bad);
        }
        break;
    case EV_DECLINE:
        st = STATUS_DATA_NOT_ACCEPTED;
        break;
    case EV_DECLINE_RECV:
        /* A WskReceive before the refusal returns (a client whose other
         * thread pulls as soon as it hears of the refusal): it is served
         * after the callback and lifts the refusal. */
        e->mode = EV_ALL;
        START(e->decline_op, conn_d(e->sock)->WskReceive(e->sock, &e->decline_buf->wb, 0,
                                                         op_begin(e->decline_op)));
        st = STATUS_DATA_NOT_ACCEPTED;
        break;
    case EV_DISABLE: {
        /* "SO_WSK_EVENT_CALLBACK": disabling an event that is not running
         * completes at once; the running one pends (IRP) or returns
         * STATUS_EVENT_PENDING (no IRP) until the callback returned. */
        WSK_EVENT_CALLBACK_CONTROL ec = {(PNPIID)&NPI_WSK_INTERFACE_ID,
                                         WSK_EVENT_DISABLE | WSK_EVENT_DISCONNECT};
        e->disable_other =
            basic(e->sock)->WskControlSocket(e->sock, WskSetOption, SO_WSK_EVENT_CALLBACK,
                                             SOL_SOCKET, sizeof(ec), &ec, 0, NULL, NULL, NULL);
        ec.EventMask = WSK_EVENT_DISABLE | WSK_EVENT_RECEIVE;
        PIRP irp = e->disable_op != NULL ? op_begin(e->disable_op) : NULL;
        e->disable_self =
            basic(e->sock)->WskControlSocket(e->sock, WskSetOption, SO_WSK_EVENT_CALLBACK,
                                             SOL_SOCKET, sizeof(ec), &ec, 0, NULL, NULL, irp);
        e->disable_done_in_callback = e->disable_op != NULL ? e->disable_op->completed : 0;
        e->got += copy_list(di, e->data + e->got, EV_BYTES - e->got);
        break;
    }
    }
    InterlockedIncrement(&e->receives);
    ev_leave(&e->busy);
    return st;
}

static NTSTATUS WSKAPI ev_disconnect(PVOID context, ULONG flags)
{
    struct evsock *e = (struct evsock *)context;
    ev_enter(&e->busy, &e->bad, flags);
    e->disc_flags = flags & ~(ULONG)WSK_FLAG_AT_DISPATCH_LEVEL;
    InterlockedIncrement(&e->disconnects);
    ev_leave(&e->busy);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_CONNECTION_DISPATCH ev_conn_dispatch = {ev_receive, ev_disconnect, NULL};

static volatile LONG listen_busy;

static NTSTATUS WSKAPI ev_accept(PVOID context, ULONG flags, PSOCKADDR local, PSOCKADDR remote,
                                 PWSK_SOCKET socket, PVOID *accept_context,
                                 const WSK_CLIENT_CONNECTION_DISPATCH **accept_dispatch)
{
    struct evlisten *l = (struct evlisten *)context;
    ev_enter(&listen_busy, &l->bad, flags);
    if (socket == NULL || local == NULL || remote == NULL) {
        InterlockedIncrement(&l->bad);
        ev_leave(&listen_busy);
        return STATUS_REQUEST_NOT_ACCEPTED;
    }
    if (l->answer != STATUS_SUCCESS) {
        InterlockedIncrement(&l->rejects);
        ev_leave(&listen_busy);
        return l->answer;
    }
    LONG i = l->accepts;
    if (i >= EV_ACCEPTS || l->ctx[i] == NULL) {
        InterlockedIncrement(&l->bad);
        ev_leave(&listen_busy);
        return STATUS_REQUEST_NOT_ACCEPTED;
    }
    memcpy(&l->local[i], local,
           local->sa_family == AF_INET ? sizeof(SOCKADDR_IN) : sizeof(SOCKADDR_IN6));
    memcpy(&l->remote[i], remote,
           remote->sa_family == AF_INET ? sizeof(SOCKADDR_IN) : sizeof(SOCKADDR_IN6));
    l->accepted[i] = socket;
    l->ctx[i]->sock = socket;
    *accept_context = l->ctx[i];
    *accept_dispatch = &ev_conn_dispatch;
    InterlockedIncrement(&l->accepts);
    ev_leave(&listen_busy);
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_LISTEN_DISPATCH ev_listen_dispatch = {ev_accept, NULL, NULL};

static void ev_init(struct evsock *e)
{
    UCHAR *data = e->data;
    RtlZeroMemory(e, sizeof(*e));
    e->data = data != NULL ? data : malloc(EV_BYTES);
    e->mode = EV_ALL;
}

static void ev_free(struct evsock *e)
{
    free(e->data);
    e->data = NULL;
}

static NTSTATUS set_events(PWSK_SOCKET s, ULONG mask)
{
    WSK_EVENT_CALLBACK_CONTROL ec = {(PNPIID)&NPI_WSK_INTERFACE_ID, mask};
    return basic(s)->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                                      sizeof(ec), &ec, 0, NULL, NULL, NULL);
}

static PWSK_SOCKET make_socket_ev(ADDRESS_FAMILY family, ULONG flags, PVOID context,
                                  const void *dispatch)
{
    ULONG_PTR info = 0;
    NTSTATUS st = RUN(&ctl,
                      npi.Dispatch->WskSocket(npi.Client, family, SOCK_STREAM, IPPROTO_TCP, flags,
                                              context, dispatch, NULL, NULL, NULL, op_begin(&ctl)),
                      &info);
    CHECK(st == STATUS_SUCCESS && info != 0, "WskSocket 0x%lx", HX(st));
    return NT_SUCCESS(st) ? (PWSK_SOCKET)info : NULL;
}

/* A connection socket (context, dispatch) connected to port. */
static PWSK_SOCKET connect_ev(ADDRESS_FAMILY family, USHORT port, PVOID context,
                              const void *dispatch)
{
    SOCKADDR_STORAGE a;
    PWSK_SOCKET c = make_socket_ev(family, WSK_FLAG_CONNECTION_SOCKET, context, dispatch);
    if (c == NULL)
        return NULL;
    CHECK(bind_socket(c, family, 0) == STATUS_SUCCESS, "bind");
    make_addr(family, TRUE, port, &a);
    NTSTATUS st = RUN(&ctl, conn_d(c)->WskConnect(c, (PSOCKADDR)&a, 0, op_begin(&ctl)), NULL);
    CHECK(st == STATUS_SUCCESS, "WskConnect 0x%lx", HX(st));
    return c;
}

static NTSTATUS release(PWSK_SOCKET s, PWSK_DATA_INDICATION di)
{
    return conn_d(s)->WskRelease(s, di);
}

/* WskAcceptEvent: addresses, contexts, inherited WskReceiveEvent and
 * WskDisconnectEvent; WskAccept's precedence; refusal; the option's checks. */
static void test_accept_event(ADDRESS_FAMILY family)
{
    static struct evsock ctx[4];
    struct evlisten el;
    ULONG_PTR info = 0;
    NTSTATUS st;
    RtlZeroMemory(&el, sizeof(el));
    for (int i = 0; i < 4; i++) {
        ev_init(&ctx[i]);
        el.ctx[i] = &ctx[i];
    }
    PWSK_SOCKET l = make_socket_ev(family, WSK_FLAG_LISTEN_SOCKET, &el, &ev_listen_dispatch);
    if (l == NULL)
        return;
    CHECK(set_events(l, WSK_EVENT_ACCEPT) == STATUS_INVALID_DEVICE_STATE,
          "SO_WSK_EVENT_CALLBACK on a listening socket before WskBind");
    CHECK(bind_socket(l, family, 0) == STATUS_SUCCESS, "bind listener");
    USHORT port = local_port(l, WSK_FLAG_LISTEN_SOCKET);

    /* The option's checks. */
    WSK_EVENT_CALLBACK_CONTROL ec = {(PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT};
    NPIID other = NPI_WSK_INTERFACE_ID;
    other.Data1 ^= 1;
    st = basic(l)->WskControlSocket(l, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                                    sizeof(ec) - 1, &ec, 0, NULL, NULL, NULL);
    CHECK(st == STATUS_INVALID_PARAMETER, "InputSize too small: 0x%lx", HX(st));
    ec.NpiId = &other;
    st = basic(l)->WskControlSocket(l, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(ec),
                                    &ec, 0, NULL, NULL, NULL);
    CHECK(st == STATUS_INVALID_PARAMETER, "another NpiId: 0x%lx", HX(st));
    CHECK(set_events(l, 0) == STATUS_INVALID_PARAMETER, "empty mask");
    CHECK(set_events(l, WSK_EVENT_RECEIVE_FROM) == STATUS_INVALID_PARAMETER,
          "WSK_EVENT_RECEIVE_FROM on a listening socket");
    CHECK(set_events(l, WSK_EVENT_SEND_BACKLOG) == STATUS_NOT_SUPPORTED, "send backlog");
    CHECK(set_events(l, WSK_EVENT_DISABLE | WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE) ==
              STATUS_INVALID_PARAMETER,
          "two events disabled at once");

    st = set_events(l, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT);
    CHECK(st == STATUS_SUCCESS, "enable accept, receive, disconnect on a listener: 0x%lx", HX(st));
    CHECK(set_events(l, WSK_EVENT_DISABLE | WSK_EVENT_RECEIVE) == STATUS_INVALID_PARAMETER,
          "inherited events cannot be disabled on the listening socket");

    /* Three connections, each with its own context and data. */
    PWSK_SOCKET c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = connect_ev(family, port, NULL, NULL);
        WAIT_UNTIL(el.accepts == i + 1);
        CHECK(el.accepts == i + 1, "WskAcceptEvent for connection %d (%ld)", i, (long)el.accepts);
    }
    for (int i = 0; i < 3 && i < el.accepts; i++) {
        CHECK(el.local[i].ss_family == family && port_of(&el.local[i]) == port,
              "WskAcceptEvent LocalAddress %d", i);
        CHECK(el.remote[i].ss_family == family &&
                  port_of(&el.remote[i]) == local_port(c[i], WSK_FLAG_CONNECTION_SOCKET),
              "WskAcceptEvent RemoteAddress %d is the client's", i);
        SOCKADDR_STORAGE a;
        RtlZeroMemory(&a, sizeof(a));
        st = RUN(&ctl,
                 conn_d(el.accepted[i])
                     ->WskGetRemoteAddress(el.accepted[i], (PSOCKADDR)&a, op_begin(&ctl)),
                 NULL);
        CHECK(st == STATUS_SUCCESS && port_of(&a) == port_of(&el.remote[i]),
              "the accepted socket is usable");
    }
    if (el.accepts < 3) {
        printf("wskprov_test: accept events missing; skipping the rest\n");
        return;
    }
    /* Inherited WskReceiveEvent: each context gets its connection's data. */
    for (int i = 0; i < 3; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof(msg), "hello from %d", i);
        CHECK(send_all(c[i], msg, (ULONG)n, 0, &info) == STATUS_SUCCESS, "send %d", i);
        WAIT_UNTIL(ctx[i].got == (SIZE_T)n);
        CHECK(ctx[i].got == (SIZE_T)n && memcmp(ctx[i].data, msg, (size_t)n) == 0,
              "inherited WskReceiveEvent on accepted socket %d: %zu bytes", i, (size_t)ctx[i].got);
    }
    /* Inherited WskDisconnectEvent: graceful. */
    st = RUN(&ctl, conn_d(c[0])->WskDisconnect(c[0], NULL, 0, op_begin(&ctl)), NULL);
    CHECK(st == STATUS_SUCCESS, "graceful disconnect");
    WAIT_UNTIL(ctx[0].disconnects == 1);
    CHECK(ctx[0].disconnects == 1 && ctx[0].disc_flags == 0,
          "inherited WskDisconnectEvent (graceful): %ld, flags 0x%lx", (long)ctx[0].disconnects,
          (unsigned long)ctx[0].disc_flags);
    CHECK(send_all(el.accepted[0], "x", 1, 0, &info) == STATUS_SUCCESS,
          "sending after the peer's graceful disconnect");

    /* A queued WskAccept takes precedence over WskAcceptEvent; its
     * AcceptSocketContext and AcceptSocketDispatch are the socket's, with
     * no event enabled until the client enables them. */
    struct op acc;
    op_init(&acc);
    START(&acc,
          listen_d(l)->WskAccept(l, 0, &ctx[3], &ev_conn_dispatch, NULL, NULL, op_begin(&acc)));
    PWSK_SOCKET c3 = connect_ev(family, port, NULL, NULL);
    st = op_wait(&acc, &info);
    CHECK(st == STATUS_SUCCESS && info != 0, "WskAccept with accept events enabled: 0x%lx", HX(st));
    CHECK(el.accepts == 3, "no WskAcceptEvent for the WskAccept's connection");
    op_free(&acc);
    PWSK_SOCKET s3 = (PWSK_SOCKET)info;
    if (s3 != NULL) {
        CHECK(send_all(c3, "1234", 4, 0, &info) == STATUS_SUCCESS, "send");
        sleep_ms(50);
        CHECK(ctx[3].receives == 0, "events not inherited through WskAccept");
        CHECK(set_events(s3, WSK_EVENT_RECEIVE) == STATUS_SUCCESS,
              "enable with WskAccept's AcceptSocketDispatch");
        WAIT_UNTIL(ctx[3].got == 4);
        CHECK(ctx[3].got == 4 && memcmp(ctx[3].data, "1234", 4) == 0,
              "WskReceiveEvent with WskAccept's AcceptSocketContext (data waiting before)");
        close_socket(s3);
    }
    close_socket(c3);

    /* STATUS_REQUEST_NOT_ACCEPTED: the provider closes the connection. */
    LONG open = wskprov_open_sockets();
    el.answer = STATUS_REQUEST_NOT_ACCEPTED;
    PWSK_SOCKET c4 = connect_ev(family, port, NULL, NULL);
    WAIT_UNTIL(el.rejects == 1);
    CHECK(el.rejects == 1, "WskAcceptEvent called for the refused connection");
    UCHAR in[16];
    st = recv_some(c4, in, sizeof(in), 0, &info);
    CHECK(st == STATUS_CONNECTION_RESET || st == STATUS_CONNECTION_ABORTED ||
              (st == STATUS_SUCCESS && info == 0),
          "a refused connection is closed: 0x%lx", HX(st));
    WAIT_UNTIL(wskprov_open_sockets() == open + 1);
    CHECK(wskprov_open_sockets() == open + 1, "the refused socket is gone (c4 is left)");
    close_socket(c4);
    el.answer = STATUS_SUCCESS;

    /* Disabled: connections wait for a WskAccept. */
    CHECK(set_events(l, WSK_EVENT_DISABLE | WSK_EVENT_ACCEPT) == STATUS_SUCCESS, "disable");
    PWSK_SOCKET c5 = connect_ev(family, port, NULL, NULL);
    sleep_ms(50);
    CHECK(el.accepts == 3, "no WskAcceptEvent once disabled");
    op_init(&acc);
    st = RUN(&acc, listen_d(l)->WskAccept(l, 0, NULL, NULL, NULL, NULL, op_begin(&acc)), &info);
    CHECK(st == STATUS_SUCCESS && info != 0, "WskAccept takes the waiting connection");
    op_free(&acc);
    if (NT_SUCCESS(st))
        close_socket((PWSK_SOCKET)info);
    close_socket(c5);

    for (int i = 0; i < 3; i++) {
        close_socket(el.accepted[i]);
        close_socket(c[i]);
    }
    close_socket(l);
    for (int i = 0; i < 4; i++) {
        CHECK(ctx[i].bad == 0, "callbacks of context %d: %ld wrong", i, (long)ctx[i].bad);
        ev_free(&ctx[i]);
    }
    CHECK(el.bad == 0, "WskAcceptEvent calls: %ld wrong", (long)el.bad);
}

/* A connection socket with events (client side, context e) and its
 * accepted peer on l. */
static BOOLEAN make_ev_pair(ADDRESS_FAMILY family, PWSK_SOCKET l, USHORT port, struct evsock *e,
                            PWSK_SOCKET *server)
{
    struct op acc;
    ULONG_PTR info = 0;
    op_init(&acc);
    START(&acc, listen_d(l)->WskAccept(l, 0, NULL, NULL, NULL, NULL, op_begin(&acc)));
    e->sock = connect_ev(family, port, e, &ev_conn_dispatch);
    NTSTATUS st = op_wait(&acc, &info);
    op_free(&acc);
    *server = NT_SUCCESS(st) ? (PWSK_SOCKET)info : NULL;
    CHECK(st == STATUS_SUCCESS && e->sock != NULL, "event pair 0x%lx", HX(st));
    if (*server == NULL || e->sock == NULL)
        return FALSE;
    st = set_events(e->sock, WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT);
    CHECK(st == STATUS_SUCCESS, "enable receive and disconnect 0x%lx", HX(st));
    return NT_SUCCESS(st);
}

/* WskReceiveEvent's answers, WskRelease, WskDisconnectEvent. */
static void test_receive_event(ADDRESS_FAMILY family)
{
    static struct evsock e;
    USHORT port = 0;
    ULONG_PTR info = 0;
    NTSTATUS st;
    PWSK_SOCKET l = make_listener(family, &port), s;
    UCHAR *out = malloc(EV_BYTES), *in = malloc(4096);
    ev_init(&e);
    if (l == NULL || !make_ev_pair(family, l, port, &e, &s))
        goto out;
    CHECK(set_events(s, WSK_EVENT_RECEIVE) == STATUS_INVALID_PARAMETER,
          "enabling a callback the socket has no dispatch for");
    CHECK(set_events(e.sock, WSK_EVENT_ACCEPT) == STATUS_INVALID_PARAMETER,
          "WSK_EVENT_ACCEPT on a connection socket");

    /* STATUS_SUCCESS, all taken: 1 MiB arrives intact through indications. */
    const ULONG big = 1u << 20;
    pattern(out, big, 5);
    st = send_all(s, out, big, 0, &info);
    CHECK(st == STATUS_SUCCESS && info == big, "send 1 MiB");
    WAIT_UNTIL(e.got == big);
    CHECK(e.got == big && pattern_ok(e.data, big, 5), "1 MiB through WskReceiveEvent: %zu",
          (size_t)e.got);

    /* STATUS_SUCCESS with part accepted: no indication until a WskReceive,
     * which gets the rest first. */
    e.got = 0;
    e.receives = 0;
    e.partial = 10;
    e.mode = EV_PARTIAL;
    pattern(out, 100, 6);
    CHECK(send_all(s, out, 100, 0, &info) == STATUS_SUCCESS, "send 100");
    WAIT_UNTIL(e.receives >= 1);
    CHECK(e.receives == 1 && e.got == 10 && pattern_ok(e.data, 10, 6),
          "partial acceptance: %ld indications, %zu bytes", (long)e.receives, (size_t)e.got);
    e.mode = EV_ALL;
    CHECK(send_all(s, out + 100, 50, 0, &info) == STATUS_SUCCESS, "send 50 more");
    sleep_ms(100);
    CHECK(e.receives == 1, "no indication after a partial acceptance before a WskReceive");
    st = recv_some(e.sock, in, 90, WSK_FLAG_WAITALL, &info);
    CHECK(st == STATUS_SUCCESS && info == 90 && memcmp(in, out + 10, 90) == 0,
          "WskReceive gets the rest first: 0x%lx %lu", HX(st), (unsigned long)info);
    WAIT_UNTIL(e.got == 60);
    CHECK(e.got == 60 && memcmp(e.data + 10, out + 100, 50) == 0,
          "indications resume after the WskReceive: %zu", (size_t)e.got);

    /* STATUS_DATA_NOT_ACCEPTED: kept; a zero-length WskReceive resumes the
     * indications, which deliver it. */
    e.got = 0;
    e.receives = 0;
    e.mode = EV_DECLINE;
    pattern(out, 30, 7);
    CHECK(send_all(s, out, 30, 0, &info) == STATUS_SUCCESS, "send 30");
    WAIT_UNTIL(e.receives >= 1);
    sleep_ms(50);
    CHECK(e.receives == 1, "declined once, not indicated again: %ld", (long)e.receives);
    e.mode = EV_ALL;
    st = recv_some(e.sock, in, 0, 0, &info);
    CHECK(st == STATUS_SUCCESS && info == 0, "zero-length WskReceive 0x%lx", HX(st));
    WAIT_UNTIL(e.got == 30);
    CHECK(e.got == 30 && pattern_ok(e.data, 30, 7), "declined data indicated again: %zu",
          (size_t)e.got);
    /* ... or the WskReceive takes it. */
    e.got = 0;
    e.receives = 0;
    e.mode = EV_DECLINE;
    CHECK(send_all(s, "declined", 8, 0, &info) == STATUS_SUCCESS, "send 8");
    WAIT_UNTIL(e.receives >= 1);
    st = recv_some(e.sock, in, 64, 0, &info);
    CHECK(st == STATUS_SUCCESS && info == 8 && memcmp(in, "declined", 8) == 0,
          "WskReceive after STATUS_DATA_NOT_ACCEPTED gets the data: 0x%lx %lu", HX(st),
          (unsigned long)info);
    e.mode = EV_ALL;
    /* A WskReceive made while the refusing callback runs counts as after
     * it: it gets the declined data, and indications resume. */
    e.got = 0;
    e.receives = 0;
    {
        struct op dop;
        struct buf dbuf;
        op_init(&dop);
        buf_lock(&dbuf, in, 64);
        e.decline_op = &dop;
        e.decline_buf = &dbuf;
        e.mode = EV_DECLINE_RECV;
        CHECK(send_all(s, "refused!", 8, 0, &info) == STATUS_SUCCESS, "send 8");
        st = op_wait(&dop, &info);
        CHECK(st == STATUS_SUCCESS && info == 8 && memcmp(in, "refused!", 8) == 0,
              "WskReceive made inside the refusing WskReceiveEvent gets its data: 0x%lx %lu",
              HX(st), (unsigned long)info);
        CHECK(send_all(s, "resumed", 7, 0, &info) == STATUS_SUCCESS, "send 7");
        WAIT_UNTIL(e.got == 7);
        CHECK(e.got == 7 && memcmp(e.data, "resumed", 7) == 0,
              "indications resume after that WskReceive: %zu bytes", (size_t)e.got);
        buf_unlock(&dbuf);
        op_free(&dop);
    }
    e.mode = EV_ALL;

    /* STATUS_PENDING: the lists stay valid until WskRelease. */
    e.receives = 0;
    e.mode = EV_RETAIN;
    pattern(out, 3000, 8);
    CHECK(send_all(s, out, 3000, 0, &info) == STATUS_SUCCESS, "send 3000");
    WAIT_UNTIL(e.nretained >= 1);
    CHECK(kshim_counter("wsk data indications") >= 1, "retained indications counted");
    sleep_ms(20);
    CHECK(send_all(s, out + 3000, 1000, 0, &info) == STATUS_SUCCESS, "send 1000 more");
    SIZE_T total = 0;
    WAIT_UNTIL((total = e.retained_len[0] + (e.nretained > 1 ? e.retained_len[1] : 0) +
                        (e.nretained > 2 ? e.retained_len[2] : 0)) >= 4000 ||
               e.nretained >= EV_RETAINED);
    UCHAR *check = malloc(4000);
    SIZE_T n = 0;
    for (LONG i = 0; i < e.nretained && n < 4000; i++)
        n += copy_list(e.retained[i], check + n, 4000 - n);
    CHECK(n == 4000 && memcmp(check, out, 4000) == 0,
          "retained lists hold the data after the callbacks returned (%zu bytes, %ld lists)",
          (size_t)n, (long)e.nretained);
    free(check);
    for (LONG i = 0; i < e.nretained; i++)
        CHECK(release(e.sock, e.retained[i]) == STATUS_SUCCESS, "WskRelease %ld", (long)i);
    e.nretained = 0;
    CHECK(kshim_counter("wsk data indications") == 0, "released: %ld left",
          (long)kshim_counter("wsk data indications"));
    e.mode = EV_ALL;

    /* A queued WskReceive takes precedence over the indication. */
    e.receives = 0;
    struct op ro;
    struct buf rb;
    op_init(&ro);
    buf_lock(&rb, in, 5);
    START(&ro, conn_d(e.sock)->WskReceive(e.sock, &rb.wb, WSK_FLAG_WAITALL, op_begin(&ro)));
    CHECK(ro.pending_ok, "WskReceive pends");
    CHECK(send_all(s, "first", 5, 0, &info) == STATUS_SUCCESS, "send 5");
    st = op_wait(&ro, &info);
    CHECK(st == STATUS_SUCCESS && info == 5 && memcmp(in, "first", 5) == 0,
          "queued WskReceive served first");
    CHECK(e.receives == 0, "no indication for data a WskReceive took");
    buf_unlock(&rb);
    op_free(&ro);

    /* Disabled: no more indications. */
    CHECK(set_events(e.sock, WSK_EVENT_DISABLE | WSK_EVENT_RECEIVE) == STATUS_SUCCESS,
          "disable receive");
    CHECK(send_all(s, "later", 5, 0, &info) == STATUS_SUCCESS, "send 5");
    st = recv_some(e.sock, in, 5, WSK_FLAG_WAITALL, &info);
    CHECK(st == STATUS_SUCCESS && info == 5 && e.receives == 0, "receive once disabled");
    CHECK(set_events(e.sock, WSK_EVENT_RECEIVE) == STATUS_SUCCESS, "enable again");

    /* Graceful disconnect by the peer: WskDisconnectEvent(0), once. */
    st = RUN(&ctl, conn_d(s)->WskDisconnect(s, NULL, 0, op_begin(&ctl)), NULL);
    CHECK(st == STATUS_SUCCESS, "peer's graceful disconnect 0x%lx", HX(st));
    WAIT_UNTIL(e.disconnects >= 1);
    sleep_ms(50);
    CHECK(e.disconnects == 1 && e.disc_flags == 0 && e.dead == 0,
          "graceful WskDisconnectEvent: %ld, flags 0x%lx", (long)e.disconnects,
          (unsigned long)e.disc_flags);
    CHECK(send_all(e.sock, "still", 5, 0, &info) == STATUS_SUCCESS,
          "sending after the peer's graceful disconnect");
    close_socket(s);
    close_socket(e.sock);
    CHECK(e.bad == 0, "wrong callbacks: %ld", (long)e.bad);

    /* Abortive disconnect by the peer: WskDisconnectEvent(WSK_FLAG_ABORTIVE)
     * once, then WskReceiveEvent with no data ("no longer functional"). */
    ev_init(&e);
    if (make_ev_pair(family, l, port, &e, &s)) {
        st = RUN(&ctl, conn_d(s)->WskDisconnect(s, NULL, WSK_FLAG_ABORTIVE, op_begin(&ctl)), NULL);
        CHECK(st == STATUS_SUCCESS, "peer's abortive disconnect");
        WAIT_UNTIL(e.disconnects >= 1 && e.dead >= 1);
        sleep_ms(50);
        CHECK(e.disconnects == 1 && e.disc_flags == WSK_FLAG_ABORTIVE,
              "abortive WskDisconnectEvent: %ld, flags 0x%lx", (long)e.disconnects,
              (unsigned long)e.disc_flags);
        CHECK(e.dead == 1, "WskReceiveEvent with DataIndication NULL: %ld", (long)e.dead);
        close_socket(s);
        close_socket(e.sock);
        CHECK(e.bad == 0, "wrong callbacks: %ld", (long)e.bad);
    }

    /* No callback after WskCloseSocket, even with data arriving. */
    ev_init(&e);
    if (make_ev_pair(family, l, port, &e, &s)) {
        close_socket(e.sock);
        LONG before = e.receives + e.disconnects + e.dead;
        send_all(s, "gone", 4, 0, &info);
        RUN(&ctl, conn_d(s)->WskDisconnect(s, NULL, 0, op_begin(&ctl)), NULL);
        sleep_ms(50);
        CHECK(e.receives + e.disconnects + e.dead == before, "no callback after WskCloseSocket");
        close_socket(s);
    }
out:
    if (l != NULL)
        close_socket(l);
    ev_free(&e);
    free(out);
    free(in);
}

static int run_child(const char *fault, const char *arg1, const char *arg2, char *output,
                     size_t size);

/* Disabling WskReceiveEvent from inside it ("SO_WSK_EVENT_CALLBACK"). */
static void test_disable_event(void)
{
    static struct evsock e;
    USHORT port = 0;
    ULONG_PTR info = 0;
    struct op dop;
    PWSK_SOCKET l = make_listener(AF_INET, &port), s;
    ev_init(&e);
    op_init(&dop);
    if (l != NULL && make_ev_pair(AF_INET, l, port, &e, &s)) {
        e.disable_op = &dop;
        e.mode = EV_DISABLE;
        CHECK(send_all(s, "one", 3, 0, &info) == STATUS_SUCCESS, "send");
        WAIT_UNTIL(e.receives == 1);
        CHECK(e.disable_other == STATUS_SUCCESS, "disabling an event not running: 0x%lx",
              HX(e.disable_other));
        CHECK(e.disable_self == STATUS_PENDING && !e.disable_done_in_callback,
              "disabling the running event with an IRP pends: 0x%lx", HX(e.disable_self));
        NTSTATUS st = op_wait(&dop, NULL);
        CHECK(st == STATUS_SUCCESS, "the disable completes once the callback returned: 0x%lx",
              HX(st));
        CHECK(send_all(s, "two", 3, 0, &info) == STATUS_SUCCESS, "send");
        UCHAR in[8];
        st = recv_some(e.sock, in, 3, WSK_FLAG_WAITALL, &info);
        CHECK(st == STATUS_SUCCESS && info == 3 && memcmp(in, "two", 3) == 0 && e.receives == 1,
              "no indication once disabled");
        /* Without an IRP: STATUS_EVENT_PENDING. */
        e.disable_op = NULL;
        CHECK(set_events(e.sock, WSK_EVENT_RECEIVE) == STATUS_SUCCESS, "enable again");
        CHECK(send_all(s, "three", 5, 0, &info) == STATUS_SUCCESS, "send");
        WAIT_UNTIL(e.receives == 2);
        CHECK(e.disable_self == (NTSTATUS)0x40000013L,
              "disabling the running event without an IRP: STATUS_EVENT_PENDING, 0x%lx",
              HX(e.disable_self));
        CHECK(e.got == 8 && memcmp(e.data, "onethree", 8) == 0, "data of both indications");
        close_socket(s);
        close_socket(e.sock);
        CHECK(e.bad == 0, "wrong callbacks: %ld", (long)e.bad);
    }
    op_free(&dop);
    if (l != NULL)
        close_socket(l);
    ev_free(&e);
}

/* A child with KSHIM_WSK_EVENTS=0: SO_WSK_EVENT_CALLBACK is not offered. */
static int events_env_child(void)
{
    static struct evlisten el;
    start_provider();
    PWSK_SOCKET l = make_socket_ev(AF_INET, WSK_FLAG_LISTEN_SOCKET, &el, &ev_listen_dispatch);
    CHECK(bind_socket(l, AF_INET, 0) == STATUS_SUCCESS, "bind");
    NTSTATUS st = set_events(l, WSK_EVENT_ACCEPT);
    CHECK(st == STATUS_NOT_SUPPORTED && !wskprov_events(),
          "KSHIM_WSK_EVENTS=0: SO_WSK_EVENT_CALLBACK 0x%lx", HX(st));
    close_socket(l);
    stop_provider();
    return failures != 0;
}

static void test_events_env(void)
{
    setenv("KSHIM_WSK_EVENTS", "0", 1);
    int rc = run_child(NULL, "--events-env", "0", NULL, 0);
    unsetenv("KSHIM_WSK_EVENTS");
    CHECK(rc == 0, "KSHIM_WSK_EVENTS=0 child: exit %d", rc);
}

/* The event fault sites ("wskprov.h"), each in a child with KSHIM_FAULT:
 * the connection is dropped / the data comes later, nothing crashes. */
static int event_fault_child(const char *site)
{
    static struct evsock ctx[2], e;
    static struct evlisten el;
    ULONG_PTR info = 0;
    USHORT port = 0;
    UCHAR in[16];
    start_provider();
    if (strcmp(site, "wsk.acceptevent") == 0) {
        ev_init(&ctx[0]);
        ev_init(&ctx[1]);
        el.ctx[0] = &ctx[0];
        el.ctx[1] = &ctx[1];
        PWSK_SOCKET l = make_socket_ev(AF_INET, WSK_FLAG_LISTEN_SOCKET, &el, &ev_listen_dispatch);
        CHECK(bind_socket(l, AF_INET, 0) == STATUS_SUCCESS, "bind");
        port = local_port(l, WSK_FLAG_LISTEN_SOCKET);
        CHECK(set_events(l, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE) == STATUS_SUCCESS, "enable");
        /* The reset may come before the connect completed, or after. */
        SOCKADDR_STORAGE a;
        PWSK_SOCKET c1 = make_socket(AF_INET, WSK_FLAG_CONNECTION_SOCKET);
        CHECK(bind_socket(c1, AF_INET, 0) == STATUS_SUCCESS, "bind");
        make_addr(AF_INET, TRUE, port, &a);
        NTSTATUS st = RUN(&ctl, conn_d(c1)->WskConnect(c1, (PSOCKADDR)&a, 0, op_begin(&ctl)), NULL);
        if (st == STATUS_SUCCESS)
            st = recv_some(c1, in, sizeof(in), 0, &info);
        CHECK(st == STATUS_CONNECTION_RESET || st == STATUS_CONNECTION_ABORTED ||
                  (st == STATUS_SUCCESS && info == 0),
              "the connection the fault hit is dropped: 0x%lx", HX(st));
        CHECK(el.accepts == 0 && kshim_fault_fired(), "no WskAcceptEvent for it");
        PWSK_SOCKET c2 = connect_ev(AF_INET, port, NULL, NULL);
        WAIT_UNTIL(el.accepts == 1);
        CHECK(el.accepts == 1, "the next connection is accepted");
        CHECK(send_all(c2, "ok", 2, 0, &info) == STATUS_SUCCESS, "send");
        WAIT_UNTIL(ctx[0].got == 2);
        CHECK(ctx[0].got == 2, "and receives");
        if (el.accepts == 1)
            close_socket(el.accepted[0]);
        close_socket(c1);
        close_socket(c2);
        close_socket(l);
        ev_free(&ctx[0]);
        ev_free(&ctx[1]);
    } else {
        PWSK_SOCKET l = make_listener(AF_INET, &port), s;
        ev_init(&e);
        if (make_ev_pair(AF_INET, l, port, &e, &s)) {
            UCHAR out[1000];
            pattern(out, sizeof(out), 9);
            CHECK(send_all(s, out, sizeof(out), 0, &info) == STATUS_SUCCESS, "send");
            WAIT_UNTIL(e.got == sizeof(out));
            CHECK(e.got == sizeof(out) && pattern_ok(e.data, sizeof(out), 9) && kshim_fault_fired(),
                  "data indicated after the failed indication: %zu bytes", (size_t)e.got);
            close_socket(s);
            close_socket(e.sock);
        }
        close_socket(l);
        ev_free(&e);
    }
    stop_provider();
    op_free(&ctl);
    CHECK(kshim_wait_threads(WAIT_MS), "threads");
    CHECK(kshim_check_leaks("event fault") == 0, "leaks");
    printf("wskprov_test: fault %s: %s\n", site, failures == 0 ? "as documented" : "WRONG");
    return failures != 0;
}

static void test_event_faults(void)
{
    static const char *const sites[] = {"wsk.acceptevent", "wsk.indicate"};
    for (size_t i = 0; i < ARRAYSIZE(sites); i++) {
        char fault[64];
        snprintf(fault, sizeof(fault), "%s:1", sites[i]);
        int rc = run_child(fault, "--event-fault", sites[i], NULL, 0);
        CHECK(rc == 0, "event fault site %s: child exit %d", sites[i], rc);
    }
}

/* A connection socket whose WskReceiveEvent retained a list (violations). */
static struct evsock *retained_socket(void)
{
    static struct evsock e;
    USHORT port = 0;
    ULONG_PTR info = 0;
    PWSK_SOCKET l = make_listener(AF_INET, &port), s;
    ev_init(&e);
    e.mode = EV_RETAIN;
    if (l == NULL || !make_ev_pair(AF_INET, l, port, &e, &s))
        return &e;
    send_all(s, "keep", 4, 0, &info);
    WAIT_UNTIL(e.nretained >= 1);
    return &e;
}

/* ---- fault sites: a child per site ---- */

struct site {
    const char *name;
    NTSTATUS status;
};
static const struct site sites[] = {
    {"wsk.register", STATUS_INSUFFICIENT_RESOURCES},
    {"wsk.capture", STATUS_DEVICE_NOT_READY},
    {"wsk.socket", STATUS_INSUFFICIENT_RESOURCES},
    {"wsk.bind", STATUS_ADDRESS_ALREADY_EXISTS},
    {"wsk.getaddress", STATUS_INSUFFICIENT_RESOURCES},
    {"wsk.accept", STATUS_INSUFFICIENT_RESOURCES},
    {"wsk.connect", STATUS_CONNECTION_REFUSED},
    {"wsk.send", STATUS_CONNECTION_RESET},
    {"wsk.receive", STATUS_CONNECTION_RESET},
    {"wsk.disconnect", STATUS_CONNECTION_RESET},
    {"wsk.control", STATUS_INSUFFICIENT_RESOURCES},
    {"wsk.sendto", STATUS_NETWORK_UNREACHABLE},
    {"wsk.recvfrom", STATUS_PORT_UNREACHABLE},
    {"wsk.getaddrinfo", STATUS_NOT_FOUND},
    {"wsk.getnameinfo", STATUS_NOT_FOUND},
};

static const char *fault_site;
static NTSTATUS fault_status;

/* One step of the tour: the faulted site must fail as documented (then the
 * child ends), every other step must succeed. */
static void step(const char *site, NTSTATUS st)
{
    if (fault_site != NULL && strcmp(site, fault_site) == 0) {
        int ok = st == fault_status && kshim_fault_fired();
        printf("wskprov_test: fault %s: 0x%lx (%s)\n", site, HX(st),
               ok ? "as documented" : "WRONG");
        fflush(stdout);
        _exit(ok ? 0 : 1);
    }
    CHECK(NT_SUCCESS(st), "tour step %s: 0x%lx", site, HX(st));
    if (!NT_SUCCESS(st)) {
        fflush(stdout);
        _exit(1);
    }
}

/* Reaches every fault site once, in order. */
static void tour(void)
{
    ULONG_PTR info = 0;
    USHORT port;
    SOCKADDR_STORAGE a, b;
    step("wsk.register", WskRegister(&client_npi, &registration));
    step("wsk.capture", WskCaptureProviderNPI(&registration, WSK_NO_WAIT, &npi));
    NTSTATUS st = RUN(&ctl,
                      npi.Dispatch->WskSocket(npi.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP,
                                              WSK_FLAG_LISTEN_SOCKET, NULL, NULL, NULL, NULL, NULL,
                                              op_begin(&ctl)),
                      &info);
    step("wsk.socket", st);
    PWSK_SOCKET l = (PWSK_SOCKET)info;
    step("wsk.bind", bind_socket(l, AF_INET, 0));
    RtlZeroMemory(&a, sizeof(a));
    step("wsk.getaddress",
         RUN(&ctl, listen_d(l)->WskGetLocalAddress(l, (PSOCKADDR)&a, op_begin(&ctl)), NULL));
    port = port_of(&a);
    struct op acc;
    op_init(&acc);
    START(&acc, listen_d(l)->WskAccept(l, 0, NULL, NULL, NULL, NULL, op_begin(&acc)));
    if (!acc.pending_ok)
        step("wsk.accept", op_wait(&acc, &info));
    PWSK_SOCKET c = make_socket(AF_INET, WSK_FLAG_CONNECTION_SOCKET);
    CHECK(bind_socket(c, AF_INET, 0) == STATUS_SUCCESS, "bind");
    make_addr(AF_INET, TRUE, port, &b);
    step("wsk.connect",
         RUN(&ctl, conn_d(c)->WskConnect(c, (PSOCKADDR)&b, 0, op_begin(&ctl)), NULL));
    step("wsk.accept", op_wait(&acc, &info));
    PWSK_SOCKET s = (PWSK_SOCKET)info;
    UCHAR buf[16] = "tour";
    step("wsk.send", send_all(c, buf, 4, 0, &info));
    step("wsk.receive", recv_some(s, buf, 4, WSK_FLAG_WAITALL, &info));
    step("wsk.disconnect", RUN(&ctl, conn_d(c)->WskDisconnect(c, NULL, 0, op_begin(&ctl)), NULL));
    step("wsk.control", set_opt(s, SOL_SOCKET, SO_KEEPALIVE, 1));
    PWSK_SOCKET d = make_socket(AF_INET, WSK_FLAG_DATAGRAM_SOCKET);
    CHECK(bind_socket(d, AF_INET, 0) == STATUS_SUCCESS, "bind datagram");
    make_addr(AF_INET, TRUE, local_port(d, WSK_FLAG_DATAGRAM_SOCKET), &b);
    struct buf sb;
    buf_lock(&sb, buf, 4);
    step("wsk.sendto",
         RUN(&ctl, dgram_d(d)->WskSendTo(d, &sb.wb, 0, (PSOCKADDR)&b, 0, NULL, op_begin(&ctl)),
             NULL));
    step("wsk.recvfrom",
         RUN(&ctl, dgram_d(d)->WskReceiveFrom(d, &sb.wb, 0, NULL, NULL, NULL, NULL, op_begin(&ctl)),
             NULL));
    buf_unlock(&sb);
    UNICODE_STRING node;
    RtlInitUnicodeString(&node, L"127.0.0.1");
    PADDRINFOEXW result = NULL;
    step("wsk.getaddrinfo",
         RUN(&ctl,
             npi.Dispatch->WskGetAddressInfo(npi.Client, &node, NULL, NS_ALL, NULL, NULL, &result,
                                             NULL, NULL, op_begin(&ctl)),
             NULL));
    npi.Dispatch->WskFreeAddressInfo(npi.Client, result);
    WCHAR host[64];
    UNICODE_STRING uh = {0, sizeof(host), host};
    step("wsk.getnameinfo",
         RUN(&ctl,
             npi.Dispatch->WskGetNameInfo(npi.Client, (PSOCKADDR)&b, sizeof(SOCKADDR_IN), &uh, NULL,
                                          NI_NUMERICHOST, NULL, NULL, op_begin(&ctl)),
             NULL));
    op_free(&acc);
    close_socket(d);
    close_socket(s);
    close_socket(c);
    close_socket(l);
    stop_provider();
}

static char self[4096];

/* Runs this program again with args and KSHIM_FAULT (optional); returns
 * its exit status (or -1). Its output goes to ours, or with output != NULL
 * (size bytes) is captured there instead. */
static int run_child(const char *fault, const char *arg1, const char *arg2, char *output,
                     size_t size)
{
    int fds[2] = {-1, -1};
    fflush(stdout);
    fflush(stderr);
    if (output != NULL && pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        if (output != NULL) {
            close(fds[0]);
            dup2(fds[1], STDOUT_FILENO);
            dup2(fds[1], STDERR_FILENO);
        }
        alarm(60); /* a hang fails the check, not the whole test */
        if (fault != NULL)
            setenv("KSHIM_FAULT", fault, 1);
        else
            unsetenv("KSHIM_FAULT");
        char *argv[] = {self, (char *)arg1, (char *)arg2, NULL};
        execv(self, argv);
        _exit(127);
    }
    if (output != NULL) {
        size_t len = 0;
        ssize_t n;
        close(fds[1]);
        while (len + 1 < size && (n = read(fds[0], output + len, size - 1 - len)) > 0)
            len += (size_t)n;
        output[len] = '\0';
        close(fds[0]);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_faults(void)
{
    for (size_t i = 0; i < ARRAYSIZE(sites); i++) {
        char fault[64];
        snprintf(fault, sizeof(fault), "%s:1", sites[i].name);
        int rc = run_child(fault, "--fault", sites[i].name, NULL, 0);
        CHECK(rc == 0, "fault site %s: child exit %d", sites[i].name, rc);
    }
}

/* ---- violations: each in a child that must end with status 86 ---- */

static void violation(const char *which)
{
    start_provider();
    if (strcmp(which, "close-twice") == 0) {
        PWSK_SOCKET s = make_socket(AF_INET, WSK_FLAG_DATAGRAM_SOCKET);
        close_socket(s);
        close_socket(s);
    } else if (strcmp(which, "use-after-close") == 0) {
        PWSK_SOCKET s = make_socket(AF_INET, WSK_FLAG_DATAGRAM_SOCKET);
        close_socket(s);
        bind_socket(s, AF_INET, 0);
    } else if (strcmp(which, "deregister-twice") == 0) {
        stop_provider();
        WskDeregister(&registration);
    } else if (strcmp(which, "socket-after-release") == 0) {
        WskReleaseProviderNPI(&registration);
        make_socket(AF_INET, WSK_FLAG_DATAGRAM_SOCKET);
    } else if (strcmp(which, "release-unknown") == 0) {
        struct evsock *e = retained_socket();
        WSK_DATA_INDICATION bogus = {NULL, {NULL, 0, 0}};
        if (e->sock != NULL)
            release(e->sock, &bogus);
    } else if (strcmp(which, "release-twice") == 0) {
        struct evsock *e = retained_socket();
        if (e->sock != NULL && e->nretained >= 1) {
            CHECK(release(e->sock, e->retained[0]) == STATUS_SUCCESS, "first WskRelease");
            release(e->sock, e->retained[0]);
        }
    } else if (strcmp(which, "close-retained") == 0) {
        struct evsock *e = retained_socket();
        if (e->sock != NULL && e->nretained >= 1)
            close_socket(e->sock);
    } else if (strcmp(which, "irp-in-flight") == 0) {
        /* The same IRP sent twice before it completed. */
        USHORT port;
        PWSK_SOCKET l = make_listener(AF_INET, &port);
        struct op o;
        op_init(&o);
        listen_d(l)->WskAccept(l, 0, NULL, NULL, NULL, NULL, op_begin(&o));
        listen_d(l)->WskAccept(l, 0, NULL, NULL, NULL, NULL, o.irp);
    }
    printf("wskprov_test: violation %s was not detected\n", which);
    fflush(stdout);
    _exit(1);
}

static void test_violations(void)
{
    static const char *const cases[][2] = {
        {"close-twice", "WskCloseSocket on socket"},
        {"use-after-close", "WskBind on socket"},
        {"deregister-twice", "WskDeregister called twice"},
        {"socket-after-release", "without a captured provider NPI"},
        {"irp-in-flight", "sent again before it completed"},
        {"release-unknown", "WskRelease("},
        {"release-twice", "or one released already"},
        {"close-retained", "still retains 1 data indication list"},
    };
    static char output[65536];
    for (size_t i = 0; i < ARRAYSIZE(cases); i++) {
        int rc = run_child(NULL, "--violation", cases[i][0], output, sizeof(output));
        CHECK(rc == KSHIM_EXIT_VIOLATION && strstr(output, "kshim: VIOLATION") != NULL &&
                  strstr(output, cases[i][1]) != NULL,
              "violation %s: child exit %d, output:\n%s", cases[i][0], rc, output);
    }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return 2;
    self[n] = '\0';
    kshim_init();
    op_init(&ctl);
    if (argc == 3 && strcmp(argv[1], "--fault") == 0) {
        fault_site = argv[2];
        for (size_t i = 0; i < ARRAYSIZE(sites); i++)
            if (strcmp(sites[i].name, fault_site) == 0)
                fault_status = sites[i].status;
        tour();
        if (strcmp(fault_site, "none") == 0)
            return failures != 0;
        printf("wskprov_test: fault site %s was not reached\n", fault_site);
        return 1;
    }
    if (argc == 3 && strcmp(argv[1], "--events-env") == 0)
        return events_env_child();
    if (argc == 3 && strcmp(argv[1], "--event-fault") == 0)
        return event_fault_child(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--violation") == 0) {
        violation(argv[2]);
        return 1;
    }

    start_provider();
    test_mode();
    test_registration();
    test_tcp(AF_INET);
    test_tcp(AF_INET6);
    test_cancel();
    test_errors();
    test_udp(AF_INET);
    test_udp(AF_INET6);
    test_options();
    test_names();
    test_accept_event(AF_INET);
    test_accept_event(AF_INET6);
    test_receive_event(AF_INET);
    test_receive_event(AF_INET6);
    test_disable_event();
    CHECK(wskprov_open_sockets() == 0, "sockets left open: %ld", (long)wskprov_open_sockets());
    stop_provider();
    op_free(&ctl);
    CHECK(kshim_counter("wsk sockets") == 0, "wsk sockets counter");
    CHECK(kshim_wait_threads(WAIT_MS), "system threads ended");
    CHECK(kshim_check_leaks("wskprov_test") == 0, "leaks");

    /* The tour without a fault, then each fault site and violation. */
    CHECK(run_child(NULL, "--fault", "none", NULL, 0) == 0, "the tour runs without faults");
    test_faults();
    test_violations();
    test_events_env();
    test_event_faults();

    if (failures != 0) {
        printf("wskprov_test: %d of %d checks FAILED\n", failures, checks);
        return 1;
    }
    printf("wskprov_test: %d checks passed\n", checks);
    return 0;
}
