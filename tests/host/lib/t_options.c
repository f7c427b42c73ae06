/* t_options.c - socket options, shutdown, close modes and socket addresses. */
#include "tests.h"

#include <wsksock/wsk.h> /* LINGER */

#include <string.h>

static int get_int(int s, int level, int name, int *value)
{
    int len = (int)sizeof(*value);
    *value = -12345;
    int r = ks_getsockopt(s, level, name, value, &len);
    if (r == 0 && len != (int)sizeof(*value))
        return -1000;
    return r;
}

static int set_int(int s, int level, int name, int value)
{
    return ks_setsockopt(s, level, name, &value, (int)sizeof(value));
}

/* Sets value, then reads it back; the value read or the error. */
static int round_trip(int s, int level, int name, int value)
{
    int r = set_int(s, level, name, value);
    if (r != 0)
        return r;
    int got;
    r = get_int(s, level, name, &got);
    return r != 0 ? r : got;
}

static int port_of(const SOCKADDR_STORAGE *a)
{
    return ks_ntohs(((const SOCKADDR_IN *)a)->sin_port);
}

/* A library socket connected to a native listener; *native gets the
 * accepted native end. */
static int connect_to_native(int v6, int *native)
{
    int port;
    int l = hp_listen(v6, &port);
    HT_CHECK(l >= 0, "hp_listen", l);
    int s = ht_ks_connect(v6, port);
    HT_CHECK(s >= 0, "ks_connect to a native listener", s);
    *native = hp_accept(l, 5000);
    HT_CHECK(*native >= 0, "native accept", *native);
    hp_close(l);
    return s;
}

/* Every option's set/get round trip, before and after the provider's
 * socket exists (the provider is asked then). */
