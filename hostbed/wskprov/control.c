/*
 * control.c - WskControlSocket (socket options with Winsock's level and
 * option numbers, translated for Linux by posix_net.c) and
 * WskControlClient (WSK_TRANSPORT_LIST_QUERY only).
 *
 * Options ("SOL_SOCKET socket options", "IPPROTO_TCP socket options",
 * "IPPROTO_IPV6 socket options", "WSK Socket Options"): values are ULONGs
 * (0/1 for Booleans) except SO_LINGER (LINGER). Unknown options and ioctls
 * are STATUS_NOT_SUPPORTED. SO_WSK_EVENT_CALLBACK is in events.c (and
 * STATUS_NOT_SUPPORTED with KSHIM_WSK_EVENTS=0).
 */
#include "wp.h"

static NTSTATUS in_ulong(SIZE_T size, PVOID buffer, ULONG *value)
{
    if (buffer == NULL || size < sizeof(ULONG))
        return STATUS_INVALID_PARAMETER;
    RtlCopyMemory(value, buffer, sizeof(ULONG));
    return STATUS_SUCCESS;
}

static NTSTATUS set_bool(struct wp_sock *s, enum pn_opt opt, ULONG v)
{
    if (s->fd < 0)
        return STATUS_INVALID_DEVICE_STATE;
    return wp_status(pn_setopt(s->fd, opt, v != 0));
}

/* Socket lock held. */
static NTSTATUS set_option(struct wp_sock *s, ULONG level, ULONG code, SIZE_T size, PVOID buffer)
{
    ULONG v = 0;
    NTSTATUS status;
    BOOLEAN stream = s->kind == WP_LISTEN || s->kind == WP_CONNECTION;
    if (level == SOL_SOCKET && code == SO_LINGER) {
        LINGER l;
        if (buffer == NULL || size < sizeof(l))
            return STATUS_INVALID_PARAMETER;
        RtlCopyMemory(&l, buffer, sizeof(l));
        if (s->fd < 0)
            return STATUS_INVALID_DEVICE_STATE;
        return wp_status(pn_set_linger(s->fd, l.l_onoff != 0, l.l_linger));
    }
    status = in_ulong(size, buffer, &v);
    if (!NT_SUCCESS(status))
        return status;
    if (level == SOL_SOCKET) {
        switch (code) {
        case SO_REUSEADDR:
            /* Windows: WSAEINVAL with SO_EXCLUSIVEADDRUSE set. */
            if (v && s->opt_exclusive)
                return STATUS_INVALID_PARAMETER;
            s->opt_reuseaddr = v != 0;
            return set_bool(s, PN_SO_REUSEADDR, v);
        case (ULONG)SO_EXCLUSIVEADDRUSE:
            /* Emulated as "no SO_REUSEADDR"; must precede the bind. */
            if ((v && s->opt_reuseaddr) || (s->state & WP_BOUND))
                return STATUS_INVALID_PARAMETER;
            s->opt_exclusive = v != 0;
            return v ? set_bool(s, PN_SO_REUSEADDR, 0) : STATUS_SUCCESS;
        case SO_KEEPALIVE:
            if (!stream)
                return STATUS_NOT_SUPPORTED;
            return set_bool(s, PN_SO_KEEPALIVE, v);
        case SO_RCVBUF:
        case SO_SNDBUF:
            if (s->fd < 0)
                return STATUS_INVALID_DEVICE_STATE;
            status = wp_status(
                pn_setopt(s->fd, code == SO_RCVBUF ? PN_SO_RCVBUF : PN_SO_SNDBUF, (int)v));
            if (NT_SUCCESS(status)) {
                if (code == SO_RCVBUF)
                    s->rcvbuf = (int)v;
                else
                    s->sndbuf = (int)v;
            }
            return status;
        default:
            return STATUS_NOT_SUPPORTED;
        }
    }
    if (level == IPPROTO_TCP && code == TCP_NODELAY) {
        if (!stream)
            return STATUS_NOT_SUPPORTED;
        status = set_bool(s, PN_TCP_NODELAY, v);
        if (NT_SUCCESS(status))
            s->opt_nodelay = v != 0;
        return status;
    }
    if (level == IPPROTO_IPV6 && code == IPV6_V6ONLY) {
        /* Only before the bind (Winsock: WSAEINVAL afterwards). */
        if (s->family != 6 || (s->state & WP_BOUND))
            return STATUS_INVALID_PARAMETER;
        return set_bool(s, PN_IPV6_V6ONLY, v);
    }
    return STATUS_NOT_SUPPORTED;
}

