/*
 * request.c - HTTP/1.1 request head parser (RFC 9112).
 */
#include "request.h"

static int lower(char c)
{
    int u = (unsigned char)c;
    return u >= 'A' && u <= 'Z' ? u - 'A' + 'a' : u;
}

/* Case-insensitive: are the n bytes at a exactly the NUL-terminated b? */
static int token_is(const char *a, size_t n, const char *b)
{
    size_t i = 0;
    for (; i < n; i++)
        if (b[i] == '\0' || lower(a[i]) != lower(b[i]))
            return 0;
    return b[i] == '\0';
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* tchar of RFC 9110: the characters of a method or field name. */
static int is_tchar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return 1;
    default:
        return 0;
    }
}

size_t httpd_head_length(const char *buf, size_t len)
{
    /* The head ends at the first line that is empty (LF, or CR LF). */
    size_t line = 0;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i == line || (i == line + 1 && buf[line] == '\r'))
            return i + 1;
        line = i + 1;
    }
    return 0;
}

/* The end of the line starting at p (before its CR LF or LF), within end. */
static const char *line_end(const char *p, const char *end, const char **next)
{
    const char *q = p;
    while (q < end && *q != '\n')
        q++;
    *next = q < end ? q + 1 : end;
    if (q > p && q[-1] == '\r')
        q--;
    return q;
}

/* Does the comma-separated list [v, e) hold the token t? */
static int list_has(const char *v, const char *e, const char *t)
{
    while (v < e) {
        while (v < e && (is_ows(*v) || *v == ','))
            v++;
        const char *s = v;
        while (v < e && *v != ',' && !is_ows(*v))
            v++;
        if (v > s && token_is(s, (size_t)(v - s), t))
            return 1;
        while (v < e && *v != ',')
            v++;
    }
    return 0;
}

static int parse_length(const char *v, const char *e, uint64_t *out)
{
    uint64_t n = 0;
    if (v == e || e - v > 18)
        return -1;
    for (; v < e; v++) {
        if (*v < '0' || *v > '9')
            return -1;
        n = n * 10 + (uint64_t)(*v - '0');
    }
    *out = n;
    return 0;
}

/* method SP request-target SP HTTP-version */
static int request_line(const char *p, const char *e, struct httpd_request *req)
{
    const char *m = p;
    while (p < e && is_tchar(*p))
        p++;
    if (p == m || p == e || *p != ' ')
        return 400;
    if (p - m == 3 && m[0] == 'G' && m[1] == 'E' && m[2] == 'T')
        req->method = HTTPD_GET; /* methods are case-sensitive */
    else if (p - m == 4 && m[0] == 'H' && m[1] == 'E' && m[2] == 'A' && m[3] == 'D')
        req->method = HTTPD_HEAD;
    else
        req->method = HTTPD_OTHER;
    const char *t = ++p;
    while (p < e && *p != ' ')
        p++;
    if (p == t || p == e || (size_t)(p - t) > HTTPD_TARGET_MAX)
        return 400;
    for (const char *c = t; c < p; c++)
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
            return 400;
    req->target = t;
    req->target_len = (size_t)(p - t);
    p++;
    /* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive */
    if (e - p != 8 || p[0] != 'H' || p[1] != 'T' || p[2] != 'T' || p[3] != 'P' || p[4] != '/' ||
        p[5] < '0' || p[5] > '9' || p[6] != '.' || p[7] < '0' || p[7] > '9')
        return 400;
    if (p[5] != '1')
        return 505;
    req->minor = p[7] - '0';
    req->keep_alive = req->minor >= 1;
    return 0;
}

int httpd_parse_request(const char *buf, size_t head_len, struct httpd_request *req)
{
    const char *end = buf + head_len;
    const char *next;
    const char *e;
    int host = 0, length_seen = 0, te = 0, close = 0, keep = 0;

    req->method = HTTPD_OTHER;
    req->minor = 0;
    req->keep_alive = 0;
    req->target = buf;
    req->target_len = 0;
    req->body_len = 0;

    e = line_end(buf, end, &next);
    int st = request_line(buf, e, req);
    if (st != 0)
        return st;
    for (const char *p = next; p < end; p = next) {
        e = line_end(p, end, &next);
        if (e == p)
            break; /* the empty line */
        const char *n = p;
        while (n < e && is_tchar(*n))
            n++;
        if (n == p || n == e || *n != ':')
            return 400; /* also obs-fold and whitespace before the colon */
        size_t nlen = (size_t)(n - p);
        const char *v = n + 1;
        const char *ve = e;
        while (v < ve && is_ows(*v))
            v++;
        while (ve > v && is_ows(ve[-1]))
            ve--;
        for (const char *c = v; c < ve; c++)
            if (*c == '\0' || *c == '\r' || *c == '\n')
                return 400;
        if (token_is(p, nlen, "host")) {
            if (host++)
                return 400;
        } else if (token_is(p, nlen, "connection")) {
            close |= list_has(v, ve, "close");
            keep |= list_has(v, ve, "keep-alive");
        } else if (token_is(p, nlen, "content-length")) {
            uint64_t n64;
            if (parse_length(v, ve, &n64) != 0 || (length_seen && n64 != req->body_len))
                return 400;
            length_seen = 1;
            req->body_len = n64;
        } else if (token_is(p, nlen, "transfer-encoding")) {
            te = 1;
        }
    }
    if (close)
        req->keep_alive = 0;
    else if (keep)
        req->keep_alive = 1;
    if (req->minor >= 1 && !host)
        return 400;
    if (te) {
        req->keep_alive = 0;
        return 501;
    }
    return 0;
}
