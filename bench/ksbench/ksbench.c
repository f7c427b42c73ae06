/*
 * ksbench - the benchmark's drivers on wsksock's blocking API
 * (bench/README.md): an echo server, and a client for kernel-to-kernel runs.
 *
 * Registry parameters (REG_SZ under the service key's Parameters subkey):
 *   Mode   server | client (default: the build's KSBENCH_DEFAULT_MODE, so
 *          that ksbench-echo.sys and ksbench-client.sys can be loaded in one
 *          wskrun run, which gives every driver the same parameters)
 *   Port   TCP port on 127.0.0.1 (default 7777)
 *   Bytes  client: bytes of the streamed echo (default 200 MiB)
 *   RtMs   client: duration of each round-trip measure in ms (default 2000)
 *
 * Server: the same echo server as tests/drivers/kecho (listener thread, a
 * system thread per connection receiving up to 64 KiB and sending it back
 * until the peer closes), without kecho's log line per connection (DbgPrint
 * costs a wineserver round trip under Wine and would be measured). It logs
 * "ksbench: listening on port N"; a connection whose first receive is
 * exactly "BENCHEND" makes it log "ksbench: stop requested".
 *
 * Client: connects to the server (retrying until it listens), then measures
 * in order, each on its own connection: 1-byte round trips, lockstep 64 KiB
 * round trips (each for RtMs), and the streamed echo of Bytes bytes in
 * 64 KiB pieces sent by a second thread while this one receives; every
 * echoed byte is compared with what was sent (bench/common/benchpat.h).
 * Logs one line
 *   ksbench: result rt1=N rt1_us=T rt64k=N rt64k_us=T stream_bytes=B stream_us=T
 * then "ksbench: done ok", or "ksbench: FAIL <why>".
 */
#include <ntddk.h>

#include "../../tests/drivers/kthread.h"

#include <wsksock.h>
#include <wsksock/params.h>

#include "benchpat.h"

#ifndef KSBENCH_DEFAULT_MODE
#define KSBENCH_DEFAULT_MODE "server"
#endif

#define KSB_TAG ((ULONG)'k' | ((ULONG)'s' << 8) | ((ULONG)'b' << 16) | ((ULONG)'E' << 24))
#define KSB_BUF (64 * 1024)
#define KSB_CONNECT_MS 20000 /* the client waits this long for the server */
#define KSB_RT_SEED 7001
#define KSB_STREAM_SEED 7002
#define KSB_EDATA (-10000) /* echoed bytes differ from those sent */

/* The format is the first argument and ends with \n (C11 allows no
 * empty __VA_ARGS__, so the macro cannot append it). */
#define LOG(...) DbgPrint("ksbench: " __VA_ARGS__)

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD ksb_unload;

struct conn {
    LIST_ENTRY link;
    PVOID thread; /* referenced thread object */
    int fd;
    volatile LONG finished;
};

static int g_port, g_rt_ms, g_client;
static ULONG g_bytes;
static int g_started;
static PVOID g_main_thread; /* listener (server) or measuring thread (client) */
static volatile LONG g_stopping;
static volatile LONG g_accepted;
static LIST_ENTRY g_conns; /* the listener thread's until it has ended */

static LONGLONG now_us(void)
{
    LARGE_INTEGER f, c = KeQueryPerformanceCounter(&f);
    return f.QuadPart > 0
               ? c.QuadPart / f.QuadPart * 1000000 + c.QuadPart % f.QuadPart * 1000000 / f.QuadPart
               : 0;
}

static void sleep_ms(ULONG ms)
{
    LARGE_INTEGER t;

    t.QuadPart = -(LONGLONG)ms * 10000;
    KeDelayExecutionThread(KernelMode, FALSE, &t);
}

/* ---- server ---------------------------------------------------------------- */

