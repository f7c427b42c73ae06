/*
 * ks_address.c - ks_getsockname and ks_getpeername.
 *
 * The provider is asked first (WskGetLocalAddress / WskGetRemoteAddress):
 * it knows the port chosen for a bind to port 0 or an implicit bind. The
 * library's record (s->local from bind/listen, s->remote from connect or
 * accept) answers when the provider cannot: Wine's WSK lacks both calls.
 * The record of a port-0 bind has port 0, so it is only used then, or when
 * it is exact (a peer's address always is).
 */
#include "ks_address.h"
#include "ks_descriptor.h"
#include "ks_wsk.h"

NTSTATUS ks__sock_wsk_get_address(ks_sock *s, BOOLEAN remote, ks_addr *out)
{
    KS_ASSERT(ks__lock_held_by_me(&s->ctl_lock));
    if (!NT_SUCCESS(ks__op_prepare(&s->ctl)))
        return STATUS_INSUFFICIENT_RESOURCES;
    PWSK_SOCKET wsk;
    int err = ks__call_enter(s, -1, 0, &wsk);
    if (err != 0) {
        ks__op_drop(&s->ctl);
        return ks__errno_status(err);
    }
    RtlZeroMemory(out, sizeof(*out));
    /* The layer answers STATUS_NOT_SUPPORTED for a category without the
     * call, without touching the IRP: ks__op_wait then returns it as is. */
    PIRP irp = ks__op_begin(&s->ctl);
    NTSTATUS status = remote ? ks__wsk_get_remote_address(wsk, s->wsk_kind, (PSOCKADDR)out, irp)
                             : ks__wsk_get_local_address(wsk, s->wsk_kind, (PSOCKADDR)out, irp);
    ks__call_leave(s);
    status = ks__op_wait(&s->ctl, status, NULL, NULL);
    ks__op_drop(&s->ctl);
    if (NT_SUCCESS(status) && out->sa.sa_family != s->family)
        status = STATUS_INVALID_NETWORK_RESPONSE;
    return status;
}

static USHORT port_of(const ks_addr *a)
{
    /* sin_port and sin6_port share their offset. */
    return ((const SOCKADDR_IN *)a)->sin_port;
}

static int get_address(int fd, BOOLEAN remote, struct sockaddr *addr, int *addrlen)
{
    ks_sock *s;
    int err = ks__fd_enter(fd, &s);
    if (err != 0)
        return err;
    if (addr == NULL || addrlen == NULL)
        err = -EFAULT;
    else if (*addrlen < 0)
        err = -EINVAL;
    else
        err = ks__sock_lock(s, &s->ctl_lock);
    if (err != 0) {
        ks__sock_put(s);
        return err;
    }
    ks_addr result;
    if (remote && s->state != KS_SS_CONNECTED) {
        err = -ENOTCONN;
    } else if (!remote && s->state == KS_SS_NEW) {
        err = -EINVAL;
    } else {
        const ks_addr *record = remote ? &s->remote : &s->local;
        NTSTATUS status =
            s->wsk != NULL ? ks__sock_wsk_get_address(s, remote, &result) : STATUS_NOT_SUPPORTED;
        if (s->closing) {
            err = -EBADF;
        } else if (!NT_SUCCESS(status)) {
            if (remote || port_of(record) != 0 || status == STATUS_NOT_IMPLEMENTED ||
                status == STATUS_NOT_SUPPORTED) {
                result = *record;
            } else {
                err = ks__sock_error(s, status);
            }
        }
    }
    ks__sock_unlock(&s->ctl_lock);
    if (err == 0)
        ks__copy_out_addr(&result, addr, addrlen);
    ks__sock_put(s);
    return err;
}

int ks_getsockname(int fd, struct sockaddr *addr, int *addrlen)
{
    return get_address(fd, FALSE, addr, addrlen);
}

int ks_getpeername(int fd, struct sockaddr *addr, int *addrlen)
{
    return get_address(fd, TRUE, addr, addrlen);
}
