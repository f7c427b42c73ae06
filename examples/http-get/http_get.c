/*
 * http-get - a kernel HTTP/1.1 client driver.
 *
 * DriverEntry reads the URL from the service's Parameters\Url value
 * (tools/wskrun --param Url=http://host:port/path) and starts a system
 * thread that fetches it: the host is resolved with ks_getaddrinfo, a GET
 * is sent (Host header, Connection: close), the status line and header
 * fields are parsed, the body is read (Content-Length, chunked, or up to
 * the end of the connection) and hashed with SHA-256, and redirects (301,
 * 302, 303, 307, 308 with a Location, absolute or relative) are followed
 * up to MaxRedirects hops (default 5). It prints:
 *
 *   http-get: GET http://127.0.0.1:8080/file
 *   http-get: HTTP/1.1 200 OK
 *   http-get: status=200 bytes=52428800 sha256=<64 hex digits> ms=420 MiB/s=119.0
 *
 * or "http-get: failed: <reason>".
 *
 * https:// URLs go through wsksock/tls.h (TLS 1.2, BearSSL): the server's
 * certificate chain must lead to a trust anchor from Parameters\TrustFile
 * (a PEM or DER file: "\??\C:\certs\ca.pem"; under Wine "Z:\tmp\ca.pem"
 * is /tmp/ca.pem) or Parameters\Trust (the anchors themselves: PEM text in
 * a REG_SZ or REG_MULTI_SZ value, PEM or DER in a REG_BINARY one), must be
 * valid now and carry the URL's host name; with
 * Parameters\Pin (64 hex digits: the SHA-256 of the server's certificate)
 * it must also be that certificate. A refusal prints its reason, e.g.
 * "http-get: failed: TLS: certificate expired or not yet valid (-13002)".
 * Parameters\Timeout (milliseconds,
 * default 10000) bounds each receive and send (SO_RCVTIMEO, SO_SNDTIMEO),
 * so a silent server cannot hold the thread. DriverUnload closes the
 * thread's socket (its blocked call returns at once), waits for the thread
 * and only then calls ks_cleanup.
 *
 * Files: url.c (URLs, redirects), http.c (the response reader), sha256.c,
 * and this file (the driver, the socket, the thread).
 */
#include <ntddk.h>

#include "wsksock.h"
#include "wsksock/params.h"
#include "wsksock/tls.h"

#include "http.h"
#include "sha256.h"
#include "url.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD hg_unload;
static ks_thread_routine hg_worker;

#define HG_TAG ((ULONG)'h' | ((ULONG)'g' << 8) | ((ULONG)'e' << 16) | ((ULONG)'t' << 24))
#define HG_RECV_BUF (64 * 1024)
#define HG_LINE_MAX 8192
#define HG_REQUEST_MAX (URL_TARGET_MAX + URL_HOST_MAX + 256)
#define HG_TEXT_MAX (URL_TARGET_MAX + URL_HOST_MAX + 16)

/* Everything the worker needs, in one pool block (nothing big on the
 * kernel stack). */
struct hg {
    struct url url;         /* the URL being fetched */
    struct url next;        /* a redirect's target */
    char text[HG_TEXT_MAX]; /* a URL as text, for the log */
    char location[HG_TEXT_MAX];
    char request[HG_REQUEST_MAX];
    char line[HG_LINE_MAX];
    unsigned char *buf; /* HG_RECV_BUF bytes, a separate block */
    struct sha256 sha;
    int timeout_ms;
    int max_redirects;
    struct ks_tls_config *tls_cfg; /* https: trust anchors (and pin); NULL: none given */
    struct ks_tls *tls;            /* the current connection's session, if https */
};

static struct hg *g_hg;
static struct ks_thread *g_worker;
static volatile LONG g_stopping;
static volatile LONG g_sock = -1; /* the worker's socket, for DriverUnload */

static size_t text_length(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0')
        n++;
    return n;
}

/* Appends s to buf (size bytes, NUL-terminated); 0, or -EMSGSIZE. */
static int append(char *buf, size_t size, const char *s)
{
    size_t used = text_length(buf);
    size_t n = text_length(s);
    if (used + n + 1 > size)
        return -EMSGSIZE;
    RtlCopyMemory(buf + used, s, n + 1);
    return 0;
}

