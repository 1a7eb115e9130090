#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the npm packages of tests/node (grpc-js, proto-loader) exactly as
# pinned in tests/node/package-lock.json, into tests/node/node_modules. Runs
# `npm ci` only when node_modules is missing or the lock (or package.json)
# changed since the last install: a hash of both is kept in
# node_modules/.ocrpc-lock.sha256. Quiet unless npm fails.
set -eu

dir="$(cd "$(dirname "$0")/.." && pwd)/tests/node"
stamp="$dir/node_modules/.ocrpc-lock.sha256"

want="$(cat "$dir/package-lock.json" "$dir/package.json" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "install-node-deps: npm not found (install Node.js 20 with npm)" >&2
  exit 1
fi

# Several test runs may start at once in one tree: one installs, the others
# wait for it and then find the stamp.
lock="${TMPDIR:-/tmp}/ocrpc-node-deps-$(printf %s "$dir" | sha256sum | cut -c1-16).lock"
exec 9>"$lock"
flock 9
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
  echo "install-node-deps: npm ci failed in $dir:" >&2
  cat "$log" >&2
  exit 1
fi
printf '%s\n' "$want" >"$stamp"
