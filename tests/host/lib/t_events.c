/*
 * t_events.c - event-driven accept and receive (wsksock/events.h), with the
 * provider's event callbacks (default) and with the fallback
 * (KSHIM_WSK_EVENTS=0): the same tests, the same expectations, and
 * ks_events_native telling which one ran.
 */
#include "tests.h"

#include <stdlib.h>
#include <string.h>

#define MAXC 64

/* What the handlers saw, per connection slot (by accept order). */
struct conn_seen {
    int fd;
    volatile LONG inside; /* a callback of this connection is running */
    unsigned long long hash;
    size_t bytes;
    volatile LONG disconnects;
    int disc_err;
};

struct ev_ctx {
    KSPIN_LOCK lock;
    struct conn_seen c[MAXC];
    volatile LONG accepted;
    volatile LONG overlaps; /* two callbacks of one connection at once */
    volatile LONG not_passive;
    volatile LONG after_end; /* a callback after disconnect or close */
    int echo;                /* send the data back (blocking ks_send) */
    int close_on_data;       /* ks_close inside the first receive */
    int slow_ms;             /* sleep in the first receives */
    int listen_fd;
};

static struct conn_seen *slot(struct ev_ctx *x, int fd)
{
    for (int i = 0; i < MAXC; i++)
        if (x->c[i].fd == fd)
            return &x->c[i];
    return NULL;
}

static void enter(struct ev_ctx *x, struct conn_seen *c)
{
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        InterlockedIncrement(&x->not_passive);
    if (c == NULL || InterlockedIncrement(&c->inside) != 1)
        InterlockedIncrement(&x->overlaps);
    if (c != NULL && (c->disconnects > 0 || c->fd < 0))
        InterlockedIncrement(&x->after_end);
}

static void leave(struct conn_seen *c)
{
    if (c != NULL)
        InterlockedDecrement(&c->inside);
}

static int on_accept(void *ctx, int listen_fd, int fd, const struct sockaddr *remote, int len,
                     void **conn_ctx)
{
    struct ev_ctx *x = (struct ev_ctx *)ctx;
    if (*conn_ctx != ctx)
        InterlockedIncrement(&x->overlaps); /* counted as a rule break */
    LONG i = InterlockedIncrement(&x->accepted) - 1;
    if (i >= MAXC || listen_fd != x->listen_fd || remote == NULL || remote->sa_family != AF_INET ||
        len != (int)sizeof(SOCKADDR_IN))
        return -EINVAL;
    x->c[i].hash = 14695981039346656037ull;
    x->c[i].fd = fd; /* published before its first receive (same thread) */
    enter(x, &x->c[i]);
    leave(&x->c[i]);
    return 0;
}

static void on_receive(void *ctx, int fd, const void *data, size_t len)
{
    struct ev_ctx *x = (struct ev_ctx *)ctx;
    struct conn_seen *c = slot(x, fd);
    enter(x, c);
    if (c != NULL) {
        if (x->slow_ms > 0 && c->bytes < 256 * 1024)
            ht_sleep_ms(x->slow_ms);
        c->hash = ht_fnv(data, len, c->hash);
        c->bytes += len;
        if (x->echo)
            ks_send(fd, data, len, 0);
        if (x->close_on_data) {
            ks_close(fd);
            c->fd = -1 - fd; /* no callback may follow */
            leave(c);
            return;
        }
    }
    leave(c);
}

static void on_disconnect(void *ctx, int fd, int err)
{
    struct ev_ctx *x = (struct ev_ctx *)ctx;
    struct conn_seen *c = slot(x, fd);
    enter(x, c);
    if (c != NULL) {
        c->disc_err = err;
        InterlockedIncrement(&c->disconnects);
    }
    leave(c);
    ks_close(fd);
}

static const struct ks_event_handlers handlers = {on_accept, on_receive, on_disconnect};

static int expect_native(void)
{
    const char *e = getenv("KSHIM_WSK_EVENTS");
    return !(e != NULL && strcmp(e, "0") == 0);
}

