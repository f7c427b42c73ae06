/*
 * ks_options.h - socket options kept by the library and handed to the
 * provider (ks_options.c).
 *
 * A stream socket has no WSK socket until bind, connect or listen (see
 * ks_stream.c), and ks_listen replaces the one it has; so options are
 * remembered in the ks_sock and given to every WSK socket the library
 * creates for it, before that socket is bound (SO_REUSEADDR,
 * SO_EXCLUSIVEADDRUSE and IPV6_V6ONLY only mean something then).
 */
#ifndef KS_OPTIONS_H
#define KS_OPTIONS_H

#include "ks_socket.h"

/* Gives the stored options (and IPV6_V6ONLY 0) to s->wsk, just created and
 * not yet bound (ctl lock held). An option the provider refuses is
 * forgotten, so that a retried bind does not fail the same way: the call
 * that created the socket reports the refusal. */
_Must_inspect_result_ _Requires_lock_held_(s->ctl_lock) NTSTATUS ks__opts_apply(_Inout_ ks_sock *s);

/* Creates s->wsk of the given kind with the stored options applied, bound
 * to addr; on failure nothing is left open. ctl lock held. */
_Must_inspect_result_ _Requires_lock_held_(s->ctl_lock) NTSTATUS
    ks__sock_create_bound(_Inout_ ks_sock *s, ULONG kind, _In_ const ks_addr *addr);

/* One provider option remembered, and a socket's set of them. */
struct ks_stored_opt {
    int level, name;
    ULONG value; /* int/BOOL value; SO_LINGER: onoff | seconds << 16 */
};
struct ks_stored_opts {
    ULONG count;
    struct ks_stored_opt opt[KS_MAX_STORED_OPTS];
};

/* An accepted socket n (not yet visible to other threads) takes the options
 * of its listening socket l, as on Windows (the provider's accepted socket
 * inherits its own settings). 0, or -ENOMEM (n then has none of them). */
_Must_inspect_result_ int ks__opts_inherit(_Inout_ ks_sock *n, _In_ const ks_sock *l);

/* WskControlSocket on s->wsk (ctl lock held; see ks_sock_wsk_* in
 * ks_socket.h). */
_Must_inspect_result_ _Requires_lock_held_(s->ctl_lock) NTSTATUS
    ks__sock_wsk_control(_Inout_ ks_sock *s, WSK_CONTROL_SOCKET_TYPE type, ULONG level, ULONG code,
                         SIZE_T in_size, _In_reads_bytes_opt_(in_size) PVOID in, SIZE_T out_size,
                         _Out_writes_bytes_opt_(out_size) PVOID out, _Out_opt_ SIZE_T *returned);

#endif /* KS_OPTIONS_H */
