/*
 * ks_tls_config.c - TLS configurations: trust anchors and pins (client),
 * a certificate chain and private key (server), decoded from PEM or DER
 * with BearSSL's decoders and kept as copies in nonpaged pool.
 *
 * A configuration is changed only while no session uses it (sessions == 0,
 * checked by every setter); sessions then read it without a lock.
 */
#include "ks_tls.h"

#include <string.h>

#include "../ks_kernel.h"
#include "wsksock/params.h"

/* A growing byte buffer the decoders write into (fixed capacity: DER is
 * never longer than the PEM or DER it came from). */
struct sink {
    unsigned char *buf;
    size_t len, cap;
    BOOLEAN overflow;
};

static void sink_append(void *ctx, const void *src, size_t len)
{
    struct sink *s = ctx;
    if (len > s->cap - s->len) {
        s->overflow = TRUE;
        return;
    }
    RtlCopyMemory(s->buf + s->len, src, len);
    s->len += len;
}

/* One decoded object: name is the PEM label ("CERTIFICATE", ...), or NULL
 * for DER input. Returns 1 (taken), 0 (skipped) or an error. */
typedef int object_fn(void *ctx, const char *name, const unsigned char *der, size_t len);

static BOOLEAN looks_like_pem(const unsigned char *data, size_t len)
{
    static const char begin[] = "-----BEGIN ";
    for (size_t i = 0; i + sizeof(begin) - 1 <= len; i++) {
        if (RtlCompareMemory(data + i, begin, sizeof(begin) - 1) == sizeof(begin) - 1)
            return TRUE;
        if (data[i] == 0x30 && i == 0)
            return FALSE; /* a DER SEQUENCE */
    }
    return FALSE;
}

struct pem_state {
    br_pem_decoder_context pc;
    char name[128];
    struct sink der;
    int taken;
    int err;
};

/* Feeds data to the PEM decoder and handles its events. */
static void pem_push(struct pem_state *ps, const unsigned char *data, size_t len, object_fn *fn,
                     void *ctx)
{
    while (len > 0 && ps->err == 0) {
        size_t n = br_pem_decoder_push(&ps->pc, data, len);
        data += n;
        len -= n;
        switch (br_pem_decoder_event(&ps->pc)) {
        case BR_PEM_BEGIN_OBJ: {
            const char *name = br_pem_decoder_name(&ps->pc);
            size_t i = 0;
            for (; name[i] != '\0' && i + 1 < sizeof(ps->name); i++)
                ps->name[i] = name[i];
            ps->name[i] = '\0';
            ps->der.len = 0;
            ps->der.overflow = FALSE;
            br_pem_decoder_setdest(&ps->pc, sink_append, &ps->der);
            break;
        }
        case BR_PEM_END_OBJ:
            if (ps->der.overflow) {
                ps->err = -KS_ETLS_DECODE;
            } else {
                int r = fn(ctx, ps->name, ps->der.buf, ps->der.len);
                if (r < 0)
                    ps->err = r;
                else
                    ps->taken += r;
            }
            break;
        case BR_PEM_ERROR:
            ps->err = -KS_ETLS_DECODE;
            break;
        default:
            break;
        }
    }
}

/* Calls fn for each object of data (PEM: every block; DER: once). Returns
 * the number fn took, or an error. */
static int each_object(const void *data, size_t len, object_fn *fn, void *ctx)
{
    if (!looks_like_pem(data, len))
        return fn(ctx, NULL, data, len);
    struct pem_state *ps = ks__tls_alloc(sizeof(*ps));
    unsigned char *der = ks__tls_alloc(len);
    int result = -ENOMEM;
    if (ps != NULL && der != NULL) {
        ps->der.buf = der;
        ps->der.cap = len;
        br_pem_decoder_init(&ps->pc);
        pem_push(ps, data, len, fn, ctx);
        /* The decoder ends a block on the newline after "-----END ...-----". */
        pem_push(ps, (const unsigned char *)"\n", 1, fn, ctx);
        result = ps->err != 0 ? ps->err : ps->taken;
    }
    ks__tls_free(der);
    ks__tls_free(ps);
    return result;
}

