/*
 * t_op.c - unit tests of the operation object (src/ks_op.c): one IRP
 * allocated once and reused, the interlocked handoff between the caller
 * and the completion routine (inline completion, completion before the
 * caller waits, after it parked), the timeout that cancels and still
 * waits for the completion, ks__op_cancel, providers that fail without
 * completing the IRP (Wine's stubs), the completion callback of the
 * asynchronous path, and the MDLs of ks__op_lock_buffer.
 *
 * The requests go to a fake provider of this file, which takes the IRP
 * as a driver below does (kshim_irp_take) and completes it when and where
 * a test says: inside the call, on another thread at DISPATCH_LEVEL at
 * once or once the caller sleeps, from its cancel routine, or never.
 * op-reuse follows the run's completion mode (KSHIM_COMPLETION): inline,
 * async, or a random mix.
 */
#include "tests.h"

#include "ks_op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wskprov.h>

#define T_BOUND_MS 10000

/* ---- the fake provider ---- */

enum how {
    HOW_INLINE,         /* completes inside the call, returns its status */
    HOW_INLINE_PENDING, /* completes inside the call, returns STATUS_PENDING (as Wine) */
    HOW_ASYNC,          /* pending; another thread completes it at once */
    HOW_PARKED,         /* pending; another thread completes it once the caller sleeps */
    HOW_STUB,           /* returns its status without taking the IRP (Wine's stubs) */
    HOW_CANCEL,         /* pending; its cancel routine completes it (STATUS_CANCELLED) */
    HOW_CANCEL_LATE,    /* pending; after its cancel routine, another thread completes it */
    HOW_IGNORE_CANCEL,  /* pending, no cancel routine; completes once Cancel is set */
    HOW_RACE            /* pending with a cancel routine; another thread completes it */
};

struct fake {
    ks_op *op;
    PIRP irp;
    WSK_BUF wbuf;            /* the request's buffer (Mdl NULL: none) */
    BOOLEAN provider_writes; /* a receive: the provider fills the buffer */
    unsigned seed;           /* of the pattern it writes */
    NTSTATUS status;
    ULONG_PTR info;
    enum how how;
    ht_thread *thread;
    KEVENT cancelled;               /* notification: the cancel routine ran */
    volatile LONG completions;      /* IoCompleteRequest calls (counted just before) */
    volatile LONG cancel_routines;  /* cancel routine calls */
    volatile LONG busy_when_parked; /* ks__op_busy seen by HOW_PARKED's thread */
    volatile LONG go;               /* HOW_RACE: released at once with a canceller */
};

/* The request whose cancel routine may run (one at a time). */
static struct fake *volatile g_cancel_fake;

static struct kshim_stats stats(void)
{
    struct kshim_stats s;
    kshim_get_stats(&s);
    return s;
}

/* The op idle with its MDL unlocked and freed (counts as in a). */
static void check_released(const ks_op *op, const struct kshim_stats *a, const char *what)
{
    struct kshim_stats b = stats();
    HT_EQ(op->state, KS_OP_IDLE, what);
    HT_CHECK(op->mdl == NULL, what, 0);
    HT_EQ(b.mdls, a->mdls, what);
    HT_EQ(b.locked_mdls, a->locked_mdls, what);
}

/* Polls cond (a state another thread sets) every millisecond, up to ms. */
static BOOLEAN until_state(volatile LONG *v, LONG want, int ms)
{
    LONGLONG end = ht_now_ms() + ms;
    while (*v != want && ht_now_ms() < end)
        ht_sleep_ms(1);
    return *v == want;
}

static BOOLEAN wait_event(KEVENT *e, int ms)
{
    LARGE_INTEGER t = ks__relative_ms((ULONG)ms);
    return KeWaitForSingleObject(e, Executive, KernelMode, FALSE, &t) == STATUS_WAIT_0;
}

/* Completes the request at irql as a provider does: checks its MDL is
 * locked, fills a receive's buffer through it on success. */
static void fake_complete(struct fake *f, NTSTATUS status, ULONG_PTR info, KIRQL irql)
{
    PMDL mdl = f->wbuf.Mdl;
    if (mdl != NULL) {
        kshim_mdl_check_locked(mdl, "the fake provider at completion");
        if (NT_SUCCESS(status) && f->provider_writes)
            ht_pattern((unsigned char *)kshim_mdl_system_address(mdl) + f->wbuf.Offset,
                       f->wbuf.Length, f->seed, 0);
    }
    f->irp->IoStatus.Status = status;
    f->irp->IoStatus.Information = info;
    InterlockedIncrement(&f->completions);
    KIRQL old = KeGetCurrentIrql();
    kshim_set_irql(irql);
    IoCompleteRequest(f->irp, IO_NO_INCREMENT);
    kshim_set_irql(old);
    /* f->op may be reaped and reused from here on. */
}

static void fake_cancel_routine(PDEVICE_OBJECT device, PIRP irp)
{
    struct fake *f = g_cancel_fake;
    (void)device;
    IoReleaseCancelSpinLock(irp->CancelIrql);
    InterlockedIncrement(&f->cancel_routines);
    if (f->how == HOW_CANCEL_LATE) {
        KeSetEvent(&f->cancelled, IO_NO_INCREMENT, FALSE);
        return;
    }
    fake_complete(f, STATUS_CANCELLED, 0, KeGetCurrentIrql());
}

