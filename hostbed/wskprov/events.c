/*
 * events.c - event callbacks ("Enabling and Disabling Event Callback
 * Functions", "SO_WSK_EVENT_CALLBACK"): WskAcceptEvent on listening
 * sockets; WskReceiveEvent and WskDisconnectEvent on connection sockets
 * and, enabled on a listening socket, on every socket its WskAcceptEvent
 * accepts; WskRelease of the data indication lists a client retained.
 *
 * Every callback runs on the I/O thread (wp_events_run, after the socket's
 * request queues were serviced: queued WskAccept and WskReceive IRPs take
 * precedence, as "PFN_WSK_ACCEPT_EVENT" and "PFN_WSK_RECEIVE_EVENT" say),
 * at DISPATCH_LEVEL with WSK_FLAG_AT_DISPATCH_LEVEL, with no provider lock
 * held, one at a time per socket (ev_running), never once WskCloseSocket
 * was called (WP_CLOSING). A running callback counts as an outstanding
 * request of its socket, so a WskCloseSocket made meanwhile completes once
 * it returned.
 *
 * KSHIM_WSK_EVENTS=0 (or wskprov_set_events(FALSE)): SO_WSK_EVENT_CALLBACK
 * is STATUS_NOT_SUPPORTED, as with providers that offer no event callbacks
 * (Wine's), so that a client's fallback can be tested.
 */
#include "wp.h"

#include <stdlib.h>
#include <string.h>

/* Bytes read for one receive indication. */
#define IND_BYTES 65536
/* Callbacks per service of one socket before other sockets get a turn. */
#define BURST 16

#define CONN_EVENTS (WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT)

static volatile LONG offered = 1;

void wp_events_init(void)
{
    const char *env = pn_getenv("KSHIM_WSK_EVENTS");
    if (env != NULL && strcmp(env, "0") == 0)
        offered = 0;
    else if (env != NULL && env[0] != '\0' && strcmp(env, "1") != 0)
        pn_log("wskprov: KSHIM_WSK_EVENTS=%s is not 0 or 1; using 1", env);
}

void wskprov_set_events(BOOLEAN on)
{
    wp_init_once();
    InterlockedExchange(&offered, on ? 1 : 0);
}

BOOLEAN wskprov_events(void)
{
    wp_init_once();
    return offered != 0;
}

BOOLEAN wp_events_offered(void)
{
    return offered != 0;
}

/* ---- SO_WSK_EVENT_CALLBACK ---- */

/*
 * "SO_WSK_EVENT_CALLBACK": InputBuffer is a WSK_EVENT_CALLBACK_CONTROL
 * whose NpiId points to NPI_WSK_INTERFACE_ID (extension interfaces are not
 * offered); EventMask enables any combination of the events valid for the
 * socket's category, or disables exactly one with WSK_EVENT_DISABLE.
 * Valid: listening sockets WSK_EVENT_ACCEPT, plus the connection events,
 * which are then enabled on every socket WskAcceptEvent accepts and
 * "cannot be disabled on the listening socket"; connection sockets
 * WSK_EVENT_RECEIVE, WSK_EVENT_DISCONNECT. WSK_EVENT_SEND_BACKLOG and
 * datagram sockets' WSK_EVENT_RECEIVE_FROM are valid but not offered
 * (STATUS_NOT_SUPPORTED); anything else, or a callback the socket's
 * client dispatch table lacks, is STATUS_INVALID_PARAMETER. Listening
 * sockets must be bound and connection sockets connected first
 * (STATUS_INVALID_DEVICE_STATE). Enabling completes at once; disabling an
 * event whose callback is running returns STATUS_EVENT_PENDING without an
 * IRP, or pends the IRP until the callback returned.
 */
