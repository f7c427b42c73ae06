/*
 * shim_services_test.c - the kernel shim's files (ZwCreateFile, ZwReadFile,
 * ZwQueryInformationFile over the Linux file system, NT names mapped as
 * under Wine), random numbers (BCryptGenRandom) and stacks
 * (IoGetRemainingStackSize, KeExpandKernelStackAndCallout): the documented
 * results, handle accounting, the rules whose breach is a violation (each
 * in a forked child that must exit with status 86), and the fault sites
 * file.open, file.read, bcrypt.rng and stack.expand (each in a re-executed
 * child with KSHIM_FAULT set). The files live in a new directory under
 * /tmp, removed at the end. Every wait is bounded. Prints
 * "kshim_services_test: N checks passed" and exits non-zero on any failure.
 */
#define _GNU_SOURCE /* mkdtemp, setenv: before ntddk.h includes <string.h> */
#include <ntddk.h>
#include <bcrypt.h>
#include <kshim.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../child.h"

static int checks, failures;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(c)) {                                                                                \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);                           \
        }                                                                                          \
    } while (0)

/* Runs fn in a child; it must end as a violation whose message has text. */
static void expect_violation(const char *name, void (*fn)(void), const char *text)
{
    char buf[8192];
    int status = child_run(fn, buf, sizeof(buf));
    checks++;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != KSHIM_EXIT_VIOLATION ||
        strstr(buf, "kshim: VIOLATION: ") == NULL || strstr(buf, text) == NULL) {
        failures++;
        fprintf(stderr, "FAIL violation %s: status 0x%x, output:\n%s\n", name, status, buf);
    }
}

/* ---- files ---- */

#define FILE_SIZE 100
#define READ_OPTIONS (FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE)

static char dir[64];        /* /tmp/kshim_services_XXXXXX */
static char data_path[128]; /* <dir>/data.bin: FILE_SIZE bytes of content */
static char sub_path[128];  /* <dir>/sub: a directory */
static UCHAR content[FILE_SIZE];

