/*
 * wsksock.h - BSD sockets for Windows kernel-mode drivers, on Winsock Kernel.
 *
 * Conventions, for every function below unless its comment says otherwise:
 *  - Descriptors are positive ints (1 to 2^31 - 1; not small, not dense).
 *    A descriptor is never reused while it is open, and a stale descriptor
 *    (closed, or from before ks_cleanup) gets -EBADF: it can never reach a
 *    freed object. Values come from one counter that survives ks_cleanup
 *    and ks_startup, so a closed descriptor's value is given out again only
 *    after at least 2^30 - 2^22 (over a billion) newer descriptors: until
 *    then a stale descriptor cannot name another socket.
 *  - Failure is a negative errno value from <wsksock/errno.h> (-ECONNREFUSED,
 *    -EBADF, ...); ks_strerror() names it. Nothing is kept in a global "last
 *    error", so calls from many threads never see each other's errors.
 *  - Blocking calls run at PASSIVE_LEVEL only; called above it they return
 *    -EPERM at once and do nothing.
 *  - While ks_cleanup runs on another thread, or before ks_startup, any
 *    call may fail with -ENETDOWN (the library is stopping) besides the
 *    errors its comment lists; descriptors it closes give -EBADF.
 *  - Buffers and addresses stay owned by the caller. They may live on the
 *    stack, in paged or in nonpaged pool: the library locks the pages it
 *    hands to the provider and unlocks them before the call returns.
 *  - Closing a socket from one thread while another thread is blocked on it
 *    wakes the blocked call, which returns -EBADF.
 *  - The SAL annotations (<wsksock/sal.h>) say the same for the WDK's Code
 *    Analysis: the IRQL, each buffer's size, which pointers may be NULL,
 *    which results must be checked. Outside /analyze they expand to nothing.
 *
 * The library must be started with ks_startup() and stopped with
 * ks_cleanup(); see their comments for the rules around DriverEntry and
 * DriverUnload.
 */
#ifndef WSKSOCK_H
#define WSKSOCK_H

#include <stddef.h>

#include "wsksock/errno.h"
#include "wsksock/netdb.h"
#include "wsksock/pool.h"
#include "wsksock/sal.h"
#include "wsksock/sockaddr.h"
#include "wsksock/thread.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Signed size for byte counts: a count >= 0, or a negative errno value. */
typedef ptrdiff_t ks_ssize_t;

/* Largest byte count one ks_send/ks_recv call accepts (counts are signed). */
#define KS_MAX_IO_SIZE ((size_t)PTRDIFF_MAX)

/* Library version, for run-time checks by drivers built against a header. */
#define WSKSOCK_VERSION_MAJOR 0
#define WSKSOCK_VERSION_MINOR 1

/*
 * ks_startup - start the library (register with WSK).
 * Reference-counted: every successful call needs one ks_cleanup(). Safe to
 * call from DriverEntry: it never waits for the WSK provider without bound.
 * If the provider is not attached yet, the first socket call waits for it
 * for at most a few seconds (and fails with -ENETDOWN if it never comes).
 * IRQL: PASSIVE_LEVEL.
 * Returns 0, -EPERM (wrong IRQL), -ENOMEM, or -ENETDOWN (WskRegister failed).
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_startup(void);

/*
 * ks_cleanup - stop the library: the last call closes every socket still
 * open (waking any thread blocked on one), waits until no thread is inside
 * the library on them, releases the provider and deregisters from WSK.
 * It never waits on the caller's good behaviour: sockets left open are
 * simply closed, all at once: their orderly closes (see ks_close) run
 * together and share one 5 s bound in total, whatever their number and
 * their SO_LINGER times (a longer linger time is cut to what is left of
 * the 5 s); past it the rest is closed abortively. So ks_cleanup returns
 * within about 5 s plus the provider's own closing time, even with peers
 * that stopped reading. Calls racing it on other threads (any descriptor,
 * stale or not) get -EBADF or -ENETDOWN. Call it from DriverUnload (or
 * after DriverEntry failed).
 * After the last ks_cleanup every descriptor is stale (-EBADF) and
 * ks_socket() returns -ENETDOWN until ks_startup() is called again.
 * IRQL: PASSIVE_LEVEL (does nothing above it).
 */
