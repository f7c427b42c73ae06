/*
 * ktest.c - DriverEntry/DriverUnload of the ktest scenario driver.
 *
 * Registry parameters (REG_SZ under the service key's Parameters subkey,
 * read with ks_param_get/ks_param_get_int):
 *   Test     scenario: a name of kt_scenarios[] below (each is run by a
 *            case of tests/wine/wsksuite.py; ctest suite_lists checks that)
 *   Port     the native peer's port (client, reset, close-blocked, resolve,
 *            stack-paged, nonblock, timeouts, aio, races), a port without
 *            listener (refused) or a free port for ktest's own listener
 *            (badinput, unload-busy, options, listen-close)
 *   Port2    a second free port (close-blocked's, nonblock's, timeouts',
 *            aio's, listen-close's and races' listener)
 *   Bytes    client: bytes to stream (default 8 MiB)
 *   Seed     client: pattern seed (default 42)
 *   Timeout  seconds the scenario may take before it is failed (default 60)
 *   Wine     1 under Wine: tolerate the Wine behaviours documented where
 *            they are checked (default 0: Windows semantics only)
 */
#include "ktest.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD ktest_unload;

struct kt_params kt_param;

static const struct {
    const char *name;
    enum kt_outcome (*fn)(void);
} kt_scenarios[] = {
    {"client", kt_client},
    {"refused", kt_refused},
    {"reset", kt_reset},
    {"close-blocked", kt_close_blocked},
    {"badinput", kt_badinput},
    {"unload-busy", kt_unload_busy},
    {"stack-paged", kt_stack_paged},
    {"options", kt_options},
    {"resolve", kt_resolve},
    {"nonblock", kt_nonblock},
    {"timeouts", kt_timeouts},
    {"aio", kt_aio},
    {"listen-close", kt_listen_close},
    {"races", kt_races},
};

static enum kt_outcome (*kt_scenario_fn)(void);
static int kt_started;            /* ks_startup succeeded */
static volatile LONG kt_deferred; /* the scenario reports from DriverUnload */
static volatile LONG kt_reported; /* RESULT logged */
static KEVENT kt_scenario_done;

static void report(int pass)
{
    if (InterlockedExchange(&kt_reported, 1) == 0)
        KT_LOG("%s RESULT %s\n", kt_param.test, pass ? "pass" : "fail");
}

static VOID NTAPI scenario_thread(PVOID ctx)
{
    (void)ctx;
    if (kt_scenario_fn() == KT_DEFERRED)
        InterlockedExchange(&kt_deferred, 1);
    KeSetEvent(&kt_scenario_done, IO_NO_INCREMENT, FALSE);
    kt_thread_exit();
}

static VOID NTAPI supervisor_thread(PVOID ctx)
{
    LARGE_INTEGER t;
    NTSTATUS st = STATUS_UNSUCCESSFUL;
    LONGLONG t0 = kt_now_ms();

    (void)ctx;
    if (kt_spawn(scenario_thread, NULL) >= 0) {
        t.QuadPart = -(LONGLONG)kt_param.timeout * 1000 * 10000;
        st = KeWaitForSingleObject(&kt_scenario_done, Executive, KernelMode, FALSE, &t);
    }
    if (st != STATUS_SUCCESS) {
        KT_LOG("FAIL %s: scenario did not finish within %d s (stuck at: %s)\n", kt_param.test,
               kt_param.timeout, kt_step);
        report(0);
    } else if (!kt_deferred) {
        KT_LOG("%s finished in %ld ms, %ld failed checks\n", kt_param.test,
               (long)(kt_now_ms() - t0), (long)kt_failures);
        report(kt_failures == 0);
    }
    kt_thread_exit();
}

static VOID ktest_unload(PDRIVER_OBJECT driver)
{
    LONGLONG t0 = kt_now_ms(), cleanup_ms;
    int joined;

    (void)driver;
    KT_LOG("unload: start\n");
    if (kt_started)
        ks_cleanup();
    cleanup_ms = kt_now_ms() - t0;
    KT_LOG("unload: ks_cleanup returned after %ld ms\n", (long)cleanup_ms);
    joined = kt_join_all(15000);
    if (kt_deferred && kt_scenario_fn == kt_unload_busy) {
        kt_unload_busy_finish(t0, joined);
        report(joined && kt_failures == 0);
    }
    if (kt_deferred && kt_scenario_fn == kt_races) {
        kt_races_finish(t0, cleanup_ms, joined);
        report(joined && kt_failures == 0);
    }
    if (!joined) {
        KT_LOG("FAIL unload: threads still running 15 s after ks_cleanup\n");
        report(0);
        /* Returning now would unmap code that threads still run. */
        while (!kt_join_all(5000))
            KT_LOG("unload: still waiting for threads\n");
    }
    if (!kt_reported) {
        KT_LOG("FAIL unload before the scenario reported (stuck at: %s)\n", kt_step);
        report(0);
    }
    KT_LOG("unload: done in %ld ms\n", (long)(kt_now_ms() - t0));
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    size_t i;
    int r;

    driver->DriverUnload = ktest_unload;
    kt_util_init();
    KeInitializeEvent(&kt_scenario_done, NotificationEvent, FALSE);

    r = ks_param_get(registry_path, "Test", kt_param.test, sizeof(kt_param.test));
    if (r < 0) {
        KT_LOG("FAIL parameter Test: %d (%s)\n", r, kt_errname(r));
        RtlCopyMemory(kt_param.test, "none", 5);
    }
    kt_param.port = ks_param_get_int(registry_path, "Port", 0);
    kt_param.port2 = ks_param_get_int(registry_path, "Port2", 0);
    kt_param.bytes = ks_param_get_int(registry_path, "Bytes", 8 << 20);
    kt_param.seed = ks_param_get_int(registry_path, "Seed", 42);
    kt_param.timeout = ks_param_get_int(registry_path, "Timeout", 60);
    kt_param.wine = ks_param_get_int(registry_path, "Wine", 0);
    if (kt_param.timeout <= 0)
        kt_param.timeout = 60;
    KT_LOG("test=%s port=%d port2=%d bytes=%ld seed=%d timeout=%d wine=%d\n", kt_param.test,
           kt_param.port, kt_param.port2, kt_param.bytes, kt_param.seed, kt_param.timeout,
           kt_param.wine);

    for (i = 0; i < sizeof(kt_scenarios) / sizeof(kt_scenarios[0]); i++) {
        const char *a = kt_scenarios[i].name, *b = kt_param.test;
        while (*a && *a == *b)
            a++, b++;
        if (*a == 0 && *b == 0)
            kt_scenario_fn = kt_scenarios[i].fn;
    }
    if (!kt_scenario_fn) {
        KT_LOG("FAIL unknown scenario '%s'\n", kt_param.test);
        report(0);
        return STATUS_SUCCESS; /* stays loaded so the run ends normally */
    }

    if (kt_scenario_fn == kt_badinput)
        kt_badinput_params(registry_path);

    r = ks_startup();
    if (r != 0) {
        KT_LOG("FAIL ks_startup() = %d (%s)\n", r, kt_errname(r));
        report(0);
        return STATUS_SUCCESS;
    }
    kt_started = 1;
    if (kt_spawn(supervisor_thread, NULL) < 0)
        report(0);
    return STATUS_SUCCESS;
}
