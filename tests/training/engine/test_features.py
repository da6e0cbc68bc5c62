"""The fixed feature space: deterministic, unit length, size-independent, and it tells the genres apart."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image

from scraper.samplemuseum.painter import GENRES, paint
from training.engine.features import (
    blocks_uint8,
    embed,
    embed_pictures,
    embed_uint8,
    feature_dim,
    glance_uint8,
    pairwise_distances,
)


def paintings(genre: str, seeds: range, size: int = 32) -> np.ndarray:
    return np.stack([np.asarray(paint(genre, s, size)) for s in seeds])


def test_vectors_are_unit_length_float32_on_the_cpu_and_repeat_exactly() -> None:
    images = torch.rand(5, 3, 40, 24) * 2 - 1
    first, second = embed(images), embed(images.clone())
    assert first.shape == (5, feature_dim())
    assert first.dtype == torch.float32 and first.device.type == "cpu"
    assert torch.allclose(first.norm(dim=1), torch.ones(5), atol=1e-5)
    assert torch.equal(first, second)


def test_one_picture_gives_the_same_vector_alone_or_in_a_batch() -> None:
    images = paintings("landscape", range(4))
    together = embed_uint8(images)
    alone = torch.cat([embed_uint8(images[i : i + 1]) for i in range(4)])
    assert torch.allclose(together, alone, atol=1e-6)


def test_the_blocks_are_the_vector_in_pieces() -> None:
    images = np.concatenate([paintings("cityscape", range(3), 64), paintings("portrait", range(3), 64)])
    parts = blocks_uint8(images)
    assert list(parts) == ["layout", "palette", "structure", "texture"]
    assert sum(p.shape[1] for p in parts.values()) == feature_dim()
    whole = torch.nn.functional.normalize(torch.cat(list(parts.values()), dim=1), dim=1)
    assert torch.allclose(whole, embed_uint8(images), atol=1e-5)
    with pytest.raises(ValueError, match="64x64"):
        blocks_uint8(paintings("portrait", range(1), 32))


def test_the_same_painting_at_two_sizes_lies_closer_than_two_paintings() -> None:
    small = np.asarray(paint("portrait", 3, 64))
    large = np.asarray(paint("portrait", 3, 128))
    other = np.asarray(paint("portrait", 4, 64))
    f = embed_pictures([small, large, other])
    d = pairwise_distances(f, f)
    assert d[0, 1] < 0.5 * d[0, 2]


def test_pil_images_of_any_mode_and_shape_are_centre_cropped_like_a_training_pack() -> None:
    square = paint("cityscape", 8, 64)
    wide = Image.new("RGB", (96, 64), "black")
    wide.paste(square, (16, 0))  # black bars left and right, which the centre crop removes
    f = embed_pictures([square, wide, square.convert("RGBA")])
    assert pairwise_distances(f[:1], f[1:]).max() < 0.02


def test_genres_of_unseen_seeds_are_told_apart() -> None:
    # Nearest neighbour among 24 known paintings per genre, judged on 12 unseen ones per genre.
    known = torch.cat([embed_uint8(paintings(g, range(0, 24))) for g in GENRES])
    unseen = torch.cat([embed_uint8(paintings(g, range(5000, 5012))) for g in GENRES])
    guess = pairwise_distances(unseen, known).argmin(dim=1) // 24
    truth = torch.arange(len(GENRES)).repeat_interleave(12)
    accuracy = float((guess == truth).float().mean())
    assert accuracy >= 0.85, f"only {accuracy:.0%} of unseen paintings were nearest to their own genre"


def test_speckle_moves_a_painting_away_from_itself() -> None:
    clean = paintings("flower-still-life", range(1), 64)
    rng = np.random.default_rng(0)
    noisy = np.clip(clean.astype(np.int16) + rng.integers(-40, 41, clean.shape), 0, 255).astype(np.uint8)
    other = paintings("flower-still-life", range(1, 2), 64)
    f = embed_uint8(np.concatenate([clean, noisy, other]))
    # Speckle is a visible flaw: it must count for something, though less than a different picture.
    assert pairwise_distances(f[:1], f[1:2]) > 0.1


def test_pairwise_distances_are_euclidean() -> None:
    a, b = torch.randn(3, 7), torch.randn(4, 7)
    assert torch.allclose(pairwise_distances(a, b), torch.cdist(a, b), atol=1e-5)
    assert torch.allclose(pairwise_distances(a, a).diagonal(), torch.zeros(3), atol=1e-3)


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (torch.zeros(2, 1, 32, 32), "[N, 3, H, W]"),
        (torch.zeros(2, 3, 8, 32), "at least 16"),
        (torch.zeros(2, 3, 32, 32, dtype=torch.uint8), "embed_uint8"),
    ],
)
def test_bad_input_is_refused_with_what_to_do(bad: torch.Tensor, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        embed(bad)


def test_bad_pictures_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="uint8"):
        embed_uint8(np.zeros((1, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="too small"):
        embed_pictures([Image.new("RGB", (10, 40))])
    with pytest.raises(ValueError, match="same D"):
        pairwise_distances(torch.zeros(2, 3), torch.zeros(2, 4))


def test_a_glance_is_where_a_picture_s_colours_lie_at_8x8() -> None:
    picture = np.zeros((1, 64, 64, 3), dtype=np.uint8)
    picture[0, :, 32:] = (255, 128, 0)  # orange on the right half
    picture[0, 60:, :8] = 255  # a small white corner, a quarter of one cell
    glance = glance_uint8(picture)
    assert glance.shape == (1, 192) and glance.dtype == torch.float32
    cells = glance.numpy().reshape(8, 8, 3)
    assert np.allclose(cells[:, 4:], [1.0, 128 / 255, 0.0])
    assert np.allclose(cells[:, :4][:7], 0.0) and np.allclose(cells[7, 0], 0.5)
    # Brushwork does not change a glance; where the masses lie does.
    speckled = picture.copy()
    speckled[0, ::2, 32::2] = (255, 168, 0)
    speckled[0, 1::2, 33::2] = (255, 88, 0)
    assert pairwise_distances(glance, glance_uint8(speckled)).item() < 1e-5
    flipped = np.ascontiguousarray(picture[:, :, ::-1])
    assert pairwise_distances(glance, glance_uint8(flipped)).item() > 3
    with pytest.raises(ValueError, match="64x64"):
        glance_uint8(np.zeros((1, 32, 32, 3), dtype=np.uint8))