_IRQL_requires_max_(PASSIVE_LEVEL) void ks_cleanup(void);

/*
 * ks_socket - create a socket.
 * domain: AF_INET or AF_INET6. type: SOCK_STREAM (protocol 0 or
 * IPPROTO_TCP) or SOCK_DGRAM (protocol 0 or IPPROTO_UDP).
 * A stream socket becomes a WSK listening socket at ks_listen() or a WSK
 * connection socket at ks_connect(); until then it holds only its address.
 * IRQL: PASSIVE_LEVEL.
 * Returns a descriptor, or -EAFNOSUPPORT, -EPROTONOSUPPORT, -EPROTOTYPE,
 * -ENOMEM, -EMFILE (descriptor table full), -ENETDOWN (not started).
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_socket(int domain, int type,
                                                                       int protocol);

/*
 * ks_bind - give a socket its local address (port 0: any port).
 * addr is copied; addrlen must be at least sizeof(struct sockaddr_in) for
 * AF_INET or sizeof(struct sockaddr_in6) for AF_INET6, and the family must
 * be the socket's. For stream sockets the address is really bound at once
 * (so -EADDRINUSE is reported here) and carried over to the listening or
 * connecting socket made later.
 * IRQL: PASSIVE_LEVEL.
 * Returns 0, or -EBADF, -EFAULT (addr NULL), -EINVAL (bad addrlen, already
 * bound), -EAFNOSUPPORT (family mismatch), -EADDRINUSE, -EADDRNOTAVAIL,
 * -ENOMEM.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_bind(
    int s, _In_reads_bytes_(addrlen) const struct sockaddr *addr, int addrlen);

/*
 * ks_listen - make a bound (or, if unbound, wildcard-bound) stream socket
 * accept connections. backlog is advisory (WSK manages its own queue).
 * A socket bound to port 0 keeps the port the provider chose for the bind
 * (providers that cannot tell it, such as Wine's, choose again).
 * IRQL: PASSIVE_LEVEL.
 * Returns 0, or -EBADF, -EOPNOTSUPP (not a stream socket), -EISCONN
 * (connected), -EADDRINUSE, -ENOMEM, or the provider's error when it
 * cannot tell the chosen port (the socket stays bound).
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_listen(int s, int backlog);

/*
 * ks_accept - wait for and take the next connection on a listening socket.
 * If addr is not NULL, the peer's address is copied there, truncated to
 * *addrlen bytes, and *addrlen is set to the address's full size. addr and
 * addrlen may both be NULL; addr without addrlen is -EFAULT.
 * A non-blocking listener (FIONBIO) returns -EWOULDBLOCK when no
 * connection is queued; SO_RCVTIMEO bounds the wait (-ETIMEDOUT; the
 * accept stays in flight and its connection goes to the next call). The
 * new connection starts blocking, with the listener's options.
 * IRQL: PASSIVE_LEVEL.
 * Returns the new connection's descriptor, or -EBADF (also when the
 * listening socket is closed while waiting), -EINVAL (not listening),
 * -EFAULT, -ENOMEM, -EMFILE, -ECONNABORTED, -EWOULDBLOCK, -ETIMEDOUT.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_accept(
    int s, _Out_writes_bytes_opt_(*addrlen) struct sockaddr *addr, _Inout_opt_ int *addrlen);

/*
 * ks_connect - connect a stream socket to a remote address, waiting until
 * the connection is established or fails. An unbound socket is first bound
 * to the wildcard address of its own family.
 * Non-blocking (FIONBIO): returns -EINPROGRESS once the provider took the
 * request (0 or the error if it finished inside the call); ks_poll then
 * reports POLLOUT, with POLLERR if it failed, and SO_ERROR gives the
 * result (0, or the positive errno such as ECONNREFUSED). A second call
 * meanwhile returns -EALREADY, after success -EISCONN.
 * IRQL: PASSIVE_LEVEL.
 * Returns 0, or -EBADF, -EFAULT, -EINVAL (bad addrlen), -EAFNOSUPPORT,
 * -EISCONN (already connected or listening), -ECONNREFUSED, -ETIMEDOUT,
 * -ENETUNREACH, -EHOSTUNREACH, -EADDRNOTAVAIL, -ECONNRESET or
 * -ECONNABORTED (the peer reset the connection as it was made), -ENOMEM,
 * -EINPROGRESS, -EALREADY.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_connect(
    int s, _In_reads_bytes_(addrlen) const struct sockaddr *addr, int addrlen);

/*
 * ks_send - send len bytes on a connected stream socket. It sends all of
 * them or fails: on success the return value is len. A failure after part of
 * the data went out still returns the error (the stream is then broken).
 * One thread may send while another receives on the same socket; two
 * concurrent senders are serialised, each call's bytes kept together.
 * flags: 0 or MSG_DONTWAIT (others give -EOPNOTSUPP).
 * Non-blocking (MSG_DONTWAIT or FIONBIO): copies up to 64 KiB, sends them
 * in the background and returns the count taken (possibly less than len);
 * -EWOULDBLOCK while an earlier background send is in flight (ks_poll:
 * POLLOUT once it completed) or another thread is sending. A background
 * send's error is returned by the next ks_send (and shows as POLLERR /
 * SO_ERROR until then). ks_close gives it up to 5 s (or the SO_LINGER time) to finish.
 * SO_SNDTIMEO bounds a blocking send: -ETIMEDOUT, and the stream is then
 * broken (later sends -EPIPE, the close is abortive).
 * IRQL: PASSIVE_LEVEL.
 * Returns len (non-blocking: the count taken), or -EBADF, -EFAULT (buf NULL
 * with len > 0), -EINVAL (len above KS_MAX_IO_SIZE), -ENOTCONN,
 * -ECONNRESET, -ECONNABORTED, -EPIPE (sending was shut down, or broken by a
 * send timeout), -EOPNOTSUPP (a flag other than MSG_DONTWAIT, or not a
 * stream socket), -ENOMEM, -EWOULDBLOCK, -ETIMEDOUT.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) ks_ssize_t
    ks_send(int s, _In_reads_bytes_(len) const void *buf, size_t len, int flags);

/*
 * ks_recv - receive up to len bytes from a connected stream socket, waiting
 * until at least one byte (or, with MSG_WAITALL, len bytes) arrived.
 * Returns 0 when the peer closed the connection in an orderly way and no
 * data is left; with MSG_WAITALL a short count means the connection ended.
 * flags: 0, or MSG_WAITALL, MSG_PEEK (peek leaves the data queued),
 * MSG_DONTWAIT, combined.
 * A len of 0 returns 0 at once, and so does every call after
 * ks_shutdown(SD_RECEIVE).
 * Non-blocking (MSG_DONTWAIT or FIONBIO): returns what the library holds
 * or the provider has at once, else -EWOULDBLOCK, and a read-ahead stays
 * in flight (ks_poll: POLLIN once it completed). Bytes read ahead are
 * handed out first by every later ks_recv, so the order holds.
 * A non-blocking receive with nothing to return gives a pending error
 * (SO_ERROR: a background send or connect failed; ks_poll said POLLERR),
 * clearing it, instead of -EWOULDBLOCK.
 * SO_RCVTIMEO bounds a blocking receive: -ETIMEDOUT if nothing came (bytes
 * already taken are returned instead); no data is lost, what arrives later
 * is returned by the next call.
 * IRQL: PASSIVE_LEVEL.
 * Returns the byte count, or -EBADF, -EFAULT, -EINVAL, -ENOTCONN,
 * -ECONNRESET, -ECONNABORTED, -EOPNOTSUPP (any flag bit not listed above,
 * or not a stream socket), -ENOMEM, -EWOULDBLOCK, -ETIMEDOUT.
 */