static void fake_thread(void *p)
{
    struct fake *f = p;
    switch (f->how) {
    case HOW_PARKED:
        /* The caller sleeps on the event once the state is WAITING. */
        HT_CHECK(until_state(&f->op->state, KS_OP_WAITING, T_BOUND_MS), "the caller parked",
                 f->op->state);
        f->busy_when_parked = ks__op_busy(f->op);
        break;
    case HOW_CANCEL_LATE:
        HT_CHECK(wait_event(&f->cancelled, T_BOUND_MS), "the cancel routine ran", 0);
        /* A caller that returned without the completion would make the
         * op idle meanwhile: give it the chance to (a bounded look). */
        (void)until_state(&f->op->state, KS_OP_IDLE, 100);
        fake_complete(f, STATUS_CANCELLED, 0, DISPATCH_LEVEL);
        return;
    case HOW_IGNORE_CANCEL: {
        LONGLONG end = ht_now_ms() + T_BOUND_MS;
        while (!f->irp->Cancel && ht_now_ms() < end)
            ht_sleep_ms(1);
        HT_CHECK(f->irp->Cancel, "IoCancelIrp reached the IRP", 0);
        break;
    }
    case HOW_RACE:
        while (f->go == 0)
            ;
        /* Completion takes the IRP back from cancellation first. */
        if (IoSetCancelRoutine(f->irp, NULL) == NULL)
            return; /* the cancel routine completes it */
        break;
    default:
        break;
    }
    fake_complete(f, f->status, f->info, DISPATCH_LEVEL);
}

/* One WSK call on the fake provider: returns what the WSK function returns.
 * f's seed and provider_writes are kept (set them before); the rest is new. */
static NTSTATUS fake_call(struct fake *f, ks_op *op, PIRP irp, const WSK_BUF *wbuf, enum how how,
                          NTSTATUS status, ULONG_PTR info)
{
    unsigned seed = f->seed;
    BOOLEAN writes = f->provider_writes;
    memset(f, 0, sizeof(*f));
    f->seed = seed;
    f->provider_writes = writes;
    f->op = op;
    f->irp = irp;
    if (wbuf != NULL)
        f->wbuf = *wbuf;
    f->how = how;
    f->status = status;
    f->info = info;
    KeInitializeEvent(&f->cancelled, NotificationEvent, FALSE);
    if (how == HOW_STUB)
        return status;
    kshim_irp_take(irp);
    switch (how) {
    case HOW_INLINE:
        fake_complete(f, status, info, KeGetCurrentIrql());
        return status;
    case HOW_INLINE_PENDING:
        IoMarkIrpPending(irp);
        fake_complete(f, status, info, KeGetCurrentIrql());
        return STATUS_PENDING;
    case HOW_CANCEL:
    case HOW_CANCEL_LATE:
    case HOW_RACE:
        g_cancel_fake = f;
        IoMarkIrpPending(irp);
        IoSetCancelRoutine(irp, fake_cancel_routine);
        break;
    default:
        IoMarkIrpPending(irp);
        break;
    }
    if (how != HOW_CANCEL) {
        f->thread = ht_spawn(fake_thread, f);
        HT_CHECK(f->thread != NULL, "the fake provider's thread", how);
    }
    return STATUS_PENDING;
}

static void fake_join(struct fake *f)
{
    if (f->thread != NULL)
        HT_CHECK(ht_join(f->thread, T_BOUND_MS), "the fake provider's thread ended", f->how);
    f->thread = NULL;
}

/* ---- the completion callback ---- */

struct cb_seen {
    volatile LONG calls;
    NTSTATUS status;
    ULONG_PTR info;
    LONG state;
    KIRQL irql;
    KEVENT done; /* synchronization: set by each call */
};

static void cb_record(ks_op *op, NTSTATUS status, ULONG_PTR information, void *context)
{
    struct cb_seen *c = context;
    c->status = status;
    c->info = information;
    c->state = op->state;
    c->irql = KeGetCurrentIrql();
    InterlockedIncrement(&c->calls);
    KeSetEvent(&c->done, IO_NO_INCREMENT, FALSE);
}

static void cb_init(struct cb_seen *c)
{
    memset(c, 0, sizeof(*c));
    KeInitializeEvent(&c->done, SynchronizationEvent, FALSE);
}

/* ---- init and free ---- */

/* One IRP per operation, the op idle; its event a synchronization event
 * and not signalled; ks__op_cancel of an idle op touches nothing; free
 * gives the IRP back and may be repeated. */
static void t_op_init_free(void)
{
    static ks_op op;
    struct kshim_stats a = stats();
    memset(&op, 0xa5, sizeof(op)); /* ks__op_init must not rely on zeroed memory */
    HT_EQ(ks__op_init(&op), STATUS_SUCCESS, "ks__op_init");
    struct kshim_stats b = stats();
    HT_EQ(b.irps - a.irps, 1, "one IRP allocated");
    HT_CHECK(op.irp != NULL, "the op's IRP", 0);
    HT_EQ(op.state, KS_OP_IDLE, "idle");
    HT_CHECK(!ks__op_busy(&op), "not busy", 0);
    HT_CHECK(op.mdl == NULL && op.callback == NULL, "no MDL, no callback", 0);
    HT_EQ(op.done.Header.Type, KSHIM_OBJ_SYNCHRONIZATION_EVENT, "a synchronization event");
    HT_EQ(KeReadStateEvent(&op.done), 0, "not signalled");
    ks__op_cancel(&op);
    HT_CHECK(!op.irp->Cancel, "ks__op_cancel of an idle op cancels nothing", 0);
    ks__op_free(&op);
    HT_CHECK(op.irp == NULL, "IRP pointer cleared", 0);
    HT_EQ(stats().irps, a.irps, "the IRP freed");
    ks__op_free(&op); /* a second free is harmless */
    HT_EQ(stats().irps, a.irps, "nothing freed twice");
}

/* ---- the handoff ---- */

