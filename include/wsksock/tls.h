/*
 * wsksock/tls.h - TLS over a connected wsksock stream socket: a client with
 * server-name indication and certificate validation against trust anchors
 * the driver supplies, and a server with a certificate chain and key.
 *
 * Built on BearSSL 0.6 (compiled into the driver: no allocation inside it,
 * no floating point, constant-time code). TLS 1.2 only by default (TLS 1.0
 * and 1.1 on request); BearSSL has no TLS 1.3. Link the driver with the
 * `wsksock_tls` library (wsksock_add_driver(... TLS)).
 *
 * Objects:
 *   struct ks_tls_config  what a session trusts or presents: trust anchors
 *       and pins (client), a certificate chain and private key (server).
 *       Built once, then shared read-only by any number of sessions, on any
 *       threads. It must outlive them: ks_tls_config_free refuses (-EBUSY)
 *       while a session made from it is open.
 *   struct ks_tls  one session over one descriptor. From a successful
 *       ks_tls_client/ks_tls_server on, the session owns the descriptor:
 *       ks_tls_close closes both. One call at a time per session: a call
 *       made while another thread is inside one returns -EBUSY, except
 *       ks_tls_close, which may be called at any time from any thread (see
 *       there).
 *
 * Blocking and non-blocking: a session follows its descriptor. On a
 * blocking descriptor every call completes or fails, bounded by the
 * socket's SO_RCVTIMEO/SO_SNDTIMEO (each socket call the session makes is
 * bounded by them; -ETIMEDOUT). On a non-blocking one (FIONBIO 1), or with
 * MSG_DONTWAIT, a call that would wait returns -EAGAIN; ks_tls_want then
 * says what to wait for with ks_poll on ks_tls_fd, and the call is repeated
 * (like SSL_ERROR_WANT_READ/WRITE). A receive that timed out or returned
 * -EAGAIN loses nothing; a send that timed out ends the session (the peer
 * may hold part of a record): only ks_tls_close is left.
 *
 * Validation (client): the chain the server sends must lead to one of the
 * trust anchors (X.509 path validation by BearSSL's "minimal" engine: RSA
 * and ECDSA signatures, SHA-1 to SHA-512, basicConstraints and keyUsage of
 * CAs, validity dates against KeQuerySystemTime), the end certificate must
 * carry server_name as a DNS name (subjectAltName dNSName, or the common
 * name when there is no SAN; one leading "*." wildcard label), and when
 * pins are set its SHA-256 must be one of them. Not done: revocation (no
 * CRL, no OCSP), name constraints, policy checks, IP-address SANs. A
 * self-signed server certificate is accepted only if it is itself added as
 * a trust anchor (that is a pin by another name).
 *
 * Entropy: the kernel's RNG, BCryptGenRandom with
 * BCRYPT_USE_SYSTEM_PREFERRED_RNG (cng.sys). Under Wine that is Wine's
 * bcrypt (the host's random source); on the host test bed, getrandom(2).
 * Time: KeQuerySystemTime.
 *
 * Memory: a session is one nonpaged block of about 40 KiB (BearSSL's
 * context and a 33 KiB two-way record buffer); a configuration holds
 * copies of the anchors, chain and key. Tag KS_TLS_POOL_TAG ("ksTl").
 * Nothing large on the kernel stack; the handshake's deepest stack use is
 * measured in docs/tls.md and runs inside KeExpandKernelStackAndCallout.
 *
 * IRQL: PASSIVE_LEVEL for every call except ks_tls_strerror (any) and
 * ks_tls_want/ks_tls_pending/ks_tls_fd (<= DISPATCH_LEVEL).
 *
 * Errors: negative errno values as everywhere in wsksock (socket errors
 * pass through: -ECONNRESET, -ETIMEDOUT, ...), plus the KS_ETLS_* values
 * below for what TLS itself refused; ks_tls_strerror names both. Once a
 * session failed, every later call returns that same error (the session
 * is unusable; ks_tls_close still works). -EIO: the kernel RNG failed.
 */
#ifndef WSKSOCK_TLS_H
#define WSKSOCK_TLS_H

#include <stddef.h>

#include <ntddk.h>

#include "../wsksock.h" /* ks_ssize_t, the errno values, SAL */

