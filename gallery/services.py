"""Writes that hang paintings: publish a checkpoint, queue paintings and
mixing exhibits from it, and queue the room refreshes that are due.

``gallery/`` starts from a checkpoint (``training/`` ends at one). The admin,
the periodic refresh and ``manage.py demo`` call these; work is queued only
after the transaction commits, as a ``PaintingRequest`` row that the periodic
sweep sends again if the broker was down (``museum.queueing``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from gallery.models import Genre, PaintingRequest
from museum.heartbeat import Heartbeat
from museum.queueing import resend_waiting, send_on_commit
from training.models import Checkpoint, GenerationSchedule

logger = logging.getLogger(__name__)


def checkpoints_painting(genres: Sequence[Genre] | Genre) -> QuerySet[Checkpoint]:
    """Checkpoints whose model can paint any of ``genres``: a run of that genre,
    or a class-conditional run with one class per room, that genre among them."""
    ids = [g.pk for g in genres] if isinstance(genres, (list, tuple)) else [genres.pk]
    return Checkpoint.objects.filter(
        Q(run__genre_id__in=ids) | Q(run__dataset__classes__genre_id__in=ids)
    ).distinct()


def published_checkpoint(genre: Genre) -> Checkpoint | None:
    """The checkpoint that paints ``genre``'s room, if any: the one published
    last of those that paint it."""
    return (
        checkpoints_painting(genre)
        .filter(published=True)
        .order_by(F("published_at").desc(nulls_last=True), "-created", "-pk")
        .first()
    )


def paints_room(checkpoint: Checkpoint, genre: Genre) -> bool:
    """Whether ``checkpoint`` is the one ``genre``'s room is painted from now."""
    current = published_checkpoint(genre)
    return current is not None and current.pk == checkpoint.pk


def publish_checkpoint(
    checkpoint: Checkpoint,
    first_batch: int = 0,
    user=None,
    confirmed_warnings: Sequence[str] = (),
) -> Checkpoint:
    """Make ``checkpoint`` the one its rooms are painted from (its genre's, or
    each class's room for a class-conditional model), and optionally queue a
    first batch of paintings for each (:func:`queue_first_batches`). One
    checkpoint paints a room: one that no longer paints any room is unpublished. Records who published it, when,
    and the warnings they confirmed (see
    ``training.checkpoint_quality.publish_warnings``)."""
    with transaction.atomic():
        checkpoint = Checkpoint.objects.select_for_update().select_related("run").get(pk=checkpoint.pk)
        rooms = checkpoint.run.rooms
        checkpoint.published = True
        checkpoint.published_by = user if getattr(user, "pk", None) else None
        checkpoint.published_at = timezone.now()
        checkpoint.publish_warnings = [str(w) for w in confirmed_warnings]
        checkpoint.save(update_fields=["published", "published_by", "published_at", "publish_warnings"])
        others = checkpoints_painting(rooms).filter(published=True).exclude(pk=checkpoint.pk)
        for other in others.select_related("run"):
            if not any(paints_room(other, genre) for genre in other.run.rooms):
                Checkpoint.objects.filter(pk=other.pk).update(published=False)
        for genre in rooms:
            GenerationSchedule.objects.get_or_create(genre_id=genre.pk)
        if first_batch > 0:
            queue_first_batches(checkpoint, first_batch, user=user)
    return checkpoint


def queue_first_batches(checkpoint: Checkpoint, count: int, user=None) -> list[PaintingRequest]:
    """Queue ``count`` paintings from a newly published ``checkpoint`` for each
    of its rooms, painted as the room's refresh schedule paints it (its ψ and
    truncation cutoff: a room whose schedule truncates only the coarse styles
    is not repainted at ψ on every layer), and start the schedule's period now,
    so beat's next refresh does not queue a second batch minutes later."""
    now = timezone.now()
    requests = []
    with transaction.atomic():
        for genre in checkpoint.run.rooms:
            schedule, _created = GenerationSchedule.objects.get_or_create(genre_id=genre.pk)
            requests.append(
                queue_generation(
                    checkpoint,
                    count,
                    schedule.psi,
                    user=user,
                    genre=genre,
                    truncation_cutoff=schedule.truncation_cutoff,
                )
            )
            GenerationSchedule.objects.filter(pk=schedule.pk).update(last_queued=now)
    return requests


