/*
 * t_fdtable.c - unit tests of the descriptor table (src/ks_fdtable.c):
 * values from one counter through 1..2^31-1 that survives cleanup and
 * startup, a value given out again only after the counter went round,
 * lookups that take a reference and find nothing for a stale, zero,
 * negative or garbage descriptor, growth that never loses an entry,
 * KS_FD_MAX_OPEN, an allocation failure while growing, and lookups racing
 * inserts, removals and growth.
 *
 * White box: most tests run on a private copy of the table, the same
 * source compiled here under other names (t_fd_*), so that a test can
 * read its state (g_fd) and move its counter near the end of its range;
 * the sockets it holds are zeroed ks_sock objects of the test (the table
 * only counts references on them and writes their fd). The library's own
 * table is tested through the API (fd-live-*).
 */
#include "tests.h"

#define ks__fdtable_init t_fd_init
#define ks__fdtable_destroy t_fd_destroy
#define ks__fdtable_set_open t_fd_set_open
#define ks__fd_insert t_fd_insert
#define ks__fd_get t_fd_get
#define ks__fd_remove t_fd_remove
#define ks__fd_remove_any t_fd_remove_any
#include "ks_fdtable.c" /* NOLINT(bugprone-suspicious-include): the copy is the point */
#undef ks__fdtable_init
#undef ks__fdtable_destroy
#undef ks__fdtable_set_open
#undef ks__fd_insert
#undef ks__fd_get
#undef ks__fd_remove
#undef ks__fd_remove_any

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_BOUND_MS 10000

/* Zeroed socket objects holding one reference (their creator's). */
static ks_sock *fake_socks(size_t n)
{
    ks_sock *s = calloc(n, sizeof(ks_sock));
    HT_CHECK(s != NULL, "memory for the test's socket objects", (long long)n);
    for (size_t i = 0; s != NULL && i < n; i++)
        s[i].refs = 1;
    return s;
}

/* A reference taken by t_fd_get given back (the objects are the test's:
 * ks__sock_put would free them); NULL: nothing. */
static void unref(ks_sock *s)
{
    if (s != NULL)
        InterlockedDecrement(&s->refs);
}

/* How many of the n objects do not hold exactly their creator's reference. */
static int refs_not_one(const ks_sock *s, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i].refs != 1;
    return k;
}

/* Inserts s as a new socket: where one object stands for many entries
 * (only the values matter), its descriptor is forgotten first (a socket
 * is inserted once: ks__fd_insert may assert s->fd == 0). */
static int insert_new(ks_sock *s)
{
    s->fd = 0;
    return t_fd_insert(s);
}

/* As ks_cleanup: closes the private table to inserts, empties it (dropping
 * the table's references) and frees it. */
static void table_end(void)
{
    ks_sock *s;
    t_fd_set_open(FALSE);
    while ((s = t_fd_remove_any()) != NULL)
        unref(s);
    t_fd_destroy();
}

/* The value the table must give next: the first value after last, in
 * 1..KS_FD_VALUE_MAX, whose slot is free (read under no lock: the test is
 * the only thread on the table). */
static ULONG predicted_next(void)
{
    ULONG v = g_fd.last;
    for (ULONG i = 0; i <= g_fd.capacity; i++) {
        v = v >= KS_FD_VALUE_MAX ? 1 : v + 1;
        if (g_fd.slots[v & (g_fd.capacity - 1)].sock == NULL)
            return v;
    }
    return 0;
}

/* ---- values ---- */

/* Values are consecutive from the counter (1 first), skip nothing free,
 * never come back while open, and wrap from 2^31-1 to 1 (never 0 or
 * negative), skipping values whose slot is taken. */