/* A 64-bit number in decimal (buf: at least 21 bytes). */
static const char *u64_text(uint64_t v, char *buf)
{
    char tmp[21];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (int i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return buf;
}

static const char *error_text(int err)
{
    switch (err) {
    case HTTP_EPROTO:
        return "malformed HTTP response";
    case HTTP_ETOOLONG:
        return "response line or Location too long";
    case HTTP_ETRUNC:
        return "connection closed before the end of the response";
    case URL_EINVAL:
        return "malformed URL";
    case URL_ESCHEME:
        return "not an http:// URL";
    case URL_ETOOLONG:
        return "URL too long";
    default:
        return ks_tls_strerror(err);
    }
}

static ULONGLONG now_ms(void)
{
    LARGE_INTEGER freq;
    LARGE_INTEGER t = KeQueryPerformanceCounter(&freq);
    return (ULONGLONG)t.QuadPart * 1000 / (ULONGLONG)freq.QuadPart;
}

static ptrdiff_t sock_recv(void *ctx, void *buf, size_t len)
{
    return ks_recv((int)(LONG_PTR)ctx, buf, len, 0);
}

static ptrdiff_t tls_recv(void *ctx, void *buf, size_t len)
{
    ks_ssize_t n = ks_tls_recv(ctx, buf, len, 0);
    /* The end of the response is the end of the TLS stream (close_notify);
     * a server that just drops the connection after a complete body is
     * common (and harmless when Content-Length or chunking framed it). */
    return n == -KS_ETLS_TRUNCATED ? 0 : n;
}

static ks_ssize_t send_all(struct hg *h, int s, const void *buf, size_t len)
{
    return h->tls != NULL ? ks_tls_send(h->tls, buf, len, 0) : ks_send(s, buf, len, 0);
}

static int body_hash(void *ctx, const void *data, size_t len)
{
    sha256_update(ctx, data, len);
    return 0;
}

/* Makes s the socket DriverUnload closes; FALSE if unloading began (the
 * caller then closes it itself). */
static BOOLEAN publish_socket(int s)
{
    InterlockedExchange(&g_sock, s);
    if (!g_stopping)
        return TRUE;
    InterlockedCompareExchange(&g_sock, -1, s);
    return FALSE;
}

/* Closes s unless DriverUnload took it (and closes it) first. */
static void close_socket(int s)
{
    if (InterlockedCompareExchange(&g_sock, -1, s) == s)
        ks_close(s);
}

/* Connects to the URL's host: each address ks_getaddrinfo gives, in turn. */
static int connect_to(struct hg *h, int *out)
{
    struct addrinfo hints;
    RtlZeroMemory(&hints, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    struct addrinfo *res = NULL;
    int err = ks_getaddrinfo(h->url.host, h->url.port, &hints, &res);
    if (err != 0) {
        DbgPrint("http-get: cannot resolve %s: %s\n", h->url.host, ks_gai_strerror(err));
        return err;
    }
    err = -EHOSTUNREACH;
    for (struct addrinfo *ai = res; ai != NULL && !g_stopping; ai = ai->ai_next) {
        int s = ks_socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (s < 0) {
            err = s;
            continue;
        }
        if (!publish_socket(s)) {
            ks_close(s);
            err = -ECANCELED;
            break;
        }
        ULONG ms = (ULONG)h->timeout_ms;
        err = ks_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &ms, sizeof(ms));
        if (err == 0)
            err = ks_setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &ms, sizeof(ms));
        if (err == 0)
            err = ks_connect(s, ai->ai_addr, (int)ai->ai_addrlen);
        if (err == 0) {
            *out = s;
            break;
        }
        close_socket(s);
    }
    ks_freeaddrinfo(res);
    return err;
}

