/*
 * lib_faults.c - the scenario that `make faults` runs once per fault site
 * and occurrence (tools/faultrun).
 *
 * One library thread walks through every path of the library: parameters,
 * startup, TCP over IPv4 against a native echo server (send, receive with
 * MSG_WAITALL and MSG_PEEK), TCP over IPv6 library to library (listen,
 * connect, accept), UDP over IPv4 and IPv6 (sendto, recvfrom), options,
 * socket addresses and shutdown (setsockopt applied at bind, getsockname,
 * getpeername, ks_shutdown), name resolution (ks_getaddrinfo through the
 * provider and numeric, ks_getnameinfo), non-blocking I/O against the
 * echo server (connect, ks_poll, send and receive through the asynchronous
 * requests, then a receive timeout), the asynchronous calls (connect,
 * send, receive, a cancelled receive) and event-driven accept and receive
 * (an echo through ks_listen_events), calls
 * blocked in the provider woken by close (two more threads), sockets left
 * open for ks_cleanup, and cleanup. With KSHIM_FAULT=site:N one allocation, IRP, MDL or provider
 * call fails. Every library call must then either succeed with its effect verified (data compared
 * byte for byte, sizes, addresses) or return a negative errno; a call during which the injected
 * fault fired must not report success (except where the library recovers by design: a failed
 * WSK_NO_WAIT capture in ks_startup is retried at first use). A step that
 * fails is abandoned (its sockets closed) and the next step runs.
 *
 * Exit status: 0 pass; 1 a wrong result (success despite the fault,
 * corrupted data, an error that is not a negative errno); 3 leaks after
 * ks_cleanup (pool, IRPs, MDLs, locked pages, threads, provider sockets).
 * A crash, a kshim violation (86), a sanitizer report or a hang (the runner
 * kills it) are failures too. Without KSHIM_FAULT the scenario must pass
 * with every step completed (exit 0, "lib_faults: all steps completed").
 */
#include "ht.h"

#include <wsksock/params.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int wrong; /* wrong results seen */
static int steps_failed;

/* Checks one call's result against the fault state around it. */
static long long call(const char *name, BOOLEAN fired_before, long long r, BOOLEAN may_recover)
{
    BOOLEAN during = !fired_before && kshim_fault_fired();
    if (during && r >= 0 && !may_recover) {
        ULONG n;
        const char *site = kshim_fault_site(&n);
        printf("lib_faults: WRONG %s returned %lld although fault %s:%u fired during it\n", name, r,
               site, (unsigned)n);
        wrong++;
    }
    if (r < 0 && r < -200) {
        printf("lib_faults: WRONG %s returned %lld, not a negative errno\n", name, r);
        wrong++;
    }
    if (r < 0)
        printf("lib_faults: %s -> %lld (%s)\n", name, r, ks_strerror((int)r));
    return r;
}
/* Whether the fault had fired before the call: read first (the comma
 * operator orders it; as a sibling argument of the call it could be read
 * after it). Per thread: the blocked-call step runs calls on threads. */
static _Thread_local BOOLEAN fired_before_call;
#define BEFORE() (fired_before_call = kshim_fault_fired())
#define CALL(name, expr) (BEFORE(), call((name), fired_before_call, (long long)(expr), FALSE))
/* A call that succeeds by design although a fault fired during it, each
 * use saying why: ks_close (the descriptor is released whatever the orderly
 * disconnect did: it falls back to an abortive close), ht_ks_listen (it
 * tries another port after -EADDRINUSE, which a bind fault gives), a
 * getsockname with the library's record of the address to fall back on,
 * ks_listen_events (without event callbacks it serves the same handlers by
 * its own requests), ks_accept (once it holds a connection it puts the
 * listener's next WskAccept in flight, best effort, for Wine's sake: a
 * fault there is left to the next call; see ks_stream.c), ks_listen of a
 * bound stream socket (it first closes the WSK connection socket the bind
 * made, and a WskCloseSocket without memory for its IRP takes the
 * library's reserve IRP: ks_op.h). */
#define CALL_RECOVERS(name, expr)                                                                  \
    (BEFORE(), call((name), fired_before_call, (long long)(expr), TRUE))

