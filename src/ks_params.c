/*
 * ks_params.c - read driver parameters (REG_SZ, REG_DWORD; REG_BINARY and
 * REG_MULTI_SZ as bytes) from <RegistryPath>\Parameters (see
 * include/wsksock/params.h).
 */
#include "ks_kernel.h"
#include "ks_utf.h"
#include "wsksock/params.h"

#include <limits.h>

#define KS_PARAMS_SUBKEY L"\\Parameters"
#define KS_PARAMS_MAX_NAME 255
/* Largest value data read: 64 KiB is far above any sensible parameter. */
#define KS_PARAMS_MAX_DATA (64u * 1024u)

/* The library's allocator (nonpaged, short-lived and small), under the
 * tag params.h documents. */
#define params_alloc(size) ks__alloc((size), KS_PARAMS_POOL_TAG)
#define params_free(p) ks__free((p), KS_PARAMS_POOL_TAG)

/* A failed registry call's errno: never 0. */
static int params_errno(NTSTATUS st)
{
    int err = ks__status_to_errno(st);
    return err != 0 ? err : -EIO;
}

/* Opens <registry_path>\Parameters for reading. */
static int open_params_key(const UNICODE_STRING *registry_path, HANDLE *key)
{
    static const WCHAR subkey[] = KS_PARAMS_SUBKEY;
    const size_t sub_bytes = sizeof(subkey) - sizeof(WCHAR);
    size_t total = (size_t)registry_path->Length + sub_bytes;
    UNICODE_STRING path;
    OBJECT_ATTRIBUTES oa;
    WCHAR *p;
    NTSTATUS st;

    if (total > 0xfffeu)
        return -EINVAL;
    p = params_alloc(total + sizeof(WCHAR));
    if (!p)
        return -ENOMEM;
    RtlCopyMemory(p, registry_path->Buffer, registry_path->Length);
    RtlCopyMemory((UCHAR *)p + registry_path->Length, subkey, sub_bytes);
    p[total / sizeof(WCHAR)] = L'\0';
    path.Buffer = p;
    path.Length = (USHORT)total;
    path.MaximumLength = (USHORT)(total + sizeof(WCHAR));

    InitializeObjectAttributes(&oa, &path, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL, NULL);
    st = ZwOpenKey(key, KEY_READ, &oa);
    params_free(p);
    return NT_SUCCESS(st) ? 0 : params_errno(st);
}

/*
 * Reads value `name` into a freshly allocated KEY_VALUE_PARTIAL_INFORMATION
 * (*info, to be freed with params_free). Returns 0 or a negative errno.
 */
static int query_value(const UNICODE_STRING *registry_path, const char *name,
                       KEY_VALUE_PARTIAL_INFORMATION **info)
{
    WCHAR wname[KS_PARAMS_MAX_NAME + 1];
    UNICODE_STRING uname;
    KEY_VALUE_PARTIAL_INFORMATION *kv = NULL;
    ULONG size, needed = 0;
    HANDLE key;
    NTSTATUS st;
    size_t i;
    int err;

    *info = NULL;
    if (!registry_path || !registry_path->Buffer || !name)
        return -EFAULT;
    if (registry_path->Length == 0 || registry_path->Length % sizeof(WCHAR) != 0)
        return -EINVAL;
    for (i = 0; name[i]; i++) {
        unsigned char c = (unsigned char)name[i];
        if (i >= KS_PARAMS_MAX_NAME || c >= 0x80 || c < 0x20 || c == '\\')
            return -EINVAL;
        wname[i] = (WCHAR)c;
    }
    if (i == 0)
        return -EINVAL;
    wname[i] = L'\0';
    uname.Buffer = wname;
    uname.Length = (USHORT)(i * sizeof(WCHAR));
    uname.MaximumLength = (USHORT)((i + 1) * sizeof(WCHAR));

    if (!ks__can_block())
        return -EPERM;

    err = open_params_key(registry_path, &key);
    if (err)
        return err;

    /* Small first guess; grown once to the size the registry reports. */
    size = (ULONG)(FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION, Data) + 64);
    for (;;) {
        kv = params_alloc(size);
        if (!kv) {
            err = -ENOMEM;
            break;
        }
        st = ZwQueryValueKey(key, &uname, KeyValuePartialInformation, kv, size, &needed);
        if (NT_SUCCESS(st)) {
            if (kv->DataLength > size - FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION, Data)) {
                err = -EIO; /* inconsistent answer */
                break;
            }
            err = 0;
            break;
        }
        params_free(kv);
        kv = NULL;
        if ((st == STATUS_BUFFER_OVERFLOW || st == STATUS_BUFFER_TOO_SMALL) && needed > size &&
            needed <= FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION, Data) + KS_PARAMS_MAX_DATA) {
            size = needed;
            continue;
        }
        if (st == STATUS_BUFFER_OVERFLOW || st == STATUS_BUFFER_TOO_SMALL)
            err = -EMSGSIZE; /* absurdly large value */
        else
            err = params_errno(st);
        break;
    }
    ZwClose(key);
    if (err) {
        params_free(kv);
        return err;
    }
    *info = kv;
    return 0;
}

/*
 * Appends the UTF-16 text src[0..units) as UTF-8 at buf + *pos (measures
 * only when buf is NULL), leaving room for a NUL after it. 0, -EMSGSIZE or
 * -EINVAL (invalid UTF-16).
 */
