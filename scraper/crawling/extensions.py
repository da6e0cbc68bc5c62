"""JobMonitor: ties a running crawl to its CrawlJob row.

It polls the row so staff can cancel (status "cancelling" closes the
spider), copies warnings into the job's log tail, counts exceptions in spider
callbacks as failures, and writes a closing summary.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque

from django.db import DatabaseError
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.spiders import Spider
from scrapy.utils.defer import deferred_from_coro
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from scraper.ingest import append_log, record_outcome
from scraper.models import CrawlJob

logger = logging.getLogger(__name__)

# Lines kept between flushes; older warnings in a burst are dropped from the tail.
MAX_PENDING_LINES = 50


class TailHandler(logging.Handler):
    """Collects warning (and worse) log lines for the job's log tail."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: deque[str] = deque(maxlen=MAX_PENDING_LINES)
        self.lines_lock = threading.Lock()  # not `lock`: Handler.handle() holds that one during emit

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record).splitlines()[0][:500]
        with self.lines_lock:
            self.lines.append(line)

    def take(self) -> list[str]:
        with self.lines_lock:
            lines = list(self.lines)
            self.lines.clear()
        return lines


class JobMonitor:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.interval = crawler.settings.getfloat("SCRAPER_JOB_POLL_INTERVAL", 1.0)
        self.handler = TailHandler()
        self.loop: LoopingCall | None = None
        self.parent_pid = int(os.environ.get("AAG_CRAWL_PARENT_PID") or 0)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.spider_error, signal=signals.spider_error)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JobMonitor:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        logging.getLogger().addHandler(self.handler)
        limit = f", item limit {spider.item_limit}" if spider.item_limit else ""
        append_log(
            spider.job_id, f"crawl started: {spider.source} {spider.base_url} queries {spider.queries}{limit}"
        )
        self.loop = LoopingCall(self.poll, spider)
        self.loop.start(self.interval, now=False)

    def poll(self, spider: Spider) -> None:
        self.flush(spider)
        if self.parent_pid and os.getppid() != self.parent_pid and not spider.stop_reason:
            # The worker that started us is gone: nobody would record how the job ends.
            spider.stop_reason = "cancelled"
            append_log(spider.job_id, "the process that started this crawl has gone: stopping")
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="parent_gone"))
            return
        try:
            status = CrawlJob.objects.filter(pk=spider.job_id).values_list("status", flat=True).first()
        except DatabaseError as exc:
            # A busy or restarting database must not end the crawl: ask again next time.
            logger.warning("Could not read the status of crawl job %s (%s); will retry", spider.job_id, exc)
            return
        if spider.stop_reason:
            return
        if status is None:
            spider.stop_reason = "cancelled"
            logger.warning("Crawl job %s was deleted: stopping the crawl", spider.job_id)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="cancelled"))
        elif status in (CrawlJob.Status.CANCELLING, CrawlJob.Status.CANCELLED):
            spider.stop_reason = "cancelled"
            append_log(spider.job_id, f"job is {status}: stopping the crawl")
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="cancelled"))

    def flush(self, spider: Spider) -> None:
        lines = self.handler.take()
        if lines:
            append_log(spider.job_id, "\n".join(lines))

    def spider_error(self, failure: Failure, response: object, spider: Spider) -> None:
        url = getattr(response, "url", "?")
        record_outcome(spider.job_id, "failed", "spider_error", f"{url}: {failure.value!r}")

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        logging.getLogger().removeHandler(self.handler)
        if not CrawlJob.objects.filter(pk=spider.job_id).exists():
            return  # deleted while running: nowhere to write the summary
        self.flush(spider)
        if reason == "finished" and spider.stop_reason == "item_limit":
            reason = "item limit reached"
        stats = self.crawler.stats
        append_log(
            spider.job_id,
            f"crawl finished ({reason}): {spider.collected} items sent to the pipeline, "
            f"{stats.get_value('downloader/request_count', 0)} requests, "
            f"{stats.get_value('retry/count', 0)} retries",
        )
