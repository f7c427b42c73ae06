/*
 * ks_stream.c - ks_bind, ks_listen, ks_accept, ks_connect.
 *
 * WSK fixes a socket's category (listening, connection, datagram) when it is
 * created, while BSD code decides between listening and connecting later. A
 * stream socket therefore has no WSK socket until it needs one:
 *  - ks_bind creates a WSK connection socket and binds it, so that binding
 *    errors (address in use, not available) are reported by ks_bind itself;
 *  - ks_connect uses that socket (or creates one bound to the wildcard
 *    address of the socket's own family) and connects it;
 *  - ks_listen closes it and binds a WSK listening socket to the same
 *    address (a WSK listening socket listens as soon as it is bound).
 */
#include "ks_stream.h"
#include "ks_address.h"
#include "ks_ready.h"
#include "ks_descriptor.h"
#include "ks_fdtable.h"
#include "ks_options.h"
#include "ks_wsk.h"

static void set_state(ks_sock *s, enum ks_sock_state state)
{
    KS_ASSERT(state >= KS_SS_NEW && state <= KS_SS_DATAGRAM);
    KS_ASSERT(ks__lock_held_by_me(&s->ctl_lock)); /* creation, bind, listen, connect */
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    s->state = state;
    KeReleaseSpinLock(&s->lock, irql);
}

int ks_bind(int fd, const struct sockaddr *addr, int addrlen)
{
    ks_sock *s;
    int err = ks__fd_enter(fd, &s);
    if (err != 0)
        return err;
    err = ks__check_addr(s, addr, addrlen);
    if (err == 0)
        err = ks__sock_lock(s, &s->ctl_lock);
    if (err != 0) {
        ks__sock_put(s);
        return err;
    }
    if (s->state != KS_SS_NEW) {
        err = -EINVAL;
    } else {
        ks_addr local;
        RtlZeroMemory(&local, sizeof(local));
        RtlCopyMemory(&local, addr, (SIZE_T)ks__sockaddr_len(s->family));
        ULONG kind = s->type == SOCK_STREAM ? WSK_FLAG_CONNECTION_SOCKET : WSK_FLAG_DATAGRAM_SOCKET;
        NTSTATUS status = ks__sock_create_bound(s, kind, &local);
        if (NT_SUCCESS(status)) {
            s->local = local;
            set_state(s, s->type == SOCK_STREAM ? KS_SS_BOUND : KS_SS_DATAGRAM);
        } else {
            err = ks__sock_error(s, status);
        }
    }
    ks__sock_unlock(&s->ctl_lock);
    ks__sock_put(s);
    return err;
}

/*
 * The address a listening socket takes over (ctl lock held): the bound one,
 * or the wildcard. A socket bound to port 0 keeps the port the provider
 * chose; a provider without WskGetLocalAddress (Wine's) gets port 0 again,
 * any other failure fails the listen (the port would silently change). The
 * bound connection socket is closed on success.
 */
static int listen_address(ks_sock *s, ks_addr *local)
{
    KS_ASSERT(ks__lock_held_by_me(&s->ctl_lock));
    if (s->state != KS_SS_BOUND) {
        ks__wildcard_addr(s->family, local);
        return 0;
    }
    *local = s->local;
    if (((SOCKADDR_IN *)local)->sin_port == 0) {
        ks_addr actual;
        NTSTATUS st = ks__sock_wsk_get_address(s, FALSE, &actual);
        if (NT_SUCCESS(st))
            *local = actual;
        else if (st != STATUS_NOT_IMPLEMENTED && st != STATUS_NOT_SUPPORTED)
            return ks__sock_error(s, st);
    }
    ks__sock_wsk_close(s); /* the bound connection socket gives way */
    return 0;
}

int ks_listen(int fd, int backlog)
{
    UNREFERENCED_PARAMETER(backlog);
    ks_sock *s;
    int err = ks__fd_enter(fd, &s);
    if (err != 0)
        return err;
    if (s->type != SOCK_STREAM) {
        ks__sock_put(s);
        return -EOPNOTSUPP;
    }
    err = ks__sock_lock(s, &s->ctl_lock);
    if (err != 0) {
        ks__sock_put(s);
        return err;
    }
    if (s->state == KS_SS_CONNECTED) {
        err = -EISCONN;
    } else if (ks__ready_connecting(s)) {
        err = -EALREADY; /* a non-blocking connect is in progress */
    } else if (s->state != KS_SS_LISTENING) {
        ks_addr local;
        err = listen_address(s, &local);
        if (err == 0) {
            NTSTATUS status = ks__sock_create_bound(s, WSK_FLAG_LISTEN_SOCKET, &local);
            if (NT_SUCCESS(status)) {
                s->local = local;
                set_state(s, KS_SS_LISTENING);
            } else {
                set_state(s, KS_SS_NEW);
                err = ks__sock_error(s, status);
            }
        }
    }
    ks__sock_unlock(&s->ctl_lock);
    ks__sock_put(s);
    return err;
}

