/*
 * ks_socket.h - the socket object behind a descriptor, and its lifetime.
 *
 * Lifetime: a socket is reference-counted. The descriptor table holds one
 * reference; every API call holds one while it runs (ks__fd_get). The object
 * is freed when the last reference goes, so a thread still blocked in a call
 * keeps it alive even after ks_close. Its memory is nonpaged (events inside
 * are waited on).
 *
 * Close protocol (ks__sock_close): mark closing (new calls fail with -EBADF
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
#include "ks_ready_state.h"
#include "ks_time.h"

/* Most provider options remembered per socket (see struct ks_stored_opt). */
#define KS_MAX_STORED_OPTS 8

enum ks_sock_state {
    KS_SS_NEW = 0,   /* no address yet */
    KS_SS_BOUND,     /* address set (stream: held by a bound connection socket) */
    KS_SS_LISTENING, /* WSK listening socket */
    KS_SS_CONNECTED, /* WSK connection socket, connected */
    KS_SS_DATAGRAM   /* WSK datagram socket, bound */
};

/* How a socket's descriptor ended, for the asynchronous requests still
 * queued on it (ks_aio.c). */
enum ks_fd_end {
    KS_FD_OPEN = 0,   /* in the table (or never in it, or closed by ks_cleanup) */
    KS_FD_CLOSED,     /* ks_close: pending requests end with -EBADF */
    KS_FD_CLOSE_AFTER /* ks_close_async: queued sends go on, then the close */
};

typedef struct ks_sock {
    volatile LONG refs;
    KSPIN_LOCK lock; /* protects the fields marked (L) */
    int fd;          /* descriptor, 0 until inserted */
    ADDRESS_FAMILY family;
    USHORT type; /* SOCK_STREAM or SOCK_DGRAM */
    ULONG protocol;
    enum ks_sock_state state; /* (L) */
    BOOLEAN closing;          /* (L) set once by ks__sock_close */
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
     * is freed: ks__opts_inherit reads a listener's without its ctl lock. */
    struct ks_stored_opts *opts;
    ULONG rcvtimeo_ms, sndtimeo_ms; /* 0: no bound */
    BOOLEAN linger_on;              /* SO_LINGER {1, linger_secs} */
    USHORT linger_secs;
    BOOLEAN v6only; /* IPV6_V6ONLY (default TRUE) */
    /* The close's disconnect between ks__sock_close_start and _finish (the
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
    LIST_ENTRY aio_q[2];   /* (L) ks_aio requests per direction, in order */
    enum ks_fd_end fd_end; /* (L) set once, when the descriptor is closed */
    /* Notification: set (by ks_aio.c) once fd_end is KS_FD_CLOSE_AFTER and
     * the send side's queue (aio_q[1]) is empty. */
    KEVENT aio_tx_done;
    struct ks_events_state *ev; /* event-driven mode, or NULL */
} ks_sock;

/*
 * Layer hooks: what a higher layer (the readiness engine, the event layer)
 * does at the points of a socket's life the core owns. The core calls no
 * higher layer by name: each registers its hooks once (ks_startup, before
 * the library runs, so before any socket exists) and they stay registered
 * (static const tables; re-registering the same table is allowed). The
 * core calls them in slot order; any member may be NULL.
 */
enum ks_sock_layer_slot { KS_LAYER_AIO = 0, KS_LAYER_READY, KS_LAYER_EVENTS, KS_LAYER_COUNT };

struct ks_sock_layer {
    /* ks__sock_new, before the socket is shared. */
    void (*init)(_Inout_ ks_sock *s);
    /* Close start, s->lock held (DISPATCH_LEVEL), s not yet closing: TRUE
     * defers the close to the layer (which closes s itself later). */
    BOOLEAN (*close_defer_locked)(_Inout_ ks_sock *s);
    /* Close start, s closing and no thread inside a WSK call, before the
     * requests in flight are cancelled; d is the close's deadline
     * (bounded). PASSIVE_LEVEL. */
    void (*close_begin)(_Inout_ ks_sock *s, _In_ const ks_deadline *d);
    /* Close start, ctl lock held, before the disconnect and WskCloseSocket:
     * release what the provider must not see held at its close. */
    void (*close_release)(_Inout_ ks_sock *s);
    /* After WskCloseSocket, ctl lock released: wait for and reap what the
     * layer had in flight. PASSIVE_LEVEL. */
    void (*close_end)(_Inout_ ks_sock *s);
    /* Last reference: free the layer's memory. */
    void (*free)(_Inout_ ks_sock *s);
    /* The WSK_CLIENT_CONNECTION_DISPATCH every connection socket is created
     * or accepted with (event callbacks, disabled until asked for), or
     * NULL. */
    const WSK_CLIENT_CONNECTION_DISPATCH *connection_dispatch;
    /* ks__sock_close_after_sends, before the close starts: wait (until d,
     * bounded) for what must complete before the close. PASSIVE_LEVEL. */
    void (*close_drain)(_Inout_ ks_sock *s, _In_ const ks_deadline *d);
};

