/*
 * ks_pool.c - ks_pool_alloc/ks_pool_free (include/wsksock/pool.h): tagged,
 * zeroed, nonexecutable nonpaged pool on every Windows the library runs on,
 * and MmGetSystemAddressForMdlSafe's MdlMappingNoExecute by the same rule.
 */

/* The pool types are named exactly here (NonPagedPoolNx or NonPagedPool,
 * chosen at run time): no NX opt-in remapping of NonPagedPool (a WDK build
 * sets POOL_NX_OPTIN), and the tagged ExAllocatePoolWithTag, not the WDK's
 * untagged alias. */
#define POOL_NX_OPTOUT 1
#ifndef POOL_TAGGING
#define POOL_TAGGING 1
#endif

#include "ks_kernel.h"

/* WDK 10.0.19041 and later define them; mingw-w64's headers do not. */
#ifndef POOL_FLAG_NON_PAGED
#define POOL_FLAG_NON_PAGED 0x0000000000000040ULL /* nonpaged, nonexecutable */
#endif
#ifndef MdlMappingNoExecute
#define MdlMappingNoExecute 0x40000000
#endif

/* ExAllocatePool2, declared here: mingw-w64's headers and Wine lack it,
 * and it is looked up (MmGetSystemRoutineAddress), never imported, so that
 * a driver still loads where the system does not export it. Zeroed unless
 * POOL_FLAG_UNINITIALIZED. */
typedef PVOID NTAPI ks_pool2_fn(ULONG64 flags, SIZE_T size, ULONG tag);

/* Before the first ks_startup the system is not known yet. A driver built
 * for Windows 8 or later (NTDDI_VERSION >= NTDDI_WIN8: the default of
 * mingw-w64, of cmake/wdk.cmake and of the host bed) takes NonPagedPoolNx,
 * which such systems all have; a build for Windows 7 takes NonPagedPool,
 * the one nonpaged type Windows 7 accepts. */
#if defined(NTDDI_VERSION) && defined(NTDDI_WIN8) && NTDDI_VERSION >= NTDDI_WIN8
#define KS_POOL_TYPE_BEFORE_STARTUP NonPagedPoolNx
#else
#define KS_POOL_TYPE_BEFORE_STARTUP NonPagedPool
#endif

/*
 * The choice, made by ks__pool_choose (from ks_startup, PASSIVE_LEVEL) and
 * read by every allocation and mapping at any IRQL <= DISPATCH_LEVEL. The
 * rule that makes those reads safe without a lock: each is one aligned
 * machine word, written only by an interlocked exchange and read by a
 * single volatile load, and each value on its own is right for the running
 * system (a system that exports ExAllocatePool2 has NX pool too), so a
 * reader never needs the two to agree. Every ks_startup writes them again,
 * with the same values on a given system.
 *   g_pool2      ExAllocatePool2, or NULL: not exported (before Windows 10
 *                version 2004; Wine) or not looked up yet;
 *   g_pool_type  ExAllocatePoolWithTag's type when g_pool2 is NULL, and
 *                whether the system takes MdlMappingNoExecute:
 *                NonPagedPoolNx from Windows 8 on, NonPagedPool before.
 */
static PVOID volatile g_pool2;
static volatile LONG g_pool_type = (LONG)KS_POOL_TYPE_BEFORE_STARTUP;

/* RtlGetVersion rather than RtlIsNtDdiVersionAvailable: Windows 7's kernel
 * does not export the latter (an import of it would keep the driver from
 * loading there), and mingw-w64 maps it to a WDK library function. */
static BOOLEAN windows_8_or_later(void)
{
    RTL_OSVERSIONINFOW v;
    RtlZeroMemory(&v, sizeof(v));
    v.dwOSVersionInfoSize = sizeof(v);
    if (!NT_SUCCESS(RtlGetVersion(&v)))
        return FALSE; /* NonPagedPool: accepted by every version */
    return v.dwMajorVersion > 6 || (v.dwMajorVersion == 6 && v.dwMinorVersion >= 2);
}

void ks__pool_choose(void)
{
    UNICODE_STRING name;
    PVOID pool2;
    RtlInitUnicodeString(&name, L"ExAllocatePool2");
    pool2 = MmGetSystemRoutineAddress(&name);
    InterlockedExchange(&g_pool_type, (LONG)(windows_8_or_later() ? NonPagedPoolNx : NonPagedPool));
    InterlockedExchangePointer((PVOID volatile *)&g_pool2, pool2);
}

/*
 * The one call of ExAllocatePoolWithTag: the fallback for systems without
 * ExAllocatePool2 (before Windows 10 version 2004, and Wine). WDK 10.0.22621
 * declares it deprecated, which a driver build's warnings-as-errors would
 * reject; the warning is silenced for this call alone.
 */
static PVOID allocate_with_tag(POOL_TYPE type, SIZE_T size, ULONG tag)
{
    PVOID p;
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
#elif defined(_MSC_VER)
#pragma warning(push)
#pragma warning(disable : 4996)
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
    p = ExAllocatePoolWithTag(type, size, tag);
#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(_MSC_VER)
#pragma warning(pop)
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
    return p;
}

void *ks_pool_alloc(size_t size, ULONG tag)
{
    PVOID pool2 = g_pool2;
    PVOID p;
    if (size == 0)
        return NULL;
    if (pool2 != NULL) /* zeroed: no POOL_FLAG_UNINITIALIZED */
        return ((ks_pool2_fn *)(ULONG_PTR)pool2)(POOL_FLAG_NON_PAGED, size, tag);
    p = allocate_with_tag((POOL_TYPE)g_pool_type, size, tag);
    if (p != NULL)
        RtlZeroMemory(p, size);
    return p;
}

void ks_pool_free(void *p, ULONG tag)
{
    /* ExFreePoolWithTag frees either path's blocks (and is not deprecated). */
    if (p != NULL)
        ExFreePoolWithTag(p, tag);
}

ULONG ks__mdl_priority(ULONG priority)
{
    return g_pool_type == (LONG)NonPagedPoolNx ? priority | MdlMappingNoExecute : priority;
}