static int ev_listen(struct ev_ctx *x, int *port)
{
    int l = ks_socket(AF_INET, SOCK_STREAM, 0);
    SOCKADDR_STORAGE a;
    int alen;
    ht_loopback(0, 0, &a, &alen);
    HT_EQ(ks_bind(l, (struct sockaddr *)&a, alen), 0, "bind");
    x->listen_fd = l;
    HT_EQ(ks_listen_events(l, 64, &handlers, x), 0, "ks_listen_events");
    HT_EQ(ks_events_native(l), expect_native(), "native events iff the provider has them");
    int len = (int)sizeof(a);
    HT_EQ(ks_getsockname(l, (struct sockaddr *)&a, &len), 0, "getsockname");
    *port = ks_ntohs(((SOCKADDR_IN *)&a)->sin_port);
    return l;
}

static int wait_until(volatile LONG *v, LONG want, int ms)
{
    LONGLONG end = ht_now_ms() + ms;
    while (*v < want && ht_now_ms() < end)
        ht_sleep_ms(1);
    return *v >= want;
}

struct client {
    int port;
    unsigned seed;
    size_t len;
    int echo;
    long result;
};

/* A native client: sends len bytes, reads the echo (if any), closes. */
static void client_run(void *arg)
{
    struct client *k = (struct client *)arg;
    int fd = hp_connect(0, k->port);
    unsigned char *out = malloc(k->len), *in = malloc(k->len);
    ht_pattern(out, k->len, k->seed, 0);
    k->result = hp_send_all(fd, out, k->len);
    if (k->echo && k->result == (long)k->len) {
        k->result = hp_recv_all(fd, in, k->len, 30000);
        if (k->result == (long)k->len && memcmp(in, out, k->len) != 0)
            k->result = -2;
    }
    hp_close(fd);
    free(out);
    free(in);
}

/* 16 clients x 256 KiB echoed; order, count, callbacks' rules. */
static void t_ev_echo(void)
{
    static struct ev_ctx x;
    memset(&x, 0, sizeof(x));
    x.echo = 1;
    int port;
    int l = ev_listen(&x, &port);
    enum { N = 16 };
    const size_t len = 256 * 1024;
    static struct client k[N];
    ht_thread *t[N];
    for (int i = 0; i < N; i++) {
        k[i].port = port;
        k[i].seed = 500 + (unsigned)i;
        k[i].len = len;
        k[i].echo = 1;
        t[i] = ht_spawn(client_run, &k[i]);
    }
    for (int i = 0; i < N; i++) {
        HT_CHECK(ht_join(t[i], 60000), "client done", i);
        HT_EQ(k[i].result, (long)len, "client got its echo intact");
    }
    HT_EQ(wait_until(&x.accepted, N, 10000), 1, "every connection announced");
    int done = 0;
    for (int i = 0; i < N; i++)
        done += wait_until(&x.c[i].disconnects, 1, 10000);
    HT_EQ(done, N, "every connection got its disconnect");
    unsigned char *pat = malloc(len);
    for (int i = 0; i < N; i++) {
        /* Which client a slot holds is not known: match by hash. */
        int found = 0;
        for (int j = 0; j < N && !found; j++) {
            ht_pattern(pat, len, 500 + (unsigned)j, 0);
            found = x.c[i].bytes == len && x.c[i].hash == ht_fnv(pat, len, 14695981039346656037ull);
        }
        HT_CHECK(found, "a connection's data arrived whole and in order", i);
        HT_EQ(x.c[i].disc_err, 0, "orderly end");
        HT_EQ(x.c[i].disconnects, 1, "one disconnect");
    }
    free(pat);
    HT_EQ(x.overlaps, 0, "callbacks of a connection never overlap");
    HT_EQ(x.not_passive, 0, "callbacks at PASSIVE_LEVEL");
    HT_EQ(x.after_end, 0, "no callback after the disconnect");
    char b[4];
    HT_EQ(ks_accept(l, NULL, NULL), -EINVAL, "ks_accept on an event listener");
    HT_EQ(ks_recv(l, b, 1, 0), -EINVAL, "ks_recv on the event listener");
    ks_close(l);
}

/* A slow consumer: the provider's indications outrun the handler, the
 * library leaves data with the provider and pulls it; nothing lost. */
