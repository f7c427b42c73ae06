#!/usr/bin/env python3
"""wsksuite - the Wine test suite of wsksock: one ctest test per case.

Usage: wsksuite.py CASE --wskrun PATH --drivers DIR --peers DIR [--time-limit SEC]

Each case runs test drivers under tools/wskrun (its own Wine prefix per run),
with native Linux peers (tests/peers) where the case needs them, and asserts
on both: the drivers' kernel log (wskrun's stdout) and the peers' exit
status and output. Every port is chosen at run time (native servers bind
port 0 and print theirs; ports for kernel listeners are picked free, below
the ephemeral range, and passed with --param Port=N). Every wait is bounded,
the whole case by --time-limit (default 150 s, under ctest's TIMEOUT), and
every process started is ended on every exit path.

Exit status 0 when every check passed; 1 otherwise ("wsksuite: FAIL ..."
lines say what).
"""

import argparse
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

MiB = 1 << 20


class Failure(Exception):
    pass


class Deadline(Exception):
    pass


class WineStartFailure(Exception):
    """Wine itself failed (crashed) while starting, before any driver was
    loaded: nothing of the code under test ran. The case is run again once."""


def log(msg):
    print("wsksuite: " + msg, flush=True)


# --------------------------------------------------------------------- ports

def ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(taken=()):
    """A TCP port nobody listens on, below the ephemeral range (so that no
    client's ephemeral port can take it before the driver binds it)."""
    high = min(ephemeral_low(), 65536) - 1
    low = max(10000, high - 20000)
    rnd = random.SystemRandom()
    for _ in range(200):
        port = rnd.randint(low, high)
        if port in taken:
            continue
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


# ----------------------------------------------------------------- processes

class Proc:
    """A child process whose output lines are captured (and echoed, tagged)."""

    live = []

    def __init__(self, name, argv):
        self.name = name
        self.argv = argv
        self.lines = []       # stdout lines
        self.err_lines = []   # stderr lines
        self.cond = threading.Condition()
        self.t_start = time.monotonic()
        self.t_end = None
        log("start %s: %s" % (name, " ".join(argv)))
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, errors="replace",
                                  start_new_session=True)
        Proc.live.append(self)
        self.readers = [
            threading.Thread(target=self._read, args=(self.p.stdout, self.lines, ""), daemon=True),
            threading.Thread(target=self._read, args=(self.p.stderr, self.err_lines, "(stderr) "),
                             daemon=True),
        ]
        for t in self.readers:
            t.start()

    def _read(self, stream, store, tag):
        for line in stream:
            line = line.rstrip("\n")
            print("[%s] %s%s" % (self.name, tag, line), flush=True)
            with self.cond:
                store.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, regex, timeout):
        """Waits for a stdout line matching regex; returns the match."""
        rx = re.compile(regex)
        end = time.monotonic() + timeout
        seen = 0
        with self.cond:
            while True:
                for line in self.lines[seen:]:
                    m = rx.search(line)
                    if m:
                        return m
                seen = len(self.lines)
                if self.p.poll() is not None and not any(t.is_alive() for t in self.readers):
                    raise Failure("%s exited (status %s) before printing /%s/"
                                  % (self.name, self.p.returncode, regex))
                left = end - time.monotonic()
                if left <= 0:
                    raise Failure("%s did not print /%s/ within %.0f s" % (self.name, regex, timeout))
                self.cond.wait(min(left, 0.5))

    def wait(self, timeout):
        """Waits for the exit (bounded); returns the status."""
        try:
            rc = self.p.wait(timeout=max(timeout, 0.1))
        except subprocess.TimeoutExpired:
            raise Failure("%s still running after %.0f s" % (self.name, timeout))
        for t in self.readers:
            t.join(5)
        if self.t_end is None:
            self.t_end = time.monotonic()
        if self in Proc.live:
            Proc.live.remove(self)
        return rc

    def stop(self):
        """Ends the process: SIGTERM (wskrun then unloads and cleans its
        prefix up), then SIGKILL to its whole process group."""
        if self.p.poll() is None:
            log("stopping %s" % self.name)
            try:
                self.p.send_signal(signal.SIGTERM)
                self.p.wait(timeout=30)
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

    def grep(self, regex):
        rx = re.compile(regex)
        with self.cond:
            return [m for m in (rx.search(line) for line in self.lines) if m]


def stop_all():
    for p in list(reversed(Proc.live)):
        p.stop()


# -------------------------------------------------------------------- checks

