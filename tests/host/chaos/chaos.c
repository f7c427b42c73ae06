/*
 * chaos.c - the library's chaos test on the host bed: command line, one
 * run per seed (workers, the ks_cleanup/ks_startup cycler, the native
 * peer), the bounds on every thread, the shim's leak check, the report.
 *
 *   chaos [--seed N] [--seeds S] [--duration SEC] [--threads T]
 *         [--no cleanup,stale,aio,cancel,events,shutdown,listen-recv]
 *
 * Seeds N, N+1, ... N+S-1 run one after the other, each for SEC seconds
 * between its own ks_startup and final ks_cleanup. Without --seed, N is
 * drawn from the clock. A seed decides what each thread tries (not how
 * the threads interleave); KSHIM_SEED (set to N unless given) decides the
 * provider's completion mix in the mixed mode. The last line is
 * "chaos: N operations, S seeds, F failures, L leaks"; the exit status is
 * 1 on any failure or leak.
 */
#define _GNU_SOURCE /* setenv */
#include "chaos.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct ch_run ch;

/* Bounds (ms): a thread's end after the stop, ks_cleanup (each close's
 * disconnect waits at most 5 s: the total must not grow with the number
 * of sockets), and a whole seed beyond its duration (the watchdog). */
#define CH_JOIN_MS 30000
#define CH_CLEANUP_MS 10000
#define CH_HANG_MS 60000

static struct {
    unsigned seed;
    int have_seed;
    int seeds;
    double duration;
    int threads;
    unsigned excluded;
    const char *excluded_text;
} opt = {0, 0, 1, 10.0, 5, 0, ""};

static volatile LONG64 watchdog_deadline; /* ms, 0: none */
static volatile LONG cleanup_cycles;
static long long thread_ops[CH_MAX_THREADS];

static void *watchdog(void *arg)
{
    (void)arg;
    for (;;) {
        ht_sleep_ms(250);
        LONG64 d = watchdog_deadline;
        if (d != 0 && ht_now_ms() > d) {
            printf("chaos: FAIL seed %u: still running %d s after its end (hang)\n", ch.seed,
                   CH_HANG_MS / 1000);
            printf("chaos: 0 operations, 0 seeds, 1 failures, 0 leaks\n");
            fflush(stdout);
            _exit(1);
        }
    }
    return NULL;
}

/* ks_cleanup, timed against its bound. */
static void timed_cleanup(const char *when)
{
    LONGLONG t0 = ht_now_ms();
    ks_cleanup();
    LONGLONG ms = ht_now_ms() - t0;
    if (ms > CH_CLEANUP_MS)
        ch_fail("ks_cleanup (%s) took %lld ms (bound %d ms)", when, (long long)ms, CH_CLEANUP_MS);
}

static void worker(void *arg)
{
    int index = (int)(LONG_PTR)arg;
    struct ch_rng r;
    long long n = 0;
    ch_rng_init(&r, ch.seed, (unsigned)index + 1);
    while (!ch.stop) {
        unsigned k = ch_rand(&r, 100);
        if (k < 20 && !(ch.excluded & CH_NO_AIO))
            ch_aio_op(&r);
        else if (k < 27 && !(ch.excluded & CH_NO_CANCEL))
            ch_cancel_op(&r);
        else if (k < 32 && !(ch.excluded & CH_NO_EVENTS))
            ch_events_op(&r);
        else
            ch_sync_op(&r);
        n++;
    }
    thread_ops[index] = n;
}

