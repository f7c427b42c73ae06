/*
 * t_edge.c - what Wine cannot show: a send partly done when the peer
 * resets, calls blocked in the provider woken by close, ks_cleanup racing
 * I/O on several threads, the IRQL rule, calls after cleanup, table growth.
 */
#include "tests.h"

#include <stdlib.h>
#include <string.h>

#define BIG_SEND (32u << 20)

struct blocked {
    int s;
    int op; /* 0 accept, 1 recv, 2 send */
    long long result;
    LONGLONG returned_ms;
};

static void blocked_thread(void *p)
{
    struct blocked *b = p;
    char small[16];
    if (b->op == 0) {
        b->result = ks_accept(b->s, NULL, NULL);
    } else if (b->op == 1) {
        b->result = ks_recv(b->s, small, sizeof(small), 0);
    } else {
        unsigned char *big = calloc(1, BIG_SEND);
        b->result = big != NULL ? ks_send(b->s, big, BIG_SEND, 0) : -ENOMEM;
        free(big);
    }
    b->returned_ms = ht_now_ms();
}

/* The peer reads part of a big send, then resets: ks_send must fail (never
 * report the whole buffer as sent), and a receive afterwards sees the reset. */
static void t_partial_send_reset(void)
{
    int port;
    int lfd = hp_listen(0, &port);
    struct blocked b = {.op = 2};
    b.s = ht_ks_connect(0, port);
    HT_CHECK(b.s > 0, "connect", b.s);
    int fd = hp_accept(lfd, 5000);
    HT_CHECK(fd >= 0, "native accept", fd);
    ht_thread *t = ht_spawn(blocked_thread, &b);
    static unsigned char sink[65536];
    HT_EQ(hp_recv_all(fd, sink, sizeof(sink), 10000), sizeof(sink), "peer read 64 KiB");
    hp_reset(fd);
    HT_CHECK(ht_join(t, 20000), "ks_send returned after the reset", 0);
    HT_CHECK(b.result < 0, "ks_send of 32 MiB after a reset fails", b.result);
    HT_CHECK(b.result == -ECONNRESET || b.result == -ECONNABORTED || b.result == -EPIPE,
             "error is a reset/abort", b.result);
    char c;
    ks_ssize_t r = ks_recv(b.s, &c, 1, 0);
    HT_CHECK(r == -ECONNRESET || r == -ECONNABORTED, "receive after reset: -ECONNRESET", r);
    ks_close(b.s);
    hp_close(lfd);
}

/* A call blocked inside the provider is woken by ks_close of its socket. */
static void closed_while_blocked(int op)
{
    int port, fd = -1, lfd = -1;
    struct blocked b = {.op = op};
    if (op == 0) {
        b.s = ht_ks_listen(1, &port);
    } else {
        lfd = hp_listen(1, &port);
        b.s = ht_ks_connect(1, port);
        fd = hp_accept(lfd, 5000);
        HT_CHECK(fd >= 0, "native accept", fd);
    }
    HT_CHECK(b.s > 0, "socket", b.s);
    ht_thread *t = ht_spawn(blocked_thread, &b);
    /* Whether the close comes before or after the call reaches the
     * provider, the result must be the same. */
    ht_sleep_ms(op == 2 ? 300 : 50);
    LONGLONG t0 = ht_now_ms();
    HT_EQ(ks_close(b.s), 0, "ks_close");
    HT_CHECK(ht_join(t, 10000), "blocked call returned after ks_close", 0);
    HT_EQ(b.result, -EBADF, "blocked call returns -EBADF");
    HT_CHECK(b.returned_ms - t0 < 10000, "woken promptly (ms)", b.returned_ms - t0);
    HT_EQ(ks_close(b.s), -EBADF, "descriptor is stale after close");
    hp_close(fd);
    hp_close(lfd);
}

static void t_accept_cancelled_by_close(void)
{
    closed_while_blocked(0);
}

static void t_recv_cancelled_by_close(void)
{
    closed_while_blocked(1);
}

static void t_send_cancelled_by_close(void)
{
    closed_while_blocked(2);
}

/* ---- ks_cleanup while several threads do I/O ---- */

#define RACE_THREADS 8

struct racer {
    int port;
    int v6;
    volatile LONG rounds;
    long long last;
};

static void racer_thread(void *p)
{
    struct racer *r = p;
    unsigned char buf[4096], back[4096];
    for (;;) {
        int s = ht_ks_connect(r->v6, r->port);
        if (s < 0) {
            r->last = s;
            return;
        }
        for (int i = 0; i < 16; i++) {
            ht_pattern(buf, sizeof(buf), (unsigned)i, 0);
            ks_ssize_t n = ks_send(s, buf, sizeof(buf), 0);
            if (n == (ks_ssize_t)sizeof(buf))
                n = ks_recv(s, back, sizeof(back), MSG_WAITALL);
            if (n != (ks_ssize_t)sizeof(buf)) {
                r->last = n;
                ks_close(s);
                return;
            }
            if (memcmp(buf, back, sizeof(buf)) != 0) {
                r->last = 1; /* corrupted: reported by the test */
                ks_close(s);
                return;
            }
        }
        ks_close(s);
        InterlockedIncrement(&r->rounds);
    }
}

