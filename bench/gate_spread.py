"""How far part 1's verdict moves with the sample: one checkpoint's quality report on several
sets of generated images, at two sizes of the held-out set, beside the sample collection
measured against itself at the same sizes (what a perfect model scores).

    python bench/gate_spread.py --checkpoint training/demo/portrait-64.pt --genre portrait
    python bench/gate_spread.py --checkpoint A.pt --checkpoint B.pt --genre portrait --num 300 1000
    python bench/gate_spread.py --checkpoint training/demo/flower-still-life-64.pt --genre flower-still-life \
        --psi 1 1.2 1.4 --num 300     (each checkpoint painted at each truncation psi, as a room could be)

The held-out reals are the painter's seeds 3000.. (no demo model trained on them, as in
training/demo/measure_checkpoints.sh); fake set k is seeds k x 1 000 000.. (set 1 is the
report's default). No training images are given, so the copy check is left out (every
shipped model copies 0 %: docs/demo.md). Figures for docs/quality.md; nothing is timed.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scraper.samplemuseum.painter import paint
from training.engine.checkpoint import load_generator
from training.engine.quality import FAKE_SEED_BASE, QualityReport, measure_quality

REALS_START = 3000
PAINTER_FAKES = 100_000  # the painter "as a generator" paints these seeds (never a held-out one)


def painted(genre: str, seeds: Iterable[int], size: int) -> np.ndarray:
    return np.stack([np.asarray(paint(genre, s, size).convert("RGB")) for s in seeds])


def row(n: int, name: str, fakes: str, r: QualityReport) -> str:
    failed = ", ".join(r.failed) or "none"
    return (
        f"| {n} | {name} | {fakes} | {r.swd / r.swd_floor:.2f}x | {r.precision:.3f} | {r.recall:.3f} | "
        f"{r.diversity:.2f} | {100 * r.near_duplicate_rate:.1f} % | {failed} |"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", action="append", required=True, help="a generator checkpoint (repeatable)")
    p.add_argument("--genre", required=True, help="the sample collection's genre the checkpoints learned")
    p.add_argument(
        "--num", type=int, nargs="+", default=[300, 1000], help="held-out reals (and fakes) per report"
    )
    p.add_argument(
        "--fake-sets", type=int, default=3, help="sets of generated images per checkpoint and size"
    )
    p.add_argument(
        "--psi",
        type=float,
        nargs="+",
        default=[1.0],
        help="truncation psi to paint with, one or more (each checkpoint at each; above 1 spreads the styles out)",
    )
    p.add_argument("--cutoff", type=int, default=None, help="truncate only the first N ws (default: all)")
    args = p.parse_args()

    generators = {c: load_generator(c, "cpu") for c in args.checkpoint}
    size = next(iter(generators.values())).config.resolution
    print(
        "| reals | generator | fake seeds from | SWD / floor | precision | recall | diversity | near dup. | failed |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in args.num:
        reals = painted(args.genre, range(REALS_START, REALS_START + n), size)

        def painter(seeds, class_idx):  # fakes are asked for from FAKE_SEED_BASE on, maybe in chunks
            return painted(args.genre, (PAINTER_FAKES + s - FAKE_SEED_BASE for s in seeds), size)

        print(
            row(n, "the painter (reals against reals)", f"{PAINTER_FAKES}", measure_quality(painter, reals)),
            flush=True,
        )
        for (path, G), psi in itertools.product(generators.items(), args.psi):
            name = (
                path
                if psi == 1
                else f"{path} at psi {psi:g}" + (f", first {args.cutoff}" if args.cutoff else "")
            )
            passes = 0
            for k in range(1, args.fake_sets + 1):
                r = measure_quality(
                    G, reals, seed_start=k * FAKE_SEED_BASE, psi=psi, truncation_cutoff=args.cutoff
                )
                passes += r.passed
                print(row(n, name, f"{k * FAKE_SEED_BASE:,}", r), flush=True)
            print(f"|  | {name}: passes {passes} of {args.fake_sets} |  |  |  |  |  |  |  |", flush=True)


if __name__ == "__main__":
    main()
