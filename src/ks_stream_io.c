/* ks_stream_io.c - ks_send and ks_recv on connected stream sockets. */
#include "ks_socket.h"

/* Largest piece handed to the provider in one request (an MDL describes at
 * most 4 GiB; smaller pieces bound the pages locked at once). */
#define KS_IO_CHUNK (64u * 1024 * 1024)
/* Largest MSG_PEEK (bytes held in the socket's peek buffer). */
#define KS_PEEK_MAX (64u * 1024)

static int io_error(ks_sock *s, NTSTATUS status)
{
    if (s->closing)
        return -EBADF;
    int err = ks_status_to_errno(status);
    return err != 0 ? err : -EIO;
}

/* Sends or receives one piece through op; returns the byte count or an error. */
static ks_ssize_t stream_request(ks_sock *s, ks_op *op, BOOLEAN send, void *buf, ULONG len,
                                 ULONG flags)
{
    int err = ks_call_enter(s, KS_SS_CONNECTED, -ENOTCONN);
    if (err != 0)
        return err;
    const WSK_PROVIDER_CONNECTION_DISPATCH *d =
        (const WSK_PROVIDER_CONNECTION_DISPATCH *)s->wsk->Dispatch;
    WSK_BUF wbuf;
    PIRP irp = ks_op_begin(op);
    NTSTATUS status = ks_op_lock_buffer(op, buf, len, send ? IoReadAccess : IoWriteAccess, &wbuf);
    if (NT_SUCCESS(status))
        status =
            send ? d->WskSend(s->wsk, &wbuf, flags, irp) : d->WskReceive(s->wsk, &wbuf, flags, irp);
    ks_call_leave(s);
    ULONG_PTR info;
    status = ks_op_wait(op, status, NULL, &info);
    if (!NT_SUCCESS(status))
        return io_error(s, status);
    return (ks_ssize_t)info;
}

/*
 * Common entry of ks_send/ks_recv: looks fd up, checks the arguments and
 * takes the direction lock. Returns 1 with *out referenced and locked, 0 for
 * a zero-length call (nothing to do), or a negative errno.
 */
static int stream_enter(int fd, const void *buf, size_t len, int flags, int allowed_flags,
                        BOOLEAN send, ks_sock **out)
{
    ks_sock *s = NULL;
    int err = ks_fd_enter(fd, &s);
    if (err != 0 || s == NULL)
        return err < 0 ? err : -EBADF;
    if ((flags & ~allowed_flags) != 0 || s->type != SOCK_STREAM)
        err = -EOPNOTSUPP;
    else if (buf == NULL && len > 0)
        err = -EFAULT;
    else if (len > KS_MAX_IO_SIZE)
        err = -EINVAL;
    else if (send && s->shut_wr)
        err = -EPIPE; /* ks_shutdown(SD_SEND) */
    else if (!send && s->shut_rd)
        len = 0; /* ks_shutdown(SD_RECEIVE): end of stream at once */
    if (err == 0 && len > 0)
        err = ks_sock_lock(s, send ? &s->tx_lock : &s->rx_lock);
    if (err != 0 || len == 0) {
        ks_sock_put(s);
        return err < 0 ? err : 0;
    }
    *out = s;
    return 1;
}

ks_ssize_t ks_send(int fd, const void *buf, size_t len, int flags)
{
    ks_sock *s = NULL;
    int entered = stream_enter(fd, buf, len, flags, 0, TRUE, &s);
    if (entered <= 0)
        return entered;
    size_t sent = 0;
    ks_ssize_t result = 0;
    while (sent < len) {
        ULONG piece = (ULONG)(len - sent > KS_IO_CHUNK ? KS_IO_CHUNK : len - sent);
        ks_ssize_t n = stream_request(s, &s->tx, TRUE, (UCHAR *)buf + sent, piece, 0);
        if (n < 0) {
            result = n;
            break;
        }
        if (n == 0) { /* a send that moved nothing: the stream is gone */
            result = -ECONNRESET;
            break;
        }
        sent += (size_t)n;
    }
    ks_sock_unlock(&s->tx_lock);
    ks_sock_put(s);
    return result < 0 ? result : (ks_ssize_t)len;
}