static int check_config(const struct ks_tls_config *cfg, int role)
{
    if (cfg == NULL)
        return -EFAULT;
    if (!ks__can_block())
        return -EPERM;
    if (cfg->role != role || cfg->sessions != 0)
        return -EINVAL;
    return 0;
}

int ks_tls_config_new(int role, unsigned flags, struct ks_tls_config **out)
{
    if (out == NULL)
        return -EFAULT;
    *out = NULL;
    if (!ks__can_block())
        return -EPERM;
    if ((role != KS_TLS_CLIENT && role != KS_TLS_SERVER) || (flags & ~KS_TLS_ALLOW_TLS10) != 0)
        return -EINVAL;
    struct ks_tls_config *cfg = ks__tls_alloc(sizeof(*cfg));
    if (cfg == NULL)
        return -ENOMEM;
    cfg->role = role;
    cfg->flags = flags;
    *out = cfg;
    return 0;
}

int ks_tls_config_free(struct ks_tls_config *cfg)
{
    if (cfg == NULL)
        return 0;
    if (!ks__can_block())
        return -EPERM;
    if (cfg->sessions != 0)
        return -EBUSY;
    for (size_t i = 0; i < cfg->anchor_count; i++)
        ks__tls_free(cfg->anchors[i].dn.data);
    ks__tls_free(cfg->anchors);
    for (size_t i = 0; i < cfg->chain_len; i++)
        ks__tls_free(cfg->chain[i].data);
    if (cfg->key_block != NULL) {
        RtlSecureZeroMemory(cfg->key_block, cfg->key_size);
        ks__tls_free(cfg->key_block);
    }
    ks__tls_free(cfg);
    return 0;
}

/* ---- trust anchors ---- */

struct anchor_decode {
    br_x509_decoder_context dc;
    struct sink dn;
};

/* Decodes one DER certificate into a new anchor of cfg. */
static int add_anchor(struct ks_tls_config *cfg, const unsigned char *der, size_t len)
{
    struct anchor_decode *ad = ks__tls_alloc(sizeof(*ad));
    unsigned char *dn = ks__tls_alloc(len);
    int err = -ENOMEM;
    unsigned char *block = NULL;
    if (ad == NULL || dn == NULL)
        goto out;
    ad->dn.buf = dn;
    ad->dn.cap = len;
    br_x509_decoder_init(&ad->dc, sink_append, &ad->dn);
    br_x509_decoder_push(&ad->dc, der, len);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(&ad->dc);
    err = -KS_ETLS_DECODE;
    if (pk == NULL || ad->dn.overflow)
        goto out;
    size_t key_len =
        pk->key_type == BR_KEYTYPE_RSA ? pk->key.rsa.nlen + pk->key.rsa.elen : pk->key.ec.qlen;
    if (pk->key_type != BR_KEYTYPE_RSA && pk->key_type != BR_KEYTYPE_EC)
        goto out;
    if (cfg->anchor_count == cfg->anchor_cap) {
        size_t cap = cfg->anchor_cap == 0 ? 8 : cfg->anchor_cap * 2;
        br_x509_trust_anchor *grown = ks__tls_alloc(cap * sizeof(*grown));
        err = -ENOMEM;
        if (grown == NULL)
            goto out;
        if (cfg->anchor_count > 0)
            RtlCopyMemory(grown, cfg->anchors, cfg->anchor_count * sizeof(*grown));
        ks__tls_free(cfg->anchors);
        cfg->anchors = grown;
        cfg->anchor_cap = cap;
    }
    block = ks__tls_alloc(ad->dn.len + key_len + 1);
    err = -ENOMEM;
    if (block == NULL)
        goto out;
    br_x509_trust_anchor *ta = &cfg->anchors[cfg->anchor_count];
    RtlZeroMemory(ta, sizeof(*ta));
    RtlCopyMemory(block, dn, ad->dn.len);
    ta->dn.data = block;
    ta->dn.len = ad->dn.len;
    ta->flags = br_x509_decoder_isCA(&ad->dc) ? BR_X509_TA_CA : 0;
    ta->pkey.key_type = pk->key_type;
    unsigned char *k = block + ad->dn.len;
    if (pk->key_type == BR_KEYTYPE_RSA) {
        RtlCopyMemory(k, pk->key.rsa.n, pk->key.rsa.nlen);
        RtlCopyMemory(k + pk->key.rsa.nlen, pk->key.rsa.e, pk->key.rsa.elen);
        ta->pkey.key.rsa.n = k;
        ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
        ta->pkey.key.rsa.e = k + pk->key.rsa.nlen;
        ta->pkey.key.rsa.elen = pk->key.rsa.elen;
    } else {
        RtlCopyMemory(k, pk->key.ec.q, pk->key.ec.qlen);
        ta->pkey.key.ec.curve = pk->key.ec.curve;
        ta->pkey.key.ec.q = k;
        ta->pkey.key.ec.qlen = pk->key.ec.qlen;
    }
    cfg->anchor_count++;
    block = NULL;
    err = 1;
out:
    ks__tls_free(block);
    ks__tls_free(dn);
    ks__tls_free(ad);
    return err;
}

