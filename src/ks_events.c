/*
 * ks_events.c - event-driven accept and receive (wsksock/events.h).
 *
 * Native mode (the provider has WSK event callbacks): the listening socket
 * is created with our WSK_CLIENT_LISTEN_DISPATCH and gets WSK_EVENT_ACCEPT,
 * plus WSK_EVENT_RECEIVE and WSK_EVENT_DISCONNECT, which accepted sockets
 * inherit ("Enabling and Disabling Event Callback Functions"). The event
 * callbacks run at DISPATCH_LEVEL: they only create the socket object
 * (accept), retain the indication in the connection's ring (receive:
 * STATUS_PENDING) or note the disconnect, and schedule the connection on a
 * completion thread, which calls the user at PASSIVE_LEVEL and then gives
 * each indication back with WskRelease. When the ring is full, or the
 * provider asks for its buffers back at once (WSK_FLAG_RELEASE_ASAP), the
 * callback returns STATUS_DATA_NOT_ACCEPTED: the provider keeps the data
 * until a WskReceive, which the connection then issues (a "pull", through
 * the asynchronous receive), after which indications resume.
 *
 * Fallback (no event callbacks, e.g. Wine): connections come from the
 * asynchronous accept and every connection pulls for ever. Both modes meet
 * in conn_run, which keeps one connection's callbacks in order and never
 * concurrent: announce (accept), ring items, pulls, one disconnect.
 *
 * Close: every retained indication must be released before WskCloseSocket
 * ("WskRelease"). ks__sock_close asks the close_defer_locked hook first: if a
 * callback of the connection is running (on any thread, possibly the one
 * closing, from inside the callback), the close is deferred to the
 * delivering thread, which runs it when the callback returns; otherwise
 * ev_close_release releases the ring before the provider's close.
 */
#include "ks_events.h"
#include "ks_aio.h"
#include "ks_stream.h"
#include "ks_stream_io.h"
#include "ks_ready.h"
#include "ks_descriptor.h"
#include "ks_fdtable.h"
#include "ks_options.h"
#include "ks_work.h"
#include "ks_wsk.h"

#define KS_EV_RING 32                  /* retained indications per connection */
#define KS_EV_PULL_NATIVE KS_READY_BUF /* drains the read-ahead in one pull */
#define KS_EV_PULL_FALLBACK (16u * 1024)

/* A connection's delivery machine: whether one of its user callbacks runs,
 * and the close. One deliverer at a time: conn_run (ring, announce,
 * disconnect) while no pull is pending, pull_done while one is. */
enum ev_delivery {
    DELIVERY_IDLE,           /* open, no callback running */
    DELIVERY_RUNNING,        /* a user callback runs */
    DELIVERY_CLOSE_DEFERRED, /* closed during it: its deliverer runs the close */
    DELIVERY_CLOSED          /* no more callbacks; the close releases the ring */
};

/* A connection's receive flow: where the next bytes come from. */
enum ev_flow {
    FLOW_FLOWING,              /* indications are retained in the ring */
    FLOW_STOPPED,              /* one was refused: the provider keeps data until a pull */
    FLOW_PULLING,              /* our WskReceive (the pull) is pending */
    FLOW_PULLING_STOPPED_AGAIN /* pulling, and an indication was refused meanwhile */
};

/* A connection's end of stream. */
enum ev_disc {
    DISC_NONE,
    DISC_PENDING, /* the provider ended it (disc_err): delivered after the data */
    DISC_DONE     /* delivered, being delivered, or not to be: nothing more comes */
};

/* A listener's own part. */
struct ev_listener {
    struct ks_aio accept; /* fallback: the asynchronous accept in flight */
    SOCKADDR_STORAGE addr;
    int addrlen;
};

/* A connection's own part. */
struct ev_conn {
    ks_work work;  /* conn_run */
    int listen_fd; /* the listener's descriptor (the accept callback's argument) */
    ks_sock *l;    /* the listener until announced (referenced) */

    /* Under the socket's spin lock. */
    enum ev_delivery delivery;
    enum ev_flow flow;
    enum ev_disc disc;
    int disc_err; /* DISC_PENDING's error */
    /* conn_run posted or running. Not a delivery state: pull_done delivers
     * while conn_run is not scheduled, and conn_run runs between callbacks. */
    BOOLEAN scheduled;
    BOOLEAN announced; /* the accept callback was given (or not needed) */
    BOOLEAN paused;    /* ks_events_pause: no receive callback until resumed */
    LONG indicating;   /* our WskReceiveEvent runs (lists it passed are not ours yet) */
    /* NotificationEvent: set when indicating drops to 0 on a closed
     * connection (ev_close_release waits for it; cleared under the lock
     * while indicating > 0). */
    KEVENT indications_done;
    PWSK_DATA_INDICATION ring[KS_EV_RING];
    ULONG ring_head, ring_count;

    /* The delivering thread's. The list being delivered (taken from the
     * ring, not yet released: a pause may stop in the middle of it) and the
     * bytes of it delivered. */
    PWSK_DATA_INDICATION cur;
    SIZE_T cur_done;