/* Winsock error code (WSAE*) for SO_ERROR. */
static ULONG wsa_error(int e)
{
    switch (e) {
    case PN_OK:
        return 0;
    case PN_ECONNREFUSED:
        return 10061;
    case PN_ECONNRESET:
        return 10054;
    case PN_ECONNABORTED:
        return 10053;
    case PN_ETIMEDOUT:
        return 10060;
    case PN_ENETUNREACH:
        return 10051;
    case PN_EHOSTUNREACH:
        return 10065;
    case PN_EADDRINUSE:
        return 10048;
    case PN_EADDRNOTAVAIL:
        return 10049;
    default:
        return 10022; /* WSAEINVAL */
    }
}

/* Socket lock held. */
static NTSTATUS get_option(struct wp_sock *s, ULONG level, ULONG code, SIZE_T size, PVOID buffer,
                           SIZE_T *returned)
{
    ULONG v = 0;
    int iv = 0;
    NTSTATUS status = STATUS_SUCCESS;
    if (buffer == NULL || size < sizeof(ULONG))
        return STATUS_BUFFER_TOO_SMALL;
    if (level == SOL_SOCKET && code == SO_WSK_EVENT_CALLBACK)
        return STATUS_NOT_SUPPORTED;
    if (s->fd < 0)
        return STATUS_INVALID_DEVICE_STATE;
    if (level == SOL_SOCKET) {
        switch (code) {
        case SO_LINGER: {
            int on = 0, secs = 0;
            status = wp_status(pn_get_linger(s->fd, &on, &secs));
            LINGER l = {(USHORT)(on != 0), (USHORT)secs};
            if (NT_SUCCESS(status)) {
                RtlCopyMemory(buffer, &l, sizeof(l));
                *returned = sizeof(l);
            }
            return status;
        }
        case SO_REUSEADDR:
            v = s->opt_reuseaddr;
            break;
        case (ULONG)SO_EXCLUSIVEADDRUSE:
            v = s->opt_exclusive;
            break;
        case SO_KEEPALIVE:
            status = wp_status(pn_getopt(s->fd, PN_SO_KEEPALIVE, &iv));
            v = iv != 0;
            break;
        case SO_RCVBUF:
        case SO_SNDBUF: {
            int set = code == SO_RCVBUF ? s->rcvbuf : s->sndbuf;
            /* Linux reports twice the size it was given; Windows reports
             * the value set. */
            status =
                wp_status(pn_getopt(s->fd, code == SO_RCVBUF ? PN_SO_RCVBUF : PN_SO_SNDBUF, &iv));
            v = set != 0 ? (ULONG)set : (ULONG)iv / 2;
            break;
        }
        case SO_ERROR:
            status = wp_status(pn_getopt(s->fd, PN_SO_ERROR, &iv));
            v = wsa_error(iv);
            break;
        case SO_TYPE:
            status = wp_status(pn_getopt(s->fd, PN_SO_TYPE, &iv));
            v = iv == 1 ? SOCK_STREAM : SOCK_DGRAM;
            break;
        default:
            return STATUS_NOT_SUPPORTED;
        }
    } else if (level == IPPROTO_TCP && code == TCP_NODELAY) {
        status = wp_status(pn_getopt(s->fd, PN_TCP_NODELAY, &iv));
        v = iv != 0;
    } else if (level == IPPROTO_IPV6 && code == IPV6_V6ONLY && s->family == 6) {
        status = wp_status(pn_getopt(s->fd, PN_IPV6_V6ONLY, &iv));
        v = iv != 0;
    } else {
        return STATUS_NOT_SUPPORTED;
    }
    if (NT_SUCCESS(status)) {
        RtlCopyMemory(buffer, &v, sizeof(v));
        *returned = sizeof(v);
    }
    return status;
}

/*
 * "WskControlSocket": WskSetOption / WskGetOption; WskIoctl is not offered.
 * Irp may be NULL for options that complete at once (the WSK pages allow
 * it for some, e.g. SO_WSK_EVENT_CALLBACK); the status is then returned.
 * OutputSizeReturned receives the bytes written; so does Information.
 */
