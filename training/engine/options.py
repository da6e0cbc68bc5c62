"""Training options: every hyper-parameter of a run, stored as JSON in each checkpoint."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from training.engine.config import NetworkConfig

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class TrainConfig:
    network: NetworkConfig = field(default_factory=NetworkConfig)
    batch_size: int = 16
    total_kimg: float = 1000.0
    g_lr: float = 0.0025
    d_lr: float = 0.0025
    r1_gamma: float | None = None  # None = 0.0002 * resolution**2 / batch_size
    r1_interval: int = 16
    pl_weight: float = 2.0
    pl_interval: int = 4
    style_mixing_prob: float = 0.9
    ema_kimg: float = 10.0
    ema_rampup: float | None = 0.05
    ada: bool = True
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_kimg: float = 500.0
    mirror: bool = False
    tick_kimg: float = 4.0
    checkpoint_kimg: float = 50.0
    metric_kimg: float | None = None
    metric_samples: int = 1000
    seed: int = 0
    precision: str = "auto"
    device: str = "auto"
    keep_checkpoints: int = 0  # 0 = keep every checkpoint; n > 0 = only the newest n
    max_minutes: float | None = field(
        default=None,
        metadata={
            "help": "stop (with a checkpoint) after this many minutes of this process's training, "
            "even before total_kimg: a run sized by the time a GPU is lent for; empty = no limit"
        },
    )
    data_on_device: bool = field(
        default=True,
        metadata={
            "help": "on CUDA, hold the packed dataset in GPU memory when it fits (a quarter of the free "
            "memory at most) and gather each batch there"
        },
    )
    channels_last: bool = field(
        default=False,
        metadata={"help": "on CUDA, keep weights and activations channels-last (NHWC); ignored on the CPU"},
    )
    compile: bool = field(
        default=False,
        metadata={
            "help": "torch.compile the main G and D passes (the lazy R1 and path-length passes stay eager: "
            "compiled graphs have no double backward); the first steps then take minutes"
        },
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
        for name in ("data_on_device", "channels_last", "compile"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r} must be true or false.")
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"TrainConfig.precision={self.precision!r} is unknown: choose one of {', '.join(PRECISIONS)}."
            )
        if not isinstance(self.device, str) or not (
            self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")
        ):
            raise ValueError(f"TrainConfig.device={self.device!r} must be 'auto', 'cpu', 'cuda' or 'cuda:N'.")

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