#ifdef __cplusplus
extern "C" {
#endif

/* Pool tag of sessions and configurations: "ksTl" in a pool dump. */
#define KS_TLS_POOL_TAG ((ULONG)'k' | ((ULONG)'s' << 8) | ((ULONG)'T' << 16) | ((ULONG)'l' << 24))

/* TLS errors (returned negated). */
#define KS_ETLS_UNTRUSTED 13001   /* the chain leads to no trust anchor (also: self-signed) */
#define KS_ETLS_EXPIRED 13002     /* a certificate is expired or not yet valid */
#define KS_ETLS_NAME 13003        /* the certificate is not for server_name */
#define KS_ETLS_PIN 13004         /* the certificate matches no pin */
#define KS_ETLS_BADCERT 13005     /* the peer's certificate or key cannot be used */
#define KS_ETLS_PROTOCOL 13006    /* the peer sent something that is not valid TLS */
#define KS_ETLS_TRUNCATED 13007   /* the connection ended without close_notify */
#define KS_ETLS_ALERT 13008       /* the peer sent a fatal alert (it refused us) */
#define KS_ETLS_NEGOTIATION 13009 /* no common protocol version or cipher suite */
#define KS_ETLS_DECODE 13010      /* configuration data (PEM/DER) cannot be decoded */

/* Roles of a configuration. */
#define KS_TLS_CLIENT 1
#define KS_TLS_SERVER 2

/* Flags of ks_tls_config_new. */
#define KS_TLS_ALLOW_TLS10 0x1 /* also TLS 1.0 and 1.1 (default: TLS 1.2 only) */

/* Largest certificate chain a server configuration takes. */
#define KS_TLS_MAX_CHAIN 8
/* Most pins a client configuration takes. */
#define KS_TLS_MAX_PINS 8

struct ks_tls_config;
struct ks_tls;

/*
 * ks_tls_config_new - an empty configuration for role KS_TLS_CLIENT or
 * KS_TLS_SERVER; flags 0 or KS_TLS_ALLOW_TLS10. The caller owns *out and
 * frees it with ks_tls_config_free. A client configuration needs at least
 * one trust anchor before use (pins add to anchors, they do not replace
 * them), a server one a certificate.
 * Returns 0, or -EINVAL (role, flags), -EFAULT (out NULL), -ENOMEM, -EPERM.
 */
_Must_inspect_result_
    _IRQL_requires_max_(PASSIVE_LEVEL) int ks_tls_config_new(int role, unsigned flags,
                                                             _Outptr_ struct ks_tls_config **out);

/*
 * ks_tls_config_free - free a configuration. Returns 0, or -EBUSY when a
 * session made from it is still open (nothing is freed then). NULL: 0.
 */
_IRQL_requires_max_(PASSIVE_LEVEL) int ks_tls_config_free(_In_opt_ struct ks_tls_config *cfg);

/*
 * ks_tls_config_add_trust - add trust anchors (client) from data: PEM text
 * with one or more "CERTIFICATE" blocks (other blocks are skipped), or one
 * DER certificate. A CA certificate anchors the chains it signed; a
 * non-CA one is trusted as the exact server key it holds. The data is
 * copied. Returns the number of anchors added (> 0), or -KS_ETLS_DECODE
 * (no certificate, or one that cannot be decoded: nothing is added),
 * -EINVAL (a server configuration, or in use by a session), -EFAULT,
 * -ENOMEM, -EPERM.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_tls_config_add_trust(
    _Inout_ struct ks_tls_config *cfg, _In_reads_bytes_(len) const void *data, size_t len);

/*
 * ks_tls_config_add_trust_file - ks_tls_config_add_trust with the
 * contents of a file (at most 1 MiB). path: a kernel path in ASCII/UTF-8,
 * "\??\C:\certs\ca.pem", "\SystemRoot\..." or "C:\certs\ca.pem" (taken as
 * "\??\C:\..."). Errors also -ENOENT (no such file), -EFBIG (> 1 MiB),
 * -EIO (any other file error).
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_tls_config_add_trust_file(
    _Inout_ struct ks_tls_config *cfg, _In_z_ const char *path);

/*
 * ks_tls_config_add_trust_param - ks_tls_config_add_trust with the value
 * `name` of the driver's <registry_path>\Parameters key, read by
 * ks_param_get_bytes (wsksock/params.h): PEM text in a REG_SZ or
 * REG_MULTI_SZ value (one line per string), or PEM or DER bytes in a
 * REG_BINARY value; at most 64 KiB. registry_path: DriverEntry's second
 * argument. Errors also those of ks_param_get_bytes (-ENOENT: no such
 * value; -EINVAL: another type; -EMSGSIZE: the value changed while read).
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_tls_config_add_trust_param(
    _Inout_ struct ks_tls_config *cfg, _In_ const UNICODE_STRING *registry_path,
    _In_z_ const char *name);

/*
 * ks_tls_config_add_pin - accept a server only if the SHA-256 of its end
 * certificate (the DER bytes, as `openssl x509 -outform der | sha256sum`)
 * is one of the pins. Pins add to path validation, they do not replace
 * it. Returns 0, or -ENOSPC (KS_TLS_MAX_PINS already), -EINVAL (server
 * configuration or in use), -EFAULT.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_tls_config_add_pin(
    _Inout_ struct ks_tls_config *cfg, _In_reads_bytes_(32) const unsigned char sha256[32]);

/*
 * ks_tls_config_set_cert - a server's certificate chain (PEM: the end
 * certificate first, then its issuers, at most KS_TLS_MAX_CHAIN; or one
 * DER certificate) and its private key (PEM "RSA PRIVATE KEY",
 * "EC PRIVATE KEY" or "PRIVATE KEY" (PKCS#8), or the DER of one). RSA keys
 * give ECDHE_RSA and RSA suites, EC keys ECDHE_ECDSA suites. Copied.
 * Returns 0, or -KS_ETLS_DECODE (no certificate or no key, data that does
 * not decode, or an end certificate that does not hold the key's public
 * half), -EINVAL (client configuration, already set, or in use), -EFAULT,
 * -ENOMEM, -EPERM.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_tls_config_set_cert(
    _Inout_ struct ks_tls_config *cfg, _In_reads_bytes_(chain_len) const void *chain,
    size_t chain_len, _In_reads_bytes_(key_len) const void *key, size_t key_len);

/*
 * ks_tls_config_set_cert_file - ks_tls_config_set_cert from two files
 * (paths as for ks_tls_config_add_trust_file; both may be the same file
 * when it holds the chain and the key).
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_tls_config_set_cert_file(
    _Inout_ struct ks_tls_config *cfg, _In_z_ const char *chain_path, _In_z_ const char *key_path);

/*
 * ks_tls_config_set_cert_param - ks_tls_config_set_cert from two values of
 * the driver's <registry_path>\Parameters key, read as
 * ks_tls_config_add_trust_param reads anchors (PEM text in REG_SZ or
 * REG_MULTI_SZ, PEM or DER in REG_BINARY; at most 64 KiB each; both names
 * may be the same value when it holds the chain and the key). The key's
 * temporary copy is wiped before it is freed. A private key in the
 * registry is as safe as its key's ACL, and service keys are commonly
 * readable by every user: give a Parameters key holding a private key its
 * own ACL. Errors also those of ks_param_get_bytes.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) int ks_tls_config_set_cert_param(
    _Inout_ struct ks_tls_config *cfg, _In_ const UNICODE_STRING *registry_path,
    _In_z_ const char *chain_name, _In_z_ const char *key_name);

/*
 * ks_tls_client - start TLS as the client on fd, a connected SOCK_STREAM
 * descriptor. server_name: the host name to send (SNI) and to check the
 * certificate against (not NULL, 1-255 characters). cfg: a client
 * configuration with trust anchors, kept until the session is closed.
 * Blocking descriptor: returns when the handshake is done (0) or failed
 * (an error; the session is then freed and fd stays the caller's, open).
 * Non-blocking descriptor: returns -EINPROGRESS with *out set; the
 * handshake goes on in ks_tls_handshake (or the first send/recv).
 * On 0 or -EINPROGRESS the session owns fd. Errors: -EINVAL (cfg not a
 * client configuration or without anchors, bad server_name), -EFAULT,
 * -EBADF/-ENOTSOCK/-ENOTCONN (fd), -ENOMEM, -EPERM, the KS_ETLS_* of the
 * handshake, socket errors.
 */
_Must_inspect_result_
    _IRQL_requires_max_(PASSIVE_LEVEL) int ks_tls_client(int fd, _In_ struct ks_tls_config *cfg,
                                                         _In_z_ const char *server_name,
                                                         _Outptr_ struct ks_tls **out);

/*
 * ks_tls_server - start TLS as the server on fd (an accepted connection);
 * cfg: a server configuration with a certificate. As ks_tls_client
 * otherwise.
 */
_Must_inspect_result_
    _IRQL_requires_max_(PASSIVE_LEVEL) int ks_tls_server(int fd, _In_ struct ks_tls_config *cfg,
                                                         _Outptr_ struct ks_tls **out);

/*
 * ks_tls_handshake - go on with (or confirm) the handshake. Returns 0 once
 * it is done, -EAGAIN (non-blocking: wait for ks_tls_want, then call
 * again), or an error (the session has failed: ks_tls_close).
 */
_Must_inspect_result_
    _IRQL_requires_max_(PASSIVE_LEVEL) int ks_tls_handshake(_Inout_ struct ks_tls *tls);

/*
 * ks_tls_send - send len bytes as application data. flags: 0 or
 * MSG_DONTWAIT. Blocking: all bytes or an error, like ks_send (the bytes
 * are flushed to the socket before it returns). Non-blocking: the bytes
 * taken (>= 1) or -EAGAIN. Returns the count, or -EINVAL (flags, len >
 * INT_MAX), -EFAULT, -EBUSY, -EPIPE (after ks_tls_shutdown or the peer's
 * close_notify: BearSSL answers a close_notify at once, which ends both
 * directions), socket and TLS errors. len 0: 0.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) ks_ssize_t
    ks_tls_send(_Inout_ struct ks_tls *tls, _In_reads_bytes_(len) const void *buf, size_t len,
                int flags);

/*
 * ks_tls_recv - receive up to len bytes of application data. flags: 0,
 * MSG_WAITALL (len bytes unless the stream ends or fails), MSG_DONTWAIT.
 * Returns the count (>= 1), 0 when the peer closed with close_notify (and
 * from then on), -EAGAIN (non-blocking, nothing decrypted yet), or an
 * error: -KS_ETLS_TRUNCATED when the connection ended without
 * close_notify (a truncation attack or a crashed peer: the data so far may
 * be incomplete), -KS_ETLS_PROTOCOL, -ETIMEDOUT, -ECONNRESET, ... With
 * MSG_WAITALL an error after some bytes returns those bytes first.
 */
_Must_inspect_result_ _IRQL_requires_max_(PASSIVE_LEVEL) ks_ssize_t
    ks_tls_recv(_Inout_ struct ks_tls *tls, _Out_writes_bytes_(len) void *buf, size_t len,
                int flags);

/*
 * ks_tls_want - after -EAGAIN: the ks_poll events (POLLIN, POLLOUT) to wait
 * for on ks_tls_fd before repeating the call; 0 if the call can be repeated
 * at once.
 */
_IRQL_requires_max_(DISPATCH_LEVEL) short ks_tls_want(_In_ const struct ks_tls *tls);

/*
 * ks_tls_pending - bytes of application data already decrypted, which
 * ks_tls_recv returns without waiting (a ks_poll on the socket does not
 * see them).
 */
_IRQL_requires_max_(DISPATCH_LEVEL) size_t ks_tls_pending(_In_ const struct ks_tls *tls);

/* ks_tls_fd - the session's descriptor (for ks_poll; do not ks_recv or
 * ks_send on it, and do not close it). */
_IRQL_requires_max_(DISPATCH_LEVEL) int ks_tls_fd(_In_ const struct ks_tls *tls);

/* What a session negotiated (after the handshake). */
struct ks_tls_info {
    unsigned version;      /* 0x0303 TLS 1.2, 0x0302 TLS 1.1, 0x0301 TLS 1.0 */
    unsigned cipher_suite; /* IANA number, e.g. 0xCCA8 */
    const char *cipher;    /* its OpenSSL-style name, e.g. "ECDHE-RSA-CHACHA20-POLY1305" */
    char server_name[256]; /* client: the name checked; server: the SNI received, or "" */
};

/* ks_tls_get_info - what the session negotiated. Returns 0, -EAGAIN (the
 * handshake is not done), -EFAULT, -EBUSY. */
_Must_inspect_result_
    _IRQL_requires_max_(PASSIVE_LEVEL) int ks_tls_get_info(_Inout_ struct ks_tls *tls,
                                                           _Out_ struct ks_tls_info *info);

/*
 * ks_tls_shutdown - send close_notify (once): the peer's ks_tls_recv /
 * SSL_read returns end of stream. Sending is over after it (-EPIPE);
 * receiving goes on until the peer's close_notify. Returns 0, -EAGAIN
 * (non-blocking), or an error.
 */
_Must_inspect_result_
    _IRQL_requires_max_(PASSIVE_LEVEL) int ks_tls_shutdown(_Inout_ struct ks_tls *tls);

/*
 * ks_tls_close - end the session and close its descriptor; frees the
 * session. If the session is healthy and no other call is inside it, a
 * close_notify is sent first (bounded: at most 1 s, non-blocking). If a
 * call is running on another thread, the descriptor is closed at once
 * (that call returns -EBADF) and the session is freed when it leaves.
 * NULL: nothing. Returns 0, or the close_notify's error (the session is
 * freed and the descriptor closed anyway).
 */
_IRQL_requires_max_(PASSIVE_LEVEL) int ks_tls_close(_In_opt_ struct ks_tls *tls);

/* ks_tls_strerror - a constant text for a KS_ETLS_* value, or for any
 * other error as ks_strerror names it (negated or not). IRQL: any. */
_IRQL_requires_max_(HIGH_LEVEL) _Ret_z_ const char *ks_tls_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* WSKSOCK_TLS_H */
