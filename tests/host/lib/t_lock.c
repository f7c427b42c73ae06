/*
 * t_lock.c - unit tests of the sleeping lock (src/ks_lock.h): the free
 * lock costs no event, try-acquire fails while it is held, acquire_or
 * gives up on its abort event, several threads keep a counter exact, and
 * the wake-up of a waiter is never lost whatever a releaser does around
 * the waiter's announce.
 *
 * White box: ks_lock.h is compiled here with its three racing steps (the
 * waiter's announce, its wait, the release's clearing of the owner word)
 * routed through hooks. A hook does the real operation; a test may first
 * stop a thread there (a script), so that each interleaving of a releaser
 * and a waiter is played in a fixed order instead of hoped for.
 */
#include "tests.h"

#include "ks_kernel.h"

#include <stdio.h>
#include <string.h>

static LONG t_lock_hook_increment(volatile LONG *p);
static LONG t_lock_hook_exchange(volatile LONG *p, LONG v);
static NTSTATUS t_lock_hook_wait(ULONG count, PVOID objects[], WAIT_TYPE wait_type,
                                 KWAIT_REASON reason, KPROCESSOR_MODE mode, BOOLEAN alertable,
                                 PLARGE_INTEGER timeout, PKWAIT_BLOCK wait_blocks);

/* ks_lock.h uses InterlockedIncrement only for the announce, and
 * InterlockedExchange only for the release. */
#pragma push_macro("InterlockedIncrement")
#pragma push_macro("InterlockedExchange")
#undef InterlockedIncrement
#undef InterlockedExchange
#define InterlockedIncrement(p) t_lock_hook_increment(p)
#define InterlockedExchange(p, v) t_lock_hook_exchange((p), (v))
#define KeWaitForMultipleObjects t_lock_hook_wait
#include "ks_lock.h"
#undef KeWaitForMultipleObjects
#undef InterlockedIncrement
#undef InterlockedExchange
#pragma pop_macro("InterlockedExchange")
#pragma pop_macro("InterlockedIncrement")

/* ---- hooks and scripts ---- */

/* A thread's script: where it stops (0: nowhere) and what it saw. */
struct script {
    int stop_announce; /* stop before the Nth announce (1-based) */
    int stop_after_announce;
    int stop_wait;               /* stop before the Nth wait */
    int stop_clear;              /* stop before the Nth release */
    KEVENT reached;              /* notification: set at the stop */
    KEVENT go;                   /* notification: the test lets the thread go on */
    void (*at_clear)(void *ctx); /* instead of a stop: run this before the release */
    void *at_clear_ctx;
    volatile LONG announces, waits, clears;
};

static _Thread_local struct script *tl_script;
/* Every thread's waits in the slow path (with or without a script). */
static volatile LONG g_waits;

/* The bound of every wait of these tests: a failure, never a hang. */
#define T_BOUND_MS 10000

static BOOLEAN wait_event(KEVENT *e, int ms)
{
    LARGE_INTEGER t = ks__relative_ms((ULONG)ms);
    return KeWaitForSingleObject(e, Executive, KernelMode, FALSE, &t) == STATUS_WAIT_0;
}

static void script_init(struct script *sc)
{
    memset(sc, 0, sizeof(*sc));
    KeInitializeEvent(&sc->reached, NotificationEvent, FALSE);
    KeInitializeEvent(&sc->go, NotificationEvent, FALSE);
}

static void script_stop(struct script *sc)
{
    KeSetEvent(&sc->reached, IO_NO_INCREMENT, FALSE);
    HT_CHECK(wait_event(&sc->go, T_BOUND_MS), "a stopped thread let go on", 0);
}

static LONG t_lock_hook_increment(volatile LONG *p)
{
    struct script *sc = tl_script;
    LONG n = sc != NULL ? InterlockedIncrement(&sc->announces) : 0;
    if (sc != NULL && n == sc->stop_announce)
        script_stop(sc);
    LONG r = InterlockedIncrement(p);
    if (sc != NULL && n == sc->stop_after_announce)
        script_stop(sc);
    return r;
}

