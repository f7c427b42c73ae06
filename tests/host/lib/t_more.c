/*
 * t_more.c - the LySocket compatibility layer over IPv6 and UDP (the Wine
 * tests run it over IPv4 TCP only), a provider that attaches late or never,
 * the error mappings (every NTSTATUS the library maps, every errno text),
 * and driver parameters (wsksock/params.h) against the shim's registry.
 */
#include "tests.h"

#include <LySocket.hpp>
#include <wsksock/params.h>

#include "ks_socket.h"
#include <string.h>
#include <wskprov.h>

/* Internal: NTSTATUS -> negative errno (src/ks_kernel.h). */
int ks__status_to_errno(NTSTATUS status);

static void t_compat_v6_and_udp(void)
{
    SOCKADDR_STORAGE any6, lo6;
    int len, port = hp_free_port(1);
    char buf[32];
    ULONG flags = 0xffffffff;

    HT_EQ(WSKStartup(), STATUS_SUCCESS, "WSKStartup");
    /* TCP over IPv6: listen, SocketConnect, Accept, Send/Receive. */
    ht_loopback(1, port, &lo6, &len);
    PWSK_SOCKET l = CreateSocket(AF_INET6, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET);
    HT_CHECK(l != NULL, "CreateSocket listen v6", 0);
    HT_EQ(Bind(l, (PSOCKADDR)&lo6), STATUS_SUCCESS, "Bind (listens)");
    PWSK_SOCKET c = SocketConnect(SOCK_STREAM, IPPROTO_TCP, (PSOCKADDR)&lo6, NULL);
    HT_CHECK(c != NULL, "SocketConnect v6", 0);
    SOCKADDR_IN6 local, remote;
    PWSK_SOCKET a = Accept(l, (PSOCKADDR)&local, (PSOCKADDR)&remote);
    HT_CHECK(a != NULL, "Accept", 0);
    HT_EQ(remote.sin6_family, AF_INET6, "Accept's remote address family");
    HT_EQ(Send(c, "lyshark", 7, 0), 7, "Send");
    HT_EQ(Receive(a, buf, 7, WSK_FLAG_WAITALL), 7, "Receive WAITALL");
    HT_CHECK(memcmp(buf, "lyshark", 7) == 0, "data", 0);
    HT_EQ(CloseSocket(c), STATUS_SUCCESS, "CloseSocket client");
    HT_EQ(Receive(a, buf, sizeof(buf), 0), 0, "orderly close seen");
    HT_EQ(CloseSocket(a), STATUS_SUCCESS, "CloseSocket accepted");
    HT_EQ(CloseSocket(l), STATUS_SUCCESS, "CloseSocket listener");
    HT_EQ(CloseSocket(l), STATUS_INVALID_HANDLE, "CloseSocket twice");

    /* Refused, as the NTSTATUS a WSK caller would see. */
    PWSK_SOCKET r = CreateSocket(AF_INET6, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET);
    HT_EQ(Connect(r, (PSOCKADDR)&lo6), STATUS_CONNECTION_REFUSED, "Connect refused");
    CloseSocket(r);
    HT_CHECK(SocketConnect(SOCK_STREAM, IPPROTO_TCP, (PSOCKADDR)&lo6, NULL) == NULL,
             "SocketConnect refused gives NULL", 0);

    /* UDP over IPv6: SendTo/ReceiveFrom with the sender's address. */
    PWSK_SOCKET u1 = CreateSocket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET);
    PWSK_SOCKET u2 = CreateSocket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET);
    ht_loopback(1, hp_free_port(1), &lo6, &len);
    ht_loopback(1, 0, &any6, &len);
    HT_EQ(Bind(u2, (PSOCKADDR)&lo6), STATUS_SUCCESS, "Bind UDP");
    HT_EQ(Bind(u1, (PSOCKADDR)&any6), STATUS_SUCCESS, "Bind UDP wildcard");
    HT_EQ(SendTo(u1, "dgram", 5, (PSOCKADDR)&lo6), 5, "SendTo");
    memset(&remote, 0, sizeof(remote));
    HT_EQ(ReceiveFrom(u2, buf, sizeof(buf), (PSOCKADDR)&remote, &flags), 5, "ReceiveFrom");
    HT_CHECK(memcmp(buf, "dgram", 5) == 0, "datagram", 0);
    HT_EQ(remote.sin6_family, AF_INET6, "sender family");
    HT_EQ(flags, 0, "ControlFlags of a whole datagram");
    HT_EQ(SendTo(u1, "0123456789", 10, (PSOCKADDR)&lo6), 10, "SendTo 10 bytes");
    HT_EQ(ReceiveFrom(u2, buf, 4, NULL, &flags), 4, "ReceiveFrom into 4 bytes");
    HT_EQ(flags, MSG_TRUNC, "ControlFlags report the truncation");
    CloseSocket(u1);
    CloseSocket(u2);
    HT_EQ(Send(u1, "x", 1, 0), SOCKET_ERROR, "Send on a closed handle");
    HT_EQ(change_uint(127, 0, 0, 1), (long)ks_htonl(0x7f000001), "change_uint");
    WSKCleanup();
}

