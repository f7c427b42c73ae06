/*
 * benchpat.h - the benchmark's stream data, shared by the native client
 * (bench/client) and the kernel client (bench/ksbench): kernel or user C,
 * only <stddef.h>/<stdint.h> (through kspattern.h).
 *
 * Byte `off` of stream `seed` is byte (off mod BP_PERIOD) of the first
 * BP_PERIOD bytes of kspattern stream `seed`: a ring filled once, so that
 * sending costs no generation and checking an echo is one memory compare
 * against the ring. The ring is stored with its first BP_CHUNK bytes
 * repeated at its end, so any piece of at most BP_CHUNK bytes starting
 * anywhere in the period is contiguous. BP_PERIOD is not a multiple of any
 * chunk size used, so a lost, repeated or swapped chunk never compares
 * equal; streams of different seeds differ everywhere.
 */
#ifndef BENCHPAT_H
#define BENCHPAT_H

#include "kspattern.h"

#define BP_CHUNK (64u * 1024u)
#define BP_PERIOD (1024u * 1024u + 4099u)
#define BP_RING_SIZE (BP_PERIOD + BP_CHUNK)

/* Fills ring (BP_RING_SIZE bytes) for stream `seed`. */
static inline void bp_ring_fill(uint64_t seed, uint8_t *ring)
{
    size_t i;

    ksp_fill(seed, 0, ring, BP_PERIOD);
    for (i = 0; i < BP_CHUNK; i++)
        ring[BP_PERIOD + i] = ring[i];
}

/* The ring's bytes [off, off + len) of the stream (len <= BP_CHUNK). */
static inline const uint8_t *bp_at(const uint8_t *ring, uint64_t off)
{
    return ring + (size_t)(off % BP_PERIOD);
}

#endif /* BENCHPAT_H */
