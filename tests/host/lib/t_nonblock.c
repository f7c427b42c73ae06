/*
 * t_nonblock.c - non-blocking I/O (FIONBIO, MSG_DONTWAIT), ks_poll,
 * FIONREAD and the SO_RCVTIMEO/SO_SNDTIMEO timeouts, against native peers
 * and library peers; the close and ks_cleanup with asynchronous requests in
 * flight. Timing is only checked within generous bounds.
 */
#include "tests.h"

#include <wsksock/wsk.h> /* LINGER */

#include <stdlib.h>
#include <string.h>

static int set_nb(int s, int on)
{
    unsigned long v = (unsigned long)on;
    return ks_ioctl(s, FIONBIO, &v);
}

static long nread(int s)
{
    unsigned long v = 12345;
    int r = ks_ioctl(s, FIONREAD, &v);
    return r < 0 ? r : (long)v;
}

/* revents of one socket after ks_poll, or a negative errno. */
static int poll1(int s, short events, int timeout_ms)
{
    struct ks_pollfd p;
    p.fd = s;
    p.events = events;
    p.revents = -1;
    int r = ks_poll(&p, 1, timeout_ms);
    return r < 0 ? r : p.revents;
}

static int set_timeo(int s, int name, unsigned ms)
{
    ULONG v = ms;
    return ks_setsockopt(s, SOL_SOCKET, name, &v, (int)sizeof(v));
}

static int so_error(int s)
{
    int v = -12345, len = (int)sizeof(v);
    int r = ks_getsockopt(s, SOL_SOCKET, SO_ERROR, &v, &len);
    return r < 0 ? r : v;
}

/* Non-blocking receive until len bytes came, polling for POLLIN between. */
static long nb_recv_all(int s, unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ks_ssize_t n = ks_recv(s, buf + got, len - got, 0);
        if (n == -EWOULDBLOCK) {
            int rev = poll1(s, POLLIN, 10000);
            if (!(rev & POLLIN))
                return -1000 - rev;
            continue;
        }
        if (n <= 0)
            return n < 0 ? (long)n : (long)got;
        got += (size_t)n;
    }
    return (long)got;
}

/* FIONBIO: -EWOULDBLOCK without data, POLLIN once data arrived, the data in
 * order across non-blocking, blocking and MSG_PEEK receives; end of stream. */
