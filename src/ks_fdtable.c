/* ks_fdtable.c - descriptor table: counter-valued descriptors, hashed slots
 * (see ks_fdtable.h for the reuse bound and the locking rule). */
#include "ks_fdtable.h"

#define KS_FD_INITIAL_SLOTS 64
#define KS_FD_MAX_SLOTS (2 * KS_FD_MAX_OPEN)
#define KS_FD_VALUE_MAX 0x7fffffff /* descriptors are positive ints */

typedef struct ks_slot {
    int fd;        /* the descriptor held, 0 when free */
    ks_sock *sock; /* NULL when free */
} ks_slot;

/* All zero at load: a valid spin lock, an empty closed table. Only the
 * fields change at ks_startup/ks_cleanup, never the lock. */
static struct {
    KSPIN_LOCK lock;
    ks_slot *slots; /* (lock) capacity entries, or NULL */
    ULONG capacity; /* (lock) 0 or a power of two */
    ULONG used;     /* (lock) */
    ULONG last;     /* (lock) last value given out; survives cleanup */
    BOOLEAN open;   /* (lock) inserts allowed */
} g_fd;

void ks__fdtable_init(void)
{
    ks__fdtable_set_open(TRUE);
}

void ks__fdtable_destroy(void)
{
    KIRQL irql;
    KeAcquireSpinLock(&g_fd.lock, &irql);
    KS_ASSERT(g_fd.used == 0 && !g_fd.open); /* emptied by ks_cleanup, closed to inserts */
    ks_slot *slots = g_fd.slots;
    g_fd.slots = NULL;
    g_fd.capacity = 0;
    g_fd.used = 0;
    g_fd.open = FALSE;
    KeReleaseSpinLock(&g_fd.lock, irql);
    ks__free(slots, KS_TAG_TABLE);
}

void ks__fdtable_set_open(BOOLEAN open)
{
    KIRQL irql;
    KeAcquireSpinLock(&g_fd.lock, &irql);
    g_fd.open = open;
    KeReleaseSpinLock(&g_fd.lock, irql);
}

/* Slot of a descriptor, or NULL if it does not name a live entry (lock held). */
static ks_slot *lookup(int fd)
{
    KS_ASSERT_SPIN_HELD(&g_fd.lock);
    if (fd <= 0 || g_fd.capacity == 0)
        return NULL;
    ks_slot *slot = &g_fd.slots[(ULONG)fd & (g_fd.capacity - 1)];
    return slot->fd == fd ? slot : NULL;
}

/* Grows the table to twice seen_capacity (called without the lock; the new
 * array is swapped in). 0 when it grew or someone else changed it. */
static int grow(ULONG seen_capacity)
{
    ULONG new_capacity = seen_capacity == 0 ? KS_FD_INITIAL_SLOTS : seen_capacity * 2;
    if (new_capacity > KS_FD_MAX_SLOTS)
        return -EMFILE;
    ks_slot *slots = (ks_slot *)ks__alloc(sizeof(ks_slot) * new_capacity, KS_TAG_TABLE);
    if (slots == NULL)
        return -ENOMEM;

    KIRQL irql;
    KeAcquireSpinLock(&g_fd.lock, &irql);
    ks_slot *old = NULL;
    if (g_fd.capacity == seen_capacity && g_fd.open) {
        old = g_fd.slots;
        RtlZeroMemory(slots, sizeof(ks_slot) * new_capacity);
        for (ULONG i = 0; i < seen_capacity; i++) {
            if (old[i].sock != NULL)
                slots[(ULONG)old[i].fd & (new_capacity - 1)] = old[i];
        }
        g_fd.slots = slots;
        g_fd.capacity = new_capacity;
        slots = NULL;
    }
    KeReleaseSpinLock(&g_fd.lock, irql);
    ks__free(slots, KS_TAG_TABLE); /* another thread grew it, or cleanup ran */
    ks__free(old, KS_TAG_TABLE);
    return 0;
}

int ks__fd_insert(ks_sock *s)
{
    KS_ASSERT(s->refs > 0 && s->fd == 0); /* inserted once */
    for (;;) {
        KIRQL irql;
        KeAcquireSpinLock(&g_fd.lock, &irql);
        if (!g_fd.open) {
            KeReleaseSpinLock(&g_fd.lock, irql);
            return -ENETDOWN;
        }
        ULONG capacity = g_fd.capacity;
        KS_ASSERT((capacity & (capacity - 1)) == 0 && 2 * g_fd.used <= capacity);
        if (2 * (g_fd.used + 1) <= capacity) {
            /* At most half full: a free slot is found within capacity tries. */
            ULONG v = g_fd.last;
            ks_slot *slot;
            do {
                v = v >= KS_FD_VALUE_MAX ? 1 : v + 1;
                slot = &g_fd.slots[v & (capacity - 1)];
            } while (slot->sock != NULL);
            g_fd.last = v;
            slot->fd = (int)v;
            slot->sock = s;
            g_fd.used++;
            ks__sock_get(s);
            s->fd = (int)v;
            KeReleaseSpinLock(&g_fd.lock, irql);
            return (int)v;
        }
        KeReleaseSpinLock(&g_fd.lock, irql);
        int err = grow(capacity);
        if (err < 0)
            return err;
    }
}

ks_sock *ks__fd_get(int fd)
{
    KIRQL irql;
    KeAcquireSpinLock(&g_fd.lock, &irql);
    ks_slot *slot = lookup(fd);
    ks_sock *s = slot != NULL ? slot->sock : NULL;
    if (s != NULL)
        ks__sock_get(s);
    KeReleaseSpinLock(&g_fd.lock, irql);
    return s;
}

/* Frees a slot (lock held) and returns the table's reference. */
static ks_sock *release_slot(ks_slot *slot)
{
    KS_ASSERT_SPIN_HELD(&g_fd.lock);
    KS_ASSERT(slot->sock != NULL && slot->fd > 0 && g_fd.used > 0);
    ks_sock *s = slot->sock;
    slot->sock = NULL;
    slot->fd = 0;
    g_fd.used--;
    return s;
}

ks_sock *ks__fd_remove(int fd)
{
    KIRQL irql;
    KeAcquireSpinLock(&g_fd.lock, &irql);
    ks_slot *slot = lookup(fd);
    ks_sock *s = slot != NULL ? release_slot(slot) : NULL;
    KeReleaseSpinLock(&g_fd.lock, irql);
    return s;
}

ks_sock *ks__fd_remove_any(void)
{
    ks_sock *s = NULL;
    KIRQL irql;
    KeAcquireSpinLock(&g_fd.lock, &irql);
    for (ULONG i = 0; i < g_fd.capacity && g_fd.used > 0; i++) {
        if (g_fd.slots[i].sock != NULL) {
            s = release_slot(&g_fd.slots[i]);
            break;
        }
    }
    KeReleaseSpinLock(&g_fd.lock, irql);
    return s;
}
