/*
 * chaos_ops.c - the chaos test's synchronous operations on the shared
 * descriptor slots: sockets made, connected, accepted and closed; data
 * sent and received (non-blocking, or blocking under the timeouts every
 * socket gets); shutdown, poll, options, ioctl, names; stale and garbage
 * descriptors, which must get -EBADF.
 */
#include "chaos.h"

#include <limits.h>
#include <string.h>
#include <wsksock/wsk.h> /* LINGER */

/* Receive and send bounds of every socket the test makes (ms). Options
 * set later keep them short (never 0, which means no bound). */
#define CH_RCVTIMEO 50
#define CH_SNDTIMEO 200

#define CH_BUF (256 * 1024)
static _Thread_local unsigned char tbuf[CH_BUF];

static unsigned long long splitmix(unsigned long long *x)
{
    unsigned long long z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void ch_rng_init(struct ch_rng *r, unsigned seed, unsigned stream)
{
    unsigned long long x = ((unsigned long long)seed << 20) ^ stream;
    r->s = splitmix(&x) | 1;
}

unsigned ch_rand(struct ch_rng *r, unsigned n)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return n == 0 ? 0 : (unsigned)((r->s * 2685821657736338717ull) >> 32) % n;
}

/* ---- descriptors ---- */

void ch_prepare(int fd)
{
    DWORD rcv = CH_RCVTIMEO, snd = CH_SNDTIMEO;
    int r = ks_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv));
    ch_check(C_SETSOCKOPT, r, "%d, SO_RCVTIMEO", fd);
    r = ks_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd));
    ch_check(C_SETSOCKOPT, r, "%d, SO_SNDTIMEO", fd);
}

void ch_note_closed(int fd)
{
    if (fd > 0) {
        LONG i = InterlockedIncrement(&ch.recent_next);
        InterlockedExchange(&ch.recent[(ULONG)i % CH_RECENT], fd);
    }
}

void ch_close_now(int fd, const char *why)
{
    LINGER lg = {1, 0};
    int r = ks_setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    ch_check(C_SETSOCKOPT, r, "%d, SO_LINGER {1, 0} (%s)", fd, why);
    r = ks_close(fd);
    ch_check(C_CLOSE, r, "%d (%s)", fd, why);
    if (r == 0)
        ch_note_closed(fd);
}

/* A new descriptor must not be one the test saw closed: a stale copy of it
 * would reach the new socket, where the header promises -EBADF. */
static void check_fresh(int fd, const char *from)
{
    if (ch.excluded & CH_NO_STALE)
        return;
    for (int i = 0; i < CH_RECENT; i++)
        if (ch.recent[i] == fd) {
            ch_fail("%s returned descriptor %d, a value closed earlier in this run: a stale "
                    "copy of it now reaches the new socket instead of getting -EBADF",
                    from, fd);
            return;
        }
}

int ch_publish(struct ch_rng *r, int fd, int port, int at, const char *from)
{
    check_fresh(fd, from);
    if (at == CH_EMPTY_SLOT) {
        for (int i = 0; i < CH_SLOTS; i++)
            if (InterlockedCompareExchange(&ch.slots[i], fd, 0) == 0) {
                InterlockedExchange(&ch.ports[i], port);
                return 1;
            }
        return 0;
    }
    int i = at >= 0 || r == NULL ? (at >= 0 ? at : 0) : (int)ch_rand(r, CH_SLOTS);
    InterlockedExchange(&ch.ports[i], port);
    LONG old = InterlockedExchange(&ch.slots[i], fd);
    if (old != 0)
        ch_close_now(old, "displaced from its slot");
    return 1;
}

/* A descriptor known closed, or garbage that is never a descriptor. */
static int stale_or_garbage(struct ch_rng *r)
{
    if (!(ch.excluded & CH_NO_STALE) && ch_rand(r, 2) && ch.recent_next > 0) {
        int fd = ch.recent[(ULONG)(ch.recent_next - (LONG)ch_rand(r, 16)) % CH_RECENT];
        if (fd > 0)
            return fd;
    }
    switch (ch_rand(r, 6)) {
    case 0:
        return 0;
    case 1:
        return -1;
    case 2:
        return INT_MIN;
    case 3:
        return INT_MAX;
    case 4:
        return -(int)(1 + ch_rand(r, 1000000));
    default: /* descriptors are below 2^30 */
        return (int)((1u << 30) + ch_rand(r, 1u << 30));
    }
}

