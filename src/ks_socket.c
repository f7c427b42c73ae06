/* ks_socket.c - socket objects: creation, references, close; address checks. */
#include "ks_socket.h"
#include "ks_provider.h"
#include "ks_work.h"
#include "ks_wsk.h"

/* The higher layers' hooks (ks_socket.h), by slot. Written only by
 * ks__sock_register_layer while the library is stopped (ks_startup, under
 * its lock, before "running" is set: no socket exists and none is being
 * created), read without a lock afterwards: every reader runs on a socket
 * created after the registration. */
static const struct ks_sock_layer *g_layers[KS_LAYER_COUNT];

void ks__sock_register_layer(enum ks_sock_layer_slot slot, const struct ks_sock_layer *ops)
{
    KS_ASSERT((unsigned)slot < KS_LAYER_COUNT && ops != NULL);
    KS_ASSERT(g_layers[slot] == NULL || g_layers[slot] == ops);
    KS_ASSERT(!ks__library_running());
    g_layers[slot] = ops;
}

const WSK_CLIENT_CONNECTION_DISPATCH *ks__sock_connection_dispatch(void)
{
    for (int i = 0; i < KS_LAYER_COUNT; i++)
        if (g_layers[i] != NULL && g_layers[i]->connection_dispatch != NULL)
            return g_layers[i]->connection_dispatch;
    return NULL;
}

/* Calls hook (a struct ks_sock_layer member taking only s) of every layer
 * that has one, in slot order. */
#define KS_LAYERS_CALL(hook, s)                                                                    \
    do {                                                                                           \
        for (int layer_ = 0; layer_ < KS_LAYER_COUNT; layer_++)                                    \
            if (g_layers[layer_] != NULL && g_layers[layer_]->hook != NULL)                        \
                g_layers[layer_]->hook(s);                                                         \
    } while (0)

static void disconnect_start(ks_sock *s);
static NTSTATUS disconnect_issue(ks_sock *s, PWSK_SOCKET wsk, ULONG flags);

ks_sock *ks__sock_new(ADDRESS_FAMILY family, USHORT type, ULONG protocol, int *err)
{
    /* Count first, then check: ks_cleanup clears "running" and then waits for
     * the count to drop, so it cannot miss a socket created meanwhile. */
    ks__live_socket_added();
    if (!ks__library_running()) {
        ks__live_socket_removed();
        *err = -ENETDOWN;
        return NULL;
    }
    ks_sock *s = (ks_sock *)ks__alloc(sizeof(*s), KS_TAG_SOCKET);
    if (s == NULL) {
        ks__live_socket_removed();
        *err = -ENOMEM;
        return NULL;
    }
    s->refs = 1;
    KeInitializeSpinLock(&s->lock);
    s->family = family;
    s->v6only = TRUE; /* Windows default for IPv6 sockets */
    s->type = type;
    s->protocol = protocol;
    s->state = KS_SS_NEW;
    KeInitializeEvent(&s->closed, NotificationEvent, FALSE);
    KeInitializeEvent(&s->calls_drained, NotificationEvent, FALSE);
    ks__lock_init(&s->ctl_lock);
    ks__lock_init(&s->rx_lock);
    ks__lock_init(&s->tx_lock);
    KS_LOCK_CLASS(&s->lock, "sock.lock");
    KS_LOCK_CLASS(&s->ctl_lock, "sock.ctl_lock");
    KS_LOCK_CLASS(&s->rx_lock, "sock.rx_lock");
    KS_LOCK_CLASS(&s->tx_lock, "sock.tx_lock");
    KS_LAYERS_CALL(init, s);
    InitializeListHead(&s->aio_q[0]);
    InitializeListHead(&s->aio_q[1]);
    s->fd_end = KS_FD_OPEN;
    KeInitializeEvent(&s->aio_tx_done, NotificationEvent, FALSE);
    /* No IRP yet: each direction gets its own at its first use and keeps
     * it; the control operation takes one per request (a socket at rest
     * holds none), and the close falls back on the library's reserve. */
    ks__op_init_lazy(&s->ctl);
    ks__op_init_lazy(&s->rx);
    ks__op_init_lazy(&s->tx);
    return s;
}

void ks__sock_get(ks_sock *s)
{
    KS_ASSERT(s->refs > 0); /* only a holder of a reference takes another */
    InterlockedIncrement(&s->refs);
}

