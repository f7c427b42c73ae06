#!/bin/sh
# Builds tests/consumer (add_subdirectory + wsksock_add_driver) in a scratch
# tree, runs the driver (under wskrun, or as consumer-host on the host bed)
# against a native listener, and checks the bytes arrived. Also checks the
# warning options: lax.c warns with NO_WERROR, builds with WARNINGS, and fails
# with the default flags (-Werror -Wmissing-prototypes).
# Usage: run.sh WSKSOCK_DIR                     mingw-w64 toolchain file
#        run.sh WSKSOCK_DIR --host              no toolchain file: the host bed
#        run.sh WSKSOCK_DIR WDK_KM WDK_SHARED   cmake/clang-cl-wdk.cmake against
#                                               those WDK folders; empty: exit 77
#                                               (ctest: skipped)
set -u
src=$1
host=0
suffix=.sys
if [ "${2:-}" = --host ]; then
    host=1
    suffix=-host
    toolchain=""
    set --
elif [ $# -ge 3 ]; then
    if [ ! -f "$2/wdm.h" ] || [ ! -f "$3/ws2def.h" ]; then
        echo "consumer: skipped: no WDK headers (set WDK_KM and WDK_SHARED)"
        exit 77
    fi
    toolchain="-DCMAKE_TOOLCHAIN_FILE=$src/cmake/clang-cl-wdk.cmake"
    set -- "-DWDK_KM=$2" "-DWDK_SHARED=$3"
else
    toolchain="-DCMAKE_TOOLCHAIN_FILE=$src/cmake/mingw-w64.cmake"
    set --
fi
work=$(mktemp -d)
listener=""
trap 'kill $listener 2>/dev/null; rm -rf "$work"' EXIT
cmake -S "$src/tests/consumer" -B "$work/build" -DWSKSOCK_DIR="$src" ${toolchain:+"$toolchain"} "$@" \
    >"$work/configure.log" 2>&1 ||
    { cat "$work/configure.log"; echo "FAIL: configure"; exit 1; }
cmake --build "$work/build" >"$work/build.log" 2>&1 ||
    { cat "$work/build.log"; echo "FAIL: build"; exit 1; }
for d in consumer consumer_nowerror consumer_warnings; do
    [ -f "$work/build/$d$suffix" ] || { echo "FAIL: no $d$suffix"; exit 1; }
done
# NO_WERROR: lax.c's missing prototype is a warning (clang-cl's /W4 has no
# -Wmissing-prototypes); the default flags make it an error.
if [ -z "${toolchain##*mingw*}" ] || [ $host = 1 ]; then
    grep -q 'lax.c.*Wmissing-prototypes' "$work/build.log" ||
        { cat "$work/build.log"; echo "FAIL: no -Wmissing-prototypes warning with NO_WERROR"; exit 1; }
    if cmake --build "$work/build" --target "consumer_strict${suffix%.sys}" >"$work/strict.log" 2>&1; then
        echo "FAIL: consumer_strict built: -Werror not applied by default"; exit 1
    fi
    grep -q 'Werror=missing-prototypes' "$work/strict.log" ||
        { cat "$work/strict.log"; echo "FAIL: consumer_strict failed for another reason"; exit 1; }
    echo "consumer: warning options: NO_WERROR warns, WARNINGS replaces, default -Werror rejects lax.c"
fi
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
if [ $host = 1 ]; then
    "$work/build/consumer-host" --timeout 30 --until 'consumer: result' --param Port="$port" \
        >"$work/log" || { cat "$work/log"; echo "FAIL: consumer-host"; exit 1; }
    toolchain="host bed"
else
    "$src/tools/wskrun" --timeout 30 --until 'consumer: result' --param Port="$port" \
        "$work/build/consumer.sys" >"$work/log" || { cat "$work/log"; echo "FAIL: wskrun"; exit 1; }
fi
cat "$work/log"
wait $listener
grep -q 'consumer: result sent' "$work/log" || { echo "FAIL: driver did not send"; exit 1; }
[ "$(cat "$work/got")" = "hello from consumer" ] || { echo "FAIL: listener got '$(cat "$work/got")'"; exit 1; }
echo "PASS: consumer project built with two lines of CMake (${toolchain##*/}) and talked to a native peer"
