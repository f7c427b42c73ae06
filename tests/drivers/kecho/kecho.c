/*
 * kecho - kernel TCP echo server on wsksock, for the Wine test suite.
 *
 * Registry parameter (REG_SZ under the service key's Parameters subkey):
 *   Port  TCP port to listen on at 127.0.0.1 (default 7777)
 *
 * DriverEntry starts the library and a listener thread, which logs
 *     kecho: listening on port N
 * once the socket listens, accepts connections (logging
 * "kecho: accepted #K") and serves each on its own system thread: it echoes
 * until the peer closes the connection (or an error), then logs
 *     kecho: connection done #D bytes=N result=R
 * where D counts finished connections (1, 2, ...) and R is the ending
 * ks_recv/ks_send return value (0: orderly close by the peer).
 * DriverUnload calls ks_cleanup(), which closes every socket and wakes the
 * blocked threads, waits for all of them and logs
 *     kecho: unloaded in N ms (connections=K)
 */
#include <ntddk.h>

#include <wsksock.h>
#include <wsksock/params.h>

#define KECHO_TAG ((ULONG)'k' | ((ULONG)'e' << 8) | ((ULONG)'c' << 16) | ((ULONG)'o' << 24))
#define KECHO_BUF (64 * 1024)

/* The format is the first argument and ends with \n (C11 allows no
 * empty __VA_ARGS__, so the macro cannot append it). */
#define LOG(...) DbgPrint("kecho: " __VA_ARGS__)

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD kecho_unload;

struct conn {
    LIST_ENTRY link;
    struct ks_thread *thread;
    int fd;
    int number;
    volatile LONG finished;
};

static int g_port;
static int g_started;
static struct ks_thread *g_listener_thread;
static volatile LONG g_stopping;
static volatile LONG g_accepted, g_done;
static LIST_ENTRY g_conns; /* owned by the listener thread until it ended */

static LONGLONG now_ms(void)
{
    LARGE_INTEGER f, c = KeQueryPerformanceCounter(&f);
    return f.QuadPart >= 1000 ? c.QuadPart / (f.QuadPart / 1000) : 0;
}

static void conn_thread(void *ctx)
{
    struct conn *c = ctx;
    unsigned char *buf = ks_pool_alloc(KECHO_BUF, KECHO_TAG);
    ULONG bytes = 0;
    ks_ssize_t r = -ENOMEM;

    if (buf) {
        for (;;) {
            ks_ssize_t w;
            r = ks_recv(c->fd, buf, KECHO_BUF, 0);
            if (r <= 0)
                break;
            w = ks_send(c->fd, buf, (size_t)r, 0);
            if (w != r) {
                r = w;
                break;
            }
            bytes += (ULONG)r;
        }
        ks_pool_free(buf, KECHO_TAG);
    }
    ks_close(c->fd); /* -EBADF after ks_cleanup: harmless */
    LOG("connection done #%ld bytes=%lu result=%ld\n", InterlockedIncrement(&g_done), bytes,
        (long)r);
    InterlockedExchange(&c->finished, 1);
}

/* Joins without bound, logging every 5 s: returning from the unload
 * before the thread ended would unmap code it still runs. */
static void join_forever(struct ks_thread *t, const char *what)
{
    while (ks_thread_join_timeout(t, 5000) == -ETIMEDOUT)
        LOG("unload: still waiting for %s\n", what);
}

/* Frees the contexts of connections whose thread has ended. */
static void reap(int wait)
{
    PLIST_ENTRY e = g_conns.Flink;

    while (e != &g_conns) {
        struct conn *c = CONTAINING_RECORD(e, struct conn, link);
        e = e->Flink;
        if (wait)
            join_forever(c->thread, "a connection thread");
        else if (!c->finished || ks_thread_join_timeout(c->thread, 0) != 0)
            continue;
        RemoveEntryList(&c->link);
        ks_pool_free(c, KECHO_TAG);
    }
}

static void listener_thread(void *ctx)
{
    struct sockaddr_in a;
    int l, r;

    (void)ctx;
    RtlZeroMemory(&a, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = ks_htons((uint16_t)g_port);
    a.sin_addr.s_addr = ks_htonl(INADDR_LOOPBACK);

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
            if (g_stopping)
                break;
            LOG("ks_accept failed: %d (%s)\n", fd, ks_strerror(fd));
            if (fd == -EBADF || fd == -ENETDOWN || fd == -EINVAL)
                break;
            continue; /* transient: -ECONNABORTED, -ENOMEM, -EMFILE */
        }
        reap(0);
        c = ks_pool_alloc(sizeof(*c), KECHO_TAG);
        if (!c) {
            ks_close(fd);
            continue;
        }
        RtlZeroMemory(c, sizeof(*c));
        c->fd = fd;
        c->number = (int)InterlockedIncrement(&g_accepted);
        LOG("accepted #%d\n", c->number);
        r = ks_thread_start(&c->thread, conn_thread, c);
        if (r != 0) {
            LOG("cannot start a connection thread: %d (%s)\n", r, ks_strerror(r));
            ks_close(fd);
            ks_pool_free(c, KECHO_TAG);
            continue;
        }
        InsertTailList(&g_conns, &c->link);
    }
out:
    if (l >= 0)
        ks_close(l);
}

static VOID kecho_unload(PDRIVER_OBJECT driver)
{
    LONGLONG t0 = now_ms();

    (void)driver;
    InterlockedExchange(&g_stopping, 1);
    if (g_started)
        ks_cleanup(); /* closes the listener and every connection: blocked calls return */
    if (g_listener_thread)
        join_forever(g_listener_thread, "the listener thread");
    reap(1); /* the list is final: the listener thread has ended */
    LOG("unloaded in %ld ms (connections=%ld)\n", (long)(now_ms() - t0), (long)g_accepted);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    int r;

    InitializeListHead(&g_conns);
    g_port = ks_param_get_int(registry_path, "Port", 7777);
    if (g_port <= 0 || g_port > 65535) {
        LOG("bad Port parameter %d\n", g_port);
        return STATUS_INVALID_PARAMETER;
    }
    r = ks_startup();
    if (r != 0) {
        LOG("ks_startup failed: %d (%s)\n", r, ks_strerror(r));
        return STATUS_UNSUCCESSFUL;
    }
    g_started = 1;
    driver->DriverUnload = kecho_unload;
    r = ks_thread_start(&g_listener_thread, listener_thread, NULL);
    if (r != 0) {
        LOG("cannot start the listener thread: %d (%s)\n", r, ks_strerror(r));
        ks_cleanup();
        return STATUS_UNSUCCESSFUL;
    }
    return STATUS_SUCCESS;
}
