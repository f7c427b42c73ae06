/*
 * httpd - a kernel HTTP/1.1 server driver on wsksock.
 *
 * Parameters (REG_SZ under the service key's Parameters subkey, or
 * tools/wskrun --param NAME=VALUE):
 *   Port      TCP port to listen on at 127.0.0.1 (default 8080)
 *   MaxConns  connections served at once (default 256); one more is
 *             accepted and closed at once
 *   IdleMs    SO_RCVTIMEO/SO_SNDTIMEO of each connection, milliseconds
 *             (default 10000): an idle keep-alive connection, or a peer
 *             that stops reading, is closed after that
 *
 * Concurrency: a listener thread accepts; every connection is served by
 * its own system thread with blocking calls (a thread per connection,
 * bounded by MaxConns: 100 connections are 100 threads, each with a 10 KiB
 * pool block and nothing big on its stack). A connection reads request
 * heads (at most 8 KiB each: 431 beyond), answers them in order, one
 * ks_send per response (so pipelined requests are answered in order) and
 * keeps the connection open per HTTP/1.1: closed after "Connection: close",
 * after an HTTP/1.0 request without "Connection: keep-alive", after an
 * error response (400, 413, 431, 501, 505), at the end of the stream or
 * at the idle timeout. Routes and the page: response.c; parsing:
 * request.c.
 *
 * Log: "httpd: listening on port N", error responses
 * ("httpd: #C 404 GET /path"), "httpd: connection #C done requests=R
 * result=E" and, from DriverUnload, "httpd: unloaded in N ms
 * (connections=K requests=R)".
 *
 * DriverUnload closes the listening socket (its ks_accept returns), joins
 * the listener, closes every connection's socket (their blocked ks_recv
 * or ks_send return -EBADF), joins their threads and calls ks_cleanup.
 */
#include <ntddk.h>

#include <wsksock.h>
#include <wsksock/params.h>

#include "request.h"
#include "response.h"

#define HTTPD_TAG ((ULONG)'h' | ((ULONG)'t' << 8) | ((ULONG)'t' << 16) | ((ULONG)'p' << 24))
#define HTTPD_HEAD_MAX 8192        /* request head bytes, the empty line included */
#define HTTPD_BODY_MAX (64 * 1024) /* request bodies are read and dropped */
#define HTTPD_LOG_TARGET 64

/* The format is the first argument and ends with \n (C11 allows no
 * empty __VA_ARGS__, so the macro cannot append it). */
#define LOG(...) DbgPrint("httpd: " __VA_ARGS__)

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD httpd_unload;

/* One connection: its thread, its socket and its buffers, in one block. */
struct conn {
    LIST_ENTRY link;
    struct ks_thread *thread;
    int fd;
    int number;
    volatile LONG finished;
    size_t len;                    /* bytes held in in[] */
    char in[HTTPD_HEAD_MAX];       /* received, not yet consumed */
    char out[HTTPD_RESPONSE_MAX];  /* one response */
    char target[HTTPD_LOG_TARGET]; /* the target, for the log */
};

static int g_port, g_max_conns, g_idle_ms;
static int g_started;
static struct ks_thread *g_listener_thread;
static volatile LONG g_listen_fd = -1;
static volatile LONG g_stopping;
static volatile LONG g_accepted, g_active, g_requests;
static LIST_ENTRY g_conns; /* changed by the listener thread only */

static LONGLONG now_ms(void)
{
    LARGE_INTEGER f, c = KeQueryPerformanceCounter(&f);
    return f.QuadPart >= 1000 ? c.QuadPart / (f.QuadPart / 1000) : 0;
}

/* Joins a thread without bound, logging every 5 s: returning early would
 * unmap running code. */
static void join_thread_forever(struct ks_thread *t, const char *what)
{
    while (ks_thread_join_timeout(t, 5000) == -ETIMEDOUT)
        LOG("unload: still waiting for %s\n", what);
}

/* Drops n bytes from the front of c->in. */
static void consume(struct conn *c, size_t n)
{
    if (n < c->len)
        RtlMoveMemory(c->in, c->in + n, c->len - n);
    c->len -= n;
}

