/*
 * ks_ready.h - the per-socket readiness engine: asynchronous requests kept
 * in flight for non-blocking calls and ks_poll, without a thread per socket
 * and without WSK event callbacks.
 *
 * Each socket has at most one asynchronous request per direction, on its own
 * operations (s->rx, s->tx) through the ks_op callback hook:
 *  - receive side (s->rx, rx_lock): a read-ahead WskReceive into the
 *    socket's 64 KiB buffer (peek_buf; every ks_recv is served from it
 *    first, so the byte order holds), a WskAccept with a socket prepared in
 *    advance (one connection queued), or a WskReceiveFrom of one datagram
 *    into the same buffer;
 *  - send side (s->tx, tx_lock): a WskSend of up to 64 KiB copied from a
 *    non-blocking ks_send, or a non-blocking WskConnect.
 * Requests are issued at PASSIVE_LEVEL by the consumers (ks_recv, ks_accept,
 * ks_recvfrom, ks_send, ks_connect, ks_ioctl, ks_poll). Their completion
 * callbacks run at IRQL <= DISPATCH_LEVEL and only record the result under
 * the socket's spin lock and wake waiters; the result is folded into the
 * socket ("reaped") later at PASSIVE_LEVEL, by the next consumer holding the
 * direction lock, or by the close. Each request holds a socket reference
 * from its issue until it is reaped, and ks__sock_close waits for every
 * request to complete (after cancelling it) and reaps it: nothing outlives
 * the socket, and the socket outlives every callback.
 */
#ifndef KS_READY_H
#define KS_READY_H

#include "ks_lock.h"
#include "ks_ready_state.h"
#include "ks_time.h"

struct ks_sock;

/* Takes a direction lock without waiting: 0, or -EWOULDBLOCK if another
 * thread holds it. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL) static inline int ks__lock_try(
    _Inout_ _Requires_lock_not_held_(*_Curr_) _When_(return == 0, _Acquires_lock_(*_Curr_))
        ks_lock *lock)
{
    return ks__lock_try_acquire(lock) ? 0 : -EWOULDBLOCK;
}

/* ---- lifetime ---- */
/* Registers the engine's socket hooks (ks_socket.h): init at creation;
 * close_begin (wakes ks_poll callers, gives an asynchronous send in flight
 * until the close's deadline to complete so an orderly close delivers it);
 * close_end (after WskCloseSocket: waits until every asynchronous request
 * completed, reaps them, dropping their references, and closes a queued
 * accepted connection); free (the engine's buffers). ks_startup. */
void ks__ready_register(void);

/* ---- receive side: s->rx_lock held, PASSIVE_LEVEL ---- */
/* Issues the receive-side request of s's kind (read-ahead, accept,
 * receive-from) unless one is in flight or its result is pending. Returns 0
 * (issued; it may have completed already) or a negative errno. */
_Must_inspect_result_ _Requires_lock_held_(s->rx_lock)
    _IRQL_requires_max_(PASSIVE_LEVEL) int ks__ready_rx_arm(_Inout_ struct ks_sock *s);
/* Folds a completed receive-side request into the socket: buffer bytes, end
 * of stream, error, queued connection or datagram. Returns TRUE if one was
 * reaped. */
_Requires_lock_held_(s->rx_lock) _IRQL_requires_max_(PASSIVE_LEVEL) BOOLEAN
    ks__ready_rx_reap(_Inout_ struct ks_sock *s);
/* TRUE while a receive-side request is in flight (not yet completed). */
_Requires_lock_held_(s->rx_lock) _IRQL_requires_max_(PASSIVE_LEVEL) BOOLEAN
    ks__ready_rx_busy(_In_ struct ks_sock *s);
/* Waits until the receive-side request completes: 0, -ETIMEDOUT at d, or
 * -EBADF if s is closed meanwhile. */
_Must_inspect_result_ _Requires_lock_held_(s->rx_lock)
    _IRQL_requires_max_(PASSIVE_LEVEL) int ks__ready_rx_wait(_Inout_ struct ks_sock *s,
                                                             _In_opt_ const ks_deadline *d);
/* Takes the connection a completed async accept queued: TRUE with *n (the
 * caller owns its reference; n->wsk set) and the peer's address. */
_Success_(return != FALSE) _Must_inspect_result_ _Requires_lock_held_(s->rx_lock)
    _IRQL_requires_max_(PASSIVE_LEVEL) BOOLEAN
    ks__ready_take_accepted(_Inout_ struct ks_sock *s, _Outptr_ struct ks_sock **n,
                            _Out_ ks_addr *remote);
/* The error of a failed async accept / receive-from, reported once (0: none). */
_Must_inspect_result_ _Requires_lock_held_(s->rx_lock)
    _IRQL_requires_max_(PASSIVE_LEVEL) int ks__ready_take_error(_Inout_ struct ks_sock *s);

