/*
 * kt_badinput.c - the badinput scenario: every documented argument error of
 * include/wsksock.h, checked against the error the header promises.
 * Port: a free port for ktest's own listener (the connected checks use a
 * loopback connection between two ktest sockets).
 */
#include <limits.h>

#include "ktest.h"

#define KS_TOO_BIG ((size_t)PTRDIFF_MAX + 1)

/* ------------------------------------------------------------------ IRQL */

static void irql_checks(void)
{
    struct sockaddr_in a = kt_addr(INADDR_LOOPBACK, 0);
    long r_socket, r_recv, r_send, r_accept, r_bind, r_listen, r_close;
    KIRQL old, now;
    char c = 0;
    int s0;

    STEP("badinput: IRQL");
    s0 = ks_socket(AF_INET, SOCK_STREAM, 0);
    if (!CHECK("badinput: ks_socket at PASSIVE_LEVEL", s0 > 0, s0))
        return;
    /* Only calls that cannot block even if the IRQL check were missing. */
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    now = KeGetCurrentIrql();
    r_socket = ks_socket(AF_INET, SOCK_STREAM, 0);
    r_recv = (long)ks_recv(s0, &c, 1, 0);
    r_send = (long)ks_send(s0, "x", 1, 0);
    r_accept = ks_accept(s0, NULL, NULL);
    r_bind = ks_bind(s0, (struct sockaddr *)&a, sizeof(a));
    r_listen = ks_listen(s0, 1);
    r_close = ks_close(s0);
    KeLowerIrql(old);

    if (now < DISPATCH_LEVEL) {
        KT_LOG("SKIP badinput: IRQL checks: KeGetCurrentIrql() = %d after "
               "KeRaiseIrql(DISPATCH_LEVEL): this platform does not model IRQL (Wine emulates "
               "CR8 reads as 0), so the -EPERM rule cannot be exercised here\n",
               (int)now);
        if (r_socket > 0)
            ks_close((int)r_socket);
        ks_close(s0);
        return;
    }
    EXPECT("badinput: ks_socket at DISPATCH_LEVEL", r_socket, -EPERM);
    EXPECT("badinput: ks_recv at DISPATCH_LEVEL", r_recv, -EPERM);
    EXPECT("badinput: ks_send at DISPATCH_LEVEL", r_send, -EPERM);
    EXPECT("badinput: ks_accept at DISPATCH_LEVEL", r_accept, -EPERM);
    EXPECT("badinput: ks_bind at DISPATCH_LEVEL", r_bind, -EPERM);
    EXPECT("badinput: ks_listen at DISPATCH_LEVEL", r_listen, -EPERM);
    EXPECT("badinput: ks_close at DISPATCH_LEVEL", r_close, -EPERM);
    if (r_socket > 0)
        ks_close((int)r_socket);
    /* "do nothing": the socket is still open and unbound. */
    EXPECT("badinput: ks_close at PASSIVE_LEVEL after the refused calls", ks_close(s0), 0);
}

/* ------------------------------------------------------- bad descriptors */

static void bad_fd_checks(void)
{
    struct sockaddr_in a = kt_addr(INADDR_LOOPBACK, kt_param.port);
    struct sockaddr_in from;
    int fromlen = sizeof(from);
    int fds[6], i, closed;
    char c = 0;

    STEP("badinput: bad descriptors");
    closed = ks_socket(AF_INET, SOCK_STREAM, 0);
    CHECK("badinput: ks_socket", closed > 0, closed);
    EXPECT("badinput: ks_close(fresh socket)", ks_close(closed), 0);
    fds[0] = -1;
    fds[1] = 0;
    fds[2] = 12345;
    fds[3] = INT_MAX;
    fds[4] = INT_MIN;
    fds[5] = closed;
    for (i = 0; i < 6; i++) {
        int fd = fds[i];
        KT_LOG("badinput: descriptor %d%s\n", fd, i == 5 ? " (closed)" : "");
        EXPECT("badinput:   ks_bind", ks_bind(fd, (struct sockaddr *)&a, sizeof(a)), -EBADF);
        EXPECT("badinput:   ks_listen", ks_listen(fd, 1), -EBADF);
        EXPECT("badinput:   ks_accept", ks_accept(fd, NULL, NULL), -EBADF);
        EXPECT("badinput:   ks_connect", ks_connect(fd, (struct sockaddr *)&a, sizeof(a)), -EBADF);
        EXPECT("badinput:   ks_send", ks_send(fd, "x", 1, 0), -EBADF);
        EXPECT("badinput:   ks_recv", ks_recv(fd, &c, 1, 0), -EBADF);
        EXPECT("badinput:   ks_sendto", ks_sendto(fd, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)),
               -EBADF);
        EXPECT("badinput:   ks_recvfrom",
               ks_recvfrom(fd, &c, 1, 0, (struct sockaddr *)&from, &fromlen), -EBADF);
        EXPECT("badinput:   ks_close", ks_close(fd), -EBADF);
    }
}

