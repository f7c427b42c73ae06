/*
 * tls-echo - a kernel TLS echo server driver on wsksock/tls.h.
 *
 * Parameters (REG_SZ under the service key's Parameters subkey, or
 * tools/wskrun --param NAME=VALUE):
 *   Port      TCP port to listen on at 127.0.0.1 (default 8443)
 *   CertFile  the server's certificate chain, PEM (the end certificate
 *             first) or DER: a kernel path such as "\??\C:\certs\server.pem"
 *             (under Wine "\??\Z:\tmp\x\server.pem" is /tmp/x/server.pem)
 *   KeyFile   its private key (RSA or EC; PEM or DER); default: CertFile
 *   Cert, Key instead of CertFile/KeyFile: the chain and the key themselves
 *             in the registry (PEM text as REG_SZ or REG_MULTI_SZ, PEM or
 *             DER as REG_BINARY; Key defaults to Cert), read by
 *             ks_tls_config_set_cert_param
 *   MaxConns  connections served at once (default 64); one more is
 *             accepted and closed at once
 *   IdleMs    SO_RCVTIMEO/SO_SNDTIMEO of each connection, milliseconds
 *             (default 60000): a silent peer is dropped after that
 *
 * Concurrency: a listener thread accepts; each connection gets its own
 * system thread (bounded by MaxConns) that runs ks_tls_server, then echoes
 * with blocking ks_tls_recv/ks_tls_send until the client's close_notify
 * (ks_tls_recv returns 0), then ks_tls_close (which answers with ours).
 * Each connection holds one pool block (its echo buffer; the session is
 * another, about 40 KiB, made by the TLS layer); nothing big on a stack.
 *
 * So that curl and browsers can check it: if the first decrypted bytes of
 * a connection are "GET ", it reads the request head (at most 8 KiB, up to
 * and including the empty line that ends it) and answers
 *     HTTP/1.0 200 OK, Content-Type: text/plain, Content-Length: N,
 *     Connection: close
 * with the N bytes of that head as the body, then closes.
 *
 * Log: "tls-echo: listening on port P", per connection
 * "tls-echo: conn N: <cipher> TLS 1.2 bytes=<echoed>" or
 * "tls-echo: conn N: failed: <ks_tls_strerror> (<err>)" (after it, when
 * the connection was answered as HTTP, "tls-echo: conn N: http
 * "<request line>" 200 (B bytes)": both once the session is closed), and from
 * DriverUnload "tls-echo: unloaded in N ms (connections=K)".
 *
 * DriverUnload closes the listening socket (its ks_accept returns), joins
 * the listener, closes every connection's socket (the blocked TLS call on
 * it returns -EBADF; the connection's thread then ks_tls_close's its
 * session), joins their threads, frees the configuration and calls
 * ks_cleanup. The unload never calls into a session itself: a session
 * belongs to its thread, which alone frees it.
 */
#include <ntddk.h>

#include <wsksock.h>
#include <wsksock/params.h>
#include <wsksock/thread.h>
#include <wsksock/tls.h>

#define TE_TAG ((ULONG)'t' | ((ULONG)'l' << 8) | ((ULONG)'s' << 16) | ((ULONG)'e' << 24))
#define TE_BUF (16 * 1024)     /* echo buffer: one TLS record's worth */
#define TE_HEAD_MAX (8 * 1024) /* HTTP request head, the empty line included */
#define TE_PATH_MAX 512

/* The format is the first argument and ends with \n. */
#define LOG(...) DbgPrint("tls-echo: " __VA_ARGS__)

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD te_unload;

/* One connection: its thread, its socket and its buffer, in one block. */
struct conn {
    LIST_ENTRY link;
    struct ks_thread *thread;
    int fd;
    int number;
    volatile LONG finished;
    char request[80]; /* an HTTP request line, for the log; "" */
    char buf[TE_BUF];
};

static int g_port, g_max_conns, g_idle_ms;
static struct ks_tls_config *g_cfg;
static struct ks_thread *g_listener_thread;
static volatile LONG g_listen_fd = -1;
static volatile LONG g_stopping;
static volatile LONG g_accepted, g_active;
static LIST_ENTRY g_conns; /* changed by the listener thread only (and the unload after it) */

static LONGLONG now_ms(void)
{
    LARGE_INTEGER f, c = KeQueryPerformanceCounter(&f);
    return f.QuadPart >= 1000 ? c.QuadPart / (f.QuadPart / 1000) : 0;
}

/* Joins a thread without bound, logging every 5 s: returning early would
 * unmap running code. */
