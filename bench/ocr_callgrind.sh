#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Instructions executed (valgrind callgrind, Ir) by one recognition of one
# image: ocrpc's OCR layer (ocr_bench, collecting inside ocr_engine_run
# only) with use_angle_cls false and true, against raw Tesseract
# (tess-limit, collecting inside its per-image function, built without
# inlining so that the function exists). Instruction counts do not move
# with the load of a shared machine, unlike wall-clock times. Engines are
# initialised outside the measured region in both.
#
#   bench/ocr_callgrind.sh OCR_BENCH TESS_LIMIT_NOINLINE IMAGE ANGLE...
#
# Prints "label Ir" lines: ocrpc-angle=N for each ANGLE, then tess-limit.
set -euo pipefail
bench=$1 tl=$2 img=$(realpath "$3"); shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ir() { awk '/^summary:/{print $2}' "$1"; }
for a in "$@"; do
  OCR_BENCH_QUIET=1 valgrind --tool=callgrind --collect-atstart=no \
    --toggle-collect=ocr_engine_run --callgrind-out-file="$tmp/o$a" \
    "$bench" "$img" eng 1 "$a" > /dev/null 2>&1
  echo "ocrpc-angle=$a $(ir "$tmp/o$a")"
done
echo "$(basename "$img")" > "$tmp/list"
valgrind --tool=callgrind --collect-atstart=no --toggle-collect=process \
  --callgrind-out-file="$tmp/t" "$tl" -t 1 -n 1 --warm 0 --root "$(dirname "$img")" \
  "$tmp/list" > /dev/null 2>&1
echo "tess-limit $(ir "$tmp/t")"
