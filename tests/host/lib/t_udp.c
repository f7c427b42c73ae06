/* t_udp.c - UDP over IPv4 and IPv6: boundaries, sender address, truncation. */
#include "tests.h"

#include <string.h>

/* Library UDP socket bound to loopback on a free port. */
static int ks_udp_bound(int v6, int *port)
{
    for (int tries = 0; tries < 20; tries++) {
        SOCKADDR_STORAGE ss;
        int len;
        int s = ks_socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
        if (s < 0)
            return s;
        *port = hp_free_port(v6);
        ht_loopback(v6, *port, &ss, &len);
        int r = ks_bind(s, (struct sockaddr *)&ss, len);
        if (r == 0)
            return s;
        ks_close(s);
        if (r != -EADDRINUSE)
            return r;
    }
    return -EADDRINUSE;
}

static int port_of(const SOCKADDR_STORAGE *ss)
{
    if (ss->ss_family == AF_INET6)
        return ks_ntohs(((const SOCKADDR_IN6 *)ss)->sin6_port);
    return ks_ntohs(((const SOCKADDR_IN *)ss)->sin_port);
}

/* Two library sockets: datagrams keep their boundaries and the receiver
 * learns the sender's address; a datagram too big for the buffer is
 * truncated with -EMSGSIZE and the next one is intact. */
static void lib_to_lib(int v6)
{
    static const int sizes[] = {1, 100, 1400, 0, 8000};
    unsigned char out[8192], in[8192];
    int pa, pb;
    int a = ks_udp_bound(v6, &pa), b = ks_udp_bound(v6, &pb);
    HT_CHECK(a > 0 && b > 0, "two bound UDP sockets", a < 0 ? a : b);
    if (a <= 0 || b <= 0)
        goto out;
    SOCKADDR_STORAGE to;
    int tolen;
    ht_loopback(v6, pb, &to, &tolen);
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        ht_pattern(out, (size_t)sizes[i], i, 0);
        HT_EQ(ks_sendto(a, out, (size_t)sizes[i], 0, (struct sockaddr *)&to, tolen), sizes[i],
              "ks_sendto");
    }
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        SOCKADDR_STORAGE from;
        int fromlen = (int)sizeof(from);
        memset(&from, 0, sizeof(from));
        ks_ssize_t n = ks_recvfrom(b, in, sizeof(in), 0, (struct sockaddr *)&from, &fromlen);
        HT_EQ(n, sizes[i], "datagram size kept");
        ht_pattern(out, (size_t)sizes[i], i, 0);
        HT_CHECK(n == sizes[i] && memcmp(in, out, (size_t)n) == 0, "datagram data", i);
        HT_EQ(from.ss_family, v6 ? AF_INET6 : AF_INET, "sender family");
        HT_EQ(fromlen, v6 ? sizeof(SOCKADDR_IN6) : sizeof(SOCKADDR_IN), "sender address length");
        HT_EQ(port_of(&from), pa, "sender port");
    }
    /* Truncation. */
    ht_pattern(out, 300, 99, 0);
    HT_EQ(ks_sendto(a, out, 300, 0, (struct sockaddr *)&to, tolen), 300, "big datagram");
    HT_EQ(ks_sendto(a, "next", 4, 0, (struct sockaddr *)&to, tolen), 4, "next datagram");
    memset(in, 0, sizeof(in));
    HT_EQ(ks_recvfrom(b, in, 50, 0, NULL, NULL), -EMSGSIZE, "truncated datagram: -EMSGSIZE");
    HT_CHECK(memcmp(in, out, 50) == 0, "truncated datagram: first 50 bytes delivered", 0);
    HT_EQ(ks_recvfrom(b, in, sizeof(in), 0, NULL, NULL), 4, "the next datagram is intact");
    HT_CHECK(memcmp(in, "next", 4) == 0, "next datagram data", 0);
out:
    if (a > 0)
        ks_close(a);
    if (b > 0)
        ks_close(b);
}

static void t_udp4_lib_to_lib(void)
{
    lib_to_lib(0);
}

static void t_udp6_lib_to_lib(void)
{
    lib_to_lib(1);
}

/* A native UDP peer: library sends, native answers to the sender's port. */
static void native_peer(int v6)
{
    char buf[64];
    int np, from_port = -1;
    int fd = hp_udp(v6, &np);
    HT_CHECK(fd >= 0, "native UDP socket", fd);
    int s = ks_socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    HT_CHECK(s > 0, "library UDP socket", s);
    SOCKADDR_STORAGE to;
    int tolen;
    ht_loopback(v6, np, &to, &tolen);
    /* Unbound: ks_sendto binds it to its family's wildcard address. */
    HT_EQ(ks_sendto(s, "ping", 4, 0, (struct sockaddr *)&to, tolen), 4, "ks_sendto unbound");
    HT_EQ(hp_recvfrom(fd, buf, sizeof(buf), &from_port, 5000), 4, "native receives");
    HT_CHECK(from_port > 0, "sender port", from_port);
    HT_EQ(hp_sendto(fd, v6, from_port, "pong!", 5), 5, "native replies");
    SOCKADDR_STORAGE from;
    int fromlen = (int)sizeof(from);
    HT_EQ(ks_recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen), 5,
          "library receives the reply");
    HT_CHECK(memcmp(buf, "pong!", 5) == 0, "reply data", 0);
    HT_EQ(port_of(&from), np, "reply's sender port");
    ks_close(s);
    hp_close(fd);
}

static void t_udp4_native(void)
{
    native_peer(0);
}

static void t_udp6_native(void)
{
    native_peer(1);
}

/* Stream calls on a datagram socket and the reverse are refused. */
static void t_udp_misuse(void)
{
    char buf[8];
    int u = ks_socket(AF_INET, SOCK_DGRAM, 0), t = ks_socket(AF_INET, SOCK_STREAM, 0);
    SOCKADDR_STORAGE to;
    int tolen;
    ht_loopback(0, 9, &to, &tolen);
    HT_EQ(ks_listen(u, 1), -EOPNOTSUPP, "ks_listen on UDP");
    HT_EQ(ks_sendto(t, "x", 1, 0, (struct sockaddr *)&to, tolen), -EOPNOTSUPP, "ks_sendto on TCP");
    HT_EQ(ks_recvfrom(u, buf, sizeof(buf), 0, NULL, NULL), -EINVAL, "ks_recvfrom unbound");
    HT_EQ(ks_sendto(u, "x", 1, 0, NULL, 0), -EFAULT, "ks_sendto without address");
    ks_close(u);
    ks_close(t);
}

const struct ht_test udp_tests[] = {
    {"udp4-lib-to-lib", t_udp4_lib_to_lib, ht_runs_modes},
    {"udp6-lib-to-lib", t_udp6_lib_to_lib, ht_runs_modes},
    {"udp4-native", t_udp4_native, ht_runs_modes},
    {"udp6-native", t_udp6_native, ht_runs_modes},
    {"udp-misuse", t_udp_misuse, ht_runs_modes},
};
const int udp_test_count = (int)(sizeof(udp_tests) / sizeof(udp_tests[0]));
