"""The training loop at tiny sizes on CPU: it trains, resumes exactly, stops when asked, adapts ADA."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training.engine.checkpoint import load_checkpoint, load_generator
from training.engine.config import NetworkConfig
from training.engine.dataset import PackedDataset, held_out_split, pack_images
from training.engine.generate import generate_images
from training.engine.loop import METRIC_SEED_BASE, TrainCallbacks, Trainer, train
from training.engine.options import TrainConfig
from training.engine.quality import measure_quality

TINY_NET = dict(resolution=32, z_dim=32, w_dim=32, mapping_layers=2, channel_base=1024, channel_max=32)
STATS_KEYS = {
    "kimg",
    "step",
    "loss_G",
    "loss_D",
    "r1",
    "pl",
    "augment_p",
    "sec_per_kimg",
    "images_per_second",
    "mem_mb",
    "eta_seconds",
}


@pytest.fixture(autouse=True)
def _one_thread():
    # The test machine's two cores are shared; one intra-op thread is far faster under load.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def structured_images(n: int, res: int = 32, seed: int = 0) -> list[np.ndarray]:
    """Coloured discs on two-colour vertical gradients: easy structure, far from noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:res, 0:res] / res
    out = []
    for _ in range(n):
        top, bottom = rng.random(3), rng.random(3)
        img = top * (1 - yy[..., None]) + bottom * yy[..., None]
        cx, cy, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.3)
        img[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = rng.random(3)
        out.append((img * 255).round().astype(np.uint8))
    return out


def make_packed_dataset(folder: Path, n: int = 16, seed: int = 0, labels: list[int] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(structured_images(n, 32, seed)):
        paths.append(folder / f"{i:03d}.png")
        Image.fromarray(img).save(paths[-1])
    return pack_images(paths, folder / "data.pack", 32, labels=labels).out_path


def tiny_train_config(steps: int, **overrides) -> TrainConfig:
    """Batch 4, so ``steps`` steps are ``steps * 4`` images; ticks every 2 steps by default.

    Always on CPU: exactness and the measured figures are promised there, even on a GPU machine.
    """
    net = dict(TINY_NET, **overrides.pop("network", {}))
    values = dict(
        network=NetworkConfig(**net),
        batch_size=4,
        total_kimg=steps * 4 / 1000,
        tick_kimg=0.008,
        checkpoint_kimg=100.0,
        r1_interval=4,
        pl_interval=2,
        ada_interval=2,
        ada_kimg=0.1,
        device="cpu",
    )
    values.update(overrides)
    return TrainConfig(**values)


class Recorder(TrainCallbacks):
    def __init__(self, stop_after: int | None = None) -> None:
        self.started: list[dict] = []
        self.ticks: list[tuple[dict, Path]] = []
        self.checkpoints: list[Path] = []
        self.stop_checks = 0
        self.stop_after = stop_after

    def on_start(self, info: dict) -> None:
        self.started.append(info)

    def on_tick(self, stats: dict, grid_path: Path) -> None:
        self.ticks.append((stats, grid_path))

    def on_checkpoint(self, path: Path, stats: dict) -> None:
        self.checkpoints.append(path)

    def should_stop(self) -> bool:
        self.stop_checks += 1
        return self.stop_after is not None and self.stop_checks > self.stop_after


def read_stats(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines() if line]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_packed_dataset(tmp_path_factory.mktemp("data"), n=16)


@pytest.mark.parametrize("style_mode", ["modulated", "adain"])
def test_both_style_modes_train_and_write_stats_samples_checkpoint(
    dataset: Path, tmp_path: Path, style_mode: str
):
    cb = Recorder()
    config = tiny_train_config(6, network={"style_mode": style_mode})
    result = train(config, dataset, tmp_path / "run", callbacks=cb, progress=False)

    assert (result.steps, result.kimg, result.stopped) == (6, 0.024, False)
    assert result.last_checkpoint == tmp_path / "run" / "checkpoints" / "ckpt-00000006.pt"
    lines = read_stats(tmp_path / "run")
    assert [line["step"] for line in lines] == [2, 4, 6]
    for line in lines:
        assert STATS_KEYS <= set(line)
        assert np.isfinite(line["loss_G"]) and np.isfinite(line["loss_D"])
        assert line["images_per_second"] > 0 and line["mem_mb"] > 0
    assert cb.started[0]["params_G"] > 0 and cb.started[0]["precision"] == "fp32"
    assert len(cb.ticks) == 3
    grid = Image.open(cb.ticks[-1][1])
    assert grid.size == (8 * 32, 4 * 32)
    assert (tmp_path / "run" / "samples" / "reals.png").exists()

    state = load_checkpoint(result.last_checkpoint)
    assert state["meta"]["config"]["network"]["style_mode"] == style_mode
    torch.manual_seed(config.seed)  # the loop builds the networks right after this seed
    from training.engine.networks import build_networks

    G0, _ = build_networks(config.network)
    moved = [not torch.equal(state["G"][k], v) for k, v in G0.state_dict().items() if v.is_floating_point()]
    assert any(moved), "training changed the generator"
    G = load_generator(result.last_checkpoint)
    assert generate_images(G, [0, 1]).shape == (2, 32, 32, 3)


def test_resume_continues_exactly(dataset: Path, tmp_path: Path):
    # A fast D and a low ADA target so p is above 0 from step 6: the augmentations draw random
    # numbers on both sides of the stop at step 7. Mirror, R1 (every 4) and path length (every 2)
    # are on too, so every random stream and lazy interval is exercised across the stop.
    def config() -> TrainConfig:
        return tiny_train_config(14, ada_target=0.01, d_lr=0.01, g_lr=0.0005, mirror=True)

    straight = train(config(), dataset, tmp_path / "straight", progress=False)
    first = train(config(), dataset, tmp_path / "resumed", callbacks=Recorder(stop_after=7), progress=False)
    assert (first.steps, first.stopped) == (7, True)
    assert load_checkpoint(first.last_checkpoint)["ada"]["p"] > 0
    cb = Recorder()
    second = train(config(), dataset, tmp_path / "resumed", callbacks=cb, progress=False)
    assert cb.started[0]["resumed_from"].endswith("ckpt-00000007.pt")
    assert second.steps == straight.steps == 14

    a, b = load_checkpoint(straight.last_checkpoint), load_checkpoint(second.last_checkpoint)
    assert a["ada"]["p"] > 0, "the augmentations were active"
    assert a["ada"] == b["ada"]
    for key in ("G", "D", "G_ema"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name} differs after resume"
    for key in ("opt_G", "opt_D"):
        for idx, slot in a[key]["state"].items():
            for name, tensor in slot.items():
                assert torch.equal(torch.as_tensor(tensor), torch.as_tensor(b[key]["state"][idx][name]))
    straight_losses = [(s["step"], s["loss_G"], s["loss_D"]) for s in read_stats(tmp_path / "straight")]
    resumed_losses = [(s["step"], s["loss_G"], s["loss_D"]) for s in read_stats(tmp_path / "resumed")]
    # Tick 8 of the resumed run averages only step 8; later ticks must match to the bit.
    assert [s for s in resumed_losses if s[0] > 8] == [s for s in straight_losses if s[0] > 8]


def test_should_stop_stops_at_next_step_with_a_checkpoint(dataset: Path, tmp_path: Path):
    cb = Recorder(stop_after=3)
    result = train(tiny_train_config(50), dataset, tmp_path / "run", callbacks=cb, progress=False)
    assert result.stopped and result.steps == 3
    assert cb.stop_checks == 4, "checked before every step, and the 4th check stopped it"
    assert cb.checkpoints == [result.last_checkpoint]
    assert load_checkpoint(result.last_checkpoint)["meta"]["step"] == 3


def test_resume_refuses_a_different_network(dataset: Path, tmp_path: Path):
    train(tiny_train_config(2), dataset, tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match="resume with the same network"):
        train(
            tiny_train_config(4, network={"style_mode": "adain"}), dataset, tmp_path / "run", progress=False
        )
    with pytest.raises(ValueError, match="already holds checkpoints"):
        train(tiny_train_config(4), dataset, tmp_path / "run", resume=None, progress=False)


def test_class_conditional_training(tmp_path: Path):
    data = make_packed_dataset(tmp_path / "data", n=8, labels=[0, 1] * 4)
    result = train(tiny_train_config(4, network={"num_classes": 2}), data, tmp_path / "run", progress=False)
    G = load_generator(result.last_checkpoint)
    a = generate_images(G, [3], class_idx=0)
    b = generate_images(G, [3], class_idx=1)
    assert not np.array_equal(a, b), "the class label reaches the generator"


@pytest.mark.slow
def test_ada_p_rises_when_the_discriminator_overfits_a_tiny_dataset(tmp_path: Path):
    # 8 images, a discriminator learning 4x faster than usual and a slow generator: D soon
    # tells reals from fakes, E[sign D(real)] passes the 0.6 target and ADA must respond.
    data = make_packed_dataset(tmp_path / "data", n=8, seed=1)
    common = dict(d_lr=0.01, g_lr=0.0005, pl_weight=0.0, ada_kimg=0.5, ada_interval=4, tick_kimg=0.04)
    train(tiny_train_config(100, **common), data, tmp_path / "ada", progress=False)
    p = [line["augment_p"] for line in read_stats(tmp_path / "ada")]
    assert p[0] < 0.1 and max(p) > 0.15, f"augment p over ticks: {p}"

    train(tiny_train_config(20, ada=False, **common), data, tmp_path / "off", progress=False)
    assert {line["augment_p"] for line in read_stats(tmp_path / "off")} == {0.0}


@pytest.mark.slow
def test_short_training_lowers_swd_against_its_start(tmp_path: Path):
    # Discs on gradients with a fine canvas-like grain, 640 of them so that 64 are held out.
    # 300 steps of batch 8 (2.4 kimg, about 25 s on one core) at twice the usual learning rate.
    # Measured with 64 samples against the 64 held-out images (never trained on), precision
    # rises from about 0.4 to 1.0 and the coarse 16px SWD falls to about 0.85x its start; the
    # fine level does not improve yet at 2.4 kimg (seed 0).
    folder = tmp_path / "data"
    folder.mkdir()
    rng = np.random.default_rng(9)
    paths = []
    for i, img in enumerate(structured_images(640, 32, seed=5)):
        grain = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).round().astype(np.uint8)
        paths.append(folder / f"{i:03d}.png")
        Image.fromarray(grain).save(paths[-1])
    data = pack_images(paths, folder / "data.pack", 32).out_path
    steps = 300
    config = tiny_train_config(
        steps,
        batch_size=8,
        total_kimg=steps * 8 / 1000,
        g_lr=0.005,
        d_lr=0.005,
        ema_kimg=0.5,
        pl_weight=0.0,
        ada=False,
        metric_kimg=steps * 8 / 1000,
        metric_samples=128,
        tick_kimg=0.8,
    )
    train(config, data, tmp_path / "run", progress=False)
    measured = [line for line in read_stats(tmp_path / "run") if "swd" in line]
    assert [m["step"] for m in measured] == [0, steps], "measured at the start and at the end"
    start, end = measured
    assert end["precision"] > start["precision"] + 0.3, f"precision start -> end: {start} -> {end}"
    assert end["swd_16"] < 0.95 * start["swd_16"], f"coarse SWD start -> end: {start} -> {end}"
    # The loop's figure is the public metric: the EMA generator's samples against half the
    # held-out reals (quality.measure_quality), which training never saw.
    G = load_generator(tmp_path / "run" / "checkpoints" / f"ckpt-{steps:08d}.pt")
    ds = PackedDataset(data)
    held = held_out_split(ds)[1]
    report = measure_quality(G, ds.batch(held)[0], n_fake=64, seed=config.seed, seed_start=METRIC_SEED_BASE)
    assert report.swd == pytest.approx(end["swd"])
    assert end["swd_floor"] == report.swd_floor


def test_train_config_round_trips_and_derives_values():
    config = tiny_train_config(10, r1_gamma=None, ema_kimg=10.0, ema_rampup=0.05)
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert config.r1_gamma_value == pytest.approx(0.0002 * 32**2 / 4)
    assert TrainConfig(network=NetworkConfig(), batch_size=16).r1_gamma_value == pytest.approx(0.8192)
    # Half-life 10 kimg * 4/32 = 1250 images, ramped to 5% of the images seen so far.
    assert config.ema_beta(10**7) == pytest.approx(0.5 ** (4 / 1250))
    assert config.ema_beta(1000) == pytest.approx(0.5 ** (4 / 50))
    with pytest.raises(ValueError, match="TrainConfig got unknown key"):
        TrainConfig.from_dict({**config.to_dict(), "learning_rate": 1})
    with pytest.raises(ValueError, match="precision='fp8'"):
        tiny_train_config(1, precision="fp8")
    with pytest.raises(ValueError, match=r"ada_target=1\.5"):
        tiny_train_config(1, ada_target=1.5)
    with pytest.raises(ValueError, match=r"NetworkConfig\.resolution=48"):
        TrainConfig.from_dict({**config.to_dict(), "network": {**config.network.to_dict(), "resolution": 48}})


def test_max_minutes_stops_the_run_on_time_with_a_checkpoint(dataset: Path, tmp_path: Path):
    """A run sized by the GPU time it is lent: when the minutes are up it stops at a step
    boundary and leaves a checkpoint it can resume from."""
    config = tiny_train_config(50, max_minutes=0.05)  # 3 seconds: a few steps, far from 50
    result = train(config, dataset, tmp_path / "run", progress=False)
    assert result.stopped and 0 < result.steps < 50
    assert load_checkpoint(result.last_checkpoint)["progress"]["step"] == result.steps
    with pytest.raises(ValueError, match="max_minutes"):
        tiny_train_config(2, max_minutes=0)


def test_compiled_main_passes_train_like_the_eager_ones_with_lazy_r1_and_path_length(
    dataset: Path, monkeypatch
):
    """compile=True routes G main and D main through torch.compile; R1 and path length stay
    eager (they need double backward). Dynamo's tracing and AOT autograd are exercised with
    the eager backend here (the C++ compile of inductor takes minutes on this CPU)."""
    original = torch.compile
    monkeypatch.setattr(torch, "compile", lambda module: original(module, backend="aot_eager"))
    ds = PackedDataset(dataset)

    def run(compiled: bool) -> list[dict]:
        torch.manual_seed(0)
        trainer = Trainer(tiny_train_config(4, compile=compiled), ds)
        return [{k: float(v) for k, v in trainer.step().items()} for _ in range(4)]

    eager, compiled = run(False), run(True)
    assert [sorted(s) for s in compiled] == [sorted(s) for s in eager]
    assert any("r1" in s for s in compiled) and any("pl" in s for s in compiled)
    for a, b in zip(eager, compiled, strict=True):
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=1e-3, abs=1e-5), key