static void t_ev_slow(void)
{
    static struct ev_ctx x;
    memset(&x, 0, sizeof(x));
    x.slow_ms = 20;
    int port;
    int l = ev_listen(&x, &port);
    static struct client k;
    k.port = port;
    k.seed = 77;
    k.len = 8u << 20;
    k.echo = 0;
    ht_thread *t = ht_spawn(client_run, &k);
    HT_CHECK(ht_join(t, 60000), "client done", 0);
    HT_EQ(k.result, (long)k.len, "client sent");
    HT_EQ(wait_until(&x.c[0].disconnects, 1, 60000), 1, "disconnect after the data");
    unsigned char *pat = malloc(k.len);
    ht_pattern(pat, k.len, 77, 0);
    HT_EQ(x.c[0].bytes, k.len, "every byte delivered");
    HT_CHECK(x.c[0].hash == ht_fnv(pat, k.len, 14695981039346656037ull), "in order", 0);
    free(pat);
    HT_EQ(x.overlaps, 0, "no overlap");
    ks_close(l);
}

/* Many clients sending as fast as they can, a handler that only counts:
 * the completion threads give each indication back (WskRelease) while the
 * provider may still be returning from the callback that passed it. */
static void t_ev_flood(void)
{
    static struct ev_ctx x;
    memset(&x, 0, sizeof(x));
    int port;
    int l = ev_listen(&x, &port);
    enum { N = 8 };
    static struct client k[N];
    ht_thread *t[N];
    for (int i = 0; i < N; i++) {
        k[i].port = port;
        k[i].seed = 900 + (unsigned)i;
        k[i].len = 4u << 20;
        t[i] = ht_spawn(client_run, &k[i]);
    }
    for (int i = 0; i < N; i++) {
        HT_CHECK(ht_join(t[i], 60000), "client done", i);
        HT_EQ(k[i].result, (long)k[i].len, "client sent");
    }
    int done = 0;
    for (int i = 0; i < N; i++)
        done += wait_until(&x.c[i].disconnects, 1, 30000);
    HT_EQ(done, N, "every connection ended");
    size_t total = 0;
    for (int i = 0; i < N; i++)
        total += x.c[i].bytes;
    HT_EQ(total, (size_t)N * (4u << 20), "every byte delivered");
    HT_EQ(x.overlaps, 0, "no overlap");
    ks_close(l);
}

/* Per-connection context and flow control: the receive callback pauses
 * its connection after 256 KiB; the peer's 32 MiB then wait with the
 * provider (the peer's send is held back by TCP), nothing more is
 * delivered, the end of the stream is held too; after ks_events_resume
 * everything comes, in order, then the disconnect. */
struct paused_conn {
    struct ev_ctx *x;
    volatile LONG paused_at; /* bytes when it paused */
    size_t bytes;
    unsigned long long hash;
    volatile LONG disconnects;
    volatile LONG wrong_ctx;
};
static struct paused_conn g_pc;

static int pc_accept(void *ctx, int listen_fd, int fd, const struct sockaddr *remote, int len,
                     void **conn_ctx)
{
    UNREFERENCED_PARAMETER(listen_fd);
    UNREFERENCED_PARAMETER(remote);
    UNREFERENCED_PARAMETER(len);
    g_pc.x = (struct ev_ctx *)ctx;
    g_pc.x->c[0].fd = fd;
    g_pc.hash = 14695981039346656037ull;
    *conn_ctx = &g_pc;
    return 0;
}

static void pc_receive(void *conn_ctx, int fd, const void *data, size_t len)
{
    struct paused_conn *p = (struct paused_conn *)conn_ctx;
    if (p != &g_pc) {
        InterlockedIncrement(&g_pc.wrong_ctx);
        return;
    }
    p->hash = ht_fnv(data, len, p->hash);
    p->bytes += len;
    if (p->paused_at == 0 && p->bytes >= 256 * 1024) {
        p->paused_at = (LONG)p->bytes;
        HT_EQ(ks_events_pause(fd), 0, "pause from the receive callback");
    }
}

static void pc_disconnect(void *conn_ctx, int fd, int err)
{
    struct paused_conn *p = (struct paused_conn *)conn_ctx;
    if (p != &g_pc)
        InterlockedIncrement(&g_pc.wrong_ctx);
    HT_EQ(err, 0, "orderly end after the data");
    InterlockedIncrement(&g_pc.disconnects);
    ks_close(fd);
}

