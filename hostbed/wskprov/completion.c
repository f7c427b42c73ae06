/*
 * completion.c - the completion engine: the completion mode (async, inline,
 * mixed), the provider's I/O thread (epoll readiness of every socket, and
 * the queue of completions posted by client threads), IRP hand-over and
 * completion at the documented IRQL, and one-time initialisation.
 *
 * "Using IRPs with Winsock Kernel Functions": the WSK subsystem completes
 * the IRP when the operation is done; the WSK function returns STATUS_PENDING
 * if it has not completed the IRP yet, else the status the IRP completed
 * with. Completion routines may run at DISPATCH_LEVEL, which is where the
 * provider's own threads run them (kshim_set_irql around IoCompleteRequest).
 */
#include "wp.h"

#include <stdlib.h>
#include <string.h>

struct posted {
    LIST_ENTRY link;
    PIRP irp; /* NULL: a kick (service sock) */
    NTSTATUS status;
    ULONG_PTR information;
    struct wp_sock *sock; /* referenced, or NULL */
    struct wp_reg *reg;   /* wp_reg_socket_removed after completion, or NULL */
};

static struct {
    volatile LONG init; /* 0 no, 1 in progress, 2 done */
    pn_mutex lock;      /* posted */
    LIST_ENTRY posted;
    int ep;
    int wake;
    volatile LONG mode; /* WSKPROV_COMPLETION_MODE, -1 not read yet */
    LIST_ENTRY polled;  /* (lock) struct polled: sockets serviced on a timer */
} g = {.mode = -1};

#define POLL_MS 10

struct polled {
    LIST_ENTRY link;
    struct wp_sock *sock; /* referenced */
};

static _Thread_local BOOLEAN tl_provider;

BOOLEAN wp_on_provider_thread(void)
{
    return tl_provider;
}

void wp_enter_provider_thread(void)
{
    tl_provider = TRUE;
}

static LONG read_mode(void)
{
    const char *env = pn_getenv("KSHIM_COMPLETION");
    if (env == NULL || env[0] == '\0' || strcmp(env, "mixed") == 0)
        return WSKPROV_COMPLETION_MIXED;
    if (strcmp(env, "async") == 0)
        return WSKPROV_COMPLETION_ASYNC;
    if (strcmp(env, "inline") == 0)
        return WSKPROV_COMPLETION_INLINE;
    pn_log("wskprov: KSHIM_COMPLETION=%s is not async, inline or mixed; using mixed", env);
    return WSKPROV_COMPLETION_MIXED;
}

WSKPROV_COMPLETION_MODE wskprov_completion_mode(void)
{
    LONG mode = g.mode;
    if (mode < 0) {
        LONG m = read_mode();
        InterlockedCompareExchange(&g.mode, m, -1);
        mode = g.mode;
    }
    return (WSKPROV_COMPLETION_MODE)mode;
}

void wskprov_set_completion_mode(WSKPROV_COMPLETION_MODE mode)
{
    InterlockedExchange(&g.mode, (LONG)mode);
}

void wp_take_irp(PIRP irp, const char *function)
{
    if (irp == NULL)
        kshim_violation("%s: Irp is NULL (WSK functions complete through a caller-allocated "
                        "IRP: \"Using IRPs with Winsock Kernel Functions\")",
                        function);
    kshim_irp_take(irp);
}

void wp_complete_now(PIRP irp, NTSTATUS status, ULONG_PTR information, struct wp_sock *sock)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    if (tl_provider) {
        /* Windows may call completion routines at DISPATCH_LEVEL. A client's
         * event callback (already at DISPATCH_LEVEL) may get here through
         * a call it makes: its IRQL is kept. */
        KIRQL old = KeGetCurrentIrql();
        kshim_set_irql(DISPATCH_LEVEL);
        IoCompleteRequest(irp, IO_NO_INCREMENT);
        kshim_set_irql(old);
    } else {
        IoCompleteRequest(irp, IO_NO_INCREMENT);
    }
    if (sock != NULL)
        wp_sock_irp_done(sock);
}

