"""Which workers exist and what they train on, as rows the admin can read.

Each worker writes a :class:`~training.models.WorkerNode` row when it is
ready and renews it from a thread every ``WORKER_REPORT_SECONDS``; a clean
shutdown deletes it, a killed worker's row goes stale. Rows rather than a
Celery ``inspect`` broadcast because the start form must answer at once
(a broadcast waits its whole timeout for replies, and a busy or partitioned
broker gives none) and because the row also carries what ``inspect`` cannot:
the node's device, GPU count and processes per run.

GPUs are counted with ``nvidia-smi``, never with torch: CUDA must not be
initialised in the worker's parent (its forked children would inherit a
broken context).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from dataclasses import dataclass
from datetime import timedelta

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from .models import WorkerNode

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodeDevice:
    device: str  # "cpu" or "cuda"
    gpus: int
    gpu_name: str


def node_device() -> NodeDevice:
    """The device this node trains on, from TORCH_DEVICE and ``nvidia-smi``."""
    if settings.TORCH_DEVICE == "cpu":
        return NodeDevice("cpu", 0, "")
    names: list[str] = []
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run(
                [smi, "--query-gpu=name", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
                check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            logger.warning("nvidia-smi failed (%s); this worker reports no GPU.", exc)
        else:
            names = [line.strip() for line in out.splitlines() if line.strip()]
    if settings.TORCH_DEVICE.startswith("cuda:") and names:
        return NodeDevice("cuda", 1, names[int(settings.TORCH_DEVICE.split(":", 1)[1]) % len(names)])
    if names:
        return NodeDevice("cuda", len(names), names[0])
    return NodeDevice("cpu", 0, "")


def training_processes(device: NodeDevice) -> int:
    """Processes a run starts on this node: TRAINING_PROCESSES, else one per GPU (one on a CPU)."""
    if settings.TRAINING_PROCESSES > 0:
        return settings.TRAINING_PROCESSES
    return max(1, device.gpus) if device.device == "cuda" else 1


def report(name: str, queues: list[str], device: NodeDevice | None = None) -> WorkerNode:
    device = device or node_device()
    node, _ = WorkerNode.objects.update_or_create(
        name=name,
        defaults={
            "queues": sorted(queues),
            "device": device.device,
            "gpus": device.gpus,
            "gpu_name": device.gpu_name,
            "processes": training_processes(device),
            "last_seen": timezone.now(),
        },
    )
    return node


def live_workers(queue: str = "gpu") -> list[WorkerNode]:
    """Workers that reported recently and take ``queue``."""
    cutoff = timezone.now() - timedelta(seconds=3 * settings.WORKER_REPORT_SECONDS)
    return [w for w in WorkerNode.objects.filter(last_seen__gte=cutoff) if queue in w.queues]


class _Reporter(threading.Thread):
    def __init__(self, name: str, queues: list[str]) -> None:
        super().__init__(name="worker-presence", daemon=True)
        self.node_name = name
        self.queues = queues
        self.device = node_device()
        self.stopped = threading.Event()

    def run(self) -> None:
        while True:
            try:
                close_old_connections()
                report(self.node_name, self.queues, self.device)
            except DatabaseError:
                # The database is down: the row goes stale, which is the truth. Try again later.
                logger.exception("Worker %s could not report its presence", self.node_name)
            if self.stopped.wait(settings.WORKER_REPORT_SECONDS):
                return


_reporter: _Reporter | None = None


@worker_ready.connect
def _start_reporting(sender=None, **_kwargs) -> None:
    global _reporter
    queues = [q.name for q in sender.task_consumer.queues] if sender is not None else []
    _reporter = _Reporter(sender.hostname if sender is not None else "unknown", queues)
    report(_reporter.node_name, queues, _reporter.device)  # before "ready." reaches the log
    connection.close()  # the parent forks pool children later: they must not share this socket
    _reporter.start()


@worker_shutdown.connect
def _stop_reporting(**_kwargs) -> None:
    if _reporter is None:
        return
    _reporter.stopped.set()
    try:
        close_old_connections()
        WorkerNode.objects.filter(name=_reporter.node_name).delete()
    except DatabaseError:
        logger.exception("Worker %s could not remove its presence row", _reporter.node_name)
