/*
 * mdl.c - memory descriptor lists. An MDL here only describes a virtual
 * range (StartVa page-aligned, ByteOffset, ByteCount) and its state flags:
 * MDL_PAGES_LOCKED (MmProbeAndLockPages .. MmUnlockPages) and
 * MDL_SOURCE_IS_NONPAGED_POOL (MmBuildMdlForNonPagedPool). The shim counts
 * allocated and locked MDLs and checks the order of the calls: lock once,
 * unlock before IoFreeMdl, map only locked or nonpaged MDLs.
 *
 * Mappings (MmGetSystemAddressForMdlSafe, MmMapLockedPagesSpecifyCache)
 * are counted by whether the caller asked for MdlMappingNoExecute, which
 * Windows 8 introduced: before it (the system played, system.c) the flag is
 * a violation. The provider maps through kshim_mdl_system_address, which
 * is not counted.
 *
 * Pageable or not cannot be known for arbitrary memory, so probing is
 * allowed up to DISPATCH_LEVEL (the rule for nonpaged buffers). Probing
 * never fails (kernel buffers, and gcc has no SEH to raise into); the
 * first and last byte are read so that AddressSanitizer sees a bad buffer.
 */
#include "kshim_internal.h"

#include <stdlib.h>

struct kshim_mdl {
    ULONG magic;
    MDL mdl; /* pointer-aligned after magic */
};

static volatile LONG live_mdls;
static volatile LONG locked_mdls;
static volatile LONG mappings_nx, mappings_executable;

void kshim_mdl_counts(LONG *mdls, LONG *locked)
{
    *mdls = __atomic_load_n(&live_mdls, __ATOMIC_RELAXED);
    *locked = __atomic_load_n(&locked_mdls, __ATOMIC_RELAXED);
}

static void check_irql(const char *who)
{
    if (KeGetCurrentIrql() > DISPATCH_LEVEL)
        kshim_violation("%s at IRQL %u > DISPATCH_LEVEL", who, KeGetCurrentIrql());
}

void kshim_initialize_mdl(PMDL mdl, PVOID va, SIZE_T length)
{
    ULONG_PTR a = (ULONG_PTR)va;
    ULONG_PTR pages = ((a & (PAGE_SIZE - 1)) + length + PAGE_SIZE - 1) >> PAGE_SHIFT;
    SIZE_T size = sizeof(MDL) + pages * sizeof(ULONG_PTR);

    mdl->Next = NULL;
    mdl->Size = (CSHORT)(size > 0x7fff ? 0x7fff : size);
    mdl->MdlFlags = 0;
    mdl->Process = NULL;
    mdl->MappedSystemVa = NULL;
    mdl->StartVa = (PVOID)(a & ~(ULONG_PTR)(PAGE_SIZE - 1));
    mdl->ByteOffset = (ULONG)(a & (PAGE_SIZE - 1));
    mdl->ByteCount = (ULONG)length;
}

/* IoAllocateMdl (wdm.h): IRQL <= DISPATCH_LEVEL; Length up to 4 GiB minus a
 * page (Windows 7 and later); chained to Irp->MdlAddress when Irp is given
 * (SecondaryBuffer: at the end of the chain). */
PMDL IoAllocateMdl(PVOID va, ULONG length, BOOLEAN secondary_buffer, BOOLEAN charge_quota, PIRP irp)
{
    struct kshim_mdl *m;
    (void)charge_quota;
    check_irql("IoAllocateMdl");
    if (length > 0xffffffffu - PAGE_SIZE + 1)
        return NULL;
    if (kshim_fault("mdl.alloc"))
        return NULL;
    m = malloc(sizeof(*m));
    if (m == NULL)
        return NULL;
    m->magic = KSHIM_MAGIC_MDL;
    kshim_initialize_mdl(&m->mdl, va, length);
    m->mdl.MdlFlags = MDL_ALLOCATED_FIXED_SIZE;
    if (irp != NULL) {
        if (secondary_buffer && irp->MdlAddress != NULL) {
            PMDL last = irp->MdlAddress;
            while (last->Next != NULL)
                last = last->Next;
            last->Next = &m->mdl;
        } else {
            irp->MdlAddress = &m->mdl;
        }
    }
    InterlockedIncrement(&live_mdls);
    return &m->mdl;
}

/* IoFreeMdl (wdm.h): the pages must have been unlocked (MmUnlockPages). */
void IoFreeMdl(PMDL mdl)
{
    struct kshim_mdl *m;
    check_irql("IoFreeMdl");
    if (mdl == NULL)
        kshim_violation("IoFreeMdl(NULL)");
    m = CONTAINING_RECORD(mdl, struct kshim_mdl, mdl);
    if (m->magic != KSHIM_MAGIC_MDL)
        kshim_violation("IoFreeMdl(%p): not an MDL from IoAllocateMdl", (void *)mdl);
    if (mdl->MdlFlags & MDL_PAGES_LOCKED)
        kshim_violation("IoFreeMdl(%p) while its pages are locked (MmUnlockPages first)",
                        (void *)mdl);
    m->magic = KSHIM_MAGIC_DEAD;
    InterlockedDecrement(&live_mdls);
    free(m);
}

/* MmProbeAndLockPages (wdm.h): IRQL <= APC_LEVEL for pageable memory,
 * <= DISPATCH_LEVEL for nonpaged; the MDL must not be locked already. */