static void test_roundtrip(void)
{
    int v;
    LINGER lg;
    int len;
    int s = ks_socket(AF_INET, SOCK_STREAM, 0);
    HT_CHECK(s >= 0, "ks_socket", s);
    /* Defaults. */
    HT_EQ(get_int(s, SOL_SOCKET, SO_TYPE, &v), 0, "SO_TYPE");
    HT_EQ(v, SOCK_STREAM, "SO_TYPE value");
    HT_EQ(get_int(s, SOL_SOCKET, SO_ERROR, &v), 0, "SO_ERROR");
    HT_EQ(v, 0, "SO_ERROR value");
    HT_EQ(get_int(s, SOL_SOCKET, SO_REUSEADDR, &v), 0, "SO_REUSEADDR default");
    HT_EQ(v, 0, "SO_REUSEADDR default value");
    HT_EQ(get_int(s, SOL_SOCKET, SO_RCVTIMEO, &v), 0, "SO_RCVTIMEO default");
    HT_EQ(v, 0, "SO_RCVTIMEO default value");
    HT_EQ(get_int(s, SOL_SOCKET, SO_RCVBUF, &v), 0, "SO_RCVBUF default");
    HT_CHECK(v > 0, "SO_RCVBUF default value", v);
    len = (int)sizeof(lg);
    HT_EQ(ks_getsockopt(s, SOL_SOCKET, SO_LINGER, &lg, &len), 0, "SO_LINGER default");
    HT_EQ(lg.l_onoff, 0, "SO_LINGER default off");
    HT_EQ(len, 4, "SO_LINGER length");
    /* Before the provider's socket exists: stored values. */
    HT_EQ(round_trip(s, SOL_SOCKET, SO_REUSEADDR, 1), 1, "SO_REUSEADDR 1");
    HT_EQ(round_trip(s, SOL_SOCKET, SO_REUSEADDR, 0), 0, "SO_REUSEADDR 0");
    HT_EQ(round_trip(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1), 1, "SO_EXCLUSIVEADDRUSE 1");
    HT_EQ(round_trip(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 0), 0, "SO_EXCLUSIVEADDRUSE 0");
    HT_EQ(round_trip(s, SOL_SOCKET, SO_KEEPALIVE, 7), 1, "SO_KEEPALIVE nonzero is 1");
    HT_EQ(round_trip(s, IPPROTO_TCP, TCP_NODELAY, 1), 1, "TCP_NODELAY 1");
    HT_EQ(round_trip(s, SOL_SOCKET, SO_RCVBUF, 32768), 32768, "SO_RCVBUF");
    HT_EQ(round_trip(s, SOL_SOCKET, SO_SNDBUF, 49152), 49152, "SO_SNDBUF");
    HT_EQ(round_trip(s, SOL_SOCKET, SO_RCVTIMEO, 1500), 1500, "SO_RCVTIMEO");
    HT_EQ(round_trip(s, SOL_SOCKET, SO_SNDTIMEO, 2500), 2500, "SO_SNDTIMEO");
    HT_EQ(round_trip(s, SOL_SOCKET, SO_SNDTIMEO, 0), 0, "SO_SNDTIMEO 0");
    lg.l_onoff = 1;
    lg.l_linger = 7;
    HT_EQ(ks_setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, (int)sizeof(lg)), 0, "set SO_LINGER");
    memset(&lg, 0, sizeof(lg));
    len = (int)sizeof(lg);
    HT_EQ(ks_getsockopt(s, SOL_SOCKET, SO_LINGER, &lg, &len), 0, "get SO_LINGER");
    HT_EQ(lg.l_onoff, 1, "SO_LINGER on");
    HT_EQ(lg.l_linger, 7, "SO_LINGER seconds");
    /* The stored options reach the provider's socket at connect: the
     * provider answers now. */
    int native;
    ks_close(s);
    s = ks_socket(AF_INET, SOCK_STREAM, 0);
    HT_EQ(set_int(s, IPPROTO_TCP, TCP_NODELAY, 1), 0, "TCP_NODELAY before connect");
    HT_EQ(set_int(s, SOL_SOCKET, SO_KEEPALIVE, 1), 0, "SO_KEEPALIVE before connect");
    HT_EQ(set_int(s, SOL_SOCKET, SO_RCVBUF, 32768), 0, "SO_RCVBUF before connect");
    int port;
    int l = hp_listen(0, &port);
    SOCKADDR_STORAGE ss;
    int sslen;
    ht_loopback(0, port, &ss, &sslen);
    HT_EQ(ks_connect(s, (struct sockaddr *)&ss, sslen), 0, "ks_connect");
    native = hp_accept(l, 5000);
    hp_close(l);
    HT_EQ(get_int(s, IPPROTO_TCP, TCP_NODELAY, &v), 0, "TCP_NODELAY from the provider");
    HT_EQ(v, 1, "TCP_NODELAY applied at connect");
    HT_EQ(get_int(s, SOL_SOCKET, SO_KEEPALIVE, &v), 0, "SO_KEEPALIVE from the provider");
    HT_EQ(v, 1, "SO_KEEPALIVE applied at connect");
    HT_EQ(get_int(s, SOL_SOCKET, SO_RCVBUF, &v), 0, "SO_RCVBUF from the provider");
    HT_EQ(v, 32768, "SO_RCVBUF applied at connect");
    /* Set on the connected socket: given to the provider at once. */
    HT_EQ(round_trip(s, IPPROTO_TCP, TCP_NODELAY, 0), 0, "TCP_NODELAY 0 connected");
    HT_EQ(round_trip(s, SOL_SOCKET, SO_KEEPALIVE, 0), 0, "SO_KEEPALIVE 0 connected");
    HT_EQ(round_trip(s, SOL_SOCKET, SO_SNDBUF, 65536), 65536, "SO_SNDBUF connected");
    HT_EQ(round_trip(s, SOL_SOCKET, SO_RCVTIMEO, 100), 100, "SO_RCVTIMEO connected");
    HT_EQ(ks_send(s, "ok", 2, 0), 2, "send after options");
    char b[2];
    HT_EQ(hp_recv_all(native, b, 2, 5000), 2, "native receives");
    ks_close(s);
    hp_close(native);
    /* Datagram sockets; IPv6 V6ONLY. */
    s = ks_socket(AF_INET6, SOCK_DGRAM, 0);
    HT_EQ(get_int(s, SOL_SOCKET, SO_TYPE, &v), 0, "SO_TYPE datagram");
    HT_EQ(v, SOCK_DGRAM, "SO_TYPE datagram value");
    HT_EQ(get_int(s, IPPROTO_IPV6, IPV6_V6ONLY, &v), 0, "IPV6_V6ONLY default");
    HT_EQ(v, 1, "IPV6_V6ONLY default 1");
    HT_EQ(round_trip(s, IPPROTO_IPV6, IPV6_V6ONLY, 0), 0, "IPV6_V6ONLY 0");
    HT_EQ(round_trip(s, IPPROTO_IPV6, IPV6_V6ONLY, 1), 1, "IPV6_V6ONLY 1");
    HT_EQ(set_int(s, SOL_SOCKET, SO_RCVBUF, 40000), 0, "SO_RCVBUF datagram");
    ht_loopback(1, 0, &ss, &sslen);
    HT_EQ(ks_bind(s, (struct sockaddr *)&ss, sslen), 0, "bind datagram");
    HT_EQ(get_int(s, SOL_SOCKET, SO_RCVBUF, &v), 0, "SO_RCVBUF datagram from the provider");
    HT_EQ(v, 40000, "SO_RCVBUF applied at bind");
    ks_close(s);
}

