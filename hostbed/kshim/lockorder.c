/*
 * lockorder.c - the lock order checker (docs/design.md, "Lock order").
 *
 * Every lock belongs to a class: a name given with kshim_lock_class (the
 * library's KS_LOCK_CLASS), else, for a spin lock, the site of its
 * KeInitializeSpinLock, else (a static spin lock never initialised, an
 * unnamed sleeping lock) the lock's own address. Each thread keeps the
 * locks it holds, with the sites that took them; the process keeps a graph
 * of classes with an edge A -> B for "B was waited for while A was held".
 * Before an acquisition that may wait (a spin lock, a ks_lock's
 * kshim_lock_wait) adds an edge A -> B, the graph is searched for a path
 * B -> ... -> A: one means two threads can each hold one end and wait for
 * the other, and the run ends as a violation naming the classes and the
 * sites of every edge of the cycle. Also violations: two locks of one class
 * nested (unless the outer one was marked with kshim_lock_nest, an ordered
 * nesting the library documents), a wait (KeWaitFor* with a timeout other
 * than zero, KeDelayExecutionThread, a sleeping lock) while holding a spin
 * lock, and a pool block freed while the freeing thread holds a lock in it.
 * A try-acquisition never waits: it adds no edge towards the lock taken.
 *
 * Cost: an edge already known is one bit test; the graph search runs only
 * for a new edge (a few dozen in a whole run). The map from a lock's address
 * to its class is a hash table under one mutex; a pool free forgets the
 * block's locks. KSHIM_LOCKORDER=0 in the environment turns the checker off.
 */
#include "kshim_internal.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* From the sanitizers' runtime when linked in (symbolizes with file:line). */
extern void __sanitizer_symbolize_pc(void *pc, const char *fmt, char *out_buf, size_t out_buf_size)
    __attribute__((weak));
extern void __sanitizer_symbolize_global(void *data_ptr, const char *fmt, char *out_buf,
                                         size_t out_buf_size) __attribute__((weak));

#define MAX_CLASSES 1024
#define ROW_WORDS (MAX_CLASSES / 64)
#define SITES 6 /* return addresses kept per acquisition */
#define MAP_BUCKETS 16384

enum class_kind { CLASS_NAMED, CLASS_INIT_SITE, CLASS_ADDRESS };

struct lock_class {
    const char *name; /* CLASS_NAMED */
    const void *key;  /* CLASS_INIT_SITE: the initialising pc; CLASS_ADDRESS: the lock */
    enum class_kind kind;
    BOOLEAN spin;
};

/* Class 0 is "unchecked": what comes after the table is full. */
static struct lock_class classes[MAX_CLASSES];
static volatile int nclasses = 1;
static uint64_t edge_bits[MAX_CLASSES][ROW_WORDS]; /* edge_bits[a] has b: a -> b */

struct edge {
    int from, to;
    void *held_at[SITES];  /* where the thread took `from` */
    void *taken_at[SITES]; /* where it then waited for `to` */
    struct edge *next;
};
static struct edge *edges;
static pthread_mutex_t graph_lock = PTHREAD_MUTEX_INITIALIZER; /* classes, edges */

/* ---- the map from a lock's address to its class ---- */

struct map_node {
    const void *lock;
    int cls;
    struct map_node *next;                /* bucket chain */
    struct map_node *all_prev, *all_next; /* every node, for kshim_lockorder_forget */
};
static struct map_node *buckets[MAP_BUCKETS];
static struct map_node *all_nodes;
static size_t map_count;
static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- each thread's held locks ---- */

struct held {
    const void *lock;
    int cls;
    BOOLEAN spin, outer;
    void *sites[SITES];
};
struct thread_state {
    int n, cap;
    struct held *h;
    uintptr_t stack_lo, stack_hi; /* for the frame walk */
};
static __thread struct thread_state *me;
static pthread_key_t thread_key;

static int enabled = -1; /* -1: not read yet */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void free_thread_state(void *p)
{
    struct thread_state *t = p;
    if (me == t)
        me = NULL;
    free(t->h);
    free(t);
}

