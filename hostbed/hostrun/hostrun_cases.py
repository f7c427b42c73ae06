#!/usr/bin/env python3
"""Tests of the host runner (hostbed/hostrun) with wskrun's probe driver.

Usage: hostrun_cases.py PROBE-HOST CASE
       hostrun_cases.py --list

PROBE-HOST is tests/drivers/wskrun-probe/probe.c built for the host bed
(wskrun-probe-host, tests/wine/suite_host.cmake); its Mode parameter picks
hello, crash-entry, fail-entry, hang-unload or crash-later. Each case runs
the executable (bounded by a subprocess timeout, in its own process group
that is killed afterwards) and checks its exit status and output against
docs/hostbed.md.

CASES (at the end) is the one list of the cases: --list prints it (name and
ctest timeout, one case a line) for tests/wine/suite_host.cmake, which
registers hostrun.<case> from it; ctest suite_lists (tests/wine/suite_lists.py)
checks it against the case functions and the probe's modes.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time

failures = []


def check(cond, what):
    print("%s %s" % ("PASS" if cond else "FAIL", what), flush=True)
    if not cond:
        failures.append(what)


class Run:
    def __init__(self, argv, bound=30, action=None, env=None):
        """Runs argv; action(proc) may act on it while it runs (signals)."""
        self.t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, start_new_session=True,
                             env=dict(os.environ, **(env or {})))
        try:
            if action:
                action(p)
            out, err = p.communicate(timeout=bound)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            check(False, "%s ended within %d s" % (" ".join(argv), bound))
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)  # nothing of it may be left
            except OSError:
                pass
        self.rc = p.returncode
        self.out = out.decode("utf-8", "replace")
        self.err = err.decode("utf-8", "replace")
        self.elapsed = time.monotonic() - self.t0
        print("---- %s: exit %s after %.2f s" % (" ".join(argv), self.rc, self.elapsed))
        print("---- stdout:\n%s---- stderr:\n%s----" % (self.out, self.err), flush=True)


def run_signal(probe, sig, extra=()):
    """Starts the probe, waits until it is loaded, sends sig; returns the
    Run-like result. Output goes to files, read while it runs."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen([probe, "--timeout", "60"] + list(extra), stdout=out, stderr=err,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                err.seek(0)
                if b"hostrun: loaded " in err.read():
                    break
                time.sleep(0.05)
            p.send_signal(sig)
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rc = None
            check(False, "the probe ended within 30 s of signal %d" % sig)
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()
        r = Run.__new__(Run)
        r.rc = rc
        out.seek(0)
        err.seek(0)
        r.out = out.read().decode("utf-8", "replace")
        r.err = err.read().decode("utf-8", "replace")
        r.elapsed = time.monotonic() - t0
        print("---- signal %d: exit %s after %.2f s" % (sig, r.rc, r.elapsed))
        print("---- stdout:\n%s---- stderr:\n%s----" % (r.out, r.err), flush=True)
        return r


def case_hello(probe):
    value = "a b=c h\u00e9llo \u20ac"
    r = Run([probe, "--param", "Mode=hello", "--param", "Value=" + value, "--until",
             r"^probe: hello "])
    check(r.rc == 0, "exit 0")
    check("probe: wskrun-probe loaded mode=hello\n" in r.out, "service name from argv[0]")
    check("probe: hello %s\n" % value in r.out, "the REG_SZ parameter arrived as UTF-8 text")
    check("probe: wskrun-probe unloaded\n" in r.out, "DriverUnload ran")
    check("hostrun: loaded wskrun-probe\n" in r.err, "'loaded' line")
    check("hostrun: --until matched after " in r.err, "'--until matched' line")
    check("hostrun: unloaded wskrun-probe in " in r.err, "'unloaded' line")
    check("kshim: seed " in r.err, "the seed is printed")
    check("LEAK" not in r.err and "FAIL" not in r.err, "no leak, no failure")
    check("timeout of" not in r.err, "the --timeout did not end the run")


def case_name(probe):
    r = Run([probe, "--name", "other.svc", "--until", "hello", "--verbose"])
    check(r.rc == 0, "exit 0")
    check("probe: other.svc loaded mode=hello\n" in r.out, "--name sets the service name")
    check("probe: other.svc no Parameters key" in r.out,
          "no Parameters key without --param (as under wskrun)")


def case_timeout(probe):
    r = Run([probe, "--timeout", "0.5"])
    check(r.rc == 0, "without --until the timeout is a normal end: exit 0")
    check("hostrun: timeout of 0.5 s reached" in r.err, "'timeout reached' line")
    check("probe: wskrun-probe unloaded" in r.out, "unloaded at the timeout")


def case_until_nomatch(probe):
    r = Run([probe, "--until", "never printed", "--timeout", "1"])
    check(r.rc == 1, "exit 1")
    check("hostrun: FAIL: --until 'never printed' never matched (timeout 1 s)" in r.err,
          "FAIL line")
    check("probe: wskrun-probe unloaded" in r.out, "still unloaded")


