/*
 * ks_library.c - ks_startup and ks_cleanup: the library's top layer, the
 * only code that drives every other one (docs/design.md, "Layers").
 *
 * ks_startup registers the higher layers' socket hooks, then the provider,
 * opens the descriptor table and sets the library running. ks_cleanup
 * stops new sockets, closes what the caller left open under one deadline,
 * cancels name resolutions, waits for every live socket (rundown), stops
 * the completion threads and deregisters.
 */
#include "ks_aio.h"
#include "ks_events.h"
#include "ks_fdtable.h"
#include "ks_provider.h"
#include "ks_ready.h"
#include "ks_resolve.h"
#include "ks_rundown.h"
#include "ks_work.h"

/* Serialises ks_startup/ks_cleanup. A ks_static_lock: it is taken before
 * anything is initialised (ks_startup may be the first call). */
static ks_static_lock g_api_lock;
static LONG g_startups; /* (g_api_lock) */

int ks_startup(void)
{
    if (!ks__can_block())
        return -EPERM;
    ks__static_lock_acquire(&g_api_lock);
    KS_ASSERT(g_startups >= 0);
    if (g_startups > 0) {
        g_startups++;
        ks__static_lock_release(&g_api_lock);
        return 0;
    }
    /* Before any socket can exist (the library is stopped). */
    ks__aio_register();
    ks__ready_register();
    ks__events_register();
    int err = ks__provider_start();
    if (err != 0) {
        ks__static_lock_release(&g_api_lock);
        return err;
    }
    ks__fdtable_init();
    g_startups = 1;
    ks__provider_set_running(TRUE);
    ks__static_lock_release(&g_api_lock);
    return 0;
}

/* Closes whatever the caller left open, all at once: their orderly waits
 * (sends in flight, graceful disconnects) run together and share one
 * deadline, so the total is bounded whatever their number; past it the
 * rest closes abortively. Blocked threads wake with -EBADF. */
static void close_all_sockets(void)
{
    ks_deadline until = ks__deadline_in(KS_CLEANUP_CLOSE_MS);
    LIST_ENTRY started;
    InitializeListHead(&started);
    ks_sock *s;
    while ((s = ks__fd_remove_any()) != NULL) {
        if (ks__sock_close_start(s, &until)) {
            /* Ordered nesting: the closes below take other sockets' locks
             * while s's ctl lock is held (design.md, "Lock order"). */
            KS_LOCK_NEST_BEGIN(&s->ctl_lock);
            InsertTailList(&started, &s->cleanup_link);
        } else {
            ks__sock_put(s);
        }
    }
    while (!IsListEmpty(&started)) {
        s = CONTAINING_RECORD(RemoveHeadList(&started), ks_sock, cleanup_link);
        ks__sock_close_finish(s, &until);
        ks__sock_put(s);
    }
}

void ks_cleanup(void)
{
    if (!ks__can_block())
        return;
    if (ks__work_on_worker()) {
        /* It waits for every callback, including the caller's. */
        DbgPrint("wsksock: ks_cleanup called from a completion callback: ignored\n");
        return;
    }
    ks__static_lock_acquire(&g_api_lock);
    if (g_startups == 0 || --g_startups > 0) {
        ks__static_lock_release(&g_api_lock);
        return;
    }
    /* No new descriptors or sockets from here on. */
    ks__provider_set_running(FALSE);
    ks__fdtable_set_open(FALSE);
    close_all_sockets();
    /* Name resolutions in flight count as live sockets: cancel them. */
    ks__query_cancel_all();
    /* Threads that were inside calls still hold references (and accept may
     * hold a socket not yet in the table): they are all returning now. */
    ks__provider_wait_sockets();
    /* Every asynchronous request and event delivery held a socket: none is
     * left, and nothing can post work any more. */
    ks__work_stop();
    ks__provider_stop();
    ks__fdtable_destroy();
    ks__static_lock_release(&g_api_lock);
}
