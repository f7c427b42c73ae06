/*
 * kt_nonblock.c - the nonblock and timeouts scenarios.
 *
 * nonblock (Port: a native echo_server serving 2 connections; Port2: a free
 * port for ktest's own listener):
 *   - a non-blocking connect to the echo server (-EINPROGRESS or 0, POLLOUT,
 *     SO_ERROR 0), 4 MiB echoed through non-blocking sends and receives
 *     driven by ks_poll (checked against the pattern), then 1-byte round
 *     trips through MSG_DONTWAIT + ks_poll; the same over a blocking
 *     connection, for the figures of both paths;
 *   - ks_poll's wake-up latency (a thread sends one byte, the poller wakes);
 *   - a non-blocking accept, ks_poll over 8 connections (only the ready
 *     ones reported, POLLHUP, POLLNVAL), FIONREAD, a close with a
 *     read-ahead in flight.
 * timeouts (Port: a native silent_server holding 2 connections; Port2: a
 * free port): SO_RCVTIMEO on ks_recv and ks_accept, SO_SNDTIMEO on a send
 * the peer never reads (-ETIMEDOUT, then -EPIPE).
 *
 * Figures are logged as "ktest: nonblock: ..." / "ktest: timeouts: ...".
 */
#include "ktest.h"

#define NB_STREAM (4u << 20)
#define NB_CHUNK 65536u
#define NB_SEED 4242
#define NB_TRIPS 1000
#define NB_PAIRS 8
#define NB_WAKES 20

static LONGLONG now_us(void)
{
    LARGE_INTEGER f, n = KeQueryPerformanceCounter(&f);
    if (f.QuadPart <= 0)
        return 0;
    return n.QuadPart / f.QuadPart * 1000000 + n.QuadPart % f.QuadPart * 1000000 / f.QuadPart;
}

static int set_nb(int s, int on)
{
    unsigned long v = (unsigned long)on;
    return ks_ioctl(s, FIONBIO, &v);
}

/* revents of one socket (0 on timeout) or a negative errno. */
static int poll1(int s, short events, int timeout_ms)
{
    struct ks_pollfd p;
    int r;

    p.fd = s;
    p.events = events;
    p.revents = 0;
    r = ks_poll(&p, 1, timeout_ms);
    return r < 0 ? r : p.revents;
}

static int so_error(int s)
{
    int v = -1, len = (int)sizeof(v);
    int r = ks_getsockopt(s, SOL_SOCKET, SO_ERROR, &v, &len);
    return r < 0 ? r : v;
}

static int set_timeo(int s, int name, ULONG ms)
{
    return ks_setsockopt(s, SOL_SOCKET, name, &ms, (int)sizeof(ms));
}

/* Non-blocking connect to 127.0.0.1:port, completed through ks_poll. */
static int nb_connect(int port)
{
    struct sockaddr_in a = kt_addr(INADDR_LOOPBACK, port);
    int s = ks_socket(AF_INET, SOCK_STREAM, 0), r, rev;

    if (s < 0 || !EXPECT("nonblock: FIONBIO", set_nb(s, 1), 0))
        return s < 0 ? s : -1;
    r = ks_connect(s, (struct sockaddr *)&a, sizeof(a));
    EXPECT_IN("nonblock: non-blocking ks_connect", r, 0, -EINPROGRESS);
    if (r == -EINPROGRESS) {
        rev = poll1(s, POLLOUT, 10000);
        CHECK("nonblock: POLLOUT once connected, no POLLERR",
              (rev & POLLOUT) && !(rev & (POLLERR | POLLHUP)), rev);
    }
    EXPECT("nonblock: SO_ERROR after the connect", so_error(s), 0);
    return s;
}

/* Echoes NB_STREAM bytes through s; non-blocking (sends and receives as far
 * as they go, ks_poll between) or blocking (a chunk out, the chunk back).
 * Returns MiB/s * 10, or -1. */