static void corrupt(const char *what)
{
    printf("lib_faults: WRONG %s: data differs\n", what);
    wrong++;
}

static void step_params(void)
{
    static const WCHAR path[] = L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\lf";
    UNICODE_STRING reg;
    char buf[32];
    RtlInitUnicodeString(&reg, path);
    long long r = CALL("ks_param_get", ks_param_get(&reg, "Name", buf, sizeof(buf)));
    if (r >= 0 && strcmp(buf, "faults") != 0)
        corrupt("ks_param_get value");
    r = CALL("ks_param_get_int", ks_param_get_int(&reg, "Count", -1));
    if (r != 42 && r != -1)
        corrupt("ks_param_get_int value");
}

/* TCP over IPv4 against the native echo server. */
static int step_tcp4(int port)
{
    unsigned char out[3 * 16384], in[sizeof(out)];
    int s = (int)CALL("ks_socket tcp4", ks_socket(AF_INET, SOCK_STREAM, 0));
    if (s < 0)
        return -1;
    SOCKADDR_STORAGE to;
    int tolen;
    ht_loopback(0, port, &to, &tolen);
    int ok = CALL("ks_connect tcp4", ks_connect(s, (struct sockaddr *)&to, tolen)) == 0;
    for (int i = 0; ok && i < 3; i++) {
        ht_pattern(out + i * 16384, 16384, 5, (size_t)i * 16384);
        ok = CALL("ks_send", ks_send(s, out + i * 16384, 16384, 0)) == 16384;
    }
    if (ok) {
        long long r = CALL("ks_recv peek", ks_recv(s, in, 100, MSG_PEEK | MSG_WAITALL));
        ok = r == 100;
        if (ok && memcmp(in, out, 100) != 0)
            corrupt("peeked data");
    }
    if (ok) {
        BEFORE();
        long long r = ks_recv(s, in, sizeof(in), MSG_WAITALL);
        /* Cut short by an error: the bytes that came, as BSD returns them;
         * not a success (the step fails), so only a full count is judged. */
        if (r >= 0 && r < (long long)sizeof(in))
            printf("lib_faults: ks_recv waitall -> %lld of %zu bytes\n", r, sizeof(in));
        else
            call("ks_recv waitall", fired_before_call, r, FALSE);
        ok = r == (long long)sizeof(in);
        if (ok && memcmp(in, out, sizeof(in)) != 0)
            corrupt("echoed data");
    }
    CALL_RECOVERS("ks_close tcp4", ks_close(s));
    return ok ? 0 : -1;
}

/* TCP over IPv6, library to library, one thread: the connection completes
 * from the provider's backlog before ks_accept takes it. */
static int step_tcp6(void)
{
    int port, c = -1, a = -1, ok = 0;
    char buf[1024], back[1024];
    int l = (int)CALL_RECOVERS("listen tcp6", ht_ks_listen(1, &port));
    if (l < 0)
        return -1;
    c = (int)CALL("connect tcp6", ht_ks_connect(1, port));
    if (c > 0) {
        SOCKADDR_IN6 peer;
        int plen = (int)sizeof(peer);
        a = (int)CALL_RECOVERS("ks_accept", ks_accept(l, (struct sockaddr *)&peer, &plen));
        if (a > 0 && (peer.sin6_family != AF_INET6 || peer.sin6_addr.s6_addr[15] != 1))
            corrupt("accepted address");
    }
    if (a > 0) {
        ht_pattern((unsigned char *)buf, sizeof(buf), 9, 0);
        ok = CALL("ks_send c->a", ks_send(c, buf, sizeof(buf), 0)) == (long long)sizeof(buf) &&
             CALL("ks_recv a", ks_recv(a, back, sizeof(back), MSG_WAITALL)) ==
                 (long long)sizeof(back);
        if (ok && memcmp(buf, back, sizeof(buf)) != 0)
            corrupt("v6 stream data");
    }
    if (a > 0)
        CALL_RECOVERS("ks_close a", ks_close(a));
    if (c > 0)
        CALL_RECOVERS("ks_close c", ks_close(c));
    CALL_RECOVERS("ks_close l", ks_close(l));
    return ok ? 0 : -1;
}

