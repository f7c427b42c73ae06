#!/usr/bin/env python3
"""wsksuite - the test suite of wsksock's drivers, on either test bed.

Usage: wsksuite.py CASE [--bed wine] --wskrun PATH --drivers DIR --peers DIR [--time-limit SEC]
       wsksuite.py CASE --bed host --host-drivers DIR --peers DIR [--time-limit SEC]
       wsksuite.py --list
       wsksuite.py --check-ktest tests/drivers/ktest/ktest.c

The same cases run on two beds:
  wine  the mingw-w64 .sys drivers under tools/wskrun (one Wine prefix per
        run); --drivers is the mingw-w64 build tree (WSKSOCK_DRIVERS_DIR)
  host  the same driver sources built natively against the kernel shim, one
        <name>-host process per driver (hostbed/hostrun, docs/hostbed.md);
        --host-drivers is the host build tree. ktest runs with Windows
        semantics there (no Wine=1), and every run ends with the runner's
        leak check.

Each case runs test drivers with native Linux peers (tests/peers) where the
case needs them, and asserts on both: the drivers' kernel log (the runner's
stdout) and the peers' exit status and output. Every port is chosen at run
time (native servers bind port 0 and print theirs; ports for kernel
listeners are picked free, below the ephemeral range, and passed with
--param Port=N). Every wait is bounded, the whole case by --time-limit
(default 150 s, under ctest's TIMEOUT), and every process started is ended
on every exit path.

Exit status 0 when every check passed; 1 otherwise ("wsksuite: FAIL ..."
lines say what).

CASES (at the end) is the one list of the cases: --list prints it (name,
ctest timeout, beds, resource lock) for ctest and tools/msvc-check;
--check-ktest compares ktest's scenario table with the cases' ktest runs.
"""