NTSTATUS wp_events_set(struct wp_sock *s, SIZE_T size, PVOID buffer, PIRP irp, BOOLEAN *pend_irp)
{
    WSK_EVENT_CALLBACK_CONTROL c;
    *pend_irp = FALSE;
    if (!offered)
        return STATUS_NOT_SUPPORTED;
    if (buffer == NULL || size != sizeof(c))
        return STATUS_INVALID_PARAMETER;
    RtlCopyMemory(&c, buffer, sizeof(c));
    if (c.NpiId == NULL || memcmp(c.NpiId, &NPI_WSK_INTERFACE_ID, sizeof(NPIID)) != 0)
        return STATUS_INVALID_PARAMETER;
    ULONG bits = c.EventMask & ~(ULONG)WSK_EVENT_DISABLE;
    BOOLEAN disable = (c.EventMask & WSK_EVENT_DISABLE) != 0;
    ULONG valid = 0;
    if (s->kind == WP_LISTEN)
        valid = WSK_EVENT_ACCEPT | CONN_EVENTS | WSK_EVENT_SEND_BACKLOG;
    else if (s->kind == WP_CONNECTION)
        valid = CONN_EVENTS | WSK_EVENT_SEND_BACKLOG;
    else if (s->kind == WP_DATAGRAM)
        valid = WSK_EVENT_RECEIVE_FROM;
    if (bits == 0 || (bits & ~valid) != 0)
        return STATUS_INVALID_PARAMETER;
    /* "a WSK application must disable each event callback function individually" */
    if (disable && (bits & (bits - 1)) != 0)
        return STATUS_INVALID_PARAMETER;
    if (bits & (WSK_EVENT_SEND_BACKLOG | WSK_EVENT_RECEIVE_FROM))
        return STATUS_NOT_SUPPORTED;
    if (disable) {
        if (s->kind == WP_LISTEN && (bits & CONN_EVENTS))
            return STATUS_INVALID_PARAMETER;
        s->ev_enabled &= ~bits;
        if ((s->ev_running & bits) == 0)
            return STATUS_SUCCESS;
        if (irp == NULL)
            return STATUS_EVENT_PENDING;
        IoMarkIrpPending(irp);
        InsertTailList(&s->ev_disable_irps, &irp->Tail.Overlay.ListEntry);
        *pend_irp = TRUE;
        return STATUS_PENDING;
    }
    if (s->kind == WP_LISTEN) {
        const WSK_CLIENT_LISTEN_DISPATCH *d = s->client_dispatch;
        if (!(s->state & WP_BOUND))
            return STATUS_INVALID_DEVICE_STATE;
        if ((bits & WSK_EVENT_ACCEPT) && (d == NULL || d->WskAcceptEvent == NULL))
            return STATUS_INVALID_PARAMETER;
        s->ev_enabled |= bits & WSK_EVENT_ACCEPT;
        s->ev_inherit |= bits & CONN_EVENTS;
        return STATUS_SUCCESS;
    }
    const WSK_CLIENT_CONNECTION_DISPATCH *d = s->client_dispatch;
    if (!(s->state & WP_CONNECTED))
        return STATUS_INVALID_DEVICE_STATE;
    if (((bits & WSK_EVENT_RECEIVE) && (d == NULL || d->WskReceiveEvent == NULL)) ||
        ((bits & WSK_EVENT_DISCONNECT) && (d == NULL || d->WskDisconnectEvent == NULL)))
        return STATUS_INVALID_PARAMETER;
    s->ev_enabled |= bits;
    return STATUS_SUCCESS;
}

/* ---- data indications ---- */

/* A provider buffer for one indication: nonpaged memory described by a
 * locked and mapped MDL (the shim's MDL rules apply to it); NULL if an
 * allocation failed (fault site wsk.indicate, or mdl.alloc). */
static struct wp_ind *ind_new(void)
{
    if (kshim_fault("wsk.indicate"))
        return NULL;
    struct wp_ind *ind = calloc(1, sizeof(*ind));
    UCHAR *data = malloc(IND_BYTES);
    PMDL mdl = NULL;
    if (ind != NULL && data != NULL)
        mdl = IoAllocateMdl(data, IND_BYTES, FALSE, FALSE, NULL);
    if (mdl == NULL) {
        free(data);
        free(ind);
        return NULL;
    }
    MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);
    (void)kshim_mdl_system_address(mdl);
    ind->mdl = mdl;
    ind->data = data;
    kshim_count("wsk data indications", 1);
    return ind;
}