/* ks_cleanup and ks_startup at random intervals while the workers call. */
static void cycler(void *arg)
{
    (void)arg;
    struct ch_rng r;
    ch_rng_init(&r, ch.seed, 1000);
    for (;;) {
        LONGLONG until = ht_now_ms() + 200 + ch_rand(&r, 1300);
        while (!ch.stop && ht_now_ms() < until)
            ht_sleep_ms(5);
        if (ch.stop)
            return;
        InterlockedExchange(&ch.lib_state, CH_CLEANING);
        timed_cleanup("a cycle under load");
        InterlockedExchange(&ch.lib_state, CH_DOWN);
        /* Every descriptor from before is stale now. */
        for (int i = 0; i < CH_SLOTS; i++)
            ch_note_closed(ch.slots[i]);
        ht_sleep_ms((int)ch_rand(&r, 30));
        InterlockedExchange(&ch.lib_state, CH_STARTING);
        int s = ks_startup();
        if (s != 0) {
            ch_check(C_STARTUP, s, "during a cycle");
            ch_fail("ks_startup failed with %d during a cycle; the run stops", s);
            InterlockedExchange(&ch.lib_state, CH_DOWN);
            return;
        }
        InterlockedExchange(&ch.lib_state, CH_UP);
        InterlockedIncrement(&cleanup_cycles);
    }
}

/* One seed; returns the leak kinds the shim found after it. */
static int run_seed(unsigned seed, long long *ops)
{
    char name[64];
    LONG failures_before = ch_failures;
    LONGLONG t0 = ht_now_ms();
    ht_thread *threads[CH_MAX_THREADS] = {0}, *cyc = NULL;

    memset(&ch, 0, sizeof(ch));
    memset(thread_ops, 0, sizeof(thread_ops));
    ch.seed = seed;
    ch.excluded = opt.excluded;
    cleanup_cycles = 0;
    ch_aio_reset();
    printf("chaos: seed %u\n", seed);
    watchdog_deadline = t0 + (LONGLONG)(opt.duration * 1000) + CH_HANG_MS;

    struct ch_peer *peer = ch_peer_start(seed, &ch.peer_port4, &ch.peer_port6);
    if (peer == NULL) {
        ch_fail("the native peer did not start");
        return 0;
    }
    int s = ks_startup();
    if (s != 0) {
        ch_fail("ks_startup returned %d", s);
        ch_peer_stop(peer);
        return 0;
    }
    ch.lib_state = CH_UP;
    for (int i = 0; i < opt.threads; i++)
        threads[i] = ht_spawn(worker, (void *)(LONG_PTR)i);
    if (!(opt.excluded & CH_NO_CLEANUP))
        cyc = ht_spawn(cycler, NULL);

    LONGLONG end = t0 + (LONGLONG)(opt.duration * 1000);
    while (ht_now_ms() < end)
        ht_sleep_ms(10);
    InterlockedExchange(&ch.stop, 1);

    LONGLONG join_end = ht_now_ms() + CH_JOIN_MS;
    int joined = 1;
    for (int i = 0; i < opt.threads; i++) {
        LONGLONG left = join_end - ht_now_ms();
        if (!ht_join(threads[i], left > 0 ? (int)left : 0)) {
            ch_fail("worker thread %d did not end within %d ms of the stop", i, CH_JOIN_MS);
            joined = 0;
        }
    }
    if (cyc != NULL && !ht_join(cyc, CH_JOIN_MS + CH_CLEANUP_MS)) {
        ch_fail("the cleanup cycler did not end within %d ms of the stop",
                CH_JOIN_MS + CH_CLEANUP_MS);
        joined = 0;
    }
    if (!joined) {
        /* Threads are still inside the library: nothing more is safe. */
        printf("chaos: %lld operations, %d seeds, %ld failures, 0 leaks\n", *ops, 1,
               (long)ch_failures);
        fflush(stdout);
        _exit(1);
    }
    for (int i = 0; i < opt.threads; i++)
        *ops += thread_ops[i];
    if (ch.lib_state == CH_UP) {
        InterlockedExchange(&ch.lib_state, CH_CLEANING);
        timed_cleanup("the final one");
    }
    InterlockedExchange(&ch.lib_state, CH_DOWN);
    ch_aio_final_check();
    ch_peer_stop(peer);
    if (!kshim_wait_threads(10000))
        ch_fail("system threads still running 10 s after the final ks_cleanup");
    snprintf(name, sizeof(name), "chaos seed %u", seed);
    int leaks = kshim_check_leaks(name);
    watchdog_deadline = 0;
    long long n = 0;
    for (int i = 0; i < opt.threads; i++)
        n += thread_ops[i];
    printf("chaos: seed %u: %lld operations (%ld asynchronous, %ld callbacks), %ld cleanup "
           "cycles, %ld failures, %d leaks, %lld ms\n",
           seed, n, (long)ch_aio_submitted, (long)ch_aio_callbacks, (long)cleanup_cycles,
           (long)(ch_failures - failures_before), leaks, (long long)(ht_now_ms() - t0));
    return leaks;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--seed N] [--seeds S] [--duration SEC] [--threads T]\n"
            "       [--no cleanup,stale,aio,cancel,events,shutdown,listen-recv]\n",
            argv0);
    exit(2);
}

