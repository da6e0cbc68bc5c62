"""Data-parallel training: two gloo processes on CPU, started by torchrun, against one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.training.engine.test_loop import make_packed_dataset, read_stats, tiny_train_config
from training.engine.checkpoint import checkpoint_metadata, load_checkpoint, load_generator
from training.engine.generate import generate_images
from training.engine.loop import train

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _shapes(state_dict: dict) -> dict:
    return {k: tuple(v.shape) for k, v in state_dict.items()}


@pytest.mark.slow
def test_two_gloo_processes_match_single_process_run(tmp_path: Path):
    data = make_packed_dataset(tmp_path / "data", n=16)
    config = tiny_train_config(16, tick_kimg=0.016)  # 16 steps of global batch 4, a stats line every 4
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config.to_dict()))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "training",
            "train",
            "--data",
            str(data),
            "--run-dir",
            str(tmp_path / "ddp"),
            "--config",
            str(config_path),
            "--no-progress",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("finished at 0.064 kimg after 16 steps") == 1, "only rank 0 reports"
    single = train(config, data, tmp_path / "single", progress=False)

    # Same results format: the same files, checkpoint keys, tensor shapes and metadata fields.
    ddp_ckpt = tmp_path / "ddp" / "checkpoints" / "ckpt-00000016.pt"
    assert sorted(p.name for p in (tmp_path / "ddp" / "checkpoints").iterdir()) == sorted(
        p.name for p in single.last_checkpoint.parent.iterdir()
    )
    a, b = load_checkpoint(ddp_ckpt), load_checkpoint(single.last_checkpoint)
    assert set(a) == set(b)
    for key in ("G", "D", "G_ema"):
        assert _shapes(a[key]) == _shapes(b[key])
    assert len(a["rng"]) == 2 and len(b["rng"]) == 1, "every rank's random state is kept"
    meta_a, meta_b = checkpoint_metadata(ddp_ckpt), checkpoint_metadata(single.last_checkpoint)
    assert set(meta_a) == set(meta_b) and meta_a["world_size"] == 2 and meta_a["step"] == meta_b["step"] == 16
    assert (tmp_path / "ddp" / "samples" / "fakes-00000016.png").exists()
    assert generate_images(load_generator(ddp_ckpt), [0]).shape == (1, 32, 32, 3)

    # Statistics. Both runs start from the same weights and see the same reals and latents in
    # each global batch; they differ only where randomness is per process (noise inputs, style
    # mixing, augmentation) and in the minibatch-stddev groups (4 samples vs 2 per process). So
    # the runs are not bit-identical, but their statistics agree: on the 4 stats lines the mean
    # loss_G and loss_D over the run differ by less than 0.25 (about 0.1 observed) and every
    # line by less than 0.6; the R1 penalties agree within a factor of 3.
    ddp, one = read_stats(tmp_path / "ddp"), read_stats(tmp_path / "single")
    assert [s["step"] for s in ddp] == [s["step"] for s in one] == [4, 8, 12, 16]
    assert [s["kimg"] for s in ddp] == [s["kimg"] for s in one]
    for key in ("loss_G", "loss_D"):
        x, y = np.array([s[key] for s in ddp]), np.array([s[key] for s in one])
        assert abs(x.mean() - y.mean()) < 0.25, (key, x, y)
        assert np.abs(x - y).max() < 0.6, (key, x, y)
    r1_ddp, r1_one = np.mean([s["r1"] for s in ddp]), np.mean([s["r1"] for s in one])
    assert 1 / 3 < r1_ddp / r1_one < 3
