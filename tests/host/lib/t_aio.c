/*
 * t_aio.c - the asynchronous calls (wsksock/aio.h): completion callbacks at
 * PASSIVE_LEVEL, never inside the submitting call, exactly once; order per
 * direction; cancellation on a provider request in flight; close and
 * ks_cleanup with requests in flight; argument errors.
 */
#include "tests.h"

#include <stdlib.h>
#include <string.h>

/* One request and what its callback saw. */
struct op {
    struct ks_aio req;
    volatile LONG fired; /* callback count */
    ptrdiff_t result;
    KIRQL irql;
    LONG seq; /* completion order among ops sharing a counter */
};

static volatile LONG g_seq;
static volatile LONG g_inside_submit; /* thread id + 1 of a submitter, 0 outside */
static volatile LONG g_inline_callbacks;

static void op_cb(struct ks_aio *req, ptrdiff_t result)
{
    struct op *o = (struct op *)req->data;
    if (g_inside_submit == (LONG)(LONG_PTR)PsGetCurrentThreadId() + 1)
        InterlockedIncrement(&g_inline_callbacks);
    o->result = result;
    o->irql = KeGetCurrentIrql();
    o->seq = InterlockedIncrement(&g_seq);
    InterlockedIncrement(&o->fired);
}

static void op_init(struct op *o)
{
    memset(o, 0, sizeof(*o));
    o->req.data = o;
}

/* Submits with the "inside the submitting call" marker set. */
#define SUBMIT(call)                                                                               \
    (InterlockedExchange(&g_inside_submit, (LONG)(LONG_PTR)PsGetCurrentThreadId() + 1),            \
     ht_submit_result_ = (call), InterlockedExchange(&g_inside_submit, 0), ht_submit_result_)
static int ht_submit_result_;

/* Waits (bounded) until o's callback ran; its result, or -99999. */
static ptrdiff_t wait_op(struct op *o, int ms)
{
    LONGLONG end = ht_now_ms() + ms;
    while (o->fired == 0 && ht_now_ms() < end)
        ht_sleep_ms(1);
    return o->fired > 0 ? o->result : -99999;
}

static void check_cb(const struct op *o, const char *what)
{
    HT_EQ(o->fired, 1, what);
    HT_EQ(o->irql, PASSIVE_LEVEL, "callback at PASSIVE_LEVEL");
}

struct sender {
    int fd;
    unsigned char *buf;
    size_t len;
};
static void native_send(void *arg)
{
    struct sender *t = (struct sender *)arg;
    hp_send_all(t->fd, t->buf, t->len);
}

/* accept, connect, 4 MiB each way with MSG_WAITALL, end of stream. */
static void t_aio_echo(void)
{
    g_inline_callbacks = 0;
    int port;
    int l = ht_ks_listen(0, &port);
    struct op acc, con;
    op_init(&acc);
    op_init(&con);
    SOCKADDR_STORAGE peer;
    int peerlen = (int)sizeof(peer);
    HT_EQ(SUBMIT(ks_accept_async(l, (struct sockaddr *)&peer, &peerlen, &acc.req, op_cb)), 0,
          "accept submitted");
    int c = ks_socket(AF_INET, SOCK_STREAM, 0);
    SOCKADDR_STORAGE to;
    int tolen;
    ht_loopback(0, port, &to, &tolen);
    HT_EQ(SUBMIT(ks_connect_async(c, (struct sockaddr *)&to, tolen, &con.req, op_cb)), 0,
          "connect submitted");
    HT_EQ(wait_op(&con, 10000), 0, "connect result");
    ptrdiff_t a = wait_op(&acc, 10000);
    HT_CHECK(a > 0, "accept result is a descriptor", a);
    check_cb(&acc, "accept callback once");
    check_cb(&con, "connect callback once");
    HT_EQ(peer.ss_family, AF_INET, "accept wrote the peer address");
    HT_EQ(peerlen, (int)sizeof(SOCKADDR_IN), "address length");

    const size_t big = 4u << 20;
    unsigned char *out = malloc(big), *in = malloc(big);
    ht_pattern(out, big, 11, 0);
    memset(in, 0, big);
    struct op snd, rcv;
    op_init(&snd);
    op_init(&rcv);
    HT_EQ(SUBMIT(ks_recv_async((int)a, in, big, MSG_WAITALL, &rcv.req, op_cb)), 0, "recv");
    HT_EQ(SUBMIT(ks_send_async(c, out, big, 0, &snd.req, op_cb)), 0, "send");
    HT_EQ(wait_op(&snd, 30000), (ptrdiff_t)big, "send result: every byte");
    HT_EQ(wait_op(&rcv, 30000), (ptrdiff_t)big, "recv MSG_WAITALL result");
    HT_CHECK(memcmp(in, out, big) == 0, "data intact", 0);
    check_cb(&snd, "send callback once");
    check_cb(&rcv, "recv callback once");

    /* End of stream: a pending receive completes with 0. */
    op_init(&rcv);
    HT_EQ(SUBMIT(ks_recv_async((int)a, in, 100, 0, &rcv.req, op_cb)), 0, "recv at the end");
    ks_shutdown(c, SD_SEND);
    HT_EQ(wait_op(&rcv, 10000), 0, "end of stream");
    HT_EQ(g_inline_callbacks, 0, "no callback inside its submitting call");
    ks_close(c);
    ks_close((int)a);
    ks_close(l);
    free(out);
    free(in);
}