static long echo_stream(int s, int nonblocking, UCHAR *out, UCHAR *in)
{
    size_t sent = 0, got = 0, chunk_off = 0, chunk_len = 0;
    LONGLONG t0 = kt_now_ms(), ms;
    ks_ssize_t n;

    while (got < NB_STREAM) {
        if (sent < NB_STREAM && chunk_off == chunk_len) {
            chunk_len = NB_STREAM - sent < NB_CHUNK ? NB_STREAM - sent : NB_CHUNK;
            ksp_fill(NB_SEED, sent, out, chunk_len);
            chunk_off = 0;
        }
        if (!nonblocking) {
            if (!kt_send_all(s, out, chunk_len))
                return -1;
            sent += chunk_len;
            chunk_off = chunk_len;
            n = ks_recv(s, in, chunk_len, MSG_WAITALL);
            if (n != (ks_ssize_t)chunk_len) {
                kt_fail(__LINE__, "nonblock: blocking receive in the echo", (long)n);
                return -1;
            }
        } else {
            if (sent < NB_STREAM) {
                n = ks_send(s, out + chunk_off, chunk_len - chunk_off, 0);
                if (n > 0) {
                    chunk_off += (size_t)n;
                    sent += (size_t)n;
                } else if (n != -EWOULDBLOCK) {
                    kt_fail(__LINE__, "nonblock: ks_send in the echo", (long)n);
                    return -1;
                }
            }
            n = ks_recv(s, in, NB_CHUNK, 0);
            if (n == -EWOULDBLOCK) {
                int rev = poll1(s, sent < NB_STREAM ? POLLIN | POLLOUT : POLLIN, 10000);
                if (rev <= 0) {
                    kt_fail(__LINE__, "nonblock: ks_poll in the echo", rev);
                    return -1;
                }
                continue;
            }
            if (n <= 0) {
                kt_fail(__LINE__, "nonblock: ks_recv in the echo", (long)n);
                return -1;
            }
        }
        if (ksp_check(NB_SEED, got, in, (size_t)n) != (size_t)n) {
            kt_fail(__LINE__, "nonblock: echoed bytes differ at offset", (long)got);
            return -1;
        }
        got += (size_t)n;
    }
    ms = kt_now_ms() - t0;
    return ms > 0 ? (long)((LONGLONG)NB_STREAM * 10 * 1000 / ms / (1 << 20)) : 0;
}

/* 1-byte round trips: blocking calls, or MSG_DONTWAIT + ks_poll. Returns
 * round trips per second, or -1. */
static long round_trips(int s, int nonblocking)
{
    LONGLONG t0 = kt_now_ms(), ms;
    char c = 'r', back;
    int i;

    for (i = 0; i < NB_TRIPS; i++) {
        ks_ssize_t n = ks_send(s, &c, 1, nonblocking ? MSG_DONTWAIT : 0);
        /* The previous byte's send may still be in flight. */
        while (n == -EWOULDBLOCK && (poll1(s, POLLOUT, 10000) & POLLOUT))
            n = ks_send(s, &c, 1, MSG_DONTWAIT);
        if (n != 1) {
            kt_fail(__LINE__, "nonblock: round-trip send", (long)n);
            return -1;
        }
        if (nonblocking) {
            while ((n = ks_recv(s, &back, 1, MSG_DONTWAIT)) == -EWOULDBLOCK)
                if (!(poll1(s, POLLIN, 10000) & POLLIN))
                    break;
        } else {
            n = ks_recv(s, &back, 1, 0);
        }
        if (n != 1 || back != c) {
            kt_fail(__LINE__, "nonblock: round-trip receive", (long)n);
            return -1;
        }
    }
    ms = kt_now_ms() - t0;
    return ms > 0 ? (long)(NB_TRIPS * 1000 / ms) : NB_TRIPS * 1000;
}

static void echo_paths(void)
{
    UCHAR *out = kt_alloc(NonPagedPool, NB_CHUNK), *in = kt_alloc(NonPagedPool, NB_CHUNK);
    long mibs, rtt;
    int s;

    if (out == NULL || in == NULL)
        goto done;
    STEP("nonblock: non-blocking echo");
    s = nb_connect(kt_param.port);
    if (s >= 0) {
        mibs = echo_stream(s, 1, out, in);
        rtt = mibs >= 0 ? round_trips(s, 1) : -1;
        if (CHECK("nonblock: 4 MiB echoed through non-blocking calls and ks_poll", mibs >= 0,
                  mibs) &&
            rtt > 0)
            KT_LOG("nonblock: nonblocking echo MiB/s=%ld.%ld round-trips/s=%ld\n", mibs / 10,
                   mibs % 10, rtt);
        ks_close(s);
    }
    STEP("nonblock: blocking echo");
    s = kt_connect_loopback(kt_param.port);
    if (s >= 0) {
        mibs = echo_stream(s, 0, out, in);
        rtt = mibs >= 0 ? round_trips(s, 0) : -1;
        if (CHECK("nonblock: 4 MiB echoed through blocking calls", mibs >= 0, mibs) && rtt > 0)
            KT_LOG("nonblock: blocking echo MiB/s=%ld.%ld round-trips/s=%ld\n", mibs / 10,
                   mibs % 10, rtt);
        ks_close(s);
    }
done:
    kt_free(out);
    kt_free(in);
}

