/*
 * wp.h - what the WSK side of the provider shares: registrations, socket
 * objects, pending requests, the completion engine and the provider
 * functions behind the dispatch tables. (posix_net.h is the other side.)
 *
 * Locking: each socket has a mutex (struct wp_sock.lock) guarding its
 * descriptor, state and request queues; the socket registry has one global
 * mutex, which may be taken while a socket's is held but never the other
 * way round. No provider lock is held while a client's completion routine
 * or cancel routine runs, so those may call the provider again.
 */
#ifndef WSKPROV_WP_H
#define WSKPROV_WP_H

#include <kshim.h>
#include <ntddk.h>

#include "posix_net.h"
#include "wskprov.h"
#include "wsksock/wsk.h"

#ifndef STATUS_NOINTERFACE
#define STATUS_NOINTERFACE ((NTSTATUS)0xC00002B9L)
#endif
#ifndef STATUS_REQUEST_NOT_ACCEPTED
#define STATUS_REQUEST_NOT_ACCEPTED ((NTSTATUS)0xC00000D0L)
#endif
#ifndef STATUS_EVENT_PENDING
#define STATUS_EVENT_PENDING ((NTSTATUS)0x40000013L)
#endif

/* ---- initialisation ---- */
/* Everything the provider needs before first use, once (completion.c). */
void wp_init_once(void);
void wp_socket_init(void);   /* socket.c */
void wp_events_init(void);   /* events.c */
void wp_provider_init(void); /* provider.c */

/* ---- registrations (provider.c) ---- */
struct wp_reg {
    struct wp_reg *next; /* every registration ever made (never freed) */
    ULONG magic;
    WSK_CLIENT_NPI client;
    LONG captures;      /* (wp_reg_lock) */
    LONG sockets;       /* open sockets created through it (wp_reg_lock) */
    LONG busy;          /* client-level calls or operations in progress (wp_reg_lock) */
    BOOLEAN deregister; /* WskDeregister was called */
};
/* Validates a PWSK_CLIENT (violation if it is not a live registration with
 * a captured NPI) and counts a client-level call in progress. */
struct wp_reg *wp_reg_enter(PWSK_CLIENT client, const char *function);
void wp_reg_leave(struct wp_reg *reg);
void wp_reg_socket_added(struct wp_reg *reg);
void wp_reg_socket_removed(struct wp_reg *reg);

/* ---- sockets (socket.c) ---- */
enum wp_kind { WP_BASIC, WP_LISTEN, WP_CONNECTION, WP_DATAGRAM };
/* State bits. */
#define WP_BOUND 0x01
#define WP_LISTENING 0x02
#define WP_CONNECTING 0x04
#define WP_CONNECTED 0x08
#define WP_TX_SHUT 0x10 /* graceful disconnect done (FIN sent) */
#define WP_RX_EOF 0x20  /* the peer's FIN was received */
#define WP_ABORTED 0x40 /* abortive disconnect by us: descriptor closed */
#define WP_FAILED 0x80  /* connect failed or was cancelled */
#define WP_CLOSING 0x100
#define WP_DISCONNECTED 0x200 /* a graceful WskDisconnect completed */

