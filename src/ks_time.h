/*
 * ks_time.h - a monotonic millisecond clock and the deadlines built on it
 * (SO_RCVTIMEO/SO_SNDTIMEO, the close's and ks_cleanup's bounds).
 */
#ifndef KS_TIME_H
#define KS_TIME_H

#include "ks_kernel.h"

/* A point in time a wait must not pass, or none. */
typedef struct ks_deadline {
    BOOLEAN bounded; /* FALSE: no bound */
    LONGLONG at_ms;  /* ks__now_ms() value */
} ks_deadline;

/* Milliseconds of a monotonic clock (KeQueryPerformanceCounter). IRQL: any. */
_IRQL_requires_max_(HIGH_LEVEL) LONGLONG ks__now_ms(void);
/* A deadline ms from now (0: no bound). IRQL: any. */
ks_deadline ks__deadline_in(ULONG ms);
/* The relative timeout left until d, in *buf (0 once passed); NULL if d has
 * no bound (for KeWaitFor*). IRQL: any. */
_Ret_maybenull_ PLARGE_INTEGER ks__deadline_left(_In_opt_ const ks_deadline *d,
                                                 _Out_ LARGE_INTEGER *buf);

#endif /* KS_TIME_H */
