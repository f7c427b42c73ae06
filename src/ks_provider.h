/*
 * ks_provider.h - the library's registration with WSK and its global state.
 */
#ifndef KS_PROVIDER_H
#define KS_PROVIDER_H

#include "ks_kernel.h"

/* How long the first socket call waits for a provider that was not attached
 * at ks_startup (never WSK_INFINITE_WAIT: it may run inside DriverEntry). */
#define KS_CAPTURE_WAIT_MS 5000

/* The total bound of ks_cleanup's orderly closes of the sockets left open
 * (they share it; SO_LINGER times are cut to what is left of it). */
#define KS_CLEANUP_CLOSE_MS 5000

/* Registers with WSK (ks_startup, library stopped): chooses the pool and
 * IRQL paths, allocates the reserve IRP, WskRegister, and tries to capture
 * the NPI without waiting. 0, -ENOMEM or -ENETDOWN (nothing held then).
 * PASSIVE_LEVEL. */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
int ks__provider_start(void);
/* Sets the running state ks__library_running reports. */
void ks__provider_set_running(BOOLEAN running);
/* Waits until no live socket is left (library stopped; reports every 10 s
 * while it waits). PASSIVE_LEVEL. */
_IRQL_requires_max_(PASSIVE_LEVEL) void ks__provider_wait_sockets(void);
/* Releases the NPI and deregisters (library stopped, no live socket):
 * undoes ks__provider_start. PASSIVE_LEVEL. */
_IRQL_requires_max_(PASSIVE_LEVEL) void ks__provider_stop(void);

/* The captured provider NPI, capturing it on first use. PASSIVE_LEVEL.
 * Returns STATUS_SUCCESS, or an error when the library is not started or no
 * provider attached in time. */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS ks__provider_npi(_Outptr_ const WSK_PROVIDER_NPI **npi);

/* Live socket objects (allocated, not yet freed), for ks_cleanup's wait. */
void ks__live_socket_added(void);
void ks__live_socket_removed(void);

/* TRUE between a successful first ks_startup and the last ks_cleanup. */
BOOLEAN ks__library_running(void);

#endif /* KS_PROVIDER_H */