    struct ks_aio pull; /* the pull (an asynchronous receive into buf) */
    UCHAR *buf;
    ULONG buf_len;
};

struct ks_events_state {
    ks_sock *s; /* the socket this state belongs to (not referenced) */
    struct ks_event_handlers h;
    /* The context the next callback gets: the listener's ctx; a connection
     * starts with its listener's (for the accept callback), then has the
     * accept callback's *conn_ctx. */
    void *ctx;
    int fd; /* the socket's descriptor (native connections: 0 until announced) */
    BOOLEAN native;
    BOOLEAN listener; /* which member of u is this socket's */
    union {
        struct ev_listener lis;
        struct ev_conn conn;
    } u;
};

static ks_work_fn conn_run;
static ks_aio_cb pull_done;
static ks_aio_cb accept_done;

static struct ev_conn *conn_part(struct ks_events_state *c)
{
    KS_ASSERT(!c->listener);
    return &c->u.conn;
}

/* ---- connection state transitions (socket lock held) ---- */

static BOOLEAN closed_locked(const struct ev_conn *k)
{
    return k->delivery == DELIVERY_CLOSE_DEFERRED || k->delivery == DELIVERY_CLOSED;
}

/* No user callback may start: closed, or the descriptor is (ks_close or
 * ks_close_async called; from a callback, the socket's close itself runs
 * later, on a blocking-call thread). */
static BOOLEAN silent_locked(const struct ks_events_state *c)
{
    KS_ASSERT_SPIN_HELD(&c->s->lock);
    return closed_locked(&c->u.conn) || c->s->fd_end != KS_FD_OPEN;
}

static BOOLEAN pulling_locked(const struct ev_conn *k)
{
    return k->flow == FLOW_PULLING || k->flow == FLOW_PULLING_STOPPED_AGAIN;
}

static void schedule_locked(struct ks_events_state *c)
{
    struct ev_conn *k = conn_part(c);
    KS_ASSERT_SPIN_HELD(&c->s->lock);
    if (k->scheduled || closed_locked(k))
        return;
    k->scheduled = TRUE;
    ks__sock_get(c->s); /* dropped when conn_run ends */
    ks__work_post(&k->work);
}

/* conn_run stops (it is scheduled again by the next event). */
static void unschedule_locked(struct ks_events_state *c)
{
    KS_ASSERT_SPIN_HELD(&c->s->lock);
    KS_ASSERT(c->u.conn.scheduled);
    c->u.conn.scheduled = FALSE;
}

/* DELIVERY_IDLE -> DELIVERY_RUNNING: a user callback starts. */
static void delivery_start_locked(struct ks_events_state *c)
{
    KS_ASSERT_SPIN_HELD(&c->s->lock);
    KS_ASSERT(c->u.conn.delivery == DELIVERY_IDLE); /* one deliverer at a time */
    c->u.conn.delivery = DELIVERY_RUNNING;
}

/* An indication was refused (the provider keeps it until our WskReceive):
 * FLOWING or STOPPED -> STOPPED; a pull pending -> PULLING_STOPPED_AGAIN. */
static void flow_refused_locked(struct ev_conn *k)
{
    k->flow = pulling_locked(k) ? FLOW_PULLING_STOPPED_AGAIN : FLOW_STOPPED;
}

/* FLOW_STOPPED -> FLOW_PULLING: conn_run issues the pull. */
static void flow_pull_start_locked(struct ev_conn *k)
{
    KS_ASSERT(k->flow == FLOW_STOPPED);
    k->flow = FLOW_PULLING;
}

/* The pull ended. Indications resume (FLOWING) if it got data from a
 * provider with event callbacks and none was refused meanwhile; otherwise
 * (refused again, the fallback, the end of the stream) STOPPED. */
static void flow_pull_end_locked(struct ev_conn *k, BOOLEAN resumed)
{
    KS_ASSERT(pulling_locked(k));
    k->flow = resumed && k->flow == FLOW_PULLING ? FLOW_FLOWING : FLOW_STOPPED;
}

/* The provider ended the stream: DISC_NONE -> DISC_PENDING(err); a later
 * end keeps the first. */
static void disc_note_locked(struct ev_conn *k, int err)
{
    if (k->disc == DISC_NONE) {
        k->disc = DISC_PENDING;
        k->disc_err = err;
    }
}

/* -> DISC_DONE; TRUE if the caller did it (it delivers the end, once). */
static BOOLEAN disc_claim_locked(struct ev_conn *k)
{
    BOOLEAN first = k->disc != DISC_DONE;
    k->disc = DISC_DONE;
    return first;
}

static BOOLEAN disc_claim(struct ks_events_state *c)
{
    KIRQL irql;
    KeAcquireSpinLock(&c->s->lock, &irql);
    BOOLEAN first = disc_claim_locked(&c->u.conn);
    KeReleaseSpinLock(&c->s->lock, irql);
    return first;
}