import argparse
import os
import random
import re
import shutil
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

    def __init__(self, name, argv, on_line=None):
        self.name = name
        self.on_line = on_line  # called with each stdout line (host runs)
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
            threading.Thread(target=self._read, args=(self.p.stdout, self.lines, "", on_line),
                             daemon=True),
            threading.Thread(target=self._read, args=(self.p.stderr, self.err_lines, "(stderr) ",
                                                      None), daemon=True),
        ]
        for t in self.readers:
            t.start()

    def _read(self, stream, store, tag, on_line):
        for line in stream:
            line = line.rstrip("\n")
            print("[%s] %s%s" % (self.name, tag, line), flush=True)
            with self.cond:
                store.append(line)
                self.cond.notify_all()
            if on_line:
                on_line(line)
        with self.cond:
            self.cond.notify_all()

    def readers_done(self):
        return self.p.poll() is not None and not any(t.is_alive() for t in self.readers)

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
                if self.readers_done():
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
        prefix up; a host runner unloads its driver), then SIGKILL to its
        whole process group."""
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


# ------------------------------------------------------------- the host bed

def posix_ere(regex):
    """The runner's --until is a POSIX extended regex (glibc regcomp), whose
    escapes of punctuation (re.escape's) mean the same; \\d does not."""
    return regex.replace(r"\d", "[0-9]")


def port_listening(port):
    """TRUE if a TCP socket listens on port (any address), from /proc."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            # local_address is ADDR:PORT (hex), st 0A is LISTEN.
            if len(fields) > 3 and fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
                return True
    return False


class HostRun:
    """The host bed's counterpart of one wskrun run: one <name>-host process
    per driver (each Windows driver has its own copy of the library), with
    the same parameters; their kernel logs are merged in one list, as
    wskrun's stdout has all drivers' lines.

    One driver: the runner gets --until and --timeout itself. Several: they
    are loaded in order, each once the previous one is ready (its runner
    printed 'loaded', then the case's ready condition held, else after
    wskrun's 1 s gap); this object watches --until over the merged log and
    unloads them in reverse order at the match or the timeout (SIGUSR1: the
    runner unloads as if its own --until had matched). The status is 0 when
    every runner exited 0 (loaded, unloaded, no leak) and --until matched.
    """

    GAP = 1.0
    UNLOAD_BOUND = 45  # each runner's DriverUnload is bounded at 30 s

    def __init__(self, name, exes, params, until, timeout, ready=None, runner_args=None):
        self.name = name
        self.runner_args = runner_args or [[] for _ in exes]  # per driver
        self.exes = exes
        self.params = params
        self.until = re.compile(until)
        self.timeout = timeout
        self.ready = ready or []
        self.cond = threading.Condition()
        self.lines = []
        self.matched = False
        self.procs = []
        self.done = False
        self.rc = None
        self.thread = threading.Thread(target=self._supervise, daemon=True)
        self.thread.start()

    # -- the kernel log, merged
    def _on_line(self, line):
        with self.cond:
            self.lines.append(line)
            if not self.matched and self.until.search(line):
                self.matched = True
            self.cond.notify_all()

    def grep(self, regex):
        rx = re.compile(regex)
        with self.cond:
            return [m for m in (rx.search(line) for line in self.lines) if m]

    def wait_line(self, regex, timeout):
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
                if self.done:
                    raise Failure("%s ended (status %s) before printing /%s/"
                                  % (self.name, self.rc, regex))
                left = end - time.monotonic()
                if left <= 0:
                    raise Failure("%s did not print /%s/ within %.0f s" % (self.name, regex, timeout))
                self.cond.wait(min(left, 0.5))

    def wait(self, timeout):
        self.thread.join(max(timeout, 0.1))
        if self.thread.is_alive():
            raise Failure("%s still running after %.0f s" % (self.name, timeout))
        return self.rc

    # -- the runners
    def _argv(self, i, until):
        argv = [self.exes[i], "--timeout", str(self.timeout)] + self.runner_args[i]
        if until is not None:
            argv += ["--until", posix_ere(until)]
        for k, v in self.params.items():
            argv += ["--param", "%s=%s" % (k, v)]
        return argv

    def _say(self, msg):
        log("%s: %s" % (self.name, msg))

    def _wait_ready(self, proc, ready, deadline):
        """Waits until proc's driver is loaded and ready for the next one;
        FALSE if it ended or the deadline passed first."""
        def loaded():
            return any(l.startswith("hostrun: loaded ") for l in proc.err_lines)
        with proc.cond:
            while not loaded():
                if proc.readers_done() or time.monotonic() >= deadline:
                    return False
                proc.cond.wait(0.1)
        if ready is None:
            end = min(time.monotonic() + self.GAP, deadline)
            while time.monotonic() < end and proc.p.poll() is None:
                time.sleep(0.05)
            return proc.p.poll() is None
        while time.monotonic() < deadline and proc.p.poll() is None:
            if isinstance(ready, int):
                if port_listening(ready):
                    return True
            elif any(re.search(ready, l) for l in list(proc.lines)):
                return True
            time.sleep(0.05)
        return False

    def _supervise(self):
        try:
            self.rc = self._run()
        except Exception as e:  # reported; the case then fails on the status
            self._say("runner supervision failed: %r" % e)
            self.rc = 1
        finally:
            with self.cond:
                self.done = True
                self.cond.notify_all()

    def _run(self):
        bound = self.timeout + self.UNLOAD_BOUND + 30
        if len(self.exes) == 1:
            p = Proc(self.name, self._argv(0, self.until.pattern), self._on_line)
            self.procs.append(p)
            return p.wait(bound)
        ok = True
        t_load = time.monotonic()
        deadline = t_load + self.timeout
        for i, exe in enumerate(self.exes):
            # Their own timeout is a fallback: this object unloads them.
            argv = self._argv(i, None)
            argv[2] = str(self.timeout + 30)
            p = Proc("%s:%s" % (self.name, os.path.basename(exe)), argv, self._on_line)
            self.procs.append(p)
            if i + 1 < len(self.exes):
                ready = self.ready[i] if i < len(self.ready) else None
                if not self._wait_ready(p, ready, deadline):
                    self._say("FAIL: %s did not get ready for the next driver" % p.name)
                    ok = False
                    break
        ended = []
        with self.cond:
            while not self.matched and time.monotonic() < deadline:
                ended = [p for p in self.procs if p.p.poll() is not None]
                if ended:
                    break  # a runner ended by itself (crash, failed load)
                self.cond.wait(min(0.2, max(deadline - time.monotonic(), 0.01)))
            matched = self.matched
        if not matched:
            if ended:
                self._say("FAIL: %s ended by itself (status %s) before --until %r matched"
                          % (ended[0].name, ended[0].p.returncode, self.until.pattern))
            else:
                self._say("FAIL: --until %r never matched (timeout %g s)"
                          % (self.until.pattern, self.timeout))
            ok = False
        for p in reversed(self.procs):
            if p.p.poll() is None:
                p.p.send_signal(signal.SIGUSR1)
            rc = p.wait(self.UNLOAD_BOUND + 15)
            if rc != 0:
                self._say("FAIL: %s exited with status %d" % (p.name, rc))
                ok = False
        return 0 if ok else 1


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

    @property
    def host(self):
        return self.args.bed == "host"

    # paths
    def driver(self, name):
        """The driver's .sys (Wine) or <name>-host executable (host), in the
        build tree's directory of its CMakeLists.txt."""
        if self.host:
            tree, file = self.args.host_drivers, name + "-host"
        else:
            tree, file = self.args.drivers, name + ".sys"
        for sub in ("tests/drivers", "examples", "tests/compat"):
            path = os.path.join(tree, sub, file)
            if os.path.exists(path):
                return path
        raise Failure("driver %s not found under %s" % (file, tree))

    def peer(self, name):
        path = os.path.join(self.args.peers, name)
        if not os.access(path, os.X_OK):
            raise Failure("peer %s not found in %s" % (name, self.args.peers))
        return path

    def wskrun(self, drivers, params, until, timeout, name="wskrun", ready=None, runner_args=None):
        """Runs drivers (paths from driver()) until a kernel log line matches
        until, for at most timeout seconds, and unloads them. Host bed only:
        ready, for each driver but the last, what to wait for before the
        next one is loaded (a regex of its log or a TCP port it listens on);
        runner_args, per driver, extra options of its runner."""
        if self.host:
            return HostRun("host" if name == "wskrun" else name, drivers, params, until, timeout,
                           ready, runner_args)
        argv = [self.args.wskrun, "--timeout", str(timeout), "--until", until]
        for k, v in params.items():
            argv += ["--param", "%s=%s" % (k, v)]
        argv += drivers
        return Proc(name, argv)

    def peer_proc(self, name, *argv):
        return Proc(name, [self.peer(name)] + [str(a) for a in argv])

    def infra_check(self, w):
        """Raises WineStartFailure if wskrun ended with Wine crashing before
        it loaded any driver."""
        if self.host or w.p.poll() is None:
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
        if self.host:
            self.check(rc == 0, "host runners exited 0 (drivers loaded, log matched, no crash,"
                       " unloaded, nothing leaked) [status %s]" % rc)
        else:
            self.check(rc == 0, "wskrun exited 0 (drivers loaded, log matched, no crash, unloaded)"
                       " [status %d]" % rc)
        return rc

    def kernel_result(self, w, test, at_least=0):
        """ktest's verdict: RESULT pass and no FAIL line; with at_least, that
        many PASS lines too (the scenario really ran its checks)."""
        ok = bool(w.grep(r"^ktest: %s RESULT pass$" % re.escape(test)))
        fails = w.grep(r"^ktest: FAIL .*")
        self.check(ok and not fails, "kernel log: 'ktest: %s RESULT pass' and no FAIL line (%d FAIL lines)"
                   % (test, len(fails)))
        if at_least:
            n = len(w.grep(r"^ktest: PASS "))
            self.check(n >= at_least, "at least %d checks passed (%d)" % (at_least, n))

    def ktest(self, test, params, until=None, timeout=60, scenario_timeout=40):
        p = {"Test": test, "Timeout": scenario_timeout}
        if not self.host:
            # Wine=1: ktest tolerates the Wine behaviours it documents (WINE
            # lines). The host bed runs it with Windows semantics.
            p["Wine"] = 1
        p.update(params)
        return self.wskrun([self.driver("ktest")], p,
                           until or r"^ktest: %s RESULT " % re.escape(test), timeout)


# ---------------------------------------------------------------------- cases

def case_seed(c):
    """The seed exchange: examples/seed-server.sys and seed-client.sys."""
    port = free_port()
    w = c.wskrun([c.driver("seed-server"), c.driver("seed-client")], {"Port": port},
                 r"^seed-server: client acknowledged", 60,
                 ready=[r"^seed-server: listening on port %d$" % port])
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


def case_compat(c):
    """The LySocket article's drivers (tests/compat), compiled unchanged
    against compat/LySocket.hpp: the exchange happens and both unload (the
    article's server loops on Accept forever; the compat layer ends that
    thread after WSKCleanup). They use the fixed port 8888."""
    if port_listening(8888):
        raise Failure("port 8888, which the article's drivers use, is taken by another process")
    # The article's server leaks one buffer: its loop allocates the 2048-byte
    # read buffer before Accept, and Accept ends the thread after WSKCleanup.
    # On the host bed its leak report must show exactly that, nothing more.
    w = c.wskrun([c.driver("lysocket-server"), c.driver("lysocket-client")], {},
                 r"=> Hi, lyshark\.com B", 60, ready=[8888],
                 runner_args=[["--no-leak-check"], []])
    c.finish_wskrun(w, 90)
    c.check(bool(w.grep(r"=> hello lyshark\.com A")), "server printed the client's greeting")
    c.check(bool(w.grep(r"=> Hi, lyshark\.com B")), "client printed the server's reply")
    if c.host:
        leaks = [l for l in w.procs[0].err_lines if l.startswith("kshim: LEAK")]
        c.check(len(leaks) == 1 and re.search(r": 1 allocations, 2048 bytes$", leaks[0]),
                "the server left only the article's read buffer (1 x 2048 bytes): %s"
                % ("; ".join(leaks) or "none"))


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
        if c.host:
            # Windows semantics: both receives see the reset as an error.
            c.check(bool(m), "kernel log: %s saw the reset as an error" % what)
        if m:
            c.figure("reset seen by %s as %s" % (what, m[0].group(1)))
    if c.host:
        wine = w.grep(r"^ktest: (WINE .*)$")
        c.check(not wine, "no Wine allowance used on the host bed (%d WINE lines)" % len(wine))
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


def unload_when_ready(c, w, ready, timeout, srv):
    """Waits for ktest's ready line, lets the runner unload the driver
    (timed: seconds from ready to the runner's exit), then tells silent_server
    srv to drain and waits for it. Returns (seconds, srv's status)."""
    c.wait_kernel(w, ready, timeout)
    t0 = time.monotonic()
    c.finish_wskrun(w, 90)
    wall = time.monotonic() - t0
    srv.p.send_signal(signal.SIGUSR1)
    return wall, srv.wait(30)


def case_listen_close(c):
    """Closing a listening socket leaves the connections accepted from it
    (and every other socket) working; blocking and event listeners."""
    port = free_port()
    port2 = free_port(taken={port})
    w = c.ktest("listen-close", {"Port": port, "Port2": port2})
    c.finish_wskrun(w, 90)
    c.kernel_result(w, "listen-close", at_least=60)
    works = w.grep(r"^ktest: listen-close: connection (\d) works$")
    c.check(len(works) == 3, "the 3 accepted connections work after the listener's close (%d)"
            % len(works))


def case_races(c):
    """Close racing blocked ks_recv/ks_accept/ks_send, ks_shutdown racing
    ks_close, ks_cleanup with data in flight, each 100 times, then an unload
    with data in flight (ktest races against silent_server)."""
    # 100 + 100 connections of step 1, 3 x 100 of step 3 (host bed only:
    # Wine 8's netio.sys crashes there, see kt_races.c), 3 for the unload.
    conns = 503 if c.host else 203
    srv = c.peer_proc("silent_server", "--conns", conns, "--rcvbuf", 4096, "--timeout", 110)
    port = int(srv.wait_line(r"^PORT (\d+)$", 10).group(1))
    port2 = free_port(taken={port})
    w = c.ktest("races", {"Port": port, "Port2": port2}, until=r"^ktest: races (ready|RESULT)",
                timeout=100, scenario_timeout=90)
    # The peer reads what the closed senders had queued, then sees every end.
    wall, rc = unload_when_ready(c, w, r"^ktest: races (ready|RESULT)", 100, srv)
    c.check(rc == 0, "silent_server exited 0: all %d connections ended [status %d]" % (conns, rc))
    c.kernel_result(w, "races", at_least=8)
    for m in w.grep(r"^ktest: races: (.* runs, .*)$"):
        c.figure("races: " + m.group(1))
    m = w.grep(r"^ktest: races: unloaded: ks_cleanup (\d+) ms, threads all ended after (\d+) ms$")
    if c.check(bool(m), "kernel log: unloaded with data in flight, every thread ended"):
        c.figure("races: unload with data in flight: ks_cleanup %s ms, DriverUnload %s ms"
                 % (m[0].group(1), m[0].group(2)))
    c.check(wall < 20, "from 'ready' to the runner's exit: %.1f s (< 20)" % wall)


def case_badinput(c):
    port = free_port()
    w = c.ktest("badinput", {"Port": port, "PText": "h\u00e9llo \u20ac\U0001F600", "PEmpty": "",
                             "PHex": "0x1F", "PNeg": " -42 ", "PBig": "4294967296",
                             "PJunk": "12abc"})
    c.finish_wskrun(w, 90)
    c.kernel_result(w, "badinput", at_least=150)
    if c.host:
        # The shim models IRQL and the provider has datagram sockets: what
        # Wine cannot show is checked here, nothing may be skipped.
        irql = w.grep(r"^ktest: PASS badinput: \S+ at DISPATCH_LEVEL = -\d+ \(EPERM\)$")
        c.check(len(irql) == 7, "the 7 calls at DISPATCH_LEVEL returned -EPERM (%d)" % len(irql))
        skips = w.grep(r"^ktest: (SKIP .*)$")
        c.check(not skips, "no check skipped (%s)" % "; ".join(m.group(1) for m in skips))
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
    wall, rc = unload_when_ready(c, w, r"^ktest: unload-busy ready", 60, srv)
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


def case_options(c):
    """Socket options, addresses and shutdown over a loopback connection
    between two ktest sockets. The host bed checks Windows semantics in
    full; under Wine the provider lacks WskControlSocket, WskDisconnect and
    the address calls, and ktest logs each allowance as a WINE line."""
    port = free_port()
    w = c.ktest("options", {"Port": port})
    c.finish_wskrun(w, 90)
    c.kernel_result(w, "options", at_least=40)
    wine = w.grep(r"^ktest: (WINE .*)$")
    if c.host:
        c.check(not wine, "no Wine allowance used on the host bed (%d WINE lines)" % len(wine))
        c.check(bool(w.grep(r"^ktest: PASS options: shutdown SD_SEND = 0 ")),
                "ks_shutdown(SD_SEND) works on the host bed")
    for m in wine:
        c.figure(m.group(1))

def case_resolve(c):
    """Name resolution from a driver: ks_getaddrinfo of localhost (through
    WskGetAddressInfo), service names, numeric hosts (no query), errors,
    ks_getnameinfo, and a connection to a native echo server made through
    a ks_getaddrinfo result. Under Wine WskGetNameInfo is a stub: ktest
    logs that allowance as a WINE line; the host bed allows none."""
    srv = c.peer_proc("echo_server", "--conns", 1, "--timeout", 60)
    port = int(srv.wait_line(r"^PORT (\d+)$", 10).group(1))
    w = c.ktest("resolve", {"Port": port})
    c.finish_wskrun(w, 90)
    rc = srv.wait(30)
    c.check(rc == 0, "echo_server exited 0 [status %d]" % rc)
    c.kernel_result(w, "resolve", at_least=25)
    k = w.grep(r"^ktest: resolve bytes=(\d+) fnv=([0-9a-f]{16})$")
    s = srv.grep(r"^echo_server: conn 0 bytes=(\d+) fnv=([0-9a-f]{16})$")
    if c.check(bool(k) and bool(s), "both sides logged byte count and checksum"):
        c.check(k[0].groups() == s[0].groups(), "kernel (%s, %s) and server (%s, %s) agree"
                % (k[0].group(1), k[0].group(2), s[0].group(1), s[0].group(2)))
    wine = w.grep(r"^ktest: (WINE .*)$")
    if c.host:
        c.check(not wine, "no Wine allowance used on the host bed (%d WINE lines)" % len(wine))
        c.check(bool(w.grep(r"^ktest: resolve: 127\.0\.0\.1:80 is localhost:http$")),
                "ks_getnameinfo named 127.0.0.1:80 through the provider")
    for m in wine:
        c.figure(m.group(1))


def case_nonblock(c):
    """Non-blocking connect, send and receive driven by ks_poll against a
    native echo server (4 MiB checked, 1-byte round trips), the same over
    a blocking connection (the figures of both paths), ks_poll's wake-up
    latency, a non-blocking accept, ks_poll over 8 connections, FIONREAD,
    a close with a read-ahead in flight."""
    srv = c.peer_proc("echo_server", "--conns", 2, "--timeout", 90)
    port = int(srv.wait_line(r"^PORT (\d+)$", 10).group(1))
    w = c.ktest("nonblock", {"Port": port, "Port2": free_port()}, timeout=120,
                scenario_timeout=90)
    c.finish_wskrun(w, 150)
    rc = srv.wait(30)
    c.check(rc == 0, "echo_server exited 0: both connections echoed and closed [status %d]" % rc)
    c.kernel_result(w, "nonblock", at_least=25)
    for kind in ("nonblocking", "blocking"):
        m = w.grep(r"^ktest: nonblock: %s echo MiB/s=([\d.]+) round-trips/s=(\d+)$" % kind)
        if c.check(bool(m), "kernel log: %s echo figures" % kind):
            c.figure("%s path: 4 MiB echo %s MiB/s, %s 1-byte round trips/s"
                     % (kind, m[0].group(1), m[0].group(2)))
    m = w.grep(r"^ktest: nonblock: poll wake-up latency avg_us=(\d+) max_us=(\d+)")
    if c.check(bool(m), "kernel log: poll wake-up latency"):
        c.figure("ks_poll wake-up latency: avg %s us, max %s us" % (m[0].group(1), m[0].group(2)))


def case_aio(c):
    """The asynchronous and event APIs in a driver (ktest aio): async
    connect, 1 MiB through ks_send_async and a MSG_WAITALL ks_recv_async
    against a native echo server, a cancelled receive (-ECANCELED at once,
    Wine included), ks_accept_async and ks_recv_events on ktest's own
    listener (native events on the host bed, the fallback under Wine),
    ks_close_async, ks_getaddrinfo_async."""
    srv = c.peer_proc("echo_server", "--conns", 1, "--timeout", 60)
    port = int(srv.wait_line(r"^PORT (\d+)$", 10).group(1))
    w = c.ktest("aio", {"Port": port, "Port2": free_port()}, timeout=90, scenario_timeout=60)
    c.finish_wskrun(w, 120)
    rc = srv.wait(30)
    c.check(rc == 0, "echo_server exited 0: the connection echoed and closed [status %d]" % rc)
    c.kernel_result(w, "aio", at_least=30)
    m = w.grep(r"^ktest: aio: cancel took (\d+) ms$")
    if c.check(bool(m), "kernel log: the cancellation's time"):
        c.figure("ks_aio_cancel of a pending receive: %s ms" % m[0].group(1))


def case_timeouts(c):
    """SO_RCVTIMEO on ks_recv (a silent native peer) and ks_accept, and
    SO_SNDTIMEO on a send the peer never reads: -ETIMEDOUT after about the
    time asked, the socket usable afterwards (a send timeout breaks the
    stream: -EPIPE)."""
    srv = c.peer_proc("silent_server", "--conns", 2, "--timeout", 90)
    port = int(srv.wait_line(r"^PORT (\d+)$", 10).group(1))
    w = c.ktest("timeouts", {"Port": port, "Port2": free_port()}, timeout=120,
                scenario_timeout=90)
    c.finish_wskrun(w, 150)
    # Under Wine the close after the send timeout is graceful (no
    # WskDisconnect; closesocket): its FIN waits behind the unread data.
    srv.p.send_signal(signal.SIGUSR1)
    rc = srv.wait(30)
    c.check(rc == 0, "silent_server exited 0: both connections ended [status %d]" % rc)
    c.kernel_result(w, "timeouts")
    for what in ("recv", "accept", "send"):
        m = w.grep(r"^ktest: timeouts: %s timed out after (\d+) ms \((SO_\w+ \d+)\)$" % what)
        if c.check(bool(m), "kernel log: %s timed out" % what):
            c.figure("%s: %s ms with %s" % (what, m[0].group(1), m[0].group(2)))


def http_get_run(c, url, params=None, until=r"^http-get: (done|failed)", timeout=120):
    """One run of examples/http-get.sys with --param Url=url; returns the
    runner after its end (checked: loaded, until matched, unloaded)."""
    p = {"Url": url}
    p.update(params or {})
    w = c.wskrun([c.driver("http-get")], p, until, timeout, name="http-get")
    c.finish_wskrun(w, timeout + 60)
    c.check(bool(w.grep(r"^http-get: unloaded in \d+ ms$")), "http-get logged its unload")
    return w


def http_get_result(c, w, what, status, size, sha256, redirects):
    """Checks the driver's result line against the file's size and hash."""
    m = w.grep(r"^http-get: status=(\d+) bytes=(\d+) sha256=([0-9a-f]{64}) ms=(\d+)"
               r" MiB/s=([\d.]+)$")
    if not c.check(bool(m) and bool(w.grep(r"^http-get: done$")),
                   "%s: the driver printed its result and 'done'" % what):
        return None
    m = m[0]
    c.check(int(m.group(1)) == status, "%s: status %s (want %d)" % (what, m.group(1), status))
    c.check(int(m.group(2)) == size, "%s: size %s (want %d)" % (what, m.group(2), size))
    c.check(m.group(3) == sha256, "%s: SHA-256 %s (want %s, hashlib)" % (what, m.group(3), sha256))
    n = len(w.grep(r"^http-get: redirect \d+ to "))
    c.check(n == redirects, "%s: %d redirects followed (want %d)" % (what, n, redirects))
    return m


def case_http_get(c):
    """examples/http-get against a real nginx (Debian's package, started
    here as the current user on loopback with its own prefix): a 50 MiB
    file of pseudo-random data (size and SHA-256 as hashlib computes them),
    a chunked body (SSI) behind a chain of 301/302/307 redirects (absolute
    and relative Locations), a redirect loop (bounded at 5 hops); against a
    native Python server: chunk extensions and trailer fields, a "../"
    relative 303 and a 308; against a silent server: SO_RCVTIMEO ends the
    wait, and an unload while the driver waits is prompt."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import httpfix
    if httpfix.nginx_binary() is None:
        raise Failure("nginx is not installed (tools/install-deps installs nginx-light)")
    port = free_port()
    seed = random.SystemRandom().randint(1, 1 << 30)
    ngx = chunk = None
    try:
        ngx = httpfix.Nginx(lambda name, argv: Proc(name, argv), port, 50 * MiB, seed)
        if not httpfix.wait_listening(port, 20, lambda: ngx.proc.p.poll() is None):
            raise Failure("nginx does not listen on 127.0.0.1:%d; its error log:\n%s"
                          % (port, ngx.error_log()[-3000:]))
        base = "http://127.0.0.1:%d" % port

        w = http_get_run(c, base + "/big.bin")
        m = http_get_result(c, w, "nginx 50 MiB", 200, ngx.big_size, ngx.big_sha256, 0)
        if m:
            c.figure("http-get 50 MiB from nginx: %s MiB/s (%s ms, SHA-256 included)"
                     % (m.group(5), m.group(4)))

        w = http_get_run(c, base + "/r1")
        http_get_result(c, w, "nginx redirects then chunked", 200, ngx.chunked_size,
                        ngx.chunked_sha256, 3)
        c.check(bool(w.grep(r"^http-get: HTTP/1\.1 200 OK$")), "nginx chunked: status line")
        c.check(bool(w.grep(r"^http-get: redirect 307 to %s/chunked\.html$" % re.escape(base))),
                "nginx: the relative Location 'chunked.html' resolved against /r3")

        w = http_get_run(c, base + "/loop")
        c.check(bool(w.grep(r"^http-get: failed: more than 5 redirects$")),
                "nginx redirect loop: stopped after 5 redirects")
        c.check(len(w.grep(r"^http-get: GET ")) == 6, "redirect loop: 6 requests (%d)"
                % len(w.grep(r"^http-get: GET ")))

        chunk = httpfix.ChunkServer()
        w = http_get_run(c, "http://localhost:%d/dir/sub/start" % chunk.port)
        http_get_result(c, w, "chunk extensions and trailers", 200, chunk.ext_size,
                        chunk.ext_sha256, 2)
        c.check(bool(w.grep(r"^http-get: redirect 303 to http://localhost:%d/dir/other/next\?x=1$"
                            % chunk.port)), "'../other/./next?x=1#frag' resolved")
    finally:
        if chunk is not None:
            chunk.stop()
        if ngx is not None:
            ngx.proc.stop()
            ngx.cleanup()

    # A silent server: SO_RCVTIMEO (Timeout=1500 ms) ends the wait.
    srv = c.peer_proc("silent_server", "--conns", 2, "--timeout", 90)
    sport = int(srv.wait_line(r"^PORT (\d+)$", 10).group(1))
    w = http_get_run(c, "http://127.0.0.1:%d/" % sport, {"Timeout": 1500}, timeout=60)
    c.check(bool(w.grep(r"^http-get: failed: .*\(-\d+\)$")) and
            bool(w.grep(r"(?i)^http-get: failed: .*timed out")),
            "silent server: the driver failed with a timeout")
    # Unloaded while it waits (Timeout 60 s): the close wakes it at once.
    w = http_get_run(c, "http://127.0.0.1:%d/" % sport, {"Timeout": 60000},
                     until=r"^http-get: request sent ", timeout=60)
    c.check(bool(w.grep(r"^http-get: failed: stopped by the unload")),
            "unload while waiting: the worker was woken and stopped")
    m = w.grep(r"^http-get: unloaded in (\d+) ms$")
    if c.check(bool(m), "unload time logged"):
        c.check(int(m[0].group(1)) < 3000, "unload took %s ms (< 3000)" % m[0].group(1))
        c.figure("http-get unload while waiting for a silent server: %s ms" % m[0].group(1))
    rc = srv.wait(30)
    c.check(rc == 0, "silent_server exited 0: both connections ended [status %d]" % rc)


# ---------------------------------------------------------------- httpd

HTTPD_STOP = "/stop-the-test"  # its 404 is logged: the run's --until


def parse_wrk(text):
    """wrk's summary: requests, requests/s, and whether a "Socket errors"
    or a "Non-2xx or 3xx responses" line is present (their text)."""
    out = {"requests": None, "rps": None, "socket_errors": None, "non2xx": None}
    m = re.search(r"^\s*(\d+) requests in ", text, re.M)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    if m:
        out["rps"] = float(m.group(1))
    m = re.search(r"^\s*Socket errors:.*$", text, re.M)
    if m:
        out["socket_errors"] = m.group(0).strip()
    m = re.search(r"^\s*Non-2xx or 3xx responses:.*$", text, re.M)
    if m:
        out["non2xx"] = m.group(0).strip()
    return out


def run_wrk(port, conns, threads, seconds, path="/"):
    """Runs wrk against 127.0.0.1:port; returns (status, output, parse_wrk)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise Failure("wrk is not installed (tools/install-deps installs it)")
    argv = [wrk, "-c%d" % conns, "-t%d" % threads, "-d%ds" % seconds, "--timeout", "10s",
            "http://127.0.0.1:%d%s" % (port, path)]
    log("run: " + " ".join(argv))
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=seconds + 60)
    for line in p.stdout.splitlines():
        print("[wrk] " + line, flush=True)
    return p.returncode, p.stdout, parse_wrk(p.stdout)


def recv_until_eof(s, timeout):
    """Everything s receives until the peer ends the stream (b"" ending) or
    resets it; returns (data, ended)."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return data, True
            data += b
    except ConnectionResetError:
        return data, True
    except socket.timeout:
        return data, False


def raw_exchange(port, request, timeout=20):
    """Sends request bytes in one send on a new connection; returns what came
    back until the server closed the connection, and whether it did."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(request)
        return recv_until_eof(s, timeout)
    finally:
        s.close()


def case_httpd(c):
    """examples/httpd: functional checks with Python's http.client and raw
    sockets (GET / gives the page, HEAD, 404, 405, keep-alive reuse of one
    connection, two pipelined requests in one send answered in order,
    Connection: close and HTTP/1.0 honoured, 400 for a malformed request,
    431 for a 9 KiB head, an idle connection closed after IdleMs), then wrk
    with 100 connections for 3 s (no socket errors, no non-2xx responses;
    the rate is a figure, never asserted), then an unload with keep-alive
    connections open: bounded, and each of them sees its end."""
    import http.client
    idle_ms = 4000
    port = free_port()
    w = c.wskrun([c.driver("httpd")], {"Port": port, "IdleMs": idle_ms},
                 r"^httpd: #\d+ 404 GET %s$" % re.escape(HTTPD_STOP), 200, name="httpd")
    c.wait_kernel(w, r"^httpd: listening on port %d$" % port, 60)

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/")
    r = conn.getresponse()
    page = r.read()
    c.check(r.status == 200 and r.getheader("Content-Type") == "text/html" and
            int(r.getheader("Content-Length", "-1")) == len(page) and
            page.startswith(b"<!DOCTYPE html>") and page.endswith(b"</html>\n") and
            800 <= len(page) <= 2048,
            "GET /: 200, text/html, the page (%d bytes)" % len(page))
    sock = conn.sock
    same = sock is not None
    for i in range(5):
        conn.request("GET", "/" if i % 2 == 0 else "/index.html")
        r = conn.getresponse()
        body = r.read()
        same = same and r.status == 200 and body == page and conn.sock is sock
    c.check(same, "keep-alive: 5 more GETs on the same connection, the same page each time")
    conn.request("HEAD", "/")
    r = conn.getresponse()
    body = r.read()
    c.check(r.status == 200 and body == b"" and
            int(r.getheader("Content-Length", "-1")) == len(page) and conn.sock is sock,
            "HEAD /: 200, Content-Length %d, no body, connection kept" % len(page))
    conn.request("GET", "/nope")
    r = conn.getresponse()
    r.read()
    c.check(r.status == 404 and conn.sock is sock, "GET /nope: 404, connection kept")
    conn.request("POST", "/", body=b"x=1", headers={"Content-Type": "text/plain"})
    r = conn.getresponse()
    r.read()
    c.check(r.status == 405 and r.getheader("Allow") == "GET, HEAD" and conn.sock is sock,
            "POST /: 405 with Allow: GET, HEAD, body dropped, connection kept")
    conn.request("GET", "/", headers={"Connection": "close"})
    r = conn.getresponse()
    body = r.read()
    c.check(r.status == 200 and body == page and r.getheader("Connection") == "close",
            "Connection: close: 200 and 'Connection: close' in the response")
    conn.close()

    head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    data, ended = raw_exchange(port, head + b"GET /second HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               b"Connection: close\r\n\r\n")
    i200 = data.find(b"HTTP/1.1 200 OK\r\n")
    i404 = data.find(b"HTTP/1.1 404 Not Found\r\n")
    c.check(ended and i200 == 0 and i404 > i200 and page in data[:i404],
            "pipelining: two requests in one send, 200 (the page) then 404, then the close"
            " asked by the second")
    data, ended = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    c.check(ended and data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(page),
            "Connection: close: one response, then the server closes the connection")
    data, ended = raw_exchange(port, b"GET / HTTP/1.0\r\n\r\n")
    c.check(ended and data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(page),
            "HTTP/1.0 without keep-alive: one response, then the close")
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + head)
    data, ended = recv_until_eof(s, 3)
    s.close()
    c.check(not ended and data.count(b"HTTP/1.1 200 OK\r\n") == 2 and
            b"Connection: keep-alive\r\n" in data,
            "HTTP/1.0 with Connection: keep-alive: kept open for a second request")
    data, ended = raw_exchange(port, b"GET / HTTP/1.1\r\nHost a\r\n\r\n")
    c.check(ended and data.startswith(b"HTTP/1.1 400 Bad Request\r\n"),
            "malformed header field: 400, then the close")
    data, ended = raw_exchange(port, b"GET / HTTP/1.1\r\n\r\n")
    c.check(ended and data.startswith(b"HTTP/1.1 400 "), "HTTP/1.1 without Host: 400")
    data, ended = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 9000 +
                               b"\r\n\r\n")
    c.check(ended and data.startswith(b"HTTP/1.1 431 "), "9 KiB request head: 431, then the close")

    # An idle keep-alive connection is closed after IdleMs (SO_RCVTIMEO).
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(head)
    t0 = time.monotonic()
    data, ended = recv_until_eof(s, idle_ms / 1000.0 + 20)
    idle = time.monotonic() - t0
    s.close()
    c.check(ended and data.endswith(page) and idle >= idle_ms / 1000.0 - 0.5,
            "idle keep-alive connection closed by the server after %.1f s (IdleMs %d)"
            % (idle, idle_ms))

    rc, out, st = run_wrk(port, 100, 2, 3)
    c.check(rc == 0 and st["requests"] is not None and st["requests"] > 0,
            "wrk -c100 -t2 -d3s ran (%s requests) [status %d]" % (st["requests"], rc))
    c.check(st["socket_errors"] is None, "wrk: no socket errors (%s)" % st["socket_errors"])
    c.check(st["non2xx"] is None, "wrk: no non-2xx responses (%s)" % st["non2xx"])
    if st["rps"] is not None:
        c.figure("httpd, wrk 100 connections 3 s: %.0f requests/s" % st["rps"])

    # Unload with keep-alive connections open: 3 held after one request each.
    held = []
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        s.sendall(head)
        data = b""
        while not data.endswith(page):
            b = s.recv(65536)
            if not b:
                break
            data += b
        held.append(s)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", HTTPD_STOP)
    r = conn.getresponse()
    r.read()
    c.check(r.status == 404, "GET %s: 404 (the test's signal to unload)" % HTTPD_STOP)
    c.finish_wskrun(w, 120)
    conn.close()
    ends = [recv_until_eof(s, 20)[1] for s in held]
    for s in held:
        s.close()
    c.check(all(ends), "the 3 held keep-alive connections were ended by the unload")
    m = w.grep(r"^httpd: unloaded in (\d+) ms \(connections=(\d+) requests=(\d+)\)$")
    if c.check(bool(m), "kernel log: httpd unloaded"):
        ms = int(m[0].group(1))
        c.check(ms < 10000, "unload with open connections took %d ms (< 10000)" % ms)
        c.figure("httpd unload with 4 open connections: %d ms" % ms)
        done = w.grep(r"^httpd: connection #\d+ done ")
        c.check(len(done) == int(m[0].group(2)),
                "every connection's thread ended (%d done, %s accepted)"
                % (len(done), m[0].group(2)))


