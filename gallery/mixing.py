"""Mixing exhibits that show mixing: sources chosen far apart (and a room's
batch chosen most unlike, `most_unlike`), and what each
style band did to the pictures, measured rather than quoted from the paper.

Everything here works on the engine's uint8 pictures ([N, H, W, 3]) and its
feature vectors; nothing touches the database.
"""

from __future__ import annotations

import numpy as np

# How many candidate sources are painted per source an exhibit shows; the
# farthest apart of them are kept.
POOL_FACTOR = 4
MAX_POOL = 64
# The simple statistics the page names, in the order it prefers on a tie.
ASPECTS = ("layout", "colour", "detail")
LAYOUT_SIZE = 8


def farthest_apart(distances: np.ndarray, count: int) -> list[int]:
    """Indices of ``count`` points that are far from each other (greedy
    farthest-point selection, starting from the farthest pair)."""
    n = distances.shape[0]
    if count > n:
        raise ValueError(f"cannot choose {count} sources from a pool of {n}.")
    if count == 1:
        return [0]
    i, j = np.unravel_index(int(np.argmax(distances)), distances.shape)
    chosen = [int(i), int(j)]
    nearest = np.minimum(distances[i], distances[j])
    while len(chosen) < count:
        nearest[chosen] = -1.0
        k = int(np.argmax(nearest))
        chosen.append(k)
        nearest = np.minimum(nearest, distances[k])
    return chosen[:count]


def most_unlike(
    nearest: np.ndarray,
    among: np.ndarray,
    count: int,
    threshold: float,
    farthest: bool,
    rank: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[int]:
    """Indices of at most ``count`` candidates, none closer than ``threshold``
    to another or to a painting already hanging (``nearest``: each one's
    distance to its nearest hanging painting, ``inf`` in an empty room;
    ``among``: their distances to each other). In index order, the first that
    pass; or, ``farthest``, greedy farthest-point choice: each time the one
    whose nearest painting, hanging or chosen before it, is farthest away, by
    ``rank`` (the same two, in another distance: :func:`glance_distance`)
    where given, else by ``nearest`` and ``among``."""
    nearest = np.array(nearest, dtype=np.float64)
    rank_nearest, rank_among = (nearest, among) if rank is None else (np.array(rank[0], np.float64), rank[1])
    chosen: list[int] = []
    order = iter(range(len(nearest)))
    while len(chosen) < count:
        if farthest:
            open_ = nearest >= threshold
            k = int(np.argmax(np.where(open_, rank_nearest, -np.inf))) if open_.any() else -1
        else:
            k = next((i for i in order if nearest[i] >= threshold), -1)
        if k < 0:
            break  # the rest are near duplicates
        chosen.append(k)
        nearest = np.minimum(nearest, among[k])
        nearest[chosen] = -np.inf
        rank_nearest = np.minimum(rank_nearest, rank_among[k])
    return sorted(chosen)


def typical_nearest(apart: np.ndarray) -> float:
    """The median distance from each of a set to its nearest other
    (``apart``: their distances to each other): the unit of a distance in
    :func:`glance_distance`."""
    d = np.array(apart, dtype=np.float64)
    np.fill_diagonal(d, np.inf)
    return float(np.median(d.min(axis=1)))


def glance_distance(
    features: np.ndarray, glances: np.ndarray, feature_scale: float, glance_scale: float
) -> np.ndarray:
    """How unlike two paintings look, counting both what the feature space
    sees and what a visitor sees from across the room: the smaller of their
    feature distance and their glance distance (``features.glance_uint8``),
    each in units of its ``scale`` (how far a real painting of the collection
    typically lies from its nearest neighbour in that space). Two paintings
    whose masses and colours lie alike are close however their brushwork
    differs. ``features``, ``glances``: the two distance matrices."""
    return np.minimum(
        np.asarray(features, np.float64) / max(feature_scale, 1e-9),
        np.asarray(glances, np.float64) / max(glance_scale, 1e-9),
    )


def split_sources(chosen: list[int], rows: int, columns: int) -> tuple[list[int], list[int]]:
    """Deal far-apart picks alternately to A (rows) and B (columns), so each
    side gets some of the most distant ones."""
    row_picks: list[int] = []
    col_picks: list[int] = []
    for index in chosen:
        if len(row_picks) < rows and (len(row_picks) <= len(col_picks) or len(col_picks) >= columns):
            row_picks.append(index)
        else:
            col_picks.append(index)
    return row_picks, col_picks


def _grey(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) / 255.0


def _mean_colour(images: np.ndarray) -> np.ndarray:
    """Each picture's mean RGB in [0, 1]: its colour at a glance."""
    return images.reshape(images.shape[0], -1, 3).mean(axis=1) / 255.0


def _layout(images: np.ndarray) -> np.ndarray:
    """An 8x8 lightness thumbnail with its mean taken out: where the picture
    is light and dark, whatever its overall brightness."""
    grey = _grey(images)
    n, h, w = grey.shape
    cells = grey[:, : h - h % LAYOUT_SIZE, : w - w % LAYOUT_SIZE]
    thumb = cells.reshape(n, LAYOUT_SIZE, cells.shape[1] // LAYOUT_SIZE, LAYOUT_SIZE, -1).mean(axis=(2, 4))
    return (thumb - thumb.mean(axis=(1, 2), keepdims=True)).reshape(n, -1)


def _detail(images: np.ndarray) -> np.ndarray:
    """What is left after a 2x2 blur: brush strokes, edges, texture."""
    grey = _grey(images)
    n, h, w = grey.shape
    even = grey[:, : h - h % 2, : w - w % 2]
    blurred = even.reshape(n, even.shape[1] // 2, 2, even.shape[2] // 2, 2).mean(axis=(2, 4))
    return (even - np.repeat(np.repeat(blurred, 2, axis=1), 2, axis=2)).reshape(n, -1)


def _share(a: np.ndarray, b: np.ndarray, cells: np.ndarray) -> float:
    """How far the cells moved from their source A, as a share of the gap
    between A and B: 0 = A unchanged, 1 = as far as B is from A.

    ``a`` [R, ...] and ``b`` [C, ...]; ``cells`` [R, C, ...]."""
    moved = np.linalg.norm(cells - a[:, None], axis=-1).sum()
    gap = np.linalg.norm(b[None, :] - a[:, None], axis=-1).sum()
    return float(moved / gap) if gap > 0 else 0.0


def measure_band(rows: np.ndarray, cols: np.ndarray, grid: np.ndarray, feature_change: float) -> dict:
    """What swapping one band did: the overall change (share of the A→B
    distance in the quality feature space) and how much of B's colour, layout
    and detail the cells took."""
    nr, nc = grid.shape[:2]
    flat = grid.reshape(nr * nc, *grid.shape[2:])
    measures = {"change": float(feature_change)}
    for aspect, stat in (("colour", _mean_colour), ("layout", _layout), ("detail", _detail)):
        measures[aspect] = _share(stat(rows), stat(cols), stat(flat).reshape(nr, nc, -1))
    measures["aspect"] = max(ASPECTS, key=lambda k: measures[k])
    return measures


def feature_change(row_features: np.ndarray, col_features: np.ndarray, cell_features: np.ndarray) -> float:
    """``_share`` in the quality report's feature space ([R, D], [C, D], [R, C, D])."""
    return _share(row_features, col_features, cell_features)


def strongest_band(measures: dict[str, dict]) -> str | None:
    """The band whose swap changed the pictures most, or None when unmeasured."""
    if not measures:
        return None
    return max(measures, key=lambda band: measures[band].get("change", 0.0))