static void t_fd_values(void)
{
    ks_sock *s = fake_socks(9);
    if (s == NULL)
        return;
    g_fd.last = 0; /* the state at load */
    t_fd_init();
    int a = t_fd_insert(&s[0]), b = t_fd_insert(&s[1]), c = t_fd_insert(&s[2]);
    HT_CHECK(a == 1 && b == 2 && c == 3, "first values 1, 2, 3", (long long)a * 100 + b * 10 + c);
    HT_EQ(s[0].fd, a, "the socket knows its descriptor");
    HT_EQ(s[0].refs, 2, "the table holds a reference");
    ks_sock *r = t_fd_remove(b);
    HT_CHECK(r == &s[1], "remove gives back the table's reference", 0);
    unref(r);
    int d = t_fd_insert(&s[3]);
    HT_EQ(d, 4, "a closed value is not given again: the counter goes on");

    /* Near the end of the counter's range; 1, 3 and 4 are open. */
    g_fd.last = KS_FD_VALUE_MAX - 3;
    const int want[] = {KS_FD_VALUE_MAX - 2, KS_FD_VALUE_MAX - 1, KS_FD_VALUE_MAX, 2, 5};
    for (int i = 0; i < 5; i++) {
        int v = t_fd_insert(&s[4 + i]);
        HT_EQ(v, want[i], "value around the end of the range (2^31-1, then 1 is open: 2, 5)");
        HT_CHECK(v > 0, "descriptors are positive", v);
    }
    HT_CHECK(t_fd_get(a) == &s[0], "the open value 1 still names its socket after the wrap", 0);
    unref(&s[0]);
    table_end();
    HT_EQ(refs_not_one(s, 9), 0, "every reference given back");
    free(s);
}

/* The counter survives destroy/init (ks_cleanup/ks_startup); while
 * destroyed or closed the table inserts nothing (-ENETDOWN, no reference
 * taken); closed, it still finds what it holds. The library's table does
 * the same across ks_cleanup/ks_startup. */
static void t_fd_restart(void)
{
    ks_sock *s = fake_socks(4);
    if (s == NULL)
        return;
    t_fd_init();
    int a = t_fd_insert(&s[0]);
    int b = t_fd_insert(&s[1]);
    HT_CHECK(a > 0 && b > 0, "inserted", b);
    table_end(); /* as ks_cleanup */
    HT_CHECK(t_fd_get(a) == NULL, "nothing found in a destroyed table", a);
    HT_CHECK(t_fd_remove(b) == NULL, "nothing removed from a destroyed table", b);
    HT_CHECK(t_fd_remove_any() == NULL, "nothing left", 0);
    HT_EQ(t_fd_insert(&s[2]), -ENETDOWN, "insert into a destroyed table");
    HT_EQ(s[2].refs, 1, "no reference taken by a refused insert");
    HT_EQ(s[2].fd, 0, "no descriptor written by a refused insert");
    t_fd_init(); /* as ks_startup */
    int c = t_fd_insert(&s[2]);
    HT_EQ(c, b + 1, "after a restart the counter goes on (not from 1, not a or b again)");
    t_fd_set_open(FALSE);
    HT_EQ(t_fd_insert(&s[3]), -ENETDOWN, "insert into a closed table");
    HT_CHECK(t_fd_get(c) == &s[2], "a closed table still finds what it holds", c);
    unref(&s[2]);
    t_fd_set_open(TRUE);
    HT_EQ(t_fd_insert(&s[3]), c + 1, "open again: the next value");
    table_end();
    free(s);

    /* The library's table, across ks_cleanup/ks_startup. */
    int before = ks_socket(AF_INET, SOCK_DGRAM, 0);
    HT_CHECK(before > 0, "ks_socket", before);
    HT_EQ(ks_close(before), 0, "ks_close");
    ks_cleanup();
    HT_EQ(ks_startup(), 0, "ks_startup");
    int after = ks_socket(AF_INET, SOCK_DGRAM, 0);
    HT_CHECK(after > before, "the library's counter went on across ks_cleanup/ks_startup", after);
    HT_EQ(ks_close(before), -EBADF, "the descriptor from before the restart is stale");
    HT_EQ(ks_close(after), 0, "ks_close");
}

/* ---- the reuse distance ---- */

/*
 * The bound of wsksock.h (a closed value comes back only after at least
 * 2^30 - 2^22 newer descriptors) follows from two rules this test checks
 * on every insert of a long run, with the table kept as full as it may be
 * (half), its open entries moving, then fixed: (1) each new value is the first
 * value after the counter whose slot is free (the counter skips only
 * taken slots), and (2) the table is never more than half full. So over
 * any sweep of the counter through the slots at least half its values are
 * given out, and over a whole round (2^31 - 1 values) at least 2^30 minus
 * the sweeps cut short by growth. The run also crosses the end of the
 * range: every value stays in 1..2^31-1 and no value is given twice.
 */
static int cmp_int(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    return a < b ? -1 : a > b;
}

