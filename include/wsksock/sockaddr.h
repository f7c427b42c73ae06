/*
 * wsksock/sockaddr.h - socket address types and protocol constants.
 *
 * Under MSVC + WDK (or whenever WSKSOCK_USE_WDK_HEADERS is defined) the real
 * <ws2def.h>/<ws2ipdef.h> definitions are used. Elsewhere (mingw-w64, which has
 * no WSK headers, and the Linux host test bed) this file declares the same
 * types with Microsoft's documented x64 layout and Winsock's constant values.
 * Field names are the BSD ones in both cases: sin_family, sin_port,
 * sin_addr.s_addr, sin6_addr.s6_addr, sin6_scope_id.
 */
#ifndef WSKSOCK_SOCKADDR_H
#define WSKSOCK_SOCKADDR_H

#include <stddef.h>
#include <stdint.h>

#if defined(_MSC_VER) && !defined(WSKSOCK_OWN_WSK_ABI)
#define WSKSOCK_USE_WDK_HEADERS 1
#endif

#ifdef WSKSOCK_USE_WDK_HEADERS
/* The kernel's <ws2def.h> needs the NT base types first: this header must
 * stand alone whatever the includer included before it. */
#include <ntddk.h>
#include <ws2def.h>
#include <ws2ipdef.h>
/* The kernel-mode <ws2def.h> lacks the recv/send flags (they are in the
 * user-mode <winsock2.h>): Winsock's values. */
#ifndef MSG_OOB
#define MSG_OOB 0x1
#endif
#ifndef MSG_PEEK
#define MSG_PEEK 0x2
#endif
#ifndef MSG_DONTROUTE
#define MSG_DONTROUTE 0x4
#endif
#ifndef MSG_WAITALL
#define MSG_WAITALL 0x8
#endif
#else

typedef uint16_t ADDRESS_FAMILY;

#define AF_UNSPEC 0
#define AF_INET 2
#define AF_INET6 23

#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOCK_RAW 3

#define IPPROTO_IP 0
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_IPV6 41

#define MSG_OOB 0x1
#define MSG_PEEK 0x2
#define MSG_DONTROUTE 0x4
#define MSG_WAITALL 0x8
#define MSG_TRUNC 0x0100
#define MSG_CTRUNC 0x0200

#define INADDR_ANY ((uint32_t)0x00000000)
#define INADDR_LOOPBACK ((uint32_t)0x7f000001)
#define INADDR_NONE ((uint32_t)0xffffffff)

/* IPv4 address, network byte order (Winsock's IN_ADDR layout). */
typedef struct in_addr {
    union {
        struct {
            uint8_t s_b1, s_b2, s_b3, s_b4;
        } S_un_b;
        struct {
            uint16_t s_w1, s_w2;
        } S_un_w;
        uint32_t S_addr;
    } S_un;
} IN_ADDR, *PIN_ADDR;
#define s_addr S_un.S_addr

/* IPv6 address (Winsock's IN6_ADDR layout). */
typedef struct in6_addr {
    union {
        uint8_t Byte[16];
        uint16_t Word[8];
    } u;
} IN6_ADDR, *PIN6_ADDR;
#define s6_addr u.Byte

typedef struct sockaddr {
    ADDRESS_FAMILY sa_family;
    char sa_data[14];
} SOCKADDR, *PSOCKADDR;

typedef struct sockaddr_in {
    ADDRESS_FAMILY sin_family;
    uint16_t sin_port; /* network byte order */
    IN_ADDR sin_addr;
    char sin_zero[8];
} SOCKADDR_IN, *PSOCKADDR_IN;

typedef struct sockaddr_in6 {
    ADDRESS_FAMILY sin6_family;
    uint16_t sin6_port; /* network byte order */
    uint32_t sin6_flowinfo;
    IN6_ADDR sin6_addr;
    uint32_t sin6_scope_id;
} SOCKADDR_IN6, *PSOCKADDR_IN6;

typedef struct sockaddr_storage {
    ADDRESS_FAMILY ss_family;
    char __ss_pad1[6];
    int64_t __ss_align;
    char __ss_pad2[112];
} SOCKADDR_STORAGE, *PSOCKADDR_STORAGE;

#define INET_ADDRSTRLEN 22
#define INET6_ADDRSTRLEN 65

