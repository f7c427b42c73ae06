/*
 * wsksock/events.h - event-driven accept and receive. Included by
 * <wsksock.h>.
 *
 * ks_listen_events makes a stream socket listen and hands every connection
 * and every piece of data to callbacks instead of ks_accept/ks_recv calls.
 * On a provider with WSK event callbacks (Windows) the library registers
 * WskAcceptEvent, WskReceiveEvent and WskDisconnectEvent: connections are
 * accepted by the provider, and received data is delivered from the
 * provider's own buffers (the indications are retained, handed to the
 * callback, then given back with WskRelease), without a receive request
 * or a copy. On a provider without them (Wine's), the library falls back to
 * accept and receive requests of its own (the asynchronous calls of
 * wsksock/aio.h): the same callbacks, in the same order, with the same
 * rules. ks_events_native tells which one a socket uses.
 *
 * Callbacks run at PASSIVE_LEVEL on the library's completion threads (as
 * the asynchronous calls' do), never concurrently for one connection, and
 * in order per connection: accept, then receive for each piece of data in
 * stream order, then at most one disconnect. After disconnect, or once the
 * connection's descriptor was closed, no callback runs for it. They may
 * call any ks_* function, including ks_send/ks_send_async on the
 * connection; never ks_cleanup. A callback that blocks holds up other
 * deliveries.
 * Closing from a callback (one rule, stated alike in wsksock/aio.h and
 * wsksock/events.h): ks_close and ks_close_async may both be called from
 * any callback, on any socket, the callback's own included, and neither
 * waits there: the descriptor is closed at once and the socket's close (the
 * graceful disconnect, up to 5 s or the SO_LINGER time) runs on one of the
 * library's blocking-call threads. They differ only in what happens to
 * pending operations: ks_close ends them with -EBADF, ks_close_async lets
 * queued sends finish. So the idiom for an echo's end is ks_close_async in
 * the disconnect callback: the echoes already queued with ks_send_async
 * are delivered, then the connection closes in order.
 * ks_cleanup closes everything and returns after the last callback
 * returned, so a driver may unload after it.
 */
#ifndef WSKSOCK_EVENTS_H
#define WSKSOCK_EVENTS_H

#include <stddef.h>

#include "wsksock/sal.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sockaddr; /* <wsksock/sockaddr.h>; declared here so the header stands alone */

struct ks_event_handlers {
    /* A connection arrived on listen_fd. fd is a connected socket owned by
     * the caller (blocking mode, options of the listener); remote is the
     * peer's address (valid during the call). *conn_ctx comes set to ctx;
     * what the callback stores there is what fd's receive and disconnect
     * callbacks get (a per-connection object, typically). Return 0 to keep
     * the connection, or a negative errno to have the library close it
     * (then no other callback runs for it). Required. */
    int (*accept)(_In_opt_ void *ctx, int listen_fd, int fd,
                  _In_reads_bytes_(remotelen) const struct sockaddr *remote, int remotelen,
                  _Inout_ void **conn_ctx);
    /* len > 0 bytes arrived on fd. data is valid during the call only (it
     * may be the provider's buffer); pieces come in stream order, of any
     * size. To stop the flow, call ks_events_pause(fd). Required. */
    void (*receive)(_In_opt_ void *conn_ctx, int fd, _In_reads_bytes_(len) const void *data,
                    size_t len);
    /* The stream ended: err 0 if the peer closed it in order, else a
     * negative errno: -ECONNRESET, -ECONNABORTED, -EPIPE (the connection
     * broke on this side), -ETIMEDOUT, -ENOMEM. The last callback for fd; fd stays
     * open until the caller closes it (it may still send on an orderly
     * end). Optional (NULL: fd is closed by the library instead). */
    void (*disconnect)(_In_opt_ void *conn_ctx, int fd, int err);
};

/*
 * ks_listen_events - listen on a bound (or unbound: wildcard, port 0)
 * stream socket and deliver its connections and their data to handlers
 * (copied) with ctx. The socket must not be listening yet. ks_accept on it
 * then fails with -EINVAL; ks_recv on its connections gets -EINVAL.
 * Closing the listening socket stops new accept callbacks (connections
 * already announced keep theirs).
 * IRQL: PASSIVE_LEVEL.
 * Returns 0, or -EPERM, -EBADF, -EFAULT (handlers, accept or receive
 * NULL), -EOPNOTSUPP (not a stream socket), -EINVAL (already listening,
 * connected or in event mode), -EADDRINUSE, -ENOMEM, -ENETDOWN.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_listen_events(
    int s, int backlog, _In_ const struct ks_event_handlers *handlers, _In_opt_ void *ctx);

/*
 * ks_recv_events - the same delivery for one connected stream socket (a
 * client's, or one from ks_accept): its data goes to handlers->receive
 * and its end to handlers->disconnect (handlers->accept is not used; the
 * handlers are copied), both with conn_ctx. Bytes the socket already read
 * ahead come first. No receive may be in progress on s; ks_recv on it then
 * fails with -EINVAL. Native WSK event callbacks where the provider has
 * them (ks_events_native tells), else the library's own receives.
 * IRQL: PASSIVE_LEVEL.
 * Returns 0, or -EPERM, -EBADF, -EFAULT (handlers or receive NULL),
 * -EOPNOTSUPP (not a stream socket), -EINVAL (listening, or in event mode
 * already), -ENOTCONN, -ENOMEM, -ENETDOWN.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_recv_events(
    int s, _In_ const struct ks_event_handlers *handlers, _In_opt_ void *conn_ctx);

/*
 * ks_events_pause / ks_events_resume - flow control of one connection of
 * ks_listen_events or ks_recv_events. After ks_events_pause (from any thread, also from
 * fd's receive callback: then after that callback returns) no callback
 * runs for fd, disconnect included, until ks_events_resume. Meanwhile the
 * data stays with the provider (native: up to 32 retained indications,
 * then the provider keeps it; fallback: no receive is issued), so TCP's
 * window closes and the peer is slowed down: a server that queues data
 * for a slow consumer (an echo to a peer that does not read) bounds its
 * memory this way. Pausing twice is one pause; resuming a running
 * connection does nothing. Closing fd ends a pause.
 * IRQL: PASSIVE_LEVEL.
 * Returns 0, or -EPERM, -EBADF, -EINVAL (fd is not a connection in event
 * mode).
 */
_IRQL_requires_max_(PASSIVE_LEVEL) int ks_events_pause(int s);
_IRQL_requires_max_(PASSIVE_LEVEL) int ks_events_resume(int s);

/* ks_events_native - 1 if s (a socket of ks_listen_events, one of its
 * connections, or a socket of ks_recv_events) gets its events from WSK
 * event callbacks, 0 if from the library's fallback, or -EPERM, -EBADF,
 * -EINVAL (not in event mode).
 * IRQL: PASSIVE_LEVEL. */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_events_native(int s);

#ifdef __cplusplus
}
#endif

#endif /* WSKSOCK_EVENTS_H */
