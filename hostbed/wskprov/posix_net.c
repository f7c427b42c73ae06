/*
 * posix_net.c - every socket, epoll and name-resolution system call of the
 * WSK provider, behind posix_net.h. Compiled with the system's headers only
 * (no shim, normal wchar_t): Linux's sockaddr layout, address family and
 * errno numbers stay in this file.
 */
#define _GNU_SOURCE
#include "posix_net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

_Static_assert(sizeof(struct pn_iov) == sizeof(struct iovec), "pn_iov mirrors struct iovec");
_Static_assert(offsetof(struct pn_iov, len) == offsetof(struct iovec, iov_len),
               "pn_iov mirrors struct iovec");

static int map_errno(int e)
{
    switch (e) {
    case 0:
        return PN_OK;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return PN_EAGAIN;
    case EINPROGRESS:
    case EALREADY:
        return PN_EINPROGRESS;
    case EADDRINUSE:
        return PN_EADDRINUSE;
    case EADDRNOTAVAIL:
        return PN_EADDRNOTAVAIL;
    case ECONNREFUSED:
        return PN_ECONNREFUSED;
    case ECONNRESET:
    case EPIPE:
        return PN_ECONNRESET;
    case ECONNABORTED:
        return PN_ECONNABORTED;
    case ENETUNREACH:
    case ENETDOWN:
        return PN_ENETUNREACH;
    case EHOSTUNREACH:
    case EHOSTDOWN:
        return PN_EHOSTUNREACH;
    case ETIMEDOUT:
        return PN_ETIMEDOUT;
    case ENOTCONN:
        return PN_ENOTCONN;
    case EINVAL:
    case EFAULT:
    case EBADF:
    case ENOTSOCK:
        return PN_EINVAL;
    case ENOMEM:
    case ENOBUFS:
        return PN_ENOMEM;
    case EMFILE:
    case ENFILE:
        return PN_EMFILE;
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
        return PN_EAFNOSUPPORT;
    case EACCES:
    case EPERM:
        return PN_EACCES;
    case EMSGSIZE:
        return PN_EMSGSIZE;
    case EISCONN:
        return PN_EISCONN;
    case ENOPROTOOPT:
    case EOPNOTSUPP:
        return PN_ENOPROTOOPT;
    case EINTR:
        return PN_EINTR;
    default:
        return PN_EOTHER;
    }
}

static int fail(void)
{
    return map_errno(errno);
}

/* pn_addr -> Linux sockaddr; returns its length (0 for a bad family). */
static socklen_t to_sockaddr(const struct pn_addr *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == 4) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(a->port);
        memcpy(&sin->sin_addr, a->addr, 4);
        return sizeof(*sin);
    }
    if (a->family == 6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(a->port);
        sin6->sin6_flowinfo = htonl(a->flowinfo);
        memcpy(&sin6->sin6_addr, a->addr, 16);
        sin6->sin6_scope_id = a->scope_id;
        return sizeof(*sin6);
    }
    return 0;
}

static void from_sockaddr(const struct sockaddr *sa, struct pn_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        a->family = 4;
        a->port = ntohs(sin->sin_port);
        memcpy(a->addr, &sin->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        a->family = 6;
        a->port = ntohs(sin6->sin6_port);
        a->flowinfo = ntohl(sin6->sin6_flowinfo);
        memcpy(a->addr, &sin6->sin6_addr, 16);
        a->scope_id = sin6->sin6_scope_id;
    }
}

