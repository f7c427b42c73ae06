/*
 * kt_aio.c - the aio scenario: the asynchronous and event APIs in a real
 * driver, on both beds (Port: a native echo_server serving 1 connection;
 * Port2: a free port for ktest's own listener).
 *   - ks_connect_async to the echo server, 1 MiB through ks_send_async and
 *     a MSG_WAITALL ks_recv_async, checked against the pattern; every
 *     callback at PASSIVE_LEVEL and never inside its submitting call;
 *   - ks_aio_cancel of a receive nothing answers: -ECANCELED at once (Wine's
 *     provider ignores IoCancelIrp: the request owns no provider IRP), and
 *     the bytes that come later go to the next call;
 *   - on ktest's listener: ks_accept_async, ks_recv_events on the accepted
 *     connection (native or fallback, as ks_events_native says: fallback
 *     under Wine), 256 KiB delivered in order, the orderly end, then
 *     ks_close_async; a receive pending at a close ends with -EBADF;
 *   - ks_close_async behind 4 queued ks_send_async (issue 14, on a second
 *     connection to ktest's listener): every byte arrives in order, then
 *     the end of the stream, and every send reports success;
 *   - ks_getaddrinfo_async of localhost.
 */
#include "ktest.h"

#define AIO_STREAM (1u << 20)
#define AIO_EVENTS (256u * 1024)
#define AIO_SEED 777
#define AIO_WAIT_MS 20000

struct kop {
    ptrdiff_t result;
    struct ks_aio req;
    volatile LONG fired;
    KIRQL irql;
};

static volatile LONG g_submitting; /* thread id + 1 of a thread inside a submit */
static volatile LONG g_inline;

static void kop_cb(struct ks_aio *req, ptrdiff_t result)
{
    struct kop *o = req->data;
    if (g_submitting == (LONG)(LONG_PTR)PsGetCurrentThreadId() + 1)
        InterlockedIncrement(&g_inline);
    o->result = result;
    o->irql = KeGetCurrentIrql();
    InterlockedIncrement(&o->fired);
}

static void kop_init(struct kop *o)
{
    RtlZeroMemory(o, sizeof(*o));
    o->req.data = o;
}

static void submitting(int on)
{
    InterlockedExchange(&g_submitting, on ? (LONG)(LONG_PTR)PsGetCurrentThreadId() + 1 : 0);
}

/* The callback's result after a bounded wait (-99999: it never ran). */
static ptrdiff_t kop_wait(struct kop *o)
{
    LONGLONG end = kt_now_ms() + AIO_WAIT_MS;
    while (!o->fired && kt_now_ms() < end)
        kt_sleep_ms(1);
    if (!o->fired)
        return -99999;
    CHECK("aio: callback at PASSIVE_LEVEL", o->irql == PASSIVE_LEVEL, o->irql);
    return o->result;
}

/* ---- event-driven receive on the accepted connection ---- */

struct ev_seen {
    uint64_t off; /* bytes so far, checked against the pattern */
    size_t bad;
    volatile LONG ended;
    int err;
};

static void ev_receive(void *conn_ctx, int fd, const void *data, size_t len)
{
    struct ev_seen *e = conn_ctx;
    (void)fd;
    if (ksp_check(AIO_SEED + 1, e->off, data, len) != len)
        e->bad++;
    e->off += len;
}

static void ev_disconnect(void *conn_ctx, int fd, int err)
{
    struct ev_seen *e = conn_ctx;
    (void)fd;
    e->err = err;
    InterlockedIncrement(&e->ended);
}

static const struct ks_event_handlers ev_handlers = {NULL, ev_receive, ev_disconnect};

