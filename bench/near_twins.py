"""Where a model's near twins come from: the clusters they form, and in which space they are close.

Part 1's near-twin check counts the fakes that have another fake closer, in the report's feature
space, than the closest pair of distinct reals. This script paints the reals (the sample museum's
painter, the standard held-out seeds 3000-3299 by default) and the model's seeds at psi 1, then
prints:
- the near-twin rate, and a painter's own: a second set of reals (the next seeds) judged by the same
  threshold, the rate a model that paints like the painter would score;
- the twins' clusters (the connected groups of fakes closer than the threshold), largest first;
- how close each twin pair is in w (the style) and in z, as a percentile of all fake pairs: twins
  that are close in w come from the mapping network, twins far apart in w from the synthesis
  network painting different styles alike;
- for each feature block (layout, palette, structure, texture), the twin pairs' median distance as a
  share of all fake pairs' median: the blocks in which the twins are alike.
With --sheet, a picture of the largest clusters, one row each. docs/quality.md has the figures.

    python bench/near_twins.py training/demo/flower-still-life-64.pt flower-still-life --sheet twins.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scraper.samplemuseum.painter import GENRES, paint
from training.engine.checkpoint import load_generator
from training.engine.features import (
    FEATURE_SIZE,
    blocks_uint8,
    embed_uint8,
    pairwise_distances,
    picture_array,
)
from training.engine.generate import generate_images, seed_to_z
from training.engine.quality import near_duplicate_rate, near_duplicate_threshold


def painted(genre: str, start: int, num: int) -> np.ndarray:
    return np.stack([np.asarray(paint(genre, start + i, FEATURE_SIZE)) for i in range(num)])


def clusters(close: np.ndarray) -> list[list[int]]:
    """The connected groups of a symmetric 'closer than the threshold' matrix, largest first."""
    seen: set[int] = set()
    groups = []
    for i in range(close.shape[0]):
        if i in seen or not close[i].any():
            continue
        group, stack = {i}, [i]
        while stack:
            for k in np.nonzero(close[stack.pop()])[0].tolist():
                if k not in group:
                    group.add(k)
                    stack.append(k)
        seen |= group
        groups.append(sorted(group))
    return sorted(groups, key=len, reverse=True)


def percentile_among(values: torch.Tensor, population: torch.Tensor) -> torch.Tensor:
    """Each value's percentile among ``population`` (the share of it that is smaller, in %)."""
    return (population[None, :] < values[:, None]).float().mean(dim=1) * 100


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("genre", choices=GENRES)
    parser.add_argument("--real-start", type=int, default=3000, help="first painter seed of the reals")
    parser.add_argument("--fake-start", type=int, default=0, help="first seed of the model's paintings")
    parser.add_argument("--num", type=int, default=300, help="reals and fakes each (default 300)")
    parser.add_argument("--sheet", type=Path, help="write the largest clusters here, one row each")
    args = parser.parse_args(argv)

    reals = painted(args.genre, args.real_start, args.num)
    threshold = near_duplicate_threshold(embed_uint8(reals))
    second = embed_uint8(painted(args.genre, args.real_start + args.num, args.num))
    G = load_generator(args.checkpoint, "cpu").float()
    if G.mapping.num_classes > 0:
        parser.error(f"{args.checkpoint} is class-conditional; this script reads unconditional models")
    seeds = list(range(args.fake_start, args.fake_start + args.num))
    fakes = np.stack([picture_array(f) for f in generate_images(G, seeds)])
    features = embed_uint8(fakes)

    print(f"{args.checkpoint} ({args.genre}): {args.num} fakes from seed {args.fake_start}, psi 1")
    print(
        f"threshold (closest distinct reals, seeds {args.real_start}-{args.real_start + args.num - 1}): {threshold:.3f}"
    )
    print(
        f"near twins: the model {near_duplicate_rate(features, threshold):.1%}, "
        f"the painter (seeds {args.real_start + args.num}-{args.real_start + 2 * args.num - 1}) "
        f"{near_duplicate_rate(second, threshold):.1%}"
    )

    d = pairwise_distances(features, features)
    d.fill_diagonal_(float("inf"))
    close = (d < threshold).numpy()
    groups = clusters(close)
    print(f"clusters: {len(groups)}, sizes {[len(g) for g in groups]}")
    upper = torch.triu_indices(args.num, args.num, 1)
    twin = torch.from_numpy(close)[upper[0], upper[1]]
    if not twin.any():
        return

    with torch.no_grad():
        z = seed_to_z(seeds, G.z_dim)
        w = G.mapping(z)[:, 0]
    for name, x in (("w", w), ("z", z)):
        all_pairs = pairwise_distances(x, x)[upper[0], upper[1]]
        p = percentile_among(all_pairs[twin], all_pairs)
        print(
            f"twin pairs' distance in {name}, percentile of all pairs: median {p.median():.0f}, "
            f"quartiles {p.quantile(0.25):.0f}-{p.quantile(0.75):.0f} (50 = as far apart as any two)"
        )
    print("twin pairs' median distance / all pairs' median, by block (lower = the twins are alike in it):")
    for name, block in blocks_uint8(fakes).items():
        all_pairs = pairwise_distances(block, block)[upper[0], upper[1]]
        print(f"  {name:<10} {float(all_pairs[twin].median() / all_pairs.median()):.2f}")

    if args.sheet:
        rows, size = groups[:6], 96
        sheet = Image.new("RGB", (8 * size, len(rows) * size), "white")
        for r, group in enumerate(rows):
            for c, i in enumerate(group[:8]):
                sheet.paste(
                    Image.fromarray(fakes[i]).resize((size, size), Image.LANCZOS), (c * size, r * size)
                )
        sheet.save(args.sheet)
        print(f"sheet {args.sheet}: the {len(rows)} largest clusters, at most 8 of each")


if __name__ == "__main__":
    main()