class Case:
    def __init__(self, args):
        self.args = args
        self.failures = 0
        self.figures = []

    def check(self, cond, what):
        if cond:
            log("PASS " + what)
        else:
            self.failures += 1
            log("FAIL " + what)
        return cond

    def figure(self, text):
        self.figures.append(text)
        log("FIGURE " + text)

    # paths
    def driver(self, name):
        for sub in ("tests/drivers", "examples"):
            path = os.path.join(self.args.drivers, sub, name + ".sys")
            if os.path.exists(path):
                return path
        raise Failure("driver %s.sys not found under %s" % (name, self.args.drivers))

    def peer(self, name):
        path = os.path.join(self.args.peers, name)
        if not os.access(path, os.X_OK):
            raise Failure("peer %s not found in %s" % (name, self.args.peers))
        return path

    def wskrun(self, drivers, params, until, timeout, name="wskrun"):
        argv = [self.args.wskrun, "--timeout", str(timeout), "--until", until]
        for k, v in params.items():
            argv += ["--param", "%s=%s" % (k, v)]
        argv += drivers
        return Proc(name, argv)

    def peer_proc(self, name, *argv):
        return Proc(name, [self.peer(name)] + [str(a) for a in argv])

    @staticmethod
    def infra_check(w):
        """Raises WineStartFailure if wskrun ended with Wine crashing before
        it loaded any driver."""
        if w.p.poll() is None:
            return
        with w.cond:
            err = list(w.err_lines)
        loaded = any(re.match(r"^wskrun: loaded ", line) for line in err)
        crashed = any(re.match(r"^wskrun: FAIL: crashed: ", line) for line in err)
        if crashed and not loaded:
            raise WineStartFailure("Wine crashed while starting, before any driver was loaded")

    def wait_kernel(self, w, regex, timeout):
        """wait_line on wskrun's log, telling a Wine start-up crash apart."""
        try:
            return w.wait_line(regex, timeout)
        except Failure:
            w.wait(15)
            self.infra_check(w)
            raise

    def finish_wskrun(self, w, timeout):
        """Waits for wskrun; checks it succeeded (loaded, --until matched,
        no crash, unloaded)."""
        rc = w.wait(timeout)
        if rc != 0:
            self.infra_check(w)
        self.check(rc == 0, "wskrun exited 0 (drivers loaded, log matched, no crash, unloaded)"
                   " [status %d]" % rc)
        return rc

    def kernel_result(self, w, test):
        ok = bool(w.grep(r"^ktest: %s RESULT pass$" % re.escape(test)))
        fails = w.grep(r"^ktest: FAIL .*")
        self.check(ok and not fails, "kernel log: 'ktest: %s RESULT pass' and no FAIL line (%d FAIL lines)"
                   % (test, len(fails)))

    def ktest(self, test, params, until=None, timeout=60, scenario_timeout=40):
        # Wine=1: ktest tolerates the Wine behaviours it documents (WINE lines).
        p = {"Test": test, "Timeout": scenario_timeout, "Wine": 1}
        p.update(params)
        return self.wskrun([self.driver("ktest")], p,
                           until or r"^ktest: %s RESULT " % re.escape(test), timeout)


# ---------------------------------------------------------------------- cases

def case_seed(c):
    """The seed exchange: examples/seed-server.sys and seed-client.sys."""
    port = free_port()
    w = c.wskrun([c.driver("seed-server"), c.driver("seed-client")], {"Port": port},
                 r"^seed-server: client acknowledged", 60)
    c.finish_wskrun(w, 90)
    c.check(bool(w.grep(r"^seed-server: listening on port %d$" % port)), "server listened on port %d" % port)
    c.check(bool(w.grep(r"^seed-server: \[kernel A\] => hello lyshark\.com A$")),
            "server printed 'hello lyshark.com A'")
    c.check(bool(w.grep(r"^seed-client: \[kernel B\] => Hi, lyshark\.com B$")),
            "client printed 'Hi, lyshark.com B'")
    c.check(bool(w.grep(r'^seed-server: client acknowledged with "ok"$')), "server got the client's ok")
    c.check(bool(w.grep(r"^seed-client: exchange done$")), "client: exchange done")
    c.check(bool(w.grep(r"^seed-server: unloaded$")) and bool(w.grep(r"^seed-client: unloaded$")),
            "both drivers logged their unload")


def kecho_run(c, until, timeout):
    port = free_port()
    w = c.wskrun([c.driver("kecho")], {"Port": port}, until, timeout)
    c.wait_kernel(w, r"^kecho: listening on port %d$" % port, 60)
    return w, port