static int step_udp(int v6)
{
    int pb = 0, ok = 0;
    char buf[600], in[600];
    int a = (int)CALL("ks_socket udp a", ks_socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0));
    int b = (int)CALL("ks_socket udp b", ks_socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0));
    if (a > 0 && b > 0) {
        SOCKADDR_STORAGE addr;
        int len;
        for (int tries = 0; tries < 10; tries++) {
            pb = hp_free_port(v6);
            ht_loopback(v6, pb, &addr, &len);
            long long r = CALL("ks_bind udp", ks_bind(b, (struct sockaddr *)&addr, len));
            ok = r == 0;
            if (r != -EADDRINUSE)
                break;
        }
        if (ok) {
            ht_pattern((unsigned char *)buf, sizeof(buf), 3, 0);
            ok = CALL("ks_sendto", ks_sendto(a, buf, sizeof(buf), 0, (struct sockaddr *)&addr,
                                             len)) == (long long)sizeof(buf);
        }
        if (ok) {
            SOCKADDR_STORAGE from;
            int fromlen = (int)sizeof(from);
            ok = CALL("ks_recvfrom", ks_recvfrom(b, in, sizeof(in), 0, (struct sockaddr *)&from,
                                                 &fromlen)) == (long long)sizeof(in);
            if (ok &&
                (memcmp(in, buf, sizeof(in)) != 0 || from.ss_family != (v6 ? AF_INET6 : AF_INET)))
                corrupt("datagram");
        }
    }
    if (a > 0)
        CALL_RECOVERS("ks_close udp a", ks_close(a));
    if (b > 0)
        CALL_RECOVERS("ks_close udp b", ks_close(b));
    return ok ? 0 : -1;
}

/* Options, addresses and shutdown, library to library over IPv4: a
 * provider option stored before the bind is applied there (wsk.control),
 * getsockname of a port-0 bind needs the provider (wsk.getaddress; the
 * peer's address has the library's record to fall back on), and shutdown
 * is a graceful WskDisconnect (wsk.disconnect). */
static int step_options(void)
{
    int c = -1, a = -1, ok = 0, one = 1, port = 0;
    char buf[512], back[sizeof(buf)];
    int l = (int)CALL("ks_socket options", ks_socket(AF_INET, SOCK_STREAM, 0));
    if (l < 0)
        return -1;
    SOCKADDR_STORAGE addr;
    int len;
    ht_loopback(0, 0, &addr, &len);
    ok = CALL("setsockopt TCP_NODELAY",
              ks_setsockopt(l, IPPROTO_TCP, TCP_NODELAY, &one, (int)sizeof(one))) == 0 &&
         CALL("ks_bind options", ks_bind(l, (struct sockaddr *)&addr, len)) == 0;
    if (ok) {
        len = (int)sizeof(addr);
        ok = CALL("ks_getsockname", ks_getsockname(l, (struct sockaddr *)&addr, &len)) == 0;
        port = ok ? ks_ntohs(((SOCKADDR_IN *)&addr)->sin_port) : 0;
        if (ok && (addr.ss_family != AF_INET || port == 0))
            corrupt("getsockname address");
        ok = ok && port != 0;
    }
    if (ok) {
        int v = 0, vlen = (int)sizeof(v);
        ok = CALL("getsockopt TCP_NODELAY",
                  ks_getsockopt(l, IPPROTO_TCP, TCP_NODELAY, &v, &vlen)) == 0;
        if (ok && v != 1)
            corrupt("TCP_NODELAY applied at bind");
    }
    ok = ok && CALL_RECOVERS("ks_listen options", ks_listen(l, 4)) == 0;
    if (ok)
        c = (int)CALL("connect options", ht_ks_connect(0, port));
    if (c > 0)
        a = (int)CALL_RECOVERS("ks_accept options", ks_accept(l, NULL, NULL));
    ok = a > 0;
    if (ok) {
        SOCKADDR_IN peer;
        len = (int)sizeof(peer);
        ok = call("ks_getpeername", kshim_fault_fired(),
                  ks_getpeername(c, (struct sockaddr *)&peer, &len), TRUE) == 0;
        if (ok && (peer.sin_family != AF_INET || ks_ntohs(peer.sin_port) != port))
            corrupt("getpeername address");
    }
    if (ok) {
        ht_pattern((unsigned char *)buf, sizeof(buf), 11, 0);
        ok = CALL("ks_send before shutdown", ks_send(c, buf, sizeof(buf), 0)) ==
                 (long long)sizeof(buf) &&
             CALL("ks_shutdown", ks_shutdown(c, SD_SEND)) == 0;
    }
    if (ok) {
        ok = CALL("ks_recv shut", ks_recv(a, back, sizeof(back), MSG_WAITALL)) ==
                 (long long)sizeof(back) &&
             CALL("ks_recv end", ks_recv(a, back, 1, 0)) == 0;
        if (ok && memcmp(buf, back, sizeof(buf)) != 0)
            corrupt("data before shutdown");
    }
    if (ok && ks_send(c, buf, 1, 0) != -EPIPE) {
        printf("lib_faults: WRONG ks_send after shutdown did not give -EPIPE\n");
        wrong++;
    }
    if (ok) {
        ok = CALL("ks_send after peer shutdown", ks_send(a, buf, sizeof(buf), 0)) ==
                 (long long)sizeof(buf) &&
             CALL("ks_recv after shutdown", ks_recv(c, back, sizeof(back), MSG_WAITALL)) ==
                 (long long)sizeof(back);
        if (ok && memcmp(buf, back, sizeof(buf)) != 0)
            corrupt("data after shutdown");
    }
    if (a > 0)
        CALL_RECOVERS("ks_close options a", ks_close(a));
    if (c > 0)
        CALL_RECOVERS("ks_close options c", ks_close(c));
    CALL_RECOVERS("ks_close options l", ks_close(l));
    return ok ? 0 : -1;
}