/* Requests of one direction complete in submission order; the buffer of
 * each holds its own block. */
static void t_aio_order(void)
{
    int fd;
    int s = ht_pair(&fd);
    enum { N = 8, BLOCK = 64 * 1024 };
    static unsigned char out[N][BLOCK], in[N][BLOCK], back[N * BLOCK];
    struct op r[N], w[N];
    g_seq = 0;
    for (int i = 0; i < N; i++) {
        op_init(&r[i]);
        HT_EQ(ks_recv_async(s, in[i], BLOCK, MSG_WAITALL, &r[i].req, op_cb), 0, "recv queued");
    }
    for (int i = 0; i < N; i++)
        ht_pattern(out[i], BLOCK, 100 + (unsigned)i, 0);
    struct sender t = {fd, &out[0][0], sizeof(out)};
    ht_thread *th = ht_spawn(native_send, &t);
    for (int i = 0; i < N; i++)
        HT_EQ(wait_op(&r[i], 20000), BLOCK, "each receive gets a whole block");
    HT_CHECK(ht_join(th, 20000), "native sender done", 0);
    for (int i = 0; i < N; i++) {
        HT_CHECK(memcmp(in[i], out[i], BLOCK) == 0, "block in its own request", i);
        HT_EQ(r[i].seq, i + 1, "receives complete in order");
    }
    g_seq = 0;
    for (int i = 0; i < N; i++) {
        op_init(&w[i]);
        HT_EQ(ks_send_async(s, out[i], BLOCK, 0, &w[i].req, op_cb), 0, "send queued");
    }
    HT_EQ(hp_recv_all(fd, back, sizeof(back), 20000), (long)sizeof(back), "peer reads all");
    HT_CHECK(memcmp(back, out, sizeof(back)) == 0, "sends in order", 0);
    for (int i = 0; i < N; i++) {
        HT_EQ(wait_op(&w[i], 20000), BLOCK, "send result");
        HT_EQ(w[i].seq, i + 1, "sends complete in order");
    }
    hp_close(fd);
    ks_close(s);
}

/* Cancellation: a waiting receive ends with -ECANCELED at once and no data
 * is lost; a queued one too; a send cut off breaks the stream. */
