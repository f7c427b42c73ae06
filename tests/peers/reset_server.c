/*
 * reset_server - native server that resets its connections (RST) on cue.
 *
 *   reset_server [--port P] [--timeout S] [--seed K] MODE...
 *
 * Listens on 127.0.0.1:P (default 0: ephemeral), prints "PORT <n>", and
 * serves one connection per MODE, in order:
 *   send:N  sends N bytes of stream kspattern(K) (default K = 7), waits for a
 *           1-byte acknowledgement from the client (which it sends once it
 *           has received all N bytes), then resets the connection
 *           (SO_LINGER {1, 0} + close): the client is then blocked in, or
 *           about to call, recv when the RST arrives.
 *   recv:N  reads N bytes (whatever they are) while the client keeps
 *           sending, then resets the connection with unread data pending:
 *           the client's sends must fail.
 *   rstnotify:N  takes two connections, A then B: sends N bytes of the
 *           pattern on A, resets A, and only then sends "reset\n" on B and
 *           waits for the client to close B. A client that reads B first
 *           knows the reset of A has arrived before it touches A again, so
 *           its next receive on A finds the reset already there (and not a
 *           receive pending when it comes).
 * Prints "reset_server: conn i <mode> reset" for each, "reset_server: OK" at
 * the end, and exits 0; 1 on any error or when --timeout (default 60 s)
 * expires.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kspattern.h"
#include "peer_common.h"

int main(int argc, char **argv)
{
    const char *v;
    int port = 0, bound, lfd, i, nmodes = 0;
    unsigned timeout = 60;
    uint64_t seed = 7;
    char **modes = calloc((size_t)argc, sizeof(char *));
    int64_t deadline;
    static unsigned char buf[64 * 1024];

    if (!modes)
        return 1;
    for (i = 1; i < argc; i++) {
        if (peer_opt(argc, argv, &i, "--port", &v))
            port = (int)peer_parse_u64("--port", v);
        else if (peer_opt(argc, argv, &i, "--timeout", &v))
            timeout = (unsigned)peer_parse_u64("--timeout", v);
        else if (peer_opt(argc, argv, &i, "--seed", &v))
            seed = peer_parse_u64("--seed", v);
        else if (!strncmp(argv[i], "send:", 5) || !strncmp(argv[i], "recv:", 5) ||
                 !strncmp(argv[i], "rstnotify:", 10))
            modes[nmodes++] = argv[i];
        else
            peer_die("unknown argument '%s'", argv[i]);
    }
    peer_init("reset_server", timeout);
    if (!nmodes)
        peer_die("no MODE given");
    deadline = peer_now_ms() + (int64_t)timeout * 1000;
    lfd = peer_listen(port, 16, &bound);

    for (i = 0; i < nmodes; i++) {
        const char *num = strchr(modes[i], ':') + 1;
        uint64_t n = peer_parse_u64(modes[i], num), done = 0;
        int fd = peer_accept(lfd, deadline);

        if (fd < 0)
            peer_die("conn %d: no connection within the timeout", i);
        peer_set_nonblock(fd);
        if (modes[i][0] == 'r' && modes[i][1] == 's') {
            unsigned char c;
            ptrdiff_t r;
            int nfd = peer_accept(lfd, deadline);
            if (nfd < 0)
                peer_die("conn %d: no notification connection within the timeout", i);
            peer_set_nonblock(nfd);
            while (done < n) {
                size_t len = n - done < sizeof(buf) ? (size_t)(n - done) : sizeof(buf);
                ksp_fill(seed, done, buf, len);
                r = peer_write_full(fd, buf, len, deadline);
                if (r < 0)
                    peer_die("conn %d: send: %s", i, strerror((int)-r));
                done += len;
            }
            peer_close_reset(fd);
            peer_log("conn %d %s reset", i, modes[i]);
            if (peer_write_full(nfd, "reset\n", 6, deadline) != 6)
                peer_die("conn %d: cannot notify the reset", i);
            r = peer_read_full(nfd, &c, 1, deadline);
            if (r != 0 && r != -ECONNRESET)
                peer_die("conn %d: the client did not close the notification connection (%s)", i,
                         r > 0 ? "data" : strerror((int)-r));
            close(nfd);
            continue;
        }
        if (modes[i][0] == 's') {
            unsigned char ack;
            ptrdiff_t r;
            while (done < n) {
                size_t len = n - done < sizeof(buf) ? (size_t)(n - done) : sizeof(buf);
                ksp_fill(seed, done, buf, len);
                r = peer_write_full(fd, buf, len, deadline);
                if (r < 0)
                    peer_die("conn %d: send after %" PRIu64 " bytes: %s", i, done,
                             strerror((int)-r));
                done += len;
            }
            r = peer_read_full(fd, &ack, 1, deadline);
            if (r != 1)
                peer_die("conn %d: no acknowledgement byte from the client (%s)", i,
                         r == 0 ? "EOF" : strerror((int)-r));
        } else {
            while (done < n) {
                size_t len = n - done < sizeof(buf) ? (size_t)(n - done) : sizeof(buf);
                ptrdiff_t r = peer_read_full(fd, buf, len, deadline);
                if (r <= 0)
                    peer_die("conn %d: read %" PRIu64 " of %" PRIu64 " bytes, then %s", i, done, n,
                             r == 0 ? "EOF" : strerror((int)-r));
                done += (uint64_t)r;
                if ((size_t)r < len)
                    peer_die("conn %d: EOF after %" PRIu64 " bytes", i, done);
            }
        }
        peer_close_reset(fd);
        peer_log("conn %d %s reset", i, modes[i]);
    }
    close(lfd);
    free(modes);
    peer_log("OK");
    return 0;
}
