/*
 * wsksock/wsk.h - the Winsock Kernel (WSK) ABI.
 *
 * Under MSVC + WDK (WSKSOCK_USE_WDK_HEADERS, set by wsksock/sockaddr.h) this
 * header only includes Microsoft's <wsk.h>. Elsewhere (mingw-w64, which has
 * no wsk.h/netioddk.h/kernel-mode ws2def.h, and the Linux host build against
 * a user-space ntddk.h shim) it declares the same names, types, parameter
 * order and x64 layout, written from Microsoft's documentation
 * (learn.microsoft.com/windows-hardware/drivers/ddi/wsk/ and
 * .../drivers/network/winsock-kernel-*), so that code written against it
 * compiles unchanged against the real header.
 *
 * Rules for code using this header (so it also builds with the WDK in C):
 *  - PWSK_CLIENT is a plain PVOID; there is no WSK_CLIENT type in the WDK.
 *  - In C the WDK embeds WSK_PROVIDER_BASIC_DISPATCH as an unnamed member,
 *    so use Dispatch->WskControlSocket (or cast Socket->Dispatch to
 *    PWSK_PROVIDER_BASIC_DISPATCH), never Dispatch->Basic.X (C++ only).
 *  - Only the sizes and offsets asserted at the end are guaranteed; they
 *    are checked on 64-bit targets, where they are Microsoft's x64 layout.
 */
#ifndef WSKSOCK_WSK_H
#define WSKSOCK_WSK_H

#include "wsksock/sockaddr.h"

#ifdef WSKSOCK_USE_WDK_HEADERS
#include <wsk.h>
#else /* !WSKSOCK_USE_WDK_HEADERS */

#include <ntddk.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Pieces of netioddk.h / ws2def.h that WSK needs and mingw-w64 lacks.
 * ---------------------------------------------------------------------- */

/* Network Programming Interface identifier (netioddk.h, "NPIID"). */
typedef GUID NPIID, *PNPIID;

/*
 * Winsock ioctl code construction (ws2def.h; "Winsock IOCTLs").
 * IOC_WSK: WSK-specific codes are Winsock2 codes with the top three bits of
 * the vendor/address-family field set.
 */
#ifndef IOC_VOID
#define IOC_VOID 0x20000000
#endif
#ifndef IOC_OUT
#define IOC_OUT 0x40000000
#endif
#ifndef IOC_IN
#define IOC_IN 0x80000000
#endif
#ifndef IOC_INOUT
#define IOC_INOUT (IOC_IN | IOC_OUT)
#endif
#ifndef IOC_WS2
#define IOC_WS2 0x08000000
#endif
#ifndef IOC_WSK
#define IOC_WSK (IOC_WS2 | 0x07000000)
#endif
#ifndef _WSAIO
#define _WSAIO(x, y) (IOC_VOID | (x) | (y))
#endif
#ifndef _WSAIOR
#define _WSAIOR(x, y) (IOC_OUT | (x) | (y))
#endif
#ifndef _WSAIOW
#define _WSAIOW(x, y) (IOC_IN | (x) | (y))
#endif
#ifndef _WSAIORW
#define _WSAIORW(x, y) (IOC_INOUT | (x) | (y))
#endif

/* Base of the WSK-specific SOL_SOCKET options (ws2def.h). */
#ifndef WSK_SO_BASE
#define WSK_SO_BASE 0x4000
#endif

/*
 * Ancillary data header used by WskSendTo/WskReceiveFrom/WskSendMessages
 * (ws2def.h "WSACMSGHDR structure"; CMSGHDR is its Vista+ alias).
 */
typedef struct _WSACMSGHDR {
    SIZE_T cmsg_len;
    INT cmsg_level;
    INT cmsg_type;
    /* followed by UCHAR cmsg_data[] */
} WSACMSGHDR, *PWSACMSGHDR, *LPWSACMSGHDR;
typedef WSACMSGHDR CMSGHDR, *PCMSGHDR;

#ifndef WSA_CMSGHDR_ALIGN
#define WSA_CMSGHDR_ALIGN(length)                                                                  \
    (((length) + TYPE_ALIGNMENT(WSACMSGHDR) - 1) & (~(TYPE_ALIGNMENT(WSACMSGHDR) - 1)))
#endif
#ifndef WSA_CMSGDATA_ALIGN
#define WSA_CMSGDATA_ALIGN(length)                                                                 \
    (((length) + MAX_NATURAL_ALIGNMENT - 1) & (~(MAX_NATURAL_ALIGNMENT - 1)))
#endif
#ifndef WSA_CMSG_DATA
#define WSA_CMSG_DATA(cmsg) ((PUCHAR)(cmsg) + WSA_CMSGDATA_ALIGN(sizeof(WSACMSGHDR)))
#endif
#ifndef WSA_CMSG_SPACE
#define WSA_CMSG_SPACE(length) (WSA_CMSGDATA_ALIGN(sizeof(WSACMSGHDR) + WSA_CMSGHDR_ALIGN(length)))
#endif
#ifndef WSA_CMSG_LEN
#define WSA_CMSG_LEN(length) (WSA_CMSGDATA_ALIGN(sizeof(WSACMSGHDR)) + (length))
#endif

/*
 * Name resolution for WskGetAddressInfo / WskGetNameInfo (ws2def.h:
 * "ADDRINFOEXW structure", getaddrinfo AI_* flags, NS_* name spaces,
 * getnameinfo NI_* flags).
 */
typedef struct addrinfoexW {
    INT ai_flags;
    INT ai_family;
    INT ai_socktype;
    INT ai_protocol;
    SIZE_T ai_addrlen;
    PWSTR ai_canonname;
    struct sockaddr *ai_addr;
    PVOID ai_blob;
    SIZE_T ai_bloblen;
    LPGUID ai_provider;
    struct addrinfoexW *ai_next;
} ADDRINFOEXW, *PADDRINFOEXW, *LPADDRINFOEXW;

/* AI_* (getaddrinfo) and NI_* (getnameinfo) flags: wsksock/netdb.h. */
#include "wsksock/netdb.h"

