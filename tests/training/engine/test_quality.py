"""The quality report: the real collection passes; collapse and memorisation fail, each for its reason."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest

from scraper.samplemuseum.painter import paint
from training.engine.features import embed_uint8, pairwise_distances
from training.engine.quality import (
    FAKE_SEED_BASE,
    THRESHOLDS,
    QualityReport,
    format_report,
    measure_quality,
    near_duplicate_threshold,
)

SIZE = 32
N = 64


pytestmark = pytest.mark.usefixtures("one_thread")


def paintings(genre: str, seeds: Sequence[int]) -> np.ndarray:
    return np.stack([np.asarray(paint(genre, int(s), SIZE)) for s in seeds])


@pytest.fixture(scope="module")
def collection() -> dict[str, np.ndarray]:
    """Landscapes as a model would see them: seeds 0..255 trained on, 3000..3063 held out."""
    return {
        "training": paintings("landscape", range(256)),
        "held_out": paintings("landscape", range(3000, 3000 + N)),
    }


def unseen_painter(genre: str):
    """A 'generator' as good as can be: the painter itself, on seeds no split holds."""

    def source(seeds: Sequence[int], class_idx: int | None) -> np.ndarray:
        return paintings(genre, [s - FAKE_SEED_BASE + 20_000 for s in seeds])

    return source


def test_the_sample_collection_against_itself_passes(collection: dict[str, np.ndarray]) -> None:
    report = measure_quality(
        unseen_painter("landscape"), collection["held_out"], training_reals=collection["training"]
    )
    assert report.passed, format_report(report)
    assert report.reasons == [] and report.failed == []
    assert report.n_real == report.n_fake == N
    assert report.swd_ratio < THRESHOLDS["swd_ratio_max"]
    assert report.precision > 0.8 and report.recall > 0.8
    assert 0.9 < report.diversity < 1.1


def test_a_collapsed_generator_fails_for_mode_collapse(collection: dict[str, np.ndarray]) -> None:
    one = paintings("landscape", [9999])  # not a training painting, so not a copy

    def collapsed(seeds: Sequence[int], class_idx: int | None) -> np.ndarray:
        return np.repeat(one, len(seeds), axis=0)

    report = measure_quality(collapsed, collection["held_out"], training_reals=collection["training"])
    assert not report.passed
    assert report.near_duplicate_rate == 1.0
    assert report.diversity == pytest.approx(0.0, abs=1e-3)
    assert report.recall < 0.1
    assert "copies" not in report.failed
    assert report.failed[0] == "near_duplicates"
    assert report.reasons[0].startswith("mode collapse: 100% of the 64 generated images")
    assert "collapse" in format_report(report)


def test_a_generator_that_returns_training_images_fails_for_memorisation(
    collection: dict[str, np.ndarray],
) -> None:
    training = collection["training"]

    def memorised(seeds: Sequence[int], class_idx: int | None) -> np.ndarray:
        return training[[(s - FAKE_SEED_BASE) % len(training) for s in seeds]]

    report = measure_quality(memorised, collection["held_out"], training_reals=training)
    # Copies of good paintings look real and varied: only the copy check can catch them.
    assert report.failed == ["copies"], format_report(report)
    assert report.copy_rate == 1.0
    assert report.reasons[0].startswith("memorisation: 100% of the generated images copy a training image")


def test_mirror_images_of_training_paintings_count_as_copies(collection: dict[str, np.ndarray]) -> None:
    training = collection["training"]

    def mirrored(seeds: Sequence[int], class_idx: int | None) -> np.ndarray:
        picks = training[[(s - FAKE_SEED_BASE) % len(training) for s in seeds]]
        return np.ascontiguousarray(picks[:, :, ::-1])

    report = measure_quality(mirrored, collection["held_out"], training_reals=training)
    assert "copies" in report.failed
    assert report.copy_rate == 1.0


def test_without_training_images_there_is_no_copy_figure(collection: dict[str, np.ndarray]) -> None:
    report = measure_quality(unseen_painter("landscape"), collection["held_out"], n_fake=32)
    assert report.copy_rate is None and report.copy_threshold is None
    assert report.n_fake == 32
    assert "n/a" in format_report(report)


def test_the_near_duplicate_threshold_is_the_closest_pair_of_distinct_images() -> None:
    images = paintings("portrait", range(6))
    features = embed_uint8(np.concatenate([images, images[:1]]))  # the first picture stored twice
    d = pairwise_distances(features[:6], features[:6])
    d.fill_diagonal_(float("inf"))
    assert near_duplicate_threshold(features) == pytest.approx(float(d.min()), rel=1e-5)
    with pytest.raises(ValueError, match="at least 2"):
        near_duplicate_threshold(features[:1])


def test_a_report_survives_json_and_repeats_exactly(collection: dict[str, np.ndarray]) -> None:
    args = (unseen_painter("landscape"), collection["held_out"][:16])
    first = measure_quality(*args, seed=3, kimg=1.5)
    second = measure_quality(*args, seed=3, kimg=1.5)
    assert first == second
    text = json.dumps(first.to_dict())
    assert QualityReport.from_dict(json.loads(text)) == first
    with pytest.raises(ValueError, match="swd"):
        QualityReport.from_dict({"precision": 1.0})


def test_a_conditional_model_is_judged_per_class() -> None:
    held = np.concatenate(
        [paintings("portrait", range(3000, 3024)), paintings("cityscape", range(3000, 3024))]
    )
    labels = np.array([0] * 24 + [1] * 24)
    one_city = paintings("cityscape", [9999])

    def half_collapsed(seeds: Sequence[int], class_idx: int | None) -> np.ndarray:
        if class_idx == 0:
            return unseen_painter("portrait")(seeds, class_idx)
        return np.repeat(one_city, len(seeds), axis=0)

    report = measure_quality(half_collapsed, held, labels=labels, class_names=["portrait", "cityscape"])
    assert set(report.per_class) == {"portrait", "cityscape"}
    assert report.per_class["portrait"].passed, format_report(report.per_class["portrait"])
    assert not report.per_class["cityscape"].passed
    assert report.per_class["cityscape"].near_duplicate_rate == 1.0
    assert not report.passed
    assert "class:cityscape" in report.failed
    assert any(r.startswith("class cityscape: mode collapse") for r in report.reasons)
    again = QualityReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again.per_class["cityscape"].failed == report.per_class["cityscape"].failed


def test_each_class_of_a_conditional_model_is_checked_for_copies_of_the_training_set() -> None:
    held = np.concatenate(
        [paintings("portrait", range(3000, 3016)), paintings("cityscape", range(3000, 3016))]
    )
    labels = np.array([0] * 16 + [1] * 16)
    trained_on = np.concatenate([paintings("portrait", range(16)), paintings("cityscape", range(16))])

    def copies_cities(seeds: Sequence[int], class_idx: int | None) -> np.ndarray:
        if class_idx == 0:
            return unseen_painter("portrait")(seeds, class_idx)
        return trained_on[16 + np.arange(len(seeds)) % 16]

    report = measure_quality(copies_cities, held, labels=labels, training_reals=trained_on)
    assert report.per_class["1"].copy_rate == 1.0
    assert report.per_class["0"].copy_rate < 0.2
    assert "copies" in report.per_class["1"].failed and "copies" not in report.per_class["0"].failed


def test_a_real_generator_is_measured(tiny_generator) -> None:
    held = paintings("portrait", range(3000, 3016))
    report = measure_quality(tiny_generator, held, n_fake=16)
    # An untrained network paints noise-like blobs: nothing like the collection.
    assert not report.passed
    assert report.swd_ratio > THRESHOLDS["swd_ratio_max"]


def test_a_generator_is_measured_as_truncated_as_its_room_is_painted(tiny_generator) -> None:
    """The report of a room painted with truncation is the report of those paintings: psi 0 paints
    one picture 16 times (every one a near duplicate); truncating only the first ws leaves them distinct."""
    import torch

    with torch.no_grad():
        tiny_generator.mapping(torch.randn(64, 32), update_w_avg=True)
    held = paintings("portrait", range(3000, 3016))
    one_picture = measure_quality(tiny_generator, held, n_fake=16, psi=0.0)
    assert one_picture.near_duplicate_rate == 1.0 and "near_duplicates" in one_picture.failed
    coarse_only = measure_quality(tiny_generator, held, n_fake=16, psi=0.0, truncation_cutoff=2)
    assert coarse_only.near_duplicate_rate < 0.5


def test_bad_input_names_what_is_wrong(tiny_generator) -> None:
    with pytest.raises(ValueError, match="at least 8 held-out"):
        measure_quality(tiny_generator, paintings("portrait", range(4)))
    big = np.stack([np.asarray(paint("portrait", s, 64)) for s in range(8)])
    with pytest.raises(ValueError, match="packed at the model's resolution"):
        measure_quality(tiny_generator, big)
    with pytest.raises(ValueError, match="one class index per held-out image"):
        measure_quality(unseen_painter("portrait"), paintings("portrait", range(8)), labels=[0, 1])