/* Receives more bytes into c->in: the count, 0 at the end, or an error. */
static ks_ssize_t fill(struct conn *c)
{
    ks_ssize_t r = ks_recv(c->fd, c->in + c->len, sizeof(c->in) - c->len, 0);
    if (r > 0)
        c->len += (size_t)r;
    return r;
}

/* Reads and drops a request body of n bytes (part may be in c->in). */
static ks_ssize_t skip_body(struct conn *c, uint64_t n)
{
    while (n > 0) {
        if (c->len == 0) {
            ks_ssize_t r = fill(c);
            if (r <= 0)
                return r == 0 ? -ECONNRESET : r;
        }
        size_t k = n < c->len ? (size_t)n : c->len;
        consume(c, k);
        n -= k;
    }
    return 1;
}

static void log_error(struct conn *c, const struct httpd_request *req, int status)
{
    size_t n = req->target_len < sizeof(c->target) - 1 ? req->target_len : sizeof(c->target) - 1;
    RtlCopyMemory(c->target, req->target, n);
    c->target[n] = '\0';
    LOG("#%d %d %s %s\n", c->number, status,
        req->method == HTTPD_GET    ? "GET"
        : req->method == HTTPD_HEAD ? "HEAD"
                                    : "other",
        c->target);
}

/* Serves requests until the connection ends; returns the ending ks_recv or
 * ks_send value (0: closed by the peer or by us after a response). */
static ks_ssize_t serve(struct conn *c, ULONG *requests)
{
    struct httpd_request req;

    for (;;) {
        size_t head, k = 0;
        int st, status, keep;

        /* Empty lines before a request line are ignored (RFC 9112 2.2). */
        while (k < c->len && (c->in[k] == '\r' || c->in[k] == '\n'))
            k++;
        consume(c, k);
        head = httpd_head_length(c->in, c->len);
        if (head == 0) {
            ks_ssize_t r;
            if (c->len == sizeof(c->in)) {
                st = 431;
                req.method = HTTPD_OTHER;
                req.target_len = 0;
                req.target = c->in;
                req.keep_alive = 0;
                req.minor = 1;
                req.body_len = 0;
            } else {
                r = fill(c);
                if (r <= 0)
                    return r; /* end of stream, idle timeout, closed by the unload */
                continue;
            }
        } else {
            st = httpd_parse_request(c->in, head, &req);
            if (st == 0 && req.body_len > HTTPD_BODY_MAX)
                st = 413;
        }
        size_t n = httpd_respond(&req, st, c->out, &status, &keep);
        if (status != 200)
            log_error(c, &req, status);
        ks_ssize_t w = ks_send(c->fd, c->out, n, 0);
        if (w != (ks_ssize_t)n)
            return w;
        (*requests)++;
        InterlockedIncrement(&g_requests);
        if (!keep)
            return 0;
        consume(c, head);
        if (req.body_len > 0) {
            ks_ssize_t r = skip_body(c, req.body_len);
            if (r <= 0)
                return r;
        }
    }
}

static void conn_thread(void *ctx)
{
    struct conn *c = ctx;
    ULONG requests = 0;
    ULONG ms = (ULONG)g_idle_ms;
    ks_ssize_t r;

    /* Library options (they apply on Wine too); a failure only costs the
     * bound, so it is logged and the connection served anyway. */
    if (ks_setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &ms, sizeof(ms)) != 0 ||
        ks_setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &ms, sizeof(ms)) != 0)
        LOG("#%d: cannot set the idle timeout\n", c->number);
    r = serve(c, &requests);
    ks_close(c->fd); /* -EBADF if the unload closed it: harmless */
    LOG("connection #%d done requests=%lu result=%ld\n", c->number, requests, (long)r);
    InterlockedDecrement(&g_active);
    InterlockedExchange(&c->finished, 1);
}

/* Frees the blocks of connections whose thread has ended (wait: all). */
static void reap(int wait)
{
    PLIST_ENTRY e = g_conns.Flink;

    while (e != &g_conns) {
        struct conn *c = CONTAINING_RECORD(e, struct conn, link);
        e = e->Flink;
        if (wait)
            join_thread_forever(c->thread, "a connection thread");
        else if (!c->finished || ks_thread_join_timeout(c->thread, 0) != 0)
            continue;
        RemoveEntryList(&c->link);
        ks_pool_free(c, HTTPD_TAG);
    }
}