#ifndef NS_ALL
#define NS_ALL 0
#endif
#ifndef NS_DNS
#define NS_DNS 12
#endif

/* LINGER (the SO_LINGER argument): wsksock/sockaddr.h, on every branch. */

/* ------------------------------------------------------------------------
 * wsk.h proper.
 * ---------------------------------------------------------------------- */

/* Calling convention of every WSK routine and callback. */
#define WSKAPI NTAPI

/*
 * The WSK NPI identifier, {2227E803-8D8B-11D4-ABAD-009027719E09}, used in
 * WSK_EVENT_CALLBACK_CONTROL.NpiId. The WDK declares it extern and supplies
 * it from netio.lib; mingw-w64's libnetio.a has no such symbol, so it is
 * defined here once per image (selectany on PE/COFF, weak on ELF). Define
 * WSKSOCK_NO_NPI_WSK_INTERFACE_ID_DEFINITION to get only the declaration.
 */
#ifdef WSKSOCK_NO_NPI_WSK_INTERFACE_ID_DEFINITION
extern CONST NPIID NPI_WSK_INTERFACE_ID;
#else
#if defined(_WIN32)
#define WSKSOCK_NPI_ANY_ __declspec(selectany)
#else
#define WSKSOCK_NPI_ANY_ __attribute__((weak))
#endif
#ifdef __cplusplus /* a namespace-scope const is otherwise internal in C++ */
#define WSKSOCK_NPI_LINKAGE_ extern WSKSOCK_NPI_ANY_
#else
#define WSKSOCK_NPI_LINKAGE_ WSKSOCK_NPI_ANY_
#endif
WSKSOCK_NPI_LINKAGE_ CONST NPIID NPI_WSK_INTERFACE_ID = {
    0x2227E803, 0x8D8B, 0x11D4, {0xAB, 0xAD, 0x00, 0x90, 0x27, 0x71, 0x9E, 0x09}};
#undef WSKSOCK_NPI_LINKAGE_
#undef WSKSOCK_NPI_ANY_
#endif

/* Versions ("WSK_CLIENT_DISPATCH", "WSK_PROVIDER_CHARACTERISTICS"). */
#define MAKE_WSK_VERSION(Mj, Mn) ((USHORT)((Mj) << 8) | (USHORT)((Mn)&0xff))
#define WSK_MAJOR_VERSION(V) ((UCHAR)((V) >> 8))
#define WSK_MINOR_VERSION(V) ((UCHAR)(V))

/* WskCaptureProviderNPI WaitTimeout values. */
#define WSK_NO_WAIT 0
#define WSK_INFINITE_WAIT 0xffffffff

/* WskSocket Flags: socket category ("WskSocket"). */
#define WSK_FLAG_BASIC_SOCKET 0x00000000
#define WSK_FLAG_LISTEN_SOCKET 0x00000001
#define WSK_FLAG_CONNECTION_SOCKET 0x00000002
#define WSK_FLAG_DATAGRAM_SOCKET 0x00000004
#define WSK_FLAG_STREAM_SOCKET 0x00000008

/* Event-callback Flags ("WskReceiveEvent", "WskAcceptEvent", ...). */
#define WSK_FLAG_ABORTIVE 0x00000001 /* WskDisconnect / WskDisconnectEvent */
#define WSK_FLAG_RELEASE_ASAP 0x00000002
#define WSK_FLAG_ENTIRE_MESSAGE 0x00000004
#define WSK_FLAG_AT_DISPATCH_LEVEL 0x00000008

/* Request Flags ("WskSend", "WskReceive"). */
#define WSK_FLAG_NODELAY 0x00000002 /* WskSend */
#define WSK_FLAG_WAITALL 0x00000002 /* WskReceive */
#define WSK_FLAG_DRAIN 0x00000004   /* WskReceive */

/* WskControlClient control codes ("WskControlClient"). */
#define WSK_TRANSPORT_LIST_QUERY 2
#define WSK_TRANSPORT_LIST_CHANGE 3
#define WSK_CACHE_SD 4
#define WSK_RELEASE_SD 5
#define WSK_TDI_DEVICENAME_MAPPING 6
#define WSK_SET_STATIC_EVENT_CALLBACKS 7
#define WSK_TDI_BEHAVIOR 8
#define WSK_TDI_BEHAVIOR_BYPASS_TDI 0x00000001

/* WSK-specific SOL_SOCKET options ("SO_WSK_SECURITY", "SO_WSK_EVENT_CALLBACK"). */
#define SO_WSK_SECURITY (WSK_SO_BASE + 1)
#define SO_WSK_EVENT_CALLBACK (WSK_SO_BASE + 2)

/* SO_WSK_EVENT_CALLBACK EventMask bits. */
#define WSK_EVENT_RECEIVE_FROM 0x00000100 /* datagram sockets */
#define WSK_EVENT_ACCEPT 0x00000200       /* listening sockets */
#define WSK_EVENT_SEND_BACKLOG 0x00000010 /* connection-oriented sockets */
#define WSK_EVENT_RECEIVE 0x00000040      /* connection-oriented sockets */
#define WSK_EVENT_DISCONNECT 0x00000080   /* connection-oriented sockets */
#define WSK_EVENT_DISABLE 0x80000000

/* WSK socket ioctls ("SIO_WSK_*"). */
#define SIO_WSK_SET_REMOTE_ADDRESS _WSAIOW(IOC_WSK, 0x1)
#define SIO_WSK_REGISTER_EXTENSION _WSAIORW(IOC_WSK, 0x2)
#define SIO_WSK_QUERY_IDEAL_SEND_BACKLOG _WSAIOR(IOC_WSK, 0x3)
#define SIO_WSK_QUERY_RECEIVE_BACKLOG _WSAIOR(IOC_WSK, 0x4)
#define SIO_WSK_QUERY_INSPECT_ID _WSAIOR(IOC_WSK, 0x5)
#define SIO_WSK_SET_SENDTO_ADDRESS _WSAIOW(IOC_WSK, 0x6)
#define SIO_WSK_SET_TCP_SILENT_MODE _WSAIO(IOC_WSK, 0x7)

