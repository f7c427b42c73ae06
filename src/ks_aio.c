/*
 * ks_aio.c - asynchronous calls with completion callbacks (wsksock/aio.h).
 *
 * An asynchronous call is the non-blocking call, retried on a completion
 * thread whenever the socket's readiness engine (ks_ready.c) reports
 * progress. Between tries the request is parked on the socket as a waiter
 * (struct ks_ready_link with a notify function): the engine's completion
 * callbacks, which run when the provider completes one of its requests on
 * the op layer, wake the waiters, and notify posts the request to a
 * completion thread (ks_work.c), which tries again at PASSIVE_LEVEL. So
 * the provider's requests are the engine's own (their buffers are the
 * socket's), the caller's buffer is touched only on completion threads,
 * and cancelling a parked request never waits for a provider: it is
 * unlinked and completed.
 *
 * State of a request (under the socket's spin lock, field state):
 *  QUEUED  behind another request of its direction (s->aio_q[dir]);
 *  POSTED  in the completion threads' queue;
 *  RUNNING a completion thread is trying it; its link is on the socket, and
 *          a wake meanwhile sets rewake (it is posted again);
 *  PARKED  its link is on the socket, waiting for a wake.
 */
#include "ks_aio.h"
#include "ks_descriptor.h"
#include "ks_ready.h"
#include "ks_stream.h"
#include "ks_stream_io.h"
#include "ks_datagram.h"

#define AIO_FREE KS_AIO_FREE
#define AIO_QUEUED KS_AIO_QUEUED
#define AIO_POSTED KS_AIO_POSTED
#define AIO_RUNNING KS_AIO_RUNNING
#define AIO_PARKED KS_AIO_PARKED
enum aio_kind { AIO_RECV, AIO_SEND, AIO_ACCEPT, AIO_CONNECT, AIO_RECVFROM, AIO_SENDTO };
enum aio_dir { AIO_RX = 0, AIO_TX = 1 };

/* "Not yet": the non-blocking call would have waited. */
#define AIO_AGAIN (-EWOULDBLOCK)

struct aio {
    struct ks_aio_head head; /* first: shared with ks_aio_call.c */
    struct ks_ready_link link;
    LIST_ENTRY fifo; /* s->aio_q[dir] */
    ks_sock *s;      /* referenced while in flight */
    ks_aio_cb *cb;
    UCHAR *buf;
    size_t len;
    size_t done; /* bytes moved so far (send, MSG_WAITALL receive) */
    struct sockaddr *addr;
    int *addrlen;
    ks_addr to; /* connect / sendto destination (copied) */
    int tolen;
    int fd;
    int flags;
    UCHAR kind, dir;
    BOOLEAN linked;   /* link on s->ready.waiters (socket lock) */
    BOOLEAN cancel;   /* ks_aio_cancel asked (socket lock) */
    BOOLEAN rewake;   /* woken while RUNNING (socket lock) */
    BOOLEAN flushing; /* send: every byte taken, waiting for the provider */
    BOOLEAN started;  /* connect: issued, in progress */
};

/* The caller's struct ks_aio holds the request. */
_Static_assert(sizeof(struct aio) <= sizeof(((struct ks_aio *)0)->ks_private),
               "struct ks_aio too small");

static struct aio *aio_of(struct ks_aio *req)
{
    return (struct aio *)(void *)req->ks_private;
}

/*
 * a->s and ks_aio_cancel: cancel may run on any thread at any time,
 * including while a completion thread finishes the request and drops the
 * last reference to its socket, so it cannot take a->s and then the
 * socket's lock. Rule: a->s is written only under the request's pin lock
 * (one of a few static spin locks, chosen by the request's address; nested
 * inside s->lock where both are held), and it is cleared before the
 * request's socket reference is dropped. ks_aio_cancel reads a->s under the
 * pin lock and takes its own reference there, so the socket it then locks
 * is alive; it re-checks a->s under s->lock (the request may have ended and
 * been submitted again meanwhile). Zero-initialised spin locks are valid
 * ones and these are never re-initialised.
 */
