"""Every admin list, at a 1280 px wide window, shows all its columns inside its
box: no list is wider than the page (which would hide "Quality hints", "Near
duplicate of", "Created", "Last heartbeat" behind a sideways scroll)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gallery.models import Genre, PaintingRequest
from scraper.ingest import ingest_image
from scraper.models import ScrapedImage
from tests.browser import open_page
from tests.gallery.factories import make_artwork, make_exhibit
from tests.scraper.factories import make_item, make_job, painting_bytes, resized_bytes
from training.models import Checkpoint, Dataset, GenerationSchedule, TrainingRun, WorkerNode

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_WORKER = "gpu@worker-node-07.gallery-training.internal (pid 123456)"


def fill_every_list(settings, tmp_path) -> User:
    """A few rows, with long values where real ones are long, in every admin list."""
    settings.MEDIA_ROOT = tmp_path / "media"
    now = timezone.now()
    portrait = Genre.objects.get(slug="portrait")
    for n, source in enumerate(["aic", "sample", "met"]):
        job = make_job("landscape", source=source, status="succeeded", item_limit=48)
        job.counts = {"stored": 40, "stored:near_duplicate": 3, "rejected": 5, "skipped": 3, "failed": 1}
        job.save()
        for i in range(2):
            data = painting_bytes(10 * n + i, width=640, height=480)
            item = make_item(
                f"{n}-{i}", title="A very long title of a painting " * 3, artist="Anonymous " * 4
            )
            ingest_image(job.pk, item, data)
    # A near duplicate (resized copy) and one with quality hints.
    original = ScrapedImage.objects.first()
    copy_job = make_job("landscape", status="succeeded")
    ingest_image(copy_job.pk, make_item("copy"), resized_bytes(original.image.read(), (600, 450)))
    ScrapedImage.objects.filter(pk=original.pk).update(
        quality_hints=["too_small", "odd_aspect", "low_information"]
    )
    # One active run per room: three rooms, one running run each.
    for n, room in enumerate(Genre.objects.order_by("position", "slug")[:3]):
        run = TrainingRun.objects.create(
            genre=room,
            status="running",
            kimg_done=123.456,
            config={"target_kimg": 5000},
            images_per_second=212.345,
            heartbeat=now - timedelta(seconds=n),
            worker=LONG_WORKER,
        )
        checkpoint = Checkpoint.objects.create(
            run=run,
            kimg=40 + n,
            file=f"c{n}.pt",
            sha256="ab" * 32,
            size=123_456_789,
            metric=227.0289696753025,
        )
        Dataset.objects.create(genre=portrait, resolution=256, image_count=4800, sha256="cd" * 32)
        PaintingRequest.objects.create(
            kind=PaintingRequest.Kind.ARTWORKS, checkpoint=checkpoint, count=24, psi=0.7
        )
        WorkerNode.objects.create(
            name=f"{LONG_WORKER}-{n}", queues=["gpu"], device="cuda", gpus=8, gpu_name="NVIDIA H200 " * 3
        )
    GenerationSchedule.objects.get_or_create(genre=portrait)
    for seed in range(3):
        make_artwork(portrait, seed=seed, size=64)
    make_exhibit(portrait, size=32)
    return User.objects.create_superuser("root", email="root@gallery.example.org", password="x")


def changelists() -> list[tuple[str, str]]:
    return sorted(
        (
            f"{model._meta.app_label}.{model._meta.model_name}",
            reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"),
        )
        for model in admin.site._registry
    )


def test_every_admin_list_fits_a_1280px_window(browser, live_server, settings, tmp_path):
    user = fill_every_list(settings, tmp_path)
    # django-axes' lists too: one attempt per list.
    client = Client()
    client.post(reverse("admin:login"), {"username": "nobody-with-a-long-name", "password": "wrong"})
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value

    watched = open_page(browser, live_server.url, "admin-lists", width=1280, folder="admin")
    watched.page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    too_wide = {}
    for name, url in changelists():
        watched.go(url)
        assert watched.page.locator("#result_list").count() == 1, f"{name}: no rows to show at {url}"
        box = watched.page.evaluate(
            "(() => { const r = document.querySelector('#changelist .results');"
            " return [r.scrollWidth, r.clientWidth, document.documentElement.scrollWidth - innerWidth]; })()"
        )
        watched.shot(name.replace(".", "-"))
        if box[0] > box[1] or box[2] > 0:
            too_wide[name] = f"table {box[0]}px in a {box[1]}px box, page scrolls by {box[2]}px"
    assert too_wide == {}
    assert watched.errors == []