def room_of(checkpoint: Checkpoint, genre: Genre | None) -> Genre:
    """The room a request paints: ``genre``, which the checkpoint's model must
    paint, or the run's own genre."""
    if genre is None:
        return checkpoint.run.genre
    if genre.pk not in {g.pk for g in checkpoint.run.rooms}:
        raise ValidationError(
            _("%(checkpoint)s does not paint the %(genre)s room: it paints %(rooms)s.")
            % {
                "checkpoint": checkpoint,
                "genre": genre.display_name,
                "rooms": ", ".join(g.display_name for g in checkpoint.run.rooms),
            }
        )
    return genre


def queue_generation(
    checkpoint: Checkpoint,
    count: int,
    psi: float,
    user=None,
    genre: Genre | None = None,
    truncation_cutoff: int | None = None,
) -> PaintingRequest:
    """Ask a GPU worker for ``count`` artworks from ``checkpoint`` for
    ``genre``'s room (default: its run's genre), ``psi`` applied to the first
    ``truncation_cutoff`` ws (all when None): saved as a queued request, sent
    after commit (``museum.queueing``)."""
    request = PaintingRequest.objects.create(
        kind=PaintingRequest.Kind.ARTWORKS,
        checkpoint=checkpoint,
        genre=room_of(checkpoint, genre),
        count=count,
        psi=psi,
        truncation_cutoff=truncation_cutoff,
        requested_by=user,
    )
    _send(request)
    return request


def queue_mixing_exhibit(
    checkpoint: Checkpoint, rows: int, columns: int, user=None, genre: Genre | None = None
) -> PaintingRequest:
    """Ask a GPU worker for a style-mixing exhibit from ``checkpoint`` for
    ``genre``'s room (see :func:`queue_generation`), its sources painted as the
    room's refresh schedule paints the room (its ψ and truncation cutoff)."""
    room = room_of(checkpoint, genre)
    schedule = GenerationSchedule.objects.filter(genre=room).first() or GenerationSchedule()
    request = PaintingRequest.objects.create(
        kind=PaintingRequest.Kind.EXHIBIT,
        checkpoint=checkpoint,
        genre=room,
        rows=rows,
        columns=columns,
        psi=schedule.psi,
        truncation_cutoff=schedule.truncation_cutoff,
        requested_by=user,
    )
    _send(request)
    return request


def _task_for(request: PaintingRequest):
    from gallery.tasks import build_mixing_exhibit, generate_artworks

    return build_mixing_exhibit if request.kind == PaintingRequest.Kind.EXHIBIT else generate_artworks


def _send(request: PaintingRequest) -> None:
    send_on_commit(request, _task_for(request), request.pk)


