"""A worker's lease on a job row, renewed by a thread while the job runs.

A job row (training run, painting request) that a worker claims gets a
``heartbeat`` timestamp. :class:`Heartbeat` writes it every ``interval``
seconds, independent of how long one step of the job takes, for as long as the
row still matches ``match`` (the claim: a lease token, an attempt number). A
periodic sweep treats a row whose heartbeat is older than its stale limit as
lost with its worker (SIGKILL, out of memory, a node gone) and queues it
again. When the row stops matching (another worker took it over) or the
database cannot be written, ``lost`` is set so the job can stop.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.db import DatabaseError, connection, models
from django.utils import timezone

logger = logging.getLogger(__name__)


class Heartbeat(threading.Thread):
    def __init__(self, model: type[models.Model], match: dict[str, Any], interval: float, label: str) -> None:
        super().__init__(name=f"heartbeat-{label}", daemon=True)
        self.model = model
        self.match = match
        self.interval = interval
        self.label = label
        self.lost = threading.Event()
        self.error: Exception | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            while not self._stop_event.wait(self.interval):
                renewed = self.model.objects.filter(**self.match).update(heartbeat=timezone.now())
                if not renewed:
                    self.lost.set()
                    return
        except DatabaseError as exc:
            # Without a heartbeat another worker would take over: the job should stop.
            logger.exception("%s: heartbeat could not be written", self.label)
            self.error = exc
            self.lost.set()
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=self.interval + 30)