static struct ks_events_state *state_new(ks_sock *s, const struct ks_event_handlers *h, void *ctx,
                                         BOOLEAN listener)
{
    struct ks_events_state *c = (struct ks_events_state *)ks__alloc(sizeof(*c), KS_TAG_MISC);
    if (c == NULL)
        return NULL;
    c->s = s;
    c->h = *h;
    c->ctx = ctx;
    c->listener = listener;
    if (!listener) {
        c->u.conn.work.fn = conn_run;
        KeInitializeEvent(&c->u.conn.indications_done, NotificationEvent, FALSE);
    }
    return c;
}

/* ---- the provider's event callbacks (IRQL <= DISPATCH_LEVEL) ---- */

static NTSTATUS WSKAPI ev_receive(PVOID context, ULONG flags, PWSK_DATA_INDICATION data,
                                  SIZE_T indicated, SIZE_T *accepted);
static NTSTATUS WSKAPI ev_disconnect(PVOID context, ULONG flags);
static NTSTATUS WSKAPI ev_accept(PVOID context, ULONG flags, PSOCKADDR local, PSOCKADDR remote,
                                 PWSK_SOCKET accept_socket, PVOID *accept_context,
                                 const WSK_CLIENT_CONNECTION_DISPATCH **accept_dispatch);

static const WSK_CLIENT_CONNECTION_DISPATCH ev_conn_dispatch = {ev_receive, ev_disconnect, NULL};
static const WSK_CLIENT_LISTEN_DISPATCH ev_listen_dispatch = {ev_accept, NULL, NULL};

static NTSTATUS WSKAPI ev_accept(PVOID context, ULONG flags, PSOCKADDR local, PSOCKADDR remote,
                                 PWSK_SOCKET accept_socket, PVOID *accept_context,
                                 const WSK_CLIENT_CONNECTION_DISPATCH **accept_dispatch)
{
    ks_sock *l = (ks_sock *)context;
    UNREFERENCED_PARAMETER(flags);
    UNREFERENCED_PARAMETER(local);
    if (accept_socket == NULL)
        return STATUS_SUCCESS; /* the listener stopped working: its close follows */
    if (l->closing || l->ev == NULL || remote == NULL)
        return STATUS_REQUEST_NOT_ACCEPTED;
    KS_ASSERT(l->ev->listener);
    int err;
    ks_sock *n = ks__sock_new(l->family, SOCK_STREAM, l->protocol, &err);
    if (n == NULL)
        return STATUS_REQUEST_NOT_ACCEPTED;
    struct ks_events_state *c = state_new(n, &l->ev->h, l->ev->ctx, FALSE);
    if (c == NULL) {
        ks__sock_put(n);
        return STATUS_REQUEST_NOT_ACCEPTED;
    }
    c->native = TRUE;
    c->u.conn.listen_fd = l->ev->fd;
    c->u.conn.l = l;
    ks__sock_get(l);
    n->ev = c;
    n->wsk = accept_socket;
    n->wsk_kind = WSK_FLAG_CONNECTION_SOCKET;
    n->state = KS_SS_CONNECTED;
    n->local = l->local;
    RtlCopyMemory(&n->remote, remote, (SIZE_T)ks__sockaddr_len(l->family));
    *accept_context = n;
    *accept_dispatch = &ev_conn_dispatch;
    /* n's creation reference now belongs to the connection until its
     * descriptor takes over (conn_run). */
    KIRQL irql;
    KeAcquireSpinLock(&n->lock, &irql);
    schedule_locked(c);
    KeReleaseSpinLock(&n->lock, irql);
    return STATUS_SUCCESS;
}

static NTSTATUS WSKAPI ev_receive(PVOID context, ULONG flags, PWSK_DATA_INDICATION data,
                                  SIZE_T indicated, SIZE_T *accepted)
{
    ks_sock *s = (ks_sock *)context;
    struct ks_events_state *c = s->ev;
    NTSTATUS status;
    KIRQL irql;
    UNREFERENCED_PARAMETER(indicated);
    UNREFERENCED_PARAMETER(accepted);
    if (c == NULL)
        return STATUS_DATA_NOT_ACCEPTED;
    struct ev_conn *k = conn_part(c);
    KeAcquireSpinLock(&s->lock, &irql);
    k->indicating++;
    if (closed_locked(k) || s->closing || k->disc == DISC_DONE) {
        status = STATUS_DATA_NOT_ACCEPTED;
    } else if (data == NULL) {
        /* "The socket is no longer functional": end it. */
        disc_note_locked(k, -ECONNABORTED);
        status = STATUS_SUCCESS;
    } else if (k->ring_count == KS_EV_RING || k->flow != FLOW_FLOWING ||
               (flags & WSK_FLAG_RELEASE_ASAP) != 0) {
        /* The provider keeps it until our WskReceive (the pull). */
        flow_refused_locked(k);
        status = STATUS_DATA_NOT_ACCEPTED;
    } else {
        k->ring[(k->ring_head + k->ring_count) % KS_EV_RING] = data;
        k->ring_count++;
        status = STATUS_PENDING; /* retained: released after delivery */
    }
    /* Scheduled only now: the list must not be given back (WskRelease)
     * before the provider got our STATUS_PENDING, so nothing takes it from
     * the ring while this callback runs. A close waiting for us
     * (ev_close_release) is woken. */
    if (--k->indicating == 0 && closed_locked(k))
        KeSetEvent(&k->indications_done, IO_NO_INCREMENT, FALSE);
    schedule_locked(c);
    KeReleaseSpinLock(&s->lock, irql);
    return status;
}

