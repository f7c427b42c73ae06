/*
 * thread.c - threads, handles and object references. Every thread gets a
 * unique id (a multiple of 4, as Windows thread ids) and, when asked for, a
 * thread object; system threads (PsCreateSystemThread) run their start
 * routine on a detached pthread at PASSIVE_LEVEL, and their object (a
 * dispatcher object) becomes signalled when they end.
 *
 * Objects are reference counted: a handle holds one reference (ZwClose
 * drops it), ObReferenceObject(ByHandle) takes more, and a running system
 * thread holds one on its own object; the object is freed at 0. Handles
 * are kernel handles (0xffffffff80000000 | 4 * slot) into one table shared
 * with registry key handles (registry.c).
 */
#include "kshim_internal.h"

#include <stdlib.h>

struct _OBJECT_TYPE {
    const char *name;
};
static struct _OBJECT_TYPE thread_type = {"Thread"};
static struct _OBJECT_TYPE event_type = {"Event"};
static POBJECT_TYPE thread_type_ptr = &thread_type;
static POBJECT_TYPE event_type_ptr = &event_type;
POBJECT_TYPE *PsThreadType = &thread_type_ptr;
POBJECT_TYPE *ExEventObjectType = &event_type_ptr;

#define HANDLE_BASE 0xffffffff80000000ull

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kshim_object **handles;
static size_t handle_slots;
static LONG open_handles;
static LONG running_threads; /* dispatcher lock */

static volatile LONG next_thread_id;
static __thread ULONG_PTR my_id;
static __thread struct _KTHREAD *my_thread;

ULONG_PTR kshim_thread_id(void)
{
    if (my_id == 0)
        my_id = (ULONG_PTR)InterlockedAdd(&next_thread_id, 4);
    return my_id;
}

void kshim_thread_counts(LONG *threads, LONG *handle_count)
{
    kshim_dispatcher_lock();
    *threads = running_threads;
    kshim_dispatcher_unlock();
    pthread_mutex_lock(&table_lock);
    *handle_count = open_handles;
    pthread_mutex_unlock(&table_lock);
}

/* ---- handles ---- */

HANDLE kshim_handle_create(struct kshim_object *object)
{
    size_t i;
    pthread_mutex_lock(&table_lock);
    for (i = 0; i < handle_slots && handles[i] != NULL; i++)
        ;
    if (i == handle_slots) {
        size_t n = handle_slots ? handle_slots * 2 : 64;
        struct kshim_object **grown = realloc(handles, n * sizeof(struct kshim_object *));
        if (grown == NULL) {
            pthread_mutex_unlock(&table_lock);
            return NULL;
        }
        memset(grown + handle_slots, 0, (n - handle_slots) * sizeof(struct kshim_object *));
        handles = grown;
        handle_slots = n;
    }
    handles[i] = object;
    open_handles++;
    InterlockedIncrement(&object->refs);
    pthread_mutex_unlock(&table_lock);
    return (HANDLE)(HANDLE_BASE | (ULONG_PTR)(4 * (i + 1)));
}

static size_t slot_of(HANDLE handle)
{
    ULONG_PTR h = (ULONG_PTR)handle;
    if ((h & HANDLE_BASE) != HANDLE_BASE || (h & 3) != 0 || (h & ~HANDLE_BASE) == 0)
        return (size_t)-1;
    return (size_t)((h & ~HANDLE_BASE) / 4 - 1);
}

struct kshim_object *kshim_handle_lookup(HANDLE handle)
{
    size_t i = slot_of(handle);
    struct kshim_object *o = NULL;
    pthread_mutex_lock(&table_lock);
    if (i < handle_slots)
        o = handles[i];
    pthread_mutex_unlock(&table_lock);
    return o;
}

/* ZwClose (wdm.h): PASSIVE_LEVEL; an invalid kernel handle bugchecks
 * (INVALID_KERNEL_HANDLE). */
NTSTATUS ZwClose(HANDLE handle)
{
    size_t i = slot_of(handle);
    struct kshim_object *o = NULL;
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        kshim_violation("ZwClose at IRQL %u (PASSIVE_LEVEL only)", KeGetCurrentIrql());
    pthread_mutex_lock(&table_lock);
    if (i < handle_slots) {
        o = handles[i];
        handles[i] = NULL;
    }
    if (o != NULL)
        open_handles--;
    pthread_mutex_unlock(&table_lock);
    if (o == NULL)
        kshim_violation("ZwClose(%p): not an open handle", handle);
    ObfDereferenceObject(o);
    return STATUS_SUCCESS;
}

/* ---- references ---- */

