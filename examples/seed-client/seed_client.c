/*
 * seed-client - the LySocket article's client driver, on wsksock.h.
 *
 * DriverEntry connects to 127.0.0.1:<Port> (Parameters\Port, default 8888),
 * sends "hello lyshark.com A", prints the reply and acknowledges with "ok".
 */
#include <ntddk.h>

#include "wsksock.h"
#include "wsksock/params.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD seed_unload;

static int exchange(int port)
{
    int s = ks_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s < 0)
        return s;
    struct sockaddr_in server;
    RtlZeroMemory(&server, sizeof(server));
    server.sin_family = AF_INET;
    server.sin_port = ks_htons((uint16_t)port);
    ks_inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
    int err = ks_connect(s, (struct sockaddr *)&server, sizeof(server));
    if (err == 0) {
        static const char hello[] = "hello lyshark.com A";
        ks_ssize_t n = ks_send(s, hello, sizeof(hello) - 1, 0);
        char reply[2048];
        if (n >= 0)
            n = ks_recv(s, reply, sizeof(reply) - 1, 0);
        if (n > 0) {
            reply[n] = '\0';
            DbgPrint("seed-client: [kernel B] => %s\n", reply);
            n = ks_send(s, "ok", 2, 0);
        } else if (n == 0) {
            n = -ECONNRESET;
        }
        err = n < 0 ? (int)n : 0;
    }
    ks_close(s);
    return err;
}

static void seed_unload(PDRIVER_OBJECT driver)
{
    UNREFERENCED_PARAMETER(driver);
    ks_cleanup();
    DbgPrint("seed-client: unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    int port = ks_param_get_int(registry_path, "Port", 8888);
    int err = ks_startup();
    if (err != 0) {
        DbgPrint("seed-client: ks_startup failed: %s\n", ks_strerror(err));
        return STATUS_UNSUCCESSFUL;
    }
    err = exchange(port);
    if (err != 0)
        DbgPrint("seed-client: exchange with 127.0.0.1:%d failed: %s\n", port, ks_strerror(err));
    else
        DbgPrint("seed-client: exchange done\n");
    driver->DriverUnload = seed_unload;
    return STATUS_SUCCESS;
}
