"""Network configuration: the shape of a generator/discriminator pair.

Stored in every checkpoint as plain JSON (``to_dict``), so a checkpoint can be
rebuilt without pickles.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from training.engine.option_fields import check_fields, option

STYLE_MODES = ("modulated", "adain")
RESAMPLINGS = ("stylegan2", "legacy")


def with_saved_defaults(network: dict[str, Any]) -> dict[str, Any]:
    """A network dict read from a checkpoint, with the values of keys added since it was written:
    checkpoints from before ``resampling`` existed hold the legacy layers."""
    return {"resampling": "legacy", **network}


RESOLUTIONS = (32, 64, 128, 256, 512, 1024)


@dataclass
class NetworkConfig:
    # One line per option: the CLI, the admin form and the benchmarks read these (option_fields).
    resolution: int = option(
        256, "square image size in px", label="Resolution", choices=RESOLUTIONS, basic=True
    )
    z_dim: int = option(512, "size of the latent z", label="Latent z size", minimum=1, maximum=4096)
    w_dim: int = option(
        512, "size of the intermediate latent w (the style)", label="Style w size", minimum=1, maximum=4096
    )
    mapping_layers: int = option(
        8, "layers of the mapping network z -> w", label="Mapping layers", minimum=1, maximum=32
    )
    mapping_lr_mult: float = option(
        0.01,
        "mapping network learning-rate multiplier (StyleGAN: 0.01)",
        label="Mapping learning-rate factor",
        minimum=1e-6,
        maximum=1,
    )
    channel_base: int = option(
        16384,
        "feature channels at resolution r are min(channel_base / r, channel_max)",
        label="Channel base",
        minimum=1,
        maximum=65536,
    )
    channel_max: int = option(
        512, "most feature channels of any layer", label="Most channels per layer", minimum=1, maximum=2048
    )
    style_mode: str = option(
        "modulated",
        "modulated (StyleGAN2, no droplet artefacts) or adain (the 2018 StyleGAN)",
        label="Style mode",
        choices=STYLE_MODES,
        basic=True,
    )
    # Set from the run's genres by the admin (one class per genre), not typed in.
    num_classes: int = option(
        0,
        "0 = unconditional; n = a class-conditional model of n classes",
        label="Classes",
        minimum=0,
        maximum=1000,
        admin=False,
    )
    mbstd_group: int = option(
        4,
        "minibatch standard-deviation group size in D",
        label="Minibatch-stddev group size",
        minimum=1,
        maximum=64,
    )
    resampling: str = option(
        "stylegan2",
        "how blocks change resolution: 'stylegan2' (transposed 3x3 stride-2 conv + [1,3,3,1] blur in G, "
        "blur + stride-2 conv in D) or 'legacy' (the first engine's resize-then-convolve, kept so older "
        "checkpoints load)",
        label="Resampling layers",
        choices=RESAMPLINGS,
    )

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the bad field and the accepted values."""
        r = self.resolution
        if not isinstance(r, int) or r < 32 or r > 1024 or (r & (r - 1)) != 0:
            raise ValueError(
                f"NetworkConfig.resolution={r!r} is not supported: use a power of two from 32 to 1024 "
                "(32, 64, 128, 256, 512 or 1024)."
            )
        for name in ("z_dim", "w_dim", "channel_base", "channel_max", "mbstd_group"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"NetworkConfig.{name}={value!r} must be a positive integer.")
        if not isinstance(self.mapping_layers, int) or self.mapping_layers < 1:
            raise ValueError(
                f"NetworkConfig.mapping_layers={self.mapping_layers!r} must be an integer of at least 1."
            )
        if not isinstance(self.num_classes, int) or self.num_classes < 0:
            raise ValueError(
                f"NetworkConfig.num_classes={self.num_classes!r} must be 0 (unconditional) "
                "or a positive number of classes."
            )
        lr_mult = self.mapping_lr_mult
        if not isinstance(lr_mult, (int, float)) or not (0 < lr_mult <= 1):
            raise ValueError(
                f"NetworkConfig.mapping_lr_mult={lr_mult!r} must be a number in (0, 1] (StyleGAN uses 0.01)."
            )
        if self.style_mode not in STYLE_MODES:
            raise ValueError(
                f"NetworkConfig.style_mode={self.style_mode!r} is unknown: "
                f"choose one of {', '.join(STYLE_MODES)}."
            )
        check_fields(self, "network")

    @property
    def log2_resolution(self) -> int:
        return int(math.log2(self.resolution))

    @property
    def num_ws(self) -> int:
        """One w per synthesis layer: conv+toRGB at 4x4, then two convs per doubling."""
        return 2 * self.log2_resolution - 2

    def channels_at(self, res: int) -> int:
        """Feature channels used at a given resolution of the pyramid."""
        return max(1, min(self.channel_base // res, self.channel_max))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetworkConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"NetworkConfig got unknown key(s) {unknown}; known keys are {sorted(known)}. "
                "Was this written by a newer version of the engine?"
            )
        return cls(**d)
