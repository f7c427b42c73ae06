#!/usr/bin/python3
"""tlspeer - Linux-side TLS test peers and certificates for wsksock/tls.h.

Usage: tlspeer.py COMMAND [options]; also a module (make_certs, start_nginx,
TLSPipe, pattern, write_big_file). Needs python3-cryptography 38+, openssl,
curl and Debian's nginx. Every command takes --timeout S (default 60,
selftest 180): no wait is longer, and a watchdog kills the process 10 s after
it. A run dies with its parent (PR_SET_PDEATHSIG), ends cleanly on SIGTERM,
SIGINT, SIGHUP, and on every exit path stops what it started (nginx, openssl,
curl) and removes its temp dir (/tmp/tlspeer-*). Ports are picked free on
127.0.0.1. Results: keyword lines on stdout, flushed at once; diagnostics on
stderr. Exit codes: 0 as expected, 1 a check failed, 2 usage/setup error,
3 timed out or stopped by a signal before the goal, 4 TLS handshake or
certificate verification failed.

certs --out DIR: PEM files (RSA keys "RSA PRIVATE KEY"; leaves have SAN
  DNS:localhost unless said), printing "CERTS <dir>":
  ca.pem ca.key ca.der  root "wsksock test CA", RSA 2048; other-ca.pem/.key
  an unrelated root; intermediate.pem/.key "wsksock test intermediate" by ca;
  server.pem .key .der  by ca, SAN DNS:localhost IP:127.0.0.1, valid from
  yesterday for 30 days; server-pkcs8.key (PKCS#8 "PRIVATE KEY");
  server-chain.pem/.key server.pem + ca.pem; server-ichain.pem/.key a leaf by
  the intermediate + the intermediate; server-noichain.pem/.key that leaf
  alone; ec-server.pem/.key ECDSA P-256 by ca ("EC PRIVATE KEY");
  expired (2020-01-01..2021-01-01), notyet (from now+10 years), wronghost
  (SAN DNS:other.example only): .pem/.key by ca; untrusted.pem/.key by
  other-ca; selfsigned.pem/.key a self-signed leaf, not a CA;
  pins.txt "sha256 <hex SHA-256 of the DER> server.pem", then ec-server.pem's
  (server.pem first: a substring match on "server.pem" finds it first).
nginx --certs DIR [--cert server] --root DIR [--size-mib N]
  --size-mib writes ROOT/big.bin first: N MiB, MiB i = SHAKE-256("wsksock
  big.bin <i>"). Runs nginx (daemon and master process off; pid, logs, temp
  paths in its temp dir; nothing of /etc/nginx or /var) with DIR/NAME.pem and
  .key, TLS 1.2/1.3, serving ROOT. After a TLS handshake with it worked:
  "PORT <n>", then "SHA256 <hex>" of big.bin. Serves until SIGTERM/SIGINT,
  parent death or --timeout (exit 0); 1 if nginx fails or dies.
echo --certs DIR [--cert server] [--count N] [--tls12] [--no-close-notify]
  TLS echo server (Python ssl, a thread per connection; --tls12: at most TLS
  1.2; --no-close-notify: the client's close_notify is not answered, the
  connection just closed). "PORT <n>", then per connection "CONN <i> ok|fail
  bytes=<n> end=close_notify|eof|error: ..." (ok: the client's close_notify
  came). Runs like nginx; with --count N it exits after N connections,
  0 if all were ok.
bad --mode MODE [--certs DIR] [--cert server] [--count 1] [--tls12]
  A misbehaving server: "PORT <n>", then per connection "CONN <i> ok|fail
  <details>"; exit 0 if all were ok. Each mode then waits up to 5 s for the
  client to close and reports client=closed|reset|open.
  garbage             reads the ClientHello, sends 4 KiB of ASCII (not TLS)
  truncate-handshake  reads the ClientHello, sends the first half of the
                      real server flight (ssl.SSLObject, MemoryBIOs), closes
  drop-mid-record     handshake, reads a line if one comes within 2 s, sends
                      half of a 1000-byte application data record, closes
                      without close_notify
  close-notify        handshake, "hello\\n", close_notify (the control)
  silent              accepts, never sends; ok once the client closed
sclient --port P --cafile F [--servername localhost] [--send TEXT]
        [--expect TEXT] [--tls12]
  openssl s_client -connect 127.0.0.1:P -verify_return_error -CAfile F
  -servername NAME -verify_hostname NAME -brief; sends TEXT as is, waits for
  --expect (default: the echo, stdout == TEXT), closes (close_notify).
  "VERIFY ok|fail <why>", "PROTOCOL <v>", "CIPHER <c>", "ECHO ok|fail",
  "RESULT ok|fail". Exit 0 if verified and echoed, 4 if not verified.
pyclient --port P --cafile F [--servername localhost] [--bytes 1M]
         [--conns 1] [--host 127.0.0.1] [--tls12] [--allow-eof]
  K parallel Python ssl clients each send N bytes (K/M/G binary) of
  SHAKE-256("wsksock-pattern-<i>"), check the echo byte for byte, send
  close_notify and wait for the server's. "CONN <i> ok|fail bytes= seconds=
  mibps= version= cipher= end=close_notify|eof" (close_notify: the unwrap
  completed or SSLZeroReturnError; eof: closed without it, SSLEOFError, a
  failure unless --allow-eof), "TOTAL bytes= seconds= mibps=", "RESULT".
  Python contexts here clear OP_IGNORE_UNEXPECTED_EOF (set by default in
  Debian's 3.11.2, where it makes a truncation look like a clean end).
curl --port P --cafile F [--path /] [--host localhost] [--code 200]
  curl --cacert F https://HOST:P/PATH (HOST resolved to 127.0.0.1, bounded
  --max-time): "CURL_RC <rc>", "HTTP <code>", "BYTES <n>", "SHA256 <hex of
  the body>". Exit 0 if rc 0 and HTTP --code; 4 if curl refused the server
  (rc 35 or 60; a "VERIFY fail <message>" line too); else 1.
selftest: the pieces against each other (certs checked by openssl; nginx
  with 50 MiB fetched by curl; curl refusing each bad certificate; every bad
  mode against a Python client; echo with sclient and pyclient): "ok ..." or
  "FAIL ..." per check, then "SELFTEST PASS|FAIL ...".
"""