static void late_attach_thread(void *arg)
{
    (void)arg;
    ht_sleep_ms(300);
    wskprov_set_attached(TRUE);
}

/* ks_startup never waits for the provider (it may run in DriverEntry); the
 * first call that needs it waits for a bounded time. */
static void t_provider_late(void)
{
    SOCKADDR_STORAGE a;
    int len;
    ks_cleanup();
    wskprov_set_attached(FALSE);
    LONGLONG t0 = ht_now_ms();
    HT_EQ(ks_startup(), 0, "ks_startup with the provider not attached");
    HT_CHECK(ht_now_ms() - t0 < 1000, "ks_startup did not wait (ms)", ht_now_ms() - t0);
    ht_thread *t = ht_spawn(late_attach_thread, NULL);
    int s = ks_socket(AF_INET6, SOCK_DGRAM, 0);
    ht_loopback(1, 0, &a, &len);
    HT_EQ(ks_bind(s, (struct sockaddr *)&a, len), 0, "first use waits until the provider attaches");
    HT_CHECK(ht_join(t, 5000), "attach thread", 0);
    ks_close(s);
}

static void t_provider_never(void)
{
    SOCKADDR_STORAGE a;
    int len;
    ks_cleanup();
    wskprov_set_attached(FALSE);
    HT_EQ(ks_startup(), 0, "ks_startup with the provider not attached");
    int s = ks_socket(AF_INET, SOCK_DGRAM, 0);
    ht_loopback(0, 0, &a, &len);
    LONGLONG t0 = ht_now_ms();
    HT_EQ(ks_bind(s, (struct sockaddr *)&a, len), -ENETDOWN, "no provider: -ENETDOWN");
    LONGLONG waited = ht_now_ms() - t0;
    HT_CHECK(waited >= 4000 && waited < 15000, "bounded wait for the provider (ms)", waited);
    ks_close(s);
    ks_cleanup();
    wskprov_set_attached(TRUE);
    HT_EQ(ks_startup(), 0, "restart with the provider");
}

/* Every NTSTATUS the library maps (the documented WSK completion statuses),
 * and a text for every errno it returns. */
