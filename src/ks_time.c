/* ks_time.c - the monotonic clock and deadlines (see ks_time.h). */
#include "ks_time.h"

LONGLONG ks__now_ms(void)
{
    LARGE_INTEGER freq;
    LARGE_INTEGER now = KeQueryPerformanceCounter(&freq);
    LONGLONG per_ms = freq.QuadPart / 1000;
    return now.QuadPart / (per_ms > 0 ? per_ms : 1);
}

ks_deadline ks__deadline_in(ULONG ms)
{
    ks_deadline d;
    d.bounded = ms != 0;
    d.at_ms = ms != 0 ? ks__now_ms() + (LONGLONG)ms : 0;
    return d;
}

PLARGE_INTEGER ks__deadline_left(const ks_deadline *d, LARGE_INTEGER *buf)
{
    if (d == NULL || !d->bounded)
        return NULL;
    LONGLONG left = d->at_ms - ks__now_ms();
    buf->QuadPart = -(left > 0 ? left : 0) * 10000;
    return buf;
}