/*
 * The common step of every receive-side call (ks_recv, ks_accept,
 * ks_recvfrom) once what s holds did not answer it (reaped, nothing held):
 *   KS_RX_RETRY   a result is there, or came while we waited: look again;
 *   KS_RX_DIRECT  blocking without a bound and nothing in flight: the
 *                 caller makes its request directly (into its own buffer);
 *   or an error: the one reported once (ks__ready_take_error),
 *   -EWOULDBLOCK (non-blocking, a request in flight), the wait's
 *   -ETIMEDOUT / -EBADF, or the error of putting a request in flight.
 * Non-blocking calls and calls with a deadline go through the engine: a
 * request is put in flight and (with a deadline) waited for, then left in
 * flight for the next call (no cancellation needed).
 */
enum { KS_RX_RETRY = 0, KS_RX_DIRECT = 1 };
_Must_inspect_result_ _Requires_lock_held_(s->rx_lock)
    _IRQL_requires_max_(PASSIVE_LEVEL) int ks__ready_rx_next(_Inout_ struct ks_sock *s,
                                                             BOOLEAN nonblocking,
                                                             _In_ const ks_deadline *d);

/* ---- send side: s->tx_lock held, PASSIVE_LEVEL ---- */
/* Settles the asynchronous send/connect before a new send: reaps it if it
 * completed (returning its error once, if it failed), else returns
 * -EWOULDBLOCK (nonblocking) or waits for it up to d (-ETIMEDOUT, -EBADF).
 * Returns 0 when the send side is free. */
_Requires_lock_held_(s->tx_lock)
    _IRQL_requires_max_(PASSIVE_LEVEL) int ks__ready_tx_settle(_Inout_ struct ks_sock *s,
                                                               BOOLEAN nonblocking,
                                                               _In_opt_ const ks_deadline *d);
/* Copies up to KS_READY_SEND_MAX bytes of buf and sends them in the
 * background. Returns the count taken, or a negative errno (then nothing was
 * taken). The send side must be settled. */
_Must_inspect_result_ _Requires_lock_held_(s->tx_lock) _IRQL_requires_max_(PASSIVE_LEVEL) ks_ssize_t
    ks__ready_send(_Inout_ struct ks_sock *s, _In_reads_bytes_(len) const void *buf, size_t len);
/* Non-blocking connect of a bound stream socket (ctl lock held): 0 if it
 * completed at once, -EINPROGRESS, or the connect's error. */
_Must_inspect_result_ _Requires_lock_held_(s->ctl_lock)
    _IRQL_requires_max_(PASSIVE_LEVEL) int ks__ready_connect(_Inout_ struct ks_sock *s,
                                                             _In_ const ks_addr *to);
/* TRUE while a non-blocking connect is in flight. */
BOOLEAN ks__ready_connecting(_In_ struct ks_sock *s);

/* ---- polling (ks_poll.c, ks_ioctl) ---- */
/* The revents of s for events (POLLNVAL if s is closing); arms the
 * receive-side request when POLLIN is asked and nothing is ready (only if
 * the receive lock is free: a thread blocked in a receive wakes the pollers
 * when it returns). PASSIVE_LEVEL. */
_IRQL_requires_max_(PASSIVE_LEVEL) short ks__ready_poll(_Inout_ struct ks_sock *s, short events);
/* Links / unlinks a poll waiter (IRQL <= DISPATCH_LEVEL). */
_IRQL_requires_max_(DISPATCH_LEVEL) void ks__ready_add_waiter(_Inout_ struct ks_sock *s,
                                                              _Inout_ struct ks_ready_link *link);
_IRQL_requires_max_(DISPATCH_LEVEL) void ks__ready_remove_waiter(
    _Inout_ struct ks_sock *s, _Inout_ struct ks_ready_link *link);
/* Wakes the ks_poll calls and asynchronous calls waiting on s (IRQL <=
 * DISPATCH_LEVEL). */
_IRQL_requires_max_(DISPATCH_LEVEL) void ks__ready_wake(_Inout_ struct ks_sock *s);
/* ks__ready_wake, only if someone waits: for callers that release a
 * direction lock a waiter may have found taken. */
_IRQL_requires_max_(DISPATCH_LEVEL) void ks__ready_wake_waiters(_Inout_ struct ks_sock *s);
/* FIONREAD: bytes ks_recv would return at once (stream), or the size of the
 * next datagram; arms the read-ahead if nothing is held. PASSIVE_LEVEL. */
_IRQL_requires_max_(PASSIVE_LEVEL) ULONG ks__ready_nread(_Inout_ struct ks_sock *s);

#endif /* KS_READY_H */
