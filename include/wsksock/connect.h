/*
 * wsksock/connect.h - connect by name, and socket addresses and ports as
 * text: the helpers every client driver otherwise writes itself.
 *
 * A header of its own rather than wsksock/netdb.h: netdb.h holds the
 * resolver's types and constants only, while these are functions built on
 * the whole socket API (ks_getaddrinfo, ks_socket, ks_connect, ks_poll);
 * the library's "helpers" layer (docs/design.md, Layers). wsksock.h
 * includes this header.
 *
 * Address lengths are int, as ks_connect's and ks_getnameinfo's (Winsock
 * has no socklen_t in the kernel headers).
 */
#ifndef WSKSOCK_CONNECT_H
#define WSKSOCK_CONNECT_H

#include <stddef.h>

#include "errno.h"
#include "sal.h"
#include "sockaddr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Room for any text of ks_sockaddr_format, NUL included:
 * "[" IPv6 (45) "%" scope id (10) "]:" port (5) NUL = 65. */
#define KS_SOCKADDR_STRLEN 65
/* Room for any text of ks_port_to_service, NUL included ("65535"). */
#define KS_SERVICE_STRLEN 6

/*
 * ks_connect_name - a socket of the given type connected to host:service.
 *
 * host:    a host name ("example.com", "localhost") or a numeric address
 *          ("127.0.0.1", "::1"), as ks_getaddrinfo takes it (not NULL);
 * service: a decimal port ("80") or a service name ("http"); not NULL;
 * type:    SOCK_STREAM (SOCK_DGRAM is -EOPNOTSUPP: the library's datagram
 *          sockets have no connect; use ks_getaddrinfo and ks_sendto);
 * timeout_ms: a bound, in milliseconds, on all the connection attempts
 *          together; 0 or negative: no bound of ours (each attempt takes
 *          as long as a blocking ks_connect). The name query itself is not
 *          bounded by it (ks_getaddrinfo has no bound of its own; numeric
 *          hosts and ports need no query).
 *
 * Resolves host and service with ks_getaddrinfo (AF_UNSPEC: IPv6 and IPv4
 * addresses, in the provider's order), then tries each address in that
 * order: a new socket, ks_connect (non-blocking then ks_poll when bounded),
 * the next address on failure. The bound is for all attempts together: an
 * address that never answers may use all of it (no parallel attempts). The first connection wins;
 * the returned descriptor is blocking (FIONBIO 0), owned by the caller, closed with ks_close.
 * Sockets of failed attempts are closed before the call returns. IRQL: PASSIVE_LEVEL. Returns the
 * descriptor (> 0), or -EINVAL   host or service NULL or empty, or type neither SOCK_STREAM nor
 * SOCK_DGRAM; -EOPNOTSUPP type SOCK_DGRAM; -EAI_*    the resolution failed (-EAI_NONAME: unknown
 * host; see ks_getaddrinfo; ks_gai_strerror names them); -ETIMEDOUT timeout_ms passed before an
 * attempt succeeded; otherwise the error of the last attempt (-ECONNREFUSED, -ENETUNREACH,
 * -EAFNOSUPPORT for a family the provider lacks, ...), or -EPERM (IRQL), -ENETDOWN (library not
 * started or stopping).
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_connect_name(
    _In_z_ const char *host, _In_z_ const char *service, int type, int timeout_ms);

/*
 * ks_sockaddr_format - a socket address as text: "1.2.3.4:80" (AF_INET),
 * "[::1]:80" or "[fe80::1%3]:80" (AF_INET6; the scope id when not 0), NUL
 * terminated, in buf (len bytes; KS_SOCKADDR_STRLEN always suffice).
 * salen must be at least the family's address size.
 * IRQL: <= DISPATCH_LEVEL (any, for nonpaged buffers).
 * Returns the text's length (without the NUL), or
 *   -ENOSPC       the text and its NUL do not fit in len bytes (buf then
 *                 holds "" if len > 0);
 *   -EAFNOSUPPORT the family is neither AF_INET nor AF_INET6;
 *   -EINVAL       salen is smaller than the family's address size;
 *   -EFAULT       sa or buf is NULL.
 */
_Success_(return >= 0)
    _IRQL_requires_max_(HIGH_LEVEL) int ks_sockaddr_format(_In_reads_bytes_(salen)
                                                               const struct sockaddr *sa,
                                                           int salen, _Out_writes_z_(len) char *buf,
                                                           size_t len);

/*
 * ks_port_to_service - a port number as the decimal service text
 * ks_getaddrinfo and ks_connect_name take ("80"), NUL terminated, in buf
 * (len bytes; KS_SERVICE_STRLEN always suffice). No C runtime formatting
 * needed (mingw-w64's kernel libraries lack RtlStringCbPrintfA).
 * IRQL: any.
 * Returns the text's length, or -EINVAL (port above 65535; buf then holds
 * "" if len > 0), -ENOSPC (does not fit; "" likewise), -EFAULT (buf NULL).
 */
_Success_(return >= 0)
    _IRQL_requires_max_(HIGH_LEVEL) int ks_port_to_service(unsigned port,
                                                           _Out_writes_z_(len) char *buf,
                                                           size_t len);

#ifdef __cplusplus
}
#endif

#endif /* WSKSOCK_CONNECT_H */