static int append_utf8(const WCHAR *src, size_t units, char *buf, size_t size, size_t *pos)
{
    long n;
    if (buf == NULL) {
        n = ks__utf16_to_utf8(src, units, NULL, 0);
    } else {
        if (*pos >= size)
            return -EMSGSIZE;
        n = ks__utf16_to_utf8(src, units, buf + *pos, size - *pos);
    }
    if (n == -ENOBUFS)
        return -EMSGSIZE;
    if (n < 0)
        return (int)n;
    *pos += (size_t)n;
    return 0;
}

/*
 * A value's data as ks_param_get_bytes documents: REG_BINARY as is, text
 * as UTF-8 (REG_MULTI_SZ: its strings joined by newlines), the one text
 * conversion of every ks_param_get* (the library's strict UTF-16 rules,
 * ks_utf.h). buf NULL: measures. Returns the length (without the NUL of
 * text), or -EMSGSIZE, -EINVAL.
 */
static long value_bytes(const KEY_VALUE_PARTIAL_INFORMATION *kv, char *buf, size_t size)
{
    const WCHAR *w = (const WCHAR *)kv->Data;
    size_t units = kv->DataLength / sizeof(WCHAR), pos = 0, i = 0;
    int err = 0;

    switch (kv->Type) {
    case REG_BINARY:
        if (buf != NULL) {
            if (kv->DataLength > size)
                return -EMSGSIZE;
            RtlCopyMemory(buf, kv->Data, kv->DataLength);
        }
        return (long)kv->DataLength;
    case REG_SZ:
    case REG_EXPAND_SZ:
        while (i < units && w[i] != 0)
            i++;
        err = append_utf8(w, i, buf, size, &pos);
        break;
    case REG_MULTI_SZ:
        /* "one\0two\0\0": stops at the empty string or the data's end. */
        while (err == 0 && i < units && w[i] != 0) {
            size_t start = i;
            while (i < units && w[i] != 0)
                i++;
            if (pos > 0) {
                if (buf != NULL && pos + 1 >= size)
                    err = -EMSGSIZE;
                else if (buf != NULL)
                    buf[pos] = '\n';
                pos++;
            }
            if (err == 0)
                err = append_utf8(w + start, i - start, buf, size, &pos);
            i++; /* the string's NUL */
        }
        if (err == 0 && buf != NULL)
            buf[pos] = '\0'; /* also for an empty list */
        break;
    default:
        return -EINVAL;
    }
    if (err != 0)
        return err;
    return (long)pos;
}

int ks_param_get(const UNICODE_STRING *registry_path, const char *name, char *buf, size_t size)
{
    KEY_VALUE_PARTIAL_INFORMATION *kv;
    int ret;

    if (!buf)
        return -EFAULT;
    if (size == 0)
        return -EINVAL;
    ret = query_value(registry_path, name, &kv);
    if (ret)
        return ret;
    if (kv->Type != REG_SZ && kv->Type != REG_EXPAND_SZ) {
        ret = -EINVAL;
    } else {
        ret = (int)value_bytes(kv, buf, size);
        if (ret == -EMSGSIZE)
            buf[0] = '\0';
    }
    params_free(kv);
    return ret;
}

int ks_param_get_bytes(const UNICODE_STRING *registry_path, const char *name, void *buf,
                       size_t size)
{
    KEY_VALUE_PARTIAL_INFORMATION *kv;
    long n;
    int ret;

    if (buf == NULL && size != 0)
        return -EFAULT;
    if (buf != NULL && size == 0)
        return -EINVAL;
    ret = query_value(registry_path, name, &kv);
    if (ret)
        return ret;
    n = value_bytes(kv, (char *)buf, size);
    if (n >= 0 && buf == NULL && kv->Type != REG_BINARY)
        n++; /* the room a call needs: the text and its NUL */
    /* The data may be a secret (a TLS private key): no copy left behind. */
    RtlSecureZeroMemory(kv->Data, kv->DataLength);
    params_free(kv);
    /* At most KS_PARAMS_MAX_DATA * 3 / 2 + 1 (UTF-8 of 64 KiB of UTF-16). */
    return (int)n;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Parses a decimal or 0x-hexadecimal int; returns 0 on success. */
static int parse_int(const char *s, int *out)
{
    unsigned int base = 10;
    unsigned long long v = 0;
    int neg = 0, digits = 0;

    while (is_blank(*s))
        s++;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    for (int d; (d = ks__hex_digit(*s)) >= 0 && d < (int)base; s++, digits++) {
        v = v * base + (unsigned int)d;
        if (v > (unsigned long long)INT_MAX + 1)
            return -1;
    }
    while (is_blank(*s))
        s++;
    if (digits == 0 || *s != '\0')
        return -1;
    if (neg) {
        *out = v == (unsigned long long)INT_MAX + 1 ? INT_MIN : -(int)v;
    } else {
        if (v > INT_MAX)
            return -1;
        *out = (int)v;
    }
    return 0;
}

int ks_param_get_int(const UNICODE_STRING *registry_path, const char *name, int default_value)
{
    KEY_VALUE_PARTIAL_INFORMATION *kv;
    char text[64];
    int v = default_value;

    if (query_value(registry_path, name, &kv))
        return default_value;
    if (kv->Type == REG_DWORD && kv->DataLength == sizeof(ULONG)) {
        ULONG d;
        RtlCopyMemory(&d, kv->Data, sizeof(d));
        v = (int)(LONG)d;
    } else if (kv->Type == REG_SZ || kv->Type == REG_EXPAND_SZ) {
        if (value_bytes(kv, text, sizeof(text)) < 0 || parse_int(text, &v) != 0)
            v = default_value;
    }
    params_free(kv);
    return v;
}
