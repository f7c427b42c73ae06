/*
 * units_test.c - native unit tests of http-get's plain C parts (host build):
 *   http_get_units sha256   SHA-256 against the FIPS 180-2 test vectors,
 *                           block boundaries and piecewise updates
 *   http_get_units parsers  URLs and redirect resolution, status lines,
 *                           Content-Length, chunked bodies (extensions,
 *                           trailers) fed 1 byte at a time, errors
 * Prints one line per failed check and "units: N checks, F failed";
 * exit status 0 only if none failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "sha256.h"
#include "url.h"

static int g_checks, g_failed;

static void check(int ok, const char *what)
{
    g_checks++;
    if (!ok) {
        g_failed++;
        printf("FAIL %s\n", what);
    }
}

static void hash_hex(const void *data, size_t len, char hex[65])
{
    struct sha256 c;
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_init(&c);
    sha256_update(&c, data, len);
    sha256_final(&c, d);
    sha256_hex(d, hex);
}

static void test_sha256(void)
{
    static const struct {
        const char *msg;
        const char *hex;
    } v[] = {
        /* FIPS 180-2, appendix B.1 and B.2 */
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrl"
         "m"
         "nopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    char hex[65];
    char what[160];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        hash_hex(v[i].msg, strlen(v[i].msg), hex);
        snprintf(what, sizeof(what), "sha256 vector %zu: got %s", i, hex);
        check(strcmp(hex, v[i].hex) == 0, what);
    }

    /* FIPS 180-2 B.3: one million 'a', one-shot and in uneven pieces. */
    static const char million_a[] =
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    char *a = malloc(1000000);
    if (a == NULL) {
        check(0, "malloc");
        return;
    }
    memset(a, 'a', 1000000);
    hash_hex(a, 1000000, hex);
    check(strcmp(hex, million_a) == 0, "sha256 of 1,000,000 'a' (one update)");
    struct sha256 c;
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_init(&c);
    for (size_t off = 0, step = 1; off < 1000000; step = step % 97 + 1) {
        size_t n = step < 1000000 - off ? step : 1000000 - off;
        sha256_update(&c, a + off, n);
        off += n;
    }
    sha256_final(&c, d);
    sha256_hex(d, hex);
    check(strcmp(hex, million_a) == 0, "sha256 of 1,000,000 'a' (pieces of 1..97 bytes)");

    /* Padding at the block boundaries (values from Python's hashlib). */
    static const struct {
        size_t n;
        const char *hex;
    } b[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
        {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
    };
    for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
        hash_hex(a, b[i].n, hex);
        snprintf(what, sizeof(what), "sha256 of %zu 'a': got %s", b[i].n, hex);
        check(strcmp(hex, b[i].hex) == 0, what);
    }
    free(a);
}

static void url_case(const char *text, int want_err, const char *host, const char *port,
                     const char *target)
{
    struct url u;
    char what[512];
    int err = url_parse(text, &u);
    snprintf(what, sizeof(what), "url_parse(\"%s\") = %d, want %d", text, err, want_err);
    check(err == want_err, what);
    if (err == 0 && want_err == 0) {
        snprintf(what, sizeof(what), "url_parse(\"%s\"): host=%.100s port=%s target=%.200s", text,
                 u.host, u.port, u.target);
        check(strcmp(u.host, host) == 0 && strcmp(u.port, port) == 0 &&
                  strcmp(u.target, target) == 0,
              what);
    }
}

static void resolve_case(const char *base, const char *loc, const char *want)
{
    struct url b, out;
    char text[URL_TARGET_MAX + URL_HOST_MAX + 16];
    char what[1024];
    int err = url_parse(base, &b);
    if (err == 0)
        err = url_resolve(&b, loc, &out);
    if (err == 0)
        err = url_format(&out, text, sizeof(text));
    snprintf(what, sizeof(what), "resolve \"%s\" against %s: %.300s (err %d), want %s", loc, base,
             err == 0 ? text : "-", err, want);
    check(err == 0 && strcmp(text, want) == 0, what);
}

/* A response in memory, handed out `step` bytes per receive. */
struct mem {
    const char *data;
    size_t len, pos, step;
};

static ptrdiff_t mem_recv(void *ctx, void *buf, size_t len)
{
    struct mem *m = ctx;
    size_t n = m->len - m->pos;
    if (n > m->step)
        n = m->step;
    if (n > len)
        n = len;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (ptrdiff_t)n;
}

struct sink {
    char data[256];
    size_t len;
};

static int sink_body(void *ctx, const void *data, size_t len)
{
    struct sink *s = ctx;
    if (s->len + len > sizeof(s->data))
        return -1;
    memcpy(s->data + s->len, data, len);
    s->len += len;
    return 0;
}