static void t_fd_no_reuse(void)
{
    enum { OPEN = 32, STEPS = 60000 };
    ks_sock *obj = fake_socks(1); /* behind every entry: only values matter here */
    int *given = malloc(sizeof(int) * (STEPS + OPEN));
    int open_fds[OPEN];
    if (obj == NULL || given == NULL) {
        free(obj);
        free(given);
        return;
    }
    int n = 0;
    t_fd_init();
    g_fd.last = KS_FD_VALUE_MAX - STEPS / 2; /* the end of the range comes halfway */
    int closed = insert_new(obj);            /* closed at once: must not come back */
    given[n++] = closed;
    unref(t_fd_remove(closed));
    for (int i = 0; i < OPEN - 1; i++)
        given[n++] = open_fds[i] = insert_new(obj);
    ULONG advance = 0, skipped_max = 0, wrong = 0, over_half = 0, out_of_range = 0, wraps = 0;
    unsigned seed = 12345;
    for (int step = 0; step < STEPS; step++) {
        /* A new descriptor: OPEN open, exactly half of the 64 slots... */
        ULONG want = predicted_next();
        ULONG last = g_fd.last;
        int v = insert_new(obj);
        wrong += (ULONG)v != want;
        out_of_range += v <= 0;
        over_half += 2 * g_fd.used > g_fd.capacity;
        ULONG gap = (ULONG)v > last ? (ULONG)v - last : (ULONG)v + (KS_FD_VALUE_MAX - last);
        wraps += (ULONG)v <= last;
        advance += gap;
        skipped_max = gap - 1 > skipped_max ? gap - 1 : skipped_max;
        given[n++] = v;
        open_fds[OPEN - 1] = v;
        /* ...then one of the open ones closed: at random in the first
         * half (the open ones move), the new one in the second (the same
         * 31 stay open: the counter skips all of them on every sweep, the
         * worst case). */
        seed = seed * 1103515245u + 12345u;
        int k = step < STEPS / 2 ? (int)((seed >> 16) % OPEN) : OPEN - 1;
        ks_sock *r = t_fd_remove(open_fds[k]);
        HT_CHECK(r == obj, "remove an open descriptor", open_fds[k]);
        if (r != NULL)
            unref(r);
        open_fds[k] = open_fds[OPEN - 1];
    }
    HT_EQ(g_fd.capacity, 64, "the table never grew: at most half full");
    HT_EQ(wrong, 0, "each value is the first one after the counter whose slot is free");
    HT_EQ(over_half, 0, "never more than half full");
    HT_EQ(out_of_range, 0, "values stay in 1..2^31-1");
    HT_CHECK(skipped_max <= OPEN - 1, "a value skips at most the taken slots", skipped_max);
    HT_CHECK(advance <= 2 * (ULONG)STEPS + 64, "at least half of the counter's values given out",
             advance);
    HT_EQ(wraps, 1, "the run crossed the end of the range once");
    int closed_again = 0, repeats = 0;
    for (int i = 1; i < n; i++)
        closed_again += given[i] == closed;
    qsort(given, (size_t)n, sizeof(int), cmp_int);
    for (int i = 1; i < n; i++)
        repeats += given[i] == given[i - 1];
    HT_EQ(closed_again, 0, "the value closed first did not come back");
    HT_EQ(repeats, 0, "no value given out twice");
    printf("ht: fd-no-reuse: %d values, counter advance %lu, at most %lu skipped at once\n", n,
           (unsigned long)advance, (unsigned long)skipped_max);
    table_end();
    HT_EQ(refs_not_one(obj, 1), 0, "every reference given back");
    free(given);
    free(obj);
}

/* ---- lookups ---- */

/* A lookup of an open descriptor gives its socket with one more
 * reference; a removal gives back the table's reference; zero, negative,
 * never-given, stale and garbage values (also those that share the open
 * one's slot for every capacity) find and remove nothing, and take no
 * reference. */
