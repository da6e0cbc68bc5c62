#!/bin/bash
# Make the demo's four generator checkpoints (OUT/<genre>-RES.pt); see docs/demo.md.
# Every step is the project's own CLI: the sample museum's painter, `python -m training pack`,
# `python -m training train`, then `python -m training.demo.slim` to keep the EMA generator.
#   OUT=training/demo bash training/demo/make_checkpoints.sh          (a GPU: MINUTES of training)
# Env: PY (python), WORK (scratch folder), PER_GENRE (paintings, seeds 0..N-1), RES (64 or 128),
#      KIMG (at most), MINUTES (training time limit of each model; the four train at once),
#      DEVICE, EXTRA (more `train` flags, e.g. the tiny sizes of bench/gpu_run.sh's dry run),
#      ONLY=data (paint and pack only, so a caller can overlap it with GPU work), GENRES (which of the four),
#      HELD_OUT (seeds never trained on, default 3000-3599: the quality report's standard and selection
#      sets; only a PER_GENRE above 3000 paints them, and they are left out of the pack; empty: none).
# The shipped <genre>-64.pt were all trained on a 2-core CPU (exact commands in docs/demo.md):
# portrait GENRES=portrait alone, a wider network and D's minibatch-stddev group over the whole
# batch (--mbstd-group 16), 85 minutes, then resumed to 90 kimg (its 85-kimg checkpoint);
# flower-still-life the same way with --r1-gamma 0.4 (8x the automatic R1 weight), 115 minutes, its last;
# cityscape alone with the same network but group 4 and --r1-gamma 0.4 (which kept it from collapsing),
# 95 minutes, its last; landscape the same with --r1-gamma 0.8 (16x), 108 minutes, then the same
# `train` command resumed for 15 more (--max-minutes 15), its last.
# This script's own default is group 16 since 2026-12-05 (the group-4 runs pass
# --mbstd-group 4 in EXTRA to be made again), and 8x the automatic R1 weight since 2026-12-06
# (R1_GAMMA; an --r1-gamma in EXTRA comes later and wins).
set -euo pipefail
# The whole body is one function, read by bash before it runs: editing this file while a
# run is in progress no longer changes what the running script does next.
main() {
PY=${PY:-python3}
WORK=${WORK:-/tmp/demo-ckpt}
OUT=${OUT:-training/demo}
PER_GENRE=${PER_GENRE:-3000}
RES=${RES:-128}
KIMG=${KIMG:-2000}
MINUTES=${MINUTES:-5}
DEVICE=${DEVICE:-auto}
EXTRA=${EXTRA:-}
HELD_OUT=${HELD_OUT:-3000-3599}
# 8x the ADA paper's automatic R1 weight, 0.0002 * RES^2 / batch, at the batch trained: this script's
# 32 (0.8 at 128 px) or the last --batch-size in EXTRA (0.4096 for the 64-px CPU recipes' batch of 16,
# which pass --r1-gamma 0.4): 8x lowered SWD in all three 64-px CPU rooms tried (docs/demo.md);
# unmeasured at 128 px.
BATCH=$(printf '%s\n' "$EXTRA" | grep -oE -- '--batch-size[= ]+[0-9]+' | grep -oE '[0-9]+$' | tail -n 1 || true)
R1_GAMMA=${R1_GAMMA:-$(awk -v r="$RES" -v b="${BATCH:-32}" 'BEGIN { print 8 * 0.0002 * r * r / b }')}
GENRES=${GENRES:-"portrait flower-still-life landscape cityscape"}
mkdir -p "$WORK/packs" "$WORK/runs" "$OUT"

# 1. The training set: the painter's seeds 0..PER_GENRE-1 of each genre at RES px, less HELD_OUT.
for g in $GENRES; do
  if [ ! -f "$WORK/packs/$g-$RES.pack" ]; then
    ( "$PY" -m scraper.samplemuseum --export "$WORK/data" --per-genre "$PER_GENRE" --size "$RES" --genres "$g" \
      && for s in ${HELD_OUT:+$(seq "${HELD_OUT%-*}" "${HELD_OUT#*-}")}; do rm -f "$WORK/data/$g/$(printf %06d "$s").png"; done \
      && "$PY" -m training pack "$WORK/data/$g" --out "$WORK/packs/$g-$RES.pack" --resolution "$RES" \
           --no-progress ) &
  fi
done
wait
[ "${ONLY:-}" = "data" ] && exit 0

# 2. One small StyleGAN2 per genre, all four at once (a GPU has room for them), ADA on
# (the paintings per genre are a few thousand: ADA is what keeps D from over-fitting them).
# Channel base 4096 at 128 px: 32/64/128 channels at 128/64/<=32 px, 1.9 M generator
# parameters (3.8 MB in float16, so four fit the demo's 20 MB), and 17.7 GFLOP a trained
# image against 47.6 at base 8192: a short GPU window buys 2-3x the kimg, which these
# short runs need more than width. ADA's p may move from 0 to 1 in 100 kimg (the runs are short).
# D's minibatch-stddev over groups of 16, not StyleGAN2's 4: every CPU run with groups of 4
# collapsed as it trained on, and the portrait and flower runs with 16 came back out (docs/demo.md).
pids=()
for g in $GENRES; do
  # shellcheck disable=SC2086  # EXTRA is a list of flags
  "$PY" -m training train --data "$WORK/packs/$g-$RES.pack" --max-minutes "$MINUTES" \
    --run-dir "$WORK/runs/$g" --resolution "$RES" --z-dim 256 --w-dim 256 --mapping-layers 4 --mbstd-group 16 \
    --channel-base 4096 --channel-max 128 --batch-size 32 --total-kimg "$KIMG" --tick-kimg 10 \
    --ada-kimg 100 --checkpoint-kimg 50 --keep-checkpoints 2 --mirror --seed 0 --device "$DEVICE" \
    --r1-gamma "$R1_GAMMA" --no-progress $EXTRA > "$WORK/runs/$g.log" 2>&1 &
  pids+=($!)
done
# One model that fails (its log says why) must not cost the others their checkpoints.
failed=()
i=0
for g in $GENRES; do
  wait "${pids[$i]}" || { failed+=("$g"); echo "training $g failed: $WORK/runs/$g.log" >&2; tail -n 5 "$WORK/runs/$g.log" >&2; }
  i=$((i + 1))
done

# 3. Keep only the EMA generator, in float16, and the run's statistics beside it
# (manage.py demo imports them, so the run page charts them).
for g in $GENRES; do
  if "$PY" -m training.demo.slim "$WORK/runs/$g" "$OUT/$g-$RES.pt"; then
    cp "$WORK/runs/$g/stats.jsonl" "$OUT/$g-$RES.stats.jsonl"
  else
    failed+=("$g (no checkpoint)")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
}
# One line: bash has read it whole before main runs, so it exits without reading on into an edited file.
main "$@"; exit $?