#define AIO_PIN_LOCKS 16
static KSPIN_LOCK g_aio_pin[AIO_PIN_LOCKS];

static PKSPIN_LOCK pin_lock(const struct aio *a)
{
    return &g_aio_pin[((ULONG_PTR)a / sizeof(struct ks_aio)) % AIO_PIN_LOCKS];
}

/* Sets a->s (at any IRQL <= DISPATCH_LEVEL; see the rule above). */
static void set_sock(struct aio *a, ks_sock *s)
{
    KS_ASSERT_IRQL_MAX(DISPATCH_LEVEL);
    KIRQL irql;
    KeAcquireSpinLock(pin_lock(a), &irql);
    a->s = s;
    KeReleaseSpinLock(pin_lock(a), irql);
}

static ks_work_fn aio_run;

/* Wake from the readiness engine (socket lock held, DISPATCH_LEVEL). */
static void aio_notify(ks_sock *s, struct ks_ready_link *link)
{
    struct aio *a = CONTAINING_RECORD(link, struct aio, link);
    UNREFERENCED_PARAMETER(s); /* only asserted */
    KS_ASSERT_SPIN_HELD(&s->lock);
    KS_ASSERT(a->s == s && a->linked);
    if (a->head.state == AIO_PARKED) {
        RemoveEntryList(&a->link.entry);
        a->linked = FALSE;
        a->head.state = AIO_POSTED;
        ks__work_post(&a->head.work);
    } else if (a->head.state == AIO_RUNNING) {
        a->rewake = TRUE;
    }
}

/* ---- one try of each kind: a result, or AIO_AGAIN ---- */

static ptrdiff_t try_recv(struct aio *a)
{
    for (;;) {
        ks_ssize_t n = ks__recv_flags(a->fd, a->buf + a->done, a->len - a->done,
                                      (a->flags & ~MSG_WAITALL) | MSG_DONTWAIT);
        if (n == AIO_AGAIN)
            return AIO_AGAIN;
        if (n < 0)
            return a->done > 0 ? (ptrdiff_t)a->done : n;
        a->done += (size_t)n;
        if (n == 0 || a->done == a->len || (a->flags & MSG_WAITALL) == 0)
            return (ptrdiff_t)a->done;
    }
}

/* The send side is idle again: the last background send completed. On
 * the socket, not the descriptor (see try_send). */
static ptrdiff_t try_flush(struct aio *a)
{
    ks_sock *s = a->s; /* the request's reference */
    int err = ks__lock_try(&s->tx_lock);
    if (err == 0) {
        err = ks__ready_tx_settle(s, TRUE, NULL);
        ks__sock_unlock(&s->tx_lock);
    }
    return err == 0 ? (ptrdiff_t)a->len : err;
}

/* Sends go on the socket, not the descriptor: after ks_close_async
 * (fd_end KS_FD_CLOSE_AFTER) the sends queued before it still run, and the
 * close waits for them (aio_close_drain); after ks_close (KS_FD_CLOSED)
 * they end with -EBADF, also while the close itself is still to run (a
 * ks_close from a callback runs on a blocking-call thread). */
static ptrdiff_t try_send(struct aio *a)
{
    if (a->s->fd_end == KS_FD_CLOSED)
        return -EBADF;
    while (!a->flushing) {
        ks_ssize_t n = ks__send_sock(a->s, a->buf + a->done, a->len - a->done, MSG_DONTWAIT);
        if (n < 0)
            return n;
        a->done += (size_t)n;
        if (a->done == a->len)
            a->flushing = TRUE;
    }
    return try_flush(a);
}

