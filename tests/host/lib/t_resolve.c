/*
 * t_resolve.c - name resolution: ks_getaddrinfo / ks_freeaddrinfo /
 * ks_getnameinfo / ks_gai_strerror, the UTF-8 <-> UTF-16 conversion they
 * use, connecting through a result, and resolutions racing ks_cleanup.
 *
 * Names go to the provider's WskGetAddressInfo/WskGetNameInfo, which use
 * the machine's resolver: "localhost" is 127.0.0.1 (and ::1 where
 * /etc/hosts says so), "http" is port 80, ".invalid" names do not exist.
 */
#include "tests.h"

#include <stdio.h>
#include <string.h>
#include <wskprov.h>

/* The library's pool tag of queries and result lists ("ksRs"). */
#define RS_TAG ((ULONG)'k' | ((ULONG)'s' << 8) | ((ULONG)'R' << 16) | ((ULONG)'s' << 24))

/* Internal: src/ks_utf.h. */
long ks__utf8_to_utf16(const char *src, WCHAR *dst, size_t dst_units);
long ks__utf16_to_utf8(const WCHAR *src, size_t src_units, char *dst, size_t dst_size);

static const struct sockaddr_in *v4_of(const struct addrinfo *ai)
{
    return (const struct sockaddr_in *)ai->ai_addr;
}

static const struct sockaddr_in6 *v6_of(const struct addrinfo *ai)
{
    return (const struct sockaddr_in6 *)ai->ai_addr;
}

static int is_v4(const struct addrinfo *ai, uint32_t host_order)
{
    return ai != NULL && ai->ai_family == AF_INET &&
           v4_of(ai)->sin_addr.s_addr == ks_htonl(host_order);
}

static int is_v6_loopback(const struct addrinfo *ai)
{
    static const unsigned char lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return ai != NULL && ai->ai_addr != NULL && ai->ai_family == AF_INET6 &&
           memcmp(v6_of(ai)->sin6_addr.s6_addr, lo, 16) == 0;
}

static int is_v6_any(const struct addrinfo *ai)
{
    static const unsigned char any[16];
    return ai != NULL && ai->ai_addr != NULL && ai->ai_family == AF_INET6 &&
           memcmp(v6_of(ai)->sin6_addr.s6_addr, any, 16) == 0;
}

static uint16_t port_of(const struct addrinfo *ai)
{
    if (ai == NULL)
        return 0xffff;
    return ks_ntohs(ai->ai_family == AF_INET ? v4_of(ai)->sin_port : v6_of(ai)->sin6_port);
}

/* Every entry well-formed: family and length, type and protocol paired. */
static int count_checked(const struct addrinfo *res, const char *what)
{
    int n = 0;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next, n++) {
        int ok = ai->ai_addr != NULL &&
                 ((ai->ai_family == AF_INET && ai->ai_addrlen == sizeof(struct sockaddr_in)) ||
                  (ai->ai_family == AF_INET6 && ai->ai_addrlen == sizeof(struct sockaddr_in6))) &&
                 ai->ai_addr->sa_family == ai->ai_family &&
                 ((ai->ai_socktype == SOCK_STREAM && ai->ai_protocol == IPPROTO_TCP) ||
                  (ai->ai_socktype == SOCK_DGRAM && ai->ai_protocol == IPPROTO_UDP));
        if (!ok)
            printf("ht: bad entry in %s: family %d len %zu type %d protocol %d\n", what,
                   ai->ai_family, ai->ai_addrlen, ai->ai_socktype, ai->ai_protocol);
        HT_CHECK(ok, "entry well-formed", n);
        HT_CHECK(n == 0 || ai->ai_canonname == NULL, "ai_canonname only on the first entry", n);
    }
    return n;
}

static struct addrinfo hints_of(int flags, int family, int socktype, int protocol)
{
    struct addrinfo h;
    memset(&h, 0, sizeof(h));
    h.ai_flags = flags;
    h.ai_family = family;
    h.ai_socktype = socktype;
    h.ai_protocol = protocol;
    return h;
}