static void t_aio_cancel(void)
{
    int fd;
    int s = ht_pair(&fd);
    char buf[64];
    struct op a, b;
    op_init(&a);
    op_init(&b);
    HT_EQ(ks_aio_cancel(&a.req), -EINVAL, "cancel of a request not in flight");
    HT_EQ(ks_aio_cancel(NULL), -EFAULT, "cancel NULL");
    HT_EQ(ks_recv_async(s, buf, sizeof(buf), 0, &a.req, op_cb), 0, "recv submitted");
    HT_EQ(ks_recv_async(s, buf, sizeof(buf), 0, &b.req, op_cb), 0, "second recv queued");
    HT_EQ(ks_recv_async(s, buf, sizeof(buf), 0, &b.req, op_cb), -EBUSY, "same request twice");
    ht_sleep_ms(50); /* let the first one park (a receive is in flight in the provider) */
    /* The queued one first: it stays queued while the first is in flight
     * (cancelled first, the first's end would start it: then it could be
     * running when cancelled, -EALREADY; seen once under load). */
    HT_EQ(ks_aio_cancel(&b.req), 0, "cancel a queued receive");
    int c1 = ks_aio_cancel(&a.req);
    HT_CHECK(c1 == 0 || c1 == -EALREADY, "cancel a parked receive", c1);
    HT_EQ(wait_op(&a, 5000), -ECANCELED, "parked receive cancelled");
    HT_EQ(wait_op(&b, 5000), -ECANCELED, "queued receive cancelled");
    HT_EQ(hp_send_all(fd, "after", 5), 5, "peer sends");
    HT_EQ(ks_recv(s, buf, 5, MSG_WAITALL), 5, "the data comes to the next call");
    HT_CHECK(memcmp(buf, "after", 5) == 0, "nothing lost", 0);

    /* A send the peer does not read: cancelled after part of it went. */
    const size_t big = 32u << 20;
    unsigned char *out = malloc(big);
    ht_pattern(out, big, 3, 0);
    op_init(&a);
    HT_EQ(ks_send_async(s, out, big, 0, &a.req, op_cb), 0, "big send submitted");
    ht_sleep_ms(200);
    int c2 = ks_aio_cancel(&a.req);
    HT_CHECK(c2 == 0 || c2 == -EALREADY, "cancel a blocked send", c2);
    ptrdiff_t r = wait_op(&a, 10000);
    HT_EQ(r, -ECANCELED, "send cancelled");
    HT_EQ(ks_send(s, "x", 1, 0), -EPIPE, "stream broken after a cut send");
    free(out);
    hp_close(fd);
    ks_close(s);
}

/* Close and ks_cleanup complete what is in flight with -EBADF; after
 * ks_cleanup no callback runs. */
static void t_aio_close(void)
{
    int fd;
    int s = ht_pair(&fd);
    int port;
    int l = ht_ks_listen(0, &port);
    char buf[16];
    struct op a, b, c, d;
    op_init(&a);
    op_init(&b);
    op_init(&c);
    op_init(&d);
    HT_EQ(ks_recv_async(s, buf, sizeof(buf), 0, &a.req, op_cb), 0, "recv");
    HT_EQ(ks_accept_async(l, NULL, NULL, &b.req, op_cb), 0, "accept");
    ht_sleep_ms(20);
    HT_EQ(ks_close(s), 0, "close with a receive in flight");
    HT_EQ(wait_op(&a, 10000), -EBADF, "receive ends with -EBADF");
    HT_EQ(ks_close(l), 0, "close with an accept in flight");
    HT_EQ(wait_op(&b, 10000), -EBADF, "accept ends with -EBADF");
    HT_EQ(ks_recv_async(s, buf, sizeof(buf), 0, &c.req, op_cb), -EBADF, "submit on closed fd");
    hp_close(fd);

    /* ks_cleanup with requests in flight: their callbacks ran when it returns. */
    s = ht_pair(&fd);
    HT_EQ(ks_recv_async(s, buf, sizeof(buf), 0, &c.req, op_cb), 0, "recv before cleanup");
    ks_cleanup();
    HT_EQ(c.fired, 1, "callback ran before ks_cleanup returned");
    HT_EQ(c.result, -EBADF, "with -EBADF");
    HT_EQ(ks_startup(), 0, "restart");
    HT_EQ(ks_recv_async(s, buf, sizeof(buf), 0, &d.req, op_cb), -EBADF, "stale fd");
    hp_close(fd);
}