static LONG t_lock_hook_exchange(volatile LONG *p, LONG v)
{
    struct script *sc = tl_script;
    LONG n = sc != NULL ? InterlockedIncrement(&sc->clears) : 0;
    if (sc != NULL && sc->at_clear != NULL)
        sc->at_clear(sc->at_clear_ctx);
    if (sc != NULL && n == sc->stop_clear)
        script_stop(sc);
    return InterlockedExchange(p, v);
}

static NTSTATUS t_lock_hook_wait(ULONG count, PVOID objects[], WAIT_TYPE wait_type,
                                 KWAIT_REASON reason, KPROCESSOR_MODE mode, BOOLEAN alertable,
                                 PLARGE_INTEGER timeout, PKWAIT_BLOCK wait_blocks)
{
    struct script *sc = tl_script;
    InterlockedIncrement(&g_waits);
    LONG n = sc != NULL ? InterlockedIncrement(&sc->waits) : 0;
    if (sc != NULL && n == sc->stop_wait)
        script_stop(sc);
    return KeWaitForMultipleObjects(count, objects, wait_type, reason, mode, alertable, timeout,
                                    wait_blocks);
}

/* A thread that takes the lock (acquire_or with abort, NULL: acquire)
 * under its script, notes the outcome and releases what it took. */
struct taker {
    ks_lock *l;
    KEVENT *abort;
    struct script sc;
    volatile LONG result;    /* -1 running, 0 aborted, 1 acquired */
    volatile LONG held_seen; /* l->held right after it acquired */
    KEVENT hold;             /* if hold_lock: released when this is set */
    BOOLEAN hold_lock;
    ht_thread *t;
};

static void taker_main(void *p)
{
    struct taker *tk = p;
    tl_script = &tk->sc;
    BOOLEAN got;
    if (tk->abort != NULL) {
        got = ks__lock_acquire_or(tk->l, tk->abort);
    } else {
        ks__lock_acquire(tk->l);
        got = TRUE;
    }
    if (got) {
        tk->held_seen = tk->l->held;
        if (tk->hold_lock)
            HT_CHECK(wait_event(&tk->hold, T_BOUND_MS), "taker told to release", 0);
    }
    InterlockedExchange(&tk->result, got ? 1 : 0);
    if (got)
        ks__lock_release(tk->l);
    tl_script = NULL;
}

static void taker_start(struct taker *tk, ks_lock *l, KEVENT *abort)
{
    memset(tk, 0, sizeof(*tk));
    script_init(&tk->sc);
    KeInitializeEvent(&tk->hold, NotificationEvent, FALSE);
    tk->l = l;
    tk->abort = abort;
    tk->result = -1;
}

static void taker_spawn(struct taker *tk)
{
    tk->t = ht_spawn(taker_main, tk);
    HT_CHECK(tk->t != NULL, "taker thread", 0);
}

static int taker_join(struct taker *tk)
{
    int ok = ht_join(tk->t, T_BOUND_MS);
    HT_CHECK(ok, "taker returned (no lost wake-up, no deadlock)", tk->result);
    return ok;
}

static BOOLEAN stopped(struct script *sc)
{
    return wait_event(&sc->reached, T_BOUND_MS);
}

/* ---- uncontended ---- */

/* A free lock is taken and given back with the owner word alone: no
 * announce, no wait, the event never set. Try and release are allowed at
 * DISPATCH_LEVEL. An abort already signalled does not stop acquire_or
 * from taking a free lock. */
