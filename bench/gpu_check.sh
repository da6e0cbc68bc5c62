#!/usr/bin/env bash
# One short GPU session: the engine on CUDA with mixed precision.
# Prints training and generation throughput at 256 px (full channel widths)
# and runs a short real training + generation through the CLI.
#   bash bench/gpu_check.sh            (OUT=folder for the sample PNGs and stats)
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-check-out}
work=$(mktemp -d)
mkdir -p "$OUT"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"

echo "== training throughput, 256 px, channel_base 16384, channel_max 512"
timeout 60 python3 bench/training_throughput.py --device cuda --precision auto --resolution 256 \
  --batch 32 --channel-base 16384 --channel-max 512 --steps 16 --warmup 4

echo "== generation throughput"
timeout 30 python3 bench/generation_throughput.py --device cuda --precision bf16 --resolution 256 \
  --batch 64 --channel-base 16384 --channel-max 512 --images 512

echo "== short CLI run on CUDA, bf16: pack -> train 2 kimg at 64 px -> generate"
python3 -m scraper.samplemuseum --export "$work/paint" --per-genre 256 --size 64 --genres landscape >/dev/null
python3 -m training pack "$work/paint/landscape" --out "$work/landscape.pack" --resolution 64 --no-progress
timeout 60 python3 -m training train --data "$work/landscape.pack" --run-dir "$work/run" --resolution 64 \
  --channel-base 8192 --channel-max 128 --batch-size 32 --total-kimg 2 --tick-kimg 1 --checkpoint-kimg 1 \
  --device cuda --precision bf16 --no-progress
ckpt=$(ls "$work"/run/checkpoints/*.pt | tail -1)
python3 -m training generate --checkpoint "$ckpt" --seeds 0-15 --device cuda --outdir "$work/gen"
ls "$work/gen" | wc -l
cp "$work/run/stats.jsonl" "$OUT/stats.jsonl"
python3 - "$work/gen" "$OUT/generated.png" <<'PY'
import sys
from pathlib import Path
from PIL import Image
files = sorted(Path(sys.argv[1]).glob("*.png"))
tiles = [Image.open(f) for f in files]
w, h = tiles[0].size
sheet = Image.new("RGB", (w * 8, h * ((len(tiles) + 7) // 8)), "white")
for i, t in enumerate(tiles):
    sheet.paste(t, ((i % 8) * w, (i // 8) * h))
sheet.save(sys.argv[2])
print("sheet", sys.argv[2], len(tiles), "images")
PY
