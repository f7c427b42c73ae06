/*
 * ks_resolve.c - ks_getaddrinfo / ks_freeaddrinfo / ks_gai_strerror, and
 * the resolution queries shared with ks_nameinfo.c (see ks_resolve.h).
 *
 * ks_getaddrinfo splits a lookup in two: the host (NULL, numeric, or a name
 * for WskGetAddressInfo) and the service (NULL, numeric, or a name for
 * WskGetAddressInfo). Numeric parts never reach the provider, so a lookup
 * of "192.0.2.1" port "80" works without a provider at all. The result is
 * built by the library, one entry per address and socket type, each entry
 * one nonpaged block (tag ksRs) holding the addrinfo, its socket address
 * and, for the first, the canonical name, so ks_freeaddrinfo only walks the
 * list. The provider's own list is converted and released with
 * WskFreeAddressInfo before ks_getaddrinfo returns.
 */
#include "ks_provider.h"
#include "ks_resolve.h"
#include "ks_utf.h"
#include "ks_wsk.h"

#include <limits.h>

/* ------------------------------------------------------------- queries */

/* Queries in flight, for ks__query_cancel_all. A zero KSPIN_LOCK is an
 * initialised one; the list head points to itself from the start. */
static KSPIN_LOCK g_query_lock;
static LIST_ENTRY g_queries = {&g_queries, &g_queries};

/* The extra bytes start at this offset, aligned for any type they hold. */
#define KS_QUERY_HEAD ((sizeof(ks_query) + 15) & ~(SIZE_T)15)

int ks__query_start(ks_query **q, SIZE_T extra, void **extra_out, const WSK_PROVIDER_NPI **npi)
{
    KIRQL irql;

    *q = NULL;
    /* As for sockets: counted first, then checked, so that ks_cleanup (which
     * clears "running" and then waits for the count) cannot miss it. The
     * first check keeps the count untouched while ks_startup resets it. */
    if (!ks__library_running())
        return -ENETDOWN;
    ks__live_socket_added();
    ks_query *query = (ks_query *)ks__alloc(KS_QUERY_HEAD + extra, KS_TAG_RESOLVE);
    if (query == NULL) {
        ks__live_socket_removed();
        return -EAI_MEMORY;
    }
    if (!NT_SUCCESS(ks__op_init(&query->op))) {
        ks__free(query, KS_TAG_RESOLVE);
        ks__live_socket_removed();
        return -EAI_MEMORY;
    }
    KeAcquireSpinLock(&g_query_lock, &irql);
    InsertTailList(&g_queries, &query->link);
    KeReleaseSpinLock(&g_query_lock, irql);
    /* Listed before this check: a ks_cleanup that started meanwhile either
     * is seen here or sees the query in its cancel pass. */
    NTSTATUS status = ks__library_running() ? ks__provider_npi(npi) : STATUS_DEVICE_NOT_READY;
    if (!NT_SUCCESS(status)) {
        ks__query_end(query);
        return -ENETDOWN;
    }
    *extra_out = (UCHAR *)query + KS_QUERY_HEAD;
    *q = query;
    return 0;
}

NTSTATUS ks__query_wait(ks_query *q, NTSTATUS call_status, BOOLEAN *cancelled)
{
    /* ks__query_cancel_all may have run between the listing and the request
     * (it then found nothing to cancel): cancel now. Both sides write first
     * (the op's state, the flag: interlocked) and read second, so at least
     * one of them sees the request in flight. */
    if (InterlockedCompareExchange(&q->cancelled, 0, 0) != 0)
        ks__op_cancel(&q->op);
    NTSTATUS status = ks__op_wait(&q->op, call_status, NULL, NULL);
    *cancelled = InterlockedCompareExchange(&q->cancelled, 0, 0) != 0;
    return status;
}

