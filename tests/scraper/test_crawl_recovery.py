"""Crawls survive their worker and the broker: a SIGKILLed crawl worker, a
lost "cancelling" job, a crawl started while the broker is down."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from scraper.models import CrawlJob, ScrapedImage
from scraper.periodic import requeue_stale_crawls
from scraper.services import start_crawl
from tests.conftest import wait_for
from tests.scraper.conftest import crawl_env
from tests.scraper.factories import genre, make_job, painting_bytes

pytestmark = pytest.mark.slow

HELD = "/iiif/2/k2/full/843,/0/default.jpg"


def finished(job_id: int) -> CrawlJob | None:
    job = CrawlJob.objects.get(pk=job_id)
    return job if job.status not in CrawlJob.ACTIVE_STATUSES else None


def test_a_crawl_whose_worker_is_killed_is_restarted_on_another_worker(
    celery_worker_factory, fake_museum, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CRAWL_STALE_SECONDS = 4
    for n in range(4):
        fake_museum.add_aic(f"k{n}", painting_bytes(40 + n))
    held = fake_museum.hold(HELD)
    env = crawl_env(fake_museum, settings.MEDIA_ROOT, CRAWL_HEARTBEAT_SECONDS="1", CRAWL_STALE_SECONDS="4")
    first = celery_worker_factory(queues="crawl", extra_env=env)
    job = start_crawl(genre("landscape"), "aic", None)
    wait_for(lambda: fake_museum.requested(HELD), timeout=120, what="the crawl to reach the held image")
    running = CrawlJob.objects.get(pk=job.pk)
    assert running.status == "running" and running.heartbeat is not None
    first_worker = running.worker

    first.kill()  # the worker and its crawl process, as an OOM killer would
    held.set()
    second = celery_worker_factory(queues="crawl", extra_env=env)
    # Nobody cancels anything: beat's check notices the silent heartbeat.
    wait_for(
        lambda: not CrawlJob.objects.get(pk=job.pk).heartbeat_is_fresh(),
        timeout=30,
        what="the crawl's heartbeat to go stale",
    )
    assert requeue_stale_crawls() == [job.pk]

    job = wait_for(lambda: finished(job.pk), timeout=180, what="the restarted crawl to finish")
    assert job.status == "succeeded", f"{job.error}\n{job.log_tail}\n{second.log()[-3000:]}"
    assert job.worker != first_worker
    assert "was lost; the crawl starts again" in job.log_tail
    # Every painting stored once, whichever attempt stored it.
    assert ScrapedImage.objects.filter(genre__slug="landscape").count() == 4
    assert job.counts.get("stored", 0) + job.counts.get("duplicate", 0) == 4
    assert requeue_stale_crawls() == []


def test_a_cancelling_crawl_whose_worker_is_gone_is_cancelled_by_the_check(transactional_db):
    job = make_job(
        "landscape",
        status=CrawlJob.Status.CANCELLING,
        worker="celery@crawl-1 pid 999999",
        heartbeat=timezone.now() - timedelta(hours=1),
    )
    requeue_stale_crawls()
    job.refresh_from_db()
    # Cancelled once, by nobody: staff no longer need to press cancel twice.
    assert job.status == "cancelled" and job.finished is not None
    assert "worker was lost" in job.error


def test_a_crawl_started_while_the_broker_is_down_runs_once_it_is_back(
    client, celery_worker_factory, fake_museum, settings, tmp_path, broker_outage
):
    settings.MEDIA_ROOT = tmp_path / "media"
    fake_museum.add_aic("b1", painting_bytes(50))
    staff = User.objects.create_user("staff", password="a-long-test-password", is_staff=True)
    staff.groups.add(Group.objects.get(name="Staff"))
    client.force_login(staff)

    response = client.post(
        reverse("admin:scraper_crawljob_add"),
        {"genre": genre("landscape").pk, "source": "aic", "query": "river", "item_limit": "0"},
        follow=True,
    )

    assert response.status_code == 200
    job = CrawlJob.objects.get()
    assert job.status == "queued" and job.sent_at is None and job.started_by == staff
    assert "task broker is unreachable" in response.content.decode()

    broker_outage()  # the broker is back
    celery_worker_factory(queues="crawl", extra_env=crawl_env(fake_museum, settings.MEDIA_ROOT))
    assert requeue_stale_crawls() == [job.pk]
    job = wait_for(lambda: finished(job.pk), timeout=180, what="the crawl sent by the sweep to finish")
    assert job.status == "succeeded" and job.counts.get("stored") == 1, job.log_tail
