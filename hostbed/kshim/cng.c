/*
 * cng.c - what drivers take from cng.sys: BCryptGenRandom with the
 * system-preferred generator (bcrypt.h), served by getrandom(2).
 */
#include "kshim_internal.h"

#include <bcrypt.h>

#include <errno.h>
#include <sys/random.h>

/* BCryptGenRandom (bcrypt.h): "BCRYPT_USE_SYSTEM_PREFERRED_RNG ... The
 * hAlgorithm parameter must be NULL ... only supported at PASSIVE_LEVEL". */
NTSTATUS BCryptGenRandom(BCRYPT_ALG_HANDLE algorithm, PUCHAR buffer, ULONG length, ULONG flags)
{
    ULONG done = 0;

    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        kshim_violation("BCryptGenRandom at IRQL %u (BCRYPT_USE_SYSTEM_PREFERRED_RNG: "
                        "PASSIVE_LEVEL only)",
                        KeGetCurrentIrql());
    if ((flags & ~(ULONG)(BCRYPT_RNG_USE_ENTROPY_IN_BUFFER | BCRYPT_USE_SYSTEM_PREFERRED_RNG)) != 0)
        return STATUS_INVALID_PARAMETER;
    if (!(flags & BCRYPT_USE_SYSTEM_PREFERRED_RNG) || algorithm != NULL)
        return STATUS_INVALID_HANDLE; /* the shim opens no algorithm providers */
    if (buffer == NULL && length > 0)
        return STATUS_INVALID_PARAMETER;
    if (kshim_fault("bcrypt.rng"))
        return STATUS_UNSUCCESSFUL;
    while (done < length) {
        /* Requests of up to 256 bytes are never cut short; longer ones may
         * be, by a signal. */
        ssize_t n = getrandom(buffer + done, length - done, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return STATUS_UNSUCCESSFUL;
        done += (ULONG)n;
    }
    return STATUS_SUCCESS;
}
