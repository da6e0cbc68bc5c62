"""Writes for training runs: freeze a dataset, start, cancel, resume, publish.

Views, admin and tasks call these; the rows hold the state, so every write is
a status transition under a row lock and work is queued only after commit.
The engine (torch) is imported inside functions: the web process and the
worker's parent never need it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gallery.models import Genre
from scraper.models import ScrapedImage

from .models import Checkpoint, Dataset, GenerationSchedule, TrainingRun, checkpoint_storage

Status = TrainingRun.Status

# Starting points for the start form, as TrainConfig/NetworkConfig field names
# (one flat namespace, see training.engine.option_fields); everything not named
# keeps the engine's default. "cpu" finishes on a laptop in minutes; "gpu" is
# the paper's 256² setting. Form fields override these.
PRESETS: dict[str, dict[str, Any]] = {
    # Seconds on any machine: checks that a worker trains, reports and
    # checkpoints end to end (e.g. a newly added GPU node).
    "smoke": {
        "resolution": 32,
        "z_dim": 16,
        "w_dim": 16,
        "mapping_layers": 1,
        "channel_base": 128,
        "channel_max": 16,
        "batch_size": 4,
        "total_kimg": 0.2,
        "tick_kimg": 0.04,
        "checkpoint_kimg": 0.08,
        "metric_kimg": 0.2,
        "metric_samples": 16,
        "ema_kimg": 0.1,
        "pl_weight": 0.0,
        "ada_kimg": 1.0,
    },
    "cpu": {
        "resolution": 32,
        "z_dim": 64,
        "w_dim": 64,
        "mapping_layers": 2,
        "channel_base": 1024,
        "channel_max": 64,
        "batch_size": 8,
        "total_kimg": 2.0,
        "tick_kimg": 0.2,
        "checkpoint_kimg": 0.5,
        "metric_kimg": 1.0,
        "metric_samples": 64,
        "ema_kimg": 1.0,
        "pl_weight": 0.0,
        "ada_kimg": 20.0,
    },
    "gpu": {
        "resolution": 256,
        "batch_size": 16,
        "total_kimg": 5000.0,
        "tick_kimg": 4.0,
        "checkpoint_kimg": 50.0,
        "metric_kimg": 50.0,
    },
}
DEFAULT_PRESET = "cpu"


def approved_images(genre: Genre):
    return ScrapedImage.objects.filter(genre=genre, status=ScrapedImage.Status.APPROVED)


def build_config(preset: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The engine's TrainConfig (as a dict) for ``preset`` with ``overrides``;
    network keys may be given flat (``resolution``, ``style_mode``) or nested."""
    from training.engine.option_fields import option_specs
    from training.engine.options import TrainConfig

    if preset not in PRESETS:
        raise ValidationError(
            _("Unknown preset %(preset)s: choose one of %(choices)s.")
            % {"preset": preset, "choices": ", ".join(PRESETS)}
        )
    sections = {spec.name: spec.section for spec in option_specs()}
    values: dict[str, Any] = {"network": {}}
    for key, value in {**PRESETS[preset], **(overrides or {})}.items():
        if key == "network":
            values["network"].update(value)
        elif key not in sections:
            raise ValidationError(
                _("Unknown training option %(option)s: known options are %(known)s.")
                % {"option": key, "known": ", ".join(sorted(sections))}
            )
        elif sections[key] == "network":
            values["network"][key] = value
        else:
            values[key] = value
    if settings.TORCH_DEVICE != "auto" and values.get("device", "auto") == "auto":
        values["device"] = settings.TORCH_DEVICE
    try:
        return TrainConfig.from_dict(values).to_dict()
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


def snapshot_dataset(genre: Genre, resolution: int) -> Dataset:
    """Record which approved images of ``genre`` a new dataset holds (packing
    happens on the worker, see :func:`pack_dataset`)."""
    images = list(approved_images(genre).values_list("pk", flat=True))
    minimum = settings.TRAINING_MIN_IMAGES
    if len(images) < minimum:
        raise ValidationError(
            _(
                "%(genre)s has only %(count)d approved images; a training run needs at least %(minimum)d. "
                "Approve more images in the curation queue first."
            )
            % {"genre": genre.display_name, "count": len(images), "minimum": minimum}
        )
    dataset = Dataset.objects.create(genre=genre, resolution=resolution, image_count=len(images))
    dataset.images.set(images)
    return dataset