static void t_cleanup_races_io(void)
{
    int port;
    struct hp_echo *echo = hp_echo_start(0, &port);
    struct racer r[RACE_THREADS];
    ht_thread *t[RACE_THREADS];
    HT_CHECK(echo != NULL, "native echo server", 0);
    if (echo == NULL)
        return;
    for (int i = 0; i < RACE_THREADS; i++) {
        r[i] = (struct racer){.port = port, .v6 = 0};
        t[i] = ht_spawn(racer_thread, &r[i]);
    }
    /* Wait (bounded) until every thread has completed a round, so that the
     * cleanup really meets threads in the middle of their I/O. */
    LONGLONG until = ht_now_ms() + 20000;
    for (int i = 0; i < RACE_THREADS; i++)
        while (r[i].rounds < 1 && ht_now_ms() < until)
            ht_sleep_ms(5);
    LONGLONG t0 = ht_now_ms();
    ks_cleanup();
    LONGLONG cleanup_ms = ht_now_ms() - t0;
    HT_CHECK(cleanup_ms < 10000, "ks_cleanup returned (ms)", cleanup_ms);
    for (int i = 0; i < RACE_THREADS; i++) {
        HT_CHECK(ht_join(t[i], 10000), "racer thread ended after ks_cleanup", i);
        HT_CHECK(r[i].rounds >= 1, "racer did a round before the cleanup", r[i].rounds);
        HT_CHECK(r[i].last == -EBADF || r[i].last == -ENETDOWN,
                 "racer's last call failed with -EBADF or -ENETDOWN", r[i].last);
    }
    hp_echo_stop(echo);
    /* The harness's ks_cleanup is then a no-op; restart to prove the
     * library is usable again and leave it started for the harness. */
    HT_EQ(ks_startup(), 0, "ks_startup after a racing cleanup");
}

/* Blocking calls above PASSIVE_LEVEL fail with -EPERM and do nothing. */
static void t_irql(void)
{
    KIRQL old;
    int s = ks_socket(AF_INET, SOCK_STREAM, 0);
    char c;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    int r1 = ks_socket(AF_INET, SOCK_STREAM, 0);
    ks_ssize_t r2 = ks_send(s, "x", 1, 0);
    ks_ssize_t r3 = ks_recv(s, &c, 1, 0);
    int r4 = ks_close(s);
    int r5 = ks_startup();
    ks_cleanup(); /* does nothing above PASSIVE_LEVEL */
    KeLowerIrql(old);
    HT_EQ(r1, -EPERM, "ks_socket at DISPATCH_LEVEL");
    HT_EQ(r2, -EPERM, "ks_send at DISPATCH_LEVEL");
    HT_EQ(r3, -EPERM, "ks_recv at DISPATCH_LEVEL");
    HT_EQ(r4, -EPERM, "ks_close at DISPATCH_LEVEL");
    HT_EQ(r5, -EPERM, "ks_startup at DISPATCH_LEVEL");
    HT_EQ(ks_close(s), 0, "the socket is still open afterwards");
}

/* Under Wine (recognised at ks_startup by its ntoskrnl.exe export) the
 * IRQL, which is always PASSIVE_LEVEL there and costs a trap to read, is
 * not read: the same call at DISPATCH_LEVEL gets past the check (to the
 * descriptor lookup: -EBADF) only while the shim plays Wine. */
static void t_irql_wine(void)
{
    KIRQL old;
    int r[2];
    for (int wine = 1; wine >= 0; wine--) {
        ks_cleanup();
        kshim_set_wine_kernel((BOOLEAN)wine);
        HT_EQ(ks_startup(), 0, "ks_startup");
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        r[wine] = ks_close(4242);
        KeLowerIrql(old);
    }
    HT_EQ(r[1], -EBADF, "ks_close at DISPATCH_LEVEL, Wine's kernel: the IRQL is not read");
    HT_EQ(r[0], -EPERM, "ks_close at DISPATCH_LEVEL, Windows: the IRQL is checked");
}

/* After the last ks_cleanup: stale descriptors, no new sockets. */
static void t_after_cleanup(void)
{
    int s = ks_socket(AF_INET6, SOCK_DGRAM, 0);
    HT_CHECK(s > 0, "socket", s);
    ks_cleanup();
    HT_EQ(ks_close(s), -EBADF, "descriptor from before cleanup");
    HT_EQ(ks_socket(AF_INET, SOCK_STREAM, 0), -ENETDOWN, "ks_socket after cleanup");
    HT_EQ(ks_startup(), 0, "restart");
}

/* The descriptor table grows (no small fixed cap): 10,000 sockets, each
 * with a real WSK socket in the provider (UDP, bound), all distinct and all
 * usable; closing them frees everything (the harness checks). */
