/*
 * units_test.c - httpd's request parser and responses, natively (host
 * build): test httpd.units.
 */
#include <stdio.h>
#include <string.h>

#include "request.h"
#include "response.h"

static int failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* Parses text (a whole head); returns the parse status. */
static int parse(const char *text, struct httpd_request *req)
{
    size_t n = strlen(text);
    CHECK(httpd_head_length(text, n) == n);
    return httpd_parse_request(text, n, req);
}

static void test_head_length(void)
{
    const char *a = "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n";
    CHECK(httpd_head_length(a, strlen(a)) == 27);
    CHECK(httpd_head_length(a, 26) == 0);
    CHECK(httpd_head_length("GET / HTTP/1.0\n\n", 16) == 16);
    CHECK(httpd_head_length("GET / HTTP/1.1\r\nHost: x\r\n", 25) == 0);
}

static void test_parse(void)
{
    struct httpd_request r;

    CHECK(parse("GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n", &r) == 0);
    CHECK(r.method == HTTPD_GET && r.minor == 1 && r.keep_alive && r.target_len == 4 &&
          memcmp(r.target, "/a?b", 4) == 0);
    CHECK(parse("HEAD / HTTP/1.1\r\nhost: x\r\nConnection: Close\r\n\r\n", &r) == 0);
    CHECK(r.method == HTTPD_HEAD && !r.keep_alive);
    CHECK(parse("GET / HTTP/1.0\r\n\r\n", &r) == 0);
    CHECK(r.minor == 0 && !r.keep_alive);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: foo, Keep-Alive\r\n\r\n", &r) == 0);
    CHECK(r.keep_alive);
    CHECK(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", &r) == 0);
    CHECK(r.method == HTTPD_OTHER && r.body_len == 5);
    CHECK(parse("get / HTTP/1.1\r\nHost: x\r\n\r\n", &r) == 0);
    CHECK(r.method == HTTPD_OTHER);
    CHECK(parse("GET / HTTP/1.1\r\n\r\n", &r) == 400); /* no Host */
    CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", &r) == 400);
    CHECK(parse("GET /  HTTP/1.1\r\nHost: x\r\n\r\n", &r) == 400);
    CHECK(parse("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", &r) == 400);
    CHECK(parse("GET / http/1.1\r\nHost: x\r\n\r\n", &r) == 400);
    CHECK(parse("GET / HTTP/2.0\r\nHost: x\r\n\r\n", &r) == 505);
    CHECK(parse("GET / HTTP/1.1\r\nHost : x\r\n\r\n", &r) == 400);
    CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", &r) == 400);
    CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", &r) == 400);
    CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                &r) == 400);
    CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", &r) == 501);
    CHECK(!r.keep_alive);
    CHECK(parse("garbage\r\n\r\n", &r) == 400);
}

/* The response to text, as a NUL-terminated string in out. */
static size_t respond(const char *text, char *out, int *status, int *keep)
{
    struct httpd_request r;
    int st = parse(text, &r);
    size_t n = httpd_respond(&r, st, out, status, keep);
    out[n < HTTPD_RESPONSE_MAX ? n : HTTPD_RESPONSE_MAX - 1] = '\0';
    return n;
}

static void test_respond(void)
{
    static char out[HTTPD_RESPONSE_MAX + 1];
    const char *page;
    size_t plen = httpd_page(&page);
    int status, keep;
    size_t n;

    CHECK(plen >= 900 && plen <= 1500);
    n = respond("GET / HTTP/1.1\r\nHost: x\r\n\r\n", out, &status, &keep);
    CHECK(status == 200 && keep && strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(n > plen && memcmp(out + n - plen, page, plen) == 0);
    CHECK(strstr(out, "Connection:") == NULL);
    n = respond("HEAD /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", out, &status, &keep);
    CHECK(status == 200 && keep && strstr(out, "Connection: keep-alive\r\n") != NULL);
    CHECK(n > 4 && strcmp(out + n - 4, "\r\n\r\n") == 0);
    respond("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", out, &status, &keep);
    CHECK(status == 404 && keep && strstr(out, "HTTP/1.1 404 Not Found\r\n") == out);
    respond("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", out, &status, &keep);
    CHECK(status == 405 && keep && strstr(out, "Allow: GET, HEAD\r\n") != NULL);
    respond("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, &status, &keep);
    CHECK(status == 200 && !keep && strstr(out, "Connection: close\r\n") != NULL);
    respond("GET / HTTP/1.1\r\n\r\n", out, &status, &keep);
    CHECK(status == 400 && !keep && strstr(out, "Connection: close\r\n") != NULL);
    CHECK(strstr(out, "Content-Length: 16\r\n") != NULL); /* "400 Bad Request\n" */
}

int main(void)
{
    test_head_length();
    test_parse();
    test_respond();
    if (failures) {
        printf("httpd units: %d failures\n", failures);
        return 1;
    }
    printf("httpd units: ok\n");
    return 0;
}
