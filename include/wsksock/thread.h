/*
 * wsksock/thread.h - system threads a driver starts and joins.
 *
 * Every driver that runs a socket loop needs a system thread, and the
 * common idiom (PsCreateSystemThread, ObReferenceObjectByHandle(h,
 * SYNCHRONIZE, *PsThreadType, ...), ZwClose, KeWaitForSingleObject,
 * ObDereferenceObject) has two traps: built with mingw-w64, `*PsThreadType`
 * (a dllimport'ed data pointer, declared differently from the WDK's
 * header) reads a wrong value and the reference page-faults (issue 14);
 * and returning from DriverUnload before a thread ended unmaps code the
 * thread still runs. ks_thread_start and ks_thread_join do it once, the
 * same way under the WDK, mingw-w64 (Wine) and the host test bed.
 *
 * A ks_thread is the library's record of one started thread: it holds a
 * reference to the thread object, so the thread can be waited for even
 * after it ended. It is allocated with ks_pool_alloc under the tag
 * KS_THREAD_POOL_TAG ("ksTh") and freed by the join that sees the thread
 * end. Every started thread must be joined exactly once.
 *
 * These calls need neither ks_startup() nor ks_cleanup(), and ks_cleanup()
 * does not join these threads: it wakes a thread blocked in a socket call
 * (the call returns -EBADF or -ENETDOWN) but does not wait for the thread
 * to end. The driver joins every thread it started before DriverUnload
 * returns: it stops them (closes their sockets, sets its own flag) and
 * joins them before ks_cleanup(), or calls ks_cleanup() first to wake them
 * and joins them after it.
 */
#ifndef WSKSOCK_THREAD_H
#define WSKSOCK_THREAD_H

#include <ntddk.h>

#include "errno.h"
#include "sal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Pool tag of the ks_thread records: "ksTh" as seen in a pool dump. */
#define KS_THREAD_POOL_TAG                                                                         \
    ((ULONG)'k' | ((ULONG)'s' << 8) | ((ULONG)'T' << 16) | ((ULONG)'h' << 24))

/* A started thread (opaque). */
struct ks_thread;

/* The routine a thread runs: it ends when the routine returns (it may also
 * call PsTerminateSystemThread). */
typedef void ks_thread_routine(void *context);

/*
 * ks_thread_start - start routine(context) on a new system thread (in the
 * system process, at PASSIVE_LEVEL).
 * IRQL: PASSIVE_LEVEL.
 * On success returns 0 and stores in *out the thread's record, which the
 * caller owns and must pass to ks_thread_join (once). context stays owned
 * by the caller; it must stay valid for as long as the routine uses it.
 * Errors (*out is then NULL when out is not NULL; no thread runs):
 *   -EINVAL  out or routine is NULL;
 *   -EPERM   called above PASSIVE_LEVEL;
 *   -ENOMEM  the record could not be allocated, or the system could not
 *            create the thread (out of resources);
 *   other negative errno values for other failures of PsCreateSystemThread.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_thread_start(
    _Out_ struct ks_thread **out, _In_ ks_thread_routine *routine, _In_opt_ void *context);

/*
 * ks_thread_join - wait until the thread ended, then release it (its
 * record and the reference to its thread object; t is invalid afterwards).
 * IRQL: PASSIVE_LEVEL.
 * Returns 0 once the thread ended and t is freed, or (t untouched, still to
 * be joined):
 *   -EDEADLK  called on the thread t itself (it would never end);
 *   -EINVAL   t is NULL;
 *   -EPERM    called above PASSIVE_LEVEL.
 */
_IRQL_requires_max_(PASSIVE_LEVEL) int ks_thread_join(_In_ struct ks_thread *t);

/*
 * ks_thread_join_timeout - ks_thread_join waiting at most timeout_ms
 * milliseconds (0: only look; negative: no bound, as ks_thread_join).
 * IRQL: PASSIVE_LEVEL.
 * Returns what ks_thread_join returns, or -ETIMEDOUT if the thread is still
 * running after timeout_ms (t is then untouched, still to be joined): for
 * reaping threads that ended, or logging while an unload waits.
 */
_IRQL_requires_max_(PASSIVE_LEVEL) int ks_thread_join_timeout(_In_ struct ks_thread *t,
                                                              int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* WSKSOCK_THREAD_H */