static void t_aio_args(void)
{
    int fd;
    int s = ht_pair(&fd);
    char buf[8];
    struct op o;
    op_init(&o);
    HT_EQ(ks_recv_async(s, buf, sizeof(buf), 0, NULL, op_cb), -EFAULT, "req NULL");
    HT_EQ(ks_recv_async(s, buf, sizeof(buf), 0, &o.req, NULL), -EFAULT, "cb NULL");
    HT_EQ(ks_recv_async(s, NULL, 8, 0, &o.req, op_cb), -EFAULT, "buf NULL");
    HT_EQ(ks_send_async(s, NULL, 8, 0, &o.req, op_cb), -EFAULT, "send buf NULL");
    HT_EQ(ks_recv_async(s, buf, sizeof(buf), MSG_PEEK, &o.req, op_cb), -EOPNOTSUPP, "MSG_PEEK");
    HT_EQ(ks_send_async(s, buf, sizeof(buf), MSG_DONTWAIT, &o.req, op_cb), -EOPNOTSUPP, "flag");
    HT_EQ(ks_recv_async(s, buf, KS_MAX_IO_SIZE + 1, 0, &o.req, op_cb), -EINVAL, "too long");
    /* Length 0 would complete with 0, which means end of stream: refused. */
    HT_EQ(ks_recv_async(s, buf, 0, 0, &o.req, op_cb), -EINVAL, "recv length 0");
    HT_EQ(ks_recv_async(s, buf, 0, MSG_WAITALL, &o.req, op_cb), -EINVAL, "recv length 0 WAITALL");
    HT_EQ(ks_recv_async(s, NULL, 0, 0, &o.req, op_cb), -EINVAL, "recv NULL, length 0");
    HT_EQ(ks_send_async(s, buf, 0, 0, &o.req, op_cb), 0, "an empty send is still allowed");
    HT_EQ(wait_op(&o, 5000), 0, "it completes with 0");
    op_init(&o);
    HT_EQ(ks_recv_async(123456, buf, sizeof(buf), 0, &o.req, op_cb), -EBADF, "bad fd");
    HT_EQ(ks_connect_async(s, NULL, 16, &o.req, op_cb), -EFAULT, "connect addr NULL");
    SOCKADDR_STORAGE to;
    int tolen;
    ht_loopback(0, 9, &to, &tolen);
    HT_EQ(ks_connect_async(s, (struct sockaddr *)&to, 1, &o.req, op_cb), -EINVAL, "addr len");
    HT_EQ(ks_accept_async(s, (struct sockaddr *)&to, NULL, &o.req, op_cb), -EFAULT, "addrlen NULL");
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    int r = ks_recv_async(s, buf, sizeof(buf), 0, &o.req, op_cb);
    KeLowerIrql(old);
    HT_EQ(r, -EPERM, "above PASSIVE_LEVEL");
    HT_EQ(o.fired, 0, "no callback for a refused submit");
    /* Wrong state: the callback reports what the call would. */
    int u = ks_socket(AF_INET, SOCK_STREAM, 0);
    HT_EQ(ks_recv_async(u, buf, sizeof(buf), 0, &o.req, op_cb), 0, "recv on unconnected");
    HT_EQ(wait_op(&o, 5000), -ENOTCONN, "-ENOTCONN by the callback");
    op_init(&o);
    HT_EQ(ks_connect_async(s, (struct sockaddr *)&to, tolen, &o.req, op_cb), 0, "connect again");
    HT_EQ(wait_op(&o, 5000), -EISCONN, "-EISCONN by the callback");
    ks_close(u);
    hp_close(fd);
    ks_close(s);
}