def case_fail_entry(probe):
    r = Run([probe, "--param", "Mode=fail-entry", "--timeout", "20"])
    check(r.rc == 1, "exit 1")
    check("hostrun: FAIL: wskrun-probe failed to load: DriverEntry returned 0xC0000001" in r.err,
          "FAIL line with the status")
    check("unloading" not in r.out, "no DriverUnload after a failed DriverEntry")
    check("timeout of" not in r.err, "no wait for the timeout")


def case_crash_entry(probe):
    r = Run([probe, "--param", "Mode=crash-entry"])
    check(r.rc not in (0, None), "non-zero exit (%s)" % r.rc)
    check("crashing in DriverEntry now" in r.out, "the log line before the crash")


def case_assert_fails(probe):
    # The host bed's KS_ASSERT failure: a shim violation (exit status 86).
    r = Run([probe, "--param", "Mode=assert-fails", "--timeout", "20"])
    check(r.rc == 86, "exit status 86, a violation (%s)" % r.rc)
    check("kshim: VIOLATION: assertion failed: probe's deliberate assertion" in r.out + r.err,
          "the violation names the assertion")
    check("survived the assertion" not in r.out, "the driver did not go on")


def case_crash_later(probe):
    r = Run([probe, "--param", "Mode=crash-later", "--timeout", "20"])
    check(r.rc not in (0, None), "non-zero exit (%s)" % r.rc)
    check("crashing in a system thread now" in r.out, "the log line before the crash")
    check("timeout of" not in r.err, "the crash ends the run, not the timeout")


def case_hang_unload(probe):
    r = Run([probe, "--param", "Mode=hang-unload", "--timeout", "0.5", "--unload-timeout", "1"])
    check(r.rc == 1, "exit 1")
    check("hostrun: FAIL: wskrun-probe did not unload within 1 s (DriverUnload hangs?)" in r.err,
          "FAIL line")


def case_sigterm(probe):
    r = run_signal(probe, signal.SIGTERM)
    check(r.rc == 128 + signal.SIGTERM, "exit 143")
    check("hostrun: signal %d: unloading wskrun-probe" % signal.SIGTERM in r.err, "signal line")
    check("probe: wskrun-probe unloaded" in r.out, "unloaded before the exit")


def case_sigusr1(probe):
    r = run_signal(probe, signal.SIGUSR1, ["--until", "never printed"])
    check(r.rc == 0, "SIGUSR1 unloads as a --until match would: exit 0")
    check("hostrun: unload requested (SIGUSR1)" in r.err, "request line")
    check("probe: wskrun-probe unloaded" in r.out, "unloaded")


def case_usage(probe):
    for argv, what in (
            (["--timeout", "-1"], "negative timeout"),
            (["--timeout", "x"], "non-numeric timeout"),
            (["--unload-timeout", "0"], "zero unload timeout"),
            (["--param", "novalue"], "--param without '='"),
            (["--param", "=v"], "--param without a name"),
            (["--param", "a\\b=v"], "a value name with '\\'"),
            (["--until", "("], "invalid regex"),
            (["--name", "a/b"], "bad service name"),
            (["--bogus"], "unknown option"),
            (["extra"], "an argument"),
            (["--timeout"], "missing value")):
        r = Run([probe] + argv, bound=10)
        check(r.rc == 2, "usage error (exit 2) for %s" % what)
        check("hostrun: error: " in r.err and r.out == "", "message on stderr, no load (%s)" % what)
    r = Run([probe, "--help"], bound=10)
    check(r.rc == 0 and "Usage:" in r.out, "--help")


class Entry:
    """A case of CASES: its function and ctest's TIMEOUT for it (s; 120
    unless given)."""

    def __init__(self, fn, timeout=120):
        self.fn, self.timeout = fn, timeout


# The one list of the runner's cases (issue 13): tests/wine/suite_host.cmake
# registers hostrun.<case> for each from `hostrun_cases.py --list`.
CASES = {
    "hello": Entry(case_hello),
    "name": Entry(case_name),
    "timeout": Entry(case_timeout),
    "until-nomatch": Entry(case_until_nomatch),
    "fail-entry": Entry(case_fail_entry),
    "crash-entry": Entry(case_crash_entry),
    "assert-fails": Entry(case_assert_fails),
    "crash-later": Entry(case_crash_later),
    "hang-unload": Entry(case_hang_unload),
    "sigterm": Entry(case_sigterm),
    "sigusr1": Entry(case_sigusr1),
    "usage": Entry(case_usage),
}


def main():
    if sys.argv[1:] == ["--list"]:
        for name, entry in CASES.items():
            print("%s %d" % (name, entry.timeout))
        return 0
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        print("usage: hostrun_cases.py PROBE-HOST {%s}" % ",".join(sorted(CASES)),
              file=sys.stderr)
        return 2
    CASES[sys.argv[2]].fn(sys.argv[1])
    print("RESULT %s" % ("fail: " + "; ".join(failures) if failures else "pass"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