/* Registers a layer's hooks in its slot. PASSIVE_LEVEL, library stopped. */
void ks__sock_register_layer(enum ks_sock_layer_slot slot, _In_ const struct ks_sock_layer *ops);

/* The registered layers' connection dispatch, or NULL. IRQL: any. */
const WSK_CLIENT_CONNECTION_DISPATCH *ks__sock_connection_dispatch(void);

/* Allocates a socket with its operations (not yet in the descriptor table).
 * Returns NULL with *err set (-ENOMEM, -ENETDOWN when stopping). */
_Must_inspect_result_ _Ret_maybenull_ ks_sock *ks__sock_new(ADDRESS_FAMILY family, USHORT type,
                                                            ULONG protocol, int *err);

void ks__sock_get(_Inout_ ks_sock *s);
/* Drops a reference; the last one frees the socket. */
void ks__sock_put(_Inout_ ks_sock *s);

/* Closes the socket (see the protocol above). Idempotent. PASSIVE_LEVEL.
 * Its orderly waits (a non-blocking send finishing, the graceful
 * disconnect) share one bound: the SO_LINGER time, or
 * KS_CLOSE_DISCONNECT_MS. */
_IRQL_requires_max_(PASSIVE_LEVEL) void ks__sock_close(_Inout_ ks_sock *s);

/* ks__sock_close for a caller that must not wait: on a completion thread
 * (a user callback, or the event layer's delivery) the close runs on a
 * blocking-call thread, which takes its own reference; elsewhere, or if
 * that cannot be arranged (no memory, ks_cleanup stopping the pool), it
 * runs here. PASSIVE_LEVEL. */
_IRQL_requires_max_(PASSIVE_LEVEL) void ks__sock_close_soon(_Inout_ ks_sock *s);

/* The graceful close of ks_close_async (on a blocking-call thread): waits
 * until the send requests queued on s have completed (the layers'
 * close_drain), then closes s; the whole is bounded by one deadline, the
 * SO_LINGER time if set, else KS_CLOSE_DISCONNECT_MS, past which the close
 * goes on (abortive when sends are still pending). s->fd_end must be
 * KS_FD_CLOSE_AFTER. PASSIVE_LEVEL. */
_IRQL_requires_max_(PASSIVE_LEVEL) void ks__sock_close_after_sends(_Inout_ ks_sock *s);

/* Records how s's descriptor ended (once; ks_close, ks_close_async), after
 * it left the table. IRQL <= DISPATCH_LEVEL. */
_IRQL_requires_max_(DISPATCH_LEVEL) void ks__sock_fd_ended(_Inout_ ks_sock *s, enum ks_fd_end how);

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
    ks__sock_close_start(_Inout_ ks_sock *s, _In_opt_ const ks_deadline *d);
_IRQL_requires_max_(PASSIVE_LEVEL) _Requires_lock_held_(s->ctl_lock)
    _Releases_lock_(s->ctl_lock) void ks__sock_close_finish(_Inout_ ks_sock *s,
                                                            _In_opt_ const ks_deadline *d);

/* Waits for one of the socket's direction locks, or for the socket to close.
 * Returns 0 with the lock held (the socket was not closing when it was
 * taken), or -EBADF. */
_Must_inspect_result_ _IRQL_requires_max_(APC_LEVEL)
int ks__sock_lock(_In_ ks_sock *s, _Inout_ _Requires_lock_not_held_(*_Curr_)
                                       _When_(return == 0, _Acquires_lock_(*_Curr_)) ks_lock *lock);
/* ks__sock_lock for a blocking call; for a non-blocking one the lock is only
 * tried: -EWOULDBLOCK if another thread holds it, -EBADF once closing. */
