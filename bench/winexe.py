#!/usr/bin/env python3
"""winexe - run a user-mode Windows program under Wine in a private prefix.

Usage: bench/winexe.py [--timeout SEC] [--verbose] PROGRAM.exe [ARG...]

The benchmark's counterpart of tools/wskrun for a plain .exe (the Winsock
echo server): the same private copy of wskrun's cached template prefix, so
its own wineserver, and the same cleanup on every exit path (wineserver -k,
the prefix's remaining processes killed by pid, the run directory removed).
It reuses wskrun's Runner for all of that, so the two cannot drift apart.

The program's stdout is passed through; its stderr too, without Wine's own
messages (unless --verbose). Exit status: the program's, 1 if it could not
be run or outlived --timeout (default 3600 s), 128+N when stopped by
signal N (SIGINT, SIGTERM, SIGHUP).
"""

import argparse
import importlib.machinery
import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_wskrun():
    path = os.path.join(ROOT, "tools", "wskrun")
    loader = importlib.machinery.SourceFileLoader("wskrun_module", path)
    spec = importlib.util.spec_from_loader("wskrun_module", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


wskrun = load_wskrun()

# Wine's own lines on stderr (and Debian's note about the missing wine32).
NOISE_RE = re.compile(rb"^(it looks like wine32|multiarch needs|execute \"dpkg|apt-get install wine32)")


class ExeRunner(wskrun.Runner):
    def __init__(self, args):
        args.until = None
        super().__init__(args)
        self.returncode = None

    def pass_stderr(self, f):
        for line in iter(f.readline, b""):
            line = line.rstrip(b"\r\n")
            if self.verbose or not (wskrun.WINE_LINE_RE.match(line) or NOISE_RE.match(line)):
                self.raw_err(line)

    def run(self):
        self.make_prefix()
        env = self.wine_env(self.prefix, "+err" if self.verbose else "-all")
        exe = os.path.abspath(self.args.program)
        self.proc = subprocess.Popen(["wine", exe] + self.args.arguments, cwd=self.run_dir,
                                     env=env, stdin=subprocess.PIPE, stdout=None,
                                     stderr=subprocess.PIPE, start_new_session=True)
        t = threading.Thread(target=self.pass_stderr, args=(self.proc.stderr,), daemon=True)
        t.start()
        self.readers.append(t)
        deadline = time.monotonic() + self.args.timeout
        while True:
            try:
                self.returncode = self.proc.wait(timeout=0.2)
                return
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() >= deadline:
                self.fail("%s still running after %g s" % (self.args.program, self.args.timeout))
                return


def main(argv):
    p = argparse.ArgumentParser(prog="winexe", description=__doc__.split("\n\n")[1])
    p.add_argument("--timeout", type=wskrun.positive_float, default=3600.0, metavar="SEC")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("program", metavar="PROGRAM.exe")
    p.add_argument("arguments", nargs=argparse.REMAINDER, metavar="ARG")
    args = p.parse_args(argv)
    if not os.path.isfile(args.program):
        p.error("no such program: %s" % args.program)
    runner = ExeRunner(args)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, runner.on_signal)
    wskrun.set_subreaper()
    try:
        try:
            runner.run()
        except wskrun.UsageError as e:
            runner.fail(str(e))
        except wskrun.Interrupted as e:
            runner.fail("interrupted by signal %d" % e.signum)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            runner.fail(str(e))
        finally:
            runner.cleanup()
    except wskrun.Interrupted as e:  # a signal between run() and cleanup()
        runner.fail("interrupted by signal %d" % e.signum)
        runner.cleanup()
    if runner.signum is not None:
        return 128 + runner.signum
    if runner.failures:
        return 1
    return runner.returncode if runner.returncode is not None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