/* "localhost" through the provider, per family and socket type. */
static void t_localhost(void)
{
    struct addrinfo *res = NULL;
    struct addrinfo h = hints_of(0, AF_UNSPEC, SOCK_STREAM, 0);
    int v4 = 0, v6 = 0;

    HT_EQ(ks_getaddrinfo("localhost", NULL, &h, &res), 0, "localhost, AF_UNSPEC, SOCK_STREAM");
    int n = count_checked(res, "localhost");
    HT_CHECK(n >= 1, "at least one address", n);
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        v4 += is_v4(ai, INADDR_LOOPBACK);
        v6 += is_v6_loopback(ai);
        HT_EQ(ai->ai_socktype, SOCK_STREAM, "only SOCK_STREAM");
        HT_EQ(port_of(ai), 0, "no service: port 0");
        HT_CHECK(ai->ai_canonname == NULL, "no AI_CANONNAME: no name", 0);
    }
    HT_CHECK(v4 + v6 == n && v4 <= 1 && v6 <= 1, "127.0.0.1 and/or ::1, each once", n);
    HT_EQ(v4, 1, "127.0.0.1 (from /etc/hosts)");
    ks_freeaddrinfo(res);

    h = hints_of(0, AF_INET, 0, 0);
    HT_EQ(ks_getaddrinfo("localhost", NULL, &h, &res), 0, "localhost, AF_INET, any type");
    n = count_checked(res, "localhost v4");
    HT_EQ(n, 2, "one address, SOCK_STREAM then SOCK_DGRAM");
    if (n == 2) {
        HT_CHECK(is_v4(res, INADDR_LOOPBACK) && is_v4(res->ai_next, INADDR_LOOPBACK),
                 "both 127.0.0.1", 0);
        HT_EQ(res->ai_socktype, SOCK_STREAM, "first SOCK_STREAM");
        HT_EQ(res->ai_next->ai_socktype, SOCK_DGRAM, "then SOCK_DGRAM");
    }
    ks_freeaddrinfo(res);

    /* IPv6: ::1 only, or no such name where /etc/hosts has no ::1 entry. */
    h = hints_of(0, AF_INET6, SOCK_DGRAM, 0);
    int r = ks_getaddrinfo("localhost", NULL, &h, &res);
    HT_CHECK(r == 0 || r == -EAI_NONAME, "localhost, AF_INET6: 0 or -EAI_NONAME", r);
    if (r == 0) {
        count_checked(res, "localhost v6");
        for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
            HT_CHECK(ai->ai_family == AF_INET6 && ai->ai_socktype == SOCK_DGRAM,
                     "AF_INET6 SOCK_DGRAM only", ai->ai_family);
    } else {
        HT_CHECK(res == NULL, "*res NULL on failure", 0);
    }
    ks_freeaddrinfo(res);

    /* AI_CANONNAME: the name on the first entry; a service name too. */
    h = hints_of(AI_CANONNAME, AF_INET, SOCK_STREAM, 0);
    HT_EQ(ks_getaddrinfo("localhost", "http", &h, &res), 0, "localhost http, AI_CANONNAME");
    n = count_checked(res, "canonname");
    HT_EQ(n, 1, "one entry");
    if (n == 1) {
        HT_CHECK(res->ai_canonname != NULL && strcmp(res->ai_canonname, "localhost") == 0,
                 "ai_canonname \"localhost\"", 0);
        HT_EQ(port_of(res), 80, "http: port 80");
        HT_EQ(res->ai_flags, AI_CANONNAME, "ai_flags as given");
    }
    ks_freeaddrinfo(res);
    /* The provider's lists were all given back (tag wpAI). */
    HT_EQ(kshim_pool_bytes_by_tag(WSKPROV_TAG_ADDRINFO), 0, "provider lists released");
}

/* Numeric hosts and services never reach the provider: they work without
 * one (not attached: a query would wait 5 s for it, then fail), and even
 * before ks_startup. */
