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
  libhiredis-dev redis-server libssl-dev
  libcriterion-dev
  python3 python3-grpcio python3-protobuf protobuf-compiler-grpc
  python3-h2 nghttp2-client
  python3-celery python3-redis
  imagemagick fonts-dejavu-core fonts-nanum
  libtiff-dev libjpeg-dev libpoppler-cpp-dev libimage-exiftool-perl img2pdf
  libhttp-parser-dev libcjson-dev libcurl4-openssl-dev python3-httpx
  help2man dpkg-dev systemd nginx-light redis-sentinel
  python3-pip python3-setuptools python3-httpx
  uuid-dev prometheus
  libssl-dev openssl curl
)

"$(dirname "$0")/apt-install.sh" "${PKGS[@]}"

"$(dirname "$0")/fetch-nanopb.sh"

