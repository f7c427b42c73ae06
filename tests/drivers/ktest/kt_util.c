/* kt_util.c - checks, time, memory, threads and socket helpers of ktest. */
#include "ktest.h"

volatile LONG kt_failures;
const char *volatile kt_step = "start";

/* ---------------------------------------------------------------- checks */

static const struct {
    long err;
    const char *name;
} kt_errnames[] = {
    {EPERM, "EPERM"},
    {ENOENT, "ENOENT"},
    {EINTR, "EINTR"},
    {EIO, "EIO"},
    {EBADF, "EBADF"},
    {EAGAIN, "EAGAIN"},
    {ENOMEM, "ENOMEM"},
    {EACCES, "EACCES"},
    {EFAULT, "EFAULT"},
    {EBUSY, "EBUSY"},
    {EINVAL, "EINVAL"},
    {EMFILE, "EMFILE"},
    {EPIPE, "EPIPE"},
    {ENOSYS, "ENOSYS"},
    {EADDRINUSE, "EADDRINUSE"},
    {EADDRNOTAVAIL, "EADDRNOTAVAIL"},
    {EAFNOSUPPORT, "EAFNOSUPPORT"},
    {EALREADY, "EALREADY"},
    {ECANCELED, "ECANCELED"},
    {ECONNABORTED, "ECONNABORTED"},
    {ECONNREFUSED, "ECONNREFUSED"},
    {ECONNRESET, "ECONNRESET"},
    {EDESTADDRREQ, "EDESTADDRREQ"},
    {EHOSTUNREACH, "EHOSTUNREACH"},
    {EINPROGRESS, "EINPROGRESS"},
    {EISCONN, "EISCONN"},
    {EMSGSIZE, "EMSGSIZE"},
    {ENETDOWN, "ENETDOWN"},
    {ENETRESET, "ENETRESET"},
    {ENETUNREACH, "ENETUNREACH"},
    {ENOBUFS, "ENOBUFS"},
    {ENOPROTOOPT, "ENOPROTOOPT"},
    {ENOTCONN, "ENOTCONN"},
    {ENOTSOCK, "ENOTSOCK"},
    {EOPNOTSUPP, "EOPNOTSUPP"},
    {EPROTONOSUPPORT, "EPROTONOSUPPORT"},
    {EPROTOTYPE, "EPROTOTYPE"},
    {ETIMEDOUT, "ETIMEDOUT"},
    {EWOULDBLOCK, "EWOULDBLOCK"},
};

const char *kt_errname(long err)
{
    size_t i;

    if (err >= 0)
        return "ok";
    for (i = 0; i < sizeof(kt_errnames) / sizeof(kt_errnames[0]); i++)
        if (kt_errnames[i].err == -err)
            return kt_errnames[i].name;
    return "n/a";
}

void kt_fail(int line, const char *what, long got)
{
    InterlockedIncrement(&kt_failures);
    KT_LOG("FAIL line %d: %s: got %ld (%s)\n", line, what, got, kt_errname(got));
}

void kt_pass(const char *what, long got)
{
    KT_LOG("PASS %s = %ld (%s)\n", what, got, kt_errname(got));
}

int kt_expect(int line, const char *what, long got, long want)
{
    if (got == want) {
        kt_pass(what, got);
        return 1;
    }
    InterlockedIncrement(&kt_failures);
    KT_LOG("FAIL line %d: %s: got %ld (%s), expected %ld (%s)\n", line, what, got, kt_errname(got),
           want, kt_errname(want));
    return 0;
}

int kt_expect_in(int line, const char *what, long got, const long *want, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (got == want[i]) {
            kt_pass(what, got);
            return 1;
        }
    }
    InterlockedIncrement(&kt_failures);
    KT_LOG("FAIL line %d: %s: got %ld (%s), expected one of %d documented values (first %ld %s)\n",
           line, what, got, kt_errname(got), n, want[0], kt_errname(want[0]));
    return 0;
}

int kt_check(int line, const char *what, int ok, long value)
{
    if (ok) {
        KT_LOG("PASS %s (%ld)\n", what, value);
        return 1;
    }
    InterlockedIncrement(&kt_failures);
    KT_LOG("FAIL line %d: %s (value %ld %s)\n", line, what, value, kt_errname(value));
    return 0;
}

/* ------------------------------------------------------------------ time */

LONGLONG kt_now_ms(void)
{
    LARGE_INTEGER freq, now;

    now = KeQueryPerformanceCounter(&freq);
    if (freq.QuadPart <= 0)
        return 0;
    return now.QuadPart / (freq.QuadPart / 1000 ? freq.QuadPart / 1000 : 1);
}

void kt_sleep_ms(ULONG ms)
{
    LARGE_INTEGER t;

    t.QuadPart = -(LONGLONG)ms * 10000;
    KeDelayExecutionThread(KernelMode, FALSE, &t);
}

/* ---------------------------------------------------------------- memory */

/* Paged pool: ks_pool_alloc has nonpaged only, and the cases that pass
 * paged buffers to the library (stack-paged, aio) need it. ExAllocatePool2
 * is not in Wine, so ExAllocatePoolWithTag, which WDK 10.0.22621 deprecates:
 * tests/drivers/suite_drivers.cmake allows that in this file. Freed by
 * ExFreePoolWithTag, as ks_pool_free does. */
static void *kt_alloc_paged(SIZE_T size)
{
    void *p = ExAllocatePoolWithTag(PagedPool, size, KT_TAG);
    if (p)
        RtlZeroMemory(p, size);
    return p;
}

