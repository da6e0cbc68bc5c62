#!/usr/bin/env bash
# The one prepared GPU run of issues 12 and 13: it ends by END_S (585 s) on one H200, inside the
# device's 10-minute limit, whatever any step does.
#   1. the CUDA check that ADA + lazy R1 train (bench/ada_r1_check.py); if it fails, the demo
#      models train with ADA off rather than crash at their first R1 step;
#   2. the training bench (bench/gpu_bench.sh, BENCH_BUDGET = 175 s in all): 256 px, channel base 16384, max 512,
#      batch 32, ADA on, bf16 (target >= 250 img/s) and the demo network (target >= 1000 img/s),
#      with peak memory, the sync-debug check and a kernel-time profile; channels-last and
#      torch.compile variants with what is left; meanwhile the CPUs paint and pack the sample
#      collection at RES px;
#   3. the four demo models at RES px (default 128; RES=64 trains about 4x the kimg in the same
#      minutes) with training/demo/make_checkpoints.sh, all four at once, for
#      the minutes left before END_S less a reserve for slimming and copying (6 at most),
#      with the GPU's utilisation logged every 2 s;
#   4. if time is left, their quality reports and a sample sheet (bench/demo_reports.py);
#      they are made again off the device in any case (training/demo/measure_checkpoints.sh).
# Writes to $OUT (8 files at most): run.log, results.json, the four <genre>-RES.pt (copied as soon
# as they exist), runs.tar.gz (each run's stats.jsonl, log and sample grids, the bench's profile,
# the GPU log, and under models/ the four .pt files' .json sidecars and .stats.jsonl to ship beside
# them) and, when the reports ran, sheet.png.
#   bash bench/gpu_run.sh                 (on the GPU machine: OUT=... is set there)
#   DRY_RUN=1 bash bench/gpu_run.sh       (the same steps on the CPU at tiny sizes, about two minutes)
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
now() { echo $(($(date +%s) - t0)); }
stamp() { echo "== [$(now) s] $*"; }

if [ "$DRY" = 1 ]; then
  export OMP_NUM_THREADS=1
  DEVICE=cpu; PRECISION=fp32; PER_GENRE=24; RES=32; HELD_OUT=16
  EXTRA="--z-dim 32 --w-dim 32 --mapping-layers 2 --channel-base 256 --channel-max 16 --batch-size 8 --tick-kimg 0.05"
  BENCH_BUDGET=${BENCH_BUDGET:-60}; END_S=${END_S:-150}; MAX_MINUTES=0.3
else
  DEVICE=cuda; PRECISION=bf16; PER_GENRE=${PER_GENRE:-3000}; RES=${RES:-128}; HELD_OUT=256
  EXTRA=""
  BENCH_BUDGET=${BENCH_BUDGET:-175}; END_S=${END_S:-585}; MAX_MINUTES=${MAX_MINUTES:-6}
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
fi
RESERVE_S=45  # after training: the processes' last checkpoints, slimming, copying, the archive
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

stamp "1. ADA + R1 on $DEVICE"
if ! timeout 120 "$PY" bench/ada_r1_check.py --device "$DEVICE" --precision "$PRECISION" --json "$work/check.json"; then
  echo "ADA + R1 failed on $DEVICE: the demo models train with ADA off"
  EXTRA="$EXTRA --no-ada"
fi

# The painter and the packer are CPU work: they overlap the bench.
stamp "sample collection at $RES px, $PER_GENRE per genre (background)"
WORK="$work/demo" PER_GENRE=$PER_GENRE RES=$RES PY=$PY ONLY=data bash training/demo/make_checkpoints.sh \
  > "$work/data.log" 2>&1 &
data_pid=$!

stamp "2. training bench (${BENCH_BUDGET} s: bench/gpu_bench.sh)"
BUDGET=$BENCH_BUDGET PY=$PY bash bench/gpu_bench.sh "$work"

stamp "waiting for the sample collection"
wait "$data_pid" || { echo "painting/packing failed:"; cat "$work/data.log"; }

# Training gets what is left before END_S, less the reserve and about 20 s of process start.
left=$((END_S - RESERVE_S - 20 - $(now)))
MINUTES=$("$PY" -c "print(round(max(0.2, min($MAX_MINUTES, $left / 60)), 2))")
stamp "3. four demo models at $RES px, $MINUTES minutes each (at once)"
if [ "$DRY" != 1 ]; then
  nvidia-smi --query-gpu=timestamp,utilization.gpu,utilization.memory,memory.used,clocks.sm,power.draw \
    --format=csv -l 2 > "$work/gpu-util.csv" 2>&1 &
  smi_pid=$!
fi
WORK="$work/demo" OUT="$work/models" PER_GENRE=$PER_GENRE RES=$RES MINUTES=$MINUTES DEVICE=$DEVICE PY=$PY \
  EXTRA="$EXTRA" bash training/demo/make_checkpoints.sh || echo "make_checkpoints: exit $?"
[ -n "${smi_pid:-}" ] && kill "$smi_pid" 2>/dev/null
cp "$work"/models/*.pt "$OUT"/ 2>/dev/null
for g in portrait flower-still-life landscape cityscape; do
  echo "$g: $(tail -n 1 "$work/demo/runs/$g/stats.jsonl" 2>/dev/null | cut -c1-300)"
done

collect() {
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
  cp "$work/data.log" "$work/profile.txt" "$work/gpu-util.csv" "$work/check.json" "$work/bench.jsonl" \
    "$work/demo/runs/" 2>/dev/null
  # The models' sidecars (SHA-256, config, host) and statistics, to ship beside the .pt files in $OUT.
  mkdir -p "$work/demo/runs/models"
  cp "$work"/models/*.json "$work"/models/*.stats.jsonl "$work/demo/runs/models/" 2>/dev/null
  # Only each run's newest two sample grids travel (a 128-px grid is about 1 MB; $OUT's files are 16 MiB at most).
  for d in "$work"/demo/runs/*/samples; do
    ls "$d"/fakes-*.png 2>/dev/null | sort | head -n -2 | xargs -r rm -f
  done
  tar -czf "$OUT/runs.tar.gz" --exclude='*.pt' -C "$work/demo" runs
}
collect

left=$((END_S - 10 - $(now)))
if [ "$left" -ge 30 ]; then
  stamp "4. quality reports and sample sheet (at most $left s)"
  timeout "$left" "$PY" bench/demo_reports.py "$work/models" --packs "$work/demo/packs" --held-out "$HELD_OUT" \
    --out "$work/reports.json" --sheet "$OUT/sheet.png" --device "$DEVICE" || echo "reports: exit $?"
  collect
else
  stamp "4. no time left for the reports ($left s): measure the models off the device"
fi
stamp "done; in $OUT:"
ls -la "$OUT"