/* Resolution calls fail with -EAI_* (Winsock's values, above 200) as well
 * as with plain negative errno values (checked by call()). A failure is
 * never a success despite the fault. */
static long long call_gai(const char *name, BOOLEAN fired_before, long long r)
{
    static const int eai[] = {EAI_AGAIN,  EAI_BADFLAGS, EAI_FAIL,     EAI_FAMILY,  EAI_MEMORY,
                              EAI_NONAME, EAI_SERVICE,  EAI_SOCKTYPE, EAI_OVERFLOW};
    for (size_t i = 0; i < sizeof(eai) / sizeof(eai[0]); i++)
        if (r == -eai[i]) {
            printf("lib_faults: %s -> %lld (%s)\n", name, r, ks_gai_strerror((int)r));
            return r;
        }
    return call(name, fired_before, r, FALSE);
}
#define CALL_GAI(name, expr) (BEFORE(), call_gai((name), fired_before_call, (long long)(expr)))

/* Name resolution: "localhost" and "http" through the provider (two
 * WskGetAddressInfo queries, the library's allocations), a numeric host
 * without a query, and ks_getnameinfo through WskGetNameInfo. */
static int step_resolve(void)
{
    struct addrinfo hints, *res = NULL;
    char host[NI_MAXHOST], serv[NI_MAXSERV];

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_CANONNAME;
    int ok = CALL_GAI("ks_getaddrinfo localhost http",
                      ks_getaddrinfo("localhost", "http", &hints, &res)) == 0;
    if (ok && (res == NULL || res->ai_family != AF_INET || res->ai_canonname == NULL ||
               ((SOCKADDR_IN *)res->ai_addr)->sin_addr.s_addr != ks_htonl(INADDR_LOOPBACK) ||
               ((SOCKADDR_IN *)res->ai_addr)->sin_port != ks_htons(80)))
        corrupt("localhost:http resolved");
    if (!ok && res != NULL)
        corrupt("*res set by a failed ks_getaddrinfo");
    ks_freeaddrinfo(res);
    res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_NUMERICHOST;
    if (CALL_GAI("ks_getaddrinfo ::1", ks_getaddrinfo("::1", "7", &hints, &res)) == 0) {
        if (res == NULL || res->ai_next == NULL || res->ai_next->ai_next != NULL ||
            res->ai_family != AF_INET6 || ((SOCKADDR_IN6 *)res->ai_addr)->sin6_port != ks_htons(7))
            corrupt("::1 port 7 resolved");
    } else {
        ok = 0;
    }
    ks_freeaddrinfo(res);
    SOCKADDR_STORAGE a;
    int alen;
    ht_loopback(0, 80, &a, &alen);
    if (CALL_GAI("ks_getnameinfo", ks_getnameinfo((struct sockaddr *)&a, alen, host, sizeof(host),
                                                  serv, sizeof(serv), 0)) == 0) {
        if (strcmp(host, "localhost") != 0 || strcmp(serv, "http") != 0)
            corrupt("127.0.0.1:80 named");
    } else {
        ok = 0;
    }
    return ok ? 0 : -1;
}

