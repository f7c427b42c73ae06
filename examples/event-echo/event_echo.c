/*
 * event-echo - a kernel TCP echo server written with the event API
 * (wsksock/events.h) and the asynchronous calls (wsksock/aio.h) only: no
 * thread of its own, no blocking receive (examples/event-echo).
 *
 * Registry parameters (REG_SZ under the service key's Parameters subkey):
 *   Port      TCP port to listen on at 127.0.0.1 (default 7777)
 *   LogEvery  log a line per this many accepted / ended connections
 *             (default 100; the first of each is always logged)
 *
 * ks_listen_events hands every connection to on_accept and every piece of
 * data to on_receive, on the library's completion threads. on_receive
 * copies the piece into a node (its struct ks_aio and the bytes) and
 * sends it back with ks_send_async; the node is freed by the send's
 * callback. on_disconnect closes the connection with ks_close_async, the
 * graceful close: the echo still queued goes out first (the sends'
 * callbacks report their results), then the stream ends in order; an error
 * closes it with ks_close (pending sends end with -EBADF). Neither call
 * waits in a callback. What waits to be echoed is bounded
 * per connection (flow control): past EE_PAUSE_AT bytes the connection is
 * paused (ks_events_pause: the data waits with the provider and TCP slows
 * the peer down) and resumed when its echo drained below EE_RESUME_AT. It
 * logs
 *     event-echo: listening on port P (events: native|fallback)
 *     event-echo: accepted #K from A:P
 *     event-echo: ended #K result=R
 * (R: 0 the peer ended the stream and everything was echoed, < 0 an error)
 * and at the unload, after ks_cleanup closed what was still open,
 *     event-echo: summary connections=A ended=E errors=X open_at_unload=O bytes=B nodes_left=N
 *     event-echo: flow pauses=P max_queued=Q
 *     event-echo: unloaded in T ms
 */
#include <ntddk.h>

#include "wsksock.h"
#include "wsksock/params.h"

#define EE_TAG ((ULONG)'e' | ((ULONG)'v' << 8) | ((ULONG)'e' << 16) | ((ULONG)'c' << 24))
/* Bytes received and not yet echoed on one connection: see on_receive. */
#define EE_PAUSE_AT (1024 * 1024)
#define EE_RESUME_AT (256 * 1024)
/* The format is the first argument and ends with \n (C11 allows no
 * empty __VA_ARGS__, so the macro cannot append it). */
#define EE_LOG(...) DbgPrint("event-echo: " __VA_ARGS__)

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD ee_unload;

/* A connection (the conn_ctx of its callbacks). */
struct ee_conn {
    LIST_ENTRY entry;   /* g_ee.conns */
    volatile LONG refs; /* its life (until closed), + one per node */
    int fd;
    KEVENT lock;   /* a mutex at PASSIVE_LEVEL: queued, paused and their calls */
    LONG64 queued; /* bytes received, not yet echoed */
    BOOLEAN paused;
    BOOLEAN ended;          /* closed by end_connection */
    int result;             /* the first error of its echo, or 0 */
    struct ks_aio close_op; /* ks_close_async (close_op.data: the connection) */
};

/* One piece of data on its way back. */
struct ee_node {
    struct ks_aio aio; /* aio.data points back at the node */
    struct ee_conn *conn;
    size_t len;
    UCHAR bytes[]; /* len bytes */
};

/* The library's callbacks run on two threads at once (for different
 * connections, or a connection's receive and its sends): counters are
 * interlocked. */
static struct {
    int log_every;
    volatile LONG accepted, ended, errors, pauses;
    volatile LONG nodes; /* allocated, not yet freed */
    volatile LONG64 bytes, max_queued;
    KSPIN_LOCK conns_lock;
    LIST_ENTRY conns; /* every struct ee_conn not yet freed */
} g_ee;

static LONGLONG now_ms(void)
{
    LARGE_INTEGER f, c = KeQueryPerformanceCounter(&f);
    return f.QuadPart >= 1000 ? c.QuadPart / (f.QuadPart / 1000) : 0;
}

static void conn_lock(struct ee_conn *c)
{
    KeWaitForSingleObject(&c->lock, Executive, KernelMode, FALSE, NULL);
}

static void conn_unlock(struct ee_conn *c)
{
    KeSetEvent(&c->lock, IO_NO_INCREMENT, FALSE);
}

static void conn_put(struct ee_conn *c)
{
    KIRQL irql;

    if (InterlockedDecrement(&c->refs) != 0)
        return;
    KeAcquireSpinLock(&g_ee.conns_lock, &irql);
    RemoveEntryList(&c->entry);
    KeReleaseSpinLock(&g_ee.conns_lock, irql);
    ks_pool_free(c, EE_TAG);
}

static struct ee_node *node_new(struct ee_conn *c, const void *data, size_t len)
{
    struct ee_node *n = ks_pool_alloc(sizeof(*n) + len, EE_TAG);

