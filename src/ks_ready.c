/* ks_ready.c - the readiness engine: asynchronous requests (see ks_ready.h). */
#include "ks_ready.h"
#include "ks_socket.h"
#include "ks_wsk.h"

static ks_op_callback rx_done;
static ks_op_callback tx_done;

/* ---- lifetime ---- */

static void ready_init(ks_sock *s)
{
    InitializeListHead(&s->ready.waiters);
    KeInitializeEvent(&s->ready.rx_idle, NotificationEvent, TRUE);
    KeInitializeEvent(&s->ready.tx_idle, NotificationEvent, TRUE);
}

static void ready_free(ks_sock *s)
{
    KS_ASSERT(s->refs == 0); /* the last reference went */
    /* Nothing in flight (the close reaped it), nobody polling. */
    KS_ASSERT(s->ready.rx != KS_ASYNC_BUSY && s->ready.tx != KS_ASYNC_BUSY);
    KS_ASSERT(IsListEmpty(&s->ready.waiters));
    ks__free(s->ready.tx_buf, KS_TAG_BUFFER);
    s->ready.tx_buf = NULL;
    /* A connection socket prepared for an accept after the close had reaped
     * (ks_poll's arm, which only tries the lock, can come that late; its
     * WskAccept then fails): never used, it has no provider socket. */
    if (s->ready.acc != NULL) {
        ks__sock_put(s->ready.acc);
        s->ready.acc = NULL;
    }
}

/* ---- waiters ---- */

static void wake_locked(ks_sock *s)
{
    KS_ASSERT_SPIN_HELD(&s->lock);
    PLIST_ENTRY e = s->ready.waiters.Flink;
    while (e != &s->ready.waiters) {
        struct ks_ready_link *link = CONTAINING_RECORD(e, struct ks_ready_link, entry);
        e = e->Flink; /* notify may unlink link */
        if (link->notify != NULL)
            link->notify(s, link);
        else
            KeSetEvent(link->event, IO_NO_INCREMENT, FALSE);
    }
}

void ks__ready_wake(ks_sock *s)
{
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    wake_locked(s);
    KeReleaseSpinLock(&s->lock, irql);
}

void ks__ready_wake_waiters(ks_sock *s)
{
    /* The unlocked look is enough: a waiter links itself before it tries
     * the lock, and the lock's release is a full barrier. */
    if (s->ready.waiters.Flink != &s->ready.waiters)
        ks__ready_wake(s);
}

void ks__ready_add_waiter(ks_sock *s, struct ks_ready_link *link)
{
    KS_ASSERT_IRQL_MAX(DISPATCH_LEVEL);
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    InsertTailList(&s->ready.waiters, &link->entry);
    KeReleaseSpinLock(&s->lock, irql);
}

void ks__ready_remove_waiter(ks_sock *s, struct ks_ready_link *link)
{
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    RemoveEntryList(&link->entry);
    KeReleaseSpinLock(&s->lock, irql);
}

/* ---- completion callbacks (IRQL <= DISPATCH_LEVEL) ----
 * They publish the result under the socket's spin lock and wake waiters;
 * releasing the lock is their last access to the socket: once the result is
 * visible, a reaper may drop the request's reference and the socket may go. */

static void rx_done(ks_op *op, NTSTATUS status, ULONG_PTR information, void *context)
{
    ks_sock *s = (ks_sock *)context;
    KIRQL irql;
    UNREFERENCED_PARAMETER(op);
    KS_ASSERT_IRQL_MAX(DISPATCH_LEVEL);
    KeAcquireSpinLock(&s->lock, &irql);
    KS_ASSERT(s->ready.rx == KS_ASYNC_BUSY); /* issued by ks__ready_rx_arm */
    s->ready.rx_status = status;
    s->ready.rx_info = information;
    s->ready.rx = KS_ASYNC_DONE;
    KeSetEvent(&s->ready.rx_idle, IO_NO_INCREMENT, FALSE);
    wake_locked(s);
    KeReleaseSpinLock(&s->lock, irql);
}