static void t_numeric(void)
{
    struct addrinfo *res = NULL;
    struct addrinfo h = hints_of(0, AF_UNSPEC, SOCK_STREAM, 0);

    ks_cleanup();
    HT_EQ(ks_getaddrinfo("192.0.2.7", "8080", &h, &res), 0, "numeric lookup while not started");
    HT_CHECK(res != NULL && is_v4(res, 0xc0000207) && port_of(res) == 8080, "192.0.2.7 port 8080",
             0);
    ks_freeaddrinfo(res);
    HT_EQ(ks_getaddrinfo("localhost", NULL, &h, &res), -ENETDOWN, "a name while not started");
    HT_CHECK(res == NULL, "*res NULL on failure", 0);

    wskprov_set_attached(FALSE);
    HT_EQ(ks_startup(), 0, "ks_startup with the provider not attached");
    LONGLONG t0 = ht_now_ms();

    HT_EQ(ks_getaddrinfo("10.1.2.3", "65535", &h, &res), 0, "numeric v4, numeric service");
    int n = count_checked(res, "numeric v4");
    HT_CHECK(n == 1 && is_v4(res, 0x0a010203) && port_of(res) == 65535, "10.1.2.3 port 65535", n);
    ks_freeaddrinfo(res);

    h = hints_of(AI_CANONNAME, AF_UNSPEC, 0, 0);
    HT_EQ(ks_getaddrinfo("2001:db8::5", "0", &h, &res), 0, "numeric v6, AI_CANONNAME");
    n = count_checked(res, "numeric v6");
    HT_EQ(n, 2, "one address, two socket types");
    if (n == 2 && res != NULL && res->ai_addr != NULL) {
        static const unsigned char want[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                               0,    0,    0,    0,    0, 0, 0, 5};
        HT_CHECK(memcmp(v6_of(res)->sin6_addr.s6_addr, want, 16) == 0, "2001:db8::5", 0);
        HT_CHECK(res->ai_canonname != NULL && strcmp(res->ai_canonname, "2001:db8::5") == 0,
                 "a numeric host's canonical name is its text", 0);
        HT_EQ(v6_of(res)->sin6_scope_id, 0, "no scope");
    }
    ks_freeaddrinfo(res);

    /* Family rules for numeric hosts. */
    h = hints_of(0, AF_INET6, 0, 0);
    HT_EQ(ks_getaddrinfo("127.0.0.1", NULL, &h, &res), -EAI_NONAME, "v4 text with AF_INET6");
    h = hints_of(0, AF_INET, 0, 0);
    HT_EQ(ks_getaddrinfo("::1", NULL, &h, &res), -EAI_NONAME, "v6 text with AF_INET");

    /* AI_NUMERICHOST / AI_NUMERICSERV refuse names without asking. */
    h = hints_of(AI_NUMERICHOST, AF_UNSPEC, 0, 0);
    HT_EQ(ks_getaddrinfo("localhost", NULL, &h, &res), -EAI_NONAME, "AI_NUMERICHOST, a name");
    HT_EQ(ks_getaddrinfo("1.2.3", NULL, &h, &res), -EAI_NONAME, "AI_NUMERICHOST, short quad");
    h = hints_of(AI_NUMERICSERV, AF_UNSPEC, 0, 0);
    HT_EQ(ks_getaddrinfo("::1", "http", &h, &res), -EAI_NONAME, "AI_NUMERICSERV, a name");
    HT_EQ(ks_getaddrinfo("::1", "", &h, &res), -EAI_NONAME, "AI_NUMERICSERV, empty");

    /* node NULL: loopback, or the wildcard with AI_PASSIVE; IPv4 first. */
    h = hints_of(0, AF_UNSPEC, SOCK_DGRAM, 0);
    HT_EQ(ks_getaddrinfo(NULL, "53", &h, &res), 0, "NULL node");
    n = count_checked(res, "NULL node");
    HT_EQ(n, 2, "127.0.0.1 and ::1");
    if (n == 2) {
        HT_CHECK(is_v4(res, INADDR_LOOPBACK) && port_of(res) == 53, "127.0.0.1:53 first", 0);
        HT_CHECK(is_v6_loopback(res->ai_next) && port_of(res->ai_next) == 53, "[::1]:53", 0);
    }
    ks_freeaddrinfo(res);
    h = hints_of(AI_PASSIVE, AF_UNSPEC, SOCK_STREAM, 0);
    HT_EQ(ks_getaddrinfo(NULL, "9000", &h, &res), 0, "NULL node, AI_PASSIVE");
    n = count_checked(res, "passive");
    HT_EQ(n, 2, "0.0.0.0 and ::");
    if (n == 2)
        HT_CHECK(is_v4(res, INADDR_ANY) && is_v6_any(res->ai_next), "wildcards", 0);
    ks_freeaddrinfo(res);
    h = hints_of(AI_PASSIVE, AF_INET6, 0, IPPROTO_UDP);
    HT_EQ(ks_getaddrinfo(NULL, "9000", &h, &res), 0, "NULL node, AI_PASSIVE, AF_INET6, UDP");
    n = count_checked(res, "passive v6 udp");
    HT_CHECK(n == 1 && is_v6_any(res) && res->ai_socktype == SOCK_DGRAM, "[::]:9000 UDP", n);
    ks_freeaddrinfo(res);

    LONGLONG took = ht_now_ms() - t0;
    HT_CHECK(took < 1000, "numeric lookups did not wait for the provider (ms)", took);

    /* A name needs the provider: the bounded wait, then -ENETDOWN. */
    h = hints_of(0, AF_UNSPEC, 0, 0);
    HT_EQ(ks_getaddrinfo("localhost", NULL, &h, &res), -ENETDOWN, "a name without provider");
    ks_cleanup();
    wskprov_set_attached(TRUE);
    HT_EQ(ks_startup(), 0, "restart with the provider");
}

