/* consumer - the README's minimal driver: connect, send, close, report. */
#include <ntddk.h>

#include "wsksock.h"
#include "wsksock/params.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD consumer_unload;

static void consumer_unload(PDRIVER_OBJECT driver)
{
    UNREFERENCED_PARAMETER(driver);
    ks_cleanup();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    if (ks_startup() != 0)
        return STATUS_UNSUCCESSFUL;
    driver->DriverUnload = consumer_unload;
    int port = ks_param_get_int(registry_path, "Port", 8888);
    int s = ks_socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to;
    RtlZeroMemory(&to, sizeof(to));
    to.sin_family = AF_INET;
    to.sin_port = ks_htons((uint16_t)port);
    ks_inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    int err = ks_connect(s, (struct sockaddr *)&to, sizeof(to));
    if (err == 0)
        err = (int)ks_send(s, "hello from consumer\n", 20, 0);
    DbgPrint("consumer: result %s\n", err < 0 ? ks_strerror(err) : "sent");
    ks_close(s);
    return STATUS_SUCCESS;
}