def raise_nofile(want):
    """Raises the open-file limit (inherited by the processes started next)
    to want descriptors, as far as the hard limit allows."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        log("open-file limit raised from %d to %d" % (soft, new))


def echo_server_summary(c, w, what):
    """The driver's summary and unload lines (checked present); returns
    (summary match, unload ms)."""
    s = w.grep(r"^echo-server: summary connections=(\d+) ended=(\d+) eof=(\d+) errors=(\d+)"
               r" open_at_unload=(\d+) bytes=(\d+)$")
    u = w.grep(r"^echo-server: unloaded in (\d+) ms \(connections=(\d+)\)$")
    c.check(bool(s) and bool(u), "%s: the driver logged its summary and its unload" % what)
    return (s[0] if s else None), (int(u[0].group(1)) if u else None)


def run_echo_load(c, port, conns, bytes_each, timeout, label):
    """tests/peers/echo_load against an echo server on port: conns
    connections all open at once, each echoing bytes_each bytes of its
    pattern, checked byte for byte and by FNV sum; the throughput becomes a
    figure named label."""
    load = c.peer_proc("echo_load", "--port", port, "--conns", conns, "--bytes", bytes_each,
                       "--timeout", timeout)
    rc = load.wait(timeout + 15)
    c.check(rc == 0, "echo_load exited 0: every byte of %d x %d bytes echoed in order [status %d]"
            % (conns, bytes_each, rc))
    per = load.grep(r"^echo_load: conn (\d+) bytes=(\d+) fnv=([0-9a-f]{16}) ok$")
    c.check(len(per) == conns and all(int(m.group(2)) == bytes_each for m in per),
            "echo_load: %d connections verified (%d)" % (conns, len(per)))
    summ = load.grep(r"^echo_load: OK conns=(\d+) bytes_total=(\d+) seconds=([\d.]+)"
                     r" MiB/s=([\d.]+) max_open=(\d+)$")
    if c.check(bool(summ), "echo_load summary"):
        m = summ[0]
        c.check(int(m.group(5)) == conns, "all %d connections were open at once (max_open=%s)"
                % (conns, m.group(5)))
        c.figure("%s %d x %d bytes: %s MiB/s (%s s)"
                 % (label, conns, bytes_each, m.group(4), m.group(3)))


def case_echo_server(c):
    """examples/echo-server (Threads=2: 3 threads in all): 1,000 concurrent
    native connections each echo ECHO_SERVER_BYTES (default 64 KiB; make
    bench-echo: 1 MiB) with checksums; then, in a second run, it
    is unloaded while 1,000 connections are open and idle: bounded, every
    connection ended. The bytes and counts are checked on both sides."""
    conns = 1000
    bytes_each = int(os.environ.get("ECHO_SERVER_BYTES", 64 * 1024))
    raise_nofile(8192)  # the runner's provider sockets and the peer's: ~1,000 each

    # 1. The load: every byte echoed, in order, and every stream ended.
    port = free_port()
    w = c.wskrun([c.driver("echo-server")], {"Port": port, "Threads": 2},
                 r"^echo-server: ended #%d " % conns, 240, name="echo-server")
    c.wait_kernel(w, r"^echo-server: listening on port %d \(threads=2\)$" % port, 60)
    run_echo_load(c, port, conns, bytes_each, 200, "echo-server")
    c.finish_wskrun(w, 120)
    s, ms = echo_server_summary(c, w, "load")
    if s:
        c.check(s.group(1) == str(conns) and s.group(2) == str(conns) and s.group(3) == str(conns)
                and s.group(4) == "0" and int(s.group(6)) == conns * bytes_each,
                "driver: %d connections, each ended by the peer, no error, %d bytes echoed (%s)"
                % (conns, conns * bytes_each, s.group(0)))

    # 2. The unload with 1,000 connections open (hold_client's connection
    # #1001, closed by it, is the cue), on both beds. The driver leaves the
    # closes to ks_cleanup (see examples/echo-server/conn.c): its workers
    # closing their idle connections themselves met Wine 8's netio.sys crash
    # (a write through a NULL IRP in dispatch_pending_io) in most unloads.
    port = free_port()
    w = c.wskrun([c.driver("echo-server")], {"Port": port, "Threads": 2},
                 r"^echo-server: ended #1 ", 150, name="echo-server")
    c.wait_kernel(w, r"^echo-server: listening on port %d \(threads=2\)$" % port, 60)
    hold = c.peer_proc("hold_client", "--port", port, "--conns", conns, "--timeout", 120)
    c.finish_wskrun(w, 150)
    rc = hold.wait(130)
    c.check(rc == 0, "hold_client exited 0: all %d held connections ended by the unload [status %d]"
            % (conns, rc))
    s, ms = echo_server_summary(c, w, "unload")
    if s:
        c.check(s.group(1) == str(conns + 1) and s.group(5) == str(conns)
                and s.group(2) == str(conns + 1) and s.group(4) == "0",
                "driver: %d connections open at the unload, all closed, no error (%s)"
                % (conns, s.group(0)))
    if ms is not None:
        c.check(ms < 5000, "unloaded with %d connections in %d ms (< 5000)" % (conns, ms))
        c.figure("echo-server unload with %d open connections: %d ms" % (conns, ms))


def case_event_echo(c, fallback=False):
    """examples/event-echo (the event API and ks_send_async, no thread of its
    own): 200 concurrent native connections each echo 256 KiB of pattern
    with checksums (echo_load); the counts are checked on both sides. Then
    20 idle connections stay open (hold_client) and the driver is unloaded
    under them: bounded, every connection ended, nothing leaked (host bed),
    no node left. The events come from WSK event callbacks on the host bed
    (host_event-echo) and from the library's fallback with KSHIM_WSK_EVENTS=0
    (host_event-echo-fallback) and under Wine, which has no event callbacks
    (wine.event-echo)."""
    # make bench-echo sets both to the echo-server case's load (1,000 x 1 MiB).
    conns = int(os.environ.get("EVENT_ECHO_CONNS", 200))
    bytes_each = int(os.environ.get("EVENT_ECHO_BYTES", 256 * 1024))
    held, flood = int(os.environ.get("EVENT_ECHO_HELD", 20)), 32 << 20
    if c.host:
        # Inherited by the runner, as KSHIM_SEED and KSHIM_COMPLETION are.
        os.environ["KSHIM_WSK_EVENTS"] = "0" if fallback else "1"
    mode = "native" if c.host and not fallback else "fallback"
    raise_nofile(8192)  # up to 1,000 connections (make bench-echo): ~1,000 fds each side
    # The unload cue: the end of hold_client's closed connection after the
    # flood's, the load's and the held ones, #conns + 2. LogEvery is chosen
    # so that this "ended #K" line is logged.
    last = conns + 2
    port = free_port()
    w = c.wskrun([c.driver("event-echo")], {"Port": port, "LogEvery": last},
                 r"^event-echo: ended #%d " % last, 150, name="event-echo")
    m = c.wait_kernel(w, r"^event-echo: listening on port %d \(events: (.*)\)$" % port, 60)
    c.check(m.group(1) == mode, "driver: events: %s (%s)" % (mode, m.group(0)))

    # 0. Flow control: a peer sends 32 MiB and reads nothing for a second.
    # Once the echo path is full (the socket buffers hold at most ~10 MiB),
    # the driver's echo queue grows and it pauses the connection
    # (ks_events_pause) at 1 MiB, so the peer's send stalls; when the peer
    # reads, the echo drains, the driver resumes, and every byte comes back
    # in order. The driver's figures (below) show the pause and the bound.
    fs = socket.create_connection(("127.0.0.1", port), timeout=60)
    data = random.Random(5).randbytes(flood)
    sender = threading.Thread(target=fs.sendall, args=(data,), daemon=True)
    sender.start()
    sender.join(1.0)  # the echo path fills (Linux's buffers: at most ~10 MiB)
    got = bytearray()
    while len(got) < flood:
        chunk = fs.recv(1 << 20)
        if not chunk:
            break
        got += chunk
    sender.join(30)
    fs.shutdown(socket.SHUT_WR)
    c.check(fs.recv(1) == b"", "flood: the driver ends the stream after the echo")
    fs.close()
    c.check(bytes(got) == data, "flood: %d bytes echoed in order (%d back)" % (flood, len(got)))

    # 1. The load: every byte echoed in order, every stream ended by the
    # driver's close after the echo.
    run_echo_load(c, port, conns, bytes_each, 100, "event-echo (%s)" % mode)

    # 2. The unload with idle connections open (a receive in flight on each,
    # the fallback's): hold_client echoes 1,000 bytes on each of its
    # connections, then closes one more (the cue). On both beds: under Wine
    # this driver's unload with open connections (closed by ks_cleanup) was
    # clean in 35 of 35 runs, 20 and 200 idle connections (see
    # case_echo_server). EVENT_ECHO_HELD: how many.
    hold = c.peer_proc("hold_client", "--port", port, "--conns", held, "--timeout", 60)
    c.finish_wskrun(w, 90)
    rc = hold.wait(70)
    c.check(rc == 0, "hold_client exited 0: all %d idle connections ended by the unload"
            " [status %d]" % (held, rc))
    s = w.grep(r"^event-echo: summary connections=(\d+) ended=(\d+) errors=(\d+)"
               r" open_at_unload=(\d+) bytes=(\d+) nodes_left=(\d+)$")
    u = w.grep(r"^event-echo: unloaded in (\d+) ms$")
    c.check(bool(s) and bool(u), "the driver logged its summary and its unload")
    if s:
        s = s[0]
        # The flood's and the load's connections, the held ones and the
        # cue's.
        accepted, ended = 1 + conns + held + 1, last
        nbytes = flood + conns * bytes_each + held * 1000 + 1
        c.check([int(x) for x in s.groups()] == [accepted, ended, 0, accepted - ended, nbytes, 0],
                "driver: accepted=%d ended=%d errors=0 open_at_unload=%d bytes=%d nodes_left=0 (%s)"
                % (accepted, ended, accepted - ended, nbytes, s.group(0)))
    f = w.grep(r"^event-echo: flow pauses=(\d+) max_queued=(\d+)$")
    if c.check(bool(f), "the driver logged its flow-control figures"):
        pauses, max_queued = int(f[0].group(1)), int(f[0].group(2))
        # The bound: 1 MiB, plus the piece that crossed it (at most one
        # 64 KiB indication or pull).
        c.check(pauses >= 1 and max_queued <= (1 << 20) + (64 << 10),
                "flow control: %d pause(s), at most %d bytes queued on a connection"
                " (<= 1 MiB + 64 KiB)" % (pauses, max_queued))
        c.figure("event-echo (%s) flow control: %d pauses, max %d bytes queued"
                 % (mode, pauses, max_queued))
    if u:
        ms = int(u[0].group(1))
        c.check(ms < 5000, "unloaded with %d connections open in %d ms (< 5000)"
                % (held, ms))
        c.figure("event-echo (%s) unload with %d open connections: %d ms"
                 % (mode, held, ms))


def case_event_echo_fallback(c):
    """event-echo with KSHIM_WSK_EVENTS=0 (host bed): the library's fallback."""
    if not c.host:
        raise Failure("event-echo-fallback is a host-bed case (under Wine, event-echo is it)")
    case_event_echo(c, fallback=True)