/* Levels, names, lengths and values are checked as documented. */
static void test_validation(void)
{
    int v = 1, len = 4;
    int t = ks_socket(AF_INET, SOCK_STREAM, 0);
    int u = ks_socket(AF_INET, SOCK_DGRAM, 0);
    HT_CHECK(t >= 0 && u >= 0, "ks_socket", t);
    HT_EQ(set_int(t, 1234, SO_REUSEADDR, 1), -ENOPROTOOPT, "unknown level");
    HT_EQ(set_int(t, SOL_SOCKET, SO_DEBUG, 1), -ENOPROTOOPT, "unsupported name");
    HT_EQ(set_int(t, IPPROTO_TCP, 0x7777, 1), -ENOPROTOOPT, "unknown TCP option");
    HT_EQ(set_int(u, IPPROTO_TCP, TCP_NODELAY, 1), -ENOPROTOOPT, "TCP_NODELAY on UDP");
    HT_EQ(set_int(u, SOL_SOCKET, SO_KEEPALIVE, 1), -ENOPROTOOPT, "SO_KEEPALIVE on UDP");
    HT_EQ(get_int(u, SOL_SOCKET, SO_LINGER, &v), -ENOPROTOOPT, "SO_LINGER on UDP");
    HT_EQ(set_int(t, IPPROTO_IPV6, IPV6_V6ONLY, 0), -ENOPROTOOPT, "IPV6_V6ONLY on AF_INET");
    HT_EQ(set_int(t, SOL_SOCKET, SO_ERROR, 0), -ENOPROTOOPT, "SO_ERROR is read-only");
    HT_EQ(set_int(t, SOL_SOCKET, SO_TYPE, 1), -ENOPROTOOPT, "SO_TYPE is read-only");
    HT_EQ(ks_setsockopt(t, SOL_SOCKET, SO_REUSEADDR, NULL, 4), -EFAULT, "set NULL value");
    HT_EQ(ks_getsockopt(t, SOL_SOCKET, SO_REUSEADDR, NULL, &len), -EFAULT, "get NULL value");
    HT_EQ(ks_getsockopt(t, SOL_SOCKET, SO_REUSEADDR, &v, NULL), -EFAULT, "get NULL length");
    HT_EQ(ks_setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &v, 3), -EINVAL, "set short length");
    len = 3;
    HT_EQ(ks_getsockopt(t, SOL_SOCKET, SO_RCVBUF, &v, &len), -EINVAL, "get short length");
    HT_EQ(len, 3, "length untouched on error");
    LINGER lg = {1, 1};
    HT_EQ(ks_setsockopt(t, SOL_SOCKET, SO_LINGER, &lg, 2), -EINVAL, "short LINGER");
    len = 8;
    HT_EQ(ks_getsockopt(t, SOL_SOCKET, SO_RCVTIMEO, &v, &len), 0, "longer buffer accepted");
    HT_EQ(len, 4, "length set to the value's size");
    HT_EQ(set_int(t, SOL_SOCKET, SO_RCVBUF, -1), -EINVAL, "negative SO_RCVBUF");
    HT_EQ(set_int(t, SOL_SOCKET, SO_REUSEADDR, 1), 0, "SO_REUSEADDR");
    HT_EQ(set_int(t, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1), -EINVAL, "exclusive after reuse");
    HT_EQ(set_int(t, SOL_SOCKET, SO_REUSEADDR, 0), 0, "SO_REUSEADDR off");
    HT_EQ(set_int(t, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1), 0, "SO_EXCLUSIVEADDRUSE");
    HT_EQ(set_int(t, SOL_SOCKET, SO_REUSEADDR, 1), -EINVAL, "reuse after exclusive");
    HT_EQ(set_int(99999, SOL_SOCKET, SO_REUSEADDR, 1), -EBADF, "set bad fd");
    HT_EQ(get_int(99999, SOL_SOCKET, SO_TYPE, &v), -EBADF, "get bad fd");
    /* After the bind: IPV6_V6ONLY and SO_EXCLUSIVEADDRUSE are refused. */
    int s6 = ks_socket(AF_INET6, SOCK_STREAM, 0);
    SOCKADDR_STORAGE ss;
    int sslen;
    ht_loopback(1, 0, &ss, &sslen);
    HT_EQ(ks_bind(s6, (struct sockaddr *)&ss, sslen), 0, "bind v6");
    HT_EQ(set_int(s6, IPPROTO_IPV6, IPV6_V6ONLY, 0), -EINVAL, "IPV6_V6ONLY after bind");
    HT_EQ(set_int(s6, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1), -EINVAL, "exclusive after bind");
    HT_EQ(get_int(s6, IPPROTO_IPV6, IPV6_V6ONLY, &v), 0, "IPV6_V6ONLY after bind");
    HT_EQ(v, 1, "IPV6_V6ONLY unchanged");
    ks_close(s6);
    ks_close(t);
    ks_close(u);
}

