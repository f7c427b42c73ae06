/*
 * socket.c - socket objects: the registry of live sockets (every call is
 * checked against it, so a call on a closed socket is reported instead of
 * touching freed memory), references, calls in progress, WskCloseSocket,
 * and the provider's socket dispatch tables.
 *
 * Freed socket objects wait in a FIFO of tombstones before their memory is
 * released, so that a stale PWSK_SOCKET keeps pointing at no live socket
 * for a while (use after close is then detected, not aliased).
 */
#include "wp.h"

#include <stdlib.h>
#include <string.h>

#define BUCKETS 1024
#define TOMBSTONES 1024

static struct {
    pn_mutex lock; /* buckets, in_call, tombstones */
    struct wp_sock *buckets[BUCKETS];
    struct wp_sock *tomb[TOMBSTONES];
    unsigned tomb_next;
    volatile LONG open;
    volatile LONG graceful_close; /* wskprov_set_abortive_close(FALSE) */
} reg;

void wp_socket_init(void)
{
    pn_mutex_init(&reg.lock);
    const char *env = pn_getenv("KSHIM_WSK_CLOSE");
    if (env != NULL && strcmp(env, "graceful") == 0)
        reg.graceful_close = 1;
    else if (env != NULL && env[0] != '\0' && strcmp(env, "abortive") != 0)
        pn_log("wskprov: KSHIM_WSK_CLOSE=%s is not abortive or graceful; using abortive", env);
}

void wskprov_set_abortive_close(BOOLEAN abortive)
{
    wp_init_once();
    InterlockedExchange(&reg.graceful_close, abortive ? 0 : 1);
}

BOOLEAN wskprov_abortive_close(void)
{
    wp_init_once();
    return reg.graceful_close == 0;
}

LONG wskprov_open_sockets(void)
{
    return reg.open;
}

static unsigned bucket_of(const void *p)
{
    uintptr_t x = (uintptr_t)p >> 4;
    return (unsigned)((x ^ (x >> 10) ^ (x >> 20)) % BUCKETS);
}

/* The live socket whose WSK_SOCKET is at p, or NULL (registry lock held). */
static struct wp_sock *lookup(const void *p)
{
    for (struct wp_sock *s = reg.buckets[bucket_of(p)]; s != NULL; s = s->hnext)
        if ((const void *)&s->wsk == p)
            return s;
    return NULL;
}

/* Removes s from the registry if it is there (registry lock held). */
static void unlink_sock(struct wp_sock *s)
{
    for (struct wp_sock **pp = &reg.buckets[bucket_of(&s->wsk)]; *pp != NULL; pp = &(*pp)->hnext)
        if (*pp == s) {
            *pp = s->hnext;
            s->hnext = NULL;
            return;
        }
}

struct wp_sock *wp_sock_new(struct wp_reg *r, enum wp_kind kind, int family, int fd)
{
    struct wp_sock *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->wsk.Dispatch = wp_dispatch_for(kind);
    s->reg = r;
    s->kind = kind;
    s->family = family;
    s->refs = 1; /* the client's, dropped when its close completes */
    pn_mutex_init(&s->lock);
    s->fd = fd;
    InitializeListHead(&s->rxq);
    InitializeListHead(&s->txq);
    InitializeListHead(&s->ev_disable_irps);
    pn_mutex_lock(&reg.lock);
    unsigned b = bucket_of(&s->wsk);
    s->hnext = reg.buckets[b];
    reg.buckets[b] = s;
    pn_mutex_unlock(&reg.lock);
    kshim_count("wsk sockets", 1);
    InterlockedIncrement(&reg.open);
    wp_reg_socket_added(r);
    if (fd >= 0)
        wp_engine_watch(fd, s);
    return s;
}