/* ------------------------------------------------------------------------
 * Data structures ("WSK_SOCKET", "WSK_CLIENT", "WSK_BUF",
 * "WSK_DATA_INDICATION", "WSK_DATAGRAM_INDICATION", "WSK_BUF_LIST",
 * "WSK_INSPECT_ID", "WSK_PROVIDER_CHARACTERISTICS", "WSK_TRANSPORT",
 * "WSK_TDI_MAP", "WSK_TDI_MAP_INFO", "WSK_EVENT_CALLBACK_CONTROL",
 * "WSK_EXTENSION_CONTROL_IN/OUT").
 * ---------------------------------------------------------------------- */

/* Dispatch points at a provider table matching the socket category. */
typedef struct _WSK_SOCKET {
    CONST VOID *Dispatch;
} WSK_SOCKET, *PWSK_SOCKET;

/* The WSK subsystem's binding context; its contents are opaque. */
typedef PVOID PWSK_CLIENT;

typedef struct _WSK_PROVIDER_CHARACTERISTICS {
    USHORT HighestVersion;
    USHORT LowestVersion;
} WSK_PROVIDER_CHARACTERISTICS, *PWSK_PROVIDER_CHARACTERISTICS;

typedef struct _WSK_TRANSPORT {
    USHORT Version;
    USHORT SocketType;
    ULONG Protocol;
    ADDRESS_FAMILY AddressFamily;
    GUID ProviderId;
} WSK_TRANSPORT, *PWSK_TRANSPORT;

/* Mdl chain; the data begins Offset bytes into the first MDL. */
typedef struct _WSK_BUF {
    PMDL Mdl;
    ULONG Offset;
    SIZE_T Length;
} WSK_BUF, *PWSK_BUF;

typedef struct _WSK_DATA_INDICATION {
    struct _WSK_DATA_INDICATION *Next;
    WSK_BUF Buffer;
} WSK_DATA_INDICATION, *PWSK_DATA_INDICATION;

typedef struct _WSK_DATAGRAM_INDICATION {
    struct _WSK_DATAGRAM_INDICATION *Next;
    WSK_BUF Buffer;
    PCMSGHDR ControlInfo;
    ULONG ControlInfoLength;
    PSOCKADDR RemoteAddress;
} WSK_DATAGRAM_INDICATION, *PWSK_DATAGRAM_INDICATION;

/* Windows 8+ (WskSendMessages). */
typedef struct _WSK_BUF_LIST {
    struct _WSK_BUF_LIST *Next;
    WSK_BUF Buffer;
} WSK_BUF_LIST, *PWSK_BUF_LIST;

typedef struct _WSK_INSPECT_ID {
    ULONG_PTR Key;
    ULONG SerialNumber;
} WSK_INSPECT_ID, *PWSK_INSPECT_ID;

typedef enum {
    WskInspectReject,
    WskInspectAccept,
    WskInspectPend,
    WskInspectMax
} WSK_INSPECT_ACTION,
    *PWSK_INSPECT_ACTION;

typedef enum {
    WskSetOption,
    WskGetOption,
    WskIoctl,
    WskControlMax
} WSK_CONTROL_SOCKET_TYPE,
    *PWSK_CONTROL_SOCKET_TYPE;

typedef struct _WSK_TDI_MAP {
    USHORT SocketType;
    ADDRESS_FAMILY AddressFamily;
    ULONG Protocol;
    PCWSTR TdiDeviceName;
} WSK_TDI_MAP, *PWSK_TDI_MAP;

typedef struct _WSK_TDI_MAP_INFO {
    CONST ULONG ElementCount;
    CONST WSK_TDI_MAP *Map;
} WSK_TDI_MAP_INFO, *PWSK_TDI_MAP_INFO;

typedef struct _WSK_EVENT_CALLBACK_CONTROL {
    PNPIID NpiId;
    ULONG EventMask;
} WSK_EVENT_CALLBACK_CONTROL, *PWSK_EVENT_CALLBACK_CONTROL;

typedef struct _WSK_EXTENSION_CONTROL_IN {
    PNPIID NpiId;
    PVOID ClientContext;
    CONST VOID *ClientDispatch;
} WSK_EXTENSION_CONTROL_IN, *PWSK_EXTENSION_CONTROL_IN;

typedef struct _WSK_EXTENSION_CONTROL_OUT {
    PVOID ProviderContext;
    CONST VOID *ProviderDispatch;
} WSK_EXTENSION_CONTROL_OUT, *PWSK_EXTENSION_CONTROL_OUT;

/* ------------------------------------------------------------------------
 * Client event callbacks ("PFN_WSK_CLIENT_EVENT", "PFN_WSK_ACCEPT_EVENT",
 * "PFN_WSK_INSPECT_EVENT", "PFN_WSK_ABORT_EVENT", "PFN_WSK_RECEIVE_EVENT",
 * "PFN_WSK_DISCONNECT_EVENT", "PFN_WSK_SEND_BACKLOG_EVENT",
 * "PFN_WSK_RECEIVE_FROM_EVENT").
 * ---------------------------------------------------------------------- */

typedef struct _WSK_CLIENT_CONNECTION_DISPATCH WSK_CLIENT_CONNECTION_DISPATCH,
    *PWSK_CLIENT_CONNECTION_DISPATCH;

typedef NTSTATUS(WSKAPI *PFN_WSK_CLIENT_EVENT)(PVOID ClientContext, ULONG EventType,
                                               PVOID Information, SIZE_T InformationLength);

typedef NTSTATUS(WSKAPI *PFN_WSK_RECEIVE_FROM_EVENT)(PVOID SocketContext, ULONG Flags,
                                                     PWSK_DATAGRAM_INDICATION DataIndication);

typedef NTSTATUS(WSKAPI *PFN_WSK_ACCEPT_EVENT)(
    PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress,
    PWSK_SOCKET AcceptSocket, PVOID *AcceptSocketContext,
    CONST WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch);

typedef WSK_INSPECT_ACTION(WSKAPI *PFN_WSK_INSPECT_EVENT)(PVOID SocketContext,
                                                          PSOCKADDR LocalAddress,
                                                          PSOCKADDR RemoteAddress,
                                                          PWSK_INSPECT_ID InspectID);