/* ------------------------------------------------------------- ks_socket */

static void socket_checks(void)
{
    int s1, s2, s3;

    STEP("badinput: ks_socket arguments");
    EXPECT("badinput: ks_socket(AF_UNSPEC, SOCK_STREAM, 0)", ks_socket(AF_UNSPEC, SOCK_STREAM, 0),
           -EAFNOSUPPORT);
    EXPECT("badinput: ks_socket(99, SOCK_STREAM, 0)", ks_socket(99, SOCK_STREAM, 0), -EAFNOSUPPORT);
    EXPECT("badinput: ks_socket(-1, SOCK_STREAM, 0)", ks_socket(-1, SOCK_STREAM, 0), -EAFNOSUPPORT);
    /* The header documents -EPROTONOSUPPORT and -EPROTOTYPE for bad type/protocol. */
    EXPECT_IN("badinput: ks_socket(AF_INET, 99, 0)", ks_socket(AF_INET, 99, 0), -EPROTOTYPE,
              -EPROTONOSUPPORT);
    EXPECT_IN("badinput: ks_socket(AF_INET, SOCK_RAW, 0)", ks_socket(AF_INET, SOCK_RAW, 0),
              -EPROTOTYPE, -EPROTONOSUPPORT);
    EXPECT_IN("badinput: ks_socket(AF_INET, SOCK_STREAM, IPPROTO_UDP)",
              ks_socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), -EPROTOTYPE, -EPROTONOSUPPORT);
    EXPECT_IN("badinput: ks_socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP)",
              ks_socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP), -EPROTOTYPE, -EPROTONOSUPPORT);
    EXPECT_IN("badinput: ks_socket(AF_INET, SOCK_STREAM, 99)", ks_socket(AF_INET, SOCK_STREAM, 99),
              -EPROTOTYPE, -EPROTONOSUPPORT);
    EXPECT_IN("badinput: ks_socket(AF_INET, SOCK_STREAM, -1)", ks_socket(AF_INET, SOCK_STREAM, -1),
              -EPROTOTYPE, -EPROTONOSUPPORT);

    s1 = ks_socket(AF_INET, SOCK_STREAM, 0);
    s2 = ks_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    s3 = ks_socket(AF_INET6, SOCK_STREAM, 0);
    CHECK("badinput: ks_socket(AF_INET, SOCK_STREAM, 0)", s1 > 0, s1);
    CHECK("badinput: ks_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)", s2 > 0, s2);
    CHECK("badinput: ks_socket(AF_INET6, SOCK_STREAM, 0)", s3 > 0, s3);
    CHECK("badinput: three open descriptors are distinct", s1 != s2 && s2 != s3 && s1 != s3, 0);
    EXPECT("badinput: ks_close(s1)", ks_close(s1), 0);
    EXPECT("badinput: ks_close(s2)", ks_close(s2), 0);
    EXPECT("badinput: ks_close(s3)", ks_close(s3), 0);
}

/* ------------------------------------------------------ bind and connect */