static void dump_at_exit(void);

static void init_once(void)
{
    const char *e = getenv("KSHIM_LOCKORDER");
    pthread_key_create(&thread_key, free_thread_state);
    if (getenv("KSHIM_LOCKORDER_DUMP") != NULL)
        atexit(dump_at_exit);
    classes[0].kind = CLASS_NAMED;
    classes[0].name = "(unchecked: too many lock classes)";
    __atomic_store_n(&enabled, e == NULL || strcmp(e, "0") != 0, __ATOMIC_RELEASE);
}

static BOOLEAN on(void)
{
    int e = __atomic_load_n(&enabled, __ATOMIC_ACQUIRE);
    if (e < 0) {
        pthread_once(&once, init_once);
        e = enabled;
    }
    return e != 0;
}

static struct thread_state *thread_state(void)
{
    if (me == NULL) {
        pthread_attr_t attr;
        void *addr;
        size_t size;
        me = calloc(1, sizeof(*me));
        if (me == NULL)
            kshim_violation("lock order: out of memory");
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
                me->stack_lo = (uintptr_t)addr;
                me->stack_hi = (uintptr_t)addr + size;
            }
            pthread_attr_destroy(&attr);
        }
        pthread_setspecific(thread_key, me);
    }
    return me;
}

/* sites[0] = pc (the call into the shim), then the return addresses of the
 * frame chain from fp (the caller's frame), while it stays on this
 * thread's stack and goes up. Without frame pointers the chain ends early
 * or says little; it is only printed. */
static void capture(struct thread_state *t, void *sites[SITES], void *pc, void *fp)
{
    uintptr_t f = (uintptr_t)fp;
    int i;
    sites[0] = pc;
    for (i = 1; i < SITES; i++) {
        sites[i] = NULL;
        if (f == 0 || (f & 7) != 0 || f < t->stack_lo || f + 16 > t->stack_hi)
            continue;
        sites[i] = ((void **)f)[1];
        uintptr_t next = ((uintptr_t *)f)[0];
        f = next > f ? next : 0;
    }
}

/* ---- classes ---- */

static int new_class_locked(enum class_kind kind, const char *name, const void *key, BOOLEAN spin)
{
    static BOOLEAN warned;
    if (nclasses == MAX_CLASSES) {
        if (!warned) {
            warned = TRUE;
            fprintf(stderr,
                    "kshim: lock order: more than %d lock classes; the rest is "
                    "not checked\n",
                    MAX_CLASSES - 1);
        }
        return 0;
    }
    classes[nclasses].kind = kind;
    classes[nclasses].name = name;
    classes[nclasses].key = key;
    classes[nclasses].spin = spin;
    __atomic_store_n(&nclasses, nclasses + 1, __ATOMIC_RELEASE);
    return nclasses - 1;
}

static int find_class(enum class_kind kind, const char *name, const void *key, BOOLEAN spin)
{
    int i, c;
    pthread_mutex_lock(&graph_lock);
    for (i = 1; i < nclasses; i++) {
        if (classes[i].kind != kind)
            continue;
        if (kind == CLASS_NAMED ? (classes[i].name == name || strcmp(classes[i].name, name) == 0)
                                : classes[i].key == key) {
            pthread_mutex_unlock(&graph_lock);
            return i;
        }
    }
    c = new_class_locked(kind, name, key, spin);
    pthread_mutex_unlock(&graph_lock);
    return c;
}

static void symbolize(void *pc, char *out, size_t size)
{
    Dl_info info;
    if (pc == NULL) {
        snprintf(out, size, "?");
        return;
    }
    /* A return address: the call is the instruction before it. */
    if (__sanitizer_symbolize_pc != NULL) {
        __sanitizer_symbolize_pc((char *)pc - 1, "%f %s:%l", out, size);
        if (out[0] != '\0' && strstr(out, "<null>") == NULL)
            return;
    }
    if (dladdr(pc, &info) != 0 && info.dli_sname != NULL)
        snprintf(out, size, "%s+0x%lx", info.dli_sname,
                 (unsigned long)((char *)pc - (char *)info.dli_saddr));
    else
        snprintf(out, size, "%p", pc);
}