static void t_error_mapping(void)
{
    static const struct {
        NTSTATUS status;
        int err;
    } map[] = {
        {STATUS_SUCCESS, 0},
        {STATUS_CONNECTION_REFUSED, -ECONNREFUSED},
        {STATUS_PORT_UNREACHABLE, -ECONNREFUSED},
        {STATUS_CONNECTION_RESET, -ECONNRESET},
        {STATUS_REMOTE_DISCONNECT, -ECONNRESET},
        {STATUS_CONNECTION_ABORTED, -ECONNABORTED},
        {STATUS_LOCAL_DISCONNECT, -ECONNABORTED},
        {STATUS_FILE_FORCED_CLOSED, -ECONNABORTED},
        {STATUS_TRANSACTION_ABORTED, -ECONNABORTED},
        {STATUS_INVALID_HANDLE, -ECONNABORTED},
        {STATUS_OBJECT_TYPE_MISMATCH, -ECONNABORTED},
        {STATUS_CONNECTION_DISCONNECTED, -EPIPE},
        {STATUS_PIPE_DISCONNECTED, -EPIPE},
        {STATUS_ADDRESS_ALREADY_EXISTS, -EADDRINUSE},
        {STATUS_ADDRESS_ALREADY_ASSOCIATED, -EADDRINUSE},
        {STATUS_SHARING_VIOLATION, -EADDRINUSE},
        {STATUS_TOO_MANY_ADDRESSES, -EADDRINUSE},
        {STATUS_INVALID_ADDRESS, -EADDRNOTAVAIL},
        {STATUS_INVALID_ADDRESS_COMPONENT, -EADDRNOTAVAIL},
        {STATUS_CONNECTION_ACTIVE, -EISCONN},
        {STATUS_INVALID_BUFFER_SIZE, -EMSGSIZE},
        {STATUS_NETWORK_UNREACHABLE, -ENETUNREACH},
        {STATUS_HOST_UNREACHABLE, -EHOSTUNREACH},
        {STATUS_PROTOCOL_UNREACHABLE, -EHOSTUNREACH},
        {STATUS_IO_TIMEOUT, -ETIMEDOUT},
        {STATUS_TIMEOUT, -ETIMEDOUT},
        {STATUS_CANCELLED, -ECANCELED},
        {STATUS_INSUFFICIENT_RESOURCES, -ENOMEM},
        {STATUS_NO_MEMORY, -ENOMEM},
        {STATUS_BUFFER_OVERFLOW, -EMSGSIZE},
        {STATUS_BUFFER_TOO_SMALL, -EMSGSIZE},
        {STATUS_INVALID_PARAMETER, -EINVAL},
        {STATUS_ACCESS_DENIED, -EACCES},
        {STATUS_NOT_IMPLEMENTED, -EOPNOTSUPP},
        {STATUS_NOT_SUPPORTED, -EOPNOTSUPP},
        {STATUS_INVALID_DEVICE_REQUEST, -EOPNOTSUPP},
        {STATUS_INVALID_DEVICE_STATE, -EINVAL},
        {STATUS_NETWORK_BUSY, -ENETDOWN},
        {STATUS_DEVICE_NOT_READY, -ENETDOWN},
        {STATUS_CANT_WAIT, -EWOULDBLOCK},
        {STATUS_TOO_MANY_OPENED_FILES, -EMFILE},
    };
    for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        HT_EQ(ks__status_to_errno(map[i].status), map[i].err, "ks__status_to_errno");
    /* Anything else is still a negative errno, never 0 or positive. */
    for (ULONG code = 0xC0000001; code < 0xC0000300; code++)
        HT_CHECK(ks__status_to_errno((NTSTATUS)code) < 0, "an error maps to a negative errno",
                 code);
    for (int e = 1; e < 140; e++) {
        const char *t = ks_strerror(-e);
        HT_CHECK(t != NULL && t[0] != 0, "ks_strerror gives a text", e);
    }
    HT_CHECK(strcmp(ks_strerror(0), "Success") == 0, "ks_strerror(0)", 0);
    HT_CHECK(ks_strerror(-ECONNREFUSED) != ks_strerror(-EBADF), "distinct texts", 0);
    HT_CHECK(ks_strerror(-2147483647 - 1) != NULL, "ks_strerror(INT_MIN)", 0);
}

/* ks_param_get / ks_param_get_int: UTF-16 registry text to UTF-8 (the
 * library's strict conversion: an unpaired surrogate is -EINVAL, never
 * replaced), -EMSGSIZE with an empty buffer, -ENOENT, numbers in decimal
 * and hexadecimal text and REG_DWORD, the default for anything else. */
static void t_params(void)
{
    static const char key[] =
        "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\tp\\Parameters";
    static const WCHAR path[] = L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\tp";
    static const char text[] = "h\xc3\xa9llo \xe2\x82\xac\xf0\x9f\x98\x80"; /* héllo €😀 */
    static const WCHAR lone[] = {'a', 0xd800, 'b', 0};
    static const WCHAR cut[] = {'o', 'k', 0, 'x', 0};
    ULONG dword = 0xfffffffeu;
    UNICODE_STRING reg;
    char buf[64];
    RtlInitUnicodeString(&reg, path);
    HT_EQ(kshim_registry_set(key, "Text", REG_SZ, text, (ULONG)sizeof(text)), 0, "set Text");
    HT_EQ(kshim_registry_set(key, "Lone", REG_SZ | KSHIM_REG_RAW, lone, (ULONG)sizeof(lone)), 0,
          "set");
    HT_EQ(kshim_registry_set(key, "Cut", REG_EXPAND_SZ | KSHIM_REG_RAW, cut, (ULONG)sizeof(cut)), 0,
          "set Cut");
    HT_EQ(kshim_registry_set(key, "Hex", REG_SZ, " 0x2A ", 7), 0, "set Hex");
    HT_EQ(kshim_registry_set(key, "Bad", REG_SZ, "12z", 4), 0, "set Bad");
    HT_EQ(kshim_registry_set(key, "Dw", REG_DWORD, &dword, 4), 0, "set Dw");

    HT_EQ(ks_param_get(&reg, "Text", buf, sizeof(buf)), (long long)strlen(text), "UTF-8 length");
    HT_CHECK(strcmp(buf, text) == 0, "the text as UTF-8", 0);
    HT_EQ(ks_param_get(&reg, "Text", buf, strlen(text)), -EMSGSIZE, "no room for the NUL");
    HT_EQ(buf[0], 0, "an empty string then");
    HT_EQ(ks_param_get(&reg, "Lone", buf, sizeof(buf)), -EINVAL, "an unpaired surrogate");
    HT_EQ(ks_param_get(&reg, "Cut", buf, sizeof(buf)), 2, "the text ends at its first NUL");
    HT_EQ(ks_param_get(&reg, "Missing", buf, sizeof(buf)), -ENOENT, "no such value");
    HT_EQ(ks_param_get(&reg, "Dw", buf, sizeof(buf)), -EINVAL, "not a string");
    HT_EQ(ks_param_get_int(&reg, "Hex", 7), 42, "hexadecimal text");
    HT_EQ(ks_param_get_int(&reg, "Dw", 7), -2, "REG_DWORD");
    HT_EQ(ks_param_get_int(&reg, "Bad", 7), 7, "not a number: the default");
    HT_EQ(ks_param_get_int(&reg, "Lone", 7), 7, "invalid text: the default");
    HT_EQ(ks_param_get_int(&reg, "Missing", 7), 7, "absent: the default");
    kshim_registry_clear();
}

