/*
 * http.c - HTTP/1.1 response reader (RFC 9112).
 */
#include "http.h"

static int lower(char c)
{
    int u = (unsigned char)c;
    return u >= 'A' && u <= 'Z' ? u - 'A' + 'a' : u;
}

/* Case-insensitive comparison of n bytes of a with the NUL-terminated b
 * (a's n bytes must be all of a's token). */
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

void http_reader_init(struct http_reader *r, http_recv_fn recv, void *ctx, unsigned char *buf,
                      size_t cap, char *line, size_t line_cap)
{
    r->recv = recv;
    r->ctx = ctx;
    r->buf = buf;
    r->cap = cap;
    r->pos = 0;
    r->end = 0;
    r->line = line;
    r->line_cap = line_cap;
}

/* Makes sure the buffer holds data: > 0 bytes available, 0 at the end of
 * the stream, or an error. */
static ptrdiff_t fill(struct http_reader *r)
{
    if (r->pos < r->end)
        return (ptrdiff_t)(r->end - r->pos);
    r->pos = 0;
    r->end = 0;
    ptrdiff_t n = r->recv(r->ctx, r->buf, r->cap);
    if (n > 0)
        r->end = (size_t)n;
    return n;
}

/* Reads one line into r->line without its CRLF (a bare LF ends a line
 * too). Returns its length, or an error. */
static ptrdiff_t read_line(struct http_reader *r)
{
    size_t len = 0;
    for (;;) {
        ptrdiff_t n = fill(r);
        if (n < 0)
            return n;
        if (n == 0)
            return HTTP_ETRUNC;
        while (r->pos < r->end) {
            char c = (char)r->buf[r->pos++];
            if (c == '\n') {
                if (len > 0 && r->line[len - 1] == '\r')
                    len--;
                r->line[len] = '\0';
                return (ptrdiff_t)len;
            }
            if (len + 1 >= r->line_cap)
                return HTTP_ETOOLONG;
            r->line[len++] = c;
        }
    }
}

int http_parse_status_line(const char *line, struct http_response *resp)
{
    /* HTTP/1.x SP 3DIGIT SP [reason] */
    if (!token_is(line, 5, "HTTP/") || line[5] != '1' || line[6] != '.' || line[7] < '0' ||
        line[7] > '9' || line[8] != ' ')
        return HTTP_EPROTO;
    resp->minor = line[7] - '0';
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9')
            return HTTP_EPROTO;
        status = status * 10 + (line[i] - '0');
    }
    if (status < 100 || (line[12] != ' ' && line[12] != '\0'))
        return HTTP_EPROTO;
    resp->status = status;
    const char *reason = line[12] == ' ' ? line + 13 : line + 12;
    size_t i = 0;
    for (; reason[i] != '\0' && i + 1 < sizeof(resp->reason); i++)
        resp->reason[i] = reason[i];
    resp->reason[i] = '\0';
    return 0;
}

int http_parse_content_length(const char *value, uint64_t *length)
{
    uint64_t v = 0;
    size_t i = 0;
    if (value[0] == '\0')
        return HTTP_EPROTO;
    for (; value[i] != '\0'; i++) {
        if (value[i] < '0' || value[i] > '9' || i >= 18)
            return HTTP_EPROTO;
        v = v * 10 + (uint64_t)(value[i] - '0');
    }
    *length = v;
    return 0;
}

int http_is_chunked(const char *te)
{
    /* A comma-separated list of codings: chunked must be the last one. */
    const char *last = te;
    for (const char *p = te; *p != '\0'; p++)
        if (*p == ',')
            last = p + 1;
    while (is_ows(*last))
        last++;
    size_t n = 0;
    while (last[n] != '\0' && last[n] != ';' && !is_ows(last[n]))
        n++;
    return token_is(last, n, "chunked");
}

int http_parse_chunk_size(const char *line, uint64_t *size)
{
    /* chunk-size [ chunk-ext ] ; chunk-size = 1*HEXDIG */
    uint64_t v = 0;
    size_t i = 0;
    for (;; i++) {
        int c = lower(line[i]);
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            break;
        if (i >= 15) /* below 2^60: no overflow */
            return HTTP_EPROTO;
        v = v * 16 + d;
    }
    if (i == 0)
        return HTTP_EPROTO;
    while (is_ows(line[i]))
        i++;
    if (line[i] != '\0' && line[i] != ';')
        return HTTP_EPROTO;
    *size = v;
    return 0;
}