_Success_(return >= 0) _Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) ks_ssize_t
    ks_recv(int s, _Out_writes_bytes_(len) void *buf, size_t len, int flags);

/*
 * ks_sendto - send one datagram to an address on a datagram socket (an
 * unbound socket is bound to its family's wildcard address first).
 * flags: 0 or MSG_DONTWAIT. A datagram send never waits for a peer: it is
 * completed even when non-blocking (-EWOULDBLOCK only if another thread is
 * sending on the socket); SO_SNDTIMEO does not apply.
 * IRQL: PASSIVE_LEVEL. Returns len, or -EBADF, -EFAULT, -EINVAL,
 * -EAFNOSUPPORT, -EMSGSIZE, -EOPNOTSUPP (stream socket, other flags),
 * -ENOMEM, -EWOULDBLOCK.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) ks_ssize_t
    ks_sendto(int s, _In_reads_bytes_(len) const void *buf, size_t len, int flags,
              _In_reads_bytes_(tolen) const struct sockaddr *to, int tolen);

/*
 * ks_recvfrom - receive one datagram; from/fromlen (both optional) get the
 * sender's address as in ks_accept. A datagram larger than len is
 * truncated to len and the call returns -EMSGSIZE (the rest is lost).
 * flags: 0 or MSG_DONTWAIT. Non-blocking (MSG_DONTWAIT or FIONBIO):
 * -EWOULDBLOCK without a datagram, one receive staying in flight (ks_poll:
 * POLLIN). SO_RCVTIMEO bounds a blocking one (-ETIMEDOUT; the datagram
 * that arrives later goes to the next call).
 * IRQL: PASSIVE_LEVEL. Returns the byte count, or -EBADF, -EFAULT,
 * -EINVAL (socket not bound), -EMSGSIZE, -EOPNOTSUPP, -ENOMEM,
 * -EWOULDBLOCK, -ETIMEDOUT.
 */