typedef NTSTATUS(WSKAPI *PFN_WSK_ABORT_EVENT)(PVOID SocketContext, PWSK_INSPECT_ID InspectID);

typedef NTSTATUS(WSKAPI *PFN_WSK_SEND_BACKLOG_EVENT)(PVOID SocketContext, SIZE_T IdealBacklogSize);

typedef NTSTATUS(WSKAPI *PFN_WSK_RECEIVE_EVENT)(PVOID SocketContext, ULONG Flags,
                                                PWSK_DATA_INDICATION DataIndication,
                                                SIZE_T BytesIndicated, SIZE_T *BytesAccepted);

typedef NTSTATUS(WSKAPI *PFN_WSK_DISCONNECT_EVENT)(PVOID SocketContext, ULONG Flags);

/* ------------------------------------------------------------------------
 * Provider (WSK subsystem) functions: client level ("PFN_WSK_SOCKET",
 * "PFN_WSK_SOCKET_CONNECT", "PFN_WSK_CONTROL_CLIENT",
 * "PFN_WSK_GET_ADDRESS_INFO", "PFN_WSK_FREE_ADDRESS_INFO",
 * "PFN_WSK_GET_NAME_INFO").
 * ---------------------------------------------------------------------- */

typedef NTSTATUS(WSKAPI *PFN_WSK_SOCKET)(PWSK_CLIENT Client, ADDRESS_FAMILY AddressFamily,
                                         USHORT SocketType, ULONG Protocol, ULONG Flags,
                                         PVOID SocketContext, CONST VOID *Dispatch,
                                         PEPROCESS OwningProcess, PETHREAD OwningThread,
                                         PSECURITY_DESCRIPTOR SecurityDescriptor, PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_SOCKET_CONNECT)(PWSK_CLIENT Client, USHORT SocketType,
                                                 ULONG Protocol, PSOCKADDR LocalAddress,
                                                 PSOCKADDR RemoteAddress, ULONG Flags,
                                                 PVOID SocketContext,
                                                 CONST WSK_CLIENT_CONNECTION_DISPATCH *Dispatch,
                                                 PEPROCESS OwningProcess, PETHREAD OwningThread,
                                                 PSECURITY_DESCRIPTOR SecurityDescriptor, PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_CONTROL_CLIENT)(PWSK_CLIENT Client, ULONG ControlCode,
                                                 SIZE_T InputSize, PVOID InputBuffer,
                                                 SIZE_T OutputSize, PVOID OutputBuffer,
                                                 SIZE_T *OutputSizeReturned, PIRP Irp);

/* Windows 7+. */
typedef NTSTATUS(WSKAPI *PFN_WSK_GET_ADDRESS_INFO)(PWSK_CLIENT Client, PUNICODE_STRING NodeName,
                                                   PUNICODE_STRING ServiceName, ULONG NameSpace,
                                                   GUID *Provider, PADDRINFOEXW Hints,
                                                   PADDRINFOEXW *Result, PEPROCESS OwningProcess,
                                                   PETHREAD OwningThread, PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_GET_NAME_INFO)(PWSK_CLIENT Client, PSOCKADDR SockAddr,
                                                ULONG SockAddrLength, PUNICODE_STRING NodeName,
                                                PUNICODE_STRING ServiceName, ULONG Flags,
                                                PEPROCESS OwningProcess, PETHREAD OwningThread,
                                                PIRP Irp);

typedef VOID(WSKAPI *PFN_WSK_FREE_ADDRESS_INFO)(PWSK_CLIENT Client, PADDRINFOEXW AddrInfo);

/* ------------------------------------------------------------------------
 * Provider functions: socket level ("PFN_WSK_CONTROL_SOCKET",
 * "PFN_WSK_CLOSE_SOCKET", "PFN_WSK_BIND", "PFN_WSK_CONNECT",
 * "PFN_WSK_CONNECT_EX", "PFN_WSK_ACCEPT", "PFN_WSK_INSPECT_COMPLETE",
 * "PFN_WSK_LISTEN", "PFN_WSK_SEND_TO", "PFN_WSK_SEND_MESSAGES",
 * "PFN_WSK_RECEIVE_FROM", "PFN_WSK_GET_LOCAL_ADDRESS",
 * "PFN_WSK_GET_REMOTE_ADDRESS", "PFN_WSK_RELEASE_DATA_INDICATION_LIST",
 * "PFN_WSK_RELEASE_DATAGRAM_INDICATION_LIST", "PFN_WSK_SEND",
 * "PFN_WSK_RECEIVE", "PFN_WSK_DISCONNECT", "PFN_WSK_SEND_EX",
 * "PFN_WSK_RECEIVE_EX").
 * ---------------------------------------------------------------------- */

typedef NTSTATUS(WSKAPI *PFN_WSK_CONTROL_SOCKET)(PWSK_SOCKET Socket,
                                                 WSK_CONTROL_SOCKET_TYPE RequestType,
                                                 ULONG ControlCode, ULONG Level, SIZE_T InputSize,
                                                 PVOID InputBuffer, SIZE_T OutputSize,
                                                 PVOID OutputBuffer, SIZE_T *OutputSizeReturned,
                                                 PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_CLOSE_SOCKET)(PWSK_SOCKET Socket, PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_BIND)(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, ULONG Flags,
                                       PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_CONNECT)(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, ULONG Flags,
                                          PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_CONNECT_EX)(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress,
                                             PWSK_BUF Buffer, ULONG Flags, PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_ACCEPT)(PWSK_SOCKET ListenSocket, ULONG Flags,
                                         PVOID AcceptSocketContext,
                                         CONST WSK_CLIENT_CONNECTION_DISPATCH *AcceptSocketDispatch,
                                         PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress, PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_INSPECT_COMPLETE)(PWSK_SOCKET ListenSocket,
                                                   PWSK_INSPECT_ID InspectID,
                                                   WSK_INSPECT_ACTION Action, PIRP Irp);

