/*
 * ks_utf.h - UTF-8 <-> UTF-16 conversion for the names WSK takes and gives
 * (UNICODE_STRING is UTF-16; the BSD API is UTF-8).
 *
 * Both directions are strict: invalid input is rejected, never replaced.
 * UTF-8 input must be well-formed (no overlong forms, no encoded surrogates,
 * nothing above U+10FFFF, no truncated sequence); UTF-16 input must have
 * its surrogates paired and no NUL unit (a C string could not hold it).
 * IRQL: any (no kernel services are used).
 */
#ifndef KS_UTF_H
#define KS_UTF_H

#include "ks_kernel.h"

/*
 * UTF-8 (NUL-terminated src) to UTF-16 in dst, room for dst_units units.
 * The result is NUL-terminated when the NUL fits too (dst_units > count).
 * dst may be NULL (with dst_units 0) to measure.
 * Returns the number of UTF-16 units without the NUL, or -EINVAL (invalid
 * UTF-8) or -ENOBUFS (dst too small; with dst NULL never).
 */
_Must_inspect_result_ _IRQL_requires_max_(HIGH_LEVEL)
long ks__utf8_to_utf16(_In_z_ const char *src, _Out_writes_opt_(dst_units) WCHAR *dst,
                       size_t dst_units);

/*
 * UTF-16 (src_units units, not NUL-terminated) to UTF-8 in dst, room for
 * dst_size bytes including the terminating NUL (always written when
 * dst_size > 0 and the text fits). dst may be NULL (dst_size 0) to measure.
 * Returns the number of bytes without the NUL, or -EINVAL (invalid UTF-16:
 * an unpaired surrogate, a NUL unit) or -ENOBUFS (text and NUL do not fit).
 */
_Must_inspect_result_ _IRQL_requires_max_(HIGH_LEVEL)
long ks__utf16_to_utf8(_In_reads_(src_units) const WCHAR *src, size_t src_units,
                       _Out_writes_opt_(dst_size) char *dst, size_t dst_size);

#endif /* KS_UTF_H */