/* Takes a new connection: its block and thread, unless MaxConns are busy. */
static void start_conn(int fd)
{
    struct conn *c;
    int err;

    if (InterlockedIncrement(&g_active) > g_max_conns) {
        InterlockedDecrement(&g_active);
        LOG("refused a connection: %d busy (MaxConns)\n", g_max_conns);
        ks_close(fd);
        return;
    }
    c = ks_pool_alloc(sizeof(*c), HTTPD_TAG);
    if (!c) {
        InterlockedDecrement(&g_active);
        ks_close(fd);
        return;
    }
    RtlZeroMemory(c, offsetof(struct conn, in));
    c->fd = fd;
    c->number = (int)InterlockedIncrement(&g_accepted);
    err = ks_thread_start(&c->thread, conn_thread, c);
    if (err != 0) {
        LOG("cannot start a connection thread: %d (%s)\n", err, ks_strerror(err));
        InterlockedDecrement(&g_active);
        ks_close(fd);
        ks_pool_free(c, HTTPD_TAG);
        return;
    }
    InsertTailList(&g_conns, &c->link);
}

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
        r = ks_listen(l, 128);
    if (r != 0) {
        ks_close(l);
        return r;
    }
    return l;
}

static void listener_thread(void *ctx)
{
    int l = listen_on(g_port);

    (void)ctx;
    if (l < 0) {
        LOG("cannot listen on port %d: %d (%s)\n", g_port, l, ks_strerror(l));
        return;
    }
    InterlockedExchange(&g_listen_fd, l);
    if (g_stopping) /* the unload may have missed it */
        ks_close(l);
    else
        LOG("listening on port %d\n", g_port);
    while (!g_stopping) {
        int fd = ks_accept(l, NULL, NULL);

        if (fd < 0) {
            if (g_stopping || fd == -EBADF || fd == -ENETDOWN || fd == -EINVAL)
                break;
            LOG("ks_accept failed: %d (%s)\n", fd, ks_strerror(fd));
            continue; /* transient: -ECONNABORTED, -ENOMEM, -EMFILE */
        }
        reap(0);
        if (g_stopping) {
            ks_close(fd);
            break;
        }
        start_conn(fd);
    }
    ks_close(l); /* -EBADF if the unload closed it */
}

static VOID httpd_unload(PDRIVER_OBJECT driver)
{
    LONGLONG t0 = now_ms();
    PLIST_ENTRY e;

    (void)driver;
    InterlockedExchange(&g_stopping, 1);
    ks_close((int)InterlockedCompareExchange(&g_listen_fd, -1, -1)); /* wakes ks_accept */
    if (g_listener_thread)
        join_thread_forever(g_listener_thread, "the listener thread");
    /* The list is final now: wake every connection thread, then join. */
    for (e = g_conns.Flink; e != &g_conns; e = e->Flink)
        ks_close(CONTAINING_RECORD(e, struct conn, link)->fd);
    reap(1);
    if (g_started)
        ks_cleanup();
    LOG("unloaded in %ld ms (connections=%ld requests=%ld)\n", (long)(now_ms() - t0),
        (long)g_accepted, (long)g_requests);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    int r;

    InitializeListHead(&g_conns);
    g_port = ks_param_get_int(registry_path, "Port", 8080);
    g_max_conns = ks_param_get_int(registry_path, "MaxConns", 256);
    g_idle_ms = ks_param_get_int(registry_path, "IdleMs", 10000);
    if (g_port <= 0 || g_port > 65535 || g_max_conns <= 0 || g_max_conns > 4096 || g_idle_ms <= 0) {
        LOG("bad parameters: Port=%d MaxConns=%d IdleMs=%d\n", g_port, g_max_conns, g_idle_ms);
        return STATUS_INVALID_PARAMETER;
    }
    r = ks_startup();
    if (r != 0) {
        LOG("ks_startup failed: %d (%s)\n", r, ks_strerror(r));
        return STATUS_UNSUCCESSFUL;
    }
    g_started = 1;
    driver->DriverUnload = httpd_unload;
    r = ks_thread_start(&g_listener_thread, listener_thread, NULL);
    if (r != 0) {
        LOG("cannot start the listener thread: %d (%s)\n", r, ks_strerror(r));
        ks_cleanup();
        return STATUS_UNSUCCESSFUL;
    }
    return STATUS_SUCCESS;
}
