/* ks_options.c - ks_setsockopt, ks_getsockopt; stored options applied to
 * the provider's sockets. */
#include "ks_options.h"

NTSTATUS ks_wsk_control(ks_sock *s, WSK_CONTROL_SOCKET_TYPE type, ULONG level, ULONG code,
                        SIZE_T in_size, PVOID in, SIZE_T out_size, PVOID out, SIZE_T *returned)
{
    /* Every WSK dispatch table starts with Basic (WskControlSocket). */
    const WSK_PROVIDER_BASIC_DISPATCH *d = (const WSK_PROVIDER_BASIC_DISPATCH *)s->wsk->Dispatch;
    SIZE_T dummy = 0;
    if (ks_call_enter(s, -1, 0) != 0)
        return STATUS_CANCELLED;
    PIRP irp = ks_op_begin(&s->ctl);
    NTSTATUS status = d->WskControlSocket(s->wsk, type, code, level, in_size, in, out_size, out,
                                          returned != NULL ? returned : &dummy, irp);
    ks_call_leave(s);
    return ks_op_wait(&s->ctl, status, NULL, NULL);
}

static void forget_opt(ks_sock *s, ULONG i)
{
    for (; i + 1 < s->nopts; i++)
        s->opts[i] = s->opts[i + 1];
    s->nopts--;
}

NTSTATUS ks_opts_apply(ks_sock *s)
{
    if (s->family == AF_INET6 && !s->v6only) {
        ULONG off = 0;
        NTSTATUS status = ks_wsk_control(s, WskSetOption, IPPROTO_IPV6, IPV6_V6ONLY, sizeof(off),
                                         &off, 0, NULL, NULL);
        if (!NT_SUCCESS(status)) {
            s->v6only = TRUE;
            return status;
        }
    }
    for (ULONG i = 0; i < s->nopts; i++) {
        ULONG value = s->opts[i].value;
        NTSTATUS status =
            ks_wsk_control(s, WskSetOption, (ULONG)s->opts[i].level, (ULONG)s->opts[i].name,
                           sizeof(value), &value, 0, NULL, NULL);
        if (!NT_SUCCESS(status)) {
            forget_opt(s, i);
            return status;
        }
    }
    return STATUS_SUCCESS;
}

void ks_opts_inherit(ks_sock *n, const ks_sock *l)
{
    RtlCopyMemory(n->opts, l->opts, sizeof(n->opts));
    n->nopts = l->nopts;
    n->rcvtimeo_ms = l->rcvtimeo_ms;
    n->sndtimeo_ms = l->sndtimeo_ms;
    n->linger_on = l->linger_on;
    n->linger_secs = l->linger_secs;
    n->v6only = l->v6only;
}
