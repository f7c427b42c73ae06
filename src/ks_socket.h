/*
 * ks_socket.h - the socket object behind a descriptor, and its lifetime.
 *
 * Lifetime: a socket is reference-counted. The descriptor table holds one
 * reference; every API call holds one while it runs (ks_fd_get). The object
 * is freed when the last reference goes, so a thread still blocked in a call
 * keeps it alive even after ks_close. Its memory is nonpaged (events inside
 * are waited on).
 *
 * Close protocol (ks_sock_close): mark closing (new calls fail with -EBADF
 * and waiters on the per-direction locks wake), wait until no thread is
 * inside a WSK dispatch call on the socket, cancel the requests in flight,
 * take the control lock, disconnect gracefully (connected sockets whose send
 * side was idle), then WskCloseSocket: nothing is in flight in the
 * provider's sense when it is called, and it cancels what is still pending.
 */
#ifndef KS_SOCKET_H
#define KS_SOCKET_H

#include "ks_lock.h"
#include "ks_op.h"
#include "ks_ready.h"

/* Most provider options remembered per socket (see struct ks_stored_opt). */
#define KS_MAX_STORED_OPTS 8

enum ks_sock_state {
    KS_SS_NEW = 0,   /* no address yet */
    KS_SS_BOUND,     /* address set (stream: held by a bound connection socket) */
    KS_SS_LISTENING, /* WSK listening socket */
    KS_SS_CONNECTED, /* WSK connection socket, connected */
    KS_SS_DATAGRAM   /* WSK datagram socket, bound */
};

typedef struct ks_sock {
    volatile LONG refs;
    KSPIN_LOCK lock; /* protects the fields marked (L) */
    int fd;          /* descriptor, 0 until inserted */
    ADDRESS_FAMILY family;
    USHORT type; /* SOCK_STREAM or SOCK_DGRAM */
    ULONG protocol;
    enum ks_sock_state state; /* (L) */
    BOOLEAN closing;          /* (L) set once by ks_sock_close */
    LONG in_call;             /* (L) threads inside a WSK dispatch call */
    PWSK_SOCKET wsk;          /* (L) the provider's socket, or NULL */
    const void *wsk_dispatch; /* client dispatch table for WskSocket (events), or NULL */
    ULONG wsk_kind;           /* WSK_FLAG_*_SOCKET of wsk */
    ks_addr local;            /* bound address (state >= KS_SS_BOUND) */

    KEVENT closed;        /* notification: set when closing starts */
    KEVENT calls_drained; /* notification: closing and in_call == 0 */

    /* One operation per direction, each serialised by its own lock (a
     * synchronization event), so a sender and a receiver never wait for each
     * other. ctl serves creation, bind, connect, listen and close. */
    ks_op ctl, rx, tx;
    ks_lock ctl_lock, rx_lock, tx_lock;

    /* Data taken from the stream by MSG_PEEK, handed out first (rx_lock). */
    UCHAR *peek_buf;
    ULONG peek_len, peek_off;

    /* ---- options and shutdown (ks_options.c, ks_shutdown.c) ---- */
    /* Provider options set by ks_setsockopt, applied to every WSK socket
     * the library creates for s (ctl lock). Allocated at the first one
     * (most sockets set none) and then kept, never moved, until the socket
     * is freed: ks_opts_inherit reads a listener's without its ctl lock. */
    struct ks_stored_opts *opts;
    ULONG rcvtimeo_ms, sndtimeo_ms; /* 0: no bound */
    BOOLEAN linger_on;              /* SO_LINGER {1, linger_secs} */
    USHORT linger_secs;
    BOOLEAN v6only; /* IPV6_V6ONLY (default TRUE) */
    /* The close's disconnect between ks_sock_close_start and _finish (the
     * closing thread's, ctl lock held). */
    BOOLEAN close_disc_issued;
    NTSTATUS close_disc_status; /* what WskDisconnect returned */
    ks_deadline close_until;    /* the close's own bound (linger time or 5 s) */
    LIST_ENTRY cleanup_link;    /* ks_cleanup's list of sockets it is closing */
    BOOLEAN shut_rd, shut_wr;   /* (L) ks_shutdown done */
    BOOLEAN send_broken;        /* (L) a send was cut off: abortive close */
    volatile LONG so_error;     /* pending error for SO_ERROR (negative errno) */
    ks_addr remote;             /* peer (state KS_SS_CONNECTED) */

    /* ---- non-blocking mode and readiness (ks_ready.c, ks_poll.c) ---- */
    BOOLEAN nonblocking;   /* FIONBIO */
    struct ks_ready ready; /* asynchronous requests, poll waiters */

    /* ---- asynchronous calls (ks_aio.c) and events (ks_events.c) ---- */
    LIST_ENTRY aio_q[2];        /* (L) ks_aio requests per direction, in order */
    struct ks_events_state *ev; /* event-driven mode, or NULL */
} ks_sock;

