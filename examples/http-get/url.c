/*
 * url.c - http:// and https:// URL parsing and reference resolution (RFC 3986).
 */
#include "url.h"

static size_t str_len(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0')
        n++;
    return n;
}

static int lower(char c)
{
    int u = (unsigned char)c;
    return u >= 'A' && u <= 'Z' ? u - 'A' + 'a' : u;
}

/* Copies n bytes of src and a NUL into dst (size bytes). */
static int copy_n(char *dst, size_t size, const char *src, size_t n)
{
    if (n + 1 > size)
        return URL_ETOOLONG;
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
    dst[n] = '\0';
    return 0;
}

/* Appends src (n bytes) to the NUL-terminated dst (size bytes). */
static int append_n(char *dst, size_t size, const char *src, size_t n)
{
    size_t used = str_len(dst);
    return copy_n(dst + used, size - used, src, n);
}

/* The length of a scheme "xxx:" at the start of text (RFC 3986 3.1), or 0. */
static size_t scheme_length(const char *text)
{
    int c = lower(text[0]);
    if (c < 'a' || c > 'z')
        return 0;
    size_t i = 1;
    for (;; i++) {
        c = lower(text[i]);
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')
            continue;
        break;
    }
    return text[i] == ':' ? i : 0;
}

/* 0 for "http", 1 for "https" (any case), -1 for any other scheme. */
static int http_scheme(const char *text, size_t n)
{
    if (n < 4 || n > 5 || lower(text[0]) != 'h' || lower(text[1]) != 't' || lower(text[2]) != 't' ||
        lower(text[3]) != 'p')
        return -1;
    if (n == 4)
        return 0;
    return lower(text[4]) == 's' ? 1 : -1;
}

static const char *default_port(int secure)
{
    return secure ? "443" : "80";
}

/* Parses "//authority" and what follows (after the scheme's ':');
 * u->secure is already set. */
static int parse_hier(const char *p, struct url *u)
{
    if (p[0] != '/' || p[1] != '/')
        return URL_EINVAL;
    p += 2;
    size_t n = 0;
    while (p[n] != '\0' && p[n] != '/' && p[n] != '?' && p[n] != '#')
        n++;
    const char *auth = p;
    const char *rest = p + n;
    for (size_t i = 0; i < n; i++)
        if (auth[i] == '@' || auth[i] == ' ')
            return URL_EINVAL;
    size_t host_len;
    const char *port = NULL;
    size_t port_len = 0;
    int err;
    if (n > 0 && auth[0] == '[') {
        size_t close = 1;
        while (close < n && auth[close] != ']')
            close++;
        if (close == n || close == 1)
            return URL_EINVAL;
        err = copy_n(u->host, sizeof(u->host), auth + 1, close - 1);
        if (err != 0)
            return err;
        if (close + 1 < n) {
            if (auth[close + 1] != ':')
                return URL_EINVAL;
            port = auth + close + 2;
            port_len = n - close - 2;
        }
    } else {
        host_len = 0;
        while (host_len < n && auth[host_len] != ':')
            host_len++;
        if (host_len == 0)
            return URL_EINVAL;
        err = copy_n(u->host, sizeof(u->host), auth, host_len);
        if (err != 0)
            return err;
        if (host_len < n) {
            port = auth + host_len + 1;
            port_len = n - host_len - 1;
        }
    }
    if (port_len == 0) { /* absent or empty ("host:"): the default */
        port = default_port(u->secure);
        port_len = str_len(port);
    }
    unsigned long value = 0;
    for (size_t i = 0; i < port_len; i++) {
        if (i >= 5 || port[i] < '0' || port[i] > '9')
            return URL_EINVAL;
        value = value * 10 + (unsigned long)(port[i] - '0');
    }
    if (value == 0 || value > 65535)
        return URL_EINVAL;
    /* Without leading zeros: "0080" is "80". */
    while (port_len > 1 && port[0] == '0') {
        port++;
        port_len--;
    }
    err = copy_n(u->port, sizeof(u->port), port, port_len);
    if (err != 0)
        return err;

    size_t t = 0;
    while (rest[t] != '\0' && rest[t] != '#')
        t++;
    u->target[0] = '\0';
    if (t == 0 || rest[0] == '?')
        u->target[0] = '/', u->target[1] = '\0';
    for (size_t i = 0; i < t; i++)
        if ((unsigned char)rest[i] <= ' ')
            return URL_EINVAL;
    return append_n(u->target, sizeof(u->target), rest, t);
}

int url_parse(const char *text, struct url *u)
{
    size_t n = scheme_length(text);
    if (n == 0)
        return URL_EINVAL;
    int secure = http_scheme(text, n);
    if (secure < 0)
        return URL_ESCHEME;
    u->secure = secure;
    return parse_hier(text + n + 1, u);
}

