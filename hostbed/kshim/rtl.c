/*
 * rtl.c - the few Rtl routines that are functions in ntddk.h
 * (RtlCompareMemory, RtlInitUnicodeString, RtlInitAnsiString) and the
 * shim's UTF-16 <-> UTF-8 conversions (WCHAR is 16 bits here: -fshort-wchar,
 * so libc's wide-character functions must not be used).
 */
#include "kshim_internal.h"

#include <stdlib.h>

/* RtlCompareMemory (wdm.h): the number of leading bytes that match. */
SIZE_T RtlCompareMemory(const void *a, const void *b, SIZE_T length)
{
    const UCHAR *p = a, *q = b;
    SIZE_T i = 0;
    while (i < length && p[i] == q[i])
        i++;
    return i;
}

/* RtlInitUnicodeString (wdm.h): Length without the terminator,
 * MaximumLength with it; a NULL source gives an empty string. */
void RtlInitUnicodeString(PUNICODE_STRING dest, PCWSTR source)
{
    size_t n = 0;
    dest->Buffer = (PWSTR)source;
    if (source == NULL) {
        dest->Length = dest->MaximumLength = 0;
        return;
    }
    while (source[n] != 0)
        n++;
    if (n > 0x7ffe)
        n = 0x7ffe; /* Windows: MAX_USTRING 0xfffe bytes including the terminator */
    dest->Length = (USHORT)(n * sizeof(WCHAR));
    dest->MaximumLength = (USHORT)(dest->Length + sizeof(WCHAR));
}

void RtlInitAnsiString(PANSI_STRING dest, PCSZ source)
{
    size_t n = source != NULL ? strlen(source) : 0;
    dest->Buffer = (PCHAR)source;
    if (n > 0xfffe)
        n = 0xfffe;
    dest->Length = (USHORT)n;
    dest->MaximumLength = (USHORT)(source != NULL ? n + 1 : 0);
}

char *kshim_utf16_to_utf8(const WCHAR *s, size_t n)
{
    size_t len = 0, i, cap;
    char *out;

    if (n == (size_t)-1)
        for (n = 0; s[n] != 0; n++)
            ;
    cap = n * 3 + 1; /* a unit is at most 3 bytes; a pair is 4 bytes for 2 units */
    out = malloc(cap);
    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        ULONG c = s[i];
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && s[i + 1] >= 0xdc00 && s[i + 1] <= 0xdfff) {
            c = 0x10000 + ((c - 0xd800) << 10) + (ULONG)(s[i + 1] - 0xdc00);
            i++;
        } else if (c >= 0xd800 && c <= 0xdfff) {
            c = 0xfffd;
        }
        if (c < 0x80) {
            out[len++] = (char)c;
        } else if (c < 0x800) {
            out[len++] = (char)(0xc0 | (c >> 6));
            out[len++] = (char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) {
            out[len++] = (char)(0xe0 | (c >> 12));
            out[len++] = (char)(0x80 | ((c >> 6) & 0x3f));
            out[len++] = (char)(0x80 | (c & 0x3f));
        } else {
            out[len++] = (char)(0xf0 | (c >> 18));
            out[len++] = (char)(0x80 | ((c >> 12) & 0x3f));
            out[len++] = (char)(0x80 | ((c >> 6) & 0x3f));
            out[len++] = (char)(0x80 | (c & 0x3f));
        }
    }
    out[len] = '\0';
    return out;
}

WCHAR *kshim_utf8_to_utf16(const char *s, size_t *units)
{
    const UCHAR *p = (const UCHAR *)s;
    size_t n = strlen(s), len = 0, i = 0;
    WCHAR *out = malloc((n + 1) * sizeof(WCHAR));

    if (out == NULL)
        return NULL;
    while (i < n) {
        ULONG c = p[i], min;
        int extra;
        if (c < 0x80) {
            extra = 0;
            min = 0;
        } else if ((c & 0xe0) == 0xc0) {
            extra = 1;
            c &= 0x1f;
            min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2;
            c &= 0x0f;
            min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3;
            c &= 0x07;
            min = 0x10000;
        } else {
            goto bad;
        }
        if (n - i <= (size_t)extra) /* truncated sequence */
            goto bad;
        for (int k = 1; k <= extra; k++) {
            if ((p[i + (size_t)k] & 0xc0) != 0x80)
                goto bad;
            c = (c << 6) | (p[i + (size_t)k] & 0x3f);
        }
        /* Overlong forms, surrogates and values above U+10FFFF are invalid. */
        if (c < min || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
            goto bad;
        if (c >= 0x10000) {
            c -= 0x10000;
            out[len++] = (WCHAR)(0xd800 + (c >> 10));
            out[len++] = (WCHAR)(0xdc00 + (c & 0x3ff));
        } else {
            out[len++] = (WCHAR)c;
        }
        i += (size_t)extra + 1;
    }
    out[len] = 0;
    if (units != NULL)
        *units = len;
    return out;
bad:
    free(out);
    return NULL;
}
