/*
 * ks_nameinfo.c - ks_getnameinfo: the numeric forms are made here; names
 * come from WskGetNameInfo, into UTF-16 buffers of the query's block
 * (NI_MAXHOST and NI_MAXSERV units), converted to the caller's UTF-8.
 */
#include "ks_resolve.h"
#include "ks_utf.h"
#include "ks_wsk.h"

#define KS_NI_FLAGS (NI_NOFQDN | NI_NUMERICHOST | NI_NAMEREQD | NI_NUMERICSERV | NI_DGRAM)

/* What one WskGetNameInfo request needs resident until it completes. */
struct gni_req {
    union {
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } sa; /* a copy: the caller's may be paged, the provider may read it late */
    UNICODE_STRING host, serv;
    WCHAR host_text[NI_MAXHOST];
    WCHAR serv_text[NI_MAXSERV];
};

/* Copies text (NUL-terminated) into out; -EAI_OVERFLOW if it does not fit. */
static int put_text(const char *text, char *out, size_t size)
{
    size_t n = 0;
    while (text[n] != '\0')
        n++;
    if (n >= size)
        return -EAI_OVERFLOW;
    RtlCopyMemory(out, text, n + 1);
    return 0;
}

/* The numeric host: dotted quad, or IPv6 text with "%scope" when the scope
 * id is not 0. */
static int numeric_host(const struct sockaddr *sa, char *host, size_t hostlen)
{
    char text[INET6_ADDRSTRLEN + 12];

    if (sa->sa_family == AF_INET) {
        (void)ks_inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, text,
                           sizeof(text));
    } else {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
        (void)ks_inet_ntop(AF_INET6, &v6->sin6_addr, text, INET6_ADDRSTRLEN);
        if (v6->sin6_scope_id != 0) {
            size_t n = 0;
            while (text[n] != '\0')
                n++;
            text[n] = '%';
            (void)ks__decimal((ULONG)(v6->sin6_scope_id), text + n + 1);
        }
    }
    return put_text(text, host, hostlen);
}

/* The provider's UTF-16 answer into the caller's UTF-8 buffer. */
static int name_out(const UNICODE_STRING *u, char *out, size_t size)
{
    long r = ks__utf16_to_utf8(u->Buffer, u->Length / sizeof(WCHAR), out, size);
    if (r == -ENOBUFS)
        return -EAI_OVERFLOW;
    return r < 0 ? -EAI_FAIL : 0;
}

/* Asks WskGetNameInfo for the parts not answered locally. */
static int ask_provider(const struct sockaddr *sa, ULONG salen, BOOLEAN want_host, char *host,
                        size_t hostlen, BOOLEAN want_serv, char *serv, size_t servlen, int flags)
{
    ks_query *q;
    void *extra;
    const WSK_PROVIDER_NPI *npi;
    BOOLEAN cancelled;

    int err = ks__query_start(&q, sizeof(struct gni_req), &extra, &npi);
    if (err != 0)
        return err;
    struct gni_req *req = (struct gni_req *)extra;
    RtlCopyMemory(&req->sa, sa, salen);
    req->host.Buffer = req->host_text;
    req->host.MaximumLength = (USHORT)sizeof(req->host_text);
    req->serv.Buffer = req->serv_text;
    req->serv.MaximumLength = (USHORT)sizeof(req->serv_text);

    PIRP irp = ks__op_begin(&q->op);
    NTSTATUS status =
        ks__wsk_get_name_info(npi, (PSOCKADDR)&req->sa, salen, want_host ? &req->host : NULL,
                              want_serv ? &req->serv : NULL, (ULONG)flags, irp);
    status = ks__query_wait(q, status, &cancelled);
    if (NT_SUCCESS(status)) {
        if (want_host)
            err = name_out(&req->host, host, hostlen);
        if (err == 0 && want_serv)
            err = name_out(&req->serv, serv, servlen);
    } else {
        err = cancelled ? -ENETDOWN : ks__query_status_to_eai(status);
    }
    ks__query_end(q);
    return err;
}

int ks_getnameinfo(const struct sockaddr *sa, int salen, char *host, size_t hostlen, char *serv,
                   size_t servlen, int flags)
{
    if (!ks__can_block())
        return -EPERM;
    if (sa == NULL)
        return -EFAULT;
    if ((flags & ~KS_NI_FLAGS) != 0)
        return -EAI_BADFLAGS;
    if (!(salen >= (int)sizeof(struct sockaddr_in) && sa->sa_family == AF_INET) &&
        !(salen >= (int)sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6))
        return -EAI_FAMILY;
    ULONG len = sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    BOOLEAN want_host = host != NULL && hostlen > 0;
    BOOLEAN want_serv = serv != NULL && servlen > 0;
    if (!want_host && !want_serv)
        return -EAI_NONAME;
    if (want_host)
        host[0] = '\0';
    if (want_serv)
        serv[0] = '\0';

    /* The numeric parts here; the provider is asked only for names. */
    int err = 0;
    if (want_host && (flags & NI_NUMERICHOST))
        err = numeric_host(sa, host, hostlen);
    if (err == 0 && want_serv && (flags & NI_NUMERICSERV)) {
        char text[12];
        /* sin_port and sin6_port are at the same offset */
        (void)ks__decimal((ULONG)(ks_ntohs(((const struct sockaddr_in *)sa)->sin_port)), text);
        err = put_text(text, serv, servlen);
    }
    BOOLEAN ask_host = want_host && !(flags & NI_NUMERICHOST);
    BOOLEAN ask_serv = want_serv && !(flags & NI_NUMERICSERV);
    if (err == 0 && (ask_host || ask_serv))
        err = ask_provider(sa, len, ask_host, host, hostlen, ask_serv, serv, servlen, flags);
    if (err != 0) {
        if (want_host)
            host[0] = '\0';
        if (want_serv)
            serv[0] = '\0';
    }
    return err;
}
