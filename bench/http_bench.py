#!/usr/bin/env python3
"""http_bench - make bench-http: examples/httpd under Wine against nginx.

Runs httpd.sys under tools/wskrun, takes its page (GET /), starts nginx
(Debian's package, tests/wine/httpfix.py: the current user, loopback, a
private prefix, one worker; more connections allowed, no access log)
serving the same bytes as /index.html, checks
both answer GET / with them, then runs wrk against each in turn, with the
same options (default 100 connections, 2 threads, 10 s), and prints their
requests per second and the ratio. Neither run may have socket errors or
non-2xx responses (exit status 1 otherwise); the rates are reported, never
judged.
"""

import argparse
import os
import re
import socket
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "wine"))

import httpfix  # noqa: E402
import wsksuite  # noqa: E402
from wsksuite import Proc, free_port, log  # noqa: E402


def get(port, path="/"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=30) as r:
        return r.status, r.read()


def bench(name, port, args):
    rc, out, st = wsksuite.run_wrk(port, args.conns, args.threads, args.seconds)
    ok = rc == 0 and st["rps"] is not None and st["socket_errors"] is None and st["non2xx"] is None
    if not ok:
        log("FAIL %s: wrk status %d, %s, %s" % (name, rc, st["socket_errors"], st["non2xx"]))
    return ok, st


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--win", required=True, help="mingw-w64 build tree (httpd.sys)")
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()

    sys_path = os.path.join(args.win, "examples", "httpd.sys")
    if not os.path.exists(sys_path):
        sys.exit("http_bench: %s not built (make build)" % sys_path)
    port = free_port()
    nport = free_port((port,))
    ngx = None
    ok = False
    try:
        w = Proc("httpd", [os.path.join(ROOT, "tools", "wskrun"), "--timeout",
                           str(3 * args.seconds + 240), "--until",
                           r"^httpd: #\d+ 404 GET %s$" % re.escape(wsksuite.HTTPD_STOP),
                           "--param", "Port=%d" % port, sys_path])
        w.wait_line(r"^httpd: listening on port %d$" % port, 120)
        status, page = get(port)
        if status != 200:
            raise wsksuite.Failure("httpd: GET / gave %d" % status)

        # httpfix's configuration, tuned for the load: room for every
        # connection, no request limit per connection, no access log (the
        # driver logs no request either).
        conf = httpfix.NGINX_CONF
        httpfix.NGINX_CONF = conf.replace("worker_connections 64;", "worker_connections 1024;") \
            .replace("    access_log {prefix}/access.log;\n",
                     "    access_log off;\n    keepalive_requests 100000000;\n")
        try:
            ngx = httpfix.Nginx(lambda n, a: Proc(n, a), nport, 1, 1)
        finally:
            httpfix.NGINX_CONF = conf
        with open(os.path.join(ngx.prefix, "www", "index.html"), "wb") as f:
            f.write(page)
        if not httpfix.wait_listening(nport, 20, lambda: ngx.proc.p.poll() is None):
            raise wsksuite.Failure("nginx does not listen: " + ngx.error_log()[-2000:])
        status, npage = get(nport)
        if status != 200 or npage != page:
            raise wsksuite.Failure("nginx does not serve the same page (%d, %d bytes)"
                                   % (status, len(npage)))

        ok_d, d = bench("httpd", port, args)
        ok_n, n = bench("nginx", nport, args)
        ok = ok_d and ok_n
        try:
            get(port, wsksuite.HTTPD_STOP)
        except OSError:
            pass  # the 404 raises HTTPError (an OSError): the unload starts
        rc = w.wait(120)
        m = w.grep(r"^httpd: unloaded in (\d+) ms \(connections=(\d+) requests=(\d+)\)$")
        ok = ok and rc == 0 and bool(m)
        print()
        print("make bench-http: wrk -c%d -t%d -d%ds, GET / (%d-byte page), loopback"
              % (args.conns, args.threads, args.seconds, len(page)))
        print("  httpd.sys under Wine (wsksock) %10.0f requests/s" % (d["rps"] or 0))
        print("  nginx natively (1 worker)      %10.0f requests/s" % (n["rps"] or 0))
        if d["rps"] and n["rps"]:
            print("  ratio httpd/nginx              %10.2f" % (d["rps"] / n["rps"]))
        if m:
            print("  httpd unloaded in %s ms after %s connections, %s requests"
                  % (m[0].group(1), m[0].group(2), m[0].group(3)))
        print("  result: %s" % ("ok (no socket errors, no non-2xx responses)" if ok else "FAILED"))
    except (wsksuite.Failure, OSError, socket.error) as e:
        log("FAIL %s" % e)
    finally:
        if ngx is not None:
            ngx.proc.stop()
            ngx.cleanup()
        wsksuite.stop_all()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