_Success_(return >= 0) _Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) ks_ssize_t
    ks_recvfrom(int s, _Out_writes_bytes_(len) void *buf, size_t len, int flags,
                _Out_writes_bytes_opt_(*fromlen) struct sockaddr *from, _Inout_opt_ int *fromlen);

/*
 * ks_close - close a descriptor. Any thread blocked on the socket is woken
 * (its call returns -EBADF); pending provider requests are cancelled and
 * nothing is in flight when the WSK socket is closed.
 * A connected stream socket is closed in an orderly way, as BSD close()
 * does: a graceful WskDisconnect first (the peer receives every byte sent,
 * then end of stream), then WskCloseSocket. The disconnect waits at most
 * 5 s (a peer that stops reading can hold it back); after that, or when a
 * ks_send was still in progress on another thread (the stream is then
 * broken), the close is abortive and the peer sees a reset.
 * SO_LINGER changes this: {1, 0} closes abortively at once (the peer sees a
 * reset, unsent data is dropped), {1, t} bounds the orderly part of the
 * close by t seconds instead of 5. The bound covers both waits together: a
 * non-blocking ks_send still in flight finishing, then the graceful
 * disconnect. After ks_shutdown(SD_SEND) the disconnect is done
 * already and SO_LINGER does not apply. Providers without WskDisconnect
 * (Wine's) close the way their WskCloseSocket does (graceful on Wine).
 * The descriptor is invalid as soon as ks_close is called.
 * Asynchronous requests (wsksock/aio.h) still pending on the socket end
 * with -EBADF; if a ks_send_async was among them (its data will not all
 * arrive), the close is abortive. To close after the sends queued so far,
 * use ks_close_async.
 * In a callback (an asynchronous call's or an event handler's, i.e. on a
 * completion thread) ks_close never waits: the descriptor is closed at
 * once and the socket's close runs on one of the library's blocking-call
 * threads (ks_cleanup waits for it).
 * IRQL: PASSIVE_LEVEL.
 * Returns 0, or -EBADF.
 */
_IRQL_requires_max_(PASSIVE_LEVEL) int ks_close(int s);

/*
 * ks_shutdown - end one or both directions of a connected stream socket.
 *  SD_SEND: a graceful WskDisconnect; the peer reads everything sent, then
 *    end of stream. Receiving still works; later ks_send gives -EPIPE.
 *  SD_RECEIVE: later ks_recv returns 0 at once (data still arriving is
 *    not delivered; the peer is not told, as on Windows).
 *  SD_BOTH: both.
 * A socket shut down for sending closes gracefully whatever SO_LINGER says.
 * SD_SEND waits until the peer has acknowledged the data and the end of
 * stream, at most 5 s; after that sending is over anyway (-ETIMEDOUT).
 * SD_BOTH ends receiving only if ending sending worked. A receive already
 * waiting in another thread is not woken by SD_RECEIVE. Datagram sockets
 * give -ENOTCONN. Repeating a shutdown is harmless (0).
 * Providers without WskDisconnect (Wine's) give -EOPNOTSUPP for SD_SEND
 * and SD_BOTH, and nothing changes: the socket stays fully usable.
 * IRQL: PASSIVE_LEVEL.
 * Returns 0, or -EBADF, -EINVAL (how), -ENOTCONN (not connected),
 * -ECONNRESET, -ECONNABORTED, -EPIPE (the connection broke before the
 * disconnect), -ETIMEDOUT, -EOPNOTSUPP (the provider lacks WskDisconnect),
 * -ENOMEM.
 */
