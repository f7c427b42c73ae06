/*
 * kshim.h - controls of the host test bed's kernel shim, for test programs,
 * the host runner and the WSK provider (never for the library itself).
 *
 * Accounting: the shim counts live pool allocations (per tag), IRPs, MDLs,
 * locked MDLs, system threads and handles; the provider adds its own named
 * counters (open WSK sockets, ...). kshim_check_leaks() reports what is
 * still alive.
 *
 * Fault injection: every place that can fail on Windows for lack of
 * resources or through the network calls kshim_fault("<site>"). When the
 * environment names a site and an occurrence (KSHIM_FAULT=site:N), the N-th
 * call for that site (1-based, counted over the whole process) returns TRUE
 * and the caller fails as documented for that site. KSHIM_FAULT_REPORT=path
 * makes the shim write, at exit, one line "site count" per site reached, so
 * a driver of fault runs knows what to enumerate.
 *
 * Violations of kernel rules end the process with a message on stderr that
 * starts with "kshim: VIOLATION:" and exit status 86 (see KSHIM_EXIT_VIOLATION).
 */
#ifndef KSHIM_H
#define KSHIM_H

#include <ntddk.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KSHIM_EXIT_VIOLATION 86

/* Object types in DISPATCHER_HEADER.Type. */
enum {
    KSHIM_OBJ_NOTIFICATION_EVENT = 0,
    KSHIM_OBJ_SYNCHRONIZATION_EVENT = 1,
    KSHIM_OBJ_MUTEX = 2,
    KSHIM_OBJ_SEMAPHORE = 5,
    KSHIM_OBJ_THREAD = 6,
};

/* Sets up the shim for the calling (main) thread: PASSIVE_LEVEL, reads
 * KSHIM_FAULT / KSHIM_FAULT_REPORT / KSHIM_SEED. Idempotent. */
void kshim_init(void);

/* Ends the process with a violation message (printf format). */
__attribute__((noreturn, format(printf, 1, 2))) void kshim_violation(const char *fmt, ...);

/* ---- fault injection ---- */
/* Counts one occurrence of site; TRUE if this one must fail. Thread-safe. */
BOOLEAN kshim_fault(const char *site);
/* The configured fault ("site", occurrence) or NULL/0; and whether it fired. */
const char *kshim_fault_site(ULONG *occurrence);
BOOLEAN kshim_fault_fired(void);
/* Writes the per-site counts now (also done at exit). */
void kshim_fault_write_report(void);

/* ---- randomness for the provider's completion mix ---- */
/* Seed from KSHIM_SEED (printed by whoever starts the test), or chosen. */
ULONG kshim_seed(void);
/* Thread-safe pseudo-random number from the seed. */
ULONG kshim_random(void);

/* ---- accounting ---- */
/* Adds delta to the named counter (the name must be a string literal). */
void kshim_count(const char *name, LONG delta);
LONG kshim_counter(const char *name);

struct kshim_stats {
    LONG pool_allocations;
    SIZE_T pool_bytes;
    SIZE_T pool_bytes_nonpaged;
    LONG irps;
    LONG mdls;
    LONG locked_mdls;
    LONG threads; /* system threads still running */
    LONG handles;
};
void kshim_get_stats(struct kshim_stats *stats);
/* Live nonpaged bytes allocated with this tag. */
SIZE_T kshim_pool_bytes_by_tag(ULONG tag);
/* Prints every live object ("kshim: LEAK ..." lines, one per pool tag and
 * per counter) and returns how many kinds leaked (0 = clean). */
int kshim_check_leaks(const char *when);

/* ---- IRQL ---- */
/* Sets the calling thread's IRQL (for provider threads that complete IRPs
 * at DISPATCH_LEVEL, and for tests). */
void kshim_set_irql(KIRQL irql);

/* ---- DbgPrint ---- */
/* Called with each complete DbgPrint line (without the newline), in
 * addition to printing it on stdout. */
typedef void kshim_log_hook(const char *line, void *context);
void kshim_set_log_hook(kshim_log_hook *hook, void *context);

/* ---- registry ---- */
/* Sets a value under an absolute key path (ASCII, e.g.
 * "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\ktest\\Parameters").
 * The key is created. type is REG_SZ (data: UTF-8 text, stored as UTF-16
 * with its terminator), REG_DWORD (data: 4 bytes), or any other (raw). */
int kshim_registry_set(const char *key_path, const char *value_name, ULONG type, const void *data,
                       ULONG length);
/* Or'ed into kshim_registry_set's type: the data is stored as given, for
 * any type (REG_SZ as raw UTF-16LE, which may then be invalid). */
#define KSHIM_REG_RAW 0x80000000u
/* Creates an empty key. */
int kshim_registry_create_key(const char *key_path);
void kshim_registry_clear(void);

/* ---- files ---- */
/* ZwCreateFile reads the Linux file system (ntddk.h): "\??\Z:\dir\file" is
 * /dir/file, "\??\C:\dir\file" is $KSHIM_DRIVE_C/dir/file when the
 * environment names a directory there (read at each open), else
 * STATUS_OBJECT_PATH_NOT_FOUND. */

