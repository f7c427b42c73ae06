/*
 * LySocket.hpp - source compatibility with LyShark's "LySocket" WSK wrapper.
 *
 * This is C (the original's file name is kept so that its drivers compile
 * unchanged with -I compat). Every function is built on the wsksock core, so
 * unlike the original:
 *  - WSKCleanup never hangs with sockets open: it closes them and wakes any
 *    thread blocked on one;
 *  - a PWSK_SOCKET returned here is a handle, not the provider's socket: it
 *    stays safe to pass after CloseSocket/WSKCleanup (the call then fails);
 *    never dereference it or pass it to WSK functions directly;
 *  - after WSKCleanup, Accept called from a system thread (other than the
 *    one that called WSKCleanup) ends that thread with
 *    PsTerminateSystemThread: LySocket's server loops forever on Accept,
 *    and its DriverUnload waits for that thread.
 * All functions: IRQL PASSIVE_LEVEL. Failure: NULL, SOCKET_ERROR or an error
 * NTSTATUS, as in the original.
 */
#ifndef LYSOCKET_HPP_COMPAT
#define LYSOCKET_HPP_COMPAT

#include <ntddk.h>

#include "wsksock/sockaddr.h"
#include "wsksock/wsk.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HTON_SHORT(n) ((USHORT)((((USHORT)(n)&0xFF) << 8) | (((USHORT)(n)&0xFF00) >> 8)))
#define HTON_LONG(n)                                                                               \
    ((ULONG)((((ULONG)(n)&0xFF) << 24) | (((ULONG)(n)&0xFF00) << 8) |                              \
             (((ULONG)(n)&0xFF0000) >> 8) | (((ULONG)(n)&0xFF000000) >> 24)))
#ifndef SOCKET_ERROR
#define SOCKET_ERROR -1
#endif

/* Registers with WSK (wsksock's ks_startup). STATUS_SUCCESS or an error. */
NTSTATUS WSKStartup(void);
/* Closes every socket still open and deregisters (ks_cleanup). */
VOID WSKCleanup(void);

/* Creates a socket. Flags: WSK_FLAG_LISTEN_SOCKET (it listens once bound),
 * WSK_FLAG_CONNECTION_SOCKET, or WSK_FLAG_DATAGRAM_SOCKET. NULL on failure. */
PWSK_SOCKET CreateSocket(ADDRESS_FAMILY AddressFamily, USHORT SocketType, ULONG Protocol,
                         ULONG Flags);
NTSTATUS CloseSocket(PWSK_SOCKET WskSocket);
/* Connects a (bound or unbound) connection socket. */
NTSTATUS Connect(PWSK_SOCKET WskSocket, PSOCKADDR RemoteAddress);
/* Creates, binds (to LocalAddress, or the wildcard if NULL) and connects. */
PWSK_SOCKET SocketConnect(USHORT SocketType, ULONG Protocol, PSOCKADDR RemoteAddress,
                          PSOCKADDR LocalAddress);
/* Sends all Size bytes: returns Size, or SOCKET_ERROR. Flags are ignored. */
LONG Send(PWSK_SOCKET WskSocket, PVOID Buffer, ULONG Size, ULONG Flags);
/* Sends one datagram. Returns Size, or SOCKET_ERROR. */
LONG SendTo(PWSK_SOCKET WskSocket, PVOID Buffer, ULONG Size, PSOCKADDR RemoteAddress);
/* Receives up to Size bytes: the count, 0 when the peer closed, or
 * SOCKET_ERROR. Flags: 0 or WSK_FLAG_WAITALL. */
LONG Receive(PWSK_SOCKET WskSocket, PVOID Buffer, ULONG Size, ULONG Flags);
/* Receives one datagram; RemoteAddress (optional, room for a SOCKADDR_IN6)
 * gets the sender, ControlFlags (optional) WSK's MSG_* flags. */
LONG ReceiveFrom(PWSK_SOCKET WskSocket, PVOID Buffer, ULONG Size, PSOCKADDR RemoteAddress,
                 PULONG ControlFlags);
/* Binds; a socket created with WSK_FLAG_LISTEN_SOCKET starts listening. */
NTSTATUS Bind(PWSK_SOCKET WskSocket, PSOCKADDR LocalAddress);
/* Waits for a connection on a listening socket. LocalAddress and
 * RemoteAddress (optional) get the two ends. NULL on failure. */
PWSK_SOCKET Accept(PWSK_SOCKET WskSocket, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress);

/* The IPv4 address a.b.c.d, in network byte order. */
long change_uint(long a, long b, long c, long d);

#ifdef __cplusplus
}
#endif

#endif /* LYSOCKET_HPP_COMPAT */
