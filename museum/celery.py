"""The Celery app, configured from Django settings (``CELERY_`` namespace).

Queues:
- ``default``: small work (periodic checks, bookkeeping).
- ``crawl``: Scrapy crawls, on CPU workers.
- ``gpu``: training and generation, one task at a time per GPU worker.
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "museum.settings")

app = Celery("museum")
app.config_from_object("django.conf:settings", namespace="CELERY")

app.conf.update(
    task_default_queue="default",
    task_queues=(Queue("default"), Queue("crawl"), Queue("gpu")),
    # Routed by module: a new task lands on the right queue by where it lives.
    task_routes={
        "scraper.tasks.*": {"queue": "crawl"},
        "training.tasks.*": {"queue": "gpu"},
        "gallery.tasks.*": {"queue": "gpu"},
        "*.periodic.*": {"queue": "default"},
    },
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    # A task is acknowledged only when it finishes, and a worker that dies
    # mid-task (SIGKILL, OOM) hands the message back instead of losing it.
    # Job state lives in the database, so a redelivered task is idempotent.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    timezone="UTC",
    # Beat: send again work that is queued but not taken (the broker was down)
    # and runs or crawls whose worker died (museum/queueing.py), and queue room
    # refreshes that are due (each room's schedule is a row staff edit).
    beat_schedule={
        "requeue-stale-training-runs": {"task": "training.periodic.requeue_stale_runs", "schedule": 60.0},
        "requeue-stale-crawls": {"task": "scraper.periodic.requeue_stale_crawls", "schedule": 60.0},
        "resend-waiting-paintings": {"task": "gallery.periodic.resend_waiting_paintings", "schedule": 60.0},
        "refresh-rooms": {"task": "gallery.periodic.refresh_rooms", "schedule": 300.0},
    },
)

app.autodiscover_tasks(related_name="tasks")
app.autodiscover_tasks(related_name="periodic")