void ks__sock_put(ks_sock *s)
{
    KS_ASSERT(s->refs > 0);
    if (InterlockedDecrement(&s->refs) != 0)
        return;
    /* Last reference: no thread uses the socket, nothing is in flight, the
     * provider's socket is closed. */
    KS_ASSERT(s->in_call == 0 && s->wsk == NULL);
    KS_ASSERT(IsListEmpty(&s->aio_q[0]) && IsListEmpty(&s->aio_q[1]));
    ks__op_free(&s->ctl);
    ks__op_free(&s->rx);
    ks__op_free(&s->tx);
    ks__free(s->peek_buf, KS_TAG_BUFFER);
    ks__free(s->opts, KS_TAG_MISC);
    KS_LAYERS_CALL(free, s);
    ks__free(s, KS_TAG_SOCKET);
    ks__live_socket_removed();
}

int ks__sock_lock(ks_sock *s, ks_lock *lock)
{
    KS_ASSERT_IRQL_MAX(APC_LEVEL);
    if (!ks__lock_acquire_or(lock, &s->closed))
        return -EBADF;
    /* A free lock is taken without looking at the event: a thread that
     * looked the socket up before a close and comes here after it must not
     * work on it (the close may have ended: s->wsk gone). */
    if (s->closing) {
        ks__lock_release(lock);
        return -EBADF;
    }
    return 0;
}

int ks__sock_lock_mode(ks_sock *s, ks_lock *lock, BOOLEAN nonblocking)
{
    if (!nonblocking)
        return ks__sock_lock(s, lock);
    if (!ks__lock_try_acquire(lock))
        return s->closing ? -EBADF : -EWOULDBLOCK;
    if (s->closing) { /* as ks__sock_lock: never work on a closing socket */
        ks__lock_release(lock);
        return -EBADF;
    }
    return 0;
}

void ks__sock_unlock(ks_lock *lock)
{
    ks__lock_release(lock);
}

int ks__call_enter(ks_sock *s, int state, int not_state_err, PWSK_SOCKET *wsk)
{
    int err = 0;
    KIRQL irql;
    KS_ASSERT(s->refs > 0); /* the caller holds a reference */
    KeAcquireSpinLock(&s->lock, &irql);
    if (s->closing)
        err = -EBADF;
    else if (state >= 0 && (int)s->state != state)
        err = not_state_err;
    else if (wsk != NULL && s->wsk == NULL)
        err = state >= 0 ? not_state_err : -EBADF;
    else
        s->in_call++;
    if (err == 0 && wsk != NULL)
        *wsk = s->wsk;
    KeReleaseSpinLock(&s->lock, irql);
    return err;
}

void ks__call_leave(ks_sock *s)
{
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    KS_ASSERT(s->in_call > 0); /* after a successful ks__call_enter */
    if (--s->in_call == 0 && s->closing)
        KeSetEvent(&s->calls_drained, IO_NO_INCREMENT, FALSE);
    KeReleaseSpinLock(&s->lock, irql);
}

NTSTATUS ks__sock_wsk_create(ks_sock *s, ULONG kind)
{
    KS_ASSERT(ks__lock_held_by_me(&s->ctl_lock));
    KS_ASSERT(s->wsk == NULL); /* the previous one was closed */
    const WSK_PROVIDER_NPI *npi;
    NTSTATUS status = ks__provider_npi(&npi);
    if (!NT_SUCCESS(status))
        return status;
    if (!NT_SUCCESS(ks__op_prepare(&s->ctl)))
        return STATUS_INSUFFICIENT_RESOURCES;
    int err = ks__call_enter(s, -1, 0, NULL);
    if (err != 0) {
        ks__op_drop(&s->ctl);
        return ks__errno_status(err);
    }
    PIRP irp = ks__op_begin(&s->ctl);
    /* Connection sockets get the library's connection dispatch (events
     * disabled until asked for); listening sockets their event dispatch
     * when ks_listen_events set one. */
    const void *dispatch = kind == WSK_FLAG_CONNECTION_SOCKET
                               ? (const void *)ks__sock_connection_dispatch()
                               : s->wsk_dispatch;
    status = ks__wsk_socket(npi, s->family, s->type, s->protocol, kind, s, dispatch, irp);
    ks__call_leave(s);
    ULONG_PTR info;
    status = ks__op_wait(&s->ctl, status, NULL, &info);
    ks__op_drop(&s->ctl);
    if (NT_SUCCESS(status)) {
        KIRQL irql;
        KeAcquireSpinLock(&s->lock, &irql);
        s->wsk = (PWSK_SOCKET)info;
        s->wsk_kind = kind;
        KeReleaseSpinLock(&s->lock, irql);
    }
    return status;
}

