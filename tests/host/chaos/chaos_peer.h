/*
 * chaos_peer.h - the chaos test's native peer (POSIX sockets, in
 * chaos_peer.c, which includes no shim header; plain ints, as hpeer.h).
 */
#ifndef CHAOS_PEER_H
#define CHAOS_PEER_H

struct ch_peer;
/* A thread serving connections on IPv4 and IPv6 loopback listeners, each
 * connection with a random behaviour drawn from seed: echo, sink (reads and
 * discards), deaf (never reads, closes after a while), reset or close after
 * a while. NULL on failure. */
struct ch_peer *ch_peer_start(unsigned seed, int *port4, int *port6);
/* Stops the thread and closes every socket it has. */
void ch_peer_stop(struct ch_peer *p);

#endif /* CHAOS_PEER_H */