static ptrdiff_t try_connect(struct aio *a)
{
    if (!a->started) {
        int err = ks__connect_mode(a->fd, (const struct sockaddr *)&a->to, a->tolen, TRUE);
        if (err != -EINPROGRESS)
            return err;
        a->started = TRUE;
    }
    ks_sock *s;
    int err = ks__fd_enter(a->fd, &s);
    if (err != 0)
        return err;
    if (ks__ready_connecting(s)) {
        err = AIO_AGAIN;
    } else {
        err = ks__lock_try(&s->tx_lock);
        if (err == 0) {
            ks__ready_tx_settle(s, TRUE, NULL); /* reaps the connect */
            ks__sock_unlock(&s->tx_lock);
            if (s->state != KS_SS_CONNECTED) {
                err = InterlockedExchange(&s->so_error, 0);
                if (err == 0)
                    err = s->closing ? -EBADF : -ECONNREFUSED;
            }
        }
    }
    ks__sock_put(s);
    return err;
}

static ptrdiff_t try_once(struct aio *a)
{
    switch (a->kind) {
    case AIO_RECV:
        return try_recv(a);
    case AIO_SEND: {
        ptrdiff_t r = try_send(a);
        /* A send a close cut off reports -EBADF, as ks__sock_error does,
         * whatever it met first (-EPIPE once the close marked the stream
         * broken, while this try was under way). */
        if (r < 0 && r != AIO_AGAIN && (a->s->closing || a->s->fd_end == KS_FD_CLOSED))
            r = -EBADF;
        return r;
    }
    case AIO_ACCEPT:
        return ks__accept_mode(a->fd, a->addr, a->addrlen,
                               MSG_DONTWAIT | (a->flags & KS_MSG_EVENTS));
    case AIO_CONNECT:
        return try_connect(a);
    case AIO_RECVFROM:
        return ks_recvfrom(a->fd, a->buf, a->len, MSG_DONTWAIT, a->addr, a->addrlen);
    default:
        return ks_sendto(a->fd, a->buf, a->len, MSG_DONTWAIT, (const struct sockaddr *)&a->to,
                         a->tolen);
    }
}

/* TRUE if a cancellation can still end a (socket lock held). */
static BOOLEAN cancellable(const struct aio *a)
{
    KS_ASSERT_SPIN_HELD(&a->s->lock);
    return !a->flushing;
}

/* Ends a: starts the next request of its direction, runs the callback. */
static void aio_complete(struct aio *a, ptrdiff_t result)
{
    ks_sock *s = a->s;
    KIRQL irql;
    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL); /* the callback's IRQL */
    KS_ASSERT(s != NULL && a->head.state != AIO_FREE && result != AIO_AGAIN);
    KeAcquireSpinLock(&s->lock, &irql);
    if (a->linked) {
        RemoveEntryList(&a->link.entry);
        a->linked = FALSE;
    }
    if (result == -ECANCELED && a->kind == AIO_SEND && a->done > 0)
        s->send_broken = TRUE; /* part of the data went: the stream has a hole */
    if (result < 0 && a->kind == AIO_SEND && (s->closing || s->fd_end == KS_FD_CLOSED))
        s->send_broken = TRUE; /* a send the close ended: abortive (aio_close_begin) */
    RemoveEntryList(&a->fifo);
    if (a->dir == AIO_TX && IsListEmpty(&s->aio_q[AIO_TX]) && s->fd_end == KS_FD_CLOSE_AFTER)
        KeSetEvent(&s->aio_tx_done, IO_NO_INCREMENT, FALSE); /* aio_close_drain may go on */
    if (!IsListEmpty(&s->aio_q[a->dir])) {
        struct aio *next = CONTAINING_RECORD(s->aio_q[a->dir].Flink, struct aio, fifo);
        if (next->head.state == AIO_QUEUED) {
            next->head.state = AIO_POSTED;
            ks__work_post(&next->head.work);
        }
    }
    ks_aio_cb *cb = a->cb;
    set_sock(a, NULL);
    a->head.state = AIO_FREE;
    KeReleaseSpinLock(&s->lock, irql);
    /* The request is the caller's again from here (it may be reused inside
     * the callback). The socket reference is dropped after the callback, so
     * that ks_cleanup, which waits for every socket, waits for it too. */
    cb(CONTAINING_RECORD((void *)a, struct ks_aio, ks_private), result);
    ks__sock_put(s);
}

