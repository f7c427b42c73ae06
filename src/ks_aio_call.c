/*
 * ks_aio_call.c - asynchronous forms of the calls WSK only offers as
 * waits the library must sit through: name resolution (a sequence of
 * queries), the orderly close and the graceful shutdown (a disconnect the
 * transport completes when the peer acknowledged), and the reverse lookup.
 * Each runs the blocking
 * call on a blocking-call thread (ks_work.c), so that neither the caller
 * nor the completion threads wait, then posts the callback to a completion
 * thread, like every other asynchronous call.
 */
#include "ks_aio_call.h"
#include "ks_fdtable.h"
#include "ks_socket.h"

enum call_kind { CALL_GETADDRINFO, CALL_GETNAMEINFO, CALL_CLOSE, CALL_SHUTDOWN };
enum call_phase { PHASE_QUEUED = 0, PHASE_RUNNING = 1, PHASE_CANCELLED = 2 };

struct aio_call {
    struct ks_aio_head head; /* first: shared with ks_aio.c */
    ks_aio_cb *cb;
    ptrdiff_t result;
    volatile LONG phase; /* enum call_phase */
    UCHAR kind;
    char *names; /* getaddrinfo: node and service, copied (KS_TAG_MISC) */
    union {
        struct { /* close, shutdown */
            int fd, how;
            ks_sock *s; /* close: the socket taken out of the table (its reference) */
        } sock;
        struct {
            struct addrinfo **res;
            struct addrinfo hints;
            BOOLEAN has_hints;
            const char *node, *service;
        } gai;
        struct {
            ks_addr sa; /* copied */
            int salen;
            char *host, *serv; /* the caller's buffers */
            size_t hostlen, servlen;
            int flags;
        } gni;
    } u;
};

_Static_assert(sizeof(struct aio_call) <= sizeof(((struct ks_aio *)0)->ks_private),
               "struct ks_aio too small");

static ks_work_fn call_run;
static ks_work_fn call_done;

static struct aio_call *call_of(struct ks_aio *req)
{
    return (struct aio_call *)(void *)req->ks_private;
}

/* Completion thread: the callback. */
static void call_done(ks_work *w)
{
    struct aio_call *a = CONTAINING_RECORD(w, struct aio_call, head.work);
    ks_aio_cb *cb = a->cb;
    ptrdiff_t result = a->result;
    ks__free(a->names, KS_TAG_MISC);
    a->names = NULL;
    a->head.state = KS_AIO_FREE; /* the caller's from here on */
    cb(CONTAINING_RECORD((void *)a, struct ks_aio, ks_private), result);
}

/* Blocking-call thread: the call, then the callback is posted. */
static void call_run(ks_work *w)
{
    struct aio_call *a = CONTAINING_RECORD(w, struct aio_call, head.work);
    if (InterlockedCompareExchange(&a->phase, PHASE_RUNNING, PHASE_QUEUED) != PHASE_QUEUED) {
        a->result = -ECANCELED;
    } else {
        a->head.state = KS_AIO_RUNNING;
        switch (a->kind) {
        case CALL_GETADDRINFO:
            a->result = ks_getaddrinfo(a->u.gai.node, a->u.gai.service,
                                       a->u.gai.has_hints ? &a->u.gai.hints : NULL, a->u.gai.res);
            break;
        case CALL_GETNAMEINFO:
            a->result =
                ks_getnameinfo((const struct sockaddr *)&a->u.gni.sa, a->u.gni.salen, a->u.gni.host,
                               a->u.gni.hostlen, a->u.gni.serv, a->u.gni.servlen, a->u.gni.flags);
            break;
        case CALL_CLOSE:
            ks__sock_close_after_sends(a->u.sock.s);
            ks__sock_put(a->u.sock.s);
            a->u.sock.s = NULL;
            a->result = 0;
            break;
        default:
            a->result = ks_shutdown(a->u.sock.fd, a->u.sock.how);
            break;
        }
    }
    a->head.work.fn = call_done;
    ks__work_post(&a->head.work);
}

/* Checks common to the submissions: 0, or a negative errno. */
static int call_check(struct ks_aio *req, ks_aio_cb *cb)
{
    if (!ks__can_block())
        return -EPERM;
    if (req == NULL || cb == NULL)
        return -EFAULT;
    if (ks__aio_head_of(req)->state != KS_AIO_FREE)
        return -EBUSY;
    return ks__work_start();
}

/* 0, or -ENETDOWN if ks_cleanup stopped the threads meanwhile (the request
 * is then free again, its callback never runs). */