# --------------------------------------------------------------- the cases

def case_tls_client(c):
    """wsksock/tls.h as a client (ktls): tests/wine/tlscases.py."""
    import tlscases
    tlscases.case_tls_client(c, Proc, Failure)


def case_https_get(c):
    """examples/http-get over HTTPS from nginx: tests/wine/tlscases.py."""
    import tlscases
    tlscases.case_https_get(c, Proc, Failure, http_get_run, http_get_result)


def case_tls_echo(c):
    """examples/tls-echo (a TLS echo server) with s_client, Python's ssl and
    curl: tests/wine/tlscases.py."""
    import tlscases
    tlscases.case_tls_echo(c, Proc, Failure, free_port)


class Entry:
    """A case of CASES: its function, ctest's TIMEOUT for it (s; the case's
    own --time-limit is 30 s less), the beds ctest runs it on, and the ctest
    RESOURCE_LOCK it needs, if any."""

    def __init__(self, fn, timeout, beds=("wine", "host"), lock=None):
        self.fn, self.timeout, self.beds, self.lock = fn, timeout, beds, lock


HOST_ONLY = ("host",)

# The suite's one list of cases (issue 13). ctest registers wine.<case> for
# each case with the Wine bed (tests/wine/suite.cmake) and host_<case> for
# each with the host bed (suite_host.cmake), both from `wsksuite.py --list`;
# tools/msvc-check runs the Wine ones from it too. ktest's scenarios
# (tests/drivers/ktest/ktest.c) are checked against it by --check-ktest
# (ctest suite_lists).
CASES = {
    "seed": Entry(case_seed, 150),
    "echo1": Entry(case_echo1, 240),
    "echo50": Entry(case_echo50, 240),
    "kecho-unload": Entry(case_kecho_unload, 150),
    "client": Entry(case_client, 240),
    "refused": Entry(case_refused, 150),
    "reset": Entry(case_reset, 150),
    "close-blocked": Entry(case_close_blocked, 150),
    # Closing a listener keeps its accepted connections (issue 11, item 8).
    "listen-close": Entry(case_listen_close, 150),
    # close/shutdown/cleanup racing calls in flight, 100 times each.
    "races": Entry(case_races, 180),
    "badinput": Entry(case_badinput, 150),
    "unload-busy": Entry(case_unload_busy, 150),
    "stack-paged": Entry(case_stack_paged, 150),
    "options": Entry(case_options, 150),
    "resolve": Entry(case_resolve, 150),
    "nonblock": Entry(case_nonblock, 180),
    "timeouts": Entry(case_timeouts, 150),
    # The asynchronous and event APIs in a driver.
    "aio": Entry(case_aio, 150),
    # examples/http-get against nginx (50 MiB), redirects, chunked bodies.
    "http-get": Entry(case_http_get, 240),
    # examples/echo-server: 1,000 connections with 3 threads; unload with 1,000 open.
    "echo-server": Entry(case_echo_server, 300),
    # examples/httpd: http.client checks, wrk -c100 for 3 s, unload with connections open.
    "httpd": Entry(case_httpd, 300),
    # examples/event-echo: 200 connections x 256 KiB, unload with 20 open; with
    # WSK event callbacks on the host bed, with the library's fallback under
    # Wine (which has no event callbacks) and in event-echo-fallback.
    "event-echo": Entry(case_event_echo, 240),
    "event-echo-fallback": Entry(case_event_echo_fallback, 240, HOST_ONLY),
    # The LySocket article's drivers (wine.compat_seed on Wine: compat.cmake);
    # their fixed port 8888 is shared with make demo's.
    "compat": Entry(case_compat, 150, HOST_ONLY, lock="port8888"),
    # TLS (wsksock/tls.h): a client's refusals and handshakes (ktls), and
    # http-get over HTTPS from nginx (50 MiB, pins).
    "tls-client": Entry(case_tls_client, 240),
    "https-get": Entry(case_https_get, 300),
    # examples/tls-echo: s_client, pyclient 4 x 4 MiB, curl, a non-TLS client,
    # an EC certificate, unload with connections open.
    "tls-echo": Entry(case_tls_echo, 240),
}