static void aio_run(ks_work *w)
{
    struct aio *a = CONTAINING_RECORD(w, struct aio, head.work);
    ks_sock *s = a->s;
    KIRQL irql;

    KS_ASSERT(s != NULL); /* in flight: its socket referenced */
    KeAcquireSpinLock(&s->lock, &irql);
    KS_ASSERT(a->head.state == AIO_POSTED);
    if (a->cancel && cancellable(a)) {
        KeReleaseSpinLock(&s->lock, irql);
        aio_complete(a, -ECANCELED);
        return;
    }
    /* Linked before the try: a wake during it is not lost. */
    a->head.state = AIO_RUNNING;
    a->rewake = FALSE;
    if (!a->linked) {
        InsertTailList(&s->ready.waiters, &a->link.entry);
        a->linked = TRUE;
    }
    KeReleaseSpinLock(&s->lock, irql);

    ptrdiff_t result = try_once(a);

    KeAcquireSpinLock(&s->lock, &irql);
    if (result == AIO_AGAIN && a->cancel && cancellable(a))
        result = -ECANCELED;
    if (result == AIO_AGAIN) {
        if (a->rewake) {
            /* Something happened during the try: try again, after the
             * work queued meanwhile (fairness among sockets). */
            a->head.state = AIO_POSTED;
            ks__work_post(&a->head.work);
        } else {
            a->head.state = AIO_PARKED;
        }
        KeReleaseSpinLock(&s->lock, irql);
        return;
    }
    KeReleaseSpinLock(&s->lock, irql);
    aio_complete(a, result);
}

/* Common submission: a is filled but for its socket and state. */
static int aio_submit(struct ks_aio *req, int fd, enum aio_kind kind, ks_aio_cb *cb)
{
    struct aio *a = aio_of(req);
    if (!ks__can_block())
        return -EPERM;
    ks_sock *s;
    int err = ks__fd_enter(fd, &s);
    if (err != 0)
        return err;
    err = ks__work_start();
    if (err != 0) {
        ks__sock_put(s);
        return err;
    }
    set_sock(a, s); /* with the reference ks__fd_enter took */
    a->fd = fd;
    a->kind = (UCHAR)kind;
    a->dir =
        (UCHAR)(kind == AIO_RECV || kind == AIO_ACCEPT || kind == AIO_RECVFROM ? AIO_RX : AIO_TX);
    a->cb = cb;
    a->done = 0;
    a->linked = FALSE;
    a->cancel = FALSE;
    a->rewake = FALSE;
    a->flushing = FALSE;
    a->started = FALSE;
    a->head.work.fn = aio_run;
    a->head.blocking_call = FALSE;
    a->link.event = NULL;
    a->link.notify = aio_notify;
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    BOOLEAN first = IsListEmpty(&s->aio_q[a->dir]);
    InsertTailList(&s->aio_q[a->dir], &a->fifo);
    a->head.state = first ? AIO_POSTED : AIO_QUEUED;
    if (first)
        ks__work_post(&a->head.work);
    KeReleaseSpinLock(&s->lock, irql);
    return 0;
}

/* Argument checks shared by the data calls; 0 or a negative errno. */
static int aio_check(const struct ks_aio *req, ks_aio_cb *cb, const void *buf, size_t len,
                     int flags, int allowed_flags)
{
    if (!ks__can_block())
        return -EPERM;
    if (req == NULL || cb == NULL || (buf == NULL && len > 0))
        return -EFAULT;
    if ((flags & ~allowed_flags) != 0)
        return -EOPNOTSUPP;
    if (len > KS_MAX_IO_SIZE)
        return -EINVAL;
    if (ks__aio_head_of((struct ks_aio *)req)->state != AIO_FREE)
        return -EBUSY;
    return 0;
}

