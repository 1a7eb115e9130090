#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Server instructions per ExtractText call on the mock engine, counted by
# callgrind: repeatable whatever else the machine is doing (wall-clock
# figures are not). Runs the server twice, with N and 2N requests from
# h2load (nghttp2-client; it only checks HTTP 200, ocrpc-bench checks
# every answer elsewhere), and reports the difference divided by N, so
# start-up and shutdown cancel out.
# Usage: bench/profile-mock.sh [SERVER_BINARY] [N] [SERVER FLAGS...]
# (e.g. --access-log off). The first-bytes and handshake timeouts are
# raised: under callgrind on a loaded machine the server can take longer
# than their defaults (10 s, 20 s) to read h2load's 16 prefaces, and a
# connection closed then fails the run; they are per connection, so the
# count per call is the same.
set -euo pipefail
server=${1:-build/ocrpc-server}
n=${2:-20000}
shift $(( $# < 2 ? $# : 2 ))
flags=("$@")
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

# OCRRequest{private_image_path:"bench.png", language:"english"}, framed.
printf '\x00\x00\x00\x00\x14\x12\x09bench.png\x1a\x07english' > "$work/req.grpc"

count() {  # count REQUESTS -> prints the server's total instructions
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
    "$server" --host 127.0.0.1 --port 0 --http-port off --engine mock --image-root /tmp \
    --http-header-timeout-ms 600000 --handshake-timeout-ms 600000 ${flags[@]+"${flags[@]}"} \
    2> "$work/server.log" &
  pid=$!
  port=
  for _ in $(seq 1 600); do
    port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/server.log" | cut -d: -f2 || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
  h2load -n "$1" -c 16 -m 10 -d "$work/req.grpc" -H 'content-type: application/grpc' \
    -H 'te: trailers' "http://127.0.0.1:$port/ocr.OCRService/ExtractText" |
    grep -q "$1 succeeded" || { echo "h2load: not every request succeeded" >&2; exit 1; }
  kill -TERM "$pid"
  wait "$pid" || true
  grep -E '^summary:|^totals:' "$work/cg.out" | head -1 | awk '{print $2}'
}

one=$(count "$n")
two=$(count $((2 * n)))
echo "$server ${flags[*]}: $(( (two - one) / n )) instructions per ExtractText call (mock engine; N=$n)"
