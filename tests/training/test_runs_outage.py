"""Runs survive a broker outage, a race between two staff, and a silent worker."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from gallery.models import Genre
from tests.conftest import wait_for
from tests.training.runs_factories import (
    TINY_FORM,
    approved_images,
    run_storage,  # noqa: F401 - a fixture, used through pytestmark
    tiny_overrides,
    user_in_group,
    worker_env,
)
from training import services
from training.models import TrainingRun
from training.periodic import requeue_stale_runs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("run_storage")]


def portrait() -> Genre:
    return Genre.objects.get(slug="portrait")


@pytest.mark.slow
def test_a_run_started_while_the_broker_is_down_is_saved_and_trained_once_it_is_back(
    client, settings, broker_outage, celery_worker_factory
):
    approved_images("portrait", 16)
    client.force_login(user_in_group("staff", "Staff"))
    form = {**TINY_FORM, "genre": portrait().pk, "total_kimg": "0.08", "checkpoint_kimg": "0.08"}

    response = client.post(reverse("admin:training_trainingrun_start"), form, follow=True)

    # No 500: the run is saved, and staff are told it waits for the broker.
    assert response.status_code == 200
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.QUEUED and run.sent_at is None
    text = response.content.decode()
    assert "task broker is unreachable" in text and "as soon as the broker is back" in text
    # The form still refuses a second run for the genre: this one is active, not lost.
    again = client.post(reverse("admin:training_trainingrun_start"), form)
    assert f"Run {run.pk} for" in again.content.decode() and TrainingRun.objects.count() == 1

    broker_outage()  # the broker is back
    worker = celery_worker_factory(queues="gpu", extra_env=worker_env(settings))
    assert requeue_stale_runs() == [run.pk]  # beat's sweep sends it

    def done() -> bool:
        run.refresh_from_db()
        return not run.is_active

    wait_for(done, timeout=240, interval=0.2, what="the run sent by the sweep to finish")
    assert run.status == TrainingRun.Status.SUCCEEDED, (run.error, worker.log()[-3000:])
    assert run.sent_at is not None and run.attempts == 1
    assert requeue_stale_runs() == []  # nothing left to send


def test_the_database_refuses_a_second_active_run_for_a_genre():
    approved_images("portrait", 16)
    first = services.start_run(portrait(), "smoke", tiny_overrides())
    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingRun.objects.create(genre=portrait(), status=TrainingRun.Status.QUEUED)
    # Finished runs do not count: a new run may start once the first is done.
    TrainingRun.objects.filter(pk=first.pk).update(status=TrainingRun.Status.SUCCEEDED)
    assert services.start_run(portrait(), "smoke", tiny_overrides()).pk != first.pk


def test_resuming_a_run_while_another_is_active_is_refused():
    approved_images("portrait", 16)
    first = services.start_run(portrait(), "smoke", tiny_overrides())
    services.cancel_run(first)
    second = services.start_run(portrait(), "smoke", tiny_overrides())
    with pytest.raises(ValidationError, match=f"Run {second.pk} for"):
        services.resume_run(first)
    assert TrainingRun.objects.get(pk=first.pk).status == TrainingRun.Status.CANCELLED


def test_two_staff_starting_a_run_at_the_same_instant_get_one_run(postgres_url):
    if connection.vendor != "postgresql":
        pytest.fail(f"DATABASE_URL={postgres_url!r} but the tests run on {connection.vendor}.")
    approved_images("portrait", 16)
    genre = portrait()
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def start() -> None:
        try:
            barrier.wait()
            services.start_run(genre, "smoke", tiny_overrides())
            outcomes.append("started")
        except ValidationError as exc:
            outcomes.append(exc.messages[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    run = TrainingRun.objects.get()
    assert outcomes.count("started") == 1, outcomes
    assert (
        sorted(outcomes)[:3]
        == [f"Run {run.pk} for Portraits is still active: cancel it or wait for it to finish."] * 3
    )


def test_the_page_of_a_run_whose_worker_went_silent_says_so_instead_of_an_eta(client, settings):
    approved_images("portrait", 16)
    run = services.start_run(portrait(), "smoke", tiny_overrides())
    # What a restart leaves: running, the dead worker's pid, an ETA from its last report.
    settings.TRAINING_SILENT_SECONDS, settings.TRAINING_STALE_SECONDS = 15, 120
    silent_for = 30  # silent, not yet stale: not yet re-queued
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.RUNNING,
        worker="celery@gpu-1 pid 4242",
        heartbeat=timezone.now() - timedelta(seconds=silent_for),
        eta_seconds=540.0,
        kimg_done=0.2,
    )
    client.force_login(user_in_group("staff", "Staff"))

    page = client.get(reverse("admin:training_trainingrun_change", args=[run.pk])).content.decode()

    assert "worker not heard from for" in page
    assert "unknown: the worker is not heard from" in page
    assert "9 min 00 s" not in page  # the dead worker's ETA is not shown as live
