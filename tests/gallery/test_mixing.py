"""What a mixing exhibit measures: sources far apart, and which band changed what."""

from __future__ import annotations

import numpy as np

from gallery.mixing import (
    farthest_apart,
    glance_distance,
    measure_band,
    most_unlike,
    split_sources,
    strongest_band,
)


def test_farthest_apart_picks_the_ends_and_the_middle_of_a_line():
    points = np.array([0.0, 0.1, 0.2, 5.0, 9.8, 9.9, 10.0])
    distances = np.abs(points[:, None] - points[None, :])
    chosen = farthest_apart(distances, 3)
    assert sorted(points[chosen].tolist()) == [0.0, 5.0, 10.0]
    rows, cols = split_sources(chosen, 1, 2)
    assert len(rows) == 1 and len(cols) == 2 and sorted(rows + cols) == sorted(chosen)


def test_a_room_hangs_no_two_paintings_that_look_alike_at_a_glance():
    """Five paintings a step apart on a line in the feature space; the two ends
    look the same from across the room (equal glances), the others all differ."""
    steps = np.arange(5.0)
    features = np.abs(steps[:, None] - steps[None, :])
    glances = np.full((5, 5), 10.0)
    np.fill_diagonal(glances, 0.0)
    glances[0, 4] = glances[4, 0] = 0.0
    empty = np.full(5, np.inf)
    # By features alone the farthest choice hangs both ends: the look-alike pair.
    assert most_unlike(empty, features, 3, 0.5, farthest=True) == [0, 2, 4]
    # Ranked by glance_distance (units: 1 and 2), the second end is the closest of all to the first.
    unlike = glance_distance(features, glances, 1.0, 2.0)
    assert unlike[0, 4] == 0.0 and unlike[0, 3] == 3.0 and unlike[1, 2] == 1.0
    chosen = most_unlike(empty, features, 3, 0.5, farthest=True, rank=(empty, unlike))
    assert chosen == [0, 1, 3]
    # A near duplicate by features still never hangs, however unlike it looks.
    assert most_unlike(empty, features, 3, 1.5, farthest=True, rank=(empty, unlike)) == [0, 3]
    # A painting already hanging counts too: with the first end on the wall, the other end is
    # the least wanted, though by features it is the farthest.
    on_wall = features[0], unlike[0]
    assert 4 not in most_unlike(on_wall[0], features, 2, 0.5, farthest=True, rank=(on_wall[1], unlike))
    assert 4 in most_unlike(on_wall[0], features, 2, 0.5, farthest=True)


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