void wp_ind_free(struct wp_ind *ind)
{
    if (ind == NULL)
        return;
    MmUnlockPages(ind->mdl);
    IoFreeMdl(ind->mdl);
    free(ind->data);
    free(ind);
    kshim_count("wsk data indications", -1);
}

BOOLEAN wp_events_take_held(struct wp_sock *s, struct wp_req *r)
{
    struct wp_ind *h = s->held;
    if (h == NULL)
        return TRUE;
    if (r->flags & WSK_FLAG_DRAIN) {
        s->held = NULL;
        wp_ind_free(h);
        return TRUE;
    }
    struct pn_iov iov[PN_IOV_MAX];
    int n = wp_buf_iov(&r->buf, r->done, iov, PN_IOV_MAX);
    if (n < 0)
        return FALSE;
    for (int i = 0; i < n && h->off < h->len; i++) {
        SIZE_T k = h->len - h->off < iov[i].len ? h->len - h->off : iov[i].len;
        RtlCopyMemory(iov[i].base, h->data + h->off, k);
        h->off += k;
        r->done += k;
    }
    if (h->off == h->len) {
        s->held = NULL;
        wp_ind_free(h);
    }
    return TRUE;
}

/*
 * "PFN_WSK_RECEIVE_EVENT": after STATUS_DATA_NOT_ACCEPTED, or STATUS_SUCCESS
 * with only part of the data accepted, "the WSK subsystem will not call the
 * WskReceiveEvent event callback function again until after the WSK
 * application calls the WskReceive function" (a zero-length buffer only
 * resumes them); the data kept is delivered first, to that WskReceive or
 * the next indication.
 */
BOOLEAN wp_events_receive_called(struct wp_sock *s)
{
    BOOLEAN was = s->ev_held;
    s->ev_held = FALSE;
    /* A WskReceive made while WskReceiveEvent runs (from the callback, or
     * from another thread the callback woke) is served after it, data
     * included (recv_step waits for ev_running): so it also lifts a
     * refusal that callback is about to return. */
    if (s->ev_running & WSK_EVENT_RECEIVE)
        s->ev_rx_during = TRUE;
    return was;
}

void wp_events_closing(struct wp_sock *s, const char *function, struct wp_ind **held)
{
    /* A list whose WskReceiveEvent still runs is judged when it returns. */
    long kept = 0;
    for (const struct wp_ind *i = s->retained; i != NULL; i = i->next)
        kept += !i->in_callback;
    if (kept > 0)
        kshim_violation("%s on socket %p while the client still retains %ld data indication "
                        "list(s) of its WskReceiveEvent (\"WskRelease\": a WSK application "
                        "must release all retained lists before it calls WskCloseSocket)",
                        function, (void *)&s->wsk, kept);
    *held = s->held;
    s->held = NULL;
    s->ev_enabled = 0;
}

/*
 * "WskRelease" (PFN_WSK_RELEASE_DATA_INDICATION_LIST): returns a list the
 * client retained by returning STATUS_PENDING from WskReceiveEvent. Any
 * other pointer, or a list released already, is a client bug: a violation.
 */
NTSTATUS WSKAPI wp_WskReleaseData(PWSK_SOCKET Socket, PWSK_DATA_INDICATION DataIndication)
{
    struct wp_sock *s = wp_sock_enter(Socket, "WskRelease");
    struct wp_ind *found = NULL;
    pn_mutex_lock(&s->lock);
    for (struct wp_ind **pp = &s->retained; *pp != NULL; pp = &(*pp)->next)
        if (&(*pp)->di == DataIndication) {
            found = *pp;
            *pp = found->next;
            s->retained_count--;
            break;
        }
    /* Released while its WskReceiveEvent still runs (the client passed it to
     * another thread): indicate() frees it once the callback returned
     * STATUS_PENDING, and reports any other return value. */
    BOOLEAN early = found != NULL && found->in_callback;
    if (early)
        found->released_early = TRUE;
    pn_mutex_unlock(&s->lock);
    if (found == NULL)
        kshim_violation("WskRelease(%p, %p): not a data indication list this socket's "
                        "WskReceiveEvent passed and the client retained (STATUS_PENDING), or "
                        "one released already (\"PFN_WSK_RELEASE_DATA_INDICATION_LIST\")",
                        (void *)Socket, (void *)DataIndication);
    if (!early)
        wp_ind_free(found);
    wp_sock_leave_call(s);
    wp_sock_unref(s);
    return STATUS_SUCCESS;
}

