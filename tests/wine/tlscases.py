"""tlscases - the test suite's TLS cases (wsksock/tls.h), on both beds.

tls-client: the ktls test driver (tests/drivers/ktls) as a TLS client
against Python TLS servers with certificates made at run time
(tests/tls/tlspeer.py certs): good RSA, EC and two-certificate chains must
work; expired, not yet valid, wrong host, untrusted chain, self-signed,
a name the certificate does not carry, a non-TLS peer, a peer that hangs
up in the handshake and one that drops the connection in the middle of a
record must each be refused with its own error. The deepest stack a
handshake used is reported (a figure).

https-get: examples/http-get fetches a 50 MiB file over HTTPS from nginx
(Debian's, with TLS; SHA-256 compared with the file's), with a pin that
matches and one that does not.

tls-echo: examples/tls-echo, a kernel TLS echo server, with openssl
s_client, Python's ssl and curl (RSA and EC certificates), a non-TLS
client, and an unload with connections open (case_tls_echo).

Imported by wsksuite.py (which owns Case, Proc and Failure; they are
passed in, so this file has no import cycle)."""

import os
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TLSPEER = os.path.join(ROOT, "tests", "tls", "tlspeer.py")
MiB = 1 << 20

# KS_ETLS_* (include/wsksock/tls.h), negated as the calls return them.
UNTRUSTED, EXPIRED, NAME, PIN, BADCERT, PROTOCOL, TRUNCATED = (
    -13001, -13002, -13003, -13004, -13005, -13006, -13007)


