#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Interleaved A/B rounds of the OCR layer alone (tests/ocr/ocr_bench: one
# warm thread, no RPC) against raw Tesseract (tess-limit -t 1) on one image,
# for a machine shared with other work: each round runs every
# configuration once, so load hits all of them alike; the report gives the
# median of the per-round times. Prints a Markdown table.
#
#   bench/ocr_ab.sh IMAGE [ROUNDS [RUNS]]
#
# ocrpc-before (a build of an earlier commit, optional) is named by
# $OCR_BENCH_BEFORE; ocr_bench by $OCR_BENCH (default build/tests/ocr/
# ocr_bench); tess-limit by $TESS_LIMIT (default build-peers/tess-limit/
# tess-limit). RUNS recognitions per configuration per round (default 2,
# the first of each batch counted too: instances are warmed before).
set -euo pipefail
cd "$(dirname "$0")/.."
img=$(realpath "$1") rounds=${2:-3} runs=${3:-2}
bench=${OCR_BENCH:-build/tests/ocr/ocr_bench}
tl=${TESS_LIMIT:-build-peers/tess-limit/tess-limit}
before=${OCR_BENCH_BEFORE:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "$(basename "$img")" > "$tmp/list"

ms_of() { # ocr_bench output -> median ms of its runs
  awk '/^run /{for(i=1;i<=NF;i++) if($i=="ms") print $(i-1)}' | sort -n |
    awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'
}
for r in $(seq 1 "$rounds"); do
  for angle in 0 1; do
    OCR_BENCH_QUIET=1 "$bench" "$img" eng "$runs" $angle > "$tmp/out"
    echo "ocrpc angle=$angle $(ms_of < "$tmp/out")" >> "$tmp/res"
    grep -m1 '^  decode' "$tmp/out" | sed "s/^/phases angle=$angle:/" >> "$tmp/phases"
    if [ -n "$before" ]; then
      OCR_BENCH_QUIET=1 "$before" "$img" eng "$runs" $angle > "$tmp/out"
      echo "before angle=$angle $(ms_of < "$tmp/out")" >> "$tmp/res"
    fi
  done
  "$tl" -t 1 -n "$runs" --warm 1 --root "$(dirname "$img")" "$tmp/list" > "$tmp/tl"
  /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("tess-limit -", d["p50_ms"])' "$tmp/tl" >> "$tmp/res"
done
echo "| $(basename "$img") | median ms of $rounds rounds | × tess-limit |"
echo "|---|---|---|"
tlm=$(awk '$1=="tess-limit"{print $3}' "$tmp/res" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
for cfg in "tess-limit -" "ocrpc angle=0" "ocrpc angle=1" "before angle=0" "before angle=1"; do
  m=$(awk -v c="$cfg" '$1" "$2==c{print $3}' "$tmp/res" | sort -n | awk '{a[NR]=$1} END{if(NR) print a[int((NR+1)/2)]}')
  [ -n "$m" ] && printf '| %s | %.0f | %.2f |\n' "$cfg" "$m" "$(echo "$m / $tlm" | bc -l)"
done
sort -u "$tmp/phases" | head -4