def recover_lost_requests(now: datetime | None = None) -> list[int]:
    """Running painting requests whose worker stopped beating (killed, out of
    memory, its node gone): queue each again, or fail it with the reason once
    it has lost ``PAINTING_MAX_ATTEMPTS`` workers. Returns the ids queued again."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PAINTING_STALE_SECONDS)
    lost = PaintingRequest.objects.filter(status=PaintingRequest.Status.RUNNING).filter(
        Q(heartbeat__lt=cutoff) | Q(heartbeat__isnull=True, started__lt=cutoff)
    )
    requeued = []
    for request in lost:
        seen = {"pk": request.pk, "status": PaintingRequest.Status.RUNNING, "attempts": request.attempts}
        silent = int((now - (request.heartbeat or request.started)).total_seconds())
        if request.attempts >= settings.PAINTING_MAX_ATTEMPTS:
            failed = PaintingRequest.objects.filter(**seen).update(
                status=PaintingRequest.Status.FAILED,
                finished=now,
                error=_(
                    "The worker painting it stopped without a word %(n)d times (killed, out of memory "
                    "or its node lost); it is not tried again. Look at the GPU workers' logs, then "
                    "ask for it again."
                )
                % {"n": request.attempts},
            )
            if failed:
                logger.error("Painting request %s lost %d workers; failed", request.pk, request.attempts)
            continue
        taken = PaintingRequest.objects.filter(**seen).update(
            status=PaintingRequest.Status.QUEUED,
            sent_at=None,
            heartbeat=None,
            error=_("Its worker stopped while painting it (not heard from for %(s)d s); queued again.")
            % {"s": silent},
        )
        if taken:
            logger.warning(
                "Painting request %s: its worker was not heard from for %d s; queued again",
                request.pk,
                silent,
            )
            requeued.append(request.pk)
    return requeued


def resend_waiting_requests() -> list[int]:
    """Queue again the requests whose worker was lost, then send again every
    queued painting request no worker has taken."""
    from gallery.tasks import build_mixing_exhibit, generate_artworks

    recover_lost_requests()
    requests = PaintingRequest.objects.all()
    return resend_waiting(
        requests.filter(kind=PaintingRequest.Kind.ARTWORKS), generate_artworks
    ) + resend_waiting(requests.filter(kind=PaintingRequest.Kind.EXHIBIT), build_mixing_exhibit)


def carry_out(request_id: int) -> str:
    """Claim a queued painting request and paint it (on the GPU worker);
    returns what happened. A request already taken is left alone; one whose
    worker was lost is queued again by :func:`recover_lost_requests`."""
    with transaction.atomic():
        request = PaintingRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None or request.status != PaintingRequest.Status.QUEUED:
            logger.info("Painting request %s is %s; nothing to do.", request_id, request and request.status)
            return "skipped"
        request.status = PaintingRequest.Status.RUNNING
        request.started = request.heartbeat = timezone.now()
        request.attempts += 1
        request.save(update_fields=["status", "started", "heartbeat", "attempts"])
    # This claim: a worker that was given up for lost and then finishes must
    # not overwrite the record of the one that took the request over.
    claim = {"pk": request_id, "status": PaintingRequest.Status.RUNNING, "attempts": request.attempts}
    heartbeat = Heartbeat(
        PaintingRequest, claim, float(settings.PAINTING_HEARTBEAT_SECONDS), f"painting request {request_id}"
    )
    heartbeat.start()
    try:
        return _paint(request, claim)
    finally:
        heartbeat.stop()


class TakenOver(Exception):
    """This worker was given up for lost and the request went to another one."""


def _still_ours(claim: dict) -> None:
    """Run inside the transaction that saves the paintings: lock the request and
    make sure this worker's claim still holds, or save nothing."""
    if not PaintingRequest.objects.select_for_update().filter(**claim).exists():
        raise TakenOver


def _paint(request: PaintingRequest, claim: dict) -> str:
    from .generation import build_mixing_exhibit, generate_artworks

    request_id = request.pk
    checkpoint = Checkpoint.objects.select_related("run__genre").get(pk=request.checkpoint_id)
    genre = request.genre or checkpoint.run.genre
    before_saving = functools.partial(_still_ours, claim)
    try:
        if request.kind == PaintingRequest.Kind.EXHIBIT:
            exhibit = build_mixing_exhibit(
                checkpoint,
                request.rows,
                request.columns,
                psi=request.psi,
                truncation_cutoff=request.truncation_cutoff,
                genre=genre,
                before_saving=before_saving,
            )
            made = [exhibit.pk]
        else:
            made = [
                artwork.pk
                for artwork in generate_artworks(
                    checkpoint,
                    request.count,
                    psi=request.psi,
                    truncation_cutoff=request.truncation_cutoff,
                    genre=genre,
                    before_saving=before_saving,
                )
            ]
    except TakenOver:
        # Its successor paints the request in full: hanging these too would give
        # the room more paintings than asked for.
        logger.warning(
            "Painting request %s was taken over while this worker painted it; its paintings are discarded",
            request_id,
        )
        return "taken over"
    except Exception as exc:  # recorded on the request for staff, and logged with its traceback
        logger.exception("Painting request %s failed", request_id)
        PaintingRequest.objects.filter(**claim).update(
            status=PaintingRequest.Status.FAILED,
            finished=timezone.now(),
            error=f"{type(exc).__name__}: {exc}",
        )
        return "failed"
    recorded = PaintingRequest.objects.filter(**claim).update(
        status=PaintingRequest.Status.SUCCEEDED, finished=timezone.now(), made=made, error=""
    )
    if not recorded:  # taken over between the save and this line: rare, the save checked
        logger.warning(
            "Painting request %s was taken over while this worker recorded it; made %s are kept",
            request_id,
            made,
        )
        return "taken over"
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
            queue_generation(
                checkpoint,
                schedule.count,
                schedule.psi,
                genre=schedule.genre,
                truncation_cutoff=schedule.truncation_cutoff,
            )
        logger.info(
            "Room %s: queued %d paintings from checkpoint %s",
            schedule.genre.slug,
            schedule.count,
            checkpoint.pk,
        )
        queued.append(checkpoint.pk)
    return queued