static void tx_done(ks_op *op, NTSTATUS status, ULONG_PTR information, void *context)
{
    ks_sock *s = (ks_sock *)context;
    struct ks_ready *r = &s->ready;
    KIRQL irql;
    UNREFERENCED_PARAMETER(op);
    KS_ASSERT_IRQL_MAX(DISPATCH_LEVEL);
    KeAcquireSpinLock(&s->lock, &irql);
    KS_ASSERT(r->tx == KS_ASYNC_BUSY); /* issued by tx_start */
    r->tx_status = status;
    r->tx_info = information;
    r->tx = KS_ASYNC_DONE;
    if (!s->closing) {
        /* The socket's state changes here, not at the reap: a poller sees
         * the connection (or its error) without anyone calling in. */
        if (r->tx_kind == KS_TX_CONNECT && NT_SUCCESS(status) && s->state == KS_SS_BOUND) {
            s->remote = r->conn_to;
            s->state = KS_SS_CONNECTED;
        } else if (!NT_SUCCESS(status)) {
            int err = ks__status_to_errno(status);
            InterlockedExchange(&s->so_error, err != 0 ? err : -EIO);
            if (r->tx_kind == KS_TX_CONNECT)
                r->conn_failed = TRUE;
        }
    }
    KeSetEvent(&r->tx_idle, IO_NO_INCREMENT, FALSE);
    wake_locked(s);
    KeReleaseSpinLock(&s->lock, irql);
}

/* Marks a direction busy before its request is issued (the callback may run
 * before the WSK call returns). */
static void set_busy(ks_sock *s, LONG *state, KEVENT *idle)
{
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    KS_ASSERT(*state == KS_ASYNC_IDLE); /* one request per direction */
    *state = KS_ASYNC_BUSY;
    KeClearEvent(idle);
    KeReleaseSpinLock(&s->lock, irql);
}

static void set_idle(ks_sock *s, LONG *state, KEVENT *idle)
{
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    KS_ASSERT(*state != KS_ASYNC_IDLE);
    *state = KS_ASYNC_IDLE;
    KeSetEvent(idle, IO_NO_INCREMENT, FALSE);
    KeReleaseSpinLock(&s->lock, irql);
}

/* ---- receive side ---- */

BOOLEAN ks__ready_rx_busy(ks_sock *s)
{
    return s->ready.rx == KS_ASYNC_BUSY;
}

/* Moves held stream bytes to the start of the buffer (nothing in flight). */
static void compact(ks_sock *s)
{
    KS_ASSERT(s->ready.rx != KS_ASYNC_BUSY);
    if (s->peek_off > 0 && s->peek_len > 0)
        RtlMoveMemory(s->peek_buf, s->peek_buf + s->peek_off, s->peek_len);
    s->peek_off = 0;
}

