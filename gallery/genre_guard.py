"""The genre guard: a painting that looks more like another room than any
image of its own room's collection does is not hung in its room.

Each room's collection (its approved images) is summed up by its centre, the
mean of its feature vectors in the quality report's feature space, which
tells the four demo genres apart (``docs/quality.md``: an unseen painting's
nearest genre centre is its own 94.5 % of the time). A painting's *genre ratio* is its distance to
its room's centre over its distance to the nearest other room's centre: below
1 it is nearer its own room. The room's threshold is the highest ratio of any
image of its own collection, so the guard refuses only paintings less like
their genre than every real one; a collection whose genres overlap gets a
lenient threshold of its own.

Measured on the shipped demo models (``bench/room_pool.py``): it refuses the
cityscape model's smeared day skies and the portrait model's white smear, and
nothing of the landscape model. Works on feature vectors only (the report's own
``pairwise_distances``); nothing here touches the database.
"""

from __future__ import annotations

import numpy as np
import torch

from training.engine.features import pairwise_distances


def genre_ratios(features: np.ndarray, centres: np.ndarray, own: int) -> tuple[np.ndarray, np.ndarray]:
    """Each vector's distance to ``centres[own]`` over its distance to the
    nearest other centre, and the index of that other centre."""
    if len(centres) < 2:
        raise ValueError("the genre guard needs the centres of at least two rooms.")
    d = pairwise_distances(torch.as_tensor(features), torch.as_tensor(centres, dtype=torch.float32)).numpy()
    others = np.delete(np.arange(len(centres)), own)
    nearest = others[np.argmin(d[:, others], axis=1)]
    ratio = d[:, own] / np.maximum(d[np.arange(len(d)), nearest], 1e-12)
    return ratio, nearest


def room_threshold(collection: np.ndarray, centres: np.ndarray, own: int) -> float:
    """The highest genre ratio of the room's own collection."""
    return float(genre_ratios(collection, centres, own)[0].max())
