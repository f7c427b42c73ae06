/*
 * kt_races.c - ktest scenario races: close and cleanup racing calls in
 * flight, each RACES_N (100) times (issue 11, "the same class of races
 * under Wine").
 *
 * Port: silent_server (accepts and holds connections, never reads nor
 * writes until told to drain). Port2: a free port for ktest's listeners.
 *  1. close from a second thread while a worker is blocked in ks_recv (a
 *     connection to the silent peer), ks_accept (our listener, nobody
 *     connects) and ks_send (the silent peer does not read: the send is
 *     closed after it has been inside ks_send for 20 ms): the call returns
 *     -EBADF within 5 s;
 *  2. ks_shutdown(SD_BOTH / SD_SEND) on the worker while this thread
 *     ks_close()s the same descriptor (a loopback pair): shutdown gives 0 or
 *     -EBADF, -ENOTCONN, -EOPNOTSUPP (Wine: no WskDisconnect); close 0;
 *  3. ks_cleanup with data in flight (a worker blocked in ks_recv, one in
 *     ks_send against the silent peer, a ks_recv_async pending), then
 *     ks_startup: ks_cleanup returns within 5 s, the blocked calls and the
 *     asynchronous one end with -EBADF (host bed only: see part_cleanup);
 * then the driver stays loaded with the same data in flight and the test
 * unloads it (kt_races_finish checks the unload).
 * Every wait is bounded; workers are two persistent threads (ktest's thread
 * table is finite).
 */
#include "ktest.h"

#define RACES_N 100
#define RACES_SEND_CHUNK (256 * 1024)
#define RACES_BOUND_MS 5000
/* ks_cleanup's own bound: its orderly closes share 5 s (KS_CLEANUP_CLOSE_MS,
 * README), which it may use in full: the sender can be between two of its
 * ks_send calls when ks_cleanup comes (a peer that does not read still lets
 * loopback buffers grow for a while), and then nothing is cut and the
 * graceful disconnect behind its unsent data waits out the bound. The check
 * is that ks_cleanup ends within that bound, with a margin for a loaded
 * machine, never that it is fast. */
#define RACES_CLEANUP_BOUND_MS (5000 + 5000)

enum rc_kind { RC_RECV, RC_ACCEPT, RC_SEND_LOOP, RC_SHUTDOWN, RC_STOP };

struct rc_worker {
    KEVENT go;   /* synchronization: a job was posted */
    KEVENT done; /* synchronization: the job's call returned */
    enum rc_kind kind;
    int fd, arg;
    BOOLEAN exit_after;        /* the thread ends after this job */
    volatile LONG entered;     /* set just before the (first) call */
    volatile LONG in_send;     /* inside one ks_send of the loop */
    volatile LONGLONG t_enter; /* when that ks_send started */
    volatile LONG64 bytes;     /* RC_SEND_LOOP: sent so far */
    long result;
    int slot;
};

static struct rc_worker rc_w[2];
static uint8_t rc_rbuf[2][4096];
static uint8_t *rc_sbuf;

static VOID NTAPI rc_thread(PVOID p)
{
    struct rc_worker *w = p;
    ks_ssize_t r;

    for (;;) {
        KeWaitForSingleObject(&w->go, Executive, KernelMode, FALSE, NULL);
        if (w->kind == RC_STOP)
            break;
        InterlockedExchange(&w->entered, 1);
        switch (w->kind) {
        case RC_RECV:
            w->result = (long)ks_recv(w->fd, rc_rbuf[w - rc_w], sizeof(rc_rbuf[0]), 0);
            break;
        case RC_ACCEPT:
            w->result = ks_accept(w->fd, NULL, NULL);
            break;
        case RC_SEND_LOOP:
            for (;;) {
                w->t_enter = kt_now_ms();
                InterlockedExchange(&w->in_send, 1);
                r = ks_send(w->fd, rc_sbuf, RACES_SEND_CHUNK, 0);
                InterlockedExchange(&w->in_send, 0);
                if (r != RACES_SEND_CHUNK)
                    break;
                InterlockedExchangeAdd64(&w->bytes, RACES_SEND_CHUNK);
            }
            w->result = (long)r;
            break;
        case RC_SHUTDOWN:
            w->result = ks_shutdown(w->fd, w->arg);
            break;
        default:
            break;
        }
        KeSetEvent(&w->done, IO_NO_INCREMENT, FALSE);
        if (w->exit_after)
            break;
    }
    kt_thread_exit();
}

static void rc_post(struct rc_worker *w, enum rc_kind kind, int fd, int arg)
{
    w->kind = kind;
    w->fd = fd;
    w->arg = arg;
    w->entered = 0;
    w->in_send = 0;
    w->bytes = 0;
    w->result = -99999;
    KeSetEvent(&w->go, IO_NO_INCREMENT, FALSE);
}