/* RFC 3986 5.2.4: removes "." and ".." segments of the path in place (the
 * path starts with '/'; its query, if any, is left alone). */
static void remove_dot_segments(char *target)
{
    size_t path_len = 0;
    while (target[path_len] != '\0' && target[path_len] != '?')
        path_len++;
    char *in = target;
    size_t out = 0; /* output written to target[0..out) */
    size_t i = 0;
    while (i < path_len) {
        /* here in[i] == '/': one segment "/seg" at a time */
        size_t j = i + 1;
        while (j < path_len && in[j] != '/')
            j++;
        size_t seg = j - i - 1;
        int last = j == path_len;
        if (seg == 1 && in[i + 1] == '.') {
            if (last)
                target[out++] = '/';
        } else if (seg == 2 && in[i + 1] == '.' && in[i + 2] == '.') {
            while (out > 0 && target[out - 1] != '/')
                out--;
            if (out > 0)
                out--; /* the '/' before the removed segment */
            if (last)
                target[out++] = '/';
        } else {
            for (size_t k = i; k < j; k++)
                target[out++] = in[k];
        }
        i = j;
    }
    if (out == 0)
        target[out++] = '/';
    /* the query, moved down */
    size_t q = path_len;
    while (target[q] != '\0')
        target[out++] = target[q++];
    target[out] = '\0';
}

int url_resolve(const struct url *base, const char *location, struct url *out)
{
    size_t n = scheme_length(location);
    int err;
    if (n > 0) {
        int secure = http_scheme(location, n);
        if (secure < 0)
            return URL_ESCHEME;
        out->secure = secure;
        err = parse_hier(location + n + 1, out);
    } else if (location[0] == '/' && location[1] == '/') {
        out->secure = base->secure;
        err = parse_hier(location, out);
    } else {
        out->secure = base->secure;
        err = copy_n(out->host, sizeof(out->host), base->host, str_len(base->host));
        if (err == 0)
            err = copy_n(out->port, sizeof(out->port), base->port, str_len(base->port));
        if (err != 0)
            return err;
        size_t t = 0;
        while (location[t] != '\0' && location[t] != '#')
            t++;
        for (size_t i = 0; i < t; i++)
            if ((unsigned char)location[i] <= ' ')
                return URL_EINVAL;
        if (t == 0) { /* "" or "#frag": the base itself */
            err = copy_n(out->target, sizeof(out->target), base->target, str_len(base->target));
        } else if (location[0] == '/') {
            err = copy_n(out->target, sizeof(out->target), location, t);
        } else {
            /* "?q": the base path; "seg": the base path up to its last '/' */
            size_t keep = 0;
            while (base->target[keep] != '\0' && base->target[keep] != '?')
                keep++;
            if (location[0] != '?')
                while (keep > 0 && base->target[keep - 1] != '/')
                    keep--;
            err = copy_n(out->target, sizeof(out->target), base->target, keep);
            if (err == 0)
                err = append_n(out->target, sizeof(out->target), location, t);
        }
    }
    if (err != 0)
        return err;
    remove_dot_segments(out->target);
    return 0;
}

static int is_ipv6(const struct url *u)
{
    for (const char *p = u->host; *p != '\0'; p++)
        if (*p == ':')
            return 1;
    return 0;
}

int url_authority(const struct url *u, char *buf, size_t size)
{
    if (size == 0)
        return URL_ETOOLONG;
    buf[0] = '\0';
    int v6 = is_ipv6(u);
    int err = v6 ? append_n(buf, size, "[", 1) : 0;
    if (err == 0)
        err = append_n(buf, size, u->host, str_len(u->host));
    if (err == 0 && v6)
        err = append_n(buf, size, "]", 1);
    const char *dflt = default_port(u->secure);
    size_t i = 0;
    while (u->port[i] != '\0' && u->port[i] == dflt[i])
        i++;
    if (err == 0 && !(u->port[i] == '\0' && dflt[i] == '\0')) {
        err = append_n(buf, size, ":", 1);
        if (err == 0)
            err = append_n(buf, size, u->port, str_len(u->port));
    }
    return err;
}

int url_format(const struct url *u, char *buf, size_t size)
{
    size_t scheme = u->secure ? 8 : 7;
    if (size < scheme + 1)
        return URL_ETOOLONG;
    int err = copy_n(buf, size, u->secure ? "https://" : "http://", scheme);
    if (err == 0)
        err = url_authority(u, buf + scheme, size - scheme);
    if (err == 0)
        err = append_n(buf, size, u->target, str_len(u->target));
    return err;
}
