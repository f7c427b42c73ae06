/*
 * ks_aio_call.h - what the two kinds of asynchronous requests share: the
 * head of the struct ks_aio private area; and the blocking-call kind.
 * Socket operations (ks_aio.c, ks_aio.h) are retried on the readiness
 * engine; blocking calls (ks_aio_call.c: name resolution, close, shutdown)
 * run on a blocking-call thread.
 */
#ifndef KS_AIO_CALL_H
#define KS_AIO_CALL_H

#include "ks_work.h"

/* States of a request (the head's state). */
enum ks_aio_state {
    KS_AIO_FREE = 0, /* not in flight: may be submitted */
    KS_AIO_QUEUED,   /* behind another request of its socket and direction */
    KS_AIO_POSTED,   /* in a thread pool's queue */
    KS_AIO_RUNNING,  /* a thread is working on it */
    KS_AIO_PARKED    /* waiting on its socket for a wake */
};

struct ks_aio_head {
    ks_work work;
    volatile LONG state;   /* enum ks_aio_state */
    BOOLEAN blocking_call; /* a ks_aio_call.c request */
};

static inline struct ks_aio_head *ks__aio_head_of(_In_ struct ks_aio *req)
{
    return (struct ks_aio_head *)(void *)req->ks_private;
}

/* ks_aio_cancel of a blocking call (ks_aio_call.c). */
_IRQL_requires_max_(DISPATCH_LEVEL) int ks__aio_call_cancel(_Inout_ struct ks_aio *req);

#endif /* KS_AIO_CALL_H */
