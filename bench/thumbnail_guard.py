"""Would a variety guard in colour-layout space keep a room's look-alike paintings apart?
Each painting is reduced to an S x S colour thumbnail (box-filtered from 64 px, RGB in 0..1),
the crudest picture of what a visitor sees from across the room: where the light and dark
masses are and their colours. The threshold is taken from the collection: the given percentile
of the distances from each of the painter's paintings to its nearest neighbour among 24
(the collection's seeds 0..479 in rooms of 24), so a room of real paintings would see a pair that
close only that often. The guard hangs seeds 0, 1, 2, ... in order and refuses one closer to a
hanging painting than the threshold, until 24 hang, as the generation task does.

    python bench/thumbnail_guard.py --genre cityscape --checkpoint training/demo/cityscape-64.pt \
        --percentile 5 --sheet /tmp/cityscape-guard.png

Prints the threshold, how many paintings the guard would refuse in real rooms of 24 drawn from
the collection, and which seeds of the model it refuses; --sheet writes seeds 0..47 with the
refused ones framed in red. Figures for docs/demo.md; nothing is timed.
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
from training.engine.features import pairwise_distances
from training.engine.generate import generate_images

ROOM = 24
TILE = 96


def thumbnail(image: Image.Image, size: int) -> np.ndarray:
    small = image.convert("RGB").resize((64, 64), Image.BOX).resize((size, size), Image.BOX)
    return np.asarray(small, dtype=np.float32).ravel() / 255


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return pairwise_distances(torch.from_numpy(a), torch.from_numpy(b)).numpy()


def real_rooms_threshold(genre: str, size: int, percentile: float) -> tuple[np.ndarray, float]:
    """The painter's seeds 0..479 of ``genre`` as thumbnails, and the given percentile of each one's
    distance to its nearest neighbour in its room of 24 (how close a real pair comes that often)."""
    reals = np.stack([thumbnail(paint(genre, s, 64), size) for s in range(20 * ROOM)])
    nearest = []
    for start in range(0, len(reals), ROOM):
        d = distances(reals[start : start + ROOM], reals[start : start + ROOM])
        np.fill_diagonal(d, np.inf)
        nearest += list(d.min(axis=1))
    return reals, float(np.percentile(nearest, percentile))


def hang(thumbs: np.ndarray, threshold: float) -> tuple[list[int], list[int]]:
    """(hung, refused) indices when paintings are hung in order until a room is full."""
    hung: list[int] = []
    refused: list[int] = []
    for i, t in enumerate(thumbs):
        if hung and distances(t[None], thumbs[hung]).min() < threshold:
            refused.append(i)
            continue
        hung.append(i)
        if len(hung) == ROOM:
            break
    return hung, refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--genre", required=True)
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--size", type=int, default=8, help="thumbnail side in px")
    parser.add_argument("--percentile", type=float, default=5.0)
    parser.add_argument("--psi", type=float, default=1.0)
    parser.add_argument("--cutoff", type=int, default=None, help="truncate only the first N ws (as the room)")
    parser.add_argument("--seeds", type=int, default=96, help="seeds 0..N-1 the guard may draw")
    parser.add_argument("--sheet", type=Path)
    args = parser.parse_args()

    reals, threshold = real_rooms_threshold(args.genre, args.size, args.percentile)
    real_refusals = [len(hang(reals[s : s + 2 * ROOM], threshold)[1]) for s in range(0, 18 * ROOM, 2 * ROOM)]

    images = generate_images(
        load_generator(args.checkpoint),
        list(range(args.seeds)),
        psi=args.psi,
        truncation_cutoff=args.cutoff,
        noise_mode="const",
    )
    thumbs = np.stack([thumbnail(Image.fromarray(a), args.size) for a in images])
    hung, refused = hang(thumbs, threshold)
    print(
        f"{args.genre}: {args.size}x{args.size} thumbnails, threshold {threshold:.3f} ({args.percentile:g}th pct)"
    )
    print(f"  real rooms of {ROOM}: refused {real_refusals}")
    full = len(hung) == ROOM
    print(f"  model: refused {refused}; {'drew ' + str(hung[-1] + 1) if full else 'the seeds ran out'}")
    if args.sheet:
        shown = min(48, len(images))
        sheet = Image.new("RGB", (12 * (TILE + 4), -(-shown // 12) * (TILE + 4)), "white")
        draw = ImageDraw.Draw(sheet)
        for i in range(shown):
            x, y = (i % 12) * (TILE + 4), (i // 12) * (TILE + 4)
            sheet.paste(Image.fromarray(images[i]).resize((TILE, TILE), Image.LANCZOS), (x, y))
            if i in refused:
                draw.rectangle([x, y, x + TILE - 1, y + TILE - 1], outline=(220, 0, 0), width=4)
            draw.text((x + 3, y + 2), str(i), fill=(255, 255, 255))
        sheet.save(args.sheet)
        print(f"  sheet: {args.sheet}")


if __name__ == "__main__":
    main()