/* Windows 10 1703+ (stream sockets). */
typedef NTSTATUS(WSKAPI *PFN_WSK_LISTEN)(PWSK_SOCKET Socket, PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_SEND_TO)(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                                          PSOCKADDR RemoteAddress, ULONG ControlInfoLength,
                                          PCMSGHDR ControlInfo, PIRP Irp);

/* Windows 8+. */
typedef NTSTATUS(WSKAPI *PFN_WSK_SEND_MESSAGES)(PWSK_SOCKET Socket, PWSK_BUF_LIST BufferList,
                                                ULONG Flags, PSOCKADDR RemoteAddress,
                                                ULONG ControlInfoLength, PCMSGHDR ControlInfo,
                                                PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_RECEIVE_FROM)(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                                               PSOCKADDR RemoteAddress, PULONG ControlLength,
                                               PCMSGHDR ControlInfo, PULONG ControlFlags, PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_GET_LOCAL_ADDRESS)(PWSK_SOCKET Socket, PSOCKADDR LocalAddress,
                                                    PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_GET_REMOTE_ADDRESS)(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress,
                                                     PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_RELEASE_DATA_INDICATION_LIST)(PWSK_SOCKET Socket,
                                                               PWSK_DATA_INDICATION DataIndication);

typedef NTSTATUS(WSKAPI *PFN_WSK_RELEASE_DATAGRAM_INDICATION_LIST)(
    PWSK_SOCKET Socket, PWSK_DATAGRAM_INDICATION DatagramIndication);

typedef NTSTATUS(WSKAPI *PFN_WSK_SEND)(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_RECEIVE)(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                                          PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_DISCONNECT)(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                                             PIRP Irp);

/* Documented as "reserved for system use"; declared for table layout only. */
typedef NTSTATUS(WSKAPI *PFN_WSK_SEND_EX)(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                                          ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_RECEIVE_EX)(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                                             PULONG ControlInfoLength, PCMSGHDR ControlInfo,
                                             PULONG ControlFlags, PIRP Irp);

/* ------------------------------------------------------------------------
 * Dispatch tables ("WSK_CLIENT_DISPATCH", "WSK_CLIENT_LISTEN_DISPATCH",
 * "WSK_CLIENT_DATAGRAM_DISPATCH", "WSK_CLIENT_CONNECTION_DISPATCH",
 * "WSK_CLIENT_STREAM_DISPATCH", "WSK_PROVIDER_DISPATCH",
 * "WSK_PROVIDER_BASIC_DISPATCH", "WSK_PROVIDER_LISTEN_DISPATCH",
 * "WSK_PROVIDER_DATAGRAM_DISPATCH", "WSK_PROVIDER_CONNECTION_DISPATCH",
 * "WSK_PROVIDER_STREAM_DISPATCH").
 *
 * Client tables are ours and are read by the provider: they must match
 * exactly. Provider tables are allocated and filled by the WSK subsystem;
 * we only read them, so declaring members a given Windows version lacks is
 * harmless as long as they are not called there. The provider tables below
 * follow the current documentation in full, including the Windows 8+
 * WskSendMessages, the Windows 10 1703+ stream-socket members, and the
 * WskConnectEx/WskSendEx/WskReceiveEx tail of the connection and stream
 * tables (WskSendEx/WskReceiveEx are "reserved for system use": never call
 * them). Do not call anything beyond WskRelease (connection) or
 * WskGetLocalAddress (datagram) without checking the OS version first.
 * ---------------------------------------------------------------------- */

typedef struct _WSK_CLIENT_DISPATCH {
    USHORT Version;
    USHORT Reserved;
    PFN_WSK_CLIENT_EVENT WskClientEvent;
} WSK_CLIENT_DISPATCH, *PWSK_CLIENT_DISPATCH;

typedef struct _WSK_CLIENT_LISTEN_DISPATCH {
    PFN_WSK_ACCEPT_EVENT WskAcceptEvent;
    PFN_WSK_INSPECT_EVENT WskInspectEvent;
    PFN_WSK_ABORT_EVENT WskAbortEvent;
} WSK_CLIENT_LISTEN_DISPATCH, *PWSK_CLIENT_LISTEN_DISPATCH;

typedef struct _WSK_CLIENT_DATAGRAM_DISPATCH {
    PFN_WSK_RECEIVE_FROM_EVENT WskReceiveFromEvent;
} WSK_CLIENT_DATAGRAM_DISPATCH, *PWSK_CLIENT_DATAGRAM_DISPATCH;

struct _WSK_CLIENT_CONNECTION_DISPATCH {
    PFN_WSK_RECEIVE_EVENT WskReceiveEvent;
    PFN_WSK_DISCONNECT_EVENT WskDisconnectEvent;
    PFN_WSK_SEND_BACKLOG_EVENT WskSendBacklogEvent;
};

/* Windows 10 1703+. */
typedef struct _WSK_CLIENT_STREAM_DISPATCH {
    CONST WSK_CLIENT_LISTEN_DISPATCH *Listen;
    CONST WSK_CLIENT_CONNECTION_DISPATCH *Connect;
} WSK_CLIENT_STREAM_DISPATCH, *PWSK_CLIENT_STREAM_DISPATCH;

typedef struct _WSK_PROVIDER_DISPATCH {
    USHORT Version;
    USHORT Reserved;
    PFN_WSK_SOCKET WskSocket;
    PFN_WSK_SOCKET_CONNECT WskSocketConnect;
    PFN_WSK_CONTROL_CLIENT WskControlClient;
    PFN_WSK_GET_ADDRESS_INFO WskGetAddressInfo;   /* Windows 7+ */
    PFN_WSK_FREE_ADDRESS_INFO WskFreeAddressInfo; /* Windows 7+ */
    PFN_WSK_GET_NAME_INFO WskGetNameInfo;         /* Windows 7+ */
} WSK_PROVIDER_DISPATCH, *PWSK_PROVIDER_DISPATCH;

typedef struct _WSK_PROVIDER_BASIC_DISPATCH {
    PFN_WSK_CONTROL_SOCKET WskControlSocket;
    PFN_WSK_CLOSE_SOCKET WskCloseSocket;
} WSK_PROVIDER_BASIC_DISPATCH, *PWSK_PROVIDER_BASIC_DISPATCH;

