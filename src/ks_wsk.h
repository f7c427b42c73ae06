/*
 * ks_wsk.h - the WSK call layer: the only code of the library that reads
 * the provider's dispatch tables (WSK_PROVIDER_NPI's Dispatch, and the
 * WSK_PROVIDER_BASIC/LISTEN/DATAGRAM/CONNECTION_DISPATCH behind every
 * PWSK_SOCKET). tools/lint fails if any other file of src/ does.
 *
 * One function per WSK call the library makes, named after it (WskSend:
 * ks__wsk_send), with that call's parameters in its order, less those the
 * library always passes as NULL (owning process and thread, security
 * descriptor, control information, provider GUID). Each function is the
 * call and nothing else: it neither waits nor counts anything, and returns
 * the provider's status as is (or, where the provider's table has no such
 * call, STATUS_NOT_SUPPORTED without touching the IRP). The socket-level
 * helpers built on it are ks_sock_wsk_* (ks_socket.h): the bracket
 * (ks__call_enter/ks__call_leave), the operation (ks__op_begin, ks__op_wait)
 * and the socket's state are theirs.
 *
 * What the caller guarantees, for every function here:
 *  - the PWSK_SOCKET is open for the whole call: the caller is inside a
 *    ks__call_enter bracket, or holds the socket as the close itself does
 *    (ks_socket.h says who may read s->wsk);
 *  - an IRP given to a call belongs to the provider from the call until
 *    its completion routine has run (the caller's ks_op: ks__op_begin
 *    before, ks__op_wait or ks__op_async_issued after). So do the buffers the
 *    request names (the WSK_BUF and its locked MDL, the addresses, the
 *    result pointers): resident and untouched until then. Calls without an
 *    IRP (WskRelease, WskFreeAddressInfo, WskControlSocket with irp NULL)
 *    are over when they return.
 *
 * IRQL: as WSK documents each call; the library makes them all at
 * PASSIVE_LEVEL.
 */
#ifndef KS_WSK_H
#define KS_WSK_H

#include "ks_kernel.h"

/* ---- client level (WSK_PROVIDER_NPI) ---- */

/* WskSocket: creates a socket of the category flags (WSK_FLAG_*_SOCKET),
 * whose event callbacks (dispatch: a WSK_CLIENT_*_DISPATCH of the
 * category, or NULL) get context. The new PWSK_SOCKET is the IRP's
 * IoStatus.Information. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS
ks__wsk_socket(_In_ const WSK_PROVIDER_NPI *npi, ADDRESS_FAMILY family, USHORT type, ULONG protocol,
               ULONG flags, _In_opt_ PVOID context, _In_opt_ const void *dispatch,
               _Inout_ PIRP irp);

/* WskGetAddressInfo: node and/or service (one may be NULL) in name_space
 * (NS_ALL), with hints; *result receives the provider's list, which
 * ks__wsk_free_address_info gives back. */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS
ks__wsk_get_address_info(_In_ const WSK_PROVIDER_NPI *npi, _In_opt_ PUNICODE_STRING node,
                         _In_opt_ PUNICODE_STRING service, ULONG name_space,
                         _In_opt_ PADDRINFOEXW hints, _Out_ PADDRINFOEXW *result, _Inout_ PIRP irp);

/* WskFreeAddressInfo: gives back a list WskGetAddressInfo returned. */
_IRQL_requires_max_(PASSIVE_LEVEL) void ks__wsk_free_address_info(_In_ const WSK_PROVIDER_NPI *npi,
                                                                  _In_ PADDRINFOEXW list);

/* WskGetNameInfo: the names of addr (addr_len bytes) into node and/or
 * service (one may be NULL; their Buffer and MaximumLength set). */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS
ks__wsk_get_name_info(_In_ const WSK_PROVIDER_NPI *npi, _In_ PSOCKADDR addr, ULONG addr_len,
                      _Inout_opt_ PUNICODE_STRING node, _Inout_opt_ PUNICODE_STRING service,
                      ULONG flags, _Inout_ PIRP irp);

/* ---- every socket (WSK_PROVIDER_BASIC_DISPATCH) ---- */

