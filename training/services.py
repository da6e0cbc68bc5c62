"""Writes for training runs: start, cancel, resume, register a trained file.

Views, admin, tasks and ``manage.py demo`` call these; the rows hold the
state, so every write is a status transition under a row lock and work is
queued only after commit. ``training/`` ends at a checkpoint: publishing it
and painting from it are ``gallery.services``. The engine (torch) is imported
inside functions: the web process and the worker's parent never need it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from gallery.models import Genre
from museum.queueing import send_on_commit

from .datasets import snapshot_dataset
from .models import Checkpoint, TrainingRun

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


def _queue_training(run: TrainingRun) -> None:
    from .tasks import train_run

    send_on_commit(run, train_run, run.pk)


def start_run(
    genre: Genre,
    preset: str = DEFAULT_PRESET,
    overrides: dict[str, Any] | None = None,
    user=None,
    also: Sequence[Genre] = (),
) -> TrainingRun:
    """Create a queued run on a fresh snapshot of ``genre``'s approved images;
    the worker packs and trains it once this transaction commits. ``also``
    (other genres) makes it one class-conditional model of all of them, each
    genre a class that paints its own room (``genre`` is class 0)."""
    classes = [genre, *[g for g in also if g.pk != genre.pk]] if also else []
    if len(classes) == 1:
        classes = []
    overrides = dict(overrides or {})
    if classes:
        overrides["num_classes"] = len(classes)
    config = build_config(preset, overrides)
    if not classes and config["network"].get("num_classes"):
        raise ValidationError(
            _("A class-conditional run needs two or more genres: choose the other rooms it should paint.")
        )
    rooms = classes or [genre]
    with transaction.atomic():
        # The check and the insert under one lock on each genre's row (in one
        # order, so two starts cannot deadlock): two staff starting a run at the
        # same instant get one run and one message (the database constraint
        # backs it for the run's first genre where the lock is not enough).
        list(Genre.objects.select_for_update().filter(pk__in=[g.pk for g in rooms]).order_by("pk"))
        _refuse_if_active(rooms)
        dataset = snapshot_dataset(genre, config["network"]["resolution"], classes)
        try:
            with transaction.atomic():
                run = TrainingRun.objects.create(
                    genre=genre, dataset=dataset, config=config, status=Status.QUEUED, started_by=user
                )
        except IntegrityError:
            _refuse_if_active(rooms)
            raise
        _queue_training(run)
    return run


def active_runs_painting(genres: Sequence[Genre]):
    """Active runs whose model paints any of ``genres`` (as its genre or as one of its classes)."""
    ids = [g.pk for g in genres]
    return (
        TrainingRun.objects.filter(status__in=TrainingRun.ACTIVE_STATUSES)
        .filter(Q(genre_id__in=ids) | Q(dataset__classes__genre_id__in=ids))
        .distinct()
    )


def _refuse_if_active(genres: Sequence[Genre], exclude: int | None = None) -> None:
    runs = active_runs_painting(genres)
    if exclude is not None:
        runs = runs.exclude(pk=exclude)
    active = runs.order_by("pk").first()
    if active is not None:
        busy = [g for g in genres if g.pk in {r.pk for r in active.rooms}]
        raise ValidationError(
            _("Run %(run)s for %(genre)s is still active: cancel it or wait for it to finish.")
            % {"run": active.pk, "genre": ", ".join(g.display_name for g in busy or genres)}
        )


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
        _refuse_if_active(run.rooms, exclude=run.pk)
        run.status = Status.QUEUED
        run.error = ""
        run.finished = None
        run.lease_token = ""
        run.sent_at = None
        try:
            with transaction.atomic():
                run.save(update_fields=["status", "error", "finished", "lease_token", "sent_at"])
        except IntegrityError:
            _refuse_if_active(run.rooms, exclude=run.pk)
            raise
        _queue_training(run)
    return run


def stats_file_for(path: Path) -> Path:
    """Where a shipped checkpoint's training statistics lie: ``<name>.stats.jsonl``
    beside it (the engine's ``stats.jsonl`` of the run it came from)."""
    return path.with_name(f"{path.stem}.stats.jsonl")


def read_stats_history(path: Path, up_to_kimg: float) -> list[dict[str, Any]]:
    """The run-page history from an engine ``stats.jsonl``: one entry per
    line up to ``up_to_kimg``, with the keys the charts draw."""
    from .runner import HISTORY_KEYS, _jsonable

    history = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            stats = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{path}, line {number}: not JSON ({exc}); fix or delete the stats file."
            ) from exc
        if float(stats.get("kimg", 0.0)) <= up_to_kimg + 1e-9:
            history.append({key: _jsonable(stats[key]) for key in HISTORY_KEYS if key in stats})
    return history


def register_trained_checkpoint(genre: Genre, path: Path, worker: str) -> tuple[Checkpoint, bool]:
    """A succeeded run and its checkpoint for a file trained elsewhere (the
    shipped demo models); found again by its SHA-256 when already registered.
    ``worker`` says where it was trained, in the run's worker column. Returns
    the checkpoint and whether it was registered now.

    The run's figures are the file's: its target is the kimg it was trained
    to (the run ended there, whatever length its config had planned), its steps
    are the file's steps, and its history is the statistics shipped beside it
    (:func:`stats_file_for`), if any."""
    from training.engine.checkpoint import checkpoint_metadata
    from training.engine.dataset import file_sha256

    sha256 = file_sha256(path)
    found = Checkpoint.objects.filter(run__genre=genre, sha256=sha256).order_by("pk").first()
    if found is not None:
        return found, False
    meta = checkpoint_metadata(path)
    kimg, step = float(meta["kimg"]), int(meta.get("step", 0))
    stats_file = stats_file_for(path)
    history = read_stats_history(stats_file, kimg) if stats_file.is_file() else []
    last = history[-1] if history else {}
    now = timezone.now()
    with transaction.atomic():
        run = TrainingRun.objects.create(
            genre=genre,
            config={**meta["config"], "total_kimg": kimg},
            status=Status.SUCCEEDED,
            kimg_done=kimg,
            step=step,
            steps_trained=step,
            attempts=1,  # trained in one go, elsewhere
            eta_seconds=None,
            images_per_second=last.get("images_per_second"),
            history=history,
            latest_stats=last,
            worker=worker,
            started=now,
            finished=now,
        )
        swd = (meta.get("metrics") or {}).get("swd")
        checkpoint = Checkpoint(
            run=run, kimg=kimg, step=step, sha256=sha256, size=path.stat().st_size, metric=swd
        )
        with open(path, "rb") as fh:
            checkpoint.file.save(path.name, File(fh), save=False)
        checkpoint.save()
    return checkpoint, True