/* Refused connect; UDP over IPv6 through recvfrom/sendto. */
static void t_aio_connect_udp(void)
{
    struct op o;
    op_init(&o);
    int c = ks_socket(AF_INET6, SOCK_STREAM, 0);
    SOCKADDR_STORAGE to;
    int tolen;
    ht_loopback(1, hp_free_port(1), &to, &tolen);
    HT_EQ(ks_connect_async(c, (struct sockaddr *)&to, tolen, &o.req, op_cb), 0, "connect");
    HT_EQ(wait_op(&o, 10000), -ECONNREFUSED, "refused");
    ks_close(c);

    int port;
    int nfd = hp_udp(1, &port);
    int u = ks_socket(AF_INET6, SOCK_DGRAM, 0);
    SOCKADDR_STORAGE any;
    int anylen;
    ht_loopback(1, 0, &any, &anylen);
    HT_EQ(ks_bind(u, (struct sockaddr *)&any, anylen), 0, "bind");
    SOCKADDR_STORAGE me;
    int melen = (int)sizeof(me);
    ks_getsockname(u, (struct sockaddr *)&me, &melen);
    char buf[100];
    SOCKADDR_STORAGE from;
    int fromlen = (int)sizeof(from);
    op_init(&o);
    HT_EQ(ks_recvfrom_async(u, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen, &o.req,
                            op_cb),
          0, "recvfrom");
    HT_EQ(hp_sendto(nfd, 1, ks_ntohs(((SOCKADDR_IN6 *)&me)->sin6_port), "dgram6", 6), 6,
          "peer sends");
    HT_EQ(wait_op(&o, 10000), 6, "datagram size");
    HT_CHECK(memcmp(buf, "dgram6", 6) == 0, "datagram data", 0);
    HT_EQ(ks_ntohs(((SOCKADDR_IN6 *)&from)->sin6_port), port, "sender's port");
    op_init(&o);
    ht_loopback(1, port, &to, &tolen);
    HT_EQ(ks_sendto_async(u, "reply", 5, 0, (struct sockaddr *)&to, tolen, &o.req, op_cb), 0,
          "sendto");
    HT_EQ(wait_op(&o, 10000), 5, "sendto result");
    int fp = 0;
    HT_EQ(hp_recvfrom(nfd, buf, sizeof(buf), &fp, 5000), 5, "peer got it");
    ks_close(u);
    hp_close(nfd);
}

/* The blocking calls' asynchronous forms: name resolution (with
 * cancellation before it started), close and shutdown without waiting. */
