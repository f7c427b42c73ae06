/*
 * ks_tls_session.c - TLS sessions over a wsksock descriptor (wsksock/tls.h).
 *
 * One BearSSL engine per session, driven by pump(): encrypted records go
 * out with ks_send and come in with ks_recv on the session's descriptor,
 * with the caller's MSG_DONTWAIT (a non-blocking descriptor gives -EAGAIN
 * by itself). The engine's CPU work (handshake signatures, key exchange)
 * runs inside the socket loop, so the whole pump runs on a stack with
 * KS_TLS_STACK bytes free (ks__tls_on_big_stack).
 *
 * Concurrency rule: one call at a time (busy, taken with a compare-exchange;
 * a second caller gets -EBUSY), so the engine is only touched by the thread
 * holding busy. refs: 1 for the owner + 1 for the call inside; the session
 * is freed by whoever drops refs to 0. ks_tls_close takes busy if it can
 * (then it sends close_notify itself); if a call is inside, it closes the
 * descriptor under it (its socket call returns -EBADF; descriptors are never
 * reused in practice: wsksock.h) and leaves the free to that call's leave().
 */
#include "ks_tls.h"

#include "../ks_kernel.h"
#include "../ks_time.h"

/* Our own x509 error code: the end certificate matched no pin (BearSSL's
 * codes: 0-31 SSL, 32-63 X.509, 256+ alerts). */
#define KS_TLS_BR_ERR_PIN 100

enum ks_tls_state {
    KS_TLS_HANDSHAKE, /* the handshake has not completed */
    KS_TLS_OPEN,      /* application data flows */
    KS_TLS_FAILED,    /* error holds why; only ks_tls_close is left */
};

/* Wraps the X.509 validator: forwards everything and hashes the end
 * certificate (the first of the chain) for the pins. */
struct pin_x509 {
    const br_x509_class *vtable; /* first: BearSSL passes &vtable */
    br_x509_minimal_context *inner;
    const struct ks_tls_config *cfg;
    br_sha256_context sha;
    unsigned cert_index;
};

struct ks_tls {
    int fd;
    int role;
    struct ks_tls_config *cfg;
    volatile LONG refs;
    volatile LONG busy;
    volatile LONG closing;
    enum ks_tls_state state;
    int error;     /* why the session failed (state KS_TLS_FAILED) */
    short want;    /* POLLIN/POLLOUT of the last -EAGAIN */
    BOOLEAN shut;  /* our close_notify was queued (ks_tls_shutdown) */
    BOOLEAN ended; /* the engine closed cleanly (the peer's close_notify) */
    BOOLEAN heard; /* the peer's first bytes were checked (looks_like_tls) */
    union {
        br_ssl_client_context client;
        br_ssl_server_context server;
    } u;
    br_x509_minimal_context x509;
    struct pin_x509 pin;
    unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

static br_ssl_engine_context *engine(struct ks_tls *t)
{
    return t->role == KS_TLS_CLIENT ? &t->u.client.eng : &t->u.server.eng;
}

/* ---- pins ---- */

static struct pin_x509 *pin_of(const br_x509_class **ctx)
{
    return CONTAINING_RECORD(ctx, struct pin_x509, vtable);
}

static void pin_start_chain(const br_x509_class **ctx, const char *server_name)
{
    struct pin_x509 *p = pin_of(ctx);
    p->cert_index = 0;
    p->inner->vtable->start_chain(&p->inner->vtable, server_name);
}

static void pin_start_cert(const br_x509_class **ctx, uint32_t length)
{
    struct pin_x509 *p = pin_of(ctx);
    if (p->cert_index == 0)
        br_sha256_init(&p->sha);
    p->inner->vtable->start_cert(&p->inner->vtable, length);
}

static void pin_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
    struct pin_x509 *p = pin_of(ctx);
    if (p->cert_index == 0)
        br_sha256_update(&p->sha, buf, len);
    p->inner->vtable->append(&p->inner->vtable, buf, len);
}