struct wp_sock {
    WSK_SOCKET wsk; /* first: a PWSK_SOCKET points here */
    struct wp_sock *hnext;
    struct wp_reg *reg;
    enum wp_kind kind;
    int family; /* 4 or 6 */
    volatile LONG refs;
    LONG in_call; /* calls executing in the provider now (registry lock) */
    pn_mutex lock;
    int fd;                /* (lock) -1 once closed */
    ULONG state;           /* (lock) WP_* bits */
    NTSTATUS conn_error;   /* (lock) sticky error of a broken connection */
    LIST_ENTRY rxq;        /* (lock) receive, accept, receive-from requests */
    LIST_ENTRY txq;        /* (lock) connect, send, send-to, disconnect requests */
    LONG outstanding;      /* (lock) IRPs taken and not yet completed */
    PIRP close_irp;        /* (lock) WskCloseSocket waiting for outstanding == 0 */
    PVOID context;         /* the client's socket context */
    struct pn_addr remote; /* (lock) peer of a connected socket */
    BOOLEAN port_claimed;  /* (registry lock) bound TCP address in claim */
    struct pn_addr claim;  /* (registry lock) */
    /* Options as the client set them (lock). */
    BOOLEAN opt_reuseaddr, opt_exclusive, opt_nodelay;
    int rcvbuf, sndbuf; /* last value set, 0 if none */
    /* Event callbacks (events.c; "SO_WSK_EVENT_CALLBACK"). The client's
     * dispatch table: WSK_CLIENT_LISTEN_DISPATCH or
     * WSK_CLIENT_CONNECTION_DISPATCH (kind), or NULL. */
    const void *client_dispatch;
    ULONG ev_enabled;           /* (lock) WSK_EVENT_* bits enabled */
    ULONG ev_inherit;           /* (lock) listening: connection events for accepted sockets */
    ULONG ev_running;           /* (lock) the WSK_EVENT_* bit whose callback runs now, or 0 */
    LIST_ENTRY ev_disable_irps; /* (lock) disables waiting for ev_running to end */
    BOOLEAN ev_held;            /* (lock) no receive indication until a WskReceive */
    BOOLEAN ev_rx_during;       /* (lock) a WskReceive came while WskReceiveEvent ran */
    BOOLEAN ev_eof_told;        /* (lock) WskDisconnectEvent for the peer's FIN made */
    BOOLEAN ev_error_told;      /* (lock) WskDisconnectEvent(WSK_FLAG_ABORTIVE) made */
    BOOLEAN ev_dead_told;       /* (lock) WskReceiveEvent(NULL) made: no longer functional */
    struct wp_ind *held;        /* (lock) received data not yet delivered */
    struct wp_ind *retained;    /* (lock) lists the client retained (STATUS_PENDING) */
    LONG retained_count;        /* (lock) */
};

/* Creates a socket object for fd (registered, watched, counted); NULL if
 * out of memory (fd is then left open). */
struct wp_sock *wp_sock_new(struct wp_reg *reg, enum wp_kind kind, int family, int fd);
/* Entry of every socket function: validates the PWSK_SOCKET (violation on
 * an unknown or closed socket) and counts the call in progress; takes a
 * reference. wp_sock_leave_call ends the call, wp_sock_unref drops it. */
struct wp_sock *wp_sock_enter(PWSK_SOCKET socket, const char *function);
/* wp_sock_enter, then takes irp (counted in s->outstanding). */
struct wp_sock *wp_sock_enter_irp(PWSK_SOCKET socket, PIRP irp, const char *function);
void wp_sock_leave_call(struct wp_sock *s);
void wp_sock_ref(struct wp_sock *s);
void wp_sock_unref(struct wp_sock *s);
/* A reference to ptr if it is a live socket, else NULL (no dereference). */
struct wp_sock *wp_sock_ref_if_live(void *ptr);
/* Counts an IRP of s as taken (s->outstanding). */
void wp_sock_irp_taken(struct wp_sock *s);
/* An IRP of s was completed: ends a waiting close when it was the last. */
void wp_sock_irp_done(struct wp_sock *s);
/* Closes the socket inside the provider (WskSocketConnect failures): the
 * client never saw it. */
void wp_sock_destroy(struct wp_sock *s);
/* TCP binds: Windows' address-in-use rule among this provider's sockets
 * (Linux gets SO_REUSEADDR so that TIME_WAIT does not block a bind, which
 * it does not on Windows). wp_sock_claim: STATUS_ADDRESS_ALREADY_EXISTS if
 * another live TCP socket holds the address, unless both asked for
 * SO_REUSEADDR; else records it. wp_sock_settle: the address the system
 * chose (port 0), or FALSE to drop the claim (the bind failed). */
NTSTATUS wp_sock_claim(struct wp_sock *s, const struct pn_addr *a);
void wp_sock_settle(struct wp_sock *s, BOOLEAN bound);
/* Pointer to the dispatch table of a kind. */
const void *wp_dispatch_for(enum wp_kind kind);

/* ---- IRPs and completion (completion.c) ---- */
/* Takes ownership of a client's IRP (violation if NULL). */
void wp_take_irp(PIRP irp, const char *function);
/* Completes irp: on a provider thread now at DISPATCH_LEVEL; on a client
 * thread inline (at its IRQL) or posted to a provider thread, per the
 * completion mode. sock (optional, referenced by the caller) gets
 * wp_sock_irp_done afterwards. Returns TRUE if it completed now; FALSE if
 * posted (the IRP is then marked pending). */
