/*
 * chaos_check.c - what each call may return: its header's errno list
 * (include/wsksock.h, wsksock/aio.h, wsksock/events.h), and the failure
 * reports.
 *
 * -EPERM is in no list: the header gives it for calls above PASSIVE_LEVEL,
 * and every call of the test is made at PASSIVE_LEVEL. -ENETDOWN is allowed
 * for every call and callback: wsksock.h's conventions give it to any call
 * racing ks_cleanup, which the test's cycles do.
 */
#include "chaos.h"

#include <stdarg.h>
#include <stdio.h>

volatile LONG ch_failures;

/* Failures printed per process; the rest are only counted. */
#define CH_PRINTED_FAILURES 40

void ch_fail(const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (InterlockedIncrement(&ch_failures) <= CH_PRINTED_FAILURES) {
        printf("chaos: FAIL seed %u: %s\n", ch.seed, text);
        fflush(stdout);
    }
}

/* The errors of a blocking call that failed in the background, which the
 * next ks_send/ks_recv (and ks_poll's POLLERR, SO_ERROR) report: a
 * non-blocking connect's and a background send's. */
#define BACKGROUND_ERRORS                                                                          \
    ECONNREFUSED, ETIMEDOUT, ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL, ECONNRESET, ECONNABORTED,   \
        EPIPE

static const int e_socket[] = {EAFNOSUPPORT, EPROTONOSUPPORT, EPROTOTYPE, ENOMEM,
                               EMFILE,       ENETDOWN,        0};
static const int e_bind[] = {EBADF,      EFAULT,        EINVAL, EAFNOSUPPORT,
                             EADDRINUSE, EADDRNOTAVAIL, ENOMEM, 0};
static const int e_listen[] = {EBADF, EOPNOTSUPP, EISCONN, EADDRINUSE, ENOMEM, 0};
static const int e_accept[] = {EBADF,        EINVAL,      EFAULT,    ENOMEM, EMFILE,
                               ECONNABORTED, EWOULDBLOCK, ETIMEDOUT, 0};
static const int e_connect[] = {EBADF,        EFAULT,        EINVAL,     EAFNOSUPPORT,
                                EISCONN,      ECONNREFUSED,  ETIMEDOUT,  ENETUNREACH,
                                EHOSTUNREACH, EADDRNOTAVAIL, ECONNRESET, ECONNABORTED,
                                ENOMEM,       EINPROGRESS,   EALREADY,   0};
/* ks_send: "flags: 0 or MSG_DONTWAIT (others give -EOPNOTSUPP)". */
static const int e_send[] = {EBADF, EFAULT, EINVAL,      ENOTCONN,  ECONNRESET, ECONNABORTED,
                             EPIPE, ENOMEM, EWOULDBLOCK, ETIMEDOUT, EOPNOTSUPP, BACKGROUND_ERRORS,
                             0};
static const int e_recv[] = {
    EBADF,      EFAULT, EINVAL,      ENOTCONN,  ECONNRESET,        ECONNABORTED,
    EOPNOTSUPP, ENOMEM, EWOULDBLOCK, ETIMEDOUT, BACKGROUND_ERRORS, 0};
static const int e_sendto[] = {EBADF,  EFAULT,      EINVAL, EAFNOSUPPORT, EMSGSIZE, EOPNOTSUPP,
                               ENOMEM, EWOULDBLOCK, 0};
static const int e_recvfrom[] = {EBADF,  EFAULT,      EINVAL,    EMSGSIZE, EOPNOTSUPP,
                                 ENOMEM, EWOULDBLOCK, ETIMEDOUT, 0};
static const int e_close[] = {EBADF, 0};
static const int e_shutdown[] = {EBADF, ENOTCONN,  EINVAL,     ECONNRESET, ECONNABORTED,
                                 EPIPE, ETIMEDOUT, EOPNOTSUPP, ENOMEM,     0};
static const int e_sockopt[] = {EBADF, EFAULT, EINVAL, ENOPROTOOPT, EOPNOTSUPP, ENOMEM, 0};
static const int e_sockname[] = {EBADF, EFAULT, EINVAL, ENOTCONN, ENOMEM, 0};
static const int e_ioctl[] = {EBADF, EFAULT, EINVAL, 0};
static const int e_poll[] = {EFAULT, EINVAL, ENOMEM, 0};
static const int e_startup[] = {ENOMEM, ENETDOWN, 0};
/* Every submitting call of aio.h, -EBUSY excepted: the test never submits
 * a request in flight, so -EBUSY would be the library's mistake. */
static const int e_aio_submit[] = {EBADF, EFAULT, EOPNOTSUPP, EINVAL, ENOMEM, ENETDOWN, 0};
static const int e_aio_cancel[] = {EALREADY, EINVAL, 0};
/* Callbacks: what the blocking call returns, -EBADF (closed), -ECANCELED. */
static const int e_cb_recv[] = {EBADF,      EINVAL, ENOTCONN,  ECONNRESET,        ECONNABORTED,
                                EOPNOTSUPP, ENOMEM, ECANCELED, BACKGROUND_ERRORS, 0};
static const int e_cb_send[] = {EBADF, EINVAL, ENOTCONN,  ECONNRESET, ECONNABORTED,
                                EPIPE, ENOMEM, ECANCELED, EOPNOTSUPP, BACKGROUND_ERRORS,
                                0};
static const int e_cb_accept[] = {EBADF,        EINVAL,    ENOMEM,     EMFILE,
                                  ECONNABORTED, ECANCELED, EOPNOTSUPP, 0};