/* Fills the peek buffer with at least want bytes (fewer if the stream ends).
 * Returns the bytes held, or an error (rx lock held). */
static ks_ssize_t peek_fill(ks_sock *s, ULONG want)
{
    if (s->peek_buf == NULL) {
        s->peek_buf = (UCHAR *)ks_alloc(KS_PEEK_MAX, KS_TAG_BUFFER);
        if (s->peek_buf == NULL)
            return -ENOMEM;
    }
    if (s->peek_off > 0) { /* keep the held bytes at the start */
        RtlMoveMemory(s->peek_buf, s->peek_buf + s->peek_off, s->peek_len);
        s->peek_off = 0;
    }
    while (s->peek_len < want) {
        ks_ssize_t n = stream_request(s, &s->rx, FALSE, s->peek_buf + s->peek_len,
                                      KS_PEEK_MAX - s->peek_len, 0);
        if (n < 0)
            return s->peek_len > 0 ? (ks_ssize_t)s->peek_len : n;
        if (n == 0)
            break;
        s->peek_len += (ULONG)n;
    }
    return (ks_ssize_t)s->peek_len;
}

/* Moves up to len held (peeked) bytes to buf. */
static size_t take_peeked(ks_sock *s, UCHAR *buf, size_t len)
{
    size_t n = len < s->peek_len ? len : s->peek_len;
    if (n == 0)
        return 0; /* peek_buf may not exist yet */
    RtlCopyMemory(buf, s->peek_buf + s->peek_off, n);
    s->peek_off += (ULONG)n;
    s->peek_len -= (ULONG)n;
    if (s->peek_len == 0)
        s->peek_off = 0;
    return n;
}

static ks_ssize_t recv_locked(ks_sock *s, UCHAR *buf, size_t len, int flags)
{
    BOOLEAN waitall = (flags & MSG_WAITALL) != 0;
    if (flags & MSG_PEEK) {
        ULONG want = 1;
        if (waitall)
            want = (ULONG)(len < KS_PEEK_MAX ? len : KS_PEEK_MAX);
        ks_ssize_t held = peek_fill(s, want);
        if (held <= 0)
            return held;
        size_t n = len < (size_t)held ? len : (size_t)held;
        RtlCopyMemory(buf, s->peek_buf + s->peek_off, n);
        return (ks_ssize_t)n;
    }
    size_t got = take_peeked(s, buf, len);
    if (got > 0 && !waitall)
        return (ks_ssize_t)got;
    while (got < len) {
        ULONG piece = (ULONG)(len - got > KS_IO_CHUNK ? KS_IO_CHUNK : len - got);
        /* WSK_FLAG_WAITALL lets a provider that honours it fill the piece in
         * one request; the loop makes MSG_WAITALL hold with any provider. */
        ks_ssize_t n =
            stream_request(s, &s->rx, FALSE, buf + got, piece, waitall ? WSK_FLAG_WAITALL : 0);
        if (n < 0)
            return got > 0 ? (ks_ssize_t)got : n;
        if (n == 0)
            break; /* orderly close by the peer */
        got += (size_t)n;
        if (!waitall)
            break;
    }
    return (ks_ssize_t)got;
}

ks_ssize_t ks_recv(int fd, void *buf, size_t len, int flags)
{
    ks_sock *s = NULL;
    int entered = stream_enter(fd, buf, len, flags, MSG_WAITALL | MSG_PEEK, FALSE, &s);
    if (entered <= 0)
        return entered;
    ks_ssize_t result = recv_locked(s, (UCHAR *)buf, len, flags);
    ks_sock_unlock(&s->rx_lock);
    ks_sock_put(s);
    return result;
}