/* Service names through the provider; hints and argument errors. */
static void t_services_and_hints(void)
{
    struct addrinfo *res = NULL;
    struct addrinfo h = hints_of(0, AF_INET, SOCK_STREAM, 0);

    HT_EQ(ks_getaddrinfo("127.0.0.1", "http", &h, &res), 0, "numeric host, service name");
    HT_CHECK(res != NULL && res->ai_next == NULL && port_of(res) == 80, "http: port 80", 0);
    ks_freeaddrinfo(res);
    h = hints_of(0, AF_INET, SOCK_DGRAM, 0);
    HT_EQ(ks_getaddrinfo("127.0.0.1", "domain", &h, &res), 0, "domain over UDP");
    HT_CHECK(res != NULL && res->ai_socktype == SOCK_DGRAM && port_of(res) == 53, "domain: port 53",
             0);
    ks_freeaddrinfo(res);
    /* Without a type: the types the service exists for (http: TCP only). */
    h = hints_of(0, AF_INET, 0, 0);
    HT_EQ(ks_getaddrinfo("127.0.0.1", "http", &h, &res), 0, "http, any type");
    HT_CHECK(res != NULL && res->ai_socktype == SOCK_STREAM && port_of(res) == 80,
             "http: SOCK_STREAM port 80 first", 0);
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
        HT_EQ(port_of(ai), 80, "every entry port 80");
    ks_freeaddrinfo(res);
    h = hints_of(0, AF_UNSPEC, 0, 0);
    HT_EQ(ks_getaddrinfo("127.0.0.1", "no-such-service-x", &h, &res), -EAI_SERVICE,
          "unknown service");
    HT_CHECK(res == NULL, "*res NULL on failure", 0);
    HT_EQ(ks_getaddrinfo("127.0.0.1", "65536", &h, &res), -EAI_SERVICE, "port 65536");
    HT_EQ(ks_getaddrinfo("127.0.0.1", "", &h, &res), -EAI_SERVICE, "empty service");

    /* Unknown hosts. */
    HT_EQ(ks_getaddrinfo("no-such-host.invalid", NULL, &h, &res), -EAI_NONAME, "unknown host");
    HT_EQ(ks_getaddrinfo("", "80", &h, &res), -EAI_NONAME, "empty host");
    HT_EQ(ks_getaddrinfo(NULL, NULL, &h, &res), -EAI_NONAME, "neither host nor service");
    HT_EQ(ks_getaddrinfo("bad\xc3(utf8.invalid", NULL, &h, &res), -EAI_NONAME,
          "invalid UTF-8 host name");
    HT_EQ(ks_getaddrinfo("127.0.0.1", "bad\xff", &h, &res), -EAI_SERVICE,
          "invalid UTF-8 service name");

    /* Hints. */
    h = hints_of(0x1000, AF_UNSPEC, 0, 0);
    HT_EQ(ks_getaddrinfo("127.0.0.1", NULL, &h, &res), -EAI_BADFLAGS, "unknown flag");
    h = hints_of(AI_CANONNAME, AF_UNSPEC, 0, 0);
    HT_EQ(ks_getaddrinfo(NULL, "80", &h, &res), -EAI_BADFLAGS, "AI_CANONNAME without host");
    h = hints_of(0, 99, 0, 0);
    HT_EQ(ks_getaddrinfo("127.0.0.1", NULL, &h, &res), -EAI_FAMILY, "unknown family");
    h = hints_of(0, AF_UNSPEC, SOCK_RAW, 0);
    HT_EQ(ks_getaddrinfo("127.0.0.1", NULL, &h, &res), -EAI_SOCKTYPE, "SOCK_RAW");
    h = hints_of(0, AF_UNSPEC, SOCK_STREAM, IPPROTO_UDP);
    HT_EQ(ks_getaddrinfo("127.0.0.1", NULL, &h, &res), -EAI_SOCKTYPE, "SOCK_STREAM + UDP");
    h = hints_of(0, AF_UNSPEC, 0, 99);
    HT_EQ(ks_getaddrinfo("127.0.0.1", NULL, &h, &res), -EAI_SOCKTYPE, "unknown protocol");
    h = hints_of(0, AF_UNSPEC, 0, IPPROTO_TCP);
    HT_EQ(ks_getaddrinfo("127.0.0.1", "7", &h, &res), 0, "protocol TCP alone");
    HT_CHECK(res != NULL && res->ai_next == NULL && res->ai_socktype == SOCK_STREAM,
             "TCP: SOCK_STREAM only", 0);
    ks_freeaddrinfo(res);
    /* No hints: both types, both families. */
    HT_EQ(ks_getaddrinfo("::1", "7", NULL, &res), 0, "no hints");
    HT_EQ(count_checked(res, "no hints"), 2, "SOCK_STREAM and SOCK_DGRAM");
    ks_freeaddrinfo(res);
    /* NULL res: -EFAULT (nothing to return a list through). */
    HT_EQ(ks_getaddrinfo("127.0.0.1", "80", NULL, NULL), -EFAULT, "res NULL");
    ks_freeaddrinfo(NULL);

    /* Above PASSIVE_LEVEL: -EPERM at once. */
    KIRQL old;
    char host[64];
    SOCKADDR_STORAGE a;
    int alen;
    ht_loopback(0, 80, &a, &alen);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    int r1 = ks_getaddrinfo("127.0.0.1", "80", NULL, &res);
    int r2 =
        ks_getnameinfo((struct sockaddr *)&a, alen, host, sizeof(host), NULL, 0, NI_NUMERICHOST);
    KeLowerIrql(old);
    HT_EQ(r1, -EPERM, "ks_getaddrinfo at DISPATCH_LEVEL");
    HT_EQ(r2, -EPERM, "ks_getnameinfo at DISPATCH_LEVEL");

    /* Texts. */
    HT_CHECK(strcmp(ks_gai_strerror(-EAI_NONAME), ks_gai_strerror(EAI_NONAME)) == 0,
             "negated or not", 0);
    const int codes[] = {EAI_AGAIN,  EAI_BADFLAGS, EAI_FAIL,     EAI_FAMILY,  EAI_MEMORY,
                         EAI_NONAME, EAI_SERVICE,  EAI_SOCKTYPE, EAI_OVERFLOW};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        for (size_t j = 0; j < i; j++)
            HT_CHECK(strcmp(ks_gai_strerror(codes[i]), ks_gai_strerror(codes[j])) != 0,
                     "a text of its own for each EAI value", codes[i]);
    HT_CHECK(strcmp(ks_gai_strerror(-ENETDOWN), ks_strerror(-ENETDOWN)) == 0,
             "errno values named as by ks_strerror", 0);
    HT_CHECK(ks_gai_strerror(-2147483647 - 1) != NULL, "INT_MIN", 0);
}

