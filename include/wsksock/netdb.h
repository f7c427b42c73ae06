/*
 * wsksock/netdb.h - name resolution types and constants (ks_getaddrinfo,
 * ks_getnameinfo), socket shutdown, polling and ioctl constants.
 *
 * struct addrinfo has Winsock's ADDRINFOA layout. Under MSVC + WDK it comes
 * from <ws2def.h> (included by wsksock/sockaddr.h); elsewhere it is declared
 * here. Constants keep Winsock's values and are defined only where the
 * toolchain's headers did not define them.
 */
#ifndef WSKSOCK_NETDB_H
#define WSKSOCK_NETDB_H

#include "wsksock/sockaddr.h"

#ifndef WSKSOCK_USE_WDK_HEADERS
/* ADDRINFOA (ws2def.h). */
typedef struct addrinfo {
    int ai_flags;       /* AI_* */
    int ai_family;      /* AF_UNSPEC, AF_INET, AF_INET6 */
    int ai_socktype;    /* SOCK_STREAM, SOCK_DGRAM, 0 */
    int ai_protocol;    /* IPPROTO_TCP, IPPROTO_UDP, 0 */
    size_t ai_addrlen;  /* bytes at ai_addr */
    char *ai_canonname; /* AI_CANONNAME: first entry only, else NULL */
    struct sockaddr *ai_addr;
    struct addrinfo *ai_next;
} ADDRINFOA, *PADDRINFOA;
#endif

/* getaddrinfo flags (ws2def.h values). */
#ifndef AI_PASSIVE
#define AI_PASSIVE 0x00000001
#endif
#ifndef AI_CANONNAME
#define AI_CANONNAME 0x00000002
#endif
#ifndef AI_NUMERICHOST
#define AI_NUMERICHOST 0x00000004
#endif
#ifndef AI_NUMERICSERV
#define AI_NUMERICSERV 0x00000008
#endif
#ifndef AI_ALL
#define AI_ALL 0x00000100
#endif
#ifndef AI_ADDRCONFIG
#define AI_ADDRCONFIG 0x00000400
#endif
#ifndef AI_V4MAPPED
#define AI_V4MAPPED 0x00000800
#endif
#ifndef AI_NON_AUTHORITATIVE
#define AI_NON_AUTHORITATIVE 0x00004000
#define AI_SECURE 0x00008000
#define AI_RETURN_PREFERRED_NAMES 0x00010000
#define AI_FQDN 0x00020000
#define AI_FILESERVER 0x00040000
#define AI_DISABLE_IDN_ENCODING 0x00080000
#endif

/* getnameinfo flags (ws2def.h values). */
#ifndef NI_NOFQDN
#define NI_NOFQDN 0x01
#endif
#ifndef NI_NUMERICHOST
#define NI_NUMERICHOST 0x02
#endif
#ifndef NI_NAMEREQD
#define NI_NAMEREQD 0x04
#endif
#ifndef NI_NUMERICSERV
#define NI_NUMERICSERV 0x08
#endif
#ifndef NI_DGRAM
#define NI_DGRAM 0x10
#endif
#ifndef NI_MAXHOST
#define NI_MAXHOST 1025
#endif
#ifndef NI_MAXSERV
#define NI_MAXSERV 32
#endif

/*
 * Resolution errors: ks_getaddrinfo/ks_getnameinfo return them negated
 * (-EAI_NONAME), like every other wsksock error. Values are Winsock's
 * (WSA* codes); ks_gai_strerror names them.
 */
#ifndef EAI_AGAIN
#define EAI_AGAIN 11002 /* WSATRY_AGAIN: temporary failure */
#endif
#ifndef EAI_BADFLAGS
#define EAI_BADFLAGS 10022 /* WSAEINVAL: bad flags or arguments */
#endif
#ifndef EAI_FAIL
#define EAI_FAIL 11003 /* WSANO_RECOVERY: non-recoverable failure */
#endif
#ifndef EAI_FAMILY
#define EAI_FAMILY 10047 /* WSAEAFNOSUPPORT */
#endif
#ifndef EAI_MEMORY
#define EAI_MEMORY 8 /* WSA_NOT_ENOUGH_MEMORY */
#endif
#ifndef EAI_NONAME
#define EAI_NONAME 11001 /* WSAHOST_NOT_FOUND: no such host or service */
#endif
#ifndef EAI_SERVICE
#define EAI_SERVICE 10109 /* WSATYPE_NOT_FOUND */
#endif
#ifndef EAI_SOCKTYPE
#define EAI_SOCKTYPE 10044 /* WSAESOCKTNOSUPPORT */
#endif
#ifndef EAI_OVERFLOW
#define EAI_OVERFLOW 10014 /* WSAEFAULT: a result buffer is too small */
#endif

/* ks_shutdown's how (winsock2.h values). */
#ifndef SD_RECEIVE
#define SD_RECEIVE 0
#define SD_SEND 1
#define SD_BOTH 2
#endif

/* ks_ioctl commands (winsock2.h values; the cast as in winsock2.h). */
#ifndef FIONBIO
#define FIONBIO ((long)0x8004667EUL)
#endif
#ifndef FIONREAD
#define FIONREAD ((long)0x4004667FUL)
#endif

/* Per-call non-blocking flag for ks_send/ks_recv/ks_sendto/ks_recvfrom/
 * ks_accept4-like use. Winsock has no MSG_DONTWAIT; this value is unused by
 * Winsock's MSG_* flags. */
#ifndef MSG_DONTWAIT
#define MSG_DONTWAIT 0x4000
#endif

/* ks_poll events (WSAPoll's values). */
#ifndef POLLRDNORM
#define POLLRDNORM 0x0100
#define POLLRDBAND 0x0200
#define POLLIN (POLLRDNORM | POLLRDBAND)
#define POLLPRI 0x0400
#define POLLWRNORM 0x0010
#define POLLOUT (POLLWRNORM)
#define POLLWRBAND 0x0020
#define POLLERR 0x0001
#define POLLHUP 0x0002
#define POLLNVAL 0x0004
#endif

#endif /* WSKSOCK_NETDB_H */
