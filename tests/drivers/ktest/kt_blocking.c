/*
 * kt_blocking.c - ktest scenarios about threads blocked in the library:
 * close-blocked (ks_close wakes them) and unload-busy (ks_cleanup in
 * DriverUnload wakes them, and unloading finishes in bounded time).
 */
#include "ktest.h"

/* A thread blocked in one library call (or a loop of calls). */
enum op_kind { OP_RECV, OP_ACCEPT, OP_SEND_LOOP, OP_ACCEPT_LOOP };

#define OP_MAX_ACCEPTED 8

struct kt_op {
    enum op_kind kind;
    const char *name;
    int s;
    void *buf;
    size_t len;
    int slot;
    volatile LONG entered;  /* set just before the (first) blocking call */
    volatile LONG returned; /* set when the thread is done */
    volatile LONG64 bytes;  /* OP_SEND_LOOP: bytes sent so far */
    long result;            /* the last call's return value */
    LONGLONG t_return;
    int accepted[OP_MAX_ACCEPTED]; /* OP_ACCEPT_LOOP */
    volatile LONG naccepted;
};

static VOID NTAPI op_thread(PVOID p)
{
    struct kt_op *op = p;
    long r = 0;

    switch (op->kind) {
    case OP_RECV:
        InterlockedExchange(&op->entered, 1);
        r = (long)ks_recv(op->s, op->buf, op->len, 0);
        break;
    case OP_ACCEPT:
        InterlockedExchange(&op->entered, 1);
        r = ks_accept(op->s, NULL, NULL);
        break;
    case OP_SEND_LOOP:
        InterlockedExchange(&op->entered, 1);
        for (;;) {
            r = (long)ks_send(op->s, op->buf, op->len, 0);
            if (r != (long)op->len)
                break;
            InterlockedExchangeAdd64(&op->bytes, (LONG64)op->len);
        }
        break;
    case OP_ACCEPT_LOOP:
        for (;;) {
            InterlockedExchange(&op->entered, 1);
            r = ks_accept(op->s, NULL, NULL);
            if (r < 0)
                break;
            if (op->naccepted < OP_MAX_ACCEPTED) {
                op->accepted[op->naccepted] = (int)r;
                InterlockedIncrement(&op->naccepted);
            }
        }
        break;
    }
    op->result = r;
    op->t_return = kt_now_ms();
    InterlockedExchange(&op->returned, 1);
    kt_thread_exit();
}

static int op_start(struct kt_op *op, enum op_kind kind, const char *name, int s, void *buf,
                    size_t len)
{
    RtlZeroMemory(op, sizeof(*op));
    op->kind = kind;
    op->name = name;
    op->s = s;
    op->buf = buf;
    op->len = len;
    op->slot = kt_spawn(op_thread, op);
    return op->slot >= 0;
}

/* Waits until a send loop stopped making progress for 500 ms (bounded by 10 s). */
static int wait_send_blocked(struct kt_op *op)
{
    LONGLONG until = kt_now_ms() + 10000;
    LONG64 last = -1;

    while (kt_now_ms() < until && !op->returned) {
        LONG64 now = op->bytes;
        if (now == last)
            return 1;
        last = now;
        kt_sleep_ms(500);
    }
    return 0;
}

/* --------------------------------------------------------- close-blocked */

/*
 * Peer: silent_server --conns 2 --notify-port Port2 on Port (never reads or
 * writes until told to drain). Port2: a free port for our own listener.
 */
enum kt_outcome kt_close_blocked(void)
{
    struct sockaddr_in a2 = kt_addr(INADDR_LOOPBACK, kt_param.port2);
    static struct kt_op rcv, acc, snd; /* static: threads may outlive a failed run */
    static uint8_t rbuf[4096];
    uint8_t *sbuf;
    LONGLONG t_close;
    int a, b, l, l2, n;
    ks_ssize_t r;
    char note[8];
    uint8_t c;

    STEP("close-blocked: setup");
    sbuf = kt_alloc(NonPagedPoolNx, 1 << 20);
    if (!sbuf)
        return KT_DONE;
    ksp_fill(3, 0, sbuf, 1 << 20);
    a = kt_connect_loopback(kt_param.port);
    b = kt_connect_loopback(kt_param.port);
    l = kt_listen_loopback(kt_param.port2);
    if (a < 0 || b < 0 || l < 0) {
        CHECK("close-blocked: setup", 0, a < 0 ? a : b < 0 ? b : l);
        return KT_DONE; /* sbuf leaked on purpose: nothing uses it, but keep it simple */
    }
    KT_LOG("close-blocked: recv fd %d, send fd %d, listener fd %d\n", a, b, l);