/* ks_getnameinfo: numeric forms locally, names from the provider. */
static void t_nameinfo(void)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV], tiny[4], five[5];
    SOCKADDR_STORAGE a;
    int alen;

    ht_loopback(0, 80, &a, &alen);
    const struct sockaddr *sa = (const struct sockaddr *)&a;
    HT_EQ(ks_getnameinfo(sa, alen, host, sizeof(host), serv, sizeof(serv),
                         NI_NUMERICHOST | NI_NUMERICSERV),
          0, "numeric v4");
    HT_CHECK(strcmp(host, "127.0.0.1") == 0 && strcmp(serv, "80") == 0, "127.0.0.1 80", 0);
    HT_EQ(ks_getnameinfo(sa, alen, host, sizeof(host), serv, sizeof(serv), 0), 0,
          "127.0.0.1 through the provider");
    HT_CHECK(strcmp(host, "localhost") == 0, "127.0.0.1 is localhost", 0);
    HT_CHECK(strcmp(serv, "http") == 0, "80 is http", 0);
    HT_EQ(ks_getnameinfo(sa, alen, host, sizeof(host), NULL, 0, NI_NAMEREQD), 0,
          "host only, NI_NAMEREQD");
    /* http is a TCP service: over UDP port 80 has no name, the number then. */
    HT_EQ(ks_getnameinfo(sa, alen, NULL, 0, serv, sizeof(serv), NI_DGRAM), 0, "service only");
    HT_CHECK(strcmp(serv, "80") == 0, "80 over UDP: \"80\"", 0);

    /* IPv6, with a scope id. */
    ht_loopback(1, 443, &a, &alen);
    ((SOCKADDR_IN6 *)&a)->sin6_scope_id = 3;
    HT_EQ(ks_getnameinfo(sa, alen, host, sizeof(host), serv, sizeof(serv),
                         NI_NUMERICHOST | NI_NUMERICSERV),
          0, "numeric v6");
    HT_CHECK(strcmp(host, "::1%3") == 0 && strcmp(serv, "443") == 0, "::1%3 443", 0);
    ((SOCKADDR_IN6 *)&a)->sin6_scope_id = 0;
    /* A name is required: either there is one, or -EAI_NONAME. */
    int r = ks_getnameinfo(sa, alen, host, sizeof(host), NULL, 0, NI_NAMEREQD);
    HT_CHECK(r == 0 || r == -EAI_NONAME, "::1 with NI_NAMEREQD", r);
    if (r == 0)
        HT_CHECK(strcmp(host, "::1") != 0, "a name, not the number", 0);
    HT_EQ(ks_getnameinfo(sa, alen, host, sizeof(host), NULL, 0, 0), 0, "::1 without NAMEREQD");
    HT_CHECK(host[0] != '\0', "a name or the number", 0);

    /* Buffers too small: numeric and through the provider. */
    ht_loopback(0, 8080, &a, &alen);
    HT_EQ(ks_getnameinfo(sa, alen, tiny, sizeof(tiny), NULL, 0, NI_NUMERICHOST), -EAI_OVERFLOW,
          "numeric host overflow");
    HT_EQ(tiny[0], '\0', "empty after overflow");
    HT_EQ(ks_getnameinfo(sa, alen, NULL, 0, tiny, sizeof(tiny), NI_NUMERICSERV), -EAI_OVERFLOW,
          "numeric service overflow");
    HT_EQ(ks_getnameinfo(sa, alen, NULL, 0, five, sizeof(five), NI_NUMERICSERV), 0,
          "\"8080\" fits in 5 bytes");
    HT_CHECK(strcmp(five, "8080") == 0, "8080", 0);
    HT_EQ(ks_getnameinfo(sa, alen, tiny, sizeof(tiny), NULL, 0, 0), -EAI_OVERFLOW,
          "\"localhost\" in 4 bytes");
    HT_EQ(ks_getnameinfo(sa, alen, host, 10, NULL, 0, 0), 0, "\"localhost\" in 10 bytes");

    /* Arguments. */
    HT_EQ(ks_getnameinfo(NULL, alen, host, sizeof(host), NULL, 0, 0), -EFAULT, "sa NULL");
    HT_EQ(ks_getnameinfo(sa, alen - 1, host, sizeof(host), NULL, 0, 0), -EAI_FAMILY,
          "address too short");
    HT_EQ(ks_getnameinfo(sa, alen, host, sizeof(host), NULL, 0, 0x100), -EAI_BADFLAGS,
          "unknown flag");
    HT_EQ(ks_getnameinfo(sa, alen, NULL, 0, NULL, 0, 0), -EAI_NONAME, "nothing asked");
    ((SOCKADDR *)&a)->sa_family = 99;
    HT_EQ(ks_getnameinfo(sa, (int)sizeof(a), host, sizeof(host), NULL, 0, 0), -EAI_FAMILY,
          "unknown family");
    HT_EQ(kshim_pool_bytes_by_tag(RS_TAG), 0, "no query left");
}

