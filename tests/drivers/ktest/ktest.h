/*
 * ktest.h - shared declarations of the ktest scenario driver.
 *
 * ktest runs one scenario, chosen by the registry parameter Test, on a
 * system thread started from DriverEntry; a supervisor thread bounds it by
 * the parameter Timeout (seconds). Every check logs a "ktest: PASS ..." or
 * "ktest: FAIL ..." line, and the run ends with
 *     ktest: <scenario> RESULT pass|fail
 * (from DriverUnload for scenarios that finish there, such as unload-busy).
 */
#ifndef KTEST_H
#define KTEST_H

#include <ntddk.h>
#include <string.h>

#include <wsksock.h>
#include <wsksock/params.h>

#include "../../peers/kspattern.h"

#define KT_TAG ((ULONG)'k' | ((ULONG)'t' << 8) | ((ULONG)'s' << 16) | ((ULONG)'t' << 24))

/* Every line ktest logs starts with "ktest: " and ends with a newline. */
/* The format is the first argument and ends with \n (C11 allows no
 * empty __VA_ARGS__, so the macro cannot append it). */
#define KT_LOG(...) DbgPrint("ktest: " __VA_ARGS__)

/* Scenario parameters, read in DriverEntry. */
struct kt_params {
    char test[32];
    int port;    /* Port: native peer's port, or ktest's own listener */
    int port2;   /* Port2: a second free port (close-blocked's listener) */
    long bytes;  /* Bytes: byte count of the client stream */
    int seed;    /* Seed: pattern seed of the client stream */
    int timeout; /* Timeout: seconds the supervisor grants the scenario */
    int wine;    /* Wine: 1 under Wine (tolerate its documented behaviours) */
};
extern struct kt_params kt_param;

/* Result of a scenario function. */
enum kt_outcome {
    KT_DONE,     /* finished: the supervisor logs RESULT */
    KT_DEFERRED, /* RESULT comes from DriverUnload */
};

/* ---- checks (kt_util.c) ---- */
extern volatile LONG kt_failures;
void kt_fail(int line, const char *what, long got);
void kt_pass(const char *what, long got);
/* got == want */
int kt_expect(int line, const char *what, long got, long want);
/* got is one of the n values in want[] */
int kt_expect_in(int line, const char *what, long got, const long *want, int n);
int kt_check(int line, const char *what, int ok, long value);
#define EXPECT(what, got, want) kt_expect(__LINE__, what, (long)(got), (long)(want))
#define EXPECT_IN(what, got, ...)                                                                  \
    kt_expect_in(__LINE__, what, (long)(got), (const long[]){__VA_ARGS__},                         \
                 (int)(sizeof((const long[]){__VA_ARGS__}) / sizeof(long)))
#define CHECK(what, cond, value) kt_check(__LINE__, what, (cond) ? 1 : 0, (long)(value))

/* Name of a negative errno value ("ECONNRESET"), "ok" for >= 0, else "n/a". */
const char *kt_errname(long err);

/* Current step, logged if the scenario times out. */
extern const char *volatile kt_step;
#define STEP(s) (kt_step = (s))

/* ---- time ---- */
LONGLONG kt_now_ms(void);
void kt_sleep_ms(ULONG ms);
/* Waits (bounded, polling every 10 ms) until cond holds; sets ok to 1 if it
 * did, else 0. A statement: C11 has no statement expressions. */
#define WAIT_UNTIL(ok, cond, ms)                                                                   \
    do {                                                                                           \
        LONGLONG until_ = kt_now_ms() + (ms);                                                      \
        while (!(cond) && kt_now_ms() < until_)                                                    \
            kt_sleep_ms(10);                                                                       \
        (ok) = (cond) ? 1 : 0;                                                                     \
    } while (0)

/* ---- memory ---- */
/* Zeroed, tagged KT_TAG: PagedPool gives paged pool (the cases that hand
 * paged buffers to the library), any other type ks_pool_alloc's nonpaged,
 * nonexecutable pool. */
void *kt_alloc(POOL_TYPE type, SIZE_T size);
void kt_free(void *p);

/* ---- threads ---- */
void kt_util_init(void);
/* Starts a system thread; it is joined by DriverUnload at the latest. Returns its slot or -1. */
int kt_spawn(ks_thread_routine *fn, void *ctx);
/* Waits up to ms for the thread of that slot to end. Returns 1 if it ended. */
int kt_join(int slot, ULONG ms);
/* DriverUnload: waits for every thread, up to ms in total; returns 1 if all ended. */
int kt_join_all(ULONG ms);
/* Ends the calling system thread (never returns). */
void kt_thread_exit(void) __attribute__((noreturn));

/* ---- sockets ---- */
struct sockaddr_in kt_addr(uint32_t host_order_ip, int port);
/* Socket connected to 127.0.0.1:port, or a negative errno (logged as FAIL). */
int kt_connect_loopback(int port);
/* Listener on 127.0.0.1:port, or a negative errno (logged as FAIL). */
int kt_listen_loopback(int port);
/* ks_send of the whole buffer, checked; returns 1 if it all went. */
int kt_send_all(int s, const void *buf, size_t len);

/* ---- scenarios ---- */
enum kt_outcome kt_client(void);
enum kt_outcome kt_refused(void);
enum kt_outcome kt_reset(void);
enum kt_outcome kt_close_blocked(void);
enum kt_outcome kt_badinput(void);
/* ks_param_* checks, from DriverEntry (needs the registry path). */
void kt_badinput_params(const UNICODE_STRING *registry_path);
enum kt_outcome kt_unload_busy(void);
enum kt_outcome kt_stack_paged(void);
enum kt_outcome kt_options(void);
enum kt_outcome kt_resolve(void);
enum kt_outcome kt_nonblock(void);
enum kt_outcome kt_timeouts(void);
enum kt_outcome kt_aio(void);
enum kt_outcome kt_listen_close(void);
enum kt_outcome kt_races(void);
/* Called by DriverUnload after ks_cleanup() and kt_join_all(). */
void kt_unload_busy_finish(LONGLONG cleanup_start_ms, int joined);
/* The same for races; cleanup_ms: how long ks_cleanup took. */
void kt_races_finish(LONGLONG cleanup_start_ms, LONGLONG cleanup_ms, int joined);

#endif /* KTEST_H */
