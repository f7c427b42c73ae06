/* ks_wsk.c - the WSK call layer (ks_wsk.h): every read of a provider
 * dispatch table, and every call through one. */
#include "ks_wsk.h"

/* The tables behind a socket. Every category's table starts with the basic
 * calls (WskControlSocket, WskCloseSocket), then WskBind. */
static const WSK_PROVIDER_BASIC_DISPATCH *basic(PWSK_SOCKET wsk)
{
    KS_ASSERT(wsk != NULL && wsk->Dispatch != NULL); /* open for the call */
    return (const WSK_PROVIDER_BASIC_DISPATCH *)wsk->Dispatch;
}

static const WSK_PROVIDER_LISTEN_DISPATCH *listen_table(PWSK_SOCKET wsk)
{
    KS_ASSERT(wsk != NULL && wsk->Dispatch != NULL);
    return (const WSK_PROVIDER_LISTEN_DISPATCH *)wsk->Dispatch;
}

static const WSK_PROVIDER_DATAGRAM_DISPATCH *datagram_table(PWSK_SOCKET wsk)
{
    KS_ASSERT(wsk != NULL && wsk->Dispatch != NULL);
    return (const WSK_PROVIDER_DATAGRAM_DISPATCH *)wsk->Dispatch;
}

static const WSK_PROVIDER_CONNECTION_DISPATCH *connection_table(PWSK_SOCKET wsk)
{
    KS_ASSERT(wsk != NULL && wsk->Dispatch != NULL);
    return (const WSK_PROVIDER_CONNECTION_DISPATCH *)wsk->Dispatch;
}

/* ---- client level ---- */

NTSTATUS ks__wsk_socket(const WSK_PROVIDER_NPI *npi, ADDRESS_FAMILY family, USHORT type,
                        ULONG protocol, ULONG flags, PVOID context, const void *dispatch, PIRP irp)
{
    KS_ASSERT(irp != NULL);
    return npi->Dispatch->WskSocket(npi->Client, family, type, protocol, flags, context, dispatch,
                                    NULL, NULL, NULL, irp);
}

NTSTATUS ks__wsk_get_address_info(const WSK_PROVIDER_NPI *npi, PUNICODE_STRING node,
                                  PUNICODE_STRING service, ULONG name_space, PADDRINFOEXW hints,
                                  PADDRINFOEXW *result, PIRP irp)
{
    KS_ASSERT(irp != NULL);
    return npi->Dispatch->WskGetAddressInfo(npi->Client, node, service, name_space, NULL, hints,
                                            result, NULL, NULL, irp);
}

void ks__wsk_free_address_info(const WSK_PROVIDER_NPI *npi, PADDRINFOEXW list)
{
    npi->Dispatch->WskFreeAddressInfo(npi->Client, list);
}

NTSTATUS ks__wsk_get_name_info(const WSK_PROVIDER_NPI *npi, PSOCKADDR addr, ULONG addr_len,
                               PUNICODE_STRING node, PUNICODE_STRING service, ULONG flags, PIRP irp)
{
    KS_ASSERT(irp != NULL);
    return npi->Dispatch->WskGetNameInfo(npi->Client, addr, addr_len, node, service, flags, NULL,
                                         NULL, irp);
}

/* ---- every socket ---- */

NTSTATUS ks__wsk_control_socket(PWSK_SOCKET wsk, WSK_CONTROL_SOCKET_TYPE type, ULONG code,
                                ULONG level, SIZE_T in_size, PVOID in, SIZE_T out_size, PVOID out,
                                SIZE_T *returned, PIRP irp)
{
    return basic(wsk)->WskControlSocket(wsk, type, code, level, in_size, in, out_size, out,
                                        returned, irp);
}

NTSTATUS ks__wsk_close_socket(PWSK_SOCKET wsk, PIRP irp)
{
    KS_ASSERT(irp != NULL);
    return basic(wsk)->WskCloseSocket(wsk, irp);
}

NTSTATUS ks__wsk_bind(PWSK_SOCKET wsk, const SOCKADDR *addr, ULONG flags, PIRP irp)
{
    KS_ASSERT(irp != NULL);
    /* WskBind follows the basic calls in every table: the listening one's
     * place serves all (WSK does not write the address). */
    return listen_table(wsk)->WskBind(wsk, (PSOCKADDR)addr, flags, irp);
}

