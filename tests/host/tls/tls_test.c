/*
 * tls_test.c - wsksock/tls.h on the host bed, in process: a library TLS
 * server thread and a library TLS client over loopback, with certificates
 * made at run time by tests/tls/tlspeer.py (openssl-compatible PEM files;
 * read through the shim's ZwCreateFile as "\??\Z:\<path>", as under Wine).
 *
 * Covered: configuration decoding and its errors (anchors, chains and
 * keys from buffers, files and registry values), handshakes with RSA and
 * EC keys (one and two-certificate chains), data both ways with MSG_WAITALL,
 * close_notify as end of stream, every refusal the client must make
 * (expired, not yet valid, wrong host, untrusted chain, self-signed, pin
 * mismatch, a non-TLS peer, a peer that drops the handshake or the
 * connection mid-stream), non-blocking sessions driven by ks_poll and
 * ks_tls_want, SO_RCVTIMEO, -EBUSY for a second concurrent call, and
 * ks_tls_close from another thread while a receive waits. Each test ends
 * with the harness's leak check (pool, threads, handles, sockets).
 */
#define _GNU_SOURCE
#include "../lib/ht.h"

#include <wsksock/tls.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TLSPEER /* CMake passes the absolute path */
#define TLSPEER "tests/tls/tlspeer.py"
#endif

/* ---- certificates ---- */

static char cert_dir[256];
static int keep_certs; /* cert_dir is the caller's (TLS_TEST_CERTS) */

/* Makes the certificates once per process (tlspeer.py certs). */
static int certs(void)
{
    if (cert_dir[0] != '\0')
        return 1;
    const char *given = getenv("TLS_TEST_CERTS"); /* made once by the caller (make faults) */
    if (given != NULL && given[0] != '\0') {
        snprintf(cert_dir, sizeof(cert_dir), "%s", given);
        keep_certs = 1;
        return 1;
    }
    char tmpl[] = "/tmp/wsksock-tls-XXXXXX";
    if (mkdtemp(tmpl) == NULL)
        return 0;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "python3 %s certs --out %s >/dev/null", TLSPEER, tmpl);
    if (system(cmd) != 0)
        return 0;
    snprintf(cert_dir, sizeof(cert_dir), "%s", tmpl);
    return 1;
}

/* certs(), a failed check when they could not be made. */
static int have_certs(void)
{
    int ok = certs();
    HT_CHECK(ok, "certificates (tlspeer.py certs)", 0);
    return ok;
}

static void remove_certs(void)
{
    if (cert_dir[0] != '\0' && !keep_certs) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", cert_dir);
        if (system(cmd) != 0)
            printf("tls_test: could not remove %s\n", cert_dir);
    }
}

/* "\??\Z:<dir>/<name>" with backslashes, as a driver names a file. */
static const char *kpath(const char *name)
{
    static char buf[2][512];
    static int which;
    char *p = buf[which ^= 1];
    snprintf(p, sizeof(buf[0]), "\\??\\Z:%s/%s", cert_dir, name);
    for (char *c = p + 6; *c != '\0'; c++)
        if (*c == '/')
            *c = '\\';
    return p;
}