    if (!op_start(&rcv, OP_RECV, "ks_recv", a, rbuf, sizeof(rbuf)) ||
        !op_start(&acc, OP_ACCEPT, "ks_accept", l, NULL, 0) ||
        !op_start(&snd, OP_SEND_LOOP, "ks_send", b, sbuf, 1 << 20))
        return KT_DONE;

    STEP("close-blocked: wait until the threads are blocked");
    int entered;
    WAIT_UNTIL(entered, rcv.entered && acc.entered && snd.entered, 10000);
    CHECK("close-blocked: all three threads entered their call", entered, 0);
    CHECK("close-blocked: the send loop filled the buffers and blocked", wait_send_blocked(&snd),
          (long)snd.bytes);
    kt_sleep_ms(500);
    KT_LOG("close-blocked: send thread blocked after %lu bytes\n", (ULONG)snd.bytes);
    CHECK("close-blocked: ks_recv still blocked before the close", !rcv.returned, rcv.result);
    CHECK("close-blocked: ks_accept still blocked before the close", !acc.returned, acc.result);
    CHECK("close-blocked: ks_send still blocked before the close", !snd.returned, snd.result);

    STEP("close-blocked: close");
    t_close = kt_now_ms();
    EXPECT("close-blocked: ks_close(recv socket)", ks_close(a), 0);
    EXPECT("close-blocked: ks_close(listener)", ks_close(l), 0);
    EXPECT("close-blocked: ks_close(send socket)", ks_close(b), 0);

    STEP("close-blocked: wait for the woken threads");
    CHECK("close-blocked: ks_recv returned within 5 s of ks_close", kt_join(rcv.slot, 5000),
          rcv.result);
    CHECK("close-blocked: ks_accept returned within 5 s of ks_close", kt_join(acc.slot, 5000),
          acc.result);
    CHECK("close-blocked: ks_send returned within 5 s of ks_close", kt_join(snd.slot, 5000),
          snd.result);
    if (rcv.returned) {
        EXPECT("close-blocked: blocked ks_recv returns", rcv.result, -EBADF);
        KT_LOG("close-blocked: ks_recv woke %ld ms after ks_close\n",
               (long)(rcv.t_return - t_close));
    }
    if (acc.returned) {
        EXPECT("close-blocked: blocked ks_accept returns", acc.result, -EBADF);
        KT_LOG("close-blocked: ks_accept woke %ld ms after ks_close\n",
               (long)(acc.t_return - t_close));
    }
    if (snd.returned) {
        EXPECT("close-blocked: blocked ks_send returns", snd.result, -EBADF);
        KT_LOG("close-blocked: ks_send woke %ld ms after ks_close\n",
               (long)(snd.t_return - t_close));
    }

    STEP("close-blocked: calls on the closed descriptors");
    EXPECT("close-blocked: ks_recv(closed)", ks_recv(a, &c, 1, 0), -EBADF);
    EXPECT("close-blocked: ks_send(closed)", ks_send(b, "x", 1, 0), -EBADF);
    EXPECT("close-blocked: ks_accept(closed)", ks_accept(l, NULL, NULL), -EBADF);
    EXPECT("close-blocked: ks_listen(closed)", ks_listen(l, 1), -EBADF);
    EXPECT("close-blocked: ks_close(closed)", ks_close(a), -EBADF);
    EXPECT("close-blocked: ks_close(closed listener)", ks_close(l), -EBADF);

