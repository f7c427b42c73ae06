/*
 * echo-server - shared declarations of the driver's parts:
 *   echo_server.c  DriverEntry, DriverUnload, parameters, threads
 *   acceptor.c     the accepting thread (non-blocking listener, ks_poll)
 *   worker.c       a worker thread: its connections, one ks_poll loop
 *   conn.c         one connection: receive, echo, keep unsent bytes
 */
#ifndef ECHO_SERVER_H
#define ECHO_SERVER_H

#include <ntddk.h>

#include "wsksock.h"

#define ES_TAG ((ULONG)'e' | ((ULONG)'s' << 8) | ((ULONG)'r' << 16) | ((ULONG)'v' << 24))
#define ES_BUF (32 * 1024) /* per connection, nonpaged pool */
#define ES_MAX_THREADS 16
#define ES_POLL_MS 10 /* bounds a worker's wait: new connections, stop flag */

/* The format is the first argument and ends with \n (C11 allows no
 * empty __VA_ARGS__, so the macro cannot append it). */
#define ES_LOG(...) DbgPrint("echo-server: " __VA_ARGS__)

/* One connection, owned by one worker (through its inbox first). */
struct es_conn {
    LIST_ENTRY link; /* in the worker's inbox until the worker takes it */
    int fd;
    ULONG off, len;           /* unsent bytes: buf[off, off + len) */
    unsigned long long bytes; /* echoed (taken by ks_send) */
    unsigned char *buf;       /* ES_BUF bytes */
};

struct es_worker {
    int index;
    struct ks_thread *thread;
    KSPIN_LOCK lock;
    LIST_ENTRY inbox; /* connections handed over by the acceptor */
    KEVENT wake;      /* set when the inbox gets one (or at the unload) */
    volatile LONG owned;
    /* The worker thread's own: its poll set. */
    struct es_conn **conns;
    struct ks_pollfd *pfds;
    unsigned n, cap;
};

struct es_server {
    int port, nthreads, log_every;
    volatile LONG listener; /* descriptor, or -1 */
    volatile LONG stopping;
    volatile LONG accepted, ended, eof, errors;
    volatile LONG64 bytes; /* echoed by ended connections */
    struct ks_thread *acceptor;
    struct es_worker workers[ES_MAX_THREADS];
};

extern struct es_server *g_es;

/* conn.c */
struct es_conn *es_conn_new(int fd);
short es_conn_events(const struct es_conn *c);
int es_conn_serve(struct es_conn *c, short revents);
void es_conn_close(struct es_conn *c, int result);

/* worker.c */
ks_thread_routine es_worker_main;
void es_worker_give(struct es_worker *w, struct es_conn *c);

/* acceptor.c */
ks_thread_routine es_acceptor_main;

#endif /* ECHO_SERVER_H */