/* A whole file into memory (malloc); NULL on failure. */
static unsigned char *slurp(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", cert_dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    unsigned char *buf = malloc(1 << 20);
    *len = buf == NULL ? 0 : fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

/* Set by the fault scenario: the helpers below then check nothing (a
 * fault may fail any step). */
static int tolerant;
#define SETUP_EQ(got, want, what)                                                                  \
    do {                                                                                           \
        long long setup_g_ = (long long)(got);                                                     \
        if (!tolerant)                                                                             \
            HT_EQ(setup_g_, (want), (what));                                                       \
    } while (0)

static struct ks_tls_config *client_config(const char *anchors)
{
    struct ks_tls_config *cfg = NULL;
    HT_EQ(ks_tls_config_new(KS_TLS_CLIENT, 0, &cfg), 0, "client config");
    if (cfg != NULL)
        HT_CHECK(ks_tls_config_add_trust_file(cfg, kpath(anchors)) > 0, "anchors", 0);
    return cfg;
}

static struct ks_tls_config *server_config(const char *chain, const char *key)
{
    struct ks_tls_config *cfg = NULL;
    SETUP_EQ(ks_tls_config_new(KS_TLS_SERVER, 0, &cfg), 0, "server config");
    if (cfg != NULL)
        SETUP_EQ(ks_tls_config_set_cert_file(cfg, kpath(chain), kpath(key)), 0, "server cert");
    return cfg;
}

/* ---- an in-process TLS server ---- */

enum srv_mode {
    SRV_ECHO,      /* handshake, echo until close_notify, close */
    SRV_GARBAGE,   /* plain TCP: send non-TLS bytes */
    SRV_HANGUP,    /* plain TCP: read the ClientHello, close */
    SRV_ABORT,     /* handshake, send 100 bytes, close the socket (no close_notify) */
    SRV_SILENT_TLS /* handshake, then wait for the client to close */
};

struct srv {
    int listener, port;
    enum srv_mode mode;
    struct ks_tls_config *cfg;
    int handshake; /* the server's ks_tls_server result */
    long long echoed;
    ht_thread *thread;
};

static void srv_main(void *arg)
{
    struct srv *s = arg;
    int fd = ks_accept(s->listener, NULL, NULL);
    if (fd < 0) {
        s->handshake = fd;
        return;
    }
    unsigned char *buf = malloc(65536);
    if (s->mode == SRV_GARBAGE || s->mode == SRV_HANGUP) {
        ks_ssize_t n = ks_recv(fd, buf, 65536, 0);
        if (s->mode == SRV_GARBAGE && n > 0) {
            memset(buf, 'G', 4096);
            (void)ks_send(fd, buf, 4096, 0);
            (void)ks_recv(fd, buf, 65536, 0); /* until the client gives up */
        }
        ks_close(fd);
        free(buf);
        return;
    }
    struct ks_tls *t = NULL;
    s->handshake = ks_tls_server(fd, s->cfg, &t);
    if (s->handshake != 0) {
        ks_close(fd);
        free(buf);
        return;
    }
    if (s->mode == SRV_ABORT) {
        memset(buf, 'a', 100);
        (void)ks_tls_send(t, buf, 100, 0);
        ks_close(fd); /* under the session: no close_notify */
        (void)ks_tls_close(t);
    } else if (s->mode == SRV_SILENT_TLS) {
        (void)ks_tls_recv(t, buf, 1, 0);
        (void)ks_tls_close(t);
    } else {
        for (;;) {
            ks_ssize_t n = ks_tls_recv(t, buf, 65536, 0);
            if (n <= 0)
                break;
            if (ks_tls_send(t, buf, (size_t)n, 0) != n)
                break;
            s->echoed += n;
        }
        (void)ks_tls_close(t);
    }
    free(buf);
}

/* Starts the server thread with cfg (owned by the server from here on). */
static int srv_start_cfg(struct srv *s, enum srv_mode mode, struct ks_tls_config *cfg)
{
    memset(s, 0, sizeof(*s));
    s->mode = mode;
    s->handshake = 1;
    s->cfg = cfg;
    s->listener = ht_ks_listen(0, &s->port);
    SETUP_EQ(s->listener > 0, 1, "listener");
    if (s->listener <= 0) {
        (void)ks_tls_config_free(s->cfg);
        return 0;
    }
    s->thread = ht_spawn(srv_main, s);
    return 1;
}

static int srv_start(struct srv *s, enum srv_mode mode, const char *chain, const char *key)
{
    return srv_start_cfg(s, mode, chain != NULL ? server_config(chain, key) : NULL);
}

static void srv_stop(struct srv *s)
{
    ks_close(s->listener); /* wakes an accept still waiting */
    HT_EQ(ht_join(s->thread, 30000), 1, "server thread ended");
    if (s->cfg != NULL)
        SETUP_EQ(ks_tls_config_free(s->cfg), 0, "server config freed");
}

/* A client session to the server; returns ks_tls_client's result. */
static int connect_tls(struct srv *s, struct ks_tls_config *cfg, const char *name,
                       struct ks_tls **out)
{
    int fd = ht_ks_connect(0, s->port);
    HT_CHECK(fd > 0, "connect", fd);
    if (fd <= 0)
        return fd;
    int r = ks_tls_client(fd, cfg, name, out);
    if (r != 0 && r != -EINPROGRESS)
        ks_close(fd); /* the session did not take it */
    return r;
}

/* ---- tests ---- */

static void t_config_errors(void)
{
    if (!have_certs())
        return;
    struct ks_tls_config *c = NULL, *s = NULL;
    HT_EQ(ks_tls_config_new(3, 0, &c), -EINVAL, "bad role");
    HT_EQ(ks_tls_config_new(KS_TLS_CLIENT, 0x80, &c), -EINVAL, "bad flags");
    HT_EQ(ks_tls_config_new(KS_TLS_CLIENT, 0, NULL), -EFAULT, "out NULL");
    HT_EQ(ks_tls_config_new(KS_TLS_CLIENT, 0, &c), 0, "client");
    HT_EQ(ks_tls_config_new(KS_TLS_SERVER, 0, &s), 0, "server");
    HT_EQ(ks_tls_config_add_trust(c, "hello", 5), -KS_ETLS_DECODE, "not a certificate");
    HT_EQ(ks_tls_config_add_trust(c, NULL, 5), -EFAULT, "data NULL");
    HT_EQ(ks_tls_config_add_trust(c, "x", 0), -KS_ETLS_DECODE, "empty");
    const char *pem_cut = "-----BEGIN CERTIFICATE-----\nMIIB\n";
    HT_EQ(ks_tls_config_add_trust(c, pem_cut, strlen(pem_cut)), -KS_ETLS_DECODE, "cut PEM");
    HT_EQ(ks_tls_config_add_trust(s, "x", 1), -EINVAL, "trust on a server config");
    HT_EQ(ks_tls_config_add_trust_file(c, kpath("nothere.pem")), -ENOENT, "no file");
    HT_EQ(ks_tls_config_add_trust_file(c, "relative.pem"), -EINVAL, "not a kernel path");
    HT_EQ(ks_tls_config_add_trust_file(c, kpath("server.key")), -KS_ETLS_DECODE, "a key file");
    size_t len = 0;
    unsigned char *der = slurp("ca.der", &len);
    HT_EQ(ks_tls_config_add_trust(c, der, len), 1, "one DER anchor");
    free(der);
    HT_EQ(ks_tls_config_add_trust_file(c, kpath("ca.pem")), 1, "one PEM anchor");
    /* A bundle: the chain file holds leaf + intermediate: two anchors. */
    HT_EQ(ks_tls_config_add_trust_file(c, kpath("server-ichain.pem")), 2, "two in a bundle");
    unsigned char pin[32] = {0};
    for (int i = 0; i < KS_TLS_MAX_PINS; i++)
        HT_EQ(ks_tls_config_add_pin(c, pin), 0, "pin");
    HT_EQ(ks_tls_config_add_pin(c, pin), -ENOSPC, "too many pins");
    HT_EQ(ks_tls_config_add_pin(s, pin), -EINVAL, "pin on a server config");
    HT_EQ(ks_tls_config_set_cert_file(c, kpath("server.pem"), kpath("server.key")), -EINVAL,
          "cert on a client config");
    HT_EQ(ks_tls_config_set_cert_file(s, kpath("server.pem"), kpath("ca.pem")), -KS_ETLS_DECODE,
          "no key in the key file");
    HT_EQ(ks_tls_config_set_cert_file(s, kpath("server.pem"), kpath("ec-server.key")),
          -KS_ETLS_DECODE, "an EC key for an RSA certificate");
    HT_EQ(ks_tls_config_set_cert_file(s, kpath("server.pem"), kpath("wronghost.key")),
          -KS_ETLS_DECODE, "another RSA key than the certificate's");
    HT_EQ(ks_tls_config_set_cert_file(s, kpath("ec-server.pem"), kpath("server.key")),
          -KS_ETLS_DECODE, "an RSA key for an EC certificate");
    size_t key_len = 0;
    unsigned char *key = slurp("server.key", &key_len);
    HT_EQ(ks_tls_config_set_cert(s, "\x30\x03junk", 6, key, key_len), -KS_ETLS_DECODE,
          "a chain that is no certificate");
    free(key);
    HT_EQ(ks_tls_config_set_cert_file(s, kpath("server.pem"), kpath("server-pkcs8.key")), 0,
          "PKCS#8 key");
    HT_EQ(ks_tls_config_set_cert_file(s, kpath("server.pem"), kpath("server.key")), -EINVAL,
          "set twice");
    HT_EQ(ks_tls_config_free(c), 0, "free client");
    HT_EQ(ks_tls_config_free(s), 0, "free server");
    HT_EQ(ks_tls_config_free(NULL), 0, "free NULL");
    HT_CHECK(strstr(ks_tls_strerror(-KS_ETLS_EXPIRED), "expired") != NULL, "strerror", 0);
    HT_CHECK(strstr(ks_tls_strerror(-ECONNRESET), "reset") != NULL, "strerror falls back", 0);
}

/* Handshake with chain/key, 1 MiB echoed with MSG_WAITALL, info, close. */
static void echo_with(const char *chain, const char *key, const char *want_cipher_part)
{
    if (!have_certs())
        return;
    struct srv s;
    if (!srv_start(&s, SRV_ECHO, chain, key))
        return;
    struct ks_tls_config *cfg = client_config("ca.pem");
    struct ks_tls *t = NULL;
    HT_EQ(connect_tls(&s, cfg, "localhost", &t), 0, "handshake");
    if (t != NULL) {
        struct ks_tls_info info;
        HT_EQ(ks_tls_get_info(t, &info), 0, "info");
        HT_EQ(info.version, 0x0303, "TLS 1.2");
        HT_CHECK(strstr(info.cipher, want_cipher_part) != NULL, info.cipher, info.cipher_suite);
        HT_CHECK(strcmp(info.server_name, "localhost") == 0, "server name", 0);
        HT_EQ(ks_tls_config_free(cfg), -EBUSY, "config in use");
        size_t n = 1 << 20;
        unsigned char *out = malloc(n), *in = malloc(n);
        ht_pattern(out, n, 7, 0);
        HT_EQ(ks_tls_send(t, out, n, 0), (long long)n, "send 1 MiB");
        HT_EQ(ks_tls_recv(t, in, n, MSG_WAITALL), (long long)n, "echo of 1 MiB");
        HT_CHECK(memcmp(in, out, n) == 0, "echoed bytes equal", 0);
        HT_EQ(ks_tls_send(t, out, 0, 0), 0, "send 0 bytes");
        HT_EQ(ks_tls_send(t, out, 1, MSG_PEEK), -EINVAL, "send flags");
        HT_EQ(ks_tls_shutdown(t), 0, "close_notify sent");
        HT_EQ(ks_tls_send(t, out, 1, 0), -EPIPE, "send after shutdown");
        HT_EQ(ks_tls_recv(t, in, 1, 0), 0, "the server's close_notify: end of stream");
        HT_EQ(ks_tls_recv(t, in, 1, 0), 0, "end of stream again");
        HT_EQ(ks_tls_close(t), 0, "close");
        free(out);
        free(in);
    }
    srv_stop(&s);
    HT_EQ(s.handshake, 0, "server handshake");
    HT_EQ(s.echoed, 1 << 20, "server echoed 1 MiB");
    HT_EQ(ks_tls_config_free(cfg), 0, "client config freed");
}

static void t_echo_rsa(void)
{
    echo_with("server.pem", "server.key", "ECDHE-RSA-CHACHA20");
}

static void t_echo_ec(void)
{
    echo_with("ec-server.pem", "ec-server.key", "ECDHE-ECDSA-CHACHA20");
}

static void t_echo_chain(void)
{
    echo_with("server-ichain.pem", "server-ichain.key", "ECDHE-RSA");
}

/* The client must refuse the server's certificate with want. */
static void refuse(const char *chain, const char *key, const char *anchors, const char *name,
                   const unsigned char *pin, int want)
{
    if (!have_certs())
        return;
    struct srv s;
    if (!srv_start(&s, SRV_ECHO, chain, key))
        return;
    struct ks_tls_config *cfg = client_config(anchors);
    if (pin != NULL)
        HT_EQ(ks_tls_config_add_pin(cfg, pin), 0, "pin");
    struct ks_tls *t = NULL;
    int r = connect_tls(&s, cfg, name, &t);
    char what[128];
    snprintf(what, sizeof(what), "%s for %s: %s", chain, name, ks_tls_strerror(r));
    HT_EQ(r, want, what);
    HT_CHECK(want != 0 || t != NULL, "session", 0);
    if (t != NULL)
        ks_tls_close(t);
    srv_stop(&s);
    if (want != 0)
        HT_CHECK(s.handshake != 0, "the server saw the handshake fail", s.handshake);
    HT_EQ(ks_tls_config_free(cfg), 0, "client config freed");
}

static void t_refuse_expired(void)
{
    refuse("expired.pem", "expired.key", "ca.pem", "localhost", NULL, -KS_ETLS_EXPIRED);
    refuse("notyet.pem", "notyet.key", "ca.pem", "localhost", NULL, -KS_ETLS_EXPIRED);
}

static void t_refuse_name(void)
{
    refuse("wronghost.pem", "wronghost.key", "ca.pem", "localhost", NULL, -KS_ETLS_NAME);
    refuse("server.pem", "server.key", "ca.pem", "example.com", NULL, -KS_ETLS_NAME);
}

static void t_refuse_untrusted(void)
{
    refuse("untrusted.pem", "untrusted.key", "ca.pem", "localhost", NULL, -KS_ETLS_UNTRUSTED);
    refuse("selfsigned.pem", "selfsigned.key", "ca.pem", "localhost", NULL, -KS_ETLS_UNTRUSTED);
    /* The same server with another CA as the only anchor. */
    refuse("server.pem", "server.key", "other-ca.pem", "localhost", NULL, -KS_ETLS_UNTRUSTED);
    /* A self-signed certificate trusted as itself is accepted. */
    refuse("selfsigned.pem", "selfsigned.key", "selfsigned.pem", "localhost", NULL, 0);
}

/* SHA-256 of a certificate's DER, from pins.txt ("sha256 <hex> <file>"). */
static int read_pin(const char *file, unsigned char pin[32])
{
    size_t len = 0;
    unsigned char *txt = slurp("pins.txt", &len);
    int ok = 0;
    if (txt == NULL)
        return 0;
    txt[len < (1 << 20) ? len : len - 1] = '\0';
    for (char *line = strtok((char *)txt, "\n"); line != NULL && !ok; line = strtok(NULL, "\n")) {
        char hex[65], name[128];
        if (sscanf(line, "sha256 %64s %127s", hex, name) == 2 && strcmp(name, file) == 0) {
            for (int i = 0; i < 32; i++) {
                unsigned v;
                sscanf(hex + 2 * i, "%2x", &v);
                pin[i] = (unsigned char)v;
            }
            ok = 1;
        }
    }
    free(txt);
    return ok;
}

static void t_pins(void)
{
    if (!have_certs())
        return;
    unsigned char pin[32];
    HT_CHECK(read_pin("server.pem", pin), "pin of server.pem in pins.txt", 0);
    refuse("server.pem", "server.key", "ca.pem", "localhost", pin, 0);
    HT_CHECK(read_pin("ec-server.pem", pin), "pin of ec-server.pem", 0);
    refuse("server.pem", "server.key", "ca.pem", "localhost", pin, -KS_ETLS_PIN);
}

/* A session to the echo server: handshake, 4 bytes there and back, close. */
static void ping_pong(struct srv *sv, struct ks_tls_config *c, const char *what)
{
    struct ks_tls *t = NULL;
    HT_EQ(connect_tls(sv, c, "localhost", &t), 0, what);
    if (t == NULL)
        return;
    HT_EQ(ks_tls_send(t, "ping", 4, 0), 4, "send");
    char back[4];
    HT_EQ(ks_tls_recv(t, back, 4, MSG_WAITALL), 4, "echo");
    HT_CHECK(memcmp(back, "ping", 4) == 0, "echoed bytes", 0);
    HT_EQ(ks_tls_close(t), 0, "close");
}

/* ks_tls_config_add_trust_param: the anchor from the driver's registry
 * Parameters as PEM text (REG_SZ), PEM line by line (REG_MULTI_SZ) or DER
 * (REG_BINARY); a handshake trusts it; errors for absent, wrong-type and
 * non-certificate values. */
static void t_trust_param(void)
{
    static const char key[] =
        "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\ktp\\Parameters";
    static const WCHAR path[] = L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\ktp";
    if (!have_certs())
        return;
    size_t pem_len = 0, der_len = 0;
    unsigned char *pem = slurp("ca.pem", &pem_len), *der = slurp("ca.der", &der_len);
    WCHAR *multi = calloc(pem_len + 2, sizeof(WCHAR));
    HT_CHECK(pem != NULL && der != NULL && multi != NULL && pem_len > 0, "ca.pem, ca.der", 0);
    if (pem == NULL || der == NULL || multi == NULL) {
        free(pem);
        free(der);
        free(multi);
        return;
    }
    /* REG_MULTI_SZ as reg.exe stores a PEM entered line by line. */
    size_t units = 0;
    for (size_t i = 0; i < pem_len; i++)
        if (pem[i] != '\r')
            multi[units++] = pem[i] == '\n' ? 0 : pem[i];
    if (units == 0 || multi[units - 1] != 0)
        multi[units++] = 0;
    multi[units++] = 0;
    ULONG dword = 1;
    HT_EQ(kshim_registry_set(key, "TrustPem", REG_SZ, pem, (ULONG)pem_len), 0, "set TrustPem");
    HT_EQ(kshim_registry_set(key, "TrustDer", REG_BINARY, der, (ULONG)der_len), 0, "set TrustDer");
    HT_EQ(kshim_registry_set(key, "TrustLines", REG_MULTI_SZ | KSHIM_REG_RAW, multi,
                             (ULONG)(units * sizeof(WCHAR))),
          0, "set TrustLines");
    HT_EQ(kshim_registry_set(key, "Junk", REG_SZ, "not a certificate", 17), 0, "set Junk");
    HT_EQ(kshim_registry_set(key, "Dw", REG_DWORD, &dword, 4), 0, "set Dw");
    UNICODE_STRING reg;
    RtlInitUnicodeString(&reg, path);

    struct ks_tls_config *c = NULL, *s = NULL;
    HT_EQ(ks_tls_config_new(KS_TLS_CLIENT, 0, &c), 0, "client config");
    HT_EQ(ks_tls_config_new(KS_TLS_SERVER, 0, &s), 0, "server config");
    HT_EQ(ks_tls_config_add_trust_param(c, &reg, "TrustPem"), 1, "REG_SZ PEM: one anchor");
    HT_EQ(ks_tls_config_add_trust_param(c, &reg, "TrustDer"), 1, "REG_BINARY DER: one anchor");
    HT_EQ(ks_tls_config_add_trust_param(c, &reg, "Missing"), -ENOENT, "no such value");
    HT_EQ(ks_tls_config_add_trust_param(c, &reg, "Dw"), -EINVAL, "REG_DWORD");
    HT_EQ(ks_tls_config_add_trust_param(c, &reg, "Junk"), -KS_ETLS_DECODE, "not a certificate");
    HT_EQ(ks_tls_config_add_trust_param(c, NULL, "TrustPem"), -EFAULT, "registry_path NULL");
    HT_EQ(ks_tls_config_add_trust_param(c, &reg, NULL), -EFAULT, "name NULL");
    HT_EQ(ks_tls_config_add_trust_param(s, &reg, "TrustPem"), -EINVAL, "a server configuration");
    HT_EQ(ks_tls_config_free(c), 0, "free");
    HT_EQ(ks_tls_config_free(s), 0, "free server");

    /* The REG_MULTI_SZ anchor alone validates the server's chain. */
    c = NULL;
    HT_EQ(ks_tls_config_new(KS_TLS_CLIENT, 0, &c), 0, "client config");
    HT_EQ(ks_tls_config_add_trust_param(c, &reg, "TrustLines"), 1, "REG_MULTI_SZ PEM: one anchor");
    struct srv sv;
    if (c != NULL && srv_start(&sv, SRV_ECHO, "server.pem", "server.key")) {
        ping_pong(&sv, c, "handshake with the registry's anchor");
        srv_stop(&sv);
    }
    HT_EQ(ks_tls_config_free(c), 0, "free");
    kshim_registry_clear();
    free(pem);
    free(der);
    free(multi);
}

/* ks_tls_config_set_cert_param: a server's chain (PEM text, REG_SZ) and
 * key (PEM bytes, REG_BINARY) from registry values, and both in one value;
 * a client trusting the CA completes a handshake; errors. */
static void t_cert_param(void)
{
    static const char key[] =
        "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\kcp\\Parameters";
    static const WCHAR path[] = L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\kcp";
    if (!have_certs())
        return;
    size_t chain_len = 0, key_len = 0;
    unsigned char *chain = slurp("server.pem", &chain_len), *pkey = slurp("server.key", &key_len);
    unsigned char *both = malloc(chain_len + key_len + 1);
    HT_CHECK(chain != NULL && pkey != NULL && both != NULL && chain_len > 0 && key_len > 0,
             "server.pem, server.key", 0);
    if (chain == NULL || pkey == NULL || both == NULL) {
        free(chain);
        free(pkey);
        free(both);
        return;
    }
    memcpy(both, chain, chain_len);
    memcpy(both + chain_len, pkey, key_len);
    HT_EQ(kshim_registry_set(key, "Cert", REG_SZ, chain, (ULONG)chain_len), 0, "set Cert");
    HT_EQ(kshim_registry_set(key, "Key", REG_BINARY, pkey, (ULONG)key_len), 0, "set Key");
    HT_EQ(kshim_registry_set(key, "Both", REG_BINARY, both, (ULONG)(chain_len + key_len)), 0,
          "set Both");
    HT_EQ(kshim_registry_set(key, "Junk", REG_SZ, "no certificate", 14), 0, "set Junk");
    UNICODE_STRING reg;
    RtlInitUnicodeString(&reg, path);

    struct ks_tls_config *s = NULL, *c = NULL;
    HT_EQ(ks_tls_config_new(KS_TLS_SERVER, 0, &s), 0, "server config");
    HT_EQ(ks_tls_config_new(KS_TLS_CLIENT, 0, &c), 0, "client config");
    HT_EQ(ks_tls_config_set_cert_param(s, &reg, "Cert", "Missing"), -ENOENT, "no key value");
    HT_EQ(ks_tls_config_set_cert_param(s, &reg, "Junk", "Key"), -KS_ETLS_DECODE, "no certificate");
    HT_EQ(ks_tls_config_set_cert_param(s, &reg, NULL, "Key"), -EFAULT, "chain name NULL");
    HT_EQ(ks_tls_config_set_cert_param(s, NULL, "Cert", "Key"), -EFAULT, "registry_path NULL");
    HT_EQ(ks_tls_config_set_cert_param(c, &reg, "Cert", "Key"), -EINVAL, "a client configuration");
    HT_EQ(ks_tls_config_set_cert_param(s, &reg, "Both", "Both"), 0, "chain and key in one value");
    HT_EQ(ks_tls_config_set_cert_param(s, &reg, "Cert", "Key"), -EINVAL, "set twice");
    HT_EQ(ks_tls_config_free(s), 0, "free server");
    HT_EQ(ks_tls_config_free(c), 0, "free client");

    s = NULL;
    HT_EQ(ks_tls_config_new(KS_TLS_SERVER, 0, &s), 0, "server config");
    HT_EQ(ks_tls_config_set_cert_param(s, &reg, "Cert", "Key"), 0, "chain REG_SZ, key REG_BINARY");
    struct srv sv;
    if (s != NULL && srv_start_cfg(&sv, SRV_ECHO, s)) {
        c = client_config("ca.pem");
        ping_pong(&sv, c, "handshake with the registry's chain");
        srv_stop(&sv);
        HT_EQ(sv.handshake, 0, "server handshake");
        HT_EQ(ks_tls_config_free(c), 0, "free client");
    }
    kshim_registry_clear();
    free(chain);
    free(pkey);
    free(both);
}

static void t_bad_peers(void)
{
    if (!have_certs())
        return;
    struct ks_tls_config *cfg = client_config("ca.pem");
    const struct {
        enum srv_mode mode;
        int want;
        const char *what;
    } cases[] = {
        {SRV_GARBAGE, -KS_ETLS_PROTOCOL, "a peer that sends non-TLS bytes"},
        {SRV_HANGUP, -KS_ETLS_TRUNCATED, "a peer that hangs up in the handshake"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct srv s;
        if (!srv_start(&s, cases[i].mode, NULL, NULL))
            continue;
        struct ks_tls *t = NULL;
        HT_EQ(connect_tls(&s, cfg, "localhost", &t), cases[i].want, cases[i].what);
        HT_CHECK(t == NULL, "no session", 0);
        srv_stop(&s);
    }
    /* Dropped after the handshake without close_notify: data, then
     * -KS_ETLS_TRUNCATED (never a silent end of stream). */
    struct srv s;
    if (srv_start(&s, SRV_ABORT, "server.pem", "server.key")) {
        struct ks_tls *t = NULL;
        HT_EQ(connect_tls(&s, cfg, "localhost", &t), 0, "handshake");
        char buf[200];
        HT_EQ(ks_tls_recv(t, buf, sizeof(buf), MSG_WAITALL), 100, "the 100 bytes first");
        HT_EQ(ks_tls_recv(t, buf, sizeof(buf), 0), -KS_ETLS_TRUNCATED, "then truncation");
        HT_EQ(ks_tls_recv(t, buf, sizeof(buf), 0), -KS_ETLS_TRUNCATED, "sticky");
        HT_EQ(ks_tls_send(t, buf, 1, 0), -KS_ETLS_TRUNCATED, "send after the failure");
        ks_tls_close(t);
        srv_stop(&s);
    }
    HT_EQ(ks_tls_config_free(cfg), 0, "config freed");
}

static void t_bad_args(void)
{
    if (!have_certs())
        return;
    struct ks_tls_config *cfg = client_config("ca.pem"), *empty = NULL;
    struct ks_tls *t = (struct ks_tls *)1;
    HT_EQ(ks_tls_client(1, NULL, "x", &t), -EFAULT, "cfg NULL");
    HT_CHECK(t == NULL, "*out NULL on error", 0);
    HT_EQ(ks_tls_client(1, cfg, NULL, &t), -EFAULT, "name NULL");
    HT_EQ(ks_tls_client(1, cfg, "x", NULL), -EFAULT, "out NULL");
    HT_EQ(ks_tls_client(1, cfg, "", &t), -EINVAL, "empty name");
    HT_EQ(ks_tls_server(1, cfg, &t), -EINVAL, "client config for a server");
    HT_EQ(ks_tls_config_new(KS_TLS_CLIENT, 0, &empty), 0, "empty config");
    HT_EQ(ks_tls_client(1, empty, "x", &t), -EINVAL, "no anchors");
    HT_EQ(ks_tls_client(123456, cfg, "localhost", &t), -EBADF, "bad descriptor");
    int u = ks_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    HT_EQ(ks_tls_client(u, cfg, "localhost", &t), -ENOTCONN, "not connected");
    ks_close(u);
    HT_EQ(ks_tls_send(NULL, "x", 1, 0), -EFAULT, "send NULL session");
    HT_EQ(ks_tls_recv(NULL, NULL, 1, 0), -EFAULT, "recv NULL session");
    HT_EQ(ks_tls_close(NULL), 0, "close NULL");
    HT_EQ(ks_tls_config_free(empty), 0, "free");
    HT_EQ(ks_tls_config_free(cfg), 0, "free");
}

/* Non-blocking client: -EINPROGRESS, then ks_poll on ks_tls_want. */
static void t_nonblocking(void)
{
    if (!have_certs())
        return;
    struct srv s;
    if (!srv_start(&s, SRV_ECHO, "server.pem", "server.key"))
        return;
    struct ks_tls_config *cfg = client_config("ca.pem");
    int fd = ht_ks_connect(0, s.port);
    unsigned long one = 1;
    HT_EQ(ks_ioctl(fd, FIONBIO, &one), 0, "FIONBIO");
    struct ks_tls *t = NULL;
    int r = ks_tls_client(fd, cfg, "localhost", &t);
    HT_CHECK(r == -EINPROGRESS || r == 0, "non-blocking start", r);
    int polls = 0;
    LONGLONG until = ht_now_ms() + 20000;
    while (r == -EINPROGRESS || r == -EAGAIN) {
        struct ks_pollfd p = {ks_tls_fd(t), ks_tls_want(t), 0};
        HT_CHECK(p.events != 0, "something to wait for", 0);
        HT_CHECK(ks_poll(&p, 1, 5000) == 1, "poll", 0);
        polls++;
        r = ks_tls_handshake(t);
        if (ht_now_ms() > until)
            break;
    }
    HT_EQ(r, 0, "handshake done");
    HT_CHECK(polls > 0, "the handshake waited in ks_poll", polls);
    char out[5000], in[5000] = {0};
    ht_pattern((unsigned char *)out, sizeof(out), 3, 0);
    size_t sent = 0, got = 0;
    while ((sent < sizeof(out) || got < sizeof(in)) && ht_now_ms() < until) {
        if (sent < sizeof(out)) {
            ks_ssize_t n = ks_tls_send(t, out + sent, sizeof(out) - sent, 0);
            HT_CHECK(n > 0 || n == -EAGAIN, "send", n);
            if (n > 0)
                sent += (size_t)n;
        }
        ks_ssize_t n = ks_tls_recv(t, in + got, sizeof(in) - got, 0);
        HT_CHECK(n > 0 || n == -EAGAIN, "recv", n);
        if (n > 0) {
            got += (size_t)n;
        } else if (ks_tls_pending(t) == 0) {
            struct ks_pollfd p = {ks_tls_fd(t), (short)(ks_tls_want(t) | POLLIN), 0};
            (void)ks_poll(&p, 1, 1000);
            if (ks_tls_want(t) & POLLOUT)
                (void)ks_tls_handshake(t); /* flush */
        }
    }
    HT_EQ(got, sizeof(in), "all echoed");
    HT_CHECK(memcmp(in, out, sizeof(in)) == 0, "same bytes", 0);
    ks_tls_close(t);
    srv_stop(&s);
    HT_EQ(ks_tls_config_free(cfg), 0, "config freed");
}

struct waiter {
    struct ks_tls *t;
    ks_ssize_t result;
    LONGLONG returned_ms;
};

static void recv_waiter(void *arg)
{
    struct waiter *w = arg;
    char c;
    w->result = ks_tls_recv(w->t, &c, 1, 0);
    w->returned_ms = ht_now_ms();
}

/* SO_RCVTIMEO, -EBUSY, and ks_tls_close while a receive waits. */
static void t_timeout_busy_close(void)
{
    if (!have_certs())
        return;
    struct srv s;
    if (!srv_start(&s, SRV_SILENT_TLS, "server.pem", "server.key"))
        return;
    struct ks_tls_config *cfg = client_config("ca.pem");
    struct ks_tls *t = NULL;
    HT_EQ(connect_tls(&s, cfg, "localhost", &t), 0, "handshake");
    if (t != NULL) {
        DWORD ms = 300;
        HT_EQ(ks_setsockopt(ks_tls_fd(t), SOL_SOCKET, SO_RCVTIMEO, &ms, sizeof(ms)), 0,
              "SO_RCVTIMEO");
        char c;
        HT_EQ(ks_tls_recv(t, &c, 1, 0), -ETIMEDOUT, "receive timed out");
        ms = 0;
        HT_EQ(ks_setsockopt(ks_tls_fd(t), SOL_SOCKET, SO_RCVTIMEO, &ms, sizeof(ms)), 0,
              "no timeout");
        struct waiter w = {t, 1, 0};
        ht_thread *th = ht_spawn(recv_waiter, &w);
        /* Wait until the waiter is inside (a second call is then -EBUSY). */
        int busy = 0;
        for (int i = 0; i < 2000 && !busy; i++) {
            struct ks_tls_info info; /* no side effect when it does enter */
            busy = ks_tls_get_info(t, &info) == -EBUSY;
            if (!busy)
                ht_sleep_ms(5);
        }
        HT_CHECK(busy, "a second call is -EBUSY", 0);
        LONGLONG t0 = ht_now_ms();
        HT_EQ(ks_tls_close(t), 0, "close while a receive waits");
        HT_EQ(ht_join(th, 10000), 1, "the waiter returned");
        HT_CHECK(w.result < 0, "its receive failed", w.result);
        HT_CHECK(w.returned_ms - t0 < 5000, "promptly", w.returned_ms - t0);
    }
    srv_stop(&s);
    HT_EQ(ks_tls_config_free(cfg), 0, "config freed");
}

/*
 * The fault scenario (make faults: tools/faultrun runs it once per fault
 * site and occurrence): configurations from files, a handshake, data both
 * ways, close_notify, close. Results are not checked (any step may fail
 * under a fault); what must hold is what the harness checks: no crash, no
 * violation, no leak, no hang. Without a fault every step succeeds.
 */
static void t_fault_scenario(void)
{
    if (!have_certs())
        return;
    int clean = getenv("KSHIM_FAULT") == NULL;
    tolerant = !clean;
    struct srv s;
    if (!srv_start(&s, SRV_ECHO, "server-ichain.pem", "server-ichain.key"))
        return;
    struct ks_tls_config *cfg = NULL;
    int r = ks_tls_config_new(KS_TLS_CLIENT, 0, &cfg);
    if (r == 0)
        r = ks_tls_config_add_trust_file(cfg, kpath("ca.pem")) > 0 ? 0 : -1;
    /* The same anchor from the registry (its own fault sites). */
    static const char key[] =
        "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\ktf\\Parameters";
    static const WCHAR path[] = L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\ktf";
    size_t pem_len = 0;
    unsigned char *pem = slurp("ca.pem", &pem_len);
    if (r == 0 && (pem == NULL || kshim_registry_set(key, "Trust", REG_SZ, pem, (ULONG)pem_len)))
        r = -1;
    free(pem);
    if (r == 0) {
        UNICODE_STRING reg;
        RtlInitUnicodeString(&reg, path);
        r = ks_tls_config_add_trust_param(cfg, &reg, "Trust") > 0 ? 0 : -1;
    }
    struct ks_tls *t = NULL;
    if (r == 0) {
        int fd = ht_ks_connect(0, s.port);
        /* A fault may stop the server before it answers: bound every wait. */
        DWORD ms = 5000;
        if (fd > 0)
            (void)ks_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &ms, sizeof(ms));
        r = fd > 0 ? ks_tls_client(fd, cfg, "localhost", &t) : fd;
        if (r != 0 && fd > 0)
            ks_close(fd);
    }
    char buf[3000];
    ht_pattern((unsigned char *)buf, sizeof(buf), 1, 0);
    if (r == 0)
        r = ks_tls_send(t, buf, sizeof(buf), 0) == (ks_ssize_t)sizeof(buf) ? 0 : -1;
    if (r == 0)
        r = ks_tls_recv(t, buf, sizeof(buf), MSG_WAITALL) == (ks_ssize_t)sizeof(buf) ? 0 : -1;
    if (r == 0)
        r = ks_tls_shutdown(t);
    (void)ks_tls_close(t);
    if (clean)
        HT_EQ(r, 0, "the scenario without a fault");
    srv_stop(&s);
    (void)ks_tls_config_free(cfg);
    kshim_registry_clear();
}

static const struct ht_test tls_tests[] = {
    {"tls-fault-scenario", t_fault_scenario, ht_runs_once},
    {"tls-config-errors", t_config_errors, ht_runs_once},
    {"tls-echo-rsa", t_echo_rsa, ht_runs_modes},
    {"tls-echo-ec", t_echo_ec, ht_runs_once},
    {"tls-echo-chain", t_echo_chain, ht_runs_once},
    {"tls-refuse-expired", t_refuse_expired, ht_runs_once},
    {"tls-refuse-name", t_refuse_name, ht_runs_once},
    {"tls-refuse-untrusted", t_refuse_untrusted, ht_runs_once},
    {"tls-pins", t_pins, ht_runs_once},
    {"tls-trust-param", t_trust_param, ht_runs_once},
    {"tls-cert-param", t_cert_param, ht_runs_once},
    {"tls-bad-peers", t_bad_peers, ht_runs_modes},
    {"tls-bad-args", t_bad_args, ht_runs_once},
    {"tls-nonblocking", t_nonblocking, ht_runs_modes},
    {"tls-timeout-busy-close", t_timeout_busy_close, ht_runs_once},
};

int main(int argc, char **argv)
{
    int n = (int)(sizeof(tls_tests) / sizeof(tls_tests[0]));
    if (argc == 2 && strcmp(argv[1], "--runs") == 0) {
        for (int i = 0; i < n; i++)
            for (const struct ht_run *r = tls_tests[i].runs; r->suffix != NULL; r++)
                printf("%s%s\t%s%s%s\n", tls_tests[i].name, r->suffix, tls_tests[i].name,
                       r->env != NULL ? "\t" : "", r->env != NULL ? r->env : "");
        return 0;
    }
    int rc = ht_main(argc, argv, tls_tests, n);
    remove_certs();
    return rc;
}
