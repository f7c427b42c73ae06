/*
 * provider.c - the WSK subsystem's registration side: WskRegister,
 * WskCaptureProviderNPI, WskReleaseProviderNPI,
 * WskQueryProviderCharacteristics, WskDeregister; the provider NPI's
 * dispatch table (WSK_PROVIDER_DISPATCH) and WskSocket; the "attached"
 * control of wskprov.h.
 *
 * Registrations are never freed, so a call through a deregistered one is
 * reported instead of touching freed memory.
 */
#include "wp.h"

#include <stdlib.h>

#define REG_MAGIC 0x57505247u /* "WPRG" */
#define WSK_VERSION_1_0 MAKE_WSK_VERSION(1, 0)

static struct {
    pn_mutex lock; /* everything here and in struct wp_reg */
    pn_cond changed;
    struct wp_reg *all;
    BOOLEAN detached; /* wskprov_set_attached(FALSE) */
} g;

void wp_provider_init(void)
{
    pn_mutex_init(&g.lock);
    pn_cond_init(&g.changed);
}

void wskprov_set_attached(BOOLEAN attached)
{
    wp_init_once();
    pn_mutex_lock(&g.lock);
    g.detached = !attached;
    pn_cond_broadcast(&g.changed);
    pn_mutex_unlock(&g.lock);
}

BOOLEAN wskprov_attached(void)
{
    wp_init_once();
    pn_mutex_lock(&g.lock);
    BOOLEAN attached = !g.detached;
    pn_mutex_unlock(&g.lock);
    return attached;
}

static BOOLEAN known(const struct wp_reg *r)
{
    for (struct wp_reg *p = g.all; p != NULL; p = p->next)
        if (p == r)
            return TRUE;
    return FALSE;
}

/* The registration behind a WSK_REGISTRATION (g.lock held). */
static struct wp_reg *reg_of(PWSK_REGISTRATION registration, const char *function)
{
    if (registration == NULL)
        kshim_violation("%s: WskRegistration is NULL", function);
    struct wp_reg *r = (struct wp_reg *)registration->ReservedRegistrationContext;
    if (registration->ReservedRegistrationState != REG_MAGIC || !known(r))
        kshim_violation("%s: the WSK_REGISTRATION at %p was not initialised by WskRegister",
                        function, (void *)registration);
    return r;
}

/* "WskRegister": registers a WSK application; the client dispatch table
 * must stay valid until WskDeregister. */
NTSTATUS WSKAPI WskRegister(PWSK_CLIENT_NPI WskClientNpi, PWSK_REGISTRATION WskRegistration)
{
    wp_init_once();
    if (WskClientNpi == NULL || WskClientNpi->Dispatch == NULL || WskRegistration == NULL)
        return STATUS_INVALID_PARAMETER;
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        kshim_violation("WskRegister at IRQL %u (PASSIVE_LEVEL only)", KeGetCurrentIrql());
    if (kshim_fault("wsk.register"))
        return STATUS_INSUFFICIENT_RESOURCES;
    struct wp_reg *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    r->magic = REG_MAGIC;
    r->client = *WskClientNpi;
    pn_mutex_lock(&g.lock);
    r->next = g.all;
    g.all = r;
    pn_mutex_unlock(&g.lock);
    RtlZeroMemory(WskRegistration, sizeof(*WskRegistration));
    WskRegistration->ReservedRegistrationState = REG_MAGIC;
    WskRegistration->ReservedRegistrationContext = r;
    kshim_count("wsk registrations", 1);
    return STATUS_SUCCESS;
}

static const WSK_PROVIDER_DISPATCH provider_dispatch = {
    .Version = WSK_VERSION_1_0,
    .Reserved = 0,
    .WskSocket = wp_WskSocket,
    .WskSocketConnect = wp_WskSocketConnect,
    .WskControlClient = wp_WskControlClient,
    .WskGetAddressInfo = wp_WskGetAddressInfo,
    .WskFreeAddressInfo = wp_WskFreeAddressInfo,
    .WskGetNameInfo = wp_WskGetNameInfo,
};

/*
 * "WskCaptureProviderNPI": STATUS_DEVICE_NOT_READY while the provider NPI is
 * not available (not attached: at once with WSK_NO_WAIT, else after
 * WaitTimeout ms; and after WskDeregister, which also wakes waiters);
 * STATUS_NOINTERFACE when the client's version is not supported. A wait
 * needs PASSIVE_LEVEL.
 */
