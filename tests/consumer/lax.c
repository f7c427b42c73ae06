/* lax - a driver as newcomers write it: no DriverEntry prototype, which the
 * default warnings (-Wmissing-prototypes, errors) reject. tests/consumer
 * builds it with NO_WERROR (a warning) and with WARNINGS (none). */
#include <ntddk.h>

#include "wsksock.h"

static void lax_unload(PDRIVER_OBJECT d)
{
    (void)d;
    ks_cleanup();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT d, PUNICODE_STRING r)
{
    (void)r;
    if (ks_startup() != 0)
        return STATUS_UNSUCCESSFUL;
    d->DriverUnload = lax_unload;
    DbgPrint("lax: loaded\n");
    return STATUS_SUCCESS;
}
