"""Would ranking a room's paintings by likeness to its collection keep unreadable paintings off
the wall? Each painting's realism score (Kynkaanniemi et al. 2019, "Improved precision and
recall", section 5: the largest ratio, over the real images, of a real image's k-NN radius to
its distance from the painting; the real images with radii above the median count for nothing,
the paper's guard against outliers) in the quality report's feature space, against the
collection a demo room learns from after `make run` (the sample museum's seeds 0..39 of the
genre, and their mirror images, as the room guards compare them).

    python bench/realism_rank.py --genre portrait --checkpoint training/demo/portrait-64.pt
    python bench/realism_rank.py --genre cityscape --checkpoint training/demo/cityscape-64.pt \
        --seeds 30 --spare 6 --sheet /tmp/cityscape-rank.png

Prints the paintings of seeds 0..N-1 (psi 1.0, the demo's) least alike first, and which of them a
room drawing N seeds for N - spare places would leave off; --sheet writes the paintings with
their scores and ranks (the left-off ones in red). Figures for docs/demo.md; nothing is timed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scraper.samplemuseum.painter import paint
from training.engine.checkpoint import load_generator
from training.engine.features import embed_pictures, embed_uint8, pairwise_distances, picture_array
from training.engine.generate import generate_images
from training.engine.quality import PR_K

TILE = 128


def realism_scores(fakes: torch.Tensor, reals: torch.Tensor, mirrored: torch.Tensor, k: int) -> torch.Tensor:
    radii = pairwise_distances(reals, reals).kthvalue(k + 1, dim=1).values  # the 1st is the image itself
    radii = torch.where(radii > radii.median(), torch.zeros_like(radii), radii)
    centres, r = torch.cat([reals, mirrored]), torch.cat([radii, radii])
    return (r[None, :] / (pairwise_distances(fakes, centres) + 1e-5)).max(dim=1).values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--genre", required=True)
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--reals", type=int, default=40, help="the collection: painter seeds 0..N-1")
    parser.add_argument("--seeds", type=int, default=30, help="paintings: seeds 0..N-1")
    parser.add_argument("--spare", type=int, default=6, help="how many of them a room would leave off")
    parser.add_argument("--psi", type=float, default=1.0)
    parser.add_argument("--sheet", type=Path)
    args = parser.parse_args()

    pictures = np.stack([picture_array(paint(args.genre, s, 128).convert("RGB")) for s in range(args.reals)])
    reals = embed_uint8(pictures)
    mirrored = embed_uint8(np.ascontiguousarray(pictures[:, :, ::-1]))
    seeds = list(range(args.seeds))
    images = generate_images(load_generator(args.checkpoint), seeds, psi=args.psi, noise_mode="const")
    scores = realism_scores(embed_pictures(list(images)), reals, mirrored, PR_K)
    order = [int(i) for i in scores.argsort()]
    rank = {i: n for n, i in enumerate(order)}
    print(f"{args.genre}: realism of seeds 0..{args.seeds - 1}, least alike first")
    print("  " + ", ".join(f"{seeds[i]}: {float(scores[i]):.2f}" for i in order))
    print(f"  left off with {args.spare} spare: {sorted(seeds[i] for i in order[: args.spare])}")
    if args.sheet:
        columns = 10
        rows = -(-len(seeds) // columns)
        sheet = Image.new("RGB", (columns * (TILE + 4), rows * (TILE + 22)), "white")
        draw = ImageDraw.Draw(sheet)
        for n, (seed, image) in enumerate(zip(seeds, images, strict=True)):
            x, y = (n % columns) * (TILE + 4), (n // columns) * (TILE + 22)
            sheet.paste(Image.fromarray(image).resize((TILE, TILE), Image.LANCZOS), (x, y))
            left_off = rank[n] < args.spare
            label = f"seed {seed}  {float(scores[n]):.2f}  #{rank[n] + 1}"
            draw.text((x + 2, y + TILE + 4), label, fill=(200, 0, 0) if left_off else (0, 0, 0))
        sheet.save(args.sheet)
        print(f"  sheet: {args.sheet}")


if __name__ == "__main__":
    main()