/* IPV6_V6ONLY 0: an IPv6 listener accepts IPv4 peers as v4-mapped
 * addresses; with the default (1) it does not. */
static void test_dual_stack(void)
{
    for (int dual = 0; dual <= 1; dual++) {
        int l = ks_socket(AF_INET6, SOCK_STREAM, 0);
        HT_CHECK(l >= 0, "ks_socket", l);
        if (dual)
            HT_EQ(set_int(l, IPPROTO_IPV6, IPV6_V6ONLY, 0), 0, "IPV6_V6ONLY 0");
        SOCKADDR_IN6 any;
        memset(&any, 0, sizeof(any));
        any.sin6_family = AF_INET6; /* [::]:0 */
        HT_EQ(ks_bind(l, (struct sockaddr *)&any, (int)sizeof(any)), 0, "bind [::]:0");
        HT_EQ(ks_listen(l, 4), 0, "ks_listen");
        SOCKADDR_STORAGE me;
        int melen = (int)sizeof(me);
        HT_EQ(ks_getsockname(l, (struct sockaddr *)&me, &melen), 0, "getsockname");
        int port = port_of(&me);
        HT_CHECK(port != 0, "listener port", port);
        int c = hp_connect(0, port); /* a native IPv4 client */
        if (!dual) {
            HT_CHECK(c < 0, "IPv4 client refused by a V6ONLY listener", c);
            hp_close(c);
            ks_close(l);
            continue;
        }
        HT_CHECK(c >= 0, "IPv4 client connects to the dual-stack listener", c);
        if (c < 0) { /* ks_accept would wait for ever */
            ks_close(l);
            continue;
        }
        SOCKADDR_STORAGE peer;
        int plen = (int)sizeof(peer);
        int a = ks_accept(l, (struct sockaddr *)&peer, &plen);
        HT_CHECK(a >= 0, "ks_accept of the IPv4 client", a);
        const SOCKADDR_IN6 *p6 = (const SOCKADDR_IN6 *)&peer;
        static const unsigned char mapped[16] = {0, 0, 0,    0,    0,   0, 0, 0,
                                                 0, 0, 0xff, 0xff, 127, 0, 0, 1};
        HT_EQ(peer.ss_family, AF_INET6, "peer family");
        HT_EQ(plen, (int)sizeof(SOCKADDR_IN6), "peer length");
        HT_CHECK(memcmp(p6->sin6_addr.s6_addr, mapped, 16) == 0, "peer is ::ffff:127.0.0.1", 0);
        HT_EQ(port_of(&peer), hp_local_port(c), "peer port");
        SOCKADDR_STORAGE gp;
        int gplen = (int)sizeof(gp);
        HT_EQ(ks_getpeername(a, (struct sockaddr *)&gp, &gplen), 0, "getpeername");
        HT_CHECK(memcmp(&gp, &peer, sizeof(SOCKADDR_IN6)) == 0, "getpeername = accept's", 0);
        HT_EQ(hp_send_all(c, "v4", 2), 2, "IPv4 client sends");
        char b[2];
        HT_EQ(ks_recv(a, b, 2, MSG_WAITALL), 2, "received over the mapped connection");
        HT_EQ(ks_send(a, "ok", 2, 0), 2, "send back");
        HT_EQ(hp_recv_all(c, b, 2, 5000), 2, "IPv4 client receives");
        ks_close(a);
        hp_close(c);
        ks_close(l);
    }
}