static void echo_part(UCHAR *out, UCHAR *in)
{
    static struct kop c, w, r, x;
    int s = ks_socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = kt_addr(INADDR_LOOPBACK, kt_param.port);

    STEP("aio: connect");
    kop_init(&c);
    submitting(1);
    EXPECT("aio: ks_connect_async submitted",
           ks_connect_async(s, (struct sockaddr *)&to, sizeof(to), &c.req, kop_cb), 0);
    submitting(0);
    EXPECT("aio: connected", kop_wait(&c), 0);

    STEP("aio: echo");
    ksp_fill(AIO_SEED, 0, out, AIO_STREAM);
    RtlZeroMemory(in, AIO_STREAM);
    kop_init(&w);
    kop_init(&r);
    submitting(1);
    EXPECT("aio: ks_recv_async submitted",
           ks_recv_async(s, in, AIO_STREAM, MSG_WAITALL, &r.req, kop_cb), 0);
    EXPECT("aio: ks_send_async submitted", ks_send_async(s, out, AIO_STREAM, 0, &w.req, kop_cb), 0);
    submitting(0);
    EXPECT("aio: send result", kop_wait(&w), AIO_STREAM);
    EXPECT("aio: MSG_WAITALL receive result", kop_wait(&r), AIO_STREAM);
    EXPECT("aio: echo intact", ksp_check(AIO_SEED, 0, in, AIO_STREAM), AIO_STREAM);

    STEP("aio: cancel");
    kop_init(&x);
    EXPECT("aio: receive with nothing coming", ks_recv_async(s, in, 10, 0, &x.req, kop_cb), 0);
    kt_sleep_ms(50);
    LONGLONG t0 = kt_now_ms();
    int cr = ks_aio_cancel(&x.req);
    EXPECT_IN("aio: ks_aio_cancel", cr, 0, -EALREADY);
    EXPECT("aio: cancelled receive", kop_wait(&x), -ECANCELED);
    LONGLONG ms = kt_now_ms() - t0;
    CHECK("aio: cancellation within 2 s", ms < 2000, (long)ms);
    KT_LOG("aio: cancel took %ld ms\n", (long)ms);
    EXPECT("aio: 5 bytes sent after the cancel", ks_send(s, "after", 5, 0), 5);
    EXPECT("aio: their echo comes to the next call", ks_recv(s, (char *)in, 5, MSG_WAITALL), 5);
    CHECK("aio: nothing lost", RtlCompareMemory(in, "after", 5) == 5, 0);
    ks_close(s);
}

/* ks_close_async behind queued sends: the graceful close (issue 14). */
static void close_after_sends_part(int l, UCHAR *out, UCHAR *in)
{
    enum { PIECES = 4, PIECE = AIO_EVENTS / PIECES };
    static struct kop a, k, w[PIECES];
    STEP("aio: close after sends");
    kop_init(&a);
    EXPECT("aio: accept another", ks_accept_async(l, NULL, NULL, &a.req, kop_cb), 0);
    int c = kt_connect_loopback(kt_param.port2);
    ptrdiff_t fd = kop_wait(&a);
    CHECK("aio: connected another", c > 0 && fd > 0, (long)fd);
    if (c <= 0 || fd <= 0) {
        ks_close(c);
        ks_close((int)fd);
        return;
    }
    ksp_fill(AIO_SEED + 2, 0, out, AIO_EVENTS);
    for (int i = 0; i < PIECES; i++) {
        kop_init(&w[i]);
        EXPECT("aio: send queued", ks_send_async(c, out + i * PIECE, PIECE, 0, &w[i].req, kop_cb),
               0);
    }
    kop_init(&k);
    EXPECT("aio: ks_close_async behind the sends", ks_close_async(c, &k.req, kop_cb), 0);
    EXPECT("aio: every byte sent before the close arrives",
           ks_recv((int)fd, in, AIO_EVENTS, MSG_WAITALL), AIO_EVENTS);
    EXPECT("aio: in order", ksp_check(AIO_SEED + 2, 0, in, AIO_EVENTS), AIO_EVENTS);
    EXPECT("aio: then the end of the stream", ks_recv((int)fd, in, 1, 0), 0);
    for (int i = 0; i < PIECES; i++)
        EXPECT("aio: each send reports success", kop_wait(&w[i]), PIECE);
    EXPECT("aio: the graceful close completed", kop_wait(&k), 0);
    ks_close((int)fd);
}

