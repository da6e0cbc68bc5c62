#!/usr/bin/env bash
# The GPU training bench of issue 12, within BUDGET seconds (default 175) on one H200: each
# configuration's figures (img/s, peak memory, warm-up time) as one JSON line, the sync-debug
# check and a kernel-time profile of the main ones, then variants with what is left.
#   bash bench/gpu_bench.sh WORKDIR            (WORKDIR gets bench.jsonl and profile.txt)
#   DRY_RUN=1 bash bench/gpu_bench.sh WORKDIR  (the same on the CPU at tiny sizes)
# On 2026-12-04 big-ada did not fit in 75 s (start, cuDNN's kernel timing, 20 steps), the demo
# networks took 11-21 s to warm up: the first three get the budget, the rest what is left.
# Configurations, in order (a configuration that is not reached is said, never guessed):
#   big-ada      256 px, channel base 16384, max 512, z/w 512, mapping 8, batch 32, ADA p 0.5 (target >= 250 img/s)
#   demo128-ada  the shipped demo models' network: 128 px, base 4096, max 128, z/w 256, mapping 4, batch 32
#   demo-ada     the first demo network: 64 px, base 8192, max 128, z/w 256, mapping 4, batch 32 (target >= 1000 img/s)
#   demo-ada-heuristic (cuDNN's heuristics, no autotuning), demo-noada, big-ada-channels-last, demo-ada-compile
set -uo pipefail
cd "$(dirname "$0")/.."
work=${1:?usage: gpu_bench.sh WORKDIR}
mkdir -p "$work"
PY=${PY:-python3}
if [ "${DRY_RUN:-0}" = 1 ]; then
  DEVICE=cpu; PRECISION=fp32; BUDGET=${BUDGET:-60}
  BIG=(--resolution 32 --batch 4 --channel-base 512 --channel-max 32 --z-dim 32 --w-dim 32 --mapping-layers 2 --steps 2 --warmup 1)
  D128=(--resolution 32 --batch 4 --channel-base 256 --channel-max 16 --z-dim 32 --w-dim 32 --mapping-layers 2 --steps 2 --warmup 1)
  DEMO=("${D128[@]}")
else
  DEVICE=cuda; PRECISION=bf16; BUDGET=${BUDGET:-175}
  BIG=(--resolution 256 --batch 32 --channel-base 16384 --channel-max 512 --z-dim 512 --w-dim 512 --mapping-layers 8 --steps 16 --warmup 4)
  D128=(--resolution 128 --batch 32 --channel-base 4096 --channel-max 128 --z-dim 256 --w-dim 256 --mapping-layers 4 --steps 32 --warmup 4)
  DEMO=(--resolution 64 --batch 32 --channel-base 8192 --channel-max 128 --z-dim 256 --w-dim 256 --mapping-layers 4 --steps 32 --warmup 4)
fi
end=$(($(date +%s) + BUDGET))
bench() {  # label, timeout, then bench arguments; skipped once the budget is spent
  local label=$1 limit=$2 left=$((end - $(date +%s)))
  shift 2
  if [ "$left" -lt 15 ]; then echo "bench $label: skipped, the bench budget is spent"; return; fi
  [ "$left" -lt "$limit" ] && limit=$left
  echo "== bench $label (at most $limit s)"
  timeout "$limit" "$PY" bench/training_throughput.py --device "$DEVICE" --precision "$PRECISION" \
    --label "$label" --json "$work/bench.jsonl" "$@" || echo "bench $label: exit $? (timeout is 124)"
}
CHECKS=(--sync-debug --profile "$work/profile.txt")
bench big-ada 100 "${BIG[@]}" --ada-p 0.5 "${CHECKS[@]}"
bench demo128-ada 45 "${D128[@]}" --ada-p 0.5 "${CHECKS[@]}"
bench demo-ada 35 "${DEMO[@]}" --ada-p 0.5 --sync-debug
bench demo-ada-heuristic 30 "${DEMO[@]}" --ada-p 0.5 --no-cudnn-benchmark
bench demo-noada 30 "${DEMO[@]}" --no-ada
bench big-ada-channels-last 40 "${BIG[@]}" --ada-p 0.5 --channels-last
bench demo-ada-compile 120 "${DEMO[@]}" --ada-p 0.5 --compile