static int bind_with(int port, int name, int value)
{
    int s = ks_socket(AF_INET, SOCK_STREAM, 0);
    if (name != 0)
        set_int(s, SOL_SOCKET, name, value);
    SOCKADDR_STORAGE ss;
    int sslen;
    ht_loopback(0, port, &ss, &sslen);
    int r = ks_bind(s, (struct sockaddr *)&ss, sslen);
    if (r != 0) {
        ks_close(s);
        return r;
    }
    return s;
}

/* Windows' rule: a second socket may bind a held address only if both
 * asked for SO_REUSEADDR; SO_EXCLUSIVEADDRUSE forbids it. */
static void test_address_reuse(void)
{
    int port = hp_free_port(0);
    int a = bind_with(port, SO_REUSEADDR, 1);
    HT_CHECK(a >= 0, "first bind with SO_REUSEADDR", a);
    int b = bind_with(port, SO_REUSEADDR, 1);
    HT_CHECK(b >= 0, "second bind with SO_REUSEADDR", b);
    HT_EQ(bind_with(port, 0, 0), -EADDRINUSE, "third bind without SO_REUSEADDR");
    ks_close(a);
    ks_close(b);
    port = hp_free_port(0);
    a = bind_with(port, SO_EXCLUSIVEADDRUSE, 1);
    HT_CHECK(a >= 0, "bind with SO_EXCLUSIVEADDRUSE", a);
    HT_EQ(bind_with(port, SO_REUSEADDR, 1), -EADDRINUSE, "SO_REUSEADDR against exclusive");
    HT_EQ(bind_with(port, 0, 0), -EADDRINUSE, "plain bind against exclusive");
    /* The exclusive socket, now listening (its listening socket was given
     * the option again), still holds the port. */
    HT_EQ(ks_listen(a, 4), 0, "listen");
    HT_EQ(bind_with(port, SO_REUSEADDR, 1), -EADDRINUSE, "SO_REUSEADDR against the listener");
    ks_close(a);
    a = bind_with(port, 0, 0);
    HT_CHECK(a >= 0, "the port is free again after close", a);
    ks_close(a);
}