int ch_pick_fd(struct ch_rng *r)
{
    if (ch_rand(r, 100) < 90)
        return ch.slots[ch_rand(r, CH_SLOTS)];
    return stale_or_garbage(r);
}

int ch_pick_rx_fd(struct ch_rng *r)
{
    if (!(ch.excluded & CH_NO_LISTEN_RECV))
        return ch_pick_fd(r);
    int i = (int)ch_rand(r, CH_SLOTS);
    return (ch.ports[i] & CH_PORT_LISTENER) ? 0 : ch.slots[i];
}

/* The address of a peer: the native one, or a library listener's slot. */
void ch_target(struct ch_rng *r, int v6, SOCKADDR_STORAGE *ss, int *len)
{
    int port = v6 ? ch.peer_port6 : ch.peer_port4;
    if (ch_rand(r, 2)) {
        LONG p = ch.ports[ch_rand(r, CH_SLOTS)];
        if ((p & 0xffff) != 0 && ((p & CH_PORT_V6) != 0) == (v6 != 0))
            port = p & 0xffff;
    }
    ht_loopback(v6, port, ss, len);
}

/* ---- operations ---- */

/* A new socket of either family, with the bounds of ch_prepare; the
 * descriptor or a negative errno (checked). */
int ch_new_socket(struct ch_rng *r, int type, int *v6)
{
    *v6 = (int)ch_rand(r, 2);
    int s = ks_socket(*v6 ? AF_INET6 : AF_INET, type, 0);
    ch_check(C_SOCKET, s, "AF_INET%s, %s", *v6 ? "6" : "",
             type == SOCK_STREAM ? "SOCK_STREAM" : "SOCK_DGRAM");
    if (s > 0)
        ch_prepare(s);
    return s;
}

static void op_client(struct ch_rng *r)
{
    int v6, s = ch_new_socket(r, SOCK_STREAM, &v6);
    if (s <= 0)
        return;
    SOCKADDR_STORAGE ss;
    int len;
    ch_target(r, v6, &ss, &len);
    /* Blocking only towards the native peer, which always accepts: a
     * library listener's backlog may be full, and a blocking connect then
     * waits for TCP's own timeout. */
    int native = ks_ntohs(((SOCKADDR_IN *)&ss)->sin_port) == (v6 ? ch.peer_port6 : ch.peer_port4);
    if (!native || ch_rand(r, 2)) {
        unsigned long on = 1;
        ch_check(C_IOCTL, ks_ioctl(s, FIONBIO, &on), "%d, FIONBIO", s);
    }
    /* Published first: other threads may use or close it during the
     * connect. */
    ch_publish(r, s, 0, -1, "ks_socket");
    switch (ch_rand(r, 20)) {
    case 0:
        len = 3; /* -EINVAL */
        break;
    case 1:
        ss.ss_family = v6 ? AF_INET : AF_INET6; /* -EAFNOSUPPORT */
        break;
    default:
        break;
    }
    int c = ks_connect(s, (struct sockaddr *)&ss, len);
    ch_check(C_CONNECT, c, "%d, port %u, len %d", s, ks_ntohs(((SOCKADDR_IN *)&ss)->sin_port), len);
}

static void op_listen(struct ch_rng *r)
{
    int v6, s = ch_new_socket(r, SOCK_STREAM, &v6);
    if (s <= 0)
        return;
    SOCKADDR_STORAGE ss;
    int len, port = hp_free_port(v6);
    ht_loopback(v6, port, &ss, &len);
    int b = ks_bind(s, (struct sockaddr *)&ss, len);
    ch_check(C_BIND, b, "%d, port %d", s, port);
    int l;
    if (!(ch.excluded & CH_NO_EVENTS) && ch_rand(r, 5) == 0)
        l = ch_listen_events(r, s);
    else
        ch_check(C_LISTEN, l = ks_listen(s, 1 + (int)ch_rand(r, 16)), "%d", s);
    ch_publish(r, s, CH_PORT_LISTENER | (b == 0 && l == 0 ? port | (v6 ? CH_PORT_V6 : 0) : 0), -1,
               "ks_socket");
}

