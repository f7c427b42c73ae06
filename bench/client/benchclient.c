/*
 * benchclient - the benchmark's load client (bench/README.md): measures one
 * TCP echo server on 127.0.0.1 and prints one JSON line.
 *
 *   benchclient --port P [--label NAME] [--stream-bytes N] [--rt-ms MS]
 *               [--conn-ms MS] [--conn-max N] [--conns N] [--conns-bytes N]
 *               [--timeout S] [--seed K]
 *
 * Measures, in this order:
 *   stream  one connection streams --stream-bytes (default 200 MiB) in
 *           64 KiB pieces while reading the echo back at the same time:
 *           MiB/s from the first byte sent to the last byte echoed;
 *   rt64k   lockstep round trips of 64 KiB (send all, read all back) for
 *           --rt-ms (default 2000): round trips per second;
 *   rt1     the same with 1 byte;
 *   conn    connections set up and torn down, one after the other, for
 *           --conn-ms (default 2000, at most --conn-max): connect, shut down
 *           for writing, wait for the server's end of stream (so the server
 *           accepted, read the end and closed), close; per second;
 *   multi   --conns (default 50) connections, all established first, each
 *           streaming --conns-bytes (default 4 MiB) at once: aggregate MiB/s.
 * Every echoed byte is compared with the byte sent (bench/common/benchpat.h:
 * each connection has its own phase of the stream, so bytes of another
 * connection or a lost, repeated or reordered piece never match), and each
 * streamed connection must then see the server's end of stream after
 * exactly the bytes sent. The client sets TCP_NODELAY on its sockets.
 *
 * Every wait is bounded: each poll by the whole run's deadline (--timeout,
 * default 300 s), and alarm() ends the process 5 s after it whatever it is
 * doing. Output, on success or failure:
 *   {"label": ..., "ok": true|false, "error": null|"...", <measures>}
 * Exit status 0 only if every measure ran and every byte was right.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "benchpat.h"

#define MAX_CONNECTING 16
#define MAX_CONNS 1000

struct conn {
    int fd;
    int state;      /* 0 idle, 1 connecting, 2 established, 3 done */
    uint64_t phase; /* offset of this connection's stream in the ring */
    uint64_t sent, rcvd;
    int shut;
};

static const char *g_label = "server";
static struct sockaddr_in g_addr;
static int64_t g_deadline; /* ms, now_ms() clock */
static uint8_t g_ring[BP_RING_SIZE];
static uint8_t g_rbuf[BP_CHUNK];

/* Measures, printed as JSON. */
static char g_json[4096];
static size_t g_json_len;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_ms(void)
{
    return now_us() / 1000;
}

static void json_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void json_add(const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(g_json + g_json_len, sizeof(g_json) - g_json_len, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof(g_json) - g_json_len)
        g_json_len += (size_t)n;
}

static void finish(int ok, const char *error)
{
    printf("{\"label\": \"%s\", \"port\": %d, \"ok\": %s, \"error\": ", g_label,
           ntohs(g_addr.sin_port), ok ? "true" : "false");
    if (error) {
        const char *p;
        putchar('"');
        for (p = error; *p; p++)
            if (*p == '"' || *p == '\\')
                printf("\\%c", *p);
            else if ((unsigned char)*p >= 0x20)
                putchar(*p);
        putchar('"');
    } else {
        printf("null");
    }
    printf("%s}\n", g_json);
    fflush(stdout);
    exit(ok ? 0 : 1);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    finish(0, msg);
    exit(1); /* not reached */
}

static void on_alarm(int sig)
{
    static const char msg[] = "{\"ok\": false, \"error\": \"benchclient: hard time limit\"}\n";
    (void)sig;
    if (write(1, msg, sizeof(msg) - 1) < 0) {
        /* nothing more to do */
    }
    _exit(1);
}

static uint64_t parse_u64(const char *opt, const char *v)
{
    char *end;
    unsigned long long x;

    errno = 0;
    x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-')
        die("bad value for %s: '%s'", opt, v);
    return (uint64_t)x;
}

