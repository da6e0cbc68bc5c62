"""Quality reports and one sample sheet for a folder of demo checkpoints (<genre>-<res>.pt).

Each model is judged by ``training.engine.quality.measure_quality`` against paintings it
never saw (the sample museum's seeds from ``--held-out-start`` on, at the model's size),
with its training pack for the copy check. Until ``python -m training measure`` exists
this is the command that writes the reports of ``bench/gpu_run.sh``.

    python bench/demo_reports.py CKPT_DIR --packs WORK/packs --out reports.json --sheet sheet.png
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scraper.samplemuseum.painter import GENRES, paint
from training.engine.checkpoint import checkpoint_metadata, load_generator
from training.engine.dataset import PackedDataset
from training.engine.generate import generate_images
from training.engine.quality import measure_quality


def held_out(genre: str, size: int, start: int, count: int) -> np.ndarray:
    """Unseen paintings, painted by as many processes as there are CPUs."""
    with ProcessPoolExecutor() as pool:
        images = pool.map(_paint_array, [(genre, start + i, size) for i in range(count)], chunksize=8)
        return np.stack(list(images))


def _paint_array(job: tuple[str, int, int]) -> np.ndarray:
    return np.asarray(paint(*job))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", type=Path, help="folder of <genre>-<res>.pt")
    p.add_argument("--packs", type=Path, help="folder of the training packs <genre>-<res>.pack (copy check)")
    p.add_argument("--held-out", type=int, default=256, help="unseen paintings per genre (default 256)")
    p.add_argument("--held-out-start", type=int, default=100_000, help="their first painter seed")
    p.add_argument("--out", type=Path, required=True, help="reports JSON")
    p.add_argument("--sheet", type=Path, help="sample sheet PNG: one row of 8 per genre")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    reports, rows = {}, []
    for genre in GENRES:
        found = sorted(args.checkpoints.glob(f"{genre}-*.pt"))
        if not found:
            print(f"{genre}: no checkpoint in {args.checkpoints}")
            continue
        path = found[-1]
        G = load_generator(path, device=args.device)
        res = G.img_resolution
        reals = held_out(genre, res, args.held_out_start, args.held_out)
        training = None
        pack = args.packs / f"{genre}-{res}.pack" if args.packs else None
        if pack is not None and pack.is_file():
            ds = PackedDataset(pack)
            idx = np.linspace(0, len(ds) - 1, min(len(ds), 2000)).round().astype(np.int64)
            training = ds.batch(idx)[0]
        meta = checkpoint_metadata(path)
        report = measure_quality(G, reals, training_reals=training, kimg=meta.get("kimg"))
        reports[genre] = {"checkpoint": path.name, "kimg": meta.get("kimg"), **report.to_dict()}
        print(
            f"{genre}: {meta.get('kimg', 0):.1f} kimg, SWD {report.swd:.3f} (floor {report.swd_floor:.3f}), "
            f"precision {report.precision:.2f}, recall {report.recall:.2f}, diversity {report.diversity:.2f}, "
            f"near-duplicates {report.near_duplicate_rate:.2f}, copies {report.copy_rate}: {report.summary()}",
            flush=True,
        )
        rows.append(np.concatenate(list(generate_images(G, list(range(8)), noise_mode="const")), axis=1))
    args.out.write_text(json.dumps(reports, indent=1))
    if args.sheet and rows:
        Image.fromarray(np.concatenate(rows, axis=0)).save(args.sheet)
        print(f"sheet {args.sheet}: {len(rows)} rows of 8")


if __name__ == "__main__":
    main()