static void setup_files(void)
{
    FILE *f;
    snprintf(dir, sizeof(dir), "/tmp/kshim_services_XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(data_path, sizeof(data_path), "%s/data.bin", dir);
    snprintf(sub_path, sizeof(sub_path), "%s/sub", dir);
    for (int i = 0; i < FILE_SIZE; i++)
        content[i] = (UCHAR)(i * 7 + 1);
    f = fopen(data_path, "wb");
    if (f == NULL || fwrite(content, 1, sizeof(content), f) != sizeof(content) || fclose(f) != 0 ||
        mkdir(sub_path, 0700) != 0) {
        perror("setting up the test files");
        exit(2);
    }
}

static void cleanup_files(void)
{
    unlink(data_path);
    rmdir(sub_path);
    rmdir(dir);
}

/* prefix, then the Linux path with its slashes as backslashes, then suffix
 * (ASCII), as a NUL-terminated wide string. */
static void nt_name(WCHAR *out, size_t cap, const char *prefix, const char *path,
                    const char *suffix)
{
    size_t at = 0;
    for (const char *c = prefix; *c != '\0' && at + 1 < cap; c++)
        out[at++] = (WCHAR)(unsigned char)*c;
    for (const char *c = path; *c != '\0' && at + 1 < cap; c++)
        out[at++] = *c == '/' ? (WCHAR)'\\' : (WCHAR)(unsigned char)*c;
    for (const char *c = suffix; *c != '\0' && at + 1 < cap; c++)
        out[at++] = (WCHAR)(unsigned char)*c;
    out[at] = 0;
}

static NTSTATUS create(const WCHAR *name, ACCESS_MASK access, ULONG disposition, ULONG options,
                       HANDLE *h)
{
    UNICODE_STRING u;
    OBJECT_ATTRIBUTES oa;
    IO_STATUS_BLOCK iosb;
    NTSTATUS st;

    RtlInitUnicodeString(&u, name);
    InitializeObjectAttributes(&oa, &u, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL, NULL);
    memset(&iosb, 0x55, sizeof(iosb));
    *h = NULL;
    st = ZwCreateFile(h, access, &oa, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, FILE_SHARE_READ,
                      disposition, options, NULL, 0);
    if (st == STATUS_SUCCESS)
        CHECK(iosb.Status == STATUS_SUCCESS && iosb.Information == FILE_OPENED && *h != NULL);
    return st;
}

/* Opens an NT name for reading as drivers do (ks_tls_sys.c). */
static NTSTATUS open_name(const WCHAR *name, HANDLE *h)
{
    return create(name, GENERIC_READ | SYNCHRONIZE, FILE_OPEN, READ_OPTIONS, h);
}

/* Opens prefix + path + suffix (see nt_name) for reading. */
static NTSTATUS open_path(const char *prefix, const char *path, const char *suffix, HANDLE *h)
{
    WCHAR w[300];
    nt_name(w, ARRAYSIZE(w), prefix, path, suffix);
    return open_name(w, h);
}

/* Expects the open to fail with expect (and no handle to stay open). */
static void open_fails(const char *prefix, const char *path, const char *suffix, NTSTATUS expect)
{
    HANDLE h;
    NTSTATUS st = open_path(prefix, path, suffix, &h);
    checks++;
    if (st != expect) {
        failures++;
        fprintf(stderr, "FAIL open %s%s%s: 0x%08x, want 0x%08x\n", prefix, path, suffix,
                (unsigned)st, (unsigned)expect);
        if (st == STATUS_SUCCESS)
            ZwClose(h);
    }
}

static NTSTATUS read_at(HANDLE h, void *buf, ULONG length, PLARGE_INTEGER offset,
                        IO_STATUS_BLOCK *iosb)
{
    memset(iosb, 0x55, sizeof(*iosb));
    return ZwReadFile(h, NULL, NULL, NULL, iosb, buf, length, offset, NULL);
}

static LONG open_handles(void)
{
    struct kshim_stats st;
    kshim_get_stats(&st);
    return st.handles;
}

static void test_file_read(void)
{
    FILE_STANDARD_INFORMATION info;
    FILE_POSITION_INFORMATION pos;
    IO_STATUS_BLOCK iosb;
    LARGE_INTEGER off;
    UCHAR buf[2 * FILE_SIZE];
    LONG before = open_handles();
    HANDLE h;

    CHECK(open_path("\\??\\Z:", data_path, "", &h) == STATUS_SUCCESS);
    if (h == NULL)
        return;
    CHECK(open_handles() == before + 1);

    /* The size. */
    memset(&info, 0x55, sizeof(info));
    CHECK(ZwQueryInformationFile(h, &iosb, &info, sizeof(info), FileStandardInformation) ==
          STATUS_SUCCESS);
    CHECK(iosb.Status == STATUS_SUCCESS && iosb.Information == sizeof(info));
    CHECK(info.EndOfFile.QuadPart == FILE_SIZE && info.NumberOfLinks == 1);
    CHECK(info.DeletePending == FALSE && info.Directory == FALSE);
    CHECK(info.AllocationSize.QuadPart >= 0 && info.AllocationSize.QuadPart % 512 == 0);
    CHECK(ZwQueryInformationFile(h, &iosb, &info, sizeof(info) - 1, FileStandardInformation) ==
          STATUS_INFO_LENGTH_MISMATCH);
    CHECK(ZwQueryInformationFile(h, &iosb, &info, sizeof(info), FileBasicInformation) ==
          STATUS_INVALID_INFO_CLASS);

    /* Two pieces at the current position, then the end of the file. */
    memset(buf, 0, sizeof(buf));
    CHECK(read_at(h, buf, 60, NULL, &iosb) == STATUS_SUCCESS);
    CHECK(iosb.Status == STATUS_SUCCESS && iosb.Information == 60);
    CHECK(read_at(h, buf + 60, 60, NULL, &iosb) == STATUS_SUCCESS);
    CHECK(iosb.Status == STATUS_SUCCESS && iosb.Information == FILE_SIZE - 60);
    CHECK(memcmp(buf, content, FILE_SIZE) == 0);
    CHECK(read_at(h, buf, 60, NULL, &iosb) == STATUS_END_OF_FILE);
    CHECK(iosb.Status == STATUS_END_OF_FILE && iosb.Information == 0);
    CHECK(ZwQueryInformationFile(h, &iosb, &pos, sizeof(pos), FilePositionInformation) ==
          STATUS_SUCCESS);
    CHECK(pos.CurrentByteOffset.QuadPart == FILE_SIZE && iosb.Information == sizeof(pos));

    /* Explicit offsets move the position too; FILE_USE_FILE_POINTER_POSITION. */
    off.QuadPart = 10;
    CHECK(read_at(h, buf, 5, &off, &iosb) == STATUS_SUCCESS);
    CHECK(iosb.Information == 5 && memcmp(buf, content + 10, 5) == 0);
    off.HighPart = -1;
    off.LowPart = FILE_USE_FILE_POINTER_POSITION;
    CHECK(read_at(h, buf, 5, &off, &iosb) == STATUS_SUCCESS);
    CHECK(iosb.Information == 5 && memcmp(buf, content + 15, 5) == 0);
    off.QuadPart = FILE_SIZE - 1;
    CHECK(read_at(h, buf, 60, &off, &iosb) == STATUS_SUCCESS);
    CHECK(iosb.Information == 1 && buf[0] == content[FILE_SIZE - 1]);
    off.QuadPart = FILE_SIZE;
    CHECK(read_at(h, buf, 5, &off, &iosb) == STATUS_END_OF_FILE);
    off.QuadPart = 1000000;
    CHECK(read_at(h, buf, 5, &off, &iosb) == STATUS_END_OF_FILE);
    off.QuadPart = MAXLONGLONG;
    CHECK(read_at(h, buf, 5, &off, &iosb) == STATUS_END_OF_FILE);
    off.QuadPart = -5;
    CHECK(read_at(h, buf, 5, &off, &iosb) == STATUS_INVALID_PARAMETER);
    CHECK(read_at(h, buf, 0, NULL, &iosb) == STATUS_SUCCESS && iosb.Information == 0);

    /* An open file handle is an open handle in the leak report. */
    fprintf(stderr, "(an expected leak line follows)\n");
    CHECK(kshim_check_leaks("in test") == 1);
    CHECK(ZwClose(h) == STATUS_SUCCESS);
    CHECK(open_handles() == before);
    CHECK(kshim_check_leaks("after ZwClose") == 0);
    CHECK(read_at(h, buf, 5, NULL, &iosb) == STATUS_INVALID_HANDLE);
    CHECK(ZwQueryInformationFile(h, &iosb, &info, sizeof(info), FileStandardInformation) ==
          STATUS_INVALID_HANDLE);
}

static void test_file_names(void)
{
    LONG before = open_handles();
    IO_STATUS_BLOCK iosb;
    UCHAR b = 0;
    HANDLE h;

    /* "\DosDevices\" and a lower-case drive letter. */
    CHECK(open_path("\\DosDevices\\Z:", data_path, "", &h) == STATUS_SUCCESS);
    if (h != NULL)
        CHECK(ZwClose(h) == STATUS_SUCCESS);
    CHECK(open_path("\\??\\z:", data_path, "", &h) == STATUS_SUCCESS);
    if (h != NULL)
        CHECK(ZwClose(h) == STATUS_SUCCESS);

    /* C: is KSHIM_DRIVE_C, when set. */
    setenv("KSHIM_DRIVE_C", dir, 1);
    CHECK(open_name(L"\\??\\C:\\data.bin", &h) == STATUS_SUCCESS);
    if (h != NULL) {
        CHECK(read_at(h, &b, 1, NULL, &iosb) == STATUS_SUCCESS && b == content[0]);
        CHECK(ZwClose(h) == STATUS_SUCCESS);
    }
    CHECK(open_name(L"\\??\\C:\\missing.bin", &h) == STATUS_OBJECT_NAME_NOT_FOUND);
    unsetenv("KSHIM_DRIVE_C");
    CHECK(open_name(L"\\??\\C:\\data.bin", &h) == STATUS_OBJECT_PATH_NOT_FOUND);

    /* What is not there. */
    open_fails("\\??\\Z:", dir, "\\missing.bin", STATUS_OBJECT_NAME_NOT_FOUND);
    open_fails("\\??\\Z:", dir, "\\nodir\\data.bin", STATUS_OBJECT_PATH_NOT_FOUND);
    open_fails("\\??\\Z:", data_path, "\\x", STATUS_OBJECT_PATH_NOT_FOUND);
    /* Directories. */
    open_fails("\\??\\Z:", dir, "", STATUS_FILE_IS_A_DIRECTORY);
    open_fails("\\??\\Z:", sub_path, "", STATUS_FILE_IS_A_DIRECTORY);
    open_fails("\\??\\Z:", "", "\\", STATUS_FILE_IS_A_DIRECTORY);
    {
        WCHAR w[300];
        nt_name(w, ARRAYSIZE(w), "\\??\\Z:", sub_path, "");
        CHECK(create(w, GENERIC_READ | SYNCHRONIZE, FILE_OPEN, FILE_SYNCHRONOUS_IO_NONALERT, &h) ==
              STATUS_NOT_SUPPORTED);
    }
    /* Other forms. */
    open_fails("\\Device\\HarddiskVolume1", data_path, "", STATUS_OBJECT_PATH_NOT_FOUND);
    open_fails("", data_path, "", STATUS_OBJECT_PATH_NOT_FOUND);
    open_fails("Z:", data_path, "", STATUS_OBJECT_PATH_NOT_FOUND);
    open_fails("\\??\\Q:", data_path, "", STATUS_OBJECT_PATH_NOT_FOUND);
    open_fails("\\??\\ZZ:", data_path, "", STATUS_OBJECT_PATH_NOT_FOUND);
    open_fails("\\??\\Z:data.bin", "", "", STATUS_OBJECT_PATH_NOT_FOUND);
    open_fails("\\??\\Z:", "", "", STATUS_OBJECT_PATH_NOT_FOUND);
    open_fails("\\GLOBAL??\\Z:", data_path, "", STATUS_OBJECT_PATH_NOT_FOUND);
    /* Invalid names. */
    open_fails("\\??\\Z:", dir, "\\sub\\..\\data.bin", STATUS_OBJECT_NAME_INVALID);
    open_fails("\\??\\Z:", dir, "\\.\\data.bin", STATUS_OBJECT_NAME_INVALID);
    open_fails("\\??\\Z:", dir, "\\\\data.bin", STATUS_OBJECT_NAME_INVALID);
    open_fails("\\??\\Z:", data_path, "\\", STATUS_OBJECT_NAME_INVALID);
    open_fails("\\??\\Z:", dir, "\\data*.bin", STATUS_OBJECT_NAME_INVALID);
    open_fails("\\??\\Z:", dir, "\\data.bin:stream", STATUS_OBJECT_NAME_INVALID);
    open_fails("\\??\\Z:", dir, "\\a/b", STATUS_OBJECT_NAME_INVALID);
    CHECK(open_name(L"", &h) == STATUS_OBJECT_NAME_INVALID);
    CHECK(open_handles() == before);
}

static void test_file_access(void)
{
    const ULONG sync = FILE_SYNCHRONOUS_IO_NONALERT;
    LONG before = open_handles();
    FILE_STANDARD_INFORMATION info;
    IO_STATUS_BLOCK iosb;
    WCHAR w[300];
    UCHAR b;
    HANDLE h;

    nt_name(w, ARRAYSIZE(w), "\\??\\Z:", data_path, "");

    /* Without FILE_READ_DATA: the size, but no data. */
    CHECK(create(w, FILE_READ_ATTRIBUTES | SYNCHRONIZE, FILE_OPEN, READ_OPTIONS, &h) ==
          STATUS_SUCCESS);
    if (h != NULL) {
        CHECK(ZwQueryInformationFile(h, &iosb, &info, sizeof(info), FileStandardInformation) ==
              STATUS_SUCCESS);
        CHECK(info.EndOfFile.QuadPart == FILE_SIZE);
        CHECK(read_at(h, &b, 1, NULL, &iosb) == STATUS_ACCESS_DENIED);
        CHECK(ZwClose(h) == STATUS_SUCCESS);
    }
    /* FILE_READ_DATA itself; the alertable synchronous mode. */
    CHECK(create(w, FILE_READ_DATA | SYNCHRONIZE, FILE_OPEN, FILE_SYNCHRONOUS_IO_ALERT, &h) ==
          STATUS_SUCCESS);
    if (h != NULL) {
        CHECK(read_at(h, &b, 1, NULL, &iosb) == STATUS_SUCCESS && b == content[0]);
        CHECK(ZwClose(h) == STATUS_SUCCESS);
    }

    /* Anything that may write is denied. */
    CHECK(create(w, GENERIC_READ | SYNCHRONIZE, FILE_CREATE, READ_OPTIONS, &h) ==
          STATUS_ACCESS_DENIED);
    CHECK(create(w, GENERIC_READ | SYNCHRONIZE, FILE_OPEN_IF, READ_OPTIONS, &h) ==
          STATUS_ACCESS_DENIED);
    CHECK(create(w, GENERIC_READ | SYNCHRONIZE, FILE_OVERWRITE_IF, READ_OPTIONS, &h) ==
          STATUS_ACCESS_DENIED);
    CHECK(create(w, GENERIC_READ | SYNCHRONIZE, FILE_SUPERSEDE, READ_OPTIONS, &h) ==
          STATUS_ACCESS_DENIED);
    CHECK(create(w, GENERIC_WRITE | SYNCHRONIZE, FILE_OPEN, READ_OPTIONS, &h) ==
          STATUS_ACCESS_DENIED);
    CHECK(create(w, FILE_READ_DATA | FILE_WRITE_DATA | SYNCHRONIZE, FILE_OPEN, READ_OPTIONS, &h) ==
          STATUS_ACCESS_DENIED);
    CHECK(create(w, GENERIC_READ | DELETE | SYNCHRONIZE, FILE_OPEN, READ_OPTIONS, &h) ==
          STATUS_ACCESS_DENIED);
    /* Parameters the I/O manager refuses. */
    CHECK(create(w, GENERIC_READ | SYNCHRONIZE, FILE_MAXIMUM_DISPOSITION + 1, READ_OPTIONS, &h) ==
          STATUS_INVALID_PARAMETER);
    CHECK(create(w, FILE_READ_DATA, FILE_OPEN, READ_OPTIONS, &h) == STATUS_INVALID_PARAMETER);
    CHECK(create(w, GENERIC_READ | SYNCHRONIZE, FILE_OPEN,
                 FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT,
                 &h) == STATUS_INVALID_PARAMETER);
    CHECK(create(w, GENERIC_READ | SYNCHRONIZE, FILE_OPEN,
                 sync | FILE_DIRECTORY_FILE | FILE_NON_DIRECTORY_FILE,
                 &h) == STATUS_INVALID_PARAMETER);
    CHECK(create(w, GENERIC_READ | SYNCHRONIZE, FILE_OPEN, sync | 0x01000000, &h) ==
          STATUS_INVALID_PARAMETER);
    /* What the shim does not do. */
    CHECK(create(w, GENERIC_READ | SYNCHRONIZE, FILE_OPEN, FILE_NON_DIRECTORY_FILE, &h) ==
          STATUS_NOT_SUPPORTED);
    CHECK(create(w, GENERIC_READ | SYNCHRONIZE, FILE_OPEN, sync | FILE_DIRECTORY_FILE, &h) ==
          STATUS_NOT_SUPPORTED);
    CHECK(create(w, GENERIC_READ | SYNCHRONIZE, FILE_OPEN, sync | FILE_OPEN_BY_FILE_ID, &h) ==
          STATUS_NOT_SUPPORTED);
    CHECK(open_handles() == before);
}

/* A handle that is not a file's. */
static void test_file_type_mismatch(void)
{
    UNICODE_STRING u;
    OBJECT_ATTRIBUTES oa;
    IO_STATUS_BLOCK iosb;
    FILE_STANDARD_INFORMATION info;
    UCHAR b;
    HANDLE h = NULL;

    CHECK(kshim_registry_create_key("\\Registry\\Machine\\KshimServicesTest") == 0);
    RtlInitUnicodeString(&u, L"\\Registry\\Machine\\KshimServicesTest");
    InitializeObjectAttributes(&oa, &u, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL, NULL);
    CHECK(ZwOpenKey(&h, KEY_READ, &oa) == STATUS_SUCCESS);
    if (h != NULL) {
        CHECK(read_at(h, &b, 1, NULL, &iosb) == STATUS_OBJECT_TYPE_MISMATCH);
        CHECK(ZwQueryInformationFile(h, &iosb, &info, sizeof(info), FileStandardInformation) ==
              STATUS_OBJECT_TYPE_MISMATCH);
        CHECK(ZwClose(h) == STATUS_SUCCESS);
    }
    kshim_registry_clear();
}

/* ---- BCryptGenRandom ---- */

static void test_rng(void)
{
    UCHAR a[32], b[32], zero[32];
    const ULONG big = 100000;
    UCHAR *p = calloc(1, big);
    ULONG zeros = 0;

    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    memset(zero, 0, sizeof(zero));
    CHECK(BCryptGenRandom(NULL, a, sizeof(a), BCRYPT_USE_SYSTEM_PREFERRED_RNG) == STATUS_SUCCESS);
    CHECK(BCryptGenRandom(NULL, b, sizeof(b), BCRYPT_USE_SYSTEM_PREFERRED_RNG) == STATUS_SUCCESS);
    CHECK(memcmp(a, zero, sizeof(a)) != 0 && memcmp(b, zero, sizeof(b)) != 0);
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    CHECK(BCRYPT_SUCCESS(BCryptGenRandom(
        NULL, a, sizeof(a), BCRYPT_USE_SYSTEM_PREFERRED_RNG | BCRYPT_RNG_USE_ENTROPY_IN_BUFFER)));

    /* A long request is filled to its end (about 1 byte in 256 is 0). */
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK(BCryptGenRandom(NULL, p, big, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == STATUS_SUCCESS);
        for (ULONG i = 0; i < big; i++)
            zeros += p[i] == 0;
        CHECK(zeros < big / 64);
        CHECK(memcmp(p + big - sizeof(zero), zero, sizeof(zero)) != 0);
        free(p);
    }
    CHECK(BCryptGenRandom(NULL, NULL, 0, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == STATUS_SUCCESS);

    /* Handles: NULL with the flag, and only then; the buffer stays as it was. */
    memset(a, 0xaa, sizeof(a));
    CHECK(BCryptGenRandom((BCRYPT_ALG_HANDLE)(ULONG_PTR)0x1234, a, sizeof(a),
                          BCRYPT_USE_SYSTEM_PREFERRED_RNG) == STATUS_INVALID_HANDLE);
    CHECK(BCryptGenRandom(NULL, a, sizeof(a), 0) == STATUS_INVALID_HANDLE);
    CHECK(BCryptGenRandom((BCRYPT_ALG_HANDLE)(ULONG_PTR)0x1234, a, sizeof(a), 0) ==
          STATUS_INVALID_HANDLE);
    CHECK(a[0] == 0xaa && a[31] == 0xaa);
    CHECK(BCryptGenRandom(NULL, a, sizeof(a), BCRYPT_USE_SYSTEM_PREFERRED_RNG | 0x8) ==
          STATUS_INVALID_PARAMETER);
    CHECK(BCryptGenRandom(NULL, NULL, 4, BCRYPT_USE_SYSTEM_PREFERRED_RNG) ==
          STATUS_INVALID_PARAMETER);
}

/* ---- stacks ---- */

/* What IoGetRemainingStackSize says depth frames (of at least 512 bytes
 * each) below the caller. */
__attribute__((noinline)) static ULONG_PTR remaining_at_depth(int depth)
{
    volatile UCHAR pad[512];
    ULONG_PTR r;
    pad[0] = (UCHAR)depth;
    r = depth == 0 ? IoGetRemainingStackSize() : remaining_at_depth(depth - 1);
    return r + (pad[0] != (UCHAR)depth); /* pad stays live across the call */
}

static int callout_calls;
static PVOID callout_parameter;
static KIRQL callout_irql;
static ULONG_PTR callout_remaining;

static VOID counting_callout(PVOID parameter)
{
    callout_calls++;
    callout_parameter = parameter;
    callout_irql = KeGetCurrentIrql();
    callout_remaining = IoGetRemainingStackSize();
}

static volatile ULONG_PTR thread_remaining, thread_low, thread_high, thread_frame;

static VOID stack_thread(PVOID context)
{
    ULONG_PTR low, high;
    (void)context;
    IoGetStackLimits(&low, &high);
    thread_low = low;
    thread_high = high;
    thread_frame = (ULONG_PTR)__builtin_frame_address(0);
    thread_remaining = IoGetRemainingStackSize();
}

static void test_stack(void)
{
    ULONG_PTR low = 0, high = 0, here = (ULONG_PTR)__builtin_frame_address(0);
    ULONG_PTR r = IoGetRemainingStackSize(), shallow, deep;
    LARGE_INTEGER timeout;
    PVOID thread = NULL;
    KIRQL old;
    HANDLE h = NULL;
    int token;

    IoGetStackLimits(&low, &high);
    CHECK(low < high && low < here && here <= high);
    CHECK(r > 0 && r < here - low && r > (here - low) - 4096);
    shallow = remaining_at_depth(1);
    deep = remaining_at_depth(20);
    CHECK(shallow > 0 && deep > 0 && deep < shallow);
    CHECK(shallow - deep >= 19 * 512);

    /* In a system thread: its own stack. */
    CHECK(PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, stack_thread, NULL) ==
          STATUS_SUCCESS);
    CHECK(ObReferenceObjectByHandle(h, SYNCHRONIZE, *PsThreadType, KernelMode, &thread, NULL) ==
          STATUS_SUCCESS);
    CHECK(ZwClose(h) == STATUS_SUCCESS);
    if (thread != NULL) {
        timeout.QuadPart = -10000LL * 10000; /* 10 s */
        CHECK(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, &timeout) ==
              STATUS_WAIT_0);
        ObDereferenceObject(thread);
        CHECK(thread_low < thread_high && thread_high != high);
        CHECK(thread_low < thread_frame && thread_frame <= thread_high);
        CHECK(thread_remaining > 0 && thread_remaining < thread_frame - thread_low);
    }

    /* The callout runs once, with its parameter, at the caller's IRQL. */
    CHECK(MAXIMUM_EXPANSION_SIZE == 0xF000 - 0x800 && KERNEL_STACK_SIZE == 0x6000);
    CHECK(KeExpandKernelStackAndCallout(counting_callout, &token, MAXIMUM_EXPANSION_SIZE) ==
          STATUS_SUCCESS);
    CHECK(callout_calls == 1 && callout_parameter == &token && callout_irql == PASSIVE_LEVEL);
    CHECK(callout_remaining >= MAXIMUM_EXPANSION_SIZE && callout_remaining < r);
    KeRaiseIrql(APC_LEVEL, &old);
    CHECK(KeExpandKernelStackAndCallout(counting_callout, NULL, KERNEL_STACK_SIZE) ==
          STATUS_SUCCESS);
    KeLowerIrql(old);
    CHECK(callout_calls == 2 && callout_parameter == NULL && callout_irql == APC_LEVEL);
    /* An oversized Size is refused, the callout not called. */
    CHECK(KeExpandKernelStackAndCallout(counting_callout, &token, MAXIMUM_EXPANSION_SIZE + 1) ==
          STATUS_INVALID_PARAMETER_3);
    CHECK(KeExpandKernelStackAndCallout(counting_callout, &token, (SIZE_T)-1) ==
          STATUS_INVALID_PARAMETER_3);
    CHECK(callout_calls == 2);
}