/* One request through a blocking ks__op_wait, checked at each step. */
static void handoff_once(ks_op *op, enum how how, BOOLEAN early, NTSTATUS status, ULONG_PTR info,
                         const char *what)
{
    struct fake f = {0};
    PIRP irp = ks__op_begin(op);
    HT_CHECK(irp == op->irp, "ks__op_begin returns the op's own IRP", how);
    HT_EQ(op->state, KS_OP_ISSUED, "issued after ks__op_begin");
    HT_CHECK(ks__op_busy(op), "busy once issued", how);
    NTSTATUS st = fake_call(&f, op, irp, NULL, how, status, info);
    if (early)
        fake_join(&f); /* completed before the caller looks */
    if (how == HOW_INLINE || how == HOW_INLINE_PENDING || early) {
        HT_EQ(op->state, KS_OP_DONE, "done before ks__op_wait");
        HT_CHECK(!ks__op_busy(op), "not busy once done", how);
        HT_EQ(KeReadStateEvent(&op->done), 0, "a completion before the wait sets no event");
    }
    ULONG_PTR got = 0xdead;
    NTSTATUS r = ks__op_wait(op, st, NULL, &got);
    fake_join(&f);
    if (r != status || got != (NT_SUCCESS(status) ? info : 0))
        printf("ht: handoff %s: status 0x%lx info %lu\n", what, (unsigned long)r,
               (unsigned long)got);
    HT_EQ(r, status, "ks__op_wait returns the IRP's status");
    HT_EQ(got, NT_SUCCESS(status) ? info : 0, "its Information (0 on failure)");
    HT_EQ(f.completions, 1, "completed once");
    HT_EQ(op->state, KS_OP_IDLE, "idle after ks__op_wait");
    HT_EQ(KeReadStateEvent(&op->done), 0, "no signal left behind");
    if (how == HOW_PARKED)
        HT_EQ(f.busy_when_parked, 1, "busy while the caller sleeps");
}

/* Each order of the caller and the completion routine: completed inside
 * the call (returning its status, or STATUS_PENDING as Wine does), on
 * another thread before ks__op_wait looks, after the caller went to sleep,
 * or racing it; successes and failures. A completion that finds no
 * sleeper sets no event, so the next request's wait is not cut short by
 * a stale signal. */
static void t_op_handoff(void)
{
    static ks_op op;
    HT_EQ(ks__op_init(&op), STATUS_SUCCESS, "ks__op_init");
    handoff_once(&op, HOW_INLINE, FALSE, STATUS_SUCCESS, 11, "inline");
    handoff_once(&op, HOW_INLINE_PENDING, FALSE, STATUS_SUCCESS, 12, "inline, pending returned");
    handoff_once(&op, HOW_ASYNC, TRUE, STATUS_SUCCESS, 13, "async, before the wait");
    handoff_once(&op, HOW_PARKED, FALSE, STATUS_SUCCESS, 14, "async, after the caller parked");
    handoff_once(&op, HOW_ASYNC, FALSE, STATUS_SUCCESS, 15, "async, racing the wait");
    handoff_once(&op, HOW_INLINE, FALSE, STATUS_CONNECTION_RESET, 16, "inline failure");
    handoff_once(&op, HOW_INLINE_PENDING, FALSE, STATUS_CONNECTION_RESET, 17, "inline failure");
    handoff_once(&op, HOW_ASYNC, TRUE, STATUS_CONNECTION_RESET, 18, "async failure, early");
    handoff_once(&op, HOW_PARKED, FALSE, STATUS_CONNECTION_RESET, 19, "parked failure");
    /* Early then parked, twice over: each wait gets its own result. */
    for (int i = 0; i < 4; i++) {
        handoff_once(&op, HOW_ASYNC, TRUE, STATUS_SUCCESS, 100 + (ULONG_PTR)i, "early");
        handoff_once(&op, HOW_PARKED, FALSE, STATUS_SUCCESS, 200 + (ULONG_PTR)i, "then parked");
    }
    /* information is optional. */
    struct fake f = {0};
    PIRP irp = ks__op_begin(&op);
    NTSTATUS st = fake_call(&f, &op, irp, NULL, HOW_INLINE, STATUS_SUCCESS, 5);
    HT_EQ(ks__op_wait(&op, st, NULL, NULL), STATUS_SUCCESS, "ks__op_wait without information");
    ks__op_free(&op);
}

/* ---- timeouts ---- */

/* A request still pending when the timeout expires is cancelled, and
 * ks__op_wait still waits for its completion (the provider may be writing
 * the buffer): STATUS_CANCELLED from a cancel routine that completes at
 * once or later, or whatever the provider completed with if it ignored
 * the cancel. A request completed in time is not cancelled; a zero
 * timeout cancels at once; the IRP is reusable after a cancel. */