/* The conversion names go through: strict both ways, exact sizes. */
static void t_utf(void)
{
    /* h, e-acute (2 bytes), euro (3 bytes), U+1F600 (4 bytes, a pair). */
    const char *text = "h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    const WCHAR want[] = {'h', 0xe9, 0x20ac, 0xd83d, 0xde00};
    WCHAR w[8];
    char back[16];

    HT_EQ(ks__utf8_to_utf16(text, NULL, 0), 5, "measure: 5 units");
    HT_EQ(ks__utf8_to_utf16(text, w, 8), 5, "convert");
    HT_CHECK(memcmp(w, want, sizeof(want)) == 0 && w[5] == 0, "units and NUL", 0);
    HT_EQ(ks__utf8_to_utf16(text, w, 5), 5, "exact fit without the NUL");
    HT_EQ(ks__utf8_to_utf16(text, w, 4), -ENOBUFS, "no room for the pair");
    HT_EQ(ks__utf16_to_utf8(want, 5, NULL, 0), 10, "measure back: 10 bytes");
    HT_EQ(ks__utf16_to_utf8(want, 5, back, sizeof(back)), 10, "convert back");
    HT_CHECK(strcmp(back, text) == 0, "round trip", 0);
    HT_EQ(ks__utf16_to_utf8(want, 5, back, 10), -ENOBUFS, "no room for the NUL");
    HT_EQ(back[0], '\0', "empty after overflow");
    HT_EQ(ks__utf16_to_utf8(want, 5, back, 11), 10, "exact fit");
    HT_EQ(ks__utf8_to_utf16("", w, 1), 0, "empty");

    static const char *const bad8[] = {
        "\x80",             /* lone continuation */
        "\xc0\x80",         /* overlong NUL */
        "\xc1\xbf",         /* overlong */
        "\xe0\x9f\xbf",     /* overlong 3 bytes */
        "\xed\xa0\x80",     /* encoded surrogate */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf5\x80\x80\x80", /* never valid */
        "\xe2\x82",         /* truncated */
        "a\xc3",            /* truncated at the end */
        "\xf0\x9f\x98",     /* truncated pair */
    };
    for (size_t i = 0; i < sizeof(bad8) / sizeof(bad8[0]); i++)
        HT_EQ(ks__utf8_to_utf16(bad8[i], w, 8), -EINVAL, "invalid UTF-8 rejected");
    static const WCHAR lone_high[] = {'a', 0xd83d, 'b'}, lone_low[] = {0xde00}, nul[] = {'a', 0};
    HT_EQ(ks__utf16_to_utf8(lone_high, 3, back, sizeof(back)), -EINVAL, "unpaired high");
    HT_EQ(ks__utf16_to_utf8(lone_high, 2, back, sizeof(back)), -EINVAL, "high at the end");
    HT_EQ(ks__utf16_to_utf8(lone_low, 1, back, sizeof(back)), -EINVAL, "lone low");
    HT_EQ(ks__utf16_to_utf8(nul, 2, back, sizeof(back)), -EINVAL, "NUL unit");

    /* A non-ASCII name goes to the provider as UTF-16 and back to UTF-8
     * there: it is looked up (and not found) rather than refused. */
    struct addrinfo *res = NULL;
    struct addrinfo h = hints_of(0, AF_INET, SOCK_STREAM, 0);
    HT_EQ(ks_getaddrinfo("h\xc3\xa9llo-\xf0\x9f\x98\x80.invalid", NULL, &h, &res), -EAI_NONAME,
          "non-ASCII name: looked up, not found");
    HT_CHECK(res == NULL, "*res NULL", 0);
}

