/*
 * wskprov.h - controls of the host test bed's WSK provider (hostbed/wskprov),
 * for test programs and the host runner (never for the library itself).
 *
 * The provider implements Winsock Kernel over POSIX sockets: WskRegister,
 * WskCaptureProviderNPI, WskReleaseProviderNPI, WskQueryProviderCharacteristics
 * and WskDeregister (declared in wsksock/wsk.h), and behind the captured NPI
 * the WSK_PROVIDER_DISPATCH and the listen, connection, datagram and basic
 * socket dispatch tables, following Microsoft's documented semantics.
 *
 * Completion modes (environment KSHIM_COMPLETION=async|inline|mixed, read at
 * first use; default mixed):
 *   async   every IRP completes on a provider thread, at DISPATCH_LEVEL, and
 *           the WSK function returns STATUS_PENDING;
 *   inline  a request that can finish at once completes inside the call, at
 *           the caller's IRQL, and the function returns the IRP's status;
 *   mixed   each such request chooses one of the two with kshim_random().
 * Requests that wait for the network (a receive with no data, an accept
 * with no connection, a connect) always pend and complete on a provider
 * thread.
 *
 * Fault sites (kshim_fault, KSHIM_FAULT=site:N) and the status the IRP then
 * completes with (or the function returns, for the registration calls):
 *   wsk.register     STATUS_INSUFFICIENT_RESOURCES (WskRegister)
 *   wsk.capture      STATUS_DEVICE_NOT_READY       (WskCaptureProviderNPI)
 *   wsk.socket       STATUS_INSUFFICIENT_RESOURCES (WskSocket, WskSocketConnect)
 *   wsk.bind         STATUS_ADDRESS_ALREADY_EXISTS (WskBind: address in use)
 *   wsk.accept       STATUS_INSUFFICIENT_RESOURCES (WskAccept)
 *   wsk.connect      STATUS_CONNECTION_REFUSED     (WskConnect, WskSocketConnect)
 *   wsk.send         STATUS_CONNECTION_RESET       (WskSend)
 *   wsk.receive      STATUS_CONNECTION_RESET       (WskReceive)
 *   wsk.sendto       STATUS_NETWORK_UNREACHABLE    (WskSendTo)
 *   wsk.recvfrom     STATUS_PORT_UNREACHABLE       (WskReceiveFrom: ICMP)
 *   wsk.disconnect   STATUS_CONNECTION_RESET       (WskDisconnect)
 *   wsk.control      STATUS_INSUFFICIENT_RESOURCES (WskControlSocket, WskControlClient)
 *   wsk.getaddress   STATUS_INSUFFICIENT_RESOURCES (WskGetLocalAddress/RemoteAddress)
 *   wsk.getaddrinfo  STATUS_NOT_FOUND              (WskGetAddressInfo: no such host)
 *   wsk.getnameinfo  STATUS_NOT_FOUND              (WskGetNameInfo)
 * and two sites of the event callbacks, which fail as a WSK subsystem out
 * of resources does, with no status for the client:
 *   wsk.acceptevent  the socket object of a connection for WskAcceptEvent:
 *                    the connection is reset (the peer sees it refused
 *                    or reset) and the client never sees it
 *   wsk.indicate     the buffer of a WskReceiveEvent indication: the data
 *                    stays in the socket and is indicated shortly after
 *                    (or taken by a WskReceive); nothing is lost
 * WskCloseSocket, WskReleaseProviderNPI, WskDeregister and WskFreeAddressInfo
 * cannot fail on Windows and have no site.
 *
 * Live sockets are counted in the shim counter "wsk sockets" (so
 * kshim_check_leaks reports sockets left open); address lists returned by
 * WskGetAddressInfo are pool allocations tagged WSKPROV_TAG_ADDRINFO.
 */
#ifndef WSKPROV_H
#define WSKPROV_H

#include <ntddk.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Pool tag of ADDRINFOEXW lists ("wpAI" in pool listings). */
#define WSKPROV_TAG_ADDRINFO                                                                       \
    ((ULONG)'w' | ((ULONG)'p' << 8) | ((ULONG)'A' << 16) | ((ULONG)'I' << 24))

typedef enum {
    WSKPROV_COMPLETION_ASYNC = 0,
    WSKPROV_COMPLETION_INLINE = 1,
    WSKPROV_COMPLETION_MIXED = 2,
} WSKPROV_COMPLETION_MODE;

/* Overrides KSHIM_COMPLETION from now on. */
void wskprov_set_completion_mode(WSKPROV_COMPLETION_MODE mode);
WSKPROV_COMPLETION_MODE wskprov_completion_mode(void);

/*
 * Whether the WSK subsystem is "attached" (default TRUE). While it is not,
 * WskCaptureProviderNPI with WSK_NO_WAIT returns STATUS_DEVICE_NOT_READY (as
 * documented for "the provider NPI was not yet available") and a timed or
 * infinite wait waits; attaching wakes the waiters. Simulates a WSK
 * subsystem that attaches after the driver starts.
 */
void wskprov_set_attached(BOOLEAN attached);
BOOLEAN wskprov_attached(void);

/*
 * How WskCloseSocket ends a connection that is not yet disconnected in both
 * directions. TRUE (the default): abortively, with a reset, as documented
 * for Windows ("WskCloseSocket": "always performs an abortive disconnect
 * ... unless the socket has already been fully disconnected in both
 * directions"); data not yet delivered is lost. FALSE: gracefully (the
 * queued data, then end of stream), as Wine's provider does. Environment:
 * KSHIM_WSK_CLOSE=abortive|graceful, read at first use.
 */
void wskprov_set_abortive_close(BOOLEAN abortive);
BOOLEAN wskprov_abortive_close(void);

/*
 * Event callbacks (SO_WSK_EVENT_CALLBACK: WskAcceptEvent, WskReceiveEvent,
 * WskDisconnectEvent, and WskRelease of retained indications), default
 * TRUE. FALSE: SO_WSK_EVENT_CALLBACK fails with STATUS_NOT_SUPPORTED, as on
 * providers without event callbacks (Wine's). Environment:
 * KSHIM_WSK_EVENTS=0|1, read at first use. Indication buffers the client
 * retains are counted in the shim counter "wsk data indications".
 */
void wskprov_set_events(BOOLEAN on);
BOOLEAN wskprov_events(void);

/* Sockets open now (all registrations). */
LONG wskprov_open_sockets(void);

#ifdef __cplusplus
}
#endif

#endif /* WSKPROV_H */