struct blocked_call {
    int s;
    int accept; /* 1: ks_accept, 0: ks_recv */
    long long result;
};

static void blocked_thread(void *p)
{
    struct blocked_call *b = p;
    char c;
    b->result = b->accept ? ks_accept(b->s, NULL, NULL) : ks_recv(b->s, &c, 1, 0);
}

/* Calls blocked in the provider are woken by ks_close (never a success:
 * nothing arrives on these sockets). Attribution of a fault to one call is
 * not possible across threads, so only the outcome is checked. */
static int step_blocked(int port)
{
    struct blocked_call r = {.accept = 0}, a = {.accept = 1};
    int lport;
    r.s = (int)CALL("connect for blocked recv", ht_ks_connect(0, port));
    a.s = (int)CALL_RECOVERS("listener for blocked accept", ht_ks_listen(0, &lport));
    ht_thread *tr = r.s > 0 ? ht_spawn(blocked_thread, &r) : NULL;
    ht_thread *ta = a.s > 0 ? ht_spawn(blocked_thread, &a) : NULL;
    ht_sleep_ms(20);
    if (r.s > 0)
        ks_close(r.s);
    if (a.s > 0)
        ks_close(a.s);
    if ((tr != NULL && !ht_join(tr, 20000)) || (ta != NULL && !ht_join(ta, 20000))) {
        printf("lib_faults: WRONG a blocked call did not return after ks_close\n");
        wrong++;
        return -1;
    }
    if ((tr != NULL && r.result >= 0) || (ta != NULL && a.result >= 0)) {
        printf("lib_faults: WRONG a blocked call succeeded (%lld, %lld)\n", r.result, a.result);
        wrong++;
    }
    return r.s > 0 && a.s > 0 ? 0 : -1;
}

/* A non-blocking call may report a fault of its background request at a
 * later call (by design: a send's error shows at the next call, a poll
 * reports the socket ready so that the next call returns the error), so
 * success during a fault is allowed here; the data are still checked. */
#define CALL_LATER(name, expr) (BEFORE(), call((name), fired_before_call, (long long)(expr), TRUE))

/* Waits for events on s; returns its revents (0 on timeout) or an error. */
static int nb_poll(int s, short events)
{
    struct ks_pollfd p = {s, events, 0};
    long long r = CALL_LATER("ks_poll", ks_poll(&p, 1, 10000));
    return r < 0 ? (int)r : p.revents;
}

/* Non-blocking connect, send and receive against the echo server through
 * the readiness engine, then a receive timeout on the idle connection. */