@pytest.mark.parametrize("conditional", [False, True])
def test_the_steady_state_step_puts_no_host_data_on_the_device(tmp_path: Path, monkeypatch, conditional):
    """On a GPU, ``torch.tensor(data, device=...)`` is a host-to-device copy that waits for the
    device. The blur filters were made that way in every layer of every step, and an H200 sat
    idle between kernels (268 img/s at 64 px). After the first step (which makes the cached
    filters), a whole lazy-regularisation cycle with ADA must make no such tensor in the engine
    (the batches' indices and latents travel pinned and non-blocking instead)."""
    labels = [i % 2 for i in range(16)] if conditional else None
    ds = PackedDataset(make_packed_dataset(tmp_path, n=16, labels=labels))
    network = {"num_classes": 2} if conditional else {}
    trainer = Trainer(tiny_train_config(8, network=network), ds)
    trainer.augment_pipe.p.fill_(0.8)
    trainer.ada.ada_kimg = float("inf")
    trainer.step()
    made: list[str] = []

    def watch(make):
        def wrapped(*args, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if "device" in kwargs and f"training{os.sep}engine" in caller:
                made.append(f"{make.__name__} in {caller}:{sys._getframe(1).f_lineno}")
            return make(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(torch, "tensor", watch(torch.tensor))
    monkeypatch.setattr(torch, "as_tensor", watch(torch.as_tensor))
    stats = [trainer.step() for _ in range(4)]  # r1_interval 4, pl_interval 2: both lazy passes ran
    assert any("r1" in s for s in stats) and any("pl" in s for s in stats)
    assert made == []
