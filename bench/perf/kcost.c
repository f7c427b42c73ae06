/*
 * kcost - unit costs of the kernel services wsksock and the raw WSK driver
 * call per operation, measured where the drivers run (under Wine, by
 * bench/perf/wine-counts; see bench/PERF-NOTES.md).
 *
 * DriverEntry starts one system thread that times each probe over N calls
 * (N from the registry parameter Iterations, default 20000; the server
 * request, the IRQL read, the waits and the handoffs use N/20) with
 * KeQueryPerformanceCounter, R times (parameter Rounds, default 5), and
 * logs one line per probe and round:
 *     kcost: probe=<name> round=<r> calls=<n> ns_per_call=<t>
 * then "kcost: done". Nothing else: no socket, no WSK call.
 *
 * Probes (what one call of the probe does):
 *   empty          the timing loop alone (a volatile counter)
 *   server_call    ZwSetEvent on an event handle: under Wine exactly one
 *                  wineserver request (event_op), the unit the other costs
 *                  are expressed in
 *   irql           KeGetCurrentIrql(): on x64 an inline `mov %cr8`, a
 *                  privileged instruction Wine emulates in an exception
 *                  handler (ks__can_block, src/ks_kernel.h)
 *   spinlock       KeAcquireSpinLock + KeReleaseSpinLock (imported)
 *   set_event      KeSetEvent on an event nobody waits on
 *   clear_event    KeClearEvent on an event nobody waits on
 *   wait1_signaled KeWaitForSingleObject on a signalled notification event
 *   wait2_signaled KeWaitForMultipleObjects(WaitAny) on a signalled
 *                  notification event and an unsignalled one
 *   mdl_lock       IoAllocateMdl(64 KiB) + MmProbeAndLockPages +
 *                  MmUnlockPages + IoFreeMdl (ks__op_lock_buffer + release)
 *   irp_alloc      IoAllocateIrp(1) + IoFreeIrp
 *   irp_reuse      IoReuseIrp + IoSetCompletionRoutine (ks__op_begin)
 *   pool_1408      ExAllocatePoolWithTag(1408) + memset + ExFreePool (a
 *                  ks_sock)
 *   handoff1       one wake-up of a thread blocked in KeWaitForSingleObject
 *                  (two threads ping-pong on two synchronization events;
 *                  per one-way handoff)
 *   handoff2       the same with each wait on two objects (the event and an
 *                  unsignalled notification event, as ks__ready_rx_wait and
 *                  ks__lock_acquire_or wait)
 */
#include <ntddk.h>

#define KC_TAG ((ULONG)'k' | ((ULONG)'c' << 8) | ((ULONG)'s' << 16) | ((ULONG)'t' << 24))
#define KC_MDL_BYTES (64 * 1024)

#define LOG(...) DbgPrint("kcost: " __VA_ARGS__)

/* In ntifs.h, which a WDM driver does not include. */
NTSYSAPI NTSTATUS NTAPI ZwCreateEvent(PHANDLE EventHandle, ACCESS_MASK DesiredAccess,
                                      POBJECT_ATTRIBUTES ObjectAttributes, EVENT_TYPE EventType,
                                      BOOLEAN InitialState);
NTSYSAPI NTSTATUS NTAPI ZwSetEvent(HANDLE EventHandle, PLONG PreviousState);

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD kc_unload;

static ULONG g_iter = 20000, g_rounds = 5;
static HANDLE g_thread;
static PVOID g_thread_obj;
static volatile LONG g_sink;
static UCHAR *g_buf;

static LONGLONG now_ns(void)
{
    LARGE_INTEGER f, c = KeQueryPerformanceCounter(&f);
    return f.QuadPart > 0 ? c.QuadPart / f.QuadPart * 1000000000 +
                                c.QuadPart % f.QuadPart * 1000000000 / f.QuadPart
                          : 0;
}

