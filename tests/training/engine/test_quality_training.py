"""Quality during training: a held-out split, and each checkpoint's report measured on itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.training.engine.test_loop import read_stats, structured_images, tiny_train_config
from training.engine.checkpoint import checkpoint_metadata, list_checkpoints, load_generator
from training.engine.dataset import HELD_OUT_MIN, PackedDataset, held_out_split, pack_images
from training.engine.loop import METRIC_SEED_BASE, Trainer, train
from training.engine.quality import QualityReport, measure_quality, training_features

pytestmark = pytest.mark.usefixtures("one_thread")


def pack(folder: Path, n: int, mirror: bool = False, labels: list[int] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(structured_images(n, 32, seed=3)):
        paths.append(folder / f"{i:03d}.png")
        Image.fromarray(img).save(paths[-1])
    return pack_images(paths, folder / "data.pack", 32, mirror=mirror, labels=labels).out_path


def test_one_image_in_ten_is_held_out_the_same_way_every_time(tmp_path: Path) -> None:
    ds = PackedDataset(pack(tmp_path / "a", 100))
    train_idx, held = held_out_split(ds)
    assert len(held) == 10 and len(train_idx) == 90
    assert not set(train_idx) & set(held)
    assert np.array_equal(held, held_out_split(PackedDataset(ds.path))[1])


def test_a_mirrored_pack_holds_out_an_image_with_its_mirror_copy(tmp_path: Path) -> None:
    ds = PackedDataset(pack(tmp_path / "m", 60, mirror=True))
    _, held = held_out_split(ds)
    assert len(held) == 12
    pairs = set(held // 2)
    assert len(pairs) == 6 and set(held) == {2 * p for p in pairs} | {2 * p + 1 for p in pairs}


def test_each_class_keeps_its_share_and_a_small_set_holds_none_out(tmp_path: Path) -> None:
    labels = [0] * 90 + [1] * 30
    ds = PackedDataset(pack(tmp_path / "c", 120, labels=labels))
    _, held = held_out_split(ds)
    assert (np.asarray(ds.labels[held]) == 0).sum() == 9
    assert (np.asarray(ds.labels[held]) == 1).sum() == 0  # 3 would be too few to measure
    small = PackedDataset(pack(tmp_path / "s", HELD_OUT_MIN * 10 - 1))
    assert len(held_out_split(small)[1]) == 0


def test_held_out_images_are_never_trained_on(tmp_path: Path) -> None:
    ds = PackedDataset(pack(tmp_path / "d", 40 * 3))
    trainer = Trainer(tiny_train_config(1), ds)
    held = set(trainer.held_out_indices.tolist())
    assert len(held) == 12
    seen = set(trainer._next_indices(len(ds) * 3).tolist())  # three epochs, reshuffled each time
    assert seen == set(range(len(ds))) - held
    assert trainer.describe()["held_out_images"] == 12


def test_every_checkpoint_carries_the_report_measured_on_it(tmp_path: Path) -> None:
    # Checkpoints every 4 steps, measurements every 8 (as the cpu preset's 0.5 / 1.0 kimg): before
    # the fix the checkpoint between two measurements repeated the earlier one's SWD to 14 digits.
    data = pack(tmp_path / "data", 120)
    config = tiny_train_config(12, checkpoint_kimg=0.016, metric_kimg=0.032, metric_samples=12)
    train(config, data, tmp_path / "run", progress=False)
    checkpoints = list_checkpoints(tmp_path / "run")
    assert [p.name for p in checkpoints] == ["ckpt-00000004.pt", "ckpt-00000008.pt", "ckpt-00000012.pt"]
    metas = [checkpoint_metadata(p) for p in checkpoints]
    swds = [m["metrics"]["swd"] for m in metas]
    assert len(set(swds)) == 3, f"checkpoints share a measurement: {swds}"
    for meta in metas:
        report = QualityReport.from_dict(meta["quality"])
        assert report.kimg == pytest.approx(meta["kimg"])
        assert report.n_real == 12 and not report.reals_seen_in_training
        assert meta["metrics"]["swd"] == report.swd
        assert meta["metrics"]["quality_passed"] is report.passed

    # The figures are those of the checkpoint's own generator, measured again from the file.
    ds = PackedDataset(data)
    train_idx, held = held_out_split(ds)
    reals, _ = ds.batch(held[np.linspace(0, len(held) - 1, 12).round().astype(np.int64)])
    G = load_generator(checkpoints[0])
    again = measure_quality(
        G,
        reals,
        training=training_features(ds.batch(train_idx)[0]),
        seed=config.seed,
        seed_start=METRIC_SEED_BASE,
        kimg=metas[0]["kimg"],
    )
    assert again.swd == pytest.approx(swds[0], rel=1e-6)
    assert again.precision == metas[0]["quality"]["precision"]

    stats = read_stats(tmp_path / "run")
    measured = [line for line in stats if "quality" in line]
    assert [line["quality"]["kimg"] for line in measured] == pytest.approx([0.0, 0.016, 0.032, 0.048])
    assert all(json.dumps(line) for line in measured)


def test_a_checkpoint_without_measurements_claims_none(tmp_path: Path) -> None:
    data = pack(tmp_path / "data", 16)
    train(tiny_train_config(4, checkpoint_kimg=0.008), data, tmp_path / "run", progress=False)
    for path in list_checkpoints(tmp_path / "run"):
        meta = checkpoint_metadata(path)
        assert meta["metrics"] == {} and meta["quality"] is None


def test_a_dataset_too_small_for_a_report_trains_and_says_it_was_not_measured(tmp_path: Path) -> None:
    data = pack(tmp_path / "data", 6)
    config = tiny_train_config(4, metric_kimg=0.008, checkpoint_kimg=0.008)
    assert "at least 8" in Trainer(config, PackedDataset(data)).describe()["quality_not_measured"]
    result = train(config, data, tmp_path / "run", progress=False)
    assert result.steps == 4
    assert all("quality" not in line for line in read_stats(tmp_path / "run"))
    for path in list_checkpoints(tmp_path / "run"):
        assert checkpoint_metadata(path)["quality"] is None
