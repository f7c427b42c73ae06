/*
 * chaos_aio.c - asynchronous calls (wsksock/aio.h) on the shared slots,
 * ks_aio_cancel from other threads, and event mode (wsksock/events.h).
 *
 * Each request lives in a cell of a static array, which it keeps until its
 * callback ran (aio.h's ownership rule). A cell is IDLE or BUSY; BUSY from
 * the moment a thread claims it until both the submitting call returned
 * and the callback ran (or the submit failed: no callback). A canceller
 * announces itself in `hold` before it looks at the cell, and a cell is
 * reclaimed only when no canceller holds it, so ks_aio_cancel is only
 * ever called on a request that is in flight or has completed, never on
 * one being set up again.
 */
#include "chaos.h"

#include <string.h>

enum { IDLE, BUSY };
enum kind { K_RECV, K_SEND, K_ACCEPT, K_CONNECT, K_RECVFROM, K_SENDTO, K_CLOSE, K_SHUTDOWN, K_N };
static const enum ch_call cb_call[K_N] = {CB_RECV,     CB_SEND,   CB_ACCEPT, CB_CONNECT,
                                          CB_RECVFROM, CB_SENDTO, CB_CLOSE,  CB_SHUTDOWN};

#define CELL_BUF (128 * 1024)

struct cell {
    size_t len;
    ptrdiff_t result;
    SOCKADDR_STORAGE addr;
    struct ks_aio req;
    volatile LONG state;
    volatile LONG hold;       /* cancellers looking at the cell */
    volatile LONG submitted;  /* the submit returned 0 (cleared before IDLE) */
    volatile LONG parties;    /* submit returned + callback ran: 2 ends BUSY */
    volatile LONG fired;      /* callbacks of this submission */
    volatile LONG gen;        /* submissions so far */
    volatile LONG done_gen;   /* the submission whose callback ran */
    volatile LONG cancel_gen; /* the submission ks_aio_cancel returned 0 for */
    volatile LONG verified;
    enum kind kind;
    int fd;
    int addrlen;
};

static struct cell cells[CH_CELLS];
static unsigned char bufs[CH_CELLS][CELL_BUF];
volatile LONG ch_aio_submitted, ch_aio_callbacks;
static volatile LONG cb_rand;

static const char *kind_name(enum kind k)
{
    static const char *names[K_N] = {"recv",     "send",   "accept", "connect",
                                     "recvfrom", "sendto", "close",  "shutdown"};
    return names[k];
}

void ch_aio_reset(void)
{
    memset(cells, 0, sizeof(cells));
    ch_aio_submitted = ch_aio_callbacks = 0;
}

/* What every callback checks first: PASSIVE_LEVEL, and not after
 * ks_cleanup returned (it waits for every callback). */
static void cb_enter(const char *what)
{
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        ch_fail("%s ran at IRQL %d", what, (int)KeGetCurrentIrql());
    if (ch.lib_state == CH_DOWN)
        ch_fail("%s ran after ks_cleanup returned", what);
}

/* A cheap shared random number for callbacks (library threads). */
static unsigned cb_rnd(unsigned n)
{
    unsigned x = (unsigned)InterlockedIncrement(&cb_rand) * 2654435761u ^ ch.seed;
    x ^= x >> 15;
    return n == 0 ? 0 : x % n;
}

/* One of the two parties (submitting call, callback) is done with the
 * cell; the second makes it idle. */
static void release(struct cell *c)
{
    if (InterlockedIncrement(&c->parties) == 2) {
        InterlockedExchange(&c->submitted, 0);
        InterlockedExchange(&c->state, IDLE);
    }
}

static void verify_cancelled(struct cell *c)
{
    if (InterlockedIncrement(&c->verified) == 1 && c->result != -ECANCELED)
        ch_fail("ks_aio_cancel returned 0 for a %s request, but its callback got %lld (%s), not "
                "-ECANCELED",
                kind_name(c->kind), (long long)c->result, ks_strerror((int)c->result));
}

