/*
 * ks_shutdown.c - ks_shutdown: ends sending (a graceful WskDisconnect) and/or
 * receiving (a library flag) on a connected stream socket.
 *
 * WSK has no half-close of the receive side: SD_RECEIVE only makes later
 * ks_recv calls return 0 (end of stream) at once, as Winsock's shutdown
 * does without telling the peer. A receive already waiting is not woken.
 */
#include "ks_socket.h"
#include "ks_descriptor.h"

static void set_flag(ks_sock *s, BOOLEAN *flag)
{
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    *flag = TRUE;
    KeReleaseSpinLock(&s->lock, irql);
}

int ks_shutdown(int fd, int how)
{
    ks_sock *s;
    int err = ks__fd_enter(fd, &s);
    if (err != 0)
        return err;
    if (how != SD_RECEIVE && how != SD_SEND && how != SD_BOTH)
        err = -EINVAL;
    else
        err = ks__sock_lock(s, &s->ctl_lock);
    if (err != 0) {
        ks__sock_put(s);
        return err;
    }
    if (s->type != SOCK_STREAM || s->state != KS_SS_CONNECTED) {
        err = -ENOTCONN;
    } else if (how != SD_RECEIVE && !s->shut_wr) {
        /* Graceful, bounded as at close. */
        NTSTATUS status = ks__sock_wsk_shutdown_send(s, KS_CLOSE_DISCONNECT_MS);
        if (NT_SUCCESS(status)) {
            set_flag(s, &s->shut_wr);
        } else if (s->closing) {
            err = -EBADF;
        } else if (status == STATUS_CANCELLED) {
            /* The bound passed (a peer that does not read holds the
             * disconnect back): the send side may be shut already, so
             * sending is over either way. */
            set_flag(s, &s->shut_wr);
            err = -ETIMEDOUT;
        } else {
            /* STATUS_NOT_IMPLEMENTED (Wine) gives -EOPNOTSUPP: nothing
             * changed, the socket is still usable. */
            err = ks__sock_error(s, status);
        }
    }
    /* SD_BOTH ends receiving only if ending sending worked. */
    if (err == 0 && how != SD_SEND)
        set_flag(s, &s->shut_rd);
    ks__sock_unlock(&s->ctl_lock);
    ks__sock_put(s);
    return err;
}