NTSTATUS ks__wsk_get_local_address(PWSK_SOCKET wsk, ULONG kind, PSOCKADDR addr, PIRP irp)
{
    KS_ASSERT(irp != NULL);
    PFN_WSK_GET_LOCAL_ADDRESS get_local = NULL;
    switch (kind) {
    case WSK_FLAG_LISTEN_SOCKET:
        get_local = listen_table(wsk)->WskGetLocalAddress;
        break;
    case WSK_FLAG_DATAGRAM_SOCKET:
        get_local = datagram_table(wsk)->WskGetLocalAddress;
        break;
    case WSK_FLAG_CONNECTION_SOCKET:
        get_local = connection_table(wsk)->WskGetLocalAddress;
        break;
    default:
        break;
    }
    return get_local != NULL ? get_local(wsk, addr, irp) : STATUS_NOT_SUPPORTED;
}

NTSTATUS ks__wsk_get_remote_address(PWSK_SOCKET wsk, ULONG kind, PSOCKADDR addr, PIRP irp)
{
    KS_ASSERT(irp != NULL);
    PFN_WSK_GET_REMOTE_ADDRESS get_remote =
        kind == WSK_FLAG_CONNECTION_SOCKET ? connection_table(wsk)->WskGetRemoteAddress : NULL;
    return get_remote != NULL ? get_remote(wsk, addr, irp) : STATUS_NOT_SUPPORTED;
}

/* ---- listening sockets ---- */

NTSTATUS ks__wsk_accept(PWSK_SOCKET wsk, ULONG flags, PVOID context,
                        const WSK_CLIENT_CONNECTION_DISPATCH *dispatch, PSOCKADDR remote, PIRP irp)
{
    KS_ASSERT(irp != NULL);
    return listen_table(wsk)->WskAccept(wsk, flags, context, dispatch, NULL, remote, irp);
}

/* ---- datagram sockets ---- */

NTSTATUS ks__wsk_send_to(PWSK_SOCKET wsk, PWSK_BUF buf, ULONG flags, const SOCKADDR *remote,
                         PIRP irp)
{
    KS_ASSERT(irp != NULL);
    return datagram_table(wsk)->WskSendTo(wsk, buf, flags, (PSOCKADDR)remote, 0, NULL, irp);
}

NTSTATUS ks__wsk_receive_from(PWSK_SOCKET wsk, PWSK_BUF buf, ULONG flags, PSOCKADDR remote,
                              PULONG control_len, PULONG control_flags, PIRP irp)
{
    KS_ASSERT(irp != NULL);
    return datagram_table(wsk)->WskReceiveFrom(wsk, buf, flags, remote, control_len, NULL,
                                               control_flags, irp);
}

/* ---- connection sockets ---- */

NTSTATUS ks__wsk_connect(PWSK_SOCKET wsk, const SOCKADDR *remote, ULONG flags, PIRP irp)
{
    KS_ASSERT(irp != NULL);
    return connection_table(wsk)->WskConnect(wsk, (PSOCKADDR)remote, flags, irp);
}

NTSTATUS ks__wsk_send(PWSK_SOCKET wsk, PWSK_BUF buf, ULONG flags, PIRP irp)
{
    KS_ASSERT(irp != NULL);
    return connection_table(wsk)->WskSend(wsk, buf, flags, irp);
}

NTSTATUS ks__wsk_receive(PWSK_SOCKET wsk, PWSK_BUF buf, ULONG flags, PIRP irp)
{
    KS_ASSERT(irp != NULL);
    return connection_table(wsk)->WskReceive(wsk, buf, flags, irp);
}

NTSTATUS ks__wsk_disconnect(PWSK_SOCKET wsk, PWSK_BUF buf, ULONG flags, PIRP irp)
{
    KS_ASSERT(irp != NULL);
    return connection_table(wsk)->WskDisconnect(wsk, buf, flags, irp);
}

NTSTATUS ks__wsk_release(PWSK_SOCKET wsk, PWSK_DATA_INDICATION list)
{
    return connection_table(wsk)->WskRelease(wsk, list);
}
