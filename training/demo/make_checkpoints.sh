#!/bin/bash
# Make the demo's four generator checkpoints (training/demo/<genre>-64.pt); see docs/demo.md.
# Every step is the project's own CLI: the sample museum's painter, `python -m training pack`,
# `python -m training train`, then `python -m training.demo.slim` to keep the EMA generator.
#   OUT=training/demo bash training/demo/make_checkpoints.sh          (a GPU: about 6 minutes)
# Env: PY (python), WORK (scratch folder), PER_GENRE (paintings, seeds 0..N-1), KIMG, DEVICE.
set -euo pipefail
PY=${PY:-python3}
WORK=${WORK:-/tmp/demo-ckpt}
OUT=${OUT:-training/demo}
PER_GENRE=${PER_GENRE:-3000}
KIMG=${KIMG:-40}
DEVICE=${DEVICE:-auto}
GENRES="portrait flower-still-life landscape cityscape"
mkdir -p "$WORK/packs" "$WORK/runs" "$OUT"

# 1. The training set: the painter's seeds 0..PER_GENRE-1 of each genre at 64 px.
for g in $GENRES; do
  "$PY" -m scraper.samplemuseum --export "$WORK/data" --per-genre "$PER_GENRE" --size 64 --genres "$g" &
done
wait
for g in $GENRES; do
  "$PY" -m training pack "$WORK/data/$g" --out "$WORK/packs/$g-64.pack" --resolution 64 --no-progress &
done
wait

# 2. One small StyleGAN2 per genre, all four at once (a GPU has room for them).
# ADA is off: its grid_sample has no double backward on CUDA, which lazy R1 needs (engine issue).
pids=()
for g in $GENRES; do
  "$PY" -m training train --data "$WORK/packs/$g-64.pack" --run-dir "$WORK/runs/$g" \
    --resolution 64 --z-dim 256 --w-dim 256 --mapping-layers 4 --channel-base 8192 --channel-max 128 \
    --batch-size 32 --total-kimg "$KIMG" --no-ada --tick-kimg 10 --checkpoint-kimg 10 --keep-checkpoints 2 --mirror --seed 0 \
    --device "$DEVICE" --no-progress > "$WORK/runs/$g.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

# 3. Keep only the EMA generator, in float16: about 4 MB per genre, and the run's
# statistics beside it (manage.py demo imports them, so the run page charts them).
for g in $GENRES; do
  "$PY" -m training.demo.slim "$WORK/runs/$g" "$OUT/$g-64.pt"
  cp "$WORK/runs/$g/stats.jsonl" "$OUT/$g-64.stats.jsonl"
done