static unsigned parse_excluded(const char *list, const char *argv0)
{
    static const struct {
        const char *name;
        unsigned bit;
    } classes[] = {
        {"cleanup", CH_NO_CLEANUP},        {"stale", CH_NO_STALE},   {"aio", CH_NO_AIO},
        {"cancel", CH_NO_CANCEL},          {"events", CH_NO_EVENTS}, {"shutdown", CH_NO_SHUTDOWN},
        {"listen-recv", CH_NO_LISTEN_RECV}};
    unsigned bits = 0;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        unsigned i, n = sizeof(classes) / sizeof(classes[0]);
        for (i = 0; i < n && strcmp(t, classes[i].name) != 0; i++)
            ;
        if (i == n)
            usage(argv0);
        bits |= classes[i].bit;
    }
    return bits;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *e = NULL;
        if (v == NULL)
            usage(argv[0]);
        if (strcmp(a, "--seed") == 0)
            opt.seed = (unsigned)strtoul(v, &e, 10), opt.have_seed = 1;
        else if (strcmp(a, "--seeds") == 0)
            opt.seeds = (int)strtol(v, &e, 10);
        else if (strcmp(a, "--duration") == 0)
            opt.duration = strtod(v, &e);
        else if (strcmp(a, "--threads") == 0)
            opt.threads = (int)strtol(v, &e, 10);
        else if (strcmp(a, "--no") == 0)
            opt.excluded = parse_excluded(v, argv[0]), opt.excluded_text = v, e = (char *)"";
        else
            usage(argv[0]);
        if (e == NULL || *e != '\0')
            usage(argv[0]);
        i++;
    }
    if (opt.seeds < 1 || opt.duration <= 0 || opt.threads < 1 || opt.threads > CH_MAX_THREADS)
        usage(argv[0]);
    if (!opt.have_seed)
        opt.seed = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
    char seedtext[16];
    snprintf(seedtext, sizeof(seedtext), "%u", opt.seed);
    setenv("KSHIM_SEED", seedtext, 0); /* the provider's mix follows the first seed */

    setvbuf(stdout, NULL, _IOLBF, 0);
    kshim_init();
    const char *mode = getenv("KSHIM_COMPLETION");
    printf("chaos: completion mode %s, KSHIM_SEED %lu, %d threads, %d slots, %.1f s per seed, "
           "%d seeds from %u%s%s\n",
           mode != NULL ? mode : "mixed", (unsigned long)kshim_seed(), opt.threads, CH_SLOTS,
           opt.duration, opt.seeds, opt.seed, opt.excluded ? ", excluded: " : "",
           opt.excluded_text);
    pthread_t wd;
    pthread_create(&wd, NULL, watchdog, NULL);
    pthread_detach(wd);

    long long ops = 0;
    int leaks = 0;
    for (int i = 0; i < opt.seeds; i++)
        leaks += run_seed(opt.seed + (unsigned)i, &ops);
    if (ch_failures != 0 || leaks != 0)
        printf("chaos: replay a seed: KSHIM_COMPLETION=%s KSHIM_SEED=%lu %s --seed N --duration "
               "%g --threads %d\n",
               mode != NULL ? mode : "mixed", (unsigned long)kshim_seed(), argv[0], opt.duration,
               opt.threads);
    printf("chaos: %lld operations, %d seeds, %ld failures, %d leaks\n", ops, opt.seeds,
           (long)ch_failures, leaks);
    return ch_failures != 0 || leaks != 0 ? 1 : 0;
}
