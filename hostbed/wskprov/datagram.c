/*
 * datagram.c - datagram sockets: WskSendTo and WskReceiveFrom (message
 * boundaries kept), and the calls not offered (WskSendMessages,
 * WskRelease). A datagram socket must be bound with WskBind first ("WskBind":
 * "for datagram sockets, WskBind prepares the socket to send and receive").
 */
#include "wp.h"

static int sendto_step(struct wp_req *r)
{
    struct wp_sock *s = r->sock;
    struct pn_iov iov[PN_IOV_MAX];
    if (s->fd < 0 || !(s->state & WP_BOUND)) {
        r->status = STATUS_INVALID_DEVICE_STATE;
        return 1;
    }
    int n = wp_buf_iov(&r->buf, 0, iov, PN_IOV_MAX);
    if (n < 0) {
        r->status = STATUS_INSUFFICIENT_RESOURCES;
        return 1;
    }
    long k = pn_sendto(s->fd, iov, n, &r->addr);
    if (k == PN_EAGAIN)
        return 0;
    if (k < 0) {
        r->status = wp_status((int)k);
        return 1;
    }
    r->status = STATUS_SUCCESS;
    r->info = (ULONG_PTR)k;
    return 1;
}

/*
 * "WskSendTo": sends one datagram to RemoteAddress. Flags is reserved;
 * ControlInfo is ignored. A NULL RemoteAddress needs a fixed destination
 * (SIO_WSK_SET_SENDTO_ADDRESS), which this provider does not offer.
 */
NTSTATUS WSKAPI wp_WskSendTo(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                             PSOCKADDR RemoteAddress, ULONG ControlInfoLength, PCMSGHDR ControlInfo,
                             PIRP Irp)
{
    UNREFERENCED_PARAMETER(ControlInfoLength);
    UNREFERENCED_PARAMETER(ControlInfo);
    struct wp_sock *s = wp_sock_enter_irp(Socket, Irp, "WskSendTo");
    if (kshim_fault("wsk.sendto"))
        return wp_sock_finish(s, Irp, STATUS_NETWORK_UNREACHABLE, 0);
    if (Flags != 0 || RemoteAddress == NULL)
        return wp_sock_finish(s, Irp, STATUS_INVALID_PARAMETER, 0);
    struct pn_addr a;
    NTSTATUS status = wp_addr_in(RemoteAddress, s->family, &a);
    if (NT_SUCCESS(status))
        status = wp_buf_check(Buffer);
    if (!NT_SUCCESS(status))
        return wp_sock_finish(s, Irp, status, 0);
    struct wp_req *r = wp_req_new(s, Irp, TRUE, sendto_step);
    if (r == NULL)
        return wp_sock_finish(s, Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    r->buf = *Buffer;
    r->addr = a;
    return wp_req_submit(r);
}

static int recvfrom_step(struct wp_req *r)
{
    struct wp_sock *s = r->sock;
    struct pn_iov iov[PN_IOV_MAX];
    if (s->fd < 0 || !(s->state & WP_BOUND)) {
        r->status = STATUS_INVALID_DEVICE_STATE;
        return 1;
    }
    int n = wp_buf_iov(&r->buf, 0, iov, PN_IOV_MAX);
    if (n < 0) {
        r->status = STATUS_INSUFFICIENT_RESOURCES;
        return 1;
    }
    struct pn_addr from;
    size_t full = 0;
    long k = pn_recvfrom(s->fd, iov, n, &from, &full);
    if (k == PN_EAGAIN)
        return 0;
    if (k < 0) {
        r->status = wp_status((int)k);
        return 1;
    }
    if (r->remote_out != NULL)
        wp_addr_out(&from, r->remote_out);
    if (r->control_length != NULL)
        *r->control_length = 0; /* no control information */
    if (r->control_flags != NULL)
        *r->control_flags = full > (size_t)k ? MSG_TRUNC : 0;
    r->status = STATUS_SUCCESS;
    r->info = (ULONG_PTR)k;
    return 1;
}

/*
 * "WskReceiveFrom": receives one datagram; RemoteAddress, ControlLength and
 * ControlFlags are optional outputs. A datagram larger than the buffer is
 * truncated: the IRP succeeds with the bytes that fit and ControlFlags gets
 * MSG_TRUNC ("the datagram was truncated because it was larger than the
 * buffer"). Flags is reserved. No control information is returned.
 */
NTSTATUS WSKAPI wp_WskReceiveFrom(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                                  PSOCKADDR RemoteAddress, PULONG ControlLength,
                                  PCMSGHDR ControlInfo, PULONG ControlFlags, PIRP Irp)
{
    UNREFERENCED_PARAMETER(ControlInfo);
    struct wp_sock *s = wp_sock_enter_irp(Socket, Irp, "WskReceiveFrom");
    if (kshim_fault("wsk.recvfrom"))
        return wp_sock_finish(s, Irp, STATUS_PORT_UNREACHABLE, 0);
    if (Flags != 0)
        return wp_sock_finish(s, Irp, STATUS_INVALID_PARAMETER, 0);
    NTSTATUS status = wp_buf_check(Buffer);
    if (!NT_SUCCESS(status))
        return wp_sock_finish(s, Irp, status, 0);
    struct wp_req *r = wp_req_new(s, Irp, FALSE, recvfrom_step);
    if (r == NULL)
        return wp_sock_finish(s, Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    r->buf = *Buffer;
    r->remote_out = RemoteAddress;
    r->control_length = ControlLength;
    r->control_flags = ControlFlags;
    return wp_req_submit(r);
}

/* "WskRelease" (datagram) returns indications of WskReceiveFromEvent, which
 * this provider never makes (no event callbacks). */
NTSTATUS WSKAPI wp_WskReleaseDatagrams(PWSK_SOCKET Socket,
                                       PWSK_DATAGRAM_INDICATION DatagramIndication)
{
    UNREFERENCED_PARAMETER(DatagramIndication);
    struct wp_sock *s = wp_sock_enter(Socket, "WskRelease");
    wp_sock_leave_call(s);
    wp_sock_unref(s);
    return STATUS_NOT_SUPPORTED;
}

NTSTATUS WSKAPI wp_WskSendMessages(PWSK_SOCKET Socket, PWSK_BUF_LIST BufferList, ULONG Flags,
                                   PSOCKADDR RemoteAddress, ULONG ControlInfoLength,
                                   PCMSGHDR ControlInfo, PIRP Irp)
{
    UNREFERENCED_PARAMETER(BufferList);
    UNREFERENCED_PARAMETER(Flags);
    UNREFERENCED_PARAMETER(RemoteAddress);
    UNREFERENCED_PARAMETER(ControlInfoLength);
    UNREFERENCED_PARAMETER(ControlInfo);
    struct wp_sock *s = wp_sock_enter_irp(Socket, Irp, "WskSendMessages");
    return wp_sock_finish(s, Irp, STATUS_NOT_SUPPORTED, 0);
}
