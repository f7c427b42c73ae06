#!/usr/bin/env python3
"""Tests of tools/wskrun with tests/drivers/wskrun-probe.sys.

Usage: wskrun_cases.py WSKRUN PROBE.sys CASE
       wskrun_cases.py --list

Each case runs wskrun with TMPDIR set to a private directory, so that its
Wine prefix (TMPDIR/wskrun-UID/run-*/prefix) and wineserver directory are
recognisable: afterwards no process may still run with a WINEPREFIX under it,
and no run directory or wineserver directory may be left there. Every run is
bounded (subprocess timeout), independently of ctest's TIMEOUT.

CASES (at the end) is the one list of the cases: --list prints it (name and
ctest timeout, one case a line) for tests/wine/wskrun.cmake, which registers
wine.wskrun.<case> from it; ctest suite_lists (tests/wine/suite_lists.py)
checks it against the case functions and the probe's modes.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("CHECK FAILED: %s" % what, flush=True)


def leftover_processes(root):
    """Live processes whose WINEPREFIX lies under root."""
    key = b"WINEPREFIX=" + os.fsencode(root)
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                env = f.read().split(b"\0")
            with open("/proc/%s/stat" % name, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        state = stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3]
        if state in (b"Z", b"X"):
            continue
        if any(e.startswith(key) for e in env):
            found.append(int(name))
    return found


class Run:
    def __init__(self, rc, out, err, elapsed):
        self.rc, self.out, self.err, self.elapsed = rc, out, err, elapsed

    def show(self, label):
        print("---- %s: exit %s after %.2f s" % (label, self.rc, self.elapsed))
        print("---- stdout:\n%s---- stderr:\n%s----" % (self.out, self.err), flush=True)


class Env:
    """A private TMPDIR for wskrun runs, checked for leftovers at the end."""

    def __init__(self, wskrun):
        self.wskrun = wskrun
        self.tmp = tempfile.mkdtemp(prefix="wskrun-test-")
        self.env = dict(os.environ, TMPDIR=self.tmp)

    def start(self, args, cwd=None):
        return subprocess.Popen([self.wskrun] + args, env=self.env, cwd=cwd,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    def finish(self, p, bound, label):
        t0 = time.monotonic()
        try:
            out, err = p.communicate(timeout=bound)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            check(False, "%s: wskrun did not finish within %g s" % (label, bound))
        r = Run(p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                time.monotonic() - t0)
        r.show(label)
        return r

    def run(self, args, bound, label="wskrun", cwd=None):
        t0 = time.monotonic()
        r = self.finish(self.start(args, cwd), bound, label)
        r.elapsed = time.monotonic() - t0
        return r

    def check_clean(self):
        left = leftover_processes(self.tmp)
        check(not left, "processes of the run's prefix still running: %s" % left)
        for pid in left:  # ours (WINEPREFIX under our private TMPDIR)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        runs = os.path.join(self.tmp, "wskrun-%d" % os.getuid())
        stale = os.listdir(runs) if os.path.isdir(runs) else []
        check(not stale, "run directories left behind: %s" % stale)
        servers = [os.path.join(d, s) for d, _, _ in os.walk(self.tmp)
                   for s in os.listdir(d) if s.startswith("server-")]
        check(not servers, "wineserver directories left behind: %s" % servers)

    def close(self):
        self.check_clean()
        shutil.rmtree(self.tmp, ignore_errors=True)


def fail_lines(r):
    return [ln for ln in r.err.splitlines() if ln.startswith("wskrun: FAIL: ")]


def index_of(lines, pattern):
    for i, ln in enumerate(lines):
        if re.search(pattern, ln):
            return i
    return -1


# ---- cases ------------------------------------------------------------------

def case_hello(e, probe):
    value = "v%d with spaces" % os.getpid()
    r = e.run(["--timeout", "120", "--until", r"^probe: hello ", "--param", "Mode=hello",
               "--param", "Value=" + value, probe], 180)
    check(r.rc == 0, "exit status 0 (got %s)" % r.rc)
    check("probe: hello %s\n" % value in r.out, "the Value parameter appears on stdout")
    check(not re.search(r"^\d{4}:", r.out, re.M), "Wine's prefix is stripped from log lines")
    check("wskrun: loaded wskrun-probe\n" in r.err, "'loaded' status line")
    check(re.search(r"^wskrun: unloaded wskrun-probe in [0-9.]+ s$", r.err, re.M),
          "'unloaded' status line")
    check("probe: wskrun-probe unloaded\n" in r.out, "DriverUnload ran")
    check(not fail_lines(r), "no FAIL line")
    # What ended the run, from wskrun's own status lines (not a time check:
    # a loaded machine may take long, the --timeout is generous).
    check("wskrun: --until matched after " in r.err, "--until ended the run")
    check("reached" not in r.err, "the --timeout did not")


def case_until_nomatch(e, probe):
    r = e.run(["--timeout", "3", "--until", "this text is never printed", "--param",
               "Mode=hello", probe], 60)
    check(r.rc == 1, "exit status 1 (got %s)" % r.rc)
    check(any("--until" in ln and "never matched" in ln for ln in fail_lines(r)),
          "FAIL line about --until")
    check(re.search(r"^wskrun: unloaded wskrun-probe in", r.err, re.M),
          "the driver was unloaded at the timeout")


def case_crash_entry(e, probe):
    r = e.run(["--timeout", "120", "--param", "Mode=crash-entry", probe], 180)
    check(r.rc == 1, "exit status 1 (got %s)" % r.rc)
    fl = fail_lines(r)
    check(any(ln.startswith("wskrun: FAIL: crashed: ") and "Unhandled" in ln for ln in fl),
          "FAIL line reporting the crash")
    check(any("wskrun-probe failed to load: StartService error 1053" in ln for ln in fl),
          "FAIL line reporting StartService error 1053")
    check("reached" not in r.err and "expired" not in r.err,
          "the failure ended the run, not the --timeout")


def case_fail_entry(e, probe):
    r = e.run(["--timeout", "120", "--param", "Mode=fail-entry", probe], 180)
    check(r.rc == 1, "exit status 1 (got %s)" % r.rc)
    check(any("wskrun-probe failed to load: StartService error" in ln for ln in fail_lines(r)),
          "FAIL line reporting the StartService error")
    check(not any("crashed" in ln for ln in fail_lines(r)), "no crash reported")
    check("reached" not in r.err and "expired" not in r.err,
          "the failure ended the run, not the --timeout")


def case_crash_later(e, probe):
    # A generous --timeout: the run must end through the crash, long before it
    # (not a speed check; the machine may be loaded).
    r = e.run(["--timeout", "90", "--param", "Mode=crash-later", probe], 120)
    check(r.rc == 1, "exit status 1 (got %s)" % r.rc)
    check("wskrun: loaded wskrun-probe\n" in r.err, "the driver loaded")
    check(any(ln.startswith("wskrun: FAIL: crashed: ") and "Unhandled" in ln
              for ln in fail_lines(r)), "FAIL line reporting the crash")
    check(any(ln.startswith("wskrun: FAIL: wskrun-probe: its winedevice.exe") for ln in
              fail_lines(r)), "FAIL line naming the driver whose host process exited")
    check("reached" not in r.err and "expired" not in r.err,
          "the crash ended the run, not the --timeout")


def case_assert_fails(e, probe):
    # The library's assertions are checked in the tests' driver builds
    # (WSKSOCK_ASSERTS): a failed KS_ASSERT prints its condition and raises
    # STATUS_ASSERTION_FAILURE (0xc0000420), which must end the driver
    # visibly under Wine rather than be swallowed.
    r = e.run(["--timeout", "20", "--param", "Mode=assert-fails", probe], 60)
    check(r.rc == 1, "exit status 1 (got %s)" % r.rc)
    check("wsksock: assertion failed: probe's deliberate assertion (" in r.out + r.err,
          "the assertion's message")
    check("survived the assertion" not in r.out + r.err, "the driver did not go on")
    check(any(ln.startswith("wskrun: FAIL: crashed: ") and "c0000420" in ln.lower()
              for ln in fail_lines(r)), "FAIL line reporting the assertion failure (0xc0000420)")


def case_hang_unload(e, probe):
    r = e.run(["--timeout", "2", "--param", "Mode=hang-unload", probe], 90)
    check(r.rc == 1, "exit status 1 (got %s)" % r.rc)
    check(any("wskrun-probe did not unload within 15 s" in ln for ln in fail_lines(r)),
          "FAIL line reporting the unload hang")


def case_order(e, probe):
    d = os.path.join(e.tmp, "drivers with space")
    os.mkdir(d)
    for n in ("alpha", "beta"):
        shutil.copy(probe, os.path.join(d, n + ".sys"))
    # Relative paths, from another directory.
    r = e.run(["--timeout", "4", "--gap", "0.5", "--param", "Value=ordered",
               "drivers with space/alpha.sys", "drivers with space/beta.sys"], 60, cwd=e.tmp)
    check(r.rc == 0, "exit status 0 (got %s)" % r.rc)
    err = r.err.splitlines()
    seq = [index_of(err, p) for p in (r"^wskrun: loaded alpha$", r"^wskrun: loaded beta$",
                                      r"^wskrun: unloaded beta in", r"^wskrun: unloaded alpha in")]
    check(-1 not in seq and seq == sorted(seq),
          "loaded alpha, loaded beta, unloaded beta, unloaded alpha in this order (%s)" % seq)
    out = r.out.splitlines()
    seq = [index_of(out, p) for p in (r"^probe: alpha loaded", r"^probe: beta loaded",
                                      r"^probe: beta unloaded", r"^probe: alpha unloading")]
    check(-1 not in seq and seq == sorted(seq), "the drivers' own log shows the same order")
    check(out.count("probe: hello ordered") == 2, "--param reached both drivers")


def case_concurrent(e, probe):
    runs = []
    for i in range(2):
        p = e.start(["--timeout", "30", "--until", r"^probe: hello ", "--param",
                     "Value=concurrent-%d" % i, probe])
        runs.append(p)
    results = [e.finish(p, 120, "run %d" % i) for i, p in enumerate(runs)]
    for i, r in enumerate(results):
        check(r.rc == 0, "run %d: exit status 0 (got %s)" % (i, r.rc))
        check("probe: hello concurrent-%d\n" % i in r.out, "run %d: its own log" % i)
        check("concurrent-%d" % (1 - i) not in r.out, "run %d: not the other run's log" % i)


def case_sigterm(e, probe):
    p = e.start(["--timeout", "60", "--param", "Mode=hello", probe])
    # Wait (bounded) until the driver is loaded, then stop wskrun.
    err = b""
    deadline = time.monotonic() + 60
    os.set_blocking(p.stderr.fileno(), False)
    while b"wskrun: loaded" not in err and time.monotonic() < deadline and p.poll() is None:
        try:
            chunk = os.read(p.stderr.fileno(), 4096)
            err += chunk or b""
        except BlockingIOError:
            pass
        time.sleep(0.05)
    check(b"wskrun: loaded" in err, "the driver loaded")
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    os.set_blocking(p.stderr.fileno(), True)
    r = e.finish(p, 30, "after SIGTERM")
    check(r.rc == 128 + signal.SIGTERM, "exit status %d (got %s)" % (128 + signal.SIGTERM, r.rc))
    check(time.monotonic() - t0 < 20, "stopped promptly")


def case_usage(e, probe):
    r = e.run([os.path.join(e.tmp, "missing.sys")], 30)
    check(r.rc == 2, "missing driver file: exit status 2 (got %s)" % r.rc)
    r = e.run(["--timeout", "-1", probe], 30)
    check(r.rc == 2, "bad --timeout: exit status 2 (got %s)" % r.rc)
    r = e.run(["--param", "novalue", probe], 30)
    check(r.rc == 2, "bad --param: exit status 2 (got %s)" % r.rc)
    r = e.run(["--until", "(", probe], 30)
    check(r.rc == 2, "bad --until: exit status 2 (got %s)" % r.rc)
    r = e.run([], 30)
    check(r.rc == 2, "no driver: exit status 2 (got %s)" % r.rc)


# ---- the list ---------------------------------------------------------------

class Entry:
    """A case of CASES: its function and ctest's TIMEOUT for it (s)."""

    def __init__(self, fn, timeout):
        self.fn, self.timeout = fn, timeout