_IRQL_requires_max_(PASSIVE_LEVEL) int ks_shutdown(int s, int how);

/*
 * ks_setsockopt / ks_getsockopt - socket options, with Winsock's levels,
 * names and value formats (int-sized BOOL/int values; LINGER for SO_LINGER;
 * a DWORD of milliseconds for SO_RCVTIMEO/SO_SNDTIMEO, 0 = no timeout):
 *   SOL_SOCKET:   SO_REUSEADDR, SO_EXCLUSIVEADDRUSE, SO_KEEPALIVE, SO_RCVBUF,
 *                 SO_SNDBUF, SO_LINGER, SO_RCVTIMEO, SO_SNDTIMEO,
 *                 SO_ERROR (get only: the pending error as a positive errno
 *                 value, 0 if none; reading it clears it), SO_TYPE (get only)
 *   IPPROTO_TCP:  TCP_NODELAY
 *   IPPROTO_IPV6: IPV6_V6ONLY (before bind/connect/listen; default 1 as on
 *                 Windows; 0 makes a dual-stack socket)
 * Options are remembered by the library and given to the provider when the
 * WSK socket exists (a stream socket gets one at bind or connect, and a
 * new one at listen); an option the provider refuses then makes that
 * call fail with its error, and is forgotten, so the call can be retried
 * (set on a socket that has its WSK socket, the option is given to the
 * provider at once and refused options give its error right away).
 * Nonzero Boolean values read back as 1. SO_REUSEADDR and
 * SO_EXCLUSIVEADDRUSE exclude each other (-EINVAL), and
 * SO_EXCLUSIVEADDRUSE must precede the bind. ks_getsockopt of the
 * provider's options asks the provider once the WSK socket exists, else
 * reports the value set (or the default: 0, SO_RCVBUF/SO_SNDBUF 65536).
 * SO_LINGER (see ks_close) and IPV6_V6ONLY are kept by the library (0 is
 * given to the provider before each bind). SO_KEEPALIVE, SO_LINGER and
 * TCP_NODELAY are stream options (-ENOPROTOOPT on datagram sockets). LINGER
 * is declared in <wsksock/wsk.h> (the WDK has it in user-mode headers
 * only). An accepted socket starts with its listening socket's recorded
 * options (which of them its WSK socket inherits is the provider's
 * business, as on Windows).
 * Wine's provider has no WskControlSocket: provider options give
 * -EOPNOTSUPP there (when set, or at the bind that applies them).
 * SO_RCVTIMEO/SO_SNDTIMEO bound each blocking stream receive/send (and
 * accept, and datagram receive): the call returns -ETIMEDOUT when the time
 * passes. The request is not cancelled (not every provider honours
 * IoCancelIrp): it goes through the library's own buffer and stays in
 * flight. After a receive timeout the socket is intact (no data was
 * taken; what arrives later is returned next); after a send timeout part
 * of the data may have been sent, so the stream is broken: later sends
 * return -EPIPE and ks_close is abortive.
 * *len is in/out for ks_getsockopt (bytes available / written).
 * IRQL: PASSIVE_LEVEL.
 * Returns 0, or -EBADF, -EFAULT (NULL val/len), -EINVAL (len too small,
 * bad value, IPV6_V6ONLY after bind), -ENOPROTOOPT (unknown level/name, or
 * an option of another protocol), -EOPNOTSUPP (the provider lacks it),
 * -ENOMEM.
 */
_IRQL_requires_max_(PASSIVE_LEVEL) int ks_setsockopt(int s, int level, int name,
                                                     _In_reads_bytes_(len) const void *val,
                                                     int len);
_Success_(return == 0) _Must_inspect_result_
    _IRQL_requires_max_(PASSIVE_LEVEL) int ks_getsockopt(int s, int level, int name,
                                                         _Out_writes_bytes_(*len) void *val,
                                                         _Inout_ int *len);