static void t_op_timeout(void)
{
    static ks_op op;
    struct fake f = {0};
    ULONG_PTR info;
    LARGE_INTEGER t;
    HT_EQ(ks__op_init(&op), STATUS_SUCCESS, "ks__op_init");

    t = ks__relative_ms(20);
    NTSTATUS st = fake_call(&f, &op, ks__op_begin(&op), NULL, HOW_CANCEL, STATUS_SUCCESS, 1);
    HT_EQ(ks__op_wait(&op, st, &t, &info), STATUS_CANCELLED, "timed out: cancelled");
    HT_EQ(info, 0, "no Information");
    HT_EQ(f.cancel_routines, 1, "the cancel routine ran once");
    HT_EQ(f.completions, 1, "completed once");
    HT_EQ(op.state, KS_OP_IDLE, "idle");

    t = ks__relative_ms(20);
    st = fake_call(&f, &op, ks__op_begin(&op), NULL, HOW_CANCEL_LATE, STATUS_SUCCESS, 1);
    HT_EQ(ks__op_wait(&op, st, &t, &info), STATUS_CANCELLED, "cancelled, completed later");
    HT_EQ(f.completions, 1, "ks__op_wait returned only after the completion");
    fake_join(&f);

    t = ks__relative_ms(20);
    st = fake_call(&f, &op, ks__op_begin(&op), NULL, HOW_IGNORE_CANCEL, STATUS_SUCCESS, 5);
    HT_EQ(ks__op_wait(&op, st, &t, &info), STATUS_SUCCESS, "a provider that ignored the cancel");
    HT_EQ(info, 5, "its result is the IRP's");
    fake_join(&f);

    t = ks__relative_ms(T_BOUND_MS);
    st = fake_call(&f, &op, ks__op_begin(&op), NULL, HOW_PARKED, STATUS_SUCCESS, 6);
    HT_EQ(ks__op_wait(&op, st, &t, &info), STATUS_SUCCESS, "completed within the timeout");
    HT_EQ(info, 6, "its Information");
    HT_CHECK(!op.irp->Cancel, "not cancelled", 0);
    fake_join(&f);

    t.QuadPart = 0;
    st = fake_call(&f, &op, ks__op_begin(&op), NULL, HOW_CANCEL, STATUS_SUCCESS, 1);
    HT_EQ(ks__op_wait(&op, st, &t, &info), STATUS_CANCELLED, "a zero timeout cancels at once");

    t.QuadPart = 0;
    st = fake_call(&f, &op, ks__op_begin(&op), NULL, HOW_INLINE, STATUS_SUCCESS, 7);
    HT_EQ(ks__op_wait(&op, st, &t, &info), STATUS_SUCCESS, "completed inline: no wait, no cancel");
    HT_EQ(info, 7, "its Information");
    HT_CHECK(!op.irp->Cancel, "not cancelled", 0);
    ks__op_free(&op);
}

/* ---- ks__op_cancel ---- */

struct canceller {
    ks_op *op;
    volatile LONG *go; /* NULL: wait until the caller sleeps */
};

static void canceller_main(void *p)
{
    struct canceller *c = p;
    if (c->go != NULL) {
        while (*c->go == 0)
            ;
    } else {
        HT_CHECK(until_state(&c->op->state, KS_OP_WAITING, T_BOUND_MS), "the caller parked", 0);
    }
    ks__op_cancel(c->op);
}

/* ks__op_cancel cancels the request in flight, before the caller waits or
 * from another thread while it sleeps, and nothing otherwise (idle, or
 * completed and not yet collected); the next request is not cancelled. */
static void t_op_cancel(void)
{
    static ks_op op;
    struct fake f = {0};
    ULONG_PTR info;
    HT_EQ(ks__op_init(&op), STATUS_SUCCESS, "ks__op_init");

    NTSTATUS st = fake_call(&f, &op, ks__op_begin(&op), NULL, HOW_CANCEL, STATUS_SUCCESS, 1);
    ks__op_cancel(&op);
    HT_EQ(f.cancel_routines, 1, "cancelled before the wait");
    HT_EQ(ks__op_wait(&op, st, NULL, &info), STATUS_CANCELLED, "its result");

    struct canceller c = {&op, NULL};
    st = fake_call(&f, &op, ks__op_begin(&op), NULL, HOW_CANCEL, STATUS_SUCCESS, 1);
    ht_thread *t = ht_spawn(canceller_main, &c);
    HT_EQ(ks__op_wait(&op, st, NULL, &info), STATUS_CANCELLED,
          "a sleeping caller woken by another thread's cancel");
    HT_CHECK(ht_join(t, T_BOUND_MS), "canceller ended", 0);

    PIRP irp = ks__op_begin(&op);
    HT_CHECK(!irp->Cancel, "a new request starts uncancelled", 0);
    st = fake_call(&f, &op, irp, NULL, HOW_INLINE, STATUS_SUCCESS, 3);
    ks__op_cancel(&op); /* completed, not collected: nothing to cancel */
    HT_CHECK(!op.irp->Cancel, "a completed request is not cancelled", 0);
    HT_EQ(ks__op_wait(&op, st, NULL, &info), STATUS_SUCCESS, "its result");
    HT_EQ(info, 3, "its Information");
    ks__op_cancel(&op); /* idle */
    HT_CHECK(!op.irp->Cancel, "an idle op is not cancelled", 0);
    ks__op_free(&op);
}

/* A completion racing ks__op_cancel from another thread, 300 times: the
 * request ends once, succeeded or cancelled, and the wait returns that. */
static void t_op_cancel_race(void)
{
    static ks_op op;
    struct fake f = {0};
    int succeeded = 0, cancelled = 0;
    HT_EQ(ks__op_init(&op), STATUS_SUCCESS, "ks__op_init");
    for (int round = 0; round < 300; round++) {
        ULONG_PTR info = 0;
        NTSTATUS st = fake_call(&f, &op, ks__op_begin(&op), NULL, HOW_RACE, STATUS_SUCCESS, 7);
        struct canceller c = {&op, &f.go};
        ht_thread *t = ht_spawn(canceller_main, &c);
        InterlockedExchange(&f.go, 1);
        NTSTATUS r = ks__op_wait(&op, st, NULL, &info);
        HT_CHECK(ht_join(t, T_BOUND_MS), "canceller ended", round);
        fake_join(&f);
        HT_EQ(f.completions, 1, "completed once");
        HT_CHECK((r == STATUS_SUCCESS && info == 7) || (r == STATUS_CANCELLED && info == 0),
                 "succeeded or cancelled", r);
        succeeded += r == STATUS_SUCCESS;
        cancelled += r == STATUS_CANCELLED;
    }
    printf("ht: op-cancel-race: %d succeeded, %d cancelled\n", succeeded, cancelled);
    ks__op_free(&op);
}

/* ---- providers that fail without completing the IRP ---- */

