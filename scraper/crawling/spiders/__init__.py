"""One spider per open-access source, looked up by CrawlJob.source."""

from __future__ import annotations

from scraper.crawling.spiders.aic import AicSpider, SampleMuseumSpider
from scraper.crawling.spiders.cma import CmaSpider
from scraper.crawling.spiders.collection import CollectionSpider
from scraper.crawling.spiders.met import MetSpider
from scraper.crawling.spiders.wikimedia import WikimediaSpider

SPIDERS: dict[str, type[CollectionSpider]] = {
    spider.source: spider for spider in (AicSpider, CmaSpider, MetSpider, WikimediaSpider, SampleMuseumSpider)
}


def spider_for(source: str) -> type[CollectionSpider]:
    """The spider class that crawls ``source``."""
    try:
        return SPIDERS[source]
    except KeyError as exc:
        raise ValueError(
            f"No spider for source {source!r}: expected one of {', '.join(sorted(SPIDERS))}."
        ) from exc
