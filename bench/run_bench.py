#!/usr/bin/env python3
"""run_bench - wsksock's benchmark: four echo servers, one client, one table.

Usage: bench/run_bench.py [--win DIR] [--host DIR] [--rounds N] [--quick]
                          [--out DIR] [--only NAME,...] [--no-chart]

Builds nothing (make bench does). In interleaved rounds (raw wsksock winsock
native k2k, then k2k native ... raw: every other round reversed, --rounds,
default 3) it starts each server
fresh, measures it with bench/client/benchclient and stops it:
  raw      raw-echo.sys, an echo driver written directly on WSK (tools/wskrun)
  wsksock  ksbench-echo.sys, the same echo server on wsksock (tools/wskrun)
  winsock  winsock-echo.exe, a user-mode Winsock echo server (bench/winexe.py)
  native   native-echo, the same server on Linux sockets
  k2k      ksbench-echo.sys and ksbench-client.sys in one wskrun run: wsksock
           to wsksock, kernel to kernel
  tls      examples/http-get.sys fetching one file from nginx over HTTP and
           over HTTPS (wsksock/tls.h; nginx with TLS from tests/tls/tlspeer.py),
           and examples/tls-echo.sys (if built) against tlspeer.py's Python
           ssl client: TLS beside plain TCP in the same run
Each Wine run has its own private prefix. Ports are picked free at run time.
Every server is stopped by a connection that sends "BENCHEND" (the drivers
then unload, which wskrun checks); anything still running on any exit path
(failure, Ctrl-C, SIGTERM) is terminated, and wskrun/winexe clean up their
prefixes.

Prints one table (median and min-max per measure and server, and the ratio
wsksock/raw), writes OUT/results.json and draws OUT/results.png (gnuplot).
OUT is bench/ by default, a directory under --host with --quick.

--quick: tiny sizes and one round, for the smoke test (ctest bench.smoke):
it proves that every piece starts, echoes checked bytes and stops.

Exit status 0 when every run completed with every byte checked; 1 otherwise.
"""

import argparse
import datetime
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVERS = ["raw", "wsksock", "winsock", "native", "k2k", "tls"]
ECHO_SERVERS = ["raw", "wsksock", "winsock", "native"]
TITLES = {"raw": "raw WSK", "wsksock": "wsksock", "winsock": "Winsock (Wine)",
          "native": "native Linux", "k2k": "wsksock k2k", "tls": "wsksock TLS"}

FULL = {"tls_mib": 100, "tls_echo_mib": 32, "stream_bytes": 200 << 20, "rt_ms": 2000, "conn_ms": 2000, "conns": 50,
        "conns_bytes": 4 << 20, "client_timeout": 300, "k2k_bytes": 200 << 20, "k2k_rt_ms": 2000}
QUICK = {"tls_mib": 4, "tls_echo_mib": 1, "stream_bytes": 4 << 20, "rt_ms": 200, "conn_ms": 200, "conns": 50,
         "conns_bytes": 64 << 10, "client_timeout": 120, "k2k_bytes": 4 << 20, "k2k_rt_ms": 200}

START_WAIT = 90     # a server listening (Wine prefix copy + start + load)
STOP_WAIT = 30      # a server gone after BENCHEND (unload included)
TERM_WAIT = 30      # after SIGTERM (wskrun/winexe clean their prefix up)
K2K_WAIT = 240      # the whole kernel-to-kernel run

# (key, label, unit, higher is better, round trip)
MEASURES = [
    ("stream_mib_s", "streamed echo, 1 conn", "MiB/s", True, False),
    ("multi_mib_s", "streamed echo, 50 conns", "MiB/s", True, False),
    ("rt64k_per_s", "64 KiB round trips", "/s", True, True),
    ("rt1_per_s", "1-byte round trips", "/s", True, True),
    ("conn_per_s", "connect+close", "/s", True, False),
]
K2K_MEASURES = [
    ("k2k_rt1_per_s", "kernel to kernel: 1-byte round trips", "/s", "k2k"),
    ("k2k_rt64k_per_s", "kernel to kernel: 64 KiB round trips", "/s", "k2k"),
    ("k2k_stream_mib_s", "kernel to kernel: streamed echo", "MiB/s", "k2k"),
    # wsksock/tls.h: one driver, a plain and a TLS figure in the same round.
    ("http_get_mib_s", "http-get from nginx, HTTP", "MiB/s", "tls"),
    ("https_get_mib_s", "http-get from nginx, HTTPS (TLS 1.2)", "MiB/s", "tls"),
    ("tls_echo_mib_s", "tls-echo, 1 conn (Python ssl client)", "MiB/s", "tls"),
]
TLS_WAIT = 300      # the whole TLS run


