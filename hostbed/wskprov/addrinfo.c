/*
 * addrinfo.c - name resolution: WskGetAddressInfo, WskGetNameInfo and
 * WskFreeAddressInfo. UNICODE_STRING names (UTF-16) become UTF-8 for
 * getaddrinfo/getnameinfo, which run on a provider thread of their own (they
 * block); the IRP completes from there. Result lists are ADDRINFOEXW chains
 * in nonpaged pool tagged WSKPROV_TAG_ADDRINFO, one block per entry (the
 * structure, its SOCKADDR and canonical name), so unreleased lists show in
 * the shim's leak report.
 *
 * Errors (the WSK pages say only "other status codes"): no such host or
 * service STATUS_NOT_FOUND (WSAHOST_NOT_FOUND / WSATYPE_NOT_FOUND), bad
 * arguments STATUS_INVALID_PARAMETER, temporary failure STATUS_IO_TIMEOUT
 * (WSATRY_AGAIN), no memory STATUS_INSUFFICIENT_RESOURCES, other
 * STATUS_UNSUCCESSFUL.
 */
#include "wp.h"

#include <stdlib.h>

/* UTF-16 (length in code units) -> NUL-terminated UTF-8 (malloc'ed); NULL on
 * invalid input or no memory. */
static char *utf16_to_utf8(const WCHAR *s, size_t n)
{
    char *out = malloc(n * 3 + 1);
    size_t o = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        if (c >= 0xd800 && c <= 0xdbff) {
            if (i + 1 >= n || s[i + 1] < 0xdc00 || s[i + 1] > 0xdfff)
                goto bad;
            c = 0x10000 + ((c - 0xd800) << 10) + ((uint32_t)s[i + 1] - 0xdc00);
            i++;
        } else if ((c >= 0xdc00 && c <= 0xdfff) || c == 0) {
            goto bad;
        }
        if (c < 0x80) {
            out[o++] = (char)c;
        } else if (c < 0x800) {
            out[o++] = (char)(0xc0 | (c >> 6));
            out[o++] = (char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) {
            out[o++] = (char)(0xe0 | (c >> 12));
            out[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
            out[o++] = (char)(0x80 | (c & 0x3f));
        } else {
            out[o++] = (char)(0xf0 | (c >> 18));
            out[o++] = (char)(0x80 | ((c >> 12) & 0x3f));
            out[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
            out[o++] = (char)(0x80 | (c & 0x3f));
        }
    }
    out[o] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

/* UTF-8 -> UTF-16 into out (room code units, NUL included if it fits);
 * returns the code units without the NUL, or -1 if invalid or too long. */
static long utf8_to_utf16(const char *s, WCHAR *out, size_t room)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p != 0) {
        uint32_t c;
        int extra;
        if (*p < 0x80) {
            c = *p;
            extra = 0;
        } else if ((*p & 0xe0) == 0xc0) {
            c = *p & 0x1f;
            extra = 1;
        } else if ((*p & 0xf0) == 0xe0) {
            c = *p & 0x0f;
            extra = 2;
        } else if ((*p & 0xf8) == 0xf0) {
            c = *p & 0x07;
            extra = 3;
        } else {
            return -1;
        }
        p++;
        for (int k = 0; k < extra; k++, p++) {
            if ((*p & 0xc0) != 0x80)
                return -1;
            c = (c << 6) | (*p & 0x3f);
        }
        if (c >= 0x10000) {
            if (o + 2 > room)
                return -1;
            c -= 0x10000;
            out[o++] = (WCHAR)(0xd800 + (c >> 10));
            out[o++] = (WCHAR)(0xdc00 + (c & 0x3ff));
        } else {
            if (o + 1 > room)
                return -1;
            out[o++] = (WCHAR)c;
        }
    }
    if (o < room)
        out[o] = 0;
    return (long)o;
}

static size_t utf8_to_utf16_length(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != 0; p++) {
        if ((*p & 0xc0) != 0x80)
            n++;
        if ((*p & 0xf8) == 0xf0)
            n++; /* a surrogate pair */
    }
    return n;
}