static void address_checks(void)
{
    struct sockaddr_in a = kt_addr(INADDR_LOOPBACK, 0);
    struct sockaddr_in unspec = a;
    struct sockaddr_in6 a6;
    struct sockaddr_storage ss;
    int s, s6, r;

    STEP("badinput: ks_bind/ks_connect addresses");
    RtlZeroMemory(&a6, sizeof(a6));
    a6.sin6_family = AF_INET6;
    a6.sin6_addr.s6_addr[15] = 1;
    unspec.sin_family = AF_UNSPEC;

    s = ks_socket(AF_INET, SOCK_STREAM, 0);
    if (!CHECK("badinput: ks_socket", s > 0, s))
        return;
    EXPECT("badinput: ks_bind(NULL addr)", ks_bind(s, NULL, sizeof(a)), -EFAULT);
    EXPECT("badinput: ks_bind(addrlen 0)", ks_bind(s, (struct sockaddr *)&a, 0), -EINVAL);
    EXPECT("badinput: ks_bind(addrlen 15)", ks_bind(s, (struct sockaddr *)&a, 15), -EINVAL);
    EXPECT("badinput: ks_bind(addrlen -1)", ks_bind(s, (struct sockaddr *)&a, -1), -EINVAL);
    EXPECT("badinput: ks_bind(addrlen INT_MIN)", ks_bind(s, (struct sockaddr *)&a, INT_MIN),
           -EINVAL);
    EXPECT("badinput: ks_bind(AF_INET6 address on an AF_INET socket)",
           ks_bind(s, (struct sockaddr *)&a6, sizeof(a6)), -EAFNOSUPPORT);
    EXPECT("badinput: ks_bind(AF_UNSPEC address)",
           ks_bind(s, (struct sockaddr *)&unspec, sizeof(unspec)), -EAFNOSUPPORT);
    EXPECT("badinput: ks_connect(NULL addr)", ks_connect(s, NULL, sizeof(a)), -EFAULT);
    EXPECT("badinput: ks_connect(addrlen 0)", ks_connect(s, (struct sockaddr *)&a, 0), -EINVAL);
    EXPECT("badinput: ks_connect(addrlen 15)", ks_connect(s, (struct sockaddr *)&a, 15), -EINVAL);
    EXPECT("badinput: ks_connect(addrlen -1)", ks_connect(s, (struct sockaddr *)&a, -1), -EINVAL);
    EXPECT("badinput: ks_connect(AF_INET6 address on an AF_INET socket)",
           ks_connect(s, (struct sockaddr *)&a6, sizeof(a6)), -EAFNOSUPPORT);
    EXPECT("badinput: ks_connect(AF_UNSPEC address)",
           ks_connect(s, (struct sockaddr *)&unspec, sizeof(unspec)), -EAFNOSUPPORT);
    /* Unconnected socket: no data path yet. */
    EXPECT("badinput: ks_send on an unconnected socket", ks_send(s, "x", 1, 0), -ENOTCONN);
    {
        char c;
        EXPECT("badinput: ks_recv on an unconnected socket", ks_recv(s, &c, 1, 0), -ENOTCONN);
    }
    EXPECT("badinput: ks_accept on a socket that is not listening", ks_accept(s, NULL, NULL),
           -EINVAL);
    /* A larger addrlen is fine ("at least"); then a second bind is -EINVAL. */
    RtlZeroMemory(&ss, sizeof(ss));
    RtlCopyMemory(&ss, &a, sizeof(a));
    EXPECT("badinput: ks_bind(127.0.0.1:0, addrlen = sizeof(sockaddr_storage))",
           ks_bind(s, (struct sockaddr *)&ss, sizeof(ss)), 0);
    EXPECT("badinput: ks_bind on a bound socket", ks_bind(s, (struct sockaddr *)&a, sizeof(a)),
           -EINVAL);
    EXPECT("badinput: ks_close(bound socket)", ks_close(s), 0);

    /* AF_INET6 socket given an IPv4 address: too short and the wrong family. */
    s6 = ks_socket(AF_INET6, SOCK_STREAM, 0);
    if (CHECK("badinput: ks_socket(AF_INET6)", s6 > 0, s6)) {
        EXPECT("badinput: ks_bind(AF_INET6 socket, NULL)", ks_bind(s6, NULL, sizeof(a6)), -EFAULT);
        EXPECT("badinput: ks_bind(AF_INET6 socket, addrlen 27)",
               ks_bind(s6, (struct sockaddr *)&a6, 27), -EINVAL);
        r = ks_bind(s6, (struct sockaddr *)&a, sizeof(a));
        EXPECT_IN("badinput: ks_bind(AF_INET6 socket, sockaddr_in)", r, -EINVAL, -EAFNOSUPPORT);
        EXPECT("badinput: ks_close(AF_INET6 socket)", ks_close(s6), 0);
    }

    /* Datagram sockets: listen is for stream sockets. Wine has no datagram WSK sockets. */
    s = ks_socket(AF_INET, SOCK_DGRAM, 0);
    if (s > 0) {
        EXPECT("badinput: ks_listen on a datagram socket", ks_listen(s, 1), -EOPNOTSUPP);
        EXPECT("badinput: ks_close(datagram socket)", ks_close(s), 0);
    } else {
        KT_LOG("SKIP badinput: datagram checks: ks_socket(AF_INET, SOCK_DGRAM, 0) = %d (%s)\n", s,
               kt_errname(s));
    }
}

/* ------------------------------------------------- a connected loopback */

struct acc_ctx {
    int l;
    struct sockaddr *addr;
    int *addrlen;
    volatile LONG done;
    int result;
};

static VOID NTAPI acc_thread(PVOID p)
{
    struct acc_ctx *c = p;

    c->result = ks_accept(c->l, c->addr, c->addrlen);
    InterlockedExchange(&c->done, 1);
    kt_thread_exit();
}