struct wp_sock *wp_sock_enter(PWSK_SOCKET socket, const char *function)
{
    if (socket == NULL)
        kshim_violation("%s: Socket is NULL", function);
    pn_mutex_lock(&reg.lock);
    struct wp_sock *s = lookup(socket);
    if (s == NULL)
        kshim_violation("%s on socket %p, which is closed or was never created "
                        "(\"WskCloseSocket\": no calls on a socket after closing it)",
                        function, (void *)socket);
    s->in_call++;
    InterlockedIncrement(&s->refs);
    pn_mutex_unlock(&reg.lock);
    return s;
}

struct wp_sock *wp_sock_enter_irp(PWSK_SOCKET socket, PIRP irp, const char *function)
{
    struct wp_sock *s = wp_sock_enter(socket, function);
    wp_take_irp(irp, function);
    wp_sock_irp_taken(s);
    return s;
}

void wp_sock_leave_call(struct wp_sock *s)
{
    pn_mutex_lock(&reg.lock);
    s->in_call--;
    pn_mutex_unlock(&reg.lock);
}

void wp_sock_ref(struct wp_sock *s)
{
    InterlockedIncrement(&s->refs);
}

void wp_sock_unref(struct wp_sock *s)
{
    if (InterlockedDecrement(&s->refs) != 0)
        return;
    /* Last reference: closed, no request, no event being handled. */
    if (s->fd >= 0)
        pn_close(s->fd);
    pn_mutex_lock(&reg.lock);
    struct wp_sock *old = reg.tomb[reg.tomb_next];
    reg.tomb[reg.tomb_next] = s;
    reg.tomb_next = (reg.tomb_next + 1) % TOMBSTONES;
    pn_mutex_unlock(&reg.lock);
    free(old);
}

struct wp_sock *wp_sock_ref_if_live(void *ptr)
{
    pn_mutex_lock(&reg.lock);
    struct wp_sock *s = lookup(&((struct wp_sock *)ptr)->wsk);
    if (s != NULL)
        InterlockedIncrement(&s->refs);
    pn_mutex_unlock(&reg.lock);
    return s;
}

void wp_sock_irp_taken(struct wp_sock *s)
{
    pn_mutex_lock(&s->lock);
    s->outstanding++;
    pn_mutex_unlock(&s->lock);
}

NTSTATUS wp_sock_finish(struct wp_sock *s, PIRP irp, NTSTATUS status, ULONG_PTR information)
{
    wp_sock_leave_call(s);
    BOOLEAN now = wp_complete(irp, status, information, s);
    wp_sock_unref(s);
    return wp_returned(now, status);
}

/*
 * Closes the descriptor (socket lock held). "WskCloseSocket": for
 * connection-oriented sockets the close is abortive unless the socket is
 * already disconnected; SO_LINGER {1, 0} makes Linux send a reset as
 * Windows does. Disconnected means: a graceful WskDisconnect completed (the
 * peer has acknowledged our data and FIN; what it still sends is refused),
 * or both directions ended. wskprov_set_abortive_close(FALSE) makes every
 * close graceful.
 */
static void close_descriptor(struct wp_sock *s)
{
    if (s->fd < 0)
        return;
    if (s->kind == WP_CONNECTION && (s->state & WP_CONNECTED) != 0 && !reg.graceful_close &&
        !(s->state & WP_DISCONNECTED) &&
        (s->state & (WP_TX_SHUT | WP_RX_EOF)) != (WP_TX_SHUT | WP_RX_EOF))
        pn_set_linger(s->fd, 1, 0);
    /* Closing also removes the descriptor from the I/O thread's epoll set. */
    pn_close(s->fd);
    s->fd = -1;
}

/* The last step of a close: the socket is gone for the client. */
static BOOLEAN close_finish(struct wp_sock *s, PIRP irp)
{
    kshim_count("wsk sockets", -1);
    InterlockedDecrement(&reg.open);
    BOOLEAN now = wp_complete_mode(irp, STATUS_SUCCESS, 0, NULL, FALSE, s->reg);
    wp_sock_unref(s); /* the client's reference */
    return now;
}

