"""The quality report of a generator: is it worth hanging, and if not, why not.

Given a generator and a held-out part of the collection it learned from, the
report measures, in the fixed feature space of ``features.py``:

- multi-scale **SWD** (``metrics.sliced_wasserstein``) of the generated images
  against half A of the held-out reals, beside its **floor**: the SWD between
  halves A and B, i.e. what a perfect generator would score with this many images;
- **precision** and **recall** (Kynkäänniemi et al. 2019, "Improved precision and
  recall metric for assessing generative models"): each set's manifold is the
  union of balls reaching each sample's k-th nearest neighbour (k = 3); precision
  is the share of fakes inside the reals' manifold (realism), recall the share of
  reals inside the fakes' manifold (coverage);
- the **diversity** ratio: mean pairwise distance of the fakes over the same
  figure for the reals (1 = as varied as the collection, 0 = one picture);
- the **near-duplicate rate**: the share of fakes that have another fake closer
  than the closest pair of distinct real images (mode collapse);
- the **copy rate**: the share of fakes whose nearest training image (or its
  mirror image) is closer than the closest pair of distinct training images
  (memorisation);

and gives a verdict against ``THRESHOLDS``, with one readable reason per
failed check; for a class-conditional generator also one report per class.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

import numpy as np
import torch

from training.engine.features import embed_uint8, pairwise_distances
from training.engine.metrics import check_images, sliced_wasserstein

PR_K = 3  # neighbourhood size of the precision/recall manifolds, as in the paper
FAKE_SEED_BASE = 1_000_000  # far from the seeds sample grids and galleries start from
MIN_REALS = 8
MAX_TRAINING = 4000  # training images compared for copies (a fixed, evenly spread subset)
EXACT = 1e-6  # distances below this are the same picture stored twice, not a "closest pair"
_CHUNK = 1024

# Why these numbers: the sample collection measured against itself (unseen painter
# seeds as the "generator", 64..300 images per side) scores SWD 0.9-1.3x its floor,
# precision and recall 0.75-0.9, diversity 0.97-1.03, near duplicates 0-3% and
# copies 0% (docs/quality.md). Each bound leaves that a wide margin, while a
# collapsed generator (one picture) scores recall ~0, diversity 0, near duplicates
# 100%, and a memorising one copies 100%.
THRESHOLDS: dict[str, float] = {
    "swd_ratio_max": 2.0,  # SWD at most twice the floor between two real halves
    "precision_min": 0.5,  # at least half the paintings look like some real painting
    "recall_min": 0.4,  # the paintings cover at least 40% of the collection's variety
    "diversity_min": 0.75,  # at least three quarters of the collection's spread
    "near_duplicate_rate_max": 0.1,  # at most 1 in 10 paintings has a near twin
    "copy_rate_max": 0.05,  # at most 1 in 20 paintings copies a training painting
}

ImageSource = Callable[[Sequence[int], int | None], np.ndarray]


@dataclass
class QualityReport:
    """Figures of one measurement (floats rounded only when shown), the verdict and why."""

    swd: float
    swd_floor: float
    precision: float
    recall: float
    diversity: float
    near_duplicate_rate: float
    copy_rate: float | None  # None when no training images were given
    n_real: int
    n_fake: int
    near_duplicate_threshold: float
    copy_threshold: float | None = None
    passed: bool = False
    reasons: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # names of the failed checks, e.g. "copies"
    kimg: float | None = None
    # True when the collection was too small to hold images out: the reals were trained on.
    reals_seen_in_training: bool = False
    swd_levels: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=lambda: dict(THRESHOLDS))
    per_class: dict[str, QualityReport] | None = None

    @property
    def swd_ratio(self) -> float:
        return self.swd / self.swd_floor if self.swd_floor > 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (stats.jsonl, checkpoint metadata, the database)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "per_class":
                value = None if value is None else {k: v.to_dict() for k, v in value.items()}
            elif isinstance(value, (dict, list)):
                value = type(value)(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityReport:
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        missing = required - set(data)
        if missing:
            raise ValueError(f"a quality report needs {', '.join(sorted(missing))}; got {sorted(data)}.")
        # Keys a newer version added are ignored, so older code still reads newer reports.
        values = {k: v for k, v in data.items() if k in names}
        if values.get("per_class") is not None:
            values["per_class"] = {k: cls.from_dict(v) for k, v in values["per_class"].items()}
        return cls(**values)

    def summary(self) -> str:
        """One line: the verdict and the first reason."""
        if self.passed:
            return "passed"
        return "failed: " + (self.reasons[0] if self.reasons else "no reason recorded")


# Distances ----------------------------------------------------------------------------------


def _min_distance_to(a: torch.Tensor, b: torch.Tensor, exclude_self: bool = False) -> torch.Tensor:
    """For each row of a, the distance to its nearest row of b, in chunks (b may be large)."""
    out = []
    for start in range(0, a.shape[0], _CHUNK):
        d = pairwise_distances(a[start : start + _CHUNK], b)
        if exclude_self:
            rows = torch.arange(d.shape[0])
            d[rows, rows + start] = math.inf
        out.append(d.min(dim=1).values)
    return torch.cat(out) if out else torch.zeros(0)


def near_duplicate_threshold(real_features: torch.Tensor) -> float:
    """The distance between the closest pair of distinct real images.

    Pairs closer than ``EXACT`` are the same picture stored twice (a collection
    may hold duplicates) and are skipped, so the threshold is never zero.
    """
    n = real_features.shape[0]
    if n < 2:
        raise ValueError(f"near_duplicate_threshold needs at least 2 real images, got {n}.")
    best = math.inf
    for start in range(0, n, _CHUNK):
        d = pairwise_distances(real_features[start : start + _CHUNK], real_features)
        rows = torch.arange(d.shape[0])
        d[rows, rows + start] = math.inf
        d[d < EXACT] = math.inf
        best = min(best, float(d.min()))
    if not math.isfinite(best):
        raise ValueError(
            "every real image is the same picture: a near-duplicate threshold needs distinct images."
        )
    return best


def precision_recall(
    real_features: torch.Tensor, fake_features: torch.Tensor, k: int = PR_K
) -> tuple[float, float]:
    """Kynkäänniemi et al. (2019) precision and recall with k-NN manifolds."""
    for name, feats in (("real", real_features), ("fake", fake_features)):
        if feats.shape[0] <= k:
            raise ValueError(
                f"precision/recall with k={k} needs more than {k} {name} images, got {feats.shape[0]}."
            )

    def radii(feats: torch.Tensor) -> torch.Tensor:
        d = pairwise_distances(feats, feats)
        return d.kthvalue(k + 1, dim=1).values  # the 1st value is the point itself (0)

    def inside(points: torch.Tensor, centres: torch.Tensor, r: torch.Tensor) -> float:
        d = pairwise_distances(points, centres)
        return float((d <= r[None, :]).any(dim=1).float().mean())

    r_real, r_fake = radii(real_features), radii(fake_features)
    return inside(fake_features, real_features, r_real), inside(real_features, fake_features, r_fake)


def mean_pairwise_distance(features: torch.Tensor) -> float:
    n = features.shape[0]
    if n < 2:
        raise ValueError(f"mean pairwise distance needs at least 2 images, got {n}.")
    return float(pairwise_distances(features, features).sum() / (n * (n - 1)))


def near_duplicate_rate(fake_features: torch.Tensor, threshold: float) -> float:
    """Share of fakes with another fake closer than ``threshold``."""
    if fake_features.shape[0] < 2:
        return 0.0
    nearest = _min_distance_to(fake_features, fake_features, exclude_self=True)
    return float((nearest < threshold).float().mean())


# Measuring ----------------------------------------------------------------------------------


def image_source(
    generator: Any, psi: float = 1.0, noise_mode: str = "const", truncation_cutoff: int | None = None
) -> ImageSource:
    """``(seeds, class_idx) -> uint8 [N, R, R, 3]`` for a ``networks.Generator`` or such a callable."""
    from training.engine.networks import Generator

    if isinstance(generator, Generator):
        from training.engine.generate import generate_images

        def source(seeds: Sequence[int], class_idx: int | None) -> np.ndarray:
            return generate_images(
                generator,
                seeds,
                psi=psi,
                truncation_cutoff=truncation_cutoff,
                noise_mode=noise_mode,
                class_idx=class_idx,
            )

        return source
    if callable(generator):
        return generator
    raise ValueError(
        f"measure_quality needs a Generator or a callable (seeds, class_idx) -> images, got {type(generator).__name__}."
    )


def training_features(training_reals: np.ndarray) -> tuple[torch.Tensor, float]:
    """Features of (an even subset of) the training images and of their mirror images
    (``[2M, D]``: training with x-flips can teach a model a painting's mirror image,
    and that is a copy too), and the copy threshold: the closest pair of two distinct
    training images, either of them possibly mirrored (an image and its own mirror
    image are not a pair)."""
    n = training_reals.shape[0]
    if n < 2:
        raise ValueError(f"the copy check needs at least 2 training images, got {n}.")
    idx = np.linspace(0, n - 1, MAX_TRAINING).round().astype(np.int64) if n > MAX_TRAINING else np.arange(n)
    images = np.asarray(training_reals[idx])
    plain = embed_uint8(images)
    mirrored = embed_uint8(np.ascontiguousarray(images[:, :, ::-1]))
    threshold = near_duplicate_threshold(plain)
    for start in range(0, plain.shape[0], _CHUNK):
        d = pairwise_distances(plain[start : start + _CHUNK], mirrored)
        rows = torch.arange(d.shape[0])
        d[rows, rows + start] = math.inf
        d[d < EXACT] = math.inf
        threshold = min(threshold, float(d.min()))
    return torch.cat([plain, mirrored]), threshold


def _verdict(report: QualityReport) -> None:
    t = report.thresholds
    checks: list[tuple[str, bool, str]] = [
        (
            "near_duplicates",
            report.near_duplicate_rate <= t["near_duplicate_rate_max"],
            f"mode collapse: {report.near_duplicate_rate:.0%} of the {report.n_fake} generated images have a "
            f"near-duplicate among them (closer than the closest two real images, "
            f"{report.near_duplicate_threshold:.3f}); at most {t['near_duplicate_rate_max']:.0%} may",
        ),
        (
            "copies",
            report.copy_rate is None or report.copy_rate <= t["copy_rate_max"],
            f"memorisation: {report.copy_rate or 0:.0%} of the generated images copy a training image (closer "
            f"to it than any two training images are to each other, {report.copy_threshold or 0:.3f}); "
            f"at most {t['copy_rate_max']:.0%} may",
        ),
        (
            "diversity",
            report.diversity >= t["diversity_min"],
            f"too little variety: the generated images are {report.diversity:.2f} times as varied as the "
            f"real ones; at least {t['diversity_min']:.2f} is needed",
        ),
        (
            "recall",
            report.recall >= t["recall_min"],
            f"low recall {report.recall:.2f}: the generated images cover only part of the collection's "
            f"variety; at least {t['recall_min']:.2f} is needed",
        ),
        (
            "precision",
            report.precision >= t["precision_min"],
            f"low precision {report.precision:.2f}: many generated images look like no real image; "
            f"at least {t['precision_min']:.2f} is needed",
        ),
        (
            "swd",
            report.swd_ratio <= t["swd_ratio_max"],
            f"SWD {report.swd:.1f} is {report.swd_ratio:.1f} times its floor {report.swd_floor:.1f} (two halves "
            f"of the real images); at most {t['swd_ratio_max']:.1f} times is allowed",
        ),
    ]
    report.failed = [name for name, ok, _ in checks if not ok]
    report.reasons = [reason for _, ok, reason in checks if not ok]
    if report.per_class:
        for name, sub in report.per_class.items():
            if not sub.passed:
                report.failed.append(f"class:{name}")
                report.reasons.append(f"class {name}: {sub.reasons[0]}")
    report.passed = not report.failed


def _report(
    reals: np.ndarray,
    fakes: np.ndarray,
    real_features: torch.Tensor,
    fake_features: torch.Tensor,
    training: torch.Tensor | None,
    copy_threshold: float | None,
    seed: int,
    kimg: float | None,
) -> QualityReport:
    # Halves of the reals by a seeded shuffle: the floor is SWD(A, B), the model's figure SWD(A, fakes).
    order = np.random.RandomState(seed).permutation(reals.shape[0])
    half_a, half_b = order[: reals.shape[0] // 2], order[reals.shape[0] // 2 :]
    floor = sliced_wasserstein(reals[np.sort(half_a)], reals[np.sort(half_b)], seed=seed)
    fake_swd = sliced_wasserstein(reals[np.sort(half_a)], fakes, seed=seed)
    precision, recall = precision_recall(real_features, fake_features)
    threshold = near_duplicate_threshold(real_features)
    copy_rate = None
    if training is not None and copy_threshold is not None:
        nearest = _min_distance_to(fake_features, training)
        copy_rate = float((nearest < copy_threshold).float().mean())
    report = QualityReport(
        swd=fake_swd["swd"],
        swd_floor=floor["swd"],
        precision=precision,
        recall=recall,
        diversity=mean_pairwise_distance(fake_features) / max(mean_pairwise_distance(real_features), 1e-12),
        near_duplicate_rate=near_duplicate_rate(fake_features, threshold),
        copy_rate=copy_rate,
        n_real=int(reals.shape[0]),
        n_fake=int(fakes.shape[0]),
        near_duplicate_threshold=threshold,
        copy_threshold=copy_threshold,
        kimg=kimg,
        swd_levels={k: v for k, v in fake_swd.items() if k != "swd"},
    )
    return report


def measure_quality(
    generator: Any,
    held_out_reals: np.ndarray,
    *,
    training_reals: np.ndarray | None = None,
    n_fake: int | None = None,
    seed: int = 0,
    psi: float = 1.0,
    truncation_cutoff: int | None = None,
    labels: np.ndarray | Sequence[int] | None = None,
    class_names: Mapping[int, str] | Sequence[str] | None = None,
    noise_mode: str = "const",
    seed_start: int = FAKE_SEED_BASE,
    kimg: float | None = None,
    training: tuple[torch.Tensor, float] | None = None,
    reals_seen_in_training: bool = False,
) -> QualityReport:
    """The quality report of ``generator`` against ``held_out_reals``.

    ``generator``: a ``networks.Generator`` (painted with ``generate_images`` at
    ``psi``/``truncation_cutoff``/``noise_mode``, as a room is), or any callable ``(seeds, class_idx) -> uint8 [N, R, R, 3]``.
    ``held_out_reals``: uint8 ``[N, R, R, 3]`` images of the collection the model did
    not train on (at least 8). ``training_reals``: the images it trained on, for the
    copy rate (left out: no copy check). ``n_fake``: generated images (default: as
    many as reals), from seeds ``seed_start``, ``seed_start + 1``, ...; ``seed``
    fixes the real halves and SWD's random projections, so a measurement repeats
    exactly. ``labels``: the held-out reals' class indices for a class-conditional
    generator: then fakes are painted per class in the reals' proportions, and the
    report holds one report per class (named by ``class_names``) besides the pooled one.
    ``training``: ``training_features(training_reals)`` computed once, for callers that
    measure often against the same training set (the training loop).
    ``reals_seen_in_training`` is recorded in the report (a set too small to hold any out).
    """
    check_images("held_out_reals", held_out_reals)
    if training_reals is not None:
        check_images("training_reals", training_reals)
    n_real = held_out_reals.shape[0]
    if n_real < MIN_REALS:
        raise ValueError(
            f"measure_quality needs at least {MIN_REALS} held-out real images, got {n_real}: "
            "hold out more of the collection."
        )
    n_fake = n_real if n_fake is None else int(n_fake)
    if n_fake < MIN_REALS:
        raise ValueError(f"measure_quality needs at least {MIN_REALS} generated images, got n_fake={n_fake}.")
    paint = image_source(generator, psi=psi, noise_mode=noise_mode, truncation_cutoff=truncation_cutoff)
    if training is None and training_reals is not None:
        training = training_features(training_reals)
    training_feats, copy_threshold = training if training is not None else (None, None)
    real_features = embed_uint8(held_out_reals)

    if labels is None:
        fakes = _painted(paint, list(range(seed_start, seed_start + n_fake)), None, held_out_reals.shape[1:])
        report = _report(
            held_out_reals,
            fakes,
            real_features,
            embed_uint8(fakes),
            training_feats,
            copy_threshold,
            seed,
            kimg,
        )
        report.reals_seen_in_training = reals_seen_in_training
        _verdict(report)
        return report

    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (n_real,):
        raise ValueError(
            f"labels must hold one class index per held-out image ({n_real}), got {labels.shape}."
        )
    classes = sorted(int(c) for c in np.unique(labels))
    per_class: dict[str, QualityReport] = {}
    all_fakes, all_fake_features = [], []
    next_seed = seed_start
    for cls in classes:
        pick = np.flatnonzero(labels == cls)
        count = max(MIN_REALS, round(n_fake * len(pick) / n_real))
        name = _class_name(cls, class_names)
        if len(pick) < MIN_REALS:
            raise ValueError(
                f"class {name} has only {len(pick)} held-out images; at least {MIN_REALS} are needed per class."
            )
        fakes = _painted(paint, list(range(next_seed, next_seed + count)), cls, held_out_reals.shape[1:])
        next_seed += count
        fake_features = embed_uint8(fakes)
        sub = _report(
            held_out_reals[pick],
            fakes,
            real_features[pick],
            fake_features,
            training_feats,
            copy_threshold,
            seed,
            kimg,
        )
        _verdict(sub)
        per_class[name] = sub
        all_fakes.append(fakes)
        all_fake_features.append(fake_features)
    report = _report(
        held_out_reals,
        np.concatenate(all_fakes),
        real_features,
        torch.cat(all_fake_features),
        training_feats,
        copy_threshold,
        seed,
        kimg,
    )
    report.per_class = per_class
    report.reals_seen_in_training = reals_seen_in_training
    _verdict(report)
    return report


def _class_name(cls: int, class_names: Mapping[int, str] | Sequence[str] | None) -> str:
    if class_names is None:
        return str(cls)
    if isinstance(class_names, Mapping):
        return str(class_names.get(cls, cls))
    return str(class_names[cls]) if 0 <= cls < len(class_names) else str(cls)


def _painted(
    paint: ImageSource, seeds: list[int], class_idx: int | None, shape: tuple[int, ...]
) -> np.ndarray:
    images = paint(seeds, class_idx)
    check_images("the generator's output", images)
    if images.shape[0] != len(seeds) or images.shape[1:] != tuple(shape):
        raise ValueError(
            f"the generator made {images.shape[0]} images of {list(images.shape[1:])} for {len(seeds)} seeds, "
            f"but the real images are {list(shape)}: measure against a collection packed at the model's resolution."
        )
    return images


# Showing ------------------------------------------------------------------------------------


def format_report(report: QualityReport, title: str = "") -> str:
    """The human table that ``python -m training measure`` prints."""
    t = report.thresholds
    rows = [
        (
            "SWD (x1e3)",
            f"{report.swd:.2f}",
            f"floor {report.swd_floor:.2f}, ratio {report.swd_ratio:.2f}",
            f"ratio <= {t['swd_ratio_max']:.1f}",
            "swd",
        ),
        (
            "precision",
            f"{report.precision:.3f}",
            "share of fakes like some real image",
            f">= {t['precision_min']:.2f}",
            "precision",
        ),
        (
            "recall",
            f"{report.recall:.3f}",
            "share of reals covered by fakes",
            f">= {t['recall_min']:.2f}",
            "recall",
        ),
        (
            "diversity",
            f"{report.diversity:.3f}",
            "fake spread / real spread",
            f">= {t['diversity_min']:.2f}",
            "diversity",
        ),
        (
            "near duplicates",
            f"{report.near_duplicate_rate:.1%}",
            f"closer than {report.near_duplicate_threshold:.3f}",
            f"<= {t['near_duplicate_rate_max']:.0%}",
            "near_duplicates",
        ),
        (
            "copies",
            "n/a" if report.copy_rate is None else f"{report.copy_rate:.1%}",
            "no training images given"
            if report.copy_threshold is None
            else f"closer than {report.copy_threshold:.3f} to a training image",
            f"<= {t['copy_rate_max']:.0%}",
            "copies",
        ),
    ]
    lines = []
    head = title or "quality report"
    if report.kimg is not None:
        head += f" at {report.kimg:g} kimg"
    reals = (
        "real images (trained on: too few to hold out)"
        if report.reals_seen_in_training
        else "held-out real images"
    )
    lines.append(f"{head}: {report.n_fake} generated vs {report.n_real} {reals}")
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    for label, value, note, bound, check in rows:
        mark = (
            "FAIL"
            if check in report.failed
            else ("-" if check == "copies" and report.copy_rate is None else "ok")
        )
        lines.append(f"  {label:<{width[0]}}  {value:>{width[1]}}  {bound:<{width[3]}}  {mark:<4}  {note}")
    lines.append("verdict: " + ("PASSED" if report.passed else "FAILED"))
    for reason in report.reasons:
        lines.append(f"  - {reason}")
    if report.per_class:
        for name, sub in report.per_class.items():
            lines.append("")
            lines.append(format_report(sub, title=f"class {name}"))
    return "\n".join(lines)
