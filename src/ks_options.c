/* ks_options.c - ks_setsockopt, ks_getsockopt; stored options applied to
 * the provider's sockets. */
#include "ks_options.h"
#include "ks_descriptor.h"
#include "ks_wsk.h"

NTSTATUS ks__sock_wsk_control(ks_sock *s, WSK_CONTROL_SOCKET_TYPE type, ULONG level, ULONG code,
                              SIZE_T in_size, PVOID in, SIZE_T out_size, PVOID out,
                              SIZE_T *returned)
{
    KS_ASSERT(ks__lock_held_by_me(&s->ctl_lock));
    if (!NT_SUCCESS(ks__op_prepare(&s->ctl)))
        return STATUS_INSUFFICIENT_RESOURCES;
    PWSK_SOCKET wsk;
    int err = ks__call_enter(s, -1, 0, &wsk);
    NTSTATUS status = ks__errno_status(err);
    if (err == 0) {
        SIZE_T dummy = 0;
        PIRP irp = ks__op_begin(&s->ctl);
        status = ks__wsk_control_socket(wsk, type, code, level, in_size, in, out_size, out,
                                        returned != NULL ? returned : &dummy, irp);
        ks__call_leave(s);
        status = ks__op_wait(&s->ctl, status, NULL, NULL);
    }
    ks__op_drop(&s->ctl);
    return status;
}

static void forget_opt(ks_sock *s, ULONG i)
{
    struct ks_stored_opts *o = s->opts;
    for (; i + 1 < o->count; i++)
        o->opt[i] = o->opt[i + 1];
    o->count--;
}

NTSTATUS ks__opts_apply(ks_sock *s)
{
    KS_ASSERT(ks__lock_held_by_me(&s->ctl_lock) && s->wsk != NULL); /* just created */
    if (s->family == AF_INET6 && !s->v6only) {
        ULONG off = 0;
        NTSTATUS status = ks__sock_wsk_control(s, WskSetOption, IPPROTO_IPV6, IPV6_V6ONLY,
                                               sizeof(off), &off, 0, NULL, NULL);
        if (!NT_SUCCESS(status)) {
            s->v6only = TRUE;
            return status;
        }
    }
    for (ULONG i = 0; s->opts != NULL && i < s->opts->count; i++) {
        const struct ks_stored_opt *o = &s->opts->opt[i];
        ULONG value = o->value;
        NTSTATUS status = ks__sock_wsk_control(s, WskSetOption, (ULONG)o->level, (ULONG)o->name,
                                               sizeof(value), &value, 0, NULL, NULL);
        if (!NT_SUCCESS(status)) {
            forget_opt(s, i);
            return status;
        }
    }
    return STATUS_SUCCESS;
}

NTSTATUS ks__sock_create_bound(ks_sock *s, ULONG kind, const ks_addr *addr)
{
    KS_ASSERT(ks__lock_held_by_me(&s->ctl_lock));
    NTSTATUS status = ks__sock_wsk_create(s, kind);
    if (!NT_SUCCESS(status))
        return status;
    status = ks__opts_apply(s); /* before the bind: address reuse, V6ONLY */
    if (NT_SUCCESS(status))
        status = ks__sock_wsk_bind(s, (const SOCKADDR *)addr);
    if (!NT_SUCCESS(status))
        ks__sock_wsk_close(s);
    return status;
}

int ks__opts_inherit(ks_sock *n, const ks_sock *l)
{
    KS_ASSERT(n->opts == NULL); /* new */
    const struct ks_stored_opts *from = l->opts;
    if (from != NULL) {
        n->opts = (struct ks_stored_opts *)ks__alloc(sizeof(*n->opts), KS_TAG_MISC);
        if (n->opts == NULL)
            return -ENOMEM;
        *n->opts = *from;
    }
    n->rcvtimeo_ms = l->rcvtimeo_ms;
    n->sndtimeo_ms = l->sndtimeo_ms;
    n->linger_on = l->linger_on;
    n->linger_secs = l->linger_secs;
    n->v6only = l->v6only;
    return 0;
}

/* ---- ks_setsockopt / ks_getsockopt ---- */

/* Where an option lives. */
enum opt_kind {
    OPT_PROVIDER, /* given to the provider (stored in s->opts) */
    OPT_TIMEOUT,  /* SO_RCVTIMEO / SO_SNDTIMEO: the library's waits */
    OPT_LINGER,   /* SO_LINGER: the library's close */
    OPT_V6ONLY,   /* IPV6_V6ONLY: stored, given to the provider before bind */
    OPT_GET_ONLY  /* SO_ERROR, SO_TYPE */
};

/* Windows' default buffer size, reported before the provider's socket
 * exists (and when none was set). */