/* ---- poll wake-up latency ---- */

static struct {
    int s;
    volatile LONGLONG sent_us[NB_WAKES];
} wake;

static VOID NTAPI wake_sender(PVOID ctx)
{
    int i;
    (void)ctx;
    for (i = 0; i < NB_WAKES; i++) {
        kt_sleep_ms(20);
        wake.sent_us[i] = now_us();
        if (ks_send(wake.s, "w", 1, 0) != 1)
            break;
    }
    kt_thread_exit();
}

/* Connected pair through the listener l: *c the connecting end, returns the
 * accepted end (blocking calls). */
static int make_pair(int l, int *c)
{
    int a;
    *c = kt_connect_loopback(kt_param.port2);
    if (*c < 0)
        return -1;
    a = ks_accept(l, NULL, NULL);
    if (a < 0) {
        kt_fail(__LINE__, "nonblock: ks_accept", a);
        ks_close(*c);
        *c = -1;
    }
    return a;
}

static void wake_latency(int l)
{
    LONGLONG total = 0, worst = 0;
    int c, a, i, n = 0, slot;

    STEP("nonblock: wake-up latency");
    a = make_pair(l, &c);
    if (a < 0)
        return;
    wake.s = c;
    slot = kt_spawn(wake_sender, NULL);
    for (i = 0; i < NB_WAKES && slot >= 0; i++) {
        char b;
        int rev = poll1(a, POLLIN, 10000);
        LONGLONG lat = now_us() - wake.sent_us[i];
        if (!(rev & POLLIN) || ks_recv(a, &b, 1, 0) != 1)
            break;
        total += lat;
        if (lat > worst)
            worst = lat;
        n++;
    }
    EXPECT("nonblock: ks_poll woke for every byte", n, NB_WAKES);
    kt_join(slot, 10000);
    if (n > 0)
        KT_LOG("nonblock: poll wake-up latency avg_us=%ld max_us=%ld (n=%d)\n", (long)(total / n),
               (long)worst, n);
    ks_close(a);
    ks_close(c);
}

/* ---- accept, many sockets, FIONREAD, close ---- */

static VOID NTAPI late_sender(PVOID ctx)
{
    kt_sleep_ms(100);
    ks_send((int)(ULONG_PTR)ctx, "z", 1, 0);
    kt_thread_exit();
}

