"""The procedural painter: deterministic, varied, and four genres a viewer can tell apart."""

from __future__ import annotations

import numpy as np
import pytest

from scraper.samplemuseum.painter import GENRES, paint


def pixels(genre: str, seed: int, size: int) -> np.ndarray:
    return np.asarray(paint(genre, seed, size), dtype=np.float32)


@pytest.mark.parametrize("genre", GENRES)
@pytest.mark.parametrize("size", [32, 128])
def test_same_genre_and_seed_paint_the_same_picture_at_the_size_asked(genre: str, size: int) -> None:
    first, second = paint(genre, 11, size), paint(genre, 11, size)
    assert first.size == (size, size)
    assert first.mode == "RGB"
    assert first.tobytes() == second.tobytes()


@pytest.mark.parametrize("genre", GENRES)
def test_different_seeds_paint_different_pictures(genre: str) -> None:
    images = [pixels(genre, seed, 64) for seed in range(4)]
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            assert np.abs(images[i] - images[j]).mean() > 8, f"{genre} seeds {i} and {j} look alike"


@pytest.mark.parametrize("genre", GENRES)
def test_paintings_have_brushwork_not_flat_fills(genre: str) -> None:
    image = pixels(genre, 5, 128)
    # Flat vector shapes would repeat a handful of colours; strokes, weave and grain do not.
    distinct = len(np.unique(image.reshape(-1, 3), axis=0))
    assert distinct > 3000
    # Neighbouring pixels differ a little almost everywhere (texture), but not wildly (structure).
    step = np.abs(np.diff(image, axis=1)).mean()
    assert 1.0 < step < 25.0


def test_genres_are_told_apart_by_a_nearest_centroid_on_tiny_thumbnails() -> None:
    # The feature is where a painting is light and dark (its layout), whatever its palette.
    def feature(genre: str, seed: int) -> np.ndarray:
        thumb = np.asarray(paint(genre, seed, 64).convert("L").resize((8, 8), resample=2), dtype=np.float32)
        return ((thumb - thumb.mean()) / (thumb.std() + 1.0)).ravel()

    train_seeds, test_seeds = range(0, 16), range(1000, 1016)
    centroids = np.stack([np.mean([feature(g, s) for s in train_seeds], axis=0) for g in GENRES])
    correct = 0
    for truth, genre in enumerate(GENRES):
        for seed in test_seeds:
            guess = int(np.argmin(((centroids - feature(genre, seed)) ** 2).sum(axis=1)))
            correct += guess == truth
    accuracy = correct / (len(GENRES) * len(test_seeds))
    assert accuracy >= 0.75, f"only {accuracy:.0%} of held-out paintings classified by genre"


def test_unknown_genre_names_the_choices() -> None:
    with pytest.raises(ValueError, match="seascape") as info:
        paint("seascape", 1)
    for genre in GENRES:
        assert genre in str(info.value)


@pytest.mark.parametrize("size", [16, 1024])
def test_sizes_outside_the_range_are_refused(size: int) -> None:
    with pytest.raises(ValueError, match=str(size)):
        paint("landscape", 1, size)


@pytest.mark.parametrize("genre", GENRES)
def test_many_seeds_paint_without_error_at_the_smallest_size(genre: str) -> None:
    # Regression: a stroke centre drawn in float32 could round up onto the canvas edge.
    for seed in range(200):
        assert paint(genre, seed, 32).size == (32, 32)
