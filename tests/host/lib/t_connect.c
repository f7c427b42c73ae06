/*
 * t_connect.c - wsksock/connect.h on the host bed: ks_connect_name to
 * listeners on loopback (v4 by "localhost", v6 by "::1"), a name whose
 * first address refuses, refused and unknown hosts, the timeout bound,
 * bad arguments; ks_sockaddr_format and ks_port_to_service.
 *
 * The machine's resolver is the host bed's: "localhost" may be 127.0.0.1
 * only (then the first-refuses test has one address and says so).
 */
#include "tests.h"

#include <stdio.h>
#include <string.h>

/* The port a listener of the library is bound to. */
static int port_text(int port, char *buf)
{
    return ks_port_to_service((unsigned)port, buf, KS_SERVICE_STRLEN);
}

/* Connects by name to a library listener of family v6, then checks the
 * connection both ways (the peer address, one byte through accept). */
static void connect_to(int v6, const char *host, int timeout_ms)
{
    int port = 0;
    int l = ht_ks_listen(v6, &port);
    HT_CHECK(l > 0, "listener", l);
    if (l <= 0)
        return;
    char service[KS_SERVICE_STRLEN];
    HT_CHECK(port_text(port, service) > 0, "port text", port);
    int s = ks_connect_name(host, service, SOCK_STREAM, timeout_ms);
    HT_CHECK(s > 0, "ks_connect_name", s);
    if (s > 0) {
        int a = ks_accept(l, NULL, NULL);
        HT_CHECK(a > 0, "accepted", a);
        SOCKADDR_STORAGE peer;
        int plen = (int)sizeof(peer);
        HT_EQ(ks_getpeername(s, (struct sockaddr *)&peer, &plen), 0, "getpeername");
        HT_EQ(peer.ss_family, v6 ? AF_INET6 : AF_INET, "the listener's family");
        char text[KS_SOCKADDR_STRLEN];
        HT_CHECK(ks_sockaddr_format((struct sockaddr *)&peer, plen, text, sizeof(text)) > 0,
                 "format the peer", 0);
        char want[KS_SOCKADDR_STRLEN];
        strcpy(want, v6 ? "[::1]:" : "127.0.0.1:");
        strcat(want, service);
        HT_CHECK(strcmp(text, want) == 0, "the peer is the listener", 0);
        ks_ssize_t sent = ks_send(s, "x", 1, 0);
        HT_EQ(sent, 1, "send");
        char c = sent == 1 ? 0 : 'x'; /* no byte to wait for after a failed send */
        if (a > 0 && sent == 1) {
            HT_EQ(ks_recv(a, &c, 1, MSG_WAITALL), 1, "received");
        }
        if (a > 0)
            ks_close(a);
        HT_EQ(c, 'x', "the byte");
        unsigned long nb = 1;
        HT_EQ(ks_ioctl(s, FIONREAD, &nb), 0, "FIONREAD");
        ks_close(s);
    }
    ks_close(l);
}

static void t_connect_name_v4(void)
{
    connect_to(0, "localhost", 0);
    connect_to(0, "127.0.0.1", 5000);
}

static void t_connect_name_v6(void)
{
    connect_to(1, "::1", 0);
    connect_to(1, "::1", 5000);
}

/* "localhost" with a listener of the family of its second address only:
 * the first address refuses, the second accepts (when the resolver gives
 * two addresses; else one refused attempt). */
static void t_connect_name_fallback(void)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    HT_EQ(ks_getaddrinfo("localhost", NULL, &hints, &res), 0, "resolve localhost");
    if (res == NULL)
        return;
    int first = res->ai_family;
    int second = res->ai_next != NULL ? res->ai_next->ai_family : 0;
    ks_freeaddrinfo(res);
    if (second == 0 || second == first) {
        printf("t_connect: localhost has one address family here: fallback not testable\n");
        int port = hp_free_port(first == AF_INET6);
        char service[KS_SERVICE_STRLEN];
        port_text(port, service);
        HT_EQ(ks_connect_name("localhost", service, SOCK_STREAM, 5000), -ECONNREFUSED,
              "one address, refused");
        return;
    }
    for (int timeout = 0; timeout <= 5000; timeout += 5000)
        connect_to(second == AF_INET6, "localhost", timeout);
}