static void t_lock_uncontended(void)
{
    static ks_lock l;
    static KEVENT abort;
    struct script sc;
    script_init(&sc);
    ks__lock_init(&l);
    KeInitializeEvent(&abort, NotificationEvent, TRUE);
    HT_EQ(l.held, 0, "initialised free");
    HT_EQ(l.waiters, 0, "no waiter");
    HT_EQ(KeReadStateEvent(&l.wake), 0, "event not signalled");
    tl_script = &sc;
    for (int i = 0; i < 1000; i++) {
        ks__lock_acquire(&l);
        HT_EQ(l.held, 1, "held after ks__lock_acquire");
        ks__lock_release(&l);
        HT_EQ(l.held, 0, "free after ks__lock_release");
    }
    HT_CHECK(ks__lock_acquire_or(&l, &abort), "acquire_or takes a free lock despite its abort", 0);
    HT_EQ(l.held, 1, "held");
    ks__lock_release(&l);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    BOOLEAN got = ks__lock_try_acquire(&l);
    if (got)
        ks__lock_release(&l);
    KeLowerIrql(old);
    HT_CHECK(got, "try-acquire at DISPATCH_LEVEL", 0);
    tl_script = NULL;
    HT_EQ(sc.announces, 0, "uncontended: never announced as a waiter");
    HT_EQ(sc.waits, 0, "uncontended: never waited");
    HT_EQ(sc.clears, 1002, "one owner-word release per acquire");
    HT_EQ(l.waiters, 0, "no waiter");
    HT_EQ(KeReadStateEvent(&l.wake), 0, "the event was never set");
}

/* ---- try-acquire ---- */

static ks_lock try_lock;
static volatile LONG try_result;

static void try_other_thread(void *p)
{
    (void)p;
    BOOLEAN got = ks__lock_try_acquire(&try_lock);
    if (got)
        ks__lock_release(&try_lock);
    InterlockedExchange(&try_result, got ? 1 : 0);
}

/* While the lock is held, try-acquire fails on any thread, changes
 * nothing and does not announce a waiter; once released it succeeds. */
static void t_lock_try_held(void)
{
    ks__lock_init(&try_lock);
    HT_CHECK(ks__lock_try_acquire(&try_lock), "try-acquire of a free lock", 0);
    for (int i = 0; i < 3; i++)
        HT_CHECK(!ks__lock_try_acquire(&try_lock), "try-acquire of a held lock fails", i);
    try_result = -1;
    HT_CHECK(ht_join(ht_spawn(try_other_thread, NULL), T_BOUND_MS), "other thread", 0);
    HT_EQ(try_result, 0, "try-acquire from another thread fails while held");
    HT_EQ(try_lock.held, 1, "still held by the first owner");
    HT_EQ(try_lock.waiters, 0, "a failed try is no waiter");
    HT_EQ(KeReadStateEvent(&try_lock.wake), 0, "event untouched");
    ks__lock_release(&try_lock);
    HT_CHECK(ht_join(ht_spawn(try_other_thread, NULL), T_BOUND_MS), "other thread", 1);
    HT_EQ(try_result, 1, "try-acquire from another thread after the release");
    HT_EQ(try_lock.held, 0, "free again");
}

/* ---- acquire_or and its abort ---- */

/* acquire_or returns FALSE without the lock when its abort is signalled:
 * already signalled, or while it waits; an aborted waiter leaves the
 * lock to its owner and does not strand another waiter. */