static struct kshim_object *check_object(PVOID object, const char *who)
{
    struct kshim_object *o = object;
    if (o == NULL || o->magic != KSHIM_MAGIC_OBJECT)
        kshim_violation("%s(%p): not a live object", who, object);
    return o;
}

LONG_PTR ObfReferenceObject(PVOID object)
{
    struct kshim_object *o = check_object(object, "ObfReferenceObject");
    LONG n = InterlockedIncrement(&o->refs);
    if (n <= 1)
        kshim_violation("ObfReferenceObject(%p) on an object being deleted", object);
    return n;
}

LONG_PTR ObfDereferenceObject(PVOID object)
{
    struct kshim_object *o = check_object(object, "ObfDereferenceObject");
    LONG n = InterlockedDecrement(&o->refs);
    if (n < 0)
        kshim_violation("ObfDereferenceObject(%p): more dereferences than references", object);
    if (n == 0) {
        o->magic = KSHIM_MAGIC_DEAD;
        o->destroy(o);
    }
    return n;
}

/* ObReferenceObjectByHandle (wdm.h): PASSIVE_LEVEL; STATUS_OBJECT_TYPE_MISMATCH
 * if ObjectType is given and differs; STATUS_INVALID_HANDLE. */
NTSTATUS ObReferenceObjectByHandle(HANDLE handle, ACCESS_MASK desired_access,
                                   POBJECT_TYPE object_type, KPROCESSOR_MODE access_mode,
                                   PVOID *object, POBJECT_HANDLE_INFORMATION handle_information)
{
    size_t i = slot_of(handle);
    struct kshim_object *o = NULL;
    (void)access_mode;
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        kshim_violation("ObReferenceObjectByHandle at IRQL %u (PASSIVE_LEVEL only)",
                        KeGetCurrentIrql());
    pthread_mutex_lock(&table_lock);
    if (i < handle_slots)
        o = handles[i];
    if (o != NULL && object_type != NULL &&
        !(object_type == thread_type_ptr && o->kind == KSHIM_KIND_THREAD)) {
        pthread_mutex_unlock(&table_lock);
        return STATUS_OBJECT_TYPE_MISMATCH;
    }
    if (o != NULL)
        InterlockedIncrement(&o->refs); /* under the table lock: the handle keeps it alive */
    pthread_mutex_unlock(&table_lock);
    if (o == NULL)
        return STATUS_INVALID_HANDLE;
    *object = o;
    if (handle_information != NULL) {
        handle_information->HandleAttributes = 0;
        handle_information->GrantedAccess = desired_access;
    }
    return STATUS_SUCCESS;
}

/* ---- threads ---- */

static void destroy_thread(struct kshim_object *o)
{
    free(CONTAINING_RECORD(o, struct _KTHREAD, ob));
}

static struct _KTHREAD *new_thread_object(BOOLEAN system)
{
    struct _KTHREAD *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    kshim_dispatcher_init_header(&t->ob.Header, KSHIM_OBJ_THREAD, 0);
    t->ob.magic = KSHIM_MAGIC_OBJECT;
    t->ob.kind = KSHIM_KIND_THREAD;
    t->ob.destroy = destroy_thread;
    t->system = system;
    return t;
}

/* The object of a thread the shim did not create: made on first use, freed
 * when the thread exits (pthread key destructor) unless referenced. */
static pthread_key_t foreign_key;
static pthread_once_t foreign_once = PTHREAD_ONCE_INIT;

static void foreign_thread_exit(void *p)
{
    struct _KTHREAD *t = p;
    kshim_dispatcher_lock();
    t->ob.Header.SignalState = 1;
    kshim_dispatcher_broadcast();
    kshim_dispatcher_unlock();
    ObfDereferenceObject(t);
}

static void foreign_key_init(void)
{
    pthread_key_create(&foreign_key, foreign_thread_exit);
}

PETHREAD PsGetCurrentThread(void)
{
    if (my_thread == NULL) {
        struct _KTHREAD *t = new_thread_object(FALSE);
        if (t == NULL)
            kshim_violation("PsGetCurrentThread: out of memory");
        t->id = kshim_thread_id();
        t->ob.refs = 1; /* the thread's own */
        pthread_once(&foreign_once, foreign_key_init);
        pthread_setspecific(foreign_key, t);
        my_thread = t;
    }
    return my_thread;
}

HANDLE PsGetCurrentThreadId(void)
{
    return (HANDLE)kshim_thread_id();
}

HANDLE PsGetCurrentProcessId(void)
{
    return (HANDLE)(ULONG_PTR)4; /* the System process */
}

