/*
 * kt_resolve.c - the resolve scenario: name resolution from a driver
 * (ks_getaddrinfo, ks_getnameinfo), and a connection to a native echo
 * server made through a ks_getaddrinfo result.
 * Port: the native echo server's port (tests/peers/echo_server).
 *
 * Windows semantics are checked on the host bed. Under Wine (Wine=1) the
 * provider's WskGetNameInfo is a stub (STATUS_NOT_IMPLEMENTED, IRP not
 * completed): a name from ks_getnameinfo is then -EAI_FAIL, logged as a
 * WINE line; the numeric forms, made by the library, must still work.
 */
#include "ktest.h"

#define RESOLVE_BYTES 65536
#define RESOLVE_SEED 77

static const char *eai_text(long r)
{
    return r < 0 ? ks_gai_strerror((int)r) : "ok";
}

/* got == want, with the resolution error's text in the log line. */
static int expect_gai(int line, const char *what, long got, long want)
{
    if (got == want) {
        KT_LOG("PASS %s = %ld (%s)\n", what, got, eai_text(got));
        return 1;
    }
    InterlockedIncrement(&kt_failures);
    KT_LOG("FAIL line %d: %s: got %ld (%s), expected %ld (%s)\n", line, what, got, eai_text(got),
           want, eai_text(want));
    return 0;
}
#define EXPECT_GAI(what, got, want) expect_gai(__LINE__, what, (long)(got), (long)(want))

static struct addrinfo hints_of(int flags, int family, int socktype)
{
    struct addrinfo h;

    RtlZeroMemory(&h, sizeof(h));
    h.ai_flags = flags;
    h.ai_family = family;
    h.ai_socktype = socktype;
    return h;
}