def log(msg):
    print("run_bench: " + msg, file=sys.stderr, flush=True)


class Failure(Exception):
    pass


class Stopped(Exception):
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


# ------------------------------------------------------------------ ports

def ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A port nobody listens on, below the ephemeral range (so that no
    client's ephemeral port takes it before the server binds it)."""
    high = min(ephemeral_low(), 65536) - 1
    low = max(10000, high - 20000)
    rnd = random.SystemRandom()
    for _ in range(200):
        port = rnd.randint(low, high)
        ok = True
        for addr in ("127.0.0.1", "0.0.0.0"):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((addr, port))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return port
    raise Failure("no free TCP port found")


# -------------------------------------------------------------- processes

class Proc:
    """A child process in its own session; its stdout lines are kept."""

    live = []

    def __init__(self, name, argv, verbose):
        self.name = name
        self.lines = []
        self.err = []
        self.cond = threading.Condition()
        self.verbose = verbose
        if verbose:
            log("start %s: %s" % (name, " ".join(argv)))
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, errors="replace",
                                  start_new_session=True)
        Proc.live.append(self)
        self.readers = [threading.Thread(target=self._read, args=(self.p.stdout, self.lines),
                                         daemon=True),
                        threading.Thread(target=self._read, args=(self.p.stderr, self.err),
                                         daemon=True)]
        for t in self.readers:
            t.start()

    def _read(self, stream, store):
        for line in stream:
            line = line.rstrip("\n")
            if self.verbose:
                log("[%s] %s" % (self.name, line))
            with self.cond:
                store.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, regex, timeout):
        rx = re.compile(regex)
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    m = rx.search(line)
                    if m:
                        return m
                if self.p.poll() is not None and not any(t.is_alive() for t in self.readers):
                    raise Failure("%s exited (status %s) before printing /%s/%s"
                                  % (self.name, self.p.returncode, regex, self.tail()))
                left = end - time.monotonic()
                if left <= 0:
                    raise Failure("%s did not print /%s/ within %d s%s"
                                  % (self.name, regex, timeout, self.tail()))
                self.cond.wait(min(left, 0.5))

    def tail(self):
        with self.cond:
            last = (self.lines + self.err)[-6:]
        return "".join("\n    " + line for line in last)

    def wait(self, timeout):
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        for t in self.readers:
            t.join(5)
        if self in Proc.live:
            Proc.live.remove(self)
        return rc

    def terminate(self):
        """SIGTERM (wskrun and winexe then clean their Wine prefix up),
        then SIGKILL to the process group."""
        if self.p.poll() is None:
            log("stopping %s" % self.name)
            try:
                self.p.send_signal(signal.SIGTERM)
                self.p.wait(timeout=TERM_WAIT)
            except (subprocess.TimeoutExpired, OSError):
                pass
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self in Proc.live:
            Proc.live.remove(self)


def terminate_all():
    for p in list(Proc.live):
        p.terminate()


def on_signal(signum, frame):
    raise Stopped(signum)


# ----------------------------------------------------------------- runs