def pack_dataset(dataset: Dataset, progress: Callable[[int, int], None] | None = None) -> Dataset:
    """Pack the dataset's images with the engine into checkpoint storage and
    record its hash. Images whose file is gone or unreadable are skipped and
    listed in ``dataset.skipped``."""
    from training.engine.dataset import pack_images

    if dataset.packed_file:
        return dataset
    with tempfile.TemporaryDirectory(prefix=f"dataset-{dataset.pk}-") as tmp:
        folder = Path(tmp)
        paths: list[Path] = []
        skipped: list[list[str]] = []
        for image in dataset.images.order_by("pk"):
            local = folder / f"{image.pk:09d}{Path(image.image.name).suffix}"
            try:
                with image.image.open("rb") as src, open(local, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except (FileNotFoundError, OSError) as exc:
                skipped.append([image.image.name, f"cannot read the stored file: {exc}"])
                continue
            paths.append(local)
        if not paths:
            raise ValueError(
                f"Dataset {dataset.pk}: none of its {dataset.image_count} image files could be read from "
                "storage. Check the media storage, then start a new run."
            )
        out = folder / "dataset.pack"
        report = pack_images(paths, out, resolution=dataset.resolution, progress=progress)
        names = {str(p): p.name for p in paths}
        skipped += [[names.get(path, path), reason] for path, reason in report.skipped]
        # Named by content: the same images packed again reuse the stored file.
        stored = f"datasets/{dataset.genre.slug}-{dataset.resolution}px-{report.sha256}.pack"
        storage = checkpoint_storage()
        if not storage.exists(stored):
            with open(out, "rb") as fh:
                stored = storage.save(stored, File(fh))
    dataset.packed_file.name = stored
    dataset.sha256 = report.sha256
    dataset.image_count = report.count
    dataset.skipped = skipped
    dataset.save(update_fields=["packed_file", "sha256", "image_count", "skipped"])
    return dataset


def freeze_dataset(genre: Genre, resolution: int) -> Dataset:
    """Snapshot ``genre``'s approved images and pack them now."""
    return pack_dataset(snapshot_dataset(genre, resolution))


def _queue_training(run_id: int) -> None:
    from .tasks import train_run

    transaction.on_commit(lambda: train_run.delay(run_id))


def start_run(
    genre: Genre, preset: str = DEFAULT_PRESET, overrides: dict[str, Any] | None = None, user=None
) -> TrainingRun:
    """Create a queued run on a fresh snapshot of ``genre``'s approved images;
    the worker packs and trains it once this transaction commits."""
    config = build_config(preset, overrides)
    active = TrainingRun.objects.filter(
        genre=genre, status__in=[Status.QUEUED, Status.RUNNING, Status.CANCELLING]
    )
    if active.exists():
        raise ValidationError(
            _("Run %(run)s for %(genre)s is still active: cancel it or wait for it to finish.")
            % {"run": active.first().pk, "genre": genre.display_name}
        )
    with transaction.atomic():
        dataset = snapshot_dataset(genre, config["network"]["resolution"])
        run = TrainingRun.objects.create(
            genre=genre, dataset=dataset, config=config, status=Status.QUEUED, started_by=user
        )
        _queue_training(run.pk)
    return run


def cancel_run(run: TrainingRun) -> TrainingRun:
    """A queued run is cancelled at once; a running one stops at its next step."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if run.status == Status.QUEUED:
            run.status = Status.CANCELLED
            run.finished = timezone.now()
        elif run.status == Status.RUNNING:
            run.status = Status.CANCELLING
        else:
            raise ValidationError(
                _("Run %(run)s is %(status)s and cannot be cancelled.")
                % {"run": run.pk, "status": run.get_status_display()}
            )
        run.save(update_fields=["status", "finished"])
    return run


def resume_run(run: TrainingRun) -> TrainingRun:
    """Queue a cancelled or failed run again; it continues from its latest checkpoint."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if run.status not in (Status.CANCELLED, Status.FAILED):
            raise ValidationError(
                _("Run %(run)s is %(status)s: only cancelled or failed runs can be resumed.")
                % {"run": run.pk, "status": run.get_status_display()}
            )
        run.status = Status.QUEUED
        run.error = ""
        run.finished = None
        run.lease_token = ""
        run.save(update_fields=["status", "error", "finished", "lease_token"])
        _queue_training(run.pk)
    return run


def publish_checkpoint(checkpoint: Checkpoint, first_batch: int = 0, psi: float = 0.7) -> Checkpoint:
    """Make ``checkpoint`` the one its genre's room is painted from (one per
    genre), and optionally queue a first batch of paintings."""
    with transaction.atomic():
        checkpoint = Checkpoint.objects.select_for_update().select_related("run").get(pk=checkpoint.pk)
        genre_id = checkpoint.run.genre_id
        Checkpoint.objects.filter(run__genre_id=genre_id, published=True).exclude(pk=checkpoint.pk).update(
            published=False
        )
        checkpoint.published = True
        checkpoint.save(update_fields=["published"])
        GenerationSchedule.objects.get_or_create(genre_id=genre_id)
        if first_batch > 0:
            queue_generation(checkpoint, first_batch, psi)
    return checkpoint


def queue_generation(checkpoint: Checkpoint, count: int, psi: float) -> None:
    from gallery.tasks import generate_artworks

    pk = checkpoint.pk
    transaction.on_commit(lambda: generate_artworks.delay(pk, count, psi))


def queue_mixing_exhibit(checkpoint: Checkpoint, rows: int, columns: int) -> None:
    from gallery.tasks import build_mixing_exhibit

    pk = checkpoint.pk
    transaction.on_commit(lambda: build_mixing_exhibit.delay(pk, rows, columns))


def published_checkpoint(genre: Genre) -> Checkpoint | None:
    return Checkpoint.objects.filter(run__genre=genre, published=True).order_by("-created").first()