static void op_udp(struct ch_rng *r)
{
    int v6, s = ch_new_socket(r, SOCK_DGRAM, &v6);
    if (s <= 0)
        return;
    SOCKADDR_STORAGE ss;
    int len, port = 0;
    ht_loopback(v6, 0, &ss, &len);
    int b = ks_bind(s, (struct sockaddr *)&ss, len);
    ch_check(C_BIND, b, "%d (datagram), port 0", s);
    len = (int)sizeof(ss);
    int n = ks_getsockname(s, (struct sockaddr *)&ss, &len);
    ch_check(C_GETSOCKNAME, n, "%d (datagram)", s);
    if (b == 0 && n == 0)
        port = ks_ntohs(((SOCKADDR_IN *)&ss)->sin_port) | (v6 ? CH_PORT_V6 : 0);
    ch_publish(r, s, port, -1, "ks_socket");
}

static void op_accept(struct ch_rng *r)
{
    int fd = ch_pick_fd(r);
    SOCKADDR_STORAGE ss;
    int len = (int)sizeof(ss);
    if (ch_rand(r, 3) == 0) {
        unsigned long on = 1;
        ch_check(C_IOCTL, ks_ioctl(fd, FIONBIO, &on), "%d, FIONBIO", fd);
    }
    int a;
    switch (ch_rand(r, 8)) {
    case 0:
        a = ks_accept(fd, NULL, NULL);
        break;
    case 1:
        a = ks_accept(fd, (struct sockaddr *)&ss, NULL);
        if (a >= 0)
            ch_fail("ks_accept(%d, addr, NULL) returned %d, not -EFAULT", fd, a);
        break;
    case 2:
        len = 4; /* truncated, *addrlen gets the full size */
        a = ks_accept(fd, (struct sockaddr *)&ss, &len);
        break;
    default:
        a = ks_accept(fd, (struct sockaddr *)&ss, &len);
        break;
    }
    ch_check(C_ACCEPT, a, "%d", fd);
    if (a > 0) {
        if (len != (int)sizeof(SOCKADDR_IN) && len != (int)sizeof(SOCKADDR_IN6) &&
            len != (int)sizeof(ss))
            ch_fail("ks_accept(%d) set *addrlen to %d", fd, len);
        ch_publish(r, a, 0, -1, "ks_accept");
    }
}

/* A flag value the call does not take (internal bits included). */
static int bad_flag(struct ch_rng *r, int for_recv)
{
    static const int bits[] = {MSG_OOB, MSG_DONTROUTE, 0x40000000, (int)0x80000000u,
                               0x10000, 0x20000000,    MSG_TRUNC};
    int f = bits[ch_rand(r, sizeof(bits) / sizeof(bits[0]))];
    return for_recv ? f | (ch_rand(r, 2) ? MSG_DONTWAIT : 0) : f | MSG_PEEK;
}

static void op_send(struct ch_rng *r)
{
    int fd = ch_pick_fd(r);
    static const size_t sizes[] = {1, 17, 512, 4096, 65536, 200000};
    size_t len = ch_rand(r, 8) == 0 ? 0 : 1 + ch_rand(r, (unsigned)sizes[ch_rand(r, 6)]);
    int flags, bad = 0;
    unsigned k = ch_rand(r, 10);
    if (k < 6)
        flags = MSG_DONTWAIT;
    else if (k < 9)
        flags = 0; /* bounded by SO_SNDTIMEO */
    else
        flags = bad_flag(r, 0), bad = 1;
    tbuf[0] = (unsigned char)k;
    ks_ssize_t n = ks_send(fd, tbuf, len, flags);
    if (bad && n != -EOPNOTSUPP && n != -EBADF)
        ch_fail("ks_send(%d, %zu, flags 0x%x) returned %lld, not -EOPNOTSUPP", fd, len,
                (unsigned)flags, (long long)n);
    else if (ch_check(C_SEND, n, "%d, %zu, 0x%x", fd, len, (unsigned)flags) && n > (ks_ssize_t)len)
        ch_fail("ks_send(%d, %zu) returned %lld", fd, len, (long long)n);
}