/*
 * Leading WSK_PROVIDER_BASIC_DISPATCH of every socket table: a member named
 * Basic in C++, and (as the WDK's unnamed-member extension does in C) its
 * two fields directly in C, here via a C11 anonymous struct.
 */
#ifdef __cplusplus
#define WSKSOCK_BASIC_DISPATCH_MEMBERS_ WSK_PROVIDER_BASIC_DISPATCH Basic;
#else
#define WSKSOCK_BASIC_DISPATCH_MEMBERS_                                                            \
    struct {                                                                                       \
        PFN_WSK_CONTROL_SOCKET WskControlSocket;                                                   \
        PFN_WSK_CLOSE_SOCKET WskCloseSocket;                                                       \
    };
#endif

typedef struct _WSK_PROVIDER_LISTEN_DISPATCH {
    WSKSOCK_BASIC_DISPATCH_MEMBERS_
    PFN_WSK_BIND WskBind;
    PFN_WSK_ACCEPT WskAccept;
    PFN_WSK_INSPECT_COMPLETE WskInspectComplete;
    PFN_WSK_GET_LOCAL_ADDRESS WskGetLocalAddress;
} WSK_PROVIDER_LISTEN_DISPATCH, *PWSK_PROVIDER_LISTEN_DISPATCH;

typedef struct _WSK_PROVIDER_DATAGRAM_DISPATCH {
    WSKSOCK_BASIC_DISPATCH_MEMBERS_
    PFN_WSK_BIND WskBind;
    PFN_WSK_SEND_TO WskSendTo;
    PFN_WSK_RECEIVE_FROM WskReceiveFrom;
    PFN_WSK_RELEASE_DATAGRAM_INDICATION_LIST WskRelease;
    PFN_WSK_GET_LOCAL_ADDRESS WskGetLocalAddress;
    PFN_WSK_SEND_MESSAGES WskSendMessages; /* Windows 8+ */
} WSK_PROVIDER_DATAGRAM_DISPATCH, *PWSK_PROVIDER_DATAGRAM_DISPATCH;

typedef struct _WSK_PROVIDER_CONNECTION_DISPATCH {
    WSKSOCK_BASIC_DISPATCH_MEMBERS_
    PFN_WSK_BIND WskBind;
    PFN_WSK_CONNECT WskConnect;
    PFN_WSK_GET_LOCAL_ADDRESS WskGetLocalAddress;
    PFN_WSK_GET_REMOTE_ADDRESS WskGetRemoteAddress;
    PFN_WSK_SEND WskSend;
    PFN_WSK_RECEIVE WskReceive;
    PFN_WSK_DISCONNECT WskDisconnect;
    PFN_WSK_RELEASE_DATA_INDICATION_LIST WskRelease;
    PFN_WSK_CONNECT_EX WskConnectEx; /* Windows 10 1703+ */
    PFN_WSK_SEND_EX WskSendEx;       /* reserved for system use */
    PFN_WSK_RECEIVE_EX WskReceiveEx; /* reserved for system use */
} WSK_PROVIDER_CONNECTION_DISPATCH, *PWSK_PROVIDER_CONNECTION_DISPATCH;

/* Windows 10 1703+. */
typedef struct _WSK_PROVIDER_STREAM_DISPATCH {
    WSKSOCK_BASIC_DISPATCH_MEMBERS_
    PFN_WSK_BIND WskBind;
    PFN_WSK_ACCEPT WskAccept;
    PFN_WSK_CONNECT WskConnect;
    PFN_WSK_LISTEN WskListen;
    PFN_WSK_SEND WskSend;
    PFN_WSK_RECEIVE WskReceive;
    PFN_WSK_DISCONNECT WskDisconnect;
    PFN_WSK_RELEASE_DATA_INDICATION_LIST WskRelease;
    PFN_WSK_GET_LOCAL_ADDRESS WskGetLocalAddress;
    PFN_WSK_GET_REMOTE_ADDRESS WskGetRemoteAddress;
    PFN_WSK_CONNECT_EX WskConnectEx;
    PFN_WSK_SEND_EX WskSendEx;       /* reserved for system use */
    PFN_WSK_RECEIVE_EX WskReceiveEx; /* reserved for system use */
} WSK_PROVIDER_STREAM_DISPATCH, *PWSK_PROVIDER_STREAM_DISPATCH;

#undef WSKSOCK_BASIC_DISPATCH_MEMBERS_

/* ------------------------------------------------------------------------
 * Registration ("WSK_CLIENT_NPI", "WSK_PROVIDER_NPI", "WSK_REGISTRATION",
 * "WskRegister", "WskCaptureProviderNPI", "WskReleaseProviderNPI",
 * "WskQueryProviderCharacteristics", "WskDeregister"). These five are
 * exported by netio.sys; link with -lnetio. WSKAPI (stdcall) matters only
 * on 32-bit x86, where mingw's libnetio.a exports them as _Name@N.
 * ---------------------------------------------------------------------- */

typedef struct _WSK_CLIENT_NPI {
    PVOID ClientContext;
    CONST WSK_CLIENT_DISPATCH *Dispatch;
} WSK_CLIENT_NPI, *PWSK_CLIENT_NPI;

typedef struct _WSK_PROVIDER_NPI {
    PWSK_CLIENT Client;
    CONST WSK_PROVIDER_DISPATCH *Dispatch;
} WSK_PROVIDER_NPI, *PWSK_PROVIDER_NPI;

/* Owned by the client, initialised by WskRegister; do not touch. */
typedef struct _WSK_REGISTRATION {
    ULONGLONG ReservedRegistrationState;
    PVOID ReservedRegistrationContext;
    KSPIN_LOCK ReservedRegistrationLock;
} WSK_REGISTRATION, *PWSK_REGISTRATION;

NTSTATUS WSKAPI WskRegister(PWSK_CLIENT_NPI WskClientNpi, PWSK_REGISTRATION WskRegistration);

NTSTATUS WSKAPI WskCaptureProviderNPI(PWSK_REGISTRATION WskRegistration, ULONG WaitTimeout,
                                      PWSK_PROVIDER_NPI WskProviderNpi);

