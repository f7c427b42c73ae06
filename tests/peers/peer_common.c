/* peer_common.c - see peer_common.h. */
#define _GNU_SOURCE
#include "peer_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const char *peer_name = "peer";

void peer_init(const char *name, unsigned max_seconds)
{
    peer_name = name;
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (max_seconds)
        alarm(max_seconds + 5); /* SIGALRM's default action ends the process */
}

int64_t peer_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void peer_log(const char *fmt, ...)
{
    va_list ap;
    printf("%s: ", peer_name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

void peer_die(const char *fmt, ...)
{
    va_list ap;
    printf("%s: FAIL ", peer_name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    exit(1);
}

int peer_opt(int argc, char **argv, int *i, const char *name, const char **value)
{
    if (strcmp(argv[*i], name) != 0)
        return 0;
    if (*i + 1 >= argc)
        peer_die("option %s needs a value", name);
    *value = argv[*i + 1];
    *i += 1;
    return 1;
}

uint64_t peer_parse_u64(const char *opt, const char *text)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-')
        peer_die("bad number for %s: '%s'", opt, text);
    return v;
}

void peer_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        peer_die("fcntl: %s", strerror(errno));
}

int peer_listen_rcvbuf;

int peer_listen(int port, int backlog, int *bound_port)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        peer_die("socket: %s", strerror(errno));
    /* Before listen: accepted sockets inherit it, and their first window. */
    if (peer_listen_rcvbuf > 0 &&
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &peer_listen_rcvbuf, sizeof(peer_listen_rcvbuf)) < 0)
        peer_die("SO_RCVBUF: %s", strerror(errno));
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        peer_die("bind 127.0.0.1:%d: %s", port, strerror(errno));
    if (listen(fd, backlog) < 0)
        peer_die("listen: %s", strerror(errno));
    if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
        peer_die("getsockname: %s", strerror(errno));
    *bound_port = ntohs(sin.sin_port);
    printf("PORT %d\n", *bound_port);
    fflush(stdout);
    peer_set_nonblock(fd);
    return fd;
}

int peer_wait(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int64_t left = deadline - peer_now_ms();
        int r;

        if (left <= 0)
            return 0;
        r = poll(&p, 1, left > 1000 ? 1000 : (int)left);
        if (r < 0 && errno != EINTR)
            peer_die("poll: %s", strerror(errno));
        if (r > 0)
            return p.revents;
    }
}

int peer_accept(int lfd, int64_t deadline)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            return fd;
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            peer_die("accept: %s", strerror(errno));
        if (!peer_wait(lfd, POLLIN, deadline))
            return -ETIMEDOUT;
    }
}

int peer_connect(const char *host, int port, int64_t deadline)
{
    struct sockaddr_in sin;
    int fd, err = 0;
    socklen_t elen = sizeof(err);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
        peer_die("bad IPv4 address '%s'", host);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        peer_die("socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        if (errno != EINPROGRESS) {
            err = errno;
            close(fd);
            return -err;
        }
        if (!peer_wait(fd, POLLOUT, deadline)) {
            close(fd);
            return -ETIMEDOUT;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
            err = errno;
        if (err) {
            close(fd);
            return -err;
        }
    }
    return fd;
}

ptrdiff_t peer_read_full(int fd, void *buf, size_t len, int64_t deadline)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0)
            return (ptrdiff_t)got;
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
        if (!peer_wait(fd, POLLIN, deadline))
            return -ETIMEDOUT;
    }
    return (ptrdiff_t)got;
}

ptrdiff_t peer_write_full(int fd, const void *buf, size_t len, int64_t deadline)
{
    size_t put = 0;

    while (put < len) {
        ssize_t n = send(fd, (const char *)buf + put, len - put, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            put += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        if (!peer_wait(fd, POLLOUT, deadline))
            return -ETIMEDOUT;
    }
    return (ptrdiff_t)put;
}

void peer_close_reset(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
        peer_die("SO_LINGER: %s", strerror(errno));
    close(fd);
}
