/*
 * ks_connect_name.c - connect by name, socket addresses and ports as text
 * (include/wsksock/connect.h): the helpers layer, on the public API.
 */
#include "ks_kernel.h"
#include "ks_time.h"
#include "wsksock/connect.h"

#include <limits.h>

/* Appends text to out (room: size bytes, NUL not counted); FALSE if it
 * does not fit. */
static BOOLEAN put(char *out, size_t size, size_t *n, const char *text)
{
    size_t k = ks__text_length(text);
    if (k > size - *n)
        return FALSE;
    RtlCopyMemory(out + *n, text, k);
    *n += k;
    return TRUE;
}

int ks_port_to_service(unsigned port, char *buf, size_t len)
{
    if (buf == NULL)
        return -EFAULT;
    if (len > 0)
        buf[0] = '\0';
    if (port > 65535u)
        return -EINVAL;
    char text[11];
    int n = ks__decimal((ULONG)port, text);
    if ((size_t)n + 1 > len)
        return -ENOSPC;
    RtlCopyMemory(buf, text, (size_t)n + 1);
    return n;
}

int ks_sockaddr_format(const struct sockaddr *sa, int salen, char *buf, size_t len)
{
    if (sa == NULL || buf == NULL)
        return -EFAULT;
    if (len > 0)
        buf[0] = '\0';
    char text[KS_SOCKADDR_STRLEN];
    char number[11];
    const size_t room = sizeof(text) - 1;
    size_t n = 0;
    USHORT port;
    if (sa->sa_family == AF_INET) {
        const SOCKADDR_IN *in = (const SOCKADDR_IN *)sa;
        if (salen < (int)sizeof(*in))
            return -EINVAL;
        if (ks_inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)) == NULL)
            return -EINVAL; /* cannot happen: the text always fits */
        n = ks__text_length(text);
        port = in->sin_port;
    } else if (sa->sa_family == AF_INET6) {
        const SOCKADDR_IN6 *in6 = (const SOCKADDR_IN6 *)sa;
        if (salen < (int)sizeof(*in6))
            return -EINVAL;
        text[0] = '[';
        if (ks_inet_ntop(AF_INET6, &in6->sin6_addr, text + 1, sizeof(text) - 1) == NULL)
            return -EINVAL; /* cannot happen: the text always fits */
        n = ks__text_length(text);
        if (in6->sin6_scope_id != 0) {
            (void)ks__decimal((ULONG)in6->sin6_scope_id, number);
            if (!put(text, room, &n, "%") || !put(text, room, &n, number))
                return -EINVAL; /* cannot happen: KS_SOCKADDR_STRLEN is the maximum */
        }
        if (!put(text, room, &n, "]"))
            return -EINVAL;
        port = in6->sin6_port;
    } else {
        return -EAFNOSUPPORT;
    }
    (void)ks__decimal((ULONG)ks_ntohs(port), number);
    if (!put(text, room, &n, ":") || !put(text, room, &n, number))
        return -EINVAL;
    if (n + 1 > len)
        return -ENOSPC;
    RtlCopyMemory(buf, text, n);
    buf[n] = '\0';
    return (int)n;
}

/* One attempt: a connected socket of ai's family, or the error. Bounded
 * (deadline_ms > 0: ks__now_ms() value) through a non-blocking connect. */
static int attempt(const struct addrinfo *ai, BOOLEAN bounded, LONGLONG deadline_ms)
{
    LONGLONG left = deadline_ms - ks__now_ms();
    if (bounded && left <= 0)
        return -ETIMEDOUT;
    int s = ks_socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (s < 0)
        return s;
    unsigned long nb = 1;
    int err = bounded ? ks_ioctl(s, FIONBIO, &nb) : 0;
    if (err == 0)
        err = ks_connect(s, ai->ai_addr, (int)ai->ai_addrlen);
    if (bounded && (err == -EINPROGRESS || err == -EWOULDBLOCK)) {
        struct ks_pollfd p;
        p.fd = s;
        p.events = POLLOUT;
        p.revents = 0;
        left = deadline_ms - ks__now_ms();
        int r = left <= 0 ? 0 : ks_poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r == 0) {
            err = -ETIMEDOUT;
        } else if (r < 0) {
            err = r;
        } else {
            int so = 0;
            int so_len = (int)sizeof(so);
            err = ks_getsockopt(s, SOL_SOCKET, SO_ERROR, &so, &so_len);
            if (err == 0)
                err = so > 0 ? -so : so; /* SO_ERROR is a positive errno */
        }
    }
    if (err == 0 && bounded) {
        nb = 0;
        err = ks_ioctl(s, FIONBIO, &nb);
    }
    if (err != 0) {
        (void)ks_close(s);
        return err;
    }
    return s;
}

int ks_connect_name(const char *host, const char *service, int type, int timeout_ms)
{
    if (host == NULL || service == NULL || host[0] == '\0' || service[0] == '\0' ||
        (type != SOCK_STREAM && type != SOCK_DGRAM))
        return -EINVAL;
    if (type != SOCK_STREAM)
        return -EOPNOTSUPP; /* ks_connect is for stream sockets only */
    if (!ks__can_block())
        return -EPERM;
    BOOLEAN bounded = timeout_ms > 0;
    LONGLONG deadline_ms = bounded ? ks__now_ms() + timeout_ms : 0;
    struct addrinfo hints;
    RtlZeroMemory(&hints, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = type;
    struct addrinfo *list = NULL;
    int err = ks_getaddrinfo(host, service, &hints, &list);
    if (err != 0)
        return err;
    err = -EAI_NONAME; /* an empty list: cannot happen, ks_getaddrinfo fails then */
    for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        err = attempt(ai, bounded, deadline_ms);
        /* Stop at a connection, when the bound is spent, or when no other
         * address can do better (the library stops, the IRQL); a blocking
         * connect's own -ETIMEDOUT (unbounded) moves on to the next one. */
        if (err >= 0 || err == -ENETDOWN || err == -EPERM ||
            (bounded && ks__now_ms() >= deadline_ms))
            break;
    }
    ks_freeaddrinfo(list);
    return err;
}