/* One header field line: name ":" OWS value OWS. */
static int header_field(char *line, struct http_response *resp, int *te_seen)
{
    size_t n = 0;
    while (line[n] != '\0' && line[n] != ':') {
        if (is_ows(line[n]))
            return HTTP_EPROTO; /* no whitespace in or after a field name */
        n++;
    }
    if (line[n] != ':' || n == 0)
        return HTTP_EPROTO;
    char *value = line + n + 1;
    while (is_ows(*value))
        value++;
    size_t vlen = 0;
    while (value[vlen] != '\0')
        vlen++;
    while (vlen > 0 && is_ows(value[vlen - 1]))
        vlen--;
    value[vlen] = '\0';

    if (token_is(line, n, "content-length")) {
        uint64_t length;
        if (http_parse_content_length(value, &length) != 0)
            return HTTP_EPROTO;
        if (resp->has_length && resp->length != length)
            return HTTP_EPROTO;
        resp->has_length = 1;
        resp->length = length;
    } else if (token_is(line, n, "transfer-encoding")) {
        *te_seen = 1;
        resp->chunked = http_is_chunked(value);
    } else if (token_is(line, n, "connection")) {
        if (token_is(value, vlen, "close"))
            resp->close = 1;
    } else if (token_is(line, n, "location")) {
        if (vlen + 1 > resp->location_cap)
            return HTTP_ETOOLONG;
        for (size_t i = 0; i <= vlen; i++)
            resp->location[i] = value[i];
    }
    return 0;
}

int http_read_head(struct http_reader *r, struct http_response *resp)
{
    for (;;) {
        ptrdiff_t n = read_line(r);
        if (n < 0)
            return (int)n;
        int err = http_parse_status_line(r->line, resp);
        if (err != 0)
            return err;
        resp->has_length = 0;
        resp->length = 0;
        resp->chunked = 0;
        resp->close = resp->minor == 0;
        if (resp->location_cap > 0)
            resp->location[0] = '\0';
        int te_seen = 0;
        for (;;) {
            n = read_line(r);
            if (n < 0)
                return (int)n;
            if (n == 0)
                break;
            if (is_ows(r->line[0]))
                return HTTP_EPROTO; /* obsolete line folding */
            err = header_field(r->line, resp, &te_seen);
            if (err != 0)
                return err;
        }
        if (te_seen) {
            /* Transfer-Encoding overrides Content-Length; one that does not
             * end with chunked is delimited by the end of the connection. */
            resp->has_length = 0;
            if (!resp->chunked)
                resp->close = 1;
        }
        if (resp->status >= 200)
            return 0;
        /* 1xx: an interim response; the final one follows. */
    }
}

int http_response_has_body(const struct http_response *resp)
{
    return !(resp->status < 200 || resp->status == 204 || resp->status == 304);
}

/* Reads exactly `want` bytes (or to the end of the stream if until_eof),
 * giving them to fn. */
static int read_bytes(struct http_reader *r, uint64_t want, int until_eof, http_body_fn fn,
                      void *ctx, uint64_t *total)
{
    while (until_eof || want > 0) {
        ptrdiff_t n = fill(r);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return until_eof ? 0 : HTTP_ETRUNC;
        size_t take = (size_t)n;
        if (!until_eof && take > want)
            take = (size_t)want;
        int err = fn(ctx, r->buf + r->pos, take);
        if (err != 0)
            return err;
        r->pos += take;
        *total += take;
        if (!until_eof)
            want -= take;
    }
    return 0;
}

int http_read_body(struct http_reader *r, const struct http_response *resp, http_body_fn fn,
                   void *ctx, uint64_t *total)
{
    *total = 0;
    if (!http_response_has_body(resp))
        return 0;
    if (!resp->chunked) {
        if (resp->has_length)
            return read_bytes(r, resp->length, 0, fn, ctx, total);
        return read_bytes(r, 0, 1, fn, ctx, total);
    }
    for (;;) {
        ptrdiff_t n = read_line(r);
        if (n < 0)
            return (int)n;
        uint64_t size;
        int err = http_parse_chunk_size(r->line, &size);
        if (err != 0)
            return err;
        if (size == 0)
            break;
        err = read_bytes(r, size, 0, fn, ctx, total);
        if (err != 0)
            return err;
        n = read_line(r); /* the CRLF after the chunk's data */
        if (n < 0)
            return (int)n;
        if (n != 0)
            return HTTP_EPROTO;
    }
    /* trailer fields, up to the empty line */
    for (;;) {
        ptrdiff_t n = read_line(r);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return 0;
    }
}