static NTSTATUS WSKAPI ev_disconnect(PVOID context, ULONG flags)
{
    ks_sock *s = (ks_sock *)context;
    struct ks_events_state *c = s->ev;
    KIRQL irql;
    if (c == NULL)
        return STATUS_SUCCESS;
    KeAcquireSpinLock(&s->lock, &irql);
    disc_note_locked(conn_part(c), (flags & WSK_FLAG_ABORTIVE) != 0 ? -ECONNRESET : 0);
    schedule_locked(c);
    KeReleaseSpinLock(&s->lock, irql);
    return STATUS_SUCCESS;
}

/* ---- delivery (completion threads, PASSIVE_LEVEL) ---- */

/* Marks a callback running; FALSE if the connection was closed. */
static BOOLEAN deliver_begin(struct ks_events_state *c)
{
    KIRQL irql;
    KeAcquireSpinLock(&c->s->lock, &irql);
    BOOLEAN open = !silent_locked(c);
    if (open)
        delivery_start_locked(c);
    KeReleaseSpinLock(&c->s->lock, irql);
    return open;
}

/* Ends a callback (RUNNING -> IDLE); runs a close the callback asked for
 * meanwhile (CLOSE_DEFERRED -> CLOSED, then the close). */
static void deliver_end(struct ks_events_state *c)
{
    struct ev_conn *k = &c->u.conn;
    KIRQL irql;
    KeAcquireSpinLock(&c->s->lock, &irql);
    /* deliver_begin's, or conn_run's */
    KS_ASSERT(k->delivery == DELIVERY_RUNNING || k->delivery == DELIVERY_CLOSE_DEFERRED);
    BOOLEAN close_now = k->delivery == DELIVERY_CLOSE_DEFERRED;
    k->delivery = close_now ? DELIVERY_CLOSED : DELIVERY_IDLE;
    KeReleaseSpinLock(&c->s->lock, irql);
    if (close_now)
        ks__sock_close_soon(c->s); /* on a blocking-call thread: callbacks never wait */
}

enum list_result { LIST_DONE, LIST_PAUSED, LIST_UNMAPPED };

static BOOLEAN paused_now(struct ks_events_state *c)
{
    KIRQL irql;
    KeAcquireSpinLock(&c->s->lock, &irql);
    BOOLEAN p = c->u.conn.paused || silent_locked(c);
    KeReleaseSpinLock(&c->s->lock, irql);
    return p;
}

/* Hands the buffers of one indication list to the user, from byte *done
 * on (callback bracketed by the caller), until its end or a pause. */
static enum list_result deliver_list(struct ks_events_state *c, PWSK_DATA_INDICATION list,
                                     SIZE_T *done)
{
    SIZE_T skip = *done;
    for (PWSK_DATA_INDICATION d = list; d != NULL; d = d->Next) {
        SIZE_T left = d->Buffer.Length;
        ULONG offset = d->Buffer.Offset;
        for (PMDL m = d->Buffer.Mdl; m != NULL && left > 0; m = m->Next) {
            ULONG count = MmGetMdlByteCount(m);
            if (offset >= count) {
                offset -= count;
                continue;
            }
            SIZE_T n = count - offset;
            if (n > left)
                n = left;
            if (skip >= n) {
                skip -= n; /* delivered before a pause */
            } else {
                UCHAR *va =
                    (UCHAR *)MmGetSystemAddressForMdlSafe(m, ks__mdl_priority(NormalPagePriority));
                if (va == NULL)
                    return LIST_UNMAPPED;
                if (paused_now(c))
                    return LIST_PAUSED;
                c->h.receive(c->ctx, c->fd, va + offset + skip, n - skip);
                *done += n - skip;
                skip = 0;
            }
            left -= n;
            offset = 0;
        }
    }
    return LIST_DONE;
}

/* Gives a retained list back. s->wsk is read without a bracket: the callers
 * are the delivering thread (a close is deferred while a callback runs, so
 * s->wsk stays) and the close itself (ctl lock held, calls drained). */
static void release_list(ks_sock *s, PWSK_DATA_INDICATION list)
{
    KS_ASSERT(s->wsk != NULL && list != NULL);
    KS_ASSERT(s->ev->u.conn.delivery == DELIVERY_RUNNING ||
              s->ev->u.conn.delivery == DELIVERY_CLOSE_DEFERRED ||
              (s->closing && ks__lock_held_by_me(&s->ctl_lock)));
    (void)ks__wsk_release(s->wsk, list);
}

