#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs ocrpc-bench against a fresh ocrpc-server with the mock engine (the
# RPC path alone) on a free port, then stops the server and prints the CPU
# time both processes used. Usage: bench/run-mock.sh BUILD_DIR [bench args]
# (default args: -c 16 -m 10 -d 10s).
set -eu
build=${1:-build}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- -c 16 -m 10 -d 10s
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
mkfifo "$dir/log"
"$build/ocrpc-server" --engine mock --host 127.0.0.1 --port 0 --http-port off --access-log off \
  --image-root "$dir" 2>"$dir/log" &
pid=$!
# Read the log until the "listening on" line, then keep draining it.
exec 3<"$dir/log"
port=
while IFS= read -r line <&3; do
  echo "$line" >>"$dir/server.log"
  port=$(printf '%s\n' "$line" | sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p')
  [ -z "$port" ] || break
done
cat <&3 >>"$dir/server.log" &
[ -n "$port" ] || { cat "$dir/server.log" >&2; exit 1; }
rc=0
/usr/bin/time -f 'ocrpc-bench: %U s user, %S s system' \
  "$build/bench/ocrpc-bench" -s "127.0.0.1:$port" "$@" || rc=$?
ticks=$(getconf CLK_TCK)
awk -v t="$ticks" '{ printf "ocrpc-server: %.2f s user, %.2f s system\n", $14 / t, $15 / t }' \
  "/proc/$pid/stat"
kill "$pid"
wait "$pid" || true
exit $rc
