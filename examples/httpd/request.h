/*
 * request.h - an HTTP/1.1 request head parser (RFC 9112) for httpd.
 *
 * Plain C over a buffer (no allocation, no library call): the driver gives
 * it the bytes received, the native unit test memory. It finds where a
 * request head ends, then parses the request line and the header fields
 * httpd needs (Host, Connection, Content-Length, Transfer-Encoding).
 */
#ifndef HTTPD_REQUEST_H
#define HTTPD_REQUEST_H

#include <stddef.h>
#include <stdint.h>

enum httpd_method { HTTPD_GET = 1, HTTPD_HEAD, HTTPD_OTHER };

#define HTTPD_TARGET_MAX 2048

struct httpd_request {
    int method;         /* enum httpd_method */
    int minor;          /* HTTP/1.minor (0 or 1) */
    int keep_alive;     /* the connection stays open after the response */
    const char *target; /* request target, in the caller's buffer */
    size_t target_len;
    uint64_t body_len; /* Content-Length (0 if absent) */
};

/* httpd_head_length - the length of the request head at the start of buf
 * (through the empty line: CRLF CRLF, or bare LFs), or 0 if the head is
 * not complete in buf[0, len). */
size_t httpd_head_length(const char *buf, size_t len);

/* httpd_parse_request - parses the head buf[0, head_len). Returns 0, or the
 * status of the error response to send: 400 (malformed, or HTTP/1.1
 * without Host), 501 (a Transfer-Encoding: bodies are framed by
 * Content-Length only), 505 (not HTTP/1.x). Even then req->keep_alive and
 * req->method are set as far as they were parsed. */
int httpd_parse_request(const char *buf, size_t head_len, struct httpd_request *req);

#endif /* HTTPD_REQUEST_H */
