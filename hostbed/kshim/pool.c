/*
 * pool.c - ExAllocatePoolWithTag / ExAllocatePool2 / ExFreePoolWithTag over
 * malloc. Each block has a header (magic, tag, size, pool type, list links)
 * and is on the live list and in a hash of live addresses, so that a free
 * of something that is not a live block (double free, foreign pointer) is
 * recognised without reading memory that is not ours. Live counts and bytes
 * are kept per tag for kshim_check_leaks and kshim_pool_bytes_by_tag.
 *
 * Fault injection: every allocation asks kshim_fault("pool") and
 * kshim_fault("pool.<tag>") (the tag's four characters in memory order, as
 * pool dumps show them, '.' for unprintable ones); both are counted and the
 * allocation fails (NULL) if either fires, whichever API made it.
 *
 * Each block records how it was asked for (enum kshim_pool_kind: API and
 * pool type), and each tag counts its allocations per kind, so that tests
 * can tell ExAllocatePool2 from ExAllocatePoolWithTag and NX pool from
 * executable pool. The system played (system.c) is checked: NonPagedPoolNx
 * before Windows 8, or ExAllocatePool2 where it is not exported, is a
 * violation (a bugcheck, or a driver that does not load, on Windows).
 */
#include "kshim_internal.h"

#include <stdio.h>
#include <stdlib.h>

struct pool_header {
    ULONG magic;
    ULONG tag;
    SIZE_T size;
    int paged;
    int kind; /* enum kshim_pool_kind */
    struct pool_header *hash_next;
    LIST_ENTRY links;
} __attribute__((aligned(16))); /* the block after it is 16-byte aligned, as Windows' */

struct tag_entry {
    ULONG tag;
    LONG count;
    SIZE_T bytes;
    SIZE_T bytes_nonpaged;
    LONG kinds[KSHIM_POOL_KINDS]; /* allocations per kind (kshim_pool_kinds_reset) */
    char site[16];                /* "pool.XXXX": the interned fault site of this tag */
};

#define MAX_TAGS 512
#define HASH_BUCKETS 65536

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_ENTRY live = {&live, &live};
static struct pool_header *hash[HASH_BUCKETS];
static struct tag_entry tags[MAX_TAGS];
static int ntags;
static BOOLEAN strict_tags;

/* 'None': the tag of untagged ExAllocatePool blocks. */
#define TAG_NONE ((ULONG)'N' | ((ULONG)'o' << 8) | ((ULONG)'n' << 16) | ((ULONG)'e' << 24))