int pn_socket(int family, int stream)
{
    int domain = family == 6 ? AF_INET6 : family == 4 ? AF_INET : -1;
    if (domain < 0)
        return PN_EAFNOSUPPORT;
    int fd = socket(domain, (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    stream ? IPPROTO_TCP : IPPROTO_UDP);
    return fd < 0 ? fail() : fd;
}

int pn_close(int fd)
{
    /* close(2) releases the descriptor even when it reports an error. */
    return close(fd) == 0 ? 0 : fail();
}

int pn_bind(int fd, const struct pn_addr *addr)
{
    struct sockaddr_storage ss;
    socklen_t len = to_sockaddr(addr, &ss);
    if (len == 0)
        return PN_EAFNOSUPPORT;
    return bind(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : fail();
}

int pn_listen(int fd)
{
    return listen(fd, SOMAXCONN) == 0 ? 0 : fail();
}

int pn_accept(int fd, struct pn_addr *local, struct pn_addr *remote)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    int nfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (nfd < 0)
        return fail();
    if (remote != NULL)
        from_sockaddr((struct sockaddr *)&ss, remote);
    if (local != NULL && pn_getsockname(nfd, local) != 0)
        memset(local, 0, sizeof(*local));
    return nfd;
}

int pn_connect(int fd, const struct pn_addr *addr)
{
    struct sockaddr_storage ss;
    socklen_t len = to_sockaddr(addr, &ss);
    if (len == 0)
        return PN_EAFNOSUPPORT;
    if (connect(fd, (struct sockaddr *)&ss, len) == 0)
        return 0;
    return fail();
}

int pn_connect_result(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int n = poll(&p, 1, 0);
    if (n < 0)
        return fail();
    if (n == 0)
        return PN_EINPROGRESS;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return fail();
    return map_errno(err);
}

long pn_sendv(int fd, const struct pn_iov *iov, int count)
{
    struct msghdr m;
    memset(&m, 0, sizeof(m));
    m.msg_iov = (struct iovec *)(void *)iov;
    m.msg_iovlen = (size_t)count;
    /* MSG_NOSIGNAL: a send on a reset connection fails with EPIPE instead of
     * killing the process with SIGPIPE. */
    ssize_t n;
    do
        n = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    return n < 0 ? fail() : (long)n;
}

long pn_recvv(int fd, const struct pn_iov *iov, int count)
{
    struct msghdr m;
    memset(&m, 0, sizeof(m));
    m.msg_iov = (struct iovec *)(void *)iov;
    m.msg_iovlen = (size_t)count;
    ssize_t n;
    do
        n = recvmsg(fd, &m, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    return n < 0 ? fail() : (long)n;
}

long pn_peek(int fd)
{
    char c;
    ssize_t n;
    do
        n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
    while (n < 0 && errno == EINTR);
    return n < 0 ? fail() : (long)n;
}

long pn_sendto(int fd, const struct pn_iov *iov, int count, const struct pn_addr *to)
{
    struct sockaddr_storage ss;
    socklen_t len = to_sockaddr(to, &ss);
    if (len == 0)
        return PN_EAFNOSUPPORT;
    struct msghdr m;
    memset(&m, 0, sizeof(m));
    m.msg_name = &ss;
    m.msg_namelen = len;
    m.msg_iov = (struct iovec *)(void *)iov;
    m.msg_iovlen = (size_t)count;
    ssize_t n;
    do
        n = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    return n < 0 ? fail() : (long)n;
}

long pn_recvfrom(int fd, const struct pn_iov *iov, int count, struct pn_addr *from,
                 size_t *full_length)
{
    struct sockaddr_storage ss;
    struct msghdr m;
    memset(&m, 0, sizeof(m));
    memset(&ss, 0, sizeof(ss));
    m.msg_name = &ss;
    m.msg_namelen = sizeof(ss);
    m.msg_iov = (struct iovec *)(void *)iov;
    m.msg_iovlen = (size_t)count;
    /* MSG_TRUNC (Linux): the return value is the datagram's real length even
     * when it did not fit; msg_flags has MSG_TRUNC then. */
    ssize_t n;
    do
        n = recvmsg(fd, &m, MSG_DONTWAIT | MSG_TRUNC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return fail();
    size_t room = 0;
    for (int i = 0; i < count; i++)
        room += iov[i].len;
    if (from != NULL)
        from_sockaddr((struct sockaddr *)&ss, from);
    if (full_length != NULL)
        *full_length = (size_t)n;
    return (long)((size_t)n < room ? (size_t)n : room);
}

int pn_shutdown(int fd, int how)
{
    return shutdown(fd, how == 1 ? SHUT_WR : SHUT_RDWR) == 0 ? 0 : fail();
}

int pn_fin_acked(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    int err = 0;
    socklen_t elen = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err != 0)
        return map_errno(err);
    memset(&ti, 0, sizeof(ti));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return fail();
    /* FIN_WAIT1, CLOSING, LAST_ACK: our FIN (or data before it) is not yet
     * acknowledged. */
    switch (ti.tcpi_state) {
    case TCP_FIN_WAIT1:
    case TCP_CLOSING:
    case TCP_LAST_ACK:
        return 0;
    default:
        return 1;
    }
}

int pn_getsockname(int fd, struct pn_addr *addr)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return fail();
    from_sockaddr((struct sockaddr *)&ss, addr);
    return 0;
}

int pn_getpeername(int fd, struct pn_addr *addr)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return fail();
    from_sockaddr((struct sockaddr *)&ss, addr);
    return 0;
}