static int rc_wait_done(struct rc_worker *w, ULONG ms)
{
    LARGE_INTEGER t;

    t.QuadPart = -(LONGLONG)ms * 10000;
    return KeWaitForSingleObject(&w->done, Executive, KernelMode, FALSE, &t) == STATUS_SUCCESS;
}

/* The send loop has been inside one ks_send for at least 20 ms: blocked
 * by flow control (the peer does not read). Bounded by 5 s. */
static int rc_send_blocked(struct rc_worker *w)
{
    int blocked;
    WAIT_UNTIL(blocked, w->in_send && kt_now_ms() - w->t_enter >= 20, RACES_BOUND_MS);
    return blocked;
}

/* Tallies of one race kind. */
struct rc_tally {
    const char *name;
    int runs, ok, blocked, late;
    LONGLONG max_ms;
};

static void rc_tally_report(const struct rc_tally *t)
{
    KT_LOG("races: %s: %d runs, %d as expected, %d closed while blocked, max %ld ms to return\n",
           t->name, t->runs, t->ok, t->blocked, (long)t->max_ms);
    CHECK("races: every run as expected", t->ok == t->runs, t->runs - t->ok);
    CHECK("races: every blocked call returned within 5 s", t->late == 0, t->late);
}

/* Closes fd while w's call (already posted) runs; checks -EBADF in time. */
static void rc_close_during(struct rc_worker *w, int fd, struct rc_tally *t, int blocked)
{
    LONGLONG t0;
    int c;
    long r;

    t->runs++;
    t0 = kt_now_ms();
    c = ks_close(fd);
    if (!rc_wait_done(w, RACES_BOUND_MS)) {
        t->late++;
        KT_LOG("FAIL races: %s: the call did not return within 5 s of ks_close\n", t->name);
        InterlockedIncrement(&kt_failures);
        rc_wait_done(w, 30000); /* the next job needs the worker */
        return;
    }
    if (kt_now_ms() - t0 > t->max_ms)
        t->max_ms = kt_now_ms() - t0;
    t->blocked += blocked;
    r = w->result;
    if (c == 0 && r == -EBADF)
        t->ok++;
    else
        KT_LOG("FAIL races: %s run %d: ks_close %d (%s), the call returned %ld (%s), expected "
               "-EBADF\n",
               t->name, t->runs, c, kt_errname(c), r, kt_errname(r));
    if (!(c == 0 && r == -EBADF))
        InterlockedIncrement(&kt_failures);
}

/* ---- 1: close during blocked recv / accept / send ---- */

/* Worker 0 calls kind on fd; this thread closes fd 0-2 ms (run i) after the
 * call started: 0 lets the close meet the call's very start. */
static void rc_race_close(enum rc_kind kind, int fd, int i, struct rc_tally *t)
{
    int entered;
    rc_post(&rc_w[0], kind, fd, 0);
    WAIT_UNTIL(entered, rc_w[0].entered, RACES_BOUND_MS);
    (void)entered; /* the race is run whether or not it entered in time */
    kt_sleep_ms((ULONG)(i % 3));
    rc_close_during(&rc_w[0], fd, t, !KeReadStateEvent(&rc_w[0].done));
}

static void part_close(void)
{
    struct rc_tally trecv = {"close during ks_recv", 0, 0, 0, 0, 0};
    struct rc_tally tacc = {"close during ks_accept", 0, 0, 0, 0, 0};
    struct rc_tally tsend = {"close during ks_send", 0, 0, 0, 0, 0};
    LONG64 sent = 0;
    int i, s, blocked;

    for (i = 0; i < RACES_N; i++) {
        STEP("races: close during ks_recv");
        s = kt_connect_loopback(kt_param.port);
        if (s < 0)
            return;
        rc_race_close(RC_RECV, s, i, &trecv);

        STEP("races: close during ks_accept");
        s = kt_listen_loopback(kt_param.port2);
        if (s < 0)
            return;
        rc_race_close(RC_ACCEPT, s, i, &tacc);

        STEP("races: close during ks_send");
        s = kt_connect_loopback(kt_param.port);
        if (s < 0)
            return;
        rc_post(&rc_w[1], RC_SEND_LOOP, s, 0);
        blocked = rc_send_blocked(&rc_w[1]);
        sent += rc_w[1].bytes;
        rc_close_during(&rc_w[1], s, &tsend, blocked);
    }
    rc_tally_report(&trecv);
    rc_tally_report(&tacc);
    rc_tally_report(&tsend);
    CHECK("races: every send was closed while blocked", tsend.blocked == RACES_N, tsend.blocked);
    KT_LOG("races: close during ks_send: %ld KiB taken per connection before blocking (average)\n",
           (long)(sent / RACES_N / 1024));
}