static IO_COMPLETION_ROUTINE kc_done;
static NTSTATUS kc_done(PDEVICE_OBJECT d, PIRP irp, PVOID ctx)
{
    UNREFERENCED_PARAMETER(d);
    UNREFERENCED_PARAMETER(irp);
    UNREFERENCED_PARAMETER(ctx);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* ---- ping-pong between two threads ---- */

struct pingpong {
    KEVENT ping, pong; /* SynchronizationEvent */
    KEVENT never;      /* NotificationEvent, never set */
    ULONG n;
    BOOLEAN two; /* wait on (event, never) */
};

static void pp_wait(struct pingpong *p, KEVENT *ev)
{
    if (p->two) {
        PVOID objs[2] = {ev, &p->never};
        KeWaitForMultipleObjects(2, objs, WaitAny, Executive, KernelMode, FALSE, NULL, NULL);
    } else {
        KeWaitForSingleObject(ev, Executive, KernelMode, FALSE, NULL);
    }
}

static VOID NTAPI pp_thread(PVOID ctx)
{
    struct pingpong *p = ctx;
    for (ULONG i = 0; i < p->n; i++) {
        pp_wait(p, &p->ping);
        KeSetEvent(&p->pong, IO_NO_INCREMENT, FALSE);
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* Nanoseconds per one-way handoff, or -1. */
static LONGLONG pingpong(ULONG n, BOOLEAN two)
{
    struct pingpong *p = ExAllocatePoolWithTag(NonPagedPool, sizeof(*p), KC_TAG);
    HANDLE h;
    PVOID obj;
    LONGLONG t0, t1;
    if (p == NULL)
        return -1;
    KeInitializeEvent(&p->ping, SynchronizationEvent, FALSE);
    KeInitializeEvent(&p->pong, SynchronizationEvent, FALSE);
    KeInitializeEvent(&p->never, NotificationEvent, FALSE);
    p->n = n;
    p->two = two;
    if (!NT_SUCCESS(PsCreateSystemThread(&h, THREAD_ALL_ACCESS, NULL, NULL, NULL, pp_thread, p))) {
        ExFreePoolWithTag(p, KC_TAG);
        return -1;
    }
    ObReferenceObjectByHandle(h, THREAD_ALL_ACCESS, NULL, KernelMode, &obj, NULL);
    ZwClose(h);
    t0 = now_ns();
    for (ULONG i = 0; i < n; i++) {
        KeSetEvent(&p->ping, IO_NO_INCREMENT, FALSE);
        pp_wait(p, &p->pong);
    }
    t1 = now_ns();
    KeWaitForSingleObject(obj, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(obj);
    ExFreePoolWithTag(p, KC_TAG);
    return (t1 - t0) / (2 * (LONGLONG)n);
}

/* ---- single-thread probes ---- */

enum probe {
    P_EMPTY,
    P_SERVER,
    P_IRQL,
    P_SPINLOCK,
    P_SET_EVENT,
    P_CLEAR_EVENT,
    P_WAIT1,
    P_WAIT2,
    P_MDL,
    P_IRP_ALLOC,
    P_IRP_REUSE,
    P_POOL,
    P_HANDOFF1,
    P_HANDOFF2,
    P_COUNT
};

static const char *const probe_names[P_COUNT] = {
    "empty",       "server_call",    "irql",           "spinlock", "set_event",
    "clear_event", "wait1_signaled", "wait2_signaled", "mdl_lock", "irp_alloc",
    "irp_reuse",   "pool_1408",      "handoff1",       "handoff2"};

static LONGLONG run_probe(enum probe p, ULONG n)
{
    KSPIN_LOCK lock;
    KEVENT ev, off;
    PIRP irp = NULL;
    HANDLE evh = NULL;
    LONGLONG t0, t1;

    if (p == P_HANDOFF1 || p == P_HANDOFF2)
        return pingpong(n, p == P_HANDOFF2);
    KeInitializeSpinLock(&lock);
    KeInitializeEvent(&ev, NotificationEvent, TRUE);
    KeInitializeEvent(&off, NotificationEvent, FALSE);
    if (p == P_SERVER) {
        OBJECT_ATTRIBUTES oa;
        InitializeObjectAttributes(&oa, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
        if (!NT_SUCCESS(ZwCreateEvent(&evh, EVENT_ALL_ACCESS, &oa, NotificationEvent, FALSE)))
            return -1;
    }
    if (p == P_IRP_REUSE) {
        irp = IoAllocateIrp(1, FALSE);
        if (irp == NULL)
            return -1;
    }
    t0 = now_ns();
    for (ULONG i = 0; i < n; i++) {
        switch (p) {
        case P_EMPTY:
            InterlockedIncrement(&g_sink);
            break;
        case P_SERVER:
            ZwSetEvent(evh, NULL);
            break;
        case P_IRQL:
            if (KeGetCurrentIrql() != PASSIVE_LEVEL)
                InterlockedIncrement(&g_sink);
            break;
        case P_SPINLOCK: {
            KIRQL irql;
            KeAcquireSpinLock(&lock, &irql);
            KeReleaseSpinLock(&lock, irql);
            break;
        }
        case P_SET_EVENT:
            KeSetEvent(&ev, IO_NO_INCREMENT, FALSE);
            break;
        case P_CLEAR_EVENT:
            KeClearEvent(&off);
            break;
        case P_WAIT1:
            KeWaitForSingleObject(&ev, Executive, KernelMode, FALSE, NULL);
            break;
        case P_WAIT2: {
            PVOID objs[2] = {&ev, &off};
            KeWaitForMultipleObjects(2, objs, WaitAny, Executive, KernelMode, FALSE, NULL, NULL);
            break;
        }
        case P_MDL: {
            PMDL mdl = IoAllocateMdl(g_buf, KC_MDL_BYTES, FALSE, FALSE, NULL);
            if (mdl != NULL) {
                MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);
                MmUnlockPages(mdl);
                IoFreeMdl(mdl);
            }
            break;
        }
        case P_IRP_ALLOC: {
            PIRP x = IoAllocateIrp(1, FALSE);
            if (x != NULL)
                IoFreeIrp(x);
            break;
        }
        case P_IRP_REUSE:
            IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
            IoSetCompletionRoutine(irp, kc_done, NULL, TRUE, TRUE, TRUE);
            break;
        case P_POOL: {
            void *x = ExAllocatePoolWithTag(NonPagedPool, 1408, KC_TAG);
            if (x != NULL) {
                RtlZeroMemory(x, 1408);
                ExFreePoolWithTag(x, KC_TAG);
            }
            break;
        }
        default:
            break;
        }
    }
    t1 = now_ns();
    if (irp != NULL)
        IoFreeIrp(irp);
    if (evh != NULL)
        ZwClose(evh);
    return (t1 - t0) / (LONGLONG)n;
}

static VOID NTAPI kc_main(PVOID ctx)
{
    UNREFERENCED_PARAMETER(ctx);
    for (ULONG r = 0; r < g_rounds; r++) {
        for (int p = 0; p < P_COUNT; p++) {
            BOOLEAN slow = p == P_SERVER || p == P_WAIT1 || p == P_WAIT2 || p == P_HANDOFF1 ||
                           p == P_HANDOFF2 || p == P_IRQL;
            ULONG n = slow ? (g_iter / 20 > 0 ? g_iter / 20 : 1) : g_iter;
            LONGLONG ns = run_probe((enum probe)p, n);
            LOG("probe=%s round=%lu calls=%lu ns_per_call=%ld\n", probe_names[p], r, n, (LONG)ns);
        }
    }
    LOG("done\n");
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* Reads a REG_SZ number from <registry_path>\Parameters (def if absent). */
static ULONG read_param(PUNICODE_STRING registry_path, PCWSTR value_name, ULONG def)
{
    static const WCHAR sub[] = L"\\Parameters";
    ULONG kvbuf[(sizeof(KEY_VALUE_PARTIAL_INFORMATION) + 64) / sizeof(ULONG)];
    KEY_VALUE_PARTIAL_INFORMATION *kv = (KEY_VALUE_PARTIAL_INFORMATION *)kvbuf;
    WCHAR pathbuf[512];
    UNICODE_STRING path, name;
    OBJECT_ATTRIBUTES oa;
    HANDLE key;
    ULONG len = 0, v = 0, i;
    NTSTATUS st;

    if (registry_path->Length + sizeof(sub) > sizeof(pathbuf))
        return def;
    RtlCopyMemory(pathbuf, registry_path->Buffer, registry_path->Length);
    RtlCopyMemory((PUCHAR)pathbuf + registry_path->Length, sub, sizeof(sub));
    path.Buffer = pathbuf;
    path.Length = (USHORT)(registry_path->Length + sizeof(sub) - sizeof(WCHAR));
    path.MaximumLength = (USHORT)(path.Length + sizeof(WCHAR));
    RtlInitUnicodeString(&name, value_name);
    InitializeObjectAttributes(&oa, &path, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL, NULL);
    if (!NT_SUCCESS(ZwOpenKey(&key, KEY_READ, &oa)))
        return def;
    st = ZwQueryValueKey(key, &name, KeyValuePartialInformation, kv, sizeof(kvbuf), &len);
    ZwClose(key);
    if (!NT_SUCCESS(st) || kv->Type != REG_SZ)
        return def;
    for (i = 0; i + 1 < kv->DataLength; i += 2) {
        WCHAR ch = ((WCHAR *)kv->Data)[i / 2];
        if (ch == 0)
            break;
        if (ch < L'0' || ch > L'9' || v > 100000000)
            return def;
        v = v * 10 + (ULONG)(ch - L'0');
    }
    return v > 0 ? v : def;
}

static VOID kc_unload(PDRIVER_OBJECT driver)
{
    UNREFERENCED_PARAMETER(driver);
    if (g_thread_obj != NULL) {
        KeWaitForSingleObject(g_thread_obj, Executive, KernelMode, FALSE, NULL);
        ObDereferenceObject(g_thread_obj);
    }
    if (g_buf != NULL)
        ExFreePoolWithTag(g_buf, KC_TAG);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    NTSTATUS st;

    g_iter = read_param(registry_path, L"Iterations", g_iter);
    g_rounds = read_param(registry_path, L"Rounds", g_rounds);
    g_buf = ExAllocatePoolWithTag(NonPagedPool, KC_MDL_BYTES, KC_TAG);
    if (g_buf == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    driver->DriverUnload = kc_unload;
    st = PsCreateSystemThread(&g_thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, kc_main, NULL);
    if (!NT_SUCCESS(st)) {
        ExFreePoolWithTag(g_buf, KC_TAG);
        g_buf = NULL;
        return st;
    }
    ObReferenceObjectByHandle(g_thread, THREAD_ALL_ACCESS, NULL, KernelMode, &g_thread_obj, NULL);
    ZwClose(g_thread);
    return STATUS_SUCCESS;
}
