# SPDX-License-Identifier: MIT
# Shared by bench/split.sh and bench/scale.sh (sourced, not run): start an
# ocrpc server on a free port and wait for it, time one call, take a
# median. Needs $tmp (a scratch directory), the array pids (servers to
# stop on exit) and $BENCH (build/bench/ocrpc-bench) from the caller.

# server_start NAME ARGS...: runs ARGS (a server command line, --port 0)
# with its log in $tmp/NAME.log; once it says where it listens, writes the
# port to $tmp/NAME.port. Exits the script if the server has not said so
# within two minutes (a hang, not a slow start).
server_start() {
  local name=$1 p=""
  shift
  "$@" > "$tmp/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 1200); do
    p=$(grep -o 'listening on [^ ]*:[0-9]*' "$tmp/$name.log" | grep -o '[0-9]*$' | head -1 || true)
    [ -n "$p" ] && break
    sleep 0.1
  done
  [ -n "$p" ] || { echo "server $name did not start" >&2; exit 1; }
  echo "$p" > "$tmp/$name.port"
}

# one_call NAME PATH: prints the milliseconds of one ExtractText call of
# PATH (under the server's image root) to the server NAME.
one_call() {
  "$BENCH" -s "localhost:$(cat "$tmp/$1.port")" --path "$2" --language eng -n 1 --json \
    --no-progress --timeout 300s |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["latency_ms"]["p50"])'
}

# median < numbers, one per line.
median() { sort -n | awk '{a[NR]=$1} END{if(NR) print a[int((NR+1)/2)]}'; }