static void pin_end_cert(const br_x509_class **ctx)
{
    struct pin_x509 *p = pin_of(ctx);
    p->cert_index++;
    p->inner->vtable->end_cert(&p->inner->vtable);
}

static unsigned pin_end_chain(const br_x509_class **ctx)
{
    struct pin_x509 *p = pin_of(ctx);
    unsigned err = p->inner->vtable->end_chain(&p->inner->vtable);
    if (err != 0)
        return err;
    unsigned char hash[32];
    br_sha256_out(&p->sha, hash);
    for (size_t i = 0; i < p->cfg->pin_count; i++) {
        if (RtlCompareMemory(hash, p->cfg->pins[i], 32) == 32)
            return 0;
    }
    return KS_TLS_BR_ERR_PIN;
}

static const br_x509_pkey *pin_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
    const struct pin_x509 *p = CONTAINING_RECORD(ctx, struct pin_x509, vtable);
    return p->inner->vtable->get_pkey((const br_x509_class *const *)&p->inner->vtable, usages);
}

static const br_x509_class pin_class = {
    sizeof(struct pin_x509), pin_start_chain, pin_start_cert, pin_append, pin_end_cert,
    pin_end_chain,           pin_get_pkey,
};

/* ---- errors ---- */

static int map_br_error(int br)
{
    switch (br) {
    case BR_ERR_X509_EXPIRED:
        return -KS_ETLS_EXPIRED;
    case BR_ERR_X509_BAD_SERVER_NAME:
        return -KS_ETLS_NAME;
    case BR_ERR_X509_NOT_TRUSTED:
        return -KS_ETLS_UNTRUSTED;
    case KS_TLS_BR_ERR_PIN:
        return -KS_ETLS_PIN;
    case BR_ERR_BAD_VERSION:
    case BR_ERR_UNSUPPORTED_VERSION:
    case BR_ERR_BAD_CIPHER_SUITE:
    case BR_ERR_NO_CLIENT_AUTH:
        return -KS_ETLS_NEGOTIATION;
    case BR_ERR_NO_RANDOM:
        return -EIO;
    default:
        break;
    }
    if (br >= BR_ERR_RECV_FATAL_ALERT && br < BR_ERR_SEND_FATAL_ALERT)
        return -KS_ETLS_ALERT;
    if (br >= 32 && br < 64)
        return -KS_ETLS_BADCERT;
    return -KS_ETLS_PROTOCOL;
}

/* Marks the session failed with err (the first error stays). */
static int fail(struct ks_tls *t, int err)
{
    if (t->state != KS_TLS_FAILED) {
        t->state = KS_TLS_FAILED;
        t->error = err; /* the engine is not used again (pump checks state) */
    }
    return t->error;
}

/* The result of a closed engine: 1 for a clean close (close_notify), or the
 * error. */
static int closed_result(struct ks_tls *t)
{
    if (t->state == KS_TLS_FAILED)
        return t->error;
    int br = br_ssl_engine_last_error(engine(t));
    if (br == BR_ERR_OK) {
        t->ended = TRUE;
        return 1;
    }
    return fail(t, map_br_error(br));
}

/* ---- the pump ---- */

/* The start of a TLS record: a content type (change_cipher_spec, alert,
 * handshake, application_data) and major version 3 (SSL 3.0 to TLS 1.3). */
static BOOLEAN looks_like_tls(const unsigned char *p, size_t n)
{
    return p[0] >= 20 && p[0] <= 23 && (n < 2 || p[1] == 3);
}

struct pump_args {
    struct ks_tls *t;
    unsigned until; /* BR_SSL_* states that end the pump */
    int flags;      /* 0 or MSG_DONTWAIT, for the socket calls */
};

/* Moves records between the engine and the socket until the engine is in
 * one of the states of `until`. Returns 0, 1 (the engine closed cleanly),
 * -EAGAIN (t->want says for what), -ETIMEDOUT (a receive timed out; the
 * session is intact), or an error (the session failed). */