static void op_recv(struct ch_rng *r)
{
    int fd = ch_pick_rx_fd(r);
    size_t len = ch_rand(r, 20) == 0 ? 0 : 1 + ch_rand(r, 65536);
    static const int choices[] = {MSG_DONTWAIT,
                                  MSG_DONTWAIT,
                                  MSG_DONTWAIT,
                                  MSG_DONTWAIT,
                                  0,
                                  0,
                                  MSG_PEEK | MSG_DONTWAIT,
                                  MSG_PEEK,
                                  MSG_WAITALL,
                                  MSG_WAITALL | MSG_DONTWAIT};
    int bad = ch_rand(r, 10) == 0;
    int flags = bad ? bad_flag(r, 1) : choices[ch_rand(r, 10)];
    ks_ssize_t n = ks_recv(fd, tbuf, len, flags);
    if (bad && n != -EOPNOTSUPP && n != -EBADF && n != -EINVAL)
        ch_fail("ks_recv(%d, %zu, flags 0x%x) returned %lld, not -EOPNOTSUPP (unknown flags)", fd,
                len, (unsigned)flags, (long long)n);
    else if (ch_check(C_RECV, n, "%d, %zu, 0x%x", fd, len, (unsigned)flags) && n > (ks_ssize_t)len)
        ch_fail("ks_recv(%d, %zu) returned %lld", fd, len, (long long)n);
}

static void op_datagram(struct ch_rng *r)
{
    int fd = ch_pick_fd(r);
    int v6 = (int)ch_rand(r, 2);
    SOCKADDR_STORAGE ss;
    int len;
    if (ch_rand(r, 2)) {
        ch_target(r, v6, &ss, &len);
        size_t n = ch_rand(r, 16) == 0 ? 70000 : ch_rand(r, 1500);
        int flags = ch_rand(r, 2) ? MSG_DONTWAIT : 0;
        ks_ssize_t s = ks_sendto(fd, tbuf, n, flags, (struct sockaddr *)&ss, len);
        if (ch_check(C_SENDTO, s, "%d, %zu, port %u", fd, n,
                     ks_ntohs(((SOCKADDR_IN *)&ss)->sin_port)) &&
            s >= 0 && s != (ks_ssize_t)n)
            ch_fail("ks_sendto(%d, %zu) returned %lld, not the length", fd, n, (long long)s);
    } else {
        len = (int)sizeof(ss);
        size_t n = ch_rand(r, 8) == 0 ? 16 : 65536;
        int flags = ch_rand(r, 2) ? MSG_DONTWAIT : 0;
        ks_ssize_t g = ks_recvfrom(fd, tbuf, n, flags, (struct sockaddr *)&ss, &len);
        if (ch_check(C_RECVFROM, g, "%d, %zu, 0x%x", fd, n, (unsigned)flags) && g > (ks_ssize_t)n)
            ch_fail("ks_recvfrom(%d, %zu) returned %lld", fd, n, (long long)g);
    }
}

static void op_close(struct ch_rng *r)
{
    int i = (int)ch_rand(r, CH_SLOTS);
    int fd = InterlockedExchange(&ch.slots[i], 0);
    if (fd == 0)
        return;
    unsigned k = ch_rand(r, 10);
    if (k < 5) {
        LINGER lg = {1, (USHORT)(k < 4 ? 0 : 1)};
        ch_check(C_SETSOCKOPT, ks_setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)),
                 "%d, SO_LINGER {1, %u}", fd, lg.l_linger);
    }
    int c = ks_close(fd);
    ch_check(C_CLOSE, c, "%d", fd);
    if (c == 0)
        ch_note_closed(fd);
}

static void op_shutdown(struct ch_rng *r)
{
    int fd = ch_pick_fd(r);
    static const int hows[] = {SD_RECEIVE, SD_SEND, SD_BOTH, SD_RECEIVE, 3, -1};
    int how = hows[ch_rand(r, 6)];
    int s = ks_shutdown(fd, how);
    if ((how < 0 || how > SD_BOTH) && s != -EINVAL && s != -EBADF)
        ch_fail("ks_shutdown(%d, %d) returned %d, not -EINVAL", fd, how, s);
    else
        ch_check(C_SHUTDOWN, s, "%d, %d", fd, how);
}