NTSTATUS ks__sock_wsk_bind(ks_sock *s, const SOCKADDR *addr)
{
    KS_ASSERT(ks__lock_held_by_me(&s->ctl_lock));
    if (!NT_SUCCESS(ks__op_prepare(&s->ctl)))
        return STATUS_INSUFFICIENT_RESOURCES;
    PWSK_SOCKET wsk;
    int err = ks__call_enter(s, -1, 0, &wsk);
    NTSTATUS status = ks__errno_status(err);
    if (err == 0) {
        PIRP irp = ks__op_begin(&s->ctl);
        status = ks__wsk_bind(wsk, addr, 0, irp);
        ks__call_leave(s);
        status = ks__op_wait(&s->ctl, status, NULL, NULL);
    }
    ks__op_drop(&s->ctl);
    return status;
}

void ks__sock_wsk_close(ks_sock *s)
{
    /* Nothing else in flight on the ctl op, no thread inside a WSK call. */
    KS_ASSERT(ks__lock_held_by_me(&s->ctl_lock));
    KS_ASSERT(!ks__op_busy(&s->ctl) && s->in_call == 0);
    PWSK_SOCKET wsk = s->wsk;
    if (wsk == NULL)
        return;
    /* Never fails for memory: the reserve IRP if need be. */
    ks__op_prepare_reserved(&s->ctl);
    PIRP irp = ks__op_begin(&s->ctl);
    NTSTATUS status = ks__wsk_close_socket(wsk, irp);
    ks__op_wait(&s->ctl, status, NULL, NULL);
    ks__op_drop(&s->ctl);
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    s->wsk = NULL;
    s->wsk_kind = 0;
    KeReleaseSpinLock(&s->lock, irql);
}

/* The earlier of the socket's own close deadline and d (NULL: none). */
static const ks_deadline *close_deadline(const ks_sock *s, const ks_deadline *d)
{
    if (d != NULL && d->bounded && d->at_ms < s->close_until.at_ms)
        return d;
    return &s->close_until;
}

BOOLEAN ks__sock_close_start(ks_sock *s, const ks_deadline *d)
{
    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL);
    KS_ASSERT(s->refs > 0);
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    if (s->closing) {
        KeReleaseSpinLock(&s->lock, irql);
        return FALSE;
    }
    /* Event mode: no callback may hold a retained indication at the
     * provider's close; one running now closes the socket when it returns.
     * Under the lock that claims event mode, so a socket enters it before
     * this point or never (claim_events refuses a closing socket). */
    for (int i = 0; i < KS_LAYER_COUNT; i++) {
        if (g_layers[i] != NULL && g_layers[i]->close_defer_locked != NULL &&
            g_layers[i]->close_defer_locked(s)) {
            KeReleaseSpinLock(&s->lock, irql);
            return FALSE;
        }
    }
    s->closing = TRUE;
    BOOLEAN drained = s->in_call == 0;
    KeReleaseSpinLock(&s->lock, irql);
    /* The orderly part of the close (a send in flight finishing, then the
     * graceful disconnect) has one bound in all: the SO_LINGER time, or
     * KS_CLOSE_DISCONNECT_MS. */
    s->close_until =
        ks__deadline_in(s->linger_on && s->linger_secs > 0 ? (ULONG)s->linger_secs * 1000u
                                                           : KS_CLOSE_DISCONNECT_MS);
    /* Wake threads waiting for a direction lock. */
    KeSetEvent(&s->closed, IO_NO_INCREMENT, FALSE);
    /* No thread may be inside a WSK call when WskCloseSocket runs. */
    if (!drained)
        KeWaitForSingleObject(&s->calls_drained, Executive, KernelMode, FALSE, NULL);
    /* Pollers wake; a non-blocking send in flight may finish. */
    const ks_deadline *until = close_deadline(s, d);
    for (int i = 0; i < KS_LAYER_COUNT; i++)
        if (g_layers[i] != NULL && g_layers[i]->close_begin != NULL)
            g_layers[i]->close_begin(s, until);
    /* A send still in flight is cut off: the stream is broken, so the close
     * is abortive. Otherwise every byte sent was handed over whole. */
    BOOLEAN send_cut = ks__op_busy(&s->tx);
    /* Ask the provider to end what is pending; WskCloseSocket cancels the
     * rest (providers that ignore IoCancelIrp still honour that). */
    ks__op_cancel(&s->rx);
    ks__op_cancel(&s->tx);
    ks__op_cancel(&s->ctl);
    /* The control lock orders us after any creation or bind in progress, so
     * s->wsk is final. Held until ks__sock_close_finish. */
    ks__lock_acquire(&s->ctl_lock);
    if (send_cut) {
        KeAcquireSpinLock(&s->lock, &irql);
        s->send_broken = TRUE;
        KeReleaseSpinLock(&s->lock, irql);
    }
    KS_LAYERS_CALL(close_release, s);
    disconnect_start(s);
    return TRUE;
}

