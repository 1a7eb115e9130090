#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Quality on the shared corpus (../shared/corpus/real): CER per image of
# ocrpc's automatic page segmentation against PSM 3 and PSM 6 forced, at
# the default threshold, as a Markdown table (bench/RESULTS.md section 7).
# CER = Levenshtein distance over the texts without white space, divided by
# the ground truth's length (bench/cer.py). Needs the release tree (make build).
#   bench/quality.sh [CORPUS_DIR] [BUILD_DIR]
set -euo pipefail
CORPUS=${1:-../shared/corpus/real}
BUILD=${2:-build}
EVAL=$BUILD/tests/ocr/ocr_eval
ENG=(phototest.tif eurotext.tif 8071_093.3B.tif phototest-rotated-180.png tjs_simple.png
     tjs_simple-90.jpg tjs_simple-180.jpg tjs_simple-270.jpg tjs_cosmic.png tjs_testocr.png
     tjs_escape_chars.png)
KOR=($(cd "$CORPUS" && ls korline_*.png korpage_*.png))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for psm in -1 3 6; do
  "$EVAL" "$CORPUS" eng "$psm" 0.5 "${ENG[@]}" > "$tmp/$psm.tsv"
  "$EVAL" "$CORPUS" kor "$psm" 0.5 "${KOR[@]}" >> "$tmp/$psm.tsv"
done
PYTHONPATH="$(dirname "$0")" /usr/bin/python3 - "$CORPUS" "$tmp" <<'PY'
import re, sys
from cer import cer, read_truth
corpus, tmp = sys.argv[1], sys.argv[2]
def cers(psm):
    out = {}
    for line in open("%s/%s.tsv" % (tmp, psm), encoding="utf-8"):
        f, ms, text, _ = line.rstrip("\n").split("\t")
        base = re.sub(r"(-rotated-(180|L|R)|-(90|180|270))$", "", f.rsplit(".", 1)[0])
        gt = read_truth("%s/%s.txt" % (corpus, base))
        out[f] = (cer(text.replace("\\n", "\n"), gt), int(ms))
    return out
a, p3, p6 = cers(-1), cers(3), cers(6)
print("| image | ocrpc | PSM 3 | PSM 6 | ocrpc ms |")
print("|---|---|---|---|---|")
for f in a:
    print("| %s | %.3f | %.3f | %.3f | %d |" % (f, a[f][0], p3[f][0], p6[f][0], a[f][1]))
PY
