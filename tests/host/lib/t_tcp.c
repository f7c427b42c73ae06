/* t_tcp.c - TCP over IPv4 and IPv6: library to library and to native peers. */
#include "tests.h"

#include <stdlib.h>
#include <string.h>

#define STREAM_BYTES (4u << 20)
#define CHUNK 65536

struct echo_srv {
    int listener;
    long long echoed;
    int accept_family;
    int result;
};

/* Accepts one connection and echoes it until the peer closes. */
static void lib_echo_thread(void *p)
{
    struct echo_srv *e = p;
    SOCKADDR_STORAGE peer;
    int plen = (int)sizeof(peer);
    unsigned char *b = malloc(CHUNK);
    int c = ks_accept(e->listener, (struct sockaddr *)&peer, &plen);
    e->result = c;
    if (c < 0 || b == NULL) {
        free(b);
        return;
    }
    e->accept_family = peer.ss_family;
    for (;;) {
        ks_ssize_t n = ks_recv(c, b, CHUNK, 0);
        if (n <= 0) {
            e->result = (int)n;
            break;
        }
        ks_ssize_t w = ks_send(c, b, (size_t)n, 0);
        if (w != n) {
            e->result = (int)w;
            break;
        }
        e->echoed += n;
    }
    free(b);
    ks_close(c);
}

struct sender {
    int s;
    ks_ssize_t result;
};

/* Sends the pattern while the main thread receives on the same socket. */
static void send_pattern_thread(void *p)
{
    struct sender *sd = p;
    unsigned char *chunk = malloc(CHUNK);
    sd->result = 0;
    for (size_t off = 0; chunk != NULL && off < STREAM_BYTES; off += CHUNK) {
        ht_pattern(chunk, CHUNK, 7, off);
        ks_ssize_t n = ks_send(sd->s, chunk, CHUNK, 0);
        if (n != CHUNK) {
            sd->result = n;
            break;
        }
        sd->result += n;
    }
    free(chunk);
}

/* Receives the echo of the pattern and compares every byte. */
static void receive_pattern(int s)
{
    unsigned char *got = malloc(CHUNK), *want = malloc(CHUNK);
    size_t off = 0;
    while (got != NULL && want != NULL && off < STREAM_BYTES) {
        ks_ssize_t n = ks_recv(s, got, CHUNK, MSG_WAITALL);
        HT_EQ(n, CHUNK, "ks_recv MSG_WAITALL of an echoed chunk");
        if (n != CHUNK)
            break;
        ht_pattern(want, CHUNK, 7, off);
        HT_CHECK(memcmp(got, want, CHUNK) == 0, "echoed data matches", off);
        off += CHUNK;
    }
    HT_EQ(off, STREAM_BYTES, "bytes echoed");
    free(got);
    free(want);
}

static void lib_to_lib(int v6)
{
    int port;
    struct echo_srv e = {0};
    struct sender sd = {0};
    e.listener = ht_ks_listen(v6, &port);
    HT_CHECK(e.listener > 0, "library listener", e.listener);
    if (e.listener <= 0)
        return;
    ht_thread *srv = ht_spawn(lib_echo_thread, &e);
    sd.s = ht_ks_connect(v6, port);
    HT_CHECK(sd.s > 0, "library connect", sd.s);
    if (sd.s > 0) {
        ht_thread *snd = ht_spawn(send_pattern_thread, &sd);
        receive_pattern(sd.s);
        HT_CHECK(ht_join(snd, 30000), "sender thread ended", 0);
        HT_EQ(sd.result, STREAM_BYTES, "bytes sent");
        ks_close(sd.s);
    }
    HT_CHECK(ht_join(srv, 30000), "echo thread ended", 0);
    HT_EQ(e.result, 0, "echo thread saw an orderly end");
    HT_EQ(e.echoed, STREAM_BYTES, "bytes echoed by the library server");
    HT_EQ(e.accept_family, v6 ? AF_INET6 : AF_INET, "accepted peer's family");
    ks_close(e.listener);
}

static void t_tcp4_lib_to_lib(void)
{
    lib_to_lib(0);
}

static void t_tcp6_lib_to_lib(void)
{
    lib_to_lib(1);
}

/* Library client against a native echo server (both directions at once). */
static void lib_client_native_server(int v6)
{
    int port;
    struct sender sd = {0};
    struct hp_echo *echo = hp_echo_start(v6, &port);
    HT_CHECK(echo != NULL, "native echo server", 0);
    if (echo == NULL)
        return;
    sd.s = ht_ks_connect(v6, port);
    HT_CHECK(sd.s > 0, "library connect to native server", sd.s);
    if (sd.s > 0) {
        ht_thread *snd = ht_spawn(send_pattern_thread, &sd);
        receive_pattern(sd.s);
        HT_CHECK(ht_join(snd, 30000), "sender thread ended", 0);
        ks_close(sd.s);
    }
    hp_echo_stop(echo);
}