static int pump_run(void *ctx)
{
    struct pump_args *a = ctx;
    struct ks_tls *t = a->t;
    br_ssl_engine_context *eng = engine(t);
    if (t->state == KS_TLS_FAILED)
        return t->error;
    for (;;) {
        if (t->closing)
            return fail(t, -EBADF);
        unsigned st = br_ssl_engine_current_state(eng);
        if ((st & BR_SSL_CLOSED) != 0)
            return closed_result(t);
        size_t len;
        if ((st & BR_SSL_SENDREC) != 0) {
            unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &len);
            ks_ssize_t n = ks_send(t->fd, buf, len, a->flags);
            if (n == -EAGAIN) {
                t->want = POLLOUT;
                return -EAGAIN;
            }
            if (n <= 0)
                return fail(t, n == 0 ? -EIO : (int)n);
            br_ssl_engine_sendrec_ack(eng, (size_t)n);
            continue;
        }
        if ((st & a->until) != 0)
            return 0;
        if ((st & BR_SSL_RECVREC) != 0) {
            unsigned char *buf = br_ssl_engine_recvrec_buf(eng, &len);
            ks_ssize_t n = ks_recv(t->fd, buf, len, a->flags);
            if (n == -EAGAIN) {
                t->want = POLLIN;
                return -EAGAIN;
            }
            if (n == -ETIMEDOUT)
                return -ETIMEDOUT; /* nothing was consumed: the session holds */
            if (n == 0)
                return fail(t, -KS_ETLS_TRUNCATED);
            if (n < 0)
                return fail(t, (int)n);
            if (!t->heard) {
                /* A peer that is not TLS at all (BearSSL would call its
                 * bytes an unsupported version, like an old TLS peer's). */
                t->heard = TRUE;
                if (!looks_like_tls(buf, (size_t)n))
                    return fail(t, -KS_ETLS_PROTOCOL);
            }
            br_ssl_engine_recvrec_ack(eng, (size_t)n);
            continue;
        }
        /* Neither direction can move and the wanted state is not there:
         * cannot happen with renegotiation off; never spin. */
        return fail(t, -KS_ETLS_PROTOCOL);
    }
}

static int pump(struct ks_tls *t, unsigned until, int flags)
{
    struct pump_args a = {t, until, flags};
    return ks__tls_on_big_stack(pump_run, &a);
}

/* Completes the handshake if it is not done: 0, -EAGAIN or an error. */
static int handshake(struct ks_tls *t, int flags)
{
    if (t->state == KS_TLS_OPEN)
        return 0;
    if (t->state == KS_TLS_FAILED)
        return t->error;
    int r = pump(t, BR_SSL_SENDAPP | BR_SSL_RECVAPP, flags);
    if (r == 1)
        return fail(t, -KS_ETLS_TRUNCATED); /* closed before it was done */
    if (r == -ETIMEDOUT)
        return fail(t, r); /* a handshake does not resume after a timeout */
    if (r == 0)
        t->state = KS_TLS_OPEN;
    return r;
}

/* ---- entry and exit of calls ---- */

static void destroy(struct ks_tls *t)
{
    InterlockedDecrement(&t->cfg->sessions);
    RtlSecureZeroMemory(t, sizeof(*t));
    ks__tls_free(t);
}

static void put(struct ks_tls *t)
{
    if (InterlockedDecrement(&t->refs) == 0)
        destroy(t);
}

static int enter(struct ks_tls *t)
{
    if (t == NULL)
        return -EFAULT;
    if (!ks__can_block())
        return -EPERM;
    InterlockedIncrement(&t->refs);
    if (InterlockedCompareExchange(&t->busy, 1, 0) != 0) {
        put(t);
        return -EBUSY;
    }
    if (t->closing) {
        InterlockedExchange(&t->busy, 0);
        put(t);
        return -EBADF;
    }
    return 0;
}

static void leave(struct ks_tls *t)
{
    InterlockedExchange(&t->busy, 0);
    put(t);
}

/* ---- sessions ---- */

