/*
 * connection.c - connection-oriented sockets: WskConnect, WskSocketConnect,
 * WskSend, WskReceive, WskDisconnect, and the calls this provider does not
 * offer (WskConnectEx, WskSendEx, WskReceiveEx). WskRelease and the event
 * callbacks are in events.c.
 *
 * Every request runs as a step under the socket lock (request.c): now when
 * its queue is empty, later on the I/O thread when the socket is ready.
 */
#include "wp.h"

/* State checks shared by the data calls (socket lock held). */
static NTSTATUS data_state(const struct wp_sock *s)
{
    if (s->state & WP_ABORTED)
        return STATUS_CONNECTION_ABORTED;
    if (s->conn_error != STATUS_SUCCESS)
        return s->conn_error;
    if (s->fd < 0 || !(s->state & WP_CONNECTED))
        return STATUS_INVALID_DEVICE_STATE;
    return STATUS_SUCCESS;
}

static int finished(struct wp_req *r, NTSTATUS status, ULONG_PTR info)
{
    r->status = status;
    r->info = info;
    return 1;
}

/* ---- WskConnect / WskSocketConnect ---- */

static int connect_step(struct wp_req *r)
{
    struct wp_sock *s = r->sock;
    if (s->fd < 0)
        return finished(r, STATUS_INVALID_DEVICE_STATE, 0);
    int e = r->started ? pn_connect_result(s->fd) : pn_connect(s->fd, &r->addr);
    r->started = TRUE;
    if (e == PN_EINPROGRESS || e == PN_EAGAIN)
        return 0;
    s->state &= ~(ULONG)WP_CONNECTING;
    r->connecting = FALSE;
    if (e != 0) {
        s->state |= WP_FAILED;
        return finished(r, wp_status(e), 0);
    }
    s->state |= WP_CONNECTED;
    s->remote = r->addr;
    return finished(r, STATUS_SUCCESS, 0);
}

/* Windows refuses to connect to the wildcard address or to port 0
 * (WSAEADDRNOTAVAIL), where Linux would connect to itself. */
static BOOLEAN connectable(const struct pn_addr *a)
{
    if (a->port == 0)
        return FALSE;
    for (int i = 0; i < (a->family == 4 ? 4 : 16); i++)
        if (a->addr[i] != 0)
            return TRUE;
    return FALSE;
}

/*
 * "WskConnect": the socket must have been bound with WskBind first ("Before
 * calling WskConnect, a WSK application must call WskBind"); Flags is
 * reserved. Completes when the connection is established or has failed;
 * a connect always pends and completes on a provider thread.
 */