/* Allocates a socket with its operations (not yet in the descriptor table).
 * Returns NULL with *err set (-ENOMEM, -ENETDOWN when stopping). */
_Must_inspect_result_ _Ret_maybenull_ ks_sock *ks_sock_new(ADDRESS_FAMILY family, USHORT type,
                                                           ULONG protocol, int *err);

void ks_sock_get(_Inout_ ks_sock *s);
/* Drops a reference; the last one frees the socket. */
void ks_sock_put(_Inout_ ks_sock *s);

/* Closes the socket (see the protocol above). Idempotent. PASSIVE_LEVEL.
 * Its orderly waits (a non-blocking send finishing, the graceful
 * disconnect) share one bound: the SO_LINGER time, or
 * KS_CLOSE_DISCONNECT_MS. */
_IRQL_requires_max_(PASSIVE_LEVEL) void ks_sock_close(_Inout_ ks_sock *s);

/* The same close in two halves, so that ks_cleanup closes many sockets at
 * once under one deadline (PASSIVE_LEVEL). start marks the socket closing,
 * wakes its waiters, waits for a non-blocking send in flight until d, and
 * starts the orderly disconnect without waiting for it: TRUE if finish must
 * follow (the caller's thread then holds s's ctl lock), FALSE if there is
 * nothing to finish (closing already, or deferred to a running event
 * callback). finish waits for the disconnect until the earlier of d (NULL:
 * none) and the socket's own bound, cancels it past that (the close is
 * then abortive), calls WskCloseSocket, reaps and releases the ctl lock. */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
    _When_(return != FALSE, _Acquires_lock_(s->ctl_lock)) BOOLEAN
    ks_sock_close_start(_Inout_ ks_sock *s, _In_opt_ const ks_deadline *d);
_IRQL_requires_max_(PASSIVE_LEVEL) _Requires_lock_held_(s->ctl_lock)
    _Releases_lock_(s->ctl_lock) void ks_sock_close_finish(_Inout_ ks_sock *s,
                                                           _In_opt_ const ks_deadline *d);

/* Waits for one of the socket's direction locks, or for the socket to close.
 * Returns 0 with the lock held (the socket was not closing when it was
 * taken), or -EBADF. */
_Must_inspect_result_ _IRQL_requires_max_(APC_LEVEL)
int ks_sock_lock(_In_ ks_sock *s, _Inout_ _Requires_lock_not_held_(*_Curr_)
                                      _When_(return == 0, _Acquires_lock_(*_Curr_)) ks_lock *lock);
/* ks_sock_lock for a blocking call; for a non-blocking one the lock is only
 * tried: -EWOULDBLOCK if another thread holds it, -EBADF once closing. */
_Must_inspect_result_ _IRQL_requires_max_(APC_LEVEL)
int ks_sock_lock_mode(_In_ ks_sock *s,
                      _Inout_ _Requires_lock_not_held_(*_Curr_)
                          _When_(return == 0, _Acquires_lock_(*_Curr_)) ks_lock *lock,
                      BOOLEAN nonblocking);
_IRQL_requires_max_(DISPATCH_LEVEL) void ks_sock_unlock(_Inout_ _Requires_lock_held_(*_Curr_)
                                                            _Releases_lock_(*_Curr_) ks_lock *lock);

/* Brackets a WSK dispatch call on s: enter fails with -EBADF once closing
 * (or when wsk is asked for and s has no provider socket), or with
 * not_state_err when s->state differs from state (-1: any state).
 * *wsk (unless wsk is NULL) receives s->wsk, read under s->lock: it stays
 * valid until ks_call_leave, because the close waits for every bracket to
 * end before WskCloseSocket. This is the only way a call reads s->wsk,
 * except the close itself and code that holds the ctl lock with the socket
 * not closing (creation, bind and close write s->wsk only under it). */
_Must_inspect_result_ int ks_call_enter(_Inout_ ks_sock *s, int state, int not_state_err,
                                        _Out_opt_ PWSK_SOCKET *wsk);
void ks_call_leave(_Inout_ ks_sock *s);

/*
 * Requests on s->wsk, each issued and waited for on the ctl operation
 * (ctl lock held), through the WSK call layer (ks_wsk.h: its ks_wsk_*
 * functions are single WSK calls on a PWSK_SOCKET; these ks_sock_wsk_*
 * are whole requests on a socket object). PASSIVE_LEVEL. Each is one
 * ks_call_enter bracket; when the bracket refuses, the result is its errno
 * as a ks_errno_status (ks_sock_error gives it back), unless said below.
 */
