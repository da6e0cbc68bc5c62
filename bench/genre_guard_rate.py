"""How often does the genre guard refuse a genuine painting of its room, and let another
genre's painting hang? On the sample museum's own paintings: each room's collection is the
painter's seeds 0..N-1 of its genre (the collection `make run` crawls, at 128 px), the unseen
paintings seeds N..N+U-1 of every genre. Prints, per room, the threshold and both rates for the
guard's threshold (the collection's highest genre ratio, each image measured against the centre it
is part of: ``gallery.genre_guard.room_threshold``) and for a leave-one-out one (each image measured
against its room's centre without it, as a painting the collection never held: n / (n - 1) times
its in-sample ratio, since the mean of the other n - 1 lies that much farther from it), with the
spread over blocks of 60 unseen paintings. Figures for docs/demo.md; nothing is timed.

    python bench/genre_guard_rate.py --reals 40 --unseen 600
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gallery.genre_guard import genre_ratios, room_threshold
from scraper.samplemuseum.painter import GENRES, paint
from training.engine.features import embed_uint8, picture_array

BLOCK = 60


def embedded(genre: str, seeds: range) -> np.ndarray:
    return embed_uint8(np.stack([picture_array(paint(genre, s, 128).convert("RGB")) for s in seeds])).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reals", type=int, default=40, help="each room's collection: painter seeds 0..N-1")
    parser.add_argument("--unseen", type=int, default=600, help="unseen paintings per genre")
    args = parser.parse_args()

    collections = {g: embedded(g, range(args.reals)) for g in GENRES}
    unseen = {g: embedded(g, range(args.reals, args.reals + args.unseen)) for g in GENRES}
    centres = np.stack([collections[g].mean(axis=0) for g in GENRES])
    print(
        f"collections: seeds 0..{args.reals - 1}; unseen: seeds {args.reals}..{args.reals + args.unseen - 1}"
    )
    print("  room                threshold      own genre hung (blocks of 60)   other genres refused")
    for own, genre in enumerate(GENRES):
        guard = room_threshold(collections[genre], centres, own)
        n = len(collections[genre])
        left_out = guard * n / (n - 1)
        mine = genre_ratios(unseen[genre], centres, own)[0]
        others = np.concatenate([unseen[g] for g in GENRES if g != genre])
        theirs = genre_ratios(others, centres, own)[0]
        for name, threshold in (("guard", guard), ("left out", left_out)):
            hung = mine <= threshold
            blocks = [hung[i : i + BLOCK].mean() for i in range(0, len(hung), BLOCK)]
            print(
                f"  {genre if name == 'guard' else '':<18} {name:<9} {threshold:.3f}"
                f"   {hung.mean():6.1%} ({min(blocks):.0%}-{max(blocks):.0%})"
                f"          {(theirs > threshold).mean():6.1%}"
            )


if __name__ == "__main__":
    main()