NTSTATUS WSKAPI wp_WskConnect(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, ULONG Flags, PIRP Irp)
{
    struct wp_sock *s = wp_sock_enter_irp(Socket, Irp, "WskConnect");
    struct pn_addr a;
    NTSTATUS status;
    if (kshim_fault("wsk.connect"))
        return wp_sock_finish(s, Irp, STATUS_CONNECTION_REFUSED, 0);
    if (Flags != 0)
        return wp_sock_finish(s, Irp, STATUS_INVALID_PARAMETER, 0);
    status = wp_addr_in(RemoteAddress, s->family, &a);
    if (!NT_SUCCESS(status))
        return wp_sock_finish(s, Irp, status, 0);
    if (!connectable(&a))
        return wp_sock_finish(s, Irp, STATUS_INVALID_ADDRESS_COMPONENT, 0);
    pn_mutex_lock(&s->lock);
    if (s->state & (WP_CONNECTED | WP_CONNECTING))
        status = STATUS_CONNECTION_ACTIVE; /* WSAEISCONN / WSAEALREADY */
    else if (s->fd < 0 || !(s->state & WP_BOUND))
        status = STATUS_INVALID_DEVICE_STATE;
    else
        s->state = (s->state & ~(ULONG)WP_FAILED) | WP_CONNECTING;
    pn_mutex_unlock(&s->lock);
    if (!NT_SUCCESS(status))
        return wp_sock_finish(s, Irp, status, 0);
    struct wp_req *r = wp_req_new(s, Irp, TRUE, connect_step);
    if (r == NULL) {
        pn_mutex_lock(&s->lock);
        s->state &= ~(ULONG)WP_CONNECTING;
        pn_mutex_unlock(&s->lock);
        return wp_sock_finish(s, Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    }
    r->addr = a;
    r->connecting = TRUE;
    r->force_async = TRUE;
    return wp_req_submit(r);
}

/* WskSocketConnect's end: the new socket for the client, or none. */
static void socket_connect_finish(struct wp_req *r)
{
    if (NT_SUCCESS(r->status))
        r->info = (ULONG_PTR)&r->sock->wsk;
    else
        wp_sock_destroy(r->sock);
    wp_reg_leave(r->reg);
}

/* "WskSocketConnect": creates a connection socket, binds it to
 * LocalAddress and connects it to RemoteAddress; Information receives the
 * PWSK_SOCKET. On failure no socket remains. */
NTSTATUS WSKAPI wp_WskSocketConnect(PWSK_CLIENT Client, USHORT SocketType, ULONG Protocol,
                                    PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress, ULONG Flags,
                                    PVOID SocketContext,
                                    CONST WSK_CLIENT_CONNECTION_DISPATCH *Dispatch,
                                    PEPROCESS OwningProcess, PETHREAD OwningThread,
                                    PSECURITY_DESCRIPTOR SecurityDescriptor, PIRP Irp)
{
    UNREFERENCED_PARAMETER(OwningProcess);
    UNREFERENCED_PARAMETER(OwningThread);
    UNREFERENCED_PARAMETER(SecurityDescriptor);
    struct wp_reg *reg = wp_reg_enter(Client, "WskSocketConnect");
    wp_take_irp(Irp, "WskSocketConnect");
    NTSTATUS status = STATUS_SUCCESS;
    struct pn_addr local, remote;
    int family = 0;
    if (kshim_fault("wsk.socket"))
        status = STATUS_INSUFFICIENT_RESOURCES;
    else if (kshim_fault("wsk.connect"))
        status = STATUS_CONNECTION_REFUSED;
    else if (SocketType != SOCK_STREAM || (Protocol != 0 && Protocol != IPPROTO_TCP) ||
             Flags != 0 || LocalAddress == NULL || RemoteAddress == NULL)
        status = STATUS_INVALID_PARAMETER;
    if (NT_SUCCESS(status)) {
        family = LocalAddress->sa_family == AF_INET6 ? 6 : 4;
        status = wp_addr_in(LocalAddress, family, &local);
        if (NT_SUCCESS(status))
            status = wp_addr_in(RemoteAddress, family, &remote);
        if (NT_SUCCESS(status) && !connectable(&remote))
            status = STATUS_INVALID_ADDRESS_COMPONENT;
    }
    struct wp_sock *s = NULL;
    if (NT_SUCCESS(status)) {
        int fd = pn_socket(family, 1);
        if (fd < 0) {
            status = wp_status(fd);
        } else {
            if (family == 6)
                pn_setopt(fd, PN_IPV6_V6ONLY, 1);
            int e = pn_bind(fd, &local);
            if (e != 0) {
                status = wp_status(e);
                pn_close(fd);
            } else {
                s = wp_sock_new(reg, WP_CONNECTION, family, fd);
                if (s == NULL) {
                    pn_close(fd);
                    status = STATUS_INSUFFICIENT_RESOURCES;
                }
            }
        }
    }
    struct wp_req *r = NULL;
    if (s != NULL) {
        s->context = SocketContext;
        s->client_dispatch = Dispatch;
        s->state = WP_BOUND | WP_CONNECTING;
        r = wp_req_new(s, Irp, TRUE, connect_step);
        if (r == NULL) {
            wp_sock_destroy(s);
            status = STATUS_INSUFFICIENT_RESOURCES;
        }
    }
    if (r == NULL) {
        BOOLEAN now = wp_complete(Irp, status, 0, NULL);
        wp_reg_leave(reg);
        return wp_returned(now, status);
    }
    r->addr = remote;
    r->connecting = TRUE;
    r->force_async = TRUE;
    r->counted = FALSE; /* a client-level request: reg->busy counts it */
    r->reg = reg;
    r->finish = socket_connect_finish;
    wp_sock_enter(&s->wsk, "WskSocketConnect"); /* the call wp_req_submit ends */
    return wp_req_submit(r);
}

/* ---- WskSend ---- */

static int send_data(struct wp_req *r)
{
    struct wp_sock *s = r->sock;
    struct pn_iov iov[PN_IOV_MAX];
    while (r->done < r->buf.Length) {
        int n = wp_buf_iov(&r->buf, r->done, iov, PN_IOV_MAX);
        if (n < 0)
            return finished(r, STATUS_INSUFFICIENT_RESOURCES, 0);
        long k = pn_sendv(s->fd, iov, n);
        if (k == PN_EAGAIN)
            return 0;
        if (k < 0) {
            s->conn_error = wp_data_status((int)k);
            /* Information is defined for success only ("WskSend"); an
             * error reports no bytes, as Windows does. */
            return finished(r, s->conn_error, 0);
        }
        r->done += (SIZE_T)k;
    }
    return 1;
}

static int send_step(struct wp_req *r)
{
    struct wp_sock *s = r->sock;
    NTSTATUS status = data_state(s);
    if (NT_SUCCESS(status) && (s->state & WP_TX_SHUT))
        status = STATUS_CONNECTION_DISCONNECTED; /* after a graceful WskDisconnect */
    if (!NT_SUCCESS(status))
        return finished(r, status, 0);
    if (!send_data(r))
        return 0;
    if (r->status != STATUS_SUCCESS)
        return 1;
    if ((r->flags & WSK_FLAG_NODELAY) && !s->opt_nodelay) {
        /* "WSK_FLAG_NODELAY: send the data and any queued data at once":
         * setting TCP_NODELAY pushes what Nagle holds back. */
        pn_setopt(s->fd, PN_TCP_NODELAY, 1);
        pn_setopt(s->fd, PN_TCP_NODELAY, 0);
    }
    return finished(r, STATUS_SUCCESS, r->done);
}

/*
 * "WskSend": completes when the whole WSK_BUF has been handed to the
 * transport ("the WSK subsystem does not complete the call until all of
 * the data has been sent"; here: accepted by the Linux socket buffer).
 * Flags: WSK_FLAG_NODELAY; others STATUS_NOT_SUPPORTED, as documented.
 */
NTSTATUS WSKAPI wp_WskSend(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)
{
    struct wp_sock *s = wp_sock_enter_irp(Socket, Irp, "WskSend");
    if (kshim_fault("wsk.send"))
        return wp_sock_finish(s, Irp, STATUS_CONNECTION_RESET, 0);
    if (Flags & ~(ULONG)WSK_FLAG_NODELAY)
        return wp_sock_finish(s, Irp, STATUS_NOT_SUPPORTED, 0);
    NTSTATUS status = wp_buf_check(Buffer);
    if (!NT_SUCCESS(status))
        return wp_sock_finish(s, Irp, status, 0);
    struct wp_req *r = wp_req_new(s, Irp, TRUE, send_step);
    if (r == NULL)
        return wp_sock_finish(s, Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    r->buf = *Buffer;
    r->flags = Flags;
    return wp_req_submit(r);
}

/* ---- WskReceive ---- */

static int recv_step(struct wp_req *r)
{
    struct wp_sock *s = r->sock;
    NTSTATUS status = data_state(s);
    if (!NT_SUCCESS(status))
        return finished(r, status, 0);
    BOOLEAN empty = r->buf.Length == 0 && !(r->flags & WSK_FLAG_DRAIN);
    /* While WskReceiveEvent has data (it may not accept it all), later
     * data waits: it would overtake the data the client may decline. */
    if ((s->ev_running & WSK_EVENT_RECEIVE) && !empty)
        return 0;
    /* Data an indication left (declined or partly accepted) comes first. */
    if (s->held != NULL && !empty) {
        if (!wp_events_take_held(s, r))
            return finished(r, STATUS_INSUFFICIENT_RESOURCES, 0);
        if (!(r->flags & WSK_FLAG_DRAIN) &&
            (!(r->flags & WSK_FLAG_WAITALL) || r->done == r->buf.Length))
            return finished(r, STATUS_SUCCESS, r->done);
    }
    struct pn_iov iov[PN_IOV_MAX];
    UCHAR scratch[4096];
    for (;;) {
        int n;
        if (r->flags & WSK_FLAG_DRAIN) {
            iov[0].base = scratch;
            iov[0].len = sizeof(scratch);
            n = 1;
        } else {
            if (r->buf.Length == 0)
                return finished(r, STATUS_SUCCESS, 0);
            n = wp_buf_iov(&r->buf, r->done, iov, PN_IOV_MAX);
            if (n < 0)
                return finished(r, STATUS_INSUFFICIENT_RESOURCES, 0);
        }
        long k = pn_recvv(s->fd, iov, n);
        if (k == PN_EAGAIN)
            return 0;
        if (k == 0) {
            /* Graceful disconnect by the peer: a 0-byte (or short) completion. */
            s->state |= WP_RX_EOF;
            return finished(r, STATUS_SUCCESS, r->done);
        }
        if (k < 0) {
            s->conn_error = wp_data_status((int)k);
            /* Data already received is delivered; the error comes next time. */
            if (r->done > 0)
                return finished(r, STATUS_SUCCESS, r->done);
            return finished(r, s->conn_error, 0);
        }
        if (r->flags & WSK_FLAG_DRAIN)
            continue; /* discarded, as documented */
        r->done += (SIZE_T)k;
        if (!(r->flags & WSK_FLAG_WAITALL) || r->done == r->buf.Length)
            return finished(r, STATUS_SUCCESS, r->done);
    }
}

/*
 * "WskReceive": completes with at least one byte, or 0 bytes when the peer
 * disconnected gracefully, or an error. WSK_FLAG_WAITALL waits for the
 * whole buffer (or a disconnect, abort or cancellation: then what was
 * received); WSK_FLAG_DRAIN discards data until the peer disconnects (the
 * buffer length must be 0); the two are mutually exclusive. WSK has no peek
 * flag (Winsock's MSG_PEEK, 2, is WSK_FLAG_WAITALL's value); any other flag
 * is STATUS_NOT_SUPPORTED. With WskReceiveEvent enabled, a WskReceive
 * takes what an indication left first and resumes indications held back
 * ("PFN_WSK_RECEIVE_EVENT"; a zero-length buffer only resumes them).
 */
NTSTATUS WSKAPI wp_WskReceive(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)
{
    struct wp_sock *s = wp_sock_enter_irp(Socket, Irp, "WskReceive");
    if (kshim_fault("wsk.receive"))
        return wp_sock_finish(s, Irp, STATUS_CONNECTION_RESET, 0);
    if (Flags & ~(ULONG)(WSK_FLAG_WAITALL | WSK_FLAG_DRAIN))
        return wp_sock_finish(s, Irp, STATUS_NOT_SUPPORTED, 0);
    if ((Flags & WSK_FLAG_WAITALL) && (Flags & WSK_FLAG_DRAIN))
        return wp_sock_finish(s, Irp, STATUS_INVALID_PARAMETER, 0);
    NTSTATUS status = wp_buf_check(Buffer);
    if (NT_SUCCESS(status) && (Flags & WSK_FLAG_DRAIN) && Buffer->Length != 0)
        status = STATUS_INVALID_PARAMETER;
    if (!NT_SUCCESS(status))
        return wp_sock_finish(s, Irp, status, 0);
    struct wp_req *r = wp_req_new(s, Irp, FALSE, recv_step);
    if (r == NULL)
        return wp_sock_finish(s, Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    r->buf = *Buffer;
    r->flags = Flags;
    pn_mutex_lock(&s->lock);
    BOOLEAN kick = wp_events_receive_called(s);
    pn_mutex_unlock(&s->lock);
    wp_sock_ref(s);
    status = wp_req_submit(r);
    /* Indications resumed, or an end of stream or error this receive found
     * (the I/O thread saw no readiness for it): events may be due. */
    pn_mutex_lock(&s->lock);
    if ((s->ev_enabled & (WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT)) &&
        (((s->state & WP_RX_EOF) && !s->ev_eof_told) ||
         (s->conn_error != STATUS_SUCCESS && !s->ev_error_told && !s->ev_dead_told) ||
         s->held != NULL))
        kick = TRUE;
    pn_mutex_unlock(&s->lock);
    if (kick)
        wp_engine_kick(s);
    wp_sock_unref(s);
    return status;
}

/* ---- WskDisconnect ---- */

static int disconnect_step(struct wp_req *r)
{
    struct wp_sock *s = r->sock;
    NTSTATUS status = data_state(s);
    if (!NT_SUCCESS(status))
        return finished(r, status, 0);
    if (!(s->state & WP_TX_SHUT)) {
        if (!send_data(r))
            return 0;
        if (r->status != STATUS_SUCCESS)
            return 1;
        int e = pn_shutdown(s->fd, 1);
        if (e != 0) {
            s->conn_error = wp_data_status(e);
            return finished(r, s->conn_error, 0);
        }
        s->state |= WP_TX_SHUT;
    }
    /* "WskDisconnect": a graceful disconnect completes only once the
     * transport has completed it: here, once the peer has acknowledged the
     * data and the FIN (a peer that does not read delays it; cancelling
     * the IRP ends the wait). No readiness event reports that, so the I/O
     * thread polls the socket meanwhile. */
    int e = pn_fin_acked(s->fd);
    if (e == 0) {
        wp_engine_poll(s);
        return 0;
    }
    if (e < 0) {
        s->conn_error = wp_data_status(e);
        return finished(r, s->conn_error, 0);
    }
    s->state |= WP_DISCONNECTED;
    return finished(r, STATUS_SUCCESS, r->done);
}

/*
 * "WskDisconnect": graceful by default (the optional final data is sent,
 * then the send side is shut down: the peer receives the data, then end of
 * stream; receiving still works; the IRP completes when the peer has
 * acknowledged it all), abortive with WSK_FLAG_ABORTIVE (the
 * connection is reset at once; pending requests end with
 * STATUS_CONNECTION_ABORTED). Later sends fail.
 */
NTSTATUS WSKAPI wp_WskDisconnect(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp)
{
    struct wp_sock *s = wp_sock_enter_irp(Socket, Irp, "WskDisconnect");
    if (kshim_fault("wsk.disconnect"))
        return wp_sock_finish(s, Irp, STATUS_CONNECTION_RESET, 0);
    if (Flags & ~(ULONG)WSK_FLAG_ABORTIVE)
        return wp_sock_finish(s, Irp, STATUS_INVALID_PARAMETER, 0);
    if (Flags & WSK_FLAG_ABORTIVE) {
        LIST_ENTRY done;
        InitializeListHead(&done);
        NTSTATUS status = STATUS_SUCCESS;
        pn_mutex_lock(&s->lock);
        if (!(s->state & WP_CONNECTED)) {
            status = STATUS_INVALID_DEVICE_STATE;
        } else if (s->fd >= 0) {
            /* Linux sends a reset only when the descriptor is closed with
             * SO_LINGER {1, 0}; the socket object stays until WskCloseSocket. */
            pn_set_linger(s->fd, 1, 0);
            pn_close(s->fd);
            s->fd = -1;
            s->state |= WP_ABORTED;
            wp_req_end_all(s, STATUS_CONNECTION_ABORTED, &done);
        }
        pn_mutex_unlock(&s->lock);
        wp_req_complete_list(&done);
        return wp_sock_finish(s, Irp, status, 0);
    }
    WSK_BUF none = {NULL, 0, 0};
    if (Buffer == NULL)
        Buffer = &none;
    NTSTATUS status = wp_buf_check(Buffer);
    if (!NT_SUCCESS(status))
        return wp_sock_finish(s, Irp, status, 0);
    struct wp_req *r = wp_req_new(s, Irp, TRUE, disconnect_step);
    if (r == NULL)
        return wp_sock_finish(s, Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    r->buf = *Buffer;
    return wp_req_submit(r);
}

/* ---- not offered ---- */

NTSTATUS WSKAPI wp_WskConnectEx(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PWSK_BUF Buffer,
                                ULONG Flags, PIRP Irp)
{
    UNREFERENCED_PARAMETER(RemoteAddress);
    UNREFERENCED_PARAMETER(Buffer);
    UNREFERENCED_PARAMETER(Flags);
    struct wp_sock *s = wp_sock_enter_irp(Socket, Irp, "WskConnectEx");
    return wp_sock_finish(s, Irp, STATUS_NOT_SUPPORTED, 0);
}

/* "Reserved for system use". */
NTSTATUS WSKAPI wp_WskSendEx(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                             ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp)
{
    UNREFERENCED_PARAMETER(Buffer);
    UNREFERENCED_PARAMETER(Flags);
    UNREFERENCED_PARAMETER(ControlInfoLength);
    UNREFERENCED_PARAMETER(ControlInfo);
    struct wp_sock *s = wp_sock_enter_irp(Socket, Irp, "WskSendEx");
    return wp_sock_finish(s, Irp, STATUS_NOT_SUPPORTED, 0);
}

NTSTATUS WSKAPI wp_WskReceiveEx(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                                PULONG ControlInfoLength, PCMSGHDR ControlInfo, PULONG ControlFlags,
                                PIRP Irp)
{
    UNREFERENCED_PARAMETER(Buffer);
    UNREFERENCED_PARAMETER(Flags);
    UNREFERENCED_PARAMETER(ControlInfoLength);
    UNREFERENCED_PARAMETER(ControlInfo);
    UNREFERENCED_PARAMETER(ControlFlags);
    struct wp_sock *s = wp_sock_enter_irp(Socket, Irp, "WskReceiveEx");
    return wp_sock_finish(s, Irp, STATUS_NOT_SUPPORTED, 0);
}
