/*
 * kshim_internal.h - what the shim's files share and nobody else may use:
 * the object header behind handles, the thread object, the dispatcher lock,
 * the per-thread identity, and each module's contribution to the leak
 * report. Public declarations are in ntddk.h (the kernel API) and kshim.h
 * (the test controls).
 */
#ifndef KSHIM_INTERNAL_H
#define KSHIM_INTERNAL_H

/* POSIX and GNU extensions (strndup, clock_nanosleep, sched_getcpu, ...):
 * defined before the first system header, which ntddk.h includes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <kshim.h>

#include <pthread.h>

/* Magic values: 4 ASCII characters, recognisable in a debugger. */
#define KSHIM_MAGIC_DISPATCHER 0x4b446973u /* "KDis": initialised dispatcher object */
#define KSHIM_MAGIC_OBJECT 0x4b4f626au     /* "KObj": handle-named object */
#define KSHIM_MAGIC_POOL 0x4b506f6fu       /* "KPoo": live pool block */
#define KSHIM_MAGIC_IRP 0x4b497270u        /* "KIrp": live IRP */
#define KSHIM_MAGIC_MDL 0x4b4d646cu        /* "KMdl": MDL from IoAllocateMdl */
#define KSHIM_MAGIC_DEAD 0xdeadbeefu       /* freed shim structure */

/* Lazy, once-only initialisation (environment, seed, atexit report). */
void kshim_lazy_init(void);

/* ---- per-thread identity (thread.c) ---- */
/* Unique non-zero id of the calling thread (multiple of 4, as Windows'). */
ULONG_PTR kshim_thread_id(void);

/* ---- objects named by handles (thread.c) ---- */
enum kshim_object_kind { KSHIM_KIND_THREAD = 1, KSHIM_KIND_KEY = 2, KSHIM_KIND_FILE = 3 };
struct kshim_object {
    /* First, so that a thread object is also a dispatcher object. */
    DISPATCHER_HEADER Header;
    ULONG magic; /* KSHIM_MAGIC_OBJECT */
    int kind;
    LONG refs;
    void (*destroy)(struct kshim_object *object);
};
/* Creates a handle to object (taking one reference for the handle). */
HANDLE kshim_handle_create(struct kshim_object *object);
/* The object a handle names (no reference taken), or NULL. */
struct kshim_object *kshim_handle_lookup(HANDLE handle);

struct _KTHREAD {
    struct kshim_object ob;
    ULONG_PTR id;
    BOOLEAN system;
    PKSTART_ROUTINE start;
    PVOID context;
};

/* ---- stacks (stack.c) ---- */
/* TRUE while the calling thread runs a KeExpandKernelStackAndCallout callout. */
BOOLEAN kshim_stack_in_callout(void);

/* ---- dispatcher (dispatcher.c) ---- */
/* The one lock of every dispatcher object's state, and the condition that
 * is broadcast on every state change (waiters re-check). */
void kshim_dispatcher_lock(void);
void kshim_dispatcher_unlock(void);
void kshim_dispatcher_broadcast(void);
/* Waits on the condition (lock held) until the CLOCK_MONOTONIC deadline in
 * ns (0 = forever); FALSE when the deadline passed. */
BOOLEAN kshim_dispatcher_wait(ULONGLONG deadline_ns);
/* Makes a dispatcher header of the given type and state. */
void kshim_dispatcher_init_header(DISPATCHER_HEADER *header, LONG type, LONG state);

/* ---- time (time.c) ---- */
ULONGLONG kshim_monotonic_ns(void);

/* ---- leak report and statistics: each module's part ---- */
int kshim_pool_report(const char *when);
void kshim_pool_stats(struct kshim_stats *stats);
LONG kshim_irp_count(void);
void kshim_mdl_counts(LONG *mdls, LONG *locked);
void kshim_thread_counts(LONG *threads, LONG *handles);
int kshim_counters_report(const char *when);

/* ---- text (rtl.c) ---- */
/* n UTF-16 units (or up to the terminator if n is (size_t)-1) as a
 * malloc'd UTF-8 string; unpaired surrogates become U+FFFD. NULL only when
 * out of memory. */
char *kshim_utf16_to_utf8(const WCHAR *s, size_t n);
/* A UTF-8 string as malloc'd UTF-16 with a terminator; *units (optional)
 * receives the length without it. NULL on invalid UTF-8 or no memory. */
WCHAR *kshim_utf8_to_utf16(const char *s, size_t *units);

/* ---- the system played (system.c) ---- */
/* TRUE if the Windows version played is major.minor.build or later. */
BOOLEAN kshim_windows_at_least(ULONG major, ULONG minor, ULONG build);
/* TRUE if the system played exports ExAllocatePool2. */
BOOLEAN kshim_pool2_exported(void);

/* ---- DbgPrint (dbgprint.c) ---- */
/* Emits the calling thread's unfinished DbgPrint line, if any. */
void kshim_dbgprint_flush_thread(void);

/* ---- lock order (lockorder.c) ---- */
/* KeInitializeSpinLock at pc: the lock's class is that site's. */
void kshim_lockorder_spin_init(const void *lock, void *pc);
/* Before a spin lock is acquired at pc (fp: the caller's frame): the order
 * checks, then the lock counts as held by the calling thread. */
void kshim_lockorder_spin_acquire(const void *lock, void *pc, void *fp);
void kshim_lockorder_spin_release(const void *lock);
/* Violation if the calling thread holds a spin lock (who: the wait). */
void kshim_lockorder_check_wait(const char *who);
/* A pool block goes: violation if the caller holds a lock in it; its locks'
 * classes are forgotten. */
void kshim_lockorder_forget(const void *p, size_t size);

#endif /* KSHIM_INTERNAL_H */
