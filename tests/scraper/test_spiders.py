"""The real spiders, in a real crawl process, against the fake museum server."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from scraper.models import CrawlJob, ScrapedImage
from tests.scraper.conftest import AIC_IMAGE_PATH, Reply, bomb_png
from tests.scraper.factories import make_job, painting_bytes

pytestmark = pytest.mark.slow


def counts(job: CrawlJob) -> dict[str, int]:
    job.refresh_from_db()
    return job.counts


def stored_ids(source: str) -> set[str]:
    return set(ScrapedImage.objects.filter(source=source).values_list("source_id", flat=True))


def test_aic_follows_pagination_to_the_end_and_skips_works_that_are_not_public_domain(fake_museum, run_crawl):
    for n in range(4):
        fake_museum.add_aic(f"img-{n}", painting_bytes(n), id=100 + n)
    fake_museum.add_aic("img-private", painting_bytes(9), public_domain=False, id=200)
    job = make_job("landscape", source="aic")

    assert run_crawl(job) == 0

    # 5 records at 2 per page: pages 1, 2 and 3, each asked for public-domain works only.
    searches = fake_museum.requests_for("/api/v1/artworks/search")
    assert [s.query["page"] for s in searches] == [["1"], ["2"], ["3"]]
    assert all(
        s.query["query[term][is_public_domain]"] == ["true"] and s.query["q"] == ["landscape"]
        for s in searches
    )
    assert all("AIArtGalleryBot" in s.headers["user-agent"] and s.headers["aic-user-agent"] for s in searches)
    assert counts(job) == {"stored": 4, "skipped": 1, "skipped:not_public_domain": 1}
    assert stored_ids("aic") == {"100", "101", "102", "103"}
    assert fake_museum.requested(AIC_IMAGE_PATH.format(image_id="img-private")) == 0
    image = ScrapedImage.objects.get(source="aic", source_id="100")
    assert image.image_url == fake_museum.base_url + AIC_IMAGE_PATH.format(image_id="img-0")
    assert image.page_url == f"{fake_museum.base_url}/artworks/100"
    assert (image.title, image.artist, image.date_text, image.genre.slug) == (
        "Painting img-0",
        "Claude Monet",
        "1890",
        "landscape",
    )
    assert image.status == "pending" and image.job_id == job.pk
    assert "crawl finished" in job.log_tail


def test_cma_pages_with_skip_uses_the_web_image_and_keeps_only_cc0(fake_museum, run_crawl):
    for n in range(3):
        fake_museum.add_cma(500 + n, painting_bytes(20 + n))
    fake_museum.add_cma(600, painting_bytes(30), licence="Copyrighted")
    job = make_job("flower-still-life", source="cma", query="flowers")

    assert run_crawl(job) == 0

    searches = fake_museum.requests_for("/api/artworks/")
    assert [s.query["skip"] for s in searches] == [["0"], ["2"]]
    assert all(
        (s.query["cc0"], s.query["type"], s.query["has_image"], s.query["q"])
        == (["1"], ["Painting"], ["1"], ["flowers"])
        for s in searches
    )
    assert counts(job) == {"stored": 3, "skipped": 1, "skipped:not_public_domain": 1}
    assert stored_ids("cma") == {"500", "501", "502"}
    assert fake_museum.requested("/cma-images/500/full.tif") == 0  # never the 60 MB TIFF
    image = ScrapedImage.objects.get(source="cma", source_id="500")
    assert (image.licence, image.artist, image.date_text) == (
        "CC0",
        "Jan van Huysum (Dutch, 1682-1749)",
        "c. 1720",
    )


def test_met_fetches_every_object_of_the_search_and_checks_each_licence(fake_museum, run_crawl):
    fake_museum.add_met(437000, painting_bytes(40))
    fake_museum.add_met(437001, painting_bytes(41))
    fake_museum.add_met(437002, painting_bytes(42), public_domain=False)
    fake_museum.add_met(437003, None, primaryImage="", primaryImageSmall="")
    job = make_job("portrait", source="met")

    assert run_crawl(job) == 0

    search = fake_museum.requests_for("/public/collection/v1/search")
    assert [(s.query["q"], s.query["hasImages"], s.query["departmentId"]) for s in search] == [
        (["portrait"], ["true"], ["11"])
    ]
    for object_id in (437000, 437001, 437002, 437003):
        assert fake_museum.requested(f"/public/collection/v1/objects/{object_id}") == 1
    assert counts(job) == {
        "stored": 2,
        "skipped": 2,
        "skipped:not_public_domain": 1,
        "skipped:no_image": 1,
    }
    assert stored_ids("met") == {"437000", "437001"}
    image = ScrapedImage.objects.get(source="met", source_id="437000")
    assert (image.artist, image.page_url) == (
        "Johannes Vermeer",
        "https://www.metmuseum.org/art/collection/search/437000",
    )


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def test_hostile_and_broken_images_are_rejected_with_reasons_and_odd_good_ones_accepted(
    fake_museum, run_crawl
):
    good = painting_bytes(50)
    cmyk = _encoded(Image.open(io.BytesIO(painting_bytes(51))).convert("CMYK"), "JPEG", quality=95)
    ramp = np.tile(np.linspace(0, 65535, 300), (200, 1)).astype(np.uint16)
    sixteen_bit = _encoded(Image.fromarray(ramp), "PNG")
    truncated = painting_bytes(52)
    truncated = truncated[: len(truncated) // 2]
    fake_museum.add_aic("good", good, id=1)
    fake_museum.add_aic("cmyk", cmyk, id=2)
    fake_museum.add_aic("sixteen", sixteen_bit, "image/png", id=3)
    fake_museum.add_aic("bomb", bomb_png(), "image/png", id=4)
    fake_museum.add_aic("truncated", truncated, id=5)
    fake_museum.add_aic("html", b"<!DOCTYPE html><html><body>Too many requests</body></html>", id=6)
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="900" height="900"><rect width="9" height="9"/></svg>'
    )
    fake_museum.add_aic("svg", svg, "image/svg+xml", id=7)
    fake_museum.add_aic("pixel", _encoded(Image.new("RGB", (1, 1), "white"), "PNG"), "image/png", id=8)
    job = make_job("landscape", source="aic")

    assert run_crawl(job) == 0

    assert counts(job) == {
        "stored": 3,
        "rejected": 5,
        "rejected:decompression_bomb": 1,
        "rejected:truncated": 1,
        "rejected:not_an_image": 2,
        "rejected:too_small": 1,
    }
    assert stored_ids("aic") == {"1", "2", "3"}
    for image in ScrapedImage.objects.all():
        with Image.open(image.image.path) as stored:
            assert stored.mode == "RGB" and stored.format == "JPEG"
            assert stored.size == (image.width, image.height)


def test_a_429_is_retried_after_the_servers_retry_after_and_a_500_is_retried_then_counted(
    fake_museum, run_crawl
):
    fake_museum.add_aic("busy", painting_bytes(60), id=1)
    fake_museum.add_aic("broken", painting_bytes(61), id=2)
    busy = AIC_IMAGE_PATH.format(image_id="busy")
    broken = AIC_IMAGE_PATH.format(image_id="broken")
    fake_museum.script(busy, Reply(429, b"slow down", "text/plain", {"Retry-After": "1"}))
    fake_museum.script(broken, *[Reply(500, b"oops", "text/plain")] * 10)
    fake_museum.script("/api/v1/artworks/search", Reply(503, b"maintenance", "text/plain"))
    job = make_job("landscape", source="aic")

    assert run_crawl(job, SCRAPER_RETRY_TIMES="2", SCRAPER_RETRY_BACKOFF="0.2") == 0

    assert counts(job) == {"stored": 1, "failed": 1, "failed:http_500": 1}
    assert stored_ids("aic") == {"1"}
    # The 429 was retried once, no sooner than its Retry-After of 1 s.
    first, second = fake_museum.requests_for(busy)
    assert second.at - first.at >= 0.95
    # The 500 was tried 1 + 2 times, waiting longer each time (0.2 s, then 0.4 s).
    tries = fake_museum.requests_for(broken)
    assert len(tries) == 3
    assert tries[1].at - tries[0].at >= 0.19 and tries[2].at - tries[1].at >= 0.39
    # The search page's 503 was retried too.
    assert fake_museum.requested("/api/v1/artworks/search") == 2


def test_a_genres_comma_separated_search_terms_are_each_searched_and_overlaps_collected_once(
    fake_museum, run_crawl
):
    fake_museum.add_aic("street", painting_bytes(70), id=1)
    fake_museum.add_aic("harbour", painting_bytes(71), id=2)
    job = make_job("cityscape", source="aic")  # search terms "cityscape,city view"

    assert run_crawl(job) == 0

    searched = [s.query["q"] for s in fake_museum.requests_for("/api/v1/artworks/search")]
    assert sorted(searched) == [["city view"], ["cityscape"]]
    # Both searches returned both works: each is stored once, each repeat counted.
    assert counts(job) == {"stored": 2, "skipped": 2, "skipped:repeated_id": 2}
    assert fake_museum.requested(AIC_IMAGE_PATH.format(image_id="street")) == 1


def test_progress_is_reported_and_a_missing_job_fails_the_process(fake_museum, run_crawl, settings):
    from scraper.crawling.runner import run_crawl_process
    from tests.scraper.conftest import crawl_env

    for n in range(3):
        fake_museum.add_aic(f"p-{n}", painting_bytes(80 + n), id=n + 1)
    job = make_job("landscape", source="aic")
    seen: list[dict] = []

    code = run_crawl_process(
        job.pk, on_progress=seen.append, extra_env=crawl_env(fake_museum, settings.MEDIA_ROOT)
    )

    assert code == 0
    assert seen and seen[-1] == counts(job) == {"stored": 3}
    assert run_crawl_process(job.pk + 1000, extra_env=crawl_env(fake_museum, settings.MEDIA_ROOT)) == 1


def test_wikimedia_follows_continuation_and_keeps_only_public_domain_files(fake_museum, run_crawl):
    fake_museum.add_wikimedia(11, painting_bytes(120))
    fake_museum.add_wikimedia(12, painting_bytes(121), licence="CC0")
    fake_museum.add_wikimedia(13, painting_bytes(122), licence="CC BY-SA 4.0")
    job = make_job("landscape", source="wikimedia")

    assert run_crawl(job) == 0

    queries = fake_museum.requests_for("/w/api.php")
    assert [q.query.get("gsroffset") for q in queries] == [None, ["2"]]
    assert all(q.query["generator"] == ["search"] and q.query["gsrnamespace"] == ["6"] for q in queries)
    assert counts(job) == {"stored": 2, "skipped": 1, "skipped:not_public_domain": 1}
    image = ScrapedImage.objects.get(source="wikimedia", source_id="11")
    assert (image.title, image.artist, image.licence) == (
        "Wheat field 11",
        "Vincent van Gogh",
        "Public domain",
    )
    assert fake_museum.requested("/wm/full/11/painting.tif") == 0  # the 1024 px rendition, not the original


@pytest.mark.timeout(120)
def test_a_server_trickling_bytes_costs_a_request_its_deadline_not_timeout_times_tries(
    fake_museum, run_crawl
):
    fake_museum.add_aic("quick", painting_bytes(90), id=1)
    fake_museum.add_aic("trickle", None, id=2)
    slow = AIC_IMAGE_PATH.format(image_id="trickle")
    fake_museum.files[slow] = Reply(200, painting_bytes(91), "image/jpeg", trickle=1.0)  # one byte a second
    job = make_job("landscape", source="aic")

    # Five retries allowed, one second a try, but three seconds for all tries of a request.
    code = run_crawl(
        job,
        SCRAPER_DOWNLOAD_TIMEOUT="1",
        SCRAPER_REQUEST_DEADLINE="3",
        SCRAPER_RETRY_TIMES="5",
        SCRAPER_RETRY_BACKOFF="0.05",
    )

    assert code == 0
    assert counts(job) == {"stored": 1, "failed": 1, "failed:timeout": 1}
    # Without the budget it would be tried 1 + 5 times; with it, what fits in three seconds.
    assert 2 <= fake_museum.requested(slow) <= 3