NTSTATUS WSKAPI WskCaptureProviderNPI(PWSK_REGISTRATION WskRegistration, ULONG WaitTimeout,
                                      PWSK_PROVIDER_NPI WskProviderNpi)
{
    if (WaitTimeout != WSK_NO_WAIT && KeGetCurrentIrql() != PASSIVE_LEVEL)
        kshim_violation("WskCaptureProviderNPI with a wait at IRQL %u (PASSIVE_LEVEL only)",
                        KeGetCurrentIrql());
    if (WskProviderNpi == NULL)
        kshim_violation("WskCaptureProviderNPI: WskProviderNpi is NULL");
    pn_mutex_lock(&g.lock);
    struct wp_reg *r = reg_of(WskRegistration, "WskCaptureProviderNPI");
    pn_mutex_unlock(&g.lock);
    if (kshim_fault("wsk.capture"))
        return STATUS_DEVICE_NOT_READY;
    if (WSK_MAJOR_VERSION(r->client.Dispatch->Version) != 1)
        return STATUS_NOINTERFACE;
    uint64_t start = pn_now_ms();
    pn_mutex_lock(&g.lock);
    while (g.detached && !r->deregister && WaitTimeout != WSK_NO_WAIT) {
        if (WaitTimeout == WSK_INFINITE_WAIT) {
            pn_cond_wait(&g.changed, &g.lock);
            continue;
        }
        uint64_t waited = pn_now_ms() - start;
        if (waited >= WaitTimeout)
            break;
        pn_cond_timedwait(&g.changed, &g.lock, WaitTimeout - waited);
    }
    if (g.detached || r->deregister) {
        pn_mutex_unlock(&g.lock);
        return STATUS_DEVICE_NOT_READY;
    }
    r->captures++;
    pn_mutex_unlock(&g.lock);
    WskProviderNpi->Client = r;
    WskProviderNpi->Dispatch = &provider_dispatch;
    return STATUS_SUCCESS;
}

/* "WskReleaseProviderNPI": one per successful capture. */
VOID WSKAPI WskReleaseProviderNPI(PWSK_REGISTRATION WskRegistration)
{
    pn_mutex_lock(&g.lock);
    struct wp_reg *r = reg_of(WskRegistration, "WskReleaseProviderNPI");
    if (r->captures <= 0)
        kshim_violation("WskReleaseProviderNPI without a matching successful "
                        "WskCaptureProviderNPI");
    r->captures--;
    pn_cond_broadcast(&g.changed);
    pn_mutex_unlock(&g.lock);
}

NTSTATUS WSKAPI WskQueryProviderCharacteristics(
    PWSK_REGISTRATION WskRegistration, PWSK_PROVIDER_CHARACTERISTICS WskProviderCharacteristics)
{
    pn_mutex_lock(&g.lock);
    (void)reg_of(WskRegistration, "WskQueryProviderCharacteristics");
    pn_mutex_unlock(&g.lock);
    if (WskProviderCharacteristics == NULL)
        return STATUS_INVALID_PARAMETER;
    WskProviderCharacteristics->HighestVersion = WSK_VERSION_1_0;
    WskProviderCharacteristics->LowestVersion = WSK_VERSION_1_0;
    return STATUS_SUCCESS;
}

/*
 * "WskDeregister" waits until every captured provider NPI is released, every
 * call through WSK_PROVIDER_DISPATCH has returned and every socket is
 * closed. A hang is a test failure: after 20 s it says what it waits for,
 * then keeps waiting (the test's timeout ends it).
 */
VOID WSKAPI WskDeregister(PWSK_REGISTRATION WskRegistration)
{
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        kshim_violation("WskDeregister at IRQL %u (PASSIVE_LEVEL only)", KeGetCurrentIrql());
    pn_mutex_lock(&g.lock);
    struct wp_reg *r = reg_of(WskRegistration, "WskDeregister");
    if (r->deregister)
        kshim_violation("WskDeregister called twice for the registration at %p",
                        (void *)WskRegistration);
    r->deregister = TRUE;
    pn_cond_broadcast(&g.changed);
    uint64_t next_report = pn_now_ms() + 20000;
    while (r->captures > 0 || r->sockets > 0 || r->busy > 0) {
        pn_cond_timedwait(&g.changed, &g.lock, 1000);
        if (pn_now_ms() >= next_report) {
            pn_log("wskprov: WskDeregister still waiting for %ld sockets (%ld captured NPIs, "
                   "%ld calls in progress)",
                   (long)r->sockets, (long)r->captures, (long)r->busy);
            next_report += 20000;
        }
    }
    pn_mutex_unlock(&g.lock);
    kshim_count("wsk registrations", -1);
}

struct wp_reg *wp_reg_enter(PWSK_CLIENT client, const char *function)
{
    struct wp_reg *r = (struct wp_reg *)client;
    pn_mutex_lock(&g.lock);
    if (!known(r))
        kshim_violation("%s: Client %p is not a WSK_PROVIDER_NPI.Client from "
                        "WskCaptureProviderNPI",
                        function, client);
    if (r->deregister)
        kshim_violation("%s after WskDeregister", function);
    if (r->captures <= 0)
        kshim_violation("%s without a captured provider NPI (WskCaptureProviderNPI, or "
                        "after WskReleaseProviderNPI)",
                        function);
    r->busy++;
    pn_mutex_unlock(&g.lock);
    return r;
}

