/*
 * t_rundown.c - unit tests of src/ks_rundown.h: the rundown counter's wait
 * returns at once at 0, times out while a user remains, is woken by the
 * last release (also while users keep counting and uncounting around it),
 * and the static lock, zeroed, is initialised by its first acquirers racing
 * each other and then excludes them.
 */
#include "tests.h"

#include "ks_rundown.h"

#include <stdio.h>

#define RD_THREADS 4
#define RD_ROUNDS 2000

static void t_rundown_basic(void)
{
    static ks_rundown r; /* zeroed, as the library's */
    HT_CHECK(ks__rundown_wait(&r, 1000), "no user: the wait returns at once", r.count);
    ks__rundown_acquire(&r);
    LONGLONG t0 = ht_now_ms();
    HT_CHECK(!ks__rundown_wait(&r, 50), "a user left: the wait times out", r.count);
    HT_CHECK(ht_now_ms() - t0 >= 40, "after its timeout", ht_now_ms() - t0);
    ks__rundown_release(&r);
    HT_CHECK(ks__rundown_wait(&r, 1000), "released: the wait returns", r.count);
    HT_EQ(r.waiting, 0, "the waiter withdrew");
}

struct rd_users {
    ks_rundown r;
    volatile LONG go; /* the holders release once set */
};

/* Holds one count until told, then churns (counts and uncounts). */
static void rd_holder(void *p)
{
    struct rd_users *u = (struct rd_users *)p;
    while (InterlockedCompareExchange(&u->go, 0, 0) == 0)
        ht_sleep_ms(1);
    ks__rundown_release(&u->r);
    for (int i = 0; i < RD_ROUNDS; i++) {
        ks__rundown_acquire(&u->r);
        ks__rundown_release(&u->r);
    }
}

static void t_rundown_wakes(void)
{
    static struct rd_users u;
    ht_thread *t[RD_THREADS];
    for (int i = 0; i < RD_THREADS; i++) {
        ks__rundown_acquire(&u.r); /* counted before the wait starts, as sockets are */
        t[i] = ht_spawn(rd_holder, &u);
        HT_CHECK(t[i] != NULL, "holder thread", i);
    }
    InterlockedExchange(&u.go, 1);
    LONGLONG t0 = ht_now_ms();
    BOOLEAN drained = ks__rundown_wait(&u.r, 30000);
    HT_CHECK(drained, "the last release woke the waiter", u.r.count);
    HT_CHECK(ht_now_ms() - t0 < 20000, "woken, not timed out", ht_now_ms() - t0);
    int joined = 0;
    for (int i = 0; i < RD_THREADS; i++)
        joined += ht_join(t[i], 60000);
    HT_EQ(joined, RD_THREADS, "every holder finished");
    HT_EQ(u.r.count, 0, "balanced");
}

struct sl_users {
    ks_static_lock l;
    volatile LONG go;
    volatile LONG inside, overlaps;
    LONG counter; /* under l */
};

static void sl_worker(void *p)
{
    struct sl_users *u = (struct sl_users *)p;
    while (InterlockedCompareExchange(&u->go, 0, 0) == 0)
        YieldProcessor();
    for (int i = 0; i < RD_ROUNDS; i++) {
        ks__static_lock_acquire(&u->l);
        if (InterlockedIncrement(&u->inside) != 1)
            InterlockedIncrement(&u->overlaps);
        u->counter++;
        InterlockedDecrement(&u->inside);
        ks__static_lock_release(&u->l);
    }
}

static void t_static_lock(void)
{
    static struct sl_users u; /* zeroed: the first acquirers initialise it */
    ht_thread *t[RD_THREADS];
    for (int i = 0; i < RD_THREADS; i++) {
        t[i] = ht_spawn(sl_worker, &u);
        HT_CHECK(t[i] != NULL, "worker thread", i);
    }
    InterlockedExchange(&u.go, 1); /* all race for the first acquire */
    int joined = 0;
    for (int i = 0; i < RD_THREADS; i++)
        joined += ht_join(t[i], 60000);
    HT_EQ(joined, RD_THREADS, "every worker finished");
    HT_EQ(u.l.init, KS_STATIC_READY, "initialised once");
    HT_EQ(u.overlaps, 0, "never two owners at once");
    HT_EQ(u.counter, (LONG)RD_THREADS * RD_ROUNDS, "no lost update");
    HT_EQ(u.l.lock.held, 0, "free at the end");
    printf("ht: static-lock: %ld acquires\n", (long)u.counter);
}

const struct ht_test rundown_tests[] = {
    {"rundown-basic", t_rundown_basic, ht_runs_once},
    {"rundown-wakes", t_rundown_wakes, ht_runs_once},
    {"static-lock", t_static_lock, ht_runs_once},
};
const int rundown_test_count = (int)(sizeof(rundown_tests) / sizeof(rundown_tests[0]));
