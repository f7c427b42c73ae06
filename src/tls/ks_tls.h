/*
 * ks_tls.h - the TLS layer's shared internals (wsksock/tls.h), on BearSSL.
 *
 * Files: ks_tls_sys.c (what the TLS layer takes from the kernel: entropy,
 * time, files, a bigger stack), ks_tls_config.c (configurations: anchors,
 * pins, chain and key), ks_tls_session.c (sessions: the engine pump over
 * the descriptor, send/recv/close, errors).
 *
 * Lifetimes: a configuration counts its open sessions (sessions, changed
 * with interlocked operations); it is read-only while that count is not 0,
 * so sessions read it without a lock. A session is owned by its creator;
 * `refs` is 1 for the owner plus 1 per call inside it, and the memory is
 * freed when it drops to 0 (ks_tls_close may run while another thread's
 * call is inside: see ks_tls_session.c).
 */
#ifndef KS_TLS_INTERNAL_H
#define KS_TLS_INTERNAL_H

#include <ntddk.h>

#include "wsksock.h"
#include "wsksock/tls.h"

#include <bearssl.h>

/* Largest file ks_tls_config_*_file reads. */
#define KS_TLS_FILE_MAX (1024 * 1024)

struct ks_tls_config {
    int role;
    unsigned flags;
    volatile LONG sessions; /* open sessions made from it (read-only while > 0) */
    /* Client: anchors (each anchor's DN and key bytes live in one pool
     * block whose address is anchors[i].dn.data) and pins. */
    br_x509_trust_anchor *anchors;
    size_t anchor_count, anchor_cap;
    unsigned char pins[KS_TLS_MAX_PINS][32];
    size_t pin_count;
    /* Server: the chain (each certificate's DER in its own block) and key
     * (key_block holds the key's big integers). */
    br_x509_certificate chain[KS_TLS_MAX_CHAIN];
    size_t chain_len;
    int key_type; /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC; 0: no key */
    br_rsa_private_key rsa;
    br_ec_private_key ec;
    unsigned char *key_block;
    size_t key_size;
};

/* --- ks_tls_sys.c --- */

/* Fills buf with len bytes from the kernel's RNG. 0 or -EIO. */
int ks__tls_random(void *buf, size_t len);

/* The current time as BearSSL's X.509 validation wants it: days since
 * 0000-01-01 (proleptic Gregorian) and seconds in the day. */
void ks__tls_now(uint32_t *days, uint32_t *seconds);

/* Reads a whole file (at most KS_TLS_FILE_MAX bytes) into a new pool block
 * (tag KS_TLS_POOL_TAG) the caller frees. path: as for
 * ks_tls_config_add_trust_file. 0, or -ENOENT, -EFBIG, -EINVAL, -ENOMEM,
 * -EIO. */
int ks__tls_read_file(const char *path, unsigned char **data, size_t *len);

/* Runs fn(ctx) on a kernel stack with at least KS_TLS_STACK bytes free
 * (KeExpandKernelStackAndCallout when the current one has less); returns
 * fn's result, or -ENOMEM when no bigger stack could be had. */
#define KS_TLS_STACK (16 * 1024)
int ks__tls_on_big_stack(int (*fn)(void *ctx), void *ctx);

/* Pool helpers with the TLS tag. */
void *ks__tls_alloc(size_t size);
void ks__tls_free(void *p);

#endif /* KS_TLS_INTERNAL_H */
