/*
 * ks_ready_state.h - the readiness engine's per-socket state (struct
 * ks_ready), a member of every socket object. Only the data: the socket core
 * embeds it without depending on the engine (ks_ready.h, a higher layer),
 * which initialises and ends it through the core's layer hooks.
 */
#ifndef KS_READY_STATE_H
#define KS_READY_STATE_H

#include "ks_op.h"

struct ks_sock;

/* Most bytes a non-blocking ks_send takes in one call (copied, then sent in
 * the background), and the size of the read-ahead / datagram buffer. */
#define KS_READY_SEND_MAX (64u * 1024)
#define KS_READY_BUF (64u * 1024)

enum ks_async_state {
    KS_ASYNC_IDLE = 0, /* nothing in flight, nothing to reap */
    KS_ASYNC_BUSY = 1, /* issued, callback not yet run */
    KS_ASYNC_DONE = 2  /* callback ran: result to reap */
};

enum ks_rx_kind { KS_RX_READ = 0, KS_RX_ACCEPT, KS_RX_RECVFROM };
enum ks_tx_kind { KS_TX_SEND = 0, KS_TX_CONNECT };

/* A waiter on a socket (linked into ready.waiters): a ks_poll call (event),
 * or an asynchronous call (notify, called under the socket's spin lock at
 * DISPATCH_LEVEL; it may unlink its own link). */
struct ks_ready_link {
    LIST_ENTRY entry;
    PKEVENT event; /* the poll call's event (nonpaged), or NULL */
    void (*notify)(struct ks_sock *s, struct ks_ready_link *link);
};

/* Fields marked (L) are under the socket's spin lock; (R) under rx_lock. */
struct ks_ready {
    LIST_ENTRY waiters; /* (L) struct ks_ready_link */

    /* ---- receive side, on s->rx ---- */
    LONG rx;            /* (L) enum ks_async_state */
    UCHAR rx_kind;      /* enum ks_rx_kind of the request (R) */
    NTSTATUS rx_status; /* (L) result when DONE */
    ULONG_PTR rx_info;  /* (L) */
    KEVENT rx_idle;     /* notification: set unless a request is BUSY */
    WSK_BUF rx_wbuf;    /* the request\'s buffer description */
    BOOLEAN rx_eof;     /* (L) stream: the peer ended the stream */
    int rx_err;         /* (L) stream: sticky receive error (negative) */
    int rx_once_err; /* (L) error reported once: failed accept/receive-from, or a request a poller
                        could not issue */
    struct ks_sock *acc; /* (R) socket for the async accept, or NULL */
    BOOLEAN acc_queued;  /* (L) acc holds an accepted connection */
    ks_addr acc_remote;
    BOOLEAN dg_held;      /* (L) a datagram is in peek_buf */
    ULONG dg_len;         /* (R) its size (bytes in the buffer) */
    ULONG dg_flags;       /* (R) WSK control flags (MSG_TRUNC ...) */
    ULONG dg_control_len; /* (R) */
    ks_addr dg_from;

    /* ---- send side, on s->tx ---- */
    LONG tx;             /* (L) enum ks_async_state */
    UCHAR tx_kind;       /* enum ks_tx_kind */
    NTSTATUS tx_status;  /* (L) result when DONE */
    ULONG_PTR tx_info;   /* (L) */
    ULONG tx_len;        /* bytes of the async send */
    KEVENT tx_idle;      /* notification: set unless a request is BUSY */
    WSK_BUF tx_wbuf;     /* the request's buffer description */
    UCHAR *tx_buf;       /* KS_READY_SEND_MAX bytes, allocated at first use */
    BOOLEAN conn_failed; /* (L) a non-blocking connect failed */
    ks_addr conn_to;
};

#endif /* KS_READY_STATE_H */
