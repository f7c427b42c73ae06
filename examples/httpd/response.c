/*
 * response.c - the page and the responses of httpd.
 */
#include "response.h"

/* A fixed page of about 1 KiB. */
static const char page[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<title>wsksock httpd</title>\n"
    "<style>body { font-family: sans-serif; max-width: 40em; margin: 2em auto; }</style>\n"
    "</head>\n"
    "<body>\n"
    "<h1>Hello from the kernel</h1>\n"
    "<p>This page is served by <code>httpd.sys</code>, a Windows kernel-mode\n"
    "driver speaking HTTP/1.1 through wsksock, a BSD socket API on Winsock\n"
    "Kernel (WSK). Each connection has its own system thread, taken from a\n"
    "bounded pool; connections are kept alive between requests, pipelined\n"
    "requests are answered in order, and idle connections are closed once\n"
    "SO_RCVTIMEO expires.</p>\n"
    "<ul>\n"
    "<li>GET and HEAD of / give this page (200).</li>\n"
    "<li>Other paths give 404, other methods 405.</li>\n"
    "<li>Malformed requests give 400, request heads over 8 KiB give 431.</li>\n"
    "</ul>\n"
    "<p>Unloading the driver closes every socket, which wakes the threads\n"
    "blocked on them; the driver waits for them and then calls\n"
    "<code>ks_cleanup</code>, so the unload is clean and bounded even with\n"
    "connections open.</p>\n"
    "<p>0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef</p>\n"
    "</body>\n"
    "</html>\n";

size_t httpd_page(const char **body)
{
    *body = page;
    return sizeof(page) - 1;
}

struct out {
    char *p;
    size_t n;
};

static void put(struct out *o, const char *s)
{
    while (*s != '\0' && o->n + 1 < HTTPD_RESPONSE_MAX)
        o->p[o->n++] = *s++;
}

static void put_bytes(struct out *o, const char *s, size_t len)
{
    for (size_t i = 0; i < len && o->n < HTTPD_RESPONSE_MAX; i++)
        o->p[o->n++] = s[i];
}

static void put_number(struct out *o, size_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0 && o->n + 1 < HTTPD_RESPONSE_MAX)
        o->p[o->n++] = tmp[--n];
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 501:
        return "Not Implemented";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
}

/* Does the target (up to a query) name the page? */
static int is_page(const char *t, size_t n)
{
    size_t path = 0;
    while (path < n && t[path] != '?')
        path++;
    if (path == 1 && t[0] == '/')
        return 1;
    static const char index[] = "/index.html";
    if (path != sizeof(index) - 1)
        return 0;
    for (size_t i = 0; i < path; i++)
        if (t[i] != index[i])
            return 0;
    return 1;
}

size_t httpd_respond(const struct httpd_request *req, int parse_status, char *out, int *status,
                     int *keep_alive)
{
    struct out o = {out, 0};
    const char *body;
    size_t len;
    char text[96];
    int st = parse_status;
    int keep = parse_status == 0 && req->keep_alive;

    if (st == 0) {
        if (req->method == HTTPD_OTHER)
            st = 405;
        else if (is_page(req->target, req->target_len))
            st = 200;
        else
            st = 404;
    }
    if (st == 200) {
        len = httpd_page(&body);
    } else {
        /* "<status> <reason>\n" as a plain text body. */
        struct out t = {text, 0};
        put_number(&t, (size_t)st);
        text[t.n++] = ' ';
        for (const char *r = reason(st); *r != '\0'; r++)
            text[t.n++] = *r;
        text[t.n++] = '\n';
        body = text;
        len = t.n;
    }
    put(&o, "HTTP/1.1 ");
    put_number(&o, (size_t)st);
    put(&o, " ");
    put(&o, reason(st));
    put(&o, "\r\nServer: wsksock-httpd\r\nContent-Type: ");
    put(&o, st == 200 ? "text/html" : "text/plain");
    put(&o, "\r\nContent-Length: ");
    put_number(&o, len);
    if (st == 405)
        put(&o, "\r\nAllow: GET, HEAD");
    if (!keep)
        put(&o, "\r\nConnection: close");
    else if (req->minor == 0)
        put(&o, "\r\nConnection: keep-alive");
    put(&o, "\r\n\r\n");
    if (parse_status != 0 || req->method != HTTPD_HEAD)
        put_bytes(&o, body, len);
    *status = st;
    *keep_alive = keep;
    return o.n;
}