/* ks_recv_async, with KS_MSG_EVENTS allowed in flags (ks_events.c). */
int ks__recv_async_flags(int s, void *buf, size_t len, int flags, struct ks_aio *req, ks_aio_cb *cb)
{
    int err = aio_check(req, cb, buf, len, flags, MSG_WAITALL | KS_MSG_EVENTS);
    if (err == 0 && len == 0)
        err = -EINVAL; /* its result 0 would read as the end of the stream */
    if (err != 0)
        return err;
    struct aio *a = aio_of(req);
    a->buf = (UCHAR *)buf;
    a->len = len;
    a->flags = flags;
    return aio_submit(req, s, AIO_RECV, cb);
}

int ks_recv_async(int s, void *buf, size_t len, int flags, struct ks_aio *req, ks_aio_cb *cb)
{
    if ((flags & KS_MSG_EVENTS) != 0)
        return ks__can_block() ? -EOPNOTSUPP : -EPERM;
    return ks__recv_async_flags(s, buf, len, flags, req, cb);
}

int ks_send_async(int s, const void *buf, size_t len, int flags, struct ks_aio *req, ks_aio_cb *cb)
{
    int err = aio_check(req, cb, buf, len, flags, 0);
    if (err != 0)
        return err;
    struct aio *a = aio_of(req);
    a->buf = (UCHAR *)buf; /* only read */
    a->len = len;
    a->flags = 0;
    return aio_submit(req, s, AIO_SEND, cb);
}

/* ks_accept_async, with KS_MSG_EVENTS allowed in flags (ks_events.c). */
int ks__accept_async_flags(int s, struct sockaddr *addr, int *addrlen, int flags,
                           struct ks_aio *req, ks_aio_cb *cb)
{
    int err = aio_check(req, cb, NULL, 0, flags, KS_MSG_EVENTS);
    if (err == 0 && addr != NULL && addrlen == NULL)
        err = -EFAULT;
    if (err == 0 && addrlen != NULL && *addrlen < 0)
        err = -EINVAL;
    if (err != 0)
        return err;
    struct aio *a = aio_of(req);
    a->addr = addr;
    a->addrlen = addrlen;
    a->flags = flags;
    return aio_submit(req, s, AIO_ACCEPT, cb);
}

int ks_accept_async(int s, struct sockaddr *addr, int *addrlen, struct ks_aio *req, ks_aio_cb *cb)
{
    return ks__accept_async_flags(s, addr, addrlen, 0, req, cb);
}

/* Copies a destination address into the request (checked later by the
 * call itself, against the socket's family). */
static int copy_to(struct aio *a, const struct sockaddr *to, int tolen)
{
    if (to == NULL)
        return -EFAULT;
    if (tolen < (int)sizeof(to->sa_family) || tolen > (int)sizeof(a->to))
        return -EINVAL;
    RtlZeroMemory(&a->to, sizeof(a->to));
    RtlCopyMemory(&a->to, to, (SIZE_T)tolen);
    a->tolen = tolen;
    return 0;
}

int ks_connect_async(int s, const struct sockaddr *addr, int addrlen, struct ks_aio *req,
                     ks_aio_cb *cb)
{
    int err = aio_check(req, cb, NULL, 0, 0, 0);
    if (err == 0)
        err = copy_to(aio_of(req), addr, addrlen);
    if (err != 0)
        return err;
    return aio_submit(req, s, AIO_CONNECT, cb);
}

int ks_recvfrom_async(int s, void *buf, size_t len, int flags, struct sockaddr *from, int *fromlen,
                      struct ks_aio *req, ks_aio_cb *cb)
{
    int err = aio_check(req, cb, buf, len, flags, 0);
    if (err == 0 && from != NULL && fromlen == NULL)
        err = -EFAULT;
    if (err != 0)
        return err;
    struct aio *a = aio_of(req);
    a->buf = (UCHAR *)buf;
    a->len = len;
    a->addr = from;
    a->addrlen = fromlen;
    return aio_submit(req, s, AIO_RECVFROM, cb);
}

