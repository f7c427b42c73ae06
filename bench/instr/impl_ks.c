/*
 * impl_ks.c - the measured operations on wsksock's blocking API. Each is
 * the one call (or the few calls) a driver makes; this glue is counted with
 * the library in make bench-instr, as impl_raw.c's is with the raw code.
 */
#include "instr.h"

#include <wsksock.h>

#include "hpeer.h"

const char instr_impl_name[] = "wsksock";

/* ksSo (socket objects), ksFd (descriptor table), ksBf (peek buffers),
 * ksMi (everything else): src/ks_kernel.h. */
#define TAG4(a, b, c, d) ((ULONG)(a) | ((ULONG)(b) << 8) | ((ULONG)(c) << 16) | ((ULONG)(d) << 24))
const ULONG instr_impl_tags[] = {TAG4('k', 's', 'S', 'o'), TAG4('k', 's', 'F', 'd'),
                                 TAG4('k', 's', 'B', 'f'), TAG4('k', 's', 'M', 'i')};
const int instr_impl_ntags = (int)(sizeof(instr_impl_tags) / sizeof(instr_impl_tags[0]));

int instr_startup(void)
{
    return ks_startup() == 0 ? 0 : -1;
}

void instr_cleanup(void)
{
    ks_cleanup();
}

static void loopback(int port, struct sockaddr_in *a)
{
    RtlZeroMemory(a, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_port = ks_htons((uint16_t)port);
    a->sin_addr.s_addr = ks_htonl(INADDR_LOOPBACK);
}

instr_sock instr_listen(int *port)
{
    for (int tries = 0; tries < 20; tries++) {
        int s = ks_socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0)
            return 0;
        struct sockaddr_in a;
        *port = hp_free_port(0);
        loopback(*port, &a);
        int r = ks_bind(s, (struct sockaddr *)&a, (int)sizeof(a));
        if (r == 0)
            r = ks_listen(s, 1024);
        if (r == 0)
            return s;
        ks_close(s);
        if (r != -EADDRINUSE)
            return 0;
    }
    return 0;
}

instr_sock instr_connect(int port)
{
    struct sockaddr_in a;
    loopback(port, &a);
    int s = ks_socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return 0;
    if (ks_connect(s, (struct sockaddr *)&a, (int)sizeof(a)) != 0) {
        ks_close(s);
        return 0;
    }
    return s;
}

instr_sock instr_accept(instr_sock listener)
{
    int s = ks_accept((int)listener, NULL, NULL);
    return s > 0 ? s : 0;
}

long instr_send(instr_sock s, const void *buf, ULONG len)
{
    return (long)ks_send((int)s, buf, len, 0);
}

long instr_recv(instr_sock s, void *buf, ULONG len)
{
    return (long)ks_recv((int)s, buf, len, 0);
}

void instr_close(instr_sock s)
{
    ks_close((int)s);
}
