/*
 * kt_listen_close.c - ktest scenario listen-close: closing a listening
 * socket leaves the connections accepted from it, and every other socket,
 * working (issue 11, item 8).
 *
 * Port, Port2: free ports for ktest's own listeners.
 *  1. Three connections accepted with ks_accept (the last by a thread
 *     already blocked in ks_accept), a fourth connected but not accepted,
 *     the listener closed: each accepted pair exchanges bytes both ways, the
 *     fourth client sees its connection end, and a connection made after
 *     the close sees none of the old connections' bytes.
 *  2. The usual order: a connection accepted and closed, another
 *     connection made (on another listener), then the first listener
 *     closed: the other connection still works.
 *  3. ks_listen_events: the accept callback of the third connection closes
 *     the listener; data from each client still reaches its receive
 *     callback, and the clients' closes give disconnect(err=0).
 * Under Wine 8 without the library's guard (ks_stream.c: an accept kept in
 * flight), step 1 broke the third connection (-EIO) and step 3 ended it
 * with disconnect(-EIO): Wine's WskCloseSocket of a listener closes the host
 * socket of its latest WskAccept. The same checks run on the host bed.
 */
#include "ktest.h"

#define LC_N 3

/* Sends the 6 bytes of out from one end and receives them at the other. */
static int lc_one_way(const char *what, int from, int to, const char *out)
{
    char in[6];
    ks_ssize_t r;
    int ok;

    r = ks_send(from, out, sizeof(in), 0);
    ok = kt_expect(__LINE__, what, (long)r, (long)sizeof(in));
    RtlZeroMemory(in, sizeof(in));
    r = ks_recv(to, in, sizeof(in), MSG_WAITALL);
    ok &= kt_expect(__LINE__, what, (long)r, (long)sizeof(in));
    ok &= kt_check(__LINE__, what, RtlCompareMemory(in, out, sizeof(in)) == sizeof(in), 0);
    return ok;
}

/* Bytes both ways between an accepted end a and its client c. */
static int lc_exchange(const char *what, int a, int c, char tag)
{
    char to_a[6] = {'l', 'c', '-', tag, '>', '\n'}, to_c[6] = {'l', 'c', '-', tag, '<', '\n'};
    int ok = lc_one_way(what, c, a, to_a);

    return lc_one_way(what, a, c, to_c) && ok;
}

struct lc_acc {
    int l;
    volatile LONG done;
    long result;
};

static VOID NTAPI lc_accept_thread(PVOID p)
{
    struct lc_acc *x = p;
    x->result = ks_accept(x->l, NULL, NULL);
    InterlockedExchange(&x->done, 1);
    kt_thread_exit();
}

