/*
 * ht.h - harness of the host bed's in-process library tests.
 *
 * A test program is a list of named test functions (HT_TEST). Each runs
 * between ks_startup() and ks_cleanup(), bounded by a watchdog; after
 * cleanup the shim's leak check must be clean (pool, IRPs, MDLs, locked
 * pages, threads, provider sockets). Checks print "ht: FAIL file:line ..."
 * and the program ends with "ht: N tests, M checks, F failed" and exit 1 on
 * any failure.
 */
#ifndef HT_H
#define HT_H

#include <ntddk.h>

#include <kshim.h>
#include <wsksock.h>

#include "hpeer.h"

typedef void ht_test_fn(void);

/*
 * How ctest runs a test: one ctest test per run, named
 * host_lib_<test name><suffix>, with env (ctest ENVIRONMENT entries, ';'
 * between them; NULL for none). A run list ends with a NULL suffix.
 * `lib_test --runs` prints them all and tests/host/lib/CMakeLists.txt
 * registers them from its output, so the tables of t_*.c are the only list.
 */
struct ht_run {
    const char *suffix;
    const char *env;
};
/* _async, _inline, _mixed: each of the provider's completion modes. */
extern const struct ht_run ht_runs_modes[];
/* ht_runs_modes and _fallback: mixed, without WSK event callbacks. */
extern const struct ht_run ht_runs_events[];
/* Once, with no suffix and no environment. */
extern const struct ht_run ht_runs_once[];

struct ht_test {
    const char *name;
    ht_test_fn *fn;
    const struct ht_run *runs;
};

extern volatile LONG ht_failures, ht_checks;
void ht_fail(const char *file, int line, const char *what, long long got);
#define HT_CHECK(cond, what, value)                                                                \
    do {                                                                                           \
        InterlockedIncrement(&ht_checks);                                                          \
        if (!(cond))                                                                               \
            ht_fail(__FILE__, __LINE__, (what), (long long)(value));                               \
    } while (0)
#define HT_EQ(got, want, what)                                                                     \
    do {                                                                                           \
        long long ht_g_ = (long long)(got), ht_w_ = (long long)(want);                             \
        InterlockedIncrement(&ht_checks);                                                          \
        if (ht_g_ != ht_w_)                                                                        \
            ht_fail(__FILE__, __LINE__, (what), ht_g_);                                            \
    } while (0)

/* Runs the program's tests (all, or those named on the command line). */
int ht_main(int argc, char **argv, const struct ht_test *tests, int count);

/* Threads of a test (plain threads at PASSIVE_LEVEL, joined with a bound). */
typedef struct ht_thread ht_thread;
ht_thread *ht_spawn(void (*fn)(void *), void *arg);
/* 1 if the thread ended within timeout_ms (and is freed), else 0. */
int ht_join(ht_thread *t, int timeout_ms);

LONGLONG ht_now_ms(void);
void ht_sleep_ms(int ms);

/* Socket addresses (Winsock layout) for loopback. */
void ht_loopback(int v6, int port, SOCKADDR_STORAGE *out, int *len);
/* Library listener on loopback; the port is chosen free; returns the fd. */
int ht_ks_listen(int v6, int *port);
/* Library socket connected to loopback:port. */
int ht_ks_connect(int v6, int port);
/* A library socket (returned) connected to a native one (*native), over
 * IPv4 loopback; the check fails the test if either is missing. */
int ht_pair(int *native);
/* Makes s's close wait: SO_LINGER {1, linger_secs} (its bound), then
 * non-blocking sends until the peer (which must not read) stops taking
 * data, so that a send is in flight, which the close lets finish. */
void ht_fill_send_side(int s, int linger_secs);

/* Deterministic test pattern and checksum. */
void ht_pattern(unsigned char *buf, size_t len, unsigned seed, size_t offset);
unsigned long long ht_fnv(const void *buf, size_t len, unsigned long long h);

#endif /* HT_H */
