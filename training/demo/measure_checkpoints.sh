#!/bin/bash
# Measure the four shipped demo checkpoints against the collection they were trained on
# (docs/quality.md shows the output). The training pack is remade exactly as
# make_checkpoints.sh made it (painter seeds 0..2999 at 64 px; its SHA-256 is checked against
# docs/demo.md); the held-out reals are seeds 3000..3299, which no demo model has seen.
#   bash training/demo/measure_checkpoints.sh            (2 CPU cores: about 10 minutes)
# Env: PY (python), WORK (scratch folder), NUM (images per side), OUT (where the reports go),
#      CHECKPOINTS (the folder holding <genre>-64.pt; default training/demo, the shipped ones).
set -euo pipefail
PY=${PY:-python3}
WORK=${WORK:-/tmp/demo-measure}
NUM=${NUM:-300}
OUT=${OUT:-$WORK/reports}
CHECKPOINTS=${CHECKPOINTS:-training/demo}
GENRES=${GENRES:-"portrait flower-still-life landscape cityscape"}
mkdir -p "$WORK/packs" "$OUT"
for g in $GENRES; do
  if [ ! -f "$WORK/packs/$g-64.pack" ]; then
    "$PY" -m scraper.samplemuseum --export "$WORK/data" --per-genre $((3000 + NUM)) --size 64 --genres "$g"
    mkdir -p "$WORK/held-out/$g"
    for seed in $(seq 3000 $((3000 + NUM - 1))); do
      mv "$WORK/data/$g/$(printf %06d "$seed").png" "$WORK/held-out/$g/"
    done
    "$PY" -m training pack "$WORK/data/$g" --out "$WORK/packs/$g-64.pack" --resolution 64 --no-progress
    "$PY" -m training pack "$WORK/held-out/$g" --out "$WORK/packs/$g-held-out-64.pack" --resolution 64 \
      --no-progress
  fi
  expected=$(grep -E "^\| $g \| \`[0-9a-f]{64}\` \|" docs/demo.md | sed -E 's/.*`([0-9a-f]{64})`.*/\1/')
  actual=$(sha256sum "$WORK/packs/$g-64.pack" | cut -d' ' -f1)
  if [ "$expected" != "$actual" ]; then
    echo "warning: $g training pack sha256 $actual differs from docs/demo.md's $expected" >&2
  fi
  "$PY" -m training measure --checkpoint "$CHECKPOINTS/$g-64.pt" --data "$WORK/packs/$g-64.pack" \
    --held-out "$WORK/packs/$g-held-out-64.pack" --num "$NUM" | tee "$OUT/$g.txt"
done
