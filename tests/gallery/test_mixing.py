"""What a mixing exhibit measures: sources far apart, and which band changed what."""

from __future__ import annotations

import numpy as np

from gallery.mixing import farthest_apart, measure_band, split_sources, strongest_band


def test_farthest_apart_picks_the_ends_and_the_middle_of_a_line():
    points = np.array([0.0, 0.1, 0.2, 5.0, 9.8, 9.9, 10.0])
    distances = np.abs(points[:, None] - points[None, :])
    chosen = farthest_apart(distances, 3)
    assert sorted(points[chosen].tolist()) == [0.0, 5.0, 10.0]
    rows, cols = split_sources(chosen, 1, 2)
    assert len(rows) == 1 and len(cols) == 2 and sorted(rows + cols) == sorted(chosen)


def picture(colour: tuple[int, int, int], bright_left: bool) -> np.ndarray:
    """A 32 px picture of one colour, lighter on its left or right half."""
    img = np.empty((32, 32, 3), dtype=np.float64)
    img[:] = colour
    half = slice(0, 16) if bright_left else slice(16, 32)
    img[:, half] = np.minimum(img[:, half] + 80, 255)
    return img.astype(np.uint8)


def test_a_band_that_brings_b_s_colour_is_told_from_one_that_brings_its_layout():
    a = np.stack([picture((40, 40, 160), bright_left=True)])  # blue, light on the left
    b = np.stack([picture((160, 60, 30), bright_left=False)])  # orange, light on the right
    colour_cells = np.stack([picture((160, 60, 30), bright_left=True)])[None]  # A's layout, B's colour
    layout_cells = np.stack([picture((40, 40, 160), bright_left=False)])[None]  # B's layout, A's colour

    colour = measure_band(a, b, colour_cells, feature_change=0.3)
    layout = measure_band(a, b, layout_cells, feature_change=0.6)
    assert colour["aspect"] == "colour" and colour["colour"] > 0.9 and colour["layout"] < 0.1
    assert layout["aspect"] == "layout" and layout["layout"] > 0.9 and layout["colour"] < 0.1
    assert strongest_band({"coarse": layout, "fine": colour}) == "coarse"
    assert strongest_band({}) is None