import argparse
import ctypes
import datetime
import glob
import hashlib
import ipaddress
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

NGINX = "/usr/sbin/nginx"
MiB = 1 << 20
GARBAGE = b"garbage-not-tls " * 256  # 4 KiB
DEADLINE = time.monotonic() + 60  # main sets it from --timeout
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_children, _tmpdirs = [], []
_cleanup_lock, _print_lock = threading.Lock(), threading.Lock()
_libc = ctypes.CDLL(None, use_errno=True)


class Stopped(Exception):
    """A signal asked us to stop."""


def say(line, err=False):
    with _print_lock:
        f = sys.stderr if err else sys.stdout
        f.write(("tlspeer: %s\n" if err else "%s\n") % line)
        f.flush()


def left(deadline=None):
    """Seconds until the deadline (the command's by default); TimeoutError if none."""
    rest = (DEADLINE if deadline is None else deadline) - time.monotonic()
    if rest <= 0:
        raise TimeoutError("timed out")
    return rest


def die_with_parent():
    _libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


def spawn(argv, **kw):
    """Popen that dies with us and is stopped by cleanup()."""
    p = subprocess.Popen(argv, preexec_fn=die_with_parent, **kw)
    _children.append(p)
    return p


def stop_child(p, grace=5.0):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    if p in _children:
        _children.remove(p)


def make_tmpdir(tag):
    _tmpdirs.append(tempfile.mkdtemp(prefix="tlspeer-%s-" % tag))
    return _tmpdirs[-1]


def cleanup():
    """Stops our children, removes our temp dirs (idempotent, any thread)."""
    if not _cleanup_lock.acquire(timeout=10):
        return
    try:
        while _children:
            try:
                stop_child(_children[-1])
            except Exception as e:  # keep cleaning whatever happens
                say("cleanup: %s" % e, err=True)
                _children.pop()
        while _tmpdirs:
            shutil.rmtree(_tmpdirs.pop(), ignore_errors=True)
    finally:
        _cleanup_lock.release()


def _on_signal(signum, frame):
    raise Stopped(signal.Signals(signum).name)


def _watchdog(seconds):
    time.sleep(seconds)
    say("watchdog: still running 10 s after --timeout: killed", err=True)
    cleanup()
    os._exit(3)


def setup_process(timeout):
    global DEADLINE
    DEADLINE = time.monotonic() + timeout
    parent = os.getppid()
    die_with_parent()
    if os.getppid() != parent:
        sys.exit(3)
    for s in SIGNALS:
        signal.signal(s, _on_signal)
    threading.Thread(target=_watchdog, args=(timeout + 10,), daemon=True).start()


