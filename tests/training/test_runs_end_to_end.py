"""From approved images to paintings on the walls, through the admin and a real worker."""

from __future__ import annotations

import pytest
from django.urls import reverse

from gallery.models import Artwork, Genre, MixingExhibit
from tests.conftest import wait_for
from tests.training.runs_factories import (
    TINY_FORM,
    approved_images,
    run_storage,  # noqa: F401 - a fixture, used through pytestmark
    steps_for,
    user_in_group,
    worker_env,
)
from training.models import Checkpoint, TrainingRun

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("run_storage"),
]


def test_staff_train_publish_and_fill_a_room(client, settings, celery_worker_factory):
    approved_images("landscape", 16)
    staff = user_in_group("staff", "Staff")
    client.force_login(staff)

    # The start page shows the genre's approved image count and the defaults.
    page = client.get(reverse("admin:training_trainingrun_start") + "?preset=smoke")
    assert page.status_code == 200
    assert "Landscapes: 16 approved images" in page.content.decode()

    worker = celery_worker_factory(queues="default,gpu", extra_env=worker_env(settings))
    response = client.post(
        reverse("admin:training_trainingrun_start"),
        {**TINY_FORM, "genre": str(Genre.objects.get(slug="landscape").pk), "total_kimg": "0.8"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    run = TrainingRun.objects.get()
    assert response["Location"] == reverse("admin:training_trainingrun_change", args=[run.pk])
    assert run.genre.slug == "landscape" and run.started_by == staff
    assert run.config["network"]["resolution"] == 32 and run.config["total_kimg"] == 0.8

    # Progress is visible while it trains: kimg rises and the history grows.
    seen: list[tuple[str, float, int]] = []
    pages: list[str] = []

    def finished() -> bool:
        run.refresh_from_db()
        seen.append((run.status, run.kimg_done, len(run.history)))
        if run.status == TrainingRun.Status.RUNNING and 0 < run.kimg_done < 0.8 and not pages:
            pages.append(
                client.get(reverse("admin:training_trainingrun_change", args=[run.pk])).content.decode()
            )
        return run.status not in (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING)

    wait_for(finished, timeout=240, interval=0.2, what="the run to finish")
    assert run.status == TrainingRun.Status.SUCCEEDED, (run.error, worker.log()[-3000:])
    running = [(kimg, n) for status, kimg, n in seen if status == TrainingRun.Status.RUNNING]
    assert len({kimg for kimg, _n in running if 0 < kimg < 0.8}) >= 2, seen
    assert len({n for _kimg, n in running}) >= 2, seen
    # The run page while it trained: a partial progress bar, refreshing itself.
    assert '<meta http-equiv="refresh" content="10">' in pages[0]
    value = float(pages[0].split('<progress class="run-progress" max="100" value="')[1].split('"')[0])
    assert 0 < value < 100 and '<strong class="run-status">running</strong>' in pages[0]

    assert run.kimg_done == pytest.approx(0.8)
    assert run.step == steps_for(0.8) and run.steps_trained == steps_for(0.8)
    assert run.attempts == 1 and run.worker
    assert run.dataset.image_count == 16 and len(run.dataset.sha256) == 64
    assert [round(h["kimg"], 3) for h in run.history] == [round(0.04 * i, 3) for i in range(1, 21)]
    assert run.samples.count() == 20
    checkpoints = list(run.checkpoints.order_by("kimg"))
    assert [c.kimg for c in checkpoints] == [0.2, 0.4, 0.6, 0.8]
    last = checkpoints[-1]
    assert last.size > 0 and len(last.sha256) == 64 and last.metric is not None and last.metric > 0

    # The run page: progress, curves, every tick's sample grid, the checkpoints.
    body = client.get(reverse("admin:training_trainingrun_change", args=[run.pk])).content.decode()
    assert '<progress class="run-progress" max="100" value="100.0">' in body
    # G loss, D loss; SWD and its floor; precision, recall, diversity; augment p
    assert body.count('<polyline class="series"') == 8
    # Each checkpoint carries the report measured on it, never an earlier one's.
    assert [c.quality["kimg"] for c in checkpoints] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert len({c.quality["swd"] for c in checkpoints}) == 4
    assert all(c.metric == c.quality["swd"] for c in checkpoints)
    for sample in run.samples.all():
        assert reverse("admin:training_trainingrun_sample", args=[run.pk, sample.pk]) in body
    grid = client.get(reverse("admin:training_trainingrun_sample", args=[run.pk, run.samples.last().pk]))
    assert grid.status_code == 200 and grid["Content-Type"] == "image/png"
    assert b"".join(grid.streaming_content).startswith(b"\x89PNG")

    # Publish the last checkpoint (a model trained for seconds fails its
    # report: the admin asks first), then paint the room and build an exhibit.
    publish = reverse("admin:training_checkpoint_publish", args=[last.pk])
    asked = client.post(publish)
    assert asked.status_code == 200 and "Publish anyway" in asked.content.decode()
    response = client.post(publish, {"confirm": "1"})
    assert response.status_code == 302
    last.refresh_from_db()
    assert last.published
    assert "now paints the Landscapes room" in client.get(response["Location"]).content.decode()
    client.post(reverse("admin:training_checkpoint_generate", args=[last.pk]), {"count": "3", "psi": "0.7"})
    client.post(reverse("admin:training_checkpoint_mix", args=[last.pk]), {"rows": "2", "columns": "3"})
    wait_for(lambda: Artwork.objects.count() == 3, timeout=120, what="three artworks")
    wait_for(
        lambda: MixingExhibit.objects.filter(grids__isnull=False).exists(), timeout=120, what="an exhibit"
    )

    artworks = list(Artwork.objects.order_by("seed"))
    assert len({a.seed for a in artworks}) == 3  # three of the room's first seeds, the most unlike of a pool
    for artwork in artworks:
        assert artwork.checkpoint == last and artwork.psi == 0.7 and artwork.noise_mode == "const"
        assert artwork.published and artwork.genre.slug == "landscape"
        assert (artwork.width, artwork.height) == (32, 32)
    room = client.get("/rooms/landscape/").content.decode()
    for artwork in artworks:
        assert artwork.get_absolute_url() in room

    exhibit = MixingExhibit.objects.get()
    assert exhibit.checkpoint == last and exhibit.published
    assert sorted(exhibit.grids.values_list("band", flat=True)) == ["coarse", "fine", "middle"]
    assert exhibit.sources.count() == 5
    page = client.get(exhibit.get_absolute_url())
    assert page.status_code == 200
    for cell in exhibit.grids.first().cells.all():
        assert cell.image.url in page.content.decode()
    assert Checkpoint.objects.filter(published=True).count() == 1
