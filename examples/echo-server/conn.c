/*
 * echo-server: one connection. Non-blocking throughout: what a ks_send
 * did not take stays in the connection's buffer, and the connection then
 * waits for POLLOUT instead of receiving more (the peer's reading paces
 * the echo).
 */
#include <wsksock/wsk.h> /* LINGER */

#include "echo_server.h"

#define ES_ROUNDS 4 /* receive/send rounds per readiness report: fairness */

struct es_conn *es_conn_new(int fd)
{
    struct es_conn *c = ks_pool_alloc(sizeof(*c), ES_TAG);

    if (!c)
        return NULL;
    RtlZeroMemory(c, sizeof(*c));
    c->buf = ks_pool_alloc(ES_BUF, ES_TAG);
    if (!c->buf) {
        ks_pool_free(c, ES_TAG);
        return NULL;
    }
    c->fd = fd;
    return c;
}

/* What the connection waits for: room to send its unsent bytes, or data. */
short es_conn_events(const struct es_conn *c)
{
    return c->len ? POLLOUT : POLLIN;
}

/* Hands unsent bytes to ks_send: 0 (all taken or it would block), or the error. */
static int flush(struct es_conn *c)
{
    ks_ssize_t w = ks_send(c->fd, c->buf + c->off, c->len, MSG_DONTWAIT);

    if (w == -EWOULDBLOCK)
        return 0;
    if (w < 0)
        return (int)w;
    c->off += (ULONG)w;
    c->len -= (ULONG)w;
    c->bytes += (unsigned long long)w;
    return 0;
}

/*
 * Serves a readiness report. Returns 0 (keep the connection), 1 (the peer
 * ended the stream and everything was echoed) or a negative errno value.
 */
int es_conn_serve(struct es_conn *c, short revents)
{
    int round, r;

    if (revents & POLLNVAL)
        return -EBADF;
    if (c->len) {
        r = flush(c);
        if (r < 0 || c->len)
            return r;
    }
    for (round = 0; round < ES_ROUNDS; round++) {
        ks_ssize_t n = ks_recv(c->fd, c->buf, ES_BUF, MSG_DONTWAIT);

        if (n == -EWOULDBLOCK)
            return 0;
        if (n == 0)
            return 1;
        if (n < 0)
            return (int)n;
        c->off = 0;
        c->len = (ULONG)n;
        r = flush(c);
        if (r < 0 || c->len)
            return r;
    }
    return 0;
}

/*
 * Closes and frees the connection; result: es_conn_serve's (1: end of
 * stream), or 0 when the unload ends it. At the unload the close is made
 * abortive (SO_LINGER {1, 0}: the peer sees a reset, and a peer that
 * stopped reading cannot hold the unload for a graceful close's 5 s) and
 * left to ks_cleanup, which the unload calls once the workers ended: the
 * workers closing their idle connections themselves (a read-ahead in
 * flight on each) met Wine 8's netio.sys crash, a write through a NULL IRP
 * in dispatch_pending_io, in 2 of 5 unloads with 1,000 connections (4 of 4
 * with graceful closes); closed by ks_cleanup, or by ks_close_async on a
 * library thread, in none of 11 (the cause inside Wine is not known: the
 * provider's close alone handed to another thread did not help). The
 * descriptor stays valid until then.
 */
void es_conn_close(struct es_conn *c, int result)
{
    struct es_server *s = g_es;
    LONG k;

    if (result == 0) {
        LINGER l;
        l.l_onoff = 1;
        l.l_linger = 0;
        ks_setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, (int)sizeof(l));
    }
    if (result != 0)
        ks_close(c->fd); /* else ks_cleanup closes it, abortively */
    InterlockedExchangeAdd64(&s->bytes, (LONG64)c->bytes);
    if (result == 1)
        InterlockedIncrement(&s->eof);
    else if (result < 0)
        InterlockedIncrement(&s->errors);
    k = InterlockedIncrement(&s->ended);
    if (result < 0 || k == 1 || k % s->log_every == 0)
        ES_LOG("ended #%ld result=%d bytes=%llu (eof=%ld errors=%ld)\n", (long)k, result, c->bytes,
               (long)s->eof, (long)s->errors);
    ks_pool_free(c->buf, ES_TAG);
    ks_pool_free(c, ES_TAG);
}