/* ---- fault injection (in a re-executed child with KSHIM_FAULT) ---- */

static int fault_child(const char *site, const char *path)
{
    IO_STATUS_BLOCK iosb;
    UCHAR buf[8];
    HANDLE h = NULL;
    int bad = 0;

    kshim_init();
    if (strcmp(site, "file.open") == 0) {
        if (open_path("\\??\\Z:", path, "", &h) != STATUS_INSUFFICIENT_RESOURCES || h != NULL)
            bad |= 1;
        if (open_path("\\??\\Z:", path, "", &h) != STATUS_SUCCESS) /* it fails once */
            bad |= 2;
        else
            ZwClose(h);
    } else if (strcmp(site, "file.read") == 0) {
        if (open_path("\\??\\Z:", path, "", &h) != STATUS_SUCCESS)
            return 4;
        if (read_at(h, buf, sizeof(buf), NULL, &iosb) != STATUS_UNEXPECTED_IO_ERROR)
            bad |= 1;
        if (read_at(h, buf, sizeof(buf), NULL, &iosb) != STATUS_SUCCESS ||
            iosb.Information != sizeof(buf) || memcmp(buf, content, sizeof(buf)) != 0)
            bad |= 2; /* the failed read did not move the position */
        ZwClose(h);
    } else if (strcmp(site, "bcrypt.rng") == 0) {
        memset(buf, 0xaa, sizeof(buf));
        if (BCryptGenRandom(NULL, buf, sizeof(buf), BCRYPT_USE_SYSTEM_PREFERRED_RNG) !=
                STATUS_UNSUCCESSFUL ||
            buf[0] != 0xaa)
            bad |= 1;
        if (BCryptGenRandom(NULL, buf, sizeof(buf), BCRYPT_USE_SYSTEM_PREFERRED_RNG) !=
            STATUS_SUCCESS)
            bad |= 2;
    } else if (strcmp(site, "stack.expand") == 0) {
        if (KeExpandKernelStackAndCallout(counting_callout, NULL, KERNEL_STACK_SIZE) !=
                STATUS_NO_MEMORY ||
            callout_calls != 0)
            bad |= 1;
        if (KeExpandKernelStackAndCallout(counting_callout, NULL, KERNEL_STACK_SIZE) !=
                STATUS_SUCCESS ||
            callout_calls != 1)
            bad |= 2;
    } else {
        return 8;
    }
    if (!kshim_fault_fired())
        bad |= 16;
    if (kshim_check_leaks("in the fault child") != 0)
        bad |= 32;
    return bad;
}

