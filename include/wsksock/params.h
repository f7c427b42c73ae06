/*
 * wsksock/params.h - read a driver's configuration from the registry.
 *
 * A driver's parameters live as values under its service key's Parameters
 * subkey: <RegistryPath>\Parameters, where RegistryPath is the second
 * argument of DriverEntry (for example
 * \Registry\Machine\System\CurrentControlSet\Services\kecho\Parameters,
 * value "Port" = "8888"). These helpers read one value each time they are
 * called; they keep no state and need neither ks_startup() nor ks_cleanup().
 *
 * IRQL: PASSIVE_LEVEL (registry access); above it they return -EPERM
 * (ks_param_get) or default_value (ks_param_get_int) and do nothing.
 * Temporary buffers come from ks_pool_alloc (wsksock/pool.h: nonpaged) with
 * the tag KS_PARAMS_POOL_TAG ("wskp") and are freed before returning.
 */
#ifndef WSKSOCK_PARAMS_H
#define WSKSOCK_PARAMS_H

#include <stddef.h>

#include <ntddk.h>

#include "errno.h"
#include "sal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Pool tag of the temporary buffers: "wskp" as seen in a pool dump. */
#define KS_PARAMS_POOL_TAG                                                                         \
    ((ULONG)'w' | ((ULONG)'s' << 8) | ((ULONG)'k' << 16) | ((ULONG)'p' << 24))

/*
 * ks_param_get - read the string value `name` of <registry_path>\Parameters.
 *
 * registry_path: the driver's service key, as passed to DriverEntry.
 * name:          the value name, a NUL-terminated ASCII string (1 to 255
 *                characters; registry value names are case-insensitive).
 * buf, size:     receive the value as a NUL-terminated UTF-8 string.
 *
 * The value must be REG_SZ or REG_EXPAND_SZ (the latter is returned as
 * stored, unexpanded). The text ends at its first NUL character or at the
 * end of the data, whichever comes first.
 *
 * Returns the string's length in bytes (without the NUL, so 0 for an empty
 * string), or
 *   -ENOENT   the Parameters key or the value does not exist;
 *   -EMSGSIZE the string and its NUL do not fit in size bytes (buf then
 *             holds an empty string if size > 0);
 *   -EINVAL   the value is not a string (REG_DWORD, REG_BINARY, ...) or not
 *             valid UTF-16 (an unpaired surrogate: text is never altered),
 *             name is empty or too long, registry_path is empty, or size
 *             is 0;
 *   -EFAULT   registry_path, its buffer, name or buf is NULL;
 *   -EPERM    called above PASSIVE_LEVEL;
 *   -ENOMEM   a temporary buffer could not be allocated;
 *   -EIO      any other registry failure.
 */
_Success_(return >= 0) _Must_inspect_result_
    _IRQL_requires_max_(PASSIVE_LEVEL) int ks_param_get(_In_ const UNICODE_STRING *registry_path,
                                                        _In_z_ const char *name,
                                                        _Out_writes_z_(size) char *buf,
                                                        size_t size);

/*
 * ks_param_get_int - read the value `name` of <registry_path>\Parameters
 * as an int.
 *
 * A REG_SZ/REG_EXPAND_SZ value holds a decimal number ("8888", "-5") or a
 * hexadecimal one with a 0x prefix ("0x22b8"); leading and trailing blanks
 * are ignored. A REG_DWORD value is taken as a signed 32-bit number.
 * Returns that number, or default_value when the value is absent, is not a
 * number, does not fit in an int, or cannot be read (any error of
 * ks_param_get). Same arguments and IRQL as ks_param_get.
 */
_IRQL_requires_max_(PASSIVE_LEVEL) int ks_param_get_int(_In_ const UNICODE_STRING *registry_path,
                                                        _In_z_ const char *name, int default_value);

/*
 * ks_param_get_bytes - read the value `name` of <registry_path>\Parameters
 * as bytes: larger data such as a certificate (see
 * ks_tls_config_add_trust_param in wsksock/tls.h).
 *
 * REG_BINARY:             the data as stored.
 * REG_SZ, REG_EXPAND_SZ:  the text as UTF-8 (to its first NUL), then a NUL.
 * REG_MULTI_SZ:           its strings as UTF-8 joined by '\n' (a PEM block
 *                         entered line by line), then a NUL.
 * Values hold at most 64 KiB.
 *
 * buf, size: receive the data; with buf NULL and size 0 nothing is copied
 * and the call returns the size a buffer needs (text: with its NUL). The
 * temporary copy of the value is wiped before it is freed (it may be a
 * secret such as a private key); wiping buf is the caller's business.
 *
 * Returns the number of bytes stored (without the NUL of text), or
 *   -ENOENT   the Parameters key or the value does not exist;
 *   -EMSGSIZE the data (and a text's NUL) do not fit in size bytes (buf
 *             then holds a partial copy: do not use it);
 *   -EINVAL   another type (REG_DWORD, ...), invalid UTF-16, a bad name
 *             or registry_path, or buf with size 0;
 *   -EFAULT   registry_path, its buffer or name is NULL, or buf is NULL
 *             with a size;
 *   -EPERM, -ENOMEM, -EIO as ks_param_get.
 */
_Success_(return >= 0) _Must_inspect_result_
    _IRQL_requires_max_(PASSIVE_LEVEL) int ks_param_get_bytes(
        _In_ const UNICODE_STRING *registry_path, _In_z_ const char *name,
        _Out_writes_bytes_opt_(size) void *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* WSKSOCK_PARAMS_H */
