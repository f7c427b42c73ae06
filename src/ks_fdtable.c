/* ks_fdtable.c - generation-checked, growable descriptor table. */
#include "ks_fdtable.h"

#define KS_FD_GEN_MASK 0x3ff /* 10 generation bits: descriptors stay < 2^30 */
#define KS_FD_INITIAL_SLOTS 64

typedef struct ks_slot {
    ks_sock *sock;   /* NULL when free */
    USHORT gen;      /* bumped each time the slot is freed */
    ULONG next_free; /* next free slot index + 1, 0 = end (when free) */
} ks_slot;

static struct {
    KSPIN_LOCK lock;
    ks_slot *slots;
    ULONG capacity;
    ULONG free_head; /* free slot index + 1, 0 = none */
    ULONG used;
    BOOLEAN open;
} g_fd;

void ks_fdtable_init(void)
{
    KeInitializeSpinLock(&g_fd.lock);
    g_fd.slots = NULL;
    g_fd.capacity = 0;
    g_fd.free_head = 0;
    g_fd.used = 0;
    g_fd.open = TRUE;
}

void ks_fdtable_destroy(void)
{
    ks_free(g_fd.slots, KS_TAG_TABLE);
    g_fd.slots = NULL;
    g_fd.capacity = 0;
    g_fd.free_head = 0;
}

void ks_fdtable_set_open(BOOLEAN open)
{
    KIRQL irql;
    KeAcquireSpinLock(&g_fd.lock, &irql);
    g_fd.open = open;
    KeReleaseSpinLock(&g_fd.lock, irql);
}

static int encode(ULONG index, USHORT gen)
{
    return (int)(((ULONG)(gen & KS_FD_GEN_MASK) << KS_FD_INDEX_BITS) | (index + 1));
}

/* Slot of a descriptor, or NULL if it does not name a live entry (lock held). */
static ks_slot *lookup(int fd)
{
    if (fd <= 0)
        return NULL;
    ULONG index = ((ULONG)fd & KS_FD_MAX_SLOTS) - 1;
    USHORT gen = (USHORT)(((ULONG)fd >> KS_FD_INDEX_BITS) & KS_FD_GEN_MASK);
    if (((ULONG)fd & KS_FD_MAX_SLOTS) == 0 || ((ULONG)fd >> (KS_FD_INDEX_BITS + 10)) != 0)
        return NULL;
    if (index >= g_fd.capacity)
        return NULL;
    ks_slot *slot = &g_fd.slots[index];
    if (slot->sock == NULL || (slot->gen & KS_FD_GEN_MASK) != gen)
        return NULL;
    return slot;
}

/* Grows the table (called without the lock; the new array is swapped in). */
static int grow(ULONG seen_capacity)
{
    ULONG new_capacity = seen_capacity == 0 ? KS_FD_INITIAL_SLOTS : seen_capacity * 2;
    if (new_capacity > KS_FD_MAX_SLOTS)
        new_capacity = KS_FD_MAX_SLOTS;
    if (new_capacity <= seen_capacity)
        return -EMFILE;
    ks_slot *slots = (ks_slot *)ks_alloc(sizeof(ks_slot) * new_capacity, KS_TAG_TABLE);
    if (slots == NULL)
        return -ENOMEM;

    KIRQL irql;
    KeAcquireSpinLock(&g_fd.lock, &irql);
    if (g_fd.capacity != seen_capacity) {
        /* Another thread grew it meanwhile. */
        KeReleaseSpinLock(&g_fd.lock, irql);
        ks_free(slots, KS_TAG_TABLE);
        return 0;
    }
    ks_slot *old = g_fd.slots;
    if (old != NULL)
        RtlCopyMemory(slots, old, sizeof(ks_slot) * seen_capacity);
    /* Chain the new slots in front of the free list, lowest index first. */
    for (ULONG i = new_capacity; i > seen_capacity; i--) {
        slots[i - 1].next_free = g_fd.free_head;
        g_fd.free_head = i;
    }
    g_fd.slots = slots;
    g_fd.capacity = new_capacity;
    KeReleaseSpinLock(&g_fd.lock, irql);
    ks_free(old, KS_TAG_TABLE);
    return 0;
}

int ks_fd_insert(ks_sock *s)
{
    for (;;) {
        KIRQL irql;
        KeAcquireSpinLock(&g_fd.lock, &irql);
        if (!g_fd.open) {
            KeReleaseSpinLock(&g_fd.lock, irql);
            return -ENETDOWN;
        }
        if (g_fd.free_head != 0) {
            ULONG index = g_fd.free_head - 1;
            ks_slot *slot = &g_fd.slots[index];
            g_fd.free_head = slot->next_free;
            slot->sock = s;
            g_fd.used++;
            ks_sock_get(s);
            s->fd = encode(index, slot->gen);
            KeReleaseSpinLock(&g_fd.lock, irql);
            return s->fd;
        }
        ULONG capacity = g_fd.capacity;
        KeReleaseSpinLock(&g_fd.lock, irql);
        int err = grow(capacity);
        if (err < 0)
            return err;
    }
}

ks_sock *ks_fd_get(int fd)
{
    KIRQL irql;
    KeAcquireSpinLock(&g_fd.lock, &irql);
    ks_slot *slot = lookup(fd);
    ks_sock *s = slot != NULL ? slot->sock : NULL;
    if (s != NULL)
        ks_sock_get(s);
    KeReleaseSpinLock(&g_fd.lock, irql);
    return s;
}

/* Frees a slot (lock held) and returns the table's reference. */
static ks_sock *release_slot(ULONG index)
{
    ks_slot *slot = &g_fd.slots[index];
    ks_sock *s = slot->sock;
    slot->sock = NULL;
    slot->gen = (USHORT)((slot->gen + 1) & KS_FD_GEN_MASK);
    slot->next_free = g_fd.free_head;
    g_fd.free_head = index + 1;
    g_fd.used--;
    return s;
}

ks_sock *ks_fd_remove(int fd)
{
    KIRQL irql;
    KeAcquireSpinLock(&g_fd.lock, &irql);
    ks_slot *slot = lookup(fd);
    ks_sock *s = slot != NULL ? release_slot((ULONG)(slot - g_fd.slots)) : NULL;
    KeReleaseSpinLock(&g_fd.lock, irql);
    return s;
}

ks_sock *ks_fd_remove_any(void)
{
    ks_sock *s = NULL;
    KIRQL irql;
    KeAcquireSpinLock(&g_fd.lock, &irql);
    for (ULONG i = 0; i < g_fd.capacity && g_fd.used > 0; i++) {
        if (g_fd.slots[i].sock != NULL) {
            s = release_slot(i);
            break;
        }
    }
    KeReleaseSpinLock(&g_fd.lock, irql);
    return s;
}