/* Connect through ks_getaddrinfo's results: TCP to a native echo server
 * via "localhost", UDP over IPv6 between a passive and a numeric result. */
static void t_connect(void)
{
    int port;
    char ptext[8], buf[16];
    struct hp_echo *echo = hp_echo_start(0, &port);
    struct addrinfo *res = NULL, *ai;
    struct addrinfo h = hints_of(0, AF_INET, SOCK_STREAM, 0);
    int s = -1;

    HT_CHECK(echo != NULL, "echo server", 0);
    if (echo == NULL)
        return;
    snprintf(ptext, sizeof(ptext), "%d", port);
    HT_EQ(ks_getaddrinfo("localhost", ptext, &h, &res), 0, "localhost:port");
    for (ai = res; ai != NULL && s < 0; ai = ai->ai_next) {
        s = ks_socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        HT_CHECK(s > 0, "ks_socket from the entry", s);
        if (s > 0 && ks_connect(s, ai->ai_addr, (int)ai->ai_addrlen) != 0) {
            ks_close(s);
            s = -1;
        }
    }
    ks_freeaddrinfo(res);
    HT_CHECK(s > 0, "connected through a result", s);
    if (s > 0) {
        HT_EQ(ks_send(s, "resolved", 8, 0), 8, "send");
        HT_EQ(ks_recv(s, buf, 8, MSG_WAITALL), 8, "echo");
        HT_CHECK(memcmp(buf, "resolved", 8) == 0, "echoed data", 0);
        ks_close(s);
    }
    hp_echo_stop(echo);

    /* UDP over IPv6: bind to the AI_PASSIVE result, send to "::1". */
    struct addrinfo *bind_res = NULL, *to_res = NULL;
    port = hp_free_port(1);
    snprintf(ptext, sizeof(ptext), "%d", port);
    h = hints_of(AI_PASSIVE, AF_INET6, SOCK_DGRAM, 0);
    HT_EQ(ks_getaddrinfo(NULL, ptext, &h, &bind_res), 0, "passive [::]:port");
    h = hints_of(AI_NUMERICHOST, AF_INET6, SOCK_DGRAM, 0);
    HT_EQ(ks_getaddrinfo("::1", ptext, &h, &to_res), 0, "[::1]:port");
    if (bind_res != NULL && to_res != NULL) {
        int r = ks_socket(bind_res->ai_family, bind_res->ai_socktype, bind_res->ai_protocol);
        int t = ks_socket(to_res->ai_family, to_res->ai_socktype, to_res->ai_protocol);
        HT_EQ(ks_bind(r, bind_res->ai_addr, (int)bind_res->ai_addrlen), 0, "bind [::]:port");
        HT_EQ(ks_sendto(t, "v6", 2, 0, to_res->ai_addr, (int)to_res->ai_addrlen), 2, "sendto");
        HT_EQ(ks_recvfrom(r, buf, sizeof(buf), 0, NULL, NULL), 2, "recvfrom");
        ks_close(r);
        ks_close(t);
    }
    ks_freeaddrinfo(bind_res);
    ks_freeaddrinfo(to_res);
}

