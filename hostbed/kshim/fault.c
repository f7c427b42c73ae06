/*
 * fault.c - the shim's test controls: initialisation from the environment
 * (KSHIM_FAULT=site:N, KSHIM_FAULT_REPORT=path, KSHIM_SEED=n), fault
 * injection (per-site occurrence counters; the configured occurrence fires
 * once), the per-site report, the seed and its random numbers, the named
 * counters, and the leak report and statistics gathered from every module.
 *
 * Sites and counters are keyed by string content: the first use of a name
 * stores a copy, so callers may pass any string (a literal or a buffer).
 */
#include "kshim_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct named {
    char *name;
    LONG value;
};

#define MAX_NAMES 256

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;

static struct named sites[MAX_NAMES];
static int nsites;
static struct named counters[MAX_NAMES];
static int ncounters;

static char *fault_site;       /* KSHIM_FAULT's site, or NULL */
static ULONG fault_occurrence; /* and its 1-based occurrence */
static volatile LONG fault_fired;
static char *report_path; /* KSHIM_FAULT_REPORT */

static ULONG seed;
static ULONGLONG random_state;

static void write_report_at_exit(void)
{
    kshim_fault_write_report();
}

static void do_init(void)
{
    const char *f = getenv("KSHIM_FAULT");
    const char *r = getenv("KSHIM_FAULT_REPORT");
    const char *s = getenv("KSHIM_SEED");

    if (f != NULL && *f != '\0') {
        const char *colon = strrchr(f, ':');
        char *end = NULL;
        unsigned long n = colon != NULL ? strtoul(colon + 1, &end, 10) : 0;
        if (colon == NULL || colon == f || end == colon + 1 || *end != '\0' || n < 1 ||
            n > 0xffffffffu) {
            fprintf(stderr, "kshim: bad KSHIM_FAULT '%s' (want site:N, N >= 1)\n", f);
            _exit(2);
        }
        fault_site = strndup(f, (size_t)(colon - f));
        fault_occurrence = (ULONG)n;
    }
    if (r != NULL && *r != '\0') {
        report_path = strdup(r);
        atexit(write_report_at_exit);
    }
    if (s != NULL && *s != '\0')
        seed = (ULONG)strtoul(s, NULL, 0);
    else
        seed = (ULONG)time(NULL) ^ (ULONG)getpid();
    random_state = seed;
}

void kshim_lazy_init(void)
{
    pthread_once(&init_once, do_init);
}

void kshim_init(void)
{
    static volatile LONG printed;
    kshim_lazy_init();
    if (InterlockedExchange(&printed, 1) == 0)
        fprintf(stderr, "kshim: seed %u\n", seed);
    /* The calling thread keeps PASSIVE_LEVEL, every thread's default. */
}

/* The entry of name in table (names_lock held), created if absent. */
static struct named *lookup(struct named *table, int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    if (*n == MAX_NAMES) {
        fprintf(stderr, "kshim: more than %d fault sites or counters\n", MAX_NAMES);
        abort();
    }
    table[*n].name = strdup(name);
    table[*n].value = 0;
    if (table[*n].name == NULL)
        abort();
    return &table[(*n)++];
}

BOOLEAN kshim_fault(const char *site)
{
    LONG count;
    kshim_lazy_init();
    pthread_mutex_lock(&names_lock);
    count = ++lookup(sites, &nsites, site)->value;
    pthread_mutex_unlock(&names_lock);
    if (fault_site == NULL || (ULONG)count != fault_occurrence || strcmp(site, fault_site) != 0)
        return FALSE;
    InterlockedExchange(&fault_fired, 1);
    return TRUE;
}

const char *kshim_fault_site(ULONG *occurrence)
{
    kshim_lazy_init();
    if (occurrence != NULL)
        *occurrence = fault_occurrence;
    return fault_site;
}

BOOLEAN kshim_fault_fired(void)
{
    return fault_fired != 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

void kshim_fault_write_report(void)
{
    struct named copy[MAX_NAMES];
    int n;
    FILE *f;

    kshim_lazy_init();
    if (report_path == NULL)
        return;
    pthread_mutex_lock(&names_lock);
    n = nsites;
    memcpy(copy, sites, sizeof(copy[0]) * (size_t)n);
    qsort(copy, (size_t)n, sizeof(copy[0]), compare_names);
    f = fopen(report_path, "w");
    if (f == NULL) {
        pthread_mutex_unlock(&names_lock);
        fprintf(stderr, "kshim: cannot write the fault report %s\n", report_path);
        return;
    }
    for (int i = 0; i < n; i++)
        fprintf(f, "%s %d\n", copy[i].name, (int)copy[i].value);
    fclose(f);
    pthread_mutex_unlock(&names_lock);
}

ULONG kshim_seed(void)
{
    kshim_lazy_init();
    return seed;
}

/* splitmix64: the state advances atomically, the output is a mix of it. */
ULONG kshim_random(void)
{
    ULONGLONG z;
    kshim_lazy_init();
    z = __atomic_add_fetch(&random_state, 0x9e3779b97f4a7c15ull, __ATOMIC_RELAXED);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (ULONG)((z ^ (z >> 31)) >> 32);
}

void kshim_count(const char *name, LONG delta)
{
    pthread_mutex_lock(&names_lock);
    lookup(counters, &ncounters, name)->value += delta;
    pthread_mutex_unlock(&names_lock);
}

LONG kshim_counter(const char *name)
{
    LONG v = 0;
    pthread_mutex_lock(&names_lock);
    for (int i = 0; i < ncounters; i++)
        if (strcmp(counters[i].name, name) == 0)
            v = counters[i].value;
    pthread_mutex_unlock(&names_lock);
    return v;
}

int kshim_counters_report(const char *when)
{
    int lines = 0;
    pthread_mutex_lock(&names_lock);
    for (int i = 0; i < ncounters; i++) {
        if (counters[i].value == 0)
            continue;
        fprintf(stderr, "kshim: LEAK %s: counter %s = %d\n", when, counters[i].name,
                (int)counters[i].value);
        lines++;
    }
    pthread_mutex_unlock(&names_lock);
    return lines;
}

void kshim_get_stats(struct kshim_stats *stats)
{
    memset(stats, 0, sizeof(*stats));
    kshim_pool_stats(stats);
    stats->irps = kshim_irp_count();
    kshim_mdl_counts(&stats->mdls, &stats->locked_mdls);
    kshim_thread_counts(&stats->threads, &stats->handles);
}

static int report_count(const char *when, const char *what, LONG n)
{
    if (n == 0)
        return 0;
    fprintf(stderr, "kshim: LEAK %s: %d %s\n", when, (int)n, what);
    return 1;
}

int kshim_check_leaks(const char *when)
{
    struct kshim_stats st;
    int lines;

    if (when == NULL)
        when = "at exit";
    kshim_get_stats(&st);
    lines = kshim_pool_report(when);
    lines += report_count(when, "IRPs", st.irps);
    lines += report_count(when, "MDLs", st.mdls);
    lines += report_count(when, "locked MDLs", st.locked_mdls);
    lines += report_count(when, "system threads still running", st.threads);
    lines += report_count(when, "open handles", st.handles);
    lines += kshim_counters_report(when);
    fflush(stderr);
    return lines;
}
