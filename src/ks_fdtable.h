/*
 * ks_fdtable.h - the descriptor table: int descriptors to socket objects.
 *
 * Descriptor values come from one counter that runs through 1..2^31-1 and
 * survives ks_cleanup/ks_startup; the slot of a descriptor is its value
 * modulo the table's capacity (a power of two). A new descriptor takes the
 * next counter value whose slot is free, so a value comes back only after
 * the counter went all the way round. The table is kept at most half full,
 * so the counter passes each slot once per round and skips at most the
 * half that is taken: a closed descriptor's value is given out again only
 * after at least 2^30 - KS_FD_MAX_OPEN newer descriptors (see wsksock.h).
 * Growing doubles the capacity; values distinct modulo N stay distinct
 * modulo 2N, so no entry ever moves onto another.
 *
 * Concurrency: every field is read and written under the table's spin lock,
 * which is a zero-initialised static and never re-initialised, so lookups
 * racing ks_startup/ks_cleanup always take a valid lock and see either a
 * live table or none (capacity 0). Lookups take a socket reference under
 * the lock.
 */
#ifndef KS_FDTABLE_H
#define KS_FDTABLE_H

#include "ks_socket.h"

/* Most descriptors open at once (the table holds twice as many slots). */
#define KS_FD_MAX_OPEN (1 << 20)

/* Opens the table (inserts work again). */
void ks__fdtable_init(void);
/* Frees the table's memory; it must be empty (lookups then find nothing). */
void ks__fdtable_destroy(void);

/* Marks the table closed (inserts fail with -ENETDOWN) or open again. */
void ks__fdtable_set_open(BOOLEAN open);

/* Inserts s (taking a reference for the table); returns its descriptor, or
 * -EMFILE, -ENOMEM, -ENETDOWN. */
_Must_inspect_result_ int ks__fd_insert(_Inout_ ks_sock *s);
/* Returns the socket with a reference, or NULL. */
_Must_inspect_result_ _Ret_maybenull_ ks_sock *ks__fd_get(int fd);
/* Removes fd; returns the table's reference to its socket, or NULL. */
_Must_inspect_result_ _Ret_maybenull_ ks_sock *ks__fd_remove(int fd);
/* Removes any one entry (for cleanup); NULL when the table is empty. */
_Must_inspect_result_ _Ret_maybenull_ ks_sock *ks__fd_remove_any(void);

#endif /* KS_FDTABLE_H */
