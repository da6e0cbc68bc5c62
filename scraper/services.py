"""Starting, running and cancelling crawls. Job state lives on the CrawlJob
row, so every step checks the status it expects under a row lock.

A running crawl holds a lease like a training run (``training.runner``): a
token plus a heartbeat its worker renews while the crawl process runs. When
the worker dies the heartbeat goes stale, ``scraper.periodic`` sends the job
again and the next worker takes it over (a stale "cancelling" job is simply
marked cancelled)."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import close_old_connections, transaction
from django.utils import timezone

from gallery.models import Genre
from museum.queueing import send_on_commit
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
    """Send a saved, queued job to a crawl worker after the transaction commits
    (a broker outage leaves it queued for the sweep: ``museum.queueing``)."""
    from scraper.tasks import run_crawl

    send_on_commit(job, run_crawl, job.pk)


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


def worker_name() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


def claim_job(job_id: int, worker: str) -> str | None:
    """Take the job's lease if it may run now: queued, or running with a
    stale heartbeat (its worker died). Returns the token, or None."""
    close_old_connections()
    with transaction.atomic():
        job = CrawlJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            logger.warning("Crawl job %s does not exist (deleted before it ran); nothing to do.", job_id)
            return None
        if (
            job.status in (CrawlJob.Status.RUNNING, CrawlJob.Status.CANCELLING)
            and not job.heartbeat_is_fresh()
        ):
            if job.status == CrawlJob.Status.CANCELLING:
                mark_lost_cancel(job)
                return None
            logger.warning(
                "Crawl job %s: worker %s stopped beating at %s; restarting the crawl.",
                job_id,
                job.worker,
                job.heartbeat,
            )
            job.counts = {}
            takeover = (
                f"worker {job.worker or '?'} was lost; the crawl starts again from the beginning "
                "(images it stored are found again and counted as duplicates)"
            )
        elif job.status != CrawlJob.Status.QUEUED:
            logger.info("Crawl job %s is %s, not queued; not starting it again.", job_id, job.status)
            return None
        else:
            takeover = ""
            job.started = timezone.now()
        token = uuid.uuid4().hex
        job.status = CrawlJob.Status.RUNNING
        job.error = ""
        job.lease_token = token
        job.worker = worker
        job.heartbeat = timezone.now()
        job.save(update_fields=["status", "started", "error", "lease_token", "worker", "heartbeat", "counts"])
    if takeover:
        append_log(job_id, takeover)
    return token


def mark_lost_cancel(job: CrawlJob) -> None:
    """A job asked to cancel whose worker is gone: nobody is left to stop, so it is cancelled now."""
    job.status = CrawlJob.Status.CANCELLED
    job.finished = timezone.now()
    job.lease_token = ""
    job.error = "Cancelled: its crawl worker was lost before it could stop."
    job.save(update_fields=["status", "finished", "lease_token", "error"])


def run_job(job_id: int, on_progress: Callable[[dict], None] | None = None) -> CrawlJob | None:
    """Run a queued job in a crawl process and record how it ended.

    Idempotent: only a job still "queued" (or one whose worker died) is
    claimed, under a row lock, so a redelivered or duplicated task does
    nothing. Returns None when the job was not claimed or its lease was lost.
    """
    from scraper.crawling.runner import run_crawl_process

    token = claim_job(job_id, worker_name())
    if token is None:
        return None
    lease = CrawlJob.objects.filter(pk=job_id, lease_token=token)
    interval = float(settings.CRAWL_HEARTBEAT_SECONDS)
    last_beat = time.monotonic()
    lost = False

    def beat() -> bool:
        nonlocal last_beat, lost
        if time.monotonic() - last_beat < interval:
            return True
        last_beat = time.monotonic()
        if not lease.update(heartbeat=timezone.now()):
            logger.warning("Crawl job %s was taken over by another worker; stopping this crawl.", job_id)
            lost = True
        return not lost

    error = ""
    try:
        exit_code = run_crawl_process(job_id, on_progress=on_progress, keep_going=beat)
    except Exception as exc:  # recorded on the job so staff see why it failed, then logged with its traceback
        logger.exception("Crawl job %s could not run its crawl process", job_id)
        exit_code = None
        error = f"The crawl process could not be started: {exc!r}. See the crawl worker's log."
    if lost:
        return None
    if exit_code not in (0, None):
        error = (
            f"The crawl process exited with code {exit_code}; see the log below and the crawl worker's log."
        )
    return finish_job(job_id, error, token=token)


def finish_job(job_id: int, error: str = "", token: str | None = None) -> CrawlJob | None:
    """Record the end of a run: cancelled if someone asked, else failed or
    succeeded. With ``token``, only while that lease still holds (else None)."""
    close_old_connections()
    with transaction.atomic():
        job = CrawlJob.objects.select_for_update().get(pk=job_id)
        if token is not None and job.lease_token != token:
            return None
        job.lease_token = ""
        if job.status in (CrawlJob.Status.CANCELLING, CrawlJob.Status.CANCELLED):
            job.status = CrawlJob.Status.CANCELLED
        elif error:
            job.status = CrawlJob.Status.FAILED
        else:
            job.status = CrawlJob.Status.SUCCEEDED
        job.error = error or job.error
        job.finished = timezone.now()
        job.save(update_fields=["status", "error", "finished", "lease_token"])
    append_log(job_id, f"crawl {job.status}" + (f": {error}" if error else ""))
    job.refresh_from_db()
    return job