/* ---- 2: shutdown racing close ---- */

static void part_shutdown(void)
{
    int i, l, c, a, cl, n_ok = 0, n_close = 0;
    int seen[4] = {0, 0, 0, 0}; /* 0, -EBADF, -ENOTCONN, -EOPNOTSUPP */
    long r;

    STEP("races: shutdown racing close");
    l = kt_listen_loopback(kt_param.port2);
    if (l < 0)
        return;
    for (i = 0; i < RACES_N; i++) {
        c = kt_connect_loopback(kt_param.port2);
        a = c > 0 ? ks_accept(l, NULL, NULL) : -1;
        if (c < 0 || a < 0) {
            CHECK("races: loopback pair", 0, a);
            break;
        }
        rc_post(&rc_w[0], RC_SHUTDOWN, c, (i & 1) ? SD_SEND : SD_BOTH);
        if (i % 4 == 1) {
            int entered;
            WAIT_UNTIL(entered, rc_w[0].entered, RACES_BOUND_MS);
            (void)entered; /* as in rc_race_close */
        } else if (i % 4 == 2)
            kt_sleep_ms(1);
        cl = ks_close(c);
        n_close += cl == 0;
        if (!rc_wait_done(&rc_w[0], RACES_BOUND_MS)) {
            CHECK("races: ks_shutdown returned within 5 s", 0, i);
            rc_wait_done(&rc_w[0], 30000);
        }
        r = rc_w[0].result;
        if (r == 0 || r == -EBADF || r == -ENOTCONN || r == -EOPNOTSUPP) {
            n_ok++;
            seen[r == 0 ? 0 : r == -EBADF ? 1 : r == -ENOTCONN ? 2 : 3]++;
        } else {
            KT_LOG("FAIL races: ks_shutdown(%s) racing ks_close returned %ld (%s)\n",
                   (i & 1) ? "SD_SEND" : "SD_BOTH", r, kt_errname(r));
            InterlockedIncrement(&kt_failures);
        }
        if (cl != 0)
            KT_LOG("FAIL races: ks_close racing ks_shutdown returned %d (%s)\n", cl,
                   kt_errname(cl));
        EXPECT_IN("races: ks_close(accepted end)", ks_close(a), 0);
    }
    ks_close(l);
    KT_LOG("races: shutdown racing close: %d runs, results 0 x%d, EBADF x%d, ENOTCONN x%d, "
           "EOPNOTSUPP x%d\n",
           i, seen[0], seen[1], seen[2], seen[3]);
    CHECK("races: every ks_shutdown gave 0 or a listed errno", n_ok == RACES_N, n_ok);
    CHECK("races: every ks_close racing a shutdown gave 0", n_close == RACES_N, n_close);
}

/* ---- 3: ks_cleanup with data in flight ---- */

static struct ks_aio rc_aio;
static volatile LONG rc_aio_fired;
static volatile ptrdiff_t rc_aio_result;
static char rc_aio_buf[64];

static void rc_aio_cb(struct ks_aio *req, ptrdiff_t result)
{
    (void)req;
    rc_aio_result = result;
    InterlockedExchange(&rc_aio_fired, 1);
}

/* Connections to the silent peer with a receive, a send and an
 * asynchronous receive in flight. Returns 1 once all are. */
static int in_flight_setup(BOOLEAN exit_after)
{
    int r = kt_connect_loopback(kt_param.port);
    int s = kt_connect_loopback(kt_param.port);
    int x = kt_connect_loopback(kt_param.port);
    int sub;

    if (r < 0 || s < 0 || x < 0)
        return 0;
    rc_w[0].exit_after = exit_after;
    rc_w[1].exit_after = exit_after;
    rc_post(&rc_w[0], RC_RECV, r, 0);
    rc_post(&rc_w[1], RC_SEND_LOOP, s, 0);
    rc_aio_fired = 0;
    sub = ks_recv_async(x, rc_aio_buf, sizeof(rc_aio_buf), 0, &rc_aio, rc_aio_cb);
    if (!EXPECT("races: ks_recv_async submitted", sub, 0))
        return 0;
    int entered;
    WAIT_UNTIL(entered, rc_w[0].entered, RACES_BOUND_MS);
    return entered && rc_send_blocked(&rc_w[1]);
}

