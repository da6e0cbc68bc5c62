"""Would a room look less repetitive if the generation task painted a pool of spare seeds and
hung the 24 most unlike each other? Compares, for one shipped model, the room the task hangs
today (seeds 0, 1, 2, ... in order, skipping near duplicates of a hanging painting) with the
24 chosen from a pool of seeds 0..P-1 by greedy farthest-point choice (each next painting the
one farthest from every painting already chosen), in the quality report's feature space, with
the same near-duplicate threshold (from the collection a demo room learns from after
`make run`: the sample museum's seeds 0..39 of the genre).

    python bench/room_pool.py --genre landscape --checkpoint training/demo/landscape-64.pt \
        --pool 72 --sheet /tmp/landscape-pool.png
    python bench/room_pool.py --genre portrait --checkpoint training/demo/portrait-64.pt \
        --psi 0.5 --cutoff 4 --pool 72

For each room it prints, over its 24 paintings: the feature distance from each painting to its
nearest other (minimum and mean), the same in an 8 x 8 colour-thumbnail space (what a visitor
sees from across the room: where the light and dark masses are and their colours), how many
pairs are closer in that space than the 5th percentile of nearest neighbours in real rooms of
24 (look-alike pairs), and the paintings' realism scores (Kynkaanniemi et al. 2019, as
bench/realism_rank.py: lowest and mean; a farthest-point choice could favour the odd ones).
--sheet writes the rooms one under another. Figures for docs/demo.md; nothing is timed.

The fourth room is the one the generation task hung with the genre guard (gallery/genre_guard.py):
the farthest choice among the pool's paintings that look no more like another room than every
image of the genre's collection does (the four rooms' collections: the painter's seeds 0..39 of
each genre). The paintings it refuses are listed, with the room each looks like. The last room is
the one the task hangs since glances: the same, ranked by ``gallery.mixing.glance_distance`` (the
feature distance or, where smaller, the 8x8 glance distance, each in units of the collection's
median nearest-neighbour distance). Its glances are 8x8 colour thumbnails as the look-alike count's
are (box-filtered from the 64-px picture the feature space takes, where the count's are resized
from the painting directly), so that count no longer measures it from outside: look at the sheet.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from realism_rank import realism_scores
from thumbnail_guard import real_rooms_threshold, thumbnail

from gallery.genre_guard import genre_ratios, room_threshold
from gallery.mixing import glance_distance, most_unlike, typical_nearest
from scraper.samplemuseum.painter import GENRES, paint
from training.engine.checkpoint import load_generator
from training.engine.features import (
    embed_pictures,
    embed_uint8,
    glance_uint8,
    pairwise_distances,
    picture_array,
)
from training.engine.generate import generate_images
from training.engine.quality import PR_K, near_duplicate_threshold

ROOM = 24
TILE = 96


def in_order(d: np.ndarray, threshold: float) -> list[int]:
    """Today's room: paintings in seed order, a near duplicate of a hanging one skipped."""
    return most_unlike(np.full(len(d), np.inf), d, ROOM, threshold, farthest=False)


def farthest(d: np.ndarray, threshold: float) -> list[int]:
    """The pool's room, as the generation task chooses it (``gallery.mixing.most_unlike``)."""
    return most_unlike(np.full(len(d), np.inf), d, ROOM, threshold, farthest=True)


def cover(d: np.ndarray, threshold: float) -> list[int]:
    """The pool's room by coverage (greedy facility location): each time the painting that
    most shortens the pool's distances to their nearest chosen painting, so every region of
    what the model paints gets a representative and a lone odd one covers only itself."""
    chosen: list[int] = []
    nearest = np.full(len(d), d.max() * 2, dtype=d.dtype)
    allowed = np.ones(len(d), dtype=bool)
    while len(chosen) < ROOM and allowed.any():
        gain = np.maximum(nearest[None, :] - d, 0).sum(axis=1)
        gain[~allowed] = -1.0
        k = int(np.argmax(gain))
        chosen.append(k)
        nearest = np.minimum(nearest, d[k])
        allowed &= d[k] >= threshold
        allowed[chosen] = False
    return chosen


def spread(d: np.ndarray, picks: list[int]) -> tuple[float, float]:
    sub = d[np.ix_(picks, picks)].copy()
    np.fill_diagonal(sub, np.inf)
    nn = sub.min(axis=1)
    return float(nn.min()), float(nn.mean())