/* ---- pool ---- */
/* TRUE: untagged ExAllocatePool is a violation (default FALSE). */
void kshim_strict_tags(BOOLEAN on);
/* How a block was allocated: the API and the kind of pool it asked for. */
enum kshim_pool_kind {
    KSHIM_POOL_WITH_TAG_NX,      /* ExAllocatePoolWithTag(NonPagedPoolNx...) */
    KSHIM_POOL_WITH_TAG_EXECUTE, /* ExAllocatePoolWithTag(NonPagedPool...): executable */
    KSHIM_POOL_WITH_TAG_PAGED,   /* ExAllocatePoolWithTag(PagedPool...) */
    KSHIM_POOL_POOL2_NON_PAGED,  /* ExAllocatePool2(POOL_FLAG_NON_PAGED): nonexecutable */
    KSHIM_POOL_POOL2_EXECUTE,    /* ExAllocatePool2(POOL_FLAG_NON_PAGED_EXECUTE) */
    KSHIM_POOL_POOL2_PAGED,      /* ExAllocatePool2(POOL_FLAG_PAGED) */
    KSHIM_POOL_UNTAGGED,         /* ExAllocatePool */
    KSHIM_POOL_KINDS
};
/* Allocations of that kind with that tag (0: every tag) since the start or
 * the last kshim_pool_kinds_reset; failed ones (faults) are not counted. */
LONG kshim_pool_kind_count(ULONG tag, enum kshim_pool_kind kind);
void kshim_pool_kinds_reset(void);
/* The kind of the live block p, or -1 if p is not a live pool block. */
int kshim_pool_kind_of(const void *p);

/* ---- the system played (ntddk.h: RtlGetVersion, MmGetSystemRoutineAddress) ---- */
/* The version RtlGetVersion reports; default 10.0.22621, or the environment's
 * KSHIM_WINDOWS=major.minor.build (e.g. 6.1.7601: Windows 7). */
void kshim_set_windows_version(ULONG major, ULONG minor, ULONG build);
/* FALSE hides ExAllocatePool2 (as Wine does) even where the version has it;
 * default TRUE, or FALSE with the environment's KSHIM_NO_POOL2=1. */
void kshim_set_pool2_exported(BOOLEAN exported);
/* TRUE plays Wine's ntoskrnl.exe as far as a driver can tell: the export
 * wine_ntoskrnl_main_loop is found (the IRQL stays real). Default FALSE, or
 * TRUE with the environment's KSHIM_WINE=1. */
void kshim_set_wine_kernel(BOOLEAN wine);

/* ---- IRPs and MDLs (for the provider) ---- */
/* The driver below takes an IRP it received (the provider calls this first,
 * before looking at the IRP): checks that it is a live IRP, not already in
 * flight ("IRP reused while in flight") and has a stack location for the
 * callee; then IoSetNextIrpStackLocation (the caller's location, with its
 * completion routine, becomes current) and marks it in flight. Until
 * IoCompleteRequest, IoFreeIrp / IoReuseIrp / another send are violations. */
void kshim_irp_take(PIRP irp);
/* Violation ("<who>: MDL used while its pages are not locked") unless every
 * MDL of the chain is locked (MmProbeAndLockPages) or built for nonpaged
 * pool; for the provider to check a client's buffers, e.g. at completion. */
void kshim_mdl_check_locked(PMDL mdl, const char *who);
/* The system address of a locked or nonpaged MDL as the system itself maps
 * it (the provider's copies): not counted by kshim_mdl_mappings. */
PVOID kshim_mdl_system_address(PMDL mdl);
/* Drivers' MmGetSystemAddressForMdlSafe / MmMapLockedPagesSpecifyCache
 * calls whose priority had MdlMappingNoExecute (no_execute TRUE) or not,
 * since the start or the last kshim_mdl_mappings_reset. */
LONG kshim_mdl_mappings(BOOLEAN no_execute);
void kshim_mdl_mappings_reset(void);

/* ---- threads ---- */
/* Waits up to ms for every system thread to end; TRUE if none is left. */
BOOLEAN kshim_wait_threads(ULONG ms);

/* ---- lock order (lockorder.c; the library's hooks are in ntddk.h) ---- */
/* TRUE unless the environment's KSHIM_LOCKORDER=0 turned the checker off.
 * On: an acquisition that closes a cycle in the order of lock classes, two
 * locks of one class nested (without kshim_lock_nest), a wait or a sleeping
 * lock while holding a spin lock, and a pool block freed while the freeing
 * thread holds a lock in it are violations ("kshim: VIOLATION: lock order
 * inversion: ...", "... two locks of the class ...", "... while holding the
 * spin lock ..."). */
BOOLEAN kshim_lockorder_enabled(void);

#ifdef __cplusplus
}
#endif

#endif /* KSHIM_H */
