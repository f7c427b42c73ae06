/*
 * ks_kernel.h - the kernel environment of the library's own sources.
 *
 * Everything the library takes from the kernel comes through this header:
 * <ntddk.h> (the WDK's, mingw-w64's, or the host test bed's user-space shim)
 * and the WSK ABI. Pool allocations go through ks__alloc/ks__free, that is
 * ks_pool_alloc/ks_pool_free (wsksock/pool.h, ks_pool.c), so that each
 * carries a pool tag, is nonexecutable where the system allows it, and the
 * host test bed can account for and fail them.
 */
#ifndef KS_KERNEL_H
#define KS_KERNEL_H

#include <ntddk.h>

#include "wsksock.h"
#include "wsksock/wsk.h"

/* Pool tags, shown by poolmon/!poolused as written here. */
#define KS_TAG(a, b, c, d)                                                                         \
    ((ULONG)(a) | ((ULONG)(b) << 8) | ((ULONG)(c) << 16) | ((ULONG)(d) << 24))
#define KS_TAG_SOCKET KS_TAG('k', 's', 'S', 'o') /* socket objects */
#define KS_TAG_TABLE KS_TAG('k', 's', 'F', 'd')  /* descriptor table */
#define KS_TAG_BUFFER KS_TAG('k', 's', 'B', 'f') /* peek buffers */
#define KS_TAG_MISC KS_TAG('k', 's', 'M', 'i')   /* everything else */
/* name resolution: queries in flight, ks_getaddrinfo's result lists */
#define KS_TAG_RESOLVE KS_TAG('k', 's', 'R', 's')

/* A socket address of a family the library supports (AF_INET, AF_INET6):
 * 28 bytes where SOCKADDR_STORAGE takes 128 (five of them per socket).
 * WSK writes at most the family's size into the ones handed to it. */
typedef union ks_addr {
    SOCKADDR sa;
    SOCKADDR_IN in4;
    SOCKADDR_IN6 in6;
} ks_addr;

/* Nonpaged, nonexecutable, tagged allocation (ks_pool_alloc); NULL on
 * failure or for size 0. Zeroed. */
void *ks__alloc(SIZE_T size, ULONG tag);
void ks__free(void *p, ULONG tag);

/* Chooses the pool allocation path and the MDL mapping flags for the
 * running system (ks_pool.c). PASSIVE_LEVEL: called by ks_startup. */
void ks__pool_choose(void);
/* MmGetSystemAddressForMdlSafe's Priority argument: priority, with
 * MdlMappingNoExecute on Windows 8 and later (Windows 7 does not accept the
 * flag), as ks__pool_choose found. IRQL: <= DISPATCH_LEVEL. */
ULONG ks__mdl_priority(ULONG priority);

/*
 * KS_ASSERT(cond): a precondition or invariant the comments state (a lock
 * held, nothing in flight, a reference count above 0, a state in range).
 *  - Host test bed: always on. A failure is a shim violation
 *    (kshim_assert_failed: "kshim: VIOLATION: assertion failed: <cond>
 *    (<file>:<line>)", exit status 86), so every test run checks them.
 *  - Windows (WDK or mingw-w64) with KS_ASSERTS_ENABLED=1 (CMake option
 *    WSKSOCK_ASSERTS, on in the trees `make build` makes for the tests):
 *    a failure prints "wsksock: assertion failed: <cond> (<file>:<line>)"
 *    and raises an assertion failure (DbgRaiseAssertionFailure, int 2c:
 *    the debugger's "Assertion failure"; without a debugger a bugcheck;
 *    under Wine an unhandled exception that ends the driver's process,
 *    which tools/wskrun reports as a crash).
 *  - Otherwise (a release build; `make bench`): NT_ASSERT, which both kits
 *    define: a DBG=1 build raises the assertion failure, any other build
 *    expands it to nothing and cond is not evaluated.
 * cond must have no side effects. KS_ASSERTS_ON is 1 where KS_ASSERT
 * checks: what exists only to be asserted (a lock's owner) exists only then.
 */
