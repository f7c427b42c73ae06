/*
 * seed-server - the LySocket article's server driver, on wsksock.h.
 *
 * DriverEntry starts a system thread (ks_thread_start, wsksock/thread.h)
 * that listens on 0.0.0.0:<Port> (the service's Parameters\Port value,
 * default 8888) and serves clients one after another: it receives and
 * prints the greeting, replies "Hi, lyshark.com B" and receives the 2-byte
 * "ok". Unlike the article's,
 * DriverUnload stops the thread promptly (ks_cleanup wakes its blocked
 * accept or receive) and leaks nothing.
 */
#include <ntddk.h>

#include "wsksock.h"
#include "wsksock/params.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD seed_unload;
static ks_thread_routine seed_worker;

static struct ks_thread *g_worker;
static volatile LONG g_stopping;
static int g_port = 8888;

static void serve(int c)
{
    char buf[2048];
    ks_ssize_t n = ks_recv(c, buf, sizeof(buf) - 1, 0);
    if (n <= 0) {
        DbgPrint("seed-server: receive failed: %s\n", ks_strerror((int)n));
        return;
    }
    buf[n] = '\0';
    DbgPrint("seed-server: [kernel A] => %s\n", buf);

    static const char reply[] = "Hi, lyshark.com B";
    n = ks_send(c, reply, sizeof(reply) - 1, 0);
    if (n < 0) {
        DbgPrint("seed-server: send failed: %s\n", ks_strerror((int)n));
        return;
    }
    char ack[3] = {0};
    n = ks_recv(c, ack, 2, MSG_WAITALL);
    if (n == 2)
        DbgPrint("seed-server: client acknowledged with \"%s\"\n", ack);
    else
        DbgPrint("seed-server: no acknowledgement (%s)\n", n < 0 ? ks_strerror((int)n) : "closed");
}

static void seed_worker(void *context)
{
    UNREFERENCED_PARAMETER(context);
    int l = ks_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (l < 0) {
        DbgPrint("seed-server: socket failed: %s\n", ks_strerror(l));
        return;
    }
    struct sockaddr_in local;
    RtlZeroMemory(&local, sizeof(local));
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = INADDR_ANY;
    local.sin_port = ks_htons((uint16_t)g_port);
    int err = ks_bind(l, (struct sockaddr *)&local, sizeof(local));
    if (err == 0)
        err = ks_listen(l, 16);
    if (err != 0) {
        DbgPrint("seed-server: cannot listen on port %d: %s\n", g_port, ks_strerror(err));
        ks_close(l);
        return;
    }
    DbgPrint("seed-server: listening on port %d\n", g_port);

    while (!g_stopping) {
        struct sockaddr_in peer;
        int peer_len = sizeof(peer);
        int c = ks_accept(l, (struct sockaddr *)&peer, &peer_len);
        if (c < 0) {
            if (g_stopping)
                break;
            DbgPrint("seed-server: accept failed: %s\n", ks_strerror(c));
            if (c == -EBADF || c == -ENETDOWN)
                break;
            continue;
        }
        char text[INET_ADDRSTRLEN];
        DbgPrint("seed-server: client %s:%u connected\n",
                 ks_inet_ntop(AF_INET, &peer.sin_addr, text, sizeof(text)),
                 ks_ntohs(peer.sin_port));
        serve(c);
        ks_close(c);
    }
    ks_close(l); /* -EBADF after ks_cleanup: harmless */
    DbgPrint("seed-server: worker stopped\n");
}

static void seed_unload(PDRIVER_OBJECT driver)
{
    UNREFERENCED_PARAMETER(driver);
    InterlockedExchange(&g_stopping, 1);
    ks_cleanup(); /* closes the sockets: the worker's blocked call returns */
    if (g_worker != NULL) {
        ks_thread_join(g_worker); /* returning earlier would unmap its code */
        g_worker = NULL;
    }
    DbgPrint("seed-server: unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    g_port = ks_param_get_int(registry_path, "Port", 8888);
    int err = ks_startup();
    if (err != 0) {
        DbgPrint("seed-server: ks_startup failed: %s\n", ks_strerror(err));
        return STATUS_UNSUCCESSFUL;
    }
    err = ks_thread_start(&g_worker, seed_worker, NULL);
    if (err != 0) {
        DbgPrint("seed-server: cannot start the worker: %s\n", ks_strerror(err));
        ks_cleanup();
        return STATUS_UNSUCCESSFUL;
    }
    driver->DriverUnload = seed_unload;
    return STATUS_SUCCESS;
}
