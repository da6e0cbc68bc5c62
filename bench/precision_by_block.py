"""Which block of the feature space a model's precision turns on.

Part 1's precision (Kynkäänniemi et al. 2019, k = 3) is computed on the whole feature vector; this
script computes it again on each block alone (layout, palette, structure, texture) and with each
block left out, and prints each block's median k-NN radius among the reals, so a precision of 0
can be told apart from a blind measure. Reals are the sample museum's paintings at 64 px (the
standard held-out seeds 3000-3299 by default); fakes the model's seeds from 0 at psi 1, as the
report paints them. docs/quality.md has the figures of the shipped cityscape and portrait models.

    python bench/precision_by_block.py training/demo/cityscape-64.pt cityscape
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scraper.samplemuseum.painter import GENRES, paint
from training.engine.checkpoint import load_generator
from training.engine.features import FEATURE_SIZE, blocks_uint8, pairwise_distances, picture_array
from training.engine.generate import generate_images
from training.engine.quality import PR_K, precision_recall


def precision(real: torch.Tensor, fake: torch.Tensor) -> tuple[float, float]:
    """The report's precision of ``fake`` against ``real``, and the reals' median k-NN radius."""
    radii = pairwise_distances(real, real).kthvalue(PR_K + 1, dim=1).values
    return precision_recall(real, fake)[0], float(radii.median())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("genre", choices=GENRES)
    parser.add_argument("--real-start", type=int, default=3000, help="first painter seed of the reals")
    parser.add_argument("--num", type=int, default=300, help="reals and fakes each (default 300)")
    parser.add_argument("--psi", type=float, default=1.0)
    args = parser.parse_args(argv)

    reals = np.stack(
        [np.asarray(paint(args.genre, args.real_start + i, FEATURE_SIZE)) for i in range(args.num)]
    )
    G = load_generator(args.checkpoint, "cpu")
    # Sized to 64 px as the rooms' guards size paintings (a no-op for a 64-px model).
    fakes = np.stack([picture_array(f) for f in generate_images(G, list(range(args.num)), psi=args.psi)])
    real_blocks, fake_blocks = blocks_uint8(reals), blocks_uint8(fakes)

    def joined(blocks: dict[str, torch.Tensor], names: list[str]) -> torch.Tensor:
        return F.normalize(torch.cat([blocks[n] for n in names], dim=1), dim=1)

    names = list(real_blocks)
    whole, _ = precision(joined(real_blocks, names), joined(fake_blocks, names))
    print(f"{args.checkpoint} ({args.genre}), {args.num} reals from seed {args.real_start}, psi {args.psi}")
    print(f"precision, all blocks: {whole:.3f}")
    print(f"{'block':<10} {'alone':>6} {'radius':>7} {'left out':>9}")
    for name in names:
        alone, radius = precision(real_blocks[name], fake_blocks[name])
        rest = [n for n in names if n != name]
        left_out, _ = precision(joined(real_blocks, rest), joined(fake_blocks, rest))
        print(f"{name:<10} {alone:6.3f} {radius:7.3f} {left_out:9.3f}")


if __name__ == "__main__":
    main()