/* Reads a whole response from text, step bytes at a time, with a small
 * receive buffer; checks status, body and error. */
static void response_case(const char *name, const char *text, size_t step, int want_err,
                          int want_status, const char *want_body, const char *want_location)
{
    unsigned char buf[7];
    char line[128];
    char location[64];
    struct mem m = {text, strlen(text), 0, step};
    struct http_reader r;
    struct http_response resp;
    struct sink s;
    uint64_t total = 0;
    memset(&resp, 0, sizeof(resp));
    memset(&s, 0, sizeof(s));
    resp.location = location;
    resp.location_cap = sizeof(location);
    http_reader_init(&r, mem_recv, &m, buf, sizeof(buf), line, sizeof(line));
    int err = http_read_head(&r, &resp);
    if (err == 0)
        err = http_read_body(&r, &resp, sink_body, &s, &total);
    char what[512];
    snprintf(what, sizeof(what), "%s (step %zu): err %d want %d, status %d want %d, body \"%.*s\"",
             name, step, err, want_err, resp.status, want_status, (int)s.len, s.data);
    int ok = err == want_err;
    if (want_err == 0)
        ok = ok && resp.status == want_status && total == s.len && s.len == strlen(want_body) &&
             memcmp(s.data, want_body, s.len) == 0 &&
             strcmp(location, want_location ? want_location : "") == 0;
    check(ok, what);
}