void MmProbeAndLockPages(PMDL mdl, KPROCESSOR_MODE mode, LOCK_OPERATION operation)
{
    (void)mode;
    check_irql("MmProbeAndLockPages");
    if (operation != IoReadAccess && operation != IoWriteAccess && operation != IoModifyAccess)
        kshim_violation("MmProbeAndLockPages: bad operation %d", (int)operation);
    if (mdl->MdlFlags & (MDL_PAGES_LOCKED | MDL_SOURCE_IS_NONPAGED_POOL))
        kshim_violation("MmProbeAndLockPages(%p): pages already locked or nonpaged", (void *)mdl);
    if (mdl->ByteCount > 0) {
        const volatile UCHAR *p = (const volatile UCHAR *)MmGetMdlVirtualAddress(mdl);
        (void)p[0];
        (void)p[mdl->ByteCount - 1];
    }
    mdl->MdlFlags |= MDL_PAGES_LOCKED;
    InterlockedIncrement(&locked_mdls);
}

/* MmUnlockPages (wdm.h): only for an MDL locked by MmProbeAndLockPages. */
void MmUnlockPages(PMDL mdl)
{
    check_irql("MmUnlockPages");
    if (!(mdl->MdlFlags & MDL_PAGES_LOCKED))
        kshim_violation("MmUnlockPages(%p): the pages are not locked", (void *)mdl);
    mdl->MdlFlags &= (CSHORT) ~(MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA);
    mdl->MappedSystemVa = NULL;
    InterlockedDecrement(&locked_mdls);
}

void MmBuildMdlForNonPagedPool(PMDL mdl)
{
    check_irql("MmBuildMdlForNonPagedPool");
    if (mdl->MdlFlags & MDL_PAGES_LOCKED)
        kshim_violation("MmBuildMdlForNonPagedPool(%p): the pages are locked", (void *)mdl);
    mdl->MdlFlags |= MDL_SOURCE_IS_NONPAGED_POOL;
    mdl->MappedSystemVa = MmGetMdlVirtualAddress(mdl);
}

static void check_usable(PMDL mdl, const char *who)
{
    if (mdl == NULL)
        kshim_violation("%s: NULL MDL", who);
    if (!(mdl->MdlFlags & (MDL_PAGES_LOCKED | MDL_SOURCE_IS_NONPAGED_POOL)))
        kshim_violation("%s: MDL used while its pages are not locked (MDL %p)", who, (void *)mdl);
}

void kshim_mdl_check_locked(PMDL mdl, const char *who)
{
    for (; mdl != NULL; mdl = mdl->Next)
        check_usable(mdl, who);
}

/* Counts a driver's mapping request by its MdlMappingNoExecute flag. */
static void count_mapping(ULONG priority, const char *who)
{
    if ((priority & MdlMappingNoExecute) == 0) {
        InterlockedIncrement(&mappings_executable);
        return;
    }
    if (!kshim_windows_at_least(6, 2, 0))
        kshim_violation("%s: MdlMappingNoExecute on a system before Windows 8, which does not "
                        "accept it",
                        who);
    InterlockedIncrement(&mappings_nx);
}

LONG kshim_mdl_mappings(BOOLEAN no_execute)
{
    return __atomic_load_n(no_execute ? &mappings_nx : &mappings_executable, __ATOMIC_SEQ_CST);
}

void kshim_mdl_mappings_reset(void)
{
    InterlockedExchange(&mappings_nx, 0);
    InterlockedExchange(&mappings_executable, 0);
}

static PVOID map_locked(PMDL mdl, const char *who)
{
    check_irql(who);
    check_usable(mdl, who);
    mdl->MappedSystemVa = MmGetMdlVirtualAddress(mdl);
    mdl->MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA;
    return mdl->MappedSystemVa;
}

/* MmMapLockedPagesSpecifyCache (wdm.h): the MDL must describe locked pages
 * (or nonpaged pool); kernel-mode mappings at IRQL <= DISPATCH_LEVEL. */
PVOID MmMapLockedPagesSpecifyCache(PMDL mdl, KPROCESSOR_MODE mode, int cache_type,
                                   PVOID requested_address, ULONG bug_check_on_failure,
                                   ULONG priority)
{
    (void)cache_type;
    (void)requested_address;
    (void)bug_check_on_failure;
    if (mode != KernelMode)
        kshim_violation("MmMapLockedPagesSpecifyCache: only KernelMode mappings are supported");
    count_mapping(priority, "MmMapLockedPagesSpecifyCache");
    return map_locked(mdl, "MmMapLockedPagesSpecifyCache");
}

/* MmGetSystemAddressForMdlSafe (wdm.h): IRQL <= DISPATCH_LEVEL. A macro on
 * Windows that returns an existing mapping without looking at Priority:
 * the request is counted either way, as the caller wrote it. */
PVOID MmGetSystemAddressForMdlSafe(PMDL mdl, ULONG priority)
{
    count_mapping(priority, "MmGetSystemAddressForMdlSafe");
    check_usable(mdl, "MmGetSystemAddressForMdlSafe");
    if (mdl->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL))
        return mdl->MappedSystemVa;
    return map_locked(mdl, "MmGetSystemAddressForMdlSafe");
}

PVOID kshim_mdl_system_address(PMDL mdl)
{
    check_usable(mdl, "kshim_mdl_system_address");
    if (mdl->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL))
        return mdl->MappedSystemVa;
    return map_locked(mdl, "kshim_mdl_system_address");
}
