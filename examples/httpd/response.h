/*
 * response.h - httpd's answers: the page, and a response (status line,
 * header fields, body) for a parsed request or an error status.
 *
 * Plain C (no allocation, no library call), shared with the unit test.
 */
#ifndef HTTPD_RESPONSE_H
#define HTTPD_RESPONSE_H

#include <stddef.h>

#include "request.h"

/* Room for any response: the header fields and the largest body. */
#define HTTPD_RESPONSE_MAX 2048

/* The page served for GET / (and HEAD /): length and bytes. */
size_t httpd_page(const char **body);

/* httpd_respond - writes into out (HTTPD_RESPONSE_MAX bytes) the response
 * to req, given the parse status of httpd_parse_request (0, or an error
 * status: 400, 431, 501, 505, which are answered and close the
 * connection). Routes: GET and HEAD of "/" (or "/index.html"): 200 with
 * the page; other paths: 404; other methods: 405 (Allow: GET, HEAD).
 * Sets *status to the status sent and *keep_alive to whether the
 * connection stays open. Returns the byte count. */
size_t httpd_respond(const struct httpd_request *req, int parse_status, char *out, int *status,
                     int *keep_alive);

#endif /* HTTPD_RESPONSE_H */
