#!/bin/sh
# SPDX-License-Identifier: MIT
# TLS against plaintext on the RPC path alone: h2load (nghttp2-client)
# sends unary ExtractText calls to a mock-engine ocrpc-server, first over
# h2c, then over TLS 1.3 (certificate made here with openssl), with the
# same connections and streams, and prints h2load's request rate and the
# server's CPU time per request for each. With CPP_PEER set to the C++ gRPC
# peer (build-peers/cpp/ocrpc-peer-cpp, `make bench-peers`), the same two
# runs against it follow (1 CQ, the cores ocrpc's loop gets: one).
# Usage: [CPP_PEER=PATH] bench/tls.sh BUILD_DIR [REQUESTS] [CONNECTIONS] [STREAMS]
set -eu
build=${1:-build}
n=${2:-200000}
c=${3:-16}
m=${4:-10}
dir=$(mktemp -d)
pid=
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" \
  -days 1 -subj /CN=localhost 2>/dev/null
# One framed OCRRequest{public_image_path: "a.png"}: the mock answers it.
printf '\000\000\000\000\007\012\005a.png' >"$dir/body"

run() { # $1: label, $2: scheme, then server flags
  label=$1 scheme=$2
  shift 2
  case $label in
  C++*)
    "$CPP_PEER" --engine mock --host 127.0.0.1 --port 0 --workers 1 --cqs 1 \
      --image-root "$dir" "$@" 2>"$dir/log" &
    ;;
  *)
    "$build/ocrpc-server" --engine mock --host 127.0.0.1 --port 0 --workers 1 \
      --image-root "$dir" "$@" 2>"$dir/log" &
    ;;
  esac
  pid=$!
  port=
  while [ -z "$port" ]; do
    kill -0 "$pid" || { cat "$dir/log" >&2; exit 1; }
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/log")
    [ -n "$port" ] || sleep 0.1 # waiting for the server's log line
  done
  t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  out=$(h2load -n "$n" -c "$c" -m "$m" -d "$dir/body" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    "$scheme://127.0.0.1:$port/ocr.OCRService/ExtractText")
  t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill "$pid"
  wait "$pid" || true
  pid=
  rps=$(printf '%s\n' "$out" | sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p')
  ok=$(printf '%s\n' "$out" | sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p')
  tls=$(printf '%s\n' "$out" | sed -n 's/^TLS Protocol: \(.*\)/\1/p')
  cpu=$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$n" \
    'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
  echo "| $label | ${tls:-none} | $c x $m | $n | $ok | $rps | $cpu |"
}

echo "| transport | TLS | connections x streams | requests | 2xx | req/s | server CPU µs/req |"
echo "|---|---|---|---:|---:|---:|---:|"
run "h2c (plaintext)" http
run "TLS" https --tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem"
if [ -n "${CPP_PEER:-}" ]; then
  run "C++ gRPC, h2c" http
  run "C++ gRPC, TLS" https --tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem"
fi