int ks__ready_rx_arm(ks_sock *s)
{
    struct ks_ready *r = &s->ready;
    enum ks_rx_kind kind;
    int state;
    ULONG room = KS_READY_BUF;

    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL);
    KS_ASSERT(ks__lock_held_by_me(&s->rx_lock));
    if (s->type == SOCK_DGRAM) {
        kind = KS_RX_RECVFROM;
        state = KS_SS_DATAGRAM;
    } else if (s->state == KS_SS_LISTENING) {
        kind = KS_RX_ACCEPT;
        state = KS_SS_LISTENING;
    } else {
        kind = KS_RX_READ;
        state = KS_SS_CONNECTED;
    }
    if (r->rx != KS_ASYNC_IDLE)
        return 0;
    if ((kind == KS_RX_READ && (r->rx_eof || r->rx_err != 0)) ||
        (kind == KS_RX_ACCEPT && r->acc_queued) || (kind == KS_RX_RECVFROM && r->dg_held))
        return 0; /* something is held already */
    if (kind != KS_RX_ACCEPT && s->peek_buf == NULL) {
        s->peek_buf = (UCHAR *)ks__alloc(KS_READY_BUF, KS_TAG_BUFFER);
        if (s->peek_buf == NULL)
            return -ENOMEM;
    }
    if (kind == KS_RX_READ) {
        compact(s);
        room = KS_READY_BUF - s->peek_len;
        if (room == 0)
            return 0; /* full: readable anyway */
    }
    if (kind == KS_RX_ACCEPT && r->acc == NULL) {
        int err;
        r->acc = ks__sock_new(s->family, SOCK_STREAM, s->protocol, &err);
        if (r->acc == NULL)
            return err;
    }
    if (!NT_SUCCESS(ks__op_prepare(&s->rx)))
        return -ENOMEM;
    PWSK_SOCKET wsk;
    int err = ks__call_enter(s, state, kind == KS_RX_READ ? -ENOTCONN : -EINVAL, &wsk);
    if (err != 0)
        return err;
    ks__sock_get(s); /* the request's reference, dropped when it is reaped */
    r->rx_kind = (UCHAR)kind;
    set_busy(s, &r->rx, &r->rx_idle);
    ks__op_set_callback(&s->rx, rx_done, s);
    PIRP irp = ks__op_begin(&s->rx);
    /* The WSK_BUF lives in the socket: a provider may read it after the call
     * returned (Wine's reads it on its worker thread). */
    WSK_BUF *wbuf = &r->rx_wbuf;
    NTSTATUS status;
    if (kind == KS_RX_ACCEPT) {
        RtlZeroMemory(&r->acc_remote, sizeof(r->acc_remote));
        status = ks__wsk_accept(wsk, 0, r->acc, ks__sock_connection_dispatch(),
                                (PSOCKADDR)&r->acc_remote, irp);
    } else if (kind == KS_RX_RECVFROM) {
        RtlZeroMemory(&r->dg_from, sizeof(r->dg_from));
        r->dg_flags = 0;
        r->dg_control_len = 0;
        status = ks__op_lock_buffer(&s->rx, s->peek_buf, KS_READY_BUF, IoWriteAccess, wbuf);
        if (NT_SUCCESS(status))
            status = ks__wsk_receive_from(wsk, wbuf, 0, (PSOCKADDR)&r->dg_from, &r->dg_control_len,
                                          &r->dg_flags, irp);
    } else {
        status = ks__op_lock_buffer(&s->rx, s->peek_buf + s->peek_len, room, IoWriteAccess, wbuf);
        if (NT_SUCCESS(status))
            status = ks__wsk_receive(wsk, wbuf, 0, irp);
    }
    ks__call_leave(s);
    status = ks__op_async_issued(&s->rx, status);
    if (status != STATUS_PENDING) {
        set_idle(s, &r->rx, &r->rx_idle);
        ks__sock_put(s);
        return ks__sock_error(s, status);
    }
    return 0;
}

BOOLEAN ks__ready_rx_reap(ks_sock *s)
{
    struct ks_ready *r = &s->ready;
    KIRQL irql;

    KS_ASSERT(ks__lock_held_by_me(&s->rx_lock));
    KeAcquireSpinLock(&s->lock, &irql);
    if (r->rx != KS_ASYNC_DONE) {
        KeReleaseSpinLock(&s->lock, irql);
        return FALSE;
    }
    NTSTATUS status = r->rx_status;
    ULONG_PTR info = r->rx_info;
    KeReleaseSpinLock(&s->lock, irql);

    ks__op_reap(&s->rx, NULL);
    int err = NT_SUCCESS(status) ? 0 : ks__sock_error(s, status);
    /* A request cancelled (by a close) is no error of the connection. */
    BOOLEAN report = err != 0 && status != STATUS_CANCELLED && !s->closing;
    KeAcquireSpinLock(&s->lock, &irql);
    if (r->rx_kind == KS_RX_READ) {
        if (err == 0 && info > 0)
            s->peek_len += (ULONG)info;
        else if (err == 0)
            r->rx_eof = TRUE;
        else if (report)
            r->rx_err = err;
    } else if (r->rx_kind == KS_RX_ACCEPT) {
        if (err == 0 && info != 0) {
            r->acc->wsk = (PWSK_SOCKET)info;
            r->acc_queued = TRUE;
        } else if (report || (err == 0 && !s->closing)) {
            r->rx_once_err = err != 0 ? err : -ECONNABORTED;
        }
    } else {
        if (err == 0) {
            r->dg_held = TRUE;
            r->dg_len = (ULONG)info;
        } else if (report) {
            r->rx_once_err = err;
        }
    }
    r->rx = KS_ASYNC_IDLE;
    KeReleaseSpinLock(&s->lock, irql);
    ks__sock_put(s); /* the request's; the caller holds its own */
    return TRUE;
}

/* Waits until the direction's request completed; -EBADF once the socket
 * is closing. One object: a close ends the request anyway (it cancels it,
 * and WskCloseSocket completes whatever the provider kept), and a wait on
 * two objects costs twice the system calls under Wine. */
