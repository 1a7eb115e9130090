#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Renders the benchmark image set into OUT (default build-peers/images), so
# that every server and tess-limit read the very same files. Deterministic
# (fixed texts and fonts, seeded noise) and independent of ../shared/corpus.
# Uses Debian's ImageMagick (/usr/bin/convert, never a wrapper earlier in
# PATH), DejaVu and Nanum fonts, and Debian's /usr/bin/python3.
#
#   eng/line_NN.png   12 English single lines (DejaVu Sans, 32 pt)
#   eng/page_NN.png    4 small English pages (6 lines each)
#   kor/line_NN.png   12 Korean single lines (NanumGothic, 32 pt)
#   list.txt          every image above, one path per line (relative to OUT)
#   list_eng.txt      English images;  list_kor.txt  Korean images
#   batch100.txt      100 English paths cycling through list_eng.txt (batch)
#   big20m.png        a 20 MiB stored PNG of seeded noise (upload scenario)
#   a4/page300.png    an A4 page of 36 English lines (12 pt DejaVu) at 300 DPI
#   a4/page600.png    the same page rendered at 600 DPI (4960 x 7016)
#   a4/photo.png      a "photo" of it: 4000 x 3000 (12 MP), turned 2 degrees,
#                     light falling off to one side, slight blur and noise
#   a4/photo.jpg      the same photo as a phone stores it (JPEG quality 85)
#   a4/truth.txt      the 36 lines of every A4 image (for CER)
#   list_a4.txt       the four A4 images (not in list.txt: the older
#                     scenarios keep their images)
#
# Usage: bench/gen_images.sh [OUT]    (skips files that already exist)
set -euo pipefail

OUT=${1:-build-peers/images}
CONVERT=/usr/bin/convert
DEJAVU=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
NANUM=/usr/share/fonts/truetype/nanum/NanumGothic.ttf
for f in "$CONVERT" "$DEJAVU" "$NANUM"; do
  [ -e "$f" ] || { echo "gen_images: missing $f (run scripts/install-bench-deps.sh)" >&2; exit 1; }
done
mkdir -p "$OUT/eng" "$OUT/kor"

ENG=(
  "Invoice 2024-0173 was issued on 12 March 2024 for a total of 1,284.50 dollars."
  "The committee met on Tuesday to review the budget proposal for next year."
  "Please send all correspondence to support@example.org before Friday."
  "A quiet river winds through the valley, past old stone bridges and fields."
  "Temperature readings rose from 18.4 to 23.9 degrees between noon and three."
  "The quick brown fox jumps over the lazy dog near the riverbank."
  "Shipping address: 221 Baker Street, London NW1 6XE, United Kingdom."
  "Order number 88213 contains four items and ships within two business days."
  "All passengers must present a valid boarding pass at the security gate."
  "The library is open from nine in the morning until six in the evening."
  "Quarterly revenue increased by 7.2 percent compared with the previous year."
  "Meeting notes: approve the draft, assign reviewers, publish by Monday."
)
KOR=(
  "오늘 오후 세 시에 회의실에서 예산 검토 회의가 열립니다."
  "서울의 아침 기온은 영하 2도까지 내려가겠으며 낮에는 맑겠습니다."
  "주문하신 상품은 내일 오전 중으로 배송될 예정입니다."
  "이 문서는 개인정보를 포함하고 있으므로 안전하게 보관하시기 바랍니다."
  "도서관은 평일 오전 9시부터 오후 6시까지 운영합니다."
  "고객센터 상담 시간은 월요일부터 금요일까지입니다."
  "계약서 사본을 첨부하오니 확인 후 서명하여 주십시오."
  "다음 주 화요일까지 보고서를 제출해 주시기 바랍니다."
  "지하철 2호선 강남역에서 내려 3번 출구로 나오세요."
  "본 제품의 보증 기간은 구입일로부터 1년입니다."
  "회원 가입을 환영합니다. 비밀번호를 안전하게 관리하세요."
  "이번 분기 매출은 전년 대비 7퍼센트 증가했습니다."
)

render_line() { # font text out
  [ -e "$3" ] && return 0
  "$CONVERT" -background white -fill black -font "$1" -pointsize 32 \
    label:"$2" -bordercolor white -border 24 -colorspace Gray -depth 8 "$3"
}

