/* hpeer_posix.c - POSIX side of hpeer.h (system headers only, no shim). */
#define _GNU_SOURCE /* accept4 */
#include "hpeer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static socklen_t loopback(int v6, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((unsigned short)port);
        a->sin6_addr = in6addr_loopback;
        return sizeof(*a);
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((unsigned short)port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof(*a);
}

/* The port of an address a call filled (ss zeroed before it), or -1. */
static int port_in(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    return -1;
}

static int port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    return port_in(&ss);
}

static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r;
    do {
        r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    return r > 0;
}

int hp_listen(int v6, int *port)
{
    struct sockaddr_storage ss;
    socklen_t len = loopback(v6, 0, &ss);
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0) {
        close(fd);
        return -1;
    }
    *port = port_of(fd);
    return fd;
}

int hp_listen_full(int *port, int fillers[HP_FULL_FILLERS])
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_storage ss;
    socklen_t len = loopback(0, 0, &ss);
    for (int i = 0; i < HP_FULL_FILLERS; i++)
        fillers[i] = -1;
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 0) != 0) {
        close(fd);
        return -1;
    }
    *port = port_of(fd);
    len = loopback(0, *port, &ss);
    /* Non-blocking connects fill the accept queue (backlog 0: one entry);
     * the later ones' SYNs are dropped, as every connect's after them. */
    for (int i = 0; i < HP_FULL_FILLERS; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fillers[i] >= 0)
            (void)connect(fillers[i], (struct sockaddr *)&ss, len);
        struct timespec t = {0, 20 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    return fd;
}

int hp_accept(int listen_fd, int timeout_ms)
{
    if (!wait_fd(listen_fd, POLLIN, timeout_ms))
        return -1;
    return accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
}

int hp_connect(int v6, int port)
{
    struct sockaddr_storage ss;
    socklen_t len = loopback(v6, port, &ss);
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

long hp_send_all(int fd, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return (long)len;
}

long hp_recv_all(int fd, void *buf, size_t len, int timeout_ms)
{
    size_t done = 0;
    while (done < len) {
        if (!wait_fd(fd, POLLIN, timeout_ms))
            break;
        ssize_t n = recv(fd, (char *)buf + done, len - done, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return done > 0 ? (long)done : -1;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (long)done;
}

int hp_wait_eof(int fd, int timeout_ms)
{
    char buf[4096];
    for (;;) {
        if (!wait_fd(fd, POLLIN, timeout_ms))
            return 0;
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return errno == ECONNRESET;
    }
}

int hp_wait_end(int fd, int timeout_ms, long *bytes)
{
    char buf[4096];
    long total = 0;
    int result = 0;
    for (;;) {
        if (!wait_fd(fd, POLLIN, timeout_ms))
            break;
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n > 0) {
            total += (long)n;
            continue;
        }
        if (n == 0) {
            result = HP_END_EOF;
            break;
        }
        if (errno != EINTR) {
            result = errno == ECONNRESET ? HP_END_RESET : 0;
            break;
        }
    }
    if (bytes != NULL)
        *bytes = total;
    return result;
}

int hp_local_port(int fd)
{
    return port_of(fd);
}

void hp_shutdown_send(int fd)
{
    if (fd >= 0)
        shutdown(fd, SHUT_WR);
}

void hp_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

void hp_reset(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    if (fd < 0)
        return;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(fd);
}

int hp_udp(int v6, int *port)
{
    struct sockaddr_storage ss;
    socklen_t len = loopback(v6, 0, &ss);
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        close(fd);
        return -1;
    }
    *port = port_of(fd);
    return fd;
}

long hp_sendto(int fd, int v6, int port, const void *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t alen = loopback(v6, port, &ss);
    return (long)sendto(fd, buf, len, 0, (struct sockaddr *)&ss, alen);
}

long hp_recvfrom(int fd, void *buf, size_t len, int *from_port, int timeout_ms)
{
    struct sockaddr_storage ss;
    socklen_t alen = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (!wait_fd(fd, POLLIN, timeout_ms))
        return -1;
    ssize_t n = recvfrom(fd, buf, len, 0, (struct sockaddr *)&ss, &alen);
    if (n >= 0 && from_port != NULL)
        *from_port = port_in(&ss);
    return (long)n;
}

/* Lowest port of the ephemeral range: ports below it are never handed out
 * implicitly, so one found free stays free unless another test takes it. */
static int ephemeral_low(void)
{
    int low = 32768;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f != NULL) {
        if (fscanf(f, "%d", &low) != 1)
            low = 32768;
        fclose(f);
    }
    return low;
}

