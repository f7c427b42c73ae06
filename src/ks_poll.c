/*
 * ks_poll.c - ks_poll and ks_ioctl: one thread waits for many sockets.
 *
 * A ks_poll call links one waiter per descriptor into its socket's waiter
 * list; every waiter of the call points at the call's event. Completion
 * callbacks of the sockets' asynchronous requests (ks_ready.c) set the
 * events of the waiters linked at that moment. The call clears its event
 * before each evaluation, so a completion after an evaluation is never
 * missed.
 */
#include "ks_socket.h"
#include "ks_ready.h"
#include "ks_descriptor.h"
#include "ks_fdtable.h"

/* Most entries one ks_poll call takes (-EINVAL beyond). */
#define KS_POLL_MAX 65536u

struct poll_entry {
    ks_sock *s; /* referenced, or NULL (negative fd, or not open) */
    struct ks_ready_link link;
};

/* Nonpaged: the event is set by completion callbacks. The entries follow. */
struct poll_block {
    KEVENT event;
};

static struct poll_entry *entries_of(struct poll_block *b)
{
    return (struct poll_entry *)(b + 1);
}

int ks_poll(struct ks_pollfd *fds, unsigned nfds, int timeout_ms)
{
    if (!ks__can_block())
        return -EPERM;
    if (fds == NULL && nfds > 0)
        return -EFAULT;
    if (nfds > KS_POLL_MAX)
        return -EINVAL;
    struct poll_block *b = (struct poll_block *)ks__alloc(
        sizeof(struct poll_block) + (SIZE_T)nfds * sizeof(struct poll_entry), KS_TAG_MISC);
    if (b == NULL)
        return -ENOMEM;
    struct poll_entry *e = entries_of(b);
    KeInitializeEvent(&b->event, NotificationEvent, FALSE);
    for (unsigned i = 0; i < nfds; i++) {
        fds[i].revents = 0;
        e[i].s = fds[i].fd >= 0 ? ks__fd_get(fds[i].fd) : NULL;
        if (e[i].s != NULL) {
            e[i].link.event = &b->event;
            ks__ready_add_waiter(e[i].s, &e[i].link);
        }
    }
    ks_deadline d = ks__deadline_in(timeout_ms > 0 ? (ULONG)timeout_ms : 0);
    int count;
    for (;;) {
        KeClearEvent(&b->event);
        count = 0;
        for (unsigned i = 0; i < nfds; i++) {
            if (fds[i].fd < 0)
                continue;
            short rev = POLLNVAL;
            if (e[i].s != NULL)
                rev = ks__ready_poll(e[i].s, fds[i].events);
            fds[i].revents = rev;
            if (rev != 0)
                count++;
        }
        if (count > 0 || timeout_ms == 0)
            break;
        LARGE_INTEGER t;
        PLARGE_INTEGER left = timeout_ms < 0 ? NULL : ks__deadline_left(&d, &t);
        if (left != NULL && left->QuadPart == 0)
            break;
        KeWaitForSingleObject(&b->event, Executive, KernelMode, FALSE, left);
    }
    for (unsigned i = 0; i < nfds; i++) {
        if (e[i].s != NULL) {
            ks__ready_remove_waiter(e[i].s, &e[i].link);
            ks__sock_put(e[i].s);
        }
    }
    ks__free(b, KS_TAG_MISC);
    return count;
}

int ks_ioctl(int fd, long cmd, unsigned long *arg)
{
    ks_sock *s;
    int err = ks__fd_enter(fd, &s);
    if (err != 0)
        return err;
    if (arg == NULL)
        err = -EFAULT;
    else if (cmd == FIONBIO)
        s->nonblocking = *arg != 0;
    else if (cmd == FIONREAD)
        *arg = ks__ready_nread(s);
    else
        err = -EINVAL;
    ks__sock_put(s);
    return err;
}
