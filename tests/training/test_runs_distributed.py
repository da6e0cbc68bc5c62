"""A run started from the admin trains on every process of the worker's node
(torchrun, two gloo processes on the CPU) with the same progress, cancel,
checkpoints and resume as a one-process run."""

from __future__ import annotations

import pytest
from django.urls import reverse

from gallery.models import Genre
from tests.conftest import wait_for
from tests.training.runs_factories import (
    TINY_FORM,
    approved_images,
    run_state,
    run_storage,  # noqa: F401 - a fixture, used through pytestmark
    steps_for,
    user_in_group,
    worker_env,
)
from training.models import TrainingRun, WorkerNode

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("run_storage"),
]


def test_two_gloo_processes_from_an_admin_post_through_the_real_worker(
    client, settings, celery_worker_factory
):
    from training.engine.checkpoint import checkpoint_metadata

    approved_images("portrait", 16)
    client.force_login(user_in_group("staff", "Staff"))
    worker = celery_worker_factory(
        queues="gpu", extra_env={**worker_env(settings), "TRAINING_PROCESSES": "2"}
    )
    assert WorkerNode.objects.get().processes == 2
    form = {**TINY_FORM, "genre": str(Genre.objects.get(slug="portrait").pk), "total_kimg": "0.8"}
    response = client.post(reverse("admin:training_trainingrun_start"), form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert "cpu ×2" in client.get(response["Location"]).content.decode(), "the message names the worker"
    run = TrainingRun.objects.get()

    def state() -> TrainingRun:
        run.refresh_from_db()
        return run

    def explain() -> str:
        return run_state(run, worker, settings)

    wait_for(
        lambda: state().checkpoints.exists(),
        timeout=240,
        interval=0.2,
        what="a first checkpoint",
        explain=explain,
    )
    assert run.status == "running" and run.device == "cpu ×2", explain()
    assert 0 < run.kimg_done < 0.8 and run.history, "rank 0 reports progress and ticks to the row"
    response = client.post(reverse("admin:training_trainingrun_cancel", args=[run.pk]))
    assert response.status_code == 302 and state().status in ("cancelling", "cancelled"), explain()
    # Any end counts as the end of the wait, so a run that failed instead says why at once.
    wait_for(
        lambda: state().status not in TrainingRun.ACTIVE_STATUSES,
        timeout=120,
        what="the run to stop",
        explain=explain,
    )
    assert run.status == "cancelled", explain()
    stopped_at = run.step
    assert 0 < stopped_at < steps_for(0.8)
    assert run.checkpoints.order_by("kimg").last().step == stopped_at, "stopping saved a checkpoint"

    client.post(reverse("admin:training_trainingrun_resume", args=[run.pk]))
    wait_for(
        lambda: state().status in ("succeeded", "failed"),
        timeout=240,
        what="the resumed run",
        explain=explain,
    )
    assert run.status == "succeeded", explain()
    assert run.step == run.steps_trained == steps_for(0.8) and run.attempts == 2
    assert [round(h["kimg"], 3) for h in run.history] == [round(0.04 * i, 3) for i in range(1, 21)]
    last = run.checkpoints.order_by("kimg").last()
    assert last.kimg == pytest.approx(0.8) and last.metric is not None
    assert checkpoint_metadata(last.file.path)["world_size"] == 2
