/*
 * ntddk.h - the host test bed's kernel shim: the part of the Windows kernel
 * API that wsksock, its examples and its test drivers use, declared for a
 * native Linux (x86_64) build and implemented in user space by hostbed/kshim.
 *
 * Names, types, parameter order and documented semantics follow the WDK
 * (learn.microsoft.com/windows-hardware/drivers/ddi/wdm/ and ntddk/); the
 * x64 "LLP64" widths are kept (LONG and ULONG are 32 bits), so code written
 * for Windows compiles unchanged. Wide strings need -fshort-wchar (WCHAR is
 * 16 bits, as L"" literals then are).
 *
 * What the shim adds to Windows: it checks the kernel rules the WDK
 * documents and Windows only enforces with a bugcheck or a hang, and ends
 * the process with "kshim: VIOLATION: ..." when one is broken (waiting above
 * APC_LEVEL, paged pool above APC_LEVEL, an untagged allocation, freeing with
 * the wrong tag, reusing or freeing an IRP the provider still owns, freeing
 * a locked MDL, a recursive spin lock, ...). Test-side controls (accounting,
 * leak checks, fault injection) are in kshim.h.
 */
#ifndef KSHIM_NTDDK_H
#define KSHIM_NTDDK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- calling conventions and annotations (no-ops on x86_64 Linux) ---- */
#define NTAPI
#define NTSYSAPI
#define NTKERNELAPI
#define FASTCALL
#define WINAPI
#define __stdcall
#define __cdecl
#define IN
#define OUT
#define OPTIONAL
#define CONST const
#define VOID void
#define UNREFERENCED_PARAMETER(p) ((void)(p))
#define DBG_UNREFERENCED_PARAMETER(p) ((void)(p))
#define ANYSIZE_ARRAY 1
#define DECLSPEC_NOINLINE __attribute__((noinline))

/* ---- basic types (LLP64 widths, as on Windows x64) ---- */
typedef void *PVOID, **PPVOID;
typedef const void *PCVOID;
typedef char CHAR, CCHAR, *PCHAR, *PSTR, *PSZ;
typedef const char *PCSTR, *PCSZ;
typedef unsigned char UCHAR, *PUCHAR, BYTE, *PBYTE;
typedef UCHAR BOOLEAN, *PBOOLEAN;
typedef int16_t SHORT, CSHORT, *PSHORT;
typedef uint16_t USHORT, *PUSHORT, WORD;
typedef int32_t LONG, *PLONG, INT, *PINT;
typedef uint32_t ULONG, *PULONG, DWORD, *PDWORD, UINT, *PUINT, ULONG32;
typedef int64_t LONGLONG, *PLONGLONG, LONG64, *PLONG64, INT64;
typedef uint64_t ULONGLONG, *PULONGLONG, ULONG64, *PULONG64, UINT64, DWORD64;
#define MAXLONG 0x7fffffff
#define MAXULONG 0xffffffffu
#define MAXLONGLONG 0x7fffffffffffffffLL
typedef intptr_t LONG_PTR, *PLONG_PTR, INT_PTR;
typedef uintptr_t ULONG_PTR, *PULONG_PTR, UINT_PTR, DWORD_PTR;
typedef size_t SIZE_T, *PSIZE_T;
typedef intptr_t SSIZE_T;
typedef __WCHAR_TYPE__ WCHAR, *PWCHAR, *PWCH, *PWSTR, *LPWSTR;
typedef const __WCHAR_TYPE__ *PCWSTR, *PCWCH, *LPCWSTR;
typedef LONG NTSTATUS, *PNTSTATUS;
typedef UCHAR KIRQL, *PKIRQL;
typedef CCHAR KPROCESSOR_MODE;
typedef PVOID HANDLE, *PHANDLE;
typedef ULONG ACCESS_MASK;
typedef ULONG_PTR KSPIN_LOCK, *PKSPIN_LOCK;
typedef ULONG_PTR KAFFINITY, *PKAFFINITY;
typedef LONG KPRIORITY;

/* Versions (sdkddkver.h); code is compiled for Windows 10, as mingw-w64's
 * headers default to. */
#define NTDDI_WIN7 0x06010000
#define NTDDI_WIN8 0x06020000
#define NTDDI_WIN10 0x0A000000
#ifndef NTDDI_VERSION
#define NTDDI_VERSION NTDDI_WIN10
#endif

_Static_assert(sizeof(WCHAR) == 2, "the host test bed needs -fshort-wchar");
_Static_assert(sizeof(LONG) == 4 && sizeof(ULONG_PTR) == 8, "LLP64 widths on x86_64");

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
#ifndef NULL
#define NULL ((void *)0)
#endif

