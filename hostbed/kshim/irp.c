/*
 * irp.c - driver-allocated IRPs: allocation with StackCount stack locations
 * (KshimStack), reuse, cancellation under the global cancel spin lock, and
 * completion as the I/O manager's IopfCompleteRequest walks the stack
 * (without its final phase, which driver-allocated IRPs must never reach:
 * their completion routine returns STATUS_MORE_PROCESSING_REQUIRED).
 *
 * KshimOwner says who may touch the IRP: 0 its allocator (the library),
 * 1 a driver below (the provider took it with kshim_irp_take). Freeing,
 * reusing or resending an IRP that is in flight is a violation;
 * IofCompleteRequest gives it back (0) before it calls the routines.
 */
#include "kshim_internal.h"

#include <stdlib.h>

#define IO_TYPE_IRP 6

static volatile LONG live_irps;
static KSPIN_LOCK cancel_lock;

LONG kshim_irp_count(void)
{
    return __atomic_load_n(&live_irps, __ATOMIC_RELAXED);
}

static void check_irp(PIRP irp, const char *who)
{
    if (irp == NULL)
        kshim_violation("%s(NULL)", who);
    if (irp->KshimMagic != KSHIM_MAGIC_IRP)
        kshim_violation("%s(%p): not a live IRP from IoAllocateIrp", who, (void *)irp);
}

static void check_irql(KIRQL max, const char *who)
{
    if (KeGetCurrentIrql() > max)
        kshim_violation("%s at IRQL %u > %u", who, KeGetCurrentIrql(), max);
}

/* The state IoAllocateIrp / IoReuseIrp leave (IoInitializeIrp): everything
 * zero but the size fields, the stack empty (current location one past the
 * last). */
static void initialize_irp(PIRP irp, USHORT size, CCHAR stack_size)
{
    memset(irp, 0, size);
    irp->Type = IO_TYPE_IRP;
    irp->Size = size;
    irp->StackCount = stack_size;
    irp->CurrentLocation = (CHAR)(stack_size + 1);
    irp->Tail.Overlay.CurrentStackLocation = &irp->KshimStack[(int)stack_size];
    InitializeListHead(&irp->Tail.Overlay.ListEntry);
    irp->KshimMagic = KSHIM_MAGIC_IRP;
}

/* IoAllocateIrp (wdm.h): IRQL <= DISPATCH_LEVEL; NULL on failure. */
PIRP IoAllocateIrp(CCHAR stack_size, BOOLEAN charge_quota)
{
    size_t size;
    PIRP irp;
    (void)charge_quota;
    check_irql(DISPATCH_LEVEL, "IoAllocateIrp");
    if (stack_size < 1)
        kshim_violation("IoAllocateIrp with a stack size of %d (< 1)", (int)stack_size);
    if (kshim_fault("irp.alloc"))
        return NULL;
    size = offsetof(IRP, KshimStack) + sizeof(IO_STACK_LOCATION) * (size_t)stack_size;
    irp = malloc(size);
    if (irp == NULL)
        return NULL;
    initialize_irp(irp, (USHORT)size, stack_size);
    InterlockedIncrement(&live_irps);
    return irp;
}

/* IoFreeIrp (wdm.h): the IRP must not be in use by a driver below. */
void IoFreeIrp(PIRP irp)
{
    check_irql(DISPATCH_LEVEL, "IoFreeIrp");
    check_irp(irp, "IoFreeIrp");
    if (irp->KshimOwner != 0)
        kshim_violation("IoFreeIrp(%p) while the IRP is in flight (owned by a driver below)",
                        (void *)irp);
    irp->KshimMagic = KSHIM_MAGIC_DEAD;
    InterlockedDecrement(&live_irps);
    free(irp);
}

/* IoReuseIrp (wdm.h): reinitialises the IRP (stack locations included) and
 * sets IoStatus.Status; the IRP must not be in flight. */
void IoReuseIrp(PIRP irp, NTSTATUS status)
{
    check_irql(DISPATCH_LEVEL, "IoReuseIrp");
    check_irp(irp, "IoReuseIrp");
    if (irp->KshimOwner != 0)
        kshim_violation("IoReuseIrp(%p) while the IRP is in flight (owned by a driver below)",
                        (void *)irp);
    initialize_irp(irp, irp->Size, irp->StackCount);
    irp->IoStatus.Status = status;
}

void kshim_irp_take(PIRP irp)
{
    check_irql(DISPATCH_LEVEL, "kshim_irp_take");
    check_irp(irp, "kshim_irp_take");
    if (InterlockedCompareExchange(&irp->KshimOwner, 1, 0) != 0)
        kshim_violation("IRP reused while in flight: IRP %p sent again before it completed",
                        (void *)irp);
    if (irp->CurrentLocation <= 1)
        kshim_violation("IRP %p sent with no stack location left for the driver below "
                        "(CurrentLocation %d)",
                        (void *)irp, (int)irp->CurrentLocation);
    IoSetNextIrpStackLocation(irp);
}

/* IoAcquireCancelSpinLock (wdm.h): raises to DISPATCH_LEVEL. */
void IoAcquireCancelSpinLock(PKIRQL irql)
{
    KeAcquireSpinLock(&cancel_lock, irql);
}