static void t_ev_pause(void)
{
    static struct ev_ctx x;
    static const struct ks_event_handlers h = {pc_accept, pc_receive, pc_disconnect};
    memset(&x, 0, sizeof(x));
    memset(&g_pc, 0, sizeof(g_pc));
    int l = ks_socket(AF_INET, SOCK_STREAM, 0);
    SOCKADDR_STORAGE a;
    int alen;
    ht_loopback(0, 0, &a, &alen);
    HT_EQ(ks_bind(l, (struct sockaddr *)&a, alen), 0, "bind");
    HT_EQ(ks_listen_events(l, 4, &h, &x), 0, "listen");
    HT_EQ(ks_events_pause(l), -EINVAL, "pause of the listener");
    alen = (int)sizeof(a);
    ks_getsockname(l, (struct sockaddr *)&a, &alen);
    static struct client k;
    k.port = ks_ntohs(((SOCKADDR_IN *)&a)->sin_port);
    k.seed = 4242;
    /* More than every buffer on the way can hold (ring 2 MiB, Linux's
     * socket buffers up to 6 + 4 MiB): the peer's send must wait. */
    k.len = 32u << 20;
    ht_thread *t = ht_spawn(client_run, &k);
    LONGLONG end = ht_now_ms() + 10000;
    while (g_pc.paused_at == 0 && ht_now_ms() < end)
        ht_sleep_ms(1);
    HT_CHECK(g_pc.paused_at > 0, "paused after 256 KiB", g_pc.bytes);
    ht_sleep_ms(300);
    /* Nothing after the pause: the callback that paused was the last. */
    HT_EQ(g_pc.bytes, (size_t)g_pc.paused_at, "no receive callback while paused");
    HT_CHECK(!ht_join(t, 0), "the peer's data are held back (its send waits)", 0);
    HT_EQ(ks_events_resume(x.c[0].fd), 0, "resume");
    HT_EQ(ks_events_resume(x.c[0].fd), 0, "resume again: nothing");
    HT_CHECK(ht_join(t, 30000), "the peer sent everything", 0);
    HT_EQ(wait_until(&g_pc.disconnects, 1, 30000), 1, "disconnect after the data");
    unsigned char *pat = malloc(k.len);
    ht_pattern(pat, k.len, 4242, 0);
    HT_EQ(g_pc.bytes, k.len, "every byte");
    HT_CHECK(g_pc.hash == ht_fnv(pat, k.len, 14695981039346656037ull), "in order", 0);
    free(pat);
    HT_EQ(g_pc.wrong_ctx, 0, "the connection's context in every callback");
    HT_EQ(ks_events_pause(987654), -EBADF, "bad fd");
    ks_close(l);
}

/* ks_recv_events on a client's connection: bytes read ahead (a peek)
 * come first, then the rest in order, then the orderly end. */
struct client_seen {
    unsigned long long hash;
    size_t bytes;
    volatile LONG disconnects;
    int disc_err;
    volatile LONG wrong_ctx;
};
static struct client_seen g_cs;

static void cs_receive(void *conn_ctx, int fd, const void *data, size_t len)
{
    UNREFERENCED_PARAMETER(fd);
    if (conn_ctx != &g_cs)
        InterlockedIncrement(&g_cs.wrong_ctx);
    g_cs.hash = ht_fnv(data, len, g_cs.hash);
    g_cs.bytes += len;
}

static void cs_disconnect(void *conn_ctx, int fd, int err)
{
    UNREFERENCED_PARAMETER(fd);
    if (conn_ctx != &g_cs)
        InterlockedIncrement(&g_cs.wrong_ctx);
    g_cs.disc_err = err;
    InterlockedIncrement(&g_cs.disconnects);
}

