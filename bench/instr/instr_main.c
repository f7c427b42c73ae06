/*
 * instr_main.c - harness of make bench-instr: runs each measured operation
 * N times inside a region marked for callgrind, on the host bed (kernel
 * shim + WSK provider over POSIX sockets), with native peers on the other
 * end, and reports nonpaged pool per idle socket. Linked once with
 * impl_ks.c (instr_ks) and once with impl_raw.c (instr_raw).
 *
 *   instr_ks|instr_raw [--iterations N] [--size BYTES] [--sockets N] OP...
 *   OP: send recv connect-close accept-close mem all
 *
 * Regions (only under valgrind --tool=callgrind --instr-atstart=no; outside
 * valgrind the client requests do nothing): instrumentation is switched on,
 * the counters zeroed, the N operations run, and the counts are dumped as
 * "<op>"; then the counters are zeroed and dumped again at once as
 * "<op>:empty", the baseline bench/instr/bench-instr subtracts. A few
 * uncounted warm-up operations come first (lazy symbol binding, first-use
 * paths). Inside a region the loop checks only return values; the data are
 * checked afterwards (every byte against its pattern, every peer connection
 * accepted and ended), so a run whose checks fail exits 1.
 *
 * Output: one "RESULT ..." line per operation and one "MEM ..." line per
 * kind of idle socket (key=value pairs), parsed by bench-instr.
 */
#define _GNU_SOURCE /* before ntddk.h pulls in libc headers */
#include "instr.h"

#include <kshim.h>
#include <wskprov.h>

#include "hpeer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define INSTR_CALLGRIND 1
#endif
#endif
#ifndef INSTR_CALLGRIND
/* Without valgrind's headers the programs still run (the smoke test). */
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(label) ((void)(label))
#endif

/* Uncounted operations before each region. */
#define WARMUP 10
/* Bound of every wait for a peer (generous: callgrind runs ~50x slower). */
#define PEER_WAIT_MS 120000

static int iterations = 1000;
static int io_size = 64;
static int mem_sockets = 100;
static int failures;

static void fail(const char *op, const char *what, long value)
{
    failures++;
    printf("instr: FAIL %s: %s (%ld)\n", op, what, value);
}

/* ---- regions ---- */

static void region_begin(void)
{
    CALLGRIND_START_INSTRUMENTATION;
    CALLGRIND_ZERO_STATS;
}

/* Dumps the region as label, then an empty region as empty_label. */
static void region_end(const char *label, const char *empty_label)
{
    CALLGRIND_DUMP_STATS_AT(label);
    CALLGRIND_ZERO_STATS;
    CALLGRIND_DUMP_STATS_AT(empty_label);
    CALLGRIND_STOP_INSTRUMENTATION;
}

/* ---- data ---- */

static unsigned char pattern_byte(size_t k)
{
    return (unsigned char)((k * 131u) ^ (k >> 9) ^ 0x5a);
}

static unsigned char *pattern_new(size_t len)
{
    unsigned char *p = malloc(len ? len : 1);
    if (p != NULL)
        for (size_t k = 0; k < len; k++)
            p[k] = pattern_byte(k);
    return p;
}

