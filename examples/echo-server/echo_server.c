/*
 * echo-server - a kernel TCP echo server for many connections with a
 * fixed, small number of threads (examples/echo-server).
 *
 * Registry parameters (REG_SZ under the service key's Parameters subkey):
 *   Port      TCP port to listen on at 127.0.0.1 (default 7)
 *   Threads   worker threads, 1..16 (default 2)
 *   LogEvery  log a line per this many accepted / ended connections
 *             (default 100; the first of each is always logged)
 *
 * One thread accepts on a non-blocking listener and hands each connection
 * to the worker that owns the fewest; each worker loops on one ks_poll over
 * its non-blocking connections and echoes what it receives (conn.c). So
 * 1,000 connections take Threads + 1 threads, not 1,000. It logs
 *     echo-server: listening on port P (threads=T)
 *     echo-server: accepted K connections
 *     echo-server: ended #K result=R bytes=B (eof=E errors=X)
 * (R: 1 the peer ended the stream, 0 closed by the unload, < 0 an error).
 * DriverUnload sets the stop flag and closes the listener (which wakes the
 * acceptor's poll); the workers see the flag within ES_POLL_MS, close their
 * connections (abortively: the peers see a reset; see conn.c) and end.
 * It joins the threads, then calls ks_cleanup, and logs
 *     echo-server: summary connections=M ended=N eof=E errors=X open_at_unload=O bytes=B
 *     echo-server: unloaded in N ms (connections=M)
 */
#include "echo_server.h"

#include "wsksock/params.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD es_unload;

struct es_server *g_es;

static LONGLONG now_ms(void)
{
    LARGE_INTEGER f, c = KeQueryPerformanceCounter(&f);
    return f.QuadPart >= 1000 ? c.QuadPart / (f.QuadPart / 1000) : 0;
}

/* Joins a thread without bound, logging every 5 s: returning early would
 * unmap running code. */
static void join_thread(struct ks_thread **t, const char *what)
{
    if (*t == NULL)
        return;
    while (ks_thread_join_timeout(*t, 5000) == -ETIMEDOUT)
        ES_LOG("unload: still waiting for %s\n", what);
    *t = NULL;
}

/* Stops and joins every thread started, closes the listener, ks_cleanup. */
static void es_stop(struct es_server *s)
{
    int i, l;

    InterlockedExchange(&s->stopping, 1);
    l = (int)InterlockedExchange(&s->listener, -1);
    if (l >= 0)
        ks_close(l); /* wakes the acceptor's ks_poll */
    for (i = 0; i < s->nthreads; i++)
        KeSetEvent(&s->workers[i].wake, IO_NO_INCREMENT, FALSE);
    join_thread(&s->acceptor, "the acceptor");
    for (i = 0; i < s->nthreads; i++)
        join_thread(&s->workers[i].thread, "a worker");
    ks_cleanup();
}

static VOID es_unload(PDRIVER_OBJECT driver)
{
    struct es_server *s = g_es;
    LONGLONG t0 = now_ms();
    LONG open = s->accepted - s->ended;

    (void)driver;
    es_stop(s);
    ES_LOG("summary connections=%ld ended=%ld eof=%ld errors=%ld open_at_unload=%ld bytes=%llu\n",
           (long)s->accepted, (long)s->ended, (long)s->eof, (long)s->errors, (long)open,
           (unsigned long long)s->bytes);
    ES_LOG("unloaded in %ld ms (connections=%ld)\n", (long)(now_ms() - t0), (long)s->accepted);
    ks_pool_free(s, ES_TAG);
    g_es = NULL;
}

/* The non-blocking listener on 127.0.0.1:port; a descriptor or the error. */
static int listen_on(int port)
{
    struct sockaddr_in a;
    unsigned long on = 1;
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
        r = ks_listen(l, 256);
    if (r == 0)
        r = ks_ioctl(l, FIONBIO, &on);
    if (r != 0) {
        ks_close(l);
        return r;
    }
    return l;
}

static int start_threads(struct es_server *s)
{
    int err = 0;
    int i;

    for (i = 0; i < s->nthreads && err == 0; i++)
        err = ks_thread_start(&s->workers[i].thread, es_worker_main, &s->workers[i]);
    if (err == 0)
        err = ks_thread_start(&s->acceptor, es_acceptor_main, s);
    return err;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    struct es_server *s;
    int i, r;

    s = ks_pool_alloc(sizeof(*s), ES_TAG);
    if (!s)
        return STATUS_INSUFFICIENT_RESOURCES;
    RtlZeroMemory(s, sizeof(*s));
    s->listener = -1;
    s->port = ks_param_get_int(registry_path, "Port", 7);
    s->nthreads = ks_param_get_int(registry_path, "Threads", 2);
    s->log_every = ks_param_get_int(registry_path, "LogEvery", 100);
    if (s->port <= 0 || s->port > 65535 || s->nthreads < 1 || s->nthreads > ES_MAX_THREADS ||
        s->log_every < 1) {
        ES_LOG("bad parameters: Port=%d Threads=%d (1..%d) LogEvery=%d\n", s->port, s->nthreads,
               ES_MAX_THREADS, s->log_every);
        ks_pool_free(s, ES_TAG);
        return STATUS_INVALID_PARAMETER;
    }
    for (i = 0; i < s->nthreads; i++) {
        struct es_worker *w = &s->workers[i];
        w->index = i;
        KeInitializeSpinLock(&w->lock);
        InitializeListHead(&w->inbox);
        KeInitializeEvent(&w->wake, NotificationEvent, FALSE);
    }
    r = ks_startup();
    if (r != 0) {
        ES_LOG("ks_startup failed: %d (%s)\n", r, ks_strerror(r));
        ks_pool_free(s, ES_TAG);
        return STATUS_UNSUCCESSFUL;
    }
    g_es = s;
    r = listen_on(s->port);
    if (r < 0) {
        ES_LOG("cannot listen on port %d: %d (%s)\n", s->port, r, ks_strerror(r));
        ks_cleanup();
        ks_pool_free(s, ES_TAG);
        g_es = NULL;
        return STATUS_UNSUCCESSFUL;
    }
    s->listener = r;
    ES_LOG("listening on port %d (threads=%d)\n", s->port, s->nthreads);
    r = start_threads(s);
    if (r != 0) {
        ES_LOG("cannot start the threads: %d (%s)\n", r, ks_strerror(r));
        es_stop(s);
        ks_pool_free(s, ES_TAG);
        g_es = NULL;
        return STATUS_UNSUCCESSFUL;
    }
    driver->DriverUnload = es_unload;
    return STATUS_SUCCESS;
}