/*
 * ks_getsockname / ks_getpeername - the local / remote address, copied as
 * in ks_accept (truncated to *addrlen, which is set to the full size).
 * The local address of a socket bound to port 0 (or bound implicitly by
 * connect) is the one the provider chose, when the provider can tell.
 * Otherwise the library answers from its record: the address given to
 * ks_bind (for a listener, the port it listens on), the wildcard address
 * after an implicit bind, the peer given to ks_connect or reported by
 * ks_accept. Wine's provider has neither WskGetLocalAddress nor
 * WskGetRemoteAddress: there the port of a port-0 or implicit bind is 0.
 * When the provider fails for another reason, ks_getsockname returns its
 * error if the record has port 0 (the real port is unknown).
 * IRQL: PASSIVE_LEVEL.
 * Returns 0, or -EBADF, -EFAULT, -EINVAL (not bound: getsockname; *addrlen
 * negative), -ENOTCONN (not connected: getpeername), -ENOMEM.
 */
_Success_(return == 0) _Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_getsockname(
    int s, _Out_writes_bytes_(*addrlen) struct sockaddr *addr, _Inout_ int *addrlen);
_Success_(return == 0) _Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_getpeername(
    int s, _Out_writes_bytes_(*addrlen) struct sockaddr *addr, _Inout_ int *addrlen);

/*
 * ks_ioctl - FIONBIO (*arg != 0: non-blocking mode, 0: blocking) and
 * FIONREAD (*arg = bytes that a ks_recv would return at once, as far as
 * the library read them ahead: at most 64 KiB; for a datagram socket, the
 * size of the next datagram; 0 when nothing arrived yet). FIONREAD starts
 * a read-ahead if none is in flight, so a later FIONREAD sees new data.
 * In non-blocking mode (or with MSG_DONTWAIT on one call) a call that
 * would wait returns -EWOULDBLOCK instead: ks_recv/ks_recvfrom without
 * data, ks_accept without a pending connection, ks_send while an earlier
 * send is still in flight. ks_send then copies up to 64 KiB and returns the
 * count taken (possibly less than len); the data is sent in the
 * background and an error shows on the next call or through SO_ERROR.
 * ks_connect returns -EINPROGRESS and completes in the background: ks_poll
 * reports POLLOUT (POLLERR too on failure), then SO_ERROR gives the result
 * (a positive errno). Accepted sockets start blocking.
 * IRQL: PASSIVE_LEVEL.
 * Returns 0, or -EBADF, -EFAULT (arg NULL), -EINVAL (unknown cmd).
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_ioctl(int s, long cmd,
                                                                      _Inout_ unsigned long *arg);

/* One entry of ks_poll (as struct pollfd / WSAPOLLFD). */
struct ks_pollfd {
    int fd;        /* descriptor; negative: ignored (revents 0) */
    short events;  /* POLLIN, POLLOUT (POLLRDNORM, POLLWRNORM ...) */
    short revents; /* set by ks_poll; also POLLERR, POLLHUP, POLLNVAL */
};

/*
 * ks_poll - wait until at least one of the sockets is ready, or timeout_ms
 * passes (0: do not wait; negative: no bound). One waiting thread serves
 * all the sockets (no thread per socket): the library keeps a receive (or
 * an accept) in flight on each polled socket and wakes the poller when one
 * completes.
 *  POLLIN: data, end of stream or an error to read; a connection to accept;
 *    a datagram (reported as POLLRDNORM).
 *  POLLOUT: a connected socket can take a ks_send without waiting (no
 *    background send in flight); a non-blocking connect has finished (see
 *    SO_ERROR); a datagram socket (reported as POLLWRNORM).
 *  POLLHUP: the peer ended the stream (and POLLIN). POLLERR: an error is
 *    pending (SO_ERROR). POLLNVAL: fd is not an open descriptor.
 * Polling a socket blocked in another thread's call is allowed (the poll
 * cannot read ahead meanwhile; it looks again when that call returns).
 * Closing a polled socket wakes the poll (POLLNVAL).
 * IRQL: PASSIVE_LEVEL.
 * Returns the number of entries with revents != 0, 0 on timeout, or
 * -EFAULT (fds NULL with nfds > 0), -EINVAL (nfds above 65536), -ENOMEM,
 * -EPERM.
 */
