#!/bin/sh
# The LySocket article's drivers, compiled unchanged against compat/, run
# under tools/wskrun: the exchange must happen and both must unload (the
# article's server loops forever on Accept; the compat layer ends that
# thread after WSKCleanup, so its DriverUnload returns).
# Usage: compat_seed.sh WSKRUN SERVER.sys CLIENT.sys
set -u
wskrun=$1 server=$2 client=$3
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
"$wskrun" --timeout 60 --until '=> Hi, lyshark.com B' "$server" "$client" >"$out" 2>"$err"
rc=$?
cat "$out"
cat "$err" >&2
fail=0
[ $rc -eq 0 ] || { echo "FAIL: wskrun exited $rc"; fail=1; }
grep -q '=> hello lyshark.com A' "$out" || { echo "FAIL: server did not print the greeting"; fail=1; }
grep -q '=> Hi, lyshark.com B' "$out" || { echo "FAIL: client did not print the reply"; fail=1; }
grep -q 'unloaded lysocket-server' "$err" || { echo "FAIL: the server did not unload"; fail=1; }
exit $fail
