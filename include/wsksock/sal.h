/*
 * wsksock/sal.h - the SAL annotations wsksock's headers use, on every
 * toolchain.
 *
 * The public functions carry IRQL and buffer annotations (_IRQL_requires_max_,
 * _In_reads_bytes_(len), ...) and the library's internal headers lock
 * annotations, so that the WDK's Code Analysis (/analyze) checks callers and
 * the library against what the comments say. The annotations change nothing
 * else: outside /analyze they expand to nothing.
 *
 *  - MSVC or clang-cl (_MSC_VER), and whenever WSKSOCK_USE_WDK_HEADERS is
 *    defined: the kit's own <sal.h> and <driverspecs.h> (the shared folder
 *    of the WDK or SDK). Without _PREFAST_ (that is, without /analyze) the
 *    kit defines every annotation as empty, _Must_inspect_result_ included:
 *    it never becomes a compiler attribute such as warn_unused_result.
 *  - mingw-w64: its <sal.h> and <driverspecs.h>, which define them (as empty)
 *    too; included first, so that <ntddk.h> included later finds them done.
 *  - anything else (the Linux host test bed): nothing to include.
 * Then each annotation used by wsksock that is still undefined is defined as
 * empty. The list below is the whole set: a header of wsksock uses no other.
 */
#ifndef WSKSOCK_SAL_H
#define WSKSOCK_SAL_H

#if defined(_MSC_VER) || defined(__MINGW32__) || defined(WSKSOCK_USE_WDK_HEADERS)
#include <sal.h>
#include <driverspecs.h>
#endif

/* IRQL (driverspecs.h). */
#ifndef _IRQL_requires_max_
#define _IRQL_requires_max_(irql)
#endif
#ifndef _IRQL_requires_
#define _IRQL_requires_(irql)
#endif

/* Parameters (sal.h). */
#ifndef _In_
#define _In_
#endif
#ifndef _In_opt_
#define _In_opt_
#endif
#ifndef _In_z_
#define _In_z_
#endif
#ifndef _In_opt_z_
#define _In_opt_z_
#endif
#ifndef _In_reads_
#define _In_reads_(size)
#endif
#ifndef _In_reads_bytes_
#define _In_reads_bytes_(size)
#endif
#ifndef _In_reads_bytes_opt_
#define _In_reads_bytes_opt_(size)
#endif
#ifndef _Out_
#define _Out_
#endif
#ifndef _Out_opt_
#define _Out_opt_
#endif
#ifndef _Out_writes_
#define _Out_writes_(size)
#endif
#ifndef _Out_writes_z_
#define _Out_writes_z_(size)
#endif
#ifndef _Out_writes_opt_
#define _Out_writes_opt_(size)
#endif
#ifndef _Out_writes_opt_z_
#define _Out_writes_opt_z_(size)
#endif
#ifndef _Out_writes_bytes_
#define _Out_writes_bytes_(size)
#endif
#ifndef _Out_writes_bytes_opt_
#define _Out_writes_bytes_opt_(size)
#endif
#ifndef _Outptr_
#define _Outptr_
#endif
#ifndef _Inout_
#define _Inout_
#endif
#ifndef _Inout_opt_
#define _Inout_opt_
#endif
#ifndef _Inout_updates_
#define _Inout_updates_(size)
#endif
#ifndef _At_
#define _At_(target, annos)
#endif
#ifndef _When_
#define _When_(expr, annos)
#endif

/* Results (sal.h). */
#ifndef _Must_inspect_result_
#define _Must_inspect_result_
#endif
#ifndef _Success_
#define _Success_(expr)
#endif
#ifndef _Ret_maybenull_
#define _Ret_maybenull_
#endif
#ifndef _Ret_z_
#define _Ret_z_
#endif

/* Memory ownership (driverspecs.h). */
#ifndef __drv_allocatesMem
#define __drv_allocatesMem(kind)
#endif
#ifndef __drv_freesMem
#define __drv_freesMem(kind)
#endif

/* Locks (concurrencysal.h, included by sal.h). */
#ifndef _Acquires_lock_
#define _Acquires_lock_(lock)
#endif
#ifndef _Releases_lock_
#define _Releases_lock_(lock)
#endif
#ifndef _Requires_lock_held_
#define _Requires_lock_held_(lock)
#endif
#ifndef _Requires_lock_not_held_
#define _Requires_lock_not_held_(lock)
#endif

#endif /* WSKSOCK_SAL_H */
