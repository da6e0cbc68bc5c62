#!/usr/bin/env bash
# The one prepared GPU run of issues 12 and 13: under 10 minutes on one H200.
#   1. the CUDA check that ADA + lazy R1 train (bench/ada_r1_check.py);
#   2. the training bench (at most BENCH_BUDGET = 170 s, each configuration 60 s at most): 256 px, channel base 16384, max 512, batch 32,
#      ADA on, bf16 (target >= 250 img/s) and the demo network (target >= 1000 img/s), with
#      peak memory and the sync-debug check; channels-last and torch.compile variants after;
#      meanwhile the CPUs paint and pack the sample collection at 128 px;
#   3. the four 128-px demo models (training/demo/make_checkpoints.sh, MINUTES of training),
#      their quality reports and a sample sheet (bench/demo_reports.py).
# Writes to $OUT (8 files at most): run.log, results.json, sheet.png, the four <genre>-128.pt
# and runs.tar.gz (each run's stats.jsonl, log and sample grids).
#   bash bench/gpu_run.sh                 (on the GPU machine: OUT=... is set there)
#   DRY_RUN=1 bash bench/gpu_run.sh       (the same steps on the CPU at tiny sizes, about a minute)
set -uo pipefail
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-run-out}
PY=${PY:-python3}
DRY=${DRY_RUN:-0}
mkdir -p "$OUT"
work=$(mktemp -d)
exec > >(tee -a "$OUT/run.log") 2>&1
t0=$(date +%s)
stamp() { echo "== [$(($(date +%s) - t0)) s] $*"; }

if [ "$DRY" = 1 ]; then
  export OMP_NUM_THREADS=1
  DEVICE=cpu; PRECISION=fp32; PER_GENRE=24; RES=32; MINUTES=0.1; HELD_OUT=16
  BIG=(--resolution 32 --batch 4 --channel-base 512 --channel-max 32 --z-dim 32 --mapping-layers 2 --steps 2 --warmup 1)
  DEMO=(--resolution 32 --batch 4 --channel-base 256 --channel-max 16 --z-dim 32 --mapping-layers 2 --steps 2 --warmup 1)
  EXTRA="--z-dim 32 --w-dim 32 --mapping-layers 2 --channel-base 256 --channel-max 16 --batch-size 8 --tick-kimg 0.05"
  BENCH_TIMEOUT=60; BENCH_BUDGET=400
else
  DEVICE=cuda; PRECISION=bf16; PER_GENRE=${PER_GENRE:-2000}; RES=128; MINUTES=${MINUTES:-4}; HELD_OUT=256
  BIG=(--resolution 256 --batch 32 --channel-base 16384 --channel-max 512 --z-dim 512 --mapping-layers 8 --steps 16 --warmup 4)
  DEMO=(--resolution 64 --batch 32 --channel-base 8192 --channel-max 128 --z-dim 256 --mapping-layers 4 --steps 32 --warmup 4)
  EXTRA=""
  BENCH_TIMEOUT=60; BENCH_BUDGET=170
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

stamp "1. ADA + R1 on $DEVICE"
"$PY" bench/ada_r1_check.py --device "$DEVICE" --precision "$PRECISION" --json "$work/check.json"

# The painter and the packer are CPU work: they overlap the bench.
stamp "sample collection at $RES px, $PER_GENRE per genre (background)"
WORK="$work/demo" PER_GENRE=$PER_GENRE RES=$RES PY=$PY ONLY=data bash training/demo/make_checkpoints.sh \
  > "$work/data.log" 2>&1 &
data_pid=$!

stamp "2. training bench"
bench_end=$(($(date +%s) + BENCH_BUDGET))
bench() {  # label, timeout, then bench arguments; skipped once the bench's budget is spent
  local label=$1 limit=$2 left=$((bench_end - $(date +%s)))
  shift 2
  if [ "$left" -lt 20 ]; then echo "bench $label: skipped, the bench budget is spent"; return; fi
  [ "$left" -lt "$limit" ] && limit=$left
  timeout "$limit" "$PY" bench/training_throughput.py --device "$DEVICE" --precision "$PRECISION" \
    --label "$label" --json "$work/bench.jsonl" "$@" || echo "bench $label: exit $? (timeout is 124)"
}
SYNC=()
[ "$DRY" = 1 ] || SYNC=(--sync-debug)
bench big-ada "$BENCH_TIMEOUT" "${BIG[@]}" --ada-p 0.5 "${SYNC[@]}"
bench demo-ada "$BENCH_TIMEOUT" "${DEMO[@]}" --ada-p 0.5 "${SYNC[@]}"
bench demo-noada "$BENCH_TIMEOUT" "${DEMO[@]}" --no-ada
bench big-ada-channels-last "$BENCH_TIMEOUT" "${BIG[@]}" --ada-p 0.5 --channels-last
bench demo-ada-compile "$BENCH_TIMEOUT" "${DEMO[@]}" --ada-p 0.5 --compile

stamp "waiting for the sample collection"
wait "$data_pid" || { echo "painting/packing failed:"; cat "$work/data.log"; }

stamp "3. four demo models at $RES px, $MINUTES minutes each (at once)"
WORK="$work/demo" OUT="$work/models" PER_GENRE=$PER_GENRE RES=$RES MINUTES=$MINUTES DEVICE=$DEVICE PY=$PY \
  EXTRA="$EXTRA" bash training/demo/make_checkpoints.sh || echo "make_checkpoints: exit $?"
for g in portrait flower-still-life landscape cityscape; do
  tail -n 1 "$work/demo/runs/$g/stats.jsonl" 2>/dev/null | cut -c1-300
done

stamp "quality reports and sample sheet"
"$PY" bench/demo_reports.py "$work/models" --packs "$work/demo/packs" --held-out "$HELD_OUT" \
  --out "$work/reports.json" --sheet "$OUT/sheet.png" --device "$DEVICE" || echo "reports: exit $?"

"$PY" - "$work" "$OUT/results.json" <<'PY'
import json, sys
from pathlib import Path
work = Path(sys.argv[1])
def read(name):
    p = work / name
    return json.loads(p.read_text()) if p.is_file() else None
bench = work / "bench.jsonl"
out = {
    "ada_r1_check": read("check.json"),
    "bench": [json.loads(l) for l in bench.read_text().splitlines()] if bench.is_file() else [],
    "demo_reports": read("reports.json"),
    "demo_runs": {},
}
for stats in sorted((work / "demo" / "runs").glob("*/stats.jsonl")):
    lines = [json.loads(l) for l in stats.read_text().splitlines() if l.strip()]
    out["demo_runs"][stats.parent.name] = lines[-1] if lines else None
Path(sys.argv[2]).write_text(json.dumps(out, indent=1))
print("results", sys.argv[2], "bench rows", len(out["bench"]))
PY
cp "$work"/models/*.pt "$OUT"/ 2>/dev/null
cp "$work/data.log" "$work/demo/runs/" 2>/dev/null
tar -czf "$OUT/runs.tar.gz" --exclude='*.pt' -C "$work/demo" runs
stamp "done; in $OUT:"
ls -la "$OUT"