/*
 * Socket options with Winsock values. Under the WDK these come from
 * <ws2def.h> (SOL_*, SO_*, TCP_NODELAY, MSG_BCAST/MSG_MCAST) and
 * <ws2ipdef.h> (IPV6_V6ONLY), which this header already includes there.
 * Ref: learn.microsoft.com "SOL_SOCKET socket options", "IPPROTO_TCP socket
 * options", "IPPROTO_IPV6 socket options", "WSK Socket Options".
 */
#ifndef SOL_SOCKET
#define SOL_SOCKET 0xffff
#endif
#ifndef SO_DEBUG
#define SO_DEBUG 0x0001
#endif
#ifndef SO_ACCEPTCONN
#define SO_ACCEPTCONN 0x0002
#endif
#ifndef SO_REUSEADDR
#define SO_REUSEADDR 0x0004
#endif
#ifndef SO_KEEPALIVE
#define SO_KEEPALIVE 0x0008
#endif
#ifndef SO_DONTROUTE
#define SO_DONTROUTE 0x0010
#endif
#ifndef SO_BROADCAST
#define SO_BROADCAST 0x0020
#endif
#ifndef SO_USELOOPBACK
#define SO_USELOOPBACK 0x0040
#endif
#ifndef SO_LINGER
#define SO_LINGER 0x0080
#endif
#ifndef SO_OOBINLINE
#define SO_OOBINLINE 0x0100
#endif
#ifndef SO_DONTLINGER
#define SO_DONTLINGER ((int)(~SO_LINGER))
#endif
#ifndef SO_EXCLUSIVEADDRUSE
#define SO_EXCLUSIVEADDRUSE ((int)(~SO_REUSEADDR))
#endif
#ifndef SO_SNDBUF
#define SO_SNDBUF 0x1001
#endif
#ifndef SO_RCVBUF
#define SO_RCVBUF 0x1002
#endif
#ifndef SO_SNDLOWAT
#define SO_SNDLOWAT 0x1003
#endif
#ifndef SO_RCVLOWAT
#define SO_RCVLOWAT 0x1004
#endif
#ifndef SO_SNDTIMEO
#define SO_SNDTIMEO 0x1005
#endif
#ifndef SO_RCVTIMEO
#define SO_RCVTIMEO 0x1006
#endif
#ifndef SO_ERROR
#define SO_ERROR 0x1007
#endif
#ifndef SO_TYPE
#define SO_TYPE 0x1008
#endif
#ifndef SO_CONDITIONAL_ACCEPT
#define SO_CONDITIONAL_ACCEPT 0x3002
#endif
#ifndef TCP_NODELAY
#define TCP_NODELAY 0x0001
#endif
#ifndef IPV6_V6ONLY
#define IPV6_V6ONLY 27
#endif
/* Extra WSAMSG/WskReceiveFrom ControlFlags values (ws2def.h). */
#ifndef MSG_BCAST
#define MSG_BCAST 0x0400
#endif
#ifndef MSG_MCAST
#define MSG_MCAST 0x0800
#endif

/* Compile-time checks against Microsoft's documented sizes. */
typedef char ks_assert_sockaddr_size[sizeof(struct sockaddr) == 16 ? 1 : -1];
typedef char ks_assert_sockaddr_in_size[sizeof(struct sockaddr_in) == 16 ? 1 : -1];
typedef char ks_assert_sockaddr_in6_size[sizeof(struct sockaddr_in6) == 28 ? 1 : -1];
typedef char ks_assert_sockaddr_storage_size[sizeof(struct sockaddr_storage) == 128 ? 1 : -1];
typedef char ks_assert_sin_addr_offset[offsetof(struct sockaddr_in, sin_addr) == 4 ? 1 : -1];
typedef char ks_assert_sin6_addr_offset[offsetof(struct sockaddr_in6, sin6_addr) == 8 ? 1 : -1];
typedef char
    ks_assert_sin6_scope_offset[offsetof(struct sockaddr_in6, sin6_scope_id) == 24 ? 1 : -1];

#endif /* WSKSOCK_USE_WDK_HEADERS */

/*
 * SO_LINGER argument ("linger structure", winsock.h), on every branch: the
 * WDK declares it only in the user-mode winsock headers, not in the kernel's
 * <ws2def.h>. Define WSKSOCK_NO_LINGER if another header of yours has it.
 */
#ifndef WSKSOCK_NO_LINGER
typedef struct linger {
    unsigned short l_onoff;  /* u_short */
    unsigned short l_linger; /* u_short, seconds */
} LINGER, *PLINGER, *LPLINGER;
#endif

#endif /* WSKSOCK_SOCKADDR_H */
