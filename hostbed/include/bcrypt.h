/*
 * bcrypt.h - the host test bed's kernel shim: the part of CNG's bcrypt.h
 * that drivers use from cng.sys (BCryptGenRandom with the system-preferred
 * generator), as kernel code includes it with the WDK. Implemented by
 * hostbed/kshim/cng.c over getrandom(2).
 */
#ifndef KSHIM_BCRYPT_H
#define KSHIM_BCRYPT_H

#include <ntddk.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef PVOID BCRYPT_HANDLE;
typedef PVOID BCRYPT_ALG_HANDLE;

#define BCRYPT_SUCCESS(Status) (((NTSTATUS)(Status)) >= 0)

#define BCRYPT_RNG_USE_ENTROPY_IN_BUFFER 0x00000001 /* ignored (as since Windows 8) */
#define BCRYPT_USE_SYSTEM_PREFERRED_RNG 0x00000002

/*
 * Fills buffer with length random bytes. The shim has no algorithm
 * providers (no BCryptOpenAlgorithmProvider): flags must hold
 * BCRYPT_USE_SYSTEM_PREFERRED_RNG with algorithm NULL, otherwise
 * STATUS_INVALID_HANDLE; flags beyond the two above, or a NULL buffer with
 * a length, are STATUS_INVALID_PARAMETER. PASSIVE_LEVEL only (as documented
 * for BCRYPT_USE_SYSTEM_PREFERRED_RNG; a violation otherwise). The fault
 * "bcrypt.rng" is STATUS_UNSUCCESSFUL (the buffer is not written).
 */
NTSTATUS BCryptGenRandom(BCRYPT_ALG_HANDLE algorithm, PUCHAR buffer, ULONG length, ULONG flags);

#ifdef __cplusplus
}
#endif

#endif /* KSHIM_BCRYPT_H */
