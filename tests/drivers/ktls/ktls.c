/*
 * ktls - the TLS client test driver (wsksock/tls.h) of the test suite.
 *
 * Parameters (Services\ktls\Parameters):
 *   TrustFile  the anchors ("Z:\tmp\...\ca.pem" under Wine);
 *   Cases      "label:port:name:want,..." - for each, a TLS client to
 *              127.0.0.1:port checking the certificate against name; want
 *              is the expected result of ks_tls_client (0, or a negative
 *              errno / -KS_ETLS_* value as a decimal number). On success it
 *              sends "ping\n" and expects it echoed, then closes with
 *              close_notify. A case with want "R<n>" expects the handshake
 *              to succeed and then ks_tls_recv to fail with n (a peer that
 *              drops the connection mid-record).
 *   Timeout    SO_RCVTIMEO/SO_SNDTIMEO in ms (default 10000).
 * Logs "ktls: case <label>: <result> (<text>): ok" or ": FAIL want <n>",
 * the deepest stack a handshake used ("ktls: stack: handshake used N bytes,
 * M were free"), then "ktls: done failures=K". The stack is measured by
 * painting the free part of the thread's stack before the handshake and
 * finding the deepest byte changed after it (docs/tls.md).
 */
#include <ntddk.h>

#include "wsksock.h"
#include "wsksock/params.h"
#include "wsksock/tls.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD kt_unload;
static ks_thread_routine kt_worker;

#define KT_TAG ((ULONG)'k' | ((ULONG)'t' << 8) | ((ULONG)'l' << 16) | ((ULONG)'s' << 24))
#define KT_PAINT 0xA5
#define KT_PAINT_MAX (64 * 1024)

struct kt {
    char trust[512];
    char cases[2048];
    int timeout_ms;
    struct ks_tls_config *cfg;
    int failures;
    size_t stack_used, stack_free;
};

static struct kt *g_kt;
static struct ks_thread *g_worker;
static volatile LONG g_stopping;

/* ---- stack measurement ---- */

/* Paints n bytes below top, from the top down (so that a stack that grows
 * through guard pages, as Wine's threads do, is touched in order). */
static DECLSPEC_NOINLINE void paint(ULONG_PTR top, size_t n)
{
    volatile unsigned char *p = (volatile unsigned char *)top;
    for (size_t i = 512; i < n; i++)
        p[-(LONG_PTR)i] = KT_PAINT;
}

/* Bytes below top that something wrote since paint(top, n). */
static DECLSPEC_NOINLINE size_t painted_used(ULONG_PTR top, size_t n)
{
    volatile unsigned char *p = (volatile unsigned char *)top;
    size_t i = n;
    while (i > 512 && p[-(LONG_PTR)(i - 1)] == KT_PAINT)
        i--;
    return i;
}

/* ---- cases ---- */

static int parse_int(const char **s)
{
    int neg = 0, v = 0;
    if (**s == '-') {
        neg = 1;
        (*s)++;
    }
    while (**s >= '0' && **s <= '9')
        v = v * 10 + (*(*s)++ - '0');
    return neg ? -v : v;
}

static int connect_port(int port, int timeout_ms)
{
    int s = ks_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s < 0)
        return s;
    ULONG ms = (ULONG)timeout_ms;
    struct sockaddr_in sin;
    RtlZeroMemory(&sin, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = ks_htons((USHORT)port);
    sin.sin_addr.s_addr = ks_htonl(0x7F000001);
    int err = ks_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &ms, sizeof(ms));
    if (err == 0)
        err = ks_setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &ms, sizeof(ms));
    if (err == 0)
        err = ks_connect(s, (struct sockaddr *)&sin, sizeof(sin));
    if (err != 0) {
        ks_close(s);
        return err;
    }
    return s;
}