_Must_inspect_result_ _IRQL_requires_max_(APC_LEVEL)
int ks__sock_lock_mode(_In_ ks_sock *s,
                       _Inout_ _Requires_lock_not_held_(*_Curr_)
                           _When_(return == 0, _Acquires_lock_(*_Curr_)) ks_lock *lock,
                       BOOLEAN nonblocking);
_IRQL_requires_max_(DISPATCH_LEVEL) void ks__sock_unlock(_Inout_ _Requires_lock_held_(*_Curr_)
                                                             _Releases_lock_(*_Curr_)
                                                                 ks_lock *lock);

/* Brackets a WSK dispatch call on s: enter fails with -EBADF once closing
 * (or when wsk is asked for and s has no provider socket), or with
 * not_state_err when s->state differs from state (-1: any state).
 * *wsk (unless wsk is NULL) receives s->wsk, read under s->lock: it stays
 * valid until ks__call_leave, because the close waits for every bracket to
 * end before WskCloseSocket. This is the only way a call reads s->wsk,
 * except the close itself and code that holds the ctl lock with the socket
 * not closing (creation, bind and close write s->wsk only under it). */
_Must_inspect_result_ int ks__call_enter(_Inout_ ks_sock *s, int state, int not_state_err,
                                         _Out_opt_ PWSK_SOCKET *wsk);
void ks__call_leave(_Inout_ ks_sock *s);

/*
 * Requests on s->wsk, each issued and waited for on the ctl operation
 * (ctl lock held), through the WSK call layer (ks_wsk.h: its ks_wsk_*
 * functions are single WSK calls on a PWSK_SOCKET; these ks_sock_wsk_*
 * are whole requests on a socket object). PASSIVE_LEVEL. Each is one
 * ks__call_enter bracket; when the bracket refuses, the result is its errno
 * as a ks__errno_status (ks__sock_error gives it back), unless said below.
 */
/* Creates s->wsk of the given WSK category. */
_Must_inspect_result_ _Requires_lock_held_(s->ctl_lock) NTSTATUS
    ks__sock_wsk_create(_Inout_ ks_sock *s, ULONG kind);
/* WskBind of s->wsk to addr. */
_Must_inspect_result_ _Requires_lock_held_(s->ctl_lock) NTSTATUS
    ks__sock_wsk_bind(_Inout_ ks_sock *s, _In_ const SOCKADDR *addr);
/* Closes s->wsk if any (nothing else in flight). */
_Requires_lock_held_(s->ctl_lock) void ks__sock_wsk_close(_Inout_ ks_sock *s);
/* Graceful WskDisconnect of a connected socket for ks_shutdown, waiting at
 * most bound_ms (then the request is cancelled: STATUS_CANCELLED, also
 * when the socket is closing, its bracket's -EBADF: then even without the
 * ctl lock). */
_Must_inspect_result_ _Requires_lock_held_(s->ctl_lock) NTSTATUS
    ks__sock_wsk_shutdown_send(_Inout_ ks_sock *s, ULONG bound_ms);

/* How long ks_close waits for an orderly disconnect before it gives up and
 * closes abortively (a peer that does not read can hold it back). */
#define KS_CLOSE_DISCONNECT_MS 5000

/* Error of a failed call on s: -EBADF if s was closed under it, else the
 * status's errno (-EIO if it maps to none; a ks__errno_status: its errno). */
int ks__sock_error(_In_ ks_sock *s, NTSTATUS status);

/* Common argument checks. */
int ks__sockaddr_len(ADDRESS_FAMILY family);
_Must_inspect_result_ int ks__check_addr(_In_ const ks_sock *s,
                                         _In_reads_bytes_opt_(addrlen) const struct sockaddr *addr,
                                         int addrlen);
void ks__wildcard_addr(ADDRESS_FAMILY family, _Out_ ks_addr *out);
/* Copies a result address to a caller's (addr, addrlen) pair, BSD style. */
void ks__copy_out_addr(_In_ const ks_addr *from,
                       _Out_writes_bytes_opt_(*addrlen) struct sockaddr *addr,
                       _Inout_opt_ int *addrlen);

/* Internal flag of ks__recv_flags/ks__accept_mode and the asynchronous
 * forms: the call is the event layer's own (ks_events.c), allowed on a
 * socket in event mode. The public calls refuse it (and every bit they do
 * not document) with -EOPNOTSUPP. */
#define KS_MSG_EVENTS 0x40000000

#endif /* KS_SOCKET_H */
