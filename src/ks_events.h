/*
 * ks_events.h - the socket's side of event-driven mode (ks_events.c).
 */
#ifndef KS_EVENTS_H
#define KS_EVENTS_H

#include "ks_socket.h"

/* ks_sock_close of a socket in event mode, before anything else (s->lock
 * held, s->closing not yet set): TRUE if the close must be left to the
 * thread running one of its callbacks (it runs ks_sock_close again when
 * the callback returns). Stops callbacks. */
_Must_inspect_result_ _Requires_lock_held_(s->lock) BOOLEAN
    ks_events_close_begin_locked(_Inout_ ks_sock *s);
/* Gives every retained indication back (WskRelease), before the provider's
 * close. PASSIVE_LEVEL. */
_IRQL_requires_max_(PASSIVE_LEVEL) void ks_events_release(_Inout_ ks_sock *s);
/* Frees the event state (last reference of the socket). */
void ks_events_free(_Inout_ ks_sock *s);

/* The connection dispatch table every connection socket of the library is
 * created (or accepted) with, its context being the ks_sock: event
 * callbacks stay disabled unless ks_recv_events or ks_listen_events
 * enables them (WSK calls none while disabled). */
const WSK_CLIENT_CONNECTION_DISPATCH *ks_events_connection_dispatch(void);

#endif /* KS_EVENTS_H */