static void blocking_part(void)
{
    static struct lc_acc acc; /* static: the thread may outlive a failed run */
    int l, a[LC_N], c[LC_N], c4, i, n, nc, na, slot;
    char b;

    STEP("listen-close: blocking accepts");
    l = kt_listen_loopback(kt_param.port);
    if (l < 0)
        return;
    for (i = 0; i < LC_N - 1; i++) {
        c[i] = kt_connect_loopback(kt_param.port);
        a[i] = ks_accept(l, NULL, NULL);
        CHECK("listen-close: ks_accept", a[i] > 0, a[i]);
    }
    /* The last one through a thread already blocked in ks_accept. */
    acc.l = l;
    slot = kt_spawn(lc_accept_thread, &acc);
    kt_sleep_ms(100);
    c[LC_N - 1] = kt_connect_loopback(kt_param.port);
    CHECK("listen-close: blocked ks_accept returned", slot >= 0 && kt_join(slot, 5000), acc.result);
    a[LC_N - 1] = (int)acc.result;
    CHECK("listen-close: blocked ks_accept", a[LC_N - 1] > 0, a[LC_N - 1]);
    /* A fourth connection nobody accepts: the listener's close ends it. */
    c4 = kt_connect_loopback(kt_param.port);

    STEP("listen-close: close the listener");
    EXPECT("listen-close: ks_close(listener)", ks_close(l), 0);

    /* A new connection right after the close: under Wine 8 its provider
     * socket could get the handle number of an accepted connection the
     * provider closed with the listener. */
    STEP("listen-close: a new connection after the close");
    l = kt_listen_loopback(kt_param.port);
    nc = l > 0 ? kt_connect_loopback(kt_param.port) : -1;
    na = nc > 0 ? ks_accept(l, NULL, NULL) : -1;
    CHECK("listen-close: new connection after the close", na > 0, na);

    STEP("listen-close: exchanges on the accepted connections");
    for (i = 0; i < LC_N; i++) {
        if (a[i] > 0 && c[i] > 0 &&
            lc_exchange("listen-close: accepted connection works after the listener's close", a[i],
                        c[i], (char)('0' + i)))
            KT_LOG("listen-close: connection %d works\n", i);
    }
    if (c4 > 0) {
        /* Ended by the close (Wine: a receive on a reset socket gives 0). */
        n = (int)ks_recv(c4, &b, 1, 0);
        EXPECT_IN("listen-close: the connection never accepted ended with the listener", n, 0,
                  -ECONNRESET);
        EXPECT("listen-close: ks_close(client never accepted)", ks_close(c4), 0);
    }
    if (na > 0 && nc > 0) {
        n = (int)ks_recv(na, &b, 1, MSG_DONTWAIT);
        EXPECT("listen-close: nothing of the old connections on the new one (accepted end)", n,
               -EWOULDBLOCK);
        n = (int)ks_recv(nc, &b, 1, MSG_DONTWAIT);
        EXPECT("listen-close: nothing of the old connections on the new one (client end)", n,
               -EWOULDBLOCK);
    }
    /* Closing the old connections harms no other socket. */
    for (i = 0; i < LC_N; i++) {
        EXPECT("listen-close: ks_close(client)", ks_close(c[i]), 0);
        EXPECT("listen-close: ks_close(accepted)", ks_close(a[i]), 0);
    }
    if (na > 0 && nc > 0)
        lc_exchange("listen-close: the new connection works", na, nc, 'n');
    EXPECT("listen-close: ks_close(new client)", ks_close(nc), 0);
    EXPECT("listen-close: ks_close(new accepted)", ks_close(na), 0);
    EXPECT("listen-close: ks_close(new listener)", ks_close(l), 0);
}

/* Accepted and closed first, then another connection, then the listener. */
static void closed_first_part(void)
{
    int l, a, c, l2, na, nc;

    STEP("listen-close: connection closed before the listener");
    l = kt_listen_loopback(kt_param.port2);
    if (l < 0)
        return;
    c = kt_connect_loopback(kt_param.port2);
    a = ks_accept(l, NULL, NULL);
    CHECK("listen-close: ks_accept", a > 0, a);
    if (a > 0 && c > 0)
        lc_exchange("listen-close: connection before its close", a, c, 'a');
    EXPECT("listen-close: ks_close(accepted)", ks_close(a), 0);
    EXPECT("listen-close: ks_close(client)", ks_close(c), 0);
    /* Another connection, on another listener, then the first listener's close. */
    l2 = kt_listen_loopback(kt_param.port);
    nc = l2 > 0 ? kt_connect_loopback(kt_param.port) : -1;
    na = nc > 0 ? ks_accept(l2, NULL, NULL) : -1;
    CHECK("listen-close: other connection", na > 0, na);
    EXPECT("listen-close: ks_close(first listener)", ks_close(l), 0);
    if (na > 0 && nc > 0)
        lc_exchange("listen-close: other connection works after the first listener's close", na, nc,
                    'o');
    /* And the second listener accepts again. */
    c = kt_connect_loopback(kt_param.port);
    a = c > 0 ? ks_accept(l2, NULL, NULL) : -1;
    CHECK("listen-close: the other listener still accepts", a > 0, a);
    if (a > 0 && c > 0)
        lc_exchange("listen-close: its connection works", a, c, 'p');
    EXPECT("listen-close: ks_close(client)", ks_close(c), 0);
    EXPECT("listen-close: ks_close(accepted)", ks_close(a), 0);
    EXPECT("listen-close: ks_close(other client)", ks_close(nc), 0);
    EXPECT("listen-close: ks_close(other accepted)", ks_close(na), 0);
    EXPECT("listen-close: ks_close(other listener)", ks_close(l2), 0);
}

