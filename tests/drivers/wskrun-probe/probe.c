/*
 * wskrun-probe.sys - test driver for tools/wskrun (no sockets).
 *
 * Its behaviour is chosen by the REG_SZ value "Mode" under the service key's
 * Parameters subkey (wskrun --param Mode=...); "Value" is an optional text
 * that the "hello" mode prints. Modes:
 *   hello        prints "probe: hello <Value>", unloads cleanly (default)
 *   crash-entry  NULL dereference in DriverEntry
 *   fail-entry   DriverEntry returns STATUS_UNSUCCESSFUL
 *   hang-unload  DriverUnload waits forever on an event that is never set
 *   crash-later  a system thread dereferences NULL 1 s after the load
 *   assert-fails the library's assertion failure (ks__assert_failed, what a
 *                failed KS_ASSERT calls in a WSKSOCK_ASSERTS build) in
 *                DriverEntry: it must end the driver, with its message
 *                (without WSKSOCK_ASSERTS: DriverEntry fails, "assertions off";
 *                on the host bed: the shim's assertion failure, a violation)
 * Every mode also logs "probe: <service> loaded mode=<mode>" and, when it
 * unloads, "probe: <service> unloading" / "probe: <service> unloaded", so
 * that tests can check the order of loads and unloads.
 */
#include <ntddk.h>

DRIVER_INITIALIZE DriverEntry;

#if defined(PROBE_KS_ASSERTS) && PROBE_KS_ASSERTS
/* src/ks_kernel.h's, called by a failed KS_ASSERT (src/ks_error.c). */
void ks__assert_failed(const char *file, int line, const char *cond);
#endif

#define PROBE_TEXT_MAX 200 /* bytes of UTF-8 text kept from a parameter */

static char g_service[PROBE_TEXT_MAX];
static char g_mode[PROBE_TEXT_MAX];
static char g_value[PROBE_TEXT_MAX];

/* Target of the deliberate faults; volatile so that the compiler emits a
 * real memory access instead of a trap instruction. */
static LONG *volatile g_null;

static KEVENT g_never; /* hang-unload: never signalled */
static KEVENT g_stop;  /* crash-later: set by DriverUnload */
static PVOID g_thread; /* crash-later: referenced thread object */

/* Appends the UTF-16 text (len characters) to out as NUL-terminated UTF-8,
 * truncated to fit; unpaired surrogates become '?'. */