static int opt_numbers(enum pn_opt opt, int *level, int *name)
{
    switch (opt) {
    case PN_SO_REUSEADDR:
        *level = SOL_SOCKET, *name = SO_REUSEADDR;
        return 0;
    case PN_SO_KEEPALIVE:
        *level = SOL_SOCKET, *name = SO_KEEPALIVE;
        return 0;
    case PN_SO_RCVBUF:
        *level = SOL_SOCKET, *name = SO_RCVBUF;
        return 0;
    case PN_SO_SNDBUF:
        *level = SOL_SOCKET, *name = SO_SNDBUF;
        return 0;
    case PN_SO_ERROR:
        *level = SOL_SOCKET, *name = SO_ERROR;
        return 0;
    case PN_SO_TYPE:
        *level = SOL_SOCKET, *name = SO_TYPE;
        return 0;
    case PN_TCP_NODELAY:
        *level = IPPROTO_TCP, *name = TCP_NODELAY;
        return 0;
    case PN_IPV6_V6ONLY:
        *level = IPPROTO_IPV6, *name = IPV6_V6ONLY;
        return 0;
    }
    return PN_ENOPROTOOPT;
}

int pn_setopt(int fd, enum pn_opt opt, int value)
{
    int level, name;
    if (opt == PN_SO_ERROR || opt == PN_SO_TYPE || opt_numbers(opt, &level, &name) != 0)
        return PN_ENOPROTOOPT;
    return setsockopt(fd, level, name, &value, sizeof(value)) == 0 ? 0 : fail();
}

int pn_getopt(int fd, enum pn_opt opt, int *value)
{
    int level, name, v = 0;
    if (opt_numbers(opt, &level, &name) != 0)
        return PN_ENOPROTOOPT;
    socklen_t len = sizeof(v);
    if (getsockopt(fd, level, name, &v, &len) != 0)
        return fail();
    if (opt == PN_SO_ERROR)
        v = map_errno(v);
    else if (opt == PN_SO_TYPE)
        v = v == SOCK_STREAM ? 1 : v == SOCK_DGRAM ? 2 : 0;
    *value = v;
    return 0;
}

int pn_set_linger(int fd, int onoff, int seconds)
{
    struct linger l = {.l_onoff = onoff, .l_linger = seconds};
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == 0 ? 0 : fail();
}

int pn_get_linger(int fd, int *onoff, int *seconds)
{
    struct linger l;
    socklen_t len = sizeof(l);
    if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len) != 0)
        return fail();
    *onoff = l.l_onoff;
    *seconds = l.l_linger;
    return 0;
}

/* ---- epoll ---- */

int pn_epoll_create(void)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    return ep < 0 ? fail() : ep;
}

int pn_epoll_add(int ep, int fd, void *ctx, int edge)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = edge ? (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) : EPOLLIN;
    ev.data.ptr = ctx;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : fail();
}

int pn_epoll_wait(int ep, struct pn_event *events, int max, int timeout_ms)
{
    struct epoll_event ev[64];
    if (max > 64)
        max = 64;
    int n = epoll_wait(ep, ev, max, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : fail();
    for (int i = 0; i < n; i++) {
        events[i].ctx = ev[i].data.ptr;
        events[i].events = ((ev[i].events & EPOLLIN) ? PN_EV_IN : 0) |
                           ((ev[i].events & EPOLLOUT) ? PN_EV_OUT : 0) |
                           ((ev[i].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) ? PN_EV_ERR : 0);
    }
    return n;
}

int pn_eventfd_create(void)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd < 0 ? fail() : fd;
}

void pn_eventfd_signal(int fd)
{
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(fd, &one, sizeof(one));
    while (n < 0 && errno == EINTR);
    /* EAGAIN: the counter is saturated, a wake-up is pending anyway. */
}

void pn_eventfd_drain(int fd)
{
    uint64_t value;
    ssize_t n;
    do
        n = read(fd, &value, sizeof(value));
    while (n < 0 && errno == EINTR);
}

