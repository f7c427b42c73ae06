/* ks_datagram.c - ks_sendto and ks_recvfrom on datagram (UDP) sockets. */
#include "ks_datagram.h"
#include "ks_ready.h"
#include "ks_descriptor.h"
#include "ks_options.h"
#include "ks_wsk.h"

/* Binds an unbound datagram socket to its family's wildcard address. */
static int ensure_bound(ks_sock *s)
{
    if (s->state == KS_SS_DATAGRAM)
        return 0;
    int err = ks__sock_lock(s, &s->ctl_lock);
    if (err != 0)
        return err;
    if (s->state == KS_SS_NEW) {
        ks_addr any;
        ks__wildcard_addr(s->family, &any);
        NTSTATUS status = ks__sock_create_bound(s, WSK_FLAG_DATAGRAM_SOCKET, &any);
        if (NT_SUCCESS(status)) {
            KIRQL irql;
            s->local = any;
            KeAcquireSpinLock(&s->lock, &irql);
            s->state = KS_SS_DATAGRAM;
            KeReleaseSpinLock(&s->lock, irql);
        } else {
            err = ks__sock_error(s, status);
        }
    }
    ks__sock_unlock(&s->ctl_lock);
    return err;
}

static int dgram_checks(ks_sock *s, const void *buf, size_t len, int flags)
{
    if ((flags & ~MSG_DONTWAIT) != 0)
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
    int err = ks__fd_enter(fd, &s);
    if (err != 0)
        return err;
    err = dgram_checks(s, buf, len, flags);
    if (err == 0)
        err = ks__check_addr(s, to, tolen);
    if (err == 0)
        err = ensure_bound(s);
    BOOLEAN nonblocking = s->nonblocking || (flags & MSG_DONTWAIT) != 0;
    if (err == 0)
        err = ks__sock_lock_mode(s, &s->tx_lock, nonblocking);
    if (err != 0) {
        ks__sock_put(s);
        return err;
    }
    ks_addr remote;
    RtlZeroMemory(&remote, sizeof(remote));
    RtlCopyMemory(&remote, to, (SIZE_T)ks__sockaddr_len(s->family));
    PWSK_SOCKET wsk;
    err = NT_SUCCESS(ks__op_prepare(&s->tx)) ? ks__call_enter(s, KS_SS_DATAGRAM, -EINVAL, &wsk)
                                             : -ENOMEM;
    ks_ssize_t result = err; /* the bracket's refusal, or the send's result below */
    if (err == 0) {
        WSK_BUF wbuf;
        PIRP irp = ks__op_begin(&s->tx);
        NTSTATUS status = ks__op_lock_buffer(&s->tx, (void *)buf, (ULONG)len, IoReadAccess, &wbuf);
        if (NT_SUCCESS(status))
            status = ks__wsk_send_to(wsk, &wbuf, 0, (const SOCKADDR *)&remote, irp);
        ks__call_leave(s);
        /* A datagram send does not wait for a peer: it is waited for even
         * when non-blocking, and SO_SNDTIMEO does not apply. */
        status = ks__op_wait(&s->tx, status, NULL, NULL);
        result = NT_SUCCESS(status) ? (ks_ssize_t)len : ks__sock_error(s, status);
    }
    ks__sock_unlock(&s->tx_lock);
    ks__ready_wake_waiters(s); /* an asynchronous send may have found the lock taken */
    ks__sock_put(s);
    return result;
}

/* Hands the datagram the readiness engine holds to the caller (rx lock). */
static ks_ssize_t take_datagram(ks_sock *s, void *buf, size_t len, struct sockaddr *from,
                                int *fromlen, ULONG *flags_out)
{
    struct ks_ready *r = &s->ready;
    KS_ASSERT(ks__lock_held_by_me(&s->rx_lock) && r->dg_held);
    size_t n = len < r->dg_len ? len : r->dg_len;
    if (n > 0)
        RtlCopyMemory(buf, s->peek_buf, n);
    *flags_out = r->dg_flags | (n < r->dg_len ? MSG_TRUNC : 0);
    ks__copy_out_addr(&r->dg_from, from, fromlen);
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    r->dg_held = FALSE;
    KeReleaseSpinLock(&s->lock, irql);
    return (ks_ssize_t)n;
}

/* Blocking WskReceiveFrom straight into the caller's buffer (rx lock held,
 * nothing in flight). */