BOOLEAN PsIsSystemThread(PETHREAD thread)
{
    return check_object(thread, "PsIsSystemThread")->kind == KSHIM_KIND_THREAD && thread->system;
}

/* The end of a system thread: from its start routine's return or from
 * PsTerminateSystemThread. Windows bugchecks a thread that ends above
 * PASSIVE_LEVEL (IRQL_GT_ZERO_AT_SYSTEM_SERVICE / THREAD_TERMINATE_HELD_MUTEX). */
static void system_thread_end(struct _KTHREAD *t)
{
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        kshim_violation("system thread %lu ended at IRQL %u", (unsigned long)t->id,
                        KeGetCurrentIrql());
    kshim_dbgprint_flush_thread();
    kshim_dispatcher_lock();
    running_threads--; /* before the signal: a waiter may check leaks next */
    t->ob.Header.SignalState = 1;
    kshim_dispatcher_broadcast();
    kshim_dispatcher_unlock();
    my_thread = NULL;
    ObfDereferenceObject(t);
}

static void *system_thread_main(void *arg)
{
    struct _KTHREAD *t = arg;
    my_id = t->id;
    my_thread = t;
    t->start(t->context);
    system_thread_end(t);
    return NULL;
}

/* PsCreateSystemThread (wdm.h): PASSIVE_LEVEL; the new thread runs at
 * PASSIVE_LEVEL; STATUS_INSUFFICIENT_RESOURCES when it cannot be created. */
NTSTATUS PsCreateSystemThread(PHANDLE thread_handle, ULONG desired_access,
                              POBJECT_ATTRIBUTES object_attributes, HANDLE process_handle,
                              PCLIENT_ID client_id, PKSTART_ROUTINE start_routine,
                              PVOID start_context)
{
    struct _KTHREAD *t;
    pthread_attr_t attr;
    pthread_t pt;
    HANDLE h;
    int rc;
    (void)desired_access;
    (void)object_attributes;
    (void)process_handle;

    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        kshim_violation("PsCreateSystemThread at IRQL %u (PASSIVE_LEVEL only)", KeGetCurrentIrql());
    if (thread_handle == NULL || start_routine == NULL)
        kshim_violation("PsCreateSystemThread without a handle pointer or a start routine");
    if (kshim_fault("thread.create"))
        return STATUS_INSUFFICIENT_RESOURCES;
    t = new_thread_object(TRUE);
    if (t == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    t->id = (ULONG_PTR)InterlockedAdd(&next_thread_id, 4);
    t->start = start_routine;
    t->context = start_context;
    t->ob.refs = 1; /* the running thread's */
    h = kshim_handle_create(&t->ob);
    if (h == NULL) {
        free(t);
        return STATUS_INSUFFICIENT_RESOURCES;
    }

    kshim_dispatcher_lock();
    running_threads++;
    kshim_dispatcher_unlock();
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&pt, &attr, system_thread_main, t);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        kshim_dispatcher_lock();
        running_threads--;
        kshim_dispatcher_unlock();
        t->ob.refs = 1; /* the handle's only; ZwClose frees the object */
        ZwClose(h);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    if (client_id != NULL) {
        client_id->UniqueProcess = PsGetCurrentProcessId();
        client_id->UniqueThread = (HANDLE)t->id;
    }
    *thread_handle = h;
    return STATUS_SUCCESS;
}

/* PsTerminateSystemThread (wdm.h): ends the calling system thread;
 * STATUS_INVALID_PARAMETER if the caller is not one. */
NTSTATUS PsTerminateSystemThread(NTSTATUS exit_status)
{
    struct _KTHREAD *t = my_thread;
    (void)exit_status;
    if (t == NULL || !t->system)
        return STATUS_INVALID_PARAMETER;
    /* KeExpandKernelStackAndCallout (ntddk.h): "PsTerminateSystemThread checks
     * whether the ExpandedStackCall routine is still active and, if it is,
     * issues a bug check." */
    if (kshim_stack_in_callout())
        kshim_violation("PsTerminateSystemThread inside a KeExpandKernelStackAndCallout callout");
    system_thread_end(t);
    pthread_exit(NULL);
}

BOOLEAN kshim_wait_threads(ULONG ms)
{
    ULONGLONG deadline = kshim_monotonic_ns() + (ULONGLONG)ms * 1000000u;
    BOOLEAN none;
    kshim_dispatcher_lock();
    while (running_threads > 0 && kshim_dispatcher_wait(deadline))
        ;
    none = running_threads == 0;
    kshim_dispatcher_unlock();
    return none;
}