VOID WSKAPI WskReleaseProviderNPI(PWSK_REGISTRATION WskRegistration);

NTSTATUS WSKAPI WskQueryProviderCharacteristics(
    PWSK_REGISTRATION WskRegistration, PWSK_PROVIDER_CHARACTERISTICS WskProviderCharacteristics);

VOID WSKAPI WskDeregister(PWSK_REGISTRATION WskRegistration);

/* ------------------------------------------------------------------------
 * Layout checks against Microsoft's x64 ABI (64-bit targets only).
 * ---------------------------------------------------------------------- */

#if defined(_WIN64) || (defined(__SIZEOF_POINTER__) && __SIZEOF_POINTER__ == 8)
#ifdef __cplusplus
#define WSKSOCK_WSK_ASSERT_(c) static_assert(c, #c)
#else
#define WSKSOCK_WSK_ASSERT_(c) _Static_assert(c, #c)
#endif
#define WSKSOCK_WSK_SIZE_(t, n) WSKSOCK_WSK_ASSERT_(sizeof(t) == (n))
#define WSKSOCK_WSK_OFF_(t, m, n) WSKSOCK_WSK_ASSERT_(offsetof(t, m) == (n))

WSKSOCK_WSK_SIZE_(NPIID, 16);
WSKSOCK_WSK_SIZE_(WSACMSGHDR, 16);
WSKSOCK_WSK_OFF_(WSACMSGHDR, cmsg_level, 8);
WSKSOCK_WSK_OFF_(WSACMSGHDR, cmsg_type, 12);
WSKSOCK_WSK_SIZE_(ADDRINFOEXW, 72);
WSKSOCK_WSK_OFF_(ADDRINFOEXW, ai_family, 4);
WSKSOCK_WSK_OFF_(ADDRINFOEXW, ai_socktype, 8);
WSKSOCK_WSK_OFF_(ADDRINFOEXW, ai_protocol, 12);
WSKSOCK_WSK_OFF_(ADDRINFOEXW, ai_addrlen, 16);
WSKSOCK_WSK_OFF_(ADDRINFOEXW, ai_canonname, 24);
WSKSOCK_WSK_OFF_(ADDRINFOEXW, ai_addr, 32);
WSKSOCK_WSK_OFF_(ADDRINFOEXW, ai_blob, 40);
WSKSOCK_WSK_OFF_(ADDRINFOEXW, ai_bloblen, 48);
WSKSOCK_WSK_OFF_(ADDRINFOEXW, ai_provider, 56);
WSKSOCK_WSK_OFF_(ADDRINFOEXW, ai_next, 64);
#ifndef WSKSOCK_NO_LINGER
WSKSOCK_WSK_SIZE_(LINGER, 4);
WSKSOCK_WSK_OFF_(LINGER, l_linger, 2);
#endif

WSKSOCK_WSK_SIZE_(WSK_SOCKET, 8);
WSKSOCK_WSK_SIZE_(WSK_PROVIDER_CHARACTERISTICS, 4);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_CHARACTERISTICS, LowestVersion, 2);
WSKSOCK_WSK_SIZE_(WSK_TRANSPORT, 28);
WSKSOCK_WSK_OFF_(WSK_TRANSPORT, SocketType, 2);
WSKSOCK_WSK_OFF_(WSK_TRANSPORT, Protocol, 4);
WSKSOCK_WSK_OFF_(WSK_TRANSPORT, AddressFamily, 8);
WSKSOCK_WSK_OFF_(WSK_TRANSPORT, ProviderId, 12);
WSKSOCK_WSK_SIZE_(WSK_BUF, 24);
WSKSOCK_WSK_OFF_(WSK_BUF, Offset, 8);
WSKSOCK_WSK_OFF_(WSK_BUF, Length, 16);
WSKSOCK_WSK_SIZE_(WSK_DATA_INDICATION, 32);
WSKSOCK_WSK_OFF_(WSK_DATA_INDICATION, Buffer, 8);
WSKSOCK_WSK_SIZE_(WSK_DATAGRAM_INDICATION, 56);
WSKSOCK_WSK_OFF_(WSK_DATAGRAM_INDICATION, Buffer, 8);
WSKSOCK_WSK_OFF_(WSK_DATAGRAM_INDICATION, ControlInfo, 32);
WSKSOCK_WSK_OFF_(WSK_DATAGRAM_INDICATION, ControlInfoLength, 40);
WSKSOCK_WSK_OFF_(WSK_DATAGRAM_INDICATION, RemoteAddress, 48);
WSKSOCK_WSK_SIZE_(WSK_BUF_LIST, 32);
WSKSOCK_WSK_OFF_(WSK_BUF_LIST, Buffer, 8);
WSKSOCK_WSK_SIZE_(WSK_INSPECT_ID, 16);
WSKSOCK_WSK_OFF_(WSK_INSPECT_ID, SerialNumber, 8);
WSKSOCK_WSK_SIZE_(WSK_INSPECT_ACTION, 4);
WSKSOCK_WSK_SIZE_(WSK_CONTROL_SOCKET_TYPE, 4);
WSKSOCK_WSK_SIZE_(WSK_TDI_MAP, 16);
WSKSOCK_WSK_OFF_(WSK_TDI_MAP, AddressFamily, 2);
WSKSOCK_WSK_OFF_(WSK_TDI_MAP, Protocol, 4);
WSKSOCK_WSK_OFF_(WSK_TDI_MAP, TdiDeviceName, 8);
WSKSOCK_WSK_SIZE_(WSK_TDI_MAP_INFO, 16);
WSKSOCK_WSK_OFF_(WSK_TDI_MAP_INFO, Map, 8);
WSKSOCK_WSK_SIZE_(WSK_EVENT_CALLBACK_CONTROL, 16);
WSKSOCK_WSK_OFF_(WSK_EVENT_CALLBACK_CONTROL, EventMask, 8);
WSKSOCK_WSK_SIZE_(WSK_EXTENSION_CONTROL_IN, 24);
WSKSOCK_WSK_OFF_(WSK_EXTENSION_CONTROL_IN, ClientDispatch, 16);
WSKSOCK_WSK_SIZE_(WSK_EXTENSION_CONTROL_OUT, 16);
WSKSOCK_WSK_OFF_(WSK_EXTENSION_CONTROL_OUT, ProviderDispatch, 8);

