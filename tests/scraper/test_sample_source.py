"""The "sample" source: the offline sample museum, crawled with the AIC spider,
recorded as itself, and the only source allowed its own loopback origin."""

from __future__ import annotations

import asyncio

import pytest
from scrapy.http import Request

from scraper.crawling.middlewares import HostSafetyMiddleware, RefusedRequest
from scraper.crawling.settings import scrapy_settings
from scraper.models import CrawlJob, ScrapedImage
from scraper.samplemuseum.server import ARTIST, start_sample_museum
from tests.scraper.factories import make_job


def sample_middleware(sample_url: str, settings) -> HostSafetyMiddleware:
    settings.SCRAPER_BASE_URLS = {**settings.SCRAPER_BASE_URLS, "sample": sample_url}
    settings.SCRAPER_ALLOW_LOOPBACK = False
    options = scrapy_settings("sample")
    return HostSafetyMiddleware(
        options["SCRAPER_ALLOWED_HOSTS"],
        options["SCRAPER_ALLOW_LOOPBACK"],
        options["SCRAPER_LOOPBACK_ORIGINS"],
    )


def refusal(middleware: HostSafetyMiddleware, url: str) -> str | None:
    try:
        asyncio.run(middleware.process_request(Request(url)))
    except RefusedRequest as exc:
        return exc.reason
    return None


def test_only_the_sample_source_gets_a_loopback_origin(settings):
    settings.SCRAPER_ALLOW_LOOPBACK = False
    settings.SCRAPER_BASE_URLS = {
        **settings.SCRAPER_BASE_URLS,
        "sample": "http://127.0.0.1:8765",
        "aic": "http://127.0.0.1:8765",
    }
    assert scrapy_settings("sample")["SCRAPER_LOOPBACK_ORIGINS"] == ["127.0.0.1:8765"]
    assert scrapy_settings("sample")["SCRAPER_ALLOW_LOOPBACK"] is False
    for source in ("aic", "cma", "met", "wikimedia"):
        assert scrapy_settings(source)["SCRAPER_LOOPBACK_ORIGINS"] == [], source


def test_the_sample_source_reaches_its_configured_host_and_port_only(settings):
    middleware = sample_middleware("http://127.0.0.1:8765", settings)

    assert refusal(middleware, "http://127.0.0.1:8765/api/v1/artworks/search?q=portrait") is None
    assert refusal(middleware, "http://127.0.0.1:8765/robots.txt") is None
    # Another port on the same machine, another loopback address, a private range,
    # cloud metadata, another host: all refused.
    assert refusal(middleware, "http://127.0.0.1:5432/") == "private_address"
    assert refusal(middleware, "http://127.0.0.2:8765/") == "private_address"
    assert refusal(middleware, "http://10.0.0.1:8765/") == "private_address"
    assert refusal(middleware, "http://169.254.169.254/latest/meta-data/") == "private_address"
    assert refusal(middleware, "https://www.artic.edu/iiif/2/x/full/843,/0/default.jpg") == "host_not_allowed"


def test_a_sample_url_in_a_private_range_is_still_refused(settings):
    middleware = sample_middleware("http://192.168.1.20:8765", settings)

    assert refusal(middleware, "http://192.168.1.20:8765/api/v1/artworks/search?q=portrait") == (
        "private_address"
    )


@pytest.mark.slow
def test_a_crawl_of_the_sample_museum_is_recorded_as_the_sample_source(run_crawl):
    server, base_url = start_sample_museum(per_genre=4, image_size=96)
    try:
        sample = make_job("landscape", source="sample", item_limit=3)
        # Without the test switch: the sample source's own origin is enough.
        assert run_crawl(sample, SCRAPER_ALLOW_LOOPBACK="0", SCRAPER_SAMPLE_URL=base_url) == 0
        # The same server named as the AIC API is refused: AIC is public-only.
        aic = make_job("landscape", source="aic", item_limit=3)
        assert run_crawl(aic, SCRAPER_ALLOW_LOOPBACK="0", SCRAPER_AIC_URL=base_url) == 0
    finally:
        server.stop()

    sample.refresh_from_db()
    aic.refresh_from_db()
    assert sample.counts == {"stored": 3}
    assert aic.counts == {"refused": 1, "refused:private_address": 1}
    images = ScrapedImage.objects.all()
    assert images.count() == 3
    for image in images:
        assert image.job == sample and image.source == "sample"
        assert image.get_source_display() == "Sample Museum (synthetic, offline)"
        assert image.licence == "Public domain (synthetic)" and image.artist == ARTIST
        assert image.image_url.startswith(f"{base_url}/iiif/2/")
        assert image.page_url == f"{base_url}/artworks/{image.source_id}"
    assert CrawlJob.objects.filter(source="sample").count() == 1