/* ks_accept on a thread, ended by connecting `connect_now` (if set) to the listener. */
static int accept_with(int l, struct sockaddr *addr, int *addrlen, int connect_now, int *client)
{
    static struct acc_ctx ctx; /* static: the thread may outlive a failed check */
    int slot;

    RtlZeroMemory(&ctx, sizeof(ctx));
    ctx.l = l;
    ctx.addr = addr;
    ctx.addrlen = addrlen;
    slot = kt_spawn(acc_thread, &ctx);
    if (slot < 0)
        return -ENOMEM;
    if (connect_now)
        *client = kt_connect_loopback(kt_param.port);
    if (!kt_join(slot, 5000)) {
        /* Still blocked: a connection wakes it, so the run can go on. */
        KT_LOG("FAIL ks_accept did not return within 5 s\n");
        InterlockedIncrement(&kt_failures);
        if (!connect_now)
            *client = kt_connect_loopback(kt_param.port);
        if (!kt_join(slot, 5000))
            return -ETIMEDOUT;
    }
    return ctx.result;
}

static void connected_checks(void)
{
    struct sockaddr_in a = kt_addr(INADDR_LOOPBACK, kt_param.port);
    struct sockaddr_in peer;
    unsigned char raw[sizeof(struct sockaddr_in)];
    int l, c = -1, c2 = -1, c3 = -1, s = -1, s2 = -1, s3, other, alen, i, intact;
    char buf[16];
    ks_ssize_t r;

    STEP("badinput: loopback connection");
    l = kt_listen_loopback(kt_param.port);
    if (l < 0)
        return;
    other = ks_socket(AF_INET, SOCK_STREAM, 0);
    if (other > 0) {
        EXPECT("badinput: ks_bind to the listener's address",
               ks_bind(other, (struct sockaddr *)&a, sizeof(a)), -EADDRINUSE);
        ks_close(other);
    }
    alen = sizeof(peer);
    RtlFillMemory(&peer, sizeof(peer), 0xaa);
    s = accept_with(l, (struct sockaddr *)&peer, &alen, 1, &c);
    if (!CHECK("badinput: ks_accept of a loopback connection", s > 0, s) || c < 0)
        goto out;
    EXPECT("badinput: ks_accept sets *addrlen", alen, sizeof(struct sockaddr_in));
    EXPECT("badinput: ks_accept peer family", peer.sin_family, AF_INET);
    EXPECT("badinput: ks_accept peer address is 127.0.0.1", ks_ntohl(peer.sin_addr.s_addr),
           INADDR_LOOPBACK);

    /* Truncated address: 4 bytes copied, *addrlen = full size. */
    STEP("badinput: ks_accept with a short addrlen");
    alen = 4;
    RtlFillMemory(raw, sizeof(raw), 0xaa);
    s2 = accept_with(l, (struct sockaddr *)raw, &alen, 1, &c2);
    if (CHECK("badinput: ks_accept(addrlen 4)", s2 > 0, s2)) {
        EXPECT("badinput: ks_accept(addrlen 4) sets *addrlen to the full size", alen,
               sizeof(struct sockaddr_in));
        EXPECT("badinput: ks_accept(addrlen 4) copies the family", raw[0] | (raw[1] << 8), AF_INET);
        intact = 1;
        for (i = 4; i < (int)sizeof(raw); i++)
            intact &= raw[i] == 0xaa;
        CHECK("badinput: ks_accept(addrlen 4) writes nothing past 4 bytes", intact, 0);
    }

    STEP("badinput: connected-socket checks");
    EXPECT("badinput: ks_connect on a connected socket",
           ks_connect(c, (struct sockaddr *)&a, sizeof(a)), -EISCONN);
    EXPECT("badinput: ks_connect on a listening socket",
           ks_connect(l, (struct sockaddr *)&a, sizeof(a)), -EISCONN);
    EXPECT("badinput: ks_listen on a connected socket", ks_listen(c, 1), -EISCONN);
    EXPECT("badinput: ks_bind on a connected (so bound) socket",
           ks_bind(c, (struct sockaddr *)&a, sizeof(a)), -EINVAL);
    EXPECT("badinput: ks_accept on a connected socket", ks_accept(s, NULL, NULL), -EINVAL);
    EXPECT("badinput: ks_sendto on a stream socket",
           ks_sendto(c, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)), -EOPNOTSUPP);

    /* Data queued at s, so a wrong implementation returns instead of blocking. */
    if (!kt_send_all(c, "hello", 5))
        goto out;
    EXPECT("badinput: ks_send(NULL, 10)", ks_send(c, NULL, 10, 0), -EFAULT);
    EXPECT("badinput: ks_send(NULL, 0)", ks_send(c, NULL, 0, 0), 0);
    EXPECT("badinput: ks_send(buf, 0)", ks_send(c, "x", 0, 0), 0);
    EXPECT("badinput: ks_send(len > KS_MAX_IO_SIZE)", ks_send(c, "x", KS_TOO_BIG, 0), -EINVAL);
    EXPECT("badinput: ks_send(flags MSG_OOB)", ks_send(c, "x", 1, MSG_OOB), -EOPNOTSUPP);
    EXPECT("badinput: ks_send(flags MSG_WAITALL)", ks_send(c, "x", 1, MSG_WAITALL), -EOPNOTSUPP);
    EXPECT("badinput: ks_send(flags 0x40000000)", ks_send(c, "x", 1, 0x40000000), -EOPNOTSUPP);
    EXPECT("badinput: ks_recv(NULL, 10)", ks_recv(s, NULL, 10, 0), -EFAULT);
    EXPECT("badinput: ks_recv(buf, 0)", ks_recv(s, buf, 0, 0), 0);
    EXPECT("badinput: ks_recv(len > KS_MAX_IO_SIZE)", ks_recv(s, buf, KS_TOO_BIG, 0), -EINVAL);
    EXPECT("badinput: ks_recv(flags 0x10000)", ks_recv(s, buf, sizeof(buf), 0x10000), -EOPNOTSUPP);
    /* MSG_PEEK leaves the data queued: two peeks see the same bytes. */
    RtlZeroMemory(buf, sizeof(buf));
    r = ks_recv(s, buf, 5, MSG_PEEK);
    CHECK("badinput: ks_recv(MSG_PEEK) returns a prefix of \"hello\"",
          r >= 1 && r <= 5 && RtlCompareMemory(buf, "hello", (SIZE_T)r) == (SIZE_T)r, (long)r);
    RtlZeroMemory(buf, sizeof(buf));
    r = ks_recv(s, buf, 2, MSG_PEEK);
    CHECK("badinput: a second ks_recv(MSG_PEEK) sees the same first bytes",
          r >= 1 && r <= 2 && RtlCompareMemory(buf, "he", (SIZE_T)r) == (SIZE_T)r, (long)r);
    /* The failed calls and the peeks consumed nothing: exactly "hello" is queued. */
    RtlZeroMemory(buf, sizeof(buf));
    r = ks_recv(s, buf, 5, MSG_WAITALL);
    EXPECT("badinput: ks_recv after the rejected calls and the peeks", r, 5);
    CHECK("badinput: the queued data is intact (\"hello\")",
          r == 5 && RtlCompareMemory(buf, "hello", 5) == 5, 0);
    /* Nothing more is queued: a peek now would block; send 1 byte to check order. */
    if (kt_send_all(c, "!", 1)) {
        r = ks_recv(s, buf, sizeof(buf), 0);
        CHECK("badinput: the next byte is the one sent after \"hello\"", r == 1 && buf[0] == '!',
              (long)r);
    }

    /* addr without addrlen: -EFAULT at once (a connection wakes it if not). */
    STEP("badinput: ks_accept(addr, NULL addrlen)");
    s3 = accept_with(l, (struct sockaddr *)&peer, NULL, 0, &c3);
    EXPECT("badinput: ks_accept(addr, NULL addrlen)", s3, -EFAULT);
    if (s3 > 0)
        ks_close(s3);