class Child:
    """A spawned process; its stdout and stderr are collected as text."""

    def __init__(self, argv, stdin=subprocess.DEVNULL):
        self.p = spawn(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.bufs, self.cond = ([], []), threading.Condition()
        self.readers = [threading.Thread(target=self._read, args=(f, buf), daemon=True)
                        for f, buf in zip((self.p.stdout, self.p.stderr), self.bufs)]
        for t in self.readers:
            t.start()

    def _read(self, f, buf):
        while True:
            chunk = os.read(f.fileno(), 65536)
            with self.cond:
                buf.append(chunk.decode("utf-8", "replace"))
                self.cond.notify_all()
            if not chunk:
                return

    def text(self, stderr=False):
        with self.cond:
            return "".join(self.bufs[stderr])

    def wait_for(self, regex, deadline=None, stderr=False):
        """The first match of regex (multiline) in the output, or None (exit or deadline)."""
        rx = re.compile(regex, re.M)
        with self.cond:
            while True:
                m = rx.search("".join(self.bufs[stderr]))
                if m or not any(t.is_alive() for t in self.readers):
                    return m
                rest = (deadline or DEADLINE) - time.monotonic()
                if rest <= 0:
                    return None
                self.cond.wait(min(rest, 0.2))

    def finish(self, deadline=None):
        """Waits for the exit; killed at the deadline (None returned)."""
        try:
            rc = self.p.wait(max((deadline or DEADLINE) - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            rc = None
        stop_child(self.p)
        for t in self.readers:
            t.join(2)
        return rc

    def stop(self):
        stop_child(self.p)
        return self.finish()


# ---- certificates and data ----

def make_certs(out):
    """Writes the certificate set of the module docstring into out."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    os.makedirs(out, exist_ok=True)
    utc = datetime.timezone.utc
    now = datetime.datetime.now(utc).replace(microsecond=0)
    day, decade = datetime.timedelta(days=1), datetime.timedelta(days=3652)
    PEM, DER = serialization.Encoding.PEM, serialization.Encoding.DER

    def write(name, data):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

    def key_pem(key, fmt=serialization.PrivateFormat.TraditionalOpenSSL):
        return key.private_bytes(PEM, fmt, serialization.NoEncryption())

    def cert(key, issuer=None, ca=False, cn=None, sans=("localhost",), start=None, end=None,
             path_len=None):
        issuer_cert, issuer_key = issuer or (None, key)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn or sans[0])])
        b = (x509.CertificateBuilder().subject_name(name)
             .issuer_name(issuer_cert.subject if issuer_cert else name)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(start or now - day).not_valid_after(end or now + 30 * day)
             .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
             .add_extension(x509.KeyUsage(
                 digital_signature=not ca, content_commitment=False,
                 key_encipherment=not ca and isinstance(key, rsa.RSAPrivateKey),
                 data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                 encipher_only=False, decipher_only=False), critical=True))
        if issuer_cert:
            b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer_key.public_key()), False)
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address(s)) if s[0].isdigit() else x509.DNSName(s)
                for s in sans]), False)
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                       ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        return b.sign(issuer_key, hashes.SHA256())

    keys = {n: rsa.generate_private_key(public_exponent=65537, key_size=2048) for n in (
        "ca", "other-ca", "intermediate", "server", "server-noichain", "expired", "notyet",
        "wronghost", "untrusted", "selfsigned")}
    keys["ec-server"] = ec.generate_private_key(ec.SECP256R1())
    certs = {"ca": cert(keys["ca"], ca=True, cn="wsksock test CA", end=now + decade),
             "other-ca": cert(keys["other-ca"], ca=True, cn="wsksock other CA", end=now + decade)}
    by_ca, local = (certs["ca"], keys["ca"]), ("localhost", "127.0.0.1")
    certs["intermediate"] = cert(keys["intermediate"], by_ca, ca=True, path_len=0,
                                 cn="wsksock test intermediate", end=now + decade)
    leaves = {
        "server": dict(issuer=by_ca, sans=local),
        "ec-server": dict(issuer=by_ca, sans=local),
        "server-noichain": dict(issuer=(certs["intermediate"], keys["intermediate"])),
        "expired": dict(issuer=by_ca, start=datetime.datetime(2020, 1, 1, tzinfo=utc),
                        end=datetime.datetime(2021, 1, 1, tzinfo=utc)),
        "notyet": dict(issuer=by_ca, start=now + decade, end=now + decade + 365 * day),
        "wronghost": dict(issuer=by_ca, sans=("other.example",)),
        "untrusted": dict(issuer=(certs["other-ca"], keys["other-ca"])),
        "selfsigned": {}}
    for name, kw in leaves.items():
        certs[name] = cert(keys[name], **kw)
    for name, c in certs.items():
        write(name + ".pem", c.public_bytes(PEM))
        write(name + ".key", key_pem(keys[name]))
    write("ca.der", certs["ca"].public_bytes(DER))
    write("server.der", certs["server"].public_bytes(DER))
    write("server-pkcs8.key", key_pem(keys["server"], serialization.PrivateFormat.PKCS8))
    for name, chain, key in (("server-chain", ("server", "ca"), "server"),
                             ("server-ichain", ("server-noichain", "intermediate"),
                              "server-noichain")):
        write(name + ".pem", b"".join(certs[c].public_bytes(PEM) for c in chain))
        write(name + ".key", key_pem(keys[key]))
    write("pins.txt", "".join("sha256 %s %s.pem\n" % (
        hashlib.sha256(certs[n].public_bytes(DER)).hexdigest(), n)
        for n in ("server", "ec-server")).encode())


def pattern(seed, n):
    """The first n bytes of connection seed's test stream."""
    return hashlib.shake_256(b"wsksock-pattern-%d" % seed).digest(n)


def write_big_file(path, mib):
    """Writes mib MiB of deterministic data (path None: nothing); returns its SHA-256 hex."""
    h = hashlib.sha256()
    with open(path or os.devnull, "wb") as f:
        for i in range(mib):
            chunk = hashlib.shake_256(b"wsksock big.bin %d" % i).digest(MiB)
            h.update(chunk)
            f.write(chunk if path else b"")
    return h.hexdigest()


def parse_size(text):
    m = re.fullmatch(r"(\d+)([KMG]?)(iB|B)?", text.strip(), re.I)
    if not m:
        raise argparse.ArgumentTypeError("not a size: %r" % text)
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2).upper()]


# ---- TLS plumbing ----

def strict_eof(ctx, tls12):
    """An EOF without close_notify must be an error (SSLEOFError): some Pythons
    (Debian's 3.11.2) set OP_IGNORE_UNEXPECTED_EOF by default, which hides it."""
    ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def ending(e):
    """How an exception ended a TLS stream: "eof" (no close_notify: SSLEOFError,
    or SSLError UNEXPECTED_EOF_WHILE_READING in some Pythons), "close_notify",
    "reset", or None (another error)."""
    if isinstance(e, ssl.SSLEOFError) or getattr(e, "reason", "") == "UNEXPECTED_EOF_WHILE_READING":
        return "eof"
    if isinstance(e, ssl.SSLZeroReturnError):
        return "close_notify"
    return "reset" if isinstance(e, ConnectionError) else None


def server_context(certs, name, tls12=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(certs, name + ".pem"), os.path.join(certs, name + ".key"))
    return strict_eof(ctx, tls12)


def client_context(cafile=None, tls12=False):
    """Verifies against cafile, or nothing at all without one."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    return strict_eof(ctx, tls12)


def tls_probe(port, timeout=2.0):
    """True if a TLS handshake (unverified) with 127.0.0.1:port works."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            with client_context().wrap_socket(s, server_hostname="localhost"):
                return True
    except OSError:  # ssl.SSLError too
        return False


def listen():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def accept(lsock):
    """One connection (TimeoutError at the deadline)."""
    lsock.settimeout(left())
    conn = lsock.accept()[0]
    conn.settimeout(None)
    return conn


class TLSPipe:
    """ssl.SSLObject over MemoryBIOs and a non-blocking socket: full control of
    what is sent; every wait is bounded by self.deadline (TimeoutError)."""

    def __init__(self, sock, ctx, server_side, server_hostname=None):
        sock.setblocking(False)
        self.sock, self.deadline, self.pending, self.eof = sock, DEADLINE, bytearray(), False
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_side=server_side,
                                server_hostname=server_hostname)

    def io(self):
        """One bounded wait: sends queued bytes, feeds what arrives to the SSLObject."""
        self.pending += self.out.read()
        if self.eof and not self.pending:
            raise ssl.SSLEOFError("EOF while TLS wants more")
        rr, ww, _ = select.select([] if self.eof else [self.sock],
                                  [self.sock] if self.pending else [], [],
                                  min(left(self.deadline), 0.5))
        if ww:
            del self.pending[:self.sock.send(self.pending)]
        if rr:
            try:
                data = self.sock.recv(1 << 17)
            except ConnectionResetError:
                data = b""
            if data:
                self.inc.write(data)
            else:
                self.eof = True
                self.inc.write_eof()

    def flush(self):
        self.pending += self.out.read()
        while self.pending:
            self.io()

    def call(self, fn, *args):
        """fn(*args) of the SSLObject, pumping the socket until it completes; then flushes."""
        while True:
            try:
                result = fn(*args)
                break
            except ssl.SSLWantReadError:
                self.io()
        self.flush()
        return result


