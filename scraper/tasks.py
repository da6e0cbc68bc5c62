"""Celery tasks of the scraper (routed to the ``crawl`` queue by module)."""

from __future__ import annotations

from celery import shared_task

from scraper.services import run_job


@shared_task
def run_crawl(job_id: int) -> str | None:
    """Run one crawl job in its own process; safe to deliver twice."""
    job = run_job(job_id)
    return job.status if job is not None else None