static ks_ssize_t recvfrom_direct(ks_sock *s, void *buf, size_t len, struct sockaddr *from,
                                  int *fromlen, ULONG *flags_out)
{
    KS_ASSERT(ks__lock_held_by_me(&s->rx_lock));
    KS_ASSERT(s->ready.rx == KS_ASYNC_IDLE && !ks__op_busy(&s->rx)); /* nothing in flight */
    if (!NT_SUCCESS(ks__op_prepare(&s->rx)))
        return -ENOMEM;
    PWSK_SOCKET wsk;
    int err = ks__call_enter(s, KS_SS_DATAGRAM, -EINVAL, &wsk);
    if (err != 0)
        return err;
    ks_addr remote;
    RtlZeroMemory(&remote, sizeof(remote));
    WSK_BUF wbuf;
    ULONG control_len = 0;
    ULONG_PTR info = 0;
    PIRP irp = ks__op_begin(&s->rx);
    NTSTATUS status = ks__op_lock_buffer(&s->rx, buf, (ULONG)len, IoWriteAccess, &wbuf);
    if (NT_SUCCESS(status))
        status =
            ks__wsk_receive_from(wsk, &wbuf, 0, (PSOCKADDR)&remote, &control_len, flags_out, irp);
    ks__call_leave(s);
    status = ks__op_wait(&s->rx, status, NULL, &info);
    if (NT_SUCCESS(status)) {
        ks__copy_out_addr(&remote, from, fromlen);
        return (ks_ssize_t)info;
    }
    *flags_out = 0;
    return ks__sock_error(s, status);
}

/* ks_recvfrom with the rx lock held: a datagram the readiness engine holds
 * comes first; a receive it has in flight is waited for (non-blocking:
 * -EWOULDBLOCK); else a blocking receive. */
static ks_ssize_t recvfrom_locked(ks_sock *s, void *buf, size_t len, struct sockaddr *from,
                                  int *fromlen, ULONG *flags_out, BOOLEAN nonblocking,
                                  const ks_deadline *d)
{
    KS_ASSERT(ks__lock_held_by_me(&s->rx_lock));
    for (;;) {
        ks__ready_rx_reap(s);
        if (s->ready.dg_held)
            return take_datagram(s, buf, len, from, fromlen, flags_out);
        int step = ks__ready_rx_next(s, nonblocking, d);
        if (step == KS_RX_DIRECT)
            return recvfrom_direct(s, buf, len, from, fromlen, flags_out);
        if (step != KS_RX_RETRY)
            return step;
    }
}

/* ks__recvfrom_ex with ks_recvfrom's flags (MSG_DONTWAIT). */
static ks_ssize_t recvfrom_flags(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
                                 int *fromlen, ULONG *control_flags)
{
    ks_sock *s;
    int err = ks__fd_enter(fd, &s);
    if (err != 0)
        return err;
    if (from != NULL && fromlen == NULL)
        err = -EFAULT;
    else if (fromlen != NULL && *fromlen < 0)
        err = -EINVAL;
    else
        err = dgram_checks(s, buf, len, flags);
    if (err == 0 && s->state != KS_SS_DATAGRAM)
        err = -EINVAL;
    BOOLEAN nonblocking = s->nonblocking || (flags & MSG_DONTWAIT) != 0;
    if (err == 0)
        err = ks__sock_lock_mode(s, &s->rx_lock, nonblocking);
    if (err != 0) {
        ks__sock_put(s);
        return err;
    }
    ULONG flags_out = 0;
    ks_deadline d = ks__deadline_in(nonblocking ? 0 : s->rcvtimeo_ms);
    ks_ssize_t result = recvfrom_locked(s, buf, len, from, fromlen, &flags_out, nonblocking, &d);
    ks__sock_unlock(&s->rx_lock);
    ks__ready_wake(s); /* pollers could not arm while we held the lock */
    ks__sock_put(s);
    if (control_flags != NULL)
        *control_flags = result >= 0 ? flags_out : 0;
    return result;
}

ks_ssize_t ks__recvfrom_ex(int fd, void *buf, size_t len, struct sockaddr *from, int *fromlen,
                           ULONG *control_flags)
{
    return recvfrom_flags(fd, buf, len, 0, from, fromlen, control_flags);
}

ks_ssize_t ks_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
                       int *fromlen)
{
    if ((flags & ~MSG_DONTWAIT) != 0)
        return ks__can_block() ? -EOPNOTSUPP : -EPERM;
    ULONG control_flags = 0;
    ks_ssize_t n = recvfrom_flags(fd, buf, len, flags, from, fromlen, &control_flags);
    if (n >= 0 && (control_flags & MSG_TRUNC) != 0)
        return -EMSGSIZE;
    return n;
}