void ks__query_end(ks_query *q)
{
    KIRQL irql;

    /* Unlisted under the lock: ks__query_cancel_all never touches a freed
     * IRP. */
    KeAcquireSpinLock(&g_query_lock, &irql);
    RemoveEntryList(&q->link);
    KeReleaseSpinLock(&g_query_lock, irql);
    ks__op_free(&q->op);
    ks__free(q, KS_TAG_RESOLVE);
    ks__live_socket_removed();
}

void ks__query_cancel_all(void)
{
    KIRQL irql;

    KeAcquireSpinLock(&g_query_lock, &irql);
    for (PLIST_ENTRY e = g_queries.Flink; e != &g_queries; e = e->Flink) {
        ks_query *q = CONTAINING_RECORD(e, ks_query, link);
        InterlockedExchange(&q->cancelled, 1);
        ks__op_cancel(&q->op);
    }
    KeReleaseSpinLock(&g_query_lock, irql);
}

int ks__query_status_to_eai(NTSTATUS status)
{
    switch (status) {
    case STATUS_NOT_FOUND:
    case STATUS_OBJECT_NAME_NOT_FOUND:
        return -EAI_NONAME;
    case STATUS_INSUFFICIENT_RESOURCES:
    case STATUS_NO_MEMORY:
        return -EAI_MEMORY;
    case STATUS_IO_TIMEOUT:
        return -EAI_AGAIN;
    case STATUS_BUFFER_TOO_SMALL:
    case STATUS_BUFFER_OVERFLOW:
        return -EAI_OVERFLOW;
    case STATUS_DEVICE_NOT_READY:
        return -ENETDOWN;
    default:
        return -EAI_FAIL;
    }
}

/* ------------------------------------------------------ WskGetAddressInfo */

/* What one WskGetAddressInfo request needs resident until it completes. */
struct gai_req {
    ADDRINFOEXW hints;
    PADDRINFOEXW result;
    UNICODE_STRING node, service;
    /* the node's and the service's UTF-16 text follow, NUL-terminated
     * (Wine's provider hands Buffer to GetAddrInfoExW as a C string) */
};

/* A provider answer, alive until gai_release. */
struct gai_answer {
    ks_query *q;
    const WSK_PROVIDER_NPI *npi;
    PADDRINFOEXW list;
};

/* Longest name accepted, in UTF-16 units (no DNS name comes close). */
#define KS_NAME_MAX_UNITS (NI_MAXHOST - 1)

static void set_name(UNICODE_STRING *u, WCHAR *buf, const char *text, long units)
{
    u->Buffer = buf;
    u->Length = (USHORT)(units * (long)sizeof(WCHAR));
    u->MaximumLength = (USHORT)((units + 1) * (long)sizeof(WCHAR));
    (void)ks__utf8_to_utf16(text, buf, (size_t)units + 1);
}

/*
 * Asks the provider for node and/or service (UTF-8, NULL when not asked)
 * with the given hints. invalid_err is returned for a name that cannot be
 * converted or is too long, not_found_err when the provider knows no such
 * name. On success the answer's list is not empty.
 */