static void test_parsers(void)
{
    url_case("http://127.0.0.1:8080/file", 0, "127.0.0.1", "8080", "/file");
    url_case("HTTP://Example.com", 0, "Example.com", "80", "/");
    url_case("http://example.com?x=1#frag", 0, "example.com", "80", "/?x=1");
    url_case("http://[::1]:81/a/b?c", 0, "::1", "81", "/a/b?c");
    url_case("http://host:/p", 0, "host", "80", "/p");
    url_case("http://host:0080/p#f", 0, "host", "80", "/p");
    url_case("https://host/", 0, "host", "443", "/");
    url_case("HTTPS://host:8443/x?y", 0, "host", "8443", "/x?y");
    url_case("httpx://host/", URL_ESCHEME, NULL, NULL, NULL);
    url_case("ftp://host/", URL_ESCHEME, NULL, NULL, NULL);
    url_case("host/path", URL_EINVAL, NULL, NULL, NULL);
    url_case("http:/host", URL_EINVAL, NULL, NULL, NULL);
    url_case("http://", URL_EINVAL, NULL, NULL, NULL);
    url_case("http://user@host/", URL_EINVAL, NULL, NULL, NULL);
    url_case("http://host:65536/", URL_EINVAL, NULL, NULL, NULL);
    url_case("http://host:0/", URL_EINVAL, NULL, NULL, NULL);
    url_case("http://host:8x/", URL_EINVAL, NULL, NULL, NULL);
    url_case("http://host/a b", URL_EINVAL, NULL, NULL, NULL);

    /* RFC 3986 5.4.1, with http:// bases */
    const char *base = "http://a/b/c/d;p?q";
    resolve_case(base, "g", "http://a/b/c/g");
    resolve_case(base, "./g", "http://a/b/c/g");
    resolve_case(base, "g/", "http://a/b/c/g/");
    resolve_case(base, "/g", "http://a/g");
    resolve_case(base, "//g", "http://g/");
    resolve_case(base, "?y", "http://a/b/c/d;p?y");
    resolve_case(base, "g?y", "http://a/b/c/g?y");
    resolve_case(base, "#s", "http://a/b/c/d;p?q");
    resolve_case(base, "g#s", "http://a/b/c/g");
    resolve_case(base, ";x", "http://a/b/c/;x");
    resolve_case(base, "", "http://a/b/c/d;p?q");
    resolve_case(base, ".", "http://a/b/c/");
    resolve_case(base, "./", "http://a/b/c/");
    resolve_case(base, "..", "http://a/b/");
    resolve_case(base, "../", "http://a/b/");
    resolve_case(base, "../g", "http://a/b/g");
    resolve_case(base, "../..", "http://a/");
    resolve_case(base, "../../g", "http://a/g");
    resolve_case(base, "../../../g", "http://a/g");
    resolve_case(base, "/./g", "http://a/g");
    resolve_case(base, "/../g", "http://a/g");
    resolve_case(base, "g.", "http://a/b/c/g.");
    resolve_case(base, "..g", "http://a/b/c/..g");
    resolve_case(base, "./../g", "http://a/b/g");
    resolve_case(base, "g/./h", "http://a/b/c/g/h");
    resolve_case(base, "g/../h", "http://a/b/c/h");
    resolve_case(base, "g?y/./x", "http://a/b/c/g?y/./x");
    resolve_case("http://127.0.0.1:8080/r/1", "http://localhost:9090/x", "http://localhost:9090/x");
    resolve_case("http://127.0.0.1:8080/r/1", "/file", "http://127.0.0.1:8080/file");
    resolve_case("http://127.0.0.1:8080/r/1", "2", "http://127.0.0.1:8080/r/2");
    resolve_case("http://[::1]:8080/a", "b", "http://[::1]:8080/b");
    /* https: default port 443 left out of the text; scheme kept or changed */
    resolve_case("https://a/b/c", "d", "https://a/b/d");
    resolve_case("https://a:443/b", "//g/x", "https://g/x");
    resolve_case("https://a/b", "http://a/b", "http://a/b");
    resolve_case("http://a/b", "https://a:8443/b", "https://a:8443/b");
    resolve_case("https://a/b", "https://a:80/b", "https://a:80/b");

    uint64_t v = 0;
    check(http_parse_chunk_size("1a", &v) == 0 && v == 26, "chunk size 1a");
    check(http_parse_chunk_size("FF;name=value;x", &v) == 0 && v == 255, "chunk size with ext");
    check(http_parse_chunk_size("10 ; ext", &v) == 0 && v == 16, "chunk size, BWS before ext");
    check(http_parse_chunk_size("", &v) == HTTP_EPROTO, "empty chunk size");
    check(http_parse_chunk_size("x1", &v) == HTTP_EPROTO, "bad chunk size");
    check(http_parse_chunk_size("1234567890abcdef0", &v) == HTTP_EPROTO, "chunk size overflow");
    check(http_parse_content_length("52428800", &v) == 0 && v == 52428800, "content-length");
    check(http_parse_content_length("12a", &v) == HTTP_EPROTO, "bad content-length");
    check(http_is_chunked("chunked") && http_is_chunked("gzip, Chunked") &&
              !http_is_chunked("chunked, gzip") && !http_is_chunked("identity"),
          "transfer-encoding lists");

    for (size_t step = 1; step <= 64; step = step * 2 + 1) {
        response_case("content-length",
                      "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 5\r\n\r\nhelloEXTRA", step,
                      0, 200, "hello", NULL);
        response_case("chunked",
                      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5;ext=1\r\nhello\r\n1\r\n \r\n6 ; a=\"b\"\r\nworld!\r\n0\r\n"
                      "X-Trailer: 1\r\nX-Other: 2\r\n\r\n",
                      step, 0, 200, "hello world!", NULL);
        response_case("chunked wins over content-length",
                      "HTTP/1.1 200 OK\r\nContent-Length: 99\r\ntransfer-encoding: chunked\r\n\r\n"
                      "3\r\nabc\r\n0\r\n\r\n",
                      step, 0, 200, "abc", NULL);
        response_case("until close", "HTTP/1.0 200 OK\nX: y\n\nall of it", step, 0, 200,
                      "all of it", NULL);
        response_case("100 continue, then 302",
                      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 302 Found\r\n"
                      "Location:  /next  \r\nContent-Length: 0\r\n\r\n",
                      step, 0, 302, "", "/next");
        response_case("204", "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n", step, 0, 204,
                      "", NULL);
        response_case("truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", step,
                      HTTP_ETRUNC, 200, "", NULL);
        response_case("truncated chunk",
                      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "a\r\nabc",
                      step, HTTP_ETRUNC, 200, "", NULL);
        response_case("missing chunk CRLF",
                      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\nabcX\r\n0\r\n\r\n",
                      step, HTTP_EPROTO, 200, "", NULL);
        response_case("bad status line", "HTTP/2 200 OK\r\n\r\n", step, HTTP_EPROTO, 0, "", NULL);
        response_case("conflicting lengths",
                      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", step,
                      HTTP_EPROTO, 200, "", NULL);
        response_case("header without colon", "HTTP/1.1 200 OK\r\nBroken\r\n\r\n", step,
                      HTTP_EPROTO, 200, "", NULL);
        response_case(
            "line too long",
            "HTTP/1.1 200 OK\r\nX: "
            "0123456789012345678901234567890123456789012345678901234567890123456789"
            "0123456789012345678901234567890123456789012345678901234567890123456789\r\n\r\n",
            step, HTTP_ETOOLONG, 200, "", NULL);
        response_case("headers cut", "HTTP/1.1 200 OK\r\nContent-Len", step, HTTP_ETRUNC, 200, "",
                      NULL);
    }
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "all";
    int all = strcmp(what, "all") == 0;
    if (all || strcmp(what, "sha256") == 0)
        test_sha256();
    if (all || strcmp(what, "parsers") == 0)
        test_parsers();
    printf("units: %s: %d checks, %d failed\n", what, g_checks, g_failed);
    return g_failed == 0 && g_checks > 0 ? 0 : 1;
}