static void t_fd_lookup(void)
{
    ks_sock *s = fake_socks(4);
    if (s == NULL)
        return;
    t_fd_init();
    int fd = t_fd_insert(&s[0]);
    HT_CHECK(fd > 0, "inserted", fd);
    ks_sock *g = t_fd_get(fd);
    HT_CHECK(g == &s[0], "lookup finds its socket", fd);
    HT_EQ(s[0].refs, 3, "with a reference of its own (creator, table, lookup)");
    unref(g);
    long long bad[40];
    int nbad = 0;
    bad[nbad++] = 0;
    bad[nbad++] = -1;
    bad[nbad++] = -fd;
    bad[nbad++] = INT_MIN;
    bad[nbad++] = INT_MAX;
    bad[nbad++] = fd + 1; /* never given */
    for (int k = 6; k <= 30; k++)
        if ((long long)fd + (1LL << k) <= INT_MAX)
            bad[nbad++] = fd + (1LL << k); /* fd's slot at capacity <= 2^k */
    ULONG used = g_fd.used;
    for (int i = 0; i < nbad; i++) {
        HT_CHECK(t_fd_get((int)bad[i]) == NULL, "lookup of a bad descriptor finds nothing", bad[i]);
        HT_CHECK(t_fd_remove((int)bad[i]) == NULL, "removal of a bad descriptor removes nothing",
                 bad[i]);
    }
    HT_EQ(g_fd.used, used, "the table unchanged");
    HT_EQ(s[0].refs, 2, "no reference taken or dropped by the bad ones");
    HT_CHECK(t_fd_get(fd) == &s[0], "the open one is still there", fd);
    unref(&s[0]);
    ks_sock *r = t_fd_remove(fd);
    HT_CHECK(r == &s[0], "removal gives the table's reference", fd);
    HT_EQ(s[0].refs, 2, "the removal itself drops nothing");
    unref(r);
    HT_CHECK(t_fd_get(fd) == NULL, "a stale descriptor finds nothing", fd);
    HT_CHECK(t_fd_remove(fd) == NULL, "a stale descriptor removes nothing", fd);
    HT_EQ(s[0].refs, 1, "back to the creator's reference");

    int a = t_fd_insert(&s[1]), b = t_fd_insert(&s[2]), c = t_fd_insert(&s[3]);
    HT_CHECK(a > 0 && b > 0 && c > 0, "three inserted", 0);
    int seen = 0;
    for (int i = 0; i < 3; i++) {
        ks_sock *any = t_fd_remove_any();
        HT_CHECK(any != NULL, "remove_any while entries are left", i);
        if (any != NULL) {
            seen |= 1 << (int)(any - s);
            unref(any);
        }
    }
    HT_EQ(seen, 0xe, "remove_any gave each entry once");
    HT_CHECK(t_fd_remove_any() == NULL, "remove_any of an empty table", 0);
    HT_EQ(g_fd.used, 0, "empty");
    table_end();
    free(s);
}

/* The library's table through the API: a bad descriptor gives -EBADF
 * (ks_poll: POLLNVAL, a negative one is ignored) and leaves the open
 * socket whose slot it shares untouched; after ks_close the descriptor is
 * stale. */
static void t_fd_live_bad_descriptors(void)
{
    int s = ks_socket(AF_INET, SOCK_DGRAM, 0);
    HT_CHECK(s > 0, "ks_socket", s);
    long long bad[40];
    int nbad = 0;
    bad[nbad++] = 0;
    bad[nbad++] = -1;
    bad[nbad++] = INT_MIN;
    bad[nbad++] = INT_MAX;
    for (int k = 6; k <= 30; k++)
        if ((long long)s + (1LL << k) <= INT_MAX)
            bad[nbad++] = s + (1LL << k);
    for (int i = 0; i < nbad; i++) {
        int fd = (int)bad[i];
        unsigned long arg = 1;
        HT_EQ(ks_ioctl(fd, FIONBIO, &arg), -EBADF, "ks_ioctl of a bad descriptor");
        HT_EQ(ks_close(fd), -EBADF, "ks_close of a bad descriptor");
        struct ks_pollfd p = {fd, POLLIN, 0};
        int r = ks_poll(&p, 1, 0);
        if (fd < 0) {
            HT_EQ(r, 0, "ks_poll ignores a negative descriptor");
            HT_EQ(p.revents, 0, "revents 0 for a negative descriptor");
        } else {
            HT_EQ(r, 1, "ks_poll reports a bad descriptor");
            HT_EQ(p.revents, POLLNVAL, "POLLNVAL");
        }
    }
    unsigned long arg = 1;
    HT_EQ(ks_ioctl(s, FIONBIO, &arg), 0, "the open socket untouched by the bad closes");
    HT_EQ(ks_close(s), 0, "ks_close");
    HT_EQ(ks_close(s), -EBADF, "ks_close again: stale");
    HT_EQ(ks_ioctl(s, FIONBIO, &arg), -EBADF, "a call on the stale descriptor");
    struct ks_pollfd p = {s, POLLIN, 0};
    HT_EQ(ks_poll(&p, 1, 0), 1, "ks_poll of the stale descriptor");
    HT_EQ(p.revents, POLLNVAL, "POLLNVAL");
}

