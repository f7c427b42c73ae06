/*
 * irql.c - the IRQL of each thread. Every thread, including those the shim
 * did not create, starts at PASSIVE_LEVEL (a thread-local variable); raising
 * and lowering check their direction, as the WDK documents (KeRaiseIrql:
 * "NewIrql must be greater than or equal to the current IRQL"; KeLowerIrql:
 * NewIrql must be what KeRaiseIrql returned, so never higher).
 */
#include "kshim_internal.h"

static __thread KIRQL current_irql; /* PASSIVE_LEVEL (0) in every new thread */

KIRQL KeGetCurrentIrql(void)
{
    return current_irql;
}

void KeRaiseIrql(KIRQL new_irql, PKIRQL old_irql)
{
    /* KeRaiseIrql (wdm.h): lowering through it bugchecks (IRQL_NOT_GREATER_OR_EQUAL). */
    if (new_irql < current_irql)
        kshim_violation("KeRaiseIrql to %u below the current IRQL %u", new_irql, current_irql);
    if (new_irql > HIGH_LEVEL)
        kshim_violation("KeRaiseIrql to %u above HIGH_LEVEL", new_irql);
    *old_irql = current_irql;
    current_irql = new_irql;
}

void KeLowerIrql(KIRQL new_irql)
{
    /* KeLowerIrql (wdm.h): raising through it bugchecks (IRQL_NOT_LESS_OR_EQUAL). */
    if (new_irql > current_irql)
        kshim_violation("KeLowerIrql to %u above the current IRQL %u", new_irql, current_irql);
    current_irql = new_irql;
}

KIRQL KeRaiseIrqlToDpcLevel(void)
{
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    return old;
}

void kshim_set_irql(KIRQL irql)
{
    if (irql > HIGH_LEVEL)
        kshim_violation("kshim_set_irql(%u) above HIGH_LEVEL", irql);
    current_irql = irql;
}
