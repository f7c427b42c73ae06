/*
 * posix_net.h - the neutral interface between the WSK side of the provider
 * (files that include the shim's ntddk.h and wsksock/wsk.h) and the files
 * that call the system (posix_net.c: sockets, epoll, name resolution;
 * posix_thread.c: threads, locks, time, logging).
 *
 * Only plain C types cross it: Linux's struct sockaddr, AF_INET6 (10, not
 * Winsock's 23), SO_* and errno values never reach the WSK side, and
 * Winsock's never reach the system side. Errors are negative pn_err values.
 */
#ifndef WSKPROV_POSIX_NET_H
#define WSKPROV_POSIX_NET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An IPv4 or IPv6 transport address. */
struct pn_addr {
    int family;       /* 4 or 6 */
    uint8_t addr[16]; /* network order; IPv4 uses the first 4 bytes */
    uint16_t port;    /* host order */
    uint32_t scope_id;
    uint32_t flowinfo;
};

/* Errors (negative); each names the errno values it stands for. */
enum pn_err {
    PN_OK = 0,
    PN_EAGAIN = -1,        /* EAGAIN, EWOULDBLOCK */
    PN_EINPROGRESS = -2,   /* EINPROGRESS, EALREADY */
    PN_EADDRINUSE = -3,    /* EADDRINUSE */
    PN_EADDRNOTAVAIL = -4, /* EADDRNOTAVAIL */
    PN_ECONNREFUSED = -5,  /* ECONNREFUSED */
    PN_ECONNRESET = -6,    /* ECONNRESET, EPIPE */
    PN_ECONNABORTED = -7,  /* ECONNABORTED */
    PN_ENETUNREACH = -8,   /* ENETUNREACH, ENETDOWN */
    PN_EHOSTUNREACH = -9,  /* EHOSTUNREACH, EHOSTDOWN */
    PN_ETIMEDOUT = -10,    /* ETIMEDOUT */
    PN_ENOTCONN = -11,     /* ENOTCONN */
    PN_EINVAL = -12,       /* EINVAL, EFAULT, EBADF, ENOTSOCK */
    PN_ENOMEM = -13,       /* ENOMEM, ENOBUFS */
    PN_EMFILE = -14,       /* EMFILE, ENFILE */
    PN_EAFNOSUPPORT = -15, /* EAFNOSUPPORT, EPROTONOSUPPORT */
    PN_EACCES = -16,       /* EACCES, EPERM */
    PN_EMSGSIZE = -17,     /* EMSGSIZE */
    PN_EISCONN = -18,      /* EISCONN */
    PN_ENOPROTOOPT = -19,  /* ENOPROTOOPT, EOPNOTSUPP */
    PN_EINTR = -20,        /* EINTR */
    PN_EOTHER = -99,       /* anything else */
    /* getaddrinfo/getnameinfo */
    PN_EAI_NONAME = -100, /* EAI_NONAME, EAI_NODATA, EAI_ADDRFAMILY */
    PN_EAI_AGAIN = -101,
    PN_EAI_FAIL = -102,
    PN_EAI_MEMORY = -103,
    PN_EAI_BADFLAGS = -104,
    PN_EAI_FAMILY = -105,
    PN_EAI_SOCKTYPE = -106,
    PN_EAI_SERVICE = -107,
    PN_EAI_OVERFLOW = -108,
    PN_EAI_OTHER = -109,
};

/* A piece of a scatter/gather buffer. */
struct pn_iov {
    void *base;
    size_t len;
};
/* Most pieces passed to one system call. */
#define PN_IOV_MAX 64

/* ---- sockets (every descriptor is non-blocking and close-on-exec) ---- */
/* stream: 1 TCP, 0 UDP. Returns the descriptor or a pn_err. */
int pn_socket(int family, int stream);
int pn_close(int fd);
int pn_bind(int fd, const struct pn_addr *addr);
int pn_listen(int fd);
/* Returns the new descriptor; local/remote (optional) receive the addresses. */
int pn_accept(int fd, struct pn_addr *local, struct pn_addr *remote);
/* 0 connected, PN_EINPROGRESS, or an error. */
int pn_connect(int fd, const struct pn_addr *addr);
/* After PN_EINPROGRESS: PN_EINPROGRESS while pending, then 0 or the error. */
int pn_connect_result(int fd);
/* Byte counts or a pn_err; pn_recvv returns 0 at end of stream. */
long pn_sendv(int fd, const struct pn_iov *iov, int count);
long pn_recvv(int fd, const struct pn_iov *iov, int count);
/* Without consuming anything: 1 if data is waiting, 0 at end of stream,
 * PN_EAGAIN if neither, or the connection's error. */