static void t_nb_recv(void)
{
    int fd;
    int s = ht_pair(&fd);
    char buf[64];
    HT_EQ(set_nb(s, 1), 0, "FIONBIO 1");
    HT_EQ(ks_recv(s, buf, sizeof(buf), 0), -EWOULDBLOCK, "recv without data");
    HT_EQ(poll1(s, POLLIN, 0), 0, "no POLLIN without data");
    HT_EQ(hp_send_all(fd, "hello", 5), 5, "peer sends");
    HT_CHECK(poll1(s, POLLIN, 10000) & POLLIN, "POLLIN after data", 0);
    HT_EQ(ks_recv(s, buf, sizeof(buf), 0), 5, "recv gets the data");
    HT_CHECK(memcmp(buf, "hello", 5) == 0, "data intact", 0);
    HT_EQ(ks_recv(s, buf, sizeof(buf), 0), -EWOULDBLOCK, "drained");

    /* 1 MiB through the read-ahead, then mixed calls: order kept. */
    const size_t big = 1u << 20;
    unsigned char *out = malloc(big), *in = malloc(big);
    ht_pattern(out, big, 7, 0);
    HT_EQ(hp_send_all(fd, out, big), big, "peer sends 1 MiB");
    HT_EQ(nb_recv_all(s, in, big / 2), big / 2, "non-blocking receive of half");
    size_t got = big / 2;
    unsigned char peeked[10];
    HT_EQ(set_nb(s, 0), 0, "FIONBIO 0");
    HT_EQ(ks_recv(s, peeked, 10, MSG_PEEK | MSG_WAITALL), 10, "blocking peek");
    HT_CHECK(memcmp(peeked, out + got, 10) == 0, "peeked bytes", 0);
    HT_EQ(ks_recv(s, in + got, big / 4, MSG_WAITALL), big / 4, "blocking waitall");
    got += big / 4;
    ks_ssize_t n = ks_recv(s, in + got, 1000, MSG_DONTWAIT);
    HT_CHECK(n > 0 || n == -EWOULDBLOCK, "MSG_DONTWAIT on a blocking socket", n);
    if (n > 0)
        got += (size_t)n;
    while (got < big) {
        n = ks_recv(s, in + got, big - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    HT_EQ(got, big, "every byte");
    HT_CHECK(memcmp(in, out, big) == 0, "in order, intact", 0);
    hp_close(fd);
    int rev = poll1(s, POLLIN, 10000);
    HT_CHECK((rev & POLLIN) && (rev & POLLHUP), "POLLIN|POLLHUP at the end", rev);
    HT_EQ(ks_recv(s, in, 10, 0), 0, "end of stream");
    free(out);
    free(in);
    ks_close(s);
}

/* EAGAIN and EWOULDBLOCK are one value (wsksock/errno.h), so a
 * non-blocking receive on an empty socket matches both. */
_Static_assert(EAGAIN == EWOULDBLOCK, "EAGAIN == EWOULDBLOCK");
static void t_nb_eagain(void)
{
    int fd;
    int s = ht_pair(&fd);
    char buf[16];
    HT_EQ(set_nb(s, 1), 0, "FIONBIO 1");
    ks_ssize_t n = ks_recv(s, buf, sizeof(buf), 0);
    HT_EQ(n, -EAGAIN, "non-blocking recv without data: -EAGAIN");
    HT_EQ(n, -EWOULDBLOCK, "the same value: -EWOULDBLOCK");
    HT_EQ(ks_recv(s, buf, sizeof(buf), MSG_DONTWAIT), -EAGAIN, "MSG_DONTWAIT: -EAGAIN");
    HT_CHECK(ks_strerror(-EAGAIN) == ks_strerror(-EWOULDBLOCK), "one text", 0);
    HT_CHECK(strstr(ks_strerror(-EAGAIN), "would block") != NULL, "the text says it", 0);
    hp_close(fd);
    ks_close(s);
}

/* MSG_DONTWAIT on a blocking socket; FIONREAD; end of stream seen by poll. */
static void t_dontwait_fionread(void)
{
    int fd;
    int s = ht_pair(&fd);
    char buf[300];
    HT_EQ(ks_recv(s, buf, sizeof(buf), MSG_DONTWAIT), -EWOULDBLOCK, "MSG_DONTWAIT without data");
    HT_EQ(nread(s), 0, "FIONREAD without data");
    unsigned char out[200];
    ht_pattern(out, sizeof(out), 3, 0);
    HT_EQ(hp_send_all(fd, out, sizeof(out)), sizeof(out), "peer sends 200");
    HT_CHECK(poll1(s, POLLIN, 10000) & POLLIN, "POLLIN", 0);
    long n = nread(s);
    for (int i = 0; i < 100 && n < 200; i++) { /* the bytes may come in pieces */
        ht_sleep_ms(10);
        n = nread(s);
    }
    HT_EQ(n, 200, "FIONREAD counts the bytes held");
    HT_EQ(ks_recv(s, buf, 50, MSG_DONTWAIT), 50, "MSG_DONTWAIT takes 50");
    HT_EQ(nread(s), 150, "FIONREAD after taking 50");
    HT_EQ(ks_recv(s, buf + 50, 150, 0), 150, "blocking recv takes the rest");
    HT_CHECK(memcmp(buf, out, 200) == 0, "data intact", 0);
    HT_EQ(ks_send(s, "ok", 2, MSG_DONTWAIT), 2, "send with MSG_DONTWAIT");
    HT_EQ(hp_recv_all(fd, buf, 2, 5000), 2, "peer gets it");
    HT_EQ(ks_recv(s, buf, 1, MSG_OOB), -EOPNOTSUPP, "other flags still refused");
    hp_close(fd);
    int rev = poll1(s, POLLIN, 10000);
    HT_CHECK((rev & POLLIN) && (rev & POLLHUP), "POLLIN|POLLHUP at end", rev);
    HT_EQ(ks_recv(s, buf, 10, MSG_DONTWAIT), 0, "end of stream");
    ks_close(s);
}

/* Non-blocking accept: -EWOULDBLOCK, POLLIN, the connection; the accepted
 * socket is blocking; a blocking accept behind an accept in flight. */
struct delayed_send {
    int fd;
    int delay_ms;
};

static void delayed_send_thread(void *p)
{
    struct delayed_send *d = p;
    ht_sleep_ms(d->delay_ms);
    hp_send_all(d->fd, "z", 1);
}

struct accept_call {
    int l;
    long long result;
};

static void accept_thread(void *p)
{
    struct accept_call *a = p;
    a->result = ks_accept(a->l, NULL, NULL);
}

static void t_nb_accept(void)
{
    int port;
    int l = ht_ks_listen(0, &port);
    HT_CHECK(l > 0, "listen", l);
    HT_EQ(set_nb(l, 1), 0, "FIONBIO listener");
    HT_EQ(ks_accept(l, NULL, NULL), -EWOULDBLOCK, "accept without connection");
    HT_EQ(poll1(l, POLLIN, 0), 0, "no POLLIN yet");
    int c = hp_connect(0, port);
    HT_CHECK(c >= 0, "native connect", c);
    HT_CHECK(poll1(l, POLLIN, 10000) & POLLIN, "POLLIN for a connection", 0);
    SOCKADDR_IN peer;
    int plen = (int)sizeof(peer);
    int a = ks_accept(l, (struct sockaddr *)&peer, &plen);
    HT_CHECK(a > 0, "accept", a);
    HT_EQ(peer.sin_family, AF_INET, "peer family");
    HT_EQ(ks_accept(l, NULL, NULL), -EWOULDBLOCK, "no second connection");
    /* The accepted socket blocks: a receive waits for the late byte. */
    struct delayed_send d = {c, 100};
    ht_thread *t = ht_spawn(delayed_send_thread, &d);
    char b = 0;
    HT_EQ(ks_recv(a, &b, 1, 0), 1, "accepted socket is blocking");
    HT_EQ(b, 'z', "byte");
    HT_CHECK(ht_join(t, 10000), "sender joined", 0);
    /* An accept is in flight (armed above); a blocking accept waits for it. */
    HT_EQ(set_nb(l, 0), 0, "FIONBIO 0 listener");
    struct accept_call ac = {l, 0};
    ht_thread *ta = ht_spawn(accept_thread, &ac);
    ht_sleep_ms(50);
    int c2 = hp_connect(0, port);
    HT_CHECK(ht_join(ta, 10000), "blocking accept returned", 0);
    HT_CHECK(ac.result > 0, "blocking accept behind the async one", ac.result);
    if (ac.result > 0)
        ks_close((int)ac.result);
    hp_close(c2);
    hp_close(c);
    ks_close(a);
    ks_close(l);
}

/* Non-blocking connect: -EINPROGRESS, POLLOUT, SO_ERROR 0; to a port with
 * no listener: POLLOUT|POLLERR and SO_ERROR ECONNREFUSED (positive, as
 * Winsock's SO_ERROR), then 0. */
static void t_nb_connect(void)
{
    int port;
    int lfd = hp_listen(0, &port);
    SOCKADDR_STORAGE to;
    int tolen;
    ht_loopback(0, port, &to, &tolen);
    int s = ks_socket(AF_INET, SOCK_STREAM, 0);
    HT_EQ(set_nb(s, 1), 0, "FIONBIO");
    HT_EQ(ks_connect(s, (struct sockaddr *)&to, tolen), -EINPROGRESS, "connect in progress");
    int r = ks_connect(s, (struct sockaddr *)&to, tolen);
    HT_CHECK(r == -EALREADY || r == -EISCONN, "second connect: -EALREADY or -EISCONN", r);
    int rev = poll1(s, POLLOUT | POLLIN, 10000);
    HT_CHECK(rev & POLLOUT, "POLLOUT when connected", rev);
    HT_CHECK(!(rev & (POLLERR | POLLHUP)), "no error", rev);
    HT_EQ(so_error(s), 0, "SO_ERROR 0");
    HT_EQ(ks_connect(s, (struct sockaddr *)&to, tolen), -EISCONN, "connected");
    int fd = hp_accept(lfd, 5000);
    char buf[3];
    HT_EQ(ks_send(s, "abc", 3, 0), 3, "non-blocking send");
    HT_EQ(hp_recv_all(fd, buf, 3, 5000), 3, "peer receives");
    HT_CHECK(memcmp(buf, "abc", 3) == 0, "data", 0);
    hp_close(fd);
    hp_close(lfd);
    ks_close(s);

    int s2 = ks_socket(AF_INET, SOCK_STREAM, 0);
    HT_EQ(set_nb(s2, 1), 0, "FIONBIO");
    ht_loopback(0, hp_free_port(0), &to, &tolen);
    r = ks_connect(s2, (struct sockaddr *)&to, tolen);
    HT_CHECK(r == -EINPROGRESS || r == -ECONNREFUSED, "refused connect", r);
    if (r == -EINPROGRESS) {
        rev = poll1(s2, POLLOUT, 10000);
        HT_CHECK((rev & (POLLOUT | POLLERR)) == (POLLOUT | POLLERR), "POLLOUT|POLLERR", rev);
        HT_EQ(so_error(s2), ECONNREFUSED, "SO_ERROR ECONNREFUSED");
    }
    HT_EQ(so_error(s2), 0, "SO_ERROR cleared");
    char c;
    HT_EQ(ks_recv(s2, &c, 1, 0), -ENOTCONN, "not connected");
    ks_close(s2);
}

/* Native reader: reads len bytes, checksums them. */
struct reader {
    int fd;
    size_t len;
    long got;
    unsigned long long sum;
};

static void reader_thread(void *p)
{
    struct reader *r = p;
    static unsigned char chunk[65536];
    r->sum = 14695981039346656037ull;
    r->got = 0;
    while ((size_t)r->got < r->len) {
        size_t want = r->len - (size_t)r->got;
        long n = hp_recv_all(r->fd, chunk, want < sizeof(chunk) ? want : sizeof(chunk), 30000);
        if (n <= 0)
            break;
        r->sum = ht_fnv(chunk, (size_t)n, r->sum);
        r->got += n;
    }
}

/* A large non-blocking send: partial counts, POLLOUT between, everything
 * arrives intact; the close right after delivers the last piece. */
static void t_nb_send_big(void)
{
    int fd;
    int s = ht_pair(&fd);
    const size_t len = 8u << 20;
    unsigned char *buf = malloc(len);
    ht_pattern(buf, len, 11, 0);
    struct reader rd = {fd, len, 0, 0};
    ht_thread *t = ht_spawn(reader_thread, &rd);
    HT_EQ(set_nb(s, 1), 0, "FIONBIO");
    size_t off = 0;
    int partial = 0, waits = 0, bad = 0;
    while (off < len && !bad) {
        ks_ssize_t n = ks_send(s, buf + off, len - off, 0);
        if (n > 0) {
            partial += (size_t)n < len - off;
            if ((size_t)n > 64 * 1024)
                bad = 1;
            off += (size_t)n;
        } else if (n == -EWOULDBLOCK) {
            waits++;
            if (!(poll1(s, POLLOUT, 20000) & POLLOUT))
                bad = 2;
        } else {
            bad = 3;
            HT_CHECK(0, "non-blocking send error", n);
        }
    }
    HT_EQ(bad, 0, "send loop");
    HT_CHECK(partial > 0, "partial counts", partial);
    HT_EQ(ks_close(s), 0, "close right after the last send");
    HT_CHECK(ht_join(t, 60000), "reader joined", 0);
    HT_EQ(rd.got, len, "peer got every byte");
    HT_CHECK(rd.sum == ht_fnv(buf, len, 14695981039346656037ull), "checksum", 0);
    HT_CHECK(waits >= 0, "waits", waits);
    free(buf);
    hp_close(fd);
}

/* One thread polls 100 sockets: only the ready ones are reported; timeout 0
 * and a bounded timeout; POLLHUP on a peer's close; POLLNVAL for a bad fd. */
#define NPOLL 100
static void t_poll_many(void)
{
    int port;
    int lfd = hp_listen(0, &port);
    static int s[NPOLL], fd[NPOLL];
    static struct ks_pollfd p[NPOLL + 2];
    int ok = 1;
    for (int i = 0; i < NPOLL && ok; i++) {
        s[i] = ht_ks_connect(0, port);
        fd[i] = hp_accept(lfd, 5000);
        ok = s[i] > 0 && fd[i] >= 0;
    }
    HT_CHECK(ok, "100 connections", 0);
    if (!ok)
        return;
    for (int i = 0; i < NPOLL; i++) {
        p[i].fd = s[i];
        p[i].events = POLLIN;
    }
    int closed = ks_socket(AF_INET, SOCK_STREAM, 0);
    ks_close(closed);
    p[NPOLL].fd = closed; /* stale descriptor */
    p[NPOLL].events = POLLIN;
    p[NPOLL + 1].fd = -1; /* ignored */
    p[NPOLL + 1].events = POLLIN;
    HT_EQ(ks_poll(p, NPOLL + 2, 0), 1, "timeout 0: only the stale fd");
    HT_EQ(p[NPOLL].revents, POLLNVAL, "POLLNVAL");
    HT_EQ(p[NPOLL + 1].revents, 0, "negative fd ignored");
    p[NPOLL].fd = -1;
    HT_EQ(ks_poll(p, NPOLL, 0), 0, "timeout 0: nothing ready");
    LONGLONG t0 = ht_now_ms();
    HT_EQ(ks_poll(p, NPOLL, 300), 0, "bounded timeout: nothing ready");
    LONGLONG el = ht_now_ms() - t0;
    HT_CHECK(el >= 250 && el < 10000, "waited about the timeout", el);

    static const int ready[3] = {7, 42, 99};
    for (int k = 0; k < 3; k++)
        hp_send_all(fd[ready[k]], "x", 1);
    int seen[NPOLL] = {0}, nseen = 0, wrong = 0;
    LONGLONG until = ht_now_ms() + 10000;
    while (nseen < 3 && ht_now_ms() < until) {
        int r = ks_poll(p, NPOLL, 5000);
        HT_CHECK(r >= 0, "ks_poll", r);
        if (r < 0)
            break;
        int counted = 0;
        for (int i = 0; i < NPOLL; i++) {
            if (p[i].revents == 0)
                continue;
            counted++;
            if (i != 7 && i != 42 && i != 99)
                wrong++;
            else if (!seen[i]) {
                seen[i] = 1;
                nseen++;
            }
        }
        HT_EQ(counted, r, "return value = entries with revents");
        if (nseen < 3)
            ht_sleep_ms(5);
    }
    HT_EQ(nseen, 3, "the three ready sockets reported");
    HT_EQ(wrong, 0, "no other socket reported");
    char c;
    for (int k = 0; k < 3; k++)
        HT_EQ(ks_recv(s[ready[k]], &c, 1, 0), 1, "byte of a ready socket");
    HT_EQ(ks_poll(p, NPOLL, 0), 0, "nothing ready after the reads");

    hp_close(fd[5]);
    int r = ks_poll(p, NPOLL, 10000);
    HT_EQ(r, 1, "one socket after a peer's close");
    HT_EQ(p[5].revents, POLLRDNORM | POLLHUP, "POLLIN (POLLRDNORM) | POLLHUP");
    fd[5] = -1;
    /* POLLOUT on a connected socket. */
    p[0].events = POLLOUT;
    HT_EQ(ks_poll(p, 1, 0), 1, "POLLOUT");
    HT_EQ(p[0].revents, POLLOUT, "POLLOUT only");
    HT_EQ(ks_poll(NULL, 1, 0), -EFAULT, "NULL fds");
    HT_EQ(ks_poll(NULL, 0, 0), 0, "no fds, no wait");
    for (int i = 0; i < NPOLL; i++) {
        if (fd[i] >= 0)
            hp_close(fd[i]);
        if (i % 2 == 0)
            ks_close(s[i]); /* the others are left to ks_cleanup, read-aheads in flight */
    }
    hp_close(lfd);
}

/* ks_poll on a socket another thread is blocked on in ks_recv. */
struct recv_call {
    int s;
    char buf[16];
    long long result;
};

static void recv_thread(void *p)
{
    struct recv_call *r = p;
    r->result = ks_recv(r->s, r->buf, sizeof(r->buf), 0);
}

static void t_poll_blocked_recv(void)
{
    int fd;
    int s = ht_pair(&fd);
    struct recv_call rc = {s, {0}, 0};
    ht_thread *t = ht_spawn(recv_thread, &rc);
    ht_sleep_ms(50);
    HT_EQ(poll1(s, POLLIN, 100), 0, "poll while a receive is blocked: nothing yet");
    HT_EQ(hp_send_all(fd, "first", 5), 5, "peer sends");
    int rev = poll1(s, POLLIN, 300);
    HT_CHECK(rev == 0 || rev == POLLIN, "poll: the receiver may take the bytes first", rev);
    HT_CHECK(ht_join(t, 10000), "blocked receive returned", 0);
    HT_EQ(rc.result, 5, "the blocked receive got the bytes");
    HT_CHECK(memcmp(rc.buf, "first", 5) == 0, "bytes", 0);
    HT_EQ(hp_send_all(fd, "second", 6), 6, "peer sends again");
    HT_CHECK(poll1(s, POLLIN, 10000) & POLLIN, "POLLIN", 0);
    char buf[16];
    HT_EQ(ks_recv(s, buf, sizeof(buf), 0), 6, "second");
    HT_CHECK(memcmp(buf, "second", 6) == 0, "bytes", 0);
    /* A poller waiting while another thread receives: the poller wakes. */
    ht_thread *t2 = ht_spawn(recv_thread, &rc);
    ht_sleep_ms(30);
    hp_send_all(fd, "third", 5);
    HT_CHECK(ht_join(t2, 10000), "receive returned", 0);
    HT_EQ(rc.result, 5, "third");
    hp_close(fd);
    HT_CHECK(poll1(s, POLLIN, 10000) & POLLHUP, "POLLHUP", 0);
    ks_close(s);
}

/* SO_RCVTIMEO on ks_recv and ks_accept: -ETIMEDOUT after about the time,
 * and the socket works afterwards. */
static void t_rcvtimeo(void)
{
    int fd;
    int s = ht_pair(&fd);
    char buf[16];
    HT_EQ(set_timeo(s, SO_RCVTIMEO, 200), 0, "SO_RCVTIMEO 200");
    LONGLONG t0 = ht_now_ms();
    HT_EQ(ks_recv(s, buf, sizeof(buf), 0), -ETIMEDOUT, "recv times out");
    LONGLONG el = ht_now_ms() - t0;
    HT_CHECK(el >= 150 && el < 10000, "after about 200 ms", el);
    const size_t len = 256 * 1024;
    unsigned char *out = malloc(len), *in = malloc(len);
    ht_pattern(out, len, 21, 0);
    HT_EQ(hp_send_all(fd, out, len), len, "peer sends 256 KiB");
    HT_EQ(ks_recv(s, in, len, MSG_WAITALL), len, "receive after the timeout");
    HT_CHECK(memcmp(in, out, len) == 0, "intact", 0);
    /* With a read-ahead in flight (armed by a poll): the timeout leaves it. */
    HT_EQ(poll1(s, POLLIN, 0), 0, "poll arms the read-ahead");
    HT_EQ(ks_recv(s, buf, sizeof(buf), 0), -ETIMEDOUT, "recv behind the read-ahead times out");
    HT_EQ(hp_send_all(fd, out, len), len, "peer sends again");
    HT_EQ(ks_recv(s, in, len, MSG_WAITALL), len, "receive after the timeout");
    HT_CHECK(memcmp(in, out, len) == 0, "intact", 0);
    HT_EQ(ks_recv(s, buf, 4, MSG_PEEK), -ETIMEDOUT, "peek times out too");
    free(out);
    free(in);
    hp_close(fd);
    ks_close(s);

    int port;
    int l = ht_ks_listen(0, &port);
    HT_EQ(set_timeo(l, SO_RCVTIMEO, 200), 0, "SO_RCVTIMEO on a listener");
    t0 = ht_now_ms();
    HT_EQ(ks_accept(l, NULL, NULL), -ETIMEDOUT, "accept times out");
    el = ht_now_ms() - t0;
    HT_CHECK(el >= 150 && el < 10000, "after about 200 ms", el);
    int c = hp_connect(0, port);
    int a = ks_accept(l, NULL, NULL);
    HT_CHECK(a > 0, "accept after the timeout", a);
    HT_EQ(hp_send_all(c, "hi", 2), 2, "peer sends");
    HT_EQ(ks_recv(a, buf, 2, MSG_WAITALL), 2, "accepted socket works");
    hp_close(c);
    ks_close(a);
    ks_close(l);
}

/* SO_SNDTIMEO with a peer that does not read: -ETIMEDOUT, then -EPIPE. */
static void t_sndtimeo(void)
{
    int fd;
    int s = ht_pair(&fd);
    const size_t len = 64u << 20;
    unsigned char *big = calloc(1, len);
    HT_EQ(set_timeo(s, SO_SNDTIMEO, 300), 0, "SO_SNDTIMEO 300");
    LONGLONG t0 = ht_now_ms();
    HT_EQ(ks_send(s, big, len, 0), -ETIMEDOUT, "send to a peer that does not read");
    LONGLONG el = ht_now_ms() - t0;
    HT_CHECK(el >= 250 && el < 20000, "after about 300 ms", el);
    HT_EQ(ks_send(s, "x", 1, 0), -EPIPE, "later sends: -EPIPE");
    HT_EQ(ks_send(s, "x", 1, MSG_DONTWAIT), -EPIPE, "non-blocking too");
    char c;
    HT_EQ(ks_recv(s, &c, 1, MSG_DONTWAIT), -EWOULDBLOCK, "receiving still works");
    HT_EQ(ks_close(s), 0, "close (abortive)");
    HT_EQ(hp_wait_end(fd, 10000, NULL), HP_END_RESET, "peer sees a reset");
    hp_close(fd);
    free(big);
}

/* Close and ks_cleanup with asynchronous requests in flight. */
static void t_close_inflight(void)
{
    int fd;
    int s = ht_pair(&fd);
    HT_EQ(poll1(s, POLLIN, 0), 0, "read-ahead in flight");
    HT_EQ(ks_close(s), 0, "close with a read-ahead in flight");
    HT_EQ(hp_wait_end(fd, 10000, NULL) != 0, 1, "peer sees the end");
    hp_close(fd);

    int port;
    int l = ht_ks_listen(0, &port);
    HT_EQ(set_nb(l, 1), 0, "FIONBIO");
    HT_EQ(ks_accept(l, NULL, NULL), -EWOULDBLOCK, "accept in flight");
    int c = hp_connect(0, port);
    HT_CHECK(poll1(l, POLLIN, 10000) & POLLIN, "a connection queued", 0);
    HT_EQ(ks_close(l), 0, "close with a queued connection");
    HT_EQ(hp_wait_end(c, 10000, NULL) != 0, 1, "queued connection ended");
    hp_close(c);

    /* A background send to a peer that does not read, abortive close. */
    s = ht_pair(&fd);
    LINGER lg = {1, 0};
    HT_EQ(ks_setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, (int)sizeof(lg)), 0, "SO_LINGER {1,0}");
    HT_EQ(set_nb(s, 1), 0, "FIONBIO");
    static unsigned char chunk[65536];
    ks_ssize_t n = 0;
    /* Until a send stays in flight (the peer's buffers are full). */
    for (int i = 0; i < 100000; i++) {
        n = ks_send(s, chunk, sizeof(chunk), 0);
        if (n == -EWOULDBLOCK && poll1(s, POLLOUT, 300) == 0)
            break;
        if (n < 0 && n != -EWOULDBLOCK)
            break;
    }
    HT_EQ(n, -EWOULDBLOCK, "send side full");
    HT_EQ(poll1(s, POLLOUT, 0), 0, "no POLLOUT while the send is in flight");
    HT_EQ(ks_close(s), 0, "close with a send in flight");
    hp_close(fd);

    /* Left to ks_cleanup: a read-ahead, an accept, a send in flight. */
    s = ht_pair(&fd);
    HT_EQ(poll1(s, POLLIN, 0), 0, "read-ahead left in flight");
    l = ht_ks_listen(0, &port);
    HT_EQ(poll1(l, POLLIN, 0), 0, "accept left in flight");
    int s2, fd2;
    s2 = ht_pair(&fd2);
    HT_EQ(ks_setsockopt(s2, SOL_SOCKET, SO_LINGER, &lg, (int)sizeof(lg)), 0, "SO_LINGER {1,0}");
    while (ks_send(s2, chunk, sizeof(chunk), MSG_DONTWAIT) > 0)
        ;
    /* the native ends are closed after the harness's ks_cleanup: leak them to
     * the process (closed at exit) rather than racing the cleanup. */
}

/* Datagrams: non-blocking receive, POLLIN, FIONREAD = next datagram's size,
 * truncation, sender address. */
static void t_nb_udp(void)
{
    int a = ks_socket(AF_INET, SOCK_DGRAM, 0);
    SOCKADDR_STORAGE addr;
    int len = 0, port = 0, r = -1;
    for (int tries = 0; tries < 10 && r != 0; tries++) {
        port = hp_free_port(0);
        ht_loopback(0, port, &addr, &len);
        r = ks_bind(a, (struct sockaddr *)&addr, len);
    }
    HT_EQ(r, 0, "bind");
    HT_EQ(set_nb(a, 1), 0, "FIONBIO");
    char buf[400];
    SOCKADDR_IN from;
    int fromlen = (int)sizeof(from);
    HT_EQ(ks_recvfrom(a, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen), -EWOULDBLOCK,
          "no datagram");
    HT_EQ(nread(a), 0, "FIONREAD 0");
    HT_EQ(poll1(a, POLLOUT, 0), POLLOUT, "POLLOUT on a datagram socket");
    int nport;
    int u = hp_udp(0, &nport);
    unsigned char out[300];
    ht_pattern(out, sizeof(out), 5, 0);
    HT_EQ(hp_sendto(u, 0, port, out, sizeof(out)), sizeof(out), "native sends 300");
    HT_CHECK(poll1(a, POLLIN, 10000) & POLLIN, "POLLIN", 0);
    HT_EQ(nread(a), 300, "FIONREAD: next datagram's size");
    fromlen = (int)sizeof(from);
    HT_EQ(ks_recvfrom(a, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen), 300, "datagram");
    HT_CHECK(memcmp(buf, out, 300) == 0, "intact", 0);
    HT_EQ(ks_ntohs(from.sin_port), nport, "sender port");
    HT_EQ(hp_sendto(u, 0, port, out, sizeof(out)), sizeof(out), "native sends again");
    HT_CHECK(poll1(a, POLLIN, 10000) & POLLIN, "POLLIN", 0);
    HT_EQ(ks_recvfrom(a, buf, 100, 0, NULL, NULL), -EMSGSIZE, "truncated");
    HT_EQ(ks_recvfrom(a, buf, 100, 0, NULL, NULL), -EWOULDBLOCK, "the rest is gone");
    HT_EQ(set_nb(a, 0), 0, "FIONBIO 0");
    HT_EQ(ks_recvfrom(a, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL), -EWOULDBLOCK, "MSG_DONTWAIT");
    HT_EQ(set_timeo(a, SO_RCVTIMEO, 150), 0, "SO_RCVTIMEO");
    HT_EQ(ks_recvfrom(a, buf, sizeof(buf), 0, NULL, NULL), -ETIMEDOUT, "recvfrom times out");
    HT_EQ(hp_sendto(u, 0, port, out, 10), 10, "native sends 10");
    HT_EQ(ks_recvfrom(a, buf, sizeof(buf), 0, NULL, NULL), 10, "blocking recvfrom");
    HT_EQ(ks_sendto(a, out, 20, MSG_DONTWAIT, (struct sockaddr *)&addr, len), 20,
          "sendto MSG_DONTWAIT (to itself)");
    HT_EQ(ks_recvfrom(a, buf, sizeof(buf), 0, NULL, NULL), 20, "own datagram");
    hp_close(u);
    ks_close(a);
}

/* ks_ioctl argument checks. */
static void t_ioctl_args(void)
{
    int s = ks_socket(AF_INET, SOCK_STREAM, 0);
    unsigned long v = 1;
    HT_EQ(ks_ioctl(s, FIONBIO, NULL), -EFAULT, "NULL arg");
    HT_EQ(ks_ioctl(s, 0x1234, &v), -EINVAL, "unknown cmd");
    HT_EQ(ks_ioctl(-5, FIONBIO, &v), -EBADF, "bad fd");
    HT_EQ(nread(s), 0, "FIONREAD of an unconnected socket");
    HT_EQ(poll1(s, POLLIN | POLLOUT, 0), 0, "unconnected socket: nothing");
    ks_close(s);
    HT_EQ(ks_ioctl(s, FIONBIO, &v), -EBADF, "closed fd");
}

const struct ht_test nonblock_tests[] = {
    {"nonblock-recv", t_nb_recv, ht_runs_modes},
    {"nonblock-eagain", t_nb_eagain, ht_runs_once},
    {"nonblock-dontwait-fionread", t_dontwait_fionread, ht_runs_modes},
    {"nonblock-accept", t_nb_accept, ht_runs_modes},
    {"nonblock-connect", t_nb_connect, ht_runs_modes},
    {"nonblock-send-big", t_nb_send_big, ht_runs_modes},
    {"nonblock-poll-many", t_poll_many, ht_runs_modes},
    {"nonblock-poll-blocked-recv", t_poll_blocked_recv, ht_runs_modes},
    {"nonblock-udp", t_nb_udp, ht_runs_modes},
    {"nonblock-ioctl-args", t_ioctl_args, ht_runs_modes},
    {"nonblock-close-inflight", t_close_inflight, ht_runs_modes},
    {"timeouts-rcvtimeo", t_rcvtimeo, ht_runs_modes},
    {"timeouts-sndtimeo", t_sndtimeo, ht_runs_modes},
};
const int nonblock_test_count = (int)(sizeof(nonblock_tests) / sizeof(nonblock_tests[0]));
