/*
 * kt_options.c - the options scenario: socket options, socket addresses and
 * shutdown over a loopback connection between two ktest sockets.
 * Port: a free port for ktest's own listener.
 *
 * Windows semantics are checked on the host bed. Under Wine (Wine=1) the
 * provider lacks WskControlSocket, WskDisconnect, WskGetLocalAddress and
 * WskGetRemoteAddress: the library then answers from its own record
 * (addresses; the port of an implicit bind stays 0), library-level options
 * work, provider options and ks_shutdown(SD_SEND) give -EOPNOTSUPP, and the
 * socket must keep working. Each such allowance is logged as a WINE line.
 */
#include "ktest.h"

#include <wsksock/wsk.h> /* LINGER */

struct opt_acc {
    int l;
    struct sockaddr_in peer;
    int peerlen;
    int result;
};

static VOID NTAPI opt_accept_thread(PVOID p)
{
    struct opt_acc *a = p;

    a->peerlen = sizeof(a->peer);
    a->result = ks_accept(a->l, (struct sockaddr *)&a->peer, &a->peerlen);
    kt_thread_exit();
}

static int get_int(int s, int level, int name, int *value)
{
    int len = sizeof(*value);

    *value = -12345;
    return ks_getsockopt(s, level, name, value, &len);
}

static int set_int(int s, int level, int name, int value)
{
    return ks_setsockopt(s, level, name, &value, sizeof(value));
}

/* Result of a call that needs the provider: under Wine, -EOPNOTSUPP is
 * accepted (and logged); elsewhere want. Returns 1 if the call worked. */
static int provider_call(const char *what, long got, long want)
{
    if (kt_param.wine && got == -EOPNOTSUPP) {
        KT_LOG("WINE %s = -EOPNOTSUPP (the provider lacks the call)\n", what);
        return 0;
    }
    return EXPECT(what, got, want) && got == want;
}

/* One byte each way between x and y; 1 if both arrived. */
static int exchange(const char *what, int x, int y)
{
    char c = 0;

    if (!EXPECT(what, ks_send(x, "x", 1, 0), 1) || !EXPECT(what, ks_recv(y, &c, 1, 0), 1))
        return 0;
    return EXPECT(what, ks_send(y, "y", 1, 0), 1) && EXPECT(what, ks_recv(x, &c, 1, 0), 1);
}

