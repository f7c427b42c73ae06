/*
 * instr.h - the operations make bench-instr measures, implemented twice:
 * on wsksock (impl_ks.c) and directly on WSK with the cheapest correct IRP
 * handling (impl_raw.c). The harness (instr_main.c) drives either one, so
 * instr_ks and instr_raw run exactly the same loops on the same shim and
 * provider, and the difference of their instruction counts is the cost of
 * the library itself.
 *
 * All sockets are IPv4 TCP on 127.0.0.1. A socket handle is an opaque
 * non-zero integer (a wsksock descriptor, or the raw driver's context).
 */
#ifndef INSTR_H
#define INSTR_H

#include <ntddk.h>

#include <stdint.h>

typedef intptr_t instr_sock;

/* "wsksock" or "raw". */
extern const char instr_impl_name[];
/* Pool tags the implementation allocates with (for the memory report). */
extern const ULONG instr_impl_tags[];
extern const int instr_impl_ntags;

/* Registers with WSK (ks_startup / WskRegister + NPI). 0 on success. */
int instr_startup(void);
/* Undoes instr_startup; every socket must be closed. */
void instr_cleanup(void);

/* Listening socket on 127.0.0.1:*port (a free port is chosen); 0 on failure. */
instr_sock instr_listen(int *port);
/* New socket connected to 127.0.0.1:port; 0 on failure. */
instr_sock instr_connect(int port);
/* Next connection of a listening socket; 0 on failure. */
instr_sock instr_accept(instr_sock listener);
/* Sends len bytes (all of them): len, or a negative value. */
long instr_send(instr_sock s, const void *buf, ULONG len);
/* Receives up to len bytes: the count, 0 at end of stream, or negative. */
long instr_recv(instr_sock s, void *buf, ULONG len);
/* Orderly close (graceful disconnect of a connection, then close). */
void instr_close(instr_sock s);

#endif /* INSTR_H */
