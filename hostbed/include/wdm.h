/* wdm.h - the host test bed: see ntddk.h. */
#include <ntddk.h>
