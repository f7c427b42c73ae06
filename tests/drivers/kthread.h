/*
 * kthread.h - system threads of the benchmark drivers (ksbench, raw-echo):
 * start one keeping a referenced thread object, join it with a bound, or at
 * the unload without one (returning before the thread ended would unmap
 * code it still runs). Header-only, for raw-echo, which runs on WSK
 * without the library; drivers on the library (the examples, kecho, ktest)
 * use ks_thread_start/ks_thread_join (wsksock/thread.h) instead.
 */
#ifndef KTHREAD_H
#define KTHREAD_H

#include <ntddk.h>

/* Starts fn(ctx) on a system thread; *obj: its referenced thread object. */
static inline NTSTATUS kd_thread_start(PKSTART_ROUTINE fn, void *ctx, PVOID *obj)
{
    HANDLE h;
    NTSTATUS st = PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, fn, ctx);

    if (!NT_SUCCESS(st))
        return st;
    /* NULL object type: mingw's PsThreadType is a dllimport'ed pointer. */
    st = ObReferenceObjectByHandle(h, THREAD_ALL_ACCESS, NULL, KernelMode, obj, NULL);
    ZwClose(h);
    return st;
}

/* Waits for a thread object; TRUE once it ended (ms 0: just poll). */
static inline BOOLEAN kd_thread_join(PVOID obj, ULONG ms)
{
    LARGE_INTEGER t;

    t.QuadPart = -(LONGLONG)ms * 10000;
    return KeWaitForSingleObject(obj, Executive, KernelMode, FALSE, &t) == STATUS_SUCCESS;
}

/* Waits without bound, logging "<driver>: unload: still waiting for
 * <what>" every 5 s, then drops the reference. */
static inline void kd_thread_join_forever(PVOID obj, const char *driver, const char *what)
{
    while (!kd_thread_join(obj, 5000))
        DbgPrint("%s: unload: still waiting for %s\n", driver, what);
    ObDereferenceObject(obj);
}

#endif /* KTHREAD_H */
