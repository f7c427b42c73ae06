/*
 * t_thread.c - ks_thread_start / ks_thread_join (wsksock/thread.h): start
 * and join, a join with a bound, a thread joining itself (-EDEADLK), bad
 * arguments (-EINVAL), the IRQL check (-EPERM), and the record's
 * allocation failing (thread-fault needs KSHIM_FAULT=pool.ksTh:1: its run,
 * fault_runs, sets it).
 */
#include "tests.h"

#include "wsksock/thread.h"

struct t_ctx {
    volatile LONG ran;
    volatile LONG release;
    struct ks_thread *self;
    volatile LONG self_join; /* what ks_thread_join(self) returned */
};

static void count_routine(void *p)
{
    struct t_ctx *c = p;
    InterlockedIncrement(&c->ran);
}

static void wait_routine(void *p)
{
    struct t_ctx *c = p;
    InterlockedIncrement(&c->ran);
    while (c->release == 0)
        ht_sleep_ms(1);
}

static void self_routine(void *p)
{
    struct t_ctx *c = p;
    while (c->release == 0) /* until c->self is stored */
        ht_sleep_ms(1);
    InterlockedExchange(&c->self_join, ks_thread_join(c->self));
    InterlockedIncrement(&c->ran);
}

/* Starts and joins threads, one and many at once: each ran once. */
static void t_thread_start_join(void)
{
    enum { N = 8 };
    struct t_ctx c = {0};
    struct ks_thread *t[N];
    for (int i = 0; i < N; i++) {
        t[i] = NULL;
        HT_EQ(ks_thread_start(&t[i], count_routine, &c), 0, "ks_thread_start");
        HT_CHECK(t[i] != NULL, "a record", i);
    }
    for (int i = 0; i < N; i++)
        if (t[i] != NULL)
            HT_EQ(ks_thread_join(t[i]), 0, "ks_thread_join");
    HT_EQ(c.ran, N, "every routine ran once, before its join returned");
}

/* A bounded join of a running thread: -ETIMEDOUT, the record still valid;
 * once the thread ended, 0. */
static void t_thread_join_timeout(void)
{
    struct t_ctx c = {0};
    struct ks_thread *t = NULL;
    HT_EQ(ks_thread_start(&t, wait_routine, &c), 0, "ks_thread_start");
    if (t == NULL)
        return;
    HT_EQ(ks_thread_join_timeout(t, 0), -ETIMEDOUT, "look only: still running");
    LONGLONG start = ht_now_ms();
    HT_EQ(ks_thread_join_timeout(t, 100), -ETIMEDOUT, "100 ms: still running");
    LONGLONG took = ht_now_ms() - start;
    HT_CHECK(took >= 90 && took < 5000, "the bound honoured (ms)", took);
    InterlockedExchange(&c.release, 1);
    HT_EQ(ks_thread_join_timeout(t, 10000), 0, "ended within 10 s");
    HT_EQ(c.ran, 1, "the routine ran");
}

/* A thread joining itself gets -EDEADLK (and stays joinable). */
static void t_thread_join_self(void)
{
    struct t_ctx c = {0};
    struct ks_thread *t = NULL;
    HT_EQ(ks_thread_start(&t, self_routine, &c), 0, "ks_thread_start");
    if (t == NULL)
        return;
    c.self = t;
    InterlockedExchange(&c.release, 1);
    HT_EQ(ks_thread_join(t), 0, "joined from the starting thread");
    HT_EQ(c.ran, 1, "the routine ran to its end");
    HT_EQ(c.self_join, -EDEADLK, "joining itself: -EDEADLK");
}

/* Bad arguments and the IRQL check: -EINVAL, -EPERM; nothing started. */
static void t_thread_bad_args(void)
{
    struct t_ctx c = {0};
    struct ks_thread *t = (struct ks_thread *)&c; /* must be reset to NULL */
    HT_EQ(ks_thread_start(NULL, count_routine, &c), -EINVAL, "out NULL");
    HT_EQ(ks_thread_start(&t, NULL, &c), -EINVAL, "routine NULL");
    HT_CHECK(t == NULL, "*out NULL on failure", 0);
    HT_EQ(ks_thread_join(NULL), -EINVAL, "join NULL");
    HT_EQ(ks_thread_join_timeout(NULL, 0), -EINVAL, "join_timeout NULL");

    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    int err = ks_thread_start(&t, count_routine, &c);
    KeLowerIrql(old);
    HT_EQ(err, -EPERM, "ks_thread_start at DISPATCH_LEVEL");
    HT_CHECK(t == NULL, "*out NULL on failure", 0);

    HT_EQ(ks_thread_start(&t, wait_routine, &c), 0, "ks_thread_start");
    if (t == NULL)
        return;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    err = ks_thread_join(t);
    KeLowerIrql(old);
    HT_EQ(err, -EPERM, "ks_thread_join at DISPATCH_LEVEL");
    InterlockedExchange(&c.release, 1);
    HT_EQ(ks_thread_join(t), 0, "still joinable");
    HT_EQ(c.ran, 1, "the routine ran once");
    HT_CHECK(ks_strerror(-EDEADLK)[0] != 'U', "ks_strerror knows EDEADLK", EDEADLK);
}

/* The record's allocation fails: -ENOMEM, no thread, *out NULL. */
static void t_thread_fault(void)
{
    ULONG n = 0;
    const char *site = kshim_fault_site(&n);
    HT_CHECK(site != NULL, "run with KSHIM_FAULT=pool.ksTh:1", 0);
    struct t_ctx c = {0};
    struct ks_thread *t = (struct ks_thread *)&c;
    HT_EQ(ks_thread_start(&t, count_routine, &c), -ENOMEM, "-ENOMEM under the fault");
    HT_CHECK(t == NULL, "*out NULL", 0);
    HT_CHECK(kshim_fault_fired(), "the fault fired", 0);
    ht_sleep_ms(50);
    HT_EQ(c.ran, 0, "no routine ran");
    HT_EQ(ks_thread_start(&t, count_routine, &c), 0, "the next start works");
    if (t != NULL)
        HT_EQ(ks_thread_join(t), 0, "ks_thread_join");
    HT_EQ(c.ran, 1, "that routine ran");
}

/* ctest's host_lib_thread-fault. */
static const struct ht_run fault_runs[] = {
    {"", "KSHIM_FAULT=pool.ksTh:1"},
    {NULL, NULL},
};

const struct ht_test thread_tests[] = {
    {"thread-start-join", t_thread_start_join, ht_runs_once},
    {"thread-join-timeout", t_thread_join_timeout, ht_runs_once},
    {"thread-join-self", t_thread_join_self, ht_runs_once},
    {"thread-bad-args", t_thread_bad_args, ht_runs_once},
    {"thread-fault", t_thread_fault, fault_runs},
};
const int thread_test_count = (int)(sizeof(thread_tests) / sizeof(thread_tests[0]));
