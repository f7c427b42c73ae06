/*
 * ks_fdtable.h - the descriptor table: int descriptors to socket objects.
 *
 * A descriptor encodes a slot index and the slot's generation, so a stale
 * descriptor (its slot freed, maybe reused) never matches: lookups return
 * NULL, the caller reports -EBADF. The table grows by doubling up to
 * KS_FD_MAX_SLOTS. Lookups take a reference under the table's spin lock.
 */
#ifndef KS_FDTABLE_H
#define KS_FDTABLE_H

#include "ks_socket.h"

#define KS_FD_INDEX_BITS 20
#define KS_FD_MAX_SLOTS ((1 << KS_FD_INDEX_BITS) - 1)

void ks_fdtable_init(void);
/* Frees the table; it must be empty. */
void ks_fdtable_destroy(void);

/* Marks the table closed (inserts fail with -ENETDOWN) or open again. */
void ks_fdtable_set_open(BOOLEAN open);

/* Inserts s (taking a reference for the table); returns its descriptor, or
 * -EMFILE, -ENOMEM, -ENETDOWN. */
int ks_fd_insert(ks_sock *s);
/* Returns the socket with a reference, or NULL. */
ks_sock *ks_fd_get(int fd);
/* Removes fd; returns the table's reference to its socket, or NULL. */
ks_sock *ks_fd_remove(int fd);
/* Removes any one entry (for cleanup); NULL when the table is empty. */
ks_sock *ks_fd_remove_any(void);

#endif /* KS_FDTABLE_H */
