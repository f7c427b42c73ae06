/* ks_datagram.h - datagram internals shared with the compat layer. */
#ifndef KS_DATAGRAM_H
#define KS_DATAGRAM_H

#include "ks_socket.h"

/* ks_recvfrom that also returns WSK's control flags (MSG_TRUNC, ...). */
_Success_(return >= 0) _Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
ks_ssize_t ks__recvfrom_ex(int fd, _Out_writes_bytes_(len) void *buf, size_t len,
                           _Out_writes_bytes_opt_(*fromlen) struct sockaddr *from,
                           _Inout_opt_ int *fromlen, _Out_opt_ ULONG *control_flags);

#endif /* KS_DATAGRAM_H */