/* A provider that returns an error without completing the IRP (Wine's
 * stubs): ks__op_wait returns it at once (a success without completion is
 * STATUS_INTERNAL_ERROR), ks__op_async_issued too, without ever calling
 * the callback; the MDL is released, the op idle and reusable. */
static void t_op_stub(void)
{
    static ks_op op;
    static unsigned char buf[100];
    struct fake f = {0};
    struct cb_seen cb;
    WSK_BUF wbuf;
    ULONG_PTR info;
    struct kshim_stats a = stats();
    HT_EQ(ks__op_init(&op), STATUS_SUCCESS, "ks__op_init");

    PIRP irp = ks__op_begin(&op);
    HT_EQ(ks__op_lock_buffer(&op, buf, sizeof(buf), IoReadAccess, &wbuf), STATUS_SUCCESS, "lock");
    NTSTATUS st = fake_call(&f, &op, irp, &wbuf, HOW_STUB, STATUS_NOT_SUPPORTED, 9);
    info = 1;
    HT_EQ(ks__op_wait(&op, st, NULL, &info), STATUS_NOT_SUPPORTED, "the stub's error");
    HT_EQ(info, 0, "no Information");
    check_released(&op, &a, "idle, MDL unlocked and freed after the stub's error");

    st = fake_call(&f, &op, ks__op_begin(&op), NULL, HOW_STUB, STATUS_SUCCESS, 9);
    HT_EQ(ks__op_wait(&op, st, NULL, &info), STATUS_INTERNAL_ERROR,
          "a success without completion is an internal error");

    cb_init(&cb);
    ks__op_set_callback(&op, cb_record, &cb);
    irp = ks__op_begin(&op);
    HT_EQ(ks__op_lock_buffer(&op, buf, sizeof(buf), IoWriteAccess, &wbuf), STATUS_SUCCESS, "lock");
    st = fake_call(&f, &op, irp, &wbuf, HOW_STUB, STATUS_NOT_IMPLEMENTED, 9);
    HT_EQ(ks__op_async_issued(&op, st), STATUS_NOT_IMPLEMENTED, "ks__op_async_issued: the error");
    HT_CHECK(op.callback == NULL, "callback cleared", 0);
    check_released(&op, &a, "idle, MDL unlocked and freed after an asynchronous stub");

    ks__op_set_callback(&op, cb_record, &cb);
    st = fake_call(&f, &op, ks__op_begin(&op), NULL, HOW_STUB, STATUS_SUCCESS, 9);
    HT_EQ(ks__op_async_issued(&op, st), STATUS_INTERNAL_ERROR, "async success without completion");
    HT_EQ(cb.calls, 0, "the callback never ran");

    st = fake_call(&f, &op, ks__op_begin(&op), NULL, HOW_INLINE, STATUS_SUCCESS, 4);
    HT_EQ(ks__op_wait(&op, st, NULL, &info), STATUS_SUCCESS, "the op works afterwards");
    HT_EQ(info, 4, "its Information");
    ks__op_free(&op);
}

/* ---- the completion callback ---- */

/* An asynchronous request: the callback runs once with the IRP's status
 * and Information while the op is DONE, inside the WSK call (inline) or
 * on the provider's thread at DISPATCH_LEVEL; ks__op_async_issued returns
 * STATUS_PENDING whatever the call returned once the IRP completed;
 * ks__op_reap returns the result (Information kept on failure), releases
 * the MDL, clears the callback and makes the op idle; the op's event is
 * never set on this path. */
static void t_op_callback(void)
{
    static ks_op op;
    static unsigned char buf[300];
    struct fake f = {0};
    struct cb_seen cb;
    WSK_BUF wbuf;
    ULONG_PTR info;
    struct kshim_stats a = stats();
    HT_EQ(ks__op_init(&op), STATUS_SUCCESS, "ks__op_init");
    const struct {
        enum how how;
        BOOLEAN early;
        NTSTATUS status;
        ULONG_PTR info;
    } cases[] = {
        {HOW_INLINE, FALSE, STATUS_SUCCESS, 11},
        {HOW_INLINE_PENDING, FALSE, STATUS_SUCCESS, 12},
        {HOW_INLINE, FALSE, STATUS_CONNECTION_RESET, 33},
        {HOW_ASYNC, FALSE, STATUS_SUCCESS, 14},
        {HOW_ASYNC, TRUE, STATUS_SUCCESS, 15},
        {HOW_ASYNC, FALSE, STATUS_CONNECTION_RESET, 16},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cb_init(&cb);
        ks__op_set_callback(&op, cb_record, &cb);
        PIRP irp = ks__op_begin(&op);
        HT_EQ(ks__op_lock_buffer(&op, buf, sizeof(buf), IoWriteAccess, &wbuf), STATUS_SUCCESS,
              "lock");
        f.seed = (unsigned)i;
        NTSTATUS st = fake_call(&f, &op, irp, &wbuf, cases[i].how, cases[i].status, cases[i].info);
        BOOLEAN inline_done = cases[i].how == HOW_INLINE || cases[i].how == HOW_INLINE_PENDING;
        if (inline_done)
            HT_EQ(cb.calls, 1, "the callback ran inside the call");
        if (cases[i].early)
            fake_join(&f);
        HT_EQ(ks__op_async_issued(&op, st), STATUS_PENDING, "ks__op_async_issued: pending");
        HT_CHECK(wait_event(&cb.done, T_BOUND_MS), "the callback ran", (long long)i);
        fake_join(&f);
        HT_EQ(cb.calls, 1, "once");
        HT_EQ(cb.status, cases[i].status, "with the IRP's status");
        HT_EQ(cb.info, cases[i].info, "and Information");
        HT_EQ(cb.state, KS_OP_DONE, "the op is DONE while it runs");
        HT_EQ(cb.irql, inline_done ? PASSIVE_LEVEL : DISPATCH_LEVEL,
              "at the completing thread's IRQL");
        HT_CHECK(op.mdl != NULL, "the MDL kept until the reap", (long long)i);
        info = 0;
        HT_EQ(ks__op_reap(&op, &info), cases[i].status, "ks__op_reap: the status");
        HT_EQ(info, cases[i].info, "and the Information (kept on failure)");
        HT_CHECK(op.callback == NULL, "callback cleared", (long long)i);
        check_released(&op, &a, "idle, MDL unlocked and freed after the reap");
        HT_EQ(KeReadStateEvent(&op.done), 0, "the op's event not used");
    }
    /* ks__op_reap without information. */
    cb_init(&cb);
    ks__op_set_callback(&op, cb_record, &cb);
    NTSTATUS st = fake_call(&f, &op, ks__op_begin(&op), NULL, HOW_INLINE, STATUS_SUCCESS, 1);
    HT_EQ(ks__op_async_issued(&op, st), STATUS_PENDING, "pending");
    HT_EQ(ks__op_reap(&op, NULL), STATUS_SUCCESS, "ks__op_reap without information");
    /* The callback is gone: a blocking request after it does not call it. */
    st = fake_call(&f, &op, ks__op_begin(&op), NULL, HOW_INLINE, STATUS_SUCCESS, 2);
    HT_EQ(ks__op_wait(&op, st, NULL, &info), STATUS_SUCCESS, "blocking request after a reap");
    HT_EQ(cb.calls, 1, "the reaped callback not called again");
    ks__op_free(&op);
}

