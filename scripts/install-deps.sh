#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages ocrpc needs to build, run and test.
# Idempotent: installs only what is missing, so `make run` and `make test`
# can call it every time at the cost of one dpkg query.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libuv1-dev libnghttp2-dev zlib1g-dev
  nanopb libnanopb-dev protobuf-compiler
  libtesseract-dev libleptonica-dev
  tesseract-ocr tesseract-ocr-eng tesseract-ocr-kor tesseract-ocr-osd
  libhiredis-dev redis-server
  libcriterion-dev
  python3 python3-grpcio python3-protobuf protobuf-compiler-grpc
  python3-h2 nghttp2-client
  python3-celery python3-redis
  imagemagick fonts-dejavu-core fonts-nanum
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

"$(dirname "$0")/fetch-nanopb.sh"