static size_t hash_of(const void *p)
{
    return (size_t)(((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ull >> 48) % HASH_BUCKETS;
}

static void tag_chars(ULONG tag, char out[5])
{
    for (int i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)(tag >> (8 * i));
        char printable = '.';
        if (c >= 0x20 && c < 0x7f)
            printable = (char)c;
        out[i] = printable;
    }
    out[4] = '\0';
}

/* The tag's entry, created on first use (pool_lock held). */
static struct tag_entry *tag_entry_of(ULONG tag)
{
    char chars[5];
    for (int i = 0; i < ntags; i++)
        if (tags[i].tag == tag)
            return &tags[i];
    if (ntags == MAX_TAGS) {
        fprintf(stderr, "kshim: more than %d pool tags\n", MAX_TAGS);
        abort();
    }
    tag_chars(tag, chars);
    tags[ntags].tag = tag;
    snprintf(tags[ntags].site, sizeof(tags[ntags].site), "pool.%s", chars);
    return &tags[ntags++];
}

void kshim_strict_tags(BOOLEAN on)
{
    strict_tags = on;
}

static PVOID pool_alloc(int paged, enum kshim_pool_kind kind, SIZE_T size, ULONG tag, BOOLEAN zero,
                        const char *who)
{
    struct pool_header *h;
    struct tag_entry *t;
    const char *site;
    BOOLEAN fail;
    KIRQL irql = KeGetCurrentIrql();

    /* ExAllocatePoolWithTag / ExAllocatePool2 (wdm.h): a zero tag is not
     * allowed; paged pool only at IRQL <= APC_LEVEL, nonpaged at <= DISPATCH_LEVEL. */
    if (tag == 0)
        kshim_violation("%s with the tag 0", who);
    if (paged && irql > APC_LEVEL)
        kshim_violation("%s: paged pool at IRQL %u > APC_LEVEL", who, irql);
    if (irql > DISPATCH_LEVEL)
        kshim_violation("%s at IRQL %u > DISPATCH_LEVEL", who, irql);

    pthread_mutex_lock(&pool_lock);
    site = tag_entry_of(tag)->site; /* stable: entries are never removed */
    pthread_mutex_unlock(&pool_lock);
    fail = kshim_fault("pool");
    if (kshim_fault(site))
        fail = TRUE;
    if (fail)
        return NULL;
    if (size > ((SIZE_T)1 << 40))
        return NULL;

    h = malloc(sizeof(*h) + (size ? size : 1));
    if (h == NULL)
        return NULL;
    h->magic = KSHIM_MAGIC_POOL;
    h->tag = tag;
    h->size = size;
    h->paged = paged;
    h->kind = (int)kind;
    memset(h + 1, zero ? 0 : 0xcd, size);

    pthread_mutex_lock(&pool_lock);
    InsertTailList(&live, &h->links);
    size_t b = hash_of(h + 1);
    h->hash_next = hash[b];
    hash[b] = h;
    t = tag_entry_of(tag);
    t->count++;
    t->kinds[kind]++;
    t->bytes += size;
    if (!paged)
        t->bytes_nonpaged += size;
    pthread_mutex_unlock(&pool_lock);
    return h + 1;
}

/* The kind of an ExAllocatePool / ExAllocatePoolWithTag pool type; NX pool
 * only from Windows 8 on (before, BAD_POOL_CALLER). */
static enum kshim_pool_kind kind_of_type(POOL_TYPE type, const char *who)
{
    if (((int)type & 1) != 0)
        return KSHIM_POOL_WITH_TAG_PAGED;
    if (((int)type & (int)NonPagedPoolNx) == 0)
        return KSHIM_POOL_WITH_TAG_EXECUTE;
    if (!kshim_windows_at_least(6, 2, 0))
        kshim_violation("%s(NonPagedPoolNx...) on a system before Windows 8, which has no NX pool",
                        who);
    return KSHIM_POOL_WITH_TAG_NX;
}

PVOID ExAllocatePoolWithTag(POOL_TYPE type, SIZE_T size, ULONG tag)
{
    /* Contents are not initialised: 0xcd makes reads of them visible. */
    enum kshim_pool_kind kind = kind_of_type(type, "ExAllocatePoolWithTag");
    return pool_alloc(kind == KSHIM_POOL_WITH_TAG_PAGED, kind, size, tag, FALSE,
                      "ExAllocatePoolWithTag");
}

PVOID ExAllocatePool2(POOL_FLAGS flags, SIZE_T size, ULONG tag)
{
    POOL_FLAGS kind = flags & (POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED);
    /* ExAllocatePool2 (wdm.h): exactly one pool type flag; zeroed unless
     * POOL_FLAG_UNINITIALIZED. */
    if (kind != POOL_FLAG_NON_PAGED && kind != POOL_FLAG_NON_PAGED_EXECUTE &&
        kind != POOL_FLAG_PAGED)
        kshim_violation("ExAllocatePool2: flags 0x%llx name no single pool type",
                        (unsigned long long)flags);
    if (!kshim_pool2_exported())
        kshim_violation("ExAllocatePool2 called, but the system played does not export it "
                        "(kshim_set_windows_version, kshim_set_pool2_exported)");
    return pool_alloc(kind == POOL_FLAG_PAGED,
                      kind == POOL_FLAG_PAGED               ? KSHIM_POOL_POOL2_PAGED
                      : kind == POOL_FLAG_NON_PAGED_EXECUTE ? KSHIM_POOL_POOL2_EXECUTE
                                                            : KSHIM_POOL_POOL2_NON_PAGED,
                      size, tag, (flags & POOL_FLAG_UNINITIALIZED) == 0, "ExAllocatePool2");
}

PVOID ExAllocatePool(POOL_TYPE type, SIZE_T size)
{
    if (strict_tags)
        kshim_violation("ExAllocatePool: untagged allocation (kshim_strict_tags)");
    enum kshim_pool_kind kind = kind_of_type(type, "ExAllocatePool");
    return pool_alloc(kind == KSHIM_POOL_WITH_TAG_PAGED, KSHIM_POOL_UNTAGGED, size, TAG_NONE, FALSE,
                      "ExAllocatePool");
}

static void pool_free(PVOID p, ULONG tag, BOOLEAN check_tag, const char *who)
{
    struct pool_header *h, **link;
    struct tag_entry *t;
    char want[5], have[5];

    /* ExFreePoolWithTag / ExFreePool (wdm.h): P must be a block from the pool;
     * NULL bugchecks (BAD_POOL_CALLER). */
    if (p == NULL)
        kshim_violation("%s(NULL)", who);
    if (KeGetCurrentIrql() > DISPATCH_LEVEL)
        kshim_violation("%s at IRQL %u > DISPATCH_LEVEL", who, KeGetCurrentIrql());
    pthread_mutex_lock(&pool_lock);
    for (link = &hash[hash_of(p)]; *link != NULL && (PVOID)(*link + 1) != p;
         link = &(*link)->hash_next)
        ;
    h = *link;
    if (h == NULL)
        kshim_violation("%s(%p): not a live pool block (double free or foreign pointer)", who, p);
    if (h->magic != KSHIM_MAGIC_POOL)
        kshim_violation("%s(%p): pool header overwritten (magic 0x%08x)", who, p, h->magic);
    if (check_tag && h->tag != tag) {
        tag_chars(tag, want);
        tag_chars(h->tag, have);
        kshim_violation("%s(%p, '%s'): the block was allocated with the tag '%s'", who, p, want,
                        have);
    }
    *link = h->hash_next;
    RemoveEntryList(&h->links);
    t = tag_entry_of(h->tag);
    t->count--;
    t->bytes -= h->size;
    if (!h->paged)
        t->bytes_nonpaged -= h->size;
    pthread_mutex_unlock(&pool_lock);
    kshim_lockorder_forget(p, h->size);
    h->magic = KSHIM_MAGIC_DEAD;
    free(h);
}

void ExFreePoolWithTag(PVOID p, ULONG tag)
{
    pool_free(p, tag, TRUE, "ExFreePoolWithTag");
}

void ExFreePool(PVOID p)
{
    pool_free(p, 0, FALSE, "ExFreePool");
}

LONG kshim_pool_kind_count(ULONG tag, enum kshim_pool_kind kind)
{
    LONG n = 0;
    if ((int)kind < 0 || kind >= KSHIM_POOL_KINDS)
        return 0;
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < ntags; i++)
        if (tag == 0 || tags[i].tag == tag)
            n += tags[i].kinds[kind];
    pthread_mutex_unlock(&pool_lock);
    return n;
}