static void utf16_to_utf8(const WCHAR *w, USHORT len, char *out, size_t cap)
{
    size_t o = 0;
    for (USHORT i = 0; i < len && w[i]; i++) {
        ULONG c = w[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < len && w[i + 1] >= 0xDC00 && w[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (w[i + 1] - 0xDC00);
            i++;
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            c = '?';
        }
        char b[4];
        size_t n;
        if (c < 0x80) {
            b[0] = (char)c;
            n = 1;
        } else if (c < 0x800) {
            b[0] = (char)(0xC0 | (c >> 6));
            b[1] = (char)(0x80 | (c & 0x3F));
            n = 2;
        } else if (c < 0x10000) {
            b[0] = (char)(0xE0 | (c >> 12));
            b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
            b[2] = (char)(0x80 | (c & 0x3F));
            n = 3;
        } else {
            b[0] = (char)(0xF0 | (c >> 18));
            b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
            b[2] = (char)(0x80 | ((c >> 6) & 0x3F));
            b[3] = (char)(0x80 | (c & 0x3F));
            n = 4;
        }
        if (o + n + 1 > cap)
            break;
        for (size_t k = 0; k < n; k++)
            out[o++] = b[k];
    }
    out[o] = '\0';
}

/* Reads the REG_SZ value `name` of the open key into out (UTF-8). Returns
 * FALSE, leaving out untouched, if it is missing or not a string. */
static BOOLEAN read_sz(HANDLE key, const WCHAR *name, char *out, size_t cap)
{
    UNICODE_STRING uname;
    RtlInitUnicodeString(&uname, name);
    union {
        KEY_VALUE_PARTIAL_INFORMATION info;
        UCHAR raw[sizeof(KEY_VALUE_PARTIAL_INFORMATION) + 2 * PROBE_TEXT_MAX];
    } buf;
    ULONG got = 0;
    NTSTATUS st = ZwQueryValueKey(key, &uname, KeyValuePartialInformation, &buf, sizeof buf, &got);
    if (!NT_SUCCESS(st) || (buf.info.Type != REG_SZ && buf.info.Type != REG_EXPAND_SZ))
        return FALSE;
    utf16_to_utf8((const WCHAR *)buf.info.Data, (USHORT)(buf.info.DataLength / sizeof(WCHAR)), out,
                  cap);
    return TRUE;
}

/* Copies the last component of the registry path (the service name). */
static void service_name(PCUNICODE_STRING reg)
{
    USHORT len = reg->Length / sizeof(WCHAR), start = 0;
    for (USHORT i = 0; i < len; i++)
        if (reg->Buffer[i] == L'\\')
            start = (USHORT)(i + 1);
    utf16_to_utf8(reg->Buffer + start, (USHORT)(len - start), g_service, sizeof g_service);
}

/* Reads Mode and Value from <RegistryPath>\Parameters. */
static void read_parameters(PCUNICODE_STRING reg)
{
    static const WCHAR suffix[] = L"\\Parameters";
    WCHAR path[512];
    USHORT reglen = reg->Length / sizeof(WCHAR);
    USHORT sufflen = (USHORT)(sizeof suffix / sizeof(WCHAR) - 1);
    if ((size_t)reglen + sufflen + 1 > sizeof path / sizeof(WCHAR)) {
        DbgPrint("probe: %s registry path too long\n", g_service);
        return;
    }
    RtlCopyMemory(path, reg->Buffer, reg->Length);
    RtlCopyMemory(path + reglen, suffix, sizeof suffix);
    UNICODE_STRING upath;
    RtlInitUnicodeString(&upath, path);
    OBJECT_ATTRIBUTES oa;
    InitializeObjectAttributes(&oa, &upath, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    HANDLE key;
    NTSTATUS st = ZwOpenKey(&key, KEY_READ, &oa);
    if (!NT_SUCCESS(st)) {
        DbgPrint("probe: %s no Parameters key (0x%08lx)\n", g_service, (unsigned long)st);
        return;
    }
    read_sz(key, L"Mode", g_mode, sizeof g_mode);
    read_sz(key, L"Value", g_value, sizeof g_value);
    ZwClose(key);
}

static BOOLEAN mode_is(const char *m)
{
    return strcmp(g_mode, m) == 0;
}

static VOID NTAPI crash_later_thread(PVOID ctx)
{
    (void)ctx;
    LARGE_INTEGER one_second;
    one_second.QuadPart = -10000000LL; /* relative, 100 ns units */
    NTSTATUS st = KeWaitForSingleObject(&g_stop, Executive, KernelMode, FALSE, &one_second);
    if (st == STATUS_TIMEOUT) {
        DbgPrint("probe: %s crashing in a system thread now\n", g_service);
        *g_null = 1;
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static VOID NTAPI probe_unload(PDRIVER_OBJECT driver)
{
    (void)driver;
    DbgPrint("probe: %s unloading\n", g_service);
    if (mode_is("hang-unload")) {
        DbgPrint("probe: %s hanging in DriverUnload\n", g_service);
        KeWaitForSingleObject(&g_never, Executive, KernelMode, FALSE, NULL);
    }
    if (g_thread) {
        KeSetEvent(&g_stop, IO_NO_INCREMENT, FALSE);
        KeWaitForSingleObject(g_thread, Executive, KernelMode, FALSE, NULL);
        ObDereferenceObject(g_thread);
        g_thread = NULL;
    }
    DbgPrint("probe: %s unloaded\n", g_service);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    strcpy(g_mode, "hello");
    strcpy(g_value, "(none)");
    service_name(registry_path);
    read_parameters(registry_path);
    DbgPrint("probe: %s loaded mode=%s\n", g_service, g_mode);

    if (mode_is("crash-entry")) {
        DbgPrint("probe: %s crashing in DriverEntry now\n", g_service);
        *g_null = 1;
        return STATUS_SUCCESS;
    }
    if (mode_is("fail-entry")) {
        DbgPrint("probe: %s failing DriverEntry\n", g_service);
        return STATUS_UNSUCCESSFUL;
    }
    if (mode_is("assert-fails")) {
#if defined(KSHIM_ASSERT_FAILED)
        /* The host bed: what KS_ASSERT calls there. */
        DbgPrint("probe: %s failing an assertion now\n", g_service);
        kshim_assert_failed(__FILE__, __LINE__, "probe's deliberate assertion");
#elif defined(PROBE_KS_ASSERTS) && PROBE_KS_ASSERTS
        DbgPrint("probe: %s failing an assertion now\n", g_service);
        ks__assert_failed(__FILE__, __LINE__, "probe's deliberate assertion");
        DbgPrint("probe: %s survived the assertion\n", g_service);
#else
        DbgPrint("probe: %s assertions off\n", g_service);
#endif
        return STATUS_UNSUCCESSFUL;
    }
    driver->DriverUnload = probe_unload;
    if (mode_is("hello")) {
        DbgPrint("probe: hello %s\n", g_value);
        return STATUS_SUCCESS;
    }
    if (mode_is("hang-unload")) {
        KeInitializeEvent(&g_never, NotificationEvent, FALSE);
        return STATUS_SUCCESS;
    }
    if (mode_is("crash-later")) {
        KeInitializeEvent(&g_stop, NotificationEvent, FALSE);
        HANDLE th;
        NTSTATUS st = PsCreateSystemThread(&th, THREAD_ALL_ACCESS, NULL, NULL, NULL,
                                           crash_later_thread, NULL);
        if (!NT_SUCCESS(st)) {
            DbgPrint("probe: %s PsCreateSystemThread failed 0x%08lx\n", g_service,
                     (unsigned long)st);
            return st;
        }
        /* NULL object type: mingw's PsThreadType is dllimport data. */
        st = ObReferenceObjectByHandle(th, SYNCHRONIZE, NULL, KernelMode, &g_thread, NULL);
        ZwClose(th);
        if (!NT_SUCCESS(st)) {
            g_thread = NULL;
            DbgPrint("probe: %s ObReferenceObjectByHandle failed 0x%08lx\n", g_service,
                     (unsigned long)st);
        }
        return STATUS_SUCCESS;
    }
    DbgPrint("probe: %s unknown mode '%s'\n", g_service, g_mode);
    return STATUS_INVALID_PARAMETER;
}
