/*
 * hostrun_env.c - what the runner asks the shim and the provider about the
 * run itself: its seed and completion mode (to reproduce a run), and
 * whether a WSK client is still registered after the unload.
 */
#include <ntddk.h>
#include <kshim.h>
#include <wskprov.h>

#include "hostrun.h"

void hostrun_print_config(int verbose)
{
    static const char *const names[] = {"async", "inline", "mixed"};
    WSKPROV_COMPLETION_MODE mode = wskprov_completion_mode();
    ULONG occurrence = 0;
    const char *site = kshim_fault_site(&occurrence);

    /* kshim_init() printed "kshim: seed N"; KSHIM_SEED=N reproduces the
     * provider's choices. */
    hostrun_say("completion mode %s (KSHIM_COMPLETION=async|inline|mixed)",
                (unsigned)mode < ARRAYSIZE(names) ? names[mode] : "?");
    if (site)
        hostrun_say("fault injection: %s:%lu", site, (unsigned long)occurrence);
    (void)verbose;
}

/* The provider counts live registrations (WskRegister without
 * WskDeregister) in the shim counter "wsk registrations"; a provider that
 * does not keep it reads as 0. The leak check reports the counter too; this
 * names the missing call, and works with --no-leak-check. */
int hostrun_provider_registered(void)
{
    return kshim_counter("wsk registrations") > 0;
}