_Must_inspect_result_
    _IRQL_requires_max_(PASSIVE_LEVEL) int ks_poll(_Inout_updates_(nfds) struct ks_pollfd *fds,
                                                   unsigned nfds, int timeout_ms);

/*
 * ks_getaddrinfo - resolve a host name and/or a service into a list of
 * socket addresses, through WskGetAddressInfo (names are converted between
 * UTF-8 and UTF-16; invalid UTF-8 is a name that does not exist).
 *  node: NULL (the loopback addresses, or the wildcard addresses with
 *    AI_PASSIVE; IPv4 first), a numeric host (a dotted quad, or IPv6 text
 *    without a zone: parsed by the library, no query), or a host name (a
 *    query). A numeric host of the other family than ai_family is
 *    -EAI_NONAME.
 *  service: NULL (port 0), a decimal port "0".."65535" (digits only, no
 *    query; a larger number is -EAI_SERVICE), or a service name (a query:
 *    its port for each socket type it exists for).
 *  hints (optional; NULL is all zero): ai_flags (AI_PASSIVE, AI_CANONNAME,
 *    AI_NUMERICHOST, AI_NUMERICSERV: a name where a number is required is
 *    -EAI_NONAME), ai_family (AF_UNSPEC, AF_INET, AF_INET6), ai_socktype
 *    (0, SOCK_STREAM, SOCK_DGRAM) and ai_protocol (0, IPPROTO_TCP,
 *    IPPROTO_UDP, matching the type); other members are ignored.
 * The list has one entry per address and socket type (SOCK_STREAM then
 * SOCK_DGRAM when ai_socktype is 0), each with its protocol set, so that
 * ks_socket(ai_family, ai_socktype, ai_protocol) and ks_connect/ks_bind
 * (ai_addr, ai_addrlen) take it as is; addresses the provider repeats are
 * given once. With AI_CANONNAME the first entry's ai_canonname is the
 * provider's canonical name (the node's text when it gave none, or for a
 * numeric host); it is NULL in every other entry. ai_flags echoes the hints.
 * On success *res is a list owned by the caller, released in one call with
 * ks_freeaddrinfo; on failure *res is NULL. Nothing of the provider's is
 * left: its list is converted and given back before the call returns.
 * A lookup that needs no query works even when the library is not started
 * or no provider is attached. A query blocks until the provider answers (no
 * bound of its own: the provider's resolver has its timeouts); ks_cleanup
 * cancels queries in flight and waits for them to end.
 * IRQL: PASSIVE_LEVEL.
 * Returns 0, or -EAI_NONAME (unknown host, empty host, or node and service
 * both NULL), -EAI_SERVICE, -EAI_FAMILY, -EAI_SOCKTYPE, -EAI_BADFLAGS
 * (unknown flag, AI_CANONNAME without node), -EAI_MEMORY, -EAI_AGAIN,
 * -EAI_FAIL (the provider failed otherwise), -EFAULT (res NULL), -EPERM
 * (IRQL), -ENETDOWN (a query while the library is not started, no
 * provider, or cancelled by ks_cleanup).
 */
_Success_(return == 0) _Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_getaddrinfo(
    _In_opt_z_ const char *node, _In_opt_z_ const char *service,
    _In_opt_ const struct addrinfo *hints,
    _Outptr_ _At_(*res, __drv_allocatesMem(Mem)) struct addrinfo **res);

/* ks_freeaddrinfo - release a whole list from ks_getaddrinfo (NULL is
 * ignored). The list must be the one ks_getaddrinfo returned, unmodified.
 * IRQL: <= DISPATCH_LEVEL. */
_IRQL_requires_max_(DISPATCH_LEVEL) void ks_freeaddrinfo(
    _In_opt_ __drv_freesMem(Mem) struct addrinfo *res);