/* ---- event listener ---- */

struct lc_conn {
    volatile LONG bytes;
    volatile LONG ended;
    int err;
    int fd;
};

static struct lc_conn lc_conns[LC_N];
static volatile LONG lc_naccepted;
static volatile LONG lc_listener_closed = 1; /* 0 once the listener is up, -1 closed */
static int lc_listen_result;

static int lc_ev_accept(void *ctx, int listen_fd, int fd, const struct sockaddr *remote,
                        int remotelen, void **conn_ctx)
{
    LONG i = InterlockedIncrement(&lc_naccepted) - 1;
    (void)ctx, (void)listen_fd, (void)remote, (void)remotelen;
    if (i >= LC_N)
        return -ECONNREFUSED;
    lc_conns[i].fd = fd;
    *conn_ctx = &lc_conns[i];
    /* The last one closes the listener from its own accept callback: the
     * library has just taken this connection from the provider. */
    if (i == LC_N - 1 && InterlockedCompareExchange(&lc_listener_closed, -1, 0) == 0)
        lc_listen_result = ks_close(listen_fd);
    return 0;
}

static void lc_ev_receive(void *conn_ctx, int fd, const void *data, size_t len)
{
    struct lc_conn *k = conn_ctx;
    (void)fd, (void)data;
    InterlockedExchangeAdd(&k->bytes, (LONG)len);
}

static void lc_ev_disconnect(void *conn_ctx, int fd, int err)
{
    struct lc_conn *k = conn_ctx;
    k->err = err;
    InterlockedExchange(&k->ended, 1);
    ks_close(fd);
}

static const struct ks_event_handlers lc_handlers = {lc_ev_accept, lc_ev_receive, lc_ev_disconnect};

static void events_part(void)
{
    struct sockaddr_in a = kt_addr(INADDR_LOOPBACK, kt_param.port2);
    int l, c[LC_N], i;

    STEP("listen-close: event listener");
    l = ks_socket(AF_INET, SOCK_STREAM, 0);
    if (!CHECK("listen-close: ks_socket", l > 0, l))
        return;
    EXPECT("listen-close: ks_bind", ks_bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    InterlockedExchange(&lc_listener_closed, 0);
    if (!EXPECT("listen-close: ks_listen_events", ks_listen_events(l, 8, &lc_handlers, NULL), 0))
        return;
    for (i = 0; i < LC_N; i++)
        c[i] = kt_connect_loopback(kt_param.port2);
    int ok;
    WAIT_UNTIL(ok, lc_naccepted == LC_N, 5000);
    CHECK("listen-close: 3 connections announced", ok, lc_naccepted);
    CHECK("listen-close: the last accept callback closed the listener", lc_listener_closed == -1,
          lc_listener_closed);
    EXPECT("listen-close: ks_close(event listener) in the accept callback", lc_listen_result, 0);
    EXPECT("listen-close: ks_close(event listener) again", ks_close(l), -EBADF);
    for (i = 0; i < LC_N; i++)
        if (c[i] > 0)
            kt_send_all(c[i], "after-close", 11);
    for (i = 0; i < LC_N; i++) {
        WAIT_UNTIL(ok, lc_conns[i].bytes == 11 || lc_conns[i].ended, 5000);
        CHECK("listen-close: event connection receives after the listener's close", ok,
              lc_conns[i].bytes);
        if (lc_conns[i].ended)
            KT_LOG("listen-close: event connection %d ended early: err %d (%s)\n", i,
                   lc_conns[i].err, kt_errname(lc_conns[i].err));
    }
    for (i = 0; i < LC_N; i++)
        EXPECT("listen-close: ks_close(event client)", ks_close(c[i]), 0);
    for (i = 0; i < LC_N; i++) {
        WAIT_UNTIL(ok, lc_conns[i].ended, 5000);
        CHECK("listen-close: event connection ended", ok, 0);
        EXPECT("listen-close: disconnect(err) after the client's orderly close", lc_conns[i].err,
               0);
    }
}

enum kt_outcome kt_listen_close(void)
{
    blocking_part();
    closed_first_part();
    events_part();
    return KT_DONE;
}
