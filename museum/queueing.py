"""The one way work reaches a worker: the row is the truth, the broker a courier.

Every kind of job (training run, crawl, painting request) is a row whose
status is "queued" until a worker claims it. :func:`send_on_commit` hands the
row's id to the broker once the transaction commits and records when it did
(``sent_at``). When the broker is unreachable the error is logged, the row
stays queued with no ``sent_at``, and the page that asked carries on: its
message says the job is saved and will be sent. Each app's periodic sweep (on
beat) calls :func:`resend_waiting`, which sends again every queued row never
sent, or sent long ago and still not taken. Workers claim rows under a lock,
so a job sent twice still runs once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import Task
from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import KombuError

logger = logging.getLogger(__name__)

# A broker that refuses connections, times out, or (filesystem broker) a
# folder that cannot be written.
BROKER_ERRORS = (KombuError, OSError)
# Give up quickly: the row is saved and the sweep sends it later, so a page
# must not hang on a broker that is down.
RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}


def send_now(row: models.Model, task: Task, *args: Any) -> bool:
    """Send ``task(*args)`` for the saved ``row`` now; on success record
    ``sent_at``. Returns whether the broker took it; a broker error is logged
    and left on ``row.send_error`` for the page that asked."""
    label = f"{row._meta.verbose_name} {row.pk}"
    try:
        task.apply_async(args=args, retry=True, retry_policy=RETRY_POLICY)
    except BROKER_ERRORS as exc:
        row.send_error = f"{type(exc).__name__}: {exc}"
        logger.warning(
            "%s is saved as queued but the broker is unreachable (%s); "
            "the periodic sweep sends it once the broker is back.",
            label,
            row.send_error,
        )
        return False
    now = timezone.now()
    type(row).objects.filter(pk=row.pk).update(sent_at=now)
    row.sent_at = now
    row.send_error = ""
    return True


def send_on_commit(row: models.Model, task: Task, *args: Any) -> None:
    """Send ``task(*args)`` for ``row`` once the current transaction commits
    (at once outside one); see :func:`send_now`."""
    row.send_error = ""
    transaction.on_commit(lambda: send_now(row, task, *args))


def broker_was_down(row: models.Model) -> bool:
    """True when the last attempt to send ``row`` found the broker unreachable."""
    return bool(getattr(row, "send_error", ""))


def resend_waiting(
    queryset: models.QuerySet, task: Task, args_of: Callable[[models.Model], tuple] = lambda row: (row.pk,)
) -> list[int]:
    """Send again every queued row of ``queryset`` that no worker has taken:
    never sent (the broker was down), or sent longer than
    ``QUEUE_RESEND_SECONDS`` ago (its message was lost). Returns their ids."""
    cutoff = timezone.now() - timedelta(seconds=settings.QUEUE_RESEND_SECONDS)
    waiting = queryset.filter(status="queued").filter(Q(sent_at__isnull=True) | Q(sent_at__lt=cutoff))
    sent = []
    for row in waiting.order_by("pk"):
        if send_now(row, task, *args_of(row)):
            logger.info("%s %s was queued but not taken; sent it again.", row._meta.verbose_name, row.pk)
            sent.append(row.pk)
    return sent
