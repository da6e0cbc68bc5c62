"""Training runs, their frozen datasets and their checkpoints (Django side).

The engine in ``training.engine`` knows nothing of these rows; the tasks in
``training.tasks`` translate between the two.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
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
    packed_file = models.FileField(_("packed file"), storage=checkpoint_storage, upload_to="datasets/", blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    skipped = models.JSONField(_("skipped images"), default=list, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")

    def __str__(self) -> str:
        return f"{self.genre.slug} {self.resolution}px × {self.image_count}"


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

    class Meta:
        ordering = ["-created"]
        verbose_name = _("training run")
        verbose_name_plural = _("training runs")
        permissions = [("start_training", _("Can start, cancel and resume training runs"))]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.genre.slug})"


class Checkpoint(models.Model):
    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="checkpoints")
    kimg = models.FloatField(_("kimg"))
    file = models.FileField(_("file"), storage=checkpoint_storage, upload_to="checkpoints/")
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size = models.BigIntegerField(_("size (bytes)"), default=0)
    metric = models.FloatField(_("quality metric (SWD)"), null=True, blank=True)
    published = models.BooleanField(_("published"), default=False)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["run", "kimg"]
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")
        permissions = [("publish_checkpoint", _("Can publish checkpoints and generate artworks"))]

    def __str__(self) -> str:
        return f"Run {self.run_id} @ {self.kimg:g} kimg"