/* The end of the stream: the disconnect callback, or the close. */
static void deliver_disconnect(struct ks_events_state *c, int err)
{
    if (!deliver_begin(c))
        return;
    if (c->h.disconnect != NULL)
        c->h.disconnect(c->ctx, c->fd, err);
    else
        ks_close(c->fd); /* deferred until deliver_end */
    deliver_end(c);
}

/* The accept callback of a new connection (descriptor given if needed). */
static void announce(struct ks_events_state *c)
{
    struct ev_conn *k = &c->u.conn;
    ks_sock *s = c->s;
    ks_sock *l = k->l;
    KS_ASSERT(l != NULL && !k->announced); /* once, with the listener referenced */
    if (c->fd == 0) {
        /* Native: the socket object still holds its creation reference. */
        int fd = ks__opts_inherit(s, l);
        if (fd == 0)
            fd = ks__fd_insert(s);
        if (fd < 0)
            ks__sock_close(s); /* no memory, or the library is stopping; callbacks stop (CLOSED) */
        ks__sock_put(s);       /* the table's now, or nobody's (conn_run holds one) */
        if (fd < 0) {
            k->l = NULL;
            ks__sock_put(l);
            return;
        }
        c->fd = fd;
    }
    k->l = NULL;
    BOOLEAN listener_open = !l->closing;
    ks__sock_put(l);
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    k->announced = TRUE;
    KeReleaseSpinLock(&s->lock, irql);
    if (!listener_open) {
        ks_close(c->fd);
        return;
    }
    if (!deliver_begin(c))
        return;
    void *conn_ctx = c->ctx;
    int keep = c->h.accept(c->ctx, k->listen_fd, c->fd, (const struct sockaddr *)&s->remote,
                           ks__sockaddr_len(s->family), &conn_ctx);
    c->ctx = conn_ctx; /* the connection's callbacks get it */
    if (keep < 0)
        ks_close(c->fd);
    deliver_end(c);
}

static void start_pull(struct ks_events_state *c)
{
    struct ev_conn *k = &c->u.conn;
    int err = 0;
    if (k->buf == NULL) {
        k->buf_len = c->native ? KS_EV_PULL_NATIVE : KS_EV_PULL_FALLBACK;
        k->buf = (UCHAR *)ks__alloc(k->buf_len, KS_TAG_BUFFER);
        if (k->buf == NULL)
            err = -ENOMEM;
    }
    if (err == 0)
        err = ks__recv_async_flags(c->fd, k->buf, k->buf_len, KS_MSG_EVENTS, &k->pull, pull_done);
    if (err != 0)
        pull_done(&k->pull, err); /* ends the connection with the error */
}

static void pull_done(struct ks_aio *req, ptrdiff_t result)
{
    struct ks_events_state *c = CONTAINING_RECORD(req, struct ks_events_state, u.conn.pull);
    struct ev_conn *k = conn_part(c);
    ks_sock *s = c->s;
    KIRQL irql;
    ks__sock_get(s); /* c lives as long as s: keep it through the callbacks */
    if (result > 0) {
        if (deliver_begin(c)) {
            c->h.receive(c->ctx, c->fd, k->buf, (size_t)result);
            deliver_end(c);
        }
    } else {
        /* -EBADF: the caller closed it; no callback after that. */
        if (disc_claim(c) && result != -EBADF)
            deliver_disconnect(c, (int)result);
    }
    KeAcquireSpinLock(&s->lock, &irql);
    flow_pull_end_locked(k, result > 0 && c->native);
    if (result > 0)
        schedule_locked(c);
    KeReleaseSpinLock(&s->lock, irql);
    ks__sock_put(s);
}

static void conn_run(ks_work *work)
{
    struct ks_events_state *c = CONTAINING_RECORD(work, struct ks_events_state, u.conn.work);
    struct ev_conn *k = conn_part(c);
    ks_sock *s = c->s;
    KIRQL irql;
    KS_ASSERT(k->scheduled && s->refs > 0); /* schedule_locked's reference */
    /* announced is written by this function only (announce). */
    if (!k->announced)
        announce(c);
    for (;;) {
        KeAcquireSpinLock(&s->lock, &irql);
        /* Closed, or paused (ks_events_resume schedules the connection again). */
        if (silent_locked(c) || k->paused) {
            unschedule_locked(c);
            KeReleaseSpinLock(&s->lock, irql);
            break;
        }
        if (k->cur == NULL && k->ring_count > 0 && !pulling_locked(k) && k->indicating == 0) {
            k->cur = k->ring[k->ring_head];
            k->cur_done = 0;
            k->ring_head = (k->ring_head + 1) % KS_EV_RING;
            k->ring_count--;
        }
        if (k->cur != NULL) {
            delivery_start_locked(c);
            KeReleaseSpinLock(&s->lock, irql);
            enum list_result r = deliver_list(c, k->cur, &k->cur_done);
            if (r != LIST_PAUSED) {
                /* Before deliver_end: a close it runs needs every list back. */
                release_list(s, k->cur);
                k->cur = NULL;
            }
            deliver_end(c);
            if (r == LIST_UNMAPPED && disc_claim(c))
                deliver_disconnect(c, -ENOMEM);
            continue;
        }
        /* A pull only once the ring is delivered (its data is older) and
         * no WskReceiveEvent is running: one that refused data returns
         * first, so the provider has recorded the refusal that our
         * WskReceive lifts (it calls schedule_locked once it is done). */
        if (k->flow == FLOW_STOPPED && k->disc != DISC_DONE && k->ring_count == 0 &&
            k->indicating == 0) {
            flow_pull_start_locked(k);
            KeReleaseSpinLock(&s->lock, irql);
            start_pull(c);
            continue;
        }
        /* The end of the stream, after every byte before it. */
        if (k->disc == DISC_PENDING && k->flow == FLOW_FLOWING && k->ring_count == 0) {
            (void)disc_claim_locked(k);
            int err = k->disc_err;
            KeReleaseSpinLock(&s->lock, irql);
            deliver_disconnect(c, err);
            continue;
        }
        unschedule_locked(c);
        KeReleaseSpinLock(&s->lock, irql);
        break;
    }
    ks__sock_put(s); /* schedule_locked's */
}