static int step_nonblock(int port)
{
    enum { LEN = 3 * 65536 + 1000 };
    static unsigned char out[LEN], in[LEN];
    int s = (int)CALL("ks_socket nb", ks_socket(AF_INET, SOCK_STREAM, 0));
    if (s < 0)
        return -1;
    unsigned long on = 1;
    int ok = CALL("FIONBIO", ks_ioctl(s, FIONBIO, &on)) == 0;
    SOCKADDR_STORAGE to;
    int tolen;
    ht_loopback(0, port, &to, &tolen);
    if (ok) {
        long long r = CALL_LATER("ks_connect nb", ks_connect(s, (struct sockaddr *)&to, tolen));
        ok = r == 0 || r == -EINPROGRESS;
        if (r == -EINPROGRESS) {
            int rev = nb_poll(s, POLLOUT);
            int err = -1, len = (int)sizeof(err);
            ok = rev > 0 && (rev & POLLOUT) &&
                 CALL("SO_ERROR", ks_getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len)) == 0 &&
                 err == 0;
        }
    }
    size_t sent = 0, got = 0;
    ht_pattern(out, LEN, 13, 0);
    while (ok && got < LEN) {
        if (sent < LEN) {
            long long n = CALL_LATER("ks_send nb", ks_send(s, out + sent, LEN - sent, 0));
            if (n > 0)
                sent += (size_t)n;
            else if (n != -EWOULDBLOCK)
                ok = 0;
        }
        long long n = CALL_LATER("ks_recv nb", ks_recv(s, in + got, LEN - got, 0));
        if (n > 0) {
            if (memcmp(in + got, out + got, (size_t)n) != 0)
                corrupt("non-blocking echo");
            got += (size_t)n;
        } else if (n == -EWOULDBLOCK) {
            ok = ok && nb_poll(s, sent < LEN ? POLLIN | POLLOUT : POLLIN) > 0;
        } else {
            ok = 0; /* end of stream or error */
        }
    }
    if (ok) {
        /* Nothing more comes: a blocking receive with SO_RCVTIMEO times out. */
        unsigned long off = 0;
        ULONG ms = 50;
        char c;
        ok = CALL("FIONBIO 0", ks_ioctl(s, FIONBIO, &off)) == 0 &&
             CALL("SO_RCVTIMEO", ks_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &ms, sizeof(ms))) == 0;
        if (ok) {
            long long r = CALL("ks_recv timeout", ks_recv(s, &c, 1, 0));
            if (r >= 0)
                corrupt("receive after the echo (nothing was sent)");
            ok = r == -ETIMEDOUT;
        }
    }
    CALL_RECOVERS("ks_close nb", ks_close(s));
    return ok ? 0 : -1;
}

/* ---- asynchronous calls and event-driven mode ---- */

struct aop {
    struct ks_aio req;
    volatile LONG fired;
    ptrdiff_t result;
};

static void aop_cb(struct ks_aio *req, ptrdiff_t result)
{
    struct aop *o = (struct aop *)req->data;
    o->result = result;
    InterlockedExchange(&o->fired, 1);
}

/* The callback's result (bounded wait: a missing callback is a hang). */
static ptrdiff_t aop_wait(struct aop *o)
{
    LONGLONG end = ht_now_ms() + 20000;
    while (!o->fired && ht_now_ms() < end)
        ht_sleep_ms(1);
    if (!o->fired) {
        printf("lib_faults: WRONG an asynchronous callback never ran\n");
        wrong++;
        return -ETIMEDOUT;
    }
    return o->result;
}

/* Submits; on success waits for the callback; checks both against the
 * fault state (a fault during the operation must not look like success). */
#define AOP(name, o, expr, full)                                                                   \
    (memset(&(o), 0, sizeof(o)), (o).req.data = &(o), BEFORE(),                                    \
     aop_result((name), fired_before_call, (expr), &(o), (full), FALSE))
/* ks_close_async: succeeds by design, as ks_close (see CALL_RECOVERS). */
#define AOP_RECOVERS(name, o, expr)                                                                \
    (memset(&(o), 0, sizeof(o)), (o).req.data = &(o), BEFORE(),                                    \
     aop_result((name), fired_before_call, (expr), &(o), 0, TRUE))
static long long aop_result(const char *name, BOOLEAN fired_before, int submitted, struct aop *o,
                            long long full, BOOLEAN recovers)
{
    /* The operation runs on other threads as soon as it is submitted: a
     * fault there may fire before the submitting call returns 0. The
     * callback's result is what must reflect it. */
    if (call(name, fired_before, submitted, TRUE) != 0)
        return submitted;
    ptrdiff_t r = aop_wait(o);
    if (r >= 0 && r < full) {
        /* MSG_WAITALL cut short by an error: the bytes that came, as BSD
         * returns them; not a success (the step fails). */
        printf("lib_faults: %s -> %lld of %lld bytes\n", name, (long long)r, full);
        return r;
    }
    return call(name, fired_before, r, recovers);
}

/* Async connect, send and MSG_WAITALL receive against the echo server; a
 * cancelled receive; close. */