static void join_thread_forever(struct ks_thread *t, const char *what)
{
    while (ks_thread_join_timeout(t, 5000) == -ETIMEDOUT)
        LOG("unload: still waiting for %s\n", what);
}

static const char *version_name(unsigned v)
{
    switch (v) {
    case 0x0303:
        return "TLS 1.2";
    case 0x0302:
        return "TLS 1.1";
    case 0x0301:
        return "TLS 1.0";
    default:
        return "TLS ?";
    }
}

/* Where the request head in buf[0..len) ends (after its empty line), or 0. */
static size_t head_end(const char *buf, size_t len)
{
    size_t i;

    for (i = 3; i < len; i++) {
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
            return i + 1;
    }
    return 0;
}

/* Appends the decimal digits of v to out at *n. */
static void put_number(char *out, size_t *n, size_t v)
{
    char digits[24];
    int k = 0;

    do {
        digits[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (k > 0)
        out[(*n)++] = digits[--k];
}

static void put_text(char *out, size_t *n, const char *s)
{
    while (*s != '\0')
        out[(*n)++] = *s++;
}

/*
 * The HTTP answer: buf[0..len) starts with "GET "; reads on until the end
 * of the head, then sends the response and the head as its body, and keeps
 * the request line (for the log) in c->request. Returns the body's size,
 * or an error.
 */
static long long answer_get(struct conn *c, struct ks_tls *tls, size_t len)
{
    char head[160];
    size_t end, i, n = 0;
    ks_ssize_t r;

    while ((end = head_end(c->buf, len)) == 0) {
        if (len >= TE_HEAD_MAX)
            return -EMSGSIZE;
        r = ks_tls_recv(tls, c->buf + len, TE_HEAD_MAX - len, 0);
        if (r == 0)
            return -ECONNRESET; /* close_notify before the head ended */
        if (r < 0)
            return r;
        len += (size_t)r;
    }
    for (i = 0; i + 1 < sizeof(c->request) && c->buf[i] != '\r'; i++)
        c->request[i] = (char)(c->buf[i] >= ' ' && c->buf[i] <= '~' ? c->buf[i] : '?');
    c->request[i] = '\0';
    put_text(head, &n, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ");
    put_number(head, &n, end);
    put_text(head, &n, "\r\nConnection: close\r\n\r\n");
    r = ks_tls_send(tls, head, n, 0);
    if (r >= 0)
        r = ks_tls_send(tls, c->buf, end, 0);
    return r < 0 ? r : (long long)end;
}

/*
 * Echoes until the client's close_notify. The first bytes decide: "GET "
 * is answered as HTTP (answer_get). Returns the bytes echoed (>= 0), or an
 * error.
 */
static long long serve(struct conn *c, struct ks_tls *tls)
{
    long long echoed = 0;
    size_t have = 0; /* first bytes held while they may still be "GET " */
    BOOLEAN sniffing = TRUE;

    for (;;) {
        ks_ssize_t n = ks_tls_recv(tls, c->buf + have, TE_BUF - have, 0);
        ks_ssize_t w;

        if (n == 0)
            return echoed; /* close_notify: the clean end (held bytes: too late to echo) */
        if (n < 0)
            return n;
        if (sniffing) {
            have += (size_t)n;
            if (have < 4 && RtlCompareMemory(c->buf, "GET ", have) == have)
                continue; /* too few bytes to tell yet */
            sniffing = FALSE;
            if (have >= 4 && RtlCompareMemory(c->buf, "GET ", 4) == 4)
                return answer_get(c, tls, have);
            n = (ks_ssize_t)have;
            have = 0;
        }
        w = ks_tls_send(tls, c->buf, (size_t)n, 0);
        if (w < 0)
            return w;
        echoed += n;
    }
}

static void conn_thread(void *ctx)
{
    struct conn *c = ctx;
    struct ks_tls *tls = NULL;
    struct ks_tls_info info;
    ULONG ms = (ULONG)g_idle_ms;
    long long r;
    int err;

    /* Library options (they apply on Wine too); a failure only costs the
     * bound, so it is logged and the connection served anyway. */
    if (ks_setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &ms, sizeof(ms)) != 0 ||
        ks_setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &ms, sizeof(ms)) != 0)
        LOG("conn %d: cannot set the idle timeout\n", c->number);
    err = ks_tls_server(c->fd, g_cfg, &tls);
    if (err != 0) {
        ks_close(c->fd); /* a failed ks_tls_server leaves it ours; -EBADF after the unload's */
        LOG("conn %d: failed: %s (%d)\n", c->number, ks_tls_strerror(err), err);
    } else {
        err = ks_tls_get_info(tls, &info);
        r = err != 0 ? err : serve(c, tls);
        ks_tls_close(tls); /* close_notify (unless failed), then the socket */
        if (r >= 0)
            LOG("conn %d: %s %s bytes=%lld\n", c->number, info.cipher, version_name(info.version),
                r);
        else
            LOG("conn %d: failed: %s (%d)\n", c->number, ks_tls_strerror((int)r), (int)r);
        if (r >= 0 && c->request[0] != '\0')
            LOG("conn %d: http \"%s\" 200 (%lld bytes)\n", c->number, c->request, r);
    }
    InterlockedDecrement(&g_active);
    InterlockedExchange(&c->finished, 1);
}

/* Frees the blocks of connections whose thread has ended (wait: all). */
static void reap(int wait)
{
    PLIST_ENTRY e = g_conns.Flink;

    while (e != &g_conns) {
        struct conn *c = CONTAINING_RECORD(e, struct conn, link);
        e = e->Flink;
        if (wait)
            join_thread_forever(c->thread, "a connection thread");
        else if (!c->finished || ks_thread_join_timeout(c->thread, 0) != 0)
            continue;
        RemoveEntryList(&c->link);
        ks_pool_free(c, TE_TAG);
    }
}

/* Takes a new connection: its block and thread, unless MaxConns are busy. */
static void start_conn(int fd)
{
    struct conn *c;
    int err;

    if (InterlockedIncrement(&g_active) > g_max_conns) {
        InterlockedDecrement(&g_active);
        LOG("refused a connection: %d busy (MaxConns)\n", g_max_conns);
        ks_close(fd);
        return;
    }
    c = ks_pool_alloc(sizeof(*c), TE_TAG);
    if (!c) {
        InterlockedDecrement(&g_active);
        ks_close(fd);
        return;
    }
    RtlZeroMemory(c, offsetof(struct conn, buf));
    c->fd = fd;
    c->number = (int)InterlockedIncrement(&g_accepted);
    err = ks_thread_start(&c->thread, conn_thread, c);
    if (err != 0) {
        LOG("cannot start a connection thread: %d (%s)\n", err, ks_strerror(err));
        InterlockedDecrement(&g_active);
        ks_close(fd);
        ks_pool_free(c, TE_TAG);
        return;
    }
    InsertTailList(&g_conns, &c->link);
}

static int listen_on(int port)
{
    struct sockaddr_in a;
    int l, r;

    RtlZeroMemory(&a, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = ks_htons((uint16_t)port);
    a.sin_addr.s_addr = ks_htonl(INADDR_LOOPBACK);
    l = ks_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (l < 0)
        return l;
    r = ks_bind(l, (struct sockaddr *)&a, sizeof(a));
    if (r == 0)
        r = ks_listen(l, 128);
    if (r != 0) {
        ks_close(l);
        return r;
    }
    return l;
}

static void listener_thread(void *ctx)
{
    int l = (int)g_listen_fd;

    (void)ctx;
    while (!g_stopping) {
        int fd = ks_accept(l, NULL, NULL);

        if (fd < 0) {
            if (g_stopping || fd == -EBADF || fd == -ENETDOWN || fd == -EINVAL)
                break;
            LOG("ks_accept failed: %d (%s)\n", fd, ks_strerror(fd));
            continue; /* transient: -ECONNABORTED, -ENOMEM, -EMFILE */
        }
        reap(0);
        if (g_stopping) {
            ks_close(fd);
            break;
        }
        start_conn(fd);
    }
}

/* Closes the listener (waking ks_accept) and every connection's socket
 * (waking its thread), joins them all, frees the configuration and stops
 * the library. */
static void te_stop(void)
{
    PLIST_ENTRY e;
    int l, err;

    InterlockedExchange(&g_stopping, 1);
    l = (int)InterlockedExchange(&g_listen_fd, -1);
    if (l >= 0)
        ks_close(l);
    if (g_listener_thread) {
        join_thread_forever(g_listener_thread, "the listener thread");
        g_listener_thread = NULL;
    }
    /* The list is final now: wake every connection thread, then join. A
     * socket its thread already closed gives -EBADF (never reused). */
    for (e = g_conns.Flink; e != &g_conns; e = e->Flink)
        ks_close(CONTAINING_RECORD(e, struct conn, link)->fd);
    reap(1);
    err = ks_tls_config_free(g_cfg);
    if (err != 0)
        LOG("unload: ks_tls_config_free: %d (%s)\n", err, ks_tls_strerror(err));
    g_cfg = NULL;
    ks_cleanup();
}

static VOID te_unload(PDRIVER_OBJECT driver)
{
    LONGLONG t0 = now_ms();

    (void)driver;
    te_stop();
    LOG("unloaded in %ld ms (connections=%ld)\n", (long)(now_ms() - t0), (long)g_accepted);
}

/* The server configuration from the Cert and Key parameters (the data
 * itself in the registry). */
static int load_config_param(PUNICODE_STRING registry_path)
{
    const char *key = ks_param_get_bytes(registry_path, "Key", NULL, 0) == -ENOENT ? "Cert" : "Key";
    int r = ks_tls_config_new(KS_TLS_SERVER, 0, &g_cfg);
    if (r != 0) {
        LOG("ks_tls_config_new: %d (%s)\n", r, ks_tls_strerror(r));
        return r;
    }
    r = ks_tls_config_set_cert_param(g_cfg, registry_path, "Cert", key);
    if (r != 0) {
        LOG("cannot load the parameters Cert and %s: %s (%d)\n", key, ks_tls_strerror(r), r);
        ks_tls_config_free(g_cfg);
        g_cfg = NULL;
    } else {
        LOG("certificate and key from the parameters Cert and %s\n", key);
    }
    return r;
}

/* The server configuration from the CertFile and KeyFile parameters, or
 * else from Cert and Key. */
static int load_config(PUNICODE_STRING registry_path)
{
    char *cert, *key;
    int r;

    cert = ks_pool_alloc(2 * TE_PATH_MAX, TE_TAG);
    if (!cert)
        return -ENOMEM;
    key = cert + TE_PATH_MAX;
    r = ks_param_get(registry_path, "CertFile", cert, TE_PATH_MAX);
    if (r == -ENOENT && ks_param_get_bytes(registry_path, "Cert", NULL, 0) != -ENOENT) {
        r = load_config_param(registry_path);
        goto out;
    }
    if (r <= 0) {
        LOG("the CertFile parameter (a kernel path) or Cert is needed: %d (%s)\n", r,
            ks_strerror(r));
        r = -EINVAL;
        goto out;
    }
    r = ks_param_get(registry_path, "KeyFile", key, TE_PATH_MAX);
    if (r == -ENOENT || r == 0)
        RtlCopyMemory(key, cert, TE_PATH_MAX); /* one file with both */
    else if (r < 0) {
        LOG("cannot read the KeyFile parameter: %d (%s)\n", r, ks_strerror(r));
        goto out;
    }
    r = ks_tls_config_new(KS_TLS_SERVER, 0, &g_cfg);
    if (r != 0) {
        LOG("ks_tls_config_new: %d (%s)\n", r, ks_tls_strerror(r));
        goto out;
    }
    r = ks_tls_config_set_cert_file(g_cfg, cert, key);
    if (r != 0) {
        LOG("cannot load %s and %s: %s (%d)\n", cert, key, ks_tls_strerror(r), r);
        ks_tls_config_free(g_cfg);
        g_cfg = NULL;
    }
out:
    ks_pool_free(cert, TE_TAG);
    return r;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    int r;

    InitializeListHead(&g_conns);
    g_port = ks_param_get_int(registry_path, "Port", 8443);
    g_max_conns = ks_param_get_int(registry_path, "MaxConns", 64);
    g_idle_ms = ks_param_get_int(registry_path, "IdleMs", 60000);
    if (g_port <= 0 || g_port > 65535 || g_max_conns <= 0 || g_max_conns > 1024 || g_idle_ms <= 0) {
        LOG("bad parameters: Port=%d MaxConns=%d (1..1024) IdleMs=%d\n", g_port, g_max_conns,
            g_idle_ms);
        return STATUS_INVALID_PARAMETER;
    }
    if (load_config(registry_path) != 0)
        return STATUS_UNSUCCESSFUL;
    r = ks_startup();
    if (r != 0) {
        LOG("ks_startup failed: %d (%s)\n", r, ks_strerror(r));
        ks_tls_config_free(g_cfg);
        g_cfg = NULL;
        return STATUS_UNSUCCESSFUL;
    }
    r = listen_on(g_port);
    if (r < 0) {
        LOG("cannot listen on port %d: %d (%s)\n", g_port, r, ks_strerror(r));
        te_stop();
        return STATUS_UNSUCCESSFUL;
    }
    g_listen_fd = r;
    r = ks_thread_start(&g_listener_thread, listener_thread, NULL);
    if (r != 0) {
        LOG("cannot start the listener thread: %d (%s)\n", r, ks_strerror(r));
        te_stop();
        return STATUS_UNSUCCESSFUL;
    }
    LOG("listening on port %d (MaxConns=%d)\n", g_port, g_max_conns);
    driver->DriverUnload = te_unload;
    return STATUS_SUCCESS;
}
