/* lysocket.c - the LySocket API (compat/LySocket.hpp) on the wsksock core. */
#include "LySocket.hpp"

#include "ks_datagram.h"
#include "ks_fdtable.h"

/* A handle carries the descriptor and, in the pointer's top bit (descriptors
 * are positive ints, so never that wide), "listen when bound". 0 is never a
 * descriptor, so NULL stays "no socket". */
#define LY_LISTEN_BIT ((ULONG_PTR)1 << (sizeof(ULONG_PTR) * 8 - 1))

static volatile LONG g_ly_cleaned;   /* WSKCleanup ran since WSKStartup */
static HANDLE volatile g_ly_cleaner; /* id of the thread that called it */

static int ly_fd(PWSK_SOCKET h)
{
    return (int)((ULONG_PTR)h & ~(ULONG_PTR)LY_LISTEN_BIT);
}

static PWSK_SOCKET ly_handle(int fd, BOOLEAN listen)
{
    return (PWSK_SOCKET)(ULONG_PTR)((ULONG)fd | (listen ? LY_LISTEN_BIT : 0));
}

/* errno (negative) to the NTSTATUS a WSK caller would have seen. */
static NTSTATUS ly_status(int err)
{
    switch (err) {
    case 0:
        return STATUS_SUCCESS;
    case -EBADF:
        return STATUS_INVALID_HANDLE;
    case -EFAULT:
    case -EINVAL:
    case -EAFNOSUPPORT:
        return STATUS_INVALID_PARAMETER;
    case -ENOMEM:
        return STATUS_INSUFFICIENT_RESOURCES;
    case -EADDRINUSE:
        return STATUS_ADDRESS_ALREADY_ASSOCIATED;
    case -EADDRNOTAVAIL:
        return STATUS_INVALID_ADDRESS_COMPONENT;
    case -ECONNREFUSED:
        return STATUS_CONNECTION_REFUSED;
    case -ECONNRESET:
        return STATUS_CONNECTION_RESET;
    case -ECONNABORTED:
        return STATUS_CONNECTION_ABORTED;
    case -ETIMEDOUT:
        return STATUS_IO_TIMEOUT;
    case -ENETUNREACH:
        return STATUS_NETWORK_UNREACHABLE;
    case -EHOSTUNREACH:
        return STATUS_HOST_UNREACHABLE;
    case -EISCONN:
        return STATUS_INVALID_DEVICE_STATE;
    case -EPERM:
        return STATUS_INVALID_DEVICE_STATE;
    case -ENETDOWN:
        return STATUS_DEVICE_NOT_READY;
    case -EOPNOTSUPP:
    case -EPROTONOSUPPORT:
    case -EPROTOTYPE:
        return STATUS_NOT_SUPPORTED;
    default:
        return STATUS_UNSUCCESSFUL;
    }
}

static int ly_addrlen(const SOCKADDR *addr)
{
    return addr != NULL && addr->sa_family == AF_INET6 ? (int)sizeof(SOCKADDR_IN6)
                                                       : (int)sizeof(SOCKADDR_IN);
}

NTSTATUS WSKStartup(void)
{
    int err = ks_startup();
    if (err == 0) {
        InterlockedExchange(&g_ly_cleaned, 0);
        g_ly_cleaner = NULL;
    }
    return ly_status(err);
}

VOID WSKCleanup(void)
{
    g_ly_cleaner = PsGetCurrentThreadId();
    InterlockedExchange(&g_ly_cleaned, 1);
    ks_cleanup();
}

PWSK_SOCKET CreateSocket(ADDRESS_FAMILY AddressFamily, USHORT SocketType, ULONG Protocol,
                         ULONG Flags)
{
    int fd = ks_socket(AddressFamily, SocketType, (int)Protocol);
    if (fd <= 0)
        return NULL;
    return ly_handle(fd, (Flags & WSK_FLAG_LISTEN_SOCKET) != 0);
}

NTSTATUS CloseSocket(PWSK_SOCKET WskSocket)
{
    return ly_status(ks_close(ly_fd(WskSocket)));
}

NTSTATUS Bind(PWSK_SOCKET WskSocket, PSOCKADDR LocalAddress)
{
    int fd = ly_fd(WskSocket);
    int err = ks_bind(fd, LocalAddress, ly_addrlen(LocalAddress));
    if (err == 0 && ((ULONG_PTR)WskSocket & LY_LISTEN_BIT) != 0)
        err = ks_listen(fd, 0);
    return ly_status(err);
}