    /*
     * The listener's port is free again, and the peer confirms through it
     * that both connections ended (it reads what is queued first: a graceful
     * close waits behind the data the blocked sender had queued).
     */
    STEP("close-blocked: the listener's port is free again");
    l2 = ks_socket(AF_INET, SOCK_STREAM, 0);
    if (CHECK("close-blocked: ks_socket", l2 > 0, l2)) {
        EXPECT("close-blocked: ks_bind to the closed listener's port",
               ks_bind(l2, (struct sockaddr *)&a2, sizeof(a2)), 0);
        if (EXPECT("close-blocked: ks_listen on it", ks_listen(l2, 4), 0)) {
            KT_LOG("close-blocked: waiting for the peer's confirmation on port %d\n",
                   kt_param.port2);
            STEP("close-blocked: waiting for the peer's confirmation");
            n = ks_accept(l2, NULL, NULL);
            if (CHECK("close-blocked: the peer connected to the new listener", n > 0, n)) {
                RtlZeroMemory(note, sizeof(note));
                r = ks_recv(n, note, 7, MSG_WAITALL);
                CHECK("close-blocked: the peer saw both connections end (\"closed\")",
                      r == 7 && RtlCompareMemory(note, "closed\n", 7) == 7, (long)r);
                EXPECT("close-blocked: ks_close(confirmation connection)", ks_close(n), 0);
            }
        }
        EXPECT("close-blocked: ks_close(new listener)", ks_close(l2), 0);
    }
    if (rcv.returned && acc.returned && snd.returned)
        kt_free(sbuf);
    return KT_DONE;
}

/* ----------------------------------------------------------- unload-busy */

/*
 * Everything here is left running on purpose: DriverUnload's ks_cleanup()
 * must close it all and wake every thread, and the unload must end soon.
 * Port: a free port for our own listener. Port2: silent_server --conns 2,
 * a native peer that never sends nor reads, so a ks_recv and a ks_send
 * blocked on connections to it can only be ended by ks_cleanup (both ends
 * of a loopback connection are closed by ks_cleanup, so a receiver there may
 * legitimately see its peer's orderly close first).
 */
static struct kt_op ub_acc, ub_rcv1, ub_rcv2, ub_nrcv, ub_nsnd;
static uint8_t ub_rbuf1[512], ub_rbuf2[512], ub_rbuf3[512];
static uint8_t *ub_sbuf;
static int ub_fds[16], ub_nfds;

static void ub_keep(int fd)
{
    if (fd > 0 && ub_nfds < 16)
        ub_fds[ub_nfds++] = fd;
}

enum kt_outcome kt_unload_busy(void)
{
    struct sockaddr_in any = kt_addr(INADDR_LOOPBACK, 0);
    int l, c1, c2, n1, n2, s;

    STEP("unload-busy: listener");
    ub_sbuf = kt_alloc(NonPagedPoolNx, 256 * 1024);
    if (!ub_sbuf)
        return KT_DONE;
    ksp_fill(5, 0, ub_sbuf, 256 * 1024);
    l = kt_listen_loopback(kt_param.port);
    if (l < 0)
        return KT_DONE;
    ub_keep(l);
    if (!op_start(&ub_acc, OP_ACCEPT_LOOP, "accept loop", l, NULL, 0))
        return KT_DONE;

    STEP("unload-busy: loopback connections");
    c1 = kt_connect_loopback(kt_param.port);
    c2 = kt_connect_loopback(kt_param.port);
    if (c1 < 0 || c2 < 0)
        return KT_DONE;
    ub_keep(c1);
    ub_keep(c2);
    int accepted;
    WAIT_UNTIL(accepted, ub_acc.naccepted == 2, 10000);
    if (!CHECK("unload-busy: 2 loopback connections accepted", accepted, ub_acc.naccepted))
        return KT_DONE;
    ub_keep(ub_acc.accepted[0]);
    ub_keep(ub_acc.accepted[1]);
    /* Unread data both ways on connection 2. */
    kt_send_all(c2, "pending data", 12);
    kt_send_all(ub_acc.accepted[1], "pending data", 12);
    /* Receivers on both ends of connection 1 (nobody sends there). */
    if (!op_start(&ub_rcv1, OP_RECV, "ks_recv (client end)", c1, ub_rbuf1, sizeof(ub_rbuf1)) ||
        !op_start(&ub_rcv2, OP_RECV, "ks_recv (server end)", ub_acc.accepted[0], ub_rbuf2,
                  sizeof(ub_rbuf2)))
        return KT_DONE;

    STEP("unload-busy: connections to the native peer");
    n1 = kt_connect_loopback(kt_param.port2);
    n2 = kt_connect_loopback(kt_param.port2);
    if (n1 < 0 || n2 < 0)
        return KT_DONE;
    ub_keep(n1);
    ub_keep(n2);
    if (!op_start(&ub_nrcv, OP_RECV, "ks_recv (native peer)", n1, ub_rbuf3, sizeof(ub_rbuf3)) ||
        !op_start(&ub_nsnd, OP_SEND_LOOP, "ks_send (native peer)", n2, ub_sbuf, 256 * 1024))
        return KT_DONE;

