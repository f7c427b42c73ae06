/*
 * ks_resolve.h - name resolution requests to the provider (WskGetAddressInfo,
 * WskGetNameInfo), shared by ks_resolve.c and ks_nameinfo.c, and their
 * cancellation by ks_cleanup.
 *
 * A query is one blocking request on its own operation, in one nonpaged
 * block (tag ksRs) that also holds everything the provider reads or writes
 * while the request is in flight (names, hints, result buffers): providers
 * may work on another thread (Wine's does, on a thread pool) and keep the
 * pointers until they complete the IRP.
 *
 * While a query is in flight it counts as a live socket, so ks_cleanup waits
 * for it before it releases the provider NPI, and it is on a list that
 * ks_cleanup walks to cancel it (IoCancelIrp): a resolution never keeps the
 * library from stopping longer than the provider takes to honour the
 * cancellation (a provider without cancellation support, as the host bed's
 * and Wine's are, completes when its lookup ends).
 */
#ifndef KS_RESOLVE_H
#define KS_RESOLVE_H

#include "ks_op.h"

typedef struct ks_query {
    ks_op op;
    LIST_ENTRY link;         /* in the list of queries in flight */
    volatile LONG cancelled; /* set by ks__query_cancel_all */
} ks_query;

/*
 * Allocates a query with `extra` zeroed bytes after it (returned in *extra_out,
 * aligned for any type), registers it and captures the provider NPI.
 * PASSIVE_LEVEL. Returns 0, -EAI_MEMORY, or -ENETDOWN (library not started,
 * stopping, or no provider).
 */
_Success_(return == 0) _Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
int ks__query_start(_Outptr_ ks_query **q, SIZE_T extra, _Outptr_ void **extra_out,
                    _Outptr_ const WSK_PROVIDER_NPI **npi);

/*
 * Ends the request just issued (call_status: what the WSK function
 * returned), waiting for it without bound unless ks_cleanup cancels it.
 * Returns the IRP's final status; *cancelled tells whether ks_cleanup
 * cancelled the query. PASSIVE_LEVEL.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS ks__query_wait(_Inout_ ks_query *q, NTSTATUS call_status, _Out_ BOOLEAN *cancelled);

/* Unregisters and frees a query (after ks__query_wait, or without a request). */
void ks__query_end(_Inout_ ks_query *q);

/* ks_cleanup: cancels every query in flight (they then end by themselves;
 * ks_cleanup waits for them as for live sockets). IRQL <= DISPATCH_LEVEL. */
_IRQL_requires_max_(DISPATCH_LEVEL) void ks__query_cancel_all(void);

/* The EAI error of a failed resolution status (negative). */
int ks__query_status_to_eai(NTSTATUS status);

#endif /* KS_RESOLVE_H */