#define CLOSE_BYTES (1u << 20)

struct end_watch {
    int fd;
    int end;
    long bytes;
};

/* The native peer reads to the end while the library closes: a graceful
 * close completes only once the peer has taken everything. */
static void end_watch_thread(void *p)
{
    struct end_watch *w = p;
    w->end = hp_wait_end(w->fd, 10000, &w->bytes);
}

/* Close modes as the native peer sees them. */
static void test_close_modes(void)
{
    static unsigned char buf[CLOSE_BYTES];
    ht_pattern(buf, sizeof(buf), 3, 0);
    for (int mode = 0; mode < 3; mode++) {
        int native;
        int s = connect_to_native(0, &native);
        LINGER lg = {1, 0}; /* mode 1: abortive */
        if (mode == 2)
            lg.l_linger = 5; /* graceful, bounded by 5 s */
        if (mode != 0)
            HT_EQ(ks_setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, (int)sizeof(lg)), 0, "SO_LINGER");
        HT_EQ(ks_send(s, buf, sizeof(buf), 0), (long long)sizeof(buf), "ks_send");
        struct end_watch w = {native, -1, 0};
        ht_thread *th = NULL;
        if (mode != 1) /* abortive: nobody reads, the data is still queued */
            th = ht_spawn(end_watch_thread, &w);
        LONGLONG t0 = ht_now_ms();
        HT_EQ(ks_close(s), 0, "ks_close");
        HT_CHECK(ht_now_ms() - t0 < 4000, "close is prompt", ht_now_ms() - t0);
        if (mode == 1) {
            HT_EQ(hp_wait_end(native, 5000, NULL), HP_END_RESET,
                  "SO_LINGER {1, 0}: the peer sees a reset");
        } else {
            HT_EQ(ht_join(th, 15000), 1, "peer reader ends");
            HT_EQ(w.end, HP_END_EOF, "graceful close: the peer sees the end of stream");
            HT_EQ(w.bytes, (long)sizeof(buf), "graceful close: every byte arrives first");
        }
        hp_close(native);
    }
}

/* ks_shutdown: SD_SEND ends our stream (the peer reads all, then EOF) but
 * receiving goes on; SD_RECEIVE makes ks_recv return 0. */