static void t_lock_abort(void)
{
    static ks_lock l;
    static KEVENT abort, never;
    struct taker a, b;
    ks__lock_init(&l);
    KeInitializeEvent(&abort, NotificationEvent, TRUE);
    KeInitializeEvent(&never, NotificationEvent, FALSE);
    HT_CHECK(ks__lock_try_acquire(&l), "owner takes it", 0);

    /* Abort signalled before the call. */
    taker_start(&a, &l, &abort);
    taker_spawn(&a);
    if (taker_join(&a))
        HT_EQ(a.result, 0, "acquire_or of a held lock with its abort signalled: FALSE");
    HT_EQ(l.held, 1, "the owner still holds it");
    HT_EQ(l.waiters, 0, "the aborted waiter is counted out");

    /* Abort signalled while a waits; b (no abort) waits beside it. */
    KeClearEvent(&abort);
    taker_start(&a, &l, &abort);
    a.sc.stop_wait = 1;
    taker_start(&b, &l, &never);
    b.sc.stop_wait = 1;
    taker_spawn(&a);
    taker_spawn(&b);
    HT_CHECK(stopped(&a.sc) && stopped(&b.sc), "both waiters at their wait", 0);
    HT_EQ(l.waiters, 2, "both announced");
    KeSetEvent(&a.sc.go, IO_NO_INCREMENT, FALSE);
    KeSetEvent(&b.sc.go, IO_NO_INCREMENT, FALSE);
    KeSetEvent(&abort, IO_NO_INCREMENT, FALSE);
    if (taker_join(&a))
        HT_EQ(a.result, 0, "the waiter whose abort was set gives up");
    HT_EQ(b.result, -1, "the other waiter still waits");
    HT_EQ(l.held, 1, "the owner still holds it");
    ks__lock_release(&l);
    if (taker_join(&b))
        HT_EQ(b.result, 1, "the other waiter gets the lock at the release");
    HT_EQ(b.held_seen, 1, "held while b owned it");
    HT_EQ(l.waiters, 0, "no waiter left");
    HT_EQ(l.held, 0, "free at the end");
}

/* ---- a releaser racing a waiter ---- */

/* The test holds l; w is made ready to take it (its stop set by the caller). */
static void hold_for_waiter(ks_lock *l, struct taker *w)
{
    HT_CHECK(ks__lock_try_acquire(l), "the test takes the lock", 0);
    taker_start(w, l, NULL);
}

/* w started and at its stop. */
static void waiter_at_stop(struct taker *w, const char *what)
{
    taker_spawn(w);
    HT_CHECK(stopped(&w->sc), what, 0);
}

/* w let go: it took the lock after waits waits, and is counted out. */
static void waiter_took(ks_lock *l, struct taker *w, LONG waits, const char *what)
{
    KeSetEvent(&w->sc.go, IO_NO_INCREMENT, FALSE);
    if (taker_join(w))
        HT_EQ(w->result, 1, what);
    HT_EQ(w->sc.waits, waits, "its waits");
    HT_EQ(l->waiters, 0, "counted out");
}

/* The release lands between the waiter's failed first try and its
 * announce: the releaser sees no waiter and sets nothing; the waiter's
 * try after its announce takes the lock without sleeping. */
static void t_lock_race_release_before_announce(void)
{
    static ks_lock l;
    struct taker w;
    ks__lock_init(&l);
    hold_for_waiter(&l, &w);
    w.sc.stop_announce = 1;
    waiter_at_stop(&w, "waiter stopped before its announce");
    HT_EQ(l.waiters, 0, "not announced yet");
    ks__lock_release(&l);
    HT_EQ(KeReadStateEvent(&l.wake), 0, "no announced waiter: the event is not set");
    waiter_took(&l, &w, 0,
                "the waiter took the lock without sleeping (its try after the announce)");
    HT_EQ(l.held, 0, "released");
}

/* The release lands between the waiter's last try and its wait: the
 * releaser sees the announce and sets the event; the wait returns at once. */
static void t_lock_race_release_before_wait(void)
{
    static ks_lock l;
    struct taker w;
    ks__lock_init(&l);
    hold_for_waiter(&l, &w);
    w.sc.stop_wait = 1;
    waiter_at_stop(&w, "waiter stopped before its wait");
    HT_EQ(l.waiters, 1, "announced");
    ks__lock_release(&l);
    HT_EQ(KeReadStateEvent(&l.wake), 1, "the release set the event for the announced waiter");
    waiter_took(&l, &w, 1, "the waiter took the lock after one wait");
    HT_EQ(KeReadStateEvent(&l.wake), 0, "its wait consumed the event");
}