/* Refused (no listener), bounded or not: -ECONNREFUSED. */
static void t_connect_name_refused(void)
{
    char service[KS_SERVICE_STRLEN];
    port_text(hp_free_port(0), service);
    HT_EQ(ks_connect_name("127.0.0.1", service, SOCK_STREAM, 0), -ECONNREFUSED, "refused");
    HT_EQ(ks_connect_name("127.0.0.1", service, SOCK_STREAM, 5000), -ECONNREFUSED,
          "refused, bounded");
    port_text(hp_free_port(1), service);
    HT_EQ(ks_connect_name("::1", service, SOCK_STREAM, 5000), -ECONNREFUSED, "refused, v6");
}

/* An unknown host: the resolver's error, a negative EAI value. */
static void t_connect_name_unknown(void)
{
    int r = ks_connect_name("no-such-host.invalid", "80", SOCK_STREAM, 2000);
    HT_CHECK(r == -EAI_NONAME || r == -EAI_AGAIN || r == -EAI_FAIL, "unknown host: -EAI_*", r);
    HT_EQ(ks_connect_name("localhost", "no-such-service-name", SOCK_STREAM, 0), -EAI_SERVICE,
          "unknown service");
}

/* The bound: a listener whose accept queue is full drops the SYNs, so the
 * connect hangs: given up after timeout_ms with -ETIMEDOUT. */
static void t_connect_name_timeout(void)
{
    int port = 0, fillers[HP_FULL_FILLERS];
    int l = hp_listen_full(&port, fillers);
    HT_CHECK(l >= 0, "a full native listener", l);
    char service[KS_SERVICE_STRLEN];
    port_text(port, service);
    LONGLONG t0 = ht_now_ms();
    int r = ks_connect_name("127.0.0.1", service, SOCK_STREAM, 300);
    LONGLONG took = ht_now_ms() - t0;
    HT_EQ(r, -ETIMEDOUT, "timed out");
    HT_CHECK(took >= 250 && took < 300 + 1500, "after about the bound (ms)", took);
    printf("t_connect: a full listener with 300 ms: %s after %lld ms\n", ks_strerror(r),
           (long long)took);
    for (int i = 0; i < HP_FULL_FILLERS; i++)
        if (fillers[i] >= 0)
            hp_close(fillers[i]);
    if (l >= 0)
        hp_close(l);
}

static void t_connect_name_bad_args(void)
{
    HT_EQ(ks_connect_name(NULL, "80", SOCK_STREAM, 0), -EINVAL, "host NULL");
    HT_EQ(ks_connect_name("localhost", NULL, SOCK_STREAM, 0), -EINVAL, "service NULL");
    HT_EQ(ks_connect_name("", "80", SOCK_STREAM, 0), -EINVAL, "host empty");
    HT_EQ(ks_connect_name("localhost", "", SOCK_STREAM, 0), -EINVAL, "service empty");
    HT_EQ(ks_connect_name("localhost", "80", 0, 0), -EINVAL, "type 0");
    HT_EQ(ks_connect_name("localhost", "80", 3, 0), -EINVAL, "type SOCK_RAW");
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    int r = ks_connect_name("127.0.0.1", "80", SOCK_STREAM, 0);
    KeLowerIrql(old);
    HT_EQ(r, -EPERM, "at DISPATCH_LEVEL");
}

/* UDP: the library's datagram sockets have no connect: -EOPNOTSUPP, and
 * no socket left open. */
static void t_connect_name_udp(void)
{
    HT_EQ(ks_connect_name("127.0.0.1", "53", SOCK_DGRAM, 1000), -EOPNOTSUPP, "SOCK_DGRAM");
}

