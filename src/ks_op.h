/*
 * ks_op.h - operations: one WSK request = IRP + completion routine (+ MDL).
 *
 * An operation owns one IRP, allocated once and reused with IoReuseIrp for
 * every request issued through it, and one resident event. The caller and the
 * completion routine hand off through one interlocked state, so a blocking
 * caller waits on the event only when the request is really still in flight
 * (providers such as Wine's complete most requests inline yet return
 * STATUS_PENDING; a set/wait pair is the dominant cost there).
 *
 * Usage (blocking):
 *     PIRP irp = ks_op_begin(op);
 *     status = dispatch->WskSomething(..., irp);
 *     status = ks_op_wait(op, status, timeout, &information);
 *
 * An operation may instead be given a completion callback (ks_op_set_callback),
 * which the completion routine calls at IRQL <= DISPATCH_LEVEL: that is the
 * hook the asynchronous API builds on.
 */
#ifndef KS_OP_H
#define KS_OP_H

#include "ks_kernel.h"

typedef struct ks_op ks_op;

/* Called from the completion routine (IRQL <= DISPATCH_LEVEL, any thread). */
typedef void ks_op_callback(ks_op *op, NTSTATUS status, ULONG_PTR information, void *context);

enum ks_op_state {
    KS_OP_IDLE = 0,    /* no request */
    KS_OP_ISSUED = 1,  /* request handed to the provider */
    KS_OP_WAITING = 2, /* a caller sleeps on the event */
    KS_OP_DONE = 3     /* completion routine ran */
};

struct ks_op {
    PIRP irp;
    KEVENT done;         /* SynchronizationEvent; set only for a parked waiter */
    volatile LONG state; /* enum ks_op_state */
    PMDL mdl;            /* locked MDL of the request, or NULL */
    ks_op_callback *callback;
    void *callback_context;
};

/* Allocates the IRP. Returns STATUS_SUCCESS or STATUS_INSUFFICIENT_RESOURCES.
 * op must be in nonpaged memory (its event is waited on). */
NTSTATUS ks_op_init(ks_op *op);

/* Frees the IRP. The operation must be idle. */
void ks_op_free(ks_op *op);

/* Prepares the IRP for a new request and returns it. */
PIRP ks_op_begin(ks_op *op);

/*
 * Ends a blocking request: call_status is what the WSK function returned.
 * Waits only if the request is pending: up to *timeout (NULL: no bound).
 * When the timeout expires the IRP is cancelled and the call still waits for
 * it to complete (the provider may still be writing into the buffer), so the
 * result is then usually STATUS_CANCELLED. A provider that returned an error
 * without completing the IRP (Wine's stubs do) is handled: its status is
 * returned and nothing is waited for. The MDL, if any, is unlocked and freed.
 * *information (optional) receives IoStatus.Information (0 on failure).
 */
NTSTATUS ks_op_wait(ks_op *op, NTSTATUS call_status, PLARGE_INTEGER timeout,
                    ULONG_PTR *information);

/* Asks the provider to cancel the request in flight, if any. Safe to call at
 * any time from any thread while the op's memory is alive. */
void ks_op_cancel(ks_op *op);

/* TRUE while a request is in flight. */
static inline BOOLEAN ks_op_busy(const ks_op *op)
{
    LONG s = op->state;
    return s == KS_OP_ISSUED || s == KS_OP_WAITING;
}

/*
 * Describes buf/len with an MDL locked for the provider (IoReadAccess for data
 * the provider reads, IoWriteAccess for data it writes) and fills *wbuf.
 * The MDL belongs to the op until ks_op_wait. Returns STATUS_SUCCESS or
 * STATUS_INSUFFICIENT_RESOURCES.
 */
NTSTATUS ks_op_lock_buffer(ks_op *op, void *buf, ULONG len, LOCK_OPERATION access, WSK_BUF *wbuf);

#endif /* KS_OP_H */
