#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# No pixels the text does not need (issue #18 item 2), side by side in one
# run: the A4 page at 300 and 600 DPI and the 12 MP "photo" (PNG and the
# phone's JPEG) of bench/gen_images.sh, each
#   1. sent as one call to an idle 2-worker ocrpc server (split pages
#      auto, the default) against tess-limit on one thread (the raw API, no
#      network), rounds interleaved, medians: images/s = 1000 / ms;
#   2. read for CER on the same run (Levenshtein over the texts without
#      white space / the truth's length; truth = a4/truth.txt): ocrpc's
#      text through the CLI, tess-limit's every line (--text);
#   3. thread CPU time of ocrpc's critical path (OCR layer alone,
#      tests/ocr/ocr_bench with OCR_BENCH_SPLIT=2: the page's thread with
#      its parts replaced by the busiest worker's) against tess-limit's CPU
#      per image (user+sys of -n 3 minus -n 1, halved): what load changes
#      far less than wall time.
# With SRV_BEFORE (and OB_BEFORE) naming an older build's ocrpc-server (and
# ocr_bench), "ocrpc before" is measured alongside. Prints Markdown. Needs
# `make build` and tess-limit (TESS_LIMIT, default
# build-peers/tess-limit/tess-limit, bench/peers/build.sh).
#
#   bench/scale.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
IMAGES=${IMAGES:-build-peers/images}
mkdir -p "$IMAGES"
# Absolute: ocr_bench reads paths under its image root "/".
IMAGES=$(realpath "$IMAGES")
TL=${TESS_LIMIT:-build-peers/tess-limit/tess-limit}
SRV=build/ocrpc-server BENCH=build/bench/ocrpc-bench CLI=build/src/cli/ocrpc
OB=build/tests/ocr/ocr_bench
PICS=(a4/page300.png a4/page600.png a4/photo.png a4/photo.jpg)
[ -f "$IMAGES/a4/photo.jpg" ] && [ -f "$IMAGES/a4/truth.txt" ] ||
  bench/gen_images.sh "$IMAGES" > /dev/null
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT

. bench/ocr_server_lib.sh
start() { # name server
  server_start "$1" "$2" --port 0 --http-port off --workers 2 --language eng \
    --image-root "$IMAGES" --access-log off
}
one() { one_call "$@"; } # name path -> ms of one call

echo "load before: $(uptime)"
cfgs=(ocrpc)
start ocrpc "$SRV"
if [ -n "${SRV_BEFORE:-}" ]; then
  start before "$SRV_BEFORE"
  cfgs+=(before)
fi
# Warm every worker's engine (a split page's helper loads its own).
for c in "${cfgs[@]}"; do for _ in 1 2 3; do one "$c" a4/page300.png > /dev/null; done; done

# 1. One call at idle, interleaved rounds.
for r in $(seq 1 "$rounds"); do
  for p in "${PICS[@]}"; do
    for c in "${cfgs[@]}"; do
      echo "$c $p $(one "$c" "$p")" >> "$tmp/lat"
    done
    echo "$p" > "$tmp/list"
    "$TL" -t 1 -n 1 --warm 1 --root "$IMAGES" "$tmp/list" |
      /usr/bin/python3 -c 'import json,sys; print("tess-limit", sys.argv[1], json.load(sys.stdin)["p50_ms"])' "$p" >> "$tmp/lat"
  done
done
echo "load after latency rounds: $(uptime)"

# 2. CER, same servers, same images.
mkdir -p "$tmp/text"
printf '%s\n' "${PICS[@]}" > "$tmp/all"
"$TL" -t 1 -n 1 --warm 0 --root "$IMAGES" --text "$tmp/text" "$tmp/all" > /dev/null
for p in "${PICS[@]}"; do
  for c in "${cfgs[@]}"; do
    "$CLI" -s "localhost:$(cat "$tmp/$c.port")" --json extract --language eng "$IMAGES/$p" |
      /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get("text", ""))' \
        > "$tmp/text/$c-$(basename "$p").txt" || true
  done