void wp_sock_irp_done(struct wp_sock *s)
{
    PIRP close_irp = NULL;
    pn_mutex_lock(&s->lock);
    if (--s->outstanding == 0 && s->close_irp != NULL) {
        close_irp = s->close_irp;
        s->close_irp = NULL;
    }
    pn_mutex_unlock(&s->lock);
    if (close_irp != NULL) {
        wp_sock_ref(s);
        close_finish(s, close_irp);
        wp_sock_unref(s);
    }
}

/*
 * WskCloseSocket ("WskCloseSocket", "Closing a Socket"): the application
 * must not call it while another call on the socket is in progress (a
 * violation here; pending IRPs from earlier calls are fine); the provider
 * cancels and completes every pending IRP of the socket, then completes the
 * close. No call may follow on the socket. Cannot fail, so no fault site.
 */
NTSTATUS WSKAPI wp_WskCloseSocket(PWSK_SOCKET Socket, PIRP Irp)
{
    if (Socket == NULL)
        kshim_violation("WskCloseSocket: Socket is NULL");
    pn_mutex_lock(&reg.lock);
    struct wp_sock *s = lookup(Socket);
    if (s == NULL)
        kshim_violation("WskCloseSocket on socket %p, which is already closed or was never "
                        "created",
                        (void *)Socket);
    if (s->in_call > 0)
        kshim_violation("WskCloseSocket on socket %p while %ld other call(s) on it are in "
                        "progress in other threads (\"WskCloseSocket\" remarks: no other "
                        "function calls in progress)",
                        (void *)Socket, (long)s->in_call);
    unlink_sock(s);
    InterlockedIncrement(&s->refs);
    pn_mutex_unlock(&reg.lock);
    wp_take_irp(Irp, "WskCloseSocket");

    LIST_ENTRY done;
    struct wp_ind *held;
    InitializeListHead(&done);
    pn_mutex_lock(&s->lock);
    wp_events_closing(s, "WskCloseSocket", &held);
    s->state |= WP_CLOSING;
    wp_req_end_all(s, STATUS_CANCELLED, &done);
    close_descriptor(s);
    pn_mutex_unlock(&s->lock);
    wp_req_complete_list(&done);
    wp_ind_free(held);

    NTSTATUS result;
    pn_mutex_lock(&s->lock);
    if (s->outstanding == 0) {
        pn_mutex_unlock(&s->lock);
        result = wp_returned(close_finish(s, Irp), STATUS_SUCCESS);
    } else {
        /* Completed by whoever completes the last outstanding IRP. */
        IoMarkIrpPending(Irp);
        s->close_irp = Irp;
        pn_mutex_unlock(&s->lock);
        result = STATUS_PENDING;
    }
    wp_sock_unref(s);
    return result;
}

void wp_sock_destroy(struct wp_sock *s)
{
    LIST_ENTRY done;
    InitializeListHead(&done);
    pn_mutex_lock(&reg.lock);
    unlink_sock(s);
    pn_mutex_unlock(&reg.lock);
    struct wp_ind *held;
    pn_mutex_lock(&s->lock);
    wp_events_closing(s, "the provider closing a socket", &held);
    s->state |= WP_CLOSING;
    wp_req_end_all(s, STATUS_CANCELLED, &done);
    close_descriptor(s);
    pn_mutex_unlock(&s->lock);
    wp_req_complete_list(&done);
    wp_ind_free(held);
    kshim_count("wsk sockets", -1);
    InterlockedDecrement(&reg.open);
    wp_reg_socket_removed(s->reg);
    wp_sock_unref(s);
}

/* Whether a and b name the same local address (a wildcard matches all). */
static BOOLEAN same_local(const struct pn_addr *a, const struct pn_addr *b)
{
    static const uint8_t zero[16];
    size_t n = a->family == 6 ? 16 : 4;
    if (a->family != b->family || a->port != b->port)
        return FALSE;
    return memcmp(a->addr, zero, n) == 0 || memcmp(b->addr, zero, n) == 0 ||
           memcmp(a->addr, b->addr, n) == 0;
}