static void t_sockaddr_format(void)
{
    char buf[KS_SOCKADDR_STRLEN];
    SOCKADDR_IN in;
    memset(&in, 0, sizeof(in));
    in.sin_family = AF_INET;
    in.sin_port = ks_htons(80);
    HT_EQ(ks_inet_pton(AF_INET, "1.2.3.4", &in.sin_addr), 1, "pton");
    struct sockaddr *sa = (struct sockaddr *)&in;
    HT_EQ(ks_sockaddr_format(sa, (int)sizeof(in), buf, sizeof(buf)), 10, "v4 length");
    HT_CHECK(strcmp(buf, "1.2.3.4:80") == 0, "1.2.3.4:80", 0);
    HT_EQ(ks_sockaddr_format(sa, (int)sizeof(in), buf, 11), 10, "exactly enough");
    HT_EQ(ks_sockaddr_format(sa, (int)sizeof(in), buf, 10), -ENOSPC, "one byte short");
    HT_CHECK(buf[0] == '\0', "\"\" on -ENOSPC", 0);
    HT_EQ(ks_sockaddr_format(sa, (int)sizeof(in), buf, 0), -ENOSPC, "len 0");
    HT_EQ(ks_sockaddr_format(sa, (int)sizeof(in) - 1, buf, sizeof(buf)), -EINVAL, "salen short");
    HT_EQ(ks_sockaddr_format(NULL, (int)sizeof(in), buf, sizeof(buf)), -EFAULT, "sa NULL");
    HT_EQ(ks_sockaddr_format(sa, (int)sizeof(in), NULL, 10), -EFAULT, "buf NULL");

    SOCKADDR_IN6 in6;
    memset(&in6, 0, sizeof(in6));
    in6.sin6_family = AF_INET6;
    in6.sin6_port = ks_htons(80);
    HT_EQ(ks_inet_pton(AF_INET6, "::1", &in6.sin6_addr), 1, "pton v6");
    sa = (struct sockaddr *)&in6;
    HT_EQ(ks_sockaddr_format(sa, (int)sizeof(in6), buf, sizeof(buf)), 8, "v6 length");
    HT_CHECK(strcmp(buf, "[::1]:80") == 0, "[::1]:80", 0);
    HT_EQ(ks_sockaddr_format(sa, (int)sizeof(in6), buf, 8), -ENOSPC, "v6 one byte short");
    in6.sin6_scope_id = 3;
    HT_EQ(ks_inet_pton(AF_INET6, "fe80::1", &in6.sin6_addr), 1, "pton fe80::1");
    HT_EQ(ks_sockaddr_format(sa, (int)sizeof(in6), buf, sizeof(buf)), 14, "scoped length");
    HT_CHECK(strcmp(buf, "[fe80::1%3]:80") == 0, "[fe80::1%3]:80", 0);
    /* The longest text fits KS_SOCKADDR_STRLEN exactly. */
    HT_EQ(ks_inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", &in6.sin6_addr),
          1, "pton longest");
    in6.sin6_scope_id = 4294967295u;
    in6.sin6_port = ks_htons(65535);
    int n = ks_sockaddr_format(sa, (int)sizeof(in6), buf, sizeof(buf));
    HT_CHECK(n > 0 && n < KS_SOCKADDR_STRLEN, "the longest fits", n);
    HT_EQ(ks_sockaddr_format(sa, (int)sizeof(in6) - 1, buf, sizeof(buf)), -EINVAL,
          "v6 salen short");
    in6.sin6_family = 99;
    HT_EQ(ks_sockaddr_format(sa, (int)sizeof(in6), buf, sizeof(buf)), -EAFNOSUPPORT,
          "unknown family");
}

static void t_port_to_service(void)
{
    char buf[KS_SERVICE_STRLEN];
    HT_EQ(ks_port_to_service(0, buf, sizeof(buf)), 1, "0");
    HT_CHECK(strcmp(buf, "0") == 0, "\"0\"", 0);
    HT_EQ(ks_port_to_service(80, buf, sizeof(buf)), 2, "80");
    HT_CHECK(strcmp(buf, "80") == 0, "\"80\"", 0);
    HT_EQ(ks_port_to_service(65535, buf, sizeof(buf)), 5, "65535");
    HT_CHECK(strcmp(buf, "65535") == 0, "\"65535\"", 0);
    HT_EQ(ks_port_to_service(65536, buf, sizeof(buf)), -EINVAL, "65536");
    HT_CHECK(buf[0] == '\0', "\"\" on -EINVAL", 0);
    HT_EQ(ks_port_to_service(80, buf, 2), -ENOSPC, "80 in 2 bytes");
    HT_EQ(ks_port_to_service(80, buf, 3), 2, "80 in 3 bytes");
    HT_EQ(ks_port_to_service(80, NULL, 3), -EFAULT, "buf NULL");
}

const struct ht_test connect_tests[] = {
    {"connect-name-v4", t_connect_name_v4, ht_runs_modes},
    {"connect-name-v6", t_connect_name_v6, ht_runs_once},
    {"connect-name-fallback", t_connect_name_fallback, ht_runs_once},
    {"connect-name-refused", t_connect_name_refused, ht_runs_once},
    {"connect-name-unknown", t_connect_name_unknown, ht_runs_once},
    {"connect-name-timeout", t_connect_name_timeout, ht_runs_once},
    {"connect-name-bad-args", t_connect_name_bad_args, ht_runs_once},
    {"connect-name-udp", t_connect_name_udp, ht_runs_once},
    {"connect-sockaddr-format", t_sockaddr_format, ht_runs_once},
    {"connect-port-to-service", t_port_to_service, ht_runs_once},
};
const int connect_test_count = (int)(sizeof(connect_tests) / sizeof(connect_tests[0]));