static void t_tcp6_native_server(void)
{
    lib_client_native_server(1);
}

static void t_tcp4_native_server(void)
{
    lib_client_native_server(0);
}

/* Library server, native client over IPv6: the accepted address is ::1. */
static void t_tcp6_native_client(void)
{
    int port;
    char msg[] = "hello over IPv6";
    char buf[64] = {0};
    int l = ht_ks_listen(1, &port);
    HT_CHECK(l > 0, "v6 listener", l);
    if (l <= 0)
        return;
    int fd = hp_connect(1, port);
    HT_CHECK(fd >= 0, "native v6 connect", fd);
    SOCKADDR_IN6 peer;
    int plen = (int)sizeof(peer);
    int c = ks_accept(l, (struct sockaddr *)&peer, &plen);
    HT_CHECK(c > 0, "ks_accept", c);
    HT_EQ(plen, sizeof(SOCKADDR_IN6), "accepted address length");
    HT_EQ(peer.sin6_family, AF_INET6, "accepted family");
    HT_CHECK(peer.sin6_addr.s6_addr[15] == 1 && peer.sin6_addr.s6_addr[0] == 0,
             "accepted address is ::1", peer.sin6_addr.s6_addr[15]);
    HT_EQ(hp_send_all(fd, msg, sizeof(msg)), sizeof(msg), "native send");
    HT_EQ(ks_recv(c, buf, sizeof(msg), MSG_WAITALL), sizeof(msg), "ks_recv");
    HT_CHECK(memcmp(buf, msg, sizeof(msg)) == 0, "data", 0);
    HT_EQ(ks_send(c, "bye", 3, 0), 3, "ks_send");
    HT_EQ(hp_recv_all(fd, buf, 3, 5000), 3, "native recv");
    HT_CHECK(memcmp(buf, "bye", 3) == 0, "reply data", 0);
    hp_close(fd);
    HT_EQ(ks_recv(c, buf, sizeof(buf), 0), 0, "orderly close seen as 0");
    ks_close(c);
    ks_close(l);
}

/* Connecting to a port without listener is refused, on both families. */
static void t_refused(void)
{
    for (int v6 = 0; v6 <= 1; v6++) {
        int port = hp_free_port(v6);
        int r = ht_ks_connect(v6, port);
        HT_EQ(r, -ECONNREFUSED, v6 ? "v6 connect refused" : "v4 connect refused");
    }
}

/* The socket's family is kept: a v6 socket cannot bind or connect to a v4
 * address, and its implicit bind is a v6 one (connect works unbound). */
static void t_family_rules(void)
{
    SOCKADDR_STORAGE a4;
    int len4;
    int s = ks_socket(AF_INET6, SOCK_STREAM, 0);
    HT_CHECK(s > 0, "v6 socket", s);
    ht_loopback(0, 9, &a4, &len4);
    HT_EQ(ks_connect(s, (struct sockaddr *)&a4, len4), -EAFNOSUPPORT, "v6 socket, v4 address");
    HT_EQ(ks_bind(s, (struct sockaddr *)&a4, len4), -EAFNOSUPPORT, "v6 bind to v4 address");
    ks_close(s);
}

/* MSG_PEEK leaves the data for the next receive. */
static void t_peek(void)
{
    int port;
    char buf[16] = {0};
    int l = ht_ks_listen(1, &port);
    int fd = hp_connect(1, port);
    int c = ks_accept(l, NULL, NULL);
    HT_CHECK(c > 0 && fd >= 0, "connection", c);
    HT_EQ(hp_send_all(fd, "abcdef", 6), 6, "native send");
    HT_EQ(ks_recv(c, buf, 3, MSG_PEEK | MSG_WAITALL), 3, "peek 3");
    HT_CHECK(memcmp(buf, "abc", 3) == 0, "peeked bytes", 0);
    HT_EQ(ks_recv(c, buf, 6, MSG_WAITALL), 6, "receive after peek");
    HT_CHECK(memcmp(buf, "abcdef", 6) == 0, "peeked bytes come again, in order", 0);
    hp_close(fd);
    ks_close(c);
    ks_close(l);
}

const struct ht_test tcp_tests[] = {
    {"tcp4-lib-to-lib", t_tcp4_lib_to_lib, ht_runs_modes},
    {"tcp6-lib-to-lib", t_tcp6_lib_to_lib, ht_runs_modes},
    {"tcp4-native-server", t_tcp4_native_server, ht_runs_modes},
    {"tcp6-native-server", t_tcp6_native_server, ht_runs_modes},
    {"tcp6-native-client", t_tcp6_native_client, ht_runs_modes},
    {"tcp-refused", t_refused, ht_runs_modes},
    {"tcp-family-rules", t_family_rules, ht_runs_modes},
    {"tcp-peek", t_peek, ht_runs_modes},
};
const int tcp_test_count = (int)(sizeof(tcp_tests) / sizeof(tcp_tests[0]));
