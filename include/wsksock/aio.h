/*
 * wsksock/aio.h - asynchronous socket calls with completion callbacks.
 * Included by <wsksock.h>; see its conventions (descriptors, negative errno
 * results).
 *
 * Every call that can wait has an asynchronous form here. It returns at
 * once: 0 when the operation was started (its callback then runs exactly
 * once), or a negative errno when it was not (the callback never runs).
 * The shape is overlapped I/O with a completion port, or libuv's requests:
 *  - The caller owns a struct ks_aio per operation in flight and keeps it,
 *    unmoved, until the callback has run; it may reuse or free it inside
 *    the callback. req->data is the caller's.
 *  - The callback runs at PASSIVE_LEVEL on one of the library's completion
 *    threads (two of them), never inside the submitting call (but possibly
 *    on another thread before that call returned). It may call any ks_*
 *    function, including submitting the next asynchronous operation on the
 *    same socket; a blocking call in a callback holds up other completions,
 *    so keep them short. Never call ks_cleanup from a callback.
 *  - Buffers: the library reads or writes the caller's buffer only on its
 *    completion threads, until the callback starts; the buffer is the
 *    caller's again when the callback runs (also after a cancellation or a
 *    close). It may be paged or nonpaged pool, not the stack of a thread
 *    that returns meanwhile. The provider never writes into it directly:
 *    data comes through the socket's own read-ahead buffer (64 KiB), so a
 *    cancellation never waits for the provider.
 *  - Order: per socket and direction (receive side: recv, recvfrom, accept;
 *    send side: send, sendto, connect), operations complete in the order
 *    they were submitted; the next one starts when the previous completed.
 *    Mixing them with blocking calls on the same socket and direction is
 *    allowed (they take turns) but has no defined order.
 *  - Timeouts: SO_RCVTIMEO/SO_SNDTIMEO do not apply; use ks_aio_cancel.
 *  - Close: ks_close ends the socket's pending operations with -EBADF
 *    (abortively if a send was among them); ks_close_async is the graceful
 *    close: it lets the sends queued before it complete first (see below).
 *    ks_cleanup closes every socket, waits for every callback to
 *    return and stops the completion threads: after ks_cleanup returns no
 *    callback runs, so a driver may unload.
 *  - Closing from a callback (one rule, stated alike in wsksock/aio.h
 *    and wsksock/events.h): ks_close and ks_close_async may both be
 *    called from any callback, on any socket, the callback's own included,
 *    and neither waits there: the descriptor is closed at once and the socket's close
 *    (the graceful disconnect, up to 5 s or the SO_LINGER time) runs on one
 *    of the library's blocking-call threads. They differ only in what
 *    happens to pending operations: ks_close ends them with -EBADF,
 *    ks_close_async lets queued sends finish.
 *  - Non-blocking mode (FIONBIO) does not change these calls.
 * IRQL of every submitting call: PASSIVE_LEVEL (else -EPERM).
 * Errors of every submitting call: -EPERM, -EBADF, -EFAULT (req or cb NULL,
 * buf NULL with len > 0), -EOPNOTSUPP (a flag bit the call does not list),
 * -EINVAL (length above KS_MAX_IO_SIZE; ks_recv_async: length 0), -EBUSY
 * (req is already in flight), -ENOMEM, -ENETDOWN (library not started or
 * stopping); the error the blocking call would
 * report at once for a socket in the wrong state is reported by the
 * callback instead.
 */
#ifndef WSKSOCK_AIO_H
#define WSKSOCK_AIO_H

#include <stddef.h>

#include "wsksock/sal.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ks_aio;
struct addrinfo;
struct sockaddr; /* <wsksock/sockaddr.h>; declared here so the header stands alone */

/* result: what the blocking call would return (bytes, a descriptor, 0), or
 * a negative errno; -ECANCELED after ks_aio_cancel. */
typedef _IRQL_requires_(PASSIVE_LEVEL) void ks_aio_cb(_Inout_ struct ks_aio *req, ptrdiff_t result);

/* One asynchronous operation. Zero it (or leave it from a completed
 * operation) before submitting; only data is for the caller. */
struct ks_aio {
    void *data;           /* the caller's; untouched by the library */
    void *ks_private[40]; /* the library's, while in flight */
};

/* ks_recv_async - receive up to len bytes (flags: 0 or MSG_WAITALL: the
 * callback then waits for len bytes, or fewer at end of stream or when an
 * error ends the stream after some bytes came, as BSD recv). len must be
 * at least 1: a length of 0 is refused at once with -EINVAL (the callback
 * never runs), so that a result of 0 always means end of stream. result:
 * bytes received (1..len), 0 at end of stream, or an error (-ECONNRESET,
 * -ENOTCONN, -EBADF, ...). */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_recv_async(
    int s, _Out_writes_bytes_(len) void *buf, size_t len, int flags, _Inout_ struct ks_aio *req,
    _In_ ks_aio_cb *cb);

/* ks_send_async - send all len bytes (flags: 0). result: len once the
 * provider has completed the sends of every byte, or an error. A send
 * cancelled after some bytes were handed over leaves the stream broken
 * (later sends fail with -EPIPE). */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_send_async(
    int s, _In_reads_bytes_(len) const void *buf, size_t len, int flags, _Inout_ struct ks_aio *req,
    _In_ ks_aio_cb *cb);

/* ks_accept_async - accept a connection on a listening stream socket.
 * result: the new descriptor (the caller's; blocking mode). addr/addrlen
 * (optional, as ks_accept) are written before the callback runs and must
 * stay valid until then. */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_accept_async(
    int s, _Out_writes_bytes_opt_(*addrlen) struct sockaddr *addr, _Inout_opt_ int *addrlen,
    _Inout_ struct ks_aio *req, _In_ ks_aio_cb *cb);

