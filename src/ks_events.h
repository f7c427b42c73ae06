/*
 * ks_events.h - event-driven mode (ks_events.c; its API: wsksock/events.h).
 */
#ifndef KS_EVENTS_H
#define KS_EVENTS_H

#include "ks_socket.h"

/* Registers the event layer's socket hooks (ks_socket.h: its connection
 * dispatch, the close's deferral to a running callback and release of
 * retained indications, the state's free). ks_startup. */
void ks__events_register(void);

#endif /* KS_EVENTS_H */