    if (!n)
        return NULL;
    RtlZeroMemory(n, sizeof(*n)); /* a zeroed struct ks_aio is ready to submit */
    n->aio.data = n;
    n->conn = c;
    n->len = len;
    if (len)
        RtlCopyMemory(n->bytes, data, len);
    InterlockedIncrement(&c->refs);
    InterlockedIncrement(&g_ee.nodes);
    return n;
}

static void node_free(struct ee_node *n)
{
    struct ee_conn *c = n->conn;

    InterlockedDecrement(&g_ee.nodes);
    ks_pool_free(n, EE_TAG);
    conn_put(c);
}

/* Counts a connection's end (its descriptor closed) and drops its life. */
static void count_end(struct ee_conn *c, int result)
{
    LONG k;

    if (result < 0)
        InterlockedIncrement(&g_ee.errors);
    k = InterlockedIncrement(&g_ee.ended);
    if (result < 0 || k == 1 || k % g_ee.log_every == 0)
        EE_LOG("ended #%ld result=%d\n", (long)k, result);
    conn_put(c); /* its life */
}

/* The graceful close completed: every echo queued before it completed. */
static void on_closed(struct ks_aio *req, ptrdiff_t result)
{
    struct ee_conn *c = req->data;

    (void)result; /* 0: ks_close_async always closes */
    count_end(c, c->result);
}

/* Closes the connection and counts its end once: a failed send and the
 * disconnect may each ask. result 0 (the peer ended the stream): the
 * graceful close, ks_close_async, whose callback counts the end once the
 * echo still queued went out. An error: ks_close, which ends the pending
 * sends with -EBADF. A close by ks_cleanup at the unload makes pending
 * sends fail with -EBADF; those connections are not counted as ended
 * (ks_close then fails: the descriptor is stale, never reused). */
static void end_connection(struct ee_conn *c, int result)
{
    BOOLEAN first;

    conn_lock(c);
    first = !c->ended;
    c->ended = TRUE; /* no resume after this */
    if (c->result == 0)
        c->result = result;
    conn_unlock(c);
    if (!first)
        return;
    if (result == 0) {
        c->close_op.data = c;
        if (ks_close_async(c->fd, &c->close_op, on_closed) == 0)
            return; /* on_closed counts it */
        /* -ENOMEM: closed below; -EBADF, -ENETDOWN: ks_cleanup closed it */
    }
    if (ks_close(c->fd) != 0)
        return; /* closed by ks_cleanup (the unload frees it) */
    count_end(c, result);
}

/* A send of a node completed (result: its length, or an error). */
static void on_sent(struct ks_aio *req, ptrdiff_t result)
{
    struct ee_node *n = req->data;
    struct ee_conn *c = n->conn;

    if (result > 0)
        InterlockedExchangeAdd64(&g_ee.bytes, (LONG64)result);
    /* Flow control: resumed once the echo drained. The lock orders this
     * against the pause in on_receive, so no resume is lost. */
    conn_lock(c);
    c->queued -= (LONG64)n->len;
    if (c->paused && c->queued < EE_RESUME_AT && !c->ended) {
        c->paused = FALSE;
        ks_events_resume(c->fd);
    }
    conn_unlock(c);
    if (result < 0)
        end_connection(c, (int)result); /* or, after the graceful close, its result */
    node_free(n);
}

static int on_accept(void *ctx, int listen_fd, int fd, const struct sockaddr *remote, int remotelen,
                     void **conn_ctx)
{
    const struct sockaddr_in *sin = (const struct sockaddr_in *)remote;
    struct ee_conn *c = ks_pool_alloc(sizeof(*c), EE_TAG);
    LONG k = InterlockedIncrement(&g_ee.accepted);
    KIRQL irql;
    char ip[16];

    (void)ctx;
    (void)listen_fd;
    if (!c)
        return -ENOMEM; /* the library closes it */
    RtlZeroMemory(c, sizeof(*c));
    c->refs = 1;
    c->fd = fd;
    KeInitializeEvent(&c->lock, SynchronizationEvent, TRUE);
    KeAcquireSpinLock(&g_ee.conns_lock, &irql);
    InsertTailList(&g_ee.conns, &c->entry);
    KeReleaseSpinLock(&g_ee.conns_lock, irql);
    *conn_ctx = c; /* what its receive and disconnect callbacks get */
    if (k == 1 || k % g_ee.log_every == 0) {
        if (remotelen >= (int)sizeof(*sin) && sin->sin_family == AF_INET)
            EE_LOG("accepted #%ld from %s:%u\n", (long)k,
                   ks_inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)),
                   (unsigned)ks_ntohs(sin->sin_port));
        else
            EE_LOG("accepted #%ld\n", (long)k);
    }
    return 0; /* keep it: its receive and disconnect callbacks follow */
}

/*
 * data is only valid during the call (it may be the provider's own
 * buffer), so it is copied. Nothing here waits: the send goes on in the
 * background, and sends of one socket complete in the order submitted, so
 * the echo keeps the stream's order. A peer that sends without reading
 * would make the echo queue grow without bound: past EE_PAUSE_AT bytes the
 * connection is paused (no receive callback until on_sent resumes it).
 */
