/* ks_descriptor.c - descriptors in the API: ks_socket, ks_close and the
 * lookup every call on a descriptor starts with. */
#include "ks_descriptor.h"
#include "ks_fdtable.h"

int ks__fd_enter(int fd, ks_sock **out)
{
    if (!ks__can_block())
        return -EPERM;
    ks_sock *s = ks__fd_get(fd);
    if (s == NULL)
        return -EBADF;
    *out = s;
    return 0;
}

/* ---- ks_socket / ks_close ---- */

int ks_socket(int domain, int type, int protocol)
{
    if (!ks__can_block())
        return -EPERM;
    if (domain != AF_INET && domain != AF_INET6)
        return -EAFNOSUPPORT;
    if (type == SOCK_STREAM) {
        if (protocol == 0)
            protocol = IPPROTO_TCP;
        if (protocol != IPPROTO_TCP)
            return -EPROTONOSUPPORT;
    } else if (type == SOCK_DGRAM) {
        if (protocol == 0)
            protocol = IPPROTO_UDP;
        if (protocol != IPPROTO_UDP)
            return -EPROTONOSUPPORT;
    } else {
        return -EPROTOTYPE;
    }
    int err;
    ks_sock *s = ks__sock_new((ADDRESS_FAMILY)domain, (USHORT)type, (ULONG)protocol, &err);
    if (s == NULL)
        return err;
    int fd = ks__fd_insert(s);
    ks__sock_put(s); /* the table holds it now (or nobody does) */
    return fd;
}

int ks_close(int fd)
{
    if (!ks__can_block())
        return -EPERM;
    ks_sock *s = ks__fd_remove(fd);
    if (s == NULL)
        return -EBADF;
    /* Asynchronous requests still pending end with -EBADF (ks_aio.c reads
     * this); in a callback the close itself runs on a blocking-call thread,
     * so that no completion thread waits for a peer. */
    ks__sock_fd_ended(s, KS_FD_CLOSED);
    ks__sock_close_soon(s);
    ks__sock_put(s);
    return 0;
}