static void t_aio_blocking_calls(void)
{
    struct op o;
    struct addrinfo *res = (struct addrinfo *)1;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    op_init(&o);
    char name[16] = "localhost";
    HT_EQ(ks_getaddrinfo_async(name, "http", &hints, &res, &o.req, op_cb), 0, "resolve");
    memset(name, 'x', sizeof(name) - 1); /* the library copied it */
    HT_EQ(wait_op(&o, 20000), 0, "localhost resolved");
    check_cb(&o, "resolve callback once");
    HT_CHECK(res != NULL && res->ai_family == AF_INET && res->ai_addr != NULL, "a list", 0);
    if (res != NULL && res->ai_addr != NULL)
        HT_EQ(ks_ntohs(((SOCKADDR_IN *)res->ai_addr)->sin_port), 80, "the service's port");
    ks_freeaddrinfo(res);
    op_init(&o);
    HT_EQ(ks_getaddrinfo_async("no-such-host.invalid", NULL, NULL, &res, &o.req, op_cb), 0,
          "resolve a name that does not exist");
    HT_EQ(wait_op(&o, 30000), -EAI_NONAME, "-EAI_NONAME by the callback");
    HT_CHECK(res == NULL, "no list", 0);
    HT_EQ(ks_getaddrinfo_async("localhost", NULL, NULL, NULL, &o.req, op_cb), -EFAULT, "res NULL");

    /* The reverse lookup: the address is copied, the caller's buffers are
     * written before the callback. */
    {
        char host[NI_MAXHOST], serv[NI_MAXSERV];
        SOCKADDR_STORAGE sa;
        int salen;
        ht_loopback(0, 80, &sa, &salen);
        op_init(&o);
        HT_EQ(ks_getnameinfo_async((struct sockaddr *)&sa, salen, host, sizeof(host), serv,
                                   sizeof(serv), 0, &o.req, op_cb),
              0, "reverse lookup");
        memset(&sa, 0, sizeof(sa)); /* the library copied it */
        HT_EQ(wait_op(&o, 20000), 0, "127.0.0.1:80 looked up");
        HT_CHECK(strcmp(host, "localhost") == 0 && strcmp(serv, "http") == 0, "localhost http", 0);
        HT_EQ(ks_getnameinfo_async(NULL, 16, host, sizeof(host), NULL, 0, 0, &o.req, op_cb),
              -EFAULT, "sa NULL");
        op_init(&o);
        ht_loopback(0, 80, &sa, &salen);
        HT_EQ(ks_getnameinfo_async((struct sockaddr *)&sa, salen, host, sizeof(host), NULL, 0,
                                   0x4000000, &o.req, op_cb),
              0, "bad flags submitted");
        HT_EQ(wait_op(&o, 20000), -EAI_BADFLAGS, "-EAI_BADFLAGS by the callback");
    }

    /* Many at once, cancelled at once: those not started end with
     * -ECANCELED (and no list), the others with their result. */
    enum { N = 64 };
    static struct op q[N];
    static struct addrinfo *qres[N];
    static int qcancel[N];
    int cancelled = 0;
    for (int i = 0; i < N; i++) {
        op_init(&q[i]);
        HT_EQ(ks_getaddrinfo_async("localhost", "80", &hints, &qres[i], &q[i].req, op_cb), 0,
              "queued");
    }
    for (int i = N - 1; i >= 0; i--) {
        int c = ks_aio_cancel(&q[i].req);
        /* -EINVAL: it completed already. */
        HT_CHECK(c == 0 || c == -EALREADY || c == -EINVAL, "cancel: 0, -EALREADY or -EINVAL", c);
        qcancel[i] = c;
        cancelled += c == 0;
    }
    HT_CHECK(cancelled > 0, "some were cancelled before they started", cancelled);
    for (int i = 0; i < N; i++) {
        ptrdiff_t r = wait_op(&q[i], 30000);
        if (qcancel[i] == 0) {
            HT_EQ(r, -ECANCELED, "cancelled before it started");
            HT_CHECK(qres[i] == NULL, "no list", i);
        } else {
            HT_EQ(r, 0, "completed");
            ks_freeaddrinfo(qres[i]);
        }
    }

    /* Close without waiting: the descriptor ends at once, a pending receive
     * ends with -EBADF, the peer sees an orderly end. */
    int fd;
    int s = ht_pair(&fd);
    struct op r, c;
    char buf[8];
    op_init(&r);
    op_init(&c);
    HT_EQ(ks_recv_async(s, buf, sizeof(buf), 0, &r.req, op_cb), 0, "recv pending");
    HT_EQ(ks_close_async(s, &c.req, op_cb), 0, "close submitted");
    HT_EQ(ks_send(s, "x", 1, 0), -EBADF, "the descriptor is closed at once");
    HT_EQ(ks_close_async(s, &o.req, op_cb), -EBADF, "closed twice");
    HT_EQ(wait_op(&c, 10000), 0, "close completed");
    HT_EQ(wait_op(&r, 10000), -EBADF, "the pending receive ended");
    HT_EQ(ks_aio_cancel(&c.req), -EINVAL, "cancel after completion");
    HT_CHECK(hp_wait_end(fd, 5000, NULL) == HP_END_EOF, "the peer sees an orderly end", 0);
    hp_close(fd);

    /* Shutdown without waiting. */
    s = ht_pair(&fd);
    op_init(&o);
    HT_EQ(ks_shutdown_async(s, SD_SEND, &o.req, op_cb), 0, "shutdown submitted");
    HT_EQ(wait_op(&o, 10000), 0, "shutdown completed");
    HT_CHECK(hp_wait_end(fd, 5000, NULL) == HP_END_EOF, "the peer sees the end", 0);
    op_init(&o);
    HT_EQ(ks_shutdown_async(s, 42, &o.req, op_cb), 0, "bad how submitted");
    HT_EQ(wait_op(&o, 10000), -EINVAL, "-EINVAL by the callback");
    HT_EQ(g_inline_callbacks, 0, "no callback inside its submitting call");
    hp_close(fd);
    ks_close(s);
}

/* Sets SO_LINGER {1, secs} (the close's bound). */
static void set_linger(int s, int secs)
{
    LINGER lg;
    lg.l_onoff = 1;
    lg.l_linger = (USHORT)secs;
    HT_EQ(ks_setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, (int)sizeof(lg)), 0, "SO_LINGER");
}

/* ks_close_async behind queued sends (issue 14): the descriptor ends at
 * once, the sends go on and report success, the peer reads every byte in
 * order and then an orderly end, then the close completes. */
