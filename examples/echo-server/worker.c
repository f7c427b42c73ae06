/*
 * echo-server: a worker thread. It owns a set of non-blocking connections
 * and loops on one ks_poll over all of them; the acceptor hands new ones
 * over through the worker's inbox. The poll's wait is bounded (ES_POLL_MS),
 * so new connections join the set and the stop flag is seen promptly.
 * At the stop the worker ends every connection it owns (its socket set to
 * close abortively, left for ks_cleanup: see es_conn_close) and ends.
 */
#include "echo_server.h"

void es_worker_give(struct es_worker *w, struct es_conn *c)
{
    KIRQL irql;

    InterlockedIncrement(&w->owned);
    KeAcquireSpinLock(&w->lock, &irql);
    InsertTailList(&w->inbox, &c->link);
    KeReleaseSpinLock(&w->lock, irql);
    KeSetEvent(&w->wake, IO_NO_INCREMENT, FALSE);
}

/* Makes room for at least want connections; FALSE if the pool is short. */
static BOOLEAN grow(struct es_worker *w, unsigned want)
{
    unsigned cap = w->cap ? w->cap : 64;
    struct es_conn **conns;
    struct ks_pollfd *pfds;

    if (want <= w->cap)
        return TRUE;
    while (cap < want)
        cap *= 2;
    conns = ks_pool_alloc(cap * sizeof(struct es_conn *), ES_TAG);
    pfds = ks_pool_alloc(cap * sizeof(*pfds), ES_TAG);
    if (!conns || !pfds) {
        if (conns)
            ks_pool_free(conns, ES_TAG);
        if (pfds)
            ks_pool_free(pfds, ES_TAG);
        return FALSE;
    }
    if (w->n)
        RtlCopyMemory(conns, w->conns, w->n * sizeof(struct es_conn *));
    if (w->conns) {
        ks_pool_free(w->conns, ES_TAG);
        ks_pool_free(w->pfds, ES_TAG);
    }
    w->conns = conns;
    w->pfds = pfds;
    w->cap = cap;
    return TRUE;
}

/* Moves the inbox's connections into the poll set (those that fit). */
static void take_inbox(struct es_worker *w)
{
    KIRQL irql;

    for (;;) {
        PLIST_ENTRY e;

        if (!grow(w, w->n + 1))
            return; /* they wait in the inbox for the next round */
        KeAcquireSpinLock(&w->lock, &irql);
        e = IsListEmpty(&w->inbox) ? NULL : RemoveHeadList(&w->inbox);
        KeReleaseSpinLock(&w->lock, irql);
        if (!e)
            return;
        w->conns[w->n++] = CONTAINING_RECORD(e, struct es_conn, link);
    }
}

/* Removes connection i from the set (the last one takes its place). */
static void drop(struct es_worker *w, unsigned i, int result)
{
    es_conn_close(w->conns[i], result);
    InterlockedDecrement(&w->owned);
    w->n--;
    w->conns[i] = w->conns[w->n];
    w->pfds[i] = w->pfds[w->n];
}

static void serve_round(struct es_worker *w)
{
    unsigned i;
    int r;

    for (i = 0; i < w->n; i++) {
        w->pfds[i].fd = w->conns[i]->fd;
        w->pfds[i].events = es_conn_events(w->conns[i]);
        w->pfds[i].revents = 0;
    }
    r = ks_poll(w->pfds, w->n, ES_POLL_MS);
    if (r < 0) {
        LARGE_INTEGER t;
        ES_LOG("worker %d: ks_poll failed: %d (%s)\n", w->index, r, ks_strerror(r));
        t.QuadPart = -10 * 1000 * 10; /* 10 ms: -ENOMEM passes */
        KeDelayExecutionThread(KernelMode, FALSE, &t);
        return;
    }
    i = w->n;
    while (r > 0 && i-- > 0) { /* backwards: drop() moves the last entry */
        short re = w->pfds[i].revents;
        int res;

        if (!re)
            continue;
        r--;
        res = es_conn_serve(w->conns[i], re);
        if (res != 0)
            drop(w, i, res);
    }
}

void es_worker_main(void *ctx)
{
    struct es_worker *w = ctx;
    LARGE_INTEGER t;

    t.QuadPart = -(LONGLONG)ES_POLL_MS * 10000;
    while (!g_es->stopping) {
        KeClearEvent(&w->wake);
        take_inbox(w);
        if (w->n == 0) { /* nothing to poll: wait for a connection */
            KeWaitForSingleObject(&w->wake, Executive, KernelMode, FALSE, &t);
            continue;
        }
        serve_round(w);
    }
    /* The stop: end what this worker owns, in the set and in the inbox. */
    while (w->n)
        drop(w, w->n - 1, 0);
    for (;;) {
        PLIST_ENTRY e;
        KIRQL irql;

        KeAcquireSpinLock(&w->lock, &irql);
        e = IsListEmpty(&w->inbox) ? NULL : RemoveHeadList(&w->inbox);
        KeReleaseSpinLock(&w->lock, irql);
        if (!e)
            break;
        es_conn_close(CONTAINING_RECORD(e, struct es_conn, link), 0);
        InterlockedDecrement(&w->owned);
    }
    if (w->conns) {
        ks_pool_free(w->conns, ES_TAG);
        ks_pool_free(w->pfds, ES_TAG);
    }
}
