"""The genre guard on the sample museum's own paintings: what a visitor would
call a landscape does not hang among the cityscapes, and a room's own genre
does."""

from __future__ import annotations

import numpy as np
import pytest

from gallery.genre_guard import genre_ratios, room_threshold
from scraper.samplemuseum.painter import GENRES, paint
from training.engine.features import embed_uint8, picture_array


def embedded(genre: str, seeds: range) -> np.ndarray:
    return embed_uint8(np.stack([picture_array(paint(genre, s, 64).convert("RGB")) for s in seeds])).numpy()


@pytest.fixture(scope="module")
def rooms() -> tuple[list[np.ndarray], np.ndarray]:
    """Each room's collection (seeds 0-39) and the rooms' centres."""
    collections = [embedded(g, range(40)) for g in GENRES]
    return collections, np.stack([c.mean(axis=0) for c in collections])


@pytest.mark.parametrize("own", range(len(GENRES)))
def test_each_room_refuses_the_other_genres_and_hangs_its_own(rooms, own):
    collections, centres = rooms
    threshold = room_threshold(collections[own], centres, own)
    # Every image of the room's own collection may hang (the threshold is theirs) ...
    assert (genre_ratios(collections[own], centres, own)[0] <= threshold).all()
    # ... and so do nearly all new paintings of its genre (seeds it never saw),
    ratios, _ = genre_ratios(embedded(GENRES[own], range(100, 140)), centres, own)
    assert (ratios <= threshold).mean() >= 0.9
    # while nearly every painting of another genre is refused, and said to look like a room other than this one.
    for other, genre in enumerate(GENRES):
        if other == own:
            continue
        ratios, nearest = genre_ratios(embedded(genre, range(100, 120)), centres, own)
        assert (ratios > threshold).mean() >= 0.9, genre
        assert (nearest != own).all()


def test_the_guard_needs_two_rooms():
    with pytest.raises(ValueError, match="at least two rooms"):
        genre_ratios(np.zeros((1, 4)), np.zeros((1, 4)), 0)
