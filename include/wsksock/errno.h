/*
 * wsksock/errno.h - the error numbers wsksock returns (as negative values).
 *
 * Names and values are those of the Microsoft C runtime's <errno.h> (its POSIX
 * supplement), which mingw-w64 shares. Where the toolchain's <errno.h> already
 * defines a name (MSVC, mingw-w64, or glibc on the Linux host test bed) that
 * definition is kept, so code may compare against the names, never the numbers.
 *
 * One exception: EWOULDBLOCK is EAGAIN. The Microsoft C runtime (and so
 * mingw-w64) gives them different values (11 and 140), so a driver that
 * tests `err == -EAGAIN`, the habit of Linux and of POSIX's "either
 * value", would never match what a non-blocking call returns. Here both
 * names are one value (the toolchain's EAGAIN, 11 on Windows), so
 * `err == -EAGAIN` and `err == -EWOULDBLOCK` both match every "would
 * block" result; ks_strerror names it "Resource temporarily unavailable
 * (would block)". A driver that includes <errno.h> after this header
 * keeps this definition (the C runtime header is included first, here).
 * Do not put both names in one switch: they are the same case.
 */
#ifndef WSKSOCK_ERRNO_H
#define WSKSOCK_ERRNO_H

#include <errno.h>

#ifndef EPERM
#define EPERM 1
#endif
#ifndef ENOENT
#define ENOENT 2
#endif
#ifndef EINTR
#define EINTR 4
#endif
#ifndef EIO
#define EIO 5
#endif
#ifndef EBADF
#define EBADF 9
#endif
#ifndef EAGAIN
#define EAGAIN 11
#endif
#ifndef ENOMEM
#define ENOMEM 12
#endif
#ifndef EACCES
#define EACCES 13
#endif
#ifndef EFAULT
#define EFAULT 14
#endif
#ifndef EBUSY
#define EBUSY 16
#endif
#ifndef EDEADLK
#define EDEADLK 36
#endif
#ifndef EINVAL
#define EINVAL 22
#endif
#ifndef EMFILE
#define EMFILE 24
#endif
#ifndef ENOSPC
#define ENOSPC 28
#endif
#ifndef EPIPE
#define EPIPE 32
#endif
#ifndef ENOSYS
#define ENOSYS 40
#endif
#ifndef EADDRINUSE
#define EADDRINUSE 100
#endif
#ifndef EADDRNOTAVAIL
#define EADDRNOTAVAIL 101
#endif
#ifndef EAFNOSUPPORT
#define EAFNOSUPPORT 102
#endif
#ifndef EALREADY
#define EALREADY 103
#endif
#ifndef ECANCELED
#define ECANCELED 105
#endif
#ifndef ECONNABORTED
#define ECONNABORTED 106
#endif
#ifndef ECONNREFUSED
#define ECONNREFUSED 107
#endif
#ifndef ECONNRESET
#define ECONNRESET 108
#endif
#ifndef EDESTADDRREQ
#define EDESTADDRREQ 109
#endif
#ifndef EHOSTUNREACH
#define EHOSTUNREACH 110
#endif
#ifndef EINPROGRESS
#define EINPROGRESS 112
#endif
#ifndef EISCONN
#define EISCONN 113
#endif
#ifndef EMSGSIZE
#define EMSGSIZE 115
#endif
#ifndef ENETDOWN
#define ENETDOWN 116
#endif
#ifndef ENETRESET
#define ENETRESET 117
#endif
#ifndef ENETUNREACH
#define ENETUNREACH 118
#endif
#ifndef ENOBUFS
#define ENOBUFS 119
#endif
#ifndef ENOPROTOOPT
#define ENOPROTOOPT 123
#endif
#ifndef ENOTCONN
#define ENOTCONN 126
#endif
#ifndef ENOTSOCK
#define ENOTSOCK 128
#endif
#ifndef ENOTSUP
#define ENOTSUP 129
#endif
#ifndef EOPNOTSUPP
#define EOPNOTSUPP 130
#endif
#ifndef EPROTONOSUPPORT
#define EPROTONOSUPPORT 135
#endif
#ifndef EPROTOTYPE
#define EPROTOTYPE 136
#endif
#ifndef ETIMEDOUT
#define ETIMEDOUT 138
#endif
/* The same value as EAGAIN, replacing the C runtime's 140 (see above). */
#undef EWOULDBLOCK
#define EWOULDBLOCK EAGAIN

/* Both habits, one value: code may compare against either name. */
#if defined(__cplusplus) && __cplusplus >= 201103L
static_assert(EWOULDBLOCK == EAGAIN, "EWOULDBLOCK must equal EAGAIN");
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(EWOULDBLOCK == EAGAIN, "EWOULDBLOCK must equal EAGAIN");
#endif

#endif /* WSKSOCK_ERRNO_H */