static void test_faults(void)
{
    static const char *const sites[] = {"file.open", "file.read", "bcrypt.rng", "stack.expand"};
    for (size_t i = 0; i < ARRAYSIZE(sites); i++) {
        char fault[64];
        int status = 0;
        pid_t pid;

        snprintf(fault, sizeof(fault), "%s:1", sites[i]);
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid == 0) {
            char *argv[] = {(char *)"/proc/self/exe", (char *)"fault-child", (char *)sites[i],
                            data_path, NULL};
            setenv("KSHIM_FAULT", fault, 1);
            unsetenv("KSHIM_FAULT_REPORT");
            alarm(20);
            execv(argv[0], argv);
            _exit(127);
        }
        waitpid(pid, &status, 0);
        checks++;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failures++;
            fprintf(stderr, "FAIL fault %s: child status 0x%x\n", fault, status);
        }
    }
}

/* ---- violations (each in a forked child) ---- */

static void v_create_at_dispatch(void)
{
    HANDLE h;
    kshim_set_irql(DISPATCH_LEVEL);
    open_path("\\??\\Z:", data_path, "", &h);
}

static void v_create_relative(void)
{
    UNICODE_STRING u;
    OBJECT_ATTRIBUTES oa;
    IO_STATUS_BLOCK iosb;
    HANDLE h;
    RtlInitUnicodeString(&u, L"data.bin");
    InitializeObjectAttributes(&oa, &u, OBJ_KERNEL_HANDLE, (HANDLE)(ULONG_PTR)0x1234, NULL);
    ZwCreateFile(&h, GENERIC_READ | SYNCHRONIZE, &oa, &iosb, NULL, FILE_ATTRIBUTE_NORMAL,
                 FILE_SHARE_READ, FILE_OPEN, READ_OPTIONS, NULL, 0);
}

