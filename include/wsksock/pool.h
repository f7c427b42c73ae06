/*
 * wsksock/pool.h - tagged, zeroed, nonexecutable nonpaged pool for drivers
 * built against any WDK and run on any Windows the library supports.
 *
 * Why not ExAllocatePoolWithTag: WDK 10.0.22621 and later mark it deprecated
 * (an error under a WDK project's default /WX), while ExAllocatePool2 exists
 * only from Windows 10 version 2004 on (and not in Wine). These two calls
 * pick at run time:
 *   - ExAllocatePool2(POOL_FLAG_NON_PAGED) where the system exports it;
 *   - otherwise ExAllocatePoolWithTag(NonPagedPoolNx) on Windows 8 and
 *     later, NonPagedPool on Windows 7 (which has no NX pool),
 * and zero the memory on every path. The choice is made by ks_startup() (at
 * PASSIVE_LEVEL, where MmGetSystemRoutineAddress and RtlGetVersion may be
 * called); before the first ks_startup() ExAllocatePoolWithTag is used, with
 * NonPagedPoolNx when the driver is built for Windows 8 or later
 * (NTDDI_VERSION >= NTDDI_WIN8, the default), else NonPagedPool. Either way
 * the memory is freed by ks_pool_free, which works for both.
 *
 * The library allocates its own objects this way (tags "ksSo", "ksBf",
 * "wskp", ...), so under HVCI it never asks for executable pool, and its
 * MDL mappings add MdlMappingNoExecute on the same systems.
 */
#ifndef WSKSOCK_POOL_H
#define WSKSOCK_POOL_H

#include <stddef.h>

#include <ntddk.h>

#include "sal.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * ks_pool_alloc - allocate size bytes of zeroed nonpaged, nonexecutable pool
 * tagged with tag (four characters, e.g. 'ohce' shows as "echo").
 * IRQL: <= DISPATCH_LEVEL.
 * Returns the memory, or NULL if size is 0 or the pool is exhausted.
 * The caller owns the memory and frees it with ks_pool_free(p, tag).
 */
_IRQL_requires_max_(DISPATCH_LEVEL) _Must_inspect_result_ _Ret_maybenull_
    __drv_allocatesMem(Mem) void *ks_pool_alloc(size_t size, ULONG tag);

/*
 * ks_pool_free - free memory from ks_pool_alloc; tag must be the one it was
 * allocated with. p may be NULL (then nothing happens).
 * IRQL: <= DISPATCH_LEVEL.
 */
_IRQL_requires_max_(DISPATCH_LEVEL) void ks_pool_free(_In_opt_ __drv_freesMem(Mem) void *p,
                                                      ULONG tag);

#ifdef __cplusplus
}
#endif

#endif /* WSKSOCK_POOL_H */