static void accept_and_poll(int l)
{
    struct sockaddr_in a = kt_addr(INADDR_LOOPBACK, kt_param.port2);
    struct ks_pollfd p[NB_PAIRS + 1];
    int c[NB_PAIRS], acc[NB_PAIRS];
    int i, r, rev, nc, na, seen = 0, others = 0, slot;
    unsigned long v;
    char b[128];
    LONGLONG until;

    STEP("nonblock: accept");
    EXPECT("nonblock: FIONBIO on the listener", set_nb(l, 1), 0);
    EXPECT("nonblock: ks_accept without a connection", ks_accept(l, NULL, NULL), -EWOULDBLOCK);
    /* EAGAIN is EWOULDBLOCK (wsksock/errno.h; 11 and 140 in the C runtime). */
    EXPECT("nonblock: ks_accept without a connection, as -EAGAIN", ks_accept(l, NULL, NULL),
           -EAGAIN);
    nc = ks_socket(AF_INET, SOCK_STREAM, 0);
    set_nb(nc, 1);
    r = ks_connect(nc, (struct sockaddr *)&a, sizeof(a));
    EXPECT_IN("nonblock: non-blocking connect to ktest's listener", r, 0, -EINPROGRESS);
    rev = poll1(l, POLLIN, 10000);
    CHECK("nonblock: POLLIN on the listener", rev & POLLIN, rev);
    na = ks_accept(l, NULL, NULL);
    CHECK("nonblock: non-blocking ks_accept", na > 0, na);
    rev = poll1(nc, POLLOUT, 10000);
    CHECK("nonblock: POLLOUT on the connecting socket", rev & POLLOUT, rev);
    slot = kt_spawn(late_sender, (PVOID)(ULONG_PTR)nc);
    EXPECT("nonblock: the accepted socket blocks until the late byte", ks_recv(na, b, 1, 0), 1);
    kt_join(slot, 10000);
    ks_close(na);
    ks_close(nc);
    EXPECT("nonblock: FIONBIO 0 on the listener", set_nb(l, 0), 0);

    STEP("nonblock: ks_connect_name (wsksock/connect.h)");
    {
        char svc[KS_SERVICE_STRLEN], text[KS_SOCKADDR_STRLEN];
        struct sockaddr_in peer;
        int plen = (int)sizeof(peer);

        EXPECT("connect_name: port text",
               ks_port_to_service((unsigned)kt_param.port2, svc, sizeof(svc)) > 0, 1);
        nc = ks_connect_name("127.0.0.1", svc, SOCK_STREAM, 5000);
        CHECK("connect_name: connected to ktest's listener", nc > 0, nc);
        na = ks_accept(l, NULL, NULL);
        CHECK("connect_name: accepted", na > 0, na);
        EXPECT("connect_name: getpeername", ks_getpeername(nc, (struct sockaddr *)&peer, &plen), 0);
        CHECK("connect_name: the peer as text",
              ks_sockaddr_format((struct sockaddr *)&peer, plen, text, sizeof(text)) > 0, 0);
        CHECK("connect_name: 127.0.0.1:<port>",
              RtlCompareMemory(text, "127.0.0.1:", 10) == 10 && strcmp(text + 10, svc) == 0, 0);
        ks_close(na);
        ks_close(nc);
        EXPECT("connect_name: an unknown host",
               ks_connect_name("no-such-host.invalid", svc, SOCK_STREAM, 5000) < 0, 1);
    }

    STEP("nonblock: poll over many sockets");
    for (i = 0; i < NB_PAIRS; i++)
        acc[i] = make_pair(l, &c[i]);
    for (i = 0; i < NB_PAIRS; i++) {
        p[i].fd = acc[i];
        p[i].events = POLLIN;
    }
    p[NB_PAIRS].fd = 0x3fffffff; /* never a descriptor */
    p[NB_PAIRS].events = POLLIN;
    r = ks_poll(p, NB_PAIRS + 1, 0);
    EXPECT("nonblock: ks_poll, timeout 0: only the bad descriptor", r, 1);
    EXPECT("nonblock: POLLNVAL", p[NB_PAIRS].revents, POLLNVAL);
    r = ks_poll(p, NB_PAIRS, 200);
    EXPECT("nonblock: ks_poll, 200 ms, nothing ready", r, 0);
    ks_send(c[1], "a", 1, 0);
    ks_send(c[4], "b", 1, 0);
    ks_send(c[6], "c", 1, 0);
    until = kt_now_ms() + 10000;
    while ((seen & 0x52) != 0x52 && kt_now_ms() < until) {
        r = ks_poll(p, NB_PAIRS, 5000);
        for (i = 0; i < NB_PAIRS && r > 0; i++) {
            if (p[i].revents == 0)
                continue;
            if (i == 1 || i == 4 || i == 6)
                seen |= 1 << i;
            else
                others++;
        }
    }
    EXPECT("nonblock: ks_poll reported the 3 ready sockets", seen, 0x52);
    EXPECT("nonblock: ks_poll reported no other socket", others, 0);

    STEP("nonblock: FIONREAD");
    ks_send(c[1], "0123456789", 10, 0);
    for (until = kt_now_ms() + 10000;; kt_sleep_ms(5)) {
        v = 0;
        r = ks_ioctl(acc[1], FIONREAD, &v);
        if (r != 0 || v >= 11 || kt_now_ms() > until)
            break;
    }
    EXPECT("nonblock: FIONREAD counts the bytes held", (long)v, 11);
    EXPECT("nonblock: ks_recv takes them", ks_recv(acc[1], b, sizeof(b), 0), 11);

    STEP("nonblock: POLLHUP");
    ks_close(c[0]);
    c[0] = -1;
    rev = poll1(acc[0], POLLIN, 10000);
    CHECK("nonblock: POLLIN|POLLHUP after the peer's close", (rev & POLLIN) && (rev & POLLHUP),
          rev);
    EXPECT("nonblock: end of stream", ks_recv(acc[0], b, 1, MSG_DONTWAIT), 0);

    STEP("nonblock: close with a read-ahead in flight");
    EXPECT("nonblock: poll arms the read-ahead", poll1(acc[2], POLLIN, 0), 0);
    EXPECT("nonblock: ks_close with a read-ahead in flight", ks_close(acc[2]), 0);
    acc[2] = -1;
    for (i = 0; i < NB_PAIRS; i++) {
        if (c[i] >= 0)
            ks_close(c[i]);
        if (acc[i] >= 0)
            ks_close(acc[i]);
    }
}