static int anchor_object(void *ctx, const char *name, const unsigned char *der, size_t len)
{
    if (name != NULL && strcmp(name, "CERTIFICATE") != 0 &&
        strcmp(name, "TRUSTED CERTIFICATE") != 0)
        return 0;
    return add_anchor(ctx, der, len);
}

int ks_tls_config_add_trust(struct ks_tls_config *cfg, const void *data, size_t len)
{
    int err = check_config(cfg, KS_TLS_CLIENT);
    if (err != 0)
        return err;
    if (data == NULL)
        return -EFAULT;
    if (len == 0 || len > KS_TLS_FILE_MAX)
        return -KS_ETLS_DECODE;
    size_t before = cfg->anchor_count;
    int n = each_object(data, len, anchor_object, cfg);
    if (n <= 0) {
        /* All or nothing: drop what this call added. */
        while (cfg->anchor_count > before)
            ks__tls_free(cfg->anchors[--cfg->anchor_count].dn.data);
        return n < 0 ? n : -KS_ETLS_DECODE;
    }
    return n;
}

int ks_tls_config_add_trust_file(struct ks_tls_config *cfg, const char *path)
{
    int err = check_config(cfg, KS_TLS_CLIENT);
    if (err != 0)
        return err;
    if (path == NULL)
        return -EFAULT;
    unsigned char *data;
    size_t len;
    err = ks__tls_read_file(path, &data, &len);
    if (err != 0)
        return err;
    err = ks_tls_config_add_trust(cfg, data, len);
    ks__tls_free(data);
    return err;
}

/*
 * The value `name` of <registry_path>\Parameters as bytes
 * (ks_param_get_bytes) in a fresh block (*data, *len; ks__tls_free it).
 * Measure, then read: a value rewritten in between gives -EMSGSIZE.
 */
static int read_param(const UNICODE_STRING *registry_path, const char *name, unsigned char **data,
                      size_t *len)
{
    *data = NULL;
    *len = 0;
    int need = ks_param_get_bytes(registry_path, name, NULL, 0);
    if (need <= 0)
        return need < 0 ? need : -KS_ETLS_DECODE;
    unsigned char *buf = ks__tls_alloc((size_t)need);
    if (buf == NULL)
        return -ENOMEM;
    int n = ks_param_get_bytes(registry_path, name, buf, (size_t)need);
    if (n < 0) {
        RtlSecureZeroMemory(buf, (size_t)need); /* perhaps part of a key */
        ks__tls_free(buf);
        return n;
    }
    *data = buf;
    *len = (size_t)n;
    return 0;
}