static int is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* One request: fills *resp; for a final response, hashes its body. */
static int fetch_once(struct hg *h, struct http_response *resp, uint64_t *bytes)
{
    int err = url_format(&h->url, h->text, sizeof(h->text));
    if (err != 0)
        return err;
    DbgPrint("http-get: GET %s\n", h->text);

    /* GET <target> HTTP/1.1, Host, User-Agent, Connection: close */
    h->request[0] = '\0';
    char authority[URL_HOST_MAX + 8];
    err = url_authority(&h->url, authority, sizeof(authority));
    if (err == 0)
        err = append(h->request, sizeof(h->request), "GET ");
    if (err == 0)
        err = append(h->request, sizeof(h->request), h->url.target);
    if (err == 0)
        err = append(h->request, sizeof(h->request), " HTTP/1.1\r\nHost: ");
    if (err == 0)
        err = append(h->request, sizeof(h->request), authority);
    if (err == 0)
        err = append(h->request, sizeof(h->request),
                     "\r\nUser-Agent: wsksock-http-get/1.0\r\nAccept: */*\r\n"
                     "Connection: close\r\n\r\n");
    if (err != 0)
        return err;

    int s = -1;
    err = connect_to(h, &s);
    if (err != 0)
        return err;
    if (h->url.secure) {
        if (h->tls_cfg == NULL)
            err = -EACCES; /* no anchor: nothing to check the server against */
        else
            err = ks_tls_client(s, h->tls_cfg, h->url.host, &h->tls);
        if (err != 0) {
            if (err == -EACCES)
                DbgPrint("http-get: https needs Parameters\\TrustFile or Trust\n");
            close_socket(s);
            return err;
        }
        struct ks_tls_info info;
        if (ks_tls_get_info(h->tls, &info) == 0)
            DbgPrint("http-get: TLS 1.%u %s\n", (info.version & 0xFF) - 1, info.cipher);
    }
    size_t len = text_length(h->request);
    ks_ssize_t sent = send_all(h, s, h->request, len);
    if (sent < 0)
        err = (int)sent;
    else
        DbgPrint("http-get: request sent (%lu bytes)\n", (ULONG)sent);

    struct http_reader r;
    if (h->tls != NULL)
        http_reader_init(&r, tls_recv, h->tls, h->buf, HG_RECV_BUF, h->line, sizeof(h->line));
    else
        http_reader_init(&r, sock_recv, (void *)(LONG_PTR)s, h->buf, HG_RECV_BUF, h->line,
                         sizeof(h->line));
    resp->location = h->location;
    resp->location_cap = sizeof(h->location);
    if (err == 0)
        err = http_read_head(&r, resp);
    if (err == 0) {
        DbgPrint("http-get: HTTP/1.%d %d %s\n", resp->minor, resp->status, resp->reason);
        *bytes = 0;
        sha256_init(&h->sha);
        /* A redirect's body is not read: the connection is closed. */
        if (!is_redirect(resp->status) || h->location[0] == '\0')
            err = http_read_body(&r, resp, body_hash, &h->sha, bytes);
    }
    if (h->tls != NULL) {
        /* The session owns s: ks_tls_close closes it (after DriverUnload
         * closed it first, that close is a harmless -EBADF). */
        InterlockedCompareExchange(&g_sock, -1, s);
        (void)ks_tls_close(h->tls);
        h->tls = NULL;
    } else {
        close_socket(s);
    }
    return err;
}

static int run(struct hg *h)
{
    struct http_response resp;
    RtlZeroMemory(&resp, sizeof(resp));
    ULONGLONG t0 = now_ms();
    for (int hop = 0;; hop++) {
        uint64_t bytes = 0;
        int err = fetch_once(h, &resp, &bytes);
        if (err != 0)
            return err;
        if (is_redirect(resp.status) && h->location[0] != '\0') {
            if (hop >= h->max_redirects) {
                DbgPrint("http-get: failed: more than %d redirects\n", h->max_redirects);
                return 1;
            }
            err = url_resolve(&h->url, h->location, &h->next);
            if (err != 0) {
                DbgPrint("http-get: bad Location \"%s\"\n", h->location);
                return err;
            }
            RtlCopyMemory(&h->url, &h->next, sizeof(h->url));
            (void)url_format(&h->url, h->text, sizeof(h->text));
            DbgPrint("http-get: redirect %d to %s\n", resp.status, h->text);
            continue;
        }
        ULONGLONG ms = now_ms() - t0;
        uint8_t digest[SHA256_DIGEST_SIZE];
        char hex[2 * SHA256_DIGEST_SIZE + 1];
        char count[21];
        sha256_final(&h->sha, digest);
        sha256_hex(digest, hex);
        /* MiB/s with one decimal, from integers (no floating point). */
        uint64_t tenths = bytes * 10000 / ((ms == 0 ? 1 : ms) * 1048576);
        DbgPrint("http-get: status=%d bytes=%s sha256=%s ms=%lu MiB/s=%lu.%lu\n", resp.status,
                 u64_text(bytes, count), hex, (ULONG)ms, (ULONG)(tenths / 10),
                 (ULONG)(tenths % 10));
        return 0;
    }
}

static void hg_worker(void *context)
{
    struct hg *h = context;
    int err = run(h);
    if (err < 0)
        DbgPrint("http-get: failed: %s (%d)\n",
                 g_stopping ? "stopped by the unload" : error_text(err), err);
    else if (err == 0)
        DbgPrint("http-get: done\n");
}

static void free_hg(void)
{
    if (g_hg != NULL) {
        (void)ks_tls_config_free(g_hg->tls_cfg);
        if (g_hg->buf != NULL)
            ks_pool_free(g_hg->buf, HG_TAG);
        ks_pool_free(g_hg, HG_TAG);
        g_hg = NULL;
    }
}

