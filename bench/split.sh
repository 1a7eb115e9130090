#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One page on every idle core (--split-pages, issue #18 item 1), side by
# side in one run on a machine shared with other work: rounds interleave
# every configuration, and the report gives medians of the per-round
# figures.
#   1. latency of one A4 page (bench/gen_images.sh a4/page300.png) sent to
#      an idle server, --workers 1, 2, 4, split auto vs off, against
#      tess-limit's single-thread time on the same file;
#   2. CER of the corpus pages (../shared/corpus) through a 2-worker server,
#      split auto vs off (CER as bench/quality.sh: Levenshtein over the
#      texts without white space / ground truth length, bench/cer.py);
#   3. throughput at saturation (4 calls in flight on 2 workers, A4 pages)
#      split auto vs off;
#   4. thread CPU time of one A4 page's critical path (OCR layer alone,
#      tests/ocr/ocr_bench with OCR_BENCH_SPLIT=W helper threads: the page's
#      own thread with its parts replaced by the busiest worker's), which
#      load changes far less than wall time, against tess-limit's CPU time
#      per page (user+sys of -n 3 minus -n 1, halved).
# Prints Markdown. Needs `make build` and tess-limit (TESS_LIMIT, default
# build-peers/tess-limit/tess-limit, bench/peers/build.sh).
#
#   bench/split.sh [ROUNDS [SATURATION_SECONDS]]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3} satsec=${2:-60}
IMAGES=${IMAGES:-build-peers/images}
mkdir -p "$IMAGES"
# Absolute: ocr_bench reads paths under its image root "/".
IMAGES=$(realpath "$IMAGES")
CORPUS=${CORPUS:-../shared/corpus}
TL=${TESS_LIMIT:-build-peers/tess-limit/tess-limit}
SRV=build/ocrpc-server BENCH=build/bench/ocrpc-bench CLI=build/src/cli/ocrpc
[ -f "$IMAGES/a4/page300.png" ] || bench/gen_images.sh "$IMAGES" >/dev/null
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT

. bench/ocr_server_lib.sh
start() { # name workers split root
  server_start "$1" "$SRV" --port 0 --http-port off --workers "$2" --split-pages "$3" \
    --language eng --image-root "$4" --access-log off
}
one() { one_call "$@"; } # name path -> ms of one call

echo "load before: $(uptime)"
cfgs=()
for w in 1 2 4; do
  for s in auto off; do
    start "w$w-$s" "$w" "$s" "$IMAGES"
    cfgs+=("w$w-$s")
  done
done
# Warm every worker's engine: a split server's helpers load theirs on
# their first part.
for c in "${cfgs[@]}"; do for _ in 1 2 3; do one "$c" a4/page300.png > /dev/null; done; done
echo a4/page300.png > "$tmp/list"
for r in $(seq 1 "$rounds"); do
  for c in "${cfgs[@]}"; do
    echo "$c $(one "$c" a4/page300.png)" >> "$tmp/lat"
  done
  "$TL" -t 1 -n 1 --warm 1 --root "$IMAGES" "$tmp/list" |
    /usr/bin/python3 -c 'import json,sys; print("tess-limit", json.load(sys.stdin)["p50_ms"])' >> "$tmp/lat"
done
echo "load after latency rounds: $(uptime)"
tlm=$(awk '$1=="tess-limit"{print $2}' "$tmp/lat" | median)
echo
echo "| one A4 page at idle ($rounds rounds) | median ms | x tess-limit (1 thread) |"
echo "|---|---|---|"
printf '| tess-limit -t 1 | %.0f | 1.00 |\n' "$tlm"
for c in "${cfgs[@]}"; do
  m=$(awk -v c="$c" '$1==c{print $2}' "$tmp/lat" | median)
  printf '| ocrpc %s | %.0f | %.2f |\n' "$c" "$m" "$(echo "$m / $tlm" | bc -l)"
done

# 2. CER: the corpus pages big enough to be split (>= 0.5 MP), sent inline.
PAGES=(real/phototest.tif real/eurotext.tif real/8071_093.3B.tif real/korpage_12lines.png
       real/tjs_cosmic.png real/tjs_testocr.png synth/variants/eng_a4_page.png
       synth/variants/kor_a4_page.png)