static void t_many_sockets(void)
{
    enum { N = 10000 };
    int *fds = malloc(sizeof(int) * N);
    int opened = 0, bound = 0;
    SOCKADDR_STORAGE any, to;
    int len, tolen;
    HT_CHECK(hp_raise_fd_limit(N + 512) >= N + 512, "open-file limit for the provider", N);
    ht_loopback(0, 0, &any, &len);
    for (int i = 0; fds != NULL && i < N; i++) {
        fds[i] = ks_socket(AF_INET, SOCK_DGRAM, 0);
        if (fds[i] <= 0)
            break;
        opened++;
        if (ks_bind(fds[i], (struct sockaddr *)&any, len) == 0)
            bound++;
    }
    HT_EQ(opened, N, "sockets opened");
    HT_EQ(bound, N, "sockets bound (a WSK socket each)");
    for (int i = 1; i < opened; i++)
        HT_CHECK(fds[i] != fds[i - 1], "distinct descriptors", i);
    /* The first and the last still work: a datagram from one to a native
     * receiver. */
    int np;
    int nfd = hp_udp(0, &np);
    ht_loopback(0, np, &to, &tolen);
    char buf[8];
    if (opened == N) {
        HT_EQ(ks_sendto(fds[0], "first", 5, 0, (struct sockaddr *)&to, tolen), 5, "first socket");
        HT_EQ(hp_recvfrom(nfd, buf, sizeof(buf), NULL, 5000), 5, "native got the first");
        HT_EQ(ks_sendto(fds[N - 1], "last", 4, 0, (struct sockaddr *)&to, tolen), 4, "last socket");
        HT_EQ(hp_recvfrom(nfd, buf, sizeof(buf), NULL, 5000), 4, "native got the last");
    }
    hp_close(nfd);
    for (int i = 0; i < opened; i++)
        HT_EQ(ks_close(fds[i]), 0, "close");
    free(fds);
}

/* Many threads on many sockets: each thread streams its own pattern through
 * a native echo server while the others do the same. */
#define MANY_THREADS 16
#define MANY_BYTES (1u << 20)

struct streamer {
    int port;
    unsigned seed;
    long long result;
};

static void streamer_thread(void *p)
{
    struct streamer *st = p;
    unsigned char out[16384], in[16384];
    int s = ht_ks_connect((int)(st->seed % 2), st->port);
    if (s < 0) {
        st->result = s;
        return;
    }
    st->result = 0;
    for (size_t off = 0; off < MANY_BYTES; off += sizeof(out)) {
        ht_pattern(out, sizeof(out), st->seed, off);
        ks_ssize_t n = ks_send(s, out, sizeof(out), 0);
        if (n == (ks_ssize_t)sizeof(out))
            n = ks_recv(s, in, sizeof(in), MSG_WAITALL);
        if (n != (ks_ssize_t)sizeof(out)) {
            st->result = n < 0 ? n : -EIO;
            break;
        }
        if (memcmp(in, out, sizeof(in)) != 0) {
            st->result = -EILSEQ;
            break;
        }
        st->result += n;
    }
    ks_close(s);
}

static void t_many_threads(void)
{
    int port4, port6;
    struct hp_echo *e4 = hp_echo_start(0, &port4), *e6 = hp_echo_start(1, &port6);
    struct streamer st[MANY_THREADS];
    ht_thread *t[MANY_THREADS];
    HT_CHECK(e4 != NULL && e6 != NULL, "native echo servers", 0);
    for (int i = 0; i < MANY_THREADS; i++) {
        st[i] = (struct streamer){.port = i % 2 ? port6 : port4, .seed = (unsigned)i};
        t[i] = ht_spawn(streamer_thread, &st[i]);
    }
    for (int i = 0; i < MANY_THREADS; i++) {
        HT_CHECK(ht_join(t[i], 60000), "streamer ended", i);
        HT_EQ(st[i].result, MANY_BYTES, "bytes echoed intact per thread");
    }
    hp_echo_stop(e4);
    hp_echo_stop(e6);
}

const struct ht_test edge_tests[] = {
    {"partial-send-reset", t_partial_send_reset, ht_runs_modes},
    {"accept-cancelled-by-close", t_accept_cancelled_by_close, ht_runs_modes},
    {"recv-cancelled-by-close", t_recv_cancelled_by_close, ht_runs_modes},
    {"send-cancelled-by-close", t_send_cancelled_by_close, ht_runs_modes},
    {"cleanup-races-io", t_cleanup_races_io, ht_runs_modes},
    {"irql", t_irql, ht_runs_modes},
    {"irql-wine", t_irql_wine, ht_runs_once},
    {"after-cleanup", t_after_cleanup, ht_runs_modes},
    {"many-sockets", t_many_sockets, ht_runs_modes},
    {"many-threads", t_many_threads, ht_runs_modes},
};
const int edge_test_count = (int)(sizeof(edge_tests) / sizeof(edge_tests[0]));