/* ks_param_get_bytes: REG_BINARY as stored, text as UTF-8 with a NUL,
 * REG_MULTI_SZ joined by newlines; the size query; -EMSGSIZE, -EINVAL,
 * -EFAULT. */
static void t_params_bytes(void)
{
    static const char key[] =
        "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\tb\\Parameters";
    static const WCHAR path[] = L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\tb";
    static const unsigned char bin[] = {0x30, 0x00, 0x82, 0xff, 0x00, 0x01};
    static const WCHAR multi[] = {'a', 'b', 0, 0xe9, 0, 'c', 0, 0, 'x', 0};
    static const WCHAR empty_multi[] = {0, 0};
    static const WCHAR lone[] = {'a', 0, 0xdc00, 0, 0};
    ULONG dword = 5;
    UNICODE_STRING reg;
    char buf[64];
    RtlInitUnicodeString(&reg, path);
    HT_EQ(kshim_registry_set(key, "Bin", REG_BINARY, bin, (ULONG)sizeof(bin)), 0, "set Bin");
    HT_EQ(kshim_registry_set(key, "Text", REG_SZ, "pem\ntext", 8), 0, "set Text");
    HT_EQ(
        kshim_registry_set(key, "Multi", REG_MULTI_SZ | KSHIM_REG_RAW, multi, (ULONG)sizeof(multi)),
        0, "set Multi");
    HT_EQ(kshim_registry_set(key, "Empty", REG_MULTI_SZ | KSHIM_REG_RAW, empty_multi,
                             (ULONG)sizeof(empty_multi)),
          0, "set Empty");
    HT_EQ(kshim_registry_set(key, "Lone", REG_MULTI_SZ | KSHIM_REG_RAW, lone, (ULONG)sizeof(lone)),
          0, "set Lone");
    HT_EQ(kshim_registry_set(key, "Dw", REG_DWORD, &dword, 4), 0, "set Dw");

    HT_EQ(ks_param_get_bytes(&reg, "Bin", NULL, 0), (long long)sizeof(bin), "binary: its size");
    HT_EQ(ks_param_get_bytes(&reg, "Bin", buf, sizeof(buf)), (long long)sizeof(bin), "binary");
    HT_CHECK(memcmp(buf, bin, sizeof(bin)) == 0, "binary bytes as stored (NULs too)", 0);
    HT_EQ(ks_param_get_bytes(&reg, "Bin", buf, sizeof(bin) - 1), -EMSGSIZE, "binary: no room");
    HT_EQ(ks_param_get_bytes(&reg, "Text", NULL, 0), 9, "text: the room with its NUL");
    HT_EQ(ks_param_get_bytes(&reg, "Text", buf, 9), 8, "text in exactly that room");
    HT_CHECK(strcmp(buf, "pem\ntext") == 0, "text as UTF-8", 0);
    HT_EQ(ks_param_get_bytes(&reg, "Text", buf, 8), -EMSGSIZE, "text: no room for the NUL");
    /* "ab", U+00E9 (2 bytes in UTF-8), "c"; what follows "\0\0" is not read. */
    HT_EQ(ks_param_get_bytes(&reg, "Multi", NULL, 0), 8, "multi: the room");
    HT_EQ(ks_param_get_bytes(&reg, "Multi", buf, 8), 7, "multi");
    HT_CHECK(strcmp(buf, "ab\n\xc3\xa9\nc") == 0, "multi: strings joined by newlines", 0);
    HT_EQ(ks_param_get_bytes(&reg, "Multi", buf, 7), -EMSGSIZE, "multi: no room for the NUL");
    HT_EQ(ks_param_get_bytes(&reg, "Multi", buf, 3), -EMSGSIZE, "multi: no room for a separator");
    HT_EQ(ks_param_get_bytes(&reg, "Empty", buf, sizeof(buf)), 0, "an empty list");
    HT_EQ(buf[0], 0, "an empty list is an empty string");
    HT_EQ(ks_param_get_bytes(&reg, "Lone", buf, sizeof(buf)), -EINVAL, "an unpaired surrogate");
    HT_EQ(ks_param_get_bytes(&reg, "Dw", buf, sizeof(buf)), -EINVAL, "REG_DWORD is not bytes");
    HT_EQ(ks_param_get_bytes(&reg, "Missing", NULL, 0), -ENOENT, "no such value");
    HT_EQ(ks_param_get_bytes(&reg, "Bin", NULL, 4), -EFAULT, "buf NULL with a size");
    HT_EQ(ks_param_get_bytes(&reg, "Bin", buf, 0), -EINVAL, "buf with size 0");
    HT_EQ(ks_param_get_bytes(NULL, "Bin", NULL, 0), -EFAULT, "registry_path NULL");
    HT_EQ(ks_param_get_bytes(&reg, NULL, NULL, 0), -EFAULT, "name NULL");
    kshim_registry_clear();
}