#define KS_DEFAULT_BUF 65536

/* Classifies (level, name) for s: 0 with *kind set, or -ENOPROTOOPT for an
 * unknown option or one of another protocol or family. */
static int classify(const ks_sock *s, int level, int name, enum opt_kind *kind)
{
    BOOLEAN stream = s->type == SOCK_STREAM;
    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_REUSEADDR:
        case SO_EXCLUSIVEADDRUSE:
        case SO_RCVBUF:
        case SO_SNDBUF:
            *kind = OPT_PROVIDER;
            return 0;
        case SO_KEEPALIVE:
            *kind = OPT_PROVIDER;
            return stream ? 0 : -ENOPROTOOPT;
        case SO_LINGER:
            *kind = OPT_LINGER;
            return stream ? 0 : -ENOPROTOOPT;
        case SO_RCVTIMEO:
        case SO_SNDTIMEO:
            *kind = OPT_TIMEOUT;
            return 0;
        case SO_ERROR:
        case SO_TYPE:
            *kind = OPT_GET_ONLY;
            return 0;
        default:
            return -ENOPROTOOPT;
        }
    }
    if (level == IPPROTO_TCP && name == TCP_NODELAY && stream) {
        *kind = OPT_PROVIDER;
        return 0;
    }
    if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY && s->family == AF_INET6) {
        *kind = OPT_V6ONLY;
        return 0;
    }
    return -ENOPROTOOPT;
}

static int opt_size(enum opt_kind kind)
{
    return kind == OPT_LINGER ? (int)sizeof(LINGER) : (int)sizeof(int);
}

static struct ks_stored_opt *find_opt(ks_sock *s, int level, int name)
{
    for (ULONG i = 0; s->opts != NULL && i < s->opts->count; i++)
        if (s->opts->opt[i].level == level && s->opts->opt[i].name == name)
            return &s->opts->opt[i];
    return NULL;
}

static BOOLEAN stored_true(ks_sock *s, int level, int name)
{
    const struct ks_stored_opt *o = find_opt(s, level, name);
    return o != NULL && o->value != 0;
}

/* Provider option: checked, given to s->wsk if it exists, then stored for
 * the WSK sockets created later (ctl lock held). */
static int set_provider_opt(ks_sock *s, int level, int name, int value)
{
    KS_ASSERT(ks__lock_held_by_me(&s->ctl_lock));
    if ((name == SO_RCVBUF || name == SO_SNDBUF) && value < 0)
        return -EINVAL;
    ULONG v = (ULONG)value;
    if (level == SOL_SOCKET &&
        (name == SO_REUSEADDR || name == SO_EXCLUSIVEADDRUSE || name == SO_KEEPALIVE))
        v = value != 0;
    if (level == IPPROTO_TCP)
        v = value != 0;
    /* Winsock: the two address options exclude each other, and
     * SO_EXCLUSIVEADDRUSE only means something before the bind. */
    if (level == SOL_SOCKET && v != 0 && name == SO_REUSEADDR &&
        stored_true(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE))
        return -EINVAL;
    if (level == SOL_SOCKET && name == SO_EXCLUSIVEADDRUSE &&
        ((v != 0 && stored_true(s, SOL_SOCKET, SO_REUSEADDR)) || s->state != KS_SS_NEW))
        return -EINVAL;
    struct ks_stored_opt *o = find_opt(s, level, name);
    if (o == NULL && s->opts != NULL && s->opts->count == KS_MAX_STORED_OPTS)
        return -ENOMEM;
    if (s->opts == NULL) {
        /* Published with a barrier: ks__opts_inherit reads it unlocked. */
        struct ks_stored_opts *block =
            (struct ks_stored_opts *)ks__alloc(sizeof(*block), KS_TAG_MISC);
        if (block == NULL)
            return -ENOMEM;
        InterlockedExchangePointer((PVOID volatile *)&s->opts, block);
    }
    if (s->wsk != NULL) {
        NTSTATUS status = ks__sock_wsk_control(s, WskSetOption, (ULONG)level, (ULONG)name,
                                               sizeof(v), &v, 0, NULL, NULL);
        if (!NT_SUCCESS(status))
            return ks__sock_error(s, status);
    }
    if (o == NULL) {
        o = &s->opts->opt[s->opts->count];
        s->opts->count++;
        o->level = level;
        o->name = name;
    }
    o->value = v;
    return 0;
}