WSKSOCK_WSK_SIZE_(WSK_CLIENT_DISPATCH, 16);
WSKSOCK_WSK_OFF_(WSK_CLIENT_DISPATCH, Reserved, 2);
WSKSOCK_WSK_OFF_(WSK_CLIENT_DISPATCH, WskClientEvent, 8);
WSKSOCK_WSK_SIZE_(WSK_CLIENT_LISTEN_DISPATCH, 24);
WSKSOCK_WSK_OFF_(WSK_CLIENT_LISTEN_DISPATCH, WskInspectEvent, 8);
WSKSOCK_WSK_OFF_(WSK_CLIENT_LISTEN_DISPATCH, WskAbortEvent, 16);
WSKSOCK_WSK_SIZE_(WSK_CLIENT_DATAGRAM_DISPATCH, 8);
WSKSOCK_WSK_SIZE_(WSK_CLIENT_CONNECTION_DISPATCH, 24);
WSKSOCK_WSK_OFF_(WSK_CLIENT_CONNECTION_DISPATCH, WskDisconnectEvent, 8);
WSKSOCK_WSK_OFF_(WSK_CLIENT_CONNECTION_DISPATCH, WskSendBacklogEvent, 16);
WSKSOCK_WSK_SIZE_(WSK_CLIENT_STREAM_DISPATCH, 16);
WSKSOCK_WSK_OFF_(WSK_CLIENT_STREAM_DISPATCH, Connect, 8);

WSKSOCK_WSK_SIZE_(WSK_PROVIDER_DISPATCH, 56);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_DISPATCH, Reserved, 2);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_DISPATCH, WskSocket, 8);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_DISPATCH, WskSocketConnect, 16);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_DISPATCH, WskControlClient, 24);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_DISPATCH, WskGetAddressInfo, 32);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_DISPATCH, WskFreeAddressInfo, 40);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_DISPATCH, WskGetNameInfo, 48);
WSKSOCK_WSK_SIZE_(WSK_PROVIDER_BASIC_DISPATCH, 16);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_BASIC_DISPATCH, WskCloseSocket, 8);

WSKSOCK_WSK_SIZE_(WSK_PROVIDER_LISTEN_DISPATCH, 48);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_LISTEN_DISPATCH, WskBind, 16);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_LISTEN_DISPATCH, WskAccept, 24);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_LISTEN_DISPATCH, WskInspectComplete, 32);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_LISTEN_DISPATCH, WskGetLocalAddress, 40);

WSKSOCK_WSK_SIZE_(WSK_PROVIDER_DATAGRAM_DISPATCH, 64);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_DATAGRAM_DISPATCH, WskBind, 16);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_DATAGRAM_DISPATCH, WskSendTo, 24);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_DATAGRAM_DISPATCH, WskReceiveFrom, 32);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_DATAGRAM_DISPATCH, WskRelease, 40);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_DATAGRAM_DISPATCH, WskGetLocalAddress, 48);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_DATAGRAM_DISPATCH, WskSendMessages, 56);

WSKSOCK_WSK_SIZE_(WSK_PROVIDER_CONNECTION_DISPATCH, 104);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_CONNECTION_DISPATCH, WskBind, 16);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_CONNECTION_DISPATCH, WskConnect, 24);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_CONNECTION_DISPATCH, WskGetLocalAddress, 32);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_CONNECTION_DISPATCH, WskGetRemoteAddress, 40);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_CONNECTION_DISPATCH, WskSend, 48);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_CONNECTION_DISPATCH, WskReceive, 56);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_CONNECTION_DISPATCH, WskDisconnect, 64);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_CONNECTION_DISPATCH, WskRelease, 72);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_CONNECTION_DISPATCH, WskConnectEx, 80);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_CONNECTION_DISPATCH, WskSendEx, 88);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_CONNECTION_DISPATCH, WskReceiveEx, 96);

WSKSOCK_WSK_SIZE_(WSK_PROVIDER_STREAM_DISPATCH, 120);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_STREAM_DISPATCH, WskBind, 16);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_STREAM_DISPATCH, WskAccept, 24);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_STREAM_DISPATCH, WskConnect, 32);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_STREAM_DISPATCH, WskListen, 40);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_STREAM_DISPATCH, WskSend, 48);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_STREAM_DISPATCH, WskReceive, 56);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_STREAM_DISPATCH, WskDisconnect, 64);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_STREAM_DISPATCH, WskRelease, 72);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_STREAM_DISPATCH, WskGetLocalAddress, 80);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_STREAM_DISPATCH, WskGetRemoteAddress, 88);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_STREAM_DISPATCH, WskConnectEx, 96);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_STREAM_DISPATCH, WskSendEx, 104);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_STREAM_DISPATCH, WskReceiveEx, 112);

WSKSOCK_WSK_SIZE_(WSK_CLIENT_NPI, 16);
WSKSOCK_WSK_OFF_(WSK_CLIENT_NPI, Dispatch, 8);
WSKSOCK_WSK_SIZE_(WSK_PROVIDER_NPI, 16);
WSKSOCK_WSK_OFF_(WSK_PROVIDER_NPI, Dispatch, 8);
WSKSOCK_WSK_SIZE_(WSK_REGISTRATION, 24);
WSKSOCK_WSK_OFF_(WSK_REGISTRATION, ReservedRegistrationContext, 8);
WSKSOCK_WSK_OFF_(WSK_REGISTRATION, ReservedRegistrationLock, 16);

#undef WSKSOCK_WSK_OFF_
#undef WSKSOCK_WSK_SIZE_
#undef WSKSOCK_WSK_ASSERT_
#endif /* 64-bit */

#ifdef __cplusplus
}
#endif

#endif /* !WSKSOCK_USE_WDK_HEADERS */

#endif /* WSKSOCK_WSK_H */