def close_pairs(d: np.ndarray, picks: list[int], threshold: float) -> list[tuple[int, int]]:
    """The pairs of ``picks`` closer than ``threshold``, as seed pairs."""
    picks = sorted(picks)
    sub = d[np.ix_(picks, picks)]
    rows, cols = np.triu_indices(len(picks), 1)
    return [(picks[r], picks[c]) for r, c in zip(rows, cols, strict=True) if sub[r, c] < threshold]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--genre", required=True)
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--pool", type=int, default=72, help="seeds 0..N-1 the pool paints")
    parser.add_argument("--reals", type=int, default=40, help="the collection: painter seeds 0..N-1")
    parser.add_argument("--psi", type=float, default=1.0)
    parser.add_argument("--cutoff", type=int, default=None, help="truncate only the first N ws (as the room)")
    parser.add_argument("--sheet", type=Path)
    args = parser.parse_args()

    pictures = np.stack([picture_array(paint(args.genre, s, 128).convert("RGB")) for s in range(args.reals)])
    reals = embed_uint8(pictures)
    mirrored = embed_uint8(np.ascontiguousarray(pictures[:, :, ::-1]))
    own = GENRES.index(args.genre)
    collections = [
        reals
        if g == args.genre
        else embed_uint8(
            np.stack([picture_array(paint(g, s, 128).convert("RGB")) for s in range(args.reals)])
        )
        for g in GENRES
    ]
    centres = np.stack([c.numpy().mean(axis=0) for c in collections])
    genre_limit = room_threshold(reals.numpy(), centres, own)
    threshold = float(near_duplicate_threshold(reals))

    # Look-alike threshold in thumbnail space: 5th percentile of nearest neighbours in real rooms of 24.
    look_alike = real_rooms_threshold(args.genre, 8, 5.0)[1]

    images = generate_images(
        load_generator(args.checkpoint),
        list(range(args.pool)),
        psi=args.psi,
        truncation_cutoff=args.cutoff,
        noise_mode="const",
    )
    features = embed_pictures(list(images))
    d = pairwise_distances(features, features).numpy()
    thumbs = np.stack([thumbnail(Image.fromarray(a), 8) for a in images])
    dt = pairwise_distances(torch.from_numpy(thumbs), torch.from_numpy(thumbs)).numpy()
    realism = realism_scores(features, reals, mirrored, PR_K).numpy()
    # What the generation task ranks by since glances: features or, where smaller, 8x8 glances, each in
    # units of the collection's median nearest-neighbour distance (gallery.room_guards._collection).
    glances = glance_uint8(np.stack([picture_array(a) for a in images]))
    real_glances = glance_uint8(pictures)
    unlike = glance_distance(
        d,
        pairwise_distances(glances, glances).numpy(),
        typical_nearest(pairwise_distances(reals, reals).numpy()),
        typical_nearest(pairwise_distances(real_glances, real_glances).numpy()),
    )

    print(
        f"{args.genre}: pool of seeds 0..{args.pool - 1}, psi {args.psi:g}"
        f"{f' (first {args.cutoff} ws)' if args.cutoff else ''}; near-duplicate threshold {threshold:.3f}, "
        f"look-alike (8x8 thumbnails, 5th pct of real rooms) {look_alike:.3f}"
    )
    ratios, looks_like = genre_ratios(features.numpy(), centres, own)
    refused = [i for i in range(args.pool) if ratios[i] > genre_limit]
    print(
        f"  genre guard (ratio above {genre_limit:.3f}) refuses: "
        + (", ".join(f"{i} ({GENRES[looks_like[i]]}, {ratios[i]:.3f})" for i in refused) or "none")
    )
    print(
        "  room         seeds drawn  feat nn min/mean  thumb nn min/mean  look-alike pairs  realism min/mean"
    )
    allowed = np.full(args.pool, np.inf)
    allowed[refused] = -np.inf
    rooms = {
        "in order": in_order(d, threshold),
        "farthest": farthest(d, threshold),
        "cover": cover(d, threshold),
        "genre+far": most_unlike(allowed, d, ROOM, threshold, farthest=True),
        "genre+glance": most_unlike(
            allowed, d, ROOM, threshold, farthest=True, rank=(np.full(args.pool, np.inf), unlike)
        ),
    }
    for name, picks in rooms.items():
        fmin, fmean = spread(d, picks)
        pairs = close_pairs(dt, picks, look_alike)
        tmin, tmean = spread(dt, picks)
        print(
            f"  {name:<12} {max(picks) + 1:>11}  {fmin:7.3f} / {fmean:.3f}  {tmin:8.3f} / {tmean:.3f}"
            f"  {len(pairs):>16}  {realism[picks].min():7.2f} / {realism[picks].mean():.2f}"
        )
        print(f"    seeds: {sorted(picks)}")
        if pairs:
            print("    look-alike pairs: " + ", ".join(f"{a}/{b}" for a, b in pairs))
    if args.sheet:
        columns = 12
        rows_per_room = -(-ROOM // columns)
        sheet = Image.new(
            "RGB", (columns * (TILE + 4), len(rooms) * rows_per_room * (TILE + 4) + len(rooms) * 24), "white"
        )
        draw = ImageDraw.Draw(sheet)
        for r, (name, picks) in enumerate(rooms.items()):
            top = r * (rows_per_room * (TILE + 4) + 24)
            for n, i in enumerate(sorted(picks)):
                x, y = (n % columns) * (TILE + 4), top + (n // columns) * (TILE + 4)
                sheet.paste(Image.fromarray(images[i]).resize((TILE, TILE), Image.LANCZOS), (x, y))
                draw.text((x + 3, y + 2), str(i), fill=(255, 255, 255))
            draw.text((2, top + rows_per_room * (TILE + 4) + 4), f"above: {name}", fill=(0, 0, 0))
        sheet.save(args.sheet)
        print(f"  sheet: {args.sheet}")


if __name__ == "__main__":
    main()
