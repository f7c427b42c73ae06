/*
 * ks_address.h - a socket's addresses as the provider reports them
 * (ks_address.c, which also implements ks_getsockname/ks_getpeername).
 */
#ifndef KS_ADDRESS_H
#define KS_ADDRESS_H

#include "ks_socket.h"

/* Asks the provider for s->wsk's local (remote FALSE) or remote address:
 * STATUS_NOT_SUPPORTED when the socket's category has no
 * such call; a result of another family is a failure. */
_Must_inspect_result_ _Requires_lock_held_(s->ctl_lock) NTSTATUS
    ks__sock_wsk_get_address(_Inout_ ks_sock *s, BOOLEAN remote, _Out_ ks_addr *out);

#endif /* KS_ADDRESS_H */