/* ---- calling the client ---- */

/* Marks a callback of s as running (socket lock held): it holds a close
 * back like an outstanding IRP. */
static void event_begin(struct wp_sock *s, ULONG bit)
{
    s->ev_running = bit;
    s->ev_rx_during = FALSE;
    s->outstanding++;
}

/* The callback returned: disables waiting for it complete, a close waiting
 * for it completes. */
static void event_end(struct wp_sock *s)
{
    LIST_ENTRY irps;
    InitializeListHead(&irps);
    pn_mutex_lock(&s->lock);
    s->ev_running = 0;
    while (!IsListEmpty(&s->ev_disable_irps))
        InsertTailList(&irps, RemoveHeadList(&s->ev_disable_irps));
    pn_mutex_unlock(&s->lock);
    while (!IsListEmpty(&irps)) {
        PIRP irp = CONTAINING_RECORD(RemoveHeadList(&irps), IRP, Tail.Overlay.ListEntry);
        wp_complete(irp, STATUS_SUCCESS, 0, s);
    }
    wp_sock_irp_done(s);
}

/* Event callbacks are called at DISPATCH_LEVEL ("WSK_FLAG_AT_DISPATCH_LEVEL")
 * and must return at it. */
static KIRQL raise_irql(void)
{
    KIRQL old = KeGetCurrentIrql();
    kshim_set_irql(DISPATCH_LEVEL);
    return old;
}

static void lower_irql(KIRQL old, const char *callback)
{
    KIRQL now = KeGetCurrentIrql();
    if (now != DISPATCH_LEVEL)
        kshim_violation("%s returned at IRQL %u; it was called at DISPATCH_LEVEL", callback,
                        (unsigned)now);
    kshim_set_irql(old);
}

/* A connection the provider does not hand over: reset. */
static void drop_connection(int fd)
{
    pn_set_linger(fd, 1, 0);
    pn_close(fd);
}

/*
 * "PFN_WSK_ACCEPT_EVENT": called with the accepted socket, its local and
 * remote addresses (valid during the call); STATUS_SUCCESS hands the socket
 * to the client with the context and connection dispatch table it returns,
 * and the connection events enabled on the listening socket enabled on it
 * ("SO_WSK_EVENT_CALLBACK"); STATUS_REQUEST_NOT_ACCEPTED (or any other
 * status): "the WSK subsystem will close the accepted socket". If the
 * socket object cannot be created (fault site wsk.acceptevent), the
 * connection is reset, as a WSK subsystem out of resources drops it.
 */
