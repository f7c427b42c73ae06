/*
 * http.h - an HTTP/1.1 response reader (RFC 9112): status line, header
 * fields, and the body framed by Content-Length, by chunked transfer coding
 * (chunk extensions and trailer fields are read and ignored) or by the end
 * of the connection.
 *
 * Plain C over a receive callback (no allocation, no library call): the
 * driver gives it ks_recv, the native unit test a memory buffer. The
 * caller owns every buffer (in pool in the driver).
 */
#ifndef HTTP_GET_HTTP_H
#define HTTP_GET_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* Errors (negative; the receive callback's own negative values, errno
 * values in the driver, are passed through unchanged). */
#define HTTP_EPROTO (-20001)   /* malformed response */
#define HTTP_ETOOLONG (-20002) /* a line or the Location does not fit */
#define HTTP_ETRUNC (-20003)   /* the connection ended inside the response */

/* Receives up to len bytes into buf: the count (> 0), 0 at the end of the
 * stream, or a negative error. */
typedef ptrdiff_t (*http_recv_fn)(void *ctx, void *buf, size_t len);

/* Takes len bytes of body (len > 0); a nonzero (negative) return stops the
 * transfer with that error. */
typedef int (*http_body_fn)(void *ctx, const void *data, size_t len);

struct http_reader {
    http_recv_fn recv;
    void *ctx;
    unsigned char *buf; /* receive buffer: cap bytes, data in [pos, end) */
    size_t cap, pos, end;
    char *line; /* line buffer: line_cap bytes */
    size_t line_cap;
};

#define HTTP_REASON_MAX 64

struct http_response {
    int status;                   /* 200, 302, ... */
    int minor;                    /* HTTP/1.minor */
    char reason[HTTP_REASON_MAX]; /* reason phrase (truncated) */
    int has_length;               /* Content-Length given */
    uint64_t length;              /* its value */
    int chunked;                  /* Transfer-Encoding ends with chunked */
    int close;                    /* Connection: close, or HTTP/1.0 */
    char *location;               /* Location value (caller's buffer), "" if none */
    size_t location_cap;
};

void http_reader_init(struct http_reader *r, http_recv_fn recv, void *ctx, unsigned char *buf,
                      size_t cap, char *line, size_t line_cap);

/* http_read_head - reads the status line and header fields of the next
 * final response (1xx interim responses are skipped). resp->location and
 * resp->location_cap must be set by the caller. Returns 0 or an error. */
int http_read_head(struct http_reader *r, struct http_response *resp);

/* http_response_has_body - 0 for responses that have no body whatever
 * their header fields say (1xx, 204, 304). */
int http_response_has_body(const struct http_response *resp);

/* http_read_body - reads the body of resp, giving it to fn piece by piece
 * (dechunked), and counts its bytes in *total. Returns 0 once the whole
 * body was read, or an error (HTTP_ETRUNC if the stream ended early). */
int http_read_body(struct http_reader *r, const struct http_response *resp, http_body_fn fn,
                   void *ctx, uint64_t *total);

/* Parsers of single lines, exposed for the unit test. */
int http_parse_status_line(const char *line, struct http_response *resp);
int http_parse_chunk_size(const char *line, uint64_t *size);
int http_parse_content_length(const char *value, uint64_t *length);
int http_is_chunked(const char *transfer_encoding);

#endif /* HTTP_GET_HTTP_H */