done

# 3. Critical-path CPU time, interleaved rounds.
for r in $(seq 1 "$rounds"); do
  for p in "${PICS[@]}"; do
    OCR_BENCH_QUIET=1 OCR_BENCH_SPLIT=2 "$OB" "$IMAGES/$p" eng 1 |
      awk -v p="$p" '/critical/{print "ocrpc", p, $4}' >> "$tmp/cpu"
    if [ -n "${OB_BEFORE:-}" ]; then
      OCR_BENCH_QUIET=1 OCR_BENCH_SPLIT=2 "$OB_BEFORE" "$IMAGES/$p" eng 1 |
        awk -v p="$p" '/critical/{print "before", p, $4}' >> "$tmp/cpu"
    fi
    echo "$p" > "$tmp/list"
    for n in 1 3; do
      /usr/bin/time -f "%U %S" -o "$tmp/time$n" "$TL" -t 1 -n "$n" --warm 0 --root "$IMAGES" \
        "$tmp/list" > /dev/null
    done
    echo "tess-limit $p $(awk 'NR==FNR{a=$1+$2; next} {print (($1+$2) - a) * 1000 / 2}' "$tmp/time1" "$tmp/time3")" >> "$tmp/cpu"
  done
done

PYTHONPATH=bench /usr/bin/python3 - "$tmp" "$IMAGES" "$rounds" "${cfgs[*]}" "${PICS[@]}" <<'PY'
import os, statistics, sys
from cer import cer as cer_of
tmp, images, rounds, cfgs, pics = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(), sys.argv[5:]
truth = open(os.path.join(images, "a4/truth.txt")).read()
def cer(name):
    try:
        return cer_of(open(os.path.join(tmp, "text", name)).read(), truth)
    except OSError:
        return float("nan")
def table(path):
    d = {}
    for line in open(path):
        who, p, v = line.split()
        d.setdefault((who, p), []).append(float(v))
    return {k: statistics.median(v) for k, v in d.items()}
lat, cpu = table(os.path.join(tmp, "lat")), table(os.path.join(tmp, "cpu"))
names = ["tess-limit"] + ["ocrpc" if c == "ocrpc" else "ocrpc before" for c in cfgs]
keys = ["tess-limit"] + cfgs
print()
print("| image (one call at idle, %s rounds, medians) | %s | %s |" % (
    rounds, " | ".join("%s img/s" % n for n in names), " | ".join("CER %s" % n for n in names)))
print("|---" * (1 + 2 * len(names)) + "|")
for p in pics:
    ips = []
    for k in keys:
        ms = lat.get((k, p))
        ips.append("%.3f" % (1000 / ms) if ms else "?")
        if k != "tess-limit" and ms and lat.get(("tess-limit", p)):
            ips[-1] += " (%.2fx)" % (lat[("tess-limit", p)] / ms)
    cers = ["%.4f" % cer(os.path.basename(p) + ".txt")]
    cers += ["%.4f" % cer("%s-%s.txt" % (c, os.path.basename(p))) for c in cfgs]
    print("| %s | %s | %s |" % (p, " | ".join(ips), " | ".join(cers)))
cw = ["tess-limit", "ocrpc"] + (["before"] if any(k[0] == "before" for k in cpu) else [])
print()
print("| image, CPU ms per image (critical path, %s rounds, medians) | %s | ocrpc x faster |" % (
    rounds, " | ".join(cw)))
print("|---" * (len(cw) + 2) + "|")
for p in pics:
    row = ["%.0f" % cpu[(w, p)] if (w, p) in cpu else "?" for w in cw]
    f = cpu.get(("tess-limit", p), 0) / cpu[("ocrpc", p)] if cpu.get(("ocrpc", p)) else 0
    print("| %s | %s | %.2f |" % (p, " | ".join(row), f))
PY
echo
echo "load at end: $(uptime)"