/* Waits for events on fd until the deadline; dies when it passes. */
static short wait_fd(int fd, short events, const char *what)
{
    for (;;) {
        struct pollfd p = {fd, events, 0};
        int64_t left = g_deadline - now_ms();
        int r;

        if (left <= 0)
            die("%s: timeout (the run's --timeout passed)", what);
        r = poll(&p, 1, left > 1000 ? 1000 : (int)left);
        if (r < 0 && errno != EINTR)
            die("%s: poll: %s", what, strerror(errno));
        if (r > 0)
            return p.revents;
    }
}

static int new_socket(void)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket: %s", strerror(errno));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Connects (bounded); returns a non-blocking socket. */
static int connect_server(const char *what)
{
    int fd = new_socket(), err = 0;
    socklen_t len = sizeof(err);

    if (connect(fd, (struct sockaddr *)&g_addr, sizeof(g_addr)) == 0)
        return fd;
    if (errno != EINPROGRESS)
        die("%s: connect: %s", what, strerror(errno));
    wait_fd(fd, POLLOUT, what);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
        die("%s: connect: %s", what, strerror(err ? err : errno));
    return fd;
}

static void write_full(int fd, const uint8_t *p, size_t len, const char *what)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = send(fd, p + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            die("%s: send: %s", what, strerror(errno));
        wait_fd(fd, POLLOUT, what);
    }
}

/* Reads exactly len bytes and compares them with want. */
static void read_check(int fd, size_t len, const uint8_t *want, const char *what)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = recv(fd, g_rbuf + off, len - off, 0);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n == 0)
            die("%s: the server closed the connection", what);
        if (errno != EAGAIN && errno != EINTR)
            die("%s: recv: %s", what, strerror(errno));
        wait_fd(fd, POLLIN, what);
    }
    if (memcmp(g_rbuf, want, len) != 0)
        die("%s: echoed bytes differ from those sent", what);
}

/* Waits for the end of stream; dies on data or error. */
static void expect_eof(int fd, const char *what)
{
    for (;;) {
        ssize_t n = recv(fd, g_rbuf, sizeof(g_rbuf), 0);
        if (n == 0)
            return;
        if (n > 0)
            die("%s: %zd bytes more than sent", what, n);
        if (errno != EAGAIN && errno != EINTR)
            die("%s: recv at the end: %s", what, strerror(errno));
        wait_fd(fd, POLLIN, what);
    }
}

/*
 * nconns connections stream `bytes` each, at once (one poll loop). Returns
 * the microseconds from the start of streaming (all connected) to the last
 * byte echoed; every connection then saw its end of stream.
 */
