"""Paintings and mixing exhibits asked of a checkpoint are rows: they survive
a broker outage and are painted once the broker is back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from gallery import services
from gallery.models import Artwork, MixingExhibit, PaintingRequest
from gallery.periodic import resend_waiting_paintings
from tests.conftest import wait_for
from tests.gallery.factories import make_staff
from tests.gallery.test_generation import checkpoint, collection, trained_checkpoint  # noqa: F401 - fixtures


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_paintings_asked_for_while_the_broker_is_down_are_painted_once_it_is_back(
    client,
    checkpoint,  # noqa: F811 - the imported fixture
    settings,
    broker_outage,
    celery_worker_factory,
):
    client.force_login(
        make_staff("staff", perms=("training.publish_checkpoint", "training.view_trainingrun"))
    )

    response = client.post(
        reverse("admin:training_checkpoint_generate", args=[checkpoint.pk]),
        {"count": "2", "psi": "0.7"},
        follow=True,
    )

    assert response.status_code == 200
    assert "task broker is unreachable" in response.content.decode()
    request = PaintingRequest.objects.get()
    assert (request.status, request.sent_at, request.count) == ("queued", None, 2)

    broker_outage()  # the broker is back
    worker = celery_worker_factory(
        queues="gpu", extra_env={"TORCH_DEVICE": "cpu", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    )
    assert resend_waiting_paintings() == [request.pk]

    def done() -> bool:
        request.refresh_from_db()
        return request.status not in ("queued", "running")

    wait_for(done, timeout=180, interval=0.2, what="the paintings to be painted")
    assert request.status == "succeeded", (request.error, worker.log()[-3000:])
    assert sorted(request.made) == sorted(
        Artwork.objects.filter(checkpoint=checkpoint).values_list("pk", flat=True)
    )
    assert len(request.made) == 2
    assert resend_waiting_paintings() == []


@pytest.mark.django_db
def test_a_mixing_exhibit_request_is_built_once_however_often_it_is_delivered(
    checkpoint,  # noqa: F811 - the imported fixture
    django_capture_on_commit_callbacks,
):
    from gallery.tasks import build_mixing_exhibit

    with django_capture_on_commit_callbacks(execute=False):  # no broker here: the task is run below
        request = services.queue_mixing_exhibit(checkpoint, rows=2, columns=2)

    assert build_mixing_exhibit(request.pk) == "succeeded"
    assert build_mixing_exhibit(request.pk) == "skipped"  # a redelivery does nothing
    request.refresh_from_db()
    assert request.status == "succeeded" and request.made == [MixingExhibit.objects.get().pk]


@pytest.mark.django_db
def test_staff_choose_how_many_style_layers_psi_truncates(
    client,
    checkpoint,  # noqa: F811 - the imported fixture
    django_capture_on_commit_callbacks,
):
    from gallery.tasks import generate_artworks

    client.force_login(
        make_staff("staff", perms=("training.publish_checkpoint", "training.view_trainingrun"))
    )
    url = reverse("admin:training_checkpoint_generate", args=[checkpoint.pk])
    page = client.get(reverse("admin:training_trainingrun_change", args=[checkpoint.run_id])).content.decode()
    assert 'name="cutoff"' in page
    with django_capture_on_commit_callbacks(execute=False):  # no broker here: the task is run below
        client.post(url, {"count": "2", "psi": "0.5", "cutoff": "2"})
        # The tiny 32-px model has 8 style layers: 9 is refused, and nothing is queued.
        refused = client.post(url, {"count": "2", "psi": "0.5", "cutoff": "9"}, follow=True).content.decode()
    assert "This 32 px model has 8 style layers; 9 is more." in refused
    request = PaintingRequest.objects.get()
    assert (request.psi, request.truncation_cutoff) == (0.5, 2)
    assert generate_artworks(request.pk) == "succeeded"
    assert set(Artwork.objects.values_list("psi", "truncation_cutoff")) == {(0.5, 2)}


@pytest.mark.django_db
def test_a_mixing_exhibit_is_painted_as_its_room_is(
    checkpoint,  # noqa: F811 - the imported fixture
    django_capture_on_commit_callbacks,
):
    from gallery.tasks import build_mixing_exhibit
    from training.models import GenerationSchedule

    GenerationSchedule.objects.create(genre=checkpoint.run.genre, psi=0.5, truncation_cutoff=4)
    with django_capture_on_commit_callbacks(execute=False):
        request = services.queue_mixing_exhibit(checkpoint, rows=1, columns=2)
    assert build_mixing_exhibit(request.pk) == "succeeded"
    exhibit = MixingExhibit.objects.get()
    assert (exhibit.psi, exhibit.truncation_cutoff) == (0.5, 4)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_paintings_whose_worker_is_killed_are_painted_by_another(
    checkpoint,  # noqa: F811 - the imported fixture
    settings,
    celery_worker_factory,
):
    env = {
        "TORCH_DEVICE": "cpu",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PAINTING_HEARTBEAT_SECONDS": "1",
    }
    first = celery_worker_factory(queues="gpu", extra_env=env)
    request = services.queue_generation(checkpoint, 400, 0.7)

    def beating() -> bool:
        request.refresh_from_db()
        return request.status == "running" and request.heartbeat > request.started

    wait_for(beating, timeout=120, interval=0.05, what="the worker to paint and renew its heartbeat")
    first.kill()  # as the OOM killer would, mid-painting
    killed_at = timezone.now()

    settings.PAINTING_STALE_SECONDS = 3
    assert resend_waiting_paintings() == []  # not yet stale: a slow painter is not taken over
    wait_for(
        lambda: (timezone.now() - killed_at).total_seconds() > 4.5,
        timeout=10,
        what="the heartbeat to go stale",
    )
    second = celery_worker_factory(queues="gpu", extra_env=env)
    assert resend_waiting_paintings() == [request.pk]
    request.refresh_from_db()
    assert request.attempts == 1 and "Its worker stopped while painting it" in request.error

    def done() -> bool:
        request.refresh_from_db()
        return request.status not in ("queued", "running")

    wait_for(done, timeout=300, interval=0.2, what="another worker to paint them")
    assert request.status == "succeeded", (request.error, second.log()[-3000:])
    assert request.attempts == 2 and request.error == ""
    assert len(request.made) == 400
    assert resend_waiting_paintings() == []


@pytest.mark.django_db
def test_a_request_that_loses_its_worker_too_often_fails_with_the_reason(
    checkpoint,  # noqa: F811 - the imported fixture
    settings,
    django_capture_on_commit_callbacks,
):
    from gallery.tasks import build_mixing_exhibit

    settings.PAINTING_MAX_ATTEMPTS = 2
    with django_capture_on_commit_callbacks(execute=False):  # no broker here: the task is run below
        request = services.queue_mixing_exhibit(checkpoint, rows=2, columns=2)
    long_ago = timezone.now() - timedelta(seconds=settings.PAINTING_STALE_SECONDS + 1)
    recent = timezone.now() - timedelta(seconds=settings.PAINTING_STALE_SECONDS - 30)

    # A worker claimed it and still beats: nobody takes it over.
    PaintingRequest.objects.filter(pk=request.pk).update(
        status="running", started=long_ago, heartbeat=recent, attempts=1
    )
    assert services.recover_lost_requests() == []
    assert build_mixing_exhibit(request.pk) == "skipped"

    # Its worker went silent: queued again, and the next delivery paints it.
    PaintingRequest.objects.filter(pk=request.pk).update(heartbeat=long_ago)
    with django_capture_on_commit_callbacks(execute=False):
        assert services.recover_lost_requests() == [request.pk]
    request.refresh_from_db()
    assert (request.status, request.sent_at, request.attempts) == ("queued", None, 1)

    # The second worker is lost too: that is the limit, and the request says why.
    PaintingRequest.objects.filter(pk=request.pk).update(status="running", heartbeat=long_ago, attempts=2)
    assert services.recover_lost_requests() == []
    request.refresh_from_db()
    assert request.status == "failed" and request.finished is not None
    assert "stopped without a word 2 times" in request.error
    assert build_mixing_exhibit(request.pk) == "skipped" and not MixingExhibit.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["artworks", "exhibit"])
def test_a_worker_given_up_for_lost_hangs_nothing_when_it_finishes(
    checkpoint,  # noqa: F811 - the imported fixture
    settings,
    django_capture_on_commit_callbacks,
    kind,
):
    """A worker frozen past the stale limit (a paused VM, a long GC) wakes up
    after the sweep gave its request to another worker: the successor paints
    the request in full, so the first must not hang its paintings as well."""
    with django_capture_on_commit_callbacks(execute=False):  # no broker here: the workers are run below
        if kind == "exhibit":
            request = services.queue_mixing_exhibit(checkpoint, rows=2, columns=2)
        else:
            request = services.queue_generation(checkpoint, 3, 0.7)
    with django_capture_on_commit_callbacks(execute=False):
        # The first worker claims it ...
        PaintingRequest.objects.filter(pk=request.pk).update(status="running", attempts=1)
        lost_claim = {"pk": request.pk, "status": "running", "attempts": 1}
        # ... goes silent, and the sweep queues the request again ...
        long_ago = timezone.now() - timedelta(seconds=settings.PAINTING_STALE_SECONDS + 1)
        PaintingRequest.objects.filter(pk=request.pk).update(started=long_ago, heartbeat=long_ago)
        assert services.recover_lost_requests() == [request.pk]
    # ... which a second worker claims and paints.
    assert services.carry_out(request.pk) == "succeeded"
    request.refresh_from_db()
    made = list(request.made)
    assert request.attempts == 2 and made
    paintings = Artwork.objects.count(), MixingExhibit.objects.count()

    # The first worker wakes up and finishes painting with its old claim.
    request.attempts = 1
    assert services._paint(request, lost_claim) == "taken over"
    assert (Artwork.objects.count(), MixingExhibit.objects.count()) == paintings  # nothing more hangs
    request.refresh_from_db()
    assert request.status == "succeeded" and request.made == made and request.attempts == 2
