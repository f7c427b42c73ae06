/* ht.c - the host bed's in-process test harness (see ht.h). */
#define _GNU_SOURCE /* clock_gettime, nanosleep with -std=c11 */
#include "ht.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile LONG ht_failures, ht_checks;

/* The mixed mode's seed is printed by the shim ("kshim: seed N"). */
const struct ht_run ht_runs_modes[] = {
    {"_async", "KSHIM_COMPLETION=async"},
    {"_inline", "KSHIM_COMPLETION=inline"},
    {"_mixed", "KSHIM_COMPLETION=mixed"},
    {NULL, NULL},
};
/* The library's fallback: the provider without event callbacks, as on Wine. */
const struct ht_run ht_runs_events[] = {
    {"_async", "KSHIM_COMPLETION=async"},
    {"_inline", "KSHIM_COMPLETION=inline"},
    {"_mixed", "KSHIM_COMPLETION=mixed"},
    {"_fallback", "KSHIM_COMPLETION=mixed;KSHIM_WSK_EVENTS=0"},
    {NULL, NULL},
};
const struct ht_run ht_runs_once[] = {
    {"", NULL},
    {NULL, NULL},
};

/* Seconds a single test may take before the watchdog ends the program. */
#define HT_TEST_LIMIT_S 120

void ht_fail(const char *file, int line, const char *what, long long got)
{
    InterlockedIncrement(&ht_failures);
    printf("ht: FAIL %s:%d %s (got %lld)\n", file, line, what, got);
    fflush(stdout);
}

LONGLONG ht_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (LONGLONG)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ht_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

struct ht_thread {
    pthread_t id;
    void (*fn)(void *);
    void *arg;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
};