static int is_loopback4(const struct addrinfo *ai)
{
    return ai != NULL && ai->ai_family == AF_INET && ai->ai_addrlen == sizeof(struct sockaddr_in) &&
           ((const struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr == ks_htonl(INADDR_LOOPBACK);
}

static unsigned port_of(const struct addrinfo *ai)
{
    if (ai == NULL)
        return 0xffffffffu;
    return ks_ntohs(ai->ai_family == AF_INET
                        ? ((const struct sockaddr_in *)ai->ai_addr)->sin_port
                        : ((const struct sockaddr_in6 *)ai->ai_addr)->sin6_port);
}

static void lookups(void)
{
    struct addrinfo h, *res = NULL, *ai;
    int n = 0, v4 = 0;

    STEP("resolve: localhost");
    h = hints_of(0, AF_INET, SOCK_STREAM);
    if (EXPECT_GAI("resolve: ks_getaddrinfo(localhost, AF_INET, SOCK_STREAM)",
                   ks_getaddrinfo("localhost", NULL, &h, &res), 0)) {
        for (ai = res; ai != NULL; ai = ai->ai_next, n++)
            v4 += is_loopback4(ai) && ai->ai_socktype == SOCK_STREAM &&
                  ai->ai_protocol == IPPROTO_TCP;
        CHECK("resolve: localhost is 127.0.0.1, one SOCK_STREAM entry", n == 1 && v4 == 1, n);
    }
    ks_freeaddrinfo(res);
    res = NULL;

    /* Any family, any type: 127.0.0.1 among them, each well-formed. */
    if (EXPECT_GAI("resolve: ks_getaddrinfo(localhost, no hints)",
                   ks_getaddrinfo("localhost", NULL, NULL, &res), 0)) {
        n = 0;
        v4 = 0;
        for (ai = res; ai != NULL; ai = ai->ai_next, n++) {
            v4 += is_loopback4(ai);
            CHECK("resolve: entry family and type",
                  (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
                      (ai->ai_socktype == SOCK_STREAM || ai->ai_socktype == SOCK_DGRAM),
                  ai->ai_family);
        }
        CHECK("resolve: 127.0.0.1 for SOCK_STREAM and SOCK_DGRAM", v4 == 2, v4);
    }
    ks_freeaddrinfo(res);
    res = NULL;

    STEP("resolve: canonical name, service name");
    h = hints_of(AI_CANONNAME, AF_INET, SOCK_STREAM);
    if (EXPECT_GAI("resolve: ks_getaddrinfo(localhost, http, AI_CANONNAME)",
                   ks_getaddrinfo("localhost", "http", &h, &res), 0)) {
        CHECK("resolve: ai_canonname on the first entry",
              res != NULL && res->ai_canonname != NULL && res->ai_canonname[0] != '\0', 0);
        if (res != NULL && res->ai_canonname != NULL)
            KT_LOG("resolve: canonical name of localhost: %s\n", res->ai_canonname);
        CHECK("resolve: http is port 80", port_of(res) == 80, (long)port_of(res));
    }
    ks_freeaddrinfo(res);
    res = NULL;

    STEP("resolve: unknown host");
    h = hints_of(0, AF_INET, SOCK_STREAM);
    EXPECT_GAI("resolve: ks_getaddrinfo(no-such-host.invalid)",
               ks_getaddrinfo("no-such-host.invalid", NULL, &h, &res), -EAI_NONAME);
    CHECK("resolve: *res NULL after a failure", res == NULL, 0);
    EXPECT_GAI("resolve: ks_getaddrinfo(127.0.0.1, no-such-service-x)",
               ks_getaddrinfo("127.0.0.1", "no-such-service-x", &h, &res), -EAI_SERVICE);

    STEP("resolve: numeric");
    h = hints_of(AI_NUMERICHOST | AI_NUMERICSERV, AF_UNSPEC, SOCK_DGRAM);
    if (EXPECT_GAI("resolve: ks_getaddrinfo(192.0.2.9, 4242)",
                   ks_getaddrinfo("192.0.2.9", "4242", &h, &res), 0))
        CHECK("resolve: 192.0.2.9 port 4242, one entry",
              res != NULL && res->ai_next == NULL && res->ai_family == AF_INET &&
                  ((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr == ks_htonl(0xc0000209) &&
                  port_of(res) == 4242,
              0);
    ks_freeaddrinfo(res);
    res = NULL;
    if (EXPECT_GAI("resolve: ks_getaddrinfo(::1, 4242)", ks_getaddrinfo("::1", "4242", &h, &res),
                   0))
        CHECK("resolve: ::1 port 4242, one entry",
              res != NULL && res->ai_next == NULL && res->ai_family == AF_INET6 &&
                  ((struct sockaddr_in6 *)res->ai_addr)->sin6_addr.s6_addr[15] == 1 &&
                  port_of(res) == 4242,
              0);
    ks_freeaddrinfo(res);
    res = NULL;
    h = hints_of(AI_PASSIVE, AF_INET, SOCK_STREAM);
    if (EXPECT_GAI("resolve: ks_getaddrinfo(NULL, 8080, AI_PASSIVE)",
                   ks_getaddrinfo(NULL, "8080", &h, &res), 0))
        CHECK("resolve: 0.0.0.0 port 8080",
              res != NULL && res->ai_family == AF_INET &&
                  ((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr == 0 &&
                  port_of(res) == 8080,
              0);
    ks_freeaddrinfo(res);
    ks_freeaddrinfo(NULL);

    STEP("resolve: bad arguments");
    h = hints_of(0x1000, AF_UNSPEC, 0);
    EXPECT_GAI("resolve: unknown flag", ks_getaddrinfo("127.0.0.1", NULL, &h, &res), -EAI_BADFLAGS);
    h = hints_of(0, 99, 0);
    EXPECT_GAI("resolve: unknown family", ks_getaddrinfo("127.0.0.1", NULL, &h, &res), -EAI_FAMILY);
    EXPECT_GAI("resolve: no host, no service", ks_getaddrinfo(NULL, NULL, NULL, &res), -EAI_NONAME);
    EXPECT("resolve: res NULL", ks_getaddrinfo("127.0.0.1", "80", NULL, NULL), -EFAULT);
}

static void names(void)
{
    struct sockaddr_in a = kt_addr(INADDR_LOOPBACK, 80);
    char host[NI_MAXHOST], serv[NI_MAXSERV], tiny[4];
    int r;

    STEP("resolve: ks_getnameinfo numeric");
    if (EXPECT_GAI("resolve: ks_getnameinfo(127.0.0.1:80, NI_NUMERICHOST | NI_NUMERICSERV)",
                   ks_getnameinfo((struct sockaddr *)&a, sizeof(a), host, sizeof(host), serv,
                                  sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV),
                   0))
        CHECK("resolve: \"127.0.0.1\" \"80\"",
              strcmp(host, "127.0.0.1") == 0 && strcmp(serv, "80") == 0, 0);
    EXPECT_GAI("resolve: ks_getnameinfo into 4 bytes",
               ks_getnameinfo((struct sockaddr *)&a, sizeof(a), tiny, sizeof(tiny), NULL, 0,
                              NI_NUMERICHOST),
               -EAI_OVERFLOW);

    STEP("resolve: ks_getnameinfo through the provider");
    r = ks_getnameinfo((struct sockaddr *)&a, sizeof(a), host, sizeof(host), serv, sizeof(serv), 0);
    if (r == -EAI_FAIL && kt_param.wine) {
        KT_LOG("WINE ks_getnameinfo(127.0.0.1:80) = -EAI_FAIL: Wine's WskGetNameInfo is not "
               "implemented (STATUS_NOT_IMPLEMENTED, the IRP is never completed)\n");
        return;
    }
    if (EXPECT_GAI("resolve: ks_getnameinfo(127.0.0.1:80)", r, 0)) {
        KT_LOG("resolve: 127.0.0.1:80 is %s:%s\n", host, serv);
        CHECK("resolve: 127.0.0.1 is localhost, 80 is http",
              strcmp(host, "localhost") == 0 && strcmp(serv, "http") == 0, 0);
    }
}

/* Connects to the echo server through "localhost" and the port as text,
 * streams a pattern and checks the echo. */
static void connect_through_result(void)
{
    struct addrinfo h = hints_of(0, AF_INET, SOCK_STREAM), *res = NULL, *ai;
    char port[8];
    uint8_t *out = kt_alloc(NonPagedPoolNx, RESOLVE_BYTES);
    uint8_t *in = kt_alloc(NonPagedPoolNx, RESOLVE_BYTES);
    int s = -1, p = kt_param.port, n = 0;

    STEP("resolve: connect through a result");
    do {
        port[n++] = (char)('0' + p % 10);
        p /= 10;
    } while (p != 0 && n < 6);
    port[n] = '\0';
    for (int i = 0; i < n / 2; i++) {
        char c = port[i];
        port[i] = port[n - 1 - i];
        port[n - 1 - i] = c;
    }
    if (out == NULL || in == NULL ||
        !EXPECT_GAI("resolve: ks_getaddrinfo(localhost, echo port)",
                    ks_getaddrinfo("localhost", port, &h, &res), 0))
        goto out;
    for (ai = res; ai != NULL && s < 0; ai = ai->ai_next) {
        s = ks_socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (s < 0)
            break;
        if (ks_connect(s, ai->ai_addr, (int)ai->ai_addrlen) != 0) {
            ks_close(s);
            s = -1;
        }
    }
    if (!CHECK("resolve: connected to the echo server through a result", s > 0, s))
        goto out;
    ksp_fill(RESOLVE_SEED, 0, out, RESOLVE_BYTES);
    if (EXPECT("resolve: ks_send", ks_send(s, out, RESOLVE_BYTES, 0), RESOLVE_BYTES) &&
        EXPECT("resolve: ks_recv MSG_WAITALL", ks_recv(s, in, RESOLVE_BYTES, MSG_WAITALL),
               RESOLVE_BYTES) &&
        CHECK("resolve: echoed data",
              ksp_check(RESOLVE_SEED, 0, in, RESOLVE_BYTES) == RESOLVE_BYTES, 0)) {
        uint64_t fnv = ksp_fnv(KSP_FNV_INIT, out, RESOLVE_BYTES);
        KT_LOG("resolve bytes=%lu fnv=%08lx%08lx\n", (ULONG)RESOLVE_BYTES, (ULONG)(fnv >> 32),
               (ULONG)fnv);
    }
    EXPECT("resolve: ks_close", ks_close(s), 0);
out:
    ks_freeaddrinfo(res);
    kt_free(out);
    kt_free(in);
}

enum kt_outcome kt_resolve(void)
{
    lookups();
    names();
    connect_through_result();
    return KT_DONE;
}
