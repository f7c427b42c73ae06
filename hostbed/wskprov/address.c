/*
 * address.c - Winsock SOCKADDR <-> pn_addr, pn_err -> NTSTATUS, and the
 * address calls: WskBind, WskGetLocalAddress, WskGetRemoteAddress.
 */
#include "wp.h"

NTSTATUS wp_addr_in(const SOCKADDR *sa, int family, struct pn_addr *out)
{
    RtlZeroMemory(out, sizeof(*out));
    if (sa == NULL)
        return STATUS_INVALID_PARAMETER;
    if (family == 4 && sa->sa_family == AF_INET) {
        const SOCKADDR_IN *sin = (const SOCKADDR_IN *)sa;
        out->family = 4;
        RtlCopyMemory(out->addr, &sin->sin_addr, 4);
        out->port = (uint16_t)((sin->sin_port >> 8) | (sin->sin_port << 8));
        return STATUS_SUCCESS;
    }
    if (family == 6 && sa->sa_family == AF_INET6) {
        const SOCKADDR_IN6 *sin6 = (const SOCKADDR_IN6 *)sa;
        out->family = 6;
        RtlCopyMemory(out->addr, &sin6->sin6_addr, 16);
        out->port = (uint16_t)((sin6->sin6_port >> 8) | (sin6->sin6_port << 8));
        out->scope_id = sin6->sin6_scope_id;
        out->flowinfo = __builtin_bswap32(sin6->sin6_flowinfo);
        return STATUS_SUCCESS;
    }
    /* "WskBind"/"WskConnect": the address must be the SOCKADDR type of the
     * family the socket was created with. */
    return STATUS_INVALID_PARAMETER;
}

void wp_addr_out(const struct pn_addr *a, PSOCKADDR sa)
{
    if (a->family == 6) {
        SOCKADDR_IN6 *sin6 = (SOCKADDR_IN6 *)sa;
        RtlZeroMemory(sin6, sizeof(*sin6));
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = (uint16_t)((a->port >> 8) | (a->port << 8));
        sin6->sin6_flowinfo = __builtin_bswap32(a->flowinfo);
        RtlCopyMemory(&sin6->sin6_addr, a->addr, 16);
        sin6->sin6_scope_id = a->scope_id;
    } else {
        SOCKADDR_IN *sin = (SOCKADDR_IN *)sa;
        RtlZeroMemory(sin, sizeof(*sin));
        sin->sin_family = AF_INET;
        sin->sin_port = (uint16_t)((a->port >> 8) | (a->port << 8));
        RtlCopyMemory(&sin->sin_addr, a->addr, 4);
    }
}

/*
 * The NTSTATUS values the Windows transport reports for the conditions
 * behind each errno (the WSK pages only say "other status codes"; these are
 * the values Winsock maps to the matching WSAE* codes).
 */
NTSTATUS wp_status(int e)
{
    switch (e) {
    case PN_OK:
        return STATUS_SUCCESS;
    case PN_EADDRINUSE:
        return STATUS_ADDRESS_ALREADY_EXISTS; /* WSAEADDRINUSE */
    case PN_EADDRNOTAVAIL:
        return STATUS_INVALID_ADDRESS_COMPONENT; /* WSAEADDRNOTAVAIL */
    case PN_ECONNREFUSED:
        return STATUS_CONNECTION_REFUSED;
    case PN_ECONNRESET:
        return STATUS_CONNECTION_RESET;
    case PN_ECONNABORTED:
        return STATUS_CONNECTION_ABORTED;
    case PN_ENETUNREACH:
        return STATUS_NETWORK_UNREACHABLE;
    case PN_EHOSTUNREACH:
        return STATUS_HOST_UNREACHABLE;
    case PN_ETIMEDOUT:
        return STATUS_IO_TIMEOUT;
    case PN_ENOTCONN:
        return STATUS_INVALID_DEVICE_STATE;
    case PN_EINVAL:
        return STATUS_INVALID_PARAMETER;
    case PN_ENOMEM:
    case PN_EMFILE:
        return STATUS_INSUFFICIENT_RESOURCES;
    case PN_EAFNOSUPPORT:
    case PN_ENOPROTOOPT:
        return STATUS_NOT_SUPPORTED;
    case PN_EACCES:
        return STATUS_ACCESS_DENIED;
    case PN_EMSGSIZE:
        return STATUS_INVALID_BUFFER_SIZE; /* WSAEMSGSIZE */
    case PN_EISCONN:
        return STATUS_CONNECTION_ACTIVE; /* WSAEISCONN */
    default:
        return STATUS_UNSUCCESSFUL;
    }
}

NTSTATUS wp_data_status(int e)
{
    switch (e) {
    case PN_ETIMEDOUT:
        /* Retransmission or keep-alive timeout: Windows aborts the
         * connection (WSAECONNABORTED). */
        return STATUS_CONNECTION_ABORTED;
    case PN_ENOTCONN:
        return STATUS_CONNECTION_DISCONNECTED;
    default:
        return wp_status(e);
    }
}