enum kt_outcome kt_nonblock(void)
{
    int l;

    echo_paths();
    l = kt_listen_loopback(kt_param.port2);
    if (l >= 0) {
        wake_latency(l);
        accept_and_poll(l);
        ks_close(l);
    }
    return KT_DONE;
}

/* ---- timeouts ---- */

enum kt_outcome kt_timeouts(void)
{
    UCHAR *big;
    char b[16];
    LONGLONG t0, ms;
    int s, s2, l, c, a;
    ks_ssize_t r;

    STEP("timeouts: SO_RCVTIMEO on ks_recv");
    s = kt_connect_loopback(kt_param.port);
    if (s < 0)
        return KT_DONE;
    EXPECT("timeouts: SO_RCVTIMEO 300", set_timeo(s, SO_RCVTIMEO, 300), 0);
    t0 = kt_now_ms();
    EXPECT("timeouts: ks_recv from a silent peer", ks_recv(s, b, sizeof(b), 0), -ETIMEDOUT);
    ms = kt_now_ms() - t0;
    CHECK("timeouts: after about 300 ms", ms >= 200 && ms < 10000, (long)ms);
    KT_LOG("timeouts: recv timed out after %ld ms (SO_RCVTIMEO 300)\n", (long)ms);
    EXPECT("timeouts: the socket still sends", ks_send(s, "x", 1, 0), 1);
    EXPECT("timeouts: and times out again", ks_recv(s, b, sizeof(b), 0), -ETIMEDOUT);

    STEP("timeouts: SO_RCVTIMEO on ks_accept");
    l = kt_listen_loopback(kt_param.port2);
    if (l >= 0) {
        EXPECT("timeouts: SO_RCVTIMEO 300 on a listener", set_timeo(l, SO_RCVTIMEO, 300), 0);
        t0 = kt_now_ms();
        EXPECT("timeouts: ks_accept without a connection", ks_accept(l, NULL, NULL), -ETIMEDOUT);
        ms = kt_now_ms() - t0;
        CHECK("timeouts: after about 300 ms", ms >= 200 && ms < 10000, (long)ms);
        KT_LOG("timeouts: accept timed out after %ld ms (SO_RCVTIMEO 300)\n", (long)ms);
        c = kt_connect_loopback(kt_param.port2);
        a = ks_accept(l, NULL, NULL);
        CHECK("timeouts: ks_accept after the timeout", a > 0, a);
        if (a > 0 && c > 0) {
            EXPECT("timeouts: accepted connection works", ks_send(c, "hi", 2, 0), 2);
            EXPECT("timeouts: its receive", ks_recv(a, b, 2, MSG_WAITALL), 2);
        }
        if (a > 0)
            ks_close(a);
        if (c > 0)
            ks_close(c);
        ks_close(l);
    }

    STEP("timeouts: SO_SNDTIMEO");
    s2 = kt_connect_loopback(kt_param.port);
    big = kt_alloc(NonPagedPool, 1u << 20); /* data the silent peer never reads */
    if (s2 >= 0 && big != NULL) {
        EXPECT("timeouts: SO_SNDTIMEO 500", set_timeo(s2, SO_SNDTIMEO, 500), 0);
        t0 = kt_now_ms();
        r = 0;
        /* The peer never reads: its window and ours fill, then a send waits. */
        while (r >= 0 && kt_now_ms() - t0 < 20000)
            r = ks_send(s2, big, 1u << 20, 0);
        ms = kt_now_ms() - t0;
        EXPECT("timeouts: ks_send to a peer that does not read", (long)r, -ETIMEDOUT);
        KT_LOG("timeouts: send timed out after %ld ms (SO_SNDTIMEO 500)\n", (long)ms);
        EXPECT("timeouts: later sends", ks_send(s2, "x", 1, 0), -EPIPE);
    }
    if (s2 >= 0)
        ks_close(s2);
    kt_free(big);
    ks_close(s);
    return KT_DONE;
}