class Bench:
    def __init__(self, args):
        self.args = args
        self.sizes = QUICK if args.quick else FULL
        self.wskrun = os.path.join(ROOT, "tools", "wskrun")
        self.winexe = os.path.join(ROOT, "bench", "winexe.py")
        self.files = {
            "raw": os.path.join(args.win, "bench", "raw-echo.sys"),
            "wsksock": os.path.join(args.win, "bench", "ksbench-echo.sys"),
            "client": os.path.join(args.win, "bench", "ksbench-client.sys"),
            "winsock": os.path.join(args.win, "bench", "winsock-echo.exe"),
            "native": os.path.join(args.host, "bench", "native-echo"),
            "benchclient": os.path.join(args.host, "bench", "benchclient"),
        }
        for f in self.files.values():
            if not os.path.isfile(f):
                raise Failure("%s is missing: run 'make bench' (or 'make build')" % f)

    def server_argv(self, name, port):
        f = self.files
        if name in ("raw", "wsksock"):
            until = "raw-echo: stop requested" if name == "raw" else "ksbench: stop requested"
            return [self.wskrun, "--timeout", "3600", "--until", until, "--param",
                    "Port=%d" % port, f[name]]
        if name == "winsock":
            return [sys.executable, self.winexe, "--timeout", "3600", f["winsock"],
                    "--port", str(port)]
        return [f["native"], "--port", str(port)]

    def echo_run(self, name):
        """One server, started fresh, measured, stopped: the client's JSON."""
        port = free_port()
        ready = r"listening on port %d\b" % port
        proc = Proc(name, self.server_argv(name, port), self.args.verbose)
        try:
            proc.wait_line(ready, START_WAIT)
            s = self.sizes
            argv = [self.files["benchclient"], "--port", str(port), "--label", name,
                    "--stream-bytes", str(s["stream_bytes"]), "--rt-ms", str(s["rt_ms"]),
                    "--conn-ms", str(s["conn_ms"]), "--conns", str(s["conns"]),
                    "--conns-bytes", str(s["conns_bytes"]),
                    "--timeout", str(s["client_timeout"])]
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               timeout=s["client_timeout"] + 30)
            try:
                result = json.loads(r.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                raise Failure("%s: benchclient printed no result (status %d): %s"
                              % (name, r.returncode, (r.stdout + r.stderr).strip()[-500:]))
            if r.returncode != 0 or not result.get("ok"):
                raise Failure("%s: benchclient: %s" % (name, result.get("error")))
            result["stop"] = self.stop(proc, port)
            return result
        finally:
            proc.terminate()

    def stop(self, proc, port):
        """Asks the server to stop (BENCHEND); returns how it ended."""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(b"BENCHEND")
                s.settimeout(STOP_WAIT)
                try:
                    s.recv(1)
                except OSError:
                    pass
        except OSError as e:
            raise Failure("%s: cannot send the stop request: %s" % (proc.name, e))
        rc = proc.wait(STOP_WAIT)
        if rc is None:
            raise Failure("%s: still running %d s after the stop request%s"
                          % (proc.name, STOP_WAIT, proc.tail()))
        if rc != 0:
            raise Failure("%s: exited with status %d after the stop request%s"
                          % (proc.name, rc, proc.tail()))
        unload = [line for line in proc.err if "unloaded" in line]
        return unload[-1].replace("wskrun: ", "") if unload else "exited 0"

    def k2k_run(self):
        s = self.sizes
        port = free_port()
        argv = [self.wskrun, "--timeout", str(K2K_WAIT - 30), "--gap", "0.5",
                "--until", r"^ksbench: (done ok|FAIL)", "--param", "Port=%d" % port,
                "--param", "Bytes=%d" % s["k2k_bytes"], "--param", "RtMs=%d" % s["k2k_rt_ms"],
                self.files["wsksock"], self.files["client"]]
        proc = Proc("k2k", argv, self.args.verbose)
        try:
            rc = proc.wait(K2K_WAIT)
            if rc is None:
                raise Failure("k2k: wskrun still running after %d s%s" % (K2K_WAIT, proc.tail()))
            fail = [line for line in proc.lines if line.startswith("ksbench: FAIL")]
            if fail:
                raise Failure("k2k: %s" % fail[0])
            res = [line for line in proc.lines if line.startswith("ksbench: result ")]
            if rc != 0 or not res:
                raise Failure("k2k: wskrun status %d, no result%s" % (rc, proc.tail()))
            v = dict(kv.split("=", 1) for kv in res[0][len("ksbench: result "):].split())
            v = {k: int(x) for k, x in v.items()}
            return {
                "ok": True,
                "k2k_rt1_per_s": v["rt1"] * 1e6 / max(v["rt1_us"], 1),
                "k2k_rt64k_per_s": v["rt64k"] * 1e6 / max(v["rt64k_us"], 1),
                "k2k_stream_mib_s": v["stream_bytes"] / 1048576.0 * 1e6 / max(v["stream_us"], 1),
                "raw": v,
            }
        finally:
            proc.terminate()

    def tls_run(self):
        """http-get over HTTP and HTTPS from nginx (the same file), and
        tls-echo against Python's ssl client: MiB/s of each."""
        sys.path.insert(0, os.path.join(ROOT, "tests", "wine"))
        import httpfix
        s = self.sizes
        tlspeer = os.path.join(ROOT, "tests", "tls", "tlspeer.py")
        http_get = os.path.join(self.args.win, "examples", "http-get.sys")
        tls_echo = os.path.join(self.args.win, "examples", "tls-echo.sys")
        work = tempfile.mkdtemp(prefix="wsksock-bench-tls-")
        procs = []

        def start(name, argv):
            p = Proc(name, argv, self.args.verbose)
            p.stop = p.terminate  # httpfix.Nginx's name for it
            procs.append(p)
            return p

        def kpath(path):
            return "Z:" + path.replace("/", "\\")

        def get(url, extra):
            argv = [self.wskrun, "--timeout", str(TLS_WAIT - 60), "--until",
                    r"^http-get: (done|failed)", "--param", "Url=" + url, "--param",
                    "Timeout=60000"]
            for k, v in extra.items():
                argv += ["--param", "%s=%s" % (k, v)]
            p = start("http-get", argv + [http_get])
            rc = p.wait(TLS_WAIT)
            m = [re.search(r"bytes=(\d+) sha256=([0-9a-f]+) ms=(\d+)", line) for line in p.lines]
            m = [x for x in m if x]
            if rc != 0 or not m:
                raise Failure("tls: http-get %s failed (status %s)%s" % (url, rc, p.tail()))
            return int(m[0].group(1)), m[0].group(2), int(m[0].group(3))

        try:
            r = subprocess.run([sys.executable, tlspeer, "certs", "--out", work],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=120)
            if r.returncode != 0:
                raise Failure("tls: tlspeer.py certs: %s" % r.stdout[-500:])
            size = s["tls_mib"] << 20
            plain_port = free_port()
            plain = httpfix.Nginx(start, plain_port, size, 7)
            try:
                if not httpfix.wait_listening(plain_port, 20, lambda: plain.proc.p.poll() is None):
                    raise Failure("tls: nginx (HTTP) does not listen")
                root = os.path.join(work, "www")
                os.mkdir(root)
                shutil.copy(os.path.join(plain.prefix, "www", "big.bin"), root)
                tls = start("nginx-tls", [sys.executable, tlspeer, "nginx", "--certs", work,
                                          "--root", root, "--timeout", str(TLS_WAIT)])
                tls_port = int(tls.wait_line(r"^PORT (\d+)$", START_WAIT).group(1))
                res = {"ok": True}
                n, sha, ms = get("http://127.0.0.1:%d/big.bin" % plain_port, {})
                if n != size or sha != plain.big_sha256:
                    raise Failure("tls: HTTP body %d bytes, SHA-256 %s" % (n, sha))
                res["http_get_mib_s"] = n / 1048576.0 * 1000 / max(ms, 1)
                n, sha, ms = get("https://localhost:%d/big.bin" % tls_port,
                                 {"TrustFile": kpath(os.path.join(work, "ca.pem"))})
                if n != size or sha != plain.big_sha256:
                    raise Failure("tls: HTTPS body %d bytes, SHA-256 %s" % (n, sha))
                res["https_get_mib_s"] = n / 1048576.0 * 1000 / max(ms, 1)
            finally:
                plain.proc.terminate()
                plain.cleanup()
            res["tls_echo_mib_s"] = None
            if os.path.isfile(tls_echo):
                port = free_port()
                srv = start("tls-echo", [self.wskrun, "--timeout", str(TLS_WAIT - 60),
                                         "--until", "tls-echo: never", "--param", "Port=%d" % port,
                                         "--param", "CertFile=" + kpath(os.path.join(work, "server.pem")),
                                         "--param", "KeyFile=" + kpath(os.path.join(work, "server.key")),
                                         tls_echo])
                srv.wait_line(r"listening", START_WAIT)
                r = subprocess.run([sys.executable, tlspeer, "pyclient", "--port", str(port),
                                    "--cafile", os.path.join(work, "ca.pem"), "--bytes",
                                    "%dM" % s["tls_echo_mib"], "--conns", "1", "--timeout", "200"],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   timeout=230)
                m = re.search(r"^TOTAL .*mibps=([\d.]+)", r.stdout, re.M)
                if r.returncode != 0 or not m:
                    raise Failure("tls: pyclient against tls-echo: %s" % r.stdout[-500:])
                res["tls_echo_mib_s"] = float(m.group(1))
            return res
        finally:
            for p in procs:
                p.terminate()
            shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- report

def cell(values, fmt):
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt % med
    return (fmt + " (" + fmt + "-" + fmt + ")") % (med, min(values), max(values))


def number_format(values):
    m = max(values) if values else 0
    return "%.0f" if m >= 100 else "%.1f" if m >= 10 else "%.2f"


def summarize(rounds):
    """Per measure and server: the per-round values; per measure, the
    per-round ratios wsksock/raw."""
    summary = {}
    for key, label, unit, _, rt in MEASURES:
        entry = {"label": label, "unit": unit, "round_trip": rt, "values": {}}
        for name in ECHO_SERVERS:
            entry["values"][name] = [r[name][key] for r in rounds if r.get(name, {}).get("ok")]
        ratios = [r["wsksock"][key] / r["raw"][key] for r in rounds
                  if r.get("raw", {}).get("ok") and r.get("wsksock", {}).get("ok")
                  and r["raw"][key] > 0]
        entry["ratio_wsksock_raw"] = ratios
        summary[key] = entry
    for key, label, unit, server in K2K_MEASURES:
        summary[key] = {"label": label, "unit": unit, "round_trip": "rt" in key,
                        "values": {"k2k": [r[server][key] for r in rounds
                                           if r.get(server, {}).get("ok")
                                           and r[server].get(key) is not None]}}
    return summary


def table(summary):
    head = ["measure", "unit"] + [TITLES[n] for n in ECHO_SERVERS] + ["wsksock/raw",
                                                                       "time wsksock/raw"]
    rows = [head]
    for key, entry in summary.items():
        vals = entry["values"]
        allv = [x for v in vals.values() for x in v]
        fmt = number_format(allv)
        row = [entry["label"], entry["unit"]]
        if key in [k for k, _, _, _ in K2K_MEASURES]:
            # wsksock client driver against wsksock server driver.
            row += ["-", cell(vals["k2k"], fmt), "-", "-", "", ""]
            rows.append(row)
            continue
        row += [cell(vals[n], fmt) for n in ECHO_SERVERS]
        ratios = entry["ratio_wsksock_raw"]
        row.append(cell(ratios, "%.2f") if ratios else "-")
        row.append(cell([1.0 / r for r in ratios if r > 0], "%.2f")
                   if entry["round_trip"] and ratios else "")
        rows.append(row)
    # Markdown table (also readable as plain text).
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    out = []
    for i, r in enumerate(rows):
        out.append("| " + " | ".join(c.ljust(widths[j]) for j, c in enumerate(r)) + " |")
        if i == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        wine = subprocess.run(["wine", "--version"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        wine = "unknown"
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "os": platform.platform(), "wine": wine}


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except (OSError, ValueError):
        return None


def chart(summary, meta, path):
    """Six panels (log scale), one per measure: bars at the median, whiskers
    over the range of the rounds."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        log("gnuplot not found: no chart (tools/install-deps installs gnuplot-nox)")
        return False
    tmp = tempfile.mkdtemp(prefix="run_bench.")
    try:
        colors = {"raw": "#4c72b0", "wsksock": "#dd8452", "winsock": "#55a868",
                  "native": "#8172b3", "k2k": "#c44e52"}
        script = ['set terminal pngcairo size 1500,900 font "sans,10"',
                  "set output '%s'" % path,
                  "set multiplot layout 2,3 title \"wsksock benchmark, %s - %s, %d cores, "
                  "%s (median of %d rounds, whiskers: min-max; log scale)\" noenhanced" % (
                      meta["date"][:10], meta["machine"]["cpu"].replace('"', ""),
                      meta["machine"]["cores"], meta["machine"]["wine"], meta["rounds"]),
                  "set style fill solid 0.85 border -1", "set boxwidth 0.7",
                  "set logscale y", "set grid ytics", "unset key", "set xtics nomirror",
                  "set yrange [*:*]"]
        panels = [k for k, _, _, _, _ in MEASURES] + ["k2k"]
        for p in panels:
            if p == "k2k":
                items = [(summary[k]["label"].replace("kernel to kernel: ", ""),
                          summary[k]["values"]["k2k"], "k2k")
                         for k, _, _, server in K2K_MEASURES if server == "k2k"]
                title = "kernel to kernel (wsksock), /s and MiB/s"
            else:
                e = summary[p]
                items = [(TITLES[n], e["values"][n], n) for n in ECHO_SERVERS]
                title = "%s (%s)" % (e["label"], e["unit"])
            dat = os.path.join(tmp, "%s.dat" % p)
            with open(dat, "w") as f:
                for i, (label, vals, name) in enumerate(items):
                    if vals:
                        f.write('%d "%s" %g %g %g %d\n' % (
                            i, label, statistics.median(vals), min(vals), max(vals),
                            int(colors[name][1:], 16)))
            script += ["set title \"%s\" noenhanced" % title, "set xrange [-0.6:%g]" % (len(items) - 0.4),
                       "plot '%s' using 1:3:6:xtic(2) with boxes lc rgb variable, "
                       "'' using 1:3:4:5 with yerrorbars lc rgb 'black' pt -1, "
                       "'' using 1:3:($3 >= 100 ? sprintf('%%.0f', $3) : sprintf('%%.1f', $3)) "
                       "with labels offset 0,0.8 "
                       "font ',9'" % dat]
        script.append("unset multiplot")
        gp = os.path.join(tmp, "chart.gp")
        with open(gp, "w") as f:
            f.write("\n".join(script) + "\n")
        r = subprocess.run([gnuplot, gp], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=120)
        if r.returncode != 0:
            log("gnuplot failed: %s" % r.stdout.strip()[-1000:])
            return False
        return True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------ main

def main(argv):
    p = argparse.ArgumentParser(prog="run_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--win", default=os.path.join(ROOT, "build", "win"),
                   help="the mingw-w64 build tree (default build/win)")
    p.add_argument("--host", default=os.path.join(ROOT, "build", "host"),
                   help="the host build tree (default build/host)")
    p.add_argument("--rounds", type=int, default=None, help="rounds (default 3; 1 with --quick)")
    p.add_argument("--quick", action="store_true", help="tiny sizes, one round (smoke test)")
    p.add_argument("--out", default=None, help="where results.json and results.png go")
    p.add_argument("--only", default=",".join(SERVERS),
                   help="servers to run, among %s" % ",".join(SERVERS))
    p.add_argument("--no-chart", action="store_true")
    p.add_argument("--verbose", action="store_true", help="echo the servers' output")
    args = p.parse_args(argv)
    rounds_n = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    only = [s for s in args.only.split(",") if s]
    if rounds_n < 1 or any(s not in SERVERS for s in only):
        p.error("--rounds must be >= 1 and --only a list among %s" % ",".join(SERVERS))
    out = args.out or (os.path.join(args.host, "bench", "quick") if args.quick
                       else os.path.join(ROOT, "bench"))

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    status = 0
    try:
        bench = Bench(args)
        meta = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "machine": machine(), "rounds": rounds_n, "quick": args.quick,
                "sizes": bench.sizes, "loadavg_start": loadavg()}
        log("%d round(s) of %s on %s, %d cores, %s" % (
            rounds_n, " ".join(only), meta["machine"]["cpu"], meta["machine"]["cores"],
            meta["machine"]["wine"]))
        rounds = []
        failures = []
        t0 = time.monotonic()
        for i in range(rounds_n):
            rnd = {}
            # Every other round runs the servers in reverse order (ABBA), so
            # raw and wsksock each take every position equally often: an A/A
            # run (raw against raw) showed the machine's drift within a round
            # moving one position by ~5% (docs/benchmarks.md).
            for name in (only if i % 2 == 0 else list(reversed(only))):
                t = time.monotonic()
                try:
                    rnd[name] = (bench.k2k_run() if name == "k2k" else
                                 bench.tls_run() if name == "tls" else bench.echo_run(name))
                    log("round %d %-8s ok in %4.1f s" % (i + 1, name, time.monotonic() - t))
                except Failure as e:
                    rnd[name] = {"ok": False, "error": str(e)}
                    failures.append("round %d: %s" % (i + 1, e))
                    log("round %d %-8s FAILED: %s" % (i + 1, name, e))
            rounds.append(rnd)
        meta["seconds"] = round(time.monotonic() - t0, 1)
        meta["loadavg_end"] = loadavg()
        summary = summarize(rounds)
        text = table(summary)
        print(text)
        print("(%s; %s, %d cores, kernel %s, %s; %d round(s), %.0f s; load average %s -> %s)"
              % (meta["date"], meta["machine"]["cpu"], meta["machine"]["cores"],
                 meta["machine"]["kernel"], meta["machine"]["wine"], rounds_n, meta["seconds"],
                 meta["loadavg_start"], meta["loadavg_end"]))
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump({"meta": meta, "measures": summary, "rounds": rounds, "table": text},
                      f, indent=1)
            f.write("\n")
        if not args.no_chart:
            chart(summary, meta, os.path.join(out, "results.png"))
        log("wrote %s" % os.path.join(out, "results.json"))
        if failures:
            for f in failures:
                log("FAIL %s" % f)
            status = 1
        else:
            log("all runs completed, every echoed byte checked")
    except Failure as e:
        log("FAIL %s" % e)
        status = 1
    except Stopped as e:
        log("stopped by signal %d" % e.signum)
        status = 128 + e.signum
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        terminate_all()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