void wp_reg_leave(struct wp_reg *r)
{
    pn_mutex_lock(&g.lock);
    r->busy--;
    pn_cond_broadcast(&g.changed);
    pn_mutex_unlock(&g.lock);
}

void wp_reg_socket_added(struct wp_reg *r)
{
    pn_mutex_lock(&g.lock);
    r->sockets++;
    pn_mutex_unlock(&g.lock);
}

void wp_reg_socket_removed(struct wp_reg *r)
{
    pn_mutex_lock(&g.lock);
    r->sockets--;
    pn_cond_broadcast(&g.changed);
    pn_mutex_unlock(&g.lock);
}

/* Creates the socket of a WskSocket call. */
static NTSTATUS create_socket(struct wp_reg *r, ADDRESS_FAMILY family, USHORT type, ULONG protocol,
                              ULONG flags, PVOID context, const void *dispatch, ULONG_PTR *info)
{
    enum wp_kind kind;
    int fam = family == AF_INET ? 4 : family == AF_INET6 ? 6 : 0;
    if (fam == 0)
        return STATUS_INVALID_PARAMETER;
    switch (flags) {
    case WSK_FLAG_LISTEN_SOCKET:
        kind = WP_LISTEN;
        break;
    case WSK_FLAG_CONNECTION_SOCKET:
        kind = WP_CONNECTION;
        break;
    case WSK_FLAG_DATAGRAM_SOCKET:
        kind = WP_DATAGRAM;
        break;
    case WSK_FLAG_BASIC_SOCKET:
        kind = WP_BASIC;
        break;
    case WSK_FLAG_STREAM_SOCKET:
        /* Windows 10 1703+ stream sockets: not offered (yet). */
        return STATUS_NOT_SUPPORTED;
    default:
        return STATUS_INVALID_PARAMETER;
    }
    BOOLEAN stream =
        kind == WP_LISTEN || kind == WP_CONNECTION || (kind == WP_BASIC && type == SOCK_STREAM);
    if (type != (stream ? SOCK_STREAM : SOCK_DGRAM))
        return STATUS_INVALID_PARAMETER;
    if (protocol != 0 && protocol != (stream ? IPPROTO_TCP : IPPROTO_UDP))
        return STATUS_NOT_SUPPORTED;
    int fd = pn_socket(fam, stream);
    if (fd < 0)
        return wp_status(fd);
    /* IPV6_V6ONLY is on by default on Windows. */
    if (fam == 6)
        pn_setopt(fd, PN_IPV6_V6ONLY, 1);
    struct wp_sock *s = wp_sock_new(r, kind, fam, fd);
    if (s == NULL) {
        pn_close(fd);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    s->context = context;
    s->client_dispatch = dispatch;
    *info = (ULONG_PTR)&s->wsk;
    return STATUS_SUCCESS;
}

/*
 * "WskSocket": creates a listening, connection, datagram or basic socket
 * (Flags) of AF_INET or AF_INET6; the IRP's Information receives the
 * PWSK_SOCKET, whose Dispatch is the table of that category. Dispatch (the
 * client's event callbacks: WSK_CLIENT_LISTEN_DISPATCH for a listening
 * socket, WSK_CLIENT_CONNECTION_DISPATCH for a connection socket) is kept
 * for the callbacks SO_WSK_EVENT_CALLBACK enables (events.c).
 */
NTSTATUS WSKAPI wp_WskSocket(PWSK_CLIENT Client, ADDRESS_FAMILY AddressFamily, USHORT SocketType,
                             ULONG Protocol, ULONG Flags, PVOID SocketContext, CONST VOID *Dispatch,
                             PEPROCESS OwningProcess, PETHREAD OwningThread,
                             PSECURITY_DESCRIPTOR SecurityDescriptor, PIRP Irp)
{
    UNREFERENCED_PARAMETER(OwningProcess);
    UNREFERENCED_PARAMETER(OwningThread);
    UNREFERENCED_PARAMETER(SecurityDescriptor);
    struct wp_reg *r = wp_reg_enter(Client, "WskSocket");
    wp_take_irp(Irp, "WskSocket");
    ULONG_PTR info = 0;
    NTSTATUS status;
    if (kshim_fault("wsk.socket"))
        status = STATUS_INSUFFICIENT_RESOURCES;
    else
        status = create_socket(r, AddressFamily, SocketType, Protocol, Flags, SocketContext,
                               Dispatch, &info);
    BOOLEAN now = wp_complete(Irp, status, info, NULL);
    wp_reg_leave(r);
    return wp_returned(now, status);
}