static void option_checks(int c)
{
    LINGER lg = {1, 3};
    int v, len;

    STEP("options: library options");
    EXPECT("options: SO_TYPE", get_int(c, SOL_SOCKET, SO_TYPE, &v), 0);
    EXPECT("options: SO_TYPE value", v, SOCK_STREAM);
    EXPECT("options: SO_ERROR", get_int(c, SOL_SOCKET, SO_ERROR, &v), 0);
    EXPECT("options: SO_ERROR value", v, 0);
    EXPECT("options: set SO_RCVTIMEO", set_int(c, SOL_SOCKET, SO_RCVTIMEO, 1234), 0);
    EXPECT("options: get SO_RCVTIMEO", get_int(c, SOL_SOCKET, SO_RCVTIMEO, &v), 0);
    EXPECT("options: SO_RCVTIMEO value", v, 1234);
    EXPECT("options: set SO_RCVTIMEO 0", set_int(c, SOL_SOCKET, SO_RCVTIMEO, 0), 0);
    EXPECT("options: set SO_LINGER", ks_setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    RtlZeroMemory(&lg, sizeof(lg));
    len = sizeof(lg);
    EXPECT("options: get SO_LINGER", ks_getsockopt(c, SOL_SOCKET, SO_LINGER, &lg, &len), 0);
    EXPECT("options: SO_LINGER value", lg.l_onoff * 1000 + lg.l_linger, 1003);
    lg.l_onoff = 0;
    EXPECT("options: SO_LINGER off", ks_setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    EXPECT("options: unknown option", set_int(c, SOL_SOCKET, SO_DEBUG, 1), -ENOPROTOOPT);
    EXPECT("options: IPV6_V6ONLY on AF_INET", set_int(c, IPPROTO_IPV6, IPV6_V6ONLY, 0),
           -ENOPROTOOPT);
    EXPECT("options: short length", ks_setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, 2), -EINVAL);

    STEP("options: provider options on a connected socket");
    if (provider_call("options: set TCP_NODELAY (connected)",
                      set_int(c, IPPROTO_TCP, TCP_NODELAY, 1), 0)) {
        EXPECT("options: get TCP_NODELAY", get_int(c, IPPROTO_TCP, TCP_NODELAY, &v), 0);
        EXPECT("options: TCP_NODELAY value", v, 1);
    }
    if (provider_call("options: set SO_KEEPALIVE (connected)",
                      set_int(c, SOL_SOCKET, SO_KEEPALIVE, 1), 0)) {
        EXPECT("options: get SO_KEEPALIVE", get_int(c, SOL_SOCKET, SO_KEEPALIVE, &v), 0);
        EXPECT("options: SO_KEEPALIVE value", v, 1);
    }
}

/* A provider option stored before the bind is given to the provider then. */
static void stored_option_checks(void)
{
    struct sockaddr_in a = kt_addr(INADDR_LOOPBACK, 0), me;
    int s, r, len = sizeof(me);

    STEP("options: stored option applied at bind");
    s = ks_socket(AF_INET, SOCK_STREAM, 0);
    if (!CHECK("options: ks_socket", s > 0, s))
        return;
    EXPECT("options: getsockname unbound", ks_getsockname(s, (struct sockaddr *)&me, &len),
           -EINVAL);
    EXPECT("options: SO_KEEPALIVE before bind", set_int(s, SOL_SOCKET, SO_KEEPALIVE, 1), 0);
    r = ks_bind(s, (struct sockaddr *)&a, sizeof(a));
    if (!provider_call("options: ks_bind with SO_KEEPALIVE stored", r, 0))
        EXPECT("options: ks_bind again (the refused option was dropped)",
               ks_bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    len = sizeof(me);
    EXPECT("options: getsockname after bind to port 0",
           ks_getsockname(s, (struct sockaddr *)&me, &len), 0);
    if (kt_param.wine && me.sin_port == 0)
        KT_LOG("WINE getsockname after a bind to port 0 gives port 0 (no WskGetLocalAddress)\n");
    else
        CHECK("options: getsockname gives the port chosen", me.sin_port != 0, me.sin_port);
    ks_close(s);
}

static void address_checks(int l, int c, int a, const struct opt_acc *acc)
{
    struct sockaddr_in x, y;
    int len;

    STEP("options: addresses");
    len = sizeof(x);
    EXPECT("options: getsockname listener", ks_getsockname(l, (struct sockaddr *)&x, &len), 0);
    EXPECT("options: listener length", len, sizeof(x));
    EXPECT("options: listener address", ks_ntohl(x.sin_addr.s_addr), INADDR_LOOPBACK);
    EXPECT("options: listener port", ks_ntohs(x.sin_port), kt_param.port);
    EXPECT("options: getpeername listener", ks_getpeername(l, (struct sockaddr *)&x, &len),
           -ENOTCONN);
    len = sizeof(x);
    EXPECT("options: getpeername client", ks_getpeername(c, (struct sockaddr *)&x, &len), 0);
    EXPECT("options: client's peer address", ks_ntohl(x.sin_addr.s_addr), INADDR_LOOPBACK);
    EXPECT("options: client's peer port", ks_ntohs(x.sin_port), kt_param.port);
    len = sizeof(y);
    EXPECT("options: getpeername accepted", ks_getpeername(a, (struct sockaddr *)&y, &len), 0);
    EXPECT("options: accepted peer = accept's address", RtlCompareMemory(&y, &acc->peer, sizeof(y)),
           sizeof(y));
    len = sizeof(x);
    EXPECT("options: getsockname client", ks_getsockname(c, (struct sockaddr *)&x, &len), 0);
    if (kt_param.wine && x.sin_port == 0)
        KT_LOG("WINE getsockname of an implicitly bound socket gives the recorded 0.0.0.0:0\n");
    else
        EXPECT("options: client's port = accepted peer's port", x.sin_port, y.sin_port);
}

static void shutdown_checks(int c, int a)
{
    char b[4];
    int r;

    STEP("options: shutdown");
    EXPECT("options: shutdown bad how", ks_shutdown(c, 9), -EINVAL);
    r = ks_shutdown(c, SD_SEND);
    if (provider_call("options: shutdown SD_SEND", r, 0)) {
        EXPECT("options: peer sees the end of stream", ks_recv(a, b, sizeof(b), 0), 0);
        EXPECT("options: send after SD_SEND", ks_send(c, "x", 1, 0), -EPIPE);
        EXPECT("options: peer still sends", ks_send(a, "ab", 2, 0), 2);
        EXPECT("options: receive after SD_SEND", ks_recv(c, b, 2, MSG_WAITALL), 2);
    } else {
        /* Nothing changed: the connection still works both ways. */
        exchange("options: exchange after a refused shutdown", c, a);
    }
    EXPECT("options: shutdown SD_RECEIVE", ks_shutdown(a, SD_RECEIVE), 0);
    EXPECT("options: recv after SD_RECEIVE", ks_recv(a, b, sizeof(b), 0), 0);
}

enum kt_outcome kt_options(void)
{
    struct opt_acc acc;
    int l, c = -1, a = -1, slot;

    STEP("options: loopback connection");
    l = kt_listen_loopback(kt_param.port);
    if (l < 0)
        return KT_DONE;
    RtlZeroMemory(&acc, sizeof(acc));
    acc.l = l;
    slot = kt_spawn(opt_accept_thread, &acc);
    if (slot >= 0)
        c = kt_connect_loopback(kt_param.port);
    if (slot < 0 || !kt_join(slot, 5000)) {
        KT_LOG("FAIL options: no connection accepted within 5 s\n");
        InterlockedIncrement(&kt_failures);
        ks_close(l); /* wakes the accept */
        if (slot >= 0)
            kt_join(slot, 5000);
        if (c > 0)
            ks_close(c);
        return KT_DONE;
    }
    a = acc.result;
    if (CHECK("options: ks_accept", a > 0, a) && c > 0) {
        option_checks(c);
        exchange("options: exchange after the options", c, a);
        address_checks(l, c, a, &acc);
        shutdown_checks(c, a);
    }
    stored_option_checks();
    if (a > 0)
        EXPECT("options: close accepted", ks_close(a), 0);
    if (c > 0)
        EXPECT("options: close client", ks_close(c), 0);
    ks_close(l);
    return KT_DONE;
}