def check_kecho_done(c, w, conns, bytes_each):
    done = w.grep(r"^kecho: connection done #(\d+) bytes=(\d+) result=(-?\d+)$")
    exact = [m for m in done if int(m.group(2)) == bytes_each and int(m.group(3)) == 0]
    c.check(len(done) == conns and len(exact) == conns,
            "kernel log: %d connections done, each bytes=%d result=0 (saw %d, %d exact)"
            % (conns, bytes_each, len(done), len(exact)))
    acc = w.grep(r"^kecho: accepted #(\d+)$")
    c.check(len(acc) == conns, "kernel log: %d connections accepted (saw %d)" % (conns, len(acc)))
    m = w.grep(r"^kecho: unloaded in (\d+) ms \(connections=(\d+)\)$")
    if c.check(bool(m), "kernel log: kecho unloaded"):
        c.figure("kecho unload: %s ms" % m[0].group(1))


def echo_case(c, conns, bytes_each, timeout):
    w, port = kecho_run(c, r"^kecho: connection done #%d " % conns, timeout + 60)
    load = c.peer_proc("echo_load", "--port", port, "--conns", conns, "--bytes", bytes_each,
                       "--timeout", timeout)
    rc = load.wait(timeout + 15)
    c.check(rc == 0, "echo_load exited 0: every byte of %d x %d bytes echoed in order [status %d]"
            % (conns, bytes_each, rc))
    per = load.grep(r"^echo_load: conn (\d+) bytes=(\d+) fnv=([0-9a-f]{16}) ok$")
    c.check(len(per) == conns and all(int(m.group(2)) == bytes_each for m in per),
            "echo_load: %d connections verified" % conns)
    summ = load.grep(r"^echo_load: OK conns=(\d+) bytes_total=(\d+) seconds=([\d.]+) MiB/s=([\d.]+) max_open=(\d+)$")
    if c.check(bool(summ), "echo_load summary"):
        m = summ[0]
        c.check(int(m.group(5)) == conns, "all %d connections were open at once (max_open=%s)"
                % (conns, m.group(5)))
        c.figure("echo %d x %d bytes: %s MiB/s (%s s)" % (conns, bytes_each, m.group(4), m.group(3)))
    c.finish_wskrun(w, 90)
    check_kecho_done(c, w, conns, bytes_each)


def case_echo1(c):
    """A native client streams 100 MiB through the kernel echo server."""
    echo_case(c, 1, 100 * MiB, 90)


def case_echo50(c):
    """50 concurrent native connections stream 2 MiB each through kecho."""
    echo_case(c, 50, 2 * MiB, 90)


def case_kecho_unload(c):
    """kecho is unloaded while it serves connections: bounded, and the peer
    sees every held connection ended."""
    w, port = kecho_run(c, r"^kecho: connection done #1 ", 60)
    hold = c.peer_proc("hold_client", "--port", port, "--conns", 8, "--timeout", 40)
    c.finish_wskrun(w, 60)
    rc = hold.wait(45)
    c.check(rc == 0, "hold_client exited 0: all 8 held connections ended by the unload [status %d]" % rc)
    m = w.grep(r"^kecho: unloaded in (\d+) ms \(connections=(\d+)\)$")
    if c.check(bool(m), "kernel log: kecho unloaded"):
        ms = int(m[0].group(1))
        c.check(ms < 5000, "kecho unloaded with 8 busy connections in %d ms (< 5000)" % ms)
        c.check(m[0].group(2) == "9", "kecho had accepted 9 connections (%s)" % m[0].group(2))
        c.figure("kecho unload with 8 blocked connections: %d ms" % ms)
    done = w.grep(r"^kecho: connection done #(\d+) bytes=(\d+) result=(-?\d+)$")
    c.check(len(done) == 9, "kernel log: all 9 connection threads ended (%d)" % len(done))