static void t_ev_client(void)
{
    static const struct ks_event_handlers h = {NULL, cs_receive, cs_disconnect};
    memset(&g_cs, 0, sizeof(g_cs));
    g_cs.hash = 14695981039346656037ull;
    int fd;
    int s = ht_pair(&fd);
    char peek[5];
    HT_EQ(hp_send_all(fd, "hello", 5), 5, "peer sends 5 bytes");
    HT_EQ(ks_recv(s, peek, 5, MSG_PEEK | MSG_WAITALL), 5, "peeked: read ahead");
    HT_EQ(ks_recv_events(s, NULL, &g_cs), -EFAULT, "handlers NULL");
    HT_EQ(ks_recv_events(s, &h, &g_cs), 0, "ks_recv_events");
    HT_EQ(ks_events_native(s), expect_native(), "native events iff the provider has them");
    HT_EQ(ks_recv_events(s, &h, &g_cs), -EINVAL, "twice");
    HT_EQ(ks_recv(s, peek, 1, 0), -EINVAL, "ks_recv in event mode");
    const size_t len = 1u << 20;
    unsigned char *out = malloc(len);
    ht_pattern(out, len, 99, 0);
    HT_EQ(hp_send_all(fd, out, len), (long)len, "peer sends 1 MiB");
    hp_close(fd);
    HT_EQ(wait_until(&g_cs.disconnects, 1, 20000), 1, "disconnect");
    unsigned long long want = ht_fnv("hello", 5, 14695981039346656037ull);
    want = ht_fnv(out, len, want);
    HT_EQ(g_cs.bytes, 5 + len, "every byte, the peeked ones included");
    HT_CHECK(g_cs.hash == want, "in order: the read-ahead first", 0);
    HT_EQ(g_cs.disc_err, 0, "orderly end");
    HT_EQ(g_cs.wrong_ctx, 0, "conn_ctx in every callback");
    HT_EQ(ks_send(s, "x", 1, 0), 1, "sending still works after the peer's end");
    ks_close(s);
    free(out);

    int u = ks_socket(AF_INET, SOCK_DGRAM, 0);
    HT_EQ(ks_recv_events(u, &h, NULL), -EOPNOTSUPP, "UDP");
    ks_close(u);
    int n = ks_socket(AF_INET, SOCK_STREAM, 0);
    HT_EQ(ks_recv_events(n, &h, NULL), -ENOTCONN, "not connected");
    ks_close(n);
    int port;
    int l = ht_ks_listen(0, &port);
    HT_EQ(ks_recv_events(l, &h, NULL), -EINVAL, "a listener");
    ks_close(l);
    HT_EQ(ks_recv_events(987654, &h, NULL), -EBADF, "bad fd");
}

/* ks_close inside a receive callback: no callback after it; retained
 * indications released before the provider's close (the shim checks). */
static void t_ev_close_in_callback(void)
{
    static struct ev_ctx x;
    memset(&x, 0, sizeof(x));
    x.close_on_data = 1;
    int port;
    int l = ev_listen(&x, &port);
    int fd = hp_connect(0, port);
    unsigned char *buf = malloc(1u << 20);
    ht_pattern(buf, 1u << 20, 5, 0);
    hp_send_all(fd, buf, 1u << 20); /* may fail once the library closed */
    HT_CHECK(hp_wait_end(fd, 10000, NULL) != 0, "the library closed the connection", 0);
    ht_sleep_ms(50);
    HT_EQ(x.accepted, 1, "one connection");
    HT_EQ(x.after_end, 0, "no callback after the close");
    HT_EQ(x.overlaps, 0, "no overlap");
    hp_close(fd);
    free(buf);
    ks_close(l);
}

/* Reset by the peer: disconnect with -ECONNRESET; rejected connections are
 * closed; argument errors. */
static void t_ev_reset_reject_args(void)
{
    static struct ev_ctx x;
    memset(&x, 0, sizeof(x));
    int port;
    int l = ev_listen(&x, &port);
    int fd = hp_connect(0, port);
    HT_EQ(wait_until(&x.accepted, 1, 10000), 1, "accepted");
    hp_send_all(fd, "abc", 3);
    ht_sleep_ms(50);
    hp_reset(fd);
    HT_EQ(wait_until(&x.c[0].disconnects, 1, 10000), 1, "disconnect");
    HT_EQ(x.c[0].disc_err, -ECONNRESET, "reset reported");
    HT_EQ(x.c[0].bytes, 3, "data before the reset delivered");

    int u = ks_socket(AF_INET, SOCK_DGRAM, 0);
    HT_EQ(ks_listen_events(u, 1, &handlers, &x), -EOPNOTSUPP, "UDP");
    ks_close(u);
    HT_EQ(ks_listen_events(l, 1, &handlers, &x), -EINVAL, "already listening");
    HT_EQ(ks_listen_events(l, 1, NULL, &x), -EFAULT, "handlers NULL");
    struct ks_event_handlers h = handlers;
    h.receive = NULL;
    HT_EQ(ks_listen_events(l, 1, &h, &x), -EFAULT, "receive NULL");
    HT_EQ(ks_listen_events(987654, 1, &handlers, &x), -EBADF, "bad fd");
    int plain = ks_socket(AF_INET, SOCK_STREAM, 0);
    HT_EQ(ks_events_native(plain), -EINVAL, "not in event mode");
    ks_close(plain);
    ks_close(l);
}

