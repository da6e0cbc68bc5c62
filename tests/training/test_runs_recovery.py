"""A run survives its worker: SIGKILL, duplicate messages, lost leases."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest
from django.utils import timezone

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
from training import services
from training.models import TrainingRun
from training.periodic import requeue_stale_runs
from training.runner import Heartbeat, claim
from training.tasks import train_run

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("run_storage"),
]


def start(total_kimg: float, checkpoint_kimg: float = 0.2) -> TrainingRun:
    approved_images("portrait", 16)
    staff = user_in_group("staff", "Staff")
    overrides = tiny_overrides(total_kimg=total_kimg, checkpoint_kimg=checkpoint_kimg, tick_kimg=0.1)
    return services.start_run(Genre.objects.get(slug="portrait"), "smoke", overrides, user=staff)


@pytest.mark.slow
def test_killed_worker_run_resumes_on_a_new_worker_from_its_last_checkpoint(
    settings,
    tmp_path,
    celery_worker_factory,
):
    first = celery_worker_factory(queues="default,gpu", extra_env=worker_env(settings))
    run = start(total_kimg=1.6)
    wait_for(lambda: run.checkpoints.exists(), timeout=180, interval=0.1, what="the first checkpoint")
    first.kill()

    run.refresh_from_db()
    assert run.status == TrainingRun.Status.RUNNING, run.error
    killed_at_step = run.step
    assert 0 < killed_at_step < steps_for(1.6)
    first_worker = run.worker

    # Another host: an empty run folder, so it fetches the checkpoint from storage.
    second = celery_worker_factory(
        queues="default,gpu", extra_env=worker_env(settings, tmp_path / "runs-host-b")
    )
    # Nobody does anything: the periodic check (beat) notices the stale heartbeat.
    wait_for(
        lambda: not TrainingRun.objects.get(pk=run.pk).heartbeat_is_fresh(),
        timeout=30,
        what="the heartbeat to go stale",
    )
    requeue_stale_runs.delay()

    def done() -> bool:
        run.refresh_from_db()
        return run.status not in (TrainingRun.Status.RUNNING, TrainingRun.Status.QUEUED)

    wait_for(done, timeout=240, interval=0.2, what="the resumed run to finish")
    assert run.status == TrainingRun.Status.SUCCEEDED, (run.error, second.log()[-3000:])
    assert run.worker != first_worker and run.attempts == 2
    assert "fetched checkpoint" in second.log()
    # Nothing lost but the steps since the last checkpoint, which were trained again.
    uninterrupted = steps_for(1.6)
    assert run.step == uninterrupted
    assert uninterrupted <= run.steps_trained <= uninterrupted + steps_for(0.2)
    assert [c.kimg for c in run.checkpoints.order_by("kimg")] == [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6]
    assert [round(h["kimg"], 3) for h in run.history] == [round(0.1 * i, 3) for i in range(1, 17)]


@pytest.mark.slow
def test_a_run_enqueued_twice_is_trained_once(settings, celery_worker_factory):
    env = worker_env(settings)
    workers = [celery_worker_factory(queues="gpu", extra_env=env) for _ in range(2)]
    run = start(total_kimg=0.6)
    train_run.delay(run.pk)  # a second message for the same run, as a redelivery would be

    def done() -> bool:
        run.refresh_from_db()
        return run.status == TrainingRun.Status.SUCCEEDED

    wait_for(done, timeout=240, interval=0.2, what="the run to finish")
    logs = "".join(w.log() for w in workers)
    assert logs.count(": 'succeeded'") == 1 and logs.count(": 'skipped'") == 1, logs[-4000:]
    assert run.attempts == 1
    assert run.steps_trained == run.step == steps_for(0.6)


@pytest.mark.slow
def test_a_training_child_asked_for_its_stacks_prints_them_and_trains_on(settings, celery_worker_factory):
    """What an operator does to a run that seems stuck: `kill -USR1` the pid its worker
    column names. The worker's log gets every thread's stack; the run is not lost."""
    worker = celery_worker_factory(queues="default,gpu", extra_env=worker_env(settings))
    run = start(total_kimg=1.2)

    def training() -> bool:
        run.refresh_from_db()
        return run.status == TrainingRun.Status.RUNNING and run.step > 0

    wait_for(training, timeout=180, interval=0.1, what="the run to train", explain=worker.log)
    child = int(run.worker.rpartition(" pid ")[2])
    assert child != worker.pid  # the prefork pool's child, not the worker's parent
    os.kill(child, signal.SIGUSR1)
    wait_for(
        lambda: "most recent call first" in worker.log() and "training/engine/" in worker.log(),
        timeout=30,
        what="the training child's stacks in the worker's log",
        explain=lambda: worker.log()[-3000:],
    )

    def done() -> bool:
        run.refresh_from_db()
        return run.status not in (TrainingRun.Status.RUNNING, TrainingRun.Status.QUEUED)

    wait_for(done, timeout=240, interval=0.2, what="the run to finish", explain=lambda: worker.log()[-3000:])
    assert run.status == TrainingRun.Status.SUCCEEDED, (run.error, worker.log()[-3000:])
    assert run.attempts == 1 and run.worker == f"{run.worker.rpartition(' pid ')[0]} pid {child}"
    assert run.step == steps_for(1.2)


def test_the_stacks_signal_is_billiards_again_once_the_run_is_over():
    """A pool child runs other tasks after a run: SIGUSR1 is then billiard's soft-time-limit
    signal again, as the pool installed it."""
    from museum.stacks import stacks_on_sigusr1

    received = []
    previous = signal.signal(signal.SIGUSR1, lambda *_: received.append("pool's handler"))
    try:
        with stacks_on_sigusr1():
            os.kill(os.getpid(), signal.SIGUSR1)  # stacks to stderr, nothing raised
        assert received == []
        os.kill(os.getpid(), signal.SIGUSR1)
        assert received == ["pool's handler"]
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_no_task_sets_the_soft_time_limit_that_the_stacks_signal_would_silence():
    """museum.stacks takes SIGUSR1, billiard's soft-time-limit signal, while a run trains or a
    request paints: a soft limit on those tasks (or on every task) would never fire."""
    from museum.celery import app

    app.loader.import_default_modules()
    assert app.conf.task_soft_time_limit is None
    for name in (
        "training.tasks.train_run",
        "gallery.tasks.generate_artworks",
        "gallery.tasks.build_mixing_exhibit",
    ):
        assert app.tasks[name].soft_time_limit is None, name


def test_lease_one_owner_at_a_time(settings):
    run = start(total_kimg=0.4)
    token = claim(run.pk, "worker-a")
    assert token
    # A duplicate delivery while the heartbeat is fresh does nothing.
    assert claim(run.pk, "worker-b") is None
    run.refresh_from_db()
    assert (run.worker, run.attempts) == ("worker-a", 1)

    # worker-a goes silent: the stale check queues the run once, and the next
    # delivery takes the lease over.
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat=timezone.now() - timedelta(minutes=5))
    assert requeue_stale_runs.run() == [run.pk]
    assert requeue_stale_runs.run() == []  # not queued again while the first message waits
    token_b = claim(run.pk, "worker-b")
    assert token_b and token_b != token
    run.refresh_from_db()
    assert (run.worker, run.attempts) == ("worker-b", 2)

    # worker-a wakes up: its heartbeat finds the lease gone and stops its training.
    beat = Heartbeat(run.pk, token, interval=0.05)
    beat.start()
    assert beat.lost.wait(5)
    beat.stop()
    assert beat.error is None
    run.refresh_from_db()
    assert run.worker == "worker-b" and run.lease_token == token_b


def test_stale_cancelling_run_is_cancelled_not_trained():
    run = start(total_kimg=0.4)
    assert claim(run.pk, "worker-a")
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.CANCELLING, heartbeat=timezone.now() - timedelta(minutes=5)
    )
    assert claim(run.pk, "worker-b") is None
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.CANCELLED and run.finished is not None


def test_a_child_killed_under_a_live_worker_is_taken_over_at_once():
    import subprocess
    import sys

    run = start(total_kimg=0.4)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a process of this node that is gone, like a SIGKILLed pool child
    assert claim(run.pk, f"gpu0@host pid {child.pid}")
    # The message comes back to the same node (reject_on_worker_lost) while the
    # heartbeat is still fresh: the dead owner is recognised and replaced.
    assert claim(run.pk, "gpu1@host pid 1") is None  # another node: the heartbeat says wait
    assert claim(run.pk, f"gpu0@host pid {os.getpid()}")
    run.refresh_from_db()
    assert run.attempts == 2 and run.worker == f"gpu0@host pid {os.getpid()}"
