/*
 * silent_server - native server that accepts connections and holds them
 * without ever reading or writing.
 *
 *   silent_server [--port P] [--conns N] [--timeout S] [--notify-port Q] [--rcvbuf B]
 *
 * Listens on 127.0.0.1:P (default 0: ephemeral), prints "PORT <n>", accepts
 * N connections (default 1) printing "silent_server: accepted i", and then
 * watches them (poll for POLLRDHUP/POLLHUP/POLLERR, without reading, so data
 * the client sent stays queued and its sends eventually block).
 *
 * On SIGUSR1 it starts draining: it reads (and discards) whatever is queued
 * on every connection, so that a FIN queued behind unsent data (a graceful
 * close by a client whose sends were blocked) can arrive. It prints
 * "silent_server: draining" when it starts.
 *
 * For each connection the client ends it prints
 *   silent_server: conn i closed by peer (fin|reset)
 * Once all N were ended it connects to 127.0.0.1:Q if --notify-port was
 * given and sends "closed
" there, then exits 0. Exits 1 if --timeout
 * (default 60 s) expires first: a client that "closed" a socket without
 * ending the connection is caught here. --rcvbuf B sets SO_RCVBUF on the
 * listener (its connections inherit it): a client's blocked sends then
 * leave less data queued per connection.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer_common.h"

static volatile sig_atomic_t draining;

static void on_usr1(int sig)
{
    (void)sig;
    draining = 1;
}

/* Reads and discards what is queued; returns 0 (open), 1 (EOF) or 2 (reset). */
static int drain(int fd)
{
    static char buf[65536];

    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n == 0)
            return 1;
        if (errno == EAGAIN || errno == EINTR)
            return 0;
        return 2;
    }
}

int main(int argc, char **argv)
{
    const char *v;
    int port = 0, nconns = 1, bound, lfd, i, accepted = 0, closed = 0, notify = 0, announced = 0;
    unsigned timeout = 60;
    int64_t deadline;
    struct pollfd *p;

    for (i = 1; i < argc; i++) {
        if (peer_opt(argc, argv, &i, "--port", &v))
            port = (int)peer_parse_u64("--port", v);
        else if (peer_opt(argc, argv, &i, "--conns", &v))
            nconns = (int)peer_parse_u64("--conns", v);
        else if (peer_opt(argc, argv, &i, "--timeout", &v))
            timeout = (unsigned)peer_parse_u64("--timeout", v);
        else if (peer_opt(argc, argv, &i, "--notify-port", &v))
            notify = (int)peer_parse_u64("--notify-port", v);
        else if (peer_opt(argc, argv, &i, "--rcvbuf", &v))
            peer_listen_rcvbuf = (int)peer_parse_u64("--rcvbuf", v);
        else
            peer_die("unknown argument '%s'", argv[i]);
    }
    peer_init("silent_server", timeout);
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_usr1;
        sigaction(SIGUSR1, &sa, NULL);
    }
    if (nconns <= 0 || nconns > 1000)
        peer_die("bad --conns");
    p = calloc((size_t)nconns + 1, sizeof(*p));
    if (!p)
        peer_die("out of memory");
    deadline = peer_now_ms() + (int64_t)timeout * 1000;
    lfd = peer_listen(port, 16, &bound);
    p[0].fd = lfd;
    p[0].events = POLLIN;
    for (i = 1; i <= nconns; i++)
        p[i].fd = -1;

    while (closed < nconns) {
        int64_t left = deadline - peer_now_ms();
        int r;

        if (left <= 0)
            peer_die("timeout: %d accepted, %d of %d closed by the peer", accepted, closed, nconns);
        if (draining && !announced) {
            peer_log("draining");
            announced = 1;
        }
        r = poll(p, (nfds_t)nconns + 1, left > 1000 ? 1000 : (int)left);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            peer_die("poll: %s", strerror(errno));
        }
        if (p[0].revents & POLLIN) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd >= 0) {
                p[1 + accepted].fd = fd;
                p[1 + accepted].events = POLLRDHUP;
                if (draining)
                    p[1 + accepted].events |= POLLIN;
                peer_log("accepted %d", accepted);
                accepted++;
                if (accepted == nconns)
                    p[0].fd = -1; /* stop accepting */
            } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                peer_die("accept: %s", strerror(errno));
            }
        }
        for (i = 1; i <= accepted; i++) {
            short re = p[i].revents;
            int how = 0;

            if (p[i].fd < 0)
                continue;
            if (draining) {
                p[i].events |= POLLIN;
                how = drain(p[i].fd); /* reads up to the FIN or the reset */
            } else if (re & (POLLRDHUP | POLLHUP | POLLERR)) {
                int err = 0;
                socklen_t elen = sizeof(err);
                getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, &err, &elen);
                how = err == ECONNRESET || (re & POLLERR) ? 2 : 1;
            }
            if (!how)
                continue;
            peer_log("conn %d closed by peer (%s)", i - 1, how == 2 ? "reset" : "fin");
            close(p[i].fd);
            p[i].fd = -1;
            closed++;
        }
    }
    close(lfd);
    free(p);
    peer_log("all %d connections closed by the peer", nconns);
    if (notify) {
        /* The driver opens that listener only after its blocked calls
         * returned, which can be after we saw the connections end:
         * refused connects are retried until the deadline. */
        int fd = peer_connect("127.0.0.1", notify, deadline);
        while (fd == -ECONNREFUSED && peer_now_ms() < deadline) {
            poll(NULL, 0, 20);
            fd = peer_connect("127.0.0.1", notify, deadline);
        }
        if (fd < 0)
            peer_die("notify: connect to port %d: %s", notify, strerror(-fd));
        if (peer_write_full(fd, "closed\n", 7, deadline) != 7)
            peer_die("notify: send failed");
        close(fd);
        peer_log("notified port %d", notify);
    }
    peer_log("OK");
    return 0;
}
