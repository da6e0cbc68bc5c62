"""Crawls run by a real Celery worker process, and by manage.py crawl, against
the fake museum (tests/scraper/conftest.py)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from scraper.models import CrawlJob, ScrapedImage
from scraper.services import cancel_crawl, start_crawl
from tests.conftest import wait_for
from tests.scraper.conftest import crawl_env
from tests.scraper.factories import genre, make_job, painting_bytes

pytestmark = pytest.mark.slow


def finished(job_id: int) -> CrawlJob | None:
    job = CrawlJob.objects.get(pk=job_id)
    return job if job.status not in CrawlJob.ACTIVE_STATUSES else None


def test_two_crawls_in_a_row_in_one_worker_both_succeed(
    celery_worker_factory, fake_museum, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    for n in range(3):
        fake_museum.add_aic(f"img{n}", painting_bytes(n))
    fake_museum.add_aic("html", b"<html>not an image</html>", content_type="image/jpeg")
    worker = celery_worker_factory(queues="crawl", extra_env=crawl_env(fake_museum, settings.MEDIA_ROOT))
    landscape = genre("landscape")

    first = start_crawl(landscape, "aic", None, query="river")
    first = wait_for(lambda: finished(first.pk), timeout=180, what="the first crawl to finish")
    assert first.status == "succeeded", f"{first.error}\n{first.log_tail}\n{worker.log()}"
    assert first.counts.get("stored") == 3
    assert first.counts.get("rejected:not_an_image") == 1
    assert first.started is not None and first.finished >= first.started

    # The same museum again: the reactor is fresh (new process), the images are known.
    second = start_crawl(landscape, "aic", None)
    second = wait_for(lambda: finished(second.pk), timeout=180, what="the second crawl to finish")
    assert second.status == "succeeded", f"{second.error}\n{second.log_tail}\n{worker.log()}"
    assert second.counts.get("duplicate") == 3
    assert ScrapedImage.objects.count() == 3
    assert all(image.image.storage.exists(image.image.name) for image in ScrapedImage.objects.all())


def test_a_delivered_twice_task_does_not_run_the_crawl_twice(
    transactional_db, fake_museum, settings, tmp_path, monkeypatch
):
    from scraper.tasks import run_crawl

    settings.MEDIA_ROOT = tmp_path / "media"
    for key, value in crawl_env(fake_museum, settings.MEDIA_ROOT).items():
        monkeypatch.setenv(key, value)
    fake_museum.add_aic("one", painting_bytes(1))
    job = make_job("landscape")

    assert run_crawl(job.pk) == "succeeded"
    assert run_crawl(job.pk) is None  # already finished: nothing happens
    assert fake_museum.requested("/iiif/2/one/full/843,/0/default.jpg") == 1
    assert CrawlJob.objects.get(pk=job.pk).counts == {"stored": 1}


def test_manage_py_crawl_runs_in_the_foreground_with_a_progress_bar(
    transactional_db, fake_museum, settings, tmp_path, monkeypatch
):
    settings.MEDIA_ROOT = tmp_path / "media"
    for key, value in crawl_env(fake_museum, settings.MEDIA_ROOT).items():
        monkeypatch.setenv(key, value)
    for n in range(4):
        fake_museum.add_aic(f"p{n}", painting_bytes(10 + n))
    genre("landscape")
    out, err = io.StringIO(), io.StringIO()

    call_command("crawl", source="aic", genre="landscape", limit=2, stdout=out, stderr=err)

    job = CrawlJob.objects.get()
    assert job.status == "succeeded" and job.item_limit == 2
    assert ScrapedImage.objects.count() == 2
    assert "succeeded" in out.getvalue() and "stored: 2" in out.getvalue()
    assert "2/2" in err.getvalue()  # the tqdm bar reached the limit

    with pytest.raises(CommandError, match="no genre 'seascape'"):
        call_command("crawl", source="aic", genre="seascape", stdout=out, stderr=err)


def test_staff_cancel_a_running_crawl_and_it_stops(celery_worker_factory, fake_museum, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    for n in range(6):
        fake_museum.add_aic(f"c{n}", painting_bytes(30 + n))
    held = fake_museum.hold("/iiif/2/c1/full/843,/0/default.jpg")
    celery_worker_factory(queues="crawl", extra_env=crawl_env(fake_museum, settings.MEDIA_ROOT))
    job = start_crawl(genre("landscape"), "aic", None)
    wait_for(
        lambda: fake_museum.requested("/iiif/2/c1/full/843,/0/default.jpg"),
        timeout=120,
        what="the crawl to start",
    )
    assert CrawlJob.objects.get(pk=job.pk).status == "running"

    cancel_crawl(job)
    assert CrawlJob.objects.get(pk=job.pk).status == "cancelling"
    held.set()

    job = wait_for(lambda: finished(job.pk), timeout=120, what="the crawl to stop")
    # Not "succeeded": the worker saw the request and recorded the cancel.
    assert job.status == "cancelled", job.log_tail
    assert job.finished is not None