struct resolver {
    volatile LONG stop;
    LONG ok, down, other;
};

static void resolver_thread(void *p)
{
    struct resolver *r = p;
    char host[64];
    SOCKADDR_STORAGE a;
    int alen;
    ht_loopback(0, 80, &a, &alen);
    while (!r->stop) {
        struct addrinfo *res = NULL;
        int e = ks_getaddrinfo("localhost", "http", NULL, &res);
        ks_freeaddrinfo(res);
        int e2 = ks_getnameinfo((struct sockaddr *)&a, alen, host, sizeof(host), NULL, 0, 0);
        if (e == 0 && e2 == 0)
            InterlockedIncrement(&r->ok);
        else if (e == -ENETDOWN || e2 == -ENETDOWN)
            InterlockedIncrement(&r->down);
        else
            InterlockedIncrement(&r->other);
        if (e == -ENETDOWN && e2 == -ENETDOWN)
            break; /* the library has stopped */
    }
}

/* ks_cleanup while resolutions are in flight on 4 threads: it waits for
 * them (they count as live sockets), they end with a result or -ENETDOWN,
 * and nothing is left. */
static void t_cleanup_race(void)
{
    struct resolver r = {0, 0, 0, 0};
    ht_thread *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = ht_spawn(resolver_thread, &r);
    /* Until some resolutions went through (bounded), not a fixed sleep: a
     * loaded machine made 100 ms too short. */
    for (int waited = 0; r.ok == 0 && waited < 10000; waited += 10)
        ht_sleep_ms(10);
    ht_sleep_ms(20);
    LONGLONG t0 = ht_now_ms();
    ks_cleanup();
    LONGLONG took = ht_now_ms() - t0;
    HT_CHECK(took < 5000, "ks_cleanup with resolutions in flight (ms)", took);
    for (int i = 0; i < 4; i++)
        HT_CHECK(ht_join(t[i], 10000), "resolver thread ended", i);
    HT_CHECK(r.ok > 0, "resolutions succeeded before the cleanup", r.ok);
    HT_EQ(r.other, 0, "no other error than -ENETDOWN");
    HT_EQ(kshim_pool_bytes_by_tag(RS_TAG), 0, "no query left");
    HT_EQ(kshim_pool_bytes_by_tag(WSKPROV_TAG_ADDRINFO), 0, "no provider list left");
    HT_EQ(ks_startup(), 0, "restart");
}

const struct ht_test resolve_tests[] = {
    {"resolve-localhost", t_localhost, ht_runs_modes},
    {"resolve-numeric", t_numeric, ht_runs_modes},
    {"resolve-services-hints", t_services_and_hints, ht_runs_modes},
    {"resolve-nameinfo", t_nameinfo, ht_runs_modes},
    {"resolve-utf", t_utf, ht_runs_modes},
    {"resolve-connect", t_connect, ht_runs_modes},
    {"resolve-cleanup-race", t_cleanup_race, ht_runs_modes},
};
const int resolve_test_count = (int)(sizeof(resolve_tests) / sizeof(resolve_tests[0]));