/*
 * "WskBind": binds to a local transport address; Flags is reserved (zero).
 * A listening socket listens from here on (WSK has no WskListen for
 * listening sockets: "for listening sockets, WskBind prepares the socket to
 * listen for incoming connection requests"), with the largest backlog.
 *
 * TCP sockets get SO_REUSEADDR on Linux unless the client asked for
 * SO_EXCLUSIVEADDRUSE: Linux refuses to bind a port that earlier
 * connections still hold in TIME_WAIT, which Windows allows (a restarted
 * server binds its port at once). Linux then still refuses a second
 * listener on a port, and the provider applies Windows' rule among its own
 * sockets (wp_sock_claim: one TCP socket per address unless both set
 * SO_REUSEADDR), so conflicts are reported as on Windows.
 */
static NTSTATUS bind_locked(struct wp_sock *s, const struct pn_addr *a)
{
    if (s->fd < 0)
        return STATUS_INVALID_DEVICE_STATE;
    if (s->state & WP_BOUND)
        return STATUS_ADDRESS_ALREADY_ASSOCIATED; /* WSAEINVAL: already bound */
    BOOLEAN tcp = s->kind != WP_DATAGRAM;
    if (tcp) {
        NTSTATUS status = wp_sock_claim(s, a);
        if (!NT_SUCCESS(status))
            return status;
        if (!s->opt_exclusive)
            pn_setopt(s->fd, PN_SO_REUSEADDR, 1);
    }
    int e = pn_bind(s->fd, a);
    if (tcp)
        wp_sock_settle(s, e == 0);
    if (e != 0)
        return wp_status(e);
    s->state |= WP_BOUND;
    if (s->kind == WP_LISTEN) {
        e = pn_listen(s->fd);
        if (e != 0)
            return wp_status(e);
        s->state |= WP_LISTENING;
    }
    return STATUS_SUCCESS;
}

NTSTATUS WSKAPI wp_WskBind(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, ULONG Flags, PIRP Irp)
{
    struct wp_sock *s = wp_sock_enter_irp(Socket, Irp, "WskBind");
    struct pn_addr a;
    NTSTATUS status;
    if (kshim_fault("wsk.bind"))
        status = STATUS_ADDRESS_ALREADY_EXISTS;
    else if (Flags != 0)
        status = STATUS_INVALID_PARAMETER;
    else
        status = wp_addr_in(LocalAddress, s->family, &a);
    if (NT_SUCCESS(status)) {
        pn_mutex_lock(&s->lock);
        status = bind_locked(s, &a);
        pn_mutex_unlock(&s->lock);
    }
    return wp_sock_finish(s, Irp, status, 0);
}

/* "WskGetLocalAddress": the socket must be bound. */
NTSTATUS WSKAPI wp_WskGetLocalAddress(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, PIRP Irp)
{
    struct wp_sock *s = wp_sock_enter_irp(Socket, Irp, "WskGetLocalAddress");
    NTSTATUS status = STATUS_SUCCESS;
    if (kshim_fault("wsk.getaddress"))
        status = STATUS_INSUFFICIENT_RESOURCES;
    else if (LocalAddress == NULL)
        status = STATUS_INVALID_PARAMETER;
    if (NT_SUCCESS(status)) {
        struct pn_addr a;
        pn_mutex_lock(&s->lock);
        if (s->fd < 0 || !(s->state & WP_BOUND))
            status = STATUS_INVALID_DEVICE_STATE;
        else
            status = wp_status(pn_getsockname(s->fd, &a));
        pn_mutex_unlock(&s->lock);
        if (NT_SUCCESS(status))
            wp_addr_out(&a, LocalAddress);
    }
    return wp_sock_finish(s, Irp, status, 0);
}

/* "WskGetRemoteAddress": the socket must be connected; the address is the
 * one recorded at connect or accept time, so it survives a reset. */
NTSTATUS WSKAPI wp_WskGetRemoteAddress(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PIRP Irp)
{
    struct wp_sock *s = wp_sock_enter_irp(Socket, Irp, "WskGetRemoteAddress");
    NTSTATUS status = STATUS_SUCCESS;
    if (kshim_fault("wsk.getaddress"))
        status = STATUS_INSUFFICIENT_RESOURCES;
    else if (RemoteAddress == NULL)
        status = STATUS_INVALID_PARAMETER;
    if (NT_SUCCESS(status)) {
        struct pn_addr a;
        pn_mutex_lock(&s->lock);
        if (!(s->state & WP_CONNECTED))
            status = STATUS_INVALID_DEVICE_STATE;
        else
            a = s->remote;
        pn_mutex_unlock(&s->lock);
        if (NT_SUCCESS(status))
            wp_addr_out(&a, RemoteAddress);
    }
    return wp_sock_finish(s, Irp, status, 0);
}