/* Creates s->wsk of the given WSK category. */
_Must_inspect_result_ _Requires_lock_held_(s->ctl_lock) NTSTATUS
    ks_sock_wsk_create(_Inout_ ks_sock *s, ULONG kind);
/* WskBind of s->wsk to addr. */
_Must_inspect_result_ _Requires_lock_held_(s->ctl_lock) NTSTATUS
    ks_sock_wsk_bind(_Inout_ ks_sock *s, _In_ const SOCKADDR *addr);
/* Closes s->wsk if any (nothing else in flight). */
_Requires_lock_held_(s->ctl_lock) void ks_sock_wsk_close(_Inout_ ks_sock *s);
/* Asks the provider for s->wsk's local (remote FALSE) or remote address
 * (ks_address.c). STATUS_NOT_SUPPORTED when the socket's category has no
 * such call; a result of another family is a failure. */
_Must_inspect_result_ _Requires_lock_held_(s->ctl_lock) NTSTATUS
    ks_sock_wsk_get_address(_Inout_ ks_sock *s, BOOLEAN remote, _Out_ ks_addr *out);
/* Graceful WskDisconnect of a connected socket for ks_shutdown, waiting at
 * most bound_ms (then the request is cancelled: STATUS_CANCELLED, also
 * when the socket is closing, its bracket's -EBADF: then even without the
 * ctl lock). */
_Must_inspect_result_ _Requires_lock_held_(s->ctl_lock) NTSTATUS
    ks_sock_wsk_shutdown_send(_Inout_ ks_sock *s, ULONG bound_ms);

/* How long ks_close waits for an orderly disconnect before it gives up and
 * closes abortively (a peer that does not read can hold it back). */
#define KS_CLOSE_DISCONNECT_MS 5000

/* Error of a failed call on s: -EBADF if s was closed under it, else the
 * status's errno (-EIO if it maps to none; a ks_errno_status: its errno). */
int ks_sock_error(_In_ ks_sock *s, NTSTATUS status);

/* Common argument checks. */
int ks_sockaddr_len(ADDRESS_FAMILY family);
_Must_inspect_result_ int ks_check_addr(_In_ const ks_sock *s,
                                        _In_reads_bytes_opt_(addrlen) const struct sockaddr *addr,
                                        int addrlen);
void ks_wildcard_addr(ADDRESS_FAMILY family, _Out_ ks_addr *out);
/* Copies a result address to a caller's (addr, addrlen) pair, BSD style. */
void ks_copy_out_addr(_In_ const ks_addr *from,
                      _Out_writes_bytes_opt_(*addrlen) struct sockaddr *addr,
                      _Inout_opt_ int *addrlen);

/* Internal flag of ks_recv/ks_accept_mode: the call is the event layer's
 * own (ks_events.c), allowed on a socket in event mode. */
#define KS_MSG_EVENTS 0x40000000

/* The public calls refuse KS_MSG_EVENTS (and every bit they do not
 * document) with -EOPNOTSUPP; these internal forms accept it.
 * ks_recv_flags: ks_recv (ks_stream_io.c); the asynchronous ones: ks_aio.c. */
_Success_(return >= 0) _Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
ks_ssize_t ks_recv_flags(int fd, _Out_writes_bytes_(len) void *buf, size_t len, int flags);
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
int ks_recv_async_flags(int s, _Out_writes_bytes_(len) void *buf, size_t len, int flags,
                        _Inout_ struct ks_aio *req, _In_ ks_aio_cb *cb);
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
int ks_accept_async_flags(int s, _Out_writes_bytes_opt_(*addrlen) struct sockaddr *addr,
                          _Inout_opt_ int *addrlen, int flags, _Inout_ struct ks_aio *req,
                          _In_ ks_aio_cb *cb);

/* ks_accept / ks_connect, non-blocking when asked whatever the socket's
 * mode (the asynchronous calls use them). ks_accept_mode's flags:
 * MSG_DONTWAIT, KS_MSG_EVENTS. */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
int ks_accept_mode(int fd, _Out_writes_bytes_opt_(*addrlen) struct sockaddr *addr,
                   _Inout_opt_ int *addrlen, int flags);
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
int ks_connect_mode(int fd, _In_reads_bytes_(addrlen) const struct sockaddr *addr, int addrlen,
                    BOOLEAN force_nonblocking);

/* Looks up a descriptor, with the IRQL check every blocking call makes.
 * Returns 0 and a referenced socket, or -EPERM/-EBADF. */
_Success_(return == 0) _Must_inspect_result_ int ks_fd_enter(int fd, _Outptr_ ks_sock **out);

#endif /* KS_SOCKET_H */
