/*
 * request.c - requests that may have to wait for the network: per-socket
 * FIFO queues (receive side: receive, accept, receive-from; send side:
 * connect, send, send-to, disconnect), the cancel routine, and the service
 * routine the I/O thread runs when a socket becomes ready.
 *
 * Cancellation follows the cancel-safe pattern of the WDK ("Canceling IRPs",
 * IoSetCancelRoutine): whoever clears the cancel routine (IoSetCancelRoutine
 * returning non-NULL) owns the IRP; when it returns NULL, the cancel routine
 * is running and completes the IRP, so the request is left in its queue for
 * it. A cancelled request completes with STATUS_CANCELLED and Information =
 * the bytes already transferred, except a receive that already has data:
 * it completes with STATUS_SUCCESS and those bytes (no data is lost; the
 * "WskReceive" page lists cancellation among the events that end a
 * WSK_FLAG_WAITALL receive).
 */
#include "wp.h"

#include <stdlib.h>

static DRIVER_CANCEL cancel_routine;

struct wp_req *wp_req_new(struct wp_sock *s, PIRP irp, BOOLEAN tx, wp_step_fn *step)
{
    struct wp_req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->irp = irp;
    r->sock = s;
    wp_sock_ref(s);
    r->tx = tx;
    r->counted = TRUE;
    r->step = step;
    return r;
}

static LIST_ENTRY *queue_of(struct wp_req *r)
{
    return r->tx ? &r->sock->txq : &r->sock->rxq;
}

/* Sets r's result for an end other than its own (socket lock held). */
static void end_result(struct wp_req *r, NTSTATUS status)
{
    if (!r->tx && r->done > 0) {
        r->status = STATUS_SUCCESS;
        r->info = r->done;
    } else {
        r->status = status;
        r->info = status == STATUS_CANCELLED ? r->done : 0;
    }
    if (r->connecting) {
        /* A connect that did not finish leaves the socket unusable. */
        r->sock->state &= ~(ULONG)WP_CONNECTING;
        r->sock->state |= WP_FAILED;
    }
}

/* Completes r (no lock held) and frees it. Returns TRUE if the IRP was
 * completed now; *status receives its final status. */
static BOOLEAN req_complete(struct wp_req *r, NTSTATUS *status)
{
    if (r->finish != NULL)
        r->finish(r);
    struct wp_sock *s = r->sock;
    NTSTATUS st = r->status;
    BOOLEAN now =
        wp_complete_mode(r->irp, st, r->info, r->counted ? s : NULL, r->force_async, NULL);
    if (status != NULL)
        *status = st;
    wp_sock_unref(s);
    free(r);
    return now;
}

void wp_req_complete_list(LIST_ENTRY *done)
{
    /* The list is the caller's alone and each request is freed as it
     * completes: walk it by saved links, then leave it empty. */
    LIST_ENTRY *e = done->Flink;
    while (e != done) {
        LIST_ENTRY *next = e->Flink;
        req_complete(CONTAINING_RECORD(e, struct wp_req, link), NULL);
        e = next;
    }
    InitializeListHead(done);
}

/* IoCancelIrp calls this with the cancel spin lock held. */
static void cancel_routine(PDEVICE_OBJECT device, PIRP irp)
{
    UNREFERENCED_PARAMETER(device);
    IoReleaseCancelSpinLock(irp->CancelIrql);
    struct wp_req *r = (struct wp_req *)irp->Tail.Overlay.DriverContext[0];
    struct wp_sock *s = r->sock;
    pn_mutex_lock(&s->lock);
    /* Nobody else removes a request whose cancel routine they did not clear. */
    if (r->queued) {
        RemoveEntryList(&r->link);
        r->queued = FALSE;
    }
    end_result(r, STATUS_CANCELLED);
    pn_mutex_unlock(&s->lock);
    req_complete(r, NULL);
}

/* Makes r cancellable again after it had to wait (socket lock held). FALSE
 * if it was cancelled meanwhile and now belongs to the caller. */
static BOOLEAN rearm(struct wp_req *r)
{
    IoSetCancelRoutine(r->irp, cancel_routine);
    if (r->irp->Cancel && IoSetCancelRoutine(r->irp, NULL) != NULL)
        return FALSE;
    return TRUE;
}

