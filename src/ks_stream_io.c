/*
 * ks_stream_io.c - ks_send and ks_recv on connected stream sockets.
 *
 * Receiving: bytes held in the socket's buffer (peek_buf: taken by
 * MSG_PEEK, or read ahead by the readiness engine for non-blocking calls and
 * ks_poll) are handed out first; a read-ahead still in flight is waited for
 * (or, non-blocking, reported as -EWOULDBLOCK); only when nothing is held or
 * in flight does a blocking call receive straight into the caller's buffer.
 * So the byte order holds whichever way the bytes came.
 *
 * Sending: a blocking send hands the caller's buffer to the provider (locked
 * in place) and waits; a non-blocking one copies up to 64 KiB and sends it
 * in the background (ks__ready_send). Either first settles the background
 * send of an earlier call.
 *
 * SO_RCVTIMEO/SO_SNDTIMEO bound the whole call (a deadline taken at entry).
 * A bounded call goes through the readiness engine's requests (read-ahead,
 * background send of a copy) and waits for them up to the deadline; on
 * expiry the request stays in flight. So a timeout never depends on the
 * provider honouring IoCancelIrp (Wine's does not: its requests are
 * blocking calls on worker threads, ended only by closing the socket), and
 * a receive timeout loses no data: what arrives later is read next.
 */
#include "ks_stream_io.h"
#include "ks_descriptor.h"
#include "ks_ready.h"
#include "ks_wsk.h"

/* Largest piece handed to the provider in one request (an MDL describes at
 * most 4 GiB; smaller pieces bound the pages locked at once). */
#define KS_IO_CHUNK (64u * 1024 * 1024)

/* Sends or receives one piece through op, straight from/into the caller's
 * buffer, and waits for it. Returns the byte count or an error. */
static ks_ssize_t stream_request(ks_sock *s, ks_op *op, BOOLEAN send, void *buf, ULONG len,
                                 ULONG flags)
{
    KS_ASSERT(ks__lock_held_by_me(send ? &s->tx_lock : &s->rx_lock));
    KS_ASSERT(op == (send ? &s->tx : &s->rx) && !ks__op_busy(op));
    if (!NT_SUCCESS(ks__op_prepare(op)))
        return -ENOMEM;
    PWSK_SOCKET wsk;
    int err = ks__call_enter(s, KS_SS_CONNECTED, -ENOTCONN, &wsk);
    if (err != 0)
        return err;
    WSK_BUF wbuf;
    PIRP irp = ks__op_begin(op);
    NTSTATUS status = ks__op_lock_buffer(op, buf, len, send ? IoReadAccess : IoWriteAccess, &wbuf);
    if (NT_SUCCESS(status))
        status =
            send ? ks__wsk_send(wsk, &wbuf, flags, irp) : ks__wsk_receive(wsk, &wbuf, flags, irp);
    ks__call_leave(s);
    ULONG_PTR info;
    status = ks__op_wait(op, status, NULL, &info);
    if (!NT_SUCCESS(status))
        return ks__sock_error(s, status);
    return (ks_ssize_t)info;
}

/*
 * Common entry of ks_send/ks_recv: looks fd up (or takes a reference to
 * held, if not NULL), checks the arguments and takes the direction lock
 * (without waiting for it when non-blocking). Returns 1 with *out
 * referenced and locked, 0 for a zero-length call (nothing to do), or a
 * negative errno.
 */
static int stream_enter(int fd, ks_sock *held, const void *buf, size_t len, int flags,
                        int allowed_flags, BOOLEAN send, ks_sock **out)
{
    ks_sock *s = NULL;
    int err;
    if (held != NULL) {
        err = ks__can_block() ? 0 : -EPERM;
        if (err == 0) {
            ks__sock_get(held);
            s = held;
        }
    } else {
        err = ks__fd_enter(fd, &s);
    }
    if (err != 0 || s == NULL)
        return err < 0 ? err : -EBADF;
    if ((flags & ~allowed_flags) != 0 || s->type != SOCK_STREAM)
        err = -EOPNOTSUPP;
    else if (buf == NULL && len > 0)
        err = -EFAULT;
    else if (len > KS_MAX_IO_SIZE)
        err = -EINVAL;
    else if (!send && s->ev != NULL && (flags & KS_MSG_EVENTS) == 0)
        err = -EINVAL; /* its data goes to the event handlers */
    else if (s->state == KS_SS_LISTENING)
        err = -ENOTCONN; /* its receive side holds connections, not bytes */
    else if (send && s->shut_wr)
        err = -EPIPE; /* ks_shutdown(SD_SEND) */
    else if (!send && s->shut_rd)
        len = 0; /* ks_shutdown(SD_RECEIVE): end of stream at once */
    if (err == 0 && len > 0) {
        err = ks__sock_lock_mode(s, send ? &s->tx_lock : &s->rx_lock,
                                 s->nonblocking || (flags & MSG_DONTWAIT) != 0);
    }
    if (err != 0 || len == 0) {
        ks__sock_put(s);
        return err < 0 ? err : 0;
    }
    *out = s;
    return 1;
}