/* ---- fallback accept (listener) ---- */

static int submit_accept(struct ks_events_state *le)
{
    struct ev_listener *li = &le->u.lis;
    KS_ASSERT(le->listener);
    li->addrlen = (int)sizeof(li->addr);
    return ks__accept_async_flags(le->fd, (struct sockaddr *)&li->addr, &li->addrlen, KS_MSG_EVENTS,
                                  &li->accept, accept_done);
}

static void accept_done(struct ks_aio *req, ptrdiff_t result)
{
    struct ks_events_state *le = CONTAINING_RECORD(req, struct ks_events_state, u.lis.accept);
    if (result == -EBADF || result == -ENETDOWN || result == -EINVAL)
        return; /* the listener is closed */
    if (result > 0) {
        int fd = (int)result;
        ks_sock *n = ks__fd_get(fd);
        struct ks_events_state *c = n != NULL ? state_new(n, &le->h, le->ctx, FALSE) : NULL;
        if (c == NULL) {
            ks_close(fd); /* out of memory: the connection is dropped */
        } else {
            c->fd = fd;
            c->u.conn.listen_fd = le->fd;
            c->u.conn.l = le->s;
            ks__sock_get(le->s);
            c->u.conn.flow = FLOW_STOPPED; /* every byte comes by pulls (not shared yet) */
            KIRQL irql;
            KeAcquireSpinLock(&n->lock, &irql);
            n->ev = c;
            schedule_locked(c);
            KeReleaseSpinLock(&n->lock, irql);
        }
        if (n != NULL)
            ks__sock_put(n);
    }
    /* Errors of one connection (reset before it was taken, no memory) do
     * not stop the listener. */
    if (submit_accept(le) != 0)
        DbgPrint("wsksock: event listener %d stopped accepting\n", le->fd);
}

/* ---- the socket core's layer hooks (ks_socket.h) ---- */

/* close_defer_locked: a socket in event mode, at its close's start (s->lock
 * held, s->closing not yet set): TRUE if the close must be left to the
 * thread running one of its callbacks (it runs ks__sock_close again when
 * the callback returns). Stops callbacks. */
static BOOLEAN ev_close_defer_locked(ks_sock *s)
{
    struct ks_events_state *c = s->ev;
    KS_ASSERT(!s->closing);
    KS_ASSERT_SPIN_HELD(&s->lock);
    if (c == NULL || c->listener)
        return FALSE; /* no callbacks to stop: ev_accept sees s->closing */
    struct ev_conn *k = &c->u.conn;
    switch (k->delivery) {
    case DELIVERY_IDLE:
        k->delivery = DELIVERY_CLOSED;
        return FALSE;
    case DELIVERY_RUNNING:
        k->delivery = DELIVERY_CLOSE_DEFERRED; /* deliver_end closes */
        return TRUE;
    case DELIVERY_CLOSE_DEFERRED:
        return TRUE; /* already left to the delivering thread */
    case DELIVERY_CLOSED:
        break; /* the deferred close, run by deliver_end */
    }
    return FALSE;
}

/* close_release: gives every retained indication back (WskRelease),
 * before the provider's close. PASSIVE_LEVEL. */
