/* ks_datagram.h - datagram internals shared with the compat layer. */
#ifndef KS_DATAGRAM_H
#define KS_DATAGRAM_H

#include "ks_socket.h"

/* ks_recvfrom that also returns WSK's control flags (MSG_TRUNC, ...). */
ks_ssize_t ks_recvfrom_ex(int fd, void *buf, size_t len, struct sockaddr *from, int *fromlen,
                          ULONG *control_flags);

#endif /* KS_DATAGRAM_H */