void *kt_alloc(POOL_TYPE type, SIZE_T size)
{
    void *p = type == PagedPool ? kt_alloc_paged(size) : ks_pool_alloc(size, KT_TAG);
    if (!p)
        KT_LOG("FAIL cannot allocate %lu bytes\n", (ULONG)size);
    return p;
}

void kt_free(void *p)
{
    ks_pool_free(p, KT_TAG);
}

/* --------------------------------------------------------------- threads */

#define KT_MAX_THREADS 64
static struct ks_thread *kt_threads[KT_MAX_THREADS];
static volatile LONG kt_ended[KT_MAX_THREADS]; /* joined (its record freed) */
static int kt_nthreads;
static int kt_no_more_threads;
/*
 * Serialises kt_spawn against kt_join_all. A synchronization event used as a
 * lock, not a KMUTEX: Wine 8's KeReleaseMutex never wakes a thread already
 * waiting for the mutex (the waiter hangs forever).
 */
static KEVENT kt_threads_lock;

void kt_util_init(void)
{
    KeInitializeEvent(&kt_threads_lock, SynchronizationEvent, TRUE);
}

static void threads_lock(void)
{
    KeWaitForSingleObject(&kt_threads_lock, Executive, KernelMode, FALSE, NULL);
}

static void threads_unlock(void)
{
    KeSetEvent(&kt_threads_lock, IO_NO_INCREMENT, FALSE);
}

int kt_spawn(ks_thread_routine *fn, void *ctx)
{
    struct ks_thread *t = NULL;
    int slot = -1;
    int err;

    threads_lock();
    if (kt_no_more_threads) {
        KT_LOG("FAIL thread not started: the driver is unloading\n");
        InterlockedIncrement(&kt_failures);
    } else if (kt_nthreads >= KT_MAX_THREADS) {
        KT_LOG("FAIL too many threads\n");
        InterlockedIncrement(&kt_failures);
    } else if ((err = ks_thread_start(&t, fn, ctx)) != 0) {
        KT_LOG("FAIL ks_thread_start: %d (%s)\n", err, kt_errname(err));
        InterlockedIncrement(&kt_failures);
    } else {
        slot = kt_nthreads++;
        kt_threads[slot] = t;
    }
    threads_unlock();
    return slot;
}

int kt_join(int slot, ULONG ms)
{
    struct ks_thread *t;

    if (slot < 0 || slot >= KT_MAX_THREADS)
        return 0;
    if (kt_ended[slot])
        return 1;
    if (!(t = kt_threads[slot]))
        return 0;
    if (ks_thread_join_timeout(t, ms > 0x7fffffffUL ? 0x7fffffff : (int)ms) != 0)
        return 0;
    /* Joined: the record is freed. */
    kt_threads[slot] = NULL;
    kt_ended[slot] = 1;
    return 1;
}

int kt_join_all(ULONG ms)
{
    LONGLONG deadline = kt_now_ms() + ms;
    int n, i, all = 1;

    threads_lock();
    kt_no_more_threads = 1;
    n = kt_nthreads;
    threads_unlock();
    for (i = n - 1; i >= 0; i--) {
        LONGLONG left = deadline - kt_now_ms();
        if (!kt_threads[i])
            continue;
        if (!kt_join(i, left > 0 ? (ULONG)left : 0))
            all = 0;
    }
    return all;
}

void kt_thread_exit(void)
{
    PsTerminateSystemThread(STATUS_SUCCESS);
    for (;;) /* not reached */
        kt_sleep_ms(1000);
}

/* --------------------------------------------------------------- sockets */

struct sockaddr_in kt_addr(uint32_t host_order_ip, int port)
{
    struct sockaddr_in a;

    RtlZeroMemory(&a, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = ks_htons((uint16_t)port);
    a.sin_addr.s_addr = ks_htonl(host_order_ip);
    return a;
}

int kt_connect_loopback(int port)
{
    struct sockaddr_in a = kt_addr(INADDR_LOOPBACK, port);
    int s = ks_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP), r;

    if (s < 0) {
        kt_fail(__LINE__, "ks_socket", s);
        return s;
    }
    r = ks_connect(s, (struct sockaddr *)&a, sizeof(a));
    if (r != 0) {
        KT_LOG("FAIL ks_connect(127.0.0.1:%d) = %d (%s)\n", port, r, kt_errname(r));
        InterlockedIncrement(&kt_failures);
        ks_close(s);
        return r;
    }
    return s;
}

int kt_listen_loopback(int port)
{
    struct sockaddr_in a = kt_addr(INADDR_LOOPBACK, port);
    int s = ks_socket(AF_INET, SOCK_STREAM, 0), r;

    if (s < 0) {
        kt_fail(__LINE__, "ks_socket", s);
        return s;
    }
    r = ks_bind(s, (struct sockaddr *)&a, sizeof(a));
    if (r == 0)
        r = ks_listen(s, 16);
    if (r != 0) {
        KT_LOG("FAIL listen on 127.0.0.1:%d: %d (%s)\n", port, r, kt_errname(r));
        InterlockedIncrement(&kt_failures);
        ks_close(s);
        return r;
    }
    return s;
}

int kt_send_all(int s, const void *buf, size_t len)
{
    ks_ssize_t r = ks_send(s, buf, len, 0);

    if (r != (ks_ssize_t)len) {
        KT_LOG("FAIL ks_send(%lu bytes) = %ld (%s)\n", (ULONG)len, (long)r, kt_errname((long)r));
        InterlockedIncrement(&kt_failures);
        return 0;
    }
    return 1;
}