static void ev_close_release(ks_sock *s)
{
    struct ks_events_state *c = s->ev;
    KIRQL irql;
    /* The close, between its start and WskCloseSocket. CLOSED: event mode
     * is claimed under s->lock and never once s->closing is set, and
     * ks__sock_close_start sets both under that lock. */
    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL);
    KS_ASSERT(s->closing && ks__lock_held_by_me(&s->ctl_lock));
    if (c == NULL || c->listener)
        return; /* it retains no indications */
    struct ev_conn *k = &c->u.conn;
    KS_ASSERT(k->delivery == DELIVERY_CLOSED);
    if (k->cur != NULL && s->wsk != NULL) {
        /* Paused in the middle of it (nothing delivers now: closed). */
        release_list(s, k->cur);
        k->cur = NULL;
    }
    for (;;) {
        KeAcquireSpinLock(&s->lock, &irql);
        if (k->indicating > 0) {
            /* A receive event is returning (it sees the socket closed and
             * takes nothing): wait for it, as conn_run does. It sets the
             * event when it leaves, under the lock, after our clear; the
             * wait is bounded by its return. */
            KeClearEvent(&k->indications_done);
            KeReleaseSpinLock(&s->lock, irql);
            KeWaitForSingleObject(&k->indications_done, Executive, KernelMode, FALSE, NULL);
            continue;
        }
        if (k->ring_count == 0) {
            KeReleaseSpinLock(&s->lock, irql);
            return;
        }
        PWSK_DATA_INDICATION list = k->ring[k->ring_head];
        k->ring_head = (k->ring_head + 1) % KS_EV_RING;
        k->ring_count--;
        KeReleaseSpinLock(&s->lock, irql);
        if (s->wsk != NULL)
            release_list(s, list);
    }
}

/* free: the event state (last reference of the socket). */
static void ev_free(ks_sock *s)
{
    struct ks_events_state *c = s->ev;
    KS_ASSERT(s->refs == 0); /* the last reference went */
    if (c == NULL)
        return;
    if (!c->listener) {
        if (c->u.conn.l != NULL)
            ks__sock_put(c->u.conn.l); /* never announced */
        ks__free(c->u.conn.buf, KS_TAG_BUFFER);
    }
    ks__free(c, KS_TAG_MISC);
    s->ev = NULL;
}

/* Every connection socket of the library is created (or accepted) with
 * ev_conn_dispatch, its context being the ks_sock: event callbacks stay
 * disabled unless ks_recv_events or ks_listen_events enables them (WSK
 * calls none while disabled). */
static const struct ks_sock_layer ev_layer = {
    NULL, ev_close_defer_locked, NULL, ev_close_release, NULL, ev_free, &ev_conn_dispatch, NULL,
};

void ks__events_register(void)
{
    ks__sock_register_layer(KS_LAYER_EVENTS, &ev_layer);
}

/* ---- API ---- */

/* The common start of ks_listen_events and ks_recv_events, given the
 * socket checks' *err: the library's threads and s's event state; NULL
 * (with *err set, s's reference dropped) on failure. */
static struct ks_events_state *state_for(ks_sock *s, int *err,
                                         const struct ks_event_handlers *handlers, void *ctx,
                                         BOOLEAN listener)
{
    struct ks_events_state *c = NULL;
    if (*err == 0)
        *err = ks__work_start();
    if (*err == 0 && (c = state_new(s, handlers, ctx, listener)) == NULL)
        *err = -ENOMEM;
    if (*err != 0)
        ks__sock_put(s);
    return c;
}

/* Puts s in event mode with c: 0, or (c freed, the caller's reference to s
 * dropped) -EINVAL if another thread did meanwhile (two ks_*_events calls
 * on one descriptor both pass the early check) or -EBADF if a close
 * started (its ks__sock_close_start saw no event state, so nothing would
 * stop c's callbacks or release its indications). */
static int claim_events(ks_sock *s, struct ks_events_state *c)
{
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    int err = s->closing ? -EBADF : s->ev != NULL ? -EINVAL : 0;
    if (err == 0)
        s->ev = c;
    KeReleaseSpinLock(&s->lock, irql);
    if (err != 0) {
        ks__free(c, KS_TAG_MISC);
        ks__sock_put(s);
    }
    return err;
}

/* Enables event callbacks on s->wsk, in state (SO_WSK_EVENT_CALLBACK: no
 * IRP, it completes at once). */
static NTSTATUS enable_events(ks_sock *s, ULONG mask, enum ks_sock_state state)
{
    WSK_EVENT_CALLBACK_CONTROL control;
    control.NpiId = (PNPIID)&NPI_WSK_INTERFACE_ID; /* the WDK's member is not const */
    control.EventMask = mask;
    PWSK_SOCKET wsk;
    int err = ks__call_enter(s, (int)state, -EINVAL, &wsk);
    if (err != 0)
        return ks__errno_status(err); /* the callers only look at NT_SUCCESS */
    SIZE_T returned = 0;
    NTSTATUS status = ks__wsk_control_socket(wsk, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                                             sizeof(control), &control, 0, NULL, &returned, NULL);
    ks__call_leave(s);
    return status;
}