/* ---- MDLs ---- */

/* ks__op_lock_buffer: a zero length gives an empty WSK_BUF and no MDL (the
 * buffer is not touched, NULL is fine); otherwise one MDL describing
 * exactly the buffer, locked while the request is in flight (the provider
 * checks it and writes through it) and unlocked and freed by ks__op_wait. */
static void t_op_mdl(void)
{
    static ks_op op;
    struct fake f = {0};
    WSK_BUF wbuf;
    ULONG_PTR info;
    unsigned char *big = malloc(4 * PAGE_SIZE);
    if (big == NULL)
        return;
    struct kshim_stats a = stats();
    HT_EQ(ks__op_init(&op), STATUS_SUCCESS, "ks__op_init");

    PIRP irp = ks__op_begin(&op);
    memset(&wbuf, 0x5a, sizeof(wbuf));
    HT_EQ(ks__op_lock_buffer(&op, NULL, 0, IoWriteAccess, &wbuf), STATUS_SUCCESS, "zero length");
    HT_CHECK(wbuf.Mdl == NULL && wbuf.Offset == 0 && wbuf.Length == 0, "an empty WSK_BUF", 0);
    HT_CHECK(op.mdl == NULL, "no MDL", 0);
    HT_EQ(stats().mdls, a.mdls, "none allocated");
    NTSTATUS st = fake_call(&f, &op, irp, &wbuf, HOW_INLINE, STATUS_SUCCESS, 0);
    HT_EQ(ks__op_wait(&op, st, NULL, &info), STATUS_SUCCESS, "zero-length request");

    const struct {
        size_t offset;
        ULONG len;
        LOCK_OPERATION access;
        enum how how;
    } cases[] = {
        {0, 100, IoWriteAccess, HOW_PARKED},
        {4093, 10 + 2 * PAGE_SIZE, IoWriteAccess, HOW_ASYNC}, /* crosses 3 page boundaries */
        {17, 1, IoReadAccess, HOW_INLINE},
        {PAGE_SIZE, PAGE_SIZE, IoReadAccess, HOW_INLINE_PENDING},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char *p = big + cases[i].offset;
        BOOLEAN receive = cases[i].access == IoWriteAccess;
        memset(big, 0, 4 * PAGE_SIZE);
        irp = ks__op_begin(&op);
        HT_EQ(ks__op_lock_buffer(&op, p, cases[i].len, cases[i].access, &wbuf), STATUS_SUCCESS,
              "ks__op_lock_buffer");
        HT_CHECK(wbuf.Mdl != NULL && wbuf.Mdl == op.mdl, "one MDL, the op's", (long long)i);
        HT_CHECK(wbuf.Offset == 0 && wbuf.Length == cases[i].len, "WSK_BUF offset and length",
                 (long long)wbuf.Length);
        if (wbuf.Mdl == NULL)
            continue;
        HT_CHECK(MmGetMdlVirtualAddress(wbuf.Mdl) == p, "the MDL starts at the buffer",
                 (long long)i);
        HT_EQ(MmGetMdlByteCount(wbuf.Mdl), cases[i].len, "and covers it");
        HT_CHECK((wbuf.Mdl->MdlFlags & MDL_PAGES_LOCKED) != 0, "its pages locked", (long long)i);
        HT_EQ(stats().mdls - a.mdls, 1, "one MDL allocated");
        HT_EQ(stats().locked_mdls - a.locked_mdls, 1, "one locked");
        f.seed = 40 + (unsigned)i;
        f.provider_writes = receive;
        NTSTATUS call = fake_call(&f, &op, irp, &wbuf, cases[i].how, STATUS_SUCCESS, cases[i].len);
        st = ks__op_wait(&op, call, NULL, &info);
        fake_join(&f);
        HT_EQ(st, STATUS_SUCCESS, "the request");
        HT_EQ(info, cases[i].len, "its Information");
        if (receive) {
            unsigned char *want = malloc(cases[i].len);
            if (want != NULL) {
                ht_pattern(want, cases[i].len, f.seed, 0);
                HT_CHECK(memcmp(p, want, cases[i].len) == 0,
                         "the provider's data landed in the buffer", (long long)i);
                size_t end = cases[i].offset + cases[i].len;
                HT_EQ((cases[i].offset > 0 ? p[-1] : 0) | (end < 4 * PAGE_SIZE ? big[end] : 0), 0,
                      "and nowhere else");
            }
            free(want);
        }
        check_released(&op, &a, "idle, MDL unlocked and freed by ks__op_wait");
    }
    ks__op_free(&op);
    free(big);
}

