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
  python3 python3-grpcio python3-protobuf python3-tesserocr
  nghttp2-server nghttp2-client
  wrk hyperfine
  imagemagick fonts-dejavu-core fonts-nanum
  procps util-linux
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-bench-deps: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