/* ks_cleanup with connections open and data arriving: it returns, every
 * retained indication was released (the shim's leak and rule checks). */
static void t_ev_cleanup(void)
{
    static struct ev_ctx x;
    memset(&x, 0, sizeof(x));
    x.slow_ms = 5;
    int port;
    ev_listen(&x, &port);
    enum { N = 6 };
    int fds[N];
    unsigned char buf[64 * 1024];
    memset(buf, 'z', sizeof(buf));
    for (int i = 0; i < N; i++) {
        fds[i] = hp_connect(0, port);
        hp_send_all(fds[i], buf, sizeof(buf));
    }
    wait_until(&x.accepted, N, 10000);
    ks_cleanup();
    LONG seen = x.accepted;
    ht_sleep_ms(50);
    HT_EQ(x.accepted, seen, "no callback after ks_cleanup");
    HT_EQ(ks_startup(), 0, "restart");
    for (int i = 0; i < N; i++)
        hp_close(fds[i]);
}

/* Closing from the disconnect callback (issue 14). */
struct dc_state {
    int use_async;
    int rc;
    LONGLONG ms;
    int disc_err;
    volatile LONG disconnects;
    struct ks_aio close_req;
    volatile LONG close_fired;
    ptrdiff_t close_result;
    volatile LONG sends_ok, send_errors;
};
static struct dc_state g_dc;

/* One echoed piece (ks_send_async), freed by its callback. */
struct dc_node {
    struct ks_aio req;
    size_t len;
    unsigned char data[];
};

static void dc_sent(struct ks_aio *req, ptrdiff_t result)
{
    struct dc_node *n = (struct dc_node *)req->data;
    if (result == (ptrdiff_t)n->len)
        InterlockedIncrement(&g_dc.sends_ok);
    else
        InterlockedIncrement(&g_dc.send_errors);
    free(n);
}

static void dc_echo(void *conn_ctx, int fd, const void *data, size_t len)
{
    UNREFERENCED_PARAMETER(conn_ctx);
    struct dc_node *n = (struct dc_node *)malloc(sizeof(*n) + len);
    memset(&n->req, 0, sizeof(n->req));
    n->req.data = n;
    n->len = len;
    memcpy(n->data, data, len);
    if (ks_send_async(fd, n->data, len, 0, &n->req, dc_sent) != 0) {
        InterlockedIncrement(&g_dc.send_errors);
        free(n);
    }
}

static void dc_ignore(void *conn_ctx, int fd, const void *data, size_t len)
{
    UNREFERENCED_PARAMETER(conn_ctx);
    UNREFERENCED_PARAMETER(fd);
    UNREFERENCED_PARAMETER(data);
    UNREFERENCED_PARAMETER(len);
}

static void dc_closed(struct ks_aio *req, ptrdiff_t result)
{
    UNREFERENCED_PARAMETER(req);
    g_dc.close_result = result;
    InterlockedIncrement(&g_dc.close_fired);
}

static void dc_disconnect(void *conn_ctx, int fd, int err)
{
    UNREFERENCED_PARAMETER(conn_ctx);
    g_dc.disc_err = err;
    LONGLONG t0 = ht_now_ms();
    g_dc.rc = g_dc.use_async ? ks_close_async(fd, &g_dc.close_req, dc_closed) : ks_close(fd);
    g_dc.ms = ht_now_ms() - t0;
    InterlockedIncrement(&g_dc.disconnects);
}

