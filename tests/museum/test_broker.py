"""A task sent through the real broker is run by a real worker process, and
its effect is seen in the database — on the filesystem broker (the embedded
default) and on Redis (production)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from kombu import Connection

from tests.conftest import wait_for
from training.models import TrainingRun
from training.periodic import requeue_stale_runs

pytestmark = pytest.mark.slow


def stale_run() -> TrainingRun:
    from gallery.models import Genre

    return TrainingRun.objects.create(
        # Transactional tests flush the seeded rooms, so make sure this one exists.
        genre=Genre.objects.get_or_create(slug="landscape", defaults={"name": "Landscapes"})[0],
        status=TrainingRun.Status.RUNNING,
        heartbeat=timezone.now() - timedelta(hours=2),
    )


def send_and_wait(connection: Connection, run: TrainingRun) -> None:
    with connection:
        requeue_stale_runs.apply_async(connection=connection)
    wait_for(
        lambda: TrainingRun.objects.filter(pk=run.pk, requeued_at__isnull=False).exists(),
        timeout=60,
        what="the worker to requeue the stale run",
    )


def test_filesystem_broker_task_runs_in_a_worker_process(celery_worker_factory, tmp_path: Path):
    broker = tmp_path / "fs-broker"
    for folder in ("queue", "control"):
        (broker / folder).mkdir(parents=True)
    run = stale_run()
    worker = celery_worker_factory(
        queues="default", extra_env={"REDIS_URL": None, "CELERY_BROKER_DIR": str(broker)}
    )
    options = {
        "data_folder_in": str(broker / "queue"),
        "data_folder_out": str(broker / "queue"),
        "control_folder": str(broker / "control"),
    }
    send_and_wait(Connection("filesystem://", transport_options=options), run)
    assert "requeue_stale_runs" in worker.log()


def test_redis_broker_task_runs_in_a_worker_process(celery_worker_factory, redis_url: str):
    prefix = f"aag-test-{uuid.uuid4().hex[:8]}:"
    run = stale_run()
    worker = celery_worker_factory(
        queues="default", extra_env={"REDIS_URL": redis_url, "CELERY_REDIS_KEYPREFIX": prefix}
    )
    send_and_wait(Connection(redis_url, transport_options={"global_keyprefix": prefix}), run)
    assert "requeue_stale_runs" in worker.log()