# ---- bad servers ----

def recv_some(sock):
    sock.settimeout(left())
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def client_close(sock, seconds=5, fin=False):
    """(FIN first if fin) Discards input until the client closes or seconds pass."""
    end = min(time.monotonic() + seconds, DEADLINE)
    try:
        if fin:
            sock.shutdown(socket.SHUT_WR)
        while time.monotonic() < end:
            sock.settimeout(max(end - time.monotonic(), 0.01))
            if not sock.recv(65536):
                return "closed"
    except socket.timeout:
        pass
    except OSError:
        return "reset"
    return "open"


def read_client_hello(conn):
    """One TLS record (or what came until a non-TLS byte or EOF)."""
    data = b""
    while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
        chunk = recv_some(conn)
        data += chunk
        if not chunk or not data.startswith(b"\x16"):
            break
    return data


def bad_garbage(conn, ctx):
    hello = read_client_hello(conn)
    if not hello.startswith(b"\x16\x03"):
        return False, "no ClientHello (got %r)" % hello[:8]
    conn.sendall(GARBAGE)
    return True, "clienthello=%d sent=%d client=%s" % (len(hello), len(GARBAGE),
                                                       client_close(conn))


def bad_truncate(conn, ctx):
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj, got, flight = ctx.wrap_bio(inc, out, server_side=True), 0, b""
    while not flight:
        data = recv_some(conn)
        if not data:
            return False, "the client closed before a full ClientHello (%d bytes)" % got
        got += len(data)
        inc.write(data)
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        flight = out.read()
    conn.sendall(flight[:len(flight) // 2])
    return True, "clienthello=%d flight=%d sent=%d client=%s" % (
        got, len(flight), len(flight) // 2, client_close(conn, fin=True))


def bad_drop(conn, ctx):
    pipe, line = TLSPipe(conn, ctx, True), b""
    pipe.call(pipe.obj.do_handshake)
    pipe.deadline = min(DEADLINE, time.monotonic() + 2)
    try:
        while b"\n" not in line and len(line) < 4096:
            data = pipe.call(pipe.obj.read, 4096)
            if not data:
                break
            line += data
    except OSError:  # nothing within 2 s, or the client went away
        pass
    pipe.deadline = DEADLINE
    pipe.flush()
    pipe.obj.write((b"drop-mid-record " * 63)[:1000])
    record = pipe.out.read()
    conn.setblocking(True)
    conn.settimeout(left())
    conn.sendall(record[:len(record) // 2])
    return True, "version=%s request=%d record=%d sent=%d client=%s" % (
        pipe.obj.version(), len(line), len(record), len(record) // 2, client_close(conn, fin=True))


def bad_close_notify(conn, ctx):
    pipe = TLSPipe(conn, ctx, True)
    pipe.call(pipe.obj.do_handshake)
    pipe.call(pipe.obj.write, b"hello\n")
    pipe.deadline = min(DEADLINE, time.monotonic() + 5)
    try:
        pipe.call(pipe.obj.unwrap)
        client = "close_notify"
    except TimeoutError:
        client = "open"
    except OSError as e:  # ssl.SSLError too
        client = ending(e) or "error: %s" % e
    return True, "version=%s sent=hello,close_notify client=%s" % (pipe.obj.version(), client)


def bad_silent(conn, ctx):
    got = 0
    while True:
        data = recv_some(conn)  # TimeoutError at the deadline
        if not data:
            return True, "received=%d client=closed" % got
        got += len(data)


BAD_MODES = {"garbage": bad_garbage, "truncate-handshake": bad_truncate,
             "drop-mid-record": bad_drop, "close-notify": bad_close_notify,
             "silent": bad_silent}


def cmd_bad(args):
    ctx = None
    if args.mode in ("truncate-handshake", "drop-mid-record", "close-notify"):
        if not args.certs:
            say("bad --mode %s needs --certs" % args.mode, err=True)
            return 2
        ctx = server_context(args.certs, args.cert, args.tls12)
    lsock = listen()
    say("PORT %d" % lsock.getsockname()[1])
    all_ok = True
    for i in range(1, args.count + 1):
        conn = accept(lsock)
        try:
            ok, detail = BAD_MODES[args.mode](conn, ctx)
        except TimeoutError:
            raise
        except OSError as e:  # ssl.SSLError too
            ok, detail = False, "error: %s" % e
        finally:
            conn.close()
        all_ok = all_ok and ok
        say("CONN %d %s %s" % (i, "ok" if ok else "fail", detail))
    return 0 if all_ok else 1


# ---- echo server ----

def echo_connection(i, conn, ctx, results, answer=True):
    pipe, total, end = TLSPipe(conn, ctx, True), 0, "?"
    try:
        pipe.call(pipe.obj.do_handshake)
        while True:
            try:
                data = pipe.call(pipe.obj.read, 65536)
            except ssl.SSLZeroReturnError:
                data = b""
            if not data:  # the client's close_notify: answer it (or just close)
                if answer:
                    pipe.call(pipe.obj.unwrap)
                end = "close_notify"
                break
            total += len(data)
            pipe.call(pipe.obj.write, data)
    except OSError as e:  # ssl.SSLError, TimeoutError too
        end = ending(e) or "error: %s" % (e or type(e).__name__)
    finally:
        conn.close()
    results.append(end == "close_notify")
    say("CONN %d %s bytes=%d end=%s" % (i, "ok" if end == "close_notify" else "fail", total, end))


def cmd_echo(args):
    ctx = server_context(args.certs, args.cert, args.tls12)
    lsock = listen()
    say("PORT %d" % lsock.getsockname()[1])
    threads, results = [], []
    try:
        while not args.count or len(threads) < args.count:
            conn = accept(lsock)
            threads.append(threading.Thread(target=echo_connection, daemon=True,
                                            args=(len(threads) + 1, conn, ctx, results,
                                                  not args.no_close_notify)))
            threads[-1].start()
        end = DEADLINE
    except (TimeoutError, Stopped):
        if args.count:
            raise
        end = time.monotonic() + 2  # let running connections print their lines
    for t in threads:
        t.join(max(end - time.monotonic(), 0))
    return 0 if not args.count or len(results) == args.count and all(results) else 1


# ---- nginx ----

NGINX_CONF = """\
daemon off; master_process off; worker_processes 1;
pid {tmp}/nginx.pid; lock_file {tmp}/nginx.lock; error_log {tmp}/error.log notice;
events {{ worker_connections 128; }}
http {{
    access_log off; sendfile on;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    types {{ text/plain txt; text/html html; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port} ssl; server_name localhost; root {root};
        ssl_certificate {cert}; ssl_certificate_key {key}; ssl_protocols TLSv1.2 TLSv1.3;
    }}
}}
"""


def start_nginx(certs, name, root, tmp):
    """Starts nginx in tmp; returns (Popen, port) once a TLS handshake with it worked."""
    for attempt in range(3):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        conf, err = os.path.join(tmp, "nginx.conf"), os.path.join(tmp, "error.log")
        path = lambda ext: os.path.abspath(os.path.join(certs, name + ext))
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(tmp=tmp, port=port, root=os.path.abspath(root),
                                      cert=path(".pem"), key=path(".key")))
        p = spawn([NGINX, "-p", tmp + "/", "-c", conf, "-e", err], stdin=subprocess.DEVNULL,
                  stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        while p.poll() is None:
            if tls_probe(port, min(left(), 2)):
                return p, port
            time.sleep(0.05)
        stop_child(p)
        log = open(err, errors="replace").read() if os.path.exists(err) else ""
        if "Address already in use" not in log:
            raise RuntimeError("nginx exited (%s): %s" % (p.returncode, log[-1500:]))
    raise RuntimeError("nginx: no free port in 3 attempts")


def cmd_nginx(args):
    tmp = make_tmpdir("nginx")
    digest = args.size_mib is not None and write_big_file(
        os.path.join(args.root, "big.bin"), args.size_mib)
    try:
        p, port = start_nginx(args.certs, args.cert, args.root, tmp)
    except RuntimeError as e:
        say(str(e), err=True)
        return 1
    say("PORT %d" % port)
    if digest:
        say("SHA256 %s" % digest)
    try:
        while p.poll() is None:
            time.sleep(min(left(), 0.2))
    except (TimeoutError, Stopped):
        pass
    if p.poll() is not None:
        say("nginx died (%s): %s" % (p.returncode, open(os.path.join(
            tmp, "error.log"), errors="replace").read()[-1500:]), err=True)
        return 1
    return 0


# ---- clients ----

def cmd_sclient(args):
    name = args.servername
    c = Child(["openssl", "s_client", "-connect", "127.0.0.1:%d" % args.port,
               "-verify_return_error", "-CAfile", args.cafile, "-servername", name,
               "-verify_hostname", name, "-brief", "-nocommands"]
              + (["-tls1_2"] if args.tls12 else []), stdin=subprocess.PIPE)
    # -brief: the summary goes to stderr, stdout carries the data only
    verified = bool(c.wait_for(r"^Verification: OK$", stderr=True))
    if not verified and any(t.is_alive() for t in c.readers):  # not ended: the deadline
        raise TimeoutError("no handshake")
    err = c.text(stderr=True)
    why = re.search(r"verify error:num=\d+:(.*)|Verification error: (.*)", err)
    say("VERIFY ok" if verified else "VERIFY fail %s" % (
        (why.group(1) or why.group(2)) if why else err.strip()[-300:].replace("\n", " | ")))
    for key, rx in (("PROTOCOL", r"^Protocol version: (\S+)"), ("CIPHER", r"^Ciphersuite: (\S+)")):
        m = re.search(rx, err, re.M)
        if m:
            say("%s %s" % (key, m.group(1)))
    echo_ok, expect = True, args.expect if args.expect is not None else args.send
    if verified:
        try:
            if args.send:
                c.p.stdin.write(args.send.encode())
                c.p.stdin.flush()
            if expect:
                echo_ok = bool(c.wait_for(re.escape(expect))) and (
                    args.expect is not None or c.text() == args.send)
                say("ECHO %s" % ("ok" if echo_ok else "fail: got %r" % c.text()[-200:]))
            c.p.stdin.close()
        except BrokenPipeError:
            echo_ok = False
    rc = c.finish()
    if rc is None:
        raise TimeoutError("openssl s_client still running")
    ok = verified and echo_ok and rc == 0
    say("RESULT %s" % ("ok" if ok else "fail (openssl exit %s)" % rc))
    return 0 if ok else 1 if verified else 4


def py_connection(i, args, ctx, r):
    """One pyclient connection; fills the dict r."""
    r.update(i=i, ok=False, bytes=0, stage="connect")
    try:
        sock = socket.create_connection((args.host, args.port), timeout=left())
        pipe, r["stage"] = TLSPipe(sock, ctx, False, server_hostname=args.servername), "handshake"
        pipe.call(pipe.obj.do_handshake)
        r.update(version=pipe.obj.version(), cipher=pipe.obj.cipher()[0], stage="data")
        data, n, sent, got, t0 = pattern(i, args.bytes), args.bytes, 0, 0, time.monotonic()
        while got < n:
            while sent < n and sent - got < (1 << 18) and len(pipe.pending) < (1 << 16):
                pipe.obj.write(data[sent:sent + 16384])
                sent = min(n, sent + 16384)
                pipe.pending += pipe.out.read()
            try:
                while got < n:
                    chunk = pipe.obj.read(65536)
                    if not chunk:
                        raise ValueError("close_notify after %d of %d bytes" % (got, n))
                    if chunk != data[got:got + len(chunk)]:
                        raise ValueError("echo differs in bytes %d..%d" % (got, got + len(chunk)))
                    got += len(chunk)
                    r["bytes"] = got
            except ssl.SSLWantReadError:
                pipe.io()
        r.update(seconds=time.monotonic() - t0, stage="close")
        try:
            pipe.call(pipe.obj.unwrap)
            r["end"] = "close_notify"
        except TimeoutError:
            raise
        except OSError as e:  # ssl.SSLError too
            r["end"] = ending(e) or "error (%s)" % e
        r["ok"] = r["end"] == "close_notify" or (args.allow_eof and r["end"] == "eof")
        sock.close()
    except TimeoutError:
        r.update(error="%s: timed out" % r["stage"], timeout=True)
    except (OSError, ValueError) as e:  # ssl.SSLError too
        r["error"] = "%s: %s" % (r["stage"], e)


def cmd_pyclient(args):
    ctx = client_context(args.cafile, args.tls12)
    results = [{} for _ in range(args.conns)]
    threads = [threading.Thread(target=py_connection, args=(i + 1, args, ctx, results[i]),
                                daemon=True) for i in range(args.conns)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(left())
    if any(t.is_alive() for t in threads):
        raise TimeoutError("connections still running")
    seconds = max(time.monotonic() - t0, 1e-6)
    for r in results:
        s = max(r.get("seconds", 0), 1e-6)
        say("CONN %d %s bytes=%d seconds=%.3f mibps=%.1f version=%s cipher=%s end=%s%s" % (
            r["i"], "ok" if r["ok"] else "fail", r["bytes"], s, r["bytes"] / MiB / s,
            r.get("version"), r.get("cipher"), r.get("end", "-"),
            " error=%s" % r["error"] if "error" in r else ""))
    total = sum(r["bytes"] for r in results)
    say("TOTAL bytes=%d seconds=%.3f mibps=%.1f" % (total, seconds, total / MiB / seconds))
    ok = all(r["ok"] for r in results)
    say("RESULT %s" % ("ok" if ok else "fail"))
    if any(r.get("timeout") for r in results):
        return 3
    return 0 if ok else 4 if any(r["stage"] == "handshake" for r in results) else 1


def cmd_curl(args):
    body = os.path.join(make_tmpdir("curl"), "body")
    c = Child(["curl", "-sS", "--cacert", args.cafile, "--max-time", str(max(1, int(left()) - 1)),
               "--resolve", "%s:%d:127.0.0.1" % (args.host, args.port), "-o", body,
               "-w", "%{http_code}", "https://%s:%d%s" % (args.host, args.port, args.path)])
    rc, err, code = c.finish(), c.text(stderr=True).strip(), c.text().strip() or "000"
    if rc is None:
        raise TimeoutError("curl still running")
    if err:
        say("curl: " + err, err=True)
    say("CURL_RC %s" % rc)
    say("HTTP %s" % code)
    if os.path.exists(body):
        h = hashlib.sha256()
        with open(body, "rb") as f:
            for chunk in iter(lambda: f.read(MiB), b""):
                h.update(chunk)
        say("BYTES %d" % os.path.getsize(body))
        say("SHA256 %s" % h.hexdigest())
    if rc in (35, 60):
        say("VERIFY fail %s" % err.split("\n")[0])
        return 4
    return 0 if rc == 0 and code == str(args.code) else 1


def cmd_certs(args):
    make_certs(args.out)
    say("CERTS %s" % os.path.abspath(args.out))
    return 0


# ---- selftest ----

def py_against_bad(mode, port, cafile, tls12):
    """A Python ssl client against `bad --mode mode`: (what it saw, as expected?)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=1 if mode == "silent" else 5)
    try:
        try:
            t = client_context(cafile).wrap_socket(s, server_hostname="localhost",
                                                   suppress_ragged_eofs=False)
        except (socket.timeout, ssl.SSLCertVerificationError) as e:
            return "handshake %s: %s" % (type(e).__name__, e), (
                mode == "silent" and isinstance(e, socket.timeout))
        except OSError as e:  # SSLError, SSLEOFError, ConnectionResetError
            return "handshake %s: %s" % (type(e).__name__, e), mode in (
                "garbage", "truncate-handshake")
        if mode in ("garbage", "truncate-handshake", "silent") or (
                tls12 and t.version() != "TLSv1.2"):
            return "handshake completed (%s)" % t.version(), False
        if mode == "drop-mid-record":
            t.sendall(b"GET /\n")
            version = t.version()
            try:
                return "received %r" % t.recv(4096), False
            except ssl.SSLError as e:
                return "%s, then %s: %s" % (version, type(e).__name__, e), ending(e) == "eof"
        data, version = t.recv(4096), t.version()
        chunk = data
        while chunk:
            chunk = t.recv(4096)
            data += chunk
        t.unwrap()
        return "%s %r then close_notify" % (version, data), data == b"hello\n"
    except OSError as e:
        return "%s: %s" % (type(e).__name__, e), False
    finally:
        s.close()


def cmd_selftest(args):
    me = [sys.executable, os.path.abspath(__file__)]
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "tlspeer-*")))
    tmp = make_tmpdir("selftest")
    certs, www = os.path.join(tmp, "certs"), os.path.join(tmp, "www")
    os.mkdir(www)
    with open(os.path.join(www, "small.txt"), "w") as f:
        f.write("hello over TLS\n")
    small_sha = hashlib.sha256(b"hello over TLS\n").hexdigest()
    ca, other_ca = os.path.join(certs, "ca.pem"), os.path.join(certs, "other-ca.pem")
    failures, count = [], [0]

    def check(ok, what, detail=""):
        count[0] += 1
        say("%s %s%s" % ("ok  " if ok else "FAIL", what, "" if ok else ": " + detail[-800:]))
        if not ok:
            failures.append(what)
        return ok

    def run(*cmd):
        """A tlspeer command to its end: (exit status, stdout + stderr)."""
        c = Child(me + [str(a) for a in cmd] + ["--timeout", str(int(min(40, left())))])
        return c.finish(), c.text() + c.text(stderr=True)

    def server(*cmd):
        c = Child(me + [str(a) for a in cmd] + ["--timeout", str(int(min(60, left())))])
        m = c.wait_for(r"^PORT (\d+)$")
        if not m:
            c.stop()
            raise RuntimeError("%s printed no PORT: %s" % (cmd[0], c.text(stderr=True)[-800:]))
        return c, int(m.group(1))

    def ossl(*a):
        r = subprocess.run(("openssl",) + a, cwd=certs, capture_output=True, timeout=left())
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")

    rc, out = run("certs", "--out", certs)
    if not check(rc == 0, "certs --out DIR", out):
        return 1
    for name, want in (("server", 0), ("ec-server", 0), ("wronghost", 0), ("expired", 2),
                       ("notyet", 2), ("untrusted", 2), ("selfsigned", 2), ("server-noichain", 2)):
        rc, out = ossl("verify", "-CAfile", "ca.pem", name + ".pem")
        check(rc == want, "openssl verify -CAfile ca.pem %s.pem: %s" % (
            name, "refused" if want else "ok"), out)
    rc, out = ossl("verify", "-CAfile", "ca.pem", "-untrusted", "intermediate.pem",
                   "server-noichain.pem")
    check(rc == 0, "server-noichain.pem verifies through intermediate.pem", out)
    read = lambda n: open(os.path.join(certs, n), "rb").read()
    check(read("server.key").startswith(b"-----BEGIN RSA PRIVATE KEY-----")
          and read("server-pkcs8.key").startswith(b"-----BEGIN PRIVATE KEY-----")
          and read("ec-server.key").startswith(b"-----BEGIN EC PRIVATE KEY-----"),
          "keys: PKCS#1 RSA, PKCS#8, EC")
    check(read("server-ichain.pem").count(b"BEGIN CERTIFICATE") == 2 == read(
        "server-chain.pem").count(b"BEGIN CERTIFICATE"), "chain files: 2 certificates each")
    rc, out = ossl("x509", "-in", "server.pem", "-noout", "-ext", "subjectAltName")
    check("DNS:localhost" in out and "IP Address:127.0.0.1" in out,
          "server.pem: SAN DNS:localhost, IP:127.0.0.1", out)
    ec_der = subprocess.run(["openssl", "x509", "-in", os.path.join(certs, "ec-server.pem"),
                             "-outform", "der"], capture_output=True, timeout=left()).stdout
    want = "sha256 %s server.pem\nsha256 %s ec-server.pem\n" % (
        hashlib.sha256(read("server.der")).hexdigest(), hashlib.sha256(ec_der).hexdigest())
    check(read("pins.txt").decode() == want, "pins.txt: SHA-256 of the DER of server.pem, "
          "ec-server.pem", read("pins.txt").decode())

    ngx, port = server("nginx", "--certs", certs, "--cert", "server", "--root", www,
                       "--size-mib", 50)
    m, want = ngx.wait_for(r"^SHA256 ([0-9a-f]{64})$"), write_big_file(None, 50)
    check(bool(m) and m.group(1) == want, "nginx --size-mib 50: big.bin's SHA-256", ngx.text())
    t0 = time.monotonic()
    rc, out = run("curl", "--port", port, "--cafile", ca, "--path", "/big.bin")
    check(rc == 0 and "HTTP 200" in out and "SHA256 " + want in out,
          "curl --cacert ca.pem https://localhost:%d/big.bin: 50 MiB, SHA-256 equal (%.1f s)"
          % (port, time.monotonic() - t0), out)
    rc, out = run("curl", "--port", port, "--cafile", ca, "--path", "/nothere")
    check(rc == 1 and "HTTP 404" in out, "curl /nothere: HTTP 404, exit 1", out)
    check(ngx.stop() == 0, "nginx: SIGTERM ends it, exit 0", ngx.text(stderr=True))
    for cert, want in (("ec-server", 0), ("server-ichain", 0), ("server-chain", 0),
                       ("expired", 4), ("notyet", 4), ("wronghost", 4), ("untrusted", 4),
                       ("selfsigned", 4), ("server-noichain", 4)):
        ngx, port = server("nginx", "--certs", certs, "--cert", cert, "--root", www)
        rc, out = run("curl", "--port", port, "--cafile", ca, "--path", "/small.txt")
        ngx.stop()
        check(rc == want and (want or "SHA256 " + small_sha in out), "curl vs nginx with %s: %s"
              % (cert, re.search(r"VERIFY fail curl: \(60\) (.*)|$", out).group(1) or "ok"), out)

    for mode in BAD_MODES:
        for tls12 in ([], ["--tls12"]):
            bad, port = server("bad", "--mode", mode, "--certs", certs, *tls12)
            what, ok = py_against_bad(mode, port, ca, tls12)
            rc = bad.finish(min(DEADLINE, time.monotonic() + 15))
            check(ok and rc == 0, "bad %s%s: Python ssl: %s; server exit %s, %s" % (
                mode, " --tls12" if tls12 else "", what, rc, bad.text().strip().split("\n")[-1]),
                bad.text(stderr=True))

    echo, port = server("echo", "--certs", certs)
    rc, out = run("sclient", "--port", port, "--cafile", ca, "--send", "hello via s_client")
    check(rc == 0 and "VERIFY ok" in out and "ECHO ok" in out, "sclient vs echo: verified, "
          "echoed: " + " ".join(re.findall(r"^(?:PROTOCOL|CIPHER) (\S+)", out, re.M)), out)
    rc, out = run("sclient", "--port", port, "--cafile", ca, "--send", "x", "--tls12")
    check(rc == 0 and "PROTOCOL TLSv1.2" in out, "sclient --tls12 vs echo: TLS 1.2", out)
    rc, out = run("sclient", "--port", port, "--cafile", other_ca, "--send", "x")
    check(rc == 4 and "VERIFY fail" in out, "sclient --cafile other-ca.pem: exit 4", out)
    rc, out = run("sclient", "--port", port, "--cafile", ca, "--servername", "other.example")
    check(rc == 4, "sclient --servername other.example: exit 4", out)
    rc, out = run("pyclient", "--port", port, "--cafile", ca, "--bytes", "8M", "--conns", 3)
    m = re.search(r"^TOTAL .*mibps=(\S+)", out, re.M)
    check(rc == 0 and out.count("end=close_notify") == 3, "pyclient --bytes 8M --conns 3: "
          "echoed, close_notify both ways (%s MiB/s)" % (m and m.group(1)), out)
    rc, out = run("pyclient", "--port", port, "--cafile", ca, "--tls12", "--bytes", 100000)
    check(rc == 0 and "version=TLSv1.2" in out, "pyclient --tls12: TLS 1.2", out)
    rc, out = run("pyclient", "--port", port, "--cafile", other_ca)
    check(rc == 4, "pyclient --cafile other-ca.pem: exit 4", out)
    check(echo.stop() == 0 and len(re.findall(r"^CONN \d+ ok ", echo.text(), re.M)) == 6,
          "echo: 6 connections ok, 3 refused; SIGTERM: exit 0", echo.text())
    echo, port = server("echo", "--certs", certs, "--cert", "ec-server", "--count", 1)
    rc, out = run("pyclient", "--port", port, "--cafile", ca, "--tls12")
    erc = echo.finish(min(DEADLINE, time.monotonic() + 10))
    check(rc == 0 and "ECDSA" in out and erc == 0, "echo --cert ec-server --count 1: ECDSA, "
          "exit 0 by itself", out + echo.text())
    echo, port = server("echo", "--certs", certs, "--no-close-notify")
    rc, out = run("pyclient", "--port", port, "--cafile", ca)
    rc2, out2 = run("pyclient", "--port", port, "--cafile", ca, "--allow-eof")
    echo.stop()
    check(rc == 1 and "end=eof" in out and rc2 == 0, "pyclient vs echo --no-close-notify: "
          "end=eof, exit 1 (0 with --allow-eof)", out + out2)
    echo, port = server("echo", "--certs", certs, "--cert", "expired")
    rc, out = run("pyclient", "--port", port, "--cafile", ca)
    echo.stop()
    check(rc == 4 and "expired" in out, "pyclient vs an expired certificate: exit 4", out)

    shutil.rmtree(_tmpdirs.pop(_tmpdirs.index(tmp)), ignore_errors=True)
    after = set(glob.glob(os.path.join(tempfile.gettempdir(), "tlspeer-*"))) - before
    check(not after and not _children, "no temp dirs or processes left", str(after))
    say("SELFTEST %s" % ("PASS %d checks" % count[0] if not failures else "FAIL %d of %d: %s"
                         % (len(failures), count[0], "; ".join(failures))))
    return 0 if not failures else 1


# ---- command line ----

def main(argv=None):
    ap = argparse.ArgumentParser(prog="tlspeer.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)

    def cmd(name, fn, *opts, timeout=60):
        """A subcommand; each opt is "--name [req] [flag] [int|size] [=default]"."""
        p = sub.add_parser(name)
        p.set_defaults(fn=fn)
        p.add_argument("--timeout", type=float, default=timeout, help="seconds (%d)" % timeout)
        for opt in opts:
            flags = opt.split()
            kw = dict(action="store_true") if "flag" in flags else {}
            if "req" in flags:
                kw["required"] = True
            for f in flags[1:]:
                if f.startswith("="):
                    kw["default"] = f[1:]
                elif f in ("int", "size"):
                    kw["type"] = int if f == "int" else parse_size
            p.add_argument(flags[0], **kw)
        return p

    cmd("certs", cmd_certs, "--out req")
    cmd("nginx", cmd_nginx, "--certs req", "--cert =server", "--root req", "--size-mib int")
    cmd("echo", cmd_echo, "--certs req", "--cert =server", "--count int =0", "--tls12 flag",
        "--no-close-notify flag")
    cmd("bad", cmd_bad, "--mode req", "--certs", "--cert =server", "--count int =1",
        "--tls12 flag")
    client = ("--port req int", "--cafile req")
    cmd("sclient", cmd_sclient, *client, "--servername =localhost", "--send", "--expect",
        "--tls12 flag")
    cmd("pyclient", cmd_pyclient, *client, "--servername =localhost", "--bytes size =1M",
        "--conns int =1", "--host =127.0.0.1", "--tls12 flag", "--allow-eof flag")
    cmd("curl", cmd_curl, *client, "--path =/", "--host =localhost", "--code int =200")
    cmd("selftest", cmd_selftest, timeout=180)
    args = ap.parse_args(argv)
    if args.command == "bad" and args.mode not in BAD_MODES:
        ap.error("--mode: one of " + ", ".join(BAD_MODES))

    setup_process(args.timeout)
    try:
        return args.fn(args)
    except TimeoutError as e:
        say("%s: timed out after %.0f s (%s)" % (args.command, args.timeout, e), err=True)
        return 3
    except Stopped as e:
        say("%s: stopped by %s" % (args.command, e), err=True)
        return 3
    except (RuntimeError, OSError, ValueError) as e:
        say("%s: %s: %s" % (args.command, type(e).__name__, e), err=True)
        return 2
    finally:
        for s in SIGNALS:
            signal.signal(s, signal.SIG_IGN)
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
