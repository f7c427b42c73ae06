/*
 * ks_descriptor.h - descriptors in the API (ks_descriptor.c, which also
 * implements ks_socket and ks_close).
 */
#ifndef KS_DESCRIPTOR_H
#define KS_DESCRIPTOR_H

#include "ks_socket.h"

/* Looks up a descriptor, with the IRQL check every blocking call makes.
 * Returns 0 and a referenced socket, or -EPERM/-EBADF. */
_Success_(return == 0) _Must_inspect_result_ int ks__fd_enter(int fd, _Outptr_ ks_sock **out);

#endif /* KS_DESCRIPTOR_H */