int ks_tls_config_add_trust_param(struct ks_tls_config *cfg, const UNICODE_STRING *registry_path,
                                  const char *name)
{
    int err = check_config(cfg, KS_TLS_CLIENT);
    if (err != 0)
        return err;
    if (registry_path == NULL || name == NULL)
        return -EFAULT;
    unsigned char *data;
    size_t len;
    err = read_param(registry_path, name, &data, &len);
    if (err != 0)
        return err;
    err = ks_tls_config_add_trust(cfg, data, len);
    ks__tls_free(data);
    return err;
}

int ks_tls_config_add_pin(struct ks_tls_config *cfg, const unsigned char sha256[32])
{
    int err = check_config(cfg, KS_TLS_CLIENT);
    if (err != 0)
        return err;
    if (sha256 == NULL)
        return -EFAULT;
    if (cfg->pin_count == KS_TLS_MAX_PINS)
        return -ENOSPC;
    RtlCopyMemory(cfg->pins[cfg->pin_count++], sha256, 32);
    return 0;
}

/* ---- server certificate and key ---- */

struct cert_collect {
    struct ks_tls_config *cfg;
    BOOLEAN want_certs; /* the chain pass (else the key pass) */
};

static int add_chain_cert(struct ks_tls_config *cfg, const unsigned char *der, size_t len)
{
    if (cfg->chain_len == KS_TLS_MAX_CHAIN)
        return -KS_ETLS_DECODE;
    unsigned char *copy = ks__tls_alloc(len);
    if (copy == NULL)
        return -ENOMEM;
    RtlCopyMemory(copy, der, len);
    cfg->chain[cfg->chain_len].data = copy;
    cfg->chain[cfg->chain_len].data_len = len;
    cfg->chain_len++;
    return 1;
}

/* Copies the decoded key's integers into one block of cfg. */
static int keep_key(struct ks_tls_config *cfg, const br_skey_decoder_context *kd)
{
    int type = br_skey_decoder_key_type(kd);
    if (type == BR_KEYTYPE_RSA) {
        const br_rsa_private_key *k = br_skey_decoder_get_rsa(kd);
        size_t total = k->plen + k->qlen + k->dplen + k->dqlen + k->iqlen;
        unsigned char *b = ks__tls_alloc(total);
        if (b == NULL)
            return -ENOMEM;
        cfg->rsa.n_bitlen = k->n_bitlen;
        unsigned char *at = b;
#define KS_TLS_KEEP(field, lenfield)                                                               \
    do {                                                                                           \
        RtlCopyMemory(at, k->field, k->lenfield);                                                  \
        cfg->rsa.field = at;                                                                       \
        cfg->rsa.lenfield = k->lenfield;                                                           \
        at += k->lenfield;                                                                         \
    } while (0)
        KS_TLS_KEEP(p, plen);
        KS_TLS_KEEP(q, qlen);
        KS_TLS_KEEP(dp, dplen);
        KS_TLS_KEEP(dq, dqlen);
        KS_TLS_KEEP(iq, iqlen);
#undef KS_TLS_KEEP
        cfg->key_block = b;
        cfg->key_size = total;
    } else if (type == BR_KEYTYPE_EC) {
        const br_ec_private_key *k = br_skey_decoder_get_ec(kd);
        unsigned char *b = ks__tls_alloc(k->xlen);
        if (b == NULL)
            return -ENOMEM;
        RtlCopyMemory(b, k->x, k->xlen);
        cfg->ec.curve = k->curve;
        cfg->ec.x = b;
        cfg->ec.xlen = k->xlen;
        cfg->key_block = b;
        cfg->key_size = k->xlen;
    } else {
        return -KS_ETLS_DECODE;
    }
    cfg->key_type = type;
    return 1;
}

