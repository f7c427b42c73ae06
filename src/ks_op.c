/* ks_op.c - the operation layer: IRP reuse, completion handoff, MDLs. */
#include "ks_op.h"
#include "ks_lock.h"

static IO_COMPLETION_ROUTINE ks_op_completion;
static void ks_op_reserve_return(PIRP irp);

/*
 * Runs when the provider completes the IRP, at IRQL <= DISPATCH_LEVEL. It
 * never starts new WSK calls and always keeps the IRP (the op owns it).
 */
static NTSTATUS ks_op_completion(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    ks_op *op = (ks_op *)context;
    UNREFERENCED_PARAMETER(device);
    /* A request of this op is in flight: issued (a waiter may sleep). */
    KS_ASSERT(op->state == KS_OP_ISSUED || op->state == KS_OP_WAITING);
    KS_ASSERT(irp == op->irp);

    if (op->callback != NULL) {
        /* The callback may let the op be reaped (and its socket freed) as
         * soon as it publishes the result: nothing here touches op after it. */
        InterlockedExchange(&op->state, KS_OP_DONE);
        op->callback(op, irp->IoStatus.Status, irp->IoStatus.Information, op->callback_context);
        return STATUS_MORE_PROCESSING_REQUIRED;
    }
    /* Only a caller that parked itself (state WAITING) needs the event. */
    if (InterlockedExchange(&op->state, KS_OP_DONE) == KS_OP_WAITING)
        KeSetEvent(&op->done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

void ks__op_init_lazy(ks_op *op)
{
    RtlZeroMemory(op, sizeof(*op));
    KeInitializeEvent(&op->done, SynchronizationEvent, FALSE);
}

NTSTATUS ks__op_prepare(ks_op *op)
{
    /* Idle: nothing reads op->irp concurrently (ks__op_cancel only reads it
     * while a request is in flight). */
    KS_ASSERT(op->state == KS_OP_IDLE);
    if (op->irp == NULL)
        op->irp = IoAllocateIrp(1, FALSE);
    return op->irp != NULL ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

void ks__op_drop(ks_op *op)
{
    KS_ASSERT(op->state == KS_OP_IDLE && op->mdl == NULL);
    PIRP irp = op->irp;
    if (irp == NULL)
        return;
    /* A ks__op_cancel that saw the request in flight may still be about to
     * call IoCancelIrp on irp: let it finish (a few instructions; any that
     * starts now sees the op idle and leaves irp alone). */
    while (InterlockedCompareExchange(&op->cancels, 0, 0) != 0)
        YieldProcessor();
    BOOLEAN reserve = ks__op_has_reserve(op);
    op->irp = NULL;
    if (reserve) {
        ks_op_reserve_return(irp);
    } else {
        IoFreeIrp(irp);
    }
}

NTSTATUS ks__op_init(ks_op *op)
{
    ks__op_init_lazy(op);
    return ks__op_prepare(op);
}

void ks__op_free(ks_op *op)
{
    ks__op_drop(op);
}

PIRP ks__op_begin(ks_op *op)
{
    /* One request at a time, the previous one ended (waited for, reaped,
     * or failed without completing). */
    KS_ASSERT(op->irp != NULL && op->state == KS_OP_IDLE && op->mdl == NULL);
    IoReuseIrp(op->irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(op->irp, ks_op_completion, op, TRUE, TRUE, TRUE);
    op->mdl = NULL;
    InterlockedExchange(&op->state, KS_OP_ISSUED);
    return op->irp;
}

static void ks_op_release_mdl(ks_op *op)
{
    if (op->mdl != NULL) {
        MmUnlockPages(op->mdl);
        IoFreeMdl(op->mdl);
        op->mdl = NULL;
    }
}

NTSTATUS ks__op_wait(ks_op *op, NTSTATUS call_status, PLARGE_INTEGER timeout,
                     ULONG_PTR *information)
{
    NTSTATUS status;
    ULONG_PTR info = 0;

    KS_ASSERT_IRQL_MAX(APC_LEVEL);
    KS_ASSERT(op->callback == NULL); /* a blocking request: no callback */
    KS_ASSERT(op->state != KS_OP_IDLE && op->state != KS_OP_WAITING); /* begun, not waited for */
    if (call_status == STATUS_PENDING) {
        if (InterlockedCompareExchange(&op->state, KS_OP_WAITING, KS_OP_ISSUED) == KS_OP_ISSUED) {
            NTSTATUS w = KeWaitForSingleObject(&op->done, Executive, KernelMode, FALSE, timeout);
            if (w == STATUS_TIMEOUT) {
                IoCancelIrp(op->irp);
                KeWaitForSingleObject(&op->done, Executive, KernelMode, FALSE, NULL);
            }
        }
        status = op->irp->IoStatus.Status;
        info = op->irp->IoStatus.Information;
    } else if (op->state == KS_OP_DONE) {
        /* Completed inline: the IRP holds the result. */
        status = op->irp->IoStatus.Status;
        info = op->irp->IoStatus.Information;
    } else {
        /* Failed without completing the IRP (not allowed by the WSK contract,
         * but Wine's unimplemented calls do it). */
        status = NT_SUCCESS(call_status) ? STATUS_INTERNAL_ERROR : call_status;
    }
    ks_op_release_mdl(op);
    InterlockedExchange(&op->state, KS_OP_IDLE);
    if (!NT_SUCCESS(status))
        info = 0;
    if (information != NULL)
        *information = info;
    return status;
}

NTSTATUS ks__op_async_issued(ks_op *op, NTSTATUS call_status)
{
    KS_ASSERT_IRQL_MAX(DISPATCH_LEVEL);
    KS_ASSERT(op->callback != NULL); /* set before ks__op_begin */
    if (call_status == STATUS_PENDING || op->state != KS_OP_ISSUED)
        return STATUS_PENDING;
    /* Returned without completing the IRP: no callback will come. */
    ks_op_release_mdl(op);
    op->callback = NULL;
    InterlockedExchange(&op->state, KS_OP_IDLE);
    return NT_SUCCESS(call_status) ? STATUS_INTERNAL_ERROR : call_status;
}

NTSTATUS ks__op_reap(ks_op *op, ULONG_PTR *information)
{
    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL);
    KS_ASSERT(op->state == KS_OP_DONE); /* its callback ran */
    NTSTATUS status = op->irp->IoStatus.Status;
    if (information != NULL)
        *information = op->irp->IoStatus.Information;
    ks_op_release_mdl(op);
    op->callback = NULL;
    InterlockedExchange(&op->state, KS_OP_IDLE);
    return status;
}

void ks__op_cancel(ks_op *op)
{
    /* Announced first (a full barrier): ks__op_drop, which runs only after
     * the state went back to idle, then waits for us. */
    InterlockedIncrement(&op->cancels);
    if (ks__op_busy(op))
        IoCancelIrp(op->irp);
    InterlockedDecrement(&op->cancels);
}

NTSTATUS ks__op_lock_buffer(ks_op *op, void *buf, ULONG len, LOCK_OPERATION access, WSK_BUF *wbuf)
{
    /* Between ks__op_begin and the WSK call; one buffer per request. */
    KS_ASSERT(op->state == KS_OP_ISSUED && op->mdl == NULL);
    wbuf->Mdl = NULL;
    wbuf->Offset = 0;
    wbuf->Length = len;
    if (len == 0)
        return STATUS_SUCCESS;
    PMDL mdl = IoAllocateMdl(buf, len, FALSE, FALSE, NULL);
    if (mdl == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
#ifdef _MSC_VER
#ifdef __clang__ /* structured exception handling is an MSVC extension, wanted here */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wlanguage-extension-token"
#endif
    __try {
        MmProbeAndLockPages(mdl, KernelMode, access);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        IoFreeMdl(mdl);
        return STATUS_ACCESS_VIOLATION;
    }
#ifdef __clang__
#pragma clang diagnostic pop
#endif
#else
    /* gcc has no structured exception handling: a kernel-mode probe of a
     * valid kernel buffer does not raise; an invalid pointer would bugcheck
     * with any toolchain's first access anyway. */
    MmProbeAndLockPages(mdl, KernelMode, access);
#endif
    op->mdl = mdl;
    wbuf->Mdl = mdl;
    return STATUS_SUCCESS;
}

/* ---- the reserve IRP ----
 * g_reserve is written by ks_startup/ks_cleanup only (no socket exists
 * then); lent under g_reserve_lock, which its borrower holds from the
 * lending to the return (a sleeping lock: the borrower waits for the IRP's
 * completion while holding it). */
static PIRP g_reserve;
static ks_lock g_reserve_lock;

NTSTATUS ks__op_reserve_init(void)
{
    KS_ASSERT(g_reserve == NULL);
    ks__lock_init(&g_reserve_lock);
    g_reserve = IoAllocateIrp(1, FALSE);
    return g_reserve != NULL ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

void ks__op_reserve_free(void)
{
    KS_ASSERT(g_reserve_lock.held == 0); /* nothing lent */
    if (g_reserve != NULL)
        IoFreeIrp(g_reserve);
    g_reserve = NULL;
}

void ks__op_prepare_reserved(ks_op *op)
{
    KS_ASSERT_IRQL_MAX(PASSIVE_LEVEL);
    if (NT_SUCCESS(ks__op_prepare(op)))
        return;
    KS_ASSERT(g_reserve != NULL); /* between ks_startup and ks_cleanup */
    ks__lock_acquire(&g_reserve_lock);
    op->irp = g_reserve;
}

BOOLEAN ks__op_has_reserve(const ks_op *op)
{
    return op->irp != NULL && op->irp == g_reserve;
}

static void ks_op_reserve_return(PIRP irp)
{
    KS_ASSERT(irp == g_reserve && ks__lock_held_by_me(&g_reserve_lock));
    UNREFERENCED_PARAMETER(irp);
    ks__lock_release(&g_reserve_lock);
}
