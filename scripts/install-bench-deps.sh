#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages only the benchmarks need (bench/peers,
# bench/compare.sh): the C++ gRPC peer's toolchain, the Python peer's
# Tesseract binding, nghttpd/h2load for the HTTP/2 ceiling, and the usual
# load tools. Idempotent like scripts/install-deps.sh: installs only what is
# missing, at the cost of one dpkg query.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libtesseract-dev libleptonica-dev tesseract-ocr-eng tesseract-ocr-kor
  python3 python3-grpcio python3-protobuf python3-tesserocr python3-pil
  nghttp2-server nghttp2-client
  wrk hyperfine
  imagemagick fonts-dejavu-core fonts-nanum
  procps util-linux
)

"$(dirname "$0")/apt-install.sh" "${PKGS[@]}"
