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
 *     PIRP irp = ks__op_begin(op);
 *     status = dispatch->WskSomething(..., irp);
 *     status = ks__op_wait(op, status, timeout, &information);
 *
 * An operation may instead be given a completion callback (ks__op_set_callback),
 * which the completion routine calls at IRQL <= DISPATCH_LEVEL: that is the
 * hook the asynchronous API builds on (src/ks_ready.c).
 *
 * Usage (asynchronous):
 *     ks__op_set_callback(op, done_fn, ctx);
 *     PIRP irp = ks__op_begin(op);
 *     status = ks__op_async_issued(op, dispatch->WskSomething(..., irp));
 *     // STATUS_PENDING: done_fn runs (or ran) once; later, at PASSIVE_LEVEL:
 *     status = ks__op_reap(op, &information);
 */
#ifndef KS_OP_H
#define KS_OP_H

#include "ks_kernel.h"

typedef struct ks_op ks_op;

/* Called from the completion routine (IRQL <= DISPATCH_LEVEL, any thread). */
typedef _IRQL_requires_max_(DISPATCH_LEVEL) void ks_op_callback(_Inout_ ks_op *op, NTSTATUS status,
                                                                ULONG_PTR information,
                                                                _In_opt_ void *context);

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
    /* ks__op_cancel calls inside their look at irp: ks__op_drop waits for
     * none before it frees irp (another thread may cancel a request that
     * has just completed while its owner drops the IRP). */
    volatile LONG cancels;
    PMDL mdl; /* locked MDL of the request, or NULL */
    ks_op_callback *callback;
    void *callback_context;
};

/* Allocates the IRP. Returns STATUS_SUCCESS or STATUS_INSUFFICIENT_RESOURCES.
 * op must be in nonpaged memory (its event is waited on). */
_Must_inspect_result_ NTSTATUS ks__op_init(_Out_ ks_op *op);
/* The same without the IRP, which ks__op_prepare allocates at first use (a
 * socket's receive and send operations: a socket never used in a
 * direction costs no IRP for it). Cannot fail. */
void ks__op_init_lazy(_Out_ ks_op *op);
/* Gives op its IRP if it has none yet: STATUS_SUCCESS, or
 * STATUS_INSUFFICIENT_RESOURCES. Before ks__op_begin, by the op's only user
 * (the holder of the lock that serialises it); the IRP then stays until
 * ks__op_free. IRQL <= DISPATCH_LEVEL. */
_Must_inspect_result_ NTSTATUS ks__op_prepare(_Inout_ ks_op *op);
/* Ends op's IRP after a request (an op that allocates per request, such as
 * a socket's control operation: a socket at rest holds no IRP): frees its
 * own, or gives the reserve back. Idle op. IRQL <= DISPATCH_LEVEL. */
void ks__op_drop(_Inout_ ks_op *op);

/*
 * The reserve: one IRP for the whole library, allocated by ks_startup, for
 * the one request that must not fail for lack of memory: WskCloseSocket
 * (a socket that cannot be closed leaks its provider socket for ever).
 * ks__op_prepare_reserved gives op its own IRP if one can be allocated, else
 * lends it the reserve, waiting while another op has it (only when memory
 * ran out; the borrowers hold it for one request each and never wait for
 * anything else meanwhile, so the wait ends). PASSIVE_LEVEL. ks__op_drop
 * gives it back. ks__op_reserve_init: STATUS_SUCCESS or
 * STATUS_INSUFFICIENT_RESOURCES (ks_startup); ks__op_reserve_free with
 * nothing lent (ks_cleanup).
 */
_Must_inspect_result_ NTSTATUS ks__op_reserve_init(void);
void ks__op_reserve_free(void);
_IRQL_requires_max_(PASSIVE_LEVEL) void ks__op_prepare_reserved(_Inout_ ks_op *op);
/* TRUE while op holds the library's reserve IRP. */
BOOLEAN ks__op_has_reserve(_In_ const ks_op *op);

