/* ks_inet.c - text <-> binary IPv4/IPv6 addresses (no kernel services used). */
#include "ks_kernel.h"

/* Parses exactly a dotted quad "a.b.c.d" (decimal, no leading zeros beyond
 * "0", each part <= 255) up to the end of the string. */
static int pton4(const char *src, uint8_t out[4])
{
    int part = 0;
    for (;;) {
        unsigned value = 0;
        int digits = 0;
        while (*src >= '0' && *src <= '9') {
            if (digits > 0 && value == 0)
                return 0; /* leading zero */
            value = value * 10 + (unsigned)(*src - '0');
            if (value > 255)
                return 0;
            digits++;
            src++;
        }
        if (digits == 0)
            return 0;
        out[part++] = (uint8_t)value;
        if (part == 4)
            return *src == '\0';
        if (*src != '.')
            return 0;
        src++;
    }
}

static int pton6(const char *src, uint8_t out[16])
{
    uint8_t tmp[16] = {0};
    int len = 0;  /* bytes written to tmp */
    int gap = -1; /* where "::" was seen, in bytes */

    if (src[0] == ':') {
        if (src[1] != ':')
            return 0;
        src++; /* the loop below sees the second ':' as the "::" */
    }
    while (*src != '\0') {
        if (*src == ':') {
            if (gap >= 0)
                return 0; /* a second "::" */
            gap = len;
            src++;
            if (*src == '\0')
                break;
        }
        /* A group: up to 4 hex digits, or an embedded IPv4 at the end. */
        const char *start = src;
        unsigned value = 0;
        int digits = 0;
        while (ks__hex_digit(*src) >= 0) {
            if (digits == 4)
                return 0;
            value = (value << 4) | (unsigned)ks__hex_digit(*src);
            digits++;
            src++;
        }
        if (*src == '.') {
            if (len > 12 || pton4(start, tmp + len) != 1)
                return 0;
            len += 4;
            break;
        }
        if (digits == 0 || len > 14)
            return 0;
        tmp[len++] = (uint8_t)(value >> 8);
        tmp[len++] = (uint8_t)value;
        if (*src == ':') {
            src++;
            if (*src == '\0')
                return 0; /* trailing single ':' */
            if (*src == ':') {
                continue; /* "::" handled at the top */
            }
        } else if (*src != '\0') {
            return 0;
        }
    }
    if (gap >= 0) {
        if (len == 16)
            return 0; /* "::" must stand for at least one group */
        int tail = len - gap;
        RtlZeroMemory(out, 16);
        RtlCopyMemory(out, tmp, (SIZE_T)gap);
        RtlCopyMemory(out + 16 - tail, tmp + gap, (SIZE_T)tail);
        return 1;
    }
    if (len != 16)
        return 0;
    RtlCopyMemory(out, tmp, 16);
    return 1;
}

int ks_inet_pton(int af, const char *src, void *dst)
{
    if (af != AF_INET && af != AF_INET6)
        return -EAFNOSUPPORT;
    if (src == NULL || dst == NULL)
        return -EFAULT;
    if (af == AF_INET) {
        uint8_t a[4];
        if (pton4(src, a) != 1)
            return 0;
        RtlCopyMemory(dst, a, 4);
        return 1;
    }
    uint8_t a6[16];
    if (pton6(src, a6) != 1)
        return 0;
    RtlCopyMemory(dst, a6, 16);
    return 1;
}

/* Appends text to out[pos..size); returns the new position or -1. */
static int put_str(char *out, size_t size, int pos, const char *text)
{
    while (*text != '\0') {
        if ((size_t)pos + 1 >= size)
            return -1;
        out[pos++] = *text++;
    }
    out[pos] = '\0';
    return pos;
}

int ks__decimal(ULONG v, char *buf)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (int i = 0; i < n; i++)
        buf[i] = digits[n - 1 - i];
    buf[n] = '\0';
    return n;
}

static int put_dec(char *out, size_t size, int pos, unsigned v)
{
    char text[11];
    (void)ks__decimal(v, text);
    return put_str(out, size, pos, text);
}

static int put_hex(char *out, size_t size, int pos, unsigned v)
{
    static const char hex[] = "0123456789abcdef";
    char text[5];
    int n = 0;
    int shift = 12;
    while (shift > 0 && ((v >> shift) & 0xf) == 0)
        shift -= 4;
    for (; shift >= 0; shift -= 4)
        text[n++] = hex[(v >> shift) & 0xf];
    text[n] = '\0';
    return put_str(out, size, pos, text);
}

static int ntop4(const uint8_t *a, char *dst, size_t size, int pos)
{
    for (int i = 0; i < 4 && pos >= 0; i++) {
        if (i > 0)
            pos = put_str(dst, size, pos, ".");
        if (pos >= 0)
            pos = put_dec(dst, size, pos, a[i]);
    }
    return pos;
}

static int ntop6(const uint8_t *a, char *dst, size_t size)
{
    unsigned words[8];
    for (int i = 0; i < 8; i++)
        words[i] = ((unsigned)a[2 * (size_t)i] << 8) | a[2 * (size_t)i + 1];

    /* RFC 5952: the longest run (>= 2) of zero groups becomes "::". */
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (words[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && words[j] == 0)
            j++;
        if (j - i > best_len && j - i >= 2) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }

    int pos = 0;
    dst[0] = '\0';
    /* IPv4-mapped addresses end in dotted decimal: ::ffff:a.b.c.d. */
    BOOLEAN mapped = best == 0 && best_len == 5 && words[5] == 0xffff;
    for (int i = 0; i < 8 && pos >= 0; i++) {
        if (i == best) {
            pos = put_str(dst, size, pos, "::");
            i += best_len - 1;
            continue;
        }
        if (mapped && i == 6) {
            pos = put_str(dst, size, pos, ":");
            return pos < 0 ? pos : ntop4(a + 12, dst, size, pos);
        }
        if (i > 0 && i != best + best_len)
            pos = put_str(dst, size, pos, ":");
        if (pos >= 0)
            pos = put_hex(dst, size, pos, words[i]);
    }
    return pos;
}

const char *ks_inet_ntop(int af, const void *src, char *dst, size_t size)
{
    if (src == NULL || dst == NULL || size == 0)
        return NULL;
    int pos;
    if (af == AF_INET) {
        dst[0] = '\0';
        pos = ntop4((const uint8_t *)src, dst, size, 0);
    } else if (af == AF_INET6) {
        pos = ntop6((const uint8_t *)src, dst, size);
    } else {
        return NULL;
    }
    if (pos < 0) {
        dst[0] = '\0';
        return NULL;
    }
    return dst;
}
