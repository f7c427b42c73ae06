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
        w = http_get_run(c, "https://127.0.0.1:%d/small.txt" % port, trust)
        c.check(bool(w.grep(r"^http-get: failed: .*\(%d\)$" % NAME)),
                "https://127.0.0.1/ with a certificate for localhost: wrong name")
    finally:
        if ngx is not None:
            ngx.stop()
        subprocess.run(["rm", "-rf", d])
