/*
 * ks_stream.h - internal forms of ks_accept and ks_connect (ks_stream.c).
 */
#ifndef KS_STREAM_H
#define KS_STREAM_H

#include "ks_socket.h"

/* ks_accept / ks_connect, non-blocking when asked whatever the socket's
 * mode (the asynchronous calls use them). ks__accept_mode's flags:
 * MSG_DONTWAIT, KS_MSG_EVENTS. */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
int ks__accept_mode(int fd, _Out_writes_bytes_opt_(*addrlen) struct sockaddr *addr,
                    _Inout_opt_ int *addrlen, int flags);
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
int ks__connect_mode(int fd, _In_reads_bytes_(addrlen) const struct sockaddr *addr, int addrlen,
                     BOOLEAN force_nonblocking);

#endif /* KS_STREAM_H */
