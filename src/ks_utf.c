/* ks_utf.c - strict UTF-8 <-> UTF-16 conversion (see ks_utf.h). */
#include "ks_utf.h"

/* Decodes one code point at *p (advanced past it); -1 if malformed. */
static long decode_utf8(const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned long c;
    unsigned long min;
    int extra;

    if (s[0] < 0x80) {
        *p = s + 1;
        return (long)s[0];
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        c = s[0] & 0x1fu;
        extra = 1;
        min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        c = s[0] & 0x0fu;
        extra = 2;
        min = 0x800;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        c = s[0] & 0x07u;
        extra = 3;
        min = 0x10000;
    } else {
        return -1; /* continuation byte, 0xc0/0xc1 (overlong), 0xf5.. */
    }
    for (int i = 1; i <= extra; i++) {
        /* Stops at the NUL too: a truncated sequence is malformed. */
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        c = (c << 6) | (s[i] & 0x3fu);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return -1; /* overlong, out of range, or an encoded surrogate */
    *p = s + 1 + extra;
    return (long)c;
}

long ks__utf8_to_utf16(const char *src, WCHAR *dst, size_t dst_units)
{
    const unsigned char *p = (const unsigned char *)src;
    size_t n = 0;
    BOOLEAN overflow = FALSE;

    while (*p != 0) {
        long c = decode_utf8(&p);
        if (c < 0)
            return -EINVAL;
        size_t units = c >= 0x10000 ? 2 : 1;
        if (dst == NULL || n + units > dst_units) {
            overflow = dst != NULL;
        } else if (units == 2) {
            unsigned long v = (unsigned long)c - 0x10000;
            dst[n] = (WCHAR)(0xd800 + (v >> 10));
            dst[n + 1] = (WCHAR)(0xdc00 + (v & 0x3ff));
        } else {
            dst[n] = (WCHAR)c;
        }
        n += units;
        if (n > (size_t)0x7fffffff)
            return -ENOBUFS;
    }
    if (overflow)
        return -ENOBUFS;
    if (dst != NULL && n < dst_units)
        dst[n] = 0;
    return (long)n;
}

long ks__utf16_to_utf8(const WCHAR *src, size_t src_units, char *dst, size_t dst_size)
{
    size_t n = 0;

    for (size_t i = 0; i < src_units; i++) {
        unsigned long c = src[i];
        unsigned char out[4];
        size_t len;

        if (c == 0)
            return -EINVAL;
        if (c >= 0xd800 && c <= 0xdbff) {
            if (i + 1 >= src_units || src[i + 1] < 0xdc00 || src[i + 1] > 0xdfff)
                return -EINVAL;
            c = 0x10000 + ((c - 0xd800) << 10) + ((unsigned long)src[i + 1] - 0xdc00);
            i++;
        } else if (c >= 0xdc00 && c <= 0xdfff) {
            return -EINVAL;
        }
        if (c < 0x80) {
            out[0] = (unsigned char)c;
            len = 1;
        } else if (c < 0x800) {
            out[0] = (unsigned char)(0xc0 | (c >> 6));
            out[1] = (unsigned char)(0x80 | (c & 0x3f));
            len = 2;
        } else if (c < 0x10000) {
            out[0] = (unsigned char)(0xe0 | (c >> 12));
            out[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
            out[2] = (unsigned char)(0x80 | (c & 0x3f));
            len = 3;
        } else {
            out[0] = (unsigned char)(0xf0 | (c >> 18));
            out[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
            out[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
            out[3] = (unsigned char)(0x80 | (c & 0x3f));
            len = 4;
        }
        if (dst != NULL && n + len < dst_size)
            RtlCopyMemory(dst + n, out, len);
        n += len;
        if (n > (size_t)0x7fffffff)
            return -ENOBUFS;
    }
    if (dst != NULL) {
        if (n >= dst_size) {
            if (dst_size > 0)
                dst[0] = '\0';
            return -ENOBUFS;
        }
        dst[n] = '\0';
    }
    return (long)n;
}
