/*
 * t_pool.c - ks_pool_alloc/ks_pool_free (wsksock/pool.h) and the library's
 * own allocations and MDL mappings on each system the shim plays: Windows
 * 11 (ExAllocatePool2), Windows 10 without ExAllocatePool2 (as Wine:
 * ExAllocatePoolWithTag(NonPagedPoolNx)) and Windows 7 (NonPagedPool, no
 * MdlMappingNoExecute). A test that plays another system restarts the
 * library on it (ks_cleanup, the shim's knobs, ks_startup: the choice is
 * made by ks_startup) and restores the default system at its end.
 *
 * pool-fault needs KSHIM_FAULT=pool.ksPt:1 (its runs, fault_runs, set it,
 * once with ExAllocatePool2 and once without: KSHIM_NO_POOL2=1).
 */
#include "tests.h"

#include "ks_kernel.h" /* the library's pool tags */

#include <stdlib.h>
#include <string.h>

#define T_TAG KS_TAG('k', 's', 'P', 't')
#define T_SITE "pool.ksPt"

static const ULONG lib_tags[] = {KS_TAG_SOCKET, KS_TAG_TABLE, KS_TAG_BUFFER, KS_TAG_MISC,
                                 KS_TAG_RESOLVE};

/* The system played; the library restarted on it. */
static void play(ULONG major, ULONG minor, ULONG build, BOOLEAN pool2)
{
    ks_cleanup();
    kshim_set_windows_version(major, minor, build);
    kshim_set_pool2_exported(pool2);
    HT_EQ(ks_startup(), 0, "ks_startup on the system played");
}

static void play_default(void)
{
    play(10, 0, 22621, TRUE);
}

/* Allocations with tag (0: any) of every kind but want. */
static LONG other_kinds(ULONG tag, enum kshim_pool_kind want)
{
    LONG n = 0;
    for (int k = 0; k < KSHIM_POOL_KINDS; k++)
        if (k != (int)want)
            n += kshim_pool_kind_count(tag, (enum kshim_pool_kind)k);
    return n;
}

static LONG all_kinds(ULONG tag)
{
    LONG n = 0;
    for (int k = 0; k < KSHIM_POOL_KINDS; k++)
        n += kshim_pool_kind_count(tag, (enum kshim_pool_kind)k);
    return n;
}

/* ks_pool_alloc's contract, its blocks made as want says. */
static void check_pool(enum kshim_pool_kind want)
{
    const size_t sizes[] = {1, 100, 4096, 70000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *p = ks_pool_alloc(sizes[i], T_TAG);
        HT_CHECK(p != NULL, "ks_pool_alloc", (long long)sizes[i]);
        if (p == NULL)
            continue;
        HT_EQ(kshim_pool_kind_of(p), want, "the block's API and pool type");
        size_t nonzero = 0;
        for (size_t j = 0; j < sizes[i]; j++)
            nonzero += p[j] != 0;
        HT_EQ(nonzero, 0, "ks_pool_alloc's memory is zeroed");
        memset(p, 0xa5, sizes[i]); /* all of it is ours (ASan) */
        ks_pool_free(p, T_TAG);
    }
    LONG before = all_kinds(T_TAG);
    HT_CHECK(ks_pool_alloc(0, T_TAG) == NULL, "size 0: NULL", 0);
    HT_EQ(all_kinds(T_TAG), before, "size 0 allocates nothing");
    ks_pool_free(NULL, T_TAG); /* harmless: ExFreePoolWithTag(NULL) would be a violation */
}

/* The library's allocations of one socket's life (TCP with data, a peek,
 * UDP, name resolution) all made as want says. */