/* Frees the IRP. The operation must be idle. */
void ks__op_free(_Inout_ ks_op *op);

/* Prepares the IRP for a new request and returns it. */
PIRP ks__op_begin(_Inout_ ks_op *op);

/*
 * Ends a blocking request: call_status is what the WSK function returned.
 * Waits only if the request is pending: up to *timeout (NULL: no bound).
 * When the timeout expires the IRP is cancelled and the call still waits for
 * it to complete (the provider may still be writing into the buffer), so the
 * result is then usually STATUS_CANCELLED. A provider that returned an error
 * without completing the IRP (Wine's stubs do) is handled: its status is
 * returned and nothing is waited for. The MDL, if any, is unlocked and freed.
 * *information (optional) receives IoStatus.Information (0 on failure).
 * IRQL <= APC_LEVEL (it may wait).
 */
_IRQL_requires_max_(APC_LEVEL) NTSTATUS
    ks__op_wait(_Inout_ ks_op *op, NTSTATUS call_status, _In_opt_ PLARGE_INTEGER timeout,
                _Out_opt_ ULONG_PTR *information);

/*
 * Sets (or, with NULL, clears) the completion callback of the next requests.
 * Set it before ks__op_begin; ks__op_reap clears it. The callback runs once per
 * request, at IRQL <= DISPATCH_LEVEL, on the provider's thread or inside the
 * WSK call (inline completion); it must not wait, start WSK calls or free
 * the operation, and the op's state is DONE while it runs.
 */
static inline void ks__op_set_callback(_Inout_ ks_op *op, _In_opt_ ks_op_callback *callback,
                                       _In_opt_ void *context)
{
    KS_ASSERT(op->state == KS_OP_IDLE); /* before ks__op_begin */
    op->callback = callback;
    op->callback_context = context;
}

/*
 * Ends the issue of an asynchronous request (op with a callback): call_status
 * is what the WSK function returned. Returns STATUS_PENDING when the
 * completion routine runs or ran (the callback then reports the result), or
 * the error of a provider that failed without completing the IRP (Wine's
 * stubs): the callback never runs, the op is idle again and its callback
 * cleared. Any IRQL <= DISPATCH_LEVEL.
 */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS ks__op_async_issued(_Inout_ ks_op *op, NTSTATUS call_status);

/*
 * Collects an asynchronous request whose callback has run: returns the IRP's
 * status, *information (optional) its Information (kept on failure), unlocks
 * and frees the MDL, makes the op idle and clears the callback. The caller
 * must know the callback finished (ks__op_busy is not enough: the state is
 * DONE while the callback still runs). PASSIVE_LEVEL (MDL unlock: <=
 * DISPATCH_LEVEL would do).
 */
_IRQL_requires_max_(PASSIVE_LEVEL) NTSTATUS
    ks__op_reap(_Inout_ ks_op *op, _Out_opt_ ULONG_PTR *information);

/* Asks the provider to cancel the request in flight, if any. Safe to call at
 * any time from any thread while the op's memory is alive. */
void ks__op_cancel(_Inout_ ks_op *op);

/* TRUE while a request is in flight. */
static inline BOOLEAN ks__op_busy(_In_ const ks_op *op)
{
    LONG s = op->state;
    return s == KS_OP_ISSUED || s == KS_OP_WAITING;
}

/*
 * Describes buf/len with an MDL locked for the provider (IoReadAccess for data
 * the provider reads, IoWriteAccess for data it writes) and fills *wbuf.
 * The MDL belongs to the op until ks__op_wait. Returns STATUS_SUCCESS or
 * STATUS_INSUFFICIENT_RESOURCES.
 */
_Must_inspect_result_ NTSTATUS
ks__op_lock_buffer(_Inout_ ks_op *op,
                   _When_(access == IoReadAccess, _In_reads_bytes_(len))
                       _When_(access != IoReadAccess, _Out_writes_bytes_(len)) void *buf,
                   ULONG len, LOCK_OPERATION access, _Out_ WSK_BUF *wbuf);

#endif /* KS_OP_H */