out:
    STEP("badinput: close");
    if (c > 0)
        EXPECT("badinput: ks_close(client)", ks_close(c), 0);
    if (s > 0)
        EXPECT("badinput: ks_close(accepted)", ks_close(s), 0);
    if (c2 > 0)
        ks_close(c2);
    if (s2 > 0)
        ks_close(s2);
    if (c3 > 0)
        ks_close(c3);
    EXPECT("badinput: ks_close(listener)", ks_close(l), 0);
    EXPECT("badinput: ks_close(listener) twice", ks_close(l), -EBADF);
}

/* --------------------------------------------------- inet_pton/ntop/strerror */

static int bytes_are(const unsigned char *p, const unsigned char *want, int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (p[i] != want[i])
            return 0;
    return 1;
}

static int str_is(const char *got, const char *want)
{
    return got && strcmp(got, want) == 0;
}

static void pton_checks(void)
{
    static const char *const bad4[] = {"256.1.1.1", "1.2.3",    "1.2.3.4.5", "",
                                       "a.b.c.d",   "1.2.3.4 ", " 1.2.3.4",  "1..2.3",
                                       "1.2.3.-4",  "1.2.3.4x", "::1"};
    static const char *const bad6[] = {"1::2::3", "12345::", ":::", "1:2:3:4:5:6:7:8:9", "g::1", "",
                                       "1.2.3.4", "::1:",    ":1::"};
    static const unsigned char v4[4] = {1, 2, 3, 4};
    static const unsigned char loop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
    static const unsigned char doc6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1,
                                           0,    0,    0,    0,    0, 0, 0, 1};
    unsigned char d[16];
    char t[INET6_ADDRSTRLEN];
    size_t i;

    STEP("badinput: ks_inet_pton/ks_inet_ntop/ks_strerror");
    EXPECT("badinput: ks_inet_pton(AF_INET, \"1.2.3.4\")", ks_inet_pton(AF_INET, "1.2.3.4", d), 1);
    CHECK("badinput: ... gives 01 02 03 04", bytes_are(d, v4, 4), 0);
    EXPECT("badinput: ks_inet_pton(AF_INET, \"255.255.255.255\")",
           ks_inet_pton(AF_INET, "255.255.255.255", d), 1);
    EXPECT("badinput: ks_inet_pton(AF_INET, \"0.0.0.0\")", ks_inet_pton(AF_INET, "0.0.0.0", d), 1);
    for (i = 0; i < sizeof(bad4) / sizeof(bad4[0]); i++) {
        KT_LOG("badinput: ks_inet_pton(AF_INET, \"%s\")\n", bad4[i]);
        EXPECT("badinput:   invalid IPv4 text", ks_inet_pton(AF_INET, bad4[i], d), 0);
    }
    EXPECT("badinput: ks_inet_pton(AF_INET6, \"::1\")", ks_inet_pton(AF_INET6, "::1", d), 1);
    CHECK("badinput: ... gives ::1", bytes_are(d, loop6, 16), 0);
    EXPECT("badinput: ks_inet_pton(AF_INET6, \"::ffff:1.2.3.4\")",
           ks_inet_pton(AF_INET6, "::ffff:1.2.3.4", d), 1);
    CHECK("badinput: ... gives ::ffff:0102:0304", bytes_are(d, mapped, 16), 0);
    EXPECT("badinput: ks_inet_pton(AF_INET6, \"2001:DB8:0:1::1\")",
           ks_inet_pton(AF_INET6, "2001:DB8:0:1::1", d), 1);
    CHECK("badinput: ... gives 2001:db8:0:1::1", bytes_are(d, doc6, 16), 0);
    EXPECT("badinput: ks_inet_pton(AF_INET6, \"::\")", ks_inet_pton(AF_INET6, "::", d), 1);
    EXPECT("badinput: ks_inet_pton(AF_INET6, \"1:2:3:4:5:6:7:8\")",
           ks_inet_pton(AF_INET6, "1:2:3:4:5:6:7:8", d), 1);
    for (i = 0; i < sizeof(bad6) / sizeof(bad6[0]); i++) {
        KT_LOG("badinput: ks_inet_pton(AF_INET6, \"%s\")\n", bad6[i]);
        EXPECT("badinput:   invalid IPv6 text", ks_inet_pton(AF_INET6, bad6[i], d), 0);
    }
    EXPECT("badinput: ks_inet_pton(99, ...)", ks_inet_pton(99, "1.2.3.4", d), -EAFNOSUPPORT);
    EXPECT("badinput: ks_inet_pton(AF_INET, NULL src)", ks_inet_pton(AF_INET, NULL, d), -EFAULT);
    EXPECT("badinput: ks_inet_pton(AF_INET, NULL dst)", ks_inet_pton(AF_INET, "1.2.3.4", NULL),
           -EFAULT);

    CHECK("badinput: ks_inet_ntop(AF_INET, 1.2.3.4) = \"1.2.3.4\"",
          ks_inet_ntop(AF_INET, v4, t, sizeof(t)) == t && str_is(t, "1.2.3.4"), 0);
    CHECK("badinput: ks_inet_ntop(AF_INET, size 8: exact fit)",
          ks_inet_ntop(AF_INET, v4, t, 8) == t && str_is(t, "1.2.3.4"), 0);
    CHECK("badinput: ks_inet_ntop(AF_INET, size 7: too small) = NULL",
          ks_inet_ntop(AF_INET, v4, t, 7) == NULL, 0);
    CHECK("badinput: ks_inet_ntop(AF_INET, size 0) = NULL", ks_inet_ntop(AF_INET, v4, t, 0) == NULL,
          0);
    CHECK("badinput: ks_inet_ntop(99, ...) = NULL", ks_inet_ntop(99, v4, t, sizeof(t)) == NULL, 0);
    CHECK("badinput: ks_inet_ntop(NULL src) = NULL",
          ks_inet_ntop(AF_INET, NULL, t, sizeof(t)) == NULL, 0);
    CHECK("badinput: ks_inet_ntop(NULL dst) = NULL", ks_inet_ntop(AF_INET, v4, NULL, 16) == NULL,
          0);
    CHECK("badinput: ks_inet_ntop(AF_INET6, ::1) = \"::1\"",
          ks_inet_ntop(AF_INET6, loop6, t, sizeof(t)) == t && str_is(t, "::1"), 0);
    CHECK("badinput: ks_inet_ntop(AF_INET6, ::1, size 4: exact fit)",
          ks_inet_ntop(AF_INET6, loop6, t, 4) == t && str_is(t, "::1"), 0);
    CHECK("badinput: ks_inet_ntop(AF_INET6, ::1, size 3) = NULL",
          ks_inet_ntop(AF_INET6, loop6, t, 3) == NULL, 0);
    CHECK("badinput: ks_inet_ntop(AF_INET6) RFC 5952: \"2001:db8:0:1::1\"",
          ks_inet_ntop(AF_INET6, doc6, t, sizeof(t)) == t && str_is(t, "2001:db8:0:1::1"), 0);
    RtlZeroMemory(d, sizeof(d));
    CHECK("badinput: ks_inet_ntop(AF_INET6, all zero) = \"::\"",
          ks_inet_ntop(AF_INET6, d, t, sizeof(t)) == t && str_is(t, "::"), 0);
    {
        /* 2001:db8:0:0:1:0:0:1: two equal zero runs, the first is compressed. */
        static const unsigned char tie[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                              0,    1,    0,    0,    0, 0, 0, 1};
        CHECK("badinput: ks_inet_ntop(AF_INET6) RFC 5952 tie: \"2001:db8::1:0:0:1\"",
              ks_inet_ntop(AF_INET6, tie, t, sizeof(t)) == t && str_is(t, "2001:db8::1:0:0:1"), 0);
    }
    CHECK("badinput: ks_inet_ntop(AF_INET6, mapped) = \"::ffff:1.2.3.4\"",
          ks_inet_ntop(AF_INET6, mapped, t, sizeof(t)) == t && str_is(t, "::ffff:1.2.3.4"), 0);
    CHECK("badinput: ks_inet_ntop(AF_INET6, mapped, size 15: exact fit)",
          ks_inet_ntop(AF_INET6, mapped, t, 15) == t && str_is(t, "::ffff:1.2.3.4"), 0);
    CHECK("badinput: ks_inet_ntop(AF_INET6, mapped, size 14: one short) = NULL",
          ks_inet_ntop(AF_INET6, mapped, t, 14) == NULL, 0);
    {
        /* What ks_inet_ntop writes, ks_inet_pton reads back to the same
         * bytes: every pattern of zero and non-zero groups, each with the
         * mapped prefix too (::ffff:0:0/96 prints dotted decimal). */
        unsigned char a[16], back[16];
        int failures = 0;
        for (unsigned pattern = 0; pattern < 256 * 2; pattern++) {
            for (int g = 0; g < 8; g++) {
                unsigned w = (pattern >> g) & 1 ? 0x1000u * (unsigned)(g + 1) + pattern : 0;
                a[2 * g] = (unsigned char)(w >> 8);
                a[2 * g + 1] = (unsigned char)w;
            }
            if (pattern >= 256) {
                RtlZeroMemory(a, 10);
                a[10] = a[11] = 0xff;
            }
            if (ks_inet_ntop(AF_INET6, a, t, sizeof(t)) != t ||
                ks_inet_pton(AF_INET6, t, back) != 1 || !bytes_are(back, a, 16)) {
                if (failures++ == 0)
                    KT_LOG("badinput: round trip failed for \"%s\"\n", t);
            }
        }
        EXPECT("badinput: ks_inet_ntop -> ks_inet_pton round trips (512 addresses)", failures, 0);
    }

    {
        const char *e1 = ks_strerror(-EBADF), *e2 = ks_strerror(EBADF), *e3 = ks_strerror(99999),
                   *e4 = ks_strerror(INT_MIN), *e5 = ks_strerror(0);
        CHECK("badinput: ks_strerror(-EBADF) non-empty", e1 && e1[0], 0);
        CHECK("badinput: ks_strerror(EBADF) equals ks_strerror(-EBADF)",
              e1 && e2 && !strcmp(e1, e2), 0);
        CHECK("badinput: ks_strerror(99999) not NULL", e3 != NULL, 0);
        CHECK("badinput: ks_strerror(INT_MIN) not NULL", e4 != NULL, 0);
        CHECK("badinput: ks_strerror(0) not NULL", e5 != NULL, 0);
        if (e1)
            KT_LOG("badinput: ks_strerror(-EBADF) = \"%s\"\n", e1);
    }
}

