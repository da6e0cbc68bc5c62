"""Writes that hang paintings: publish a checkpoint, queue paintings and
mixing exhibits from it, and queue the room refreshes that are due.

``gallery/`` starts from a checkpoint (``training/`` ends at one). The admin,
the periodic refresh and ``manage.py demo`` call these; work is queued only
after the transaction commits.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from gallery.models import Genre
from training.models import Checkpoint, GenerationSchedule

logger = logging.getLogger(__name__)


def published_checkpoint(genre: Genre) -> Checkpoint | None:
    """The checkpoint that paints ``genre``'s room, if any."""
    return Checkpoint.objects.filter(run__genre=genre, published=True).order_by("-created").first()


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
    """Paint ``count`` artworks from ``checkpoint`` on a GPU worker."""
    from gallery.tasks import generate_artworks

    pk = checkpoint.pk
    transaction.on_commit(lambda: generate_artworks.delay(pk, count, psi))


def queue_mixing_exhibit(checkpoint: Checkpoint, rows: int, columns: int) -> None:
    """Build a style-mixing exhibit from ``checkpoint`` on a GPU worker."""
    from gallery.tasks import build_mixing_exhibit

    pk = checkpoint.pk
    transaction.on_commit(lambda: build_mixing_exhibit.delay(pk, rows, columns))


def queue_due_refreshes(now: datetime | None = None) -> list[int]:
    """Queue a batch for every room whose schedule is due and whose genre has
    a published checkpoint; return the checkpoint ids queued."""
    now = now or timezone.now()
    queued = []
    for schedule in GenerationSchedule.objects.filter(enabled=True).select_related("genre"):
        if not schedule.is_due(now):
            continue
        checkpoint = published_checkpoint(schedule.genre)
        if checkpoint is None:
            continue
        with transaction.atomic():
            # Claim the slot first so two beat processes cannot both queue it.
            claimed = GenerationSchedule.objects.filter(
                pk=schedule.pk, last_queued=schedule.last_queued
            ).update(last_queued=now)
            if not claimed:
                continue
            queue_generation(checkpoint, schedule.count, schedule.psi)
        logger.info(
            "Room %s: queued %d paintings from checkpoint %s",
            schedule.genre.slug,
            schedule.count,
            checkpoint.pk,
        )
        queued.append(checkpoint.pk)
    return queued