int hp_free_port(int v6)
{
    static unsigned seed;
    if (seed == 0)
        seed = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
    int high = ephemeral_low() - 1, low = high - 20000 > 10000 ? high - 20000 : 10000;
    for (int tries = 0; tries < 200; tries++) {
        seed = seed * 1103515245u + 12345u;
        int port = low + (int)((seed >> 8) % (unsigned)(high - low));
        struct sockaddr_storage ss;
        socklen_t len = loopback(v6, port, &ss);
        int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        int ok = bind(fd, (struct sockaddr *)&ss, len) == 0;
        close(fd);
        if (ok)
            return port;
    }
    return -1;
}

/* ---- echo server ---- */

#define HP_ECHO_MAX 256

struct hp_echo {
    int listen_fd;
    int stop_pipe[2];
    pthread_t acceptor;
    pthread_mutex_t lock;
    int nconn;
    int fds[HP_ECHO_MAX];
    pthread_t threads[HP_ECHO_MAX];
};

struct hp_conn {
    struct hp_echo *e;
    int fd;
};

/* Echoes until EOF, an error, or the stop pipe becomes readable. */
static void *echo_conn(void *p)
{
    struct hp_conn *c = p;
    char buf[65536];
    struct pollfd fds[2] = {{.fd = c->fd, .events = POLLIN},
                            {.fd = c->e->stop_pipe[0], .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            break;
        if (fds[1].revents)
            break;
        if (!fds[0].revents)
            continue;
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || hp_send_all(c->fd, buf, (size_t)n) < 0)
            break;
    }
    shutdown(c->fd, SHUT_WR);
    free(c);
    return NULL;
}

static void *echo_accept(void *p)
{
    struct hp_echo *e = p;
    struct pollfd fds[2] = {{.fd = e->listen_fd, .events = POLLIN},
                            {.fd = e->stop_pipe[0], .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            break;
        if (fds[1].revents)
            break;
        if (!fds[0].revents)
            continue;
        int fd = accept4(e->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        struct hp_conn *c = malloc(sizeof(*c));
        pthread_mutex_lock(&e->lock);
        if (c == NULL || e->nconn == HP_ECHO_MAX) {
            pthread_mutex_unlock(&e->lock);
            free(c);
            close(fd);
            continue;
        }
        c->e = e;
        c->fd = fd;
        e->fds[e->nconn] = fd;
        if (pthread_create(&e->threads[e->nconn], NULL, echo_conn, c) == 0)
            e->nconn++;
        else {
            close(fd);
            free(c);
        }
        pthread_mutex_unlock(&e->lock);
    }
    return NULL;
}

struct hp_echo *hp_echo_start(int v6, int *port)
{
    struct hp_echo *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    pthread_mutex_init(&e->lock, NULL);
    e->listen_fd = hp_listen(v6, port);
    if (e->listen_fd < 0 || pipe(e->stop_pipe) != 0) {
        hp_close(e->listen_fd);
        free(e);
        return NULL;
    }
    if (pthread_create(&e->acceptor, NULL, echo_accept, e) != 0) {
        close(e->stop_pipe[0]);
        close(e->stop_pipe[1]);
        hp_close(e->listen_fd);
        free(e);
        return NULL;
    }
    return e;
}

int hp_echo_accepted(struct hp_echo *e)
{
    pthread_mutex_lock(&e->lock);
    int n = e->nconn;
    pthread_mutex_unlock(&e->lock);
    return n;
}

void hp_echo_stop(struct hp_echo *e)
{
    if (e == NULL)
        return;
    if (write(e->stop_pipe[1], "x", 1) != 1)
        abort();
    pthread_join(e->acceptor, NULL);
    for (int i = 0; i < e->nconn; i++) {
        pthread_join(e->threads[i], NULL);
        close(e->fds[i]);
    }
    close(e->stop_pipe[0]);
    close(e->stop_pipe[1]);
    close(e->listen_fd);
    free(e);
}

long hp_raise_fd_limit(long n)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) != 0)
        return -1;
    if ((long)r.rlim_cur < n) {
        r.rlim_cur = r.rlim_max == RLIM_INFINITY || (long)r.rlim_max >= n ? (rlim_t)n : r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
        getrlimit(RLIMIT_NOFILE, &r);
    }
    return (long)r.rlim_cur;
}
