"""Cancelling and resuming from the admin; failures end with a readable error."""

from __future__ import annotations

import errno

import pytest
from django.urls import reverse

from gallery.models import Genre
from tests.conftest import wait_for
from tests.training.runs_factories import (
    approved_images,
    run_storage,  # noqa: F401 - a fixture, used through pytestmark
    steps_for,
    tiny_overrides,
    user_in_group,
    worker_env,
)
from training import datasets, services
from training.models import TrainingRun
from training.runner import readable_error

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("run_storage"),
]


def portrait() -> Genre:
    return Genre.objects.get(slug="portrait")


def status_is(run: TrainingRun, *statuses: str):
    def check() -> bool:
        run.refresh_from_db()
        return run.status in statuses

    return check


@pytest.mark.slow
def test_cancel_stops_at_the_next_step_and_resume_finishes_without_losing_steps(
    client, settings, celery_worker_factory
):
    approved_images("portrait", 16)
    staff = user_in_group("staff", "Staff")
    client.force_login(staff)
    worker = celery_worker_factory(queues="gpu", extra_env=worker_env(settings))
    run = services.start_run(portrait(), "smoke", tiny_overrides(total_kimg=2.0, checkpoint_kimg=1.0), staff)

    wait_for(
        lambda: status_is(run, "running")() and run.kimg_done > 0, timeout=120, interval=0.1, what="progress"
    )
    response = client.post(reverse("admin:training_trainingrun_cancel", args=[run.pk]))
    assert response.status_code == 302
    wait_for(status_is(run, "cancelled"), timeout=60, what="the run to stop")
    assert 0 < run.step < steps_for(2.0), worker.log()[-2000:]
    # Stopping saved a checkpoint where it stopped, so nothing is lost.
    assert run.checkpoints.order_by("kimg").last().step == run.step
    page = client.get(reverse("admin:training_trainingrun_change", args=[run.pk])).content.decode()
    assert "Resume run" in page and "Cancel run" not in page

    client.post(reverse("admin:training_trainingrun_resume", args=[run.pk]))
    wait_for(status_is(run, "succeeded", "failed"), timeout=180, what="the resumed run to finish")
    assert run.status == "succeeded", run.error
    assert run.step == run.steps_trained == steps_for(2.0)
    assert run.attempts == 2


def test_cancelling_a_queued_run_is_immediate_and_the_task_then_does_nothing():
    approved_images("portrait", 16)
    run = services.start_run(portrait(), "smoke", tiny_overrides())
    services.cancel_run(run)
    run.refresh_from_db()
    assert run.status == "cancelled" and run.finished is not None

    from training.runner import train_claimed_run

    assert train_claimed_run(run.pk, "worker-a") == "skipped"
    run.refresh_from_db()
    assert run.status == "cancelled" and run.attempts == 0


@pytest.mark.slow
def test_missing_dataset_file_fails_the_run_with_a_readable_error(client, settings, celery_worker_factory):
    approved_images("portrait", 16)
    staff = user_in_group("staff", "Staff")
    run = services.start_run(portrait(), "smoke", tiny_overrides(), staff)
    datasets.pack_dataset(run.dataset)
    name = run.dataset.packed_file.name
    run.dataset.packed_file.storage.delete(name)  # removed behind its back

    celery_worker_factory(queues="gpu", extra_env=worker_env(settings))
    wait_for(status_is(run, "failed", "succeeded"), timeout=120, what="the run to end")
    assert run.status == "failed"
    assert name in run.error and "missing" in run.error and "Start a new run" in run.error
    assert run.finished is not None and run.lease_token == ""

    client.force_login(staff)
    page = client.get(reverse("admin:training_trainingrun_change", args=[run.pk])).content.decode()
    assert "missing from checkpoint storage" in page and "Resume run" in page


def test_an_image_file_gone_before_packing_is_skipped_and_listed():
    images = approved_images("portrait", 17)
    images[4].image.storage.delete(images[4].image.name)
    dataset = datasets.freeze_dataset(portrait(), 32)
    assert dataset.image_count == 16 and len(dataset.sha256) == 64
    assert [name for name, _reason in dataset.skipped] == [images[4].image.name]
    assert dataset.images.count() == 17  # the snapshot still says what was approved


def test_failures_read_as_what_happened_and_what_to_do():
    approved_images("portrait", 16)
    run = services.start_run(portrait(), "smoke", tiny_overrides(batch_size=64))

    import torch

    oom = readable_error(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), run)
    assert "Out of GPU memory at batch size 64 and 32px" in oom and "smaller batch size" in oom
    full = readable_error(OSError(errno.ENOSPC, "No space left on device", "/data/run-1/ckpt.pt"), run)
    assert full.startswith("Disk full while writing /data/run-1/ckpt.pt") and "resume the run" in full