void IoReleaseCancelSpinLock(KIRQL irql)
{
    KeReleaseSpinLock(&cancel_lock, irql);
}

/* IoCancelIrp (wdm.h): sets Cancel; if a cancel routine is set, calls it
 * with the cancel spin lock held (the routine releases it with
 * Irp->CancelIrql) and returns TRUE; otherwise FALSE. IRQL <= DISPATCH_LEVEL. */
BOOLEAN IoCancelIrp(PIRP irp)
{
    KIRQL irql;
    PDRIVER_CANCEL routine;
    PDEVICE_OBJECT device = NULL;

    check_irql(DISPATCH_LEVEL, "IoCancelIrp");
    check_irp(irp, "IoCancelIrp");
    IoAcquireCancelSpinLock(&irql);
    irp->Cancel = TRUE;
    routine = IoSetCancelRoutine(irp, NULL);
    if (routine == NULL) {
        IoReleaseCancelSpinLock(irql);
        return FALSE;
    }
    if (irp->CurrentLocation > irp->StackCount + 1)
        kshim_violation("IoCancelIrp(%p): bad CurrentLocation %d", (void *)irp,
                        (int)irp->CurrentLocation);
    if (irp->CurrentLocation <= irp->StackCount)
        device = IoGetCurrentIrpStackLocation(irp)->DeviceObject;
    irp->CancelIrql = irql;
    routine(device, irp);
    return TRUE;
}

/* Whether the routine of this stack location is to run (IoSetCompletionRoutine:
 * InvokeOnSuccess by NT_SUCCESS, InvokeOnError otherwise, InvokeOnCancel "if a
 * driver or the kernel has called IoCancelIrp" i.e. Irp->Cancel). */
static BOOLEAN invoke(PIRP irp, const IO_STACK_LOCATION *sl)
{
    if (sl->CompletionRoutine == NULL)
        return FALSE;
    if (NT_SUCCESS(irp->IoStatus.Status) && (sl->Control & SL_INVOKE_ON_SUCCESS))
        return TRUE;
    if (!NT_SUCCESS(irp->IoStatus.Status) && (sl->Control & SL_INVOKE_ON_ERROR))
        return TRUE;
    return irp->Cancel && (sl->Control & SL_INVOKE_ON_CANCEL);
}

/* IoCompleteRequest (wdm.h): IRQL <= DISPATCH_LEVEL; the driver must have
 * cleared its cancel routine (IoSetCancelRoutine(Irp, NULL)) and set a final
 * status (not STATUS_PENDING). The walk follows the I/O manager's. */
void IofCompleteRequest(PIRP irp, CCHAR priority_boost)
{
    PIO_STACK_LOCATION sl;
    (void)priority_boost;

    check_irql(DISPATCH_LEVEL, "IoCompleteRequest");
    check_irp(irp, "IoCompleteRequest");
    if (irp->KshimOwner != 1)
        kshim_violation("IoCompleteRequest(%p): the IRP is not in flight (completed twice, or "
                        "never taken with kshim_irp_take)",
                        (void *)irp);
    if (irp->CancelRoutine != NULL)
        kshim_violation("IoCompleteRequest(%p) with a cancel routine still set", (void *)irp);
    if (irp->IoStatus.Status == STATUS_PENDING)
        kshim_violation("IoCompleteRequest(%p) with the status STATUS_PENDING", (void *)irp);
    if (irp->CurrentLocation > irp->StackCount)
        kshim_violation("IoCompleteRequest(%p): no current stack location (CurrentLocation %d)",
                        (void *)irp, (int)irp->CurrentLocation);

    /* Back to the allocator before any routine runs: the routine may free,
     * reuse or resend the IRP. */
    InterlockedExchange(&irp->KshimOwner, 0);

    sl = IoGetCurrentIrpStackLocation(irp);
    IoSkipCurrentIrpStackLocation(irp);
    for (;;) {
        irp->PendingReturned = (sl->Control & SL_PENDING_RETURNED) != 0;
        if (invoke(irp, sl)) {
            PIO_COMPLETION_ROUTINE routine = sl->CompletionRoutine;
            PVOID context = sl->Context;
            /* The location above the routine's is current while it runs; at
             * the top there is none (DeviceObject NULL). */
            PDEVICE_OBJECT device = irp->CurrentLocation == irp->StackCount + 1
                                        ? NULL
                                        : IoGetCurrentIrpStackLocation(irp)->DeviceObject;
            if (routine(device, irp, context) == STATUS_MORE_PROCESSING_REQUIRED)
                return; /* the IRP belongs to the routine's driver again */
        } else if (irp->PendingReturned && irp->CurrentLocation <= irp->StackCount) {
            IoMarkIrpPending(irp);
        }
        if (irp->CurrentLocation > irp->StackCount)
            break;
        IoSkipCurrentIrpStackLocation(irp);
        sl++;
    }
    kshim_violation("IRP %p completed to the I/O manager: a driver-allocated IRP must be "
                    "stopped by its completion routine (STATUS_MORE_PROCESSING_REQUIRED)",
                    (void *)irp);
}