static int64_t stream_conns(int nconns, uint64_t bytes, const char *what)
{
    struct conn *conns = calloc((size_t)nconns, sizeof(*conns));
    struct pollfd *pfds = calloc((size_t)nconns, sizeof(*pfds));
    int i, started = 0, connecting = 0, established = 0, done = 0, all_rcvd = 0;
    int64_t t0 = 0, t_end = 0;

    if (!conns || !pfds)
        die("out of memory");
    for (i = 0; i < nconns; i++) {
        conns[i].fd = -1;
        /* Distinct phases, far apart: another connection's bytes never match. */
        conns[i].phase = (uint64_t)i * 20011u * 8u % BP_PERIOD;
    }
    while (done < nconns) {
        int64_t left = g_deadline - now_ms();
        int r;

        while (started < nconns && connecting < MAX_CONNECTING) {
            struct conn *c = &conns[started++];
            c->fd = new_socket();
            if (connect(c->fd, (struct sockaddr *)&g_addr, sizeof(g_addr)) == 0) {
                c->state = 2;
                established++;
            } else if (errno == EINPROGRESS) {
                c->state = 1;
                connecting++;
            } else {
                die("%s: connect: %s", what, strerror(errno));
            }
        }
        if (established == nconns && !t0)
            t0 = now_us();
        if (left <= 0)
            die("%s: timeout: %d/%d connected, %d done", what, established, nconns, done);
        for (i = 0; i < nconns; i++) {
            struct conn *c = &conns[i];
            pfds[i].fd = c->state == 1 || c->state == 2 ? c->fd : -1;
            pfds[i].events = c->state == 1 ? POLLOUT : POLLIN;
            if (c->state == 2 && t0 && c->sent < bytes)
                pfds[i].events |= POLLOUT;
            pfds[i].revents = 0;
        }
        r = poll(pfds, (nfds_t)nconns, left > 1000 ? 1000 : (int)left);
        if (r < 0 && errno != EINTR)
            die("%s: poll: %s", what, strerror(errno));
        for (i = 0; i < nconns && r > 0; i++) {
            struct conn *c = &conns[i];
            short re = pfds[i].revents;

            if (!re)
                continue;
            if (c->state == 1) {
                int err = 0;
                socklen_t elen = sizeof(err);
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen);
                if (err)
                    die("%s: connect: %s", what, strerror(err));
                c->state = 2;
                connecting--;
                established++;
                continue;
            }
            if (re & (POLLIN | POLLERR | POLLHUP)) {
                /* At most one ring piece, and never beyond what was sent. */
                size_t want = c->sent - c->rcvd < BP_CHUNK ? (size_t)(c->sent - c->rcvd) : BP_CHUNK;
                ssize_t n = recv(c->fd, g_rbuf, want ? want : sizeof(g_rbuf), 0);
                if (n == 0) {
                    if (c->rcvd != bytes || !c->shut)
                        die("%s: conn %d: the server closed after %" PRIu64 " of %" PRIu64 " bytes",
                            what, i, c->rcvd, bytes);
                    close(c->fd);
                    c->fd = -1;
                    c->state = 3;
                    done++;
                    continue;
                }
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                    die("%s: conn %d: recv: %s", what, i, strerror(errno));
                if (n > 0) {
                    if (c->rcvd + (uint64_t)n > c->sent)
                        die("%s: conn %d: more bytes echoed than sent", what, i);
                    if (memcmp(g_rbuf, bp_at(g_ring, c->phase + c->rcvd), (size_t)n) != 0)
                        die("%s: conn %d: echoed bytes differ from those sent (at byte %" PRIu64
                            ")",
                            what, i, c->rcvd);
                    c->rcvd += (uint64_t)n;
                    if (c->rcvd == bytes && ++all_rcvd == nconns)
                        t_end = now_us();
                }
            }
            if ((re & POLLOUT) && c->sent < bytes) {
                size_t piece = bytes - c->sent < BP_CHUNK ? (size_t)(bytes - c->sent) : BP_CHUNK;
                ssize_t n = send(c->fd, bp_at(g_ring, c->phase + c->sent), piece, MSG_NOSIGNAL);
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                    die("%s: conn %d: send: %s", what, i, strerror(errno));
                if (n > 0)
                    c->sent += (uint64_t)n;
            }
            if (c->sent == bytes && !c->shut) {
                if (shutdown(c->fd, SHUT_WR) < 0)
                    die("%s: conn %d: shutdown: %s", what, i, strerror(errno));
                c->shut = 1;
            }
        }
    }
    free(conns);
    free(pfds);
    return t_end > t0 ? t_end - t0 : 1;
}

/* Lockstep round trips of `size` bytes for ms; returns the count, *us the time. */
static uint64_t round_trips(size_t size, int64_t ms, int64_t *us, const char *what)
{
    int fd = connect_server(what);
    int64_t t0 = now_us(), end = t0 + ms * 1000;
    uint64_t count = 0, off = 0;

    do {
        const uint8_t *p = bp_at(g_ring, off);
        write_full(fd, p, size, what);
        read_check(fd, size, p, what);
        off += size;
        count++;
    } while (now_us() < end);
    *us = now_us() - t0;
    shutdown(fd, SHUT_WR);
    expect_eof(fd, what);
    close(fd);
    return count;
}

