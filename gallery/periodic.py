"""Periodic refresh of the rooms (queue ``default``, run by beat every few minutes).

Each genre's schedule is a ``training.GenerationSchedule`` row that staff edit
in the admin (how often, how many, which ψ); publishing a checkpoint creates
one. This task only decides what is due and queues the painting on ``gpu``.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from training.models import Checkpoint, GenerationSchedule

logger = logging.getLogger(__name__)


@shared_task(name="gallery.periodic.refresh_rooms")
def refresh_rooms() -> list[int]:
    """Queue a batch for every room whose schedule is due and whose genre has
    a published checkpoint; return the checkpoint ids queued."""
    from .tasks import generate_artworks

    now = timezone.now()
    queued = []
    for schedule in GenerationSchedule.objects.filter(enabled=True).select_related("genre"):
        if not schedule.is_due(now):
            continue
        checkpoint = (
            Checkpoint.objects.filter(run__genre=schedule.genre, published=True).order_by("-created").first()
        )
        if checkpoint is None:
            continue
        with transaction.atomic():
            # Claim the slot first so two beat processes cannot both queue it.
            claimed = GenerationSchedule.objects.filter(
                pk=schedule.pk, last_queued=schedule.last_queued
            ).update(last_queued=now)
            if not claimed:
                continue
            count, psi, checkpoint_id = schedule.count, schedule.psi, checkpoint.pk
            transaction.on_commit(lambda c=checkpoint_id, n=count, p=psi: generate_artworks.delay(c, n, p))
        logger.info(
            "Room %s: queued %d paintings from checkpoint %s", schedule.genre.slug, count, checkpoint_id
        )
        queued.append(checkpoint_id)
    return queued
