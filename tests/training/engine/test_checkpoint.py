"""Checkpoints: plain tensors + JSON, atomic writes, damaged files detected, generator reload."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.training.engine.test_loop import Recorder, make_packed_dataset, tiny_train_config
from training.engine import checkpoint as ckpt_module
from training.engine.checkpoint import (
    KERNEL_FLAGS,
    CheckpointError,
    checkpoint_metadata,
    latest_checkpoint,
    load_checkpoint,
    load_generator,
    save_checkpoint,
)
from training.engine.generate import generate_images
from training.engine.loop import train


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _state(value: float) -> dict:
    return {"weights": {"w": torch.full((64, 64), value)}, "meta": {"step": int(value), "kimg": value / 10}}


def test_round_trip_is_weights_only_with_metadata_beside(tmp_path: Path):
    path = tmp_path / "ckpt-00000001.pt"
    save_checkpoint(path, _state(1.0))
    raw = torch.load(path, weights_only=True)  # would raise if anything but plain data were inside
    assert json.loads(raw["meta_json"]) == {"step": 1, "kimg": 0.1}
    state = load_checkpoint(path)
    assert torch.equal(state["weights"]["w"], torch.ones(64, 64))
    assert state["meta"] == {"step": 1, "kimg": 0.1}
    assert checkpoint_metadata(path) == {"step": 1, "kimg": 0.1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-00000001.json", "ckpt-00000001.pt"]


def test_truncated_newest_is_detected_and_previous_used(tmp_path: Path):
    folder = tmp_path / "checkpoints"
    for step in (1, 2):
        save_checkpoint(folder / f"ckpt-{step:08d}.pt", _state(float(step)))
    newest = folder / "ckpt-00000002.pt"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="damaged or truncated"):
        load_checkpoint(newest)
    assert latest_checkpoint(tmp_path) == folder / "ckpt-00000001.pt"
    # Without its sidecar a truncated file is still caught by the reader.
    (folder / "ckpt-00000002.json").unlink()
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(newest)
    assert latest_checkpoint(tmp_path) == folder / "ckpt-00000001.pt"


def test_crash_while_writing_leaves_previous_checkpoint_intact(tmp_path: Path, monkeypatch):
    path = tmp_path / "ckpt-00000001.pt"
    save_checkpoint(path, _state(1.0))
    before = path.read_bytes()

    def crash_midway(obj, f):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_module.torch, "save", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, _state(2.0))
    assert path.read_bytes() == before
    assert load_checkpoint(path)["meta"]["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-00000001.json", "ckpt-00000001.pt"]


def test_not_a_checkpoint_is_refused(tmp_path: Path):
    other = tmp_path / "ckpt-00000003.pt"
    torch.save({"just": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="not an AI Art Gallery checkpoint"):
        load_checkpoint(other)
    with zipfile.ZipFile(tmp_path / "ckpt-00000004.pt", "w") as z:
        z.writestr("data.pkl", b"garbage")
    assert latest_checkpoint(tmp_path) is None


def test_training_resumes_from_previous_checkpoint_when_newest_is_truncated(tmp_path: Path):
    data = make_packed_dataset(tmp_path / "data", n=8)
    run = tmp_path / "run"
    train(tiny_train_config(8, checkpoint_kimg=0.016), data, run, progress=False)  # checkpoints at 4, 8
    newest = run / "checkpoints" / "ckpt-00000008.pt"
    newest.write_bytes(newest.read_bytes()[:1000])
    cb = Recorder()
    result = train(tiny_train_config(10, checkpoint_kimg=0.016), data, run, callbacks=cb, progress=False)
    assert cb.started[0]["resumed_from"].endswith("ckpt-00000004.pt")
    assert result.steps == 10
    assert load_checkpoint(result.last_checkpoint)["meta"]["step"] == 10
    assert load_checkpoint(newest)["meta"]["step"] == 8, "step 8 was trained again and rewritten whole"


def test_checkpoint_holds_everything_resume_needs_and_generator_reloads(tmp_path: Path):
    data = make_packed_dataset(tmp_path / "data", n=8)
    result = train(tiny_train_config(3), data, tmp_path / "run", progress=False)
    state = load_checkpoint(result.last_checkpoint)
    for key in ("G", "D", "G_ema", "opt_G", "opt_D", "ada", "loss", "progress", "data", "rng"):
        assert key in state
    assert set(state["rng"][0]) >= {"torch", "numpy", "python"}
    assert {"generator", "latent_generator", "perm", "pos"} <= set(state["data"])
    meta = checkpoint_metadata(result.last_checkpoint)
    assert meta["step"] == 3 and meta["kimg"] == pytest.approx(0.012) and meta["config"]["batch_size"] == 4
    assert "augment_p" in meta and meta["world_size"] == 1
    # Where it was trained: a recipe rebuilds the same model only on a host of the same kind.
    host = meta["host"]
    assert host["torch"] == torch.__version__ and host["threads"] == torch.get_num_threads()
    assert host["cpu"] and set(host["cpu_flags"]) <= set(KERNEL_FLAGS) and "gpu" not in host

    G = load_generator(result.last_checkpoint)
    assert not G.training and not any(p.requires_grad for p in G.parameters())
    again = load_generator(result.last_checkpoint)
    assert np.array_equal(generate_images(G, [5, 6]), generate_images(again, [5, 6]))
    assert all(torch.equal(v, state["G_ema"][k]) for k, v in G.state_dict().items()), "the EMA weights"


def test_keep_checkpoints_prunes_the_oldest(tmp_path: Path):
    data = make_packed_dataset(tmp_path / "data", n=8)
    cb = Recorder()
    config = tiny_train_config(8, checkpoint_kimg=0.008, keep_checkpoints=2)  # a checkpoint every 2 steps
    train(config, data, tmp_path / "run", callbacks=cb, progress=False)
    assert [p.name for p in cb.checkpoints] == [f"ckpt-{s:08d}.pt" for s in (2, 4, 6, 8)]
    left = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert left == ["ckpt-00000006.json", "ckpt-00000006.pt", "ckpt-00000008.json", "ckpt-00000008.pt"]