static void test_shutdown(void)
{
    int native;
    char b[8];
    int s = connect_to_native(1, &native);
    HT_EQ(ks_send(s, "abc", 3, 0), 3, "send before shutdown");
    HT_EQ(ks_shutdown(s, SD_SEND), 0, "shutdown SD_SEND");
    HT_EQ(ks_shutdown(s, SD_SEND), 0, "shutdown SD_SEND again");
    HT_EQ(hp_recv_all(native, b, 3, 5000), 3, "peer reads the data");
    HT_CHECK(memcmp(b, "abc", 3) == 0, "data", 0);
    HT_EQ(hp_wait_end(native, 5000, NULL), HP_END_EOF, "then the end of stream");
    HT_EQ(ks_send(s, "x", 1, 0), -EPIPE, "send after SD_SEND");
    HT_EQ(hp_send_all(native, "xyz", 3), 3, "the peer still sends");
    HT_EQ(ks_recv(s, b, 3, MSG_WAITALL), 3, "we still receive");
    HT_CHECK(memcmp(b, "xyz", 3) == 0, "data received", 0);
    hp_close(native); /* orderly: the peer's end */
    HT_EQ(ks_recv(s, b, 3, 0), 0, "end of stream");
    HT_EQ(ks_close(s), 0, "close after shutdown");

    /* SD_RECEIVE: ks_recv returns 0 at once; sending still works. */
    s = connect_to_native(0, &native);
    HT_EQ(hp_send_all(native, "pending", 7), 7, "peer data");
    HT_EQ(ks_shutdown(s, SD_RECEIVE), 0, "shutdown SD_RECEIVE");
    HT_EQ(ks_recv(s, b, sizeof(b), 0), 0, "recv after SD_RECEIVE");
    HT_EQ(ks_send(s, "out", 3, 0), 3, "send after SD_RECEIVE");
    HT_EQ(hp_recv_all(native, b, 3, 5000), 3, "the peer receives");
    HT_EQ(ks_shutdown(s, SD_BOTH), 0, "shutdown SD_BOTH");
    HT_EQ(ks_send(s, "x", 1, 0), -EPIPE, "send after SD_BOTH");
    HT_EQ(hp_wait_end(native, 5000, NULL), HP_END_EOF, "peer sees the end of stream");
    ks_close(s);
    hp_close(native);

    /* Errors. */
    int t = ks_socket(AF_INET, SOCK_STREAM, 0);
    HT_EQ(ks_shutdown(t, SD_SEND), -ENOTCONN, "shutdown unconnected");
    HT_EQ(ks_shutdown(t, 7), -EINVAL, "shutdown bad how");
    int port;
    int l = ht_ks_listen(0, &port);
    HT_EQ(ks_shutdown(l, SD_BOTH), -ENOTCONN, "shutdown listener");
    int u = ks_socket(AF_INET, SOCK_DGRAM, 0);
    HT_EQ(ks_shutdown(u, SD_SEND), -ENOTCONN, "shutdown datagram");
    HT_EQ(ks_shutdown(99999, SD_SEND), -EBADF, "shutdown bad fd");
    ks_close(t);
    ks_close(l);
    ks_close(u);
}

