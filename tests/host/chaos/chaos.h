/*
 * chaos.h - the library's chaos test on the host bed (see docs/hostbed.md).
 *
 * Worker threads do random operations on a small shared set of descriptor
 * slots (closed and reused), with stale and garbage descriptors, blocking
 * calls bounded by timeouts, asynchronous calls cancelled from other
 * threads and event mode, while a cycler thread runs ks_cleanup/ks_startup.
 * Every result is checked against the errno list of the call's header.
 *
 * Files: chaos.c (command line, runs, threads, leak check), chaos_ops.c
 * (the synchronous operations), chaos_aio.c (asynchronous calls, cancel,
 * event mode), chaos_check.c (the errno tables, failure reports),
 * chaos_peer.c (a native POSIX peer with random behaviours).
 */
#ifndef CHAOS_H
#define CHAOS_H

#include "chaos_peer.h"
#include "ht.h"

#define CH_SLOTS 8
#define CH_CELLS 24
#define CH_RECENT 32
#define CH_MAX_THREADS 16

/* Classes of operations that --no can exclude (to look behind a known bug);
 * the ctest runs exclude none. */
enum {
    CH_NO_CLEANUP = 1 << 0,    /* ks_cleanup/ks_startup cycles */
    CH_NO_STALE = 1 << 1,      /* stale descriptors (and the reuse check) */
    CH_NO_AIO = 1 << 2,        /* asynchronous calls */
    CH_NO_CANCEL = 1 << 3,     /* ks_aio_cancel */
    CH_NO_EVENTS = 1 << 4,     /* event mode */
    CH_NO_SHUTDOWN = 1 << 5,   /* ks_shutdown (and ks_shutdown_async) */
    CH_NO_LISTEN_RECV = 1 << 6 /* receives and FIONREAD on listening sockets */
};

/* Library state as the cycler sets it around its calls. */
enum { CH_UP, CH_CLEANING, CH_DOWN, CH_STARTING };

struct ch_run {
    unsigned seed;
    unsigned excluded; /* CH_NO_* */
    volatile LONG stop;
    volatile LONG lib_state;
    volatile LONG slots[CH_SLOTS];   /* a descriptor, or 0 */
    volatile LONG ports[CH_SLOTS];   /* port a slot's socket is bound to, | 0x10000 for IPv6 */
    volatile LONG recent[CH_RECENT]; /* descriptors known closed (stale) */
    volatile LONG recent_next;
    int peer_port4, peer_port6; /* the native peer's listeners */
    volatile LONG64 ops;
};
extern struct ch_run ch;

/* Per-thread pseudo-random numbers (xorshift64*), seeded from the run's
 * seed and the thread's index. */
struct ch_rng {
    unsigned long long s;
};
void ch_rng_init(struct ch_rng *r, unsigned seed, unsigned stream);
unsigned ch_rand(struct ch_rng *r, unsigned n); /* 0..n-1 */

/* ---- checks (chaos_check.c) ---- */
enum ch_call {
    C_SOCKET,
    C_BIND,
    C_LISTEN,
    C_ACCEPT,
    C_CONNECT,
    C_SEND,
    C_RECV,
    C_SENDTO,
    C_RECVFROM,
    C_CLOSE,
    C_SHUTDOWN,
    C_SETSOCKOPT,
    C_GETSOCKOPT,
    C_GETSOCKNAME,
    C_GETPEERNAME,
    C_IOCTL,
    C_POLL,
    C_STARTUP,
    C_AIO_SUBMIT,
    C_AIO_CANCEL,
    CB_RECV,
    CB_SEND,
    CB_ACCEPT,
    CB_CONNECT,
    CB_RECVFROM,
    CB_SENDTO,
    CB_CLOSE,
    CB_SHUTDOWN,
    C_LISTEN_EVENTS,
    C_RECV_EVENTS,
    C_EVENTS_PAUSE,
    C_EVENTS_NATIVE,
    EV_DISCONNECT,
    C_CALLS
};
const char *ch_call_name(enum ch_call call);
/* 1 if r is a success (>= 0) or an errno the call's header lists; else
 * reports a failure with the call's arguments (printf format) and 0. */
__attribute__((format(printf, 3, 4))) int ch_check(enum ch_call call, long long r,
                                                   const char *args_fmt, ...);
/* Reports a failure (counted; the first ones printed). */
__attribute__((format(printf, 1, 2))) void ch_fail(const char *fmt, ...);
extern volatile LONG ch_failures;

/* ---- descriptors (chaos_ops.c) ---- */
/* Gives a new socket the bounds that keep every blocking call short. */
void ch_prepare(int fd);
/* A new socket of either family (*v6), with ch_prepare's bounds; the
 * descriptor or a negative errno (checked). */
int ch_new_socket(struct ch_rng *r, int type, int *v6);
/* Puts fd into a random slot (or slot `at` if >= 0); the descriptor it
 * displaces is closed (abortively). With at == CH_EMPTY_SLOT only an empty
 * slot is taken: 0 if there is none (fd is then still the caller's).
 * port as in ch_run.ports; from names the call that returned fd. */
#define CH_EMPTY_SLOT (-2)
#define CH_PORT_V6 0x10000
#define CH_PORT_LISTENER 0x20000
int ch_publish(struct ch_rng *r, int fd, int port, int at, const char *from);
/* The address of a peer: the native one, or a library listener's slot. */
void ch_target(struct ch_rng *r, int v6, SOCKADDR_STORAGE *ss, int *len);
/* Closes fd abortively (SO_LINGER {1, 0}) and records it as stale. */
void ch_close_now(int fd, const char *why);
void ch_note_closed(int fd);
/* A descriptor to operate on: a slot's mostly, else stale or garbage. */
int ch_pick_fd(struct ch_rng *r);
/* The same for a receive: with CH_NO_LISTEN_RECV, 0 instead of a slot the
 * test made listen. */
int ch_pick_rx_fd(struct ch_rng *r);
/* One random synchronous operation. */
void ch_sync_op(struct ch_rng *r);

/* ---- asynchronous calls and event mode (chaos_aio.c) ---- */
void ch_aio_reset(void);
void ch_aio_op(struct ch_rng *r);
void ch_cancel_op(struct ch_rng *r);
void ch_events_op(struct ch_rng *r);
int ch_listen_events(struct ch_rng *r, int fd);
/* After the final ks_cleanup: every request's callback ran exactly once. */
void ch_aio_final_check(void);
/* Counts of submitted requests and callbacks run (for the report). */
extern volatile LONG ch_aio_submitted, ch_aio_callbacks;

#endif /* CHAOS_H */
