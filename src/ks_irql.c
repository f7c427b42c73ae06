/*
 * ks_irql.c - whether the IRQL must be read at all (see ks__can_block).
 *
 * Wine's ntoskrnl.exe runs drivers as user-mode code at an IRQL that is
 * always PASSIVE_LEVEL, and every read of it traps. It is recognised by an
 * export Windows does not have: wine_ntoskrnl_main_loop, which Wine's
 * ntoskrnl.exe exports for its winedevice.exe host. On Windows the name is
 * not found and every check reads the IRQL, as before.
 */
#include "ks_kernel.h"

volatile LONG ks__irql_always_passive;

void ks__irql_choose(void)
{
    UNICODE_STRING name;
    RtlInitUnicodeString(&name, L"wine_ntoskrnl_main_loop");
    InterlockedExchange(&ks__irql_always_passive, MmGetSystemRoutineAddress(&name) != NULL);
}