# The one list of wskrun's cases (issue 13): tests/wine/wskrun.cmake registers
# wine.wskrun.<case> for each from `wskrun_cases.py --list`. The first run on
# a machine creates the cached Wine template prefix (~10-15 s), hence the
# margins of the timeouts.
CASES = {
    "hello": Entry(case_hello, 240),
    "until-nomatch": Entry(case_until_nomatch, 120),
    "crash-entry": Entry(case_crash_entry, 240),
    "fail-entry": Entry(case_fail_entry, 240),
    "crash-later": Entry(case_crash_later, 180),
    "hang-unload": Entry(case_hang_unload, 150),
    "assert-fails": Entry(case_assert_fails, 120),
    "order": Entry(case_order, 120),
    "concurrent": Entry(case_concurrent, 180),
    "sigterm": Entry(case_sigterm, 120),
    "usage": Entry(case_usage, 60),
}


def main():
    if sys.argv[1:] == ["--list"]:
        for name, entry in CASES.items():
            print("%s %d" % (name, entry.timeout))
        return 0
    if len(sys.argv) != 4 or sys.argv[3] not in CASES:
        sys.stderr.write("usage: wskrun_cases.py WSKRUN PROBE.sys {%s}\n" % ",".join(CASES))
        return 2
    wskrun, probe, case = sys.argv[1:]
    if not os.path.isfile(probe):
        print("missing %s (build the mingw tree first)" % probe)
        return 1
    e = Env(os.path.abspath(wskrun))
    try:
        CASES[case].fn(e, os.path.abspath(probe))
    finally:
        e.close()
    if failures:
        print("%s: %d check(s) failed" % (case, len(failures)))
        return 1
    print("%s: ok" % case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