BOOLEAN wp_complete_mode(PIRP irp, NTSTATUS status, ULONG_PTR information, struct wp_sock *sock,
                         BOOLEAN force_async, struct wp_reg *reg)
{
    BOOLEAN now = tl_provider;
    if (!now && !force_async) {
        WSKPROV_COMPLETION_MODE mode = wskprov_completion_mode();
        now = mode == WSKPROV_COMPLETION_INLINE ||
              (mode == WSKPROV_COMPLETION_MIXED && (kshim_random() & 1) != 0);
    }
    struct posted *p = now ? NULL : malloc(sizeof(*p));
    if (p == NULL) {
        wp_complete_now(irp, status, information, sock);
        if (reg != NULL)
            wp_reg_socket_removed(reg);
        return TRUE;
    }
    /* Pending before another thread can see the IRP. */
    IoMarkIrpPending(irp);
    p->irp = irp;
    p->status = status;
    p->information = information;
    p->sock = sock;
    p->reg = reg;
    if (sock != NULL)
        wp_sock_ref(sock);
    pn_mutex_lock(&g.lock);
    InsertTailList(&g.posted, &p->link);
    pn_mutex_unlock(&g.lock);
    pn_eventfd_signal(g.wake);
    return FALSE;
}

BOOLEAN wp_complete(PIRP irp, NTSTATUS status, ULONG_PTR information, struct wp_sock *sock)
{
    return wp_complete_mode(irp, status, information, sock, FALSE, NULL);
}

static void run_posted(void)
{
    for (;;) {
        pn_mutex_lock(&g.lock);
        if (IsListEmpty(&g.posted)) {
            pn_mutex_unlock(&g.lock);
            return;
        }
        struct posted *p = CONTAINING_RECORD(RemoveHeadList(&g.posted), struct posted, link);
        pn_mutex_unlock(&g.lock);
        if (p->irp == NULL) {
            wp_sock_service(p->sock);
            wp_sock_unref(p->sock);
            free(p);
            continue;
        }
        wp_complete_now(p->irp, p->status, p->information, p->sock);
        if (p->sock != NULL)
            wp_sock_unref(p->sock);
        if (p->reg != NULL)
            wp_reg_socket_removed(p->reg);
        free(p);
    }
}

void wp_engine_kick(struct wp_sock *s)
{
    struct posted *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        wp_engine_poll(s); /* serviced on the timer instead */
        return;
    }
    p->sock = s;
    wp_sock_ref(s);
    pn_mutex_lock(&g.lock);
    InsertTailList(&g.posted, &p->link);
    pn_mutex_unlock(&g.lock);
    pn_eventfd_signal(g.wake);
}

void wp_engine_poll(struct wp_sock *s)
{
    pn_mutex_lock(&g.lock);
    for (LIST_ENTRY *e = g.polled.Flink; e != &g.polled; e = e->Flink)
        if (CONTAINING_RECORD(e, struct polled, link)->sock == s) {
            pn_mutex_unlock(&g.lock);
            return;
        }
    struct polled *p = malloc(sizeof(*p));
    if (p != NULL) {
        p->sock = s;
        wp_sock_ref(s);
        InsertTailList(&g.polled, &p->link);
    }
    pn_mutex_unlock(&g.lock);
    pn_eventfd_signal(g.wake);
}

