"""Periodic check for crawls (queue ``default``, run by beat every minute).

A crawl worker killed mid-crawl (SIGKILL, OOM, a lost node) stops renewing
the job's heartbeat: this check sends such jobs again and the next worker
restarts the crawl (its lease makes a duplicate harmless); a stale
"cancelling" job is marked cancelled, since no worker is left to stop. It also
sends every queued job no worker has taken (``museum.queueing``).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from museum.queueing import resend_waiting, send_now
from scraper.models import CrawlJob
from scraper.services import mark_lost_cancel

logger = logging.getLogger(__name__)


@shared_task(name="scraper.periodic.requeue_stale_crawls")
def requeue_stale_crawls() -> list[int]:
    """Send again queued jobs not taken and running jobs whose worker is lost;
    cancel lost "cancelling" jobs. Returns the ids sent."""
    from scraper.tasks import run_crawl

    sent = resend_waiting(CrawlJob.objects.all(), run_crawl)
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.CRAWL_STALE_SECONDS)
    stale = CrawlJob.objects.filter(
        Q(status__in=[CrawlJob.Status.RUNNING, CrawlJob.Status.CANCELLING]),
        Q(heartbeat__lt=cutoff) | Q(heartbeat__isnull=True),
    )
    for job_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            job = CrawlJob.objects.select_for_update().get(pk=job_id)
            if job.heartbeat_is_fresh():
                continue  # its worker beat since the query
            if job.status == CrawlJob.Status.CANCELLING:
                mark_lost_cancel(job)
                logger.warning(
                    "Crawl job %s was cancelling when its worker was lost; marked cancelled.", job_id
                )
                continue
            if job.requeued_at is not None and job.requeued_at >= cutoff:
                continue  # already sent this stale period; waiting for a worker
            job.requeued_at = now
            job.save(update_fields=["requeued_at"])
        if send_now(job, run_crawl, job_id):
            logger.warning(
                "Crawl job %s has a stale heartbeat; sent it again to restart on a live worker.", job_id
            )
            sent.append(job_id)
    return sent