/* ks_connect_async - connect a stream socket (addr is copied). result: 0,
 * or -ECONNREFUSED, -ETIMEDOUT, -ENETUNREACH, -EISCONN, ... */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_connect_async(
    int s, _In_reads_bytes_(addrlen) const struct sockaddr *addr, int addrlen,
    _Inout_ struct ks_aio *req, _In_ ks_aio_cb *cb);

/* ks_recvfrom_async / ks_sendto_async - datagrams (flags: 0). from/fromlen
 * (optional) are written before the callback runs; to is copied. result:
 * the datagram's size (truncated to len: see ks_recvfrom), or len. */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_recvfrom_async(
    int s, _Out_writes_bytes_(len) void *buf, size_t len, int flags,
    _Out_writes_bytes_opt_(*fromlen) struct sockaddr *from, _Inout_opt_ int *fromlen,
    _Inout_ struct ks_aio *req, _In_ ks_aio_cb *cb);
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_sendto_async(
    int s, _In_reads_bytes_(len) const void *buf, size_t len, int flags,
    _In_reads_bytes_(tolen) const struct sockaddr *to, int tolen, _Inout_ struct ks_aio *req,
    _In_ ks_aio_cb *cb);

/*
 * Calls that the provider only offers as waits (a name resolution is a
 * sequence of queries; an orderly close or a graceful shutdown waits for
 * the peer's acknowledgement, up to 5 s): their asynchronous forms run the
 * blocking call on one of the library's two blocking-call threads, so that
 * neither the caller nor the completion threads wait, then the callback
 * runs on a completion thread as for every other asynchronous call.
 *
 * ks_getaddrinfo_async - ks_getaddrinfo in the background (node, service
 * and hints are copied). result: 0 (*res holds the list, to free with
 * ks_freeaddrinfo) or -EAI_*; res must stay valid until the callback.
 * Cancellable before it started (-ECANCELED, *res NULL).
 *
 * ks_close_async - the graceful close, without waiting: the descriptor is
 * closed at once (later calls and submissions get -EBADF; blocked calls
 * and pending receives, accepts and connects end with -EBADF, at the
 * latest when the socket closes), then, in
 * the background, the socket's close waits until the ks_send_async
 * requests queued before it have completed (their callbacks report their
 * own results: all the data went, in order), then closes in order (the
 * peer reads every byte, then end of stream). The whole is bounded by the
 * SO_LINGER time if set, else 5 s: past it (a peer that stopped reading)
 * the close is abortive and the sends still pending end with -EBADF.
 * SO_LINGER {1, 0}: abortive at once. result: 0 once the provider's socket
 * is closed (after the sends' callbacks were started). Not cancellable.
 * Safe in callbacks, as ks_close (see "Closing from a callback" above).
 *
 * ks_shutdown_async - ks_shutdown in the background; result: as
 * ks_shutdown's. Cancellable before it started.
 *
 * Each returns 0 (the callback will run) or an error and never calls the
 * callback: -EFAULT, -EBUSY (req in flight), -EPERM, -ENOMEM, or
 * -ENETDOWN when ks_cleanup runs or ran (ks_close_async has then closed
 * the descriptor and the socket itself, without waiting for the peer's
 * acknowledgement of the disconnect beyond ks_close's own bound).
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_getaddrinfo_async(
    _In_opt_z_ const char *node, _In_opt_z_ const char *service,
    _In_opt_ const struct addrinfo *hints, _Out_ struct addrinfo **res, _Inout_ struct ks_aio *req,
    _In_ ks_aio_cb *cb);
_Must_inspect_result_
    _IRQL_requires_max_(PASSIVE_LEVEL) int ks_close_async(int s, _Inout_ struct ks_aio *req,
                                                          _In_ ks_aio_cb *cb);
/* ks_getnameinfo_async - ks_getnameinfo in the background (sa is copied;
 * host and serv are the caller's buffers, written before the callback and
 * to keep until then). result: 0 or -EAI_*. At once: -EFAULT for sa NULL,
 * -EAI_FAMILY for salen too short to hold a family. Cancellable before it
 * started. */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_getnameinfo_async(
    _In_reads_bytes_(salen) const struct sockaddr *sa, int salen,
    _Out_writes_opt_(hostlen) char *host, size_t hostlen, _Out_writes_opt_(servlen) char *serv,
    size_t servlen, int flags, _Inout_ struct ks_aio *req, _In_ ks_aio_cb *cb);
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_shutdown_async(
    int s, int how, _Inout_ struct ks_aio *req, _In_ ks_aio_cb *cb);

/*
 * ks_aio_cancel - ask an operation in flight to end with -ECANCELED.
 * Works on every provider (the operation owns no provider request). An
 * operation that already finished its work completes with its own result;
 * a send that had handed some of its bytes over completes with -ECANCELED
 * and leaves the stream broken; a send whose bytes were all handed over
 * completes normally. The callback runs later, on a completion thread.
 * IRQL: <= DISPATCH_LEVEL.
 * Returns 0 (the callback will report -ECANCELED), -EALREADY (it is
 * completing with its result; the callback still runs once), -EINVAL (req
 * is not in flight), -EFAULT (req NULL).
 */
_IRQL_requires_max_(DISPATCH_LEVEL) int ks_aio_cancel(_Inout_ struct ks_aio *req);

#ifdef __cplusplus
}
#endif

#endif /* WSKSOCK_AIO_H */