NTSTATUS wp_sock_claim(struct wp_sock *s, const struct pn_addr *a)
{
    NTSTATUS status = STATUS_SUCCESS;
    pn_mutex_lock(&reg.lock);
    if (a->port != 0) {
        for (unsigned b = 0; b < BUCKETS && NT_SUCCESS(status); b++)
            for (struct wp_sock *o = reg.buckets[b]; o != NULL; o = o->hnext)
                if (o != s && o->port_claimed && same_local(&o->claim, a) &&
                    !(o->opt_reuseaddr && s->opt_reuseaddr)) {
                    status = STATUS_ADDRESS_ALREADY_EXISTS;
                    break;
                }
    }
    if (NT_SUCCESS(status)) {
        s->claim = *a;
        s->port_claimed = TRUE;
    }
    pn_mutex_unlock(&reg.lock);
    return status;
}

void wp_sock_settle(struct wp_sock *s, BOOLEAN bound)
{
    struct pn_addr actual;
    BOOLEAN known = bound && s->fd >= 0 && pn_getsockname(s->fd, &actual) == 0;
    pn_mutex_lock(&reg.lock);
    if (!bound)
        s->port_claimed = FALSE;
    else if (known)
        s->claim = actual;
    pn_mutex_unlock(&reg.lock);
}

/* ---- dispatch tables ("WSK_PROVIDER_*_DISPATCH") ---- */

static const WSK_PROVIDER_BASIC_DISPATCH basic_dispatch = {
    .WskControlSocket = wp_WskControlSocket,
    .WskCloseSocket = wp_WskCloseSocket,
};

static const WSK_PROVIDER_LISTEN_DISPATCH listen_dispatch = {
    .WskControlSocket = wp_WskControlSocket,
    .WskCloseSocket = wp_WskCloseSocket,
    .WskBind = wp_WskBind,
    .WskAccept = wp_WskAccept,
    .WskInspectComplete = wp_WskInspectComplete,
    .WskGetLocalAddress = wp_WskGetLocalAddress,
};

static const WSK_PROVIDER_DATAGRAM_DISPATCH datagram_dispatch = {
    .WskControlSocket = wp_WskControlSocket,
    .WskCloseSocket = wp_WskCloseSocket,
    .WskBind = wp_WskBind,
    .WskSendTo = wp_WskSendTo,
    .WskReceiveFrom = wp_WskReceiveFrom,
    .WskRelease = wp_WskReleaseDatagrams,
    .WskGetLocalAddress = wp_WskGetLocalAddress,
    .WskSendMessages = wp_WskSendMessages,
};

static const WSK_PROVIDER_CONNECTION_DISPATCH connection_dispatch = {
    .WskControlSocket = wp_WskControlSocket,
    .WskCloseSocket = wp_WskCloseSocket,
    .WskBind = wp_WskBind,
    .WskConnect = wp_WskConnect,
    .WskGetLocalAddress = wp_WskGetLocalAddress,
    .WskGetRemoteAddress = wp_WskGetRemoteAddress,
    .WskSend = wp_WskSend,
    .WskReceive = wp_WskReceive,
    .WskDisconnect = wp_WskDisconnect,
    .WskRelease = wp_WskReleaseData,
    .WskConnectEx = wp_WskConnectEx,
    .WskSendEx = wp_WskSendEx,
    .WskReceiveEx = wp_WskReceiveEx,
};

const void *wp_dispatch_for(enum wp_kind kind)
{
    switch (kind) {
    case WP_LISTEN:
        return &listen_dispatch;
    case WP_CONNECTION:
        return &connection_dispatch;
    case WP_DATAGRAM:
        return &datagram_dispatch;
    case WP_BASIC:
        break;
    }
    return &basic_dispatch;
}