static void accept_one(struct wp_sock *s, int fd, const struct pn_addr *local,
                       const struct pn_addr *remote)
{
    struct wp_sock *n = NULL;
    if (!kshim_fault("wsk.acceptevent"))
        n = wp_sock_new(s->reg, WP_CONNECTION, s->family, fd);
    if (n == NULL) {
        drop_connection(fd);
        return;
    }
    n->state = WP_BOUND | WP_CONNECTED;
    n->remote = *remote;
    pn_mutex_lock(&s->lock);
    BOOLEAN go = !(s->state & WP_CLOSING) && (s->ev_enabled & WSK_EVENT_ACCEPT) != 0;
    ULONG inherit = s->ev_inherit;
    if (go)
        event_begin(s, WSK_EVENT_ACCEPT);
    pn_mutex_unlock(&s->lock);
    if (!go) {
        /* Disabled or closing since the connection was taken. */
        wp_sock_destroy(n);
        return;
    }
    const WSK_CLIENT_LISTEN_DISPATCH *d = s->client_dispatch;
    SOCKADDR_STORAGE la, ra;
    RtlZeroMemory(&la, sizeof(la));
    RtlZeroMemory(&ra, sizeof(ra));
    wp_addr_out(local, (PSOCKADDR)&la);
    wp_addr_out(remote, (PSOCKADDR)&ra);
    PVOID context = NULL;
    const WSK_CLIENT_CONNECTION_DISPATCH *dispatch = NULL;
    wp_sock_ref(n);
    KIRQL old = raise_irql();
    NTSTATUS st = d->WskAcceptEvent(s->context, WSK_FLAG_AT_DISPATCH_LEVEL, (PSOCKADDR)&la,
                                    (PSOCKADDR)&ra, &n->wsk, &context, &dispatch);
    lower_irql(old, "WskAcceptEvent");
    if (st == STATUS_SUCCESS) {
        if (((inherit & WSK_EVENT_RECEIVE) && (dispatch == NULL || !dispatch->WskReceiveEvent)) ||
            ((inherit & WSK_EVENT_DISCONNECT) &&
             (dispatch == NULL || !dispatch->WskDisconnectEvent)))
            kshim_violation("WskAcceptEvent accepted socket %p with a dispatch table that lacks "
                            "a callback the listening socket enabled for accepted sockets "
                            "(\"SO_WSK_EVENT_CALLBACK\": events 0x%lx are enabled on it)",
                            (void *)&n->wsk, (unsigned long)inherit);
        pn_mutex_lock(&n->lock);
        n->context = context;
        n->client_dispatch = dispatch;
        if (!(n->state & WP_CLOSING))
            n->ev_enabled |= inherit;
        pn_mutex_unlock(&n->lock);
        /* Data or a FIN may have come before the events were enabled. */
        if (inherit != 0)
            wp_engine_kick(n);
    } else {
        wp_sock_destroy(n);
    }
    wp_sock_unref(n);
    event_end(s);
}

static BOOLEAN run_listen(struct wp_sock *s)
{
    struct pn_addr local, remote;
    int fd;
    for (;;) {
        pn_mutex_lock(&s->lock);
        if ((s->state & WP_CLOSING) || !(s->state & WP_LISTENING) || s->fd < 0 ||
            !(s->ev_enabled & WSK_EVENT_ACCEPT) || s->ev_running != 0 || !IsListEmpty(&s->rxq)) {
            pn_mutex_unlock(&s->lock);
            return FALSE;
        }
        fd = pn_accept(s->fd, &local, &remote);
        pn_mutex_unlock(&s->lock);
        /* A connection reset before it was accepted: take the next one. */
        if (fd != PN_ECONNABORTED && fd != PN_EINTR)
            break;
    }
    if (fd == PN_EMFILE || fd == PN_ENOMEM) {
        /* The connection waits in the backlog: try again shortly. */
        wp_engine_poll(s);
        return FALSE;
    }
    if (fd < 0)
        return FALSE;
    accept_one(s, fd, &local, &remote);
    return TRUE;
}

/* What a connection socket's next event is (chosen under its lock). */
enum ev_action { EV_NONE, EV_AGAIN, EV_RECEIVE, EV_DISCONNECT, EV_DEAD };