/* ---- growth and its limits ---- */

/* Every entry found with its own socket after each doubling (64 slots
 * first; entries move to their slot modulo 2N, values distinct modulo N
 * stay distinct modulo 2N); the table at most half full; removal in any
 * order. */
static void t_fd_growth(void)
{
    enum { N = 5000 };
    ks_sock *s = fake_socks(N);
    int *fds = malloc(sizeof(int) * N);
    if (s == NULL || fds == NULL) {
        free(s);
        free(fds);
        return;
    }
    t_fd_init();
    /* Values with their high bits set: each doubling moves entries (a value
     * below the capacity keeps its slot). */
    g_fd.last = 0x5a5a5a5a;
    ULONG cap = 0;
    int doublings = 0, lost = 0;
    for (int i = 0; i < N; i++) {
        fds[i] = t_fd_insert(&s[i]);
        HT_CHECK(fds[i] > 0, "insert", i);
        if (g_fd.capacity != cap) {
            HT_EQ(g_fd.capacity, cap == 0 ? 64 : 2 * cap, "64 slots first, then doubled");
            cap = g_fd.capacity;
            doublings++;
            for (int j = 0; j <= i; j++) {
                ks_sock *g = t_fd_get(fds[j]);
                lost += g != &s[j] || s[j].fd != fds[j];
                if (g != NULL)
                    unref(g);
            }
        }
        HT_CHECK(2 * g_fd.used <= g_fd.capacity, "at most half full", g_fd.used);
    }
    HT_EQ(lost, 0, "every entry found with its own socket after each doubling");
    HT_EQ(doublings, 9, "64 .. 16384 slots for 5000 entries");
    HT_EQ(g_fd.capacity, 16384, "capacity");
    HT_EQ(g_fd.used, N, "entries");
    /* Remove every third, then look up all. */
    for (int i = 0; i < N; i += 3) {
        ks_sock *r = t_fd_remove(fds[i]);
        HT_CHECK(r == &s[i], "remove", i);
        if (r != NULL)
            unref(r);
    }
    lost = 0;
    int found_removed = 0;
    for (int i = 0; i < N; i++) {
        ks_sock *g = t_fd_get(fds[i]);
        if (i % 3 == 0)
            found_removed += g != NULL;
        else
            lost += g != &s[i];
        if (g != NULL)
            unref(g);
    }
    HT_EQ(lost, 0, "the others still found");
    HT_EQ(found_removed, 0, "the removed ones not found");
    table_end();
    HT_EQ(refs_not_one(s, N), 0, "every reference given back");
    free(fds);
    free(s);
}

/* KS_FD_MAX_OPEN descriptors open at once, then -EMFILE (no reference
 * taken, nothing changed) until one is closed. */
static void t_fd_exhaustion(void)
{
    ks_sock *obj = fake_socks(2);
    int *fds = malloc(sizeof(int) * KS_FD_MAX_OPEN);
    if (obj == NULL || fds == NULL) {
        free(obj);
        free(fds);
        return;
    }
    t_fd_init();
    int n = 0, r = 0;
    while (n < KS_FD_MAX_OPEN && (r = insert_new(&obj[0])) > 0)
        fds[n++] = r;
    HT_EQ(n, KS_FD_MAX_OPEN, "KS_FD_MAX_OPEN descriptors open at once");
    if (n == KS_FD_MAX_OPEN) {
        HT_EQ(g_fd.capacity, KS_FD_MAX_SLOTS, "in twice as many slots");
        HT_EQ(t_fd_insert(&obj[1]), -EMFILE, "one more: -EMFILE");
        HT_EQ(t_fd_insert(&obj[1]), -EMFILE, "and again");
        HT_EQ(obj[1].refs, 1, "a refused insert takes no reference");
        HT_EQ(g_fd.used, KS_FD_MAX_OPEN, "nothing inserted");
        HT_EQ(obj[0].refs, 1 + KS_FD_MAX_OPEN, "one reference per entry");
        ks_sock *g = t_fd_get(fds[n / 2]);
        HT_CHECK(g == &obj[0], "a full table still finds its entries", fds[n / 2]);
        unref(g);
        unref(t_fd_remove(fds[0]));
        fds[0] = insert_new(&obj[0]);
        HT_CHECK(fds[0] > 0, "one closed: one more fits", fds[0]);
        HT_EQ(t_fd_insert(&obj[1]), -EMFILE, "full again");
    }
    for (int i = 0; i < n; i++)
        unref(t_fd_remove(fds[i]));
    HT_EQ(g_fd.used, 0, "emptied");
    HT_CHECK(obj[0].refs == 1 && obj[1].refs == 1, "every reference given back", obj[0].refs);
    table_end();
    free(fds);
    free(obj);
}