int ks_sendto_async(int s, const void *buf, size_t len, int flags, const struct sockaddr *to,
                    int tolen, struct ks_aio *req, ks_aio_cb *cb)
{
    int err = aio_check(req, cb, buf, len, flags, 0);
    if (err == 0)
        err = copy_to(aio_of(req), to, tolen);
    if (err != 0)
        return err;
    struct aio *a = aio_of(req);
    a->buf = (UCHAR *)buf;
    a->len = len;
    return aio_submit(req, s, AIO_SENDTO, cb);
}

int ks_aio_cancel(struct ks_aio *req)
{
    KS_ASSERT_IRQL_MAX(DISPATCH_LEVEL);
    if (req == NULL)
        return -EFAULT;
    if (ks__aio_head_of(req)->blocking_call)
        return ks__aio_call_cancel(req);
    struct aio *a = aio_of(req);
    KIRQL irql;
    KeAcquireSpinLock(pin_lock(a), &irql);
    ks_sock *s = a->s;
    if (s != NULL)
        ks__sock_get(s); /* a->s set: the request's reference still holds it */
    KeReleaseSpinLock(pin_lock(a), irql);
    if (s == NULL)
        return -EINVAL;
    int err = 0;
    KeAcquireSpinLock(&s->lock, &irql);
    if (a->s != s || a->head.state == AIO_FREE) {
        err = -EINVAL; /* ended meanwhile (and maybe submitted again) */
    } else if (!cancellable(a)) {
        err = -EALREADY;
    } else {
        a->cancel = TRUE;
        if (a->head.state == AIO_PARKED || a->head.state == AIO_QUEUED) {
            if (a->linked) {
                RemoveEntryList(&a->link.entry);
                a->linked = FALSE;
            }
            a->head.state = AIO_POSTED;
            ks__work_post(&a->head.work);
        } else if (a->head.state == AIO_RUNNING) {
            err = -EALREADY; /* its try may finish it */
        }
    }
    KeReleaseSpinLock(&s->lock, irql);
    ks__sock_put(s); /* may be the last: freeing a socket is DISPATCH_LEVEL-safe */
    return err;
}

/* ---- the close (layer hooks, src/ks_socket.h) ---- */

/* close_drain: ks_close_async's close waits until the send-side requests
 * queued before it have completed (their callbacks report their own
 * results), up to d; past d the close goes on (aio_close_begin then makes
 * it abortive and the requests end with -EBADF). PASSIVE_LEVEL. */
static void aio_close_drain(ks_sock *s, const ks_deadline *d)
{
    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL);
    KS_ASSERT(s->fd_end == KS_FD_CLOSE_AFTER && d != NULL && d->bounded);
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    /* fd_end was set before: the request that empties the queue after this
     * check sets the event. */
    BOOLEAN idle = IsListEmpty(&s->aio_q[AIO_TX]);
    KeReleaseSpinLock(&s->lock, irql);
    if (!idle) {
        LARGE_INTEGER t;
        KeWaitForSingleObject(&s->aio_tx_done, Executive, KernelMode, FALSE,
                              ks__deadline_left(d, &t));
    }
}

/* close_begin: send requests still pending when the close starts (ks_close,
 * ks_cleanup, or ks_close_async past its bound) will not deliver their
 * data: the close is abortive, so that the peer sees a reset rather than
 * an orderly end of a stream with a hole. Before the readiness engine's
 * hook (slot order), which then does not wait for their background send. */
static void aio_close_begin(ks_sock *s, const ks_deadline *d)
{
    UNREFERENCED_PARAMETER(d);
    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL);
    KS_ASSERT(s->closing);
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    for (PLIST_ENTRY e = s->aio_q[AIO_TX].Flink; e != &s->aio_q[AIO_TX]; e = e->Flink) {
        if (CONTAINING_RECORD(e, struct aio, fifo)->kind == AIO_SEND) {
            s->send_broken = TRUE;
            break;
        }
    }
    KeReleaseSpinLock(&s->lock, irql);
}

static const struct ks_sock_layer aio_layer = {
    NULL, NULL, aio_close_begin, NULL, NULL, NULL, NULL, aio_close_drain,
};

void ks__aio_register(void)
{
    ks__sock_register_layer(KS_LAYER_AIO, &aio_layer);
}