static void t_aio_close_async_sends(void)
{
    int fd;
    int s = ht_pair(&fd);
    enum { N = 64, BLOCK = 256 * 1024 }; /* 16 MiB: more than loopback buffers hold */
    const size_t total = (size_t)N * BLOCK;
    unsigned char *out = malloc(total), *back = malloc(total);
    ht_pattern(out, total, 21, 0);
    static struct op w[N];
    struct op c, x;
    g_seq = 0;
    for (int i = 0; i < N; i++) {
        op_init(&w[i]);
        HT_EQ(ks_send_async(s, out + (size_t)i * BLOCK, BLOCK, 0, &w[i].req, op_cb), 0, "queued");
    }
    op_init(&c);
    op_init(&x);
    HT_EQ(ks_close_async(s, &c.req, op_cb), 0, "close behind the sends");
    HT_EQ(ks_send(s, "x", 1, 0), -EBADF, "the descriptor is closed at once");
    HT_EQ(ks_send_async(s, "x", 1, 0, &x.req, op_cb), -EBADF, "no submission after it");
    ht_sleep_ms(300); /* the peer reads late */
    HT_EQ(c.fired, 0, "the close waits for the sends");
    HT_EQ(hp_recv_all(fd, back, total, 30000), (long)total, "the peer reads every byte");
    HT_CHECK(memcmp(back, out, total) == 0, "in order, intact", 0);
    HT_EQ(hp_wait_end(fd, 10000, NULL), HP_END_EOF, "then an orderly end");
    for (int i = 0; i < N; i++) {
        HT_EQ(wait_op(&w[i], 10000), BLOCK, "each send reports success");
        check_cb(&w[i], "send callback once");
        if (i > 0)
            HT_CHECK(w[i].seq > w[i - 1].seq, "sends complete in order", i);
    }
    HT_EQ(wait_op(&c, 10000), 0, "the close completed");
    check_cb(&c, "close callback once");
    hp_close(fd);
    free(out);
    free(back);
}

/* ks_close_async behind sends the peer never reads: bounded by SO_LINGER
 * (1 s here; 5 s without it), then abortive: the peer sees a reset and the
 * sends still pending report an error. */
static void t_aio_close_async_bound(void)
{
    int fd;
    int s = ht_pair(&fd);
    set_linger(s, 1);
    enum { N = 4, BLOCK = 16 * 1024 * 1024 };
    unsigned char *out = malloc(BLOCK);
    ht_pattern(out, BLOCK, 22, 0);
    struct op w[N], c;
    for (int i = 0; i < N; i++) {
        op_init(&w[i]);
        HT_EQ(ks_send_async(s, out, BLOCK, 0, &w[i].req, op_cb), 0, "queued");
    }
    op_init(&c);
    LONGLONG t0 = ht_now_ms();
    HT_EQ(ks_close_async(s, &c.req, op_cb), 0, "close behind the sends");
    HT_EQ(wait_op(&c, 15000), 0, "the close completed");
    LONGLONG ms = ht_now_ms() - t0;
    HT_CHECK(ms >= 800 && ms < 4000, "after the SO_LINGER bound (ms)", ms);
    for (int i = 0; i < N; i++) {
        ptrdiff_t r = wait_op(&w[i], 10000);
        HT_CHECK(r == -EBADF || (i == 0 && r == BLOCK), "a send cut by the close: -EBADF", r);
    }
    HT_EQ(w[N - 1].result, -EBADF, "the last one never went");
    HT_EQ(hp_wait_end(fd, 10000, NULL), HP_END_RESET, "the peer sees a reset");
    hp_close(fd);
    free(out);
}

/* ks_close with sends queued: they end with -EBADF at once, the close is
 * abortive (their data will not all arrive) and does not wait. */
static void t_aio_close_sends_pending(void)
{
    int fd;
    int s = ht_pair(&fd);
    enum { N = 4, BLOCK = 16 * 1024 * 1024 };
    unsigned char *out = malloc(BLOCK);
    ht_pattern(out, BLOCK, 23, 0);
    struct op w[N];
    for (int i = 0; i < N; i++) {
        op_init(&w[i]);
        HT_EQ(ks_send_async(s, out, BLOCK, 0, &w[i].req, op_cb), 0, "queued");
    }
    ht_sleep_ms(100);
    LONGLONG t0 = ht_now_ms();
    HT_EQ(ks_close(s), 0, "close with sends pending");
    LONGLONG ms = ht_now_ms() - t0;
    HT_CHECK(ms < 2000, "abortive: no wait for the peer (ms)", ms);
    for (int i = 0; i < N; i++)
        HT_EQ(wait_op(&w[i], 10000), -EBADF, "pending sends end with -EBADF");
    HT_EQ(hp_wait_end(fd, 10000, NULL), HP_END_RESET, "the peer sees a reset");
    hp_close(fd);
    free(out);
}