/* Connections set up and torn down one after the other for ms. */
static uint64_t connections(int64_t ms, uint64_t max, int64_t *us)
{
    int64_t t0 = now_us(), end = t0 + ms * 1000;
    uint64_t count = 0;

    do {
        int fd = connect_server("conn");
        if (shutdown(fd, SHUT_WR) < 0)
            die("conn: shutdown: %s", strerror(errno));
        expect_eof(fd, "conn");
        close(fd);
        count++;
    } while (now_us() < end && count < max);
    *us = now_us() - t0;
    return count;
}

static double per_s(uint64_t n, int64_t us)
{
    return us > 0 ? (double)n * 1e6 / (double)us : 0.0;
}

static double mib_s(uint64_t bytes, int64_t us)
{
    return us > 0 ? (double)bytes / 1048576.0 * 1e6 / (double)us : 0.0;
}

int main(int argc, char **argv)
{
    uint64_t stream_bytes = 200u << 20, conns_bytes = 4u << 20, conn_max = 20000, seed = 1;
    int64_t rt_ms = 2000, conn_ms = 2000, us;
    unsigned timeout = 300;
    int port = 0, nconns = 50, i;
    uint64_t n;

    for (i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die("option %s needs a value", o);
        i++;
        if (!strcmp(o, "--port"))
            port = (int)parse_u64(o, v);
        else if (!strcmp(o, "--label"))
            g_label = v;
        else if (!strcmp(o, "--stream-bytes"))
            stream_bytes = parse_u64(o, v);
        else if (!strcmp(o, "--rt-ms"))
            rt_ms = (int64_t)parse_u64(o, v);
        else if (!strcmp(o, "--conn-ms"))
            conn_ms = (int64_t)parse_u64(o, v);
        else if (!strcmp(o, "--conn-max"))
            conn_max = parse_u64(o, v);
        else if (!strcmp(o, "--conns"))
            nconns = (int)parse_u64(o, v);
        else if (!strcmp(o, "--conns-bytes"))
            conns_bytes = parse_u64(o, v);
        else if (!strcmp(o, "--timeout"))
            timeout = (unsigned)parse_u64(o, v);
        else if (!strcmp(o, "--seed"))
            seed = parse_u64(o, v);
        else
            die("unknown option %s", o);
    }
    for (const char *p = g_label; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            die("bad --label");
    memset(&g_addr, 0, sizeof(g_addr));
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((uint16_t)port);
    g_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (port <= 0 || port > 65535 || nconns <= 0 || nconns > MAX_CONNS || !stream_bytes ||
        !conns_bytes || !conn_max || !timeout)
        die("bad arguments (need --port; 1..%d conns; sizes > 0)", MAX_CONNS);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm(timeout + 5);
    g_deadline = now_ms() + (int64_t)timeout * 1000;
    bp_ring_fill(seed, g_ring);

    us = stream_conns(1, stream_bytes, "stream");
    json_add(", \"stream_mib_s\": %.2f, \"stream_bytes\": %" PRIu64 ", \"stream_us\": %" PRId64,
             mib_s(stream_bytes, us), stream_bytes, us);
    n = round_trips(BP_CHUNK, rt_ms, &us, "rt64k");
    json_add(", \"rt64k_per_s\": %.1f, \"rt64k_count\": %" PRIu64 ", \"rt64k_us\": %" PRId64,
             per_s(n, us), n, us);
    n = round_trips(1, rt_ms, &us, "rt1");
    json_add(", \"rt1_per_s\": %.1f, \"rt1_count\": %" PRIu64 ", \"rt1_us\": %" PRId64,
             per_s(n, us), n, us);
    n = connections(conn_ms, conn_max, &us);
    json_add(", \"conn_per_s\": %.1f, \"conn_count\": %" PRIu64 ", \"conn_us\": %" PRId64,
             per_s(n, us), n, us);
    us = stream_conns(nconns, conns_bytes, "multi");
    json_add(", \"multi_mib_s\": %.2f, \"multi_conns\": %d, \"multi_bytes\": %" PRIu64
             ", \"multi_us\": %" PRId64 ", \"verified\": true",
             mib_s(conns_bytes * (uint64_t)nconns, us), nconns, conns_bytes * (uint64_t)nconns, us);
    finish(1, NULL);
    return 0;
}