int ks_setsockopt(int fd, int level, int name, const void *val, int len)
{
    ks_sock *s;
    int err = ks__fd_enter(fd, &s);
    if (err != 0)
        return err;
    enum opt_kind kind = OPT_PROVIDER;
    err = classify(s, level, name, &kind);
    if (err == 0 && kind == OPT_GET_ONLY)
        err = -ENOPROTOOPT;
    else if (err == 0 && val == NULL)
        err = -EFAULT;
    else if (err == 0 && len < opt_size(kind))
        err = -EINVAL;
    if (err != 0) {
        ks__sock_put(s);
        return err;
    }
    int value = 0;
    LINGER linger = {0, 0};
    if (kind == OPT_LINGER)
        RtlCopyMemory(&linger, val, sizeof(linger));
    else
        RtlCopyMemory(&value, val, sizeof(value));
    KIRQL irql;
    switch (kind) {
    case OPT_TIMEOUT:
        /* Read by each blocking call as it starts: a plain store suffices. */
        if (name == SO_RCVTIMEO)
            s->rcvtimeo_ms = (ULONG)value;
        else
            s->sndtimeo_ms = (ULONG)value;
        break;
    case OPT_LINGER:
        KeAcquireSpinLock(&s->lock, &irql);
        s->linger_on = linger.l_onoff != 0;
        s->linger_secs = linger.l_linger;
        KeReleaseSpinLock(&s->lock, irql);
        break;
    default: /* OPT_PROVIDER, OPT_V6ONLY: ordered with bind and creation */
        err = ks__sock_lock(s, &s->ctl_lock);
        if (err != 0)
            break;
        if (kind == OPT_PROVIDER)
            err = set_provider_opt(s, level, name, value);
        else if (s->state != KS_SS_NEW)
            err = -EINVAL; /* the provider's socket is bound already */
        else
            s->v6only = value != 0;
        ks__sock_unlock(&s->ctl_lock);
        break;
    }
    ks__sock_put(s);
    return err;
}

/* A provider option's value: the provider's if s->wsk exists (ctl lock
 * held), else the stored one or the default. */
static int get_provider_opt(ks_sock *s, int level, int name, ULONG *value)
{
    KS_ASSERT(ks__lock_held_by_me(&s->ctl_lock));
    if (s->wsk != NULL) {
        SIZE_T returned = 0;
        NTSTATUS status = ks__sock_wsk_control(s, WskGetOption, (ULONG)level, (ULONG)name, 0, NULL,
                                               sizeof(*value), value, &returned);
        if (NT_SUCCESS(status) && returned < sizeof(*value))
            status = STATUS_INVALID_NETWORK_RESPONSE;
        if (!NT_SUCCESS(status))
            return ks__sock_error(s, status);
        return 0;
    }
    const struct ks_stored_opt *o = find_opt(s, level, name);
    if (o != NULL)
        *value = o->value;
    else
        *value =
            level == SOL_SOCKET && (name == SO_RCVBUF || name == SO_SNDBUF) ? KS_DEFAULT_BUF : 0;
    return 0;
}

int ks_getsockopt(int fd, int level, int name, void *val, int *len)
{
    ks_sock *s;
    int err = ks__fd_enter(fd, &s);
    if (err != 0)
        return err;
    enum opt_kind kind = OPT_PROVIDER;
    err = classify(s, level, name, &kind);
    if (err == 0 && (val == NULL || len == NULL))
        err = -EFAULT;
    else if (err == 0 && *len < opt_size(kind))
        err = -EINVAL;
    if (err != 0) {
        ks__sock_put(s);
        return err;
    }
    ULONG value = 0;
    LINGER linger = {0, 0};
    KIRQL irql;
    switch (kind) {
    case OPT_TIMEOUT:
        value = name == SO_RCVTIMEO ? s->rcvtimeo_ms : s->sndtimeo_ms;
        break;
    case OPT_LINGER:
        KeAcquireSpinLock(&s->lock, &irql);
        linger.l_onoff = s->linger_on ? 1 : 0;
        linger.l_linger = s->linger_secs;
        KeReleaseSpinLock(&s->lock, irql);
        break;
    case OPT_V6ONLY:
        value = s->v6only ? 1 : 0;
        break;
    case OPT_GET_ONLY:
        /* SO_ERROR: the pending error as a positive errno, cleared. */
        value = name == SO_TYPE ? (ULONG)s->type : (ULONG)-InterlockedExchange(&s->so_error, 0);
        break;
    default:
        err = ks__sock_lock(s, &s->ctl_lock);
        if (err != 0)
            break;
        err = get_provider_opt(s, level, name, &value);
        ks__sock_unlock(&s->ctl_lock);
        break;
    }
    if (err == 0) {
        if (kind == OPT_LINGER)
            RtlCopyMemory(val, &linger, sizeof(linger));
        else
            RtlCopyMemory(val, &value, sizeof(value));
        *len = opt_size(kind);
    }
    ks__sock_put(s);
    return err;
}