static int add_key(struct ks_tls_config *cfg, const unsigned char *der, size_t len)
{
    if (cfg->key_type != 0)
        return -KS_ETLS_DECODE; /* two keys */
    br_skey_decoder_context *kd = ks__tls_alloc(sizeof(*kd));
    if (kd == NULL)
        return -ENOMEM;
    br_skey_decoder_init(kd);
    br_skey_decoder_push(kd, der, len);
    int err = br_skey_decoder_last_error(kd) == 0 ? keep_key(cfg, kd) : -KS_ETLS_DECODE;
    RtlSecureZeroMemory(kd, sizeof(*kd));
    ks__tls_free(kd);
    return err;
}

static int cert_object(void *ctx, const char *name, const unsigned char *der, size_t len)
{
    struct cert_collect *cc = ctx;
    if (cc->want_certs) {
        if (name == NULL || strcmp(name, "CERTIFICATE") == 0)
            return add_chain_cert(cc->cfg, der, len);
        return 0;
    }
    if (name == NULL || strcmp(name, "RSA PRIVATE KEY") == 0 ||
        strcmp(name, "EC PRIVATE KEY") == 0 || strcmp(name, "PRIVATE KEY") == 0)
        return add_key(cc->cfg, der, len);
    return 0;
}

static void drop_cert(struct ks_tls_config *cfg)
{
    for (size_t i = 0; i < cfg->chain_len; i++)
        ks__tls_free(cfg->chain[i].data);
    cfg->chain_len = 0;
    if (cfg->key_block != NULL) {
        RtlSecureZeroMemory(cfg->key_block, cfg->key_size);
        ks__tls_free(cfg->key_block);
    }
    cfg->key_block = NULL;
    cfg->key_size = 0;
    cfg->key_type = 0;
}