static void class_name(int c, char *out, size_t size)
{
    const struct lock_class *k = &classes[c];
    char where[256];
    switch (k->kind) {
    case CLASS_NAMED:
        snprintf(out, size, "\"%s\"", k->name);
        break;
    case CLASS_INIT_SITE:
        symbolize((void *)k->key, where, sizeof(where));
        snprintf(out, size, "spin lock initialised at %s", where);
        break;
    default:
        where[0] = '\0';
        if (__sanitizer_symbolize_global != NULL)
            __sanitizer_symbolize_global((void *)k->key, "%g", where, sizeof(where));
        snprintf(out, size, "%s lock %p%s%s", k->spin ? "spin" : "sleeping", k->key,
                 where[0] != '\0' ? " " : "", where);
        break;
    }
}

/* Appends to a message buffer. */
struct text {
    char buf[16384];
    size_t len;
};

__attribute__((format(printf, 2, 3))) static void add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    if (t->len >= sizeof(t->buf) - 1)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = t->len + (size_t)n < sizeof(t->buf) ? t->len + (size_t)n : sizeof(t->buf) - 1;
}

/* The sites, innermost first, less the frames of src/ks_lock.h's inline
 * helpers (the lock's own code, not its user). */
static void add_sites(struct text *t, void *const sites[SITES])
{
    char s[512];
    int i, n = 0;
    for (i = 0; i < SITES && sites[i] != NULL; i++) {
        symbolize(sites[i], s, sizeof(s));
        if (strstr(s, "ks_lock.h:") != NULL && i + 1 < SITES && sites[i + 1] != NULL)
            continue;
        add(t, "%s%s", n++ == 0 ? "" : " <- ", s);
    }
}

static void add_class(struct text *t, int c)
{
    char s[512];
    class_name(c, s, sizeof(s));
    add(t, "%s", s);
}

/* ---- the map ---- */

static size_t bucket_of(const void *lock)
{
    return (size_t)((((uintptr_t)lock >> 3) * 0x9e3779b97f4a7c15ull) >> 50) % MAP_BUCKETS;
}

static struct map_node *map_find_locked(const void *lock)
{
    struct map_node *n;
    for (n = buckets[bucket_of(lock)]; n != NULL && n->lock != lock; n = n->next)
        ;
    return n;
}

static void map_set(const void *lock, int cls)
{
    struct map_node *n;
    pthread_mutex_lock(&map_lock);
    n = map_find_locked(lock);
    if (n == NULL) {
        size_t b = bucket_of(lock);
        n = malloc(sizeof(*n));
        if (n == NULL)
            kshim_violation("lock order: out of memory");
        n->lock = lock;
        n->next = buckets[b];
        buckets[b] = n;
        n->all_prev = NULL;
        n->all_next = all_nodes;
        if (all_nodes != NULL)
            all_nodes->all_prev = n;
        all_nodes = n;
        map_count++;
    }
    n->cls = cls;
    pthread_mutex_unlock(&map_lock);
}

static void map_remove_locked(struct map_node *n)
{
    struct map_node **link;
    for (link = &buckets[bucket_of(n->lock)]; *link != n; link = &(*link)->next)
        ;
    *link = n->next;
    if (n->all_prev != NULL)
        n->all_prev->all_next = n->all_next;
    else
        all_nodes = n->all_next;
    if (n->all_next != NULL)
        n->all_next->all_prev = n->all_prev;
    map_count--;
    free(n);
}

/* The class of lock; an unknown one gets a class of its own. */
static int class_of(const void *lock, BOOLEAN spin)
{
    struct map_node *n;
    int c;
    pthread_mutex_lock(&map_lock);
    n = map_find_locked(lock);
    c = n != NULL ? n->cls : -1;
    pthread_mutex_unlock(&map_lock);
    if (c >= 0)
        return c;
    c = find_class(CLASS_ADDRESS, NULL, lock, spin);
    map_set(lock, c);
    return c;
}

