/* ks_error.c - NTSTATUS to errno mapping, error texts, and ks__alloc/ks__free. */
#include "ks_kernel.h"

#include <limits.h>

void *ks__alloc(SIZE_T size, ULONG tag)
{
    return ks_pool_alloc(size, tag);
}

void ks__free(void *p, ULONG tag)
{
    ks_pool_free(p, tag);
}

int ks__status_to_errno(NTSTATUS status)
{
    /* A ks__errno_status: the errno it carries. */
    if (((ULONG)status & 0xFFFF0000u) == 0xE0000000u && ((ULONG)status & 0xFFFFu) != 0)
        return -(int)((ULONG)status & 0xFFFFu);
    switch (status) {
    case STATUS_SUCCESS:
        return 0;
    case STATUS_CONNECTION_REFUSED:
    case STATUS_PORT_UNREACHABLE:
        return -ECONNREFUSED;
    case STATUS_CONNECTION_RESET:
    case STATUS_REMOTE_DISCONNECT:
        return -ECONNRESET;
    case STATUS_CONNECTION_ABORTED:
    case STATUS_LOCAL_DISCONNECT:
    case STATUS_FILE_FORCED_CLOSED:
    case STATUS_TRANSACTION_ABORTED:
    /* The provider's own socket is gone under a WSK socket we still hold
     * (Wine 8 closes the host socket of a listener's latest accept with the
     * listener; a WSARecv then fails with WSAENOTSOCK): the connection is
     * aborted, not an I/O error the headers do not list. */
    case STATUS_INVALID_HANDLE:
    case STATUS_OBJECT_TYPE_MISMATCH:
        return -ECONNABORTED;
    case STATUS_CONNECTION_DISCONNECTED:
    case STATUS_PIPE_DISCONNECTED:
        return -EPIPE;
    case STATUS_ADDRESS_ALREADY_EXISTS:
    case STATUS_ADDRESS_ALREADY_ASSOCIATED:
    case STATUS_SHARING_VIOLATION:
    case STATUS_TOO_MANY_ADDRESSES:
        return -EADDRINUSE;
    case STATUS_INVALID_ADDRESS:
    case STATUS_INVALID_ADDRESS_COMPONENT:
        return -EADDRNOTAVAIL;
    case STATUS_CONNECTION_ACTIVE: /* WSAEISCONN: a connect met one in progress or done */
        return -EISCONN;
    case STATUS_NETWORK_UNREACHABLE:
        return -ENETUNREACH;
    case STATUS_HOST_UNREACHABLE:
    case STATUS_PROTOCOL_UNREACHABLE:
        return -EHOSTUNREACH;
    case STATUS_IO_TIMEOUT:
    case STATUS_TIMEOUT:
        return -ETIMEDOUT;
    case STATUS_CANCELLED:
        return -ECANCELED;
    case STATUS_INSUFFICIENT_RESOURCES:
    case STATUS_NO_MEMORY:
        return -ENOMEM;
    case STATUS_OBJECT_NAME_NOT_FOUND: /* the registry (ks_params.c) */
    case STATUS_OBJECT_PATH_NOT_FOUND:
        return -ENOENT;
    case STATUS_BUFFER_OVERFLOW:
    case STATUS_BUFFER_TOO_SMALL:
    case STATUS_INVALID_BUFFER_SIZE: /* WSAEMSGSIZE */
        return -EMSGSIZE;
    case STATUS_INVALID_PARAMETER:
        return -EINVAL;
    case STATUS_ACCESS_DENIED:
        return -EACCES;
    case STATUS_NOT_IMPLEMENTED:
    case STATUS_NOT_SUPPORTED:
    case STATUS_INVALID_DEVICE_REQUEST:
        return -EOPNOTSUPP;
    case STATUS_INVALID_DEVICE_STATE:
        return -EINVAL;
    case STATUS_NETWORK_BUSY:
    case STATUS_DEVICE_NOT_READY:
        return -ENETDOWN;
    case STATUS_CANT_WAIT:
        return -EWOULDBLOCK;
    case STATUS_TOO_MANY_OPENED_FILES:
        return -EMFILE;
    default:
        return -EIO;
    }
}

const char *ks_strerror(int err)
{
    if (err < 0)
        err = err == INT_MIN ? INT_MAX : -err; /* -INT_MIN overflows */
    switch (err) {
    case 0:
        return "Success";
    case EPERM:
        return "Operation not permitted (wrong IRQL)";
    case ENOENT:
        return "No such entry";
    case EINTR:
        return "Interrupted";
    case EIO:
        return "I/O error";
    case EBADF:
        return "Bad descriptor";
    case EAGAIN: /* EWOULDBLOCK too: the same value (wsksock/errno.h) */
        return "Resource temporarily unavailable (would block)";
    case ENOMEM:
        return "Out of memory";
    case EACCES:
        return "Permission denied";
    case EFAULT:
        return "Bad address (NULL pointer)";
    case EBUSY:
        return "Busy";
    case EDEADLK:
        return "Deadlock avoided (a thread joining itself)";
    case EINVAL:
        return "Invalid argument";
    case EMFILE:
        return "Too many open sockets";
    case ENOSPC:
        return "No space left (buffer too small)";
    case EPIPE:
        return "Broken pipe";
    case ENOSYS:
        return "Not implemented";
    case EADDRINUSE:
        return "Address already in use";
    case EADDRNOTAVAIL:
        return "Address not available";
    case EAFNOSUPPORT:
        return "Address family not supported";
    case EALREADY:
        return "Operation already in progress";
    case ECANCELED:
        return "Operation cancelled";
    case ECONNABORTED:
        return "Connection aborted";
    case ECONNREFUSED:
        return "Connection refused";
    case ECONNRESET:
        return "Connection reset by peer";
    case EDESTADDRREQ:
        return "Destination address required";
    case EHOSTUNREACH:
        return "Host unreachable";
    case EINPROGRESS:
        return "Operation in progress";
    case EISCONN:
        return "Socket already connected";
    case EMSGSIZE:
        return "Message too long";
    case ENETDOWN:
        return "Network down (library not started)";
    case ENETRESET:
        return "Connection reset by network";
    case ENETUNREACH:
        return "Network unreachable";
    case ENOBUFS:
        return "No buffer space";
    case ENOPROTOOPT:
        return "Protocol option not available";
    case ENOTCONN:
        return "Socket not connected";
    case ENOTSOCK:
        return "Not a socket";
#if EOPNOTSUPP != ENOTSUP
    case ENOTSUP:
        return "Not supported";
#endif
    case EOPNOTSUPP:
        return "Operation not supported";
    case EPROTONOSUPPORT:
        return "Protocol not supported";
    case EPROTOTYPE:
        return "Protocol wrong type for socket";
    case ETIMEDOUT:
        return "Timed out";
    default:
        return "Unknown error";
    }
}

#if !defined(KSHIM_ASSERT_FAILED) && defined(KS_ASSERTS_ENABLED) && KS_ASSERTS_ENABLED
void ks__assert_failed(const char *file, int line, const char *cond)
{
    DbgPrint("wsksock: assertion failed: %s (%s:%d)\n", cond, file, line);
    DbgRaiseAssertionFailure();
}
#endif
