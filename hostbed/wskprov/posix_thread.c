/*
 * posix_thread.c - threads, locks, a monotonic clock, stderr logging and the
 * environment for the WSK provider, behind posix_net.h (system headers
 * only). The provider's own locks are pthread mutexes, outside the shim's
 * IRQL rules: they protect provider state and are never held while a
 * client's completion or cancel routine runs.
 */
#define _GNU_SOURCE
#include "posix_net.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

_Static_assert(sizeof(pthread_mutex_t) <= sizeof(pn_mutex), "pn_mutex too small");
_Static_assert(sizeof(pthread_cond_t) <= sizeof(pn_cond), "pn_cond too small");

void pn_mutex_init(pn_mutex *m)
{
    pthread_mutex_init((pthread_mutex_t *)(void *)m->opaque, NULL);
}

void pn_mutex_lock(pn_mutex *m)
{
    pthread_mutex_lock((pthread_mutex_t *)(void *)m->opaque);
}

void pn_mutex_unlock(pn_mutex *m)
{
    pthread_mutex_unlock((pthread_mutex_t *)(void *)m->opaque);
}

void pn_cond_init(pn_cond *c)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init((pthread_cond_t *)(void *)c->opaque, &attr);
    pthread_condattr_destroy(&attr);
}

void pn_cond_wait(pn_cond *c, pn_mutex *m)
{
    pthread_cond_wait((pthread_cond_t *)(void *)c->opaque, (pthread_mutex_t *)(void *)m->opaque);
}

int pn_cond_timedwait(pn_cond *c, pn_mutex *m, uint64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    int e = pthread_cond_timedwait((pthread_cond_t *)(void *)c->opaque,
                                   (pthread_mutex_t *)(void *)m->opaque, &ts);
    return e == ETIMEDOUT ? 1 : 0;
}

void pn_cond_broadcast(pn_cond *c)
{
    pthread_cond_broadcast((pthread_cond_t *)(void *)c->opaque);
}

struct start {
    void (*fn)(void *);
    void *arg;
};

static void *trampoline(void *p)
{
    struct start s = *(struct start *)p;
    free(p);
    s.fn(s.arg);
    return NULL;
}

int pn_thread_start(void (*fn)(void *), void *arg)
{
    struct start *s = malloc(sizeof(*s));
    if (s == NULL)
        return PN_ENOMEM;
    s->fn = fn;
    s->arg = arg;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&t, &attr, trampoline, s);
    pthread_attr_destroy(&attr);
    if (e != 0) {
        free(s);
        return PN_ENOMEM;
    }
    return 0;
}

uint64_t pn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void pn_log(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

const char *pn_getenv(const char *name)
{
    return getenv(name);
}
