"""Periodic checks for training runs (queue ``default``, run by beat).

A worker killed mid-run (SIGKILL, OOM, a lost node) stops renewing its
heartbeat. Redis would redeliver its message only after the visibility
timeout, and the filesystem broker never does, so this check queues such
runs again; the task's lease makes the extra message harmless if the broker
redelivers as well. It also sends every queued run no worker has taken (the
broker was down when it was started; see ``museum.queueing``).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from museum.queueing import broker_was_down, resend_waiting, send_on_commit

from .models import TrainingRun

logger = logging.getLogger(__name__)


@shared_task(name="training.periodic.requeue_stale_runs")
def requeue_stale_runs() -> list[int]:
    """Queue every running run whose heartbeat is stale, and every queued run
    not taken; return their ids."""
    from .tasks import train_run

    requeued = resend_waiting(TrainingRun.objects.all(), train_run)

    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.TRAINING_STALE_SECONDS)
    stale = TrainingRun.objects.filter(
        Q(status__in=[TrainingRun.Status.RUNNING, TrainingRun.Status.CANCELLING]),
        Q(heartbeat__lt=cutoff) | Q(heartbeat__isnull=True),
        Q(requeued_at__isnull=True) | Q(requeued_at__lt=cutoff),
    )
    for run_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            # Mark first, so a slow beat cycle cannot queue the run twice.
            if (
                not TrainingRun.objects.filter(pk=run_id)
                .filter(Q(requeued_at__isnull=True) | Q(requeued_at__lt=cutoff))
                .update(requeued_at=now)
            ):
                continue
            run = TrainingRun(pk=run_id)
            send_on_commit(run, train_run, run_id)
        if broker_was_down(run):
            # The mark stays: the next cycle after the cutoff tries again.
            continue
        logger.warning(
            "Run %s has a stale heartbeat; queued it again to resume from its last checkpoint.", run_id
        )
        requeued.append(run_id)
    return requeued
