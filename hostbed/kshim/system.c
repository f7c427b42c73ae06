/*
 * system.c - the Windows the shim plays: the version RtlGetVersion reports
 * and what MmGetSystemRoutineAddress finds, so that code choosing its path
 * at run time (wsksock's pool: ExAllocatePool2, NonPagedPoolNx, NonPagedPool)
 * can be run down each one. Controls: kshim_set_windows_version and
 * kshim_set_pool2_exported and kshim_set_wine_kernel (kshim.h), or the
 * environment's KSHIM_WINDOWS=major.minor.build, KSHIM_NO_POOL2=1 and
 * KSHIM_WINE=1, read once.
 *
 * The version is one 64-bit word (major, minor, build packed), the export
 * switch one word, both read and written atomically: tests change them
 * between ks_cleanup and ks_startup while provider threads may allocate.
 */
#include "kshim_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define PACK(major, minor, build) (((ULONG64)(major) << 48) | ((ULONG64)(minor) << 32) | (build))

static pthread_once_t system_once = PTHREAD_ONCE_INIT;
static ULONG64 version = PACK(10, 0, 22621); /* Windows 11 22H2 */
static LONG pool2_hidden;
static LONG wine_kernel;

static void read_environment(void)
{
    const char *v = getenv("KSHIM_WINDOWS");
    const char *h = getenv("KSHIM_NO_POOL2");
    const char *w = getenv("KSHIM_WINE");
    if (v != NULL && *v != '\0') {
        unsigned major, minor, build;
        char end;
        if (sscanf(v, "%u.%u.%u%c", &major, &minor, &build, &end) != 3 || major > 0xffff ||
            minor > 0xffff) {
            fprintf(stderr, "kshim: bad KSHIM_WINDOWS '%s' (want major.minor.build)\n", v);
            _exit(2);
        }
        version = PACK(major, minor, build);
    }
    if (h != NULL && strcmp(h, "1") == 0)
        pool2_hidden = 1;
    if (w != NULL && strcmp(w, "1") == 0)
        wine_kernel = 1;
}

void kshim_set_wine_kernel(BOOLEAN wine)
{
    pthread_once(&system_once, read_environment);
    __atomic_store_n(&wine_kernel, wine ? 1 : 0, __ATOMIC_SEQ_CST);
}

/* A routine that stands for Wine's export (never called through it). */
static void wine_main_loop_stand_in(void)
{
}

void kshim_set_windows_version(ULONG major, ULONG minor, ULONG build)
{
    pthread_once(&system_once, read_environment);
    __atomic_store_n(&version, PACK(major & 0xffff, minor & 0xffff, build), __ATOMIC_SEQ_CST);
}

void kshim_set_pool2_exported(BOOLEAN exported)
{
    pthread_once(&system_once, read_environment);
    __atomic_store_n(&pool2_hidden, exported ? 0 : 1, __ATOMIC_SEQ_CST);
}

BOOLEAN kshim_windows_at_least(ULONG major, ULONG minor, ULONG build)
{
    pthread_once(&system_once, read_environment);
    return __atomic_load_n(&version, __ATOMIC_SEQ_CST) >= PACK(major, minor, build);
}

BOOLEAN kshim_pool2_exported(void)
{
    pthread_once(&system_once, read_environment);
    return kshim_windows_at_least(10, 0, 19041) &&
           __atomic_load_n(&pool2_hidden, __ATOMIC_SEQ_CST) == 0;
}

/* RtlGetVersion (wdm.h): PASSIVE_LEVEL; fills an RTL_OSVERSIONINFOW (the
 * EX variant is not played). */
NTSTATUS RtlGetVersion(PRTL_OSVERSIONINFOW info)
{
    ULONG64 v;
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        kshim_violation("RtlGetVersion at IRQL %u (PASSIVE_LEVEL only)", KeGetCurrentIrql());
    if (info == NULL || info->dwOSVersionInfoSize != sizeof(*info))
        return STATUS_INVALID_PARAMETER;
    pthread_once(&system_once, read_environment);
    v = __atomic_load_n(&version, __ATOMIC_SEQ_CST);
    memset(info, 0, sizeof(*info));
    info->dwOSVersionInfoSize = sizeof(*info);
    info->dwMajorVersion = (ULONG)(v >> 48);
    info->dwMinorVersion = (ULONG)(v >> 32) & 0xffff;
    info->dwBuildNumber = (ULONG)v;
    info->dwPlatformId = 2; /* VER_PLATFORM_WIN32_NT */
    return STATUS_SUCCESS;
}

/* name (ASCII) equals the counted UTF-16 string s. */
static BOOLEAN name_is(PCUNICODE_STRING s, const char *name)
{
    size_t n = strlen(name);
    if (s->Length != n * sizeof(WCHAR))
        return FALSE;
    for (size_t i = 0; i < n; i++)
        if (s->Buffer[i] != (WCHAR)(unsigned char)name[i])
            return FALSE;
    return TRUE;
}

/* MmGetSystemRoutineAddress (wdm.h): PASSIVE_LEVEL; NULL for a name the
 * system does not export. Case-sensitive, as export names are. */
PVOID MmGetSystemRoutineAddress(PUNICODE_STRING name)
{
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        kshim_violation("MmGetSystemRoutineAddress at IRQL %u (PASSIVE_LEVEL only)",
                        KeGetCurrentIrql());
    if (name == NULL || (name->Length > 0 && name->Buffer == NULL))
        kshim_violation("MmGetSystemRoutineAddress: no name");
    /* Function addresses as data pointers, as the real routine returns them
     * (through an integer: ISO C has no direct conversion). */
    if (name_is(name, "ExAllocatePool2"))
        return kshim_pool2_exported() ? (PVOID)(ULONG_PTR)ExAllocatePool2 : NULL;
    if (name_is(name, "ExAllocatePoolWithTag"))
        return (PVOID)(ULONG_PTR)ExAllocatePoolWithTag;
    if (name_is(name, "ExFreePoolWithTag"))
        return (PVOID)(ULONG_PTR)ExFreePoolWithTag;
    if (name_is(name, "RtlGetVersion"))
        return (PVOID)(ULONG_PTR)RtlGetVersion;
    if (name_is(name, "MmGetSystemRoutineAddress"))
        return (PVOID)(ULONG_PTR)MmGetSystemRoutineAddress;
    /* Wine's ntoskrnl.exe exports it, Windows does not. */
    if (name_is(name, "wine_ntoskrnl_main_loop")) {
        pthread_once(&system_once, read_environment);
        return __atomic_load_n(&wine_kernel, __ATOMIC_SEQ_CST)
                   ? (PVOID)(ULONG_PTR)wine_main_loop_stand_in
                   : NULL;
    }
    return NULL;
}