/* Run with KSHIM_FAULT=pool.ksFd:2: the first growth (64 slots) works,
 * the second fails: the insert that needed it gives -ENOMEM, takes no
 * reference, and the 32 entries are all still there; the next insert
 * grows the table. */
static void t_fd_nomem(void)
{
    ULONG occurrence = 0;
    const char *site = kshim_fault_site(&occurrence);
    HT_CHECK(site != NULL && strcmp(site, "pool.ksFd") == 0 && occurrence == 2,
             "run with KSHIM_FAULT=pool.ksFd:2", 0);
    ks_sock *s = fake_socks(34);
    if (s == NULL)
        return;
    int fds[32];
    t_fd_init();
    for (int i = 0; i < 32; i++)
        fds[i] = t_fd_insert(&s[i]);
    HT_EQ(g_fd.capacity, 64, "64 slots (the first growth)");
    HT_CHECK(!kshim_fault_fired(), "the first growth's allocation did not fail", 0);
    HT_EQ(t_fd_insert(&s[32]), -ENOMEM, "the insert needing the failed growth");
    HT_CHECK(kshim_fault_fired(), "the fault fired", 0);
    HT_EQ(s[32].refs, 1, "no reference taken");
    HT_EQ(s[32].fd, 0, "no descriptor written");
    HT_EQ(g_fd.capacity, 64, "the table as it was");
    HT_EQ(g_fd.used, 32, "its entries as they were");
    int lost = 0;
    for (int i = 0; i < 32; i++) {
        ks_sock *g = t_fd_get(fds[i]);
        lost += g != &s[i];
        if (g != NULL)
            unref(g);
    }
    HT_EQ(lost, 0, "every entry still found");
    int v = t_fd_insert(&s[33]);
    HT_CHECK(v > fds[31], "the next insert grows the table and works", v);
    HT_EQ(g_fd.capacity, 128, "128 slots");
    table_end();
    free(s);
}

static const struct ht_run nomem_runs[] = {
    {"", "KSHIM_FAULT=pool.ksFd:2"},
    {NULL, NULL},
};

/* ---- concurrency ---- */

enum { CC_STABLE = 16, CC_CHURN = 3000, CC_GETTERS = 2, CC_ROUNDS = 4 };

static struct {
    ks_sock *stable, *churn;
    int stable_fd[CC_STABLE];
    volatile LONG churn_fd[CC_CHURN];   /* 0 until inserted (published after the insert) */
    volatile LONG churn_gone[CC_CHURN]; /* set after its removal returned */
    volatile LONG stop;
    volatile LONG stable_missed, wrong, found_gone, lookups;
    volatile LONG passes[CC_GETTERS];
} cc;

static void cc_getter(void *p)
{
    int me = (int)(ULONG_PTR)p;
    while (cc.stop == 0) {
        for (int i = 0; i < CC_STABLE; i++) {
            ks_sock *g = t_fd_get(cc.stable_fd[i]);
            if (g != &cc.stable[i])
                InterlockedIncrement(&cc.stable_missed);
            if (g != NULL)
                unref(g);
        }
        for (int j = 0; j < CC_CHURN; j += 7) {
            LONG gone = cc.churn_gone[j]; /* read before the lookup */
            LONG fd = cc.churn_fd[j];
            if (fd == 0)
                continue;
            ks_sock *g = t_fd_get((int)fd);
            if (g != NULL && g != &cc.churn[j])
                InterlockedIncrement(&cc.wrong);
            if (g != NULL && gone)
                InterlockedIncrement(&cc.found_gone);
            if (g != NULL)
                unref(g);
        }
        InterlockedIncrement(&cc.lookups);
        InterlockedIncrement(&cc.passes[me]);
    }
}

