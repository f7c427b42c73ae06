"""httpfix - the HTTP servers of wsksuite's http-get case.

Nginx: a real nginx from Debian's packages (nginx-light or nginx), run as
the current user on 127.0.0.1 with its own temporary prefix, configuration,
pid and log files (`daemon off;`, never the system service), serving:
  /big.bin        a file of pseudo-random data (Content-Length)
  /chunked.html   a file through SSI: nginx sends it chunked (HTTP/1.1)
  /r1 -> 301 absolute -> /r2 -> 302 relative -> /r3 -> 307 relative,
  no leading slash -> /chunked.html
  /loop           302 to itself (more redirects than the driver follows)

ChunkServer: a tiny native http.server for what nginx does not send:
chunk extensions, trailer fields, odd chunk sizes, and a relative
"../" redirect.
"""

import hashlib
import http.server
import os
import shutil
import subprocess
import tempfile
import threading
import time

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    types {{ text/html html; application/octet-stream bin; }}
    default_type application/octet-stream;
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        root {prefix}/www;
        absolute_redirect off;
        chunked_transfer_encoding on;
        gzip off;
        location = /chunked.html {{ ssi on; }}
        location = /r1 {{ return 301 http://127.0.0.1:{port}/r2; }}
        location = /r2 {{ return 302 /r3; }}
        location = /r3 {{ return 307 chunked.html; }}
        location = /loop {{ return 302 /loop; }}
    }}
}}
"""


def nginx_binary():
    for path in ("/usr/sbin/nginx", shutil.which("nginx") or ""):
        if path and os.access(path, os.X_OK):
            return path
    return None


def write_random(path, size, seed):
    """size bytes of pseudo-random data (a seeded SHA-256 counter stream:
    fast and reproducible); returns their SHA-256."""
    h = hashlib.sha256()
    block = 1 << 20
    with open(path, "wb") as f:
        done = 0
        counter = 0
        while done < size:
            parts = []
            n = 0
            while n < block:
                parts.append(hashlib.sha512(b"%d:%d" % (seed, counter)).digest())
                counter += 1
                n += 64
            data = b"".join(parts)[:min(block, size - done)]
            f.write(data)
            h.update(data)
            done += len(data)
    return h.hexdigest()


class Nginx:
    def __init__(self, proc_factory, port, big_size, seed):
        """proc_factory(name, argv) starts and tracks a process (wsksuite's
        Proc, so that every exit path stops it)."""
        self.binary = nginx_binary()
        if self.binary is None:
            raise RuntimeError("nginx not installed (tools/install-deps installs nginx-light)")
        self.prefix = tempfile.mkdtemp(prefix="wsksock-nginx.")
        self.port = port
        self.proc = None
        try:
            self._start(proc_factory, big_size, seed)
        except BaseException:
            if self.proc is not None:
                self.proc.stop()
            self.cleanup()
            raise

    def _start(self, proc_factory, big_size, seed):
        port = self.port
        www = os.path.join(self.prefix, "www")
        os.makedirs(www)
        os.makedirs(os.path.join(self.prefix, "tmp"))
        os.makedirs(os.path.join(self.prefix, "logs"))
        self.big_size = big_size
        self.big_sha256 = write_random(os.path.join(www, "big.bin"), big_size, seed)
        # A body of about 200 KiB, sent chunked (SSI output has no length).
        text = b"".join(b"line %06d of the chunked page\n" % i for i in range(7000))
        with open(os.path.join(www, "chunked.html"), "wb") as f:
            f.write(text)
        self.chunked_size = len(text)
        self.chunked_sha256 = hashlib.sha256(text).hexdigest()
        self.conf = os.path.join(self.prefix, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(NGINX_CONF.format(prefix=self.prefix, port=port))
        self.proc = proc_factory("nginx", [self.binary, "-c", self.conf, "-p",
                                           self.prefix + "/", "-e",
                                           os.path.join(self.prefix, "error.log")])

    def error_log(self):
        try:
            with open(os.path.join(self.prefix, "error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        shutil.rmtree(self.prefix, ignore_errors=True)


class _ChunkHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # (extension, data) pieces of /ext; sizes cross the driver's buffers.
    PIECES = [b"a" * 1, b"b" * 4095, b"c" * 65536, b"d" * 65537, b"e" * 10, b"f" * 131072]

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        if self.path == "/ext":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Checksum")
            self.end_headers()
            for i, piece in enumerate(self.PIECES):
                ext = b';name=%d;quoted="a;b"' % i if i % 2 == 0 else b" ; e"
                self.wfile.write(b"%X%s\r\n%s\r\n" % (len(piece), ext, piece))
                self.wfile.flush()
            self.wfile.write(b"0\r\nX-Checksum: whatever\r\nX-Other: 1\r\n\r\n")
            self.wfile.flush()
            self.close_connection = True
        elif self.path == "/dir/sub/start":
            self.send_response(303)
            self.send_header("Location", "../other/./next?x=1#frag")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/dir/other/next?x=1":
            self.send_response(308)
            self.send_header("Location", "/ext")
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"moved")
        else:
            self.send_error(404)


class ChunkServer:
    def __init__(self):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ChunkHandler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        body = b"".join(_ChunkHandler.PIECES)
        self.ext_size = len(body)
        self.ext_sha256 = hashlib.sha256(body).hexdigest()
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.2}, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


def wait_listening(port, timeout, alive):
    """Waits until something accepts on 127.0.0.1:port; alive() FALSE ends
    the wait early. Returns TRUE once it does."""
    import socket
    end = time.monotonic() + timeout
    while time.monotonic() < end and alive():
        s = socket.socket()
        s.settimeout(1)
        try:
            s.connect(("127.0.0.1", port))
            return True
        except OSError:
            time.sleep(0.05)
        finally:
            s.close()
    return False