/* WskControlSocket: an option (WskSetOption/WskGetOption at level) or an
 * ioctl (WskIoctl) of wsk. *returned receives the output's size. irp may
 * be NULL for the calls that complete at once (SO_WSK_EVENT_CALLBACK):
 * then PASSIVE_LEVEL. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS
ks__wsk_control_socket(_In_ PWSK_SOCKET wsk, WSK_CONTROL_SOCKET_TYPE type, ULONG code, ULONG level,
                       SIZE_T in_size, _In_reads_bytes_opt_(in_size) PVOID in, SIZE_T out_size,
                       _Out_writes_bytes_opt_(out_size) PVOID out, _Out_ SIZE_T *returned,
                       _Inout_opt_ PIRP irp);

/* WskCloseSocket: closes wsk, cancelling what is still pending on it. The
 * caller ensures no other call on wsk is running or starts (the close
 * waits for every bracket first); wsk is gone once the IRP completed. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS
ks__wsk_close_socket(_In_ PWSK_SOCKET wsk, _Inout_ PIRP irp);

/* ---- listening, datagram and connection sockets ---- */

/* WskBind of wsk to addr (every category has it, in the same place). */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS
ks__wsk_bind(_In_ PWSK_SOCKET wsk, _In_ const SOCKADDR *addr, ULONG flags, _Inout_ PIRP irp);

/* WskGetLocalAddress of wsk, a socket of category kind (WSK_FLAG_*_SOCKET:
 * the call's place differs between the tables), into *addr.
 * STATUS_NOT_SUPPORTED, with the IRP untouched, when kind has none. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS
ks__wsk_get_local_address(_In_ PWSK_SOCKET wsk, ULONG kind, _Out_ PSOCKADDR addr, _Inout_ PIRP irp);

/* WskGetRemoteAddress of wsk (category kind: only connection sockets have
 * it; STATUS_NOT_SUPPORTED, with the IRP untouched, otherwise). */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS
ks__wsk_get_remote_address(_In_ PWSK_SOCKET wsk, ULONG kind, _Out_ PSOCKADDR addr,
                           _Inout_ PIRP irp);

/* ---- listening sockets (WSK_PROVIDER_LISTEN_DISPATCH) ---- */

/* WskAccept: the next connection of the listening socket wsk, created
 * with dispatch and context; its peer's address into *remote (optional).
 * The accepted PWSK_SOCKET is the IRP's IoStatus.Information. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS
ks__wsk_accept(_In_ PWSK_SOCKET wsk, ULONG flags, _In_opt_ PVOID context,
               _In_opt_ const WSK_CLIENT_CONNECTION_DISPATCH *dispatch, _Out_opt_ PSOCKADDR remote,
               _Inout_ PIRP irp);

/* ---- datagram sockets (WSK_PROVIDER_DATAGRAM_DISPATCH) ---- */

/* WskSendTo: one datagram (buf) to remote. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS
ks__wsk_send_to(_In_ PWSK_SOCKET wsk, _In_ PWSK_BUF buf, ULONG flags, _In_ const SOCKADDR *remote,
                _Inout_ PIRP irp);

/* WskReceiveFrom: one datagram into buf, its sender into *remote; the
 * control information's length into *control_len and its flags
 * (MSG_TRUNC, ...) into *control_flags. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS
ks__wsk_receive_from(_In_ PWSK_SOCKET wsk, _In_ PWSK_BUF buf, ULONG flags,
                     _Out_opt_ PSOCKADDR remote, _Inout_opt_ PULONG control_len,
                     _Out_opt_ PULONG control_flags, _Inout_ PIRP irp);

/* ---- connection sockets (WSK_PROVIDER_CONNECTION_DISPATCH) ---- */

/* WskConnect of wsk (bound) to remote. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS
ks__wsk_connect(_In_ PWSK_SOCKET wsk, _In_ const SOCKADDR *remote, ULONG flags, _Inout_ PIRP irp);

/* WskSend of buf; the count sent is the IRP's IoStatus.Information. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS
ks__wsk_send(_In_ PWSK_SOCKET wsk, _In_ PWSK_BUF buf, ULONG flags, _Inout_ PIRP irp);

/* WskReceive into buf; the count received (0: end of stream) is the IRP's
 * IoStatus.Information. */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS
ks__wsk_receive(_In_ PWSK_SOCKET wsk, _In_ PWSK_BUF buf, ULONG flags, _Inout_ PIRP irp);

/* WskDisconnect: graceful (flags 0; buf, optional, sent last) or abortive
 * (WSK_FLAG_ABORTIVE). */
_Must_inspect_result_ _IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS
ks__wsk_disconnect(_In_ PWSK_SOCKET wsk, _In_opt_ PWSK_BUF buf, ULONG flags, _Inout_ PIRP irp);

/* WskRelease: gives back a data indication list a receive event callback
 * retained (STATUS_PENDING from WskReceiveEvent). */
_IRQL_requires_max_(DISPATCH_LEVEL) NTSTATUS
    ks__wsk_release(_In_ PWSK_SOCKET wsk, _In_ PWSK_DATA_INDICATION list);

#endif /* KS_WSK_H */