static int gai_ask(const char *node, const char *service, int flags, int family, int socktype,
                   int invalid_err, int not_found_err, struct gai_answer *answer)
{
    long node_units = 0, service_units = 0;
    void *extra;
    BOOLEAN cancelled;

    answer->q = NULL;
    answer->list = NULL;
    if (node != NULL)
        node_units = ks__utf8_to_utf16(node, NULL, 0);
    if (service != NULL)
        service_units = ks__utf8_to_utf16(service, NULL, 0);
    if (node_units < 0 || service_units < 0 || node_units > KS_NAME_MAX_UNITS ||
        service_units > KS_NAME_MAX_UNITS)
        return invalid_err;
    SIZE_T size = sizeof(struct gai_req) +
                  ((SIZE_T)node_units + 1 + (SIZE_T)service_units + 1) * sizeof(WCHAR);
    int err = ks__query_start(&answer->q, size, &extra, &answer->npi);
    if (err != 0)
        return err;
    struct gai_req *req = (struct gai_req *)extra;
    WCHAR *text = (WCHAR *)(req + 1);
    if (node != NULL)
        set_name(&req->node, text, node, node_units);
    if (service != NULL)
        set_name(&req->service, text + node_units + 1, service, service_units);
    req->hints.ai_flags = flags;
    req->hints.ai_family = family;
    req->hints.ai_socktype = socktype;

    ks_query *q = answer->q;
    PIRP irp = ks__op_begin(&q->op);
    NTSTATUS status = ks__wsk_get_address_info(answer->npi, node != NULL ? &req->node : NULL,
                                               service != NULL ? &req->service : NULL, NS_ALL,
                                               &req->hints, &req->result, irp);
    status = ks__query_wait(q, status, &cancelled);
    answer->list = req->result;
    if (NT_SUCCESS(status) && answer->list != NULL)
        return 0;
    /* A provider that failed yet gave a list still gets it back. */
    if (answer->list != NULL)
        ks__wsk_free_address_info(answer->npi, answer->list);
    ks__query_end(q);
    answer->q = NULL;
    answer->list = NULL;
    if (cancelled)
        return -ENETDOWN;
    if (NT_SUCCESS(status) || status == STATUS_NOT_FOUND)
        return not_found_err;
    return ks__query_status_to_eai(status);
}

/* Gives the provider's list back (the NPI is still held by the query). */
static void gai_release(struct gai_answer *answer)
{
    if (answer->q == NULL)
        return;
    ks__wsk_free_address_info(answer->npi, answer->list);
    ks__query_end(answer->q);
    answer->q = NULL;
}

/* -------------------------------------------------------- ks_getaddrinfo */

/* What a lookup asks for, from the hints. */
struct lookup {
    int flags, family, protocol;
    BOOLEAN stream, dgram;            /* socket types wanted (and, after the service, served) */
    uint16_t stream_port, dgram_port; /* network byte order */
};

/* One entry of the result: the addrinfo, its address, then (first entry
 * with AI_CANONNAME) the canonical name, in one block. */
struct ks_ai_node {
    struct addrinfo ai;
    union {
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } sa;
};

/* The canonical name for the first entry: UTF-8 text or UTF-16 units. */
struct canon {
    const char *utf8;
    const WCHAR *utf16;
    size_t units;
    size_t bytes; /* UTF-8 length without the NUL; 0: no name */
};

struct builder {
    struct addrinfo *head;
    struct addrinfo **tail;
};

static BOOLEAN same_address(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return FALSE;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
    return RtlCompareMemory(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) ==
               sizeof(x->sin6_addr) &&
           x->sin6_scope_id == y->sin6_scope_id;
}

/* Appends one entry per socket type for addr (a valid sockaddr_in or
 * sockaddr_in6), unless the list has that address already. */
static int add_address(struct builder *b, const struct lookup *lk, const struct sockaddr *addr,
                       const struct canon *canon)
{
    for (const struct addrinfo *ai = b->head; ai != NULL; ai = ai->ai_next)
        if (same_address(ai->ai_addr, addr))
            return 0;
    for (int kind = 0; kind < 2; kind++) {
        int socktype = kind == 0 ? SOCK_STREAM : SOCK_DGRAM;
        if (!(kind == 0 ? lk->stream : lk->dgram))
            continue;
        SIZE_T name = b->head == NULL && canon->bytes > 0 ? canon->bytes + 1 : 0;
        struct ks_ai_node *n =
            (struct ks_ai_node *)ks__alloc(sizeof(struct ks_ai_node) + name, KS_TAG_RESOLVE);
        if (n == NULL)
            return -EAI_MEMORY;
        n->ai.ai_flags = lk->flags;
        n->ai.ai_family = addr->sa_family;
        n->ai.ai_socktype = socktype;
        n->ai.ai_protocol = lk->protocol != 0         ? lk->protocol
                            : socktype == SOCK_STREAM ? IPPROTO_TCP
                                                      : IPPROTO_UDP;
        n->ai.ai_addr = (struct sockaddr *)&n->sa;
        uint16_t port = socktype == SOCK_STREAM ? lk->stream_port : lk->dgram_port;
        if (addr->sa_family == AF_INET) {
            RtlCopyMemory(&n->sa.v4, addr, sizeof(n->sa.v4));
            n->sa.v4.sin_port = port;
            n->ai.ai_addrlen = sizeof(n->sa.v4);
        } else {
            RtlCopyMemory(&n->sa.v6, addr, sizeof(n->sa.v6));
            n->sa.v6.sin6_port = port;
            n->sa.v6.sin6_flowinfo = 0;
            n->ai.ai_addrlen = sizeof(n->sa.v6);
        }
        if (name > 0) {
            char *text = (char *)(n + 1);
            if (canon->utf8 != NULL)
                RtlCopyMemory(text, canon->utf8, canon->bytes);
            else
                (void)ks__utf16_to_utf8(canon->utf16, canon->units, text, name);
            n->ai.ai_canonname = text;
        }
        *b->tail = &n->ai;
        b->tail = &n->ai.ai_next;
    }
    return 0;
}

