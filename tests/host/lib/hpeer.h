/*
 * hpeer.h - native (POSIX) peers for the host bed's in-process library tests.
 *
 * The tests include the kernel shim and Winsock-style headers, whose struct
 * sockaddr and AF_INET6 clash with Linux's, so every POSIX socket call lives
 * in hpeer_posix.c behind this neutral interface: plain ints, loopback only
 * (127.0.0.1 or ::1), ports in host order, -1 on failure. Every wait is
 * bounded by a timeout in milliseconds.
 */
#ifndef HPEER_H
#define HPEER_H

#include <stddef.h>

/* TCP listener on loopback (v6: ::1), any port; *port receives it. */
int hp_listen(int v6, int *port);
/* Accepts one connection within timeout_ms; the fd or -1. */
int hp_accept(int listen_fd, int timeout_ms);
/* IPv4 loopback listener (backlog 0) whose accept queue HP_FULL_FILLERS
 * native connects filled: a further connect to *port hangs (its SYNs
 * dropped). Close the fillers and the listener with hp_close. */
#define HP_FULL_FILLERS 4
int hp_listen_full(int *port, int fillers[HP_FULL_FILLERS]);
/* Connects to loopback:port; the fd or -1. */
int hp_connect(int v6, int port);
/* Sends everything; len or -1. */
long hp_send_all(int fd, const void *buf, size_t len);
/* Receives until len bytes, EOF or timeout: the count (-1 on error). */
long hp_recv_all(int fd, void *buf, size_t len, int timeout_ms);
/* Waits for EOF (discarding data); 1 if seen, 0 on timeout or error. */
int hp_wait_eof(int fd, int timeout_ms);
/* Waits for the end of the stream, discarding data: HP_END_EOF for an
 * orderly end, HP_END_RESET for a reset, 0 on timeout or another error.
 * *bytes (optional) receives the count of bytes discarded before it. */
#define HP_END_EOF 1
#define HP_END_RESET 2
int hp_wait_end(int fd, int timeout_ms, long *bytes);
/* The local port of a connected or bound socket, or -1. */
int hp_local_port(int fd);
/* Ends the sending direction (the library's side sees end of stream). */
void hp_shutdown_send(int fd);
/* Orderly close. */
void hp_close(int fd);
/* Abortive close: the peer sees a reset (SO_LINGER {1, 0}). */
void hp_reset(int fd);

/* UDP socket on loopback, any port. */
int hp_udp(int v6, int *port);
long hp_sendto(int fd, int v6, int port, const void *buf, size_t len);
/* One datagram (truncated to len); *from_port gets the sender's port. */
long hp_recvfrom(int fd, void *buf, size_t len, int *from_port, int timeout_ms);

/* Echo server on loopback: a thread accepts connections and echoes each
 * (one thread per connection) until hp_echo_stop, which closes everything
 * and joins every thread. Returns NULL on failure. */
struct hp_echo;
struct hp_echo *hp_echo_start(int v6, int *port);
/* Connections accepted so far. */
int hp_echo_accepted(struct hp_echo *e);
void hp_echo_stop(struct hp_echo *e);

/* Raises the process's open-file limit to at least n (as far as the hard
 * limit allows); returns the soft limit in effect afterwards. */
long hp_raise_fd_limit(long n);

/* A free TCP port on loopback (bound then released). */
int hp_free_port(int v6);

#endif /* HPEER_H */