typedef union _LARGE_INTEGER {
    struct {
        ULONG LowPart;
        LONG HighPart;
    };
    struct {
        ULONG LowPart;
        LONG HighPart;
    } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef union _ULARGE_INTEGER {
    struct {
        ULONG LowPart;
        ULONG HighPart;
    };
    ULONGLONG QuadPart;
} ULARGE_INTEGER, *PULARGE_INTEGER;

typedef struct _GUID {
    ULONG Data1;
    USHORT Data2;
    USHORT Data3;
    UCHAR Data4[8];
} GUID, *PGUID, *LPGUID;

typedef struct _LIST_ENTRY {
    struct _LIST_ENTRY *Flink;
    struct _LIST_ENTRY *Blink;
} LIST_ENTRY, *PLIST_ENTRY;

typedef struct _SINGLE_LIST_ENTRY {
    struct _SINGLE_LIST_ENTRY *Next;
} SINGLE_LIST_ENTRY, *PSINGLE_LIST_ENTRY;

typedef struct _UNICODE_STRING {
    USHORT Length;        /* bytes, without a terminator */
    USHORT MaximumLength; /* bytes */
    PWSTR Buffer;
} UNICODE_STRING, *PUNICODE_STRING;
typedef const UNICODE_STRING *PCUNICODE_STRING;

typedef struct _STRING {
    USHORT Length;
    USHORT MaximumLength;
    PCHAR Buffer;
} STRING, ANSI_STRING, *PSTRING, *PANSI_STRING;

#define FIELD_OFFSET(type, field) ((LONG)offsetof(type, field))
#define CONTAINING_RECORD(address, type, field)                                                    \
    ((type *)((PCHAR)(address) - (ULONG_PTR)(&((type *)0)->field)))
#define ARRAYSIZE(a) (sizeof(a) / sizeof((a)[0]))
#define RTL_NUMBER_OF(a) ARRAYSIZE(a)
#define TYPE_ALIGNMENT(t) _Alignof(t)
#define MAX_NATURAL_ALIGNMENT sizeof(ULONGLONG)
#define ALIGN_UP_BY(length, alignment)                                                             \
    (((ULONG_PTR)(length) + (alignment)-1) & ~((ULONG_PTR)(alignment)-1))

/* ---- NTSTATUS ---- */
#define NT_SUCCESS(s) (((NTSTATUS)(s)) >= 0)
#define NT_INFORMATION(s) ((((ULONG)(s)) >> 30) == 1)
#define NT_WARNING(s) ((((ULONG)(s)) >> 30) == 2)
#define NT_ERROR(s) ((((ULONG)(s)) >> 30) == 3)
/* One aligned table: */
/* clang-format off */
#define STATUS_ABANDONED_WAIT_0              ((NTSTATUS)0x00000080L)
#define STATUS_ACCESS_DENIED                 ((NTSTATUS)0xC0000022L)
#define STATUS_ACCESS_VIOLATION              ((NTSTATUS)0xC0000005L)
#define STATUS_ADDRESS_ALREADY_ASSOCIATED    ((NTSTATUS)0xC0000238L)
#define STATUS_ADDRESS_ALREADY_EXISTS        ((NTSTATUS)0xC000020AL)
#define STATUS_ADDRESS_NOT_ASSOCIATED        ((NTSTATUS)0xC0000239L)
#define STATUS_ALERTED                       ((NTSTATUS)0x00000101L)
#define STATUS_BAD_NETWORK_PATH              ((NTSTATUS)0xC00000BEL)
#define STATUS_BUFFER_ALL_ZEROS              ((NTSTATUS)0x00000117L)
#define STATUS_BUFFER_OVERFLOW               ((NTSTATUS)0x80000005L)
#define STATUS_BUFFER_TOO_SMALL              ((NTSTATUS)0xC0000023L)
#define STATUS_CANCELLED                     ((NTSTATUS)0xC0000120L)
#define STATUS_CANT_WAIT                     ((NTSTATUS)0xC00000D8L)
#define STATUS_CONNECTION_ABORTED            ((NTSTATUS)0xC0000241L)
#define STATUS_CONNECTION_ACTIVE             ((NTSTATUS)0xC000023BL)
#define STATUS_CONNECTION_COUNT_LIMIT        ((NTSTATUS)0xC0000246L)
#define STATUS_CONNECTION_DISCONNECTED       ((NTSTATUS)0xC000020CL)
#define STATUS_CONNECTION_INVALID            ((NTSTATUS)0xC000023AL)
#define STATUS_CONNECTION_REFUSED            ((NTSTATUS)0xC0000236L)
#define STATUS_CONNECTION_RESET              ((NTSTATUS)0xC000020DL)
#define STATUS_DATA_NOT_ACCEPTED             ((NTSTATUS)0xC000021BL)
#define STATUS_REQUEST_NOT_ACCEPTED          ((NTSTATUS)0xC00000D0L)
#define STATUS_DEVICE_DOES_NOT_EXIST         ((NTSTATUS)0xC00000C0L)
#define STATUS_DEVICE_NOT_READY              ((NTSTATUS)0xC00000A3L)
#define STATUS_END_OF_FILE                   ((NTSTATUS)0xC0000011L)
#define STATUS_FILE_FORCED_CLOSED            ((NTSTATUS)0xC00000B6L)
#define STATUS_FILE_IS_A_DIRECTORY           ((NTSTATUS)0xC00000BAL)
#define STATUS_GRACEFUL_DISCONNECT           ((NTSTATUS)0xC0000237L)
#define STATUS_HOPLIMIT_EXCEEDED             ((NTSTATUS)0xC000A012L)
#define STATUS_HOST_DOWN                     ((NTSTATUS)0xC0000350L)
#define STATUS_HOST_UNREACHABLE              ((NTSTATUS)0xC000023DL)
#define STATUS_INFO_LENGTH_MISMATCH          ((NTSTATUS)0xC0000004L)
#define STATUS_INSUFFICIENT_RESOURCES        ((NTSTATUS)0xC000009AL)
#define STATUS_INTEGER_OVERFLOW              ((NTSTATUS)0xC0000095L)
#define STATUS_INTERNAL_ERROR                ((NTSTATUS)0xC00000E5L)
#define STATUS_INVALID_ADDRESS               ((NTSTATUS)0xC0000141L)
#define STATUS_INVALID_ADDRESS_COMPONENT     ((NTSTATUS)0xC0000207L)
#define STATUS_INVALID_BUFFER_SIZE           ((NTSTATUS)0xC0000206L)
#define STATUS_INVALID_CONNECTION            ((NTSTATUS)0xC0000140L)
#define STATUS_INVALID_DEVICE_REQUEST        ((NTSTATUS)0xC0000010L)
#define STATUS_INVALID_DEVICE_STATE          ((NTSTATUS)0xC0000184L)
#define STATUS_INVALID_HANDLE                ((NTSTATUS)0xC0000008L)
#define STATUS_INVALID_INFO_CLASS            ((NTSTATUS)0xC0000003L)
#define STATUS_INVALID_NETWORK_RESPONSE      ((NTSTATUS)0xC00000C3L)
#define STATUS_INVALID_PARAMETER             ((NTSTATUS)0xC000000DL)
#define STATUS_INVALID_PARAMETER_1           ((NTSTATUS)0xC00000EFL)
#define STATUS_INVALID_PARAMETER_2           ((NTSTATUS)0xC00000F0L)
#define STATUS_INVALID_PARAMETER_3           ((NTSTATUS)0xC00000F1L)
#define STATUS_INVALID_PARAMETER_4           ((NTSTATUS)0xC00000F2L)
#define STATUS_INVALID_PARAMETER_MIX         ((NTSTATUS)0xC0000030L)
#define STATUS_IO_DEVICE_ERROR               ((NTSTATUS)0xC0000185L)
#define STATUS_IO_TIMEOUT                    ((NTSTATUS)0xC00000B5L)
#define STATUS_LOCAL_DISCONNECT              ((NTSTATUS)0xC000013BL)
#define STATUS_MORE_PROCESSING_REQUIRED      ((NTSTATUS)0xC0000016L)
#define STATUS_NETWORK_BUSY                  ((NTSTATUS)0xC00000BFL)
#define STATUS_NETWORK_UNREACHABLE           ((NTSTATUS)0xC000023CL)
#define STATUS_NOT_A_DIRECTORY               ((NTSTATUS)0xC0000103L)
#define STATUS_NOT_FOUND                     ((NTSTATUS)0xC0000225L)
#define STATUS_NOT_IMPLEMENTED               ((NTSTATUS)0xC0000002L)
#define STATUS_NOT_SUPPORTED                 ((NTSTATUS)0xC00000BBL)
#define STATUS_NO_DATA_DETECTED              ((NTSTATUS)0x80000022L)
#define STATUS_NO_MEMORY                     ((NTSTATUS)0xC0000017L)
#define STATUS_NO_SUCH_DEVICE                ((NTSTATUS)0xC000000EL)
#define STATUS_NO_SUCH_FILE                  ((NTSTATUS)0xC000000FL)
#define STATUS_OBJECT_NAME_INVALID           ((NTSTATUS)0xC0000033L)
#define STATUS_OBJECT_NAME_NOT_FOUND         ((NTSTATUS)0xC0000034L)
#define STATUS_OBJECT_PATH_NOT_FOUND         ((NTSTATUS)0xC000003AL)
#define STATUS_OBJECT_PATH_SYNTAX_BAD        ((NTSTATUS)0xC000003BL)
#define STATUS_OBJECT_TYPE_MISMATCH          ((NTSTATUS)0xC0000024L)
#define STATUS_PENDING                       ((NTSTATUS)0x00000103L)
#define STATUS_PIPE_DISCONNECTED             ((NTSTATUS)0xC00000B0L)
#define STATUS_PORT_UNREACHABLE              ((NTSTATUS)0xC000023FL)
#define STATUS_PROTOCOL_UNREACHABLE          ((NTSTATUS)0xC000023EL)
#define STATUS_REMOTE_DISCONNECT             ((NTSTATUS)0xC000013CL)
#define STATUS_REQUEST_ABORTED               ((NTSTATUS)0xC0000240L)
#define STATUS_SHARING_VIOLATION             ((NTSTATUS)0xC0000043L)
#define STATUS_STACK_OVERFLOW                ((NTSTATUS)0xC00000FDL)
#define STATUS_SUCCESS                       ((NTSTATUS)0x00000000L)
#define STATUS_TIMEOUT                       ((NTSTATUS)0x00000102L)
#define STATUS_TOO_MANY_ADDRESSES            ((NTSTATUS)0xC0000209L)
#define STATUS_TOO_MANY_OPENED_FILES         ((NTSTATUS)0xC000011FL)
#define STATUS_TRANSACTION_ABORTED           ((NTSTATUS)0xC000020FL)
#define STATUS_UNEXPECTED_IO_ERROR           ((NTSTATUS)0xC00000E9L)
#define STATUS_UNSUCCESSFUL                  ((NTSTATUS)0xC0000001L)
#define STATUS_USER_APC                      ((NTSTATUS)0x000000C0L)
#define STATUS_WAIT_0                        ((NTSTATUS)0x00000000L)
#define STATUS_WAIT_1                        ((NTSTATUS)0x00000001L)
#define STATUS_WAIT_2                        ((NTSTATUS)0x00000002L)
#define STATUS_WAIT_63                       ((NTSTATUS)0x0000003FL)
/* clang-format on */

/* ---- IRQL ---- */
#define PASSIVE_LEVEL 0
#define LOW_LEVEL 0
#define APC_LEVEL 1
#define DISPATCH_LEVEL 2
#define HIGH_LEVEL 15

/* Current IRQL of the calling thread (the shim tracks it per thread). */
KIRQL KeGetCurrentIrql(void);
/* Raises to new_irql (must not be lower than the current IRQL). */
void KeRaiseIrql(KIRQL new_irql, PKIRQL old_irql);
/* Lowers to new_irql (must not be higher than the current IRQL). */
void KeLowerIrql(KIRQL new_irql);
KIRQL KeRaiseIrqlToDpcLevel(void);

/* ---- spin locks ---- */
void KeInitializeSpinLock(PKSPIN_LOCK lock);
void KeAcquireSpinLock(PKSPIN_LOCK lock, PKIRQL old_irql);
void KeReleaseSpinLock(PKSPIN_LOCK lock, KIRQL new_irql);
void KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK lock);
void KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK lock);
KIRQL KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK lock);