static void aio_cb(struct ks_aio *req, ptrdiff_t result)
{
    struct cell *c = req->data;
    cb_enter("an asynchronous call's callback");
    if (c == NULL || c < cells || c >= cells + CH_CELLS) {
        ch_fail("callback with a foreign request (data %p)", (void *)c);
        return;
    }
    LONG gen = c->gen;
    if (c->state != BUSY || InterlockedIncrement(&c->fired) != 1) {
        ch_fail("%s callback ran twice, or for a request not in flight (result %lld)",
                kind_name(c->kind), (long long)result);
        return;
    }
    InterlockedIncrement(&ch_aio_callbacks);
    c->result = result;
    enum kind k = c->kind;
    if (ch_check(cb_call[k], result, "%d, %zu", c->fd, c->len) && result >= 0) {
        if ((k == K_SEND || k == K_SENDTO) && (size_t)result != c->len)
            ch_fail("ks_%s_async(%d, %zu): callback result %lld, not the length", kind_name(k),
                    c->fd, c->len, (long long)result);
        else if ((k == K_RECV || k == K_RECVFROM) && (size_t)result > c->len)
            ch_fail("ks_%s_async(%d, %zu): callback result %lld", kind_name(k), c->fd, c->len,
                    (long long)result);
        else if ((k == K_CONNECT || k == K_CLOSE || k == K_SHUTDOWN) && result != 0)
            ch_fail("ks_%s_async(%d): callback result %lld", kind_name(k), c->fd,
                    (long long)result);
        else if (k == K_ACCEPT && result == 0)
            ch_fail("ks_accept_async(%d): descriptor 0", c->fd);
        else if (k == K_ACCEPT &&
                 !ch_publish(NULL, (int)result, 0, CH_EMPTY_SLOT, "ks_accept_async"))
            ch_close_now((int)result, "accepted, no free slot");
    }
    InterlockedExchange(&c->done_gen, gen);
    if (InterlockedCompareExchange(&c->cancel_gen, 0, 0) == gen)
        verify_cancelled(c);
    release(c);
}

/* Claims an idle cell no canceller holds; NULL if the one drawn is busy. */
static struct cell *claim(struct ch_rng *r)
{
    struct cell *c = &cells[ch_rand(r, CH_CELLS)];
    if (InterlockedCompareExchange(&c->state, BUSY, IDLE) != IDLE)
        return NULL;
    if (InterlockedCompareExchange(&c->hold, 0, 0) != 0) {
        InterlockedExchange(&c->state, IDLE);
        return NULL;
    }
    memset(&c->req, 0, sizeof(c->req));
    c->req.data = c;
    c->parties = c->fired = c->verified = 0;
    c->gen++;
    return c;
}