void kshim_lockorder_forget(const void *p, size_t size)
{
    struct thread_state *t = me;
    const char *lo = p, *hi = (const char *)p + size;
    int i;
    if (!on())
        return;
    if (t != NULL) {
        for (i = 0; i < t->n; i++) {
            if ((const char *)t->h[i].lock >= lo && (const char *)t->h[i].lock < hi) {
                struct text m = {.len = 0};
                add(&m, "pool block %p freed while the calling thread holds the lock %p in it (", p,
                    t->h[i].lock);
                add_class(&m, t->h[i].cls);
                add(&m, ", acquired at ");
                add_sites(&m, t->h[i].sites);
                add(&m, ")");
                kshim_violation("%s", m.buf);
            }
        }
    }
    pthread_mutex_lock(&map_lock);
    if (map_count > 0) {
        if (size / sizeof(KSPIN_LOCK) < map_count) {
            const char *a;
            for (a = lo; a < hi; a += sizeof(KSPIN_LOCK)) {
                struct map_node *n = map_find_locked(a);
                if (n != NULL)
                    map_remove_locked(n);
            }
        } else {
            struct map_node *n = all_nodes, *next;
            for (; n != NULL; n = next) {
                next = n->all_next;
                if ((const char *)n->lock >= lo && (const char *)n->lock < hi)
                    map_remove_locked(n);
            }
        }
    }
    pthread_mutex_unlock(&map_lock);
}

/* ---- the graph ---- */

static BOOLEAN has_edge(int a, int b)
{
    return (__atomic_load_n(&edge_bits[a][b / 64], __ATOMIC_ACQUIRE) >> (b % 64)) & 1;
}

static struct edge *edge_of(int a, int b)
{
    struct edge *e;
    for (e = edges; e != NULL && (e->from != a || e->to != b); e = e->next)
        ;
    return e;
}

/* A path from -> ... -> to in the graph (graph lock held): its classes in
 * path[0..n-1] (path[0] = from, path[n-1] = to), n returned; 0 if none. */
static int find_path(int from, int to, int *path)
{
    static int parent[MAX_CLASSES], stack[MAX_CLASSES];
    static unsigned char seen[MAX_CLASSES];
    int sp = 0, n, c, i;
    memset(seen, 0, sizeof(seen));
    stack[sp++] = from;
    seen[from] = 1;
    parent[from] = -1;
    while (sp > 0) {
        c = stack[--sp];
        if (c == to)
            break;
        for (i = 0; i < ROW_WORDS; i++) {
            uint64_t w = edge_bits[c][i];
            while (w != 0) {
                int b = i * 64 + __builtin_ctzll(w);
                w &= w - 1;
                if (!seen[b]) {
                    seen[b] = 1;
                    parent[b] = c;
                    stack[sp++] = b;
                }
            }
        }
    }
    if (!seen[to])
        return 0;
    n = 0;
    for (c = to; c != -1; c = parent[c])
        n++;
    i = n;
    for (c = to; c != -1; c = parent[c])
        path[--i] = c;
    return n;
}