/*
 * Puts the listener's next WskAccept in flight (the readiness engine's) as
 * soon as one handed over a connection, so that outside ks_accept the
 * listener's latest WskAccept is always still pending (or holds the next
 * connection). Wine 8's netio.sys needs it: its WskAccept creates the host
 * socket of the connection in the listener's context ("acceptor"), hands it
 * to the accepted WSK socket but keeps it there, and WskCloseSocket of the
 * listener closes it. Without an accept pending, closing the listener thus
 * closed the last accepted connection's host socket (its next receive
 * failed with STATUS_OBJECT_TYPE_MISMATCH, -EIO), or, once that connection
 * was closed, whatever socket had been given the same handle number since.
 * A pending accept's acceptor is a fresh socket, which that close cancels
 * and closes instead. On other providers an accept in flight is what a
 * listener usually has; its connection goes to the next ks_accept (or is
 * closed with the listener, as a backlog is). Best effort: a failure (no
 * memory) is left to the next ks_accept. rx lock held.
 */
static void keep_accept_pending(ks_sock *l)
{
    KS_ASSERT(ks__lock_held_by_me(&l->rx_lock));
    if (l->state == KS_SS_LISTENING)
        (void)ks__ready_rx_arm(l);
}

/* Gives an accepted connection (n->wsk set) its descriptor; consumes the
 * caller's reference to n. Returns the descriptor or a negative errno. */
static int accepted(ks_sock *l, ks_sock *n, const ks_addr *remote, struct sockaddr *addr,
                    int *addrlen)
{
    KS_ASSERT(n->wsk != NULL && n->refs > 0);
    keep_accept_pending(l);
    n->wsk_kind = WSK_FLAG_CONNECTION_SOCKET;
    n->state = KS_SS_CONNECTED;
    n->local = l->local;
    n->remote = *remote;
    /* Accepted sockets start blocking (nonblocking is not inherited). */
    int nfd = ks__opts_inherit(n, l);
    if (nfd == 0)
        nfd = ks__fd_insert(n);
    if (nfd < 0) {
        /* n was never published: its locks nest in the listener's rx lock
         * (design.md, "Lock order"). */
        KS_LOCK_NEST_BEGIN(&l->rx_lock);
        ks__sock_close(n);
        KS_LOCK_NEST_END(&l->rx_lock);
    } else {
        ks__copy_out_addr(remote, addr, addrlen);
    }
    ks__sock_put(n); /* the table holds it if it was inserted */
    return nfd;
}

/* Blocking WskAccept (rx lock held, nothing in flight). */
static int accept_direct(ks_sock *l, struct sockaddr *addr, int *addrlen)
{
    KS_ASSERT(ks__lock_held_by_me(&l->rx_lock));
    KS_ASSERT(l->ready.rx == KS_ASYNC_IDLE && !ks__op_busy(&l->rx)); /* nothing in flight */
    /* The new socket exists before the provider hands us the connection, so
     * nothing can fail between accepting and owning it. */
    int err;
    ks_sock *n = ks__sock_new(l->family, SOCK_STREAM, l->protocol, &err);
    if (n == NULL)
        return err;
    PWSK_SOCKET wsk;
    err = NT_SUCCESS(ks__op_prepare(&l->rx)) ? ks__call_enter(l, KS_SS_LISTENING, -EINVAL, &wsk)
                                             : -ENOMEM;
    if (err != 0) {
        ks__sock_put(n);
        return err;
    }
    ks_addr remote;
    RtlZeroMemory(&remote, sizeof(remote));
    PIRP irp = ks__op_begin(&l->rx);
    NTSTATUS status =
        ks__wsk_accept(wsk, 0, n, ks__sock_connection_dispatch(), (PSOCKADDR)&remote, irp);
    ks__call_leave(l);
    ULONG_PTR info;
    status = ks__op_wait(&l->rx, status, NULL, &info);
    if (!NT_SUCCESS(status) || info == 0) {
        ks__sock_put(n);
        return ks__sock_error(l, NT_SUCCESS(status) ? STATUS_CONNECTION_ABORTED : status);
    }
    n->wsk = (PWSK_SOCKET)info;
    return accepted(l, n, &remote, addr, addrlen);
}

/* ks_accept with the rx lock held: a connection the readiness engine
 * queued comes first; an accept it has in flight is waited for (or, non-
 * blocking, reported as -EWOULDBLOCK); else a blocking WskAccept. With
 * SO_RCVTIMEO the accept goes through the engine and is waited for up to
 * the deadline, then left in flight (no cancellation needed). */