static int step_aio(int port)
{
    enum { LEN = 2 * 65536 + 500 };
    static unsigned char out[LEN], in[LEN];
    static struct aop c, w, r, x;
    int s = (int)CALL("ks_socket aio", ks_socket(AF_INET, SOCK_STREAM, 0));
    if (s < 0)
        return -1;
    SOCKADDR_STORAGE to;
    int tolen;
    ht_loopback(0, port, &to, &tolen);
    int ok = AOP("ks_connect_async", c,
                 ks_connect_async(s, (struct sockaddr *)&to, tolen, &c.req, aop_cb), 0) == 0;
    ht_pattern(out, LEN, 21, 0);
    if (ok)
        ok = AOP("ks_send_async", w, ks_send_async(s, out, LEN, 0, &w.req, aop_cb), LEN) == LEN;
    if (ok) {
        ok = AOP("ks_recv_async", r, ks_recv_async(s, in, LEN, MSG_WAITALL, &r.req, aop_cb), LEN) ==
             LEN;
        if (ok && memcmp(in, out, LEN) != 0)
            corrupt("async echo");
    }
    if (ok) {
        /* Nothing more comes: a receive waits until cancelled. */
        memset(&x, 0, sizeof(x));
        x.req.data = &x;
        ok = CALL("ks_recv_async to cancel", ks_recv_async(s, in, 10, 0, &x.req, aop_cb)) == 0;
        if (ok) {
            ht_sleep_ms(5);
            int cr = ks_aio_cancel(&x.req);
            ptrdiff_t res = aop_wait(&x);
            if (cr == 0 && res != -ECANCELED)
                corrupt("cancelled receive did not report -ECANCELED");
            ok = res == -ECANCELED;
        }
    }
    /* The blocking calls' asynchronous forms: a close, a resolution. */
    static struct aop k, g;
    AOP_RECOVERS("ks_close_async", k, ks_close_async(s, &k.req, aop_cb));
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (ok) {
        /* Its result is an EAI error, checked as ks_getaddrinfo's is. */
        BOOLEAN fired = kshim_fault_fired();
        memset(&g, 0, sizeof(g));
        g.req.data = &g;
        long long gr = ks_getaddrinfo_async("localhost", "80", &hints, &res, &g.req, aop_cb);
        /* As in aop_result: the callback's result is judged. */
        gr = call_gai("ks_getaddrinfo_async", fired, gr == 0 ? aop_wait(&g) : gr);
        if (gr == 0 && (res == NULL || res->ai_family != AF_INET))
            corrupt("async resolution's list");
        ks_freeaddrinfo(res);
        ok = gr == 0;
    }
    return ok ? 0 : -1;
}

static volatile LONG ev_bytes, ev_accepts, ev_closed;
static int ev_accept(void *ctx, int listen_fd, int fd, const struct sockaddr *remote, int len,
                     void **conn_ctx)
{
    UNREFERENCED_PARAMETER(conn_ctx);
    UNREFERENCED_PARAMETER(ctx);
    UNREFERENCED_PARAMETER(listen_fd);
    UNREFERENCED_PARAMETER(fd);
    UNREFERENCED_PARAMETER(remote);
    UNREFERENCED_PARAMETER(len);
    InterlockedIncrement(&ev_accepts);
    return 0;
}
/* The end: the connection is closed here (its orderly close done) before
 * the step goes on, so that no close of this step runs in the background
 * of the next one (its faults would be counted there). */
static void ev_disconnect(void *ctx, int fd, int err)
{
    UNREFERENCED_PARAMETER(ctx);
    UNREFERENCED_PARAMETER(err);
    ks_close(fd);
    InterlockedIncrement(&ev_closed);
}

static void ev_receive(void *ctx, int fd, const void *data, size_t len)
{
    UNREFERENCED_PARAMETER(ctx);
    if (ks_send(fd, data, len, 0) == (ks_ssize_t)len)
        InterlockedExchangeAdd(&ev_bytes, (LONG)len);
}

/* ks_listen_events with an echo handler; a native client checks the echo.
 * With the provider's event callbacks (the default) or the fallback. */