static void check_library(enum kshim_pool_kind want)
{
    int native;
    char b[8];
    kshim_pool_kinds_reset();
    int s = ht_pair(&native);
    if (s > 0) {
        HT_EQ(hp_send_all(native, "pool", 4), 4, "native send");
        HT_EQ(ks_recv(s, b, 2, MSG_PEEK), 2, "peek (a library buffer)");
        HT_EQ(ks_recv(s, b, 4, MSG_WAITALL), 4, "receive");
        HT_EQ(ks_send(s, b, 4, 0), 4, "send");
        HT_EQ(hp_recv_all(native, b, 4, 5000), 4, "native receive");
        ks_close(s);
        hp_close(native);
    }
    int u = ks_socket(AF_INET, SOCK_DGRAM, 0);
    HT_CHECK(u > 0, "UDP socket", u);
    ks_close(u);
    struct addrinfo *res = NULL;
    HT_EQ(ks_getaddrinfo("127.0.0.1", "80", NULL, &res), 0, "numeric ks_getaddrinfo");
    ks_freeaddrinfo(res);
    HT_CHECK(kshim_pool_kind_count(KS_TAG_SOCKET, want) >= 2, "socket objects made as chosen",
             kshim_pool_kind_count(KS_TAG_SOCKET, want));
    HT_CHECK(kshim_pool_kind_count(KS_TAG_BUFFER, want) >= 1, "the peek buffer made as chosen",
             kshim_pool_kind_count(KS_TAG_BUFFER, want));
    HT_CHECK(kshim_pool_kind_count(KS_TAG_RESOLVE, want) >= 1, "the result list made as chosen",
             kshim_pool_kind_count(KS_TAG_RESOLVE, want));
    for (size_t i = 0; i < sizeof(lib_tags) / sizeof(lib_tags[0]); i++)
        HT_EQ(other_kinds(lib_tags[i], want), 0, "no library allocation made otherwise");
}

/* ---- an event-driven receive: the library maps the provider's MDLs ---- */

struct ev_seen {
    volatile LONG bytes;
    volatile LONG disconnects;
};

static int ev_accept(void *ctx, int listen_fd, int fd, const struct sockaddr *remote, int len,
                     void **conn_ctx)
{
    (void)listen_fd;
    (void)fd;
    (void)remote;
    (void)len;
    *conn_ctx = ctx;
    return 0;
}

static void ev_receive(void *ctx, int fd, const void *data, size_t len)
{
    (void)fd;
    (void)data;
    InterlockedAdd(&((struct ev_seen *)ctx)->bytes, (LONG)len);
}

static void ev_disconnect(void *ctx, int fd, int err)
{
    (void)err;
    InterlockedIncrement(&((struct ev_seen *)ctx)->disconnects);
    ks_close(fd);
}

static const struct ks_event_handlers ev_handlers = {ev_accept, ev_receive, ev_disconnect};

static int wait_for(volatile LONG *v, LONG want, int ms)
{
    LONGLONG end = ht_now_ms() + ms;
    while (*v < want && ht_now_ms() < end)
        ht_sleep_ms(1);
    return *v >= want;
}

/* 3000 bytes received through the provider's event callbacks; the
 * library's mapping requests counted by MdlMappingNoExecute. */
static void event_receive(LONG *nx, LONG *executable)
{
    static struct ev_seen seen;
    static unsigned char data[3000];
    SOCKADDR_STORAGE a;
    int alen;
    memset(&seen, 0, sizeof(seen));
    kshim_mdl_mappings_reset();
    int l = ks_socket(AF_INET, SOCK_STREAM, 0);
    ht_loopback(0, 0, &a, &alen);
    HT_EQ(ks_bind(l, (struct sockaddr *)&a, alen), 0, "bind");
    HT_EQ(ks_listen_events(l, 4, &ev_handlers, &seen), 0, "ks_listen_events");
    HT_EQ(ks_events_native(l), 1, "the provider's event callbacks (no KSHIM_WSK_EVENTS=0)");
    alen = (int)sizeof(a);
    HT_EQ(ks_getsockname(l, (struct sockaddr *)&a, &alen), 0, "getsockname");
    int fd = hp_connect(0, ks_ntohs(((SOCKADDR_IN *)&a)->sin_port));
    ht_pattern(data, sizeof(data), 3, 0);
    HT_EQ(hp_send_all(fd, data, sizeof(data)), sizeof(data), "native send");
    hp_close(fd);
    HT_EQ(wait_for(&seen.disconnects, 1, 10000), 1, "received to the end");
    HT_EQ(seen.bytes, sizeof(data), "every byte delivered");
    ks_close(l);
    *nx = kshim_mdl_mappings(TRUE);
    *executable = kshim_mdl_mappings(FALSE);
}

/* ---- the tests ---- */