static void hg_unload(PDRIVER_OBJECT driver)
{
    UNREFERENCED_PARAMETER(driver);
    ULONGLONG t0 = now_ms();
    InterlockedExchange(&g_stopping, 1);
    /* Wake the worker: its blocked ks_recv/ks_send/ks_connect returns. */
    LONG s = InterlockedExchange(&g_sock, -1);
    if (s >= 0)
        ks_close(s);
    BOOLEAN cleaned = FALSE;
    if (g_worker != NULL) {
        /* A name query is not woken by a close: give the thread 5 s, then
         * let ks_cleanup cancel whatever it still waits for. */
        if (ks_thread_join_timeout(g_worker, 5000) == -ETIMEDOUT) {
            ks_cleanup();
            cleaned = TRUE;
            ks_thread_join(g_worker);
        }
        g_worker = NULL;
    }
    if (!cleaned)
        ks_cleanup(); /* the one call matching DriverEntry's ks_startup */
    free_hg();
    DbgPrint("http-get: unloaded in %lu ms\n", (ULONG)(now_ms() - t0));
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parameters TrustFile, Trust and Pin: the https configuration (none
 * without TrustFile or Trust). 0, or an error (logged). */
static int load_tls(struct hg *h, PUNICODE_STRING registry_path)
{
    int n = ks_param_get(registry_path, "TrustFile", h->location, sizeof(h->location));
    int in_registry = ks_param_get_bytes(registry_path, "Trust", NULL, 0) != -ENOENT;
    if (n == -ENOENT && !in_registry)
        return 0;
    int err = n < 0 && n != -ENOENT ? n : ks_tls_config_new(KS_TLS_CLIENT, 0, &h->tls_cfg);
    if (err == 0 && n >= 0) {
        n = ks_tls_config_add_trust_file(h->tls_cfg, h->location);
        err = n < 0 ? n : 0;
        if (err == 0)
            DbgPrint("http-get: %d trust anchor(s) from %s\n", n, h->location);
    }
    if (err == 0 && in_registry) {
        n = ks_tls_config_add_trust_param(h->tls_cfg, registry_path, "Trust");
        err = n < 0 ? n : 0;
        if (err == 0)
            DbgPrint("http-get: %d trust anchor(s) from Parameters\\Trust\n", n);
    }
    if (err == 0 && ks_param_get(registry_path, "Pin", h->line, sizeof(h->line)) >= 0) {
        unsigned char pin[32];
        for (int i = 0; i < 32 && err == 0; i++) {
            int hi = hex_value(h->line[2 * i]), lo = hi < 0 ? -1 : hex_value(h->line[2 * i + 1]);
            if (lo < 0)
                err = -EINVAL;
            else
                pin[i] = (unsigned char)(hi << 4 | lo);
        }
        if (err == 0 && h->line[64] != '\0')
            err = -EINVAL;
        if (err == 0)
            err = ks_tls_config_add_pin(h->tls_cfg, pin);
    }
    if (err != 0)
        DbgPrint("http-get: TrustFile/Trust/Pin: %s (%d)\n", ks_tls_strerror(err), err);
    return err;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    g_hg = ks_pool_alloc(sizeof(*g_hg), HG_TAG);
    if (g_hg == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    RtlZeroMemory(g_hg, sizeof(*g_hg));
    g_hg->buf = ks_pool_alloc(HG_RECV_BUF, HG_TAG);
    if (g_hg->buf == NULL) {
        free_hg();
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    g_hg->timeout_ms = ks_param_get_int(registry_path, "Timeout", 10000);
    g_hg->max_redirects = ks_param_get_int(registry_path, "MaxRedirects", 5);
    int n = ks_param_get(registry_path, "Url", g_hg->text, sizeof(g_hg->text));
    if (n < 0) {
        DbgPrint("http-get: no usable Url parameter (%s); use --param Url=http://host/path\n",
                 ks_strerror(n));
        free_hg();
        return STATUS_INVALID_PARAMETER;
    }
    int err = url_parse(g_hg->text, &g_hg->url);
    if (err != 0) {
        DbgPrint("http-get: Url \"%s\": %s\n", g_hg->text, error_text(err));
        free_hg();
        return STATUS_INVALID_PARAMETER;
    }
    err = load_tls(g_hg, registry_path);
    if (err != 0) {
        free_hg();
        return STATUS_INVALID_PARAMETER;
    }
    err = ks_startup();
    if (err != 0) {
        DbgPrint("http-get: ks_startup failed: %s\n", ks_strerror(err));
        free_hg();
        return STATUS_UNSUCCESSFUL;
    }
    err = ks_thread_start(&g_worker, hg_worker, g_hg);
    if (err != 0) {
        DbgPrint("http-get: cannot start the worker: %s\n", ks_strerror(err));
        ks_cleanup();
        free_hg();
        return STATUS_UNSUCCESSFUL;
    }
    driver->DriverUnload = hg_unload;
    return STATUS_SUCCESS;
}