static ks_ssize_t send_blocking(ks_sock *s, const UCHAR *buf, size_t len)
{
    size_t sent = 0;
    while (sent < len) {
        ULONG piece = (ULONG)(len - sent > KS_IO_CHUNK ? KS_IO_CHUNK : len - sent);
        ks_ssize_t n = stream_request(s, &s->tx, TRUE, (UCHAR *)buf + sent, piece, 0);
        if (n < 0)
            return n;
        if (n == 0) /* a send that moved nothing: the stream is gone */
            return -ECONNRESET;
        sent += (size_t)n;
    }
    return (ks_ssize_t)len;
}

/* A blocking send bounded by SO_SNDTIMEO: 64 KiB pieces copied and sent in
 * the background, each waited for up to the deadline. On expiry the piece
 * stays with the provider (it is the library's copy: nothing needs
 * cancelling, which not every provider honours) and the stream is broken. */
static ks_ssize_t send_timed(ks_sock *s, const UCHAR *buf, size_t len, const ks_deadline *d)
{
    size_t sent = 0;
    while (sent < len) {
        ks_ssize_t n = ks__ready_send(s, buf + sent, len - sent);
        if (n < 0)
            return n;
        int err = ks__ready_tx_settle(s, FALSE, d);
        if (err == -ETIMEDOUT) {
            /* Part of the data may be gone: later sends -EPIPE, and the
             * close is abortive. */
            KIRQL irql;
            KeAcquireSpinLock(&s->lock, &irql);
            s->send_broken = TRUE;
            KeReleaseSpinLock(&s->lock, irql);
        }
        if (err != 0)
            return err;
        sent += (size_t)n;
    }
    return (ks_ssize_t)len;
}

/* ks_send on fd, or on held (if not NULL). */
static ks_ssize_t send_on(int fd, ks_sock *held, const void *buf, size_t len, int flags)
{
    ks_sock *s = NULL;
    int entered = stream_enter(fd, held, buf, len, flags, MSG_DONTWAIT, TRUE, &s);
    if (entered <= 0)
        return entered;
    BOOLEAN nonblocking = s->nonblocking || (flags & MSG_DONTWAIT) != 0;
    ks_deadline d = ks__deadline_in(nonblocking ? 0 : s->sndtimeo_ms);
    ks_ssize_t result = s->send_broken ? -EPIPE : ks__ready_tx_settle(s, nonblocking, &d);
    if (result == 0 && nonblocking)
        result = ks__ready_send(s, buf, len);
    else if (result == 0)
        result = d.bounded ? send_timed(s, (const UCHAR *)buf, len, &d)
                           : send_blocking(s, (const UCHAR *)buf, len);
    ks__sock_unlock(&s->tx_lock);
    ks__ready_wake_waiters(s); /* an asynchronous send may have found the lock taken */
    ks__sock_put(s);
    return result;
}

ks_ssize_t ks_send(int fd, const void *buf, size_t len, int flags)
{
    return send_on(fd, NULL, buf, len, flags);
}

ks_ssize_t ks__send_sock(ks_sock *s, const void *buf, size_t len, int flags)
{
    KS_ASSERT(s != NULL && s->refs > 0); /* the caller's reference */
    return send_on(0, s, buf, len, flags);
}

/* Blocking receive into the free end of the buffer (MSG_PEEK). Returns the
 * bytes added, 0 at end of stream, or an error (rx lock held, nothing in
 * flight). */
static ks_ssize_t fill_buffer(ks_sock *s)
{
    KS_ASSERT(s->ready.rx == KS_ASYNC_IDLE); /* nothing in flight */
    if (s->peek_buf == NULL) {
        s->peek_buf = (UCHAR *)ks__alloc(KS_READY_BUF, KS_TAG_BUFFER);
        if (s->peek_buf == NULL)
            return -ENOMEM;
    }
    if (s->peek_off > 0) { /* keep the held bytes at the start */
        RtlMoveMemory(s->peek_buf, s->peek_buf + s->peek_off, s->peek_len);
        s->peek_off = 0;
    }
    ks_ssize_t n =
        stream_request(s, &s->rx, FALSE, s->peek_buf + s->peek_len, KS_READY_BUF - s->peek_len, 0);
    if (n > 0)
        s->peek_len += (ULONG)n;
    return n;
}

/* Moves up to len held bytes to buf. */
static size_t take_held(ks_sock *s, UCHAR *buf, size_t len)
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

/* Copies held bytes without taking them (MSG_PEEK). */
static ks_ssize_t copy_held(ks_sock *s, UCHAR *buf, size_t len)
{
    size_t n = len < s->peek_len ? len : s->peek_len;
    if (n > 0)
        RtlCopyMemory(buf, s->peek_buf + s->peek_off, n);
    return (ks_ssize_t)n;
}