    /* Idle sockets: fresh, bound, IPv6. */
    s = ks_socket(AF_INET, SOCK_STREAM, 0);
    ub_keep(s);
    s = ks_socket(AF_INET, SOCK_STREAM, 0);
    if (s > 0 && ks_bind(s, (struct sockaddr *)&any, sizeof(any)) == 0)
        ub_keep(s);
    s = ks_socket(AF_INET6, SOCK_STREAM, 0);
    ub_keep(s);

    STEP("unload-busy: wait until the threads are blocked");
    int entered;
    WAIT_UNTIL(entered, ub_rcv1.entered && ub_rcv2.entered && ub_nrcv.entered, 10000);
    CHECK("unload-busy: receivers entered ks_recv", entered, 0);
    CHECK("unload-busy: the send loop blocked", wait_send_blocked(&ub_nsnd), (long)ub_nsnd.bytes);
    kt_sleep_ms(300);
    CHECK("unload-busy: accept loop blocked", !ub_acc.returned, ub_acc.result);
    CHECK("unload-busy: receivers blocked",
          !ub_rcv1.returned && !ub_rcv2.returned && !ub_nrcv.returned, 0);
    CHECK("unload-busy: sender blocked", !ub_nsnd.returned, ub_nsnd.result);
    KT_LOG("unload-busy ready: %d sockets open, 5 threads blocked (ks_accept, ks_recv x3, "
           "ks_send)\n",
           ub_nfds);
    STEP("unload-busy: waiting for DriverUnload");
    return KT_DEFERRED;
}

void kt_unload_busy_finish(LONGLONG cleanup_start_ms, int joined)
{
    LONGLONG ms = kt_now_ms() - cleanup_start_ms;
    uint8_t c;
    int i, s;

    KT_LOG("unload-busy unloaded in %ld ms (threads %s)\n", (long)ms,
           joined ? "all ended" : "NOT all ended");
    CHECK("unload-busy: every thread ended after ks_cleanup", joined, 0);
    CHECK("unload-busy: ks_cleanup and the joins took less than 10 s (ms)", ms < 10000, (long)ms);
    if (ub_acc.returned)
        EXPECT("unload-busy: blocked ks_accept returned", ub_acc.result, -EBADF);
    if (ub_nrcv.returned)
        EXPECT("unload-busy: blocked ks_recv (native peer) returned", ub_nrcv.result, -EBADF);
    if (ub_nsnd.returned)
        EXPECT("unload-busy: blocked ks_send (native peer) returned", ub_nsnd.result, -EBADF);
    /* Loopback pair: the end closed first gets -EBADF, the other -EBADF or its peer's EOF. */
    if (ub_rcv1.returned && ub_rcv2.returned) {
        EXPECT_IN("unload-busy: blocked ks_recv (loopback client end) returned", ub_rcv1.result,
                  -EBADF, 0);
        EXPECT_IN("unload-busy: blocked ks_recv (loopback server end) returned", ub_rcv2.result,
                  -EBADF, 0);
        CHECK("unload-busy: at least one loopback end got -EBADF",
              ub_rcv1.result == -EBADF || ub_rcv2.result == -EBADF, 0);
    }
    for (i = 0; i < ub_nfds; i++) {
        if (ks_recv(ub_fds[i], &c, 1, 0) != -EBADF || ks_close(ub_fds[i]) != -EBADF) {
            CHECK("unload-busy: descriptor stale after ks_cleanup", 0, ub_fds[i]);
            break;
        }
    }
    if (i == ub_nfds)
        KT_LOG("PASS unload-busy: all %d descriptors stale (-EBADF) after ks_cleanup\n", ub_nfds);
    EXPECT("unload-busy: ks_socket after the last ks_cleanup", ks_socket(AF_INET, SOCK_STREAM, 0),
           -ENETDOWN);
    /* The library can be started again after a full cleanup. */
    if (EXPECT("unload-busy: ks_startup again", ks_startup(), 0)) {
        s = ks_socket(AF_INET, SOCK_STREAM, 0);
        CHECK("unload-busy: ks_socket after restart", s > 0, s);
        if (s > 0)
            EXPECT("unload-busy: ks_close after restart", ks_close(s), 0);
        ks_cleanup();
    }
    if (joined)
        kt_free(ub_sbuf);
}