long pn_peek(int fd);
long pn_sendto(int fd, const struct pn_iov *iov, int count, const struct pn_addr *to);
/* *full_length: the datagram's real size (larger than the buffer when it
 * was truncated). */
long pn_recvfrom(int fd, const struct pn_iov *iov, int count, struct pn_addr *from,
                 size_t *full_length);
/* how: 1 send side, 2 both. */
int pn_shutdown(int fd, int how);
/* After pn_shutdown(fd, 1): 1 once the peer has acknowledged everything
 * sent and the FIN, 0 while not yet, or the connection's error. */
int pn_fin_acked(int fd);
int pn_getsockname(int fd, struct pn_addr *addr);
int pn_getpeername(int fd, struct pn_addr *addr);

/* Socket options, by meaning (posix_net.c knows the Linux numbers). */
enum pn_opt {
    PN_SO_REUSEADDR,
    PN_SO_KEEPALIVE,
    PN_SO_RCVBUF,
    PN_SO_SNDBUF,
    PN_SO_ERROR, /* get only: a pn_err (0 if none); clears it */
    PN_SO_TYPE,  /* get only: 1 stream, 2 datagram */
    PN_TCP_NODELAY,
    PN_IPV6_V6ONLY,
};
int pn_setopt(int fd, enum pn_opt opt, int value);
int pn_getopt(int fd, enum pn_opt opt, int *value);
int pn_set_linger(int fd, int onoff, int seconds);
int pn_get_linger(int fd, int *onoff, int *seconds);

/* ---- readiness (epoll) ---- */
#define PN_EV_IN 1
#define PN_EV_OUT 2
#define PN_EV_ERR 4 /* error or hang-up */
struct pn_event {
    void *ctx;
    unsigned events;
};
int pn_epoll_create(void);
/* edge: edge-triggered interest in input, output and errors. */
int pn_epoll_add(int ep, int fd, void *ctx, int edge);
int pn_epoll_wait(int ep, struct pn_event *events, int max, int timeout_ms);
int pn_eventfd_create(void);
void pn_eventfd_signal(int fd);
void pn_eventfd_drain(int fd);

/* ---- name resolution ---- */
#define PN_AI_PASSIVE 1
#define PN_AI_CANONNAME 2
#define PN_AI_NUMERICHOST 4
#define PN_AI_NUMERICSERV 8
#define PN_AI_V4MAPPED 16
#define PN_AI_ALL 32
#define PN_AI_ADDRCONFIG 64
struct pn_addrinfo {
    struct pn_addrinfo *next;
    int socktype; /* 0, 1 stream, 2 datagram */
    int protocol; /* IANA numbers (6 TCP, 17 UDP), the same on both sides */
    struct pn_addr addr;
    char *canonname; /* UTF-8 or NULL */
};
/* family 0, 4 or 6; node or service may be NULL. */
int pn_getaddrinfo(const char *node, const char *service, int flags, int family, int socktype,
                   int protocol, struct pn_addrinfo **result);
void pn_freeaddrinfo(struct pn_addrinfo *list);
#define PN_NI_NOFQDN 1
#define PN_NI_NUMERICHOST 2
#define PN_NI_NAMEREQD 4
#define PN_NI_NUMERICSERV 8
#define PN_NI_DGRAM 16
int pn_getnameinfo(const struct pn_addr *addr, char *host, size_t host_len, char *service,
                   size_t service_len, int flags);

/* ---- threads, locks, time, logging (posix_thread.c) ---- */
typedef struct {
    _Alignas(16) unsigned char opaque[64];
} pn_mutex;
typedef struct {
    _Alignas(16) unsigned char opaque[64];
} pn_cond;
void pn_mutex_init(pn_mutex *m);
void pn_mutex_lock(pn_mutex *m);
void pn_mutex_unlock(pn_mutex *m);
void pn_cond_init(pn_cond *c);
void pn_cond_wait(pn_cond *c, pn_mutex *m);
/* 0 when signalled (or spuriously woken), 1 when ms passed. */
int pn_cond_timedwait(pn_cond *c, pn_mutex *m, uint64_t ms);
void pn_cond_broadcast(pn_cond *c);
/* Starts a detached thread; 0 or a pn_err. */
int pn_thread_start(void (*fn)(void *), void *arg);
/* Milliseconds of a monotonic clock. */
uint64_t pn_now_ms(void);
/* A line on stderr. */
__attribute__((format(printf, 1, 2))) void pn_log(const char *fmt, ...);
/* getenv. */
const char *pn_getenv(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* WSKPROV_POSIX_NET_H */