static int wait_idle(ks_sock *s, KEVENT *idle, const ks_deadline *d)
{
    LARGE_INTEGER t;
    NTSTATUS st =
        KeWaitForSingleObject(idle, Executive, KernelMode, FALSE, ks__deadline_left(d, &t));
    if (s->closing)
        return -EBADF;
    return st == STATUS_TIMEOUT ? -ETIMEDOUT : 0;
}

int ks__ready_rx_wait(ks_sock *s, const ks_deadline *d)
{
    KS_ASSERT(ks__lock_held_by_me(&s->rx_lock));
    return wait_idle(s, &s->ready.rx_idle, d);
}

BOOLEAN ks__ready_take_accepted(ks_sock *s, ks_sock **n, ks_addr *remote)
{
    struct ks_ready *r = &s->ready;
    KS_ASSERT(ks__lock_held_by_me(&s->rx_lock));
    if (!r->acc_queued)
        return FALSE;
    *n = r->acc;
    *remote = r->acc_remote;
    r->acc = NULL;
    r->acc_queued = FALSE;
    return TRUE;
}

int ks__ready_take_error(ks_sock *s)
{
    KS_ASSERT(ks__lock_held_by_me(&s->rx_lock));
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    int err = s->ready.rx_once_err;
    s->ready.rx_once_err = 0;
    KeReleaseSpinLock(&s->lock, irql);
    return err;
}

int ks__ready_rx_next(ks_sock *s, BOOLEAN nonblocking, const ks_deadline *d)
{
    KS_ASSERT(ks__lock_held_by_me(&s->rx_lock));
    int err = ks__ready_take_error(s);
    if (err != 0)
        return err;
    LONG st = s->ready.rx;
    if (st == KS_ASYNC_DONE)
        return KS_RX_RETRY;
    if (st == KS_ASYNC_BUSY) {
        if (nonblocking)
            return -EWOULDBLOCK;
        err = ks__ready_rx_wait(s, d);
        return err != 0 ? err : KS_RX_RETRY;
    }
    if (!nonblocking && !d->bounded)
        return KS_RX_DIRECT;
    err = ks__ready_rx_arm(s);
    if (err != 0)
        return err;
    return nonblocking && s->ready.rx == KS_ASYNC_BUSY ? -EWOULDBLOCK : KS_RX_RETRY;
}

/* ---- send side ---- */

int ks__ready_tx_settle(ks_sock *s, BOOLEAN nonblocking, const ks_deadline *d)
{
    struct ks_ready *r = &s->ready;
    KS_ASSERT(ks__lock_held_by_me(&s->tx_lock));
    for (;;) {
        KIRQL irql;
        KeAcquireSpinLock(&s->lock, &irql);
        LONG st = r->tx;
        NTSTATUS status = r->tx_status;
        ULONG_PTR info = r->tx_info;
        KeReleaseSpinLock(&s->lock, irql);
        if (st == KS_ASYNC_IDLE)
            return 0;
        if (st == KS_ASYNC_DONE) {
            ks__op_reap(&s->tx, NULL);
            set_idle(s, &r->tx, &r->tx_idle);
            ks__sock_put(s); /* the request's */
            if (r->tx_kind == KS_TX_SEND && (!NT_SUCCESS(status) || info < r->tx_len)) {
                /* Bytes taken by an earlier call were lost: report it now
                 * (rather than through SO_ERROR too); the stream is broken. */
                int err = NT_SUCCESS(status) ? -ECONNRESET : ks__sock_error(s, status);
                InterlockedCompareExchange(&s->so_error, 0, err);
                KeAcquireSpinLock(&s->lock, &irql);
                s->send_broken = TRUE;
                KeReleaseSpinLock(&s->lock, irql);
                return err;
            }
            continue;
        }
        if (nonblocking)
            return -EWOULDBLOCK;
        int err = wait_idle(s, &r->tx_idle, d);
        if (err != 0)
            return err;
    }
}