static void events_part(UCHAR *out, UCHAR *in)
{
    static struct kop a, k1, k2, p;
    static struct ev_seen seen;
    int l = kt_listen_loopback(kt_param.port2);
    if (l < 0)
        return;

    STEP("aio: accept");
    kop_init(&a);
    EXPECT("aio: ks_accept_async submitted", ks_accept_async(l, NULL, NULL, &a.req, kop_cb), 0);
    int c = kt_connect_loopback(kt_param.port2);
    ptrdiff_t fd = kop_wait(&a);
    CHECK("aio: accepted a descriptor", fd > 0, (long)fd);
    if (c < 0 || fd <= 0) {
        ks_close(c);
        ks_close(l);
        return;
    }

    STEP("aio: events");
    RtlZeroMemory(&seen, sizeof(seen));
    EXPECT("aio: ks_recv_events", ks_recv_events((int)fd, &ev_handlers, &seen), 0);
    int native = ks_events_native((int)fd);
    EXPECT("aio: events native unless under Wine", native, kt_param.wine ? 0 : 1);
    KT_LOG("aio: events: %s\n", native == 1 ? "native" : "fallback");
    ksp_fill(AIO_SEED + 1, 0, out, AIO_EVENTS);
    kt_send_all(c, out, AIO_EVENTS);
    ks_shutdown(c, SD_SEND); /* Wine: -EOPNOTSUPP; the close below ends it then */
    if (kt_param.wine)
        ks_close(c);
    LONGLONG end = kt_now_ms() + AIO_WAIT_MS;
    while (!seen.ended && kt_now_ms() < end)
        kt_sleep_ms(1);
    EXPECT("aio: every byte delivered", (long)seen.off, AIO_EVENTS);
    EXPECT("aio: in order", (long)seen.bad, 0);
    EXPECT("aio: one orderly end", seen.ended, 1);
    EXPECT("aio: end without error", seen.err, 0);

    STEP("aio: close");
    if (!kt_param.wine) {
        /* A receive pending at a close ends with -EBADF. Its peer (fd) is
         * still open, so no end of stream can come first. */
        kop_init(&p);
        kop_init(&k2);
        EXPECT("aio: receive pending", ks_recv_async(c, out, 10, 0, &p.req, kop_cb), 0);
        EXPECT("aio: ks_close_async with it", ks_close_async(c, &k2.req, kop_cb), 0);
        EXPECT("aio: the receive ends", kop_wait(&p), -EBADF);
        EXPECT("aio: that close completed", kop_wait(&k2), 0);
    }
    kop_init(&k1);
    EXPECT("aio: ks_close_async submitted", ks_close_async((int)fd, &k1.req, kop_cb), 0);
    EXPECT("aio: its descriptor ended at once", ks_send((int)fd, "x", 1, 0), -EBADF);
    EXPECT("aio: close completed", kop_wait(&k1), 0);
    close_after_sends_part(l, out, in);
    ks_close(l);
}

static void resolve_part(void)
{
    static struct kop g;
    struct addrinfo hints, *res = NULL;
    STEP("aio: resolve");
    RtlZeroMemory(&hints, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    kop_init(&g);
    EXPECT("aio: ks_getaddrinfo_async submitted",
           ks_getaddrinfo_async("localhost", "80", &hints, &res, &g.req, kop_cb), 0);
    EXPECT("aio: localhost resolved", kop_wait(&g), 0);
    CHECK("aio: an IPv4 address", res != NULL && res->ai_family == AF_INET, 0);
    ks_freeaddrinfo(res);
}

enum kt_outcome kt_aio(void)
{
    UCHAR *out = kt_alloc(NonPagedPoolNx, AIO_STREAM);
    UCHAR *in = kt_alloc(PagedPool, AIO_STREAM); /* paged: the library copies into it */
    if (!out || !in) {
        kt_fail(__LINE__, "aio: buffers", 0);
    } else {
        echo_part(out, in);
        events_part(out, in);
        resolve_part();
        EXPECT("aio: no callback inside its submitting call", g_inline, 0);
    }
    kt_free(out);
    kt_free(in);
    return KT_DONE;
}