void ch_aio_op(struct ch_rng *r)
{
    struct cell *c = claim(r);
    if (c == NULL)
        return;
    unsigned char *buf = bufs[c - cells];
    int fd = ch_pick_fd(r), v6 = (int)ch_rand(r, 2), bad = 0, res;
    ks_aio_cb *cb = ch_rand(r, 50) == 0 ? (bad = 1, NULL) : aio_cb;
    static const size_t sizes[] = {1, 100, 4096, 65536, CELL_BUF};
    c->len = 1 + ch_rand(r, (unsigned)sizes[ch_rand(r, 5)]);
    c->fd = fd;
    c->addrlen = (int)sizeof(c->addr);
    unsigned k = ch_rand(r, 100);
    if (k < 25) {
        int flags = ch_rand(r, 4) == 0 ? MSG_WAITALL : 0;
        if (ch_rand(r, 25) == 0)
            flags = 0x40000000, bad = 1;
        c->kind = K_RECV;
        c->fd = fd = ch_pick_rx_fd(r);
        res = ks_recv_async(fd, buf, c->len, flags, &c->req, cb);
    } else if (k < 45) {
        c->kind = K_SEND;
        res = ks_send_async(fd, buf, c->len, 0, &c->req, cb);
    } else if (k < 60) {
        c->kind = K_ACCEPT;
        res = ch_rand(r, 2)
                  ? ks_accept_async(fd, (struct sockaddr *)&c->addr, &c->addrlen, &c->req, cb)
                  : ks_accept_async(fd, NULL, NULL, &c->req, cb);
    } else if (k < 75) {
        c->kind = K_CONNECT;
        if (ch_rand(r, 2)) { /* a new socket, published before the connect */
            fd = ch_new_socket(r, SOCK_STREAM, &v6);
            if (fd > 0)
                ch_publish(r, fd, 0, -1, "ks_socket");
            c->fd = fd;
        }
        ch_target(r, v6, &c->addr, &c->addrlen);
        res = ks_connect_async(fd, (struct sockaddr *)&c->addr, c->addrlen, &c->req, cb);
    } else if (k < 82) {
        c->kind = K_RECVFROM;
        res = ks_recvfrom_async(fd, buf, c->len, 0, (struct sockaddr *)&c->addr, &c->addrlen,
                                &c->req, cb);
    } else if (k < 89) {
        SOCKADDR_STORAGE to;
        int tolen;
        ch_target(r, v6, &to, &tolen);
        c->kind = K_SENDTO;
        c->len %= 2000;
        res = ks_sendto_async(fd, buf, c->len, 0, (struct sockaddr *)&to, tolen, &c->req, cb);
    } else if (k < 95 || (ch.excluded & CH_NO_SHUTDOWN)) {
        /* The descriptor is closed at once: taken out of its slot first. */
        int i = (int)ch_rand(r, CH_SLOTS);
        c->kind = K_CLOSE;
        c->fd = fd = InterlockedExchange(&ch.slots[i], 0);
        if (fd == 0) {
            InterlockedExchange(&c->state, IDLE);
            return;
        }
        res = ks_close_async(fd, &c->req, cb);
        if (res == 0)
            ch_note_closed(fd);
        else
            ch_close_now(fd, "ks_close_async not started");
    } else {
        c->kind = K_SHUTDOWN;
        res = ks_shutdown_async(fd, (int)ch_rand(r, 3), &c->req, cb);
    }
    if (res == 0) {
        InterlockedIncrement(&ch_aio_submitted);
        if (bad)
            ch_fail("ks_%s_async(%d) with %s was started", kind_name(c->kind), fd,
                    cb == NULL ? "a NULL callback" : "flag 0x40000000");
        InterlockedExchange(&c->submitted, 1);
        release(c);
        return;
    }
    if (res == -EBUSY)
        ch_fail("ks_%s_async(%d) returned -EBUSY for a request not in flight", kind_name(c->kind),
                fd);
    /* An unlisted flag: -EOPNOTSUPP (aio.h); a NULL callback: -EFAULT. */
    else if (bad && res != -EOPNOTSUPP && res != -EBADF && res != -EFAULT)
        ch_fail("ks_%s_async(%d) with %s returned %d", kind_name(c->kind), fd,
                cb == NULL ? "a NULL callback" : "flag 0x40000000", res);
    else if (!bad)
        ch_check(C_AIO_SUBMIT, res, "ks_%s_async: %d, %zu", kind_name(c->kind), fd, c->len);
    if (c->fired != 0)
        ch_fail("ks_%s_async(%d) failed (%d) but its callback ran", kind_name(c->kind), fd, res);
    InterlockedExchange(&c->state, IDLE);
}

void ch_cancel_op(struct ch_rng *r)
{
    struct cell *c = &cells[ch_rand(r, CH_CELLS)];
    InterlockedIncrement(&c->hold);
    LONG state = InterlockedCompareExchange(&c->state, 0, 0);
    LONG submitted = InterlockedCompareExchange(&c->submitted, 0, 0);
    LONG gen = c->gen;
    if (state == IDLE || submitted) {
        /* In flight, completed, or idle: never being set up. */
        int res = ks_aio_cancel(&c->req);
        if (ch_check(C_AIO_CANCEL, res, "%s request", kind_name(c->kind)) && res == 0) {
            if (state == IDLE) {
                ch_fail("ks_aio_cancel returned 0 for a request not in flight");
            } else {
                InterlockedExchange(&c->cancel_gen, gen);
                if (InterlockedCompareExchange(&c->done_gen, 0, 0) == gen)
                    verify_cancelled(c);
            }
        }
    }
    if (ch_rand(r, 50) == 0 && ks_aio_cancel(NULL) != -EFAULT)
        ch_fail("ks_aio_cancel(NULL) did not return -EFAULT");
    InterlockedDecrement(&c->hold);
}

void ch_aio_final_check(void)
{
    for (int i = 0; i < CH_CELLS; i++)
        if (cells[i].state != IDLE)
            ch_fail("after the final ks_cleanup, a %s request (fd %d) is still waiting for its "
                    "callback (submitted %ld, callbacks %ld)",
                    kind_name(cells[i].kind), cells[i].fd, (long)cells[i].submitted,
                    (long)cells[i].fired);
    if (ch_aio_submitted != ch_aio_callbacks)
        ch_fail("%ld asynchronous calls started, %ld callbacks ran", (long)ch_aio_submitted,
                (long)ch_aio_callbacks);
}

