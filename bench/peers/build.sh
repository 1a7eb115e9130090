#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the benchmark peers into PEERS_BUILD (default build-peers/):
# the C++ gRPC peer and tess-limit (CMake project bench/peers), the Python
# stubs py-aio uses, and the image set. `make bench-peers` runs this after
# scripts/install-bench-deps.sh; `make test` never does.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${PEERS_BUILD:-build-peers}
JOBS=${JOBS:-$(nproc)}

cmake -S bench/peers -B "$OUT" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$OUT" -j"$JOBS"

mkdir -p "$OUT/py-aio"
protoc -I protos --python_out="$OUT/py-aio" --grpc_python_out="$OUT/py-aio" \
  --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin common.proto ocr.proto

bench/gen_images.sh "$OUT/images"