NTSTATUS WSKAPI wp_WskControlSocket(PWSK_SOCKET Socket, WSK_CONTROL_SOCKET_TYPE RequestType,
                                    ULONG ControlCode, ULONG Level, SIZE_T InputSize,
                                    PVOID InputBuffer, SIZE_T OutputSize, PVOID OutputBuffer,
                                    SIZE_T *OutputSizeReturned, PIRP Irp)
{
    struct wp_sock *s = wp_sock_enter(Socket, "WskControlSocket");
    if (Irp != NULL) {
        wp_take_irp(Irp, "WskControlSocket");
        wp_sock_irp_taken(s);
    }
    NTSTATUS status;
    SIZE_T returned = 0;
    BOOLEAN events =
        RequestType == WskSetOption && Level == SOL_SOCKET && ControlCode == SO_WSK_EVENT_CALLBACK;
    if (kshim_fault("wsk.control")) {
        status = STATUS_INSUFFICIENT_RESOURCES;
    } else if (events) {
        /* "SO_WSK_EVENT_CALLBACK": completes at once, except a disable
         * that waits for the callback running now (its IRP pends). */
        BOOLEAN pend = FALSE;
        pn_mutex_lock(&s->lock);
        status = wp_events_set(s, InputSize, InputBuffer, Irp, &pend);
        pn_mutex_unlock(&s->lock);
        if (OutputSizeReturned != NULL)
            *OutputSizeReturned = 0;
        if (pend) {
            wp_sock_leave_call(s);
            wp_sock_unref(s);
            return STATUS_PENDING;
        }
        /* What an enabled event waits for may have happened already. */
        if (status == STATUS_SUCCESS)
            wp_engine_kick(s);
    } else {
        pn_mutex_lock(&s->lock);
        if (RequestType == WskSetOption)
            status = set_option(s, Level, ControlCode, InputSize, InputBuffer);
        else if (RequestType == WskGetOption)
            status = get_option(s, Level, ControlCode, OutputSize, OutputBuffer, &returned);
        else if (RequestType == WskIoctl)
            status = STATUS_NOT_SUPPORTED;
        else
            status = STATUS_INVALID_PARAMETER;
        pn_mutex_unlock(&s->lock);
    }
    if (OutputSizeReturned != NULL)
        *OutputSizeReturned = returned;
    if (Irp != NULL)
        return wp_sock_finish(s, Irp, status, returned);
    wp_sock_leave_call(s);
    wp_sock_unref(s);
    return status;
}

/* The transports WSK_TRANSPORT_LIST_QUERY reports. */
static const WSK_TRANSPORT transports[] = {
    {MAKE_WSK_VERSION(1, 0), SOCK_STREAM, IPPROTO_TCP, AF_INET, {0, 0, 0, {0}}},
    {MAKE_WSK_VERSION(1, 0), SOCK_STREAM, IPPROTO_TCP, AF_INET6, {0, 0, 0, {0}}},
    {MAKE_WSK_VERSION(1, 0), SOCK_DGRAM, IPPROTO_UDP, AF_INET, {0, 0, 0, {0}}},
    {MAKE_WSK_VERSION(1, 0), SOCK_DGRAM, IPPROTO_UDP, AF_INET6, {0, 0, 0, {0}}},
};

/*
 * "WskControlClient": WSK_TRANSPORT_LIST_QUERY returns the WSK_TRANSPORT
 * array (TCP and UDP over IPv4 and IPv6); the other control codes are not
 * offered. Irp may be NULL (the status is then returned).
 */
NTSTATUS WSKAPI wp_WskControlClient(PWSK_CLIENT Client, ULONG ControlCode, SIZE_T InputSize,
                                    PVOID InputBuffer, SIZE_T OutputSize, PVOID OutputBuffer,
                                    SIZE_T *OutputSizeReturned, PIRP Irp)
{
    UNREFERENCED_PARAMETER(InputSize);
    UNREFERENCED_PARAMETER(InputBuffer);
    struct wp_reg *r = wp_reg_enter(Client, "WskControlClient");
    if (Irp != NULL)
        wp_take_irp(Irp, "WskControlClient");
    NTSTATUS status;
    SIZE_T returned = 0;
    if (kshim_fault("wsk.control")) {
        status = STATUS_INSUFFICIENT_RESOURCES;
    } else if (ControlCode == WSK_TRANSPORT_LIST_QUERY) {
        returned = sizeof(transports);
        if (OutputBuffer == NULL || OutputSize < sizeof(transports)) {
            status = STATUS_BUFFER_TOO_SMALL;
        } else {
            RtlCopyMemory(OutputBuffer, transports, sizeof(transports));
            status = STATUS_SUCCESS;
        }
    } else {
        status = STATUS_NOT_SUPPORTED;
    }
    if (OutputSizeReturned != NULL)
        *OutputSizeReturned = returned;
    BOOLEAN now = TRUE;
    if (Irp != NULL)
        now = wp_complete(Irp, status, NT_SUCCESS(status) ? returned : 0, NULL);
    wp_reg_leave(r);
    return wp_returned(now, status);
}
