"""Writes that hang paintings: publish a checkpoint, queue paintings and
mixing exhibits from it, and queue the room refreshes that are due.

``gallery/`` starts from a checkpoint (``training/`` ends at one). The admin,
the periodic refresh and ``manage.py demo`` call these; work is queued only
after the transaction commits, as a ``PaintingRequest`` row that the periodic
sweep sends again if the broker was down (``museum.queueing``).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from gallery.models import Genre, PaintingRequest
from museum.queueing import resend_waiting, send_on_commit
from training.models import Checkpoint, GenerationSchedule

logger = logging.getLogger(__name__)


def published_checkpoint(genre: Genre) -> Checkpoint | None:
    """The checkpoint that paints ``genre``'s room, if any."""
    return Checkpoint.objects.filter(run__genre=genre, published=True).order_by("-created").first()


def publish_checkpoint(
    checkpoint: Checkpoint, first_batch: int = 0, psi: float = 0.7, user=None
) -> Checkpoint:
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
            queue_generation(checkpoint, first_batch, psi, user=user)
    return checkpoint


def queue_generation(checkpoint: Checkpoint, count: int, psi: float, user=None) -> PaintingRequest:
    """Ask a GPU worker for ``count`` artworks from ``checkpoint``: saved as a
    queued request, sent after commit (``museum.queueing``)."""
    request = PaintingRequest.objects.create(
        kind=PaintingRequest.Kind.ARTWORKS, checkpoint=checkpoint, count=count, psi=psi, requested_by=user
    )
    _send(request)
    return request


def queue_mixing_exhibit(checkpoint: Checkpoint, rows: int, columns: int, user=None) -> PaintingRequest:
    """Ask a GPU worker for a style-mixing exhibit from ``checkpoint`` (see :func:`queue_generation`)."""
    request = PaintingRequest.objects.create(
        kind=PaintingRequest.Kind.EXHIBIT,
        checkpoint=checkpoint,
        rows=rows,
        columns=columns,
        requested_by=user,
    )
    _send(request)
    return request


def _task_for(request: PaintingRequest):
    from gallery.tasks import build_mixing_exhibit, generate_artworks

    return build_mixing_exhibit if request.kind == PaintingRequest.Kind.EXHIBIT else generate_artworks


def _send(request: PaintingRequest) -> None:
    send_on_commit(request, _task_for(request), request.pk)


def resend_waiting_requests() -> list[int]:
    """Send again every queued painting request no worker has taken."""
    from gallery.tasks import build_mixing_exhibit, generate_artworks

    requests = PaintingRequest.objects.all()
    return resend_waiting(
        requests.filter(kind=PaintingRequest.Kind.ARTWORKS), generate_artworks
    ) + resend_waiting(requests.filter(kind=PaintingRequest.Kind.EXHIBIT), build_mixing_exhibit)


def carry_out(request_id: int) -> str:
    """Claim a queued painting request and paint it (on the GPU worker);
    returns what happened. A request already taken is left alone."""
    from .generation import build_mixing_exhibit, generate_artworks

    with transaction.atomic():
        request = PaintingRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None or request.status != PaintingRequest.Status.QUEUED:
            logger.info("Painting request %s is %s; nothing to do.", request_id, request and request.status)
            return "skipped"
        request.status = PaintingRequest.Status.RUNNING
        request.started = timezone.now()
        request.save(update_fields=["status", "started"])
    checkpoint = Checkpoint.objects.select_related("run__genre").get(pk=request.checkpoint_id)
    try:
        if request.kind == PaintingRequest.Kind.EXHIBIT:
            made = [build_mixing_exhibit(checkpoint, request.rows, request.columns).pk]
        else:
            made = [artwork.pk for artwork in generate_artworks(checkpoint, request.count, psi=request.psi)]
    except Exception as exc:  # recorded on the request for staff, and logged with its traceback
        logger.exception("Painting request %s failed", request_id)
        PaintingRequest.objects.filter(pk=request_id).update(
            status=PaintingRequest.Status.FAILED,
            finished=timezone.now(),
            error=f"{type(exc).__name__}: {exc}",
        )
        return "failed"
    PaintingRequest.objects.filter(pk=request_id).update(
        status=PaintingRequest.Status.SUCCEEDED, finished=timezone.now(), made=made
    )
    return "succeeded"


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
