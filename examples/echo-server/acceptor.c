/*
 * echo-server: the accepting thread. The listener is non-blocking: the
 * thread waits in ks_poll for POLLIN, takes every queued connection with
 * ks_accept until -EWOULDBLOCK, makes each non-blocking and hands it to
 * the worker that owns the fewest. Closing the listener (the unload) wakes
 * the poll (POLLNVAL).
 */
#include "echo_server.h"

static struct es_worker *least_loaded(struct es_server *s)
{
    struct es_worker *best = &s->workers[0];
    int i;

    for (i = 1; i < s->nthreads; i++)
        if (s->workers[i].owned < best->owned)
            best = &s->workers[i];
    return best;
}

/* Takes the queued connections; FALSE if the listener is gone. */
static BOOLEAN accept_all(struct es_server *s, int l)
{
    for (;;) {
        unsigned long on = 1;
        struct es_conn *c;
        LONG k;
        int fd = ks_accept(l, NULL, NULL);

        if (fd == -EWOULDBLOCK)
            return TRUE;
        if (fd < 0) {
            if (s->stopping || fd == -EBADF || fd == -ENETDOWN || fd == -EINVAL)
                return FALSE;
            ES_LOG("ks_accept failed: %d (%s)\n", fd, ks_strerror(fd));
            return TRUE; /* transient: -ECONNABORTED, -ENOMEM, -EMFILE */
        }
        c = es_conn_new(fd);
        if (!c || ks_ioctl(fd, FIONBIO, &on) != 0) {
            ES_LOG("cannot set up a connection: dropped\n");
            if (c) {
                c->fd = -1;
                ks_pool_free(c->buf, ES_TAG);
                ks_pool_free(c, ES_TAG);
            }
            ks_close(fd);
            continue;
        }
        k = InterlockedIncrement(&s->accepted);
        if (k == 1 || k % s->log_every == 0)
            ES_LOG("accepted %ld connections\n", (long)k);
        es_worker_give(least_loaded(s), c);
    }
}

void es_acceptor_main(void *ctx)
{
    struct es_server *s = ctx;
    int l = (int)s->listener;

    while (!s->stopping) {
        struct ks_pollfd p;
        int r;

        p.fd = l;
        p.events = POLLIN;
        p.revents = 0;
        r = ks_poll(&p, 1, -1);
        if (s->stopping || (r > 0 && (p.revents & POLLNVAL)))
            break;
        if (r < 0) {
            LARGE_INTEGER t;
            ES_LOG("acceptor: ks_poll failed: %d (%s)\n", r, ks_strerror(r));
            t.QuadPart = -10 * 1000 * 10; /* 10 ms: -ENOMEM passes */
            KeDelayExecutionThread(KernelMode, FALSE, &t);
            continue;
        }
        if (r > 0 && !accept_all(s, l))
            break;
    }
}