/* Offset of the first byte that is not the pattern's, or -1. */
static long pattern_check(const unsigned char *p, size_t len)
{
    for (size_t k = 0; k < len; k++)
        if (p[k] != pattern_byte(k))
            return (long)k;
    return -1;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- native peers ---- */

/* Accepts connections on a native listener and keeps them open (a peer
 * that closed at once would change what the measured close does). */
struct acceptor {
    int lfd;
    int *fds;
    int cap;
    volatile int count;
    volatile int stop;
    pthread_t thread;
};

static void *acceptor_main(void *p)
{
    struct acceptor *a = p;
    while (!a->stop) {
        int fd = hp_accept(a->lfd, 50);
        if (fd < 0)
            continue;
        if (a->count < a->cap) {
            a->fds[a->count] = fd;
            __atomic_store_n(&a->count, a->count + 1, __ATOMIC_RELEASE);
        } else {
            hp_close(fd);
        }
    }
    return NULL;
}

static int acceptor_start(struct acceptor *a, int cap, int *port)
{
    memset(a, 0, sizeof(*a));
    a->fds = calloc((size_t)cap, sizeof(int));
    a->cap = cap;
    a->lfd = hp_listen(0, port);
    if (a->fds == NULL || a->lfd < 0 || pthread_create(&a->thread, NULL, acceptor_main, a) != 0) {
        free(a->fds);
        if (a->lfd >= 0)
            hp_close(a->lfd);
        return -1;
    }
    return 0;
}

/* Waits until want connections were accepted (bounded). */
static int acceptor_wait(struct acceptor *a, int want)
{
    for (int waited = 0; waited < PEER_WAIT_MS; waited += 10) {
        if (__atomic_load_n(&a->count, __ATOMIC_ACQUIRE) >= want)
            return 1;
        sleep_ms(10);
    }
    return 0;
}

/* Stops the thread; with check, each connection must have ended (EOF or
 * reset: the measured close disconnected it). Returns the ended count. */
static int acceptor_stop(struct acceptor *a, int check)
{
    a->stop = 1;
    pthread_join(a->thread, NULL);
    int ended = 0;
    for (int i = 0; i < a->count; i++) {
        if (check && hp_wait_end(a->fds[i], PEER_WAIT_MS, NULL) != 0)
            ended++;
        hp_close(a->fds[i]);
    }
    hp_close(a->lfd);
    free(a->fds);
    return ended;
}

/* A native connection that receives (and keeps) a known number of bytes. */
struct drainer {
    int fd;
    unsigned char *buf;
    size_t len;
    long got;
    pthread_t thread;
};

static void *drainer_main(void *p)
{
    struct drainer *d = p;
    d->got = hp_recv_all(d->fd, d->buf, d->len, PEER_WAIT_MS);
    return NULL;
}

/* A native connection that sends a buffer. */
struct sender {
    int fd;
    const unsigned char *buf;
    size_t len;
    long sent;
    volatile int done;
    pthread_t thread;
};

static void *sender_main(void *p)
{
    struct sender *s = p;
    s->sent = hp_send_all(s->fd, s->buf, s->len);
    __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* A measured socket connected to a native peer: *peer_fd is the native end. */
static instr_sock connect_pair(int *peer_fd)
{
    int port;
    int lfd = hp_listen(0, &port);
    if (lfd < 0)
        return 0;
    instr_sock s = instr_connect(port);
    *peer_fd = s != 0 ? hp_accept(lfd, PEER_WAIT_MS) : -1;
    hp_close(lfd);
    if (s != 0 && *peer_fd < 0) {
        instr_close(s);
        s = 0;
    }
    return s;
}

static void report(const char *op, long calls, int ok)
{
    printf("RESULT impl=%s op=%s iterations=%d size=%d calls=%ld check=%s\n", instr_impl_name, op,
           iterations, io_size, calls, ok ? "ok" : "FAIL");
}

/* ---- operations ---- */

/* send: io_size bytes per call to a native peer that checks every byte. */
static void op_send(void)
{
    int pfd;
    instr_sock s = connect_pair(&pfd);
    if (s == 0) {
        fail("send", "connect", 0);
        return;
    }
    size_t total = (size_t)(WARMUP + iterations) * (size_t)io_size;
    unsigned char *tx = pattern_new(total);
    struct drainer d = {pfd, malloc(total ? total : 1), total, 0, 0};
    if (tx == NULL || d.buf == NULL || pthread_create(&d.thread, NULL, drainer_main, &d) != 0) {
        fail("send", "setup", 0);
        free(tx);
        free(d.buf);
        instr_close(s);
        hp_close(pfd);
        return;
    }
    long bad = 0;
    const unsigned char *p = tx;
    for (int i = 0; i < WARMUP; i++, p += io_size)
        bad += instr_send(s, p, (ULONG)io_size) != io_size;
    region_begin();
    for (int i = 0; i < iterations; i++, p += io_size)
        bad += instr_send(s, p, (ULONG)io_size) != io_size;
    region_end("send", "send:empty");
    pthread_join(d.thread, NULL);
    long at = d.got == (long)total ? pattern_check(d.buf, total) : 0;
    if (bad != 0)
        fail("send", "short or failed sends", bad);
    if (d.got != (long)total || at >= 0)
        fail("send", "peer received wrong data (bytes, first bad offset)", d.got);
    report("send", iterations, bad == 0 && d.got == (long)total && at < 0);
    free(tx);
    free(d.buf);
    instr_close(s);
    hp_close(pfd);
}

/* recv: io_size bytes per request, already queued by the native peer so the
 * provider can complete each receive inside the call (inline mode). */
static void op_recv(void)
{
    int pfd;
    instr_sock s = connect_pair(&pfd);
    if (s == 0) {
        fail("recv", "connect", 0);
        return;
    }
    size_t total = (size_t)(WARMUP + iterations) * (size_t)io_size;
    struct sender tx = {pfd, pattern_new(total), total, 0, 0, 0};
    unsigned char *rx = malloc(total ? total : 1);
    if (tx.buf == NULL || rx == NULL || pthread_create(&tx.thread, NULL, sender_main, &tx) != 0) {
        fail("recv", "setup", 0);
        free((void *)tx.buf);
        free(rx);
        instr_close(s);
        hp_close(pfd);
        return;
    }
    /* Everything queued before the region if it fits the socket buffers
     * (it does at the default size); otherwise the receives overlap it. */
    for (int waited = 0; waited < 2000 && !__atomic_load_n(&tx.done, __ATOMIC_ACQUIRE); waited += 5)
        sleep_ms(5);
    long calls = 0, bad = 0;
    size_t got = 0, warm_bytes = (size_t)WARMUP * (size_t)io_size;
    while (got < warm_bytes && bad == 0) {
        long n = instr_recv(s, rx + got, (ULONG)(warm_bytes - got));
        bad += n <= 0;
        got += n > 0 ? (size_t)n : 0;
    }
    region_begin();
    for (int i = 0; i < iterations && bad == 0; i++) {
        /* A short receive (not seen with data queued) is completed here. */
        size_t end = got + (size_t)io_size;
        while (got < end && bad == 0) {
            long n = instr_recv(s, rx + got, (ULONG)(end - got));
            calls++;
            bad += n <= 0;
            got += n > 0 ? (size_t)n : 0;
        }
    }
    region_end("recv", "recv:empty");
    pthread_join(tx.thread, NULL);
    long at = got == total ? pattern_check(rx, total) : 0;
    if (bad != 0 || tx.sent != (long)total)
        fail("recv", "failed receive or peer send", bad);
    if (got != total || at >= 0)
        fail("recv", "wrong data received (first bad offset)", at);
    report("recv", calls, bad == 0 && tx.sent == (long)total && got == total && at < 0);
    free((void *)tx.buf);
    free(rx);
    instr_close(s);
    hp_close(pfd);
}

/* connect+close: a new socket connected to a native listener, then closed
 * (graceful disconnect, close). The peer keeps its end open. */
static void op_connect_close(void)
{
    struct acceptor a;
    int port;
    int want = WARMUP + iterations;
    if (acceptor_start(&a, want, &port) != 0) {
        fail("connect-close", "native listener", 0);
        return;
    }
    long bad = 0;
    for (int i = 0; i < WARMUP; i++) {
        instr_sock s = instr_connect(port);
        bad += s == 0;
        if (s != 0)
            instr_close(s);
    }
    region_begin();
    for (int i = 0; i < iterations; i++) {
        instr_sock s = instr_connect(port);
        bad += s == 0;
        if (s != 0)
            instr_close(s);
    }
    region_end("connect-close", "connect-close:empty");
    int accepted = acceptor_wait(&a, want) ? want : a.count;
    int ended = acceptor_stop(&a, 1);
    if (bad != 0)
        fail("connect-close", "failed connects", bad);
    if (accepted != want || ended != want)
        fail("connect-close", "peer connections accepted / ended", ended);
    report("connect-close", iterations, bad == 0 && accepted == want && ended == want);
}

/* accept+close: connections queued by native clients beforehand, so each
 * accept finds one; each is closed (graceful disconnect, close). */
static void op_accept_close(void)
{
    int port;
    int want = WARMUP + iterations;
    instr_sock l = instr_listen(&port);
    int *fds = calloc((size_t)want, sizeof(int));
    if (l == 0 || fds == NULL) {
        fail("accept-close", "listener", 0);
        free(fds);
        if (l != 0)
            instr_close(l);
        return;
    }
    long bad = 0;
    for (int i = 0; i < want; i++) {
        fds[i] = hp_connect(0, port);
        bad += fds[i] < 0;
    }
    for (int i = 0; i < WARMUP; i++) {
        instr_sock s = instr_accept(l);
        bad += s == 0;
        if (s != 0)
            instr_close(s);
    }
    region_begin();
    for (int i = 0; i < iterations; i++) {
        instr_sock s = instr_accept(l);
        bad += s == 0;
        if (s != 0)
            instr_close(s);
    }
    region_end("accept-close", "accept-close:empty");
    int ended = 0;
    for (int i = 0; i < want; i++) {
        if (fds[i] >= 0 && hp_wait_end(fds[i], PEER_WAIT_MS, NULL) != 0)
            ended++;
        if (fds[i] >= 0)
            hp_close(fds[i]);
    }
    if (bad != 0)
        fail("accept-close", "failed connects or accepts", bad);
    if (ended != want)
        fail("accept-close", "peer connections ended", ended);
    report("accept-close", iterations, bad == 0 && ended == want);
    free(fds);
    instr_close(l);
}

/* ---- memory ---- */

#define MAX_TAGS 8

struct snapshot {
    SIZE_T pool;
    LONG irps, mdls, locked;
    SIZE_T tags[MAX_TAGS];
};

static void snap(struct snapshot *s)
{
    struct kshim_stats st;
    memset(&st, 0, sizeof(st));
    kshim_get_stats(&st);
    s->pool = st.pool_bytes_nonpaged;
    s->irps = st.irps;
    s->mdls = st.mdls;
    s->locked = st.locked_mdls;
    for (int i = 0; i < instr_impl_ntags && i < MAX_TAGS; i++)
        s->tags[i] = kshim_pool_bytes_by_tag(instr_impl_tags[i]);
}

/* Size of an IRP with one stack location on the host bed. On x64 Windows
 * IoSizeOfIrp(1) is sizeof(IRP) 0xD0 + one IO_STACK_LOCATION 0x48 = 0x118
 * bytes (from the I/O manager's small-IRP lookaside list), and sizeof(MDL)
 * is 0x30 plus 8 bytes per page. bench-instr reports both. */
static size_t shim_irp_bytes(void)
{
    return offsetof(IRP, KshimStack) + sizeof(IO_STACK_LOCATION);
}

static void mem_report(const char *kind, const struct snapshot *a, const struct snapshot *b,
                       int count)
{
    printf("MEM impl=%s kind=%s sockets=%d pool_bytes=%ld irps=%ld mdls=%ld locked_mdls=%ld "
           "irp_bytes_shim=%zu",
           instr_impl_name, kind, count, (long)(b->pool - a->pool), (long)(b->irps - a->irps),
           (long)(b->mdls - a->mdls), (long)(b->locked - a->locked), shim_irp_bytes());
    for (int i = 0; i < instr_impl_ntags && i < MAX_TAGS; i++) {
        char t[5];
        for (int c = 0; c < 4; c++)
            t[c] = (char)(instr_impl_tags[i] >> (8 * c));
        t[4] = '\0';
        printf(" tag.%s=%ld", t, (long)(b->tags[i] - a->tags[i]));
    }
    printf("\n");
}

/* After closing a kind's sockets everything must be back (a data check:
 * the idle sockets really held what was counted, and nothing leaked). */
static void mem_check_back(const char *kind, const struct snapshot *before)
{
    struct snapshot now;
    snap(&now);
    if (now.irps != before->irps || now.mdls != before->mdls)
        fail(kind, "IRPs or MDLs left after closing the sockets", (long)(now.irps - before->irps));
}

static void op_mem(void)
{
    int n = mem_sockets;
    instr_sock *socks = calloc((size_t)n, sizeof(*socks));
    int *fds = calloc((size_t)n, sizeof(int));
    struct snapshot s0, s1;
    if (socks == NULL || fds == NULL) {
        fail("mem", "out of memory", 0);
        free(socks);
        free(fds);
        return;
    }

    /* Listening sockets. */
    int port;
    snap(&s0);
    int ok = 1;
    for (int i = 0; i < n; i++) {
        socks[i] = instr_listen(&port);
        ok &= socks[i] != 0;
    }
    snap(&s1);
    mem_report("listening", &s0, &s1, n);
    for (int i = 0; i < n; i++)
        if (socks[i] != 0)
            instr_close(socks[i]);
    if (!ok)
        fail("mem", "listen", 0);
    mem_check_back("mem listening", &s0);

    /* Connected sockets (connect side), idle, to a native peer. */
    struct acceptor a;
    if (acceptor_start(&a, n, &port) != 0) {
        fail("mem", "native listener", 0);
    } else {
        snap(&s0);
        ok = 1;
        for (int i = 0; i < n; i++) {
            socks[i] = instr_connect(port);
            ok &= socks[i] != 0;
        }
        snap(&s1);
        mem_report("connected", &s0, &s1, n);
        ok &= acceptor_wait(&a, n);
        for (int i = 0; i < n; i++)
            if (socks[i] != 0)
                instr_close(socks[i]);
        ok &= acceptor_stop(&a, 1) == n;
        if (!ok)
            fail("mem", "connect", 0);
        mem_check_back("mem connected", &s0);
    }

    /* Accepted sockets, idle, from native clients. */
    instr_sock l = instr_listen(&port);
    if (l == 0) {
        fail("mem", "listener", 0);
    } else {
        ok = 1;
        for (int i = 0; i < n; i++) {
            fds[i] = hp_connect(0, port);
            ok &= fds[i] >= 0;
        }
        snap(&s0);
        for (int i = 0; i < n; i++) {
            socks[i] = instr_accept(l);
            ok &= socks[i] != 0;
        }
        snap(&s1);
        mem_report("accepted", &s0, &s1, n);
        for (int i = 0; i < n; i++) {
            if (socks[i] != 0)
                instr_close(socks[i]);
            if (fds[i] >= 0)
                ok &= hp_wait_end(fds[i], PEER_WAIT_MS, NULL) != 0;
            if (fds[i] >= 0)
                hp_close(fds[i]);
        }
        instr_close(l);
        if (!ok)
            fail("mem", "accept", 0);
    }
    printf("RESULT impl=%s op=mem sockets=%d check=%s\n", instr_impl_name, n,
           failures == 0 ? "ok" : "FAIL");
    free(socks);
    free(fds);
}

/* ---- main ---- */

static const struct {
    const char *name;
    void (*fn)(void);
} ops[] = {
    {"send", op_send},
    {"recv", op_recv},
    {"connect-close", op_connect_close},
    {"accept-close", op_accept_close},
    {"mem", op_mem},
};
#define NOPS ((int)(sizeof(ops) / sizeof(ops[0])))

static int usage(void)
{
    fprintf(stderr, "usage: instr_ks|instr_raw [--iterations N] [--size BYTES] [--sockets N] "
                    "OP...\n  OP: send recv connect-close accept-close mem all\n");
    return 2;
}

/* A positive int option value, or -1. */
static int int_arg(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s != '\0' && *end == '\0' && v > 0 && v <= 100000000 ? (int)v : -1;
}

int main(int argc, char **argv)
{
    int wanted[NOPS] = {0};
    int any = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        int *opt = NULL;
        if (strcmp(argv[i], "--iterations") == 0)
            opt = &iterations;
        else if (strcmp(argv[i], "--size") == 0)
            opt = &io_size;
        else if (strcmp(argv[i], "--sockets") == 0)
            opt = &mem_sockets;
        if (opt != NULL) {
            if (i + 1 >= argc || (*opt = int_arg(argv[i + 1])) < 0)
                return usage();
            i++;
            continue;
        }
        int found = 0;
        for (int k = 0; k < NOPS; k++)
            if (strcmp(argv[i], ops[k].name) == 0 || strcmp(argv[i], "all") == 0) {
                wanted[k] = 1;
                found = 1;
            }
        if (!found)
            return usage();
        any = 1;
    }
    if (!any)
        return usage();

    kshim_init();
    /* Peers keep their ends open: two descriptors per connection. */
    hp_raise_fd_limit(4L * (WARMUP + iterations + mem_sockets) + 256);
    static const char *const modes[] = {"async", "inline", "mixed"};
    printf("instr: %s, completion mode %s, %d iterations of %d bytes\n", instr_impl_name,
           modes[wskprov_completion_mode()], iterations, io_size);
    if (instr_startup() != 0) {
        printf("instr: FAIL startup\n");
        return 1;
    }
    for (int k = 0; k < NOPS; k++)
        if (wanted[k])
            ops[k].fn();
    instr_cleanup();
    if (!kshim_wait_threads(10000))
        fail("cleanup", "system threads still running", 0);
    if (kshim_check_leaks(instr_impl_name) != 0)
        fail("cleanup", "leaks after cleanup", 0);
    printf("instr: %s %s\n", instr_impl_name, failures == 0 ? "PASS" : "FAIL");
    return failures == 0 ? 0 : 1;
}
