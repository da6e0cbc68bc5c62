"""Training runs, their frozen datasets and their checkpoints (Django side).

The engine in ``training.engine`` knows nothing of these rows; the tasks in
``training.tasks`` translate between the two.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def checkpoint_storage():
    from django.core.files.storage import storages

    return storages["checkpoints"]


class Dataset(models.Model):
    """A frozen snapshot of one genre's approved images, packed for training,
    so a run can be reproduced after curators change their minds."""

    genre = models.ForeignKey("gallery.Genre", on_delete=models.PROTECT, related_name="datasets")
    resolution = models.PositiveIntegerField(_("resolution"))
    image_count = models.PositiveIntegerField(_("images"), default=0)
    packed_file = models.FileField(
        _("packed file"), storage=checkpoint_storage, upload_to="datasets/", blank=True, max_length=255
    )
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    skipped = models.JSONField(_("skipped images"), default=list, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    # Which approved images were frozen into this dataset. The packed file and
    # its hash are the snapshot itself; these links say where it came from.
    images = models.ManyToManyField(
        "scraper.ScrapedImage", related_name="datasets", blank=True, verbose_name=_("images")
    )

    class Meta:
        ordering = ["-created"]
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")

    def __str__(self) -> str:
        slugs = "+".join(g.slug for g in self.class_genres()) or self.genre.slug
        return f"{slugs} {self.resolution}px × {self.image_count}"

    def class_genres(self) -> list:
        """The rooms of a class-conditional dataset in label order (label i is
        ``class_genres()[i]``); empty for a one-genre dataset."""
        return [c.genre for c in sorted(self.classes.all(), key=lambda c: c.index)]


class DatasetClass(models.Model):
    """One class of a class-conditional dataset: the label the engine trains
    on and the room (genre) it paints. ``Dataset.genre`` is class 0's."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="classes")
    index = models.PositiveSmallIntegerField(_("class index"))
    genre = models.ForeignKey("gallery.Genre", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["dataset", "index"]
        verbose_name = _("dataset class")
        verbose_name_plural = _("dataset classes")
        constraints = [
            models.UniqueConstraint(fields=["dataset", "index"], name="training_dataset_class_unique_index"),
            models.UniqueConstraint(fields=["dataset", "genre"], name="training_dataset_class_unique_genre"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}: {self.index} = {self.genre.slug}"


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        CANCELLING = "cancelling", _("cancelling")
        CANCELLED = "cancelled", _("cancelled")
        FAILED = "failed", _("failed")
        SUCCEEDED = "succeeded", _("succeeded")

    genre = models.ForeignKey("gallery.Genre", on_delete=models.PROTECT, related_name="training_runs")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, null=True, blank=True, related_name="runs")
    # The engine's TrainConfig as a dict: resolution, target kimg, batch, style
    # mode, gamma, ADA target, mirror, checkpoint interval, seed, ...
    config = models.JSONField(_("configuration"), default=dict)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.QUEUED)
    kimg_done = models.FloatField(_("kimg done"), default=0)
    images_per_second = models.FloatField(_("images/s"), null=True, blank=True)
    eta_seconds = models.FloatField(_("ETA (s)"), null=True, blank=True)
    latest_stats = models.JSONField(_("latest statistics"), default=dict, blank=True)
    history = models.JSONField(_("statistics history"), default=list, blank=True)
    worker = models.CharField(_("worker"), max_length=200, blank=True)
    heartbeat = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    error = models.TextField(_("error"), blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    started = models.DateTimeField(_("started"), null=True, blank=True)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)
    # The lease: the task that holds this token owns the run while its
    # heartbeat is fresh. A second delivery of the same message, or a stale-run
    # requeue, finds the token taken and does nothing.
    lease_token = models.CharField(_("lease token"), max_length=32, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    step = models.PositiveBigIntegerField(_("training step"), default=0)
    # Every step executed across all attempts, including steps redone after a
    # worker was lost since its last checkpoint.
    steps_trained = models.PositiveBigIntegerField(_("steps trained (all attempts)"), default=0)
    # When the stale-run check last queued this run again, so a run waiting for
    # a worker is not queued once per check.
    requeued_at = models.DateTimeField(_("re-queued at"), null=True, blank=True)
    # Where the latest attempt trained, e.g. "cuda ×8" or "cpu ×2" (processes):
    # what the start form's time estimates compare against.
    device = models.CharField(_("device"), max_length=40, blank=True)
    # When the broker last took this run's message (museum.queueing); empty
    # while the broker was unreachable, so the periodic sweep sends it.
    sent_at = models.DateTimeField(_("sent to the broker"), null=True, blank=True)

    ACTIVE_STATUSES = ("queued", "running", "cancelling")

    class Meta:
        ordering = ["-created"]
        verbose_name = _("training run")
        verbose_name_plural = _("training runs")
        permissions = [("start_training", _("Can start, cancel and resume training runs"))]
        constraints = [
            # One active run per genre, whatever races the start form.
            models.UniqueConstraint(
                fields=["genre"],
                condition=models.Q(status__in=["queued", "running", "cancelling"]),
                name="training_run_one_active_per_genre",
            )
        ]

    def __str__(self) -> str:
        if self.is_conditional:
            return f"Run {self.pk} ({'+'.join(g.slug for g in self.rooms)})"
        return f"Run {self.pk} ({self.genre.slug})"

    @property
    def rooms(self) -> list:
        """The genres this run's model paints: its classes in label order for a
        class-conditional run, else its one genre."""
        cached = getattr(self, "_rooms", None)
        if cached is None:
            classes = self.dataset.class_genres() if self.dataset_id and self.is_conditional else []
            cached = self._rooms = classes or [self.genre]
        return cached

    @property
    def is_conditional(self) -> bool:
        return int((self.config.get("network") or {}).get("num_classes") or 0) > 0

    def class_index(self, genre) -> int | None:
        """The class that paints ``genre``'s room (None: an unconditional model).
        Raises ValueError for a genre the model does not paint."""
        genre_id = getattr(genre, "pk", genre)
        ids = [g.pk for g in self.rooms]
        if genre_id not in ids:
            raise ValueError(
                f"Run {self.pk} paints {', '.join(g.slug for g in self.rooms)}, not genre {genre_id}."
            )
        return ids.index(genre_id) if self.is_conditional else None

    @property
    def target_kimg(self) -> float:
        return float(self.config.get("total_kimg") or 0)

    @property
    def resolution(self) -> int | None:
        return (self.config.get("network") or {}).get("resolution")

    @property
    def progress_percent(self) -> float:
        if not self.target_kimg:
            return 0.0
        return max(0.0, min(100.0, 100.0 * self.kimg_done / self.target_kimg))

    @property
    def is_active(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.RUNNING, self.Status.CANCELLING}

    def heartbeat_age(self, now: datetime | None = None) -> float | None:
        """Seconds since the worker holding the lease last beat, or None."""
        if self.heartbeat is None:
            return None
        return ((now or timezone.now()) - self.heartbeat).total_seconds()

    @property
    def worker_is_silent(self) -> bool:
        """Running, but its worker has missed several heartbeats: what the page
        knows is the last heartbeat, not a live ETA."""
        if self.status not in (self.Status.RUNNING, self.Status.CANCELLING):
            return False
        age = self.heartbeat_age()
        return age is None or age >= settings.TRAINING_SILENT_SECONDS

    def heartbeat_is_fresh(self, now: datetime | None = None) -> bool:
        """True while the worker holding the lease has beaten recently enough."""
        if self.heartbeat is None:
            return False
        now = now or timezone.now()
        return now - self.heartbeat < timedelta(seconds=settings.TRAINING_STALE_SECONDS)


def sample_upload_to(instance: TrainingSample, filename: str) -> str:
    return f"runs/{instance.run_id}/samples/{filename}"


class TrainingSample(models.Model):
    """The fixed-seed sample grid the engine draws at every tick, kept in the
    private checkpoint storage and shown on the run's admin page."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="samples")
    kimg = models.FloatField(_("kimg"))
    step = models.PositiveBigIntegerField(_("step"), default=0)
    image = models.FileField(_("grid"), storage=checkpoint_storage, upload_to=sample_upload_to)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["run", "kimg"]
        verbose_name = _("sample grid")
        verbose_name_plural = _("sample grids")
        constraints = [models.UniqueConstraint(fields=["run", "kimg"], name="training_sample_unique_kimg")]

    def __str__(self) -> str:
        return f"Run {self.run_id} samples @ {self.kimg:g} kimg"


def checkpoint_upload_to(instance: Checkpoint, filename: str) -> str:
    return f"runs/{instance.run_id}/checkpoints/{filename}"


class Checkpoint(models.Model):
    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="checkpoints")
    kimg = models.FloatField(_("kimg"))
    file = models.FileField(_("file"), storage=checkpoint_storage, upload_to=checkpoint_upload_to)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size = models.BigIntegerField(_("size (bytes)"), default=0)
    metric = models.FloatField(_("quality metric (SWD)"), null=True, blank=True)
    # The quality report measured on this checkpoint (training.engine.quality
    # QualityReport.to_dict()); empty when none was measured.
    quality = models.JSONField(_("quality report"), default=dict, blank=True)
    published = models.BooleanField(_("published"), default=False)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    step = models.PositiveBigIntegerField(_("step"), default=0)
    # Who made it paint its room, when, and which warnings they confirmed
    # (a failing report, or one worse than the checkpoint it replaced).
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("published by"),
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    publish_warnings = models.JSONField(_("warnings confirmed when publishing"), default=list, blank=True)

    class Meta:
        ordering = ["run", "kimg"]
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")
        permissions = [("publish_checkpoint", _("Can publish checkpoints and generate artworks"))]
        constraints = [
            models.UniqueConstraint(fields=["run", "kimg"], name="training_checkpoint_unique_kimg")
        ]

    def __str__(self) -> str:
        return f"Run {self.run_id} @ {self.kimg:g} kimg"

    def class_report(self, genre) -> dict:
        """The quality report of the class that paints ``genre``: the report for
        an unconditional model; for a class-conditional one its class's report,
        or {} (not measured) when the held-out images were too few per class."""
        index = self.run.class_index(genre)
        if index is None:
            return self.quality or {}
        return ((self.quality or {}).get("per_class") or {}).get(str(index)) or {}


class GenerationSchedule(models.Model):
    """How often a room gets new paintings from its genre's published
    checkpoint. Staff edit it in the admin; ``gallery.periodic.refresh_rooms``
    (run by beat every few minutes) queues the batches that are due."""

    genre = models.OneToOneField(
        "gallery.Genre", on_delete=models.CASCADE, related_name="generation_schedule"
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    every_hours = models.PositiveIntegerField(_("every (hours)"), default=24)
    count = models.PositiveIntegerField(_("paintings per batch"), default=16)
    psi = models.FloatField(_("truncation ψ"), default=0.7)
    truncation_cutoff = models.PositiveSmallIntegerField(
        _("truncation cutoff"),
        null=True,
        blank=True,
        help_text=_("Truncate only the first N style layers (the coarse ones); empty: all of them."),
    )
    last_queued = models.DateTimeField(_("last queued"), null=True, blank=True)

    class Meta:
        ordering = ["genre__position"]
        verbose_name = _("room refresh schedule")
        verbose_name_plural = _("room refresh schedules")

    def __str__(self) -> str:
        return f"{self.genre.slug}: {self.count} every {self.every_hours} h"

    def is_due(self, now: datetime | None = None) -> bool:
        if not self.enabled:
            return False
        if self.last_queued is None:
            return True
        return (now or timezone.now()) - self.last_queued >= timedelta(hours=self.every_hours)


class WorkerNode(models.Model):
    """A Celery worker as it last reported itself (``training.worker_presence``):
    the queues it takes and what it trains on. The start form reads these rows
    to say which workers exist; a row not renewed for a while is a gone worker."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    queues = models.JSONField(_("queues"), default=list)
    device = models.CharField(_("device"), max_length=20)
    gpus = models.PositiveIntegerField(_("GPUs"), default=0)
    gpu_name = models.CharField(_("GPU"), max_length=200, blank=True)
    processes = models.PositiveIntegerField(_("training processes per run"), default=1)
    started = models.DateTimeField(_("started"), default=timezone.now)
    last_seen = models.DateTimeField(_("last seen"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("worker")
        verbose_name_plural = _("workers")

    def __str__(self) -> str:
        return self.name

    def describe(self) -> str:
        if self.device == "cuda" and self.gpus:
            return f"{self.name}: {self.gpus} × {self.gpu_name or 'GPU'}"
        return f"{self.name}: {self.device} ×{self.processes}"