/* Compares two big-endian integers, ignoring leading zero bytes. */
static BOOLEAN same_integer(const unsigned char *a, size_t alen, const unsigned char *b,
                            size_t blen)
{
    while (alen > 0 && a[0] == 0) {
        a++;
        alen--;
    }
    while (blen > 0 && b[0] == 0) {
        b++;
        blen--;
    }
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* Is pk the public half of cfg's private key? */
static BOOLEAN key_matches(const struct ks_tls_config *cfg, const br_x509_pkey *pk)
{
    if (pk->key_type != cfg->key_type)
        return FALSE;
    if (pk->key_type == BR_KEYTYPE_RSA) {
        br_rsa_compute_modulus modulus = br_rsa_compute_modulus_get_default();
        size_t n_len = modulus(NULL, &cfg->rsa);
        unsigned char *n = n_len == 0 ? NULL : ks__tls_alloc(n_len);
        BOOLEAN same = n != NULL && modulus(n, &cfg->rsa) == n_len &&
                       same_integer(n, n_len, pk->key.rsa.n, pk->key.rsa.nlen);
        ks__tls_free(n);
        return same;
    }
    unsigned char q[BR_EC_KBUF_PUB_MAX_SIZE];
    br_ec_public_key pub;
    size_t q_len = br_ec_compute_pub(br_ec_get_default(), &pub, q, &cfg->ec);
    return q_len != 0 && pub.curve == pk->key.ec.curve && q_len == pk->key.ec.qlen &&
           memcmp(q, pk->key.ec.q, q_len) == 0;
}

/*
 * Every chain entry must decode as a certificate (a DER blob was taken as
 * is) and the first must hold the private key's public half: otherwise
 * every handshake would fail, far from the cause. ctx: the configuration.
 * 0 or -KS_ETLS_DECODE (-ENOMEM). Runs through ks__tls_on_big_stack: the
 * modulus and EC point computations use a few KiB of stack.
 */
static int check_chain(void *ctx)
{
    const struct ks_tls_config *cfg = ctx;
    br_x509_decoder_context *dc = ks__tls_alloc(sizeof(*dc));
    if (dc == NULL)
        return -ENOMEM;
    int err = 0;
    for (size_t i = 0; i < cfg->chain_len && err == 0; i++) {
        br_x509_decoder_init(dc, NULL, NULL);
        br_x509_decoder_push(dc, cfg->chain[i].data, cfg->chain[i].data_len);
        const br_x509_pkey *pk = br_x509_decoder_get_pkey(dc);
        if (pk == NULL || (i == 0 && !key_matches(cfg, pk)))
            err = -KS_ETLS_DECODE;
    }
    ks__tls_free(dc);
    return err;
}

int ks_tls_config_set_cert(struct ks_tls_config *cfg, const void *chain, size_t chain_len,
                           const void *key, size_t key_len)
{
    int err = check_config(cfg, KS_TLS_SERVER);
    if (err != 0)
        return err;
    if (chain == NULL || key == NULL)
        return -EFAULT;
    if (cfg->chain_len != 0)
        return -EINVAL;
    if (chain_len == 0 || key_len == 0 || chain_len > KS_TLS_FILE_MAX || key_len > KS_TLS_FILE_MAX)
        return -KS_ETLS_DECODE;
    struct cert_collect cc = {cfg, TRUE};
    err = each_object(chain, chain_len, cert_object, &cc);
    if (err > 0) {
        cc.want_certs = FALSE;
        err = each_object(key, key_len, cert_object, &cc);
    }
    if (err > 0)
        err = cfg->chain_len == 0 || cfg->key_type == 0 ? -KS_ETLS_DECODE
                                                        : ks__tls_on_big_stack(check_chain, cfg);
    else if (err == 0)
        err = -KS_ETLS_DECODE; /* nothing found */
    if (err < 0) {
        drop_cert(cfg);
        return err;
    }
    return 0;
}

/* A chain and a key read into pool blocks (files, registry values). */
struct cert_data {
    unsigned char *chain, *key;
    size_t chain_len, key_len;
};

/* ks_tls_config_set_cert with d if err (of reading it) is 0; then wipes
 * the key's copy and frees both. Returns the first error. */
static int set_cert_data(struct ks_tls_config *cfg, struct cert_data *d, int err)
{
    if (err == 0)
        err = ks_tls_config_set_cert(cfg, d->chain, d->chain_len, d->key, d->key_len);
    if (d->key != NULL)
        RtlSecureZeroMemory(d->key, d->key_len);
    ks__tls_free(d->key);
    ks__tls_free(d->chain);
    return err;
}

int ks_tls_config_set_cert_file(struct ks_tls_config *cfg, const char *chain_path,
                                const char *key_path)
{
    int err = check_config(cfg, KS_TLS_SERVER);
    if (err != 0)
        return err;
    if (chain_path == NULL || key_path == NULL)
        return -EFAULT;
    struct cert_data d = {0};
    err = ks__tls_read_file(chain_path, &d.chain, &d.chain_len);
    if (err == 0)
        err = ks__tls_read_file(key_path, &d.key, &d.key_len);
    return set_cert_data(cfg, &d, err);
}

int ks_tls_config_set_cert_param(struct ks_tls_config *cfg, const UNICODE_STRING *registry_path,
                                 const char *chain_name, const char *key_name)
{
    int err = check_config(cfg, KS_TLS_SERVER);
    if (err != 0)
        return err;
    if (registry_path == NULL || chain_name == NULL || key_name == NULL)
        return -EFAULT;
    struct cert_data d = {0};
    err = read_param(registry_path, chain_name, &d.chain, &d.chain_len);
    if (err == 0)
        err = read_param(registry_path, key_name, &d.key, &d.key_len);
    return set_cert_data(cfg, &d, err);
}