/* After ks_cleanup: everything in flight ended with -EBADF. Returns 1 if so. */
static int in_flight_ended(void)
{
    int ok = rc_wait_done(&rc_w[0], RACES_BOUND_MS) && rc_wait_done(&rc_w[1], RACES_BOUND_MS);

    ok = ok && rc_w[0].result == -EBADF && rc_w[1].result == -EBADF;
    ok = ok && rc_aio_fired && rc_aio_result == -EBADF;
    if (!ok)
        KT_LOG("races: in flight at ks_cleanup: recv %ld (%s), send %ld (%s), async recv %s %ld\n",
               rc_w[0].result, kt_errname(rc_w[0].result), rc_w[1].result,
               kt_errname(rc_w[1].result), rc_aio_fired ? "fired" : "NOT fired",
               (long)rc_aio_result);
    return ok;
}

/*
 * Under Wine 8 (Wine=1) the cycles are skipped: in 2 of about 15 runs of
 * them Wine's netio.sys crashed (read of address 0 in send_receive_callback,
 * netio.sys+0x4490, after "find_pending_io Pending io not found for
 * tp_wait"): a thread-pool wait callback of a socket that WskCloseSocket
 * had closed and freed ran after the memory was reused by a new socket, and
 * dereferenced the NULL pending-io entry it found there. The provider's
 * fault, not the library's (the same cycles pass on the host bed, whose
 * provider follows Microsoft's documentation). The unload with data in
 * flight still runs under Wine.
 */
static void part_cleanup(void)
{
    LONGLONG t0, ms, max_ms = 0;
    int i, ok = 0, started, n = kt_param.wine ? 0 : RACES_N;

    if (kt_param.wine)
        KT_LOG("WINE races: ks_cleanup cycles with data in flight skipped (Wine 8's netio.sys "
               "crashes on a freed socket's I/O callback)\n");
    for (i = 0; i < n; i++) {
        STEP("races: ks_cleanup with data in flight");
        if (!CHECK("races: data in flight before ks_cleanup", in_flight_setup(FALSE), i))
            return;
        t0 = kt_now_ms();
        ks_cleanup();
        ms = kt_now_ms() - t0;
        if (ms > max_ms)
            max_ms = ms;
        if (in_flight_ended() && ms < RACES_CLEANUP_BOUND_MS)
            ok++;
        else
            CHECK("races: ks_cleanup in time, everything in flight ended with -EBADF", 0, (long)ms);
        started = ks_startup();
        if (!EXPECT_IN("races: ks_startup after ks_cleanup", started, 0))
            return;
    }
    if (n == 0)
        return;
    KT_LOG("races: ks_cleanup with data in flight: %d runs, %d clean, max %ld ms\n", n, ok,
           (long)max_ms);
    CHECK("races: every ks_cleanup with data in flight was clean", ok == n, ok);
}

enum kt_outcome kt_races(void)
{
    int i;

    STEP("races: setup");
    rc_sbuf = kt_alloc(NonPagedPoolNx, RACES_SEND_CHUNK);
    if (!rc_sbuf)
        return KT_DONE;
    ksp_fill(11, 0, rc_sbuf, RACES_SEND_CHUNK);
    for (i = 0; i < 2; i++) {
        KeInitializeEvent(&rc_w[i].go, SynchronizationEvent, FALSE);
        KeInitializeEvent(&rc_w[i].done, SynchronizationEvent, FALSE);
        rc_w[i].slot = kt_spawn(rc_thread, &rc_w[i]);
        if (rc_w[i].slot < 0)
            return KT_DONE;
    }
    part_close();
    part_shutdown();
    part_cleanup();

    STEP("races: unload with data in flight");
    if (!CHECK("races: data in flight for the unload", in_flight_setup(TRUE), 0)) {
        for (i = 0; i < 2; i++) {
            rc_w[i].exit_after = TRUE;
            rc_post(&rc_w[i], RC_STOP, 0, 0);
        }
        return KT_DONE;
    }
    KT_LOG("races ready: unload with a ks_recv, a ks_send and a ks_recv_async in flight\n");
    return KT_DEFERRED;
}

void kt_races_finish(LONGLONG cleanup_start_ms, LONGLONG cleanup_ms, int joined)
{
    LONGLONG ms = kt_now_ms() - cleanup_start_ms;

    KT_LOG("races: unloaded: ks_cleanup %ld ms, threads %s after %ld ms\n", (long)cleanup_ms,
           joined ? "all ended" : "NOT all ended", (long)ms);
    CHECK("races: unload: every thread ended", joined, 0);
    CHECK("races: unload: ks_cleanup within its bound (ms)", cleanup_ms < RACES_CLEANUP_BOUND_MS,
          (long)cleanup_ms);
    CHECK("races: unload: the calls in flight ended with -EBADF", in_flight_ended(), 0);
    if (joined)
        kt_free(rc_sbuf);
}