static int accept_locked(ks_sock *l, BOOLEAN nonblocking, const ks_deadline *d,
                         struct sockaddr *addr, int *addrlen)
{
    KS_ASSERT(ks__lock_held_by_me(&l->rx_lock));
    for (;;) {
        /* Closed while we waited for the engine's accept (which the close
         * ended): -EBADF, never a new accept (ks_cleanup: -ENETDOWN). */
        if (l->closing)
            return -EBADF;
        if (l->state != KS_SS_LISTENING)
            return -EINVAL;
        ks__ready_rx_reap(l);
        ks_sock *n;
        ks_addr remote;
        if (ks__ready_take_accepted(l, &n, &remote))
            return accepted(l, n, &remote, addr, addrlen);
        int step = ks__ready_rx_next(l, nonblocking, d);
        if (step == KS_RX_DIRECT)
            return accept_direct(l, addr, addrlen);
        if (step != KS_RX_RETRY)
            return step;
    }
}

int ks__accept_mode(int fd, struct sockaddr *addr, int *addrlen, int flags)
{
    if (addr != NULL && addrlen == NULL)
        return ks__can_block() ? -EFAULT : -EPERM;
    if (addrlen != NULL && *addrlen < 0)
        return ks__can_block() ? -EINVAL : -EPERM;
    ks_sock *l;
    int err = ks__fd_enter(fd, &l);
    if (err != 0)
        return err;
    BOOLEAN nonblocking = l->nonblocking || (flags & MSG_DONTWAIT) != 0;
    if (l->ev != NULL && (flags & KS_MSG_EVENTS) == 0)
        err = -EINVAL; /* its connections go to the event handlers */
    else
        err = ks__sock_lock_mode(l, &l->rx_lock, nonblocking);
    if (err == 0) {
        ks_deadline d = ks__deadline_in(nonblocking ? 0 : l->rcvtimeo_ms);
        err = accept_locked(l, nonblocking, &d, addr, addrlen);
        ks__sock_unlock(&l->rx_lock);
        ks__ready_wake(l); /* pollers could not arm while we held the lock */
    }
    ks__sock_put(l);
    return err;
}

int ks_accept(int fd, struct sockaddr *addr, int *addrlen)
{
    return ks__accept_mode(fd, addr, addrlen, 0);
}

int ks__connect_mode(int fd, const struct sockaddr *addr, int addrlen, BOOLEAN force_nonblocking)
{
    ks_sock *s;
    int err = ks__fd_enter(fd, &s);
    if (err != 0)
        return err;
    err = ks__check_addr(s, addr, addrlen);
    if (err == 0 && s->type != SOCK_STREAM)
        err = -EOPNOTSUPP;
    if (err == 0)
        err = ks__sock_lock(s, &s->ctl_lock);
    if (err != 0) {
        ks__sock_put(s);
        return err;
    }
    ks_addr remote;
    RtlZeroMemory(&remote, sizeof(remote));
    RtlCopyMemory(&remote, addr, (SIZE_T)ks__sockaddr_len(s->family));
    NTSTATUS status = STATUS_SUCCESS;
    BOOLEAN nonblocking = s->nonblocking || force_nonblocking;
    if (s->state == KS_SS_CONNECTED || s->state == KS_SS_LISTENING) {
        err = -EISCONN;
    } else if (ks__ready_connecting(s)) {
        err = -EALREADY; /* a non-blocking connect is in progress */
    } else {
        if (s->state == KS_SS_NEW) {
            /* Implicit bind, to the wildcard address of the socket's family. */
            ks_addr any;
            ks__wildcard_addr(s->family, &any);
            status = ks__sock_create_bound(s, WSK_FLAG_CONNECTION_SOCKET, &any);
            if (NT_SUCCESS(status)) {
                s->local = any;
                set_state(s, KS_SS_BOUND);
            }
        }
        if (NT_SUCCESS(status) && nonblocking) {
            /* In the background: the completion sets the state, or
             * SO_ERROR; ks_poll reports POLLOUT. */
            err = ks__ready_connect(s, &remote);
        } else if (NT_SUCCESS(status)) {
            PWSK_SOCKET wsk;
            int enter_err =
                NT_SUCCESS(ks__op_prepare(&s->ctl)) ? ks__call_enter(s, -1, 0, &wsk) : -ENOMEM;
            if (enter_err != 0) {
                status = ks__errno_status(enter_err); /* ks__sock_error below gives it back */
            } else {
                PIRP irp = ks__op_begin(&s->ctl);
                status = ks__wsk_connect(wsk, (const SOCKADDR *)&remote, 0, irp);
                ks__call_leave(s);
                status = ks__op_wait(&s->ctl, status, NULL, NULL);
            }
            ks__op_drop(&s->ctl);
        }
        if (!NT_SUCCESS(status)) {
            err = ks__sock_error(s, status);
        } else if (!nonblocking) {
            s->remote = remote; /* before the state: ks_getpeername reads it then */
            set_state(s, KS_SS_CONNECTED);
        }
    }
    ks__sock_unlock(&s->ctl_lock);
    ks__sock_put(s);
    return err;
}

int ks_connect(int fd, const struct sockaddr *addr, int addrlen)
{
    return ks__connect_mode(fd, addr, addrlen, FALSE);
}