#define VALID_REVENTS (POLLIN | POLLPRI | POLLOUT | POLLWRBAND | POLLERR | POLLHUP | POLLNVAL)

static void op_poll(struct ch_rng *r)
{
    struct ks_pollfd p[5];
    int garbage[5];
    unsigned n = 1 + ch_rand(r, 5);
    static const short evs[] = {POLLIN, POLLOUT, POLLIN | POLLOUT, POLLRDNORM, POLLWRNORM, 0};
    for (unsigned i = 0; i < n; i++) {
        unsigned k = ch_rand(r, 10);
        garbage[i] = k == 9;
        p[i].fd = k < 8 ? ch.slots[ch_rand(r, CH_SLOTS)] : k == 8 ? -1 : stale_or_garbage(r);
        if (p[i].fd < 0)
            garbage[i] = 0; /* negative: ignored, revents 0 */
        p[i].events = evs[ch_rand(r, 6)];
        p[i].revents = (short)0x7777;
    }
    int timeout = ch_rand(r, 4) == 0 ? 0 : (int)ch_rand(r, 25);
    int c;
    switch (ch_rand(r, 40)) {
    case 0:
        c = ks_poll(NULL, 1, 0);
        if (c != -EFAULT)
            ch_fail("ks_poll(NULL, 1, 0) returned %d, not -EFAULT", c);
        return;
    case 1:
        c = ks_poll(p, 70000, 0); /* above 65536: -EINVAL, p not read */
        if (c != -EINVAL)
            ch_fail("ks_poll(p, 70000, 0) returned %d, not -EINVAL", c);
        return;
    case 2:
        c = ks_poll(NULL, 0, timeout);
        ch_check(C_POLL, c, "NULL, 0, %d", timeout);
        return;
    default:
        c = ks_poll(p, n, timeout);
        break;
    }
    if (!ch_check(C_POLL, c, "%u entries, %d ms", n, timeout) || c < 0)
        return;
    int ready = 0;
    for (unsigned i = 0; i < n; i++) {
        if (p[i].revents != 0)
            ready++;
        if ((p[i].revents & ~VALID_REVENTS) != 0)
            ch_fail("ks_poll: fd %d revents 0x%x has unknown bits", p[i].fd,
                    (unsigned)(unsigned short)p[i].revents);
        if (p[i].fd < 0 && p[i].revents != 0)
            ch_fail("ks_poll: negative fd %d got revents 0x%x, not 0", p[i].fd,
                    (unsigned)(unsigned short)p[i].revents);
        if (garbage[i] && !(p[i].revents & POLLNVAL))
            ch_fail("ks_poll: stale or garbage fd %d got revents 0x%x, not POLLNVAL", p[i].fd,
                    (unsigned)(unsigned short)p[i].revents);
    }
    if (ready != c)
        ch_fail("ks_poll returned %d but %d entries have revents", c, ready);
}

enum { O_BOOL, O_BUF, O_LINGER, O_TIMEO, O_GETONLY, O_UNKNOWN };
static const struct {
    int level, name, kind;
} options[] = {
    {SOL_SOCKET, SO_REUSEADDR, O_BOOL}, {SOL_SOCKET, SO_EXCLUSIVEADDRUSE, O_BOOL},
    {SOL_SOCKET, SO_KEEPALIVE, O_BOOL}, {SOL_SOCKET, SO_RCVBUF, O_BUF},
    {SOL_SOCKET, SO_SNDBUF, O_BUF},     {SOL_SOCKET, SO_LINGER, O_LINGER},
    {SOL_SOCKET, SO_RCVTIMEO, O_TIMEO}, {SOL_SOCKET, SO_SNDTIMEO, O_TIMEO},
    {SOL_SOCKET, SO_ERROR, O_GETONLY},  {SOL_SOCKET, SO_TYPE, O_GETONLY},
    {IPPROTO_TCP, TCP_NODELAY, O_BOOL}, {IPPROTO_IPV6, IPV6_V6ONLY, O_BOOL},
    {SOL_SOCKET, 0x7777, O_UNKNOWN},    {12345, SO_KEEPALIVE, O_UNKNOWN},
};