/*
 * ks_getnameinfo - the host and service of a socket address (sockaddr_in
 * or sockaddr_in6, salen at least its size), as NUL-terminated UTF-8.
 * NI_NUMERICHOST / NI_NUMERICSERV are answered by the library (IPv6 with
 * "%<scope id>" when the scope id is not 0); otherwise WskGetNameInfo is
 * asked, with the flags (NI_NAMEREQD: fail rather than give the numeric
 * form; NI_NOFQDN; NI_DGRAM: the service over UDP). A part is wanted when
 * its buffer is not NULL and its length not 0; on failure both wanted
 * buffers hold "".
 * IRQL: PASSIVE_LEVEL.
 * Returns 0, or -EAI_NONAME (no name with NI_NAMEREQD, or no part wanted),
 * -EAI_FAMILY (unknown family or salen too small), -EAI_OVERFLOW (a buffer
 * is too small), -EAI_BADFLAGS, -EAI_MEMORY, -EAI_AGAIN, -EAI_FAIL (the
 * provider failed otherwise, or lacks WskGetNameInfo as Wine's does),
 * -EFAULT (sa NULL), -EPERM (IRQL), -ENETDOWN (as ks_getaddrinfo).
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_getnameinfo(
    _In_reads_bytes_(salen) const struct sockaddr *sa, int salen,
    _Out_writes_opt_z_(hostlen) char *host, size_t hostlen, _Out_writes_opt_z_(servlen) char *serv,
    size_t servlen, int flags);

/* ks_gai_strerror - a constant text for an EAI_* value, negated or not; the
 * other values ks_getaddrinfo/ks_getnameinfo return (-EFAULT, -EPERM,
 * -ENETDOWN) are named as ks_strerror names them. IRQL: any. Never
 * returns NULL. */
_IRQL_requires_max_(HIGH_LEVEL) _Ret_z_ const char *ks_gai_strerror(int err);

/*
 * ks_inet_pton - parse an IPv4 dotted quad (AF_INET, dst: 4 bytes) or an IPv6
 * address (AF_INET6, dst: 16 bytes, "::" and embedded IPv4 accepted) into
 * network byte order. IRQL: any.
 * Returns 1, 0 if src is not a valid address, -EAFNOSUPPORT, -EFAULT.
 */
_Success_(return == 1) _Must_inspect_result_
    _IRQL_requires_max_(HIGH_LEVEL) int ks_inet_pton(int af, _In_z_ const char *src,
                                                     _When_(af == AF_INET, _Out_writes_bytes_(4))
                                                         _When_(af == AF_INET6,
                                                                _Out_writes_bytes_(16)) void *dst);

/*
 * ks_inet_ntop - format an address (network byte order) as text into dst.
 * IPv6 uses RFC 5952 form. IRQL: any.
 * Returns dst, or NULL if af is unknown, a pointer is NULL, or the text and
 * its terminating NUL do not fit in size bytes.
 */
_Success_(return != NULL) _Must_inspect_result_
    _IRQL_requires_max_(HIGH_LEVEL) _Ret_maybenull_ const
    char *ks_inet_ntop(int af,
                       _When_(af == AF_INET, _In_reads_bytes_(4))
                           _When_(af == AF_INET6, _In_reads_bytes_(16)) const void *src,
                       _Out_writes_z_(size) char *dst, size_t size);

/*
 * ks_strerror - a constant English text for an error number, given as
 * positive or negative (ks_strerror(-ECONNREFUSED) works). IRQL: any.
 * Never returns NULL.
 */
_IRQL_requires_max_(HIGH_LEVEL) _Ret_z_ const char *ks_strerror(int err);

/* Byte order helpers (IRQL: any). */
_IRQL_requires_max_(HIGH_LEVEL) static inline uint16_t ks_htons(uint16_t v)
{
    return (uint16_t)((v >> 8) | (v << 8));
}
_IRQL_requires_max_(HIGH_LEVEL) static inline uint16_t ks_ntohs(uint16_t v)
{
    return ks_htons(v);
}
_IRQL_requires_max_(HIGH_LEVEL) static inline uint32_t ks_htonl(uint32_t v)
{
    return ((v & 0xffu) << 24) | ((v & 0xff00u) << 8) | ((v >> 8) & 0xff00u) | (v >> 24);
}
_IRQL_requires_max_(HIGH_LEVEL) static inline uint32_t ks_ntohl(uint32_t v)
{
    return ks_htonl(v);
}

#ifdef __cplusplus
}
#endif

#include "wsksock/aio.h"
#include "wsksock/events.h"
#include "wsksock/connect.h"

#endif /* WSKSOCK_H */