/* Socket lock held. */
static enum ev_action next_action(struct wp_sock *s, struct wp_ind **ind, ULONG *flags)
{
    ULONG en = s->ev_enabled;
    *ind = NULL;
    *flags = 0;
    if ((s->state & (WP_CLOSING | WP_ABORTED)) || !(s->state & WP_CONNECTED) ||
        s->ev_running != 0 || (en & CONN_EVENTS) == 0)
        return EV_NONE;
    if (s->conn_error != STATUS_SUCCESS) {
        /* "PFN_WSK_DISCONNECT_EVENT": WSK_FLAG_ABORTIVE, the peer reset the
         * connection; "PFN_WSK_RECEIVE_EVENT": a NULL DataIndication, "the
         * socket is no longer functional". */
        if ((en & WSK_EVENT_DISCONNECT) && !s->ev_error_told) {
            s->ev_error_told = TRUE;
            *flags = WSK_FLAG_ABORTIVE;
            return EV_DISCONNECT;
        }
        if ((en & WSK_EVENT_RECEIVE) && !s->ev_dead_told) {
            s->ev_dead_told = TRUE;
            return EV_DEAD;
        }
        return EV_NONE;
    }
    BOOLEAN receiving = (en & WSK_EVENT_RECEIVE) && !s->ev_held && IsListEmpty(&s->rxq);
    if (receiving && s->held != NULL) {
        *ind = s->held;
        s->held = NULL;
        return EV_RECEIVE;
    }
    if (s->state & WP_RX_EOF) {
        if ((en & WSK_EVENT_DISCONNECT) && !s->ev_eof_told) {
            s->ev_eof_told = TRUE;
            return EV_DISCONNECT;
        }
        return EV_NONE;
    }
    if (s->fd < 0)
        return EV_NONE;
    if (receiving) {
        struct wp_ind *n = ind_new();
        if (n == NULL) {
            /* The data stays in the socket: indicated shortly, or taken by
             * a WskReceive. */
            wp_engine_poll(s);
            return EV_NONE;
        }
        struct pn_iov iov = {n->data, IND_BYTES};
        long k = pn_recvv(s->fd, &iov, 1);
        if (k > 0) {
            n->len = (SIZE_T)k;
            *ind = n;
            return EV_RECEIVE;
        }
        wp_ind_free(n);
        if (k == PN_EAGAIN)
            return EV_NONE;
        if (k == 0)
            s->state |= WP_RX_EOF;
        else
            s->conn_error = wp_data_status((int)k);
        return EV_AGAIN;
    }
    /* WskDisconnectEvent without receive indications: look for the end of
     * the stream or an error without taking data. */
    if ((en & WSK_EVENT_DISCONNECT) && s->held == NULL && IsListEmpty(&s->rxq)) {
        long k = pn_peek(s->fd);
        if (k == 0) {
            s->state |= WP_RX_EOF;
            return EV_AGAIN;
        }
        if (k < 0 && k != PN_EAGAIN) {
            s->conn_error = wp_data_status((int)k);
            return EV_AGAIN;
        }
    }
    return EV_NONE;
}

/* "PFN_WSK_RECEIVE_EVENT" with ind (socket lock not held). BytesAccepted is
 * preset to BytesIndicated ("If the WSK application accepts all of the
 * received data, it does not have to set this variable"). */
