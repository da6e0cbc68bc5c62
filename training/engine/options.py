"""Training options: every hyper-parameter of a run, stored as JSON in each checkpoint."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from training.engine.config import NetworkConfig
from training.engine.option_fields import check_fields, option

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


# Bounds are what the engine and the database accept: a seed must fit the RNGs'
# 64-bit state after per-rank offsets, kimg counts become integer image counts.
MAX_SEED = 2**31 - 1
MAX_KIMG = 100_000.0  # 100 M images: four times the longest run in the StyleGAN2-ADA paper


@dataclass
class TrainConfig:
    # One line per option: the CLI, the admin form and the presets read these (option_fields).
    network: NetworkConfig = field(default_factory=NetworkConfig)
    batch_size: int = option(
        16,
        "global batch size (split over processes)",
        label="Batch size",
        minimum=1,
        maximum=1024,
        basic=True,
    )
    total_kimg: float = option(
        1000.0,
        "train until this many thousand real images were shown to D",
        label="Target length (kimg)",
        minimum=0.001,
        maximum=MAX_KIMG,
        basic=True,
    )
    g_lr: float = option(
        0.0025, "generator learning rate (Adam)", label="Generator learning rate", minimum=1e-6, maximum=1.0
    )
    d_lr: float = option(
        0.0025,
        "discriminator learning rate (Adam)",
        label="Discriminator learning rate",
        minimum=1e-6,
        maximum=1.0,
    )
    r1_gamma: float | None = option(
        None,
        "R1 weight; none = 0.0002 * resolution^2 / batch",
        label="R1 γ",
        minimum=0.0,
        maximum=10_000.0,
        basic=True,
    )
    r1_interval: int = option(
        16, "steps between lazy R1 regularisation passes", label="R1 every (steps)", minimum=1, maximum=1000
    )
    pl_weight: float = option(
        2.0,
        "path-length regularisation weight (0 = off)",
        label="Path-length weight",
        minimum=0.0,
        maximum=100.0,
    )
    pl_interval: int = option(
        4, "steps between lazy path-length passes", label="Path length every (steps)", minimum=1, maximum=1000
    )
    style_mixing_prob: float = option(
        0.9, "share of steps that mix two latents", label="Style-mixing probability", minimum=0.0, maximum=1.0
    )
    ema_kimg: float = option(
        10.0,
        "half-life of the generator's moving average in kimg (at batch 32)",
        label="EMA half-life (kimg)",
        minimum=0.001,
        maximum=MAX_KIMG,
    )
    ema_rampup: float | None = option(
        0.05,
        "ramp the EMA half-life up over this share of the images seen; none = no ramp",
        label="EMA ramp-up (share of images)",
        minimum=1e-6,
        maximum=10.0,
    )
    ada: bool = option(
        True, "adaptive discriminator augmentation", label="Adaptive augmentation (ADA)", basic=True
    )
    ada_target: float = option(
        0.6,
        "ADA's target for the overfitting heuristic r_t",
        label="ADA target r_t",
        minimum=0.01,
        maximum=0.99,
        basic=True,
    )
    ada_interval: int = option(
        4, "steps between ADA probability updates", label="ADA update every (steps)", minimum=1, maximum=1000
    )
    ada_kimg: float = option(
        500.0,
        "kimg for ADA's probability to go from 0 to 1",
        label="ADA ramp (kimg from p 0 to 1)",
        minimum=0.001,
        maximum=MAX_KIMG,
    )
    mirror: bool = option(False, "random x-flips of the reals", label="Mirror (x-flips)", basic=True)
    tick_kimg: float = option(
        4.0,
        "kimg between stats lines and sample grids",
        label="Sample grid every (kimg)",
        minimum=0.001,
        maximum=MAX_KIMG,
        basic=True,
    )
    checkpoint_kimg: float = option(
        50.0,
        "kimg between checkpoints",
        label="Checkpoint every (kimg)",
        minimum=0.001,
        maximum=MAX_KIMG,
        basic=True,
    )
    metric_kimg: float | None = option(
        None,
        "kimg between SWD measurements; none = never",
        label="SWD every (kimg)",
        minimum=0.001,
        maximum=MAX_KIMG,
    )
    metric_samples: int = option(
        1000, "images per side of an SWD measurement", label="SWD images per side", minimum=1, maximum=100_000
    )
    seed: int = option(
        0,
        "random seed of weights, data order and latents",
        label="Seed",
        minimum=0,
        maximum=MAX_SEED,
        basic=True,
    )
    precision: str = option(
        "auto", "auto = bf16/fp16 on CUDA, fp32 on the CPU", label="Number format", choices=PRECISIONS
    )
    # The worker's TORCH_DEVICE decides for admin runs.
    device: str = option("auto", "auto, cpu, cuda or cuda:N", label="Device", admin=False)
    keep_checkpoints: int = option(
        0,
        "0 = keep every checkpoint; n = only the newest n",
        label="Checkpoints kept",
        minimum=0,
        maximum=100_000,
    )
    max_minutes: float | None = option(
        None,
        "stop (with a checkpoint) after this many minutes of this process's training, even before "
        "total_kimg: a run sized by the time a GPU is lent for; empty = no limit",
        label="Time limit (minutes)",
        minimum=0.01,
        maximum=1e6,
    )
    data_on_device: bool = option(
        True,
        "on CUDA, hold the packed dataset in GPU memory when it fits (a quarter of the free memory at "
        "most) and gather each batch there",
        label="Dataset in GPU memory",
    )
    channels_last: bool = option(
        False,
        "on CUDA, keep weights and activations channels-last (NHWC); ignored on the CPU",
        label="Channels-last layout",
    )
    compile: bool = option(
        False,
        "compile the main G and D passes with torch.compile (the lazy R1 and path-length passes stay eager: "
        "compiled graphs have no double backward); the first steps then take minutes",
        label="Compile (torch.compile)",
    )

    def __post_init__(self) -> None:
        if isinstance(self.network, dict):
            self.network = NetworkConfig.from_dict(self.network)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the bad option and what would be accepted."""
        if not isinstance(self.network, NetworkConfig):
            raise ValueError(
                f"TrainConfig.network must be a NetworkConfig, got {type(self.network).__name__}."
            )
        self.network.validate()
        _positive_int("batch_size", self.batch_size)
        _positive_int("r1_interval", self.r1_interval)
        _positive_int("pl_interval", self.pl_interval)
        _positive_int("ada_interval", self.ada_interval)
        _positive_int("metric_samples", self.metric_samples)
        for name in ("total_kimg", "g_lr", "d_lr", "ema_kimg", "ada_kimg", "tick_kimg", "checkpoint_kimg"):
            _positive_number(name, getattr(self, name))
        if self.metric_kimg is not None:
            _positive_number("metric_kimg", self.metric_kimg)
        if self.max_minutes is not None:
            _positive_number("max_minutes", self.max_minutes)
        for name in ("data_on_device", "channels_last", "compile"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r} must be true or false.")
        if self.r1_gamma is not None and not (_is_number(self.r1_gamma) and self.r1_gamma >= 0):
            raise ValueError(
                f"TrainConfig.r1_gamma={self.r1_gamma!r} must be >= 0, or None for the automatic value."
            )
        if not (_is_number(self.pl_weight) and self.pl_weight >= 0):
            raise ValueError(f"TrainConfig.pl_weight={self.pl_weight!r} must be >= 0 (0 turns it off).")
        if not (_is_number(self.style_mixing_prob) and 0 <= self.style_mixing_prob <= 1):
            raise ValueError(
                f"TrainConfig.style_mixing_prob={self.style_mixing_prob!r} must be between 0 and 1."
            )
        if self.ema_rampup is not None and not (_is_number(self.ema_rampup) and self.ema_rampup > 0):
            raise ValueError(f"TrainConfig.ema_rampup={self.ema_rampup!r} must be > 0, or None for no ramp.")
        if not (_is_number(self.ada_target) and 0 < self.ada_target < 1):
            raise ValueError(f"TrainConfig.ada_target={self.ada_target!r} must be strictly between 0 and 1.")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"TrainConfig.seed={self.seed!r} must be a non-negative integer.")
        if not isinstance(self.keep_checkpoints, int) or self.keep_checkpoints < 0:
            raise ValueError(
                f"TrainConfig.keep_checkpoints={self.keep_checkpoints!r} must be 0 (keep all) or a positive count."
            )
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"TrainConfig.precision={self.precision!r} is unknown: choose one of {', '.join(PRECISIONS)}."
            )
        if not isinstance(self.device, str) or not (
            self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")
        ):
            raise ValueError(f"TrainConfig.device={self.device!r} must be 'auto', 'cpu', 'cuda' or 'cuda:N'.")
        check_fields(self, "training")

    # Derived values -------------------------------------------------------------------------

    @property
    def r1_gamma_value(self) -> float:
        """The R1 weight actually used: explicit, or 0.0002 * R^2 / batch (the ADA paper's heuristic)."""
        if self.r1_gamma is not None:
            return float(self.r1_gamma)
        return 0.0002 * self.network.resolution**2 / self.batch_size

    def ema_beta(self, cur_nimg: int) -> float:
        """Per-step EMA decay: half-life ema_kimg * batch/32, ramped up over the first images."""
        ema_nimg = self.ema_kimg * 1000 * self.batch_size / 32
        if self.ema_rampup is not None:
            ema_nimg = min(ema_nimg, cur_nimg * self.ema_rampup)
        return 0.5 ** (self.batch_size / max(ema_nimg, 1e-8))

    def lazy_ratio(self, interval: int) -> float:
        """Lazy regularisation runs every `interval` steps: scale Adam's lr and betas to match."""
        return interval / (interval + 1)

    # Serialisation --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["network"] = self.network.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"TrainConfig got unknown key(s) {unknown}; known keys are {sorted(known)}. "
                "Was this written by a newer version of the engine?"
            )
        values = dict(d)
        values["network"] = NetworkConfig.from_dict(dict(d.get("network", {})))
        return cls(**values)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"TrainConfig.{name}={value!r} must be a positive integer.")


def _positive_number(name: str, value: Any) -> None:
    if not (_is_number(value) and value > 0):
        raise ValueError(f"TrainConfig.{name}={value!r} must be a positive number.")