NTSTATUS Connect(PWSK_SOCKET WskSocket, PSOCKADDR RemoteAddress)
{
    return ly_status(ks_connect(ly_fd(WskSocket), RemoteAddress, ly_addrlen(RemoteAddress)));
}

PWSK_SOCKET SocketConnect(USHORT SocketType, ULONG Protocol, PSOCKADDR RemoteAddress,
                          PSOCKADDR LocalAddress)
{
    if (RemoteAddress == NULL)
        return NULL;
    int fd = ks_socket(RemoteAddress->sa_family, SocketType, (int)Protocol);
    if (fd <= 0)
        return NULL;
    int err = 0;
    if (LocalAddress != NULL)
        err = ks_bind(fd, LocalAddress, ly_addrlen(LocalAddress));
    if (err == 0)
        err = ks_connect(fd, RemoteAddress, ly_addrlen(RemoteAddress));
    if (err != 0) {
        ks_close(fd);
        return NULL;
    }
    return ly_handle(fd, FALSE);
}

LONG Send(PWSK_SOCKET WskSocket, PVOID Buffer, ULONG Size, ULONG Flags)
{
    UNREFERENCED_PARAMETER(Flags);
    ks_ssize_t n = ks_send(ly_fd(WskSocket), Buffer, Size, 0);
    return n < 0 ? SOCKET_ERROR : (LONG)n;
}

LONG SendTo(PWSK_SOCKET WskSocket, PVOID Buffer, ULONG Size, PSOCKADDR RemoteAddress)
{
    ks_ssize_t n =
        ks_sendto(ly_fd(WskSocket), Buffer, Size, 0, RemoteAddress, ly_addrlen(RemoteAddress));
    return n < 0 ? SOCKET_ERROR : (LONG)n;
}

LONG Receive(PWSK_SOCKET WskSocket, PVOID Buffer, ULONG Size, ULONG Flags)
{
    int flags = (Flags & WSK_FLAG_WAITALL) != 0 ? MSG_WAITALL : 0;
    ks_ssize_t n = ks_recv(ly_fd(WskSocket), Buffer, Size, flags);
    return n < 0 ? SOCKET_ERROR : (LONG)n;
}

LONG ReceiveFrom(PWSK_SOCKET WskSocket, PVOID Buffer, ULONG Size, PSOCKADDR RemoteAddress,
                 PULONG ControlFlags)
{
    int len = (int)sizeof(SOCKADDR_IN6);
    ULONG flags = 0;
    ks_ssize_t n = ks__recvfrom_ex(ly_fd(WskSocket), Buffer, Size, RemoteAddress,
                                   RemoteAddress != NULL ? &len : NULL, &flags);
    if (ControlFlags != NULL)
        *ControlFlags = flags;
    return n < 0 ? SOCKET_ERROR : (LONG)n;
}

PWSK_SOCKET Accept(PWSK_SOCKET WskSocket, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress)
{
    int fd = ly_fd(WskSocket);
    int len = (int)sizeof(SOCKADDR_IN6);
    int nfd = ks_accept(fd, RemoteAddress, RemoteAddress != NULL ? &len : NULL);
    if (nfd > 0) {
        if (LocalAddress != NULL) {
            ks_sock *s = ks__fd_get(nfd);
            if (s != NULL) {
                RtlCopyMemory(LocalAddress, &s->local, (SIZE_T)ks__sockaddr_len(s->family));
                ks__sock_put(s);
            }
        }
        return ly_handle(nfd, FALSE);
    }
    /* See LySocket.hpp. PsTerminateSystemThread refuses (and returns) in a
     * thread that is not a system thread. */
    if (g_ly_cleaned && g_ly_cleaner != PsGetCurrentThreadId())
        PsTerminateSystemThread(STATUS_CANCELLED);
    return NULL;
}

long change_uint(long a, long b, long c, long d)
{
    /* Bytes a, b, c, d in memory order: network order on a little-endian CPU. */
    return (long)(((ULONG)a & 0xFF) | (((ULONG)b & 0xFF) << 8) | (((ULONG)c & 0xFF) << 16) |
                  (((ULONG)d & 0xFF) << 24));
}
