#!/bin/sh
# Builds tests/consumer (add_subdirectory + wsksock_add_driver, with the
# mingw-w64 toolchain file) in a scratch tree, runs the driver under wskrun
# against a native listener, and checks the bytes arrived.
# Usage: run.sh WSKSOCK_DIR
set -u
src=$1
work=$(mktemp -d)
trap 'kill $listener 2>/dev/null; rm -rf "$work"' EXIT
cmake -S "$src/tests/consumer" -B "$work/build" -DWSKSOCK_DIR="$src" \
    -DCMAKE_TOOLCHAIN_FILE="$src/cmake/mingw-w64.cmake" >"$work/configure.log" 2>&1 ||
    { cat "$work/configure.log"; echo "FAIL: configure"; exit 1; }
cmake --build "$work/build" >"$work/build.log" 2>&1 ||
    { cat "$work/build.log"; echo "FAIL: build"; exit 1; }
[ -f "$work/build/consumer.sys" ] || { echo "FAIL: no consumer.sys"; exit 1; }
# A native one-shot listener on a free port; it writes what it received.
python3 - "$work" <<'PY' &
import socket, sys, os
work = sys.argv[1]
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1); l.settimeout(60)
open(os.path.join(work, "port.tmp"), "w").write(str(l.getsockname()[1]))
os.rename(os.path.join(work, "port.tmp"), os.path.join(work, "port"))
c, _ = l.accept(); c.settimeout(30)
data = b""
while True:
    d = c.recv(4096)
    if not d: break
    data += d
open(os.path.join(work, "got"), "wb").write(data)
PY
listener=$!
i=0
while [ ! -f "$work/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
port=$(cat "$work/port") || { echo "FAIL: listener did not start"; exit 1; }
"$src/tools/wskrun" --timeout 30 --until 'consumer: result' --param Port="$port" \
    "$work/build/consumer.sys" >"$work/log" || { cat "$work/log"; echo "FAIL: wskrun"; exit 1; }
cat "$work/log"
wait $listener
grep -q 'consumer: result sent' "$work/log" || { echo "FAIL: driver did not send"; exit 1; }
[ "$(cat "$work/got")" = "hello from consumer" ] || { echo "FAIL: listener got '$(cat "$work/got")'"; exit 1; }
echo "PASS: consumer project built with two lines of CMake and talked to a native peer"