static VOID NTAPI conn_thread(PVOID ctx)
{
    struct conn *c = ctx;
    unsigned char *buf = ks_pool_alloc(KSB_BUF, KSB_TAG);
    int first = 1;

    if (buf) {
        for (;;) {
            ks_ssize_t r = ks_recv(c->fd, buf, KSB_BUF, 0);
            if (r <= 0)
                break;
            if (first && r == 8 && RtlCompareMemory(buf, "BENCHEND", 8) == 8) {
                LOG("stop requested (connections=%ld)\n", g_accepted);
                break;
            }
            first = 0;
            if (ks_send(c->fd, buf, (size_t)r, 0) != r)
                break;
        }
        ks_pool_free(buf, KSB_TAG);
    }
    ks_close(c->fd); /* -EBADF after ks_cleanup: harmless */
    InterlockedExchange(&c->finished, 1);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* Frees the contexts of connections whose thread has ended. */
static void reap(int wait)
{
    PLIST_ENTRY e = g_conns.Flink;

    while (e != &g_conns) {
        struct conn *c = CONTAINING_RECORD(e, struct conn, link);
        e = e->Flink;
        if (wait)
            kd_thread_join_forever(c->thread, "ksbench", "a connection thread");
        else if (c->finished && kd_thread_join(c->thread, 0))
            ObDereferenceObject(c->thread);
        else
            continue;
        RemoveEntryList(&c->link);
        ks_pool_free(c, KSB_TAG);
    }
}

static void loopback(struct sockaddr_in *a)
{
    RtlZeroMemory(a, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_port = ks_htons((uint16_t)g_port);
    a->sin_addr.s_addr = ks_htonl(INADDR_LOOPBACK);
}

static VOID NTAPI listener_thread(PVOID ctx)
{
    struct sockaddr_in a;
    int l, r;

    (void)ctx;
    loopback(&a);
    l = ks_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (l < 0) {
        LOG("ks_socket failed: %d (%s)\n", l, ks_strerror(l));
        goto out;
    }
    r = ks_bind(l, (struct sockaddr *)&a, sizeof(a));
    if (r == 0)
        r = ks_listen(l, 64);
    if (r != 0) {
        LOG("bind/listen on port %d failed: %d (%s)\n", g_port, r, ks_strerror(r));
        goto out;
    }
    LOG("listening on port %d\n", g_port);

    while (!g_stopping) {
        struct conn *c;
        int fd = ks_accept(l, NULL, NULL);

        if (fd < 0) {
            if (g_stopping || fd == -EBADF || fd == -ENETDOWN || fd == -EINVAL)
                break;
            LOG("ks_accept failed: %d (%s)\n", fd, ks_strerror(fd));
            continue; /* transient: -ECONNABORTED, -ENOMEM, -EMFILE */
        }
        reap(0);
        InterlockedIncrement(&g_accepted);
        c = ks_pool_alloc(sizeof(*c), KSB_TAG);
        if (!c) {
            ks_close(fd);
            continue;
        }
        RtlZeroMemory(c, sizeof(*c));
        c->fd = fd;
        if (!NT_SUCCESS(kd_thread_start(conn_thread, c, &c->thread))) {
            ks_close(fd);
            ks_pool_free(c, KSB_TAG);
            continue;
        }
        InsertTailList(&g_conns, &c->link);
    }
out:
    if (l >= 0)
        ks_close(l);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* ---- client ---------------------------------------------------------------- */

struct client {
    uint8_t *ring; /* BP_RING_SIZE bytes of the stream's data */
    uint8_t *rbuf; /* KSB_BUF */
    int fd;        /* the streamed echo's connection (shared with the sender) */
    ULONG bytes;
    ks_ssize_t send_result;
};

static int connect_server(void)
{
    struct sockaddr_in a;
    LONGLONG deadline = now_us() + (LONGLONG)KSB_CONNECT_MS * 1000;

    loopback(&a);
    while (!g_stopping) {
        int fd = ks_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP), r;
        if (fd < 0)
            return fd;
        r = ks_connect(fd, (struct sockaddr *)&a, sizeof(a));
        if (r == 0)
            return fd;
        ks_close(fd);
        if (r != -ECONNREFUSED || now_us() > deadline)
            return r;
        sleep_ms(50); /* the server is not listening yet */
    }
    return -ECANCELED;
}

/* Receives exactly len bytes and compares them with want. */
static int recv_check(int fd, uint8_t *buf, size_t len, const uint8_t *want)
{
    size_t got = 0;

    while (got < len) {
        ks_ssize_t n = ks_recv(fd, buf + got, len - got, 0);
        if (n <= 0)
            return n == 0 ? -ECONNRESET : (int)n;
        got += (size_t)n;
    }
    return RtlCompareMemory(buf, want, len) == len ? 0 : KSB_EDATA;
}

/* Lockstep round trips of `size` bytes for g_rt_ms; *count and *us. */
static int round_trips(struct client *cl, size_t size, ULONG *count, ULONG *us)
{
    LONGLONG t0, end;
    uint64_t off = 0;
    int fd = connect_server(), err = 0;

    *count = 0;
    if (fd < 0)
        return fd;
    t0 = now_us();
    end = t0 + (LONGLONG)g_rt_ms * 1000;
    while (!g_stopping) {
        const uint8_t *p = bp_at(cl->ring, off);
        ks_ssize_t n = ks_send(fd, p, size, 0);
        if (n != (ks_ssize_t)size) {
            err = n < 0 ? (int)n : -EIO;
            break;
        }
        err = recv_check(fd, cl->rbuf, size, p);
        if (err)
            break;
        off += size;
        ++*count;
        if (now_us() >= end)
            break;
    }
    *us = (ULONG)(now_us() - t0);
    ks_close(fd);
    return g_stopping ? -ECANCELED : err;
}

static VOID NTAPI sender_thread(PVOID ctx)
{
    struct client *cl = ctx;
    uint64_t off = 0;

    cl->send_result = 0;
    while (off < cl->bytes) {
        size_t piece = cl->bytes - off < BP_CHUNK ? (size_t)(cl->bytes - off) : BP_CHUNK;
        ks_ssize_t n = ks_send(cl->fd, bp_at(cl->ring, off), piece, 0);
        if (n != (ks_ssize_t)piece) {
            cl->send_result = n < 0 ? n : -EIO;
            break;
        }
        off += piece;
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* Streams cl->bytes both ways at once; *us from the first send to the last
 * byte echoed. */
static int stream(struct client *cl, ULONG *us)
{
    PVOID sender;
    uint64_t got = 0;
    LONGLONG t0;
    int err = 0;

    cl->fd = connect_server();
    if (cl->fd < 0)
        return cl->fd;
    t0 = now_us();
    if (!NT_SUCCESS(kd_thread_start(sender_thread, cl, &sender))) {
        ks_close(cl->fd);
        return -ENOMEM;
    }
    while (got < cl->bytes) {
        ks_ssize_t n = ks_recv(cl->fd, cl->rbuf, KSB_BUF, 0);
        if (n <= 0) {
            err = n == 0 ? -ECONNRESET : (int)n;
            break;
        }
        if (RtlCompareMemory(cl->rbuf, bp_at(cl->ring, got), (size_t)n) != (size_t)n) {
            err = KSB_EDATA;
            break;
        }
        got += (uint64_t)n;
    }
    *us = (ULONG)(now_us() - t0);
    ks_close(cl->fd); /* wakes the sender if it is still blocked */
    kd_thread_join_forever(sender, "ksbench", "the sender thread");
    if (err == 0 && cl->send_result < 0)
        err = (int)cl->send_result;
    return err;
}

static VOID NTAPI client_thread(PVOID ctx)
{
    struct client cl;
    ULONG rt1 = 0, rt1_us = 0, rt64 = 0, rt64_us = 0, st_us = 0;
    const char *what = "memory";
    int err = -ENOMEM;

    (void)ctx;
    RtlZeroMemory(&cl, sizeof(cl));
    cl.bytes = g_bytes;
    cl.ring = ks_pool_alloc(BP_RING_SIZE, KSB_TAG);
    cl.rbuf = ks_pool_alloc(KSB_BUF, KSB_TAG);
    if (cl.ring && cl.rbuf) {
        bp_ring_fill(KSB_RT_SEED, cl.ring);
        what = "1-byte round trips";
        err = round_trips(&cl, 1, &rt1, &rt1_us);
        if (!err) {
            what = "64 KiB round trips";
            err = round_trips(&cl, BP_CHUNK, &rt64, &rt64_us);
        }
        if (!err) {
            what = "streamed echo";
            bp_ring_fill(KSB_STREAM_SEED, cl.ring);
            err = stream(&cl, &st_us);
        }
    }
    if (err) {
        LOG("FAIL %s: %d (%s)\n", what, err,
            err == KSB_EDATA ? "echoed bytes differ from those sent" : ks_strerror(err));
    } else {
        LOG("result rt1=%lu rt1_us=%lu rt64k=%lu rt64k_us=%lu stream_bytes=%lu stream_us=%lu\n",
            rt1, rt1_us, rt64, rt64_us, cl.bytes, st_us);
        LOG("done ok\n");
    }
    if (cl.ring)
        ks_pool_free(cl.ring, KSB_TAG);
    if (cl.rbuf)
        ks_pool_free(cl.rbuf, KSB_TAG);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* ---- driver ---------------------------------------------------------------- */

static VOID ksb_unload(PDRIVER_OBJECT driver)
{
    (void)driver;
    InterlockedExchange(&g_stopping, 1);
    if (g_started)
        ks_cleanup(); /* closes every socket: blocked calls return */
    if (g_main_thread)
        kd_thread_join_forever(g_main_thread, "ksbench",
                               g_client ? "the client thread" : "the listener");
    reap(1); /* the list is final: the listener thread has ended */
    LOG("unloaded (connections=%ld)\n", g_accepted);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    char mode[16];
    NTSTATUS st;
    int r, bytes;

    InitializeListHead(&g_conns);
    if (ks_param_get(registry_path, "Mode", mode, sizeof(mode)) < 0)
        RtlCopyMemory(mode, KSBENCH_DEFAULT_MODE, sizeof(KSBENCH_DEFAULT_MODE));
    g_client = mode[0] == 'c';
    g_port = ks_param_get_int(registry_path, "Port", 7777);
    bytes = ks_param_get_int(registry_path, "Bytes", 200 << 20);
    g_rt_ms = ks_param_get_int(registry_path, "RtMs", 2000);
    if (g_port <= 0 || g_port > 65535 || bytes <= 0 || g_rt_ms <= 0) {
        LOG("bad Port, Bytes or RtMs parameter\n");
        return STATUS_INVALID_PARAMETER;
    }
    g_bytes = (ULONG)bytes;
    r = ks_startup();
    if (r != 0) {
        LOG("ks_startup failed: %d (%s)\n", r, ks_strerror(r));
        return STATUS_UNSUCCESSFUL;
    }
    g_started = 1;
    driver->DriverUnload = ksb_unload;
    st = kd_thread_start(g_client ? client_thread : listener_thread, NULL, &g_main_thread);
    if (!NT_SUCCESS(st)) {
        LOG("cannot start a thread: 0x%08lx\n", (ULONG)st);
        g_main_thread = NULL;
        ks_cleanup();
        return st;
    }
    return STATUS_SUCCESS;
}
