#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Compares ocrpc with its peers (bench/peers: the C++ gRPC async server, the
# guide's Python grpc.aio server untuned and tuned, tess-limit, nghttpd) in
# every scenario, in interleaved rounds, and writes a Markdown report with
# medians and ratios to ocrpc (default bench/RESULTS.md). Into an existing
# report, only its own sections are written (title, 1-6, Targets,
# Optimisations, Commands): the ones added by hand or by other benchmarks
# (4b, 7, 8, REST, LLM, overload, TLS, ...) stay as they are
# (bench/peers/tools/report_merge.py).
#
#   bench/compare.sh [--quick] [--only LIST] [--rounds N] [--duration S]
#                    [--idle N] [--out FILE] [--no-build]
#
#   --quick      1 round, 2 s runs, 2000 idle connections: to try it out
#   --only LIST  scenarios, by number or name: 1 mock, 2 open, 3 tess,
#                4 batch, 5 idle, 6 upload (e.g. --only 1,3 or --only idle)
#   --rounds N   rounds (default 3, at least 3 for a real run)
#   --duration S seconds per load run (default 10)
#   --idle N     idle connections in scenario 5 (default 10000)
#   --out FILE   report (default bench/RESULTS.md; build-peers/RESULTS-quick.md
#                with --quick or --only)
#   --no-build   use the existing builds
#
# Builds ocrpc-server and ocrpc-bench in $BENCH_BUILD (default build-bench,
# RelWithDebInfo like `make build`, without tests) and the peers in
# build-peers (bench/peers/build.sh). Run it on an otherwise idle machine:
# the report records the load average before and after.
set -euo pipefail
export COMPARE_CMDLINE="bench/compare.sh $*"
cd "$(dirname "$0")/.."
REPO=$(pwd)
BUILD=${BENCH_BUILD:-build-bench}
PEERS=${PEERS_BUILD:-build-peers}

quick=0 only="" rounds=3 duration=10 idle=10000 out="" build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --only) only=$2; shift ;;
    --only=*) only=${1#*=} ;;
    --rounds) rounds=$2; shift ;;
    --duration) duration=$2; shift ;;
    --idle) idle=$2; shift ;;
    --out) out=$2; shift ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '3,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$out" ]; then
  if [ $quick = 1 ] || [ -n "$only" ]; then out=$PEERS/RESULTS-quick.md; else out=bench/RESULTS.md; fi
fi

if [ $build = 1 ]; then
  ./scripts/install-deps.sh
  ./scripts/install-bench-deps.sh
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOCRPC_TESTS=OFF >/dev/null
  fi
  cmake --build "$BUILD" -j"$(nproc)" --target ocrpc-server ocrpc-bench
  PEERS_BUILD=$PEERS bench/peers/build.sh
fi
for f in "$BUILD/ocrpc-server" "$BUILD/bench/ocrpc-bench" "$PEERS/cpp/ocrpc-peer-cpp" \
         "$PEERS/tess-limit/tess-limit" "$PEERS/py-aio/ocr_pb2.py" "$PEERS/images/list.txt"; do
  [ -e "$f" ] || { echo "compare: $f is missing (run without --no-build)" >&2; exit 1; }
done
if [ "$(nproc)" -lt 2 ]; then
  echo "compare: needs at least 2 cores (load generator and server are pinned apart)" >&2
  exit 1
fi

# Scenario 5 holds N connections in one process and as many in the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((idle + 500)) ]; then
  echo "compare: ulimit -n is $(ulimit -n), below $((idle + 500)) for $idle idle connections;" \
       "raise the hard limit or pass --idle" >&2
  exit 1
fi

args=(--repo "$REPO" --build "$REPO/$BUILD" --peers "$REPO/$PEERS" --images "$REPO/$PEERS/images"
      --rounds "$rounds" --duration "$duration" --idle "$idle" --out "$out"
      --raw "$REPO/$PEERS/results.jsonl")
[ $quick = 1 ] && args+=(--quick)
[ -n "$only" ] && args+=(--only "$only")
exec /usr/bin/python3 bench/peers/tools/compare.py "${args[@]}"
