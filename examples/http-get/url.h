/*
 * url.h - http:// and https:// URLs: parse, resolve a redirect's Location against the
 * current URL (RFC 3986 section 5), format.
 *
 * Plain C (no allocation, no library call): it builds in the driver and in
 * the native unit test. A struct url is about 2.3 KiB: keep it in pool, not
 * on a kernel stack.
 */
#ifndef HTTP_GET_URL_H
#define HTTP_GET_URL_H

#include <stddef.h>

#define URL_HOST_MAX 256    /* host name or address text, with its NUL */
#define URL_PORT_MAX 6      /* "65535" and its NUL */
#define URL_TARGET_MAX 2048 /* path and query ("/a/b?c"), with its NUL */

/* Errors (negative, apart from errno values). */
#define URL_EINVAL (-1)   /* not a well-formed http:// or https:// URL */
#define URL_ESCHEME (-2)  /* a scheme other than http and https (ftp, ...) */
#define URL_ETOOLONG (-3) /* a part does not fit its buffer */

struct url {
    int secure;                  /* 1 for https (TLS), 0 for http */
    char host[URL_HOST_MAX];     /* without the brackets of an IPv6 literal */
    char port[URL_PORT_MAX];     /* decimal text, "80" (http) or "443" (https) when absent */
    char target[URL_TARGET_MAX]; /* request target: path and query, never empty */
};

/* url_parse - parse an absolute URL "http://host[:port][/path][?query]"
 * or "https://..." (the scheme is case-insensitive; a fragment is dropped; user info is
 * refused). Returns 0 or a URL_E* error. */
int url_parse(const char *text, struct url *u);

/* url_resolve - the URL a Location value points to: absolute
 * ("http://...", "https://..."), network-path ("//host/p": base's scheme), absolute-path ("/p"),
 * query ("?q") or relative ("p", "../p") against base, with dot segments
 * removed. out may not be base. Returns 0 or a URL_E* error. */
int url_resolve(const struct url *base, const char *location, struct url *out);

/* url_authority - "host" or "host:port" (port other than the scheme's default), IPv6 literals
 * in brackets: the Host header's value. Returns 0 or URL_ETOOLONG. */
int url_authority(const struct url *u, char *buf, size_t size);

/* url_format - "http://" or "https://" and the authority and target. Returns 0 or
 * URL_ETOOLONG. */
int url_format(const struct url *u, char *buf, size_t size);

#endif /* HTTP_GET_URL_H */