def print_list():
    """--list: one line per case, "<name> <timeout> <beds>[ <lock>]", beds
    joined by commas (what suite.cmake, suite_host.cmake and msvc-check read)."""
    for name, e in CASES.items():
        print(" ".join([name, str(e.timeout), ",".join(e.beds)] + ([e.lock] if e.lock else [])))


def check_ktest(ktest_c):
    """--check-ktest: ktest's scenario table (ktest.c's kt_scenarios) and the
    scenarios the cases of CASES run (their c.ktest("<scenario>", ...)
    calls) must name the same scenarios: a scenario no case runs, or a case
    running a scenario ktest does not have, is a failure. Returns the exit
    status."""
    import inspect
    with open(ktest_c) as f:
        text = f.read()
    m = re.search(r"kt_scenarios\[\]\s*=\s*\{(.*?)\};", text, re.S)
    if not m:
        log("FAIL no kt_scenarios[] table in %s" % ktest_c)
        return 1
    table = re.findall(r'\{\s*"([^"]+)"\s*,\s*\w+\s*\}', m.group(1))
    run = {}
    for name, e in CASES.items():
        for scenario in re.findall(r'\bc\.ktest\(\s*"([^"]+)"', inspect.getsource(e.fn)):
            run.setdefault(scenario, []).append(name)
    failures = 0
    for scenario in table:
        if scenario not in run:
            failures += 1
            log("FAIL ktest scenario '%s' (%s) is run by no case of CASES" % (scenario, ktest_c))
    for scenario, names in sorted(run.items()):
        if scenario not in table:
            failures += 1
            log("FAIL case %s runs ktest scenario '%s', which %s does not have"
                % (",".join(names), scenario, ktest_c))
    for scenario in sorted(set(s for s in table if table.count(s) > 1)):
        failures += 1
        log("FAIL ktest scenario '%s' twice in %s" % (scenario, ktest_c))
    log("%d ktest scenarios, %d cases, %d run ktest: %s"
        % (len(table), len(CASES), sum(len(n) for n in run.values()),
           "RESULT pass" if failures == 0 else "RESULT fail"))
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("case", nargs="?", choices=sorted(CASES))
    ap.add_argument("--list", action="store_true",
                    help="print the cases, one a line: name, ctest timeout, beds[, lock]")
    ap.add_argument("--check-ktest", metavar="KTEST_C",
                    help="check ktest.c's scenario table against the cases' ktest runs")
    ap.add_argument("--bed", choices=("wine", "host"), default="wine",
                    help="wine: .sys drivers under tools/wskrun; host: <name>-host executables")
    ap.add_argument("--wskrun", help="tools/wskrun (Wine bed)")
    ap.add_argument("--drivers", help="mingw-w64 build tree (WSKSOCK_DRIVERS_DIR; Wine bed)")
    ap.add_argument("--host-drivers", help="host build tree with the <name>-host executables"
                    " (host bed)")
    ap.add_argument("--peers", help="directory of the native peers")
    ap.add_argument("--time-limit", type=float, default=150.0)
    args = ap.parse_args()
    if args.list:
        print_list()
        return 0
    if args.check_ktest:
        return check_ktest(args.check_ktest)
    if not args.case or not args.peers:
        ap.error("a case and --peers are needed")
    if args.bed == "wine" and not (args.wskrun and args.drivers):
        ap.error("the Wine bed needs --wskrun and --drivers")
    if args.bed == "host" and not args.host_drivers:
        ap.error("the host bed needs --host-drivers")

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
            CASES[args.case].fn(c)
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