/* ---- event mode ---- */

static int ctx_token; /* the listener's ctx and the connections' conn_ctx */

static int ev_accept(void *ctx, int listen_fd, int fd, const struct sockaddr *remote, int remotelen,
                     void **conn_ctx)
{
    cb_enter("the accept callback");
    if (ctx != &ctx_token || *conn_ctx != &ctx_token)
        ch_fail("accept callback: ctx %p, *conn_ctx %p, not the ones given", ctx, *conn_ctx);
    if (fd <= 0 || listen_fd <= 0 || remote == NULL ||
        (remotelen != (int)sizeof(SOCKADDR_IN) && remotelen != (int)sizeof(SOCKADDR_IN6)))
        ch_fail("accept callback: listen_fd %d, fd %d, remote %p, remotelen %d", listen_fd, fd,
                (const void *)remote, remotelen);
    if (cb_rnd(8) == 0)
        return -ECONNREFUSED; /* the library closes it */
    if (!ch_publish(NULL, fd, 0, CH_EMPTY_SLOT, "the accept callback"))
        return -ENOSPC; /* no free slot: the library closes it */
    return 0;
}

static void ev_receive(void *conn_ctx, int fd, const void *data, size_t len)
{
    cb_enter("the receive callback");
    if (conn_ctx != &ctx_token || data == NULL || len == 0)
        ch_fail("receive callback: conn_ctx %p, fd %d, data %p, len %zu", conn_ctx, fd, data, len);
    unsigned k = cb_rnd(16);
    if (k == 0) {
        ch_check(C_EVENTS_PAUSE, ks_events_pause(fd), "%d (in its receive callback)", fd);
    } else if (k < 5) {
        size_t n = len < 4096 ? len : 4096;
        ks_ssize_t s = ks_send(fd, data, n, MSG_DONTWAIT);
        if (ch_check(C_SEND, s, "%d, %zu, MSG_DONTWAIT (receive callback)", fd, n) &&
            s > (ks_ssize_t)n)
            ch_fail("ks_send(%d, %zu) in a receive callback returned %lld", fd, n, (long long)s);
    }
}

static void ev_disconnect(void *conn_ctx, int fd, int err)
{
    cb_enter("the disconnect callback");
    if (conn_ctx != &ctx_token)
        ch_fail("disconnect callback: conn_ctx %p", conn_ctx);
    if (err > 0)
        ch_fail("disconnect callback: err %d is positive", err);
    else
        ch_check(EV_DISCONNECT, err, "fd %d", fd);
    if (cb_rnd(3) == 0)
        ch_close_now(fd, "in its disconnect callback");
}

static const struct ks_event_handlers handlers[2] = {
    {ev_accept, ev_receive, ev_disconnect},
    {ev_accept, ev_receive, NULL}, /* the library closes at the end */
};

int ch_listen_events(struct ch_rng *r, int fd)
{
    int res = ks_listen_events(fd, 1 + (int)ch_rand(r, 16), &handlers[ch_rand(r, 2)], &ctx_token);
    ch_check(C_LISTEN_EVENTS, res, "%d", fd);
    return res;
}

void ch_events_op(struct ch_rng *r)
{
    int fd = ch_pick_fd(r), res;
    switch (ch_rand(r, 6)) {
    case 0:
        res = ks_recv_events(fd, &handlers[ch_rand(r, 2)], &ctx_token);
        ch_check(C_RECV_EVENTS, res, "%d", fd);
        break;
    case 1:
        res = ks_recv_events(fd, NULL, &ctx_token);
        if (res != -EFAULT && res != -EBADF)
            ch_fail("ks_recv_events(%d, NULL) returned %d, not -EFAULT", fd, res);
        break;
    case 2:
    case 3:
        ch_check(C_EVENTS_PAUSE, ks_events_pause(fd), "%d", fd);
        break;
    case 4:
        ch_check(C_EVENTS_PAUSE, ks_events_resume(fd), "%d", fd);
        break;
    default:
        res = ks_events_native(fd);
        if (ch_check(C_EVENTS_NATIVE, res, "%d", fd) && res > 1)
            ch_fail("ks_events_native(%d) returned %d", fd, res);
        break;
    }
}