static int step_events(void)
{
    enum { LEN = 3 * 65536 };
    static unsigned char out[LEN], in[LEN];
    static const struct ks_event_handlers h = {ev_accept, ev_receive, ev_disconnect};
    int l = (int)CALL("ks_socket events", ks_socket(AF_INET, SOCK_STREAM, 0));
    if (l < 0)
        return -1;
    SOCKADDR_STORAGE a;
    int alen;
    ht_loopback(0, 0, &a, &alen);
    int ok = CALL("ks_bind events", ks_bind(l, (struct sockaddr *)&a, alen)) == 0 &&
             CALL_RECOVERS("ks_listen_events", ks_listen_events(l, 8, &h, NULL)) == 0;
    alen = (int)sizeof(a);
    ok = ok &&
         CALL_RECOVERS("getsockname events", ks_getsockname(l, (struct sockaddr *)&a, &alen)) == 0;
    if (ok) {
        int fd = hp_connect(0, ks_ntohs(((SOCKADDR_IN *)&a)->sin_port));
        ht_pattern(out, LEN, 31, 0);
        ok = fd >= 0 && hp_send_all(fd, out, LEN) == LEN && hp_recv_all(fd, in, LEN, 10000) == LEN;
        if (ok && memcmp(in, out, LEN) != 0)
            corrupt("event-driven echo");
        if (fd >= 0)
            hp_close(fd);
        /* Wait (bounded) until the library closed its side. */
        LONGLONG end = ht_now_ms() + 10000;
        while (ev_closed < ev_accepts && ht_now_ms() < end)
            ht_sleep_ms(1);
    }
    /* The provider's indications run on its own thread: a fault there (data
     * indicated again later, by design) may fire during the close. */
    CALL_LATER("ks_close events", ks_close(l));
    return ok ? 0 : -1;
}

/* Sockets left open (a connection and a listener) are closed by ks_cleanup. */
static void step_left_open(int port)
{
    int lport;
    CALL("connect left open", ht_ks_connect(0, port));
    CALL_RECOVERS("listener left open", ht_ks_listen(1, &lport));
}

int main(void)
{
    int port;
    setvbuf(stdout, NULL, _IOLBF, 0);
    kshim_init();
    kshim_registry_set("\\Registry\\Machine\\System\\CurrentControlSet\\Services\\lf\\Parameters",
                       "Name", REG_SZ, "faults", 7);
    kshim_registry_set("\\Registry\\Machine\\System\\CurrentControlSet\\Services\\lf\\Parameters",
                       "Count", REG_SZ, "42", 3);
    struct hp_echo *echo = hp_echo_start(0, &port);
    if (echo == NULL) {
        printf("lib_faults: cannot start the native echo server\n");
        return 1;
    }
    step_params();
    /* A failed capture without waiting is retried at first use. */
    long long r =
        call("ks_startup", kshim_fault_fired(), ks_startup(),
             kshim_fault_site(NULL) != NULL && strcmp(kshim_fault_site(NULL), "wsk.capture") == 0);
    if (r == 0) {
        steps_failed += step_tcp4(port) != 0;
        steps_failed += step_tcp6() != 0;
        steps_failed += step_udp(0) != 0;
        steps_failed += step_udp(1) != 0;
        steps_failed += step_options() != 0;
        steps_failed += step_resolve() != 0;
        steps_failed += step_nonblock(port) != 0;
        steps_failed += step_blocked(port) != 0;
        steps_failed += step_aio(port) != 0;
        steps_failed += step_events() != 0;
        step_left_open(port);
        ks_cleanup();
    } else {
        steps_failed++;
    }
    hp_echo_stop(echo);
    int leaks = kshim_wait_threads(10000) ? 0 : 1;
    leaks += kshim_check_leaks("after ks_cleanup");
    if (kshim_fault_site(NULL) == NULL && steps_failed == 0 && wrong == 0)
        printf("lib_faults: all steps completed\n");
    if (kshim_fault_site(NULL) == NULL && steps_failed != 0) {
        printf("lib_faults: WRONG %d steps failed without any fault injected\n", steps_failed);
        wrong++;
    }
    printf("lib_faults: fault %s, %d steps failed, %d wrong, %d leaks\n",
           kshim_fault_fired() ? "fired" : "not fired", steps_failed, wrong, leaks);
    return wrong != 0 ? 1 : leaks != 0 ? 3 : 0;
}