static const int e_cb_connect[] = {
    EBADF,      EFAULT,       EINVAL,       EAFNOSUPPORT,  EISCONN, ECONNREFUSED,
    ETIMEDOUT,  ENETUNREACH,  EHOSTUNREACH, EADDRNOTAVAIL, ENOMEM,  EALREADY,
    ECONNRESET, ECONNABORTED, ECANCELED,    EOPNOTSUPP,    0};
static const int e_cb_recvfrom[] = {EBADF, EINVAL, EMSGSIZE, EOPNOTSUPP, ENOMEM, ECANCELED, 0};
static const int e_cb_sendto[] = {EBADF,      EINVAL, EAFNOSUPPORT, EMSGSIZE,
                                  EOPNOTSUPP, ENOMEM, ECANCELED,    0};
static const int e_cb_close[] = {EBADF, 0};
static const int e_cb_shutdown[] = {EBADF,        EINVAL,    ENOTCONN,  ECONNRESET,
                                    ECONNABORTED, EPIPE,     ETIMEDOUT, EOPNOTSUPP,
                                    ENOMEM,       ECANCELED, 0};
static const int e_listen_events[] = {EBADF,      EFAULT, EOPNOTSUPP, EINVAL,
                                      EADDRINUSE, ENOMEM, ENETDOWN,   0};
static const int e_recv_events[] = {EBADF,    EFAULT, EOPNOTSUPP, EINVAL,
                                    ENOTCONN, ENOMEM, ENETDOWN,   0};
static const int e_events_pause[] = {EBADF, EINVAL, 0};
/* The disconnect callback's err (events.h). */
static const int e_disconnect[] = {ECONNRESET, ECONNABORTED, EPIPE, ETIMEDOUT, ENOMEM, 0};

static const struct {
    const char *name;
    const int *errors;
} calls[C_CALLS] = {
    [C_SOCKET] = {"ks_socket", e_socket},
    [C_BIND] = {"ks_bind", e_bind},
    [C_LISTEN] = {"ks_listen", e_listen},
    [C_ACCEPT] = {"ks_accept", e_accept},
    [C_CONNECT] = {"ks_connect", e_connect},
    [C_SEND] = {"ks_send", e_send},
    [C_RECV] = {"ks_recv", e_recv},
    [C_SENDTO] = {"ks_sendto", e_sendto},
    [C_RECVFROM] = {"ks_recvfrom", e_recvfrom},
    [C_CLOSE] = {"ks_close", e_close},
    [C_SHUTDOWN] = {"ks_shutdown", e_shutdown},
    [C_SETSOCKOPT] = {"ks_setsockopt", e_sockopt},
    [C_GETSOCKOPT] = {"ks_getsockopt", e_sockopt},
    [C_GETSOCKNAME] = {"ks_getsockname", e_sockname},
    [C_GETPEERNAME] = {"ks_getpeername", e_sockname},
    [C_IOCTL] = {"ks_ioctl", e_ioctl},
    [C_POLL] = {"ks_poll", e_poll},
    [C_STARTUP] = {"ks_startup", e_startup},
    [C_AIO_SUBMIT] = {"ks_*_async", e_aio_submit},
    [C_AIO_CANCEL] = {"ks_aio_cancel", e_aio_cancel},
    [CB_RECV] = {"ks_recv_async callback", e_cb_recv},
    [CB_SEND] = {"ks_send_async callback", e_cb_send},
    [CB_ACCEPT] = {"ks_accept_async callback", e_cb_accept},
    [CB_CONNECT] = {"ks_connect_async callback", e_cb_connect},
    [CB_RECVFROM] = {"ks_recvfrom_async callback", e_cb_recvfrom},
    [CB_SENDTO] = {"ks_sendto_async callback", e_cb_sendto},
    [CB_CLOSE] = {"ks_close_async callback", e_cb_close},
    [CB_SHUTDOWN] = {"ks_shutdown_async callback", e_cb_shutdown},
    [C_LISTEN_EVENTS] = {"ks_listen_events", e_listen_events},
    [C_RECV_EVENTS] = {"ks_recv_events", e_recv_events},
    [C_EVENTS_PAUSE] = {"ks_events_pause/resume", e_events_pause},
    [C_EVENTS_NATIVE] = {"ks_events_native", e_events_pause},
    [EV_DISCONNECT] = {"disconnect callback", e_disconnect},
};

static volatile LONG reported[C_CALLS][1000];

const char *ch_call_name(enum ch_call call)
{
    return calls[call].name;
}

int ch_check(enum ch_call call, long long r, const char *args_fmt, ...)
{
    if (r >= 0 || r == -ENETDOWN)
        return 1;
    for (const int *e = calls[call].errors; *e != 0; e++)
        if (r == -(long long)*e)
            return 1;
    /* One report per call and errno (the count goes on): a frequent one
     * would hide the others. */
    long long e = -r < 1000 ? -r : 999;
    if (InterlockedIncrement(&reported[call][e]) > 1) {
        InterlockedIncrement(&ch_failures);
        return 0;
    }
    char args[256];
    va_list ap;
    va_start(ap, args_fmt);
    vsnprintf(args, sizeof(args), args_fmt, ap);
    va_end(ap);
    ch_fail("%s(%s) returned %lld (%s), which its header does not list (reported once)",
            calls[call].name, args, r, ks_strerror((int)r));
    return 0;
}