void kshim_pool_kinds_reset(void)
{
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < ntags; i++)
        memset(tags[i].kinds, 0, sizeof(tags[i].kinds));
    pthread_mutex_unlock(&pool_lock);
}

int kshim_pool_kind_of(const void *p)
{
    int kind = -1;
    pthread_mutex_lock(&pool_lock);
    for (struct pool_header *h = hash[hash_of(p)]; h != NULL; h = h->hash_next)
        if ((const void *)(h + 1) == p) {
            kind = h->kind;
            break;
        }
    pthread_mutex_unlock(&pool_lock);
    return kind;
}

SIZE_T kshim_pool_bytes_by_tag(ULONG tag)
{
    SIZE_T bytes = 0;
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < ntags; i++)
        if (tags[i].tag == tag)
            bytes = tags[i].bytes_nonpaged;
    pthread_mutex_unlock(&pool_lock);
    return bytes;
}

void kshim_pool_stats(struct kshim_stats *stats)
{
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < ntags; i++) {
        stats->pool_allocations += tags[i].count;
        stats->pool_bytes += tags[i].bytes;
        stats->pool_bytes_nonpaged += tags[i].bytes_nonpaged;
    }
    pthread_mutex_unlock(&pool_lock);
}

int kshim_pool_report(const char *when)
{
    int lines = 0;
    char chars[5];
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < ntags; i++) {
        if (tags[i].count == 0)
            continue;
        tag_chars(tags[i].tag, chars);
        fprintf(stderr, "kshim: LEAK %s: pool tag '%s': %d allocations, %zu bytes\n", when, chars,
                (int)tags[i].count, tags[i].bytes);
        lines++;
    }
    pthread_mutex_unlock(&pool_lock);
    return lines;
}
