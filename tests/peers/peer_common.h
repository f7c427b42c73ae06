/*
 * peer_common.h - helpers shared by the native Linux test peers: option
 * parsing, deadlines, bounded socket waits, and the "PORT n" handshake
 * with the test scripts.
 */
#ifndef PEER_COMMON_H
#define PEER_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Name printed in front of every message (set by peer_init). */
extern const char *peer_name;

/*
 * Sets the name, and makes sure the process never outlives its bounds: it
 * dies with its parent (PR_SET_PDEATHSIG) and after `max_seconds` (alarm),
 * whatever it is doing.
 */
void peer_init(const char *name, unsigned max_seconds);

/* Monotonic clock in milliseconds. */
int64_t peer_now_ms(void);

/* Prints "<name>: <message>\n" to stdout and flushes. */
void peer_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "<name>: FAIL <message>" and exits with status 1. */
void peer_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Parses "--name value" options. Returns 1 and sets *value if argv[*i] is
 * `name` (advancing *i past the value), else 0. Dies if the value is missing.
 */
int peer_opt(int argc, char **argv, int *i, const char *name, const char **value);

/* Parses an unsigned decimal number or dies. */
uint64_t peer_parse_u64(const char *opt, const char *text);

/*
 * Creates a TCP listener on 127.0.0.1:port (0: ephemeral), prints
 * "PORT <n>" on stdout (the scripts wait for that line) and returns it.
 */
int peer_listen(int port, int backlog, int *bound_port);
/* SO_RCVBUF peer_listen gives the listener (inherited by its connections),
 * if > 0: bounds what a peer that does not read holds per connection. */
extern int peer_listen_rcvbuf;

/* Accepts one connection, waiting until the deadline (ms, peer_now_ms). */
int peer_accept(int lfd, int64_t deadline);

/* Connects to host:port (IPv4 text), bounded by the deadline; returns a
 * non-blocking fd or -errno (-ETIMEDOUT). */
int peer_connect(const char *host, int port, int64_t deadline);

/* Waits for `events` on fd until the deadline. Returns revents, 0 on timeout. */
int peer_wait(int fd, short events, int64_t deadline);

/* Reads exactly len bytes (bounded). Returns len, the short count at EOF, or -errno. */
ptrdiff_t peer_read_full(int fd, void *buf, size_t len, int64_t deadline);

/* Writes exactly len bytes (bounded). Returns len or -errno (-ETIMEDOUT). */
ptrdiff_t peer_write_full(int fd, const void *buf, size_t len, int64_t deadline);

/* Sets SO_LINGER {1, 0} and closes: the peer gets a RST. */
void peer_close_reset(int fd);

void peer_set_nonblock(int fd);

#endif /* PEER_COMMON_H */
