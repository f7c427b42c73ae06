#!/usr/bin/env python3
"""suite_lists - the one lists of test cases (issue 13) cannot drift.

Usage: suite_lists.py

The ctest test suite_lists. Checks, in this source tree:
  - the drivers' suite: ktest's scenario table (tests/drivers/ktest/ktest.c)
    against the scenarios the cases of tests/wine/wsksuite.py run
    (`wsksuite.py --check-ktest`);
  - the runners' own tests, CASES of tests/wine/wskrun_cases.py
    (wine.wskrun.<case>) and of hostbed/hostrun/hostrun_cases.py
    (hostrun.<case>): each entry names its function (case "a-b" runs
    case_a_b), every case_* function of the file is in CASES once and no
    name is there twice (a dict literal would keep the last silently), the
    script's --list prints CASES (what CMake registers) with a positive
    timeout each, and the Mode parameters the cases pass to the probe driver
    (tests/drivers/wskrun-probe/probe.c) are the modes it has, each run by
    some case.

Exit status 0 when every check passed, 1 otherwise ("suite_lists: FAIL ..."
lines say what).
"""

import ast
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WSKSUITE = os.path.join(ROOT, "tests", "wine", "wsksuite.py")
KTEST_C = os.path.join(ROOT, "tests", "drivers", "ktest", "ktest.c")
PROBE_C = os.path.join(ROOT, "tests", "drivers", "wskrun-probe", "probe.c")
RUNNERS = (os.path.join(ROOT, "tests", "wine", "wskrun_cases.py"),
           os.path.join(ROOT, "hostbed", "hostrun", "hostrun_cases.py"))

failures = []


def fail(msg):
    failures.append(msg)
    print("suite_lists: FAIL " + msg, flush=True)


def rel(path):
    return os.path.relpath(path, ROOT)


def cases_literal(tree, path):
    """(name, function name) for each entry of the module's CASES = {...}
    literal, in its order (duplicates kept)."""
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "CASES"):
            if not isinstance(node.value, ast.Dict):
                break
            entries = []
            for key, value in zip(node.value.keys, node.value.values):
                fn = None
                if (isinstance(value, ast.Call) and value.args
                        and isinstance(value.args[0], ast.Name)):
                    fn = value.args[0].id
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)) or not fn:
                    fail("%s: CASES entry at line %d is not \"<name>\": Entry(case_<name>, ...)"
                         % (rel(path), value.lineno))
                    continue
                entries.append((key.value, fn))
            return entries
    fail("%s: no CASES = {...} literal" % rel(path))
    return []


def check_runner(path, probe_modes):
    with open(path) as f:
        text = f.read()
    tree = ast.parse(text, path)
    defined = [n.name for n in tree.body
               if isinstance(n, ast.FunctionDef) and n.name.startswith("case_")]
    entries = cases_literal(tree, path)
    names = [name for name, _ in entries]
    for name, fn in entries:
        if fn != "case_" + name.replace("-", "_"):
            fail("%s: case '%s' runs %s, not case_%s"
                 % (rel(path), name, fn, name.replace("-", "_")))
    for name in sorted(set(n for n in names if names.count(n) > 1)):
        fail("%s: case '%s' twice in CASES" % (rel(path), name))
    listed_fns = [fn for _, fn in entries]
    for fn in defined:
        if fn not in listed_fns:
            fail("%s: %s is in no entry of CASES (ctest would never run it)" % (rel(path), fn))
    for fn in listed_fns:
        if fn not in defined:
            fail("%s: CASES names %s, which the file does not define" % (rel(path), fn))

    # What CMake reads (tests/wine/case_list.cmake).
    p = subprocess.run([sys.executable, path, "--list"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=30)
    listed = []
    for line in p.stdout.splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9_-]*) ([1-9][0-9]*)$", line)
        if not m:
            fail("%s --list: bad line '%s'" % (rel(path), line))
            continue
        listed.append(m.group(1))
    if p.returncode != 0:
        fail("%s --list: exit status %d" % (rel(path), p.returncode))
    if listed != list(dict.fromkeys(names)):
        fail("%s --list prints %s, CASES holds %s" % (rel(path), listed, names))

    used = set(re.findall(r"\bMode=([A-Za-z0-9_-]+)", text))
    for mode in sorted(used - probe_modes):
        fail("%s: a case passes Mode=%s, which %s does not have"
             % (rel(path), mode, rel(PROBE_C)))
    for mode in sorted(probe_modes - used):
        fail("%s: no case runs the probe's mode '%s' (%s)" % (rel(path), mode, rel(PROBE_C)))
    print("suite_lists: %s: %d cases, %d probe modes run" % (rel(path), len(names), len(used)),
          flush=True)


def main():
    if len(sys.argv) != 1:
        sys.stderr.write(__doc__)
        return 2
    rc = subprocess.call([sys.executable, WSKSUITE, "--check-ktest", KTEST_C], timeout=30)
    if rc != 0:
        fail("wsksuite.py --check-ktest: exit status %d" % rc)
    with open(PROBE_C) as f:
        probe_modes = set(re.findall(r'\bmode_is\("([^"]+)"\)', f.read()))
    if not probe_modes:
        fail("no mode_is(\"...\") in %s" % rel(PROBE_C))
    for path in RUNNERS:
        check_runner(path, probe_modes)
    print("suite_lists: RESULT %s" % ("fail" if failures else "pass"), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