struct announce_during_clear {
    struct taker *w;
    int done;
};

/* Run by the releaser just before it clears the owner word: the waiter
 * tries, announces, tries again and reaches its wait meanwhile. */
static void let_waiter_reach_wait(void *p)
{
    struct announce_during_clear *c = p;
    if (c->done++ > 0)
        return;
    taker_spawn(c->w);
    HT_CHECK(stopped(&c->w->sc), "waiter at its wait while the release is under way", 0);
    KeSetEvent(&c->w->sc.go, IO_NO_INCREMENT, FALSE);
}

/* The waiter announces and goes to sleep while the releaser is between
 * entering ks__lock_release and clearing the owner word: the releaser must
 * look for waiters after the clear, see this one and wake it. */
static void t_lock_race_announce_during_release(void)
{
    static ks_lock l;
    struct taker w;
    struct script sc;
    struct announce_during_clear c = {&w, 0};
    ks__lock_init(&l);
    hold_for_waiter(&l, &w);
    w.sc.stop_wait = 1;
    script_init(&sc);
    sc.at_clear = let_waiter_reach_wait;
    sc.at_clear_ctx = &c;
    tl_script = &sc;
    ks__lock_release(&l);
    tl_script = NULL;
    waiter_took(&l, &w, 1, "the waiter that slept during the release took the lock");
    HT_EQ(l.held, 0, "released");
}

/* The release lands between the waiter's announce and its last try: the
 * try takes the lock and the event stays set with nobody waiting (a stale
 * signal). The next contended acquire pays one extra wait for it, and
 * still sleeps until the real release. */
static void t_lock_race_stale_wake(void)
{
    static ks_lock l;
    struct taker w, w2;
    ks__lock_init(&l);
    hold_for_waiter(&l, &w);
    w.sc.stop_after_announce = 1;
    waiter_at_stop(&w, "waiter stopped after its announce");
    ks__lock_release(&l);
    waiter_took(&l, &w, 0, "the waiter took the lock without waiting");
    HT_EQ(KeReadStateEvent(&l.wake), 1, "the event is left set (stale)");

    hold_for_waiter(&l, &w2);
    w2.sc.stop_wait = 2;
    waiter_at_stop(&w2, "the next waiter at its second wait (the stale one passed)");
    HT_EQ(w2.result, -1, "the stale signal did not give it the held lock");
    HT_EQ(l.held, 1, "the owner still holds it");
    ks__lock_release(&l);
    waiter_took(&l, &w2, 2, "the second waiter took the lock after two waits (stale, release)");
}

/* ---- contention ---- */

enum { CT_THREADS = 4, CT_ROUNDS = 20000 };

static struct {
    ks_lock l;
    KEVENT never, aborted;
    volatile LONG inside, overlaps;
    volatile LONG taken, aborts;
    int counter; /* protected by l only */
} ct;

/* One pass through the critical section: nobody else is inside, and the
 * counter's read-modify-write is split so that a second owner would lose
 * an update. */
static void ct_critical(void)
{
    if (InterlockedIncrement(&ct.inside) != 1)
        InterlockedIncrement(&ct.overlaps);
    int v = *(volatile int *)&ct.counter;
    *(volatile int *)&ct.counter = v + 1;
    InterlockedIncrement(&ct.taken);
    InterlockedDecrement(&ct.inside);
}

