"""How long a run would take, from the speed earlier runs measured.

Every run records its images per second and the device it trained on
(``TrainingRun.device``, e.g. ``cpu ×2``). A new configuration is estimated
from the closest earlier run on the same kind of device: exact when one had
the same network and batch, otherwise scaled by the networks' relative cost
(and then labelled as extrapolated).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .models import TrainingRun


def network_cost(network: dict[str, Any]) -> float:
    """Relative cost of one image through G and D: the 3×3 convolutions' multiply-adds,
    sum over the pyramid of resolution² × channels² (the mapping network is negligible)."""
    from training.engine.config import NetworkConfig

    config = NetworkConfig.from_dict(network)
    cost = 0.0
    res = 4
    while res <= config.resolution:
        cost += res * res * config.channels_at(res) ** 2
        res *= 2
    return cost


@dataclass(frozen=True)
class Estimate:
    seconds: float
    images_per_second: float
    run_id: int
    run_device: str
    extrapolated: bool


def estimate(config: dict[str, Any], device: str) -> Estimate | None:
    """The estimated training time of ``config`` on a ``device`` ("cpu"/"cuda") worker,
    or None when no earlier run on such a device measured its speed."""
    measured = (
        TrainingRun.objects.filter(images_per_second__gt=0, device__startswith=device)
        .order_by("-pk")
        .values("pk", "config", "images_per_second", "device")[:200]
    )
    cost = network_cost(config["network"])
    best: tuple[float, dict[str, Any]] | None = None
    for row in measured:
        other = row["config"] or {}
        try:
            other_cost = network_cost(other.get("network") or {})
        except ValueError:
            continue  # a run stored by an older engine: not comparable
        exact = other.get("network") == config["network"] and other.get("batch_size") == config["batch_size"]
        distance = 0.0 if exact else abs(1.0 - other_cost / cost) + 1e-9
        if best is None or distance < best[0]:
            best = (distance, {**row, "cost": other_cost, "exact": exact})
        if exact:
            break
    if best is None:
        return None
    row = best[1]
    speed = row["images_per_second"] if row["exact"] else row["images_per_second"] * row["cost"] / cost
    return Estimate(
        seconds=config["total_kimg"] * 1000 / speed,
        images_per_second=speed,
        run_id=row["pk"],
        run_device=row["device"],
        extrapolated=not row["exact"],
    )