i=0
for t in "${ENG[@]}"; do
  render_line "$DEJAVU" "$t" "$OUT/eng/line_$(printf %02d $i).png"; i=$((i + 1))
done
i=0
for t in "${KOR[@]}"; do
  render_line "$NANUM" "$t" "$OUT/kor/line_$(printf %02d $i).png"; i=$((i + 1))
done
for p in 0 1 2 3; do
  f="$OUT/eng/page_$(printf %02d $p).png"
  [ -e "$f" ] && continue
  text=""
  for k in 0 1 2 3 4 5; do
    text+="${ENG[$(((p * 3 + k) % ${#ENG[@]}))]}"$'\n'
  done
  "$CONVERT" -background white -fill black -font "$DEJAVU" -pointsize 24 \
    -interline-spacing 10 label:"$text" -bordercolor white -border 60 \
    -colorspace Gray -depth 8 "$f"
done

# A4 pages: 36 lines, 12 pt, rendered at 300 and 600 DPI (pointsize in
# pixels = 12 pt * DPI / 72), text block placed as on a printed page.
mkdir -p "$OUT/a4"
a4text=""
for k in $(seq 0 35); do
  a4text+="${ENG[$((k % ${#ENG[@]}))]}"$'\n'
done
render_a4() { # dpi out
  [ -e "$2" ] && return 0
  local s=$(($1 / 300))
  "$CONVERT" -size $((2480 * s))x$((3508 * s)) xc:white -fill black -font "$DEJAVU" \
    -pointsize $((50 * s)) -interline-spacing $((22 * s)) \
    -annotate +$((150 * s))+$((250 * s)) "$a4text" -colorspace Gray -depth 8 "$2"
}
render_a4 300 "$OUT/a4/page300.png"
render_a4 600 "$OUT/a4/page600.png"
if [ ! -e "$OUT/a4/photo.png" ]; then
  # The 600 DPI page, turned slightly, on a 12 MP frame with light that
  # falls off to the right, a little blur and seeded noise.
  "$CONVERT" "$OUT/a4/page600.png" -resize 3000x3000 -background white -rotate 2 \
    -gravity center -extent 4000x3000 \
    \( -size 3000x4000 gradient:white-gray60 -rotate 90 \) -compose multiply -composite \
    -blur 0x1 -seed 7 -attenuate 0.3 +noise Gaussian -colorspace Gray -depth 8 \
    "$OUT/a4/photo.png"
fi

[ -e "$OUT/a4/photo.jpg" ] ||
  "$CONVERT" "$OUT/a4/photo.png" -quality 85 -sampling-factor 2x2 "$OUT/a4/photo.jpg"
printf '%s' "$a4text" > "$OUT/a4/truth.txt"

(cd "$OUT" && ls a4/*.png a4/*.jpg | LC_ALL=C sort > list_a4.txt)
(cd "$OUT" && ls eng/*.png | LC_ALL=C sort > list_eng.txt &&
  ls kor/*.png | LC_ALL=C sort > list_kor.txt &&
  cat list_eng.txt list_kor.txt > list.txt)
n=$(wc -l < "$OUT/list.txt")
ne=$(wc -l < "$OUT/list_eng.txt")
for i in $(seq 0 99); do
  sed -n "$((i % ne + 1))p" "$OUT/list_eng.txt"
done > "$OUT/batch100.txt"

# 20 MiB: a stored (uncompressed) RGB PNG of seeded random bytes, 2048 x
# 3413 px, written with Debian's python3 (zlib level 0, no PIL needed).
if [ ! -e "$OUT/big20m.png" ]; then
  /usr/bin/python3 - "$OUT/big20m.png.tmp" <<'PY'
import random, struct, sys, zlib
w, h = 2048, 3413
rnd = random.Random(42)
raw = b"".join(b"\0" + rnd.randbytes(w * 3) for _ in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
with open(sys.argv[1], "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b""))
PY
  mv "$OUT/big20m.png.tmp" "$OUT/big20m.png"
fi
echo "gen_images: $n images in $OUT ($(du -h "$OUT/big20m.png" | cut -f1) upload image)" >&2