/* ---- allocation failures ---- */

/* Run with KSHIM_FAULT=irp.alloc:2 (the first allocation is ks_startup's
 * reserve IRP; then ks__op_init fails cleanly: no IRP,
 * ks__op_free harmless, the next init works) or KSHIM_FAULT=mdl.alloc:1
 * (ks__op_lock_buffer fails with no MDL; ks__op_wait with that status, as
 * the library calls it, returns it and leaves the op reusable). */
static void t_op_fault(void)
{
    static ks_op op;
    static unsigned char buf[64];
    ULONG n = 0;
    const char *site = kshim_fault_site(&n);
    struct kshim_stats a = stats();
    if (site != NULL && strcmp(site, "irp.alloc") == 0 && n == 2) {
        HT_EQ(ks__op_init(&op), STATUS_INSUFFICIENT_RESOURCES, "ks__op_init without an IRP");
        HT_CHECK(kshim_fault_fired(), "the fault fired", 0);
        HT_CHECK(op.irp == NULL, "no IRP", 0);
        HT_EQ(stats().irps, a.irps, "none allocated");
        ks__op_free(&op);
        HT_EQ(ks__op_init(&op), STATUS_SUCCESS, "the next ks__op_init");
        ks__op_free(&op);
        return;
    }
    HT_CHECK(site != NULL && strcmp(site, "mdl.alloc") == 0 && n == 1,
             "run with KSHIM_FAULT=irp.alloc:2 or mdl.alloc:1", 0);
    struct fake f = {0};
    WSK_BUF wbuf;
    ULONG_PTR info = 1;
    HT_EQ(ks__op_init(&op), STATUS_SUCCESS, "ks__op_init");
    (void)ks__op_begin(&op);
    NTSTATUS st = ks__op_lock_buffer(&op, buf, sizeof(buf), IoReadAccess, &wbuf);
    HT_EQ(st, STATUS_INSUFFICIENT_RESOURCES, "ks__op_lock_buffer without an MDL");
    HT_CHECK(kshim_fault_fired(), "the fault fired", 0);
    HT_CHECK(wbuf.Mdl == NULL && op.mdl == NULL, "no MDL", 0);
    HT_EQ(stats().mdls, a.mdls, "none allocated");
    HT_EQ(ks__op_wait(&op, st, NULL, &info), STATUS_INSUFFICIENT_RESOURCES,
          "ks__op_wait of the request never issued");
    HT_EQ(info, 0, "no Information");
    HT_EQ(op.state, KS_OP_IDLE, "idle");
    PIRP irp = ks__op_begin(&op);
    HT_EQ(ks__op_lock_buffer(&op, buf, sizeof(buf), IoReadAccess, &wbuf), STATUS_SUCCESS,
          "the next lock");
    st = fake_call(&f, &op, irp, &wbuf, HOW_INLINE, STATUS_SUCCESS, sizeof(buf));
    HT_EQ(ks__op_wait(&op, st, NULL, &info), STATUS_SUCCESS, "the next request");
    HT_EQ(stats().mdls, a.mdls, "MDL freed");
    ks__op_free(&op);
}

static const struct ht_run fault_runs[] = {
    {"_irp", "KSHIM_FAULT=irp.alloc:2"},
    {"_mdl", "KSHIM_FAULT=mdl.alloc:1"},
    {NULL, NULL},
};

/* The reserve IRP (run with KSHIM_FAULT=irp.alloc:2: ks_startup took the
 * reserve with the first allocation, the next one fails): an op that must
 * not fail (WskCloseSocket) borrows it, a request runs on it, ks__op_drop
 * gives it back without freeing it, and the op takes its own IRP again
 * once memory is there. */
static void t_op_reserve(void)
{
    static ks_op op;
    static unsigned char buf[16];
    struct fake f = {0};
    WSK_BUF wbuf;
    ULONG_PTR info = 0;
    ULONG n = 0;
    const char *site = kshim_fault_site(&n);
    HT_CHECK(site != NULL && strcmp(site, "irp.alloc") == 0 && n == 2,
             "run with KSHIM_FAULT=irp.alloc:2", 0);
    ks__op_init_lazy(&op);
    HT_CHECK(op.irp == NULL, "no IRP before the first request", 0);
    struct kshim_stats a = stats();
    ks__op_prepare_reserved(&op);
    HT_CHECK(kshim_fault_fired(), "the allocation failed", 0);
    HT_CHECK(op.irp != NULL && ks__op_has_reserve(&op), "the reserve is lent", 0);
    HT_EQ(stats().irps, a.irps, "no IRP allocated");
    PIRP irp = ks__op_begin(&op);
    HT_EQ(ks__op_lock_buffer(&op, buf, sizeof(buf), IoReadAccess, &wbuf), STATUS_SUCCESS, "lock");
    NTSTATUS st = fake_call(&f, &op, irp, &wbuf, HOW_ASYNC, STATUS_SUCCESS, sizeof(buf));
    HT_EQ(ks__op_wait(&op, st, NULL, &info), STATUS_SUCCESS, "a request on the reserve IRP");
    HT_EQ(info, sizeof(buf), "its result");
    fake_join(&f);
    ks__op_drop(&op);
    HT_CHECK(op.irp == NULL && !ks__op_has_reserve(&op), "given back", 0);
    HT_EQ(stats().irps, a.irps, "the reserve is kept, not freed");
    ks__op_prepare_reserved(&op);
    HT_CHECK(op.irp != NULL && !ks__op_has_reserve(&op), "memory again: the op's own IRP", 0);
    HT_EQ(stats().irps, a.irps + 1, "one IRP allocated");
    ks__op_drop(&op);
    HT_EQ(stats().irps, a.irps, "and freed");
}