static NTSTATUS eai_status(int e)
{
    switch (e) {
    case 0:
        return STATUS_SUCCESS;
    case PN_EAI_NONAME:
    case PN_EAI_SERVICE:
        return STATUS_NOT_FOUND;
    case PN_EAI_AGAIN:
        return STATUS_IO_TIMEOUT;
    case PN_EAI_MEMORY:
        return STATUS_INSUFFICIENT_RESOURCES;
    case PN_EAI_BADFLAGS:
    case PN_EAI_FAMILY:
    case PN_EAI_SOCKTYPE:
        return STATUS_INVALID_PARAMETER;
    case PN_EAI_OVERFLOW:
        return STATUS_BUFFER_TOO_SMALL;
    default:
        return STATUS_UNSUCCESSFUL;
    }
}

/* Converts an optional UNICODE_STRING; *out NULL for an absent or empty one. */
static NTSTATUS name_in(const UNICODE_STRING *u, char **out)
{
    *out = NULL;
    if (u == NULL || u->Length == 0)
        return STATUS_SUCCESS;
    if (u->Buffer == NULL || (u->Length & 1) != 0)
        return STATUS_INVALID_PARAMETER;
    *out = utf16_to_utf8(u->Buffer, u->Length / sizeof(WCHAR));
    return *out != NULL ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

VOID WSKAPI wp_WskFreeAddressInfo(PWSK_CLIENT Client, PADDRINFOEXW AddrInfo)
{
    UNREFERENCED_PARAMETER(Client);
    while (AddrInfo != NULL) {
        PADDRINFOEXW next = AddrInfo->ai_next;
        ExFreePoolWithTag(AddrInfo, WSKPROV_TAG_ADDRINFO);
        AddrInfo = next;
    }
}

struct gai_job {
    struct wp_reg *reg;
    PIRP irp;
    char *node, *service;
    int flags, family, socktype, protocol;
    PADDRINFOEXW *result;
};

/* One ADDRINFOEXW entry (with its address and name) in one pool block. */
static PADDRINFOEXW make_entry(const struct pn_addrinfo *a)
{
    size_t name_units = a->canonname != NULL ? utf8_to_utf16_length(a->canonname) + 1 : 0;
    size_t size = sizeof(ADDRINFOEXW) + sizeof(SOCKADDR_IN6) + name_units * sizeof(WCHAR);
    PADDRINFOEXW e = ExAllocatePoolWithTag(NonPagedPool, size, WSKPROV_TAG_ADDRINFO);
    if (e == NULL)
        return NULL;
    RtlZeroMemory(e, size);
    e->ai_family = a->addr.family == 6 ? AF_INET6 : AF_INET;
    e->ai_socktype = a->socktype == 1 ? SOCK_STREAM : a->socktype == 2 ? SOCK_DGRAM : 0;
    e->ai_protocol = a->protocol;
    e->ai_addr = (struct sockaddr *)(e + 1);
    e->ai_addrlen = a->addr.family == 6 ? sizeof(SOCKADDR_IN6) : sizeof(SOCKADDR_IN);
    wp_addr_out(&a->addr, e->ai_addr);
    if (name_units > 0) {
        e->ai_canonname = (PWSTR)((PUCHAR)(e + 1) + sizeof(SOCKADDR_IN6));
        if (utf8_to_utf16(a->canonname, e->ai_canonname, name_units) < 0)
            e->ai_canonname = NULL;
    }
    return e;
}

static void gai_thread(void *arg)
{
    struct gai_job *job = arg;
    struct pn_addrinfo *list = NULL;
    PADDRINFOEXW head = NULL, *tail = &head;
    NTSTATUS status = eai_status(pn_getaddrinfo(job->node, job->service, job->flags, job->family,
                                                job->socktype, job->protocol, &list));
    for (struct pn_addrinfo *a = list; NT_SUCCESS(status) && a != NULL; a = a->next) {
        PADDRINFOEXW e = make_entry(a);
        if (e == NULL) {
            status = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
        *tail = e;
        tail = &e->ai_next;
    }
    pn_freeaddrinfo(list);
    if (!NT_SUCCESS(status)) {
        wp_WskFreeAddressInfo(NULL, head);
        head = NULL;
    }
    *job->result = head;
    wp_complete(job->irp, status, 0, NULL);
    wp_reg_leave(job->reg);
    free(job->node);
    free(job->service);
    free(job);
}

/*
 * "WskGetAddressInfo": name (and/or service) to transport addresses, at
 * PASSIVE_LEVEL. NameSpace NS_ALL or NS_DNS; Provider must be NULL; Hints
 * gives ai_flags (AI_PASSIVE, AI_CANONNAME, AI_NUMERICHOST, AI_NUMERICSERV,
 * AI_ALL, AI_ADDRCONFIG, AI_V4MAPPED; others ignored), ai_family (AF_UNSPEC,
 * AF_INET, AF_INET6), ai_socktype and ai_protocol. *Result receives the
 * list, to be freed with WskFreeAddressInfo.
 */
NTSTATUS WSKAPI wp_WskGetAddressInfo(PWSK_CLIENT Client, PUNICODE_STRING NodeName,
                                     PUNICODE_STRING ServiceName, ULONG NameSpace, GUID *Provider,
                                     PADDRINFOEXW Hints, PADDRINFOEXW *Result,
                                     PEPROCESS OwningProcess, PETHREAD OwningThread, PIRP Irp)
{
    UNREFERENCED_PARAMETER(OwningProcess);
    UNREFERENCED_PARAMETER(OwningThread);
    struct wp_reg *reg = wp_reg_enter(Client, "WskGetAddressInfo");
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        kshim_violation("WskGetAddressInfo at IRQL %u (PASSIVE_LEVEL only)", KeGetCurrentIrql());
    wp_take_irp(Irp, "WskGetAddressInfo");
    NTSTATUS status = STATUS_SUCCESS;
    struct gai_job *job = NULL;
    if (kshim_fault("wsk.getaddrinfo"))
        status = STATUS_NOT_FOUND;
    else if (Result == NULL)
        status = STATUS_INVALID_PARAMETER;
    else if ((NameSpace != NS_ALL && NameSpace != NS_DNS) || Provider != NULL)
        status = STATUS_NOT_SUPPORTED;
    else if ((job = calloc(1, sizeof(*job))) == NULL)
        status = STATUS_INSUFFICIENT_RESOURCES;
    if (NT_SUCCESS(status))
        status = name_in(NodeName, &job->node);
    if (NT_SUCCESS(status))
        status = name_in(ServiceName, &job->service);
    if (NT_SUCCESS(status) && job->node == NULL && job->service == NULL)
        status = STATUS_INVALID_PARAMETER;
    if (NT_SUCCESS(status) && Hints != NULL) {
        int f = Hints->ai_flags;
        job->flags = ((f & AI_PASSIVE) ? PN_AI_PASSIVE : 0) |
                     ((f & AI_CANONNAME) ? PN_AI_CANONNAME : 0) |
                     ((f & AI_NUMERICHOST) ? PN_AI_NUMERICHOST : 0) |
                     ((f & AI_NUMERICSERV) ? PN_AI_NUMERICSERV : 0) |
                     ((f & AI_V4MAPPED) ? PN_AI_V4MAPPED : 0) | ((f & AI_ALL) ? PN_AI_ALL : 0) |
                     ((f & AI_ADDRCONFIG) ? PN_AI_ADDRCONFIG : 0);
        if (Hints->ai_family == AF_INET)
            job->family = 4;
        else if (Hints->ai_family == AF_INET6)
            job->family = 6;
        else if (Hints->ai_family != AF_UNSPEC)
            status = STATUS_INVALID_PARAMETER;
        job->socktype = Hints->ai_socktype == SOCK_STREAM  ? 1
                        : Hints->ai_socktype == SOCK_DGRAM ? 2
                                                           : 0;
        job->protocol = Hints->ai_protocol;
    }
    if (NT_SUCCESS(status)) {
        job->reg = reg;
        job->irp = Irp;
        job->result = Result;
        /* Pending before the thread can complete it. */
        IoMarkIrpPending(Irp);
        if (!NT_SUCCESS(wp_run_thread(gai_thread, job))) {
            /* Marked pending: complete it and still say so. */
            free(job->node);
            free(job->service);
            free(job);
            wp_complete_now(Irp, STATUS_INSUFFICIENT_RESOURCES, 0, NULL);
            wp_reg_leave(reg);
        }
        return STATUS_PENDING; /* the thread leaves reg */
    }
    if (job != NULL) {
        free(job->node);
        free(job->service);
        free(job);
    }
    BOOLEAN now = wp_complete(Irp, status, 0, NULL);
    wp_reg_leave(reg);
    return wp_returned(now, status);
}

struct gni_job {
    struct wp_reg *reg;
    PIRP irp;
    struct pn_addr addr;
    int flags;
    PUNICODE_STRING node, service;
};

static NTSTATUS name_out(const char *s, PUNICODE_STRING u)
{
    if (u == NULL)
        return STATUS_SUCCESS;
    if (u->Buffer == NULL)
        return STATUS_INVALID_PARAMETER;
    long n = utf8_to_utf16(s, u->Buffer, u->MaximumLength / sizeof(WCHAR));
    if (n < 0)
        return STATUS_BUFFER_TOO_SMALL;
    u->Length = (USHORT)(n * (long)sizeof(WCHAR));
    return STATUS_SUCCESS;
}

static void gni_thread(void *arg)
{
    struct gni_job *job = arg;
    char host[NI_MAXHOST], service[NI_MAXSERV];
    NTSTATUS status = eai_status(
        pn_getnameinfo(&job->addr, host, sizeof(host), service, sizeof(service), job->flags));
    if (NT_SUCCESS(status))
        status = name_out(host, job->node);
    if (NT_SUCCESS(status))
        status = name_out(service, job->service);
    wp_complete(job->irp, status, 0, NULL);
    wp_reg_leave(job->reg);
    free(job);
}

/*
 * "WskGetNameInfo": transport address to host (and service) name, at
 * PASSIVE_LEVEL, into the caller's UNICODE_STRING buffers (MaximumLength;
 * Length is set). Flags: NI_NOFQDN, NI_NUMERICHOST, NI_NAMEREQD,
 * NI_NUMERICSERV, NI_DGRAM.
 */
NTSTATUS WSKAPI wp_WskGetNameInfo(PWSK_CLIENT Client, PSOCKADDR SockAddr, ULONG SockAddrLength,
                                  PUNICODE_STRING NodeName, PUNICODE_STRING ServiceName,
                                  ULONG Flags, PEPROCESS OwningProcess, PETHREAD OwningThread,
                                  PIRP Irp)
{
    UNREFERENCED_PARAMETER(OwningProcess);
    UNREFERENCED_PARAMETER(OwningThread);
    struct wp_reg *reg = wp_reg_enter(Client, "WskGetNameInfo");
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        kshim_violation("WskGetNameInfo at IRQL %u (PASSIVE_LEVEL only)", KeGetCurrentIrql());
    wp_take_irp(Irp, "WskGetNameInfo");
    NTSTATUS status = STATUS_SUCCESS;
    struct gni_job *job = NULL;
    int family = 0;
    if (SockAddr != NULL && SockAddr->sa_family == AF_INET && SockAddrLength >= sizeof(SOCKADDR_IN))
        family = 4;
    else if (SockAddr != NULL && SockAddr->sa_family == AF_INET6 &&
             SockAddrLength >= sizeof(SOCKADDR_IN6))
        family = 6;
    if (kshim_fault("wsk.getnameinfo"))
        status = STATUS_NOT_FOUND;
    else if (family == 0 || (NodeName == NULL && ServiceName == NULL))
        status = STATUS_INVALID_PARAMETER;
    else if ((job = calloc(1, sizeof(*job))) == NULL)
        status = STATUS_INSUFFICIENT_RESOURCES;
    if (NT_SUCCESS(status))
        status = wp_addr_in(SockAddr, family, &job->addr);
    if (NT_SUCCESS(status)) {
        job->reg = reg;
        job->irp = Irp;
        job->node = NodeName;
        job->service = ServiceName;
        job->flags = ((Flags & NI_NOFQDN) ? PN_NI_NOFQDN : 0) |
                     ((Flags & NI_NUMERICHOST) ? PN_NI_NUMERICHOST : 0) |
                     ((Flags & NI_NAMEREQD) ? PN_NI_NAMEREQD : 0) |
                     ((Flags & NI_NUMERICSERV) ? PN_NI_NUMERICSERV : 0) |
                     ((Flags & NI_DGRAM) ? PN_NI_DGRAM : 0);
        IoMarkIrpPending(Irp);
        if (!NT_SUCCESS(wp_run_thread(gni_thread, job))) {
            free(job);
            wp_complete_now(Irp, STATUS_INSUFFICIENT_RESOURCES, 0, NULL);
            wp_reg_leave(reg);
        }
        return STATUS_PENDING;
    }
    free(job);
    BOOLEAN now = wp_complete(Irp, status, 0, NULL);
    wp_reg_leave(reg);
    return wp_returned(now, status);
}