/* ---- interlocked operations (full barriers) ---- */
#define InterlockedIncrement(p) __atomic_add_fetch((p), 1, __ATOMIC_SEQ_CST)
#define InterlockedDecrement(p) __atomic_sub_fetch((p), 1, __ATOMIC_SEQ_CST)
#define InterlockedIncrement64(p) __atomic_add_fetch((p), 1, __ATOMIC_SEQ_CST)
#define InterlockedDecrement64(p) __atomic_sub_fetch((p), 1, __ATOMIC_SEQ_CST)
#define InterlockedExchange(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedExchange64(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedExchangeAdd(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedExchangeAdd64(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedAdd(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedAdd64(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedOr(p, v) __atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedAnd(p, v) __atomic_fetch_and((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedExchangePointer(p, v)                                                           \
    ((PVOID)__atomic_exchange_n((PVOID *)(p), (PVOID)(v), __ATOMIC_SEQ_CST))
static inline LONG InterlockedCompareExchange(volatile LONG *p, LONG exchange, LONG comparand)
{
    __atomic_compare_exchange_n(p, &comparand, exchange, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return comparand;
}
static inline LONG64 InterlockedCompareExchange64(volatile LONG64 *p, LONG64 exchange,
                                                  LONG64 comparand)
{
    __atomic_compare_exchange_n(p, &comparand, exchange, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return comparand;
}
static inline PVOID InterlockedCompareExchangePointer(PVOID volatile *p, PVOID exchange,
                                                      PVOID comparand)
{
    __atomic_compare_exchange_n(p, &comparand, exchange, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return comparand;
}
#define MemoryBarrier() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define KeMemoryBarrier() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define YieldProcessor() __builtin_ia32_pause()

/* ---- memory and strings ---- */
#define RtlCopyMemory(d, s, n) memcpy((d), (s), (n))
#define RtlMoveMemory(d, s, n) memmove((d), (s), (n))
#define RtlZeroMemory(d, n) memset((d), 0, (n))
#define RtlFillMemory(d, n, v) memset((d), (v), (n))
#define RtlEqualMemory(a, b, n) (memcmp((a), (b), (n)) == 0)
#define RtlSecureZeroMemory(d, n) memset((d), 0, (n))
/* Number of leading bytes that are equal. */
SIZE_T RtlCompareMemory(const void *a, const void *b, SIZE_T length);
void RtlInitUnicodeString(PUNICODE_STRING dest, PCWSTR source);
void RtlInitAnsiString(PANSI_STRING dest, PCSZ source);

static inline void InitializeListHead(PLIST_ENTRY head)
{
    head->Flink = head->Blink = head;
}
static inline BOOLEAN IsListEmpty(const LIST_ENTRY *head)
{
    return head->Flink == head;
}
static inline BOOLEAN RemoveEntryList(PLIST_ENTRY entry)
{
    PLIST_ENTRY next = entry->Flink, prev = entry->Blink;
    prev->Flink = next;
    next->Blink = prev;
    return next == prev;
}
static inline PLIST_ENTRY RemoveHeadList(PLIST_ENTRY head)
{
    PLIST_ENTRY entry = head->Flink;
    RemoveEntryList(entry);
    return entry;
}
static inline PLIST_ENTRY RemoveTailList(PLIST_ENTRY head)
{
    PLIST_ENTRY entry = head->Blink;
    RemoveEntryList(entry);
    return entry;
}
static inline void InsertTailList(PLIST_ENTRY head, PLIST_ENTRY entry)
{
    PLIST_ENTRY prev = head->Blink;
    entry->Flink = head;
    entry->Blink = prev;
    prev->Flink = entry;
    head->Blink = entry;
}
static inline void InsertHeadList(PLIST_ENTRY head, PLIST_ENTRY entry)
{
    PLIST_ENTRY next = head->Flink;
    entry->Flink = next;
    entry->Blink = head;
    next->Blink = entry;
    head->Flink = entry;
}

/* ---- debug output ---- */
/* DbgPrint formats as Windows does: %ld/%lu/%lx are 32 bits (LONG/ULONG),
 * %lld/%I64d 64 bits, %zu/%Iu pointer-sized, %ws/%wZ wide strings. */
ULONG DbgPrint(PCSTR format, ...);
ULONG DbgPrintEx(ULONG component_id, ULONG level, PCSTR format, ...);
ULONG vDbgPrintEx(ULONG component_id, ULONG level, PCSTR format, va_list arg_list);
#define DPFLTR_IHVDRIVER_ID 77
#define DPFLTR_ERROR_LEVEL 0
#define DPFLTR_WARNING_LEVEL 1
#define DPFLTR_TRACE_LEVEL 2
#define DPFLTR_INFO_LEVEL 3
/* Ends the process: the shim's bugcheck. */
__attribute__((noreturn)) void KeBugCheckEx(ULONG code, ULONG_PTR p1, ULONG_PTR p2, ULONG_PTR p3,
                                            ULONG_PTR p4);
#define ASSERT(e) ((e) ? (void)0 : KeBugCheckEx(0x2c0de, (ULONG_PTR)__LINE__, 0, 0, 0))
#define NT_ASSERT(e) ASSERT(e)
/* Not Windows: what the code under test asserts with (wsksock's KS_ASSERT,
 * src/ks_kernel.h), always compiled in on the host bed; KSHIM_ASSERT_FAILED
 * says that they exist. kshim_assert_failed ends the run as a violation,
 * "kshim: VIOLATION: assertion failed: <expr> (<file>:<line>)", exit
 * status 86. kshim_spin_lock_held: TRUE if the calling thread holds lock
 * (the shim records each spin lock's owner; Windows does not). */
#define KSHIM_ASSERT_FAILED 1
__attribute__((noreturn)) void kshim_assert_failed(const char *file, int line, const char *expr);
BOOLEAN kshim_spin_lock_held(const KSPIN_LOCK *lock);
/* Not Windows: the lock order checker (hostbed/kshim/lockorder.c,
 * docs/design.md "Lock order"), which the library reaches through the
 * KS_LOCK_* macros of src/ks_lock.h; KSHIM_LOCK_ORDER says that it exists.
 * Spin locks are followed by the shim itself. kshim_lock_class: lock (a
 * KSPIN_LOCK or a sleeping lock) belongs to the class name (a string that
 * lives for the run); NULL forgets what the address meant (a new lock).
 * kshim_lock_wait: the calling thread may now wait for the sleeping lock
 * (checked against the locks it holds); kshim_lock_acquired/_released: it
 * holds it / no longer. kshim_lock_nest(lock, TRUE): lock, held, is the
 * outer lock of an ordered nesting: what the thread takes while holding it
 * is not ordered against it (FALSE ends that). */
#define KSHIM_LOCK_ORDER 1
void kshim_lock_class(const void *lock, const char *name);
void kshim_lock_wait(const void *lock);
void kshim_lock_acquired(const void *lock);
void kshim_lock_released(const void *lock);
void kshim_lock_nest(const void *lock, BOOLEAN outer);

/* ---- pool ---- */
typedef enum _POOL_TYPE {
    NonPagedPool = 0,
    NonPagedPoolExecute = 0,
    PagedPool = 1,
    NonPagedPoolMustSucceed = 2,
    NonPagedPoolCacheAligned = 4,
    PagedPoolCacheAligned = 5,
    NonPagedPoolNx = 512,
    NonPagedPoolNxCacheAligned = 516,
} POOL_TYPE;
typedef ULONG64 POOL_FLAGS;
#define POOL_FLAG_UNINITIALIZED 0x0000000000000002ULL
#define POOL_FLAG_NON_PAGED 0x0000000000000040ULL
#define POOL_FLAG_NON_PAGED_EXECUTE 0x0000000000000080ULL
#define POOL_FLAG_PAGED 0x0000000000000100ULL

/* Tagged allocation (tag must not be 0); NULL on failure. Paged pool only
 * at IRQL <= APC_LEVEL. Contents are not initialised (filled with 0xcd). */
PVOID ExAllocatePoolWithTag(POOL_TYPE type, SIZE_T size, ULONG tag);
/* ExAllocatePool2: zeroed unless POOL_FLAG_UNINITIALIZED. */
PVOID ExAllocatePool2(POOL_FLAGS flags, SIZE_T size, ULONG tag);
/* Untagged allocation: the shim records the tag 'None' and treats it as a
 * violation only after kshim_strict_tags(TRUE) (tests of our own code). */
PVOID ExAllocatePool(POOL_TYPE type, SIZE_T size);
/* The tag must be the allocation's; NULL, a double free or a pointer that is
 * not a live pool block is a violation (BAD_POOL_CALLER on Windows). */
void ExFreePoolWithTag(PVOID p, ULONG tag);
void ExFreePool(PVOID p);

/* ---- the system: its version and exports ---- */
/* What the shim plays (kshim_set_windows_version, KSHIM_WINDOWS): before
 * Windows 8 (6.2) NonPagedPoolNx and MdlMappingNoExecute are violations;
 * ExAllocatePool2 is exported from Windows 10 version 2004 (10.0.19041) on,
 * unless hidden (kshim_set_pool2_exported, KSHIM_NO_POOL2=1, as on Wine),
 * and calling it when it is not exported is a violation. */
typedef struct _OSVERSIONINFOW {
    ULONG dwOSVersionInfoSize;
    ULONG dwMajorVersion;
    ULONG dwMinorVersion;
    ULONG dwBuildNumber;
    ULONG dwPlatformId;
    WCHAR szCSDVersion[128];
} OSVERSIONINFOW, *POSVERSIONINFOW, RTL_OSVERSIONINFOW, *PRTL_OSVERSIONINFOW;
/* PASSIVE_LEVEL; dwOSVersionInfoSize must be sizeof(RTL_OSVERSIONINFOW)
 * (else STATUS_INVALID_PARAMETER). */
NTSTATUS RtlGetVersion(PRTL_OSVERSIONINFOW version);
/* PASSIVE_LEVEL; the address of a kernel export, or NULL: the shim knows
 * ExAllocatePool2 (when exported), ExAllocatePoolWithTag, ExFreePoolWithTag,
 * RtlGetVersion and MmGetSystemRoutineAddress. */
PVOID MmGetSystemRoutineAddress(PUNICODE_STRING name);

/* ---- dispatcher objects, waits ---- */
typedef struct _DISPATCHER_HEADER {
    LONG Type;        /* KSHIM_OBJ_* */
    LONG SignalState; /* > 0 signalled */
    PVOID Owner;      /* mutex: owning thread */
    LONG Count;       /* mutex recursion / semaphore limit */
    ULONG Magic;      /* shim check: initialised object */
} DISPATCHER_HEADER;

typedef enum _EVENT_TYPE { NotificationEvent = 0, SynchronizationEvent = 1 } EVENT_TYPE;
typedef enum _WAIT_TYPE { WaitAll = 0, WaitAny = 1 } WAIT_TYPE;
typedef enum _KWAIT_REASON {
    Executive = 0,
    FreePage,
    PageIn,
    PoolAllocation,
    DelayExecution,
    Suspended,
    UserRequest,
    WrExecutive
} KWAIT_REASON;
typedef enum _MODE { KernelMode = 0, UserMode = 1, MaximumMode } MODE;

typedef struct _KEVENT {
    DISPATCHER_HEADER Header;
} KEVENT, *PKEVENT, *PRKEVENT;
typedef struct _KMUTANT {
    DISPATCHER_HEADER Header;
} KMUTANT, KMUTEX, *PKMUTANT, *PKMUTEX, *PRKMUTEX;
typedef struct _KSEMAPHORE {
    DISPATCHER_HEADER Header;
    LONG Limit;
} KSEMAPHORE, *PKSEMAPHORE, *PRKSEMAPHORE;

#define THREAD_WAIT_OBJECTS 3
#define MAXIMUM_WAIT_OBJECTS 64
typedef struct _KWAIT_BLOCK {
    PVOID Reserved[6];
} KWAIT_BLOCK, *PKWAIT_BLOCK;

#define IO_NO_INCREMENT 0
#define EVENT_INCREMENT 1
#define IO_NETWORK_INCREMENT 2

void KeInitializeEvent(PRKEVENT event, EVENT_TYPE type, BOOLEAN state);
/* Returns the previous state. Wait (TRUE) is accepted and ignored. */
LONG KeSetEvent(PRKEVENT event, KPRIORITY increment, BOOLEAN wait);
LONG KeResetEvent(PRKEVENT event);
void KeClearEvent(PRKEVENT event);
LONG KeReadStateEvent(PRKEVENT event);
void KeInitializeMutex(PRKMUTEX mutex, ULONG level);
LONG KeReleaseMutex(PRKMUTEX mutex, BOOLEAN wait);
LONG KeReadStateMutex(PRKMUTEX mutex);
void KeInitializeSemaphore(PRKSEMAPHORE semaphore, LONG count, LONG limit);
LONG KeReleaseSemaphore(PRKSEMAPHORE semaphore, KPRIORITY increment, LONG adjustment, BOOLEAN wait);
LONG KeReadStateSemaphore(PRKSEMAPHORE semaphore);

/*
 * Timeouts: NULL waits forever; a negative value is relative, in 100 ns
 * units; a positive value is an absolute system time (KeQuerySystemTime);
 * zero tests the state without waiting. A non-zero wait above APC_LEVEL is a
 * violation (Windows: IRQL_NOT_LESS_OR_EQUAL). Returns STATUS_WAIT_0 + index
 * or STATUS_TIMEOUT.
 */
NTSTATUS KeWaitForSingleObject(PVOID object, KWAIT_REASON reason, KPROCESSOR_MODE mode,
                               BOOLEAN alertable, PLARGE_INTEGER timeout);
/* More than THREAD_WAIT_OBJECTS objects need a wait block array (as on
 * Windows); more than MAXIMUM_WAIT_OBJECTS is a violation. */
NTSTATUS KeWaitForMultipleObjects(ULONG count, PVOID objects[], WAIT_TYPE wait_type,
                                  KWAIT_REASON reason, KPROCESSOR_MODE mode, BOOLEAN alertable,
                                  PLARGE_INTEGER timeout, PKWAIT_BLOCK wait_blocks);
#define KeWaitForMutexObject KeWaitForSingleObject
NTSTATUS KeDelayExecutionThread(KPROCESSOR_MODE mode, BOOLEAN alertable, PLARGE_INTEGER interval);
void KeStallExecutionProcessor(ULONG microseconds);

/* ---- time ---- */
/* Monotonic counter; *frequency (optional) is 10 MHz. */
LARGE_INTEGER KeQueryPerformanceCounter(PLARGE_INTEGER frequency);
/* 100 ns units since 1601-01-01 UTC. */
void KeQuerySystemTime(PLARGE_INTEGER time);
#define KeQuerySystemTimePrecise KeQuerySystemTime
ULONGLONG KeQueryInterruptTime(void);
void KeQueryTickCount(PLARGE_INTEGER ticks);
ULONG KeQueryTimeIncrement(void);
ULONG KeQueryActiveProcessorCount(PKAFFINITY affinity);
ULONG KeGetCurrentProcessorNumber(void);

/* ---- objects, handles, threads ---- */
typedef struct _OBJECT_TYPE *POBJECT_TYPE;
typedef struct _KTHREAD *PKTHREAD, *PRKTHREAD, *PETHREAD;
typedef struct _KPROCESS *PKPROCESS, *PEPROCESS, *PRKPROCESS;
typedef struct _SECURITY_DESCRIPTOR *PSECURITY_DESCRIPTOR;
typedef struct _CLIENT_ID {
    HANDLE UniqueProcess;
    HANDLE UniqueThread;
} CLIENT_ID, *PCLIENT_ID;
typedef struct _OBJECT_HANDLE_INFORMATION {
    ULONG HandleAttributes;
    ACCESS_MASK GrantedAccess;
} OBJECT_HANDLE_INFORMATION, *POBJECT_HANDLE_INFORMATION;

typedef struct _OBJECT_ATTRIBUTES {
    ULONG Length;
    HANDLE RootDirectory;
    PUNICODE_STRING ObjectName;
    ULONG Attributes;
    PVOID SecurityDescriptor;
    PVOID SecurityQualityOfService;
} OBJECT_ATTRIBUTES, *POBJECT_ATTRIBUTES;
#define OBJ_INHERIT 0x00000002L
#define OBJ_CASE_INSENSITIVE 0x00000040L
#define OBJ_KERNEL_HANDLE 0x00000200L
#define InitializeObjectAttributes(p, n, a, r, s)                                                  \
    do {                                                                                           \
        (p)->Length = sizeof(OBJECT_ATTRIBUTES);                                                   \
        (p)->RootDirectory = (r);                                                                  \
        (p)->Attributes = (a);                                                                     \
        (p)->ObjectName = (n);                                                                     \
        (p)->SecurityDescriptor = (s);                                                             \
        (p)->SecurityQualityOfService = NULL;                                                      \
    } while (0)

#define DELETE 0x00010000L
#define READ_CONTROL 0x00020000L
#define WRITE_DAC 0x00040000L
#define WRITE_OWNER 0x00080000L
#define SYNCHRONIZE 0x00100000L
#define STANDARD_RIGHTS_REQUIRED 0x000F0000L
#define STANDARD_RIGHTS_READ READ_CONTROL
#define STANDARD_RIGHTS_WRITE READ_CONTROL
#define STANDARD_RIGHTS_EXECUTE READ_CONTROL
#define STANDARD_RIGHTS_ALL 0x001F0000L
#define ACCESS_SYSTEM_SECURITY 0x01000000L
#define MAXIMUM_ALLOWED 0x02000000L
#define GENERIC_READ 0x80000000L
#define GENERIC_WRITE 0x40000000L
#define GENERIC_EXECUTE 0x20000000L
#define GENERIC_ALL 0x10000000L
#define THREAD_ALL_ACCESS (STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0xFFFF)
#define KEY_QUERY_VALUE 0x0001
#define KEY_ENUMERATE_SUB_KEYS 0x0008
#define KEY_NOTIFY 0x0010
#define KEY_READ 0x20019
#define KEY_ALL_ACCESS 0xF003F

extern POBJECT_TYPE *PsThreadType;
extern POBJECT_TYPE *ExEventObjectType;

typedef VOID KSTART_ROUTINE(PVOID context);
typedef KSTART_ROUTINE *PKSTART_ROUTINE;

/* Starts a system thread (PASSIVE_LEVEL) and returns a kernel handle to it,
 * to be closed with ZwClose. */
NTSTATUS PsCreateSystemThread(PHANDLE thread_handle, ULONG desired_access,
                              POBJECT_ATTRIBUTES object_attributes, HANDLE process_handle,
                              PCLIENT_ID client_id, PKSTART_ROUTINE start_routine,
                              PVOID start_context);
/* Ends the calling system thread; STATUS_INVALID_PARAMETER (and returns)
 * when the caller is not a system thread. */
NTSTATUS PsTerminateSystemThread(NTSTATUS exit_status);
PETHREAD PsGetCurrentThread(void);
#define KeGetCurrentThread() ((PKTHREAD)PsGetCurrentThread())
HANDLE PsGetCurrentThreadId(void);
HANDLE PsGetCurrentProcessId(void);
BOOLEAN PsIsSystemThread(PETHREAD thread);
/* Threads, registry keys and files are the objects the shim's handles name. */
NTSTATUS ObReferenceObjectByHandle(HANDLE handle, ACCESS_MASK desired_access,
                                   POBJECT_TYPE object_type, KPROCESSOR_MODE access_mode,
                                   PVOID *object, POBJECT_HANDLE_INFORMATION handle_information);
#define ObReferenceObject(o) ObfReferenceObject(o)
#define ObDereferenceObject(o) ObfDereferenceObject(o)
LONG_PTR ObfReferenceObject(PVOID object);
LONG_PTR ObfDereferenceObject(PVOID object);
NTSTATUS ZwClose(HANDLE handle);

/* ---- kernel stacks ---- */
#define KERNEL_STACK_SIZE 0x6000
#define KERNEL_LARGE_STACK_SIZE 0xF000
#define KERNEL_LARGE_STACK_COMMIT KERNEL_STACK_SIZE
#define MAXIMUM_EXPANSION_SIZE (KERNEL_LARGE_STACK_SIZE - (PAGE_SIZE / 2))
/* The calling thread's stack: [*low_limit, *high_limit) (any IRQL). The
 * shim's stacks are the host threads' (pthread_getattr_np): megabytes, not
 * Windows' KERNEL_STACK_SIZE. */
void IoGetStackLimits(PULONG_PTR low_limit, PULONG_PTR high_limit);
/* Bytes left below the caller's frame on the calling thread's stack (any
 * IRQL); an inline function in the WDK, a function here. */
ULONG_PTR IoGetRemainingStackSize(void);
typedef VOID EXPAND_STACK_CALLOUT(PVOID parameter);
typedef EXPAND_STACK_CALLOUT *PEXPAND_STACK_CALLOUT;
/* Calls callout(parameter) with at least size bytes of stack, at the
 * caller's IRQL, which must be <= APC_LEVEL (the Ex variant's is
 * DISPATCH_LEVEL), and which the callout must return at; STATUS_SUCCESS
 * once it has returned. STATUS_INVALID_PARAMETER_3 (callout not called) if
 * size > MAXIMUM_EXPANSION_SIZE; STATUS_NO_MEMORY (not called) for the
 * fault "stack.expand" or when the host stack has less than size bytes
 * left. The shim runs the callout on the calling thread's own stack (host
 * stacks are megabytes: no segment is needed); PsTerminateSystemThread in
 * the callout is a violation (a bugcheck on Windows). */
NTSTATUS KeExpandKernelStackAndCallout(PEXPAND_STACK_CALLOUT callout, PVOID parameter, SIZE_T size);

/* ---- registry (in-memory; tests fill it through kshim.h) ---- */
typedef enum _KEY_VALUE_INFORMATION_CLASS {
    KeyValueBasicInformation = 0,
    KeyValueFullInformation,
    KeyValuePartialInformation,
} KEY_VALUE_INFORMATION_CLASS;
typedef struct _KEY_VALUE_PARTIAL_INFORMATION {
    ULONG TitleIndex;
    ULONG Type;
    ULONG DataLength;
    UCHAR Data[1];
} KEY_VALUE_PARTIAL_INFORMATION, *PKEY_VALUE_PARTIAL_INFORMATION;
#define REG_NONE 0
#define REG_SZ 1
#define REG_EXPAND_SZ 2
#define REG_BINARY 3
#define REG_DWORD 4
#define REG_MULTI_SZ 7
#define REG_QWORD 11
/* PASSIVE_LEVEL. STATUS_OBJECT_NAME_NOT_FOUND for a key that does not exist. */
NTSTATUS ZwOpenKey(PHANDLE key_handle, ACCESS_MASK desired_access,
                   POBJECT_ATTRIBUTES object_attributes);
/* KeyValuePartialInformation only. As documented: STATUS_BUFFER_TOO_SMALL
 * when not even the fixed part fits, STATUS_BUFFER_OVERFLOW (with the fixed
 * part and as much data as fits) when the data does not; *result_length is
 * always the size needed. */
NTSTATUS ZwQueryValueKey(HANDLE key_handle, PUNICODE_STRING value_name,
                         KEY_VALUE_INFORMATION_CLASS information_class, PVOID key_value_information,
                         ULONG length, PULONG result_length);

/* ---- MDLs ---- */
typedef struct _MDL {
    struct _MDL *Next;
    CSHORT Size;
    CSHORT MdlFlags;
    PEPROCESS Process;
    PVOID MappedSystemVa;
    PVOID StartVa; /* page-aligned */
    ULONG ByteCount;
    ULONG ByteOffset;
} MDL, *PMDL;
#define PAGE_SIZE 0x1000
#define PAGE_SHIFT 12
#define MDL_MAPPED_TO_SYSTEM_VA 0x0001
#define MDL_PAGES_LOCKED 0x0002
#define MDL_SOURCE_IS_NONPAGED_POOL 0x0004
#define MDL_ALLOCATED_FIXED_SIZE 0x0008
#define MDL_PARTIAL 0x0010

typedef enum _LOCK_OPERATION {
    IoReadAccess = 0,
    IoWriteAccess = 1,
    IoModifyAccess = 2
} LOCK_OPERATION;
typedef enum _MM_PAGE_PRIORITY {
    LowPagePriority = 0,
    NormalPagePriority = 16,
    HighPagePriority = 32
} MM_PAGE_PRIORITY;
#define MdlMappingNoWrite 0x80000000
#define MdlMappingNoExecute 0x40000000

struct _IRP;
/* Describes [va, va+length); length <= 4 GiB - 1 page. Chained to irp's
 * MdlAddress when irp is given (secondary_buffer: at the end). NULL on
 * failure. IRQL <= DISPATCH_LEVEL. */
PMDL IoAllocateMdl(PVOID va, ULONG length, BOOLEAN secondary_buffer, BOOLEAN charge_quota,
                   struct _IRP *irp);
/* Violation if the pages are still locked. */
void IoFreeMdl(PMDL mdl);
/* Locks the pages (the shim counts locked MDLs; kernel-mode buffers never
 * raise). IRQL <= APC_LEVEL for pageable memory; <= DISPATCH_LEVEL otherwise. */
void MmProbeAndLockPages(PMDL mdl, KPROCESSOR_MODE mode, LOCK_OPERATION operation);
void MmUnlockPages(PMDL mdl);
void MmBuildMdlForNonPagedPool(PMDL mdl);
/* System address of a locked or nonpaged-pool MDL; a violation otherwise. */
PVOID MmMapLockedPagesSpecifyCache(PMDL mdl, KPROCESSOR_MODE mode, int cache_type,
                                   PVOID requested_address, ULONG bug_check_on_failure,
                                   ULONG priority);
PVOID MmGetSystemAddressForMdlSafe(PMDL mdl, ULONG priority);
#define MmGetMdlVirtualAddress(m) ((PVOID)((PCHAR)((m)->StartVa) + (m)->ByteOffset))
#define MmGetMdlByteCount(m) ((m)->ByteCount)
#define MmGetMdlByteOffset(m) ((m)->ByteOffset)
#define MmInitializeMdl(m, va, len) kshim_initialize_mdl((m), (va), (len))
void kshim_initialize_mdl(PMDL mdl, PVOID va, SIZE_T length);
#define MmSizeOfMdl(va, len) (sizeof(MDL) + sizeof(ULONG_PTR) * 2)

/* ---- driver and device objects ---- */
typedef struct _DEVICE_OBJECT {
    SHORT Type;
    USHORT Size;
    struct _DRIVER_OBJECT *DriverObject;
    PVOID DeviceExtension;
} DEVICE_OBJECT, *PDEVICE_OBJECT;

typedef struct _DRIVER_OBJECT DRIVER_OBJECT, *PDRIVER_OBJECT;
typedef NTSTATUS DRIVER_INITIALIZE(PDRIVER_OBJECT driver_object, PUNICODE_STRING registry_path);
typedef DRIVER_INITIALIZE *PDRIVER_INITIALIZE;
typedef VOID DRIVER_UNLOAD(PDRIVER_OBJECT driver_object);
typedef DRIVER_UNLOAD *PDRIVER_UNLOAD;
struct _DRIVER_OBJECT {
    SHORT Type;
    SHORT Size;
    PDEVICE_OBJECT DeviceObject;
    ULONG Flags;
    PVOID DriverStart;
    ULONG DriverSize;
    PVOID DriverSection;
    PVOID DriverExtension;
    UNICODE_STRING DriverName;
    PUNICODE_STRING HardwareDatabase;
    PVOID FastIoDispatch;
    PDRIVER_INITIALIZE DriverInit;
    PVOID DriverStartIo;
    PDRIVER_UNLOAD DriverUnload;
    PVOID MajorFunction[28];
};

/* ---- IRPs ---- */
typedef struct _IO_STATUS_BLOCK {
    union {
        NTSTATUS Status;
        PVOID Pointer;
    };
    ULONG_PTR Information;
} IO_STATUS_BLOCK, *PIO_STATUS_BLOCK;

typedef struct _IRP IRP, *PIRP;
typedef NTSTATUS IO_COMPLETION_ROUTINE(PDEVICE_OBJECT device_object, PIRP irp, PVOID context);
typedef IO_COMPLETION_ROUTINE *PIO_COMPLETION_ROUTINE;
typedef VOID DRIVER_CANCEL(PDEVICE_OBJECT device_object, PIRP irp);
typedef DRIVER_CANCEL *PDRIVER_CANCEL;

#define SL_PENDING_RETURNED 0x01
#define SL_INVOKE_ON_CANCEL 0x20
#define SL_INVOKE_ON_SUCCESS 0x40
#define SL_INVOKE_ON_ERROR 0x80

typedef struct _IO_STACK_LOCATION {
    UCHAR MajorFunction;
    UCHAR MinorFunction;
    UCHAR Flags;
    UCHAR Control;
    PVOID Parameters[4];
    PDEVICE_OBJECT DeviceObject;
    PVOID FileObject;
    PIO_COMPLETION_ROUTINE CompletionRoutine;
    PVOID Context;
} IO_STACK_LOCATION, *PIO_STACK_LOCATION;

struct _IRP {
    SHORT Type;
    USHORT Size;
    PMDL MdlAddress;
    ULONG Flags;
    IO_STATUS_BLOCK IoStatus;
    KPROCESSOR_MODE RequestorMode;
    BOOLEAN PendingReturned;
    CHAR StackCount;
    CHAR CurrentLocation; /* 1-based; StackCount + 1 when no driver owns a location */
    BOOLEAN Cancel;
    KIRQL CancelIrql;
    PDRIVER_CANCEL CancelRoutine;
    PVOID UserBuffer;
    union {
        struct {
            PVOID DriverContext[4];
            PETHREAD Thread;
            LIST_ENTRY ListEntry;
            PIO_STACK_LOCATION CurrentStackLocation;
        } Overlay;
    } Tail;
    /* Shim bookkeeping (not in the WDK's IRP): see kshim/irp.c. */
    ULONG KshimMagic;
    volatile LONG KshimOwner; /* 0 caller, 1 a driver below (issued), 2 completing */
    IO_STACK_LOCATION KshimStack[ANYSIZE_ARRAY];
};

/* IRQL <= DISPATCH_LEVEL. NULL on failure. */
PIRP IoAllocateIrp(CCHAR stack_size, BOOLEAN charge_quota);
/* Violation if a driver below still owns the IRP. */
void IoFreeIrp(PIRP irp);
/* Reinitialises an IRP for a new request; violation if it is in flight. */
void IoReuseIrp(PIRP irp, NTSTATUS status);
/* Sets Cancel, and calls the cancel routine if one is set (with the cancel
 * spin lock held, which the routine releases). TRUE if a routine was called. */
BOOLEAN IoCancelIrp(PIRP irp);
void IoAcquireCancelSpinLock(PKIRQL irql);
void IoReleaseCancelSpinLock(KIRQL irql);
/* Runs the completion routines from the current stack location up, as the
 * I/O manager does; stops at STATUS_MORE_PROCESSING_REQUIRED. Reaching the
 * top without a routine returning it is a violation (a driver-allocated IRP
 * must not go back to the I/O manager), as is completing an IRP that is not
 * in flight (see kshim_irp_take), one with a cancel routine still set, or
 * one whose status is STATUS_PENDING. IRQL <= DISPATCH_LEVEL. */
void IofCompleteRequest(PIRP irp, CCHAR priority_boost);
#define IoCompleteRequest(irp, boost) IofCompleteRequest((irp), (boost))

#define IoGetCurrentIrpStackLocation(irp) ((irp)->Tail.Overlay.CurrentStackLocation)
#define IoGetNextIrpStackLocation(irp) ((irp)->Tail.Overlay.CurrentStackLocation - 1)
static inline void IoSetNextIrpStackLocation(PIRP irp)
{
    irp->CurrentLocation--;
    irp->Tail.Overlay.CurrentStackLocation--;
}
static inline void IoSkipCurrentIrpStackLocation(PIRP irp)
{
    irp->CurrentLocation++;
    irp->Tail.Overlay.CurrentStackLocation++;
}
static inline void IoMarkIrpPending(PIRP irp)
{
    IoGetCurrentIrpStackLocation(irp)->Control |= SL_PENDING_RETURNED;
}
static inline PDRIVER_CANCEL IoSetCancelRoutine(PIRP irp, PDRIVER_CANCEL routine)
{
    return (PDRIVER_CANCEL)InterlockedExchangePointer((PVOID *)&irp->CancelRoutine, (PVOID)routine);
}
static inline void IoSetCompletionRoutine(PIRP irp, PIO_COMPLETION_ROUTINE routine, PVOID context,
                                          BOOLEAN on_success, BOOLEAN on_error, BOOLEAN on_cancel)
{
    PIO_STACK_LOCATION sl = IoGetNextIrpStackLocation(irp);
    sl->CompletionRoutine = routine;
    sl->Context = context;
    sl->Control = 0;
    if (on_success)
        sl->Control |= SL_INVOKE_ON_SUCCESS;
    if (on_error)
        sl->Control |= SL_INVOKE_ON_ERROR;
    if (on_cancel)
        sl->Control |= SL_INVOKE_ON_CANCEL;
}

/* ---- files (read-only; hostbed/kshim/file.c) ----
 * NT names map to Linux paths as under Wine: "\??\Z:\dir\file" and
 * "\DosDevices\Z:\dir\file" are /dir/file; drive C: is the directory in
 * the environment's KSHIM_DRIVE_C (read at each open), or absent. Any other
 * form (other drives, \Device\..., relative names) is
 * STATUS_OBJECT_PATH_NOT_FOUND; empty, "." and ".." components and the
 * characters / : * ? " < > | are STATUS_OBJECT_NAME_INVALID. Names are
 * matched with the Linux file system's case (Wine ignores case). */
#define FILE_READ_DATA 0x0001
#define FILE_LIST_DIRECTORY 0x0001
#define FILE_WRITE_DATA 0x0002
#define FILE_ADD_FILE 0x0002
#define FILE_APPEND_DATA 0x0004
#define FILE_ADD_SUBDIRECTORY 0x0004
#define FILE_READ_EA 0x0008
#define FILE_WRITE_EA 0x0010
#define FILE_EXECUTE 0x0020
#define FILE_TRAVERSE 0x0020
#define FILE_DELETE_CHILD 0x0040
#define FILE_READ_ATTRIBUTES 0x0080
#define FILE_WRITE_ATTRIBUTES 0x0100
#define FILE_ALL_ACCESS (STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0x1FF)
#define FILE_GENERIC_READ                                                                          \
    (STANDARD_RIGHTS_READ | FILE_READ_DATA | FILE_READ_ATTRIBUTES | FILE_READ_EA | SYNCHRONIZE)
#define FILE_GENERIC_WRITE                                                                         \
    (STANDARD_RIGHTS_WRITE | FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES | FILE_WRITE_EA |             \
     FILE_APPEND_DATA | SYNCHRONIZE)
#define FILE_GENERIC_EXECUTE                                                                       \
    (STANDARD_RIGHTS_EXECUTE | FILE_READ_ATTRIBUTES | FILE_EXECUTE | SYNCHRONIZE)

#define FILE_SHARE_READ 0x00000001
#define FILE_SHARE_WRITE 0x00000002
#define FILE_SHARE_DELETE 0x00000004
#define FILE_SHARE_VALID_FLAGS 0x00000007

#define FILE_ATTRIBUTE_READONLY 0x00000001
#define FILE_ATTRIBUTE_HIDDEN 0x00000002
#define FILE_ATTRIBUTE_SYSTEM 0x00000004
#define FILE_ATTRIBUTE_DIRECTORY 0x00000010
#define FILE_ATTRIBUTE_ARCHIVE 0x00000020
#define FILE_ATTRIBUTE_NORMAL 0x00000080

/* CreateDisposition */
#define FILE_SUPERSEDE 0x00000000
#define FILE_OPEN 0x00000001
#define FILE_CREATE 0x00000002
#define FILE_OPEN_IF 0x00000003
#define FILE_OVERWRITE 0x00000004
#define FILE_OVERWRITE_IF 0x00000005
#define FILE_MAXIMUM_DISPOSITION 0x00000005

/* CreateOptions */
#define FILE_DIRECTORY_FILE 0x00000001
#define FILE_WRITE_THROUGH 0x00000002
#define FILE_SEQUENTIAL_ONLY 0x00000004
#define FILE_NO_INTERMEDIATE_BUFFERING 0x00000008
#define FILE_SYNCHRONOUS_IO_ALERT 0x00000010
#define FILE_SYNCHRONOUS_IO_NONALERT 0x00000020
#define FILE_NON_DIRECTORY_FILE 0x00000040
#define FILE_CREATE_TREE_CONNECTION 0x00000080
#define FILE_COMPLETE_IF_OPLOCKED 0x00000100
#define FILE_NO_EA_KNOWLEDGE 0x00000200
#define FILE_OPEN_REMOTE_INSTANCE 0x00000400
#define FILE_RANDOM_ACCESS 0x00000800
#define FILE_DELETE_ON_CLOSE 0x00001000
#define FILE_OPEN_BY_FILE_ID 0x00002000
#define FILE_OPEN_FOR_BACKUP_INTENT 0x00004000
#define FILE_NO_COMPRESSION 0x00008000
#define FILE_RESERVE_OPFILTER 0x00100000
#define FILE_OPEN_REPARSE_POINT 0x00200000
#define FILE_OPEN_NO_RECALL 0x00400000
#define FILE_OPEN_FOR_FREE_SPACE_QUERY 0x00800000
#define FILE_VALID_OPTION_FLAGS 0x00ffffff

/* IoStatusBlock->Information of a create */
#define FILE_SUPERSEDED 0x00000000
#define FILE_OPENED 0x00000001
#define FILE_CREATED 0x00000002
#define FILE_OVERWRITTEN 0x00000003
#define FILE_EXISTS 0x00000004
#define FILE_DOES_NOT_EXIST 0x00000005

/* ByteOffset->LowPart (HighPart -1): the file's current position. */
#define FILE_USE_FILE_POINTER_POSITION 0xfffffffe
#define FILE_WRITE_TO_END_OF_FILE 0xffffffff

typedef VOID(NTAPI *PIO_APC_ROUTINE)(PVOID apc_context, PIO_STATUS_BLOCK io_status_block,
                                     ULONG reserved);

typedef enum _FILE_INFORMATION_CLASS {
    FileDirectoryInformation = 1,
    FileFullDirectoryInformation = 2,
    FileBothDirectoryInformation = 3,
    FileBasicInformation = 4,
    FileStandardInformation = 5,
    FileInternalInformation = 6,
    FileEaInformation = 7,
    FileAccessInformation = 8,
    FileNameInformation = 9,
    FileRenameInformation = 10,
    FileLinkInformation = 11,
    FileNamesInformation = 12,
    FileDispositionInformation = 13,
    FilePositionInformation = 14,
    FileFullEaInformation = 15,
    FileModeInformation = 16,
    FileAlignmentInformation = 17,
    FileAllInformation = 18,
    FileAllocationInformation = 19,
    FileEndOfFileInformation = 20,
} FILE_INFORMATION_CLASS;
typedef FILE_INFORMATION_CLASS *PFILE_INFORMATION_CLASS;

typedef struct _FILE_STANDARD_INFORMATION {
    LARGE_INTEGER AllocationSize;
    LARGE_INTEGER EndOfFile;
    ULONG NumberOfLinks;
    BOOLEAN DeletePending;
    BOOLEAN Directory;
} FILE_STANDARD_INFORMATION, *PFILE_STANDARD_INFORMATION;

typedef struct _FILE_POSITION_INFORMATION {
    LARGE_INTEGER CurrentByteOffset;
} FILE_POSITION_INFORMATION, *PFILE_POSITION_INFORMATION;

/*
 * ZwCreateFile: PASSIVE_LEVEL; absolute names only (RootDirectory NULL).
 * The shim opens existing regular files for reading, synchronously:
 *  - create_disposition FILE_OPEN; the others (which may write) are
 *    STATUS_ACCESS_DENIED, as is any write, delete or security right in
 *    desired_access (the file system is read-only to drivers);
 *  - create_options FILE_SYNCHRONOUS_IO_NONALERT or _ALERT (with SYNCHRONIZE
 *    in desired_access, else STATUS_INVALID_PARAMETER, as documented),
 *    optionally FILE_NON_DIRECTORY_FILE, FILE_SEQUENTIAL_ONLY,
 *    FILE_RANDOM_ACCESS, FILE_WRITE_THROUGH, FILE_COMPLETE_IF_OPLOCKED,
 *    FILE_NO_EA_KNOWLEDGE, FILE_OPEN_FOR_BACKUP_INTENT; asynchronous
 *    handles, FILE_DIRECTORY_FILE and the other options are
 *    STATUS_NOT_SUPPORTED, as are extended attributes (ea_buffer);
 *  - allocation_size, file_attributes and share_access are not used (share
 *    bits beyond FILE_SHARE_VALID_FLAGS: STATUS_INVALID_PARAMETER).
 * A missing file is STATUS_OBJECT_NAME_NOT_FOUND, a missing directory on
 * the way STATUS_OBJECT_PATH_NOT_FOUND, a directory STATUS_FILE_IS_A_DIRECTORY
 * with FILE_NON_DIRECTORY_FILE (STATUS_NOT_SUPPORTED without: the shim has no
 * directory handles), another non-regular file STATUS_NOT_SUPPORTED, an
 * unreadable one STATUS_ACCESS_DENIED; the fault "file.open" is
 * STATUS_INSUFFICIENT_RESOURCES. On success *io_status_block is
 * {STATUS_SUCCESS, FILE_OPENED}; on failure it is not written. The handle
 * counts as an open handle until ZwClose.
 */
NTSTATUS ZwCreateFile(PHANDLE file_handle, ACCESS_MASK desired_access,
                      POBJECT_ATTRIBUTES object_attributes, PIO_STATUS_BLOCK io_status_block,
                      PLARGE_INTEGER allocation_size, ULONG file_attributes, ULONG share_access,
                      ULONG create_disposition, ULONG create_options, PVOID ea_buffer,
                      ULONG ea_length);
/*
 * ZwReadFile: PASSIVE_LEVEL; synchronous (the shim's handles are). event,
 * apc_routine and apc_context must be NULL (a violation otherwise: reserved
 * for drivers; the shim has no events on reads); key is not used.
 * byte_offset NULL, or {LowPart FILE_USE_FILE_POINTER_POSITION, HighPart
 * -1}, reads at the current position; every read moves it to its end.
 * Reads what there is up to length: STATUS_SUCCESS with Information bytes
 * (fewer than length only at the end of the file), STATUS_END_OF_FILE
 * (Information 0) at or after the end, STATUS_SUCCESS with 0 bytes when
 * length is 0. STATUS_ACCESS_DENIED without FILE_READ_DATA access,
 * STATUS_INVALID_PARAMETER for a negative offset, STATUS_INVALID_HANDLE,
 * STATUS_OBJECT_TYPE_MISMATCH for a handle that is not a file's;
 * STATUS_UNEXPECTED_IO_ERROR for the fault "file.read" (and a failing
 * read(2)). *io_status_block is written for success and STATUS_END_OF_FILE.
 */
NTSTATUS ZwReadFile(HANDLE file_handle, HANDLE event, PIO_APC_ROUTINE apc_routine,
                    PVOID apc_context, PIO_STATUS_BLOCK io_status_block, PVOID buffer, ULONG length,
                    PLARGE_INTEGER byte_offset, PULONG key);
/*
 * ZwQueryInformationFile: PASSIVE_LEVEL; FileStandardInformation
 * (AllocationSize from the blocks allocated, EndOfFile the size,
 * NumberOfLinks, DeletePending and Directory FALSE) and
 * FilePositionInformation; other classes are STATUS_INVALID_INFO_CLASS, a
 * length below the class's structure STATUS_INFO_LENGTH_MISMATCH. On
 * success Information is the structure's size.
 */
NTSTATUS ZwQueryInformationFile(HANDLE file_handle, PIO_STATUS_BLOCK io_status_block,
                                PVOID file_information, ULONG length,
                                FILE_INFORMATION_CLASS file_information_class);

#ifdef __cplusplus
}
#endif

#endif /* KSHIM_NTDDK_H */