def make_certs(Failure):
    """A temporary folder with tlspeer's certificates."""
    d = tempfile.mkdtemp(prefix="wsksock-tls-")
    r = subprocess.run(["python3", TLSPEER, "certs", "--out", d], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    if r.returncode != 0:
        raise Failure("tlspeer.py certs failed: %s" % r.stdout[-2000:])
    return d


def kernel_path(path):
    """/tmp/x/ca.pem as a driver names it: Z:\\tmp\\x\\ca.pem (Wine's Z: is /;
    the host bed's shim maps it the same way)."""
    return "Z:" + path.replace("/", "\\")


def start_server(Proc, name, argv):
    p = Proc(name, ["python3", TLSPEER] + [str(a) for a in argv])
    return p, int(p.wait_line(r"^PORT (\d+)$", 60).group(1))


def case_tls_client(c, Proc, Failure):
    d = make_certs(Failure)
    procs = []
    try:
        cases = []
        good = [("rsa", "server", "localhost", 0), ("ec", "ec-server", "localhost", 0),
                ("chain", "server-ichain", "localhost", 0),
                ("expired", "expired", "localhost", EXPIRED),
                ("notyet", "notyet", "localhost", EXPIRED),
                ("wronghost", "wronghost", "localhost", NAME),
                ("untrusted", "untrusted", "localhost", UNTRUSTED),
                ("selfsigned", "selfsigned", "localhost", UNTRUSTED),
                ("othername", "server", "other.example", NAME)]
        for label, cert, name, want in good:
            p, port = start_server(Proc, "tls-" + label,
                                   ["echo", "--certs", d, "--cert", cert, "--timeout", 200])
            procs.append(p)
            cases.append((label, port, name, str(want)))
        for mode, want in (("garbage", str(PROTOCOL)), ("truncate-handshake", str(TRUNCATED)),
                           ("drop-mid-record", "R%d" % TRUNCATED)):
            p, port = start_server(Proc, "tls-" + mode,
                                   ["bad", "--mode", mode, "--certs", d, "--timeout", 200])
            procs.append(p)
            cases.append((mode, port, "localhost", want))
        params = {"TrustFile": kernel_path(os.path.join(d, "ca.pem")), "Timeout": 20000,
                  "Cases": ",".join("%s:%d:%s:%s" % x for x in cases)}
        w = c.wskrun([c.driver("ktls")], params, r"^ktls: done", 150, name="ktls")
        c.finish_wskrun(w, 210)
        for label, _, _, want in cases:
            c.check(bool(w.grep(r"^ktls: case %s: .*: ok$" % label)),
                    "ktls case %s: want %s" % (label, want))
        c.check(bool(w.grep(r"^ktls: done failures=0$")), "ktls: no case failed")
        m = w.grep(r"^ktls: stack: handshake used (\d+) bytes")
        if c.check(bool(m), "stack use reported"):
            c.figure("deepest TLS client handshake stack (RSA 2048 and P-256 chains): %s bytes"
                     % m[0].group(1))
    finally:
        for p in procs:
            p.stop()
        subprocess.run(["rm", "-rf", d])


def case_https_get(c, Proc, Failure, http_get_run, http_get_result):
    d = make_certs(Failure)
    ngx = None
    try:
        root = os.path.join(d, "www")
        os.mkdir(root)
        with open(os.path.join(root, "small.txt"), "w") as f:
            f.write("hello over TLS\n")
        ngx, port = start_server(Proc, "nginx-tls",
                                 ["nginx", "--certs", d, "--cert", "server", "--root", root,
                                  "--size-mib", 50, "--timeout", 280])
        sha = ngx.wait_line(r"^SHA256 ([0-9a-f]{64})$", 60).group(1)
        trust = {"TrustFile": kernel_path(os.path.join(d, "ca.pem")), "Timeout": 30000}
        w = http_get_run(c, "https://localhost:%d/big.bin" % port, trust, timeout=200)
        m = http_get_result(c, w, "nginx https 50 MiB", 200, 50 * MiB, sha, 0)
        c.check(bool(w.grep(r"^http-get: TLS 1\.2 ECDHE-RSA-")), "TLS 1.2 with ECDHE")
        if m:
            c.figure("http-get 50 MiB over HTTPS from nginx: %s MiB/s (%s ms, SHA-256 included)"
                     % (m.group(5), m.group(4)))
        pins = {}
        with open(os.path.join(d, "pins.txt")) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[0] == "sha256":
                    pins[os.path.basename(parts[2])] = parts[1]
        import hashlib
        small_sha = hashlib.sha256(b"hello over TLS\n").hexdigest()
        w = http_get_run(c, "https://localhost:%d/small.txt" % port,
                         dict(trust, Pin=pins.get("server.pem", "")))
        http_get_result(c, w, "the right pin", 200, 15, small_sha, 0)
        w = http_get_run(c, "https://localhost:%d/small.txt" % port,
                         dict(trust, Pin=pins.get("ec-server.pem", "")))
        c.check(bool(w.grep(r"^http-get: failed: TLS: certificate matches no pin \(%d\)$" % PIN)),
                "a wrong pin is refused")
        # The anchor from the registry (Parameters\Trust, PEM text in a
        # REG_SZ value) instead of a file.
        with open(os.path.join(d, "ca.pem")) as f:
            ca_text = f.read()
        w = http_get_run(c, "https://localhost:%d/small.txt" % port,
                         {"Trust": ca_text, "Timeout": 30000})
        c.check(bool(w.grep(r"^http-get: 1 trust anchor\(s\) from Parameters\\Trust$")),
                "one anchor from Parameters\\Trust")
        http_get_result(c, w, "the anchor from the registry", 200, 15, small_sha, 0)
        with open(os.path.join(d, "other-ca.pem")) as f:
            other_text = f.read()
        w = http_get_run(c, "https://localhost:%d/small.txt" % port,
                         {"Trust": other_text, "Timeout": 30000})
        c.check(bool(w.grep(r"^http-get: failed: .*\(%d\)$" % UNTRUSTED)),
                "another CA in Parameters\\Trust: untrusted")
        w = http_get_run(c, "https://127.0.0.1:%d/small.txt" % port, trust)
        c.check(bool(w.grep(r"^http-get: failed: .*\(%d\)$" % NAME)),
                "https://127.0.0.1/ with a certificate for localhost: wrong name")
    finally:
        if ngx is not None:
            ngx.stop()
        subprocess.run(["rm", "-rf", d])


# ------------------------------------------------------------------ tls-echo

def tlspeer(Proc, name, argv, timeout):
    """Runs a tlspeer.py client command to its end (bounded); returns the
    process (its lines) and its exit status."""
    p = Proc(name, ["python3", TLSPEER] + [str(a) for a in argv] + ["--timeout", str(timeout)])
    return p, p.wait(timeout + 15)


def curl_request_head(port, path):
    """The request head curl sends for https://localhost:port/path (the body
    tls-echo answers with): curl's defaults, its version from curl --version."""
    out = subprocess.run(["curl", "--version"], stdout=subprocess.PIPE, text=True,
                         timeout=30).stdout
    version = out.split()[1]
    return ("GET %s HTTP/1.1\r\nHost: localhost:%d\r\nUser-Agent: curl/%s\r\nAccept: */*\r\n\r\n"
            % (path, port, version)).encode()


def tls_echo_unload_cue(c, Proc, d, port, what):
    """curl https://localhost:port/unload: the case's cue (--until) to unload."""
    p, rc = tlspeer(Proc, "curl-unload", ["curl", "--port", port, "--cafile",
                                          os.path.join(d, "ca.pem"), "--path", "/unload"], 60)
    c.check(rc == 0 and bool(p.grep(r"^HTTP 200$")),
            "%s: curl /unload: 200 (the cue to unload) [status %s]" % (what, rc))


def tls_echo_lines(w):
    """The driver's per-connection lines: {conn: text after 'conn N: '}."""
    return {int(m.group(1)): m.group(2)
            for m in w.grep(r"^tls-echo: conn (\d+): ((?:failed: |[A-Z0-9-]+ TLS ).*)$")}


def case_tls_echo(c, Proc, Failure, free_port):
    """examples/tls-echo: a kernel TLS server, checked with OpenSSL's and
    Python's clients and curl (tests/tls/tlspeer.py) on certificates made at
    run time. RSA run: openssl s_client verifies the driver's chain (to
    ca.pem, name localhost) and the echo matches; pyclient echoes 4
    connections x 4 MiB, checked byte for byte, each ended by close_notify
    both ways (MiB/s: a figure); curl https://localhost:P/hello gets 200
    with its own request head as the body; a plain TCP client sending
    garbage makes the driver log a TLS failure for that connection, while a
    TLS connection open across it keeps echoing and a new one is served;
    then the driver is unloaded with a TLS connection (idle in ks_tls_recv)
    and a TCP one (in the handshake) open: prompt, both see their end,
    every connection logged its line. EC run: an ECDSA P-256 certificate,
    s_client and pyclient negotiate ECDHE-ECDSA suites."""
    import hashlib
    import socket
    import ssl
    d = make_certs(Failure)
    ca = os.path.join(d, "ca.pem")
    held = []
    try:
        # ---- RSA
        port = free_port()
        params = {"Port": port, "CertFile": kernel_path(os.path.join(d, "server.pem")),
                  "KeyFile": kernel_path(os.path.join(d, "server.key"))}
        cue = r'^tls-echo: conn \d+: http "GET /unload HTTP/1\.1" 200 '
        w = c.wskrun([c.driver("tls-echo")], params, cue, 200, name="tls-echo")
        c.wait_kernel(w, r"^tls-echo: listening on port %d " % port, 60)

        text = "hello through a kernel TLS server"
        p, rc = tlspeer(Proc, "sclient", ["sclient", "--port", port, "--cafile", ca,
                                          "--servername", "localhost", "--send", text], 60)
        c.check(rc == 0 and bool(p.grep(r"^VERIFY ok$")) and bool(p.grep(r"^ECHO ok$")),
                "s_client: the driver's RSA chain verified (ca.pem, localhost), echo matches"
                " [status %s]" % rc)
        m = p.grep(r"^CIPHER (\S+)$")
        c.check(bool(p.grep(r"^PROTOCOL TLSv1\.2$")) and bool(m) and
                m[0].group(1).startswith("ECDHE-RSA-"),
                "s_client: TLS 1.2, ECDHE-RSA (%s)" % (m[0].group(1) if m else None))
        c.check(bool(w.grep(r"^tls-echo: conn \d+: ECDHE-RSA-\S+ TLS 1\.2 bytes=%d$" % len(text))),
                "driver: s_client's connection logged with its cipher and bytes=%d" % len(text))

        conns, size = 4, 4 * MiB
        p, rc = tlspeer(Proc, "pyclient", ["pyclient", "--port", port, "--cafile", ca,
                                           "--bytes", size, "--conns", conns], 120)
        ok = p.grep(r"^CONN \d+ ok bytes=%d .*version=TLSv1\.2 .*end=close_notify$" % size)
        c.check(rc == 0 and len(ok) == conns and bool(p.grep(r"^RESULT ok$")),
                "pyclient: %d x %d bytes echoed byte for byte, clean close_notify each"
                " (%d ok) [status %s]" % (conns, size, len(ok), rc))
        c.check(len(w.grep(r"^tls-echo: conn \d+: ECDHE-RSA-\S+ TLS 1\.2 bytes=%d$" % size))
                == conns, "driver: %d connections logged bytes=%d" % (conns, size))
        t = p.grep(r"^TOTAL bytes=(\d+) seconds=([\d.]+) mibps=([\d.]+)$")
        cipher = p.grep(r"^CONN \d+ ok .*cipher=(\S+) ")
        if t:
            c.figure("tls-echo (RSA, %s) pyclient %d x 4 MiB: %s MiB/s (%s s)"
                     % (cipher[0].group(1) if cipher else "?", conns, t[0].group(3),
                        t[0].group(2)))

        p, rc = tlspeer(Proc, "curl", ["curl", "--port", port, "--cafile", ca,
                                       "--path", "/hello"], 60)
        want = curl_request_head(port, "/hello")
        m = p.grep(r"^SHA256 ([0-9a-f]{64})$")
        c.check(rc == 0 and bool(p.grep(r"^HTTP 200$")) and bool(p.grep(r"^BYTES %d$" % len(want)))
                and bool(m) and m[0].group(1) == hashlib.sha256(want).hexdigest(),
                "curl https://localhost:%d/hello: 200, the body is its request head (%d bytes)"
                " [status %s]" % (port, len(want), rc))
        c.wait_kernel(w, r'^tls-echo: conn \d+: http "GET /hello HTTP/1\.1" 200 \(%d bytes\)$'
                      % len(want), 30)

        # A TLS connection open across a plain TCP client's garbage.
        ctx = ssl.create_default_context(cafile=ca)
        a = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30),
                            server_hostname="localhost")
        held.append(a)
        a.sendall(b"before")
        c.check(a.recv(64) == b"before", "held TLS connection: echo before the garbage")
        g = socket.create_connection(("127.0.0.1", port), timeout=30)
        g.sendall(b"this is not TLS at all\r\n" * 40)
        gm = c.wait_kernel(w, r"^tls-echo: conn (\d+): failed: (.*) \((-?\d+)\)$", 30)
        c.check(int(gm.group(3)) == PROTOCOL,
                "driver: the plain TCP client's connection failed with KS_ETLS_PROTOCOL (%s)"
                % gm.group(0))
        _, ended = recv_end(g, 20)
        g.close()
        c.check(ended, "the plain TCP client's connection was closed by the driver")
        a.sendall(b"after")
        c.check(a.recv(64) == b"after", "held TLS connection: still echoes after the garbage")
        p, rc = tlspeer(Proc, "sclient-2", ["sclient", "--port", port, "--cafile", ca,
                                            "--servername", "localhost", "--send", "again"], 60)
        c.check(rc == 0, "a new s_client connection after the garbage is served [status %s]" % rc)

        # The unload with a TLS connection idle in ks_tls_recv (a) and a TCP
        # one in the handshake (b): the cue comes from a third connection.
        # b is accepted before the cue's connection (the listener takes them
        # in order), so it is open at the unload, in or before ks_tls_server.
        b = socket.create_connection(("127.0.0.1", port), timeout=30)
        held.append(b)
        tls_echo_unload_cue(c, Proc, d, port, "RSA")
        c.finish_wskrun(w, 120)
        c.check(recv_end(a, 20)[1], "held TLS connection: ended by the unload")
        c.check(recv_end(b, 20)[1], "held TCP connection (in the handshake): ended by the unload")
        u = w.grep(r"^tls-echo: unloaded in (\d+) ms \(connections=(\d+)\)$")
        if c.check(bool(u), "driver: logged its unload"):
            ms, n = int(u[0].group(1)), int(u[0].group(2))
            c.check(ms < 5000, "unload with 2 connections open took %d ms (< 5000)" % ms)
            c.figure("tls-echo unload with 2 open connections: %d ms" % ms)
            lines = tls_echo_lines(w)
            c.check(sorted(lines) == list(range(1, n + 1)),
                    "driver: each of the %d connections logged its end (%d lines)"
                    % (n, len(lines)))
            fails = [v for v in lines.values() if v.startswith("failed: ")]
            c.check(len(fails) == 3, "driver: 3 connections failed (garbage, the 2 held at the"
                    " unload): %s" % fails)
        for s in held:
            s.close()
        held = []

        # ---- EC (ECDSA suites), the chain and key in the registry (Cert, Key:
        # PEM text as REG_SZ; ks_tls_config_set_cert_param) instead of files
        port = free_port()
        with open(os.path.join(d, "ec-server.pem")) as f:
            ec_chain = f.read()
        with open(os.path.join(d, "ec-server.key")) as f:
            ec_key = f.read()
        params = {"Port": port, "Cert": ec_chain, "Key": ec_key}
        w = c.wskrun([c.driver("tls-echo")], params, cue, 120, name="tls-echo-ec")
        c.wait_kernel(w, r"^tls-echo: listening on port %d " % port, 60)
        c.check(bool(w.grep(r"^tls-echo: certificate and key from the parameters Cert and Key$")),
                "EC: chain and key from the registry values Cert and Key")
        p, rc = tlspeer(Proc, "sclient-ec", ["sclient", "--port", port, "--cafile", ca,
                                             "--servername", "localhost", "--send", text], 60)
        m = p.grep(r"^CIPHER (\S+)$")
        c.check(rc == 0 and bool(p.grep(r"^VERIFY ok$")) and bool(m) and
                m[0].group(1).startswith("ECDHE-ECDSA-"),
                "EC: s_client verified the ECDSA chain, ECDHE-ECDSA (%s), echo matches"
                " [status %s]" % (m[0].group(1) if m else None, rc))
        p, rc = tlspeer(Proc, "pyclient-ec", ["pyclient", "--port", port, "--cafile", ca,
                                              "--bytes", MiB, "--conns", 2], 60)
        ok = p.grep(r"^CONN \d+ ok bytes=%d .*cipher=ECDHE-ECDSA-\S+ end=close_notify$" % MiB)
        c.check(rc == 0 and len(ok) == 2, "EC: pyclient 2 x 1 MiB echoed, ECDHE-ECDSA,"
                " close_notify (%d ok) [status %s]" % (len(ok), rc))
        tls_echo_unload_cue(c, Proc, d, port, "EC")
        c.finish_wskrun(w, 90)
        c.check(len(w.grep(r"^tls-echo: conn \d+: ECDHE-ECDSA-\S+ TLS 1\.2 bytes=")) == 4,
                "EC: driver logged 4 connections with ECDHE-ECDSA suites")
        c.check(bool(w.grep(r"^tls-echo: unloaded in \d+ ms \(connections=4\)$")),
                "EC: driver logged its unload")
    finally:
        for s in held:
            s.close()
        subprocess.run(["rm", "-rf", d])


def recv_end(s, timeout):
    """Reads s (a socket or an SSL socket) until the peer ended the stream
    (EOF, reset, or a TLS error/EOF); returns (data, ended)."""
    import socket
    import ssl
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return data, True
            data += b
    except (ConnectionError, ssl.SSLError):
        return data, True
    except socket.timeout:
        return data, False