NTSTATUS wp_req_submit(struct wp_req *r)
{
    struct wp_sock *s = r->sock;
    LIST_ENTRY *q = queue_of(r);
    pn_mutex_lock(&s->lock);
    /* Only the first of a queue may run: data keeps its order. */
    if (IsListEmpty(q) && r->step(r)) {
        pn_mutex_unlock(&s->lock);
        wp_sock_leave_call(s);
        NTSTATUS status;
        BOOLEAN now = req_complete(r, &status);
        wp_sock_unref(s);
        return wp_returned(now, status);
    }
    /* Pending: marked before any other thread can complete it. */
    IoMarkIrpPending(r->irp);
    r->irp->Tail.Overlay.DriverContext[0] = r;
    InsertTailList(q, &r->link);
    r->queued = TRUE;
    BOOLEAN mine = FALSE;
    if (!rearm(r)) {
        RemoveEntryList(&r->link);
        r->queued = FALSE;
        end_result(r, STATUS_CANCELLED);
        mine = TRUE;
    }
    pn_mutex_unlock(&s->lock);
    wp_sock_leave_call(s);
    if (mine)
        req_complete(r, NULL);
    wp_sock_unref(s);
    return STATUS_PENDING;
}

/* Runs the requests of q that can progress (socket lock held). */
static void service_queue(LIST_ENTRY *q, LIST_ENTRY *done)
{
    LIST_ENTRY *e = q->Flink;
    while (e != q) {
        LIST_ENTRY *next = e->Flink;
        struct wp_req *r = CONTAINING_RECORD(e, struct wp_req, link);
        if (IoSetCancelRoutine(r->irp, NULL) == NULL) {
            /* Being cancelled: its cancel routine completes it. */
            e = next;
            continue;
        }
        if (r->step(r)) {
            RemoveEntryList(e);
            r->queued = FALSE;
            InsertTailList(done, e);
            e = next;
            continue;
        }
        if (!rearm(r)) {
            RemoveEntryList(e);
            r->queued = FALSE;
            end_result(r, STATUS_CANCELLED);
            InsertTailList(done, e);
            e = next;
            continue;
        }
        break; /* the socket is not ready for more */
    }
}

/* The queues first, then the event callbacks due (events.c), again after
 * each callback: it may have queued requests or changed what is due. */
void wp_sock_service(struct wp_sock *s)
{
    LIST_ENTRY done;
    do {
        InitializeListHead(&done);
        pn_mutex_lock(&s->lock);
        service_queue(&s->rxq, &done);
        service_queue(&s->txq, &done);
        pn_mutex_unlock(&s->lock);
        wp_req_complete_list(&done);
    } while (wp_events_run(s));
}

static void end_queue(LIST_ENTRY *q, NTSTATUS status, LIST_ENTRY *done)
{
    LIST_ENTRY *e = q->Flink;
    while (e != q) {
        LIST_ENTRY *next = e->Flink;
        struct wp_req *r = CONTAINING_RECORD(e, struct wp_req, link);
        if (IoSetCancelRoutine(r->irp, NULL) != NULL) {
            RemoveEntryList(e);
            r->queued = FALSE;
            end_result(r, status);
            InsertTailList(done, e);
        }
        e = next;
    }
}

void wp_req_end_all(struct wp_sock *s, NTSTATUS status, LIST_ENTRY *done)
{
    end_queue(&s->rxq, status, done);
    end_queue(&s->txq, status, done);
}

int wp_buf_iov(const WSK_BUF *buf, SIZE_T skip, struct pn_iov *iov, int max)
{
    SIZE_T remaining = buf->Length;
    ULONG offset = buf->Offset;
    int n = 0;
    for (PMDL m = buf->Mdl; m != NULL && remaining > 0 && n < max; m = m->Next) {
        SIZE_T count = MmGetMdlByteCount(m);
        SIZE_T avail = count > offset ? count - offset : 0;
        SIZE_T take = avail < remaining ? avail : remaining;
        remaining -= take;
        if (skip >= take) {
            skip -= take;
            offset = 0;
            continue;
        }
        PUCHAR va = (PUCHAR)kshim_mdl_system_address(m);
        if (va == NULL)
            return -1;
        iov[n].base = va + offset + skip;
        iov[n].len = take - skip;
        n++;
        skip = 0;
        offset = 0;
    }
    return n;
}

/* "WSK_BUF": Offset is into the first MDL's buffer, and the chain must hold
 * Offset + Length bytes. */
NTSTATUS wp_buf_check(const WSK_BUF *buf)
{
    if (buf == NULL)
        return STATUS_INVALID_PARAMETER;
    if (buf->Length == 0)
        return STATUS_SUCCESS;
    if (buf->Mdl == NULL || buf->Offset >= MmGetMdlByteCount(buf->Mdl))
        return STATUS_INVALID_PARAMETER;
    SIZE_T total = 0;
    for (PMDL m = buf->Mdl; m != NULL; m = m->Next)
        total += MmGetMdlByteCount(m);
    if (total - buf->Offset < buf->Length)
        return STATUS_INVALID_PARAMETER;
    kshim_mdl_check_locked(buf->Mdl, "WSK_BUF");
    return STATUS_SUCCESS;
}