/* ks_getsockname / ks_getpeername. */
static void test_names(void)
{
    SOCKADDR_STORAGE a, b;
    int alen = (int)sizeof(a), blen;
    int s = ks_socket(AF_INET, SOCK_STREAM, 0);
    HT_EQ(ks_getsockname(s, (struct sockaddr *)&a, &alen), -EINVAL, "getsockname unbound");
    HT_EQ(ks_getpeername(s, (struct sockaddr *)&a, &alen), -ENOTCONN, "getpeername unbound");
    HT_EQ(ks_getsockname(s, NULL, &alen), -EFAULT, "getsockname NULL");
    HT_EQ(ks_getpeername(s, (struct sockaddr *)&a, NULL), -EFAULT, "getpeername NULL");
    HT_EQ(ks_getsockname(99999, (struct sockaddr *)&a, &alen), -EBADF, "bad fd");
    int sslen;
    ht_loopback(0, 0, &b, &sslen);
    HT_EQ(ks_bind(s, (struct sockaddr *)&b, sslen), 0, "bind 127.0.0.1:0");
    alen = -1;
    HT_EQ(ks_getsockname(s, (struct sockaddr *)&a, &alen), -EINVAL, "negative length");
    alen = (int)sizeof(a);
    HT_EQ(ks_getsockname(s, (struct sockaddr *)&a, &alen), 0, "getsockname bound");
    HT_EQ(alen, (int)sizeof(SOCKADDR_IN), "length");
    int port = port_of(&a);
    HT_CHECK(port != 0, "the real port", port);
    HT_EQ(((SOCKADDR_IN *)&a)->sin_addr.s_addr, ks_htonl(INADDR_LOOPBACK), "the address");
    HT_EQ(ks_getpeername(s, (struct sockaddr *)&a, &alen), -ENOTCONN, "getpeername bound");
    HT_EQ(ks_listen(s, 4), 0, "listen");
    alen = (int)sizeof(a);
    HT_EQ(ks_getsockname(s, (struct sockaddr *)&a, &alen), 0, "getsockname listening");
    HT_EQ(port_of(&a), port, "same port when listening");
    int c = hp_connect(0, port);
    HT_CHECK(c >= 0, "a native client connects to the port reported", c);
    int acc = c >= 0 ? ks_accept(s, NULL, NULL) : -1; /* else it would wait for ever */
    HT_CHECK(acc >= 0, "ks_accept", acc);
    alen = (int)sizeof(a);
    HT_EQ(ks_getpeername(acc, (struct sockaddr *)&a, &alen), 0, "getpeername accepted");
    HT_EQ(port_of(&a), hp_local_port(c), "peer port");
    HT_EQ(((SOCKADDR_IN *)&a)->sin_addr.s_addr, ks_htonl(INADDR_LOOPBACK), "peer address");
    alen = (int)sizeof(a);
    HT_EQ(ks_getsockname(acc, (struct sockaddr *)&a, &alen), 0, "getsockname accepted");
    HT_EQ(port_of(&a), port, "accepted socket's port");
    HT_EQ(ks_getpeername(s, (struct sockaddr *)&a, &alen), -ENOTCONN, "getpeername listener");
    /* Truncation, as ks_accept. */
    alen = 4;
    memset(&a, 0, sizeof(a));
    HT_EQ(ks_getpeername(acc, (struct sockaddr *)&a, &alen), 0, "truncated");
    HT_EQ(alen, (int)sizeof(SOCKADDR_IN), "full length reported");
    HT_EQ(a.ss_family, AF_INET, "family copied");
    HT_EQ(port_of(&a), hp_local_port(c), "port copied");
    ks_close(acc);
    hp_close(c);
    ks_close(s);
    /* Connect side (implicit bind): the provider's port. */
    int native;
    s = connect_to_native(1, &native);
    alen = (int)sizeof(a);
    HT_EQ(ks_getsockname(s, (struct sockaddr *)&a, &alen), 0, "getsockname connected");
    HT_EQ(alen, (int)sizeof(SOCKADDR_IN6), "v6 length");
    HT_CHECK(port_of(&a) != 0, "implicit bind port", port_of(&a));
    blen = (int)sizeof(b);
    HT_EQ(ks_getpeername(s, (struct sockaddr *)&b, &blen), 0, "getpeername connected");
    HT_EQ(b.ss_family, AF_INET6, "peer family");
    HT_EQ(((SOCKADDR_IN6 *)&b)->sin6_addr.s6_addr[15], 1, "peer ::1");
    HT_EQ(port_of(&b), hp_local_port(native), "peer port is the listener's");
    ks_close(s);
    hp_close(native);
    /* Datagram bound to port 0: the real port receives. */
    int u = ks_socket(AF_INET, SOCK_DGRAM, 0);
    ht_loopback(0, 0, &b, &sslen);
    HT_EQ(ks_bind(u, (struct sockaddr *)&b, sslen), 0, "bind udp 0");
    alen = (int)sizeof(a);
    HT_EQ(ks_getsockname(u, (struct sockaddr *)&a, &alen), 0, "getsockname udp");
    int hport;
    int h = hp_udp(0, &hport);
    HT_EQ(hp_sendto(h, 0, port_of(&a), "dg", 2), 2, "native sends to the port reported");
    char d[4];
    HT_EQ(ks_recvfrom(u, d, sizeof(d), 0, NULL, NULL), 2, "received");
    HT_EQ(ks_getpeername(u, (struct sockaddr *)&a, &alen), -ENOTCONN, "getpeername udp");
    hp_close(h);
    ks_close(u);
}

const struct ht_test option_tests[] = {
    {"opt-roundtrip", test_roundtrip, ht_runs_modes},
    {"opt-validation", test_validation, ht_runs_modes},
    {"opt-dual-stack", test_dual_stack, ht_runs_modes},
    {"opt-address-reuse", test_address_reuse, ht_runs_modes},
    {"opt-close-modes", test_close_modes, ht_runs_modes},
    {"opt-shutdown", test_shutdown, ht_runs_modes},
    {"opt-names", test_names, ht_runs_modes},
};
const int option_test_count = (int)(sizeof(option_tests) / sizeof(option_tests[0]));
