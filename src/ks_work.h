/*
 * ks_work.h - the library's threads: completion threads and blocking-call
 * threads.
 *
 * Asynchronous completions (ks_aio.c) and event deliveries (ks_events.c)
 * run user callbacks at PASSIVE_LEVEL on a small fixed set of system
 * threads the library owns, never on the provider's thread (which may be at
 * DISPATCH_LEVEL) and never inside the call that submitted the work. Items
 * are posted from any IRQL <= DISPATCH_LEVEL and run in FIFO order by
 * whichever thread is free. Calls that can only be made blocking (name
 * resolution, the orderly close) run on a second pool, so that they never
 * hold up the completion threads; their callbacks are then posted to the
 * completion threads.
 *
 * Lifetime: the threads start at the first ks__work_start() after
 * ks_startup and stop in ks_cleanup (ks__work_stop), after every socket is
 * gone, so nothing can post work any more.
 */
#ifndef KS_WORK_H
#define KS_WORK_H

#include "ks_kernel.h"

/* Number of threads of each pool. */
#define KS_WORK_THREADS 2

typedef struct ks_work ks_work;
typedef _IRQL_requires_(PASSIVE_LEVEL) void ks_work_fn(_Inout_ ks_work *work);

struct ks_work {
    LIST_ENTRY entry;
    ks_work_fn *fn; /* runs at PASSIVE_LEVEL on a completion thread */
};

/* Starts the threads if they are not running. 0, or -ENOMEM / -ENETDOWN
 * (library stopping). PASSIVE_LEVEL. */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
int ks__work_start(void);
/* Queues work (its fn set; the threads started) for a completion thread,
 * or for a blocking-call thread. IRQL <= DISPATCH_LEVEL. */
_IRQL_requires_max_(DISPATCH_LEVEL) void ks__work_post(_Inout_ ks_work *work);
/* The blocking-call pool refuses work once ks_cleanup is stopping it:
 * -ENETDOWN (work is not run), else 0. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
int ks__work_post_blocking(_Inout_ ks_work *work);
/* TRUE on one of the library's threads. */
BOOLEAN ks__work_on_worker(void);
/* TRUE on one of the completion threads (where every user callback runs),
 * also while ks_cleanup stops them. IRQL: any. */
BOOLEAN ks__work_on_completion_thread(void);
/* Stops the threads after running what is queued; waits for them.
 * PASSIVE_LEVEL, not on a completion thread. */
_IRQL_requires_max_(PASSIVE_LEVEL) void ks__work_stop(void);

#endif /* KS_WORK_H */
