#!/bin/bash
# Measure the four shipped demo checkpoints against the collection they were trained on
# (docs/quality.md shows the output). The training pack is remade exactly as
# make_checkpoints.sh made it (painter seeds 0..2999 at 64 px; its SHA-256 is checked against
# docs/demo.md); the held-out reals are seeds 3000..3299, which no demo model has seen.
#   bash training/demo/measure_checkpoints.sh            (2 CPU cores: about 10 minutes)
# Env: PY (python), WORK (scratch folder), NUM (images per side), OUT (where the reports go),
#      CHECKPOINTS (the folder holding <genre>-RES.pt; default training/demo, the shipped ones),
#      RES (64, the shipped models' size; 128 for the GPU models of bench/gpu_run.sh: the same
#      seeds painted at that size; only the 64-px packs have a SHA-256 in docs/demo.md to check).
set -euo pipefail
PY=${PY:-python3}
WORK=${WORK:-/tmp/demo-measure}
NUM=${NUM:-300}
OUT=${OUT:-$WORK/reports}
CHECKPOINTS=${CHECKPOINTS:-training/demo}
RES=${RES:-64}
GENRES=${GENRES:-"portrait flower-still-life landscape cityscape"}
mkdir -p "$WORK/packs" "$OUT"
for g in $GENRES; do
  if [ ! -f "$WORK/packs/$g-$RES.pack" ]; then
    "$PY" -m scraper.samplemuseum --export "$WORK/data-$RES" --per-genre $((3000 + NUM)) --size "$RES" --genres "$g"
    rm -rf "$WORK/held-out-$RES/$g"
    mkdir -p "$WORK/held-out-$RES/$g"
    for seed in $(seq 3000 $((3000 + NUM - 1))); do
      mv "$WORK/data-$RES/$g/$(printf %06d "$seed").png" "$WORK/held-out-$RES/$g/"
    done
    "$PY" -m training pack "$WORK/data-$RES/$g" --out "$WORK/packs/$g-$RES.pack" --resolution "$RES" --no-progress
    "$PY" -m training pack "$WORK/held-out-$RES/$g" --out "$WORK/packs/$g-held-out-$RES.pack" --resolution "$RES" \
      --no-progress
  fi
  expected=$(grep -E "^\| $g \| \`[0-9a-f]{64}\` \|" docs/demo.md | sed -E 's/.*`([0-9a-f]{64})`.*/\1/')
  actual=$(sha256sum "$WORK/packs/$g-$RES.pack" | cut -d' ' -f1)
  if [ "$RES" = 64 ] && [ "$expected" != "$actual" ]; then
    echo "warning: $g training pack sha256 $actual differs from docs/demo.md's $expected" >&2
  fi
  "$PY" -m training measure --checkpoint "$CHECKPOINTS/$g-$RES.pt" --data "$WORK/packs/$g-$RES.pack" \
    --held-out "$WORK/packs/$g-held-out-$RES.pack" --num "$NUM" | tee "$OUT/$g.txt"
done