int ks_listen_events(int fd, int backlog, const struct ks_event_handlers *handlers, void *ctx)
{
    if (!ks__can_block())
        return -EPERM;
    if (handlers == NULL || handlers->accept == NULL || handlers->receive == NULL)
        return -EFAULT;
    ks_sock *s;
    int err = ks__fd_enter(fd, &s);
    if (err != 0)
        return err;
    if (s->type != SOCK_STREAM)
        err = -EOPNOTSUPP;
    else if (s->ev != NULL || s->state == KS_SS_LISTENING || s->state == KS_SS_CONNECTED)
        err = -EINVAL;
    struct ks_events_state *le = state_for(s, &err, handlers, ctx, TRUE);
    if (le == NULL)
        return err;
    le->fd = fd;
    /* Before the listen: accept events may come as soon as it is enabled. */
    err = claim_events(s, le);
    if (err != 0)
        return err;
    s->wsk_dispatch = &ev_listen_dispatch;
    err = ks_listen(fd, backlog);
    if (err == 0) {
        NTSTATUS st = enable_events(s, WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT, KS_SS_LISTENING);
        if (NT_SUCCESS(st))
            st = enable_events(s, WSK_EVENT_ACCEPT, KS_SS_LISTENING);
        le->native = NT_SUCCESS(st);
        if (!le->native) {
            /* No event callbacks here (Wine: WskControlSocket is not
             * implemented): the same handlers through our own requests.
             * Receive and disconnect events enabled before a failed
             * WSK_EVENT_ACCEPT stay so ("SO_WSK_EVENT_CALLBACK": they
             * cannot be disabled on a listening socket); they only reach
             * sockets WskAcceptEvent accepts, and there are none. */
            err = submit_accept(le);
        }
    }
    if (err != 0) {
        /* The socket stays open, not in event mode (not listening if the
         * listen failed; a listener whose accept could not start is closed
         * by the caller). */
        KIRQL irql;
        KeAcquireSpinLock(&s->lock, &irql);
        /* A close that started meanwhile owns le (closed, released, and
         * freed with the socket). */
        BOOLEAN detach = !s->closing;
        if (detach)
            s->ev = NULL;
        KeReleaseSpinLock(&s->lock, irql);
        if (detach) {
            s->wsk_dispatch = NULL;
            ks__free(le, KS_TAG_MISC);
        }
    }
    ks__sock_put(s);
    return err;
}

int ks_recv_events(int fd, const struct ks_event_handlers *handlers, void *conn_ctx)
{
    if (!ks__can_block())
        return -EPERM;
    if (handlers == NULL || handlers->receive == NULL)
        return -EFAULT;
    ks_sock *s;
    int err = ks__fd_enter(fd, &s);
    if (err != 0)
        return err;
    if (s->type != SOCK_STREAM)
        err = -EOPNOTSUPP;
    else if (s->ev != NULL || s->state == KS_SS_LISTENING)
        err = -EINVAL;
    else if (s->state != KS_SS_CONNECTED || ks__ready_connecting(s))
        err = -ENOTCONN;
    struct ks_events_state *c = state_for(s, &err, handlers, conn_ctx, FALSE);
    if (c == NULL)
        return err;
    c->fd = fd;
    c->u.conn.announced = TRUE; /* (not shared yet: no lock) */
    /* First a pull: bytes the socket read ahead already, or the first
     * data, come through it; then the provider's indications if it has
     * event callbacks (its pending WskReceive is served before them). */
    c->u.conn.flow = FLOW_STOPPED;
    err = claim_events(s, c);
    if (err != 0)
        return err;
    KIRQL irql;
    /* Every connection socket has our connection dispatch (ks__sock_wsk_create,
     * WskAccept), so only the provider can say no (Wine: not implemented). */
    c->native =
        NT_SUCCESS(enable_events(s, WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT, KS_SS_CONNECTED));
    KeAcquireSpinLock(&s->lock, &irql);
    schedule_locked(c);
    KeReleaseSpinLock(&s->lock, irql);
    ks__sock_put(s);
    return 0;
}

/* The event state of a connection in event mode (s referenced), or an
 * error. */
static int conn_of(int fd, ks_sock **out)
{
    ks_sock *s;
    int err = ks__fd_enter(fd, &s);
    if (err != 0)
        return err;
    if (s->ev == NULL || s->ev->listener) {
        ks__sock_put(s);
        return -EINVAL;
    }
    *out = s;
    return 0;
}

/* Sets a connection's pause; a resume schedules what waited. */
static int set_paused(int fd, BOOLEAN paused)
{
    ks_sock *s;
    int err = conn_of(fd, &s);
    if (err != 0)
        return err;
    KIRQL irql;
    KeAcquireSpinLock(&s->lock, &irql);
    struct ev_conn *k = conn_part(s->ev);
    if (k->paused && !paused)
        schedule_locked(s->ev);
    k->paused = paused;
    KeReleaseSpinLock(&s->lock, irql);
    ks__sock_put(s);
    return 0;
}

int ks_events_pause(int fd)
{
    return set_paused(fd, TRUE);
}

int ks_events_resume(int fd)
{
    return set_paused(fd, FALSE);
}

int ks_events_native(int fd)
{
    ks_sock *s;
    int err = ks__fd_enter(fd, &s);
    if (err != 0)
        return err;
    int native = s->ev != NULL ? (int)s->ev->native : -EINVAL;
    ks__sock_put(s);
    return native;
}