static void indicate(struct wp_sock *s, const WSK_CLIENT_CONNECTION_DISPATCH *d, struct wp_ind *ind)
{
    SIZE_T indicated = ind->len - ind->off, accepted = indicated;
    ind->di.Next = NULL;
    ind->di.Buffer.Mdl = ind->mdl;
    ind->di.Buffer.Offset = (ULONG)ind->off;
    ind->di.Buffer.Length = indicated;
    /* The list counts as the client's from the call on (see wp_ind). */
    pn_mutex_lock(&s->lock);
    ind->in_callback = TRUE;
    ind->released_early = FALSE;
    ind->next = s->retained;
    s->retained = ind;
    s->retained_count++;
    pn_mutex_unlock(&s->lock);
    KIRQL old = raise_irql();
    NTSTATUS st =
        d->WskReceiveEvent(s->context, WSK_FLAG_AT_DISPATCH_LEVEL, &ind->di, indicated, &accepted);
    lower_irql(old, "WskReceiveEvent");
    struct wp_ind *free_now = NULL;
    pn_mutex_lock(&s->lock);
    ind->in_callback = FALSE;
    BOOLEAN rx_during = s->ev_rx_during;
    s->ev_rx_during = FALSE;
    if (ind->released_early) {
        pn_mutex_unlock(&s->lock);
        if (st != STATUS_PENDING)
            kshim_violation("WskRelease of a data indication list whose WskReceiveEvent then "
                            "returned 0x%lx, not STATUS_PENDING: only retained lists are "
                            "released (\"PFN_WSK_RELEASE_DATA_INDICATION_LIST\")",
                            (unsigned long)(ULONG)st);
        wp_ind_free(ind);
        return;
    }
    if (st != STATUS_PENDING) {
        /* Not retained after all: off the list. */
        for (struct wp_ind **pp = &s->retained; *pp != NULL; pp = &(*pp)->next)
            if (*pp == ind) {
                *pp = ind->next;
                s->retained_count--;
                break;
            }
    }
    BOOLEAN closing = (s->state & WP_CLOSING) != 0;
    if (st == STATUS_SUCCESS && accepted > indicated)
        kshim_violation("WskReceiveEvent set *BytesAccepted to %zu, more than the %zu bytes "
                        "indicated",
                        (size_t)accepted, (size_t)indicated);
    if (st == STATUS_SUCCESS && accepted == indicated) {
        free_now = ind;
    } else if (st == STATUS_SUCCESS || st == STATUS_DATA_NOT_ACCEPTED) {
        /* Kept for the next WskReceive (or indication after it). */
        if (st == STATUS_SUCCESS)
            ind->off += accepted;
        s->ev_held = !rx_during;
        if (closing)
            free_now = ind;
        else
            s->held = ind;
    } else if (st == STATUS_PENDING) {
        if (closing)
            kshim_violation("WskReceiveEvent retained a data indication list (STATUS_PENDING) of "
                            "socket %p after WskCloseSocket was called on it (\"WskRelease\": "
                            "release all retained lists before WskCloseSocket)",
                            (void *)&s->wsk);
        /* On s->retained since the call. */
    } else {
        kshim_violation("WskReceiveEvent returned 0x%lx; \"PFN_WSK_RECEIVE_EVENT\" allows "
                        "STATUS_SUCCESS, STATUS_PENDING and STATUS_DATA_NOT_ACCEPTED",
                        (unsigned long)(ULONG)st);
    }
    pn_mutex_unlock(&s->lock);
    wp_ind_free(free_now);
}

static BOOLEAN run_connection(struct wp_sock *s)
{
    struct wp_ind *ind;
    ULONG flags;
    pn_mutex_lock(&s->lock);
    enum ev_action a = next_action(s, &ind, &flags);
    const WSK_CLIENT_CONNECTION_DISPATCH *d = s->client_dispatch;
    if (a == EV_RECEIVE || a == EV_DEAD)
        event_begin(s, WSK_EVENT_RECEIVE);
    else if (a == EV_DISCONNECT)
        event_begin(s, WSK_EVENT_DISCONNECT);
    pn_mutex_unlock(&s->lock);
    switch (a) {
    case EV_NONE:
        return FALSE;
    case EV_AGAIN:
        return TRUE;
    case EV_RECEIVE:
        indicate(s, d, ind);
        break;
    case EV_DEAD: {
        SIZE_T accepted = 0;
        KIRQL old = raise_irql();
        (void)d->WskReceiveEvent(s->context, WSK_FLAG_AT_DISPATCH_LEVEL, NULL, 0, &accepted);
        lower_irql(old, "WskReceiveEvent");
        break;
    }
    case EV_DISCONNECT: {
        KIRQL old = raise_irql();
        NTSTATUS st = d->WskDisconnectEvent(s->context, flags | WSK_FLAG_AT_DISPATCH_LEVEL);
        lower_irql(old, "WskDisconnectEvent");
        if (st != STATUS_SUCCESS)
            kshim_violation("WskDisconnectEvent returned 0x%lx; it \"must always return "
                            "STATUS_SUCCESS\" (\"PFN_WSK_DISCONNECT_EVENT\")",
                            (unsigned long)(ULONG)st);
        break;
    }
    }
    event_end(s);
    return TRUE;
}

BOOLEAN wp_events_run(struct wp_sock *s)
{
    static _Thread_local int burst;
    BOOLEAN did;
    if (s->kind == WP_LISTEN)
        did = run_listen(s);
    else if (s->kind == WP_CONNECTION)
        did = run_connection(s);
    else
        return FALSE;
    if (!did) {
        burst = 0;
        return FALSE;
    }
    if (++burst < BURST)
        return TRUE;
    /* Let the other sockets have the I/O thread; continue from its queue. */
    burst = 0;
    wp_engine_kick(s);
    return FALSE;
}
