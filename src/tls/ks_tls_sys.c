/*
 * ks_tls_sys.c - what the TLS layer takes from the kernel: entropy
 * (BCryptGenRandom), the time (KeQuerySystemTime), whole files
 * (ZwCreateFile/ZwReadFile) and a bigger stack (KeExpandKernelStackAndCallout).
 * The same source for the WDK, mingw-w64 (Wine) and the host test bed; the
 * bed's shim serves these calls from getrandom(2), the clock, the Linux file
 * system ("\??\Z:\tmp\x" is /tmp/x, as under Wine) and the thread's stack.
 */
#include "ks_tls.h"

#include "../ks_kernel.h"
#include "../ks_utf.h"

#if defined(_MSC_VER) || defined(WSKSOCK_HOSTBED)
#include <bcrypt.h>
#else
/* mingw-w64's kernel headers lack bcrypt.h's kernel part; cng.sys exports
 * it (cmake/wdk/cng.def). */
#define BCRYPT_USE_SYSTEM_PREFERRED_RNG 0x00000002
NTSTATUS NTAPI BCryptGenRandom(PVOID algorithm, PUCHAR buffer, ULONG length, ULONG flags);
#endif

void *ks__tls_alloc(size_t size)
{
    return ks_pool_alloc(size, KS_TLS_POOL_TAG);
}

void ks__tls_free(void *p)
{
    ks_pool_free(p, KS_TLS_POOL_TAG);
}

int ks__tls_random(void *buf, size_t len)
{
    KS_ASSERT(len <= 0xFFFFFFFFu);
    NTSTATUS st = BCryptGenRandom(NULL, (PUCHAR)buf, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG);
    return NT_SUCCESS(st) ? 0 : -EIO;
}

/* KeQuerySystemTime counts 100 ns units from 1601-01-01; BearSSL counts
 * days from 0000-01-01 (proleptic Gregorian): 1601-01-01 is its day
 * 584754 (= 719528, the day of 1970-01-01, minus 134774 days 1601-1970). */
#define KS_TLS_DAY_1601 584754u
#define KS_TLS_TICKS_PER_DAY (864000000000LL)

void ks__tls_now(uint32_t *days, uint32_t *seconds)
{
    LARGE_INTEGER now;
    now.QuadPart = 0;
    KeQuerySystemTime(&now);
    LONGLONG t = now.QuadPart < 0 ? 0 : now.QuadPart;
    *days = KS_TLS_DAY_1601 + (uint32_t)(t / KS_TLS_TICKS_PER_DAY);
    *seconds = (uint32_t)((t % KS_TLS_TICKS_PER_DAY) / 10000000LL);
}

/* path (UTF-8) as an NT path: "\..." as is, "C:\..." behind "\??\". */
static int nt_path(const char *path, UNICODE_STRING *out)
{
    static const char dos_prefix[] = "\\??\\";
    BOOLEAN drive = path[0] != '\0' && path[1] == ':';
    if (path[0] != '\\' && !drive)
        return -EINVAL;
    long units = ks__utf8_to_utf16(path, NULL, 0);
    if (units <= 0)
        return -EINVAL;
    size_t total = (size_t)units + (drive ? 4 : 0);
    if (total >= 32767)
        return -EINVAL;
    WCHAR *w = ks__tls_alloc((total + 1) * sizeof(WCHAR));
    if (w == NULL)
        return -ENOMEM;
    size_t at = 0;
    if (drive) {
        for (; at < 4; at++)
            w[at] = (WCHAR)dos_prefix[at];
    }
    if (ks__utf8_to_utf16(path, w + at, total + 1 - at) != units) {
        ks__tls_free(w);
        return -EINVAL;
    }
    out->Buffer = w;
    out->Length = (USHORT)(total * sizeof(WCHAR));
    out->MaximumLength = (USHORT)((total + 1) * sizeof(WCHAR));
    return 0;
}

static int file_errno(NTSTATUS st)
{
    switch (st) {
    case STATUS_OBJECT_NAME_NOT_FOUND:
    case STATUS_OBJECT_PATH_NOT_FOUND:
    case STATUS_NO_SUCH_FILE:
        return -ENOENT;
    case STATUS_INSUFFICIENT_RESOURCES:
    case STATUS_NO_MEMORY:
        return -ENOMEM;
    default:
        return -EIO;
    }
}

int ks__tls_read_file(const char *path, unsigned char **data, size_t *len)
{
    UNICODE_STRING name;
    int err = nt_path(path, &name);
    if (err != 0)
        return err;
    OBJECT_ATTRIBUTES oa;
    InitializeObjectAttributes(&oa, &name, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL, NULL);
    IO_STATUS_BLOCK iosb;
    HANDLE h = NULL;
    NTSTATUS st = ZwCreateFile(&h, GENERIC_READ | SYNCHRONIZE, &oa, &iosb, NULL,
                               FILE_ATTRIBUTE_NORMAL, FILE_SHARE_READ, FILE_OPEN,
                               FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE, NULL, 0);
    ks__tls_free(name.Buffer);
    if (!NT_SUCCESS(st))
        return file_errno(st);
    FILE_STANDARD_INFORMATION info;
    st = ZwQueryInformationFile(h, &iosb, &info, sizeof(info), FileStandardInformation);
    unsigned char *buf = NULL;
    size_t size = 0;
    if (!NT_SUCCESS(st)) {
        err = file_errno(st);
    } else if (info.EndOfFile.QuadPart > KS_TLS_FILE_MAX) {
        err = -EFBIG;
    } else {
        size = (size_t)info.EndOfFile.QuadPart;
        buf = ks__tls_alloc(size + 1); /* + 1: never a 0-byte block */
        err = buf == NULL ? -ENOMEM : 0;
    }
    size_t got = 0;
    while (err == 0 && got < size) {
        LARGE_INTEGER offset;
        offset.QuadPart = (LONGLONG)got;
        st = ZwReadFile(h, NULL, NULL, NULL, &iosb, buf + got, (ULONG)(size - got), &offset, NULL);
        if (st == STATUS_END_OF_FILE || (NT_SUCCESS(st) && iosb.Information == 0))
            break; /* the file shrank meanwhile: take what there is */
        if (!NT_SUCCESS(st))
            err = file_errno(st);
        else
            got += iosb.Information;
    }
    ZwClose(h);
    if (err != 0) {
        ks__tls_free(buf);
        return err;
    }
    *data = buf;
    *len = got;
    return 0;
}

struct big_stack_call {
    int (*fn)(void *ctx);
    void *ctx;
    int result;
};

/* PEXPAND_STACK_CALLOUT's shape (mingw-w64 has no EXPAND_STACK_CALLOUT
 * typedef to declare it with). */
static VOID NTAPI big_stack_callout(PVOID parameter)
{
    struct big_stack_call *c = parameter;
    c->result = c->fn(c->ctx);
}

int ks__tls_on_big_stack(int (*fn)(void *ctx), void *ctx)
{
    if (IoGetRemainingStackSize() >= KS_TLS_STACK)
        return fn(ctx);
    struct big_stack_call c = {fn, ctx, -ENOMEM};
    NTSTATUS st = KeExpandKernelStackAndCallout(big_stack_callout, &c, KS_TLS_STACK);
    return NT_SUCCESS(st) ? c.result : -ENOMEM;
}