/* Every getter made a whole pass since now: the test's next steps race
 * lookups, whatever the scheduling. */
static void cc_sync(void)
{
    LONG seen[CC_GETTERS];
    for (int i = 0; i < CC_GETTERS; i++)
        seen[i] = cc.passes[i];
    LONGLONG end = ht_now_ms() + T_BOUND_MS;
    for (int i = 0; i < CC_GETTERS; i++) {
        while (cc.passes[i] <= seen[i] + 1 && ht_now_ms() < end)
            ht_sleep_ms(1);
        HT_CHECK(cc.passes[i] > seen[i] + 1, "lookup thread went round", i);
    }
}

/* Lookups on CC_GETTERS threads while the test inserts CC_CHURN entries
 * (the table doubles from 64 to 8192 slots under them) and removes them,
 * CC_ROUNDS times on a fresh table: the CC_STABLE entries open throughout
 * are always found, a lookup never gives another descriptor's socket nor
 * one whose removal returned before it, and every reference comes back. */
static void t_fd_concurrent(void)
{
    cc.stable = fake_socks(CC_STABLE);
    cc.churn = fake_socks(CC_CHURN);
    if (cc.stable == NULL || cc.churn == NULL) {
        free(cc.stable);
        free(cc.churn);
        return;
    }
    cc.stable_missed = cc.wrong = cc.found_gone = cc.lookups = 0;
    for (int i = 0; i < CC_GETTERS; i++)
        cc.passes[i] = 0;
    for (int round = 0; round < CC_ROUNDS; round++) {
        t_fd_init();
        for (int i = 0; i < CC_STABLE; i++)
            cc.stable_fd[i] = insert_new(&cc.stable[i]);
        for (int j = 0; j < CC_CHURN; j++) {
            cc.churn_fd[j] = 0;
            cc.churn_gone[j] = 0;
        }
        cc.stop = 0;
        ht_thread *t[CC_GETTERS];
        for (int i = 0; i < CC_GETTERS; i++)
            t[i] = ht_spawn(cc_getter, (void *)(ULONG_PTR)i);
        for (int j = 0; j < CC_CHURN; j++) {
            if (j % 256 == 0)
                cc_sync(); /* the lookups keep up with the doublings (64 .. 8192) */
            int fd = insert_new(&cc.churn[j]);
            HT_CHECK(fd > 0, "insert", fd);
            InterlockedExchange(&cc.churn_fd[j], fd);
        }
        HT_EQ(g_fd.capacity, 8192, "grown under the lookups");
        for (int j = 0; j < CC_CHURN; j++) {
            if (j % 256 == 0)
                cc_sync();
            ks_sock *r = t_fd_remove((int)cc.churn_fd[j]);
            HT_CHECK(r == &cc.churn[j], "remove", j);
            if (r != NULL)
                unref(r);
            InterlockedExchange(&cc.churn_gone[j], 1);
        }
        InterlockedExchange(&cc.stop, 1);
        int joined = 0;
        for (int i = 0; i < CC_GETTERS; i++)
            joined += ht_join(t[i], T_BOUND_MS);
        HT_EQ(joined, CC_GETTERS, "lookup threads finished");
        table_end();
    }
    HT_EQ(cc.stable_missed, 0, "an entry open throughout was always found");
    HT_EQ(cc.wrong, 0, "a lookup never gave another descriptor's socket");
    HT_EQ(cc.found_gone, 0, "a lookup after the removal returned found nothing");
    printf("ht: fd-concurrent: %ld passes of lookups\n", (long)cc.lookups);
    HT_EQ(refs_not_one(cc.stable, CC_STABLE) + refs_not_one(cc.churn, CC_CHURN), 0,
          "every reference given back");
    free(cc.stable);
    free(cc.churn);
}

/* The library's table: ks_ioctl on one thread and ks_poll on another, on
 * descriptors the test closes one by one: each call gives 0 or -EBADF,
 * and -EBADF (POLLNVAL) once the ks_close returned. */
enum { LV_SOCKETS = 32 };

