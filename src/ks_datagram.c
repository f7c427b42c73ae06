/* ks_datagram.c - ks_sendto and ks_recvfrom on datagram (UDP) sockets. */
#include "ks_datagram.h"
#include "ks_options.h"

/* Binds an unbound datagram socket to its family's wildcard address. */
static int ensure_bound(ks_sock *s)
{
    if (s->state == KS_SS_DATAGRAM)
        return 0;
    int err = ks_sock_lock(s, &s->ctl_lock);
    if (err != 0)
        return err;
    if (s->state == KS_SS_NEW) {
        SOCKADDR_STORAGE any;
        ks_wildcard_addr(s->family, &any);
        NTSTATUS status = ks_wsk_create(s, WSK_FLAG_DATAGRAM_SOCKET);
        if (NT_SUCCESS(status)) {
            status = ks_opts_apply(s); /* stored options, before the bind */
            if (NT_SUCCESS(status))
                status = ks_wsk_bind(s, (const SOCKADDR *)&any);
            if (!NT_SUCCESS(status))
                ks_wsk_close(s);
        }
        if (NT_SUCCESS(status)) {
            KIRQL irql;
            s->local = any;
            KeAcquireSpinLock(&s->lock, &irql);
            s->state = KS_SS_DATAGRAM;
            KeReleaseSpinLock(&s->lock, irql);
        } else {
            err = s->closing ? -EBADF : ks_status_to_errno(status);
        }
    }
    ks_sock_unlock(&s->ctl_lock);
    return err;
}

static int dgram_checks(ks_sock *s, const void *buf, size_t len, int flags)
{
    if (flags != 0)
        return -EOPNOTSUPP;
    if (s->type != SOCK_DGRAM)
        return -EOPNOTSUPP;
    if (buf == NULL && len > 0)
        return -EFAULT;
    if (len > 0xffff)
        return -EMSGSIZE;
    return 0;
}

ks_ssize_t ks_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
                     int tolen)
{
    ks_sock *s;
    int err = ks_fd_enter(fd, &s);
    if (err != 0)
        return err;
    err = dgram_checks(s, buf, len, flags);
    if (err == 0)
        err = ks_check_addr(s, to, tolen);
    if (err == 0)
        err = ensure_bound(s);
    if (err == 0)
        err = ks_sock_lock(s, &s->tx_lock);
    if (err != 0) {
        ks_sock_put(s);
        return err;
    }
    SOCKADDR_STORAGE remote;
    RtlZeroMemory(&remote, sizeof(remote));
    RtlCopyMemory(&remote, to, (SIZE_T)ks_sockaddr_len(s->family));
    ks_ssize_t result = -EBADF;
    if (ks_call_enter(s, KS_SS_DATAGRAM, -EINVAL) == 0) {
        const WSK_PROVIDER_DATAGRAM_DISPATCH *d =
            (const WSK_PROVIDER_DATAGRAM_DISPATCH *)s->wsk->Dispatch;
        WSK_BUF wbuf;
        PIRP irp = ks_op_begin(&s->tx);
        NTSTATUS status = ks_op_lock_buffer(&s->tx, (void *)buf, (ULONG)len, IoReadAccess, &wbuf);
        if (NT_SUCCESS(status))
            status = d->WskSendTo(s->wsk, &wbuf, 0, (PSOCKADDR)&remote, 0, NULL, irp);
        ks_call_leave(s);
        status = ks_op_wait(&s->tx, status, NULL, NULL);
        result = NT_SUCCESS(status) ? (ks_ssize_t)len
                                    : (s->closing ? -EBADF : ks_status_to_errno(status));
    }
    ks_sock_unlock(&s->tx_lock);
    ks_sock_put(s);
    return result;
}

ks_ssize_t ks_recvfrom_ex(int fd, void *buf, size_t len, struct sockaddr *from, int *fromlen,
                          ULONG *control_flags)
{
    ks_sock *s;
    int err = ks_fd_enter(fd, &s);
    if (err != 0)
        return err;
    if (from != NULL && fromlen == NULL)
        err = -EFAULT;
    else if (fromlen != NULL && *fromlen < 0)
        err = -EINVAL;
    else
        err = dgram_checks(s, buf, len, 0);
    if (err == 0 && s->state != KS_SS_DATAGRAM)
        err = -EINVAL;
    if (err == 0)
        err = ks_sock_lock(s, &s->rx_lock);
    if (err != 0) {
        ks_sock_put(s);
        return err;
    }
    SOCKADDR_STORAGE remote;
    RtlZeroMemory(&remote, sizeof(remote));
    ULONG flags_out = 0;
    ks_ssize_t result = -EBADF;
    if (ks_call_enter(s, KS_SS_DATAGRAM, -EINVAL) == 0) {
        const WSK_PROVIDER_DATAGRAM_DISPATCH *d =
            (const WSK_PROVIDER_DATAGRAM_DISPATCH *)s->wsk->Dispatch;
        WSK_BUF wbuf;
        ULONG control_len = 0;
        ULONG_PTR info = 0;
        PIRP irp = ks_op_begin(&s->rx);
        NTSTATUS status = ks_op_lock_buffer(&s->rx, buf, (ULONG)len, IoWriteAccess, &wbuf);
        if (NT_SUCCESS(status))
            status = d->WskReceiveFrom(s->wsk, &wbuf, 0, (PSOCKADDR)&remote, &control_len, NULL,
                                       &flags_out, irp);
        ks_call_leave(s);
        status = ks_op_wait(&s->rx, status, NULL, &info);
        if (NT_SUCCESS(status)) {
            result = (ks_ssize_t)info;
            ks_copy_out_addr(&remote, from, fromlen);
        } else {
            result = s->closing ? -EBADF : ks_status_to_errno(status);
        }
    }
    ks_sock_unlock(&s->rx_lock);
    ks_sock_put(s);
    if (control_flags != NULL)
        *control_flags = flags_out;
    return result;
}

ks_ssize_t ks_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
                       int *fromlen)
{
    if (flags != 0)
        return ks_can_block() ? -EOPNOTSUPP : -EPERM;
    ULONG control_flags = 0;
    ks_ssize_t n = ks_recvfrom_ex(fd, buf, len, from, fromlen, &control_flags);
    if (n >= 0 && (control_flags & MSG_TRUNC) != 0)
        return -EMSGSIZE;
    return n;
}