/* Services the polled sockets; drops those with nothing left to wait for. */
static void run_polled(void)
{
    LIST_ENTRY list;
    InitializeListHead(&list);
    pn_mutex_lock(&g.lock);
    while (!IsListEmpty(&g.polled))
        InsertTailList(&list, RemoveHeadList(&g.polled));
    pn_mutex_unlock(&g.lock);
    /* Each entry is queued again or freed on the way: walk by saved links. */
    LIST_ENTRY *next;
    for (LIST_ENTRY *e = list.Flink; e != &list; e = next) {
        next = e->Flink;
        struct polled *p = CONTAINING_RECORD(e, struct polled, link);
        wp_sock_service(p->sock);
        pn_mutex_lock(&p->sock->lock);
        BOOLEAN waiting = !IsListEmpty(&p->sock->txq);
        pn_mutex_unlock(&p->sock->lock);
        if (waiting) {
            pn_mutex_lock(&g.lock);
            InsertTailList(&g.polled, &p->link);
            pn_mutex_unlock(&g.lock);
        } else {
            wp_sock_unref(p->sock);
            free(p);
        }
    }
}

/* The I/O thread: readiness of sockets, then posted completions, and the
 * polled sockets every POLL_MS while there are any. Runs for the life of
 * the process. */
static void io_thread(void *arg)
{
    struct pn_event ev[64];
    uint64_t next_poll = 0;
    (void)arg;
    wp_enter_provider_thread();
    for (;;) {
        pn_mutex_lock(&g.lock);
        BOOLEAN polling = !IsListEmpty(&g.polled);
        pn_mutex_unlock(&g.lock);
        int n = pn_epoll_wait(g.ep, ev, 64, polling ? POLL_MS : -1);
        for (int i = 0; i < n; i++) {
            if (ev[i].ctx == NULL) {
                pn_eventfd_drain(g.wake);
                continue;
            }
            /* The socket may have been closed since the event was queued. */
            struct wp_sock *s = wp_sock_ref_if_live(ev[i].ctx);
            if (s != NULL) {
                wp_sock_service(s);
                wp_sock_unref(s);
            }
        }
        run_posted();
        if (polling && pn_now_ms() >= next_poll) {
            run_polled();
            next_poll = pn_now_ms() + POLL_MS;
        }
    }
}

void wp_engine_watch(int fd, struct wp_sock *s)
{
    int e = pn_epoll_add(g.ep, fd, s, 1);
    if (e != 0)
        pn_log("wskprov: epoll_ctl(ADD, %d) failed (%d)", fd, e);
}

struct thread_start {
    void (*fn)(void *);
    void *arg;
};

static void provider_thread(void *p)
{
    struct thread_start s = *(struct thread_start *)p;
    free(p);
    wp_enter_provider_thread();
    s.fn(s.arg);
}

NTSTATUS wp_run_thread(void (*fn)(void *), void *arg)
{
    struct thread_start *s = malloc(sizeof(*s));
    if (s == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    s->fn = fn;
    s->arg = arg;
    if (pn_thread_start(provider_thread, s) != 0) {
        free(s);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    return STATUS_SUCCESS;
}

static void fatal(const char *what, int err)
{
    kshim_violation("wskprov: cannot start the provider: %s failed (%d)", what, err);
}

void wp_engine_start(void)
{
    pn_mutex_init(&g.lock);
    InitializeListHead(&g.posted);
    InitializeListHead(&g.polled);
    g.ep = pn_epoll_create();
    if (g.ep < 0)
        fatal("epoll_create", g.ep);
    g.wake = pn_eventfd_create();
    if (g.wake < 0)
        fatal("eventfd", g.wake);
    int e = pn_epoll_add(g.ep, g.wake, NULL, 0);
    if (e != 0)
        fatal("epoll_ctl", e);
    e = pn_thread_start(io_thread, NULL);
    if (e != 0)
        fatal("pthread_create", e);
}

/* Everything the provider needs before its first use, once; callers race
 * only at start-up, so the losers simply wait for the winner. */
void wp_init_once(void)
{
    if (g.init == 2)
        return;
    if (InterlockedCompareExchange(&g.init, 1, 0) == 0) {
        kshim_init();
        wp_socket_init();
        wp_events_init();
        wp_provider_init();
        wp_engine_start();
        (void)wskprov_completion_mode();
        InterlockedExchange(&g.init, 2);
        return;
    }
    while (g.init != 2)
        YieldProcessor();
}