BOOLEAN wp_complete(PIRP irp, NTSTATUS status, ULONG_PTR information, struct wp_sock *sock);
/* wp_complete, and: force_async posts even when the mode says inline (for
 * requests that waited for the network); reg (optional) gets
 * wp_reg_socket_removed once the IRP is completed (WskCloseSocket). */
BOOLEAN wp_complete_mode(PIRP irp, NTSTATUS status, ULONG_PTR information, struct wp_sock *sock,
                         BOOLEAN force_async, struct wp_reg *reg);
/* Completes irp on the current thread now. */
void wp_complete_now(PIRP irp, NTSTATUS status, ULONG_PTR information, struct wp_sock *sock);
/* Return value of a WSK function whose IRP went through wp_complete. */
static inline NTSTATUS wp_returned(BOOLEAN completed, NTSTATUS status)
{
    return completed ? status : STATUS_PENDING;
}
BOOLEAN wp_on_provider_thread(void);
/* Starts the I/O thread (once). */
void wp_engine_start(void);
/* Watches fd for readiness; events run wp_sock_service(ctx). */
void wp_engine_watch(int fd, struct wp_sock *s);
/* Services s every few milliseconds while its send queue is not empty
 * (for a state change no readiness event reports: FIN acknowledged). */
void wp_engine_poll(struct wp_sock *s);
/* Services s on the I/O thread soon (event callbacks run only there). */
void wp_engine_kick(struct wp_sock *s);
/* Runs fn(arg) on a new provider thread (blocking work: name resolution). */
NTSTATUS wp_run_thread(void (*fn)(void *), void *arg);
/* Marks the current thread as a provider thread (completions raise IRQL). */
void wp_enter_provider_thread(void);

/* ---- pending requests (request.c) ---- */
struct wp_req;
/* Advances r (socket lock held): 1 finished (r->status/info set), 0 must
 * wait for readiness. */
typedef int wp_step_fn(struct wp_req *r);
struct wp_req {
    LIST_ENTRY link;
    PIRP irp;
    struct wp_sock *sock; /* referenced */
    BOOLEAN tx;           /* queue: txq or rxq */
    BOOLEAN queued;
    BOOLEAN counted; /* irp counted in sock->outstanding */
    BOOLEAN started;
    BOOLEAN connecting;  /* a connect: cancelling it fails the socket */
    BOOLEAN force_async; /* completes on a provider thread even if done at once */
    wp_step_fn *step;
    /* Optional, outside the lock, before the IRP completes. */
    void (*finish)(struct wp_req *r);
    WSK_BUF buf;
    ULONG flags;
    SIZE_T done;
    struct pn_addr addr; /* connect or send-to destination */
    PSOCKADDR local_out, remote_out;
    PULONG control_length, control_flags;
    PVOID accept_context;
    const WSK_CLIENT_CONNECTION_DISPATCH *accept_dispatch;
    struct wp_reg *reg; /* WskSocketConnect: the client-level operation */
    NTSTATUS status;
    ULONG_PTR info;
};
/* A request for irp (already taken) on s; NULL if out of memory. */
struct wp_req *wp_req_new(struct wp_sock *s, PIRP irp, BOOLEAN tx, wp_step_fn *step);
/* Runs r now if its queue is empty and it can finish, else queues it with
 * a cancel routine. Ends the caller's call on the socket (in_call) and
 * returns what the WSK function returns. */
NTSTATUS wp_req_submit(struct wp_req *r);
/* Progresses the socket's queues (I/O thread, on readiness). */
void wp_sock_service(struct wp_sock *s);
/* Ends every queued request of s with status (cancellation: STATUS_CANCELLED,
 * with partial receives succeeding). Socket lock held; finished requests
 * are moved to done (complete them with wp_req_complete_list). */
void wp_req_end_all(struct wp_sock *s, NTSTATUS status, LIST_ENTRY *done);
void wp_req_complete_list(LIST_ENTRY *done);
/* Fills iov with buf's bytes after skip; returns the count, or -1 if an MDL
 * cannot be mapped. */
int wp_buf_iov(const WSK_BUF *buf, SIZE_T skip, struct pn_iov *iov, int max);
/* STATUS_SUCCESS if buf's MDL chain holds Offset + Length bytes. */
NTSTATUS wp_buf_check(const WSK_BUF *buf);

