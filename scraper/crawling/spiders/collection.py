"""What every museum spider shares: its job, its queries, the item limit,
de-duplication within the crawl, and counting skipped records and failed
API requests on the job."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import scrapy
from scrapy.http import Request
from twisted.python.failure import Failure

from scraper.crawling.failures import classify_failure
from scraper.crawling.settings import base_url
from scraper.ingest import record_outcome
from scraper.records import record_id


def split_queries(text: str) -> list[str]:
    """Comma-separated search terms, stripped, without repeats, in order."""
    queries: list[str] = []
    for term in text.split(","):
        term = term.strip()
        if term and term not in queries:
            queries.append(term)
    return queries


class CollectionSpider(scrapy.Spider):
    """Base class: subclasses set ``source`` and implement ``search_requests``."""

    source: ClassVar[str]
    # Values of the licence field stored with each image.
    licence: ClassVar[str] = "Public domain"

    def __init__(self, job_id: int, genre: str, queries: Iterable[str], item_limit: int = 0, **kwargs: Any):
        super().__init__(**kwargs)
        self.job_id = int(job_id)
        self.genre = genre
        self.queries = list(queries)
        if not self.queries:
            raise ValueError(
                f"Crawl job {self.job_id} has no search terms: set the job's query or the genre's search terms."
            )
        self.item_limit = int(item_limit)
        self.base_url = base_url(self.source)
        self.collected = 0
        self.seen: set[str] = set()
        # Set when the crawl should wind down: "item_limit" or "cancelled".
        self.stop_reason: str | None = None

    async def start(self):  # type: ignore[override]
        for query in self.queries:
            for request in self.search_requests(query):
                yield request

    def search_requests(self, query: str) -> Iterable[Request]:
        raise NotImplementedError

    def api_request(self, url: str, callback: Callable[..., Any], **meta: Any) -> Request:
        """A request to the source's API; dropped once the crawl is stopping."""
        return Request(url, callback=callback, errback=self.api_failed, meta={"aag_api": True, **meta})

    def first_sighting(self, raw_id: Any) -> str | None:
        """The record's id the first time it is seen in this crawl; None for a
        record without a usable id or one seen before (queries overlap, and an
        API can repeat an id), each counted with its reason."""
        if self.stop_reason:
            return None
        source_id = record_id(raw_id)
        if not source_id:
            self.skip("no_id", f"{self.source}: a record without a usable id ({raw_id!r:.80})")
            return None
        if source_id in self.seen:
            self.skip("repeated_id", f"{self.source}:{source_id} was already seen in this crawl")
            return None
        self.seen.add(source_id)
        return source_id

    def collect(self, **fields: Any) -> dict[str, Any] | None:
        """The item for one public-domain record, or None past the item limit."""
        if self.stop_reason:
            return None
        self.collected += 1
        if self.item_limit and self.collected >= self.item_limit:
            self.stop_reason = "item_limit"
        return {"source": self.source, "genre": self.genre, "licence": self.licence, **fields}

    def skip(self, reason: str, detail: str) -> None:
        """Count a record we will not download (e.g. not public domain)."""
        if not self.stop_reason:
            record_outcome(self.job_id, "skipped", reason, detail)

    def api_failed(self, failure: Failure) -> None:
        verdict = classify_failure(failure.value)
        if verdict is None or self.stop_reason == "cancelled":
            return
        outcome, reason = verdict
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        self.logger.warning("API request %s: %s/%s (%s)", url, outcome, reason, failure.value)
        record_outcome(self.job_id, outcome, reason, f"{url}: {failure.value}")
