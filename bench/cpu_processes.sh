#!/usr/bin/env bash
# Does a CPU worker train faster as one process using every core, or as one gloo process per core
# under torchrun (TRAINING_PROCESSES=N, docs/operations-gpu.md)? The real `train` command, the
# 64-px demo recipe, on 400 of the sample museum's flower still lifes, run both ways one after the
# other on the same machine; prints each tick's images per second and the median past the first.
#   bash bench/cpu_processes.sh                 (about 4 minutes on 2 cores; run it alone)
#   CORES=4 KIMG=4 bash bench/cpu_processes.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CORES=${CORES:-$(nproc)}
KIMG=${KIMG:-2.4}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

PYTHONPATH=. "$PY" -c "
from scraper.samplemuseum.painter import paint
for s in range(400):
    paint('flower-still-life', s, 64).convert('RGB').save('$work/img-%06d.png' % s)
"
mkdir -p "$work/img" && mv "$work"/img-*.png "$work/img/"
"$PY" -m training pack "$work/img" --out "$work/flower.pack" --resolution 64 --no-progress > /dev/null

args=(--data "$work/flower.pack" --resolution 64 --channel-base 3072 --channel-max 96 --batch-size 16
  --z-dim 128 --w-dim 128 --mapping-layers 2 --mbstd-group 4 --ada-kimg 100 --r1-gamma 0.8
  --tick-kimg 0.4 --checkpoint-kimg 100 --total-kimg "$KIMG" --device cpu --no-progress)

report() {  # $1: label, $2: run dir, $3: wall seconds
  "$PY" - "$1" "$2" "$3" <<'EOF'
import json, statistics, sys
label, run_dir, wall = sys.argv[1], sys.argv[2], float(sys.argv[3])
rates = [json.loads(line)["images_per_second"] for line in open(f"{run_dir}/stats.jsonl")]
rates = [r for r in rates if r]
print(f"{label}: ticks {', '.join(f'{r:.1f}' for r in rates)} img/s; "
      f"median past the first {statistics.median(rates[1:]):.2f} img/s; wall {wall:.0f} s")
EOF
}

echo "== $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $CORES cores, torch $("$PY" -c 'import torch; print(torch.__version__)')"
start=$SECONDS
OMP_NUM_THREADS=$CORES "$PY" -m training train --run-dir "$work/one" "${args[@]}" > "$work/one.log" 2>&1
report "1 process x $CORES threads" "$work/one" "$((SECONDS - start))"
start=$SECONDS
OMP_NUM_THREADS=1 "$PY" -m torch.distributed.run --standalone --nproc-per-node="$CORES" \
  -m training train --run-dir "$work/many" "${args[@]}" > "$work/many.log" 2>&1
report "$CORES gloo processes x 1 thread" "$work/many" "$((SECONDS - start))"