static void v_read_at_apc(void)
{
    IO_STATUS_BLOCK iosb;
    UCHAR b;
    HANDLE h;
    KIRQL old;
    if (open_path("\\??\\Z:", data_path, "", &h) != STATUS_SUCCESS)
        return;
    KeRaiseIrql(APC_LEVEL, &old);
    read_at(h, &b, 1, NULL, &iosb);
}

static void v_read_with_apc_context(void)
{
    IO_STATUS_BLOCK iosb;
    UCHAR b;
    HANDLE h;
    if (open_path("\\??\\Z:", data_path, "", &h) != STATUS_SUCCESS)
        return;
    ZwReadFile(h, NULL, NULL, &iosb, &iosb, &b, 1, NULL, NULL);
}

static void v_query_at_dispatch(void)
{
    IO_STATUS_BLOCK iosb;
    FILE_STANDARD_INFORMATION info;
    HANDLE h;
    if (open_path("\\??\\Z:", data_path, "", &h) != STATUS_SUCCESS)
        return;
    kshim_set_irql(DISPATCH_LEVEL);
    ZwQueryInformationFile(h, &iosb, &info, sizeof(info), FileStandardInformation);
}

static void v_rng_at_dispatch(void)
{
    UCHAR b[4];
    kshim_set_irql(DISPATCH_LEVEL);
    BCryptGenRandom(NULL, b, sizeof(b), BCRYPT_USE_SYSTEM_PREFERRED_RNG);
}

