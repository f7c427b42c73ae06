/*
 * hold_client - keeps connections open to an echo server and checks that
 * the server ends them (used to unload kecho while it serves connections).
 *
 *   hold_client --port P [--conns N] [--timeout S]
 *
 * Opens N connections (default 8) to 127.0.0.1:P, sends 1000 bytes of
 * stream kspattern(500 + i) on connection i and reads the echo back, so the
 * server's handler of each connection is known to be running and waiting
 * for more. Then opens one more connection, sends one byte, reads its echo
 * and closes it: the server logs that connection's end, which the test uses
 * as the cue to unload the server. Prints "hold_client: ready", then waits
 * without sending for the server to end all N held connections:
 *   hold_client: conn i ended by server (eof|reset)
 * Exits 0 when all N were ended by the server, 1 on any error or if
 * --timeout (default 60 s) expires first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kspattern.h"
#include "peer_common.h"

#define HOLD_BYTES 1000

int main(int argc, char **argv)
{
    const char *v;
    int port = 0, nconns = 8, i, ended = 0, trig;
    unsigned timeout = 60;
    int64_t deadline;
    int *fds;
    unsigned char sbuf[HOLD_BYTES], rbuf[HOLD_BYTES];
    ptrdiff_t r;

    for (i = 1; i < argc; i++) {
        if (peer_opt(argc, argv, &i, "--port", &v))
            port = (int)peer_parse_u64("--port", v);
        else if (peer_opt(argc, argv, &i, "--conns", &v))
            nconns = (int)peer_parse_u64("--conns", v);
        else if (peer_opt(argc, argv, &i, "--timeout", &v))
            timeout = (unsigned)peer_parse_u64("--timeout", v);
        else
            peer_die("unknown argument '%s'", argv[i]);
    }
    peer_init("hold_client", timeout);
    if (port <= 0 || port > 65535 || nconns <= 0 || nconns > 1000)
        peer_die("bad arguments");
    fds = calloc((size_t)nconns, sizeof(int));
    if (!fds)
        peer_die("out of memory");
    deadline = peer_now_ms() + (int64_t)timeout * 1000;

    for (i = 0; i < nconns; i++) {
        fds[i] = peer_connect("127.0.0.1", port, deadline);
        if (fds[i] < 0)
            peer_die("conn %d: connect: %s", i, strerror(-fds[i]));
        ksp_fill(500 + (uint64_t)i, 0, sbuf, sizeof(sbuf));
        r = peer_write_full(fds[i], sbuf, sizeof(sbuf), deadline);
        if (r != (ptrdiff_t)sizeof(sbuf))
            peer_die("conn %d: send: %s", i, strerror((int)-r));
        r = peer_read_full(fds[i], rbuf, sizeof(rbuf), deadline);
        if (r != (ptrdiff_t)sizeof(rbuf))
            peer_die("conn %d: echo: got %td bytes (%s)", i, r, r < 0 ? strerror((int)-r) : "EOF");
        if (memcmp(sbuf, rbuf, sizeof(sbuf)) != 0)
            peer_die("conn %d: echo differs from what was sent", i);
    }
    peer_log("%d connections open and echoing", nconns);

    trig = peer_connect("127.0.0.1", port, deadline);
    if (trig < 0)
        peer_die("trigger connection: connect: %s", strerror(-trig));
    if (peer_write_full(trig, "x", 1, deadline) != 1 ||
        peer_read_full(trig, rbuf, 1, deadline) != 1 || rbuf[0] != 'x')
        peer_die("trigger connection: no echo");
    close(trig);
    peer_log("ready");

    while (ended < nconns) {
        struct pollfd p[1024];
        int n = 0, k;
        int64_t left = deadline - peer_now_ms();

        if (left <= 0)
            peer_die("timeout: only %d of %d connections ended by the server", ended, nconns);
        for (i = 0; i < nconns && n < 1024; i++) {
            if (fds[i] < 0)
                continue;
            p[n].fd = fds[i];
            p[n].events = POLLIN | POLLRDHUP;
            p[n].revents = 0;
            n++;
        }
        if (poll(p, (nfds_t)n, left > 1000 ? 1000 : (int)left) < 0 && errno != EINTR)
            peer_die("poll: %s", strerror(errno));
        for (k = 0; k < n; k++) {
            char c;
            ssize_t got;
            if (!p[k].revents)
                continue;
            for (i = 0; i < nconns && fds[i] != p[k].fd; i++)
                ;
            got = recv(fds[i], &c, 1, MSG_DONTWAIT);
            if (got > 0)
                peer_die("conn %d: unexpected data from the server", i);
            if (got < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            peer_log("conn %d ended by server (%s)", i, got == 0 ? "eof" : "reset");
            close(fds[i]);
            fds[i] = -1;
            ended++;
        }
    }
    free(fds);
    peer_log("OK all %d connections ended by the server", nconns);
    return 0;
}