static void op_option(struct ch_rng *r)
{
    int fd = ch_pick_fd(r);
    unsigned i = ch_rand(r, sizeof(options) / sizeof(options[0]));
    int level = options[i].level, name = options[i].name, kind = options[i].kind;
    union {
        int i;
        DWORD ms;
        LINGER lg;
        unsigned char raw[16];
    } v;
    memset(&v, 0, sizeof(v));
    int len = kind == O_LINGER ? (int)sizeof(LINGER) : (int)sizeof(int);
    void *val = &v;
    unsigned k = ch_rand(r, 20);
    if (k == 0)
        val = NULL; /* -EFAULT */
    else if (k == 1)
        len = 1; /* -EINVAL */
    if (ch_rand(r, 2)) {
        if (kind == O_BOOL)
            v.i = (int)ch_rand(r, 3);
        else if (kind == O_BUF)
            v.i = 4096 << ch_rand(r, 6);
        else if (kind == O_LINGER)
            v.lg.l_onoff = (USHORT)ch_rand(r, 2), v.lg.l_linger = (USHORT)ch_rand(r, 3);
        else if (kind == O_TIMEO)
            v.ms = 1 + ch_rand(r, CH_SNDTIMEO);
        else
            v.i = 1;
        int s = ks_setsockopt(fd, level, name, val, len);
        ch_check(C_SETSOCKOPT, s, "%d, %d, 0x%x, len %d", fd, level, (unsigned)name, len);
        if (s == 0 && (val == NULL || len == 1))
            ch_fail("ks_setsockopt(%d, 0x%x) with %s succeeded", fd, (unsigned)name,
                    val == NULL ? "a NULL value" : "length 1");
        return;
    }
    int in = len;
    int g = ks_getsockopt(fd, level, name, val, &len);
    if (!ch_check(C_GETSOCKOPT, g, "%d, %d, 0x%x, len %d", fd, level, (unsigned)name, in) || g < 0)
        return;
    if (val == NULL || in == 1 || kind == O_UNKNOWN)
        ch_fail("ks_getsockopt(%d, %d, 0x%x, len %d%s) succeeded", fd, level, (unsigned)name, in,
                val == NULL ? ", NULL" : "");
    else if (len <= 0 || len > in)
        ch_fail("ks_getsockopt(%d, 0x%x) set *len to %d (gave %d)", fd, (unsigned)name, len, in);
    else if (name == SO_ERROR && level == SOL_SOCKET && v.i < 0)
        ch_fail("ks_getsockopt(%d, SO_ERROR) gave %d, not a positive errno or 0", fd, v.i);
    else if (name == SO_TYPE && level == SOL_SOCKET && v.i != SOCK_STREAM && v.i != SOCK_DGRAM)
        ch_fail("ks_getsockopt(%d, SO_TYPE) gave %d", fd, v.i);
}

static void op_ioctl(struct ch_rng *r)
{
    int fd = ch_pick_rx_fd(r);
    unsigned long arg = ch_rand(r, 2);
    unsigned k = ch_rand(r, 20);
    long cmd = k < 8 ? FIONBIO : k < 18 ? FIONREAD : 0x1234;
    int null_arg = ch_rand(r, 20) == 0;
    int c = ks_ioctl(fd, cmd, null_arg ? NULL : &arg);
    if (!ch_check(C_IOCTL, c, "%d, 0x%lx%s", fd, (unsigned long)cmd, null_arg ? ", NULL" : ""))
        return;
    if (c == 0 && (null_arg || cmd == 0x1234))
        ch_fail("ks_ioctl(%d, 0x%lx%s) succeeded", fd, (unsigned long)cmd,
                null_arg ? ", NULL" : "");
    else if (c == 0 && cmd == FIONREAD && arg > 65536)
        ch_fail("ks_ioctl(%d, FIONREAD) gave %lu (at most 64 KiB)", fd, arg);
}

