/*
 * kspattern.h - deterministic test data and checksums shared by the native
 * peers (tests/peers, host C) and the test drivers (tests/drivers, kernel C).
 * Only <stdint.h>/<stddef.h>: it compiles in both worlds.
 *
 * The stream of a given seed is addressable: byte `off` of stream `seed` is
 * ksp_byte(seed, off), so a receiver can verify any chunk it gets without
 * keeping state other than its offset. Consecutive 8-byte words come from a
 * 64-bit mixer, so swapped, repeated or lost blocks never look right.
 *
 * The checksum is FNV-1a 64 over the bytes in order, printed as 16 lower-case
 * hex digits by both sides.
 */
#ifndef KSPATTERN_H
#define KSPATTERN_H

#include <stddef.h>
#include <stdint.h>

#define KSP_FNV_INIT ((uint64_t)0xcbf29ce484222325ull)
#define KSP_FNV_PRIME ((uint64_t)0x00000100000001b3ull)

static inline uint64_t ksp_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t ksp_word(uint64_t seed, uint64_t word_index)
{
    return ksp_mix(ksp_mix(seed) ^ word_index);
}

static inline uint8_t ksp_byte(uint64_t seed, uint64_t off)
{
    return (uint8_t)(ksp_word(seed, off >> 3) >> ((off & 7) * 8));
}

/* Fills buf with bytes [off, off + len) of stream `seed`. */
static inline void ksp_fill(uint64_t seed, uint64_t off, void *buf, size_t len)
{
    uint8_t *p = (uint8_t *)buf;
    size_t i = 0;

    while (i < len && ((off + i) & 7) != 0) {
        p[i] = ksp_byte(seed, off + i);
        i++;
    }
    while (len - i >= 8) {
        uint64_t w = ksp_word(seed, (off + i) >> 3);
        int k;
        for (k = 0; k < 8; k++)
            p[i + (size_t)k] = (uint8_t)(w >> (k * 8));
        i += 8;
    }
    while (i < len) {
        p[i] = ksp_byte(seed, off + i);
        i++;
    }
}

/*
 * Checks buf against bytes [off, off + len) of stream `seed`. Returns the
 * index of the first wrong byte, or len when all are right.
 */
static inline size_t ksp_check(uint64_t seed, uint64_t off, const void *buf, size_t len)
{
    const uint8_t *p = (const uint8_t *)buf;
    size_t i = 0;

    while (i < len && ((off + i) & 7) != 0) {
        if (p[i] != ksp_byte(seed, off + i))
            return i;
        i++;
    }
    while (len - i >= 8) {
        uint64_t w = ksp_word(seed, (off + i) >> 3);
        int k;
        for (k = 0; k < 8; k++)
            if (p[i + (size_t)k] != (uint8_t)(w >> (k * 8)))
                return i + (size_t)k;
        i += 8;
    }
    while (i < len) {
        if (p[i] != ksp_byte(seed, off + i))
            return i;
        i++;
    }
    return len;
}

/* FNV-1a 64: start with KSP_FNV_INIT, feed the bytes in order. */
static inline uint64_t ksp_fnv(uint64_t h, const void *buf, size_t len)
{
    const uint8_t *p = (const uint8_t *)buf;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= KSP_FNV_PRIME;
    }
    return h;
}

#endif /* KSPATTERN_H */