/* Cipher suites, best first: ChaCha20 first because this build uses
 * BearSSL's portable constant-time code (no AES-NI: nothing here touches
 * SIMD registers), where ChaCha20-Poly1305 is the fastest. The server
 * takes the first KS_TLS_ECDHE_SUITES (forward secrecy only); the client
 * also offers the static-RSA suites after them, for old servers. */
static const uint16_t suites[] = {
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384,
    BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
    BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
    BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
    /* static RSA: client only */
    BR_TLS_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_RSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_RSA_WITH_AES_128_CBC_SHA256,
    BR_TLS_RSA_WITH_AES_128_CBC_SHA,
};
#define KS_TLS_ECDHE_SUITES 14

static size_t name_length(const char *s, size_t max)
{
    size_t n = 0;
    while (n <= max && s[n] != '\0')
        n++;
    return n;
}

/* Sets up t's engine for its role; 0 or an error. */
static int engine_setup(struct ks_tls *t, const char *server_name)
{
    struct ks_tls_config *cfg = t->cfg;
    br_ssl_engine_context *eng;
    if (t->role == KS_TLS_CLIENT) {
        br_ssl_client_init_full(&t->u.client, &t->x509, cfg->anchors, cfg->anchor_count);
        eng = &t->u.client.eng;
        uint32_t days, seconds;
        ks__tls_now(&days, &seconds);
        br_x509_minimal_set_time(&t->x509, days, seconds);
        if (cfg->pin_count > 0) {
            t->pin.vtable = &pin_class;
            t->pin.inner = &t->x509;
            t->pin.cfg = cfg;
            br_ssl_engine_set_x509(eng, &t->pin.vtable);
        }
        br_ssl_engine_set_suites(eng, suites, ARRAYSIZE(suites));
    } else if (cfg->key_type == BR_KEYTYPE_RSA) {
        br_ssl_server_init_full_rsa(&t->u.server, cfg->chain, cfg->chain_len, &cfg->rsa);
        eng = &t->u.server.eng;
    } else {
        br_ssl_server_init_full_ec(&t->u.server, cfg->chain, cfg->chain_len, BR_KEYTYPE_EC,
                                   &cfg->ec);
        eng = &t->u.server.eng;
    }
    if (t->role == KS_TLS_SERVER) {
        br_ssl_engine_set_suites(eng, suites, KS_TLS_ECDHE_SUITES);
        br_ssl_engine_add_flags(eng, BR_OPT_ENFORCE_SERVER_PREFERENCES);
    }
    br_ssl_engine_add_flags(eng, BR_OPT_NO_RENEGOTIATION);
    br_ssl_engine_set_versions(eng, (cfg->flags & KS_TLS_ALLOW_TLS10) ? BR_TLS10 : BR_TLS12,
                               BR_TLS12);
    br_ssl_engine_set_buffer(eng, t->iobuf, sizeof(t->iobuf), 1);
    unsigned char seed[32];
    int err = ks__tls_random(seed, sizeof(seed));
    if (err != 0)
        return err;
    br_ssl_engine_inject_entropy(eng, seed, sizeof(seed));
    RtlSecureZeroMemory(seed, sizeof(seed));
    int ok = t->role == KS_TLS_CLIENT ? br_ssl_client_reset(&t->u.client, server_name, 0)
                                      : br_ssl_server_reset(&t->u.server);
    return ok ? 0 : map_br_error(br_ssl_engine_last_error(eng));
}

