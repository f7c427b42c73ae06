/*
 * user_echo - user-mode TCP echo server of the benchmark (bench/README.md),
 * one source for two servers:
 *   winsock-echo.exe  built with mingw-w64 against ws2_32, run under Wine
 *                     (the user-mode ceiling above the kernel path);
 *   native-echo       built natively against POSIX sockets (the machine's
 *                     ceiling).
 *
 *   user_echo --port P
 *
 * Same shape as the kernel echo servers: a thread accepts on 127.0.0.1:P,
 * each connection is served by its own thread with blocking calls,
 * receiving up to 64 KiB and sending it back until the peer closes. No
 * socket option is set (the kernel servers under Wine cannot set any).
 * Prints "user-echo: listening on port P"; a connection whose first receive
 * is exactly "BENCHEND" makes it print "user-echo: stop requested" and exit
 * with status 0 (the benchmark's clean stop). Exits 1 on a setup error or
 * when accept fails 1000 times in a row.
 */
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
typedef SOCKET sock_t;
typedef int io_len_t;
#define close_sock closesocket
#else
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
typedef int sock_t;
typedef size_t io_len_t;
#define INVALID_SOCKET (-1)
#define close_sock close
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_SIZE (64 * 1024)

static void serve(sock_t s)
{
    char *buf = malloc(BUF_SIZE);
    int first = 1;

    while (buf) {
        int n = (int)recv(s, buf, (io_len_t)BUF_SIZE, 0);
        int off = 0;

        if (n <= 0)
            break;
        if (first && n == 8 && memcmp(buf, "BENCHEND", 8) == 0) {
            printf("user-echo: stop requested\n");
            fflush(stdout);
            exit(0);
        }
        first = 0;
        while (off < n) {
            int w = (int)send(s, buf + off, (io_len_t)(n - off), 0);
            if (w <= 0)
                goto out;
            off += w;
        }
    }
out:
    free(buf);
    close_sock(s);
}

#ifdef _WIN32
static DWORD WINAPI conn_thread(LPVOID arg)
{
    serve((sock_t)(ULONG_PTR)arg);
    return 0;
}

static int start_conn(sock_t s)
{
    HANDLE h = CreateThread(NULL, 0, conn_thread, (LPVOID)(ULONG_PTR)s, 0, NULL);
    if (h == NULL)
        return -1;
    CloseHandle(h);
    return 0;
}
#else
static void *conn_thread(void *arg)
{
    serve((sock_t)(intptr_t)arg);
    return NULL;
}

static int start_conn(sock_t s)
{
    pthread_t t;
    pthread_attr_t a;
    int r;

    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    r = pthread_create(&t, &a, conn_thread, (void *)(intptr_t)s);
    pthread_attr_destroy(&a);
    return r == 0 ? 0 : -1;
}
#endif

int main(int argc, char **argv)
{
    struct sockaddr_in a;
    sock_t l;
    int port = 0;

    if (argc == 3 && strcmp(argv[1], "--port") == 0)
        port = atoi(argv[2]);
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: %s --port P\n", argv[0]);
        return 2;
    }
#ifdef _WIN32
    {
        WSADATA wsa;
        if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
            fprintf(stderr, "user-echo: WSAStartup failed\n");
            return 1;
        }
    }
#endif
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    l = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (l == INVALID_SOCKET || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(l, 64) != 0) {
        fprintf(stderr, "user-echo: cannot listen on port %d\n", port);
        return 1;
    }
    printf("user-echo: listening on port %d\n", port);
    fflush(stdout);
    for (int failures = 0; failures < 1000;) {
        sock_t s = accept(l, NULL, NULL);
        if (s == INVALID_SOCKET) {
            failures++; /* transient (a connection reset before its accept) */
            continue;
        }
        failures = 0;
        if (start_conn(s) != 0)
            close_sock(s);
    }
    fprintf(stderr, "user-echo: accept keeps failing\n");
    return 1;
}
