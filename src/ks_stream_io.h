/*
 * ks_stream_io.h - the internal forms of ks_recv and ks_send (ks_stream_io.c).
 */
#ifndef KS_STREAM_IO_H
#define KS_STREAM_IO_H

#include "ks_socket.h"

/* ks_recv accepting KS_MSG_EVENTS too. */
_Success_(return >= 0) _Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
ks_ssize_t ks__recv_flags(int fd, _Out_writes_bytes_(len) void *buf, size_t len, int flags);

/* ks_send on a socket the caller holds a reference to, whatever became of
 * its descriptor (the asynchronous send: ks_close_async lets the sends
 * queued before it finish). Same flags, results and IRQL as ks_send. */
_Success_(return >= 0) _Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
ks_ssize_t ks__send_sock(_Inout_ ks_sock *s, _In_reads_bytes_(len) const void *buf, size_t len,
                         int flags);

#endif /* KS_STREAM_IO_H */