/* ---- name resolution ---- */

static int map_eai(int e)
{
    switch (e) {
    case 0:
        return 0;
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        return PN_EAI_NONAME;
    case EAI_AGAIN:
        return PN_EAI_AGAIN;
    case EAI_FAIL:
        return PN_EAI_FAIL;
    case EAI_MEMORY:
        return PN_EAI_MEMORY;
    case EAI_BADFLAGS:
        return PN_EAI_BADFLAGS;
    case EAI_FAMILY:
        return PN_EAI_FAMILY;
    case EAI_SOCKTYPE:
        return PN_EAI_SOCKTYPE;
    case EAI_SERVICE:
        return PN_EAI_SERVICE;
    case EAI_OVERFLOW:
        return PN_EAI_OVERFLOW;
    default:
        return PN_EAI_OTHER;
    }
}

int pn_getaddrinfo(const char *node, const char *service, int flags, int family, int socktype,
                   int protocol, struct pn_addrinfo **result)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = socktype == 1 ? SOCK_STREAM : socktype == 2 ? SOCK_DGRAM : 0;
    hints.ai_protocol = protocol;
    hints.ai_flags = ((flags & PN_AI_PASSIVE) ? AI_PASSIVE : 0) |
                     ((flags & PN_AI_CANONNAME) ? AI_CANONNAME : 0) |
                     ((flags & PN_AI_NUMERICHOST) ? AI_NUMERICHOST : 0) |
                     ((flags & PN_AI_NUMERICSERV) ? AI_NUMERICSERV : 0) |
                     ((flags & PN_AI_V4MAPPED) ? AI_V4MAPPED : 0) |
                     ((flags & PN_AI_ALL) ? AI_ALL : 0) |
                     ((flags & PN_AI_ADDRCONFIG) ? AI_ADDRCONFIG : 0);
    int e = getaddrinfo(node, service, &hints, &res);
    if (e != 0)
        return e == EAI_SYSTEM ? map_errno(errno) : map_eai(e);
    struct pn_addrinfo *head = NULL, **tail = &head;
    int err = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        struct pn_addrinfo *p = calloc(1, sizeof(*p));
        if (p == NULL) {
            err = PN_EAI_MEMORY;
            break;
        }
        p->socktype = ai->ai_socktype == SOCK_STREAM ? 1 : ai->ai_socktype == SOCK_DGRAM ? 2 : 0;
        p->protocol = ai->ai_protocol;
        from_sockaddr(ai->ai_addr, &p->addr);
        if (ai->ai_canonname != NULL) {
            p->canonname = strdup(ai->ai_canonname);
            if (p->canonname == NULL) {
                free(p);
                err = PN_EAI_MEMORY;
                break;
            }
        }
        *tail = p;
        tail = &p->next;
    }
    freeaddrinfo(res);
    if (err != 0) {
        pn_freeaddrinfo(head);
        return err;
    }
    if (head == NULL)
        return PN_EAI_NONAME;
    *result = head;
    return 0;
}

void pn_freeaddrinfo(struct pn_addrinfo *list)
{
    while (list != NULL) {
        struct pn_addrinfo *next = list->next;
        free(list->canonname);
        free(list);
        list = next;
    }
}

int pn_getnameinfo(const struct pn_addr *addr, char *host, size_t host_len, char *service,
                   size_t service_len, int flags)
{
    struct sockaddr_storage ss;
    socklen_t len = to_sockaddr(addr, &ss);
    if (len == 0)
        return PN_EAI_FAMILY;
    int f = ((flags & PN_NI_NOFQDN) ? NI_NOFQDN : 0) |
            ((flags & PN_NI_NUMERICHOST) ? NI_NUMERICHOST : 0) |
            ((flags & PN_NI_NAMEREQD) ? NI_NAMEREQD : 0) |
            ((flags & PN_NI_NUMERICSERV) ? NI_NUMERICSERV : 0) |
            ((flags & PN_NI_DGRAM) ? NI_DGRAM : 0);
    int e = getnameinfo((struct sockaddr *)&ss, len, host, (socklen_t)host_len, service,
                        (socklen_t)service_len, f);
    if (e == EAI_SYSTEM)
        return map_errno(errno);
    return map_eai(e);
}
