"""Starting, running and cancelling crawls. Job state lives on the CrawlJob
row, so every step checks the status it expects under a row lock."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import close_old_connections, transaction
from django.utils import timezone

from gallery.models import Genre
from scraper.ingest import append_log
from scraper.models import CrawlJob, Source

logger = logging.getLogger(__name__)


def start_crawl(
    genre: Genre,
    source: str,
    user: AbstractBaseUser | AnonymousUser | None,
    query: str = "",
    item_limit: int = 0,
    send: bool = True,
) -> CrawlJob:
    """Create a queued crawl job and send it to the crawl queue once the
    transaction commits. ``user`` None means the system (shell, tests);
    ``send`` False leaves the job for the caller to run itself with
    :func:`run_job` (``manage.py demo`` crawls in its own process)."""
    if user is not None and not user.has_perm("scraper.start_crawl"):
        raise PermissionDenied(f"{user} may not start crawls (needs the scraper.start_crawl permission).")
    if source not in Source.values:
        raise ValueError(f"Unknown source {source!r}; choose one of {', '.join(Source.values)}.")
    job = CrawlJob.objects.create(
        genre=genre,
        source=source,
        query=query.strip(),
        item_limit=item_limit,
        started_by=user if user is not None and user.is_authenticated else None,
    )
    if send:
        queue_crawl(job)
    return job


def queue_crawl(job: CrawlJob) -> None:
    """Send a saved, queued job to a crawl worker after the transaction commits."""
    from scraper.tasks import run_crawl

    transaction.on_commit(lambda: run_crawl.delay(job.pk))


def cancel_crawl(job: CrawlJob, user: AbstractBaseUser | AnonymousUser | None = None) -> CrawlJob:
    """Cancel a queued job at once; ask a running one to stop (the crawl
    process polls its row and stops at the next item). Cancelling a job that
    is already "cancelling" marks it cancelled at once: the way out when its
    worker died and nothing is left to notice the request."""
    if user is not None and not user.has_perm("scraper.start_crawl"):
        raise PermissionDenied(f"{user} may not cancel crawls (needs the scraper.start_crawl permission).")
    with transaction.atomic():
        job = CrawlJob.objects.select_for_update().get(pk=job.pk)
        if job.status == CrawlJob.Status.QUEUED:
            job.status = CrawlJob.Status.CANCELLED
            job.finished = timezone.now()
            job.save(update_fields=["status", "finished"])
        elif job.status == CrawlJob.Status.RUNNING:
            job.status = CrawlJob.Status.CANCELLING
            job.save(update_fields=["status"])
        elif job.status == CrawlJob.Status.CANCELLING:
            job.status = CrawlJob.Status.CANCELLED
            job.finished = timezone.now()
            job.error = "Cancelled twice: marked cancelled without waiting for its crawl process."
            job.save(update_fields=["status", "finished", "error"])
    return job


def run_job(job_id: int, on_progress: Callable[[dict], None] | None = None) -> CrawlJob | None:
    """Run a queued job in a crawl process and record how it ended.

    Idempotent: only a job still "queued" is claimed (under a row lock), so a
    redelivered or duplicated task does nothing. Returns None when the job was
    not claimed.
    """
    from scraper.crawling.runner import run_crawl_process

    close_old_connections()
    with transaction.atomic():
        job = CrawlJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            logger.warning("Crawl job %s does not exist (deleted before it ran); nothing to do.", job_id)
            return None
        if job.status != CrawlJob.Status.QUEUED:
            logger.info("Crawl job %s is %s, not queued; not starting it again.", job_id, job.status)
            return None
        job.status = CrawlJob.Status.RUNNING
        job.started = timezone.now()
        job.error = ""
        job.save(update_fields=["status", "started", "error"])

    error = ""
    try:
        exit_code = run_crawl_process(job_id, on_progress=on_progress)
    except Exception as exc:  # recorded on the job so staff see why it failed, then logged with its traceback
        logger.exception("Crawl job %s could not run its crawl process", job_id)
        exit_code = None
        error = f"The crawl process could not be started: {exc!r}. See the crawl worker's log."
    if exit_code not in (0, None):
        error = (
            f"The crawl process exited with code {exit_code}; see the log below and the crawl worker's log."
        )
    return finish_job(job_id, error)


def finish_job(job_id: int, error: str = "") -> CrawlJob:
    """Record the end of a run: cancelled if someone asked, else failed or succeeded."""
    close_old_connections()
    with transaction.atomic():
        job = CrawlJob.objects.select_for_update().get(pk=job_id)
        if job.status in (CrawlJob.Status.CANCELLING, CrawlJob.Status.CANCELLED):
            job.status = CrawlJob.Status.CANCELLED
        elif error:
            job.status = CrawlJob.Status.FAILED
        else:
            job.status = CrawlJob.Status.SUCCEEDED
        job.error = error or job.error
        job.finished = timezone.now()
        job.save(update_fields=["status", "error", "finished"])
    append_log(job_id, f"crawl {job.status}" + (f": {error}" if error else ""))
    job.refresh_from_db()
    return job