void ks__sock_close_finish(ks_sock *s, const ks_deadline *d)
{
    /* After ks__sock_close_start returned TRUE, on the same thread. */
    KS_ASSERT(ks__lock_held_by_me(&s->ctl_lock));
    KS_ASSERT(s->closing && s->in_call == 0);
    if (s->close_disc_issued) {
        LARGE_INTEGER t;
        ks__op_wait(&s->ctl, s->close_disc_status, ks__deadline_left(close_deadline(s, d), &t),
                    NULL);
        ks__op_drop(&s->ctl);
    }
    ks__sock_wsk_close(s);
    ks__sock_unlock(&s->ctl_lock);
    /* Asynchronous requests (cancelled above) complete and are reaped. */
    KS_LAYERS_CALL(close_end, s);
}

void ks__sock_close(ks_sock *s)
{
    if (ks__sock_close_start(s, NULL))
        ks__sock_close_finish(s, NULL);
}

/* A close moved off a completion thread (ks__sock_close_soon). */
struct close_soon {
    ks_work work;
    ks_sock *s; /* referenced */
};

static void close_soon_run(ks_work *w)
{
    struct close_soon *c = CONTAINING_RECORD(w, struct close_soon, work);
    ks_sock *s = c->s;
    ks__free(c, KS_TAG_MISC);
    ks__sock_close(s);
    ks__sock_put(s);
}

void ks__sock_close_soon(ks_sock *s)
{
    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL);
    KS_ASSERT(s->refs > 0);
    if (ks__work_on_completion_thread()) {
        struct close_soon *c = (struct close_soon *)ks__alloc(sizeof(*c), KS_TAG_MISC);
        if (c != NULL) {
            c->work.fn = close_soon_run;
            c->s = s;
            ks__sock_get(s);
            if (ks__work_post_blocking(&c->work) == 0)
                return;
            ks__sock_put(s); /* the caller still holds one */
            ks__free(c, KS_TAG_MISC);
        }
    }
    ks__sock_close(s);
}

void ks__sock_close_after_sends(ks_sock *s)
{
    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL);
    KS_ASSERT(s->refs > 0 && s->fd_end == KS_FD_CLOSE_AFTER);
    /* One bound for the wait for the sends and the close's own orderly part. */
    ks_deadline d =
        ks__deadline_in(s->linger_on ? (ULONG)s->linger_secs * 1000u : KS_CLOSE_DISCONNECT_MS);
    if (!d.bounded) { /* SO_LINGER {1, 0}: no wait, the close is abortive */
        d.bounded = TRUE;
        d.at_ms = ks__now_ms();
    }
    for (int i = 0; i < KS_LAYER_COUNT; i++)
        if (g_layers[i] != NULL && g_layers[i]->close_drain != NULL)
            g_layers[i]->close_drain(s, &d);
    if (ks__sock_close_start(s, &d))
        ks__sock_close_finish(s, &d);
}

void ks__sock_fd_ended(ks_sock *s, enum ks_fd_end how)
{
    KS_ASSERT_IRQL_MAX(DISPATCH_LEVEL);
    KS_ASSERT(how != KS_FD_OPEN);
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    KS_ASSERT(s->fd_end == KS_FD_OPEN); /* a descriptor ends once */
    s->fd_end = how;
    KeReleaseSpinLock(&s->lock, irql);
}

/* Starts the disconnect of a connected connection socket before its close
 * (ctl lock held, calls drained): nothing if ks_shutdown ended sending;
 * abortive if the stream is broken (send_broken) or SO_LINGER is {1, 0};
 * else graceful, waited for by ks__sock_close_finish until s->close_until
 * (the SO_LINGER time or KS_CLOSE_DISCONNECT_MS from the close's start). */