static struct {
    int fd[LV_SOCKETS];
    volatile LONG closed[LV_SOCKETS];
    volatile LONG stop, bad_result, open_after_close, calls;
    volatile LONG passes[2]; /* each caller's passes over every descriptor */
} lv;

static void lv_caller(void *p)
{
    int kind = (int)(ULONG_PTR)p;
    while (lv.stop == 0) {
        for (int i = 0; i < LV_SOCKETS; i++) {
            LONG closed = lv.closed[i];
            if (kind == 0) {
                unsigned long arg = 0;
                int r = ks_ioctl(lv.fd[i], FIONREAD, &arg);
                if (r != 0 && r != -EBADF)
                    InterlockedIncrement(&lv.bad_result);
                if (closed && r != -EBADF)
                    InterlockedIncrement(&lv.open_after_close);
            } else {
                struct ks_pollfd pf = {lv.fd[i], POLLOUT, 0};
                int r = ks_poll(&pf, 1, 0);
                if (r != 0 && r != 1)
                    InterlockedIncrement(&lv.bad_result);
                if (closed && pf.revents != POLLNVAL)
                    InterlockedIncrement(&lv.open_after_close);
            }
            InterlockedIncrement(&lv.calls);
        }
        InterlockedIncrement(&lv.passes[kind]);
    }
}

/* Waits until both callers made a whole pass since the counts in seen. */
static BOOLEAN lv_both_passed(const LONG seen[2])
{
    LONGLONG end = ht_now_ms() + T_BOUND_MS;
    while ((lv.passes[0] <= seen[0] + 1 || lv.passes[1] <= seen[1] + 1) && ht_now_ms() < end)
        ht_sleep_ms(1);
    return lv.passes[0] > seen[0] + 1 && lv.passes[1] > seen[1] + 1;
}

static void t_fd_live_get_close(void)
{
    memset(&lv, 0, sizeof(lv));
    for (int i = 0; i < LV_SOCKETS; i++) {
        lv.fd[i] = ks_socket(AF_INET, SOCK_DGRAM, 0);
        HT_CHECK(lv.fd[i] > 0, "ks_socket", lv.fd[i]);
    }
    ht_thread *t[2];
    t[0] = ht_spawn(lv_caller, (void *)0);
    t[1] = ht_spawn(lv_caller, (void *)1);
    /* Each close while both callers go round (a whole pass after the
     * previous close, so each sees the descriptor open, then closed). */
    for (int i = 0; i < LV_SOCKETS; i++) {
        LONG seen[2] = {lv.passes[0], lv.passes[1]};
        HT_CHECK(lv_both_passed(seen), "both callers went round", i);
        HT_EQ(ks_close(lv.fd[i]), 0, "ks_close while other threads use the descriptor");
        InterlockedExchange(&lv.closed[i], 1);
    }
    LONG seen[2] = {lv.passes[0], lv.passes[1]};
    HT_CHECK(lv_both_passed(seen), "both callers went round after the last close", 0);
    InterlockedExchange(&lv.stop, 1);
    HT_CHECK(ht_join(t[0], 30000) && ht_join(t[1], 30000), "callers finished", 0);
    HT_EQ(lv.bad_result, 0, "every call gave 0 or -EBADF (a poll: 0 or 1)");
    HT_EQ(lv.open_after_close, 0, "no call found a descriptor after its ks_close returned");
    HT_CHECK(lv.calls > 0, "the calls ran", lv.calls);
}

const struct ht_test fdtable_tests[] = {
    {"fd-values", t_fd_values, ht_runs_once},
    {"fd-restart", t_fd_restart, ht_runs_once},
    {"fd-no-reuse", t_fd_no_reuse, ht_runs_once},
    {"fd-lookup", t_fd_lookup, ht_runs_once},
    {"fd-growth", t_fd_growth, ht_runs_once},
    {"fd-exhaustion", t_fd_exhaustion, ht_runs_once},
    {"fd-nomem", t_fd_nomem, nomem_runs},
    {"fd-concurrent", t_fd_concurrent, ht_runs_once},
    {"fd-live-bad-descriptors", t_fd_live_bad_descriptors, ht_runs_once},
    {"fd-live-get-close", t_fd_live_get_close, ht_runs_modes},
};
const int fdtable_test_count = (int)(sizeof(fdtable_tests) / sizeof(fdtable_tests[0]));
