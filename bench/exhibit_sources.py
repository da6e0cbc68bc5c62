"""Do a mixing exhibit's sources look less alike when chosen far apart at a glance as well as by
features? For one shipped model, draws random pools as ``build_mixing_exhibit`` does (4 candidates
per source; 7 sources: 3 rows and 4 columns), chooses the sources by greedy farthest-point choice
in the feature space alone (until 2026-12-06) and by ``gallery.mixing.glance_distance`` in units of
the pool's own median nearest-neighbour distances (built), and prints, averaged over the pools, the
closest pair of the chosen sources at a glance (8x8 colour thumbnails) and by features. Figures for
docs/demo.md; nothing is timed.

    python bench/exhibit_sources.py --genre cityscape --checkpoint training/demo/cityscape-64.pt --pools 15
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gallery.mixing import POOL_FACTOR, farthest_apart, glance_distance, typical_nearest
from training.engine.checkpoint import load_generator
from training.engine.features import embed_uint8, glance_uint8, pairwise_distances, picture_array
from training.engine.generate import generate_images

SOURCES = 3 + 4
MAX_SEED = 2**31 - 1


def closest(d: np.ndarray, picks: list[int]) -> float:
    sub = d[np.ix_(picks, picks)].astype(np.float64)
    np.fill_diagonal(sub, np.inf)
    return float(sub.min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--genre", required=True)
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--pools", type=int, default=15, help="random pools drawn (seeded 0..N-1)")
    parser.add_argument("--psi", type=float, default=1.0)
    parser.add_argument("--cutoff", type=int, default=None, help="truncate only the first N ws (as the room)")
    args = parser.parse_args()

    G = load_generator(args.checkpoint)
    rows = {"features": [], "glance (built)": []}
    for n in range(args.pools):
        pool = random.Random(n).sample(range(MAX_SEED), POOL_FACTOR * SOURCES)
        images = generate_images(G, pool, psi=args.psi, truncation_cutoff=args.cutoff, noise_mode="const")
        pictures = np.stack([picture_array(image) for image in images])
        features, glances = embed_uint8(pictures), glance_uint8(pictures)
        apart = pairwise_distances(features, features).numpy()
        glance_apart = pairwise_distances(glances, glances).numpy()
        unlike = glance_distance(apart, glance_apart, typical_nearest(apart), typical_nearest(glance_apart))
        for name, d in (("features", apart), ("glance (built)", unlike)):
            picks = farthest_apart(d, SOURCES)
            rows[name].append((closest(glance_apart, picks), closest(apart, picks)))
    print(f"{args.genre}: {args.pools} pools of {POOL_FACTOR * SOURCES}, {SOURCES} sources each")
    print("  chosen by          closest pair at a glance   closest pair by features   (means over the pools)")
    for name, values in rows.items():
        v = np.array(values)
        print(f"  {name:<18} {v[:, 0].mean():24.3f} {v[:, 1].mean():26.3f}")


if __name__ == "__main__":
    main()