static void v_expand_at_dispatch(void)
{
    kshim_set_irql(DISPATCH_LEVEL);
    KeExpandKernelStackAndCallout(counting_callout, NULL, KERNEL_STACK_SIZE);
}

static VOID raising_callout(PVOID parameter)
{
    KIRQL old;
    (void)parameter;
    KeRaiseIrql(APC_LEVEL, &old);
}

static void v_callout_changes_irql(void)
{
    KeExpandKernelStackAndCallout(raising_callout, NULL, KERNEL_STACK_SIZE);
}

static VOID terminating_callout(PVOID parameter)
{
    (void)parameter;
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static VOID terminating_thread(PVOID context)
{
    (void)context;
    KeExpandKernelStackAndCallout(terminating_callout, NULL, KERNEL_STACK_SIZE);
}

static void v_terminate_in_callout(void)
{
    LARGE_INTEGER d;
    HANDLE h;
    if (PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, terminating_thread, NULL) !=
        STATUS_SUCCESS)
        return;
    d.QuadPart = -10000LL * 10000; /* the violation ends the process first */
    KeDelayExecutionThread(KernelMode, FALSE, &d);
}

static void test_violations(void)
{
    expect_violation("ZwCreateFile at DISPATCH", v_create_at_dispatch, "ZwCreateFile at IRQL 2");
    expect_violation("ZwCreateFile relative", v_create_relative, "absolute names only");
    expect_violation("ZwReadFile at APC", v_read_at_apc, "ZwReadFile at IRQL 1");
    expect_violation("ZwReadFile with an APC context", v_read_with_apc_context, "APC routine");
    expect_violation("ZwQueryInformationFile at DISPATCH", v_query_at_dispatch,
                     "ZwQueryInformationFile at IRQL 2");
    expect_violation("BCryptGenRandom at DISPATCH", v_rng_at_dispatch, "BCryptGenRandom at IRQL 2");
    expect_violation("KeExpandKernelStackAndCallout at DISPATCH", v_expand_at_dispatch,
                     "KeExpandKernelStackAndCallout at IRQL 2");
    expect_violation("callout returns at another IRQL", v_callout_changes_irql,
                     "the callout returned at IRQL 1");
    expect_violation("PsTerminateSystemThread in a callout", v_terminate_in_callout,
                     "PsTerminateSystemThread inside a KeExpandKernelStackAndCallout callout");
}

int main(int argc, char **argv)
{
    if (argc > 3 && strcmp(argv[1], "fault-child") == 0) {
        for (int i = 0; i < FILE_SIZE; i++)
            content[i] = (UCHAR)(i * 7 + 1);
        return fault_child(argv[2], argv[3]);
    }
    kshim_init();
    setup_files();
    test_file_read();
    test_file_names();
    test_file_access();
    test_file_type_mismatch();
    test_rng();
    test_stack();
    test_faults();
    test_violations();
    cleanup_files();
    CHECK(kshim_check_leaks("at the end") == 0);
    if (failures > 0) {
        fprintf(stderr, "kshim_services_test: %d of %d checks FAILED\n", failures, checks);
        return 1;
    }
    printf("kshim_services_test: %d checks passed\n", checks);
    return 0;
}