/* A decimal port: 1 ("0" .. "65535", no sign, no spaces; *port in network
 * order), -1 (digits only but above 65535: no such port), 0 (not a number:
 * a service name). */
static int numeric_port(const char *s, uint16_t *port)
{
    unsigned long v = 0;
    int digits = 0;

    for (; *s >= '0' && *s <= '9'; s++) {
        if (v <= 65535)
            v = v * 10 + (unsigned long)(*s - '0');
        digits++;
    }
    if (digits == 0 || *s != '\0')
        return 0;
    if (v > 65535)
        return -1;
    *port = ks_htons((uint16_t)v);
    return 1;
}

/* The hints: ai_flags, ai_family, ai_socktype, ai_protocol (other members
 * are ignored). */
static int read_hints(const struct addrinfo *hints, const char *node, struct lookup *lk)
{
    int socktype = 0;

    RtlZeroMemory(lk, sizeof(*lk));
    if (hints != NULL) {
        lk->flags = hints->ai_flags;
        lk->family = hints->ai_family;
        socktype = hints->ai_socktype;
        lk->protocol = hints->ai_protocol;
    }
    if ((lk->flags & ~(AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_NUMERICSERV)) != 0 ||
        ((lk->flags & AI_CANONNAME) && node == NULL))
        return -EAI_BADFLAGS;
    if (lk->family != AF_UNSPEC && lk->family != AF_INET && lk->family != AF_INET6)
        return -EAI_FAMILY;
    if (socktype != 0 && socktype != SOCK_STREAM && socktype != SOCK_DGRAM)
        return -EAI_SOCKTYPE;
    if (lk->protocol != 0 && lk->protocol != IPPROTO_TCP && lk->protocol != IPPROTO_UDP)
        return -EAI_SOCKTYPE;
    lk->stream = (socktype == 0 || socktype == SOCK_STREAM) &&
                 (lk->protocol == 0 || lk->protocol == IPPROTO_TCP);
    lk->dgram = (socktype == 0 || socktype == SOCK_DGRAM) &&
                (lk->protocol == 0 || lk->protocol == IPPROTO_UDP);
    if (!lk->stream && !lk->dgram)
        return -EAI_SOCKTYPE; /* SOCK_STREAM with IPPROTO_UDP, ... */
    return 0;
}