static void op_names(struct ch_rng *r)
{
    int fd = ch_pick_fd(r);
    SOCKADDR_STORAGE ss;
    memset(&ss, 0, sizeof(ss));
    int peer = (int)ch_rand(r, 2);
    static const int lens[] = {(int)sizeof(SOCKADDR_STORAGE), (int)sizeof(SOCKADDR_IN6), 4, 0, -1};
    int len = lens[ch_rand(r, 5)], in = len;
    int null_addr = ch_rand(r, 16) == 0;
    struct sockaddr *a = null_addr ? NULL : (struct sockaddr *)&ss;
    int g = peer ? ks_getpeername(fd, a, &len) : ks_getsockname(fd, a, &len);
    if (!ch_check(peer ? C_GETPEERNAME : C_GETSOCKNAME, g, "%d, len %d", fd, in) || g < 0)
        return;
    if (null_addr || in < 0)
        ch_fail("%s(%d, %s, len %d) succeeded", peer ? "ks_getpeername" : "ks_getsockname", fd,
                null_addr ? "NULL" : "addr", in);
    else if (len != (int)sizeof(SOCKADDR_IN) && len != (int)sizeof(SOCKADDR_IN6))
        ch_fail("%s(%d) set *addrlen to %d", peer ? "ks_getpeername" : "ks_getsockname", fd, len);
    else if (in >= len && ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
        ch_fail("%s(%d) gave family %d", peer ? "ks_getpeername" : "ks_getsockname", fd,
                ss.ss_family);
}

/* A stale or garbage descriptor: every call must say -EBADF. */
static void op_stale(struct ch_rng *r)
{
    int fd = stale_or_garbage(r);
    long long res;
    const char *what;
    unsigned long arg = 0;
    int ilen = (int)sizeof(int), ival = 0;
    SOCKADDR_STORAGE ss;
    int len;
    switch (ch_rand(r, 10)) {
    case 0:
        what = "ks_recv", res = ks_recv(fd, tbuf, 16, MSG_DONTWAIT);
        break;
    case 1:
        what = "ks_send", res = ks_send(fd, tbuf, 16, MSG_DONTWAIT);
        break;
    case 2:
        what = "ks_close", res = ks_close(fd);
        break;
    case 3:
        what = "ks_shutdown", res = ks_shutdown(fd, SD_BOTH);
        break;
    case 4:
        what = "ks_ioctl(FIONREAD)", res = ks_ioctl(fd, FIONREAD, &arg);
        break;
    case 5:
        what = "ks_getsockopt(SO_TYPE)", res = ks_getsockopt(fd, SOL_SOCKET, SO_TYPE, &ival, &ilen);
        break;
    case 6:
        what = "ks_accept", res = ks_accept(fd, NULL, NULL);
        break;
    case 7:
        ht_loopback(0, ch.peer_port4, &ss, &len);
        what = "ks_connect", res = ks_connect(fd, (struct sockaddr *)&ss, len);
        break;
    case 8:
        len = (int)sizeof(ss);
        what = "ks_getsockname", res = ks_getsockname(fd, (struct sockaddr *)&ss, &len);
        break;
    default:
        what = "ks_ioctl(FIONBIO)", res = ks_ioctl(fd, FIONBIO, &arg);
        break;
    }
    if (res != -EBADF)
        ch_fail("%s on stale or garbage descriptor %d returned %lld (%s), not -EBADF", what, fd,
                res, ks_strerror((int)res));
}

void ch_sync_op(struct ch_rng *r)
{
    static const struct {
        void (*fn)(struct ch_rng *);
        unsigned weight;
    } ops[] = {
        {op_client, 8}, {op_listen, 4},   {op_udp, 2},   {op_accept, 8},   {op_send, 14},
        {op_recv, 16},  {op_datagram, 4}, {op_close, 6}, {op_shutdown, 3}, {op_poll, 8},
        {op_option, 7}, {op_ioctl, 5},    {op_names, 3}, {op_stale, 6},
    };
    unsigned total = 0;
    for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        total += ops[i].weight;
    unsigned k = ch_rand(r, total);
    for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (k < ops[i].weight) {
            if (ops[i].fn == op_shutdown && (ch.excluded & CH_NO_SHUTDOWN))
                return;
            ops[i].fn(r);
            return;
        }
        k -= ops[i].weight;
    }
}