enum kt_outcome kt_badinput(void)
{
    irql_checks();
    bad_fd_checks();
    socket_checks();
    address_checks();
    connected_checks();
    pton_checks();
    return KT_DONE;
}

/* ------------------------------------------------------------ ks_param_* */

/*
 * Run from DriverEntry (the registry path is only valid there). The test
 * script sets: PText = "héllo €😀" (UTF-8 on the command line, stored as
 * UTF-16 by wskrun), PEmpty = "", PHex = "0x1F", PNeg = " -42 ",
 * PBig = "4294967296", PJunk = "12abc".
 */
void kt_badinput_params(const UNICODE_STRING *rp)
{
    static const char text[] = "h\xc3\xa9llo \xe2\x82\xac\xf0\x9f\x98\x80";
    static WCHAR missing_path[] = L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\"
                                  L"ktest-no-such-service";
    UNICODE_STRING missing;
    const int len = (int)sizeof(text) - 1;
    char buf[64];
    int r;

    KT_LOG("badinput: ks_param_get / ks_param_get_int\n");
    r = ks_param_get(rp, "PText", buf, sizeof(buf));
    EXPECT("badinput: ks_param_get(PText) length of the UTF-8 text", r, len);
    CHECK("badinput: ks_param_get(PText) is the UTF-8 text (2-, 3- and 4-byte sequences)",
          r == len && strcmp(buf, text) == 0, r);
    r = ks_param_get(rp, "ptext", buf, sizeof(buf));
    EXPECT("badinput: ks_param_get(ptext): names are case-insensitive", r, len);
    r = ks_param_get(rp, "PText", buf, (size_t)len + 1);
    EXPECT("badinput: ks_param_get(PText, size = length + 1: exact fit)", r, len);
    RtlFillMemory(buf, sizeof(buf), 'x');
    r = ks_param_get(rp, "PText", buf, (size_t)len);
    EXPECT("badinput: ks_param_get(PText, size = length)", r, -EMSGSIZE);
    CHECK("badinput: ... leaves an empty string", buf[0] == '\0', buf[0]);
    r = ks_param_get(rp, "PEmpty", buf, sizeof(buf));
    EXPECT("badinput: ks_param_get(PEmpty)", r, 0);
    CHECK("badinput: ... is an empty string", r == 0 && buf[0] == '\0', buf[0]);
    EXPECT("badinput: ks_param_get(missing value)", ks_param_get(rp, "NoSuchValue", buf, 64),
           -ENOENT);
    RtlInitUnicodeString(&missing, missing_path);
    EXPECT("badinput: ks_param_get(missing service key)", ks_param_get(&missing, "Port", buf, 64),
           -ENOENT);
    EXPECT("badinput: ks_param_get(NULL registry path)", ks_param_get(NULL, "PText", buf, 64),
           -EFAULT);
    EXPECT("badinput: ks_param_get(NULL name)", ks_param_get(rp, NULL, buf, 64), -EFAULT);
    EXPECT("badinput: ks_param_get(NULL buf)", ks_param_get(rp, "PText", NULL, 64), -EFAULT);
    EXPECT("badinput: ks_param_get(size 0)", ks_param_get(rp, "PText", buf, 0), -EINVAL);
    EXPECT("badinput: ks_param_get(empty name)", ks_param_get(rp, "", buf, 64), -EINVAL);

    EXPECT("badinput: ks_param_get_int(PHex = \"0x1F\")", ks_param_get_int(rp, "PHex", 7), 31);
    EXPECT("badinput: ks_param_get_int(PNeg = \" -42 \")", ks_param_get_int(rp, "PNeg", 7), -42);
    EXPECT("badinput: ks_param_get_int(PBig = \"4294967296\"): default",
           ks_param_get_int(rp, "PBig", 7), 7);
    EXPECT("badinput: ks_param_get_int(PJunk = \"12abc\"): default",
           ks_param_get_int(rp, "PJunk", 7), 7);
    EXPECT("badinput: ks_param_get_int(PText): default", ks_param_get_int(rp, "PText", 7), 7);
    EXPECT("badinput: ks_param_get_int(PEmpty): default", ks_param_get_int(rp, "PEmpty", 7), 7);
    EXPECT("badinput: ks_param_get_int(missing): default", ks_param_get_int(rp, "NoSuchValue", 7),
           7);
    EXPECT("badinput: ks_param_get_int(Port)", ks_param_get_int(rp, "Port", 7), kt_param.port);
}