/* The port of a service name, per socket type, from the provider. */
static int resolve_service(const char *service, struct lookup *lk)
{
    struct gai_answer answer;
    BOOLEAN stream = FALSE, dgram = FALSE;
    int socktype = lk->stream && lk->dgram ? 0 : lk->stream ? SOCK_STREAM : SOCK_DGRAM;

    int err = gai_ask(NULL, service, 0, lk->family, socktype, -EAI_SERVICE, -EAI_SERVICE, &answer);
    if (err == -EAI_FAIL)
        err = -EAI_SERVICE; /* Wine's provider: STATUS_UNSUCCESSFUL for WSATYPE_NOT_FOUND */
    if (err != 0)
        return err;
    for (const ADDRINFOEXW *e = answer.list; e != NULL; e = e->ai_next) {
        uint16_t port;
        if (e->ai_addr == NULL)
            continue;
        if (e->ai_addr->sa_family == AF_INET && e->ai_addrlen >= sizeof(struct sockaddr_in))
            port = ((const struct sockaddr_in *)e->ai_addr)->sin_port;
        else if (e->ai_addr->sa_family == AF_INET6 && e->ai_addrlen >= sizeof(struct sockaddr_in6))
            port = ((const struct sockaddr_in6 *)e->ai_addr)->sin6_port;
        else
            continue;
        /* Entries of type 0 (Windows answers so without a type in the
         * hints) serve both types. */
        if ((e->ai_socktype == SOCK_STREAM || e->ai_socktype == 0) && !stream) {
            stream = TRUE;
            lk->stream_port = port;
        }
        if ((e->ai_socktype == SOCK_DGRAM || e->ai_socktype == 0) && !dgram) {
            dgram = TRUE;
            lk->dgram_port = port;
        }
    }
    gai_release(&answer);
    lk->stream = lk->stream && stream;
    lk->dgram = lk->dgram && dgram;
    return lk->stream || lk->dgram ? 0 : -EAI_SERVICE;
}

/* A host name through the provider: its addresses of the wanted family. */
static int resolve_host(const char *node, const struct lookup *lk, struct builder *b)
{
    struct gai_answer answer;
    struct canon canon = {NULL, NULL, 0, 0};
    int socktype = lk->stream && lk->dgram ? 0 : lk->stream ? SOCK_STREAM : SOCK_DGRAM;

    int err = gai_ask(node, NULL, lk->flags & AI_CANONNAME, lk->family, socktype, -EAI_NONAME,
                      -EAI_NONAME, &answer);
    if (err != 0)
        return err;
    if (lk->flags & AI_CANONNAME) {
        canon.utf8 = node;
        canon.bytes = ks__text_length(node);
        for (const ADDRINFOEXW *e = answer.list; e != NULL; e = e->ai_next) {
            if (e->ai_canonname == NULL)
                continue;
            size_t units = 0;
            while (units <= KS_NAME_MAX_UNITS && e->ai_canonname[units] != 0)
                units++;
            long bytes = ks__utf16_to_utf8(e->ai_canonname, units, NULL, 0);
            /* A name that does not convert keeps the node's text. */
            if (units > 0 && units <= KS_NAME_MAX_UNITS && bytes > 0) {
                canon.utf8 = NULL;
                canon.utf16 = e->ai_canonname;
                canon.units = units;
                canon.bytes = (size_t)bytes;
            }
            break;
        }
    }
    for (const ADDRINFOEXW *e = answer.list; e != NULL && err == 0; e = e->ai_next) {
        const struct sockaddr *a = e->ai_addr;
        if (a == NULL || (lk->family != AF_UNSPEC && a->sa_family != lk->family))
            continue;
        if ((a->sa_family == AF_INET && e->ai_addrlen >= sizeof(struct sockaddr_in)) ||
            (a->sa_family == AF_INET6 && e->ai_addrlen >= sizeof(struct sockaddr_in6)))
            err = add_address(b, lk, a, &canon);
    }
    gai_release(&answer);
    if (err == 0 && b->head == NULL)
        err = -EAI_NONAME; /* only addresses of other families */
    return err;
}

/* NULL node: loopback, or the wildcard address with AI_PASSIVE; IPv4
 * first (Wine's provider serves IPv4 only). */
static int local_host(const struct lookup *lk, struct builder *b)
{
    static const struct canon none = {NULL, NULL, 0, 0};
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    int err = 0;

    RtlZeroMemory(&v4, sizeof(v4));
    RtlZeroMemory(&v6, sizeof(v6));
    v4.sin_family = AF_INET;
    v6.sin6_family = AF_INET6;
    if (!(lk->flags & AI_PASSIVE)) {
        v4.sin_addr.s_addr = ks_htonl(INADDR_LOOPBACK);
        v6.sin6_addr.s6_addr[15] = 1;
    }
    if (lk->family != AF_INET6)
        err = add_address(b, lk, (const struct sockaddr *)&v4, &none);
    if (err == 0 && lk->family != AF_INET)
        err = add_address(b, lk, (const struct sockaddr *)&v6, &none);
    return err;
}