/* ---- event callbacks (events.c) ---- */
/* Data the provider received for a receive indication: one
 * WSK_DATA_INDICATION over a locked MDL of a provider buffer. */
struct wp_ind {
    WSK_DATA_INDICATION di; /* the list the client sees (one element) */
    struct wp_ind *next;    /* in wp_sock.retained */
    PMDL mdl;
    UCHAR *data;
    SIZE_T len; /* bytes in data */
    SIZE_T off; /* bytes already delivered */
    /* (socket lock) The client holds the list: from the call of its
     * WskReceiveEvent (it may hand the list to another thread that calls
     * WskRelease before the callback returns) until WskRelease, or until
     * the callback returns anything but STATUS_PENDING. */
    BOOLEAN in_callback;    /* its WskReceiveEvent is running */
    BOOLEAN released_early; /* WskRelease came while it ran */
};
/* Whether SO_WSK_EVENT_CALLBACK is offered (KSHIM_WSK_EVENTS). */
BOOLEAN wp_events_offered(void);
/* SO_WSK_EVENT_CALLBACK (socket lock held). *pend_irp: TRUE when Irp (a
 * disable) must wait for the running callback: it was queued and pends. */
NTSTATUS wp_events_set(struct wp_sock *s, SIZE_T size, PVOID buffer, PIRP irp, BOOLEAN *pend_irp);
/* The I/O thread, after servicing s's queues: makes the next event
 * callback due on s, if any; TRUE if it did something (service again). */
BOOLEAN wp_events_run(struct wp_sock *s);
/* WskReceive on s: resumes indications held back (socket lock held);
 * TRUE if the socket should be serviced again (wp_engine_kick). */
BOOLEAN wp_events_receive_called(struct wp_sock *s);
/* A receive step (socket lock held): moves held data into r's buffer
 * (WSK_FLAG_DRAIN: discards it); FALSE if r's buffer cannot be mapped. */
BOOLEAN wp_events_take_held(struct wp_sock *s, struct wp_req *r);
/* WskCloseSocket / destroy (socket lock held): violation if the client
 * still retains lists; the held data is moved to *held for wp_ind_free. */
void wp_events_closing(struct wp_sock *s, const char *function, struct wp_ind **held);
void wp_ind_free(struct wp_ind *ind);

/* ---- addresses and errors (address.c) ---- */
/* Winsock SOCKADDR -> pn_addr: STATUS_INVALID_PARAMETER if the family is
 * not the socket's (4/6). */
NTSTATUS wp_addr_in(const SOCKADDR *sa, int family, struct pn_addr *out);
/* pn_addr -> Winsock SOCKADDR_IN/SOCKADDR_IN6 at sa. */
void wp_addr_out(const struct pn_addr *a, PSOCKADDR sa);
/* pn_err -> NTSTATUS (connection setup and general calls). */
NTSTATUS wp_status(int pn_error);
/* pn_err -> NTSTATUS for the data path of an established connection. */
NTSTATUS wp_data_status(int pn_error);

/* ---- provider functions behind the dispatch tables ---- */
NTSTATUS WSKAPI wp_WskSocket(PWSK_CLIENT Client, ADDRESS_FAMILY AddressFamily, USHORT SocketType,
                             ULONG Protocol, ULONG Flags, PVOID SocketContext, CONST VOID *Dispatch,
                             PEPROCESS OwningProcess, PETHREAD OwningThread,
                             PSECURITY_DESCRIPTOR SecurityDescriptor, PIRP Irp);
NTSTATUS WSKAPI wp_WskSocketConnect(PWSK_CLIENT Client, USHORT SocketType, ULONG Protocol,
                                    PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress, ULONG Flags,
                                    PVOID SocketContext,
                                    CONST WSK_CLIENT_CONNECTION_DISPATCH *Dispatch,
                                    PEPROCESS OwningProcess, PETHREAD OwningThread,
                                    PSECURITY_DESCRIPTOR SecurityDescriptor, PIRP Irp);
NTSTATUS WSKAPI wp_WskControlClient(PWSK_CLIENT Client, ULONG ControlCode, SIZE_T InputSize,
                                    PVOID InputBuffer, SIZE_T OutputSize, PVOID OutputBuffer,
                                    SIZE_T *OutputSizeReturned, PIRP Irp);
