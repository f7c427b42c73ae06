/*
 * echo_load - load an echo server with N concurrent TCP connections.
 *
 *   echo_load --port P [--host 127.0.0.1] [--conns N] [--bytes B]
 *             [--chunk C] [--timeout S] [--seed-base K]
 *
 * Opens N connections (at most 16 connection attempts in flight, so a small
 * listen backlog does not turn into SYN retransmission delays), and only
 * when all N are established streams B bytes on each: connection i sends
 * stream kspattern(seed-base + i) in chunks of C bytes while reading the
 * echo back concurrently (one poll loop, non-blocking sockets). Every byte
 * echoed is checked against the pattern; after the last byte is sent the
 * connection is shut down for writing and must then see the server's EOF
 * after exactly B echoed bytes. Prints per connection
 *   echo_load: conn i bytes=B fnv=<hex> ok
 * and a summary
 *   echo_load: OK conns=N bytes_total=T seconds=S MiB/s=R max_open=N
 * Exits 0 only if every connection echoed exactly its B bytes, in order, and
 * ended cleanly, all within --timeout seconds (default 120); else prints
 * "echo_load: FAIL ..." and exits 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kspattern.h"
#include "peer_common.h"

#define MAX_CONNECTING 16

struct conn {
    int fd;
    int state; /* 0 idle, 1 connecting, 2 established, 3 done */
    uint64_t seed;
    uint64_t sent, rcvd;
    uint64_t fnv;
    int shut;
};