struct cb_close {
    struct ks_aio req;
    struct op close_op; /* ks_close_async's */
    int fd;
    int use_async;
    int rc;
    LONGLONG ms;
    ptrdiff_t result;
    volatile LONG fired;
};

/* A receive callback closing its own socket. */
static void close_in_cb(struct ks_aio *req, ptrdiff_t result)
{
    struct cb_close *x = (struct cb_close *)req->data;
    LONGLONG t0 = ht_now_ms();
    x->rc = x->use_async ? ks_close_async(x->fd, &x->close_op.req, op_cb) : ks_close(x->fd);
    x->ms = ht_now_ms() - t0;
    x->result = result;
    InterlockedIncrement(&x->fired);
}

/* ks_close and ks_close_async from inside a receive callback, on a socket
 * whose close waits (3 s): both return at once (the close runs on a
 * blocking-call thread), the close then happens (the peer sees the end)
 * and the socket is freed (the leak check after ks_cleanup). */
static void t_aio_close_in_callback(void)
{
    for (int use_async = 0; use_async < 2; use_async++) {
        int fd;
        int s = ht_pair(&fd);
        ht_fill_send_side(s, 3);
        static struct cb_close x;
        memset(&x, 0, sizeof(x));
        x.req.data = &x;
        op_init(&x.close_op);
        x.fd = s;
        x.use_async = use_async;
        char buf[4];
        HT_EQ(ks_recv_async(s, buf, sizeof(buf), 0, &x.req, close_in_cb), 0, "recv");
        HT_EQ(hp_send_all(fd, "go", 2), 2, "peer sends");
        LONGLONG end = ht_now_ms() + 10000;
        while (x.fired == 0 && ht_now_ms() < end)
            ht_sleep_ms(1);
        HT_EQ(x.fired, 1, "the callback ran");
        HT_EQ(x.result, 2, "with the data");
        HT_EQ(x.rc, 0, use_async ? "ks_close_async in the callback" : "ks_close in the callback");
        HT_CHECK(x.ms < 1500, "it did not wait (ms)", x.ms);
        HT_EQ(ks_send(s, "x", 1, 0), -EBADF, "the descriptor is closed");
        LONGLONG t0 = ht_now_ms();
        HT_CHECK(hp_wait_end(fd, 15000, NULL) != 0, "the close ran: the peer sees the end", 0);
        HT_CHECK(ht_now_ms() - t0 < 10000, "within its bound", ht_now_ms() - t0);
        if (use_async)
            HT_EQ(wait_op(&x.close_op, 10000), 0, "ks_close_async completed");
        hp_close(fd);
    }
}

const struct ht_test aio_tests[] = {
    {"aio-echo", t_aio_echo, ht_runs_modes},
    {"aio-order", t_aio_order, ht_runs_modes},
    {"aio-cancel", t_aio_cancel, ht_runs_modes},
    {"aio-close", t_aio_close, ht_runs_modes},
    {"aio-args", t_aio_args, ht_runs_modes},
    {"aio-connect-udp", t_aio_connect_udp, ht_runs_modes},
    {"aio-blocking-calls", t_aio_blocking_calls, ht_runs_modes},
    {"aio-close-async-sends", t_aio_close_async_sends, ht_runs_modes},
    {"aio-close-async-bound", t_aio_close_async_bound, ht_runs_modes},
    {"aio-close-sends-pending", t_aio_close_sends_pending, ht_runs_modes},
    {"aio-close-in-callback", t_aio_close_in_callback, ht_runs_modes},
};
const int aio_test_count = (int)(sizeof(aio_tests) / sizeof(aio_tests[0]));
