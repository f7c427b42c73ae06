/* chaos_peer.c - the chaos test's native peer (see chaos_peer.h). */
#define _GNU_SOURCE /* accept4, pipe2 */
#include "chaos_peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PEER_CONNS 64

enum behaviour { ECHO, SINK, DEAF, RESET, CLOSE, BEHAVIOURS };

struct conn {
    int fd; /* -1: free */
    enum behaviour how;
    long long end_ms; /* when it is reset or closed (every behaviour ends) */
};

struct ch_peer {
    pthread_t thread;
    int listen_fd[2];
    int stop_pipe[2];
    unsigned long long rng;
    struct conn c[PEER_CONNS];
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned rnd(struct ch_peer *p, unsigned n)
{
    p->rng ^= p->rng >> 12;
    p->rng ^= p->rng << 25;
    p->rng ^= p->rng >> 27;
    return (unsigned)((p->rng * 2685821657736338717ull) >> 33) % n;
}

static int listener(int v6, int *port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    }
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        close(fd);
        return -1;
    }
    *port =
        ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* Ends a connection: a reset (SO_LINGER {1, 0}) or an orderly close. */
static void drop(struct conn *c, int reset)
{
    if (c->fd < 0)
        return;
    if (reset) {
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(c->fd);
    c->fd = -1;
}

static void take(struct ch_peer *p, int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct conn *c = NULL;
    for (int i = 0; i < PEER_CONNS && c == NULL; i++)
        if (p->c[i].fd < 0)
            c = &p->c[i];
    if (c == NULL) { /* full: the oldest-ending one makes room */
        c = &p->c[0];
        for (int i = 1; i < PEER_CONNS; i++)
            if (p->c[i].end_ms < c->end_ms)
                c = &p->c[i];
        drop(c, 1);
    }
    c->fd = fd;
    c->how = (enum behaviour)rnd(p, BEHAVIOURS);
    /* Deaf peers live longest: closes and ks_cleanup meet full buffers. */
    c->end_ms = now_ms() + (c->how == DEAF ? 500 + rnd(p, 8000) : 50 + rnd(p, 3000));
}

/* Reads what came; echoes what fits without waiting (the rest is lost:
 * the test checks results, not data). 0 when the connection ended. */
static int serve(struct conn *c)
{
    static char buf[65536];
    for (int rounds = 0; rounds < 4; rounds++) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n == 0)
            return 0;
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        if (c->how == ECHO && send(c->fd, buf, (size_t)n, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
            return 0;
    }
    return 1;
}

static void *peer_thread(void *arg)
{
    struct ch_peer *p = arg;
    struct pollfd fds[3 + PEER_CONNS];
    int idx[PEER_CONNS];
    for (;;) {
        int n = 0;
        fds[n++] = (struct pollfd){.fd = p->stop_pipe[0], .events = POLLIN};
        fds[n++] = (struct pollfd){.fd = p->listen_fd[0], .events = POLLIN};
        fds[n++] = (struct pollfd){.fd = p->listen_fd[1], .events = POLLIN};
        int served = 0;
        for (int i = 0; i < PEER_CONNS; i++)
            if (p->c[i].fd >= 0 && p->c[i].how != DEAF) {
                idx[served++] = i;
                fds[n++] = (struct pollfd){.fd = p->c[i].fd, .events = POLLIN};
            }
        if (poll(fds, (nfds_t)n, 10) < 0 && errno != EINTR)
            break;
        if (fds[0].revents)
            break;
        for (int l = 0; l < 2; l++)
            if (fds[1 + l].revents)
                for (int k = 0; k < 8; k++)
                    take(p, p->listen_fd[l]);
        for (int k = 0; k < served; k++) {
            struct conn *c = &p->c[idx[k]];
            if (fds[3 + k].revents && c->fd == fds[3 + k].fd && !serve(c))
                drop(c, 0);
        }
        long long now = now_ms();
        for (int i = 0; i < PEER_CONNS; i++)
            if (p->c[i].fd >= 0 && now >= p->c[i].end_ms)
                drop(&p->c[i], p->c[i].how == RESET || rnd(p, 2));
    }
    for (int i = 0; i < PEER_CONNS; i++)
        drop(&p->c[i], 1);
    return NULL;
}

struct ch_peer *ch_peer_start(unsigned seed, int *port4, int *port6)
{
    struct ch_peer *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->rng = 0x9e3779b97f4a7c15ull ^ seed;
    for (int i = 0; i < PEER_CONNS; i++)
        p->c[i].fd = -1;
    p->listen_fd[0] = listener(0, port4);
    p->listen_fd[1] = listener(1, port6);
    if (p->listen_fd[0] >= 0 && p->listen_fd[1] >= 0 && pipe2(p->stop_pipe, O_CLOEXEC) == 0) {
        if (pthread_create(&p->thread, NULL, peer_thread, p) == 0)
            return p;
        close(p->stop_pipe[0]);
        close(p->stop_pipe[1]);
    }
    if (p->listen_fd[0] >= 0)
        close(p->listen_fd[0]);
    if (p->listen_fd[1] >= 0)
        close(p->listen_fd[1]);
    free(p);
    return NULL;
}

void ch_peer_stop(struct ch_peer *p)
{
    if (p == NULL)
        return;
    if (write(p->stop_pipe[1], "x", 1) != 1)
        abort();
    pthread_join(p->thread, NULL);
    close(p->stop_pipe[0]);
    close(p->stop_pipe[1]);
    close(p->listen_fd[0]);
    close(p->listen_fd[1]);
    free(p);
}