#if defined(KSHIM_ASSERT_FAILED)
#define KS_ASSERTS_ON 1
#define KS_ASSERT(cond) ((cond) ? (void)0 : kshim_assert_failed(__FILE__, __LINE__, #cond))
#elif defined(KS_ASSERTS_ENABLED) && KS_ASSERTS_ENABLED
#define KS_ASSERTS_ON 1
/* Reports the failure and raises it (ks_error.c). */
void ks__assert_failed(_In_z_ const char *file, int line, _In_z_ const char *cond);
#define KS_ASSERT(cond) ((cond) ? (void)0 : ks__assert_failed(__FILE__, __LINE__, #cond))
#else
#if defined(DBG) && DBG
#define KS_ASSERTS_ON 1
#else
#define KS_ASSERTS_ON 0
#endif
#define KS_ASSERT(cond) ((void)NT_ASSERT(cond))
#endif

/* The caller runs at IRQL <= level. Under Wine every driver thread runs at
 * PASSIVE_LEVEL and reading the IRQL is costly (ks__irql_always_passive,
 * below): the check then holds without the read. */
#define KS_ASSERT_IRQL_MAX(level)                                                                  \
    KS_ASSERT(ks__irql_always_passive != 0 || KeGetCurrentIrql() <= (level))
/* The calling thread holds the spin lock: on the host bed exactly (the
 * shim knows each lock's owner); on Windows, which keeps none, that some
 * thread holds it. */
#if defined(KSHIM_ASSERT_FAILED)
#define KS_ASSERT_SPIN_HELD(lock) KS_ASSERT(kshim_spin_lock_held(lock))
#else
#define KS_ASSERT_SPIN_HELD(lock) KS_ASSERT(*(lock) != 0)
#endif

/*
 * Nonzero when the kernel is Wine's ntoskrnl.exe (ks_irql.c, at
 * ks_startup): there driver code always runs at PASSIVE_LEVEL (the IRQL
 * Wine emulates always reads 0), while reading it is expensive:
 * KeGetCurrentIrql is `mov %cr8`, a privileged instruction that faults in
 * user mode and is emulated by Wine's exception handler (about 15 us, two
 * per round trip; bench/PERF-NOTES.md). Written only by ks_startup with an
 * interlocked exchange, read with one volatile load; its value never
 * changes on a given system, so a reader needs no lock.
 */
extern volatile LONG ks__irql_always_passive;
/* Looks the system up (PASSIVE_LEVEL; ks_startup). */
void ks__irql_choose(void);

/* TRUE if the caller may block (PASSIVE_LEVEL). IRQL: any. */
static inline BOOLEAN ks__can_block(void)
{
    return ks__irql_always_passive != 0 || KeGetCurrentIrql() == PASSIVE_LEVEL;
}

/* Relative timeout in 100 ns units for KeWaitFor*, from milliseconds. */
static inline LARGE_INTEGER ks__relative_ms(ULONG ms)
{
    LARGE_INTEGER t;
    t.QuadPart = -(LONGLONG)ms * 10000;
    return t;
}

/* The decimal text of v in buf (room for 11 bytes), NUL-terminated; its
 * length. IRQL: any (ks_inet.c). */
int ks__decimal(ULONG v, _Out_writes_z_(11) char *buf);

/* Value of a hexadecimal digit (either case), or -1. IRQL: any. */
static inline int ks__hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Length of a NUL-terminated string (no C runtime in the kernel's
 * imports is relied on). IRQL: any, for nonpaged text. */
static inline size_t ks__text_length(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0')
        n++;
    return n;
}

/* Map an NTSTATUS from WSK or the kernel to a negative errno value (and
 * a ks__errno_status back to its errno). */
int ks__status_to_errno(NTSTATUS status);

/* The library's own negative errno err (not 0) as an NTSTATUS, for code
 * that returns NTSTATUS: the ks_sock_wsk_* requests pass on so the errno
 * their in-call bracket (ks__call_enter) refused with. An error status with
 * the customer bit set (0xE0000000 | -err), which Windows and WSK never
 * return; ks__status_to_errno (so ks__sock_error) gives err back. It never
 * leaves the library. IRQL: any. */
static inline NTSTATUS ks__errno_status(int err)
{
    return (NTSTATUS)(0xE0000000u | ((ULONG)-err & 0xFFFFu));
}

#endif /* KS_KERNEL_H */
