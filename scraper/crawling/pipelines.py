"""The item pipeline: download each item's image through Scrapy (so the
safety, robots.txt, retry and size-cap middlewares apply to it) and hand the
bytes to ``scraper.ingest.ingest_image``, which checks, stores and counts it."""

from __future__ import annotations

import logging
from typing import Any

from django.db import connections
from scrapy.crawler import Crawler
from scrapy.http import Request
from scrapy.http.request import NO_CALLBACK
from twisted.internet.defer import DeferredSemaphore
from twisted.internet.threads import deferToThread

from scraper.crawling.failures import classify_failure
from scraper.ingest import IngestResult, ingest_image, record_outcome
from scraper.records import RecordRejected, clean_record

logger = logging.getLogger(__name__)


def ingest_in_thread(
    job_id: int, item: dict[str, Any], data: bytes, content_type: str | None
) -> IngestResult:
    """Run ingest_image in a thread-pool thread (decoding is CPU work that
    would stall the reactor) and close that thread's DB connection after."""
    try:
        return ingest_image(job_id, item, data, content_type)
    finally:
        connections.close_all()


class IngestPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        # Downloads run concurrently; ingests queue for a few threads, because
        # SQLite takes one writer at a time and its busy wait backs off in
        # sleeps of up to 100 ms, which a crowd of writers turns into idle time.
        self.ingest_slots = DeferredSemaphore(crawler.settings.getint("SCRAPER_INGEST_THREADS", 2))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IngestPipeline:
        return cls(crawler)

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        spider = self.crawler.spider
        job_id = spider.job_id
        try:
            clean_record(item)  # a record of the wrong shape is counted, and its image never fetched
        except RecordRejected as exc:
            logger.warning("Record skipped: %s", exc)
            record_outcome(job_id, "skipped", exc.reason, exc.detail)
            item["outcome"] = "skipped"
            return item
        request = Request(item["image_url"], callback=NO_CALLBACK, headers={"Accept": "image/*"})
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception as exc:  # every download failure is an outcome to count, not a crash
            verdict = classify_failure(exc)
            if verdict is not None and spider.stop_reason != "cancelled":
                outcome, reason = verdict
                logger.warning("Image %s: %s/%s (%s)", item["image_url"], outcome, reason, exc)
                record_outcome(job_id, outcome, reason, f"{item['image_url']}: {exc}")
            item["outcome"] = verdict[0] if verdict else "dropped"
            return item
        if response.status != 200:
            logger.warning("Image %s: HTTP %s after retries", item["image_url"], response.status)
            record_outcome(job_id, "failed", f"http_{response.status}", item["image_url"])
            item["outcome"] = "failed"
            return item
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1") or None
        result = await self.ingest_slots.run(
            deferToThread, ingest_in_thread, job_id, dict(item), response.body, content_type
        )
        item["outcome"] = result.outcome
        return item
