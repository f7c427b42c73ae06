/*
 * echo_server - native TCP echo server for the kernel client tests.
 *
 *   echo_server [--port P] [--conns N] [--timeout S]
 *               [--seed K --bytes B]
 *
 * Listens on 127.0.0.1:P (0, the default: an ephemeral port), prints
 * "PORT <n>", then serves N connections (default 1) one after the other:
 * echoes every byte back until the client shuts the connection down, and
 * prints
 *   echo_server: conn i bytes=<count> fnv=<FNV-1a 64 of the bytes, hex>
 * With --seed/--bytes, each connection must carry exactly B bytes of stream
 * kspattern(K) (the first wrong byte is reported). Exits 0 when all N
 * connections were served correctly, 1 on any error, mismatch or when the
 * --timeout (default 60 s) expires.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kspattern.h"
#include "peer_common.h"

#define BUF_SIZE (256 * 1024)

int main(int argc, char **argv)
{
    const char *v;
    int port = 0, nconns = 1, have_seed = 0, have_bytes = 0, bound, lfd, i;
    uint64_t seed = 0, want_bytes = 0;
    unsigned timeout = 60;
    int64_t deadline;
    unsigned char *buf;

    for (i = 1; i < argc; i++) {
        if (peer_opt(argc, argv, &i, "--port", &v))
            port = (int)peer_parse_u64("--port", v);
        else if (peer_opt(argc, argv, &i, "--conns", &v))
            nconns = (int)peer_parse_u64("--conns", v);
        else if (peer_opt(argc, argv, &i, "--timeout", &v))
            timeout = (unsigned)peer_parse_u64("--timeout", v);
        else if (peer_opt(argc, argv, &i, "--seed", &v)) {
            seed = peer_parse_u64("--seed", v);
            have_seed = 1;
        } else if (peer_opt(argc, argv, &i, "--bytes", &v)) {
            want_bytes = peer_parse_u64("--bytes", v);
            have_bytes = 1;
        } else
            peer_die("unknown argument '%s'", argv[i]);
    }
    peer_init("echo_server", timeout);
    if (port < 0 || port > 65535 || nconns <= 0)
        peer_die("bad arguments");
    buf = malloc(BUF_SIZE);
    if (!buf)
        peer_die("out of memory");
    deadline = peer_now_ms() + (int64_t)timeout * 1000;
    lfd = peer_listen(port, 16, &bound);

    for (i = 0; i < nconns; i++) {
        uint64_t count = 0, fnv = KSP_FNV_INIT;
        int fd = peer_accept(lfd, deadline);

        if (fd < 0)
            peer_die("conn %d: no connection within the timeout (%s)", i, strerror(-fd));
        peer_set_nonblock(fd);
        peer_log("conn %d accepted", i);
        for (;;) {
            ssize_t n = recv(fd, buf, BUF_SIZE, 0);
            ptrdiff_t w;

            if (n == 0)
                break;
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    if (!peer_wait(fd, POLLIN, deadline))
                        peer_die("conn %d: timeout after %" PRIu64 " bytes", i, count);
                    continue;
                }
                peer_die("conn %d: recv after %" PRIu64 " bytes: %s", i, count, strerror(errno));
            }
            if (have_seed) {
                size_t bad = ksp_check(seed, count, buf, (size_t)n);
                if (bad != (size_t)n)
                    peer_die("conn %d: byte %" PRIu64 " is 0x%02x, expected 0x%02x", i, count + bad,
                             buf[bad], ksp_byte(seed, count + bad));
            }
            fnv = ksp_fnv(fnv, buf, (size_t)n);
            count += (uint64_t)n;
            if (have_bytes && count > want_bytes)
                peer_die("conn %d: more than the %" PRIu64 " bytes expected", i, want_bytes);
            w = peer_write_full(fd, buf, (size_t)n, deadline);
            if (w < 0)
                peer_die("conn %d: send after %" PRIu64 " bytes: %s", i, count, strerror((int)-w));
        }
        close(fd);
        peer_log("conn %d bytes=%" PRIu64 " fnv=%016" PRIx64, i, count, fnv);
        if (have_bytes && count != want_bytes)
            peer_die("conn %d: got %" PRIu64 " bytes, expected %" PRIu64, i, count, want_bytes);
    }
    close(lfd);
    free(buf);
    peer_log("OK conns=%d", nconns);
    return 0;
}
