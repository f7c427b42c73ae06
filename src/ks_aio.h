/*
 * ks_aio.h - internal forms of the asynchronous socket calls (ks_aio.c).
 */
#ifndef KS_AIO_H
#define KS_AIO_H

#include "ks_aio_call.h"

/* ks_recv_async / ks_accept_async accepting KS_MSG_EVENTS too (the event
 * layer's own requests). */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
int ks__recv_async_flags(int s, _Out_writes_bytes_(len) void *buf, size_t len, int flags,
                         _Inout_ struct ks_aio *req, _In_ ks_aio_cb *cb);
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
int ks__accept_async_flags(int s, _Out_writes_bytes_opt_(*addrlen) struct sockaddr *addr,
                           _Inout_opt_ int *addrlen, int flags, _Inout_ struct ks_aio *req,
                           _In_ ks_aio_cb *cb);

/* Registers the asynchronous calls' socket layer hooks (the close: see
 * ks_aio.c). ks_startup, library stopped. */
void ks__aio_register(void);

#endif /* KS_AIO_H */
