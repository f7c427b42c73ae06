/*
 * ks_stream_io.h - the internal form of ks_recv (ks_stream_io.c).
 */
#ifndef KS_STREAM_IO_H
#define KS_STREAM_IO_H

#include "ks_socket.h"

/* ks_recv accepting KS_MSG_EVENTS too. */
_Success_(return >= 0) _Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
ks_ssize_t ks__recv_flags(int fd, _Out_writes_bytes_(len) void *buf, size_t len, int flags);

#endif /* KS_STREAM_IO_H */