/* Issues the send-side request; the WSK call is made by issue(). */
static int tx_start(ks_sock *s, enum ks_tx_kind kind, int state, int not_state_err,
                    NTSTATUS (*issue)(ks_sock *s, PWSK_SOCKET wsk, PIRP irp), BOOLEAN *pended)
{
    struct ks_ready *r = &s->ready;
    KS_ASSERT(ks__lock_held_by_me(&s->tx_lock) && r->tx == KS_ASYNC_IDLE); /* settled */
    if (!NT_SUCCESS(ks__op_prepare(&s->tx)))
        return -ENOMEM;
    PWSK_SOCKET wsk;
    int err = ks__call_enter(s, state, not_state_err, &wsk);
    if (err != 0)
        return err;
    ks__sock_get(s); /* the request's reference, dropped when it is reaped */
    r->tx_kind = (UCHAR)kind;
    set_busy(s, &r->tx, &r->tx_idle);
    ks__op_set_callback(&s->tx, tx_done, s);
    NTSTATUS status = issue(s, wsk, ks__op_begin(&s->tx));
    ks__call_leave(s);
    *pended = status == STATUS_PENDING;
    status = ks__op_async_issued(&s->tx, status);
    if (status != STATUS_PENDING) {
        set_idle(s, &r->tx, &r->tx_idle);
        ks__sock_put(s);
        return ks__sock_error(s, status);
    }
    return 0;
}

static NTSTATUS issue_send(ks_sock *s, PWSK_SOCKET wsk, PIRP irp)
{
    WSK_BUF *wbuf = &s->ready.tx_wbuf; /* in the socket, as rx_wbuf */
    NTSTATUS status =
        ks__op_lock_buffer(&s->tx, s->ready.tx_buf, s->ready.tx_len, IoReadAccess, wbuf);
    return NT_SUCCESS(status) ? ks__wsk_send(wsk, wbuf, 0, irp) : status;
}

static NTSTATUS issue_connect(ks_sock *s, PWSK_SOCKET wsk, PIRP irp)
{
    return ks__wsk_connect(wsk, (const SOCKADDR *)&s->ready.conn_to, 0, irp);
}

ks_ssize_t ks__ready_send(ks_sock *s, const void *buf, size_t len)
{
    struct ks_ready *r = &s->ready;
    ULONG n = len > KS_READY_SEND_MAX ? KS_READY_SEND_MAX : (ULONG)len;
    KS_ASSERT(ks__lock_held_by_me(&s->tx_lock) && r->tx == KS_ASYNC_IDLE); /* settled */
    if (r->tx_buf == NULL) {
        r->tx_buf = (UCHAR *)ks__alloc(KS_READY_SEND_MAX, KS_TAG_BUFFER);
        if (r->tx_buf == NULL)
            return -ENOMEM;
    }
    RtlCopyMemory(r->tx_buf, buf, n);
    r->tx_len = n;
    BOOLEAN pended;
    int err = tx_start(s, KS_TX_SEND, KS_SS_CONNECTED, -ENOTCONN, issue_send, &pended);
    if (err != 0)
        return err;
    if (r->tx == KS_ASYNC_DONE) {
        /* Completed at once (usual under Wine): a failure is reported now,
         * and the bytes count as not taken. */
        err = ks__ready_tx_settle(s, TRUE, NULL);
        if (err != 0)
            return err;
    }
    return (ks_ssize_t)n;
}

int ks__ready_connect(ks_sock *s, const ks_addr *to)
{
    struct ks_ready *r = &s->ready;
    BOOLEAN pended = FALSE;
    KS_ASSERT(ks__lock_held_by_me(&s->ctl_lock));
    int err = ks__sock_lock(s, &s->tx_lock);
    if (err != 0)
        return err;
    err = ks__ready_tx_settle(s, FALSE, NULL);
    if (err == 0) {
        r->conn_to = *to;
        r->conn_failed = FALSE;
        err = tx_start(s, KS_TX_CONNECT, KS_SS_BOUND, -EISCONN, issue_connect, &pended);
    }
    if (err == 0) {
        /* A pending connect is in progress for the caller even if it has
         * completed meanwhile (the poll reports it): only a provider that
         * finished it inside the call gives the result at once. */
        err = -EINPROGRESS;
        KIRQL irql;
        KeAcquireSpinLock(&s->lock, &irql);
        BOOLEAN done = r->tx == KS_ASYNC_DONE;
        NTSTATUS status = r->tx_status;
        KeReleaseSpinLock(&s->lock, irql);
        if (done && !pended) {
            /* Completed inside the call: the caller gets the result now. */
            ks__ready_tx_settle(s, TRUE, NULL);
            if (NT_SUCCESS(status)) {
                err = 0;
            } else {
                err = ks__sock_error(s, status);
                InterlockedCompareExchange(&s->so_error, 0, err);
            }
        }
    }
    ks__sock_unlock(&s->tx_lock);
    return err;
}