static int start_connect(const struct sockaddr_in *sin, struct conn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        peer_die("socket: %s", strerror(errno));
    if (connect(c->fd, (const struct sockaddr *)sin, sizeof(*sin)) == 0) {
        c->state = 2;
        return 0;
    }
    if (errno != EINPROGRESS)
        return -errno;
    c->state = 1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *v;
    int port = 0, nconns = 1;
    uint64_t bytes = 1 << 20, seed_base = 1000;
    size_t chunk = 64 * 1024;
    unsigned timeout = 120;
    struct sockaddr_in sin;
    struct conn *conns;
    struct pollfd *pfds;
    unsigned char *sbuf, *rbuf;
    int64_t t_start, t_stream = 0, deadline;
    int i, established = 0, done = 0, started = 0, connecting = 0, max_open = 0, open_now = 0;

    for (i = 1; i < argc; i++) {
        if (peer_opt(argc, argv, &i, "--host", &host))
            continue;
        if (peer_opt(argc, argv, &i, "--port", &v))
            port = (int)peer_parse_u64("--port", v);
        else if (peer_opt(argc, argv, &i, "--conns", &v))
            nconns = (int)peer_parse_u64("--conns", v);
        else if (peer_opt(argc, argv, &i, "--bytes", &v))
            bytes = peer_parse_u64("--bytes", v);
        else if (peer_opt(argc, argv, &i, "--chunk", &v))
            chunk = (size_t)peer_parse_u64("--chunk", v);
        else if (peer_opt(argc, argv, &i, "--timeout", &v))
            timeout = (unsigned)peer_parse_u64("--timeout", v);
        else if (peer_opt(argc, argv, &i, "--seed-base", &v))
            seed_base = peer_parse_u64("--seed-base", v);
        else
            peer_die("unknown argument '%s'", argv[i]);
    }
    peer_init("echo_load", timeout);
    if (port <= 0 || port > 65535 || nconns <= 0 || nconns > 1000 || bytes == 0 || chunk == 0 ||
        chunk > (16u << 20))
        peer_die("bad arguments (need --port; 1..1000 conns; chunk 1..16 MiB)");
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
        peer_die("bad host '%s'", host);

    conns = calloc((size_t)nconns, sizeof(*conns));
    pfds = calloc((size_t)nconns, sizeof(*pfds));
    sbuf = malloc(chunk);
    rbuf = malloc(chunk);
    if (!conns || !pfds || !sbuf || !rbuf)
        peer_die("out of memory");
    for (i = 0; i < nconns; i++) {
        conns[i].fd = -1;
        conns[i].seed = seed_base + (uint64_t)i;
        conns[i].fnv = KSP_FNV_INIT;
    }

    t_start = peer_now_ms();
    deadline = t_start + (int64_t)timeout * 1000;
    while (done < nconns) {
        int64_t left = deadline - peer_now_ms();
        int r;

        /* Start connection attempts, a bounded number at a time. */
        while (started < nconns && connecting < MAX_CONNECTING) {
            struct conn *c = &conns[started];
            int err = start_connect(&sin, c);
            if (err)
                peer_die("conn %d: connect: %s", started, strerror(-err));
            started++;
            open_now++;
            if (c->state == 1)
                connecting++;
            else
                established++;
        }
        if (open_now > max_open)
            max_open = open_now;
        if (established == nconns && !t_stream) {
            t_stream = peer_now_ms();
            peer_log("all %d connections established in %" PRId64 " ms", nconns,
                     t_stream - t_start);
        }
        if (left <= 0)
            peer_die("timeout after %u s: %d/%d connections established, %d done", timeout,
                     established, nconns, done);

        for (i = 0; i < nconns; i++) {
            struct conn *c = &conns[i];
            pfds[i].fd = -1;
            pfds[i].events = 0;
            pfds[i].revents = 0;
            if (c->state == 1) {
                pfds[i].fd = c->fd;
                pfds[i].events = POLLOUT;
            } else if (c->state == 2) {
                pfds[i].fd = c->fd;
                pfds[i].events = POLLIN;
                if (t_stream && c->sent < bytes)
                    pfds[i].events |= POLLOUT;
            }
        }
        r = poll(pfds, (nfds_t)nconns, left > 1000 ? 1000 : (int)left);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            peer_die("poll: %s", strerror(errno));
        }
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
                    peer_die("conn %d: connect: %s", i, strerror(err));
                c->state = 2;
                connecting--;
                established++;
                continue;
            }
            if (c->state != 2)
                continue;
            if (re & POLLIN || re & (POLLERR | POLLHUP)) {
                ssize_t n = recv(c->fd, rbuf, chunk, 0);
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                    peer_die("conn %d: recv after %" PRIu64 " bytes: %s", i, c->rcvd,
                             strerror(errno));
                if (n == 0) {
                    if (c->rcvd != bytes || !c->shut)
                        peer_die("conn %d: server closed after %" PRIu64 " of %" PRIu64 " bytes", i,
                                 c->rcvd, bytes);
                    peer_log("conn %d bytes=%" PRIu64 " fnv=%016" PRIx64 " ok", i, c->rcvd, c->fnv);
                    close(c->fd);
                    c->fd = -1;
                    c->state = 3;
                    done++;
                    open_now--;
                    continue;
                }
                if (n > 0) {
                    size_t bad;
                    if (c->rcvd + (uint64_t)n > bytes || c->rcvd + (uint64_t)n > c->sent)
                        peer_die("conn %d: %zd bytes more than sent (%" PRIu64 " sent, %" PRIu64
                                 " echoed)",
                                 i, n, c->sent, c->rcvd);
                    bad = ksp_check(c->seed, c->rcvd, rbuf, (size_t)n);
                    if (bad != (size_t)n)
                        peer_die("conn %d: echoed byte %" PRIu64 " is 0x%02x, expected 0x%02x", i,
                                 c->rcvd + bad, rbuf[bad], ksp_byte(c->seed, c->rcvd + bad));
                    c->fnv = ksp_fnv(c->fnv, rbuf, (size_t)n);
                    c->rcvd += (uint64_t)n;
                }
            }
            if ((re & POLLOUT) && c->sent < bytes) {
                size_t want = bytes - c->sent < chunk ? (size_t)(bytes - c->sent) : chunk;
                ssize_t n;
                ksp_fill(c->seed, c->sent, sbuf, want);
                n = send(c->fd, sbuf, want, MSG_NOSIGNAL);
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                    peer_die("conn %d: send after %" PRIu64 " bytes: %s", i, c->sent,
                             strerror(errno));
                if (n > 0)
                    c->sent += (uint64_t)n;
            }
            if (c->sent == bytes && !c->shut) {
                if (shutdown(c->fd, SHUT_WR) < 0)
                    peer_die("conn %d: shutdown: %s", i, strerror(errno));
                c->shut = 1;
            }
        }
    }
    {
        int64_t t_end = peer_now_ms();
        double secs = (double)(t_end - (t_stream ? t_stream : t_start)) / 1000.0;
        double total = (double)bytes * (double)nconns;
        if (secs <= 0)
            secs = 0.001;
        peer_log("OK conns=%d bytes_total=%.0f seconds=%.3f MiB/s=%.1f max_open=%d", nconns, total,
                 secs, total / 1048576.0 / secs, max_open);
    }
    free(conns);
    free(pfds);
    free(sbuf);
    free(rbuf);
    return 0;
}
