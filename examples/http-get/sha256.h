/*
 * sha256.h - SHA-256 (FIPS 180-4), incremental.
 *
 * Plain C with no dependency beyond <stddef.h> and <stdint.h>: it builds in
 * the driver and in the native unit test (sha256_test.c). Any IRQL; the
 * context is 108 bytes and may live on the stack.
 */
#ifndef HTTP_GET_SHA256_H
#define HTTP_GET_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32
#define SHA256_BLOCK_SIZE 64

struct sha256 {
    uint32_t h[8];                    /* the chaining state */
    uint64_t length;                  /* bytes hashed so far */
    uint8_t block[SHA256_BLOCK_SIZE]; /* a partial block */
    size_t used;                      /* bytes in block */
};

void sha256_init(struct sha256 *ctx);
void sha256_update(struct sha256 *ctx, const void *data, size_t len);
void sha256_final(struct sha256 *ctx, uint8_t digest[SHA256_DIGEST_SIZE]);

/* The digest as 64 lower-case hex digits and a NUL (hex: 65 bytes). */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_SIZE], char hex[2 * SHA256_DIGEST_SIZE + 1]);

#endif /* HTTP_GET_SHA256_H */