BOOLEAN ks__ready_connecting(ks_sock *s)
{
    return s->ready.tx == KS_ASYNC_BUSY && s->ready.tx_kind == KS_TX_CONNECT;
}

/* ---- close ---- */

static void ready_close_begin(ks_sock *s, const ks_deadline *d)
{
    struct ks_ready *r = &s->ready;
    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL);
    KS_ASSERT(s->closing && d != NULL && d->bounded);
    ks__ready_wake(s); /* pollers report POLLNVAL */
    /* Bytes a non-blocking send took are the caller's data: an orderly
     * close delivers them, so let their request finish (bounded as the
     * orderly disconnect is) unless the close is abortive anyway. */
    if (r->tx == KS_ASYNC_BUSY && r->tx_kind == KS_TX_SEND && !s->send_broken &&
        !(s->linger_on && s->linger_secs == 0)) {
        LARGE_INTEGER t;
        KeWaitForSingleObject(&r->tx_idle, Executive, KernelMode, FALSE, ks__deadline_left(d, &t));
    }
}

static void ready_close_end(ks_sock *s)
{
    struct ks_ready *r = &s->ready;
    /* Every request was cancelled and WskCloseSocket has returned: they
     * complete now, if they have not already. Only a direction with a
     * request in flight is waited for (none can start now: the calls were
     * drained and ks__call_enter refuses a closing socket; the callback sets
     * the state and the event under s->lock): a wait costs system calls
     * under Wine even on a signalled event. */
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    BOOLEAN rx_busy = r->rx == KS_ASYNC_BUSY;
    BOOLEAN tx_busy = r->tx == KS_ASYNC_BUSY;
    KeReleaseSpinLock(&s->lock, irql);
    if (rx_busy)
        KeWaitForSingleObject(&r->rx_idle, Executive, KernelMode, FALSE, NULL);
    if (tx_busy)
        KeWaitForSingleObject(&r->tx_idle, Executive, KernelMode, FALSE, NULL);
    KS_ASSERT(s->closing && r->rx != KS_ASYNC_BUSY && r->tx != KS_ASYNC_BUSY);
    /* Threads holding a direction lock are returning (woken by the close):
     * the reaps below run after them. */
    ks__lock_acquire(&s->rx_lock);
    ks__ready_rx_reap(s);
    if (r->acc != NULL) {
        if (r->acc_queued) {
            /* A connection nobody took: never published, so its locks
             * nest in the listener's (design.md, "Lock order"). */
            KS_LOCK_NEST_BEGIN(&s->rx_lock);
            ks__sock_close(r->acc);
            KS_LOCK_NEST_END(&s->rx_lock);
        }
        ks__sock_put(r->acc);
        r->acc = NULL;
        r->acc_queued = FALSE;
    }
    ks__sock_unlock(&s->rx_lock);
    ks__lock_acquire(&s->tx_lock);
    ks__ready_tx_settle(s, TRUE, NULL);
    ks__sock_unlock(&s->tx_lock);
}

static const struct ks_sock_layer ready_layer = {
    ready_init, NULL, ready_close_begin, NULL, ready_close_end, ready_free, NULL, NULL,
};

void ks__ready_register(void)
{
    ks__sock_register_layer(KS_LAYER_READY, &ready_layer);
}

/* ---- polling ---- */

/* TRUE if a receive-side call would not wait (s->lock held). */
static BOOLEAN readable_locked(const ks_sock *s)
{
    const struct ks_ready *r = &s->ready;
    if (r->rx == KS_ASYNC_DONE || r->rx_once_err != 0)
        return TRUE;
    switch (s->state) {
    case KS_SS_LISTENING:
        return r->acc_queued;
    case KS_SS_CONNECTED:
        return s->peek_len > 0 || r->rx_eof || r->rx_err != 0 || s->shut_rd;
    case KS_SS_DATAGRAM:
        return r->dg_held;
    default:
        return FALSE;
    }
}