for p in "${PAGES[@]}"; do
  lang=eng; case "$p" in *kor*) lang=kor;; esac
  for s in auto off; do
    "$CLI" -s "localhost:$(cat "$tmp/w2-$s.port")" --json extract --language "$lang" \
      "$CORPUS/$p" > "$tmp/cer-$s-$(basename "$p").json" || true
  done
done
PYTHONPATH=bench /usr/bin/python3 - "$CORPUS" "$tmp" "${PAGES[@]}" <<'PY'
import json, os, sys
from cer import cer, read_truth
corpus, tmp, pages = sys.argv[1], sys.argv[2], sys.argv[3:]
print()
print("| corpus page (2 workers) | parts | CER split auto | CER split off | same text |")
print("|---|---|---|---|---|")
tot = {"auto": [], "off": []}
for p in pages:
    gt = read_truth(os.path.join(corpus, p.rsplit(".", 1)[0] + ".txt"))
    row, texts, parts = {}, {}, "?"
    for s in ("auto", "off"):
        try:
            d = json.load(open("%s/cer-%s-%s.json" % (tmp, s, os.path.basename(p))))
        except Exception:
            d = {}
        t = d.get("text", "")
        texts[s] = t
        row[s] = cer(t, gt)
        tot[s].append(row[s])
        if s == "auto":
            parts = d.get("metadata", {}).get("data", {}).get("parts", "?")
    print("| %s | %s | %.4f | %.4f | %s |" % (p, parts, row["auto"], row["off"],
                                          "yes" if texts["auto"] == texts["off"] else "no"))
print("| mean | | %.4f | %.4f | |" % (sum(tot["auto"]) / len(pages), sum(tot["off"]) / len(pages)))
PY

# 3. Saturation: 4 calls in flight on 2 workers, interleaved rounds.
for r in $(seq 1 2); do
  for s in auto off; do
    "$BENCH" -s "localhost:$(cat "$tmp/w2-$s.port")" --path a4/page300.png --language eng \
      -m 4 -d "${satsec}s" --json --no-progress --timeout 300s |
      /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(sys.argv[1], d["ok"] / d["duration_s"], d["errors"])' "$s" >> "$tmp/sat"
  done
done
echo
echo "| saturation, 2 workers, 4 in flight, ${satsec} s x 2 rounds | pages/s per round | errors |"
echo "|---|---|---|"
for s in auto off; do
  echo "| split $s | $(awk -v s="$s" '$1==s{printf "%.3f ", $2}' "$tmp/sat") | $(awk -v s="$s" '$1==s{e+=$3} END{print e+0}' "$tmp/sat") |"
done

# 4. Critical path CPU time, interleaved rounds.
OB=build/tests/ocr/ocr_bench
for r in $(seq 1 "$rounds"); do
  for w in 1 2 4; do
    OCR_BENCH_QUIET=1 OCR_BENCH_SPLIT=$w "$OB" "$IMAGES/a4/page300.png" eng 1 |
      awk -v w="$w" '/critical/{print "w" w, $4}' >> "$tmp/cpu"
  done
  for n in 1 3; do
    /usr/bin/time -f "%U %S" -o "$tmp/time$n" "$TL" -t 1 -n "$n" --warm 0 --root "$IMAGES" \
      "$tmp/list" > /dev/null
  done
  echo "tess-limit $(awk 'NR==FNR{a=$1+$2; next} {print (($1+$2) - a) * 1000 / 2}' "$tmp/time1" "$tmp/time3")" >> "$tmp/cpu"
done
tlc=$(awk '$1=="tess-limit"{print $2}' "$tmp/cpu" | median)
echo
echo "| A4 page, thread CPU ms of the critical path ($rounds rounds) | median | x tess-limit CPU |"
echo "|---|---|---|"
printf '| tess-limit -t 1 (CPU per page) | %.0f | 1.00 |\n' "$tlc"
for w in 1 2 4; do
  m=$(awk -v c="w$w" '$1==c{print $2}' "$tmp/cpu" | median)
  printf '| ocrpc OCR layer, %d worker(s), split auto | %.0f | %.2f |\n' "$w" "$m" "$(echo "$m / $tlc" | bc -l)"
done
echo
echo "load at end: $(uptime)"