static void set_eof(ks_sock *s)
{
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    s->ready.rx_eof = TRUE;
    KeReleaseSpinLock(&s->lock, irql);
}

/* got > 0 ? got : err - a call that took bytes reports them first. */
static ks_ssize_t got_or(size_t got, int err)
{
    return got > 0 ? (ks_ssize_t)got : err;
}

/* A non-blocking receive with nothing to return: a pending error (a
 * background send or connect that failed; ks_poll reported POLLERR) is
 * returned, and cleared, rather than -EWOULDBLOCK, so that a caller that
 * only receives does not spin on POLLERR (BSD sockets do the same). */
static ks_ssize_t would_block(ks_sock *s, size_t got)
{
    if (got > 0)
        return (ks_ssize_t)got;
    LONG err = InterlockedExchange(&s->so_error, 0);
    return err != 0 ? err : -EWOULDBLOCK;
}

static ks_ssize_t recv_locked(ks_sock *s, UCHAR *buf, size_t len, int flags, BOOLEAN nonblocking,
                              const ks_deadline *d)
{
    struct ks_ready *r = &s->ready;
    BOOLEAN waitall = (flags & MSG_WAITALL) != 0;
    BOOLEAN peek = (flags & MSG_PEEK) != 0;
    ULONG want = 1; /* bytes a peek waits for */
    size_t got = 0;
    KS_ASSERT(ks__lock_held_by_me(&s->rx_lock));
    if (peek && waitall)
        want = (ULONG)(len < KS_READY_BUF ? len : KS_READY_BUF);
    for (;;) {
        ks__ready_rx_reap(s);
        if (peek) {
            if (s->peek_len >= want ||
                (s->peek_len > 0 && (nonblocking || r->rx_eof || r->rx_err != 0)))
                return copy_held(s, buf, len);
        } else {
            got += take_held(s, buf + got, len - got);
            if (got == len || (got > 0 && (!waitall || nonblocking)))
                return (ks_ssize_t)got;
        }
        if (r->rx_eof)
            return (ks_ssize_t)got; /* orderly close by the peer */
        if (r->rx_err != 0)
            return got_or(got, r->rx_err);
        /* A read-ahead in flight: its bytes come first (waited for, or
         * -EWOULDBLOCK); one a poller could not issue: its error. */
        int step = ks__ready_rx_next(s, nonblocking, d);
        if (step == -EWOULDBLOCK)
            return would_block(s, got);
        if (step < 0)
            return got_or(got, step);
        if (step == KS_RX_RETRY)
            continue;
        if (peek) {
            ks_ssize_t n = fill_buffer(s);
            if (n < 0)
                return s->peek_len > 0 ? copy_held(s, buf, len) : n;
            if (n == 0)
                set_eof(s);
            continue;
        }
        ULONG piece = (ULONG)(len - got > KS_IO_CHUNK ? KS_IO_CHUNK : len - got);
        /* WSK_FLAG_WAITALL lets a provider that honours it fill the piece in
         * one request; the loop makes MSG_WAITALL hold with any provider. */
        ks_ssize_t n =
            stream_request(s, &s->rx, FALSE, buf + got, piece, waitall ? WSK_FLAG_WAITALL : 0);
        if (n < 0)
            return got_or(got, (int)n);
        if (n == 0) {
            set_eof(s);
            return (ks_ssize_t)got;
        }
        got += (size_t)n;
        if (!waitall)
            return (ks_ssize_t)got;
    }
}

/* ks_recv with the flags given allowed (KS_MSG_EVENTS for the event layer). */
static ks_ssize_t recv_allowed(int fd, void *buf, size_t len, int flags, int allowed)
{
    ks_sock *s = NULL;
    int entered = stream_enter(fd, NULL, buf, len, flags, allowed, FALSE, &s);
    if (entered <= 0)
        return entered;
    BOOLEAN nonblocking = s->nonblocking || (flags & MSG_DONTWAIT) != 0;
    ks_deadline d = ks__deadline_in(nonblocking ? 0 : s->rcvtimeo_ms);
    ks_ssize_t result = recv_locked(s, (UCHAR *)buf, len, flags, nonblocking, &d);
    ks__sock_unlock(&s->rx_lock);
    /* Pollers could not arm a read-ahead while we held the lock. */
    ks__ready_wake(s);
    ks__sock_put(s);
    return result;
}

ks_ssize_t ks_recv(int fd, void *buf, size_t len, int flags)
{
    return recv_allowed(fd, buf, len, flags, MSG_WAITALL | MSG_PEEK | MSG_DONTWAIT);
}

ks_ssize_t ks__recv_flags(int fd, void *buf, size_t len, int flags)
{
    return recv_allowed(fd, buf, len, flags, MSG_WAITALL | MSG_PEEK | MSG_DONTWAIT | KS_MSG_EVENTS);
}