/* Tries to put a receive-side request in flight for a poller. */
static void poll_arm(ks_sock *s)
{
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    BOOLEAN wanted =
        !readable_locked(s) && s->ready.rx == KS_ASYNC_IDLE && !s->closing &&
        (s->state == KS_SS_LISTENING || s->state == KS_SS_CONNECTED || s->state == KS_SS_DATAGRAM);
    KeReleaseSpinLock(&s->lock, irql);
    if (!wanted)
        return;
    /* Never wait for the lock: its holder is a receiver, which wakes the
     * pollers when it returns. */
    if (!ks__lock_try_acquire(&s->rx_lock))
        return;
    ks__ready_rx_reap(s);
    KeAcquireSpinLock(&s->lock, &irql);
    wanted = !readable_locked(s);
    KeReleaseSpinLock(&s->lock, irql);
    int err = wanted ? ks__ready_rx_arm(s) : 0;
    if (err != 0 && err != -EBADF) {
        /* Nothing can complete now: report the socket readable, so that the
         * caller's next call returns the error instead of a poll that waits
         * for ever. */
        KeAcquireSpinLock(&s->lock, &irql);
        if (s->ready.rx_once_err == 0)
            s->ready.rx_once_err = err;
        KeReleaseSpinLock(&s->lock, irql);
    }
    ks__sock_unlock(&s->rx_lock);
}

short ks__ready_poll(ks_sock *s, short events)
{
    const struct ks_ready *r = &s->ready;
    int rev = 0;
    KIRQL irql;

    if (events & POLLIN)
        poll_arm(s);
    KeAcquireSpinLock(&s->lock, &irql);
    if (s->closing) {
        KeReleaseSpinLock(&s->lock, irql);
        return POLLNVAL;
    }
    if (readable_locked(s))
        rev |= POLLRDNORM;
    switch (s->state) {
    case KS_SS_CONNECTED:
        if (r->rx_eof || (r->rx == KS_ASYNC_DONE && r->rx_kind == KS_RX_READ &&
                          NT_SUCCESS(r->rx_status) && r->rx_info == 0))
            rev |= POLLHUP; /* end of stream, reaped or not */
        if (r->rx_err != 0 || (r->rx == KS_ASYNC_DONE && r->rx_kind == KS_RX_READ &&
                               !NT_SUCCESS(r->rx_status) && r->rx_status != STATUS_CANCELLED))
            rev |= POLLHUP | POLLERR; /* reset */
        if (r->tx != KS_ASYNC_BUSY && !s->shut_wr)
            rev |= POLLWRNORM;
        break;
    case KS_SS_DATAGRAM:
        rev |= POLLWRNORM;
        break;
    case KS_SS_NEW:
    case KS_SS_BOUND:
        if (s->type == SOCK_DGRAM)
            rev |= POLLWRNORM; /* ks_sendto binds it */
        else if (r->conn_failed)
            rev |= POLLWRNORM | POLLHUP;
        break;
    default:
        break;
    }
    if (s->so_error != 0)
        rev |= POLLERR;
    KeReleaseSpinLock(&s->lock, irql);
    return (short)(rev & (events | POLLERR | POLLHUP | POLLNVAL));
}

ULONG ks__ready_nread(ks_sock *s)
{
    if (ks__lock_try_acquire(&s->rx_lock)) {
        ks__ready_rx_reap(s);
        KIRQL irql;
        KeAcquireSpinLock(&s->lock, &irql);
        /* A stream reads ahead while its buffer has room, so that the
         * count grows with what arrived; a datagram socket holds one. */
        BOOLEAN arm = !s->closing && s->ready.rx == KS_ASYNC_IDLE &&
                      ((s->state == KS_SS_CONNECTED && s->peek_len < KS_READY_BUF) ||
                       (s->state == KS_SS_DATAGRAM && !s->ready.dg_held));
        KeReleaseSpinLock(&s->lock, irql);
        if (arm && ks__ready_rx_arm(s) == 0)
            ks__ready_rx_reap(s); /* completed at once if data was there */
        ks__sock_unlock(&s->rx_lock);
    }
    if (s->type == SOCK_DGRAM)
        return s->ready.dg_held ? s->ready.dg_len : 0;
    return s->state == KS_SS_CONNECTED ? s->peek_len : 0;
}