/* Records held -> cls (the thread holds h and waits for cls at sites). */
static void add_edge(const struct held *h, int cls, void *const sites[SITES])
{
    static int path[MAX_CLASSES];
    int a = h->cls, n, i;
    struct edge *e;
    if (has_edge(a, cls))
        return;
    pthread_mutex_lock(&graph_lock);
    if (has_edge(a, cls)) {
        pthread_mutex_unlock(&graph_lock);
        return;
    }
    n = find_path(cls, a, path);
    if (n > 0) {
        struct text m = {.len = 0};
        add(&m, "lock order inversion: acquiring ");
        add_class(&m, cls);
        add(&m, "\n  at ");
        add_sites(&m, sites);
        add(&m, "\n  while holding ");
        add_class(&m, a);
        add(&m, "\n  acquired at ");
        add_sites(&m, h->sites);
        add(&m, "\n  but the opposite order was seen before:");
        for (i = 0; i + 1 < n; i++) {
            e = edge_of(path[i], path[i + 1]);
            add(&m, "\n  - ");
            add_class(&m, path[i + 1]);
            add(&m, " acquired while holding ");
            add_class(&m, path[i]);
            if (e != NULL) {
                add(&m, "\n    held since ");
                add_sites(&m, e->held_at);
                add(&m, "\n    acquired at ");
                add_sites(&m, e->taken_at);
            }
        }
        kshim_violation("%s", m.buf);
    }
    e = malloc(sizeof(*e));
    if (e == NULL)
        kshim_violation("lock order: out of memory");
    e->from = a;
    e->to = cls;
    memcpy(e->held_at, h->sites, sizeof(e->held_at));
    memcpy(e->taken_at, sites, sizeof(e->taken_at));
    e->next = edges;
    edges = e;
    __atomic_fetch_or(&edge_bits[a][cls / 64], (uint64_t)1 << (cls % 64), __ATOMIC_RELEASE);
    pthread_mutex_unlock(&graph_lock);
}

/* The thread may now wait for lock (class cls): the order checks. */
static void check_order(struct thread_state *t, const void *lock, int cls, BOOLEAN spin,
                        void *const sites[SITES])
{
    int i;
    for (i = t->n - 1; i >= 0; i--) {
        const struct held *h = &t->h[i];
        if (h->lock == lock || h->outer || h->cls == 0 || cls == 0)
            continue; /* recursion is the spin lock's and ks_lock's own check */
        if (!spin && h->spin) {
            struct text m = {.len = 0};
            add(&m, "waiting for the sleeping lock ");
            add_class(&m, cls);
            add(&m, " at ");
            add_sites(&m, sites);
            add(&m, " while holding the spin lock ");
            add_class(&m, h->cls);
            add(&m, " acquired at ");
            add_sites(&m, h->sites);
            add(&m, " (never wait while holding a spin lock)");
            kshim_violation("%s", m.buf);
        }
        if (h->cls == cls) {
            struct text m = {.len = 0};
            add(&m, "lock order: two locks of the class ");
            add_class(&m, cls);
            add(&m,
                " nested without an ordered-nesting annotation (kshim_lock_nest): "
                "acquiring %p at ",
                lock);
            add_sites(&m, sites);
            add(&m, "\n  while holding %p acquired at ", h->lock);
            add_sites(&m, h->sites);
            kshim_violation("%s", m.buf);
        }
        add_edge(h, cls, sites);
    }
}

static void push(struct thread_state *t, const void *lock, int cls, BOOLEAN spin,
                 void *const sites[SITES])
{
    struct held *h;
    if (t->n == t->cap) {
        int cap = t->cap == 0 ? 16 : t->cap * 2;
        struct held *nh = realloc(t->h, (size_t)cap * sizeof(*nh));
        if (nh == NULL)
            kshim_violation("lock order: out of memory");
        t->h = nh;
        t->cap = cap;
    }
    h = &t->h[t->n++];
    h->lock = lock;
    h->cls = cls;
    h->spin = spin;
    h->outer = FALSE;
    memcpy(h->sites, sites, sizeof(h->sites));
}

static void pop(struct thread_state *t, const void *lock)
{
    int i;
    for (i = t->n - 1; i >= 0; i--) {
        if (t->h[i].lock == lock) {
            memmove(&t->h[i], &t->h[i + 1], (size_t)(t->n - 1 - i) * sizeof(t->h[0]));
            t->n--;
            return;
        }
    }
    /* Taken before the checker knew it (e.g. by a thread of another
     * module's making before the first call): nothing to drop. */
}

/* ---- the shim's own hooks (kshim_internal.h) ---- */

void kshim_lockorder_spin_init(const void *lock, void *pc)
{
    if (!on())
        return;
    map_set(lock, find_class(CLASS_INIT_SITE, NULL, pc, TRUE));
}