/* What an idle socket costs (issue 13: what it does not use yet is not
 * allocated): listening, connecting and accepted sockets hold their object
 * and no IRP (each direction gets one at its first request, the control
 * operation one per request); the listener, once it has accepted, holds
 * its receive side's IRP (the engine keeps an accept in flight for it). */
static void t_idle_memory(void)
{
    enum { N = 4 };
    struct kshim_stats a, b;
    int l[N], c[N], acc[N], port[N];
    SOCKADDR_STORAGE to;
    int tolen;
    kshim_get_stats(&a);
    SIZE_T so0 = kshim_pool_bytes_by_tag(KS_TAG_SOCKET);
    for (int i = 0; i < N; i++) {
        l[i] = ht_ks_listen(i % 2, &port[i]);
        HT_CHECK(l[i] > 0, "listening", l[i]);
    }
    kshim_get_stats(&b);
    HT_EQ(b.irps, a.irps, "listening sockets hold no IRP");
    HT_EQ(kshim_pool_bytes_by_tag(KS_TAG_SOCKET) - so0, N * sizeof(ks_sock), "their objects");
    for (int i = 0; i < N; i++) {
        c[i] = ks_socket(i % 2 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
        ht_loopback(i % 2, port[i], &to, &tolen);
        HT_EQ(ks_connect(c[i], (struct sockaddr *)&to, tolen), 0, "connect");
    }
    kshim_get_stats(&b);
    HT_EQ(b.irps, a.irps, "connected sockets hold no IRP");
    for (int i = 0; i < N; i++) {
        acc[i] = ks_accept(l[i], NULL, NULL);
        HT_CHECK(acc[i] > 0, "accept", acc[i]);
    }
    kshim_get_stats(&b);
    HT_EQ(b.irps, a.irps + N, "accepted sockets hold none; each listener its receive IRP");
    HT_EQ(kshim_pool_bytes_by_tag(KS_TAG_SOCKET) - so0, 4 * N * sizeof(ks_sock),
          "objects: listening, connected, accepted, and each listener's socket prepared for "
          "its next accept");
    HT_EQ(kshim_pool_bytes_by_tag(KS_TAG_BUFFER) + kshim_pool_bytes_by_tag(KS_TAG_MISC), 0,
          "no buffers, no stored options");
    for (int i = 0; i < N; i++) {
        HT_EQ(ks_close(acc[i]), 0, "close");
        HT_EQ(ks_close(c[i]), 0, "close");
        HT_EQ(ks_close(l[i]), 0, "close");
    }
    kshim_get_stats(&b);
    HT_EQ(b.irps, a.irps, "every IRP freed with its socket");
}

const struct ht_test more_tests[] = {
    {"idle-memory", t_idle_memory, ht_runs_modes},
    {"params", t_params, ht_runs_once},
    {"params-bytes", t_params_bytes, ht_runs_once},
    {"compat-v6-udp", t_compat_v6_and_udp, ht_runs_modes},
    {"provider-late", t_provider_late, ht_runs_modes},
    {"provider-never", t_provider_never, ht_runs_modes},
    {"error-mapping", t_error_mapping, ht_runs_modes},
};
const int more_test_count = (int)(sizeof(more_tests) / sizeof(more_tests[0]));