static int session_start(int fd, struct ks_tls_config *cfg, int role, const char *server_name,
                         struct ks_tls **out)
{
    if (out == NULL)
        return -EFAULT;
    *out = NULL;
    if (cfg == NULL || (role == KS_TLS_CLIENT && server_name == NULL))
        return -EFAULT;
    if (!ks__can_block())
        return -EPERM;
    if (cfg->role != role)
        return -EINVAL;
    if (role == KS_TLS_CLIENT) {
        size_t n = name_length(server_name, 255);
        if (n == 0 || n > 255 || cfg->anchor_count == 0)
            return -EINVAL;
    } else if (cfg->key_type == 0) {
        return -EINVAL;
    }
    /* The descriptor: a connected stream (its errors as ks_getpeername's). */
    struct sockaddr_storage peer;
    int peer_len = (int)sizeof(peer);
    int err = ks_getpeername(fd, (struct sockaddr *)&peer, &peer_len);
    if (err != 0)
        return err;
    struct ks_tls *t = ks__tls_alloc(sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    t->fd = fd;
    t->role = role;
    t->cfg = cfg;
    t->refs = 1;
    t->state = KS_TLS_HANDSHAKE;
    InterlockedIncrement(&cfg->sessions);
    err = engine_setup(t, server_name);
    if (err == 0) {
        InterlockedExchange(&t->busy, 1);
        err = handshake(t, 0);
        InterlockedExchange(&t->busy, 0);
    }
    if (err == -EAGAIN) {
        *out = t;
        return -EINPROGRESS;
    }
    if (err != 0) {
        destroy(t);
        return err;
    }
    *out = t;
    return 0;
}

int ks_tls_client(int fd, struct ks_tls_config *cfg, const char *server_name, struct ks_tls **out)
{
    return session_start(fd, cfg, KS_TLS_CLIENT, server_name, out);
}

int ks_tls_server(int fd, struct ks_tls_config *cfg, struct ks_tls **out)
{
    return session_start(fd, cfg, KS_TLS_SERVER, NULL, out);
}

int ks_tls_handshake(struct ks_tls *tls)
{
    int err = enter(tls);
    if (err != 0)
        return err;
    err = handshake(tls, 0);
    /* Once open, also push out what a non-blocking send left queued. */
    if (err == 0) {
        err = pump(tls, BR_SSL_SENDAPP | BR_SSL_RECVAPP, 0);
        err = err == 1 ? 0 : err;
    }
    leave(tls);
    return err;
}

ks_ssize_t ks_tls_send(struct ks_tls *tls, const void *buf, size_t len, int flags)
{
    int err = enter(tls);
    if (err != 0)
        return err;
    const unsigned char *p = buf;
    ks_ssize_t result;
    size_t sent = 0;
    int sflags = flags & MSG_DONTWAIT;
    if ((flags & ~MSG_DONTWAIT) != 0 || len > 0x7FFFFFFF) {
        result = -EINVAL;
    } else if (buf == NULL && len > 0) {
        result = -EFAULT;
    } else if ((err = handshake(tls, sflags)) != 0) {
        result = err;
    } else if (tls->shut || tls->ended) {
        result = -EPIPE;
    } else {
        br_ssl_engine_context *eng = engine(tls);
        err = 0;
        while (sent < len) {
            size_t room;
            unsigned char *dst = br_ssl_engine_sendapp_buf(eng, &room);
            if (dst == NULL) {
                err = pump(tls, BR_SSL_SENDAPP, sflags);
                if (err == 1)
                    err = -EPIPE;
                if (err != 0)
                    break;
                continue;
            }
            size_t n = len - sent < room ? len - sent : room;
            RtlCopyMemory(dst, p + sent, n);
            br_ssl_engine_sendapp_ack(eng, n);
            sent += n;
        }
        if (err == 0) {
            br_ssl_engine_flush(eng, 0);
            err = pump(tls, BR_SSL_SENDAPP, sflags);
            err = err == 1 ? -EPIPE : err;
        }
        /* Non-blocking: bytes taken are sent (they may still sit in the
         * session: ks_tls_want says POLLOUT). Blocking: all or the error. */
        if (err == -EAGAIN && sent > 0)
            err = 0;
        else if (err == -ETIMEDOUT)
            err = fail(tls, err); /* a record may be half sent */
        result = err != 0 ? err : (ks_ssize_t)sent;
    }
    leave(tls);
    return result;
}

ks_ssize_t ks_tls_recv(struct ks_tls *tls, void *buf, size_t len, int flags)
{
    int err = enter(tls);
    if (err != 0)
        return err;
    unsigned char *p = buf;
    ks_ssize_t result;
    size_t got = 0;
    int sflags = flags & MSG_DONTWAIT;
    if ((flags & ~(MSG_DONTWAIT | MSG_WAITALL)) != 0 || len > 0x7FFFFFFF) {
        result = -EINVAL;
    } else if (buf == NULL && len > 0) {
        result = -EFAULT;
    } else if ((err = handshake(tls, sflags)) != 0) {
        result = err;
    } else {
        br_ssl_engine_context *eng = engine(tls);
        err = 0;
        while (got < len) {
            size_t avail;
            unsigned char *src = br_ssl_engine_recvapp_buf(eng, &avail);
            if (src != NULL) {
                size_t n = len - got < avail ? len - got : avail;
                RtlCopyMemory(p + got, src, n);
                br_ssl_engine_recvapp_ack(eng, n);
                got += n;
                if ((flags & MSG_WAITALL) == 0)
                    break;
                continue;
            }
            err = pump(tls, BR_SSL_RECVAPP, sflags);
            if (err != 0)
                break;
        }
        if (got > 0)
            result = (ks_ssize_t)got;
        else if (err == 1 || len == 0)
            result = 0; /* end of stream (close_notify) */
        else
            result = err;
    }
    leave(tls);
    return result;
}

short ks_tls_want(const struct ks_tls *tls)
{
    if (tls == NULL)
        return 0;
    unsigned st = br_ssl_engine_current_state(tls->role == KS_TLS_CLIENT ? &tls->u.client.eng
                                                                         : &tls->u.server.eng);
    short want = tls->want;
    if ((st & BR_SSL_SENDREC) != 0)
        want |= POLLOUT;
    return want;
}

size_t ks_tls_pending(const struct ks_tls *tls)
{
    if (tls == NULL || tls->state != KS_TLS_OPEN)
        return 0;
    size_t len = 0;
    /* recvapp_buf only reads the engine's state. */
    (void)br_ssl_engine_recvapp_buf(
        tls->role == KS_TLS_CLIENT ? &tls->u.client.eng : &tls->u.server.eng, &len);
    return len;
}

int ks_tls_fd(const struct ks_tls *tls)
{
    return tls == NULL ? -EFAULT : tls->fd;
}

static const char *suite_name(unsigned suite)
{
    switch (suite) {
    case BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:
        return "ECDHE-ECDSA-CHACHA20-POLY1305";
    case BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
        return "ECDHE-RSA-CHACHA20-POLY1305";
    case BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:
        return "ECDHE-ECDSA-AES128-GCM-SHA256";
    case BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:
        return "ECDHE-RSA-AES128-GCM-SHA256";
    case BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:
        return "ECDHE-ECDSA-AES256-GCM-SHA384";
    case BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
        return "ECDHE-RSA-AES256-GCM-SHA384";
    case BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256:
        return "ECDHE-ECDSA-AES128-SHA256";
    case BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256:
        return "ECDHE-RSA-AES128-SHA256";
    case BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384:
        return "ECDHE-ECDSA-AES256-SHA384";
    case BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384:
        return "ECDHE-RSA-AES256-SHA384";
    case BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA:
        return "ECDHE-ECDSA-AES128-SHA";
    case BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA:
        return "ECDHE-RSA-AES128-SHA";
    case BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA:
        return "ECDHE-ECDSA-AES256-SHA";
    case BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA:
        return "ECDHE-RSA-AES256-SHA";
    case BR_TLS_RSA_WITH_AES_128_GCM_SHA256:
        return "AES128-GCM-SHA256";
    case BR_TLS_RSA_WITH_AES_256_GCM_SHA384:
        return "AES256-GCM-SHA384";
    case BR_TLS_RSA_WITH_AES_128_CBC_SHA256:
        return "AES128-SHA256";
    case BR_TLS_RSA_WITH_AES_128_CBC_SHA:
        return "AES128-SHA";
    default:
        return "?";
    }
}

int ks_tls_get_info(struct ks_tls *tls, struct ks_tls_info *info)
{
    if (info == NULL)
        return -EFAULT;
    int err = enter(tls);
    if (err != 0)
        return err;
    if (tls->state != KS_TLS_OPEN) {
        err = tls->state == KS_TLS_FAILED ? tls->error : -EAGAIN;
    } else {
        br_ssl_engine_context *eng = engine(tls);
        RtlZeroMemory(info, sizeof(*info));
        info->version = br_ssl_engine_get_version(eng);
        info->cipher_suite = eng->session.cipher_suite;
        info->cipher = suite_name(info->cipher_suite);
        const char *name = br_ssl_engine_get_server_name(eng);
        for (size_t i = 0; name != NULL && name[i] != '\0' && i + 1 < sizeof(info->server_name);
             i++)
            info->server_name[i] = name[i];
    }
    leave(tls);
    return err;
}

int ks_tls_shutdown(struct ks_tls *tls)
{
    int err = enter(tls);
    if (err != 0)
        return err;
    err = handshake(tls, 0);
    if (err == 0 && !tls->shut && !tls->ended) {
        tls->shut = TRUE;
        br_ssl_engine_close(engine(tls));
    }
    if (err == 0 && !tls->ended) {
        /* Push the close_notify out; do not wait for the peer's. */
        err = pump(tls, BR_SSL_RECVREC | BR_SSL_RECVAPP, 0);
        err = err == 1 ? 0 : err;
    }
    leave(tls);
    return err;
}

/* Sends what the engine has queued (our close_notify) without blocking,
 * waiting at most 1 s in all for the socket to take it. */
static void send_close_notify(struct ks_tls *t)
{
    br_ssl_engine_context *eng = engine(t);
    if (!t->shut && !t->ended)
        br_ssl_engine_close(eng);
    LONGLONG until = ks__now_ms() + 1000;
    for (;;) {
        size_t len;
        unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &len);
        if (buf == NULL || len == 0)
            return;
        ks_ssize_t n = ks_send(t->fd, buf, len, MSG_DONTWAIT);
        if (n > 0) {
            br_ssl_engine_sendrec_ack(eng, (size_t)n);
            continue;
        }
        LONGLONG left = until - ks__now_ms();
        if (n != -EAGAIN || left <= 0)
            return;
        struct ks_pollfd pfd = {t->fd, POLLOUT, 0};
        if (ks_poll(&pfd, 1, (int)left) <= 0)
            return;
    }
}