static void ct_worker(void *p)
{
    int kind = (int)(ULONG_PTR)p;
    for (int i = 0; i < CT_ROUNDS; i++) {
        BOOLEAN got = TRUE;
        switch ((kind + i) % 4) {
        case 0:
            ks__lock_acquire(&ct.l);
            break;
        case 1:
            got = ks__lock_acquire_or(&ct.l, &ct.never);
            HT_CHECK(got, "acquire_or with an abort never set", i);
            break;
        case 2: /* spin on try-acquire a little, then sleep */
            got = FALSE;
            for (int t = 0; t < 50 && !got; t++)
                got = ks__lock_try_acquire(&ct.l);
            if (!got)
                ks__lock_acquire(&ct.l);
            got = TRUE;
            break;
        default: /* an abort that is always set: takes it or gives up */
            got = ks__lock_acquire_or(&ct.l, &ct.aborted);
            if (!got)
                InterlockedIncrement(&ct.aborts);
            break;
        }
        if (got) {
            ct_critical();
            ks__lock_release(&ct.l);
        }
    }
}

/* CT_THREADS threads take the lock CT_ROUNDS times each, by every kind of
 * acquire (some with an abort that is always set): one owner at a time,
 * no lost update, no deadlock, no waiter left counted. Contention is
 * forced once: every thread's first acquire finds the lock held by the
 * test and announces itself before the test releases it. */
static void t_lock_contention(void)
{
    ht_thread *t[CT_THREADS];
    memset(&ct, 0, sizeof(ct));
    ks__lock_init(&ct.l);
    KeInitializeEvent(&ct.never, NotificationEvent, FALSE);
    KeInitializeEvent(&ct.aborted, NotificationEvent, TRUE);
    HT_CHECK(ks__lock_try_acquire(&ct.l), "test holds the lock first", 0);
    LONG waits_before = g_waits;
    for (int i = 0; i < CT_THREADS; i++) {
        t[i] = ht_spawn(ct_worker, (void *)(ULONG_PTR)(i * 4)); /* first acquire: case 0 */
        HT_CHECK(t[i] != NULL, "worker thread", i);
    }
    /* Every thread announced itself (its first acquire is a plain one). */
    LONGLONG until = ht_now_ms() + T_BOUND_MS;
    while (ct.l.waiters < CT_THREADS && ht_now_ms() < until)
        ht_sleep_ms(1);
    HT_EQ(ct.l.waiters, CT_THREADS, "every worker waits for the test's release");
    ks__lock_release(&ct.l);
    int joined = 0;
    for (int i = 0; i < CT_THREADS; i++)
        joined += ht_join(t[i], 60000);
    HT_EQ(joined, CT_THREADS, "every worker finished (no deadlock, no lost wake-up)");
    HT_EQ(ct.overlaps, 0, "never two owners at once");
    HT_EQ(ct.counter, ct.taken, "no lost update");
    HT_EQ(ct.taken + ct.aborts, (LONG)CT_THREADS * CT_ROUNDS, "every acquire accounted for");
    HT_CHECK(ct.taken >= (LONG)CT_THREADS * CT_ROUNDS * 3 / 4, "all but the aborting kind took it",
             ct.taken);
    HT_EQ(ct.l.held, 0, "free at the end");
    HT_EQ(ct.l.waiters, 0, "waiters back to 0");
    printf("ht: lock-contention: %ld acquires, %ld aborted, %ld waits\n", (long)ct.taken,
           (long)ct.aborts, (long)(g_waits - waits_before));
}

const struct ht_test lock_tests[] = {
    {"lock-uncontended", t_lock_uncontended, ht_runs_once},
    {"lock-try-held", t_lock_try_held, ht_runs_once},
    {"lock-abort", t_lock_abort, ht_runs_once},
    {"lock-race-release-before-announce", t_lock_race_release_before_announce, ht_runs_once},
    {"lock-race-release-before-wait", t_lock_race_release_before_wait, ht_runs_once},
    {"lock-race-announce-during-release", t_lock_race_announce_during_release, ht_runs_once},
    {"lock-race-stale-wake", t_lock_race_stale_wake, ht_runs_once},
    {"lock-contention", t_lock_contention, ht_runs_once},
};
const int lock_test_count = (int)(sizeof(lock_tests) / sizeof(lock_tests[0]));
