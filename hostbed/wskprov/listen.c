/*
 * listen.c - listening sockets: WskAccept (and WskInspectComplete, which
 * needs conditional accept, not offered). A listening socket listens from
 * WskBind on (address.c).
 */
#include "wp.h"

static int accept_step(struct wp_req *r)
{
    struct wp_sock *s = r->sock;
    if (s->fd < 0 || !(s->state & WP_LISTENING)) {
        r->status = STATUS_INVALID_DEVICE_STATE;
        return 1;
    }
    for (;;) {
        struct pn_addr local, remote;
        int fd = pn_accept(s->fd, &local, &remote);
        if (fd == PN_EAGAIN)
            return 0;
        /* A connection reset before it was accepted: take the next one. */
        if (fd == PN_ECONNABORTED || fd == PN_EINTR)
            continue;
        if (fd < 0) {
            r->status = wp_status(fd);
            return 1;
        }
        struct wp_sock *n = wp_sock_new(s->reg, WP_CONNECTION, s->family, fd);
        if (n == NULL) {
            pn_close(fd);
            r->status = STATUS_INSUFFICIENT_RESOURCES;
            return 1;
        }
        n->state = WP_BOUND | WP_CONNECTED;
        n->remote = remote;
        n->context = r->accept_context;
        n->client_dispatch = r->accept_dispatch;
        if (r->local_out != NULL)
            wp_addr_out(&local, r->local_out);
        if (r->remote_out != NULL)
            wp_addr_out(&remote, r->remote_out);
        r->status = STATUS_SUCCESS;
        r->info = (ULONG_PTR)&n->wsk;
        return 1;
    }
}

/*
 * "WskAccept": completes when a connection arrives, with Information = the
 * new connection socket's PWSK_SOCKET; LocalAddress and RemoteAddress are
 * optional outputs. Flags is reserved. Cancellable like every pending IRP.
 * AcceptSocketContext and AcceptSocketDispatch become the accepted
 * socket's; its event callbacks start disabled (the listening socket's
 * connection events are inherited only through WskAcceptEvent:
 * "SO_WSK_EVENT_CALLBACK"). A queued WskAccept takes precedence over
 * WskAcceptEvent ("PFN_WSK_ACCEPT_EVENT").
 */
NTSTATUS WSKAPI wp_WskAccept(PWSK_SOCKET ListenSocket, ULONG Flags, PVOID AcceptSocketContext,
                             CONST WSK_CLIENT_CONNECTION_DISPATCH *AcceptSocketDispatch,
                             PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress, PIRP Irp)
{
    struct wp_sock *s = wp_sock_enter_irp(ListenSocket, Irp, "WskAccept");
    if (kshim_fault("wsk.accept"))
        return wp_sock_finish(s, Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    if (Flags != 0)
        return wp_sock_finish(s, Irp, STATUS_INVALID_PARAMETER, 0);
    struct wp_req *r = wp_req_new(s, Irp, FALSE, accept_step);
    if (r == NULL)
        return wp_sock_finish(s, Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    r->local_out = LocalAddress;
    r->remote_out = RemoteAddress;
    r->accept_context = AcceptSocketContext;
    r->accept_dispatch = AcceptSocketDispatch;
    return wp_req_submit(r);
}

/* "WskInspectComplete" answers WskInspectEvent (SO_CONDITIONAL_ACCEPT),
 * which this provider does not offer. */
NTSTATUS WSKAPI wp_WskInspectComplete(PWSK_SOCKET ListenSocket, PWSK_INSPECT_ID InspectID,
                                      WSK_INSPECT_ACTION Action, PIRP Irp)
{
    UNREFERENCED_PARAMETER(InspectID);
    UNREFERENCED_PARAMETER(Action);
    struct wp_sock *s = wp_sock_enter_irp(ListenSocket, Irp, "WskInspectComplete");
    return wp_sock_finish(s, Irp, STATUS_NOT_SUPPORTED, 0);
}