/* On the system played (then the default again): ks_pool_alloc's blocks and
 * the library's allocations made as want says, and the receive mappings
 * with MdlMappingNoExecute (nx) or without. */
static void check_system(ULONG major, ULONG minor, ULONG build, BOOLEAN pool2,
                         enum kshim_pool_kind want, BOOLEAN nx)
{
    LONG with_nx, without;
    play(major, minor, build, pool2);
    check_pool(want);
    check_library(want);
    event_receive(&with_nx, &without);
    HT_CHECK(nx ? with_nx >= 1 : with_nx == 0, "mappings with MdlMappingNoExecute", with_nx);
    HT_CHECK(nx ? without == 0 : without >= 1, "mappings without it", without);
    play_default();
}

/* Windows 11: ExAllocatePool2(POOL_FLAG_NON_PAGED); NX mappings. */
static void t_pool_pool2(void)
{
    check_system(10, 0, 22621, TRUE, KSHIM_POOL_POOL2_NON_PAGED, TRUE);
}

/* Windows 10 without ExAllocatePool2 (Wine): NonPagedPoolNx; NX mappings. */
static void t_pool_no_pool2(void)
{
    check_system(10, 0, 19045, FALSE, KSHIM_POOL_WITH_TAG_NX, TRUE);
}

/* Windows 10 1909: too old for ExAllocatePool2 (the version alone). */
static void t_pool_windows10_1909(void)
{
    check_system(10, 0, 18363, TRUE, KSHIM_POOL_WITH_TAG_NX, TRUE);
}

/* Windows 7: NonPagedPool (no NX pool there) and no MdlMappingNoExecute
 * (either would also be a shim violation). */
static void t_pool_windows7(void)
{
    check_system(6, 1, 7601, TRUE, KSHIM_POOL_WITH_TAG_EXECUTE, FALSE);
}

/* An injected allocation fault (KSHIM_FAULT=pool.ksPt:1) fails
 * ks_pool_alloc on whichever path the system has; nothing is left behind
 * (the harness's leak check) and the next allocation succeeds. */
static void t_pool_fault(void)
{
    ULONG n = 0;
    const char *site = kshim_fault_site(&n);
    const char *hidden = getenv("KSHIM_NO_POOL2");
    enum kshim_pool_kind want = hidden != NULL && strcmp(hidden, "1") == 0
                                    ? KSHIM_POOL_WITH_TAG_NX
                                    : KSHIM_POOL_POOL2_NON_PAGED;
    HT_CHECK(site != NULL && strcmp(site, T_SITE) == 0 && n == 1,
             "run with KSHIM_FAULT=" T_SITE ":1", 0);
    LONG before = all_kinds(T_TAG);
    void *p = ks_pool_alloc(64, T_TAG);
    HT_CHECK(p == NULL, "NULL under the injected fault", 0);
    HT_CHECK(kshim_fault_fired(), "the fault fired", 0);
    HT_EQ(all_kinds(T_TAG), before, "nothing allocated");
    ks_pool_free(p, T_TAG);
    p = ks_pool_alloc(64, T_TAG);
    HT_CHECK(p != NULL, "the next allocation succeeds", 0);
    HT_EQ(kshim_pool_kind_of(p), want, "made on the system's path");
    ks_pool_free(p, T_TAG);
}

/* ctest's host_lib_pool-fault_pool2 and host_lib_pool-fault_with_tag. */
static const struct ht_run fault_runs[] = {
    {"_pool2", "KSHIM_FAULT=" T_SITE ":1"},
    {"_with_tag", "KSHIM_FAULT=" T_SITE ":1;KSHIM_NO_POOL2=1"},
    {NULL, NULL},
};

const struct ht_test pool_tests[] = {
    {"pool-pool2", t_pool_pool2, ht_runs_once},
    {"pool-no-pool2", t_pool_no_pool2, ht_runs_once},
    {"pool-windows10-1909", t_pool_windows10_1909, ht_runs_once},
    {"pool-windows7", t_pool_windows7, ht_runs_once},
    {"pool-fault", t_pool_fault, fault_runs},
};
const int pool_test_count = (int)(sizeof(pool_tests) / sizeof(pool_tests[0]));