/* ks_close in the disconnect callback of a socket whose close waits (a
 * send in flight to a peer that does not read, SO_LINGER 3 s): returns at
 * once, the close then runs (the peer sees the end) and the socket is
 * freed (leak check after ks_cleanup). */
static void t_ev_close_in_disconnect(void)
{
    static const struct ks_event_handlers h = {NULL, dc_ignore, dc_disconnect};
    memset(&g_dc, 0, sizeof(g_dc));
    int fd;
    int s = ht_pair(&fd);
    HT_EQ(ks_recv_events(s, &h, NULL), 0, "ks_recv_events");
    ht_fill_send_side(s, 3);
    hp_shutdown_send(fd);
    HT_EQ(wait_until(&g_dc.disconnects, 1, 10000), 1, "disconnect");
    HT_EQ(g_dc.disc_err, 0, "orderly end");
    HT_EQ(g_dc.rc, 0, "ks_close in the disconnect callback");
    HT_CHECK(g_dc.ms < 1500, "it did not wait (ms)", g_dc.ms);
    HT_EQ(ks_send(s, "x", 1, 0), -EBADF, "the descriptor is closed");
    HT_CHECK(hp_wait_end(fd, 15000, NULL) != 0, "the close ran: the peer sees the end", 0);
    hp_close(fd);
}

/* The echo idiom: ks_send_async per piece, ks_close_async in disconnect
 * while echoes are still queued (the peer has not read yet): every byte
 * comes back, in order, every send reports success, then an orderly end. */
static void t_ev_close_async_in_disconnect(void)
{
    static const struct ks_event_handlers h = {NULL, dc_echo, dc_disconnect};
    memset(&g_dc, 0, sizeof(g_dc));
    g_dc.use_async = 1;
    int fd;
    int s = ht_pair(&fd);
    HT_EQ(ks_recv_events(s, &h, NULL), 0, "ks_recv_events");
    const size_t len = 4u << 20;
    unsigned char *out = malloc(len), *back = malloc(len);
    ht_pattern(out, len, 77, 0);
    HT_EQ(hp_send_all(fd, out, len), (long)len, "peer sends 4 MiB, reading nothing yet");
    hp_shutdown_send(fd);
    HT_EQ(wait_until(&g_dc.disconnects, 1, 20000), 1, "disconnect");
    HT_EQ(g_dc.disc_err, 0, "orderly end");
    HT_EQ(g_dc.rc, 0, "ks_close_async in the disconnect callback");
    HT_CHECK(g_dc.ms < 1500, "it did not wait (ms)", g_dc.ms);
    HT_EQ(hp_recv_all(fd, back, len, 30000), (long)len, "every byte echoed");
    HT_CHECK(memcmp(back, out, len) == 0, "in order, intact", 0);
    HT_EQ(hp_wait_end(fd, 10000, NULL), HP_END_EOF, "then an orderly end");
    HT_EQ(wait_until(&g_dc.close_fired, 1, 10000), 1, "the close completed");
    HT_EQ(g_dc.close_result, 0, "with 0");
    HT_EQ(g_dc.send_errors, 0, "no send failed");
    HT_CHECK(g_dc.sends_ok > 0, "sends reported success", g_dc.sends_ok);
    hp_close(fd);
    free(out);
    free(back);
}

const struct ht_test event_tests[] = {
    {"events-echo", t_ev_echo, ht_runs_events},
    {"events-slow-consumer", t_ev_slow, ht_runs_events},
    {"events-flood", t_ev_flood, ht_runs_events},
    {"events-pause", t_ev_pause, ht_runs_events},
    {"events-client", t_ev_client, ht_runs_events},
    {"events-close-in-callback", t_ev_close_in_callback, ht_runs_events},
    {"events-reset-reject-args", t_ev_reset_reject_args, ht_runs_events},
    {"events-cleanup", t_ev_cleanup, ht_runs_events},
    {"events-close-in-disconnect", t_ev_close_in_disconnect, ht_runs_events},
    {"events-close-async-in-disconnect", t_ev_close_async_in_disconnect, ht_runs_events},
};
const int event_test_count = (int)(sizeof(event_tests) / sizeof(event_tests[0]));