/* One case; returns 1 if it went as expected. */
static int run_case(struct kt *k, const char *label, int port, const char *name, int want,
                    int want_recv)
{
    int fd = connect_port(port, k->timeout_ms);
    if (fd < 0) {
        DbgPrint("ktls: case %s: connect: %s: FAIL\n", label, ks_strerror(fd));
        return 0;
    }
    struct ks_tls *t = NULL;
    volatile char here = 0; /* the top of the painted area: this frame */
    ULONG_PTR top = (ULONG_PTR)&here;
    size_t free_bytes = IoGetRemainingStackSize();
    size_t n = free_bytes > KT_PAINT_MAX + 2048 ? KT_PAINT_MAX : free_bytes - 2048;
    paint(top, n);
    int r = ks_tls_client(fd, k->cfg, name, &t);
    size_t used = painted_used(top, n);
    if (used > k->stack_used) {
        k->stack_used = used;
        k->stack_free = free_bytes;
    }
    if (r != 0)
        ks_close(fd);
    int ok = r == want;
    if (r == 0) {
        char buf[16];
        ks_ssize_t sent = ks_tls_send(t, "ping\n", 5, 0);
        ks_ssize_t got = sent == 5 ? ks_tls_recv(t, buf, 5, MSG_WAITALL) : sent;
        if (want_recv != 0) {
            ok = got == want_recv || sent == want_recv;
            DbgPrint("ktls: case %s: then %d (%s)%s\n", label, (int)got, ks_tls_strerror((int)got),
                     ok ? "" : ": unexpected");
        } else {
            ok = ok && got == 5 && RtlCompareMemory(buf, "ping\n", 5) == 5;
        }
        ks_tls_close(t);
    }
    DbgPrint("ktls: case %s: %d (%s): %s\n", label, r, ks_tls_strerror(r), ok ? "ok" : "FAIL");
    return ok;
}

static void kt_worker(void *context)
{
    struct kt *k = context;
    const char *p = k->cases;
    while (*p != '\0' && !g_stopping) {
        char label[32], name[256];
        size_t i = 0;
        while (*p != ':' && *p != '\0' && i + 1 < sizeof(label))
            label[i++] = *p++;
        label[i] = '\0';
        if (*p == ':')
            p++;
        int port = parse_int(&p);
        if (*p == ':')
            p++;
        i = 0;
        while (*p != ':' && *p != '\0' && i + 1 < sizeof(name))
            name[i++] = *p++;
        name[i] = '\0';
        if (*p == ':')
            p++;
        int want = 0, want_recv = 0;
        if (*p == 'R') {
            p++;
            want_recv = parse_int(&p);
        } else {
            want = parse_int(&p);
        }
        if (*p == ',')
            p++;
        if (!run_case(k, label, port, name, want, want_recv))
            k->failures++;
    }
    DbgPrint("ktls: stack: handshake used %lu bytes, %lu were free\n", (ULONG)k->stack_used,
             (ULONG)k->stack_free);
    DbgPrint("ktls: done failures=%d\n", k->failures);
}

static void kt_free(void)
{
    if (g_kt != NULL) {
        (void)ks_tls_config_free(g_kt->cfg);
        ks_pool_free(g_kt, KT_TAG);
        g_kt = NULL;
    }
}

static void kt_unload(PDRIVER_OBJECT driver)
{
    UNREFERENCED_PARAMETER(driver);
    InterlockedExchange(&g_stopping, 1);
    if (g_worker != NULL && ks_thread_join_timeout(g_worker, 30000) == -ETIMEDOUT) {
        ks_cleanup(); /* wakes its blocked call */
        ks_thread_join(g_worker);
        kt_free();
        return;
    }
    ks_cleanup();
    kt_free();
    DbgPrint("ktls: unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    g_kt = ks_pool_alloc(sizeof(*g_kt), KT_TAG);
    if (g_kt == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    RtlZeroMemory(g_kt, sizeof(*g_kt));
    g_kt->timeout_ms = ks_param_get_int(registry_path, "Timeout", 10000);
    int err = ks_param_get(registry_path, "TrustFile", g_kt->trust, sizeof(g_kt->trust));
    if (err >= 0)
        err = ks_param_get(registry_path, "Cases", g_kt->cases, sizeof(g_kt->cases));
    if (err >= 0)
        err = ks_tls_config_new(KS_TLS_CLIENT, 0, &g_kt->cfg);
    if (err >= 0)
        err = ks_tls_config_add_trust_file(g_kt->cfg, g_kt->trust);
    if (err < 0) {
        DbgPrint("ktls: parameters: %s (%d)\n", ks_tls_strerror(err), err);
        kt_free();
        return STATUS_INVALID_PARAMETER;
    }
    err = ks_startup();
    if (err == 0) {
        err = ks_thread_start(&g_worker, kt_worker, g_kt);
        if (err != 0)
            ks_cleanup();
    }
    if (err != 0) {
        DbgPrint("ktls: start: %s\n", ks_strerror(err));
        kt_free();
        return STATUS_UNSUCCESSFUL;
    }
    driver->DriverUnload = kt_unload;
    return STATUS_SUCCESS;
}
