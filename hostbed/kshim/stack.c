/*
 * stack.c - kernel stacks: IoGetStackLimits, IoGetRemainingStackSize and
 * KeExpandKernelStackAndCallout, over the host thread's own stack.
 *
 * A thread's stack bounds come from pthread_getattr_np (for the main thread
 * glibc derives them from its mapping and RLIMIT_STACK), once per thread.
 * The position is the caller's frame address (__builtin_frame_address, not
 * the address of a local: under AddressSanitizer a local may live on a
 * "fake stack" in the heap).
 *
 * Host stacks are megabytes (8 MiB by default, the main thread's and every
 * pthread's, PsCreateSystemThread's included), far more than Windows'
 * KERNEL_STACK_SIZE (24 KiB) and MAXIMUM_EXPANSION_SIZE (58 KiB): so
 * KeExpandKernelStackAndCallout never needs a new stack segment and calls
 * the callout on the calling thread's stack. It still checks what Windows
 * guarantees: size bytes must be left there (else STATUS_NO_MEMORY, which
 * only a runaway recursion would see).
 */
#include "kshim_internal.h"

#include <stdio.h>
#include <stdlib.h>

static __thread ULONG_PTR stack_low, stack_high; /* 0: not known yet */
static __thread int callouts; /* KeExpandKernelStackAndCallout calls in progress */

static void stack_bounds(void)
{
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;

    if (stack_high != 0)
        return;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) {
        fprintf(stderr, "kshim: pthread_getattr_np failed: no stack bounds\n");
        abort();
    }
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    stack_low = (ULONG_PTR)addr;
    stack_high = (ULONG_PTR)addr + size;
}

/* IoGetStackLimits (wdm.h): the current thread's stack, any IRQL. */
void IoGetStackLimits(PULONG_PTR low_limit, PULONG_PTR high_limit)
{
    stack_bounds();
    *low_limit = stack_low;
    *high_limit = stack_high;
}

/* IoGetRemainingStackSize (wdm.h, inline there): what is left below the
 * caller's frame (this function's own frame is a few dozen bytes deeper). */
ULONG_PTR IoGetRemainingStackSize(void)
{
    ULONG_PTR here = (ULONG_PTR)__builtin_frame_address(0);
    stack_bounds();
    if (here <= stack_low || here > stack_high)
        kshim_violation("IoGetRemainingStackSize: the frame %p is not on the thread's stack "
                        "[%p, %p)",
                        (void *)here, (void *)stack_low, (void *)stack_high);
    return here - stack_low;
}

BOOLEAN kshim_stack_in_callout(void)
{
    return callouts > 0;
}

/* KeExpandKernelStackAndCallout (ntddk.h): IRQL <= APC_LEVEL (the
 * documented requirement; KeExpandKernelStackAndCalloutEx's is
 * DISPATCH_LEVEL); the callout runs at the caller's IRQL and must return at
 * it (_IRQL_requires_same_). */
NTSTATUS KeExpandKernelStackAndCallout(PEXPAND_STACK_CALLOUT callout, PVOID parameter, SIZE_T size)
{
    KIRQL irql = KeGetCurrentIrql();

    if (irql > APC_LEVEL)
        kshim_violation("KeExpandKernelStackAndCallout at IRQL %u (<= APC_LEVEL only)", irql);
    if (callout == NULL)
        kshim_violation("KeExpandKernelStackAndCallout without a callout");
    if (size > MAXIMUM_EXPANSION_SIZE)
        return STATUS_INVALID_PARAMETER_3;
    if (kshim_fault("stack.expand"))
        return STATUS_NO_MEMORY;
    if (IoGetRemainingStackSize() < size)
        return STATUS_NO_MEMORY;
    callouts++;
    callout(parameter);
    callouts--;
    if (KeGetCurrentIrql() != irql)
        kshim_violation("KeExpandKernelStackAndCallout: the callout returned at IRQL %u, "
                        "called at %u",
                        KeGetCurrentIrql(), irql);
    return STATUS_SUCCESS;
}