static void on_receive(void *conn_ctx, int fd, const void *data, size_t len)
{
    struct ee_conn *c = conn_ctx;
    struct ee_node *n = node_new(c, data, len);
    LONG64 q, max;
    int r;

    if (!n) {
        end_connection(c, -ENOMEM);
        return;
    }
    conn_lock(c);
    q = c->queued += (LONG64)len;
    if (q > EE_PAUSE_AT && !c->paused) {
        c->paused = TRUE;
        ks_events_pause(fd);
        InterlockedIncrement(&g_ee.pauses);
    }
    conn_unlock(c);
    while ((max = g_ee.max_queued) < q &&
           InterlockedCompareExchange64(&g_ee.max_queued, q, max) != max)
        ;
    r = ks_send_async(fd, n->bytes, n->len, 0, &n->aio, on_sent);
    if (r != 0) { /* not started: on_sent will not run */
        conn_lock(c);
        c->queued -= (LONG64)len;
        conn_unlock(c);
        node_free(n);
        end_connection(c, r);
    }
}

/*
 * The stream ended. On an orderly end the echo of the last pieces may still
 * be on its way: end_connection closes with ks_close_async, which lets the
 * sends queued before it complete, then closes in order (bounded: 5 s for
 * a peer that stops reading, then abortive). After a reset nothing more
 * can be sent: ks_close.
 */
static void on_disconnect(void *conn_ctx, int fd, int err)
{
    (void)fd;
    end_connection(conn_ctx, err);
}

static const struct ks_event_handlers ee_handlers = {on_accept, on_receive, on_disconnect};

/* The listener on 127.0.0.1:port in event mode; a descriptor or the error. */
static int listen_on(int port)
{
    struct sockaddr_in a;
    int l, r;

    RtlZeroMemory(&a, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = ks_htons((uint16_t)port);
    a.sin_addr.s_addr = ks_htonl(INADDR_LOOPBACK);
    l = ks_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (l < 0)
        return l;
    r = ks_bind(l, (struct sockaddr *)&a, sizeof(a));
    if (r == 0)
        r = ks_listen_events(l, 256, &ee_handlers, NULL);
    if (r != 0) {
        ks_close(l);
        return r;
    }
    return l;
}

static VOID ee_unload(PDRIVER_OBJECT driver)
{
    LONGLONG t0 = now_ms();
    LONG open = g_ee.accepted - g_ee.ended;

    (void)driver;
    /* Closes the listener and every connection (their pending sends then
     * complete with -EBADF and on_sent frees their nodes) and returns once
     * the last callback returned: nothing of ours runs after it. */
    ks_cleanup();
    /* Connections still open were closed by ks_cleanup, not by us: only
     * their life reference is left. */
    while (!IsListEmpty(&g_ee.conns)) {
        struct ee_conn *c = CONTAINING_RECORD(g_ee.conns.Flink, struct ee_conn, entry);
        if (c->refs != 1) {
            /* Cannot happen (every node was freed); leave it, visibly. */
            EE_LOG("connection %d still has %ld references\n", c->fd, (long)c->refs);
            RemoveEntryList(&c->entry);
            continue;
        }
        conn_put(c);
    }
    /* Every node was freed by its callback; nodes_left shows it. */
    EE_LOG("summary connections=%ld ended=%ld errors=%ld open_at_unload=%ld bytes=%lld"
           " nodes_left=%ld\n",
           (long)g_ee.accepted, (long)g_ee.ended, (long)g_ee.errors, (long)open,
           (long long)g_ee.bytes, (long)g_ee.nodes);
    EE_LOG("flow pauses=%ld max_queued=%lld\n", (long)g_ee.pauses, (long long)g_ee.max_queued);
    EE_LOG("unloaded in %ld ms\n", (long)(now_ms() - t0));
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    int port, native, r;

    KeInitializeSpinLock(&g_ee.conns_lock);
    InitializeListHead(&g_ee.conns);
    port = ks_param_get_int(registry_path, "Port", 7777);
    g_ee.log_every = ks_param_get_int(registry_path, "LogEvery", 100);
    if (port <= 0 || port > 65535 || g_ee.log_every < 1) {
        EE_LOG("bad parameters: Port=%d LogEvery=%d\n", port, g_ee.log_every);
        return STATUS_INVALID_PARAMETER;
    }
    r = ks_startup();
    if (r != 0) {
        EE_LOG("ks_startup failed: %d (%s)\n", r, ks_strerror(r));
        return STATUS_UNSUCCESSFUL;
    }
    r = listen_on(port);
    if (r < 0) {
        EE_LOG("cannot listen on port %d: %d (%s)\n", port, r, ks_strerror(r));
        ks_cleanup();
        return STATUS_UNSUCCESSFUL;
    }
    /* The listener stays open until ks_cleanup closes it. Native: WSK
     * event callbacks (Windows); fallback: the library's own accept and
     * receive requests (providers without them, e.g. Wine's). */
    native = ks_events_native(r);
    EE_LOG("listening on port %d (events: %s)\n", port,
           native > 0    ? "native"
           : native == 0 ? "fallback"
                         : ks_strerror(native));
    driver->DriverUnload = ee_unload;
    return STATUS_SUCCESS;
}