static int call_submit(struct aio_call *a, enum call_kind kind, ks_aio_cb *cb)
{
    a->cb = cb;
    a->kind = (UCHAR)kind;
    a->phase = PHASE_QUEUED;
    a->head.blocking_call = TRUE;
    a->head.state = KS_AIO_POSTED;
    a->head.work.fn = call_run;
    int err = ks__work_post_blocking(&a->head.work);
    if (err != 0) {
        ks__free(a->names, KS_TAG_MISC);
        a->names = NULL;
        a->head.state = KS_AIO_FREE;
    }
    return err;
}

int ks_getaddrinfo_async(const char *node, const char *service, const struct addrinfo *hints,
                         struct addrinfo **res, struct ks_aio *req, ks_aio_cb *cb)
{
    int err = res == NULL ? (ks__can_block() ? -EFAULT : -EPERM) : call_check(req, cb);
    if (err != 0)
        return err;
    struct aio_call *a = call_of(req);
    *res = NULL;
    /* The names are copied: the caller's strings may go once this returns. */
    size_t node_len = node != NULL ? ks__text_length(node) + 1 : 0;
    size_t service_len = service != NULL ? ks__text_length(service) + 1 : 0;
    char *names = NULL;
    if (node_len + service_len > 0) {
        names = (char *)ks__alloc(node_len + service_len, KS_TAG_MISC);
        if (names == NULL)
            return -EAI_MEMORY;
        if (node != NULL)
            RtlCopyMemory(names, node, node_len);
        if (service != NULL)
            RtlCopyMemory(names + node_len, service, service_len);
    }
    a->names = names;
    a->u.gai.node = node != NULL ? names : NULL;
    a->u.gai.service = service != NULL ? names + node_len : NULL;
    a->u.gai.has_hints = hints != NULL;
    if (hints != NULL)
        a->u.gai.hints = *hints;
    a->u.gai.res = res;
    return call_submit(a, CALL_GETADDRINFO, cb);
}

int ks_getnameinfo_async(const struct sockaddr *sa, int salen, char *host, size_t hostlen,
                         char *serv, size_t servlen, int flags, struct ks_aio *req, ks_aio_cb *cb)
{
    int err = call_check(req, cb);
    if (err != 0)
        return err;
    /* What cannot be copied is refused now, as ks_getnameinfo would. */
    if (sa == NULL)
        return -EFAULT;
    if (salen < (int)sizeof(sa->sa_family))
        return -EAI_FAMILY;
    struct aio_call *a = call_of(req);
    RtlZeroMemory(&a->u.gni.sa, sizeof(a->u.gni.sa));
    RtlCopyMemory(&a->u.gni.sa, sa,
                  (SIZE_T)(salen < (int)sizeof(a->u.gni.sa) ? salen : (int)sizeof(a->u.gni.sa)));
    a->names = NULL;
    a->u.gni.salen = salen;
    a->u.gni.host = host;
    a->u.gni.hostlen = hostlen;
    a->u.gni.serv = serv;
    a->u.gni.servlen = servlen;
    a->u.gni.flags = flags;
    return call_submit(a, CALL_GETNAMEINFO, cb);
}

int ks_close_async(int fd, struct ks_aio *req, ks_aio_cb *cb)
{
    int err = call_check(req, cb);
    if (err != 0)
        return err;
    /* The descriptor ends now, as with ks_close; the socket goes later. */
    ks_sock *s = ks__fd_remove(fd);
    if (s == NULL)
        return -EBADF;
    ks__sock_fd_ended(s, KS_FD_CLOSE_AFTER); /* its queued sends go on */
    struct aio_call *a = call_of(req);
    a->names = NULL;
    a->u.sock.s = s;
    err = call_submit(a, CALL_CLOSE, cb);
    if (err != 0) {
        /* ks_cleanup is stopping the threads (and did not see this socket,
         * whose descriptor is gone): closed here, as ks_close would. */
        ks__sock_close(s);
        ks__sock_put(s);
    }
    return err;
}

int ks_shutdown_async(int fd, int how, struct ks_aio *req, ks_aio_cb *cb)
{
    int err = call_check(req, cb);
    if (err != 0)
        return err;
    struct aio_call *a = call_of(req);
    a->names = NULL;
    a->u.sock.s = NULL;
    a->u.sock.fd = fd;
    a->u.sock.how = how;
    return call_submit(a, CALL_SHUTDOWN, cb);
}

int ks__aio_call_cancel(struct ks_aio *req)
{
    struct aio_call *a = call_of(req);
    if (a->head.state == KS_AIO_FREE)
        return -EINVAL;
    if (a->kind == CALL_CLOSE)
        return -EALREADY; /* the descriptor is gone already */
    return InterlockedCompareExchange(&a->phase, PHASE_CANCELLED, PHASE_QUEUED) == PHASE_QUEUED
               ? 0
               : -EALREADY;
}