/* A numeric host: 1 (added, or an error in *err), 0 if node is not one. */
static int numeric_host(const char *node, const struct lookup *lk, struct builder *b, int *err)
{
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    struct canon canon = {NULL, NULL, 0, 0};

    RtlZeroMemory(&v4, sizeof(v4));
    RtlZeroMemory(&v6, sizeof(v6));
    if (lk->flags & AI_CANONNAME) {
        canon.utf8 = node;
        canon.bytes = ks__text_length(node);
    }
    if (ks_inet_pton(AF_INET, node, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        *err = lk->family == AF_INET6 ? -EAI_NONAME
                                      : add_address(b, lk, (const struct sockaddr *)&v4, &canon);
        return 1;
    }
    if (ks_inet_pton(AF_INET6, node, &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        *err = lk->family == AF_INET ? -EAI_NONAME
                                     : add_address(b, lk, (const struct sockaddr *)&v6, &canon);
        return 1;
    }
    return 0;
}

int ks_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                   struct addrinfo **res)
{
    struct lookup lk;
    struct builder b = {NULL, NULL};
    int err;

    if (!ks__can_block())
        return -EPERM;
    if (res == NULL)
        return -EFAULT;
    *res = NULL;
    b.tail = &b.head;
    err = read_hints(hints, node, &lk);
    if (err != 0)
        return err;
    if ((node == NULL && service == NULL) || (node != NULL && node[0] == '\0'))
        return -EAI_NONAME;

    /* The service first: a bad one fails before any host query. */
    if (service != NULL) {
        uint16_t port = 0;
        int numeric = numeric_port(service, &port);
        if (numeric > 0) {
            lk.stream_port = port;
            lk.dgram_port = port;
        } else if (numeric < 0) {
            return -EAI_SERVICE;
        } else if (lk.flags & AI_NUMERICSERV) {
            return -EAI_NONAME;
        } else if (service[0] == '\0') {
            return -EAI_SERVICE;
        } else {
            err = resolve_service(service, &lk);
            if (err != 0)
                return err;
        }
    }
    if (node == NULL)
        err = local_host(&lk, &b);
    else if (!numeric_host(node, &lk, &b, &err))
        err = lk.flags & AI_NUMERICHOST ? -EAI_NONAME : resolve_host(node, &lk, &b);
    if (err != 0) {
        ks_freeaddrinfo(b.head);
        return err;
    }
    *res = b.head;
    return 0;
}

void ks_freeaddrinfo(struct addrinfo *res)
{
    while (res != NULL) {
        struct addrinfo *next = res->ai_next;
        /* ai is the first member: the entry's block starts there. */
        ks__free(CONTAINING_RECORD(res, struct ks_ai_node, ai), KS_TAG_RESOLVE);
        res = next;
    }
}

const char *ks_gai_strerror(int err)
{
    long long v = err < 0 ? -(long long)err : (long long)err;

    switch (v) {
    case 0:
        return "Success";
    case EAI_AGAIN:
        return "Temporary failure in name resolution";
    case EAI_BADFLAGS:
        return "Invalid flags or arguments";
    case EAI_FAIL:
        return "Non-recoverable failure in name resolution";
    case EAI_FAMILY:
        return "Address family not supported";
    case EAI_MEMORY:
        return "Out of memory";
    case EAI_NONAME:
        return "No such host is known";
    case EAI_SERVICE:
        return "Service not known for the socket type";
    case EAI_SOCKTYPE:
        return "Socket type not supported";
    case EAI_OVERFLOW:
        return "A result buffer is too small";
    default:
        /* The plain errno values the resolution calls return too. */
        return ks_strerror(err);
    }
}
