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
#include <ws2def.h>
#include <ws2ipdef.h>
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

/* Compile-time checks against Microsoft's documented sizes. */
typedef char ks_assert_sockaddr_size[sizeof(struct sockaddr) == 16 ? 1 : -1];
typedef char ks_assert_sockaddr_in_size[sizeof(struct sockaddr_in) == 16 ? 1 : -1];
typedef char ks_assert_sockaddr_in6_size[sizeof(struct sockaddr_in6) == 28 ? 1 : -1];
typedef char ks_assert_sockaddr_storage_size[sizeof(struct sockaddr_storage) == 128 ? 1 : -1];
typedef char ks_assert_sin_addr_offset[offsetof(struct sockaddr_in, sin_addr) == 4 ? 1 : -1];
typedef char ks_assert_sin6_addr_offset[offsetof(struct sockaddr_in6, sin6_addr) == 8 ? 1 : -1];
typedef char ks_assert_sin6_scope_offset[offsetof(struct sockaddr_in6, sin6_scope_id) == 24 ? 1 : -1];

#endif /* WSKSOCK_USE_WDK_HEADERS */

#endif /* WSKSOCK_SOCKADDR_H */