static const struct ht_run reserve_runs[] = {
    {"", "KSHIM_FAULT=irp.alloc:2"},
    {NULL, NULL},
};

/* ---- reuse, in the run's completion mode ---- */

/* How the fake provider completes request i in the run's mode: inline
 * (returning the status or STATUS_PENDING), async (at once or once the
 * caller sleeps), or a random mix of all four. */
static enum how mode_how(int i, BOOLEAN blocking)
{
    switch (wskprov_completion_mode()) {
    case WSKPROV_COMPLETION_INLINE:
        return (i & 1) != 0 ? HOW_INLINE_PENDING : HOW_INLINE;
    case WSKPROV_COMPLETION_ASYNC:
        return (i & 1) != 0 && blocking ? HOW_PARKED : HOW_ASYNC;
    default: {
        enum how h = (enum how)(kshim_random() % 4);
        return h == HOW_PARKED && !blocking ? HOW_ASYNC : h;
    }
    }
}

/* 1,500 requests through one op, blocking and asynchronous, with and
 * without buffers (0 to 5,000 bytes, sent or received), succeeding or
 * failing, completed as the run's mode says: each gets its own result and
 * data, the op's single IRP serves them all, nothing is left locked or
 * allocated, and no signal is left on the op's event after any of them. */
static void t_op_reuse(void)
{
    enum { ROUNDS = 1500 };
    static ks_op op;
    static unsigned char buf[5001], expect[5000];
    static const ULONG lens[] = {0, 1, 100, 4096, 5000};
    struct fake f = {0};
    struct cb_seen cb;
    ULONG_PTR info;
    int bad = 0, bad_data = 0, left = 0, stale = 0;
    HT_EQ(ks__op_init(&op), STATUS_SUCCESS, "ks__op_init");
    struct kshim_stats a = stats();
    PIRP the_irp = op.irp;
    for (int i = 0; i < ROUNDS; i++) {
        BOOLEAN blocking = (i % 3) != 2;
        ULONG len = lens[i % 5];
        BOOLEAN receive = (i & 4) != 0;
        NTSTATUS want = i % 7 == 6 ? STATUS_CONNECTION_RESET : STATUS_SUCCESS;
        enum how how = mode_how(i, blocking);
        WSK_BUF wbuf;
        if (!blocking) {
            cb_init(&cb);
            ks__op_set_callback(&op, cb_record, &cb);
        }
        PIRP irp = ks__op_begin(&op);
        memset(buf, 0, sizeof(buf));
        if (ks__op_lock_buffer(&op, buf, len, receive ? IoWriteAccess : IoReadAccess, &wbuf) !=
            STATUS_SUCCESS)
            bad++;
        f.seed = (unsigned)i;
        f.provider_writes = receive;
        NTSTATUS st = fake_call(&f, &op, irp, &wbuf, how, want, 1000 + (ULONG_PTR)i);
        NTSTATUS r;
        info = 0;
        if (blocking) {
            LARGE_INTEGER t = ks__relative_ms(T_BOUND_MS);
            r = ks__op_wait(&op, st, (i & 8) != 0 ? &t : NULL, &info);
            bad += info != (NT_SUCCESS(want) ? 1000 + (ULONG_PTR)i : 0);
        } else {
            bad += ks__op_async_issued(&op, st) != STATUS_PENDING;
            bad += !wait_event(&cb.done, T_BOUND_MS);
            fake_join(&f);
            r = ks__op_reap(&op, &info);
            bad += cb.calls != 1 || cb.status != want;
            bad += info != 1000 + (ULONG_PTR)i;
        }
        fake_join(&f);
        bad += r != want || f.completions != 1;
        if (receive && NT_SUCCESS(want)) {
            ht_pattern(expect, len, f.seed, 0);
            bad_data += memcmp(buf, expect, len) != 0 || buf[len] != 0;
        }
        left += op.state != KS_OP_IDLE || op.mdl != NULL || op.callback != NULL;
        stale += KeReadStateEvent(&op.done) != 0;
        struct kshim_stats b = stats();
        left += b.mdls != a.mdls || b.locked_mdls != a.locked_mdls || b.irps != a.irps;
        left += op.irp != the_irp;
    }
    HT_EQ(bad, 0, "every request's own status and Information");
    HT_EQ(bad_data, 0, "every receive's data where it belongs");
    HT_EQ(left, 0, "idle, nothing locked, one IRP throughout");
    HT_EQ(stale, 0, "no signal left on the op's event");
    ks__op_free(&op);
}

const struct ht_test op_tests[] = {
    {"op-init-free", t_op_init_free, ht_runs_once},
    {"op-handoff", t_op_handoff, ht_runs_once},
    {"op-timeout", t_op_timeout, ht_runs_once},
    {"op-cancel", t_op_cancel, ht_runs_once},
    {"op-cancel-race", t_op_cancel_race, ht_runs_once},
    {"op-stub", t_op_stub, ht_runs_once},
    {"op-callback", t_op_callback, ht_runs_once},
    {"op-mdl", t_op_mdl, ht_runs_once},
    {"op-fault", t_op_fault, fault_runs},
    {"op-reserve", t_op_reserve, reserve_runs},
    {"op-reuse", t_op_reuse, ht_runs_modes},
};
const int op_test_count = (int)(sizeof(op_tests) / sizeof(op_tests[0]));