int ks_tls_close(struct ks_tls *tls)
{
    if (tls == NULL)
        return 0;
    if (!ks__can_block())
        return -EPERM;
    InterlockedExchange(&tls->closing, 1);
    if (InterlockedCompareExchange(&tls->busy, 1, 0) == 0) {
        if (tls->state == KS_TLS_OPEN)
            send_close_notify(tls);
        (void)ks_close(tls->fd);
        put(tls); /* busy stays taken: nobody may enter a closing session */
        return 0;
    }
    /* A call is inside: end its socket under it; it frees the session. */
    (void)ks_close(tls->fd);
    put(tls);
    return 0;
}

const char *ks_tls_strerror(int err)
{
    switch (err < 0 ? -err : err) {
    case KS_ETLS_UNTRUSTED:
        return "TLS: certificate chain not trusted (no trust anchor, or self-signed)";
    case KS_ETLS_EXPIRED:
        return "TLS: certificate expired or not yet valid";
    case KS_ETLS_NAME:
        return "TLS: certificate is not for this server name";
    case KS_ETLS_PIN:
        return "TLS: certificate matches no pin";
    case KS_ETLS_BADCERT:
        return "TLS: peer certificate or key unusable";
    case KS_ETLS_PROTOCOL:
        return "TLS: protocol error (the peer did not speak valid TLS)";
    case KS_ETLS_TRUNCATED:
        return "TLS: connection ended without close_notify";
    case KS_ETLS_ALERT:
        return "TLS: the peer sent a fatal alert";
    case KS_ETLS_NEGOTIATION:
        return "TLS: no common protocol version or cipher suite";
    case KS_ETLS_DECODE:
        return "TLS: certificate or key data cannot be decoded";
    default:
        return ks_strerror(err);
    }
}