NTSTATUS WSKAPI wp_WskGetAddressInfo(PWSK_CLIENT Client, PUNICODE_STRING NodeName,
                                     PUNICODE_STRING ServiceName, ULONG NameSpace, GUID *Provider,
                                     PADDRINFOEXW Hints, PADDRINFOEXW *Result,
                                     PEPROCESS OwningProcess, PETHREAD OwningThread, PIRP Irp);
VOID WSKAPI wp_WskFreeAddressInfo(PWSK_CLIENT Client, PADDRINFOEXW AddrInfo);
NTSTATUS WSKAPI wp_WskGetNameInfo(PWSK_CLIENT Client, PSOCKADDR SockAddr, ULONG SockAddrLength,
                                  PUNICODE_STRING NodeName, PUNICODE_STRING ServiceName,
                                  ULONG Flags, PEPROCESS OwningProcess, PETHREAD OwningThread,
                                  PIRP Irp);

NTSTATUS WSKAPI wp_WskControlSocket(PWSK_SOCKET Socket, WSK_CONTROL_SOCKET_TYPE RequestType,
                                    ULONG ControlCode, ULONG Level, SIZE_T InputSize,
                                    PVOID InputBuffer, SIZE_T OutputSize, PVOID OutputBuffer,
                                    SIZE_T *OutputSizeReturned, PIRP Irp);
NTSTATUS WSKAPI wp_WskCloseSocket(PWSK_SOCKET Socket, PIRP Irp);
NTSTATUS WSKAPI wp_WskBind(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, ULONG Flags, PIRP Irp);
NTSTATUS WSKAPI wp_WskGetLocalAddress(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, PIRP Irp);
NTSTATUS WSKAPI wp_WskGetRemoteAddress(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PIRP Irp);
NTSTATUS WSKAPI wp_WskAccept(PWSK_SOCKET ListenSocket, ULONG Flags, PVOID AcceptSocketContext,
                             CONST WSK_CLIENT_CONNECTION_DISPATCH *AcceptSocketDispatch,
                             PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress, PIRP Irp);
NTSTATUS WSKAPI wp_WskInspectComplete(PWSK_SOCKET ListenSocket, PWSK_INSPECT_ID InspectID,
                                      WSK_INSPECT_ACTION Action, PIRP Irp);
NTSTATUS WSKAPI wp_WskConnect(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, ULONG Flags, PIRP Irp);
NTSTATUS WSKAPI wp_WskConnectEx(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PWSK_BUF Buffer,
                                ULONG Flags, PIRP Irp);
NTSTATUS WSKAPI wp_WskSend(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp);
NTSTATUS WSKAPI wp_WskReceive(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp);
NTSTATUS WSKAPI wp_WskDisconnect(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp);
NTSTATUS WSKAPI wp_WskReleaseData(PWSK_SOCKET Socket, PWSK_DATA_INDICATION DataIndication);
NTSTATUS WSKAPI wp_WskSendEx(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                             ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp);
NTSTATUS WSKAPI wp_WskReceiveEx(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                                PULONG ControlInfoLength, PCMSGHDR ControlInfo, PULONG ControlFlags,
                                PIRP Irp);
NTSTATUS WSKAPI wp_WskSendTo(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                             PSOCKADDR RemoteAddress, ULONG ControlInfoLength, PCMSGHDR ControlInfo,
                             PIRP Irp);
NTSTATUS WSKAPI wp_WskReceiveFrom(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                                  PSOCKADDR RemoteAddress, PULONG ControlLength,
                                  PCMSGHDR ControlInfo, PULONG ControlFlags, PIRP Irp);
NTSTATUS WSKAPI wp_WskReleaseDatagrams(PWSK_SOCKET Socket,
                                       PWSK_DATAGRAM_INDICATION DatagramIndication);
NTSTATUS WSKAPI wp_WskSendMessages(PWSK_SOCKET Socket, PWSK_BUF_LIST BufferList, ULONG Flags,
                                   PSOCKADDR RemoteAddress, ULONG ControlInfoLength,
                                   PCMSGHDR ControlInfo, PIRP Irp);

/* Completes an IRP of a socket call that failed or finished at once: ends
 * the call, completes per the mode, drops the reference; returns what the
 * WSK function returns. */
NTSTATUS wp_sock_finish(struct wp_sock *s, PIRP irp, NTSTATUS status, ULONG_PTR information);

#endif /* WSKPROV_WP_H */