/* An acquisition at pc (fp: its caller's frame): the order checks if the
 * thread may wait for lock, then lock counts as held if hold. */
static void note(const void *lock, BOOLEAN spin, BOOLEAN wait, BOOLEAN hold, void *pc, void *fp)
{
    struct thread_state *t;
    void *sites[SITES];
    int cls;
    if (!on())
        return;
    t = thread_state();
    capture(t, sites, pc, fp);
    cls = class_of(lock, spin);
    if (wait)
        check_order(t, lock, cls, spin, sites);
    if (hold)
        push(t, lock, cls, spin, sites);
}

void kshim_lockorder_spin_acquire(const void *lock, void *pc, void *fp)
{
    note(lock, TRUE, TRUE, TRUE, pc, fp);
}

void kshim_lockorder_spin_release(const void *lock)
{
    if (me != NULL)
        pop(me, lock);
}

void kshim_lockorder_check_wait(const char *who)
{
    struct thread_state *t = me;
    int i;
    if (t == NULL)
        return;
    for (i = t->n - 1; i >= 0; i--) {
        if (t->h[i].spin) {
            struct text m = {.len = 0};
            add(&m, "%s while holding the spin lock ", who);
            add_class(&m, t->h[i].cls);
            add(&m, " acquired at ");
            add_sites(&m, t->h[i].sites);
            add(&m, " (never wait while holding a spin lock)");
            kshim_violation("%s", m.buf);
        }
    }
}

/* ---- for the library (ntddk.h) and tests ---- */

#pragma GCC diagnostic ignored "-Wframe-address"

void kshim_lock_class(const void *lock, const char *name)
{
    struct map_node *n;
    if (!on())
        return;
    if (name != NULL) {
        map_set(lock, find_class(CLASS_NAMED, name, NULL, FALSE));
        return;
    }
    /* Unnamed (ks__lock_init): whatever the address meant before is
     * forgotten; a class of its own comes with its first acquisition. */
    pthread_mutex_lock(&map_lock);
    n = map_find_locked(lock);
    if (n != NULL)
        map_remove_locked(n);
    pthread_mutex_unlock(&map_lock);
}

void kshim_lock_wait(const void *lock)
{
    note(lock, FALSE, TRUE, FALSE, __builtin_return_address(0), __builtin_frame_address(1));
}

void kshim_lock_acquired(const void *lock)
{
    note(lock, FALSE, FALSE, TRUE, __builtin_return_address(0), __builtin_frame_address(1));
}

void kshim_lock_released(const void *lock)
{
    if (me != NULL)
        pop(me, lock);
}

void kshim_lock_nest(const void *lock, BOOLEAN outer)
{
    struct thread_state *t = me;
    int i;
    if (!on())
        return;
    for (i = t != NULL ? t->n - 1 : -1; i >= 0; i--) {
        if (t->h[i].lock == lock) {
            t->h[i].outer = outer;
            return;
        }
    }
    kshim_violation("kshim_lock_nest(%p): the calling thread does not hold that lock", lock);
}

/* KSHIM_LOCKORDER_DUMP=path: at exit, one line per edge of the graph,
 * "A -> B (acquired at ...)", appended (for writing the order down). */
static void dump_at_exit(void)
{
    FILE *f = fopen(getenv("KSHIM_LOCKORDER_DUMP"), "a");
    struct edge *e;
    if (f == NULL)
        return;
    pthread_mutex_lock(&graph_lock);
    for (e = edges; e != NULL; e = e->next) {
        struct text m = {.len = 0};
        add_class(&m, e->from);
        add(&m, " -> ");
        add_class(&m, e->to);
        add(&m, "\t");
        add_sites(&m, e->held_at);
        add(&m, "\t");
        add_sites(&m, e->taken_at);
        fprintf(f, "%s\n", m.buf);
    }
    pthread_mutex_unlock(&graph_lock);
    fclose(f);
}

BOOLEAN kshim_lockorder_enabled(void)
{
    return on();
}