static void *thread_main(void *p)
{
    ht_thread *t = p;
    t->fn(t->arg);
    pthread_mutex_lock(&t->lock);
    t->done = 1;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

ht_thread *ht_spawn(void (*fn)(void *), void *arg)
{
    ht_thread *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    if (pthread_create(&t->id, NULL, thread_main, t) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

int ht_join(ht_thread *t, int timeout_ms)
{
    struct timespec until;
    int done;
    if (t == NULL)
        return 0;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->lock);
    while (!t->done)
        if (pthread_cond_timedwait(&t->cond, &t->lock, &until) != 0)
            break;
    done = t->done;
    pthread_mutex_unlock(&t->lock);
    if (!done)
        return 0; /* left running: the watchdog or the leak check reports it */
    pthread_join(t->id, NULL);
    free(t);
    return 1;
}

void ht_loopback(int v6, int port, SOCKADDR_STORAGE *out, int *len)
{
    memset(out, 0, sizeof(*out));
    if (v6) {
        SOCKADDR_IN6 *a = (SOCKADDR_IN6 *)out;
        a->sin6_family = AF_INET6;
        a->sin6_port = ks_htons((uint16_t)port);
        a->sin6_addr.s6_addr[15] = 1;
        *len = (int)sizeof(*a);
    } else {
        SOCKADDR_IN *a = (SOCKADDR_IN *)out;
        a->sin_family = AF_INET;
        a->sin_port = ks_htons((uint16_t)port);
        a->sin_addr.s_addr = ks_htonl(INADDR_LOOPBACK);
        *len = (int)sizeof(*a);
    }
}

int ht_ks_listen(int v6, int *port)
{
    for (int tries = 0; tries < 20; tries++) {
        SOCKADDR_STORAGE ss;
        int len, r;
        int s = ks_socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
        if (s < 0)
            return s;
        *port = hp_free_port(v6);
        ht_loopback(v6, *port, &ss, &len);
        r = ks_bind(s, (struct sockaddr *)&ss, len);
        if (r == 0)
            r = ks_listen(s, 16);
        if (r == 0)
            return s;
        ks_close(s);
        if (r != -EADDRINUSE)
            return r;
    }
    return -EADDRINUSE;
}

int ht_ks_connect(int v6, int port)
{
    SOCKADDR_STORAGE ss;
    int len;
    int s = ks_socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return s;
    ht_loopback(v6, port, &ss, &len);
    int r = ks_connect(s, (struct sockaddr *)&ss, len);
    if (r != 0) {
        ks_close(s);
        return r;
    }
    return s;
}

void ht_pattern(unsigned char *buf, size_t len, unsigned seed, size_t offset)
{
    for (size_t i = 0; i < len; i++) {
        size_t k = offset + i;
        buf[i] = (unsigned char)((k * 131u) ^ (k >> 9) ^ seed);
    }
}

unsigned long long ht_fnv(const void *buf, size_t len, unsigned long long h)
{
    const unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* ---- watchdog ---- */

static const char *volatile current_test;
static volatile LONGLONG test_started_ms;

static void *watchdog(void *arg)
{
    (void)arg;
    for (;;) {
        ht_sleep_ms(200);
        const char *name = current_test;
        if (name != NULL && ht_now_ms() - test_started_ms > HT_TEST_LIMIT_S * 1000) {
            printf("ht: FAIL %s: still running after %d s (hang)\n", name, HT_TEST_LIMIT_S);
            fflush(stdout);
            _exit(1);
        }
    }
    return NULL;
}

int ht_main(int argc, char **argv, const struct ht_test *tests, int count)
{
    pthread_t wd;
    int ran = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    kshim_init();
    pthread_create(&wd, NULL, watchdog, NULL);
    pthread_detach(wd);
    for (int i = 0; i < count; i++) {
        int wanted = argc <= 1;
        for (int a = 1; a < argc; a++)
            if (strcmp(argv[a], tests[i].name) == 0)
                wanted = 1;
        if (!wanted)
            continue;
        LONG before = ht_failures;
        printf("ht: RUN %s\n", tests[i].name);
        test_started_ms = ht_now_ms();
        current_test = tests[i].name;
        int r = ks_startup();
        /* Under an injected fault (make faults) a failed start with an
         * error is the right outcome; otherwise it must start. */
        HT_CHECK(r == 0 || (getenv("KSHIM_FAULT") != NULL && r < 0), "ks_startup", r);
        if (r == 0) {
            tests[i].fn();
            ks_cleanup();
        }
        if (!kshim_wait_threads(10000))
            ht_fail(__FILE__, __LINE__, "system threads still running after the test", 0);
        if (kshim_check_leaks(tests[i].name) != 0)
            ht_fail(__FILE__, __LINE__, "leaks after ks_cleanup", 0);
        current_test = NULL;
        printf("ht: %s %s in %lld ms\n", ht_failures == before ? "PASS" : "FAIL", tests[i].name,
               (long long)(ht_now_ms() - test_started_ms));
        ran++;
    }
    printf("ht: %d tests, %ld checks, %ld failed\n", ran, (long)ht_checks, (long)ht_failures);
    if (ran == 0)
        printf("ht: FAIL no test matched\n");
    return ht_failures == 0 && ran > 0 ? 0 : 1;
}

void ht_fill_send_side(int s, int linger_secs)
{
    LINGER lg;
    lg.l_onoff = 1;
    lg.l_linger = (USHORT)linger_secs;
    HT_EQ(ks_setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, (int)sizeof(lg)), 0, "SO_LINGER");
    static unsigned char chunk[64 * 1024];
    /* Full once no send went through for 200 ms (a send completes in the
     * background: -EWOULDBLOCK until it did). */
    int idle = 0;
    for (int i = 0; i < 100000 && idle < 40; i++) {
        ks_ssize_t n = ks_send(s, chunk, sizeof(chunk), MSG_DONTWAIT);
        if (n == -EWOULDBLOCK) {
            idle++;
            ht_sleep_ms(5);
        } else {
            HT_CHECK(n > 0, "non-blocking send", n);
            if (n <= 0)
                return;
            idle = 0;
        }
    }
    HT_EQ(idle, 40, "send side full, a send in flight");
}

int ht_pair(int *native)
{
    int port;
    int lfd = hp_listen(0, &port);
    int s = ht_ks_connect(0, port);
    *native = hp_accept(lfd, 5000);
    hp_close(lfd);
    HT_CHECK(s > 0 && *native >= 0, "connected pair", s);
    return s;
}