static void disconnect_start(ks_sock *s)
{
    /* BSD close() is orderly: the peer reads everything sent, then end of
     * stream. WskCloseSocket alone is abortive on Windows ("WskCloseSocket":
     * a connection socket not disconnected first is reset), so a connected
     * socket is first disconnected gracefully. The graceful WskDisconnect
     * completes only once the transport has finished the disconnect
     * ("WskDisconnect" remarks), which a peer that stopped reading can
     * delay for ever: the wait is bounded (KS_CLOSE_DISCONNECT_MS, or the
     * SO_LINGER time), then the request is cancelled and the close proceeds
     * (abortively). SO_LINGER {1, 0} and a broken stream (a send cut off)
     * ask for the abortive disconnect explicitly, which also holds with
     * providers whose WskCloseSocket is graceful. A socket shut down for
     * sending was already disconnected gracefully by ks_shutdown. Providers
     * without WskDisconnect (Wine's returns STATUS_NOT_IMPLEMENTED) close
     * gracefully themselves. */
    KS_ASSERT(ks__lock_held_by_me(&s->ctl_lock));
    KS_ASSERT(s->closing && s->in_call == 0);
    s->close_disc_issued = FALSE;
    if (s->wsk == NULL || s->wsk_kind != WSK_FLAG_CONNECTION_SOCKET ||
        s->state != KS_SS_CONNECTED || s->shut_wr)
        return;
    /* An abortive disconnect completes at once; the bound is a safeguard. */
    BOOLEAN abortive = s->send_broken || (s->linger_on && s->linger_secs == 0);
    ULONG flags = abortive ? WSK_FLAG_ABORTIVE : 0;
    /* Without memory for its IRP there is no disconnect: WskCloseSocket
     * (which has the reserve) then ends the connection, abortively. */
    if (!NT_SUCCESS(ks__op_prepare(&s->ctl)))
        return;
    s->close_disc_status = disconnect_issue(s, s->wsk, flags);
    s->close_disc_issued = TRUE;
}

/* Issues WskDisconnect of wsk on the ctl op; the call's status is for
 * ks__op_wait. */
static NTSTATUS disconnect_issue(ks_sock *s, PWSK_SOCKET wsk, ULONG flags)
{
    PIRP irp = ks__op_begin(&s->ctl);
    return ks__wsk_disconnect(wsk, NULL, flags, irp);
}

NTSTATUS ks__sock_wsk_shutdown_send(ks_sock *s, ULONG bound_ms)
{
    /* Or closing: then the bracket refuses (STATUS_CANCELLED), also for a
     * thread that never got the lock (host_lib_rel-lock-after-close). */
    KS_ASSERT(s->closing || ks__lock_held_by_me(&s->ctl_lock));
    PWSK_SOCKET wsk;
    int err = ks__call_enter(s, KS_SS_CONNECTED, -ENOTCONN, &wsk);
    /* Closing (-EBADF): STATUS_CANCELLED, as documented (the close cancels
     * the disconnect it would have waited for), which ks_shutdown reads
     * after its s->closing check. Any other refusal (-ENOTCONN: not
     * connected) is passed on, never taken for the bound's expiry. */
    if (err == -EBADF)
        return STATUS_CANCELLED;
    if (err != 0)
        return ks__errno_status(err);
    if (!NT_SUCCESS(ks__op_prepare(&s->ctl))) {
        ks__call_leave(s);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    NTSTATUS status = disconnect_issue(s, wsk, 0);
    ks__call_leave(s);
    LARGE_INTEGER timeout = ks__relative_ms(bound_ms);
    status = ks__op_wait(&s->ctl, status, &timeout, NULL);
    ks__op_drop(&s->ctl);
    return status;
}

int ks__sock_error(ks_sock *s, NTSTATUS status)
{
    if (s->closing)
        return -EBADF;
    int err = ks__status_to_errno(status);
    return err != 0 ? err : -EIO;
}

int ks__sockaddr_len(ADDRESS_FAMILY family)
{
    return family == AF_INET6 ? (int)sizeof(SOCKADDR_IN6) : (int)sizeof(SOCKADDR_IN);
}

int ks__check_addr(const ks_sock *s, const struct sockaddr *addr, int addrlen)
{
    if (addr == NULL)
        return -EFAULT;
    if (addrlen < (int)sizeof(addr->sa_family))
        return -EINVAL;
    if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)
        return -EAFNOSUPPORT;
    if (addr->sa_family != s->family)
        return -EAFNOSUPPORT;
    if (addrlen < ks__sockaddr_len(addr->sa_family))
        return -EINVAL;
    return 0;
}

void ks__wildcard_addr(ADDRESS_FAMILY family, ks_addr *out)
{
    RtlZeroMemory(out, sizeof(*out));
    out->sa.sa_family = family;
}

void ks__copy_out_addr(const ks_addr *from, struct sockaddr *addr, int *addrlen)
{
    if (addr == NULL || addrlen == NULL)
        return;
    int full = ks__sockaddr_len(from->sa.sa_family);
    int n = *addrlen < full ? *addrlen : full;
    if (n > 0)
        RtlCopyMemory(addr, from, (SIZE_T)n);
    *addrlen = full;
}