def case_client(c):
    """The kernel client streams a pattern to a native echo server."""
    nbytes = 32 * MiB
    seed = random.SystemRandom().randint(1, 1 << 30)
    srv = c.peer_proc("echo_server", "--conns", 1, "--timeout", 90, "--seed", seed, "--bytes", nbytes)
    port = int(srv.wait_line(r"^PORT (\d+)$", 10).group(1))
    w = c.ktest("client", {"Port": port, "Bytes": nbytes, "Seed": seed}, timeout=120,
                scenario_timeout=90)
    c.finish_wskrun(w, 150)
    rc = srv.wait(30)
    c.check(rc == 0, "echo_server exited 0: it received exactly the pattern, then an orderly close"
            " [status %d]" % rc)
    c.kernel_result(w, "client")
    k = w.grep(r"^ktest: client bytes=(\d+) fnv=([0-9a-f]{16}) ms=(\d+) MiB/s=([\d.]+)$")
    s = srv.grep(r"^echo_server: conn 0 bytes=(\d+) fnv=([0-9a-f]{16})$")
    if c.check(bool(k) and bool(s), "both sides logged byte count and checksum"):
        c.check(int(k[0].group(1)) == nbytes and int(s[0].group(1)) == nbytes,
                "both sides counted %d bytes" % nbytes)
        c.check(k[0].group(2) == s[0].group(2), "kernel checksum %s == server checksum %s"
                % (k[0].group(2), s[0].group(2)))
        c.figure("kernel client %d MiB round trip: %s MiB/s" % (nbytes // MiB, k[0].group(4)))


def case_refused(c):
    port = free_port()
    w = c.ktest("refused", {"Port": port})
    c.finish_wskrun(w, 90)
    c.kernel_result(w, "refused")
    c.check(len(w.grep(r"^ktest: PASS refused: ks_connect to a port without listener = -\d+ \(ECONNREFUSED\)$")) == 5,
            "5 connects refused with -ECONNREFUSED")


def case_reset(c):
    """The peer resets connections: while ks_recv waits, while ks_send
    streams, and before ks_recv is called (after data)."""
    srv = c.peer_proc("reset_server", "--timeout", 60, "send:100000", "recv:1048576",
                      "rstnotify:1000")
    port = int(srv.wait_line(r"^PORT (\d+)$", 10).group(1))
    w = c.ktest("reset", {"Port": port})
    c.finish_wskrun(w, 90)
    rc = srv.wait(30)
    c.check(rc == 0, "reset_server exited 0: all three connections were reset on cue [status %d]" % rc)
    c.kernel_result(w, "reset")
    m = w.grep(r"^ktest: reset: sender saw (E\w+)$")
    if c.check(bool(m), "kernel log: the sender saw the reset as an error"):
        c.figure("reset seen by the kernel's ks_send as %s" % m[0].group(1))
    for who, what in (("pending receiver", "a pending ks_recv"),
                      ("receiver", "a ks_recv after the reset arrived")):
        m = w.grep(r"^ktest: reset: %s saw (E\w+)$" % who)
        if m:
            c.figure("reset seen by %s as %s" % (what, m[0].group(1)))
    for m in w.grep(r"^ktest: (WINE .*)$"):
        c.figure(m.group(1))


def case_close_blocked(c):
    """ks_close wakes threads blocked in ks_recv, ks_accept and ks_send; the
    peer sees both connections end."""
    port2 = free_port()
    srv = c.peer_proc("silent_server", "--conns", 2, "--timeout", 60, "--notify-port", port2)
    port = int(srv.wait_line(r"^PORT (\d+)$", 10).group(1))
    w = c.ktest("close-blocked", {"Port": port, "Port2": port2})
    c.wait_kernel(w, r"^ktest: close-blocked: waiting for the peer's confirmation on port %d$"
                  % port2, 60)
    srv.p.send_signal(signal.SIGUSR1)  # read what is queued: a FIN waits behind it
    rc = srv.wait(30)
    c.check(rc == 0, "silent_server exited 0: both connections ended after ks_close, and it"
            " could connect to the re-opened listener [status %d]" % rc)
    c.finish_wskrun(w, 90)
    c.kernel_result(w, "close-blocked")
    for call in ("ks_recv", "ks_accept", "ks_send"):
        m = w.grep(r"^ktest: close-blocked: %s woke (-?\d+) ms after ks_close$" % call)
        if c.check(bool(m), "kernel log: blocked %s was woken" % call):
            c.figure("close-blocked: %s woke %s ms after ks_close" % (call, m[0].group(1)))
    for m in srv.grep(r"^silent_server: conn (\d) closed by peer \((\w+)\)$"):
        c.figure("close-blocked: peer saw connection %s end by %s" % (m.group(1), m.group(2)))


def case_badinput(c):
    port = free_port()
    w = c.ktest("badinput", {"Port": port, "PText": "h\u00e9llo \u20ac\U0001F600", "PEmpty": "",
                             "PHex": "0x1F", "PNeg": " -42 ", "PBig": "4294967296",
                             "PJunk": "12abc"})
    c.finish_wskrun(w, 90)
    c.kernel_result(w, "badinput")
    n = len(w.grep(r"^ktest: PASS "))
    c.check(n >= 150, "at least 150 checks passed (%d)" % n)
    for m in w.grep(r"^ktest: (SKIP .*)$"):
        c.figure(m.group(1))


def case_unload_busy(c):
    """DriverUnload with sockets open and threads blocked in ks_accept,
    ks_recv and ks_send: ks_cleanup wakes them all, the unload is quick."""
    srv = c.peer_proc("silent_server", "--conns", 2, "--timeout", 60)
    port2 = int(srv.wait_line(r"^PORT (\d+)$", 10).group(1))
    port = free_port(taken={port2})
    w = c.ktest("unload-busy", {"Port": port, "Port2": port2}, until=r"^ktest: unload-busy ready",
                timeout=60)
    # Wall clock from "ready" (everything blocked) until wskrun has unloaded
    # the driver and torn its Wine prefix down; Wine's start-up (slow on a
    # first run, when wskrun builds its template prefix) is not counted.
    c.wait_kernel(w, r"^ktest: unload-busy ready", 60)
    t0 = time.monotonic()
    c.finish_wskrun(w, 90)
    wall = time.monotonic() - t0
    srv.p.send_signal(signal.SIGUSR1)
    rc = srv.wait(30)
    c.check(rc == 0, "silent_server exited 0: its 2 connections ended [status %d]" % rc)
    c.kernel_result(w, "unload-busy")
    m = w.grep(r"^ktest: unload-busy unloaded in (\d+) ms \(threads all ended\)$")
    if c.check(bool(m), "kernel log: unloaded with all threads ended"):
        ms = int(m[0].group(1))
        c.check(ms < 5000, "DriverUnload with its sockets open and 5 threads blocked took %d ms"
                " (< 5000)" % ms)
        c.figure("unload-busy: DriverUnload %d ms" % ms)
    c.check(wall < 20, "from 'ready' to wskrun's exit (unload and Wine teardown): %.1f s (< 20)"
            % wall)
    c.figure("unload-busy: 'ready' to wskrun exit %.1f s" % wall)


def case_stack_paged(c):
    srv = c.peer_proc("echo_server", "--conns", 1, "--timeout", 60)
    port = int(srv.wait_line(r"^PORT (\d+)$", 10).group(1))
    w = c.ktest("stack-paged", {"Port": port})
    c.finish_wskrun(w, 90)
    rc = srv.wait(30)
    c.check(rc == 0, "echo_server exited 0 [status %d]" % rc)
    c.kernel_result(w, "stack-paged")
    k = w.grep(r"^ktest: stack-paged bytes=(\d+) fnv=([0-9a-f]{16}) ")
    s = srv.grep(r"^echo_server: conn 0 bytes=(\d+) fnv=([0-9a-f]{16})$")
    if c.check(bool(k) and bool(s), "both sides logged byte count and checksum"):
        c.check(k[0].groups() == s[0].groups(), "kernel (%s, %s) and server (%s, %s) agree"
                % (k[0].group(1), k[0].group(2), s[0].group(1), s[0].group(2)))


CASES = {
    "seed": case_seed,
    "echo1": case_echo1,
    "echo50": case_echo50,
    "kecho-unload": case_kecho_unload,
    "client": case_client,
    "refused": case_refused,
    "reset": case_reset,
    "close-blocked": case_close_blocked,
    "badinput": case_badinput,
    "unload-busy": case_unload_busy,
    "stack-paged": case_stack_paged,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--wskrun", required=True)
    ap.add_argument("--drivers", required=True, help="mingw-w64 build tree (WSKSOCK_DRIVERS_DIR)")
    ap.add_argument("--peers", required=True, help="directory of the native peers")
    ap.add_argument("--time-limit", type=float, default=150.0)
    args = ap.parse_args()

    def on_limit(signum, frame):
        raise Deadline()

    def on_term(signum, frame):
        stop_all()
        sys.exit(128 + signum)

    signal.signal(signal.SIGALRM, on_limit)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.setitimer(signal.ITIMER_REAL, args.time_limit)

    t0 = time.monotonic()
    for attempt in (1, 2):
        c = Case(args)
        try:
            CASES[args.case](c)
        except WineStartFailure as e:
            stop_all()
            if attempt == 1:
                log("RETRY %s: running the case once more" % e)
                continue
            c.failures += 1
            log("FAIL %s (second time)" % e)
        except Failure as e:
            c.failures += 1
            log("FAIL " + str(e))
        except Deadline:
            c.failures += 1
            log("FAIL the case did not finish within %.0f s" % args.time_limit)
        finally:
            if Proc.live and c.failures == 0:
                c.check(False, "processes still running at the end: %s"
                        % ", ".join(p.name for p in Proc.live))
            stop_all()
        break
    signal.setitimer(signal.ITIMER_REAL, 0)
    log("%s: %d failures in %.1f s" % (args.case, c.failures, time.monotonic() - t0))
    for f in c.figures:
        log("figure: " + f)
    log("RESULT %s" % ("pass" if c.failures == 0 else "fail"))
    return 0 if c.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
